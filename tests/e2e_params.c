// SPDX-License-Identifier: GPL-2.0
/*
 * e2e_params: module parameters, loading and unloading.
 *
 * Runs inside UML with buddy_alloc.ko loaded by uml-run.sh; it unloads it,
 * loads it again with finit_module(2) and each parameter set below, and
 * reloads $BUDDY_PARAMS at the end so the final rmmod works.
 *
 * Invalid parameters must fail the load with the right error and exactly one
 * "buddy: ..." error line in the kernel log (or the kernel's own
 * "buddy_alloc: ..."), and leave nothing behind (no module, no /dev/buddy,
 * no debugfs directory, no pages).  Valid ones must show in INFO.  rmmod
 * must give every pool page back to the page allocator (nr_free_pages in
 * /proc/vmstat plus the per-CPU lists), and must be refused while a file is
 * open.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"

/* Pages the page allocator's counters may move by on their own. */
/*
 * nr_free_pages moves by a few pages on its own on UML (one CPU); on an SMP
 * kernel the per-CPU page lists, and under KASAN its quarantine, move it by
 * hundreds, so qemu-run.sh and uml-run.sh (on the sanitizer kernel) set
 * BUDDY_E2E_PAGE_SLACK higher (still below the default pool's 1024 pages).
 */
static long slack_pages(void)
{
	const char *s = getenv("BUDDY_E2E_PAGE_SLACK");

	return s ? atol(s) : 8;
}

#define SLACK_PAGES	slack_pages()

static const char *ko;
static long page_size;
static unsigned int max_page_order = 10;
static int kmsg = -1;

static int load(const char *params)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret;
}

static int unload(void)
{
	return syscall(SYS_delete_module, "buddy_alloc", O_NONBLOCK) ? -errno : 0;
}

static bool loaded(void)
{
	char buf[16384];

	if (e2e_read_file("/proc/modules", buf, sizeof(buf)) < 0)
		return false;
	return !strncmp(buf, "buddy_alloc ", 12) || strstr(buf, "\nbuddy_alloc ");
}

static bool nothing_left(void)
{
	return !loaded() && access(BUDDY_DEV, F_OK) && access(BUDDY_DEBUGFS, F_OK);
}

/*
 * Free pages: nr_free_pages, plus the pages on the per-CPU lists (zoneinfo
 * "count:"), which it leaves out: a large vfree() may park thousands there,
 * and the next allocation takes them back from there.
 */
static long nr_free_pages(void)
{
	static char buf[65536];
	char *p;
	long n, pcp = 0;
	int fd;

	/* Fold per-CPU counter deltas first, where the kernel has them. */
	fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		/* Not every kernel has it (UML is not SMP): ignore. */
		ssize_t w = write(fd, "1", 1);

		(void)w;
		close(fd);
	}
	if (e2e_read_file("/proc/vmstat", buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "nr_free_pages ");
	if (!p)
		return -1;
	n = strtol(p + 14, NULL, 10);
	if (e2e_read_file("/proc/zoneinfo", buf, sizeof(buf)) < 0)
		return n;
	for (p = buf; (p = strstr(p, "count:")); p += 6)
		pcp += strtol(p + 6, NULL, 10);
	return n + pcp;
}

/*
 * nr_free_pages() once it holds still: what an unload frees after an RCU
 * grace period comes back within a few tens of milliseconds.
 */
static long free_pages_settled(void)
{
	long prev = nr_free_pages(), cur = prev;
	int i;

	for (i = 0; i < 10; i++) {
		usleep(20000);
		cur = nr_free_pages();
		if (labs(cur - prev) <= 2)
			break;
		prev = cur;
	}
	return cur;
}

/* Start collecting kernel log records from now on. */
static void kmsg_mark(void)
{
	if (kmsg < 0)
		kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
}

/*
 * Records since kmsg_mark(): count error-level (or worse) lines that start
 * with "buddy: " (the module's) or "buddy_alloc: " (the kernel's about the
 * module, such as a value its parameter parser rejects), keep the first in
 * @msg, and count warnings and oopses.
 */
static void kmsg_scan(unsigned int *errs, char *msg, size_t len,
		      unsigned int *splats)
{
	char rec[8192];
	ssize_t n;

	*errs = 0;
	*splats = 0;
	msg[0] = '\0';
	if (kmsg < 0)
		return;
	while ((n = read(kmsg, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		char *semi, *text, *nl;
		unsigned int prio;

		if (n < 0)
			continue;
		rec[n] = '\0';
		semi = strchr(rec, ';');
		if (!semi || sscanf(rec, "%u,", &prio) != 1)
			continue;
		text = semi + 1;
		nl = strchr(text, '\n');
		if (nl)
			*nl = '\0';
		if (strstr(text, "WARNING:") || strstr(text, "BUG:") ||
		    strstr(text, "Oops") || strstr(text, "Call Trace") ||
		    strstr(text, "page allocation failure"))
			(*splats)++;
		if ((prio & 7) <= 3 &&
		    (!strncmp(text, "buddy: ", 7) || !strncmp(text, "buddy_alloc: ", 13))) {
			if (!(*errs)++)
				snprintf(msg, len, "%s", text);
		}
	}
}

static void find_max_page_order(void)
{
	char buf[4096], *line, *save, *tok;
	unsigned int n;

	if (e2e_read_file("/proc/buddyinfo", buf, sizeof(buf)) < 0)
		return;
	line = strtok_r(buf, "\n", &save);
	if (!line || !(line = strstr(line, "zone")))
		return;
	/* "zone   Normal  a b c ...": one count per order */
	strtok_r(line, " \t", &save);
	strtok_r(NULL, " \t", &save);
	for (n = 0; (tok = strtok_r(NULL, " \t", &save)); n++)
		;
	if (n)
		max_page_order = n - 1;
}

static void test_modinfo(void)
{
	char cmd[4200], line[512];
	bool pool = false, unit = false, core = false;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "modinfo -F parm '%s' 2>&1", ko);
	f = popen(cmd, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* "name:description (type)" */
		char *d = strchr(line, ':');
		size_t dl;

		if (!d)
			continue;
		dl = strcspn(d + 1, "(");
		while (dl && isspace((unsigned char)d[1 + dl - 1]))
			dl--;
		if (!strncmp(line, "pool_size:", 10) && dl >= 8)
			pool = true;
		if (!strncmp(line, "unit_size:", 10) && dl >= 8)
			unit = true;
		if (!strncmp(line, "core:", 5) && strstr(line, "bitmap") &&
		    strstr(line, "tree"))
			core = true;
		e2e_diag("modinfo parm %s", strtok(line, "\n"));
	}
	pclose(f);
	e2e_check(pool && unit, "modinfo describes pool_size and unit_size");
	e2e_check(core, "modinfo describes core, naming bitmap and tree");
}

static long refcnt(void)
{
	char buf[64];

	if (e2e_read_file("/sys/module/buddy_alloc/refcnt", buf, sizeof(buf)) < 0)
		return -1;
	return strtol(buf, NULL, 10);
}

/* While a file is open the module is pinned: rmmod is refused. */
static void test_busy(void)
{
	struct buddy_alloc a;
	int fd, ret;

	fd = buddy_open();
	ret = buddy_alloc(fd, 1, &a);
	e2e_check(ret == 0, "ALLOC before rmmod: %s", e2e_err(ret));
	e2e_check(refcnt() >= 1, "module refcnt %ld with /dev/buddy open", refcnt());
	ret = unload();
	e2e_check(ret == -EWOULDBLOCK || ret == -EBUSY,
		  "delete_module(O_NONBLOCK) with /dev/buddy open: -EWOULDBLOCK or -EBUSY (got %s)",
		  e2e_err(ret));
	ret = system("rmmod buddy_alloc 2>/dev/null");
	e2e_check(ret != 0, "rmmod with /dev/buddy open fails (status %d)", ret);
	e2e_check(loaded(), "module still loaded");
	ret = buddy_free(fd, a.offset);
	e2e_check(ret == 0, "the file still works after the refused rmmod: FREE %s",
		  e2e_err(ret));
	close(fd);
	e2e_check(refcnt() == 0, "module refcnt 0 after close (got %ld)", refcnt());
}

/* Unload; the pool's pages must go back to the page allocator. */
static void unload_and_count(const char *what, __u64 pool_size)
{
	long pool_pages = (pool_size + page_size - 1) / page_size;
	long before, after;
	unsigned int errs, splats;
	char msg[256];
	int ret;

	kmsg_mark();
	before = free_pages_settled();
	ret = unload();
	after = free_pages_settled();
	kmsg_scan(&errs, msg, sizeof(msg), &splats);
	e2e_check(ret == 0, "%s: rmmod: %s", what, e2e_err(ret));
	e2e_check(after - before >= pool_pages - SLACK_PAGES,
		  "%s: rmmod returns the pool: nr_free_pages +%ld (pool %ld pages)",
		  what, after - before, pool_pages);
	e2e_check(nothing_left(), "%s: rmmod leaves no module, %s or %s", what,
		  BUDDY_DEV, BUDDY_DEBUGFS);
	e2e_check(!splats && !errs, "%s: rmmod logs no error or warning%s%s", what,
		  errs ? ": " : "", msg);
}

struct bad_params {
	const char *params;
	int err, alt_err;
	const char *says;	/* the error line must contain it (NULL: any) */
};

static void test_invalid(const struct bad_params *b)
{
	unsigned int errs, splats;
	long before, after;
	char msg[256];
	int ret;

	if (loaded())
		unload();	/* a previous case failed: keep this one apart */
	before = free_pages_settled();
	kmsg_mark();
	ret = load(b->params);
	kmsg_scan(&errs, msg, sizeof(msg), &splats);
	if (!ret)
		unload();
	after = free_pages_settled();
	/* A leak repeats: a drop that does not is the page allocator's own. */
	if (before - after > SLACK_PAGES) {
		e2e_diag("insmod buddy_alloc.ko %s: nr_free_pages %ld -> %ld; once more",
			 b->params, before, after);
		before = free_pages_settled();
		if (!load(b->params))
			unload();
		after = free_pages_settled();
	}
	e2e_check(ret == -b->err || (b->alt_err && ret == -b->alt_err),
		  "insmod buddy_alloc.ko %s: %s%s%s (got %s)", b->params,
		  e2e_err(-b->err), b->alt_err ? " or " : "",
		  b->alt_err ? e2e_err(-b->alt_err) : "", e2e_err(ret));
	e2e_check(errs == 1, "insmod buddy_alloc.ko %s: one error line (%u): %s",
		  b->params, errs, msg);
	if (b->says)
		e2e_check(strstr(msg, b->says) != NULL,
			  "insmod buddy_alloc.ko %s: the error line names %s", b->params,
			  b->says);
	e2e_check(!splats, "insmod buddy_alloc.ko %s: no warning or allocation failure splat in the log",
		  b->params);
	e2e_check(nothing_left(), "insmod buddy_alloc.ko %s: leaves no module, %s or %s",
		  b->params, BUDDY_DEV, BUDDY_DEBUGFS);
	e2e_check(before - after <= SLACK_PAGES,
		  "insmod buddy_alloc.ko %s: no pages leaked (nr_free_pages %ld -> %ld)",
		  b->params, before, after);
}

struct good_params {
	const char *params;
	__u64 pool_size, unit_size;	/* 0: the default */
};

static void test_valid(const struct good_params *g)
{
	__u64 pool = g->pool_size ?: (__u64)page_size << max_page_order;
	__u64 unit = g->unit_size ?: (__u64)page_size;
	char what[128];
	unsigned int errs, splats;
	struct buddy_info info;
	struct buddy_alloc a;
	char msg[256];
	int fd, ret;

	snprintf(what, sizeof(what), "insmod buddy_alloc.ko %s", g->params[0] ? g->params : "(defaults)");
	if (loaded())
		unload();	/* a previous case failed: keep this one apart */
	kmsg_mark();
	ret = load(g->params);
	kmsg_scan(&errs, msg, sizeof(msg), &splats);
	if (!e2e_check(ret == 0, "%s: %s", what, e2e_err(ret))) {
		e2e_diag("%s: kernel says: %s", what, msg);
		return;
	}
	e2e_check(!errs && !splats, "%s: no error or warning in the log%s%s", what,
		  errs ? ": " : "", msg);
	fd = buddy_open();
	ret = buddy_info(fd, &info);
	e2e_check(!ret && info.pool_size == pool && info.unit_size == unit &&
		  info.unit_size << info.max_order == info.pool_size,
		  "%s: INFO pool_size %llu (want %llu), unit_size %llu (want %llu), max_order %u",
		  what, info.pool_size, pool, info.unit_size, unit, info.max_order);
	e2e_pool_whole(fd, what);
	ret = buddy_alloc(fd, 1, &a);
	e2e_check(!ret && a.block_size == unit && a.offset % unit == 0,
		  "%s: ALLOC 1 byte gives one unit: %s", what, e2e_err(ret));
	e2e_consistent(fd, what);
	close(fd);
	unload_and_count(what, pool);
}

/* max_bytes_per_file given at load: in sysfs, and enforced. */
static void test_quota_param(void)
{
	const char *what = "insmod buddy_alloc.ko max_bytes_per_file=8192";
	struct buddy_alloc a;
	char buf[64];
	int fd, ret;

	if (loaded())
		unload();
	ret = load("max_bytes_per_file=8192");
	if (!e2e_check(ret == 0, "%s: %s", what, e2e_err(ret)))
		return;
	ret = e2e_read_file(E2E_PARAM("max_bytes_per_file"), buf,
			    sizeof(buf));
	e2e_check(ret > 0 && strtoull(buf, NULL, 10) == 8192,
		  "%s: the parameter reads 8192 (got %s)", what,
		  ret > 0 ? strtok(buf, "\n") : e2e_err(ret));
	fd = buddy_open();
	ret = buddy_alloc(fd, 8192, &a);
	e2e_check(ret == 0, "%s: ALLOC 8192 bytes: %s", what, e2e_err(ret));
	ret = buddy_alloc(fd, 1, &a);
	e2e_check(ret == -EDQUOT, "%s: one byte more: -EDQUOT (got %s)", what,
		  e2e_err(ret));
	close(fd);
	unload_and_count(what, (__u64)page_size << max_page_order);
}

/* Load and unload many times: the page allocator ends where it began. */
static void test_cycles(const char *params)
{
	long before = 0, after = 0;
	int i, round, bad = 0;

	if (load(params) || unload())
		bad++;
	/* A leak repeats: a drop that does not is the page allocator's own. */
	for (round = 0; round < 2; round++) {
		before = free_pages_settled();
		for (i = 0; i < 4; i++) {
			int fd;
			struct buddy_alloc a;

			if (load(params)) {
				bad++;
				continue;
			}
			fd = open(BUDDY_DEV, O_RDWR);
			if (fd < 0 || buddy_alloc(fd, 1, &a))
				bad++;
			if (fd >= 0)
				close(fd);
			if (unload())
				bad++;
		}
		after = free_pages_settled();
		if (before - after <= SLACK_PAGES)
			break;
		e2e_diag("4 cycles with %s: nr_free_pages %ld -> %ld; once more",
			 params, before, after);
	}
	e2e_check(!bad, "4 load/open/alloc/close/unload cycles with %s", params);
	e2e_check(before - after <= SLACK_PAGES,
		  "4 cycles with %s leak no pages (nr_free_pages %ld -> %ld)",
		  params, before, after);
}

int main(int argc, char **argv)
{
	static const struct bad_params bad[] = {
		{ "pool_size=3000000", EINVAL, 0, NULL },
		{ "pool_size=6291456", EINVAL, 0, NULL },
		{ "pool_size=0", EINVAL, 0, NULL },
		{ "unit_size=32", EINVAL, 0, NULL },
		{ "unit_size=0", EINVAL, 0, NULL },
		{ "unit_size=1000", EINVAL, 0, NULL },
		{ "unit_size=3072", EINVAL, 0, NULL },
		{ "pool_size=65536 unit_size=131072", EINVAL, 0, NULL },
		{ "pool_size=8388608", EINVAL, ENOMEM, NULL },
		{ "pool_size=1073741824", EINVAL, ENOMEM, NULL },
		{ "pool_size=9223372036854775808 unit_size=64", EINVAL, ENOMEM, NULL },
		{ "max_bytes_per_file=lots", EINVAL, 0, "max_bytes_per_file" },
		{ "core=heap", EINVAL, 0, "core=heap" },
		{ "core=", EINVAL, 0, "core=" },
		{ "core=Tree", EINVAL, 0, "core=Tree" },
		/*
		 * UML has no memmap=: no range is reserved at boot, so every
		 * phys_base is refused, after the metadata was allocated
		 * (512 KiB for 1 GiB of 4 KiB units: a leak would show).
		 */
		{ "phys_base=0x10000000", EINVAL, 0, "phys_base=" },
		{ "phys_base=0x10001000 pool_size=1048576", EINVAL, 0, "phys_base=" },
		{ "phys_base=0x10000000 pool_size=2048 unit_size=64", EINVAL, 0, "phys_base=" },
		{ "phys_base=0x40000000 pool_size=1073741824", EINVAL, 0, "phys_base=" },
		{ "phys_base=0x40000000 pool_size=268435456 unit_size=64", EINVAL, 0, "phys_base=" },
	};
	static const struct good_params good[] = {
		{ "", 0, 0 },
		{ "pool_size=1048576", 1048576, 0 },
		{ "unit_size=1024", 0, 1024 },
		{ "unit_size=64 pool_size=65536", 65536, 64 },
		{ "unit_size=64", 0, 64 },
		{ "pool_size=4096 unit_size=4096", 4096, 4096 },
		{ "pool_size=128 unit_size=64", 128, 64 },
		{ "core=tree", 0, 0 },
		{ "core=bitmap unit_size=64 pool_size=65536", 65536, 64 },
		{ "core=tree pool_size=128 unit_size=64", 128, 64 },
	};
	const char *params = getenv("BUDDY_PARAMS") ?: "";
	char big_unit[64], max_pool[80];
	struct bad_params too_big_unit = { big_unit, EINVAL, 0, NULL };
	struct good_params max_unit = { max_pool, 0, 0 };
	__u64 max_block;
	struct buddy_info info;
	unsigned int i;
	int fd, ret;

	e2e_init(argc, argv);
	ko = getenv("BUDDY_KO");
	page_size = sysconf(_SC_PAGESIZE);
	find_max_page_order();
	if (!ko || !e2e_check(loaded(), "buddy_alloc.ko loaded at start (%s)", ko ?: "BUDDY_KO unset"))
		return e2e_done();
	e2e_diag("page size %ld, MAX_PAGE_ORDER %u", page_size, max_page_order);

	test_modinfo();
	test_busy();
	fd = buddy_open();
	ret = buddy_info(fd, &info);
	close(fd);
	unload_and_count("loaded by uml-run", ret ? 0 : info.pool_size);

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		test_invalid(&bad[i]);
	snprintf(big_unit, sizeof(big_unit), "unit_size=%llu",
		 ((__u64)page_size << max_page_order) * 2);
	test_invalid(&too_big_unit);
	ret = system("insmod \"$BUDDY_KO\" unit_size=32 2>/dev/null");
	e2e_check(ret != 0 && !loaded(), "insmod(8) with unit_size=32 exits non-zero (status %d)",
		  ret);
	if (loaded())
		unload();

	for (i = 0; i < ARRAY_SIZE(good); i++)
		test_valid(&good[i]);
	/* One unit as large as the pool: max_order 0. */
	max_block = (__u64)page_size << max_page_order;
	snprintf(max_pool, sizeof(max_pool), "pool_size=%llu unit_size=%llu",
		 max_block, max_block);
	max_unit.pool_size = max_block;
	max_unit.unit_size = max_block;
	test_valid(&max_unit);
	test_quota_param();
	test_cycles("unit_size=64");
	test_cycles("pool_size=1048576");

	/* Leave the module as uml-run.sh loaded it. */
	if (loaded())
		unload();
	ret = load(params);
	e2e_check(ret == 0 && loaded(), "reload with BUDDY_PARAMS '%s': %s", params,
		  e2e_err(ret));
	return e2e_done();
}
