// SPDX-License-Identifier: GPL-2.0
/*
 * e2e_ioctl: every /dev/buddy ioctl and every error it can return.
 *
 * Each error path is checked to change nothing: INFO, debugfs buddyinfo,
 * unusable_index and the stats are compared before and after.  Also: bad
 * user pointers (-EFAULT, with ALLOC's copy-out failure undone), unknown
 * commands (-ENOTTY) and callers whose structs are shorter or longer than
 * the kernel's (size taken from the command, like dma-heap).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "e2e.h"

#define CMD(dir, nr, size)	_IOC(dir, BUDDY_IOC_MAGIC, nr, size)
#define RW			(_IOC_READ | _IOC_WRITE)

static int fd;
static struct buddy_info info;

static void test_device(void)
{
	struct stat st;

	if (!e2e_check(stat(BUDDY_DEV, &st) == 0, "stat %s", BUDDY_DEV))
		return;
	e2e_check(S_ISCHR(st.st_mode) && major(st.st_rdev) == 10,
		  "%s is a misc character device (major %u)", BUDDY_DEV,
		  major(st.st_rdev));
	e2e_check((st.st_mode & 07777) == 0600, "%s has mode 0600 (got %04o)",
		  BUDDY_DEV, st.st_mode & 07777);
}

/*
 * First, on the freshly loaded pool: an ALLOC whose result cannot be copied
 * out is undone entirely, peak_used_bytes included (later on the peak has
 * already reached pool_size and could not show it).
 */
static void test_fault_fresh(void)
{
	long page = sysconf(_SC_PAGESIZE);
	struct buddy_alloc a = { 0 };
	struct e2e_stats st;
	int own = buddy_open();	/* closing it frees a leak */
	void *ro;

	if (buddy_info(own, &info) || e2e_read_stats(&st, NULL, 0)) {
		close(own);
		return;
	}
	if (st.peak_used_bytes == info.pool_size)
		e2e_diag("peak_used_bytes already pool_size: the peak part of the next check proves nothing");
	ro = mmap(NULL, page, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED) {
		close(own);
		return;
	}
	a.size = info.pool_size;
	memcpy(ro, &a, sizeof(a));
	mprotect(ro, page, PROT_READ);
	e2e_expect_fail(own, BUDDY_IOC_ALLOC, ro, EFAULT,
			"fresh pool: ALLOC pool_size into read-only memory (undone, peak too)");
	munmap(ro, page);
	close(own);
}

static void test_info(void)
{
	struct buddy_info i2;
	int ret, fd2;

	memset(&info, 0xa5, sizeof(info));
	ret = buddy_ioctl(fd, BUDDY_IOC_INFO, &info);
	e2e_check(ret == 0, "INFO: %s", e2e_err(ret));
	e2e_check(info.pad == 0, "INFO: pad written as 0 over garbage");
	e2e_consistent(fd, "initial");
	e2e_pool_whole(fd, "initial");
	e2e_diag("pool_size %llu unit_size %llu max_order %u", info.pool_size,
		 info.unit_size, info.max_order);

	fd2 = buddy_open();
	ret = buddy_info(fd2, &i2);
	e2e_check(!ret && !memcmp(&info, &i2, sizeof(info)),
		  "INFO through a second open file is the same");
	close(fd2);
}

static void test_alloc_sizes(void)
{
	__u64 u = info.unit_size, p = info.pool_size;
	__u64 sizes[] = { 1, u / 2, u - 1, u, u + 1, 2 * u - 1, 2 * u,
			  2 * u + 1, 3 * u, 5 * u, p / 4 + 1, p / 2 - 1, p / 2,
			  p / 2 + 1, p - 1, p };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		__u64 size = sizes[i], bs = e2e_block_size(&info, size);
		struct buddy_alloc a;
		struct buddy_info now;
		struct e2e_stats st;
		int ret;

		if (!size || size > p)
			continue;
		memset(&a, 0, sizeof(a));
		a.size = size;
		a.offset = 0xdeadbeefdeadbeefULL;
		a.block_size = 0xfeedfacefeedfaceULL;
		ret = buddy_ioctl(fd, BUDDY_IOC_ALLOC, &a);
		if (!e2e_check(ret == 0, "ALLOC size %llu: %s", size,
			       e2e_err(ret)))
			continue;
		e2e_check(a.size == size && !a.flags && !a.pad &&
			  a.block_size == bs && a.offset % bs == 0 &&
			  a.offset <= p - bs,
			  "ALLOC size %llu: block %llu (want %llu) at offset %llu aligned, inside the pool, inputs kept",
			  size, a.block_size, bs, a.offset);
		ret = buddy_info(fd, &now);
		e2e_check(!ret && now.free_bytes == p - bs,
			  "ALLOC size %llu: free_bytes %llu -> %llu", size,
			  p, now.free_bytes);
		ret = e2e_read_stats(&st, NULL, 0);
		e2e_check(!ret && st.live_blocks == 1 && st.used_bytes == bs,
			  "ALLOC size %llu: stats live_blocks 1 (got %llu), used_bytes %llu (got %llu)",
			  size, st.live_blocks, bs, st.used_bytes);
		if (i == 1)
			e2e_consistent(fd, "one small block");
		ret = buddy_free(fd, a.offset);
		e2e_check(ret == 0, "FREE offset %llu (size %llu): %s",
			  a.offset, size, e2e_err(ret));
		e2e_pool_whole(fd, "after FREE");
	}
}

/*
 * One unit from a whole pool leaves one free block of every lower order in
 * the core: with the per-CPU caches off, so that no refill takes more.
 */
static void test_split_shape(void)
{
	__u64 counts[E2E_MAX_ORDERS];
	struct buddy_alloc a;
	int n, was;
	unsigned int o;
	bool good;

	was = e2e_set_percpu_cache(0);
	if (!e2e_check(was >= 0, "percpu_cache=0 at runtime (%s)", e2e_err(was)))
		return;
	if (buddy_alloc(fd, 1, &a))
		goto restore;
	n = e2e_read_buddyinfo(counts, E2E_MAX_ORDERS);
	good = n == (int)info.max_order + 1;
	for (o = 0; good && o <= info.max_order; o++)
		good = counts[o] == (o < info.max_order);
	e2e_check(good, "one unit allocated: buddyinfo has one free block at each order below %u",
		  info.max_order);
	buddy_free(fd, a.offset);
restore:
	e2e_set_percpu_cache(was);
}

/*
 * With the caches on, cached blocks are free: INFO's free_bytes counts
 * them, debugfs buddyinfo (the core's blocks) does not, and percpu lists
 * them; INFO's largest_free is what an allocation gets, here the whole
 * pool's other half.  Turning the caches off empties them.
 */
static void test_cached_blocks(void)
{
	__u64 counts[E2E_MAX_ORDERS], core = 0, cached = 0;
	struct buddy_info now;
	struct buddy_alloc a, half;
	int n, on, was, cpus;
	unsigned int o;

	was = e2e_set_percpu_cache(1);
	if (!e2e_check(was >= 0, "percpu_cache=1 at runtime (%s)", e2e_err(was)))
		return;
	if (!e2e_check(buddy_alloc(fd, 1, &a) == 0, "caches on: ALLOC one unit"))
		goto restore;
	n = e2e_read_buddyinfo(counts, E2E_MAX_ORDERS);
	cpus = e2e_read_percpu(&cached, &on);
	for (o = 0; n > 0 && o < (unsigned int)n; o++)
		core += counts[o] << o;
	e2e_check(cpus > 0 && on == 1 && cached > 0,
		  "caches on: debugfs percpu lists %d CPUs, on %d, %llu units cached after one ALLOC",
		  cpus, on, cached);
	e2e_check(buddy_info(fd, &now) == 0 &&
		  now.free_bytes == info.pool_size - info.unit_size &&
		  (core + cached) * info.unit_size == now.free_bytes,
		  "caches on: INFO free_bytes %llu = buddyinfo's %llu units + %llu cached",
		  now.free_bytes, core, cached);
	e2e_check(now.largest_free == info.pool_size / 2,
		  "caches on: largest_free %llu is what an allocation gets (%llu)",
		  now.largest_free, info.pool_size / 2);
	if (info.max_order > 0 &&
	    e2e_check(buddy_alloc(fd, info.pool_size / 2, &half) == 0,
		      "caches on: ALLOC largest_free bytes"))
		buddy_free(fd, half.offset);
	buddy_free(fd, a.offset);
	e2e_set_percpu_cache(0);
	cpus = e2e_read_percpu(&cached, &on);
	e2e_check(cpus > 0 && on == 0 && cached == 0,
		  "percpu_cache=0: no unit cached (%llu), percpu says off (%d)",
		  cached, on);
	e2e_pool_whole(fd, "caches turned off");
restore:
	e2e_set_percpu_cache(was);
}

static void test_alloc_einval(void)
{
	__u64 p = info.pool_size;
	__u64 sizes[] = { 0, p + 1, p + info.unit_size, 2 * p, 1ULL << 63,
			  (1ULL << 63) + 1, UINT64_MAX };
	struct buddy_alloc a;
	char what[96];
	unsigned int i;
	bool each = true;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		memset(&a, 0, sizeof(a));
		a.size = sizes[i];
		snprintf(what, sizeof(what), "ALLOC size %llu", sizes[i]);
		e2e_expect_fail(fd, BUDDY_IOC_ALLOC, &a, EINVAL, what);
		e2e_check(a.size == sizes[i] && !a.flags && !a.pad,
			  "%s: input fields kept", what);
	}

	/* Bits 0..2 are TOPDOWN, RANGE, EXACT; each other alone is refused. */
	for (i = 3; i < 32; i++) {
		struct e2e_snap before, after;
		int ret;

		memset(&a, 0, sizeof(a));
		a.size = 1;
		a.flags = 1U << i;
		e2e_snap(fd, &before);
		ret = buddy_ioctl(fd, BUDDY_IOC_ALLOC, &a);
		e2e_snap(fd, &after);
		if (ret != -EINVAL || !e2e_snap_same(&before, &after, "flag")) {
			e2e_diag("ALLOC flags 0x%x: %s", a.flags, e2e_err(ret));
			each = false;
			if (!ret)
				buddy_free(fd, a.offset);
		}
	}
	e2e_check(each, "ALLOC with each single unknown flag bit 3..31: -EINVAL, changes nothing");
	memset(&a, 0, sizeof(a));
	a.size = 1;
	a.flags = ~0U;
	e2e_expect_fail(fd, BUDDY_IOC_ALLOC, &a, EINVAL, "ALLOC flags 0xffffffff");
	a.flags = 0;
	a.pad = 1;
	e2e_expect_fail(fd, BUDDY_IOC_ALLOC, &a, EINVAL, "ALLOC pad 1");
	a.pad = 0x80000000;
	e2e_expect_fail(fd, BUDDY_IOC_ALLOC, &a, EINVAL, "ALLOC pad 0x80000000");
	a.size = 0;
	a.pad = 0;
	a.flags = BUDDY_ALLOC_EXACT;
	e2e_expect_fail(fd, BUDDY_IOC_ALLOC, &a, EINVAL, "ALLOC size 0 and EXACT");
	e2e_pool_whole(fd, "after ALLOC -EINVAL cases");
}

static void test_alloc_enomem(void)
{
	__u64 p = info.pool_size, u = info.unit_size;
	struct e2e_stats st0, st1;
	struct buddy_alloc whole, small, half, a;
	struct buddy_info now;
	int ret;

	ret = buddy_alloc(fd, p, &whole);
	if (!e2e_check(ret == 0 && whole.offset == 0 && whole.block_size == p,
		       "ALLOC the whole pool: offset 0, block %llu (%s)",
		       whole.block_size, e2e_err(ret)))
		return;
	e2e_consistent(fd, "pool full");
	e2e_read_stats(&st0, NULL, 0);
	memset(&a, 0, sizeof(a));
	a.size = 1;
	e2e_expect_fail(fd, BUDDY_IOC_ALLOC, &a, ENOMEM, "full pool: ALLOC size 1");
	e2e_read_stats(&st1, NULL, 0);
	e2e_check(st1.alloc_failures >= st0.alloc_failures + 1,
		  "-ENOMEM counted in alloc_failures (%llu -> %llu)",
		  st0.alloc_failures, st1.alloc_failures);
	a.size = p;
	e2e_expect_fail(fd, BUDDY_IOC_ALLOC, &a, ENOMEM, "full pool: ALLOC size pool_size");
	a.size = 1;
	a.flags = 0x8;
	e2e_expect_fail(fd, BUDDY_IOC_ALLOC, &a, EINVAL,
			"full pool: ALLOC with unknown flag 0x8 is -EINVAL before -ENOMEM");
	a.flags = 0;
	a.size = 0;
	e2e_expect_fail(fd, BUDDY_IOC_ALLOC, &a, EINVAL,
			"full pool: ALLOC size 0 is -EINVAL before -ENOMEM");
	ret = buddy_free(fd, whole.offset);
	e2e_check(ret == 0, "FREE the whole pool: %s", e2e_err(ret));

	if (info.max_order < 2)
		return;
	/* One unit splits the pool: no block of the top order is left. */
	ret = buddy_alloc(fd, u, &small);
	e2e_check(ret == 0, "ALLOC one unit: %s", e2e_err(ret));
	buddy_info(fd, &now);
	e2e_check(now.largest_free == p / 2,
		  "one unit allocated: largest_free %llu (want %llu)",
		  now.largest_free, p / 2);
	memset(&a, 0, sizeof(a));
	a.size = p;
	e2e_expect_fail(fd, BUDDY_IOC_ALLOC, &a, ENOMEM,
			"fragmented: ALLOC pool_size with pool_size - unit free");
	a.size = p / 2 + 1;
	e2e_expect_fail(fd, BUDDY_IOC_ALLOC, &a, ENOMEM,
			"fragmented: ALLOC pool_size/2 + 1");
	ret = buddy_alloc(fd, p / 2, &half);
	e2e_check(ret == 0 && half.block_size == p / 2 &&
		  (half.offset ^ small.offset) >= p / 2,
		  "fragmented: ALLOC pool_size/2 takes the other half (%s, offset %llu)",
		  e2e_err(ret), half.offset);
	a.size = p / 2;
	e2e_expect_fail(fd, BUDDY_IOC_ALLOC, &a, ENOMEM,
			"fragmented: ALLOC pool_size/2 again");
	e2e_consistent(fd, "unit + half allocated");
	e2e_check(buddy_free(fd, half.offset) == 0 &&
		  buddy_free(fd, small.offset) == 0, "FREE both");
	e2e_pool_whole(fd, "after -ENOMEM cases");
}

static void expect_free_einval(__u64 offset, __u32 flags, __u32 pad,
			       const char *why)
{
	struct buddy_free f = { .offset = offset, .flags = flags, .pad = pad };
	char what[128];

	snprintf(what, sizeof(what), "FREE %s (offset %llu flags 0x%x pad 0x%x)",
		 why, offset, flags, pad);
	e2e_expect_fail(fd, BUDDY_IOC_FREE, &f, EINVAL, what);
}

/* A unit-aligned offset outside every block of @blocks. */
static __u64 unallocated(const struct buddy_alloc *blocks, unsigned int n,
			 __u64 align)
{
	__u64 off;
	unsigned int i;

	for (off = 0; off < info.pool_size; off += align) {
		for (i = 0; i < n; i++)
			if (off + align > blocks[i].offset &&
			    off < blocks[i].offset + blocks[i].block_size)
				break;
		if (i == n)
			return off;
	}
	return UINT64_MAX;
}

static void test_free_einval(void)
{
	__u64 u = info.unit_size, p = info.pool_size, off;
	struct buddy_alloc b[2], z;
	int ret;

	if (info.max_order < 2) {
		e2e_diag("max_order %u < 2: FREE interior cases skipped",
			 info.max_order);
		return;
	}
	/* b[0] spans two units, b[1] one. */
	if (!e2e_check(!buddy_alloc(fd, 2 * u, &b[0]) &&
		       !buddy_alloc(fd, u, &b[1]), "ALLOC two blocks for FREE cases"))
		return;

	expect_free_einval(b[0].offset + u, 0, 0, "interior, unit-aligned");
	expect_free_einval(b[0].offset + u / 2, 0, 0, "interior, half a unit in");
	expect_free_einval(b[0].offset + 1, 0, 0, "interior, misaligned");
	expect_free_einval(b[1].offset + 1, 0, 0, "misaligned");
	expect_free_einval(b[1].offset + u - 1, 0, 0, "last byte of a block");
	expect_free_einval(b[1].offset + 64, 0, 0, "64 bytes in");
	expect_free_einval(p, 0, 0, "out of range: pool_size");
	expect_free_einval(p + u, 0, 0, "out of range: pool_size + unit");
	expect_free_einval(2 * p, 0, 0, "out of range: 2 * pool_size");
	expect_free_einval(1ULL << 63, 0, 0, "out of range: 2^63");
	expect_free_einval(UINT64_MAX & ~(u - 1), 0, 0, "out of range: top unit of u64");
	expect_free_einval(UINT64_MAX, 0, 0, "out of range: UINT64_MAX");
	off = unallocated(b, 2, u);
	if (off != UINT64_MAX)
		expect_free_einval(off, 0, 0, "never allocated, unit-aligned");
	off = unallocated(b, 2, p / 4);
	if (off != UINT64_MAX)
		expect_free_einval(off, 0, 0, "never allocated, start of a free quarter");
	expect_free_einval(b[0].offset, 1, 0, "flags 1 on a live block");
	expect_free_einval(b[0].offset, 0x80000000, 0, "flags 0x80000000 on a live block");
	expect_free_einval(b[1].offset, 0, 1, "pad 1 on a live block");
	expect_free_einval(b[1].offset, 0, 0xffffffff, "pad ~0 on a live block");

	ret = buddy_alloc(fd, u, &z);
	e2e_check(!ret && !buddy_free(fd, z.offset), "ALLOC then FREE a unit");
	expect_free_einval(z.offset, 0, 0, "already freed");
	/* A live two-unit block's offset is also a unit's: frees two units. */
	e2e_check(!buddy_free(fd, b[0].offset) && !buddy_free(fd, b[1].offset),
		  "FREE both blocks after the refused calls");
	expect_free_einval(b[0].offset, 0, 0, "already freed (two-unit block)");
	e2e_pool_whole(fd, "after FREE -EINVAL cases");
}

static void test_efault(void)
{
	long page = sysconf(_SC_PAGESIZE);
	struct buddy_alloc *ga, a;
	struct buddy_info *gi;
	struct buddy_free *gf;
	void *ro;
	int ret;

	e2e_expect_fail(fd, BUDDY_IOC_INFO, NULL, EFAULT, "INFO NULL");
	e2e_expect_fail(fd, BUDDY_IOC_INFO, (void *)-4096L, EFAULT, "INFO kernel-range pointer");
	e2e_expect_fail(fd, BUDDY_IOC_ALLOC, NULL, EFAULT, "ALLOC NULL");
	e2e_expect_fail(fd, BUDDY_IOC_ALLOC, (void *)1, EFAULT, "ALLOC pointer 1");
	e2e_expect_fail(fd, BUDDY_IOC_FREE, NULL, EFAULT, "FREE NULL");
	e2e_expect_fail(fd, BUDDY_IOC_FREE, (void *)-4096L, EFAULT, "FREE kernel-range pointer");

	/* Structs that run into a PROT_NONE page. */
	gi = (void *)((char *)e2e_guarded(sizeof(*gi) - 8));
	e2e_expect_fail(fd, BUDDY_IOC_INFO, gi, EFAULT, "INFO struct crossing into PROT_NONE");
	e2e_unguard(gi, sizeof(*gi) - 8);
	ga = (void *)((char *)e2e_guarded(16));
	ga->size = 1;
	ga->flags = 0;
	ga->pad = 0;
	e2e_expect_fail(fd, BUDDY_IOC_ALLOC, ga, EFAULT, "ALLOC struct crossing into PROT_NONE");
	e2e_unguard(ga, 16);

	/* Read-only memory: INFO and ALLOC write back, so they must fail. */
	ro = mmap(NULL, page, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED)
		return;
	memset(&a, 0, sizeof(a));
	a.size = info.unit_size;
	memcpy(ro, &a, sizeof(a));
	mprotect(ro, page, PROT_READ);
	e2e_expect_fail(fd, BUDDY_IOC_INFO, ro, EFAULT, "INFO into read-only memory");
	e2e_expect_fail(fd, BUDDY_IOC_ALLOC, ro, EFAULT,
			"ALLOC into read-only memory (allocation undone)");
	e2e_pool_whole(fd, "after ALLOC copy-out fault");

	/* FREE only reads its struct: read-only memory works. */
	ret = buddy_alloc(fd, info.unit_size, &a);
	if (e2e_check(!ret, "ALLOC for FREE fault cases: %s", e2e_err(ret))) {
		struct buddy_free f = { .offset = a.offset };

		gf = (void *)((char *)e2e_guarded(8));
		memcpy(gf, &f, 8);
		e2e_expect_fail(fd, BUDDY_IOC_FREE, gf, EFAULT,
				"FREE struct crossing into PROT_NONE (block stays)");
		e2e_unguard(gf, 8);
		mprotect(ro, page, PROT_READ | PROT_WRITE);
		memcpy(ro, &f, sizeof(f));
		mprotect(ro, page, PROT_READ);
		ret = buddy_ioctl(fd, BUDDY_IOC_FREE, ro);
		e2e_check(ret == 0, "FREE from read-only memory: %s", e2e_err(ret));
	}
	munmap(ro, page);
	e2e_pool_whole(fd, "after -EFAULT cases");
}

static void test_enotty(void)
{
	struct buddy_alloc a = { .size = 1 };
	const struct {
		unsigned long cmd;
		void *arg;
		const char *what;
	} cases[] = {
		{ _IO(BUDDY_IOC_MAGIC, 0x40), &a, "_IO(magic, 0x40)" },
		{ _IOWR(BUDDY_IOC_MAGIC, 0x7f, struct buddy_alloc), &a, "_IOWR(magic, 0x7f, alloc)" },
		{ _IOW(BUDDY_IOC_MAGIC, 0x80, struct buddy_free), &a, "_IOW(magic, 0x80, free)" },
		{ _IOWR(BUDDY_IOC_MAGIC, 0xff, struct buddy_alloc), &a, "_IOWR(magic, 0xff, alloc)" },
		{ _IOR(BUDDY_IOC_MAGIC - 1, 0, struct buddy_info), &a, "INFO with magic 0xB8" },
		{ _IOWR(BUDDY_IOC_MAGIC + 1, 1, struct buddy_alloc), &a, "ALLOC with magic 0xBA" },
		{ _IOW('b', 2, struct buddy_free), &a, "FREE with magic 'b'" },
		{ TCGETS, &a, "TCGETS" },
		{ _IOR(BUDDY_IOC_MAGIC - 1, 0, struct buddy_info), NULL,
		  "unknown command with a NULL pointer" },
		{ _IOWR(BUDDY_IOC_MAGIC, 0xfe, struct buddy_alloc), NULL,
		  "unknown nr with a NULL pointer" },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char what[96];

		snprintf(what, sizeof(what), "ioctl %s (0x%lx)", cases[i].what,
			 cases[i].cmd);
		e2e_expect_fail(fd, cases[i].cmd, cases[i].arg, ENOTTY, what);
	}
}

/*
 * Callers built against another version of the header: a shorter struct is
 * zero-filled on input and only its size is copied out; a longer one works
 * when its tail is zero.
 */
static void test_struct_sizes(void)
{
	static const unsigned int info_short[] = { 8, 16, 24, 32, 36 };
	__u64 u = info.unit_size;
	unsigned char buf[128], *g;
	struct buddy_info now;
	struct buddy_alloc a;
	unsigned int i, n;
	bool tail;
	int ret, fd2;

	buddy_info(fd, &info);
	for (i = 0; i < ARRAY_SIZE(info_short); i++) {
		n = info_short[i];
		memset(buf, 0x5a, sizeof(buf));
		ret = buddy_ioctl(fd, CMD(_IOC_READ, 0, n), buf);
		tail = true;
		for (unsigned int j = n; j < sizeof(buf); j++)
			tail &= buf[j] == 0x5a;
		e2e_check(ret == 0 && !memcmp(buf, &info, n) && tail,
			  "INFO with a %u-byte struct: %s, first %u bytes filled, nothing past them",
			  n, e2e_err(ret), n);
	}
	g = e2e_guarded(8);
	ret = buddy_ioctl(fd, CMD(_IOC_READ, 0, 8), g);
	e2e_check(ret == 0 && !memcmp(g, &info.pool_size, 8),
		  "INFO with an 8-byte struct just before PROT_NONE: %s", e2e_err(ret));
	e2e_unguard(g, 8);
	for (n = sizeof(info) + 8; n <= sizeof(info) + 64; n += 56) {
		memset(buf, 0, sizeof(buf));
		ret = buddy_ioctl(fd, CMD(_IOC_READ, 0, n), buf);
		tail = true;
		for (unsigned int j = sizeof(info); j < sizeof(buf); j++)
			tail &= buf[j] == 0;
		e2e_check(ret == 0 && !memcmp(buf, &info, sizeof(info)) && tail,
			  "INFO with a %u-byte struct (zero tail): %s, known fields filled, tail zero",
			  n, e2e_err(ret));
	}

	/* ALLOC without block_size: offset comes back, nothing past it. */
	memset(buf, 0x5a, sizeof(buf));
	memset(&a, 0, sizeof(a));
	a.size = u;
	memcpy(buf, &a, 16);
	ret = buddy_ioctl(fd, CMD(RW, 1, 24), buf);
	memcpy(&a, buf, 24);
	tail = true;
	for (i = 24; i < sizeof(buf); i++)
		tail &= buf[i] == 0x5a;
	if (e2e_check(ret == 0 && a.offset % u == 0 && a.offset < info.pool_size && tail,
		      "ALLOC with a 24-byte struct (no block_size): %s, offset %llu, nothing past 24 bytes",
		      e2e_err(ret), a.offset))
		e2e_check(buddy_free(fd, a.offset) == 0,
			  "FREE the block the 24-byte ALLOC gave");

	/* Inputs only (16 and 8 bytes, at a page's end): freed by close. */
	for (n = 16; n >= 8; n -= 8) {
		fd2 = buddy_open();
		g = e2e_guarded(n);
		memset(&a, 0, sizeof(a));
		a.size = u;
		memcpy(g, &a, n);
		ret = buddy_ioctl(fd2, CMD(RW, 1, n), g);
		buddy_info(fd, &now);
		e2e_check(ret == 0 && now.free_bytes == info.pool_size - u &&
			  !memcmp(g, &a, n),
			  "ALLOC with a %u-byte struct before PROT_NONE: %s, one unit taken, struct intact",
			  n, e2e_err(ret));
		e2e_unguard(g, n);
		close(fd2);
		e2e_pool_whole(fd, "closing the file of the short ALLOC");
	}
	e2e_expect_fail(fd, CMD(RW, 1, 0), &a, EINVAL,
			"ALLOC with a 0-byte struct (size zero-filled)");

	/* FREE with only the offset, at a page's end. */
	if (!buddy_alloc(fd, u, &a)) {
		g = e2e_guarded(8);
		memcpy(g, &a.offset, 8);
		ret = buddy_ioctl(fd, CMD(_IOC_WRITE, 2, 8), g);
		e2e_check(ret == 0, "FREE with an 8-byte struct before PROT_NONE: %s",
			  e2e_err(ret));
		e2e_unguard(g, 8);
		if (ret)
			buddy_free(fd, a.offset);
		e2e_pool_whole(fd, "after short FREE");
	}

	/* Longer structs with a zero tail. */
	for (n = sizeof(a) + 8; n <= sizeof(a) + 64; n += 56) {
		memset(buf, 0, sizeof(buf));
		memset(&a, 0, sizeof(a));
		a.size = u + 1;
		memcpy(buf, &a, sizeof(a));
		ret = buddy_ioctl(fd, CMD(RW, 1, n), buf);
		memcpy(&a, buf, sizeof(a));
		tail = true;
		for (i = sizeof(a); i < sizeof(buf); i++)
			tail &= buf[i] == 0;
		if (!e2e_check(ret == 0 && a.block_size == 2 * u &&
			       a.offset % (2 * u) == 0 && tail,
			       "ALLOC with a %u-byte struct (zero tail): %s, block %llu at %llu",
			       n, e2e_err(ret), a.block_size, a.offset))
			continue;
		memset(buf, 0, sizeof(buf));
		memcpy(buf, &a.offset, 8);
		ret = buddy_ioctl(fd, CMD(_IOC_WRITE, 2, sizeof(struct buddy_free) + n - sizeof(a)), buf);
		e2e_check(ret == 0, "FREE with a %zu-byte struct (zero tail): %s",
			  sizeof(struct buddy_free) + n - sizeof(a), e2e_err(ret));
	}

	/* A non-zero byte past the struct asks for what this kernel lacks. */
	memset(buf, 0, sizeof(buf));
	memset(&a, 0, sizeof(a));
	a.size = u;
	memcpy(buf, &a, sizeof(a));
	buf[sizeof(a) + 3] = 1;
	e2e_expect_fail(fd, CMD(RW, 1, sizeof(a) + 8), buf, EINVAL,
			"ALLOC with a non-zero tail byte");
	e2e_pool_whole(fd, "after struct size cases");
}

int main(int argc, char **argv)
{
	e2e_init(argc, argv);
	test_device();
	fd = buddy_open();
	test_fault_fresh();
	test_info();
	test_alloc_sizes();
	test_split_shape();
	test_cached_blocks();
	test_alloc_einval();
	test_alloc_enomem();
	test_free_einval();
	test_efault();
	test_enotty();
	test_struct_sizes();
	e2e_consistent(fd, "final");
	e2e_pool_whole(fd, "final");
	close(fd);
	return e2e_done();
}
