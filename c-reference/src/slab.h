/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kmalloc_size_roundup() (mm/slab_common.c, v6.16) for SLUB on an arm64
 * kernel with 4K pages and CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC, the only
 * configuration in which dma_kmalloc_needs_bounce() ever asks for it.
 */
#ifndef DMADIFF_SLAB_H
#define DMADIFF_SLAB_H

#include "dma-mapping.h"
#include "swiotlb.h"

/* arch/arm64/include/asm/cache.h: kmalloc keeps 8, DMA needs 128 */
#define ARCH_KMALLOC_MINALIGN	8
/* __alignof__(unsigned long long); arm64 raises it only with KASAN_HW_TAGS (MTE) */
#define ARCH_SLAB_MINALIGN	8

/* include/linux/slab.h: ARCH_KMALLOC_MINALIGN is not > 8, so the defaults hold */
#define KMALLOC_SHIFT_LOW	3
#define KMALLOC_MIN_SIZE	(1 << KMALLOC_SHIFT_LOW)
#define KMALLOC_SHIFT_HIGH	(PAGE_SHIFT + 1)
/* ARCH_FORCE_MAX_ORDER defaults to 10 for arm64 with 4K pages */
#define MAX_PAGE_ORDER		10
#define KMALLOC_SHIFT_MAX	(MAX_PAGE_ORDER + PAGE_SHIFT)
#define KMALLOC_MAX_SIZE	(1UL << KMALLOC_SHIFT_MAX)
#define KMALLOC_MAX_CACHE_SIZE	(1UL << KMALLOC_SHIFT_HIGH)

/* kmalloc_info[].size, indexed like kmalloc_caches[] (96 at 1, 192 at 2) */
static const unsigned int kmalloc_info_size[KMALLOC_SHIFT_HIGH + 1] = {
	0, 96, 192, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192,
};

/* kmalloc_size_index[]: KMALLOC_MIN_SIZE 8, so setup_kmalloc_cache_index_table() patches nothing */
static const u8 kmalloc_size_index[24] = {
	3, 4, 5, 5, 6, 6, 6, 6,		/* 8 .. 64 */
	1, 1, 1, 1, 7, 7, 7, 7,		/* 72 .. 128 */
	2, 2, 2, 2, 2, 2, 2, 2,		/* 136 .. 192 */
};

/* models fls64() */
static inline unsigned int fls64(u64 x)
{
	return x ? 64 - (unsigned int)__builtin_clzll(x) : 0;
}

/* models get_order() in include/asm-generic/getorder.h (size > 0) */
static inline unsigned int get_order(unsigned long size)
{
	return fls64((size - 1) >> PAGE_SHIFT);
}

/* models __kmalloc_minalign() in mm/slab_common.c */
static inline unsigned int __kmalloc_minalign(const struct device *dev)
{
	unsigned int minalign = (unsigned int)dma_get_cache_alignment(dev);

	/* without a default pool the kmalloc caches stay ARCH_DMA_MINALIGN-aligned */
	if (dev->kconfig.dma_bounce_unaligned_kmalloc && is_swiotlb_allocated(dev))
		minalign = ARCH_KMALLOC_MINALIGN;

	return minalign > ARCH_SLAB_MINALIGN ? minalign : ARCH_SLAB_MINALIGN;
}

/* models kmalloc_slab(size, NULL, GFP_KERNEL, 0)->object_size, incl. new_kmalloc_cache() aliasing */
static inline size_t kmalloc_slab_object_size(const struct device *dev,
		size_t size)
{
	unsigned int minalign = __kmalloc_minalign(dev);
	unsigned int index;
	size_t object_size;

	if (size <= 192)
		index = kmalloc_size_index[(size - 1) / 8];
	else
		index = fls64(size - 1);

	object_size = kmalloc_info_size[index];
	if (minalign > ARCH_KMALLOC_MINALIGN)
		object_size = ALIGN(object_size, (size_t)minalign);
	return object_size;
}

/* models kmalloc_size_roundup() in mm/slab_common.c */
static inline size_t kmalloc_size_roundup(const struct device *dev,
		size_t size)
{
	if (size && size <= KMALLOC_MAX_CACHE_SIZE)
		return kmalloc_slab_object_size(dev, size);

	/* Above the smaller buckets, size is a multiple of page size. */
	if (size && size <= KMALLOC_MAX_SIZE)
		return PAGE_SIZE << get_order(size);

	/* 0 (kmalloc() gives ZERO_SIZE_PTR) and too large sizes come back as is */
	return size;
}

#endif /* DMADIFF_SLAB_H */
