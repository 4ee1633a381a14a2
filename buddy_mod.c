// SPDX-License-Identifier: GPL-2.0
/*
 * buddy: a physically contiguous pool behind /dev/buddy, managed by the
 * buddy_core allocator.  Userspace allocates and frees blocks by ioctl
 * (include/uapi/linux/buddy.h) and maps them with mmap(); every block
 * belongs to the open file that allocated it and is freed when that file is
 * released, unless the file exported it as a DMA-BUF (buddy_dmabuf.c, which
 * the hooks under "Exported blocks" below serve).
 *
 * The pool comes from alloc_pages() (up to the page allocator's largest
 * block), or with phys_base from a physical range reserved at boot with
 * memmap=SIZE$BASE.
 *
 * Locking: pool.lock (a mutex) serialises every call into buddy_core, every
 * change to a file's block table and every block's map count, so a block is
 * in the core's "live" state exactly when one file's table holds it, or one
 * DMA-BUF owns it (an export in progress holds it in a reserved slot of its
 * file's table, see "Exported blocks").  The DMA-BUF side takes the lock
 * only through the hooks there, never under its own locks.  pool.lock is
 * taken under mmap_lock (mmap, vm_ops) and so is never held across
 * copy_{to,from}_user(), which may take mmap_lock.  The statistics are
 * written under the lock and read without it (debugfs, see read_snapshot()).
 *
 * Lifetime of a mapped block: each mapping holds a reference on the file,
 * so the file is released only after its last mapping is gone, and FREE
 * refuses a mapped block with -EBUSY: a block's memory is never reachable
 * from userspace once it is back in the pool.  A block that was mapped is
 * zeroed when freed; the pool starts zeroed, so every block reads as zero
 * when it is allocated.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nospec.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>
#include <linux/buddy.h>

#include "buddy_core.h"
#include "buddy_dmabuf.h"

/* 6.8 renamed MAX_ORDER (one past the largest order) to MAX_PAGE_ORDER. */
#ifndef MAX_PAGE_ORDER
#define MAX_PAGE_ORDER	(MAX_ORDER - 1)
#endif

static unsigned long pool_size = PAGE_SIZE << MAX_PAGE_ORDER;
module_param(pool_size, ulong, 0444);
MODULE_PARM_DESC(pool_size,
		 "Bytes in the pool, a power of two (default: the page allocator's largest block)");

static unsigned long unit_size = PAGE_SIZE;
module_param(unit_size, ulong, 0444);
MODULE_PARM_DESC(unit_size,
		 "Bytes in the smallest block, a power of two, 64 .. pool_size (default: PAGE_SIZE)");

/* x86 has a global phys_base: the variable gets a name of its own. */
static unsigned long pool_phys_base;
module_param_named(phys_base, pool_phys_base, ulong, 0444);
MODULE_PARM_DESC(phys_base,
		 "Physical address of a pool reserved at boot with memmap=SIZE$BASE (0: allocate pages)");

static unsigned long max_bytes_per_file;
module_param(max_bytes_per_file, ulong, 0644);
MODULE_PARM_DESC(max_bytes_per_file,
		 "Most bytes one open file may hold; beyond it ALLOC fails with EDQUOT (0: no limit)");

#define BUDDY_MIN_UNIT_SIZE	64
#define BUDDY_ALLOC_FLAGS_VALID	0U

/**
 * struct buddy_counters - what debugfs stats reports beyond the core's state
 * @allocs: successful allocations
 * @frees: blocks freed, by BUDDY_IOC_FREE or on release
 * @alloc_failures: allocations that found no free block
 * @live_blocks: blocks allocated now
 * @used_bytes: bytes in allocated blocks now
 * @peak_used_bytes: the most @used_bytes has been when an allocation
 *                   reached its caller (an undone one does not count)
 */
struct buddy_counters {
	u64 allocs;
	u64 frees;
	u64 alloc_failures;
	u64 live_blocks;
	u64 used_bytes;
	u64 peak_used_bytes;
};

/**
 * struct buddy_pool - the one pool this module manages
 * @lock: serialises @core and every file's block table
 * @core: the allocator, in units of @unit_shift
 * @meta: @core's maps
 * @pages: the pool's memory, 2^@page_order pages from alloc_pages(), or
 *         NULL for a pool at phys_base
 * @page_order: order of @pages
 * @vaddr: the pool's kernel mapping
 * @pfn: the pool's first page frame
 * @size: bytes managed (may be less than the pages hold)
 * @unit_shift: log2 of the unit size
 * @stats: counters for debugfs
 * @debugfs: the buddy/ debugfs directory
 * @misc: /dev/buddy
 */
struct buddy_pool {
	struct mutex lock;	/* the core and all block tables */
	struct buddy_core core;
	void *meta;
	struct page *pages;
	unsigned int page_order;
	void *vaddr;
	unsigned long pfn;
	u64 size;
	unsigned int unit_shift;
	struct buddy_counters stats;
	struct dentry *debugfs;
	struct miscdevice misc;
};

static struct buddy_pool pool = {
	.lock = __MUTEX_INITIALIZER(pool.lock),
};

/**
 * struct buddy_file - what one open file description owns
 * @blocks: its live blocks (struct buddy_block), indexed by offset in units
 * @bytes: bytes in @blocks, for max_bytes_per_file; under pool.lock
 * @writable: opened for writing, so its blocks may be mapped or exported
 *            writable
 */
struct buddy_file {
	struct xarray blocks;
	u64 bytes;
	bool writable;
};

/**
 * struct buddy_block - one live block
 * @index: offset in units
 * @order: size is unit_size << @order
 * @map_count: VMAs mapping it now (fork and VMA splits add to it)
 * @mapped: it has been mapped, so userspace may have written to it
 */
struct buddy_block {
	unsigned long index;
	unsigned int order;
	unsigned int map_count;
	bool mapped;
};

static u64 block_bytes(const struct buddy_block *blk)
{
	return 1ULL << (blk->order + pool.unit_shift);
}

static void pool_account(u64 bytes, bool alloc)
{
	lockdep_assert_held(&pool.lock);
	if (alloc) {
		pool.stats.allocs++;
		pool.stats.live_blocks++;
		pool.stats.used_bytes += bytes;
	} else {
		pool.stats.frees++;
		pool.stats.live_blocks--;
		pool.stats.used_bytes -= bytes;
	}
}

static void *block_vaddr(const struct buddy_block *blk)
{
	return pool.vaddr + (blk->index << pool.unit_shift);
}

/* A block no table holds any more back to the pool. */
static void pool_free_block(struct buddy_block *blk)
{
	lockdep_assert_held(&pool.lock);
	/* The table and the core agree by construction; a refusal is our bug. */
	WARN_ON_ONCE(buddy_core_free(&pool.core, blk->index, blk->order));
	pool_account(block_bytes(blk), false);
	kfree(blk);
}

/* Free one unmapped block of @bf's back to the pool. */
static void file_free_block(struct buddy_file *bf, struct buddy_block *blk)
{
	lockdep_assert_held(&pool.lock);
	if (blk->mapped)
		memset(block_vaddr(blk), 0, block_bytes(blk));
	xa_erase(&bf->blocks, blk->index);
	bf->bytes -= block_bytes(blk);
	pool_free_block(blk);
}

static int buddy_open(struct inode *inode, struct file *file)
{
	struct buddy_file *bf = kzalloc(sizeof(*bf), GFP_KERNEL);

	if (!bf)
		return -ENOMEM;
	xa_init(&bf->blocks);
	bf->writable = file->f_mode & FMODE_WRITE;
	file->private_data = bf;
	return 0;
}

static int buddy_release(struct inode *inode, struct file *file)
{
	struct buddy_file *bf = file->private_data;
	struct buddy_block *blk;
	unsigned long index;

	mutex_lock(&pool.lock);
	xa_for_each(&bf->blocks, index, blk) {
		/* Mappings pin the file, so none is left by now. */
		WARN_ON_ONCE(blk->map_count);
		file_free_block(bf, blk);
	}
	mutex_unlock(&pool.lock);
	xa_destroy(&bf->blocks);
	kfree(bf);
	return 0;
}

static int buddy_ioc_info(struct buddy_file *bf, void *data)
{
	struct buddy_info *info = data;
	int largest;

	mutex_lock(&pool.lock);
	info->pool_size = pool.size;
	info->unit_size = 1ULL << pool.unit_shift;
	info->free_bytes = buddy_core_free_units(&pool.core) << pool.unit_shift;
	largest = buddy_core_largest_order(&pool.core);
	info->largest_free = largest < 0 ? 0 : 1ULL << (largest + pool.unit_shift);
	info->max_order = buddy_core_max_order(&pool.core);
	mutex_unlock(&pool.lock);
	return 0;
}

static int buddy_ioc_alloc(struct buddy_file *bf, void *data)
{
	struct buddy_alloc *req = data;
	u64 limit = READ_ONCE(max_bytes_per_file);
	struct buddy_block *blk;
	s64 offset;
	int ret;

	if (!req->size || req->size > pool.size || req->pad ||
	    (req->flags & ~BUDDY_ALLOC_FLAGS_VALID))
		return -EINVAL;
	blk = kzalloc(sizeof(*blk), GFP_KERNEL);
	if (!blk)
		return -ENOMEM;
	blk->order = buddy_core_order_for((req->size + (1ULL << pool.unit_shift) - 1) >>
					  pool.unit_shift);

	mutex_lock(&pool.lock);
	if (limit && bf->bytes + block_bytes(blk) > limit) {
		ret = -EDQUOT;
		goto unlock;
	}
	offset = buddy_core_alloc(&pool.core, blk->order, 0);
	if (offset < 0) {
		pool.stats.alloc_failures++;
		ret = offset;
		goto unlock;
	}
	blk->index = offset;
	ret = xa_insert(&bf->blocks, blk->index, blk, GFP_KERNEL);
	if (ret) {
		buddy_core_free(&pool.core, blk->index, blk->order);
		goto unlock;
	}
	bf->bytes += block_bytes(blk);
	pool_account(block_bytes(blk), true);
	mutex_unlock(&pool.lock);

	req->offset = (u64)blk->index << pool.unit_shift;
	req->block_size = block_bytes(blk);
	return 0;

unlock:
	mutex_unlock(&pool.lock);
	kfree(blk);
	return ret;
}

/*
 * After buddy_ioc_alloc()'s result was copied out: count it toward the peak
 * if it reached the caller, else undo it as if it had never happened.
 */
static void buddy_ioc_alloc_complete(struct buddy_file *bf, void *data,
				     bool delivered)
{
	struct buddy_alloc *req = data;

	mutex_lock(&pool.lock);
	if (delivered) {
		pool.stats.peak_used_bytes = max(pool.stats.peak_used_bytes,
						 pool.stats.used_bytes);
	} else {
		/* Never returned, so never mapped. */
		file_free_block(bf, xa_load(&bf->blocks,
					    req->offset >> pool.unit_shift));
		pool.stats.allocs--;
		pool.stats.frees--;
	}
	mutex_unlock(&pool.lock);
}

static int buddy_ioc_free(struct buddy_file *bf, void *data)
{
	struct buddy_free *req = data;
	struct buddy_block *blk;
	int ret = 0;

	if (req->flags || req->pad || req->offset >= pool.size ||
	    req->offset & ((1ULL << pool.unit_shift) - 1))
		return -EINVAL;

	mutex_lock(&pool.lock);
	blk = xa_load(&bf->blocks, req->offset >> pool.unit_shift);
	if (!blk)
		ret = -EINVAL;
	else if (blk->map_count)
		ret = -EBUSY;
	else
		file_free_block(bf, blk);
	mutex_unlock(&pool.lock);
	return ret;
}

/* The first version of struct buddy_batch_op; later ones only grow. */
#define BUDDY_BATCH_OP_MIN_SIZE	sizeof(struct buddy_batch_op)

/*
 * One operation of a batch through the single ioctls' own handlers.
 * @known: false if the caller's op has fields this kernel does not know set.
 */
static int batch_run_op(struct buddy_file *bf, struct buddy_batch_op *op,
			bool known, bool *allocated)
{
	*allocated = false;
	if (op->pad || !known)
		return -EINVAL;
	if (op->op == BUDDY_BATCH_ALLOC) {
		struct buddy_alloc req = { .size = op->size, .flags = op->flags };
		int ret = buddy_ioc_alloc(bf, &req);

		if (!ret) {
			op->offset = req.offset;
			op->block_size = req.block_size;
			*allocated = true;
		}
		return ret;
	}
	if (op->op == BUDDY_BATCH_FREE) {
		struct buddy_free req = { .offset = op->offset, .flags = op->flags };

		if (op->size || op->block_size)
			return -EINVAL;
		return buddy_ioc_free(bf, &req);
	}
	return -EINVAL;
}

static int buddy_ioc_batch(struct buddy_file *bf, void *data)
{
	struct buddy_batch *batch = data;
	struct buddy_batch_op __user *uop;
	unsigned int op_size = batch->op_size;
	u32 i;

	if (batch->flags || batch->done || batch->count > BUDDY_BATCH_MAX ||
	    op_size < BUDDY_BATCH_OP_MIN_SIZE || op_size > PAGE_SIZE)
		return -EINVAL;

	for (i = 0; i < batch->count; i++) {
		struct buddy_batch_op op = { 0 };
		bool allocated, delivered, known = true;
		int ret;

		uop = u64_to_user_ptr(batch->ops + (u64)i * op_size);
		if (copy_from_user(&op, uop, min_t(size_t, op_size, sizeof(op))))
			return -EFAULT;
		if (op_size > sizeof(op)) {
			ret = check_zeroed_user((u8 __user *)uop + sizeof(op),
						op_size - sizeof(op));
			if (ret < 0)
				return ret;
			known = ret;
		}
		/* Make sure the whole op can be written back before acting. */
		op.result = -EINPROGRESS;
		if (copy_to_user(uop, &op, sizeof(op)))
			return -EFAULT;

		op.result = batch_run_op(bf, &op, known, &allocated);
		delivered = !copy_to_user(uop, &op, sizeof(op));
		if (allocated) {
			struct buddy_alloc req = { .offset = op.offset };

			buddy_ioc_alloc_complete(bf, &req, delivered);
		}
		if (!delivered)
			return -EFAULT;
		if (op.result)
			break;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	batch->done = i;
	return 0;
}

/**
 * struct buddy_ioctl_desc - one command of the dispatcher
 * @cmd: the command as this kernel defines it (its size is the newest)
 * @handler: does the work on a kernel copy of the struct
 * @complete: told whether the result reached the caller, after a successful
 *            @handler; it undoes the work if not
 */
struct buddy_ioctl_desc {
	unsigned int cmd;
	int (*handler)(struct buddy_file *bf, void *data);
	void (*complete)(struct buddy_file *bf, void *data, bool delivered);
};

static const struct buddy_ioctl_desc buddy_ioctls[] = {
	{ BUDDY_IOC_INFO, buddy_ioc_info, NULL },
	{ BUDDY_IOC_ALLOC, buddy_ioc_alloc, buddy_ioc_alloc_complete },
	{ BUDDY_IOC_FREE, buddy_ioc_free, NULL },
	{ BUDDY_IOC_BATCH, buddy_ioc_batch, NULL },
	{ BUDDY_IOC_EXPORT, buddy_dmabuf_export, buddy_dmabuf_export_complete },
};

/* Large enough for the biggest struct any command takes. */
#define BUDDY_IOCTL_MAX_SIZE	64
/* EXPORT keeps kernel state past the caller's struct, never copied out. */
static_assert(sizeof(struct buddy_export_call) <= BUDDY_IOCTL_MAX_SIZE);

/* Copy a command's result out in the caller's size, zeros past ours. */
static int copy_result(void __user *uarg, const void *kdata, unsigned int usize,
		       unsigned int ksize)
{
	if (copy_to_user(uarg, kdata, min(usize, ksize)) ||
	    (usize > ksize && clear_user(uarg + ksize, usize - ksize)))
		return -EFAULT;
	return 0;
}

/*
 * Like dma-heap's dispatcher: the struct size comes from the caller's command
 * number, so structs can grow at their end.  A newer caller's extra input
 * bytes must be zero (they would ask for something this kernel lacks); an
 * older caller's missing bytes read as zero; only the caller's size is
 * copied back.  Input is copied in once; output is copied out whole from a
 * zeroed buffer, so no kernel byte leaks.
 */
static long buddy_ioctl(struct file *file, unsigned int ucmd, unsigned long arg)
{
	u8 kdata[BUDDY_IOCTL_MAX_SIZE] __aligned(8) = { 0 };
	void __user *uarg = (void __user *)arg;
	const struct buddy_ioctl_desc *desc;
	unsigned int nr = _IOC_NR(ucmd);
	unsigned int usize, ksize;
	int ret;

	if (_IOC_TYPE(ucmd) != BUDDY_IOC_MAGIC || nr >= ARRAY_SIZE(buddy_ioctls))
		return -ENOTTY;
	desc = &buddy_ioctls[array_index_nospec(nr, ARRAY_SIZE(buddy_ioctls))];
	if (_IOC_DIR(ucmd) != _IOC_DIR(desc->cmd))
		return -ENOTTY;
	usize = _IOC_SIZE(ucmd);
	ksize = _IOC_SIZE(desc->cmd);

	if (_IOC_DIR(ucmd) & _IOC_WRITE) {
		if (copy_from_user(kdata, uarg, min(usize, ksize)))
			return -EFAULT;
		if (usize > ksize) {
			ret = check_zeroed_user(uarg + ksize, usize - ksize);
			if (ret <= 0)
				return ret ? ret : -EINVAL;
		}
	} else if (!access_ok(uarg, usize)) {
		/* Also a zero-size struct: no copy below would notice. */
		return -EFAULT;
	}
	/*
	 * Make sure the result can be written back before doing anything:
	 * rewrite what was read (zeros for a read-only command).  Only a
	 * racing munmap or mprotect can make the final copy fail after this;
	 * complete() then undoes what it can.
	 */
	if (_IOC_DIR(ucmd) & _IOC_READ) {
		ret = copy_result(uarg, kdata, usize, ksize);
		if (ret)
			return ret;
	}

	ret = desc->handler(file->private_data, kdata);
	if (ret)
		return ret;
	if (_IOC_DIR(ucmd) & _IOC_READ)
		ret = copy_result(uarg, kdata, usize, ksize);
	if (desc->complete)
		desc->complete(file->private_data, kdata, !ret);
	return ret;
}

static void buddy_vm_open(struct vm_area_struct *vma)
{
	struct buddy_block *blk = vma->vm_private_data;

	mutex_lock(&pool.lock);
	blk->map_count++;
	mutex_unlock(&pool.lock);
}

static void buddy_vm_close(struct vm_area_struct *vma)
{
	struct buddy_block *blk = vma->vm_private_data;

	mutex_lock(&pool.lock);
	blk->map_count--;
	mutex_unlock(&pool.lock);
}

static const struct vm_operations_struct buddy_vm_ops = {
	.open = buddy_vm_open,
	.close = buddy_vm_close,
};

/*
 * Map a whole block, or its start, that this file owns: the mmap offset is
 * the block's offset.  Shared mappings only: a private one would give the
 * caller copy-on-write pages outside the pool.  remap_pfn_range() marks the
 * VMA VM_DONTEXPAND, so mremap() cannot grow it past the block, and not
 * VM_DONTCOPY: a forked child shares the mapping and counts in map_count.
 */
static int buddy_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct buddy_file *bf = file->private_data;
	unsigned long len = vma->vm_end - vma->vm_start;
	struct buddy_block *blk;
	u64 offset;
	int ret;

	/*
	 * VM_MAYSHARE, not VM_SHARED: the kernel clears VM_SHARED on a shared
	 * mapping of a file opened read-only, which is still no copy.
	 */
	if (!(vma->vm_flags & VM_MAYSHARE) ||
	    vma->vm_pgoff >= pool.size >> PAGE_SHIFT)
		return -EINVAL;
	offset = (u64)vma->vm_pgoff << PAGE_SHIFT;
	if (offset & ((1ULL << pool.unit_shift) - 1))
		return -EINVAL;

	mutex_lock(&pool.lock);
	blk = xa_load(&bf->blocks, offset >> pool.unit_shift);
	/* Whole pages of one block only; offset is then page aligned. */
	if (!blk || block_bytes(blk) < PAGE_SIZE || len > block_bytes(blk)) {
		ret = -EINVAL;
		goto unlock;
	}
	ret = remap_pfn_range(vma, vma->vm_start, pool.pfn + vma->vm_pgoff, len,
			      vma->vm_page_prot);
	if (!ret) {
		/* Hooks only once the VMA is live: no error path closes it. */
		vma->vm_ops = &buddy_vm_ops;
		vma->vm_private_data = blk;
		blk->map_count++;
		blk->mapped = true;
	}
unlock:
	mutex_unlock(&pool.lock);
	return ret;
}

static const struct file_operations buddy_fops = {
	.owner = THIS_MODULE,
	.open = buddy_open,
	.release = buddy_release,
	.unlocked_ioctl = buddy_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = buddy_mmap,
	.llseek = noop_llseek,
};

/*
 * Exported blocks: the device's side of buddy_dmabuf.h.  A taken block sits
 * in its file's table as a reserved entry (XA_ZERO_ENTRY, which xa_load()
 * and xa_for_each() skip), so that it can go back without allocating; it
 * stays counted in the file's bytes until the file disowns it.
 */

/**
 * buddy_file_take_block() - lend a block of @bf to the DMA-BUF exporter
 * @bf: the open file
 * @offset: the block's offset in bytes, as BUDDY_IOC_ALLOC gave it
 * @blkp: the block, for the other calls of buddy_dmabuf.h
 * @mem: where its memory is
 *
 * From now on FREE, mmap and EXPORT of @offset through @bf fail with
 * -EINVAL; the block follows buddy_file_return_block() or
 * buddy_file_disown_block().  Closing @bf cannot happen meanwhile: the
 * caller is in an ioctl on it.
 *
 * Return: 0; -EINVAL if @offset is not the start of a live block of @bf;
 * -EBUSY if the block is mapped through /dev/buddy.
 */
int buddy_file_take_block(struct buddy_file *bf, u64 offset,
			  struct buddy_block **blkp, struct buddy_block_mem *mem)
{
	struct buddy_block *blk;
	int ret = 0;

	if (offset >= pool.size || offset & ((1ULL << pool.unit_shift) - 1))
		return -EINVAL;
	mutex_lock(&pool.lock);
	blk = xa_load(&bf->blocks, offset >> pool.unit_shift);
	if (!blk)
		ret = -EINVAL;
	else if (blk->map_count)
		ret = -EBUSY;
	else
		/* Over an existing slot: allocates nothing, cannot fail. */
		WARN_ON_ONCE(xa_cmpxchg(&bf->blocks, blk->index, blk,
					XA_ZERO_ENTRY, 0) != blk);
	mutex_unlock(&pool.lock);
	if (ret)
		return ret;

	*blkp = blk;
	mem->offset = offset;
	mem->size = block_bytes(blk);
	mem->phys = PFN_PHYS(pool.pfn) + offset;
	mem->vaddr = block_vaddr(blk);
	mem->page = pool.pages ? nth_page(pool.pages, offset >> PAGE_SHIFT) : NULL;
	return 0;
}

/**
 * buddy_file_writable() - whether @bf was opened for writing
 * @bf: the open file
 *
 * Return: true if it was: its blocks may then be exported writable, as they
 * may be mapped writable.
 */
bool buddy_file_writable(const struct buddy_file *bf)
{
	return bf->writable;
}

/**
 * buddy_file_return_block() - undo buddy_file_take_block()
 * @bf: the file it was taken from
 * @blk: the block
 *
 * The block is @bf's again, as if it had never been taken.
 */
void buddy_file_return_block(struct buddy_file *bf, struct buddy_block *blk)
{
	mutex_lock(&pool.lock);
	/* Into its reserved slot: allocates nothing, cannot fail. */
	WARN_ON_ONCE(xa_cmpxchg(&bf->blocks, blk->index, XA_ZERO_ENTRY, blk, 0));
	mutex_unlock(&pool.lock);
}

/**
 * buddy_file_disown_block() - a taken block is no longer @bf's
 * @bf: the file it was taken from
 * @blk: the block, which stays allocated until buddy_free_block_zeroed()
 *
 * It no longer counts against @bf's max_bytes_per_file, nor anyone's.
 */
void buddy_file_disown_block(struct buddy_file *bf, struct buddy_block *blk)
{
	mutex_lock(&pool.lock);
	xa_release(&bf->blocks, blk->index);
	bf->bytes -= block_bytes(blk);
	mutex_unlock(&pool.lock);
}

/**
 * buddy_free_block_zeroed() - free a disowned block, its last user gone
 * @blk: the block
 *
 * Zeroes it, since userspace and devices may have written to it, and gives
 * it back to the pool.
 */
void buddy_free_block_zeroed(struct buddy_block *blk)
{
	/* Nobody else can reach it now: zero it outside the lock. */
	memset(block_vaddr(blk), 0, block_bytes(blk));
	mutex_lock(&pool.lock);
	pool_free_block(blk);
	mutex_unlock(&pool.lock);
}

/* A copy of the pool's figures for debugfs, taken without the lock. */
struct buddy_snapshot {
	u64 free_units;
	u64 nr_free[BUDDY_CORE_MAX_ORDER + 1];
	struct buddy_counters stats;
	int largest_order;
};

static void read_snapshot(struct buddy_snapshot *snap)
{
	unsigned int order, max_order = buddy_core_max_order(&pool.core);

	/*
	 * Written under pool.lock; debugfs readers take a copy without it and
	 * accept figures a moment old (or from two moments) rather than stall
	 * allocations.
	 */
	snap->free_units = data_race(buddy_core_free_units(&pool.core));
	for (order = 0; order <= max_order; order++)
		/* Likewise. */
		snap->nr_free[order] = data_race(buddy_core_nr_free(&pool.core, order));
	/* Likewise. */
	snap->stats = data_race(pool.stats);
	/* Likewise. */
	snap->largest_order = data_race(buddy_core_largest_order(&pool.core));
}

static int stats_show(struct seq_file *m, void *unused)
{
	u64 exported_blocks, exported_bytes;
	struct buddy_snapshot st;

	read_snapshot(&st);
	seq_printf(m, "pool_size: %llu\n", pool.size);
	seq_printf(m, "unit_size: %llu\n", 1ULL << pool.unit_shift);
	seq_printf(m, "max_order: %u\n", buddy_core_max_order(&pool.core));
	seq_printf(m, "free_bytes: %llu\n", st.free_units << pool.unit_shift);
	seq_printf(m, "used_bytes: %llu\n", st.stats.used_bytes);
	seq_printf(m, "largest_free: %llu\n", st.largest_order < 0 ? 0 :
		   1ULL << (st.largest_order + pool.unit_shift));
	seq_printf(m, "live_blocks: %llu\n", st.stats.live_blocks);
	seq_printf(m, "allocs: %llu\n", st.stats.allocs);
	seq_printf(m, "frees: %llu\n", st.stats.frees);
	seq_printf(m, "alloc_failures: %llu\n", st.stats.alloc_failures);
	seq_printf(m, "peak_used_bytes: %llu\n", st.stats.peak_used_bytes);
	buddy_dmabuf_stats(&exported_blocks, &exported_bytes);
	seq_printf(m, "exported_blocks: %llu\n", exported_blocks);
	seq_printf(m, "exported_bytes: %llu\n", exported_bytes);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

/* Like /proc/buddyinfo, one order a line: maximal free blocks. */
static int buddyinfo_show(struct seq_file *m, void *unused)
{
	unsigned int order, max_order = buddy_core_max_order(&pool.core);
	struct buddy_snapshot st;

	read_snapshot(&st);
	seq_puts(m, "# order free_blocks\n");
	for (order = 0; order <= max_order; order++)
		seq_printf(m, "%u %llu\n", order, st.nr_free[order]);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(buddyinfo);

/*
 * The unusable free space index, as mm/vmstat.c computes it for
 * extfrag/unusable_index: the share of free space that lies in blocks too
 * small for an allocation of each order, 0.000 (none) to 1.000 (all, or no
 * free space at all).
 */
static int unusable_index_show(struct seq_file *m, void *unused)
{
	unsigned int order, o, max_order = buddy_core_max_order(&pool.core);
	struct buddy_snapshot st;
	u64 free_units = 0;

	/* Recount from the per-order figures so the index is self-consistent. */
	read_snapshot(&st);
	for (o = 0; o <= max_order; o++)
		free_units += st.nr_free[o] << o;
	seq_puts(m, "# order unusable_index\n");
	for (order = 0; order <= max_order; order++) {
		u64 suitable = 0;
		unsigned int index = 1000;

		for (o = order; o <= max_order; o++)
			suitable += st.nr_free[o] << (o - order);
		if (free_units)
			index = div64_u64((free_units - (suitable << order)) * 1000,
					  free_units);
		seq_printf(m, "%u %u.%03u\n", order, index / 1000, index % 1000);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(unusable_index);

static int __init buddy_check_params(void)
{
	if (!is_power_of_2(unit_size) || unit_size < BUDDY_MIN_UNIT_SIZE) {
		pr_err("unit_size=%lu: must be a power of two, at least %u\n",
		       unit_size, BUDDY_MIN_UNIT_SIZE);
		return -EINVAL;
	}
	if (!is_power_of_2(pool_size) || pool_size < unit_size) {
		pr_err("pool_size=%lu: must be a power of two, at least unit_size (%lu)\n",
		       pool_size, unit_size);
		return -EINVAL;
	}
	if (!pool_phys_base && pool_size > PAGE_SIZE << MAX_PAGE_ORDER) {
		pr_err("pool_size=%lu: above %lu, the largest block alloc_pages() gives; reserve a larger pool at boot and pass phys_base\n",
		       pool_size, PAGE_SIZE << MAX_PAGE_ORDER);
		return -EINVAL;
	}
	if (ilog2(pool_size / unit_size) > BUDDY_CORE_MAX_ORDER) {
		pr_err("pool_size/unit_size=%lu: above 2^%d units\n",
		       pool_size / unit_size, BUDDY_CORE_MAX_ORDER);
		return -EINVAL;
	}
	return 0;
}

/*
 * A pool reserved at boot (memmap=SIZE$BASE): it must be exactly such a
 * reservation, naturally aligned so that blocks are aligned physically too,
 * and no page of it may be RAM the kernel uses.
 */
static int __init pool_claim_reserved(void)
{
	phys_addr_t base = pool_phys_base;

	if (pool_size < PAGE_SIZE || !IS_ALIGNED(base, pool_size) ||
	    base + pool_size - 1 < base) {
		pr_err("phys_base=%pa pool_size=%lu: the range must be at least a page and aligned to its size\n",
		       &base, pool_size);
		return -EINVAL;
	}
	if (region_intersects(base, pool_size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err("phys_base=%pa pool_size=%lu: overlaps System RAM in use\n",
		       &base, pool_size);
		return -EINVAL;
	}
	if (region_intersects(base, pool_size, IORESOURCE_MEM,
			      IORES_DESC_RESERVED) != REGION_INTERSECTS) {
		pr_err("phys_base=%pa pool_size=%lu: not a range reserved at boot (memmap=%luM$%pa)\n",
		       &base, pool_size, pool_size >> 20, &base);
		return -EINVAL;
	}
	if (!request_mem_region(base, pool_size, KBUILD_MODNAME)) {
		pr_err("phys_base=%pa pool_size=%lu: range already claimed\n",
		       &base, pool_size);
		return -EBUSY;
	}
	pool.vaddr = memremap(base, pool_size, MEMREMAP_WB);
	if (!pool.vaddr) {
		pr_err("phys_base=%pa pool_size=%lu: memremap failed\n", &base, pool_size);
		release_mem_region(base, pool_size);
		return -ENOMEM;
	}
	/* Whatever the firmware or a previous boot left there stays unseen. */
	memset(pool.vaddr, 0, pool_size);
	pool.pfn = PHYS_PFN(base);
	return 0;
}

static int __init pool_reserve(void)
{
	if (pool_phys_base)
		return pool_claim_reserved();

	/* Zeroed, so no earlier owner's bytes reach the pool's users. */
	pool.page_order = pool_size > PAGE_SIZE ? ilog2(pool_size >> PAGE_SHIFT) : 0;
	pool.pages = alloc_pages(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN,
				 pool.page_order);
	if (!pool.pages) {
		pr_err("cannot reserve %lu contiguous bytes (order %u)\n",
		       pool_size, pool.page_order);
		return -ENOMEM;
	}
	pool.vaddr = page_address(pool.pages);
	pool.pfn = page_to_pfn(pool.pages);
	return 0;
}

static void pool_release(void)
{
	if (pool.pages) {
		__free_pages(pool.pages, pool.page_order);
		return;
	}
	memunmap(pool.vaddr);
	release_mem_region(pool_phys_base, pool_size);
}

static int __init buddy_init(void)
{
	unsigned int max_order;
	size_t meta_size;
	int ret;

	ret = buddy_check_params();
	if (ret)
		return ret;
	pool.size = pool_size;
	pool.unit_shift = ilog2(unit_size);
	max_order = ilog2(pool_size / unit_size);

	meta_size = buddy_core_meta_size(max_order);
	pool.meta = kvmalloc(meta_size, GFP_KERNEL);
	if (!pool.meta) {
		pr_err("no memory for %zu bytes of allocator metadata\n", meta_size);
		return -ENOMEM;
	}
	ret = buddy_core_init(&pool.core, max_order, pool.meta, meta_size);
	if (ret)
		goto free_meta;
	ret = pool_reserve();
	if (ret)
		goto free_meta;

	pool.debugfs = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("stats", 0400, pool.debugfs, NULL, &stats_fops);
	debugfs_create_file("buddyinfo", 0400, pool.debugfs, NULL, &buddyinfo_fops);
	debugfs_create_file("unusable_index", 0400, pool.debugfs, NULL,
			    &unusable_index_fops);

	pool.misc.minor = MISC_DYNAMIC_MINOR;
	pool.misc.name = KBUILD_MODNAME;
	pool.misc.fops = &buddy_fops;
	pool.misc.mode = 0600;
	ret = misc_register(&pool.misc);
	if (ret) {
		pr_err("cannot register /dev/%s: %d\n", KBUILD_MODNAME, ret);
		goto remove_debugfs;
	}
	pr_info("%lu-byte pool of %lu-byte units (max_order %u)%s\n",
		pool_size, unit_size, max_order,
		pool_phys_base ? ", reserved at boot" : "");
	return 0;

remove_debugfs:
	debugfs_remove_recursive(pool.debugfs);
	pool_release();
free_meta:
	kvfree(pool.meta);
	return ret;
}
module_init(buddy_init);

/*
 * No file is open and no DMA-BUF lives (each pins the module), so every
 * block is free again.
 */
static void __exit buddy_exit(void)
{
	misc_deregister(&pool.misc);
	debugfs_remove_recursive(pool.debugfs);
	WARN_ON_ONCE(buddy_core_free_units(&pool.core) !=
		     1ULL << buddy_core_max_order(&pool.core));
	pool_release();
	kvfree(pool.meta);
}
module_exit(buddy_exit);

MODULE_DESCRIPTION("Buddy allocator over a physically contiguous pool, at /dev/buddy");
MODULE_LICENSE("GPL");
