// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the allocator cores: buddy_core (bitmap) and buddy_tree
 * (tree).
 *
 * The tests of the contract take their core as a parameter (struct
 * core_param, through KUNIT_ARRAY_PARAM) and call it through its ops table,
 * so one case runs on both cores; those that read the bitmaps or the tree's
 * nodes are the core's own.  The randomised tests log their seed; load the
 * module with seed=N to replay a failure exactly.  Every test that expects
 * an error also checks that the pool did not change (the meta buffer's
 * bytes and the core's whole state).
 *
 * Some tests read or plant bits in the maps directly, through the layout
 * buddy_core.h documents: for order k, bc->maps[k * stride + l] is level l
 * of the free map (l = 0..top[k]) and bc->maps[k * stride + stride - 1] the
 * alloc map.
 */
#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/limits.h>
#include <linux/math.h>
#include <linux/module.h>
#include <linux/prandom.h>
#include <linux/random.h>
#include <linux/slab.h>

#include "../buddy_core.h"
#include "../buddy_tree.h"

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
	/* kvmalloc() aligns to at least 8 bytes, as init requires. */
	meta = kvmalloc(size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, meta);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kvfree_action, meta), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_init(bc, max_order, meta, size), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_check(bc), 0);
	return bc;
}

/* The core a case runs on, and the pool order of cases that vary it. */
struct core_param {
	const struct buddy_core_ops *ops;
	unsigned int order;
};

static const struct core_param core_params[] = {
	{ &buddy_core_bitmap_ops, 0 }, { &buddy_tree_ops, 0 },
};

static void core_desc(const struct core_param *p, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s", p->ops->name);
}

static void core_order_desc(const struct core_param *p, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s, max_order %u", p->ops->name,
		 p->order);
}

KUNIT_ARRAY_PARAM(cores, core_params, core_desc);

static const struct core_param *test_param(struct kunit *test)
{
	return test->param_value;
}

/* A pool of the case's core, used through its ops table. */
struct kpool {
	const struct buddy_core_ops *ops;
	void *core;
	void *meta;
	size_t size;
};

static struct kpool *make_kpool(struct kunit *test, unsigned int max_order)
{
	struct kpool *p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	p->ops = test_param(test)->ops;
	p->size = p->ops->meta_size(max_order);
	KUNIT_ASSERT_GT(test, p->size, 0);
	p->core = kunit_kzalloc(test, p->ops->state_size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p->core);
	p->meta = kvmalloc(p->size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p->meta);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kvfree_action, p->meta), 0);
	KUNIT_ASSERT_EQ(test, p->ops->init(p->core, max_order, p->meta, p->size), 0);
	KUNIT_ASSERT_EQ(test, p->ops->check(p->core), 0);
	return p;
}

static s64 kp_alloc(struct kpool *p, unsigned int order, unsigned int flags)
{
	return p->ops->alloc(p->core, order, flags);
}

static s64 kp_alloc_req(struct kpool *p, u64 units, unsigned int flags,
			u64 start, u64 end)
{
	struct buddy_core_req req = {
		.units = units, .flags = flags, .start = start, .end = end,
	};

	return p->ops->alloc_req(p->core, &req);
}

static int kp_free(struct kpool *p, u64 offset, unsigned int order)
{
	return p->ops->free(p->core, offset, order);
}

static int kp_free_extent(struct kpool *p, u64 offset, u64 units)
{
	return p->ops->free_extent(p->core, offset, units);
}

static int kp_check(const struct kpool *p)
{
	return p->ops->check(p->core);
}

static unsigned int kp_max_order(const struct kpool *p)
{
	return p->ops->max_order(p->core);
}

static u64 kp_free_units(const struct kpool *p)
{
	return p->ops->free_units(p->core);
}

static int kp_largest_order(const struct kpool *p)
{
	return p->ops->largest_order(p->core);
}

static u64 kp_nr_free(const struct kpool *p, unsigned int order)
{
	return p->ops->nr_free(p->core, order);
}

/* Level @level of the free map of @order. */
static u64 *free_words(const struct buddy_core *bc, unsigned int order,
		       unsigned int level)
{
	return bc->maps[(size_t)order * bc->stride + level];
}

/* The alloc map of @order. */
static u64 *alloc_words(const struct buddy_core *bc, unsigned int order)
{
	return bc->maps[(size_t)order * bc->stride + bc->stride - 1];
}

static bool test_word_bit(const u64 *words, u64 index)
{
	return words[index / 64] & BIT_ULL(index % 64);
}

/*
 * A copy of a pool's whole state, to prove a failed call changed nothing.
 * The meta buffer holds pointers into itself, so compare it only with the
 * same pool's buffer.
 */
struct snapshot {
	void *core;
	void *meta;
};

static struct snapshot *take_snapshot(struct kunit *test, const struct kpool *p)
{
	struct snapshot *snap = kunit_kzalloc(test, sizeof(*snap), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, snap);
	snap->meta = kvmalloc(p->size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, snap->meta);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kvfree_action, snap->meta), 0);
	snap->core = kunit_kmalloc(test, p->ops->state_size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, snap->core);
	memcpy(snap->meta, p->meta, p->size);
	/* memcpy: padding too, for the memcmp below. */
	memcpy(snap->core, p->core, p->ops->state_size);
	return snap;
}

static void expect_unchanged(struct kunit *test, const struct kpool *p,
			     const struct snapshot *snap)
{
	KUNIT_EXPECT_EQ(test, memcmp(p->meta, snap->meta, p->size), 0);
	KUNIT_EXPECT_EQ(test, memcmp(p->core, snap->core, p->ops->state_size), 0);
	KUNIT_EXPECT_EQ(test, kp_check(p), 0);
}

static u64 pick_seed(struct kunit *test)
{
	u64 s = seed ? seed : get_random_u64();

	kunit_info(test, "seed %llu (replay with seed=%llu)\n", s, s);
	return s;
}

static void meta_size_test(struct kunit *test)
{
	size_t size, prev = 0;
	unsigned int order;

	/*
	 * A table of 8-byte slots, (levels + 2) per order: free-map levels,
	 * the sentinel, the alloc map; then one sentinel word and the maps.
	 * Order 0: 3 slots, sentinel, free and alloc word.
	 */
	KUNIT_EXPECT_EQ(test, buddy_core_meta_size(0), 48);
	KUNIT_EXPECT_EQ(test, buddy_core_meta_size(1), 88);
	/* 11 orders x 4 slots, 1 + 78 words (summaries for orders 0..3). */
	KUNIT_EXPECT_EQ(test, buddy_core_meta_size(10), 984);
	KUNIT_EXPECT_EQ(test, buddy_core_meta_size(30), 541133744);
	for (order = 0; order <= BUDDY_CORE_MAX_ORDER; order++) {
		size = buddy_core_meta_size(order);
		/* Only a 32-bit size_t may refuse a supported order. */
		if (!size && sizeof(size_t) < sizeof(u64))
			break;
		KUNIT_EXPECT_EQ_MSG(test, size % 8, 0, "order %u", order);
		KUNIT_EXPECT_GT_MSG(test, size, prev, "order %u", order);
		/* Tiny pools pay a fixed table; past that, a byte a unit... */
		if (order < 10)
			KUNIT_EXPECT_LE_MSG(test, size, 1024, "order %u", order);
		else
			KUNIT_EXPECT_LE_MSG(test, (u64)size, 1ULL << order,
					    "order %u", order);
		/* ...and about half a byte a unit for large pools. */
		if (order >= 15)
			KUNIT_EXPECT_LE_MSG(test, (u64)size,
					    (1ULL << order) / 2 + (1ULL << order) / 32,
					    "order %u", order);
		prev = size;
	}
	KUNIT_EXPECT_EQ(test, buddy_core_meta_size(BUDDY_CORE_MAX_ORDER + 1), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_meta_size(UINT_MAX), 0);
}

static void init_invalid_test(struct kunit *test)
{
	struct buddy_core *bc, *before;
	size_t size = buddy_core_meta_size(3);
	unsigned int off, i;
	u8 *buf;

	bc = kunit_kzalloc(test, sizeof(*bc), GFP_KERNEL);
	before = kunit_kzalloc(test, sizeof(*before), GFP_KERNEL);
	buf = kunit_kmalloc(test, size + 8, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, bc);
	KUNIT_ASSERT_NOT_NULL(test, before);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_EQ(test, (uintptr_t)buf % 8, 0);
	memset(bc, 0x5a, sizeof(*bc));
	memcpy(before, bc, sizeof(*bc));
	memset(buf, 0xa5, size + 8);

	KUNIT_EXPECT_EQ(test, buddy_core_init(bc, 3, NULL, size), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_init(bc, 3, buf, size - 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_init(bc, 3, buf, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_init(bc, BUDDY_CORE_MAX_ORDER + 1,
					      buf, SIZE_MAX), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_core_init(bc, UINT_MAX, buf, SIZE_MAX), -EINVAL);
	/* The words need 8-byte alignment, even with room to spare. */
	for (off = 1; off < 8; off++)
		KUNIT_EXPECT_EQ_MSG(test, buddy_core_init(bc, 3, buf + off, size + 8 - off),
				    -EINVAL, "offset %u", off);
	KUNIT_EXPECT_EQ(test, memcmp(bc, before, sizeof(*bc)), 0);
	/* A refused buffer is not written either. */
	for (i = 0; i < size + 8; i++)
		KUNIT_EXPECT_EQ(test, buf[i], 0xa5);

	KUNIT_EXPECT_EQ(test, buddy_core_init(bc, 3, buf, size), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_free_units(bc), 8);
	KUNIT_EXPECT_EQ(test, buddy_core_largest_order(bc), 3);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
	/* A larger buffer than needed is fine. */
	KUNIT_EXPECT_EQ(test, buddy_core_init(bc, 3, buf, size + 8), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
}

/* The smallest pool: one unit, and one bit in each of its two maps. */
static void order0_pool_test(struct kunit *test)
{
	struct kpool *bc = make_kpool(test, 0);
	struct snapshot *snap;

	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_largest_order(bc), -ENOMEM);
	KUNIT_EXPECT_EQ(test, kp_free_units(bc), 0);
	KUNIT_EXPECT_EQ(test, kp_check(bc), 0);
	snap = take_snapshot(test, bc);
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 0, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 1, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 1, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 0, 1), -EINVAL);
	expect_unchanged(test, bc, snap);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, 0), 1);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_check(bc), 0);
}

static void alloc_invalid_test(struct kunit *test)
{
	struct kpool *bc = make_kpool(test, 4);
	struct snapshot *snap;
	unsigned int bit;

	KUNIT_ASSERT_EQ(test, kp_alloc(bc, 1, 0), 0);
	snap = take_snapshot(test, bc);
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 5, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, UINT_MAX, 0), -EINVAL);
	/* Bit 0 is TOPDOWN; alloc() takes no other flag. */
	for (bit = 1; bit < 32; bit++)
		KUNIT_EXPECT_EQ(test, kp_alloc(bc, 0, 1U << bit), -EINVAL);
	expect_unchanged(test, bc, snap);
}

static void alloc_enomem_test(struct kunit *test)
{
	struct kpool *bc = make_kpool(test, 4);
	struct snapshot *snap;

	KUNIT_ASSERT_EQ(test, kp_alloc(bc, 3, 0), 0);
	KUNIT_ASSERT_EQ(test, kp_alloc(bc, 2, 0), 8);
	KUNIT_ASSERT_EQ(test, kp_alloc(bc, 1, 0), 12);
	snap = take_snapshot(test, bc);
	/* 2 units free, but no free block of order 2 or more. */
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 2, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 4, 0), -ENOMEM);
	expect_unchanged(test, bc, snap);
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 1, 0), 14);
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 0, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, kp_largest_order(bc), -ENOMEM);
}

/* Seed defect 2: the bound is 2^max_order units, not max_order. */
static void free_range_test(struct kunit *test)
{
	struct kpool *bc = make_kpool(test, 4);
	struct snapshot *snap;
	unsigned int i;

	for (i = 0; i < 16; i++)
		KUNIT_ASSERT_EQ(test, kp_alloc(bc, 0, 0), (s64)i);
	snap = take_snapshot(test, bc);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 16, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 1ULL << 40, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free(bc, U64_MAX, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free(bc, (1ULL << 63) + 15, 0), -EINVAL);
	expect_unchanged(test, bc, snap);
	/* Offsets at and above max_order (4) are valid. */
	KUNIT_EXPECT_EQ(test, kp_free(bc, 15, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 5, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 4, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, 1), 1);
	KUNIT_EXPECT_EQ(test, kp_check(bc), 0);
}

/* Seed defect 3: an offset inside a block must not free the block. */
static void free_interior_test(struct kunit *test)
{
	struct kpool *bc = make_kpool(test, 4);
	struct snapshot *snap;
	unsigned int order;
	u64 off;

	KUNIT_ASSERT_EQ(test, kp_alloc(bc, 3, 0), 0);
	snap = take_snapshot(test, bc);
	for (off = 1; off < 8; off++)
		for (order = 0; order <= 4; order++)
			KUNIT_EXPECT_EQ(test, kp_free(bc, off, order), -EINVAL);
	expect_unchanged(test, bc, snap);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 0, 3), 0);
}

/* Seed defect 4: double frees, and frees when the pool is one block. */
static void double_free_test(struct kunit *test)
{
	struct kpool *bc = make_kpool(test, 4);
	struct snapshot *snap;
	unsigned int order;

	KUNIT_ASSERT_EQ(test, kp_alloc(bc, 1, 0), 0);
	KUNIT_ASSERT_EQ(test, kp_alloc(bc, 1, 0), 2);
	KUNIT_ASSERT_EQ(test, kp_free(bc, 2, 1), 0);
	snap = take_snapshot(test, bc);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 2, 1), -EINVAL);
	/* Never allocated, and already coalesced into a larger free block. */
	KUNIT_EXPECT_EQ(test, kp_free(bc, 8, 3), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 4, 2), -EINVAL);
	expect_unchanged(test, bc, snap);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 0, 1), 0);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 0, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 0, 4), -EINVAL);

	/* The whole pool as one block: no other (offset, order) frees it. */
	KUNIT_ASSERT_EQ(test, kp_alloc(bc, 4, 0), 0);
	snap = take_snapshot(test, bc);
	for (order = 0; order < 4; order++) {
		KUNIT_EXPECT_EQ(test, kp_free(bc, 0, order), -EINVAL);
		KUNIT_EXPECT_EQ(test, kp_free(bc, 8, order), -EINVAL);
		KUNIT_EXPECT_EQ(test, kp_free(bc, 15, order), -EINVAL);
	}
	expect_unchanged(test, bc, snap);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 0, 4), 0);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 0, 4), -EINVAL);
}

static void free_wrong_order_test(struct kunit *test)
{
	struct kpool *bc = make_kpool(test, 5);
	struct snapshot *snap;

	KUNIT_ASSERT_EQ(test, kp_alloc(bc, 2, 0), 0);
	snap = take_snapshot(test, bc);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 0, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 0, 3), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 0, 5), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 0, 6), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 0, UINT_MAX), -EINVAL);
	expect_unchanged(test, bc, snap);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 0, 2), 0);
}

static void free_misaligned_test(struct kunit *test)
{
	struct kpool *bc = make_kpool(test, 5);
	struct snapshot *snap;

	KUNIT_ASSERT_EQ(test, kp_alloc(bc, 2, 0), 0);
	KUNIT_ASSERT_EQ(test, kp_alloc(bc, 2, 0), 4);
	snap = take_snapshot(test, bc);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 2, 2), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 6, 2), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 4, 3), -EINVAL);
	expect_unchanged(test, bc, snap);
}

/*
 * Seed defect 5 was a tree of plain char, unsigned in the kernel, so its
 * negative markers read as large orders.  The maps' words must be unsigned
 * 64-bit, and bit 63, the one a signed or 32-bit type gets wrong, must work
 * like any other: in the free and alloc maps and in a summary word.
 */
static void map_word_bits_test(struct kunit *test)
{
	const unsigned int max_order = 12;
	struct buddy_core *bc = make_pool(test, max_order);
	u64 units = 1ULL << max_order, i;

	KUNIT_EXPECT_EQ(test, sizeof(**bc->maps), 8);
	KUNIT_EXPECT_FALSE(test, is_signed_type(typeof(**bc->maps)));

	for (i = 0; i < units; i++)
		KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 0, 0), (s64)i);
	for (i = 0; i < units / 64; i++)
		KUNIT_EXPECT_EQ(test, alloc_words(bc, 0)[i], U64_MAX);
	/* 63 and 4095: bit 63 of the first and of the last word. */
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, units - 1, 0), 0);
	KUNIT_EXPECT_EQ(test, free_words(bc, 0, 0)[units / 64 - 1], BIT_ULL(63));
	KUNIT_EXPECT_EQ(test, alloc_words(bc, 0)[units / 64 - 1], ~BIT_ULL(63));
	KUNIT_EXPECT_TRUE(test, test_word_bit(free_words(bc, 0, 1), 63));
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 63, 0), 0);
	KUNIT_EXPECT_EQ(test, free_words(bc, 0, 0)[0], BIT_ULL(63));
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
	/* Lowest first: a sign-extended bit 63 would not sort last. */
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), 63);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), (s64)units - 1);
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

/* Each order on each core. */
#define BITMAP	(&buddy_core_bitmap_ops)
#define TREE	(&buddy_tree_ops)

static const struct core_param bounds_params[] = {
	{ BITMAP, 0 }, { TREE, 0 },
	{ BITMAP, 1 }, { TREE, 1 },
	{ BITMAP, 6 }, { TREE, 6 },
	{ BITMAP, 7 }, { TREE, 7 },
	{ BITMAP, 8 }, { TREE, 8 },
	{ BITMAP, 13 }, { TREE, 13 },
};

KUNIT_ARRAY_PARAM(bounds, bounds_params, core_order_desc);

/*
 * Every map buddy_core.h describes lies inside the buffer, after the
 * pointer table, 8-byte aligned, and apart from every other map; its words
 * follow from the layout: 2^(max_order - k) bits at level 0 of order k, one
 * bit per word below at each summary level, up to a single top word.
 */
static void expect_maps_inside(struct kunit *test, const struct buddy_core *bc,
			       size_t size)
{
	size_t table = (size_t)(bc->max_order + 1) * bc->stride * sizeof(*bc->maps);
	uintptr_t start = (uintptr_t)bc->maps;
	unsigned long *claimed;
	unsigned int order, l;

	claimed = kunit_kcalloc(test, BITS_TO_LONGS(size / 8), sizeof(long),
				GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, claimed);
	for (order = 0; order <= bc->max_order; order++) {
		u64 level0 = 1ULL << (bc->max_order - order), bits = level0;
		unsigned int top = bc->top[order];

		KUNIT_ASSERT_LT(test, top + 1, bc->stride);
		/* Levels 0..top of the free map, then the alloc map. */
		for (l = 0; l <= top + 1; l++) {
			bool is_alloc = l > top;
			u64 *words = is_alloc ? alloc_words(bc, order) :
						free_words(bc, order, l);
			u64 nr = DIV_ROUND_UP_ULL(is_alloc ? level0 : bits, 64);
			uintptr_t off = (uintptr_t)words - start;

			KUNIT_ASSERT_EQ_MSG(test, off % 8, 0, "order %u level %u", order, l);
			KUNIT_ASSERT_GE_MSG(test, off, table, "order %u level %u", order, l);
			KUNIT_ASSERT_LE_MSG(test, off + nr * 8, size,
					    "order %u level %u", order, l);
			KUNIT_ASSERT_GE_MSG(test, find_next_bit(claimed, off / 8 + nr, off / 8),
					    off / 8 + nr, "order %u level %u overlaps", order, l);
			bitmap_set(claimed, off / 8, nr);
			if (l == top)
				KUNIT_EXPECT_EQ_MSG(test, nr, 1, "order %u top", order);
			else if (l < top)
				KUNIT_EXPECT_GT_MSG(test, nr, 1, "order %u level %u", order, l);
			bits = nr;
		}
	}
}

/*
 * Seed defect 1: the maps stay inside the buffer buddy_core_meta_size()
 * asks for.  Allocating and freeing every block of every order writes every
 * map; guards on both sides catch a write outside.
 */
static void meta_bounds_test(struct kunit *test)
{
	const struct core_param *prm = test_param(test);
	const struct buddy_core_ops *ops = prm->ops;
	unsigned int max_order = prm->order;
	size_t size = ops->meta_size(max_order), i;
	const unsigned int guard = 64;	/* a multiple of 8: keeps alignment */
	unsigned int order;
	void *bc;
	u8 *buf;

	bc = kunit_kzalloc(test, ops->state_size, GFP_KERNEL);
	buf = kunit_kmalloc(test, size + 2 * guard, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, bc);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	memset(buf, 0xa5, size + 2 * guard);
	KUNIT_ASSERT_EQ(test, ops->init(bc, max_order, buf + guard, size), 0);
	if (ops == &buddy_core_bitmap_ops)
		expect_maps_inside(test, bc, size);
	for (order = 0; order <= max_order; order++) {
		u64 n = 1ULL << (max_order - order), j;

		for (j = 0; j < n; j++)
			KUNIT_ASSERT_EQ(test, ops->alloc(bc, order, 0),
					(s64)(j << order));
		KUNIT_ASSERT_EQ(test, ops->alloc(bc, 0, 0), -ENOMEM);
		/* XOR by a constant permutes 0..n-1: a scattered free order. */
		for (j = 0; j < n; j++)
			KUNIT_ASSERT_EQ(test, ops->free(bc, ((j ^ 0x2a) & (n - 1))
							<< order, order), 0);
		KUNIT_ASSERT_EQ(test, ops->nr_free(bc, max_order), 1);
		KUNIT_ASSERT_EQ(test, ops->check(bc), 0);
	}
	KUNIT_EXPECT_EQ(test, ops->alloc(bc, max_order, 0), 0);
	for (i = 0; i < guard; i++) {
		KUNIT_EXPECT_EQ(test, buf[i], 0xa5);
		KUNIT_EXPECT_EQ(test, buf[guard + size + i], 0xa5);
	}
}

/* 13: three levels of summaries in the order-0 map. */
static const struct core_param fill_params[] = {
	{ BITMAP, 0 }, { TREE, 0 },
	{ BITMAP, 1 }, { TREE, 1 },
	{ BITMAP, 2 }, { TREE, 2 },
	{ BITMAP, 7 }, { TREE, 7 },
	{ BITMAP, 12 }, { TREE, 12 },
	{ BITMAP, 13 }, { TREE, 13 },
};

KUNIT_ARRAY_PARAM(fill, fill_params, core_order_desc);

/* Exhaust with single units, then free in random order: back to one block. */
static void fill_drain_test(struct kunit *test)
{
	unsigned int max_order = test_param(test)->order;
	struct kpool *bc = make_kpool(test, max_order);
	u64 units = 1ULL << max_order, i;
	struct rnd_state rnd;
	u64 *order;

	prandom_seed_state(&rnd, pick_seed(test));
	order = kunit_kmalloc_array(test, units, sizeof(*order), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, order);
	for (i = 0; i < units; i++) {
		KUNIT_ASSERT_EQ(test, kp_alloc(bc, 0, 0), (s64)i);
		order[i] = i;
	}
	KUNIT_EXPECT_EQ(test, kp_free_units(bc), 0);
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 0, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, kp_check(bc), 0);

	/* Fisher-Yates shuffle of the free order. */
	for (i = units - 1; i > 0; i--) {
		u64 j = prandom_u32_state(&rnd) % (i + 1);

		swap(order[i], order[j]);
	}
	for (i = 0; i < units; i++)
		KUNIT_ASSERT_EQ(test, kp_free(bc, order[i], 0), 0);
	KUNIT_EXPECT_EQ(test, kp_free_units(bc), units);
	KUNIT_EXPECT_EQ(test, kp_largest_order(bc), (int)max_order);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, max_order), 1);
	KUNIT_EXPECT_EQ(test, kp_check(bc), 0);
}

/* Every free of a unit coalesces as far as the buddies allow. */
static void coalesce_test(struct kunit *test)
{
	struct kpool *bc = make_kpool(test, 3);
	unsigned int i;

	for (i = 0; i < 8; i++)
		KUNIT_ASSERT_EQ(test, kp_alloc(bc, 0, 0), (s64)i);
	KUNIT_ASSERT_EQ(test, kp_free(bc, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, 0), 1);
	KUNIT_ASSERT_EQ(test, kp_free(bc, 1, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, 1), 1);
	KUNIT_ASSERT_EQ(test, kp_free(bc, 3, 0), 0);
	KUNIT_ASSERT_EQ(test, kp_free(bc, 2, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, 1), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, 2), 1);
	KUNIT_EXPECT_EQ(test, kp_largest_order(bc), 2);
	/* A merged block is allocatable as one. */
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 2, 0), 0);
	KUNIT_ASSERT_EQ(test, kp_free(bc, 0, 2), 0);
	for (i = 4; i < 8; i++)
		KUNIT_ASSERT_EQ(test, kp_free(bc, i, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, 2), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, 3), 1);
	KUNIT_EXPECT_EQ(test, kp_largest_order(bc), 3);
	KUNIT_EXPECT_EQ(test, kp_check(bc), 0);
}

static void queries_test(struct kunit *test)
{
	struct kpool *bc = make_kpool(test, 6);

	KUNIT_EXPECT_EQ(test, kp_max_order(bc), 6);
	KUNIT_EXPECT_EQ(test, kp_free_units(bc), 64);
	KUNIT_EXPECT_EQ(test, kp_largest_order(bc), 6);
	KUNIT_ASSERT_EQ(test, kp_alloc(bc, 0, 0), 0);
	/* One unit out of 64 leaves one free block of each order 0..5. */
	KUNIT_EXPECT_EQ(test, kp_free_units(bc), 63);
	KUNIT_EXPECT_EQ(test, kp_largest_order(bc), 5);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, 0), 1);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, 3), 1);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, 5), 1);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, 6), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, 7), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, UINT_MAX), 0);
	KUNIT_ASSERT_EQ(test, kp_alloc(bc, 5, 0), 32);
	KUNIT_EXPECT_EQ(test, kp_largest_order(bc), 4);
	KUNIT_EXPECT_EQ(test, kp_free_units(bc), 31);
}

/*
 * Seed defect 7: with a large free block on the left and an exact fit on the
 * right, the exact fit is taken and the large block kept: the smallest order
 * that fits wins over a lower address.
 */
static void best_fit_test(struct kunit *test)
{
	struct kpool *bc = make_kpool(test, 3);

	KUNIT_ASSERT_EQ(test, kp_alloc(bc, 2, 0), 0);
	KUNIT_ASSERT_EQ(test, kp_alloc(bc, 0, 0), 4);
	KUNIT_ASSERT_EQ(test, kp_alloc(bc, 0, 0), 5);
	KUNIT_ASSERT_EQ(test, kp_alloc(bc, 1, 0), 6);
	KUNIT_ASSERT_EQ(test, kp_free(bc, 0, 2), 0);
	KUNIT_ASSERT_EQ(test, kp_free(bc, 4, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 0, 0), 4);
	KUNIT_EXPECT_EQ(test, kp_largest_order(bc), 2);
	KUNIT_EXPECT_EQ(test, kp_check(bc), 0);
}

/*
 * The policy in full: among free blocks of the smallest order that fits,
 * the lowest-addressed one, whatever the order they were freed in; a split
 * keeps the left half and frees the right one.
 */
static void lowest_first_test(struct kunit *test)
{
	struct kpool *bc = make_kpool(test, 5);
	unsigned int i;

	for (i = 0; i < 8; i++)
		KUNIT_ASSERT_EQ(test, kp_alloc(bc, 2, 0), 4 * i);
	/* Free order-2 blocks at 4, 12, 20, freed high to low... */
	KUNIT_ASSERT_EQ(test, kp_free(bc, 20, 2), 0);
	KUNIT_ASSERT_EQ(test, kp_free(bc, 4, 2), 0);
	KUNIT_ASSERT_EQ(test, kp_free(bc, 12, 2), 0);
	/* ...the lowest goes first, not the last freed. */
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 2, 0), 4);
	KUNIT_ASSERT_EQ(test, kp_free(bc, 28, 2), 0);
	/* Order 2 at 12, 20, 28: split 12, keeping 12 and freeing 14. */
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 1, 0), 12);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, 1), 1);
	/* The order-1 block at 14 fits a unit better than order 2 at 20. */
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 0, 0), 14);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, 0), 1);
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 1, 0), 20);
	/* Order 2 at 0 is lower, but order 1 at 22 is smaller. */
	KUNIT_ASSERT_EQ(test, kp_free(bc, 0, 2), 0);
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 1, 0), 22);
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 0, 0), 15);
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 2, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 2, 0), 28);
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 0, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, kp_check(bc), 0);
}

/*
 * A summary bit may stay set over a word that emptied (buddy_core.h): alloc
 * must step over such bits, at every level, and check accept them.  Order 0
 * of a 2^13-unit pool has three levels: 128 words, 2, then the top word.
 * Only bits the core leaves itself: which ones it may leave is its own
 * business, so none is planted.
 */
static void stale_summary_test(struct kunit *test)
{
	const unsigned int max_order = 13;
	struct buddy_core *bc = make_pool(test, max_order);
	u64 units = 1ULL << max_order, i;

	KUNIT_ASSERT_EQ(test, bc->top[0], 2);
	for (i = 0; i < units; i++)
		KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 0, 0), (s64)i);
	/* Taking 0 empties word 0 and level-1 word 0 below it. */
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 0, 0), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, units - 1, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
	/* The search climbs from word 0 to the top and down to word 127. */
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), (s64)units - 1);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), -ENOMEM);

	/* Emptied words at both ends, then blocks in between found again. */
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, units - 1, 0), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 64, 0), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 4096, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), 64);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 130, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), 130);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), 4096);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 1, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), 1);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), (s64)units - 1);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
}

#define TOPDOWN	BUDDY_CORE_ALLOC_TOPDOWN
#define RANGE	BUDDY_CORE_ALLOC_RANGE
#define EXACT	BUDDY_CORE_ALLOC_EXACT

/* TOPDOWN: the highest block of the smallest order that fits. */
static void topdown_test(struct kunit *test)
{
	struct kpool *p = make_kpool(test, 6);

	KUNIT_ASSERT_EQ(test, kp_alloc(p, 0, TOPDOWN), 63);
	KUNIT_ASSERT_EQ(test, kp_alloc_req(p, 1, TOPDOWN, 0, 0), 62);
	/* Free now: 0-31, 32-47, 48-55, 56-59, 60-61; order 2 fits 56-59. */
	KUNIT_EXPECT_EQ(test, kp_alloc(p, 2, TOPDOWN), 56);
	KUNIT_EXPECT_EQ(test, kp_alloc(p, 1, TOPDOWN), 60);
	/* Plain allocations still take the lowest of the smallest order. */
	KUNIT_EXPECT_EQ(test, kp_alloc(p, 0, 0), 48);
	/* Free: 0-31, 32-47, 49, 50-51, 52-55: the unit, not a higher block. */
	KUNIT_EXPECT_EQ(test, kp_alloc(p, 0, TOPDOWN), 49);
	/* No order 3 left: the top half of 32-47, then its bottom half. */
	KUNIT_EXPECT_EQ(test, kp_alloc(p, 3, TOPDOWN), 40);
	KUNIT_EXPECT_EQ(test, kp_alloc(p, 3, TOPDOWN), 32);
	KUNIT_EXPECT_EQ(test, kp_alloc(p, 5, TOPDOWN), 0);
	KUNIT_EXPECT_EQ(test, kp_alloc(p, 4, TOPDOWN), -ENOMEM);
	KUNIT_EXPECT_EQ(test, kp_alloc(p, 2, TOPDOWN), 52);
	KUNIT_EXPECT_EQ(test, kp_check(p), 0);
}

/* RANGE: inside [start, end), split if a free block straddles it. */
static void range_test(struct kunit *test)
{
	struct kpool *p = make_kpool(test, 6);
	struct snapshot *snap;

	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 4, RANGE, 10, 20), 12);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 4, RANGE | TOPDOWN, 10, 20), 16);
	/* 3 units round up to 4; 13..19 holds no aligned 4 now. */
	snap = take_snapshot(test, p);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 3, RANGE, 10, 20), -ENOMEM);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 4, RANGE, 10, 13), -ENOMEM);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 8, RANGE, 9, 24), -ENOMEM);
	expect_unchanged(test, p, snap);
	/* Still room beside them, and in a one-unit range. */
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 2, RANGE, 10, 20), 10);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 1, RANGE, 63, 64), 63);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 1, RANGE | TOPDOWN, 0, 64), 62);
	/* No unit free now: the lowest pair, 8-9 (10-11 went above). */
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 1, RANGE, 0, 64), 8);
	/* The whole pool as the range: the plain choice. */
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 16, RANGE, 0, 64), 32);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 64, RANGE, 0, 64), -ENOMEM);
	KUNIT_EXPECT_EQ(test, kp_check(p), 0);
}

/* EXACT: the extent is exactly the units asked for, the tail free at once. */
static void exact_test(struct kunit *test)
{
	struct kpool *p = make_kpool(test, 6);
	struct snapshot *snap;

	KUNIT_ASSERT_EQ(test, kp_alloc_req(p, 5, EXACT, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_free_units(p), 59);
	/* The tail 5-7 back as 5 (order 0) and 6-7 (order 1). */
	KUNIT_EXPECT_EQ(test, kp_nr_free(p, 0), 1);
	KUNIT_EXPECT_EQ(test, kp_nr_free(p, 1), 1);
	KUNIT_EXPECT_EQ(test, kp_nr_free(p, 2), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(p, 3), 1);
	KUNIT_EXPECT_EQ(test, kp_check(p), 0);
	/* The extent is blocks 0-3 and 4: not 0-7, not 0-4 as one block. */
	snap = take_snapshot(test, p);
	KUNIT_EXPECT_EQ(test, kp_free(p, 0, 3), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free_extent(p, 0, 8), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free_extent(p, 0, 6), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free_extent(p, 1, 4), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free_extent(p, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free_extent(p, 64, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free_extent(p, 60, 5), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free_extent(p, 4, U64_MAX), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_free_extent(p, U64_MAX, 2), -EINVAL);
	expect_unchanged(test, p, snap);
	KUNIT_EXPECT_EQ(test, kp_free_extent(p, 0, 5), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(p, 6), 1);
	KUNIT_EXPECT_EQ(test, kp_free_extent(p, 0, 5), -EINVAL);

	/* A piece freed alone: the extent is no longer whole. */
	KUNIT_ASSERT_EQ(test, kp_alloc_req(p, 7, EXACT, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_free_units(p), 57);
	KUNIT_ASSERT_EQ(test, kp_free(p, 4, 1), 0);
	snap = take_snapshot(test, p);
	KUNIT_EXPECT_EQ(test, kp_free_extent(p, 0, 7), -EINVAL);
	expect_unchanged(test, p, snap);
	KUNIT_EXPECT_EQ(test, kp_free_extent(p, 0, 4), 0);
	KUNIT_EXPECT_EQ(test, kp_free(p, 6, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(p, 6), 1);

	/* With TOPDOWN: the highest block of 8, the extent at its start. */
	KUNIT_ASSERT_EQ(test, kp_alloc_req(p, 5, EXACT | TOPDOWN, 0, 0), 56);
	KUNIT_EXPECT_EQ(test, kp_alloc(p, 0, TOPDOWN), 61);
	KUNIT_EXPECT_EQ(test, kp_alloc(p, 1, TOPDOWN), 62);
	/* All three: a 4-block inside [8, 40), the highest; 3 units of it. */
	KUNIT_ASSERT_EQ(test, kp_alloc_req(p, 3, EXACT | TOPDOWN | RANGE, 8, 40), 36);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 1, RANGE, 36, 40), 39);
	KUNIT_EXPECT_EQ(test, kp_free_units(p), 64 - 5 - 1 - 2 - 3 - 1);
	KUNIT_EXPECT_EQ(test, kp_check(p), 0);
	KUNIT_EXPECT_EQ(test, kp_free_extent(p, 36, 3), 0);
	KUNIT_EXPECT_EQ(test, kp_free(p, 39, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_free_extent(p, 56, 5), 0);
	KUNIT_EXPECT_EQ(test, kp_free(p, 61, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_free_extent(p, 62, 2), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(p, 6), 1);
	/* A power of two with EXACT is the plain block. */
	KUNIT_ASSERT_EQ(test, kp_alloc_req(p, 64, EXACT, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_free(p, 0, 6), 0);
	/*
	 * RANGE with EXACT: the units kept end by the range's end; the rest
	 * of their block may pass it, as it goes back at once.
	 */
	KUNIT_ASSERT_EQ(test, kp_alloc_req(p, 3, EXACT | RANGE, 0, 3), 0);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 3, EXACT | RANGE | TOPDOWN, 4, 11), 4);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 3, EXACT | RANGE, 8, 10), -ENOMEM);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 1, RANGE, 3, 4), 3);
	KUNIT_EXPECT_EQ(test, kp_free_units(p), 64 - 7);
	KUNIT_EXPECT_EQ(test, kp_free_extent(p, 0, 3), 0);
	KUNIT_EXPECT_EQ(test, kp_free_extent(p, 4, 3), 0);
	KUNIT_EXPECT_EQ(test, kp_free(p, 3, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(p, 6), 1);
	KUNIT_EXPECT_EQ(test, kp_check(p), 0);
}

/* Every bad request: -EINVAL, nothing changed. */
static void flags_invalid_test(struct kunit *test)
{
	struct kpool *p = make_kpool(test, 6);
	struct snapshot *snap;
	unsigned int bit;

	KUNIT_ASSERT_EQ(test, kp_alloc(p, 2, 0), 0);
	snap = take_snapshot(test, p);
	for (bit = 3; bit < 32; bit++) {
		KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 1, 1U << bit, 0, 0), -EINVAL);
		KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 1, BIT(bit) | TOPDOWN | RANGE | EXACT,
						   0, 8), -EINVAL);
		KUNIT_EXPECT_EQ(test, kp_alloc(p, 0, 1U << bit), -EINVAL);
	}
	/* alloc() has no fields for RANGE or EXACT. */
	KUNIT_EXPECT_EQ(test, kp_alloc(p, 0, RANGE), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_alloc(p, 0, EXACT), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_alloc(p, 7, TOPDOWN), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 0, 0, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 0, EXACT, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 65, 0, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, U64_MAX, EXACT, 0, 0), -EINVAL);
	/* Ranges: empty, inverted, past the pool, or without the flag. */
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 1, RANGE, 8, 8), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 1, RANGE, 9, 8), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 1, RANGE, 0, 65), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 1, RANGE, 64, 65), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 1, RANGE, 0, U64_MAX), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 1, RANGE | EXACT, U64_MAX - 1,
					   U64_MAX), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 1, 0, 0, 8), -EINVAL);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 1, EXACT | TOPDOWN, 4, 0), -EINVAL);
	/* Well formed, but nothing fits: -ENOMEM, also unchanged. */
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 64, EXACT, 0, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 2, RANGE, 0, 4), -ENOMEM);
	KUNIT_EXPECT_EQ(test, kp_alloc_req(p, 33, EXACT | RANGE, 0, 63), -ENOMEM);
	expect_unchanged(test, p, snap);
	KUNIT_EXPECT_EQ(test, kp_check(p), 0);
}

/* The tree's node @i of order @s, through the layout buddy_tree.h documents. */
static u64 tree_node(const struct buddy_tree *bt, unsigned int s, u64 i)
{
	if (s < BUDDY_TREE_BYTE_LEVELS)
		return ((u8 *)bt->levels[s])[i];
	return ((u64 *)bt->levels[s])[i];
}

static void tree_node_set(struct buddy_tree *bt, unsigned int s, u64 i, u64 v)
{
	if (s < BUDDY_TREE_BYTE_LEVELS)
		((u8 *)bt->levels[s])[i] = v;
	else
		((u64 *)bt->levels[s])[i] = v;
}

/*
 * The tree's encoding (buddy_tree.h), and buddy_tree_check() catching each
 * way a node can lie.  2^10 units: orders 0..7 in bytes, 8..10 in u64.
 * Seed defect 5: the nodes are unsigned, with named values, never char.
 */
static void tree_nodes_test(struct kunit *test)
{
	static const struct { unsigned int s; u64 i, v; const char *what; } bad[] = {
		{ 10, 0, BIT_ULL(10), "root whole with blocks live" },
		{ 9, 0, 0, "a split node missing its children's orders" },
		{ 8, 0, BIT_ULL(7) | 1, "a split node with an order too many" },
		{ 3, 0, 0, "an allocated node read as split-full" },
		{ 2, 2, 0xff, "a byte node out of its orders" },
		{ 0, 0, 1, "a live unit read whole" },
		{ 0, 1, 0, "a free unit read allocated" },
		{ 1, 4, 0, "a node below an allocated block not whole" },
		{ 9, 1, 0, "the free half read split-full" },
	};
	const size_t size = buddy_tree_meta_size(10);
	struct buddy_tree *bt = kunit_kzalloc(test, sizeof(*bt), GFP_KERNEL);
	void *meta = kunit_kmalloc(test, size, GFP_KERNEL);
	unsigned int k;

	KUNIT_ASSERT_NOT_NULL(test, bt);
	KUNIT_ASSERT_NOT_NULL(test, meta);
	KUNIT_EXPECT_FALSE(test, is_signed_type(typeof(buddy_tree_allocated(1))));
	KUNIT_ASSERT_EQ(test, buddy_tree_init(bt, 10, meta, size), 0);
	KUNIT_ASSERT_EQ(test, buddy_tree_alloc(bt, 0, 0), 0);
	KUNIT_ASSERT_EQ(test, buddy_tree_alloc(bt, 3, 0), 8);
	/* Unit 0 allocated (0), unit 1 free (1): their parent holds {0}. */
	KUNIT_EXPECT_EQ(test, tree_node(bt, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, tree_node(bt, 0, 1), 1);
	KUNIT_EXPECT_EQ(test, tree_node(bt, 1, 0), 1);
	KUNIT_EXPECT_EQ(test, tree_node(bt, 3, 1), buddy_tree_allocated(3));
	KUNIT_EXPECT_EQ(test, tree_node(bt, 1, 4), 2);	/* below the live 8: whole */
	KUNIT_EXPECT_EQ(test, tree_node(bt, 9, 1), BIT_ULL(9));
	/* The root: orders 0, 1, 2 (2-3, 4-7), 4 (16-31), 5, ... 9. */
	KUNIT_EXPECT_EQ(test, tree_node(bt, 10, 0), 0x3f7ULL);
	KUNIT_EXPECT_EQ(test, buddy_tree_largest_order(bt), 9);
	for (k = 0; k < ARRAY_SIZE(bad); k++) {
		u64 old = tree_node(bt, bad[k].s, bad[k].i);

		tree_node_set(bt, bad[k].s, bad[k].i, bad[k].v);
		KUNIT_EXPECT_EQ_MSG(test, buddy_tree_check(bt), -EUCLEAN, "%s",
				    bad[k].what);
		tree_node_set(bt, bad[k].s, bad[k].i, old);
		KUNIT_ASSERT_EQ(test, buddy_tree_check(bt), 0);
	}
	bt->nr_free[4]++;
	KUNIT_EXPECT_EQ(test, buddy_tree_check(bt), -EUCLEAN);
	bt->nr_free[4]--;
	bt->free_units--;
	KUNIT_EXPECT_EQ(test, buddy_tree_check(bt), -EUCLEAN);
	bt->free_units++;
	/* A corrupted walk down: the order's bit leads to no whole block. */
	tree_node_set(bt, 9, 1, 0);
	KUNIT_EXPECT_EQ(test, buddy_tree_alloc(bt, 9, 0), -EUCLEAN);
	KUNIT_EXPECT_EQ(test, buddy_tree_free_units(bt), 1023 - 8);
}

/* The tree's buffer size, and init's refusals (seed defect 1). */
static void tree_meta_size_test(struct kunit *test)
{
	size_t size = buddy_tree_meta_size(8);
	struct buddy_tree *bt = kunit_kzalloc(test, sizeof(*bt), GFP_KERNEL);
	u8 *buf = kunit_kmalloc(test, size + 8, GFP_KERNEL);
	unsigned int off;

	KUNIT_ASSERT_NOT_NULL(test, bt);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	/* A byte per node of orders 0..7, 8 bytes per node above. */
	KUNIT_EXPECT_EQ(test, buddy_tree_meta_size(0), 1);
	KUNIT_EXPECT_EQ(test, buddy_tree_meta_size(3), 15);
	KUNIT_EXPECT_EQ(test, size, 510 + 8);
	KUNIT_EXPECT_EQ(test, buddy_tree_meta_size(20), 2088960 + 8 * 8191);
	KUNIT_EXPECT_EQ(test, buddy_tree_meta_size(BUDDY_TREE_MAX_ORDER + 1), 0);
	KUNIT_EXPECT_EQ(test, buddy_tree_init(bt, 8, NULL, size), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_tree_init(bt, 8, buf, size - 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_tree_init(bt, BUDDY_TREE_MAX_ORDER + 1, buf,
					      SIZE_MAX), -EINVAL);
	for (off = 1; off < 8; off++)
		KUNIT_EXPECT_EQ_MSG(test, buddy_tree_init(bt, 8, buf + off, size),
				    -EINVAL, "offset %u", off);
	KUNIT_EXPECT_EQ(test, buddy_tree_init(bt, 8, buf, size), 0);
	KUNIT_EXPECT_EQ(test, buddy_tree_free_units(bt), 256);
	KUNIT_EXPECT_EQ(test, buddy_tree_check(bt), 0);
}

/* Flip one bit, expect check() to object, flip it back. */
static void expect_flip_caught(struct kunit *test, const struct buddy_core *bc,
			       u64 *word, unsigned int bit, const char *what)
{
	*word ^= BIT_ULL(bit);
	KUNIT_EXPECT_EQ_MSG(test, buddy_core_check(bc), -EUCLEAN, "%s", what);
	*word ^= BIT_ULL(bit);
	KUNIT_EXPECT_EQ_MSG(test, buddy_core_check(bc), 0, "%s, undone", what);
}

/*
 * Each kind of corruption the checker exists to find, planted and undone.
 * A 2^8-unit pool with unit 0 taken: free blocks of orders 0..7 at 1, 2, 4,
 * ..., 128.  Orders 0 and 1 have a summary level (4 and 2 words below it).
 */
static void check_detects_test(struct kunit *test)
{
	struct buddy_core *bc = make_pool(test, 8);

	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 0, 0), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_check(bc), 0);
	KUNIT_ASSERT_EQ(test, bc->top[0], 1);
	KUNIT_ASSERT_EQ(test, bc->top[1], 1);

	/* Free maps. */
	expect_flip_caught(test, bc, &free_words(bc, 0, 0)[0], 1,
			   "free block 1 lost: no bit at its start");
	expect_flip_caught(test, bc, &free_words(bc, 0, 0)[0], 0,
			   "unit 0 free and allocated");
	expect_flip_caught(test, bc, &free_words(bc, 0, 0)[0], 2,
			   "free at 2 as order 0 and order 1");
	expect_flip_caught(test, bc, &free_words(bc, 0, 0)[0], 3,
			   "free unit 3 inside free block 2");
	expect_flip_caught(test, bc, &free_words(bc, 1, 0)[0], 0,
			   "free order 1 over allocated unit 0");
	expect_flip_caught(test, bc, &free_words(bc, 3, 0)[0], 40,
			   "free bit past the end of a 32-bit map");
	/* Alloc maps. */
	expect_flip_caught(test, bc, &alloc_words(bc, 0)[0], 0,
			   "allocated unit 0 lost: no bit at its start");
	expect_flip_caught(test, bc, &alloc_words(bc, 0)[0], 1,
			   "unit 1 allocated and free");
	expect_flip_caught(test, bc, &alloc_words(bc, 3)[0], 2,
			   "allocated order 3 at free block 16");
	expect_flip_caught(test, bc, &alloc_words(bc, 0)[3], 8,
			   "allocated unit 200 inside free block 128");
	expect_flip_caught(test, bc, &alloc_words(bc, 3)[0], 40,
			   "alloc bit past the end of a 32-bit map");
	/* Summaries: a bit missing over a non-empty word, or past the end. */
	expect_flip_caught(test, bc, &free_words(bc, 0, 1)[0], 0,
			   "order 0 summary bit missing over word 0");
	expect_flip_caught(test, bc, &free_words(bc, 1, 1)[0], 0,
			   "order 1 summary bit missing over word 0");
	expect_flip_caught(test, bc, &free_words(bc, 0, 1)[0], 10,
			   "summary bit past the 4 words below");
	/* The non-empty mask against nr_free. */
	expect_flip_caught(test, bc, &bc->nonempty, 0, "order 0 marked empty");
	expect_flip_caught(test, bc, &bc->nonempty, 8, "order 8 marked non-empty");
	expect_flip_caught(test, bc, &bc->nonempty, 9, "order 9 past max_order");
	/* The search hint: a free block below it, or past the map's words. */
	KUNIT_ASSERT_EQ(test, bc->hint[0], 0);
	bc->hint[0] = 1;
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), -EUCLEAN);
	bc->hint[0] = 4;
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), -EUCLEAN);
	bc->hint[0] = 0;
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
	/* Counters. */
	bc->free_units++;
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), -EUCLEAN);
	bc->free_units--;
	bc->nr_free[3]++;
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), -EUCLEAN);
	bc->nr_free[3]--;
	bc->nr_free[0]--;	/* nonempty still says order 0 has one */
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), -EUCLEAN);
	bc->nr_free[0]++;
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);

	/* Unit 0 made free, counters to match: only the missed merge is wrong. */
	alloc_words(bc, 0)[0] &= ~BIT_ULL(0);
	free_words(bc, 0, 0)[0] |= BIT_ULL(0);
	bc->nr_free[0]++;
	bc->free_units++;
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), -EUCLEAN);
	bc->free_units--;
	bc->nr_free[0]--;
	free_words(bc, 0, 0)[0] &= ~BIT_ULL(0);
	alloc_words(bc, 0)[0] |= BIT_ULL(0);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
}

/* Maps that contradict the counters make alloc fail, not hand out a block. */
static void alloc_corrupt_test(struct kunit *test)
{
	struct buddy_core *bc = make_pool(test, 8);

	/* nr_free[0] says 1, but the map has no order-0 bit. */
	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 0, 0), 0);
	free_words(bc, 0, 0)[0] &= ~BIT_ULL(1);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), -EUCLEAN);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, 0), 1);
	KUNIT_EXPECT_EQ(test, buddy_core_free_units(bc), 255);
	/* The search may have dropped the summary bit it found stale. */
	free_words(bc, 0, 0)[0] |= BIT_ULL(1);
	free_words(bc, 0, 1)[0] |= BIT_ULL(0);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), 1);

	/* A bit past the end of the map must not become an offset. */
	bc = make_pool(test, 2);
	KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 2, 0), 0);
	free_words(bc, 1, 0)[0] |= BIT_ULL(5);
	bc->nr_free[1] = 1;
	bc->nonempty |= BIT_ULL(1);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 1, 0), -EUCLEAN);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), -EUCLEAN);
	KUNIT_EXPECT_EQ(test, buddy_core_free_units(bc), 0);
	free_words(bc, 1, 0)[0] &= ~BIT_ULL(5);
	bc->nr_free[1] = 0;
	bc->nonempty &= ~BIT_ULL(1);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_free(bc, 0, 2), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
}

/* A pool far larger than the others: 2^22 units, 2 MiB of maps. */
static void large_pool_test(struct kunit *test)
{
	const unsigned int max_order = 22, order = 12;
	struct kpool *bc = make_kpool(test, max_order);
	u64 blocks = 1ULL << (max_order - order), i;

	KUNIT_EXPECT_EQ(test, kp_alloc(bc, max_order, 0), 0);
	KUNIT_EXPECT_EQ(test, kp_free(bc, 0, max_order), 0);
	for (i = 0; i < blocks; i++)
		KUNIT_ASSERT_EQ(test, kp_alloc(bc, order, 0),
				(s64)(i << order));
	KUNIT_EXPECT_EQ(test, kp_alloc(bc, 0, 0), -ENOMEM);
	/* Free every other block: nothing can coalesce. */
	for (i = 0; i < blocks; i += 2)
		KUNIT_ASSERT_EQ(test, kp_free(bc, i << order, order), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, order), blocks / 2);
	KUNIT_EXPECT_EQ(test, kp_largest_order(bc), (int)order);
	KUNIT_EXPECT_EQ(test, kp_check(bc), 0);
	for (i = 1; i < blocks; i += 2)
		KUNIT_ASSERT_EQ(test, kp_free(bc, i << order, order), 0);
	KUNIT_EXPECT_EQ(test, kp_nr_free(bc, max_order), 1);
	KUNIT_EXPECT_EQ(test, kp_check(bc), 0);
}

/*
 * The reference model: one bit per unit, and the list of live blocks (an
 * EXACT allocation's pieces each a block of its own).
 */
struct model {
	struct kpool *bc;
	unsigned int max_order;
	unsigned long *used;
	u64 *offset;
	u8 *order;
	unsigned int live, max_live;
	bool policy;	/* check each placement too: O(units) a step */
	struct rnd_state rnd;
	u64 allocs, frees, enomem, bad_frees, flagged[3], extent_frees;
};

static struct model *make_model(struct kunit *test, unsigned int max_order,
				unsigned int max_live)
{
	struct model *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	u64 units = 1ULL << max_order;

	KUNIT_ASSERT_NOT_NULL(test, m);
	m->bc = make_kpool(test, max_order);
	m->max_order = max_order;
	m->max_live = max_live;
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

/* Full coalescing makes a free block of @order maximal: its parent is not free. */
static bool model_maximal(const struct model *m, u64 start, unsigned int order)
{
	return window_free(m, start, order) &&
	       (order == m->max_order ||
		!window_free(m, start & ~((2ULL << order) - 1), order + 1));
}

/*
 * The policy: among the maximal free blocks of the smallest order that fits
 * which meet [@lo, @hi), the lowest (@topdown: the highest); the block is
 * the part of it at the range's start (end).
 */
static s64 model_expected(const struct model *m, unsigned int order, u64 lo,
			  u64 hi, bool topdown)
{
	u64 block = 1ULL << order, start;
	unsigned int k;

	if (lo >= hi)
		return -ENOMEM;
	for (k = order; k <= m->max_order; k++) {
		u64 size = 1ULL << k;
		s64 found = -1;

		for (start = 0; start < (1ULL << m->max_order); start += size) {
			if (start >= hi || start + size <= lo ||
			    !model_maximal(m, start, k))
				continue;
			found = start;
			if (!topdown)
				break;
		}
		if (found < 0)
			continue;
		if (topdown)
			return min_t(u64, found + size, hi) - block;
		return max_t(u64, found, lo);
	}
	return -ENOMEM;
}

static void model_add(struct kunit *test, struct model *m, u64 off,
		      unsigned int order)
{
	KUNIT_ASSERT_LT(test, m->live, m->max_live);
	bitmap_set(m->used, off, 1U << order);
	m->offset[m->live] = off;
	m->order[m->live] = order;
	m->live++;
}

static void model_remove(struct model *m, unsigned int i)
{
	bitmap_clear(m->used, m->offset[i], 1U << m->order[i]);
	m->live--;
	m->offset[i] = m->offset[m->live];
	m->order[i] = m->order[m->live];
}

/* The live block starting at @off with @order, or -1. */
static int model_find(const struct model *m, u64 off, unsigned int order)
{
	unsigned int i;

	for (i = 0; i < m->live; i++)
		if (m->offset[i] == off && m->order[i] == order)
			return i;
	return -1;
}

/*
 * free_extent() of live block @i and the blocks after it, as an EXACT
 * allocation leaves them: it succeeds iff each piece of the length is live.
 */
static void model_free_extent(struct kunit *test, struct model *m,
			      unsigned int i, u64 units)
{
	u64 off = m->offset[i], pos = off, left;
	bool live = units && units <= (1ULL << m->max_order) - off;
	int ret;

	for (left = units; live && left; left ^= 1ULL << __fls(left)) {
		unsigned int k = __fls(left);

		live = !(pos & ((1ULL << k) - 1)) && model_find(m, pos, k) >= 0;
		pos += 1ULL << k;
	}
	ret = kp_free_extent(m->bc, off, units);
	KUNIT_ASSERT_EQ_MSG(test, ret, live ? 0 : -EINVAL,
			    "free_extent(%llu, %llu)", off, units);
	if (!live) {
		m->bad_frees++;
		return;
	}
	for (pos = off, left = units; left; left ^= 1ULL << __fls(left)) {
		unsigned int k = __fls(left);

		model_remove(m, model_find(m, pos, k));
		pos += 1ULL << k;
	}
	m->extent_frees++;
	m->frees++;
}

/* A random range: 1/8 of the pool, a few units, or any length. */
static void model_range(struct model *m, u64 *start, u64 *end)
{
	u64 units = 1ULL << m->max_order, len;
	u32 v = prandom_u32_state(&m->rnd);

	switch (v % 4) {
	case 0:
		len = max_t(u64, units / 8, 1);
		break;
	case 1:
		len = 1 + (v >> 4) % 16;
		break;
	default:
		len = 1 + (v >> 4) % units;
		break;
	}
	len = min(len, units);
	*start = prandom_u32_state(&m->rnd) % (units - len + 1);
	*end = *start + len;
}

/*
 * One random step: alloc (geometric order, each flag a quarter of the
 * time) or free, checked against the bitmap.
 */
static void model_step(struct kunit *test, struct model *m)
{
	u32 r = prandom_u32_state(&m->rnd);
	u64 units_req, block, start = 0, end = 0, lo, hi, free_before, left, pos;
	unsigned int order, flags = 0;
	s64 ret;

	if (m->live && (r & 0xff) < 112) {
		unsigned int i = prandom_u32_state(&m->rnd) % m->live;
		u64 off = m->offset[i];

		order = m->order[i];
		/* Now and then an interior or wrong-order free first. */
		if (order && (r & 0x700) == 0) {
			KUNIT_ASSERT_EQ(test, kp_free(m->bc, off + 1, 0), -EINVAL);
			KUNIT_ASSERT_EQ(test, kp_free(m->bc, off, order - 1), -EINVAL);
			m->bad_frees += 2;
		}
		/* An extent of this block and perhaps the ones after it. */
		if ((r & 0x3000) == 0) {
			model_free_extent(test, m, i,
					  1 + prandom_u32_state(&m->rnd) %
					  (2ULL << order));
			return;
		}
		KUNIT_ASSERT_EQ(test, kp_free(m->bc, off, order), 0);
		model_remove(m, i);
		m->frees++;
		return;
	}
	/* P(order = k) = 2^-(k+1): mostly small blocks, now and then large. */
	order = min_t(unsigned int, __ffs(prandom_u32_state(&m->rnd) | BIT(31)),
		      m->max_order);
	block = 1ULL << order;
	units_req = block;
	if (!(r & 0x30000))
		flags |= BUDDY_CORE_ALLOC_TOPDOWN;
	if (!(r & 0xc0000))
		flags |= BUDDY_CORE_ALLOC_RANGE;
	if (!(r & 0x300000)) {
		flags |= BUDDY_CORE_ALLOC_EXACT;
		units_req = order ? block / 2 + 1 +
			    prandom_u32_state(&m->rnd) % (block / 2) : 1;
	}
	lo = 0;
	hi = 1ULL << m->max_order;
	if (flags & BUDDY_CORE_ALLOC_RANGE) {
		model_range(m, &start, &end);
		lo = round_up(start, block);
		/* What is kept ends by @end; EXACT's tail may pass it. */
		hi = end < units_req ? 0 : round_down(end - units_req, block) + block;
	}
	free_before = kp_free_units(m->bc);
	if (flags & ~BUDDY_CORE_ALLOC_TOPDOWN || r & 0x400000)
		ret = kp_alloc_req(m->bc, units_req, flags, start, end);
	else
		ret = kp_alloc(m->bc, order, flags);
	if (m->policy)
		KUNIT_ASSERT_EQ_MSG(test, ret,
				    model_expected(m, order, lo, hi,
						   flags & BUDDY_CORE_ALLOC_TOPDOWN),
				    "order %u flags %#x [%llu, %llu)", order, flags,
				    start, end);
	if (ret == -ENOMEM) {
		for (pos = lo; pos + block <= hi; pos += block)
			KUNIT_ASSERT_FALSE_MSG(test, window_free(m, pos, order),
					       "-ENOMEM with %llu..+2^%u free", pos, order);
		m->enomem++;
		return;
	}
	KUNIT_ASSERT_GE(test, ret, 0);
	KUNIT_ASSERT_EQ(test, ret & ((1LL << order) - 1), 0);
	KUNIT_ASSERT_LE(test, (u64)ret + block, 1ULL << m->max_order);
	if (flags & BUDDY_CORE_ALLOC_RANGE) {
		KUNIT_ASSERT_GE(test, (u64)ret, start);
		KUNIT_ASSERT_LE(test, (u64)ret + units_req, end);
	}
	KUNIT_ASSERT_TRUE_MSG(test, window_free(m, ret, order),
			      "block %lld order %u overlaps a live block", ret, order);
	/* EXACT: exactly the units asked for, the rest of the block free. */
	KUNIT_ASSERT_EQ(test, free_before - kp_free_units(m->bc), units_req);
	for (pos = ret, left = units_req; left; left ^= 1ULL << __fls(left)) {
		model_add(test, m, pos, __fls(left));
		pos += 1ULL << __fls(left);
	}
	m->flagged[0] += !!(flags & BUDDY_CORE_ALLOC_TOPDOWN);
	m->flagged[1] += !!(flags & BUDDY_CORE_ALLOC_RANGE);
	m->flagged[2] += !!(flags & BUDDY_CORE_ALLOC_EXACT);
	m->allocs++;
}

/* The free blocks per order that full coalescing implies, from the bitmap. */
static void expect_model_nr_free(struct kunit *test, const struct model *m)
{
	unsigned int order;

	for (order = 0; order <= m->max_order; order++) {
		u64 start, count = 0;

		for (start = 0; start < (1ULL << m->max_order); start += 1ULL << order)
			if (model_maximal(m, start, order))
				count++;
		KUNIT_EXPECT_EQ_MSG(test, kp_nr_free(m->bc, order), count,
				    "order %u", order);
	}
}

static const struct core_param tiny_params[] = {
	{ BITMAP, 0 }, { TREE, 0 },
	{ BITMAP, 1 }, { TREE, 1 },
	{ BITMAP, 2 }, { TREE, 2 },
};

KUNIT_ARRAY_PARAM(tiny, tiny_params, core_order_desc);

/*
 * Pools of 1, 2 and 4 units, where every map is a fraction of one word:
 * every block of every order taken and given back, every wrong free
 * refused, then a random run placed exactly as the policy says.
 */
static void tiny_pool_test(struct kunit *test)
{
	unsigned int max_order = test_param(test)->order;
	struct kpool *bc = make_kpool(test, max_order);
	u64 units = 1ULL << max_order, off, i;
	unsigned int order, k;
	struct snapshot *snap;
	struct model *m;

	for (order = 0; order <= max_order; order++) {
		for (off = 0; off < units; off += 1ULL << order)
			KUNIT_ASSERT_EQ(test, kp_alloc(bc, order, 0), (s64)off);
		KUNIT_ASSERT_EQ(test, kp_free_units(bc), 0);
		KUNIT_ASSERT_EQ(test, kp_check(bc), 0);
		snap = take_snapshot(test, bc);
		for (k = 0; k <= max_order + 1; k++)
			KUNIT_EXPECT_EQ(test, kp_alloc(bc, k, 0),
					k > max_order ? -EINVAL : -ENOMEM);
		/* Every (offset, order) but the live blocks' own, and one past. */
		for (off = 0; off <= units; off++)
			for (k = 0; k <= max_order + 1; k++)
				if (k != order || off % (1ULL << order) || off == units)
					KUNIT_EXPECT_EQ_MSG(test, kp_free(bc, off, k),
							    -EINVAL, "free %llu order %u", off, k);
		expect_unchanged(test, bc, snap);
		for (i = units >> order; i-- > 0;) {
			KUNIT_ASSERT_EQ(test, kp_free(bc, i << order, order), 0);
			KUNIT_ASSERT_EQ(test, kp_check(bc), 0);
		}
		KUNIT_ASSERT_EQ(test, kp_nr_free(bc, max_order), 1);
		KUNIT_ASSERT_EQ(test, kp_free_units(bc), units);
	}

	m = make_model(test, max_order, units);
	m->policy = true;
	for (i = 0; i < 2000; i++) {
		model_step(test, m);
		KUNIT_ASSERT_EQ(test, kp_check(m->bc), 0);
		expect_model_nr_free(test, m);
	}
}

/*
 * 200k operations on 8192 units (three summary levels at order 0), every
 * answer checked against the model.
 */
static void random_model_test(struct kunit *test)
{
	const unsigned int max_order = 13, ops = 200000;
	struct model *m = make_model(test, max_order, 1U << max_order);
	unsigned int i;

	for (i = 0; i < ops; i++) {
		model_step(test, m);
		if (i % 4096 == 0) {
			KUNIT_ASSERT_EQ(test, kp_free_units(m->bc),
					(1ULL << max_order) -
					bitmap_weight(m->used, 1U << max_order));
			KUNIT_ASSERT_EQ(test, kp_check(m->bc), 0);
		}
	}
	expect_model_nr_free(test, m);
	KUNIT_EXPECT_EQ(test, kp_check(m->bc), 0);
	kunit_info(test, "%llu allocs, %llu frees, %llu -ENOMEM, %llu rejected frees\n",
		   m->allocs, m->frees, m->enomem, m->bad_frees);
	kunit_info(test, "TOPDOWN %llu, RANGE %llu, EXACT %llu, extents freed %llu\n",
		   m->flagged[0], m->flagged[1], m->flagged[2], m->extent_frees);
	/* The mix must have exercised both full and fragmented states. */
	KUNIT_EXPECT_GT(test, m->enomem, 0);
	KUNIT_EXPECT_GT(test, m->bad_frees, 0);
	KUNIT_EXPECT_GT(test, m->flagged[0], 0);
	KUNIT_EXPECT_GT(test, m->flagged[1], 0);
	KUNIT_EXPECT_GT(test, m->flagged[2], 0);
	KUNIT_EXPECT_GT(test, m->extent_frees, 0);
}

/*
 * A smaller run with the invariant checker and the model after every step,
 * and every placement checked against the policy.
 */
static void random_checked_test(struct kunit *test)
{
	const unsigned int max_order = 6, ops = 20000;
	struct model *m = make_model(test, max_order, 1U << max_order);
	unsigned int i;

	m->policy = true;
	for (i = 0; i < ops; i++) {
		model_step(test, m);
		KUNIT_ASSERT_EQ(test, kp_check(m->bc), 0);
		KUNIT_ASSERT_EQ(test, kp_free_units(m->bc),
				(1ULL << max_order) -
				bitmap_weight(m->used, 1U << max_order));
		if (i % 64 == 0)
			expect_model_nr_free(test, m);
	}
	/* Free everything left: the pool must coalesce back to one block. */
	while (m->live) {
		m->live--;
		KUNIT_ASSERT_EQ(test, kp_free(m->bc, m->offset[m->live],
					      m->order[m->live]), 0);
	}
	KUNIT_EXPECT_EQ(test, kp_nr_free(m->bc, max_order), 1);
	KUNIT_EXPECT_EQ(test, kp_check(m->bc), 0);
}

static struct kunit_case buddy_core_cases[] = {
	KUNIT_CASE(map_word_bits_test),
	KUNIT_CASE(meta_size_test),
	KUNIT_CASE(init_invalid_test),
	KUNIT_CASE_PARAM(order0_pool_test, cores_gen_params),
	KUNIT_CASE_PARAM(alloc_invalid_test, cores_gen_params),
	KUNIT_CASE_PARAM(alloc_enomem_test, cores_gen_params),
	KUNIT_CASE_PARAM(free_range_test, cores_gen_params),
	KUNIT_CASE_PARAM(free_interior_test, cores_gen_params),
	KUNIT_CASE_PARAM(double_free_test, cores_gen_params),
	KUNIT_CASE_PARAM(free_wrong_order_test, cores_gen_params),
	KUNIT_CASE_PARAM(free_misaligned_test, cores_gen_params),
	KUNIT_CASE(order_for_test),
	KUNIT_CASE_PARAM(meta_bounds_test, bounds_gen_params),
	KUNIT_CASE_PARAM(fill_drain_test, fill_gen_params),
	KUNIT_CASE_PARAM(coalesce_test, cores_gen_params),
	KUNIT_CASE_PARAM(queries_test, cores_gen_params),
	KUNIT_CASE_PARAM(best_fit_test, cores_gen_params),
	KUNIT_CASE_PARAM(lowest_first_test, cores_gen_params),
	KUNIT_CASE(stale_summary_test),
	KUNIT_CASE(check_detects_test),
	KUNIT_CASE(alloc_corrupt_test),
	KUNIT_CASE_PARAM(tiny_pool_test, tiny_gen_params),
	KUNIT_CASE_PARAM(topdown_test, cores_gen_params),
	KUNIT_CASE_PARAM(range_test, cores_gen_params),
	KUNIT_CASE_PARAM(exact_test, cores_gen_params),
	KUNIT_CASE_PARAM(flags_invalid_test, cores_gen_params),
	KUNIT_CASE(tree_meta_size_test),
	KUNIT_CASE(tree_nodes_test),
	{}
};

static struct kunit_suite buddy_core_suite = {
	.name = "buddy_core",
	.test_cases = buddy_core_cases,
};

static struct kunit_case buddy_core_stress_cases[] = {
	KUNIT_CASE_PARAM_ATTR(large_pool_test, cores_gen_params, { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE_PARAM_ATTR(random_model_test, cores_gen_params, { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE_PARAM_ATTR(random_checked_test, cores_gen_params, { .speed = KUNIT_SPEED_SLOW }),
	{}
};

static struct kunit_suite buddy_core_stress_suite = {
	.name = "buddy_core_stress",
	.test_cases = buddy_core_stress_cases,
};

kunit_test_suites(&buddy_core_suite, &buddy_core_stress_suite);

MODULE_DESCRIPTION("KUnit tests for the buddy allocator cores");
MODULE_LICENSE("GPL");
