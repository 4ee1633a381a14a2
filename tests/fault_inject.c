// SPDX-License-Identifier: GPL-2.0
/*
 * fault_inject: fail every allocation of buddy_alloc.ko's load, open, ioctls and
 * mmap, one at a time, with /proc/thread-self/fail-nth.
 *
 * Needs the sanitizer kernel (scripts/configs/uml-debug.config: FAILSLAB,
 * FAIL_PAGE_ALLOC, FAULT_INJECTION_DEBUG_FS).  failslab and fail_page_alloc
 * are set so that sleeping (GFP_KERNEL), highmem and order-0 allocations can
 * fail too; their probability stays 0 but for twofold mode below, so only
 * fail-nth injects.  Writing N to fail-nth makes the Nth fault-injectable
 * call of this thread fail; reading 0 back afterwards means it was injected.
 * For each call, N = 1, 2, ... until the call runs with no fault:
 *
 *   load   finit_module(buddy_alloc.ko) when the module is not loaded at start
 *          (uml-run.sh --no-insmod): an injected load fails with an error
 *          and leaves no module, /dev/buddy or debugfs directory; a failure
 *          in buddy_init() logs a "buddy:" error line.  Some sites absorb a
 *          failure (kmemleak's own objects, uevents, debugfs files, which
 *          buddy_init() does not check, as the debugfs API asks): such a
 *          load succeeds, works, and is unloaded.  The load sequence shifts
 *          by a few allocations from one attempt to the next, so the N
 *          around buddy_init() are tried again until each allocation it
 *          checks (metadata kvmalloc, pool alloc_pages, misc_register) has
 *          failed once; later rounds are twofold, which a kvmalloc() above
 *          a page needs (its kmalloc try is quiet, then vmalloc).
 *   debugfs blocks (open and read: the cursor and seq_file's buffer),
 *   open, ALLOC (empty and busy table; EXACT, whose tail is freed at once;
 *          RANGE|TOPDOWN), FREE, INFO, BATCH (one op: plain, and
 *          EXACT|RANGE; four ops), mmap (address chosen by the kernel, and a fresh region, so
 *          that remap_pfn_range() allocates page tables), close, EXPORT,
 *          vgem's import of a DMA-BUF (our ->attach, ->map_dma_buf) and the
 *          DMA-BUF's mmap (a fresh region): an injected
 *          call fails with -ENOMEM and changes nothing (INFO, debugfs,
 *          consistency, mappings, descriptors), or succeeds in full where a
 *          kernel-internal site absorbed the fault (never one of
 *          buddy_alloc.ko's); a BATCH stops at the failing op, the ops before it
 *          took effect and nothing else.  Then the call runs with no fault.
 *
 * Twofold: each sweep again with the next slab allocation failing too
 * (failslab probability 100 and times 2, limited to this thread by
 * task-filter and make-it-fail), which reaches error paths behind a
 * fallback: xa_insert() first tries GFP_NOWAIT, then GFP_KERNEL.
 *
 * With verbose=2 each injection logs a stack trace; the program reads it
 * from /dev/kmsg and lists every site reached: the call, N, the result and
 * the frames between the fault and the system call.  UML has no frame
 * pointers, so a trace is a stack scan with some stale frames.  Faults
 * without a trace are __GFP_NOWARN allocations (kmemleak's objects,
 * GFP_NOWAIT tries, vmalloc's pages, the pool's alloc_pages); those the
 * kernel absorbed are only counted.  A WARNING, BUG or sanitizer report in
 * the log fails the call's check.  At the end it checks that buddy_alloc.ko's own
 * allocations on the file paths were each reached and failed cleanly.
 *
 *   fault_inject [--max-n N] [--trace] [--skip-load]
 *
 * Ends with "N passed, N failed".  If it loaded the module it unloads it
 * and checks that nothing is left, so that uml-run.sh's kmemleak scan after
 * the run covers every object the sweeps allocated.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

#define FI_DEBUGFS	"/sys/kernel/debug"
#define MAX_SITES	2048
#define MAX_FRAMES	48

static unsigned int max_n = 2000;
static bool show_trace;
static int nth_fd = -1, kmsg_fd = -1, times_fd = -1;
static bool twofold;
static long page_size;
static struct buddy_info info;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------------- */
/* fail-nth */

static void write_knob(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = -1;

	if (fd >= 0) {
		n = write(fd, val, strlen(val));
		close(fd);
	}
	if (!e2e_check(n == (ssize_t)strlen(val), "set %s = %s", path, val))
		exit(e2e_done());
}

static bool nth_fired(void);

static void fi_setup(void)
{
	char path[64];

	write_knob(FI_DEBUGFS "/failslab/ignore-gfp-wait", "N");
	write_knob(FI_DEBUGFS "/failslab/verbose", "2");
	write_knob(FI_DEBUGFS "/fail_page_alloc/ignore-gfp-wait", "N");
	write_knob(FI_DEBUGFS "/fail_page_alloc/ignore-gfp-highmem", "N");
	write_knob(FI_DEBUGFS "/fail_page_alloc/min-order", "0");
	write_knob(FI_DEBUGFS "/fail_page_alloc/verbose", "2");
	/* For twofold mode: only this thread, only while times > 0. */
	write_knob(FI_DEBUGFS "/failslab/times", "0");
	write_knob(FI_DEBUGFS "/failslab/task-filter", "Y");
	write_knob(FI_DEBUGFS "/failslab/probability", "100");
	write_knob("/proc/thread-self/make-it-fail", "1");
	times_fd = open(FI_DEBUGFS "/failslab/times", O_RDWR | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/thread-self/fail-nth");
	nth_fd = open(path, O_RDWR | O_CLOEXEC);
	if (!e2e_check(nth_fd >= 0 && times_fd >= 0, "open %s and failslab/times: %s",
		       path, nth_fd < 0 || times_fd < 0 ? strerror(errno) : "ok"))
		exit(e2e_done());
	/* The first access of a debugfs file allocates: do it now. */
	twofold = true;
	nth_fired();
	twofold = false;
}

/*
 * The Nth injectable call from now on fails.  In twofold mode the next slab
 * allocation fails too (failslab probability 100, task-filter on, this
 * thread's make-it-fail set, times 2: the fail-nth fault takes one when it
 * is a slab allocation), which reaches error paths behind a fallback, such
 * as xa_insert() after its GFP_NOWAIT node allocation failed.  No syscall
 * may come between arming and the call.
 */
static inline void nth_arm(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	if (twofold && write(times_fd, "2", 1) != 1)
		abort();
	if (pwrite(nth_fd, buf, len, 0) != len)
		abort();
}

/* Whether the armed fault was injected; disarms. */
static bool nth_fired(void)
{
	char buf[16] = "";
	bool fired;

	if (twofold) {
		/* A non-seekable simple attribute: write() only. */
		if (write(times_fd, "0", 1) != 1)
			abort();
	}
	if (pread(nth_fd, buf, sizeof(buf) - 1, 0) <= 0)
		abort();
	fired = strtoul(buf, NULL, 10) == 0;
	if (pwrite(nth_fd, "0", 1, 0) != 1)
		abort();
	return fired;
}

/* ---------------------------------------------------------------------- */
/* the kernel log */

struct kreport {
	unsigned int injections;	/* FAULT_INJECTION lines */
	char attr[24];			/* failslab, fail_page_alloc */
	unsigned int nframes;
	char frames[MAX_FRAMES][64];
	unsigned int buddy_lines;
	char buddy_msg[160];
	unsigned int splats;
	char splat[160];
	unsigned int alloc_failure_warnings;	/* warn_alloc() */
};

static void kmsg_drain(void)
{
	char rec[8192];
	ssize_t n;

	if (kmsg_fd < 0)
		kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd < 0)
		return;
	lseek(kmsg_fd, 0, SEEK_END);
	while ((n = read(kmsg_fd, rec, sizeof(rec))) > 0 ||
	       (n < 0 && errno == EPIPE))
		;
}

/* As scripts/uml-run.sh; kmemleak only where it reports leaks. */
static const char *const splat_words[] = {
	"WARNING:", "BUG:", "Oops", "KASAN", "UBSAN", "suspected memory leak",
	"INFO: possible", "circular locking", "general protection",
	"Kernel panic", "list_add corruption", "list_del corruption",
};

/* " [<0000000060123456>] name+0x1a/0x40 [mod]" -> "name [mod]" */
static bool parse_frame(const char *text, char *out, size_t len)
{
	const char *p = strstr(text, "[<"), *q, *mod;
	size_t n;

	if (p)
		p = strstr(p, ">]");
	if (!p)
		return false;
	p += 2;
	p += strspn(p, " ");
	if (!strncmp(p, "? ", 2))
		p += 2;
	n = strcspn(p, "+ ");
	mod = strchr(p, '[');
	q = mod ? mod : "";
	snprintf(out, len, "%.*s%s%.*s", (int)n, p, *q ? " " : "",
		 (int)strcspn(q, " "), q);
	return n > 0;
}

/* Everything logged since the last call; trace of the first injection. */
static void kmsg_collect(struct kreport *r)
{
	char rec[8192];
	bool in_trace = false;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	if (kmsg_fd < 0)
		return;
	while ((n = read(kmsg_fd, rec, sizeof(rec) - 1)) > 0 ||
	       (n < 0 && errno == EPIPE)) {
		char *text, *nl;
		unsigned int i, prio;

		if (n < 0)
			continue;
		rec[n] = '\0';
		text = strchr(rec, ';');
		if (!text || sscanf(rec, "%u,", &prio) != 1)
			continue;
		text++;
		nl = strchr(text, '\n');
		if (nl)
			*nl = '\0';
		if (strstr(text, "FAULT_INJECTION: forcing a failure")) {
			char *name = strstr(text, "name ");

			if (!r->injections++ && name)
				snprintf(r->attr, sizeof(r->attr), "%.*s",
					 (int)strcspn(name + 5, ","), name + 5);
			in_trace = false;
			continue;
		}
		if (strstr(text, "Call Trace:")) {
			in_trace = r->injections == 1 && !r->nframes;
			continue;
		}
		if (in_trace && strstr(text, "[<")) {
			if (r->nframes < MAX_FRAMES &&
			    parse_frame(text, r->frames[r->nframes], sizeof(r->frames[0])))
				r->nframes++;
			continue;
		}
		in_trace = false;
		if (strstr(text, "page allocation failure") ||
		    strstr(text, "vmalloc error"))
			r->alloc_failure_warnings++;
		/* buddy_alloc.ko's errors; its load message is info. */
		if (!strncmp(text, "buddy: ", 7) && (prio & 7) <= 3) {
			if (!r->buddy_lines++)
				snprintf(r->buddy_msg, sizeof(r->buddy_msg), "%s", text);
		}
		for (i = 0; i < ARRAY_SIZE(splat_words); i++) {
			if (strstr(text, splat_words[i])) {
				if (!r->splats++)
					snprintf(r->splat, sizeof(r->splat), "%s", text);
				break;
			}
		}
	}
}

static bool frame_is(const char *f, const char *const *names)
{
	for (; *names; names++)
		if (!strncmp(f, *names, strlen(*names)))
			return true;
	return false;
}

/* The fault injection itself: the site's frames come after the last one. */
static const char *const fi_frames[] = {
	"should_fail", "__should_fail", NULL,
};

/*
 * UML has no frame pointers: its traces are stack scans, with stale return
 * addresses and helpers among the callers.  Leave out what is never a site.
 */
static const char *const noise_frames[] = {
	"_printk", "printk", "vprintk", "dump_", "show_stack", "trace_",
	"um_", "__kasan", "kasan_", "__asan", "lock_", "__lock", "lockdep_",
	"_raw_", "do_raw_", "down_", "up_", "__up_", "__down", "mutex_",
	"__mutex", "__might", "might_", "__init_waitqueue", "__init_swait",
	"rcu_", "__rcu", "debug_", "preempt", "kmemleak", "mark_lock",
	"match_held_lock", "check_", "validate_chain", "hlock", "irq",
	"arch_local", "local_", "current_thread_info", "get_fp_registers",
	"set_signals", "block_signals", "unblock_signals", "memset", "memcpy",
	"memmove", "strlen", "fs_reclaim", "schedule", "fdget", "fget",
	"fput", "capable", "syscall_trace", "do_signal", "raw_copy",
	"copy_chunk", "do_op_one_page", "__kmsan", "__ubsan", "xas_load",
	"xa_load", NULL,
};

/* Where a trace stops: the system call or the module's initcall. */
static const char *const end_frames[] = {
	"sys_", "__do_sys_", "__se_sys_", "ksys_", "handle_syscall",
	"do_one_initcall", "userspace", NULL,
};

/*
 * "__kmalloc_cache_noprof < buddy_ioc_alloc [buddy_alloc] < buddy_ioctl [buddy_alloc] <
 * sys_ioctl": the frames between the fault and the system call (or the
 * initcall), without helpers, each name once.
 */
static unsigned int site_chain(const struct kreport *r, char *out, size_t len,
			       char names[][64], unsigned int max)
{
	unsigned int i, j, start = 0, n = 0;
	size_t used = 0;

	out[0] = '\0';
	for (i = 0; i < r->nframes; i++)
		if (frame_is(r->frames[i], fi_frames))
			start = i + 1;
	for (i = start; i < r->nframes && n < max; i++) {
		const char *f = r->frames[i];

		if (frame_is(f, noise_frames))
			continue;
		for (j = 0; j < n && strcmp(names[j], f); j++)
			;
		if (j < n)
			continue;
		snprintf(names[n++], 64, "%s", f);
		used += snprintf(out + used, used < len ? len - used : 0, "%s%s",
				 n > 1 ? " < " : "", f);
		if (frame_is(f, end_frames))
			break;
	}
	return n;
}

static void site_name(const struct kreport *r, char *out, size_t len)
{
	char names[12][64];

	if (!r->injections)
		snprintf(out, len, "(no trace: a __GFP_NOWARN allocation)");
	else if (!site_chain(r, out, len, names, 12))
		snprintf(out, len, "(%s, no frames)", r->attr);
}

/* A buddy_alloc.ko function among the site's callers. */
static bool in_buddy(const struct kreport *r)
{
	char chain[1024], names[12][64];
	unsigned int i, n = site_chain(r, chain, sizeof(chain), names, 12);

	for (i = 0; i < n; i++)
		if (strstr(names[i], "[buddy_alloc]"))
			return true;
	return false;
}

/* ---------------------------------------------------------------------- */
/* sites reached */

struct site {
	char call[40];
	unsigned int n;
	bool fired;
	int ret;
	char where[320];
	char attr[24];
	char note[192];
};

static struct site sites[MAX_SITES];
static unsigned int nsites;

static struct site *site_add(const char *call, unsigned int n, bool fired,
			     int ret, const struct kreport *r)
{
	struct site *s = &sites[nsites < MAX_SITES ? nsites++ : MAX_SITES - 1];
	unsigned int i;

	memset(s, 0, sizeof(*s));
	snprintf(s->call, sizeof(s->call), "%s", call);
	s->n = n;
	s->fired = fired;
	s->ret = ret;
	if (fired) {
		site_name(r, s->where, sizeof(s->where));
		snprintf(s->attr, sizeof(s->attr), "%s",
			 r->injections ? r->attr : "-");
	}
	if (show_trace && r->nframes) {
		e2e_diag("%s N=%u trace (%s):", call, n, r->attr);
		for (i = 0; i < r->nframes; i++)
			e2e_diag("    %s", r->frames[i]);
	}
	return s;
}

static bool no_splat(const struct kreport *r, const char *what, unsigned int n)
{
	return e2e_check(!r->splats, "%s N=%u: no warning or sanitizer report in the log%s%s",
			 what, n, r->splats ? ": " : "", r->splat);
}

/* ---------------------------------------------------------------------- */
/* state */

static bool loaded(void)
{
	char buf[16384];

	if (e2e_read_file("/proc/modules", buf, sizeof(buf)) < 0)
		return false;
	return !strncmp(buf, "buddy_alloc ", 12) || strstr(buf, "\nbuddy_alloc ");
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Lines of /proc/self/maps that map /dev/buddy. */
static int count_buddy_maps(void)
{
	static char buf[1 << 16];
	const char *p;
	int n = 0;

	if (e2e_read_file("/proc/self/maps", buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; (p = strstr(p, BUDDY_DEV)); p++)
		n++;
	return n;
}

/* INFO, debugfs and the snapshot, leaving out the counters. */
static bool same_state(const struct e2e_snap *a, const struct e2e_snap *b)
{
	return !a->info_ret && !b->info_ret &&
	       !memcmp(&a->info, &b->info, sizeof(a->info)) &&
	       a->buddyinfo_ret == b->buddyinfo_ret &&
	       !strcmp(a->buddyinfo, b->buddyinfo) &&
	       a->unusable_ret == b->unusable_ret &&
	       !strcmp(a->unusable, b->unusable) &&
	       a->stats_ret == b->stats_ret &&
	       a->free_bytes == b->free_bytes && a->used_bytes == b->used_bytes &&
	       a->largest_free == b->largest_free &&
	       a->live_blocks == b->live_blocks;
}

static int xalloc(int fd, __u64 size, struct buddy_alloc *a)
{
	int ret = buddy_alloc(fd, size, a);

	if (ret)
		e2e_check(false, "setup: ALLOC %llu: %s", (unsigned long long)size,
			  e2e_err(ret));
	return ret;
}

/* ---------------------------------------------------------------------- */
/* load */

static const char *ko, *params;

static bool nothing_left(void)
{
	return !loaded() && access(BUDDY_DEV, F_OK) && access(BUDDY_DEBUGFS, F_OK) &&
	       access("/sys/module/buddy_alloc", F_OK);
}

static int unload(void)
{
	return syscall(SYS_delete_module, "buddy_alloc", O_NONBLOCK) ? -errno : 0;
}

/* A load that succeeded though a fault was injected: what does it have? */
static void check_tolerated_load(unsigned int n, struct site *s)
{
	bool dev = !access(BUDDY_DEV, F_OK);
	const char *files[] = { "stats", "buddyinfo", "unusable_index" };
	char missing[96] = "";
	unsigned int i;
	int fd, ret;

	if (access(BUDDY_DEBUGFS, F_OK)) {
		snprintf(missing, sizeof(missing), " debugfs dir");
	} else {
		for (i = 0; i < ARRAY_SIZE(files); i++) {
			char path[128];

			snprintf(path, sizeof(path), BUDDY_DEBUGFS "/%s", files[i]);
			if (access(path, F_OK)) {
				strncat(missing, " debugfs ", sizeof(missing) - strlen(missing) - 1);
				strncat(missing, files[i], sizeof(missing) - strlen(missing) - 1);
			}
		}
	}
	if (!dev)
		strncat(missing, " /dev/buddy node", sizeof(missing) - strlen(missing) - 1);
	snprintf(s->note, sizeof(s->note), "load succeeded; missing:%s",
		 missing[0] ? missing : " nothing");
	if (dev) {
		struct buddy_info i2;

		fd = open(BUDDY_DEV, O_RDWR | O_CLOEXEC);
		ret = fd < 0 ? -errno : buddy_info(fd, &i2);
		e2e_check(!ret && i2.pool_size && i2.free_bytes == i2.pool_size,
			  "load N=%u (tolerated injection): INFO works, pool whole (%s)",
			  n, e2e_err(ret));
		if (fd >= 0)
			close(fd);
	}
	ret = unload();
	e2e_check(!ret && nothing_left(),
		  "load N=%u (tolerated injection): unloads, nothing left (%s)", n,
		  e2e_err(ret));
}

/* buddy_init()'s own failure messages, one per allocation it checks. */
static const struct {
	const char *msg, *site;
} init_sites[] = {
	{ "buddy: no memory for", "kvmalloc of the allocator metadata" },
	{ "buddy: cannot reserve", "alloc_pages of the pool" },
	{ "buddy: cannot register", "misc_register of /dev/buddy" },
};
static bool init_seen[ARRAY_SIZE(init_sites)];
static unsigned int init_lo = ~0U, init_hi;

enum load_result { LOAD_CLEAN, LOAD_FAILED, LOAD_TOLERATED, LOAD_BROKEN };

/* One finit_module() with fault N armed (0: none). */
static enum load_result load_attempt(int kofd, unsigned int n)
{
	struct kreport r;
	struct site *s;
	unsigned int i;
	bool fired;
	int ret;

	kmsg_drain();
	if (n)
		nth_arm(n);
	ret = syscall(SYS_finit_module, kofd, params, 0) ? -errno : 0;
	fired = n ? nth_fired() : false;
	kmsg_collect(&r);
	s = site_add(twofold ? "load +next" : "load", n, fired, ret, &r);
	no_splat(&r, "load", n);
	if (!fired) {
		e2e_check(ret == 0, "load N=%u: no fault injected, the load succeeds (%s)",
			  n, e2e_err(ret));
		return ret ? LOAD_BROKEN : LOAD_CLEAN;
	}
	if (r.buddy_lines || (!ret && in_buddy(&r))) {
		init_lo = n < init_lo ? n : init_lo;
		init_hi = n > init_hi ? n : init_hi;
	}
	if (!ret) {
		/*
		 * A site whose failure the kernel absorbs: kmemleak's own
		 * objects, uevents, debugfs (buddy_init() does not check
		 * debugfs, as the debugfs API asks).
		 */
		check_tolerated_load(n, s);
		if (in_buddy(&r))
			e2e_diag("load N=%u: buddy_init() went on past a failed allocation: %s (%s)",
				 n, s->where, s->note);
		return LOAD_TOLERATED;
	}
	e2e_check(nothing_left(),
		  "load N=%u: fails (%s) and leaves no module, /dev/buddy, debugfs dir",
		  n, e2e_err(ret));
	if (in_buddy(&r) || r.buddy_lines) {
		e2e_check(r.buddy_lines > 0,
			  "load N=%u: failure in buddy_init() logs a buddy: line (%s)",
			  n, r.buddy_lines ? r.buddy_msg : "none");
		snprintf(s->note, sizeof(s->note), "%s", r.buddy_msg);
		for (i = 0; i < ARRAY_SIZE(init_sites); i++)
			if (strstr(r.buddy_msg, init_sites[i].msg))
				init_seen[i] = true;
	} else {
		snprintf(s->note, sizeof(s->note), "module loader");
	}
	if (loaded())
		unload();
	return LOAD_FAILED;
}

static bool init_all_seen(bool reserved)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(init_sites); i++)
		if (!init_seen[i] && !(reserved && i == 1))
			return false;
	return true;
}

/*
 * N = 1, 2, ... until a load runs without a fault.  The loader's sequence
 * of allocations shifts by a few from one attempt to the next (kmemleak,
 * the stack depot and vmalloc allocate now and then), so a site can be
 * stepped over: the N around buddy_init() are tried again until each of
 * its checked allocations has failed once.
 */
static void sweep_load(void)
{
	bool reserved = strstr(params, "phys_base") != NULL;
	enum load_result res = LOAD_BROKEN;
	unsigned int n, round, i;
	int kofd = open(ko, O_RDONLY | O_CLOEXEC);

	if (!e2e_check(kofd >= 0, "open %s: %s", ko, kofd < 0 ? strerror(errno) : "ok"))
		exit(e2e_done());
	e2e_diag("load sweep: finit_module(%s, \"%s\")", ko, params);
	for (n = 1; n <= max_n; n++) {
		res = load_attempt(kofd, n);
		if (res == LOAD_CLEAN || res == LOAD_BROKEN)
			break;
	}
	e2e_diag("load sweep: %u faults injected, the load with N=%u ran without one",
		 n - 1, n);
	for (round = 0; res == LOAD_CLEAN && !init_all_seen(reserved) &&
	     init_lo <= init_hi && round < 5; round++) {
		unsigned int lo = init_lo > 8 ? init_lo - 8 : 1, hi = init_hi + 4;

		/*
		 * A kvmalloc() above a page tries kmalloc (quietly) and falls
		 * back to vmalloc: only two faults make it fail, so later
		 * rounds are twofold.
		 */
		twofold = round >= 2;
		e2e_diag("load sweep: again over N=%u..%u for buddy_init()'s sites (round %u%s)",
			 lo, hi, round + 1, twofold ? ", twofold" : "");
		if (unload())
			break;
		for (n = lo; n <= hi && !init_all_seen(reserved); n++) {
			res = load_attempt(kofd, n);
			if (res == LOAD_CLEAN)
				break;
		}
		twofold = false;
		if (res != LOAD_CLEAN)
			res = load_attempt(kofd, 0);
	}
	twofold = false;
	close(kofd);
	for (i = 0; i < ARRAY_SIZE(init_sites); i++) {
		if (reserved && i == 1)
			continue;
		e2e_check(init_seen[i], "load: buddy_init()'s %s failed once, with a message",
			  init_sites[i].site);
	}
	if (!e2e_check(loaded(), "buddy_alloc.ko loaded after the load sweep"))
		exit(e2e_done());
}

/* ---------------------------------------------------------------------- */
/* ioctls and mmap */

/*
 * The common part of one injected call that returned @ret: a failure must
 * be -ENOMEM and change nothing; a success is allowed only from a site
 * outside buddy_alloc.ko (the caller then checks and undoes it).
 */
static bool judge(const char *call, unsigned int n, bool fired, int ret,
		  const struct kreport *r, const struct e2e_snap *before,
		  int ctl, bool *done)
{
	struct e2e_snap after;

	*done = !fired;
	no_splat(r, call, n);
	if (!fired) {
		e2e_check(ret >= 0, "%s N=%u: no fault injected, succeeds (%s)",
			  call, n, e2e_err(ret));
		return ret >= 0;
	}
	if (ret >= 0) {
		e2e_check(!in_buddy(r),
			  "%s N=%u: succeeded though injected: the site is not buddy_alloc.ko's",
			  call, n);
		return true;
	}
	e2e_check(ret == -ENOMEM, "%s N=%u: injected, fails with -ENOMEM (got %s)",
		  call, n, e2e_err(ret));
	e2e_snap(ctl, &after);
	e2e_check(e2e_snap_same(before, &after, call),
		  "%s N=%u: the failed call changes nothing (INFO, debugfs)", call, n);
	return false;
}

static void sweep_info(int ctl, const char *call)
{
	struct e2e_snap before;
	struct buddy_info i2;
	struct kreport r;
	unsigned int n;
	bool done = false;

	for (n = 1; n <= max_n && !done; n++) {
		bool fired;
		int ret;

		e2e_snap(ctl, &before);
		kmsg_drain();
		memset(&i2, 0, sizeof(i2));
		nth_arm(n);
		ret = buddy_ioctl(ctl, BUDDY_IOC_INFO, &i2);
		fired = nth_fired();
		kmsg_collect(&r);
		site_add(call, n, fired, ret, &r);
		judge(call, n, fired, ret, &r, &before, ctl, &done);
	}
}

/*
 * Open and read debugfs blocks: an injected failure fails the open or the
 * read with -ENOMEM and changes nothing; else the listing reads whole.
 */
static void sweep_blocks(int ctl, const char *call)
{
	static const char header[] = "# offset size file tgid comm\n";
	struct e2e_snap before;
	struct kreport r;
	unsigned int n;
	bool done = false;

	for (n = 1; n <= max_n && !done; n++) {
		char buf[4096] = "";
		ssize_t got = 0;
		bool fired;
		int fd, ret;

		e2e_snap(ctl, &before);
		kmsg_drain();
		nth_arm(n);
		fd = open(BUDDY_DEBUGFS "/blocks", O_RDONLY | O_CLOEXEC);
		ret = fd < 0 ? -errno : 0;
		if (fd >= 0) {
			got = read(fd, buf, sizeof(buf) - 1);
			ret = got < 0 ? -errno : 0;
		}
		fired = nth_fired();
		kmsg_collect(&r);
		if (fd >= 0)
			close(fd);
		site_add(call, n, fired, ret, &r);
		if (judge(call, n, fired, ret, &r, &before, ctl, &done))
			e2e_check(got > (ssize_t)strlen(header) && !strncmp(buf, header, strlen(header)),
				  "%s N=%u: the listing reads (%zd bytes)", call, n, got);
	}
}

static void sweep_open(int ctl, const char *call)
{
	struct e2e_snap before;
	struct kreport r;
	unsigned int n;
	bool done = false;

	for (n = 1; n <= max_n && !done; n++) {
		int fds = count_fds(), fd, ret;
		struct buddy_alloc a;
		bool fired;

		e2e_snap(ctl, &before);
		kmsg_drain();
		nth_arm(n);
		fd = open(BUDDY_DEV, O_RDWR | O_CLOEXEC);
		ret = fd < 0 ? -errno : 0;
		fired = nth_fired();
		kmsg_collect(&r);
		site_add(call, n, fired, ret, &r);
		if (!judge(call, n, fired, ret, &r, &before, ctl, &done)) {
			e2e_check(count_fds() == fds, "%s N=%u: no descriptor left", call, n);
			continue;
		}
		/* An open file that works: allocate, free, close. */
		ret = buddy_alloc(fd, info.unit_size, &a);
		ret = ret ?: buddy_free(fd, a.offset);
		e2e_check(!ret, "%s N=%u: the file works (ALLOC, FREE: %s)", call, n,
			  e2e_err(ret));
		close(fd);
	}
}

/* The block_size an ALLOC of @size with @flags gives: EXACT keeps the extent. */
static __u64 kept_size(__u64 size, __u32 flags)
{
	if (flags & BUDDY_ALLOC_EXACT)
		return (size + info.unit_size - 1) & ~(info.unit_size - 1);
	return e2e_block_size(&info, size);
}

/*
 * Whether a block at @offset of @block_size is what the request asked for:
 * aligned to the whole power-of-two block, inside its range with RANGE,
 * and with placement flags at @want, where the same call without a fault
 * put it (the caches drained, the same state gives the same block).
 */
static bool placed_right(__u64 size, __u32 flags, __u64 range_start,
			 __u64 range_end, __u64 offset, __u64 block_size,
			 __u64 want)
{
	__u64 whole = e2e_block_size(&info, size);

	if (block_size != kept_size(size, flags) || offset % whole ||
	    offset + whole > info.pool_size)
		return false;
	if ((flags & BUDDY_ALLOC_RANGE) &&
	    (offset < range_start || offset + whole > range_end))
		return false;
	return !flags || offset == want;
}

/*
 * ALLOC through @fd of @req (size, flags, range).  On success the block is
 * freed again; the state after must be the state before.
 */
static void sweep_alloc(int ctl, int fd, const struct buddy_alloc *req,
			const char *call)
{
	struct e2e_snap before, after;
	struct buddy_alloc a = *req;
	struct kreport r;
	unsigned int n;
	bool done = false;
	__u64 want;
	int ret;

	/* Where the call puts it with no fault, for a placed request. */
	ret = buddy_ioctl(fd, BUDDY_IOC_ALLOC, &a);
	if (!e2e_check(!ret, "%s: setup: ALLOC %llu flags %#x (%s)", call,
		       (unsigned long long)req->size, req->flags, e2e_err(ret)))
		return;
	want = a.offset;
	buddy_free(fd, a.offset);
	for (n = 1; n <= max_n && !done; n++) {
		bool fired;

		e2e_snap(ctl, &before);
		kmsg_drain();
		a = *req;
		nth_arm(n);
		ret = buddy_ioctl(fd, BUDDY_IOC_ALLOC, &a);
		fired = nth_fired();
		kmsg_collect(&r);
		site_add(call, n, fired, ret, &r);
		if (!judge(call, n, fired, ret, &r, &before, ctl, &done))
			continue;
		e2e_snap(ctl, &after);
		e2e_check(placed_right(req->size, req->flags, req->range_start,
				       req->range_end, a.offset, a.block_size, want) &&
			  after.info.free_bytes == before.info.free_bytes - a.block_size &&
			  after.live_blocks == before.live_blocks + 1,
			  "%s N=%u: the block is there (offset %llu size %llu, free %llu -> %llu)",
			  call, n, a.offset, a.block_size, before.info.free_bytes,
			  after.info.free_bytes);
		e2e_consistent(ctl, call);
		ret = buddy_free(fd, a.offset);
		e2e_snap(ctl, &after);
		e2e_check(!ret && same_state(&before, &after),
			  "%s N=%u: FREE of it (%s) restores the state", call, n,
			  e2e_err(ret));
	}
}

static void sweep_free(int ctl, int fd, const char *call)
{
	struct e2e_snap before, after;
	struct kreport r;
	unsigned int n;
	bool done = false;

	for (n = 1; n <= max_n && !done; n++) {
		struct buddy_alloc a;
		struct buddy_free f = { 0 };
		bool fired;
		int ret;

		if (xalloc(fd, info.unit_size, &a))
			return;
		e2e_snap(ctl, &before);
		kmsg_drain();
		f.offset = a.offset;
		nth_arm(n);
		ret = buddy_ioctl(fd, BUDDY_IOC_FREE, &f);
		fired = nth_fired();
		kmsg_collect(&r);
		site_add(call, n, fired, ret, &r);
		if (!judge(call, n, fired, ret, &r, &before, ctl, &done)) {
			ret = buddy_free(fd, a.offset);
			e2e_check(!ret, "%s N=%u: then FREE works (%s)", call, n, e2e_err(ret));
			continue;
		}
		e2e_snap(ctl, &after);
		e2e_check(after.info.free_bytes == before.info.free_bytes + a.block_size &&
			  after.live_blocks == before.live_blocks - 1,
			  "%s N=%u: the block is free (free %llu -> %llu)", call, n,
			  before.info.free_bytes, after.info.free_bytes);
	}
}

static int run_batch(int fd, struct buddy_batch_op *ops, unsigned int count,
		     struct buddy_batch *b)
{
	memset(b, 0, sizeof(*b));
	b->ops = (__u64)(uintptr_t)ops;
	b->count = count;
	b->op_size = sizeof(*ops);
	return buddy_ioctl(fd, BUDDY_IOC_BATCH, b);
}

/* One ALLOC op @tmpl in a batch: the failed op changes nothing, done 0. */
static void sweep_batch1(int ctl, int fd, const struct buddy_batch_op *tmpl,
			 const char *call)
{
	struct e2e_snap before, after;
	struct buddy_batch_op op = *tmpl;
	struct buddy_batch b;
	struct kreport r;
	unsigned int n;
	bool done = false;
	__u64 want;
	int ret;

	/* Where the op puts it with no fault, for a placed one. */
	ret = run_batch(fd, &op, 1, &b);
	if (!e2e_check(!ret && b.done == 1, "%s: setup: BATCH[ALLOC %llu flags %#x] (%s, result %s)",
		       call, (unsigned long long)tmpl->size, tmpl->flags, e2e_err(ret),
		       e2e_err(op.result)))
		return;
	want = op.offset;
	buddy_free(fd, op.offset);
	for (n = 1; n <= max_n && !done; n++) {
		bool fired;

		e2e_snap(ctl, &before);
		kmsg_drain();
		op = *tmpl;
		/* Filling in the header is userspace: the count starts at the ioctl. */
		nth_arm(n);
		ret = run_batch(fd, &op, 1, &b);
		fired = nth_fired();
		kmsg_collect(&r);
		/* The ioctl succeeds; the op carries the error. */
		if (!ret && b.done == 0)
			ret = op.result;
		site_add(call, n, fired, ret, &r);
		if (!judge(call, n, fired, ret, &r, &before, ctl, &done)) {
			e2e_check(b.done == 0, "%s N=%u: done 0 (got %u)", call, n, b.done);
			continue;
		}
		e2e_check(b.done == 1 && op.result == 0 &&
			  placed_right(tmpl->size, tmpl->flags, tmpl->range_start,
				       tmpl->range_end, op.offset, op.block_size, want),
			  "%s N=%u: done 1, result 0, the block in place (%u, %s, offset %llu size %llu)",
			  call, n, b.done, e2e_err(op.result), op.offset, op.block_size);
		ret = buddy_free(fd, op.offset);
		e2e_snap(ctl, &after);
		e2e_check(!ret && same_state(&before, &after),
			  "%s N=%u: FREE of it (%s) restores the state", call, n,
			  e2e_err(ret));
	}
}

/*
 * [ALLOC u, ALLOC 2u, FREE p, ALLOC u]: a fault stops the batch at an ALLOC
 * with -ENOMEM; the ops before it took effect and nothing else; the rest of
 * the batch then runs whole.  Everything is undone for the next N.
 */
static void sweep_batch4(int ctl, int fd, const char *call)
{
	__u64 u = info.unit_size;
	struct e2e_snap start, after, end;
	struct kreport r;
	unsigned int n, j;
	bool done = false;

	for (n = 1; n <= max_n && !done; n++) {
		struct buddy_batch_op ops[4], rest[4];
		struct buddy_alloc p;
		struct buddy_batch b;
		struct e2e_stats st0, st1;
		__s64 delta = 0;
		unsigned int k, nallocs = 0, nfrees = 0;
		bool fired;
		int ret;

		if (xalloc(fd, u, &p))
			return;
		e2e_snap(ctl, &start);
		e2e_read_stats(&st0, NULL, 0);
		memset(ops, 0, sizeof(ops));
		ops[0].op = BUDDY_BATCH_ALLOC;
		ops[0].size = u;
		ops[1].op = BUDDY_BATCH_ALLOC;
		ops[1].size = 2 * u;
		ops[2].op = BUDDY_BATCH_FREE;
		ops[2].offset = p.offset;
		ops[3].op = BUDDY_BATCH_ALLOC;
		ops[3].size = u;
		kmsg_drain();
		nth_arm(n);
		ret = run_batch(fd, ops, 4, &b);
		fired = nth_fired();
		kmsg_collect(&r);
		k = b.done;
		site_add(call, n, fired, !ret && k < 4 ? ops[k].result : ret, &r);
		no_splat(&r, call, n);
		if (!e2e_check(ret == 0 && k <= 4, "%s N=%u: the ioctl returns 0 (%s, done %u)", call,
			       n, e2e_err(ret), k))
			return;
		if (!fired) {
			e2e_check(k == 4, "%s N=%u: no fault injected, all 4 done (done %u)", call,
				  n, k);
			done = true;
		} else if (k < 4) {
			e2e_check(ops[k].op == BUDDY_BATCH_ALLOC &&
				  ops[k].result == -ENOMEM,
				  "%s N=%u: stops at op %u, an ALLOC, with -ENOMEM (got %s)", call,
				  n, k, e2e_err(ops[k].result));
		} else {
			e2e_check(!in_buddy(&r),
				  "%s N=%u: all done though injected: the site is not buddy_alloc.ko's", call,
				  n);
		}
		/* What the done ops should have changed, and nothing more. */
		for (j = 0; j < k; j++) {
			if (ops[j].op == BUDDY_BATCH_ALLOC) {
				delta -= ops[j].block_size;
				nallocs++;
			} else {
				delta += u;
				nfrees++;
			}
		}
		e2e_snap(ctl, &after);
		e2e_read_stats(&st1, NULL, 0);
		e2e_check(after.info.free_bytes == start.info.free_bytes + delta &&
			  st1.live_blocks == st0.live_blocks + nallocs - nfrees &&
			  st1.allocs == st0.allocs + nallocs &&
			  st1.frees == st0.frees + nfrees,
			  "%s N=%u: exactly the %u done ops took effect (free %llu -> %llu, live %llu -> %llu)", call,
			  n, k, start.info.free_bytes, after.info.free_bytes,
			  st0.live_blocks, st1.live_blocks);
		e2e_consistent(ctl, call);
		if (k < 4) {
			/* The rest runs whole now. */
			struct buddy_batch b2;

			memcpy(rest, ops + k, (4 - k) * sizeof(ops[0]));
			for (j = 0; j < 4 - k; j++) {
				rest[j].result = 0;
				if (rest[j].op == BUDDY_BATCH_ALLOC) {
					rest[j].offset = 0;
					rest[j].block_size = 0;
				}
			}
			ret = run_batch(fd, rest, 4 - k, &b2);
			e2e_check(!ret && b2.done == 4 - k,
				  "%s N=%u: the remaining %u ops then run (%s, done %u)", call,
				  n, 4 - k, e2e_err(ret), b2.done);
			memcpy(ops + k, rest, (4 - k) * sizeof(ops[0]));
		}
		/* Undo: free the three allocations, take p's place again. */
		ret = 0;
		for (j = 0; j < 4; j++)
			if (ops[j].op == BUDDY_BATCH_ALLOC && !ops[j].result)
				ret = ret ?: buddy_free(fd, ops[j].offset);
		e2e_snap(ctl, &end);
		e2e_check(!ret && end.info.free_bytes == start.info.free_bytes + u,
			  "%s N=%u: undone (%s)", call, n, e2e_err(ret));
	}
}

/*
 * 1 GiB-aligned address space with no page tables yet: reserved, then given
 * back, so that a fixed mapping there makes remap_pfn_range() allocate them.
 */
static char *fresh_region(const char *call)
{
	size_t span = 1UL << 30;
	char *region = mmap(NULL, 2 * span, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (!e2e_check(region != MAP_FAILED, "%s: reserve address space", call))
		return NULL;
	munmap(region, 2 * span);
	return (char *)(((uintptr_t)region + span - 1) & ~(span - 1));
}

/*
 * mmap of a block @fd owns.  @fresh: at a fixed address in a region with no
 * page tables yet, so that remap_pfn_range() allocates them.
 */
static void sweep_mmap(int ctl, int fd, bool fresh, const char *call)
{
	__u64 size = 4 * (__u64)page_size;
	struct e2e_snap before, after;
	struct kreport r;
	char *region = NULL;
	unsigned int n;
	bool done = false;

	if (info.pool_size < size)
		size = info.pool_size;
	if (fresh && !(region = fresh_region(call)))
		return;
	for (n = 1; n <= max_n && !done; n++) {
		struct buddy_alloc a;
		int maps = count_buddy_maps(), ret;
		char *want = NULL, *p;
		bool fired;

		if (xalloc(fd, size, &a))
			return;
		if (fresh) /* a new 2 MiB-aligned slot each time */
			want = region + ((size_t)n << 21);
		e2e_snap(ctl, &before);
		kmsg_drain();
		nth_arm(n);
		p = mmap(want, a.block_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | (fresh ? MAP_FIXED_NOREPLACE : 0), fd,
			 a.offset);
		ret = p == MAP_FAILED ? -errno : 0;
		fired = nth_fired();
		kmsg_collect(&r);
		site_add(call, n, fired, ret, &r);
		if (!judge(call, n, fired, ret, &r, &before, ctl, &done)) {
			e2e_check(count_buddy_maps() == maps,
				  "%s N=%u: no mapping left", call, n);
			ret = buddy_free(fd, a.offset);
			e2e_check(!ret, "%s N=%u: the block is not held mapped: FREE works (%s)",
				  call, n, e2e_err(ret));
			continue;
		}
		if (fresh && p != want)
			e2e_check(false, "%s N=%u: mapped at %p, asked %p", call, n,
				  (void *)p, (void *)want);
		/* The mapping is the block: write it, see it, then release. */
		memset(p, 0x5a, a.block_size);
		e2e_check(p[0] == 0x5a && p[a.block_size - 1] == 0x5a &&
			  count_buddy_maps() == maps + 1,
			  "%s N=%u: the mapping works", call, n);
		ret = buddy_free(fd, a.offset);
		e2e_check(ret == -EBUSY, "%s N=%u: FREE while mapped: -EBUSY (%s)",
			  call, n, e2e_err(ret));
		munmap(p, a.block_size);
		ret = buddy_free(fd, a.offset);
		e2e_snap(ctl, &after);
		e2e_check(!ret, "%s N=%u: after munmap FREE works (%s)", call, n,
			  e2e_err(ret));
	}
}

/* One call of the DMA-BUF sweeps, with its arguments. */
struct dmabuf_call {
	int fd, dfd, drm;
	struct buddy_export export;
	__u32 handle;
	char *addr;
	size_t len;
	int (*run)(struct dmabuf_call *c);
};

/*
 * Run @c with fault @n armed and judge it: false when it failed (cleanly, as
 * judge() checked), true when it succeeded and the caller checks the rest.
 */
static bool dmabuf_inject(struct dmabuf_call *c, int ctl, unsigned int n,
			  const char *call, bool *done)
{
	struct e2e_snap before;
	struct kreport r;
	bool fired;
	int ret;

	e2e_snap(ctl, &before);
	kmsg_drain();
	nth_arm(n);
	ret = c->run(c);
	fired = nth_fired();
	kmsg_collect(&r);
	site_add(call, n, fired, ret, &r);
	return judge(call, n, fired, ret, &r, &before, ctl, done);
}

static int run_export(struct dmabuf_call *c)
{
	return buddy_ioctl(c->fd, BUDDY_IOC_EXPORT, &c->export);
}

static int run_import(struct dmabuf_call *c)
{
	return e2e_prime_import(c->drm, c->dfd, &c->handle);
}

static int run_map(struct dmabuf_call *c)
{
	char *p = mmap(c->addr, c->len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED_NOREPLACE, c->dfd, 0);

	return p == MAP_FAILED ? -errno : 0;
}

/*
 * EXPORT of a block @fd owns: a failure is -ENOMEM, leaves no descriptor and
 * the block still @fd's (FREE of it works); a success is a DMA-BUF whose
 * close gives the block back to the pool.
 */
static void sweep_export(int ctl, int fd, const char *call)
{
	__u64 size = 2 * (__u64)page_size;
	struct e2e_snap before, after;
	unsigned int n;
	bool done = false;

	for (n = 1; n <= max_n && !done; n++) {
		struct dmabuf_call c = { .fd = fd, .run = run_export };
		struct buddy_export *e = &c.export;
		struct buddy_alloc a;
		int fds, ret;

		if (xalloc(fd, size, &a))
			return;
		e->offset = a.offset;
		e->fd_flags = O_RDWR | O_CLOEXEC;
		fds = count_fds();
		e2e_snap(ctl, &before);
		if (!dmabuf_inject(&c, ctl, n, call, &done)) {
			e2e_check(count_fds() == fds, "%s N=%u: no descriptor left", call, n);
			ret = buddy_free(fd, a.offset);
			e2e_check(!ret, "%s N=%u: the block is still the file's: FREE works (%s)",
				  call, n, e2e_err(ret));
			continue;
		}
		e2e_snap(ctl, &after);
		e2e_check(count_fds() == fds + 1 && after.exported_blocks == before.exported_blocks + 1 &&
			  after.info.free_bytes == before.info.free_bytes,
			  "%s N=%u: a DMA-BUF (fd %u), the block exported (exported_blocks %llu -> %llu)",
			  call, n, e->fd, before.exported_blocks, after.exported_blocks);
		ret = buddy_free(fd, a.offset);
		e2e_check(ret == -EINVAL, "%s N=%u: FREE of the exported block: -EINVAL (%s)",
			  call, n, e2e_err(ret));
		close(e->fd);
		e2e_snap(ctl, &after);
		e2e_check(after.info.free_bytes == before.info.free_bytes + size &&
			  after.exported_blocks == before.exported_blocks &&
			  after.live_blocks == before.live_blocks - 1,
			  "%s N=%u: closing the DMA-BUF frees the block (free %llu -> %llu)", call,
			  n, before.info.free_bytes, after.info.free_bytes);
	}
}

/* A new block of @size bytes exported: its DMA-BUF, or -1. */
static int exported(int fd, __u64 size, const char *call)
{
	struct buddy_alloc a;
	int dfd, ret;

	if (xalloc(fd, size, &a))
		return -1;
	ret = buddy_export(fd, a.offset, O_RDWR | O_CLOEXEC, &dfd);
	return e2e_check(!ret, "%s: setup: EXPORT (%s)", call, e2e_err(ret)) ? dfd : -1;
}

/* The DMA-BUF's attachments, per bufinfo; -1 if not listed. */
static int attached(int dfd)
{
	struct e2e_bufinfo bi;
	struct stat st;

	if (fstat(dfd, &st) || e2e_bufinfo(st.st_ino, &bi) != 1)
		return -1;
	return bi.ndevices;
}

/*
 * vgem's import of an exported block (PRIME_FD_TO_HANDLE: our ->attach and
 * ->map_dma_buf): a failure is -ENOMEM and leaves no attachment, the
 * DMA-BUF intact; a success is undone by GEM_CLOSE.  Then the block goes
 * with the DMA-BUF's close.
 */
static void sweep_import(int ctl, int fd, int drm, const char *call)
{
	__u64 size = 2 * (__u64)page_size;
	struct dmabuf_call c = { .drm = drm, .run = run_import };
	struct e2e_snap before, after;
	unsigned int n;
	bool done = false;
	int dfd, ret;

	dfd = exported(fd, size, call);
	if (dfd < 0)
		return;
	c.dfd = dfd;
	for (n = 1; n <= max_n && !done; n++) {
		c.handle = 0;
		if (!dmabuf_inject(&c, ctl, n, call, &done)) {
			e2e_check(attached(dfd) == 0, "%s N=%u: no attachment left (%d)", call, n,
				  attached(dfd));
			continue;
		}
		e2e_check(attached(dfd) == 1, "%s N=%u: vgem attached (%d)", call, n,
			  attached(dfd));
		ret = e2e_gem_close(drm, c.handle);
		e2e_check(!ret && attached(dfd) == 0, "%s N=%u: GEM_CLOSE detaches (%s)", call,
			  n, e2e_err(ret));
	}
	e2e_snap(ctl, &before);
	close(dfd);
	e2e_snap(ctl, &after);
	e2e_check(after.info.free_bytes == before.info.free_bytes + size &&
		  after.exported_blocks == before.exported_blocks - 1,
		  "%s: then closing the DMA-BUF frees the block", call);
}

/* mmap of a DMA-BUF (remap_pfn_range() page tables in a fresh region). */
static void sweep_dmabuf_mmap(int ctl, int fd, const char *call)
{
	__u64 size = 4 * (__u64)page_size;
	struct dmabuf_call c = { .len = size, .run = run_map };
	unsigned int n;
	bool done = false;
	char *region = fresh_region(call);
	int dfd;

	dfd = region ? exported(fd, size, call) : -1;
	if (dfd < 0)
		return;
	c.dfd = dfd;
	for (n = 1; n <= max_n && !done; n++) {
		char *p = region + ((size_t)n << 21);

		/* A new 2 MiB-aligned slot each time. */
		c.addr = p;
		if (!dmabuf_inject(&c, ctl, n, call, &done))
			continue;
		memset(p, 0x5a, size);
		e2e_check(p[0] == 0x5a && p[size - 1] == 0x5a, "%s N=%u: the mapping works",
			  call, n);
		munmap(p, size);
	}
	close(dfd);
}

/* close() of a file that holds blocks: release cannot fail; it frees them. */
static void sweep_close(int ctl, const char *call)
{
	struct e2e_snap before, after;
	struct kreport r;
	unsigned int n;
	bool done = false;

	for (n = 1; n <= max_n && !done; n++) {
		struct buddy_alloc a, b;
		int fd = buddy_open(), ret;
		bool fired;

		e2e_snap(ctl, &before);
		if (xalloc(fd, info.unit_size, &a) || xalloc(fd, 2 * info.unit_size, &b))
			return;
		kmsg_drain();
		nth_arm(n);
		ret = close(fd) ? -errno : 0;
		fired = nth_fired();
		kmsg_collect(&r);
		site_add(call, n, fired, ret, &r);
		no_splat(&r, call, n);
		done = !fired;
		e2e_snap(ctl, &after);
		e2e_check(!ret && same_state(&before, &after),
			  "%s N=%u%s: succeeds and frees the file's blocks (%s)", call, n,
			  fired ? " (injected)" : "", e2e_err(ret));
	}
}

/* Every sweep once; in twofold mode those whose calls allocate. */
static void sweep_pass(int ctl, const char *tag)
{
	struct buddy_alloc held;
	char name[64];
	int fd, other, drm = e2e_vgem_open();
	__u64 u = info.unit_size;

	e2e_check(drm >= 0, "vgem for the import sweep (%s)", e2e_err(drm < 0 ? drm : 0));

#define CALL(x) (snprintf(name, sizeof(name), "%s%s", x, tag), name)
	if (!twofold)
		sweep_info(ctl, CALL("INFO"));
	sweep_blocks(ctl, CALL("debugfs blocks"));
	sweep_open(ctl, CALL("open"));
	fd = buddy_open();
	sweep_alloc(ctl, fd, &(struct buddy_alloc){ .size = u }, CALL("ALLOC (empty table)"));
	other = buddy_open();
	if (xalloc(other, u, &held))
		return;
	sweep_alloc(ctl, other, &(struct buddy_alloc){ .size = 3 * u },
		    CALL("ALLOC (table in use)"));
	if (info.pool_size >= 16 * u) {
		/* 5 units of a block of 8: the tail (2 + 1 units) is freed at once. */
		sweep_alloc(ctl, other, &(struct buddy_alloc){
				.size = 5 * u - 1, .flags = BUDDY_ALLOC_EXACT,
			    }, CALL("ALLOC EXACT"));
		sweep_alloc(ctl, other, &(struct buddy_alloc){
				.size = 2 * u,
				.flags = BUDDY_ALLOC_RANGE | BUDDY_ALLOC_TOPDOWN,
				.range_start = info.pool_size / 4,
				.range_end = info.pool_size / 2,
			    }, CALL("ALLOC RANGE|TOPDOWN"));
	}
	if (!twofold)
		sweep_free(ctl, fd, CALL("FREE"));
	sweep_batch1(ctl, fd, &(struct buddy_batch_op){
			.op = BUDDY_BATCH_ALLOC, .size = u,
		     }, CALL("BATCH[ALLOC]"));
	if (info.pool_size >= 16 * u)
		sweep_batch1(ctl, fd, &(struct buddy_batch_op){
				.op = BUDDY_BATCH_ALLOC, .size = 3 * u,
				.flags = BUDDY_ALLOC_EXACT | BUDDY_ALLOC_RANGE,
				.range_start = info.pool_size / 2,
				.range_end = info.pool_size,
			     }, CALL("BATCH[ALLOC EXACT|RANGE]"));
	sweep_batch4(ctl, fd, CALL("BATCH[4 ops]"));
	if ((__u64)page_size >= u && info.pool_size >= 8 * (__u64)page_size) {
		sweep_mmap(ctl, fd, false, CALL("mmap"));
		sweep_mmap(ctl, fd, true, CALL("mmap (fresh page tables)"));
	} else {
		e2e_diag("mmap sweeps skipped: unit_size %llu, pool %llu", u,
			 info.pool_size);
	}
	if (!twofold)
		sweep_close(ctl, CALL("close"));
	if ((__u64)page_size >= u && info.pool_size >= 16 * (__u64)page_size) {
		sweep_export(ctl, fd, CALL("EXPORT"));
		if (drm >= 0)
			sweep_import(ctl, fd, drm, CALL("import (vgem)"));
		sweep_dmabuf_mmap(ctl, fd, CALL("mmap (DMA-BUF)"));
	} else {
		e2e_diag("EXPORT sweeps skipped: unit_size %llu, pool %llu", u,
			 info.pool_size);
	}
#undef CALL
	close(fd);
	close(other);
	if (drm >= 0)
		close(drm);
}

static void sweep_ioctls(void)
{
	struct buddy_alloc held[3];
	struct e2e_stats st;
	double t0 = now();
	int ctl, ret;
	__u64 u;

	ctl = buddy_open();
	ret = buddy_info(ctl, &info);
	if (!e2e_check(!ret && info.pool_size >= 16 * info.unit_size,
		       "INFO: pool %llu of %llu-byte units (%s): at least 16 units",
		       info.pool_size, info.unit_size, e2e_err(ret)))
		return;
	u = info.unit_size;
	e2e_consistent(ctl, "before the sweeps");
	/* Blocks elsewhere, so that a new block is not at offset 0. */
	if (xalloc(ctl, u, &held[0]) || xalloc(ctl, 2 * u, &held[1]) ||
	    xalloc(ctl, u, &held[2]))
		return;

	sweep_pass(ctl, "");
	e2e_diag("ioctl and mmap sweeps: %.1f s", now() - t0);
	t0 = now();
	twofold = true;
	sweep_pass(ctl, " +next");
	twofold = false;
	e2e_diag("ioctl and mmap sweeps, twofold: %.1f s", now() - t0);

	e2e_consistent(ctl, "after the sweeps");
	close(ctl);
	ctl = buddy_open();
	ret = e2e_read_stats(&st, NULL, 0);
	e2e_check(!ret && st.live_blocks == 0,
		  "every file closed: live_blocks 0 (got %llu)", st.live_blocks);
	e2e_pool_whole(ctl, "every file closed");
	e2e_consistent(ctl, "every file closed");
	close(ctl);
}

/*
 * Every site, but the many tolerated faults without a trace (kmemleak's
 * own objects, vmalloc's pages): those are counted per call.
 */
static void report_sites(void)
{
	unsigned int i, quiet = 0;

	e2e_diag("sites reached (call, N, result, fault, where):");
	for (i = 0; i < nsites; i++) {
		const struct site *s = &sites[i];
		bool last = i + 1 == nsites || strcmp(sites[i + 1].call, s->call);

		if (s->fired && s->ret >= 0 && !strcmp(s->attr, "-") && !show_trace) {
			quiet++;
		} else if (!s->fired) {
			e2e_diag("  %-30s N=%-3u %-7s no fault: the call ran whole",
				 s->call, s->n, e2e_err(s->ret));
		} else {
			e2e_diag("  %-30s N=%-3u %-7s %-15s %s%s%s", s->call, s->n,
				 e2e_err(s->ret), s->attr, s->where,
				 s->note[0] ? " -- " : "", s->note);
		}
		if (last && quiet) {
			e2e_diag("  %-30s %u more faults without a trace (__GFP_NOWARN: kmemleak's objects, vmalloc pages, GFP_NOWAIT tries) that the kernel absorbed: the call succeeded",
				 s->call, quiet);
			quiet = 0;
		}
	}
}

/* buddy_alloc.ko's allocations on the file paths, each of which must have failed. */
static void check_coverage(void)
{
	static const struct {
		const char *call, *frame, *what;
	} want[] = {
		{ "open", "buddy_open [buddy_alloc]", "kzalloc of struct buddy_file in open" },
		{ "ALLOC", "buddy_ioc_alloc [buddy_alloc]", "kzalloc of struct buddy_block in ALLOC" },
		{ "ALLOC", "__xas_nomem", "xa_insert() node in ALLOC (twofold: its GFP_NOWAIT try, then the GFP_KERNEL one)" },
		{ "BATCH", "buddy_ioc_batch [buddy_alloc]", "kzalloc of struct buddy_block in a BATCH op" },
		{ "BATCH", "__xas_nomem", "xa_insert() node in a BATCH op (twofold)" },
		{ "mmap", "remap_pfn_range", "remap_pfn_range() page tables in mmap" },
		/* blocks_open() tail-calls it: no frame of buddy_alloc.ko's own. */
		{ "debugfs blocks", "__seq_open_private", "seq_open_private() of the blocks cursor" },
		{ "debugfs blocks", "seq_read_iter", "seq_file's buffer for a read of blocks" },
		{ "EXPORT", "buddy_dmabuf_export [buddy_alloc]", "kzalloc of struct buddy_dmabuf in EXPORT" },
		{ "EXPORT", "dma_buf_export", "dma_buf_export() in EXPORT" },
		{ "EXPORT", "buddy_file_take_block [buddy_alloc]", "kzalloc of struct buddy_exported in EXPORT" },
		{ "EXPORT", "__xas_nomem", "xa_insert() node of buddy.exported in EXPORT" },
		{ "import", "buddy_dmabuf_attach [buddy_alloc]", "kzalloc/sg_alloc_table in ->attach" },
		{ "mmap (DMA-BUF)", "remap_pfn_range", "remap_pfn_range() in the DMA-BUF's ->mmap" },
	};
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(want); i++) {
		const struct site *hit = NULL;

		for (j = 0; j < nsites && !hit; j++)
			if (sites[j].fired && sites[j].ret == -ENOMEM &&
			    !strncmp(sites[j].call, want[i].call, strlen(want[i].call)) &&
			    strstr(sites[j].where, want[i].frame))
				hit = &sites[j];
		if (hit)
			e2e_check(true, "reached and failed cleanly: %s (%s N=%u)",
				  want[i].what, hit->call, hit->n);
		else
			e2e_check(false, "reached and failed cleanly: %s", want[i].what);
	}
}

/* Fault in the stack this program will use, before mlockall(). */
static void __attribute__((noinline)) touch_stack(void)
{
	volatile char buf[256 << 10];
	size_t i;

	for (i = 0; i < sizeof(buf); i += 1024)
		buf[i] = 0;
}

int main(int argc, char **argv)
{
	bool skip_load = false, we_loaded = false;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--max-n") && i + 1 < argc)
			max_n = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--trace"))
			show_trace = true;
		else if (!strcmp(argv[i], "--skip-load"))
			skip_load = true;
		else {
			fprintf(stderr, "usage: %s [--max-n N] [--trace] [--skip-load]\n",
				argv[0]);
			return 2;
		}
	}
	e2e_init(1, argv);
	page_size = sysconf(_SC_PAGESIZE);
	ko = getenv("BUDDY_KO");
	params = getenv("BUDDY_PARAMS");
	if (!params)
		params = "";
	/* No page fault may allocate between arming fail-nth and the call. */
	touch_stack();
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		e2e_diag("mlockall: %s", strerror(errno));
	fi_setup();
	kmsg_drain();

	if (!loaded() && !skip_load) {
		if (!e2e_check(ko != NULL, "BUDDY_KO set"))
			return e2e_done();
		double t0 = now();

		sweep_load();
		e2e_diag("load sweep: %.1f s", now() - t0);
		we_loaded = true;
	} else if (!loaded()) {
		e2e_check(false, "buddy_alloc.ko loaded (--skip-load)");
		return e2e_done();
	}
	sweep_ioctls();
	if (we_loaded) {
		int ret = unload();

		e2e_check(!ret && nothing_left(), "unload: nothing left (%s)",
			  e2e_err(ret));
	}
	report_sites();
	check_coverage();
	return e2e_done();
}
