// SPDX-License-Identifier: GPL-2.0
/*
 * e2e_files: blocks belong to the open file description that allocated them.
 *
 * Another file cannot free them (-EINVAL, nothing changes); closing the file
 * frees them all, but only when its last reference goes (dup, fork); a child
 * that shares the parent's open file may free the parent's blocks; a killed
 * process's blocks come back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"

static struct buddy_info info;

static __u64 free_bytes(int fd)
{
	struct buddy_info now;

	return buddy_info(fd, &now) ? UINT64_MAX : now.free_bytes;
}

static __u64 live_blocks(void)
{
	struct e2e_stats st;

	return e2e_read_stats(&st, NULL, 0) ? UINT64_MAX : st.live_blocks;
}

static void test_ownership(void)
{
	__u64 u = info.unit_size, p = info.pool_size;
	struct buddy_alloc a[3], b;
	struct buddy_free f = { 0 };
	int A, B, ret;

	if (info.max_order < 3) {
		e2e_diag("max_order %u < 3: ownership test skipped", info.max_order);
		return;
	}
	A = buddy_open();
	B = buddy_open();
	ret = buddy_alloc(A, u, &a[0]);
	ret = ret ?: buddy_alloc(B, u, &b);
	ret = ret ?: buddy_alloc(A, 2 * u, &a[1]);
	ret = ret ?: buddy_alloc(A, 3 * u, &a[2]);
	if (!e2e_check(!ret, "ALLOC through files A and B: %s", e2e_err(ret)))
		return;
	e2e_check(live_blocks() == 4, "stats live_blocks 4 (got %llu)", live_blocks());

	f.offset = a[0].offset;
	e2e_expect_fail(B, BUDDY_IOC_FREE, &f, EINVAL, "B frees A's block");
	f.offset = a[1].offset;
	e2e_expect_fail(B, BUDDY_IOC_FREE, &f, EINVAL, "B frees A's two-unit block");
	f.offset = b.offset;
	e2e_expect_fail(A, BUDDY_IOC_FREE, &f, EINVAL, "A frees B's block");
	e2e_consistent(A, "two files with blocks");

	close(A);
	e2e_check(free_bytes(B) == p - u,
		  "closing A frees its 7 units: free_bytes %llu (want %llu)",
		  free_bytes(B), p - u);
	e2e_check(live_blocks() == 1, "stats live_blocks 1 after closing A (got %llu)",
		  live_blocks());
	f.offset = a[0].offset;
	e2e_expect_fail(B, BUDDY_IOC_FREE, &f, EINVAL,
			"B frees a block of A, now closed");
	ret = buddy_free(B, b.offset);
	e2e_check(ret == 0, "B frees its own block: %s", e2e_err(ret));
	e2e_pool_whole(B, "ownership");
	e2e_consistent(B, "ownership done");
	close(B);
}

/* The same open file description under another descriptor. */
static void test_dup(void)
{
	__u64 p = info.pool_size;
	struct buddy_alloc a;
	int A, D, ret, chk;

	A = buddy_open();
	chk = buddy_open();
	ret = buddy_alloc(A, info.unit_size, &a);
	D = dup(A);
	close(A);
	e2e_check(!ret && free_bytes(chk) == p - info.unit_size,
		  "dup, close the original: the block stays (free %llu)",
		  free_bytes(chk));
	ret = buddy_free(D, a.offset);
	e2e_check(ret == 0, "FREE through the dup: %s", e2e_err(ret));

	ret = buddy_alloc(D, info.unit_size, &a);
	A = dup(D);
	close(A);
	e2e_check(!ret && free_bytes(chk) == p - info.unit_size,
		  "dup, close the dup: the block stays");
	close(D);
	e2e_check(free_bytes(chk) == p, "close the last descriptor: freed (free %llu)",
		  free_bytes(chk));
	close(chk);
}

/* A forked child shares the parent's open file: its blocks are the parent's. */
static void test_fork_shared(void)
{
	__u64 u = info.unit_size, p = info.pool_size;
	struct buddy_alloc a, q;
	int P, pfd[2], status, ret;
	pid_t pid;

	P = buddy_open();
	ret = buddy_alloc(P, u, &a);
	if (!e2e_check(!ret, "parent ALLOC: %s", e2e_err(ret)) || pipe(pfd))
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		/* Allocate first, so that q cannot reuse the parent's block. */
		ret = buddy_alloc(P, 2 * u, &q);
		e2e_check(ret == 0, "child ALLOC through the shared file: %s",
			  e2e_err(ret));
		ret = buddy_free(P, a.offset);
		e2e_check(ret == 0, "child frees the parent's block through the shared file: %s",
			  e2e_err(ret));
		e2e_child_send(pfd[1]);
		if (write(pfd[1], &q, sizeof(q)) != sizeof(q))
			_exit(99);
		_exit(0);
	}
	close(pfd[1]);
	e2e_child_collect(pfd[0]);
	if (read(pfd[0], &q, sizeof(q)) != sizeof(q))
		memset(&q, 0xff, sizeof(q));
	close(pfd[0]);
	waitpid(pid, &status, 0);
	e2e_check(WIFEXITED(status) && !WEXITSTATUS(status), "child exited 0");
	e2e_check(free_bytes(P) == p - q.block_size,
		  "child exited: its block stays, the file is still open (free %llu, want %llu)",
		  free_bytes(P), p - q.block_size);
	{
		struct buddy_free f = { .offset = a.offset };

		e2e_expect_fail(P, BUDDY_IOC_FREE, &f, EINVAL,
				"parent frees the block the child freed");
	}
	ret = buddy_free(P, q.offset);
	e2e_check(ret == 0, "parent frees the child's block: %s", e2e_err(ret));
	e2e_pool_whole(P, "fork shared");
	close(P);
}

/* A child's own file: its blocks are not the parent's, and die with it. */
static void test_fork_own_file(void)
{
	__u64 u = info.unit_size, p = info.pool_size;
	struct buddy_alloc c;
	int P, pfd[2], status, n;
	pid_t pid;

	if (info.max_order < 2 || pipe(pfd))
		return;
	P = buddy_open();
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int C = buddy_open();
		struct buddy_alloc x;

		close(pfd[0]);
		if (buddy_alloc(C, u, &x) || buddy_alloc(C, 3 * u, &c))
			memset(&c, 0xff, sizeof(c));
		if (write(pfd[1], &c, sizeof(c)) != sizeof(c))
			_exit(99);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	n = read(pfd[0], &c, sizeof(c));
	close(pfd[0]);
	if (e2e_check(n == sizeof(c) && c.block_size == 4 * u,
		      "child allocated through its own file")) {
		struct buddy_free f = { .offset = c.offset };

		e2e_check(free_bytes(P) == p - 5 * u, "parent sees 5 units used");
		e2e_expect_fail(P, BUDDY_IOC_FREE, &f, EINVAL,
				"parent frees the child's block through its own file");
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	e2e_check(WIFSIGNALED(status), "child killed");
	e2e_pool_whole(P, "killed child's blocks returned");
	close(P);
}

/* Many files, closed in random order: each close returns exactly its own. */
static void test_many_files(void)
{
	enum { NFILES = 16, PER = 3 };
	__u64 u = info.unit_size, p = info.pool_size;
	__u64 held[NFILES] = { 0 }, total = 0;
	int fds[NFILES], order[NFILES], i, j, k, chk;
	bool good = true;

	if ((p / u) < NFILES * PER * 4) {
		e2e_diag("pool of %llu units: many-files test skipped", p / u);
		return;
	}
	chk = buddy_open();
	for (i = 0; i < NFILES; i++) {
		fds[i] = buddy_open();
		order[i] = i;
		for (k = 0; k < PER; k++) {
			struct buddy_alloc a;
			__u64 size = 1 + e2e_rand() % (4 * u);

			if (buddy_alloc(fds[i], size, &a)) {
				good = false;
				continue;
			}
			held[i] += a.block_size;
			total += a.block_size;
		}
	}
	e2e_check(good && free_bytes(chk) == p - total,
		  "%d files with %d blocks each: free_bytes %llu (want %llu)",
		  NFILES, PER, free_bytes(chk), p - total);
	for (i = NFILES - 1; i > 0; i--) {
		j = e2e_rand() % (i + 1);
		k = order[i];
		order[i] = order[j];
		order[j] = k;
	}
	for (i = 0; i < NFILES; i++) {
		close(fds[order[i]]);
		total -= held[order[i]];
		if (free_bytes(chk) != p - total) {
			e2e_diag("closing file %d: free_bytes %llu, want %llu",
				 order[i], free_bytes(chk), p - total);
			good = false;
		}
	}
	e2e_check(good, "closing %d files in random order returns exactly each one's blocks",
		  NFILES);
	e2e_pool_whole(chk, "many files");
	e2e_consistent(chk, "many files closed");
	close(chk);
}

/* Fill the pool with units from one file, then close it. */
static void test_close_full(void)
{
	__u64 n = 0, units = info.pool_size / info.unit_size;
	struct buddy_alloc a;
	int F, chk, ret;

	chk = buddy_open();
	F = buddy_open();
	while (!(ret = buddy_alloc(F, 1, &a)))
		n++;
	e2e_check(ret == -ENOMEM && n == units,
		  "one file fills the pool with %llu units (got %llu, then %s)",
		  units, n, e2e_err(ret));
	e2e_check(live_blocks() == units, "stats live_blocks %llu (got %llu)",
		  units, live_blocks());
	close(F);
	e2e_pool_whole(chk, "closing the file that filled the pool");
	e2e_check(live_blocks() == 0, "stats live_blocks 0 (got %llu)", live_blocks());
	e2e_consistent(chk, "full file closed");
	close(chk);
}

int main(int argc, char **argv)
{
	int fd;

	e2e_init(argc, argv);
	fd = buddy_open();
	if (buddy_info(fd, &info)) {
		e2e_check(false, "INFO");
		return e2e_done();
	}
	e2e_pool_whole(fd, "initial");
	close(fd);
	test_ownership();
	test_dup();
	test_fork_shared();
	test_fork_own_file();
	test_many_files();
	test_close_full();
	return e2e_done();
}
