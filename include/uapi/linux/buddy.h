/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * /dev/buddy: allocate and free blocks of a physically contiguous pool
 * managed by a buddy allocator.
 *
 * Every block belongs to the open file description that allocated it; only
 * that file can free it, and closing the file frees all its blocks, but for
 * those it exported as DMA-BUFs (BUDDY_IOC_EXPORT), which live as long as
 * their DMA-BUF.  Offsets
 * and sizes are bytes within the pool.  Every reserved field and unknown flag
 * must be zero.  Structures only grow at their end: the kernel takes the size
 * from the command number, zero-fills what an older caller did not pass and
 * copies back only what the caller's size holds.
 */
#ifndef _UAPI_LINUX_BUDDY_H
#define _UAPI_LINUX_BUDDY_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Free in Documentation/userspace-api/ioctl/ioctl-number.rst as of 6.12. */
#define BUDDY_IOC_MAGIC		0xB9

/**
 * struct buddy_info - the pool now
 * @pool_size: bytes managed
 * @unit_size: bytes in the smallest block, a power of two
 * @free_bytes: bytes in free blocks now
 * @largest_free: bytes in the largest free block now, 0 when full
 * @max_order: pool_size == unit_size << max_order
 * @pad: zero
 */
struct buddy_info {
	__u64 pool_size;
	__u64 unit_size;
	__u64 free_bytes;
	__u64 largest_free;
	__u32 max_order;
	__u32 pad;
};

/*
 * struct buddy_alloc.flags and struct buddy_batch_op.flags of an allocation.
 * They combine freely.
 *
 * BUDDY_ALLOC_TOPDOWN: the highest-addressed free block that fits, among the
 *	smallest order that fits, cached free blocks included (without it, a
 *	low one: the lowest, or a recently freed one from a per-CPU cache).
 * BUDDY_ALLOC_RANGE: the block lies entirely within [range_start, range_end)
 *	(bytes, unit-aligned, range_start < range_end <= pool_size); with
 *	BUDDY_ALLOC_EXACT, the extent [offset, offset + block_size) does, and
 *	the rest of its power-of-two block, freed at once, may pass range_end.
 *	ENOMEM then means that no fitting free block exists in the range.
 * BUDDY_ALLOC_EXACT: the smallest block holding size is taken and at once
 *	every part of it past round_up(size, unit_size) goes back to the pool;
 *	block_size is round_up(size, unit_size), and that extent is what
 *	BUDDY_IOC_FREE frees and max_bytes_per_file counts.  mmap maps whole
 *	pages of the extent only (a last page it shares with other blocks
 *	does not map).  The offset keeps the whole block's natural alignment.
 */
#define BUDDY_ALLOC_TOPDOWN	(1U << 0)
#define BUDDY_ALLOC_RANGE	(1U << 1)
#define BUDDY_ALLOC_EXACT	(1U << 2)

/**
 * struct buddy_alloc - allocate one block
 * @size: in: bytes wanted, 1 .. pool_size
 * @flags: in: BUDDY_ALLOC_* bits
 * @pad: in: zero
 * @offset: out: byte offset of the block in the pool
 * @block_size: out: unit_size << order, the smallest such >= size; with
 *	BUDDY_ALLOC_EXACT, round_up(size, unit_size)
 * @range_start: in: with BUDDY_ALLOC_RANGE, the range's first byte; else 0
 * @range_end: in: with BUDDY_ALLOC_RANGE, one past its last byte; else 0
 *
 * The first version ended at @block_size (32 bytes); a caller of that size
 * passes the range fields as zero.
 *
 * Errors: EINVAL for size 0 or above the pool, an unknown flag or pad not
 * zero, a range given without BUDDY_ALLOC_RANGE, or with it a range that is
 * empty, not unit-aligned or past the pool; ENOMEM when no free block of
 * that size exists now (in the range, with BUDDY_ALLOC_RANGE); EDQUOT when
 * the block would take this file past the max_bytes_per_file module
 * parameter.
 */
struct buddy_alloc {
	__u64 size;
	__u32 flags;
	__u32 pad;
	__u64 offset;
	__u64 block_size;
	__u64 range_start;
	__u64 range_end;
};

/**
 * struct buddy_free - free one block this file allocated
 * @offset: in: an offset BUDDY_IOC_ALLOC gave this file
 * @flags: in: zero
 * @pad: in: zero
 */
struct buddy_free {
	__u64 offset;
	__u32 flags;
	__u32 pad;
};

/* struct buddy_batch_op.op */
#define BUDDY_BATCH_ALLOC	1	/* as BUDDY_IOC_ALLOC */
#define BUDDY_BATCH_FREE	2	/* as BUDDY_IOC_FREE */

/**
 * struct buddy_batch_op - one operation of BUDDY_IOC_BATCH
 * @op: in: BUDDY_BATCH_ALLOC or BUDDY_BATCH_FREE
 * @flags: in: as struct buddy_alloc.flags or struct buddy_free.flags
 * @size: in: alloc: bytes wanted; free: zero
 * @offset: alloc: out, the block's offset; free: in, the block to free
 * @block_size: alloc: out, the block's size; free: zero
 * @result: out: 0, or the negative errno the single ioctl would return
 * @pad: in: zero
 * @range_start: in: alloc: as struct buddy_alloc.range_start; free: zero
 * @range_end: in: alloc: as struct buddy_alloc.range_end; free: zero
 *
 * The first version ended at @pad (40 bytes); struct buddy_batch.op_size
 * says which one the caller passes.
 */
struct buddy_batch_op {
	__u32 op;
	__u32 flags;
	__u64 size;
	__u64 offset;
	__u64 block_size;
	__s32 result;
	__u32 pad;
	__u64 range_start;
	__u64 range_end;
};

/**
 * struct buddy_batch - many allocations and frees in one call
 * @ops: in: user pointer to @count struct buddy_batch_op
 * @count: in: operations, at most BUDDY_BATCH_MAX
 * @op_size: in: sizeof(struct buddy_batch_op) as the caller knows it, so
 *           the op struct can grow at its end like the others
 * @flags: in: zero
 * @done: out: operations that succeeded
 *
 * Operations run in order under the same rules as the single ioctls and stop
 * at the first failure, whose @result says why; the ioctl itself then still
 * returns 0.  Results after the failing one are left as they were.  It
 * returns an error only when the batch itself is invalid (-EINVAL: flags,
 * count, op_size), the ops array faults (-EFAULT: the operation in hand is
 * not done, or undone) or a fatal signal ends it (-EINTR).  Then @done is not
 * written; the operations before have taken effect and have their results.
 */
struct buddy_batch {
	__u64 ops;
	__u32 count;
	__u32 op_size;
	__u32 flags;
	__u32 done;
};

#define BUDDY_BATCH_MAX		65536

/**
 * struct buddy_export - make a block a DMA-BUF
 * @offset: in: a block this open file owns, at least a page, not mapped
 *          through /dev/buddy
 * @fd: out: the new DMA-BUF file descriptor
 * @fd_flags: in: O_RDWR or O_RDONLY, optionally | O_CLOEXEC
 * @flags: in: zero
 *
 * Ownership moves to the DMA-BUF: the block leaves this file's table (FREE,
 * mmap through /dev/buddy and EXPORT of it fail with EINVAL from then on,
 * and closing this file no longer frees it) and no longer counts against
 * max_bytes_per_file.  It stays allocated until the DMA-BUF is released
 * (its last file descriptor, mapping and importer's attachment gone), then
 * it is zeroed and freed.  The DMA-BUF's exp_name is "buddy".
 *
 * Errors: EINVAL for an offset that is not the start of a live block of
 * this file, a block smaller than a page, not a whole number of pages (an
 * EXACT block whose last page other blocks share) or of 4 GiB or more (a
 * scatterlist entry holds less), fd_flags other than those above, flags not zero;
 * EACCES for O_RDWR when this file was opened read-only (as for a writable
 * mmap); EBUSY when the block is mapped through /dev/buddy; EMFILE when the
 * process has no free descriptor; ENOMEM.  A failed call changes nothing.
 */
struct buddy_export {
	__u64 offset;
	__u32 fd;
	__u32 fd_flags;
	__u64 flags;
};

#define BUDDY_IOC_INFO		_IOR(BUDDY_IOC_MAGIC, 0, struct buddy_info)
#define BUDDY_IOC_ALLOC		_IOWR(BUDDY_IOC_MAGIC, 1, struct buddy_alloc)
#define BUDDY_IOC_FREE		_IOW(BUDDY_IOC_MAGIC, 2, struct buddy_free)
#define BUDDY_IOC_BATCH		_IOWR(BUDDY_IOC_MAGIC, 3, struct buddy_batch)
#define BUDDY_IOC_EXPORT	_IOWR(BUDDY_IOC_MAGIC, 4, struct buddy_export)

#endif /* _UAPI_LINUX_BUDDY_H */
