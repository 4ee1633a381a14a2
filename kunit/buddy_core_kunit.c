// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for buddy_core.
 *
 * The randomised tests log their seed; load the module with seed=N to replay
 * a failure exactly.  Every test that expects an error also checks that the
 * pool did not change (tree bytes and counters).
 */
#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/limits.h>
#include <linux/module.h>
#include <linux/prandom.h>
#include <linux/random.h>
#include <linux/slab.h>

#include "../buddy_core.h"

static ulong seed;
module_param(seed, ulong, 0444);
MODULE_PARM_DESC(seed, "Seed for the randomised tests (0: a random one, logged)");

KUNIT_DEFINE_ACTION_WRAPPER(kvfree_action, kvfree, const void *);

static struct buddy_core *make_pool(struct kunit *test, unsigned int max_order)
{
	size_t size = buddy_core_meta_size(max_order);
	struct buddy_core *bc;
	void *meta;

	bc = kunit_kzalloc(test, sizeof(*bc), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, bc);
	KUNIT_ASSERT_GT(test, size, 0);
	meta = kvmalloc(size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, meta);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kvfree_action, meta), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_init(bc, max_order, meta, size), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_check(bc), 0);
	return bc;
}

/* A copy of a pool's whole state, to prove a failed call changed nothing. */
struct snapshot {
	struct buddy_core bc;
	s8 *tree;
	size_t size;
};

static struct snapshot *take_snapshot(struct kunit *test,
				      const struct buddy_core *bc)
{
	struct snapshot *snap = kunit_kzalloc(test, sizeof(*snap), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, snap);
	snap->size = buddy_core_meta_size(bc->max_order);
	snap->tree = kunit_kmalloc(test, snap->size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, snap->tree);
	memcpy(snap->tree, bc->tree, snap->size);
	snap->bc = *bc;
	return snap;
}

static void expect_unchanged(struct kunit *test, const struct buddy_core *bc,
			     const struct snapshot *snap)
{
	KUNIT_EXPECT_EQ(test, memcmp(bc->tree, snap->tree, snap->size), 0);
	KUNIT_EXPECT_EQ(test, bc->free_units, snap->bc.free_units);
	KUNIT_EXPECT_EQ(test, memcmp(bc->nr_free, snap->bc.nr_free,
				     sizeof(bc->nr_free)), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
}

static u64 pick_seed(struct kunit *test)
{
	u64 s = seed ? seed : get_random_u64();

	kunit_info(test, "seed %llu (replay with seed=%llu)\n", s, s);
	return s;
}

static void meta_size_test(struct kunit *test)
{
	unsigned int order;

	KUNIT_EXPECT_EQ(test, buddy_core_meta_size(0), 1);
	KUNIT_EXPECT_EQ(test, buddy_core_meta_size(1), 3);
	KUNIT_EXPECT_EQ(test, buddy_core_meta_size(10), 2047);
	KUNIT_EXPECT_EQ(test, buddy_core_meta_size(30), (2UL << 30) - 1);
	/* At most 2 bytes of metadata per unit, for every supported order. */
	for (order = 0; order <= BUDDY_CORE_MAX_ORDER; order++)
		KUNIT_EXPECT_LE(test, (u64)buddy_core_meta_size(order),
				(u64)2 << order);
	KUNIT_EXPECT_EQ(test, buddy_core_meta_size(BUDDY_CORE_MAX_ORDER + 1), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_meta_size(UINT_MAX), 0);
}

static void init_invalid_test(struct kunit *test)
{
	struct buddy_core bc, before;
	s8 meta[15];

	memset(&bc, 0x5a, sizeof(bc));
	before = bc;
	KUNIT_EXPECT_EQ(test, buddy_core_init(&bc, 3, NULL, sizeof(meta)), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_init(&bc, 3, meta, sizeof(meta) - 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_init(&bc, 3, meta, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_init(&bc, BUDDY_CORE_MAX_ORDER + 1,
					      meta, SIZE_MAX), -EINVAL);
	KUNIT_EXPECT_EQ(test, memcmp(&bc, &before, sizeof(bc)), 0);

	KUNIT_EXPECT_EQ(test, buddy_core_init(&bc, 3, meta, sizeof(meta)), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_free_units(&bc), 8);
	KUNIT_EXPECT_EQ(test, buddy_core_largest_order(&bc), 3);
	KUNIT_EXPECT_EQ(test, buddy_core_check(&bc), 0);
}

/* The smallest pool: one unit, one node, which is both root and leaf. */
static void order0_pool_test(struct kunit *test)
{
	struct buddy_core *bc = make_pool(test, 0);
	struct snapshot *snap;

	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_largest_order(bc), -ENOMEM);
	KUNIT_EXPECT_EQ(test, buddy_core_free_units(bc), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
	snap = take_snapshot(test, bc);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 1, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 1, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, 1), -EINVAL);
	expect_unchanged(test, bc, snap);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, 0), 1);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
}

static void alloc_invalid_test(struct kunit *test)
{
	struct buddy_core *bc = make_pool(test, 4);
	struct snapshot *snap;
	unsigned int bit;

	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 1, 0), 0);
	snap = take_snapshot(test, bc);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 5, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, UINT_MAX, 0), -EINVAL);
	for (bit = 0; bit < 32; bit++)
		KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 1U << bit), -EINVAL);
	expect_unchanged(test, bc, snap);
}

static void alloc_enomem_test(struct kunit *test)
{
	struct buddy_core *bc = make_pool(test, 4);
	struct snapshot *snap;

	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 3, 0), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 2, 0), 8);
	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 1, 0), 12);
	snap = take_snapshot(test, bc);
	/* 2 units free, but no free block of order 2 or more. */
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 2, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 4, 0), -ENOMEM);
	expect_unchanged(test, bc, snap);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 1, 0), 14);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, buddy_core_largest_order(bc), -ENOMEM);
}

/* Seed defect 2: the bound is 2^max_order units, not max_order. */
static void free_range_test(struct kunit *test)
{
	struct buddy_core *bc = make_pool(test, 4);
	struct snapshot *snap;
	unsigned int i;

	for (i = 0; i < 16; i++)
		KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 0, 0), (s64)i);
	snap = take_snapshot(test, bc);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 16, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 1ULL << 40, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, U64_MAX, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, (1ULL << 63) + 15, 0), -EINVAL);
	expect_unchanged(test, bc, snap);
	/* Offsets at and above max_order (4) are valid. */
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 15, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 5, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 4, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, 1), 1);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
}

/* Seed defect 3: an offset inside a block must not free the block. */
static void free_interior_test(struct kunit *test)
{
	struct buddy_core *bc = make_pool(test, 4);
	struct snapshot *snap;
	unsigned int order;
	u64 off;

	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 3, 0), 0);
	snap = take_snapshot(test, bc);
	for (off = 1; off < 8; off++)
		for (order = 0; order <= 4; order++)
			KUNIT_EXPECT_EQ(test, buddy_core_free(bc, off, order), -EINVAL);
	expect_unchanged(test, bc, snap);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, 3), 0);
}

/* Seed defect 4: double frees, and frees when the pool is one block. */
static void double_free_test(struct kunit *test)
{
	struct buddy_core *bc = make_pool(test, 4);
	struct snapshot *snap;
	unsigned int order;

	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 1, 0), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 1, 0), 2);
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 2, 1), 0);
	snap = take_snapshot(test, bc);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 2, 1), -EINVAL);
	/* Never allocated, and already coalesced into a larger free block. */
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 8, 3), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 4, 2), -EINVAL);
	expect_unchanged(test, bc, snap);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, 1), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, 4), -EINVAL);

	/* The whole pool as one block: no other (offset, order) frees it. */
	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 4, 0), 0);
	snap = take_snapshot(test, bc);
	for (order = 0; order < 4; order++) {
		KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, order), -EINVAL);
		KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 8, order), -EINVAL);
		KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 15, order), -EINVAL);
	}
	expect_unchanged(test, bc, snap);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, 4), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, 4), -EINVAL);
}

static void free_wrong_order_test(struct kunit *test)
{
	struct buddy_core *bc = make_pool(test, 5);
	struct snapshot *snap;

	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 2, 0), 0);
	snap = take_snapshot(test, bc);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, 3), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, 5), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, 6), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, UINT_MAX), -EINVAL);
	expect_unchanged(test, bc, snap);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, 2), 0);
}

static void free_misaligned_test(struct kunit *test)
{
	struct buddy_core *bc = make_pool(test, 5);
	struct snapshot *snap;

	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 2, 0), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 2, 0), 4);
	snap = take_snapshot(test, bc);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 2, 2), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 6, 2), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 4, 3), -EINVAL);
	expect_unchanged(test, bc, snap);
}

/*
 * Seed defect 5: the tree must be explicitly signed.  The kernel builds with
 * -funsigned-char, so a plain char tree holding negative markers breaks:
 * the type check fails first, and the behaviour checks confirm it.
 */
static void node_type_signed_test(struct kunit *test)
{
	struct buddy_core *bc = make_pool(test, 3);

	KUNIT_EXPECT_LT(test, (int)(typeof(*bc->tree))-1, 0);
	KUNIT_EXPECT_LT(test, (int)BUDDY_NODE_ALLOCATED, 0);
	KUNIT_EXPECT_LT(test, (int)BUDDY_NODE_SPLIT_FULL, 0);

	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 2, 0), 0);
	KUNIT_EXPECT_LT(test, (int)bc->tree[1], 0);
	/* A marker read as a large order would send this into the used half. */
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 2, 0), 4);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, buddy_core_largest_order(bc), -ENOMEM);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
}

/* Seed defect 6: 64-bit sizes; a huge request must not round to order 0. */
static void order_for_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, buddy_core_order_for(0), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_order_for(1), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_order_for(2), 1);
	KUNIT_EXPECT_EQ(test, buddy_core_order_for(3), 2);
	KUNIT_EXPECT_EQ(test, buddy_core_order_for(7), 3);
	KUNIT_EXPECT_EQ(test, buddy_core_order_for(8), 3);
	KUNIT_EXPECT_EQ(test, buddy_core_order_for(1ULL << 31), 31);
	KUNIT_EXPECT_EQ(test, buddy_core_order_for((1ULL << 32) + 1), 33);
	KUNIT_EXPECT_EQ(test, buddy_core_order_for(1ULL << 63), 63);
	KUNIT_EXPECT_EQ(test, buddy_core_order_for((1ULL << 63) + 1), 64);
	KUNIT_EXPECT_EQ(test, buddy_core_order_for(U64_MAX), 64);
}

/* Seed defect 1: the tree stays inside the buffer buddy_core_meta_size() asks for. */
static void meta_bounds_test(struct kunit *test)
{
	const unsigned int max_order = 6, guard = 64;
	size_t size = buddy_core_meta_size(max_order);
	struct buddy_core bc;
	unsigned int i;
	u8 *buf;

	buf = kunit_kmalloc(test, size + 2 * guard, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	memset(buf, 0xa5, size + 2 * guard);
	KUNIT_ASSERT_EQ(test, buddy_core_init(&bc, max_order, buf + guard, size), 0);
	for (i = 0; i < 64; i++)
		KUNIT_ASSERT_EQ(test, buddy_core_alloc(&bc, 0, 0), (s64)i);
	for (i = 0; i < 64; i++)
		KUNIT_ASSERT_EQ(test, buddy_core_free(&bc, i ^ 0x2a, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(&bc, max_order, 0), 0);
	for (i = 0; i < guard; i++) {
		KUNIT_EXPECT_EQ(test, buf[i], 0xa5);
		KUNIT_EXPECT_EQ(test, buf[guard + size + i], 0xa5);
	}
}

static const unsigned int fill_orders[] = { 0, 1, 2, 7, 12 };

static void fill_order_desc(const unsigned int *order, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "max_order %u", *order);
}

KUNIT_ARRAY_PARAM(fill, fill_orders, fill_order_desc);

/* Exhaust with single units, then free in random order: back to one block. */
static void fill_drain_test(struct kunit *test)
{
	unsigned int max_order = *(const unsigned int *)test->param_value;
	struct buddy_core *bc = make_pool(test, max_order);
	u64 units = 1ULL << max_order, i;
	struct rnd_state rnd;
	u64 *order;

	prandom_seed_state(&rnd, pick_seed(test));
	order = kunit_kmalloc_array(test, units, sizeof(*order), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, order);
	for (i = 0; i < units; i++) {
		KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 0, 0), (s64)i);
		order[i] = i;
	}
	KUNIT_EXPECT_EQ(test, buddy_core_free_units(bc), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);

	/* Fisher-Yates shuffle of the free order. */
	for (i = units - 1; i > 0; i--) {
		u64 j = prandom_u32_state(&rnd) % (i + 1);

		swap(order[i], order[j]);
	}
	for (i = 0; i < units; i++)
		KUNIT_ASSERT_EQ(test, buddy_core_free(bc, order[i], 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_free_units(bc), units);
	KUNIT_EXPECT_EQ(test, buddy_core_largest_order(bc), (int)max_order);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, max_order), 1);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
}

/* Every free of a unit coalesces as far as the buddies allow. */
static void coalesce_test(struct kunit *test)
{
	struct buddy_core *bc = make_pool(test, 3);
	unsigned int i;

	for (i = 0; i < 8; i++)
		KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 0, 0), (s64)i);
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, 0), 1);
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 1, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, 1), 1);
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 3, 0), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 2, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, 1), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, 2), 1);
	KUNIT_EXPECT_EQ(test, buddy_core_largest_order(bc), 2);
	/* A merged block is allocatable as one. */
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 2, 0), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 0, 2), 0);
	for (i = 4; i < 8; i++)
		KUNIT_ASSERT_EQ(test, buddy_core_free(bc, i, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, 2), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, 3), 1);
	KUNIT_EXPECT_EQ(test, buddy_core_largest_order(bc), 3);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
}

static void queries_test(struct kunit *test)
{
	struct buddy_core *bc = make_pool(test, 6);

	KUNIT_EXPECT_EQ(test, buddy_core_max_order(bc), 6);
	KUNIT_EXPECT_EQ(test, buddy_core_free_units(bc), 64);
	KUNIT_EXPECT_EQ(test, buddy_core_largest_order(bc), 6);
	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 0, 0), 0);
	/* One unit out of 64 leaves one free block of each order 0..5. */
	KUNIT_EXPECT_EQ(test, buddy_core_free_units(bc), 63);
	KUNIT_EXPECT_EQ(test, buddy_core_largest_order(bc), 5);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, 0), 1);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, 3), 1);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, 5), 1);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, 6), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, 7), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, UINT_MAX), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 5, 0), 32);
	KUNIT_EXPECT_EQ(test, buddy_core_largest_order(bc), 4);
	KUNIT_EXPECT_EQ(test, buddy_core_free_units(bc), 31);
}

/*
 * Seed defect 7: with a large free block on the left and an exact fit on the
 * right, best fit by branch takes the exact fit and keeps the large block.
 */
static void best_fit_test(struct kunit *test)
{
	struct buddy_core *bc = make_pool(test, 3);

	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 2, 0), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 0, 0), 4);
	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 0, 0), 5);
	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 1, 0), 6);
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 0, 2), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 4, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), 4);
	KUNIT_EXPECT_EQ(test, buddy_core_largest_order(bc), 2);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
}

/* Each kind of corruption the checker exists to find, planted and undone. */
static void check_detects_test(struct kunit *test)
{
	struct buddy_core *bc = make_pool(test, 4);
	s8 saved;

	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 1, 0), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_check(bc), 0);

	saved = bc->tree[0];
	bc->tree[0] = 5;			/* above the node's order */
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), -EUCLEAN);
	bc->tree[0] = -3;			/* below every marker */
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), -EUCLEAN);
	bc->tree[0] = 2;			/* not its best child (3) */
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), -EUCLEAN);
	bc->tree[0] = saved;

	saved = bc->tree[2];			/* right half, whole (3) */
	bc->tree[2] = BUDDY_NODE_ALLOCATED;	/* allocated, parent disagrees */
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), -EUCLEAN);
	bc->tree[2] = saved;

	saved = bc->tree[6];			/* a whole child of a whole node */
	bc->tree[6] = 1;
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), -EUCLEAN);
	bc->tree[6] = saved;

	bc->free_units++;
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), -EUCLEAN);
	bc->free_units--;
	bc->nr_free[3]++;
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), -EUCLEAN);
	bc->nr_free[3]--;
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
}

/* A pool far larger than the others: 2^22 units, 8 MiB of tree. */
static void large_pool_test(struct kunit *test)
{
	const unsigned int max_order = 22, order = 12;
	struct buddy_core *bc = make_pool(test, max_order);
	u64 blocks = 1ULL << (max_order - order), i;

	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, max_order, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, max_order), 0);
	for (i = 0; i < blocks; i++)
		KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, order, 0),
				(s64)(i << order));
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), -ENOMEM);
	/* Free every other block: nothing can coalesce. */
	for (i = 0; i < blocks; i += 2)
		KUNIT_ASSERT_EQ(test, buddy_core_free(bc, i << order, order), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, order), blocks / 2);
	KUNIT_EXPECT_EQ(test, buddy_core_largest_order(bc), (int)order);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
	for (i = 1; i < blocks; i += 2)
		KUNIT_ASSERT_EQ(test, buddy_core_free(bc, i << order, order), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, max_order), 1);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
}

/* The reference model: one bit per unit, and the list of live blocks. */
struct model {
	struct buddy_core *bc;
	unsigned int max_order;
	unsigned long *used;
	u64 *offset;
	u8 *order;
	unsigned int live;
	struct rnd_state rnd;
	u64 allocs, frees, enomem, bad_frees;
};

static struct model *make_model(struct kunit *test, unsigned int max_order,
				unsigned int max_live)
{
	struct model *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	u64 units = 1ULL << max_order;

	KUNIT_ASSERT_NOT_NULL(test, m);
	m->bc = make_pool(test, max_order);
	m->max_order = max_order;
	m->used = kunit_kcalloc(test, BITS_TO_LONGS(units), sizeof(long), GFP_KERNEL);
	m->offset = kunit_kcalloc(test, max_live, sizeof(*m->offset), GFP_KERNEL);
	m->order = kunit_kcalloc(test, max_live, sizeof(*m->order), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, m->used);
	KUNIT_ASSERT_NOT_NULL(test, m->offset);
	KUNIT_ASSERT_NOT_NULL(test, m->order);
	prandom_seed_state(&m->rnd, pick_seed(test));
	return m;
}

static bool window_free(const struct model *m, u64 start, unsigned int order)
{
	u64 end = start + (1ULL << order);

	return find_next_bit(m->used, end, start) >= end;
}

/* One random step: alloc (geometric order) or free, checked against the bitmap. */
static void model_step(struct kunit *test, struct model *m)
{
	u32 r = prandom_u32_state(&m->rnd);
	unsigned int order;
	s64 ret;

	if (m->live && (r & 0xff) < 112) {
		unsigned int i = prandom_u32_state(&m->rnd) % m->live;
		u64 off = m->offset[i];

		order = m->order[i];
		/* Now and then an interior or wrong-order free first. */
		if (order && (r & 0x700) == 0) {
			KUNIT_ASSERT_EQ(test, buddy_core_free(m->bc, off + 1, 0), -EINVAL);
			KUNIT_ASSERT_EQ(test, buddy_core_free(m->bc, off, order - 1), -EINVAL);
			m->bad_frees += 2;
		}
		KUNIT_ASSERT_EQ(test, buddy_core_free(m->bc, off, order), 0);
		bitmap_clear(m->used, off, 1U << order);
		m->live--;
		m->offset[i] = m->offset[m->live];
		m->order[i] = m->order[m->live];
		m->frees++;
		return;
	}
	/* P(order = k) = 2^-(k+1): mostly small blocks, now and then large. */
	order = min_t(unsigned int, __ffs(prandom_u32_state(&m->rnd) | BIT(31)),
		      m->max_order);
	ret = buddy_core_alloc(m->bc, order, 0);
	if (ret == -ENOMEM) {
		u64 start;

		for (start = 0; start < (1ULL << m->max_order); start += 1ULL << order)
			KUNIT_ASSERT_FALSE_MSG(test, window_free(m, start, order),
					       "-ENOMEM with %llu..+2^%u free", start, order);
		m->enomem++;
		return;
	}
	KUNIT_ASSERT_GE(test, ret, 0);
	KUNIT_ASSERT_EQ(test, ret & ((1LL << order) - 1), 0);
	KUNIT_ASSERT_LE(test, (u64)ret + (1ULL << order), 1ULL << m->max_order);
	KUNIT_ASSERT_TRUE_MSG(test, window_free(m, ret, order),
			      "block %lld order %u overlaps a live block", ret, order);
	bitmap_set(m->used, ret, 1U << order);
	m->offset[m->live] = ret;
	m->order[m->live] = order;
	m->live++;
	m->allocs++;
}

/* The free blocks per order that full coalescing implies, from the bitmap. */
static void expect_model_nr_free(struct kunit *test, const struct model *m)
{
	unsigned int order;

	for (order = 0; order <= m->max_order; order++) {
		u64 start, count = 0;

		for (start = 0; start < (1ULL << m->max_order); start += 1ULL << order) {
			u64 parent = start & ~((2ULL << order) - 1);

			if (window_free(m, start, order) &&
			    (order == m->max_order || !window_free(m, parent, order + 1)))
				count++;
		}
		KUNIT_EXPECT_EQ_MSG(test, buddy_core_nr_free(m->bc, order), count,
				    "order %u", order);
	}
}

/* 200k operations on 4096 units, every answer checked against the model. */
static void random_model_test(struct kunit *test)
{
	const unsigned int max_order = 12, ops = 200000;
	struct model *m = make_model(test, max_order, 1U << max_order);
	unsigned int i;

	for (i = 0; i < ops; i++) {
		model_step(test, m);
		if (i % 4096 == 0) {
			KUNIT_ASSERT_EQ(test, buddy_core_free_units(m->bc),
					(1ULL << max_order) -
					bitmap_weight(m->used, 1U << max_order));
			KUNIT_ASSERT_EQ(test, buddy_core_check(m->bc), 0);
		}
	}
	expect_model_nr_free(test, m);
	KUNIT_EXPECT_EQ(test, buddy_core_check(m->bc), 0);
	kunit_info(test, "%llu allocs, %llu frees, %llu -ENOMEM, %llu rejected frees\n",
		   m->allocs, m->frees, m->enomem, m->bad_frees);
	/* The mix must have exercised both full and fragmented states. */
	KUNIT_EXPECT_GT(test, m->enomem, 0);
	KUNIT_EXPECT_GT(test, m->bad_frees, 0);
}

/* A smaller run with the invariant checker and the model after every step. */
static void random_checked_test(struct kunit *test)
{
	const unsigned int max_order = 6, ops = 20000;
	struct model *m = make_model(test, max_order, 1U << max_order);
	unsigned int i;

	for (i = 0; i < ops; i++) {
		model_step(test, m);
		KUNIT_ASSERT_EQ(test, buddy_core_check(m->bc), 0);
		KUNIT_ASSERT_EQ(test, buddy_core_free_units(m->bc),
				(1ULL << max_order) -
				bitmap_weight(m->used, 1U << max_order));
		if (i % 64 == 0)
			expect_model_nr_free(test, m);
	}
	/* Free everything left: the pool must coalesce back to one block. */
	while (m->live) {
		m->live--;
		KUNIT_ASSERT_EQ(test, buddy_core_free(m->bc, m->offset[m->live],
						      m->order[m->live]), 0);
	}
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(m->bc, max_order), 1);
	KUNIT_EXPECT_EQ(test, buddy_core_check(m->bc), 0);
}

static struct kunit_case buddy_core_cases[] = {
	KUNIT_CASE(node_type_signed_test),
	KUNIT_CASE(meta_size_test),
	KUNIT_CASE(init_invalid_test),
	KUNIT_CASE(order0_pool_test),
	KUNIT_CASE(alloc_invalid_test),
	KUNIT_CASE(alloc_enomem_test),
	KUNIT_CASE(free_range_test),
	KUNIT_CASE(free_interior_test),
	KUNIT_CASE(double_free_test),
	KUNIT_CASE(free_wrong_order_test),
	KUNIT_CASE(free_misaligned_test),
	KUNIT_CASE(order_for_test),
	KUNIT_CASE(meta_bounds_test),
	KUNIT_CASE_PARAM(fill_drain_test, fill_gen_params),
	KUNIT_CASE(coalesce_test),
	KUNIT_CASE(queries_test),
	KUNIT_CASE(best_fit_test),
	KUNIT_CASE(check_detects_test),
	{}
};

static struct kunit_suite buddy_core_suite = {
	.name = "buddy_core",
	.test_cases = buddy_core_cases,
};

static struct kunit_case buddy_core_stress_cases[] = {
	KUNIT_CASE_SLOW(large_pool_test),
	KUNIT_CASE_SLOW(random_model_test),
	KUNIT_CASE_SLOW(random_checked_test),
	{}
};

static struct kunit_suite buddy_core_stress_suite = {
	.name = "buddy_core_stress",
	.test_cases = buddy_core_stress_cases,
};

kunit_test_suites(&buddy_core_suite, &buddy_core_stress_suite);

MODULE_DESCRIPTION("KUnit tests for the buddy allocator core");
MODULE_LICENSE("GPL");
