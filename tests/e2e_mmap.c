// SPDX-License-Identifier: GPL-2.0
/*
 * e2e_mmap: mapping blocks with mmap(2).
 *
 * Two mappings of one block, and a forked child's, see the same memory; a
 * block reads as zero when allocated, also after an earlier owner (this file
 * or another) wrote to it and freed it or closed its file.  Every refused
 * mmap (a block below a page, MAP_PRIVATE, a free block, another file's, an
 * offset inside a block, a length past it, an offset past the pool, write
 * access through a file opened read-only) fails with its errno and changes
 * nothing, and leaves no mapping counted: FREE of the block works after it.
 * FREE of a mapped block is -EBUSY and changes nothing, also while only a
 * forked child maps it or while part of a split mapping is left; after the
 * last munmap it works.  Closing the file while mapped keeps its blocks until
 * the last munmap.  mremap cannot grow a mapping; shrinking and moving keep
 * the count right.
 *
 * Works for any module parameters: blocks of one to four pages, and with
 * unit_size below the page size, blocks smaller than a page too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"

#define RW	(PROT_READ | PROT_WRITE)

static struct buddy_info info;
static size_t page;

static void *map(int fd, __u64 off, size_t len, int prot, int flags)
{
	return mmap(NULL, len, prot, flags, fd, (off_t)off);
}

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

static bool alloc(int fd, __u64 size, struct buddy_alloc *a, const char *what)
{
	int ret = buddy_alloc(fd, size, a);

	return e2e_check(ret == 0, "%s: ALLOC %llu bytes: %s (offset %llu)",
			 what, size, e2e_err(ret), ret ? 0ULL : a->offset);
}

static bool mapped_ok(void *p, const char *what)
{
	return e2e_check(p != MAP_FAILED, "%s: mmap: %s", what,
			 p == MAP_FAILED ? strerror(errno) : "ok");
}

static void expect_free(int fd, __u64 off, const char *what)
{
	int ret = buddy_free(fd, off);

	e2e_check(ret == 0, "%s: FREE offset %llu: %s", what, off, e2e_err(ret));
}

static void expect_busy(int fd, __u64 off, const char *what)
{
	struct buddy_free f = { .offset = off };

	e2e_expect_fail(fd, BUDDY_IOC_FREE, &f, EBUSY, what);
}

/* An mmap that must fail with @err and change nothing. */
static void expect_mmap_fail(int fd, __u64 off, size_t len, int prot,
			     int flags, int err, const char *what)
{
	struct e2e_snap before, after;
	int got = 0;
	void *p;

	e2e_snap(fd, &before);
	p = map(fd, off, len, prot, flags);
	if (p == MAP_FAILED)
		got = errno;
	e2e_snap(fd, &after);
	e2e_check(p == MAP_FAILED && got == err, "mmap %s: %s (got %s)", what,
		  e2e_err(-err), p == MAP_FAILED ? e2e_err(-got) : "a mapping");
	e2e_check(e2e_snap_same(&before, &after, what), "mmap %s: changes nothing",
		  what);
	if (p != MAP_FAILED)
		munmap(p, len);
}

/* One byte through a pipe; false on anything else. */
static bool sync_read(int rfd, char want)
{
	char c = 0;

	return read(rfd, &c, 1) == 1 && c == want;
}

static void sync_write(int wfd, char c)
{
	if (write(wfd, &c, 1) != 1)
		e2e_diag("pipe write failed: %s", strerror(errno));
}

/* The pool reads as zero at load: nothing of the kernel's shows. */
static void test_fresh_pool(void)
{
	struct buddy_alloc a;
	int fd = buddy_open();
	void *m;

	if (!alloc(fd, info.pool_size, &a, "fresh pool"))
		goto out;
	m = map(fd, a.offset, a.block_size, RW, MAP_SHARED);
	if (mapped_ok(m, "the whole pool")) {
		e2e_check(e2e_zero(m, a.block_size),
			  "the whole fresh pool (%llu bytes) reads as zero",
			  a.block_size);
		munmap(m, a.block_size);
	}
	expect_free(fd, a.offset, "fresh pool");
out:
	close(fd);
}

/* Two mappings, a partial one and a forked child's share the same memory. */
static void test_shared_views(void)
{
	size_t len = 4 * page;
	struct buddy_alloc a;
	int fd = buddy_open(), res[2], status;
	void *m1, *m2, *m3;
	pid_t pid;

	if (!alloc(fd, len, &a, "views"))
		goto out;
	m1 = map(fd, a.offset, len, RW, MAP_SHARED);
	m2 = map(fd, a.offset, len, RW, MAP_SHARED);
	m3 = map(fd, a.offset, page, PROT_READ, MAP_SHARED);
	if (!mapped_ok(m1, "first mapping") || !mapped_ok(m2, "second mapping") ||
	    !mapped_ok(m3, "read-only mapping of the first page"))
		goto out;
	e2e_check(m1 != m2, "two mappings at two addresses");
	e2e_fill(m1, len, 0x1111, 0);
	e2e_check(e2e_has(m2, len, 0x1111, 0),
		  "a pattern written through one mapping reads back through the other");
	e2e_fill((char *)m2 + page, page, 0x2222, page);
	e2e_check(e2e_has((char *)m1 + page, page, 0x2222, page) &&
		  e2e_has(m1, page, 0x1111, 0),
		  "a page written through the second mapping shows in the first");
	e2e_check(e2e_has(m3, page, 0x1111, 0),
		  "a mapping of only the block's first page sees it too");
	e2e_fill(m1, len, 0x3333, 0);

	if (pipe(res))
		goto out;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		void *v;

		close(res[0]);
		e2e_check(e2e_has(m1, len, 0x3333, 0) && e2e_has(m2, len, 0x3333, 0),
			  "child: the inherited mappings show the parent's pattern");
		v = map(fd, a.offset, len, RW, MAP_SHARED);
		if (mapped_ok(v, "child maps the block through the shared file")) {
			e2e_check(e2e_has(v, len, 0x3333, 0),
				  "child: its own mapping shows the parent's pattern");
			e2e_fill(v, len, 0x4444, 0);
			munmap(v, len);
		}
		e2e_fill((char *)m2 + 3 * page, page, 0x5555, 3 * page);
		e2e_child_send(res[1]);
		_exit(0);
	}
	close(res[1]);
	e2e_child_collect(res[0]);
	close(res[0]);
	waitpid(pid, &status, 0);
	e2e_check(WIFEXITED(status) && !WEXITSTATUS(status), "child exited 0");
	e2e_check(e2e_has(m1, 3 * page, 0x4444, 0) &&
		  e2e_has((char *)m1 + 3 * page, page, 0x5555, 3 * page),
		  "parent sees what the child wrote, through its own mapping and the inherited one");
	munmap(m1, len);
	munmap(m2, len);
	munmap(m3, page);

	/* The memory is the block's, not the mapping's: a new mapping sees it. */
	m1 = map(fd, a.offset, len, PROT_READ, MAP_SHARED);
	if (mapped_ok(m1, "mapping again after munmap")) {
		e2e_check(e2e_has(m1, 3 * page, 0x4444, 0),
			  "after every munmap a new mapping still shows the data");
		munmap(m1, len);
	}
	expect_free(fd, a.offset, "views");
	e2e_pool_whole(fd, "shared views");
out:
	close(fd);
}

/*
 * A block reads as zero when allocated, after an earlier owner wrote to it
 * and freed it, or closed its file; this file or another allocating it.
 */
static void test_zero_on_reuse(void)
{
	size_t len = 2 * page;
	struct buddy_alloc a, b;
	int A = buddy_open(), B = buddy_open();
	void *m;

	if (!alloc(A, len, &a, "reuse"))
		goto out;
	m = map(A, a.offset, len, RW, MAP_SHARED);
	if (!mapped_ok(m, "reuse: first owner"))
		goto out;
	e2e_check(e2e_zero(m, len), "a fresh block reads as zero");
	e2e_fill(m, len, 0xa5a5, 0);
	munmap(m, len);
	expect_free(A, a.offset, "reuse: first owner");

	/* The same request on the same state lands on the same block. */
	if (!alloc(A, len, &b, "reuse: same file again"))
		goto out;
	if (b.offset != a.offset)
		e2e_diag("reallocated at %llu, not %llu: a weaker check", b.offset,
			 a.offset);
	m = map(A, b.offset, len, RW, MAP_SHARED);
	if (mapped_ok(m, "reuse: same file again")) {
		e2e_check(e2e_zero(m, len),
			  "written, freed, allocated again by the same file: reads as zero");
		e2e_fill(m, len, 0x5a5a, 0);
		munmap(m, len);
	}
	expect_free(A, b.offset, "reuse: same file again");

	if (!alloc(B, len, &b, "reuse: another file"))
		goto out;
	if (b.offset != a.offset)
		e2e_diag("B got %llu, not %llu: a weaker check", b.offset, a.offset);
	m = map(B, b.offset, len, RW, MAP_SHARED);
	if (mapped_ok(m, "reuse: another file")) {
		e2e_check(e2e_zero(m, len),
			  "written, freed, allocated again by another file: reads as zero");
		munmap(m, len);
	}
	expect_free(B, b.offset, "reuse: another file");

	/* Freed by close, not FREE: then the whole pool by another file. */
	if (!alloc(A, len, &a, "reuse: freed by close"))
		goto out;
	m = map(A, a.offset, len, RW, MAP_SHARED);
	if (mapped_ok(m, "reuse: freed by close")) {
		e2e_fill(m, len, 0x7e7e, 0);
		munmap(m, len);
	}
	close(A);
	A = -1;
	if (!alloc(B, info.pool_size, &b, "reuse: the whole pool"))
		goto out;
	m = map(B, b.offset, b.block_size, PROT_READ, MAP_SHARED);
	if (mapped_ok(m, "reuse: the whole pool")) {
		e2e_check(e2e_zero(m, b.block_size),
			  "after blocks were written and freed by FREE and by close, another file's whole-pool block reads as zero");
		munmap(m, b.block_size);
	}
	expect_free(B, b.offset, "reuse: the whole pool");
out:
	if (A >= 0)
		close(A);
	e2e_pool_whole(B, "zero on reuse");
	close(B);
}

/* Refused mappings: each fails, changes nothing, and counts no mapping. */
static void test_refused(void)
{
	__u64 p = info.pool_size, u = info.unit_size;
	struct buddy_alloc small[128], x, y, z, c;
	unsigned int nsmall = 0, i;
	int A = buddy_open(), B = buddy_open();
	char what[160];
	void *m;

	/*
	 * Blocks below a page (unit_size < PAGE_SIZE): allocate blocks of each
	 * such size until one starts a page, then free them all.
	 */
	for (__u64 bs = u; bs < page; bs <<= 1) {
		struct buddy_alloc *s = NULL;

		nsmall = 0;
		while (nsmall < ARRAY_SIZE(small) &&
		       !buddy_alloc(A, bs, &small[nsmall])) {
			if (small[nsmall++].offset % page == 0) {
				s = &small[nsmall - 1];
				break;
			}
		}
		if (e2e_check(s, "a page-aligned block of %llu bytes", bs)) {
			snprintf(what, sizeof(what),
				 "one page at a %llu-byte block (below a page)", bs);
			expect_mmap_fail(A, s->offset, page, RW, MAP_SHARED, EINVAL, what);
			snprintf(what, sizeof(what),
				 "%llu bytes at a %llu-byte block (below a page)", bs, bs);
			expect_mmap_fail(A, s->offset, bs, PROT_READ, MAP_SHARED, EINVAL,
					 what);
		}
		for (i = 0; i < nsmall; i++)
			if (buddy_free(A, small[i].offset))
				break;
		e2e_check(i == nsmall,
			  "FREE the %u blocks of %llu bytes after the refused mmaps",
			  nsmall, bs);
	}
	if (u >= page)
		e2e_diag("unit_size %llu >= page size: no block below a page", u);

	if (!alloc(A, 2 * page, &x, "refused") || !alloc(A, page, &y, "refused") ||
	    !alloc(B, page, &c, "refused: B"))
		goto out;

	expect_mmap_fail(A, x.offset, 2 * page, RW, MAP_PRIVATE, EINVAL,
			 "MAP_PRIVATE, read-write");
	expect_mmap_fail(A, x.offset, page, PROT_READ, MAP_PRIVATE, EINVAL,
			 "MAP_PRIVATE, read-only");
	expect_mmap_fail(A, x.offset + page, page, RW, MAP_SHARED, EINVAL,
			 "an offset one page inside a two-page block");
	expect_mmap_fail(A, x.offset, 3 * page, RW, MAP_SHARED, EINVAL,
			 "three pages of a two-page block");
	expect_mmap_fail(A, y.offset, 2 * page, RW, MAP_SHARED, EINVAL,
			 "two pages of a one-page block");
	expect_mmap_fail(A, x.offset, 64 * page + 2 * page, RW, MAP_SHARED, EINVAL,
			 "66 pages of a two-page block");
	expect_mmap_fail(A, c.offset, page, RW, MAP_SHARED, EINVAL,
			 "another file's block");
	expect_mmap_fail(A, c.offset, page, PROT_READ, MAP_SHARED, EINVAL,
			 "another file's block, read-only");
	expect_mmap_fail(A, p, page, RW, MAP_SHARED, EINVAL, "offset pool_size");
	expect_mmap_fail(A, p + page, page, RW, MAP_SHARED, EINVAL,
			 "offset pool_size + page");
	expect_mmap_fail(A, 2 * p, page, RW, MAP_SHARED, EINVAL, "offset 2 * pool_size");
	expect_mmap_fail(A, 1ULL << 40, page, RW, MAP_SHARED, EINVAL, "offset 2^40");
	expect_mmap_fail(A, x.offset + 64, page, RW, MAP_SHARED, EINVAL,
			 "an offset not page-aligned");

	/* A block that was live and is free now; one never allocated. */
	if (alloc(A, page, &z, "refused: to free")) {
		expect_free(A, z.offset, "refused: to free");
		expect_mmap_fail(A, z.offset, page, RW, MAP_SHARED, EINVAL,
				 "a block just freed");
	}
	for (__u64 off = 0; off < p; off += page) {
		if ((off >= x.offset && off < x.offset + x.block_size) ||
		    (off >= y.offset && off < y.offset + y.block_size) ||
		    (off >= c.offset && off < c.offset + c.block_size))
			continue;
		expect_mmap_fail(A, off, page, RW, MAP_SHARED, EINVAL,
				 "a free page-aligned offset");
		break;
	}

	/* The owner's mappings of the same blocks work. */
	m = map(B, c.offset, page, RW, MAP_SHARED);
	if (mapped_ok(m, "B maps its own block"))
		munmap(m, page);
	m = map(A, x.offset, page, PROT_READ, MAP_SHARED);
	if (mapped_ok(m, "the first page of a two-page block"))
		munmap(m, page);

	/* None of the refused calls left a mapping counted. */
	expect_free(A, x.offset, "two-page block after refused mmaps");
	expect_free(A, y.offset, "one-page block after refused mmaps");
	expect_free(B, c.offset, "B's block after A's refused mmaps");
out:
	close(A);
	e2e_pool_whole(B, "refused mmaps");
	close(B);
}

/* FREE of a mapped block: -EBUSY until the last mapping is gone. */
static void test_busy(void)
{
	size_t len = 2 * page;
	struct buddy_alloc a;
	int fd = buddy_open();
	void *m, *m2;

	if (!alloc(fd, len, &a, "busy"))
		goto out;
	m = map(fd, a.offset, len, RW, MAP_SHARED);
	m2 = map(fd, a.offset, page, PROT_READ, MAP_SHARED);
	if (!mapped_ok(m, "busy") || !mapped_ok(m2, "busy: second mapping"))
		goto out;
	e2e_fill(m, len, 0xb0b0, 0);
	expect_busy(fd, a.offset, "FREE of a block with two mappings");
	e2e_check(e2e_has(m, len, 0xb0b0, 0), "the refused FREE left the data in place");
	munmap(m, len);
	expect_busy(fd, a.offset, "FREE of a block with one of two mappings left");
	e2e_check(e2e_has(m2, page, 0xb0b0, 0), "the remaining mapping still reads the data");
	munmap(m2, page);
	expect_free(fd, a.offset, "busy: after the last munmap");

	/* MAP_FIXED over a mapping of the block replaces it: one is left. */
	if (alloc(fd, len, &a, "busy: MAP_FIXED")) {
		m = map(fd, a.offset, len, RW, MAP_SHARED);
		if (mapped_ok(m, "busy: MAP_FIXED")) {
			m2 = mmap(m, len, RW, MAP_SHARED | MAP_FIXED, fd, a.offset);
			e2e_check(m2 == m, "MAP_FIXED over the block's own mapping: %s",
				  m2 == MAP_FAILED ? strerror(errno) : "same address");
			expect_busy(fd, a.offset, "FREE after MAP_FIXED replaced the mapping");
			munmap(m, len);
		}
		expect_free(fd, a.offset, "busy: MAP_FIXED replaced, then munmap");
	}
	e2e_pool_whole(fd, "busy");
out:
	close(fd);
}

/*
 * Only a forked child maps the block: the parent has unmapped.  The child
 * then unmaps (@child_exits false) or exits holding the mapping.
 */
static void test_busy_child(bool child_exits)
{
	const char *how = child_exits ? "child exits" : "child munmaps";
	size_t len = 2 * page;
	struct buddy_alloc a;
	int fd = buddy_open(), c2p[2], p2c[2], status;
	char what[160];
	pid_t pid;
	void *m;

	if (!alloc(fd, len, &a, how))
		goto out;
	m = map(fd, a.offset, len, RW, MAP_SHARED);
	if (!mapped_ok(m, how) || pipe(c2p) || pipe(p2c))
		goto out;
	e2e_fill(m, len, 0xc0c0, 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(c2p[0]);
		close(p2c[1]);
		sync_write(c2p[1], 'r');
		/* The parent unmaps and tries FREE meanwhile. */
		if (!sync_read(p2c[0], 'g'))
			_exit(98);
		e2e_check(e2e_has(m, len, 0xc0c0, 0),
			  "%s: child still reads the data through the inherited mapping",
			  how);
		if (child_exits) {
			e2e_child_send(c2p[1]);
			_exit(0);	/* the mapping goes with the process */
		}
		munmap(m, len);
		e2e_child_send(c2p[1]);
		sync_write(c2p[1], 'u');
		/* Stay alive: the munmap, not the exit, must release it. */
		sync_read(p2c[0], 'x');
		_exit(0);
	}
	close(c2p[1]);
	close(p2c[0]);
	e2e_check(sync_read(c2p[0], 'r'), "%s: child ready", how);
	munmap(m, len);
	snprintf(what, sizeof(what), "%s: FREE while only a forked child maps the block", how);
	expect_busy(fd, a.offset, what);
	sync_write(p2c[1], 'g');
	e2e_child_collect(c2p[0]);
	if (child_exits) {
		waitpid(pid, &status, 0);
		expect_free(fd, a.offset, "after the child holding the mapping exited");
	} else {
		e2e_check(sync_read(c2p[0], 'u'), "%s: child unmapped", how);
		expect_free(fd, a.offset, "after the child's munmap, the child still alive");
		sync_write(p2c[1], 'x');
		waitpid(pid, &status, 0);
	}
	e2e_check(WIFEXITED(status) && !WEXITSTATUS(status), "%s: child exited 0", how);
	close(c2p[0]);
	close(p2c[1]);
	e2e_pool_whole(fd, how);
out:
	close(fd);
}

/* Split mappings (partial munmap, mprotect) count each piece. */
static void test_split(void)
{
	size_t len = 4 * page;
	struct buddy_alloc a;
	int fd = buddy_open(), ret;
	char *m;

	/* Unmap the first half: the second half still pins the block. */
	if (!alloc(fd, len, &a, "split"))
		goto out;
	m = map(fd, a.offset, len, RW, MAP_SHARED);
	if (!mapped_ok(m, "split: first half"))
		goto out;
	e2e_fill(m, len, 0xd0d0, 0);
	munmap(m, 2 * page);
	expect_busy(fd, a.offset, "FREE after unmapping the first half of a 4-page mapping");
	e2e_check(e2e_has(m + 2 * page, 2 * page, 0xd0d0, 2 * page),
		  "the second half still reads the data");
	munmap(m + 2 * page, 2 * page);
	expect_free(fd, a.offset, "split: after unmapping the second half too");

	/* Unmap the middle: two pieces left, each pins it. */
	if (!alloc(fd, len, &a, "split: middle"))
		goto out;
	m = map(fd, a.offset, len, RW, MAP_SHARED);
	if (!mapped_ok(m, "split: middle"))
		goto out;
	e2e_fill(m, len, 0xd1d1, 0);
	munmap(m + page, 2 * page);
	expect_busy(fd, a.offset, "FREE after unmapping the middle two of four pages");
	munmap(m, page);
	expect_busy(fd, a.offset, "FREE with only the last page still mapped");
	e2e_check(e2e_has(m + 3 * page, page, 0xd1d1, 3 * page),
		  "the last page still reads the data");
	munmap(m + 3 * page, page);
	expect_free(fd, a.offset, "split: after the last piece is unmapped");

	/* mprotect splits the VMA in three; one munmap removes them all. */
	if (!alloc(fd, len, &a, "split: mprotect"))
		goto out;
	m = map(fd, a.offset, len, RW, MAP_SHARED);
	if (!mapped_ok(m, "split: mprotect"))
		goto out;
	ret = mprotect(m + page, page, PROT_READ);
	e2e_check(!ret, "mprotect one page of the mapping read-only: %s",
		  ret ? strerror(errno) : "ok");
	e2e_fill(m, page, 0xd2d2, 0);
	e2e_fill(m + 2 * page, 2 * page, 0xd2d2, 2 * page);
	expect_busy(fd, a.offset, "FREE of a block whose mapping mprotect split in three");
	munmap(m, len);
	expect_free(fd, a.offset, "split: one munmap over the three pieces");
	e2e_pool_whole(fd, "split");
out:
	close(fd);
}

/* Closing the file while mapped: everything stays until the last munmap. */
static void test_close_mapped(void)
{
	size_t len = 2 * page;
	struct buddy_alloc a, b, w;
	int A = buddy_open(), chk = buddy_open();
	__u64 p = info.pool_size;
	struct buddy_free f;
	void *m;

	if (!alloc(A, len, &a, "close mapped") ||
	    !alloc(A, info.unit_size, &b, "close mapped: unmapped block"))
		goto out;
	m = map(A, a.offset, len, RW, MAP_SHARED);
	if (!mapped_ok(m, "close mapped"))
		goto out;
	e2e_fill(m, len, 0xe0e0, 0);
	close(A);
	A = -1;
	e2e_check(free_bytes(chk) == p - a.block_size - b.block_size &&
		  live_blocks() == 2,
		  "closed with a mapping: both blocks stay allocated (free %llu, want %llu; live %llu, want 2)",
		  free_bytes(chk), p - a.block_size - b.block_size, live_blocks());
	e2e_check(e2e_has(m, len, 0xe0e0, 0), "closed with a mapping: the data reads back");
	e2e_fill(m, len, 0xe1e1, 0);
	e2e_check(e2e_has(m, len, 0xe1e1, 0), "closed with a mapping: the mapping is still writable");
	f.offset = a.offset;
	f.flags = f.pad = 0;
	e2e_expect_fail(chk, BUDDY_IOC_FREE, &f, EINVAL,
			"another file frees the mapped block of the closed file");
	munmap(m, len);
	e2e_check(free_bytes(chk) == p && live_blocks() == 0,
		  "after the last munmap of the closed file: everything released (free %llu of %llu, live %llu)",
		  free_bytes(chk), p, live_blocks());
	e2e_consistent(chk, "closed file's last munmap");

	/* Its memory was zeroed on the way out. */
	if (alloc(chk, p, &w, "close mapped: the whole pool")) {
		m = map(chk, w.offset, p, PROT_READ, MAP_SHARED);
		if (mapped_ok(m, "close mapped: the whole pool")) {
			e2e_check(e2e_zero(m, p),
				  "the closed file's block, written through its last mapping, reads as zero in a new whole-pool block");
			munmap(m, p);
		}
		expect_free(chk, w.offset, "close mapped: the whole pool");
	}
out:
	if (A >= 0)
		close(A);
	e2e_pool_whole(chk, "close mapped");
	close(chk);
}

/* mremap: no growth (VM_DONTEXPAND); shrinking and moving keep the count. */
static void test_mremap(void)
{
	struct e2e_snap before, after;
	struct buddy_alloc a;
	int fd = buddy_open(), err;
	char *m, *r, *dst;

	/* Grow a whole two-page block's mapping to four pages. */
	if (!alloc(fd, 2 * page, &a, "mremap grow"))
		goto out;
	m = map(fd, a.offset, 2 * page, RW, MAP_SHARED);
	if (!mapped_ok(m, "mremap grow"))
		goto out;
	e2e_fill(m, 2 * page, 0xf0f0, 0);
	e2e_snap(fd, &before);
	r = mremap(m, 2 * page, 4 * page, MREMAP_MAYMOVE);
	err = errno;
	e2e_snap(fd, &after);
	e2e_check(r == MAP_FAILED && err == EFAULT,
		  "mremap growing a mapping past its block (MAYMOVE): fails, -EFAULT (got %s)",
		  r == MAP_FAILED ? e2e_err(-err) : "a mapping");
	e2e_check(e2e_snap_same(&before, &after, "mremap grow"),
		  "mremap growing past the block: changes nothing");
	if (r != MAP_FAILED && r != m) {
		munmap(r, 4 * page);
		goto out;
	}
	e2e_snap(fd, &before);
	r = mremap(m, 2 * page, 4 * page, 0);
	err = errno;
	e2e_snap(fd, &after);
	e2e_check(r == MAP_FAILED, "mremap growing in place: fails (%s)",
		  r == MAP_FAILED ? e2e_err(-err) : "a mapping");
	e2e_check(e2e_snap_same(&before, &after, "mremap grow in place"),
		  "mremap growing in place: changes nothing");
	e2e_check(e2e_has(m, 2 * page, 0xf0f0, 0),
		  "after the refused mremap the mapping still reads the data");
	expect_busy(fd, a.offset, "FREE after the refused mremap (the mapping stays)");
	munmap(m, 2 * page);
	expect_free(fd, a.offset, "mremap grow: after munmap");

	/* Shrink four pages to two: the two left still pin the block. */
	if (!alloc(fd, 4 * page, &a, "mremap shrink"))
		goto out;
	m = map(fd, a.offset, 4 * page, RW, MAP_SHARED);
	if (!mapped_ok(m, "mremap shrink"))
		goto out;
	e2e_fill(m, 4 * page, 0xf1f1, 0);
	r = mremap(m, 4 * page, 2 * page, 0);
	e2e_check(r == m, "mremap shrinking 4 pages to 2: %s",
		  r == MAP_FAILED ? strerror(errno) : r == m ? "in place" : "moved");
	if (r != m)
		goto out;
	e2e_check(e2e_has(m, 2 * page, 0xf1f1, 0), "the shrunk mapping reads the data");
	expect_busy(fd, a.offset, "FREE with the shrunk mapping left");
	munmap(m, 2 * page);
	expect_free(fd, a.offset, "mremap shrink: after munmap");

	/* Move to another address: one mapping still, at the new place. */
	if (!alloc(fd, 2 * page, &a, "mremap move"))
		goto out;
	m = map(fd, a.offset, 2 * page, RW, MAP_SHARED);
	dst = mmap(NULL, 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!mapped_ok(m, "mremap move") || dst == MAP_FAILED)
		goto out;
	e2e_fill(m, 2 * page, 0xf2f2, 0);
	r = mremap(m, 2 * page, 2 * page, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	e2e_check(r == dst, "mremap moving the mapping: %s",
		  r == MAP_FAILED ? strerror(errno) : "moved");
	if (r != dst) {
		munmap(m, 2 * page);
		munmap(dst, 2 * page);
		goto out;
	}
	e2e_check(e2e_has(dst, 2 * page, 0xf2f2, 0), "the moved mapping reads the data");
	expect_busy(fd, a.offset, "FREE with the moved mapping");
	munmap(dst, 2 * page);
	expect_free(fd, a.offset, "mremap move: after munmap of the new place");
	e2e_pool_whole(fd, "mremap");
out:
	close(fd);
}

/* Access modes: writing needs a writable file. */
static void test_access(void)
{
	struct buddy_alloc a;
	int R, W, ret;
	void *m;

	R = open(BUDDY_DEV, O_RDONLY | O_CLOEXEC);
	if (!e2e_check(R >= 0, "open %s O_RDONLY: %s", BUDDY_DEV,
		       R >= 0 ? "ok" : strerror(errno)))
		return;
	ret = buddy_alloc(R, page, &a);
	if (!e2e_check(ret == 0, "ALLOC through an O_RDONLY file: %s", e2e_err(ret))) {
		close(R);
		return;
	}
	expect_mmap_fail(R, a.offset, page, RW, MAP_SHARED, EACCES,
			 "read-write through an O_RDONLY file");
	expect_mmap_fail(R, a.offset, page, PROT_WRITE, MAP_SHARED, EACCES,
			 "write-only through an O_RDONLY file");
	m = map(R, a.offset, page, PROT_READ, MAP_SHARED);
	if (mapped_ok(m, "MAP_SHARED, PROT_READ through an O_RDONLY file")) {
		e2e_check(e2e_zero(m, page), "the read-only mapping reads the fresh block as zero");
		e2e_check(mprotect(m, page, RW) && errno == EACCES,
			  "mprotect of the read-only file's mapping to PROT_WRITE: -EACCES");
		munmap(m, page);
	}
	expect_free(R, a.offset, "O_RDONLY file after its mmaps");
	close(R);

	W = open(BUDDY_DEV, O_WRONLY | O_CLOEXEC);
	if (!e2e_check(W >= 0, "open %s O_WRONLY: %s", BUDDY_DEV,
		       W >= 0 ? "ok" : strerror(errno)))
		return;
	if (!buddy_alloc(W, page, &a)) {
		expect_mmap_fail(W, a.offset, page, RW, MAP_SHARED, EACCES,
				 "through an O_WRONLY file");
		expect_free(W, a.offset, "O_WRONLY file after its refused mmap");
	}
	close(W);
}

int main(int argc, char **argv)
{
	int fd;

	e2e_init(argc, argv);
	page = sysconf(_SC_PAGESIZE);
	fd = buddy_open();
	if (!e2e_check(!buddy_info(fd, &info), "INFO"))
		return e2e_done();
	e2e_pool_whole(fd, "initial");
	close(fd);
	e2e_diag("pool_size %llu unit_size %llu, page %zu", info.pool_size,
		 info.unit_size, page);
	if (info.pool_size < 8 * page) {
		e2e_diag("pool below 8 pages: mmap tests need blocks of 4 pages; skipped");
		return e2e_done();
	}
	test_fresh_pool();
	test_shared_views();
	test_zero_on_reuse();
	test_refused();
	test_busy();
	test_busy_child(false);
	test_busy_child(true);
	test_split();
	test_close_mapped();
	test_mremap();
	test_access();
	fd = buddy_open();
	e2e_consistent(fd, "final");
	e2e_pool_whole(fd, "final");
	close(fd);
	return e2e_done();
}
