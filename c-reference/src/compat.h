/* SPDX-License-Identifier: GPL-2.0-only */
/* How a v6.16 driver had to express a v6.18 dma_map_phys()/dma_unmap_phys() request. */
#ifndef DMADIFF_COMPAT_H
#define DMADIFF_COMPAT_H

#include "dma-mapping.h"

/* DMA_ATTR_MMIO of v6.18; unused (and ignored) in v6.16 */
#define DMADIFF_ATTR_MMIO	(1UL << 10)

dma_addr_t dmadiff_compat_map_phys(struct device *dev, phys_addr_t phys,
		size_t size, enum dma_data_direction dir, unsigned long attrs);
void dmadiff_compat_unmap_phys(struct device *dev, dma_addr_t addr,
		size_t size, enum dma_data_direction dir, unsigned long attrs);

#endif /* DMADIFF_COMPAT_H */
