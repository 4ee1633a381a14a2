// SPDX-License-Identifier: GPL-2.0
/*
 * buddy_dmabuf_importer: a test importer of DMA-BUFs, for what no driver a
 * test can reach from userspace does with buddy's exports: the kernel
 * mapping (->vmap) and kernel CPU access (dma_buf_begin_cpu_access()), next
 * to an attachment of its own device and that attachment's scatterlist.
 *
 * Writing a descriptor number to /sys/kernel/debug/buddy_dmabuf_importer
 * imports that DMA-BUF of the writing process: attach to this module's
 * platform device (64-bit DMA mask, as vgem's), map the attachment, vmap,
 * begin CPU access, sum every 64-bit word, store the sum's complement in
 * the first word, end CPU access, and undo everything.  Reading the file
 * gives the last import's result, one line:
 *
 *   size S nents N dma_len L dma_aligned A sum X
 *
 * or "error E" (a negative errno) if a step failed.  The test (e2e_dmabuf)
 * compares the sum with the pattern it wrote and finds the marker through
 * its own mapping.
 *
 * Mapping and vmap run under the reservation lock, as importers must since
 * 6.2 (and may on 6.1, whose core does not take it there), so the
 * exporter's callbacks see the locking they are written for.
 */
#include <linux/debugfs.h>
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/iosys-map.h>
#include <linux/kstrtox.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>

MODULE_IMPORT_NS(DMA_BUF);

static struct platform_device *importer_pdev;
static struct dentry *importer_file;
static DEFINE_MUTEX(importer_lock);	/* the result below */
static char importer_result[160] = "none\n";

/* Sum the buffer's words through its kernel mapping; mark the first. */
static int importer_cpu_pass(struct dma_buf *dmabuf, u64 *sum)
{
	struct iosys_map map;
	size_t i, n = dmabuf->size / sizeof(u64);
	u64 *words;
	int ret;

	dma_resv_lock(dmabuf->resv, NULL);
	ret = dma_buf_vmap(dmabuf, &map);
	dma_resv_unlock(dmabuf->resv);
	if (ret)
		return ret;
	if (map.is_iomem) {
		ret = -EOPNOTSUPP;
		goto vunmap;
	}
	words = map.vaddr;
	ret = dma_buf_begin_cpu_access(dmabuf, DMA_BIDIRECTIONAL);
	if (ret)
		goto vunmap;
	*sum = 0;
	for (i = 0; i < n; i++)
		*sum += words[i];
	words[0] = ~*sum;
	ret = dma_buf_end_cpu_access(dmabuf, DMA_BIDIRECTIONAL);
vunmap:
	dma_resv_lock(dmabuf->resv, NULL);
	dma_buf_vunmap(dmabuf, &map);
	dma_resv_unlock(dmabuf->resv);
	return ret;
}

static int importer_import(int fd, char *out, size_t len)
{
	struct dma_buf_attachment *attach;
	struct dma_buf *dmabuf;
	struct sg_table *sgt;
	dma_addr_t addr;
	unsigned int dma_len;
	u64 sum = 0;
	int ret;

	dmabuf = dma_buf_get(fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	attach = dma_buf_attach(dmabuf, &importer_pdev->dev);
	if (IS_ERR(attach)) {
		ret = PTR_ERR(attach);
		goto put;
	}
	dma_resv_lock(dmabuf->resv, NULL);
	sgt = dma_buf_map_attachment(attach, DMA_BIDIRECTIONAL);
	dma_resv_unlock(dmabuf->resv);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto detach;
	}
	addr = sg_dma_address(sgt->sgl);
	dma_len = sg_dma_len(sgt->sgl);
	ret = importer_cpu_pass(dmabuf, &sum);
	if (!ret)
		snprintf(out, len, "size %zu nents %u dma_len %u dma_aligned %d sum %llu\n",
			 dmabuf->size, sgt->nents, dma_len,
			 IS_ALIGNED(addr, PAGE_SIZE), sum);
	dma_resv_lock(dmabuf->resv, NULL);
	dma_buf_unmap_attachment(attach, sgt, DMA_BIDIRECTIONAL);
	dma_resv_unlock(dmabuf->resv);
detach:
	dma_buf_detach(dmabuf, attach);
put:
	dma_buf_put(dmabuf);
	return ret;
}

static ssize_t importer_write(struct file *file, const char __user *ubuf,
			      size_t count, loff_t *ppos)
{
	char result[sizeof(importer_result)];
	int fd, ret;

	ret = kstrtoint_from_user(ubuf, count, 10, &fd);
	if (ret)
		return ret;
	ret = importer_import(fd, result, sizeof(result));
	if (ret)
		snprintf(result, sizeof(result), "error %d\n", ret);
	mutex_lock(&importer_lock);
	strscpy(importer_result, result, sizeof(importer_result));
	mutex_unlock(&importer_lock);
	return ret ? ret : count;
}

static int importer_show(struct seq_file *m, void *unused)
{
	mutex_lock(&importer_lock);
	seq_puts(m, importer_result);
	mutex_unlock(&importer_lock);
	return 0;
}

static int importer_open(struct inode *inode, struct file *file)
{
	return single_open(file, importer_show, NULL);
}

static const struct file_operations importer_fops = {
	.owner = THIS_MODULE,
	.open = importer_open,
	.read = seq_read,
	.write = importer_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static int __init importer_init(void)
{
	int ret;

	importer_pdev = platform_device_register_simple(KBUILD_MODNAME, -1, NULL, 0);
	if (IS_ERR(importer_pdev))
		return PTR_ERR(importer_pdev);
	ret = dma_coerce_mask_and_coherent(&importer_pdev->dev, DMA_BIT_MASK(64));
	if (ret) {
		platform_device_unregister(importer_pdev);
		return ret;
	}
	importer_file = debugfs_create_file(KBUILD_MODNAME, 0600, NULL, NULL,
					    &importer_fops);
	return 0;
}
module_init(importer_init);

static void __exit importer_exit(void)
{
	debugfs_remove(importer_file);
	platform_device_unregister(importer_pdev);
}
module_exit(importer_exit);

MODULE_DESCRIPTION("Test importer of DMA-BUFs: vmap and kernel CPU access (buddy's tests)");
MODULE_LICENSE("GPL");
