/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * include/linux/swiotlb.h (v6.16) for CONFIG_SWIOTLB without
 * CONFIG_SWIOTLB_DYNAMIC: one pool per io_tlb_mem, the pool lookup and the
 * sync/unmap wrappers as header inlines (since v6.11 "swiotlb: reduce
 * swiotlb pool lookups"; there is no is_swiotlb_buffer() any more).
 *
 * Model deviations: the file-scope state of kernel/dma/swiotlb.c (the
 * default io_tlb_mem, default_nslabs, ...) lives in struct swiotlb_globals,
 * one per boot, reached through dev->swiotlb; and a pool's slot array is
 * stored sparsely, one 128-slot segment at a time (see swiotlb.c).
 */
#ifndef DMADIFF_SWIOTLB_H
#define DMADIFF_SWIOTLB_H

#include "dma-mapping.h"

#define SWIOTLB_VERBOSE	(1 << 0) /* verbose initialization */
#define SWIOTLB_FORCE	(1 << 1) /* force bounce buffering */
#define SWIOTLB_ANY	(1 << 2) /* allow any memory for the buffer */

/* Maximum allowable number of contiguous slabs to map; a power of 2. */
#define IO_TLB_SEGSIZE	128

/* log of the size of each IO TLB slab */
#define IO_TLB_SHIFT 11
#define IO_TLB_SIZE (1 << IO_TLB_SHIFT)

/* default to 64MB */
#define IO_TLB_DEFAULT_SIZE (64UL<<20)

struct io_tlb_slot;

/* struct io_tlb_area (private to kernel/dma/swiotlb.c); the spinlock is not modelled */
struct io_tlb_area {
	unsigned long used;
	unsigned int index;
};

/* struct io_tlb_pool, with slots[] stored per 128-slot segment */
struct io_tlb_pool {
	phys_addr_t start;
	phys_addr_t end;
	unsigned long nslabs;
	bool late_alloc;
	unsigned int nareas;
	unsigned int area_nslabs;
	struct io_tlb_area *areas;
	/* model-only: slots[] as segs[i / 128][i % 128]; NULL = never written */
	struct io_tlb_slot **segs;
	unsigned long nsegs;
};

/* struct io_tlb_mem without DYNAMIC or DEBUG_FS */
struct io_tlb_mem {
	struct io_tlb_pool defpool;
	unsigned long nslabs;
	bool force_bounce;
	bool for_alloc;
};

/* The file-scope state of kernel/dma/swiotlb.c for one boot (model-only). */
struct swiotlb_globals {
	struct io_tlb_mem io_tlb_default_mem;
	unsigned long default_nslabs;
	unsigned long default_nareas;
	bool swiotlb_force_bounce;
	bool swiotlb_force_disable;
	/* the restricted-dma-pool's rmem->priv, when the device has one */
	struct io_tlb_mem *rmem;
	int mode;			/* enum dmadiff_swiotlb_mode the boot ran */
};

/* models swiotlb_find_pool() without CONFIG_SWIOTLB_DYNAMIC */
static inline struct io_tlb_pool *swiotlb_find_pool(struct device *dev,
		phys_addr_t paddr)
{
	struct io_tlb_mem *mem = dev->dma_io_tlb_mem;

	if (!mem)
		return NULL;

	if (paddr >= mem->defpool.start && paddr < mem->defpool.end)
		return &mem->defpool;

	return NULL;
}

/* models is_swiotlb_force_bounce() */
static inline bool is_swiotlb_force_bounce(struct device *dev)
{
	struct io_tlb_mem *mem = dev->dma_io_tlb_mem;

	return mem && mem->force_bounce;
}

/* Boots swiotlb as cfg says (model-only): 0, or -1 for a configuration no kernel boots with. */
int dmadiff_swiotlb_boot(struct device *dev, struct swiotlb_globals *g,
		const struct dmadiff_swiotlb_config *cfg, unsigned int nr_cpus);
/* Frees what dmadiff_swiotlb_boot() allocated (model-only). */
void dmadiff_swiotlb_teardown(struct swiotlb_globals *g);
/* Read-only views for platform.h (model-only). */
bool dmadiff_swiotlb_pool_info(const struct device *dev,
		struct dmadiff_swiotlb_pool_info *out);
void dmadiff_swiotlb_slot_info(const struct device *dev, uint64_t index,
		struct dmadiff_swiotlb_slot_info *out);
void dmadiff_swiotlb_area_info(const struct device *dev, uint32_t area,
		struct dmadiff_swiotlb_area_info *out);
uint64_t dmadiff_swiotlb_touched(const struct device *dev, uint64_t *out,
		uint64_t max);

size_t swiotlb_max_mapping_size(struct device *dev);
bool is_swiotlb_allocated(const struct device *dev);
bool is_swiotlb_active(struct device *dev);

phys_addr_t swiotlb_tbl_map_single(struct device *dev, phys_addr_t phys,
		size_t mapping_size, unsigned int alloc_aligned_mask,
		enum dma_data_direction dir, unsigned long attrs);
dma_addr_t swiotlb_map(struct device *dev, phys_addr_t phys,
		size_t size, enum dma_data_direction dir, unsigned long attrs);

void __swiotlb_tbl_unmap_single(struct device *dev, phys_addr_t tlb_addr,
		size_t mapping_size, enum dma_data_direction dir,
		unsigned long attrs, struct io_tlb_pool *pool);

/* models swiotlb_tbl_unmap_single(): acts only on pool addresses */
static inline void swiotlb_tbl_unmap_single(struct device *dev,
		phys_addr_t addr, size_t size, enum dma_data_direction dir,
		unsigned long attrs)
{
	struct io_tlb_pool *pool = swiotlb_find_pool(dev, addr);

	if (unlikely(pool))
		__swiotlb_tbl_unmap_single(dev, addr, size, dir, attrs, pool);
}

void __swiotlb_sync_single_for_device(struct device *dev, phys_addr_t tlb_addr,
		size_t size, enum dma_data_direction dir,
		struct io_tlb_pool *pool);

/* models swiotlb_sync_single_for_device(): acts only on pool addresses */
static inline void swiotlb_sync_single_for_device(struct device *dev,
		phys_addr_t addr, size_t size, enum dma_data_direction dir)
{
	struct io_tlb_pool *pool = swiotlb_find_pool(dev, addr);

	if (unlikely(pool))
		__swiotlb_sync_single_for_device(dev, addr, size, dir, pool);
}

void __swiotlb_sync_single_for_cpu(struct device *dev, phys_addr_t tlb_addr,
		size_t size, enum dma_data_direction dir,
		struct io_tlb_pool *pool);

/* models swiotlb_sync_single_for_cpu(): acts only on pool addresses */
static inline void swiotlb_sync_single_for_cpu(struct device *dev,
		phys_addr_t addr, size_t size, enum dma_data_direction dir)
{
	struct io_tlb_pool *pool = swiotlb_find_pool(dev, addr);

	if (unlikely(pool))
		__swiotlb_sync_single_for_cpu(dev, addr, size, dir, pool);
}

/* memcpy(phys_to_virt(dst), phys_to_virt(src), size) by the CPU (platform effect, dmadiff.c) */
void dmadiff_memcpy_phys(struct device *dev, phys_addr_t dst, phys_addr_t src,
		size_t size);
/* memset(phys_to_virt(start), 0, size) at boot (platform effect, dmadiff.c) */
void dmadiff_boot_memzero(struct device *dev, phys_addr_t start, size_t size);
/* memset(phys_to_virt(dst), value, size): a CPU store through the cache */
void dmadiff_memset_phys(struct device *dev, phys_addr_t dst, u8 value, size_t size);

#endif /* DMADIFF_SWIOTLB_H */
