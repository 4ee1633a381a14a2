// SPDX-License-Identifier: GPL-2.0
/*
 * smp_stress: many processes and threads hammer /dev/buddy at once.
 *
 *   smp_stress [--procs N] [--threads N] [--seconds S] [--seed N]
 *              [--max-live N] [--dev PATH]
 *   smp_stress --fill-cache CPU [--dev PATH]
 *
 * --procs processes (default 4), each with --threads threads (default 4),
 * run for --seconds (default 30).  Every thread has a worker identity, gid
 * (1 .. procs * threads), and its own open file, which it opens and closes
 * at random.  In between it allocates blocks of random sizes (single ioctls
 * and batches; mostly a few units, one in 16 a sixteenth to a quarter of the
 * pool, so the pool fills and allocations meet ENOMEM; half of them with
 * placement flags: TOPDOWN, RANGE within a random part of the pool, EXACT,
 * in any mix), maps most of those of at least a page (few of those above
 * 4 MiB; of an EXACT block, the whole pages of its extent) and stamps every
 * 64-bit word of them with its identity (gid, a per-block sequence number, the word's
 * index), verifies the stamp, unmaps and maps again, frees (single ioctls
 * and batches), tries frees that must fail (EBUSY while mapped, EINVAL for
 * an offset it does not own), reads BUDDY_IOC_INFO and debugfs blocks (every
 * line a block of the pool, in increasing (file, offset) order, however the
 * files and blocks change meanwhile).  Sometimes it closes
 * its file with blocks still live, sometimes while some are still mapped
 * (they must stay its own until the last munmap).
 *
 * Exported blocks pass between the threads of a process: a thread exports
 * one of its blocks (BUDDY_IOC_EXPORT, the block stamped) and leaves the
 * DMA-BUF in its process's mailbox; any thread takes one out, moves the
 * block's claim from the sender to itself, maps the DMA-BUF, checks the
 * sender's stamp between DMA_BUF_IOCTL_SYNC START and END, stamps it as its
 * own, and either passes it on through the mailbox or closes it, which
 * frees the block (the claim is released first).
 *
 * Ownership is checked two ways:
 *  - a map, one word per unit of the pool, in a MAP_SHARED anonymous region
 *    all processes share: right after an allocation the thread claims each
 *    unit of the block (of an EXACT one, its extent: block_size bytes, the
 *    tail is free for others at once) with a compare-and-swap from 0 to its
 *    gid, and right before it gives the block back (free, close) it
 *    releases them.  A unit already claimed means the kernel handed one
 *    block to two owners.
 *  - the stamps: a fresh block must read as zero, and a block's stamp must
 *    be intact whenever it is verified (before every free and unmap, on
 *    every map, at random).  A stranger's stamp names the intruder.
 *
 * At the end the parent checks that every child exited cleanly, that no
 * check failed, that the ownership map is empty, and, with every file
 * closed, that the pool is whole (INFO free_bytes == largest_free ==
 * pool_size; debugfs live_blocks, used_bytes and exported_blocks 0 when
 * mounted).  It prints the seed, the figures (operations per kind,
 * processes, threads, duration) and a closing "N passed, N failed" line;
 * the exit status is 1 if anything failed.  Timing decides the interleaving, so a seed replays each
 * thread's choices, not the run.
 *
 * --fill-cache CPU does none of that: pinned to CPU, it allocates 64 blocks
 * of orders 0..3 in turn and frees them, reading INFO (which drains the
 * per-CPU caches) only before, so that CPU's cache holds blocks afterwards;
 * for the CPU hotplug test (scripts/lib/smp-hotplug.sh).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/buddy.h>
#include <linux/dma-buf.h>

#define __printf(a, b)	__attribute__((__format__(__printf__, a, b)))

#define MAX_GID		0xffff	/* gid fits the stamp's 16 bits */
#define MAX_LIVE_LIMIT	64
#define BATCH_MAX_OPS	4
#define DIAG_MAX	20	/* diagnostics printed, over all workers */
#define HANG_GRACE	60	/* seconds past the deadline before a child is killed */
#define BIG_MAP		(4 << 20)	/* blocks above this are rarely mapped */

/* Operation kinds, counted per worker. */
enum op_kind {
	OP_OPEN, OP_CLOSE, OP_CLOSE_MAPPED, OP_ALLOC, OP_ALLOC_ENOMEM,
	OP_BATCH_ALLOC, OP_BATCH_ALLOC_OPS, OP_FREE, OP_BATCH_FREE,
	OP_BATCH_FREE_OPS, OP_MMAP, OP_MUNMAP, OP_VERIFY, OP_BUSY_FREE,
	OP_BOGUS_FREE, OP_INFO, OP_BLOCKS, OP_EXPORT, OP_DBUF_TAKE,
	OP_DBUF_PASS, OP_DBUF_CLOSE, OP_PLACED_TOPDOWN, OP_PLACED_RANGE,
	OP_PLACED_EXACT, OP_KINDS
};

static const char * const op_names[OP_KINDS] = {
	[OP_OPEN] = "open",
	[OP_CLOSE] = "close",
	[OP_CLOSE_MAPPED] = "close while mapped",
	[OP_ALLOC] = "alloc",
	[OP_ALLOC_ENOMEM] = "alloc ENOMEM",
	[OP_BATCH_ALLOC] = "batch alloc (ioctls)",
	[OP_BATCH_ALLOC_OPS] = "batch alloc (blocks)",
	[OP_FREE] = "free",
	[OP_BATCH_FREE] = "batch free (ioctls)",
	[OP_BATCH_FREE_OPS] = "batch free (blocks)",
	[OP_MMAP] = "mmap",
	[OP_MUNMAP] = "munmap",
	[OP_VERIFY] = "verify stamp",
	[OP_BUSY_FREE] = "free while mapped (EBUSY)",
	[OP_BOGUS_FREE] = "free not owned (EINVAL)",
	[OP_INFO] = "info",
	[OP_BLOCKS] = "debugfs blocks read",
	[OP_EXPORT] = "export (DMA-BUF)",
	[OP_DBUF_TAKE] = "DMA-BUF taken, stamp checked",
	[OP_DBUF_PASS] = "DMA-BUF passed on",
	[OP_DBUF_CLOSE] = "DMA-BUF closed (freed)",
	[OP_PLACED_TOPDOWN] = "blocks with TOPDOWN",
	[OP_PLACED_RANGE] = "blocks with RANGE",
	[OP_PLACED_EXACT] = "EXACT blocks, not 2^n units",
};

/* Failure kinds: each is one check at the end. */
enum fail_kind {
	F_TWO_OWNERS, F_STAMP, F_NOT_ZERO, F_ALLOC_SHAPE, F_ERRNO,
	F_BUSY, F_BOGUS, F_INFO, F_BLOCKS, F_KINDS
};

static const char * const fail_names[F_KINDS] = {
	[F_TWO_OWNERS] = "no block was handed to two owners (ownership map)",
	[F_STAMP] = "every stamp was intact when verified",
	[F_NOT_ZERO] = "every fresh block read as zero",
	[F_ALLOC_SHAPE] = "every block was aligned, in the pool (in its range), of the right size",
	[F_ERRNO] = "no call failed unexpectedly",
	[F_BUSY] = "freeing a mapped block failed with EBUSY",
	[F_BOGUS] = "freeing an offset not owned failed with EINVAL",
	[F_INFO] = "BUDDY_IOC_INFO was consistent",
	[F_BLOCKS] = "debugfs blocks read well formed, in (file, offset) order",
};

/* One worker's figures, in the shared region; written by that worker only. */
struct wstats {
	pid_t pid;
	pid_t tid;
	unsigned long ops[OP_KINDS];
	unsigned long fails[F_KINDS];
	unsigned long long bytes_stamped;
	unsigned long long bytes_verified;
	int finished;
};

struct shared {
	unsigned int diag_printed;	/* atomic */
	struct wstats w[];		/* indexed by gid - 1 */
};

struct block {
	__u64 offset;
	__u64 size;		/* block_size: with EXACT the extent, any units */
	__u64 seq;		/* stamp sequence; 0: never stamped */
	void *map;		/* NULL: not mapped */
	bool claimed;		/* its units hold our gid in the map */
};

/* An exported block waiting in its process's mailbox for any thread. */
struct letter {
	int fd;			/* the DMA-BUF; -1: the slot is empty */
	__u64 offset;
	__u64 size;
	unsigned int gid;	/* who stamped it and holds its claim */
	__u64 seq;		/* its stamp's sequence, 0: never stamped */
};

#define MAILBOX_SLOTS	8

/* One per process: its threads share descriptors, so a DMA-BUF can pass. */
static struct {
	pthread_mutex_t lock;	/* the slots */
	struct letter slot[MAILBOX_SLOTS];
} mailbox = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct worker {
	pthread_t thread;
	unsigned int gid;
	__u64 rng;
	int fd;
	struct block live[MAX_LIVE_LIMIT];
	unsigned int nlive;
	__u64 seq;
	struct wstats *st;
};

/* Options and what INFO says, fixed before the fork. */
static unsigned int nprocs = 4, nthreads = 4, max_live = 8;
static unsigned int seconds = 30;
static __u64 seed;
static const char *dev = "/dev/buddy";
static struct buddy_info info;
static __u64 nunits;
static long page_size;
static unsigned int max_alloc_order;	/* in units */
static struct timespec deadline;

static struct shared *shared;
static unsigned int *owner;		/* per unit: 0, or the owner's gid */

static __u64 rnd(struct worker *w)
{
	/* xorshift64* */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545f4914f6cdd1dULL;
}

static __u64 splitmix(__u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static bool past(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec ||
	       (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static double elapsed(const struct timespec *from)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - from->tv_sec) +
	       (double)(now.tv_nsec - from->tv_nsec) / 1e9;
}

static __printf(3, 4)
void fail(struct worker *w, enum fail_kind kind, const char *fmt, ...);

static void fail(struct worker *w, enum fail_kind kind, const char *fmt, ...)
{
	va_list ap;

	w->st->fails[kind]++;
	if (__atomic_fetch_add(&shared->diag_printed, 1, __ATOMIC_RELAXED) >=
	    DIAG_MAX)
		return;
	flockfile(stdout);
	printf("# worker %u (pid %d tid %d): ", w->gid, (int)w->st->pid,
	       (int)w->st->tid);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	funlockfile(stdout);
}

/* The ioctl's result: 0 or -errno. */
static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

/* Word @i of a block stamped by @gid with @seq. */
static __u64 stamp_word(unsigned int gid, __u64 seq, __u64 i)
{
	return (__u64)gid << 48 | (seq & 0xffffff) << 24 | (i & 0xffffff);
}

static void describe_gid(unsigned int gid, char *buf, size_t len)
{
	if (gid && gid <= nprocs * nthreads)
		snprintf(buf, len, "worker %u (pid %d tid %d)", gid,
			 (int)shared->w[gid - 1].pid, (int)shared->w[gid - 1].tid);
	else
		snprintf(buf, len, "no worker (gid %u)", gid);
}

/* The whole pages of @b, what mmap maps of it: an EXACT extent may end inside a page. */
static __u64 map_bytes(const struct block *b)
{
	return b->size & ~((__u64)page_size - 1);
}

static bool mappable(const struct block *b)
{
	return map_bytes(b) >= (__u64)page_size;
}

/* EXPORT takes a whole number of pages only. */
static bool exportable(const struct block *b)
{
	return mappable(b) && map_bytes(b) == b->size;
}

/* Map a block?  Most, but few of the big ones: stamping costs time. */
static bool want_map(struct worker *w, const struct block *b)
{
	return mappable(b) && (b->size <= BIG_MAP ? rnd(w) % 4 : !(rnd(w) % 8));
}

/* Claims every unit of @b for @w; false if any was someone else's. */
static void claim(struct worker *w, struct block *b)
{
	__u64 first = b->offset / info.unit_size;
	__u64 n = b->size / info.unit_size, i;
	unsigned int clash = 0;
	__u64 clash_unit = 0;

	for (i = 0; i < n; i++) {
		unsigned int expected = 0;

		if (!__atomic_compare_exchange_n(&owner[first + i], &expected,
						 w->gid, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE) && !clash) {
			clash = expected;
			clash_unit = first + i;
		}
	}
	b->claimed = true;
	if (clash) {
		char who[80];

		describe_gid(clash, who, sizeof(who));
		fail(w, F_TWO_OWNERS,
		     "block at %llu (%llu bytes): unit %llu is held by %s",
		     (unsigned long long)b->offset, (unsigned long long)b->size,
		     (unsigned long long)clash_unit, who);
	}
}

/* Releases the units @w holds of @b (never another owner's). */
static void unclaim(struct worker *w, struct block *b)
{
	__u64 first = b->offset / info.unit_size;
	__u64 n = b->size / info.unit_size, i;

	if (!b->claimed)
		return;
	for (i = 0; i < n; i++) {
		unsigned int expected = w->gid;

		__atomic_compare_exchange_n(&owner[first + i], &expected, 0,
					    false, __ATOMIC_ACQ_REL,
					    __ATOMIC_ACQUIRE);
	}
	b->claimed = false;
}

/* The map still says the block is ours. */
static void check_claim(struct worker *w, const struct block *b)
{
	__u64 first = b->offset / info.unit_size;
	__u64 n = b->size / info.unit_size, i;

	for (i = 0; i < n; i++) {
		unsigned int o = __atomic_load_n(&owner[first + i],
						 __ATOMIC_ACQUIRE);

		if (o != w->gid) {
			char who[80];

			describe_gid(o, who, sizeof(who));
			fail(w, F_TWO_OWNERS,
			     "block at %llu: unit %llu of it is held by %s",
			     (unsigned long long)b->offset,
			     (unsigned long long)(first + i), who);
			return;
		}
	}
}

/* Stamps @size mapped bytes at @p as @w's, with a new sequence number. */
static __u64 stamp_words(struct worker *w, __u64 *p, __u64 size)
{
	__u64 i, n = size / sizeof(__u64), seq = ++w->seq;

	/* Relaxed atomics: real stores, never merged with the reads. */
	for (i = 0; i < n; i++)
		__atomic_store_n(&p[i], stamp_word(w->gid, seq, i),
				 __ATOMIC_RELAXED);
	w->st->bytes_stamped += size;
	return seq;
}

static void stamp(struct worker *w, struct block *b)
{
	b->seq = stamp_words(w, b->map, map_bytes(b));
}

/*
 * Compares @size mapped bytes at @p, the block at @offset, with the stamp
 * @gid wrote with @seq (or zero if @seq is 0).
 */
static void check_words(struct worker *w, const __u64 *p, __u64 offset,
			__u64 size, unsigned int gid, __u64 seq)
{
	__u64 i, n = size / sizeof(__u64);

	for (i = 0; i < n; i++) {
		__u64 want = seq ? stamp_word(gid, seq, i) : 0;
		__u64 got = __atomic_load_n(&p[i], __ATOMIC_RELAXED);
		char who[80];

		if (got == want)
			continue;
		describe_gid((unsigned int)(got >> 48), who, sizeof(who));
		if (seq)
			fail(w, F_STAMP,
			     "block at %llu (%llu bytes), word %llu: %#llx, want %#llx (gid %u seq %llu); the word names %s, seq %llu",
			     (unsigned long long)offset, (unsigned long long)size,
			     (unsigned long long)i, (unsigned long long)got,
			     (unsigned long long)want, gid, (unsigned long long)seq,
			     who, (unsigned long long)((got >> 24) & 0xffffff));
		else
			fail(w, F_NOT_ZERO,
			     "fresh block at %llu (%llu bytes), word %llu: %#llx; the word names %s",
			     (unsigned long long)offset, (unsigned long long)size,
			     (unsigned long long)i, (unsigned long long)got, who);
		break;
	}
	w->st->bytes_verified += size;
	w->st->ops[OP_VERIFY]++;
}

/* Compares the mapped block with its stamp (or zero if never stamped). */
static void verify(struct worker *w, const struct block *b)
{
	check_words(w, b->map, b->offset, map_bytes(b), w->gid, b->seq);
	check_claim(w, b);
}

/* Maps @b, checks what it holds, stamps it when fresh. */
static void map_block(struct worker *w, struct block *b)
{
	void *p = mmap(NULL, map_bytes(b), PROT_READ | PROT_WRITE, MAP_SHARED, w->fd,
		       (off_t)b->offset);

	if (p == MAP_FAILED) {
		fail(w, F_ERRNO, "mmap of block at %llu (%llu bytes): %s",
		     (unsigned long long)b->offset, (unsigned long long)b->size,
		     strerror(errno));
		return;
	}
	w->st->ops[OP_MMAP]++;
	b->map = p;
	verify(w, b);
	if (!b->seq)
		stamp(w, b);
}

static void unmap_block(struct worker *w, struct block *b)
{
	if (!b->map)
		return;
	if (munmap(b->map, map_bytes(b)))
		fail(w, F_ERRNO, "munmap: %s", strerror(errno));
	w->st->ops[OP_MUNMAP]++;
	b->map = NULL;
}

/*
 * Size to ask for: a random order, then a size needing it.  Mostly a few
 * units (geometric, up to 1/8 of the pool); one in 16 a big block, 1/16 to
 * 1/4 of the pool, so the pool fills up and allocations meet ENOMEM.
 */
static __u64 pick_size(struct worker *w)
{
	unsigned int order;
	__u64 bs;

	if (info.max_order >= 4 && !(rnd(w) % 16))
		order = info.max_order - 2 - (unsigned int)(rnd(w) % 3);
	else
		order = (unsigned int)__builtin_ctzll(rnd(w) |
						      1ULL << max_alloc_order);
	bs = info.unit_size << order;
	if (!order)
		return 1 + rnd(w) % info.unit_size;
	return bs / 2 + 1 + rnd(w) % (bs / 2);
}

/* The power-of-two block that holds @size bytes. */
static __u64 whole_block(__u64 size)
{
	__u64 bs = info.unit_size;

	while (bs < size)
		bs <<= 1;
	return bs;
}

/*
 * An allocation to ask for: a size, and half the time placement flags,
 * any mix of TOPDOWN, RANGE (a random part of the pool: an eighth to all
 * of it, at any unit) and EXACT (the sizes above are mostly not a power
 * of two of units).  *@block_size is what it must give: the extent with
 * EXACT, else the power-of-two block.
 */
static void pick_alloc(struct worker *w, struct buddy_alloc *a, __u64 *block_size)
{
	memset(a, 0, sizeof(*a));
	a->size = pick_size(w);
	if (rnd(w) % 2)
		a->flags = 1 + rnd(w) % (BUDDY_ALLOC_TOPDOWN | BUDDY_ALLOC_RANGE |
					 BUDDY_ALLOC_EXACT);
	if (a->flags & BUDDY_ALLOC_RANGE) {
		__u64 len = nunits >> (rnd(w) % 4);
		__u64 first = rnd(w) % (nunits - len + 1);

		a->range_start = first * info.unit_size;
		a->range_end = (first + len) * info.unit_size;
	}
	*block_size = a->flags & BUDDY_ALLOC_EXACT ?
		      (a->size + info.unit_size - 1) & ~(info.unit_size - 1) :
		      whole_block(a->size);
}

/*
 * A block the kernel just gave for @req: check its shape (aligned to the
 * whole power-of-two block, in the pool, in the range), claim it, maybe
 * map it.
 */
static void took_block(struct worker *w, __u64 offset, __u64 size,
		       __u64 want_size, const struct buddy_alloc *req)
{
	struct block *b = &w->live[w->nlive++];
	__u64 whole = whole_block(req->size);
	bool good = size == want_size && !(offset % whole) &&
		    offset < info.pool_size && whole <= info.pool_size - offset;

	/* In the range: what is kept (EXACT: the extent, else the block). */
	if (good && (req->flags & BUDDY_ALLOC_RANGE))
		good = offset >= req->range_start && offset + size <= req->range_end;
	if (!good)
		fail(w, F_ALLOC_SHAPE,
		     "alloc of %llu bytes (flags %#x, range [%llu, %llu)): block at %llu of %llu bytes, want %llu bytes, aligned to %llu, in a pool of %llu",
		     (unsigned long long)req->size, req->flags,
		     (unsigned long long)req->range_start,
		     (unsigned long long)req->range_end, (unsigned long long)offset,
		     (unsigned long long)size, (unsigned long long)want_size,
		     (unsigned long long)whole, (unsigned long long)info.pool_size);
	memset(b, 0, sizeof(*b));
	b->offset = offset;
	b->size = size;
	if (!good) {
		/* Unusable: keep it only to free it, never claim or map it. */
		return;
	}
	if (req->flags & BUDDY_ALLOC_TOPDOWN)
		w->st->ops[OP_PLACED_TOPDOWN]++;
	if (req->flags & BUDDY_ALLOC_RANGE)
		w->st->ops[OP_PLACED_RANGE]++;
	if ((req->flags & BUDDY_ALLOC_EXACT) && (size / info.unit_size & (size / info.unit_size - 1)))
		w->st->ops[OP_PLACED_EXACT]++;
	claim(w, b);
	if (want_map(w, b))
		map_block(w, b);
}

static void drop(struct worker *w, unsigned int i)
{
	w->live[i] = w->live[--w->nlive];
}

static void do_open(struct worker *w)
{
	w->fd = open(dev, O_RDWR | O_CLOEXEC);
	if (w->fd < 0)
		fail(w, F_ERRNO, "open %s: %s", dev, strerror(errno));
	else
		w->st->ops[OP_OPEN]++;
}

static void do_alloc(struct worker *w)
{
	struct buddy_alloc a, req;
	__u64 want;
	int ret;

	if (w->nlive >= max_live)
		return;
	pick_alloc(w, &req, &want);
	a = req;
	ret = xioctl(w->fd, BUDDY_IOC_ALLOC, &a);
	if (ret == -ENOMEM) {
		w->st->ops[OP_ALLOC_ENOMEM]++;
		return;
	}
	if (ret) {
		fail(w, F_ERRNO, "BUDDY_IOC_ALLOC of %llu bytes (flags %#x): %s",
		     (unsigned long long)a.size, a.flags, strerror(-ret));
		return;
	}
	w->st->ops[OP_ALLOC]++;
	took_block(w, a.offset, a.block_size, want, &req);
}

static void do_batch_alloc(struct worker *w)
{
	struct buddy_batch_op ops[BATCH_MAX_OPS];
	struct buddy_batch batch = { 0 };
	struct buddy_alloc req[BATCH_MAX_OPS];
	__u64 want[BATCH_MAX_OPS];
	unsigned int n = 1 + rnd(w) % BATCH_MAX_OPS, i;
	int ret;

	if (w->nlive + n > max_live)
		return;
	memset(ops, 0, sizeof(ops));
	for (i = 0; i < n; i++) {
		pick_alloc(w, &req[i], &want[i]);
		ops[i].op = BUDDY_BATCH_ALLOC;
		ops[i].size = req[i].size;
		ops[i].flags = req[i].flags;
		ops[i].range_start = req[i].range_start;
		ops[i].range_end = req[i].range_end;
		ops[i].result = 1;	/* must be overwritten */
	}
	batch.ops = (__u64)(uintptr_t)ops;
	batch.count = n;
	batch.op_size = sizeof(ops[0]);
	ret = xioctl(w->fd, BUDDY_IOC_BATCH, &batch);
	if (ret) {
		fail(w, F_ERRNO, "BUDDY_IOC_BATCH of %u allocs: %s", n,
		     strerror(-ret));
		return;
	}
	w->st->ops[OP_BATCH_ALLOC]++;
	if (batch.done > n) {
		fail(w, F_ERRNO, "BUDDY_IOC_BATCH: done %u of %u", batch.done, n);
		return;
	}
	for (i = 0; i < batch.done; i++) {
		if (ops[i].result) {
			fail(w, F_ERRNO, "batch alloc op %u of the done ones: result %d",
			     i, ops[i].result);
			continue;
		}
		w->st->ops[OP_BATCH_ALLOC_OPS]++;
		took_block(w, ops[i].offset, ops[i].block_size, want[i], &req[i]);
	}
	if (batch.done < n) {
		if (ops[batch.done].result == -ENOMEM)
			w->st->ops[OP_ALLOC_ENOMEM]++;
		else
			fail(w, F_ERRNO, "batch alloc op %u failed: result %d",
			     batch.done, ops[batch.done].result);
	}
}

/* Gives block @i back: verify, release the claim, unmap, free. */
static void do_free(struct worker *w, unsigned int i)
{
	struct block *b = &w->live[i];
	struct buddy_free f = { .offset = b->offset };
	int ret;

	if (b->map)
		verify(w, b);
	unclaim(w, b);
	unmap_block(w, b);
	ret = xioctl(w->fd, BUDDY_IOC_FREE, &f);
	if (ret)
		fail(w, F_ERRNO, "BUDDY_IOC_FREE of its block at %llu: %s",
		     (unsigned long long)b->offset, strerror(-ret));
	else
		w->st->ops[OP_FREE]++;
	drop(w, i);
}

static void do_batch_free(struct worker *w)
{
	struct buddy_batch_op ops[BATCH_MAX_OPS];
	struct buddy_batch batch = { 0 };
	unsigned int pick[BATCH_MAX_OPS];
	unsigned int n = 0, i;
	int ret;

	memset(ops, 0, sizeof(ops));
	for (i = 0; i < w->nlive && n < BATCH_MAX_OPS; i++) {
		struct block *b = &w->live[i];

		if (b->map || rnd(w) % 2)
			continue;
		unclaim(w, b);
		ops[n].op = BUDDY_BATCH_FREE;
		ops[n].offset = b->offset;
		ops[n].result = 1;
		pick[n++] = i;
	}
	if (!n)
		return;
	batch.ops = (__u64)(uintptr_t)ops;
	batch.count = n;
	batch.op_size = sizeof(ops[0]);
	ret = xioctl(w->fd, BUDDY_IOC_BATCH, &batch);
	if (ret)
		fail(w, F_ERRNO, "BUDDY_IOC_BATCH of %u frees: %s", n,
		     strerror(-ret));
	else if (batch.done != n)
		fail(w, F_ERRNO, "BUDDY_IOC_BATCH of %u frees: done %u, result %d",
		     n, batch.done, batch.done < n ? ops[batch.done].result : 0);
	else
		w->st->ops[OP_BATCH_FREE]++;
	if (!ret)
		w->st->ops[OP_BATCH_FREE_OPS] += batch.done;
	/* Drop from the highest index down so swaps keep the others. */
	while (n--)
		drop(w, pick[n]);
}

static void do_busy_free(struct worker *w, struct block *b)
{
	struct buddy_free f = { .offset = b->offset };
	int ret = xioctl(w->fd, BUDDY_IOC_FREE, &f);

	w->st->ops[OP_BUSY_FREE]++;
	if (ret != -EBUSY)
		fail(w, F_BUSY, "BUDDY_IOC_FREE of its mapped block at %llu: %s, want EBUSY",
		     (unsigned long long)b->offset,
		     ret ? strerror(-ret) : "success");
	if (!ret) {
		/* It is gone: forget it without touching the mapping again. */
		unclaim(w, b);
		munmap(b->map, map_bytes(b));
		b->map = NULL;
		drop(w, (unsigned int)(b - w->live));
	}
}

/* Frees an offset this file does not own a block at: EINVAL, no change. */
static void do_bogus_free(struct worker *w)
{
	struct buddy_free f = { 0 };
	unsigned int i;
	int ret;

	switch (rnd(w) % 3) {
	case 0:	/* any unit of the pool, maybe another's block */
		f.offset = rnd(w) % nunits * info.unit_size;
		break;
	case 1:	/* inside one of our own blocks */
		if (!w->nlive)
			return;
		i = rnd(w) % w->nlive;
		if (w->live[i].size == info.unit_size)
			return;
		f.offset = w->live[i].offset + info.unit_size *
			   (1 + rnd(w) % (w->live[i].size / info.unit_size - 1));
		break;
	default:	/* misaligned or past the pool */
		f.offset = rnd(w) % 2 ? info.pool_size + rnd(w) % info.pool_size :
			   rnd(w) % info.pool_size | 1;
		break;
	}
	for (i = 0; i < w->nlive; i++)
		if (w->live[i].offset == f.offset)
			return;		/* ours after all */
	ret = xioctl(w->fd, BUDDY_IOC_FREE, &f);
	w->st->ops[OP_BOGUS_FREE]++;
	if (ret != -EINVAL) {
		fail(w, F_BOGUS, "BUDDY_IOC_FREE of offset %llu it does not own: %s, want EINVAL",
		     (unsigned long long)f.offset,
		     ret ? strerror(-ret) : "success");
	}
}

static void do_info(struct worker *w)
{
	struct buddy_info i = { 0 };
	int ret = xioctl(w->fd, BUDDY_IOC_INFO, &i);

	if (ret) {
		fail(w, F_ERRNO, "BUDDY_IOC_INFO: %s", strerror(-ret));
		return;
	}
	w->st->ops[OP_INFO]++;
	if (i.pool_size != info.pool_size || i.unit_size != info.unit_size ||
	    i.max_order != info.max_order || i.free_bytes > i.pool_size ||
	    i.free_bytes % i.unit_size || i.largest_free > i.free_bytes ||
	    (i.largest_free & (i.largest_free - 1)) ||
	    (i.free_bytes && i.largest_free < i.unit_size))
		fail(w, F_INFO,
		     "BUDDY_IOC_INFO: pool %llu unit %llu free %llu largest %llu max_order %u",
		     (unsigned long long)i.pool_size,
		     (unsigned long long)i.unit_size,
		     (unsigned long long)i.free_bytes,
		     (unsigned long long)i.largest_free, i.max_order);
}

/*
 * Reads debugfs blocks in small chunks, so that the kernel's iterator drops
 * its lock and finds its place again many times while the others change
 * the files and blocks it walks.  Skipped when debugfs is not there.
 */
static void do_blocks(struct worker *w)
{
	static const char header[] = "# offset size file tgid comm";
	unsigned long long last_file = 0, last_offset = 0, last_exported = 0;
	size_t len = 0, cap = 1 << 16;
	char *buf, *line, *save = NULL;
	bool first = true, in_exported = false;
	ssize_t n;
	int fd = open("/sys/kernel/debug/buddy/blocks", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	buf = malloc(cap + 1);
	while (buf && (n = read(fd, buf + len, 512)) > 0) {
		len += n;
		if (cap - len < 512)
			buf = realloc(buf, (cap *= 2) + 1);
	}
	close(fd);
	if (!buf) {
		fail(w, F_ERRNO, "debugfs blocks: out of memory");
		return;
	}
	buf[len] = 0;
	w->st->ops[OP_BLOCKS]++;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long offset, size, file = 0;
		char comm[64], owner[24];
		bool exported;
		long tgid;
		int end = 0;

		if (first) {
			first = false;
			if (strcmp(line, header))
				fail(w, F_BLOCKS, "debugfs blocks: first line \"%s\"", line);
			continue;
		}
		/* Each file's blocks by offset, files in order; then the exported, by offset. */
		exported = sscanf(line, "%llu %llu %23s", &offset, &size, owner) == 3 &&
			   !strcmp(owner, "exported");
		if ((exported ?
		     sscanf(line, "%llu %llu exported %ld %63s%n", &offset, &size, &tgid, comm,
			    &end) != 4 :
		     in_exported ||
		     sscanf(line, "%llu %llu %llu %ld %63s%n", &offset, &size, &file, &tgid,
			    comm, &end) != 5) ||
		    line[end] || size < info.unit_size || size % info.unit_size ||
		    (offset & (whole_block(size) - 1)) ||
		    offset >= info.pool_size || size > info.pool_size - offset ||
		    (exported ? in_exported && offset <= last_exported :
		     file < last_file || (file == last_file && offset <= last_offset))) {
			fail(w, F_BLOCKS, "debugfs blocks: \"%s\" after file %llu offset %llu",
			     line, last_file, last_offset);
			break;
		}
		if (exported) {
			in_exported = true;
			last_exported = offset;
			continue;
		}
		last_file = file;
		last_offset = offset;
	}
	free(buf);
}

/*
 * Closes the file.  Unmapped blocks are released in the map first (the
 * kernel may hand them out as soon as the file goes).  With @keep_maps, the
 * mapped ones stay mapped across the close: the mapping pins the file, so
 * they are still ours, stamps intact, until their munmap.
 */
static void do_close(struct worker *w, bool keep_maps)
{
	unsigned int i;

	for (i = 0; i < w->nlive; i++) {
		struct block *b = &w->live[i];

		if (b->map && !keep_maps) {
			verify(w, b);
			unclaim(w, b);
			unmap_block(w, b);
		} else if (!b->map) {
			unclaim(w, b);
		}
	}
	if (close(w->fd))
		fail(w, F_ERRNO, "close: %s", strerror(errno));
	w->fd = -1;
	w->st->ops[keep_maps ? OP_CLOSE_MAPPED : OP_CLOSE]++;
	for (i = 0; i < w->nlive; i++) {
		struct block *b = &w->live[i];

		if (b->map) {
			verify(w, b);
			unclaim(w, b);
			unmap_block(w, b);
		}
	}
	w->nlive = 0;
}

/* Moves the claim on @size bytes at @offset from @from to @w. */
static void move_claim(struct worker *w, __u64 offset, __u64 size,
		       unsigned int from)
{
	__u64 first = offset / info.unit_size, n = size / info.unit_size, i;

	for (i = 0; i < n; i++) {
		unsigned int expected = from;

		if (!__atomic_compare_exchange_n(&owner[first + i], &expected,
						 w->gid, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE)) {
			char who[80];

			describe_gid(expected, who, sizeof(who));
			fail(w, F_TWO_OWNERS,
			     "DMA-BUF of the block at %llu from worker %u: unit %llu is held by %s",
			     (unsigned long long)offset, from,
			     (unsigned long long)(first + i), who);
			return;
		}
	}
}

/* Releases the units @gid holds of @size bytes at @offset. */
static void release_units(unsigned int gid, __u64 offset, __u64 size)
{
	__u64 first = offset / info.unit_size, n = size / info.unit_size, i;

	for (i = 0; i < n; i++) {
		unsigned int expected = gid;

		__atomic_compare_exchange_n(&owner[first + i], &expected, 0, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	}
}

/* Into the mailbox; false when it is full. */
static bool post(const struct letter *l)
{
	unsigned int i;
	bool posted = false;

	pthread_mutex_lock(&mailbox.lock);
	for (i = 0; i < MAILBOX_SLOTS && !posted; i++) {
		if (mailbox.slot[i].fd < 0) {
			mailbox.slot[i] = *l;
			posted = true;
		}
	}
	pthread_mutex_unlock(&mailbox.lock);
	return posted;
}

/* Out of the mailbox, from slot @from on; false when it is empty. */
static bool take_letter(unsigned int from, struct letter *l)
{
	unsigned int i;
	bool taken = false;

	pthread_mutex_lock(&mailbox.lock);
	for (i = 0; i < MAILBOX_SLOTS && !taken; i++) {
		struct letter *m = &mailbox.slot[(from + i) % MAILBOX_SLOTS];

		if (m->fd >= 0) {
			*l = *m;
			m->fd = -1;
			taken = true;
		}
	}
	pthread_mutex_unlock(&mailbox.lock);
	return taken;
}

/* The last reference: the claim first, since the close frees the block. */
static void dbuf_close(struct worker *w, const struct letter *l)
{
	release_units(l->gid, l->offset, l->size);
	if (close(l->fd))
		fail(w, F_ERRNO, "close of a DMA-BUF: %s", strerror(errno));
	w->st->ops[OP_DBUF_CLOSE]++;
}

/* Exports an unmapped block of @w's and posts its DMA-BUF. */
static void do_export(struct worker *w, struct block *b)
{
	struct buddy_export e = { .offset = b->offset, .fd_flags = O_RDWR | O_CLOEXEC };
	struct letter l;
	int ret;

	if (b->map || !b->claimed || !exportable(b))
		return;
	ret = xioctl(w->fd, BUDDY_IOC_EXPORT, &e);
	if (ret) {
		fail(w, F_ERRNO, "BUDDY_IOC_EXPORT of its unmapped block at %llu: %s",
		     (unsigned long long)b->offset, strerror(-ret));
		return;
	}
	w->st->ops[OP_EXPORT]++;
	l = (struct letter){ .fd = (int)e.fd, .offset = b->offset, .size = b->size,
			     .gid = w->gid, .seq = b->seq };
	/* No longer the file's: the DMA-BUF holds it, and the claim with it. */
	drop(w, (unsigned int)(b - w->live));
	if (!post(&l))
		dbuf_close(w, &l);
}

static int dbuf_sync(struct worker *w, int fd, __u64 flags)
{
	struct dma_buf_sync sync = { .flags = flags };
	int ret = xioctl(fd, DMA_BUF_IOCTL_SYNC, &sync);

	if (ret)
		fail(w, F_ERRNO, "DMA_BUF_IOCTL_SYNC %#llx: %s",
		     (unsigned long long)flags, strerror(-ret));
	return ret;
}

/*
 * Takes a DMA-BUF another thread (or this one) posted: the block's claim
 * moves here, the sender's stamp must be intact, then it is stamped as
 * ours and passed on or closed.
 */
static void do_take(struct worker *w)
{
	unsigned int sender;
	struct letter l;
	__u64 seq;
	void *p;

	if (!take_letter((unsigned int)(rnd(w) % MAILBOX_SLOTS), &l))
		return;
	w->st->ops[OP_DBUF_TAKE]++;
	sender = l.gid;
	seq = l.seq;
	move_claim(w, l.offset, l.size, sender);
	l.gid = w->gid;
	p = mmap(NULL, l.size, PROT_READ | PROT_WRITE, MAP_SHARED, l.fd, 0);
	if (p == MAP_FAILED) {
		fail(w, F_ERRNO, "mmap of a DMA-BUF (%llu bytes): %s",
		     (unsigned long long)l.size, strerror(errno));
		dbuf_close(w, &l);
		return;
	}
	if (!dbuf_sync(w, l.fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW)) {
		check_words(w, p, l.offset, l.size, sender, seq);
		l.seq = stamp_words(w, p, l.size);
		check_words(w, p, l.offset, l.size, w->gid, l.seq);
		dbuf_sync(w, l.fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
	}
	munmap(p, l.size);
	if (rnd(w) % 2 && post(&l)) {
		w->st->ops[OP_DBUF_PASS]++;
		return;
	}
	dbuf_close(w, &l);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned int i;

	w->st->pid = getpid();
	w->st->tid = gettid();
	w->fd = -1;
	while (!past(&deadline)) {
		unsigned int r = rnd(w) % 100;
		struct block *b = w->nlive ? &w->live[rnd(w) % w->nlive] : NULL;

		if (w->fd < 0) {
			do_open(w);
			if (w->fd < 0)
				break;
			continue;
		}
		if (r < 30) {
			do_alloc(w);
		} else if (r < 36) {
			do_batch_alloc(w);
		} else if (r < 58) {
			if (w->nlive)
				do_free(w, (unsigned int)(b - w->live));
		} else if (r < 63) {
			do_batch_free(w);
		} else if (r < 71) {
			if (b && b->map)
				verify(w, b);
		} else if (r < 79) {
			/* unmap, or map again (the stamp must have stayed) */
			if (b && b->map) {
				verify(w, b);
				unmap_block(w, b);
			} else if (b && b->claimed && want_map(w, b)) {
				map_block(w, b);
			}
		} else if (r < 83) {
			if (b && b->map)
				do_busy_free(w, b);
		} else if (r < 88) {
			do_bogus_free(w);
		} else if (r < 90) {
			do_info(w);
		} else if (r < 92) {
			do_blocks(w);
		} else if (r < 94) {
			if (b)
				do_export(w, b);
		} else if (r < 96) {
			do_take(w);
		} else if (r < 98) {
			do_close(w, false);
		} else {
			do_close(w, true);
		}
	}
	/* Give everything back: free some, close with the rest live. */
	if (w->fd >= 0) {
		for (i = w->nlive; i-- > 0;)
			if (rnd(w) % 2)
				do_free(w, i);
		do_close(w, false);
	}
	w->st->finished = 1;
	return NULL;
}

static int child_main(unsigned int proc)
{
	struct worker *workers = calloc(nthreads, sizeof(*workers));
	unsigned int t;
	int ret;

	if (!workers) {
		perror("calloc");
		return 1;
	}
	for (t = 0; t < MAILBOX_SLOTS; t++)
		mailbox.slot[t].fd = -1;
	for (t = 0; t < nthreads; t++) {
		struct worker *w = &workers[t];

		w->gid = proc * nthreads + t + 1;
		w->st = &shared->w[w->gid - 1];
		w->rng = splitmix(seed ^ splitmix(w->gid)) | 1;
		ret = pthread_create(&w->thread, NULL, worker_main, w);
		if (ret) {
			fprintf(stderr, "pthread_create: %s\n", strerror(ret));
			return 1;
		}
	}
	for (t = 0; t < nthreads; t++)
		pthread_join(workers[t].thread, NULL);
	/* DMA-BUFs still posted: the first worker closes them. */
	for (t = 0; t < MAILBOX_SLOTS; t++)
		if (mailbox.slot[t].fd >= 0)
			dbuf_close(&workers[0], &mailbox.slot[t]);
	free(workers);
	return 0;
}

static unsigned int passed, failed;

static __printf(2, 3) void check(bool ok, const char *fmt, ...);

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (ok)
		passed++;
	else
		failed++;
}

/* "name: value" from debugfs stats, or -1 if unreadable. */
static long long debugfs_stat(const char *name)
{
	FILE *f = fopen("/sys/kernel/debug/buddy/stats", "r");
	char line[128];
	size_t len = strlen(name);
	long long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ':')
			v = strtoll(line + len + 1, NULL, 10);
	fclose(f);
	return v;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"Usage: %s [--procs N] [--threads N] [--seconds S] [--seed N] [--max-live N] [--dev PATH]\n"
		"       %s --fill-cache CPU [--dev PATH]\n",
		prog, prog);
	exit(2);
}

/* --fill-cache: leave blocks in @cpu's cache; 0 on success. */
static int fill_cache(unsigned int cpu)
{
	__u64 off[64];
	unsigned int i, n = 0;
	cpu_set_t set;
	int fd;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	fd = open(dev, O_RDWR | O_CLOEXEC);
	check(!sched_setaffinity(0, sizeof(set), &set) && fd >= 0,
	      "fill-cache: pinned to CPU %u, %s open (%s)", cpu, dev,
	      strerror(errno));
	/* INFO drains the caches: read it before filling them. */
	if (fd < 0 || xioctl(fd, BUDDY_IOC_INFO, &info)) {
		check(false, "fill-cache: INFO");
		return 1;
	}
	for (i = 0; i < 64; i++) {
		struct buddy_alloc a = { .size = info.unit_size << (i % 4) };

		if (ioctl(fd, BUDDY_IOC_ALLOC, &a))
			break;
		off[n++] = a.offset;
	}
	for (i = 0; i < n; i++) {
		struct buddy_free f = { .offset = off[i] };

		if (ioctl(fd, BUDDY_IOC_FREE, &f))
			break;
	}
	close(fd);
	check(n == 64 && i == n, "fill-cache: 64 blocks allocated and freed on CPU %u (%u, %u)",
	      cpu, n, i);
	return failed ? 1 : 0;
}

static unsigned long long number(const char *s, const char *prog)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end)
		usage(prog);
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "procs", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "seconds", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "max-live", required_argument, NULL, 'l' },
		{ "dev", required_argument, NULL, 'd' },
		{ "fill-cache", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	long fill_cpu = -1;
	unsigned long long total[OP_KINDS] = { 0 }, fails[F_KINDS] = { 0 };
	unsigned long long stamped = 0, verified = 0, all_ops = 0;
	unsigned int nworkers, p, i, unfinished = 0, stray = 0;
	unsigned int bad_exit = 0, killed = 0, spawned = 0;
	bool seeded = false;
	struct timespec start, hang;
	struct buddy_info end = { 0 };
	size_t shared_len, owner_len;
	pid_t *pids;
	double took;
	int fd, c, ret;
	__u64 u;

	while ((c = getopt_long(argc, argv, "p:t:s:S:l:d:F:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			nprocs = (unsigned int)number(optarg, argv[0]);
			break;
		case 't':
			nthreads = (unsigned int)number(optarg, argv[0]);
			break;
		case 's':
			seconds = (unsigned int)number(optarg, argv[0]);
			break;
		case 'S':
			seed = number(optarg, argv[0]);
			seeded = true;
			break;
		case 'l':
			max_live = (unsigned int)number(optarg, argv[0]);
			break;
		case 'd':
			dev = optarg;
			break;
		case 'F':
			fill_cpu = (long)number(optarg, argv[0]);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (fill_cpu >= 0) {
		ret = fill_cache((unsigned int)fill_cpu);
		printf("%u passed, %u failed\n", passed, failed);
		return ret;
	}
	if (optind != argc || !nprocs || !nthreads || !max_live ||
	    max_live > MAX_LIVE_LIMIT || (unsigned long long)nprocs * nthreads > MAX_GID)
		usage(argv[0]);
	if (!seeded) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		seed = splitmix((__u64)now.tv_sec << 32 ^ (__u64)now.tv_nsec ^
				(__u64)getpid());
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	page_size = sysconf(_SC_PAGESIZE);
	nworkers = nprocs * nthreads;
	printf("# smp_stress: seed %llu (replay: --seed %llu), ",
	       (unsigned long long)seed, (unsigned long long)seed);
	printf("%u processes x %u threads, %u s, up to %u live blocks a thread\n",
	       nprocs, nthreads, seconds, max_live);

	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		check(false, "open %s: %s", dev, strerror(errno));
		printf("%u passed, %u failed\n", passed, failed);
		return 1;
	}
	ret = xioctl(fd, BUDDY_IOC_INFO, &info);
	close(fd);
	check(!ret && info.unit_size && info.pool_size >= info.unit_size &&
	      info.free_bytes == info.pool_size,
	      "the pool is whole at the start (pool %llu, unit %llu, free %llu)",
	      (unsigned long long)info.pool_size,
	      (unsigned long long)info.unit_size,
	      (unsigned long long)info.free_bytes);
	if (ret || !info.unit_size || info.pool_size < info.unit_size) {
		printf("%u passed, %u failed\n", passed, failed);
		return 1;
	}
	nunits = info.pool_size / info.unit_size;
	/* Blocks up to 1/8 of the pool, geometric: most are a few units. */
	max_alloc_order = info.max_order > 3 ? info.max_order - 3 : 0;

	shared_len = sizeof(*shared) + nworkers * sizeof(shared->w[0]);
	owner_len = nunits * sizeof(*owner);
	shared = mmap(NULL, shared_len, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	owner = mmap(NULL, owner_len, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pids = calloc(nprocs, sizeof(*pids));
	if (shared == MAP_FAILED || owner == MAP_FAILED || !pids) {
		check(false, "shared regions: %s", strerror(errno));
		printf("%u passed, %u failed\n", passed, failed);
		return 1;
	}

	clock_gettime(CLOCK_MONOTONIC, &start);
	deadline = start;
	deadline.tv_sec += seconds;
	hang = deadline;
	hang.tv_sec += HANG_GRACE;
	for (p = 0; p < nprocs; p++) {
		pids[p] = fork();
		if (pids[p] < 0) {
			check(false, "fork: %s", strerror(errno));
			break;
		}
		if (!pids[p])
			_exit(child_main(p));
		spawned++;
	}
	/* Reap, killing children still running well past the deadline. */
	for (i = 0; i < spawned;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid < 0)
			break;
		if (!pid) {
			if (past(&hang) && !killed) {
				for (p = 0; p < spawned; p++)
					kill(pids[p], SIGKILL);
				killed = 1;
			}
			usleep(100 * 1000);
			continue;
		}
		i++;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			bad_exit++;
			if (WIFSIGNALED(status))
				printf("# child %d: killed by signal %d\n",
				       (int)pid, WTERMSIG(status));
			else
				printf("# child %d: exit status %d\n", (int)pid,
				       WEXITSTATUS(status));
		}
	}
	took = elapsed(&start);

	for (i = 0; i < nworkers; i++) {
		struct wstats *s = &shared->w[i];
		unsigned int k;

		for (k = 0; k < OP_KINDS; k++)
			total[k] += s->ops[k];
		for (k = 0; k < F_KINDS; k++)
			fails[k] += s->fails[k];
		stamped += s->bytes_stamped;
		verified += s->bytes_verified;
		if (!s->finished)
			unfinished++;
	}
	for (u = 0; u < nunits; u++)
		if (owner[u])
			stray++;

	printf("# figures: %u processes x %u threads = %u workers, %.1f s (asked %u s), ",
	       nprocs, nthreads, nworkers, took, seconds);
	printf("pool %llu bytes of %llu-byte units\n",
	       (unsigned long long)info.pool_size,
	       (unsigned long long)info.unit_size);
	for (i = 0; i < OP_KINDS; i++) {
		printf("#   %-28s %12llu\n", op_names[i], total[i]);
		if (i != OP_BATCH_ALLOC_OPS && i != OP_BATCH_FREE_OPS &&
		    i != OP_VERIFY)
			all_ops += total[i];
	}
	printf("#   %-28s %12llu (%.0f/s)\n", "calls (open..info)", all_ops,
	       took > 0 ? (double)all_ops / took : 0.0);
	printf("#   %-28s %12llu MiB\n", "stamped", stamped >> 20);
	printf("#   %-28s %12llu MiB\n", "verified", verified >> 20);

	check(!bad_exit && spawned == nprocs,
	      "all %u processes ran and exited cleanly (%u did not)", nprocs,
	      bad_exit + nprocs - spawned);
	check(!unfinished && !killed,
	      "every worker finished within %u s of the deadline (%u did not)",
	      HANG_GRACE, unfinished);
	for (i = 0; i < F_KINDS; i++)
		check(!fails[i], "%s (%llu failures)", fail_names[i], fails[i]);
	check(total[OP_ALLOC] && total[OP_FREE] && total[OP_OPEN] &&
	      total[OP_CLOSE] + total[OP_CLOSE_MAPPED] &&
	      (info.unit_size > (__u64)page_size || nunits < 2 ||
	       (total[OP_MMAP] && total[OP_EXPORT] && total[OP_DBUF_TAKE])),
	      "the run did work: allocs, frees, opens, closes, mmaps, exports, DMA-BUFs taken");
	check(!stray, "the ownership map is empty at the end (%u units held)",
	      stray);

	fd = open(dev, O_RDWR | O_CLOEXEC);
	ret = fd < 0 ? -errno : xioctl(fd, BUDDY_IOC_INFO, &end);
	if (fd >= 0)
		close(fd);
	check(!ret && end.free_bytes == info.pool_size &&
	      end.largest_free == info.pool_size,
	      "the pool is whole after every file closed: free %llu, largest %llu of %llu%s%s",
	      (unsigned long long)end.free_bytes,
	      (unsigned long long)end.largest_free,
	      (unsigned long long)info.pool_size, ret ? ": " : "",
	      ret ? strerror(-ret) : "");
	if (debugfs_stat("live_blocks") >= 0) {
		check(!debugfs_stat("live_blocks") && !debugfs_stat("used_bytes") &&
		      !debugfs_stat("exported_blocks") && !debugfs_stat("exported_bytes"),
		      "debugfs: live_blocks %lld, used_bytes %lld, exported_blocks %lld, exported_bytes %lld at the end",
		      debugfs_stat("live_blocks"), debugfs_stat("used_bytes"),
		      debugfs_stat("exported_blocks"), debugfs_stat("exported_bytes"));
		check(total[OP_BLOCKS], "debugfs blocks was read during the run (%llu times)",
		      total[OP_BLOCKS]);
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
