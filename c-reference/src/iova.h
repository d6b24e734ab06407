/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * include/linux/iova.h (v6.16): the IOVA allocator of drivers/iommu/iova.c.
 *
 * The rb-tree is modelled as an ordered array of node pointers: results depend only on
 * the tree's contents (iova_find_limit() is semantically neutral, spec dma-iommu.md §1.9),
 * and the cached nodes are node identities, as in the kernel. The per-CPU range caches
 * take the CPU from raw_smp_processor_id(iovad->dev), and the depot
 * trim work runs only when the harness fires it: no time passes inside a scenario.
 */
#ifndef DMADIFF_IOVA_H
#define DMADIFF_IOVA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct device;

/* iova.c's constants (v6.7+) */
#define IOVA_RANGE_CACHE_MAX_SIZE	6	/* log of max cached IOVA range size (in pages) */
#define IOVA_MAG_SIZE			127	/* a 1024-byte struct iova_magazine */
#define IOVA_DEPOT_DELAY_MS		100
#define IOVA_ANCHOR			(~0UL)

struct iova {
	unsigned long pfn_hi;	/* Highest allocated pfn */
	unsigned long pfn_lo;	/* Lowest allocated pfn */
};

struct iova_magazine {
	unsigned long size;
	struct iova_magazine *next;	/* depot list link (the kernel unions it with size) */
	unsigned long pfns[IOVA_MAG_SIZE];
};

struct iova_cpu_rcache {
	struct iova_magazine *loaded;
	struct iova_magazine *prev;
};

struct iova_rcache {
	struct iova_magazine *depot;	/* LIFO list of full magazines */
	unsigned int depot_size;
	bool work_pending;		/* delayed work queued (schedule_delayed_work() is not re-armed) */
	struct iova_cpu_rcache *cpu_rcaches;	/* nr_cpus entries */
};

struct iova_domain {
	/* the rb-tree: nodes sorted by pfn_lo; the anchor is always last */
	struct iova **nodes;
	size_t nr_nodes;
	size_t cap_nodes;
	struct iova *cached_node;	/* Save last alloced node */
	struct iova *cached32_node;	/* Save last 32-bit alloced node */
	unsigned long granule;		/* pfn granularity for this domain */
	unsigned long start_pfn;	/* Lower limit for this domain */
	unsigned long dma_32bit_pfn;
	unsigned long max32_alloc_size;	/* Size of last failed allocation */
	struct iova anchor;		/* rbtree lookup anchor */
	struct iova_rcache *rcaches;	/* NULL until iova_domain_init_rcaches() */
	/* model-only */
	unsigned int nr_cpus;		/* num_possible_cpus() == num_online_cpus() */
	struct device *dev;		/* raw_smp_processor_id() and the WARNs go through it */
};

/* models iova_shift() */
static inline unsigned long iova_shift(struct iova_domain *iovad)
{
	return (unsigned long)__builtin_ctzl(iovad->granule);
}

/* models iova_mask() */
static inline unsigned long iova_mask(struct iova_domain *iovad)
{
	return iovad->granule - 1;
}

/* models iova_size() */
static inline size_t iova_size(struct iova *iova)
{
	return iova->pfn_hi - iova->pfn_lo + 1;
}

/* models iova_offset() */
static inline size_t iova_offset(struct iova_domain *iovad, uint64_t iova)
{
	return iova & iova_mask(iovad);
}

/* models iova_align() */
static inline size_t iova_align(struct iova_domain *iovad, size_t size)
{
	return (size + iovad->granule - 1) & ~(size_t)(iovad->granule - 1);
}

/* models iova_align_down() */
static inline size_t iova_align_down(struct iova_domain *iovad, size_t size)
{
	return size & ~(size_t)(iovad->granule - 1);
}

/* models iova_dma_addr() */
static inline uint64_t iova_dma_addr(struct iova_domain *iovad, struct iova *iova)
{
	return (uint64_t)iova->pfn_lo << iova_shift(iovad);
}

/* models iova_pfn() */
static inline unsigned long iova_pfn(struct iova_domain *iovad, uint64_t iova)
{
	return iova >> iova_shift(iovad);
}

/* BUG_ON()s (through iovad->dev) on a granule that is not a power of two or > PAGE_SIZE */
void init_iova_domain(struct iova_domain *iovad, unsigned long granule,
		      unsigned long start_pfn, struct device *dev);
int iova_domain_init_rcaches(struct iova_domain *iovad, unsigned int nr_cpus);
void put_iova_domain(struct iova_domain *iovad);

struct iova *alloc_iova(struct iova_domain *iovad, unsigned long size,
			unsigned long limit_pfn, bool size_aligned);
void free_iova(struct iova_domain *iovad, unsigned long pfn);
void __free_iova(struct iova_domain *iovad, struct iova *iova);
struct iova *find_iova(struct iova_domain *iovad, unsigned long pfn);
struct iova *reserve_iova(struct iova_domain *iovad, unsigned long pfn_lo,
			  unsigned long pfn_hi);

unsigned long alloc_iova_fast(struct iova_domain *iovad, unsigned long size,
			      unsigned long limit_pfn, bool flush_rcache);
void free_iova_fast(struct iova_domain *iovad, unsigned long pfn,
		    unsigned long size);
void free_cpu_cached_iovas(unsigned int cpu, struct iova_domain *iovad);
unsigned long iova_rcache_range(void);

/* The depot trim work of every rcache whose work is pending: one IOVA_DEPOT_DELAY tick. */
void iova_depot_work_tick(struct iova_domain *iovad);

/* The pfns held in the range caches (every CPU's loaded and prev, the depots); copies up to
 * max and returns how many there are. */
size_t iova_dump_cached_pfns(const struct iova_domain *iovad, unsigned long *out, size_t max);

/* Copies up to max nodes (anchor excluded) in ascending order; returns how many exist. */
size_t iova_dump_nodes(const struct iova_domain *iovad, struct iova *out, size_t max);

#endif /* DMADIFF_IOVA_H */
