// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_dmabuf: BUDDY_IOC_EXPORT, a block of the pool as a DMA-BUF that
 * devices and other processes can import.
 *
 * Ownership moves from the open file to the DMA-BUF: the device takes the
 * block out of the file's table (buddy_dmabuf.h) and frees it, zeroed, from
 * ->release, which the dma-buf core calls once the last file reference is
 * gone: every descriptor, every mmap (each VMA holds the file) and every
 * importer (each holds a reference from dma_buf_get() until it detaches).
 * The DMA-BUF pins this module (exp_info.owner is THIS_MODULE), so rmmod is
 * refused while one lives.
 *
 * Modelled on drivers/dma-buf/heaps/cma_heap.c: one sg_table per
 * attachment, of one entry, since the block is physically contiguous.  A
 * pool from alloc_pages() has struct pages and maps with dma_map_sgtable().
 * A pool at phys_base has none (memmap= ranges are outside the direct map),
 * so it maps with dma_map_resource() and the entry gets only its DMA
 * address and length, no page.  The DMA API keeps caches coherent through
 * the direct map, which such a pool is not in, so it is attached only to
 * coherent devices.
 *
 * Locking, as drivers/dma-buf/dma-buf.c's "locking convention" has it:
 * ->map_dma_buf and ->unmap_dma_buf run with the reservation lock held;
 * ->attach, ->detach, ->begin_cpu_access, ->end_cpu_access, ->mmap and
 * ->release without it.  buf->lock, a mutex nested inside the reservation
 * lock, guards the attachment list and each attachment's mapping.  The block
 * never changes while its DMA-BUF lives, so ->mmap and ->vmap need no lock.
 */
#define pr_fmt(fmt) "buddy: " fmt

#include <linux/dma-buf.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/iosys-map.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "buddy_dmabuf.h"

/* 6.13 and later spell it as a string, "DMA_BUF". */
MODULE_IMPORT_NS(DMA_BUF);

#define BUDDY_EXPORT_FD_FLAGS	(O_ACCMODE | O_CLOEXEC)

/**
 * struct buddy_dmabuf - the exporter's side of one exported block
 * @blk: the block, freed at release; NULL once an export was undone
 * @mem: where its memory is
 * @lock: guards @attachments and each one's mapping
 * @attachments: struct buddy_dmabuf_attachment, one per importing device
 */
struct buddy_dmabuf {
	struct buddy_block *blk;
	struct buddy_block_mem mem;
	struct mutex lock;	/* @attachments and their mappings */
	struct list_head attachments;
};

/**
 * struct buddy_dmabuf_attachment - one importing device
 * @dev: the device
 * @table: the block as one entry, mapped for @dev while @mapped
 * @node: in buddy_dmabuf.attachments
 * @dir: the direction it is mapped for
 * @mapped: @table is mapped
 */
struct buddy_dmabuf_attachment {
	struct device *dev;
	struct sg_table table;
	struct list_head node;
	enum dma_data_direction dir;
	bool mapped;
};

static int buddy_dmabuf_attach(struct dma_buf *dmabuf,
			       struct dma_buf_attachment *attach)
{
	struct buddy_dmabuf *buf = dmabuf->priv;
	struct buddy_dmabuf_attachment *a;
	int ret;

	/* No cache maintenance reaches memory outside the direct map. */
	if (!buf->mem.page && !dev_is_dma_coherent(attach->dev))
		return -EOPNOTSUPP;
	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	ret = sg_alloc_table(&a->table, 1, GFP_KERNEL);
	if (ret) {
		kfree(a);
		return ret;
	}
	/* Without a page, ->map_dma_buf fills in the DMA address alone. */
	if (buf->mem.page)
		sg_set_page(a->table.sgl, buf->mem.page, buf->mem.size, 0);
	a->dev = attach->dev;
	attach->priv = a;

	mutex_lock(&buf->lock);
	list_add(&a->node, &buf->attachments);
	mutex_unlock(&buf->lock);
	return 0;
}

static void buddy_dmabuf_detach(struct dma_buf *dmabuf,
				struct dma_buf_attachment *attach)
{
	struct buddy_dmabuf *buf = dmabuf->priv;
	struct buddy_dmabuf_attachment *a = attach->priv;

	mutex_lock(&buf->lock);
	list_del(&a->node);
	mutex_unlock(&buf->lock);
	sg_free_table(&a->table);
	kfree(a);
}

static struct sg_table *buddy_dmabuf_map(struct dma_buf_attachment *attach,
					 enum dma_data_direction dir)
{
	struct buddy_dmabuf *buf = attach->dmabuf->priv;
	struct buddy_dmabuf_attachment *a = attach->priv;
	struct sg_table *table = &a->table;
	dma_addr_t addr;
	int ret = 0;

	mutex_lock(&buf->lock);
	/* The attachment's one table is what a mapping hands out. */
	if (a->mapped) {
		ret = -EBUSY;
	} else if (buf->mem.page) {
		ret = dma_map_sgtable(a->dev, table, dir, 0);
	} else {
		addr = dma_map_resource(a->dev, buf->mem.phys, buf->mem.size,
					dir, 0);
		if (dma_mapping_error(a->dev, addr)) {
			ret = -ENOMEM;
		} else {
			sg_dma_address(table->sgl) = addr;
			sg_dma_len(table->sgl) = buf->mem.size;
			table->nents = 1;
		}
	}
	if (!ret) {
		a->dir = dir;
		a->mapped = true;
	}
	mutex_unlock(&buf->lock);
	return ret ? ERR_PTR(ret) : table;
}

static void buddy_dmabuf_unmap(struct dma_buf_attachment *attach,
			       struct sg_table *table,
			       enum dma_data_direction dir)
{
	struct buddy_dmabuf *buf = attach->dmabuf->priv;
	struct buddy_dmabuf_attachment *a = attach->priv;

	mutex_lock(&buf->lock);
	a->mapped = false;
	if (buf->mem.page)
		dma_unmap_sgtable(a->dev, table, dir, 0);
	else
		dma_unmap_resource(a->dev, sg_dma_address(table->sgl),
				   buf->mem.size, dir, 0);
	mutex_unlock(&buf->lock);
}

/*
 * Each mapped attachment synced in the direction it was mapped for, as the
 * DMA API requires.  A pool without pages has only coherent devices
 * attached (see ->attach), for which the sync finds nothing to do.
 */
static void buddy_dmabuf_sync(struct buddy_dmabuf *buf, bool for_cpu)
{
	struct buddy_dmabuf_attachment *a;

	mutex_lock(&buf->lock);
	list_for_each_entry(a, &buf->attachments, node) {
		dma_addr_t addr = sg_dma_address(a->table.sgl);

		if (!a->mapped)
			continue;
		if (buf->mem.page && for_cpu)
			dma_sync_sgtable_for_cpu(a->dev, &a->table, a->dir);
		else if (buf->mem.page)
			dma_sync_sgtable_for_device(a->dev, &a->table, a->dir);
		else if (for_cpu)
			dma_sync_single_for_cpu(a->dev, addr, buf->mem.size, a->dir);
		else
			dma_sync_single_for_device(a->dev, addr, buf->mem.size,
						   a->dir);
	}
	mutex_unlock(&buf->lock);
}

static int buddy_dmabuf_begin_cpu_access(struct dma_buf *dmabuf,
					 enum dma_data_direction dir)
{
	buddy_dmabuf_sync(dmabuf->priv, true);
	return 0;
}

static int buddy_dmabuf_end_cpu_access(struct dma_buf *dmabuf,
				       enum dma_data_direction dir)
{
	buddy_dmabuf_sync(dmabuf->priv, false);
	return 0;
}

/*
 * Shared mappings only, as for /dev/buddy: a private one would give the
 * caller copy-on-write pages outside the pool.  VM_MAYSHARE, not
 * VM_SHARED, which the kernel clears for a descriptor opened read-only
 * (whose PROT_WRITE mappings it refuses with -EACCES before we are asked).
 * remap_pfn_range() marks the VMA VM_DONTEXPAND: mremap() cannot grow it.
 */
static int buddy_dmabuf_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	struct buddy_dmabuf *buf = dmabuf->priv;
	unsigned long pages = buf->mem.size >> PAGE_SHIFT;

	/* The core checks the length too; this callback does not rely on it. */
	if (!(vma->vm_flags & VM_MAYSHARE) || vma->vm_pgoff >= pages ||
	    vma_pages(vma) > pages - vma->vm_pgoff)
		return -EINVAL;
	return remap_pfn_range(vma, vma->vm_start,
			       PHYS_PFN(buf->mem.phys) + vma->vm_pgoff,
			       vma->vm_end - vma->vm_start, vma->vm_page_prot);
}

/*
 * The pool's own kernel mapping: the direct map, or the memremap() of a
 * pool at phys_base (never page_address() there).  It lives as long as the
 * module, which the DMA-BUF pins, so there is no ->vunmap to do anything.
 */
static int buddy_dmabuf_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct buddy_dmabuf *buf = dmabuf->priv;

	iosys_map_set_vaddr(map, buf->mem.vaddr);
	return 0;
}

static void buddy_dmabuf_release(struct dma_buf *dmabuf)
{
	struct buddy_dmabuf *buf = dmabuf->priv;

	if (buf->blk)
		buddy_free_block_zeroed(buf->blk);
	mutex_destroy(&buf->lock);
	kfree(buf);
}

static const struct dma_buf_ops buddy_dmabuf_ops = {
	.attach = buddy_dmabuf_attach,
	.detach = buddy_dmabuf_detach,
	.map_dma_buf = buddy_dmabuf_map,
	.unmap_dma_buf = buddy_dmabuf_unmap,
	.begin_cpu_access = buddy_dmabuf_begin_cpu_access,
	.end_cpu_access = buddy_dmabuf_end_cpu_access,
	.mmap = buddy_dmabuf_mmap,
	.vmap = buddy_dmabuf_vmap,
	.release = buddy_dmabuf_release,
};

static bool export_flags_valid(const struct buddy_export *req)
{
	u32 access = req->fd_flags & O_ACCMODE;

	return !req->flags && !(req->fd_flags & ~BUDDY_EXPORT_FD_FLAGS) &&
	       (access == O_RDONLY || access == O_RDWR);
}

/**
 * buddy_dmabuf_export() - BUDDY_IOC_EXPORT: make a block of @bf a DMA-BUF
 * @bf: the open file that owns the block
 * @data: a struct buddy_export_call
 *
 * Takes the block, makes its DMA-BUF and reserves a descriptor, but leaves
 * the block in its file's reserved slot and the descriptor uninstalled:
 * buddy_dmabuf_export_complete() commits or undoes, once the dispatcher
 * knows whether the result reached the caller.  Nothing that can fail comes
 * after that point.
 *
 * Return: 0, or -EINVAL, -EACCES, -EBUSY, -EMFILE, -ENOMEM
 * (include/uapi/linux/buddy.h); on error nothing has changed.
 */
int buddy_dmabuf_export(struct buddy_file *bf, void *data)
{
	struct buddy_export_call *call = data;
	struct buddy_export *req = &call->req;
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct buddy_dmabuf *buf;
	struct dma_buf *dmabuf;
	int fd, ret;

	if (!export_flags_valid(req))
		return -EINVAL;
	/* As for a shared mapping through /dev/buddy. */
	if ((req->fd_flags & O_ACCMODE) == O_RDWR && !buddy_file_writable(bf))
		return -EACCES;
	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	mutex_init(&buf->lock);
	INIT_LIST_HEAD(&buf->attachments);
	fd = get_unused_fd_flags(req->fd_flags & O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto free_buf;
	}
	ret = buddy_file_take_block(bf, req->offset, &buf->blk, &buf->mem);
	if (ret)
		goto put_fd;
	/*
	 * Whole pages only: a smaller block, or the last page of an EXACT
	 * one, shares its page with other blocks, which mmap and an IOMMU
	 * would expose.  One sg entry holds less than 4 GiB.
	 */
	if (buf->mem.size < PAGE_SIZE || !PAGE_ALIGNED(buf->mem.size) ||
	    buf->mem.size > UINT_MAX) {
		ret = -EINVAL;
		goto return_block;
	}

	exp_info.exp_name = "buddy";
	exp_info.ops = &buddy_dmabuf_ops;
	exp_info.size = buf->mem.size;
	exp_info.flags = req->fd_flags;
	exp_info.priv = buf;
	dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto return_block;
	}
	call->dmabuf = dmabuf;
	req->fd = fd;
	return 0;

return_block:
	buddy_file_return_block(bf, buf->blk);
put_fd:
	put_unused_fd(fd);
free_buf:
	mutex_destroy(&buf->lock);
	kfree(buf);
	return ret;
}

/**
 * buddy_dmabuf_export_complete() - commit or undo a BUDDY_IOC_EXPORT
 * @bf: the open file the block was taken from
 * @data: the struct buddy_export_call buddy_dmabuf_export() filled in
 * @delivered: the result reached the caller
 *
 * Delivered: the file gives the block up, the DMA-BUF owns it, and the
 * descriptor is installed last, since from then on another thread can
 * close it and release the block.  Not delivered: the block goes back to
 * the file and the DMA-BUF is dropped without it.
 */
void buddy_dmabuf_export_complete(struct buddy_file *bf, void *data,
				  bool delivered)
{
	struct buddy_export_call *call = data;
	struct dma_buf *dmabuf = call->dmabuf;
	struct buddy_dmabuf *buf = dmabuf->priv;

	if (delivered) {
		buddy_file_disown_block(bf, buf->blk);
		fd_install(call->req.fd, dmabuf->file);
		return;
	}
	buddy_file_return_block(bf, buf->blk);
	buf->blk = NULL;
	put_unused_fd(call->req.fd);
	dma_buf_put(dmabuf);
}
