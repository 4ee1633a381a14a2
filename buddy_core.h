/* SPDX-License-Identifier: GPL-2.0 */
/*
 * buddy_core: a binary buddy allocator over offsets.
 *
 * It manages a pool of 2^max_order units and hands out naturally aligned
 * blocks of 2^order units, as offsets in units.  It knows nothing of memory,
 * pages, files or users, so the same source runs in the kernel (KUnit, the
 * buddy module) and in userspace (tests, fuzzing, benchmarks).
 *
 * Concurrency: none inside.  No function sleeps, allocates or takes a lock;
 * the caller serialises every call on one struct buddy_core.  The inline
 * getters read single fields and may run concurrently with a writer if the
 * caller accepts a momentarily stale value (see buddy_mod.c).
 *
 * Free blocks are kept the way the page allocator keeps them, by order,
 * but in bitmaps outside the managed memory, so a block of the wanted order
 * is found without walking down from a root:
 *   free map of order k: bit i set iff the block of 2^k units at i << k is
 *              free and maximal (its buddy is not free as well).  Above its
 *              words sit 64-ary summary levels up to one top word: bit j of
 *              level l + 1 is set if word j of level l is non-zero.
 *   alloc map of order k: bit i set iff an allocated block of 2^k units
 *              starts at i << k.  free() validates (offset, order) by this
 *              one bit, so only the exact start of a live block, with its
 *              own order, can be freed.
 *   hint[k]:   a free-map word with no free block below it, where the
 *              search for the lowest block starts.  Allocation clears bits
 *              in that word only, leaving the summary bits above it set when
 *              it empties: summary bits on the hint's path may be stale, no
 *              other, and none is ever missing.
 *   nonempty:  bit k set iff nr_free[k] > 0.
 * Allocation takes the lowest-addressed free block of the smallest order
 * that fits and splits it, keeping left halves (docs/PLACEMENT.md).  Most
 * calls touch one or two words; the rest walk summary levels, max_order / 6
 * of them at most, never starting from a root.  The placement flags
 * (buddy_core_ops.h) search the same maps between two bounds, upwards or
 * downwards, reading stale summary bits as empty words.
 */
#ifndef _BUDDY_CORE_H
#define _BUDDY_CORE_H

#ifdef __KERNEL__
#include <linux/bitops.h>
#include <linux/compiler.h>
#include <linux/types.h>
#else
#include <buddy_compat.h>
#endif
#include "buddy_core_ops.h"

/* Largest pool: 2^62 units keeps every offset and count inside s64. */
#define BUDDY_CORE_MAX_ORDER	62

/* Summary fan-out: one u64 word summarises 64 words below it. */
#define BUDDY_CORE_WORD_SHIFT	6

/**
 * struct buddy_core - one buddy pool
 * @maps: per order, @stride pointers into the caller's buffer: the free
 *	map's levels (bits first, then summaries up to the top word), then
 *	the shared sentinel word, unused (NULL) slots for orders with fewer
 *	levels, and in the last slot the alloc map
 * @max_order: the pool holds 2^max_order units
 * @stride: pointers per order in @maps
 * @nonempty: bit k set iff a free block of order k exists
 * @free_units: units in free blocks
 * @top: per order, the index of the free map's top level in @maps
 * @nr_free: free blocks per order (maximal blocks)
 * @hint: per order, a free-map word index with no free block below it
 * @rows: per order, its first pointer in @maps (the free map's levels)
 * @alloc: per order, its alloc map (the last pointer of its row)
 * @nr_blocks: per order, blocks in the pool (bits in each map)
 *
 * Fields are read-only outside buddy_core.c; use the getters.
 */
struct buddy_core {
	u64 **maps;
	unsigned int max_order;
	unsigned int stride;
	u64 nonempty;
	u64 free_units;
	u8 top[BUDDY_CORE_MAX_ORDER + 1];
	u64 nr_free[BUDDY_CORE_MAX_ORDER + 1];
	u64 hint[BUDDY_CORE_MAX_ORDER + 1];
	u64 **rows[BUDDY_CORE_MAX_ORDER + 1];
	u64 *alloc[BUDDY_CORE_MAX_ORDER + 1];
	u64 nr_blocks[BUDDY_CORE_MAX_ORDER + 1];
};

size_t buddy_core_meta_size(unsigned int max_order);
int buddy_core_init(struct buddy_core *bc, unsigned int max_order,
		    void *meta, size_t meta_size);
s64 buddy_core_alloc(struct buddy_core *bc, unsigned int order,
		     unsigned int flags);
s64 buddy_core_alloc_req(struct buddy_core *bc,
			 const struct buddy_core_req *req);
int buddy_core_free(struct buddy_core *bc, u64 offset, unsigned int order);
int buddy_core_free_extent(struct buddy_core *bc, u64 offset, u64 units);
int buddy_core_order_for(u64 units);
int buddy_core_check(const struct buddy_core *bc);

/* Getters: O(1), lockless-safe for a single field read (see above). */
static inline unsigned int buddy_core_max_order(const struct buddy_core *bc)
{
	return bc->max_order;
}

static inline u64 buddy_core_free_units(const struct buddy_core *bc)
{
	return bc->free_units;
}

/* Order of the largest free block, or -ENOMEM when no unit is free. */
static inline int buddy_core_largest_order(const struct buddy_core *bc)
{
	/* One read: a lockless reader must not see it change in between. */
	u64 nonempty = READ_ONCE(bc->nonempty);

	return nonempty ? fls64(nonempty) - 1 : -ENOMEM;
}

/* Free blocks of exactly @order (maximal blocks); 0 past max_order. */
static inline u64 buddy_core_nr_free(const struct buddy_core *bc,
				     unsigned int order)
{
	return order <= bc->max_order ? bc->nr_free[order] : 0;
}

#endif /* _BUDDY_CORE_H */
