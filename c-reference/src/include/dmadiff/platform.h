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
	/* tracepoints of include/trace/events/dma.h, by class */
	void (*trace_dma_map)(void *priv, const char *event, dmadiff_phys_t phys, dmadiff_dma_t dma,
			      uint64_t size, int32_t dir, uint64_t attrs);
	void (*trace_dma_unmap)(void *priv, const char *event, dmadiff_dma_t addr, uint64_t size,
				int32_t dir, uint64_t attrs);
	void (*trace_dma_sync_single)(void *priv, const char *event, dmadiff_dma_t addr,
				      uint64_t size, int32_t dir);
	/* printk: func is the kernel function that raised it, text the formatted message */
	void (*report)(void *priv, int32_t kind, const char *func, const char *text);
};

/* One entry of the device's dma_range_map (struct bus_dma_region). */
struct dmadiff_bus_dma_region {
	dmadiff_phys_t cpu_start;
	dmadiff_dma_t dma_start;
	uint64_t size;
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

struct dmadiff_ctx *dmadiff_ctx_new(const struct dmadiff_device_config *cfg);
void dmadiff_ctx_free(struct dmadiff_ctx *ctx);

/*
 * Run one call. *ret receives the dma_addr_t (map calls) or the int return
 * (dma_mapping_error) widened to 64 bits; void calls leave it at 0.
 * Returns 0, or 1 when the call hit BUG(): the kernel would have oopsed, so
 * the harness treats the context as dead from then on.
 */
int dmadiff_call(struct dmadiff_ctx *ctx, const struct dmadiff_platform_ops *ops,
		 const struct dmadiff_call *call, uint64_t *ret);

#endif /* DMADIFF_PLATFORM_H */
