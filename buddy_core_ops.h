/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every allocator core offers: the placement flags, the request that
 * carries their arguments, and a table of entry points, so that a caller
 * (the pool, the device) can pick a core at load time and use it without
 * knowing which one it is.
 *
 * Two cores implement it: buddy_core.c (per-order bitmaps, "bitmap") and
 * buddy_tree.c (the seed's tree, "tree").  Both take the same blocks for
 * the same calls: the lowest-addressed (TOPDOWN: highest) free block of the
 * smallest order that fits.  Neither locks: the caller serialises every
 * call on one core, as the cores' headers say.
 */
#ifndef _BUDDY_CORE_OPS_H
#define _BUDDY_CORE_OPS_H

#ifdef __KERNEL__
#include <linux/bitops.h>
#include <linux/errno.h>
#include <linux/types.h>
#else
#include <buddy_compat.h>
#endif

/*
 * Allocation flags, the same bits as the uapi's BUDDY_ALLOC_* so that the
 * device can pass them through.  They combine freely.
 *
 * TOPDOWN: the highest-addressed block that fits, among the free blocks of
 *	the smallest order that fits (without it: the lowest-addressed).
 * RANGE:   the block lies entirely within [start, end) (units); a free
 *	block that straddles the range is split so that the part taken lies
 *	inside.  With EXACT, the extent kept lies within; the rest of its
 *	power-of-two block may pass @end, since it goes back at once.
 *	-ENOMEM then means no fitting free block in the range.
 * EXACT:   the smallest block holding @units is taken, and at once every
 *	part of it past @units goes back to the pool as free buddy blocks.
 *	The extent (offset, @units) is freed with buddy_*_free_extent().
 */
#define BUDDY_CORE_ALLOC_TOPDOWN	0x1U
#define BUDDY_CORE_ALLOC_RANGE		0x2U
#define BUDDY_CORE_ALLOC_EXACT		0x4U
#define BUDDY_CORE_ALLOC_FLAGS_VALID	(BUDDY_CORE_ALLOC_TOPDOWN | \
					 BUDDY_CORE_ALLOC_RANGE | \
					 BUDDY_CORE_ALLOC_EXACT)

/**
 * struct buddy_core_req - an allocation with placement
 * @units: units asked for, at least 1; the block taken is the smallest
 *	power of two holding them, aligned to its size.  Without
 *	BUDDY_CORE_ALLOC_EXACT the caller owns that whole block; with it,
 *	exactly @units units from the block's start.
 * @start: with BUDDY_CORE_ALLOC_RANGE, the range's first unit; else 0
 * @end: with BUDDY_CORE_ALLOC_RANGE, one past the range's last unit
 *	(@start < @end <= the pool's units); else 0
 * @flags: BUDDY_CORE_ALLOC_* bits
 *
 * With RANGE, what the caller keeps lies within [@start, @end): the whole
 * power-of-two block, or with EXACT its first @units units (the block
 * starts at or after @start, so the offset keeps its natural alignment
 * whatever the flags).
 */
struct buddy_core_req {
	u64 units;
	u64 start;
	u64 end;
	unsigned int flags;
};

/**
 * buddy_core_req_bounds() - the checks every core makes of a request
 * @req: the request
 * @max_order: the pool holds 2^@max_order units
 * @order: set to the order of the block that holds @req->units
 * @lo: set to the first unit a block may use
 * @hi: set to one past the last: the last place a block may start whose
 *	kept units (the block, or EXACT's @req->units) end by the range's
 *	end, plus the block; or the whole pool without RANGE ([@lo, @hi) may
 *	be empty)
 *
 * Return: 0, or -EINVAL for an unknown flag, @req->units 0 or above the
 * pool, a range that is empty or past the pool, or one given without RANGE.
 */
static inline int buddy_core_req_bounds(const struct buddy_core_req *req,
					unsigned int max_order,
					unsigned int *order, u64 *lo, u64 *hi)
{
	u64 pool = (u64)1 << max_order, block;

	/* @units 0 wraps round, above the pool too. */
	if ((req->flags & ~BUDDY_CORE_ALLOC_FLAGS_VALID) ||
	    req->units - 1 >= pool)
		return -EINVAL;
	/* fls64(0) is 0: one unit is order 0. */
	*order = fls64(req->units - 1);
	block = (u64)1 << *order;
	if (!(req->flags & BUDDY_CORE_ALLOC_RANGE)) {
		if (req->start || req->end)
			return -EINVAL;
		*lo = 0;
		*hi = pool;
		return 0;
	}
	if (req->start >= req->end || req->end > pool)
		return -EINVAL;
	*lo = (req->start + block - 1) & ~(block - 1);
	*hi = req->end & ~(block - 1);
	/*
	 * EXACT keeps @units <= block: one block past the last start whose
	 * @units end by @end (0 when @end < @units; nothing wraps).
	 */
	if (unlikely(req->flags & BUDDY_CORE_ALLOC_EXACT))
		*hi = (req->end + block - req->units) & ~(block - 1);
	return 0;
}

/**
 * buddy_core_req_target() - where in a free block a request's block goes
 * @index: the free block's index among blocks of its order
 * @found: the free block's order
 * @order: the order of the request's block
 * @lo: first unit a block may use (buddy_core_req_bounds())
 * @hi: one past the last
 * @topdown: take the highest place rather than the lowest
 *
 * Return: the unit the request's block starts at: the lowest (@topdown:
 * highest) aligned place inside both the free block and [@lo, @hi).
 */
static inline u64 buddy_core_req_target(u64 index, unsigned int found,
					unsigned int order, u64 lo, u64 hi,
					bool topdown)
{
	u64 first = index << found, end = (index + 1) << found;

	if (topdown)
		return (end < hi ? end : hi) - ((u64)1 << order);
	return first > lo ? first : lo;
}

/**
 * buddy_core_free_pieces() - free an extent, all of it or nothing
 * @core: the core's state
 * @max_order: the pool holds 2^@max_order units
 * @offset: the extent's first unit
 * @units: its length, at least 1
 * @is_live: whether a live block (offset, order) starts there
 * @free_block: the core's free() of one block
 *
 * The extent is the blocks an EXACT allocation of @units left allocated:
 * one per set bit of @units, largest first from @offset.  Each must be a
 * live block, else nothing is freed; then each is freed and coalesced.
 *
 * Return: 0, or -EINVAL with nothing changed.
 */
static inline int buddy_core_free_pieces(void *core, unsigned int max_order,
					 u64 offset, u64 units,
					 bool (*is_live)(const void *core,
							 u64 offset,
							 unsigned int order),
					 int (*free_block)(void *core,
							   u64 offset,
							   unsigned int order))
{
	u64 pool = (u64)1 << max_order, pos, left;
	unsigned int order;
	int err = 0;

	if (!units || offset >= pool || units > pool - offset)
		return -EINVAL;
	for (pos = offset, left = units; left; left ^= (u64)1 << order) {
		order = fls64(left) - 1;
		if ((pos & (((u64)1 << order) - 1)) ||
		    !is_live(core, pos, order))
			return -EINVAL;
		pos += (u64)1 << order;
	}
	for (pos = offset, left = units; left && !err; left ^= (u64)1 << order) {
		order = fls64(left) - 1;
		err = free_block(core, pos, order);
		pos += (u64)1 << order;
	}
	return err;
}

/**
 * struct buddy_core_ops - one core's entry points, on an opaque state
 * @name: "bitmap" or "tree", as a core= parameter names it
 * @state_size: bytes of the core's state (struct buddy_core or struct
 *	buddy_tree) that @init fills in; the caller allocates it
 * @meta_size: bytes of metadata buffer a pool of 2^max_order units needs
 * @init: make a pool, all free, over a caller-provided metadata buffer
 * @alloc: a plain block of 2^order units; flags 0 or TOPDOWN (the others
 *	need a request's fields: -EINVAL)
 * @alloc_req: an allocation with placement flags
 * @free: free the block (offset, order) that @alloc returned
 * @free_extent: free (offset, units), the pieces an EXACT allocation left
 *	allocated, or any block (offset, 2^order)
 * @check: verify the whole state; 0 or -EUCLEAN
 * @max_order: the pool holds 2^max_order units
 * @free_units: units in free blocks
 * @largest_order: order of the largest free block, or -ENOMEM
 * @nr_free: maximal free blocks of one order
 *
 * Each entry has the contract of the core's function of the same name
 * (buddy_core_*() or buddy_tree_*()); the queries are O(1).
 */
struct buddy_core_ops {
	const char *name;
	size_t state_size;
	size_t (*meta_size)(unsigned int max_order);
	int (*init)(void *core, unsigned int max_order, void *meta,
		    size_t meta_size);
	s64 (*alloc)(void *core, unsigned int order, unsigned int flags);
	s64 (*alloc_req)(void *core, const struct buddy_core_req *req);
	int (*free)(void *core, u64 offset, unsigned int order);
	int (*free_extent)(void *core, u64 offset, u64 units);
	int (*check)(const void *core);
	unsigned int (*max_order)(const void *core);
	u64 (*free_units)(const void *core);
	int (*largest_order)(const void *core);
	u64 (*nr_free)(const void *core, unsigned int order);
};

extern const struct buddy_core_ops buddy_core_bitmap_ops;
extern const struct buddy_core_ops buddy_tree_ops;

#endif /* _BUDDY_CORE_OPS_H */
