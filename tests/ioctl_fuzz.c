// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_fuzz: a bounded random fuzzer of /dev/buddy's ioctls and mmap,
 * checked against a model of what every open file owns.
 *
 * Each step picks at random: ALLOC and BATCH ALLOC ops with the placement
 * flags (TOPDOWN, RANGE, EXACT, mixed, with ranges; sometimes an unknown
 * bit, a range without RANGE, a bad range, or a 32-byte struct or 40-byte
 * ops, which carry no range), FREE, INFO, BATCH (random op arrays, op_size
 * of either version or newer, flags), a random command number (right or
 * wrong magic, random nr, direction and _IOC_SIZE 0..256), any of those
 * with the argument in bad memory (NULL, a kernel address, an unmapped
 * page, a read-only page, or straddling into one), mmap (random offsets: a block's start, inside
 * one, another file's, free, out of range, misaligned; random lengths,
 * prot and flags), munmap (whole, or a piece, which splits the VMA),
 * mremap (grow must fail, shrink, move), close, open (read-write or
 * read-only), dup, fork (the child works on the shared files and
 * mappings and undoes what it did), max_bytes_per_file changes, and
 * percpu_cache switched off and on (debugfs percpu must then list no
 * cached block, and every prediction holds either way); and
 * DMA-BUFs: EXPORT (random offsets, fd_flags, flags, struct sizes and
 * memory like the other commands), then on the DMA-BUF descriptors, in
 * random order with everything above: close, dup, mmap (random offsets,
 * lengths, prot and flags; munmap and mremap treat these mappings like the
 * others), DMA_BUF_IOCTL_SYNC with random flags, vgem's PRIME import and
 * GEM_CLOSE, and closing /dev/buddy under them.  An exported block is
 * nobody's in the model until its last descriptor, mapping and import are
 * gone; then it is free, and the first mapping of a new block there must
 * read zero.
 *
 * The model knows every live block (offset, size, owning open file
 * description, mappings), so it predicts each result: a failure must be
 * the right errno, a success must give a block that is aligned, in the
 * pool (in the range) and free in the model, and a placed one exactly where
 * the cores' rule puts it; ENOMEM is accepted only when the model has no
 * free aligned block of that size (in the range).  An EXACT block is its
 * extent: FREE, quotas, mmap (whole pages of it) and EXPORT (a whole number
 * of pages) go by it.  A block reads zero the first time it is mapped.
 * Periodically and at the end INFO (free_bytes, largest_free), debugfs
 * stats and blocks (every block with its file, and no other) and the
 * consistency checks of tests/e2e.h must agree with the model; after
 * closing everything the pool must be whole with live_blocks 0.
 *
 *   ioctl_fuzz [--seconds S] [--iters N] [--seed N] [--verbose]
 *
 * Before the random steps, two fixed BATCH cases that once failed with
 * -EFAULT after an op took effect.
 *
 * Defaults: 60 s, 10 million steps, a seed from the clock (printed; replay
 * with --seed).  Prints the count of each kind of step and ends with
 * "N passed, N failed" (checks; every predicted result counts as one,
 * silently unless it fails).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/dma-buf.h>

#include "e2e.h"

#define NSLOTS		6
#define MAX_FILES	48
#define MAX_VMAS	64
/* This kernel's struct buddy_batch_op (56 bytes); the first was 40, the least op_size. */
#define OP_SIZE		((unsigned int)sizeof(struct buddy_batch_op))
#define OP_V1_SIZE	40
/* The first struct buddy_alloc, before the range fields. */
#define ALLOC_V1_SIZE	32
#define PLACE_FLAGS	(BUDDY_ALLOC_TOPDOWN | BUDDY_ALLOC_RANGE | BUDDY_ALLOC_EXACT)
#define MAX_OPS		160
#define SENTINEL	0x5a5a5a5a
#define QUOTA_PARAM	E2E_PARAM("max_bytes_per_file")

static struct buddy_info info;
static long psz;
static unsigned int unit_shift, max_order;
static __u64 nunits;
static bool verbose;
static unsigned long mismatches_shown;

/* ---------------------------------------------------------------------- */
/* checks: every prediction is a check, printed only when it fails */

static void pass(void)
{
	e2e_passed++;
}

static unsigned long step;

static bool expect(bool cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool expect(bool cond, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (cond) {
		pass();
		return true;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Past a few dozen the rest would say nothing new. */
	if (mismatches_shown++ < 60)
		e2e_check(false, "step %lu: %s", step, msg);
	else
		e2e_failed++;
	return false;
}

static __u64 rnd(__u64 n)
{
	return n ? e2e_rand() % n : 0;
}

static bool chance(unsigned int percent)
{
	return rnd(100) < percent;
}

/* ---------------------------------------------------------------------- */
/* step statistics */

enum kind {
	K_ALLOC, K_FREE, K_INFO, K_BATCH, K_BADCMD, K_SIZED, K_BADPTR, K_MMAP,
	K_MUNMAP, K_MREMAP, K_CLOSE, K_OPEN, K_DUP, K_FORK, K_QUOTA, K_CACHE,
	K_CHECK, K_EXPORT, K_DBUF_CLOSE, K_DBUF_DUP, K_DBUF_MMAP, K_DBUF_SYNC,
	K_IMPORT, K_NR
};

static const char *const kind_name[K_NR] = {
	"ALLOC", "FREE", "INFO", "BATCH", "bad command", "struct size",
	"bad pointer", "mmap", "munmap", "mremap", "close", "open", "dup",
	"fork", "quota", "percpu_cache", "full check", "EXPORT", "dmabuf close",
	"dmabuf dup", "dmabuf mmap", "dmabuf sync", "vgem import",
};

static struct {
	unsigned long calls, ok, err;
} kstat[K_NR];
static unsigned long batch_ops_run, recovered, zero_checked;
/* Placed blocks at the model's offset, of them EXACT extents not a power of two; range ENOMEMs. */
static unsigned long placed_checked, odd_extents, range_enomem;

static void count(enum kind k, int ret)
{
	kstat[k].calls++;
	if (ret >= 0)
		kstat[k].ok++;
	else
		kstat[k].err++;
}

/* ---------------------------------------------------------------------- */
/* the model */

struct mfile {
	bool used;
	bool rdonly;
	int slots;		/* descriptors in slots[] */
	int vmas;		/* mappings: each holds the file */
	__u64 bytes;
};

struct mvma {
	bool used;
	char *addr;
	size_t len;
	int file;		/* /dev/buddy's file, or -1 */
	int dbuf;		/* the DMA-BUF mapped, or -1 */
	__u64 boff;		/* the block's offset */
	int prot;
};

static struct mfile files[MAX_FILES];
static struct {
	int fd;
	int file;
} slots[NSLOTS];
static struct mvma vmas[MAX_VMAS];

/* Exported blocks: owner[] holds EXPORTED for their units. */
#define EXPORTED	0xff
#define NDBUFS		8

struct mdbuf {
	bool used;
	__u64 off, size;
	int fds;		/* descriptors in dslots[] */
	int vmas;		/* mappings: each holds the DMA-BUF */
	bool rdonly;
	__u32 handle;		/* vgem's handle of its import, 0 if none */
};

static struct mdbuf dbufs[NDBUFS];
static struct {
	int fd;
	int dbuf;
} dslots[NSLOTS];
static __u64 exported_blocks, exported_bytes;
static int drm = -1;

/*
 * Per unit: owning file + 1 (0: free); at a block's first unit, its size in
 * bytes (its block_size: with BUDDY_ALLOC_EXACT the extent, else a power of
 * two), 0 elsewhere.
 */
static unsigned char *owner;
static __u64 *start;
static bool *mapped_once;
static __u64 used_bytes, live_blocks;
static __u64 quota;

static __u64 bsize(unsigned int order)
{
	return (__u64)info.unit_size << order;
}

static unsigned int order_for(__u64 size)
{
	__u64 u = (size + info.unit_size - 1) >> unit_shift;
	unsigned int o = 0;

	while ((1ULL << o) < u)
		o++;
	return o;
}

static bool window_free(__u64 off, __u64 size)
{
	__u64 u, first = off >> unit_shift, n = size >> unit_shift;

	for (u = first; u < first + n; u++)
		if (owner[u])
			return false;
	return true;
}

/* Is there a free aligned window of @size bytes in [@lo, @hi)? */
static bool any_free_window(__u64 size, __u64 lo, __u64 hi)
{
	__u64 off;

	for (off = (lo + size - 1) / size * size; off + size <= hi; off += size)
		if (window_free(off, size))
			return true;
	return false;
}

/*
 * A free block of the core's: a free aligned window whose buddy is not all
 * free (the core has coalesced every pair that is), or the whole pool.
 */
static bool free_block_at(__u64 off, __u64 size)
{
	return window_free(off, size) &&
	       (size == info.pool_size || !window_free(off ^ size, size));
}

static __u64 model_largest(void)
{
	int o;

	for (o = max_order; o >= 0; o--)
		if (any_free_window(bsize(o), 0, info.pool_size))
			return bsize(o);
	return 0;
}

/* The size in bytes of the block of @file starting at @off, else 0. */
static __u64 block_at(int file, __u64 off)
{
	__u64 u;

	if (off >= info.pool_size || off & (info.unit_size - 1))
		return 0;
	u = off >> unit_shift;
	if (!start[u] || owner[u] != file + 1)
		return 0;
	return start[u];
}

static bool block_mapped(int file, __u64 off)
{
	int i;

	for (i = 0; i < MAX_VMAS; i++)
		if (vmas[i].used && vmas[i].file == file && vmas[i].boff == off)
			return true;
	return false;
}

static void model_add(int file, __u64 off, __u64 size)
{
	__u64 u, first = off >> unit_shift, n = size >> unit_shift;

	for (u = first; u < first + n; u++)
		owner[u] = file + 1;
	start[first] = size;
	mapped_once[first] = false;
	files[file].bytes += size;
	used_bytes += size;
	live_blocks++;
}

static void model_del(__u64 off)
{
	__u64 u, first = off >> unit_shift, size = start[first];
	int file = owner[first] - 1;

	for (u = first; u < first + (size >> unit_shift); u++)
		owner[u] = 0;
	start[first] = 0;
	files[file].bytes -= size;
	used_bytes -= size;
	live_blocks--;
}

/* A random block of @file (or of anyone, file -1); UINT64_MAX if none. */
static __u64 pick_block(int file)
{
	__u64 u, from = rnd(nunits), i;

	for (i = 0; i < nunits; i++) {
		u = (from + i) % nunits;
		if (start[u] && (file < 0 || owner[u] == file + 1))
			return u << unit_shift;
	}
	return UINT64_MAX;
}

/* The last reference to an open file went: its blocks come back. */
static void file_maybe_release(int f)
{
	__u64 u;

	if (files[f].slots || files[f].vmas)
		return;
	for (u = 0; u < nunits; u++)
		if (start[u] && owner[u] == f + 1)
			model_del(u << unit_shift);
	files[f].used = false;
}

static int file_new(bool rdonly)
{
	int f;

	for (f = 0; f < MAX_FILES; f++) {
		if (!files[f].used) {
			memset(&files[f], 0, sizeof(files[f]));
			files[f].used = true;
			files[f].rdonly = rdonly;
			return f;
		}
	}
	return -1;
}

static int dslot_fd(int s);

/* A random open slot of /dev/buddy's (or of DMA-BUFs'); -1 if none. */
static int random_open_slot(bool dmabuf)
{
	int i, s = rnd(NSLOTS);

	for (i = 0; i < NSLOTS; i++)
		if ((dmabuf ? dslot_fd((s + i) % NSLOTS) : slots[(s + i) % NSLOTS].fd) >= 0)
			return (s + i) % NSLOTS;
	return -1;
}

static int slot_any(void)
{
	return random_open_slot(false);
}

static void slot_close(int s)
{
	int f = slots[s].file;

	close(slots[s].fd);
	slots[s].fd = -1;
	files[f].slots--;
	file_maybe_release(f);
}

static int slot_open(int s, bool rdonly)
{
	int f = file_new(rdonly), fd;

	if (f < 0)
		return -EMFILE;
	fd = open(BUDDY_DEV, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		files[f].used = false;
		return -errno;
	}
	slots[s].fd = fd;
	slots[s].file = f;
	files[f].slots = 1;
	return 0;
}

static struct mvma *vma_new(void)
{
	int i;

	for (i = 0; i < MAX_VMAS; i++)
		if (!vmas[i].used)
			return &vmas[i];
	return NULL;
}

static int vmas_free(void)
{
	int i, n = 0;

	for (i = 0; i < MAX_VMAS; i++)
		n += !vmas[i].used;
	return n;
}

static void dbuf_maybe_release(int d);
static void dbuf_make_room(void);

static void vma_drop(struct mvma *v)
{
	int f = v->file;

	v->used = false;
	if (v->dbuf >= 0) {
		dbufs[v->dbuf].vmas--;
		dbuf_maybe_release(v->dbuf);
		return;
	}
	files[f].vmas--;
	file_maybe_release(f);
}

/* A reference to a DMA-BUF went: with the last, its block is free. */
static void dbuf_maybe_release(int d)
{
	struct mdbuf *b = &dbufs[d];
	__u64 u, first = b->off >> unit_shift;

	if (b->fds || b->vmas || b->handle)
		return;
	for (u = first; u < first + (b->size >> unit_shift); u++)
		owner[u] = 0;
	start[first] = 0;
	used_bytes -= b->size;
	live_blocks--;
	exported_blocks--;
	exported_bytes -= b->size;
	b->used = false;
}

static void dslot_close(int s)
{
	int d = dslots[s].dbuf;

	close(dslots[s].fd);
	dslots[s].fd = -1;
	dbufs[d].fds--;
	dbuf_maybe_release(d);
}

static int dslot_free(void)
{
	int i;

	for (i = 0; i < NSLOTS; i++)
		if (dslots[i].fd < 0)
			return i;
	return -1;
}

static int dslot_fd(int s)
{
	return dslots[s].fd;
}

static int dslot_any(void)
{
	return random_open_slot(true);
}

/* What EXPORT of @off by @file with these flags should return. */
static int export_predict(int file, __u64 off, __u32 fd_flags, __u64 flags)
{
	__u32 access = fd_flags & O_ACCMODE;
	__u64 bytes;

	if (flags || fd_flags & ~(O_ACCMODE | O_CLOEXEC) ||
	    (access != O_RDONLY && access != O_RDWR))
		return -EINVAL;
	if (access == O_RDWR && files[file].rdonly)
		return -EACCES;
	bytes = block_at(file, off);
	if (!bytes)
		return -EINVAL;
	if (block_mapped(file, off))
		return -EBUSY;
	/* Whole pages only: an EXACT extent may end inside one. */
	if (bytes < (__u64)psz || bytes % psz)
		return -EINVAL;
	return 0;
}

/* A successful EXPORT: the block is the DMA-BUF's, @fd its descriptor. */
static void export_learn(int file, __u64 off, int fd, bool rdonly, const char *what)
{
	__u64 u, first = off >> unit_shift, size = start[first];
	int d, s = dslot_free();

	for (d = 0; d < NDBUFS && dbufs[d].used; d++)
		;
	for (u = first; u < first + (size >> unit_shift); u++)
		owner[u] = EXPORTED;
	files[file].bytes -= size;
	exported_blocks++;
	exported_bytes += size;
	if (!expect(d < NDBUFS && s >= 0 && fd >= 0,
		    "%s: no room in the model for DMA-BUF fd %d", what, fd)) {
		/* Not reached by the generators; keep the model right anyway. */
		if (fd >= 0)
			close(fd);
		return;
	}
	memset(&dbufs[d], 0, sizeof(dbufs[d]));
	dbufs[d].used = true;
	dbufs[d].off = off;
	dbufs[d].size = size;
	dbufs[d].fds = 1;
	dbufs[d].rdonly = rdonly;
	dslots[s].fd = fd;
	dslots[s].dbuf = d;
}

/*
 * An EXPORT succeeded through a struct too short to carry the descriptor
 * back: it is installed all the same; find it among ours.
 */
static int recover_dbuf_fd(void)
{
	char val[32];
	int fd, i;

	for (fd = 3; fd < 1024; fd++) {
		if (fcntl(fd, F_GETFD) < 0 || e2e_fdinfo(fd, "exp_name", val, sizeof(val)) ||
		    strcmp(val, "buddy"))
			continue;
		for (i = 0; i < NSLOTS && dslots[i].fd != fd; i++)
			;
		if (i == NSLOTS)
			return fd;
	}
	return -1;
}


/* ---------------------------------------------------------------------- */
/* argument memory */

/*
 * Arenas: pages RW, RW, RO, NONE.  A pointer has readable and writable
 * lengths (how far the kernel gets before it faults) and whether
 * access_ok() passes.
 */
enum memkind {
	M_GOOD, M_RW_RO, M_RO, M_RO_NONE, M_NONE, M_NULL, M_KERNEL, M_NR
};

static const char *const memkind_name[M_NR] = {
	"good", "rw|ro straddle", "read-only", "ro|none straddle", "unmapped",
	"NULL", "kernel address",
};

struct arena {
	char *base;		/* 2 RW pages, 1 RO, 1 NONE; RW extends for ops */
	size_t rw;		/* bytes of RW before the RO page */
};

static struct arena arg_arena, ops_arena;

struct uptr {
	char *p;
	size_t readable, writable;
	bool access_ok;
	enum memkind kind;
};

static void arena_init(struct arena *a, size_t rw_pages)
{
	size_t len = (rw_pages + 2) * psz;

	/*
	 * The PROT_NONE page is never touched: UML's uaccess reads a
	 * populated PROT_NONE page (its pte_present() is true for them).
	 */
	a->base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a->base == MAP_FAILED) {
		perror("mmap arena");
		exit(2);
	}
	a->rw = rw_pages * psz;
	mprotect(a->base, a->rw, PROT_READ | PROT_WRITE);
	memset(a->base, 0, a->rw);
	mprotect(a->base + a->rw, psz, PROT_READ | PROT_WRITE);
	memset(a->base + a->rw, 0, psz);
	mprotect(a->base + a->rw, psz, PROT_READ);
}

static void arena_ro_writable(struct arena *a, bool w)
{
	mprotect(a->base + a->rw, psz, w ? PROT_READ | PROT_WRITE : PROT_READ);
}

static const uintptr_t kernel_ptrs[] = {
	0xffff888000000000ULL, 0xffffffff81000000ULL, 0x8000000000000000ULL,
	(uintptr_t)-4096,
};

/* A pointer of @kind for @len bytes in @a. */
static struct uptr place(struct arena *a, enum memkind kind, size_t len)
{
	struct uptr u = { .kind = kind, .access_ok = true };
	char *ro = a->base + a->rw, *none = ro + psz;
	size_t d;

	switch (kind) {
	case M_GOOD:
		u.p = a->base + rnd(8) * 8;
		u.readable = none - u.p;
		u.writable = ro - u.p;
		break;
	case M_RW_RO:
		d = len > 1 ? 1 + rnd(len - 1) : 1;
		u.p = ro - d;
		u.writable = d;
		u.readable = d + psz;
		break;
	case M_RO:
		u.p = ro + rnd(8) * 8;
		u.readable = none - u.p;
		u.writable = 0;
		break;
	case M_RO_NONE:
		d = len > 1 ? 1 + rnd((len < (size_t)psz ? len : (size_t)psz) - 1) : 1;
		u.p = none - d;
		u.readable = d;
		u.writable = 0;
		break;
	case M_NONE:
		u.p = none + rnd(8) * 8;
		break;
	case M_NULL:
		u.p = NULL;
		break;
	default:
		u.p = (char *)kernel_ptrs[rnd(ARRAY_SIZE(kernel_ptrs))];
		u.access_ok = false;
		break;
	}
	return u;
}

/* Whether we can read @len bytes there ourselves (as the kernel can). */
static bool we_can_read(const struct uptr *u, size_t len)
{
	return u->access_ok && u->p && len <= u->readable;
}

/* Write @len bytes at @u (what we can: the RO page is made writable). */
static void fill(struct arena *a, const struct uptr *u, const void *src, size_t len)
{
	size_t n = len;

	if (u->kind == M_NONE || u->kind == M_NULL || u->kind == M_KERNEL)
		return;
	n = len < u->readable ? len : u->readable;
	arena_ro_writable(a, true);
	memcpy(u->p, src, n);
	arena_ro_writable(a, false);
}

/* ---------------------------------------------------------------------- */
/* predictions */

/* The power-of-two block an ALLOC of @size takes, in bytes. */
static __u64 block_for(__u64 size)
{
	return bsize(order_for(size));
}

/* What the file holds after it: with EXACT the extent, else the block. */
static __u64 kept_for(const struct buddy_alloc *a)
{
	if (a->flags & BUDDY_ALLOC_EXACT)
		return (a->size + info.unit_size - 1) & ~(info.unit_size - 1);
	return block_for(a->size);
}

/*
 * Where the block may lie: [*@lo, *@hi), the pool without RANGE.  With it,
 * the block starts at or after the range's start, aligned, and what the
 * file keeps (kept_for(): EXACT's extent, else the block) ends by the
 * range's end; *@hi is one block past the last such start.
 */
static void alloc_bounds(const struct buddy_alloc *a, __u64 *lo, __u64 *hi)
{
	__u64 b = block_for(a->size), keep = kept_for(a);

	*lo = 0;
	*hi = info.pool_size;
	if (a->flags & BUDDY_ALLOC_RANGE) {
		*lo = (a->range_start + b - 1) / b * b;
		*hi = a->range_end < keep ? 0 : (a->range_end - keep) / b * b + b;
	}
}

/*
 * The offset an ALLOC with placement flags gets, UINT64_MAX for -ENOMEM.
 * It drains the per-CPU caches first, so the core's free blocks are the
 * model's (free_block_at()), and the cores' rule decides: among the orders
 * that fit, from the smallest up, the first with a free block meeting
 * [lo, hi) gives its lowest such block (TOPDOWN: highest), and the block
 * taken is the part of it at lo's end (TOPDOWN: at hi's).
 */
static __u64 model_place(const struct buddy_alloc *a)
{
	bool top = a->flags & BUDDY_ALLOC_TOPDOWN;
	__u64 b = block_for(a->size), lo, hi, fb, first, last, at;

	alloc_bounds(a, &lo, &hi);
	if (lo >= hi)
		return UINT64_MAX;
	for (fb = b; fb <= info.pool_size; fb <<= 1) {
		first = lo / fb * fb;
		last = (hi - 1) / fb * fb;
		for (at = top ? last : first;; at = top ? at - fb : at + fb) {
			if (free_block_at(at, fb)) {
				if (top)
					return (at + fb < hi ? at + fb : hi) - b;
				return at > lo ? at : lo;
			}
			if (at == (top ? first : last))
				break;
		}
	}
	return UINT64_MAX;
}

/* What one ALLOC does to @file, short of the core: 0 means "the core decides". */
static int alloc_precheck(int file, const struct buddy_alloc *a)
{
	__u64 unit_mask = info.unit_size - 1;

	if (!a->size || a->size > info.pool_size || a->pad || a->flags & ~PLACE_FLAGS)
		return -EINVAL;
	if (a->flags & BUDDY_ALLOC_RANGE) {
		if (a->range_start >= a->range_end || a->range_end > info.pool_size ||
		    (a->range_start | a->range_end) & unit_mask)
			return -EINVAL;
	} else if (a->range_start || a->range_end) {
		return -EINVAL;
	}
	if (quota && files[file].bytes + kept_for(a) > quota)
		return -EDQUOT;
	return 0;
}

static int free_predict(int file, __u64 off, __u32 flags, __u32 pad)
{
	if (flags || pad || off >= info.pool_size || off & (info.unit_size - 1))
		return -EINVAL;
	if (!block_at(file, off))
		return -EINVAL;
	if (block_mapped(file, off))
		return -EBUSY;
	return 0;
}

/*
 * A successful ALLOC's block: check it and add it.  Without flags any free
 * aligned block will do (a per-CPU cache may give it); with them, the one
 * model_place() names.
 */
static void alloc_learn(int file, const struct buddy_alloc *a, __u64 off, __u64 bs,
			const char *what)
{
	__u64 want = kept_for(a), b = block_for(a->size), lo, hi;
	__u64 place = a->flags ? model_place(a) : off;

	alloc_bounds(a, &lo, &hi);
	if (!expect(bs == want && off % b == 0 && off >= lo && off < hi && off + b <= hi &&
		    window_free(off, want) && off == place,
		    "%s: ALLOC %llu flags %#x range [%llu, %llu): block offset %llu size %llu: want size %llu, aligned to %llu, in [%llu, %llu), free in the model, at %llu",
		    what, (unsigned long long)a->size, a->flags,
		    (unsigned long long)a->range_start, (unsigned long long)a->range_end,
		    (unsigned long long)off, (unsigned long long)bs,
		    (unsigned long long)want, (unsigned long long)b,
		    (unsigned long long)lo, (unsigned long long)hi,
		    (unsigned long long)place))
		return;
	if (a->flags) {
		placed_checked++;
		odd_extents += (want & (want - 1)) != 0;
	}
	model_add(file, off, want);
}

static void enomem_check(const struct buddy_alloc *a, const char *what)
{
	__u64 bs = block_for(a->size), lo, hi;

	alloc_bounds(a, &lo, &hi);
	range_enomem += (a->flags & BUDDY_ALLOC_RANGE) != 0;
	expect(!any_free_window(bs, lo, hi),
	       "%s: -ENOMEM for %llu bytes (flags %#x) though the model has a free aligned %llu-byte block in [%llu, %llu)",
	       what, (unsigned long long)a->size, a->flags, (unsigned long long)bs,
	       (unsigned long long)lo, (unsigned long long)hi);
}

/*
 * An ALLOC succeeded but its offset did not reach us (a short struct):
 * find the block by freeing each free aligned window of its size.
 */
static void recover_block(int s, const struct buddy_alloc *a)
{
	__u64 bs = block_for(a->size), keep = kept_for(a), off, lo, hi;

	alloc_bounds(a, &lo, &hi);
	for (off = lo; off + bs <= hi; off += bs) {
		if (!window_free(off, keep))
			continue;
		if (buddy_free(slots[s].fd, off) == 0) {
			recovered++;
			pass();
			return;
		}
	}
	expect(false, "a block allocated through a short struct (%llu bytes, flags %#x) was not found",
	       (unsigned long long)a->size, a->flags);
}

/* ---------------------------------------------------------------------- */
/* BATCH */

static const __u64 small_sizes[] = { 1, 64, 100, 4096, 4097, 65536 };

static __u64 rand_size(void)
{
	unsigned int o = rnd(max_order + 1), o2 = rnd(max_order + 1);
	__u64 bs;

	if (chance(3))
		return chance(50) ? 0 : info.pool_size + rnd(3) * info.unit_size + 1;
	if (chance(10))
		return small_sizes[rnd(ARRAY_SIZE(small_sizes))];
	o = o < o2 ? o : o2;	/* small blocks more often */
	bs = bsize(o);
	switch (rnd(4)) {
	case 0:
		return bs;
	case 1:
		return bs / 2 + 1 > 0 ? bs / 2 + 1 : 1;
	default:
		return 1 + rnd(bs);
	}
}

/* An offset for FREE or mmap, @file's or not. */
static __u64 rand_offset(int file, bool page_multiple)
{
	__u64 off;

	switch (rnd(10)) {
	case 0: case 1: case 2: case 3:
		off = pick_block(file);
		break;
	case 4:	/* inside a block */
		off = pick_block(file);
		if (off != UINT64_MAX)
			off += page_multiple ? (__u64)psz : info.unit_size;
		break;
	case 5:
		off = pick_block(-1);
		break;
	case 6:
		off = rnd(info.pool_size / info.unit_size) * info.unit_size;
		break;
	case 7:
		off = info.pool_size + rnd(4) * (__u64)psz;
		break;
	case 8:
		off = page_multiple ? (__u64)psz * (1 + rnd(3)) / 2 + 8 :
				      rnd(info.pool_size) | 1;
		break;
	default:
		off = chance(50) ? (1ULL << 62) : UINT64_MAX - psz + 1;
		break;
	}
	if (off == UINT64_MAX)
		off = 0;
	if (page_multiple && rnd(10) != 8)
		off &= ~((__u64)psz - 1);
	return off;
}

/* A random range of units: anywhere, or a few blocks' worth, aligned. */
static void rand_range(__u64 *range_start, __u64 *range_end)
{
	__u64 first, n;

	if (chance(50)) {
		first = rnd(nunits);
		n = 1 + rnd(nunits - first);
	} else {
		n = 1ULL << rnd(max_order + 1);
		first = rnd(nunits / n) * n;
		n *= 1 + rnd(4);
		if (first + n > nunits)
			n = nunits - first;
	}
	*range_start = first << unit_shift;
	*range_end = (first + n) << unit_shift;
}

/*
 * An ALLOC's placement: mostly valid (no flags a third of the time, else
 * any mix of TOPDOWN, RANGE and EXACT, a range with RANGE), sometimes
 * not: an unknown bit, range fields without RANGE, and with it a range
 * that is empty, reversed, not unit-aligned, past the pool or all zero
 * (what a 32-byte caller passes).
 */
static void rand_placement(__u32 *flags, __u64 *range_start, __u64 *range_end)
{
	*flags = chance(35) ? 0 : 1 + rnd(PLACE_FLAGS);
	*range_start = 0;
	*range_end = 0;
	if (*flags & BUDDY_ALLOC_RANGE)
		rand_range(range_start, range_end);
	if (!chance(8))
		return;
	switch (rnd(6)) {
	case 0:
		*flags |= 1U << (3 + rnd(29));
		break;
	case 1:
		*flags &= ~BUDDY_ALLOC_RANGE;
		if (chance(50))
			*range_start = info.unit_size * rnd(nunits);
		*range_end = info.unit_size * (1 + rnd(nunits));
		break;
	case 2:
		*flags |= BUDDY_ALLOC_RANGE;
		rand_range(range_start, range_end);
		if (chance(50))
			*range_start = *range_end;
		else
			*range_end = *range_start;
		break;
	case 3:
		*flags |= BUDDY_ALLOC_RANGE;
		rand_range(range_start, range_end);
		if (chance(50))
			*range_start += 1 + rnd(info.unit_size - 1);
		else
			*range_end -= 1 + rnd(info.unit_size - 1);
		break;
	case 4:
		*flags |= BUDDY_ALLOC_RANGE;
		rand_range(range_start, range_end);
		*range_end = chance(50) ? info.pool_size + info.unit_size * (1 + rnd(4)) :
					  UINT64_MAX - rnd(2) * (info.unit_size - 1);
		break;
	default:
		*flags |= BUDDY_ALLOC_RANGE;
		*range_start = 0;
		*range_end = 0;
	}
}

static void rand_op(int file, struct buddy_batch_op *op)
{
	memset(op, 0, sizeof(*op));
	if (chance(55)) {
		op->op = BUDDY_BATCH_ALLOC;
		op->size = rand_size();
		rand_placement(&op->flags, &op->range_start, &op->range_end);
	} else if (chance(93)) {
		op->op = BUDDY_BATCH_FREE;
		op->offset = rand_offset(file, false);
		if (chance(3))
			rand_range(&op->range_start, &op->range_end);
	} else {
		op->op = rnd(6);
		op->size = rand_size();
	}
	if (chance(3))
		op->flags = 1U << rnd(32);
	if (chance(3))
		op->pad = 1 + rnd(100);
	if (op->op == BUDDY_BATCH_FREE && chance(3))
		op->size = 1;
	if (op->op == BUDDY_BATCH_FREE && chance(2))
		op->block_size = 4096;
	op->result = SENTINEL;
}

struct batch_case {
	struct uptr ops;	/* where the ops array is */
	unsigned int nops;	/* ops written there */
	unsigned int op_size;
	struct buddy_batch_op op[MAX_OPS];
	bool tail_nonzero[MAX_OPS];
	unsigned int tail_pos[MAX_OPS];	/* where, past OP_SIZE */
};

/* Op @i as the kernel reads it: the caller's op_size of it, zeros past. */
static void batch_op_sent(const struct batch_case *bc, unsigned int i,
			  struct buddy_batch_op *op)
{
	memset(op, 0, sizeof(*op));
	memcpy(op, &bc->op[i], bc->op_size < OP_SIZE ? bc->op_size : OP_SIZE);
}

/* Lay the ops out with @op_size strides; tails zero unless marked. */
static void batch_write(struct batch_case *bc)
{
	static unsigned char buf[MAX_OPS * 2 * 4096 / 8];
	size_t len = (size_t)bc->nops * bc->op_size, i;

	if (len > sizeof(buf))
		len = sizeof(buf);
	memset(buf, 0, len);
	for (i = 0; i < bc->nops && (i + 1) * bc->op_size <= len; i++) {
		memcpy(buf + i * bc->op_size, &bc->op[i],
		       bc->op_size < OP_SIZE ? bc->op_size : OP_SIZE);
		if (bc->op_size > OP_SIZE && bc->tail_nonzero[i])
			buf[i * bc->op_size + OP_SIZE + bc->tail_pos[i]] = 0x77;
	}
	fill(&ops_arena, &bc->ops, buf, len);
}

/* What op @i holds now, as far as its op_size goes (zeros past). */
static void batch_read(struct batch_case *bc, unsigned int i, struct buddy_batch_op *op)
{
	memset(op, 0, sizeof(*op));
	memcpy(op, bc->ops.p + (size_t)i * bc->op_size,
	       bc->op_size < OP_SIZE ? bc->op_size : OP_SIZE);
}

static bool batch_header_bad(const struct buddy_batch *hdr)
{
	return hdr->flags || hdr->done || hdr->count > BUDDY_BATCH_MAX ||
	       hdr->op_size < OP_V1_SIZE || hdr->op_size > (unsigned int)psz;
}

/* Whether the kernel wrote any op's result. */
static bool batch_touched(struct batch_case *bc)
{
	struct buddy_batch_op got;
	unsigned int i;

	if (bc->op_size < OP_V1_SIZE)
		return false;
	for (i = 0; i < bc->nops; i++) {
		if (!we_can_read(&bc->ops, ((size_t)i + 1) * bc->op_size))
			break;
		batch_read(bc, i, &got);
		if (got.result != SENTINEL)
			return true;
	}
	return false;
}

/*
 * After a BATCH with header @hdr (as the kernel saw it) returned @ret:
 * replay the kernel's loop against the model, taking each plain ALLOC's
 * outcome (success or -ENOMEM) from the op's result; a placed one's the
 * model predicts.  Returns what the handler should have returned, and sets
 * *@done.
 */
static int batch_replay(int s, const struct buddy_batch *hdr, struct batch_case *bc,
			unsigned int *done, const char *what)
{
	int file = slots[s].file;
	unsigned int i;

	if (batch_header_bad(hdr))
		return -EINVAL;
	for (i = 0; i < hdr->count; i++) {
		size_t at = (size_t)i * hdr->op_size;
		/* What the kernel reads of each op, and writes back. */
		size_t in = hdr->op_size < OP_SIZE ? hdr->op_size : OP_SIZE;
		struct buddy_batch_op op, got;
		bool known = !bc->tail_nonzero[i];
		int res;

		/* Where the kernel faults: the op, its tail, its write-back. */
		*done = i;
		if (!bc->ops.access_ok || at + in > bc->ops.readable)
			return -EFAULT;
		/* The op's tail: a non-zero byte before the fault answers first. */
		if (hdr->op_size > OP_SIZE && at + hdr->op_size > bc->ops.readable &&
		    !(i < bc->nops && bc->tail_nonzero[i] &&
		      at + OP_SIZE + bc->tail_pos[i] < bc->ops.readable))
			return -EFAULT;
		/*
		 * The op is written back once before it runs: if that faults
		 * nothing is done, and if not, the result's write-back cannot.
		 */
		if (at + in > bc->ops.writable)
			return -EFAULT;
		if (i >= bc->nops) {
			/* Past what we wrote: zeros, an invalid op (op 0). */
			return expect(false, "%s: batch ran past the ops written", what),
			       -EFAULT;
		}
		batch_op_sent(bc, i, &op);
		batch_read(bc, i, &got);
		batch_ops_run++;
		if (op.pad || !known) {
			res = -EINVAL;
		} else if (op.op == BUDDY_BATCH_ALLOC) {
			struct buddy_alloc a = {
				.size = op.size, .flags = op.flags,
				.range_start = op.range_start, .range_end = op.range_end,
			};

			res = alloc_precheck(file, &a);
			if (!res) {
				/* The core decided: the op's result says how. */
				if (got.result == 0) {
					alloc_learn(file, &a, got.offset, got.block_size, what);
					pass();
					continue;
				}
				expect(got.result == -ENOMEM,
				       "%s: op %u ALLOC %llu flags %#x: result %s, want 0 or -ENOMEM",
				       what, i, (unsigned long long)op.size, op.flags,
				       e2e_err(got.result));
				enomem_check(&a, what);
				*done = i;
				return 0;
			}
		} else if (op.op == BUDDY_BATCH_FREE) {
			res = op.size || op.block_size || op.range_start || op.range_end ?
			      -EINVAL : free_predict(file, op.offset, op.flags, 0);
			if (!res)
				model_del(op.offset);
		} else {
			res = -EINVAL;
		}
		expect(got.result == res, "%s: op %u (op %u size %llu offset %llu flags %#x pad %u range [%llu, %llu) op_size %u%s): result %s, want %s",
		       what, i, op.op, (unsigned long long)op.size,
		       (unsigned long long)op.offset, op.flags, op.pad,
		       (unsigned long long)op.range_start, (unsigned long long)op.range_end,
		       hdr->op_size, known ? "" : ", tail not zero", e2e_err(got.result),
		       e2e_err(res));
		if (res) {
			*done = i;
			return 0;
		}
	}
	*done = i;
	return 0;
}

/* Results of ops the kernel did not reach must be untouched. */
static void batch_untouched(struct batch_case *bc, unsigned int from, const char *what)
{
	struct buddy_batch_op got;
	unsigned int i;

	if (bc->op_size < OP_V1_SIZE)
		return;
	for (i = from; i < bc->nops; i++) {
		if (!we_can_read(&bc->ops, ((size_t)i + 1) * bc->op_size))
			break;
		batch_read(bc, i, &got);
		if (!expect(got.result == SENTINEL,
			    "%s: op %u past the stop at %u has result %s, want untouched",
			    what, i, from, e2e_err(got.result)))
			break;
	}
}

/* ---------------------------------------------------------------------- */
/* one ioctl, any command, any struct size, any memory */

static const unsigned int known_cmd[] = {
	BUDDY_IOC_INFO, BUDDY_IOC_ALLOC, BUDDY_IOC_FREE, BUDDY_IOC_BATCH,
	BUDDY_IOC_EXPORT,
};

struct ioc_case {
	int slot;
	unsigned int cmd;
	enum memkind mem;
	unsigned char arg[320];	/* the caller's struct, _IOC_SIZE bytes */
	struct batch_case batch;
	bool has_batch;
};

/* Types of the VFS's own ioctls, which never reach the driver. */
static bool vfs_type(unsigned int type)
{
	return type == 0x00 || type == 0x15 || type == 0x54 || type == 0x58 ||
	       type == 0x66 || type == 0x94;
}

static void run_ioctl(struct ioc_case *c, enum kind k)
{
	unsigned int cmd = c->cmd, nr = _IOC_NR(cmd), dir = _IOC_DIR(cmd);
	unsigned int usize = _IOC_SIZE(cmd), ksize, i;
	int s = c->slot, file = slots[s].file, ret, want, pre = 0;
	unsigned char kdata[64] = { 0 };
	__u64 live0 = live_blocks;
	bool tail_zero = true;
	size_t first_nz = 0;
	struct uptr u;
	char what[96];

	u = place(&arg_arena, c->mem, usize ? usize : 1);
	fill(&arg_arena, &u, c->arg, usize);
	if (c->has_batch)
		batch_write(&c->batch);
	snprintf(what, sizeof(what), "%s cmd %#x (nr %u dir %u size %u) arg %s",
		 kind_name[k], cmd, nr, dir, usize, memkind_name[c->mem]);

	ret = ioctl(slots[s].fd, cmd, u.p) < 0 ? -errno : 0;
	count(k, ret);

	if (_IOC_TYPE(cmd) != BUDDY_IOC_MAGIC || nr >= ARRAY_SIZE(known_cmd) ||
	    dir != _IOC_DIR(known_cmd[nr])) {
		expect(ret == -ENOTTY, "%s: %s, want -ENOTTY", what, e2e_err(ret));
		expect(live_blocks == live0, "%s: the model changed", what);
		return;
	}
	ksize = _IOC_SIZE(known_cmd[nr]);
	for (i = ksize; i < usize; i++)
		if (c->arg[i] && tail_zero) {
			tail_zero = false;
			first_nz = i;
		}
	memcpy(kdata, c->arg, usize < ksize ? usize : ksize);

	/* The dispatcher's copy in. */
	want = 1;
	if (dir & _IOC_WRITE) {
		size_t in = usize < ksize ? usize : ksize;

		/*
		 * check_zeroed_user() reads the tail word by word: a non-zero
		 * byte before the fault answers first.
		 */
		if (in && (!u.access_ok || u.readable < in))
			want = -EFAULT;
		else if (usize > ksize && !tail_zero && u.access_ok &&
			 first_nz < u.readable)
			want = -EINVAL;
		else if (usize > ksize && (!u.access_ok || u.readable < usize))
			want = -EFAULT;
		else if (usize > ksize && !tail_zero)
			want = -EINVAL;
	} else if (!u.access_ok) {
		want = -EFAULT;
	}
	/*
	 * Then, before the handler, the result's place is written once
	 * (min(_IOC_SIZE, the kernel's size) bytes): a read-only struct
	 * fails here with nothing done.
	 */
	if (want == 1 && (dir & _IOC_READ)) {
		size_t out = usize < ksize ? usize : ksize;

		if (out && (!u.access_ok || u.writable < out))
			want = -EFAULT;
	}
	if (want != 1) {
		expect(ret == want, "%s: %s, want %s", what, e2e_err(ret), e2e_err(want));
		return;
	}

	/* The handler, then the copy out. */
	switch (nr) {
	case 0: {		/* INFO */
		struct buddy_info got;
		bool out_ok = usize <= u.writable || !usize;

		want = out_ok ? 0 : -EFAULT;
		if (!expect(ret == want, "%s: %s, want %s", what, e2e_err(ret), e2e_err(want)) ||
		    ret)
			return;
		memset(&got, 0, sizeof(got));
		if (usize)
			memcpy(&got, u.p, usize < ksize ? usize : ksize);
		for (i = ksize; i < usize; i++)
			expect(!u.p[i], "%s: byte %u past the struct not cleared", what, i);
		{
			struct buddy_info m = info;

			m.free_bytes = info.pool_size - used_bytes;
			m.largest_free = model_largest();
			if (usize < ksize)
				memset((char *)&m + usize, 0, ksize - usize);
			expect(!memcmp(&got, &m, sizeof(m)),
			       "%s: INFO free %llu largest %llu, model %llu %llu",
			       what, (unsigned long long)got.free_bytes,
			       (unsigned long long)got.largest_free,
			       (unsigned long long)m.free_bytes,
			       (unsigned long long)m.largest_free);
		}
		return;
	}
	case 1: {		/* ALLOC */
		struct buddy_alloc *a = (struct buddy_alloc *)kdata, got;
		bool out_ok = usize <= u.writable;

		pre = alloc_precheck(file, a);
		if (pre) {
			/* A struct it cannot write back may fail first. */
			expect(ret == pre || (!out_ok && ret == -EFAULT),
			       "%s: ALLOC size %llu flags %#x pad %u range [%llu, %llu): %s, want %s",
			       what, (unsigned long long)a->size, a->flags, a->pad,
			       (unsigned long long)a->range_start,
			       (unsigned long long)a->range_end, e2e_err(ret), e2e_err(pre));
			return;
		}
		if (ret == -ENOMEM) {
			pass();
			enomem_check(a, what);
			return;
		}
		if (!out_ok) {
			/* Not delivered: undone. */
			expect(ret == -EFAULT, "%s: ALLOC into memory it cannot write: %s, want -EFAULT",
			       what, e2e_err(ret));
			return;
		}
		if (!expect(ret == 0, "%s: ALLOC %llu: %s, want 0 or -ENOMEM", what,
			    (unsigned long long)a->size, e2e_err(ret)))
			return;
		memset(&got, 0, sizeof(got));
		memcpy(&got, u.p, usize < sizeof(got) ? usize : sizeof(got));
		for (i = ksize; i < usize; i++)
			expect(!u.p[i], "%s: byte %u past the struct not cleared", what, i);
		if (usize >= offsetof(struct buddy_alloc, block_size) + 8)
			alloc_learn(file, a, got.offset, got.block_size, what);
		else if (usize >= offsetof(struct buddy_alloc, offset) + 8)
			alloc_learn(file, a, got.offset, kept_for(a), what);
		else
			recover_block(s, a);
		return;
	}
	case 2: {		/* FREE */
		struct buddy_free *f = (struct buddy_free *)kdata;

		want = free_predict(file, f->offset, f->flags, f->pad);
		if (expect(ret == want, "%s: FREE %llu flags %#x pad %u: %s, want %s",
			   what, (unsigned long long)f->offset, f->flags, f->pad,
			   e2e_err(ret), e2e_err(want)) && !ret)
			model_del(f->offset);
		else if (!ret && block_at(file, f->offset))
			model_del(f->offset);
		return;
	}
	case 4: {		/* EXPORT */
		struct buddy_export *e = (struct buddy_export *)kdata;
		bool out_ok = usize <= u.writable;
		int fd = -1;

		want = export_predict(file, e->offset, e->fd_flags, e->flags);
		if (want) {
			expect(ret == want || (!out_ok && ret == -EFAULT),
			       "%s: EXPORT offset %llu fd_flags %#x flags %#llx (file %s): %s, want %s",
			       what, (unsigned long long)e->offset, e->fd_flags,
			       (unsigned long long)e->flags,
			       files[file].rdonly ? "read-only" : "read-write", e2e_err(ret),
			       e2e_err(want));
			return;
		}
		if (!out_ok) {
			/* Not delivered: undone, the block still the file's. */
			expect(ret == -EFAULT, "%s: EXPORT into memory it cannot write: %s, want -EFAULT",
			       what, e2e_err(ret));
			return;
		}
		if (!expect(ret == 0, "%s: EXPORT offset %llu: %s, want 0", what,
			    (unsigned long long)e->offset, e2e_err(ret)))
			return;
		for (i = ksize; i < usize; i++)
			expect(!u.p[i], "%s: byte %u past the struct not cleared", what, i);
		if (usize >= offsetof(struct buddy_export, fd) + sizeof(__u32))
			memcpy(&fd, u.p + offsetof(struct buddy_export, fd), sizeof(fd));
		else
			fd = recover_dbuf_fd();
		expect(fd >= 0 && fcntl(fd, F_GETFD) >= 0,
		       "%s: EXPORT gave descriptor %d, which is open", what, fd);
		export_learn(file, e->offset, fd, (e->fd_flags & O_ACCMODE) == O_RDONLY, what);
		return;
	}
	default: {		/* BATCH */
		struct buddy_batch *b = (struct buddy_batch *)kdata, got;
		unsigned int done = 0;

		if (!c->has_batch) {
			/* No ops array of ours: only header errors are safe. */
			c->batch.nops = 0;
			c->batch.ops = place(&ops_arena, M_NONE, 1);
		}
		if (usize > u.writable) {
			/*
			 * The struct's bytes past the kernel's size (zero) are
			 * read-only: the call must fail with -EFAULT and change
			 * nothing.  A kernel that runs the ops first and then
			 * fails clearing those bytes leaves them done: replay
			 * what it did (its ops' results say) and report it.
			 */
			bool ran = batch_touched(&c->batch);

			if (ran) {
				want = batch_replay(s, b, &c->batch, &done, what);
				expect(want || done == 0,
				       "%s: BATCH returned %s after %u ops took effect: its bytes %u..%u (past the struct, zero) are read-only; a failed call should change nothing",
				       what, e2e_err(ret), done, ksize, usize);
			}
			expect(ret == -EFAULT || (ret == -EINVAL && batch_header_bad(b)),
			       "%s: BATCH with bytes %u..%u read-only: %s, want -EFAULT",
			       what, ksize, usize, e2e_err(ret));
			return;
		}
		/* The header as the kernel read it: ops pointer and all. */
		want = batch_replay(s, b, &c->batch, &done, what);
		expect(ret == want, "%s: BATCH count %u op_size %u flags %#x done %u ops %s: %s, want %s",
		       what, b->count, b->op_size, b->flags, b->done,
		       memkind_name[c->batch.ops.kind], e2e_err(ret), e2e_err(want));
		if (!ret && usize >= 24) {
			memcpy(&got, u.p, sizeof(got));
			expect(got.done == done, "%s: done %u, want %u", what, got.done, done);
		}
		batch_untouched(&c->batch, done + 1, what);
		return;
	}
	}
}

/* ---------------------------------------------------------------------- */
/* generating ioctl cases */

static void gen_alloc(struct ioc_case *c)
{
	struct buddy_alloc a = { .size = rand_size() };

	rand_placement(&a.flags, &a.range_start, &a.range_end);
	if (chance(4))
		a.flags = 1U << rnd(32);
	if (chance(4))
		a.pad = 1 + rnd(1000);
	if (chance(5))
		a.offset = e2e_rand();	/* output fields: ignored on input */
	c->cmd = BUDDY_IOC_ALLOC;
	/* A first-version caller: the kernel reads the range as zero. */
	if (chance(6))
		c->cmd = _IOC(_IOC_READ | _IOC_WRITE, BUDDY_IOC_MAGIC, 1, ALLOC_V1_SIZE);
	memcpy(c->arg, &a, sizeof(a));
}

static void gen_free(struct ioc_case *c)
{
	struct buddy_free f = { .offset = rand_offset(slots[c->slot].file, false) };

	if (chance(4))
		f.flags = 1U << rnd(32);
	if (chance(4))
		f.pad = 1 + rnd(1000);
	c->cmd = BUDDY_IOC_FREE;
	memcpy(c->arg, &f, sizeof(f));
}

/* Mostly a valid export of one of the file's blocks of a page or more. */
static void gen_export(struct ioc_case *c)
{
	static const __u32 good_flags[] = {
		O_RDWR, O_RDWR | O_CLOEXEC, O_RDONLY, O_RDONLY | O_CLOEXEC,
	};
	struct buddy_export e = { .offset = rand_offset(slots[c->slot].file, true) };

	e.fd_flags = good_flags[rnd(ARRAY_SIZE(good_flags))];
	if (chance(5))
		e.fd_flags = chance(50) ? O_WRONLY : 1U << rnd(32);
	if (chance(4))
		e.flags = 1ULL << rnd(64);
	if (chance(5))
		e.fd = e2e_rand();	/* output: ignored on input */
	c->cmd = BUDDY_IOC_EXPORT;
	memcpy(c->arg, &e, sizeof(e));
}

static void gen_batch(struct ioc_case *c)
{
	struct batch_case *bc = &c->batch;
	struct buddy_batch b = { 0 };
	unsigned int i, n;
	enum memkind mk = M_GOOD;

	n = chance(80) ? rnd(13) : rnd(MAX_OPS + 1);
	switch (rnd(20)) {
	case 0:
		bc->op_size = OP_SIZE + 8 * (1 + rnd(4));	/* newer caller */
		break;
	case 1:
		bc->op_size = OP_V1_SIZE - 8 * (1 + rnd(4));	/* too small */
		break;
	case 2:
		bc->op_size = psz + 8;			/* too large */
		break;
	case 3: case 4: case 5:
		bc->op_size = OP_V1_SIZE;		/* first-version caller */
		break;
	case 6:
		bc->op_size = OP_V1_SIZE + 8;		/* range_start only */
		break;
	default:
		bc->op_size = OP_SIZE;
	}
	if (bc->op_size > OP_SIZE && n * bc->op_size > MAX_OPS * OP_SIZE)
		n = MAX_OPS * OP_SIZE / bc->op_size;
	if (bc->op_size > (unsigned int)psz)
		n = 1;
	if (chance(15))
		mk = rnd(M_NR);
	bc->nops = n;
	bc->ops = place(&ops_arena, mk, (size_t)(n ? n : 1) * bc->op_size);
	if (mk == M_GOOD)
		bc->ops.p = ops_arena.base + rnd(8) * 8;
	for (i = 0; i < n; i++) {
		rand_op(slots[c->slot].file, &bc->op[i]);
		bc->tail_nonzero[i] = bc->op_size > OP_SIZE && chance(10);
		if (bc->tail_nonzero[i])
			bc->tail_pos[i] = rnd(bc->op_size - OP_SIZE);
	}
	b.ops = (__u64)(uintptr_t)bc->ops.p;
	b.count = n;
	b.op_size = bc->op_size;
	if (chance(3))
		b.flags = 1U << rnd(32);
	if (chance(3))
		b.done = 1 + rnd(5);
	if (chance(2))
		b.count = BUDDY_BATCH_MAX + 1 + rnd(100);
	c->has_batch = true;
	c->cmd = BUDDY_IOC_BATCH;
	memcpy(c->arg, &b, sizeof(b));
}

/* _IOC_SIZE other than the struct's: an older or a newer caller. */
static void resize(struct ioc_case *c)
{
	unsigned int usize = chance(50) ? rnd(_IOC_SIZE(c->cmd) + 1) :
					 _IOC_SIZE(c->cmd) + rnd(257 - _IOC_SIZE(c->cmd));

	if (usize > _IOC_SIZE(c->cmd)) {
		memset(c->arg + _IOC_SIZE(c->cmd), 0, usize - _IOC_SIZE(c->cmd));
		if (chance(30))
			c->arg[_IOC_SIZE(c->cmd) + rnd(usize - _IOC_SIZE(c->cmd))] = 1 + rnd(255);
	}
	c->cmd = _IOC(_IOC_DIR(c->cmd), _IOC_TYPE(c->cmd), _IOC_NR(c->cmd), usize);
}

static void gen_badcmd(struct ioc_case *c)
{
	unsigned int type = BUDDY_IOC_MAGIC, nr, dir = rnd(4), size = rnd(257);

	if (chance(40))
		do
			type = rnd(256);
		while (type == BUDDY_IOC_MAGIC || vfs_type(type));
	nr = chance(50) ? rnd(8) : rnd(256);
	c->cmd = _IOC(dir, type, nr, size);
	for (unsigned int i = 0; i < sizeof(c->arg); i++)
		c->arg[i] = chance(70) ? 0 : e2e_rand();
	if (type == BUDDY_IOC_MAGIC && nr == 3 && dir == (_IOC_READ | _IOC_WRITE)) {
		/* A BATCH with a random header: keep it to header errors. */
		c->has_batch = false;
		((struct buddy_batch *)c->arg)->ops = 0;
	}
}

static void step_ioctl(enum kind k)
{
	struct ioc_case *c;
	int s = slot_any();

	if (s < 0)
		return;
	c = calloc(1, sizeof(*c));
	c->slot = s;
	c->mem = M_GOOD;
	switch (k) {
	case K_ALLOC:
		gen_alloc(c);
		break;
	case K_FREE:
		gen_free(c);
		break;
	case K_INFO:
		c->cmd = BUDDY_IOC_INFO;
		break;
	case K_BATCH:
		gen_batch(c);
		break;
	case K_BADCMD:
		gen_badcmd(c);
		break;
	case K_EXPORT:
		gen_export(c);
		break;
	case K_SIZED:
	case K_BADPTR:
		switch (rnd(5)) {
		case 0:
			gen_alloc(c);
			break;
		case 1:
			gen_free(c);
			break;
		case 2:
			c->cmd = BUDDY_IOC_INFO;
			break;
		case 3:
			gen_export(c);
			break;
		default:
			gen_batch(c);
		}
		if (k == K_SIZED || chance(30))
			resize(c);
		if (k == K_BADPTR)
			c->mem = 1 + rnd(M_NR - 1);
		break;
	default:
		break;
	}
	/* Any EXPORT that succeeds has a place in the model. */
	dbuf_make_room();
	run_ioctl(c, k);
	free(c);
}

/* ---------------------------------------------------------------------- */
/* mmap, munmap, mremap */

static char *arena_va;		/* address space given back, for fixed maps */
static size_t arena_va_len = 256UL << 20;

/* Whether any page of [p, p+len) is mapped. */
static bool range_mapped(char *p, size_t len)
{
	unsigned char vec;
	size_t off;

	for (off = 0; off < len; off += psz)
		if (!mincore(p + off, psz, &vec) || errno != ENOMEM)
			return true;
	return false;
}

static void check_zero(struct mvma *v)
{
	const uint64_t *w = (const uint64_t *)v->addr;
	size_t i, n = v->len / 8;

	for (i = 0; i < n; i++)
		if (w[i])
			break;
	zero_checked++;
	expect(i == n, "block %llu reads non-zero at byte %zu the first time it is mapped",
	       (unsigned long long)v->boff, i * 8);
}

static const int other_prot[] = { PROT_READ, PROT_WRITE, PROT_NONE };
static const int other_flags[] = {
	MAP_PRIVATE, MAP_SHARED_VALIDATE, MAP_SHARED | MAP_POPULATE,
	MAP_SHARED | MAP_NORESERVE,
};

static void step_mmap(void)
{
	int s = slot_any(), f, prot, flags, want_err[8], nwant = 0, ret, i;
	__u64 off, bs;
	size_t len, rlen;
	char *want_addr = NULL, *p;
	struct mvma *v;

	v = vma_new();
	if (s < 0 || !v)
		return;
	f = slots[s].file;
	off = rand_offset(f, true);
	/* An EXACT block maps only whole pages of its extent: rlen <= bs. */
	bs = block_at(f, off);
	switch (rnd(8)) {
	case 0: case 1: case 2:
		len = bs ? bs : (size_t)psz;
		break;
	case 3:
		len = bs > (__u64)psz ? psz * (1 + rnd(bs / psz)) : (size_t)psz;
		break;
	case 4:
		len = 1 + rnd(bs ? bs : (__u64)psz);
		break;
	case 5:
		len = (bs ? bs : (size_t)psz) + psz;
		break;
	case 6:
		len = 0;
		break;
	default:
		len = chance(50) ? (1ULL << 46) : (size_t)info.pool_size * 2;
	}
	prot = chance(70) ? PROT_READ | PROT_WRITE : other_prot[rnd(ARRAY_SIZE(other_prot))];
	flags = chance(80) ? MAP_SHARED : other_flags[rnd(ARRAY_SIZE(other_flags))];
	if (chance(10)) {
		flags |= MAP_FIXED_NOREPLACE;
		want_addr = arena_va + rnd(arena_va_len / psz - 1024) * psz;
	}
	rlen = (len + psz - 1) & ~((size_t)psz - 1);

	/* Every reason to fail, with its errno. */
	if (!len)
		want_err[nwant++] = EINVAL;
	if (len >= (1ULL << 46)) {
		want_err[nwant++] = ENOMEM;
		want_err[nwant++] = EOVERFLOW;
	}
	if (off & (psz - 1) || off >= info.pool_size || !bs || bs < (__u64)psz ||
	    rlen > bs || (flags & MAP_TYPE) == MAP_PRIVATE)
		want_err[nwant++] = EINVAL;
	if (off >= info.pool_size && nwant < 3)
		want_err[nwant++] = EOVERFLOW;
	if (files[f].rdonly && (prot & PROT_WRITE) && (flags & MAP_TYPE) != MAP_PRIVATE)
		want_err[nwant++] = EACCES;
	/* MAP_SHARED_VALIDATE knows only the legacy flags. */
	if ((flags & MAP_TYPE) == MAP_SHARED_VALIDATE && (flags & MAP_FIXED_NOREPLACE))
		want_err[nwant++] = EOPNOTSUPP;

	p = mmap(want_addr, len, prot, flags, slots[s].fd, off);
	ret = p == MAP_FAILED ? -errno : 0;
	count(K_MMAP, ret);
	if (ret == -EEXIST && want_addr && range_mapped(want_addr, rlen)) {
		pass();		/* the fixed address was taken */
		return;
	}
	if (!ret && !nwant) {
		pass();
		if (want_addr)
			expect(p == want_addr, "mmap: MAP_FIXED_NOREPLACE at %p gave %p",
			       (void *)want_addr, (void *)p);
		v->used = true;
		v->addr = p;
		v->len = rlen;
		v->file = f;
		v->dbuf = -1;
		v->boff = off;
		v->prot = prot;
		files[f].vmas++;
		if (!mapped_once[off >> unit_shift] && (prot & PROT_READ)) {
			mapped_once[off >> unit_shift] = true;
			check_zero(v);
		}
		if ((prot & (PROT_READ | PROT_WRITE)) == (PROT_READ | PROT_WRITE)) {
			mapped_once[off >> unit_shift] = true;
			for (i = 0; i < 4; i++) {
				size_t at = rnd(rlen);

				p[at] = (char)(at ^ 0xa5);
				expect(p[at] == (char)(at ^ 0xa5), "mmap: a write to the mapping reads back");
			}
		}
		return;
	}
	if (!ret) {
		expect(false, "mmap offset %llu len %zu prot %#x flags %#x (file %s, block %llu bytes): succeeded, want an error",
		       (unsigned long long)off, len, prot, flags,
		       files[f].rdonly ? "read-only" : "read-write", (unsigned long long)bs);
		munmap(p, rlen);
		return;
	}
	for (i = 0; i < nwant && want_err[i] != -ret; i++)
		;
	expect(nwant && i < nwant,
	       "mmap offset %llu len %zu prot %#x flags %#x (file %s, block %llu bytes): %s, want %s",
	       (unsigned long long)off, len, prot, flags,
	       files[f].rdonly ? "read-only" : "read-write", (unsigned long long)bs,
	       e2e_err(ret), nwant ? e2e_err(-want_err[0]) : "success");
}

static struct mvma *vma_any(void)
{
	int i, k = rnd(MAX_VMAS);

	for (i = 0; i < MAX_VMAS; i++)
		if (vmas[(k + i) % MAX_VMAS].used)
			return &vmas[(k + i) % MAX_VMAS];
	return NULL;
}

static void step_munmap(void)
{
	struct mvma *v = vma_any(), *w;
	size_t pages, a, n;
	int ret;

	if (!v)
		return;
	pages = v->len / psz;
	if (pages < 2 || chance(50) || vmas_free() < 1) {
		ret = munmap(v->addr, v->len) ? -errno : 0;
		count(K_MUNMAP, ret);
		expect(!ret, "munmap of a whole mapping: %s", e2e_err(ret));
		vma_drop(v);
		return;
	}
	/* A piece: the head, the tail, or the middle (a split). */
	n = 1 + rnd(pages - 1);
	a = rnd(3) == 0 ? 0 : rnd(pages - n + 1);
	ret = munmap(v->addr + a * psz, n * psz) ? -errno : 0;
	count(K_MUNMAP, ret);
	expect(!ret, "munmap of pages %zu..%zu of %zu: %s", a, a + n, pages, e2e_err(ret));
	if (a == 0) {
		v->addr += n * psz;
		v->len -= n * psz;
	} else if (a + n == pages) {
		v->len -= n * psz;
	} else {
		w = vma_new();
		*w = *v;
		w->addr = v->addr + (a + n) * psz;
		w->len = (pages - a - n) * psz;
		v->len = a * psz;
		if (v->dbuf >= 0)
			dbufs[v->dbuf].vmas++;
		else
			files[v->file].vmas++;
	}
}

static void step_mremap(void)
{
	struct mvma *v = vma_any();
	char *p, *to;
	int ret;

	if (!v)
		return;
	switch (rnd(3)) {
	case 0:	/* grow: VM_DONTEXPAND */
		p = mremap(v->addr, v->len, v->len + psz, chance(50) ? MREMAP_MAYMOVE : 0);
		ret = p == MAP_FAILED ? -errno : 0;
		count(K_MREMAP, ret);
		if (!expect(ret, "mremap growing a mapping of a block succeeded"))
			munmap(p + v->len, psz);
		break;
	case 1:	/* shrink */
		if (v->len < 2 * (size_t)psz)
			return;
		p = mremap(v->addr, v->len, v->len - psz, 0);
		ret = p == MAP_FAILED ? -errno : 0;
		count(K_MREMAP, ret);
		if (expect(!ret && p == v->addr, "mremap shrinking a mapping: %s", e2e_err(ret)))
			v->len -= psz;
		break;
	default: /* move, same size: the VMA is copied (vm_ops open), then closed */
		to = arena_va + rnd(arena_va_len / psz - 1024) * psz;
		if (range_mapped(to, v->len))
			return;
		p = mremap(v->addr, v->len, v->len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
		ret = p == MAP_FAILED ? -errno : 0;
		count(K_MREMAP, ret);
		if (expect(!ret && p == to, "mremap moving a mapping: %s", e2e_err(ret))) {
			v->addr = p;
			if (v->prot & PROT_READ)
				(void)*(volatile char *)p;
		}
	}
}

/* ---------------------------------------------------------------------- */
/* files, fork, quota */

static void dslot_close(int s);

/* Close a random descriptor of /dev/buddy's, or of a DMA-BUF's. */
static void step_close(bool dmabuf)
{
	int s = random_open_slot(dmabuf);

	if (s < 0)
		return;
	count(dmabuf ? K_DBUF_CLOSE : K_CLOSE, 0);
	if (dmabuf)
		dslot_close(s);
	else
		slot_close(s);
	pass();
}

static void step_open(void)
{
	int s = rnd(NSLOTS), ret;

	if (slots[s].fd >= 0)
		slot_close(s);
	ret = slot_open(s, chance(15));
	count(K_OPEN, ret);
	expect(!ret, "open %s: %s", BUDDY_DEV, e2e_err(ret));
}

static void step_dup(void)
{
	int a = slot_any(), b = rnd(NSLOTS), fd;

	if (a < 0 || a == b)
		return;
	if (slots[b].fd >= 0)
		slot_close(b);
	fd = dup(slots[a].fd);
	count(K_DUP, fd < 0 ? -errno : 0);
	if (!expect(fd >= 0, "dup: %s", strerror(errno)))
		return;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	slots[b].fd = fd;
	slots[b].file = slots[a].file;
	files[slots[a].file].slots++;
}

static void set_quota(__u64 q)
{
	char buf[32];
	int fd = open(QUOTA_PARAM, O_WRONLY | O_CLOEXEC), n;

	n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)q);
	if (fd < 0 || write(fd, buf, n) != n) {
		expect(false, "write %s: %s", QUOTA_PARAM, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	quota = q;
	pass();
}

/* Every reference to DMA-BUF @d dropped: it is released. */
static void dbuf_evict(int d)
{
	int i;

	for (i = 0; i < MAX_VMAS; i++) {
		if (vmas[i].used && vmas[i].dbuf == d) {
			munmap(vmas[i].addr, vmas[i].len);
			vma_drop(&vmas[i]);
		}
	}
	for (i = 0; i < NSLOTS; i++)
		if (dslots[i].fd >= 0 && dslots[i].dbuf == d)
			dslot_close(i);
	if (dbufs[d].used && dbufs[d].handle) {
		expect(!e2e_gem_close(drm, dbufs[d].handle), "GEM_CLOSE of an import");
		dbufs[d].handle = 0;
		dbuf_maybe_release(d);
	}
}

static void dbuf_make_room(void)
{
	int d;

	for (d = 0; d < NDBUFS && dbufs[d].used; d++)
		;
	if (d == NDBUFS)
		dbuf_evict(rnd(NDBUFS));
	if (dslot_free() < 0)
		dslot_close(dslot_any());
}

static void step_dbuf_dup(void)
{
	int a = dslot_any(), b = rnd(NSLOTS), fd;

	if (a < 0 || a == b)
		return;
	if (dslots[b].fd >= 0)
		dslot_close(b);
	fd = fcntl(dslots[a].fd, F_DUPFD_CLOEXEC, 3);
	count(K_DBUF_DUP, fd < 0 ? -errno : 0);
	if (!expect(fd >= 0, "dup of a DMA-BUF: %s", strerror(errno)))
		return;
	dslots[b].fd = fd;
	dslots[b].dbuf = dslots[a].dbuf;
	dbufs[dslots[a].dbuf].fds++;
}

/*
 * mmap of a DMA-BUF: random page offset, length, prot and flags.  Shared
 * mappings within its length only; PROT_WRITE needs an O_RDWR one.  A
 * first mapping of the block reads zero if nothing was ever written there.
 */
static void step_dbuf_mmap(void)
{
	int s = dslot_any(), prot, flags, ret;
	struct mdbuf *b;
	struct mvma *v = vma_new();
	size_t len, pages, off;
	int want = 0;
	char *p;

	if (s < 0 || !v)
		return;
	b = &dbufs[dslots[s].dbuf];
	pages = b->size / psz;
	off = rnd(10) ? rnd(pages) : pages + rnd(2);
	len = (rnd(10) ? 1 + rnd(pages) : pages + 1) * psz;
	if (chance(5))
		len = 1 + rnd(psz);
	prot = chance(75) ? PROT_READ | PROT_WRITE : other_prot[rnd(ARRAY_SIZE(other_prot))];
	flags = chance(85) ? MAP_SHARED : other_flags[rnd(ARRAY_SIZE(other_flags))];
	if ((flags & MAP_TYPE) == MAP_SHARED_VALIDATE)
		flags = MAP_SHARED;
	/* As the kernel checks: access first, then the length, then ours. */
	if (b->rdonly && (prot & PROT_WRITE) && (flags & MAP_TYPE) != MAP_PRIVATE)
		want = -EACCES;
	else if (off + (len + psz - 1) / psz > pages || (flags & MAP_TYPE) == MAP_PRIVATE)
		want = -EINVAL;
	p = mmap(NULL, len, prot, flags, dslots[s].fd, (off_t)(off * psz));
	ret = p == MAP_FAILED ? -errno : 0;
	count(K_DBUF_MMAP, ret);
	if (!expect(ret == want, "mmap of a %llu-byte DMA-BUF (%s) at page %zu, %zu bytes, prot %#x flags %#x: %s, want %s",
		    (unsigned long long)b->size, b->rdonly ? "read-only" : "read-write", off, len,
		    prot, flags, e2e_err(ret), e2e_err(want))) {
		if (!ret)
			munmap(p, len);
		return;
	}
	if (ret)
		return;
	memset(v, 0, sizeof(*v));
	v->used = true;
	v->addr = p;
	v->len = (len + psz - 1) & ~((size_t)psz - 1);
	v->file = -1;
	v->dbuf = dslots[s].dbuf;
	v->boff = b->off + off * psz;
	v->prot = prot;
	b->vmas++;
	if (prot & PROT_WRITE) {
		size_t at = rnd(len);

		p[at] = (char)(at ^ 0x3c);
		expect(p[at] == (char)(at ^ 0x3c), "a write to a DMA-BUF's mapping reads back");
	}
}

static void step_dbuf_sync(void)
{
	static const __u64 valid[] = {
		DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE,
		DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ,
		DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW,
	};
	int s = dslot_any(), ret;
	__u64 flags;
	bool good;

	if (s < 0)
		return;
	good = chance(85);
	flags = good ? valid[rnd(ARRAY_SIZE(valid))] : (chance(50) ? 0 : 1ULL << rnd(64));
	/* Bit 2 is DMA_BUF_SYNC_END: with a direction it is valid. */
	if (!good && (flags & ~DMA_BUF_SYNC_VALID_FLAGS_MASK) == 0 && (flags & DMA_BUF_SYNC_RW))
		good = true;
	ret = e2e_dmabuf_sync(dslots[s].fd, flags);
	count(K_DBUF_SYNC, ret);
	expect(ret == (good ? 0 : -EINVAL), "DMA_BUF_IOCTL_SYNC %#llx: %s, want %s",
	       (unsigned long long)flags, e2e_err(ret), good ? "0" : "-EINVAL");
}

/* vgem imports a DMA-BUF (one handle per buffer), or lets it go. */
static void step_import(void)
{
	int s = dslot_any(), ret;
	struct mdbuf *b;
	__u32 handle = 0;

	if (s < 0 || drm < 0)
		return;
	b = &dbufs[dslots[s].dbuf];
	if (b->handle && chance(60)) {
		ret = e2e_gem_close(drm, b->handle);
		count(K_IMPORT, ret);
		expect(!ret, "GEM_CLOSE of vgem's import: %s", e2e_err(ret));
		b->handle = 0;
		dbuf_maybe_release(dslots[s].dbuf);
		return;
	}
	ret = e2e_prime_import(drm, dslots[s].fd, &handle);
	count(K_IMPORT, ret);
	if (!expect(!ret && handle && (!b->handle || handle == b->handle),
		    "vgem PRIME_FD_TO_HANDLE: %s (handle %u, had %u)", e2e_err(ret), handle,
		    b->handle))
		return;
	b->handle = handle;
}

static void step_quota(void)
{
	count(K_QUOTA, 0);
	set_quota(chance(50) ? 0 : bsize(rnd(max_order + 1)) * (1 + rnd(3)));
}

/*
 * The per-CPU caches off or on at runtime: off must leave nothing cached,
 * as debugfs percpu shows; the model predicts the same either way.
 */
static void step_cache(void)
{
	int on = chance(50), was, enabled, cpus;
	__u64 cached;

	count(K_CACHE, 0);
	was = e2e_set_percpu_cache(on);
	if (!expect(was >= 0, "write percpu_cache=%d: %s", on, e2e_err(was)))
		return;
	pass();
	cpus = e2e_read_percpu(&cached, &enabled);
	expect(cpus > 0 && enabled == on && (on || !cached),
	       "percpu_cache=%d: debugfs percpu lists %d CPUs, says %d, %llu units cached",
	       on, cpus, enabled, (unsigned long long)cached);
}

/*
 * A child shares the files and the mappings.  It checks that its copy of
 * a mapping holds the block (FREE: -EBUSY, also after the child unmaps its
 * copy, since the parent's remains), allocates and frees through shared
 * files, and exits; nothing it did outlives it.
 */
static void step_fork(void)
{
	int pipefd[2], status = 0, i;
	pid_t pid;

	if (pipe(pipefd))
		return;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return;
	}
	if (pid == 0) {
		e2e_passed = 0;
		e2e_failed = 0;
		mismatches_shown = 50;
		close(pipefd[0]);
		for (i = 0; i < 12; i++) {
			struct mvma *v = vma_any();
			int s = slot_any(), ret, t;
			struct buddy_alloc a;

			if (v) {
				for (t = 0; t < NSLOTS; t++)
					if (slots[t].fd >= 0 && slots[t].file == v->file)
						break;
				if (t < NSLOTS) {
					ret = buddy_free(slots[t].fd, v->boff);
					expect(ret == -EBUSY, "child: FREE of a block mapped in parent and child: %s",
					       e2e_err(ret));
					if (chance(50)) {
						munmap(v->addr, v->len);
						v->used = false;
						ret = buddy_free(slots[t].fd, v->boff);
						expect(ret == -EBUSY,
						       "child: FREE after the child's munmap, the parent's mapping remains: %s",
						       e2e_err(ret));
					}
				}
			}
			if (s >= 0) {
				ret = buddy_alloc(slots[s].fd, rand_size(), &a);
				expect(ret == 0 || ret == -ENOMEM || ret == -EINVAL || ret == -EDQUOT,
				       "child: ALLOC through a shared file: %s", e2e_err(ret));
				if (!ret) {
					ret = buddy_free(slots[s].fd, a.offset);
					expect(!ret, "child: FREE of its block: %s", e2e_err(ret));
				}
			}
		}
		e2e_child_send(pipefd[1]);
		_exit(0);
	}
	close(pipefd[1]);
	count(K_FORK, 0);
	e2e_child_collect(pipefd[0]);
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	expect(WIFEXITED(status) && !WEXITSTATUS(status), "child exit status %#x", status);
}

/* ---------------------------------------------------------------------- */
/* the kernel against the model */

static int ctl = -1;

/*
 * debugfs blocks lists exactly the model's blocks, each file's under one
 * file number and different files under different numbers, and the
 * exported ones as "exported", after every file's.
 */
static void blocks_check(const char *phase)
{
	size_t size = nunits * 64 + 4096;
	char *text = malloc(size), *line, *save = NULL;
	unsigned long long kid[MAX_FILES] = { 0 };
	bool good = true, in_exported = false;
	__u64 lines = 0;
	int len, f;

	if (!text)
		abort();
	len = e2e_read_file(BUDDY_DEBUGFS "/blocks", text, size);
	expect(len > 0, "%s: debugfs blocks reads (%s)", phase, e2e_err(len));
	for (line = len > 0 ? strtok_r(text, "\n", &save) : NULL; line && good;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long off, bytes, id = 0;
		char file[24];
		bool exported;
		__u64 u;

		if (line[0] == '#')
			continue;
		lines++;
		good = sscanf(line, "%llu %llu %23s", &off, &bytes, file) == 3 &&
		       off < info.pool_size && !(off & (info.unit_size - 1));
		exported = good && !strcmp(file, "exported");
		if (good && !exported)
			good = sscanf(file, "%llu", &id) == 1;
		u = good ? off >> unit_shift : 0;
		good = good && start[u] == bytes &&
		       exported == (owner[u] == EXPORTED);
		if (!good) {
			expect(false, "%s: debugfs blocks: \"%s\" is no block of the model", phase,
			       line);
			break;
		}
		if (exported) {
			in_exported = true;
			continue;
		}
		if (in_exported) {
			good = expect(false, "%s: debugfs blocks: \"%s\" after an exported block",
				      phase, line);
			break;
		}
		f = owner[u] - 1;
		if (!kid[f])
			kid[f] = id;
		good = kid[f] == id;
		expect(good, "%s: debugfs blocks: \"%s\": file %llu, the model's file %d is %llu",
		       phase, line, id, f, kid[f]);
	}
	for (f = 0; good && f < MAX_FILES; f++) {
		int g;

		for (g = f + 1; g < MAX_FILES; g++)
			if (kid[f] && kid[f] == kid[g])
				good = expect(false, "%s: debugfs blocks: files %d and %d both %llu",
					      phase, f, g, kid[f]);
	}
	if (good)
		expect(lines == live_blocks, "%s: debugfs blocks: %llu lines, model %llu blocks",
		       phase, (unsigned long long)lines, (unsigned long long)live_blocks);
	free(text);
}

static void full_check(const char *phase, bool verbose_checks)
{
	struct buddy_info now;
	struct e2e_stats st;
	__u64 largest = model_largest();
	int ret;

	count(K_CHECK, 0);
	ret = buddy_info(ctl, &now);
	expect(!ret && now.free_bytes == info.pool_size - used_bytes &&
	       now.largest_free == largest,
	       "%s: INFO free %llu largest %llu, model %llu %llu (%s)", phase,
	       (unsigned long long)now.free_bytes, (unsigned long long)now.largest_free,
	       (unsigned long long)(info.pool_size - used_bytes),
	       (unsigned long long)largest, e2e_err(ret));
	ret = e2e_read_stats(&st, NULL, 0);
	expect(!ret && st.live_blocks == live_blocks && st.used_bytes == used_bytes &&
	       st.allocs - st.frees == st.live_blocks,
	       "%s: debugfs live_blocks %llu used %llu (allocs %llu - frees %llu), model %llu %llu",
	       phase, (unsigned long long)st.live_blocks,
	       (unsigned long long)st.used_bytes, (unsigned long long)st.allocs,
	       (unsigned long long)st.frees, (unsigned long long)live_blocks,
	       (unsigned long long)used_bytes);
	expect(!ret && st.exported_blocks == exported_blocks &&
	       st.exported_bytes == exported_bytes,
	       "%s: debugfs exported_blocks %llu exported_bytes %llu, model %llu %llu", phase,
	       (unsigned long long)st.exported_blocks, (unsigned long long)st.exported_bytes,
	       (unsigned long long)exported_blocks, (unsigned long long)exported_bytes);
	(void)verbose_checks;
	blocks_check(phase);
	e2e_consistent(ctl, phase);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const struct {
	enum kind k;
	unsigned int weight;
} weights[] = {
	{ K_ALLOC, 200 }, { K_FREE, 170 }, { K_INFO, 30 }, { K_BATCH, 110 },
	{ K_BADCMD, 60 }, { K_SIZED, 70 }, { K_BADPTR, 60 }, { K_MMAP, 90 },
	{ K_MUNMAP, 60 }, { K_MREMAP, 15 }, { K_CLOSE, 12 }, { K_OPEN, 14 },
	{ K_DUP, 6 }, { K_FORK, 3 }, { K_QUOTA, 4 }, { K_CACHE, 4 },
	{ K_EXPORT, 40 }, { K_DBUF_CLOSE, 12 }, { K_DBUF_DUP, 4 },
	{ K_DBUF_MMAP, 25 }, { K_DBUF_SYNC, 10 }, { K_IMPORT, 10 },
};

static void do_step(void)
{
	unsigned int total = 0, i, r;

	for (i = 0; i < ARRAY_SIZE(weights); i++)
		total += weights[i].weight;
	r = rnd(total);
	for (i = 0; r >= weights[i].weight; i++)
		r -= weights[i].weight;
	switch (weights[i].k) {
	case K_MMAP:
		step_mmap();
		break;
	case K_MUNMAP:
		step_munmap();
		break;
	case K_MREMAP:
		step_mremap();
		break;
	case K_CLOSE:
		step_close(false);
		break;
	case K_OPEN:
		step_open();
		break;
	case K_DUP:
		step_dup();
		break;
	case K_FORK:
		step_fork();
		break;
	case K_QUOTA:
		step_quota();
		break;
	case K_CACHE:
		step_cache();
		break;
	case K_DBUF_CLOSE:
		step_close(true);
		break;
	case K_DBUF_DUP:
		step_dbuf_dup();
		break;
	case K_DBUF_MMAP:
		step_dbuf_mmap();
		break;
	case K_DBUF_SYNC:
		step_dbuf_sync();
		break;
	case K_IMPORT:
		step_import();
		break;
	default:
		step_ioctl(weights[i].k);
	}
}

/*
 * The two cases the fuzzer found where a BATCH fails with -EFAULT after an
 * op took effect, as fixed checks (a file of their own, closed after).
 */
static void directed_cases(void)
{
	struct buddy_batch_op ops[1] = { { .op = BUDDY_BATCH_ALLOC, .size = 1 } };
	struct buddy_batch bb = { 0 }, *b;
	struct buddy_batch_op *op;
	struct buddy_info i0, i1;
	struct buddy_alloc a;
	char *m, *ro;
	int fd = buddy_open(), ret, again;

	m = mmap(NULL, 3 * psz, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return;
	ro = m + psz;
	memset(m, 0, 2 * psz);

	/* 1: _IOC_SIZE 32, the 8 bytes past struct buddy_batch read-only. */
	b = (struct buddy_batch *)(ro - sizeof(*b));
	b->ops = (__u64)(uintptr_t)ops;
	b->count = 1;
	b->op_size = sizeof(ops[0]);
	mprotect(ro, psz, PROT_READ);
	buddy_info(fd, &i0);
	ret = buddy_ioctl(fd, _IOC(_IOC_READ | _IOC_WRITE, BUDDY_IOC_MAGIC, 3,
				   sizeof(*b) + 8), b);
	buddy_info(fd, &i1);
	e2e_check(ret == -EFAULT && i1.free_bytes == i0.free_bytes,
		  "BATCH whose 8 bytes past the struct are read-only: -EFAULT, nothing allocated (got %s, free_bytes %llu -> %llu, op result %d)",
		  e2e_err(ret), (unsigned long long)i0.free_bytes,
		  (unsigned long long)i1.free_bytes, ops[0].result);

	/* 2: a FREE op whose last 4 bytes (pad) are read-only. */
	mprotect(ro, psz, PROT_READ | PROT_WRITE);
	ret = buddy_alloc(fd, info.unit_size, &a);
	op = (struct buddy_batch_op *)(ro - offsetof(struct buddy_batch_op, pad));
	memset(op, 0, sizeof(*op));
	op->op = BUDDY_BATCH_FREE;
	op->offset = a.offset;
	mprotect(ro, psz, PROT_READ);
	bb.ops = (__u64)(uintptr_t)op;
	bb.count = 1;
	bb.op_size = sizeof(*op);
	if (!ret)
		ret = buddy_ioctl(fd, BUDDY_IOC_BATCH, &bb);
	again = buddy_free(fd, a.offset);
	e2e_check(ret == -EFAULT && again == 0,
		  "BATCH FREE op whose pad is read-only: -EFAULT and the block not freed (got %s; FREE of it after: %s)",
		  e2e_err(ret), e2e_err(again));
	munmap(m, 3 * psz);
	close(fd);
}

/* A crash of the fuzzer itself: say where, for the replay. */
static void on_segv(int sig, siginfo_t *si, void *uc)
{
	void *bt[32];
	char msg[128];
	int n, len;

	(void)uc;
	len = snprintf(msg, sizeof(msg), "# ioctl_fuzz: signal %d at step %lu, address %p\n",
		       sig, step, si->si_addr);
	if (write(2, msg, len) < 0)
		_exit(3);
	n = backtrace(bt, 32);
	backtrace_symbols_fd(bt, n, 2);
	_exit(3);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };

	double seconds = 60, t0, last_check, last_report;
	unsigned long iters = 10000000;
	__u64 quota0 = 0;
	char buf[64];
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = strtod(argv[++i], NULL);
		else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
			iters = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			setenv("BUDDY_SEED", argv[++i], 1);
		else if (!strcmp(argv[i], "--verbose"))
			verbose = true;
		else {
			fprintf(stderr, "usage: %s [--seconds S] [--iters N] [--seed N] [--verbose]\n",
				argv[0]);
			return 2;
		}
	}
	e2e_init(1, argv);
	e2e_diag("replay: ioctl_fuzz --seed %llu --iters %lu (or --seconds %.0f)",
		 (unsigned long long)e2e_seed(), iters, seconds);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	psz = sysconf(_SC_PAGESIZE);
	ctl = buddy_open();
	ret = buddy_info(ctl, &info);
	if (!e2e_check(!ret && info.free_bytes == info.pool_size,
		       "INFO: pool %llu of %llu-byte units, whole at start (%s)",
		       (unsigned long long)info.pool_size,
		       (unsigned long long)info.unit_size, e2e_err(ret)))
		return e2e_done();
	while ((1ULL << unit_shift) < info.unit_size)
		unit_shift++;
	max_order = info.max_order;
	nunits = info.pool_size >> unit_shift;
	owner = calloc(nunits, 1);
	start = calloc(nunits, sizeof(*start));
	mapped_once = calloc(nunits, sizeof(bool));
	if (e2e_read_file(QUOTA_PARAM, buf, sizeof(buf)) > 0)
		quota0 = strtoull(buf, NULL, 10);
	quota = quota0;
	arena_init(&arg_arena, 2);
	arena_init(&ops_arena, (MAX_OPS * 2 * 4096 / 8 + psz - 1) / psz);
	arena_va = mmap(NULL, arena_va_len, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	munmap(arena_va, arena_va_len);
	for (i = 0; i < NSLOTS; i++) {
		slots[i].fd = -1;
		dslots[i].fd = -1;
	}
	drm = e2e_vgem_open();
	e2e_check(drm >= 0, "vgem for the import steps (%s)", e2e_err(drm < 0 ? drm : 0));
	directed_cases();
	for (i = 0; i < 3; i++)
		slot_open(i, false);

	t0 = last_check = last_report = now_s();
	for (step = 1; step <= iters; step++) {
		double t;

		do_step();
		if (step % 256)
			continue;
		t = now_s();
		if (t - t0 >= seconds)
			break;
		if (t - last_check >= 5) {
			full_check("periodic", verbose);
			last_check = t;
		}
		if (t - last_report >= 10) {
			e2e_diag("%.0f s: %lu steps, %llu live blocks, %llu bytes used, %d files",
				 t - t0, step, (unsigned long long)live_blocks,
				 (unsigned long long)used_bytes, NSLOTS);
			last_report = t;
		}
	}
	if (step > iters)
		step = iters;
	e2e_diag("%lu steps in %.1f s", step, now_s() - t0);
	full_check("after the steps", true);

	/* Give everything back. */
	for (i = 0; i < MAX_VMAS; i++) {
		if (vmas[i].used) {
			munmap(vmas[i].addr, vmas[i].len);
			vma_drop(&vmas[i]);
		}
	}
	for (i = 0; i < NSLOTS; i++)
		if (slots[i].fd >= 0)
			slot_close(i);
	e2e_check(live_blocks == exported_blocks,
		  "model: with the files closed, only the %llu exported blocks are left (%llu live)",
		  (unsigned long long)exported_blocks, (unsigned long long)live_blocks);
	full_check("/dev/buddy closed, DMA-BUFs open", true);
	for (i = 0; i < NDBUFS; i++)
		if (dbufs[i].used)
			dbuf_evict(i);
	if (drm >= 0)
		close(drm);
	set_quota(quota0);
	e2e_set_percpu_cache(1);
	e2e_check(live_blocks == 0 && exported_blocks == 0,
		  "model: every block released with the files and DMA-BUFs (%llu left)",
		  (unsigned long long)live_blocks);
	full_check("everything closed", true);
	{
		struct e2e_stats st;

		ret = e2e_read_stats(&st, NULL, 0);
		e2e_check(!ret && st.live_blocks == 0 && st.used_bytes == 0,
			  "everything closed: debugfs live_blocks %llu used_bytes %llu",
			  (unsigned long long)st.live_blocks,
			  (unsigned long long)st.used_bytes);
	}
	e2e_pool_whole(ctl, "everything closed");
	close(ctl);

	for (i = 0; i < K_NR; i++)
		e2e_diag("%-12s %8lu calls, %8lu succeeded, %8lu failed", kind_name[i],
			 kstat[i].calls, kstat[i].ok, kstat[i].err);
	e2e_diag("batch ops run %lu; blocks found after a short-struct ALLOC %lu; first mappings checked zero %lu",
		 batch_ops_run, recovered, zero_checked);
	e2e_diag("placed blocks at the model's offset %lu (EXACT extents not a power of two %lu); ENOMEM in a range %lu",
		 placed_checked, odd_extents, range_enomem);
	return e2e_done();
}
