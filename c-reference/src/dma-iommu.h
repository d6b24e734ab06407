/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * drivers/iommu/dma-iommu.h and the dma-iommu entry points of include/linux/iommu-dma.h
 * (v6.16): what kernel/dma/mapping.c calls directly when use_dma_iommu(dev).
 */
#ifndef DMADIFF_DMA_IOMMU_H
#define DMADIFF_DMA_IOMMU_H

#include "iommu.h"
#include "iova.h"

/* boot: iommu_setup_dma_ops() -> iommu_dma_init_domain(); <0 leaves the device on dma-direct */
int iommu_setup_dma_ops(struct device *dev);
void dmadiff_iommu_dma_teardown(struct device *dev);

dma_addr_t iommu_dma_map_page(struct device *dev, struct page *page,
		unsigned long offset, size_t size, enum dma_data_direction dir,
		unsigned long attrs);
void iommu_dma_unmap_page(struct device *dev, dma_addr_t dma_handle,
		size_t size, enum dma_data_direction dir, unsigned long attrs);
dma_addr_t iommu_dma_map_resource(struct device *dev, phys_addr_t phys,
		size_t size, enum dma_data_direction dir, unsigned long attrs);
void iommu_dma_unmap_resource(struct device *dev, dma_addr_t handle,
		size_t size, enum dma_data_direction dir, unsigned long attrs);
void iommu_dma_sync_single_for_cpu(struct device *dev, dma_addr_t dma_handle,
		size_t size, enum dma_data_direction dir);
void iommu_dma_sync_single_for_device(struct device *dev, dma_addr_t dma_handle,
		size_t size, enum dma_data_direction dir);
struct scatterlist;
int iommu_dma_map_sg(struct device *dev, struct scatterlist *sg, int nents,
		enum dma_data_direction dir, unsigned long attrs);
void iommu_dma_unmap_sg(struct device *dev, struct scatterlist *sg, int nents,
		enum dma_data_direction dir, unsigned long attrs);
void iommu_dma_sync_sg_for_cpu(struct device *dev, struct scatterlist *sgl,
		int nelems, enum dma_data_direction dir);
void iommu_dma_sync_sg_for_device(struct device *dev, struct scatterlist *sgl,
		int nelems, enum dma_data_direction dir);
size_t iommu_dma_opt_mapping_size(void);
size_t iommu_dma_max_mapping_size(struct device *dev);

/* the flush-queue timer (fq_flush_timeout()) if armed: the scenario's time event */
void dmadiff_iommu_dma_fq_timeout(struct device *dev);
/* the iova depot work of the DMA domain's allocator: the scenario's time event */
void dmadiff_iommu_dma_depot_tick(struct device *dev);
/* the pfns queued in the flush queues; returns how many (copies up to max) */
size_t dmadiff_iommu_dma_fq_pfns(struct device *dev, unsigned long *out, size_t max);
/* the DMA domain's iova_domain, for the harness's views; NULL without one */
struct iova_domain *dmadiff_iommu_dma_iovad(struct device *dev);

#endif /* DMADIFF_DMA_IOMMU_H */
