// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_tree: the seed's binary buddy tree over offsets.  See buddy_tree.h
 * for the node encoding and the concurrency contract.
 *
 * The seed's defects (docs/DESIGN.md has the list) and where each is fixed:
 * the caller sizes the buffer from buddy_tree_meta_size() and nothing else
 * lives in it (1, 8); offsets are bounded by 2^max_order (2); free() takes
 * only a node that reads "allocated", so interior and double frees fail
 * with nothing changed (3, 4); nodes are u8/u64 with named values, never
 * char (5); sizes and offsets are u64, errors negative errno (6); and the
 * walk down follows the smallest free order that fits (7).
 */
#ifdef __KERNEL__
#include <linux/bitops.h>
#include <linux/errno.h>
#include <linux/export.h>
#include <linux/limits.h>
#include <linux/string.h>
#endif
#include "buddy_tree.h"

#define WHOLE(s)	BIT_ULL(s)

static inline u64 node_get(const struct buddy_tree *bt, unsigned int s, u64 i)
{
	if (s < BUDDY_TREE_BYTE_LEVELS)
		return ((const u8 *)bt->levels[s])[i];
	return ((const u64 *)bt->levels[s])[i];
}

static inline void node_set(struct buddy_tree *bt, unsigned int s, u64 i,
			    u64 v)
{
	if (s < BUDDY_TREE_BYTE_LEVELS)
		((u8 *)bt->levels[s])[i] = (u8)v;
	else
		((u64 *)bt->levels[s])[i] = v;
}

/* The orders of free blocks a node of order @s stands for. */
static inline u64 node_orders(u64 v, unsigned int s)
{
	return v == buddy_tree_allocated(s) ? 0 : v;
}

static inline bool node_split(u64 v, unsigned int s)
{
	return v != WHOLE(s) && v != buddy_tree_allocated(s);
}

static inline size_t level_bytes(unsigned int max_order, unsigned int s)
{
	return (size_t)1 << (max_order - s) <<
	       (s < BUDDY_TREE_BYTE_LEVELS ? 0 : 3);
}

/**
 * buddy_tree_meta_size() - bytes of metadata a pool needs
 * @max_order: the pool holds 2^@max_order units
 *
 * One node per block of every order: a byte for orders 0..7 and 8 bytes
 * above, so about 2^(@max_order + 1) bytes and 7/128 byte per unit more.
 *
 * Return: the size (a multiple of 8 from @max_order 3 up), or 0 if
 * @max_order is above BUDDY_TREE_MAX_ORDER or the size does not fit in
 * size_t.
 */
size_t buddy_tree_meta_size(unsigned int max_order)
{
	u64 bytes = 0;
	unsigned int s;

	if (max_order > BUDDY_TREE_MAX_ORDER)
		return 0;
	/* Under 2^63 + 2^59 bytes at max_order 62: no u64 overflow. */
	for (s = 0; s <= max_order; s++)
		bytes += ((u64)1 << (max_order - s)) <<
			 (s < BUDDY_TREE_BYTE_LEVELS ? 0 : 3);
	if (bytes > SIZE_MAX)
		return 0;
	return (size_t)bytes;
}
EXPORT_SYMBOL_GPL(buddy_tree_meta_size);

/**
 * buddy_tree_init() - make a pool of 2^@max_order units, all free
 * @bt: the pool
 * @max_order: log2 of the number of units
 * @meta: buffer for the nodes, 8-byte aligned, owned by the caller for the
 *	pool's lifetime
 * @meta_size: bytes in @meta, at least buddy_tree_meta_size(@max_order)
 *
 * Return: 0, or -EINVAL for an unsupported @max_order or a missing, short or
 * misaligned buffer (and @bt is left untouched).
 */
int buddy_tree_init(struct buddy_tree *bt, unsigned int max_order,
		    void *meta, size_t meta_size)
{
	size_t need = buddy_tree_meta_size(max_order);
	char *next = meta;
	unsigned int s;

	if (!need || !meta || meta_size < need ||
	    ((uintptr_t)meta & (sizeof(u64) - 1)))
		return -EINVAL;

	memset(bt, 0, sizeof(*bt));
	bt->max_order = max_order;
	/* The u64 levels first, so they stay aligned; every node whole. */
	for (s = max_order + 1; s-- > 0;) {
		size_t bytes = level_bytes(max_order, s);

		bt->levels[s] = next;
		if (s < BUDDY_TREE_BYTE_LEVELS) {
			memset(next, (int)WHOLE(s), bytes);
		} else {
			u64 *node = (u64 *)next;
			size_t i;

			for (i = 0; i < bytes / sizeof(u64); i++)
				node[i] = WHOLE(s);
		}
		next += bytes;
	}
	bt->free_units = (u64)1 << max_order;
	bt->nr_free[max_order] = 1;
	return 0;
}
EXPORT_SYMBOL_GPL(buddy_tree_init);

/*
 * Re-derive the ancestors of node (@s, @i) after it changed, until one
 * keeps its value.  A parent on this path is split (one child is not
 * whole), so it holds the union of its children's orders.
 */
static void update_ancestors(struct buddy_tree *bt, unsigned int s, u64 i)
{
	while (s < bt->max_order) {
		u64 left = node_get(bt, s, i & ~1ULL);
		u64 right = node_get(bt, s, i | 1);
		u64 v = node_orders(left, s) | node_orders(right, s);

		s++;
		i >>= 1;
		if (node_get(bt, s, i) == v)
			break;
		node_set(bt, s, i, v);
	}
}

/*
 * Mark the block (@s, @i) allocated, or with @units below its size, only
 * its first @units units: down the block, a left half that @units covers
 * is allocated and the walk goes right, else the right half stays free (a
 * maximal block: its buddy holds allocated units) and the walk goes left.
 * Then the ancestors of the last node set are brought up to date.
 */
static void mark_allocated(struct buddy_tree *bt, unsigned int s, u64 i,
			   u64 units)
{
	while (units != (u64)1 << s) {
		s--;
		i <<= 1;
		if (units > (u64)1 << s) {
			node_set(bt, s, i, buddy_tree_allocated(s));
			units -= (u64)1 << s;
			i |= 1;
		} else {
			bt->nr_free[s]++;
		}
	}
	node_set(bt, s, i, buddy_tree_allocated(s));
	update_ancestors(bt, s, i);
}

/*
 * Take the free block (@found, @i) and split it down to a block of
 * 2^@order units at unit @target inside it (aligned); the halves left off
 * the path are whole already and become maximal free blocks.  @units: what
 * to keep of it (2^@order unless EXACT).  Returns the offset.
 */
static s64 take_block(struct buddy_tree *bt, unsigned int found, u64 i,
		      unsigned int order, u64 target, u64 units)
{
	if (unlikely(node_get(bt, found, i) != WHOLE(found)))
		return -EUCLEAN;
	bt->nr_free[found]--;
	while (found > order) {
		found--;
		i = (i << 1) | ((target >> found) & 1);
		bt->nr_free[found]++;
	}
	mark_allocated(bt, order, i, units);
	bt->free_units -= units;
	return (s64)(i << order);
}

#if defined(BUDDY_TREE_LEFT_FIRST) || defined(BUDDY_TREE_BEST_FIT_BRANCH)
/*
 * The descents the project had before, for bench/placement.c's comparison
 * only (docs/PLACEMENT.md): down through split nodes to the first whole one,
 * choosing a child by its largest free order (the seed's longest[]):
 * left-first takes the left child if that fits, best fit by branch the
 * child whose largest free block is the smallest that fits, left on a tie.
 */
static s64 alloc_descent(struct buddy_tree *bt, unsigned int order)
{
	unsigned int s = bt->max_order;
	u64 i = 0;

	if (!(buddy_tree_root_orders(bt) >> order))
		return -ENOMEM;
	while (node_get(bt, s, i) != WHOLE(s)) {
		int l, r;

		if (s == order)
			return -EUCLEAN;
		s--;
		i <<= 1;
		l = fls64(node_orders(node_get(bt, s, i), s)) - 1;
		r = fls64(node_orders(node_get(bt, s, i | 1), s)) - 1;
#ifdef BUDDY_TREE_LEFT_FIRST
		(void)r;
		if (l < (int)order)
			i |= 1;
#else
		if (l < (int)order || (r >= (int)order && r < l))
			i |= 1;
#endif
	}
	return take_block(bt, s, i, order, i << s, (u64)1 << order);
}
#endif

/**
 * buddy_tree_alloc() - allocate a block of 2^@order units
 * @bt: the pool
 * @order: log2 of the block's size in units
 * @flags: 0, or BUDDY_CORE_ALLOC_TOPDOWN (RANGE and EXACT need the fields
 *	of buddy_tree_alloc_req())
 *
 * The smallest order with a free block that fits is the lowest bit of the
 * root's set at or above @order; the walk down follows that bit, into the
 * left child when it has it (TOPDOWN: the right), to the lowest (highest)
 * free block of that order, which is split keeping left (right) halves.
 *
 * Return: the block's offset in units (aligned to 2^@order), -EINVAL for an
 * @order above max_order or a flag outside TOPDOWN, -ENOMEM when no free
 * block of that order exists (on these nothing changes), or -EUCLEAN if the
 * tree is found corrupted.
 */
s64 buddy_tree_alloc(struct buddy_tree *bt, unsigned int order,
		     unsigned int flags)
{
	unsigned int s = bt->max_order, found;
	u64 avail, i = 0, side;

	if (order > s || (flags & ~BUDDY_CORE_ALLOC_TOPDOWN))
		return -EINVAL;
#if defined(BUDDY_TREE_LEFT_FIRST) || defined(BUDDY_TREE_BEST_FIT_BRANCH)
	if (!flags)
		return alloc_descent(bt, order);
#endif
	avail = buddy_tree_root_orders(bt) >> order;
	if (!avail)
		return -ENOMEM;
	found = order + __ffs64(avail);
	/* Prefer the right child: 1 for TOPDOWN, else 0. */
	side = flags & BUDDY_CORE_ALLOC_TOPDOWN;
	while (s > found) {
		s--;
		i = (i << 1) | side;
		if (!(node_orders(node_get(bt, s, i), s) & WHOLE(found)))
			i ^= 1;
	}
	/* TOPDOWN takes the last 2^order units of the block found. */
	return take_block(bt, found, i, order,
			  side ? ((i + 1) << found) - ((u64)1 << order) :
				 i << found,
			  (u64)1 << order);
}
EXPORT_SYMBOL_GPL(buddy_tree_alloc);

/*
 * The lowest (@topdown: highest) maximal free block of order @found whose
 * index at that order lies in [@ilo, @ihi].  Depth first, in address
 * order, into children whose set has @found; a child wholly inside the
 * range with the bit always leads to such a block, so only the two paths
 * along the range's ends can fail, and the walk visits O(max_order) nodes.
 * Returns the index, or -1.
 */
static s64 find_in_range(const struct buddy_tree *bt, unsigned int found,
			 u64 ilo, u64 ihi, bool topdown)
{
	unsigned int s = bt->max_order;
	u64 i = 0;

	for (;;) {
		unsigned int d = s - found;
		u64 first = i << d, last = ((i + 1) << d) - 1;

		if (topdown ? last < ilo : first > ihi)
			return -1;
		if (last >= ilo && first <= ihi &&
		    (node_orders(node_get(bt, s, i), s) & WHOLE(found))) {
			/* The bit at order @found itself: the block is whole. */
			if (s == found)
				return (s64)i;
			s--;
			i = (i << 1) | topdown;
			continue;
		}
		/* On to the next sibling in address order, else up. */
		while (s < bt->max_order && (i & 1) == !topdown) {
			s++;
			i >>= 1;
		}
		if (s == bt->max_order)
			return -1;
		i ^= 1;
	}
}

/**
 * buddy_tree_alloc_req() - allocate with placement flags
 * @bt: the pool
 * @req: the size, flags and range (struct buddy_core_req)
 *
 * Among the orders that fit, from the smallest up, the first with a free
 * block inside the range (the whole pool without RANGE) gives the block:
 * the lowest-addressed (TOPDOWN: highest) such free block, split down to
 * the request's order keeping the part at the range's start (end).  With
 * EXACT, only the first @req->units units stay allocated.
 *
 * Return: the offset in units (aligned to the block's power of two),
 * -EINVAL for an unknown flag, a size of 0 or above the pool, a range that
 * is empty, past the pool, or given without RANGE, -ENOMEM when no free
 * block in the range fits (on these nothing changes), or -EUCLEAN if the
 * tree is found corrupted.
 */
s64 buddy_tree_alloc_req(struct buddy_tree *bt,
			 const struct buddy_core_req *req)
{
	bool topdown = req->flags & BUDDY_CORE_ALLOC_TOPDOWN;
	unsigned int order, found;
	u64 lo, hi, avail, block, target;
	s64 i = -1;
	int err;

	err = buddy_core_req_bounds(req, bt->max_order, &order, &lo, &hi);
	if (err)
		return err;
	block = (u64)1 << order;
	if (lo >= hi)
		return -ENOMEM;
	avail = buddy_tree_root_orders(bt) >> order;
	while (avail) {
		found = order + __ffs64(avail);
		i = find_in_range(bt, found, lo >> found, (hi - 1) >> found,
				  topdown);
		if (i >= 0)
			break;
		avail &= avail - 1;
	}
	if (i < 0)
		return -ENOMEM;
	target = buddy_core_req_target((u64)i, found, order, lo, hi, topdown);
	return take_block(bt, found, (u64)i, order, target,
			  req->flags & BUDDY_CORE_ALLOC_EXACT ? req->units :
								block);
}
EXPORT_SYMBOL_GPL(buddy_tree_alloc_req);

/**
 * buddy_tree_free() - free a block and coalesce it with free buddies
 * @bt: the pool
 * @offset: the block's offset in units, as buddy_tree_alloc() returned it
 * @order: the order it was allocated with
 *
 * Only the exact start of a live block, with its own order, is accepted: an
 * offset inside a block, a misaligned or out-of-range offset, a free block
 * (double free) or a wrong order fail, so no caller can free what it does
 * not hold.
 *
 * Return: 0, or -EINVAL with nothing changed.
 */
int buddy_tree_free(struct buddy_tree *bt, u64 offset, unsigned int order)
{
	unsigned int max_order = bt->max_order;
	u64 i;

	if (order > max_order || offset >> max_order ||
	    offset & (((u64)1 << order) - 1))
		return -EINVAL;
	i = offset >> order;
	if (node_get(bt, order, i) != buddy_tree_allocated(order))
		return -EINVAL;

	bt->free_units += (u64)1 << order;
	/*
	 * Merge upwards while the buddy is whole (and so a maximal block);
	 * every node on the way reads whole, below the merged block.
	 */
	node_set(bt, order, i, WHOLE(order));
	while (order < max_order && node_get(bt, order, i ^ 1) == WHOLE(order)) {
		bt->nr_free[order]--;
		i >>= 1;
		order++;
		node_set(bt, order, i, WHOLE(order));
	}
	bt->nr_free[order]++;
	update_ancestors(bt, order, i);
	return 0;
}
EXPORT_SYMBOL_GPL(buddy_tree_free);

/* For buddy_core_free_pieces(): a live block starts at (@offset, @order). */
static bool tree_piece_live(const void *core, u64 offset, unsigned int order)
{
	const struct buddy_tree *bt = core;

	return node_get(bt, order, offset >> order) == buddy_tree_allocated(order);
}

static int tree_free_block(void *core, u64 offset, unsigned int order)
{
	return buddy_tree_free(core, offset, order);
}

/**
 * buddy_tree_free_extent() - free @units units at @offset
 * @bt: the pool
 * @offset: the extent's first unit
 * @units: its length, at least 1
 *
 * The blocks an EXACT allocation of @units left allocated, freed all or
 * none: see buddy_core_free_pieces().  For a power of two this is
 * buddy_tree_free().
 *
 * Return: 0, or -EINVAL with nothing changed.
 */
int buddy_tree_free_extent(struct buddy_tree *bt, u64 offset, u64 units)
{
	return buddy_core_free_pieces(bt, bt->max_order, offset, units,
				      tree_piece_live, tree_free_block);
}
EXPORT_SYMBOL_GPL(buddy_tree_free_extent);

/*
 * A split node (@s, @i) reading @v: the union of its children's orders,
 * and not two whole children, which would have merged.  Leaves never split.
 */
static int check_split(const struct buddy_tree *bt, unsigned int s, u64 i,
		       u64 v)
{
	u64 l, r;

	if (!s)
		return -EUCLEAN;
	l = node_get(bt, s - 1, 2 * i);
	r = node_get(bt, s - 1, 2 * i + 1);
	if (v != (node_orders(l, s - 1) | node_orders(r, s - 1)) ||
	    (l == WHOLE(s - 1) && r == WHOLE(s - 1)))
		return -EUCLEAN;
	return 0;
}

/**
 * buddy_tree_check() - verify every node and the counters
 * @bt: the pool
 *
 * Every node below a whole or allocated node must read whole; every other
 * node whole, allocated, or split holding exactly the union of its
 * children's orders, and never split over two whole children (they would
 * have merged).  Free units and maximal free blocks per order are
 * recounted.  O(pool size): for tests and debugging, not for hot paths.
 *
 * Return: 0 if consistent, -EUCLEAN at the first inconsistency.
 */
int buddy_tree_check(const struct buddy_tree *bt)
{
	u64 nr_free[BUDDY_TREE_MAX_ORDER + 1] = { 0 };
	unsigned int max_order = bt->max_order, s;
	u64 free_units = 0;

	if (max_order > BUDDY_TREE_MAX_ORDER)
		return -EUCLEAN;
	for (s = max_order + 1; s-- > 0;) {
		u64 n = (u64)1 << (max_order - s), i;

		for (i = 0; i < n; i++) {
			u64 v = node_get(bt, s, i);
			bool under_split = s == max_order ||
				node_split(node_get(bt, s + 1, i >> 1), s + 1);

			if (!under_split) {
				if (v != WHOLE(s))
					return -EUCLEAN;
				continue;
			}
			if (v == WHOLE(s)) {
				nr_free[s]++;
				free_units += (u64)1 << s;
				continue;
			}
			if (v == buddy_tree_allocated(s))
				continue;
			if (check_split(bt, s, i, v))
				return -EUCLEAN;
		}
	}
	if (free_units != bt->free_units)
		return -EUCLEAN;
	for (s = 0; s <= max_order; s++)
		if (nr_free[s] != bt->nr_free[s])
			return -EUCLEAN;
	return 0;
}
EXPORT_SYMBOL_GPL(buddy_tree_check);

/* The ops table: the functions above on an opaque state. */
static size_t tree_meta_size(unsigned int max_order)
{
	return buddy_tree_meta_size(max_order);
}

static int tree_init(void *core, unsigned int max_order, void *meta,
		     size_t meta_size)
{
	return buddy_tree_init(core, max_order, meta, meta_size);
}

static s64 tree_alloc(void *core, unsigned int order, unsigned int flags)
{
	return buddy_tree_alloc(core, order, flags);
}

static s64 tree_alloc_req(void *core, const struct buddy_core_req *req)
{
	return buddy_tree_alloc_req(core, req);
}

static int tree_free_extent(void *core, u64 offset, u64 units)
{
	return buddy_tree_free_extent(core, offset, units);
}

static int tree_check(const void *core)
{
	return buddy_tree_check(core);
}

static unsigned int tree_max_order(const void *core)
{
	return buddy_tree_max_order(core);
}

static u64 tree_free_units(const void *core)
{
	return buddy_tree_free_units(core);
}

static int tree_largest_order(const void *core)
{
	return buddy_tree_largest_order(core);
}

static u64 tree_nr_free(const void *core, unsigned int order)
{
	return buddy_tree_nr_free(core, order);
}

const struct buddy_core_ops buddy_tree_ops = {
	.name = "tree",
	.state_size = sizeof(struct buddy_tree),
	.meta_size = tree_meta_size,
	.init = tree_init,
	.alloc = tree_alloc,
	.alloc_req = tree_alloc_req,
	.free = tree_free_block,
	.free_extent = tree_free_extent,
	.check = tree_check,
	.max_order = tree_max_order,
	.free_units = tree_free_units,
	.largest_order = tree_largest_order,
	.nr_free = tree_nr_free,
};
EXPORT_SYMBOL_GPL(buddy_tree_ops);
