// SPDX-License-Identifier: GPL-2.0
/*
 * buddyctl: look at and drive /dev/buddy from the shell.
 *
 *   buddyctl info | stats | buddyinfo [--json]
 *   buddyctl map [--cells N] [--order N] [--svg FILE] [--color WHEN]
 *   buddyctl watch [--interval SECONDS] [--count N] [map options]
 *   buddyctl alloc SIZE... [--exact] [--topdown] [--hold]
 *   buddyctl demo
 *
 * info and alloc ask the device (ioctl); stats, buddyinfo, map and watch
 * read debugfs, from --debugfs DIR when given (a directory of recorded
 * files works: the golden tests feed the renderer that way).  The map is
 * built from debugfs blocks: the free space is whatever no block covers,
 * cut into maximal naturally aligned blocks, which is exactly the buddy
 * allocator's free lists, since debugfs blocks lists every live block (a
 * file's or an exported one); it is checked against buddyinfo.  Exit
 * status: see usage().  The blocks of one run live as long as it does:
 * closing /dev/buddy frees them.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/buddy.h>

#define DEFAULT_DEVICE	"/dev/buddy"
#define DEBUGFS_ROOT	"/sys/kernel/debug"
#define DEFAULT_DEBUGFS	DEBUGFS_ROOT "/buddy"
#define DEBUGFS_MAGIC	0x64626720
#define MAX_ORDERS	64
#define ROW_CELLS	64
#define SVG_WIDTH	1024

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* the kernel refused, or what it shows is wrong */
	EXIT_USAGE = 2,		/* a bad command line */
	EXIT_UNAVAILABLE = 3,	/* module not loaded, debugfs not mounted, no file */
	EXIT_NOPERM = 4,	/* not root (or not in the device's group) */
};

struct options {
	const char *debugfs;
	const char *device;
	bool json;
	unsigned long cells;
	int order;		/* -1: max_order / 2 */
	const char *svg;
	int color;		/* -1: when stdout is a terminal */
	double interval;
	long count;		/* watch: frames, 0 for no end */
	unsigned int flags;
	bool hold;
};

static struct options opt = {
	.debugfs = DEFAULT_DEBUGFS,
	.device = DEFAULT_DEVICE,
	.cells = 128,
	.order = -1,
	.color = -1,
	.interval = 1,
};

static bool debugfs_given;

/* Print "buddyctl: ..." on stderr and return @code. */
static int fail(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("buddyctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fail(EXIT_FAIL, "out of memory");
		exit(EXIT_FAIL);
	}
	return p;
}

/*
 * From /proc/modules, which lists loaded modules only, not built-in ones
 * (/sys/module has both).  The module is buddy_alloc (alias buddy): Debian's
 * 6.12 has the GPU buddy allocator built in as "buddy".
 */
static bool module_loaded(void)
{
	FILE *f = fopen("/proc/modules", "r");
	char line[256];
	bool found = false;

	if (!f)
		return true;	/* cannot tell: let the error itself speak */
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, "buddy_alloc ", 12);
	fclose(f);
	return found;
}

/* Why a debugfs file cannot be opened, in one line; returns the exit code. */
static int debugfs_error(const char *path, int err)
{
	struct statfs fs;

	if (err == EACCES || err == EPERM)
		return fail(EXIT_NOPERM, "%s: permission denied: the debugfs files are root's (run as root)",
			    path);
	if (err == ENOENT && !debugfs_given) {
		if (!module_loaded())
			return fail(EXIT_UNAVAILABLE, "buddy_alloc.ko is not loaded (modprobe buddy)");
		if (statfs(DEBUGFS_ROOT, &fs) || fs.f_type != DEBUGFS_MAGIC)
			return fail(EXIT_UNAVAILABLE,
				    "debugfs is not mounted on %s (mount -t debugfs none %s)",
				    DEBUGFS_ROOT, DEBUGFS_ROOT);
		return fail(EXIT_UNAVAILABLE, "%s: no such file: this buddy_alloc.ko does not have it",
			    path);
	}
	return fail(EXIT_UNAVAILABLE, "%s: %s", path, strerror(err));
}

static int open_device(int *fdp)
{
	int fd = open(opt.device, O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		*fdp = fd;
		return EXIT_OK;
	}
	if (errno == EACCES || errno == EPERM)
		return fail(EXIT_NOPERM, "%s: permission denied: run as root, or give a group access with the udev rule in SECURITY.md",
			    opt.device);
	if ((errno == ENOENT || errno == ENXIO || errno == ENODEV) && !module_loaded())
		return fail(EXIT_UNAVAILABLE, "%s: buddy_alloc.ko is not loaded (modprobe buddy)",
			    opt.device);
	return fail(EXIT_UNAVAILABLE, "%s: %s", opt.device, strerror(errno));
}

/* A whole debugfs file, NUL-terminated, in *@text; returns an exit code. */
static int read_debugfs(const char *name, char **text)
{
	size_t len = 0, cap = 1 << 16;
	char path[4096], *buf;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", opt.debugfs, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return debugfs_error(path, errno);
	buf = xrealloc(NULL, cap + 1);
	while ((n = read(fd, buf + len, cap - len)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
	}
	close(fd);
	if (n < 0) {
		free(buf);
		return fail(EXIT_FAIL, "%s: %s", path, strerror(errno));
	}
	buf[len] = 0;
	*text = buf;
	return EXIT_OK;
}

/* Next line of *@p (NUL-terminated in place), skipping # headers. */
static char *next_line(char **p)
{
	char *line, *nl;

	while (**p) {
		line = *p;
		nl = strchr(line, '\n');
		if (nl) {
			*nl = 0;
			*p = nl + 1;
		} else {
			*p = line + strlen(line);
		}
		if (*line && *line != '#')
			return line;
	}
	return NULL;
}

/* --- the pool as debugfs shows it --- */

struct stat_pair {
	char name[32];
	unsigned long long value;
};

struct block {
	unsigned long long offset;
	unsigned long long size;
	unsigned int owner;
};

/*
 * An owner: an open file, or "exported" in the file column for a block
 * exported as a DMA-BUF, with the process that opened the file.
 */
struct owner {
	char file[24];
	long tgid;
	char comm[64];		/* decoded, non-printable bytes as '?' */
	unsigned long long blocks;
	unsigned long long bytes;
};

struct view {
	struct stat_pair *stats;
	size_t nstats;
	unsigned long long pool_size, unit_size;
	unsigned int max_order;
	unsigned long long nr_free[MAX_ORDERS];	/* buddyinfo */
	unsigned int unusable[MAX_ORDERS];	/* thousandths */
	struct block *blocks;			/* by offset */
	size_t nblocks;
	struct owner *owners;			/* in the order blocks names them */
	size_t nowners;
	/* derived from blocks */
	unsigned long long free_bytes;
	unsigned long long derived_free[MAX_ORDERS];
	int largest_order;			/* -1: nothing free */
	unsigned long long largest_offset;
	unsigned long long largest_count;
};

static void view_free(struct view *v)
{
	free(v->stats);
	free(v->blocks);
	free(v->owners);
	memset(v, 0, sizeof(*v));
}

static bool stat_get(const struct view *v, const char *name, unsigned long long *value)
{
	size_t i;

	for (i = 0; i < v->nstats; i++) {
		if (!strcmp(v->stats[i].name, name)) {
			*value = v->stats[i].value;
			return true;
		}
	}
	return false;
}

static int parse_stats(struct view *v, char *text)
{
	unsigned long long max_order;
	char *p = text, *line;

	while ((line = next_line(&p))) {
		struct stat_pair sp;
		int end = 0;

		if (sscanf(line, "%31[a-z_0-9]: %llu%n", sp.name, &sp.value, &end) != 2 ||
		    line[end])
			return fail(EXIT_FAIL, "%s/stats: cannot parse \"%s\"", opt.debugfs, line);
		v->stats = xrealloc(v->stats, (v->nstats + 1) * sizeof(*v->stats));
		v->stats[v->nstats++] = sp;
	}
	if (!stat_get(v, "pool_size", &v->pool_size) ||
	    !stat_get(v, "unit_size", &v->unit_size) ||
	    !stat_get(v, "max_order", &max_order))
		return fail(EXIT_FAIL, "%s/stats: no pool_size, unit_size or max_order", opt.debugfs);
	if (!v->unit_size || (v->unit_size & (v->unit_size - 1)) || max_order >= MAX_ORDERS ||
	    v->unit_size << max_order != v->pool_size)
		return fail(EXIT_FAIL, "%s/stats: pool_size %llu is not unit_size %llu << max_order %llu",
			    opt.debugfs, v->pool_size, v->unit_size, max_order);
	v->max_order = max_order;
	return EXIT_OK;
}

/* debugfs stats into @v; an exit code. */
static int read_stats(struct view *v)
{
	char *text;
	int ret;

	ret = read_debugfs("stats", &text);
	if (ret)
		return ret;
	ret = parse_stats(v, text);
	free(text);
	return ret;
}

/* ORDER VALUE lines for orders 0..max_order, in order. */
static int parse_orders(const struct view *v, char *text, const char *name,
			unsigned long long *counts, unsigned int *thousandths)
{
	unsigned int expect = 0;
	char *p = text, *line;

	while ((line = next_line(&p))) {
		unsigned int order, whole, frac;
		unsigned long long n;
		int end = 0;
		bool good;

		if (counts)
			good = sscanf(line, "%u %llu%n", &order, &n, &end) == 2;
		else
			good = sscanf(line, "%u %u.%3u%n", &order, &whole, &frac, &end) == 3 &&
			       end >= 5 && line[end - 4] == '.';
		if (!good || line[end] || order != expect || order > v->max_order)
			return fail(EXIT_FAIL, "%s/%s: cannot parse \"%s\"", opt.debugfs, name, line);
		if (counts)
			counts[order] = n;
		else
			thousandths[order] = whole * 1000 + frac;
		expect++;
	}
	if (expect != v->max_order + 1)
		return fail(EXIT_FAIL, "%s/%s: %u orders, want %u", opt.debugfs, name, expect,
			    v->max_order + 1);
	return EXIT_OK;
}

/* The kernel's seq_escape (\ooo) undone; unprintable bytes become '?'. */
static void decode_comm(const char *in, char *out, size_t size)
{
	size_t n = 0;

	while (*in && n + 1 < size) {
		int c = (unsigned char)*in++;

		if (c == '\\' && in[0] >= '0' && in[0] <= '7' && in[1] >= '0' &&
		    in[1] <= '7' && in[2] >= '0' && in[2] <= '7') {
			c = (in[0] - '0') * 64 + (in[1] - '0') * 8 + (in[2] - '0');
			in += 3;
		}
		out[n++] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	out[n] = 0;
}

static unsigned int owner_of(struct view *v, const char *file, long tgid, const char *comm)
{
	size_t i;

	/* Lines come grouped by file, so the last owner is the likely one. */
	for (i = v->nowners; i-- > 0;) {
		struct owner *o = &v->owners[i];

		if (!strcmp(o->file, file) && o->tgid == tgid && !strcmp(o->comm, comm))
			return i;
	}
	v->owners = xrealloc(v->owners, (v->nowners + 1) * sizeof(*v->owners));
	memset(&v->owners[v->nowners], 0, sizeof(v->owners[0]));
	snprintf(v->owners[v->nowners].file, sizeof(v->owners[0].file), "%s", file);
	v->owners[v->nowners].tgid = tgid;
	snprintf(v->owners[v->nowners].comm, sizeof(v->owners[0].comm), "%s", comm);
	return v->nowners++;
}

static int by_offset(const void *a, const void *b)
{
	const struct block *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The smallest power of two >= @n (at least 1; @n at most 2^63). */
static unsigned long long pow2_above(unsigned long long n)
{
	unsigned long long p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static int parse_blocks(struct view *v, char *text)
{
	char *p = text, *line;
	size_t cap = 0, i;

	while ((line = next_line(&p))) {
		char file[24], comm_raw[256], comm[64];
		unsigned long long offset, size;
		long tgid;
		int end = 0;
		struct block *b;

		if (sscanf(line, "%llu %llu %23s %ld %255s%n", &offset, &size, file, &tgid,
			   comm_raw, &end) != 5 || line[end])
			return fail(EXIT_FAIL, "%s/blocks: cannot parse \"%s\"", opt.debugfs, line);
		/*
		 * A power of two aligned to itself, or an EXACT extent: whole
		 * units, aligned to the power of two that holds it.
		 */
		if (size < v->unit_size || (size & (v->unit_size - 1)) ||
		    offset >= v->pool_size || size > v->pool_size - offset ||
		    (offset & (pow2_above(size) - 1)))
			return fail(EXIT_FAIL, "%s/blocks: \"%s\" is not a block of the pool",
				    opt.debugfs, line);
		decode_comm(comm_raw, comm, sizeof(comm));
		if (v->nblocks == cap) {
			cap = cap ? cap * 2 : 256;
			v->blocks = xrealloc(v->blocks, cap * sizeof(*v->blocks));
		}
		b = &v->blocks[v->nblocks++];
		b->offset = offset;
		b->size = size;
		b->owner = owner_of(v, file, tgid, comm);
		v->owners[b->owner].blocks++;
		v->owners[b->owner].bytes += size;
	}
	qsort(v->blocks, v->nblocks, sizeof(*v->blocks), by_offset);
	for (i = 1; i < v->nblocks; i++)
		if (v->blocks[i].offset < v->blocks[i - 1].offset + v->blocks[i - 1].size)
			return fail(EXIT_FAIL, "%s/blocks: blocks at %llu and %llu overlap (read while the pool changed?)",
				    opt.debugfs, v->blocks[i - 1].offset, v->blocks[i].offset);
	return EXIT_OK;
}

/*
 * The free space between the blocks as maximal naturally aligned blocks: in
 * a buddy allocator whose every live block is in the listing, these are its
 * free blocks, each with a buddy that is not wholly free.
 */
typedef void (*free_fn)(struct view *v, unsigned long long offset, unsigned int order,
			void *ctx);

static void for_each_free(struct view *v, free_fn fn, void *ctx)
{
	unsigned long long at = 0;
	size_t i;

	for (i = 0; i <= v->nblocks; i++) {
		unsigned long long end = i < v->nblocks ? v->blocks[i].offset : v->pool_size;

		while (at < end) {
			unsigned int order = v->max_order;

			while ((at & ((v->unit_size << order) - 1)) ||
			       (v->unit_size << order) > end - at)
				order--;
			fn(v, at, order, ctx);
			at += v->unit_size << order;
		}
		if (i < v->nblocks)
			at = v->blocks[i].offset + v->blocks[i].size;
	}
}

static void count_free(struct view *v, unsigned long long offset, unsigned int order,
		       void *ctx)
{
	(void)ctx;
	v->derived_free[order]++;
	v->free_bytes += v->unit_size << order;
	if ((int)order > v->largest_order) {
		v->largest_order = order;
		v->largest_offset = offset;
		v->largest_count = 0;
	}
	if ((int)order == v->largest_order)
		v->largest_count++;
}

/* stats, buddyinfo, unusable_index and blocks into @v; an exit code. */
static int read_view(struct view *v)
{
	static const char *const names[] = { "stats", "buddyinfo", "unusable_index", "blocks" };
	char *text[4] = { 0 };
	unsigned int i;
	int ret = EXIT_OK;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < 4 && !ret; i++)
		ret = read_debugfs(names[i], &text[i]);
	if (!ret)
		ret = parse_stats(v, text[0]);
	if (!ret)
		ret = parse_orders(v, text[1], "buddyinfo", v->nr_free, NULL);
	if (!ret)
		ret = parse_orders(v, text[2], "unusable_index", NULL, v->unusable);
	if (!ret)
		ret = parse_blocks(v, text[3]);
	for (i = 0; i < 4; i++)
		free(text[i]);
	if (ret) {
		view_free(v);
		return ret;
	}
	v->largest_order = -1;
	for_each_free(v, count_free, NULL);
	return EXIT_OK;
}

/* --- sizes --- */

/* "4 KiB", "1.5 MiB", "100 bytes": for people, next to the exact figure. */
static const char *human(unsigned long long n)
{
	static char bufs[8][32];
	static unsigned int next;
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	char *buf = bufs[next++ % 8];
	unsigned int u = 0;
	double x = n;

	while (x >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		x /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, sizeof(bufs[0]), "%llu bytes", n);
	else if (x == (unsigned long long)x)
		snprintf(buf, sizeof(bufs[0]), "%llu %s", (unsigned long long)x, units[u]);
	else
		snprintf(buf, sizeof(bufs[0]), "%.1f %s", x, units[u]);
	return buf;
}

/* SIZE[K|KiB|M|MiB|G|GiB], in bytes; false if it is not one. */
static bool parse_size(const char *s, unsigned long long *bytes)
{
	static const struct { const char *suffix; unsigned int shift; } sfx[] = {
		{ "", 0 }, { "k", 10 }, { "kib", 10 }, { "m", 20 }, { "mib", 20 },
		{ "g", 30 }, { "gib", 30 },
	};
	unsigned long long n;
	char *end;
	size_t i;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	n = strtoull(s, &end, 0);
	if (errno)
		return false;
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (!strcasecmp(end, sfx[i].suffix)) {
			if (n > (~0ULL >> sfx[i].shift))
				return false;
			*bytes = n << sfx[i].shift;
			return true;
		}
	}
	return false;
}

/* --- info, stats, buddyinfo --- */

static int get_info(int fd, struct buddy_info *bi)
{
	memset(bi, 0, sizeof(*bi));
	if (ioctl(fd, BUDDY_IOC_INFO, bi))
		return fail(EXIT_FAIL, "BUDDY_IOC_INFO: %s", strerror(errno));
	return EXIT_OK;
}

/* The core= parameter the module was loaded with, or "" if unknown. */
static void loaded_core(char *name, size_t len)
{
	FILE *f = fopen("/sys/module/buddy_alloc/parameters/core", "r");

	name[0] = '\0';
	if (!f)
		return;
	if (fgets(name, (int)len, f))
		name[strcspn(name, "\n")] = '\0';
	fclose(f);
	/* Only a name, to print inside quotes as it is. */
	if (strspn(name, "abcdefghijklmnopqrstuvwxyz") != strlen(name))
		name[0] = '\0';
}

static int cmd_info(void)
{
	struct buddy_info bi;
	char core[32];
	int fd, ret;

	ret = open_device(&fd);
	if (ret)
		return ret;
	ret = get_info(fd, &bi);
	close(fd);
	if (ret)
		return ret;
	loaded_core(core, sizeof(core));
	if (opt.json) {
		printf("{\"pool_size\": %llu, \"unit_size\": %llu, \"max_order\": %u, \"free_bytes\": %llu, \"largest_free\": %llu",
		       (unsigned long long)bi.pool_size, (unsigned long long)bi.unit_size,
		       bi.max_order, (unsigned long long)bi.free_bytes,
		       (unsigned long long)bi.largest_free);
		if (core[0])
			printf(", \"core\": \"%s\"", core);
		printf("}\n");
		return EXIT_OK;
	}
	printf("pool_size: %llu (%s)\n", (unsigned long long)bi.pool_size, human(bi.pool_size));
	printf("unit_size: %llu (%s)\n", (unsigned long long)bi.unit_size, human(bi.unit_size));
	printf("max_order: %u\n", bi.max_order);
	printf("free_bytes: %llu (%s)\n", (unsigned long long)bi.free_bytes, human(bi.free_bytes));
	printf("largest_free: %llu (%s)\n", (unsigned long long)bi.largest_free,
	       human(bi.largest_free));
	if (core[0])
		printf("core: %s\n", core);
	return EXIT_OK;
}

static int cmd_stats(void)
{
	struct view v = { 0 };
	size_t i;
	int ret;

	ret = read_stats(&v);
	for (i = 0; !ret && i < v.nstats; i++) {
		if (opt.json)
			printf("%s\"%s\": %llu", i ? ", " : "{", v.stats[i].name, v.stats[i].value);
		else
			printf("%s: %llu\n", v.stats[i].name, v.stats[i].value);
	}
	if (!ret && opt.json)
		printf("}\n");
	view_free(&v);
	return ret;
}

static int cmd_buddyinfo(void)
{
	struct view v = { 0 };
	char *text = NULL;
	unsigned int o;
	int ret;

	ret = read_stats(&v);
	if (!ret)
		ret = read_debugfs("buddyinfo", &text);
	if (!ret)
		ret = parse_orders(&v, text, "buddyinfo", v.nr_free, NULL);
	free(text);
	if (!ret && !opt.json)
		printf("%5s %14s %12s\n", "order", "block_size", "free_blocks");
	for (o = 0; !ret && o <= v.max_order; o++) {
		if (opt.json)
			printf("%s{\"order\": %u, \"block_size\": %llu, \"free_blocks\": %llu}",
			       o ? ", " : "[", o, v.unit_size << o, v.nr_free[o]);
		else
			printf("%5u %14llu %12llu\n", o, v.unit_size << o, v.nr_free[o]);
	}
	if (!ret && opt.json)
		printf("]\n");
	view_free(&v);
	return ret;
}

/* --- the map --- */

/* One cell of the picture: who holds its bytes. */
struct cell {
	unsigned long long used;	/* bytes in blocks */
	unsigned int owner;		/* the first owner seen */
	bool several;			/* more than one owner */
	bool largest;			/* part of the largest free block */
};

struct picture {
	unsigned long long cell_size;
	unsigned long cells;
	struct cell *cell;
	unsigned int order;		/* for the unusable index */
};

static int picture_build(const struct view *v, struct picture *pic)
{
	unsigned long long units = v->pool_size / v->unit_size;
	size_t i;

	pic->cells = opt.cells;
	if (pic->cells > units)
		pic->cells = units;
	pic->cell_size = v->pool_size / pic->cells;
	pic->order = opt.order < 0 ? v->max_order / 2 : (unsigned int)opt.order;
	if (pic->order > v->max_order)
		return fail(EXIT_USAGE, "--order %u: the pool's largest order is %u", pic->order,
			    v->max_order);
	pic->cell = xrealloc(NULL, pic->cells * sizeof(*pic->cell));
	memset(pic->cell, 0, pic->cells * sizeof(*pic->cell));
	for (i = 0; i < v->nblocks; i++) {
		const struct block *b = &v->blocks[i];
		unsigned long long at = b->offset, end = b->offset + b->size;

		while (at < end) {
			unsigned long c = at / pic->cell_size;
			unsigned long long cell_end = (c + 1) * pic->cell_size;
			unsigned long long upto = end < cell_end ? end : cell_end;
			struct cell *cl = &pic->cell[c];

			if (cl->used && cl->owner != b->owner)
				cl->several = true;
			if (!cl->used)
				cl->owner = b->owner;
			cl->used += upto - at;
			at = upto;
		}
	}
	if (v->largest_order >= 0) {
		unsigned long long end = v->largest_offset + (v->unit_size << v->largest_order);
		unsigned long c;

		for (c = v->largest_offset / pic->cell_size;
		     c < pic->cells && c * pic->cell_size < end; c++)
			pic->cell[c].largest = true;
	}
	return EXIT_OK;
}

#define OWNER_LETTERS	26

static char cell_symbol(const struct picture *pic, const struct cell *c)
{
	if (!c->used)
		return '.';
	if (c->several)
		return '#';
	if (c->owner >= OWNER_LETTERS)
		return '*';
	return (c->used == pic->cell_size ? 'A' : 'a') + c->owner;
}

/* Background colours for owners on a terminal: distinct, readable with black. */
static const unsigned char term_colours[] = { 42, 43, 44, 45, 46, 41, 102, 103, 104, 105, 106, 101 };
static const char *const svg_colours[] = {
	"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2",
	"#e15759", "#9c755f", "#ff9da7", "#bab0ac", "#86bcb6", "#d37295",
};
#define NCOLOURS	(sizeof(term_colours) / sizeof(term_colours[0]))

static void owner_name(const struct owner *o, char *buf, size_t size)
{
	if (isdigit((unsigned char)o->file[0]))
		snprintf(buf, size, "file %s of pid %ld (%s)", o->file, o->tgid, o->comm);
	else
		snprintf(buf, size, "%s, from pid %ld (%s)", o->file, o->tgid, o->comm);
}

static bool use_colour(void)
{
	return opt.color < 0 ? isatty(STDOUT_FILENO) : opt.color;
}

static void print_summary(const struct view *v, const struct picture *pic)
{
	unsigned long long n;

	printf("pool %llu bytes (%s) of %s units, max order %u; %zu blocks live\n",
	       v->pool_size, human(v->pool_size), human(v->unit_size), v->max_order,
	       v->nblocks);
	printf("free %llu bytes (%.1f%%)", v->free_bytes,
	       100.0 * v->free_bytes / v->pool_size);
	if (v->largest_order < 0)
		printf(", no free block\n");
	else
		printf(", largest free block %s at offset %llu%s\n",
		       human(v->unit_size << v->largest_order), v->largest_offset,
		       v->largest_count > 1 ? " (the first of several)" : "");
	printf("unusable index at order %u (%s): %u.%03u %s\n", pic->order,
	       human(v->unit_size << pic->order), v->unusable[pic->order] / 1000,
	       v->unusable[pic->order] % 1000, v->free_bytes ? "of the free space is in smaller blocks" :
	       "(nothing is free)");
	if (memcmp(v->nr_free, v->derived_free, sizeof(v->nr_free)))
		printf("note: buddyinfo differs from the free space between the listed blocks (read at different moments, or space held outside any file)\n");
	n = pic->cells < ROW_CELLS ? pic->cells : ROW_CELLS;
	printf("map: %lu cells of %s, %llu to a row\n", pic->cells, human(pic->cell_size), n);
}

static void print_legend(const struct view *v, bool colour)
{
	char name[160];
	size_t i;

	printf("legend: . free  A-Z a block's owner (a-z: the cell partly free)  # several owners");
	if (v->nowners > OWNER_LETTERS)
		printf("  * owners past the 26th");
	printf("  ^ largest free block\n");
	for (i = 0; i < v->nowners; i++) {
		const struct owner *o = &v->owners[i];
		char letter = i < OWNER_LETTERS ? 'A' + i : '*';

		owner_name(o, name, sizeof(name));
		if (colour)
			printf("  \033[30;%um%c\033[0m", term_colours[i % NCOLOURS], letter);
		else
			printf("  %c", letter);
		printf(" %s: %llu block%s, %llu bytes (%s)\n", name, o->blocks,
		       o->blocks == 1 ? "" : "s", o->bytes, human(o->bytes));
	}
}

/* The escape sequence that colours @cl on a terminal, "" for none. */
static const char *cell_colour(const struct cell *cl, char *buf, size_t size)
{
	if (cl->several)
		return "\033[1;37;100m";
	if (!cl->used)
		return "";
	snprintf(buf, size, "\033[30;%um", term_colours[cl->owner % NCOLOURS]);
	return buf;
}

static void print_row(const struct picture *pic, unsigned long first, unsigned long end,
		      bool colour)
{
	char buf[2][24], *cur = "";
	unsigned long c;

	for (c = first; c < end; c++) {
		const struct cell *cl = &pic->cell[c];
		char *want = colour ? (char *)cell_colour(cl, buf[c & 1], sizeof(buf[0])) : "";

		if (strcmp(want, cur)) {
			if (*cur)
				fputs("\033[0m", stdout);
			fputs(want, stdout);
			cur = want;
		}
		putchar(cell_symbol(pic, cl));
	}
	if (*cur)
		fputs("\033[0m", stdout);
	putchar('\n');
}

static void print_map(const struct view *v, const struct picture *pic)
{
	bool colour = use_colour();
	unsigned long row, c;
	int width;
	char last[32];

	print_summary(v, pic);
	width = snprintf(last, sizeof(last), "%llu", v->pool_size - pic->cell_size);
	for (row = 0; row * ROW_CELLS < pic->cells; row++) {
		unsigned long first = row * ROW_CELLS;
		unsigned long end = first + ROW_CELLS < pic->cells ? first + ROW_CELLS : pic->cells;
		unsigned long marked_end = first;

		printf("%*llu ", width, first * pic->cell_size);
		print_row(pic, first, end, colour);
		for (c = first; c < end; c++)
			if (pic->cell[c].largest)
				marked_end = c + 1;
		if (marked_end == first)
			continue;
		printf("%*s ", width, "");
		for (c = first; c < marked_end; c++)
			putchar(pic->cell[c].largest ? '^' : ' ');
		putchar('\n');
	}
	print_legend(v, colour);
}

/* --- SVG --- */

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default: fputc(*s, f); break;
		}
	}
}

/* Pixel columns [x0, x1) of the pool's width holding bytes [offset, end). */
static void columns(const struct view *v, unsigned long long offset, unsigned long long end,
		    unsigned int *x0, unsigned int *x1)
{
	*x0 = (unsigned int)((long double)offset * SVG_WIDTH / v->pool_size);
	*x1 = (unsigned int)(((long double)end * SVG_WIDTH + v->pool_size - 1) / v->pool_size);
	if (*x1 <= *x0)
		*x1 = *x0 + 1;
	if (*x1 > SVG_WIDTH)
		*x1 = SVG_WIDTH;
}

struct order_rows {
	unsigned char (*px)[SVG_WIDTH];		/* [order][column]: a free block */
};

static void mark_free(struct view *v, unsigned long long offset, unsigned int order, void *ctx)
{
	struct order_rows *rows = ctx;
	unsigned int x0, x1, x;

	columns(v, offset, offset + (v->unit_size << order), &x0, &x1);
	for (x = x0; x < x1; x++)
		rows->px[order][x] = 1;
}

#define SVG_LEFT	190
#define SVG_ROW		16
#define SVG_MAP		48

static int write_svg(struct view *v, const struct picture *pic, const char *path)
{
	struct order_rows rows;
	unsigned int o, x, y, height, nlegend;
	unsigned long c;
	char name[160];
	size_t i;
	FILE *f;

	rows.px = xrealloc(NULL, (v->max_order + 1) * sizeof(*rows.px));
	memset(rows.px, 0, (v->max_order + 1) * sizeof(*rows.px));
	for_each_free(v, mark_free, &rows);

	f = strcmp(path, "-") ? fopen(path, "w") : stdout;
	if (!f) {
		free(rows.px);
		return fail(EXIT_FAIL, "%s: %s", path, strerror(errno));
	}
	nlegend = v->nowners < OWNER_LETTERS ? v->nowners : OWNER_LETTERS + 1;
	height = 70 + (v->max_order + 1) * SVG_ROW + 16 + SVG_MAP + 40 + nlegend * SVG_ROW;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" viewBox=\"0 0 %u %u\" font-family=\"monospace\" font-size=\"12\">\n",
		SVG_LEFT + SVG_WIDTH + 10, height, SVG_LEFT + SVG_WIDTH + 10, height);
	fprintf(f, "<title>buddy pool: %s of %s units</title>\n", human(v->pool_size),
		human(v->unit_size));
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"10\" y=\"20\">pool %llu bytes (%s) of %s units, %zu blocks live; free %llu bytes (%.1f%%)</text>\n",
		v->pool_size, human(v->pool_size), human(v->unit_size), v->nblocks,
		v->free_bytes, 100.0 * v->free_bytes / v->pool_size);
	fprintf(f, "<text x=\"10\" y=\"38\">unusable index at order %u (%s): %u.%03u</text>\n",
		pic->order, human(v->unit_size << pic->order), v->unusable[pic->order] / 1000,
		v->unusable[pic->order] % 1000);
	fprintf(f, "<text x=\"10\" y=\"58\">free blocks by order</text>\n");

	y = 66;
	for (o = v->max_order + 1; o-- > 0; y += SVG_ROW) {
		fprintf(f, "<g class=\"order\" data-order=\"%u\" data-free=\"%llu\">\n", o,
			v->derived_free[o]);
		fprintf(f, "<text x=\"10\" y=\"%u\">%2u %9s %7llu free</text>\n", y + 11, o,
			human(v->unit_size << o), v->derived_free[o]);
		fprintf(f, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"#eeeeee\"/>\n",
			SVG_LEFT, y + 1, SVG_WIDTH, SVG_ROW - 2);
		for (x = 0; x < SVG_WIDTH; x++) {
			unsigned int x0 = x;

			if (!rows.px[o][x])
				continue;
			while (x < SVG_WIDTH && rows.px[o][x])
				x++;
			fprintf(f, "<rect class=\"free\" x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"#2ca02c\"/>\n",
				SVG_LEFT + x0, y + 1, x - x0, SVG_ROW - 2);
		}
		fprintf(f, "</g>\n");
	}

	y += 16;
	fprintf(f, "<text x=\"10\" y=\"%u\">blocks (%lu cells of %s)</text>\n", y + SVG_MAP / 2 + 4,
		pic->cells, human(pic->cell_size));
	fprintf(f, "<g class=\"map\">\n");
	fprintf(f, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"white\" stroke=\"#999999\"/>\n",
		SVG_LEFT, y, SVG_WIDTH, SVG_MAP);
	for (c = 0; c < pic->cells; c++) {
		const struct cell *cl = &pic->cell[c];
		unsigned long c0 = c;
		unsigned int x0, x1;
		const char *fill;

		if (!cl->used)
			continue;
		/* One rect for a run of cells that look the same. */
		while (c + 1 < pic->cells && pic->cell[c + 1].used == cl->used &&
		       pic->cell[c + 1].owner == cl->owner &&
		       pic->cell[c + 1].several == cl->several)
			c++;
		columns(v, c0 * pic->cell_size, (c + 1) * pic->cell_size, &x0, &x1);
		fill = cl->several ? "#555555" : svg_colours[cl->owner % NCOLOURS];
		fprintf(f, "<rect class=\"block\" x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"%s\"%s/>\n",
			SVG_LEFT + x0, y, x1 - x0, SVG_MAP, fill,
			cl->used < pic->cell_size ? " fill-opacity=\"0.5\"" : "");
	}
	if (v->largest_order >= 0) {
		unsigned int x0, x1;

		columns(v, v->largest_offset,
			v->largest_offset + (v->unit_size << v->largest_order), &x0, &x1);
		fprintf(f, "<rect class=\"largest\" x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\"/>\n",
			SVG_LEFT + x0, y + 1, x1 - x0, SVG_MAP - 2);
	}
	fprintf(f, "</g>\n");
	y += SVG_MAP + 20;
	fprintf(f, "<text x=\"10\" y=\"%u\">", y);
	if (v->largest_order >= 0)
		fprintf(f, "red outline: the largest free block, %s at offset %llu",
			human(v->unit_size << v->largest_order), v->largest_offset);
	else
		fprintf(f, "no free block");
	fprintf(f, "; pale: a cell partly free; grey: several owners</text>\n");
	y += 8;
	for (i = 0; i < nlegend; i++, y += SVG_ROW) {
		fprintf(f, "<rect x=\"10\" y=\"%u\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", y + 2,
			i < OWNER_LETTERS ? svg_colours[i % NCOLOURS] : "#ffffff");
		fprintf(f, "<text x=\"28\" y=\"%u\">", y + 12);
		if (i < OWNER_LETTERS) {
			owner_name(&v->owners[i], name, sizeof(name));
			xml_text(f, name);
			fprintf(f, ": %llu blocks, %llu bytes", v->owners[i].blocks,
				v->owners[i].bytes);
		} else {
			fprintf(f, "and %zu more owners", v->nowners - OWNER_LETTERS);
		}
		fprintf(f, "</text>\n");
	}
	fprintf(f, "</svg>\n");
	free(rows.px);
	if (f != stdout ? fclose(f) : fflush(f))
		return fail(EXIT_FAIL, "%s: %s", path, strerror(errno));
	return EXIT_OK;
}

static int cmd_map(void)
{
	struct picture pic = { 0 };
	struct view v;
	int ret;

	ret = read_view(&v);
	if (ret)
		return ret;
	ret = picture_build(&v, &pic);
	if (!ret && opt.svg)
		ret = write_svg(&v, &pic, opt.svg);
	if (!ret && (!opt.svg || strcmp(opt.svg, "-")))
		print_map(&v, &pic);
	free(pic.cell);
	view_free(&v);
	return ret;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	size_t i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static int cmd_watch(void)
{
	bool tty = isatty(STDOUT_FILENO);
	long frame;
	int ret = EXIT_OK;

	catch_signals();
	for (frame = 0; !interrupted && (!opt.count || frame < opt.count); frame++) {
		struct timespec ts = {
			.tv_sec = (time_t)opt.interval,
			.tv_nsec = (long)((opt.interval - (time_t)opt.interval) * 1e9),
		};
		time_t now = time(NULL);
		char stamp[32];

		strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&now));
		if (tty)
			fputs("\033[H\033[J", stdout);
		printf("buddyctl watch, every %gs (interrupt to stop), %s\n", opt.interval, stamp);
		ret = cmd_map();
		/* A reading taken as the pool changed: the next one will do. */
		if (ret == EXIT_FAIL)
			ret = EXIT_OK;
		else if (ret)
			break;
		fflush(stdout);
		if (!opt.count || frame + 1 < opt.count)
			nanosleep(&ts, NULL);
	}
	return ret;
}

/* --- alloc --- */

static const struct {
	unsigned int flag;
	const char *option;
	const char *name;
} alloc_flags[] = {
	{ BUDDY_ALLOC_TOPDOWN, "--topdown", "BUDDY_ALLOC_TOPDOWN" },
	{ BUDDY_ALLOC_EXACT, "--exact", "BUDDY_ALLOC_EXACT" },
};

static int try_alloc(int fd, unsigned long long size, unsigned int flags,
		     struct buddy_alloc *ba)
{
	memset(ba, 0, sizeof(*ba));
	ba->size = size;
	ba->flags = flags;
	return ioctl(fd, BUDDY_IOC_ALLOC, ba) ? errno : 0;
}

/* After EINVAL for a valid size: name the flag this kernel lacks. */
static int explain_flags(int fd, unsigned long long unit)
{
	struct buddy_alloc probe;
	size_t i;

	for (i = 0; i < sizeof(alloc_flags) / sizeof(alloc_flags[0]); i++) {
		int err;

		if (!(opt.flags & alloc_flags[i].flag))
			continue;
		err = try_alloc(fd, unit, alloc_flags[i].flag, &probe);
		if (!err) {
			struct buddy_free bf = { .offset = probe.offset };

			ioctl(fd, BUDDY_IOC_FREE, &bf);
		} else if (err == EINVAL) {
			return fail(EXIT_FAIL, "this kernel does not support %s (%s, bit %u of struct buddy_alloc.flags): EINVAL",
				    alloc_flags[i].option, alloc_flags[i].name,
				    __builtin_ctz(alloc_flags[i].flag));
		}
	}
	return fail(EXIT_FAIL, "the kernel refused these flags together: %s", strerror(EINVAL));
}

static int cmd_alloc(char **sizes, int nsizes)
{
	unsigned long long *want = xrealloc(NULL, nsizes * sizeof(*want)), total = 0;
	struct buddy_info bi;
	int fd = -1, i, ret;

	for (i = 0; i < nsizes; i++) {
		if (!parse_size(sizes[i], &want[i]) || !want[i]) {
			free(want);
			return fail(EXIT_USAGE, "alloc: \"%s\" is not a size (bytes, or with K, M, G)",
				    sizes[i]);
		}
	}
	ret = open_device(&fd);
	if (!ret)
		ret = get_info(fd, &bi);
	for (i = 0; !ret && i < nsizes; i++) {
		if (want[i] > bi.pool_size)
			ret = fail(EXIT_USAGE, "alloc: %s is larger than the pool (%llu bytes)",
				   sizes[i], (unsigned long long)bi.pool_size);
	}
	for (i = 0; !ret && i < nsizes; i++) {
		struct buddy_alloc ba;
		int err = try_alloc(fd, want[i], opt.flags, &ba);

		if (err == EINVAL && opt.flags)
			ret = explain_flags(fd, bi.unit_size);
		else if (err == ENOMEM)
			ret = fail(EXIT_FAIL, "alloc %llu bytes: no free block that large now (largest free: %llu bytes)",
				   want[i], get_info(fd, &bi) ? 0ULL :
				   (unsigned long long)bi.largest_free);
		else if (err == EDQUOT)
			ret = fail(EXIT_FAIL, "alloc %llu bytes: over max_bytes_per_file (/sys/module/buddy_alloc/parameters/)",
				   want[i]);
		else if (err)
			ret = fail(EXIT_FAIL, "alloc %llu bytes: %s", want[i], strerror(err));
		else
			printf("alloc %llu bytes: offset %llu, block %llu bytes\n", want[i],
			       (unsigned long long)ba.offset, (unsigned long long)ba.block_size);
		total += err ? 0 : ba.block_size;
	}
	free(want);
	if (!ret && opt.hold) {
		sigset_t block, old;

		sigemptyset(&block);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGTERM);
		sigaddset(&block, SIGHUP);
		sigprocmask(SIG_BLOCK, &block, &old);
		catch_signals();
		printf("holding %d block%s, %llu bytes, in pid %d until interrupted\n", nsizes,
		       nsizes == 1 ? "" : "s", total, getpid());
		fflush(stdout);
		while (!interrupted)
			sigsuspend(&old);
		printf("freeing them\n");
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/* --- demo --- */

static int demo_alloc(int fd, unsigned long long size, struct buddy_alloc *ba)
{
	int err = try_alloc(fd, size, 0, ba);

	if (err)
		return fail(EXIT_FAIL, "alloc %llu bytes: %s", size, strerror(err));
	printf("alloc %llu bytes: offset %llu, block %llu bytes\n", size,
	       (unsigned long long)ba->offset, (unsigned long long)ba->block_size);
	return EXIT_OK;
}

/* The export counters of debugfs stats, on one line. */
static int demo_show_exported(void)
{
	unsigned long long blocks = 0, bytes = 0;
	struct view v = { 0 };
	int ret;

	ret = read_stats(&v);
	if (!ret && (!stat_get(&v, "exported_blocks", &blocks) ||
		     !stat_get(&v, "exported_bytes", &bytes)))
		ret = fail(EXIT_FAIL, "%s/stats: no exported_blocks or exported_bytes",
			   opt.debugfs);
	if (!ret)
		printf("exported_blocks: %llu, exported_bytes: %llu\n", blocks, bytes);
	view_free(&v);
	return ret;
}

/* Export @ba as a DMA-BUF, show it in the map and the counters, close it. */
static int demo_export(int fd, const struct buddy_alloc *ba)
{
	struct buddy_export be = { .offset = ba->offset, .fd_flags = O_RDWR | O_CLOEXEC };
	int ret;

	if (ioctl(fd, BUDDY_IOC_EXPORT, &be))
		return fail(EXIT_FAIL, "export offset %llu: %s", (unsigned long long)ba->offset,
			    strerror(errno));
	printf("--- export offset %llu: DMA-BUF fd %u, owner \"exported\" in the map\n",
	       (unsigned long long)ba->offset, be.fd);
	ret = demo_show_exported();
	if (!ret)
		ret = cmd_map();
	close((int)be.fd);
	printf("--- close the DMA-BUF: the block is zeroed and freed\n");
	if (!ret)
		ret = demo_show_exported();
	return ret;
}

static int cmd_demo(void)
{
	struct buddy_alloc a, b, c;
	struct buddy_free bf = { 0 };
	int fd, ret;

	printf("--- buddyctl info\n");
	ret = cmd_info();
	if (ret)
		return ret;
	ret = open_device(&fd);
	if (ret)
		return ret;
	printf("--- three blocks\n");
	ret = demo_alloc(fd, 7000, &a);
	if (!ret)
		ret = demo_alloc(fd, 1, &b);
	if (!ret)
		ret = demo_alloc(fd, 20000, &c);
	if (ret)
		goto out;
	printf("--- buddyctl map, holding them\n");
	opt.cells = 64;
	ret = cmd_map();
	if (ret)
		goto out;
	bf.offset = a.offset;
	if (ioctl(fd, BUDDY_IOC_FREE, &bf)) {
		ret = fail(EXIT_FAIL, "free %llu: %s", (unsigned long long)bf.offset,
			   strerror(errno));
		goto out;
	}
	printf("--- free offset %llu\n", (unsigned long long)bf.offset);
	if (ioctl(fd, BUDDY_IOC_FREE, &bf) == 0 || errno != EINVAL) {
		ret = fail(EXIT_FAIL, "a second free of %llu was not refused with EINVAL",
			   (unsigned long long)bf.offset);
		goto out;
	}
	printf("free offset %llu again: %s, as it must\n", (unsigned long long)bf.offset,
	       strerror(EINVAL));
	ret = demo_export(fd, &c);
	if (ret)
		goto out;
	printf("--- buddyctl stats\n");
	ret = cmd_stats();
	if (!ret) {
		printf("--- buddyctl buddyinfo\n");
		ret = cmd_buddyinfo();
	}
out:
	close(fd);
	return ret;
}

/* --- command line --- */

static void usage(FILE *f)
{
	fputs("usage: buddyctl [--debugfs DIR] [--device PATH] COMMAND [OPTIONS]\n"
	      "\n"
	      "  info [--json]         the pool, from BUDDY_IOC_INFO\n"
	      "  stats [--json]        debugfs stats\n"
	      "  buddyinfo [--json]    free blocks per order (debugfs buddyinfo)\n"
	      "  map                   a picture of the pool, from debugfs blocks\n"
	      "      --cells N         cells in the picture, a power of two (default 128)\n"
	      "      --order N         the order for the unusable index (default max_order/2)\n"
	      "      --svg FILE        also write it as SVG, free blocks per order above (- : stdout only)\n"
	      "      --color WHEN      always, never or auto (default: when stdout is a terminal)\n"
	      "  watch                 the map again every second, until interrupted\n"
	      "      --interval S      seconds between pictures (default 1)\n"
	      "      --count N         stop after N pictures\n"
	      "  alloc SIZE...         allocate blocks (SIZE in bytes, or with K, M, G) and print them\n"
	      "      --exact           ask for exactly SIZE bytes (BUDDY_ALLOC_EXACT)\n"
	      "      --topdown         the highest of the smallest free blocks that fit (BUDDY_ALLOC_TOPDOWN)\n"
	      "      --hold            keep them until interrupted (Ctrl-C), for a map from another shell\n"
	      "  demo                  allocate, map, free, export as a DMA-BUF and show the statistics\n"
	      "\n"
	      "  --debugfs DIR         read the debugfs files from DIR (default " DEFAULT_DEBUGFS ")\n"
	      "  --device PATH         the device (default " DEFAULT_DEVICE ")\n"
	      "\n"
	      "Exit status: 0 done, 1 the kernel refused or showed something wrong, 2 bad usage,\n"
	      "3 buddy unavailable (module not loaded, debugfs not mounted), 4 permission denied.\n"
	      "Blocks are freed when buddyctl exits. See buddyctl(1).\n", f);
}

static bool parse_ulong(const char *s, unsigned long *n)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	*n = strtoul(s, &end, 0);
	return !errno && !*end;
}

int main(int argc, char **argv)
{
	const char *cmd = NULL;
	char **args = xrealloc(NULL, argc * sizeof(*args));
	int nargs = 0, i, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned long n;
		bool takes = true;

		if (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "help")) {
			usage(stdout);
			free(args);
			return EXIT_OK;
		} else if (!strcmp(a, "--json")) {
			opt.json = true;
			takes = false;
		} else if (!strcmp(a, "--exact")) {
			opt.flags |= BUDDY_ALLOC_EXACT;
			takes = false;
		} else if (!strcmp(a, "--topdown")) {
			opt.flags |= BUDDY_ALLOC_TOPDOWN;
			takes = false;
		} else if (!strcmp(a, "--hold")) {
			opt.hold = true;
			takes = false;
		} else if (a[0] == '-' && a[1] == '-' && !val) {
			ret = fail(EXIT_USAGE, "%s: unknown option, or it needs a value (buddyctl --help)", a);
			free(args);
			return ret;
		} else if (!strcmp(a, "--debugfs")) {
			opt.debugfs = val;
			debugfs_given = true;
		} else if (!strcmp(a, "--device")) {
			opt.device = val;
		} else if (!strcmp(a, "--svg")) {
			opt.svg = val;
		} else if (!strcmp(a, "--cells")) {
			if (!parse_ulong(val, &n) || !n || (n & (n - 1)) || n > (1UL << 24)) {
				free(args);
				return fail(EXIT_USAGE, "--cells %s: a power of two, 1 to 16777216", val);
			}
			opt.cells = n;
		} else if (!strcmp(a, "--order")) {
			if (!parse_ulong(val, &n) || n >= MAX_ORDERS) {
				free(args);
				return fail(EXIT_USAGE, "--order %s: not an order", val);
			}
			opt.order = n;
		} else if (!strcmp(a, "--color") || !strcmp(a, "--colour")) {
			if (!strcmp(val, "always")) {
				opt.color = 1;
			} else if (!strcmp(val, "never")) {
				opt.color = 0;
			} else if (!strcmp(val, "auto")) {
				opt.color = -1;
			} else {
				free(args);
				return fail(EXIT_USAGE, "--color %s: always, never or auto", val);
			}
		} else if (!strcmp(a, "--interval")) {
			char *end;

			opt.interval = strtod(val, &end);
			if (*end || !(opt.interval >= 0.01 && opt.interval <= 3600)) {
				free(args);
				return fail(EXIT_USAGE, "--interval %s: seconds, 0.01 to 3600", val);
			}
		} else if (!strcmp(a, "--count")) {
			if (!parse_ulong(val, &n) || !n) {
				free(args);
				return fail(EXIT_USAGE, "--count %s: a number of pictures", val);
			}
			opt.count = n;
		} else if (a[0] == '-' && a[1] == '-') {
			free(args);
			return fail(EXIT_USAGE, "%s: unknown option (buddyctl --help)", a);
		} else if (!cmd) {
			cmd = a;
			takes = false;
		} else {
			args[nargs++] = argv[i];
			takes = false;
		}
		if (takes)
			i++;
	}

	if (!cmd) {
		usage(stderr);
		ret = EXIT_USAGE;
	} else if (!strcmp(cmd, "alloc")) {
		ret = nargs ? cmd_alloc(args, nargs) :
			fail(EXIT_USAGE, "alloc: which sizes? (buddyctl alloc 4K 64K)");
	} else if (nargs) {
		ret = fail(EXIT_USAGE, "%s: unexpected argument \"%s\"", cmd, args[0]);
	} else if ((opt.flags || opt.hold) && strcmp(cmd, "alloc")) {
		ret = fail(EXIT_USAGE, "--exact, --topdown and --hold are options of alloc");
	} else if (!strcmp(cmd, "info")) {
		ret = cmd_info();
	} else if (!strcmp(cmd, "stats")) {
		ret = cmd_stats();
	} else if (!strcmp(cmd, "buddyinfo")) {
		ret = cmd_buddyinfo();
	} else if (!strcmp(cmd, "map")) {
		ret = cmd_map();
	} else if (!strcmp(cmd, "watch")) {
		ret = cmd_watch();
	} else if (!strcmp(cmd, "demo")) {
		ret = cmd_demo();
	} else {
		ret = fail(EXIT_USAGE, "%s: unknown command (buddyctl --help)", cmd);
	}
	free(args);
	return ret;
}
