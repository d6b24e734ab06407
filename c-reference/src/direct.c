// SPDX-License-Identifier: GPL-2.0-only
/*
 * kernel/dma/direct.c (v6.16): the out-of-line part of dma-direct the
 * single-mapping and scatterlist paths use.
 */
#include "direct.h"
#include "scatterlist.h"
#include "pci-p2pdma.h"

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

/* models dma_direct_sync_sg_for_device(): sg->length, not sg_dma_len, per entry */
void dma_direct_sync_sg_for_device(struct device *dev,
		struct scatterlist *sgl, int nents, enum dma_data_direction dir)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i) {
		phys_addr_t paddr = dma_to_phys(dev, sg_dma_address(sg));

		/* bus-address (P2P) entries are not skipped: v6.16 syncs them too */
		swiotlb_sync_single_for_device(dev, paddr, sg->length, dir);
		if (!dev_is_dma_coherent(dev))
			arch_sync_dma_for_device(dev, paddr, sg->length, dir);
	}
}

/* models dma_direct_sync_sg_for_cpu(): arch_sync_dma_for_cpu_all() once, after the loop */
void dma_direct_sync_sg_for_cpu(struct device *dev,
		struct scatterlist *sgl, int nents, enum dma_data_direction dir)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i) {
		phys_addr_t paddr = dma_to_phys(dev, sg_dma_address(sg));

		if (!dev_is_dma_coherent(dev))
			arch_sync_dma_for_cpu(dev, paddr, sg->length, dir);
		swiotlb_sync_single_for_cpu(dev, paddr, sg->length, dir);
		if (dir == DMA_FROM_DEVICE)
			arch_dma_mark_clean(dev, paddr, sg->length);
	}

	if (!dev_is_dma_coherent(dev))
		arch_sync_dma_for_cpu_all(dev);
}

/* models dma_direct_unmap_sg(): a bus-address entry holds no mapping, only its mark */
void dma_direct_unmap_sg(struct device *dev, struct scatterlist *sgl,
		int nents, enum dma_data_direction dir, unsigned long attrs)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i) {
		if (!sg_dma_is_bus_address(sg)) {
			dma_direct_unmap_page(dev, sg->dma_address, sg_dma_len(sg),
					      dir, attrs);
			continue;
		}
		sg_dma_unmark_bus_address(sg);
	}
}

/*
 * models dma_direct_map_sg() after a25e7962db0d ("PCI/P2PDMA: Refactor the p2pdma
 * mapping helpers"), read from the v6.16-era Mellanox/nic-kernel kernel/dma/direct.c,
 * with both of its defects: THRU_HOST_BRIDGE is never mapped (fixed by 560000d619ef)
 * and BUS_ADDR leaves sg_dma_len unset (fixed by d0d08f4bd7f6).
 */
int dma_direct_map_sg(struct device *dev, struct scatterlist *sgl, int nents,
		enum dma_data_direction dir, unsigned long attrs)
{
	struct pci_p2pdma_map_state p2pdma_state = {0};
	struct scatterlist *sg;
	int i, ret;

	for_each_sg(sgl, sg, nents, i) {
		switch (pci_p2pdma_state(&p2pdma_state, dev, sg_page(sg))) {
		case PCI_P2PDMA_MAP_NONE:
			sg->dma_address = dma_direct_map_page(dev, sg_page(sg),
					sg->offset, sg->length, dir, attrs);
			if (sg->dma_address == DMA_MAPPING_ERROR) {
				ret = -EIO;
				goto out_unmap;
			}
			break;
		case PCI_P2PDMA_MAP_THRU_HOST_BRIDGE:
			/* defect: meant to map by CPU physical address, but dma_address is never written */
			break;
		case PCI_P2PDMA_MAP_BUS_ADDR:
			sg->dma_address = pci_p2pdma_bus_addr_map(&p2pdma_state,
					sg_phys(sg));
			sg_dma_mark_bus_address(sg);
			/* defect: skips the sg_dma_len assignment below */
			continue;
		default:
			ret = -EREMOTEIO;
			goto out_unmap;
		}
		/* set inside the loop, after the switch: NONE and THRU_HOST_BRIDGE entries */
		sg_dma_len(sg) = sg->length;
	}

	/* never merges: one DMA segment per entry */
	return nents;

out_unmap:
	/* only the i entries before the failing one; no CPU sync while undoing */
	dma_direct_unmap_sg(dev, sgl, i, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
	return ret;
}
