// SPDX-License-Identifier: GPL-2.0-only
/*
 * drivers/iommu/dma-iommu.c (v6.16, page-based): the DMA-API glue over a paging
 * domain for single streaming mappings. Cookie and domain set-up (reservations,
 * flush-queue options), IOVA allocation with the PCI SAC trick, the flush queue,
 * map/unmap of pages and resources, the swiotlb bounce for unaligned buffers of
 * untrusted devices, sync, scatterlists (iommu_dma_map_sg() and its layout),
 * the two-step dma_iova_* API, and the reported mapping sizes.
 *
 * Model deviations:
 *  - the cookie is allocated by iommu_setup_dma_ops() itself, where the kernel
 *    does it when __iommu_domain_alloc() creates a DMA-API domain;
 *  - per-CPU flush queues are an array of dev->nr_cpus queues (the possible
 *    CPUs); spinlocks, barriers and the atomics are plain fields;
 *  - the flush-queue timer is only its "armed" flag: no time passes inside a
 *    scenario, so fq_flush_timeout() runs when the harness fires it
 *    (dmadiff_iommu_dma_fq_timeout());
 *  - page-table freelists (gather->freelist, iova_fq_entry.freelist) are not
 *    modelled: the mock IOMMU frees no page-table pages;
 *  - phys_to_virt() is the identity: the linear map is PAGE_SIZE-aligned, so
 *    granule (<= PAGE_SIZE) alignment of a virtual address is that of its phys;
 *  - the kdump deferred attach (iommu_deferred_attach_enabled) is off;
 *  - the mock IOMMU driver has no iotlb_sync_map op: iommu_sync_map() is 0 and
 *    iommu_map_nosync() is the platform's iommu_map();
 *  - the two-step calls other than dma_iova_try_alloc() BUG on a device that
 *    dma-iommu does not drive, where the kernel would dereference a NULL cookie;
 *  - dev->iommu->forcedac stands for the global iommu_dma_forcedac;
 *  - iommu_get_resv_regions() and the host bridge's windows are the boot
 *    configuration in dev->iommu; the bridge's dma_ranges are not modelled.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "dma-direct.h"
#include "dma-iommu.h"
#include "dma-map-ops.h"
#include "pci-p2pdma.h"
#include "scatterlist.h"
#include "swiotlb.h"
#include "trace-swiotlb.h"

#ifndef EEXIST
#define EEXIST		17
#endif
#ifndef EFAULT
#define EFAULT		14
#endif
#ifndef EINVAL
#define EINVAL		22
#endif

/* enum iommu_resv_type of include/linux/iommu.h */
#define IOMMU_RESV_MSI		DMADIFF_IOMMU_RESV_MSI
#define IOMMU_RESV_SW_MSI	DMADIFF_IOMMU_RESV_SW_MSI

/* models __ffs() (word != 0) */
static inline unsigned long __ffs(unsigned long word)
{
	return (unsigned long)__builtin_ctzl(word);
}

/* models is_power_of_2() in include/linux/log2.h */
static inline bool is_power_of_2(unsigned long n)
{
	return n != 0 && ((n & (n - 1)) == 0);
}

/* models __order_base_2() in include/linux/log2.h */
static inline int __order_base_2(unsigned long n)
{
	return n > 1 ? (63 - __builtin_clzl(n - 1)) + 1 : 0;
}

/* models __bits_per() in include/linux/log2.h (bits_per() of a non-constant) */
static inline int __bits_per(unsigned long n)
{
	if (n < 2)
		return 1;
	if (is_power_of_2(n))
		return __order_base_2(n) + 1;
	return __order_base_2(n);
}

/* models iommu_is_dma_domain() in include/linux/iommu.h */
static inline bool iommu_is_dma_domain(struct iommu_domain *domain)
{
	return domain->type & __IOMMU_DOMAIN_DMA_API;
}

/* ---- the cookie ---- */

/* struct iommu_dma_msi_page, as the identity pages of one IOMMU_RESV_MSI region */
struct iommu_dma_msi_region {
	phys_addr_t start;	/* msi_page->phys == msi_page->iova of the first page */
	int num_pages;
};

enum iommu_dma_queue_type {
	IOMMU_DMA_OPTS_PER_CPU_QUEUE,
	IOMMU_DMA_OPTS_SINGLE_QUEUE,
};

struct iommu_dma_options {
	enum iommu_dma_queue_type qt;
	size_t fq_size;
	unsigned int fq_timeout;
};

/* Number of entries per flush queue */
#define IOVA_DEFAULT_FQ_SIZE	256
#define IOVA_SINGLE_FQ_SIZE	32768

/* Timeout (in ms) after which entries are flushed from the queue */
#define IOVA_DEFAULT_FQ_TIMEOUT	10
#define IOVA_SINGLE_FQ_TIMEOUT	1000

/* Flush queue entry for deferred flushing (no page-table freelist) */
struct iova_fq_entry {
	unsigned long iova_pfn;
	unsigned long pages;
	u64 counter;	/* Flush counter when this entry was added */
};

/* Per-CPU flush queue structure (the spinlock is not modelled) */
struct iova_fq {
	unsigned int head, tail;
	unsigned int mod_mask;
	struct iova_fq_entry entries[];
};

struct iommu_dma_cookie {
	struct iova_domain iovad;
	/* msi_page_list: the identity pages of the IOMMU_RESV_MSI regions */
	struct iommu_dma_msi_region *msi_regions;
	size_t nr_msi_regions;
	/* Flush queue */
	struct iova_fq *single_fq;
	struct iova_fq **percpu_fq;	/* nr_fq_cpus queues */
	unsigned int nr_fq_cpus;	/* model-only: num_possible_cpus() */
	/* Number of TLB flushes that have been started */
	u64 fq_flush_start_cnt;
	/* Number of TLB flushes that have been finished */
	u64 fq_flush_finish_cnt;
	/* fq_timer: only whether it is pending; 1 when timer is active, 0 when not */
	bool fq_timer_on;
	/* Domain for flush queue callback; NULL if flush queue not in use */
	struct iommu_domain *fq_domain;
	/* Options for dma-iommu use */
	struct iommu_dma_options options;
};

#define fq_ring_for_each(i, fq) \
	for ((i) = (fq)->head; (i) != (fq)->tail; (i) = ((i) + 1) & (fq)->mod_mask)

/* models fq_full() */
static inline bool fq_full(struct iova_fq *fq)
{
	return (((fq->tail + 1) & fq->mod_mask) == fq->head);
}

/* models fq_ring_add() */
static inline unsigned int fq_ring_add(struct iova_fq *fq)
{
	unsigned int idx = fq->tail;

	fq->tail = (idx + 1) & fq->mod_mask;

	return idx;
}

/* models fq_ring_free_locked(): frees, in FIFO order, what a finished flush covers */
static void fq_ring_free_locked(struct iommu_dma_cookie *cookie, struct iova_fq *fq)
{
	u64 counter = cookie->fq_flush_finish_cnt;
	unsigned int idx;

	fq_ring_for_each(idx, fq) {
		if (fq->entries[idx].counter >= counter)
			break;

		/* iommu_put_pages_list(&fq->entries[idx].freelist): no freelists */
		free_iova_fast(&cookie->iovad, fq->entries[idx].iova_pfn,
			       fq->entries[idx].pages);

		fq->head = (fq->head + 1) & fq->mod_mask;
	}
}

/* models fq_ring_free() */
static void fq_ring_free(struct iommu_dma_cookie *cookie, struct iova_fq *fq)
{
	fq_ring_free_locked(cookie, fq);
}

/* models fq_flush_iotlb() */
static void fq_flush_iotlb(struct iommu_dma_cookie *cookie)
{
	cookie->fq_flush_start_cnt++;
	iommu_flush_iotlb_all(cookie->fq_domain);	/* ops->flush_iotlb_all() */
	cookie->fq_flush_finish_cnt++;
}

/* models fq_flush_timeout() */
static void fq_flush_timeout(struct iommu_dma_cookie *cookie)
{
	unsigned int cpu;

	cookie->fq_timer_on = false;
	fq_flush_iotlb(cookie);

	if (cookie->options.qt == IOMMU_DMA_OPTS_SINGLE_QUEUE) {
		fq_ring_free(cookie, cookie->single_fq);
	} else {
		for (cpu = 0; cpu < cookie->nr_fq_cpus; cpu++)	/* for_each_possible_cpu() */
			fq_ring_free(cookie, cookie->percpu_fq[cpu]);
	}
}

/* models queue_iova() */
static void queue_iova(struct iommu_dma_cookie *cookie,
		unsigned long pfn, unsigned long pages)
{
	struct device *dev = cookie->iovad.dev;
	struct iova_fq *fq;
	unsigned int idx;

	if (cookie->options.qt == IOMMU_DMA_OPTS_SINGLE_QUEUE) {
		fq = cookie->single_fq;
	} else {
		/* raw_cpu_ptr(): only a possible CPU runs code */
		BUG_ON(dev, (unsigned int)raw_smp_processor_id(dev) >= cookie->nr_fq_cpus);
		fq = cookie->percpu_fq[raw_smp_processor_id(dev)];
	}

	/*
	 * First remove all entries from the flush queue that have already been
	 * flushed out on another CPU.
	 */
	fq_ring_free_locked(cookie, fq);

	if (fq_full(fq)) {
		fq_flush_iotlb(cookie);
		fq_ring_free_locked(cookie, fq);
	}

	idx = fq_ring_add(fq);

	fq->entries[idx].iova_pfn = pfn;
	fq->entries[idx].pages = pages;
	fq->entries[idx].counter = cookie->fq_flush_start_cnt;

	/* mod_timer(jiffies + msecs_to_jiffies(fq_timeout)) only if not already armed */
	if (!cookie->fq_timer_on)
		cookie->fq_timer_on = true;
}

/* models iommu_dma_free_fq(): timer_delete_sync() and the queues (IOVAs go separately) */
static void iommu_dma_free_fq(struct iommu_dma_cookie *cookie)
{
	unsigned int cpu;

	if (!cookie->fq_domain)
		return;

	cookie->fq_timer_on = false;
	if (cookie->options.qt == IOMMU_DMA_OPTS_SINGLE_QUEUE) {
		free(cookie->single_fq);
	} else {
		for (cpu = 0; cpu < cookie->nr_fq_cpus; cpu++)
			free(cookie->percpu_fq[cpu]);
		free(cookie->percpu_fq);
	}
	cookie->single_fq = NULL;
	cookie->percpu_fq = NULL;
	cookie->fq_domain = NULL;
}

/* models iommu_dma_init_one_fq() + its allocation: NULL on failure */
static struct iova_fq *iommu_dma_alloc_one_fq(size_t fq_size)
{
	struct iova_fq *fq;

	fq = calloc(1, sizeof(*fq) + fq_size * sizeof(fq->entries[0]));
	if (!fq)
		return NULL;
	fq->head = 0;
	fq->tail = 0;
	fq->mod_mask = (unsigned int)(fq_size - 1);
	return fq;
}

/* models iommu_dma_init_fq_single() */
static int iommu_dma_init_fq_single(struct iommu_dma_cookie *cookie)
{
	struct iova_fq *queue;

	queue = iommu_dma_alloc_one_fq(cookie->options.fq_size);
	if (!queue)
		return -ENOMEM;
	cookie->single_fq = queue;

	return 0;
}

/* models iommu_dma_init_fq_percpu() */
static int iommu_dma_init_fq_percpu(struct iommu_dma_cookie *cookie,
		unsigned int nr_cpus)
{
	struct iova_fq **queue;
	unsigned int cpu;

	queue = calloc(nr_cpus, sizeof(*queue));
	if (!queue)
		return -ENOMEM;

	for (cpu = 0; cpu < nr_cpus; cpu++) {
		queue[cpu] = iommu_dma_alloc_one_fq(cookie->options.fq_size);
		if (!queue[cpu]) {
			while (cpu--)
				free(queue[cpu]);
			free(queue);
			return -ENOMEM;
		}
	}
	cookie->percpu_fq = queue;
	cookie->nr_fq_cpus = nr_cpus;
	return 0;
}

/* models iommu_dma_init_fq() */
static int iommu_dma_init_fq(struct iommu_domain *domain, struct device *dev)
{
	struct iommu_dma_cookie *cookie = domain->iova_cookie;
	int rc;

	if (cookie->fq_domain)
		return 0;

	cookie->fq_flush_start_cnt = 0;
	cookie->fq_flush_finish_cnt = 0;

	if (cookie->options.qt == IOMMU_DMA_OPTS_SINGLE_QUEUE)
		rc = iommu_dma_init_fq_single(cookie);
	else
		rc = iommu_dma_init_fq_percpu(cookie, dev->nr_cpus);

	if (rc) {
		pr_warn(dev, "iova flush queue initialization failed\n");
		return -ENOMEM;
	}

	/* timer_setup(&cookie->fq_timer, fq_flush_timeout, 0) */
	cookie->fq_timer_on = false;
	cookie->fq_domain = domain;
	return 0;
}

/* models iommu_get_dma_cookie() */
static int iommu_get_dma_cookie(struct iommu_domain *domain)
{
	struct iommu_dma_cookie *cookie;

	if (domain->iova_cookie)
		return -EEXIST;

	cookie = calloc(1, sizeof(*cookie));
	if (!cookie)
		return -ENOMEM;

	domain->iova_cookie = cookie;
	return 0;
}

/* models iommu_put_dma_cookie() */
static void iommu_put_dma_cookie(struct iommu_domain *domain)
{
	struct iommu_dma_cookie *cookie = domain->iova_cookie;

	if (!cookie)
		return;
	if (cookie->iovad.granule) {
		iommu_dma_free_fq(cookie);
		put_iova_domain(&cookie->iovad);
	}
	free(cookie->msi_regions);
	free(cookie);
	domain->iova_cookie = NULL;
}

/* models cookie_init_hw_msi_region(): identity msi pages, no IOVA and no mapping */
static int cookie_init_hw_msi_region(struct iommu_dma_cookie *cookie,
		phys_addr_t start, phys_addr_t end)
{
	struct iova_domain *iovad = &cookie->iovad;
	struct iommu_dma_msi_region *r;
	int num_pages;

	start -= iova_offset(iovad, start);
	num_pages = (int)(iova_align(iovad, end - start) >> iova_shift(iovad));
	if (num_pages <= 0)
		return 0;	/* the kernel's page loop does not run */

	r = realloc(cookie->msi_regions,
		    (cookie->nr_msi_regions + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	cookie->msi_regions = r;
	r[cookie->nr_msi_regions].start = start;
	r[cookie->nr_msi_regions].num_pages = num_pages;
	cookie->nr_msi_regions++;
	return 0;
}

/* models iova_reserve_pci_windows(): the host bridge's MEM windows; no dma_ranges */
static int iova_reserve_pci_windows(struct device *dev,
		struct iova_domain *iovad)
{
	const struct dmadiff_pci_window *window;
	unsigned long lo, hi;
	u64 i;

	for (i = 0; i < dev->iommu->nr_pci_windows; i++) {
		window = &dev->iommu->pci_windows[i];	/* IORESOURCE_MEM only */

		lo = iova_pfn(iovad, window->start - window->offset);
		hi = iova_pfn(iovad, window->end - window->offset);
		reserve_iova(iovad, lo, hi);
	}

	/* bridge->dma_ranges (list_sort() and the gap reservations): not modelled */
	return 0;
}

/* models iova_reserve_iommu_regions() */
static int iova_reserve_iommu_regions(struct device *dev,
		struct iommu_domain *domain)
{
	struct iommu_dma_cookie *cookie = domain->iova_cookie;
	struct iova_domain *iovad = &cookie->iovad;
	const struct dmadiff_iommu_resv_region *region;
	int ret = 0;
	u64 i;

	if (dev_is_pci(dev)) {
		ret = iova_reserve_pci_windows(dev, iovad);
		if (ret)
			return ret;
	}

	/* iommu_get_resv_regions(dev, &resv_regions), in list order */
	for (i = 0; i < dev->iommu->nr_resv; i++) {
		unsigned long lo, hi;

		region = &dev->iommu->resv[i];

		/* We ARE the software that manages these! */
		if (region->type == IOMMU_RESV_SW_MSI)
			continue;

		lo = iova_pfn(iovad, region->start);
		hi = iova_pfn(iovad, region->start + region->length - 1);
		reserve_iova(iovad, lo, hi);

		if (region->type == IOMMU_RESV_MSI)
			ret = cookie_init_hw_msi_region(cookie, region->start,
					region->start + region->length);
		if (ret)
			break;
	}

	return ret;
}

/* models dev_use_swiotlb() (CONFIG_SWIOTLB) */
static bool dev_use_swiotlb(struct device *dev, size_t size,
			    enum dma_data_direction dir)
{
	return dev_is_untrusted(dev) || dma_kmalloc_needs_bounce(dev, size, dir);
}

/* models dev_use_sg_swiotlb() (CONFIG_SWIOTLB) */
static bool dev_use_sg_swiotlb(struct device *dev, struct scatterlist *sg,
			       int nents, enum dma_data_direction dir)
{
	struct scatterlist *s;
	int i;

	if (dev_is_untrusted(dev))
		return true;

	/* kmalloc() buffers unsafe for this device and direction: any unaligned length bounces */
	if (!dma_kmalloc_safe(dev, dir)) {
		for_each_sg(sg, s, nents, i)
			if (!dma_kmalloc_size_aligned(dev, s->length))
				return true;
	}

	return false;
}

/* models iommu_dma_init_options() */
static void iommu_dma_init_options(struct iommu_dma_options *options,
				   struct device *dev)
{
	/* Shadowing IOTLB flushes do better with a single large queue */
	if (dev->iommu->shadow_on_flush) {
		options->qt = IOMMU_DMA_OPTS_SINGLE_QUEUE;
		options->fq_timeout = IOVA_SINGLE_FQ_TIMEOUT;
		options->fq_size = IOVA_SINGLE_FQ_SIZE;
	} else {
		options->qt = IOMMU_DMA_OPTS_PER_CPU_QUEUE;
		options->fq_size = IOVA_DEFAULT_FQ_SIZE;
		options->fq_timeout = IOVA_DEFAULT_FQ_TIMEOUT;
	}
}

/* models iommu_dma_init_domain() */
static int iommu_dma_init_domain(struct iommu_domain *domain, struct device *dev)
{
	struct iommu_dma_cookie *cookie = domain->iova_cookie;
	const struct bus_dma_region *map = dev->dma_range_map;
	unsigned long order, base_pfn;
	struct iova_domain *iovad;
	int ret;

	if (!cookie)
		return -EINVAL;

	iovad = &cookie->iovad;

	/* model-only: every domain has a page size (__ffs(0) is undefined) */
	if (!domain->pgsize_bitmap)
		return -EINVAL;

	/* Use the smallest supported page size for IOVA granularity */
	order = __ffs(domain->pgsize_bitmap);
	base_pfn = 1;

	/* Check the domain allows at least some access to the device... */
	if (map) {
		if (dma_range_map_min(map) > domain->geometry.aperture_end ||
		    dma_range_map_max(map) < domain->geometry.aperture_start) {
			pr_warn(dev, "specified DMA range outside IOMMU capability\n");
			return -EFAULT;
		}
	}
	/* ...then finally give it a kicking to make sure it fits */
	if (domain->geometry.aperture_start >> order > base_pfn)
		base_pfn = domain->geometry.aperture_start >> order;

	/* start_pfn is always nonzero for an already-initialised domain */
	if (iovad->start_pfn) {
		if (1UL << order != iovad->granule ||
		    base_pfn != iovad->start_pfn) {
			pr_warn(dev, "Incompatible range for DMA domain\n");
			return -EFAULT;
		}

		return 0;
	}

	init_iova_domain(iovad, 1UL << order, base_pfn, dev);
	ret = iova_domain_init_rcaches(iovad, dev->nr_cpus);
	if (ret)
		return ret;

	iommu_dma_init_options(&cookie->options, dev);

	/* If the FQ fails we can simply fall back to strict mode */
	if (domain->type == IOMMU_DOMAIN_DMA_FQ &&
	    (!dev->iommu->cap_deferred_flush || iommu_dma_init_fq(domain, dev)))
		domain->type = IOMMU_DOMAIN_DMA;

	return iova_reserve_iommu_regions(dev, domain);
}

/* models dma_info_to_prot() */
static int dma_info_to_prot(enum dma_data_direction dir, bool coherent,
		unsigned long attrs)
{
	int prot = coherent ? IOMMU_CACHE : 0;

	if (attrs & DMA_ATTR_PRIVILEGED)
		prot |= IOMMU_PRIV;

	switch (dir) {
	case DMA_BIDIRECTIONAL:
		return prot | IOMMU_READ | IOMMU_WRITE;
	case DMA_TO_DEVICE:
		return prot | IOMMU_READ;
	case DMA_FROM_DEVICE:
		return prot | IOMMU_WRITE;
	default:
		return 0;
	}
}

/* models iommu_dma_alloc_iova() (an IOMMU_COOKIE_DMA_IOVA domain; no MSI cookie) */
static dma_addr_t iommu_dma_alloc_iova(struct iommu_domain *domain,
		size_t size, u64 dma_limit, struct device *dev)
{
	struct iommu_dma_cookie *cookie = domain->iova_cookie;
	struct iova_domain *iovad = &cookie->iovad;
	unsigned long shift, iova_len, iova;

	shift = iova_shift(iovad);
	iova_len = size >> shift;

	dma_limit = min_not_zero(dma_limit, dev->bus_dma_limit);

	if (domain->geometry.force_aperture && dma_limit > domain->geometry.aperture_end)
		dma_limit = domain->geometry.aperture_end;

	/*
	 * Try to use all the 32-bit PCI addresses first; once that fails the
	 * device stays on the full limit.
	 */
	if (dma_limit > DMA_BIT_MASK(32) && dev->iommu->pci_32bit_workaround) {
		iova = alloc_iova_fast(iovad, iova_len,
				       DMA_BIT_MASK(32) >> shift, false);
		if (iova)
			goto done;

		dev->iommu->pci_32bit_workaround = false;
		dev_notice(dev, "Using %d-bit DMA addresses\n", __bits_per(dma_limit));
	}

	iova = alloc_iova_fast(iovad, iova_len, dma_limit >> shift, true);
done:
	return (dma_addr_t)iova << shift;
}

/* models iommu_dma_free_iova() (no MSI cookie) */
static void iommu_dma_free_iova(struct iommu_domain *domain, dma_addr_t iova,
		size_t size, struct iommu_iotlb_gather *gather)
{
	struct iova_domain *iovad = &domain->iova_cookie->iovad;

	if (gather && gather->queued)
		queue_iova(domain->iova_cookie, iova_pfn(iovad, iova),
			   size >> iova_shift(iovad));
	else
		free_iova_fast(iovad, iova_pfn(iovad, iova),
			       size >> iova_shift(iovad));
}

/* models __iommu_dma_unmap() */
static void __iommu_dma_unmap(struct device *dev, dma_addr_t dma_addr,
		size_t size)
{
	struct iommu_domain *domain = iommu_get_dma_domain(dev);
	struct iommu_dma_cookie *cookie = domain->iova_cookie;
	struct iova_domain *iovad = &cookie->iovad;
	size_t iova_off = iova_offset(iovad, dma_addr);
	struct iommu_iotlb_gather iotlb_gather;
	size_t unmapped;

	dma_addr -= iova_off;
	size = iova_align(iovad, size + iova_off);
	iommu_iotlb_gather_init(&iotlb_gather);
	iotlb_gather.queued = cookie->fq_domain != NULL;

	unmapped = iommu_unmap_fast(domain, dma_addr, size, &iotlb_gather);
	WARN_ON(dev, unmapped != size);

	if (!iotlb_gather.queued)
		iommu_iotlb_sync(domain, &iotlb_gather);
	iommu_dma_free_iova(domain, dma_addr, size, &iotlb_gather);
}

/* models __iommu_dma_map() */
static dma_addr_t __iommu_dma_map(struct device *dev, phys_addr_t phys,
		size_t size, int prot, u64 dma_mask)
{
	struct iommu_domain *domain = iommu_get_dma_domain(dev);
	struct iommu_dma_cookie *cookie = domain->iova_cookie;
	struct iova_domain *iovad = &cookie->iovad;
	size_t iova_off = iova_offset(iovad, phys);
	dma_addr_t iova;

	/* iommu_deferred_attach_enabled is only set in kdump kernels */

	/* If anyone ever wants this we'd need support in the IOVA allocator */
	if (dev_WARN_ONCE(dev, dma_get_min_align_mask(dev) > iova_mask(iovad),
	    "Unsupported alignment constraint\n"))
		return DMA_MAPPING_ERROR;

	size = iova_align(iovad, size + iova_off);

	iova = iommu_dma_alloc_iova(domain, size, dma_mask, dev);
	if (!iova)
		return DMA_MAPPING_ERROR;

	if (iommu_map(domain, iova, phys - iova_off, size, prot, GFP_ATOMIC)) {
		iommu_dma_free_iova(domain, iova, size, NULL);
		return DMA_MAPPING_ERROR;
	}
	return iova + iova_off;
}

/* models iommu_dma_sync_single_for_cpu() */
void iommu_dma_sync_single_for_cpu(struct device *dev, dma_addr_t dma_handle,
		size_t size, enum dma_data_direction dir)
{
	phys_addr_t phys;

	if (dev_is_dma_coherent(dev) && !dev_use_swiotlb(dev, size, dir))
		return;

	phys = iommu_iova_to_phys(iommu_get_dma_domain(dev), dma_handle);
	if (!dev_is_dma_coherent(dev))
		arch_sync_dma_for_cpu(dev, phys, size, dir);

	swiotlb_sync_single_for_cpu(dev, phys, size, dir);
}

/* models iommu_dma_sync_single_for_device() */
void iommu_dma_sync_single_for_device(struct device *dev, dma_addr_t dma_handle,
		size_t size, enum dma_data_direction dir)
{
	phys_addr_t phys;

	if (dev_is_dma_coherent(dev) && !dev_use_swiotlb(dev, size, dir))
		return;

	phys = iommu_iova_to_phys(iommu_get_dma_domain(dev), dma_handle);
	swiotlb_sync_single_for_device(dev, phys, size, dir);

	if (!dev_is_dma_coherent(dev))
		arch_sync_dma_for_device(dev, phys, size, dir);
}

/* models iommu_dma_sync_sg_for_cpu(): per entry through the bounce if the list was bounced */
void iommu_dma_sync_sg_for_cpu(struct device *dev, struct scatterlist *sgl,
		int nelems, enum dma_data_direction dir)
{
	struct scatterlist *sg;
	int i;

	if (sg_dma_is_swiotlb(sgl))
		for_each_sg(sgl, sg, nelems, i)
			iommu_dma_sync_single_for_cpu(dev, sg_dma_address(sg),
						      sg->length, dir);
	else if (!dev_is_dma_coherent(dev))
		for_each_sg(sgl, sg, nelems, i)
			arch_sync_dma_for_cpu(dev, sg_phys(sg), sg->length, dir);
}

/* models iommu_dma_sync_sg_for_device() */
void iommu_dma_sync_sg_for_device(struct device *dev, struct scatterlist *sgl,
		int nelems, enum dma_data_direction dir)
{
	struct scatterlist *sg;
	int i;

	if (sg_dma_is_swiotlb(sgl))
		for_each_sg(sgl, sg, nelems, i)
			iommu_dma_sync_single_for_device(dev, sg_dma_address(sg),
							 sg->length, dir);
	else if (!dev_is_dma_coherent(dev))
		for_each_sg(sgl, sg, nelems, i)
			arch_sync_dma_for_device(dev, sg_phys(sg), sg->length, dir);
}

/* models iommu_dma_map_swiotlb() */
static phys_addr_t iommu_dma_map_swiotlb(struct device *dev, phys_addr_t phys,
		size_t size, enum dma_data_direction dir, unsigned long attrs)
{
	struct iommu_domain *domain = iommu_get_dma_domain(dev);
	struct iova_domain *iovad = &domain->iova_cookie->iovad;

	if (!is_swiotlb_active(dev)) {
		dev_warn_once(dev, "DMA bounce buffers are inactive, unable to map unaligned transaction.\n");
		return (phys_addr_t)DMA_MAPPING_ERROR;
	}

	trace_swiotlb_bounced(dev, phys, size);

	phys = swiotlb_tbl_map_single(dev, phys, size,
				      (unsigned int)iova_mask(iovad), dir, attrs);

	/*
	 * Untrusted devices should not see padding areas with random leftover
	 * kernel data, so zero the pre- and post-padding; the bounce buffer
	 * proper already holds the original's contents.
	 */
	if (phys != (phys_addr_t)DMA_MAPPING_ERROR && dev_is_untrusted(dev)) {
		size_t start, virt = (size_t)phys;	/* phys_to_virt() */

		/* Pre-padding */
		start = iova_align_down(iovad, virt);
		dmadiff_memset_phys(dev, start, 0, virt - start);

		/* Post-padding */
		start = virt + size;
		dmadiff_memset_phys(dev, start, 0, iova_align(iovad, start) - start);
	}

	return phys;
}

/* models iova_unaligned(): non-zero if phys or size is not granule-aligned */
static inline size_t iova_unaligned(struct iova_domain *iovad, phys_addr_t phys,
		size_t size)
{
	return iova_offset(iovad, phys | size);
}

/* models iommu_dma_map_page() */
dma_addr_t iommu_dma_map_page(struct device *dev, struct page *page,
		unsigned long offset, size_t size, enum dma_data_direction dir,
		unsigned long attrs)
{
	phys_addr_t phys = page_to_phys(page) + offset;
	bool coherent = dev_is_dma_coherent(dev);
	int prot = dma_info_to_prot(dir, coherent, attrs);
	struct iommu_domain *domain = iommu_get_dma_domain(dev);
	struct iommu_dma_cookie *cookie = domain->iova_cookie;
	struct iova_domain *iovad = &cookie->iovad;
	dma_addr_t iova, dma_mask = dma_get_mask(dev);

	/*
	 * If both the physical buffer start address and size are granule
	 * aligned, we don't need to use a bounce page.
	 */
	if (dev_use_swiotlb(dev, size, dir) &&
	    iova_unaligned(iovad, phys, size)) {
		phys = iommu_dma_map_swiotlb(dev, phys, size, dir, attrs);
		if (phys == (phys_addr_t)DMA_MAPPING_ERROR)
			return DMA_MAPPING_ERROR;
	}

	if (!coherent && !(attrs & DMA_ATTR_SKIP_CPU_SYNC))
		arch_sync_dma_for_device(dev, phys, size, dir);

	iova = __iommu_dma_map(dev, phys, size, prot, dma_mask);
	if (iova == DMA_MAPPING_ERROR)
		swiotlb_tbl_unmap_single(dev, phys, size, dir, attrs);
	return iova;
}

/* models iommu_dma_unmap_page() */
void iommu_dma_unmap_page(struct device *dev, dma_addr_t dma_handle,
		size_t size, enum dma_data_direction dir, unsigned long attrs)
{
	struct iommu_domain *domain = iommu_get_dma_domain(dev);
	phys_addr_t phys;

	phys = iommu_iova_to_phys(domain, dma_handle);
	if (WARN_ON(dev, !phys))
		return;

	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) && !dev_is_dma_coherent(dev))
		arch_sync_dma_for_cpu(dev, phys, size, dir);

	__iommu_dma_unmap(dev, dma_handle, size);

	swiotlb_tbl_unmap_single(dev, phys, size, dir, attrs);
}

/* ---- drivers/iommu/iommu.c helpers the scatterlist and two-step paths use ---- */

/* models iommu_map_nosync(): the model's iommu_map() is the page-table write alone */
static int iommu_map_nosync(struct iommu_domain *domain, unsigned long iova,
		phys_addr_t paddr, size_t size, int prot, gfp_t gfp)
{
	return iommu_map(domain, iova, paddr, size, prot, gfp);
}

/* models iommu_sync_map(): the mock IOMMU driver has no iotlb_sync_map op */
static int iommu_sync_map(struct iommu_domain *domain, unsigned long iova,
		size_t size)
{
	return 0;
}

/* models iommu_unmap(): __iommu_unmap() then an immediate iommu_iotlb_sync() */
static size_t iommu_unmap(struct iommu_domain *domain, unsigned long iova,
		size_t size)
{
	struct iommu_iotlb_gather iotlb_gather;
	size_t ret;

	iommu_iotlb_gather_init(&iotlb_gather);
	ret = iommu_unmap_fast(domain, iova, size, &iotlb_gather);
	iommu_iotlb_sync(domain, &iotlb_gather);

	return ret;
}

/* models iommu_map_sg() (v6.16, after "iommu: generalize the batched sync after map interface") */
static ssize_t iommu_map_sg(struct iommu_domain *domain, unsigned long iova,
		struct scatterlist *sg, unsigned int nents, int prot, gfp_t gfp)
{
	size_t len = 0, mapped = 0;
	phys_addr_t start = 0;
	unsigned int i = 0;
	int ret;

	while (i <= nents) {
		phys_addr_t s_phys = sg_phys(sg);

		/* this entry does not continue the run: map what has been gathered */
		if (len && s_phys != start + len) {
			ret = iommu_map_nosync(domain, iova + mapped, start,
					       len, prot, gfp);
			if (ret)
				goto out_err;

			mapped += len;
			len = 0;
		}

		if (sg_dma_is_bus_address(sg))
			goto next;

		if (len) {
			len += sg->length;
		} else {
			len = sg->length;
			start = s_phys;
		}

next:
		/* the extra pass re-reads the last entry rather than stepping past it */
		if (++i < nents)
			sg = sg_next(sg);
	}

	ret = iommu_sync_map(domain, iova, mapped);
	if (ret)
		goto out_err;

	return (ssize_t)mapped;

out_err:
	/* undo mappings already done */
	iommu_unmap(domain, iova, mapped);

	return ret;
}

/* models __finalise_sg() */
static int __finalise_sg(struct device *dev, struct scatterlist *sg, int nents,
		dma_addr_t dma_addr)
{
	struct scatterlist *s, *cur = sg;
	unsigned long seg_mask = dma_get_seg_boundary(dev);
	unsigned int cur_len = 0, max_len = dma_get_max_seg_size(dev);
	int i, count = 0;

	for_each_sg(sg, s, nents, i) {
		/* the stash: the in-granule offset in dma_address, the original length in dma_len */
		dma_addr_t s_dma_addr = sg_dma_address(s);
		unsigned int s_iova_off = (unsigned int)sg_dma_address(s);
		unsigned int s_length = sg_dma_len(s);
		unsigned int s_iova_len = s->length;

		sg_dma_address(s) = DMA_MAPPING_ERROR;
		sg_dma_len(s) = 0;

		/* a bus address takes an output segment of its own and uses no IOVA */
		if (sg_dma_is_bus_address(s)) {
			if (i > 0)
				cur = sg_next(cur);

			sg_dma_unmark_bus_address(s);
			sg_dma_address(cur) = s_dma_addr;
			sg_dma_len(cur) = s_length;
			sg_dma_mark_bus_address(cur);
			count++;
			cur_len = 0;
			continue;
		}

		s->offset += s_iova_off;
		s->length = s_length;

		/* merge: an open segment, a granule-aligned start, no boundary, room left */
		if (cur_len && !s_iova_off && (dma_addr & seg_mask) &&
		    (max_len - cur_len >= s_length)) {
			cur_len += s_length;
		} else {
			if (i > 0)
				cur = sg_next(cur);
			cur_len = s_length;
			count++;

			sg_dma_address(cur) = dma_addr + s_iova_off;
		}

		sg_dma_len(cur) = cur_len;
		dma_addr += s_iova_len;

		/* a hole after this chunk (alignment or padding): nothing may merge onto it */
		if (s_length + s_iova_off < s_iova_len)
			cur_len = 0;
	}
	return count;
}

/* models __invalidate_sg(): undo the layout pass and poison the DMA fields */
static void __invalidate_sg(struct scatterlist *sg, int nents)
{
	struct scatterlist *s;
	int i;

	for_each_sg(sg, s, nents, i) {
		if (sg_dma_is_bus_address(s)) {
			sg_dma_unmark_bus_address(s);
		} else {
			/* whatever dma_address holds is taken as the stash, even if never written */
			if (sg_dma_address(s) != DMA_MAPPING_ERROR)
				s->offset += sg_dma_address(s);
			if (sg_dma_len(s))
				s->length = sg_dma_len(s);
		}
		sg_dma_address(s) = DMA_MAPPING_ERROR;
		sg_dma_len(s) = 0;
	}
}

/* models iommu_dma_unmap_sg_swiotlb() */
static void iommu_dma_unmap_sg_swiotlb(struct device *dev, struct scatterlist *sg,
		int nents, enum dma_data_direction dir, unsigned long attrs)
{
	struct scatterlist *s;
	int i;

	for_each_sg(sg, s, nents, i)
		iommu_dma_unmap_page(dev, sg_dma_address(s),
				sg_dma_len(s), dir, attrs);
}

/* models iommu_dma_map_sg_swiotlb(): every entry mapped on its own, no merging */
static int iommu_dma_map_sg_swiotlb(struct device *dev, struct scatterlist *sg,
		int nents, enum dma_data_direction dir, unsigned long attrs)
{
	struct scatterlist *s;
	int i;

	sg_dma_mark_swiotlb(sg);

	for_each_sg(sg, s, nents, i) {
		sg_dma_address(s) = iommu_dma_map_page(dev, sg_page(s),
				s->offset, s->length, dir, attrs);
		if (sg_dma_address(s) == DMA_MAPPING_ERROR)
			goto out_unmap;
		sg_dma_len(s) = s->length;
	}

	return nents;

out_unmap:
	/* the entries before the failing one; their CPU view is still the caller's */
	iommu_dma_unmap_sg_swiotlb(dev, sg, i, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
	return -EIO;
}

/* models iommu_dma_map_sg() */
int iommu_dma_map_sg(struct device *dev, struct scatterlist *sg, int nents,
		enum dma_data_direction dir, unsigned long attrs)
{
	struct iommu_domain *domain = iommu_get_dma_domain(dev);
	struct iommu_dma_cookie *cookie = domain->iova_cookie;
	struct iova_domain *iovad = &cookie->iovad;
	struct scatterlist *s, *prev = NULL;
	int prot = dma_info_to_prot(dir, dev_is_dma_coherent(dev), attrs);
	struct pci_p2pdma_map_state p2pdma_state = { 0 };
	dma_addr_t iova;
	size_t iova_len = 0;
	unsigned long mask = dma_get_seg_boundary(dev);
	ssize_t ret;
	int i;

	/* iommu_deferred_attach_enabled is only set in kdump kernels */

	if (dev_use_sg_swiotlb(dev, sg, nents, dir))
		return iommu_dma_map_sg_swiotlb(dev, sg, nents, dir, attrs);

	/* before the layout pass: the original phys and lengths */
	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC))
		iommu_dma_sync_sg_for_device(dev, sg, nents, dir);

	/* align in place, reversibly: the offset and length are stashed in the unused DMA fields */
	for_each_sg(sg, s, nents, i) {
		size_t s_iova_off = iova_offset(iovad, s->offset);
		size_t s_length = s->length;
		size_t pad_len = (mask - iova_len + 1) & mask;

		switch (pci_p2pdma_state(&p2pdma_state, dev, sg_page(s))) {
		case PCI_P2PDMA_MAP_THRU_HOST_BRIDGE:
			/* through the host bridge: a regular IOVA like any memory */
			break;
		case PCI_P2PDMA_MAP_NONE:
			break;
		case PCI_P2PDMA_MAP_BUS_ADDR:
			/* iommu_map_sg() skips it; the head's length is a v6.16 quirk (a25e7962db0d) */
			s->dma_address = pci_p2pdma_bus_addr_map(&p2pdma_state,
								 sg_phys(s));
			sg_dma_len(s) = sg->length;
			sg_dma_mark_bus_address(s);
			continue;
		default:
			ret = -EREMOTEIO;
			goto out_restore_sg;
		}

		sg_dma_address(s) = s_iova_off;
		sg_dma_len(s) = (unsigned int)s_length;
		s->offset -= (unsigned int)s_iova_off;
		s_length = iova_align(iovad, s_length + s_iova_off);
		s->length = (unsigned int)s_length;

		/* the allocation is size-aligned, so lengths alone decide a crossing; prev is set here */
		if (pad_len && pad_len < s_length - 1) {
			/* a mask that is not 2^n - 1 pads before any entry: the kernel oopses on prev */
			if (!prev)
				dmadiff_bug(dev, __func__, "NULL pointer dereference: prev->length");
			prev->length += (unsigned int)pad_len;
			iova_len += pad_len;
		}

		iova_len += s_length;
		prev = s;
	}

	if (!iova_len)
		return __finalise_sg(dev, sg, nents, 0);

	iova = iommu_dma_alloc_iova(domain, iova_len, dma_get_mask(dev), dev);
	if (!iova) {
		ret = -ENOMEM;
		goto out_restore_sg;
	}

	/* physical concatenation is iommu_map_sg()'s */
	ret = iommu_map_sg(domain, iova, sg, nents, prot, GFP_ATOMIC);
	/* the ret < 0 test is "iommu/dma: Fix iova map result check bug" (v5.19) */
	if (ret < 0 || (size_t)ret < iova_len)
		goto out_free_iova;

	return __finalise_sg(dev, sg, nents, iova);

out_free_iova:
	/* a NULL gather: freed at once, never through the flush queue */
	iommu_dma_free_iova(domain, iova, iova_len, NULL);
out_restore_sg:
	__invalidate_sg(sg, nents);
	if (ret != -ENOMEM && ret != -EREMOTEIO)
		return -EINVAL;
	return (int)ret;
}

/* models iommu_dma_unmap_sg(): one IOVA allocation, first normal start to last normal end */
void iommu_dma_unmap_sg(struct device *dev, struct scatterlist *sg, int nents,
		enum dma_data_direction dir, unsigned long attrs)
{
	dma_addr_t end = 0, start = 0;
	struct scatterlist *tmp;
	int i;

	if (sg_dma_is_swiotlb(sg)) {
		iommu_dma_unmap_sg_swiotlb(dev, sg, nents, dir, attrs);
		return;
	}

	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC))
		iommu_dma_sync_sg_for_cpu(dev, sg, nents, dir);

	for_each_sg(sg, tmp, nents, i) {
		if (sg_dma_is_bus_address(tmp)) {
			sg_dma_unmark_bus_address(tmp);
			continue;
		}

		if (sg_dma_len(tmp) == 0)
			break;

		start = sg_dma_address(tmp);
		break;
	}

	/* from the start entry on: bus entries are unmarked, the last normal one ends it */
	nents -= i;
	for_each_sg(tmp, tmp, nents, i) {
		if (sg_dma_is_bus_address(tmp)) {
			sg_dma_unmark_bus_address(tmp);
			continue;
		}

		if (sg_dma_len(tmp) == 0)
			break;

		end = sg_dma_address(tmp) + sg_dma_len(tmp);
	}

	if (end)
		__iommu_dma_unmap(dev, start, end - start);
}

/* models iommu_dma_map_resource(): MMIO, never IOMMU_CACHE, no bounce, no sync */
dma_addr_t iommu_dma_map_resource(struct device *dev, phys_addr_t phys,
		size_t size, enum dma_data_direction dir, unsigned long attrs)
{
	return __iommu_dma_map(dev, phys, size,
			dma_info_to_prot(dir, false, attrs) | IOMMU_MMIO,
			dma_get_mask(dev));
}

/* models iommu_dma_unmap_resource() */
void iommu_dma_unmap_resource(struct device *dev, dma_addr_t handle,
		size_t size, enum dma_data_direction dir, unsigned long attrs)
{
	__iommu_dma_unmap(dev, handle, size);
}

/* models iommu_dma_opt_mapping_size() */
size_t iommu_dma_opt_mapping_size(void)
{
	return iova_rcache_range();
}

/* models iommu_dma_max_mapping_size() */
size_t iommu_dma_max_mapping_size(struct device *dev)
{
	if (dev_is_untrusted(dev))
		return swiotlb_max_mapping_size(dev);

	return SIZE_MAX;
}

/* models dma_iova_try_alloc() (v6.16, "dma-mapping: Provide an interface to allow allocate IOVA") */
bool dma_iova_try_alloc(struct device *dev, struct dma_iova_state *state,
		phys_addr_t phys, size_t size)
{
	struct iommu_dma_cookie *cookie;
	struct iommu_domain *domain;
	struct iova_domain *iovad;
	size_t iova_off;
	dma_addr_t addr;

	/* phys only supplies the in-granule offset */
	memset(state, 0, sizeof(*state));
	if (!use_dma_iommu(dev))
		return false;

	domain = iommu_get_dma_domain(dev);
	cookie = domain->iova_cookie;
	iovad = &cookie->iovad;
	iova_off = iova_offset(iovad, phys);

	/* iommu_deferred_attach_enabled is only set in kdump kernels */

	if (WARN_ON_ONCE(dev, !size))
		return false;

	/* the top bit of __size is dma-iommu's own DMA_IOVA_USE_SWIOTLB flag */
	if (WARN_ON_ONCE(dev, (u64)size & DMA_IOVA_USE_SWIOTLB))
		return false;

	addr = iommu_dma_alloc_iova(domain,
			iova_align(iovad, size + iova_off),
			dma_get_mask(dev), dev);
	if (!addr)
		return false;

	state->addr = addr + iova_off;
	state->__size = size;
	return true;
}

/* model-only: the kernel dereferences the cookie of a device dma-iommu does not drive */
static struct iommu_domain *dma_iova_domain(struct device *dev)
{
	BUG_ON(dev, !use_dma_iommu(dev));
	return iommu_get_dma_domain(dev);
}

/* models dma_iova_free(): the whole aligned range at once, never through the flush queue */
void dma_iova_free(struct device *dev, struct dma_iova_state *state)
{
	struct iommu_domain *domain = dma_iova_domain(dev);
	struct iommu_dma_cookie *cookie = domain->iova_cookie;
	struct iova_domain *iovad = &cookie->iovad;
	size_t iova_start_pad = iova_offset(iovad, state->addr);
	size_t size = dma_iova_size(state);

	iommu_dma_free_iova(domain, state->addr - iova_start_pad,
			iova_align(iovad, size + iova_start_pad), NULL);
}

/* models __dma_iova_link(): no IOTLB sync, that is dma_iova_sync()'s */
static int __dma_iova_link(struct device *dev, dma_addr_t addr,
		phys_addr_t phys, size_t size, enum dma_data_direction dir,
		unsigned long attrs)
{
	bool coherent = dev_is_dma_coherent(dev);

	if (!coherent && !(attrs & DMA_ATTR_SKIP_CPU_SYNC))
		arch_sync_dma_for_device(dev, phys, size, dir);

	/* v6.16 has no DMA_ATTR_MMIO: bit 10 is ignored and coherent devices get IOMMU_CACHE */
	return iommu_map_nosync(iommu_get_dma_domain(dev), addr, phys, size,
			dma_info_to_prot(dir, coherent, attrs), GFP_ATOMIC);
}

/* models iommu_dma_iova_bounce_and_link(): one bounced granule at addr - iova_start_pad */
static int iommu_dma_iova_bounce_and_link(struct device *dev, dma_addr_t addr,
		phys_addr_t phys, size_t bounce_len,
		enum dma_data_direction dir, unsigned long attrs,
		size_t iova_start_pad)
{
	struct iommu_domain *domain = iommu_get_dma_domain(dev);
	struct iova_domain *iovad = &domain->iova_cookie->iovad;
	phys_addr_t bounce_phys;
	int error;

	bounce_phys = iommu_dma_map_swiotlb(dev, phys, bounce_len, dir, attrs);
	if (bounce_phys == DMA_MAPPING_ERROR)
		return -ENOMEM;

	/* granule-aligned only if swiotlb kept phys's low bits (min_align_mask) */
	error = __dma_iova_link(dev, addr - iova_start_pad,
			bounce_phys - iova_start_pad,
			iova_align(iovad, bounce_len), dir, attrs);
	if (error)
		swiotlb_tbl_unmap_single(dev, bounce_phys, bounce_len, dir,
				attrs);
	return error;
}

/* models iommu_dma_iova_link_swiotlb(): bounce the unaligned head and tail, link the middle */
static int iommu_dma_iova_link_swiotlb(struct device *dev,
		struct dma_iova_state *state, phys_addr_t phys, size_t offset,
		size_t size, enum dma_data_direction dir, unsigned long attrs)
{
	struct iommu_domain *domain = iommu_get_dma_domain(dev);
	struct iommu_dma_cookie *cookie = domain->iova_cookie;
	struct iova_domain *iovad = &cookie->iovad;
	size_t iova_start_pad = iova_offset(iovad, phys);
	size_t iova_end_pad = iova_offset(iovad, phys + size);
	dma_addr_t addr = state->addr + offset;
	size_t mapped = 0;
	int error;

	if (iova_start_pad) {
		size_t bounce_len = size < iovad->granule - iova_start_pad ?
				    size : iovad->granule - iova_start_pad;

		error = iommu_dma_iova_bounce_and_link(dev, addr, phys,
				bounce_len, dir, attrs, iova_start_pad);
		if (error)
			return error;
		state->__size |= DMA_IOVA_USE_SWIOTLB;

		mapped += bounce_len;
		size -= bounce_len;
		if (!size)
			return 0;
	}

	/* the middle may be empty: it is still linked, with size 0 */
	size -= iova_end_pad;
	error = __dma_iova_link(dev, addr + mapped, phys + mapped, size, dir,
			attrs);
	if (error)
		goto out_unmap;
	mapped += size;

	if (iova_end_pad) {
		error = iommu_dma_iova_bounce_and_link(dev, addr + mapped,
				phys + mapped, iova_end_pad, dir, attrs, 0);
		if (error)
			goto out_unmap;
		state->__size |= DMA_IOVA_USE_SWIOTLB;
	}

	return 0;

out_unmap:
	/* unlinks from the state's start, not from offset: as the kernel does */
	dma_iova_unlink(dev, state, 0, mapped, dir, attrs);
	return error;
}

/* models dma_iova_link() (v6.16, "iommu/dma: Implement link/unlink ranges callbacks") */
int dma_iova_link(struct device *dev, struct dma_iova_state *state,
		phys_addr_t phys, size_t offset, size_t size,
		enum dma_data_direction dir, unsigned long attrs)
{
	struct iommu_domain *domain = dma_iova_domain(dev);
	struct iommu_dma_cookie *cookie = domain->iova_cookie;
	struct iova_domain *iovad = &cookie->iovad;
	size_t iova_start_pad = iova_offset(iovad, phys);

	/* only a link at offset 0 may start mid-granule */
	if (WARN_ON_ONCE(dev, iova_start_pad && offset > 0))
		return -EIO;

	if (dev_use_swiotlb(dev, size, dir) &&
	    iova_unaligned(iovad, phys, size))
		return iommu_dma_iova_link_swiotlb(dev, state, phys, offset,
				size, dir, attrs);

	return __dma_iova_link(dev, state->addr + offset - iova_start_pad,
			phys - iova_start_pad,
			iova_align(iovad, size + iova_start_pad), dir, attrs);
}

/* models dma_iova_sync() */
int dma_iova_sync(struct device *dev, struct dma_iova_state *state,
		size_t offset, size_t size)
{
	struct iommu_domain *domain = dma_iova_domain(dev);
	struct iommu_dma_cookie *cookie = domain->iova_cookie;
	struct iova_domain *iovad = &cookie->iovad;
	dma_addr_t addr = state->addr + offset;
	size_t iova_start_pad = iova_offset(iovad, addr);

	return iommu_sync_map(domain, addr - iova_start_pad,
			iova_align(iovad, size + iova_start_pad));
}

/* models iommu_dma_iova_unlink_range_slow(): CPU sync and swiotlb release granule by granule */
static void iommu_dma_iova_unlink_range_slow(struct device *dev,
		dma_addr_t addr, size_t size, enum dma_data_direction dir,
		unsigned long attrs)
{
	struct iommu_domain *domain = iommu_get_dma_domain(dev);
	struct iommu_dma_cookie *cookie = domain->iova_cookie;
	struct iova_domain *iovad = &cookie->iovad;
	size_t iova_start_pad = iova_offset(iovad, addr);
	dma_addr_t end = addr + size;

	do {
		phys_addr_t phys;
		size_t len;

		phys = iommu_iova_to_phys(domain, addr);
		if (WARN_ON(dev, !phys))
			/* nothing linked here: give up on the rest of the walk */
			return;

		len = end - addr < iovad->granule - iova_start_pad ?
		      end - addr : iovad->granule - iova_start_pad;

		if (!dev_is_dma_coherent(dev) &&
		    !(attrs & DMA_ATTR_SKIP_CPU_SYNC))
			arch_sync_dma_for_cpu(dev, phys, len, dir);

		swiotlb_tbl_unmap_single(dev, phys, len, dir, attrs);

		addr += len;
		iova_start_pad = 0;
	} while (addr < end);
}

/* models __iommu_dma_iova_unlink(): only a freeing unlink may queue on the flush queue */
static void __iommu_dma_iova_unlink(struct device *dev,
		struct dma_iova_state *state, size_t offset, size_t size,
		enum dma_data_direction dir, unsigned long attrs,
		bool free_iova)
{
	struct iommu_domain *domain = iommu_get_dma_domain(dev);
	struct iommu_dma_cookie *cookie = domain->iova_cookie;
	struct iova_domain *iovad = &cookie->iovad;
	dma_addr_t addr = state->addr + offset;
	size_t iova_start_pad = iova_offset(iovad, addr);
	struct iommu_iotlb_gather iotlb_gather;
	size_t unmapped;

	if ((state->__size & DMA_IOVA_USE_SWIOTLB) ||
	    (!dev_is_dma_coherent(dev) && !(attrs & DMA_ATTR_SKIP_CPU_SYNC)))
		iommu_dma_iova_unlink_range_slow(dev, addr, size, dir, attrs);

	iommu_iotlb_gather_init(&iotlb_gather);
	iotlb_gather.queued = free_iova && cookie->fq_domain;

	size = iova_align(iovad, size + iova_start_pad);
	addr -= iova_start_pad;
	unmapped = iommu_unmap_fast(domain, addr, size, &iotlb_gather);
	WARN_ON(dev, unmapped != size);

	if (!iotlb_gather.queued)
		iommu_iotlb_sync(domain, &iotlb_gather);
	if (free_iova)
		iommu_dma_free_iova(domain, addr, size, &iotlb_gather);
}

/* models dma_iova_unlink(): the IOVA stays allocated */
void dma_iova_unlink(struct device *dev, struct dma_iova_state *state,
		size_t offset, size_t size, enum dma_data_direction dir,
		unsigned long attrs)
{
	dma_iova_domain(dev);
	__iommu_dma_iova_unlink(dev, state, offset, size, dir, attrs, false);
}

/* models dma_iova_destroy(): frees iova_align(mapped_len + pad), not the allocated size */
void dma_iova_destroy(struct device *dev, struct dma_iova_state *state,
		size_t mapped_len, enum dma_data_direction dir,
		unsigned long attrs)
{
	dma_iova_domain(dev);
	if (mapped_len)
		__iommu_dma_iova_unlink(dev, state, 0, mapped_len, dir, attrs,
				true);
	else
		/* the first dma_iova_link() failed: there is nothing to unlink */
		dma_iova_free(dev, state);
}

/* models iommu_setup_dma_ops() */
int iommu_setup_dma_ops(struct device *dev)
{
	struct iommu_domain *domain = iommu_get_dma_domain(dev);	/* iommu_get_domain_for_dev() */
	int ret;

	if (!domain)
		return 0;	/* no IOMMU: the core never calls this */

	/* __iommu_domain_alloc(): a DMA-API domain gets its cookie when it is allocated */
	if (iommu_is_dma_domain(domain) && !domain->iova_cookie)
		iommu_get_dma_cookie(domain);	/* failure: init_domain's -EINVAL */

	if (dev_is_pci(dev))
		dev->iommu->pci_32bit_workaround = !dev->iommu->forcedac;

	dev->dma_iommu = iommu_is_dma_domain(domain);
	if (dev->dma_iommu) {
		ret = iommu_dma_init_domain(domain, dev);
		if (ret)
			goto out_err;
	}

	return 0;
out_err:
	pr_warn(dev, "Failed to set up IOMMU for device %s; retaining platform DMA ops\n",
		dev_name(dev));
	dev->dma_iommu = false;
	return ret;
}

/* ---- model-only entry points ---- */

/* iommu_domain_free() -> iommu_put_dma_cookie() at the end of the boot */
void dmadiff_iommu_dma_teardown(struct device *dev)
{
	struct iommu_domain *domain = dev->iommu_domain;

	if (!domain)
		return;
	iommu_put_dma_cookie(domain);
}

/* The flush-queue timer expires: fq_flush_timeout() if it is armed. */
void dmadiff_iommu_dma_fq_timeout(struct device *dev)
{
	struct iommu_domain *domain = dev->iommu_domain;
	struct iommu_dma_cookie *cookie = domain ? domain->iova_cookie : NULL;

	if (!cookie || !cookie->fq_domain || !cookie->fq_timer_on)
		return;
	fq_flush_timeout(cookie);
}

/* One IOVA_DEPOT_DELAY tick of the DMA domain's allocator. */
void dmadiff_iommu_dma_depot_tick(struct device *dev)
{
	struct iova_domain *iovad = dmadiff_iommu_dma_iovad(dev);

	if (iovad && iovad->rcaches)
		iova_depot_work_tick(iovad);
}

/* The cookie's iova_domain once init_iova_domain() has run on it. */
struct iova_domain *dmadiff_iommu_dma_iovad(struct device *dev)
{
	struct iommu_domain *domain = dev->iommu_domain;
	struct iommu_dma_cookie *cookie = domain ? domain->iova_cookie : NULL;

	if (!cookie || !cookie->iovad.granule)
		return NULL;
	return &cookie->iovad;
}

/* The pfns waiting in the flush queues (single, or every CPU's), for the harness's views. */
size_t dmadiff_iommu_dma_fq_pfns(struct device *dev, unsigned long *out, size_t max)
{
	struct iommu_domain *domain = dev->iommu_domain;
	struct iommu_dma_cookie *cookie = domain ? domain->iova_cookie : NULL;
	size_t n = 0;
	unsigned int idx;

	if (!cookie || !cookie->fq_domain)
		return 0;
	for (unsigned int q = 0; q < (cookie->single_fq ? 1 : cookie->nr_fq_cpus); q++) {
		struct iova_fq *fq = cookie->single_fq ? cookie->single_fq : cookie->percpu_fq[q];

		fq_ring_for_each(idx, fq) {
			if (n < max)
				out[n] = fq->entries[idx].iova_pfn;
			n++;
		}
	}
	return n;
}
