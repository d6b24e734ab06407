/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * include/linux/dma-map-ops.h (v6.16): the dispatch predicates, coherence,
 * the kmalloc bounce heuristic and the arch cache hooks.
 */
#ifndef DMADIFF_DMA_MAP_OPS_H
#define DMADIFF_DMA_MAP_OPS_H

#include "dma-mapping.h"
#include "slab.h"

/* Only the name: no dma_map_ops device is modelled, so get_dma_ops() is NULL. */
struct dma_map_ops;

/* models get_dma_ops(): dma-direct device, no ops (dma-iommu is called directly) */
static inline const struct dma_map_ops *get_dma_ops(struct device *dev)
{
	return NULL;
}

/* models use_dma_iommu(): dev->dma_iommu, set by iommu_setup_dma_ops() */
static inline bool use_dma_iommu(struct device *dev)
{
	return dev->dma_iommu;
}

/* CONFIG_ARCH_HAS_DMA_MAP_DIRECT is powerpc only */
#define arch_dma_map_page_direct(d, a)		(false)
#define arch_dma_unmap_page_direct(d, a)	(false)

/* models dev_is_dma_coherent(): arm64 has ARCH_HAS_SYNC_DMA_FOR_{DEVICE,CPU} */
static inline bool dev_is_dma_coherent(struct device *dev)
{
	return dev->dma_coherent;
}

/* models dma_reset_need_sync(): the first swiotlb mapping re-enables the sync calls */
static inline void dma_reset_need_sync(struct device *dev)
{
	/* Reset it only once so that the function can be called on hotpath */
	if (unlikely(dev->dma_skip_sync))
		dev->dma_skip_sync = false;
}

/* models dma_kmalloc_safe() */
static inline bool dma_kmalloc_safe(struct device *dev,
				    enum dma_data_direction dir)
{
	/* Without bouncing, the kmalloc() caches are already DMA-safe. */
	if (!dev->kconfig.dma_bounce_unaligned_kmalloc)
		return true;

	/* Coherent, or DMA_TO_DEVICE: cache maintenance cannot destroy data. */
	if (dev_is_dma_coherent(dev) || dir == DMA_TO_DEVICE)
		return true;

	return false;
}

/* models dma_kmalloc_size_aligned() */
static inline bool dma_kmalloc_size_aligned(struct device *dev, size_t size)
{
	/* Larger kmalloc() sizes are guaranteed to be aligned to ARCH_DMA_MINALIGN. */
	if (size >= 2 * (size_t)dev->kconfig.arch_dma_minalign ||
	    IS_ALIGNED(kmalloc_size_roundup(dev, size),
		       (size_t)dma_get_cache_alignment(dev)))
		return true;

	return false;
}

/* models dma_kmalloc_needs_bounce(): a size heuristic, it fires for any memory */
static inline bool dma_kmalloc_needs_bounce(struct device *dev, size_t size,
					    enum dma_data_direction dir)
{
	return !dma_kmalloc_safe(dev, dir) && !dma_kmalloc_size_aligned(dev, size);
}

/* Arch cache hooks: platform effects, forwarded to the ops table by dmadiff.c */

/* models arch_sync_dma_for_device() */
void arch_sync_dma_for_device(struct device *dev, phys_addr_t paddr,
		size_t size, enum dma_data_direction dir);
/* models arch_sync_dma_for_cpu() */
void arch_sync_dma_for_cpu(struct device *dev, phys_addr_t paddr,
		size_t size, enum dma_data_direction dir);
/* models arch_sync_dma_for_cpu_all() */
void arch_sync_dma_for_cpu_all(struct device *dev);
/* models arch_dma_mark_clean() */
void arch_dma_mark_clean(struct device *dev, phys_addr_t paddr, size_t size);

#endif /* DMADIFF_DMA_MAP_OPS_H */
