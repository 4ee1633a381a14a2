// SPDX-License-Identifier: GPL-2.0
/*
 * bench_smp: /dev/buddy throughput from 1 and 2 threads, per-CPU caches on
 * and off, in one boot (scripts/bench-smp.sh runs it in qemu -smp 2).
 *
 *   bench_smp [--seconds S] [--runs N] [--dev PATH]
 *
 * Each thread opens its own file and is pinned to its own CPU (thread i on
 * CPU i).  Modes:
 *   control   getppid() in a loop: a system call that shares nothing
 *             between threads, so its scaling is this host's ceiling
 *   batch     rounds of one BUDDY_IOC_BATCH of 64 allocations and one of
 *             the 64 frees; op i of a round has order i % 4 (1, 2, 4 or 8
 *             units)
 *   single    the same rounds as 128 single ALLOC and FREE ioctls
 * One op is one allocation, one free or one getppid().  Each measurement
 * runs the threads for S seconds (default 1) from a common start; its
 * figure is the ops of all threads over the time the slowest took.  Each
 * figure is the median of N runs (default 5), the runs of every mode and
 * thread count taking turns, each with caches on and off back to back (on
 * first in every other run), so that a busy host slows them alike.  The
 * cached / uncached targets are also given as the median of the runs'
 * paired ratios, which a load that changes from run to run disturbs less.  The caches are switched through
 * /sys/module/buddy_alloc/parameters/percpu_cache.
 *
 * Prints a table of ops/s per mode, cache setting and thread count, the
 * 2-thread / 1-thread scaling, and the targets beside the figures;
 * ends with "N passed, N failed" counting runs that completed without an
 * error (the targets are reported, not tested).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/buddy.h>

#define BATCH		64
#define MAX_THREADS	2
#define MAX_RUNS	9
#define PARAM		"/sys/module/buddy_alloc/parameters/percpu_cache"

enum mode { MODE_CONTROL, MODE_BATCH, MODE_SINGLE, NR_MODES };

static const char *const mode_name[NR_MODES] = {
	[MODE_CONTROL] = "control (getppid)",
	[MODE_BATCH] = "batch of 64",
	[MODE_SINGLE] = "single ioctls",
};

static const char *dev = "/dev/buddy";
static double seconds = 1.0;
static unsigned int runs = 5;
static unsigned long long unit;
static unsigned int errors, completed;

struct worker {
	pthread_t thread;
	unsigned int cpu;
	enum mode mode;
	pthread_barrier_t *start;
	double deadline_s;
	unsigned long long ops;
	double elapsed;
	int err;		/* errno of a failure, 0 */
	const char *what;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One round: 64 allocations, then their 64 frees; returns ops or -1. */
static long round_batch(int fd, struct buddy_batch_op *ops)
{
	struct buddy_batch b = {
		.ops = (uintptr_t)ops, .count = BATCH, .op_size = sizeof(*ops),
	};
	unsigned int i;

	for (i = 0; i < BATCH; i++)
		ops[i] = (struct buddy_batch_op){ .op = BUDDY_BATCH_ALLOC,
						  .size = unit << (i % 4) };
	if (ioctl(fd, BUDDY_IOC_BATCH, &b) || b.done != BATCH)
		return -1;
	for (i = 0; i < BATCH; i++)
		ops[i] = (struct buddy_batch_op){ .op = BUDDY_BATCH_FREE,
						  .offset = ops[i].offset };
	b.done = 0;
	if (ioctl(fd, BUDDY_IOC_BATCH, &b) || b.done != BATCH)
		return -1;
	return 2 * BATCH;
}

static long round_single(int fd)
{
	unsigned long long off[BATCH];
	unsigned int i;

	for (i = 0; i < BATCH; i++) {
		struct buddy_alloc a = { .size = unit << (i % 4) };

		if (ioctl(fd, BUDDY_IOC_ALLOC, &a))
			return -1;
		off[i] = a.offset;
	}
	for (i = 0; i < BATCH; i++) {
		struct buddy_free f = { .offset = off[i] };

		if (ioctl(fd, BUDDY_IOC_FREE, &f))
			return -1;
	}
	return 2 * BATCH;
}

static long round_control(void)
{
	unsigned int i;

	for (i = 0; i < 2 * BATCH; i++)
		(void)getppid();
	return 2 * BATCH;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct buddy_batch_op ops[BATCH];
	cpu_set_t set;
	double t0, deadline;
	int fd = -1;
	long n;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		w->err = errno;
		w->what = "sched_setaffinity";
	}
	if (!w->err && w->mode != MODE_CONTROL) {
		fd = open(dev, O_RDWR);
		if (fd < 0) {
			w->err = errno;
			w->what = "open";
		}
	}
	pthread_barrier_wait(w->start);
	if (w->err)
		return NULL;
	t0 = now();
	deadline = t0 + w->deadline_s;
	do {
		/* Check the clock every 8 rounds (1024 ops). */
		for (int k = 0; k < 8; k++) {
			n = w->mode == MODE_BATCH ? round_batch(fd, ops) :
			    w->mode == MODE_SINGLE ? round_single(fd) :
			    round_control();
			if (n < 0) {
				w->err = errno;
				w->what = mode_name[w->mode];
				goto out;
			}
			w->ops += n;
		}
	} while (now() < deadline);
out:
	w->elapsed = now() - t0;
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int set_cache(int on)
{
	int f = open(PARAM, O_WRONLY);
	int ret = 0;

	if (f < 0)
		return -errno;
	if (write(f, on ? "1" : "0", 1) != 1)
		ret = -errno;
	close(f);
	return ret;
}

/* One measurement; returns ops/s, or 0 after an error (counted). */
static double measure(enum mode mode, unsigned int threads)
{
	struct worker w[MAX_THREADS];
	pthread_barrier_t start;
	unsigned long long ops = 0;
	double slowest = 0;
	unsigned int i;
	bool bad = false;

	memset(w, 0, sizeof(w));
	pthread_barrier_init(&start, NULL, threads);
	for (i = 0; i < threads; i++) {
		w[i] = (struct worker){ .cpu = i, .mode = mode, .start = &start,
					.deadline_s = seconds };
		if (pthread_create(&w[i].thread, NULL, work, &w[i])) {
			fprintf(stderr, "bench_smp: pthread_create failed\n");
			exit(1);
		}
	}
	for (i = 0; i < threads; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].err) {
			fprintf(stderr, "bench_smp: %s, %u threads, thread %u: %s: %s\n",
				mode_name[mode], threads, i, w[i].what, strerror(w[i].err));
			bad = true;
		}
		ops += w[i].ops;
		if (w[i].elapsed > slowest)
			slowest = w[i].elapsed;
	}
	pthread_barrier_destroy(&start);
	if (bad || !slowest) {
		errors++;
		return 0;
	}
	completed++;
	return ops / slowest;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, runs, sizeof(*v), cmp_double);
	return v[runs / 2];
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [--seconds S] [--runs N (1..%d)] [--dev PATH]\n",
		prog, MAX_RUNS);
	exit(2);
}

/* The figures: [mode][caches on][threads - 1]; control is cache-blind. */
static double rate[NR_MODES][2][MAX_THREADS][MAX_RUNS];
static double med[NR_MODES][2][MAX_THREADS];

static void print_row(enum mode m, int on)
{
	double one = med[m][on][0], two = med[m][on][1];

	printf("| %-17s | %-6s | %12.0f | %12.0f | %5.2fx |\n", mode_name[m],
	       m == MODE_CONTROL ? "-" : on ? "on" : "off", one, two,
	       one ? two / one : 0);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "dev", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct buddy_info info = { 0 };
	double ctl_scaling, batch_scaling, vs_uncached2, vs_uncached1, single2;
	double pair[MAX_THREADS][MAX_RUNS], pair_med[MAX_THREADS];
	unsigned int r, t, cpus;
	int c, fd, on, m;

	while ((c = getopt_long(argc, argv, "s:r:d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			seconds = strtod(optarg, NULL);
			break;
		case 'r':
			runs = strtoul(optarg, NULL, 0);
			break;
		case 'd':
			dev = optarg;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (seconds <= 0 || !runs || runs > MAX_RUNS)
		usage(argv[0]);
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < MAX_THREADS) {
		fprintf(stderr, "bench_smp: %u CPU online, %d needed\n", cpus, MAX_THREADS);
		printf("0 passed, 1 failed\n");
		return 1;
	}
	fd = open(dev, O_RDWR);
	if (fd < 0 || ioctl(fd, BUDDY_IOC_INFO, &info)) {
		fprintf(stderr, "bench_smp: %s: %s\n", dev, strerror(errno));
		printf("0 passed, 1 failed\n");
		return 1;
	}
	close(fd);
	unit = info.unit_size;
	if (info.pool_size / unit < 2ULL * MAX_THREADS * BATCH * 4) {
		fprintf(stderr, "bench_smp: the pool is too small for %d threads of %d blocks\n",
			MAX_THREADS, BATCH);
		printf("0 passed, 1 failed\n");
		return 1;
	}

	printf("# bench_smp: %u CPUs online, pool %llu bytes of %llu-byte units; %.1f s a measurement, median of %u\n",
	       cpus, info.pool_size, unit, seconds, runs);
	printf("# one op = one allocation or free (orders 0..3 in turn) or one getppid(); thread i pinned to CPU i, each with its own open file\n");
	for (r = 0; r < runs; r++) {
		for (m = 0; m < NR_MODES; m++) {
			for (t = 1; t <= MAX_THREADS; t++) {
				if (m == MODE_CONTROL) {
					rate[m][1][t - 1][r] = measure(m, t);
					continue;
				}
				/*
				 * On and off back to back, on first in even
				 * runs: a pair sees the same load.
				 */
				for (int k = 0; k < 2; k++) {
					on = (r + k + 1) % 2;
					if (set_cache(on)) {
						fprintf(stderr, "bench_smp: cannot write %s: %s\n",
							PARAM, strerror(errno));
						printf("0 passed, 1 failed\n");
						return 1;
					}
					rate[m][on][t - 1][r] = measure(m, t);
				}
			}
		}
	}
	set_cache(1);
	for (m = 0; m < NR_MODES; m++)
		for (on = 0; on < 2; on++)
			for (t = 0; t < MAX_THREADS; t++)
				med[m][on][t] = median(rate[m][on][t]);
	/* Control runs with the caches on only; the table shows it once. */
	memcpy(med[MODE_CONTROL][0], med[MODE_CONTROL][1], sizeof(med[0][0]));

	printf("\n| mode | caches | 1 thread ops/s | 2 threads ops/s | scaling |\n");
	printf("|---|---|---:|---:|---:|\n");
	print_row(MODE_CONTROL, 1);
	print_row(MODE_BATCH, 1);
	print_row(MODE_BATCH, 0);
	print_row(MODE_SINGLE, 1);
	print_row(MODE_SINGLE, 0);

	for (t = 0; t < MAX_THREADS; t++) {
		for (r = 0; r < runs; r++)
			pair[t][r] = rate[MODE_BATCH][0][t][r] ?
				     rate[MODE_BATCH][1][t][r] / rate[MODE_BATCH][0][t][r] : 0;
		pair_med[t] = median(pair[t]);
	}
	ctl_scaling = med[MODE_CONTROL][1][1] / med[MODE_CONTROL][1][0];
	batch_scaling = med[MODE_BATCH][1][1] / med[MODE_BATCH][1][0];
	vs_uncached2 = med[MODE_BATCH][1][1] / med[MODE_BATCH][0][1];
	vs_uncached1 = med[MODE_BATCH][1][0] / med[MODE_BATCH][0][0];
	single2 = med[MODE_SINGLE][1][1] / med[MODE_SINGLE][0][1];
	printf("\nTargets (batch of 64, caches on):\n");
	printf("- 2-thread scaling %.2fx: at least 1.8x, or 0.9 of the control's %.2fx (%.2fx) if that is lower: %s (%.2f of the control's)\n",
	       batch_scaling, ctl_scaling, 0.9 * ctl_scaling,
	       batch_scaling >= 1.8 || (ctl_scaling < 2.0 && batch_scaling >= 0.9 * ctl_scaling) ?
	       "met" : "NOT met", batch_scaling / ctl_scaling);
	printf("- 2 threads, cached / uncached: %.2fx (at least 1.5x): %s; median of the paired ratios %.2fx\n",
	       vs_uncached2, vs_uncached2 >= 1.5 ? "met" : "NOT met", pair_med[1]);
	printf("- 1 thread, cached / uncached: %.2fx (at least 1.0x): %s; median of the paired ratios %.2fx\n",
	       vs_uncached1, vs_uncached1 >= 1.0 ? "met" : "NOT met", pair_med[0]);
	printf("(single ioctls, 2 threads, cached / uncached: %.2fx)\n", single2);
	printf("%u passed, %u failed\n", completed, errors);
	return errors ? 1 : 0;
}
