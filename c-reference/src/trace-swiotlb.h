/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The tracepoint of include/trace/events/swiotlb.h. It forwards to the
 * platform's recorder (dmadiff.c); like TP_fast_assign, it reads
 * is_swiotlb_force_bounce(dev) itself.
 */
#ifndef DMADIFF_TRACE_SWIOTLB_H
#define DMADIFF_TRACE_SWIOTLB_H

#include "dma-mapping.h"

/* models trace_swiotlb_bounced() */
void trace_swiotlb_bounced(struct device *dev, dma_addr_t dev_addr, size_t size);

#endif /* DMADIFF_TRACE_SWIOTLB_H */
