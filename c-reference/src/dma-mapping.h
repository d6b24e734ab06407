/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace stand-ins for what the legacy (v6.16) streaming DMA paths take
 * from include/linux/{types,mm,device,bug,dev_printk,dma-direction,
 * dma-mapping}.h, plus the front-end declarations of kernel/dma/mapping.c.
 *
 * Deviation from the kernel, everywhere: helpers that reach the platform
 * (printk, WARN, BUG, arch hooks, kernel config) take the struct device
 * explicitly, because the model has no globals and dev->ctx is the only
 * way to reach the ops table and the once-flags of this "boot".
 */
#ifndef DMADIFF_DMA_MAPPING_H
#define DMADIFF_DMA_MAPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <dmadiff/platform.h>

/* The model mirrors an LP64 kernel (arm64): size_t and unsigned long are 64-bit. */
_Static_assert(sizeof(size_t) == 8 && sizeof(unsigned long) == 8, "LP64 host required");

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef u64 phys_addr_t;	/* CONFIG_PHYS_ADDR_T_64BIT */
typedef u64 dma_addr_t;		/* CONFIG_ARCH_DMA_ADDR_T_64BIT */

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#define __stringify_1(x)	#x
#define __stringify(x)		__stringify_1(x)

#define EPERM		1
#define EIO		5
#define ENOMEM		12
#define EINVAL		22
#define EREMOTEIO	121
#define ULONG_MAX	(~0UL)
#define SZ_64K		0x00010000

/* 4K pages, as on the arm64 configuration the model follows */
#define PAGE_SHIFT	12
#define PAGE_SIZE	(1UL << PAGE_SHIFT)
#define PAGE_MASK	(~(PAGE_SIZE - 1))
#define PHYS_PFN(x)	((unsigned long)((x) >> PAGE_SHIFT))
#define PFN_PHYS(x)	((phys_addr_t)(x) << PAGE_SHIFT)
#define offset_in_page(p)	((unsigned long)(p) & ~PAGE_MASK)

#define ALIGN(x, a)		(((x) + ((__typeof__(x))(a) - 1)) & ~((__typeof__(x))(a) - 1))
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#define IS_ALIGNED(x, a)	(((x) & ((__typeof__(x))(a) - 1)) == 0)
#define min_not_zero(x, y) ({			\
	__typeof__(x) __x = (x);		\
	__typeof__(y) __y = (y);		\
	__x == 0 ? __y : ((__y == 0) ? __x : (__x < __y ? __x : __y)); })

/*
 * struct page is opaque: the pointer value is the pfn, and it is never
 * dereferenced; every page property is asked of the platform by pfn.
 */
struct page;
#define pfn_to_page(pfn)	((struct page *)(uintptr_t)(pfn))
#define page_to_pfn(page)	((unsigned long)(uintptr_t)(page))
#define page_to_phys(page)	PFN_PHYS(page_to_pfn(page))

/* container_of() of include/linux/container_of.h, without the type check */
#define container_of(ptr, type, member)	\
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* include/linux/dma-direction.h */
enum dma_data_direction {
	DMA_BIDIRECTIONAL = 0,
	DMA_TO_DEVICE = 1,
	DMA_FROM_DEVICE = 2,
	DMA_NONE = 3,
};

/* models valid_dma_direction() in include/linux/dma-direction.h */
static inline int valid_dma_direction(enum dma_data_direction dir)
{
	return dir == DMA_BIDIRECTIONAL || dir == DMA_TO_DEVICE ||
		dir == DMA_FROM_DEVICE;
}

/* Attribute bits of v6.16; bit 10 is unused there and nothing tests it. */
#define DMA_ATTR_WEAK_ORDERING		(1UL << 1)
#define DMA_ATTR_WRITE_COMBINE		(1UL << 2)
#define DMA_ATTR_NO_KERNEL_MAPPING	(1UL << 4)
#define DMA_ATTR_SKIP_CPU_SYNC		(1UL << 5)
#define DMA_ATTR_FORCE_CONTIGUOUS	(1UL << 6)
#define DMA_ATTR_ALLOC_SINGLE_PAGES	(1UL << 7)
#define DMA_ATTR_NO_WARN		(1UL << 8)
#define DMA_ATTR_PRIVILEGED		(1UL << 9)

#define DMA_MAPPING_ERROR		(~(dma_addr_t)0)

/* DMA_BIT_MASK() of include/linux/dma-mapping.h */
#define DMA_BIT_MASK(n)	(((n) == 64) ? ~0ULL : ((1ULL << (n)) - 1))

/* The kernel configuration this "boot" was built with (model-only). */
struct dmadiff_kconfig {
	bool dma_bounce_unaligned_kmalloc;	/* CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC */
	unsigned int arch_dma_minalign;		/* ARCH_DMA_MINALIGN */
	bool dma_api_debug;			/* CONFIG_DMA_API_DEBUG */
};

struct dmadiff_ctx;
struct bus_dma_region;
struct io_tlb_mem;
struct swiotlb_globals;
struct iommu_domain;
struct dev_iommu;

/* struct device_dma_parameters of include/linux/device.h */
struct device_dma_parameters {
	unsigned int max_segment_size;
	unsigned int min_align_mask;
	unsigned long segment_boundary_mask;
};

/* The subset of struct device (include/linux/device.h) these paths read. */
struct device {
	u64 *dma_mask;				/* NULL: no streaming DMA mask set */
	u64 coherent_dma_mask;
	u64 bus_dma_limit;
	const struct bus_dma_region *dma_range_map;
	struct device_dma_parameters *dma_parms;	/* NULL: the bus set up none */
	struct io_tlb_mem *dma_io_tlb_mem;	/* CONFIG_SWIOTLB */
	bool dma_coherent;
	bool dma_skip_sync;			/* CONFIG_DMA_NEED_SYNC */
	const char *name;			/* dev_name() */
	const char *driver;			/* dev_driver_string() */
	/* model-only */
	struct dmadiff_ctx *ctx;
	struct dmadiff_kconfig kconfig;
	struct swiotlb_globals *swiotlb;	/* swiotlb.c's file-scope state of this boot */
	unsigned int cpu;			/* what raw_smp_processor_id() returns now */
	unsigned int nr_cpus;			/* num_possible_cpus() == num_online_cpus() */
	/* IOMMU (include/linux/iommu.h); iommu_domain NULL: no IOMMU, dma-direct */
	struct iommu_domain *iommu_domain;	/* iommu_group->default_domain */
	struct dev_iommu *iommu;
	bool is_pci;				/* dev_is_pci() */
	bool untrusted;				/* to_pci_dev(dev)->untrusted */
	bool dma_iommu;				/* dev->dma_iommu: use_dma_iommu() */
};

/* models raw_smp_processor_id(): the CPU the harness runs the call on */
static inline int raw_smp_processor_id(const struct device *dev)
{
	return (int)dev->cpu;
}

static inline const char *dev_name(const struct device *dev)
{
	return dev->name;
}

static inline const char *dev_driver_string(const struct device *dev)
{
	return dev->driver;
}

/* ---- printk, WARN and BUG (implemented in dmadiff.c) ---- */

/* A once-site; per translation unit too, as each TU has its own copy of a header's static inline */
#define DMADIFF_SITE	__BASE_FILE__ ":" __FILE__ ":" __stringify(__LINE__)

bool dmadiff_once(struct device *dev, const char *site);
void dmadiff_report(struct device *dev, enum dmadiff_report_kind kind,
		    const char *func, const char *text);
void dmadiff_dev_report(struct device *dev, enum dmadiff_report_kind kind,
			const char *func, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
_Noreturn void dmadiff_bug(struct device *dev, const char *func,
			   const char *cond);

/* WARN_ON_ONCE(cond) of include/asm-generic/bug.h; evaluates to cond */
#define WARN_ON_ONCE(dev, condition) ({					\
	bool __ret_warn_on = !!(condition);				\
	if (unlikely(__ret_warn_on) && dmadiff_once(dev, DMADIFF_SITE))	\
		dmadiff_report(dev, DMADIFF_REPORT_WARN_ON, __func__,	\
			       #condition);				\
	unlikely(__ret_warn_on);					\
})

/* dev_WARN_ONCE() of include/linux/dev_printk.h: WARN_ONCE with "drv dev: " */
#define dev_WARN_ONCE(dev, condition, format, ...) ({			\
	bool __ret_do_once = !!(condition);				\
	if (unlikely(__ret_do_once) && dmadiff_once(dev, DMADIFF_SITE))	\
		dmadiff_dev_report(dev, DMADIFF_REPORT_DEV_WARN,	\
				   __func__, format, ##__VA_ARGS__);	\
	unlikely(__ret_do_once);					\
})

/* WARN_ON(cond) of include/asm-generic/bug.h: reports every time; evaluates to cond */
#define WARN_ON(dev, condition) ({					\
	bool __ret_warn_on = !!(condition);				\
	if (unlikely(__ret_warn_on))					\
		dmadiff_report(dev, DMADIFF_REPORT_WARN_ON_ALWAYS, __func__,	\
			       #condition);				\
	unlikely(__ret_warn_on);					\
})

/* dev_warn_once() of include/linux/dev_printk.h: a message, no backtrace */
#define dev_warn_once(dev, format, ...) do {				\
	if (dmadiff_once(dev, DMADIFF_SITE))				\
		dmadiff_dev_report(dev, DMADIFF_REPORT_DEV_WARNING,	\
				   __func__, format, ##__VA_ARGS__);	\
} while (0)

/* dev_notice() of include/linux/dev_printk.h: a message, no backtrace */
#define dev_notice(dev, format, ...)					\
	dmadiff_dev_report(dev, DMADIFF_REPORT_DEV_WARNING, __func__,	\
			   format, ##__VA_ARGS__)

/* pr_warn() of include/linux/printk.h without a pr_fmt: no "drv dev: " prefix */
void dmadiff_pr_report(struct device *dev, enum dmadiff_report_kind kind,
		       const char *func, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define pr_warn(dev, fmt, ...)	\
	dmadiff_pr_report(dev, DMADIFF_REPORT_DEV_WARNING, __func__, fmt, ##__VA_ARGS__)

/* dev_err_once() of include/linux/dev_printk.h */
#define dev_err_once(dev, format, ...) do {				\
	if (dmadiff_once(dev, DMADIFF_SITE))				\
		dmadiff_dev_report(dev, DMADIFF_REPORT_DEV_ERR,		\
				   __func__, format, ##__VA_ARGS__);	\
} while (0)

/* DEFAULT_RATELIMIT_BURST of include/linux/ratelimit_types.h */
#define DEFAULT_RATELIMIT_BURST		10

/* A ratelimit site: true while it has printed fewer than burst messages (no time passes). */
bool dmadiff_ratelimit(struct device *dev, const char *site, unsigned int burst);

/* dev_warn_ratelimited() of include/linux/dev_printk.h: one DEFINE_RATELIMIT_STATE per site */
#define dev_warn_ratelimited(dev, format, ...) do {				\
	if (dmadiff_ratelimit(dev, DMADIFF_SITE, DEFAULT_RATELIMIT_BURST))	\
		dmadiff_dev_report(dev, DMADIFF_REPORT_DEV_WARNING,		\
				   __func__, format, ##__VA_ARGS__);		\
} while (0)

/* BUG_ON(cond): report, then leave the call through the ctx's jmp_buf */
#define BUG_ON(dev, condition) do {					\
	if (unlikely(condition))					\
		dmadiff_bug(dev, __func__, #condition);			\
} while (0)

/* ---- kernel/dma/mapping.c front end ---- */

dma_addr_t dma_map_page_attrs(struct device *dev, struct page *page,
		size_t offset, size_t size, enum dma_data_direction dir,
		unsigned long attrs);

/* models is_vmalloc_addr() of include/linux/mm.h (asked of the platform) */
bool is_vmalloc_addr(struct device *dev, const void *x);

/* the linear map is the identity in this model: a pointer is its physical address */
#define virt_to_page(x)		pfn_to_page(PHYS_PFN((phys_addr_t)(uintptr_t)(x)))

/* models dma_map_single_attrs() in include/linux/dma-mapping.h */
static inline dma_addr_t dma_map_single_attrs(struct device *dev, void *ptr,
		size_t size, enum dma_data_direction dir, unsigned long attrs)
{
	/* DMA must never operate on areas that might be remapped. */
	if (dev_WARN_ONCE(dev, is_vmalloc_addr(dev, ptr),
			  "rejecting DMA map of vmalloc memory\n"))
		return DMA_MAPPING_ERROR;
	/* debug_dma_map_single(dev, ptr, size): the dma-debug shadow checker's */
	return dma_map_page_attrs(dev, virt_to_page(ptr), offset_in_page(ptr),
			size, dir, attrs);
}
void dma_unmap_page_attrs(struct device *dev, dma_addr_t addr, size_t size,
		enum dma_data_direction dir, unsigned long attrs);
dma_addr_t dma_map_resource(struct device *dev, phys_addr_t phys_addr,
		size_t size, enum dma_data_direction dir, unsigned long attrs);
void dma_unmap_resource(struct device *dev, dma_addr_t addr, size_t size,
		enum dma_data_direction dir, unsigned long attrs);
void __dma_sync_single_for_cpu(struct device *dev, dma_addr_t addr,
		size_t size, enum dma_data_direction dir);
void __dma_sync_single_for_device(struct device *dev, dma_addr_t addr,
		size_t size, enum dma_data_direction dir);

/* models dma_get_mask() in include/linux/dma-mapping.h */
static inline u64 dma_get_mask(struct device *dev)
{
	if (dev->dma_mask && *dev->dma_mask)
		return *dev->dma_mask;
	return DMA_BIT_MASK(32);
}

size_t dma_max_mapping_size(struct device *dev);
size_t dma_opt_mapping_size(struct device *dev);

/* models dma_mapping_error() in include/linux/dma-mapping.h */
static inline int dma_mapping_error(struct device *dev, dma_addr_t dma_addr)
{
	/* debug_dma_mapping_error(dev, dma_addr): dma-debug not modelled yet */
	if (unlikely(dma_addr == DMA_MAPPING_ERROR))
		return -ENOMEM;
	return 0;
}

/* models dma_dev_need_sync() in include/linux/dma-mapping.h (CONFIG_DMA_NEED_SYNC) */
static inline bool dma_dev_need_sync(const struct device *dev)
{
	/* Always call DMA sync operations when debugging is enabled */
	return !dev->dma_skip_sync || dev->kconfig.dma_api_debug;
}

/* models dma_sync_single_for_cpu() in include/linux/dma-mapping.h */
static inline void dma_sync_single_for_cpu(struct device *dev, dma_addr_t addr,
		size_t size, enum dma_data_direction dir)
{
	if (dma_dev_need_sync(dev))
		__dma_sync_single_for_cpu(dev, addr, size, dir);
}

/* models dma_sync_single_for_device() in include/linux/dma-mapping.h */
static inline void dma_sync_single_for_device(struct device *dev,
		dma_addr_t addr, size_t size, enum dma_data_direction dir)
{
	if (dma_dev_need_sync(dev))
		__dma_sync_single_for_device(dev, addr, size, dir);
}

/* ---- scatterlists (kernel/dma/mapping.c, include/linux/dma-mapping.h) ---- */

struct scatterlist;
struct sg_table;

unsigned int dma_map_sg_attrs(struct device *dev, struct scatterlist *sg,
		int nents, enum dma_data_direction dir, unsigned long attrs);
int dma_map_sgtable(struct device *dev, struct sg_table *sgt,
		enum dma_data_direction dir, unsigned long attrs);
void dma_unmap_sg_attrs(struct device *dev, struct scatterlist *sg,
		int nents, enum dma_data_direction dir, unsigned long attrs);
void __dma_sync_sg_for_cpu(struct device *dev, struct scatterlist *sg,
		int nelems, enum dma_data_direction dir);
void __dma_sync_sg_for_device(struct device *dev, struct scatterlist *sg,
		int nelems, enum dma_data_direction dir);

/* models dma_sync_sg_for_cpu() in include/linux/dma-mapping.h */
static inline void dma_sync_sg_for_cpu(struct device *dev,
		struct scatterlist *sg, int nelems, enum dma_data_direction dir)
{
	if (dma_dev_need_sync(dev))
		__dma_sync_sg_for_cpu(dev, sg, nelems, dir);
}

/* models dma_sync_sg_for_device() in include/linux/dma-mapping.h */
static inline void dma_sync_sg_for_device(struct device *dev,
		struct scatterlist *sg, int nelems, enum dma_data_direction dir)
{
	if (dma_dev_need_sync(dev))
		__dma_sync_sg_for_device(dev, sg, nelems, dir);
}

/* ---- the two-step IOVA API (v6.16, drivers/iommu/dma-iommu.c) ---- */

struct dma_iova_state {
	dma_addr_t addr;
	u64 __size;
};

/* Set when some range of the state was bounced (the top bit of __size). */
#define DMA_IOVA_USE_SWIOTLB	(1ULL << 63)

/* models dma_iova_size() */
static inline size_t dma_iova_size(struct dma_iova_state *state)
{
	/* Casting is needed for 32-bits systems */
	return (size_t)(state->__size & ~DMA_IOVA_USE_SWIOTLB);
}

/* models dma_use_iova() */
static inline bool dma_use_iova(struct dma_iova_state *state)
{
	return state->__size != 0;
}

bool dma_iova_try_alloc(struct device *dev, struct dma_iova_state *state,
		phys_addr_t phys, size_t size);
void dma_iova_free(struct device *dev, struct dma_iova_state *state);
void dma_iova_destroy(struct device *dev, struct dma_iova_state *state,
		size_t mapped_len, enum dma_data_direction dir, unsigned long attrs);
int dma_iova_sync(struct device *dev, struct dma_iova_state *state,
		size_t offset, size_t size);
int dma_iova_link(struct device *dev, struct dma_iova_state *state,
		phys_addr_t phys, size_t offset, size_t size,
		enum dma_data_direction dir, unsigned long attrs);
void dma_iova_unlink(struct device *dev, struct dma_iova_state *state,
		size_t offset, size_t size, enum dma_data_direction dir,
		unsigned long attrs);

/* models dma_get_max_seg_size() */
static inline unsigned int dma_get_max_seg_size(struct device *dev)
{
	if (dev->dma_parms && dev->dma_parms->max_segment_size)
		return dev->dma_parms->max_segment_size;
	return SZ_64K;
}

/* models dma_get_seg_boundary(): a zero mask means "not set" */
static inline unsigned long dma_get_seg_boundary(struct device *dev)
{
	if (dev->dma_parms && dev->dma_parms->segment_boundary_mask)
		return dev->dma_parms->segment_boundary_mask;
	return ULONG_MAX;
}

/* models dma_set_seg_boundary(): void and WARN without dma_parms since v6.12 */
static inline void dma_set_seg_boundary(struct device *dev, unsigned long mask)
{
	if (WARN_ON_ONCE(dev, !dev->dma_parms))
		return;
	dev->dma_parms->segment_boundary_mask = mask;
}

/* models dma_get_min_align_mask() */
static inline unsigned int dma_get_min_align_mask(struct device *dev)
{
	if (dev->dma_parms)
		return dev->dma_parms->min_align_mask;
	return 0;
}

/* models dma_set_min_align_mask(): void and WARN without dma_parms since v6.12 */
static inline void dma_set_min_align_mask(struct device *dev,
		unsigned int min_align_mask)
{
	if (WARN_ON_ONCE(dev, !dev->dma_parms))
		return;
	dev->dma_parms->min_align_mask = min_align_mask;
}

/* models dma_get_cache_alignment(): arm64 defines ARCH_DMA_MINALIGN, so ARCH_HAS_DMA_MINALIGN */
static inline int dma_get_cache_alignment(const struct device *dev)
{
	return (int)dev->kconfig.arch_dma_minalign;
}

#endif /* DMADIFF_DMA_MAPPING_H */
