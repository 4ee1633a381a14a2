// SPDX-License-Identifier: GPL-2.0
/*
 * e2e_dmabuf: blocks exported as DMA-BUFs (BUDDY_IOC_EXPORT), with a real
 * importer, vgem.
 *
 *  - Every refused EXPORT (flags, fd_flags, a free, foreign, interior,
 *    misaligned or out-of-range offset, a block below a page, a mapped
 *    block, O_RDWR from a read-only file, no free descriptor, a second
 *    export, a longer struct with a non-zero tail) fails with its errno and
 *    changes nothing, no descriptor included, and debugfs blocks reads the
 *    same (a block below a page is taken and given back: still its file's).
 *  - An exported block leaves its file: FREE, mmap through /dev/buddy and a
 *    second EXPORT give EINVAL, closing /dev/buddy does not free it, and it
 *    no longer counts against max_bytes_per_file.  debugfs stats count it in
 *    exported_blocks and exported_bytes.
 *  - The DMA-BUF: fdinfo and bufinfo show exp_name "buddy" and the name
 *    DMA_BUF_SET_NAME gave; O_CLOEXEC and the access mode hold; it maps
 *    MAP_SHARED only, at most its length, the same memory as /dev/buddy's
 *    mapping; a read-only one refuses PROT_WRITE; DMA_BUF_IOCTL_SYNC START
 *    and END bracket CPU writes.
 *  - vgem imports it (DRM_IOCTL_PRIME_FD_TO_HANDLE), bufinfo lists the
 *    attachment, PRIME_HANDLE_TO_FD gives the same DMA-BUF (same inode),
 *    whose mapping holds the pattern; with every descriptor, mapping and
 *    /dev/buddy closed, vgem's handle alone keeps the block; GEM_CLOSE
 *    releases it.
 *  - SCM_RIGHTS: another process receives the descriptor; the exporter
 *    closes /dev/buddy and its own descriptor; the receiver still reads the
 *    pattern; when it closes, the block is back in the pool and a new block
 *    there reads as zero.
 *  - A mapping alone keeps the block; the release comes at the munmap.
 *  - A large block (a quarter of the pool, at most 64 MiB) through vgem and
 *    back, every byte compared.
 *  - A kernel importer (tests/kmod/buddy_dmabuf_importer.ko, from
 *    $BUDDY_MODDIR) attaches, maps one page-aligned entry of the block's
 *    length, reads our pattern through ->vmap between kernel CPU-access
 *    brackets, and its write there shows in our mapping.
 *  - rmmod is refused (EWOULDBLOCK) while a DMA-BUF lives, and the module's
 *    reference count is back to what it was after.
 *
 * Needs vgem (scripts/uml-run.sh and scripts/qemu-run.sh load it).  Works
 * for any module parameters whose pool holds four pages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/dma-buf.h>

#include "e2e.h"

#define RW		(PROT_READ | PROT_WRITE)
#define QUOTA_PARAM	E2E_PARAM("max_bytes_per_file")
#define REFCNT		"/sys/module/buddy_alloc/refcnt"

static struct buddy_info info;
static size_t page;
static int ctl;		/* a file of its own for INFO: owns no block */
static long ref_idle;	/* buddy_alloc.ko's reference count with only ctl open */

static struct e2e_stats stats(void)
{
	struct e2e_stats st;

	if (e2e_read_stats(&st, NULL, 0))
		memset(&st, 0xff, sizeof(st));
	return st;
}

static __u64 free_bytes(void)
{
	struct buddy_info now;

	return buddy_info(ctl, &now) ? UINT64_MAX : now.free_bytes;
}

static int count_fds(void)
{
	int n = 0, fd;

	for (fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static unsigned long inode_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (unsigned long)st.st_ino;
}

static long refcnt(void)
{
	char buf[32];

	return e2e_read_file(REFCNT, buf, sizeof(buf)) > 0 ? strtol(buf, NULL, 10) : -1;
}

static bool alloc(int fd, __u64 size, struct buddy_alloc *a, const char *what)
{
	int ret = buddy_alloc(fd, size, a);

	return e2e_check(ret == 0, "%s: ALLOC %llu bytes: %s (offset %llu)", what,
			 (unsigned long long)size, e2e_err(ret),
			 ret ? 0ULL : (unsigned long long)a->offset);
}

static bool export(int fd, __u64 off, __u32 fd_flags, int *dfd, const char *what)
{
	int ret = buddy_export(fd, off, fd_flags, dfd);

	return e2e_check(ret == 0 && *dfd >= 0, "%s: EXPORT offset %llu: %s (fd %d)",
			 what, (unsigned long long)off, e2e_err(ret),
			 ret ? -1 : *dfd);
}

static bool sync_ok(int dfd, __u64 flags, const char *what)
{
	int ret = e2e_dmabuf_sync(dfd, flags);

	return e2e_check(!ret, "%s: DMA_BUF_IOCTL_SYNC %s%s: %s", what,
			 flags & DMA_BUF_SYNC_END ? "END" : "START",
			 (flags & DMA_BUF_SYNC_RW) == DMA_BUF_SYNC_RW ? " RW" :
			 flags & DMA_BUF_SYNC_WRITE ? " WRITE" : " READ",
			 e2e_err(ret));
}

/*
 * An EXPORT that must fail with -@err and change nothing: INFO, debugfs
 * (through e2e_expect_fail()) and the process's descriptors.
 */
/*
 * debugfs blocks, open for test_errors() only: the EMFILE case has no
 * descriptor to spare, and an open debugfs file holds a module reference,
 * which test_vgem() counts.
 */
static int blocks_fd = -1;

/* debugfs blocks into @buf, through blocks_fd; its length, or -errno. */
static int read_blocks(char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	if (blocks_fd < 0)
		return -EBADF;
	while (len + 1 < size) {
		n = pread(blocks_fd, buf + len, size - 1 - len, (off_t)len);
		if (n < 0)
			return -errno;
		if (!n)
			break;
		len += n;
	}
	buf[len] = '\0';
	return (int)len;
}

static void expect_export_fail(int fd, __u64 off, __u32 fd_flags, __u64 flags,
			       int err, const char *what)
{
	struct buddy_export e = {
		.offset = off, .fd_flags = fd_flags, .flags = flags, .fd = 12345,
	};
	static char before[1 << 16], after[1 << 16];
	int len0 = read_blocks(before, sizeof(before)), fds = count_fds(), len1;

	e2e_expect_fail(fd, BUDDY_IOC_EXPORT, &e, err, what);
	e2e_check(count_fds() == fds, "%s: no descriptor left behind (%d -> %d)",
		  what, fds, count_fds());
	/* The block is still its file's, listed there and not as exported. */
	len1 = read_blocks(after, sizeof(after));
	e2e_check(len0 > 0 && len0 == len1 && !strcmp(before, after),
		  "%s: debugfs blocks unchanged (%d -> %d bytes)", what, len0, len1);
}

/* An mmap of @fd that must fail with @err. */
static void expect_map_fail(int fd, size_t len, int prot, int flags, off_t off,
			    int err, const char *what)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);

	e2e_check(p == MAP_FAILED && errno == err, "%s: %s (got %s)", what,
		  e2e_err(-err), p == MAP_FAILED ? e2e_err(-errno) : "a mapping");
	if (p != MAP_FAILED)
		munmap(p, len);
}

/* The block at @off reads as zero when allocated again. */
static void check_zero_again(__u64 off, __u64 size, const char *what)
{
	struct buddy_alloc a[64];
	unsigned int n = 0, i;
	bool found = false;
	int fd = buddy_open();

	/* Lowest address first: the freed block comes back within a few. */
	while (n < ARRAY_SIZE(a) && !buddy_alloc(fd, size, &a[n])) {
		if (a[n++].offset == off) {
			found = true;
			break;
		}
	}
	if (e2e_check(found, "%s: a new %llu-byte block at offset %llu", what,
		      (unsigned long long)size, (unsigned long long)off)) {
		void *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, (off_t)off);

		if (e2e_check(m != MAP_FAILED, "%s: mmap the new block: %s", what,
			      m == MAP_FAILED ? strerror(errno) : "ok")) {
			e2e_check(e2e_zero(m, size), "%s: the new block there reads as zero",
				  what);
			munmap(m, size);
		}
	}
	for (i = 0; i < n; i++)
		buddy_free(fd, a[i].offset);
	close(fd);
}

/* Released: stats say so and the bytes are free again. */
static void check_released(const struct e2e_stats *before, __u64 size,
			   __u64 free0, const char *what)
{
	struct e2e_stats st = stats();

	e2e_check(st.exported_blocks == before->exported_blocks - 1 &&
		  st.exported_bytes == before->exported_bytes - size &&
		  st.live_blocks == before->live_blocks - 1 &&
		  st.frees == before->frees + 1 && free_bytes() == free0 + size,
		  "%s: released: exported_blocks %llu -> %llu, exported_bytes %llu -> %llu, live %llu -> %llu, frees +%llu, free_bytes +%llu",
		  what, before->exported_blocks, st.exported_blocks,
		  before->exported_bytes, st.exported_bytes, before->live_blocks,
		  st.live_blocks, st.frees - before->frees,
		  free_bytes() - free0);
}

static void test_errors(void)
{
	int fd = buddy_open(), other = buddy_open(), rdonly, dfd = -1, ret;
	__u64 size = 4 * page, u = info.unit_size;
	struct buddy_alloc a, b, small;
	struct buddy_export big[2];
	struct rlimit rl, low;
	void *m;

	blocks_fd = open(BUDDY_DEBUGFS "/blocks", O_RDONLY | O_CLOEXEC);
	e2e_check(blocks_fd >= 0, "errors: open debugfs blocks (%s)",
		  blocks_fd < 0 ? strerror(errno) : "ok");
	if (!alloc(fd, size, &a, "errors") || !alloc(other, size, &b, "errors"))
		goto out;
	expect_export_fail(fd, a.offset, O_RDWR, 1, EINVAL, "EXPORT flags 1");
	expect_export_fail(fd, a.offset, O_RDWR, 1ULL << 63, EINVAL, "EXPORT flags bit 63");
	expect_export_fail(fd, a.offset, O_WRONLY, 0, EINVAL, "EXPORT fd_flags O_WRONLY");
	expect_export_fail(fd, a.offset, O_ACCMODE, 0, EINVAL, "EXPORT fd_flags O_ACCMODE");
	expect_export_fail(fd, a.offset, O_RDWR | O_NONBLOCK, 0, EINVAL,
			   "EXPORT fd_flags O_NONBLOCK");
	expect_export_fail(fd, a.offset, O_RDWR | O_APPEND, 0, EINVAL,
			   "EXPORT fd_flags O_APPEND");
	expect_export_fail(fd, a.offset, O_RDONLY | (1U << 31), 0, EINVAL,
			   "EXPORT fd_flags bit 31");
	expect_export_fail(fd, b.offset, O_RDWR, 0, EINVAL, "EXPORT of another file's block");
	expect_export_fail(fd, a.offset + u, O_RDWR, 0, EINVAL, "EXPORT inside a block");
	expect_export_fail(fd, a.offset + 1, O_RDWR, 0, EINVAL, "EXPORT of a misaligned offset");
	expect_export_fail(fd, info.pool_size, O_RDWR, 0, EINVAL, "EXPORT past the pool");
	expect_export_fail(fd, UINT64_MAX & ~(u - 1), O_RDWR, 0, EINVAL,
			   "EXPORT at offset 2^64 - unit");
	if (info.free_bytes >= 3 * size)
		expect_export_fail(fd, a.offset ^ size, O_RDWR, 0, EINVAL,
				   "EXPORT of a free block");
	if (u < page && !buddy_alloc(fd, u, &small)) {
		expect_export_fail(fd, small.offset, O_RDWR, 0, EINVAL,
				   "EXPORT of a block below a page");
		buddy_free(fd, small.offset);
	}

	/* A newer caller's struct: a non-zero byte past ours. */
	memset(big, 0, sizeof(big));
	big[0].offset = a.offset;
	big[0].fd_flags = O_RDWR;
	((unsigned char *)big)[sizeof(big[0]) + 3] = 1;
	e2e_expect_fail(fd, _IOC(_IOC_READ | _IOC_WRITE, BUDDY_IOC_MAGIC, 4, sizeof(big)),
			big, EINVAL, "EXPORT with a longer struct, non-zero past ours");

	m = mmap(NULL, size, RW, MAP_SHARED, fd, (off_t)a.offset);
	if (e2e_check(m != MAP_FAILED, "mmap through /dev/buddy: %s",
		      m == MAP_FAILED ? strerror(errno) : "ok")) {
		expect_export_fail(fd, a.offset, O_RDWR, 0, EBUSY, "EXPORT of a mapped block");
		munmap(m, size);
	}

	/* No free descriptor: the soft limit at what is open now. */
	getrlimit(RLIMIT_NOFILE, &rl);
	low = rl;
	low.rlim_cur = 0;
	while (low.rlim_cur < 1024 && fcntl((int)low.rlim_cur, F_GETFD) >= 0)
		low.rlim_cur++;
	ret = low.rlim_cur < 1024 && !setrlimit(RLIMIT_NOFILE, &low) ? 0 : -errno;
	if (e2e_check(!ret, "RLIMIT_NOFILE lowered to %llu, the descriptors open now (%s)",
		      (unsigned long long)low.rlim_cur, e2e_err(ret))) {
		expect_export_fail(fd, a.offset, O_RDWR, 0, EMFILE,
				   "EXPORT with no free descriptor");
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	rdonly = open(BUDDY_DEV, O_RDONLY | O_CLOEXEC);
	if (e2e_check(rdonly >= 0, "open %s read-only", BUDDY_DEV)) {
		struct buddy_alloc r;

		if (alloc(rdonly, size, &r, "read-only file")) {
			expect_export_fail(rdonly, r.offset, O_RDWR, 0, EACCES,
					   "EXPORT O_RDWR from a file opened read-only");
			if (export(rdonly, r.offset, O_RDONLY, &dfd,
				   "EXPORT O_RDONLY from a file opened read-only"))
				close(dfd);
		}
		close(rdonly);
	}

	/* After the refusals the block exports; then it is no longer the file's. */
	if (export(fd, a.offset, O_RDWR | O_CLOEXEC, &dfd, "after the refusals")) {
		struct buddy_free f = { .offset = a.offset };

		expect_export_fail(fd, a.offset, O_RDWR, 0, EINVAL, "a second EXPORT");
		e2e_expect_fail(fd, BUDDY_IOC_FREE, &f, EINVAL, "FREE of an exported block");
		expect_map_fail(fd, size, PROT_READ, MAP_SHARED, (off_t)a.offset, EINVAL,
				"mmap of an exported block through /dev/buddy");
		close(dfd);
	}
out:
	close(fd);
	close(other);
	if (blocks_fd >= 0)
		close(blocks_fd);
	blocks_fd = -1;
	e2e_consistent(ctl, "after the EXPORT errors");
	e2e_pool_whole(ctl, "after the EXPORT errors");
}

/* The DMA-BUF itself: fdinfo, flags, mmap rules, SYNC, name, lifetime. */
static void test_dmabuf(void)
{
	__u64 size = 4 * page, free0;
	struct e2e_stats st0, st1;
	struct buddy_alloc a;
	struct e2e_bufinfo bi;
	char val[64];
	int fd = buddy_open(), dfd = -1, ret;
	char *m, *d, *d2;

	if (!alloc(fd, size, &a, "dmabuf"))
		goto out;
	m = mmap(NULL, size, RW, MAP_SHARED, fd, (off_t)a.offset);
	if (!e2e_check(m != MAP_FAILED, "dmabuf: mmap through /dev/buddy"))
		goto out;
	e2e_fill(m, size, 1, 0);
	munmap(m, size);

	st0 = stats();
	free0 = free_bytes();
	if (!export(fd, a.offset, O_RDWR | O_CLOEXEC, &dfd, "dmabuf"))
		goto out;
	st1 = stats();
	e2e_check(st1.exported_blocks == st0.exported_blocks + 1 &&
		  st1.exported_bytes == st0.exported_bytes + size &&
		  st1.live_blocks == st0.live_blocks && st1.allocs == st0.allocs &&
		  st1.frees == st0.frees && free_bytes() == free0,
		  "dmabuf: stats count the export (exported_blocks %llu -> %llu, exported_bytes %llu -> %llu), the block stays allocated",
		  st0.exported_blocks, st1.exported_blocks, st0.exported_bytes,
		  st1.exported_bytes);
	e2e_consistent(ctl, "one block exported");
	e2e_check(fcntl(dfd, F_GETFD) == FD_CLOEXEC, "dmabuf: O_CLOEXEC set");
	e2e_check((fcntl(dfd, F_GETFL) & O_ACCMODE) == O_RDWR, "dmabuf: opened O_RDWR");
	e2e_check(lseek(dfd, 0, SEEK_END) == (off_t)size, "dmabuf: its size is %llu (SEEK_END)",
		  (unsigned long long)size);
	ret = e2e_fdinfo(dfd, "exp_name", val, sizeof(val));
	e2e_check(!ret && !strcmp(val, "buddy"), "dmabuf: fdinfo exp_name \"%s\" (%s)",
		  ret ? "" : val, e2e_err(ret));
	ret = e2e_fdinfo(dfd, "size", val, sizeof(val));
	e2e_check(!ret && strtoull(val, NULL, 10) == size, "dmabuf: fdinfo size %s",
		  ret ? e2e_err(ret) : val);
	ret = buddy_ioctl(dfd, DMA_BUF_SET_NAME, "buddy-e2e");
	e2e_check(!ret, "dmabuf: DMA_BUF_SET_NAME: %s", e2e_err(ret));
	ret = e2e_fdinfo(dfd, "name", val, sizeof(val));
	e2e_check(!ret && !strcmp(val, "buddy-e2e"), "dmabuf: fdinfo name \"%s\"",
		  ret ? e2e_err(ret) : val);
	ret = e2e_bufinfo(inode_of(dfd), &bi);
	e2e_check(ret == 1 && !strcmp(bi.exp_name, "buddy") &&
		  !strcmp(bi.name, "buddy-e2e") && bi.size == size && !bi.ndevices,
		  "dmabuf: bufinfo lists it: exp_name %s, name %s, size %llu, %d devices (%s)",
		  bi.exp_name, bi.name, bi.size, bi.ndevices, e2e_err(ret));

	/* mmap rules. */
	expect_map_fail(dfd, size, RW, MAP_PRIVATE, 0, EINVAL, "dmabuf: MAP_PRIVATE");
	expect_map_fail(dfd, size, PROT_READ, MAP_PRIVATE, 0, EINVAL,
			"dmabuf: MAP_PRIVATE read-only");
	expect_map_fail(dfd, size + page, RW, MAP_SHARED, 0, EINVAL,
			"dmabuf: mmap a page past its length");
	expect_map_fail(dfd, page, RW, MAP_SHARED, (off_t)size, EINVAL,
			"dmabuf: mmap at its end");
	expect_map_fail(dfd, 2 * page, RW, MAP_SHARED, (off_t)(size - page), EINVAL,
			"dmabuf: mmap of its last page and one more");

	d = mmap(NULL, size, RW, MAP_SHARED, dfd, 0);
	if (!e2e_check(d != MAP_FAILED, "dmabuf: mmap MAP_SHARED: %s",
		       d == MAP_FAILED ? strerror(errno) : "ok"))
		goto close_dfd;
	sync_ok(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ, "dmabuf");
	e2e_check(e2e_has(d, size, 1, 0), "dmabuf: the mapping shows what /dev/buddy's mapping wrote");
	sync_ok(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ, "dmabuf");
	d2 = mmap(NULL, page, PROT_READ, MAP_SHARED, dfd, (off_t)(2 * page));
	if (e2e_check(d2 != MAP_FAILED, "dmabuf: mmap at its third page: %s",
		      d2 == MAP_FAILED ? strerror(errno) : "ok")) {
		e2e_check(!memcmp(d2, d + 2 * page, page),
			  "dmabuf: a mapping at an offset shows the same bytes");
		munmap(d2, page);
	}
	ret = e2e_dmabuf_sync(dfd, DMA_BUF_SYNC_RW | (1ULL << 10));
	e2e_check(ret == -EINVAL, "dmabuf: SYNC with an unknown flag: EINVAL (got %s)",
		  e2e_err(ret));
	sync_ok(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW, "dmabuf");
	e2e_fill(d, size, 2, 0);
	sync_ok(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW, "dmabuf");
	e2e_check(e2e_has(d, size, 2, 0), "dmabuf: CPU writes between SYNC START and END read back");

	/* Closing /dev/buddy keeps it; so does closing the fd while mapped. */
	close(fd);
	fd = -1;
	st1 = stats();
	e2e_check(st1.exported_blocks == st0.exported_blocks + 1 &&
		  st1.live_blocks == st0.live_blocks && free_bytes() == free0,
		  "dmabuf: /dev/buddy closed, the block stays allocated (live %llu, exported %llu)",
		  st1.live_blocks, st1.exported_blocks);
	close(dfd);
	dfd = -1;
	st1 = stats();
	e2e_check(st1.exported_blocks == st0.exported_blocks + 1 && e2e_has(d, size, 2, 0),
		  "dmabuf: its fd closed too, the mapping alone keeps it, pattern intact");
	munmap(d, size);
	check_released(&st1, size, free0, "dmabuf: at the munmap");
	check_zero_again(a.offset, size, "dmabuf");
close_dfd:
	if (dfd >= 0)
		close(dfd);
out:
	if (fd >= 0)
		close(fd);
	e2e_consistent(ctl, "after the DMA-BUF test");
	e2e_pool_whole(ctl, "after the DMA-BUF test");
}

static void test_readonly(void)
{
	struct buddy_alloc a;
	int fd = buddy_open(), dfd;
	__u64 size = 2 * page;
	char *d;

	if (!alloc(fd, size, &a, "read-only") ||
	    !export(fd, a.offset, O_RDONLY, &dfd, "read-only"))
		goto out;
	e2e_check((fcntl(dfd, F_GETFL) & O_ACCMODE) == O_RDONLY &&
		  fcntl(dfd, F_GETFD) == 0, "read-only: O_RDONLY, no FD_CLOEXEC");
	expect_map_fail(dfd, size, RW, MAP_SHARED, 0, EACCES, "read-only: mmap PROT_WRITE");
	d = mmap(NULL, size, PROT_READ, MAP_SHARED, dfd, 0);
	if (e2e_check(d != MAP_FAILED, "read-only: mmap PROT_READ: %s",
		      d == MAP_FAILED ? strerror(errno) : "ok")) {
		e2e_check(e2e_zero(d, size), "read-only: a fresh block reads as zero");
		e2e_check(mprotect(d, size, RW) && errno == EACCES,
			  "read-only: mprotect to PROT_WRITE: EACCES");
		munmap(d, size);
	}
	close(dfd);
out:
	close(fd);
	e2e_pool_whole(ctl, "after the read-only test");
}

/* Exported bytes count against the exporting file until the export only. */
static void test_quota(void)
{
	__u64 size = 2 * page;
	struct buddy_alloc a, b;
	char old[32] = "0", want[32];
	int fd = buddy_open(), dfd = -1, ret;

	e2e_read_file(QUOTA_PARAM, old, sizeof(old));
	old[strcspn(old, "\n")] = '\0';
	snprintf(want, sizeof(want), "%llu", (unsigned long long)size);
	if (!e2e_check(!e2e_write_param("max_bytes_per_file", want),
		       "quota: max_bytes_per_file = %llu", (unsigned long long)size))
		goto out;
	if (!alloc(fd, size, &a, "quota"))
		goto restore;
	ret = buddy_alloc(fd, size, &b);
	e2e_check(ret == -EDQUOT, "quota: a second block: EDQUOT (got %s)", e2e_err(ret));
	if (!ret)
		buddy_free(fd, b.offset);
	if (export(fd, a.offset, O_RDWR, &dfd, "quota")) {
		ret = buddy_alloc(fd, size, &b);
		e2e_check(!ret, "quota: after the export the file may allocate again (%s)",
			  e2e_err(ret));
		if (!ret)
			buddy_free(fd, b.offset);
		close(dfd);
	}
restore:
	e2e_check(!e2e_write_param("max_bytes_per_file", old), "quota: restored to %s",
		  old);
out:
	close(fd);
	e2e_pool_whole(ctl, "after the quota test");
}

/* What a vgem case holds at its end: the import, then the descriptors. */
static void vgem_case_end(int drm, __u32 handle, int fd, int dfd, int dfd2)
{
	if (handle)
		e2e_gem_close(drm, handle);
	if (dfd >= 0)
		close(dfd);
	if (dfd2 >= 0)
		close(dfd2);
	if (drm >= 0)
		close(drm);
	if (fd >= 0)
		close(fd);
}

static void test_vgem(void)
{
	__u64 size = 4 * page, free0;
	int fd = buddy_open(), drm, dfd = -1, dfd2 = -1, ret;
	struct e2e_stats st0;
	struct e2e_bufinfo bi;
	struct buddy_alloc a;
	unsigned long ino;
	__u32 handle = 0, handle2 = 0;
	char *d, *d2;

	drm = e2e_vgem_open();
	if (!e2e_check(drm >= 0, "vgem: open the vgem DRM device (%s)", e2e_err(drm)))
		goto out;
	if (!alloc(fd, size, &a, "vgem") ||
	    !export(fd, a.offset, O_RDWR | O_CLOEXEC, &dfd, "vgem"))
		goto out;
	ino = inode_of(dfd);
	d = mmap(NULL, size, RW, MAP_SHARED, dfd, 0);
	if (!e2e_check(d != MAP_FAILED, "vgem: mmap the DMA-BUF"))
		goto out;
	sync_ok(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE, "vgem");
	e2e_fill(d, size, 3, 0);
	sync_ok(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE, "vgem");
	munmap(d, size);

	ret = e2e_prime_import(drm, dfd, &handle);
	if (!e2e_check(!ret && handle, "vgem: PRIME_FD_TO_HANDLE: %s (handle %u)",
		       e2e_err(ret), handle))
		goto out;
	ret = e2e_bufinfo(ino, &bi);
	e2e_check(ret == 1 && bi.ndevices == 1 && !strcmp(bi.devices, "vgem") &&
		  !strcmp(bi.exp_name, "buddy"),
		  "vgem: bufinfo lists the attachment: exp_name %s, %d device(s): %s (%s)",
		  bi.exp_name, bi.ndevices, bi.devices, e2e_err(ret));
	ret = e2e_prime_import(drm, dfd, &handle2);
	e2e_check(!ret && handle2 == handle, "vgem: a second import gives the same handle (%u, %s)",
		  handle2, e2e_err(ret));

	ret = e2e_prime_export(drm, handle, O_RDWR | O_CLOEXEC, &dfd2);
	if (!e2e_check(!ret && dfd2 >= 0, "vgem: PRIME_HANDLE_TO_FD: %s", e2e_err(ret)))
		goto out;
	e2e_check(inode_of(dfd2) == ino && ino,
		  "vgem: the re-export is the same DMA-BUF (inode %lu, got %lu)", ino,
		  inode_of(dfd2));
	d2 = mmap(NULL, size, RW, MAP_SHARED, dfd2, 0);
	if (e2e_check(d2 != MAP_FAILED, "vgem: mmap the re-exported fd: %s",
		      d2 == MAP_FAILED ? strerror(errno) : "ok")) {
		/* With vgem's attachment mapped, SYNC syncs it too. */
		sync_ok(dfd2, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW, "vgem re-export");
		e2e_check(e2e_has(d2, size, 3, 0), "vgem: the re-export's mapping holds the pattern");
		e2e_fill(d2, size, 4, 0);
		sync_ok(dfd2, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW, "vgem re-export");
		munmap(d2, size);
	}

	/* vgem's handle alone keeps the block. */
	close(dfd);
	close(dfd2);
	dfd = dfd2 = -1;
	close(fd);
	fd = -1;
	st0 = stats();
	free0 = free_bytes();
	e2e_check(st0.exported_blocks == 1 && e2e_bufinfo(ino, &bi) == 1 && bi.ndevices == 1,
		  "vgem: with every fd and /dev/buddy closed, the import keeps it (exported_blocks %llu)",
		  st0.exported_blocks);
	e2e_check(refcnt() == ref_idle + 1,
		  "vgem: the DMA-BUF holds a module reference (%ld with only INFO's file open, now %ld)",
		  ref_idle, refcnt());
	ret = syscall(SYS_delete_module, "buddy_alloc", O_NONBLOCK) ? -errno : 0;
	e2e_check(ret == -EWOULDBLOCK, "vgem: rmmod while a DMA-BUF lives: EWOULDBLOCK (got %s)",
		  e2e_err(ret));
	e2e_check(!access(BUDDY_DEV, F_OK), "vgem: buddy_alloc.ko still loaded");

	ret = e2e_gem_close(drm, handle);
	e2e_check(!ret, "vgem: GEM_CLOSE: %s", e2e_err(ret));
	check_released(&st0, size, free0, "vgem: at GEM_CLOSE");
	e2e_check(e2e_bufinfo(ino, &bi) == 0, "vgem: bufinfo no longer lists it");
	e2e_check(refcnt() == ref_idle, "vgem: the module reference is dropped (%ld)",
		  refcnt());
	check_zero_again(a.offset, size, "vgem");
	handle = 0;
out:
	vgem_case_end(drm, handle, fd, dfd, dfd2);
	e2e_consistent(ctl, "after the vgem test");
	e2e_pool_whole(ctl, "after the vgem test");
}

/*
 * A large block (a quarter of the pool, at most 64 MiB: on a 256 MiB
 * memmap= pool, 64 MiB mapped with dma_map_resource()) through vgem and
 * back, every byte compared.
 */
static void test_large(void)
{
	__u64 size = info.pool_size / 4, free0;
	int fd = buddy_open(), drm = e2e_vgem_open(), dfd = -1, dfd2 = -1, ret;
	struct e2e_stats st0;
	struct buddy_alloc a;
	__u32 handle = 0;
	char *d;

	if (size > 64ULL << 20)
		size = 64ULL << 20;
	if (!e2e_check(drm >= 0, "large: open vgem (%s)", drm < 0 ? e2e_err(drm) : "ok") ||
	    !alloc(fd, size, &a, "large") ||
	    !export(fd, a.offset, O_RDWR | O_CLOEXEC, &dfd, "large"))
		goto out;
	close(fd);
	fd = -1;
	d = mmap(NULL, size, RW, MAP_SHARED, dfd, 0);
	if (!e2e_check(d != MAP_FAILED, "large: mmap %llu bytes", (unsigned long long)size))
		goto out;
	sync_ok(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE, "large");
	e2e_fill(d, size, 6, 0);
	sync_ok(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE, "large");
	munmap(d, size);
	ret = e2e_prime_import(drm, dfd, &handle);
	e2e_check(!ret, "large: vgem imports %llu bytes: %s", (unsigned long long)size,
		  e2e_err(ret));
	ret = ret ? ret : e2e_prime_export(drm, handle, O_RDWR | O_CLOEXEC, &dfd2);
	if (!e2e_check(!ret && inode_of(dfd2) == inode_of(dfd),
		       "large: re-exported, the same DMA-BUF (%s)", e2e_err(ret)))
		goto out;
	close(dfd);
	dfd = -1;
	d = mmap(NULL, size, PROT_READ, MAP_SHARED, dfd2, 0);
	if (e2e_check(d != MAP_FAILED, "large: mmap the re-export")) {
		sync_ok(dfd2, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ, "large");
		e2e_check(e2e_has(d, size, 6, 0), "large: every byte of the pattern, through vgem's re-export");
		sync_ok(dfd2, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ, "large");
		munmap(d, size);
	}
	close(dfd2);
	dfd2 = -1;
	st0 = stats();
	free0 = free_bytes();
	ret = e2e_gem_close(drm, handle);
	handle = 0;
	e2e_check(!ret, "large: GEM_CLOSE: %s", e2e_err(ret));
	check_released(&st0, size, free0, "large");
	check_zero_again(a.offset, size, "large");
out:
	vgem_case_end(drm, handle, fd, dfd, dfd2);
	e2e_pool_whole(ctl, "after the large block");
}

#define IMPORTER	"buddy_dmabuf_importer"
#define IMPORTER_FILE	"/sys/kernel/debug/" IMPORTER

/*
 * A kernel importer (tests/kmod/buddy_dmabuf_importer.c): its own device's
 * attachment gets one entry of the block's length, page-aligned; through
 * the DMA-BUF's kernel mapping (->vmap), between kernel begin/end CPU
 * access, it sums the words we wrote and leaves a marker we then see.
 */
static void test_kernel_importer(void)
{
	const char *moddir = getenv("BUDDY_MODDIR");
	unsigned long long size_k = 0, sum_k = 0, sum = 0;
	unsigned int nents = 0, dma_len = 0;
	int fd = buddy_open(), dfd = -1, ko, ret, aligned = 0;
	__u64 size = 4 * page, i;
	struct e2e_bufinfo bi;
	struct buddy_alloc a;
	char path[512], line[160];
	__u64 *d = MAP_FAILED;

	snprintf(path, sizeof(path), "%s/tests/kmod/" IMPORTER ".ko", moddir ? moddir : ".");
	ko = open(path, O_RDONLY | O_CLOEXEC);
	ret = ko < 0 ? -errno : syscall(SYS_finit_module, ko, "", 0) ? -errno : 0;
	if (ko >= 0)
		close(ko);
	if (!e2e_check(!ret, "kernel importer: load %s (%s)", path, e2e_err(ret)))
		goto out;
	if (!alloc(fd, size, &a, "kernel importer") ||
	    !export(fd, a.offset, O_RDWR | O_CLOEXEC, &dfd, "kernel importer"))
		goto unload;
	d = mmap(NULL, size, RW, MAP_SHARED, dfd, 0);
	if (!e2e_check(d != MAP_FAILED, "kernel importer: mmap"))
		goto unload;
	sync_ok(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW, "kernel importer");
	e2e_fill(d, size, 7, 0);
	for (i = 0; i < size / 8; i++)
		sum += d[i];
	sync_ok(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW, "kernel importer");

	ko = open(IMPORTER_FILE, O_RDWR | O_CLOEXEC);
	ret = ko < 0 ? -errno : dprintf(ko, "%d", dfd) < 0 ? -errno : 0;
	if (ko >= 0)
		close(ko);
	e2e_check(!ret, "kernel importer: imports the DMA-BUF (%s)", e2e_err(ret));
	ret = e2e_read_file(IMPORTER_FILE, line, sizeof(line));
	ret = ret < 0 ? ret :
	      sscanf(line, "size %llu nents %u dma_len %u dma_aligned %d sum %llu",
		     &size_k, &nents, &dma_len, &aligned, &sum_k) == 5 ? 0 : -EPROTO;
	e2e_check(!ret && size_k == size && nents == 1 && dma_len == size && aligned,
		  "kernel importer: its attachment maps one page-aligned entry of %llu bytes (%s: %.*s)",
		  (unsigned long long)size, e2e_err(ret), (int)strcspn(line, "\n"), line);
	e2e_check(!ret && sum_k == sum,
		  "kernel importer: through ->vmap it reads what we wrote (sum %llu, ours %llu)",
		  sum_k, sum);
	sync_ok(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ, "kernel importer");
	e2e_check(d[0] == ~(__u64)sum, "kernel importer: its write through ->vmap shows in our mapping");
	sync_ok(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ, "kernel importer");
	ret = e2e_bufinfo(inode_of(dfd), &bi);
	e2e_check(ret == 1 && bi.ndevices == 0, "kernel importer: detached again (%d devices)",
		  bi.ndevices);
unload:
	ret = syscall(SYS_delete_module, IMPORTER, O_NONBLOCK) ? -errno : 0;
	e2e_check(!ret, "kernel importer: unloads (%s)", e2e_err(ret));
out:
	if (d != MAP_FAILED)
		munmap(d, size);
	if (dfd >= 0)
		close(dfd);
	close(fd);
	e2e_pool_whole(ctl, "after the kernel importer");
}

static int send_fd(int sock, int fd)
{
	char c = 'F', cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

static int recv_fd(int sock)
{
	char c, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -errno;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* The descriptor @fd of process @pid, duplicated into this one. */
static int take_fd(pid_t pid, int fd)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0), ret;

	if (pidfd < 0)
		return -errno;
	ret = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	ret = ret < 0 ? -errno : ret;
	close(pidfd);
	return ret;
}

/* How a descriptor goes to the other process. */
enum handoff { BY_SCM_RIGHTS, BY_PIDFD_GETFD };

static const char *const handoff_name[] = { "SCM_RIGHTS", "pidfd_getfd" };

/* One message of the hand-off's protocol: a letter and a number. */
struct note {
	char what;
	int num;
};

static struct note get(int rfd)
{
	struct note n = { 0, -1 };

	if (read(rfd, &n, sizeof(n)) != sizeof(n))
		n.what = 0;
	return n;
}

static void put(int wfd, char what, int num)
{
	struct note n = { what, num };

	if (write(wfd, &n, sizeof(n)) != sizeof(n))
		e2e_diag("pipe write: %s", strerror(errno));
}

/*
 * The receiving process: it holds nothing of /dev/buddy (it closed the
 * file it inherited), only the descriptor it is given.
 */
static void receiver(enum handoff how, int sock, int rfd, int wfd, int results,
		     __u64 size)
{
	const char *via = handoff_name[how];
	struct note n = get(rfd);
	int dfd = -EPROTO;
	char *d;

	if (how == BY_SCM_RIGHTS)
		dfd = recv_fd(sock);
	else if (n.what == 'F')
		dfd = take_fd(getppid(), n.num);
	e2e_check(dfd >= 0, "%s: the receiver got a descriptor (%s)", via,
		  e2e_err(dfd < 0 ? dfd : 0));
	put(wfd, 'T', 0);
	n = get(rfd);
	e2e_check(n.what == 'C', "%s: the receiver is told the exporter closed /dev/buddy and its fd",
		  via);
	if (dfd >= 0) {
		char val[32] = "";

		e2e_fdinfo(dfd, "exp_name", val, sizeof(val));
		e2e_check(!strcmp(val, "buddy"), "%s: receiver: fdinfo exp_name %s", via, val);
		d = mmap(NULL, size, PROT_READ, MAP_SHARED, dfd, 0);
		if (e2e_check(d != MAP_FAILED, "%s: receiver: mmap: %s", via,
			      d == MAP_FAILED ? strerror(errno) : "ok")) {
			sync_ok(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ, via);
			e2e_check(e2e_has(d, size, 5, 0),
				  "%s: the receiver reads the pattern, the exporter's files all closed",
				  via);
			sync_ok(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ, via);
			munmap(d, size);
		}
	}
	put(wfd, 'R', 0);
	n = get(rfd);
	e2e_check(n.what == 'X', "%s: the receiver is told to close it", via);
	if (dfd >= 0)
		close(dfd);
	e2e_child_send(results);
}

/*
 * Hand the DMA-BUF to another process, close /dev/buddy and the first
 * descriptor: the other process still reads the pattern; when it closes,
 * the block is back in the pool and reads as zero when allocated again.
 */
static void test_handoff(enum handoff how)
{
	const char *via = handoff_name[how];
	__u64 size = 8 * page, free0 = 0;
	int sv[2] = { -1, -1 }, down[2], up[2], res[2], fd, dfd, status = 0;
	struct e2e_stats st0 = { 0 };
	struct buddy_alloc a;
	pid_t pid;
	char *d;

	if (info.pool_size < 4 * size)
		size = 2 * page;
	/* Every kernel this runs on has AF_UNIX (uml.config has CONFIG_UNIX). */
	if (how == BY_SCM_RIGHTS) {
		int err = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ?
			  errno : 0;

		if (!e2e_check(!err, "%s: a socket pair to pass the DMA-BUF over (%s)",
			       via, err ? strerror(err) : "made"))
			return;
	}
	if (!e2e_check(!pipe(down) && !pipe(up) && !pipe(res),
		       "%s: pipes to the receiver", via))
		return;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		close(down[1]);
		close(up[0]);
		close(res[0]);
		close(ctl);
		receiver(how, sv[1], down[0], up[1], res[1], size);
		_exit(0);
	}
	close(sv[1]);
	close(down[0]);
	close(up[1]);
	close(res[1]);
	/* Opened after the fork: the receiver inherits nothing of ours. */
	fd = buddy_open();
	if (!alloc(fd, size, &a, via) ||
	    !export(fd, a.offset, O_RDWR | O_CLOEXEC, &dfd, via)) {
		close(down[1]);
		close(fd);
		goto reap;
	}
	d = mmap(NULL, size, RW, MAP_SHARED, dfd, 0);
	if (e2e_check(d != MAP_FAILED, "%s: mmap", via)) {
		sync_ok(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE, via);
		e2e_fill(d, size, 5, 0);
		sync_ok(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE, via);
		munmap(d, size);
	}
	/* pidfd_getfd takes the descriptor from us: its number is the note's. */
	put(down[1], 'F', dfd);
	if (how == BY_SCM_RIGHTS)
		e2e_check(!send_fd(sv[0], dfd), "%s: sent the DMA-BUF to pid %d", via,
			  (int)pid);
	e2e_check(get(up[0]).what == 'T', "%s: the receiver has it", via);
	close(dfd);
	close(fd);
	st0 = stats();
	free0 = free_bytes();
	e2e_check(st0.exported_blocks == 1 && st0.exported_bytes == size,
		  "%s: the exporter closed /dev/buddy and its fd; the block lives on (exported_blocks %llu, bytes %llu)",
		  via, st0.exported_blocks, st0.exported_bytes);
	put(down[1], 'C', 0);
	e2e_check(get(up[0]).what == 'R', "%s: the receiver read it", via);
	e2e_check(stats().exported_blocks == 1,
		  "%s: still exported while only the receiver holds it", via);
	put(down[1], 'X', 0);
	close(down[1]);
reap:
	close(sv[0]);
	e2e_child_collect(res[0]);
	close(res[0]);
	close(up[0]);
	waitpid(pid, &status, 0);
	e2e_check(WIFEXITED(status) && !WEXITSTATUS(status), "%s: the receiver exited (%#x)",
		  via, status);
	if (st0.exported_blocks == 1) {
		check_released(&st0, size, free0, via);
		check_zero_again(a.offset, size, via);
	}
	e2e_consistent(ctl, via);
	e2e_pool_whole(ctl, via);
}

int main(int argc, char **argv)
{
	int ret;

	e2e_init(argc, argv);
	page = sysconf(_SC_PAGESIZE);
	ctl = buddy_open();
	ret = buddy_info(ctl, &info);
	if (!e2e_check(!ret && info.pool_size >= 16 * page,
		       "INFO: pool %llu, unit %llu (%s): holds 16 pages",
		       info.pool_size, info.unit_size, e2e_err(ret)))
		return e2e_done();
	e2e_consistent(ctl, "start");
	ref_idle = refcnt();
	test_errors();
	test_dmabuf();
	test_readonly();
	test_quota();
	test_vgem();
	test_large();
	test_kernel_importer();
	test_handoff(BY_SCM_RIGHTS);
	test_handoff(BY_PIDFD_GETFD);
	e2e_check(stats().exported_blocks == 0 && stats().exported_bytes == 0,
		  "end: nothing exported");
	close(ctl);
	return e2e_done();
}
