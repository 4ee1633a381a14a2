// SPDX-License-Identifier: GPL-2.0
/*
 * e2e_fill: fill the pool and drain it, checking debugfs after each phase.
 *
 * Units until -ENOMEM (exactly pool_size / unit_size of them, covering the
 * pool), a checkerboard of holes (free space nobody can use above order 0),
 * drain back to one block; then random sizes until the pool is full, where
 * ALLOC must succeed exactly when INFO's largest_free is big enough.  After
 * every phase INFO, stats, buddyinfo and unusable_index must agree, and the
 * counters (allocs, frees, alloc_failures, live_blocks, peak_used_bytes)
 * must have moved by what the test did.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"

static struct buddy_info info;
static int fd;

static struct e2e_stats stats(void)
{
	struct e2e_stats st;

	if (e2e_read_stats(&st, NULL, 0))
		memset(&st, 0xff, sizeof(st));
	return st;
}

/* buddyinfo equals @want for orders 0..max_order. */
static bool buddyinfo_is(const __u64 *want, const char *phase)
{
	__u64 counts[E2E_MAX_ORDERS];
	unsigned int o;
	int n = e2e_read_buddyinfo(counts, E2E_MAX_ORDERS);
	bool good = n == (int)info.max_order + 1;

	for (o = 0; good && o <= info.max_order; o++) {
		if (counts[o] != want[o]) {
			e2e_diag("%s: buddyinfo order %u: %llu free blocks, want %llu",
				 phase, o, counts[o], want[o]);
			good = false;
		}
	}
	return e2e_check(good, "%s: buddyinfo as expected", phase);
}

/* unusable_index is @value at orders @from..@to (-1: max_order). */
static bool unusable_all(unsigned int value, unsigned int from, int to,
			 const char *phase)
{
	unsigned int index[E2E_MAX_ORDERS], o;
	int n = e2e_read_unusable(index, E2E_MAX_ORDERS);
	bool good = n == (int)info.max_order + 1;

	if (to < 0)
		to = info.max_order;
	for (o = from; good && o <= (unsigned int)to; o++)
		good = index[o] == value;
	return e2e_check(good, "%s: unusable_index %u.%03u at orders %u..%d",
			 phase, value / 1000, value % 1000, from, to);
}

static void test_units(void)
{
	__u64 units = info.pool_size / info.unit_size, n = 0, i;
	__u64 want[E2E_MAX_ORDERS] = { 0 };
	struct e2e_stats st0, st1, st2;
	struct buddy_info now;
	struct buddy_alloc a;
	unsigned char *seen;
	__u64 *offs;
	bool shape = true, cover = true;
	int ret;

	offs = calloc(units + 1, sizeof(*offs));
	seen = calloc(units, 1);
	if (!offs || !seen)
		exit(2);
	e2e_consistent(fd, "empty");
	want[info.max_order] = 1;
	buddyinfo_is(want, "empty");
	unusable_all(0, 0, -1, "empty");
	st0 = stats();

	while (n <= units && !(ret = buddy_alloc(fd, 1, &a))) {
		if (a.block_size != info.unit_size || a.offset % info.unit_size ||
		    a.offset >= info.pool_size)
			shape = false;
		else if (seen[a.offset / info.unit_size]++)
			cover = false;
		offs[n++] = a.offset;
	}
	e2e_check(ret == -ENOMEM && n == units,
		  "fill: %llu one-unit blocks, then -ENOMEM (got %llu, then %s)",
		  units, n, e2e_err(ret));
	e2e_check(shape, "fill: every block one unit, aligned, inside the pool");
	for (i = 0; i < units; i++)
		cover &= seen[i] == 1;
	e2e_check(cover, "fill: the blocks cover every unit exactly once");
	e2e_consistent(fd, "full");
	buddy_info(fd, &now);
	e2e_check(now.free_bytes == 0 && now.largest_free == 0,
		  "full: free_bytes 0, largest_free 0");
	want[info.max_order] = 0;
	buddyinfo_is(want, "full");
	unusable_all(1000, 0, -1, "full (no free memory: 1.000 like mm/vmstat.c)");
	st1 = stats();
	e2e_check(st1.allocs - st0.allocs == units &&
		  st1.live_blocks == units && st1.used_bytes == info.pool_size &&
		  st1.peak_used_bytes == info.pool_size &&
		  st1.alloc_failures - st0.alloc_failures == 1,
		  "full: stats allocs +%llu (got +%llu), live_blocks %llu, used_bytes %llu, peak %llu, alloc_failures +1 (got +%llu)",
		  units, st1.allocs - st0.allocs, st1.live_blocks,
		  st1.used_bytes, st1.peak_used_bytes,
		  st1.alloc_failures - st0.alloc_failures);

	/* Free every other unit: half the pool free, none of it mergeable. */
	if (info.max_order >= 1) {
		struct buddy_alloc b;

		for (i = 0; i < n; i++)
			if ((offs[i] / info.unit_size) % 2 == 0 &&
			    buddy_free(fd, offs[i]))
				shape = false;
		e2e_check(shape, "checkerboard: FREE of every even unit succeeded");
		e2e_consistent(fd, "checkerboard");
		buddy_info(fd, &now);
		e2e_check(now.free_bytes == info.pool_size / 2 &&
			  now.largest_free == info.unit_size,
			  "checkerboard: free_bytes half the pool, largest_free one unit");
		want[0] = units / 2;
		buddyinfo_is(want, "checkerboard");
		want[0] = 0;
		unusable_all(0, 0, 0, "checkerboard");
		unusable_all(1000, 1, -1, "checkerboard");
		memset(&b, 0, sizeof(b));
		b.size = info.unit_size + 1;
		e2e_expect_fail(fd, BUDDY_IOC_ALLOC, &b, ENOMEM,
				"checkerboard: ALLOC two units with half the pool free");
		st2 = stats();
		e2e_check(st2.peak_used_bytes == info.pool_size &&
			  st2.used_bytes == info.pool_size / 2,
			  "checkerboard: peak_used_bytes stays at pool_size, used half");
	}

	/* Drain the rest from the top down. */
	shape = true;
	for (i = n; i-- > 0;)
		if ((info.max_order == 0 || (offs[i] / info.unit_size) % 2) &&
		    buddy_free(fd, offs[i]))
			shape = false;
	e2e_check(shape, "drain: every FREE succeeded");
	e2e_pool_whole(fd, "drained");
	e2e_consistent(fd, "drained");
	want[info.max_order] = 1;
	buddyinfo_is(want, "drained: back to one block");
	unusable_all(0, 0, -1, "drained");
	st2 = stats();
	e2e_check(st2.frees - st1.frees == units && st2.live_blocks == 0 &&
		  st2.used_bytes == 0,
		  "drained: stats frees +%llu (got +%llu), live_blocks 0, used_bytes 0",
		  units, st2.frees - st1.frees);
	free(offs);
	free(seen);
}

/* One unit allocated: orders above 0 have only part of the free space. */
static void test_one_unit_index(void)
{
	__u64 free_units = (info.pool_size / info.unit_size) - 1;
	unsigned int index[E2E_MAX_ORDERS], o;
	struct buddy_alloc a;
	bool good;
	int n, was;

	/* The core's shape: no refill may take more than the one unit. */
	was = e2e_set_percpu_cache(0);
	if (!e2e_check(was >= 0, "percpu_cache=0 at runtime (%s)", e2e_err(was)))
		return;
	if (buddy_alloc(fd, 1, &a))
		goto restore;
	n = e2e_read_unusable(index, E2E_MAX_ORDERS);
	good = n == (int)info.max_order + 1;
	for (o = 0; good && o <= info.max_order; o++) {
		/* Free blocks of orders 0..max-1: 2^o - 1 units lie below o. */
		__u64 want = free_units ? (((1ULL << o) - 1) * 1000) / free_units : 1000;

		if (o == info.max_order)
			want = 1000;
		if (index[o] != want) {
			e2e_diag("unusable_index order %u: %u.%03u, want %llu.%03llu",
				 o, index[o] / 1000, index[o] % 1000, want / 1000,
				 want % 1000);
			good = false;
		}
	}
	e2e_check(good, "one unit allocated: unusable_index (2^o - 1) / free_units per order");
	e2e_consistent(fd, "one unit allocated");
	buddy_free(fd, a.offset);
restore:
	e2e_set_percpu_cache(was);
}

/* Random sizes: ALLOC succeeds exactly when a big enough block is free. */
static void test_random(void)
{
	__u64 units = info.pool_size / info.unit_size, used = 0;
	struct buddy_alloc *blocks;
	unsigned char *seen;
	unsigned int n = 0, i, wrong = 0, fails = 0;
	bool cover = true;

	blocks = calloc(units, sizeof(*blocks));
	seen = calloc(units, 1);
	if (!blocks || !seen)
		exit(2);
	while (n < units && fails < 64) {
		unsigned int order = e2e_rand() % (info.max_order + 1);
		__u64 size = 1 + e2e_rand() % (info.unit_size << order);
		__u64 bs = e2e_block_size(&info, size);
		struct buddy_info before;
		struct buddy_alloc a;
		int ret;

		buddy_info(fd, &before);
		ret = buddy_alloc(fd, size, &a);
		if ((ret == 0) != (before.largest_free >= bs) ||
		    (ret && ret != -ENOMEM)) {
			e2e_diag("ALLOC %llu with largest_free %llu: %s", size,
				 before.largest_free, e2e_err(ret));
			wrong++;
		}
		if (ret) {
			fails++;
			continue;
		}
		if (a.block_size != bs || a.offset % bs)
			wrong++;
		for (i = 0; i < bs / info.unit_size; i++)
			if (seen[a.offset / info.unit_size + i]++)
				cover = false;
		used += bs;
		blocks[n++] = a;
	}
	e2e_check(!wrong, "random sizes: ALLOC succeeds iff largest_free >= block size, blocks shaped (%u wrong)",
		  wrong);
	e2e_check(cover, "random sizes: %u live blocks never overlap", n);
	e2e_consistent(fd, "random sizes");
	{
		struct buddy_info now;

		buddy_info(fd, &now);
		e2e_check(now.free_bytes == info.pool_size - used,
			  "random sizes: free_bytes = pool_size - sum of blocks (%llu, want %llu)",
			  now.free_bytes, info.pool_size - used);
	}
	/* Free in random order. */
	for (i = n; i > 1; i--) {
		unsigned int j = e2e_rand() % i;
		struct buddy_alloc t = blocks[i - 1];

		blocks[i - 1] = blocks[j];
		blocks[j] = t;
	}
	for (i = 0; i < n; i++)
		if (buddy_free(fd, blocks[i].offset))
			wrong++;
	e2e_check(!wrong, "random sizes: every FREE succeeded");
	e2e_pool_whole(fd, "random sizes drained");
	e2e_consistent(fd, "random sizes drained");
	free(blocks);
	free(seen);
}

/* The largest block: one ALLOC takes everything. */
static void test_whole(void)
{
	__u64 want[E2E_MAX_ORDERS] = { 0 };
	struct buddy_alloc a;
	int ret = buddy_alloc(fd, info.pool_size, &a);

	if (!e2e_check(!ret && a.offset == 0 && a.block_size == info.pool_size,
		       "ALLOC pool_size: %s", e2e_err(ret)))
		return;
	e2e_consistent(fd, "one block of the whole pool");
	buddyinfo_is(want, "one block of the whole pool");
	buddy_free(fd, a.offset);
	e2e_pool_whole(fd, "whole pool freed");
}

int main(int argc, char **argv)
{
	e2e_init(argc, argv);
	fd = buddy_open();
	if (buddy_info(fd, &info)) {
		e2e_check(false, "INFO");
		return e2e_done();
	}
	e2e_pool_whole(fd, "initial");
	test_units();
	test_one_unit_index();
	test_random();
	test_whole();
	test_units();
	close(fd);
	return e2e_done();
}
