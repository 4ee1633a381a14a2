// SPDX-License-Identifier: GPL-2.0
/*
 * core_fuzz: a libFuzzer target for both cores, buddy_core.c (bitmap) and
 * buddy_tree.c (tree), built in userspace (-Iinclude/userspace) with ASan and
 * UBSan.  Every operation runs on a pool of each, and both must give the
 * same result (they place blocks by the same policy) and agree with the
 * model.
 *
 * Each input is a pool and a program.  Byte 0 gives the pool's order
 * (0..12, up to 4096 units); the rest is a sequence of operations, each an
 * opcode byte (low 4 bits: the kind, high 4 bits: a variant) and the bytes
 * its arguments need (zero once the input runs out):
 *
 *   alloc       an order 0..max_order+1 (sometimes 0..255); variants 0-7
 *               are the placement flags (TOPDOWN 1, RANGE 2, EXACT 4) with
 *               a range and an exact size from the input, 14 an unknown
 *               flag bit or a bad range
 *   free        a live block, as allocated, by free() or free_extent()
 *   extent free free_extent() of a live block's start and any length: 0
 *               exactly when the length's pieces are all live blocks
 *   bogus free  an (offset, order) chosen to be wrong: random, inside a live
 *               block, misaligned, a wrong order, past the pool, huge, an
 *               order past 62, a block freed earlier (double free)
 *   order_for   buddy_core_order_for() of a 64-bit value
 *   drain       free every live block; the pool must be whole again
 *
 * The reference model is a bitmap of allocated units plus the list of live
 * blocks (and, per unit, the order of a live block starting there).  Every
 * result is checked against it:
 *  - alloc: -EINVAL exactly for an order past max_order, an unknown flag
 *    or a bad range; -ENOMEM only if no naturally aligned window of that
 *    order is wholly free in the bitmap (inside the range, with RANGE);
 *    else an offset aligned to the order, inside the pool (and the range),
 *    over units all free (no overlap with any live block), and the one the
 *    policy names: in the lowest (TOPDOWN: highest) maximal free block of
 *    the smallest order that fits and meets the range, the part at the
 *    range's start (end); with EXACT, exactly the units asked for leave
 *    the free count;
 *  - free: 0 exactly when (offset, order) is a live block; otherwise -EINVAL
 *    and nothing changed (the metadata buffers, all of both structs);
 *  - buddy_core_free_units() after every operation; buddy_core_nr_free() of
 *    every order and buddy_core_largest_order() against a recount of the
 *    maximal free blocks from the bitmap, and buddy_core_check() == 0, at
 *    the end of every input and periodically in between: every operation on
 *    small pools, less often on large ones (both cost O(pool): the recount
 *    every units/256 operations, the check every units/16), and after every
 *    drain;
 *  - buddy_core_meta_size() against the size of the layout buddy_core.h
 *    describes, counted here, and buddy_core_init()'s refusals (a short,
 *    missing or misaligned buffer, a huge order), once per input.
 * A mismatch prints what differed and aborts, so libFuzzer saves the input.
 *
 * The maps are malloc'ed at exactly buddy_core_meta_size() bytes (one buffer
 * per pool order, reused; malloc aligns past the 8 bytes init wants), so
 * ASan sees any access past them.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buddy_core.h"
#include "buddy_tree.h"

#define FUZZ_MAX_ORDER	12
#define MAX_UNITS	(1U << FUZZ_MAX_ORDER)	/* no BIT(): userspace */
#define WORDS		(MAX_UNITS / 64)
#define FREED_RING	8

/*
 * Opcode kinds (low nibble): 0-5 and 13 alloc, 6-8 free, 9 extent free,
 * 10-12 bogus free.
 */
enum {
	K_ALLOC_LAST = 5, K_EXTENT = 9, K_FREE_LAST = 9, K_BOGUS_LAST = 12,
	K_ALLOC2 = 13, K_ORDER_FOR = 14, K_DRAIN = 15
};

struct blk {
	u32 offset;
	u8 order;
};

struct input {
	const u8 *data;
	size_t len, pos;
};

/* The reference model and the pools under test, one per core. */
static struct buddy_core bc;
static struct buddy_tree bt;
static u64 *meta, *tmeta;
static size_t meta_size, tmeta_size;
static u64 *metas[FUZZ_MAX_ORDER + 1], *tmetas[FUZZ_MAX_ORDER + 1];
static unsigned int max_order;
static unsigned int units, nwords;
static u64 freebits[WORDS];		/* 1: free unit */
static u8 start_order[MAX_UNITS];	/* order + 1 of a live block here */
static struct blk live[MAX_UNITS];
static unsigned int nlive;
static u64 model_free;
static struct blk freed[FREED_RING];
static unsigned int nfreed;
/* Levels: bit p of lvl[k] set iff the order-k block at unit p is all free. */
static u64 lvl[FUZZ_MAX_ORDER + 1][WORDS];
static bool lvl_dirty;
static unsigned long opno;
static const char *opname;

/*
 * Snapshot for "nothing changed", and room for init's misaligned refusals:
 * more than meta_size(FUZZ_MAX_ORDER), 2488 bytes (check_setup() checks).
 */
#define META_WORDS	512
#define TREE_META_WORDS	1100	/* meta_size(12) of the tree: 8408 bytes */
static u64 snap_meta[META_WORDS], snap_tmeta[TREE_META_WORDS];
static u64 spare_meta[TREE_META_WORDS + 1];
static struct buddy_core snap_bc;
static struct buddy_tree snap_bt;

static u8 next8(struct input *in)
{
	return in->pos < in->len ? in->data[in->pos++] : 0;
}

static unsigned int next16(struct input *in)
{
	unsigned int lo = next8(in);

	return lo | (unsigned int)next8(in) << 8;
}

static u64 next64(struct input *in)
{
	u64 v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v |= (u64)next8(in) << (8 * i);
	return v;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "core_fuzz: pool order %u, op %lu (%s): ", max_order,
		opno, opname ? opname : "setup");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

#define EXPECT(cond, ...) do { if (!(cond)) die(__VA_ARGS__); } while (0)

static u64 posmask(unsigned int order)
{
	static const u64 m[] = {
		~0ULL, 0x5555555555555555ULL, 0x1111111111111111ULL,
		0x0101010101010101ULL, 0x0001000100010001ULL,
		0x0000000100000001ULL, 1ULL,
	};

	return order < 7 ? m[order] : 1ULL;
}

static void compute_levels(void)
{
	unsigned int k, w;

	if (!lvl_dirty)
		return;
	memcpy(lvl[0], freebits, nwords * sizeof(u64));
	for (k = 0; k < max_order; k++) {
		unsigned int s = 1U << k;

		for (w = 0; w < nwords; w++) {
			if (s < 64) {
				lvl[k + 1][w] = lvl[k][w] & (lvl[k][w] >> s) &
						posmask(k + 1);
			} else {
				unsigned int sw = s / 64;

				lvl[k + 1][w] = w % (2 * sw) ? 0 :
						lvl[k][w] & lvl[k][w + sw];
			}
		}
	}
	lvl_dirty = false;
}

/*
 * The bits of a naturally aligned block of @n units at @off (a power of two,
 * aligned to @n, inside the pool): whole words, or a mask within one word.
 */
static u64 block_mask(unsigned int off, unsigned int n)
{
	return n >= 64 ? ~0ULL : ((1ULL << n) - 1) << (off % 64);
}

static bool range_free(unsigned int off, unsigned int n)
{
	u64 m = block_mask(off, n);
	unsigned int w;

	for (w = off / 64; w < (off + n + 63) / 64; w++)
		if ((freebits[w] & m) != m)
			return false;
	return true;
}

static void mark(unsigned int off, unsigned int n, bool free)
{
	u64 m = block_mask(off, n);
	unsigned int w;

	for (w = off / 64; w < (off + n + 63) / 64; w++) {
		if (free)
			freebits[w] |= m;
		else
			freebits[w] &= ~m;
	}
	lvl_dirty = true;
}

/*
 * Word @w of the maximal free blocks of order @k: bit p set iff the block
 * of order @k at unit 64 * @w + p is free and its parent is not.  The
 * levels must be up to date (compute_levels()).
 */
static u64 maximal_word(unsigned int k, unsigned int w)
{
	unsigned int s = 1U << k;
	u64 parent = 0;

	if (k == max_order) {
		parent = 0;
	} else if (s < 64) {
		parent = lvl[k + 1][w] | lvl[k + 1][w] << s;
	} else {
		unsigned int sw = s / 64, r = w % (2 * sw);

		if (!r)
			parent = lvl[k + 1][w];
		else if (r == sw)
			parent = lvl[k + 1][w - sw];
	}
	return lvl[k][w] & ~parent;
}

/*
 * What alloc(@order) must return: among the maximal free blocks of the
 * smallest order that fits which meet [@lo, @hi), the lowest (@topdown:
 * the highest); the block goes at its part's start (end) inside the
 * range.  -ENOMEM if none.
 */
static s64 policy_pick(unsigned int order, u64 lo, u64 hi, bool topdown)
{
	u64 block = 1ULL << order;
	unsigned int k, w;

	if (lo >= hi)
		return -ENOMEM;
	compute_levels();
	for (k = order; k <= max_order; k++) {
		u64 size = 1ULL << k;
		s64 found = -1;

		for (w = 0; w < nwords; w++) {
			u64 m = maximal_word(k, w);

			while (m) {
				u64 start = (u64)w * 64 + __builtin_ctzll(m);

				m &= m - 1;
				if (start >= hi || start + size <= lo)
					continue;
				found = (s64)start;
				if (!topdown)
					goto out;
			}
		}
out:
		if (found < 0)
			continue;
		if (topdown)
			return (s64)(((u64)found + size < hi ? (u64)found + size : hi) -
				     block);
		return (s64)((u64)found > lo ? (u64)found : lo);
	}
	return -ENOMEM;
}

/* Some aligned window of @order wholly free inside [@lo, @hi). */
static bool window_free_in(unsigned int order, u64 lo, u64 hi)
{
	u64 p;

	for (p = lo; p + (1ULL << order) <= hi; p += 1ULL << order)
		if (range_free((unsigned int)p, 1U << order))
			return true;
	return false;
}

/* nr_free and largest order against the maximal free blocks of the bitmap. */
static void recount(void)
{
	unsigned int k, w;
	int largest = -ENOMEM;

	compute_levels();
	for (k = 0; k <= max_order; k++) {
		u64 n = 0;

		for (w = 0; w < nwords; w++) {
			n += (u64)__builtin_popcountll(maximal_word(k, w));
			if (lvl[k][w])
				largest = (int)k;
		}
		EXPECT(buddy_core_nr_free(&bc, k) == n && buddy_tree_nr_free(&bt, k) == n,
		       "nr_free[%u] = %llu (tree %llu), the bitmap has %llu maximal free blocks",
		       k, (unsigned long long)buddy_core_nr_free(&bc, k),
		       (unsigned long long)buddy_tree_nr_free(&bt, k),
		       (unsigned long long)n);
	}
	EXPECT(buddy_core_nr_free(&bc, max_order + 1) == 0 &&
	       buddy_core_nr_free(&bc, BUDDY_CORE_MAX_ORDER + 1) == 0 &&
	       buddy_core_nr_free(&bc, ~0U) == 0 &&
	       buddy_tree_nr_free(&bt, max_order + 1) == 0 &&
	       buddy_tree_nr_free(&bt, ~0U) == 0,
	       "nr_free past max_order is not 0");
	EXPECT(buddy_core_largest_order(&bc) == largest &&
	       buddy_tree_largest_order(&bt) == largest,
	       "largest order %d (tree %d), the bitmap's %d",
	       buddy_core_largest_order(&bc), buddy_tree_largest_order(&bt),
	       largest);
}

static void snapshot(void)
{
	memcpy(snap_meta, meta, meta_size);
	memcpy(&snap_bc, &bc, sizeof(bc));	/* padding too, for memcmp() */
	memcpy(snap_tmeta, tmeta, tmeta_size);
	memcpy(&snap_bt, &bt, sizeof(bt));
}

static void expect_unchanged(void)
{
	EXPECT(!memcmp(snap_meta, meta, meta_size) &&
	       !memcmp(&snap_bc, &bc, sizeof(bc)),
	       "a failed call changed the bitmap pool");
	EXPECT(!memcmp(snap_tmeta, tmeta, tmeta_size) &&
	       !memcmp(&snap_bt, &bt, sizeof(bt)),
	       "a failed call changed the tree pool");
}

static void check_core(void)
{
	EXPECT(buddy_core_check(&bc) == 0, "buddy_core_check() failed");
	EXPECT(buddy_tree_check(&bt) == 0, "buddy_tree_check() failed");
}

/* Both cores' answers to one call must be the same. */
static s64 both_alloc(const struct buddy_core_req *req, bool use_req,
		      unsigned int order)
{
	s64 a = use_req ? buddy_core_alloc_req(&bc, req) :
			  buddy_core_alloc(&bc, order, req->flags);
	s64 t = use_req ? buddy_tree_alloc_req(&bt, req) :
			  buddy_tree_alloc(&bt, order, req->flags);

	EXPECT(a == t, "order %u flags %#x [%llu, %llu) units %llu: bitmap %lld, tree %lld",
	       order, req->flags, (unsigned long long)req->start,
	       (unsigned long long)req->end, (unsigned long long)req->units,
	       (long long)a, (long long)t);
	return a;
}

static int both_free(u64 offset, unsigned int order)
{
	int a = buddy_core_free(&bc, offset, order);
	int t = buddy_tree_free(&bt, offset, order);

	EXPECT(a == t, "free(%llu, %u): bitmap %d, tree %d",
	       (unsigned long long)offset, order, a, t);
	return a;
}

static int both_free_extent(u64 offset, u64 n)
{
	int a = buddy_core_free_extent(&bc, offset, n);
	int t = buddy_tree_free_extent(&bt, offset, n);

	EXPECT(a == t, "free_extent(%llu, %llu): bitmap %d, tree %d",
	       (unsigned long long)offset, (unsigned long long)n, a, t);
	return a;
}

/* A live block (@offset, @order) joins the model. */
static void model_take(unsigned int offset, unsigned int order)
{
	mark(offset, 1U << order, false);
	start_order[offset] = (u8)(order + 1);
	live[nlive].offset = offset;
	live[nlive].order = (u8)order;
	nlive++;
	model_free -= 1ULL << order;
}

static void do_alloc(struct input *in, unsigned int var)
{
	struct buddy_core_req req = { 0 };
	unsigned int order, flags = 0;
	u64 lo = 0, hi = units, block;
	bool use_req, bad = false;
	s64 ret, want;

	opname = "alloc";
	order = var == 15 ? next8(in) : next8(in) % (max_order + 2);
	if (var < 8)
		flags = var;
	/* TOPDOWN alone goes through either entry point. */
	use_req = flags & ~BUDDY_CORE_ALLOC_TOPDOWN || (var == 1 && next8(in) & 1);
	req.units = order < 64 ? 1ULL << order : 0;
	if (var == 14) {
		/* An unknown flag bit, or a range that cannot be. */
		unsigned int r = next8(in);

		use_req = r & 1;
		flags = 1U << (3 + (r >> 1) % 29);
		if (r & 0x40) {
			flags = BUDDY_CORE_ALLOC_RANGE;
			req.start = next16(in) % (units + 2);
			req.end = r & 0x80 ? req.start - next8(in) % 2 :
					     units + 1 + next8(in);
			use_req = true;
		}
		bad = true;
	}
	if (flags & BUDDY_CORE_ALLOC_EXACT && order && order <= max_order)
		req.units = (1ULL << (order - 1)) + 1 +
			    next16(in) % (1ULL << (order - 1));
	if (flags & BUDDY_CORE_ALLOC_RANGE && !bad) {
		req.start = next16(in) % units;
		req.end = req.start + 1 + next16(in) % (units - req.start);
	}
	req.flags = flags;
	if (!use_req && flags & ~BUDDY_CORE_ALLOC_TOPDOWN)
		bad = true;
	snapshot();
	if (order > max_order || bad) {
		ret = both_alloc(&req, use_req, order);
		EXPECT(ret == -EINVAL, "order %u flags %#x: %lld, want -EINVAL",
		       order, flags, (long long)ret);
		expect_unchanged();
		return;
	}
	block = 1ULL << order;
	if (flags & BUDDY_CORE_ALLOC_RANGE) {
		lo = (req.start + block - 1) & ~(block - 1);
		/* What is kept ends by req.end; EXACT's tail may pass it. */
		hi = req.end < req.units ? 0 :
		     ((req.end - req.units) & ~(block - 1)) + block;
	}
	want = policy_pick(order, lo, hi, flags & BUDDY_CORE_ALLOC_TOPDOWN);
	ret = both_alloc(&req, use_req, order);
	if (ret == -ENOMEM) {
		EXPECT(!window_free_in(order, lo, hi),
		       "order %u in [%llu, %llu): -ENOMEM, but an aligned window is free",
		       order, (unsigned long long)lo, (unsigned long long)hi);
		expect_unchanged();
		return;
	}
	EXPECT(ret >= 0, "order %u: %lld", order, (long long)ret);
	EXPECT(!(ret & ((1LL << order) - 1)), "order %u: offset %lld misaligned",
	       order, (long long)ret);
	EXPECT((u64)ret + block <= units,
	       "order %u: offset %lld past the pool", order, (long long)ret);
	EXPECT(!(flags & BUDDY_CORE_ALLOC_RANGE) ||
	       ((u64)ret >= req.start && (u64)ret + req.units <= req.end),
	       "order %u: block at %lld keeps units outside [%llu, %llu)", order,
	       (long long)ret, (unsigned long long)req.start,
	       (unsigned long long)req.end);
	EXPECT(range_free((unsigned int)ret, 1U << order),
	       "order %u: block at %lld overlaps a live block", order,
	       (long long)ret);
	EXPECT(ret == want, "order %u flags %#x: block at %lld, the policy picks %lld",
	       order, flags, (long long)ret, (long long)want);
	if (flags & BUDDY_CORE_ALLOC_EXACT) {
		/* The extent's pieces: one per bit, largest first. */
		u64 left = req.units, pos = (u64)ret;

		while (left) {
			unsigned int k = 63 - __builtin_clzll(left);

			model_take((unsigned int)pos, k);
			pos += 1ULL << k;
			left ^= 1ULL << k;
		}
	} else {
		model_take((unsigned int)ret, order);
	}
	EXPECT(buddy_core_free_units(&bc) == model_free &&
	       buddy_tree_free_units(&bt) == model_free,
	       "EXACT %llu units: free units %llu (tree %llu), the model has %llu",
	       (unsigned long long)req.units,
	       (unsigned long long)buddy_core_free_units(&bc),
	       (unsigned long long)buddy_tree_free_units(&bt),
	       (unsigned long long)model_free);
}

/* Frees live[@i]; it must succeed. */
static void free_live(unsigned int i, bool extent)
{
	struct blk b = live[i];
	int ret = extent ? both_free_extent(b.offset, 1ULL << b.order) :
			   both_free(b.offset, b.order);

	EXPECT(ret == 0, "free of live block (%u, order %u): %d", b.offset,
	       b.order, ret);
	mark(b.offset, 1U << b.order, true);
	start_order[b.offset] = 0;
	model_free += 1ULL << b.order;
	live[i] = live[--nlive];
	freed[nfreed++ % FREED_RING] = b;
}

static void do_free(struct input *in, unsigned int var)
{
	opname = "free";
	free_live(next16(in) % nlive, var & 1);
}

/* free_extent(@offset, @n) must succeed iff its pieces are all live. */
static bool extent_live(u64 offset, u64 n)
{
	u64 left;

	if (!n || offset >= units || n > units - offset)
		return false;
	for (left = n; left; ) {
		unsigned int k = 63 - __builtin_clzll(left);

		if (offset & ((1ULL << k) - 1) || start_order[offset] != k + 1)
			return false;
		offset += 1ULL << k;
		left ^= 1ULL << k;
	}
	return true;
}

static void do_extent_free(struct input *in)
{
	struct blk b = nlive ? live[next16(in) % nlive] : (struct blk){ 0, 0 };
	u64 offset = b.offset, n = next16(in) % (2 * units + 1), left;
	unsigned int idx;
	int ret;

	opname = "extent free";
	if (next8(in) & 1)
		n = next64(in);
	snapshot();
	if (!extent_live(offset, n)) {
		ret = both_free_extent(offset, n);
		EXPECT(ret == -EINVAL, "free_extent(%llu, %llu) of no live extent: %d",
		       (unsigned long long)offset, (unsigned long long)n, ret);
		expect_unchanged();
		return;
	}
	ret = both_free_extent(offset, n);
	EXPECT(ret == 0, "free_extent(%llu, %llu) of live pieces: %d",
	       (unsigned long long)offset, (unsigned long long)n, ret);
	for (left = n; left; ) {
		unsigned int k = 63 - __builtin_clzll(left);

		for (idx = 0; live[idx].offset != offset; idx++)
			;
		mark((unsigned int)offset, 1U << k, true);
		start_order[offset] = 0;
		model_free += 1ULL << k;
		freed[nfreed++ % FREED_RING] = live[idx];
		live[idx] = live[--nlive];
		offset += 1ULL << k;
		left ^= 1ULL << k;
	}
}

/* The model's verdict on free(@offset, @order), and the live index if valid. */
static bool valid_free(u64 offset, unsigned int order, unsigned int *idx)
{
	unsigned int i;

	if (order > max_order || offset >= units ||
	    start_order[offset] != order + 1)
		return false;
	for (i = 0; i < nlive; i++) {
		if (live[i].offset == offset) {
			*idx = i;
			return true;
		}
	}
	die("model: no live block at %llu", (unsigned long long)offset);
}

static void do_bogus_free(struct input *in, unsigned int var)
{
	struct blk b = nlive ? live[next16(in) % nlive] : (struct blk){ 0, 0 };
	unsigned int size = 1U << b.order, order, idx;
	u64 offset;
	int ret;

	opname = "bogus free";
	switch (var % 9) {
	case 1:		/* inside a live block, same order */
		offset = size > 1 ? b.offset + 1 + next16(in) % (size - 1) : b.offset + 1;
		order = b.order;
		break;
	case 2:		/* misaligned, any order */
		offset = b.offset + 1 + next8(in) % 7;
		order = next8(in) % (max_order + 1);
		break;
	case 3:		/* wrong order: a block's start, another order */
		offset = b.offset;
		order = b.order + 1 + next8(in) % 3;
		if (next8(in) & 1)
			order = b.order - 1 - (order - b.order - 1);
		break;
	case 4:		/* past the pool */
		offset = units + next16(in);
		order = next8(in) % (max_order + 1);
		break;
	case 5:		/* huge offsets */
		offset = next64(in);
		offset |= 1ULL << (next8(in) % 64);
		order = next8(in);
		break;
	case 6:		/* double free, or the same block reallocated */
		if (!nfreed)
			return;
		b = freed[next8(in) % (nfreed < FREED_RING ? nfreed : FREED_RING)];
		offset = b.offset;
		order = b.order;
		break;
	case 7:		/* order past any pool */
		offset = b.offset;
		order = BUDDY_CORE_MAX_ORDER + 1 + next8(in);
		if (next8(in) & 1)
			order = ~0U - next8(in);
		break;
	default:	/* random */
		offset = next16(in) % (2 * units);
		order = next8(in) % (max_order + 3);
		break;
	}
	if (valid_free(offset, order, &idx)) {
		/* Hit a live block exactly: a real free. */
		free_live(idx, false);
		return;
	}
	snapshot();
	ret = both_free(offset, order);
	EXPECT(ret == -EINVAL,
	       "free(%llu, order %u) of no live block: %d, want -EINVAL",
	       (unsigned long long)offset, order, ret);
	expect_unchanged();
}

static void do_order_for(struct input *in, unsigned int var)
{
	u64 v = next64(in) >> (var * 4);
	int want = 0, got;

	opname = "order_for";
	while (want < 64 && (1ULL << want) < v)
		want++;
	if (!v)
		want = -EINVAL;
	got = buddy_core_order_for(v);
	EXPECT(got == want, "order_for(%llu) = %d, want %d",
	       (unsigned long long)v, got, want);
}

static void do_drain(struct input *in)
{
	unsigned int r = next8(in);

	opname = "drain";
	while (nlive) {
		r += 7;
		free_live(r % nlive, r & 1);
	}
	EXPECT(buddy_core_free_units(&bc) == units &&
	       buddy_core_nr_free(&bc, max_order) == 1 &&
	       buddy_core_largest_order(&bc) == (int)max_order &&
	       buddy_tree_free_units(&bt) == units &&
	       buddy_tree_largest_order(&bt) == (int)max_order,
	       "the pool is not whole after freeing every block");
	check_core();
}

/* Words in one level of a map: what holds @bits bits, at least one. */
static u64 words_for(u64 bits)
{
	return bits > 64 ? (bits + 63) / 64 : 1;
}

/*
 * The size of the layout buddy_core.h describes, counted independently: a
 * table of (@order + 1) * (levels + 2) 8-byte slots, levels being those of
 * order 0's free map, and the sentinel word; per order an alloc map of one
 * bit per block and a free map of as many bits with 64-ary summaries
 * above, up to one word.
 */
static u64 layout_size(unsigned int order)
{
	u64 bytes, slots = 3, words;
	unsigned int k;

	for (words = words_for(1ULL << order); words > 1; words = words_for(words))
		slots++;
	bytes = (u64)(order + 1) * slots * 8 + 8;
	for (k = 0; k <= order; k++) {
		words = words_for(1ULL << (order - k));
		bytes += words * 8;			/* alloc map */
		for (;;) {				/* free map */
			bytes += words * 8;
			if (words == 1)
				break;
			words = words_for(words);
		}
	}
	return bytes;
}

/* meta_size and init's refusals; leaves @bc untouched. */
static void check_setup(void)
{
	struct buddy_core junk, before;
	unsigned int i;

	opname = "setup";
	EXPECT(meta_size == layout_size(max_order) && meta_size % 8 == 0,
	       "meta_size(%u) = %zu, the layout has %llu", max_order, meta_size,
	       (unsigned long long)layout_size(max_order));
	EXPECT(meta_size <= sizeof(snap_meta),
	       "meta_size(%u) = %zu: past the snapshot", max_order, meta_size);
	EXPECT(buddy_core_meta_size(BUDDY_CORE_MAX_ORDER + 1) == 0 &&
	       buddy_core_meta_size(~0U) == 0, "meta_size past the limit not 0");
	memset(&junk, 0x5a, sizeof(junk));
	memcpy(&before, &junk, sizeof(junk));
	EXPECT(buddy_core_init(&junk, max_order, meta, meta_size - 1) == -EINVAL &&
	       buddy_core_init(&junk, max_order, meta, meta_size - 8) == -EINVAL &&
	       buddy_core_init(&junk, max_order, NULL, meta_size) == -EINVAL &&
	       buddy_core_init(&junk, BUDDY_CORE_MAX_ORDER + 1, meta,
			       meta_size) == -EINVAL,
	       "init accepted a short or missing buffer or a huge order");
	/* Misaligned, with room: init must refuse before writing a byte. */
	for (i = 1; i < 8; i++)
		EXPECT(buddy_core_init(&junk, max_order, (char *)spare_meta + i,
				       meta_size) == -EINVAL,
		       "init accepted a buffer misaligned by %u", i);
	EXPECT(!memcmp(&junk, &before, sizeof(junk)),
	       "a refused init changed the pool");
	EXPECT(tmeta_size <= sizeof(snap_tmeta) &&
	       buddy_tree_meta_size(BUDDY_TREE_MAX_ORDER + 1) == 0,
	       "tree meta_size(%u) = %zu: past the snapshot", max_order, tmeta_size);
	{
		struct buddy_tree tjunk, tbefore;

		memset(&tjunk, 0x5a, sizeof(tjunk));
		memcpy(&tbefore, &tjunk, sizeof(tjunk));
		EXPECT(buddy_tree_init(&tjunk, max_order, tmeta, tmeta_size - 1) == -EINVAL &&
		       buddy_tree_init(&tjunk, max_order, NULL, tmeta_size) == -EINVAL &&
		       buddy_tree_init(&tjunk, BUDDY_TREE_MAX_ORDER + 1, tmeta,
				       tmeta_size) == -EINVAL,
		       "tree init accepted a short or missing buffer or a huge order");
		for (i = 1; i < 8; i++)
			EXPECT(buddy_tree_init(&tjunk, max_order,
					       (char *)spare_meta + i,
					       tmeta_size) == -EINVAL,
			       "tree init accepted a buffer misaligned by %u", i);
		EXPECT(!memcmp(&tjunk, &tbefore, sizeof(tjunk)),
		       "a refused tree init changed the pool");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { .data = data, .len = size };
	unsigned int recount_every, check_every;

	if (!size)
		return 0;
	max_order = next8(&in) % (FUZZ_MAX_ORDER + 1);
	units = 1U << max_order;
	nwords = (units + 63) / 64;
	meta_size = buddy_core_meta_size(max_order);
	/*
	 * One buffer per pool order, of exactly the size, kept across inputs:
	 * a fresh malloc() per input costs ASan's quarantine page faults.
	 */
	if (!metas[max_order]) {
		metas[max_order] = malloc(meta_size);
		if (!metas[max_order] || (uintptr_t)metas[max_order] % 8)
			abort();
	}
	meta = metas[max_order];
	tmeta_size = buddy_tree_meta_size(max_order);
	if (!tmetas[max_order]) {
		tmetas[max_order] = malloc(tmeta_size);
		if (!tmetas[max_order] || (uintptr_t)tmetas[max_order] % 8)
			abort();
	}
	tmeta = tmetas[max_order];
	opno = 0;
	opname = NULL;
	check_setup();
	EXPECT(buddy_core_init(&bc, max_order, meta, meta_size) == 0 &&
	       buddy_tree_init(&bt, max_order, tmeta, tmeta_size) == 0,
	       "init failed");

	memset(freebits, 0, sizeof(freebits));
	mark(0, units, true);
	memset(start_order, 0, units);
	nlive = 0;
	nfreed = 0;
	model_free = units;
	/* Both are O(pool): amortised to a few dozen words a step. */
	recount_every = nwords > 4 ? nwords / 4 : 1;
	check_every = units > 16 ? units / 16 : 1;
	recount();

	while (in.pos < in.len) {
		u8 op = next8(&in);
		unsigned int kind = op & 15, var = op >> 4;

		opno++;
		if (kind <= K_ALLOC_LAST || kind == K_ALLOC2) {
			do_alloc(&in, var);
		} else if (kind == K_EXTENT) {
			do_extent_free(&in);
		} else if (kind <= K_FREE_LAST) {
			if (nlive)
				do_free(&in, var);
			else
				do_bogus_free(&in, var);
		} else if (kind <= K_BOGUS_LAST) {
			do_bogus_free(&in, var);
		} else if (kind == K_ORDER_FOR) {
			do_order_for(&in, var);
		} else {
			do_drain(&in);
		}
		EXPECT(buddy_core_free_units(&bc) == model_free &&
		       buddy_tree_free_units(&bt) == model_free,
		       "free_units %llu (tree %llu), the model has %llu",
		       (unsigned long long)buddy_core_free_units(&bc),
		       (unsigned long long)buddy_tree_free_units(&bt),
		       (unsigned long long)model_free);
		EXPECT(buddy_core_max_order(&bc) == max_order &&
		       buddy_tree_max_order(&bt) == max_order, "max_order changed");
		if (opno % recount_every == 0)
			recount();
		if (opno % check_every == 0)
			check_core();
	}
	opname = "end";
	recount();
	check_core();
	return 0;
}
