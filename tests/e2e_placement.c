// SPDX-License-Identifier: GPL-2.0
/*
 * e2e_placement: BUDDY_ALLOC_TOPDOWN, BUDDY_ALLOC_RANGE and
 * BUDDY_ALLOC_EXACT through /dev/buddy, on whichever core the module runs
 * (core=bitmap or core=tree), and the struct sizes they grew.
 *
 * - TOPDOWN: the highest-addressed free block of the smallest order that
 *   fits, also when that block sits in a per-CPU cache.
 * - RANGE: the whole block lies in [range_start, range_end); ENOMEM only
 *   when the range holds no aligned free window of the block's size.
 * - EXACT: block_size is round_up(size, unit_size), the offset is aligned
 *   to the whole block, the tail is free at once (another allocation gets
 *   it), FREE frees exactly the extent, quotas count it, mmap maps its
 *   whole pages only, EXPORT takes whole pages only.
 * - Every bad request is EINVAL and changes nothing; a callers' 32-byte
 *   struct buddy_alloc and 40-byte struct buddy_batch_op still work.
 * - A seeded random sequence of placed allocations and frees is checked
 *   against a model of the pool (which units this file owns): every
 *   TOPDOWN offset, every ENOMEM, free_bytes, and the core's buddyinfo.
 *
 * The test must be the pool's only user: it owns every allocated unit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "e2e.h"

#define CMD(dir, nr, size)	_IOC(dir, BUDDY_IOC_MAGIC, nr, size)
#define RW			(_IOC_READ | _IOC_WRITE)
/* The first versions of the structs, before the range fields. */
#define ALLOC_V1_SIZE		32
#define BATCH_OP_V1_SIZE	40

static struct buddy_info info;
static __u64 unit, units;
static int fd;

static int place(int f, __u64 size, __u32 flags, __u64 start, __u64 end,
		 struct buddy_alloc *a)
{
	memset(a, 0, sizeof(*a));
	a->size = size;
	a->flags = flags;
	a->range_start = start;
	a->range_end = end;
	return buddy_ioctl(f, BUDDY_IOC_ALLOC, a);
}

/* Units in the power-of-two block that holds @n units. */
static __u64 order_units(__u64 n)
{
	return e2e_block_size(&info, n * unit) / unit;
}

/*
 * Empty every per-CPU cache (percpu_cache off and on again), so that the
 * core alone holds the free blocks and the next placements are exact.
 */
static void drain_caches(void)
{
	int old = e2e_set_percpu_cache(0);

	if (old > 0)
		e2e_set_percpu_cache(1);
}

static __u64 free_bytes(void)
{
	struct buddy_info now;

	return buddy_info(fd, &now) ? UINT64_MAX : now.free_bytes;
}

static void test_topdown(void)
{
	static const __u64 mult[] = { 1, 2, 3, 5, 16 };
	struct buddy_alloc low, a, b;
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(mult); i++) {
		__u64 size = mult[i] * unit, block = order_units(mult[i]) * unit;

		if (block > info.pool_size)
			continue;
		ret = place(fd, size, BUDDY_ALLOC_TOPDOWN, 0, 0, &a);
		e2e_check(ret == 0 && a.offset == info.pool_size - block &&
			  a.block_size == block,
			  "TOPDOWN %llu bytes on an empty pool: %s, block %llu at %llu (want %llu at %llu)",
			  size, e2e_err(ret), a.block_size, a.offset, block,
			  info.pool_size - block);
		if (!ret)
			buddy_free(fd, a.offset);
	}
	/*
	 * The top unit, then its buddy: the order-0 free block beats the
	 * higher order-1 ones.  Freed into this CPU's cache, the top unit is
	 * again the only order-0 free block, and TOPDOWN must see it (the
	 * core alone would split the order-1 block below).
	 */
	if (units < 4)
		return;
	ret = place(fd, unit, BUDDY_ALLOC_TOPDOWN, 0, 0, &a);
	e2e_check(ret == 0 && a.offset == info.pool_size - unit,
		  "TOPDOWN unit: %s, at %llu, the top", e2e_err(ret), a.offset);
	ret = place(fd, unit, BUDDY_ALLOC_TOPDOWN, 0, 0, &low);
	e2e_check(ret == 0 && low.offset == info.pool_size - 2 * unit,
		  "TOPDOWN unit again: %s, at %llu, the top unit's buddy (an order-0 free block)",
		  e2e_err(ret), low.offset);
	buddy_free(fd, a.offset);
	ret = place(fd, unit, BUDDY_ALLOC_TOPDOWN, 0, 0, &b);
	e2e_check(ret == 0 && b.offset == info.pool_size - unit,
		  "TOPDOWN after freeing the top unit (into a cache): %s, at %llu, the top unit again",
		  e2e_err(ret), b.offset);
	if (!ret)
		buddy_free(fd, b.offset);
	buddy_free(fd, low.offset);
	e2e_pool_whole(fd, "after TOPDOWN");
}

static void test_range(void)
{
	__u64 start = info.pool_size / 8 * 3, end = info.pool_size / 8 * 4;
	__u64 n = 0, want = (end - start) / unit, *offs;
	struct buddy_alloc a, b, outside;
	bool inside = true;
	int ret;

	if (units < 16)
		return;
	offs = calloc(want + 1, sizeof(*offs));
	if (!offs)
		return;
	/* Fill the range unit by unit: every block inside, then ENOMEM. */
	while (n <= want) {
		ret = place(fd, unit, BUDDY_ALLOC_RANGE, start, end, &a);
		if (ret)
			break;
		inside &= a.offset >= start && a.offset + a.block_size <= end;
		offs[n++] = a.offset;
	}
	e2e_check(ret == -ENOMEM && n == want && inside,
		  "RANGE [%llu, %llu) unit by unit: %llu blocks, all inside, then %s",
		  start, end, n, e2e_err(ret));
	e2e_check(free_bytes() == info.pool_size - (end - start),
		  "RANGE took only the range: free %llu of %llu", free_bytes(),
		  info.pool_size);
	ret = buddy_alloc(fd, unit, &outside);
	e2e_check(ret == 0 && (outside.offset < start || outside.offset >= end),
		  "the range full, a plain ALLOC still works: %s, at %llu",
		  e2e_err(ret), outside.offset);
	if (!ret)
		buddy_free(fd, outside.offset);
	while (n)
		buddy_free(fd, offs[--n]);
	free(offs);

	/* Two units in [unit, 3 units): no aligned window although all is free. */
	ret = place(fd, 2 * unit, BUDDY_ALLOC_RANGE, unit, 3 * unit, &a);
	e2e_check(ret == -ENOMEM,
		  "RANGE [1, 3) units for 2 units on an empty pool: %s (no aligned window)",
		  e2e_err(ret));
	ret = place(fd, 2 * unit, BUDDY_ALLOC_RANGE, unit, 4 * unit, &a);
	e2e_check(ret == 0 && a.offset == 2 * unit,
		  "RANGE [1, 4) units for 2 units: %s, at %llu (want unit 2)",
		  e2e_err(ret), a.offset);
	if (!ret)
		buddy_free(fd, a.offset);
	/* EXACT: the extent must fit the range, its block's tail need not. */
	if (units >= 8) {
		drain_caches();
		ret = place(fd, 3 * unit, BUDDY_ALLOC_RANGE | BUDDY_ALLOC_EXACT, 0,
			    3 * unit, &a);
		e2e_check(ret == 0 && a.offset == 0 && a.block_size == 3 * unit,
			  "RANGE [0, 3 units) EXACT 3 units: %s, %llu bytes at %llu (the 4th unit past the range goes back)",
			  e2e_err(ret), a.block_size, a.offset);
		ret = place(fd, 3 * unit, BUDDY_ALLOC_RANGE | BUDDY_ALLOC_EXACT,
			    4 * unit, 7 * unit, &b);
		e2e_check(ret == 0 && b.offset == 4 * unit,
			  "RANGE [4, 7 units) EXACT 3 units: %s, at %llu", e2e_err(ret),
			  b.offset);
		e2e_check(free_bytes() == info.pool_size - 6 * unit,
			  "two EXACT 3-unit extents hold 6 units (free %llu)",
			  free_bytes());
		ret = place(fd, 3 * unit, BUDDY_ALLOC_RANGE | BUDDY_ALLOC_EXACT,
			    8 * unit, 10 * unit, &outside);
		e2e_check(ret == -ENOMEM,
			  "RANGE [8, 10 units) EXACT 3 units: %s (the extent does not fit)",
			  e2e_err(ret));
		buddy_free(fd, a.offset);
		buddy_free(fd, b.offset);
	}
	ret = place(fd, unit, BUDDY_ALLOC_RANGE | BUDDY_ALLOC_TOPDOWN, start,
		    end, &a);
	e2e_check(ret == 0 && a.offset == end - unit,
		  "RANGE|TOPDOWN: %s, at %llu (want %llu, the range's top unit)",
		  e2e_err(ret), a.offset, end - unit);
	if (!ret)
		buddy_free(fd, a.offset);
	e2e_pool_whole(fd, "after RANGE");
}

/* Set max_bytes_per_file; the old value through @old. */
static int set_quota(__u64 v, __u64 *old)
{
	char buf[32];

	if (old) {
		if (e2e_read_file(E2E_PARAM("max_bytes_per_file"), buf, sizeof(buf)) <= 0)
			return -EIO;
		*old = strtoull(buf, NULL, 10);
	}
	snprintf(buf, sizeof(buf), "%llu\n", v);
	return e2e_write_param("max_bytes_per_file", buf);
}

/*
 * Take [@offset, @offset + @len) again (RANGE: exactly there), map it and
 * check that it reads zero.  @ret: an earlier step's error, reported.
 */
static void check_zero_again(__u64 offset, __u64 len, int ret, const char *what)
{
	struct buddy_alloc b;
	void *p = MAP_FAILED;

	if (!ret)
		ret = place(fd, len, BUDDY_ALLOC_RANGE, offset, offset + len, &b);
	if (!ret)
		p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, b.offset);
	e2e_check(p != MAP_FAILED && e2e_zero(p, len), "%s: %s", what, e2e_err(ret));
	if (p != MAP_FAILED)
		munmap(p, len);
	if (!ret)
		buddy_free(fd, b.offset);
}

/* The size debugfs blocks gives the block at @offset, or 0. */
static __u64 blocks_size(__u64 offset)
{
	static char text[1 << 16];
	unsigned long long o, s;
	char *line;

	if (e2e_read_file(BUDDY_DEBUGFS "/blocks", text, sizeof(text)) < 0)
		return 0;
	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (sscanf(line, "%llu %llu", &o, &s) == 2 && o == offset)
			return s;
	return 0;
}

static void test_exact(void)
{
	long page = sysconf(_SC_PAGESIZE);
	struct buddy_alloc a, tail, b;
	__u64 old_quota, ext;
	int ret, f2, dmabuf;
	void *p;

	if (units < 8)
		return;
	/* 3 units: aligned to 4, the 4th free at once and another's to take. */
	ret = place(fd, 3 * unit, BUDDY_ALLOC_EXACT, 0, 0, &a);
	e2e_check(ret == 0 && a.block_size == 3 * unit &&
		  a.offset % (4 * unit) == 0 &&
		  free_bytes() == info.pool_size - 3 * unit,
		  "EXACT 3 units: %s, %llu bytes at %llu, free %llu",
		  e2e_err(ret), a.block_size, a.offset, free_bytes());
	if (ret)
		return;
	e2e_check(blocks_size(a.offset) == 3 * unit,
		  "debugfs blocks lists the EXACT block as %llu bytes",
		  blocks_size(a.offset));
	ret = place(fd, unit, BUDDY_ALLOC_RANGE, a.offset + 3 * unit,
		    a.offset + 4 * unit, &tail);
	e2e_check(ret == 0 && tail.offset == a.offset + 3 * unit,
		  "the EXACT block's tail unit is allocatable: %s", e2e_err(ret));
	e2e_check(buddy_free(fd, a.offset + 2 * unit) == -EINVAL,
		  "FREE inside an EXACT extent: EINVAL");
	ret = buddy_free(fd, a.offset);
	e2e_check(ret == 0 && free_bytes() == info.pool_size - unit,
		  "FREE of the EXACT offset frees exactly its 3 units: %s, free %llu",
		  e2e_err(ret), free_bytes());
	if (!buddy_free(fd, tail.offset))
		e2e_pool_whole(fd, "after EXACT 3 units and its tail");

	/* One byte is one unit; a byte past units rounds up to the unit. */
	ret = place(fd, 1, BUDDY_ALLOC_EXACT, 0, 0, &a);
	e2e_check(ret == 0 && a.block_size == unit, "EXACT 1 byte: %s, %llu bytes",
		  e2e_err(ret), a.block_size);
	if (!ret)
		buddy_free(fd, a.offset);
	ret = place(fd, 5 * unit + 1, BUDDY_ALLOC_EXACT, 0, 0, &a);
	e2e_check(ret == 0 && a.block_size == 6 * unit && a.offset % (8 * unit) == 0,
		  "EXACT 5 units + 1 byte: %s, %llu bytes at %llu", e2e_err(ret),
		  a.block_size, a.offset);
	if (!ret)
		buddy_free(fd, a.offset);
	/* The whole pool less a unit: the last unit stays free. */
	ret = place(fd, info.pool_size - unit, BUDDY_ALLOC_EXACT, 0, 0, &a);
	e2e_check(ret == 0 && a.offset == 0 && free_bytes() == unit,
		  "EXACT pool - unit: %s, free %llu", e2e_err(ret), free_bytes());
	if (!ret)
		buddy_free(fd, a.offset);
	e2e_pool_whole(fd, "after EXACT sizes");

	/* All three flags: the whole block in the range, at its top. */
	ret = place(fd, 3 * unit,
		    BUDDY_ALLOC_TOPDOWN | BUDDY_ALLOC_RANGE | BUDDY_ALLOC_EXACT,
		    0, info.pool_size / 2, &a);
	e2e_check(ret == 0 && a.offset == info.pool_size / 2 - 4 * unit &&
		  a.block_size == 3 * unit,
		  "TOPDOWN|RANGE|EXACT 3 units in the lower half: %s, %llu bytes at %llu",
		  e2e_err(ret), a.block_size, a.offset);
	if (!ret)
		buddy_free(fd, a.offset);

	/* Quotas count the exact bytes. */
	if (set_quota(3 * unit, &old_quota) == 0) {
		f2 = buddy_open();
		ret = place(f2, 3 * unit, BUDDY_ALLOC_EXACT, 0, 0, &a);
		e2e_check(ret == 0, "quota 3 units: EXACT 3 units fits: %s", e2e_err(ret));
		ret = place(f2, 1, BUDDY_ALLOC_EXACT, 0, 0, &b);
		e2e_check(ret == -EDQUOT, "quota 3 units full: EXACT 1 byte: %s",
			  e2e_err(ret));
		close(f2);
		f2 = buddy_open();
		ret = place(f2, 3 * unit, 0, 0, 0, &a);
		e2e_check(ret == -EDQUOT,
			  "quota 3 units: plain 3 units (a 4-unit block): %s",
			  e2e_err(ret));
		close(f2);
		set_quota(old_quota, NULL);
	} else {
		e2e_check(false, "set max_bytes_per_file");
	}
	e2e_pool_whole(fd, "after EXACT quota");

	/* mmap: whole pages of the extent, never a page it shares. */
	ext = 3 * (__u64)page;
	if (unit <= (__u64)page && 4 * (__u64)page <= info.pool_size &&
	    !place(fd, ext, BUDDY_ALLOC_EXACT, 0, 0, &a)) {
		p = mmap(NULL, ext, PROT_READ | PROT_WRITE, MAP_SHARED, fd, a.offset);
		e2e_check(p != MAP_FAILED, "mmap a 3-page EXACT block whole: %s",
			  p == MAP_FAILED ? strerror(errno) : "ok");
		if (p != MAP_FAILED) {
			memset(p, 0xa5, ext);
			munmap(p, ext);
		}
		p = mmap(NULL, ext + page, PROT_READ, MAP_SHARED, fd, a.offset);
		e2e_check(p == MAP_FAILED && errno == EINVAL,
			  "mmap a page past a 3-page EXACT block: %s",
			  p == MAP_FAILED ? strerror(errno) : "mapped");
		if (p != MAP_FAILED)
			munmap(p, ext + page);
		ret = buddy_export(fd, a.offset, O_RDWR | O_CLOEXEC, &dmabuf);
		e2e_check(ret == 0, "EXPORT a 3-page EXACT block: %s", e2e_err(ret));
		if (!ret)
			close(dmabuf);
		else
			buddy_free(fd, a.offset);
		/* The DMA-BUF freed it zeroed: the same 4 pages read zero. */
		check_zero_again(a.offset, 4 * page, 0,
				 "the exported EXACT block's pages, taken again, are zero");
	}
	/* Written through mmap and freed by FREE: zero when taken again. */
	if (unit <= (__u64)page && 4 * (__u64)page <= info.pool_size &&
	    !place(fd, ext, BUDDY_ALLOC_EXACT, 0, 0, &a)) {
		p = mmap(NULL, ext, PROT_READ | PROT_WRITE, MAP_SHARED, fd, a.offset);
		if (p != MAP_FAILED) {
			memset(p, 0x5a, ext);
			munmap(p, ext);
		}
		check_zero_again(a.offset, 4 * page, buddy_free(fd, a.offset),
				 "an EXACT block written through mmap and freed reads zero when taken again");
	}
	/* An extent that ends inside a page: that page neither maps nor exports. */
	if (unit < (__u64)page && 2 * (__u64)page <= info.pool_size &&
	    !place(fd, page + unit, BUDDY_ALLOC_EXACT, 0, 0, &a)) {
		p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, a.offset);
		e2e_check(p != MAP_FAILED,
			  "mmap the whole first page of a page + unit EXACT block: %s",
			  p == MAP_FAILED ? strerror(errno) : "ok");
		if (p != MAP_FAILED)
			munmap(p, page);
		p = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, fd, a.offset);
		e2e_check(p == MAP_FAILED && errno == EINVAL,
			  "mmap 2 pages of a page + unit EXACT block: %s",
			  p == MAP_FAILED ? strerror(errno) : "mapped");
		if (p != MAP_FAILED)
			munmap(p, 2 * page);
		e2e_expect_fail(fd, BUDDY_IOC_EXPORT,
				&(struct buddy_export){ .offset = a.offset,
							.fd_flags = O_RDWR },
				EINVAL, "EXPORT a page + unit EXACT block");
		buddy_free(fd, a.offset);
	}
	e2e_pool_whole(fd, "after EXACT mmap and export");
}

static void expect_alloc_fail(__u64 size, __u32 flags, __u64 start, __u64 end,
			      int err, const char *what)
{
	struct buddy_alloc a = { .size = size, .flags = flags,
				 .range_start = start, .range_end = end };

	e2e_expect_fail(fd, BUDDY_IOC_ALLOC, &a, err, what);
}

static void test_errors(void)
{
	const __u32 R = BUDDY_ALLOC_RANGE;
	__u64 p = info.pool_size;

	expect_alloc_fail(unit, 0x8, 0, 0, EINVAL, "flag 0x8");
	expect_alloc_fail(unit, 0x80000000, 0, 0, EINVAL, "flag 0x80000000");
	expect_alloc_fail(unit, 0, 0, unit, EINVAL, "range_end without RANGE");
	expect_alloc_fail(unit, 0, unit, 0, EINVAL, "range_start without RANGE");
	expect_alloc_fail(unit, BUDDY_ALLOC_TOPDOWN | BUDDY_ALLOC_EXACT, 0, p,
			  EINVAL, "a range with TOPDOWN|EXACT but not RANGE");
	expect_alloc_fail(unit, R, 0, 0, EINVAL, "RANGE [0, 0)");
	expect_alloc_fail(unit, R, unit, unit, EINVAL, "RANGE empty");
	expect_alloc_fail(unit, R, 2 * unit, unit, EINVAL, "RANGE start > end");
	expect_alloc_fail(unit, R, 0, p + unit, EINVAL, "RANGE past the pool");
	expect_alloc_fail(unit, R, p, p + unit, EINVAL, "RANGE starting at pool_size");
	expect_alloc_fail(unit, R, 0, UINT64_MAX, EINVAL, "RANGE end ~0");
	expect_alloc_fail(unit, R, 1, p, EINVAL, "RANGE start not unit-aligned");
	expect_alloc_fail(unit, R, 0, p - 1, EINVAL, "RANGE end not unit-aligned");
	expect_alloc_fail(0, BUDDY_ALLOC_EXACT, 0, 0, EINVAL, "EXACT size 0");
	expect_alloc_fail(p + 1, BUDDY_ALLOC_EXACT, 0, 0, EINVAL, "EXACT above the pool");
	expect_alloc_fail(p + 1, R, 0, p, EINVAL, "RANGE above the pool");
	expect_alloc_fail(UINT64_MAX, 0, 0, 0, EINVAL, "size ~0");
	expect_alloc_fail(UINT64_MAX, BUDDY_ALLOC_EXACT, 0, 0, EINVAL, "EXACT size ~0");
	expect_alloc_fail(UINT64_MAX - unit + 2, BUDDY_ALLOC_EXACT | R, 0, p,
			  EINVAL, "EXACT|RANGE size ~0 - unit + 2 (would round past 2^64)");
	if (units >= 2)
		expect_alloc_fail(2 * unit, R, 0, unit, ENOMEM,
				  "RANGE smaller than the block: ENOMEM");
}

/* Old callers: a 32-byte struct buddy_alloc and 40-byte batch ops. */
static void test_struct_sizes(void)
{
	unsigned char buf[96];
	struct buddy_alloc a;
	bool tail;
	unsigned int i;
	int ret;

	memset(buf, 0x5a, sizeof(buf));
	memset(&a, 0, sizeof(a));
	a.size = 3 * unit;
	a.flags = BUDDY_ALLOC_EXACT | BUDDY_ALLOC_TOPDOWN;
	memcpy(buf, &a, ALLOC_V1_SIZE);
	ret = buddy_ioctl(fd, CMD(RW, 1, ALLOC_V1_SIZE), buf);
	memcpy(&a, buf, ALLOC_V1_SIZE);
	tail = true;
	for (i = ALLOC_V1_SIZE; i < sizeof(buf); i++)
		tail &= buf[i] == 0x5a;
	e2e_check(ret == 0 && a.block_size == 3 * unit &&
		  a.offset == info.pool_size - 4 * unit && tail,
		  "ALLOC with the 32-byte struct, EXACT|TOPDOWN: %s, %llu bytes at %llu, nothing written past 32 bytes",
		  e2e_err(ret), a.block_size, a.offset);
	if (!ret)
		buddy_free(fd, a.offset);
	memset(&a, 0, sizeof(a));
	a.size = unit;
	a.flags = BUDDY_ALLOC_RANGE;
	e2e_expect_fail(fd, CMD(RW, 1, ALLOC_V1_SIZE), &a, EINVAL,
			"ALLOC with the 32-byte struct and RANGE (no range fields)");
	/* The new size with a zero tail works, a non-zero tail is refused. */
	memset(buf, 0, sizeof(buf));
	memset(&a, 0, sizeof(a));
	a.size = unit;
	a.flags = BUDDY_ALLOC_RANGE;
	a.range_start = unit;
	a.range_end = 2 * unit;
	memcpy(buf, &a, sizeof(a));
	ret = buddy_ioctl(fd, CMD(RW, 1, sizeof(a) + 8), buf);
	memcpy(&a, buf, sizeof(a));
	e2e_check(ret == 0 && a.offset == unit,
		  "ALLOC with a %zu-byte struct (zero tail), RANGE: %s, at %llu",
		  sizeof(a) + 8, e2e_err(ret), a.offset);
	if (!ret)
		buddy_free(fd, a.offset);
	buf[sizeof(a) + 3] = 1;
	e2e_expect_fail(fd, CMD(RW, 1, sizeof(a) + 8), buf, EINVAL,
			"ALLOC with a non-zero byte past the struct");
	e2e_pool_whole(fd, "after struct sizes");
}

static void test_batch(void)
{
	struct buddy_batch_op ops[4], op;
	unsigned char v1[4 * BATCH_OP_V1_SIZE];
	__u32 done;
	int ret;

	if (units < 8)
		return;
	drain_caches();
	/*
	 * New ops: RANGE, EXACT, TOPDOWN; then frees.  TOPDOWN takes the
	 * higher of the two order-0 free blocks left, units 3 and 5.
	 */
	memset(ops, 0, sizeof(ops));
	ops[0] = (struct buddy_batch_op){ .op = BUDDY_BATCH_ALLOC, .size = unit,
					  .flags = BUDDY_ALLOC_RANGE,
					  .range_start = 4 * unit,
					  .range_end = 5 * unit };
	ops[1] = (struct buddy_batch_op){ .op = BUDDY_BATCH_ALLOC, .size = 3 * unit,
					  .flags = BUDDY_ALLOC_EXACT };
	ops[2] = (struct buddy_batch_op){ .op = BUDDY_BATCH_ALLOC, .size = unit,
					  .flags = BUDDY_ALLOC_TOPDOWN };
	ops[3] = (struct buddy_batch_op){ .op = BUDDY_BATCH_ALLOC, .size = 2 * unit,
					  .flags = BUDDY_ALLOC_RANGE,
					  .range_start = 4 * unit,
					  .range_end = 6 * unit };
	ret = buddy_batch(fd, ops, 4, sizeof(ops[0]), &done);
	e2e_check(ret == 0 && done == 3 && ops[0].offset == 4 * unit &&
		  ops[1].block_size == 3 * unit &&
		  ops[2].offset == 5 * unit && ops[3].result == -ENOMEM,
		  "BATCH RANGE, EXACT, TOPDOWN, a RANGE with no room: %s, done %u, at %llu, %llu bytes, at %llu, then %s",
		  e2e_err(ret), done, ops[0].offset, ops[1].block_size,
		  ops[2].offset, e2e_err(ops[3].result));
	for (int i = 0; i < 3 && i < (int)done; i++) {
		__u64 off = ops[i].offset;

		ops[i] = (struct buddy_batch_op){ .op = BUDDY_BATCH_FREE, .offset = off };
	}
	ops[3] = (struct buddy_batch_op){ .op = BUDDY_BATCH_FREE,
					  .offset = ops[0].offset,
					  .range_end = e2e_rand() % 2 ? unit : 0,
					  .range_start = unit };
	ret = buddy_batch(fd, ops, 4, sizeof(ops[0]), &done);
	e2e_check(ret == 0 && done == 3 && ops[3].result == -EINVAL,
		  "BATCH 3 FREEs, then a FREE with a range field: %s, done %u, %s",
		  e2e_err(ret), done, e2e_err(ops[3].result));
	e2e_pool_whole(fd, "after BATCH placement");
	{
		static const __u64 bad[][2] = { { 0, 0 }, { 2, 1 }, { 1, 1 },
						{ 0, ~0ULL } };
		bool all = true;

		for (unsigned int k = 0; k < ARRAY_SIZE(bad); k++) {
			ops[0] = (struct buddy_batch_op){
				.op = BUDDY_BATCH_ALLOC, .size = unit,
				.flags = BUDDY_ALLOC_RANGE,
				.range_start = bad[k][0] * unit,
				.range_end = bad[k][1] == ~0ULL ? ~0ULL : bad[k][1] * unit };
			ret = buddy_batch(fd, ops, 1, sizeof(ops[0]), &done);
			all &= ret == 0 && done == 0 && ops[0].result == -EINVAL;
		}
		ops[0] = (struct buddy_batch_op){ .op = BUDDY_BATCH_ALLOC,
						  .size = unit, .range_end = unit };
		ret = buddy_batch(fd, ops, 1, sizeof(ops[0]), &done);
		all &= ret == 0 && done == 0 && ops[0].result == -EINVAL;
		e2e_check(all, "BATCH RANGE ops with empty, inverted or out-of-pool ranges, and a range without RANGE: each -EINVAL in result, done 0");
		e2e_pool_whole(fd, "after BATCH bad ranges");
	}

	/*
	 * 40-byte ops, packed: each written back in 40 bytes, not more.  The
	 * EXACT 3 units are units 0-2; TOPDOWN then takes unit 3, the one
	 * order-0 free block once the units 4 and 5 just freed into a cache
	 * are drained back, then the top of the order-2 block at 4.
	 */
	memset(v1, 0, sizeof(v1));
	for (int i = 0; i < 3; i++) {
		op = (struct buddy_batch_op){ .op = BUDDY_BATCH_ALLOC,
					      .size = i ? unit : 3 * unit,
					      .flags = i ? BUDDY_ALLOC_TOPDOWN :
							   BUDDY_ALLOC_EXACT };
		memcpy(v1 + i * BATCH_OP_V1_SIZE, &op, BATCH_OP_V1_SIZE);
	}
	op = (struct buddy_batch_op){ .op = BUDDY_BATCH_ALLOC, .size = unit,
				      .flags = BUDDY_ALLOC_RANGE };
	memcpy(v1 + 3 * BATCH_OP_V1_SIZE, &op, BATCH_OP_V1_SIZE);
	ret = buddy_batch(fd, v1, 4, BATCH_OP_V1_SIZE, &done);
	for (int i = 0; i < 4; i++) {
		memset(&ops[i], 0, sizeof(ops[i]));
		memcpy(&ops[i], v1 + i * BATCH_OP_V1_SIZE, BATCH_OP_V1_SIZE);
	}
	e2e_check(ret == 0 && done == 3 && !ops[0].result && !ops[1].result &&
		  ops[0].offset == 0 && ops[0].block_size == 3 * unit &&
		  ops[1].offset == 3 * unit && ops[2].offset == 7 * unit &&
		  ops[1].op == BUDDY_BATCH_ALLOC && ops[3].op == BUDDY_BATCH_ALLOC &&
		  ops[3].result == -EINVAL,
		  "BATCH of 40-byte ops: EXACT, TOPDOWN, TOPDOWN, RANGE without range: %s, done %u, at %llu, %llu and %llu, then %s",
		  e2e_err(ret), done, ops[0].offset, ops[1].offset, ops[2].offset,
		  e2e_err(ops[3].result));
	for (int i = 0; i < 3 && i < (int)done; i++)
		buddy_free(fd, ops[i].offset);
	e2e_pool_whole(fd, "after 40-byte BATCH ops");
}

/* ---- The random sequence against a model ---- */

static unsigned char *owned;	/* per unit: this file holds it */

static bool window_free(__u64 at, __u64 n)
{
	for (__u64 i = at; i < at + n; i++)
		if (owned[i])
			return false;
	return true;
}

/*
 * Is there a free aligned window of @n units starting in [@lo, @hi) whose
 * first @keep units end by @hi?  (EXACT keeps @keep of the @n.)
 */
static bool any_fit(__u64 n, __u64 keep, __u64 lo, __u64 hi)
{
	for (__u64 at = (lo + n - 1) / n * n; at + keep <= hi && at + n <= units;
	     at += n)
		if (window_free(at, n))
			return true;
	return false;
}

/* The maximal free blocks of each order, as a fully coalesced buddy has. */
static void model_buddyinfo(__u64 *nr, unsigned int max_order)
{
	for (unsigned int o = 0; o <= max_order; o++) {
		__u64 n = 1ULL << o;

		nr[o] = 0;
		for (__u64 at = 0; at < units; at += n)
			if (window_free(at, n) &&
			    (o == max_order || !window_free(at & ~(2 * n - 1), 2 * n)))
				nr[o]++;
	}
}

/* TOPDOWN without RANGE: the top of the highest free block of the lowest order. */
static __u64 model_topdown(__u64 n)
{
	for (__u64 b = n; b <= units; b <<= 1) {
		for (__u64 at = units - b;; at -= b) {
			if (window_free(at, b) &&
			    (b == units || !window_free(at & ~(2 * b - 1), 2 * b)))
				return at + b - n;
			if (!at)
				break;
		}
	}
	return UINT64_MAX;
}

struct live {
	__u64 offset, units;
};

static void test_model(void)
{
	unsigned int max_order = info.max_order, step, steps = 1500;
	__u64 nr[E2E_MAX_ORDERS], got[E2E_MAX_ORDERS];
	unsigned int bad_place = 0, bad_enomem = 0, bad_free = 0, bad_info = 0;
	unsigned int compared = 0, bad_buddyinfo = 0, enomem = 0, ok = 0;
	struct live *live;
	__u64 nlive = 0, used = 0, peak = 0;

	owned = calloc(units, 1);
	live = calloc(units, sizeof(*live));
	if (!owned || !live) {
		e2e_check(false, "model memory");
		return;
	}
	for (step = 0; step < steps; step++) {
		bool do_free = nlive && (e2e_rand() % 100 < 35 || used * 20 > units * 19);

		if (do_free) {
			__u64 k = e2e_rand() % nlive;
			int ret = buddy_free(fd, live[k].offset * unit);

			if (ret)
				bad_free++;
			memset(owned + live[k].offset, 0, live[k].units);
			used -= live[k].units;
			live[k] = live[--nlive];
		} else {
			__u32 flags = e2e_rand() % 8;
			__u64 n = 1 + (e2e_rand() % 4 ? e2e_rand() % 8 :
				       e2e_rand() % (units / 4 + 1));
			__u64 b, start = 0, end = 0, lo = 0, hi = units;
			__u64 want_top = UINT64_MAX, keep;
			struct buddy_alloc a;
			int ret;

			if (n > units)
				n = units;
			b = order_units(n);
			if (flags & BUDDY_ALLOC_RANGE) {
				start = e2e_rand() % units;
				end = start + 1 + e2e_rand() % (units - start);
				lo = start;
				hi = end;
			}
			keep = flags & BUDDY_ALLOC_EXACT ? n : b;
			if ((flags & BUDDY_ALLOC_TOPDOWN) && !(flags & BUDDY_ALLOC_RANGE))
				want_top = model_topdown(b);
			ret = place(fd, (flags & BUDDY_ALLOC_EXACT ? n : b) * unit -
				    (e2e_rand() % unit), flags, start * unit,
				    end * unit, &a);
			if (ret == -ENOMEM) {
				enomem++;
				if (any_fit(b, keep, lo, hi))
					bad_enomem++;
			} else if (ret) {
				bad_place++;
			} else {
				__u64 off = a.offset / unit;

				ok++;
				if (a.offset % (b * unit) || a.block_size != keep * unit ||
				    off + b > units || off < lo || off + keep > hi ||
				    !window_free(off, keep) ||
				    (want_top != UINT64_MAX && off != want_top)) {
					if (bad_place++ < 5)
						e2e_diag("step %u: flags %u, %llu units in [%llu, %llu): got %llu bytes at unit %llu (TOPDOWN model: %llu)",
							 step, flags, n, lo, hi,
							 a.block_size, off, want_top);
				}
				if (off + keep <= units)
					memset(owned + off, 1, keep);
				live[nlive++] = (struct live){ off, keep };
				used += keep;
				peak = used > peak ? used : peak;
			}
		}
		if (free_bytes() != (units - used) * unit)
			bad_info++;
		/* The core's own view, when no block hides in a cache. */
		if (!do_free) {
			__u64 cached = 0;
			int enabled;

			if (e2e_read_percpu(&cached, &enabled) >= 0 && !cached &&
			    e2e_read_buddyinfo(got, E2E_MAX_ORDERS) > (int)max_order) {
				model_buddyinfo(nr, max_order);
				compared++;
				if (memcmp(nr, got, (max_order + 1) * sizeof(nr[0])))
					bad_buddyinfo++;
			}
		}
	}
	e2e_diag("random placement: %u steps, at most %llu%% of the pool live",
		 steps, peak * 100 / units);
	e2e_check(bad_place == 0,
		  "random placement: %u allocations, every block aligned, inside its range, on free units, TOPDOWN where the model says (%u wrong)",
		  ok, bad_place);
	e2e_check(bad_enomem == 0,
		  "random placement: %u ENOMEM, each with no aligned free window in its range (%u wrong)",
		  enomem, bad_enomem);
	e2e_check(bad_free == 0 && bad_info == 0,
		  "random placement: every FREE worked (%u not), free_bytes matched the model after every step (%u not)",
		  bad_free, bad_info);
	e2e_check(compared > steps / 8 && bad_buddyinfo == 0,
		  "random placement: debugfs buddyinfo equals the model's maximal free blocks (%u compared, %u differ)",
		  compared, bad_buddyinfo);
	while (nlive)
		buddy_free(fd, live[--nlive].offset * unit);
	free(live);
	free(owned);
	e2e_pool_whole(fd, "after the random placement sequence");
}

int main(int argc, char **argv)
{
	char core[32] = "";

	e2e_init(argc, argv);
	fd = buddy_open();
	if (fd < 0 || buddy_info(fd, &info)) {
		e2e_check(false, "open %s and INFO", BUDDY_DEV);
		return e2e_done();
	}
	unit = info.unit_size;
	units = info.pool_size / unit;
	e2e_read_file(E2E_PARAM("core"), core, sizeof(core));
	e2e_diag("%llu units of %llu bytes, core %.*s", units, unit,
		 (int)strcspn(core, "\n"), core);
	test_topdown();
	test_range();
	test_exact();
	test_errors();
	test_struct_sizes();
	test_batch();
	test_model();
	e2e_pool_whole(fd, "at the end");
	close(fd);
	return e2e_done();
}
