//! include/linux/pci-p2pdma.h (v6.18): the per-call P2PDMA map state the sg paths keep.
//! Which map type a provider gets (calc_map_type_and_dist() in drivers/pci/p2pdma.c) is
//! the platform's PCI topology, so the platform answers it.

use crate::platform::Platform;
use crate::scenario::P2pdmaMapType;
use crate::types::{DmaAddr, PhysAddr, PAGE_SHIFT};

/// enum pci_p2pdma_map_type, as pci_p2pdma_state() returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PciP2pdmaMapType {
    /// PCI_P2PDMA_MAP_NONE: not P2PDMA memory.
    None,
    NotSupported,
    BusAddr,
    ThruHostBridge,
}

/// struct pci_p2pdma_map_state
#[derive(Clone, Copy, Debug, Default)]
pub struct PciP2pdmaMapState {
    /// The dev_pagemap last classified (0: none yet).
    pgmap: u64,
    map: Option<PciP2pdmaMapType>,
    pub bus_off: u64,
}

/// models pci_p2pdma_state(): the map type of `page` for the device, recomputed (by
/// __pci_p2pdma_update_state()) only when the page's pgmap differs from the cached one.
pub fn pci_p2pdma_state(state: &mut PciP2pdmaMapState, plat: &Platform, page: PhysAddr) -> PciP2pdmaMapType {
    let Some((route, bus_off, pgmap)) = plat.pci_p2pdma_map_type(page.0 >> PAGE_SHIFT) else {
        return PciP2pdmaMapType::None;
    };
    if state.pgmap != pgmap {
        state.pgmap = pgmap;
        state.bus_off = bus_off;
        state.map = Some(match route {
            P2pdmaMapType::NotSupported => PciP2pdmaMapType::NotSupported,
            P2pdmaMapType::BusAddr => PciP2pdmaMapType::BusAddr,
            P2pdmaMapType::ThruHostBridge => PciP2pdmaMapType::ThruHostBridge,
        });
    }
    state.map.expect("set above")
}

/// models pci_p2pdma_bus_addr_map(): the bus address of a BUS_ADDR page.
pub fn pci_p2pdma_bus_addr_map(state: &PciP2pdmaMapState, paddr: PhysAddr) -> DmaAddr {
    DmaAddr(paddr.0.wrapping_add(state.bus_off))
}
