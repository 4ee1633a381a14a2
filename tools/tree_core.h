/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tree_core: a binary buddy allocator over offsets.
 *
 * It manages a pool of 2^max_order units and hands out naturally aligned
 * blocks of 2^order units, as offsets in units.  It knows nothing of memory,
 * pages, files or users, so the same source runs in the kernel (KUnit, the
 * buddy module) and in userspace (tests, fuzzing, benchmarks).
 *
 * Concurrency: none inside.  No function sleeps, allocates or takes a lock;
 * the caller serialises every call on one struct tree_core.  The inline
 * getters read single fields and may run concurrently with a writer if the
 * caller accepts a momentarily stale value (see buddy_mod.c).
 *
 * The tree is the classic "longest[]" array: node i has children 2i+1 and
 * 2i+2, and holds an explicitly signed byte:
 *   0..order   the order of the largest free block in its subtree
 *              (== the node's own order: the node's block is free);
 *   TREE_NODE_SPLIT_FULL   split, nothing free below;
 *   TREE_NODE_ALLOCATED    an allocated block starts exactly here.
 * Below an allocated node the subtree keeps its "free" values untouched, so
 * an allocated node is the only node that reads TREE_NODE_ALLOCATED on its
 * path: free() validates (offset, order) by looking at one byte.
 */
#ifndef _TREE_CORE_H
#define _TREE_CORE_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <buddy_compat.h>
#endif

/* Largest pool: 2^62 units keeps every offset and count inside s64. */
#define TREE_CORE_MAX_ORDER	62

/* Node values below zero; a free order is 0..max_order. */
#define TREE_NODE_SPLIT_FULL	((s8)-1)
#define TREE_NODE_ALLOCATED	((s8)-2)

/*
 * Allocation flags.  None is defined yet: every bit is reserved for what
 * later placement policies need (top-down, a range, an exact size), and an
 * unknown bit fails with -EINVAL, so old callers keep their meaning.
 */
#define TREE_CORE_ALLOC_FLAGS_VALID	0U

/**
 * struct tree_core - one buddy pool
 * @tree: 2^(max_order+1) - 1 nodes, caller-provided (see tree_core_meta_size())
 * @max_order: the pool holds 2^max_order units
 * @free_units: units in free blocks
 * @nr_free: free blocks per order, as the tree holds them (maximal blocks)
 *
 * Fields are read-only outside tree_core.c; use the getters.
 */
struct tree_core {
	s8 *tree;
	unsigned int max_order;
	u64 free_units;
	u64 nr_free[TREE_CORE_MAX_ORDER + 1];
};

size_t tree_core_meta_size(unsigned int max_order);
int tree_core_init(struct tree_core *bc, unsigned int max_order,
		    void *meta, size_t meta_size);
s64 tree_core_alloc(struct tree_core *bc, unsigned int order,
		     unsigned int flags);
int tree_core_free(struct tree_core *bc, u64 offset, unsigned int order);
int tree_core_check(const struct tree_core *bc);

/* Getters: O(1), lockless-safe for a single field read (see above). */
static inline unsigned int tree_core_max_order(const struct tree_core *bc)
{
	return bc->max_order;
}

static inline u64 tree_core_free_units(const struct tree_core *bc)
{
	return bc->free_units;
}

/* Order of the largest free block, or -ENOMEM when no unit is free. */
static inline int tree_core_largest_order(const struct tree_core *bc)
{
	return bc->tree[0] >= 0 ? bc->tree[0] : -ENOMEM;
}

/* Free blocks of exactly @order, as the tree holds them; 0 past max_order. */
static inline u64 tree_core_nr_free(const struct tree_core *bc,
				     unsigned int order)
{
	return order <= bc->max_order ? bc->nr_free[order] : 0;
}

#endif /* _TREE_CORE_H */
