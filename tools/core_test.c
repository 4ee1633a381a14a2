// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace tests for buddy_core, on the same buddy_core.c the kernel builds.
 *
 * tools/Makefile builds this three times: plain, with -funsigned-char (the
 * kernel's char, seed defect 5) and with ASan + UBSan.  Besides the error
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

struct pool {
	struct buddy_core bc;
	void *meta;
	size_t size;
	bool mapped;
};

/* On failure the pool may hold a buffer: pool_release() it either way. */
static bool pool_init(struct pool *p, unsigned int max_order)
{
	double t;

	memset(p, 0, sizeof(*p));
	p->size = buddy_core_meta_size(max_order);
	ASSERT(p->size, "no metadata size for max_order %u", max_order);
	p->mapped = p->size >= (1UL << 24);
	p->meta = p->mapped ? map_meta(p->size) : malloc(p->size);
	ASSERT(p->meta, "cannot get %zu bytes for max_order %u", p->size, max_order);
	t = now();
	ASSERT_EQ(buddy_core_init(&p->bc, max_order, p->meta, p->size), 0);
	if (p->mapped)
		printf("    # buddy_core_init: %.1f s for %zu MiB\n", now() - t,
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
	struct buddy_core bc;
	u8 *meta;
};

static void take_snapshot(struct snapshot *snap, const struct pool *p)
{
	memcpy(&snap->bc, &p->bc, sizeof(p->bc));	/* padding too */
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

static bool expect_unchanged(const struct snapshot *snap, const struct pool *p)
{
	bool ok = expect_same_core(&p->bc, &snap->bc);

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
	const u64 units = 1ULL << p->bc.max_order, last = units - 1;
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
	if (!EXPECT_EQ(buddy_core_alloc(&p.bc, 0, 0), 0))
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
	ok = EXPECT_EQ(buddy_core_check(&p.bc), 0);
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
			if (!EXPECT_EQ(buddy_core_alloc(&p.bc, order, 0), (s64)(i << order)))
				goto out;
		EXPECT_EQ(buddy_core_alloc(&p.bc, 0, 0), -ENOMEM);
		EXPECT_EQ(buddy_core_free_units(&p.bc), 0);
		EXPECT_EQ(buddy_core_largest_order(&p.bc), -ENOMEM);
		EXPECT_EQ(buddy_core_check(&p.bc), 0);
		for (i = n; i-- > 0; )
			if (!EXPECT_EQ(buddy_core_free(&p.bc, i << order, order), 0))
				goto out;
		EXPECT_EQ(buddy_core_free_units(&p.bc), units);
		EXPECT_EQ(buddy_core_nr_free(&p.bc, max_order), 1);
		EXPECT_EQ(free_level(&p.bc, max_order, 0)[0], 1);
		EXPECT_EQ(buddy_core_check(&p.bc), 0);
	}
	EXPECT_EQ(buddy_core_alloc(&p.bc, max_order + 1, 0), -EINVAL);
	EXPECT_EQ(buddy_core_free(&p.bc, units, 0), -EINVAL);
	EXPECT_EQ(buddy_core_free(&p.bc, 0, max_order), -EINVAL);
	EXPECT_EQ(buddy_core_nr_free(&p.bc, max_order + 1), 0);
	if (max_order == 2) {
		/* Mixed: a unit, a pair, the other unit; then merge back. */
		EXPECT_EQ(buddy_core_alloc(&p.bc, 0, 0), 0);
		EXPECT_EQ(buddy_core_alloc(&p.bc, 1, 0), 2);
		EXPECT_EQ(buddy_core_alloc(&p.bc, 0, 0), 1);
		EXPECT_EQ(buddy_core_alloc(&p.bc, 0, 0), -ENOMEM);
		EXPECT_EQ(buddy_core_free(&p.bc, 1, 0), 0);
		EXPECT_EQ(buddy_core_free(&p.bc, 0, 0), 0);
		EXPECT_EQ(buddy_core_nr_free(&p.bc, 1), 1);
		EXPECT_EQ(buddy_core_alloc(&p.bc, 1, 0), 0);
		EXPECT_EQ(buddy_core_free(&p.bc, 2, 1), 0);
		EXPECT_EQ(buddy_core_free(&p.bc, 0, 1), 0);
	}
	EXPECT_EQ(buddy_core_nr_free(&p.bc, max_order), 1);
	ok = EXPECT_EQ(buddy_core_check(&p.bc), 0);
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

	ASSERT_EQ(buddy_core_alloc(&p->bc, 3, 0), 0);
	ASSERT_EQ(buddy_core_alloc(&p->bc, 2, 0), 8);
	ASSERT_EQ(buddy_core_alloc(&p->bc, 1, 0), 12);
	take_snapshot(&snap, p);
	EXPECT_EQ(buddy_core_alloc(&p->bc, 5, 0), -EINVAL);
	EXPECT_EQ(buddy_core_alloc(&p->bc, 64, 0), -EINVAL);
	EXPECT_EQ(buddy_core_alloc(&p->bc, UINT_MAX, 0), -EINVAL);
	for (bit = 0; bit < 32; bit++)
		EXPECT_EQ(buddy_core_alloc(&p->bc, 0, 1U << bit), -EINVAL);
	/* 2 units free, but no free block of order 2 or more. */
	EXPECT_EQ(buddy_core_alloc(&p->bc, 2, 0), -ENOMEM);
	EXPECT_EQ(buddy_core_alloc(&p->bc, 4, 0), -ENOMEM);
	expect_unchanged(&snap, p);
	drop_snapshot(&snap);
	EXPECT_EQ(buddy_core_alloc(&p->bc, 1, 0), 14);
	EXPECT_EQ(buddy_core_alloc(&p->bc, 0, 0), -ENOMEM);
	EXPECT_EQ(buddy_core_largest_order(&p->bc), -ENOMEM);
	EXPECT_EQ(buddy_core_check(&p->bc), 0);
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

	ASSERT_EQ(buddy_core_alloc(&p->bc, 3, 0), 0);
	ASSERT_EQ(buddy_core_alloc(&p->bc, 1, 0), 8);
	ASSERT_EQ(buddy_core_alloc(&p->bc, 1, 0), 10);
	ASSERT_EQ(buddy_core_free(&p->bc, 10, 1), 0);
	take_snapshot(&snap, p);
	/* Out of range: the bound is 2^max_order units (defect 2). */
	EXPECT_EQ(buddy_core_free(&p->bc, 16, 0), -EINVAL);
	EXPECT_EQ(buddy_core_free(&p->bc, 1ULL << 40, 0), -EINVAL);
	EXPECT_EQ(buddy_core_free(&p->bc, UINT64_MAX, 0), -EINVAL);
	EXPECT_EQ(buddy_core_free(&p->bc, (1ULL << 63) + 8, 1), -EINVAL);
	EXPECT_EQ(buddy_core_free(&p->bc, (1ULL << 32) + 8, 1), -EINVAL);
	/* Inside a block, with every order (defect 3). */
	for (off = 1; off < 8; off++)
		for (order = 0; order <= 5; order++)
			EXPECT(buddy_core_free(&p->bc, off, order) == -EINVAL,
			       "free(%" PRIu64 ", %u) accepted", off, order);
	/* Wrong order, misaligned, absurd order. */
	EXPECT_EQ(buddy_core_free(&p->bc, 0, 2), -EINVAL);
	EXPECT_EQ(buddy_core_free(&p->bc, 0, 4), -EINVAL);
	EXPECT_EQ(buddy_core_free(&p->bc, 8, 0), -EINVAL);
	EXPECT_EQ(buddy_core_free(&p->bc, 8, 2), -EINVAL);
	EXPECT_EQ(buddy_core_free(&p->bc, 9, 1), -EINVAL);
	EXPECT_EQ(buddy_core_free(&p->bc, 0, UINT_MAX), -EINVAL);
	/* Double free, and a never-allocated block inside free space (defect 4). */
	EXPECT_EQ(buddy_core_free(&p->bc, 10, 1), -EINVAL);
	EXPECT_EQ(buddy_core_free(&p->bc, 12, 2), -EINVAL);
	EXPECT_EQ(buddy_core_free(&p->bc, 14, 1), -EINVAL);
	expect_unchanged(&snap, p);
	drop_snapshot(&snap);

	EXPECT_EQ(buddy_core_free(&p->bc, 8, 1), 0);
	EXPECT_EQ(buddy_core_free(&p->bc, 0, 3), 0);
	EXPECT_EQ(buddy_core_nr_free(&p->bc, 4), 1);
	/* The whole pool as one block: no other (offset, order) frees it. */
	ASSERT_EQ(buddy_core_alloc(&p->bc, 4, 0), 0);
	take_snapshot(&snap, p);
	for (order = 0; order < 4; order++)
		for (off = 0; off < 16; off += 1ULL << order)
			EXPECT(buddy_core_free(&p->bc, off, order) == -EINVAL,
			       "free(%" PRIu64 ", %u) freed part of the pool", off, order);
	expect_unchanged(&snap, p);
	drop_snapshot(&snap);
	EXPECT_EQ(buddy_core_free(&p->bc, 0, 4), 0);
	EXPECT_EQ(buddy_core_free(&p->bc, 0, 4), -EINVAL);
	EXPECT_EQ(buddy_core_check(&p->bc), 0);
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
static bool meta_bounds_use(struct buddy_core *bc, unsigned int max_order)
{
	const u64 units = 1ULL << max_order, mask = units / 3;
	unsigned int order;
	u64 i;

	for (i = 0; i < units; i++)
		ASSERT_EQ(buddy_core_alloc(bc, 0, 0), (s64)i);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), -ENOMEM);
	for (i = 0; i < units; i++)
		ASSERT_EQ(buddy_core_free(bc, i ^ mask, 0), 0);
	/* Every order, largest first: the last blocks of every map. */
	for (order = max_order + 1; order-- > 0; ) {
		for (i = 0; i < units >> order; i++)
			ASSERT_EQ(buddy_core_alloc(bc, order, 0), (s64)(i << order));
		for (i = units >> order; i-- > 0; )
			ASSERT_EQ(buddy_core_free(bc, i << order, order), 0);
	}
	EXPECT_EQ(buddy_core_alloc(bc, max_order, 0), 0);
	return EXPECT_EQ(buddy_core_check(bc), 0);
}

static bool meta_bounds_one(unsigned int max_order)
{
	const size_t size = buddy_core_meta_size(max_order), guard = 64;
	struct buddy_core bc;
	size_t i;
	u8 *buf;

	buf = malloc(size + 2 * guard);
	ASSERT(buf, "out of memory");
	memset(buf, 0xa5, size + 2 * guard);
	if (EXPECT_EQ(buddy_core_init(&bc, max_order, buf + guard, size), 0))
		meta_bounds_use(&bc, max_order);
	for (i = 0; i < guard; i++) {
		EXPECT(buf[i] == 0xa5, "byte %zu before the maps written", guard - i);
		EXPECT(buf[guard + size + i] == 0xa5, "byte %zu after the maps written",
		       i);
	}
	free(buf);

	buf = malloc(size);
	ASSERT(buf, "out of memory");
	if (EXPECT_EQ(buddy_core_init(&bc, max_order, buf, size), 0))
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
		ASSERT_EQ(buddy_core_alloc(&p->bc, 0, 0), (s64)i);
	ASSERT_EQ(buddy_core_free(&p->bc, 0, 0), 0);
	EXPECT_EQ(buddy_core_nr_free(&p->bc, 0), 1);
	ASSERT_EQ(buddy_core_free(&p->bc, 1, 0), 0);
	EXPECT_EQ(buddy_core_nr_free(&p->bc, 0), 0);
	EXPECT_EQ(buddy_core_nr_free(&p->bc, 1), 1);
	ASSERT_EQ(buddy_core_free(&p->bc, 3, 0), 0);
	ASSERT_EQ(buddy_core_free(&p->bc, 2, 0), 0);
	EXPECT_EQ(buddy_core_nr_free(&p->bc, 1), 0);
	EXPECT_EQ(buddy_core_nr_free(&p->bc, 2), 1);
	EXPECT_EQ(buddy_core_largest_order(&p->bc), 2);
	EXPECT_EQ(buddy_core_alloc(&p->bc, 2, 0), 0);
	ASSERT_EQ(buddy_core_free(&p->bc, 0, 2), 0);
	for (i = 4; i < 8; i++)
		ASSERT_EQ(buddy_core_free(&p->bc, i, 0), 0);
	EXPECT_EQ(buddy_core_nr_free(&p->bc, 3), 1);
	EXPECT_EQ(buddy_core_largest_order(&p->bc), 3);
	EXPECT_EQ(buddy_core_check(&p->bc), 0);
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
	ASSERT_EQ(buddy_core_alloc(&p->bc, 2, 0), 0);
	ASSERT_EQ(buddy_core_alloc(&p->bc, 0, 0), 4);
	ASSERT_EQ(buddy_core_alloc(&p->bc, 0, 0), 5);
	ASSERT_EQ(buddy_core_alloc(&p->bc, 1, 0), 6);
	ASSERT_EQ(buddy_core_free(&p->bc, 0, 2), 0);
	ASSERT_EQ(buddy_core_free(&p->bc, 4, 0), 0);
	EXPECT_EQ(buddy_core_alloc(&p->bc, 0, 0), 4);
	EXPECT_EQ(buddy_core_largest_order(&p->bc), 2);
	EXPECT_EQ(buddy_core_check(&p->bc), 0);
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
	u64 units = 1ULL << p->bc.max_order, i;
	unsigned int j;

	for (i = 0; i < units; i++)
		ASSERT_EQ(buddy_core_alloc(&p->bc, 0, 0), (s64)i);
	for (j = 0; j < n; j++)
		for (i = 0; i < 1ULL << free_blks[j].order; i++)
			ASSERT_EQ(buddy_core_free(&p->bc, free_blks[j].off + i, 0), 0);
	return EXPECT_EQ(buddy_core_check(&p->bc), 0);
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
	struct buddy_core *bc = &p->bc;

	/* A fresh pool of 64 units: splits keep the left halves. */
	ASSERT_EQ(buddy_core_alloc(bc, 3, 0), 0);
	EXPECT_EQ(buddy_core_nr_free(bc, 3), 1);
	EXPECT_EQ(buddy_core_nr_free(bc, 4), 1);
	EXPECT_EQ(buddy_core_nr_free(bc, 5), 1);
	EXPECT_EQ(buddy_core_alloc(bc, 2, 0), 8);	/* order 3 at 8, split */
	EXPECT_EQ(buddy_core_alloc(bc, 4, 0), 16);	/* the exact fit */
	EXPECT_EQ(buddy_core_alloc(bc, 3, 0), 32);	/* order 5 at 32, split */
	EXPECT_EQ(buddy_core_alloc(bc, 2, 0), 12);	/* order 2 at 12 */
	EXPECT_EQ(buddy_core_alloc(bc, 3, 0), 40);	/* order 3 at 40 */
	EXPECT_EQ(buddy_core_alloc(bc, 5, 0), -ENOMEM);
	EXPECT_EQ(buddy_core_alloc(bc, 4, 0), 48);
	EXPECT_EQ(buddy_core_free_units(bc), 0);
	EXPECT_EQ(buddy_core_check(bc), 0);
	ASSERT_EQ(buddy_core_free(bc, 0, 3), 0);
	ASSERT_EQ(buddy_core_free(bc, 8, 2), 0);
	ASSERT_EQ(buddy_core_free(bc, 12, 2), 0);
	ASSERT_EQ(buddy_core_free(bc, 16, 4), 0);
	ASSERT_EQ(buddy_core_free(bc, 32, 3), 0);
	ASSERT_EQ(buddy_core_free(bc, 40, 3), 0);
	ASSERT_EQ(buddy_core_free(bc, 48, 4), 0);
	ASSERT_EQ(buddy_core_nr_free(bc, 6), 1);

	/* Holes of orders 0-3 at two ends of the pool. */
	if (!policy_setup(p, holes, ARRAY_SIZE(holes)))
		return false;
	EXPECT_EQ(buddy_core_nr_free(bc, 0), 2);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), 50);	/* not 0: order 2 there */
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), 60);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), 40);	/* order 1 before order 2 */
	EXPECT_EQ(buddy_core_alloc(bc, 1, 0), 0);	/* order 2 before order 3 */
	EXPECT_EQ(buddy_core_alloc(bc, 2, 0), 16);	/* only order 3 left */
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), 41);	/* order 0 at 41 */
	EXPECT_EQ(buddy_core_alloc(bc, 1, 0), 2);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), 20);
	EXPECT_EQ(buddy_core_alloc(bc, 1, 0), 22);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), 21);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), -ENOMEM);
	EXPECT_EQ(buddy_core_check(bc), 0);

	/* 8192 units: order 0 has three levels; lowest first across words. */
	bc = &big->bc;
	if (!policy_setup(big, far, ARRAY_SIZE(far)))
		return false;
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), 9);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), 700);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), 5000);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), 8000);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), 4096);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), 4097);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), -ENOMEM);
	ASSERT_EQ(buddy_core_free(bc, 8000, 0), 0);
	ASSERT_EQ(buddy_core_free(bc, 100, 0), 0);
	ASSERT_EQ(buddy_core_free(bc, 101, 0), 0);	/* order 1 at 100 */
	ASSERT_EQ(buddy_core_free(bc, 6000, 0), 0);
	EXPECT_EQ(buddy_core_alloc(bc, 1, 0), 100);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), 6000);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), 8000);
	EXPECT_EQ(buddy_core_check(bc), 0);
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
	const u64 units = 1ULL << p->bc.max_order;
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
		if (!EXPECT_EQ(buddy_core_alloc(&p.bc, 0, 0), (s64)i))
			goto release;
	}
	EXPECT_EQ(buddy_core_free_units(&p.bc), 0);
	EXPECT_EQ(buddy_core_alloc(&p.bc, 0, 0), -ENOMEM);
	EXPECT_EQ(buddy_core_check(&p.bc), 0);
	for (i = units - 1; i > 0; i--) {
		u64 j = rnd_next(rnd) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < units; i++)
		if (!EXPECT_EQ(buddy_core_free(&p.bc, order[i], 0), 0))
			goto release;
	ok = EXPECT_EQ(buddy_core_free_units(&p.bc), units) &&
	     EXPECT_EQ(buddy_core_largest_order(&p.bc), max_order) &&
	     EXPECT_EQ(buddy_core_nr_free(&p.bc, max_order), 1) &&
	     EXPECT_EQ(buddy_core_check(&p.bc), 0);
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
	u64 policy_every;	/* steps between those checks */
	u64 allocs, frees, enomem, rejected, wild_frees, policy_checks;
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
	m->snap = malloc(buddy_core_meta_size(max_order));
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

static bool any_window_free(const struct model *m, unsigned int order)
{
	u64 start;

	for (start = 0; start < m->units; start += 1ULL << order)
		if (window_free(m, start, order))
			return true;
	return false;
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
 * The placement policy from the bitmap: the lowest maximal free block of
 * the smallest order that fits (split keeping left halves, so the block's
 * start), or -ENOMEM.  O(pool): only now and then.
 */
static s64 model_policy(const struct model *m, unsigned int order)
{
	unsigned int k;
	u64 start;

	for (k = order; k <= m->max_order; k++)
		for (start = 0; start < m->units; start += 1ULL << k)
			if (model_maximal(m, start, k))
				return (s64)start;
	return -ENOMEM;
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
	ASSERT_EQ(buddy_core_free_units(&m->p.bc), m->units - m->used_units);
	ASSERT_EQ(buddy_core_check(&m->p.bc), 0);
	for (order = 0; order <= m->max_order; order++) {
		u64 want = model_nr_free(m, order);

		ASSERT(buddy_core_nr_free(&m->p.bc, order) == want,
		       "order %u: %" PRIu64 " free blocks, model has %" PRIu64,
		       order, buddy_core_nr_free(&m->p.bc, order), want);
		if (want)
			largest = order;
	}
	ASSERT_EQ(buddy_core_largest_order(&m->p.bc), largest);
	return true;
}

/* A failed call must leave counters, and when copied the maps, as they were. */
static bool model_unchanged(struct model *m, const struct buddy_core *before)
{
	ASSERT(expect_same_core(&m->p.bc, before), "a failed call changed the pool");
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

/* Free a live block; now and then try an interior, wrong-order or double free. */
static bool model_free_live(struct model *m, u64 r, const struct buddy_core *before)
{
	u64 i = rnd_next(&m->rnd) % m->live, off = m->off[i];
	unsigned int order = m->order[i];

	if (order && !(r & 0x700)) {
		u64 inside = off + 1 + rnd_next(&m->rnd) % ((1ULL << order) - 1);

		ASSERT_EQ(buddy_core_free(&m->p.bc, inside, (r >> 16) % (order + 1)),
			  -EINVAL);
		ASSERT_EQ(buddy_core_free(&m->p.bc, off, order - 1), -EINVAL);
		if (order < m->max_order)
			ASSERT_EQ(buddy_core_free(&m->p.bc, off, order + 1), -EINVAL);
		if (!model_unchanged(m, before))
			return false;
		m->rejected += 3;
	}
	ASSERT(buddy_core_free(&m->p.bc, off, order) == 0,
	       "free(%" PRIu64 ", %u) of a live block failed", off, order);
	model_remove(m, i);
	m->frees++;
	if (!(r & 0x3800)) {
		ASSERT(buddy_core_free(&m->p.bc, off, order) == -EINVAL,
		       "double free(%" PRIu64 ", %u) accepted", off, order);
		m->rejected++;
	}
	return true;
}

/* Free a random (offset, order): it succeeds only on a live block's start. */
static bool model_free_wild(struct model *m, u64 r, const struct buddy_core *before)
{
	u64 off = rnd_next(&m->rnd);
	unsigned int order = (r >> 20) % (m->max_order + 2);
	int want;

	if (r & 0x30000)
		off %= 2 * m->units;	/* mostly in range; else any 64-bit value */
	want = off < m->units && m->start_order[off] == (s8)order ? 0 : -EINVAL;
	ASSERT(buddy_core_free(&m->p.bc, off, order) == want,
	       "free(%" PRIu64 ", %u) should return %d", off, order, want);
	if (want)
		m->rejected++;
	else
		model_remove(m, m->slot[off]);
	m->wild_frees++;
	return !want || model_unchanged(m, before);
}

static bool model_alloc_invalid(struct model *m, u64 r, const struct buddy_core *before)
{
	if (r & 0x100)
		ASSERT_EQ(buddy_core_alloc(&m->p.bc, m->max_order + 1 + (r >> 9) % 64, 0),
			  -EINVAL);
	else
		ASSERT_EQ(buddy_core_alloc(&m->p.bc, 0, 1U << ((r >> 9) % 32)), -EINVAL);
	m->rejected++;
	return model_unchanged(m, before);
}

static bool model_alloc(struct model *m, const struct buddy_core *before)
{
	/* P(order = k) = 2^-(k+1): mostly small blocks, now and then large. */
	unsigned int order = __builtin_ctzll(rnd_next(&m->rnd) | (1ULL << 40));
	s64 ret, want = 0;

	if (order > m->max_order)
		order = m->max_order;
	if (m->policy)
		want = model_policy(m, order);
	ret = buddy_core_alloc(&m->p.bc, order, 0);
	if (m->policy) {
		ASSERT(ret == want, "alloc(%u) = %" PRId64 ", the policy picks %" PRId64,
		       order, ret, want);
		m->policy_checks++;
	}
	if (ret == -ENOMEM) {
		ASSERT(!any_window_free(m, order),
		       "-ENOMEM for order %u with a free aligned window", order);
		m->enomem++;
		return model_unchanged(m, before);
	}
	ASSERT(ret >= 0, "alloc(%u) returned %" PRId64, order, ret);
	ASSERT(!(ret & ((1LL << order) - 1)), "block %" PRId64 " not aligned to order %u",
	       ret, order);
	ASSERT((u64)ret + (1ULL << order) <= m->units, "block %" PRId64 " past the pool",
	       ret);
	ASSERT(window_free(m, ret, order), "block %" PRId64 " order %u overlaps a live one",
	       ret, order);
	model_add(m, ret, order);
	m->allocs++;
	return true;
}

static bool model_step(struct model *m, u64 step)
{
	u64 r = rnd_next(&m->rnd);
	unsigned int kind = r & 0xff;
	struct buddy_core before;
	u8 *snap = m->snap;
	bool ok;

	memcpy(&before, &m->p.bc, sizeof(before));
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
	for (extra = 0; !m->enomem && extra <= m->units; extra++) {
		struct buddy_core before;

		memcpy(&before, &m->p.bc, sizeof(before));
		if (!model_alloc(m, &before))
			break;
	}
	m->snap = snap;
	if (extra)
		printf("    # filled the pool: %" PRIu64 " more calls to -ENOMEM\n",
		       extra);
}

/* Free every live block: the pool must coalesce back into one. */
static bool model_drain(struct model *m)
{
	while (m->live) {
		u64 i = rnd_next(&m->rnd) % m->live;

		ASSERT_EQ(buddy_core_free(&m->p.bc, m->off[i], m->order[i]), 0);
		model_remove(m, i);
	}
	ASSERT_EQ(buddy_core_nr_free(&m->p.bc, m->max_order), 1);
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
			/*
			 * The mix must also reach a full pool.  On large pools
			 * the walk may not get there in @ops steps (it depends
			 * on the seed), so allocate on until -ENOMEM: at most
			 * 2^max_order allocations succeed first.
			 */
			model_fill(&m);
			EXPECT(m.enomem > 0, "no -ENOMEM after filling the pool");
			EXPECT(m.rejected > 0, "no rejected call");
			EXPECT(m.policy_checks > 0, "no placement checked");
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

static bool expect_sparse(const struct buddy_core *bc, const struct blk *b,
			  unsigned int n)
{
	u64 nr_free[BUDDY_CORE_MAX_ORDER + 1] = { 0 }, used = 0;
	unsigned int max_order = buddy_core_max_order(bc), order, i;
	int largest = -ENOMEM;

	sparse_nr_free(b, n, 0, max_order, nr_free);
	for (i = 0; i < n; i++)
		used += 1ULL << b[i].order;
	ASSERT_EQ(buddy_core_free_units(bc), (1ULL << max_order) - used);
	for (order = 0; order <= max_order; order++) {
		ASSERT(buddy_core_nr_free(bc, order) == nr_free[order],
		       "order %u: %" PRIu64 " free blocks, expected %" PRIu64, order,
		       buddy_core_nr_free(bc, order), nr_free[order]);
		if (nr_free[order])
			largest = order;
	}
	ASSERT_EQ(buddy_core_largest_order(bc), largest);
	return true;
}

/* Allocate one block and check it against the others and the free lists. */
static bool big_alloc(struct buddy_core *bc, struct blk *b, unsigned int *n,
		      unsigned int order)
{
	unsigned int max_order = buddy_core_max_order(bc), i;
	s64 ret = buddy_core_alloc(bc, order, 0);
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
static bool big_free_all(struct buddy_core *bc, struct blk *b, unsigned int *n,
			 u64 *rnd)
{
	while (*n) {
		unsigned int i = rnd_next(rnd) % *n;

		ASSERT(buddy_core_free(bc, b[i].off, b[i].order) == 0,
		       "free(%" PRIu64 ", %u) failed", b[i].off, b[i].order);
		b[i] = b[--(*n)];
		if (!expect_sparse(bc, b, *n))
			return false;
	}
	ASSERT_EQ(buddy_core_nr_free(bc, buddy_core_max_order(bc)), 1);
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

static bool slow_check(const struct buddy_core *bc)
{
	double t = now();
	int ret;

	if (!enabled("BUDDY_SLOW_CHECK", SLOW_CHECK_DEFAULT)) {
		printf("    # buddy_core_check skipped in this variant\n");
		return true;
	}
	ret = buddy_core_check(bc);
	printf("    # buddy_core_check: %.1f s\n", now() - t);
	return EXPECT_EQ(ret, 0);
}

static bool max_order30_body(struct pool *p)
{
	static const unsigned int orders[] = {
		0, 29, 12, 28, 1, 20, 0, 27, 5, 16, 26, 3, 25, 0, 24, 10,
	};
	struct buddy_core *bc = &p->bc;
	struct blk b[MAX_BLKS];
	struct snapshot snap;
	u64 rnd = rnd_init(5);
	unsigned int n = 0, i;

	ASSERT(expect_sparse(bc, b, 0), "fresh pool");
	/* Order 30 itself: the whole pool as one block. */
	ASSERT_EQ(buddy_core_alloc(bc, 30, 0), 0);
	EXPECT_EQ(buddy_core_free_units(bc), 0);
	EXPECT_EQ(buddy_core_largest_order(bc), -ENOMEM);
	take_snapshot(&snap, p);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), -ENOMEM);
	EXPECT_EQ(buddy_core_alloc(bc, 31, 0), -EINVAL);
	EXPECT_EQ(buddy_core_free(bc, 0, 29), -EINVAL);
	EXPECT_EQ(buddy_core_free(bc, 1ULL << 29, 29), -EINVAL);
	EXPECT_EQ(buddy_core_free(bc, (1ULL << 30) - 1, 0), -EINVAL);
	EXPECT_EQ(buddy_core_free(bc, 0, 31), -EINVAL);
	expect_unchanged(&snap, p);
	drop_snapshot(&snap);
	ASSERT_EQ(buddy_core_free(bc, 0, 30), 0);
	EXPECT_EQ(buddy_core_free(bc, 0, 30), -EINVAL);
	ASSERT(expect_sparse(bc, b, 0), "after freeing the whole pool");

	for (i = 0; i < ARRAY_SIZE(orders); i++)
		if (!big_alloc(bc, b, &n, orders[i]))
			return false;
	/* Errors against live blocks change nothing. */
	take_snapshot(&snap, p);
	for (i = 0; i < n; i++) {
		if (b[i].order) {
			EXPECT_EQ(buddy_core_free(bc, b[i].off + 1, 0), -EINVAL);
			EXPECT_EQ(buddy_core_free(bc, b[i].off, b[i].order - 1), -EINVAL);
		}
		EXPECT_EQ(buddy_core_free(bc, b[i].off, b[i].order + 1), -EINVAL);
		EXPECT_EQ(buddy_core_free(bc, b[i].off + (1ULL << 30), b[i].order),
			  -EINVAL);
	}
	EXPECT_EQ(buddy_core_alloc(bc, 30, 0), -ENOMEM);
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
	struct buddy_core *bc = &p->bc;
	struct blk b[MAX_BLKS];
	u64 rnd = rnd_init(6), end = 0;
	struct snapshot snap;
	unsigned int n = 0, i;
	int order;

	ASSERT_EQ(buddy_core_alloc(bc, 32, 0), 0);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), -ENOMEM);
	ASSERT_EQ(buddy_core_free(bc, 0, 32), 0);

	/* Two halves: whatever the policy, the second starts at 2^31. */
	ASSERT_EQ(buddy_core_alloc(bc, 31, 0), 0);
	ASSERT_EQ(buddy_core_alloc(bc, 31, 0), (s64)half);
	EXPECT_EQ(buddy_core_free_units(bc), 0);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), -ENOMEM);
	EXPECT_EQ(buddy_core_alloc(bc, 33, 0), -EINVAL);
	/* 2^31 sign-extended from 32 bits, or with bit 32 set: both refused. */
	take_snapshot(&snap, p);
	EXPECT_EQ(buddy_core_free(bc, (u64)(s64)INT32_MIN, 31), -EINVAL);
	EXPECT_EQ(buddy_core_free(bc, half + units, 31), -EINVAL);
	EXPECT_EQ(buddy_core_free(bc, half, 30), -EINVAL);
	EXPECT_EQ(buddy_core_free(bc, half, 32), -EINVAL);
	EXPECT_EQ(buddy_core_free(bc, units, 0), -EINVAL);
	expect_unchanged(&snap, p);
	drop_snapshot(&snap);
	ASSERT_EQ(buddy_core_free(bc, half, 31), 0);
	EXPECT_EQ(buddy_core_free(bc, half, 31), -EINVAL);
	EXPECT_EQ(buddy_core_free_units(bc), half);
	EXPECT_EQ(buddy_core_largest_order(bc), 31);
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
	EXPECT_EQ(buddy_core_free_units(bc), 0);
	EXPECT_EQ(buddy_core_alloc(bc, 0, 0), -ENOMEM);
	if (!slow_check(bc))
		return false;
	/* The last unit is the only free one: it must come back exactly. */
	ASSERT_EQ(buddy_core_free(bc, units - 1, 0), 0);
	EXPECT_EQ(buddy_core_largest_order(bc), 0);
	ASSERT_EQ(buddy_core_alloc(bc, 0, 0), (s64)(units - 1));
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

static bool max_order32_test(void)
{
	struct pool p;

	if (pool_init(&p, 32))
		max_order32_body(&p);
	pool_release(&p);
	return true;
}

/* ------------------------------------------------------------------ */

struct test_case {
	const char *name;
	bool (*fn)(void);
};

#define TEST(fn) { #fn, fn }

static const struct test_case tests[] = {
	TEST(build_variant_test),
	TEST(word_bit63_test),
	TEST(meta_size_test),
	TEST(init_invalid_test),
	TEST(layout_test),
	TEST(tiny_pool_test),
	TEST(alloc_errors_test),
	TEST(free_errors_test),
	TEST(order_for_test),
	TEST(meta_bounds_test),
	TEST(coalesce_test),
	TEST(best_fit_test),
	TEST(policy_test),
	TEST(check_detects_test),
	TEST(alloc_corrupt_test),
	TEST(fill_drain_test),
	TEST(random_checked_test),
	TEST(random_model_test),
	TEST(max_order30_test),
	TEST(max_order32_test),
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
		double t = now();

		if (only && !strstr(tests[i].name, only))
			continue;
		/* Not part of this variant at all: see max_order32_test(). */
		if (tests[i].fn == max_order32_test &&
		    !enabled("BUDDY_ORDER32", ORDER32_DEFAULT))
			continue;
		test_errors = 0;
		tests[i].fn();
		t = now() - t;
		if (t >= 0.1)
			printf("    # %.1f s\n", t);
		if (test_errors > 8)
			printf("    # %u failed checks in all\n", test_errors);
		printf("%s %u %s\n", test_errors ? "not ok" : "ok", i + 1, tests[i].name);
		if (test_errors)
			failed++;
		else
			passed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
