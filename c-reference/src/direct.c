// SPDX-License-Identifier: GPL-2.0-only
/*
 * kernel/dma/direct.c (v6.16): the out-of-line part of dma-direct the
 * single-mapping paths use.
 */
#include "direct.h"

/* models dma_direct_map_resource(): no dma_range_map, swiotlb, cache sync or kmalloc check */
dma_addr_t dma_direct_map_resource(struct device *dev, phys_addr_t paddr,
		size_t size, enum dma_data_direction dir, unsigned long attrs)
{
	dma_addr_t dma_addr = paddr;

	if (unlikely(!dma_capable(dev, dma_addr, size, false))) {
		dev_err_once(dev,
			     "DMA addr %pad+%zu overflow (mask %llx, bus limit %llx).\n",
			     &dma_addr, size, *dev->dma_mask, dev->bus_dma_limit);
		WARN_ON_ONCE(dev, 1);
		return DMA_MAPPING_ERROR;
	}

	return dma_addr;
}
