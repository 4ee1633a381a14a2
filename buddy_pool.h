/* SPDX-License-Identifier: GPL-2.0 */
/*
 * buddy_pool: one allocator core made safe for many CPUs, with per-CPU
 * caches of small free blocks in front of it.
 *
 * A pool is an allocator core (buddy_core_bitmap_ops by default; any
 * struct buddy_core_ops of buddy_core_ops.h) behind one spinlock, plus a
 * cache per CPU of free blocks of orders 0 .. BUDDY_POOL_PCP_ORDERS - 1,
 * as the page allocator keeps its pcp lists in front of its buddy lists
 * (mm/page_alloc.c).  It works in units and offsets only: no memory, pages,
 * files or users.
 *
 * Locking, outermost first:
 *   pcp->lock   one spinlock per CPU cache.  The CPU that runs an operation
 *               takes its own; a drain takes any CPU's (the page allocator
 *               does the same, so that another CPU can drain), so a task
 *               moved to another CPU after picking a cache still uses it
 *               correctly, only less locally.
 *   pool->lock  the core's spinlock, taken alone or inside one pcp->lock,
 *               never around one.  Its holds are batches of core calls:
 *               nothing under it sleeps, allocates or touches an xarray.
 * No pool function sleeps or allocates memory except buddy_pool_init() and
 * buddy_pool_destroy(); all may be called from any process context.
 *
 * Caches: an allocation of a cached order takes a block from this CPU's
 * cache, refilling it with BUDDY_POOL_PCP_BATCH blocks from the core when
 * empty; a free puts the block in this CPU's cache, sending the cache's
 * oldest BUDDY_POOL_PCP_BATCH blocks back to the core when full.  An
 * allocation the core cannot satisfy drains every CPU's cache into the core
 * and retries; while it does, no block enters any cache, so its -ENOMEM is
 * true: the core and every cache together held no block that large.  A CPU
 * that goes offline has its cache drained (cpuhp); buddy_pool_destroy()
 * drains everything.  A cached block is free: it counts in
 * buddy_pool_free_units(), not in buddy_pool_core_nr_free().
 *
 * Placed allocations (buddy_pool_alloc_req() with TOPDOWN, RANGE or EXACT)
 * never use a cache, and drain every cache first when any holds a block,
 * so that the block is where the core's rule puts it in the whole pool.
 *
 * Frees of cached orders trust the caller: the core validates a free only
 * when the block reaches it, so the caller must pass exactly a live block
 * this pool returned (buddy_mod.c checks its per-file ownership table
 * first); so do buddy_pool_free_extent()s of a power of two.  With the
 * caches off, every free goes to the core and is validated there.
 *
 * Cores plug in through struct buddy_core_ops: the pool allocates the
 * core's state and metadata in one kvmalloc() and calls alloc(),
 * alloc_req(), free(), free_extent() and check() only under pool->lock,
 * so a core needs no locking of its own; free_units(), largest_order()
 * and nr_free() it also calls without the lock (a lockless reader accepts
 * a value a moment old: the cores read each field once).
 */
#ifndef _BUDDY_POOL_H
#define _BUDDY_POOL_H

#include <linux/atomic.h>
#include <linux/cache.h>
#include <linux/list.h>
#include <linux/log2.h>
#include <linux/percpu.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "buddy_core_ops.h"

/* Largest pool order any core may have: offsets and counts fit in s64. */
#define BUDDY_POOL_MAX_ORDER	62
#define BUDDY_POOL_MAX_ORDERS	(BUDDY_POOL_MAX_ORDER + 1)

/* Orders with a per-CPU cache: 0 .. BUDDY_POOL_PCP_ORDERS - 1. */
#define BUDDY_POOL_PCP_ORDERS	4
/* Blocks of one order a CPU keeps at most. */
#define BUDDY_POOL_PCP_HIGH	160
/* Blocks moved between a cache and the core at once. */
#define BUDDY_POOL_PCP_BATCH	32

/**
 * struct buddy_pool_cpu_stats - one CPU's cache, as buddy_pool_cpu_stats()
 *	reports it
 * @cached: blocks in the cache now, per order
 * @hits: allocations served from the cache
 * @frees: frees kept in the cache
 * @refills: batches taken from the core into the cache
 * @drains: batches (or whole caches) given back to the core: a full cache,
 *	a drain of every CPU, the CPU going offline, the caches turned off
 * @drain_retries: allocations on this CPU that found the core short,
 *	drained every CPU's cache and tried again
 */
struct buddy_pool_cpu_stats {
	u32 cached[BUDDY_POOL_PCP_ORDERS];
	u64 hits;
	u64 frees;
	u64 refills;
	u64 drains;
	u64 drain_retries;
};

/**
 * struct buddy_pool_pcp - one CPU's cache
 * @lock: guards everything below; see the header comment
 * @count: blocks cached per order
 * @stats: its counters (@stats.cached unused: @count is the truth)
 * @block: per order, @count offsets, the oldest first
 */
struct buddy_pool_pcp {
	spinlock_t lock;	/* this cache: its CPU, or a drainer */
	u32 count[BUDDY_POOL_PCP_ORDERS];
	struct buddy_pool_cpu_stats stats;
	u64 block[BUDDY_POOL_PCP_ORDERS][BUDDY_POOL_PCP_HIGH];
};

/**
 * struct buddy_pool - a core, its lock and its per-CPU caches
 * @ops: the core's operations
 * @core: the core's state, @ops->state_size bytes, then its metadata
 * @pcp: the per-CPU caches
 * @max_order: the pool holds 2^@max_order units
 * @cache_on: caches in use (buddy_pool_set_cache()); read without a lock
 * @draining: drains of every CPU in progress; while non-zero, no block
 *	enters a cache
 * @cpuhp_state: the dynamic cpuhp state whose teardown drains a dead CPU
 * @cpuhp_node: this pool's instance of @cpuhp_state
 * @lock: serialises every call into @core; on a line of its own, away
 *	from the fields every operation reads
 */
struct buddy_pool {
	const struct buddy_core_ops *ops;
	void *core;
	struct buddy_pool_pcp __percpu *pcp;
	unsigned int max_order;
	bool cache_on;
	atomic_t draining;
	int cpuhp_state;
	struct hlist_node cpuhp_node;
	spinlock_t lock ____cacheline_aligned_in_smp;	/* the core */
};

int buddy_pool_init(struct buddy_pool *pool,
		    const struct buddy_core_ops *ops,
		    unsigned int max_order, bool cache_on);
void buddy_pool_destroy(struct buddy_pool *pool);
s64 buddy_pool_alloc(struct buddy_pool *pool, unsigned int order,
		     unsigned int flags);
s64 buddy_pool_alloc_req(struct buddy_pool *pool,
			 const struct buddy_core_req *req);
int buddy_pool_free(struct buddy_pool *pool, u64 offset, unsigned int order);
int buddy_pool_free_extent(struct buddy_pool *pool, u64 offset, u64 units);
void buddy_pool_set_cache(struct buddy_pool *pool, bool on);
u64 buddy_pool_drain_all(struct buddy_pool *pool);
u64 buddy_pool_free_units(struct buddy_pool *pool);
u64 buddy_pool_cached_units(struct buddy_pool *pool);
int buddy_pool_largest_order(struct buddy_pool *pool);
u64 buddy_pool_core_nr_free(struct buddy_pool *pool, unsigned int order);
void buddy_pool_cpu_stats(struct buddy_pool *pool, unsigned int cpu,
			  struct buddy_pool_cpu_stats *st);
int buddy_pool_check(struct buddy_pool *pool);

static inline unsigned int buddy_pool_max_order(const struct buddy_pool *pool)
{
	return pool->max_order;
}

static inline bool buddy_pool_cache_enabled(const struct buddy_pool *pool)
{
	return READ_ONCE(pool->cache_on);
}

/* The smallest order whose block holds @units (at least 1) units. */
static inline unsigned int buddy_pool_order_for(u64 units)
{
	return units > 1 ? ilog2(units - 1) + 1 : 0;
}

#endif /* _BUDDY_POOL_H */
