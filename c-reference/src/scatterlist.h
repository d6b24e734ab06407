/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * include/linux/scatterlist.h (v6.16): struct scatterlist, chained arrays, the DMA
 * fields (CONFIG_NEED_SG_DMA_LENGTH, CONFIG_NEED_SG_DMA_FLAGS) and struct sg_table.
 * page_link carries the page pointer (which is its pfn in this model, shifted clear
 * of the two low flag bits) or, with SG_CHAIN, the address of the next array.
 */
#ifndef DMADIFF_SCATTERLIST_H
#define DMADIFF_SCATTERLIST_H

#include "dma-mapping.h"

struct scatterlist {
	unsigned long page_link;
	unsigned int offset;
	unsigned int length;
	dma_addr_t dma_address;
	unsigned int dma_length;
	unsigned int dma_flags;
};

struct sg_table {
	struct scatterlist *sgl;
	unsigned int nents;		/* mapped entries */
	unsigned int orig_nents;	/* original size of list */
};

#define SG_CHAIN	0x01UL
#define SG_END		0x02UL
#define SG_PAGE_LINK_MASK (SG_CHAIN | SG_END)

/* page pointers are pfns here: keep them clear of the flag bits */
#define SG_PFN_SHIFT	2

#define SG_DMA_BUS_ADDRESS	(1 << 0)
#define SG_DMA_SWIOTLB		(1 << 1)

/* models sg_is_chain() */
static inline bool sg_is_chain(const struct scatterlist *sg)
{
	return sg->page_link & SG_CHAIN;
}

/* models sg_is_last() */
static inline bool sg_is_last(const struct scatterlist *sg)
{
	return sg->page_link & SG_END;
}

/* models sg_chain_ptr() */
static inline struct scatterlist *sg_chain_ptr(const struct scatterlist *sg)
{
	return (struct scatterlist *)(sg->page_link & ~SG_PAGE_LINK_MASK);
}

/* models sg_page() */
static inline struct page *sg_page(const struct scatterlist *sg)
{
	return pfn_to_page(sg->page_link >> SG_PFN_SHIFT);
}

/* models sg_assign_page(): keeps the END mark */
static inline void sg_assign_page(struct scatterlist *sg, struct page *page)
{
	unsigned long flags = sg->page_link & SG_PAGE_LINK_MASK;

	sg->page_link = ((unsigned long)page_to_pfn(page) << SG_PFN_SHIFT) | flags;
}

/* models sg_set_page() */
static inline void sg_set_page(struct scatterlist *sg, struct page *page,
			       unsigned int len, unsigned int offset)
{
	sg_assign_page(sg, page);
	sg->offset = offset;
	sg->length = len;
}

/* models sg_phys() */
static inline phys_addr_t sg_phys(const struct scatterlist *sg)
{
	return page_to_phys(sg_page(sg)) + sg->offset;
}

/* models sg_chain(): the last entry of prv becomes a link to sgl */
static inline void sg_chain(struct scatterlist *prv, unsigned int prv_nents,
			    struct scatterlist *sgl)
{
	prv[prv_nents - 1].offset = 0;
	prv[prv_nents - 1].length = 0;
	prv[prv_nents - 1].page_link = ((unsigned long)sgl | SG_CHAIN) & ~SG_END;
}

/* models sg_mark_end() */
static inline void sg_mark_end(struct scatterlist *sg)
{
	sg->page_link |= SG_END;
	sg->page_link &= ~SG_CHAIN;
}

/* models sg_next() (lib/scatterlist.c) */
static inline struct scatterlist *sg_next(struct scatterlist *sg)
{
	if (sg_is_last(sg))
		return NULL;
	sg++;
	if (sg_is_chain(sg))
		sg = sg_chain_ptr(sg);
	return sg;
}

#define for_each_sg(sglist, sg, nr, __i)	\
	for (__i = 0, sg = (sglist); __i < (nr); __i++, sg = sg_next(sg))

#define sg_dma_address(sg)	((sg)->dma_address)
#define sg_dma_len(sg)		((sg)->dma_length)

/* models sg_dma_is_bus_address() */
static inline bool sg_dma_is_bus_address(const struct scatterlist *sg)
{
	return sg->dma_flags & SG_DMA_BUS_ADDRESS;
}

/* models sg_dma_mark_bus_address() */
static inline void sg_dma_mark_bus_address(struct scatterlist *sg)
{
	sg->dma_flags |= SG_DMA_BUS_ADDRESS;
}

/* models sg_dma_unmark_bus_address() */
static inline void sg_dma_unmark_bus_address(struct scatterlist *sg)
{
	sg->dma_flags &= ~SG_DMA_BUS_ADDRESS;
}

/* models sg_dma_is_swiotlb() */
static inline bool sg_dma_is_swiotlb(const struct scatterlist *sg)
{
	return sg->dma_flags & SG_DMA_SWIOTLB;
}

/* models sg_dma_mark_swiotlb() */
static inline void sg_dma_mark_swiotlb(struct scatterlist *sg)
{
	sg->dma_flags |= SG_DMA_SWIOTLB;
}

#endif /* DMADIFF_SCATTERLIST_H */
