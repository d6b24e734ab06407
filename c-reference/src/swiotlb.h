/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * include/linux/swiotlb.h with no bounce pool for the device: swiotlb is
 * not modelled yet, so every predicate says "not mine" and the helpers that
 * only act on pool addresses do nothing.
 */
#ifndef DMADIFF_SWIOTLB_H
#define DMADIFF_SWIOTLB_H

#include "dma-mapping.h"

/* models is_swiotlb_force_bounce(): no io_tlb_mem, so no force_bounce */
static inline bool is_swiotlb_force_bounce(struct device *dev)
{
	return false;
}

/* models is_swiotlb_active(): the device has no io_tlb_mem with slabs */
static inline bool is_swiotlb_active(struct device *dev)
{
	return false;
}

/* models is_swiotlb_buffer(): there is no pool for paddr to be in */
static inline bool is_swiotlb_buffer(struct device *dev, phys_addr_t paddr)
{
	return false;
}

/*
 * models is_swiotlb_allocated(): arm64 arch_mm_preinit() (once mem_init()) always allocates the
 * default pool with DMA_BOUNCE_UNALIGNED_KMALLOC, which keeps the kmalloc
 * caches 8-aligned (__kmalloc_minalign()); the device does not use it yet.
 */
static inline bool is_swiotlb_allocated(void)
{
	return true;
}

/* models swiotlb_map(): unreachable while no predicate above is true */
static inline dma_addr_t swiotlb_map(struct device *dev, phys_addr_t phys,
		size_t size, enum dma_data_direction dir, unsigned long attrs)
{
	dmadiff_report(dev, DMADIFF_REPORT_DEV_ERR, __func__,
		       "swiotlb not configured");
	return DMA_MAPPING_ERROR;
}

/* models swiotlb_tbl_unmap_single(): acts only on pool addresses */
static inline void swiotlb_tbl_unmap_single(struct device *dev,
		phys_addr_t tlb_addr, size_t mapping_size,
		enum dma_data_direction dir, unsigned long attrs)
{
}

/* models swiotlb_sync_single_for_device(): acts only on pool addresses */
static inline void swiotlb_sync_single_for_device(struct device *dev,
		phys_addr_t tlb_addr, size_t size, enum dma_data_direction dir)
{
}

/* models swiotlb_sync_single_for_cpu(): acts only on pool addresses */
static inline void swiotlb_sync_single_for_cpu(struct device *dev,
		phys_addr_t tlb_addr, size_t size, enum dma_data_direction dir)
{
}

#endif /* DMADIFF_SWIOTLB_H */
