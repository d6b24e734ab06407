/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * include/linux/dma-direct.h (v6.16) for !CONFIG_ARCH_HAS_PHYS_TO_DMA and
 * no memory encryption: dma_addr_encrypted/unencrypted/canonical are the
 * identity (no SME, not a CCA realm).
 */
#ifndef DMADIFF_DMA_DIRECT_H
#define DMADIFF_DMA_DIRECT_H

#include "dma-mapping.h"
#include "dma-map-ops.h"
#include "swiotlb.h"

/* Record the mapping of CPU physical to DMA addresses for a given region. */
struct bus_dma_region {
	phys_addr_t	cpu_start;
	dma_addr_t	dma_start;
	u64		size;
};

/* models translate_phys_to_dma(): walks up to the first size-0 entry */
static inline dma_addr_t translate_phys_to_dma(struct device *dev,
		phys_addr_t paddr)
{
	const struct bus_dma_region *m;

	for (m = dev->dma_range_map; m->size; m++) {
		u64 offset = paddr - m->cpu_start;

		if (paddr >= m->cpu_start && offset < m->size)
			return m->dma_start + offset;
	}

	/* make sure dma_capable fails when no translation is available */
	return DMA_MAPPING_ERROR;
}

/* models translate_dma_to_phys() */
static inline phys_addr_t translate_dma_to_phys(struct device *dev,
		dma_addr_t dma_addr)
{
	const struct bus_dma_region *m;

	for (m = dev->dma_range_map; m->size; m++) {
		u64 offset = dma_addr - m->dma_start;

		if (dma_addr >= m->dma_start && offset < m->size)
			return m->cpu_start + offset;
	}

	return (phys_addr_t)-1;
}

/* models __phys_to_dma() */
static inline dma_addr_t __phys_to_dma(struct device *dev, phys_addr_t paddr)
{
	if (dev->dma_range_map)
		return translate_phys_to_dma(dev, paddr);
	return paddr;
}

/* models phys_to_dma(): dma_addr_encrypted() is the identity without SME */
static inline dma_addr_t phys_to_dma(struct device *dev, phys_addr_t paddr)
{
	return __phys_to_dma(dev, paddr);
}

/* models phys_to_dma_unencrypted(): dma_addr_unencrypted() is the identity without SME/CCA */
static inline dma_addr_t phys_to_dma_unencrypted(struct device *dev,
		phys_addr_t paddr)
{
	return __phys_to_dma(dev, paddr);
}

/* models dma_to_phys(): dma_addr_canonical() is the identity without SME */
static inline phys_addr_t dma_to_phys(struct device *dev, dma_addr_t dma_addr)
{
	phys_addr_t paddr;

	if (dev->dma_range_map)
		paddr = translate_dma_to_phys(dev, dma_addr);
	else
		paddr = dma_addr;

	return paddr;
}

/* models dma_capable() */
static inline bool dma_capable(struct device *dev, dma_addr_t addr, size_t size,
		bool is_ram)
{
	/* no overflow check: size 0 gives addr - 1 */
	dma_addr_t end = addr + size - 1;

	if (addr == DMA_MAPPING_ERROR)
		return false;
	/*
	 * The is_ram min_low_pfn test only exists for a 32-bit dma_addr_t;
	 * CONFIG_ARCH_DMA_ADDR_T_64BIT is set, so it never applies here.
	 */

	return end <= min_not_zero(*dev->dma_mask, dev->bus_dma_limit);
}

dma_addr_t dma_direct_map_resource(struct device *dev, phys_addr_t paddr,
		size_t size, enum dma_data_direction dir, unsigned long attrs);

/* models dma_range_map_min() in include/linux/dma-direct.h */
static inline dma_addr_t dma_range_map_min(const struct bus_dma_region *map)
{
	dma_addr_t ret = (dma_addr_t)~0ULL;

	for (; map->size; map++)
		if (map->dma_start < ret)
			ret = map->dma_start;
	return ret;
}

/* models dma_range_map_max() in include/linux/dma-direct.h */
static inline dma_addr_t dma_range_map_max(const struct bus_dma_region *map)
{
	dma_addr_t ret = 0;

	for (; map->size; map++)
		if (map->dma_start + map->size - 1 > ret)
			ret = map->dma_start + map->size - 1;
	return ret;
}

#endif /* DMADIFF_DMA_DIRECT_H */
