/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The boundary between /dev/buddy (buddy_mod.c) and its DMA-BUF exporter
 * (buddy_dmabuf.c).
 *
 * The exporter knows nothing of file tables, the device's locks or the
 * pool; the device knows nothing of dma_buf.  The device lends a block out
 * of an open file's table and frees it, zeroed, once the exporter says that
 * the last reference to its DMA-BUF is gone; meanwhile it lists the block
 * in debugfs blocks as "exported" and counts it in debugfs stats.  A take
 * is two-phase, so that a failed BUDDY_IOC_EXPORT changes nothing: until
 * the exporter disowns or returns the block, the file's table holds a
 * reserved slot for it (putting it back allocates nothing and cannot fail;
 * the take does every allocation), and FREE, mmap and EXPORT of its offset
 * fail with -EINVAL.
 */
#ifndef _BUDDY_DMABUF_H
#define _BUDDY_DMABUF_H

#include <linux/types.h>
#include <linux/buddy.h>

struct buddy_block;
struct buddy_file;
struct dma_buf;
struct page;

/**
 * struct buddy_block_mem - where a taken block's memory is
 * @offset: bytes from the pool's start
 * @size: bytes in the block
 * @phys: physical address of its first byte
 * @vaddr: the pool's kernel mapping of it, valid while the module is loaded
 * @page: its first page, or NULL when the pool has no struct pages (a pool
 *        at phys_base: memmap= ranges are outside the direct map)
 */
struct buddy_block_mem {
	u64 offset;
	u64 size;
	phys_addr_t phys;
	void *vaddr;
	struct page *page;
};

/* The device's side, in buddy_mod.c. */
bool buddy_file_writable(const struct buddy_file *bf);
int buddy_file_take_block(struct buddy_file *bf, u64 offset,
			  struct buddy_block **blkp, struct buddy_block_mem *mem);
void buddy_file_return_block(struct buddy_file *bf, struct buddy_block *blk);
void buddy_file_disown_block(struct buddy_file *bf, struct buddy_block *blk);
void buddy_free_block_zeroed(struct buddy_block *blk);

/**
 * struct buddy_export_call - BUDDY_IOC_EXPORT's argument in the kernel
 * @req: the caller's struct; the dispatcher copies only this in and out
 * @dmabuf: the DMA-BUF made, for buddy_dmabuf_export_complete()
 */
struct buddy_export_call {
	struct buddy_export req;
	struct dma_buf *dmabuf;
};

/* The exporter's side, in buddy_dmabuf.c. */
int buddy_dmabuf_export(struct buddy_file *bf, void *data);
void buddy_dmabuf_export_complete(struct buddy_file *bf, void *data,
				  bool delivered);

#endif /* _BUDDY_DMABUF_H */
