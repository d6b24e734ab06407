// SPDX-License-Identifier: GPL-2.0-only
/*
 * The model's "boot" (struct dmadiff_ctx), the entry point of platform.h,
 * and the platform side of the kernel services the DMA code calls:
 * arch cache hooks, page queries, tracepoints, printk, WARN and BUG.
 * Every effect goes through the ops table of the current call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "compat.h"
#include "direct.h"
#include "trace-dma.h"

/* More than the once-sites the model has; running out is a model bug. */
#define DMADIFF_MAX_ONCE	32

struct dmadiff_ctx {
	struct device dev;
	u64 dma_mask;				/* what dev.dma_mask points at */
	struct bus_dma_region *dma_range_map;	/* owned, size-0 terminated */
	char *name;
	char *driver;
	const struct dmadiff_platform_ops *ops;	/* only during dmadiff_call() */
	jmp_buf bug;
	const char *once_done[DMADIFF_MAX_ONCE];
	unsigned int nr_once;
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

/* ---- the context ---- */

struct dmadiff_ctx *dmadiff_ctx_new(const struct dmadiff_device_config *cfg)
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

	/* dma_setup_need_sync() only runs from dma_set_mask(), which fails without dev->dma_mask */
	dev->dma_skip_sync = dev->dma_mask ? dev_is_dma_coherent(dev) : false;
	return ctx;

fail:
	dmadiff_ctx_free(ctx);
	return NULL;
}

void dmadiff_ctx_free(struct dmadiff_ctx *ctx)
{
	if (!ctx)
		return;
	free(ctx->dma_range_map);
	free(ctx->name);
	free(ctx->driver);
	free(ctx);
}

/* ---- the entry point ---- */

int dmadiff_call(struct dmadiff_ctx *ctx, const struct dmadiff_platform_ops *ops,
		 const struct dmadiff_call *call, uint64_t *ret)
{
	struct device *dev = &ctx->dev;
	enum dma_data_direction dir = (enum dma_data_direction)call->dir;
	uint64_t result = 0;

	*ret = 0;
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
	default:
		fprintf(stderr, "dmadiff: unknown call kind %d\n", call->kind);
		abort();
	}

	ctx->ops = NULL;
	*ret = result;
	return 0;
}
