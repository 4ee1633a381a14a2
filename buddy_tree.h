/* SPDX-License-Identifier: GPL-2.0 */
/*
 * buddy_tree: the seed's binary buddy tree, over offsets.
 *
 * The same contract as buddy_core.h: a pool of 2^max_order units handing
 * out naturally aligned blocks of 2^order units as offsets in units, no
 * memory, pages, files or users, the same source in the kernel and in
 * userspace.  Concurrency: none inside.  No function sleeps, allocates or
 * takes a lock; the caller serialises every call on one struct buddy_tree.
 * The inline getters read one field and may race with a writer if the
 * caller accepts a momentarily stale value.
 *
 * The tree is the seed's complete binary tree over the units: its node i
 * has children 2i + 1 and 2i + 2, and stands for one block (depth d: a
 * block of 2^(max_order - d) units).  The seed keeps in each node longest[i],
 * the order of the largest free block below it; here each node keeps the
 * set of those orders, one bit per order, and longest[i] is its highest
 * bit.  The set is what makes "the smallest order that fits" findable in one
 * walk down (seed defect 7): the root's set says which orders have a free
 * block, and the walk follows that order's bit.  A node of order s holds:
 *   BIT(s)              whole: its block is free (maximal if its parent is
 *                       split); every node below a whole node is whole;
 *   buddy_tree_allocated(s)  an allocated block starts here (every node
 *                       below it reads whole, untouched);
 *   anything else       split: the union of its children's sets (bits
 *                       below s only), 0 when nothing below is free.
 * So free() validates (offset, order) by reading one node.  The nodes are
 * stored level by level (level s holds the 2^(max_order - s) nodes of order
 * s, in the seed's left-to-right order): a byte per node for orders 0..7,
 * whose sets fit in 8 bits, and a u64 above: 2.05 bytes per unit, the
 * seed's two bytes and 7/128.
 */
#ifndef _BUDDY_TREE_H
#define _BUDDY_TREE_H

#ifdef __KERNEL__
#include <linux/bitops.h>
#include <linux/compiler.h>
#include <linux/types.h>
#else
#include <buddy_compat.h>
#endif
#include "buddy_core_ops.h"

/* Largest pool: 2^62 units keeps every offset and count inside s64. */
#define BUDDY_TREE_MAX_ORDER	62

/* Orders below this store a node in a byte; the rest in a u64. */
#define BUDDY_TREE_BYTE_LEVELS	8

/* An allocated block of order @s >= 1 starts here: bits s and 0; at 0, 0. */
static inline u64 buddy_tree_allocated(unsigned int s)
{
	return s ? BIT_ULL(s) | 1 : 0;
}

/**
 * struct buddy_tree - one buddy pool
 * @levels: per order s, its 2^(max_order - s) nodes in the caller's buffer
 *	(u8 for s < BUDDY_TREE_BYTE_LEVELS, else u64)
 * @max_order: the pool holds 2^max_order units
 * @free_units: units in free blocks
 * @nr_free: maximal free blocks per order
 *
 * Fields are read-only outside buddy_tree.c; use the getters.
 */
struct buddy_tree {
	void *levels[BUDDY_TREE_MAX_ORDER + 1];
	unsigned int max_order;
	u64 free_units;
	u64 nr_free[BUDDY_TREE_MAX_ORDER + 1];
};

size_t buddy_tree_meta_size(unsigned int max_order);
int buddy_tree_init(struct buddy_tree *bt, unsigned int max_order,
		    void *meta, size_t meta_size);
s64 buddy_tree_alloc(struct buddy_tree *bt, unsigned int order,
		     unsigned int flags);
s64 buddy_tree_alloc_req(struct buddy_tree *bt,
			 const struct buddy_core_req *req);
int buddy_tree_free(struct buddy_tree *bt, u64 offset, unsigned int order);
int buddy_tree_free_extent(struct buddy_tree *bt, u64 offset, u64 units);
int buddy_tree_check(const struct buddy_tree *bt);

/* Getters: O(1), lockless-safe for a single field read (see above). */
static inline unsigned int buddy_tree_max_order(const struct buddy_tree *bt)
{
	return bt->max_order;
}

static inline u64 buddy_tree_free_units(const struct buddy_tree *bt)
{
	return bt->free_units;
}

/* The root's set of free orders (one read: see the header comment). */
static inline u64 buddy_tree_root_orders(const struct buddy_tree *bt)
{
	unsigned int s = bt->max_order;
	u64 v;

	if (s < BUDDY_TREE_BYTE_LEVELS)
		v = READ_ONCE(*(const u8 *)bt->levels[s]);
	else
		v = READ_ONCE(*(const u64 *)bt->levels[s]);
	return v == buddy_tree_allocated(s) ? 0 : v;
}

/* Order of the largest free block, or -ENOMEM when no unit is free. */
static inline int buddy_tree_largest_order(const struct buddy_tree *bt)
{
	u64 orders = buddy_tree_root_orders(bt);

	return orders ? fls64(orders) - 1 : -ENOMEM;
}

/* Free blocks of exactly @order (maximal blocks); 0 past max_order. */
static inline u64 buddy_tree_nr_free(const struct buddy_tree *bt,
				     unsigned int order)
{
	return order <= bt->max_order ? bt->nr_free[order] : 0;
}

#endif /* _BUDDY_TREE_H */
