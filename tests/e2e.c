// SPDX-License-Identifier: GPL-2.0
/*
 * e2e.c: helpers shared by the /dev/buddy end-to-end tests (see e2e.h).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/dma-buf.h>

#include "e2e.h"

unsigned int e2e_passed, e2e_failed;
static __u64 seed, rng;

/*
 * A forked child counts only its own checks, so that e2e_child_send() does
 * not hand the parent's counts back to it a second time.
 */
static void e2e_child_reset(void)
{
	e2e_passed = 0;
	e2e_failed = 0;
}

/*
 * Line-buffered output, so that a child's lines and the parent's keep their
 * order; the seed comes from BUDDY_SEED or argv[1], else the clock.
 */
void e2e_init(int argc, char **argv)
{
	const char *s = getenv("BUDDY_SEED");

	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_atfork(NULL, NULL, e2e_child_reset);
	if (argc > 1)
		s = argv[1];
	if (s && *s)
		seed = strtoull(s, NULL, 0);
	else
		seed = (__u64)time(NULL) ^ ((__u64)getpid() << 32);
	rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
	printf("# %s: seed %llu (replay: BUDDY_SEED=%llu)\n",
	       program_invocation_short_name, seed, seed);
}

__u64 e2e_seed(void)
{
	return seed;
}

/* xorshift64*: enough for picking sizes and orders. */
__u64 e2e_rand(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

bool e2e_check(bool cond, const char *fmt, ...)
{
	va_list ap;

	flockfile(stdout);
	fputs(cond ? "ok - " : "not ok - ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	funlockfile(stdout);
	if (cond)
		__atomic_add_fetch(&e2e_passed, 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&e2e_failed, 1, __ATOMIC_RELAXED);
	return cond;
}

void e2e_diag(const char *fmt, ...)
{
	va_list ap;

	flockfile(stdout);
	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	funlockfile(stdout);
}

int e2e_done(void)
{
	printf("%u passed, %u failed\n", e2e_passed, e2e_failed);
	fflush(stdout);
	return e2e_failed ? 1 : 0;
}

void e2e_child_send(int wfd)
{
	unsigned int c[2] = { e2e_passed, e2e_failed };

	fflush(stdout);
	if (write(wfd, c, sizeof(c)) != sizeof(c))
		_exit(99);
}

void e2e_child_collect(int rfd)
{
	unsigned int c[2];

	if (!e2e_check(read(rfd, c, sizeof(c)) == sizeof(c),
		       "child reported its results"))
		return;
	e2e_passed += c[0];
	e2e_failed += c[1];
}

const char *e2e_err(int ret)
{
	/* A few buffers, so that one printf can show several results. */
	static __thread char bufs[4][32];
	static __thread unsigned int next;
	char *buf = bufs[next++ % 4];
	const char *name;

	if (ret >= 0) {
		snprintf(buf, sizeof(bufs[0]), "%d", ret);
		return buf;
	}
	name = strerrorname_np(-ret);
	if (name)
		snprintf(buf, sizeof(bufs[0]), "-%s", name);
	else
		snprintf(buf, sizeof(bufs[0]), "%d", ret);
	return buf;
}

int buddy_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

int buddy_open(void)
{
	int fd = open(BUDDY_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		e2e_check(false, "open %s: %s", BUDDY_DEV, strerror(errno));
		exit(e2e_done());
	}
	return fd;
}

int buddy_info(int fd, struct buddy_info *info)
{
	memset(info, 0, sizeof(*info));
	return buddy_ioctl(fd, BUDDY_IOC_INFO, info);
}

int buddy_alloc(int fd, __u64 size, struct buddy_alloc *a)
{
	memset(a, 0, sizeof(*a));
	a->size = size;
	return buddy_ioctl(fd, BUDDY_IOC_ALLOC, a);
}

int buddy_batch(int fd, const void *ops, __u32 count, __u32 op_size,
		__u32 *done)
{
	struct buddy_batch b = { .ops = (uintptr_t)ops, .count = count,
				 .op_size = op_size };
	int ret = buddy_ioctl(fd, BUDDY_IOC_BATCH, &b);

	if (done)
		*done = b.done;
	return ret;
}

int buddy_free(int fd, __u64 offset)
{
	struct buddy_free f = { .offset = offset };

	return buddy_ioctl(fd, BUDDY_IOC_FREE, &f);
}

int buddy_export(int fd, __u64 offset, __u32 fd_flags, int *dmabuf)
{
	struct buddy_export e = { .offset = offset, .fd_flags = fd_flags };
	int ret = buddy_ioctl(fd, BUDDY_IOC_EXPORT, &e);

	if (!ret)
		*dmabuf = e.fd;
	return ret;
}

int e2e_dmabuf_sync(int dmabuf, __u64 flags)
{
	struct dma_buf_sync sync = { .flags = flags };

	return buddy_ioctl(dmabuf, DMA_BUF_IOCTL_SYNC, &sync);
}

static int vgem_find(void)
{
	char path[32], name[16];
	int i, fd;

	for (i = 0; i < 16; i++) {
		struct e2e_drm_version v = { .name = name, .name_len = sizeof(name) - 1 };

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(name, 0, sizeof(name));
		if (!ioctl(fd, E2E_DRM_IOCTL_VERSION, &v) && !strcmp(name, "vgem"))
			return fd;
		close(fd);
	}
	return -ENOENT;
}

int e2e_vgem_open(void)
{
	int fd = vgem_find();

	if (fd >= 0)
		return fd;
	if (system("modprobe vgem") != 0)
		return -ENOENT;
	return vgem_find();
}

int e2e_prime_import(int drm, int dmabuf, __u32 *handle)
{
	struct e2e_drm_prime_handle p = { .fd = dmabuf };
	int ret = buddy_ioctl(drm, E2E_DRM_IOCTL_PRIME_FD_TO_HANDLE, &p);

	if (!ret)
		*handle = p.handle;
	return ret;
}

int e2e_prime_export(int drm, __u32 handle, __u32 flags, int *dmabuf)
{
	struct e2e_drm_prime_handle p = { .handle = handle, .flags = flags, .fd = -1 };
	int ret = buddy_ioctl(drm, E2E_DRM_IOCTL_PRIME_HANDLE_TO_FD, &p);

	if (!ret)
		*dmabuf = p.fd;
	return ret;
}

int e2e_gem_close(int drm, __u32 handle)
{
	struct e2e_drm_gem_close c = { .handle = handle };

	return buddy_ioctl(drm, E2E_DRM_IOCTL_GEM_CLOSE, &c);
}

/*
 * drivers/dma-buf/dma-buf.c's dma_buf_debug_show(): per object a line
 * "size\tflags\tmode\tcount\texp_name\tino\tname", its fences, then
 * "\tAttached Devices:", one "\tDEVICE" line each, and "Total N devices
 * attached".
 */
int e2e_bufinfo(unsigned long ino, struct e2e_bufinfo *bi)
{
	static char buf[1 << 16];
	char *line, *save;
	bool ours = false, devs = false;
	int ret;

	memset(bi, 0, sizeof(*bi));
	ret = e2e_read_file("/sys/kernel/debug/dma_buf/bufinfo", buf, sizeof(buf));
	if (ret < 0)
		return ret;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long size, count;
		unsigned long i;
		unsigned int flags, mode;
		char exp[32], name[64];
		int n;

		if (sscanf(line, "%llu\t%x\t%x\t%llu\t%31[^\t]\t%lu\t%63[^\n]",
			   &size, &flags, &mode, &count, exp, &i, name) == 7) {
			if (ours)
				break;
			ours = i == ino;
			if (ours) {
				bi->size = size;
				snprintf(bi->exp_name, sizeof(bi->exp_name), "%s", exp);
				snprintf(bi->name, sizeof(bi->name), "%s", name);
			}
			continue;
		}
		if (!ours)
			continue;
		if (strstr(line, "Attached Devices:")) {
			devs = true;
		} else if (sscanf(line, "Total %d devices attached", &n) == 1) {
			return n == bi->ndevices ? 1 : -EPROTO;
		} else if (devs && line[0] == '\t') {
			size_t used = strlen(bi->devices);

			snprintf(bi->devices + used, sizeof(bi->devices) - used, "%s%s",
				 used ? " " : "", line + 1);
			bi->ndevices++;
		}
	}
	return ours ? -EPROTO : 0;
}

int e2e_fdinfo(int fd, const char *key, char *val, size_t len)
{
	char path[64], buf[1024], *p;
	size_t klen = strlen(key);
	int ret;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	ret = e2e_read_file(path, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, key, klen) && p[klen] == ':') {
			p += klen + 1;
			p += strspn(p, " \t");
			snprintf(val, len, "%.*s", (int)strcspn(p, "\n"), p);
			return 0;
		}
	}
	return -ENOENT;
}

/* unit_size << order, the smallest such >= @size; 0 if none fits. */
__u64 e2e_block_size(const struct buddy_info *info, __u64 size)
{
	__u64 bs = info->unit_size;

	if (!size || size > info->pool_size)
		return 0;
	while (bs < size)
		bs <<= 1;
	return bs;
}

/* Read a whole (seq_file) file; returns its length or -errno. */
int e2e_read_file(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len + 1 < size) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (!n)
			break;
		len += n;
	}
	buf[len] = '\0';
	close(fd);
	return len;
}

static const struct {
	const char *name;
	size_t off;
} stat_fields[] = {
#define F(x) { #x, offsetof(struct e2e_stats, x) }
	F(pool_size), F(unit_size), F(free_bytes), F(used_bytes),
	F(largest_free), F(live_blocks), F(allocs), F(frees),
	F(alloc_failures), F(peak_used_bytes), F(exported_blocks),
	F(exported_bytes),
#undef F
};

/*
 * Parse debugfs stats ("name: value" lines, decimal).  Returns 0, or -ENOENT
 * with the missing names in @missing, or -EINVAL for a malformed line.
 */
int e2e_read_stats(struct e2e_stats *st, char *missing, size_t len)
{
	char buf[4096], name[64], *line, *save;
	unsigned long long v;
	unsigned int seen = 0, i;
	int ret, n;

	memset(st, 0, sizeof(*st));
	if (missing && len)
		missing[0] = '\0';
	ret = e2e_read_file(BUDDY_DEBUGFS "/stats", buf, sizeof(buf));
	if (ret < 0)
		return ret;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || !line[strspn(line, " \t")])
			continue;
		n = 0;
		if (sscanf(line, " %63[^: ]: %llu %n", name, &v, &n) != 2 ||
		    line[n]) {
			if (missing && len)
				snprintf(missing, len, "bad line '%s'", line);
			return -EINVAL;
		}
		for (i = 0; i < ARRAY_SIZE(stat_fields); i++) {
			if (!strcmp(name, stat_fields[i].name)) {
				*(__u64 *)((char *)st + stat_fields[i].off) = v;
				seen |= 1U << i;
			}
		}
	}
	if (seen == (1U << ARRAY_SIZE(stat_fields)) - 1)
		return 0;
	for (i = 0; missing && i < ARRAY_SIZE(stat_fields); i++) {
		if (!(seen & (1U << i))) {
			strncat(missing, " ", len - strlen(missing) - 1);
			strncat(missing, stat_fields[i].name,
				len - strlen(missing) - 1);
		}
	}
	return -ENOENT;
}

/*
 * buddyinfo: '#' headers, then "ORDER FREE_BLOCKS" for orders 0, 1, ... in
 * turn.  Returns the number of orders, or -EINVAL.
 */
int e2e_parse_buddyinfo(const char *text, __u64 *counts, unsigned int max)
{
	unsigned long long c;
	unsigned int order, n = 0;
	const char *p = text;
	int used;

	while (*p) {
		const char *eol = strchrnul(p, '\n');

		if (*p != '#' && p[strspn(p, " \t")] != '\n' &&
		    p[strspn(p, " \t")] != '\0') {
			used = 0;
			if (sscanf(p, " %u %llu%n", &order, &c, &used) != 2)
				return -EINVAL;
			if (p + used + strspn(p + used, " \t") != eol)
				return -EINVAL;
			if (order != n || n >= max)
				return -EINVAL;
			counts[n++] = c;
		}
		p = *eol ? eol + 1 : eol;
	}
	return n;
}

int e2e_read_buddyinfo(__u64 *counts, unsigned int max)
{
	char buf[4096];
	int ret;

	ret = e2e_read_file(BUDDY_DEBUGFS "/buddyinfo", buf, sizeof(buf));
	if (ret < 0)
		return ret;
	return e2e_parse_buddyinfo(buf, counts, max);
}

int e2e_read_percpu(__u64 *cached_units, int *enabled)
{
	char buf[16384], *line, *save = NULL;
	int n = 0;
	int ret;

	ret = e2e_read_file(BUDDY_DEBUGFS "/percpu", buf, sizeof(buf));
	if (ret < 0)
		return ret;
	*cached_units = 0;
	*enabled = -1;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long c[4], hits, frees, refills, drains, retries;
		unsigned int cpu, online, o;
		char tail;

		if (sscanf(line, "# percpu_cache: %d", enabled) == 1 || line[0] == '#')
			continue;
		if (sscanf(line, "%u %u %llu %llu %llu %llu %llu %llu %llu %llu %llu %c",
			   &cpu, &online, &c[0], &c[1], &c[2], &c[3], &hits, &frees,
			   &refills, &drains, &retries, &tail) != 11)
			return -EINVAL;
		for (o = 0; o < 4; o++)
			*cached_units += c[o] << o;
		n++;
	}
	return *enabled < 0 || !n ? -EINVAL : n;
}

int e2e_write_param(const char *name, const char *text)
{
	char path[128];
	int f, ret = 0;

	snprintf(path, sizeof(path), E2E_PARAM("%s"), name);
	f = open(path, O_WRONLY | O_CLOEXEC);
	if (f < 0)
		return -errno;
	if (write(f, text, strlen(text)) < 0)
		ret = -errno;
	close(f);
	return ret;
}

int e2e_set_percpu_cache(int on)
{
	char buf[8];
	int old, ret;

	ret = e2e_read_file(E2E_PARAM("percpu_cache"), buf, sizeof(buf));
	if (ret < 0)
		return ret;
	old = buf[0] == 'Y' || buf[0] == '1';
	ret = e2e_write_param("percpu_cache", on ? "1" : "0");
	return ret ? ret : old;
}

/* "D.DDD" in thousandths, or -1. */
static int fixed3(const char *tok, size_t len)
{
	size_t i, dot = 0;
	int v = 0;

	for (i = 0; i < len; i++) {
		if (tok[i] == '.') {
			if (dot)
				return -1;
			dot = i;
		} else if (!isdigit((unsigned char)tok[i])) {
			return -1;
		}
	}
	if (!dot || len - dot - 1 != 3)
		return -1;
	for (i = 0; i < len; i++)
		if (tok[i] != '.')
			v = v * 10 + (tok[i] - '0');
	return v;
}

/*
 * unusable_index: '#' headers, then "ORDER D.DDD" per order; also accepts one
 * line of D.DDD values, one per order, as /sys/kernel/debug/extfrag prints.
 * Returns the number of orders, or -EINVAL.
 */
int e2e_parse_unusable(const char *text, unsigned int *index, unsigned int max)
{
	const char *p = text;
	unsigned int n = 0;
	bool per_line = false, one_line = false;

	while (*p) {
		const char *eol = strchrnul(p, '\n');
		const char *tok[E2E_MAX_ORDERS + 8];
		size_t tlen[E2E_MAX_ORDERS + 8];
		unsigned int nt = 0, i;
		const char *q = p;

		while (q < eol && *p != '#') {
			q += strspn(q, " \t");
			if (q >= eol)
				break;
			if (nt == ARRAY_SIZE(tok))
				return -EINVAL;
			tok[nt] = q;
			tlen[nt] = strcspn(q, " \t\n");
			q += tlen[nt++];
		}
		if (nt == 2 && strspn(tok[0], "0123456789") == tlen[0] &&
		    fixed3(tok[1], tlen[1]) >= 0) {
			if (one_line || n >= max ||
			    strtoul(tok[0], NULL, 10) != n)
				return -EINVAL;
			per_line = true;
			index[n++] = fixed3(tok[1], tlen[1]);
		} else if (nt) {
			if (per_line || one_line)
				return -EINVAL;
			for (i = 0; i < nt; i++) {
				int v = fixed3(tok[i], tlen[i]);

				if (v < 0)
					continue;
				if (n >= max)
					return -EINVAL;
				index[n++] = v;
			}
			one_line = n > 0;
		}
		p = *eol ? eol + 1 : eol;
	}
	return n;
}

int e2e_read_unusable(unsigned int *index, unsigned int max)
{
	char buf[4096];
	int ret;

	ret = e2e_read_file(BUDDY_DEBUGFS "/unusable_index", buf, sizeof(buf));
	if (ret < 0)
		return ret;
	return e2e_parse_unusable(buf, index, max);
}

void e2e_snap(int fd, struct e2e_snap *s)
{
	struct e2e_stats st;

	memset(s, 0, sizeof(*s));
	s->info_ret = buddy_info(fd, &s->info);
	s->buddyinfo_ret = e2e_read_file(BUDDY_DEBUGFS "/buddyinfo",
					 s->buddyinfo, sizeof(s->buddyinfo));
	s->unusable_ret = e2e_read_file(BUDDY_DEBUGFS "/unusable_index",
					s->unusable, sizeof(s->unusable));
	s->stats_ret = e2e_read_stats(&st, NULL, 0);
	s->free_bytes = st.free_bytes;
	s->used_bytes = st.used_bytes;
	s->largest_free = st.largest_free;
	s->live_blocks = st.live_blocks;
	s->allocs = st.allocs;
	s->frees = st.frees;
	s->peak_used_bytes = st.peak_used_bytes;
	s->exported_blocks = st.exported_blocks;
	s->exported_bytes = st.exported_bytes;
}

bool e2e_snap_same(const struct e2e_snap *a, const struct e2e_snap *b,
		   const char *what)
{
	const char *diff = NULL;

	if (a->info_ret || b->info_ret)
		diff = "INFO failed";
	else if (memcmp(&a->info, &b->info, sizeof(a->info)))
		diff = "INFO";
	else if (a->buddyinfo_ret != b->buddyinfo_ret ||
		 strcmp(a->buddyinfo, b->buddyinfo))
		diff = "debugfs buddyinfo";
	else if (a->unusable_ret != b->unusable_ret ||
		 strcmp(a->unusable, b->unusable))
		diff = "debugfs unusable_index";
	else if (a->stats_ret != b->stats_ret ||
		 a->free_bytes != b->free_bytes ||
		 a->used_bytes != b->used_bytes ||
		 a->largest_free != b->largest_free ||
		 a->live_blocks != b->live_blocks)
		diff = "debugfs stats (free/used/largest/live)";
	else if (a->allocs != b->allocs || a->frees != b->frees)
		diff = "debugfs stats (allocs/frees)";
	else if (a->peak_used_bytes != b->peak_used_bytes)
		diff = "debugfs stats peak_used_bytes";
	else if (a->exported_blocks != b->exported_blocks ||
		 a->exported_bytes != b->exported_bytes)
		diff = "debugfs stats exported_blocks/exported_bytes";
	if (diff)
		e2e_diag("%s: %s changed (free_bytes %llu -> %llu, live %llu -> %llu, allocs %llu -> %llu, frees %llu -> %llu, peak %llu -> %llu)",
			 what, diff, a->info.free_bytes, b->info.free_bytes,
			 a->live_blocks, b->live_blocks, a->allocs, b->allocs,
			 a->frees, b->frees, a->peak_used_bytes,
			 b->peak_used_bytes);
	return !diff;
}

bool e2e_expect_fail(int fd, unsigned long cmd, void *arg, int err,
		     const char *what)
{
	struct e2e_snap before, after;
	bool ok;
	int ret;

	e2e_snap(fd, &before);
	ret = buddy_ioctl(fd, cmd, arg);
	e2e_snap(fd, &after);
	ok = e2e_check(ret == -err, "%s: %s (got %s)", what, e2e_err(-err),
		       e2e_err(ret));
	ok &= e2e_check(e2e_snap_same(&before, &after, what),
			"%s: changes nothing", what);
	return ok;
}

static bool is_pow2(__u64 x)
{
	return x && !(x & (x - 1));
}

/* The unusable free space index of mm/vmstat.c, in thousandths. */
static unsigned int unusable_expected(const __u64 *counts, unsigned int n,
				      unsigned int order)
{
	__u64 free_units = 0, suitable = 0;
	unsigned int o;

	for (o = 0; o < n; o++) {
		free_units += counts[o] << o;
		if (o >= order)
			suitable += counts[o] << o;
	}
	if (!free_units)
		return 1000;
	return (free_units - suitable) * 1000 / free_units;
}

bool e2e_consistent(int fd, const char *phase)
{
	__u64 counts[E2E_MAX_ORDERS], sum = 0, top = 0;
	unsigned int index[E2E_MAX_ORDERS], o;
	struct buddy_info info;
	struct e2e_stats st;
	char missing[256];
	bool ok = true, good;
	int ret, n, nu;

	ret = buddy_info(fd, &info);
	good = ret == 0 && is_pow2(info.pool_size) && is_pow2(info.unit_size) &&
	       info.unit_size >= 64 && info.max_order < 64 &&
	       info.pool_size == info.unit_size << info.max_order &&
	       info.free_bytes <= info.pool_size &&
	       info.free_bytes % info.unit_size == 0 &&
	       info.largest_free <= info.free_bytes &&
	       (info.largest_free == 0 || (is_pow2(info.largest_free) &&
					   info.largest_free >= info.unit_size)) &&
	       (info.largest_free == 0) == (info.free_bytes == 0) &&
	       info.pad == 0;
	ok &= e2e_check(good, "%s: INFO sane (%s, pool %llu unit %llu max_order %u free %llu largest %llu)",
			phase, e2e_err(ret), info.pool_size, info.unit_size,
			info.max_order, info.free_bytes, info.largest_free);
	if (ret)
		return false;

	ret = e2e_read_stats(&st, missing, sizeof(missing));
	if (!e2e_check(ret == 0, "%s: debugfs stats readable with every field (%s%s)",
		       phase, e2e_err(ret), ret ? missing : ""))
		ok = false;
	else
		ok &= e2e_check(st.pool_size == info.pool_size &&
				st.unit_size == info.unit_size &&
				st.free_bytes == info.free_bytes &&
				st.largest_free == info.largest_free &&
				st.used_bytes == info.pool_size - info.free_bytes &&
				st.peak_used_bytes >= st.used_bytes &&
				st.peak_used_bytes <= info.pool_size &&
				st.exported_bytes <= st.used_bytes &&
				st.exported_blocks <= st.live_blocks &&
				!st.exported_blocks == !st.exported_bytes,
				"%s: stats agree with INFO (pool %llu unit %llu free %llu largest %llu used %llu peak %llu exported %llu blocks %llu bytes)",
				phase, st.pool_size, st.unit_size, st.free_bytes,
				st.largest_free, st.used_bytes,
				st.peak_used_bytes, st.exported_blocks,
				st.exported_bytes);

	n = e2e_read_buddyinfo(counts, E2E_MAX_ORDERS);
	if (!e2e_check(n == (int)info.max_order + 1,
		       "%s: buddyinfo lists orders 0..%u (got %s)", phase,
		       info.max_order, e2e_err(n)))
		return false;
	for (o = 0; o <= info.max_order; o++) {
		sum += counts[o] * (info.unit_size << o);
		if (counts[o])
			top = info.unit_size << o;
	}
	ok &= e2e_check(sum == info.free_bytes && top == info.largest_free,
			"%s: buddyinfo sums to free_bytes %llu (got %llu) and tops at largest_free %llu (got %llu)",
			phase, info.free_bytes, sum, info.largest_free, top);

	nu = e2e_read_unusable(index, E2E_MAX_ORDERS);
	if (!e2e_check(nu == (int)info.max_order + 1,
		       "%s: unusable_index lists orders 0..%u (got %s)", phase,
		       info.max_order, e2e_err(nu)))
		return false;
	good = true;
	for (o = 0; o <= info.max_order; o++) {
		unsigned int want = unusable_expected(counts, n, o);

		if (index[o] != want) {
			e2e_diag("%s: unusable_index order %u: %u.%03u, expected %u.%03u",
				 phase, o, index[o] / 1000, index[o] % 1000,
				 want / 1000, want % 1000);
			good = false;
		}
	}
	ok &= e2e_check(good, "%s: unusable_index matches buddyinfo (mm/vmstat.c formula)",
			phase);
	return ok;
}

bool e2e_pool_whole(int fd, const char *phase)
{
	struct buddy_info info;
	int ret = buddy_info(fd, &info);

	return e2e_check(!ret && info.free_bytes == info.pool_size &&
			 info.largest_free == info.pool_size,
			 "%s: pool whole (free %llu largest %llu of %llu)",
			 phase, info.free_bytes, info.largest_free,
			 info.pool_size);
}

/* The 8-byte word at byte @i of a block filled with @tag. */
static __u64 pattern_word(__u64 tag, size_t i)
{
	return (tag ^ (i * 0x9e3779b97f4a7c15ULL)) + i;
}

void e2e_fill(void *p, size_t len, __u64 tag, size_t base)
{
	volatile __u64 *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = pattern_word(tag, base + i * 8);
}

bool e2e_has(const void *p, size_t len, __u64 tag, size_t base)
{
	const volatile __u64 *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++) {
		if (w[i] != pattern_word(tag, base + i * 8)) {
			e2e_diag("byte %zu: 0x%llx, expected 0x%llx", base + i * 8,
				 (unsigned long long)w[i],
				 (unsigned long long)pattern_word(tag, base + i * 8));
			return false;
		}
	}
	return true;
}

bool e2e_zero(const void *p, size_t len)
{
	const volatile __u64 *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++) {
		if (w[i]) {
			e2e_diag("byte %zu: 0x%llx, expected 0", i * 8,
				 (unsigned long long)w[i]);
			return false;
		}
	}
	return true;
}

void *e2e_guarded(size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p;

	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || mprotect(p + page, page, PROT_NONE)) {
		perror("mmap");
		exit(2);
	}
	return p + page - len;
}

void e2e_unguard(void *p, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);

	munmap((char *)p + len - page, 2 * page);
}
