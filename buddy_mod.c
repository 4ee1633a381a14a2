// SPDX-License-Identifier: GPL-2.0
/*
 * buddy: a physically contiguous pool behind /dev/buddy, managed by a
 * buddy_pool (buddy_pool.h: the buddy_core allocator behind a spinlock,
 * with per-CPU caches of small free blocks).  Userspace allocates and frees
 * blocks by ioctl (include/uapi/linux/buddy.h) and maps them with mmap();
 * every block belongs to the open file that allocated it and is freed when
 * that file is released, unless the file exported it as a DMA-BUF
 * (buddy_dmabuf.c, which the hooks under "Exported blocks" below serve).
 *
 * The pool comes from alloc_pages() (up to the page allocator's largest
 * block), or with phys_base from a physical range reserved at boot with
 * memmap=SIZE$BASE.
 *
 * Locking: each open file has a mutex, bf->lock, over its block table, its
 * byte count and its blocks' map counts, so a block is in the pool's "live"
 * state exactly when one file's table holds it, or buddy.exported does (a
 * block whose DMA-BUF lives; an export in progress holds it in a reserved
 * slot of its file's table, see "Exported blocks"): ALLOC inserts a block
 * only after the pool gave it out, and FREE erases it from the table before
 * giving it back, so a block in a per-CPU cache is in no table and can be
 * neither freed again nor mapped.  bf->lock is taken under mmap_lock (mmap,
 * vm_ops) and so is never held across copy_{to,from}_user(), which may take
 * mmap_lock.  buddy.exported_lock, a mutex, guards buddy.exported and the
 * export counters; it is taken alone, or under buddy.files_lock (debugfs
 * blocks, which takes each bf->lock under buddy.files_lock too), and never
 * together with a bf->lock.  The DMA-BUF side takes these locks only
 * through the hooks, never under its own.  The pool has its own spinlocks
 * inside (buddy_pool.h), taken under bf->lock or alone, never around a
 * sleeping allocation or an xarray insert.  Files share nothing else: the
 * counters are per CPU, or atomic.
 *
 * Lifetime of a mapped block: each mapping holds a reference on the file,
 * so the file is released only after its last mapping is gone, and FREE
 * refuses a mapped block with -EBUSY: a block's memory is never reachable
 * from userspace once it is back in the pool.  A block that was mapped is
 * zeroed when freed; the pool starts zeroed, so every block reads as zero
 * when it is allocated.
 */
/* The module is buddy_alloc.ko (alias buddy); what users see keeps "buddy". */
#define BUDDY_NAME "buddy"
#define pr_fmt(fmt) BUDDY_NAME ": " fmt

#include <linux/atomic.h>
#include <linux/cpumask.h>
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
#include <linux/sched.h>
#include <linux/percpu.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string_helpers.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>
#include <linux/buddy.h>

#include "buddy_dmabuf.h"
#include "buddy_pool.h"

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
#define BUDDY_ALLOC_FLAGS_VALID	(BUDDY_ALLOC_TOPDOWN | BUDDY_ALLOC_RANGE | \
				 BUDDY_ALLOC_EXACT)

/* The device passes its placement flags to the pool unchanged. */
static_assert(BUDDY_ALLOC_TOPDOWN == BUDDY_CORE_ALLOC_TOPDOWN);
static_assert(BUDDY_ALLOC_RANGE == BUDDY_CORE_ALLOC_RANGE);
static_assert(BUDDY_ALLOC_EXACT == BUDDY_CORE_ALLOC_EXACT);

static const struct buddy_core_ops *const buddy_cores[] = {
	&buddy_core_bitmap_ops,
	&buddy_tree_ops,
};

/* The first is the default: docs/PERFORMANCE.md has the figures. */
static char *core = "bitmap";
module_param(core, charp, 0444);
MODULE_PARM_DESC(core,
		 "Allocator core: bitmap (per-order bitmaps, default) or tree (the seed's longest[] tree)");

/**
 * struct buddy_counters - one CPU's share of what debugfs stats reports
 * @allocs: successful allocations
 * @frees: blocks freed, by BUDDY_IOC_FREE or on release
 * @alloc_failures: allocations that found no free block
 *
 * Each CPU adds to its own; a reader sums them (an allocation undone on one
 * CPU may have been counted on another, so one CPU's figure can wrap; the
 * sums are right).  live_blocks is allocs - frees.
 */
struct buddy_counters {
	u64 allocs;
	u64 frees;
	u64 alloc_failures;
};

/**
 * struct buddy_device - the one pool this module manages, and its device
 * @pool: the allocator, in units of @unit_shift
 * @core_ops: @pool's core, as the core parameter named it
 * @pages: the pool's memory, 2^@page_order pages from alloc_pages(), or
 *         NULL for a pool at phys_base
 * @page_order: order of @pages
 * @vaddr: the pool's kernel mapping
 * @pfn: the pool's first page frame
 * @size: bytes managed (may be less than the pages hold)
 * @unit_shift: log2 of the unit size
 * @ready: @pool is set up, so percpu_cache may reach it; under
 *         kernel_param_lock(THIS_MODULE)
 * @blocks: where struct buddy_block comes from
 * @stats: per-CPU counters for debugfs
 * @used_bytes: bytes in allocated blocks now
 * @peak_used_bytes: the most @used_bytes has been when an allocation
 *                   reached its caller (an undone one does not count)
 * @debugfs: the buddy/ debugfs directory
 * @misc: /dev/buddy
 * @files_lock: guards @files and @last_file_id
 * @files: every open file (struct buddy_file.node), in opening order, for
 *         debugfs blocks
 * @last_file_id: the id the newest open file got
 * @exported_lock: guards @exported, @exported_blocks and @exported_bytes
 * @exported: the exported blocks (struct buddy_exported), indexed by offset
 *            in units, for debugfs blocks; a record goes in unmarked when
 *            an export starts and is marked BUDDY_EXPORTED_OWNED when the
 *            file gives the block up
 * @exported_blocks: the marked records in @exported, for debugfs stats
 * @exported_bytes: their blocks' bytes
 */
struct buddy_device {
	struct buddy_pool pool;
	const struct buddy_core_ops *core_ops;
	struct page *pages;
	unsigned int page_order;
	void *vaddr;
	unsigned long pfn;
	u64 size;
	unsigned int unit_shift;
	bool ready;
	struct kmem_cache *blocks;
	struct buddy_counters __percpu *stats;
	/* Written by every operation: away from the fields they only read. */
	atomic64_t used_bytes ____cacheline_aligned_in_smp;
	atomic64_t peak_used_bytes;
	struct dentry *debugfs;
	struct miscdevice misc;
	struct mutex files_lock;	/* @files, @last_file_id */
	struct list_head files;
	u64 last_file_id;
	struct mutex exported_lock;	/* @exported and its counters */
	struct xarray exported;
	u64 exported_blocks;
	u64 exported_bytes;
};

static struct buddy_device buddy = {
	.files_lock = __MUTEX_INITIALIZER(buddy.files_lock),
	.files = LIST_HEAD_INIT(buddy.files),
	.exported_lock = __MUTEX_INITIALIZER(buddy.exported_lock),
	.exported = XARRAY_INIT(buddy.exported, 0),
};

/* percpu_cache=0 sends every allocation and free straight to the core. */
static bool percpu_cache = true;

static int percpu_cache_set(const char *val, const struct kernel_param *kp)
{
	int ret = param_set_bool(val, kp);

	/* Called under kernel_param_lock(THIS_MODULE), as init and exit set ready. */
	if (!ret && buddy.ready)
		buddy_pool_set_cache(&buddy.pool, percpu_cache);
	return ret;
}

static const struct kernel_param_ops percpu_cache_ops = {
	.set = percpu_cache_set,
	.get = param_get_bool,
};
module_param_cb(percpu_cache, &percpu_cache_ops, &percpu_cache, 0644);
MODULE_PARM_DESC(percpu_cache,
		 "Per-CPU caches of free blocks of orders 0..3 (default 1); writable at runtime, 0 drains them");

/**
 * struct buddy_file - what one open file description owns
 * @lock: guards @blocks, @bytes and the map counts of its blocks
 * @blocks: its live blocks (struct buddy_block), indexed by offset in units
 * @bytes: bytes in @blocks, for max_bytes_per_file
 * @node: in buddy.files; under buddy.files_lock
 * @id: 1 for the first file opened, then counting up; never reused
 * @tgid: the opener's process id, in the initial pid namespace
 * @comm: the opener's command name
 * @writable: opened for writing, so its blocks may be mapped or exported
 *            writable
 *
 * @id, @tgid and @comm are set at open and name the owner in debugfs blocks.
 */
struct buddy_file {
	struct mutex lock;	/* this file's table and its blocks */
	struct xarray blocks;
	u64 bytes;
	struct list_head node;
	u64 id;
	pid_t tgid;
	char comm[TASK_COMM_LEN];
	bool writable;
};

/**
 * struct buddy_block - one live block
 * @index: offset in units
 * @units: its size in units: a power of two, or with BUDDY_ALLOC_EXACT
 *	the extent asked for (buddy_pool_free_extent() takes it back)
 * @map_count: VMAs mapping it now (fork and VMA splits add to it)
 * @mapped: it has been mapped, so userspace may have written to it
 */
struct buddy_block {
	unsigned long index;
	u64 units;
	unsigned int map_count;
	bool mapped;
};

/**
 * struct buddy_exported - a block whose DMA-BUF lives, in buddy.exported
 * @blk: the block
 * @tgid: the exporting file's opener, as struct buddy_file.tgid
 * @comm: its command name
 *
 * The file may be closed long before the DMA-BUF; debugfs blocks still
 * names where the block came from.
 */
struct buddy_exported {
	struct buddy_block *blk;
	pid_t tgid;
	char comm[TASK_COMM_LEN];
};

static u64 block_bytes(const struct buddy_block *blk)
{
	return blk->units << buddy.unit_shift;
}

static void *block_vaddr(const struct buddy_block *blk)
{
	return buddy.vaddr + (blk->index << buddy.unit_shift);
}

static void account_alloc(u64 bytes)
{
	this_cpu_inc(buddy.stats->allocs);
	atomic64_add(bytes, &buddy.used_bytes);
}

static void account_free(u64 bytes)
{
	this_cpu_inc(buddy.stats->frees);
	atomic64_sub(bytes, &buddy.used_bytes);
}

/* Free one unmapped block of @bf's back to the pool. */
static void file_free_block(struct buddy_file *bf, struct buddy_block *blk)
{
	lockdep_assert_held(&bf->lock);
	/* Out of the table first: from now on no call of this file sees it. */
	xa_erase(&bf->blocks, blk->index);
	bf->bytes -= block_bytes(blk);
	if (blk->mapped)
		memset(block_vaddr(blk), 0, block_bytes(blk));
	/* The table and the pool agree by construction; a refusal is our bug. */
	WARN_ON_ONCE(buddy_pool_free_extent(&buddy.pool, blk->index, blk->units));
	account_free(block_bytes(blk));
	kmem_cache_free(buddy.blocks, blk);
}

static int buddy_open(struct inode *inode, struct file *file)
{
	struct buddy_file *bf = kzalloc(sizeof(*bf), GFP_KERNEL);

	if (!bf)
		return -ENOMEM;
	mutex_init(&bf->lock);
	xa_init(&bf->blocks);
	bf->tgid = task_tgid_nr(current);
	get_task_comm(bf->comm, current);
	bf->writable = file->f_mode & FMODE_WRITE;
	mutex_lock(&buddy.files_lock);
	bf->id = ++buddy.last_file_id;
	list_add_tail(&bf->node, &buddy.files);
	mutex_unlock(&buddy.files_lock);
	file->private_data = bf;
	return 0;
}

static int buddy_release(struct inode *inode, struct file *file)
{
	struct buddy_file *bf = file->private_data;
	struct buddy_block *blk;
	unsigned long index;

	/* Out of debugfs blocks' sight first: it may be reading this file. */
	mutex_lock(&buddy.files_lock);
	list_del(&bf->node);
	mutex_unlock(&buddy.files_lock);
	mutex_lock(&bf->lock);
	xa_for_each(&bf->blocks, index, blk) {
		/* Mappings pin the file, so none is left by now. */
		WARN_ON_ONCE(blk->map_count);
		file_free_block(bf, blk);
	}
	mutex_unlock(&bf->lock);
	xa_destroy(&bf->blocks);
	mutex_destroy(&bf->lock);
	kfree(bf);
	return 0;
}

static u64 largest_free_bytes(void)
{
	int largest = buddy_pool_largest_order(&buddy.pool);

	return largest < 0 ? 0 : 1ULL << (largest + buddy.unit_shift);
}

static int buddy_ioc_info(struct buddy_file *bf, void *data)
{
	struct buddy_info *info = data;

	info->pool_size = buddy.size;
	info->unit_size = 1ULL << buddy.unit_shift;
	/* largest first: it drains the caches, which free_bytes then agrees with. */
	info->largest_free = largest_free_bytes();
	info->free_bytes = buddy_pool_free_units(&buddy.pool) << buddy.unit_shift;
	info->max_order = buddy_pool_max_order(&buddy.pool);
	return 0;
}

/*
 * struct buddy_alloc's request in units; -EINVAL for what the uapi forbids.
 * The core checks the range against the pool once more.
 */
static int alloc_request(const struct buddy_alloc *req,
			 struct buddy_core_req *creq)
{
	u64 unit_mask = (1ULL << buddy.unit_shift) - 1;

	if (!req->size || req->size > buddy.size || req->pad ||
	    (req->flags & ~BUDDY_ALLOC_FLAGS_VALID))
		return -EINVAL;
	if (req->flags & BUDDY_ALLOC_RANGE) {
		if (req->range_start >= req->range_end ||
		    req->range_end > buddy.size ||
		    (req->range_start | req->range_end) & unit_mask)
			return -EINVAL;
	} else if (req->range_start || req->range_end) {
		return -EINVAL;
	}
	creq->units = (req->size + unit_mask) >> buddy.unit_shift;
	creq->start = req->range_start >> buddy.unit_shift;
	creq->end = req->range_end >> buddy.unit_shift;
	creq->flags = req->flags;
	return 0;
}

static int buddy_ioc_alloc(struct buddy_file *bf, void *data)
{
	struct buddy_alloc *req = data;
	u64 limit = READ_ONCE(max_bytes_per_file);
	struct buddy_core_req creq;
	struct buddy_block *blk;
	s64 offset;
	int ret;

	ret = alloc_request(req, &creq);
	if (ret)
		return ret;
	blk = kmem_cache_zalloc(buddy.blocks, GFP_KERNEL);
	if (!blk)
		return -ENOMEM;
	/* EXACT keeps the units asked for; otherwise the whole block. */
	blk->units = creq.flags & BUDDY_ALLOC_EXACT ? creq.units :
		     1ULL << buddy_pool_order_for(creq.units);

	mutex_lock(&bf->lock);
	if (limit && bf->bytes + block_bytes(blk) > limit) {
		ret = -EDQUOT;
		goto unlock;
	}
	offset = buddy_pool_alloc_req(&buddy.pool, &creq);
	if (offset < 0) {
		if (offset == -ENOMEM)
			this_cpu_inc(buddy.stats->alloc_failures);
		ret = offset;
		goto unlock;
	}
	blk->index = offset;
	/* May allocate: under this file's mutex only, not the pool's locks. */
	ret = xa_insert(&bf->blocks, blk->index, blk, GFP_KERNEL);
	if (ret) {
		/* The pool just gave it: a refusal is our bug. */
		WARN_ON_ONCE(buddy_pool_free_extent(&buddy.pool, blk->index,
						    blk->units));
		goto unlock;
	}
	bf->bytes += block_bytes(blk);
	account_alloc(block_bytes(blk));
	mutex_unlock(&bf->lock);

	req->offset = (u64)blk->index << buddy.unit_shift;
	req->block_size = block_bytes(blk);
	return 0;

unlock:
	mutex_unlock(&bf->lock);
	kmem_cache_free(buddy.blocks, blk);
	return ret;
}

/* Raise the peak to @used if it is below. */
static void raise_peak(s64 used)
{
	s64 peak = atomic64_read(&buddy.peak_used_bytes);

	while (peak < used &&
	       !atomic64_try_cmpxchg(&buddy.peak_used_bytes, &peak, used))
		;
}

/*
 * After buddy_ioc_alloc()'s result was copied out: count it toward the peak
 * if it reached the caller, else undo it as if it had never happened.
 */
static void buddy_ioc_alloc_complete(struct buddy_file *bf, void *data,
				     bool delivered)
{
	struct buddy_alloc *req = data;
	struct buddy_block *blk;
	bool undone = false;

	if (delivered) {
		raise_peak(atomic64_read(&buddy.used_bytes));
		return;
	}
	mutex_lock(&bf->lock);
	/*
	 * Another thread of this file may have guessed the offset and freed,
	 * exported or mapped the block since: then there is nothing left to
	 * undo (freeing NULL, or a mapped block, would break the pool).  A
	 * block it reallocated there is this file's, and goes like the first.
	 */
	blk = xa_load(&bf->blocks, req->offset >> buddy.unit_shift);
	if (blk && !blk->map_count) {
		file_free_block(bf, blk);
		undone = true;
	}
	mutex_unlock(&bf->lock);
	if (undone) {
		this_cpu_dec(buddy.stats->allocs);
		this_cpu_dec(buddy.stats->frees);
	}
}

static int buddy_ioc_free(struct buddy_file *bf, void *data)
{
	struct buddy_free *req = data;
	struct buddy_block *blk;
	int ret = 0;

	if (req->flags || req->pad || req->offset >= buddy.size ||
	    req->offset & ((1ULL << buddy.unit_shift) - 1))
		return -EINVAL;

	mutex_lock(&bf->lock);
	/* Only this file's live blocks, at their exact start: the pool trusts us. */
	blk = xa_load(&bf->blocks, req->offset >> buddy.unit_shift);
	if (!blk)
		ret = -EINVAL;
	else if (blk->map_count)
		ret = -EBUSY;
	else
		file_free_block(bf, blk);
	mutex_unlock(&bf->lock);
	return ret;
}

/* The first version of struct buddy_batch_op ended at pad; later ones grow. */
#define BUDDY_BATCH_OP_MIN_SIZE	offsetofend(struct buddy_batch_op, pad)

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
		struct buddy_alloc req = {
			.size = op->size,
			.flags = op->flags,
			.range_start = op->range_start,
			.range_end = op->range_end,
		};
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

		if (op->size || op->block_size || op->range_start ||
		    op->range_end)
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
		if (copy_to_user(uop, &op, min_t(size_t, op_size, sizeof(op))))
			return -EFAULT;

		op.result = batch_run_op(bf, &op, known, &allocated);
		delivered = !copy_to_user(uop, &op,
					  min_t(size_t, op_size, sizeof(op)));
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
static_assert(sizeof(struct buddy_info) <= BUDDY_IOCTL_MAX_SIZE);
static_assert(sizeof(struct buddy_alloc) <= BUDDY_IOCTL_MAX_SIZE);
static_assert(sizeof(struct buddy_free) <= BUDDY_IOCTL_MAX_SIZE);
static_assert(sizeof(struct buddy_batch) <= BUDDY_IOCTL_MAX_SIZE);

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
	struct buddy_file *bf = vma->vm_file->private_data;
	struct buddy_block *blk = vma->vm_private_data;

	mutex_lock(&bf->lock);
	blk->map_count++;
	mutex_unlock(&bf->lock);
}

static void buddy_vm_close(struct vm_area_struct *vma)
{
	struct buddy_file *bf = vma->vm_file->private_data;
	struct buddy_block *blk = vma->vm_private_data;

	mutex_lock(&bf->lock);
	blk->map_count--;
	mutex_unlock(&bf->lock);
}

static const struct vm_operations_struct buddy_vm_ops = {
	.open = buddy_vm_open,
	.close = buddy_vm_close,
};

/*
 * Map a whole block, or its start, that this file owns: the mmap offset is
 * the block's offset.  Shared mappings only: a private one would give the
 * caller copy-on-write pages outside the buddy.  remap_pfn_range() marks the
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
	    vma->vm_pgoff >= buddy.size >> PAGE_SHIFT)
		return -EINVAL;
	offset = (u64)vma->vm_pgoff << PAGE_SHIFT;
	if (offset & ((1ULL << buddy.unit_shift) - 1))
		return -EINVAL;

	mutex_lock(&bf->lock);
	blk = xa_load(&bf->blocks, offset >> buddy.unit_shift);
	/* Whole pages of one block only; offset is then page aligned. */
	if (!blk || block_bytes(blk) < PAGE_SIZE || len > block_bytes(blk)) {
		ret = -EINVAL;
		goto unlock;
	}
	ret = remap_pfn_range(vma, vma->vm_start, buddy.pfn + vma->vm_pgoff, len,
			      vma->vm_page_prot);
	if (!ret) {
		/* Hooks only once the VMA is live: no error path closes it. */
		vma->vm_ops = &buddy_vm_ops;
		vma->vm_private_data = blk;
		blk->map_count++;
		blk->mapped = true;
	}
unlock:
	mutex_unlock(&bf->lock);
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
 * in its file's table as a reserved entry (XA_ZERO_ENTRY, which xa_load(),
 * xa_find() and xa_for_each() skip), so that it can go back without
 * allocating; it stays counted in the file's bytes until the file disowns
 * it.  Its struct buddy_exported is in buddy.exported from the take on, and
 * marked BUDDY_EXPORTED_OWNED from the disown on: only marked ones are
 * exported blocks for debugfs.
 */
#define BUDDY_EXPORTED_OWNED	XA_MARK_0

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
 * -EBUSY if the block is mapped through /dev/buddy; -ENOMEM.
 */
int buddy_file_take_block(struct buddy_file *bf, u64 offset,
			  struct buddy_block **blkp, struct buddy_block_mem *mem)
{
	struct buddy_exported *exp;
	struct buddy_block *blk;
	int ret = 0;

	if (offset >= buddy.size || offset & ((1ULL << buddy.unit_shift) - 1))
		return -EINVAL;
	exp = kzalloc(sizeof(*exp), GFP_KERNEL);
	if (!exp)
		return -ENOMEM;
	exp->tgid = bf->tgid;
	memcpy(exp->comm, bf->comm, sizeof(exp->comm));

	mutex_lock(&bf->lock);
	blk = xa_load(&bf->blocks, offset >> buddy.unit_shift);
	if (!blk) {
		ret = -EINVAL;
		goto unlock;
	}
	if (blk->map_count) {
		ret = -EBUSY;
		goto unlock;
	}
	exp->blk = blk;
	/* Unmarked, so not yet listed; may allocate, under this mutex only. */
	ret = xa_insert(&buddy.exported, blk->index, exp, GFP_KERNEL);
	if (ret)
		goto unlock;
	/* Over an existing slot: allocates nothing, cannot fail. */
	WARN_ON_ONCE(xa_cmpxchg(&bf->blocks, blk->index, blk, XA_ZERO_ENTRY, 0) != blk);
unlock:
	mutex_unlock(&bf->lock);
	if (ret) {
		kfree(exp);
		return ret;
	}

	*blkp = blk;
	mem->offset = offset;
	mem->size = block_bytes(blk);
	mem->phys = PFN_PHYS(buddy.pfn) + offset;
	mem->vaddr = block_vaddr(blk);
	mem->page = buddy.pages ? nth_page(buddy.pages, offset >> PAGE_SHIFT) : NULL;
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
	struct buddy_exported *exp;

	mutex_lock(&buddy.exported_lock);
	exp = xa_erase(&buddy.exported, blk->index);
	mutex_unlock(&buddy.exported_lock);
	kfree(exp);
	mutex_lock(&bf->lock);
	/* Into its reserved slot: allocates nothing, cannot fail. */
	WARN_ON_ONCE(xa_cmpxchg(&bf->blocks, blk->index, XA_ZERO_ENTRY, blk, 0));
	mutex_unlock(&bf->lock);
}

/**
 * buddy_file_disown_block() - a taken block is no longer @bf's
 * @bf: the file it was taken from
 * @blk: the block, which stays allocated until buddy_free_block_zeroed()
 *
 * It no longer counts against @bf's max_bytes_per_file, nor anyone's; it
 * counts in debugfs stats' exported_blocks and exported_bytes, and debugfs
 * blocks lists it as "exported".
 */
void buddy_file_disown_block(struct buddy_file *bf, struct buddy_block *blk)
{
	/* Listed as exported first: a reader never misses it in both places. */
	mutex_lock(&buddy.exported_lock);
	xa_set_mark(&buddy.exported, blk->index, BUDDY_EXPORTED_OWNED);
	buddy.exported_blocks++;
	buddy.exported_bytes += block_bytes(blk);
	mutex_unlock(&buddy.exported_lock);
	mutex_lock(&bf->lock);
	xa_release(&bf->blocks, blk->index);
	bf->bytes -= block_bytes(blk);
	mutex_unlock(&bf->lock);
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
	struct buddy_exported *exp;

	mutex_lock(&buddy.exported_lock);
	exp = xa_erase(&buddy.exported, blk->index);
	buddy.exported_blocks--;
	buddy.exported_bytes -= block_bytes(blk);
	mutex_unlock(&buddy.exported_lock);
	kfree(exp);
	/* Nobody else can reach it now: zero it outside any lock. */
	memset(block_vaddr(blk), 0, block_bytes(blk));
	/* buddy.exported and the pool agree by construction, as for a file. */
	WARN_ON_ONCE(buddy_pool_free_extent(&buddy.pool, blk->index, blk->units));
	account_free(block_bytes(blk));
	kmem_cache_free(buddy.blocks, blk);
}

/*
 * A copy of the pool's figures for debugfs, taken without the pool's and the
 * files' locks (the export counters under buddy.exported_lock).
 */
struct buddy_snapshot {
	u64 free_units;
	u64 nr_free[BUDDY_POOL_MAX_ORDERS];
	struct buddy_counters stats;
	u64 used_bytes;
	u64 peak_used_bytes;
	u64 largest_free;
	u64 exported_blocks;
	u64 exported_bytes;
};

static void read_snapshot(struct buddy_snapshot *snap)
{
	unsigned int order, cpu, max_order = buddy_pool_max_order(&buddy.pool);

	memset(snap, 0, sizeof(*snap));
	/*
	 * The figures are written by every CPU without a common lock; readers
	 * accept figures a moment old (or from two moments) rather than stall
	 * allocations.  largest_free first: it drains the caches.
	 */
	snap->largest_free = largest_free_bytes();
	snap->free_units = buddy_pool_free_units(&buddy.pool);
	for (order = 0; order <= max_order; order++)
		snap->nr_free[order] = buddy_pool_core_nr_free(&buddy.pool, order);
	for_each_possible_cpu(cpu) {
		const struct buddy_counters *c = per_cpu_ptr(buddy.stats, cpu);

		/* Likewise. */
		snap->stats.allocs += data_race(c->allocs);
		/* Likewise. */
		snap->stats.frees += data_race(c->frees);
		/* Likewise. */
		snap->stats.alloc_failures += data_race(c->alloc_failures);
	}
	snap->used_bytes = atomic64_read(&buddy.used_bytes);
	snap->peak_used_bytes = atomic64_read(&buddy.peak_used_bytes);
	mutex_lock(&buddy.exported_lock);
	snap->exported_blocks = buddy.exported_blocks;
	snap->exported_bytes = buddy.exported_bytes;
	mutex_unlock(&buddy.exported_lock);
}

static int stats_show(struct seq_file *m, void *unused)
{
	struct buddy_snapshot st;

	read_snapshot(&st);
	seq_printf(m, "pool_size: %llu\n", buddy.size);
	seq_printf(m, "unit_size: %llu\n", 1ULL << buddy.unit_shift);
	seq_printf(m, "max_order: %u\n", buddy_pool_max_order(&buddy.pool));
	seq_printf(m, "free_bytes: %llu\n", st.free_units << buddy.unit_shift);
	seq_printf(m, "used_bytes: %llu\n", st.used_bytes);
	seq_printf(m, "largest_free: %llu\n", st.largest_free);
	seq_printf(m, "live_blocks: %llu\n", st.stats.allocs - st.stats.frees);
	seq_printf(m, "allocs: %llu\n", st.stats.allocs);
	seq_printf(m, "frees: %llu\n", st.stats.frees);
	seq_printf(m, "alloc_failures: %llu\n", st.stats.alloc_failures);
	seq_printf(m, "peak_used_bytes: %llu\n", st.peak_used_bytes);
	seq_printf(m, "exported_blocks: %llu\n", st.exported_blocks);
	seq_printf(m, "exported_bytes: %llu\n", st.exported_bytes);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

/*
 * Like /proc/buddyinfo, one order a line: the core's maximal free blocks,
 * without the per-CPU caches' (as /proc/buddyinfo leaves out pcp pages).
 */
static int buddyinfo_show(struct seq_file *m, void *unused)
{
	unsigned int order, max_order = buddy_pool_max_order(&buddy.pool);

	seq_puts(m, "# order free_blocks\n");
	for (order = 0; order <= max_order; order++)
		seq_printf(m, "%u %llu\n", order,
			   buddy_pool_core_nr_free(&buddy.pool, order));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(buddyinfo);

/*
 * The unusable free space index, as mm/vmstat.c computes it for
 * extfrag/unusable_index: the share of free space that lies in blocks too
 * small for an allocation of each order, 0.000 (none) to 1.000 (all, or no
 * free space at all).  Over the core's free blocks, as buddyinfo.
 */
static int unusable_index_show(struct seq_file *m, void *unused)
{
	unsigned int order, o, max_order = buddy_pool_max_order(&buddy.pool);
	u64 nr_free[BUDDY_POOL_MAX_ORDERS];
	u64 free_units = 0;

	/* One reading of the per-order figures, so the index is self-consistent. */
	for (o = 0; o <= max_order; o++) {
		nr_free[o] = buddy_pool_core_nr_free(&buddy.pool, o);
		free_units += nr_free[o] << o;
	}
	seq_puts(m, "# order unusable_index\n");
	for (order = 0; order <= max_order; order++) {
		u64 suitable = 0;
		unsigned int index = 1000;

		for (o = order; o <= max_order; o++)
			suitable += nr_free[o] << (o - order);
		if (free_units)
			index = div64_u64((free_units - (suitable << order)) * 1000,
					  free_units);
		seq_printf(m, "%u %u.%03u\n", order, index / 1000, index % 1000);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(unusable_index);

/*
 * Per possible CPU: its cached blocks per order and its cache's counters
 * (struct buddy_pool_cpu_stats), each CPU's line read under its cache lock.
 */
static int percpu_show(struct seq_file *m, void *unused)
{
	struct buddy_pool_cpu_stats st;
	unsigned int cpu, order;

	seq_printf(m, "# percpu_cache: %d\n",
		   buddy_pool_cache_enabled(&buddy.pool));
	seq_puts(m, "# cpu online");
	for (order = 0; order < BUDDY_POOL_PCP_ORDERS; order++)
		seq_printf(m, " cached_o%u", order);
	seq_puts(m, " hits frees refills drains drain_retries\n");
	for_each_possible_cpu(cpu) {
		buddy_pool_cpu_stats(&buddy.pool, cpu, &st);
		seq_printf(m, "%u %d", cpu, cpu_online(cpu));
		for (order = 0; order < BUDDY_POOL_PCP_ORDERS; order++)
			seq_printf(m, " %u", st.cached[order]);
		seq_printf(m, " %llu %llu %llu %llu %llu\n", st.hits, st.frees,
			   st.refills, st.drains, st.drain_retries);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(percpu);

/*
 * debugfs blocks: one line per live block, by file in opening order, then by
 * offset; then the exported blocks (buddy.exported), by offset.  The pool
 * may hold 2^32 units, so this is an iterator, never a buffer sized by the
 * pool.  buddy.files_lock is held from start to stop only, that is for one
 * buffer of output (seq_file copies to userspace after stop), and each
 * file's lock, or buddy.exported_lock, only while one block is looked up
 * and copied into the cursor, so files open and close and blocks come and
 * go between reads, and between lines: the cursor remembers a (file id,
 * unit index) or (exported, unit index) position, not pointers, and each
 * start finds the first block at or after it again.  A reading while the
 * pool changes is made of moments; a block that moved to a later file or
 * was exported may show twice, one freed in the meantime not at all, and
 * one in the middle of an EXPORT (taken, not yet disowned) not at all.
 */

/* Where a cursor is: in the files, in the exported blocks, past both. */
enum blocks_part {
	BLOCKS_FILES,
	BLOCKS_EXPORTED,
	BLOCKS_END,
};

/**
 * struct blocks_cursor - where a reading of debugfs blocks is
 * @pos: the seq_file position of the record at @part/@file_id/@index (0 is
 *       the header line)
 * @part: the files, or the exported blocks
 * @file_id: the file the record is in (struct buddy_file.id), in the files
 * @index: the record's block, in units
 * @bf: the file, valid from start to stop only (buddy.files_lock held)
 * @bytes: the record's block size, read under the file's lock, or
 *         buddy.exported_lock
 * @tgid: for an exported block, struct buddy_exported.tgid
 * @comm: for an exported block, struct buddy_exported.comm
 */
struct blocks_cursor {
	loff_t pos;
	enum blocks_part part;
	u64 file_id;
	unsigned long index;
	struct buddy_file *bf;
	u64 bytes;
	pid_t tgid;
	char comm[TASK_COMM_LEN];
};

/* No record left: later starts find nothing either. */
static bool blocks_at_end(struct blocks_cursor *cur)
{
	cur->part = BLOCKS_END;
	return false;
}

/* The first exported block from @index on. */
static bool blocks_find_exported(struct blocks_cursor *cur, unsigned long index)
{
	struct buddy_exported *exp;

	mutex_lock(&buddy.exported_lock);
	exp = xa_find(&buddy.exported, &index, ULONG_MAX, BUDDY_EXPORTED_OWNED);
	if (exp) {
		cur->bytes = block_bytes(exp->blk);
		cur->tgid = exp->tgid;
		memcpy(cur->comm, exp->comm, sizeof(cur->comm));
	}
	mutex_unlock(&buddy.exported_lock);
	if (!exp)
		return blocks_at_end(cur);
	cur->part = BLOCKS_EXPORTED;
	cur->index = index;
	return true;
}

/*
 * The first block of @bf from @index on, else of the files after it, else
 * the first exported block.
 */
static bool blocks_find_from(struct blocks_cursor *cur, struct buddy_file *bf,
			     unsigned long index)
{
	struct buddy_block *blk;

	lockdep_assert_held(&buddy.files_lock);
	list_for_each_entry_from(bf, &buddy.files, node) {
		mutex_lock(&bf->lock);
		blk = xa_find(&bf->blocks, &index, ULONG_MAX, XA_PRESENT);
		if (blk)
			cur->bytes = block_bytes(blk);
		mutex_unlock(&bf->lock);
		if (blk) {
			cur->part = BLOCKS_FILES;
			cur->bf = bf;
			cur->file_id = bf->id;
			cur->index = index;
			return true;
		}
		index = 0;
	}
	return blocks_find_exported(cur, 0);
}

/* The first block at or after @cur's position, after a relock. */
static bool blocks_refind(struct blocks_cursor *cur)
{
	struct buddy_file *bf;

	lockdep_assert_held(&buddy.files_lock);
	if (cur->part == BLOCKS_END)
		return false;
	if (cur->part == BLOCKS_EXPORTED)
		return blocks_find_exported(cur, cur->index);
	list_for_each_entry(bf, &buddy.files, node)
		if (bf->id >= cur->file_id)
			return blocks_find_from(cur, bf, bf->id == cur->file_id ?
						cur->index : 0);
	return blocks_find_exported(cur, 0);
}

/* The record after @cur's, whose file is still valid (no unlock since). */
static bool blocks_advance(struct blocks_cursor *cur)
{
	if (cur->part == BLOCKS_END)
		return false;
	if (cur->part == BLOCKS_EXPORTED)
		return cur->index == ULONG_MAX ? blocks_at_end(cur) :
		       blocks_find_exported(cur, cur->index + 1);
	if (cur->index == ULONG_MAX)
		return blocks_find_from(cur, list_next_entry(cur->bf, node), 0);
	return blocks_find_from(cur, cur->bf, cur->index + 1);
}

/* From the first record on. */
static bool blocks_rewind(struct blocks_cursor *cur)
{
	cur->part = BLOCKS_FILES;
	cur->file_id = 0;
	cur->index = 0;
	return blocks_refind(cur);
}

static void *blocks_start(struct seq_file *m, loff_t *pos)
{
	struct blocks_cursor *cur = m->private;
	loff_t n;

	mutex_lock(&buddy.files_lock);
	if (*pos == 0)
		return SEQ_START_TOKEN;
	if (*pos == cur->pos)
		return blocks_refind(cur) ? cur : NULL;
	/* Elsewhere (after an lseek, which seq_file replays): count again. */
	cur->pos = *pos;
	if (!blocks_rewind(cur))
		return NULL;
	for (n = 1; n < *pos; n++)
		if (!blocks_advance(cur))
			return NULL;
	return cur;
}

static void *blocks_next(struct seq_file *m, void *v, loff_t *pos)
{
	struct blocks_cursor *cur = m->private;
	bool found;

	if (v == SEQ_START_TOKEN)
		found = blocks_rewind(cur);
	else
		found = blocks_advance(cur);
	cur->pos = ++*pos;
	return found ? cur : NULL;
}

static void blocks_stop(struct seq_file *m, void *v)
{
	mutex_unlock(&buddy.files_lock);
}

/*
 * The owner columns of one block: the file's id, then its opener.  A block
 * exported as a DMA-BUF says "exported" in place of the file's id, then
 * the opener of the file it was exported from.
 */
static void blocks_show_owner(struct seq_file *m, const struct blocks_cursor *cur)
{
	const char *comm;

	if (cur->part == BLOCKS_EXPORTED) {
		seq_printf(m, "exported %d ", cur->tgid);
		comm = cur->comm;
	} else {
		seq_printf(m, "%llu %d ", cur->bf->id, cur->bf->tgid);
		comm = cur->bf->comm;
	}
	/* One printable ASCII word, whatever the process named itself. */
	seq_escape_str(m, comm, ESCAPE_OCTAL | ESCAPE_NAP | ESCAPE_APPEND, " \\");
}

static int blocks_show(struct seq_file *m, void *v)
{
	struct blocks_cursor *cur = v;

	if (v == SEQ_START_TOKEN) {
		seq_puts(m, "# offset size file tgid comm\n");
		return 0;
	}
	seq_printf(m, "%llu %llu ", (u64)cur->index << buddy.unit_shift,
		   cur->bytes);
	blocks_show_owner(m, cur);
	seq_putc(m, '\n');
	return 0;
}

static const struct seq_operations blocks_seq_ops = {
	.start = blocks_start,
	.next = blocks_next,
	.stop = blocks_stop,
	.show = blocks_show,
};

static int blocks_open(struct inode *inode, struct file *file)
{
	return seq_open_private(file, &blocks_seq_ops, sizeof(struct blocks_cursor));
}

static const struct file_operations blocks_fops = {
	.owner = THIS_MODULE,
	.open = blocks_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = seq_release_private,
};

/* The core= parameter's table entry, or NULL for a name it does not know. */
static const struct buddy_core_ops *__init core_by_name(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(buddy_cores); i++)
		if (sysfs_streq(name, buddy_cores[i]->name))
			return buddy_cores[i];
	return NULL;
}

static int __init buddy_check_params(void)
{
	buddy.core_ops = core_by_name(core);
	if (!buddy.core_ops) {
		pr_err("core=%s: must be bitmap or tree\n", core);
		return -EINVAL;
	}
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
	if (ilog2(pool_size / unit_size) > BUDDY_POOL_MAX_ORDER) {
		pr_err("pool_size/unit_size=%lu: above 2^%d units\n",
		       pool_size / unit_size, BUDDY_POOL_MAX_ORDER);
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
	if (!request_mem_region(base, pool_size, BUDDY_NAME)) {
		pr_err("phys_base=%pa pool_size=%lu: range already claimed\n",
		       &base, pool_size);
		return -EBUSY;
	}
	buddy.vaddr = memremap(base, pool_size, MEMREMAP_WB);
	if (!buddy.vaddr) {
		pr_err("phys_base=%pa pool_size=%lu: memremap failed\n", &base, pool_size);
		release_mem_region(base, pool_size);
		return -ENOMEM;
	}
	/* Whatever the firmware or a previous boot left there stays unseen. */
	memset(buddy.vaddr, 0, pool_size);
	buddy.pfn = PHYS_PFN(base);
	return 0;
}

static int __init pool_reserve(void)
{
	if (pool_phys_base)
		return pool_claim_reserved();

	/* Zeroed, so no earlier owner's bytes reach the pool's users. */
	buddy.page_order = pool_size > PAGE_SIZE ? ilog2(pool_size >> PAGE_SHIFT) : 0;
	buddy.pages = alloc_pages(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN,
				  buddy.page_order);
	if (!buddy.pages) {
		pr_err("cannot reserve %lu contiguous bytes (order %u)\n",
		       pool_size, buddy.page_order);
		return -ENOMEM;
	}
	buddy.vaddr = page_address(buddy.pages);
	buddy.pfn = page_to_pfn(buddy.pages);
	return 0;
}

static void pool_release(void)
{
	if (buddy.pages) {
		__free_pages(buddy.pages, buddy.page_order);
		return;
	}
	memunmap(buddy.vaddr);
	release_mem_region(pool_phys_base, pool_size);
}

static int __init buddy_init(void)
{
	unsigned int max_order;
	int ret;

	ret = buddy_check_params();
	if (ret)
		return ret;
	buddy.size = pool_size;
	buddy.unit_shift = ilog2(unit_size);
	max_order = ilog2(pool_size / unit_size);

	buddy.blocks = KMEM_CACHE(buddy_block, 0);
	buddy.stats = alloc_percpu(struct buddy_counters);
	if (!buddy.blocks || !buddy.stats) {
		pr_err("no memory for the block cache and the per-CPU counters\n");
		ret = -ENOMEM;
		goto free_caches;
	}
	/* It logs what failed. */
	ret = buddy_pool_init(&buddy.pool, buddy.core_ops, max_order,
			      READ_ONCE(percpu_cache));
	if (ret)
		goto free_caches;
	ret = pool_reserve();
	if (ret)
		goto destroy_pool;
	kernel_param_lock(THIS_MODULE);
	/* A write to percpu_cache before this point has only set the variable. */
	buddy_pool_set_cache(&buddy.pool, percpu_cache);
	buddy.ready = true;
	kernel_param_unlock(THIS_MODULE);

	buddy.debugfs = debugfs_create_dir(BUDDY_NAME, NULL);
	debugfs_create_file("stats", 0400, buddy.debugfs, NULL, &stats_fops);
	debugfs_create_file("buddyinfo", 0400, buddy.debugfs, NULL, &buddyinfo_fops);
	debugfs_create_file("unusable_index", 0400, buddy.debugfs, NULL,
			    &unusable_index_fops);
	debugfs_create_file("percpu", 0400, buddy.debugfs, NULL, &percpu_fops);
	debugfs_create_file("blocks", 0400, buddy.debugfs, NULL, &blocks_fops);

	buddy.misc.minor = MISC_DYNAMIC_MINOR;
	buddy.misc.name = BUDDY_NAME;
	buddy.misc.fops = &buddy_fops;
	buddy.misc.mode = 0600;
	ret = misc_register(&buddy.misc);
	if (ret) {
		pr_err("cannot register /dev/%s: %d\n", BUDDY_NAME, ret);
		goto remove_debugfs;
	}
	pr_info("%lu-byte pool of %lu-byte units (max_order %u), %s core%s, per-CPU caches %s\n",
		pool_size, unit_size, max_order, buddy.core_ops->name,
		pool_phys_base ? ", reserved at boot" : "",
		percpu_cache ? "on" : "off");
	return 0;

remove_debugfs:
	debugfs_remove_recursive(buddy.debugfs);
	kernel_param_lock(THIS_MODULE);
	buddy.ready = false;
	kernel_param_unlock(THIS_MODULE);
	pool_release();
destroy_pool:
	buddy_pool_destroy(&buddy.pool);
free_caches:
	free_percpu(buddy.stats);
	kmem_cache_destroy(buddy.blocks);
	return ret;
}
module_init(buddy_init);

/*
 * No file is open and no DMA-BUF lives (each pins the module), so every
 * block is free again.
 */
static void __exit buddy_exit(void)
{
	misc_deregister(&buddy.misc);
	debugfs_remove_recursive(buddy.debugfs);
	kernel_param_lock(THIS_MODULE);
	buddy.ready = false;
	kernel_param_unlock(THIS_MODULE);
	/* Drains every CPU's cache and warns unless every unit came back. */
	buddy_pool_destroy(&buddy.pool);
	WARN_ON_ONCE(!xa_empty(&buddy.exported));
	pool_release();
	free_percpu(buddy.stats);
	kmem_cache_destroy(buddy.blocks);
}
module_exit(buddy_exit);

MODULE_DESCRIPTION("Buddy allocator over a physically contiguous pool, at /dev/buddy");
MODULE_LICENSE("GPL");
/* modprobe buddy, where the kernel's built-in gpu_buddy holds the name. */
MODULE_ALIAS("buddy");
