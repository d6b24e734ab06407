/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The boundary between the legacy C model and the Rust harness.
 *
 * The C model never touches memory, caches or the trace itself: every
 * platform effect goes through struct dmadiff_platform_ops, which the Rust
 * side fills with trampolines into the one mock platform both mappers share.
 * Everything the model remembers between calls lives in struct dmadiff_ctx,
 * so two runs never see each other's state.
 */
#ifndef DMADIFF_PLATFORM_H
#define DMADIFF_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t dmadiff_phys_t;
typedef uint64_t dmadiff_dma_t;

/* How a printk-class report was raised; mirrors the kernel macro used. */
enum dmadiff_report_kind {
	DMADIFF_REPORT_WARN_ON = 0,	/* WARN_ON_ONCE(cond): text is the condition */
	DMADIFF_REPORT_DEV_WARN = 1,	/* dev_WARN_ONCE(dev, 1, fmt, ...) */
	DMADIFF_REPORT_DEV_ERR = 2,	/* dev_err / dev_err_once */
	DMADIFF_REPORT_BUG = 3,		/* BUG_ON(cond): the call does not return */
	DMADIFF_REPORT_DEV_WARNING = 4,	/* dev_warn / dev_warn_ratelimited: a message, no backtrace */
	DMADIFF_REPORT_WARN_ON_ALWAYS = 5,	/* WARN_ON(cond), not once: text is the condition */
};

struct dmadiff_platform_ops {
	void *priv;
	/* arch hooks, only called for non-coherent devices (include/linux/dma-map-ops.h) */
	void (*arch_sync_dma_for_device)(void *priv, dmadiff_phys_t paddr, uint64_t size, int32_t dir);
	void (*arch_sync_dma_for_cpu)(void *priv, dmadiff_phys_t paddr, uint64_t size, int32_t dir);
	void (*arch_sync_dma_for_cpu_all)(void *priv);
	void (*arch_dma_mark_clean)(void *priv, dmadiff_phys_t paddr, uint64_t size);
	/* memory-model queries */
	bool (*pfn_valid)(void *priv, uint64_t pfn);
	bool (*is_pci_p2pdma_page)(void *priv, uint64_t pfn);
	bool (*is_vmalloc_addr)(void *priv, uint64_t addr);	/* a kernel virtual address */
	/* tracepoints of include/trace/events/dma.h, by class */
	void (*trace_dma_map)(void *priv, const char *event, dmadiff_phys_t phys, dmadiff_dma_t dma,
			      uint64_t size, int32_t dir, uint64_t attrs);
	void (*trace_dma_unmap)(void *priv, const char *event, dmadiff_dma_t addr, uint64_t size,
				int32_t dir, uint64_t attrs);
	void (*trace_dma_sync_single)(void *priv, const char *event, dmadiff_dma_t addr,
				      uint64_t size, int32_t dir);
	/*
	 * The scatterlist classes (dma_map_sg, dma_map_sg_err, dma_unmap_sg, dma_sync_sg):
	 * the sg_phys() of nr_phys entries, the sg_dma_address()/sg_dma_len() of nr_dma
	 * entries, err (dma_map_sg_err), dir and attrs, as each event records them.
	 */
	void (*trace_dma_sg)(void *priv, const char *event, const dmadiff_phys_t *phys,
			     uint32_t nr_phys, const dmadiff_dma_t *dma, const uint32_t *len,
			     uint32_t nr_dma, int64_t err, int32_t dir, uint64_t attrs);
	/* printk: func is the kernel function that raised it, text the formatted message */
	void (*report)(void *priv, int32_t kind, const char *func, const char *text);
	/* memcpy() by the CPU between two linear-map addresses (through its cache) */
	void (*cpu_memcpy)(void *priv, dmadiff_phys_t dst, dmadiff_phys_t src, uint64_t size);
	/* memset() by the CPU of a linear-map range (through its cache) */
	void (*cpu_memset)(void *priv, dmadiff_phys_t dst, uint8_t value, uint64_t size);
	/* memset(0) of memory at boot, before any DMA (swiotlb pool initialisation) */
	void (*boot_memzero)(void *priv, dmadiff_phys_t start, uint64_t size);
	/* tracepoint swiotlb_bounced of include/trace/events/swiotlb.h */
	void (*trace_swiotlb_bounced)(void *priv, dmadiff_dma_t dev_addr, uint64_t size, bool force);
	/*
	 * The mock IOMMU's page table of the device's domain (drivers/iommu/iommu.c entry
	 * points; the platform checks alignment and exact cover and traces map/unmap).
	 */
	int (*iommu_map)(void *priv, uint64_t iova, dmadiff_phys_t paddr, uint64_t size, int32_t prot);
	uint64_t (*iommu_unmap)(void *priv, uint64_t iova, uint64_t size);	/* bytes unmapped */
	dmadiff_phys_t (*iommu_iova_to_phys)(void *priv, uint64_t iova);	/* 0: not mapped */
	void (*iommu_iotlb_sync)(void *priv, uint64_t iova, uint64_t size);	/* a gather's range */
	void (*iommu_flush_iotlb_all)(void *priv);
	/*
	 * PCI P2PDMA (drivers/pci/p2pdma.c): how the device reaches the P2PDMA page at pfn,
	 * as enum pci_p2pdma_map_type (PCI_P2PDMA_MAP_NONE for a page that is not P2PDMA
	 * memory); for a provider page *bus_offset gets its pgmap's bus_offset and *pgmap
	 * a token naming the dev_pagemap.
	 */
	int32_t (*pci_p2pdma_map_type)(void *priv, uint64_t pfn, uint64_t *bus_offset, uint64_t *pgmap);
};

/* enum pci_p2pdma_map_type (include/linux/pci-p2pdma.h, v6.16), in the kernel's order */
enum dmadiff_p2pdma_map_type {
	DMADIFF_P2PDMA_MAP_UNKNOWN = 0,
	DMADIFF_P2PDMA_MAP_NONE = 1,
	DMADIFF_P2PDMA_MAP_NOT_SUPPORTED = 2,
	DMADIFF_P2PDMA_MAP_BUS_ADDR = 3,
	DMADIFF_P2PDMA_MAP_THRU_HOST_BRIDGE = 4,
};

/*
 * One struct scatterlist entry as the harness hands it over: the list flattened in
 * sg_next() order. chain_after marks an sg_chain() link after the entry; the model
 * rebuilds real chained arrays from the marks, so sg_next() crosses them.
 */
struct dmadiff_sg_entry {
	dmadiff_phys_t page;		/* page_to_phys(sg_page(sg)) */
	uint32_t offset;
	uint32_t length;
	dmadiff_dma_t dma_address;
	uint32_t dma_length;		/* sg_dma_len() */
	uint32_t dma_flags;		/* SG_DMA_BUS_ADDRESS (1 << 0), SG_DMA_SWIOTLB (1 << 1) */
	bool chain_after;
};

/* struct dma_iova_state of the two-step API */
struct dmadiff_iova_state {
	dmadiff_dma_t addr;
	uint64_t size;			/* __size, DMA_IOVA_USE_SWIOTLB in bit 63 */
};

/* How the kernel booted swiotlb for the device. */
enum dmadiff_swiotlb_mode {
	DMADIFF_SWIOTLB_OFF = 0,	/* swiotlb=noforce: no pool allocated at all */
	DMADIFF_SWIOTLB_ON = 1,		/* the default pool, bouncing only when needed */
	DMADIFF_SWIOTLB_FORCE = 2,	/* swiotlb=force: the default pool, force_bounce */
	DMADIFF_SWIOTLB_RESTRICTED = 3,	/* a restricted-dma-pool of the device: force_bounce */
};

struct dmadiff_swiotlb_config {
	int32_t mode;		/* enum dmadiff_swiotlb_mode */
	dmadiff_phys_t start;	/* physical base of the pool (inside a RAM region) */
	uint64_t nslabs;	/* swiotlb=<nslabs> as given (default pool: rounded by the kernel rules);
				 * restricted pool: its size >> IO_TLB_SHIFT, used as is */
	uint32_t nareas;	/* swiotlb=,<nareas> as given; 0: from num_possible_cpus() */
};

/* One entry of the device's dma_range_map (struct bus_dma_region). */
struct dmadiff_bus_dma_region {
	dmadiff_phys_t cpu_start;
	dmadiff_dma_t dma_start;
	uint64_t size;
};

/* What the device's default domain is (iommu_def_domain_type, after the driver's say). */
enum dmadiff_iommu_domain_type {
	DMADIFF_IOMMU_NONE = 0,		/* no IOMMU: dma-direct */
	DMADIFF_IOMMU_IDENTITY = 1,	/* IOMMU_DOMAIN_IDENTITY: passthrough, dma-direct */
	DMADIFF_IOMMU_DMA = 2,		/* IOMMU_DOMAIN_DMA: strict invalidation */
	DMADIFF_IOMMU_DMA_FQ = 3,	/* IOMMU_DOMAIN_DMA_FQ: lazy, through the flush queue */
};

/* enum iommu_resv_type, in the kernel's order */
enum dmadiff_iommu_resv_type {
	DMADIFF_IOMMU_RESV_DIRECT = 0,
	DMADIFF_IOMMU_RESV_DIRECT_RELAXABLE = 1,
	DMADIFF_IOMMU_RESV_RESERVED = 2,
	DMADIFF_IOMMU_RESV_MSI = 3,
	DMADIFF_IOMMU_RESV_SW_MSI = 4,
};

/* One struct iommu_resv_region of iommu_get_resv_regions(dev), in list order. */
struct dmadiff_iommu_resv_region {
	dmadiff_phys_t start;
	uint64_t length;
	int32_t type;		/* enum dmadiff_iommu_resv_type */
};

/* One IORESOURCE_MEM window of the PCI host bridge (resource_entry: res, offset). */
struct dmadiff_pci_window {
	uint64_t start;
	uint64_t end;		/* inclusive, as struct resource */
	uint64_t offset;
};

struct dmadiff_iommu_config {
	int32_t domain_type;		/* enum dmadiff_iommu_domain_type */
	uint64_t pgsize_bitmap;		/* the granule is its lowest set bit */
	uint64_t aperture_start;
	uint64_t aperture_end;		/* inclusive */
	bool force_aperture;
	bool deferred_flush;		/* IOMMU_CAP_DEFERRED_FLUSH */
	bool shadow_on_flush;		/* dev->iommu->shadow_on_flush: one big flush queue */
	bool forcedac;			/* iommu.forcedac=1 */
	const struct dmadiff_iommu_resv_region *resv;
	uint64_t nr_resv;
	const struct dmadiff_pci_window *pci_windows;	/* only read for PCI devices */
	uint64_t nr_pci_windows;
};

/* The device and the kernel configuration the model runs under. */
struct dmadiff_device_config {
	const char *name;			/* dev_name() */
	const char *driver;			/* dev_driver_string() */
	bool has_dma_mask;			/* false: dev->dma_mask == NULL */
	uint64_t dma_mask;
	uint64_t bus_dma_limit;
	bool dma_coherent;			/* dev_is_dma_coherent() */
	const struct dmadiff_bus_dma_region *dma_range_map;
	uint64_t nr_dma_ranges;		/* 0: no dma_range_map */
	/* kernel configuration */
	bool dma_bounce_unaligned_kmalloc;	/* CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC */
	uint32_t arch_dma_minalign;		/* ARCH_DMA_MINALIGN */
	bool dma_api_debug;			/* CONFIG_DMA_API_DEBUG */
	uint32_t nr_cpus;			/* num_possible_cpus() */
	/* dev->dma_parms; has_dma_parms false: no dma_parms (min_align 0, boundary ULONG_MAX, 64K) */
	bool has_dma_parms;
	uint64_t min_align_mask;
	uint64_t seg_boundary_mask;		/* 0: not set (dma_get_seg_boundary gives ULONG_MAX) */
	uint32_t max_segment_size;		/* 0: not set (dma_get_max_seg_size gives SZ_64K) */
	struct dmadiff_swiotlb_config swiotlb;
	bool is_pci;				/* dev_is_pci() */
	bool untrusted;				/* pci_dev->untrusted (external-facing port) */
	struct dmadiff_iommu_config iommu;
};

/* The calls the harness can make into the model. */
enum dmadiff_call_kind {
	DMADIFF_CALL_MAP_PAGE_ATTRS = 0,	/* dma_map_page_attrs(page, offset, size, dir, attrs) */
	DMADIFF_CALL_UNMAP_PAGE_ATTRS = 1,	/* dma_unmap_page_attrs(addr, size, dir, attrs) */
	DMADIFF_CALL_MAP_RESOURCE = 2,		/* dma_map_resource(phys, size, dir, attrs) */
	DMADIFF_CALL_UNMAP_RESOURCE = 3,	/* dma_unmap_resource(addr, size, dir, attrs) */
	DMADIFF_CALL_MAP_PHYS = 4,		/* a dma_map_phys() request, expressed the legacy way */
	DMADIFF_CALL_UNMAP_PHYS = 5,		/* a dma_unmap_phys() request, expressed the legacy way */
	DMADIFF_CALL_SYNC_SINGLE_FOR_CPU = 6,	/* dma_sync_single_for_cpu(addr, size, dir) */
	DMADIFF_CALL_SYNC_SINGLE_FOR_DEVICE = 7,/* dma_sync_single_for_device(addr, size, dir) */
	DMADIFF_CALL_MAPPING_ERROR = 8,		/* dma_mapping_error(addr) */
	/* swiotlb, driven directly (allocator-level scenarios) */
	DMADIFF_CALL_SWIOTLB_TBL_MAP_SINGLE = 9,	/* (orig=addr, mapping_size=size, alloc_align_mask=offset, dir, attrs) -> tlb_addr */
	DMADIFF_CALL_SWIOTLB_TBL_UNMAP_SINGLE = 10,	/* (tlb_addr=addr, size, dir, attrs) */
	DMADIFF_CALL_SWIOTLB_SYNC_SINGLE_FOR_CPU = 11,	/* (tlb_addr=addr, size, dir) */
	DMADIFF_CALL_SWIOTLB_SYNC_SINGLE_FOR_DEVICE = 12,/* (tlb_addr=addr, size, dir) */
	DMADIFF_CALL_SWIOTLB_MAX_MAPPING_SIZE = 13,	/* -> swiotlb_max_mapping_size(dev) */
	DMADIFF_CALL_IS_SWIOTLB_ACTIVE = 14,		/* -> 0 or 1 */
	DMADIFF_CALL_IS_SWIOTLB_FORCE_BOUNCE = 15,	/* -> 0 or 1 */
	DMADIFF_CALL_DMA_KMALLOC_NEEDS_BOUNCE = 16,	/* (size, dir) -> 0 or 1 */
	/* the environment of later calls */
	DMADIFF_CALL_SET_MIN_ALIGN_MASK = 17,		/* dma_set_min_align_mask(dev, addr) */
	DMADIFF_CALL_SET_SEG_BOUNDARY = 18,		/* dma_set_seg_boundary(dev, addr) */
	DMADIFF_CALL_RUN_ON_CPU = 19,			/* raw_smp_processor_id() becomes addr */
	/* the iova allocator, driven directly on a domain of its own (allocator-level scenarios) */
	DMADIFF_CALL_IOVA_INIT = 20,		/* init_iova_domain(granule=addr, start_pfn=offset) + init_rcaches */
	DMADIFF_CALL_ALLOC_IOVA = 21,		/* alloc_iova(size, limit_pfn=addr, size_aligned=attrs) -> node */
	DMADIFF_CALL_FREE_IOVA = 22,		/* free_iova(pfn=addr) */
	DMADIFF_CALL_FIND_IOVA = 23,		/* find_iova(pfn=addr) -> node */
	DMADIFF_CALL_RESERVE_IOVA = 24,		/* reserve_iova(pfn_lo=addr, pfn_hi=offset) -> node */
	DMADIFF_CALL_ALLOC_IOVA_FAST = 25,	/* alloc_iova_fast(size, limit_pfn=addr, flush_rcache=attrs) -> pfn */
	DMADIFF_CALL_FREE_IOVA_FAST = 26,	/* free_iova_fast(pfn=addr, size) */
	DMADIFF_CALL_FREE_CPU_CACHED_IOVAS = 27,/* free_cpu_cached_iovas(cpu=addr): the cpuhp dead callback */
	/* time, as events: delayed work and timers run only when the scenario says so */
	DMADIFF_CALL_IOVA_DEPOT_WORK = 28,	/* iova_depot_work_func() of every pending rcache, every domain */
	DMADIFF_CALL_FQ_TIMEOUT = 29,		/* fq_flush_timeout() if the flush-queue timer is armed */
	DMADIFF_CALL_DMA_OPT_MAPPING_SIZE = 30,	/* -> dma_opt_mapping_size(dev) for an IOMMU device */
	DMADIFF_CALL_DMA_MAX_MAPPING_SIZE = 31,	/* -> dma_max_mapping_size(dev) for an IOMMU device */
	DMADIFF_CALL_MAP_SINGLE = 32,		/* dma_map_single_attrs(ptr=addr, size, dir, attrs) */
	/* scatterlists, through dmadiff_call_sg() */
	DMADIFF_CALL_MAP_SG = 33,		/* dma_map_sg_attrs(sgl, nents=size, dir, attrs) -> int */
	DMADIFF_CALL_MAP_SGTABLE = 34,		/* dma_map_sgtable(sgt{orig_nents=size, nents=offset}, dir, attrs) -> int, value2 = sgt->nents */
	DMADIFF_CALL_UNMAP_SG = 35,		/* dma_unmap_sg_attrs(sgl, nents=size, dir, attrs) */
	DMADIFF_CALL_SYNC_SG_FOR_CPU = 36,	/* dma_sync_sg_for_cpu(sgl, nelems=size, dir) */
	DMADIFF_CALL_SYNC_SG_FOR_DEVICE = 37,	/* dma_sync_sg_for_device(sgl, nelems=size, dir) */
	/* the two-step IOVA API, through dmadiff_call_iova() */
	DMADIFF_CALL_IOVA_TRY_ALLOC = 38,	/* dma_iova_try_alloc(state, phys=addr, size) -> bool */
	DMADIFF_CALL_IOVA_LINK = 39,		/* dma_iova_link(state, phys=addr, offset, size, dir, attrs) -> int */
	DMADIFF_CALL_IOVA_SYNC = 40,		/* dma_iova_sync(state, offset, size) -> int */
	DMADIFF_CALL_IOVA_UNLINK = 41,		/* dma_iova_unlink(state, offset, size, dir, attrs) */
	DMADIFF_CALL_IOVA_DESTROY = 42,		/* dma_iova_destroy(state, mapped_len=size, dir, attrs) */
	DMADIFF_CALL_IOVA_FREE = 43,		/* dma_iova_free(state) */
};

/* What a call returned: a value, and for struct iova results the node (NULL: is_null). */
struct dmadiff_result {
	uint64_t value;		/* dma_addr_t, int widened with its sign, size_t, pfn_lo */
	uint64_t value2;	/* pfn_hi of a returned struct iova */
	bool is_null;		/* a struct iova * call returned NULL */
};

struct dmadiff_call {
	int32_t kind;		/* enum dmadiff_call_kind */
	int32_t dir;		/* enum dma_data_direction, carried unchecked */
	uint64_t addr;		/* page_to_phys(page), phys or dma address, per kind */
	uint64_t offset;	/* dma_map_page_attrs only */
	uint64_t size;
	uint64_t attrs;		/* unknown bits are carried */
};

struct dmadiff_ctx;

/* Boots the model; boot-time platform effects (the swiotlb pool memset) go through ops. */
struct dmadiff_ctx *dmadiff_ctx_new(const struct dmadiff_device_config *cfg,
				    const struct dmadiff_platform_ops *ops);
void dmadiff_ctx_free(struct dmadiff_ctx *ctx);

/*
 * Run one call. *res receives the dma_addr_t (map calls), the int return widened to
 * 64 bits, or the struct iova returned; void calls leave it zeroed.
 * Returns 0, or 1 when the call hit BUG(): the kernel would have oopsed, so
 * the harness treats the context as dead from then on.
 */
int dmadiff_call(struct dmadiff_ctx *ctx, const struct dmadiff_platform_ops *ops,
		 const struct dmadiff_call *call, struct dmadiff_result *res);

/*
 * Run one scatterlist call on the nr entries at sgl (flattened; chain_after marks the
 * sg_chain() links). The entries are updated in place as the kernel updates them.
 * Same return as dmadiff_call().
 */
int dmadiff_call_sg(struct dmadiff_ctx *ctx, const struct dmadiff_platform_ops *ops,
		    const struct dmadiff_call *call, struct dmadiff_sg_entry *sgl, uint32_t nr,
		    struct dmadiff_result *res);

/* Run one two-step IOVA call on *state (updated in place). Same return as dmadiff_call(). */
int dmadiff_call_iova(struct dmadiff_ctx *ctx, const struct dmadiff_platform_ops *ops,
		      const struct dmadiff_call *call, struct dmadiff_iova_state *state,
		      struct dmadiff_result *res);

/*
 * Read-only views of the swiotlb allocator state, for the invariant checks the harness
 * runs on each side. Slots are stored per 128-slot segment and materialised on first
 * write, so a 64 MiB pool costs what a 1 MiB pool costs; an untouched slot reads as its
 * initial state.
 */
struct dmadiff_swiotlb_pool_info {
	dmadiff_phys_t start;
	dmadiff_phys_t end;
	uint64_t nslabs;
	uint32_t nareas;
	uint64_t area_nslabs;
	bool force_bounce;
};

struct dmadiff_swiotlb_slot_info {
	dmadiff_phys_t orig_addr;
	uint64_t alloc_size;
	uint32_t list;
	uint32_t pad_slots;
};

struct dmadiff_swiotlb_area_info {
	uint64_t index;
	uint64_t used;
};

/* Returns false when the device has no pool (mode OFF). */
bool dmadiff_swiotlb_pool(const struct dmadiff_ctx *ctx, struct dmadiff_swiotlb_pool_info *out);
void dmadiff_swiotlb_slot(const struct dmadiff_ctx *ctx, uint64_t index, struct dmadiff_swiotlb_slot_info *out);
void dmadiff_swiotlb_area(const struct dmadiff_ctx *ctx, uint32_t area, struct dmadiff_swiotlb_area_info *out);
/* Segment numbers (slot index / 128) ever written, ascending; returns how many there are. */
uint64_t dmadiff_swiotlb_touched_segments(const struct dmadiff_ctx *ctx, uint64_t *out, uint64_t max);

/* Which iova_domain a view reads. */
enum dmadiff_iova_which {
	DMADIFF_IOVA_STANDALONE = 0,	/* the one DMADIFF_CALL_IOVA_INIT made */
	DMADIFF_IOVA_DMA_DOMAIN = 1,	/* the iommu_dma_cookie's of the device's DMA domain */
};

struct dmadiff_iova_range {
	uint64_t pfn_lo;
	uint64_t pfn_hi;
};

/*
 * The tree's nodes (anchor excluded) in ascending order: up to max into out; returns how
 * many there are, or -1 when that domain does not exist.
 */
int64_t dmadiff_iova_nodes(const struct dmadiff_ctx *ctx, int32_t which,
			   struct dmadiff_iova_range *out, uint64_t max);

/*
 * The pfns a domain holds for reuse: its range caches and, for the DMA domain, its flush
 * queues. Up to max into out; returns how many there are, or -1 when the domain does not
 * exist.
 */
int64_t dmadiff_iova_parked(const struct dmadiff_ctx *ctx, int32_t which, uint64_t *out, uint64_t max);

#endif /* DMADIFF_PLATFORM_H */
