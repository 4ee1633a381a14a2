// SPDX-License-Identifier: GPL-2.0
/*
 * bench_ioctl: /dev/buddy operations per second through single ioctls and
 * through BUDDY_IOC_BATCH at several batch sizes, side by side in one run.
 *
 * Each round allocates B blocks of one unit and frees them again: 2B
 * operations, as 2B single ioctls or as two batches of B.  Each figure is
 * the median of several repetitions; the ratio is against single ioctls.
 *
 *   bench_ioctl [OPS]     operations per measurement (default 200000)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/buddy.h>

#define REPEATS	5
#define MAX_B	256

static int fd;
static unsigned long long unit;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_ioctl: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* 2 * b * rounds operations as single ioctls; returns seconds. */
static double run_single(unsigned int b, unsigned long rounds)
{
	unsigned long long off[MAX_B];
	double t = now();
	unsigned long r;
	unsigned int i;

	for (r = 0; r < rounds; r++) {
		for (i = 0; i < b; i++) {
			struct buddy_alloc a = { .size = unit };

			if (ioctl(fd, BUDDY_IOC_ALLOC, &a))
				die("BUDDY_IOC_ALLOC");
			off[i] = a.offset;
		}
		for (i = 0; i < b; i++) {
			struct buddy_free f = { .offset = off[i] };

			if (ioctl(fd, BUDDY_IOC_FREE, &f))
				die("BUDDY_IOC_FREE");
		}
	}
	return now() - t;
}

static double run_batch(unsigned int b, unsigned long rounds)
{
	struct buddy_batch_op ops[MAX_B];
	struct buddy_batch batch = {
		.ops = (unsigned long)ops, .count = b, .op_size = sizeof(ops[0]),
	};
	double t = now();
	unsigned long r;
	unsigned int i;

	for (r = 0; r < rounds; r++) {
		for (i = 0; i < b; i++)
			ops[i] = (struct buddy_batch_op){ .op = BUDDY_BATCH_ALLOC, .size = unit };
		batch.done = 0;
		if (ioctl(fd, BUDDY_IOC_BATCH, &batch) || batch.done != b)
			die("BUDDY_IOC_BATCH alloc");
		for (i = 0; i < b; i++)
			ops[i] = (struct buddy_batch_op){ .op = BUDDY_BATCH_FREE,
							  .offset = ops[i].offset };
		batch.done = 0;
		if (ioctl(fd, BUDDY_IOC_BATCH, &batch) || batch.done != b)
			die("BUDDY_IOC_BATCH free");
	}
	return now() - t;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_ops_per_s(double (*run)(unsigned int, unsigned long),
			       unsigned int b, unsigned long ops)
{
	unsigned long rounds = ops / (2 * b) ? ops / (2 * b) : 1;
	double rate[REPEATS];
	int k;

	for (k = 0; k < REPEATS; k++)
		rate[k] = 2.0 * b * rounds / run(b, rounds);
	qsort(rate, REPEATS, sizeof(rate[0]), cmp_double);
	return rate[REPEATS / 2];
}

int main(int argc, char **argv)
{
	static const unsigned int sizes[] = { 1, 8, 64, 256 };
	unsigned long ops = argc > 1 ? strtoul(argv[1], NULL, 0) : 200000;
	struct buddy_info info = { 0 };
	double single;
	unsigned int k;

	fd = open("/dev/buddy", O_RDWR);
	if (fd < 0)
		die("/dev/buddy");
	if (ioctl(fd, BUDDY_IOC_INFO, &info))
		die("BUDDY_IOC_INFO");
	unit = info.unit_size;
	if (info.pool_size / unit < MAX_B) {
		fprintf(stderr, "bench_ioctl: pool holds fewer than %d units\n", MAX_B);
		return 1;
	}

	single = median_ops_per_s(run_single, 64, ops);
	printf("# %lu ops per measurement, median of %d; ops = one alloc or one free of one unit\n",
	       ops, REPEATS);
	printf("%-12s %14s %8s\n", "mode", "ops/s", "ratio");
	printf("%-12s %14.0f %8.2f\n", "single", single, 1.0);
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		double rate = median_ops_per_s(run_batch, sizes[k], ops);
		char name[16];

		snprintf(name, sizeof(name), "batch %u", sizes[k]);
		printf("%-12s %14.0f %8.2f\n", name, rate, rate / single);
	}
	return 0;
}
