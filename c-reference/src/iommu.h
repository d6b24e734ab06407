/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * include/linux/iommu.h (v6.16): the domain and per-device IOMMU state dma-iommu.c reads,
 * and the page-table entry points of drivers/iommu/iommu.c. The page table itself is the
 * mock IOMMU on the harness platform (shared by both sides): iommu_map(), iommu_unmap_fast()
 * and friends reach it through the platform ops (implemented in dmadiff.c).
 */
#ifndef DMADIFF_IOMMU_H
#define DMADIFF_IOMMU_H

#include "dma-mapping.h"

typedef unsigned int gfp_t;
#define GFP_ATOMIC	0x20u	/* the only gfp the streaming paths pass */

/* IOMMU protection bits (include/linux/iommu.h) */
#define IOMMU_READ	(1 << 0)
#define IOMMU_WRITE	(1 << 1)
#define IOMMU_CACHE	(1 << 2)	/* DMA cache coherency */
#define IOMMU_NOEXEC	(1 << 3)
#define IOMMU_MMIO	(1 << 4)	/* e.g. things like MSI doorbells */
#define IOMMU_PRIV	(1 << 5)

/* domain types: the __IOMMU_DOMAIN_* feature bits combined as iommu.h does */
#define __IOMMU_DOMAIN_PAGING	(1U << 0)
#define __IOMMU_DOMAIN_DMA_API	(1U << 1)
#define __IOMMU_DOMAIN_PT	(1U << 2)
#define __IOMMU_DOMAIN_DMA_FQ	(1U << 3)
#define IOMMU_DOMAIN_IDENTITY	(__IOMMU_DOMAIN_PT)
#define IOMMU_DOMAIN_DMA	(__IOMMU_DOMAIN_PAGING | __IOMMU_DOMAIN_DMA_API)
#define IOMMU_DOMAIN_DMA_FQ	(__IOMMU_DOMAIN_PAGING | __IOMMU_DOMAIN_DMA_API | __IOMMU_DOMAIN_DMA_FQ)

struct iommu_domain_geometry {
	u64 aperture_start;	/* First address that can be mapped */
	u64 aperture_end;	/* Last address that can be mapped */
	bool force_aperture;	/* DMA only allowed in mappable range? */
};

struct iommu_dma_cookie;

struct iommu_domain {
	unsigned int type;
	unsigned long pgsize_bitmap;	/* Bitmap of page sizes in use */
	struct iommu_domain_geometry geometry;
	struct iommu_dma_cookie *iova_cookie;	/* cookie_type IOMMU_COOKIE_DMA_IOVA */
};

/* struct dev_iommu: the per-device fields dma-iommu.c reads and writes */
struct dev_iommu {
	bool pci_32bit_workaround;	/* try 32-bit IOVAs first (the SAC trick) */
	bool shadow_on_flush;
	bool cap_deferred_flush;	/* device_iommu_capable(dev, IOMMU_CAP_DEFERRED_FLUSH) */
	bool forcedac;			/* iommu_dma_forcedac (iommu.forcedac=, global in the kernel) */
	/* the boot configuration the domain was set up from (iommu_get_resv_regions(), the bridge) */
	const struct dmadiff_iommu_resv_region *resv;
	u64 nr_resv;
	const struct dmadiff_pci_window *pci_windows;
	u64 nr_pci_windows;
};

/* struct iommu_iotlb_gather, as far as dma-iommu reads it */
struct iommu_iotlb_gather {
	unsigned long start;
	unsigned long end;
	bool queued;
};

/* models iommu_iotlb_gather_init() */
static inline void iommu_iotlb_gather_init(struct iommu_iotlb_gather *gather)
{
	gather->start = ~0UL;
	gather->end = 0;
	gather->queued = false;
}

/* models iommu_get_dma_domain(): the device's default domain, or NULL without an IOMMU */
static inline struct iommu_domain *iommu_get_dma_domain(struct device *dev)
{
	return dev->iommu_domain;
}

/* models dev_is_pci() */
static inline bool dev_is_pci(struct device *dev)
{
	return dev->is_pci;
}

/* models dev_is_untrusted() in drivers/iommu/dma-iommu.c */
static inline bool dev_is_untrusted(struct device *dev)
{
	return dev_is_pci(dev) && dev->untrusted;
}

/* drivers/iommu/iommu.c, through the platform's mock IOMMU (dmadiff.c) */
int iommu_map(struct iommu_domain *domain, unsigned long iova, phys_addr_t paddr,
	      size_t size, int prot, gfp_t gfp);
size_t iommu_unmap_fast(struct iommu_domain *domain, unsigned long iova, size_t size,
			struct iommu_iotlb_gather *iotlb_gather);
void iommu_iotlb_sync(struct iommu_domain *domain, struct iommu_iotlb_gather *iotlb_gather);
void iommu_flush_iotlb_all(struct iommu_domain *domain);
phys_addr_t iommu_iova_to_phys(struct iommu_domain *domain, dma_addr_t iova);

#endif /* DMADIFF_IOMMU_H */
