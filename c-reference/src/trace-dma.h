/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The tracepoints of include/trace/events/dma.h the legacy streaming paths
 * emit. Each forwards to the platform's recorder (dmadiff.c) under the
 * kernel's event name.
 */
#ifndef DMADIFF_TRACE_DMA_H
#define DMADIFF_TRACE_DMA_H

#include "dma-mapping.h"

/* models trace_dma_map_page() (dma_map class) */
void trace_dma_map_page(struct device *dev, phys_addr_t phys_addr,
		dma_addr_t dma_addr, size_t size, enum dma_data_direction dir,
		unsigned long attrs);
/* models trace_dma_map_resource() (dma_map class) */
void trace_dma_map_resource(struct device *dev, phys_addr_t phys_addr,
		dma_addr_t dma_addr, size_t size, enum dma_data_direction dir,
		unsigned long attrs);
/* models trace_dma_unmap_page() (dma_unmap class) */
void trace_dma_unmap_page(struct device *dev, dma_addr_t addr, size_t size,
		enum dma_data_direction dir, unsigned long attrs);
/* models trace_dma_unmap_resource() (dma_unmap class) */
void trace_dma_unmap_resource(struct device *dev, dma_addr_t addr,
		size_t size, enum dma_data_direction dir, unsigned long attrs);
/* models trace_dma_sync_single_for_cpu() (dma_sync_single class) */
void trace_dma_sync_single_for_cpu(struct device *dev, dma_addr_t addr,
		size_t size, enum dma_data_direction dir);
/* models trace_dma_sync_single_for_device() (dma_sync_single class) */
void trace_dma_sync_single_for_device(struct device *dev, dma_addr_t addr,
		size_t size, enum dma_data_direction dir);

struct scatterlist;
/* models trace_dma_map_sg(): phys of nents entries, DMA segments of ents */
void trace_dma_map_sg(struct device *dev, struct scatterlist *sgl, int nents,
		int ents, enum dma_data_direction dir, unsigned long attrs);
/* models trace_dma_map_sg_err() (v6.12+): phys of nents entries and the error */
void trace_dma_map_sg_err(struct device *dev, struct scatterlist *sgl,
		int nents, int err, enum dma_data_direction dir, unsigned long attrs);
/* models trace_dma_unmap_sg(): phys of nents entries */
void trace_dma_unmap_sg(struct device *dev, struct scatterlist *sgl, int nents,
		enum dma_data_direction dir, unsigned long attrs);
/* models trace_dma_sync_sg_for_cpu(): DMA segments of nents entries */
void trace_dma_sync_sg_for_cpu(struct device *dev, struct scatterlist *sgl,
		int nents, enum dma_data_direction dir);
/* models trace_dma_sync_sg_for_device() */
void trace_dma_sync_sg_for_device(struct device *dev, struct scatterlist *sgl,
		int nents, enum dma_data_direction dir);

#endif /* DMADIFF_TRACE_DMA_H */
