//! include/linux/scatterlist.h and the two-step IOVA state of include/linux/dma-mapping.h:
//! the objects a driver hands to the sg and dma_iova_* calls, shared by both sides.
//!
//! A list is flat here: [`SgTable::sgl`] holds the entries `sg_next()` walks, in order; a
//! chain link (`sg_chain()`) is a mark on the entry before it. The C model rebuilds real
//! chained arrays from the marks, so its `sg_next()` crosses them as the kernel's does.

use crate::types::{DmaAddr, PhysAddr, DMA_MAPPING_ERROR};

/// SG_DMA_BUS_ADDRESS: sg_dma_address() is a PCI bus address (P2PDMA), not mapped.
pub const SG_DMA_BUS_ADDRESS: u32 = 1 << 0;
/// SG_DMA_SWIOTLB: (on the list head) dma-iommu bounced the segments one by one.
pub const SG_DMA_SWIOTLB: u32 = 1 << 1;

/// One `struct scatterlist` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scatterlist {
    /// page_to_phys(sg_page(sg)).
    pub page: PhysAddr,
    pub offset: u32,
    pub length: u32,
    pub dma_address: DmaAddr,
    /// sg_dma_len() (CONFIG_NEED_SG_DMA_LENGTH).
    pub dma_length: u32,
    /// SG_DMA_BUS_ADDRESS / SG_DMA_SWIOTLB (CONFIG_NEED_SG_DMA_FLAGS).
    pub dma_flags: u32,
    /// sg_chain() follows this entry: the next entry lives in another array.
    pub chain_after: bool,
}

impl Scatterlist {
    /// sg_set_page(sg, page, len, offset) on a fresh (zeroed) entry.
    pub fn new(page: PhysAddr, offset: u32, length: u32) -> Self {
        Scatterlist { page, offset, length, dma_address: DmaAddr(0), dma_length: 0, dma_flags: 0, chain_after: false }
    }

    /// models sg_phys()
    pub fn phys(&self) -> PhysAddr {
        self.page.wrapping_add(self.offset as u64)
    }

    /// models sg_dma_is_bus_address()
    pub fn is_bus_address(&self) -> bool {
        self.dma_flags & SG_DMA_BUS_ADDRESS != 0
    }

    /// models sg_dma_mark_bus_address()
    pub fn mark_bus_address(&mut self) {
        self.dma_flags |= SG_DMA_BUS_ADDRESS;
    }

    /// models sg_dma_unmark_bus_address()
    pub fn unmark_bus_address(&mut self) {
        self.dma_flags &= !SG_DMA_BUS_ADDRESS;
    }

    /// models sg_dma_is_swiotlb()
    pub fn is_swiotlb(&self) -> bool {
        self.dma_flags & SG_DMA_SWIOTLB != 0
    }

    /// models sg_dma_mark_swiotlb()
    pub fn mark_swiotlb(&mut self) {
        self.dma_flags |= SG_DMA_SWIOTLB;
    }
}

/// One `struct sg_table`: the entries, `nents` (what dma_map_sgtable() returned) and
/// `orig_nents` (the CPU entries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SgTable {
    pub sgl: Vec<Scatterlist>,
    pub nents: u32,
    pub orig_nents: u32,
}

impl SgTable {
    /// sg_alloc_table(n): n zeroed entries, nents = orig_nents = n.
    pub fn alloc(n: u32) -> Self {
        SgTable { sgl: vec![Scatterlist::new(PhysAddr(0), 0, 0); n as usize], nents: n, orig_nents: n }
    }
}

/// `struct dma_iova_state` of the two-step API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DmaIovaState {
    pub addr: DmaAddr,
    /// `__size`: the size asked for, with DMA_IOVA_USE_SWIOTLB in bit 63.
    pub size: u64,
}

/// DMA_IOVA_USE_SWIOTLB: some range of the state was bounced (bit 63 of `__size`).
pub const DMA_IOVA_USE_SWIOTLB: u64 = 1 << 63;

impl DmaIovaState {
    /// models dma_use_iova()
    pub fn use_iova(&self) -> bool {
        self.size != 0
    }
    /// models dma_iova_size()
    pub fn iova_size(&self) -> u64 {
        self.size & !DMA_IOVA_USE_SWIOTLB
    }
}

impl Default for Scatterlist {
    fn default() -> Self {
        Scatterlist::new(PhysAddr(0), 0, 0)
    }
}

/// An entry as the DMA side left it: what a driver reads back after a map.
pub fn dma_view(s: &Scatterlist) -> (DmaAddr, u32, bool) {
    (s.dma_address, s.dma_length, s.is_bus_address())
}

/// True when the entry holds no DMA segment (`__finalise_sg()` and `__invalidate_sg()` leave
/// unused entries as DMA_MAPPING_ERROR with length 0).
pub fn is_unused(s: &Scatterlist) -> bool {
    s.dma_address == DMA_MAPPING_ERROR && s.dma_length == 0
}
