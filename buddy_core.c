// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_core: a binary buddy allocator over offsets.  See buddy_core.h for
 * the bitmap layout and the concurrency contract.
 */
#ifdef __KERNEL__
#include <linux/bitops.h>
#include <linux/errno.h>
#include <linux/export.h>
#include <linux/limits.h>
#include <linux/log2.h>
#include <linux/math.h>
#include <linux/string.h>
#endif
#include "buddy_core.h"

#define WORD_MASK	(BIT_ULL(BUDDY_CORE_WORD_SHIFT) - 1)

/* Levels of a free map of 2^@bits_order bits: the bits, then summaries. */
static inline unsigned int map_levels(unsigned int bits_order)
{
	return bits_order > BUDDY_CORE_WORD_SHIFT ?
	       DIV_ROUND_UP(bits_order, BUDDY_CORE_WORD_SHIFT) : 1;
}

/* Words in level @level of a map of 2^@bits_order bits. */
static inline u64 level_words(unsigned int bits_order, unsigned int level)
{
	unsigned int shift = BUDDY_CORE_WORD_SHIFT * (level + 1);

	return bits_order > shift ? (u64)1 << (bits_order - shift) : 1;
}

static inline u64 **order_maps(const struct buddy_core *bc, unsigned int order)
{
	return bc->maps + (size_t)order * bc->stride;
}

static inline u64 *alloc_map(const struct buddy_core *bc, unsigned int order)
{
	return order_maps(bc, order)[bc->stride - 1];
}

static inline bool test_map_bit(const u64 *words, u64 index)
{
	return words[index >> BUDDY_CORE_WORD_SHIFT] &
	       BIT_ULL(index & WORD_MASK);
}

/*
 * Set bit @index of a free map (@level: its levels).  A word that was empty
 * may lack its bit in the level above, and so on up, until a word already
 * had a bit.  Above the top level, every map's row points at one sentinel
 * word with every bit set, so the walk ends there without a level count.
 */
static inline void free_map_set(u64 *const *level, u64 index)
{
	u64 *word, old;

	do {
		u64 bit = BIT_ULL(index & WORD_MASK);

		index >>= BUDDY_CORE_WORD_SHIFT;
		word = *level++ + index;
		old = *word;
		*word = old | bit;
	} while (!old);
}

/*
 * Clear bit @index of a free map, and the summary bits over the words
 * that this empties: for blocks away from the hint (merged buddies).
 */
static inline void free_map_clear(u64 *const *level, unsigned int top,
				  u64 index)
{
	u64 *word = &level[0][index >> BUDDY_CORE_WORD_SHIFT];
	u64 left = *word & ~BIT_ULL(index & WORD_MASK);
	unsigned int l;

	*word = left;
	if (likely(left))
		return;
	for (l = 1; l <= top; l++) {
		index >>= BUDDY_CORE_WORD_SHIFT;
		word = &level[l][index >> BUDDY_CORE_WORD_SHIFT];
		left = *word & ~BIT_ULL(index & WORD_MASK);
		*word = left;
		if (left)
			break;
	}
}

/*
 * Allocation clears bits only in the hint's word and leaves the summary
 * bits over it when it empties (buddy_core_alloc()): the next block freed
 * nearby, often into this very word, then stops at them.  Those, on the
 * hint's path up, are the only summary bits that may be stale.  Before the
 * hint moves down to @word_index, clear them.
 */
static inline void hint_lower(struct buddy_core *bc, unsigned int order,
			      u64 *const *level, u64 word_index)
{
	u64 index = bc->hint[order];

	if (word_index >= index)
		return;
	bc->hint[order] = word_index;
	/* The old hint's word, if empty, is a bit of level 1 to clear. */
	if (!level[0][index] && bc->top[order])
		free_map_clear(level + 1, bc->top[order] - 1, index);
}

/* Block @index of @order is now a maximal free block. */
static inline void add_free(struct buddy_core *bc, unsigned int order,
			    u64 index)
{
	u64 *const *level = bc->rows[order];

	free_map_set(level, index);
	hint_lower(bc, order, level, index >> BUDDY_CORE_WORD_SHIFT);
	if (!bc->nr_free[order]++)
		bc->nonempty |= BIT_ULL(order);
}

/*
 * The lowest free block past the hint's word, which is empty like every
 * word below it; @index is its bit in level @from - 1 (the word's index
 * for @from 1).  Up the summaries from it, clearing its path's
 * (stale) bits, until a word has a bit past that path; then down, where no
 * bit is stale.  The next block is usually near the last, so the climb is
 * short.  A map with summaries has whole words, so no bit lies past its
 * end.  Returns -1 if the map runs out or a summary bit leads to an empty
 * word: corrupted, since nr_free said the order had a block.
 */
static s64 free_map_find_after(u64 *const *level, unsigned int top,
			       u64 index, unsigned int from)
{
	unsigned int l;
	u64 above = 0;

	for (l = from; l <= top; l++) {
		u64 mask = ~1ULL << (index & WORD_MASK), *word;

		index >>= BUDDY_CORE_WORD_SHIFT;
		word = &level[l][index];
		above = *word & mask;
		*word = above;
		if (above)
			break;
	}
	if (!above)
		return -1;
	/* Down from the bit found in word index of level l. */
	index = (index << BUDDY_CORE_WORD_SHIFT) | __ffs64(above);
	for (;;) {
		u64 word = level[--l][index];

		if (unlikely(!word))
			return -1;
		index = (index << BUDDY_CORE_WORD_SHIFT) | __ffs64(word);
		if (!l)
			break;
	}
	return (s64)index;
}

/*
 * Words of the maps and the sentinel for 2^@max_order units, counted in
 * the order buddy_core_init() lays them out (and check_layout() verifies).
 */
static u64 meta_words(unsigned int max_order)
{
	u64 words = 0;
	unsigned int order, l;

	for (order = 0; order <= max_order; order++) {
		unsigned int bits_order = max_order - order;

		for (l = 0; l < map_levels(bits_order); l++)
			words += level_words(bits_order, l);
		words += level_words(bits_order, 0);	/* the alloc map */
	}
	return words + 1;				/* the sentinel */
}

/*
 * A row per order: its levels, the sentinel, and last its alloc map.  Order
 * 0 has the most levels, so it sets the row's length.
 */
static unsigned int row_stride(unsigned int max_order)
{
	return map_levels(max_order) + 2;
}

/* The pointer table, 8 bytes a slot whatever the pointer size: words align. */
static u64 meta_table_bytes(unsigned int max_order)
{
	return (u64)(max_order + 1) * row_stride(max_order) * sizeof(u64);
}

/**
 * buddy_core_meta_size() - bytes of metadata a pool needs
 * @max_order: the pool holds 2^@max_order units
 *
 * Two bitmaps per order (free and allocated blocks), 2^(@max_order - k)
 * bits each for order k, so about 4 bits per unit in all; summaries add
 * 1/63 of the free maps, and a table of (@max_order + 1) * (levels + 2)
 * pointers locates the maps.  About 0.504 bytes per unit for large pools.
 *
 * Return: the size (a multiple of 8), or 0 if @max_order is above
 * BUDDY_CORE_MAX_ORDER or the size does not fit in size_t.
 */
size_t buddy_core_meta_size(unsigned int max_order)
{
	u64 words, bytes;

	if (max_order > BUDDY_CORE_MAX_ORDER)
		return 0;
	/* About 2^58 words (2^61 bytes) at max_order 62: it fits in u64. */
	words = meta_words(max_order);
	bytes = words * sizeof(u64) + meta_table_bytes(max_order);
	if (bytes > SIZE_MAX)
		return 0;
	return (size_t)bytes;
}
EXPORT_SYMBOL_GPL(buddy_core_meta_size);

/**
 * buddy_core_init() - make a pool of 2^@max_order units, all free
 * @bc: the pool
 * @max_order: log2 of the number of units
 * @meta: buffer for the maps, 8-byte aligned, owned by the caller for the
 *	pool's lifetime
 * @meta_size: bytes in @meta, at least buddy_core_meta_size(@max_order)
 *
 * Return: 0, or -EINVAL for an unsupported @max_order or a missing, short or
 * misaligned buffer (and @bc is left untouched).
 */
int buddy_core_init(struct buddy_core *bc, unsigned int max_order,
		    void *meta, size_t meta_size)
{
	size_t need = buddy_core_meta_size(max_order);
	unsigned int order, l;
	u64 *words, *sentinel;

	if (!need || !meta || meta_size < need ||
	    ((uintptr_t)meta & (sizeof(u64) - 1)))
		return -EINVAL;

	memset(bc, 0, sizeof(*bc));
	bc->maps = meta;
	bc->max_order = max_order;
	bc->stride = row_stride(max_order);
	memset(meta, 0, need);
	sentinel = (u64 *)((char *)meta + (size_t)meta_table_bytes(max_order));
	*sentinel = ~0ULL;
	words = sentinel + 1;
	for (order = 0; order <= max_order; order++) {
		unsigned int bits_order = max_order - order;
		u64 **level = order_maps(bc, order);

		bc->top[order] = (u8)(map_levels(bits_order) - 1);
		bc->nr_blocks[order] = (u64)1 << bits_order;
		for (l = 0; l < map_levels(bits_order); l++) {
			level[l] = words;
			words += level_words(bits_order, l);
		}
		level[l] = sentinel;
		level[bc->stride - 1] = words;
		words += level_words(bits_order, 0);
		bc->rows[order] = level;
		bc->alloc[order] = level[bc->stride - 1];
	}
	free_map_set(order_maps(bc, max_order), 0);
	bc->nonempty = BIT_ULL(max_order);
	bc->free_units = (u64)1 << max_order;
	bc->nr_free[max_order] = 1;
	return 0;
}
EXPORT_SYMBOL_GPL(buddy_core_init);

/*
 * buddy_core_alloc() past its fast path: the hint's word (@hint, holding
 * @word) is empty, or the smallest order with a free block, @found, is
 * above @order.
 */
static noinline s64 alloc_split(struct buddy_core *bc, unsigned int order,
				unsigned int found, u64 hint, u64 word)
{
	u64 *const *level = bc->rows[found];
	u64 index;

	if (unlikely(!word)) {
		u64 *sum = NULL, above = 0;
		s64 first;

		/*
		 * The hint's word ran out.  Most often the next block is
		 * under the same level-1 word: past the hint's own bit there
		 * (stale, as the word is empty), which goes too.
		 */
		if (likely(bc->top[found])) {
			sum = &level[1][hint >> BUDDY_CORE_WORD_SHIFT];
			above = *sum & (~1ULL << (hint & WORD_MASK));
		}
		if (likely(above)) {
			*sum = above;
			hint = (hint & ~WORD_MASK) | __ffs64(above);
		} else {
			/* Nothing left under that level-1 word: on from level 2. */
			if (sum)
				*sum = 0;
			first = free_map_find_after(level, bc->top[found],
						    sum ? hint >> BUDDY_CORE_WORD_SHIFT :
							  hint, sum ? 2 : 1);
			if (unlikely(first < 0))
				return -EUCLEAN;
			hint = (u64)first >> BUDDY_CORE_WORD_SHIFT;
		}
		word = level[0][hint];
		if (unlikely(!word))
			return -EUCLEAN;
		bc->hint[found] = hint;
	}
	index = (hint << BUDDY_CORE_WORD_SHIFT) | __ffs64(word);
	if (unlikely(index >= bc->nr_blocks[found]))
		return -EUCLEAN;
	level[0][hint] = word & (word - 1);
	if (!--bc->nr_free[found])
		bc->nonempty &= ~BIT_ULL(found);

	/* Split: each level down frees the right half. */
	while (found > order) {
		found--;
		index <<= 1;
		add_free(bc, found, index | 1);
	}
	bc->alloc[order][index >> BUDDY_CORE_WORD_SHIFT] |=
		BIT_ULL(index & WORD_MASK);
	bc->free_units -= (u64)1 << order;
	return (s64)(index << order);
}

/*
 * The first set bit of a free map's bits in [@index, @last]: up the
 * summaries past empty words, then down the first bit of each word.  Going
 * down, every word lies past @index, so only the bit finally found is
 * compared with @last.  A stale summary bit (on the hint's path) leads to
 * an empty word, from which the walk goes up again past it.  Reads only.
 * Returns the bit's index, or -1.
 */
static s64 free_map_next(u64 *const *level, unsigned int top, u64 index,
			 u64 last)
{
	unsigned int l = 0;
	u64 lim = last, bits;

	if (index > last)
		return -1;
	bits = level[0][index >> BUDDY_CORE_WORD_SHIFT] &
	       (~0ULL << (index & WORD_MASK));
	for (;;) {
		while (!bits) {
			if (l == top)
				return -1;
			index = (index >> BUDDY_CORE_WORD_SHIFT) + 1;
			lim >>= BUDDY_CORE_WORD_SHIFT;
			l++;
			if (index > lim)
				return -1;
			bits = level[l][index >> BUDDY_CORE_WORD_SHIFT] &
			       (~0ULL << (index & WORD_MASK));
		}
		for (;;) {
			index = (index & ~WORD_MASK) | __ffs64(bits);
			if (!l)
				return index > last ? -1 : (s64)index;
			index <<= BUDDY_CORE_WORD_SHIFT;
			bits = level[--l][index >> BUDDY_CORE_WORD_SHIFT];
			if (unlikely(!bits))
				break;
		}
		/* A stale bit: up again, past its empty word at level @l. */
		lim = last >> (BUDDY_CORE_WORD_SHIFT * l);
	}
}

/* The last set bit in [@first, @index]: free_map_next() downwards. */
static s64 free_map_prev(u64 *const *level, unsigned int top, u64 index,
			 u64 first)
{
	unsigned int l = 0;

	for (;;) {
		u64 lim = first >> (BUDDY_CORE_WORD_SHIFT * l), bits;

		if (index < lim)
			return -1;
		bits = level[l][index >> BUDDY_CORE_WORD_SHIFT] &
		       (~0ULL >> (WORD_MASK - (index & WORD_MASK)));
		if (bits) {
			index = (index & ~WORD_MASK) | (fls64(bits) - 1);
			if (index < lim)
				return -1;
			if (!l)
				return (s64)index;
			l--;
			index = (index << BUDDY_CORE_WORD_SHIFT) | WORD_MASK;
			continue;
		}
		if (l == top || !(index >> BUDDY_CORE_WORD_SHIFT))
			return -1;
		index = (index >> BUDDY_CORE_WORD_SHIFT) - 1;
		l++;
	}
}

/*
 * The last set bit of a whole free map: down from the top word, through
 * the highest bit of each level.  Stale summary bits lie on the hint's
 * path, at the low end; if the walk meets one (an empty word), it goes on
 * with free_map_prev() from there.  Reads only.  Returns the index, or -1.
 */
static s64 free_map_last(u64 *const *level, unsigned int top)
{
	unsigned int l = top;
	u64 index = 0, bits;

	for (;;) {
		bits = level[l][index];
		if (unlikely(!bits))
			break;
		index = (index << BUDDY_CORE_WORD_SHIFT) | (fls64(bits) - 1);
		if (!l)
			return (s64)index;
		l--;
	}
	/* Word @index of level @l is empty: search below it. */
	if (!index)
		return -1;
	return free_map_prev(level, top,
			     ((index - 1) << (BUDDY_CORE_WORD_SHIFT * (l + 1))) |
			     ((1ULL << (BUDDY_CORE_WORD_SHIFT * (l + 1))) - 1), 0);
}

/* Set the alloc bit of block @index of @order. */
static inline void set_allocated(struct buddy_core *bc, unsigned int order,
				 u64 index)
{
	bc->alloc[order][index >> BUDDY_CORE_WORD_SHIFT] |=
		BIT_ULL(index & WORD_MASK);
}

/*
 * Mark the block (@order, @index) allocated, or with @units below its
 * size, only its first @units units: down the block, a left half that
 * @units covers is allocated and the walk goes right, else the right half
 * becomes a maximal free block (its buddy holds allocated units) and the
 * walk goes left.
 */
static void mark_allocated(struct buddy_core *bc, unsigned int order,
			   u64 index, u64 units)
{
	while (units != (u64)1 << order) {
		order--;
		index <<= 1;
		if (units > (u64)1 << order) {
			set_allocated(bc, order, index);
			units -= (u64)1 << order;
			index |= 1;
		} else {
			add_free(bc, order, index | 1);
		}
	}
	set_allocated(bc, order, index);
}

/*
 * TOPDOWN alone: the last block of the smallest order with one, split
 * keeping right halves.  Apart from buddy_core_alloc_req() so that it
 * needs none of the range's state.
 */
static s64 alloc_topdown(struct buddy_core *bc, unsigned int order)
{
	u64 avail = bc->nonempty >> order, index;
	unsigned int found;
	s64 i;

	if (!avail)
		return -ENOMEM;
	found = order + __ffs64(avail);
	i = free_map_last(bc->rows[found], bc->top[found]);
	if (unlikely(i < 0 || (u64)i >= bc->nr_blocks[found]))
		return -EUCLEAN;
	index = (u64)i;
	free_map_clear(bc->rows[found], bc->top[found], index);
	if (!--bc->nr_free[found])
		bc->nonempty &= ~BIT_ULL(found);
	while (found > order) {
		found--;
		index = (index << 1) | 1;
		add_free(bc, found, index ^ 1);
	}
	set_allocated(bc, order, index);
	bc->free_units -= (u64)1 << order;
	return (s64)(index << order);
}

/*
 * Take free block @index of @found (a block the search found) and split
 * it down to @order towards the lowest (@topdown: highest) place in
 * [@lo, @hi): the other half goes back each level.  With @exact (EXACT's
 * units, else 0) only those stay allocated.
 */
static __always_inline s64 take_block(struct buddy_core *bc,
				      unsigned int found, unsigned int order,
				      u64 index, u64 lo, u64 hi, bool topdown,
				      u64 exact)
{
	if (unlikely(index >= bc->nr_blocks[found]))
		return -EUCLEAN;
	free_map_clear(bc->rows[found], bc->top[found], index);
	if (!--bc->nr_free[found])
		bc->nonempty &= ~BIT_ULL(found);
	if (found > order) {
		u64 target = buddy_core_req_target(index, found, order, lo, hi,
						   topdown);

		do {
			found--;
			index = (index << 1) | ((target >> found) & 1);
			add_free(bc, found, index ^ 1);
		} while (found > order);
	}
	if (unlikely(exact)) {
		mark_allocated(bc, order, index, exact);
		bc->free_units -= exact;
	} else {
		set_allocated(bc, order, index);
		bc->free_units -= (u64)1 << order;
	}
	return (s64)(index << order);
}

/*
 * buddy_core_alloc_req() without TOPDOWN: the lowest free block starting
 * in [@lo, @hi) of the smallest order that has one there.  No free block
 * lies below the hint's word, so the search starts at the later of the two.
 * Without @range, [@lo, @hi) is the pool and nr_free promised a block.
 */
static s64 alloc_lowest(struct buddy_core *bc, unsigned int order, u64 lo,
			u64 hi, u64 exact, bool range)
{
	u64 avail = bc->nonempty >> order;

	for (; avail; avail &= avail - 1) {
		unsigned int found = order + __ffs64(avail);
		u64 from = bc->hint[found] << BUDDY_CORE_WORD_SHIFT;
		u64 ilo = lo >> found;
		s64 i;

		i = free_map_next(bc->rows[found], bc->top[found],
				  from > ilo ? from : ilo, (hi - 1) >> found);
		if (i >= 0)
			return take_block(bc, found, order, (u64)i, lo, hi,
					  false, exact);
	}
	return range ? -ENOMEM : -EUCLEAN;
}

/* buddy_core_alloc_req() with TOPDOWN and RANGE or EXACT: the highest. */
static noinline s64 alloc_highest(struct buddy_core *bc, unsigned int order,
				  u64 lo, u64 hi, u64 exact, bool range)
{
	u64 avail = bc->nonempty >> order;

	for (; avail; avail &= avail - 1) {
		unsigned int found = order + __ffs64(avail);
		s64 i;

		if (range)
			i = free_map_prev(bc->rows[found], bc->top[found],
					  (hi - 1) >> found, lo >> found);
		else
			i = free_map_last(bc->rows[found], bc->top[found]);
		if (i >= 0)
			return take_block(bc, found, order, (u64)i, lo, hi,
					  true, exact);
	}
	return range ? -ENOMEM : -EUCLEAN;
}

/**
 * buddy_core_alloc_req() - allocate with placement flags
 * @bc: the pool
 * @req: the size, flags and range (struct buddy_core_req)
 *
 * Among the orders that fit, from the smallest up, the first with a free
 * block inside the range (the whole pool without RANGE) gives the block:
 * the lowest-addressed (TOPDOWN: highest) such free block, found between
 * the range's two ends in that order's map, split down to the request's
 * order keeping the part at the range's start (end).  With EXACT, only the
 * first @req->units units stay allocated.  Slower than buddy_core_alloc()
 * (the search does not start from the hint's word alone), but it changes
 * the maps the same way.
 *
 * Return: the offset in units (aligned to the block's power of two),
 * -EINVAL for an unknown flag, a size of 0 or above the pool, a range that
 * is empty, past the pool, or given without RANGE, -ENOMEM when no free
 * block in the range fits (on these nothing changes), or -EUCLEAN if the
 * maps are found corrupted.
 */
s64 buddy_core_alloc_req(struct buddy_core *bc,
			 const struct buddy_core_req *req)
{
	u64 lo, hi, exact;
	unsigned int order;
	int err;

	err = buddy_core_req_bounds(req, bc->max_order, &order, &lo, &hi);
	if (err)
		return err;
	if (req->flags == BUDDY_CORE_ALLOC_TOPDOWN)
		return alloc_topdown(bc, order);
	if (lo >= hi || !(bc->nonempty >> order))
		return -ENOMEM;
	exact = req->flags & BUDDY_CORE_ALLOC_EXACT ? req->units : 0;
	if (req->flags & BUDDY_CORE_ALLOC_TOPDOWN)
		return alloc_highest(bc, order, lo, hi, exact,
				     req->flags & BUDDY_CORE_ALLOC_RANGE);
	return alloc_lowest(bc, order, lo, hi, exact,
			    req->flags & BUDDY_CORE_ALLOC_RANGE);
}
EXPORT_SYMBOL_GPL(buddy_core_alloc_req);

/* buddy_core_alloc() with flags, or an order it cannot serve. */
static noinline s64 alloc_flags(struct buddy_core *bc, unsigned int order,
				unsigned int flags)
{
	if (order > bc->max_order || flags != BUDDY_CORE_ALLOC_TOPDOWN)
		return -EINVAL;
	return alloc_topdown(bc, order);
}

/**
 * buddy_core_alloc() - allocate a block of 2^@order units
 * @bc: the pool
 * @order: log2 of the block's size in units
 * @flags: 0, or BUDDY_CORE_ALLOC_TOPDOWN (RANGE and EXACT need the fields
 *	of buddy_core_alloc_req())
 *
 * Takes the lowest-addressed free block of the smallest order that fits, as
 * the page allocator prefers the smallest order, and splits it down to
 * @order keeping left halves, so large free blocks stay whole as long as
 * anything smaller serves.  docs/PLACEMENT.md has the figures.  TOPDOWN
 * takes the highest-addressed one and keeps right halves.
 *
 * Return: the block's offset in units (aligned to 2^@order), -EINVAL for an
 * @order above max_order or a flag outside TOPDOWN, -ENOMEM when no free
 * block of that order exists (on these nothing changes), or -EUCLEAN if the
 * maps are found corrupted.
 */
s64 buddy_core_alloc(struct buddy_core *bc, unsigned int order,
		     unsigned int flags)
{
	u64 avail, hint, *word, bits, index;
	unsigned int found;

	if (unlikely(order > bc->max_order || flags))
		return alloc_flags(bc, order, flags);
	avail = bc->nonempty >> order;
	if (!avail)
		return -ENOMEM;
	found = order + __ffs64(avail);
	hint = bc->hint[found];
	/* No word below the hint has a bit: the lowest in its own is it. */
	word = &bc->rows[found][0][hint];
	bits = *word;
	if (unlikely(!bits || found != order))
		return alloc_split(bc, order, found, hint, bits);
	index = (hint << BUDDY_CORE_WORD_SHIFT) | __ffs64(bits);
	/* A bit past the map's end (a map under 64 bits) is corruption. */
	if (unlikely(index >= bc->nr_blocks[order]))
		return -EUCLEAN;

	*word = bits & (bits - 1);
	if (!--bc->nr_free[order])
		bc->nonempty &= ~BIT_ULL(order);
	bc->alloc[order][hint] |= bits & -bits;
	bc->free_units -= (u64)1 << order;
	return (s64)(index << order);
}
EXPORT_SYMBOL_GPL(buddy_core_alloc);

/**
 * buddy_core_free() - free a block and coalesce it with free buddies
 * @bc: the pool
 * @offset: the block's offset in units, as buddy_core_alloc() returned it
 * @order: the order it was allocated with
 *
 * Only the exact start of a live block, with its own order, is accepted: an
 * offset inside a block, a misaligned or out-of-range offset, a free block
 * (double free) or a wrong order fail, so no caller can free what it does
 * not hold.
 *
 * Return: 0, or -EINVAL with nothing changed.
 */
int buddy_core_free(struct buddy_core *bc, u64 offset, unsigned int order)
{
	unsigned int max_order = bc->max_order;
	u64 *const *level;
	u64 index, *word, bit, old;

	if (unlikely(order > max_order))
		return -EINVAL;
	/* Misaligned (bits lost in the shift) or past the pool: no block. */
	index = offset >> order;
	if (unlikely(index << order != offset ||
		     index >= bc->nr_blocks[order]))
		return -EINVAL;
	bit = BIT_ULL(index & WORD_MASK);
	word = &bc->alloc[order][index >> BUDDY_CORE_WORD_SHIFT];
	if (!(*word & bit))
		return -EINVAL;
	*word &= ~bit;
	bc->free_units += (u64)1 << order;

	/*
	 * A block and its buddy share a free-map word; a one-bit map's
	 * buddy bit is past its end, always clear.  Without the buddy there
	 * is no merge, and a word that had bits already has its summary bit
	 * (and the hint is at or below it).
	 */
	level = bc->rows[order];
	word = &level[0][index >> BUDDY_CORE_WORD_SHIFT];
	old = *word;
	if (likely(!(old & BIT_ULL((index ^ 1) & WORD_MASK)))) {
		*word = old | bit;
		if (likely(old)) {
			bc->nr_free[order]++;
			return 0;
		}
		free_map_set(level + 1, index >> BUDDY_CORE_WORD_SHIFT);
	} else {
		/* Merge upwards while the buddy is free. */
		do {
			free_map_clear(level, bc->top[order], index ^ 1);
			if (!--bc->nr_free[order])
				bc->nonempty &= ~BIT_ULL(order);
			index >>= 1;
			order++;
			level = bc->rows[order];
		} while (order < max_order && test_map_bit(level[0], index ^ 1));
		free_map_set(level, index);
	}
	hint_lower(bc, order, level, index >> BUDDY_CORE_WORD_SHIFT);
	if (!bc->nr_free[order]++)
		bc->nonempty |= BIT_ULL(order);
	return 0;
}
EXPORT_SYMBOL_GPL(buddy_core_free);

/* For buddy_core_free_pieces(): a live block starts at (@offset, @order). */
static bool bitmap_piece_live(const void *core, u64 offset, unsigned int order)
{
	const struct buddy_core *bc = core;

	return test_map_bit(bc->alloc[order], offset >> order);
}

static int bitmap_free_block(void *core, u64 offset, unsigned int order)
{
	return buddy_core_free(core, offset, order);
}

/**
 * buddy_core_free_extent() - free @units units at @offset
 * @bc: the pool
 * @offset: the extent's first unit
 * @units: its length, at least 1
 *
 * The blocks an EXACT allocation of @units left allocated, freed all or
 * none: see buddy_core_free_pieces().  For a power of two this is
 * buddy_core_free().
 *
 * Return: 0, or -EINVAL with nothing changed.
 */
int buddy_core_free_extent(struct buddy_core *bc, u64 offset, u64 units)
{
	return buddy_core_free_pieces(bc, bc->max_order, offset, units,
				      bitmap_piece_live, bitmap_free_block);
}
EXPORT_SYMBOL_GPL(buddy_core_free_extent);

/**
 * buddy_core_order_for() - the smallest order whose block holds @units
 * @units: a size in units, at least 1
 *
 * Computed in 64 bits without rounding overflow, so a huge request yields an
 * order no pool has (up to 64) rather than wrapping to a small one.
 *
 * Return: ceil(log2(@units)), or -EINVAL for 0.
 */
int buddy_core_order_for(u64 units)
{
	if (!units)
		return -EINVAL;
	return units == 1 ? 0 : fls64(units - 1);
}
EXPORT_SYMBOL_GPL(buddy_core_order_for);

/*
 * One order's free map: no stray bits past its end, every non-empty word
 * summarised, a summary bit over an empty word only on the hint's path,
 * no block below the hint, and the non-empty bit.
 */
static int check_free_map(const struct buddy_core *bc, unsigned int order)
{
	unsigned int bits_order = bc->max_order - order;
	u64 *const *level = bc->rows[order];
	unsigned int top = bc->top[order];
	u64 w, bits, hint = bc->hint[order];
	unsigned int l;

	if (hint >= level_words(bits_order, 0))
		return -EUCLEAN;
	for (w = 0; w < hint; w++)
		if (level[0][w])
			return -EUCLEAN;
	for (l = 0; l <= top; l++) {
		bits = bits_order > BUDDY_CORE_WORD_SHIFT * l ?
		       (u64)1 << (bits_order - BUDDY_CORE_WORD_SHIFT * l) : 1;
		if (bits <= WORD_MASK && level[l][0] & ~(BIT_ULL(bits) - 1))
			return -EUCLEAN;
		if (!l)
			continue;
		for (w = 0; w < level_words(bits_order, l - 1); w++) {
			bool summarised = test_map_bit(level[l], w);
			bool on_path = w == hint >> (BUDDY_CORE_WORD_SHIFT * (l - 1));

			if (level[l - 1][w] ? !summarised : summarised && !on_path)
				return -EUCLEAN;
		}
	}
	if (!bc->nr_free[order] != !(bc->nonempty & BIT_ULL(order)))
		return -EUCLEAN;
	return 0;
}

/* The pointers init laid out: the table, the cached rows, tops and alloc maps. */
static int check_layout(const struct buddy_core *bc)
{
	u64 *sentinel = (u64 *)((char *)bc->maps +
				(size_t)meta_table_bytes(bc->max_order));
	u64 *words = sentinel + 1;
	unsigned int order, l;

	if (bc->stride != row_stride(bc->max_order) || *sentinel != ~0ULL)
		return -EUCLEAN;
	for (order = 0; order <= bc->max_order; order++) {
		unsigned int bits_order = bc->max_order - order;
		u64 **level = order_maps(bc, order);

		if (bc->rows[order] != level ||
		    bc->top[order] != map_levels(bits_order) - 1 ||
		    bc->nr_blocks[order] != (u64)1 << bits_order)
			return -EUCLEAN;
		for (l = 0; l < map_levels(bits_order); l++) {
			if (level[l] != words)
				return -EUCLEAN;
			words += level_words(bits_order, l);
		}
		if (level[l] != sentinel || level[bc->stride - 1] != words ||
		    bc->alloc[order] != words)
			return -EUCLEAN;
		words += level_words(bits_order, 0);
	}
	return 0;
}

/**
 * buddy_core_check() - verify the maps and the counters
 * @bc: the pool
 *
 * Walks the pool block by block: at each block's start exactly one bit, free
 * or allocated, of one order that the start is aligned to, and no free block
 * beside a free buddy.  Then every set bit must have been met by the walk;
 * the summaries, hints and non-empty mask must agree with the words below;
 * the cached row pointers with the table; and free units and free blocks
 * per order are recounted.  O(pool size): for tests and debugging, not for
 * hot paths.
 *
 * Return: 0 if consistent, -EUCLEAN at the first inconsistency.
 */
int buddy_core_check(const struct buddy_core *bc)
{
	u64 nr_free[BUDDY_CORE_MAX_ORDER + 1] = { 0 };
	u64 pos = 0, end = (u64)1 << bc->max_order;
	u64 blocks = 0, set_bits = 0, free_units = 0, w;
	unsigned int order;

	if (bc->max_order > BUDDY_CORE_MAX_ORDER || check_layout(bc) ||
	    bc->nonempty >> bc->max_order >> 1)
		return -EUCLEAN;
	while (pos < end) {
		unsigned int align = pos ? __ffs64(pos) : bc->max_order;
		int found = -1;
		bool is_free = false;

		if (align > bc->max_order)
			align = bc->max_order;
		for (order = 0; order <= align; order++) {
			u64 index = pos >> order;
			bool f = test_map_bit(order_maps(bc, order)[0], index);
			bool a = test_map_bit(alloc_map(bc, order), index);

			if (!f && !a)
				continue;
			if (found >= 0 || (f && a))
				return -EUCLEAN;
			found = order;
			is_free = f;
		}
		if (found < 0)
			return -EUCLEAN;
		if (is_free) {
			u64 index = pos >> found;

			if ((unsigned int)found < bc->max_order &&
			    test_map_bit(order_maps(bc, found)[0], index ^ 1))
				return -EUCLEAN;
			nr_free[found]++;
			free_units += (u64)1 << found;
		}
		blocks++;
		pos += (u64)1 << found;
	}
	for (order = 0; order <= bc->max_order; order++) {
		u64 words = level_words(bc->max_order - order, 0);
		const u64 *free_bits = order_maps(bc, order)[0];
		const u64 *alloc_bits = alloc_map(bc, order);

		for (w = 0; w < words; w++)
			set_bits += hweight64(free_bits[w]) +
				    hweight64(alloc_bits[w]);
		if (check_free_map(bc, order))
			return -EUCLEAN;
	}
	if (set_bits != blocks || free_units != bc->free_units)
		return -EUCLEAN;
	for (order = 0; order <= bc->max_order; order++)
		if (nr_free[order] != bc->nr_free[order])
			return -EUCLEAN;
	return 0;
}
EXPORT_SYMBOL_GPL(buddy_core_check);

/* The ops table: the functions above on an opaque state. */
static size_t bitmap_meta_size(unsigned int max_order)
{
	return buddy_core_meta_size(max_order);
}

static int bitmap_init(void *core, unsigned int max_order, void *meta,
		       size_t meta_size)
{
	return buddy_core_init(core, max_order, meta, meta_size);
}

static s64 bitmap_alloc(void *core, unsigned int order, unsigned int flags)
{
	return buddy_core_alloc(core, order, flags);
}

static s64 bitmap_alloc_req(void *core, const struct buddy_core_req *req)
{
	return buddy_core_alloc_req(core, req);
}

static int bitmap_free_extent(void *core, u64 offset, u64 units)
{
	return buddy_core_free_extent(core, offset, units);
}

static int bitmap_check(const void *core)
{
	return buddy_core_check(core);
}

static unsigned int bitmap_max_order(const void *core)
{
	return buddy_core_max_order(core);
}

static u64 bitmap_free_units(const void *core)
{
	return buddy_core_free_units(core);
}

static int bitmap_largest_order(const void *core)
{
	return buddy_core_largest_order(core);
}

static u64 bitmap_nr_free(const void *core, unsigned int order)
{
	return buddy_core_nr_free(core, order);
}

const struct buddy_core_ops buddy_core_bitmap_ops = {
	.name = "bitmap",
	.state_size = sizeof(struct buddy_core),
	.meta_size = bitmap_meta_size,
	.init = bitmap_init,
	.alloc = bitmap_alloc,
	.alloc_req = bitmap_alloc_req,
	.free = bitmap_free_block,
	.free_extent = bitmap_free_extent,
	.check = bitmap_check,
	.max_order = bitmap_max_order,
	.free_units = bitmap_free_units,
	.largest_order = bitmap_largest_order,
	.nr_free = bitmap_nr_free,
};
EXPORT_SYMBOL_GPL(buddy_core_bitmap_ops);
