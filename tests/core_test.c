// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace tests of both cores, on the same buddy_core.c and buddy_tree.c
 * the kernel builds.
 *
 * tests/Makefile (make -C tests core-test) builds this three times: plain,
 * with -funsigned-char (the kernel's char, seed defect 5) and with ASan +
 * UBSan.  Besides the error
 * paths and the bitmap layout, it covers what KUnit under UML's 256 MiB
 * cannot: pools of 2^30 and 2^32 units (0.5 and 2 GiB of maps, offsets past
 * 2^31: seed defect 6), and a long random run checked step by step against
 * a one-bit-per-unit model.
 *
 *   core_test [seed]	or BUDDY_SEED=seed; without one, a seed is picked
 *			and printed.  BUDDY_OPS=n sets the long run's length,
 *			BUDDY_ONLY=word runs only the tests whose name has it.
 *			BUDDY_ORDER32=0/1 and BUDDY_SLOW_CHECK=0/1 override
 *			which variant runs the two costly steps (see there).
 *
 * Prints "ok N name" or "not ok N name" per test, then "P passed, F failed";
 * the exit status is 1 if any test failed.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../buddy_core.h"
#include "../buddy_tree.h"

#define MODEL_OPS_DEFAULT	1000000ULL
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

static u64 seed;
static u64 model_ops = MODEL_OPS_DEFAULT;
static unsigned int test_errors;	/* failed checks in the running test */

/* ------------------------------------------------------------------ */
/* Checks: EXPECT records a failure and goes on, ASSERT also returns. */

static bool __attribute__((format(printf, 3, 4)))
check(bool ok, int line, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return true;
	/* A broken invariant inside a loop would print a line per step. */
	if (test_errors++ < 8) {
		printf("    # line %d: ", line);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		putchar('\n');
	}
	return false;
}

static bool check_eq(s64 got, s64 want, const char *sgot, const char *swant,
		     int line)
{
	return check(got == want, line, "%s == %" PRId64 ", expected %s == %" PRId64,
		     sgot, got, swant, want);
}

#define EXPECT(cond, ...)	check(!!(cond), __LINE__, __VA_ARGS__)
#define EXPECT_EQ(got, want)	check_eq((s64)(got), (s64)(want), #got, #want, __LINE__)
#define ASSERT(cond, ...)	do { if (!EXPECT(cond, __VA_ARGS__)) return false; } while (0)
#define ASSERT_EQ(got, want)	do { if (!EXPECT_EQ(got, want)) return false; } while (0)

/* splitmix64: tiny, and the same sequence on every build and variant. */
static u64 rnd_next(u64 *state)
{
	u64 z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Each randomised test gets its own stream, so one can be replayed alone. */
static u64 rnd_init(u64 tag)
{
	u64 state = seed ^ (tag * 0xd1342543de82ef95ULL);

	rnd_next(&state);
	return state;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ */
/* Pools, snapshots and the bitmap layout */

/*
 * The maps of 2^30 and 2^32 units (0.5 and 2 GiB) come from mmap:
 * MAP_NORESERVE so that no commit limit refuses them, and huge pages
 * because buddy_core_init() writes every byte, which is faster without a
 * fault per 4 KiB.  mmap's page alignment is more than the 8 bytes init
 * wants, as malloc's 16 are.
 */
static void *map_meta(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, size, MADV_HUGEPAGE);	/* a hint; fine if refused */
	return p;
}

/* Either core's state, to copy one whole. */
union core_state {
	struct buddy_core bc;
	struct buddy_tree bt;
};

/*
 * A pool of the core under test (cur_ops).  The tests that read the
 * bitmaps (bc) run on the bitmap core only; the rest go through the ops
 * table and run on both.
 */
struct pool {
	const struct buddy_core_ops *ops;
	union {
		struct buddy_core bc;
		struct buddy_tree bt;
		union core_state state;
	};
	void *meta;
	size_t size;
	bool mapped;
};

static const struct buddy_core_ops *cur_ops = &buddy_core_bitmap_ops;

static bool is_bitmap(const struct pool *p)
{
	return p->ops == &buddy_core_bitmap_ops;
}

static s64 p_alloc(struct pool *p, unsigned int order, unsigned int flags)
{
	return p->ops->alloc(&p->state, order, flags);
}

static s64 p_alloc_req(struct pool *p, u64 units, unsigned int flags,
		       u64 start, u64 end)
{
	struct buddy_core_req req = {
		.units = units, .flags = flags, .start = start, .end = end,
	};

	return p->ops->alloc_req(&p->state, &req);
}

static int p_free(struct pool *p, u64 offset, unsigned int order)
{
	return p->ops->free(&p->state, offset, order);
}

static int p_free_extent(struct pool *p, u64 offset, u64 units)
{
	return p->ops->free_extent(&p->state, offset, units);
}

static int p_check(const struct pool *p)
{
	return p->ops->check(&p->state);
}

static u64 p_nr_free(const struct pool *p, unsigned int order)
{
	return p->ops->nr_free(&p->state, order);
}

static int p_largest_order(const struct pool *p)
{
	return p->ops->largest_order(&p->state);
}

static u64 p_free_units(const struct pool *p)
{
	return p->ops->free_units(&p->state);
}

static unsigned int p_max_order(const struct pool *p)
{
	return p->ops->max_order(&p->state);
}

/* On failure the pool may hold a buffer: pool_release() it either way. */
static bool pool_init(struct pool *p, unsigned int max_order)
{
	double t;

	memset(p, 0, sizeof(*p));
	p->ops = cur_ops;
	p->size = p->ops->meta_size(max_order);
	ASSERT(p->size, "no metadata size for max_order %u", max_order);
	p->mapped = p->size >= (1UL << 24);
	p->meta = p->mapped ? map_meta(p->size) : malloc(p->size);
	ASSERT(p->meta, "cannot get %zu bytes for max_order %u", p->size, max_order);
	t = now();
	ASSERT_EQ(p->ops->init(&p->state, max_order, p->meta, p->size), 0);
	if (p->mapped)
		printf("    # %s init: %.1f s for %zu MiB\n", p->ops->name, now() - t,
		       p->size >> 20);
	return true;
}

static void pool_release(struct pool *p)
{
	if (p->mapped && p->meta)
		munmap(p->meta, p->size);
	else
		free(p->meta);
	p->meta = NULL;
}

/*
 * The layout buddy_core.h documents, for the tests that look at the bits:
 * per order @stride pointers, the free map's levels 0..top[order] and, in
 * the last slot, the alloc map.
 */
static u64 *free_level(const struct buddy_core *bc, unsigned int order,
		       unsigned int level)
{
	return bc->maps[(size_t)order * bc->stride + level];
}

static u64 *alloc_bits(const struct buddy_core *bc, unsigned int order)
{
	return bc->maps[(size_t)order * bc->stride + bc->stride - 1];
}

static bool map_bit(const u64 *words, u64 index)
{
	return words[index / 64] >> (index % 64) & 1;
}

/* Words in one level of a map: what holds @bits bits, at least one. */
static u64 words_for(u64 bits)
{
	return bits > 64 ? (bits + 63) / 64 : 1;
}

/* Levels of a free map of @bits bits: summaries of 64 until one word. */
static unsigned int levels_for(u64 bits)
{
	unsigned int levels = 1;

	for (bits = words_for(bits); bits > 1; bits = words_for(bits))
		levels++;
	return levels;
}

/* A block: its offset and order. */
struct blk {
	u64 off;
	unsigned int order;
};

/* Counters always; the whole metadata too when it is small enough to copy. */
struct snapshot {
	union core_state state;
	u8 *meta;
};

static void take_snapshot(struct snapshot *snap, const struct pool *p)
{
	memcpy(&snap->state, &p->state, sizeof(p->state));	/* padding too */
	snap->meta = NULL;
	if (p->size <= (1UL << 20)) {
		snap->meta = malloc(p->size);
		if (snap->meta)
			memcpy(snap->meta, p->meta, p->size);
	}
}

/*
 * Two pools' fields: the documented ones one by one, to say which changed,
 * then all of the struct (fields the core keeps for itself too, and its
 * padding: the copy must have been taken with memcpy()).
 */
static bool expect_same_core(const struct buddy_core *bc,
			     const struct buddy_core *want)
{
	bool ok = true;

	ok &= EXPECT(!memcmp(bc, want, sizeof(*bc)), "struct buddy_core changed");
	ok &= EXPECT(bc->maps == want->maps, "maps moved");
	ok &= EXPECT_EQ(bc->max_order, want->max_order);
	ok &= EXPECT_EQ(bc->stride, want->stride);
	ok &= EXPECT_EQ(bc->nonempty, want->nonempty);
	ok &= EXPECT_EQ(bc->free_units, want->free_units);
	ok &= EXPECT(!memcmp(bc->top, want->top, sizeof(bc->top)), "top[] changed");
	ok &= EXPECT(!memcmp(bc->nr_free, want->nr_free, sizeof(bc->nr_free)),
		     "nr_free[] changed");
	return ok;
}

/* The bitmap core's fields one by one, else the tree's whole struct. */
static bool expect_same_state(const struct pool *p,
			      const union core_state *want)
{
	if (is_bitmap(p))
		return expect_same_core(&p->bc, &want->bc);
	return EXPECT(!memcmp(&p->bt, &want->bt, sizeof(p->bt)),
		      "struct buddy_tree changed");
}

static bool expect_unchanged(const struct snapshot *snap, const struct pool *p)
{
	bool ok = expect_same_state(p, &snap->state);

	if (snap->meta)
		ok &= EXPECT(!memcmp(p->meta, snap->meta, p->size), "maps changed");
	else
		ok &= EXPECT(p->size > (1UL << 20), "could not copy the maps");
	return ok;
}

static void drop_snapshot(struct snapshot *snap)
{
	free(snap->meta);
	snap->meta = NULL;
}

/* ------------------------------------------------------------------ */
/* Small tests: the variant, the encoding and every error path */

/* The build is the variant the Makefile says, or the variants prove nothing. */
static bool build_variant_test(void)
{
#ifdef __SANITIZE_ADDRESS__
	const char *asan = "on";
#else
	const char *asan = "off";
#endif

	printf("    # plain char is %s, ASan %s\n", CHAR_MIN ? "signed" : "unsigned",
	       asan);
#ifdef BUDDY_TEST_UNSIGNED_CHAR
	EXPECT(CHAR_MIN == 0, "built without -funsigned-char");
#endif
#ifdef BUDDY_TEST_SANITIZE
#ifndef __SANITIZE_ADDRESS__
	EXPECT(0, "built without -fsanitize=address");
#endif
#endif
	return true;
}

/*
 * Seed defect 5 was plain char: the old tree's s8 markers read as large
 * orders where char is unsigned.  The maps keep nothing of char size whose
 * sign matters (u64 words, u8 level indexes in top[], u64 counters), so the
 * -funsigned-char variant now guards the tests' own chars and still runs
 * the whole suite.  The sign-prone spot of the maps is bit 63 of a word, an
 * s64's sign bit (a signed shift or an s64 word would turn it into a
 * negative offset or an arithmetic shift): a block there must be found
 * through every level of a three-level map, and allocated and freed.
 */
static bool word_bit63_body(struct pool *p)
{
	const u64 units = 1ULL << p_max_order(p), last = units - 1;
	struct buddy_core *bc = &p->bc;
	u64 i;

	ASSERT_EQ(bc->top[0], 2);	/* 4096 words, 64, then the top word */
	ASSERT_EQ(bc->top[1], 2);	/* 2048 words, 32, then the top word */
	for (i = 0; i < units; i++)
		ASSERT_EQ(buddy_core_alloc(bc, 0, 0), (s64)i);
	EXPECT_EQ(alloc_bits(bc, 0)[last / 64], ~0ULL);
	ASSERT_EQ(buddy_core_free(bc, last, 0), 0);
	/* Level 0 exactly; summaries may hold stale bits besides. */
	EXPECT_EQ(free_level(bc, 0, 0)[4095], 1ULL << 63);
	EXPECT(map_bit(free_level(bc, 0, 1), 4095), "no summary bit 63");
	EXPECT(map_bit(free_level(bc, 0, 2), 63), "no top bit 63");
	EXPECT_EQ(alloc_bits(bc, 0)[last / 64], ~0ULL >> 1);
	EXPECT_EQ(buddy_core_largest_order(bc), 0);
	EXPECT_EQ(buddy_core_check(bc), 0);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), (s64)last);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), -ENOMEM);

	/* The last two merge: order 1, bit 63 of its word and its summary's. */
	ASSERT_EQ(buddy_core_free(bc, last - 1, 0), 0);
	ASSERT_EQ(buddy_core_free(bc, last, 0), 0);
	EXPECT_EQ(buddy_core_nr_free(bc, 0), 0);
	EXPECT_EQ(buddy_core_nr_free(bc, 1), 1);
	EXPECT_EQ(free_level(bc, 1, 0)[2047], 1ULL << 63);
	EXPECT(map_bit(free_level(bc, 1, 1), 2047), "no summary bit 63");
	EXPECT(map_bit(free_level(bc, 1, 2), 31), "no top bit 31");
	EXPECT_EQ(buddy_core_check(bc), 0);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), (s64)(last - 1));
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), (s64)last);

	/* Bit 63 of the first word, with the summaries' bit 0. */
	ASSERT_EQ(buddy_core_free(bc, 63, 0), 0);
	EXPECT_EQ(free_level(bc, 0, 0)[0], 1ULL << 63);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), 63);

	for (i = 0; i < units; i++)
		ASSERT_EQ(buddy_core_free(bc, i ^ 0x5555, 0), 0);
	EXPECT_EQ(buddy_core_nr_free(bc, bc->max_order), 1);
	EXPECT_EQ(buddy_core_check(bc), 0);
	return true;
}

static bool word_bit63_test(void)
{
	struct pool p;

	EXPECT((__typeof__(**p.bc.maps))-1 > 0, "map words are signed");
	EXPECT((__typeof__(p.bc.top[0]))-1 > 0, "top[] is signed");
	if (pool_init(&p, 18))
		word_bit63_body(&p);
	pool_release(&p);
	return true;
}

/*
 * The size the layout in buddy_core.h implies, counted here its own way: a
 * table of (max_order + 1) * (levels + 2) 8-byte slots, levels being those
 * of the largest free map (order 0's), and the sentinel word; then per
 * order an alloc map of one bit per block, and a free map of as many bits
 * with summaries of 64 above until one word.  Every level takes at least
 * one word.
 */
static u64 expected_meta_size(unsigned int max_order)
{
	u64 bytes = (u64)(max_order + 1) * (levels_for(1ULL << max_order) + 2) * 8 + 8;
	unsigned int order;

	for (order = 0; order <= max_order; order++) {
		u64 words = words_for(1ULL << (max_order - order));

		bytes += words * 8;		/* the alloc map */
		for (;;) {			/* the free map, level by level */
			bytes += words * 8;
			if (words == 1)
				break;
			words = words_for(words);
		}
	}
	return bytes;
}

static bool meta_size_test(void)
{
	unsigned int order;
	u64 prev = 0;

	/* A few worked by hand, so a shared slip in the formulas shows. */
	EXPECT_EQ(buddy_core_meta_size(0), 24 + 8 + 2 * 8);
	EXPECT_EQ(buddy_core_meta_size(3), 4 * 3 * 8 + 8 + 4 * 2 * 8);
	EXPECT_EQ(buddy_core_meta_size(8), 9 * 4 * 8 + 8 + (9 + 5 + 7 * 2) * 8);
	EXPECT_EQ(buddy_core_meta_size(12), 13 * 4 * 8 + 8 +
		  (129 + 65 + 33 + 17 + 9 + 5 + 7 * 2) * 8);
	for (order = 0; order <= BUDDY_CORE_MAX_ORDER; order++) {
		u64 size = buddy_core_meta_size(order), units = 1ULL << order;
		u64 want = expected_meta_size(order);

		EXPECT(size == want, "meta_size(%u) = %" PRIu64 ", the layout has %"
		       PRIu64, order, size, want);
		EXPECT(size % 8 == 0, "meta_size(%u) = %" PRIu64 " not whole words",
		       order, size);
		EXPECT(size > prev, "meta_size(%u) not above meta_size(%u)", order,
		       order - 1);
		/* Tiny pools pay a word per map; from 512 units on, 2 bytes do. */
		if (order >= 9)
			EXPECT(size <= 2 * units, "order %u: %" PRIu64
			       " bytes, more than 2 per unit", order, size);
		/* Two bits per block and order, so half a byte per unit. */
		if (order >= 20)
			EXPECT(size >= units / 2 && size <= units / 2 + units / 64,
			       "order %u: %.4f bytes per unit, not about 0.5", order,
			       (double)size / (double)units);
		prev = size;
	}
	printf("    # meta_size: %.4f bytes per unit at 20, %" PRIu64 " at 62\n",
	       (double)buddy_core_meta_size(20) / (1 << 20),
	       (u64)buddy_core_meta_size(BUDDY_CORE_MAX_ORDER));
	EXPECT(buddy_core_meta_size(BUDDY_CORE_MAX_ORDER) > (1ULL << 61),
	       "meta_size(62) = %zu", buddy_core_meta_size(BUDDY_CORE_MAX_ORDER));
	EXPECT_EQ(buddy_core_meta_size(BUDDY_CORE_MAX_ORDER + 1), 0);
	EXPECT_EQ(buddy_core_meta_size(64), 0);
	EXPECT_EQ(buddy_core_meta_size(UINT_MAX), 0);
	return true;
}

static bool init_invalid_test(void)
{
	struct buddy_core bc, before;
	size_t need = buddy_core_meta_size(3), i;
	u64 meta[40];
	u8 *bytes = (u8 *)meta;

	ASSERT(need + 64 <= sizeof(meta), "meta_size(3) = %zu", need);
	memset(&bc, 0x5a, sizeof(bc));
	memcpy(&before, &bc, sizeof(bc));
	memset(meta, 0xa5, sizeof(meta));
	EXPECT_EQ(buddy_core_init(&bc, 3, NULL, need), -EINVAL);
	EXPECT_EQ(buddy_core_init(&bc, 3, meta, need - 1), -EINVAL);
	EXPECT_EQ(buddy_core_init(&bc, 3, meta, need - 8), -EINVAL);
	EXPECT_EQ(buddy_core_init(&bc, 3, meta, 0), -EINVAL);
	EXPECT_EQ(buddy_core_init(&bc, BUDDY_CORE_MAX_ORDER + 1, meta, SIZE_MAX),
		  -EINVAL);
	EXPECT_EQ(buddy_core_init(&bc, UINT_MAX, meta, SIZE_MAX), -EINVAL);
	/* Misaligned by 1 to 7 bytes, with room to spare: still refused. */
	for (i = 1; i < 8; i++) {
		EXPECT(buddy_core_init(&bc, 3, bytes + i, need) == -EINVAL,
		       "meta at +%zu accepted", i);
		EXPECT(buddy_core_init(&bc, 3, bytes + 8 + i, sizeof(meta) - 8 - i) ==
		       -EINVAL, "meta at +%zu accepted", 8 + i);
		EXPECT(buddy_core_init(&bc, 0, bytes + i, need) == -EINVAL,
		       "meta at +%zu accepted for max_order 0", i);
	}
	EXPECT(!memcmp(&bc, &before, sizeof(bc)), "failed init changed the pool");
	for (i = 0; i < sizeof(meta); i++)
		if (!EXPECT(bytes[i] == 0xa5, "failed init wrote byte %zu", i))
			break;

	/* Aligned at 8 (not 16), exactly the size: fine, and nothing past it. */
	ASSERT_EQ(buddy_core_init(&bc, 3, bytes + 8, need), 0);
	EXPECT(bytes[7] == 0xa5, "init wrote before the buffer");
	for (i = 8 + need; i < sizeof(meta); i++)
		if (!EXPECT(bytes[i] == 0xa5, "init wrote byte %zu past the buffer",
			    i - 8 - need))
			break;
	EXPECT_EQ(buddy_core_free_units(&bc), 8);
	EXPECT_EQ(buddy_core_largest_order(&bc), 3);
	EXPECT_EQ(buddy_core_nr_free(&bc, 3), 1);
	EXPECT_EQ(buddy_core_check(&bc), 0);
	ASSERT_EQ(buddy_core_init(&bc, 3, meta, sizeof(meta)), 0);
	EXPECT_EQ(buddy_core_alloc(&bc, 3, 0), 0);
	EXPECT_EQ(buddy_core_check(&bc), 0);
	return true;
}

struct span {
	const u64 *start;
	u64 words;
};

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * Every map inside the buffer past the pointer table, in whole words, none
 * overlapping another, all of it used; a fresh pool has one bit set in its
 * free and alloc maps (the whole pool, free); one unit taken sets one bit
 * per order, with the summary bits above it.
 */
static bool layout_one(unsigned int max_order)
{
	struct span spans[(BUDDY_CORE_MAX_ORDER + 1) * 16];
	unsigned int order, l, n = 0, stride;
	u64 table, set = 0;
	const u64 *sentinel;
	const u8 *lo, *hi;
	struct pool p;
	bool ok = false;

	if (!pool_init(&p, max_order))
		goto out;
	stride = levels_for(1ULL << max_order) + 2;
	table = (u64)(max_order + 1) * stride * 8;
	sentinel = (const u64 *)((const u8 *)p.meta + table);
	lo = (const u8 *)(sentinel + 1);
	hi = (const u8 *)p.meta + p.size;
	if (!EXPECT_EQ(p.bc.stride, stride) ||
	    !EXPECT(p.bc.maps == p.meta, "the pointer table is not at the start") ||
	    !EXPECT(*sentinel == ~0ULL, "the sentinel after the table is %#"
		    PRIx64, *sentinel))
		goto out;
	for (order = 0; order <= max_order; order++) {
		u64 bits = 1ULL << (max_order - order);
		unsigned int top = levels_for(bits) - 1;

		if (!EXPECT(p.bc.top[order] == top, "top[%u] = %u, want %u", order,
			    p.bc.top[order], top) ||
		    !EXPECT(p.bc.maps[(size_t)order * stride + top + 1] == sentinel,
			    "order %u: the slot above the top is not the sentinel",
			    order))
			goto out;
		for (l = 0; l <= top + 1; l++) {
			const u64 *w = l <= top ? free_level(&p.bc, order, l) :
					alloc_bits(&p.bc, order);
			u64 words = words_for(bits);
			unsigned int k;

			/* Level l summarises level l - 1: 64 words a word. */
			for (k = 0; l <= top && k < l; k++)
				words = words_for(words);
			spans[n++] = (struct span){ w, words };
			if (!EXPECT((const u8 *)w >= lo &&
				    (const u8 *)(w + words) <= hi &&
				    !((uintptr_t)w % 8),
				    "order %u level %u outside the maps", order, l))
				goto out;
			/* The exact maps; summaries may be stale. */
			while ((!l || l > top) && words--)
				set += __builtin_popcountll(*w++);
		}
	}
	qsort(spans, n, sizeof(*spans), span_cmp);
	for (l = 0; l < n; l++) {
		const u64 *end = l + 1 < n ? spans[l + 1].start : (const u64 *)hi;

		if (!EXPECT(spans[l].start + spans[l].words == end,
			    "map %u of %u overlaps the next or leaves a gap", l, n))
			goto out;
	}
	EXPECT(spans[0].start == (const u64 *)lo, "a gap after the sentinel");
	EXPECT_EQ(set, 1);
	EXPECT_EQ(free_level(&p.bc, max_order, 0)[0], 1);
	EXPECT_EQ(p.bc.nonempty, 1ULL << max_order);

	/* One unit: its alloc bit, and the right buddy free at every order. */
	if (!EXPECT_EQ(p_alloc(&p, 0, 0), 0))
		goto out;
	EXPECT(map_bit(alloc_bits(&p.bc, 0), 0), "no alloc bit for unit 0");
	for (order = 0; order < max_order; order++) {
		EXPECT(map_bit(free_level(&p.bc, order, 0), 1),
		       "order %u: the block at %" PRIu64 " is not free", order,
		       (u64)1 << order);
		for (l = 1; l <= p.bc.top[order]; l++)
			EXPECT(map_bit(free_level(&p.bc, order, l), 0),
			       "order %u: no summary bit at level %u", order, l);
	}
	EXPECT_EQ(p.bc.nonempty, (1ULL << max_order) - 1);
	ok = EXPECT_EQ(p_check(&p), 0);
out:
	pool_release(&p);
	return ok;
}

static bool layout_test(void)
{
	static const unsigned int orders[] = { 0, 1, 2, 5, 6, 7, 8, 12, 13, 18, 19 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(orders); i++)
		EXPECT(layout_one(orders[i]), "max_order %u failed", orders[i]);
	return true;
}

/* Pools of 1, 2 and 4 units: each map is one word, mostly padding. */
static bool tiny_pool_one(unsigned int max_order)
{
	const u64 units = 1ULL << max_order;
	unsigned int order;
	struct pool p;
	u64 i, n;
	bool ok = false;

	if (!pool_init(&p, max_order))
		goto out;
	for (order = 0; order <= max_order; order++) {
		n = units >> order;
		for (i = 0; i < n; i++)
			if (!EXPECT_EQ(p_alloc(&p, order, 0), (s64)(i << order)))
				goto out;
		EXPECT_EQ(p_alloc(&p, 0, 0), -ENOMEM);
		EXPECT_EQ(p_free_units(&p), 0);
		EXPECT_EQ(p_largest_order(&p), -ENOMEM);
		EXPECT_EQ(p_check(&p), 0);
		for (i = n; i-- > 0; )
			if (!EXPECT_EQ(p_free(&p, i << order, order), 0))
				goto out;
		EXPECT_EQ(p_free_units(&p), units);
		EXPECT_EQ(p_nr_free(&p, max_order), 1);
		if (is_bitmap(&p))
			EXPECT_EQ(free_level(&p.bc, max_order, 0)[0], 1);
		EXPECT_EQ(p_check(&p), 0);
	}
	EXPECT_EQ(p_alloc(&p, max_order + 1, 0), -EINVAL);
	EXPECT_EQ(p_free(&p, units, 0), -EINVAL);
	EXPECT_EQ(p_free(&p, 0, max_order), -EINVAL);
	EXPECT_EQ(p_nr_free(&p, max_order + 1), 0);
	if (max_order == 2) {
		/* Mixed: a unit, a pair, the other unit; then merge back. */
		EXPECT_EQ(p_alloc(&p, 0, 0), 0);
		EXPECT_EQ(p_alloc(&p, 1, 0), 2);
		EXPECT_EQ(p_alloc(&p, 0, 0), 1);
		EXPECT_EQ(p_alloc(&p, 0, 0), -ENOMEM);
		EXPECT_EQ(p_free(&p, 1, 0), 0);
		EXPECT_EQ(p_free(&p, 0, 0), 0);
		EXPECT_EQ(p_nr_free(&p, 1), 1);
		EXPECT_EQ(p_alloc(&p, 1, 0), 0);
		EXPECT_EQ(p_free(&p, 2, 1), 0);
		EXPECT_EQ(p_free(&p, 0, 1), 0);
	}
	EXPECT_EQ(p_nr_free(&p, max_order), 1);
	ok = EXPECT_EQ(p_check(&p), 0);
out:
	pool_release(&p);
	return ok;
}

static bool tiny_pool_test(void)
{
	unsigned int order;

	for (order = 0; order <= 2; order++)
		EXPECT(tiny_pool_one(order), "max_order %u failed", order);
	return true;
}

static bool alloc_errors_body(struct pool *p)
{
	struct snapshot snap;
	unsigned int bit;

	ASSERT_EQ(p_alloc(p, 3, 0), 0);
	ASSERT_EQ(p_alloc(p, 2, 0), 8);
	ASSERT_EQ(p_alloc(p, 1, 0), 12);
	take_snapshot(&snap, p);
	EXPECT_EQ(p_alloc(p, 5, 0), -EINVAL);
	EXPECT_EQ(p_alloc(p, 64, 0), -EINVAL);
	EXPECT_EQ(p_alloc(p, UINT_MAX, 0), -EINVAL);
	/* Bit 0 is TOPDOWN; alloc() knows no other flag. */
	for (bit = 1; bit < 32; bit++)
		EXPECT_EQ(p_alloc(p, 0, 1U << bit), -EINVAL);
	/* 2 units free, but no free block of order 2 or more. */
	EXPECT_EQ(p_alloc(p, 2, 0), -ENOMEM);
	EXPECT_EQ(p_alloc(p, 4, 0), -ENOMEM);
	expect_unchanged(&snap, p);
	drop_snapshot(&snap);
	EXPECT_EQ(p_alloc(p, 1, 0), 14);
	EXPECT_EQ(p_alloc(p, 0, 0), -ENOMEM);
	EXPECT_EQ(p_largest_order(p), -ENOMEM);
	EXPECT_EQ(p_check(p), 0);
	return true;
}

static bool alloc_errors_test(void)
{
	struct pool p;

	if (pool_init(&p, 4))
		alloc_errors_body(&p);
	pool_release(&p);
	return true;
}

/* Seed defects 2, 3 and 4: only the exact start of a live block frees. */
static bool free_errors_body(struct pool *p)
{
	struct snapshot snap;
	unsigned int order;
	u64 off;

	ASSERT_EQ(p_alloc(p, 3, 0), 0);
	ASSERT_EQ(p_alloc(p, 1, 0), 8);
	ASSERT_EQ(p_alloc(p, 1, 0), 10);
	ASSERT_EQ(p_free(p, 10, 1), 0);
	take_snapshot(&snap, p);
	/* Out of range: the bound is 2^max_order units (defect 2). */
	EXPECT_EQ(p_free(p, 16, 0), -EINVAL);
	EXPECT_EQ(p_free(p, 1ULL << 40, 0), -EINVAL);
	EXPECT_EQ(p_free(p, UINT64_MAX, 0), -EINVAL);
	EXPECT_EQ(p_free(p, (1ULL << 63) + 8, 1), -EINVAL);
	EXPECT_EQ(p_free(p, (1ULL << 32) + 8, 1), -EINVAL);
	/* Inside a block, with every order (defect 3). */
	for (off = 1; off < 8; off++)
		for (order = 0; order <= 5; order++)
			EXPECT(p_free(p, off, order) == -EINVAL,
			       "free(%" PRIu64 ", %u) accepted", off, order);
	/* Wrong order, misaligned, absurd order. */
	EXPECT_EQ(p_free(p, 0, 2), -EINVAL);
	EXPECT_EQ(p_free(p, 0, 4), -EINVAL);
	EXPECT_EQ(p_free(p, 8, 0), -EINVAL);
	EXPECT_EQ(p_free(p, 8, 2), -EINVAL);
	EXPECT_EQ(p_free(p, 9, 1), -EINVAL);
	EXPECT_EQ(p_free(p, 0, UINT_MAX), -EINVAL);
	/* Double free, and a never-allocated block inside free space (defect 4). */
	EXPECT_EQ(p_free(p, 10, 1), -EINVAL);
	EXPECT_EQ(p_free(p, 12, 2), -EINVAL);
	EXPECT_EQ(p_free(p, 14, 1), -EINVAL);
	expect_unchanged(&snap, p);
	drop_snapshot(&snap);

	EXPECT_EQ(p_free(p, 8, 1), 0);
	EXPECT_EQ(p_free(p, 0, 3), 0);
	EXPECT_EQ(p_nr_free(p, 4), 1);
	/* The whole pool as one block: no other (offset, order) frees it. */
	ASSERT_EQ(p_alloc(p, 4, 0), 0);
	take_snapshot(&snap, p);
	for (order = 0; order < 4; order++)
		for (off = 0; off < 16; off += 1ULL << order)
			EXPECT(p_free(p, off, order) == -EINVAL,
			       "free(%" PRIu64 ", %u) freed part of the pool", off, order);
	expect_unchanged(&snap, p);
	drop_snapshot(&snap);
	EXPECT_EQ(p_free(p, 0, 4), 0);
	EXPECT_EQ(p_free(p, 0, 4), -EINVAL);
	EXPECT_EQ(p_check(p), 0);
	return true;
}

static bool free_errors_test(void)
{
	struct pool p;

	if (pool_init(&p, 4))
		free_errors_body(&p);
	pool_release(&p);
	return true;
}

/* Seed defect 6: 64-bit sizes; a huge request must not round to a small order. */
static bool order_for_test(void)
{
	EXPECT_EQ(buddy_core_order_for(0), -EINVAL);
	EXPECT_EQ(buddy_core_order_for(1), 0);
	EXPECT_EQ(buddy_core_order_for(2), 1);
	EXPECT_EQ(buddy_core_order_for(3), 2);
	EXPECT_EQ(buddy_core_order_for(1024), 10);
	EXPECT_EQ(buddy_core_order_for(1025), 11);
	EXPECT_EQ(buddy_core_order_for((1ULL << 31) - 1), 31);
	EXPECT_EQ(buddy_core_order_for(1ULL << 31), 31);
	EXPECT_EQ(buddy_core_order_for((1ULL << 31) + 1), 32);
	EXPECT_EQ(buddy_core_order_for((1ULL << 32) + 1), 33);
	EXPECT_EQ(buddy_core_order_for(1ULL << 63), 63);
	EXPECT_EQ(buddy_core_order_for((1ULL << 63) + 1), 64);
	EXPECT_EQ(buddy_core_order_for(UINT64_MAX), 64);
	return true;
}

/*
 * Seed defect 1: the maps stay inside the buffer buddy_core_meta_size()
 * asks for, at every pool size (tiny pools, where each map is a word of
 * padding, and pools with summary levels).  An exact-size heap buffer lets
 * ASan see one byte too far; the guard bytes catch it in the other variants.
 */
static bool meta_bounds_use(void *bc, unsigned int max_order)
{
	const u64 units = 1ULL << max_order, mask = units / 3;
	unsigned int order;
	u64 i;

	for (i = 0; i < units; i++)
		ASSERT_EQ(cur_ops->alloc(bc, 0, 0), (s64)i);
	EXPECT_EQ(cur_ops->alloc(bc, 0, 0), -ENOMEM);
	for (i = 0; i < units; i++)
		ASSERT_EQ(cur_ops->free(bc, i ^ mask, 0), 0);
	/* Every order, largest first: the last blocks of every map. */
	for (order = max_order + 1; order-- > 0; ) {
		for (i = 0; i < units >> order; i++)
			ASSERT_EQ(cur_ops->alloc(bc, order, 0), (s64)(i << order));
		for (i = units >> order; i-- > 0; )
			ASSERT_EQ(cur_ops->free(bc, i << order, order), 0);
	}
	EXPECT_EQ(cur_ops->alloc(bc, max_order, 0), 0);
	return EXPECT_EQ(cur_ops->check(bc), 0);
}

static bool meta_bounds_one(unsigned int max_order)
{
	const size_t size = cur_ops->meta_size(max_order), guard = 64;
	union core_state bc;
	size_t i;
	u8 *buf;

	buf = malloc(size + 2 * guard);
	ASSERT(buf, "out of memory");
	memset(buf, 0xa5, size + 2 * guard);
	if (EXPECT_EQ(cur_ops->init(&bc, max_order, buf + guard, size), 0))
		meta_bounds_use(&bc, max_order);
	for (i = 0; i < guard; i++) {
		EXPECT(buf[i] == 0xa5, "byte %zu before the maps written", guard - i);
		EXPECT(buf[guard + size + i] == 0xa5, "byte %zu after the maps written",
		       i);
	}
	free(buf);

	buf = malloc(size);
	ASSERT(buf, "out of memory");
	if (EXPECT_EQ(cur_ops->init(&bc, max_order, buf, size), 0))
		meta_bounds_use(&bc, max_order);
	free(buf);
	return true;
}

static bool meta_bounds_test(void)
{
	static const unsigned int orders[] = { 0, 1, 2, 3, 6, 7, 8, 12, 13 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(orders); i++)
		meta_bounds_one(orders[i]);
	return true;
}

/* Free blocks merge as far as their buddies allow, and merged ones serve. */
static bool coalesce_body(struct pool *p)
{
	unsigned int i;

	for (i = 0; i < 8; i++)
		ASSERT_EQ(p_alloc(p, 0, 0), (s64)i);
	ASSERT_EQ(p_free(p, 0, 0), 0);
	EXPECT_EQ(p_nr_free(p, 0), 1);
	ASSERT_EQ(p_free(p, 1, 0), 0);
	EXPECT_EQ(p_nr_free(p, 0), 0);
	EXPECT_EQ(p_nr_free(p, 1), 1);
	ASSERT_EQ(p_free(p, 3, 0), 0);
	ASSERT_EQ(p_free(p, 2, 0), 0);
	EXPECT_EQ(p_nr_free(p, 1), 0);
	EXPECT_EQ(p_nr_free(p, 2), 1);
	EXPECT_EQ(p_largest_order(p), 2);
	EXPECT_EQ(p_alloc(p, 2, 0), 0);
	ASSERT_EQ(p_free(p, 0, 2), 0);
	for (i = 4; i < 8; i++)
		ASSERT_EQ(p_free(p, i, 0), 0);
	EXPECT_EQ(p_nr_free(p, 3), 1);
	EXPECT_EQ(p_largest_order(p), 3);
	EXPECT_EQ(p_check(p), 0);
	return true;
}

static bool coalesce_test(void)
{
	struct pool p;

	if (pool_init(&p, 3))
		coalesce_body(&p);
	pool_release(&p);
	return true;
}

/*
 * Seed defect 7, as the core documents it: the smallest free block that
 * fits wins, so an exact fit on the right beats splitting a larger block on
 * the left.
 */
static bool best_fit_body(struct pool *p)
{
	ASSERT_EQ(p_alloc(p, 2, 0), 0);
	ASSERT_EQ(p_alloc(p, 0, 0), 4);
	ASSERT_EQ(p_alloc(p, 0, 0), 5);
	ASSERT_EQ(p_alloc(p, 1, 0), 6);
	ASSERT_EQ(p_free(p, 0, 2), 0);
	ASSERT_EQ(p_free(p, 4, 0), 0);
	EXPECT_EQ(p_alloc(p, 0, 0), 4);
	EXPECT_EQ(p_largest_order(p), 2);
	EXPECT_EQ(p_check(p), 0);
	return true;
}

static bool best_fit_test(void)
{
	struct pool p;

	if (pool_init(&p, 3))
		best_fit_body(&p);
	pool_release(&p);
	return true;
}

/* Take every unit, then give back @n blocks (offset, order). */
static bool policy_setup(struct pool *p, const struct blk *free_blks,
			 unsigned int n)
{
	u64 units = 1ULL << p_max_order(p), i;
	unsigned int j;

	for (i = 0; i < units; i++)
		ASSERT_EQ(p_alloc(p, 0, 0), (s64)i);
	for (j = 0; j < n; j++)
		for (i = 0; i < 1ULL << free_blks[j].order; i++)
			ASSERT_EQ(p_free(p, free_blks[j].off + i, 0), 0);
	return EXPECT_EQ(p_check(p), 0);
}

/*
 * The policy: the lowest-addressed free block of the smallest order that
 * fits, split keeping left halves.  Smaller orders win over lower
 * addresses, lower addresses win inside an order.
 */
static bool policy_body(struct pool *p, struct pool *big)
{
	static const struct blk holes[] = {
		{ 60, 0 }, { 0, 2 }, { 40, 1 }, { 16, 3 }, { 50, 0 },
	};
	static const struct blk far[] = {
		{ 8000, 0 }, { 700, 0 }, { 5000, 0 }, { 4096, 1 }, { 9, 0 },
	};
	struct pool *q = p;

	/* A fresh pool of 64 units: splits keep the left halves. */
	ASSERT_EQ(p_alloc(q, 3, 0), 0);
	EXPECT_EQ(p_nr_free(q, 3), 1);
	EXPECT_EQ(p_nr_free(q, 4), 1);
	EXPECT_EQ(p_nr_free(q, 5), 1);
	EXPECT_EQ(p_alloc(q, 2, 0), 8);	/* order 3 at 8, split */
	EXPECT_EQ(p_alloc(q, 4, 0), 16);	/* the exact fit */
	EXPECT_EQ(p_alloc(q, 3, 0), 32);	/* order 5 at 32, split */
	EXPECT_EQ(p_alloc(q, 2, 0), 12);	/* order 2 at 12 */
	EXPECT_EQ(p_alloc(q, 3, 0), 40);	/* order 3 at 40 */
	EXPECT_EQ(p_alloc(q, 5, 0), -ENOMEM);
	EXPECT_EQ(p_alloc(q, 4, 0), 48);
	EXPECT_EQ(p_free_units(q), 0);
	EXPECT_EQ(p_check(q), 0);
	ASSERT_EQ(p_free(q, 0, 3), 0);
	ASSERT_EQ(p_free(q, 8, 2), 0);
	ASSERT_EQ(p_free(q, 12, 2), 0);
	ASSERT_EQ(p_free(q, 16, 4), 0);
	ASSERT_EQ(p_free(q, 32, 3), 0);
	ASSERT_EQ(p_free(q, 40, 3), 0);
	ASSERT_EQ(p_free(q, 48, 4), 0);
	ASSERT_EQ(p_nr_free(q, 6), 1);

	/* Holes of orders 0-3 at two ends of the pool. */
	if (!policy_setup(p, holes, ARRAY_SIZE(holes)))
		return false;
	EXPECT_EQ(p_nr_free(q, 0), 2);
	EXPECT_EQ(p_alloc(q, 0, 0), 50);	/* not 0: order 2 there */
	EXPECT_EQ(p_alloc(q, 0, 0), 60);
	EXPECT_EQ(p_alloc(q, 0, 0), 40);	/* order 1 before order 2 */
	EXPECT_EQ(p_alloc(q, 1, 0), 0);	/* order 2 before order 3 */
	EXPECT_EQ(p_alloc(q, 2, 0), 16);	/* only order 3 left */
	EXPECT_EQ(p_alloc(q, 0, 0), 41);	/* order 0 at 41 */
	EXPECT_EQ(p_alloc(q, 1, 0), 2);
	EXPECT_EQ(p_alloc(q, 0, 0), 20);
	EXPECT_EQ(p_alloc(q, 1, 0), 22);
	EXPECT_EQ(p_alloc(q, 0, 0), 21);
	EXPECT_EQ(p_alloc(q, 0, 0), -ENOMEM);
	EXPECT_EQ(p_check(q), 0);

	/* 8192 units: order 0 has three levels; lowest first across words. */
	q = big;
	if (!policy_setup(big, far, ARRAY_SIZE(far)))
		return false;
	EXPECT_EQ(p_alloc(q, 0, 0), 9);
	EXPECT_EQ(p_alloc(q, 0, 0), 700);
	EXPECT_EQ(p_alloc(q, 0, 0), 5000);
	EXPECT_EQ(p_alloc(q, 0, 0), 8000);
	EXPECT_EQ(p_alloc(q, 0, 0), 4096);
	EXPECT_EQ(p_alloc(q, 0, 0), 4097);
	EXPECT_EQ(p_alloc(q, 0, 0), -ENOMEM);
	ASSERT_EQ(p_free(q, 8000, 0), 0);
	ASSERT_EQ(p_free(q, 100, 0), 0);
	ASSERT_EQ(p_free(q, 101, 0), 0);	/* order 1 at 100 */
	ASSERT_EQ(p_free(q, 6000, 0), 0);
	EXPECT_EQ(p_alloc(q, 1, 0), 100);
	EXPECT_EQ(p_alloc(q, 0, 0), 6000);
	EXPECT_EQ(p_alloc(q, 0, 0), 8000);
	EXPECT_EQ(p_check(q), 0);
	return true;
}

static bool policy_test(void)
{
	struct pool p, big;

	if (pool_init(&p, 6) && pool_init(&big, 13))
		policy_body(&p, &big);
	pool_release(&p);
	pool_release(&big);
	return true;
}

/* A bit to flip, and the corruption it stands for. */
struct flip {
	u64 *word;
	unsigned int bit;
	const char *what;
};

/* The checker the other tests lean on finds each kind of corruption. */
static bool check_detects_body(struct pool *p)
{
	struct buddy_core *bc = &p->bc;
	/* In a pool of 8192 units (three levels for order 0), as set below. */
	const struct flip flips[] = {
		{ &free_level(bc, 0, 0)[0], 0, "free bit under a live block's start" },
		{ &free_level(bc, 0, 0)[0], 3, "no bit at a free block's start" },
		{ &free_level(bc, 2, 0)[0], 1, "no bit at a free block's start" },
		{ &free_level(bc, 0, 0)[0], 4, "two free bits at a block's start" },
		{ &free_level(bc, 0, 0)[0], 5, "a free bit inside a free block" },
		{ &free_level(bc, 0, 0)[0], 1, "a free bit inside a live block" },
		{ &free_level(bc, 1, 0)[3], 0, "a free bit inside a free block" },
		{ &free_level(bc, 3, 0)[0], 0, "a free bit over live blocks" },
		{ &alloc_bits(bc, 1)[0], 0, "no bit at a live block's start" },
		{ &alloc_bits(bc, 0)[0], 3, "free and allocated" },
		{ &alloc_bits(bc, 2)[0], 1, "free and allocated" },
		{ &alloc_bits(bc, 0)[0], 1, "an alloc bit inside a live block" },
		{ &alloc_bits(bc, 0)[0], 9, "an alloc bit inside a free block" },
		{ &alloc_bits(bc, 3)[0], 0, "two alloc bits at a block's start" },
		{ &alloc_bits(bc, 12)[0], 1, "an alloc bit over a free block" },
		{ &free_level(bc, 0, 1)[0], 0, "summary clear over a non-zero word" },
		{ &free_level(bc, 0, 2)[0], 0, "top clear over a non-zero word" },
		{ &free_level(bc, 2, 1)[0], 0, "top clear over a non-zero word" },
		{ &free_level(bc, 0, 2)[0], 2, "top word past its 2 bits" },
		{ &free_level(bc, 2, 1)[0], 32, "summary past its 32 bits" },
		{ &free_level(bc, 8, 0)[0], 32, "free map past its 32 bits" },
		{ &free_level(bc, 12, 0)[0], 2, "free map past its 2 bits" },
		{ &free_level(bc, 13, 0)[0], 1, "free map past its 1 bit" },
		{ &free_level(bc, 13, 0)[0], 63, "free map past its 1 bit" },
		{ &alloc_bits(bc, 10)[0], 8, "alloc map past its 8 bits" },
		{ &alloc_bits(bc, 13)[0], 1, "alloc map past its 1 bit" },
		{ &bc->nonempty, 1, "nonempty without a free block" },
		{ &bc->nonempty, 0, "free blocks, nonempty clear" },
		{ &bc->nonempty, 13, "nonempty without a free block" },
		{ &bc->nonempty, 14, "nonempty past max_order" },
		{ &bc->nonempty, 63, "nonempty past max_order" },
	};
	struct snapshot snap;
	unsigned int i;

	/* Allocated: order 1 at 0, order 0 at 2; free: 3, then 2^k at 2^k. */
	ASSERT_EQ(buddy_core_alloc(bc, 1, 0), 0);
	ASSERT_EQ(buddy_core_alloc(bc, 0, 0), 2);
	ASSERT_EQ(buddy_core_check(bc), 0);
	ASSERT_EQ(bc->top[0], 2);
	ASSERT_EQ(bc->top[2], 1);
	ASSERT_EQ(bc->top[8], 0);

	take_snapshot(&snap, p);
	for (i = 0; i < ARRAY_SIZE(flips); i++) {
		*flips[i].word ^= 1ULL << flips[i].bit;
		EXPECT(buddy_core_check(bc) == -EUCLEAN, "flip %u (%s) not found",
		       i, flips[i].what);
		*flips[i].word ^= 1ULL << flips[i].bit;
		if (!EXPECT(buddy_core_check(bc) == 0, "flip %u not undone", i))
			break;
	}
	expect_unchanged(&snap, p);
	drop_snapshot(&snap);

	bc->free_units++;
	EXPECT_EQ(buddy_core_check(bc), -EUCLEAN);
	bc->free_units -= 2;
	EXPECT_EQ(buddy_core_check(bc), -EUCLEAN);
	bc->free_units++;
	bc->nr_free[3]++;
	EXPECT_EQ(buddy_core_check(bc), -EUCLEAN);
	bc->nr_free[3]--;
	bc->nr_free[0]--;			/* and nonempty disagrees too */
	EXPECT_EQ(buddy_core_check(bc), -EUCLEAN);
	bc->nr_free[0]++;
	bc->nr_free[1]++;
	bc->nonempty |= 1ULL << 1;		/* nonempty agrees, the count not */
	EXPECT_EQ(buddy_core_check(bc), -EUCLEAN);
	bc->nr_free[1]--;
	bc->nonempty &= ~(1ULL << 1);
	EXPECT_EQ(buddy_core_check(bc), 0);

	/*
	 * Unit 2 made free behind the core's back, counters and all: only the
	 * merge is missing, two free buddies (2 and 3) side by side.
	 */
	alloc_bits(bc, 0)[0] &= ~(1ULL << 2);
	free_level(bc, 0, 0)[0] |= 1ULL << 2;
	bc->nr_free[0]++;
	bc->free_units++;
	EXPECT_EQ(buddy_core_check(bc), -EUCLEAN);
	alloc_bits(bc, 0)[0] |= 1ULL << 2;
	free_level(bc, 0, 0)[0] &= ~(1ULL << 2);
	bc->nr_free[0]--;
	bc->free_units--;
	EXPECT_EQ(buddy_core_check(bc), 0);
	return true;
}

static bool check_detects_test(void)
{
	struct pool p;

	if (pool_init(&p, 13))
		check_detects_body(&p);
	pool_release(&p);
	return true;
}

/*
 * Corrupted maps make alloc fail with -EUCLEAN rather than hand out a block
 * that is not free, or one past the pool.  On the way it may drop summary
 * bits it found stale, so only the counters must stay as they were.
 */
static bool expect_counters(const struct buddy_core *bc,
			    const struct buddy_core *want)
{
	bool ok = true;

	ok &= EXPECT_EQ(bc->nonempty, want->nonempty);
	ok &= EXPECT_EQ(bc->free_units, want->free_units);
	ok &= EXPECT(!memcmp(bc->nr_free, want->nr_free, sizeof(bc->nr_free)),
		     "nr_free[] changed");
	return ok;
}

static bool alloc_corrupt_body(struct pool *p)
{
	const u64 units = 1ULL << p_max_order(p);
	struct buddy_core *bc = &p->bc, before;
	unsigned int order;
	s64 ret;

	ASSERT_EQ(buddy_core_alloc(bc, 1, 0), 0);
	ASSERT_EQ(buddy_core_alloc(bc, 0, 0), 2);
	ASSERT_EQ(buddy_core_nr_free(bc, 1), 0);
	memcpy(&before, bc, sizeof(before));

	/* nonempty says order 1 has a block; its map is empty. */
	bc->nonempty |= 1ULL << 1;
	EXPECT_EQ(buddy_core_alloc(bc, 1, 0), -EUCLEAN);
	bc->nonempty &= ~(1ULL << 1);
	expect_counters(bc, &before);
	EXPECT_EQ(buddy_core_check(bc), 0);

	/*
	 * Order 13's one-bit map with a bit past its end, and nothing else
	 * free of order 12 or 13: whatever alloc does, no block past the pool.
	 */
	ASSERT_EQ(buddy_core_alloc(bc, 12, 0), 4096);
	memcpy(&before, bc, sizeof(before));
	free_level(bc, 13, 0)[0] |= 1ULL << 1;
	bc->nonempty |= 1ULL << 13;
	bc->nr_free[13]++;
	for (order = 12; order <= 13; order++) {
		ret = buddy_core_alloc(bc, order, 0);
		if (!EXPECT(ret == -EUCLEAN, "alloc(%u) = %" PRId64 " from a bit past"
			    " the map's end, want -EUCLEAN", order, ret) && ret >= 0)
			EXPECT((u64)ret + (1ULL << order) <= units,
			       "alloc(%u) = %" PRId64 ": past the pool", order, ret);
	}
	free_level(bc, 13, 0)[0] &= ~(1ULL << 1);
	bc->nonempty &= ~(1ULL << 13);
	bc->nr_free[13]--;
	if (!expect_counters(bc, &before))
		return false;
	EXPECT_EQ(buddy_core_check(bc), 0);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), 3);
	EXPECT_EQ(buddy_core_free(bc, 4096, 12), 0);
	EXPECT_EQ(buddy_core_check(bc), 0);
	return true;
}

static bool alloc_corrupt_test(void)
{
	struct pool p;

	if (pool_init(&p, 13))
		alloc_corrupt_body(&p);
	pool_release(&p);
	return true;
}

/* Exhaust with single units, free in a random order: back to one block. */
static bool fill_drain_one(unsigned int max_order, u64 *rnd)
{
	u64 units = 1ULL << max_order, i, *order;
	struct pool p;
	bool ok = false;

	order = malloc(units * sizeof(*order));
	ASSERT(order, "out of memory");
	if (!pool_init(&p, max_order))
		goto release;
	for (i = 0; i < units; i++) {
		order[i] = i;
		if (!EXPECT_EQ(p_alloc(&p, 0, 0), (s64)i))
			goto release;
	}
	EXPECT_EQ(p_free_units(&p), 0);
	EXPECT_EQ(p_alloc(&p, 0, 0), -ENOMEM);
	EXPECT_EQ(p_check(&p), 0);
	for (i = units - 1; i > 0; i--) {
		u64 j = rnd_next(rnd) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < units; i++)
		if (!EXPECT_EQ(p_free(&p, order[i], 0), 0))
			goto release;
	ok = EXPECT_EQ(p_free_units(&p), units) &&
	     EXPECT_EQ(p_largest_order(&p), max_order) &&
	     EXPECT_EQ(p_nr_free(&p, max_order), 1) &&
	     EXPECT_EQ(p_check(&p), 0);
release:
	pool_release(&p);
	free(order);
	return ok;
}

static bool fill_drain_test(void)
{
	static const unsigned int orders[] = { 0, 1, 2, 5, 6, 7, 12, 16 };
	u64 rnd = rnd_init(1);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(orders); i++)
		EXPECT(fill_drain_one(orders[i], &rnd), "max_order %u failed", orders[i]);
	return true;
}

/* ------------------------------------------------------------------ */
/* The random model: one bit per unit and the list of live blocks */

struct model {
	struct pool p;
	unsigned int max_order;
	u64 units;
	u64 *used;		/* one bit per unit; bits past the pool set */
	s8 *start_order;	/* order of the live block starting here, or -1 */
	u32 *slot;		/* that block's index in off[] and order[] */
	u64 *off;
	u8 *order;
	u64 live, used_units;
	u64 rnd;
	u8 *snap;		/* the maps before this step, now and then */
	bool policy;		/* check alloc's choice this step (O(pool)) */
	bool plain;		/* no flags (the fill to a full pool) */
	u64 policy_every;	/* steps between those checks */
	u64 allocs, frees, enomem, rejected, wild_frees, policy_checks;
	u64 flagged[3];		/* allocations with TOPDOWN, RANGE, EXACT */
	u64 extent_frees;	/* EXACT extents freed whole */
	u64 enomem_pool;	/* -ENOMEM without RANGE: no block of the order */
	u64 ring_off[8], ring_units[8];	/* recent EXACT extents */
	unsigned int ring_next;
};

static void model_release(struct model *m)
{
	pool_release(&m->p);
	free(m->used);
	free(m->start_order);
	free(m->slot);
	free(m->off);
	free(m->order);
	free(m->snap);
}

static bool model_init(struct model *m, unsigned int max_order, u64 tag)
{
	u64 words;

	memset(m, 0, sizeof(*m));
	m->max_order = max_order;
	m->units = 1ULL << max_order;
	words = (m->units + 63) / 64;
	m->used = calloc(words, sizeof(*m->used));
	m->start_order = malloc(m->units);
	m->slot = calloc(m->units, sizeof(*m->slot));
	m->off = calloc(m->units, sizeof(*m->off));
	m->order = calloc(m->units, sizeof(*m->order));
	m->snap = malloc(cur_ops->meta_size(max_order));
	ASSERT(m->used && m->start_order && m->slot && m->off && m->order &&
	       m->snap, "out of memory");
	memset(m->start_order, -1, m->units);
	/* Units past a pool smaller than a word never look free. */
	if (m->units < 64)
		m->used[0] = ~0ULL << m->units;
	m->rnd = rnd_init(tag);
	return pool_init(&m->p, max_order);
}

static bool window_free(const struct model *m, u64 start, unsigned int order)
{
	u64 w, end = start + (1ULL << order);

	if (order < 6)
		return !(m->used[start / 64] &
			 (((1ULL << (1U << order)) - 1) << (start % 64)));
	for (w = start / 64; w < end / 64; w++)
		if (m->used[w])
			return false;
	return true;
}

static void mark(struct model *m, u64 start, unsigned int order, bool used)
{
	u64 w, end = start + (1ULL << order);

	if (order < 6) {
		u64 mask = ((1ULL << (1U << order)) - 1) << (start % 64);

		if (used)
			m->used[start / 64] |= mask;
		else
			m->used[start / 64] &= ~mask;
		return;
	}
	for (w = start / 64; w < end / 64; w++)
		m->used[w] = used ? ~0ULL : 0;
}

/* The maximal free block at @start is of @order. */
static bool model_maximal(const struct model *m, u64 start, unsigned int order)
{
	return window_free(m, start, order) &&
	       (order == m->max_order ||
		!window_free(m, start & ~((2ULL << order) - 1), order + 1));
}

/* The free blocks of @order that full coalescing implies. */
static u64 model_nr_free(const struct model *m, unsigned int order)
{
	u64 start, count = 0;

	for (start = 0; start < m->units; start += 1ULL << order)
		if (model_maximal(m, start, order))
			count++;
	return count;
}

/*
 * The placement policy, the same on both cores: among the maximal free
 * blocks of the smallest order that fits which meet [@lo, @hi) (units
 * rounded inward to the request's alignment), the lowest (@topdown: the
 * highest); the request's block takes that block's part at the range's
 * start (end).  -ENOMEM if none.  O(pool): only now and then.
 */
static s64 model_policy(const struct model *m, unsigned int order, u64 lo,
			u64 hi, bool topdown)
{
	u64 block = 1ULL << order, start;
	unsigned int k;

	if (lo >= hi)
		return -ENOMEM;
	for (k = order; k <= m->max_order; k++) {
		u64 size = 1ULL << k;
		s64 found = -1;

		for (start = 0; start < m->units; start += size) {
			if (start >= hi || start + size <= lo ||
			    !model_maximal(m, start, k))
				continue;
			found = (s64)start;
			if (!topdown)
				break;
		}
		if (found < 0)
			continue;
		if (topdown)
			return (s64)((found + size < hi ? found + size : hi) - block);
		return (s64)((u64)found > lo ? (u64)found : lo);
	}
	return -ENOMEM;
}

/* Some free window of @order, aligned, inside [@lo, @hi). */
static bool window_free_in(const struct model *m, unsigned int order, u64 lo,
			   u64 hi)
{
	u64 start;

	for (start = lo; start + (1ULL << order) <= hi; start += 1ULL << order)
		if (window_free(m, start, order))
			return true;
	return false;
}

/* Everything the pool reports, recomputed from the bitmap. */
static bool model_verify(struct model *m)
{
	int largest = -ENOMEM;
	unsigned int order;
	u64 w, bits = 0;

	for (w = 0; w < (m->units + 63) / 64; w++)
		bits += __builtin_popcountll(m->used[w]);
	if (m->units < 64)
		bits -= 64 - m->units;
	ASSERT_EQ(bits, m->used_units);
	ASSERT_EQ(p_free_units(&m->p), m->units - m->used_units);
	ASSERT_EQ(p_check(&m->p), 0);
	for (order = 0; order <= m->max_order; order++) {
		u64 want = model_nr_free(m, order);

		ASSERT(p_nr_free(&m->p, order) == want,
		       "order %u: %" PRIu64 " free blocks, model has %" PRIu64,
		       order, p_nr_free(&m->p, order), want);
		if (want)
			largest = order;
	}
	ASSERT_EQ(p_largest_order(&m->p), largest);
	return true;
}

/* A failed call must leave counters, and when copied the maps, as they were. */
static bool model_unchanged(struct model *m, const union core_state *before)
{
	ASSERT(expect_same_state(&m->p, before), "a failed call changed the pool");
	if (m->snap)
		ASSERT(!memcmp(m->p.meta, m->snap, m->p.size),
		       "maps changed by a failed call");
	return true;
}

static void model_add(struct model *m, u64 off, unsigned int order)
{
	mark(m, off, order, true);
	m->start_order[off] = (s8)order;
	m->slot[off] = (u32)m->live;
	m->off[m->live] = off;
	m->order[m->live] = (u8)order;
	m->live++;
	m->used_units += 1ULL << order;
}

/* The live blocks an EXACT extent is made of: one per bit, largest first. */
static void model_add_extent(struct model *m, u64 off, u64 units)
{
	u64 left;
	unsigned int order;

	for (left = units; left; left ^= 1ULL << order) {
		order = 63 - __builtin_clzll(left);

		model_add(m, off, order);
		off += 1ULL << order;
	}
}

static void model_remove(struct model *m, u64 i)
{
	u64 off = m->off[i];
	unsigned int order = m->order[i];

	mark(m, off, order, false);
	m->start_order[off] = -1;
	m->used_units -= 1ULL << order;
	m->live--;
	m->off[i] = m->off[m->live];
	m->order[i] = m->order[m->live];
	m->slot[m->off[i]] = (u32)i;
}

/* free_extent(@off, @units) succeeds iff each of its pieces is live. */
static bool model_extent_live(const struct model *m, u64 off, u64 units)
{
	u64 left;
	unsigned int order;

	if (!units || off >= m->units || units > m->units - off)
		return false;
	for (left = units; left; left ^= 1ULL << order) {
		order = 63 - __builtin_clzll(left);

		if (off & ((1ULL << order) - 1) ||
		    m->start_order[off] != (s8)order)
			return false;
		off += 1ULL << order;
	}
	return true;
}

/* Free an extent through free_extent(), checked against the model. */
static bool model_free_extent(struct model *m, u64 off, u64 units,
			      const union core_state *before)
{
	bool live = model_extent_live(m, off, units);
	unsigned int order;
	u64 left;
	int ret = p_free_extent(&m->p, off, units);

	ASSERT(ret == (live ? 0 : -EINVAL),
	       "free_extent(%" PRIu64 ", %" PRIu64 ") = %d", off, units, ret);
	if (!live) {
		m->rejected++;
		return model_unchanged(m, before);
	}
	for (left = units; left; left ^= 1ULL << order) {
		order = 63 - __builtin_clzll(left);

		model_remove(m, m->slot[off]);
		off += 1ULL << order;
	}
	m->frees++;
	return true;
}

/* Free a live block; now and then try an interior, wrong-order or double free. */
static bool model_free_live(struct model *m, u64 r, const union core_state *before)
{
	u64 i = rnd_next(&m->rnd) % m->live, off = m->off[i];
	unsigned int order = m->order[i];

	/* A recent EXACT extent, whole (if a wild free took a piece: EINVAL). */
	if (!(r & 0x4000000) && m->ring_units[(r >> 27) % 8]) {
		unsigned int k = (r >> 27) % 8;
		u64 units = m->ring_units[k];

		m->ring_units[k] = 0;
		m->extent_frees++;
		return model_free_extent(m, m->ring_off[k], units, before);
	}
	if (order && !(r & 0x700)) {
		u64 inside = off + 1 + rnd_next(&m->rnd) % ((1ULL << order) - 1);

		ASSERT_EQ(p_free(&m->p, inside, (r >> 16) % (order + 1)),
			  -EINVAL);
		ASSERT_EQ(p_free(&m->p, off, order - 1), -EINVAL);
		if (order < m->max_order)
			ASSERT_EQ(p_free(&m->p, off, order + 1), -EINVAL);
		/* An extent one unit longer or shorter is other blocks. */
		ASSERT_EQ(p_free_extent(&m->p, off, (1ULL << order) - 1), -EINVAL);
		if (!model_unchanged(m, before))
			return false;
		m->rejected += 4;
	}
	if (r & 0x8000000) {
		ASSERT(p_free(&m->p, off, order) == 0,
		       "free(%" PRIu64 ", %u) of a live block failed", off, order);
	} else {
		ASSERT(p_free_extent(&m->p, off, 1ULL << order) == 0,
		       "free_extent(%" PRIu64 ", 2^%u) of a live block failed",
		       off, order);
	}
	model_remove(m, i);
	m->frees++;
	if (!(r & 0x3800)) {
		ASSERT(p_free(&m->p, off, order) == -EINVAL,
		       "double free(%" PRIu64 ", %u) accepted", off, order);
		m->rejected++;
	}
	return true;
}

/* Free a random (offset, order): it succeeds only on a live block's start. */
static bool model_free_wild(struct model *m, u64 r, const union core_state *before)
{
	u64 off = rnd_next(&m->rnd);
	unsigned int order = (r >> 20) % (m->max_order + 2);
	int want;

	if (r & 0x30000)
		off %= 2 * m->units;	/* mostly in range; else any 64-bit value */
	m->wild_frees++;
	if (!(r & 0x1c0000)) {
		/* A wild extent: mostly short, now and then anything. */
		u64 units = rnd_next(&m->rnd);

		units %= r & 0x200000 ? 4ULL << order : ~0ULL;
		return model_free_extent(m, off, units, before);
	}
	want = off < m->units && m->start_order[off] == (s8)order ? 0 : -EINVAL;
	ASSERT(p_free(&m->p, off, order) == want,
	       "free(%" PRIu64 ", %u) should return %d", off, order, want);
	if (want)
		m->rejected++;
	else
		model_remove(m, m->slot[off]);
	return !want || model_unchanged(m, before);
}

/* Every way to ask wrongly: -EINVAL, nothing changed. */
static bool model_alloc_invalid(struct model *m, u64 r, const union core_state *before)
{
	u64 v = rnd_next(&m->rnd), pool = m->units;
	unsigned int bit = (r >> 9) % 32;

	switch ((r >> 14) % 8) {
	case 0:
		ASSERT_EQ(p_alloc(&m->p, m->max_order + 1 + (r >> 20) % 64, 0),
			  -EINVAL);
		break;
	case 1:
		/* alloc() takes TOPDOWN only: the rest need a request. */
		if (bit == 0)
			bit = 1 + (r >> 20) % 31;
		ASSERT_EQ(p_alloc(&m->p, 0, 1U << bit), -EINVAL);
		break;
	case 2:
		if (bit < 3)
			bit += 3;
		ASSERT_EQ(p_alloc_req(&m->p, 1, 1U << bit | (v & 7), 0, 0),
			  -EINVAL);
		break;
	case 3:
		ASSERT_EQ(p_alloc_req(&m->p, v & 1 ? 0 : pool + 1 + v % pool,
				      (unsigned int)(v >> 8) & 7 & ~2U, 0, 0),
			  -EINVAL);
		break;
	case 4:
		/* An empty or inverted range. */
		ASSERT_EQ(p_alloc_req(&m->p, 1, BUDDY_CORE_ALLOC_RANGE,
				      v % pool + (v & 1), v % pool), -EINVAL);
		break;
	case 5:
		/* A range past the pool. */
		ASSERT_EQ(p_alloc_req(&m->p, 1, BUDDY_CORE_ALLOC_RANGE, v % pool,
				      pool + 1 + (v >> 32) % pool), -EINVAL);
		break;
	default:
		/* A range without the flag. */
		ASSERT_EQ(p_alloc_req(&m->p, 1, (unsigned int)v & 5,
				      (r >> 40) % pool, 1 + (r >> 40) % pool),
			  -EINVAL);
		break;
	}
	m->rejected++;
	return model_unchanged(m, before);
}

/* A random range: the whole pool's 1/8, a few units, or anything. */
static void model_range(struct model *m, u64 *start, u64 *end)
{
	u64 v = rnd_next(&m->rnd), len;

	switch (v % 4) {
	case 0:
		len = m->units / 8 ? m->units / 8 : 1;
		break;
	case 1:
		len = 1 + (v >> 8) % 16;
		break;
	default:
		len = 1 + (v >> 8) % m->units;
		break;
	}
	if (len > m->units)
		len = m->units;
	*start = (v >> 32) % (m->units - len + 1);
	*end = *start + len;
}

static bool model_alloc(struct model *m, const union core_state *before)
{
	/* P(order = k) = 2^-(k+1): mostly small blocks, now and then large. */
	unsigned int order = __builtin_ctzll(rnd_next(&m->rnd) | (1ULL << 40));
	u64 r = rnd_next(&m->rnd), units, block, start = 0, end = 0, lo, hi;
	unsigned int flags = 0;
	u64 free_before = p_free_units(&m->p);
	s64 ret, want = 0;

	if (order > m->max_order)
		order = m->max_order;
	if (m->plain)
		r |= 0x7f;
	block = 1ULL << order;
	units = block;
	/* Each flag a quarter of the time, independently. */
	if (!(r & 3))
		flags |= BUDDY_CORE_ALLOC_TOPDOWN;
	if (!(r & 0xc))
		flags |= BUDDY_CORE_ALLOC_RANGE;
	if (!(r & 0x30)) {
		flags |= BUDDY_CORE_ALLOC_EXACT;
		/* Sizes whose smallest block is still 2^order. */
		units = order ? block / 2 + 1 + (r >> 8) % (block / 2) : 1;
	}
	lo = 0;
	hi = m->units;
	if (flags & BUDDY_CORE_ALLOC_RANGE) {
		model_range(m, &start, &end);
		lo = (start + block - 1) & ~(block - 1);
		/* What is kept ends by @end; EXACT's tail may pass it. */
		hi = end < units ? 0 : ((end - units) & ~(block - 1)) + block;
	}
	if (m->policy)
		want = model_policy(m, order, lo, hi,
				    flags & BUDDY_CORE_ALLOC_TOPDOWN);
	if (flags & ~BUDDY_CORE_ALLOC_TOPDOWN || r & 0x40)
		ret = p_alloc_req(&m->p, units, flags, start, end);
	else
		ret = p_alloc(&m->p, order, flags);
	if (m->policy) {
		ASSERT(ret == want, "alloc(%" PRIu64 " units, flags %#x, [%" PRIu64
		       ", %" PRIu64 ")) = %" PRId64 ", the policy picks %" PRId64,
		       units, flags, start, end, ret, want);
		m->policy_checks++;
	}
	if (ret == -ENOMEM) {
		ASSERT(!window_free_in(m, order, lo, hi),
		       "-ENOMEM for order %u in [%" PRIu64 ", %" PRIu64
		       ") with a free aligned window", order, start, end);
		m->enomem++;
		m->enomem_pool += !(flags & BUDDY_CORE_ALLOC_RANGE);
		return model_unchanged(m, before);
	}
	ASSERT(ret >= 0, "alloc(%u) returned %" PRId64, order, ret);
	ASSERT(!(ret & ((1LL << order) - 1)), "block %" PRId64 " not aligned to order %u",
	       ret, order);
	ASSERT((u64)ret + block <= m->units, "block %" PRId64 " past the pool",
	       ret);
	if (flags & BUDDY_CORE_ALLOC_RANGE)
		ASSERT((u64)ret >= start && (u64)ret + units <= end,
		       "block %" PRId64 " keeping %" PRIu64 " units outside [%" PRIu64
		       ", %" PRIu64 ")", ret, units, start, end);
	ASSERT(window_free(m, ret, order), "block %" PRId64 " order %u overlaps a live one",
	       ret, order);
	/* EXACT takes exactly @units: the tail is free again at once. */
	ASSERT_EQ(free_before - p_free_units(&m->p), units);
	if (flags & BUDDY_CORE_ALLOC_EXACT) {
		model_add_extent(m, (u64)ret, units);
		m->ring_off[m->ring_next] = (u64)ret;
		m->ring_units[m->ring_next] = units;
		m->ring_next = (m->ring_next + 1) % 8;
	} else {
		model_add(m, ret, order);
	}
	m->flagged[0] += !!(flags & BUDDY_CORE_ALLOC_TOPDOWN);
	m->flagged[1] += !!(flags & BUDDY_CORE_ALLOC_RANGE);
	m->flagged[2] += !!(flags & BUDDY_CORE_ALLOC_EXACT);
	m->allocs++;
	return true;
}

static bool model_step(struct model *m, u64 step)
{
	u64 r = rnd_next(&m->rnd);
	unsigned int kind = r & 0xff;
	union core_state before;
	u8 *snap = m->snap;
	bool ok;

	memcpy(&before, &m->p.state, sizeof(before));
	/* Copying the maps every step would dominate; every 64th is plenty. */
	if (step % 64)
		m->snap = NULL;
	else
		memcpy(snap, m->p.meta, m->p.size);
	m->policy = step % m->policy_every == 0;
	if (m->live && kind < 112)
		ok = model_free_live(m, r, &before);
	else if (kind < 124)
		ok = model_free_wild(m, r, &before);
	else if (kind < 128)
		ok = model_alloc_invalid(m, r, &before);
	else
		ok = model_alloc(m, &before);
	m->snap = snap;
	if (!ok)
		printf("    # at step %" PRIu64 "\n", step);
	return ok;
}

/* Allocate, each call checked with its placement, until one fails. */
static void model_fill(struct model *m)
{
	u8 *snap = m->snap;
	u64 extra;

	m->snap = NULL;		/* no map copy to compare with */
	m->policy = true;
	m->plain = true;
	for (extra = 0; !m->enomem_pool && extra <= m->units; extra++) {
		union core_state before;

		memcpy(&before, &m->p.state, sizeof(before));
		if (!model_alloc(m, &before))
			break;
	}
	m->snap = snap;
	m->plain = false;
	if (extra)
		printf("    # filled the pool: %" PRIu64 " more calls to -ENOMEM\n",
		       extra);
}

/* Free every live block: the pool must coalesce back into one. */
static bool model_drain(struct model *m)
{
	while (m->live) {
		u64 i = rnd_next(&m->rnd) % m->live;

		ASSERT_EQ(p_free(&m->p, m->off[i], m->order[i]), 0);
		model_remove(m, i);
	}
	ASSERT_EQ(p_nr_free(&m->p, m->max_order), 1);
	return model_verify(m);
}

/*
 * @verify_every steps the whole model is compared, and every
 * @policy_every steps alloc's choice too; else only its validity.
 */
static bool model_run(unsigned int max_order, u64 ops, u64 verify_every,
		      u64 policy_every, u64 tag)
{
	struct model m;
	u64 i;

	if (model_init(&m, max_order, tag)) {
		m.policy_every = policy_every;
		for (i = 0; i < ops; i++)
			if (!model_step(&m, i) ||
			    (i % verify_every == 0 && !model_verify(&m)))
				break;
		if (i == ops && model_verify(&m)) {
			printf("    # max_order %u: %" PRIu64 " allocs, %" PRIu64 " frees, %"
			       PRIu64 " -ENOMEM, %" PRIu64 " wild frees, %" PRIu64
			       " rejected calls, %" PRIu64 " placements checked\n",
			       max_order, m.allocs, m.frees, m.enomem, m.wild_frees,
			       m.rejected, m.policy_checks);
			printf("    # with TOPDOWN %" PRIu64 ", RANGE %" PRIu64
			       ", EXACT %" PRIu64 "; EXACT extents freed whole %"
			       PRIu64 "\n", m.flagged[0], m.flagged[1],
			       m.flagged[2], m.extent_frees);
			/*
			 * The mix must also reach a full pool.  On large pools
			 * the walk may not get there in @ops steps (it depends
			 * on the seed), so allocate on until -ENOMEM: at most
			 * 2^max_order allocations succeed first.
			 */
			model_fill(&m);
			EXPECT(m.enomem_pool > 0, "no -ENOMEM after filling the pool");
			EXPECT(m.rejected > 0, "no rejected call");
			EXPECT(m.policy_checks > 0, "no placement checked");
			EXPECT(m.flagged[0] && m.flagged[1] && m.flagged[2],
			       "a flag never used");
			model_drain(&m);
		}
	}
	model_release(&m);
	return true;
}

/*
 * The long run: >= 1M steps on 16384 units, the whole model every 1024,
 * the placement every 64th step.
 */
static bool random_model_test(void)
{
	return model_run(14, model_ops, 1024, 64, 2);
}

/*
 * Small pools with buddy_core_check(), the whole model and the placement
 * after every step: 64 units (one word per map), 512 (order 0 with a
 * summary level) and 4 (mostly padding).  Then 8192 units, order 0 with two
 * summary levels, the placement still every step: whichever summary bits
 * the core leaves stale for a while (buddy_core.h), the choice must stay
 * the lowest block, through words, summary words and the top word.
 */
static bool random_checked_test(void)
{
	model_run(6, 50000, 1, 1, 3);
	model_run(9, 20000, 1, 1, 7);
	model_run(2, 5000, 1, 1, 4);
	model_run(13, 20000, 256, 1, 8);
	return true;
}

/* ------------------------------------------------------------------ */
/* Big pools: a few live blocks, the free lists they imply in O(live) */

#define MAX_BLKS	40

/* Count the maximal free blocks, descending only into windows a block touches. */
static void sparse_nr_free(const struct blk *b, unsigned int n, u64 start,
			   unsigned int order, u64 *nr_free)
{
	u64 end = start + (1ULL << order);
	bool split = false;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (b[i].off >= end || b[i].off + (1ULL << b[i].order) <= start)
			continue;
		if (b[i].off == start && b[i].order == order)
			return;		/* the window is that live block */
		split = true;
	}
	if (!split) {
		nr_free[order]++;
	} else if (order) {
		sparse_nr_free(b, n, start, order - 1, nr_free);
		sparse_nr_free(b, n, start + (1ULL << (order - 1)), order - 1, nr_free);
	}
}

static bool expect_sparse(const struct pool *bc, const struct blk *b,
			  unsigned int n)
{
	u64 nr_free[BUDDY_CORE_MAX_ORDER + 1] = { 0 }, used = 0;
	unsigned int max_order = p_max_order(bc), order, i;
	int largest = -ENOMEM;

	sparse_nr_free(b, n, 0, max_order, nr_free);
	for (i = 0; i < n; i++)
		used += 1ULL << b[i].order;
	ASSERT_EQ(p_free_units(bc), (1ULL << max_order) - used);
	for (order = 0; order <= max_order; order++) {
		ASSERT(p_nr_free(bc, order) == nr_free[order],
		       "order %u: %" PRIu64 " free blocks, expected %" PRIu64, order,
		       p_nr_free(bc, order), nr_free[order]);
		if (nr_free[order])
			largest = order;
	}
	ASSERT_EQ(p_largest_order(bc), largest);
	return true;
}

/* Allocate one block and check it against the others and the free lists. */
static bool big_alloc(struct pool *bc, struct blk *b, unsigned int *n,
		      unsigned int order)
{
	unsigned int max_order = p_max_order(bc), i;
	s64 ret = p_alloc(bc, order, 0);
	u64 off = (u64)ret, end = off + (1ULL << order);

	ASSERT(*n < MAX_BLKS, "too many blocks");
	ASSERT(ret >= 0, "alloc(%u) returned %" PRId64, order, ret);
	ASSERT(!(off & ((1ULL << order) - 1)), "block %" PRIu64 " not aligned to order %u",
	       off, order);
	ASSERT(end <= 1ULL << max_order, "block %" PRIu64 " order %u past the pool",
	       off, order);
	for (i = 0; i < *n; i++)
		ASSERT(end <= b[i].off || off >= b[i].off + (1ULL << b[i].order),
		       "block %" PRIu64 " order %u overlaps %" PRIu64 " order %u",
		       off, order, b[i].off, b[i].order);
	b[(*n)++] = (struct blk){ off, order };
	return expect_sparse(bc, b, *n);
}

/* Free the blocks in a random order, checking the free lists after each. */
static bool big_free_all(struct pool *bc, struct blk *b, unsigned int *n,
			 u64 *rnd)
{
	while (*n) {
		unsigned int i = rnd_next(rnd) % *n;

		ASSERT(p_free(bc, b[i].off, b[i].order) == 0,
		       "free(%" PRIu64 ", %u) failed", b[i].off, b[i].order);
		b[i] = b[--(*n)];
		if (!expect_sparse(bc, b, *n))
			return false;
	}
	ASSERT_EQ(p_nr_free(bc, p_max_order(bc)), 1);
	return true;
}

/*
 * buddy_core_check() walks the blocks, then reads every word of the maps:
 * 0.5 GiB at max_order 30, 2 GiB at 32, about 0.3 s and 1 s in a plain
 * build and hardly more under ASan (which cannot guard inside one mmap).
 * Cheap enough for every variant, although -funsigned-char compiles
 * buddy_core.c to the same code (no char in it; objdump agrees).
 * BUDDY_SLOW_CHECK=0 skips it.
 */
#define SLOW_CHECK_DEFAULT	true

/* A variant's default for a costly step, or the environment's 0 or 1. */
static bool enabled(const char *name, bool dflt)
{
	const char *env = getenv(name);

	return env && *env ? *env != '0' : dflt;
}

static bool slow_check(const struct pool *bc)
{
	double t = now();
	int ret;

	if (!enabled("BUDDY_SLOW_CHECK", SLOW_CHECK_DEFAULT)) {
		printf("    # %s check skipped in this variant\n", bc->ops->name);
		return true;
	}
	ret = p_check(bc);
	printf("    # %s check: %.1f s\n", bc->ops->name, now() - t);
	return EXPECT_EQ(ret, 0);
}

static bool max_order30_body(struct pool *p)
{
	static const unsigned int orders[] = {
		0, 29, 12, 28, 1, 20, 0, 27, 5, 16, 26, 3, 25, 0, 24, 10,
	};
	struct pool *bc = p;
	struct blk b[MAX_BLKS];
	struct snapshot snap;
	u64 rnd = rnd_init(5);
	unsigned int n = 0, i;

	ASSERT(expect_sparse(bc, b, 0), "fresh pool");
	/* Order 30 itself: the whole pool as one block. */
	ASSERT_EQ(p_alloc(bc, 30, 0), 0);
	EXPECT_EQ(p_free_units(bc), 0);
	EXPECT_EQ(p_largest_order(bc), -ENOMEM);
	take_snapshot(&snap, p);
	EXPECT_EQ(p_alloc(bc, 0, 0), -ENOMEM);
	EXPECT_EQ(p_alloc(bc, 31, 0), -EINVAL);
	EXPECT_EQ(p_free(bc, 0, 29), -EINVAL);
	EXPECT_EQ(p_free(bc, 1ULL << 29, 29), -EINVAL);
	EXPECT_EQ(p_free(bc, (1ULL << 30) - 1, 0), -EINVAL);
	EXPECT_EQ(p_free(bc, 0, 31), -EINVAL);
	expect_unchanged(&snap, p);
	drop_snapshot(&snap);
	ASSERT_EQ(p_free(bc, 0, 30), 0);
	EXPECT_EQ(p_free(bc, 0, 30), -EINVAL);
	ASSERT(expect_sparse(bc, b, 0), "after freeing the whole pool");

	for (i = 0; i < ARRAY_SIZE(orders); i++)
		if (!big_alloc(bc, b, &n, orders[i]))
			return false;
	/* Errors against live blocks change nothing. */
	take_snapshot(&snap, p);
	for (i = 0; i < n; i++) {
		if (b[i].order) {
			EXPECT_EQ(p_free(bc, b[i].off + 1, 0), -EINVAL);
			EXPECT_EQ(p_free(bc, b[i].off, b[i].order - 1), -EINVAL);
		}
		EXPECT_EQ(p_free(bc, b[i].off, b[i].order + 1), -EINVAL);
		EXPECT_EQ(p_free(bc, b[i].off + (1ULL << 30), b[i].order),
			  -EINVAL);
	}
	EXPECT_EQ(p_alloc(bc, 30, 0), -ENOMEM);
	expect_unchanged(&snap, p);
	drop_snapshot(&snap);
	if (!slow_check(bc))
		return false;
	return big_free_all(bc, b, &n, &rnd);
}

/* 2^30 units, 0.5 GiB of maps: order 30 itself, then a mix of orders. */
static bool max_order30_test(void)
{
	struct pool p;

	if (pool_init(&p, 30))
		max_order30_body(&p);
	pool_release(&p);
	return true;
}

static bool max_order32_body(struct pool *p)
{
	const u64 half = 1ULL << 31, units = 1ULL << 32;
	struct pool *bc = p;
	struct blk b[MAX_BLKS];
	u64 rnd = rnd_init(6), end = 0;
	struct snapshot snap;
	unsigned int n = 0, i;
	int order;

	ASSERT_EQ(p_alloc(bc, 32, 0), 0);
	EXPECT_EQ(p_alloc(bc, 0, 0), -ENOMEM);
	ASSERT_EQ(p_free(bc, 0, 32), 0);

	/* Two halves: whatever the policy, the second starts at 2^31. */
	ASSERT_EQ(p_alloc(bc, 31, 0), 0);
	ASSERT_EQ(p_alloc(bc, 31, 0), (s64)half);
	EXPECT_EQ(p_free_units(bc), 0);
	EXPECT_EQ(p_alloc(bc, 0, 0), -ENOMEM);
	EXPECT_EQ(p_alloc(bc, 33, 0), -EINVAL);
	/* 2^31 sign-extended from 32 bits, or with bit 32 set: both refused. */
	take_snapshot(&snap, p);
	EXPECT_EQ(p_free(bc, (u64)(s64)INT32_MIN, 31), -EINVAL);
	EXPECT_EQ(p_free(bc, half + units, 31), -EINVAL);
	EXPECT_EQ(p_free(bc, half, 30), -EINVAL);
	EXPECT_EQ(p_free(bc, half, 32), -EINVAL);
	EXPECT_EQ(p_free(bc, units, 0), -EINVAL);
	expect_unchanged(&snap, p);
	drop_snapshot(&snap);
	ASSERT_EQ(p_free(bc, half, 31), 0);
	EXPECT_EQ(p_free(bc, half, 31), -EINVAL);
	EXPECT_EQ(p_free_units(bc), half);
	EXPECT_EQ(p_largest_order(bc), 31);
	b[n++] = (struct blk){ 0, 31 };
	ASSERT(expect_sparse(bc, b, n), "one half live");

	/* Fill the upper half with orders 30..0 and one more unit. */
	for (order = 30; order >= -1; order--)
		if (!big_alloc(bc, b, &n, order < 0 ? 0 : order))
			return false;
	for (i = 0; i < n; i++) {
		EXPECT(!i || b[i].off >= half, "upper-half block %" PRIu64 " below 2^31",
		       b[i].off);
		if (b[i].off + (1ULL << b[i].order) > end)
			end = b[i].off + (1ULL << b[i].order);
	}
	EXPECT_EQ(end, units);
	EXPECT_EQ(p_free_units(bc), 0);
	EXPECT_EQ(p_alloc(bc, 0, 0), -ENOMEM);
	if (!slow_check(bc))
		return false;
	/* The last unit is the only free one: it must come back exactly. */
	ASSERT_EQ(p_free(bc, units - 1, 0), 0);
	EXPECT_EQ(p_largest_order(bc), 0);
	ASSERT_EQ(p_alloc(bc, 0, 0), (s64)(units - 1));
	printf("    # second half at %" PRIu64 ", last unit at %" PRIu64 "\n",
	       half, units - 1);
	return big_free_all(bc, b, &n, &rnd);
}

/*
 * 2^32 units, 2 GiB of maps, offsets past 2^31 (seed defect 6).  The
 * O(live) model of the free lists checks every step, and the O(pool)
 * buddy_core_check() (about 1 s) the full pool once.
 *
 * The cost is the kernel faulting in 2 GiB for buddy_core_init(): 4-5 s on
 * a 2-core host, more on a busy one, in every variant that runs it.  To
 * keep "make test" within a minute only one variant runs it, and the
 * sanitized one sees the most.  UBSan catches a 32-bit shift or sign
 * extension on these offsets even when the result comes out right, and only
 * a pool past 2^31 units has such offsets.  ASan adds little time here.
 * The plain and -funsigned-char builds of buddy_core.c are the same machine
 * code (see slow_check()) and check the same things, minus UB.
 * BUDDY_ORDER32=0 or 1 overrides.
 */
#ifdef __SANITIZE_ADDRESS__
#define ORDER32_DEFAULT		true
#else
#define ORDER32_DEFAULT		false
#endif

/*
 * The tree's 2^32 units take 8.2 GiB of nodes, all written by init: 60-80 s
 * and 8 GiB of a host shared with others, so no variant runs it unless
 * BUDDY_ORDER32=1 says so.  Its 2^30 pool (2 GiB, the whole check) runs in
 * every variant; the offsets past 2^31 are the same code on more levels.
 */
#define TREE_ORDER32_DEFAULT	false

static bool max_order32_test(void)
{
	struct pool p;

	if (pool_init(&p, 32))
		max_order32_body(&p);
	pool_release(&p);
	return true;
}

/* ------------------------------------------------------------------ */
/* Placement flags, on both cores */

#define TOPDOWN	BUDDY_CORE_ALLOC_TOPDOWN
#define RANGE	BUDDY_CORE_ALLOC_RANGE
#define EXACT	BUDDY_CORE_ALLOC_EXACT

/* TOPDOWN: the highest block of the smallest order that fits. */
static bool topdown_body(struct pool *p)
{
	ASSERT_EQ(p_alloc(p, 0, TOPDOWN), 63);
	ASSERT_EQ(p_alloc_req(p, 1, TOPDOWN, 0, 0), 62);
	/* Free now: 0-31, 32-47, 48-55, 56-59, 60-61; order 2 fits 56-59. */
	EXPECT_EQ(p_alloc(p, 2, TOPDOWN), 56);
	EXPECT_EQ(p_alloc(p, 1, TOPDOWN), 60);
	/* Plain allocations still take the lowest of the smallest order. */
	EXPECT_EQ(p_alloc(p, 0, 0), 48);
	/* Free: 0-31, 32-47, 49, 50-51, 52-55: the unit, not a higher block. */
	EXPECT_EQ(p_alloc(p, 0, TOPDOWN), 49);
	/* No order 3 left: the top half of 32-47, then its bottom half. */
	EXPECT_EQ(p_alloc(p, 3, TOPDOWN), 40);
	EXPECT_EQ(p_alloc(p, 3, TOPDOWN), 32);
	EXPECT_EQ(p_alloc(p, 5, TOPDOWN), 0);
	EXPECT_EQ(p_alloc(p, 4, TOPDOWN), -ENOMEM);
	EXPECT_EQ(p_alloc(p, 2, TOPDOWN), 52);
	EXPECT_EQ(p_check(p), 0);
	return true;
}

/* RANGE: inside [start, end), split if a free block straddles it. */
static bool range_body(struct pool *p)
{
	struct snapshot snap;

	EXPECT_EQ(p_alloc_req(p, 4, RANGE, 10, 20), 12);
	EXPECT_EQ(p_alloc_req(p, 4, RANGE | TOPDOWN, 10, 20), 16);
	/* 3 units round up to 4; 13..19 holds no aligned 4 now. */
	take_snapshot(&snap, p);
	EXPECT_EQ(p_alloc_req(p, 3, RANGE, 10, 20), -ENOMEM);
	EXPECT_EQ(p_alloc_req(p, 4, RANGE, 10, 13), -ENOMEM);
	EXPECT_EQ(p_alloc_req(p, 8, RANGE, 9, 24), -ENOMEM);
	expect_unchanged(&snap, p);
	drop_snapshot(&snap);
	/* Still room beside them, and in a one-unit range. */
	EXPECT_EQ(p_alloc_req(p, 2, RANGE, 10, 20), 10);
	EXPECT_EQ(p_alloc_req(p, 1, RANGE, 63, 64), 63);
	EXPECT_EQ(p_alloc_req(p, 1, RANGE | TOPDOWN, 0, 64), 62);
	/* No unit free now: the lowest pair, 8-9 (10-11 went above). */
	EXPECT_EQ(p_alloc_req(p, 1, RANGE, 0, 64), 8);
	/* The whole pool as the range: the plain choice. */
	EXPECT_EQ(p_alloc_req(p, 16, RANGE, 0, 64), 32);
	EXPECT_EQ(p_alloc_req(p, 64, RANGE, 0, 64), -ENOMEM);
	EXPECT_EQ(p_check(p), 0);
	return true;
}

/* EXACT: the extent is exactly the units asked for, the tail free at once. */
static bool exact_body(struct pool *p)
{
	struct snapshot snap;

	ASSERT_EQ(p_alloc_req(p, 5, EXACT, 0, 0), 0);
	EXPECT_EQ(p_free_units(p), 59);
	/* The tail 5-7 back as 5 (order 0) and 6-7 (order 1). */
	EXPECT_EQ(p_nr_free(p, 0), 1);
	EXPECT_EQ(p_nr_free(p, 1), 1);
	EXPECT_EQ(p_nr_free(p, 2), 0);
	EXPECT_EQ(p_nr_free(p, 3), 1);
	EXPECT_EQ(p_check(p), 0);
	/* The extent is blocks 0-3 and 4: not 0-7, not 0-4 as one block. */
	take_snapshot(&snap, p);
	EXPECT_EQ(p_free(p, 0, 3), -EINVAL);
	EXPECT_EQ(p_free_extent(p, 0, 8), -EINVAL);
	EXPECT_EQ(p_free_extent(p, 0, 6), -EINVAL);
	EXPECT_EQ(p_free_extent(p, 1, 4), -EINVAL);
	EXPECT_EQ(p_free_extent(p, 0, 0), -EINVAL);
	EXPECT_EQ(p_free_extent(p, 64, 1), -EINVAL);
	EXPECT_EQ(p_free_extent(p, 60, 5), -EINVAL);
	EXPECT_EQ(p_free_extent(p, 4, UINT64_MAX), -EINVAL);
	EXPECT_EQ(p_free_extent(p, UINT64_MAX, 2), -EINVAL);
	expect_unchanged(&snap, p);
	drop_snapshot(&snap);
	EXPECT_EQ(p_free_extent(p, 0, 5), 0);
	EXPECT_EQ(p_nr_free(p, 6), 1);
	EXPECT_EQ(p_free_extent(p, 0, 5), -EINVAL);

	/* A piece freed alone: the extent is no longer whole. */
	ASSERT_EQ(p_alloc_req(p, 7, EXACT, 0, 0), 0);
	EXPECT_EQ(p_free_units(p), 57);
	ASSERT_EQ(p_free(p, 4, 1), 0);
	take_snapshot(&snap, p);
	EXPECT_EQ(p_free_extent(p, 0, 7), -EINVAL);
	expect_unchanged(&snap, p);
	drop_snapshot(&snap);
	EXPECT_EQ(p_free_extent(p, 0, 4), 0);
	EXPECT_EQ(p_free(p, 6, 0), 0);
	EXPECT_EQ(p_nr_free(p, 6), 1);

	/* With TOPDOWN: the highest block of 8, the extent at its start. */
	ASSERT_EQ(p_alloc_req(p, 5, EXACT | TOPDOWN, 0, 0), 56);
	EXPECT_EQ(p_alloc(p, 0, TOPDOWN), 61);
	EXPECT_EQ(p_alloc(p, 1, TOPDOWN), 62);
	/* All three: a 4-block inside [8, 40), the highest; 3 units of it. */
	ASSERT_EQ(p_alloc_req(p, 3, EXACT | TOPDOWN | RANGE, 8, 40), 36);
	EXPECT_EQ(p_alloc_req(p, 1, RANGE, 36, 40), 39);
	EXPECT_EQ(p_free_units(p), 64 - 5 - 1 - 2 - 3 - 1);
	EXPECT_EQ(p_check(p), 0);
	EXPECT_EQ(p_free_extent(p, 36, 3), 0);
	EXPECT_EQ(p_free(p, 39, 0), 0);
	EXPECT_EQ(p_free_extent(p, 56, 5), 0);
	EXPECT_EQ(p_free(p, 61, 0), 0);
	EXPECT_EQ(p_free_extent(p, 62, 2), 0);
	EXPECT_EQ(p_nr_free(p, 6), 1);
	/* A power of two with EXACT is the plain block. */
	ASSERT_EQ(p_alloc_req(p, 64, EXACT, 0, 0), 0);
	EXPECT_EQ(p_free(p, 0, 6), 0);
	EXPECT_EQ(p_check(p), 0);
	return true;
}

/* Every bad request: -EINVAL, nothing changed. */
static bool flags_invalid_body(struct pool *p)
{
	struct snapshot snap;
	unsigned int bit;

	ASSERT_EQ(p_alloc(p, 2, 0), 0);
	take_snapshot(&snap, p);
	for (bit = 3; bit < 32; bit++) {
		EXPECT_EQ(p_alloc_req(p, 1, 1U << bit, 0, 0), -EINVAL);
		EXPECT_EQ(p_alloc_req(p, 1, (1U << bit) | TOPDOWN | RANGE | EXACT,
				      0, 8), -EINVAL);
		EXPECT_EQ(p_alloc(p, 0, 1U << bit), -EINVAL);
	}
	/* alloc() has no fields for RANGE or EXACT. */
	EXPECT_EQ(p_alloc(p, 0, RANGE), -EINVAL);
	EXPECT_EQ(p_alloc(p, 0, EXACT), -EINVAL);
	EXPECT_EQ(p_alloc(p, 7, TOPDOWN), -EINVAL);
	EXPECT_EQ(p_alloc_req(p, 0, 0, 0, 0), -EINVAL);
	EXPECT_EQ(p_alloc_req(p, 0, EXACT, 0, 0), -EINVAL);
	EXPECT_EQ(p_alloc_req(p, 65, 0, 0, 0), -EINVAL);
	EXPECT_EQ(p_alloc_req(p, UINT64_MAX, EXACT, 0, 0), -EINVAL);
	/* Ranges: empty, inverted, past the pool, or without the flag. */
	EXPECT_EQ(p_alloc_req(p, 1, RANGE, 8, 8), -EINVAL);
	EXPECT_EQ(p_alloc_req(p, 1, RANGE, 9, 8), -EINVAL);
	EXPECT_EQ(p_alloc_req(p, 1, RANGE, 0, 65), -EINVAL);
	EXPECT_EQ(p_alloc_req(p, 1, RANGE, 64, 65), -EINVAL);
	EXPECT_EQ(p_alloc_req(p, 1, RANGE, 0, UINT64_MAX), -EINVAL);
	EXPECT_EQ(p_alloc_req(p, 1, RANGE | EXACT, UINT64_MAX - 1, UINT64_MAX),
		  -EINVAL);
	EXPECT_EQ(p_alloc_req(p, 1, 0, 0, 8), -EINVAL);
	EXPECT_EQ(p_alloc_req(p, 1, EXACT | TOPDOWN, 4, 0), -EINVAL);
	/* Well formed, but nothing fits: -ENOMEM, also unchanged. */
	EXPECT_EQ(p_alloc_req(p, 64, EXACT, 0, 0), -ENOMEM);
	EXPECT_EQ(p_alloc_req(p, 2, RANGE, 0, 4), -ENOMEM);
	EXPECT_EQ(p_alloc_req(p, 33, EXACT | RANGE, 0, 63), -ENOMEM);
	expect_unchanged(&snap, p);
	drop_snapshot(&snap);
	return EXPECT_EQ(p_check(p), 0);
}

/* Run @body on a fresh pool of 2^@max_order units of the core under test. */
static bool on_pool(unsigned int max_order, bool (*body)(struct pool *p))
{
	struct pool p;

	if (pool_init(&p, max_order))
		body(&p);
	pool_release(&p);
	return true;
}

static bool topdown_test(void)
{
	return on_pool(6, topdown_body);
}

static bool range_test(void)
{
	return on_pool(6, range_body);
}

static bool exact_test(void)
{
	return on_pool(6, exact_body);
}

static bool flags_invalid_test(void)
{
	return on_pool(6, flags_invalid_body);
}

/*
 * Both cores make the same choices: run one random sequence of calls with
 * every flag on a pool of each, and compare every result and the counters.
 */
static bool cores_agree_test(void)
{
	const struct buddy_core_ops *saved = cur_ops;
	struct pool a, b;
	u64 rnd = rnd_init(9), off[512], units[512], i;
	unsigned int n = 0, order;

	cur_ops = &buddy_core_bitmap_ops;
	if (!pool_init(&a, 12))
		goto out;
	cur_ops = &buddy_tree_ops;
	if (!pool_init(&b, 12))
		goto out;
	for (i = 0; i < 200000; i++) {
		u64 r = rnd_next(&rnd), start = 0, end = 0, u;
		unsigned int flags = r & 7;
		s64 ra, rb;

		if (n && (n == 512 || r & 0x100)) {
			u64 k = (r >> 9) % n;

			ASSERT_EQ(p_free_extent(&a, off[k], units[k]), 0);
			ASSERT_EQ(p_free_extent(&b, off[k], units[k]), 0);
			off[k] = off[--n];
			units[k] = units[n];
			continue;
		}
		order = __builtin_ctzll(rnd_next(&rnd) | (1ULL << 12));
		u = flags & EXACT ? 1 + (r >> 20) % (1ULL << order) :
				    1ULL << order;
		if (flags & RANGE) {
			start = (r >> 32) % 4096;
			end = start + 1 + (r >> 44) % (4096 - start);
		}
		ra = p_alloc_req(&a, u, flags, start, end);
		rb = p_alloc_req(&b, u, flags, start, end);
		ASSERT(ra == rb, "step %" PRIu64 ": alloc(%" PRIu64 ", %#x, [%"
		       PRIu64 ", %" PRIu64 ")): bitmap %" PRId64 ", tree %" PRId64,
		       i, u, flags, start, end, ra, rb);
		ASSERT_EQ(p_free_units(&a), p_free_units(&b));
		if (ra >= 0) {
			off[n] = (u64)ra;
			units[n++] = flags & EXACT ? u : 1ULL << buddy_core_order_for(u);
		}
		if (i % 4096 == 0)
			for (order = 0; order <= 12; order++)
				ASSERT_EQ(p_nr_free(&a, order), p_nr_free(&b, order));
	}
	EXPECT_EQ(p_check(&a), 0);
	EXPECT_EQ(p_check(&b), 0);
out:
	pool_release(&a);
	pool_release(&b);
	cur_ops = saved;
	return true;
}

/* ------------------------------------------------------------------ */
/* The tree's own encoding */

static bool tree_meta_size_test(void)
{
	unsigned int order, s;

	for (order = 0; order <= 40; order++) {
		u64 want = 0;

		for (s = 0; s <= order; s++)
			want += (1ULL << (order - s)) * (s < 8 ? 1 : 8);
		EXPECT(buddy_tree_meta_size(order) == want,
		       "tree meta_size(%u) = %zu, expected %" PRIu64, order,
		       buddy_tree_meta_size(order), want);
	}
	printf("    # tree: %.4f bytes per unit at 2^20\n",
	       (double)buddy_tree_meta_size(20) / (1 << 20));
	EXPECT(buddy_tree_meta_size(BUDDY_TREE_MAX_ORDER) > (1ULL << 62),
	       "tree meta_size(62) = %zu", buddy_tree_meta_size(BUDDY_TREE_MAX_ORDER));
	EXPECT_EQ(buddy_tree_meta_size(BUDDY_TREE_MAX_ORDER + 1), 0);
	EXPECT_EQ(buddy_tree_meta_size(UINT_MAX), 0);
	return true;
}

static bool tree_init_invalid_test(void)
{
	u64 meta[128];
	size_t need = buddy_tree_meta_size(8), i;
	struct buddy_tree bt, untouched;
	char *bytes = (char *)meta;

	memset(&bt, 0x5a, sizeof(bt));
	memcpy(&untouched, &bt, sizeof(bt));
	ASSERT(need <= sizeof(meta) - 8, "meta_size(8) = %zu", need);
	EXPECT_EQ(buddy_tree_init(&bt, 8, NULL, need), -EINVAL);
	EXPECT_EQ(buddy_tree_init(&bt, 8, meta, need - 1), -EINVAL);
	EXPECT_EQ(buddy_tree_init(&bt, 8, meta, 0), -EINVAL);
	EXPECT_EQ(buddy_tree_init(&bt, BUDDY_TREE_MAX_ORDER + 1, meta, SIZE_MAX),
		  -EINVAL);
	for (i = 1; i < 8; i++)
		EXPECT(buddy_tree_init(&bt, 8, bytes + i, need) == -EINVAL,
		       "misaligned by %zu accepted", i);
	EXPECT(!memcmp(&bt, &untouched, sizeof(bt)), "failed init wrote the pool");
	ASSERT_EQ(buddy_tree_init(&bt, 8, bytes + 8, need), 0);
	EXPECT_EQ(buddy_tree_free_units(&bt), 256);
	EXPECT_EQ(buddy_tree_largest_order(&bt), 8);
	EXPECT_EQ(buddy_tree_check(&bt), 0);
	ASSERT_EQ(buddy_tree_init(&bt, 0, meta, 1), 0);
	EXPECT_EQ(buddy_tree_alloc(&bt, 0, 0), 0);
	EXPECT_EQ(buddy_tree_largest_order(&bt), -ENOMEM);
	EXPECT_EQ(buddy_tree_free(&bt, 0, 0), 0);
	return EXPECT_EQ(buddy_tree_check(&bt), 0);
}

/* Node @i of order @s, through the layout buddy_tree.h documents. */
static u64 *tree_node64(struct buddy_tree *bt, unsigned int s, u64 i)
{
	return (u64 *)bt->levels[s] + i;
}

static u8 *tree_node8(struct buddy_tree *bt, unsigned int s, u64 i)
{
	return (u8 *)bt->levels[s] + i;
}

/*
 * The encoding, and buddy_tree_check() catching each way a node can lie.
 * Pool of 2^10 units: orders 0..7 in bytes, 8..10 in u64.
 */
static bool tree_nodes_body(struct pool *p)
{
	struct buddy_tree *bt = &p->bt;
	struct { unsigned int s; u64 i, v; const char *what; } bad[] = {
		{ 10, 0, 1ULL << 10, "root whole with blocks live" },
		{ 9, 0, 0, "a split node missing its children's orders" },
		{ 8, 0, 1ULL << 7 | 1, "a split node with an order too many" },
		{ 3, 0, 0, "an allocated node read as split-full" },
		{ 2, 2, 0xff, "a byte node out of its orders" },
		{ 0, 0, 1, "a live unit read whole" },
		{ 0, 1, 0, "a free unit read allocated" },
		{ 1, 4, 0, "a node below an allocated block not whole" },
		{ 9, 1, 0, "the free half read split-full" },
	};
	unsigned int k;

	ASSERT_EQ(p_alloc(p, 0, 0), 0);
	ASSERT_EQ(p_alloc(p, 3, 0), 8);
	/* Unit 0 allocated (0), unit 1 free (1): their parent holds {0}. */
	EXPECT_EQ(*tree_node8(bt, 0, 0), 0);
	EXPECT_EQ(*tree_node8(bt, 0, 1), 1);
	EXPECT_EQ(*tree_node8(bt, 1, 0), 1);
	EXPECT_EQ(*tree_node8(bt, 3, 1), buddy_tree_allocated(3));
	EXPECT_EQ(*tree_node8(bt, 1, 3), 2);	/* below the live 8: whole */
	EXPECT_EQ(*tree_node64(bt, 9, 1), 1ULL << 9);
	/* The root: orders 0, 1, 2 (2-3, 4-7), 4, 5, ... 9. */
	EXPECT_EQ(*tree_node64(bt, 10, 0), 0x3f7ULL);
	EXPECT_EQ(buddy_tree_root_orders(bt), 0x3f7ULL);
	for (k = 0; k < ARRAY_SIZE(bad); k++) {
		u64 old;

		if (bad[k].s < BUDDY_TREE_BYTE_LEVELS) {
			old = *tree_node8(bt, bad[k].s, bad[k].i);
			*tree_node8(bt, bad[k].s, bad[k].i) = (u8)bad[k].v;
		} else {
			old = *tree_node64(bt, bad[k].s, bad[k].i);
			*tree_node64(bt, bad[k].s, bad[k].i) = bad[k].v;
		}
		EXPECT(p_check(p) == -EUCLEAN, "check missed %s", bad[k].what);
		if (bad[k].s < BUDDY_TREE_BYTE_LEVELS)
			*tree_node8(bt, bad[k].s, bad[k].i) = (u8)old;
		else
			*tree_node64(bt, bad[k].s, bad[k].i) = old;
		ASSERT_EQ(p_check(p), 0);
	}
	bt->nr_free[4]++;
	EXPECT_EQ(p_check(p), -EUCLEAN);
	bt->nr_free[4]--;
	bt->free_units--;
	EXPECT_EQ(p_check(p), -EUCLEAN);
	bt->free_units++;
	/* A corrupted walk down: the order's bit leads to no whole block. */
	*tree_node64(bt, 9, 1) = 0;
	*tree_node64(bt, 10, 0) |= 1ULL << 9;
	EXPECT_EQ(p_alloc(p, 9, 0), -EUCLEAN);
	return true;
}

static bool tree_nodes_test(void)
{
	const struct buddy_core_ops *saved = cur_ops;

	cur_ops = &buddy_tree_ops;
	on_pool(10, tree_nodes_body);
	cur_ops = saved;
	return true;
}

/* ------------------------------------------------------------------ */

/* @both: runs once per core (cur_ops), else on the bitmap core alone. */
struct test_case {
	const char *name;
	bool (*fn)(void);
	bool both;
};

#define TEST(fn) { #fn, fn, false }
#define BOTH(fn) { #fn, fn, true }

static const struct test_case tests[] = {
	TEST(build_variant_test),
	TEST(word_bit63_test),
	TEST(meta_size_test),
	TEST(init_invalid_test),
	TEST(layout_test),
	TEST(tree_meta_size_test),
	TEST(tree_init_invalid_test),
	TEST(tree_nodes_test),
	BOTH(tiny_pool_test),
	BOTH(alloc_errors_test),
	BOTH(free_errors_test),
	TEST(order_for_test),
	BOTH(meta_bounds_test),
	BOTH(coalesce_test),
	BOTH(best_fit_test),
	BOTH(policy_test),
	BOTH(topdown_test),
	BOTH(range_test),
	BOTH(exact_test),
	BOTH(flags_invalid_test),
	TEST(cores_agree_test),
	TEST(check_detects_test),
	TEST(alloc_corrupt_test),
	BOTH(fill_drain_test),
	BOTH(random_checked_test),
	BOTH(random_model_test),
	BOTH(max_order30_test),
	BOTH(max_order32_test),
};

static const struct buddy_core_ops *const cores[] = {
	&buddy_core_bitmap_ops, &buddy_tree_ops,
};

static u64 parse_u64(const char *s, const char *what)
{
	char *end;
	u64 v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end) {
		fprintf(stderr, "core_test: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned int i, passed = 0, failed = 0;
	const char *env, *only;

	/* Line-buffered, so a crash still shows the last test that ran. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2) {
		fprintf(stderr, "usage: %s [seed]\n", argv[0]);
		return 2;
	}
	env = getenv("BUDDY_SEED");
	if (argc == 2)
		seed = parse_u64(argv[1], "seed");
	else if (env && *env)
		seed = parse_u64(env, "BUDDY_SEED");
	else
		seed = (u64)time(NULL) * 1000003 ^ (u64)getpid();
	env = getenv("BUDDY_OPS");
	if (env && *env)
		model_ops = parse_u64(env, "BUDDY_OPS");
	printf("# seed %" PRIu64 " (replay: core_test %" PRIu64 ")\n", seed, seed);

	only = getenv("BUDDY_ONLY");
	for (i = 0; i < ARRAY_SIZE(tests); i++) {
		unsigned int c;

		for (c = 0; c < (tests[i].both ? ARRAY_SIZE(cores) : 1); c++) {
			double t = now();

			cur_ops = cores[c];
			if (only && !strstr(tests[i].name, only))
				continue;
			/* Not part of this variant at all: see max_order32_test(). */
			if (tests[i].fn == max_order32_test &&
			    !enabled("BUDDY_ORDER32", cur_ops == &buddy_tree_ops ?
				     TREE_ORDER32_DEFAULT : ORDER32_DEFAULT))
				continue;
			test_errors = 0;
			tests[i].fn();
			t = now() - t;
			if (t >= 0.1)
				printf("    # %.1f s\n", t);
			if (test_errors > 8)
				printf("    # %u failed checks in all\n", test_errors);
			printf("%s %u %s%s%s\n", test_errors ? "not ok" : "ok", i + 1,
			       tests[i].name, tests[i].both ? " " : "",
			       tests[i].both ? cur_ops->name : "");
			if (test_errors)
				failed++;
			else
				passed++;
		}
	}
	cur_ops = &buddy_core_bitmap_ops;
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
