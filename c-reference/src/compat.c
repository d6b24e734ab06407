// SPDX-License-Identifier: GPL-2.0-only
/*
 * A v6.18 caller holds a phys_addr_t and says "MMIO" with DMA_ATTR_MMIO.
 * In v6.16 the same driver had two APIs: dma_map_resource() for MMIO (bus
 * addresses with no struct page) and dma_map_page_attrs() for RAM, which
 * takes a page and an offset. This file is that translation, so both models
 * can be fed the same request; it is not kernel code.
 */
#include "compat.h"

/* A dma_map_phys() request as a v6.16 driver would have issued it. */
dma_addr_t dmadiff_compat_map_phys(struct device *dev, phys_addr_t phys,
		size_t size, enum dma_data_direction dir, unsigned long attrs)
{
	/* MMIO: the resource API, without the bit v6.16 does not know */
	if (attrs & DMADIFF_ATTR_MMIO)
		return dma_map_resource(dev, phys, size, dir,
					attrs & ~DMADIFF_ATTR_MMIO);

	/* RAM: the page holding phys, and the offset into it */
	return dma_map_page_attrs(dev, pfn_to_page(PHYS_PFN(phys)),
				  offset_in_page(phys), size, dir, attrs);
}

/* A dma_unmap_phys() request as a v6.16 driver would have issued it. */
void dmadiff_compat_unmap_phys(struct device *dev, dma_addr_t addr,
		size_t size, enum dma_data_direction dir, unsigned long attrs)
{
	if (attrs & DMADIFF_ATTR_MMIO)
		dma_unmap_resource(dev, addr, size, dir,
				   attrs & ~DMADIFF_ATTR_MMIO);
	else
		dma_unmap_page_attrs(dev, addr, size, dir, attrs);
}
