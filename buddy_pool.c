// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_pool: an allocator core behind a spinlock, with per-CPU caches of
 * small free blocks (see buddy_pool.h for the rules and the locking).
 */
#define pr_fmt(fmt) "buddy: " fmt

#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/err.h>
#include <linux/export.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "buddy_core.h"
#include "buddy_pool.h"

/* ---- The core: its state and its maps in one allocation ---- */

static void *core_create(const struct buddy_core_ops *ops,
			 unsigned int max_order)
{
	size_t state = ALIGN(ops->state_size, 8);
	size_t meta_size = ops->meta_size(max_order);
	void *core;
	int ret;

	if (!meta_size)
		return ERR_PTR(-EINVAL);
	/* The maps follow the state: kvmalloc() aligns both well enough. */
	core = kvmalloc(state + meta_size, GFP_KERNEL);
	if (!core)
		return ERR_PTR(-ENOMEM);
	ret = ops->init(core, max_order, (u8 *)core + state, meta_size);
	if (ret) {
		kvfree(core);
		return ERR_PTR(ret);
	}
	return core;
}

/* ---- Moving blocks between a cache and the core ---- */

static s64 core_alloc(struct buddy_pool *pool, unsigned int order,
		      unsigned int flags)
{
	lockdep_assert_held(&pool->lock);
	return pool->ops->alloc(pool->core, order, flags);
}

static void core_free_cached(struct buddy_pool *pool, u64 offset,
			     unsigned int order)
{
	lockdep_assert_held(&pool->lock);
	/* The block came out of this core: a refusal is a bug (ours or the caller's). */
	WARN_ON_ONCE(pool->ops->free(pool->core, offset, order));
}

/* Fills @pcp's empty list of @order with up to a batch; returns how many. */
static u32 pcp_refill(struct buddy_pool *pool, struct buddy_pool_pcp *pcp,
		      unsigned int order)
{
	u32 n;

	lockdep_assert_held(&pcp->lock);
	spin_lock(&pool->lock);
	for (n = 0; n < BUDDY_POOL_PCP_BATCH; n++) {
		s64 off = core_alloc(pool, order, 0);

		if (off < 0)
			break;
		pcp->block[order][n] = off;
	}
	spin_unlock(&pool->lock);
	pcp->count[order] = n;
	if (n)
		pcp->stats.refills++;
	return n;
}

/* Gives @pcp's @n oldest blocks of @order back to the core. */
static void pcp_drain_order(struct buddy_pool *pool, struct buddy_pool_pcp *pcp,
			    unsigned int order, u32 n)
{
	u32 i;

	lockdep_assert_held(&pcp->lock);
	spin_lock(&pool->lock);
	for (i = 0; i < n; i++)
		core_free_cached(pool, pcp->block[order][i], order);
	spin_unlock(&pool->lock);
	pcp->count[order] -= n;
	memmove(pcp->block[order], pcp->block[order] + n,
		pcp->count[order] * sizeof(pcp->block[order][0]));
}

/* Empties one CPU's cache into the core; returns the units it held. */
static u64 pcp_drain(struct buddy_pool *pool, struct buddy_pool_pcp *pcp)
{
	unsigned int order;
	u64 units = 0;

	spin_lock(&pcp->lock);
	for (order = 0; order < BUDDY_POOL_PCP_ORDERS; order++) {
		u32 n = pcp->count[order];

		if (!n)
			continue;
		pcp_drain_order(pool, pcp, order, n);
		units += (u64)n << order;
		pcp->stats.drains++;
	}
	spin_unlock(&pcp->lock);
	return units;
}

/**
 * buddy_pool_drain_all() - give every CPU's cached blocks back to the core
 * @pool: the pool
 *
 * Every possible CPU's, offline ones too: a task that picked a cache just
 * before its CPU went offline may still have put a block there.
 *
 * Return: the units that were cached.
 */
u64 buddy_pool_drain_all(struct buddy_pool *pool)
{
	u64 units = 0;
	unsigned int cpu;

	for_each_possible_cpu(cpu)
		units += pcp_drain(pool, per_cpu_ptr(pool->pcp, cpu));
	return units;
}
EXPORT_SYMBOL_GPL(buddy_pool_drain_all);

/* ---- Allocation and free ---- */

/* This CPU's cache, or -ENOMEM when neither it nor a refill has a block. */
static s64 pcp_alloc(struct buddy_pool *pool, unsigned int order)
{
	struct buddy_pool_pcp *pcp = raw_cpu_ptr(pool->pcp);
	s64 off = -ENOMEM;

	spin_lock(&pcp->lock);
	if (pcp->count[order] ||
	    (!atomic_read(&pool->draining) && pcp_refill(pool, pcp, order))) {
		off = pcp->block[order][--pcp->count[order]];
		pcp->stats.hits++;
	}
	spin_unlock(&pcp->lock);
	return off;
}

/*
 * The core had no block: drain every cache and try once more.  While
 * @pool->draining is set no block enters a cache, so once the drain has
 * passed every CPU the caches stay empty, and a failure of the retry means
 * the pool truly had no such block.
 */
static s64 alloc_drain_retry(struct buddy_pool *pool, unsigned int order)
{
	struct buddy_pool_pcp *pcp;
	s64 off = -ENOMEM;

	atomic_inc(&pool->draining);
	if (buddy_pool_drain_all(pool)) {
		spin_lock(&pool->lock);
		off = core_alloc(pool, order, 0);
		spin_unlock(&pool->lock);
		pcp = raw_cpu_ptr(pool->pcp);
		spin_lock(&pcp->lock);
		pcp->stats.drain_retries++;
		spin_unlock(&pcp->lock);
	}
	atomic_dec(&pool->draining);
	return off;
}

/*
 * An allocation with placement flags, always from the core.  Cached blocks
 * are free but hidden from the core, so a placed block could miss the
 * place it asks for (TOPDOWN's highest block, EXACT's smallest, the lowest
 * in a range): with any block cached, every cache is drained first (and,
 * @pool->draining set, none fills meanwhile).  Then the core's answer is
 * the pool's, as exact as the core's rule.
 */
static s64 alloc_placed(struct buddy_pool *pool,
			const struct buddy_core_req *req)
{
	s64 off;

	if (!buddy_pool_cached_units(pool)) {
		spin_lock(&pool->lock);
		off = pool->ops->alloc_req(pool->core, req);
		spin_unlock(&pool->lock);
		/* A block cached since the check is the one case to retry. */
		if (off != -ENOMEM)
			return off;
	}
	atomic_inc(&pool->draining);
	buddy_pool_drain_all(pool);
	spin_lock(&pool->lock);
	off = pool->ops->alloc_req(pool->core, req);
	spin_unlock(&pool->lock);
	atomic_dec(&pool->draining);
	return off;
}

/**
 * buddy_pool_alloc() - allocate a block of 2^@order units
 * @pool: the pool
 * @order: its order
 * @flags: 0 or BUDDY_CORE_ALLOC_TOPDOWN, what the cores' alloc() takes
 *
 * Without flags, cached orders come from this CPU's cache when they can,
 * so a block need not be the lowest free one.  With TOPDOWN, the highest
 * free block of the smallest order that fits, cached blocks included.
 * -ENOMEM only after every cache was drained into the core and the core
 * still had no block of @order.
 *
 * Return: the block's offset in units, -ENOMEM, or -EINVAL for an order
 * above the pool's or an unknown flag.
 */
s64 buddy_pool_alloc(struct buddy_pool *pool, unsigned int order,
		     unsigned int flags)
{
	s64 off;

	if (order > pool->max_order || (flags & ~BUDDY_CORE_ALLOC_TOPDOWN))
		return -EINVAL;
	if (flags) {
		struct buddy_core_req req = {
			.units = 1ULL << order,
			.flags = flags,
		};

		return alloc_placed(pool, &req);
	}
	if (order < BUDDY_POOL_PCP_ORDERS && buddy_pool_cache_enabled(pool)) {
		off = pcp_alloc(pool, order);
		if (off >= 0)
			return off;
	}
	spin_lock(&pool->lock);
	off = core_alloc(pool, order, 0);
	spin_unlock(&pool->lock);
	if (off == -ENOMEM)
		off = alloc_drain_retry(pool, order);
	return off;
}
EXPORT_SYMBOL_GPL(buddy_pool_alloc);

/**
 * buddy_pool_alloc_req() - allocate with placement flags
 * @pool: the pool
 * @req: what to allocate and where (struct buddy_core_req)
 *
 * A request without flags is buddy_pool_alloc() of the order holding
 * @req->units.  Any flag sends it to the core, never to a cache: a cached
 * block has no place to choose from, and EXACT gives its tail back to the
 * core at once.  Cached blocks count as free: when any is cached, every
 * cache is drained first, so the block is where the core's rule puts it in
 * the whole pool (TOPDOWN: the highest fitting block), and with RANGE
 * -ENOMEM means the range held no fitting free block.  The price: a placed
 * allocation empties every CPU's cache when they hold blocks.
 *
 * Return: the block's offset in units, -ENOMEM, or -EINVAL for a request
 * buddy_core_req_bounds() refuses.  The block is freed with
 * buddy_pool_free_extent() of (offset, @req->units) with EXACT, else of
 * (offset, the whole block's units).
 */
s64 buddy_pool_alloc_req(struct buddy_pool *pool,
			 const struct buddy_core_req *req)
{
	unsigned int order;
	u64 lo, hi;
	int ret;

	ret = buddy_core_req_bounds(req, pool->max_order, &order, &lo, &hi);
	if (ret)
		return ret;
	if (!req->flags)
		return buddy_pool_alloc(pool, order, 0);
	return alloc_placed(pool, req);
}
EXPORT_SYMBOL_GPL(buddy_pool_alloc_req);

/**
 * buddy_pool_free() - free a block buddy_pool_alloc() returned
 * @pool: the pool
 * @offset: its offset in units
 * @order: its order
 *
 * A cached order goes into this CPU's cache without the core's check (see
 * buddy_pool.h: the caller guarantees a live block); the range and
 * alignment are still checked.  Anything else goes to the core, which
 * refuses all but the exact start of a live block of @order.
 *
 * Return: 0, or -EINVAL and nothing changed.
 */
int buddy_pool_free(struct buddy_pool *pool, u64 offset, unsigned int order)
{
	struct buddy_pool_pcp *pcp;
	int ret;

	if (order > pool->max_order || offset >> pool->max_order ||
	    offset & ((1ULL << order) - 1))
		return -EINVAL;
	if (order < BUDDY_POOL_PCP_ORDERS && buddy_pool_cache_enabled(pool)) {
		pcp = raw_cpu_ptr(pool->pcp);
		spin_lock(&pcp->lock);
		/* Checked under the lock a drain holds while it passes here. */
		if (!atomic_read(&pool->draining)) {
			if (pcp->count[order] == BUDDY_POOL_PCP_HIGH) {
				pcp_drain_order(pool, pcp, order,
						BUDDY_POOL_PCP_BATCH);
				pcp->stats.drains++;
			}
			pcp->block[order][pcp->count[order]++] = offset;
			pcp->stats.frees++;
			spin_unlock(&pcp->lock);
			return 0;
		}
		spin_unlock(&pcp->lock);
	}
	spin_lock(&pool->lock);
	ret = pool->ops->free(pool->core, offset, order);
	spin_unlock(&pool->lock);
	return ret;
}
EXPORT_SYMBOL_GPL(buddy_pool_free);

/**
 * buddy_pool_free_extent() - free what buddy_pool_alloc_req() returned
 * @pool: the pool
 * @offset: its offset in units
 * @units: the units it kept: the request's units with
 *	BUDDY_CORE_ALLOC_EXACT, else the whole block's 2^order
 *
 * A power of two is one block, freed as buddy_pool_free() frees it: a
 * cached order goes into this CPU's cache, trusted like any cached free.
 * Any other extent is the pieces an EXACT allocation kept, which the core
 * checks and frees all or none of.
 *
 * Return: 0, or -EINVAL and nothing changed.
 */
int buddy_pool_free_extent(struct buddy_pool *pool, u64 offset, u64 units)
{
	int ret;

	if (!units || units > 1ULL << pool->max_order)
		return -EINVAL;
	if (is_power_of_2(units))
		return buddy_pool_free(pool, offset, ilog2(units));
	spin_lock(&pool->lock);
	ret = pool->ops->free_extent(pool->core, offset, units);
	spin_unlock(&pool->lock);
	return ret;
}
EXPORT_SYMBOL_GPL(buddy_pool_free_extent);

/**
 * buddy_pool_set_cache() - turn the per-CPU caches on or off
 * @pool: the pool
 * @on: the new state
 *
 * Turning them off drains every cache.  An operation that read the old
 * state may still put a block in a cache afterwards; that block stays free
 * and counted, and the next drain (an allocation short of blocks, a
 * largest-order query, buddy_pool_destroy()) returns it.
 */
void buddy_pool_set_cache(struct buddy_pool *pool, bool on)
{
	WRITE_ONCE(pool->cache_on, on);
	if (!on)
		buddy_pool_drain_all(pool);
}
EXPORT_SYMBOL_GPL(buddy_pool_set_cache);

/* ---- Queries ---- */

/**
 * buddy_pool_cached_units() - units in every CPU's cache
 * @pool: the pool
 *
 * Read without the locks: a moment old under concurrent use.
 *
 * Return: the units.
 */
u64 buddy_pool_cached_units(struct buddy_pool *pool)
{
	unsigned int cpu, order;
	u64 units = 0;

	for_each_possible_cpu(cpu) {
		struct buddy_pool_pcp *pcp = per_cpu_ptr(pool->pcp, cpu);

		for (order = 0; order < BUDDY_POOL_PCP_ORDERS; order++)
			/* Written under that CPU's cache lock, read without it. */
			units += (u64)data_race(READ_ONCE(pcp->count[order])) << order;
	}
	return units;
}
EXPORT_SYMBOL_GPL(buddy_pool_cached_units);

/**
 * buddy_pool_free_units() - units free: the core's and the cached ones
 * @pool: the pool
 *
 * Cached blocks are free (an allocation gets them), so they count.  Read
 * without the locks: a moment old under concurrent use, exact when the
 * pool is quiet.
 *
 * Return: the units.
 */
u64 buddy_pool_free_units(struct buddy_pool *pool)
{
	/* A lockless reader's one read of the field (buddy_pool.h). */
	return data_race(pool->ops->free_units(pool->core)) +
	       buddy_pool_cached_units(pool);
}
EXPORT_SYMBOL_GPL(buddy_pool_free_units);

/**
 * buddy_pool_largest_order() - the largest order an allocation would get now
 * @pool: the pool
 *
 * Cached blocks merge with free neighbours in the core only there, and an
 * allocation short of blocks would drain them first, so the answer is the
 * core's largest free block once the caches are drained: this drains them
 * when any holds a block.
 *
 * Return: the order, or -ENOMEM when nothing is free.
 */
int buddy_pool_largest_order(struct buddy_pool *pool)
{
	if (buddy_pool_cached_units(pool))
		buddy_pool_drain_all(pool);
	return pool->ops->largest_order(pool->core);
}
EXPORT_SYMBOL_GPL(buddy_pool_largest_order);

/**
 * buddy_pool_core_nr_free() - the core's maximal free blocks of @order
 * @pool: the pool
 * @order: the order
 *
 * Cached blocks are not among them, as /proc/buddyinfo leaves out the page
 * allocator's pcp lists.  Read without the lock.
 *
 * Return: the count.
 */
u64 buddy_pool_core_nr_free(struct buddy_pool *pool, unsigned int order)
{
	/* Likewise. */
	return data_race(pool->ops->nr_free(pool->core, order));
}
EXPORT_SYMBOL_GPL(buddy_pool_core_nr_free);

/**
 * buddy_pool_cpu_stats() - one CPU's cache and counters
 * @pool: the pool
 * @cpu: a possible CPU
 * @st: filled in, consistently (under that CPU's cache lock)
 */
void buddy_pool_cpu_stats(struct buddy_pool *pool, unsigned int cpu,
			  struct buddy_pool_cpu_stats *st)
{
	struct buddy_pool_pcp *pcp = per_cpu_ptr(pool->pcp, cpu);

	spin_lock(&pcp->lock);
	*st = pcp->stats;
	memcpy(st->cached, pcp->count, sizeof(st->cached));
	spin_unlock(&pcp->lock);
}
EXPORT_SYMBOL_GPL(buddy_pool_cpu_stats);

/**
 * buddy_pool_check() - drain the caches and check the core's invariants
 * @pool: the pool
 *
 * Return: 0, or the core's negative errno.
 */
int buddy_pool_check(struct buddy_pool *pool)
{
	int ret;

	buddy_pool_drain_all(pool);
	spin_lock(&pool->lock);
	ret = pool->ops->check(pool->core);
	spin_unlock(&pool->lock);
	return ret;
}
EXPORT_SYMBOL_GPL(buddy_pool_check);

/* ---- Set-up, CPU hotplug, teardown ---- */

/* A CPU is dead: nothing runs there any more, so its cache goes back. */
static int buddy_pool_cpu_dead(unsigned int cpu, struct hlist_node *node)
{
	struct buddy_pool *pool = hlist_entry(node, struct buddy_pool, cpuhp_node);

	pcp_drain(pool, per_cpu_ptr(pool->pcp, cpu));
	return 0;
}

/**
 * buddy_pool_init() - set up a pool of 2^@max_order free units
 * @pool: the pool, its contents undefined
 * @ops: its core
 * @max_order: the pool's order
 * @cache_on: whether the per-CPU caches start on
 *
 * Sleeps: allocates the core and the caches and registers a CPU hotplug
 * state (one of the kernel's dynamic ones) for the pool.
 *
 * Return: 0, or a negative errno with nothing left allocated and one line
 * in the kernel log saying what failed.
 */
int buddy_pool_init(struct buddy_pool *pool,
		    const struct buddy_core_ops *ops,
		    unsigned int max_order, bool cache_on)
{
	unsigned int cpu;
	int ret;

	if (max_order > BUDDY_POOL_MAX_ORDER)
		return -EINVAL;
	memset(pool, 0, sizeof(*pool));
	spin_lock_init(&pool->lock);
	atomic_set(&pool->draining, 0);
	pool->ops = ops;
	pool->max_order = max_order;
	pool->cache_on = cache_on;
	pool->core = core_create(ops, max_order);
	if (IS_ERR(pool->core)) {
		ret = PTR_ERR(pool->core);
		pr_err("%s for the %s allocator of 2^%u units\n",
		       ret == -ENOMEM ? "no memory" : "no valid parameters",
		       ops->name, max_order);
		return ret;
	}
	pool->pcp = alloc_percpu(struct buddy_pool_pcp);
	if (!pool->pcp) {
		pr_err("no memory for the per-CPU caches (%zu bytes a CPU)\n",
		       sizeof(struct buddy_pool_pcp));
		ret = -ENOMEM;
		goto destroy_core;
	}
	for_each_possible_cpu(cpu)
		spin_lock_init(&per_cpu_ptr(pool->pcp, cpu)->lock);
	/* Teardown in the PREPARE section runs once the CPU is dead. */
	ret = cpuhp_setup_state_multi(CPUHP_BP_PREPARE_DYN, "buddy/pool:dead",
				      NULL, buddy_pool_cpu_dead);
	if (ret < 0) {
		pr_err("cannot set up a CPU hotplug state: %d\n", ret);
		goto free_pcp;
	}
	pool->cpuhp_state = ret;
	ret = cpuhp_state_add_instance_nocalls(pool->cpuhp_state,
					       &pool->cpuhp_node);
	if (ret) {
		pr_err("cannot add to the CPU hotplug state: %d\n", ret);
		goto remove_state;
	}
	return 0;

remove_state:
	cpuhp_remove_multi_state(pool->cpuhp_state);
free_pcp:
	free_percpu(pool->pcp);
destroy_core:
	kvfree(pool->core);
	return ret;
}
EXPORT_SYMBOL_GPL(buddy_pool_init);

/**
 * buddy_pool_destroy() - drain every cache and free the pool
 * @pool: a pool buddy_pool_init() set up, nothing using it any more
 *
 * Blocks still allocated are the caller's leak: it warns once if the core
 * does not get every unit back.
 */
void buddy_pool_destroy(struct buddy_pool *pool)
{
	cpuhp_state_remove_instance_nocalls(pool->cpuhp_state, &pool->cpuhp_node);
	cpuhp_remove_multi_state(pool->cpuhp_state);
	buddy_pool_drain_all(pool);
	WARN_ON_ONCE(pool->ops->free_units(pool->core) != 1ULL << pool->max_order);
	free_percpu(pool->pcp);
	kvfree(pool->core);
}
EXPORT_SYMBOL_GPL(buddy_pool_destroy);
