// SPDX-License-Identifier: GPL-2.0-only
/*
 * The model's "boot" (struct dmadiff_ctx), the entry point of platform.h,
 * and the platform side of the kernel services the DMA code calls:
 * arch cache hooks, page queries, CPU copies, tracepoints, printk, WARN,
 * ratelimits and BUG. Every effect goes through the ops table of the
 * current call (or, for the boot-time pool memset, of dmadiff_ctx_new()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "compat.h"
#include "direct.h"
#include "dma-iommu.h"
#include "pci-p2pdma.h"
#include "scatterlist.h"
#include "iommu.h"
#include "iova.h"
#include "swiotlb.h"
#include "trace-dma.h"
#include "trace-swiotlb.h"

/* More than the once-sites the model has; running out is a model bug. */
#define DMADIFF_MAX_ONCE	32
/* More than the ratelimited sites the model has. */
#define DMADIFF_MAX_RATELIMIT	8

/* A DEFINE_RATELIMIT_STATE of one call site: no time passes, so it never refills. */
struct dmadiff_ratelimit_state {
	const char *site;
	unsigned int printed;
};

struct dmadiff_ctx {
	struct device dev;
	u64 dma_mask;				/* what dev.dma_mask points at */
	struct bus_dma_region *dma_range_map;	/* owned, size-0 terminated */
	struct device_dma_parameters dma_parms;	/* what dev.dma_parms points at, if any */
	struct swiotlb_globals swiotlb;		/* kernel/dma/swiotlb.c's file-scope state */
	struct iommu_domain iommu_domain;	/* what dev.iommu_domain points at, if any */
	struct dev_iommu dev_iommu;		/* what dev.iommu points at, if any */
	struct dmadiff_iommu_resv_region *resv;	/* owned copies of the IOMMU boot config */
	struct dmadiff_pci_window *pci_windows;
	struct iova_domain iovad;		/* the allocator-level domain (DMADIFF_CALL_IOVA_INIT) */
	bool iovad_live;
	char *name;
	char *driver;
	const struct dmadiff_platform_ops *ops;	/* only during dmadiff_call() and the boot */
	jmp_buf bug;
	const char *once_done[DMADIFF_MAX_ONCE];
	unsigned int nr_once;
	struct dmadiff_ratelimit_state ratelimit[DMADIFF_MAX_RATELIMIT];
	unsigned int nr_ratelimit;
	char msg[512];
};

static const struct dmadiff_platform_ops *ops_of(struct device *dev)
{
	const struct dmadiff_platform_ops *ops = dev->ctx->ops;

	if (!ops) {
		fprintf(stderr, "dmadiff: platform effect outside dmadiff_call()\n");
		abort();
	}
	return ops;
}

/* ---- printk ---- */

/* Appends to buf at *pos, truncating like scnprintf(). */
static void __attribute__((format(printf, 4, 5)))
emit(char *buf, size_t size, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= size - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, size - *pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos = (*pos + (size_t)n < size - 1) ? *pos + (size_t)n : size - 1;
}

/*
 * The vsprintf() subset the modelled messages use: the libc conversions,
 * plus %pad/%pa[p] as address_val() prints them, i.e. special_hex_number()
 * with the type's size: "0x" and 2 * sizeof lowercase, zero-padded digits.
 */
static void dmadiff_vscnprintf(char *buf, size_t size, const char *fmt,
			       va_list ap)
{
	size_t pos = 0;

	buf[0] = '\0';
	while (*fmt) {
		const char *start = fmt;
		char spec[32];
		int lng = 0;	/* 0 int, 1 long, 2 long long, 3 size_t */

		if (*fmt != '%') {
			if (pos < size - 1)
				buf[pos++] = *fmt;
			fmt++;
			continue;
		}
		fmt++;
		while (*fmt && strchr("-+ #0", *fmt))
			fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			fmt++;
		if (*fmt == '.')
			for (fmt++; *fmt >= '0' && *fmt <= '9'; fmt++)
				;
		if (*fmt == 'l') {
			lng = 1;
			if (*++fmt == 'l') {
				lng = 2;
				fmt++;
			}
		} else if (*fmt == 'z') {
			lng = 3;
			fmt++;
		}
		if (!*fmt || (size_t)(fmt - start) + 2 > sizeof(spec))
			abort();
		memcpy(spec, start, (size_t)(fmt - start) + 1);
		spec[fmt - start + 1] = '\0';

		switch (*fmt++) {
		case '%':
			emit(buf, size, &pos, "%%");
			break;
		case 'd':
		case 'i':
			if (lng == 0)
				emit(buf, size, &pos, spec, va_arg(ap, int));
			else if (lng == 1)
				emit(buf, size, &pos, spec, va_arg(ap, long));
			else if (lng == 2)
				emit(buf, size, &pos, spec, va_arg(ap, long long));
			else
				emit(buf, size, &pos, spec, va_arg(ap, ssize_t));
			break;
		case 'u':
		case 'x':
		case 'X':
			if (lng == 0)
				emit(buf, size, &pos, spec, va_arg(ap, unsigned int));
			else if (lng == 1)
				emit(buf, size, &pos, spec, va_arg(ap, unsigned long));
			else if (lng == 2)
				emit(buf, size, &pos, spec, va_arg(ap, unsigned long long));
			else
				emit(buf, size, &pos, spec, va_arg(ap, size_t));
			break;
		case 's':
			emit(buf, size, &pos, spec, va_arg(ap, const char *));
			break;
		case 'p':
			if (fmt[0] == 'a' && fmt[1] == 'd') {
				const dma_addr_t *a = va_arg(ap, const dma_addr_t *);

				fmt += 2;
				emit(buf, size, &pos, "0x%0*llx",
				     (int)(2 * sizeof(dma_addr_t)), *a);
			} else if (fmt[0] == 'a') {
				const phys_addr_t *a = va_arg(ap, const phys_addr_t *);

				fmt += fmt[1] == 'p' ? 2 : 1;
				emit(buf, size, &pos, "0x%0*llx",
				     (int)(2 * sizeof(phys_addr_t)), *a);
			} else {
				abort();	/* no other %p extension is modelled */
			}
			break;
		default:
			abort();
		}
	}
	buf[pos] = '\0';
}

/* Once per call site per ctx: true the first time site asks. */
bool dmadiff_once(struct device *dev, const char *site)
{
	struct dmadiff_ctx *ctx = dev->ctx;
	unsigned int i;

	for (i = 0; i < ctx->nr_once; i++)
		if (!strcmp(ctx->once_done[i], site))
			return false;
	if (ctx->nr_once == DMADIFF_MAX_ONCE) {
		fprintf(stderr, "dmadiff: once table full\n");
		abort();
	}
	ctx->once_done[ctx->nr_once++] = site;
	return true;
}

/* ___ratelimit() of lib/ratelimit.c with the interval never elapsing: burst messages per site. */
bool dmadiff_ratelimit(struct device *dev, const char *site, unsigned int burst)
{
	struct dmadiff_ctx *ctx = dev->ctx;
	struct dmadiff_ratelimit_state *rs = NULL;
	unsigned int i;

	for (i = 0; i < ctx->nr_ratelimit; i++)
		if (!strcmp(ctx->ratelimit[i].site, site))
			rs = &ctx->ratelimit[i];
	if (!rs) {
		if (ctx->nr_ratelimit == DMADIFF_MAX_RATELIMIT) {
			fprintf(stderr, "dmadiff: ratelimit table full\n");
			abort();
		}
		rs = &ctx->ratelimit[ctx->nr_ratelimit++];
		rs->site = site;
		rs->printed = 0;
	}
	if (burst && burst > rs->printed) {
		rs->printed++;
		return true;
	}
	return false;	/* missed++: "callbacks suppressed" needs the interval to end */
}

void dmadiff_report(struct device *dev, enum dmadiff_report_kind kind,
		    const char *func, const char *text)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);

	ops->report(ops->priv, (int32_t)kind, func, text);
}

/* dev_printk()'s "driver device: message", without the trailing newline */
void dmadiff_dev_report(struct device *dev, enum dmadiff_report_kind kind,
			const char *func, const char *fmt, ...)
{
	struct dmadiff_ctx *ctx = dev->ctx;
	size_t len;
	int n;
	va_list ap;

	n = snprintf(ctx->msg, sizeof(ctx->msg), "%s %s: ",
		     dev_driver_string(dev), dev_name(dev));
	len = n > 0 && (size_t)n < sizeof(ctx->msg) ? (size_t)n : 0;
	va_start(ap, fmt);
	dmadiff_vscnprintf(ctx->msg + len, sizeof(ctx->msg) - len, fmt, ap);
	va_end(ap);

	len = strlen(ctx->msg);
	if (len && ctx->msg[len - 1] == '\n')
		ctx->msg[len - 1] = '\0';
	dmadiff_report(dev, kind, func, ctx->msg);
}

/* pr_*() without a pr_fmt: the message alone, no "driver device: " */
void dmadiff_pr_report(struct device *dev, enum dmadiff_report_kind kind,
		       const char *func, const char *fmt, ...)
{
	struct dmadiff_ctx *ctx = dev->ctx;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	dmadiff_vscnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
	va_end(ap);
	len = strlen(ctx->msg);
	if (len && ctx->msg[len - 1] == '\n')
		ctx->msg[len - 1] = '\0';
	dmadiff_report(dev, kind, func, ctx->msg);
}

/* BUG(): the kernel would oops here, so the call ends now */
_Noreturn void dmadiff_bug(struct device *dev, const char *func,
			   const char *cond)
{
	dmadiff_report(dev, DMADIFF_REPORT_BUG, func, cond);
	longjmp(dev->ctx->bug, 1);
}

/* ---- arch hooks and page queries ---- */

void arch_sync_dma_for_device(struct device *dev, phys_addr_t paddr,
		size_t size, enum dma_data_direction dir)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);

	ops->arch_sync_dma_for_device(ops->priv, paddr, size, (int32_t)dir);
}

void arch_sync_dma_for_cpu(struct device *dev, phys_addr_t paddr,
		size_t size, enum dma_data_direction dir)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);

	ops->arch_sync_dma_for_cpu(ops->priv, paddr, size, (int32_t)dir);
}

void arch_sync_dma_for_cpu_all(struct device *dev)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);

	ops->arch_sync_dma_for_cpu_all(ops->priv);
}

void arch_dma_mark_clean(struct device *dev, phys_addr_t paddr, size_t size)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);

	ops->arch_dma_mark_clean(ops->priv, paddr, size);
}

void dmadiff_memcpy_phys(struct device *dev, phys_addr_t dst, phys_addr_t src,
		size_t size)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);

	ops->cpu_memcpy(ops->priv, dst, src, size);
}

/* memset() through the CPU's cache, e.g. dma-iommu zeroing bounce padding */
void dmadiff_memset_phys(struct device *dev, phys_addr_t dst, u8 value, size_t size)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);

	ops->cpu_memset(ops->priv, dst, value, size);
}

void dmadiff_boot_memzero(struct device *dev, phys_addr_t start, size_t size)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);

	ops->boot_memzero(ops->priv, start, size);
}

bool is_vmalloc_addr(struct device *dev, const void *x)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);

	return ops->is_vmalloc_addr(ops->priv, (uint64_t)(uintptr_t)x);
}

bool is_pci_p2pdma_page(struct device *dev, const struct page *page)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);

	return ops->is_pci_p2pdma_page(ops->priv, page_to_pfn(page));
}

/* ---- tracepoints ---- */

void trace_dma_map_page(struct device *dev, phys_addr_t phys_addr,
		dma_addr_t dma_addr, size_t size, enum dma_data_direction dir,
		unsigned long attrs)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);

	ops->trace_dma_map(ops->priv, "dma_map_page", phys_addr, dma_addr,
			   size, (int32_t)dir, attrs);
}

void trace_dma_map_resource(struct device *dev, phys_addr_t phys_addr,
		dma_addr_t dma_addr, size_t size, enum dma_data_direction dir,
		unsigned long attrs)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);

	ops->trace_dma_map(ops->priv, "dma_map_resource", phys_addr, dma_addr,
			   size, (int32_t)dir, attrs);
}

void trace_dma_unmap_page(struct device *dev, dma_addr_t addr, size_t size,
		enum dma_data_direction dir, unsigned long attrs)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);

	ops->trace_dma_unmap(ops->priv, "dma_unmap_page", addr, size,
			     (int32_t)dir, attrs);
}

void trace_dma_unmap_resource(struct device *dev, dma_addr_t addr,
		size_t size, enum dma_data_direction dir, unsigned long attrs)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);

	ops->trace_dma_unmap(ops->priv, "dma_unmap_resource", addr, size,
			     (int32_t)dir, attrs);
}

void trace_dma_sync_single_for_cpu(struct device *dev, dma_addr_t addr,
		size_t size, enum dma_data_direction dir)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);

	ops->trace_dma_sync_single(ops->priv, "dma_sync_single_for_cpu", addr,
				   size, (int32_t)dir);
}

void trace_dma_sync_single_for_device(struct device *dev, dma_addr_t addr,
		size_t size, enum dma_data_direction dir)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);

	ops->trace_dma_sync_single(ops->priv, "dma_sync_single_for_device",
				   addr, size, (int32_t)dir);
}

/* The arrays an sg tracepoint records: phys of nr_phys entries, DMA segments of nr_dma. */
static void trace_sg(struct device *dev, const char *event, struct scatterlist *sgl,
		     int nr_phys, int nr_dma, int64_t err, enum dma_data_direction dir,
		     unsigned long attrs)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);
	uint32_t np = nr_phys > 0 ? (uint32_t)nr_phys : 0, nd = nr_dma > 0 ? (uint32_t)nr_dma : 0;
	dmadiff_phys_t *phys = calloc(np + 1, sizeof(*phys));
	dmadiff_dma_t *dma = calloc(nd + 1, sizeof(*dma));
	uint32_t *len = calloc(nd + 1, sizeof(*len));
	struct scatterlist *sg;
	int i;

	if (!phys || !dma || !len)
		abort();
	for_each_sg(sgl, sg, (int)np, i)
		phys[i] = sg_phys(sg);
	for_each_sg(sgl, sg, (int)nd, i) {
		dma[i] = sg_dma_address(sg);
		len[i] = sg_dma_len(sg);
	}
	ops->trace_dma_sg(ops->priv, event, phys, np, dma, len, nd, err, (int32_t)dir, attrs);
	free(phys);
	free(dma);
	free(len);
}

void trace_dma_map_sg(struct device *dev, struct scatterlist *sgl, int nents,
		int ents, enum dma_data_direction dir, unsigned long attrs)
{
	trace_sg(dev, "dma_map_sg", sgl, nents, ents, 0, dir, attrs);
}

void trace_dma_map_sg_err(struct device *dev, struct scatterlist *sgl,
		int nents, int err, enum dma_data_direction dir, unsigned long attrs)
{
	trace_sg(dev, "dma_map_sg_err", sgl, nents, 0, err, dir, attrs);
}

void trace_dma_unmap_sg(struct device *dev, struct scatterlist *sgl, int nents,
		enum dma_data_direction dir, unsigned long attrs)
{
	trace_sg(dev, "dma_unmap_sg", sgl, nents, 0, 0, dir, attrs);
}

void trace_dma_sync_sg_for_cpu(struct device *dev, struct scatterlist *sgl,
		int nents, enum dma_data_direction dir)
{
	trace_sg(dev, "dma_sync_sg_for_cpu", sgl, 0, nents, 0, dir, 0);
}

void trace_dma_sync_sg_for_device(struct device *dev, struct scatterlist *sgl,
		int nents, enum dma_data_direction dir)
{
	trace_sg(dev, "dma_sync_sg_for_device", sgl, 0, nents, 0, dir, 0);
}

/* TP_fast_assign() of swiotlb_bounced reads the force flag itself */
void trace_swiotlb_bounced(struct device *dev, dma_addr_t dev_addr, size_t size)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);

	ops->trace_swiotlb_bounced(ops->priv, dev_addr, size,
				   is_swiotlb_force_bounce(dev));
}

/* ---- the IOMMU in front of the device ---- */

/* iommu_probe_device() + the default domain's allocation, then iommu_setup_dma_ops() */
static int dmadiff_iommu_boot(struct dmadiff_ctx *ctx,
			      const struct dmadiff_iommu_config *cfg)
{
	struct device *dev = &ctx->dev;
	struct iommu_domain *domain = &ctx->iommu_domain;
	struct dev_iommu *param = &ctx->dev_iommu;

	if (cfg->nr_resv) {
		ctx->resv = calloc(cfg->nr_resv, sizeof(*ctx->resv));
		if (!ctx->resv)
			return -1;
		memcpy(ctx->resv, cfg->resv, cfg->nr_resv * sizeof(*ctx->resv));
	}
	if (cfg->nr_pci_windows) {
		ctx->pci_windows = calloc(cfg->nr_pci_windows, sizeof(*ctx->pci_windows));
		if (!ctx->pci_windows)
			return -1;
		memcpy(ctx->pci_windows, cfg->pci_windows,
		       cfg->nr_pci_windows * sizeof(*ctx->pci_windows));
	}
	switch (cfg->domain_type) {
	case DMADIFF_IOMMU_IDENTITY:
		domain->type = IOMMU_DOMAIN_IDENTITY;
		break;
	case DMADIFF_IOMMU_DMA:
		domain->type = IOMMU_DOMAIN_DMA;
		break;
	case DMADIFF_IOMMU_DMA_FQ:
		domain->type = IOMMU_DOMAIN_DMA_FQ;
		break;
	default:
		return -1;
	}
	domain->pgsize_bitmap = cfg->pgsize_bitmap;
	domain->geometry.aperture_start = cfg->aperture_start;
	domain->geometry.aperture_end = cfg->aperture_end;
	domain->geometry.force_aperture = cfg->force_aperture;
	param->shadow_on_flush = cfg->shadow_on_flush;
	param->cap_deferred_flush = cfg->deferred_flush;
	param->forcedac = cfg->forcedac;
	param->resv = ctx->resv;
	param->nr_resv = cfg->nr_resv;
	param->pci_windows = ctx->pci_windows;
	param->nr_pci_windows = cfg->nr_pci_windows;
	dev->iommu_domain = domain;
	dev->iommu = param;
	iommu_setup_dma_ops(dev);
	return 0;
}

/* The device probe: its IOMMU; a BUG() there (a granule init_iova_domain() refuses) fails the boot. */
static int dmadiff_probe(struct dmadiff_ctx *ctx, const struct dmadiff_device_config *cfg)
{
	if (setjmp(ctx->bug))
		return -1;
	if (cfg->iommu.domain_type == DMADIFF_IOMMU_NONE)
		return 0;
	return dmadiff_iommu_boot(ctx, &cfg->iommu);
}

/* ---- drivers/iommu/iommu.c over the platform's mock IOMMU ---- */

/* models iommu_map(): the page table checks alignment, range and overlap */
int iommu_map(struct iommu_domain *domain, unsigned long iova, phys_addr_t paddr,
	      size_t size, int prot, gfp_t gfp)
{
	struct dmadiff_ctx *ctx = container_of(domain, struct dmadiff_ctx, iommu_domain);
	const struct dmadiff_platform_ops *ops = ops_of(&ctx->dev);

	return ops->iommu_map(ops->priv, iova, paddr, size, prot);
}

/* models iommu_unmap_fast(): the unmapped range joins the gather */
size_t iommu_unmap_fast(struct iommu_domain *domain, unsigned long iova, size_t size,
			struct iommu_iotlb_gather *iotlb_gather)
{
	struct dmadiff_ctx *ctx = container_of(domain, struct dmadiff_ctx, iommu_domain);
	const struct dmadiff_platform_ops *ops = ops_of(&ctx->dev);
	size_t unmapped = ops->iommu_unmap(ops->priv, iova, size);

	if (unmapped) {
		if (iova < iotlb_gather->start)
			iotlb_gather->start = iova;
		if (iova + unmapped - 1 > iotlb_gather->end)
			iotlb_gather->end = iova + unmapped - 1;
	}
	return unmapped;
}

/* models iommu_iotlb_sync(): the driver's iotlb_sync, then a fresh gather */
void iommu_iotlb_sync(struct iommu_domain *domain, struct iommu_iotlb_gather *iotlb_gather)
{
	struct dmadiff_ctx *ctx = container_of(domain, struct dmadiff_ctx, iommu_domain);
	const struct dmadiff_platform_ops *ops = ops_of(&ctx->dev);

	ops->iommu_iotlb_sync(ops->priv, iotlb_gather->start, iotlb_gather->end);
	iommu_iotlb_gather_init(iotlb_gather);
}

/* models iommu_flush_iotlb_all() */
void iommu_flush_iotlb_all(struct iommu_domain *domain)
{
	struct dmadiff_ctx *ctx = container_of(domain, struct dmadiff_ctx, iommu_domain);
	const struct dmadiff_platform_ops *ops = ops_of(&ctx->dev);

	ops->iommu_flush_iotlb_all(ops->priv);
}

/* models iommu_iova_to_phys() */
phys_addr_t iommu_iova_to_phys(struct iommu_domain *domain, dma_addr_t iova)
{
	struct dmadiff_ctx *ctx = container_of(domain, struct dmadiff_ctx, iommu_domain);
	const struct dmadiff_platform_ops *ops = ops_of(&ctx->dev);

	return ops->iommu_iova_to_phys(ops->priv, iova);
}

/* ---- the context ---- */

struct dmadiff_ctx *dmadiff_ctx_new(const struct dmadiff_device_config *cfg,
				    const struct dmadiff_platform_ops *ops)
{
	struct dmadiff_ctx *ctx = calloc(1, sizeof(*ctx));
	struct device *dev;

	if (!ctx)
		return NULL;
	dev = &ctx->dev;
	ctx->name = strdup(cfg->name ? cfg->name : "");
	ctx->driver = strdup(cfg->driver ? cfg->driver : "");
	if (!ctx->name || !ctx->driver)
		goto fail;

	if (cfg->nr_dma_ranges) {
		/* the kernel's table ends at its first size-0 entry: append one */
		if (!cfg->dma_range_map ||
		    cfg->nr_dma_ranges >= SIZE_MAX / sizeof(*ctx->dma_range_map))
			goto fail;
		ctx->dma_range_map = calloc(cfg->nr_dma_ranges + 1,
					    sizeof(*ctx->dma_range_map));
		if (!ctx->dma_range_map)
			goto fail;
		for (uint64_t i = 0; i < cfg->nr_dma_ranges; i++) {
			ctx->dma_range_map[i].cpu_start = cfg->dma_range_map[i].cpu_start;
			ctx->dma_range_map[i].dma_start = cfg->dma_range_map[i].dma_start;
			ctx->dma_range_map[i].size = cfg->dma_range_map[i].size;
		}
	}

	ctx->dma_mask = cfg->dma_mask;
	dev->dma_mask = cfg->has_dma_mask ? &ctx->dma_mask : NULL;
	dev->coherent_dma_mask = cfg->dma_mask;	/* not read by the streaming paths */
	dev->bus_dma_limit = cfg->bus_dma_limit;
	dev->dma_range_map = ctx->dma_range_map;
	dev->dma_coherent = cfg->dma_coherent;
	dev->name = ctx->name;
	dev->driver = ctx->driver;
	dev->ctx = ctx;
	dev->kconfig.dma_bounce_unaligned_kmalloc = cfg->dma_bounce_unaligned_kmalloc;
	dev->kconfig.arch_dma_minalign = cfg->arch_dma_minalign;
	dev->kconfig.dma_api_debug = cfg->dma_api_debug;

	/*
	 * dma_setup_need_sync() only runs from dma_set_mask(), which fails without dev->dma_mask;
	 * for dma-direct and dma-iommu devices alike it starts from coherence (set below).
	 */
	if (cfg->has_dma_parms) {
		/* the kernel fields are unsigned int: wider masks truncate as in the setters */
		ctx->dma_parms.max_segment_size = cfg->max_segment_size;
		ctx->dma_parms.min_align_mask = (unsigned int)cfg->min_align_mask;
		ctx->dma_parms.segment_boundary_mask = cfg->seg_boundary_mask;
		dev->dma_parms = &ctx->dma_parms;
	}
	dev->cpu = 0;

	/* mem_init() time: the pool memset goes through the caller's ops */
	ctx->ops = ops;
	if (dmadiff_swiotlb_boot(dev, &ctx->swiotlb, &cfg->swiotlb, cfg->nr_cpus)) {
		ctx->ops = NULL;
		goto fail;
	}
	dev->is_pci = cfg->is_pci;
	dev->untrusted = cfg->untrusted;
	dev->nr_cpus = cfg->nr_cpus ? cfg->nr_cpus : 1;
	if (dmadiff_probe(ctx, cfg)) {
		ctx->ops = NULL;
		goto fail;
	}
	/* the driver's dma_set_mask() runs after probe: dma_setup_need_sync() sees dma_iommu */
	dev->dma_skip_sync = dev->dma_mask ? dev_is_dma_coherent(dev) : false;
	ctx->ops = NULL;
	return ctx;

fail:
	dmadiff_ctx_free(ctx);
	return NULL;
}

void dmadiff_ctx_free(struct dmadiff_ctx *ctx)
{
	if (!ctx)
		return;
	if (ctx->iovad_live)
		put_iova_domain(&ctx->iovad);
	dmadiff_iommu_dma_teardown(&ctx->dev);
	free(ctx->resv);
	free(ctx->pci_windows);
	dmadiff_swiotlb_teardown(&ctx->swiotlb);
	free(ctx->dma_range_map);
	free(ctx->name);
	free(ctx->driver);
	free(ctx);
}

/* ---- the entry point ---- */

/* a struct iova * result: the node's pfns, or NULL */
static void iova_result(struct dmadiff_result *res, const struct iova *iova)
{
	if (!iova) {
		res->is_null = true;
		return;
	}
	res->value = iova->pfn_lo;
	res->value2 = iova->pfn_hi;
}

int dmadiff_call(struct dmadiff_ctx *ctx, const struct dmadiff_platform_ops *ops,
		 const struct dmadiff_call *call, struct dmadiff_result *res)
{
	struct device *dev = &ctx->dev;
	enum dma_data_direction dir = (enum dma_data_direction)call->dir;
	uint64_t result = 0;

	memset(res, 0, sizeof(*res));
	if (call->kind >= DMADIFF_CALL_ALLOC_IOVA && call->kind <= DMADIFF_CALL_FREE_CPU_CACHED_IOVAS &&
	    !ctx->iovad_live) {
		fprintf(stderr, "dmadiff: iova call %d before DMADIFF_CALL_IOVA_INIT\n", call->kind);
		abort();
	}
	ctx->ops = ops;
	if (setjmp(ctx->bug)) {
		ctx->ops = NULL;
		return 1;
	}

	switch (call->kind) {
	case DMADIFF_CALL_MAP_PAGE_ATTRS:
		/* addr is page_to_phys(page): a page pointer has no offset bits */
		result = dma_map_page_attrs(dev, pfn_to_page(PHYS_PFN(call->addr)),
					    call->offset, call->size, dir,
					    call->attrs);
		break;
	case DMADIFF_CALL_UNMAP_PAGE_ATTRS:
		dma_unmap_page_attrs(dev, call->addr, call->size, dir, call->attrs);
		break;
	case DMADIFF_CALL_MAP_SINGLE:
		/* the linear map is the identity: a pointer is its physical address */
		result = dma_map_single_attrs(dev, (void *)(uintptr_t)call->addr,
					      call->size, dir, call->attrs);
		break;
	case DMADIFF_CALL_MAP_RESOURCE:
		result = dma_map_resource(dev, call->addr, call->size, dir,
					  call->attrs);
		break;
	case DMADIFF_CALL_UNMAP_RESOURCE:
		dma_unmap_resource(dev, call->addr, call->size, dir, call->attrs);
		break;
	case DMADIFF_CALL_MAP_PHYS:
		result = dmadiff_compat_map_phys(dev, call->addr, call->size, dir,
						 call->attrs);
		break;
	case DMADIFF_CALL_UNMAP_PHYS:
		dmadiff_compat_unmap_phys(dev, call->addr, call->size, dir,
					  call->attrs);
		break;
	case DMADIFF_CALL_SYNC_SINGLE_FOR_CPU:
		dma_sync_single_for_cpu(dev, call->addr, call->size, dir);
		break;
	case DMADIFF_CALL_SYNC_SINGLE_FOR_DEVICE:
		dma_sync_single_for_device(dev, call->addr, call->size, dir);
		break;
	case DMADIFF_CALL_MAPPING_ERROR:
		/* an int, widened with its sign */
		result = (uint64_t)(int64_t)dma_mapping_error(dev, call->addr);
		break;
	case DMADIFF_CALL_SWIOTLB_TBL_MAP_SINGLE:
		/* alloc_align_mask is an unsigned int parameter: callers truncate too */
		result = swiotlb_tbl_map_single(dev, call->addr, call->size,
						(unsigned int)call->offset, dir,
						call->attrs);
		break;
	case DMADIFF_CALL_SWIOTLB_TBL_UNMAP_SINGLE:
		swiotlb_tbl_unmap_single(dev, call->addr, call->size, dir,
					 call->attrs);
		break;
	case DMADIFF_CALL_SWIOTLB_SYNC_SINGLE_FOR_CPU:
		swiotlb_sync_single_for_cpu(dev, call->addr, call->size, dir);
		break;
	case DMADIFF_CALL_SWIOTLB_SYNC_SINGLE_FOR_DEVICE:
		swiotlb_sync_single_for_device(dev, call->addr, call->size, dir);
		break;
	case DMADIFF_CALL_SWIOTLB_MAX_MAPPING_SIZE:
		result = swiotlb_max_mapping_size(dev);
		break;
	case DMADIFF_CALL_IS_SWIOTLB_ACTIVE:
		result = is_swiotlb_active(dev);
		break;
	case DMADIFF_CALL_IS_SWIOTLB_FORCE_BOUNCE:
		result = is_swiotlb_force_bounce(dev);
		break;
	case DMADIFF_CALL_DMA_KMALLOC_NEEDS_BOUNCE:
		result = dma_kmalloc_needs_bounce(dev, call->size, dir);
		break;
	case DMADIFF_CALL_SET_MIN_ALIGN_MASK:
		/* the parameter is unsigned int: bits above 31 are dropped at the call */
		dma_set_min_align_mask(dev, (unsigned int)call->addr);
		break;
	case DMADIFF_CALL_SET_SEG_BOUNDARY:
		dma_set_seg_boundary(dev, call->addr);
		break;
	case DMADIFF_CALL_RUN_ON_CPU:
		dev->cpu = (unsigned int)call->addr;
		break;
	case DMADIFF_CALL_IOVA_INIT:
		/* vduse's pattern: init_iova_domain() then iova_domain_init_rcaches() */
		if (ctx->iovad_live)
			put_iova_domain(&ctx->iovad);
		ctx->iovad_live = false;
		init_iova_domain(&ctx->iovad, call->addr, call->offset, dev);
		ctx->iovad_live = true;
		result = (uint64_t)(int64_t)iova_domain_init_rcaches(&ctx->iovad, dev->nr_cpus);
		break;
	case DMADIFF_CALL_ALLOC_IOVA:
		iova_result(res, alloc_iova(&ctx->iovad, call->size, call->addr, call->attrs != 0));
		ctx->ops = NULL;
		return 0;
	case DMADIFF_CALL_FREE_IOVA:
		free_iova(&ctx->iovad, call->addr);
		break;
	case DMADIFF_CALL_FIND_IOVA:
		iova_result(res, find_iova(&ctx->iovad, call->addr));
		ctx->ops = NULL;
		return 0;
	case DMADIFF_CALL_RESERVE_IOVA:
		iova_result(res, reserve_iova(&ctx->iovad, call->addr, call->offset));
		ctx->ops = NULL;
		return 0;
	case DMADIFF_CALL_ALLOC_IOVA_FAST:
		result = alloc_iova_fast(&ctx->iovad, call->size, call->addr, call->attrs != 0);
		break;
	case DMADIFF_CALL_FREE_IOVA_FAST:
		free_iova_fast(&ctx->iovad, call->addr, call->size);
		break;
	case DMADIFF_CALL_FREE_CPU_CACHED_IOVAS:
		free_cpu_cached_iovas((unsigned int)call->addr, &ctx->iovad);
		break;
	case DMADIFF_CALL_IOVA_DEPOT_WORK:
		if (ctx->iovad_live)
			iova_depot_work_tick(&ctx->iovad);
		dmadiff_iommu_dma_depot_tick(dev);
		break;
	case DMADIFF_CALL_FQ_TIMEOUT:
		dmadiff_iommu_dma_fq_timeout(dev);
		break;
	case DMADIFF_CALL_DMA_OPT_MAPPING_SIZE:
		result = dma_opt_mapping_size(dev);
		break;
	case DMADIFF_CALL_DMA_MAX_MAPPING_SIZE:
		result = dma_max_mapping_size(dev);
		break;
	default:
		fprintf(stderr, "dmadiff: unknown call kind %d\n", call->kind);
		abort();
	}

	ctx->ops = NULL;
	res->value = result;
	return 0;
}

/* ---- scatterlists and the two-step IOVA API ---- */

/* The chained arrays of one call's list: the chunks sg_chain() links. */
struct dmadiff_sg_arrays {
	struct scatterlist **chunk;
	uint32_t *len;			/* entries of each chunk, the link slot excluded */
	uint32_t nr_chunks;
};

static void sg_arrays_free(struct dmadiff_sg_arrays *a)
{
	for (uint32_t i = 0; i < a->nr_chunks; i++)
		free(a->chunk[i]);
	free(a->chunk);
	free(a->len);
}

/*
 * What sg_alloc_table() and sg_chain() would have built from the flattened entries:
 * one array per chunk, each but the last ending in a chain link, and SG_END on the
 * last entry. Returns false when out of memory (a->nr_chunks says what to free).
 */
static bool sg_arrays_build(struct dmadiff_sg_arrays *a, const struct dmadiff_sg_entry *e,
			    uint32_t nr)
{
	uint32_t chunks = 1, at = 0;

	memset(a, 0, sizeof(*a));
	for (uint32_t i = 0; i + 1 < nr; i++)
		chunks += e[i].chain_after;
	a->chunk = calloc(chunks, sizeof(*a->chunk));
	a->len = calloc(chunks, sizeof(*a->len));
	if (!a->chunk || !a->len)
		return false;
	for (uint32_t c = 0; c < chunks; c++) {
		uint32_t n = 0;

		/* a chunk runs to the entry marked chain_after (never past the last) */
		while (at + n < nr) {
			n++;
			if (e[at + n - 1].chain_after && at + n < nr)
				break;
		}
		a->chunk[c] = calloc(n + 1, sizeof(struct scatterlist));
		if (!a->chunk[c])
			return false;
		a->nr_chunks = c + 1;
		a->len[c] = n;
		for (uint32_t k = 0; k < n; k++) {
			struct scatterlist *sg = &a->chunk[c][k];

			sg_set_page(sg, pfn_to_page(PHYS_PFN(e[at + k].page)), e[at + k].length,
				    e[at + k].offset);
			sg->dma_address = e[at + k].dma_address;
			sg->dma_length = e[at + k].dma_length;
			sg->dma_flags = e[at + k].dma_flags;
		}
		/* the link takes the slot after the previous chunk's entries */
		if (c > 0)
			sg_chain(a->chunk[c - 1], a->len[c - 1] + 1, a->chunk[c]);
		at += n;
	}
	if (nr)
		sg_mark_end(&a->chunk[chunks - 1][a->len[chunks - 1] - 1]);
	return true;
}

/* Copies the entries back into the flattened form, in sg_next() order. */
static void sg_arrays_store(const struct dmadiff_sg_arrays *a, struct dmadiff_sg_entry *e)
{
	uint32_t at = 0;

	for (uint32_t c = 0; c < a->nr_chunks; c++) {
		for (uint32_t k = 0; k < a->len[c]; k++, at++) {
			const struct scatterlist *sg = &a->chunk[c][k];

			e[at].page = page_to_phys(sg_page(sg));
			e[at].offset = sg->offset;
			e[at].length = sg->length;
			e[at].dma_address = sg->dma_address;
			e[at].dma_length = sg->dma_length;
			e[at].dma_flags = sg->dma_flags;
		}
	}
}

int dmadiff_call_sg(struct dmadiff_ctx *ctx, const struct dmadiff_platform_ops *ops,
		    const struct dmadiff_call *call, struct dmadiff_sg_entry *sgl, uint32_t nr,
		    struct dmadiff_result *res)
{
	struct device *dev = &ctx->dev;
	enum dma_data_direction dir = (enum dma_data_direction)call->dir;
	struct dmadiff_sg_arrays a;
	struct sg_table sgt;
	int nents = (int)call->size;
	volatile int64_t result = 0;

	memset(res, 0, sizeof(*res));
	if (!nr || !sg_arrays_build(&a, sgl, nr)) {
		fprintf(stderr, "dmadiff: cannot build a scatterlist of %u entries\n", nr);
		abort();
	}
	ctx->ops = ops;
	if (setjmp(ctx->bug)) {
		ctx->ops = NULL;
		sg_arrays_store(&a, sgl);
		sg_arrays_free(&a);
		return 1;
	}
	switch (call->kind) {
	case DMADIFF_CALL_MAP_SG:
		result = dma_map_sg_attrs(dev, a.chunk[0], nents, dir, call->attrs);
		break;
	case DMADIFF_CALL_MAP_SGTABLE:
		sgt.sgl = a.chunk[0];
		sgt.orig_nents = (unsigned int)call->size;
		sgt.nents = (unsigned int)call->offset;	/* what the table held before */
		result = dma_map_sgtable(dev, &sgt, dir, call->attrs);
		res->value2 = sgt.nents;
		break;
	case DMADIFF_CALL_UNMAP_SG:
		dma_unmap_sg_attrs(dev, a.chunk[0], nents, dir, call->attrs);
		break;
	case DMADIFF_CALL_SYNC_SG_FOR_CPU:
		dma_sync_sg_for_cpu(dev, a.chunk[0], nents, dir);
		break;
	case DMADIFF_CALL_SYNC_SG_FOR_DEVICE:
		dma_sync_sg_for_device(dev, a.chunk[0], nents, dir);
		break;
	default:
		fprintf(stderr, "dmadiff: call kind %d takes no scatterlist\n", call->kind);
		abort();
	}
	ctx->ops = NULL;
	sg_arrays_store(&a, sgl);
	sg_arrays_free(&a);
	res->value = (uint64_t)result;
	return 0;
}

int dmadiff_call_iova(struct dmadiff_ctx *ctx, const struct dmadiff_platform_ops *ops,
		      const struct dmadiff_call *call, struct dmadiff_iova_state *state,
		      struct dmadiff_result *res)
{
	struct device *dev = &ctx->dev;
	enum dma_data_direction dir = (enum dma_data_direction)call->dir;
	struct dma_iova_state st = { .addr = state->addr, .__size = state->size };
	volatile int64_t result = 0;

	memset(res, 0, sizeof(*res));
	ctx->ops = ops;
	if (setjmp(ctx->bug)) {
		ctx->ops = NULL;
		return 1;
	}
	switch (call->kind) {
	case DMADIFF_CALL_IOVA_TRY_ALLOC:
		result = dma_iova_try_alloc(dev, &st, call->addr, call->size);
		break;
	case DMADIFF_CALL_IOVA_LINK:
		result = dma_iova_link(dev, &st, call->addr, call->offset, call->size, dir,
				       call->attrs);
		break;
	case DMADIFF_CALL_IOVA_SYNC:
		result = dma_iova_sync(dev, &st, call->offset, call->size);
		break;
	case DMADIFF_CALL_IOVA_UNLINK:
		dma_iova_unlink(dev, &st, call->offset, call->size, dir, call->attrs);
		break;
	case DMADIFF_CALL_IOVA_DESTROY:
		dma_iova_destroy(dev, &st, call->size, dir, call->attrs);
		break;
	case DMADIFF_CALL_IOVA_FREE:
		dma_iova_free(dev, &st);
		break;
	default:
		fprintf(stderr, "dmadiff: call kind %d takes no dma_iova_state\n", call->kind);
		abort();
	}
	ctx->ops = NULL;
	state->addr = st.addr;
	state->size = st.__size;
	res->value = (uint64_t)result;
	return 0;
}

/* models __pci_p2pdma_update_state() and is_pci_p2pdma_page(), asked of the platform */
enum pci_p2pdma_map_type dmadiff_p2pdma_classify(struct device *dev,
		struct pci_p2pdma_map_state *state, struct page *page)
{
	const struct dmadiff_platform_ops *ops = ops_of(dev);
	uint64_t bus_off = 0, pgmap = 0;
	int32_t t = ops->pci_p2pdma_map_type(ops->priv, page_to_pfn(page), &bus_off, &pgmap);

	if (t == PCI_P2PDMA_MAP_NONE)
		return PCI_P2PDMA_MAP_NONE;
	/* the state caches one pgmap's classification (pci_p2pdma_state()) */
	if (state->pgmap != pgmap) {
		state->pgmap = pgmap;
		state->map = (enum pci_p2pdma_map_type)t;
		state->bus_off = bus_off;
	}
	return state->map;
}

/* ---- read-only views of the swiotlb state ---- */

bool dmadiff_swiotlb_pool(const struct dmadiff_ctx *ctx,
			  struct dmadiff_swiotlb_pool_info *out)
{
	return dmadiff_swiotlb_pool_info(&ctx->dev, out);
}

void dmadiff_swiotlb_slot(const struct dmadiff_ctx *ctx, uint64_t index,
			  struct dmadiff_swiotlb_slot_info *out)
{
	dmadiff_swiotlb_slot_info(&ctx->dev, index, out);
}

void dmadiff_swiotlb_area(const struct dmadiff_ctx *ctx, uint32_t area,
			  struct dmadiff_swiotlb_area_info *out)
{
	dmadiff_swiotlb_area_info(&ctx->dev, area, out);
}

int64_t dmadiff_iova_nodes(const struct dmadiff_ctx *ctx, int32_t which,
			   struct dmadiff_iova_range *out, uint64_t max)
{
	const struct iova_domain *iovad;
	struct iova *buf;
	size_t n;

	if (which == DMADIFF_IOVA_STANDALONE)
		iovad = ctx->iovad_live ? &ctx->iovad : NULL;
	else
		iovad = ctx->dev.dma_iommu ?
			dmadiff_iommu_dma_iovad((struct device *)&ctx->dev) : NULL;
	if (!iovad)
		return -1;
	n = iova_dump_nodes(iovad, NULL, 0);
	if (n && max) {
		/* out's layout is the ABI's, not struct iova's */
		buf = calloc(n, sizeof(*buf));
		if (!buf)
			abort();
		iova_dump_nodes(iovad, buf, n);
		for (size_t i = 0; i < n && i < max; i++) {
			out[i].pfn_lo = buf[i].pfn_lo;
			out[i].pfn_hi = buf[i].pfn_hi;
		}
		free(buf);
	}
	return (int64_t)n;
}

int64_t dmadiff_iova_parked(const struct dmadiff_ctx *ctx, int32_t which, uint64_t *out, uint64_t max)
{
	struct device *dev = (struct device *)&ctx->dev;
	const struct iova_domain *iovad;
	unsigned long *buf;
	size_t cached, queued = 0;

	if (which == DMADIFF_IOVA_STANDALONE)
		iovad = ctx->iovad_live ? &ctx->iovad : NULL;
	else
		iovad = dev->dma_iommu ? dmadiff_iommu_dma_iovad(dev) : NULL;
	if (!iovad)
		return -1;
	cached = iova_dump_cached_pfns(iovad, NULL, 0);
	if (which == DMADIFF_IOVA_DMA_DOMAIN)
		queued = dmadiff_iommu_dma_fq_pfns(dev, NULL, 0);
	if (max && cached + queued) {
		/* out's element type is the ABI's, not unsigned long */
		buf = calloc(cached + queued, sizeof(*buf));
		if (!buf)
			abort();
		iova_dump_cached_pfns(iovad, buf, cached);
		if (queued)
			dmadiff_iommu_dma_fq_pfns(dev, buf + cached, queued);
		for (size_t i = 0; i < cached + queued && i < max; i++)
			out[i] = buf[i];
		free(buf);
	}
	return (int64_t)(cached + queued);
}

uint64_t dmadiff_swiotlb_touched_segments(const struct dmadiff_ctx *ctx,
					  uint64_t *out, uint64_t max)
{
	return dmadiff_swiotlb_touched(&ctx->dev, out, max);
}
