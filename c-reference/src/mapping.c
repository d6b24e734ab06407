// SPDX-License-Identifier: GPL-2.0-only
/*
 * kernel/dma/mapping.c (v6.16): the streaming single-mapping front end.
 * A device is dma-direct or behind a dma-iommu DMA domain (no dma_map_ops, no
 * powerpc arch_dma_map_page_direct); the ops branches are kept, as comments,
 * so the order stays reviewable.
 */
#include "direct.h"
#include "dma-iommu.h"
#include "trace-dma.h"

/* models dma_go_direct() */
static bool dma_go_direct(struct device *dev, dma_addr_t mask,
		const struct dma_map_ops *ops)
{
	if (use_dma_iommu(dev))
		return false;

	if (likely(!ops))
		return true;
	/* CONFIG_DMA_OPS_BYPASS (dev->dma_ops_bypass) is not set on arm64 */
	return false;
}

/* models dma_map_direct() */
static inline bool dma_map_direct(struct device *dev,
		const struct dma_map_ops *ops)
{
	/* *dev->dma_mask is a dead load with ops NULL: maskless unmap/sync don't fault */
	return dma_go_direct(dev, dev->dma_mask ? *dev->dma_mask : 0, ops);
}

/* models dma_map_page_attrs() */
dma_addr_t dma_map_page_attrs(struct device *dev, struct page *page,
		size_t offset, size_t size, enum dma_data_direction dir,
		unsigned long attrs)
{
	const struct dma_map_ops *ops = get_dma_ops(dev);
	dma_addr_t addr;

	BUG_ON(dev, !valid_dma_direction(dir));

	if (WARN_ON_ONCE(dev, !dev->dma_mask))
		return DMA_MAPPING_ERROR;

	if (dma_map_direct(dev, ops) ||
	    arch_dma_map_page_direct(dev, page_to_phys(page) + offset + size))
		addr = dma_direct_map_page(dev, page, offset, size, dir, attrs);
	else if (use_dma_iommu(dev))
		addr = iommu_dma_map_page(dev, page, offset, size, dir, attrs);
	else
		addr = DMA_MAPPING_ERROR;	/* ops->map_page(): unreachable */
	/* kmsan_handle_dma(page, offset, size, dir): kmsan not modelled */
	trace_dma_map_page(dev, page_to_phys(page) + offset, addr, size, dir,
			   attrs);
	/* debug_dma_map_page(dev, page, offset, size, dir, addr, attrs): dma-debug not modelled yet */

	return addr;
}

/* models dma_unmap_page_attrs() */
void dma_unmap_page_attrs(struct device *dev, dma_addr_t addr, size_t size,
		enum dma_data_direction dir, unsigned long attrs)
{
	const struct dma_map_ops *ops = get_dma_ops(dev);

	BUG_ON(dev, !valid_dma_direction(dir));
	if (dma_map_direct(dev, ops) ||
	    arch_dma_unmap_page_direct(dev, addr + size))
		dma_direct_unmap_page(dev, addr, size, dir, attrs);
	else if (use_dma_iommu(dev))
		iommu_dma_unmap_page(dev, addr, size, dir, attrs);
	else
		{ /* ops->unmap_page(): unreachable */ }
	trace_dma_unmap_page(dev, addr, size, dir, attrs);
	/* debug_dma_unmap_page(dev, addr, size, dir): dma-debug not modelled yet */
}

/* models dma_map_resource(): no kmsan, no arch_dma_map_page_direct, no pfn_valid check */
dma_addr_t dma_map_resource(struct device *dev, phys_addr_t phys_addr,
		size_t size, enum dma_data_direction dir, unsigned long attrs)
{
	const struct dma_map_ops *ops = get_dma_ops(dev);
	dma_addr_t addr = DMA_MAPPING_ERROR;

	BUG_ON(dev, !valid_dma_direction(dir));

	if (WARN_ON_ONCE(dev, !dev->dma_mask))
		return DMA_MAPPING_ERROR;

	if (dma_map_direct(dev, ops))
		addr = dma_direct_map_resource(dev, phys_addr, size, dir, attrs);
	else if (use_dma_iommu(dev))
		addr = iommu_dma_map_resource(dev, phys_addr, size, dir, attrs);
	/* else if (ops->map_resource) addr = ops->map_resource(...): unreachable */

	trace_dma_map_resource(dev, phys_addr, addr, size, dir, attrs);
	/* debug_dma_map_resource(dev, phys_addr, size, dir, addr, attrs): dma-debug not modelled yet */
	return addr;
}

/* models dma_unmap_resource() */
void dma_unmap_resource(struct device *dev, dma_addr_t addr, size_t size,
		enum dma_data_direction dir, unsigned long attrs)
{
	const struct dma_map_ops *ops = get_dma_ops(dev);

	BUG_ON(dev, !valid_dma_direction(dir));
	if (dma_map_direct(dev, ops))
		; /* nothing to do: uncached and no swiotlb */
	else if (use_dma_iommu(dev))
		iommu_dma_unmap_resource(dev, addr, size, dir, attrs);
	/* else if (ops->unmap_resource) ops->unmap_resource(...): unreachable */
	trace_dma_unmap_resource(dev, addr, size, dir, attrs);
	/* debug_dma_unmap_resource(dev, addr, size, dir): dma-debug not modelled yet */
}

/* models __dma_sync_single_for_cpu() */
void __dma_sync_single_for_cpu(struct device *dev, dma_addr_t addr,
		size_t size, enum dma_data_direction dir)
{
	const struct dma_map_ops *ops = get_dma_ops(dev);

	BUG_ON(dev, !valid_dma_direction(dir));
	if (dma_map_direct(dev, ops))
		dma_direct_sync_single_for_cpu(dev, addr, size, dir);
	else if (use_dma_iommu(dev))
		iommu_dma_sync_single_for_cpu(dev, addr, size, dir);
	/* else if (ops->sync_single_for_cpu) ...: unreachable */
	trace_dma_sync_single_for_cpu(dev, addr, size, dir);
	/* debug_dma_sync_single_for_cpu(dev, addr, size, dir): dma-debug not modelled yet */
}

/* models __dma_sync_single_for_device() */
void __dma_sync_single_for_device(struct device *dev, dma_addr_t addr,
		size_t size, enum dma_data_direction dir)
{
	const struct dma_map_ops *ops = get_dma_ops(dev);

	BUG_ON(dev, !valid_dma_direction(dir));
	if (dma_map_direct(dev, ops))
		dma_direct_sync_single_for_device(dev, addr, size, dir);
	else if (use_dma_iommu(dev))
		iommu_dma_sync_single_for_device(dev, addr, size, dir);
	/* else if (ops->sync_single_for_device) ...: unreachable */
	trace_dma_sync_single_for_device(dev, addr, size, dir);
	/* debug_dma_sync_single_for_device(dev, addr, size, dir): dma-debug not modelled yet */
}

/*
 * models dma_max_mapping_size(); the harness asks only for devices behind a DMA domain,
 * as dma_direct_max_mapping_size() needs dma_addressing_limited() and memblock, unmodelled.
 */
size_t dma_max_mapping_size(struct device *dev)
{
	const struct dma_map_ops *ops = get_dma_ops(dev);
	size_t size = SIZE_MAX;

	if (dma_map_direct(dev, ops))
		size = SIZE_MAX;	/* dma_direct_max_mapping_size(): not modelled */
	else if (use_dma_iommu(dev))
		size = iommu_dma_max_mapping_size(dev);
	/* else if (ops && ops->max_mapping_size): unreachable */

	return size;
}

/* models dma_opt_mapping_size() */
size_t dma_opt_mapping_size(struct device *dev)
{
	size_t size = SIZE_MAX;

	if (use_dma_iommu(dev))
		size = iommu_dma_opt_mapping_size();
	/* else if (ops && ops->opt_mapping_size): unreachable */

	return size < dma_max_mapping_size(dev) ? size : dma_max_mapping_size(dev);
}

/* ---- scatterlists ---- */
#include "scatterlist.h"

/* CONFIG_ARCH_HAS_DMA_MAP_DIRECT is powerpc only */
#define arch_dma_map_sg_direct(d, s, n)		(false)
#define arch_dma_unmap_sg_direct(d, s, n)	(false)

/*
 * models __dma_map_sg_attrs(); trace order per "dma-mapping: trace more error paths"
 * (v6.12): dma_map_sg_err fires only beside the WARN, with the raw ents, never for the
 * four accepted errnos.
 */
static int __dma_map_sg_attrs(struct device *dev, struct scatterlist *sg,
		int nents, enum dma_data_direction dir, unsigned long attrs)
{
	const struct dma_map_ops *ops = get_dma_ops(dev);
	int ents;

	BUG_ON(dev, !valid_dma_direction(dir));

	if (WARN_ON_ONCE(dev, !dev->dma_mask))
		return 0;

	if (dma_map_direct(dev, ops) ||
	    arch_dma_map_sg_direct(dev, sg, nents))
		ents = dma_direct_map_sg(dev, sg, nents, dir, attrs);
	else if (use_dma_iommu(dev))
		ents = iommu_dma_map_sg(dev, sg, nents, dir, attrs);
	else
		ents = -EIO;	/* ops->map_sg(): unreachable */

	if (ents > 0) {
		/* kmsan_handle_dma_sg(sg, nents, dir): kmsan not modelled */
		trace_dma_map_sg(dev, sg, nents, ents, dir, attrs);
		/* debug_dma_map_sg(dev, sg, nents, ents, dir, attrs): dma-debug not modelled yet */
	} else if (WARN_ON_ONCE(dev, ents != -EINVAL && ents != -ENOMEM &&
				ents != -EIO && ents != -EREMOTEIO)) {
		trace_dma_map_sg_err(dev, sg, nents, ents, dir, attrs);
		return -EIO;
	}

	return ents;
}

/* models dma_map_sg_attrs(): every failure is 0 */
unsigned int dma_map_sg_attrs(struct device *dev, struct scatterlist *sg,
		int nents, enum dma_data_direction dir, unsigned long attrs)
{
	int ret = __dma_map_sg_attrs(dev, sg, nents, dir, attrs);

	return ret < 0 ? 0 : (unsigned int)ret;
}

/* models dma_map_sgtable(): the NULL dma_mask 0 reads as success with nents = 0 */
int dma_map_sgtable(struct device *dev, struct sg_table *sgt,
		enum dma_data_direction dir, unsigned long attrs)
{
	int nents = __dma_map_sg_attrs(dev, sgt->sgl, (int)sgt->orig_nents,
				       dir, attrs);

	if (nents < 0)
		return nents;
	sgt->nents = (unsigned int)nents;
	return 0;
}

/* models dma_unmap_sg_attrs(): trace (and debug) run before the unmap, unlike the page path */
void dma_unmap_sg_attrs(struct device *dev, struct scatterlist *sg,
		int nents, enum dma_data_direction dir, unsigned long attrs)
{
	const struct dma_map_ops *ops = get_dma_ops(dev);

	BUG_ON(dev, !valid_dma_direction(dir));
	trace_dma_unmap_sg(dev, sg, nents, dir, attrs);
	/* debug_dma_unmap_sg(dev, sg, nents, dir): dma-debug not modelled yet */
	if (dma_map_direct(dev, ops) ||
	    arch_dma_unmap_sg_direct(dev, sg, nents))
		dma_direct_unmap_sg(dev, sg, nents, dir, attrs);
	else if (use_dma_iommu(dev))
		iommu_dma_unmap_sg(dev, sg, nents, dir, attrs);
	/* else if (ops->unmap_sg) ops->unmap_sg(...): unreachable */
}

/* models __dma_sync_sg_for_cpu() */
void __dma_sync_sg_for_cpu(struct device *dev, struct scatterlist *sg,
		int nelems, enum dma_data_direction dir)
{
	const struct dma_map_ops *ops = get_dma_ops(dev);

	BUG_ON(dev, !valid_dma_direction(dir));
	if (dma_map_direct(dev, ops))
		dma_direct_sync_sg_for_cpu(dev, sg, nelems, dir);
	else if (use_dma_iommu(dev))
		iommu_dma_sync_sg_for_cpu(dev, sg, nelems, dir);
	/* else if (ops->sync_sg_for_cpu) ...: unreachable */
	trace_dma_sync_sg_for_cpu(dev, sg, nelems, dir);
	/* debug_dma_sync_sg_for_cpu(dev, sg, nelems, dir): dma-debug not modelled yet */
}

/* models __dma_sync_sg_for_device() */
void __dma_sync_sg_for_device(struct device *dev, struct scatterlist *sg,
		int nelems, enum dma_data_direction dir)
{
	const struct dma_map_ops *ops = get_dma_ops(dev);

	BUG_ON(dev, !valid_dma_direction(dir));
	if (dma_map_direct(dev, ops))
		dma_direct_sync_sg_for_device(dev, sg, nelems, dir);
	else if (use_dma_iommu(dev))
		iommu_dma_sync_sg_for_device(dev, sg, nelems, dir);
	/* else if (ops->sync_sg_for_device) ...: unreachable */
	trace_dma_sync_sg_for_device(dev, sg, nelems, dir);
	/* debug_dma_sync_sg_for_device(dev, sg, nelems, dir): dma-debug not modelled yet */
}
