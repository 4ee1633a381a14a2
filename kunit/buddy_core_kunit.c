// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for buddy_core.
 *
 * The randomised tests log their seed; load the module with seed=N to replay
 * a failure exactly.  Every test that expects an error also checks that the
 * pool did not change (the meta buffer's bytes and struct buddy_core).
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
	struct buddy_core bc;
	void *meta;
	size_t size;
};

static struct snapshot *take_snapshot(struct kunit *test,
				      const struct buddy_core *bc)
{
	struct snapshot *snap = kunit_kzalloc(test, sizeof(*snap), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, snap);
	snap->size = buddy_core_meta_size(bc->max_order);
	snap->meta = kunit_kmalloc(test, snap->size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, snap->meta);
	memcpy(snap->meta, bc->maps, snap->size);
	/* memcpy, not assignment: padding too, for the memcmp below. */
	memcpy(&snap->bc, bc, sizeof(*bc));
	return snap;
}

static void expect_unchanged(struct kunit *test, const struct buddy_core *bc,
			     const struct snapshot *snap)
{
	KUNIT_ASSERT_PTR_EQ(test, bc->maps, snap->bc.maps);
	KUNIT_EXPECT_EQ(test, memcmp(bc->maps, snap->meta, snap->size), 0);
	KUNIT_EXPECT_EQ(test, memcmp(bc, &snap->bc, sizeof(*bc)), 0);
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

static const unsigned int bounds_orders[] = { 0, 1, 6, 7, 13 };

static void order_desc(const unsigned int *order, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "max_order %u", *order);
}

KUNIT_ARRAY_PARAM(bounds, bounds_orders, order_desc);

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
	unsigned int max_order = *(const unsigned int *)test->param_value;
	size_t size = buddy_core_meta_size(max_order), i;
	const unsigned int guard = 64;	/* a multiple of 8: keeps alignment */
	struct buddy_core *bc;
	unsigned int order;
	u8 *buf;

	bc = kunit_kzalloc(test, sizeof(*bc), GFP_KERNEL);
	buf = kunit_kmalloc(test, size + 2 * guard, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, bc);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	memset(buf, 0xa5, size + 2 * guard);
	KUNIT_ASSERT_EQ(test, buddy_core_init(bc, max_order, buf + guard, size), 0);
	expect_maps_inside(test, bc, size);
	for (order = 0; order <= max_order; order++) {
		u64 n = 1ULL << (max_order - order), j;

		for (j = 0; j < n; j++)
			KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, order, 0),
					(s64)(j << order));
		KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 0, 0), -ENOMEM);
		/* XOR by a constant permutes 0..n-1: a scattered free order. */
		for (j = 0; j < n; j++)
			KUNIT_ASSERT_EQ(test, buddy_core_free(bc, ((j ^ 0x2a) & (n - 1))
							      << order, order), 0);
		KUNIT_ASSERT_EQ(test, buddy_core_nr_free(bc, max_order), 1);
		KUNIT_ASSERT_EQ(test, buddy_core_check(bc), 0);
	}
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, max_order, 0), 0);
	for (i = 0; i < guard; i++) {
		KUNIT_EXPECT_EQ(test, buf[i], 0xa5);
		KUNIT_EXPECT_EQ(test, buf[guard + size + i], 0xa5);
	}
}

/* 13: three levels of summaries in the order-0 map. */
static const unsigned int fill_orders[] = { 0, 1, 2, 7, 12, 13 };

KUNIT_ARRAY_PARAM(fill, fill_orders, order_desc);

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
 * right, the exact fit is taken and the large block kept: the smallest order
 * that fits wins over a lower address.
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

/*
 * The policy in full: among free blocks of the smallest order that fits,
 * the lowest-addressed one, whatever the order they were freed in; a split
 * keeps the left half and frees the right one.
 */
static void lowest_first_test(struct kunit *test)
{
	struct buddy_core *bc = make_pool(test, 5);
	unsigned int i;

	for (i = 0; i < 8; i++)
		KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, 2, 0), 4 * i);
	/* Free order-2 blocks at 4, 12, 20, freed high to low... */
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 20, 2), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 4, 2), 0);
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 12, 2), 0);
	/* ...the lowest goes first, not the last freed. */
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 2, 0), 4);
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 28, 2), 0);
	/* Order 2 at 12, 20, 28: split 12, keeping 12 and freeing 14. */
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 1, 0), 12);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, 1), 1);
	/* The order-1 block at 14 fits a unit better than order 2 at 20. */
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), 14);
	KUNIT_EXPECT_EQ(test, buddy_core_nr_free(bc, 0), 1);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 1, 0), 20);
	/* Order 2 at 0 is lower, but order 1 at 22 is smaller. */
	KUNIT_ASSERT_EQ(test, buddy_core_free(bc, 0, 2), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 1, 0), 22);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), 15);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 2, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 2, 0), 28);
	KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, 0, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, buddy_core_check(bc), 0);
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
	bool policy;	/* check each placement too: O(units) a step */
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

/* Full coalescing makes a free block of @order maximal: its parent is not free. */
static bool model_maximal(const struct model *m, u64 start, unsigned int order)
{
	return window_free(m, start, order) &&
	       (order == m->max_order ||
		!window_free(m, start & ~((2ULL << order) - 1), order + 1));
}

/* The policy: the lowest free block of the smallest order that fits. */
static s64 model_expected(const struct model *m, unsigned int order)
{
	unsigned int k;
	u64 start;

	for (k = order; k <= m->max_order; k++)
		for (start = 0; start < (1ULL << m->max_order); start += 1ULL << k)
			if (model_maximal(m, start, k))
				return start;
	return -ENOMEM;
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
	if (m->policy)
		KUNIT_ASSERT_EQ_MSG(test, ret, model_expected(m, order),
				    "order %u", order);
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

		for (start = 0; start < (1ULL << m->max_order); start += 1ULL << order)
			if (model_maximal(m, start, order))
				count++;
		KUNIT_EXPECT_EQ_MSG(test, buddy_core_nr_free(m->bc, order), count,
				    "order %u", order);
	}
}

static const unsigned int tiny_orders[] = { 0, 1, 2 };

KUNIT_ARRAY_PARAM(tiny, tiny_orders, order_desc);

/*
 * Pools of 1, 2 and 4 units, where every map is a fraction of one word:
 * every block of every order taken and given back, every wrong free
 * refused, then a random run placed exactly as the policy says.
 */
static void tiny_pool_test(struct kunit *test)
{
	unsigned int max_order = *(const unsigned int *)test->param_value;
	struct buddy_core *bc = make_pool(test, max_order);
	u64 units = 1ULL << max_order, off, i;
	unsigned int order, k;
	struct snapshot *snap;
	struct model *m;

	for (order = 0; order <= max_order; order++) {
		for (off = 0; off < units; off += 1ULL << order)
			KUNIT_ASSERT_EQ(test, buddy_core_alloc(bc, order, 0), (s64)off);
		KUNIT_ASSERT_EQ(test, buddy_core_free_units(bc), 0);
		KUNIT_ASSERT_EQ(test, buddy_core_check(bc), 0);
		snap = take_snapshot(test, bc);
		for (k = 0; k <= max_order + 1; k++)
			KUNIT_EXPECT_EQ(test, buddy_core_alloc(bc, k, 0),
					k > max_order ? -EINVAL : -ENOMEM);
		/* Every (offset, order) but the live blocks' own, and one past. */
		for (off = 0; off <= units; off++)
			for (k = 0; k <= max_order + 1; k++)
				if (k != order || off % (1ULL << order) || off == units)
					KUNIT_EXPECT_EQ_MSG(test, buddy_core_free(bc, off, k),
							    -EINVAL, "free %llu order %u", off, k);
		expect_unchanged(test, bc, snap);
		for (i = units >> order; i-- > 0;) {
			KUNIT_ASSERT_EQ(test, buddy_core_free(bc, i << order, order), 0);
			KUNIT_ASSERT_EQ(test, buddy_core_check(bc), 0);
		}
		KUNIT_ASSERT_EQ(test, buddy_core_nr_free(bc, max_order), 1);
		KUNIT_ASSERT_EQ(test, buddy_core_free_units(bc), units);
	}

	m = make_model(test, max_order, units);
	m->policy = true;
	for (i = 0; i < 2000; i++) {
		model_step(test, m);
		KUNIT_ASSERT_EQ(test, buddy_core_check(m->bc), 0);
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
	KUNIT_CASE(map_word_bits_test),
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
	KUNIT_CASE_PARAM(meta_bounds_test, bounds_gen_params),
	KUNIT_CASE_PARAM(fill_drain_test, fill_gen_params),
	KUNIT_CASE(coalesce_test),
	KUNIT_CASE(queries_test),
	KUNIT_CASE(best_fit_test),
	KUNIT_CASE(lowest_first_test),
	KUNIT_CASE(stale_summary_test),
	KUNIT_CASE(check_detects_test),
	KUNIT_CASE(alloc_corrupt_test),
	KUNIT_CASE_PARAM(tiny_pool_test, tiny_gen_params),
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
