// SPDX-License-Identifier: GPL-2.0
/*
 * e2e_batch: BUDDY_IOC_BATCH.
 *
 * Batches of allocations and frees, results and done checked; a batch stops
 * at its first failing operation, whose result says why, and leaves the
 * operations after it untouched and not done; each operation's error is the
 * one the single ioctl returns.  An invalid batch (flags, done, count,
 * op_size) is -EINVAL and changes nothing; a longer op struct works when its
 * tail is zero.  A bad ops pointer is -EFAULT: operations before the fault
 * keep their effect and results, the one at the fault is not made (or is
 * undone), checked through INFO.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "e2e.h"

#define OPSZ		sizeof(struct buddy_batch_op)
/* The first version's op, without the range fields: the smallest allowed. */
#define OPSZ_V1		40
/* What the kernel must overwrite, or leave, in a result. */
#define SENTINEL	0x5a5a5a5a

static struct buddy_info info;
static size_t page;
static int fd;

static struct buddy_batch_op op_alloc(__u64 size)
{
	return (struct buddy_batch_op){ .op = BUDDY_BATCH_ALLOC, .size = size,
					.result = SENTINEL };
}

static struct buddy_batch_op op_free(__u64 offset)
{
	return (struct buddy_batch_op){ .op = BUDDY_BATCH_FREE, .offset = offset,
					.result = SENTINEL };
}


static __u64 free_bytes(int f)
{
	struct buddy_info now;

	return buddy_info(f, &now) ? UINT64_MAX : now.free_bytes;
}

static struct e2e_stats stats(void)
{
	struct e2e_stats st;

	if (e2e_read_stats(&st, NULL, 0))
		memset(&st, 0xff, sizeof(st));
	return st;
}

/* A block @a returned is what ALLOC of @size must give, inside the pool. */
static bool good_block(const struct buddy_batch_op *a, __u64 size)
{
	__u64 bs = e2e_block_size(&info, size);

	return a->result == 0 && a->op == BUDDY_BATCH_ALLOC && !a->flags &&
	       !a->pad && a->size == size && a->block_size == bs &&
	       a->offset % bs == 0 && a->offset <= info.pool_size - bs;
}

static bool overlap(const struct buddy_batch_op *a, const struct buddy_batch_op *b)
{
	return a->offset < b->offset + b->block_size &&
	       b->offset < a->offset + a->block_size;
}

/* Free what a batch allocated, through single FREEs; all must work. */
static void free_ops(int f, const struct buddy_batch_op *ops, unsigned int n,
		     const char *what)
{
	unsigned int i, bad = 0;

	for (i = 0; i < n; i++)
		if (buddy_free(f, ops[i].offset))
			bad++;
	e2e_check(!bad, "%s: FREE each of the %u blocks reported: %u failed", what,
		  n, bad);
}

static void test_alloc_then_free(void)
{
	enum { N = 16 };
	__u64 u = info.unit_size, p = info.pool_size, sum = 0;
	__u64 fixed[] = { 1, u - 1, u, u + 1, 2 * u, 3 * u, 4 * u };
	struct buddy_batch_op ops[N], frees[N];
	struct e2e_stats st0 = stats(), st1;
	unsigned int i, j, perm[N];
	__u32 done = 0xdead;
	bool good = true;
	int ret;

	if (p / u < 4 * N) {
		e2e_diag("pool of %llu units: alloc/free batch skipped", p / u);
		return;
	}
	for (i = 0; i < N; i++)
		ops[i] = op_alloc(i < ARRAY_SIZE(fixed) ? fixed[i] :
				  1 + e2e_rand() % (4 * u));
	ret = buddy_batch(fd, ops, N, OPSZ, &done);
	e2e_check(ret == 0 && done == N, "batch of %d ALLOCs: %s, done %u", N,
		  e2e_err(ret), done);
	for (i = 0; i < N; i++) {
		if (!good_block(&ops[i], ops[i].size)) {
			e2e_diag("op %u: size %llu result %d offset %llu block %llu",
				 i, ops[i].size, ops[i].result, ops[i].offset,
				 ops[i].block_size);
			good = false;
		}
		for (j = 0; j < i; j++)
			if (overlap(&ops[i], &ops[j]))
				good = false;
		sum += ops[i].block_size;
	}
	e2e_check(good, "batch ALLOCs: each result 0, block the single ALLOC's size, aligned, inside the pool, no two overlapping, inputs kept");
	e2e_check(free_bytes(fd) == p - sum, "batch ALLOCs: free_bytes %llu (want %llu)",
		  free_bytes(fd), p - sum);
	st1 = stats();
	e2e_check(st1.allocs == st0.allocs + N && st1.live_blocks == N &&
		  st1.used_bytes == sum && st1.peak_used_bytes >= sum,
		  "batch ALLOCs: stats allocs +%llu (want %d), live_blocks %llu, used_bytes %llu, peak %llu",
		  st1.allocs - st0.allocs, N, st1.live_blocks, st1.used_bytes,
		  st1.peak_used_bytes);
	e2e_consistent(fd, "after batch ALLOCs");

	/* Free them in a shuffled order. */
	for (i = 0; i < N; i++)
		perm[i] = i;
	for (i = N - 1; i > 0; i--) {
		j = e2e_rand() % (i + 1);
		unsigned int t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	for (i = 0; i < N; i++)
		frees[i] = op_free(ops[perm[i]].offset);
	ret = buddy_batch(fd, frees, N, OPSZ, &done);
	good = ret == 0 && done == N;
	for (i = 0; i < N; i++)
		good &= frees[i].result == 0 && frees[i].op == BUDDY_BATCH_FREE &&
			frees[i].offset == ops[perm[i]].offset && !frees[i].size &&
			!frees[i].block_size && !frees[i].flags && !frees[i].pad;
	e2e_check(good, "batch of %d FREEs in shuffled order: %s, done %u, each result 0, inputs kept",
		  N, e2e_err(ret), done);
	st0 = stats();
	e2e_check(st0.frees == st1.frees + N && st0.live_blocks == 0,
		  "batch FREEs: stats frees +%llu (want %d), live_blocks %llu",
		  st0.frees - st1.frees, N, st0.live_blocks);
	e2e_pool_whole(fd, "after batch FREEs");
}

/* Allocs and frees mixed: the free makes room within the batch. */
static void test_mixed(void)
{
	__u64 u = info.unit_size, p = info.pool_size;
	struct buddy_batch_op ops[3];
	struct buddy_alloc x;
	__u32 done = 0;
	int ret;

	if (info.max_order < 3 || buddy_alloc(fd, u, &x))
		return;
	ops[0] = op_alloc(u);
	ops[1] = op_free(x.offset);
	ops[2] = op_alloc(2 * u);
	ret = buddy_batch(fd, ops, 3, OPSZ, &done);
	e2e_check(ret == 0 && done == 3 && !ops[0].result && !ops[1].result &&
		  !ops[2].result && good_block(&ops[0], u) && good_block(&ops[2], 2 * u),
		  "batch ALLOC, FREE, ALLOC: %s, done %u, results %d %d %d",
		  e2e_err(ret), done, ops[0].result, ops[1].result, ops[2].result);
	e2e_check(free_bytes(fd) == p - 3 * u, "mixed batch: free_bytes %llu (want %llu)",
		  free_bytes(fd), p - 3 * u);
	ops[1] = op_free(ops[0].offset);
	ops[0] = op_free(ops[2].offset);
	ret = buddy_batch(fd, ops, 2, OPSZ, &done);
	e2e_check(ret == 0 && done == 2, "batch FREE of both: %s, done %u",
		  e2e_err(ret), done);
	e2e_pool_whole(fd, "mixed batch");
}

/* The third op is an invalid FREE: two done, the rest untouched, not run. */
static void test_stop(void)
{
	__u64 u = info.unit_size, p = info.pool_size;
	struct buddy_batch_op ops[5], orig[5];
	struct e2e_stats st0 = stats(), st1;
	__u32 done = 0xdead;
	int ret;

	if (info.max_order < 3)
		return;
	ops[0] = op_alloc(u);
	ops[1] = op_alloc(u);
	ops[2] = op_free(p);
	ops[3] = op_alloc(u);
	ops[4] = op_alloc(2 * u);
	ops[3].offset = 0xdeadbeefdeadbeefULL;
	ops[4].block_size = 0xfeedfacefeedfaceULL;
	memcpy(orig, ops, sizeof(ops));
	ret = buddy_batch(fd, ops, 5, OPSZ, &done);
	e2e_check(ret == 0 && done == 2,
		  "batch ALLOC, ALLOC, bad FREE, ALLOC, ALLOC: returns 0 (got %s), done 2 (got %u)",
		  e2e_err(ret), done);
	e2e_check(good_block(&ops[0], u) && good_block(&ops[1], u),
		  "ops 1-2 done: results %d %d, blocks at %llu and %llu",
		  ops[0].result, ops[1].result, ops[0].offset, ops[1].offset);
	e2e_check(ops[2].result == -EINVAL, "op 3 (FREE of offset pool_size): result -EINVAL (got %s)",
		  e2e_err(ops[2].result));
	ops[2].result = orig[2].result;
	e2e_check(!memcmp(&ops[2], &orig[2], OPSZ),
		  "op 3: every field but result as the caller wrote it");
	e2e_check(!memcmp(&ops[3], &orig[3], 2 * OPSZ),
		  "ops 4-5 after the failure: untouched (result still 0x%x)", SENTINEL);
	st1 = stats();
	e2e_check(free_bytes(fd) == p - 2 * u && st1.allocs == st0.allocs + 2 &&
		  st1.live_blocks == 2,
		  "ops 4-5 not executed: free_bytes %llu (want %llu), allocs +%llu (want 2), live %llu",
		  free_bytes(fd), p - 2 * u, st1.allocs - st0.allocs, st1.live_blocks);
	free_ops(fd, ops, 2, "stop at failure");

	/* The failure first: nothing done at all. */
	ops[0] = op_alloc(0);
	ops[1] = op_alloc(u);
	memcpy(orig, ops, 2 * OPSZ);
	ret = buddy_batch(fd, ops, 2, OPSZ, &done);
	e2e_check(ret == 0 && done == 0 && ops[0].result == -EINVAL &&
		  !memcmp(&ops[1], &orig[1], OPSZ),
		  "batch whose first op fails: 0, done 0, result -EINVAL, op 2 untouched (%s, done %u, result %d)",
		  e2e_err(ret), done, ops[0].result);
	e2e_pool_whole(fd, "stop at failure");
}

/*
 * One op that must fail with -@err as the op's result, the batch returning 0
 * with done 0, changing nothing; and the single ioctl on the same input
 * (@single_cmd, @single, or none when 0) must return the same.
 */
static void expect_op(int f, struct buddy_batch_op op, int err,
		      unsigned long single_cmd, void *single, const char *what)
{
	struct e2e_snap before, after;
	struct buddy_batch_op ops[2] = { op, op_alloc(1) };
	__u32 done = 0xdead;
	int ret, sret;

	e2e_snap(f, &before);
	ret = buddy_batch(f, ops, 2, OPSZ, &done);
	e2e_snap(f, &after);
	e2e_check(ret == 0 && done == 0 && ops[0].result == -err &&
		  ops[1].result == SENTINEL,
		  "batch op %s: result %s (got %s; ioctl %s, done %u)", what,
		  e2e_err(-err), e2e_err(ops[0].result), e2e_err(ret), done);
	e2e_check(e2e_snap_same(&before, &after, what), "batch op %s: changes nothing",
		  what);
	for (unsigned int i = 0; !ret && i < done && i < 2; i++)
		if (ops[i].op == BUDDY_BATCH_ALLOC)
			buddy_free(f, ops[i].offset);
	if (!single_cmd)
		return;
	sret = buddy_ioctl(f, single_cmd, single);
	e2e_check(sret == ops[0].result, "batch op %s: the single ioctl returns the same (%s, batch %s)",
		  what, e2e_err(sret), e2e_err(ops[0].result));
	if (!sret && single_cmd == BUDDY_IOC_ALLOC)
		buddy_free(f, ((struct buddy_alloc *)single)->offset);
}

static void expect_alloc_op(int f, __u64 size, __u32 flags, __u32 pad, int err,
			    const char *what)
{
	struct buddy_batch_op op = op_alloc(size);
	struct buddy_alloc a = { .size = size, .flags = flags, .pad = pad };

	op.flags = flags;
	op.pad = pad;
	expect_op(f, op, err, BUDDY_IOC_ALLOC, &a, what);
}

static void expect_free_op(int f, __u64 offset, __u32 flags, __u32 pad, int err,
			   const char *what)
{
	struct buddy_batch_op op = op_free(offset);
	struct buddy_free fr = { .offset = offset, .flags = flags, .pad = pad };

	op.flags = flags;
	op.pad = pad;
	expect_op(f, op, err, BUDDY_IOC_FREE, &fr, what);
}

static void test_op_errors(void)
{
	__u64 u = info.unit_size, p = info.pool_size;
	struct buddy_batch_op op;
	struct buddy_alloc own, other, whole;
	int B;

	expect_alloc_op(fd, 0, 0, 0, EINVAL, "ALLOC size 0");
	expect_alloc_op(fd, p + 1, 0, 0, EINVAL, "ALLOC size pool_size + 1");
	expect_alloc_op(fd, UINT64_MAX, 0, 0, EINVAL, "ALLOC size UINT64_MAX");
	expect_alloc_op(fd, u, 0x8, 0, EINVAL, "ALLOC unknown flag 0x8");
	expect_alloc_op(fd, u, 0x80000000, 0, EINVAL, "ALLOC flags 0x80000000");
	expect_alloc_op(fd, u, 0, 1, EINVAL, "ALLOC pad 1");
	expect_alloc_op(fd, u, 0, 0xffffffff, EINVAL, "ALLOC pad ~0");

	if (buddy_alloc(fd, u, &own))
		return;
	B = buddy_open();
	if (!buddy_alloc(B, u, &other)) {
		expect_free_op(fd, other.offset, 0, 0, EINVAL, "FREE of another file's block");
		buddy_free(B, other.offset);
	}
	close(B);
	expect_free_op(fd, own.offset, 1, 0, EINVAL, "FREE flags 1");
	expect_free_op(fd, own.offset, 0, 1, EINVAL, "FREE pad 1");
	expect_free_op(fd, own.offset + 1, 0, 0, EINVAL, "FREE misaligned");
	expect_free_op(fd, p, 0, 0, EINVAL, "FREE offset pool_size");
	expect_free_op(fd, UINT64_MAX, 0, 0, EINVAL, "FREE offset UINT64_MAX");
	if (info.max_order >= 1)
		expect_free_op(fd, own.offset ^ u, 0, 0, EINVAL,
			       "FREE of a never-allocated block");
	op = op_free(own.offset);
	op.size = u;
	expect_op(fd, op, EINVAL, 0, NULL, "FREE with size set");
	op = op_free(own.offset);
	op.block_size = u;
	expect_op(fd, op, EINVAL, 0, NULL, "FREE with block_size set");
	op = op_alloc(u);
	op.op = 0;
	expect_op(fd, op, EINVAL, 0, NULL, "op 0");
	op.op = 3;
	expect_op(fd, op, EINVAL, 0, NULL, "op 3");
	op.op = 0xffffffff;
	expect_op(fd, op, EINVAL, 0, NULL, "op 0xffffffff");
	e2e_check(!buddy_free(fd, own.offset), "FREE the block after the refused ops");
	expect_free_op(fd, own.offset, 0, 0, EINVAL, "FREE of a block already freed");

	/* A mapped block: -EBUSY. */
	if (u <= page && page <= p && !buddy_alloc(fd, page, &own)) {
		void *m = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, own.offset);

		if (e2e_check(m != MAP_FAILED, "mmap a block for the -EBUSY op")) {
			expect_free_op(fd, own.offset, 0, 0, EBUSY, "FREE of a mapped block");
			munmap(m, page);
		}
		e2e_check(!buddy_free(fd, own.offset), "FREE the block after munmap");
	}

	/* A full pool: -ENOMEM. */
	if (!buddy_alloc(fd, p, &whole)) {
		expect_alloc_op(fd, 1, 0, 0, ENOMEM, "ALLOC 1 byte, pool full");
		expect_alloc_op(fd, p, 0, 0, ENOMEM, "ALLOC pool_size, pool full");
		expect_alloc_op(fd, 1, 0x8, 0, EINVAL, "ALLOC unknown flag 0x8, pool full");
		buddy_free(fd, whole.offset);
	}
	e2e_pool_whole(fd, "op errors");
}

/* An invalid batch: -EINVAL, nothing done, the ops untouched. */
static void expect_batch_einval(__u32 count, __u32 op_size, __u32 flags,
				__u32 done, const char *what)
{
	struct buddy_batch_op ops[2] = { op_alloc(1), op_alloc(1) }, orig[2];
	struct buddy_batch b = { .ops = (uintptr_t)ops, .count = count,
				 .op_size = op_size, .flags = flags, .done = done };

	memcpy(orig, ops, sizeof(ops));
	e2e_expect_fail(fd, BUDDY_IOC_BATCH, &b, EINVAL, what);
	e2e_check(!memcmp(ops, orig, sizeof(ops)), "%s: ops untouched", what);
}

static void test_batch_einval(void)
{
	struct e2e_snap before, after;
	struct buddy_batch_op ops[2];
	__u32 done = 0xdead;
	int ret;

	expect_batch_einval(2, OPSZ, 1, 0, "BATCH flags 1");
	expect_batch_einval(2, OPSZ, 0x80000000, 0, "BATCH flags 0x80000000");
	expect_batch_einval(2, OPSZ, 0, 1, "BATCH done 1 on input");
	expect_batch_einval(2, OPSZ, 0, 0xffffffff, "BATCH done ~0 on input");
	expect_batch_einval(BUDDY_BATCH_MAX + 1, OPSZ, 0, 0, "BATCH count BUDDY_BATCH_MAX + 1");
	expect_batch_einval(UINT32_MAX, OPSZ, 0, 0, "BATCH count UINT32_MAX");
	expect_batch_einval(2, 0, 0, 0, "BATCH op_size 0");
	expect_batch_einval(2, 8, 0, 0, "BATCH op_size 8");
	expect_batch_einval(2, OPSZ_V1 - 1, 0, 0, "BATCH op_size the first version's - 1");
	expect_batch_einval(2, OPSZ_V1 - 8, 0, 0, "BATCH op_size the first version's - 8");

	/* count == BUDDY_BATCH_MAX is accepted: the first op fails and stops it. */
	ops[0] = op_alloc(1);
	ops[0].op = 0;
	ops[1] = op_alloc(1);
	e2e_snap(fd, &before);
	ret = buddy_batch(fd, ops, BUDDY_BATCH_MAX, OPSZ, &done);
	e2e_snap(fd, &after);
	e2e_check(ret == 0 && done == 0 && ops[0].result == -EINVAL &&
		  ops[1].result == SENTINEL,
		  "BATCH count BUDDY_BATCH_MAX accepted: %s, done %u, op 1 result %s, op 2 not read",
		  e2e_err(ret), done, e2e_err(ops[0].result));
	e2e_check(e2e_snap_same(&before, &after, "count max"),
		  "BATCH count BUDDY_BATCH_MAX stopped at op 1: changes nothing");

	/* count 0: nothing to do, with or without an array. */
	ops[0] = op_alloc(1);
	e2e_snap(fd, &before);
	done = 0xdead;
	ret = buddy_batch(fd, ops, 0, OPSZ, &done);
	e2e_check(ret == 0 && done == 0 && ops[0].result == SENTINEL,
		  "BATCH count 0: %s, done %u, op untouched", e2e_err(ret), done);
	done = 0xdead;
	ret = buddy_batch(fd, NULL, 0, OPSZ, &done);
	e2e_check(ret == 0 && done == 0, "BATCH count 0, ops NULL: %s, done %u",
		  e2e_err(ret), done);
	e2e_snap(fd, &after);
	e2e_check(e2e_snap_same(&before, &after, "count 0"), "BATCH count 0: changes nothing");
}

/* A caller's op struct longer than the kernel's. */
static void test_op_size(void)
{
	__u64 u = info.unit_size, p = info.pool_size;
	struct buddy_batch_op op[3];
	unsigned char *buf;
	unsigned int sizes[] = { OPSZ + 8, OPSZ + 1, page }, k, i;
	__u32 done;
	int ret;

	if (info.max_order < 3)
		return;
	buf = calloc(3, page);
	if (!buf)
		return;
	for (k = 0; k < ARRAY_SIZE(sizes); k++) {
		unsigned int sz = sizes[k];
		bool good, tail = true;

		memset(buf, 0, 3 * sz);
		for (i = 0; i < 3; i++) {
			op[i] = op_alloc(u * (i + 1));
			memcpy(buf + i * sz, &op[i], OPSZ);
		}
		ret = buddy_batch(fd, buf, 3, sz, &done);
		for (i = 0; i < 3; i++) {
			memcpy(&op[i], buf + i * sz, OPSZ);
			for (size_t j = OPSZ; j < sz; j++)
				tail &= !buf[i * sz + j];
		}
		good = ret == 0 && done == 3 && good_block(&op[0], u) &&
		       good_block(&op[1], 2 * u) && good_block(&op[2], 3 * u);
		e2e_check(good && tail,
			  "op_size %u, zero tails: 3 ALLOCs %s, done %u, results %d %d %d at the %u-byte stride, tails left zero",
			  sz, e2e_err(ret), done, op[0].result, op[1].result,
			  op[2].result, sz);
		if (!good)
			continue;
		memset(buf, 0, 3 * sz);
		for (i = 0; i < 3; i++) {
			struct buddy_batch_op f = op_free(op[i].offset);

			memcpy(buf + i * sz, &f, OPSZ);
		}
		ret = buddy_batch(fd, buf, 3, sz, &done);
		memcpy(&op[2], buf + 2 * sz, OPSZ);
		e2e_check(ret == 0 && done == 3 && op[2].result == 0,
			  "op_size %u, zero tails: 3 FREEs %s, done %u", sz,
			  e2e_err(ret), done);
		e2e_pool_whole(fd, "longer op struct");
	}

	/* A non-zero tail in the second op: it fails, the first stays. */
	k = OPSZ + 8;
	memset(buf, 0, 3 * k);
	for (i = 0; i < 3; i++) {
		op[i] = op_alloc(u);
		memcpy(buf + i * k, &op[i], OPSZ);
	}
	buf[k + k - 1] = 1;
	ret = buddy_batch(fd, buf, 3, k, &done);
	memcpy(&op[0], buf, OPSZ);
	memcpy(&op[1], buf + k, OPSZ);
	memcpy(&op[2], buf + 2 * k, OPSZ);
	e2e_check(ret == 0 && done == 1 && good_block(&op[0], u) &&
		  op[1].result == -EINVAL && op[2].result == SENTINEL &&
		  buf[2 * k - 1] == 1,
		  "op_size %u, op 2's tail not zero: %s, done %u, results %s %s, op 3 untouched, tail kept",
		  k, e2e_err(ret), done, e2e_err(op[0].result),
		  e2e_err(op[1].result));
	e2e_check(free_bytes(fd) == p - u, "op 2 with a non-zero tail not done: free_bytes %llu (want %llu)",
		  free_bytes(fd), p - u);
	if (done >= 1)
		buddy_free(fd, op[0].offset);

	/* Alone: the batch changes nothing. */
	{
		struct e2e_snap before, after;

		memset(buf, 0, k);
		op[0] = op_alloc(u);
		memcpy(buf, &op[0], OPSZ);
		buf[OPSZ] = 0x80;
		e2e_snap(fd, &before);
		ret = buddy_batch(fd, buf, 1, k, &done);
		e2e_snap(fd, &after);
		memcpy(&op[0], buf, OPSZ);
		e2e_check(ret == 0 && done == 0 && op[0].result == -EINVAL,
			  "op_size %u, the only op's tail not zero: result -EINVAL (got %s; %s, done %u)",
			  k, e2e_err(op[0].result), e2e_err(ret), done);
		e2e_check(e2e_snap_same(&before, &after, "non-zero tail"),
			  "the only op with a non-zero tail: changes nothing");
	}

	/* Beyond a page: not specified; reported only. */
	memset(buf, 0, 3 * page);
	op[0] = op_alloc(u);
	memcpy(buf, &op[0], OPSZ);
	ret = buddy_batch(fd, buf, 1, page + 8, &done);
	e2e_diag("note: op_size PAGE_SIZE + 8 with a zero tail returns %s", e2e_err(ret));
	if (!ret && done == 1) {
		memcpy(&op[0], buf, OPSZ);
		buddy_free(fd, op[0].offset);
	}
	free(buf);
	e2e_pool_whole(fd, "op_size cases");
}

/* Two pages, the first PROT_READ|PROT_WRITE, the second @second_prot. */
static unsigned char *two_pages(int first_prot, int second_prot)
{
	unsigned char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	mprotect(m, page, first_prot);
	mprotect(m + page, page, second_prot);
	return m;
}

static void test_efault(void)
{
	__u64 u = info.unit_size, p = info.pool_size;
	struct buddy_batch_op ops[4], *g;
	struct buddy_batch b = { .count = 1, .op_size = OPSZ }, *rb;
	unsigned char *m;
	int ret;

	if (info.max_order < 3)
		return;
	e2e_expect_fail(fd, BUDDY_IOC_BATCH, NULL, EFAULT, "BATCH struct NULL");
	e2e_expect_fail(fd, BUDDY_IOC_BATCH, (void *)-4096L, EFAULT,
			"BATCH struct at a kernel address");
	b.ops = 0;
	e2e_expect_fail(fd, BUDDY_IOC_BATCH, &b, EFAULT, "BATCH ops NULL, count 1");
	b.ops = (uintptr_t)-4096L;
	e2e_expect_fail(fd, BUDDY_IOC_BATCH, &b, EFAULT, "BATCH ops at a kernel address");

	/* Ops that run into a PROT_NONE page: at an op's start, or inside it. */
	for (unsigned int part = 0; part <= 16; part += 16) {
		size_t len = 3 * OPSZ + part;
		char what[128];
		bool good = true;
		__u64 sum = 0;

		snprintf(what, sizeof(what), "ops array ending %u bytes into op 4 (PROT_NONE after)",
			 part);
		g = e2e_guarded(len);
		for (unsigned int i = 0; i < 3; i++)
			g[i] = op_alloc(u << i);
		if (part) {
			struct buddy_batch_op any = op_alloc(u);

			memcpy(&g[3], &any, part);
		}
		b.ops = (uintptr_t)g;
		b.count = 4;
		b.done = 0;
		ret = buddy_ioctl(fd, BUDDY_IOC_BATCH, &b);
		e2e_check(ret == -EFAULT, "%s: -EFAULT (got %s)", what, e2e_err(ret));
		for (unsigned int i = 0; i < 3; i++) {
			good &= good_block(&g[i], u << i);
			sum += g[i].block_size;
		}
		e2e_check(good, "%s: ops 1-3 done and reported (results %d %d %d)", what,
			  g[0].result, g[1].result, g[2].result);
		e2e_check(free_bytes(fd) == p - sum && stats().live_blocks == 3,
			  "%s: INFO shows ops 1-3 allocated, op 4 not (free %llu, want %llu)",
			  what, free_bytes(fd), p - sum);
		if (good)
			free_ops(fd, g, 3, what);
		e2e_unguard(g, len);
		e2e_pool_whole(fd, what);
	}

	/* Read-only ops: the result cannot be written, nothing is done. */
	m = two_pages(PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE);
	ops[0] = op_alloc(u);
	ops[1] = op_alloc(u);
	memcpy(m, ops, 2 * OPSZ);
	mprotect(m, 2 * page, PROT_READ);
	b.ops = (uintptr_t)m;
	b.count = 2;
	e2e_expect_fail(fd, BUDDY_IOC_BATCH, &b, EFAULT, "BATCH ops in read-only memory");
	e2e_check(!memcmp(m, ops, 2 * OPSZ), "read-only ops: unchanged");
	munmap(m, 2 * page);

	/* Ops 1-2 writable, op 3 in a read-only page: 2 done, op 3 not. */
	m = two_pages(PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE);
	g = (struct buddy_batch_op *)(m + page - 2 * OPSZ);
	g[0] = op_alloc(u);
	g[1] = op_alloc(2 * u);
	g[2] = op_alloc(u);
	mprotect(m + page, page, PROT_READ);
	b.ops = (uintptr_t)g;
	b.count = 3;
	ret = buddy_ioctl(fd, BUDDY_IOC_BATCH, &b);
	e2e_check(ret == -EFAULT && good_block(&g[0], u) && good_block(&g[1], 2 * u) &&
		  g[2].result == SENTINEL,
		  "ops 1-2 writable, op 3 read-only: -EFAULT (got %s), ops 1-2 done (results %d %d), op 3 unchanged",
		  e2e_err(ret), g[0].result, g[1].result);
	e2e_check(free_bytes(fd) == p - 3 * u,
		  "op 3 in read-only memory not made: free_bytes %llu (want %llu)",
		  free_bytes(fd), p - 3 * u);
	if (ret == -EFAULT && !g[0].result && !g[1].result)
		free_ops(fd, g, 2, "ops before a read-only op");
	munmap(m, 2 * page);
	e2e_pool_whole(fd, "ops before a read-only op");

	/*
	 * An op whose result lies in a writable page but whose start does not:
	 * the allocation is made, cannot be reported, and must be undone.
	 */
	m = two_pages(PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE);
	g = (struct buddy_batch_op *)(m + page - offsetof(struct buddy_batch_op, result));
	*g = op_alloc(u);
	mprotect(m, page, PROT_READ);
	b.ops = (uintptr_t)g;
	b.count = 1;
	e2e_expect_fail(fd, BUDDY_IOC_BATCH, &b, EFAULT,
			"an op read-only but for its result (allocation undone)");
	e2e_diag("that op's result field now holds %s", e2e_err(g->result));
	munmap(m, 2 * page);

	/*
	 * The batch struct itself read-only: done cannot be written back.  A
	 * call that fails changes nothing (README).
	 */
	m = two_pages(PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE);
	g = (struct buddy_batch_op *)(m + page);
	g[0] = op_alloc(u);
	g[1] = op_alloc(u);
	rb = (struct buddy_batch *)m;
	rb->ops = (uintptr_t)g;
	rb->count = 2;
	rb->op_size = OPSZ;
	rb->flags = 0;
	rb->done = 0;
	mprotect(m, page, PROT_READ);
	e2e_expect_fail(fd, BUDDY_IOC_BATCH, rb, EFAULT,
			"BATCH with the batch struct in read-only memory");
	for (unsigned int i = 0; i < 2; i++)
		if (g[i].result == 0 && buddy_free(fd, g[i].offset) == 0)
			e2e_diag("op %u of the failed batch had allocated %llu bytes at %llu",
				 i, g[i].block_size, g[i].offset);
	munmap(m, 2 * page);
	e2e_pool_whole(fd, "-EFAULT cases");
}

/* One batch fills the pool with units; the one past it is -ENOMEM. */
static void test_fill(void)
{
	__u64 units = info.pool_size / info.unit_size, i;
	struct buddy_batch_op *ops;
	unsigned char *seen;
	bool good = true;
	__u32 done = 0;
	int ret;

	if (units + 1 > BUDDY_BATCH_MAX) {
		e2e_diag("%llu units: more than one batch; fill skipped", units);
		return;
	}
	ops = calloc(units + 1, OPSZ);
	seen = calloc(units, 1);
	if (!ops || !seen)
		exit(2);
	for (i = 0; i <= units; i++)
		ops[i] = op_alloc(1);
	ret = buddy_batch(fd, ops, units + 1, OPSZ, &done);
	for (i = 0; i < units && i < done; i++) {
		__u64 n = ops[i].offset / info.unit_size;

		if (!good_block(&ops[i], 1) || seen[n]++)
			good = false;
	}
	e2e_check(ret == 0 && done == units && good && ops[units].result == -ENOMEM,
		  "one batch of %llu + 1 unit ALLOCs: %s, done %u, every unit once, the last -ENOMEM (got %s)",
		  units, e2e_err(ret), done, e2e_err(ops[units].result));
	e2e_check(free_bytes(fd) == 0, "the pool is full (free %llu)", free_bytes(fd));
	for (i = 0; i < done; i++)
		ops[i] = op_free(ops[i].offset);
	ret = buddy_batch(fd, ops, done, OPSZ, &done);
	e2e_check(ret == 0 && done == units, "one batch of %llu FREEs: %s, done %u",
		  units, e2e_err(ret), done);
	e2e_pool_whole(fd, "fill by batch");
	e2e_consistent(fd, "fill by batch");
	free(ops);
	free(seen);
}

int main(int argc, char **argv)
{
	e2e_init(argc, argv);
	page = sysconf(_SC_PAGESIZE);
	fd = buddy_open();
	if (!e2e_check(!buddy_info(fd, &info), "INFO"))
		return e2e_done();
	e2e_pool_whole(fd, "initial");
	test_alloc_then_free();
	test_mixed();
	test_stop();
	test_op_errors();
	test_batch_einval();
	test_op_size();
	test_efault();
	test_fill();
	e2e_consistent(fd, "final");
	e2e_pool_whole(fd, "final");
	close(fd);
	return e2e_done();
}
