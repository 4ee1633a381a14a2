// SPDX-License-Identifier: GPL-2.0
/*
 * buddyctl: drive /dev/buddy from the shell.
 *
 *   buddyctl info                     the pool, from BUDDY_IOC_INFO
 *   buddyctl demo                     allocate a few blocks, free one, export
 *                                     one as a DMA-BUF, show INFO and debugfs
 *                                     between the steps
 *
 * The blocks of one invocation live as long as it runs: the file that
 * allocated them is closed on exit, and the module frees them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/buddy.h>

#define DEVICE		"/dev/buddy"
#define DEBUGFS		"/sys/kernel/debug/buddy/"

static int info(int fd)
{
	struct buddy_info bi = { 0 };

	if (ioctl(fd, BUDDY_IOC_INFO, &bi)) {
		fprintf(stderr, "buddyctl: BUDDY_IOC_INFO: %s\n", strerror(errno));
		return -1;
	}
	printf("pool_size %llu, unit_size %llu, max_order %u, free_bytes %llu, largest_free %llu\n",
	       (unsigned long long)bi.pool_size, (unsigned long long)bi.unit_size,
	       bi.max_order, (unsigned long long)bi.free_bytes,
	       (unsigned long long)bi.largest_free);
	return 0;
}

/* A debugfs file, or its lines that start with @only when that is set. */
static void show_debugfs_lines(const char *name, const char *only)
{
	char line[256];
	FILE *f;
	char path[128];

	snprintf(path, sizeof(path), DEBUGFS "%s", name);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "buddyctl: %s: %s (is debugfs mounted?)\n", path,
			strerror(errno));
		return;
	}
	printf("--- %s%s%s\n", path, only ? ": " : "", only ? only : "");
	while (fgets(line, sizeof(line), f))
		if (!only || !strncmp(line, only, strlen(only)))
			fputs(line, stdout);
	fclose(f);
}

static void show_debugfs(const char *name)
{
	show_debugfs_lines(name, NULL);
}

static int alloc_block(int fd, unsigned long long size, struct buddy_alloc *ba)
{
	memset(ba, 0, sizeof(*ba));
	ba->size = size;
	if (ioctl(fd, BUDDY_IOC_ALLOC, ba)) {
		fprintf(stderr, "buddyctl: alloc %llu bytes: %s\n", size, strerror(errno));
		return -1;
	}
	printf("alloc %llu bytes -> offset %llu, block_size %llu\n", size,
	       (unsigned long long)ba->offset, (unsigned long long)ba->block_size);
	return 0;
}

/* Export @ba as a DMA-BUF, show the export counters, close it. */
static int export_block(int fd, const struct buddy_alloc *ba)
{
	struct buddy_export be = { .offset = ba->offset, .fd_flags = O_RDWR | O_CLOEXEC };

	if (ioctl(fd, BUDDY_IOC_EXPORT, &be)) {
		fprintf(stderr, "buddyctl: export offset %llu: %s\n",
			(unsigned long long)ba->offset, strerror(errno));
		return -1;
	}
	printf("export offset %llu -> DMA-BUF fd %u\n", (unsigned long long)ba->offset,
	       be.fd);
	show_debugfs_lines("stats", "exported_");
	close((int)be.fd);
	printf("close the DMA-BUF -> the block is zeroed and freed\n");
	show_debugfs_lines("stats", "exported_");
	return 0;
}

static int demo(int fd)
{
	struct buddy_alloc a, b, c;
	struct buddy_free bf = { 0 };

	if (info(fd) || alloc_block(fd, 7000, &a) || alloc_block(fd, 1, &b) ||
	    alloc_block(fd, 20000, &c))
		return -1;
	info(fd);
	bf.offset = a.offset;
	if (ioctl(fd, BUDDY_IOC_FREE, &bf)) {
		fprintf(stderr, "buddyctl: free %llu: %s\n",
			(unsigned long long)bf.offset, strerror(errno));
		return -1;
	}
	printf("free offset %llu\n", (unsigned long long)bf.offset);
	/* A second free of the same offset must be refused. */
	if (ioctl(fd, BUDDY_IOC_FREE, &bf) == 0 || errno != EINVAL) {
		fprintf(stderr, "buddyctl: double free was not refused with EINVAL\n");
		return -1;
	}
	printf("free offset %llu again -> %s (as it must)\n",
	       (unsigned long long)bf.offset, strerror(EINVAL));
	if (export_block(fd, &c))
		return -1;
	info(fd);
	show_debugfs("stats");
	show_debugfs("buddyinfo");
	show_debugfs("unusable_index");
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	int fd, ret;

	if (strcmp(cmd, "info") && strcmp(cmd, "demo")) {
		fprintf(stderr, "usage: buddyctl info | demo\n");
		return 2;
	}
	fd = open(DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "buddyctl: %s: %s (is buddy.ko loaded?)\n", DEVICE,
			strerror(errno));
		return 1;
	}
	ret = strcmp(cmd, "info") ? demo(fd) : info(fd);
	close(fd);
	return ret ? 1 : 0;
}
