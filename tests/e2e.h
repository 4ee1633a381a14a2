/* SPDX-License-Identifier: GPL-2.0 */
/*
 * e2e.h: helpers shared by the /dev/buddy end-to-end tests.
 *
 * The tests run as root inside UML (scripts/uml-run.sh) with buddy_alloc.ko
 * loaded.  Each check prints "ok - what" or "not ok - what"; a program ends
 * with e2e_done(), which prints "N passed, N failed" and returns the exit
 * status.  Nothing here assumes the module's parameters: everything is read
 * from BUDDY_IOC_INFO.
 */
#ifndef _BUDDY_E2E_H
#define _BUDDY_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <linux/buddy.h>

#define BUDDY_DEV	"/dev/buddy"
#define BUDDY_DEBUGFS	"/sys/kernel/debug/buddy"

/* Orders a debugfs file may list: pool_size <= 2^63 and unit_size >= 64. */
#define E2E_MAX_ORDERS	64

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

extern unsigned int e2e_passed, e2e_failed;

void e2e_init(int argc, char **argv);
__u64 e2e_seed(void);
__u64 e2e_rand(void);
bool e2e_check(bool cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void e2e_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int e2e_done(void);

/*
 * Counters of a forked child, added to the parent's through a pipe.  A child
 * of fork() starts from zero (e2e_init() arranges it).
 */
void e2e_child_send(int wfd);
void e2e_child_collect(int rfd);

const char *e2e_err(int ret);

/* ioctl wrappers: 0 (or the ioctl's value) on success, -errno on failure. */
int buddy_ioctl(int fd, unsigned long cmd, void *arg);
int buddy_open(void);
int buddy_info(int fd, struct buddy_info *info);
int buddy_alloc(int fd, __u64 size, struct buddy_alloc *a);
int buddy_free(int fd, __u64 offset);
/* BUDDY_IOC_BATCH: the ioctl's result, and done in *@done if not NULL. */
int buddy_batch(int fd, const void *ops, __u32 count, __u32 op_size,
		__u32 *done);
__u64 e2e_block_size(const struct buddy_info *info, __u64 size);

/*
 * DMA-BUF export (BUDDY_IOC_EXPORT) and a real importer, vgem.  The few
 * DRM definitions needed are below (from include/uapi/drm/drm.h, a stable
 * ABI), so the tests build without libdrm's headers.
 */
int buddy_export(int fd, __u64 offset, __u32 fd_flags, int *dmabuf);
int e2e_dmabuf_sync(int dmabuf, __u64 flags);

struct e2e_drm_version {
	int version_major;
	int version_minor;
	int version_patchlevel;
	size_t name_len;
	char *name;
	size_t date_len;
	char *date;
	size_t desc_len;
	char *desc;
};

struct e2e_drm_prime_handle {
	__u32 handle;
	__u32 flags;
	__s32 fd;
};

struct e2e_drm_gem_close {
	__u32 handle;
	__u32 pad;
};

#define E2E_DRM_IOCTL_VERSION	_IOWR('d', 0x00, struct e2e_drm_version)
#define E2E_DRM_IOCTL_GEM_CLOSE	_IOW('d', 0x09, struct e2e_drm_gem_close)
#define E2E_DRM_IOCTL_PRIME_HANDLE_TO_FD \
	_IOWR('d', 0x2d, struct e2e_drm_prime_handle)
#define E2E_DRM_IOCTL_PRIME_FD_TO_HANDLE \
	_IOWR('d', 0x2e, struct e2e_drm_prime_handle)

/*
 * The vgem device (/dev/dri/card*, driver "vgem"), loaded with modprobe if
 * it is not there: a descriptor, or -errno.
 */
int e2e_vgem_open(void);
int e2e_prime_import(int drm, int dmabuf, __u32 *handle);
int e2e_prime_export(int drm, __u32 handle, __u32 flags, int *dmabuf);
int e2e_gem_close(int drm, __u32 handle);

/*
 * The DMA-BUF with inode @ino in /sys/kernel/debug/dma_buf/bufinfo: 1 and
 * its exp_name, name and attached devices (one a line), 0 if not listed,
 * or -errno.
 */
struct e2e_bufinfo {
	unsigned long long size;
	char exp_name[32];
	char name[64];
	char devices[256];
	int ndevices;
};

int e2e_bufinfo(unsigned long ino, struct e2e_bufinfo *bi);

/* "key:\tvalue" of /proc/self/fdinfo/@fd into @val; 0 or -errno. */
int e2e_fdinfo(int fd, const char *key, char *val, size_t len);

/* debugfs */
struct e2e_stats {
	__u64 pool_size;
	__u64 unit_size;
	__u64 free_bytes;
	__u64 used_bytes;
	__u64 largest_free;
	__u64 live_blocks;
	__u64 allocs;
	__u64 frees;
	__u64 alloc_failures;
	__u64 peak_used_bytes;
	__u64 exported_blocks;
	__u64 exported_bytes;
};

int e2e_read_file(const char *path, char *buf, size_t size);
int e2e_read_stats(struct e2e_stats *st, char *missing, size_t len);
int e2e_parse_buddyinfo(const char *text, __u64 *counts, unsigned int max);
int e2e_read_buddyinfo(__u64 *counts, unsigned int max);
int e2e_parse_unusable(const char *text, unsigned int *index, unsigned int max);
int e2e_read_unusable(unsigned int *index, unsigned int max);

/*
 * debugfs percpu: the units in every CPU's cache (*@cached_units), and
 * whether the caches are on (*@enabled); the number of CPU lines, or -errno
 * for a missing or malformed file.
 */
int e2e_read_percpu(__u64 *cached_units, int *enabled);

/* A module parameter's sysfs file: E2E_PARAM("max_bytes_per_file"). */
#define E2E_PARAM(name)	"/sys/module/buddy_alloc/parameters/" name

/* Write @text to module parameter @name (E2E_PARAM): 0 or -errno. */
int e2e_write_param(const char *name, const char *text);

/*
 * Set /sys/module/buddy_alloc/parameters/percpu_cache; returns the old value (0
 * or 1) or -errno.
 */
int e2e_set_percpu_cache(int on);

/* Everything a failed call must leave as it was. */
struct e2e_snap {
	int info_ret;
	struct buddy_info info;
	int buddyinfo_ret;
	char buddyinfo[4096];
	int unusable_ret;
	char unusable[4096];
	int stats_ret;
	/* alloc_failures is left out: -ENOMEM counts there. */
	__u64 free_bytes, used_bytes, largest_free, live_blocks;
	__u64 allocs, frees, peak_used_bytes;
	__u64 exported_blocks, exported_bytes;
};

void e2e_snap(int fd, struct e2e_snap *s);
bool e2e_snap_same(const struct e2e_snap *a, const struct e2e_snap *b,
		   const char *what);

/*
 * Run an ioctl that must fail with -@err and change nothing (INFO through
 * @fd, debugfs buddyinfo, unusable_index and every stat but alloc_failures).
 */
bool e2e_expect_fail(int fd, unsigned long cmd, void *arg, int err,
		     const char *what);

/* INFO, stats, buddyinfo and unusable_index agree; one check per aspect. */
bool e2e_consistent(int fd, const char *phase);

/* The pool is whole: INFO free_bytes == largest_free == pool_size. */
bool e2e_pool_whole(int fd, const char *phase);

/*
 * A pattern in a block's memory: e2e_fill() writes, at @p, byte @base of the
 * block onwards, the words of @tag; e2e_has() checks them (false, with the
 * first wrong word as a diagnostic).  The accesses are volatile: the same
 * memory is reached through other mappings and processes, and every read
 * and write must reach it.
 */
void e2e_fill(void *p, size_t len, __u64 tag, size_t base);
bool e2e_has(const void *p, size_t len, __u64 tag, size_t base);
bool e2e_zero(const void *p, size_t len);

/* A buffer of @len bytes whose end touches a PROT_NONE page. */
void *e2e_guarded(size_t len);
void e2e_unguard(void *p, size_t len);

#endif /* _BUDDY_E2E_H */
