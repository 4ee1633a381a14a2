// SPDX-License-Identifier: GPL-2.0
/*
 * e2e_quota: the max_bytes_per_file module parameter, set at run time in
 * /sys/module/buddy_alloc/parameters/.
 *
 * ALLOC that would take a file past it is -EDQUOT and changes nothing (not
 * even alloc_failures); the limit counts whole blocks; every open file has
 * its own, shared by its dup()s; FREE makes room again; a batch op past it
 * gets -EDQUOT as its result and stops the batch; lowering the limit below
 * what a file holds keeps its blocks; 0 lifts it.  A write that is not a
 * number is refused and leaves the value.  The value found at start is put
 * back at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e.h"

#define QUOTA	E2E_PARAM("max_bytes_per_file")
#define OPSZ	sizeof(struct buddy_batch_op)

static struct buddy_info info;

/* Write @text to the parameter: 0 or -errno. */
static int write_quota(const char *text)
{
	return e2e_write_param("max_bytes_per_file", text);
}

static bool set_quota(__u64 v)
{
	char buf[32];
	int ret;

	snprintf(buf, sizeof(buf), "%llu\n", v);
	ret = write_quota(buf);
	return e2e_check(ret == 0, "max_bytes_per_file = %llu: %s", v, e2e_err(ret));
}

static __u64 get_quota(void)
{
	char buf[64];

	if (e2e_read_file(QUOTA, buf, sizeof(buf)) <= 0)
		return UINT64_MAX;
	return strtoull(buf, NULL, 10);
}

static __u64 alloc_failures(void)
{
	struct e2e_stats st;

	return e2e_read_stats(&st, NULL, 0) ? UINT64_MAX : st.alloc_failures;
}

/* ALLOC of @size through @f: -EDQUOT, nothing changed, no failure counted. */
static void expect_edquot(int f, __u64 size, const char *what)
{
	struct buddy_alloc a = { .size = size };
	__u64 fails = alloc_failures();
	char buf[160];

	snprintf(buf, sizeof(buf), "%s: ALLOC %llu bytes", what, size);
	e2e_expect_fail(f, BUDDY_IOC_ALLOC, &a, EDQUOT, buf);
	e2e_check(alloc_failures() == fails,
		  "%s: -EDQUOT is no allocation failure: alloc_failures %llu -> %llu",
		  buf, fails, alloc_failures());
}

static bool alloc(int f, __u64 size, struct buddy_alloc *a, const char *what)
{
	int ret = buddy_alloc(f, size, a);

	return e2e_check(ret == 0, "%s: ALLOC %llu bytes: %s", what, size,
			 e2e_err(ret));
}

static void test_param_file(__u64 start)
{
	struct stat st = { 0 };
	int ret;

	e2e_check(stat(QUOTA, &st) == 0 && (st.st_mode & 0777) == 0644,
		  "%s exists with mode 0644 (got %04o)", QUOTA,
		  (unsigned int)(st.st_mode & 0777));
	set_quota(12345);
	e2e_check(get_quota() == 12345, "it reads back 12345 (got %llu)", get_quota());
	ret = write_quota("lots\n");
	e2e_check(ret == -EINVAL && get_quota() == 12345,
		  "writing 'lots': -EINVAL (got %s), value kept (%llu)", e2e_err(ret),
		  get_quota());
	ret = write_quota("-1\n");
	e2e_check(ret == -EINVAL && get_quota() == 12345,
		  "writing '-1': -EINVAL (got %s), value kept (%llu)", e2e_err(ret),
		  get_quota());
	set_quota(start);
}

static void test_quota(void)
{
	__u64 u = info.unit_size, p = info.pool_size;
	struct buddy_alloc a1, a2, b, c, x;
	int A, B, D, ret;

	if (p / u < 16) {
		e2e_diag("pool of %llu units: quota test skipped", p / u);
		return;
	}
	A = buddy_open();
	B = buddy_open();
	if (!set_quota(4 * u))
		goto out;
	if (!alloc(A, 2 * u, &a1, "quota 4 units") ||
	    !alloc(A, 2 * u, &a2, "quota 4 units"))
		goto out;
	expect_edquot(A, 1, "A holds 4 of 4 units");
	expect_edquot(A, p, "A holds 4 of 4 units, a pool-size request");
	{
		struct buddy_alloc z = { .size = 0 };

		e2e_expect_fail(A, BUDDY_IOC_ALLOC, &z, EINVAL,
				"A at its quota: ALLOC size 0 is still -EINVAL");
	}

	/* Another open file has its own; a dup shares A's. */
	if (alloc(B, 4 * u, &b, "B, another file, at A's quota"))
		expect_edquot(B, 1, "B holds 4 of 4 units");
	D = dup(A);
	expect_edquot(D, u, "a dup of A");
	close(D);

	/* Freeing makes room again, to the unit. */
	ret = buddy_free(A, a1.offset);
	e2e_check(ret == 0, "A frees 2 units: %s", e2e_err(ret));
	if (alloc(A, u, &x, "A after freeing 2 units") &&
	    alloc(A, u, &c, "A after freeing 2 units, again"))
		expect_edquot(A, 1, "A holds 4 of 4 units again");

	/* Whole blocks count: 3 units of room do not take a 3-unit request. */
	ret = buddy_free(A, x.offset);
	ret = ret ?: buddy_free(A, c.offset);
	ret = ret ?: buddy_free(A, a2.offset);
	ret = ret ?: buddy_free(B, b.offset);
	e2e_check(ret == 0, "free every block of A and B: %s", e2e_err(ret));
	if (!alloc(A, u, &x, "A holds 1 of 4 units"))
		goto out;
	expect_edquot(A, 3 * u, "3 units of room, a 3-unit request (a 4-unit block)");
	if (alloc(A, 2 * u, &c, "3 units of room, 2 units") &&
	    alloc(A, u, &a1, "1 unit of room, 1 unit")) {
		expect_edquot(A, 1, "A holds 4 of 4 units once more");
		buddy_free(A, a1.offset);
	}

	/* Lowering the limit below what a file holds keeps its blocks. */
	set_quota(u);
	e2e_check(get_quota() == u, "max_bytes_per_file reads %llu (got %llu)", u,
		  get_quota());
	expect_edquot(A, 1, "A holds 3 units, limit lowered to 1 unit");
	ret = buddy_free(A, c.offset);
	e2e_check(ret == 0, "A frees 2 of its 3 units, above the lowered limit: %s",
		  e2e_err(ret));
	expect_edquot(A, 1, "A holds 1 of 1 unit");
	ret = buddy_free(A, x.offset);
	e2e_check(ret == 0, "A frees its last unit: %s", e2e_err(ret));
	if (alloc(A, u, &x, "limit 1 unit, A holds none")) {
		expect_edquot(A, 1, "A holds 1 of 1 unit again");
		buddy_free(A, x.offset);
	}
	expect_edquot(A, 2 * u, "limit 1 unit, a 2-unit request");

	/* 0: no limit. */
	set_quota(0);
	if (alloc(A, p / 2, &x, "limit lifted: half the pool") &&
	    alloc(A, p / 4, &c, "limit lifted: a quarter more")) {
		struct buddy_alloc z = { .size = p / 2 };

		e2e_expect_fail(A, BUDDY_IOC_ALLOC, &z, ENOMEM,
				"limit lifted: half the pool again is -ENOMEM, not -EDQUOT");
		buddy_free(A, x.offset);
		buddy_free(A, c.offset);
	}

	/* A limit above the pool: the pool runs out first. */
	set_quota(2 * p);
	if (alloc(A, p, &x, "limit 2 * pool_size: the whole pool")) {
		struct buddy_alloc z = { .size = 1 };

		e2e_expect_fail(B, BUDDY_IOC_ALLOC, &z, ENOMEM,
				"limit above the pool, pool full, B holds nothing: -ENOMEM");
		buddy_free(A, x.offset);
	}
out:
	set_quota(0);
	close(A);
	e2e_pool_whole(B, "quota");
	close(B);
}

static void test_batch(void)
{
	__u64 u = info.unit_size;
	struct buddy_batch_op ops[4], orig[4];
	struct buddy_batch bt = { .count = 4, .op_size = OPSZ };
	struct e2e_snap before, after;
	struct buddy_alloc x;
	int A = buddy_open(), ret;

	if (info.pool_size / u < 16 || !set_quota(4 * u))
		goto out;
	if (!alloc(A, 2 * u, &x, "batch quota"))
		goto out;

	/* 2 units of room: two 1-unit ops, the third is -EDQUOT. */
	memset(ops, 0, sizeof(ops));
	for (unsigned int i = 0; i < 4; i++) {
		ops[i].op = BUDDY_BATCH_ALLOC;
		ops[i].size = u;
		ops[i].result = 0x5a5a5a5a;
	}
	memcpy(orig, ops, sizeof(ops));
	bt.ops = (uintptr_t)ops;
	ret = buddy_ioctl(A, BUDDY_IOC_BATCH, &bt);
	e2e_check(ret == 0 && bt.done == 2 && !ops[0].result && !ops[1].result &&
		  ops[2].result == -EDQUOT && !memcmp(&ops[3], &orig[3], OPSZ),
		  "batch of 4 one-unit ALLOCs with 2 units of room: %s, done %u, op 3 result %s (want -EDQUOT), op 4 untouched",
		  e2e_err(ret), bt.done, e2e_err(ops[2].result));
	if (ret == 0 && bt.done == 2) {
		buddy_free(A, ops[0].offset);
		buddy_free(A, ops[1].offset);
	}

	/* -EDQUOT first: nothing done; the single ALLOC says the same. */
	if (alloc(A, 2 * u, &x, "batch quota: fill to the limit")) {
		ops[0] = orig[0];
		bt.count = 1;
		bt.done = 0;
		e2e_snap(A, &before);
		ret = buddy_ioctl(A, BUDDY_IOC_BATCH, &bt);
		e2e_snap(A, &after);
		e2e_check(ret == 0 && bt.done == 0 && ops[0].result == -EDQUOT,
			  "batch ALLOC at the limit: result %s (want -EDQUOT; %s, done %u)",
			  e2e_err(ops[0].result), e2e_err(ret), bt.done);
		e2e_check(e2e_snap_same(&before, &after, "batch at quota"),
			  "batch ALLOC at the limit: changes nothing");
		expect_edquot(A, u, "the single ALLOC of the same op");

		/* A FREE earlier in the batch makes room for the ALLOC after. */
		memset(ops, 0, 2 * OPSZ);
		ops[0].op = BUDDY_BATCH_FREE;
		ops[0].offset = x.offset;
		ops[1].op = BUDDY_BATCH_ALLOC;
		ops[1].size = 2 * u;
		bt.count = 2;
		bt.done = 0;
		ret = buddy_ioctl(A, BUDDY_IOC_BATCH, &bt);
		e2e_check(ret == 0 && bt.done == 2 && !ops[0].result && !ops[1].result,
			  "batch FREE then ALLOC at the limit: %s, done %u, results %d %d",
			  e2e_err(ret), bt.done, ops[0].result, ops[1].result);
	}
out:
	set_quota(0);
	close(A);
}

int main(int argc, char **argv)
{
	__u64 start;
	int fd;

	e2e_init(argc, argv);
	fd = buddy_open();
	if (!e2e_check(!buddy_info(fd, &info), "INFO"))
		return e2e_done();
	start = get_quota();
	if (!e2e_check(start != UINT64_MAX, "%s readable", QUOTA))
		return e2e_done();
	e2e_diag("max_bytes_per_file at start: %llu", start);
	test_param_file(start);
	test_quota();
	test_batch();
	set_quota(start);
	e2e_pool_whole(fd, "final");
	e2e_consistent(fd, "final");
	close(fd);
	return e2e_done();
}
