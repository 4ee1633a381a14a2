// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_bench: buddy_core against the kernel's own allocators, in one boot.
 *
 * Loading the module runs every measurement in its init function, prints a
 * table to the kernel log and returns 0; rmmod then unloads it (nothing is
 * kept between the two).  scripts/bench-kernel.sh does all of this in UML.
 *
 * Allocators, each on one pool of 2^order units of 4 KiB (default 2^20):
 *   buddy_core              this project's core, its maps by kvmalloc
 *   gpu_buddy               drivers/gpu/buddy.c, chunk_size 4096,
 *                           gpu_buddy_alloc_blocks(size, min_block_size=size)
 *                           and gpu_buddy_free_block()
 *   gen_pool/ff-align       lib/genalloc.c, min_alloc_order 12 over a fake
 *                           address range, gen_pool_first_fit_order_align
 *                           (aligned power-of-two blocks, like a buddy)
 *   gen_pool/first-fit      gen_pool_first_fit (no alignment)
 *   gen_pool/best-fit       gen_pool_best_fit (no alignment)
 *   alloc_pages             alloc_pages()/__free_pages(), W4 only
 *   harness                 the replay loop alone: the same reads and
 *                           writes of operations and handles, no allocator
 *
 * Workloads (one "op" is one allocation or one free):
 *   W1  allocate 2^order single units (the pool is then full), then free
 *       them all in a random order
 *   W2  sizes 70% 1-4 units, 25% 5-64, 5% 65-1024, each rounded up to a
 *       power of two for every allocator; a budget of 60% of the pool.
 *       First allocate until the next block would pass the budget (not
 *       timed), then @ops operations at the budget: allocate the next size
 *       if it fits, else free random live blocks until it does (timed).
 *       It logs how full the fill got and the live range during the churn
 *   W3  blocks of 2^k units, k uniform in 8..16 (256..65536 units; capped at
 *       2^(order-2) for small pools); allocate one, and whenever more than
 *       @w3_live blocks are live free the oldest, so after @w3_live + 1
 *       allocations, allocations and frees alternate; @w3_ops operations
 *   W4  @pair_ops alloc+free pairs of one block of 2^k units, k = 0 ..
 *       @page_order ("pair"), and order-0 batches of 64 allocations then 64
 *       frees in the same order ("x64"): buddy_core on the 2^order pool
 *       against alloc_pages(GFP_KERNEL | __GFP_NOWARN)/__free_pages().  The
 *       pool is empty, so each pair splits and merges the whole height; in
 *       the "pin" rows buddy_core holds one unit throughout, so a free block
 *       of every order exists and a pair neither splits nor merges
 *
 * Every allocator replays the same operations, generated once per workload
 * from prandom seeded with @seed (logged) before any timing, from one
 * preallocated array.  The operations assume every allocation succeeds; an
 * allocator that fails one counts a failure and skips the matching free, so
 * the failure column shows where the work differed.  Only the replay loop is
 * timed (ktime_get_ns); pools are created before it and torn down, with
 * whatever is still live freed and the accounting checked, after it.  Each
 * measurement runs @reps times, the allocators taking turns run by run so
 * that a busy host slows them alike; the table gives the median and the
 * range in ns/op and the median's ratio to buddy_core's median on the same
 * workload (above 1: buddy_core is faster).  "net" is that ratio with the
 * harness's median taken off both sides: the allocators' own costs, which
 * the raw ratio dilutes with the loop's.  Every loop calls cond_resched()
 * once per 1024 operations, the same for all.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/genalloc.h>
#include <linux/gfp.h>
#include <linux/gpu_buddy.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/prandom.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "../buddy_core.h"
#include "../buddy_pool.h"

static unsigned long long seed = 1;
module_param(seed, ullong, 0444);
MODULE_PARM_DESC(seed, "prandom seed for every workload (logged)");

static uint order = 20;
module_param(order, uint, 0444);
MODULE_PARM_DESC(order, "The pool holds 2^order units of 4 KiB (12..24, default 20)");

static uint ops = 2000000;
module_param(ops, uint, 0444);
MODULE_PARM_DESC(ops, "W2: operations (default 2000000)");

static uint w3_ops = 200000;
module_param(w3_ops, uint, 0444);
MODULE_PARM_DESC(w3_ops, "W3: operations (default 200000)");

static uint w3_live = 16;
module_param(w3_live, uint, 0444);
MODULE_PARM_DESC(w3_live, "W3: free the oldest block when more are live (default 16)");

static uint pair_ops = 1000000;
module_param(pair_ops, uint, 0444);
MODULE_PARM_DESC(pair_ops, "W4: alloc+free pairs per order (default 1000000)");

static uint page_order = 3;
module_param(page_order, uint, 0444);
MODULE_PARM_DESC(page_order, "W4: orders 0..page_order (default 3, at most MAX_PAGE_ORDER)");

static uint reps = 5;
module_param(reps, uint, 0444);
MODULE_PARM_DESC(reps, "Runs per measurement; the median is reported (1..9, default 5)");

#define BENCH_MAX_REPS		9
#define BENCH_UNIT_SHIFT	12	/* 4 KiB units for gpu_buddy and gen_pool */
#define BENCH_GEN_BASE		0x100000UL	/* gen_pool's fake range: not 0 */
#define BENCH_BATCH		64
#define BENCH_RESCHED_MASK	1023

/*
 * One operation in a u32: free or allocate, the block's order, and the slot
 * that holds the allocator's handle for it.
 */
#define OP_FREE			BIT(31)
#define OP_ORDER_SHIFT		26
#define OP_ORDER_MASK		0x1fU
#define OP_SLOT_MASK		(BIT(OP_ORDER_SHIFT) - 1)

static inline u32 op_make(bool free, unsigned int ord, u32 slot)
{
	return (free ? OP_FREE : 0) | (ord << OP_ORDER_SHIFT) | slot;
}

static inline unsigned int op_order(u32 op)
{
	return (op >> OP_ORDER_SHIFT) & OP_ORDER_MASK;
}

static inline u32 op_slot(u32 op)
{
	return op & OP_SLOT_MASK;
}

/* What one allocator hands back for a live block; "none" after a failure. */
union bench_handle {
	s64 off;			/* buddy_core: -1 for none */
	struct gpu_buddy_block *blk;	/* NULL for none */
	unsigned long addr;		/* gen_pool: 0 for none */
	struct page *page;		/* NULL for none */
};

/**
 * struct bench_work - one workload's operations
 * @name: as printed
 * @op: @nops operations
 * @nops: operations, the first @nfill of them untimed
 * @nfill: operations that bring the pool to the workload's starting state
 *	(W2's fill to its budget); replayed before the timed ones, not timed
 * @nallocs: allocations among them
 * @nslots: handle slots the operations use
 * @end_order: order of each slot's last allocation, to free what is left
 * @pin: buddy_core allocates one unit (offset 0) before the replay and frees
 *	it after, so the pool is not empty: a block of every order below the
 *	pool's is free, and a W4 pair neither splits nor merges.  Other
 *	allocators ignore it (the page allocator's pool is never empty).
 */
struct bench_work {
	char name[16];
	u32 *op;
	u32 nops;
	u32 nfill;
	u32 nallocs;
	u32 nslots;
	u8 *end_order;
	bool pin;
};

enum bench_alloc {
	BENCH_CORE,
	BENCH_GPU,
	BENCH_GEN_FF_ALIGN,
	BENCH_GEN_FF,
	BENCH_GEN_BF,
	BENCH_PAGES,
	BENCH_POOL,
	BENCH_POOL_OFF,
	BENCH_HARNESS,
	BENCH_NR_ALLOC,
};

static const char *const bench_alloc_name[BENCH_NR_ALLOC] = {
	[BENCH_CORE] = "buddy_core",
	[BENCH_GPU] = "gpu_buddy",
	[BENCH_GEN_FF_ALIGN] = "gen_pool/ff-align",
	[BENCH_GEN_FF] = "gen_pool/first-fit",
	[BENCH_GEN_BF] = "gen_pool/best-fit",
	[BENCH_PAGES] = "alloc_pages",
	[BENCH_POOL] = "pool, caches on",
	[BENCH_POOL_OFF] = "pool, caches off",
	[BENCH_HARNESS] = "harness",
};

/* Counts from one replay. */
struct bench_count {
	u32 fails;	/* allocations that failed */
	u32 errors;	/* frees the allocator refused (buddy_core only) */
	u32 leftover;	/* blocks still live after the replay */
};

static struct buddy_core bench_core;
static struct buddy_pool bench_pool;
static void *bench_meta;
static size_t bench_meta_size;
static union bench_handle *bench_h;	/* bench_max_slots entries */
static u32 bench_max_slots;
static u64 bench_units;			/* 2^order */

/* ---- Generating the workloads ---- */

static int work_alloc(struct bench_work *w, const char *name, u32 nops,
		      u32 nslots)
{
	memset(w, 0, sizeof(*w));
	strscpy(w->name, name, sizeof(w->name));
	w->op = kvmalloc_array(nops, sizeof(*w->op), GFP_KERNEL);
	w->end_order = kvzalloc(nslots, GFP_KERNEL);
	if (!w->op || !w->end_order) {
		kvfree(w->op);
		kvfree(w->end_order);
		return -ENOMEM;
	}
	w->nops = nops;
	w->nslots = nslots;
	return 0;
}

static void work_free(struct bench_work *w)
{
	kvfree(w->op);
	kvfree(w->end_order);
	w->op = NULL;
	w->end_order = NULL;
}

/* Counts the allocations and records each slot's last order. */
static void work_finish(struct bench_work *w)
{
	u32 i;

	w->nallocs = 0;
	for (i = 0; i < w->nops; i++) {
		u32 op = w->op[i];

		if (op & OP_FREE)
			continue;
		w->nallocs++;
		w->end_order[op_slot(op)] = op_order(op);
	}
}

static int gen_w1(struct bench_work *w, struct rnd_state *rnd)
{
	u32 n = (u32)bench_units, i;
	int err;

	err = work_alloc(w, "W1", 2 * n, n);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		w->op[i] = op_make(false, 0, i);
		w->op[n + i] = op_make(true, 0, i);
	}
	/* Fisher-Yates over the frees. */
	for (i = n - 1; i > 0; i--) {
		u32 j = reciprocal_scale(prandom_u32_state(rnd), i + 1);

		swap(w->op[n + i], w->op[n + j]);
	}
	work_finish(w);
	return 0;
}

static unsigned int w2_order(struct rnd_state *rnd)
{
	u32 class = reciprocal_scale(prandom_u32_state(rnd), 100);
	u32 lo, hi;

	if (class < 70) {
		lo = 1;
		hi = 4;
	} else if (class < 95) {
		lo = 5;
		hi = 64;
	} else {
		lo = 65;
		hi = 1024;
	}
	return order_base_2(lo + reciprocal_scale(prandom_u32_state(rnd),
						  hi - lo + 1));
}

/*
 * W2: fill to the budget (untimed), then churn there: every allocation
 * that fits the budget is made, and one that does not first frees random
 * live blocks until it fits, so the pool stays within a block of the budget
 * and the sizes allocated keep their distribution.
 */
static int gen_w2(struct bench_work *w, struct rnd_state *rnd)
{
	u64 budget = div_u64(bench_units * 60, 100), live_units = 0;
	u64 fill_units = 0, min_units = U64_MAX, max_units = 0, sum_units = 0;
	u32 maxlive = (u32)min_t(u64, budget, ops) + 1;
	u32 *live, *spare, nlive = 0, nspare = 0, next_slot = 0, i, n, churn;
	unsigned int ord, pending = 0;
	bool have_pending = false;
	u8 *cur;
	int err;

	/* The fill takes at most a budget's worth of single units. */
	n = (u32)min_t(u64, (u64)ops + budget, U32_MAX / 2);
	err = work_alloc(w, "W2", n, maxlive);
	if (err)
		return err;
	live = kvmalloc_array(maxlive, sizeof(*live), GFP_KERNEL);
	spare = kvmalloc_array(maxlive, sizeof(*spare), GFP_KERNEL);
	cur = kvmalloc(maxlive, GFP_KERNEL);
	if (!live || !spare || !cur) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0, churn = 0; i < n && churn < ops; i++) {
		u32 slot;

		if (!have_pending) {
			pending = w2_order(rnd);
			have_pending = true;
		}
		ord = pending;
		if (live_units + BIT_ULL(ord) > budget) {
			if (!w->nfill) {
				/* Full to the budget: the fill ends here. */
				w->nfill = i;
				fill_units = live_units;
			}
		}
		if (w->nfill) {
			churn++;
			sum_units += live_units;
			min_units = min(min_units, live_units);
			max_units = max(max_units, live_units);
		}
		if (live_units + BIT_ULL(ord) > budget) {
			u32 j = reciprocal_scale(prandom_u32_state(rnd), nlive);

			slot = live[j];
			live[j] = live[--nlive];
			spare[nspare++] = slot;
			live_units -= BIT_ULL(cur[slot]);
			w->op[i] = op_make(true, cur[slot], slot);
			continue;
		}
		have_pending = false;
		slot = nspare ? spare[--nspare] : next_slot++;
		cur[slot] = ord;
		live[nlive++] = slot;
		live_units += BIT_ULL(ord);
		w->op[i] = op_make(false, ord, slot);
	}
	w->nops = i;
	w->nslots = next_slot;
	work_finish(w);
	if (!w->nfill || !churn) {
		err = -EINVAL;
		goto out;
	}
	fill_units = div64_u64(fill_units * 1000, bench_units);
	sum_units = div64_u64(div64_u64(sum_units, churn) * 1000, bench_units);
	pr_info("# W2: filled to %llu.%llu%% of the pool (budget %llu units = 60%%) in %u untimed allocations; then %u timed ops with %llu..%llu units live, %llu.%llu%% of the pool on average\n",
		fill_units / 10, fill_units % 10, budget, w->nfill, churn,
		min_units, max_units, sum_units / 10, sum_units % 10);
out:
	kvfree(live);
	kvfree(spare);
	kvfree(cur);
	if (err)
		work_free(w);
	return err;
}

static int gen_w3(struct bench_work *w, struct rnd_state *rnd)
{
	unsigned int hi = min(16U, order - 2), lo = min(8U, hi);
	u32 nslots = w3_live + 1, allocs = 0, frees = 0, i;
	int err;

	err = work_alloc(w, "W3", w3_ops, nslots);
	if (err)
		return err;
	for (i = 0; i < w3_ops; i++) {
		if (allocs - frees > w3_live) {
			u32 slot = frees++ % nslots;

			w->op[i] = op_make(true, w->end_order[slot], slot);
		} else {
			u32 slot = allocs++ % nslots;
			unsigned int ord = lo +
				reciprocal_scale(prandom_u32_state(rnd),
						 hi - lo + 1);

			/* end_order doubles as the current order here. */
			w->end_order[slot] = ord;
			w->op[i] = op_make(false, ord, slot);
		}
	}
	work_finish(w);
	return 0;
}

/*
 * @pair_ops alloc+free pairs of order @ord, or as batches of BENCH_BATCH;
 * with @pin, buddy_core holds one unit throughout (see struct bench_work).
 */
static int gen_w4(struct bench_work *w, unsigned int ord, bool batch, bool pin)
{
	u32 nslots = batch ? BENCH_BATCH : 1, i;
	char name[16];
	int err;

	if (batch)
		snprintf(name, sizeof(name), "W4 o%u x%u%s", ord, BENCH_BATCH,
			 pin ? " pin" : "");
	else
		snprintf(name, sizeof(name), "W4 o%u pair%s", ord,
			 pin ? " pin" : "");
	err = work_alloc(w, name, 2 * pair_ops / (2 * nslots) * (2 * nslots),
			 nslots);
	if (err)
		return err;
	for (i = 0; i < w->nops; i++) {
		u32 k = i % (2 * nslots);

		w->op[i] = op_make(k >= nslots, ord, k % nslots);
	}
	w->pin = pin;
	work_finish(w);
	return 0;
}

/* ---- The replay loops: one per allocator, timed around the loop only ---- */

/*
 * The replay for allocators that hand out offsets (buddy_core, the pool):
 * inlined with constant @alloc and @free, so each caller's loop makes
 * direct calls, as a user of that allocator would.
 */
static __always_inline u64
replay_offsets(const struct bench_work *w, u32 from, u32 to,
	       struct bench_count *c, void *a,
	       s64 (*alloc)(void *a, unsigned int ord),
	       int (*free)(void *a, u64 off, unsigned int ord))
{
	union bench_handle *h = bench_h;
	u64 t0 = ktime_get_ns();
	u32 i;

	for (i = from; i < to; i++) {
		u32 op = w->op[i];
		union bench_handle *s = &h[op_slot(op)];

		if (op & OP_FREE) {
			if (s->off >= 0 && free(a, s->off, op_order(op)))
				c->errors++;
			s->off = -1;
		} else {
			s->off = alloc(a, op_order(op));
			if (s->off < 0)
				c->fails++;
		}
		if (!(i & BENCH_RESCHED_MASK))
			cond_resched();
	}
	return ktime_get_ns() - t0;
}

static inline s64 core_alloc_op(void *a, unsigned int ord)
{
	return buddy_core_alloc(a, ord, 0);
}

static inline int core_free_op(void *a, u64 off, unsigned int ord)
{
	return buddy_core_free(a, off, ord);
}

static inline s64 pool_alloc_op(void *a, unsigned int ord)
{
	return buddy_pool_alloc(a, ord, 0);
}

static inline int pool_free_op(void *a, u64 off, unsigned int ord)
{
	return buddy_pool_free(a, off, ord);
}

static u64 replay_core(const struct bench_work *w, u32 from, u32 to,
		       struct bench_count *c)
{
	return replay_offsets(w, from, to, c, &bench_core, core_alloc_op,
			      core_free_op);
}

static u64 replay_pool(const struct bench_work *w, u32 from, u32 to,
		       struct bench_count *c)
{
	return replay_offsets(w, from, to, c, &bench_pool, pool_alloc_op,
			      pool_free_op);
}

static u64 replay_gpu(struct gpu_buddy *mm, const struct bench_work *w,
		      u32 from, u32 to, struct bench_count *c)
{
	union bench_handle *h = bench_h;
	u64 t0 = ktime_get_ns();
	struct list_head blocks;
	u32 i;

	for (i = from; i < to; i++) {
		u32 op = w->op[i];
		union bench_handle *s = &h[op_slot(op)];
		u64 size = mm->chunk_size << op_order(op);

		if (op & OP_FREE) {
			if (s->blk)
				gpu_buddy_free_block(mm, s->blk);
			s->blk = NULL;
		} else {
			INIT_LIST_HEAD(&blocks);
			if (gpu_buddy_alloc_blocks(mm, 0, mm->size, size, size,
						   &blocks, 0)) {
				s->blk = NULL;
				c->fails++;
			} else {
				s->blk = list_first_entry(&blocks,
							  struct gpu_buddy_block,
							  link);
			}
		}
		if (!(i & BENCH_RESCHED_MASK))
			cond_resched();
	}
	return ktime_get_ns() - t0;
}

static u64 replay_gen(struct gen_pool *pool, const struct bench_work *w,
		      u32 from, u32 to, struct bench_count *c)
{
	union bench_handle *h = bench_h;
	u64 t0 = ktime_get_ns();
	u32 i;

	for (i = from; i < to; i++) {
		u32 op = w->op[i];
		union bench_handle *s = &h[op_slot(op)];
		size_t size = (size_t)1 << (op_order(op) + BENCH_UNIT_SHIFT);

		if (op & OP_FREE) {
			if (s->addr)
				gen_pool_free(pool, s->addr, size);
			s->addr = 0;
		} else {
			s->addr = gen_pool_alloc(pool, size);
			if (!s->addr)
				c->fails++;
		}
		if (!(i & BENCH_RESCHED_MASK))
			cond_resched();
	}
	return ktime_get_ns() - t0;
}

static u64 replay_pages(const struct bench_work *w, u32 from, u32 to,
			struct bench_count *c)
{
	union bench_handle *h = bench_h;
	u64 t0 = ktime_get_ns();
	u32 i;

	for (i = from; i < to; i++) {
		u32 op = w->op[i];
		union bench_handle *s = &h[op_slot(op)];

		if (op & OP_FREE) {
			if (s->page)
				__free_pages(s->page, op_order(op));
			s->page = NULL;
		} else {
			s->page = alloc_pages(GFP_KERNEL | __GFP_NOWARN,
					      op_order(op));
			if (!s->page)
				c->fails++;
		}
		if (!(i & BENCH_RESCHED_MASK))
			cond_resched();
	}
	return ktime_get_ns() - t0;
}

/* The loop of replay_core() without the allocator: every handle gets 0. */
static u64 replay_harness(const struct bench_work *w, u32 from, u32 to)
{
	union bench_handle *h = bench_h;
	u64 t0 = ktime_get_ns();
	u32 i;

	for (i = from; i < to; i++) {
		u32 op = w->op[i];
		union bench_handle *s = &h[op_slot(op)];

		/* Read the handle as a free would, so the loads match too. */
		if (op & OP_FREE)
			s->off = s->off < 0 ? -2 : -1;
		else
			s->off = 0;
		if (!(i & BENCH_RESCHED_MASK))
			cond_resched();
	}
	return ktime_get_ns() - t0;
}

/* ---- One run of one allocator: set up, replay, free what is left, check ---- */

static int run_core(const struct bench_work *w, u64 *ns, struct bench_count *c)
{
	u32 slot;
	int err;

	err = buddy_core_init(&bench_core, order, bench_meta, bench_meta_size);
	if (err)
		return err;
	if (w->pin && buddy_core_alloc(&bench_core, 0, 0) != 0)
		return -EUCLEAN;
	memset(bench_h, 0xff, w->nslots * sizeof(*bench_h));	/* off = -1 */
	replay_core(w, 0, w->nfill, c);
	*ns = replay_core(w, w->nfill, w->nops, c);
	if (w->pin && buddy_core_free(&bench_core, 0, 0))
		c->errors++;
	for (slot = 0; slot < w->nslots; slot++) {
		if (bench_h[slot].off < 0)
			continue;
		c->leftover++;
		if (buddy_core_free(&bench_core, bench_h[slot].off,
				    w->end_order[slot]))
			c->errors++;
	}
	if (buddy_core_free_units(&bench_core) != bench_units ||
	    buddy_core_check(&bench_core))
		return -EUCLEAN;
	return c->errors ? -EUCLEAN : 0;
}

/* The pool layer (buddy_pool.c) over the same core, caches on or off. */
static int run_pool(const struct bench_work *w, bool cache_on, u64 *ns,
		    struct bench_count *c)
{
	s64 pin = -1;
	u32 slot;
	int err;

	err = buddy_pool_init(&bench_pool, &buddy_core_bitmap_ops, order,
			      cache_on);
	if (err)
		return err;
	if (w->pin) {
		pin = buddy_pool_alloc(&bench_pool, 0, 0);
		if (pin < 0)
			c->errors++;
	}
	memset(bench_h, 0xff, w->nslots * sizeof(*bench_h));	/* off = -1 */
	replay_pool(w, 0, w->nfill, c);
	*ns = replay_pool(w, w->nfill, w->nops, c);
	if (pin >= 0 && buddy_pool_free(&bench_pool, pin, 0))
		c->errors++;
	for (slot = 0; slot < w->nslots; slot++) {
		if (bench_h[slot].off < 0)
			continue;
		c->leftover++;
		if (buddy_pool_free(&bench_pool, bench_h[slot].off,
				    w->end_order[slot]))
			c->errors++;
	}
	if (buddy_pool_check(&bench_pool) ||
	    buddy_pool_free_units(&bench_pool) != bench_units)
		err = -EUCLEAN;
	buddy_pool_destroy(&bench_pool);
	return err ? err : c->errors ? -EUCLEAN : 0;
}

static int run_gpu(const struct bench_work *w, u64 *ns, struct bench_count *c)
{
	struct gpu_buddy mm;
	u32 slot;
	int err;

	err = gpu_buddy_init(&mm, bench_units << BENCH_UNIT_SHIFT,
			     BIT(BENCH_UNIT_SHIFT));
	if (err)
		return err;
	memset(bench_h, 0, w->nslots * sizeof(*bench_h));
	replay_gpu(&mm, w, 0, w->nfill, c);
	*ns = replay_gpu(&mm, w, w->nfill, w->nops, c);
	for (slot = 0; slot < w->nslots; slot++) {
		if (!bench_h[slot].blk)
			continue;
		c->leftover++;
		gpu_buddy_free_block(&mm, bench_h[slot].blk);
	}
	err = mm.avail == mm.size ? 0 : -EUCLEAN;
	/* With every block free, fini releases every block it made. */
	gpu_buddy_fini(&mm);
	return err;
}

static int run_gen(genpool_algo_t algo, const struct bench_work *w, u64 *ns,
		   struct bench_count *c)
{
	size_t size = (size_t)bench_units << BENCH_UNIT_SHIFT;
	struct gen_pool *pool;
	u32 slot;
	int err;

	pool = gen_pool_create(BENCH_UNIT_SHIFT, NUMA_NO_NODE);
	if (!pool)
		return -ENOMEM;
	err = gen_pool_add(pool, BENCH_GEN_BASE, size, NUMA_NO_NODE);
	if (err) {
		gen_pool_destroy(pool);		/* no chunk: nothing to check */
		return err;
	}
	gen_pool_set_algo(pool, algo, NULL);
	memset(bench_h, 0, w->nslots * sizeof(*bench_h));
	replay_gen(pool, w, 0, w->nfill, c);
	*ns = replay_gen(pool, w, w->nfill, w->nops, c);
	for (slot = 0; slot < w->nslots; slot++) {
		if (!bench_h[slot].addr)
			continue;
		c->leftover++;
		gen_pool_free(pool, bench_h[slot].addr,
			      (size_t)1 << (w->end_order[slot] +
					    BENCH_UNIT_SHIFT));
	}
	/*
	 * gen_pool_destroy() BUG()s on a chunk with a bit still set; that
	 * cannot happen with every block freed, but a bookkeeping bug here
	 * must not take the kernel down: keep the pool and report it.
	 */
	if (gen_pool_avail(pool) != size) {
		pr_err("gen_pool: %zu of %zu bytes free after the run; pool leaked\n",
		       gen_pool_avail(pool), size);
		return -EUCLEAN;
	}
	gen_pool_destroy(pool);
	return 0;
}

static int run_pages(const struct bench_work *w, u64 *ns,
		     struct bench_count *c)
{
	u32 slot;

	memset(bench_h, 0, w->nslots * sizeof(*bench_h));
	replay_pages(w, 0, w->nfill, c);
	*ns = replay_pages(w, w->nfill, w->nops, c);
	for (slot = 0; slot < w->nslots; slot++) {
		if (!bench_h[slot].page)
			continue;
		c->leftover++;
		__free_pages(bench_h[slot].page, w->end_order[slot]);
	}
	return 0;
}

static int run_once(enum bench_alloc a, const struct bench_work *w, u64 *ns,
		    struct bench_count *c)
{
	switch (a) {
	case BENCH_CORE:
		return run_core(w, ns, c);
	case BENCH_GPU:
		return run_gpu(w, ns, c);
	case BENCH_GEN_FF_ALIGN:
		return run_gen(gen_pool_first_fit_order_align, w, ns, c);
	case BENCH_GEN_FF:
		return run_gen(gen_pool_first_fit, w, ns, c);
	case BENCH_GEN_BF:
		return run_gen(gen_pool_best_fit, w, ns, c);
	case BENCH_PAGES:
		return run_pages(w, ns, c);
	case BENCH_POOL:
		return run_pool(w, true, ns, c);
	case BENCH_POOL_OFF:
		return run_pool(w, false, ns, c);
	case BENCH_HARNESS:
		memset(bench_h, 0xff, w->nslots * sizeof(*bench_h));
		replay_harness(w, 0, w->nfill);
		*ns = replay_harness(w, w->nfill, w->nops);
		return 0;
	default:
		return -EINVAL;
	}
}

/* ---- Measuring and printing ---- */

static void sort_u64(u64 *v, unsigned int n)
{
	unsigned int i, j;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && v[j - 1] > v[j]; j--)
			swap(v[j - 1], v[j]);
}

/* "12.3": tenths of a nanosecond per operation. */
static void fmt_ns_op(char *buf, size_t len, u64 ns, u32 nops)
{
	u32 rem;
	u64 q = div_u64_rem(div_u64(ns * 10, nops), 10, &rem);

	snprintf(buf, len, "%llu.%u", q, rem);
}

/* One allocator's runs on one workload. */
struct bench_meas {
	enum bench_alloc alloc;
	u64 ns[BENCH_MAX_REPS];
	struct bench_count worst;
	int err;
};

/* "1.23": @num / @den to two decimals, "-" without a positive @den. */
static void fmt_ratio(char *buf, size_t len, u64 num, u64 den)
{
	u32 rem;
	u64 q;

	if (!den || (s64)den < 0 || (s64)num < 0) {
		strscpy(buf, "-", len);
		return;
	}
	q = div_u64_rem(div64_u64(num * 100, den), 100, &rem);
	snprintf(buf, len, "%llu.%02u", q, rem);
}

static u64 median_ns(struct bench_meas *m)
{
	sort_u64(m->ns, reps);
	return m->ns[reps / 2];
}

/* @core_ns and @harness_ns: their medians, 0 when they did not run. */
static void print_row(const struct bench_work *w, struct bench_meas *m,
		      u64 core_ns, u64 harness_ns)
{
	char med[24], lo[24], hi[24], ratio[24], net[24];
	u64 median;

	if (m->err) {
		pr_info("%-14s %-19s failed to run: %d\n", w->name,
			bench_alloc_name[m->alloc], m->err);
		return;
	}
	median = median_ns(m);
	fmt_ns_op(med, sizeof(med), median, w->nops - w->nfill);
	fmt_ns_op(lo, sizeof(lo), m->ns[0], w->nops - w->nfill);
	fmt_ns_op(hi, sizeof(hi), m->ns[reps - 1], w->nops - w->nfill);
	if (m->alloc == BENCH_HARNESS) {
		strscpy(ratio, "-", sizeof(ratio));
		strscpy(net, "-", sizeof(net));
	} else {
		fmt_ratio(ratio, sizeof(ratio), median, core_ns);
		fmt_ratio(net, sizeof(net), median - harness_ns,
			  harness_ns ? core_ns - harness_ns : 0);
	}
	pr_info("%-14s %-19s %9s %9s %9s %7s %7s %9u %8u %8u\n", w->name,
		bench_alloc_name[m->alloc], med, lo, hi, ratio, net,
		m->alloc == BENCH_HARNESS ? 0 : w->nallocs, m->worst.fails,
		m->worst.leftover);
}

#define BENCH_MAX_ALLOCS	8	/* buddy_core, six others, the harness */

/*
 * Runs buddy_core, the @n allocators @a and the harness on @w, @reps rounds
 * of one run each, in turn: on a busy host every allocator's runs spread
 * over the same stretch of time.  Then prints a row each, buddy_core first
 * and the harness last.  An allocator that fails to run, or whose
 * accounting does not add up after a run, gets a "failed to run" row and
 * is not run again.  @med gets each allocator's median (0: did not run).
 */
static void measure_all(const struct bench_work *w, const enum bench_alloc *a,
			unsigned int n, u64 med[BENCH_NR_ALLOC])
{
	struct bench_meas m[BENCH_MAX_ALLOCS];
	u64 core_ns = 0, harness_ns = 0;
	unsigned int i, r;

	n = min(n + 2, (unsigned int)BENCH_MAX_ALLOCS);
	memset(m, 0, sizeof(m));
	for (i = 0; i < n; i++)
		m[i].alloc = !i ? BENCH_CORE : i == n - 1 ? BENCH_HARNESS :
			     a[i - 1];
	for (r = 0; r < reps; r++) {
		for (i = 0; i < n; i++) {
			struct bench_count c = { 0 };

			if (m[i].err)
				continue;
			m[i].err = run_once(m[i].alloc, w, &m[i].ns[r], &c);
			m[i].worst.fails = max(m[i].worst.fails, c.fails);
			m[i].worst.leftover = max(m[i].worst.leftover,
						  c.leftover);
		}
	}
	if (!m[0].err)
		core_ns = median_ns(&m[0]);
	if (!m[n - 1].err)
		harness_ns = median_ns(&m[n - 1]);
	memset(med, 0, BENCH_NR_ALLOC * sizeof(*med));
	for (i = 0; i < n; i++) {
		print_row(w, &m[i], core_ns, harness_ns);
		if (!m[i].err)
			med[m[i].alloc] = m[i].ns[reps / 2];
	}
}

static const enum bench_alloc bench_peers[] = {
	BENCH_GPU, BENCH_GEN_FF_ALIGN, BENCH_GEN_FF, BENCH_GEN_BF,
};

/* W2 also through the pool layer, to show what the layer costs. */
static const enum bench_alloc bench_peers_pool[] = {
	BENCH_GPU, BENCH_GEN_FF_ALIGN, BENCH_GEN_FF, BENCH_GEN_BF,
	BENCH_POOL, BENCH_POOL_OFF,
};

static const enum bench_alloc bench_pairs_set[] = {
	BENCH_POOL, BENCH_POOL_OFF, BENCH_PAGES,
};

/* Generates @gen's workload, measures it on @a after buddy_core, frees it. */
static int bench_workload(int (*gen)(struct bench_work *w,
				     struct rnd_state *rnd),
			  const enum bench_alloc *a, unsigned int n)
{
	u64 med[BENCH_NR_ALLOC];
	struct bench_work w;
	struct rnd_state rnd;
	int err;

	/* Each workload starts from the seed: any subset replays the same. */
	prandom_seed_state(&rnd, seed);
	err = gen(&w, &rnd);
	if (err)
		return err;
	if (w.nslots > bench_max_slots) {
		work_free(&w);
		return -EOVERFLOW;
	}
	measure_all(&w, a, n, med);
	work_free(&w);
	return 0;
}

/*
 * W4 on buddy_core, the pool with caches on and off, and alloc_pages; then
 * the pool's figures against alloc_pages' (the target: at least
 * 1.00 with the caches on, pool empty or not).
 */
static int bench_pairs(unsigned int ord, bool batch, bool pin)
{
	char on[24], off[24], net_on[24], net_off[24];
	u64 med[BENCH_NR_ALLOC], pages, harness;
	struct bench_work w;
	int err;

	err = gen_w4(&w, ord, batch, pin);
	if (err)
		return err;
	measure_all(&w, bench_pairs_set, ARRAY_SIZE(bench_pairs_set), med);
	pages = med[BENCH_PAGES];
	harness = med[BENCH_HARNESS];
	fmt_ratio(on, sizeof(on), pages, med[BENCH_POOL]);
	fmt_ratio(off, sizeof(off), pages, med[BENCH_POOL_OFF]);
	fmt_ratio(net_on, sizeof(net_on), pages - harness,
		  med[BENCH_POOL] ? med[BENCH_POOL] - harness : 0);
	fmt_ratio(net_off, sizeof(net_off), pages - harness,
		  med[BENCH_POOL_OFF] ? med[BENCH_POOL_OFF] - harness : 0);
	pr_info("# %s: alloc_pages / pool: caches on %s (net %s), caches off %s (net %s)\n",
		w.name, on, net_on, off, net_off);
	work_free(&w);
	return 0;
}

static int bench_check_params(void)
{
	if (order < 12 || order > 24 ||
	    order + BENCH_UNIT_SHIFT >= BITS_PER_LONG) {
		pr_err("order=%u: must be 12..24\n", order);
		return -EINVAL;
	}
	if (!reps || reps > BENCH_MAX_REPS) {
		pr_err("reps=%u: must be 1..%d\n", reps, BENCH_MAX_REPS);
		return -EINVAL;
	}
	if (!ops || !w3_ops || !w3_live || w3_live > 4096 ||
	    pair_ops < BENCH_BATCH || pair_ops > SZ_1G) {
		pr_err("ops, w3_ops, w3_live (1..4096) or pair_ops (%d..2^30) out of range\n",
		       BENCH_BATCH);
		return -EINVAL;
	}
	if (page_order > MAX_PAGE_ORDER) {
		pr_err("page_order=%u: at most %d\n", page_order,
		       MAX_PAGE_ORDER);
		return -EINVAL;
	}
	return 0;
}

static int __init buddy_bench_init(void)
{
	u64 t0 = ktime_get_ns();
	unsigned int ord;
	int err;

	err = bench_check_params();
	if (err)
		return err;
	bench_units = BIT_ULL(order);
	/* W1 uses a slot per unit; W2 at most one per live unit (60%). */
	bench_max_slots = max_t(u32, bench_units, w3_live + 1);
	bench_meta_size = buddy_core_meta_size(order);
	bench_meta = kvmalloc(bench_meta_size, GFP_KERNEL);
	bench_h = kvmalloc_array(bench_max_slots, sizeof(*bench_h), GFP_KERNEL);
	if (!bench_meta || !bench_h) {
		err = -ENOMEM;
		goto out;
	}

	pr_info("seed=%llu order=%u (%llu units of 4 KiB) ops=%u w3_ops=%u w3_live=%u pair_ops=%u page_order=%u reps=%u\n",
		seed, order, bench_units, ops, w3_ops, w3_live, pair_ops,
		page_order, reps);
	pr_info("ns/op: median of %u runs (range: min max); ratio: median / buddy_core's; net: the same, the harness's median taken off both; allocs: per run; fails: failed allocations; left: live at the end\n",
		reps);
	pr_info("W4 pin: buddy_core holds one unit throughout, so its pool is not empty\n");
	pr_info("%-14s %-19s %9s %9s %9s %7s %7s %9s %8s %8s\n", "workload",
		"allocator", "ns/op", "min", "max", "ratio", "net", "allocs",
		"fails", "left");

	err = bench_workload(gen_w1, bench_peers, ARRAY_SIZE(bench_peers));
	if (!err)
		err = bench_workload(gen_w2, bench_peers_pool,
				     ARRAY_SIZE(bench_peers_pool));
	if (!err)
		err = bench_workload(gen_w3, bench_peers,
				     ARRAY_SIZE(bench_peers));
	for (ord = 0; !err && ord <= page_order; ord++) {
		err = bench_pairs(ord, false, false);
		if (!err)
			err = bench_pairs(ord, false, true);
	}
	if (!err)
		err = bench_pairs(0, true, false);
	if (!err)
		err = bench_pairs(0, true, true);
	if (err)
		pr_err("stopped: %d\n", err);
	else
		pr_info("done in %llu ms\n",
			div_u64(ktime_get_ns() - t0, NSEC_PER_MSEC));
out:
	kvfree(bench_h);
	kvfree(bench_meta);
	bench_h = NULL;
	bench_meta = NULL;
	/* Everything is released: 0 lets rmmod unload it as usual. */
	return err;
}

static void __exit buddy_bench_exit(void)
{
}

module_init(buddy_bench_init);
module_exit(buddy_bench_exit);

MODULE_DESCRIPTION("In-kernel benchmark: buddy_core against gpu_buddy, gen_pool and alloc_pages");
MODULE_LICENSE("GPL");
