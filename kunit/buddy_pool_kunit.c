// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for buddy_pool, the layer of per-CPU caches and locking over
 * a core (built into the same module as the core's suites).
 *
 * The randomised tests log their seed; load the module with pool_seed=N to
 * replay one.  Under UML there is one CPU, so every cached block is in that
 * CPU's cache; the drains of other CPUs, and CPU hotplug, are tested in
 * qemu with two CPUs (scripts/smp-stress.sh).
 */
#include <kunit/test.h>
#include <linux/cpumask.h>
#include <linux/module.h>
#include <linux/prandom.h>
#include <linux/random.h>
#include <linux/slab.h>

#include "../buddy_pool.h"

static ulong pool_seed;
module_param(pool_seed, ulong, 0444);
MODULE_PARM_DESC(pool_seed, "Seed for the pool's randomised tests (0: a random one, logged)");

#define POOL_TEST_ORDER	10	/* 1024 units: several refills and drains deep */

static void pool_destroy_action(void *pool)
{
	buddy_pool_destroy(pool);
}

/* Every case runs on each core (the module's core= parameter). */
static const struct buddy_core_ops *const pool_cores[] = {
	&buddy_core_bitmap_ops,
	&buddy_tree_ops,
};

static void pool_core_desc(const struct buddy_core_ops *const *ops, char *desc)
{
	strscpy(desc, (*ops)->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(pool_core, pool_cores, pool_core_desc);

static struct buddy_pool *make_pool(struct kunit *test, unsigned int max_order,
				    bool cache_on)
{
	const struct buddy_core_ops *const *ops = test->param_value;
	struct buddy_pool *pool = kunit_kzalloc(test, sizeof(*pool), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, ops);
	KUNIT_ASSERT_NOT_NULL(test, pool);
	KUNIT_ASSERT_EQ(test, buddy_pool_init(pool, *ops, max_order, cache_on), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, pool_destroy_action,
							pool), 0);
	return pool;
}

static u64 seed_for(struct kunit *test)
{
	u64 s = pool_seed ? pool_seed : get_random_u64();

	kunit_info(test, "seed %llu (replay: pool_seed=%llu)\n", s, s);
	return s;
}

/* Every CPU's counters added up, and the cached units they report. */
static void sum_stats(struct buddy_pool *pool, struct buddy_pool_cpu_stats *sum,
		      u64 *cached_units)
{
	struct buddy_pool_cpu_stats st;
	unsigned int cpu, o;

	memset(sum, 0, sizeof(*sum));
	*cached_units = 0;
	for_each_possible_cpu(cpu) {
		buddy_pool_cpu_stats(pool, cpu, &st);
		for (o = 0; o < BUDDY_POOL_PCP_ORDERS; o++) {
			sum->cached[o] += st.cached[o];
			*cached_units += (u64)st.cached[o] << o;
		}
		sum->hits += st.hits;
		sum->frees += st.frees;
		sum->refills += st.refills;
		sum->drains += st.drains;
		sum->drain_retries += st.drain_retries;
	}
}

/* The core's free units, from its per-order counts (cached ones excluded). */
static u64 core_free_units(struct buddy_pool *pool)
{
	unsigned int o;
	u64 units = 0;

	for (o = 0; o <= buddy_pool_max_order(pool); o++)
		units += buddy_pool_core_nr_free(pool, o) << o;
	return units;
}

/* A fresh pool is whole; one block of each cached order comes and goes. */
static void pool_basic_test(struct kunit *test)
{
	struct buddy_pool *pool = make_pool(test, POOL_TEST_ORDER, true);
	struct buddy_pool_cpu_stats sum;
	unsigned int o;
	u64 cached;
	s64 off;

	KUNIT_EXPECT_EQ(test, buddy_pool_free_units(pool), 1ULL << POOL_TEST_ORDER);
	KUNIT_EXPECT_EQ(test, buddy_pool_largest_order(pool), POOL_TEST_ORDER);
	for (o = 0; o < BUDDY_POOL_PCP_ORDERS; o++) {
		off = buddy_pool_alloc(pool, o, 0);
		KUNIT_ASSERT_GE(test, off, 0);
		KUNIT_EXPECT_EQ(test, off & ((1LL << o) - 1), 0);
		/* The refill cached a batch less the one handed out. */
		KUNIT_EXPECT_EQ(test, buddy_pool_free_units(pool),
				(1ULL << POOL_TEST_ORDER) - (1ULL << o));
		KUNIT_EXPECT_EQ(test, buddy_pool_free(pool, off, o), 0);
		KUNIT_EXPECT_EQ(test, buddy_pool_free_units(pool), 1ULL << POOL_TEST_ORDER);
	}
	sum_stats(pool, &sum, &cached);
	KUNIT_EXPECT_EQ(test, sum.hits, BUDDY_POOL_PCP_ORDERS);
	KUNIT_EXPECT_EQ(test, sum.frees, BUDDY_POOL_PCP_ORDERS);
	KUNIT_EXPECT_EQ(test, sum.refills, BUDDY_POOL_PCP_ORDERS);
	KUNIT_EXPECT_EQ(test, cached, buddy_pool_cached_units(pool));
	KUNIT_EXPECT_GT(test, cached, 0);
	KUNIT_EXPECT_EQ(test, core_free_units(pool) + cached, 1ULL << POOL_TEST_ORDER);
	/* Above the cached orders, straight from the core. */
	off = buddy_pool_alloc(pool, BUDDY_POOL_PCP_ORDERS, 0);
	KUNIT_ASSERT_GE(test, off, 0);
	KUNIT_EXPECT_EQ(test, buddy_pool_free(pool, off, BUDDY_POOL_PCP_ORDERS), 0);
	KUNIT_EXPECT_EQ(test, buddy_pool_check(pool), 0);
	KUNIT_EXPECT_EQ(test, buddy_pool_cached_units(pool), 0);
	KUNIT_EXPECT_EQ(test, buddy_pool_largest_order(pool), POOL_TEST_ORDER);
}

/* Bad orders, flags, offsets: -EINVAL, and nothing changes. */
static void pool_invalid_test(struct kunit *test)
{
	static const bool modes[] = { true, false };
	unsigned int m;

	for (m = 0; m < ARRAY_SIZE(modes); m++) {
		struct buddy_pool *pool = make_pool(test, POOL_TEST_ORDER, modes[m]);
		struct buddy_pool_cpu_stats before, after;
		u64 free_before, cb, ca;
		s64 off = buddy_pool_alloc(pool, 1, 0);

		KUNIT_ASSERT_GE(test, off, 0);
		free_before = buddy_pool_free_units(pool);
		sum_stats(pool, &before, &cb);
		KUNIT_EXPECT_EQ(test, buddy_pool_alloc(pool, POOL_TEST_ORDER + 1, 0), -EINVAL);
		/* No core knows bit 31 (bit 0, TOPDOWN, is the cores' own). */
		KUNIT_EXPECT_EQ(test, buddy_pool_alloc(pool, 0, 1U << 31), -EINVAL);
		KUNIT_EXPECT_EQ(test, buddy_pool_free(pool, off + 1, 1), -EINVAL);
		KUNIT_EXPECT_EQ(test, buddy_pool_free(pool, 1ULL << POOL_TEST_ORDER, 0),
				-EINVAL);
		KUNIT_EXPECT_EQ(test, buddy_pool_free(pool, 0, POOL_TEST_ORDER + 1), -EINVAL);
		KUNIT_EXPECT_EQ(test, buddy_pool_free(pool, U64_MAX & ~7ULL, 3), -EINVAL);
		sum_stats(pool, &after, &ca);
		KUNIT_EXPECT_EQ(test, buddy_pool_free_units(pool), free_before);
		KUNIT_EXPECT_EQ(test, ca, cb);
		KUNIT_EXPECT_EQ(test, after.hits, before.hits);
		KUNIT_EXPECT_EQ(test, after.frees, before.frees);
		if (!modes[m]) {
			/* Uncached, the core validates: a double free is refused. */
			KUNIT_EXPECT_EQ(test, buddy_pool_free(pool, off, 1), 0);
			KUNIT_EXPECT_EQ(test, buddy_pool_free(pool, off, 1), -EINVAL);
			KUNIT_EXPECT_EQ(test, buddy_pool_free(pool, off, 0), -EINVAL);
		} else {
			KUNIT_EXPECT_EQ(test, buddy_pool_free(pool, off, 1), 0);
		}
		KUNIT_EXPECT_EQ(test, buddy_pool_free_units(pool), 1ULL << POOL_TEST_ORDER);
	}
}

/*
 * Fill the pool with units until -ENOMEM: exactly every unit, no false
 * ENOMEM with the caches holding blocks.  Then free them all (into the
 * cache, overflowing into the core) and take the whole pool in one block:
 * only a drain of the caches and a retry can give it.
 */
static void pool_fill_drain_retry_test(struct kunit *test)
{
	const u64 units = 1ULL << POOL_TEST_ORDER;
	struct buddy_pool *pool = make_pool(test, POOL_TEST_ORDER, true);
	struct buddy_pool_cpu_stats sum;
	s64 *offs, off;
	u64 i, n = 0, cached;

	offs = kunit_kcalloc(test, units, sizeof(*offs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, offs);
	while ((off = buddy_pool_alloc(pool, 0, 0)) >= 0) {
		KUNIT_ASSERT_LT(test, n, units);
		offs[n++] = off;
	}
	KUNIT_EXPECT_EQ(test, off, -ENOMEM);
	KUNIT_EXPECT_EQ(test, n, units);
	KUNIT_EXPECT_EQ(test, buddy_pool_free_units(pool), 0);
	KUNIT_EXPECT_EQ(test, buddy_pool_largest_order(pool), -ENOMEM);
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, buddy_pool_free(pool, offs[i], 0), 0);
	sum_stats(pool, &sum, &cached);
	KUNIT_EXPECT_EQ(test, cached, (u64)sum.cached[0]);
	KUNIT_EXPECT_GT(test, cached, 0);
	KUNIT_EXPECT_LE(test, cached, BUDDY_POOL_PCP_HIGH);
	KUNIT_EXPECT_EQ(test, buddy_pool_free_units(pool), units);
	KUNIT_EXPECT_LT(test, buddy_pool_core_nr_free(pool, POOL_TEST_ORDER), 1);

	off = buddy_pool_alloc(pool, POOL_TEST_ORDER, 0);
	KUNIT_EXPECT_EQ(test, off, 0);
	sum_stats(pool, &sum, &cached);
	KUNIT_EXPECT_EQ(test, sum.drain_retries, 1);
	KUNIT_EXPECT_EQ(test, cached, 0);
	KUNIT_EXPECT_EQ(test, buddy_pool_free_units(pool), 0);
	/* Truly full now: the retry finds nothing to drain. */
	KUNIT_EXPECT_EQ(test, buddy_pool_alloc(pool, 0, 0), -ENOMEM);
	sum_stats(pool, &sum, &cached);
	KUNIT_EXPECT_EQ(test, sum.drain_retries, 1);
	KUNIT_EXPECT_EQ(test, buddy_pool_free(pool, 0, POOL_TEST_ORDER), 0);
	KUNIT_EXPECT_EQ(test, buddy_pool_check(pool), 0);
}

/*
 * A random walk with the caches on: whenever an allocation fails, the pool
 * (drained) truly has no block that large, and the counters always agree:
 * free units = the model's, the core's per-order blocks plus the cached
 * units, every CPU's cache within its bounds.
 */
static void pool_random_enomem_test(struct kunit *test)
{
	const u64 units = 1ULL << POOL_TEST_ORDER;
	struct buddy_pool *pool = make_pool(test, POOL_TEST_ORDER, true);
	struct buddy_pool_cpu_stats sum;
	struct { s64 off; unsigned int order; } *live;
	unsigned int nlive = 0, i, failures = 0, max_live = units;
	struct rnd_state rnd;
	u64 free_units = units, cached;

	live = kunit_kcalloc(test, max_live, sizeof(*live), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, live);
	prandom_seed_state(&rnd, seed_for(test));
	for (i = 0; i < 20000; i++) {
		/* Allocate 2 times in 3: the walk reaches full and stays near it. */
		bool alloc = !nlive || prandom_u32_state(&rnd) % 3;

		if (alloc) {
			unsigned int order = prandom_u32_state(&rnd) % 6;
			s64 off = buddy_pool_alloc(pool, order, 0);

			if (off < 0) {
				KUNIT_ASSERT_EQ(test, off, -ENOMEM);
				/* Drained, the core has no block of this order. */
				KUNIT_ASSERT_LT(test, buddy_pool_largest_order(pool),
						(int)order);
				failures++;
				continue;
			}
			KUNIT_ASSERT_LT(test, nlive, max_live);
			live[nlive].off = off;
			live[nlive++].order = order;
			free_units -= 1ULL << order;
		} else {
			unsigned int j = prandom_u32_state(&rnd) % nlive;

			KUNIT_ASSERT_EQ(test, buddy_pool_free(pool, live[j].off,
							      live[j].order), 0);
			free_units += 1ULL << live[j].order;
			live[j] = live[--nlive];
		}
		KUNIT_ASSERT_EQ(test, buddy_pool_free_units(pool), free_units);
		if (i % 64)
			continue;
		sum_stats(pool, &sum, &cached);
		KUNIT_ASSERT_EQ(test, cached, buddy_pool_cached_units(pool));
		KUNIT_ASSERT_EQ(test, core_free_units(pool) + cached, free_units);
		KUNIT_ASSERT_LE(test, sum.hits, (u64)i + 1);
	}
	kunit_info(test, "%u allocations failed, each with the pool truly short\n",
		   failures);
	KUNIT_EXPECT_GT(test, failures, 0);
	while (nlive) {
		nlive--;
		KUNIT_ASSERT_EQ(test, buddy_pool_free(pool, live[nlive].off,
						      live[nlive].order), 0);
	}
	KUNIT_EXPECT_EQ(test, buddy_pool_check(pool), 0);
	KUNIT_EXPECT_EQ(test, buddy_pool_free_units(pool), units);
	KUNIT_EXPECT_EQ(test, buddy_pool_largest_order(pool), POOL_TEST_ORDER);
}

/* What one run of the seeded sequence saw, op by op. */
struct seq_trace {
	s8 *result;		/* 0, or the negative errno */
	u64 *free_units;	/* after the op */
	u64 end_nr_free[POOL_TEST_ORDER + 1];
	unsigned int allocs;
};

#define SEQ_OPS		6000

/*
 * One seeded sequence: a fill of units to -ENOMEM and back, then a random
 * walk of the cached orders up to an eighth of the pool (where no placement
 * can fail an allocation: a failure would be the pool's), with invalid
 * requests mixed in, then everything freed.  Records each op's result and
 * the free units after it.
 */
static void run_sequence(struct kunit *test, bool cache_on, u64 seed,
			 struct seq_trace *t)
{
	const u64 units = 1ULL << POOL_TEST_ORDER;
	struct buddy_pool *pool = make_pool(test, POOL_TEST_ORDER, cache_on);
	struct { s64 off; unsigned int order; } *live;
	unsigned int nlive = 0, i, o;
	struct rnd_state rnd;
	u64 live_units = 0;

	live = kunit_kcalloc(test, units, sizeof(*live), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, live);
	prandom_seed_state(&rnd, seed);
	for (i = 0; i < SEQ_OPS; i++) {
		u32 r = prandom_u32_state(&rnd);
		int ret = 0;

		if (i < units + 1) {
			/* The fill: one unit at a time, past full once. */
			s64 off = buddy_pool_alloc(pool, 0, 0);

			if (off >= 0) {
				live[nlive].off = off;
				live[nlive++].order = 0;
			}
			ret = off < 0 ? off : 0;
			/* Full: free it all again, in the order it came. */
			if (i == units) {
				unsigned int j;

				for (j = 0; j < nlive; j++)
					KUNIT_ASSERT_EQ(test,
							buddy_pool_free(pool, live[j].off, 0), 0);
				nlive = 0;
			}
		} else if (r % 50 == 0) {
			/* Invalid: a misaligned free, or an order above the pool. */
			ret = r & 64 ? buddy_pool_free(pool, 1, 1) :
				       (int)buddy_pool_alloc(pool, POOL_TEST_ORDER + 1, 0);
		} else if (nlive && (r % 2 || live_units * 8 >= units)) {
			unsigned int j = (r >> 8) % nlive;

			ret = buddy_pool_free(pool, live[j].off, live[j].order);
			if (!ret) {
				live_units -= 1ULL << live[j].order;
				live[j] = live[--nlive];
			}
		} else {
			unsigned int order = (r >> 8) % BUDDY_POOL_PCP_ORDERS;
			s64 off = buddy_pool_alloc(pool, order, 0);

			ret = off < 0 ? off : 0;
			if (off >= 0) {
				live[nlive].off = off;
				live[nlive++].order = order;
				live_units += 1ULL << order;
				t->allocs++;
			}
		}
		t->result[i] = ret;
		t->free_units[i] = buddy_pool_free_units(pool);
	}
	while (nlive) {
		nlive--;
		KUNIT_ASSERT_EQ(test, buddy_pool_free(pool, live[nlive].off,
						      live[nlive].order), 0);
	}
	KUNIT_EXPECT_EQ(test, buddy_pool_check(pool), 0);
	for (o = 0; o <= POOL_TEST_ORDER; o++)
		t->end_nr_free[o] = buddy_pool_core_nr_free(pool, o);
}

/* The caches change where blocks land, never what succeeds or what is free. */
static void pool_cache_identical_test(struct kunit *test)
{
	struct seq_trace on = { 0 }, off = { 0 };
	u64 seed = seed_for(test);
	unsigned int i, differ = 0;

	on.result = kunit_kcalloc(test, SEQ_OPS, sizeof(*on.result), GFP_KERNEL);
	off.result = kunit_kcalloc(test, SEQ_OPS, sizeof(*off.result), GFP_KERNEL);
	on.free_units = kunit_kcalloc(test, SEQ_OPS, sizeof(u64), GFP_KERNEL);
	off.free_units = kunit_kcalloc(test, SEQ_OPS, sizeof(u64), GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, on.result && off.result && on.free_units &&
			  off.free_units);
	run_sequence(test, true, seed, &on);
	run_sequence(test, false, seed, &off);
	for (i = 0; i < SEQ_OPS; i++) {
		if (on.result[i] == off.result[i] &&
		    on.free_units[i] == off.free_units[i])
			continue;
		if (!differ++)
			kunit_err(test, "op %u: cached %d, %llu free; uncached %d, %llu free\n",
				  i, on.result[i], on.free_units[i], off.result[i],
				  off.free_units[i]);
	}
	KUNIT_EXPECT_EQ(test, differ, 0);
	KUNIT_EXPECT_EQ(test, on.allocs, off.allocs);
	KUNIT_EXPECT_GT(test, on.allocs, 0);
	/* The fill met ENOMEM exactly at full in both. */
	KUNIT_EXPECT_EQ(test, on.result[1 << POOL_TEST_ORDER], -ENOMEM);
	KUNIT_EXPECT_EQ(test, on.result[(1 << POOL_TEST_ORDER) - 1], 0);
	KUNIT_EXPECT_EQ(test, memcmp(on.end_nr_free, off.end_nr_free,
				     sizeof(on.end_nr_free)), 0);
	KUNIT_EXPECT_EQ(test, on.end_nr_free[POOL_TEST_ORDER], 1);
}

/* Turning the caches off at runtime drains them; on again, they fill. */
static void pool_set_cache_test(struct kunit *test)
{
	struct buddy_pool *pool = make_pool(test, POOL_TEST_ORDER, true);
	struct buddy_pool_cpu_stats sum;
	s64 a, b;
	u64 cached;

	a = buddy_pool_alloc(pool, 0, 0);
	KUNIT_ASSERT_GE(test, a, 0);
	KUNIT_EXPECT_GT(test, buddy_pool_cached_units(pool), 0);
	buddy_pool_set_cache(pool, false);
	KUNIT_EXPECT_FALSE(test, buddy_pool_cache_enabled(pool));
	KUNIT_EXPECT_EQ(test, buddy_pool_cached_units(pool), 0);
	b = buddy_pool_alloc(pool, 0, 0);
	KUNIT_ASSERT_GE(test, b, 0);
	KUNIT_EXPECT_EQ(test, buddy_pool_cached_units(pool), 0);
	/* A block allocated with the caches on frees fine with them off. */
	KUNIT_EXPECT_EQ(test, buddy_pool_free(pool, a, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_pool_free(pool, b, 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_pool_cached_units(pool), 0);
	KUNIT_EXPECT_EQ(test, buddy_pool_core_nr_free(pool, POOL_TEST_ORDER), 1);
	buddy_pool_set_cache(pool, true);
	a = buddy_pool_alloc(pool, 2, 0);
	KUNIT_ASSERT_GE(test, a, 0);
	sum_stats(pool, &sum, &cached);
	KUNIT_EXPECT_EQ(test, cached, (u64)(BUDDY_POOL_PCP_BATCH - 1) << 2);
	KUNIT_EXPECT_EQ(test, buddy_pool_free(pool, a, 2), 0);
	KUNIT_EXPECT_EQ(test, buddy_pool_drain_all(pool),
			(u64)BUDDY_POOL_PCP_BATCH << 2);
	KUNIT_EXPECT_EQ(test, buddy_pool_core_nr_free(pool, POOL_TEST_ORDER), 1);
}

/* A full cache sends its oldest batch back and keeps at most HIGH blocks. */
static void pool_cache_high_test(struct kunit *test)
{
	const unsigned int n = BUDDY_POOL_PCP_HIGH + BUDDY_POOL_PCP_BATCH;
	struct buddy_pool *pool = make_pool(test, POOL_TEST_ORDER, true);
	struct buddy_pool_cpu_stats sum;
	s64 *offs;
	unsigned int i;
	u64 cached;

	offs = kunit_kcalloc(test, n, sizeof(*offs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, offs);
	for (i = 0; i < n; i++) {
		offs[i] = buddy_pool_alloc(pool, 0, 0);
		KUNIT_ASSERT_GE(test, offs[i], 0);
	}
	sum_stats(pool, &sum, &cached);
	KUNIT_EXPECT_EQ(test, sum.hits, n);
	KUNIT_EXPECT_EQ(test, sum.refills, DIV_ROUND_UP(n, BUDDY_POOL_PCP_BATCH));
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, buddy_pool_free(pool, offs[i], 0), 0);
	sum_stats(pool, &sum, &cached);
	KUNIT_EXPECT_LE(test, cached, BUDDY_POOL_PCP_HIGH);
	KUNIT_EXPECT_GT(test, sum.drains, 0);
	KUNIT_EXPECT_EQ(test, buddy_pool_free_units(pool), 1ULL << POOL_TEST_ORDER);
	KUNIT_EXPECT_EQ(test, buddy_pool_check(pool), 0);
}

/*
 * Placement through the pool: cached blocks count as free, so TOPDOWN finds
 * a block that sits in a cache and RANGE finds the one cached block of its
 * range; EXACT keeps its units and frees the rest; bad requests change
 * nothing.
 */
static void pool_placement_test(struct kunit *test)
{
	const u64 units = 1ULL << POOL_TEST_ORDER;
	struct buddy_pool *pool = make_pool(test, POOL_TEST_ORDER, true);
	struct buddy_core_req req = { .units = 1,
				      .flags = BUDDY_CORE_ALLOC_TOPDOWN };
	static const struct buddy_core_req bad[] = {
		{ .units = 0 },
		{ .units = (1ULL << POOL_TEST_ORDER) + 1 },
		{ .units = 1, .flags = 0x8 },
		{ .units = 1, .start = 1, .end = 2 },
		{ .units = 1, .start = 2, .end = 2, .flags = BUDDY_CORE_ALLOC_RANGE },
		{ .units = 1, .start = 0, .end = (1ULL << POOL_TEST_ORDER) + 1,
		  .flags = BUDDY_CORE_ALLOC_RANGE },
	};
	unsigned int i;
	s64 off, *all;

	/* The top unit, freed into this CPU's cache, is the top unit again. */
	off = buddy_pool_alloc_req(pool, &req);
	KUNIT_ASSERT_EQ(test, off, units - 1);
	KUNIT_EXPECT_EQ(test, buddy_pool_free_extent(pool, off, 1), 0);
	KUNIT_EXPECT_GT(test, buddy_pool_cached_units(pool), 0);
	KUNIT_EXPECT_EQ(test, buddy_pool_alloc(pool, 0, BUDDY_CORE_ALLOC_TOPDOWN),
			units - 1);
	KUNIT_EXPECT_EQ(test, buddy_pool_free(pool, units - 1, 0), 0);

	/* Every unit taken, one given back to a cache: RANGE finds it. */
	all = kunit_kcalloc(test, units, sizeof(*all), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, all);
	for (i = 0; i < units; i++) {
		all[i] = buddy_pool_alloc(pool, 0, 0);
		KUNIT_ASSERT_GE(test, all[i], 0);
	}
	KUNIT_EXPECT_EQ(test, buddy_pool_free(pool, 500, 0), 0);
	req = (struct buddy_core_req){ .units = 1, .start = 0, .end = 500,
				       .flags = BUDDY_CORE_ALLOC_RANGE };
	KUNIT_EXPECT_EQ(test, buddy_pool_alloc_req(pool, &req), -ENOMEM);
	req.end = units;
	KUNIT_EXPECT_EQ(test, buddy_pool_alloc_req(pool, &req), 500);
	for (i = 0; i < units; i++)
		KUNIT_EXPECT_EQ(test, buddy_pool_free(pool, all[i], 0), 0);
	KUNIT_EXPECT_EQ(test, buddy_pool_free_units(pool), units);

	/* EXACT 3 units: aligned to 4, the fourth free at once. */
	req = (struct buddy_core_req){ .units = 3,
				       .flags = BUDDY_CORE_ALLOC_EXACT };
	off = buddy_pool_alloc_req(pool, &req);
	KUNIT_ASSERT_GE(test, off, 0);
	KUNIT_EXPECT_EQ(test, off & 3, 0);
	KUNIT_EXPECT_EQ(test, buddy_pool_free_units(pool), units - 3);
	KUNIT_EXPECT_EQ(test, buddy_pool_free_extent(pool, off, 5), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_pool_free_extent(pool, off, units + 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_pool_free_extent(pool, off, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, buddy_pool_free_units(pool), units - 3);
	KUNIT_EXPECT_EQ(test, buddy_pool_free_extent(pool, off, 3), 0);

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		KUNIT_EXPECT_EQ_MSG(test, buddy_pool_alloc_req(pool, &bad[i]),
				    -EINVAL, "bad request %u", i);
	KUNIT_EXPECT_EQ(test, buddy_pool_free_units(pool), units);
	KUNIT_EXPECT_EQ(test, buddy_pool_largest_order(pool), POOL_TEST_ORDER);
	KUNIT_EXPECT_EQ(test, buddy_pool_check(pool), 0);
}

static struct kunit_case buddy_pool_cases[] = {
	KUNIT_CASE_PARAM(pool_basic_test, pool_core_gen_params),
	KUNIT_CASE_PARAM(pool_invalid_test, pool_core_gen_params),
	KUNIT_CASE_PARAM(pool_fill_drain_retry_test, pool_core_gen_params),
	KUNIT_CASE_PARAM(pool_random_enomem_test, pool_core_gen_params),
	KUNIT_CASE_PARAM(pool_cache_identical_test, pool_core_gen_params),
	KUNIT_CASE_PARAM(pool_set_cache_test, pool_core_gen_params),
	KUNIT_CASE_PARAM(pool_cache_high_test, pool_core_gen_params),
	KUNIT_CASE_PARAM(pool_placement_test, pool_core_gen_params),
	{}
};

static struct kunit_suite buddy_pool_suite = {
	.name = "buddy_pool",
	.test_cases = buddy_pool_cases,
};

kunit_test_suites(&buddy_pool_suite);
