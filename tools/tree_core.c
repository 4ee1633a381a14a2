// SPDX-License-Identifier: GPL-2.0
/*
 * tree_core: a binary buddy allocator over offsets.  See tree_core.h for
 * the tree encoding and the concurrency contract.
 */
#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/export.h>
#include <linux/log2.h>
#include <linux/string.h>
#endif
#include "tree_core.h"

static inline size_t parent_of(size_t node)
{
	return (node - 1) / 2;
}

static inline size_t left_of(size_t node)
{
	return 2 * node + 1;
}

/* The node of the block of 2^@order units at @offset (aligned). */
static inline size_t node_of(unsigned int max_order, u64 offset,
			     unsigned int order)
{
	return ((size_t)1 << (max_order - order)) - 1 + (size_t)(offset >> order);
}

/* A parent's value when it is not whole: its best child, or "full". */
static inline s8 merged_value(s8 left, s8 right)
{
	s8 best = left > right ? left : right;

	return best >= 0 ? best : TREE_NODE_SPLIT_FULL;
}

/**
 * tree_core_meta_size() - bytes of metadata a pool needs
 * @max_order: the pool holds 2^@max_order units
 *
 * One byte per tree node: 2^(@max_order + 1) - 1 bytes, under 2 bytes per
 * unit.
 *
 * Return: the size, or 0 if @max_order is above TREE_CORE_MAX_ORDER or the
 * size does not fit in size_t.
 */
size_t tree_core_meta_size(unsigned int max_order)
{
	if (max_order > TREE_CORE_MAX_ORDER ||
	    max_order + 1 >= sizeof(size_t) * 8)
		return 0;
	return ((size_t)2 << max_order) - 1;
}
EXPORT_SYMBOL_GPL(tree_core_meta_size);

/**
 * tree_core_init() - make a pool of 2^@max_order units, all free
 * @bc: the pool
 * @max_order: log2 of the number of units
 * @meta: buffer for the tree, owned by the caller for the pool's lifetime
 * @meta_size: bytes in @meta, at least tree_core_meta_size(@max_order)
 *
 * Return: 0, or -EINVAL for an unsupported @max_order or a missing or short
 * buffer (and @bc is left untouched).
 */
int tree_core_init(struct tree_core *bc, unsigned int max_order,
		    void *meta, size_t meta_size)
{
	size_t need = tree_core_meta_size(max_order);
	unsigned int depth;

	if (!need || !meta || meta_size < need)
		return -EINVAL;

	memset(bc, 0, sizeof(*bc));
	bc->tree = meta;
	bc->max_order = max_order;
	/* Every node is whole: level d holds 2^d nodes of order max_order - d. */
	for (depth = 0; depth <= max_order; depth++)
		memset(bc->tree + ((size_t)1 << depth) - 1,
		       (int)(max_order - depth), (size_t)1 << depth);
	bc->free_units = (u64)1 << max_order;
	bc->nr_free[max_order] = 1;
	return 0;
}
EXPORT_SYMBOL_GPL(tree_core_init);

/* Re-derive ancestors' values after @node changed, until one is unchanged. */
static void update_ancestors(s8 *tree, size_t node)
{
	while (node) {
		size_t left = left_of(parent_of(node));
		s8 value = merged_value(tree[left], tree[left + 1]);

		node = parent_of(node);
		if (tree[node] == value)
			break;
		tree[node] = value;
	}
}

/**
 * tree_core_alloc() - allocate a block of 2^@order units
 * @bc: the pool
 * @order: log2 of the block's size in units
 * @flags: TREE_CORE_ALLOC_* bits; none is defined yet, so 0
 *
 * Placement is best fit by branch: at each level the descent takes the child
 * whose largest free block is the smallest that still fits (left on a tie),
 * so exact fits are used before large blocks are split.  docs/PLACEMENT.md
 * has the figures that chose it over the seed's left-first descent.
 *
 * Return: the block's offset in units (aligned to 2^@order), -EINVAL for an
 * @order above max_order or an unknown flag, or -ENOMEM when no free block
 * of that order exists.  On error nothing changes.
 */
s64 tree_core_alloc(struct tree_core *bc, unsigned int order,
		     unsigned int flags)
{
	s8 *tree = bc->tree;
	unsigned int node_order = bc->max_order;
	s8 want = (s8)order;
	size_t node = 0;

	if (order > bc->max_order || (flags & ~TREE_CORE_ALLOC_FLAGS_VALID))
		return -EINVAL;
	if (tree[0] < want)
		return -ENOMEM;

	/*
	 * Down through split nodes until a whole one (a free block).  The
	 * order bound never binds on a sound tree; it keeps a corrupted one
	 * from walking past the leaves.
	 */
	while (tree[node] != (s8)node_order && node_order > order) {
		size_t left = left_of(node);
		s8 l = tree[left], r = tree[left + 1];

#ifdef TREE_CORE_LEFT_FIRST
		/* The seed's left-first descent: for the placement benchmark only. */
		node = l >= want ? left : left + 1;
		(void)r;
#else
		node = (l >= want && (r < want || l <= r)) ? left : left + 1;
#endif
		node_order--;
	}
	/* Split the free block: each level down leaves a free right half. */
	bc->nr_free[node_order]--;
	while (node_order > order) {
		node = left_of(node);
		node_order--;
		bc->nr_free[node_order]++;
	}
	tree[node] = TREE_NODE_ALLOCATED;
	update_ancestors(tree, node);
	bc->free_units -= (u64)1 << order;
	return (s64)((node + 1 - ((size_t)1 << (bc->max_order - order))) << order);
}
EXPORT_SYMBOL_GPL(tree_core_alloc);

/**
 * tree_core_free() - free a block and coalesce it with free buddies
 * @bc: the pool
 * @offset: the block's offset in units, as tree_core_alloc() returned it
 * @order: the order it was allocated with
 *
 * Only the exact start of a live block, with its own order, is accepted: an
 * offset inside a block, a misaligned or out-of-range offset, a free block
 * (double free) or a wrong order fail, so no caller can free what it does
 * not hold.
 *
 * Return: 0, or -EINVAL with nothing changed.
 */
int tree_core_free(struct tree_core *bc, u64 offset, unsigned int order)
{
	s8 *tree = bc->tree;
	size_t node;

	if (order > bc->max_order || offset >> bc->max_order ||
	    offset & (((u64)1 << order) - 1))
		return -EINVAL;
	node = node_of(bc->max_order, offset, order);
	if (tree[node] != TREE_NODE_ALLOCATED)
		return -EINVAL;

	bc->free_units += (u64)1 << order;
	tree[node] = (s8)order;
	/* Merge upwards while the buddy (node ^ 1 in 1-based numbering) is whole. */
	while (node && tree[((node - 1) ^ 1) + 1] == (s8)order) {
		bc->nr_free[order]--;
		node = parent_of(node);
		order++;
		tree[node] = (s8)order;
	}
	bc->nr_free[order]++;
	update_ancestors(tree, node);
	return 0;
}
EXPORT_SYMBOL_GPL(tree_core_free);

/**
 * tree_core_check() - verify the whole tree and the counters
 * @bc: the pool
 *
 * Checks every node against its children (value range, whole and allocated
 * nodes over whole children, split nodes holding their best child), and
 * recounts free units and free blocks per order.  O(pool size): for tests
 * and debugging, not for hot paths.
 *
 * Return: 0 if consistent, -EUCLEAN at the first inconsistency.
 */
int tree_core_check(const struct tree_core *bc)
{
	u64 nr_free[TREE_CORE_MAX_ORDER + 1] = { 0 };
	unsigned int depth, order;
	u64 free_units = 0;

	for (depth = 0; depth <= bc->max_order; depth++) {
		size_t first = ((size_t)1 << depth) - 1;
		size_t last = first + ((size_t)1 << depth);
		size_t node;

		order = bc->max_order - depth;
		for (node = first; node < last; node++) {
			s8 v = bc->tree[node];
			bool parent_split = !node ||
				(bc->tree[parent_of(node)] >= TREE_NODE_SPLIT_FULL &&
				 bc->tree[parent_of(node)] != (s8)(order + 1));

			if (v < TREE_NODE_ALLOCATED || v > (s8)order)
				return -EUCLEAN;
			if (v == (s8)order && parent_split) {
				nr_free[order]++;
				free_units += (u64)1 << order;
			}
			if (!order) {
				if (v == TREE_NODE_SPLIT_FULL)
					return -EUCLEAN;
				continue;
			}
			if (v == (s8)order || v == TREE_NODE_ALLOCATED) {
				s8 whole = (s8)(order - 1);

				if (bc->tree[left_of(node)] != whole ||
				    bc->tree[left_of(node) + 1] != whole)
					return -EUCLEAN;
			} else {
				s8 l = bc->tree[left_of(node)];
				s8 r = bc->tree[left_of(node) + 1];

				if ((l == (s8)(order - 1) && r == l) ||
				    v != merged_value(l, r))
					return -EUCLEAN;
			}
		}
	}
	if (free_units != bc->free_units)
		return -EUCLEAN;
	for (order = 0; order <= bc->max_order; order++)
		if (nr_free[order] != bc->nr_free[order])
			return -EUCLEAN;
	return 0;
}
EXPORT_SYMBOL_GPL(tree_core_check);
