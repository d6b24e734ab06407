/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * include/linux/pci-p2pdma.h (v6.16, after a25e7962db0d "PCI/P2PDMA: Refactor the
 * p2pdma mapping helpers"): the per-call map state and its helpers. Which map type a
 * provider gets (calc_map_type_and_dist() in drivers/pci/p2pdma.c) is the platform's
 * PCI topology, so the platform answers it.
 */
#ifndef DMADIFF_PCI_P2PDMA_H
#define DMADIFF_PCI_P2PDMA_H

#include "dma-mapping.h"

enum pci_p2pdma_map_type {
	PCI_P2PDMA_MAP_UNKNOWN = DMADIFF_P2PDMA_MAP_UNKNOWN,
	PCI_P2PDMA_MAP_NONE = DMADIFF_P2PDMA_MAP_NONE,
	PCI_P2PDMA_MAP_NOT_SUPPORTED = DMADIFF_P2PDMA_MAP_NOT_SUPPORTED,
	PCI_P2PDMA_MAP_BUS_ADDR = DMADIFF_P2PDMA_MAP_BUS_ADDR,
	PCI_P2PDMA_MAP_THRU_HOST_BRIDGE = DMADIFF_P2PDMA_MAP_THRU_HOST_BRIDGE,
};

struct pci_p2pdma_map_state {
	uint64_t pgmap;		/* token of the dev_pagemap last classified (0: none) */
	enum pci_p2pdma_map_type map;
	u64 bus_off;
};

/*
 * models __pci_p2pdma_update_state() (the pgmap's provider against the client) and
 * is_pci_p2pdma_page(): the map type of page for dev, PCI_P2PDMA_MAP_NONE if page is
 * not P2PDMA memory. Fills state on a new pgmap.
 */
enum pci_p2pdma_map_type dmadiff_p2pdma_classify(struct device *dev,
		struct pci_p2pdma_map_state *state, struct page *page);

/* models pci_p2pdma_state(): the map type, recomputed only when the pgmap changes */
static inline enum pci_p2pdma_map_type
pci_p2pdma_state(struct pci_p2pdma_map_state *state, struct device *dev,
		 struct page *page)
{
	return dmadiff_p2pdma_classify(dev, state, page);
}

/* models pci_p2pdma_bus_addr_map(): the bus address of a BUS_ADDR page */
static inline dma_addr_t
pci_p2pdma_bus_addr_map(struct pci_p2pdma_map_state *state, phys_addr_t paddr)
{
	return paddr + state->bus_off;
}

#endif /* DMADIFF_PCI_P2PDMA_H */
