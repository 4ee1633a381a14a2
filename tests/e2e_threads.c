// SPDX-License-Identifier: GPL-2.0
/*
 * e2e_threads: threads allocate and free concurrently.
 *
 * Every unit of a block a thread holds is claimed in a shared owner map
 * right after ALLOC and released right before FREE, so two live blocks that
 * overlap show up as a unit claimed twice.  Phase 1 shares one open file;
 * phase 2 gives each thread its own, where freeing anything but one's own
 * block must be -EINVAL, and half the threads end by closing their file
 * with blocks still live while others run.  Readers hammer INFO and debugfs
 * meanwhile.  At the end the pool must be whole.  Phase 3 races ALLOC's
 * undo: one thread allocates while another flips the struct's page
 * read-only (EFAULT after the allocation: the kernel frees the block it
 * could not report), and two more FREE and mmap the offset it is likely
 * to get, in the instant between.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "e2e.h"

#define NTHREADS	4
#define ITERS		3000
#define MAX_LIVE	16

static struct buddy_info info;
static unsigned int *owner;	/* per unit: 0 free, else thread id + 1 */
static int shared_fd;
static bool stop_readers;

struct worker {
	pthread_t thread;
	unsigned int id;
	bool own_file;
	bool close_live;	/* end by closing with blocks live */
	__u64 rng;
	struct buddy_alloc live[MAX_LIVE];
	unsigned int nlive;
	/* results */
	unsigned long allocs, enomem, frees, bogus_frees;
	unsigned long overlaps, bad_shape, bad_free, bad_alloc, bad_bogus;
};

static __u64 rnd(struct worker *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545f4914f6cdd1dULL;
}

static bool claim(struct worker *w, const struct buddy_alloc *a)
{
	__u64 first = a->offset / info.unit_size;
	__u64 n = a->block_size / info.unit_size, i;
	bool ok = true;

	for (i = 0; i < n; i++) {
		unsigned int expected = 0;

		if (!__atomic_compare_exchange_n(&owner[first + i], &expected,
						 w->id + 1, false,
						 __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			ok = false;
	}
	return ok;
}

static void unclaim(struct worker *w, const struct buddy_alloc *a)
{
	__u64 first = a->offset / info.unit_size;
	__u64 n = a->block_size / info.unit_size, i;

	for (i = 0; i < n; i++)
		__atomic_compare_exchange_n(&owner[first + i], &(unsigned int){ w->id + 1 },
					    0, false, __ATOMIC_ACQ_REL,
					    __ATOMIC_ACQUIRE);
}

static void free_one(struct worker *w, int fd, unsigned int k)
{
	struct buddy_alloc a = w->live[k];
	int ret;

	unclaim(w, &a);
	ret = buddy_free(fd, a.offset);
	if (ret) {
		w->bad_free++;
		e2e_diag("thread %u: FREE own block %llu: %s", w->id, a.offset,
			 e2e_err(ret));
	}
	w->frees++;
	w->live[k] = w->live[--w->nlive];
}

static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned int top = info.max_order > 2 ? info.max_order - 2 : 0;
	int fd = w->own_file ? buddy_open() : shared_fd;
	unsigned long i;

	if (top > 6)
		top = 6;
	for (i = 0; i < ITERS; i++) {
		unsigned int r = rnd(w) % 8;

		if (w->nlive && (r < 3 || w->nlive == MAX_LIVE)) {
			free_one(w, fd, rnd(w) % w->nlive);
		} else if (w->own_file && r == 7) {
			/* A unit not ours: FREE must refuse it. */
			__u64 u = rnd(w) % (info.pool_size / info.unit_size);
			int ret;

			if (__atomic_load_n(&owner[u], __ATOMIC_ACQUIRE) == w->id + 1)
				continue;
			ret = buddy_free(fd, u * info.unit_size);
			w->bogus_frees++;
			if (ret != -EINVAL) {
				w->bad_bogus++;
				e2e_diag("thread %u: FREE of unit %llu (not its own): %s",
					 w->id, u, e2e_err(ret));
			}
		} else {
			__u64 max = info.unit_size << (rnd(w) % (top + 1));
			__u64 size = 1 + rnd(w) % max;
			struct buddy_alloc a;
			int ret = buddy_alloc(fd, size, &a);

			if (ret == -ENOMEM) {
				w->enomem++;
				continue;
			}
			if (ret) {
				w->bad_alloc++;
				e2e_diag("thread %u: ALLOC %llu: %s", w->id, size,
					 e2e_err(ret));
				continue;
			}
			w->allocs++;
			if (a.block_size != e2e_block_size(&info, size) ||
			    a.offset % a.block_size ||
			    a.offset > info.pool_size - a.block_size) {
				w->bad_shape++;
				e2e_diag("thread %u: ALLOC %llu gave block %llu at %llu",
					 w->id, size, a.block_size, a.offset);
				continue;
			}
			if (!claim(w, &a)) {
				w->overlaps++;
				e2e_diag("thread %u: block %llu+%llu overlaps a live block",
					 w->id, a.offset, a.block_size);
			}
			w->live[w->nlive++] = a;
		}
	}
	if (w->close_live && w->own_file) {
		while (w->nlive)
			unclaim(w, &w->live[--w->nlive]);
	} else {
		while (w->nlive)
			free_one(w, fd, w->nlive - 1);
	}
	if (w->own_file)
		close(fd);
	return NULL;
}

struct reader_result {
	unsigned long reads, bad;
};

static void *read_debugfs(void *arg)
{
	struct reader_result *r = arg;
	__u64 counts[E2E_MAX_ORDERS];
	unsigned int index[E2E_MAX_ORDERS];
	struct buddy_info now;
	struct e2e_stats st;
	int fd = buddy_open();

	while (!__atomic_load_n(&stop_readers, __ATOMIC_ACQUIRE)) {
		bool good;

		good = e2e_read_stats(&st, NULL, 0) == 0 &&
		       st.pool_size == info.pool_size &&
		       st.free_bytes <= info.pool_size;
		good &= e2e_read_buddyinfo(counts, E2E_MAX_ORDERS) ==
			(int)info.max_order + 1;
		good &= e2e_read_unusable(index, E2E_MAX_ORDERS) ==
			(int)info.max_order + 1;
		good &= buddy_info(fd, &now) == 0 &&
			now.pool_size == info.pool_size &&
			now.free_bytes <= info.pool_size &&
			now.free_bytes % info.unit_size == 0 &&
			now.largest_free <= info.pool_size;
		r->reads++;
		if (!good)
			r->bad++;
	}
	close(fd);
	return NULL;
}

static void run_phase(const char *name, bool own_file)
{
	struct worker w[NTHREADS];
	struct reader_result rr = { 0 };
	pthread_t reader;
	unsigned long allocs = 0, enomem = 0, frees = 0, bogus = 0;
	unsigned long overlaps = 0, shape = 0, bad_free = 0, bad_alloc = 0;
	unsigned long bad_bogus = 0;
	unsigned int i;

	memset(w, 0, sizeof(w));
	__atomic_store_n(&stop_readers, false, __ATOMIC_RELEASE);
	pthread_create(&reader, NULL, read_debugfs, &rr);
	for (i = 0; i < NTHREADS; i++) {
		w[i].id = i;
		w[i].own_file = own_file;
		w[i].close_live = own_file && (i & 1);
		w[i].rng = e2e_rand() | 1;
		pthread_create(&w[i].thread, NULL, work, &w[i]);
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(w[i].thread, NULL);
		allocs += w[i].allocs;
		enomem += w[i].enomem;
		frees += w[i].frees;
		bogus += w[i].bogus_frees;
		overlaps += w[i].overlaps;
		shape += w[i].bad_shape;
		bad_free += w[i].bad_free;
		bad_alloc += w[i].bad_alloc;
		bad_bogus += w[i].bad_bogus;
	}
	__atomic_store_n(&stop_readers, true, __ATOMIC_RELEASE);
	pthread_join(reader, NULL);

	e2e_diag("%s: %lu allocs, %lu -ENOMEM, %lu frees, %lu foreign frees, %lu reader passes",
		 name, allocs, enomem, frees, bogus, rr.reads);
	e2e_check(allocs > 0 && frees > 0, "%s: threads allocated and freed", name);
	e2e_check(!bad_alloc, "%s: ALLOC failed only with -ENOMEM (%lu others)",
		  name, bad_alloc);
	e2e_check(!shape, "%s: every block aligned, sized and inside the pool (%lu bad)",
		  name, shape);
	e2e_check(!overlaps, "%s: no two live blocks overlap (%lu overlaps)",
		  name, overlaps);
	e2e_check(!bad_free, "%s: every FREE of an own block succeeded (%lu failed)",
		  name, bad_free);
	if (own_file)
		e2e_check(!bad_bogus && bogus > 0,
			  "%s: every FREE of a unit not the thread's own: -EINVAL (%lu of %lu not)",
			  name, bad_bogus, bogus);
	e2e_check(rr.reads > 0 && !rr.bad,
		  "%s: concurrent INFO and debugfs reads well-formed (%lu of %lu bad)",
		  name, rr.bad, rr.reads);
	e2e_pool_whole(shared_fd, name);
	e2e_consistent(shared_fd, name);
}

/*
 * Phase 3.  ALLOC's result is copied out after the block is in the caller's
 * file; when that copy fails (a racing mprotect made the struct read-only
 * after the dispatcher's early write), the kernel frees the block again.
 * Meanwhile a guesser of the same file may have freed or mapped it: the
 * undo must then leave it be.  One thread allocates (ALLOC, and BATCH, whose
 * ops are written back the same way), one flips the struct's
 * page between read-only and writable, two guess: FREE and mmap of where
 * the last reported block went, since a free puts it back on top of this
 * CPU's cache (or of the core's free blocks), so the next ALLOC gets it.
 */
#define RACE_ITERS	20000UL

struct race {
	int fd;
	__u64 block;		/* the size allocated: a page or a unit */
	__u64 target;		/* the guessed offset */
	struct buddy_alloc *req;	/* on a page of its own */
	long page;
	bool stop;
	unsigned long guessed_free, guessed_map, flips, bad;
};

static void *race_guess(struct race *r, bool map)
{
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		__u64 off = __atomic_load_n(&r->target, __ATOMIC_RELAXED);
		void *p;
		int ret;

		if (!map) {
			ret = buddy_free(r->fd, off);
			if (!ret)
				__atomic_fetch_add(&r->guessed_free, 1, __ATOMIC_RELAXED);
			else if (ret != -EINVAL && ret != -EBUSY)
				__atomic_fetch_add(&r->bad, 1, __ATOMIC_RELAXED);
			continue;
		}
		p = mmap(NULL, r->block, PROT_READ, MAP_SHARED, r->fd, off);
		if (p != MAP_FAILED) {
			__atomic_fetch_add(&r->guessed_map, 1, __ATOMIC_RELAXED);
			munmap(p, r->block);
		} else if (errno != EINVAL) {
			__atomic_fetch_add(&r->bad, 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

static void *race_free(void *arg)
{
	return race_guess(arg, false);
}

static void *race_map(void *arg)
{
	return race_guess(arg, true);
}

static void *race_flip(void *arg)
{
	struct race *r = arg;
	unsigned long n = 0;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		if (mprotect(r->req, r->page, n++ & 1 ? PROT_READ | PROT_WRITE : PROT_READ))
			__atomic_fetch_add(&r->bad, 1, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&r->flips, n, __ATOMIC_RELAXED);
	return NULL;
}

static void run_race(void)
{
	struct race r = { .fd = buddy_open(), .page = sysconf(_SC_PAGESIZE) };
	unsigned long ok = 0, efault = 0, others = 0, i;
	void *(*fn[3])(void *) = { race_free, race_map, race_flip };
	struct buddy_batch_op *op;
	pthread_t t[3];

	/* A block mmap can map: a page, or a unit when units are larger. */
	r.block = info.unit_size > (__u64)r.page ? info.unit_size : (__u64)r.page;
	r.req = mmap(NULL, r.page, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r.req == MAP_FAILED) {
		e2e_check(false, "race: an anonymous page: %s", strerror(errno));
		close(r.fd);
		return;
	}
	/* Written once: ALLOC reads only size, flags and the range. */
	*r.req = (struct buddy_alloc){ .size = r.block };
	op = (struct buddy_batch_op *)(r.req + 1);
	*op = (struct buddy_batch_op){ .op = BUDDY_BATCH_ALLOC, .size = r.block };
	for (i = 0; i < ARRAY_SIZE(t); i++)
		pthread_create(&t[i], NULL, fn[i], &r);
	for (i = 0; i < RACE_ITERS; i++) {
		/* Every other one a BATCH op, whose copy-out fails the same way. */
		bool batch = i & 1;
		__u32 done = 0;
		__u64 offset;
		int ret;

		ret = batch ? buddy_batch(r.fd, op, 1, sizeof(*op), &done) :
			      buddy_ioctl(r.fd, BUDDY_IOC_ALLOC, r.req);
		if (!ret && batch && (done != 1 || op->result))
			ret = done ? op->result : -EIO;
		if (!ret) {
			ok++;
			offset = batch ? op->offset : r.req->offset;
			__atomic_store_n(&r.target, offset, __ATOMIC_RELAXED);
			/* A guess may have freed it first: EINVAL then. */
			buddy_free(r.fd, offset);
		} else if (ret == -EFAULT) {
			efault++;
		} else {
			others++;
		}
	}
	__atomic_store_n(&r.stop, true, __ATOMIC_RELEASE);
	for (i = 0; i < ARRAY_SIZE(t); i++)
		pthread_join(t[i], NULL);
	munmap(r.req, r.page);
	e2e_diag("race: %lu ALLOCs and one-op BATCHes, %lu reported, %lu EFAULT; %lu page flips; guessers freed %lu and mapped %lu blocks",
		 RACE_ITERS, ok, efault, r.flips, r.guessed_free, r.guessed_map);
	e2e_check(!others && ok && efault,
		  "race: ALLOC and BATCH under a flipping page: reported or EFAULT (%lu others), both seen",
		  others);
	e2e_check(!r.bad,
		  "race: guessed FREEs and mmaps failed only with EINVAL or EBUSY, mprotect never (%lu others)",
		  r.bad);
	/* What a guess mapped stays the file's; its close frees it. */
	e2e_consistent(r.fd, "race");
	close(r.fd);
	e2e_pool_whole(shared_fd, "race, file closed");
}

int main(int argc, char **argv)
{
	e2e_init(argc, argv);
	shared_fd = buddy_open();
	if (buddy_info(shared_fd, &info)) {
		e2e_check(false, "INFO");
		return e2e_done();
	}
	owner = calloc(info.pool_size / info.unit_size, sizeof(*owner));
	if (!owner)
		return 2;
	e2e_pool_whole(shared_fd, "initial");
	run_phase("one shared file", false);
	run_phase("a file per thread", true);
	run_race();
	close(shared_fd);
	return e2e_done();
}
