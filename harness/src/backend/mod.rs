//! The two sides behind one interface: the legacy C model and the Rust phys mapper.

pub mod legacy;
pub mod phys;

use crate::oracle::swiotlb::{AreaInfo, PoolInfo, SlotInfo};
use crate::platform::Platform;
use crate::scatterlist::{DmaIovaState, SgTable};
use crate::scenario::Config;
use crate::types::{DmaAddr, DmaAttrs, DmaDir, KernelVersion, PhysAddr};

/// Which side of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Side {
    /// v6.16, page-based, C.
    Legacy,
    /// v6.18, physical-address-based, Rust.
    Phys,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Legacy, Side::Phys];

    pub fn version(self) -> KernelVersion {
        match self {
            Side::Legacy => KernelVersion::V6_16,
            Side::Phys => KernelVersion::V6_18,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Side::Legacy => "legacy v6.16 (C)",
            Side::Phys => "phys v6.18 (Rust)",
        }
    }
    pub fn short(self) -> &'static str {
        match self {
            Side::Legacy => "L",
            Side::Phys => "P",
        }
    }
}

/// A DMA API call with every argument resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiCall {
    MapPhys {
        phys: PhysAddr,
        size: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    MapPageAttrs {
        page: PhysAddr,
        offset: u64,
        size: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    MapResource {
        phys: PhysAddr,
        size: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    /// dma_map_single_attrs(ptr, size, dir, attrs): `ptr` a kernel virtual address (the
    /// linear map is the identity in this model; vmalloc addresses are outside it).
    MapSingle {
        ptr: u64,
        size: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    UnmapPhys {
        addr: DmaAddr,
        size: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    UnmapPageAttrs {
        addr: DmaAddr,
        size: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    UnmapResource {
        addr: DmaAddr,
        size: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    SyncForCpu {
        addr: DmaAddr,
        size: u64,
        dir: DmaDir,
    },
    SyncForDevice {
        addr: DmaAddr,
        size: u64,
        dir: DmaDir,
    },
    MappingError {
        addr: DmaAddr,
    },
    /// swiotlb_tbl_map_single(orig, mapping_size, alloc_align_mask, dir, attrs)
    TblMapSingle {
        orig: PhysAddr,
        size: u64,
        alloc_align_mask: u32,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    /// swiotlb_tbl_unmap_single(tlb_addr, size, dir, attrs)
    TblUnmapSingle {
        tlb_addr: PhysAddr,
        size: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    TblSyncForCpu {
        tlb_addr: PhysAddr,
        size: u64,
        dir: DmaDir,
    },
    TblSyncForDevice {
        tlb_addr: PhysAddr,
        size: u64,
        dir: DmaDir,
    },
    SwiotlbMaxMappingSize,
    IsSwiotlbActive,
    IsSwiotlbForceBounce,
    DmaKmallocNeedsBounce {
        size: u64,
        dir: DmaDir,
    },
    SetMinAlignMask {
        mask: u32,
    },
    SetSegBoundary {
        mask: u64,
    },
    RunOnCpu {
        cpu: u32,
    },
    DmaMaxMappingSize,
    DmaOptMappingSize,
    /// init_iova_domain() + iova_domain_init_rcaches() of the allocator-level domain.
    IovaInit {
        granule: u64,
        start_pfn: u64,
    },
    AllocIova {
        size: u64,
        limit_pfn: u64,
        size_aligned: bool,
    },
    AllocIovaFast {
        size: u64,
        limit_pfn: u64,
        flush_rcache: bool,
    },
    FreeIova {
        pfn: u64,
    },
    FreeIovaFast {
        pfn: u64,
        size: u64,
    },
    FindIova {
        pfn: u64,
    },
    ReserveIova {
        pfn_lo: u64,
        pfn_hi: u64,
    },
    FreeCpuCachedIovas {
        cpu: u32,
    },
    /// Every pending iova_depot_work_func(), on every domain.
    IovaDepotWork,
    /// fq_flush_timeout() if armed.
    FqFlushTimeout,
    // ---- scatterlists: the list goes beside the call (Backend::call_sg) ----
    /// dma_map_sg_attrs(sgl, nents, dir, attrs)
    MapSg {
        nents: u32,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    /// dma_map_sgtable(sgt, dir, attrs): maps sgt->orig_nents, sets sgt->nents.
    MapSgtable {
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    /// dma_unmap_sg_attrs(sgl, nents, dir, attrs)
    UnmapSg {
        nents: u32,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    /// dma_sync_sg_for_cpu(sgl, nelems, dir)
    SyncSgForCpu {
        nelems: u32,
        dir: DmaDir,
    },
    /// dma_sync_sg_for_device(sgl, nelems, dir)
    SyncSgForDevice {
        nelems: u32,
        dir: DmaDir,
    },
    // ---- the two-step IOVA API: the state goes beside the call (Backend::call_iova) ----
    /// dma_iova_try_alloc(dev, state, phys, size)
    IovaTryAlloc {
        phys: PhysAddr,
        size: u64,
    },
    /// dma_iova_link(dev, state, phys, offset, size, dir, attrs)
    IovaLink {
        phys: PhysAddr,
        offset: u64,
        size: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    /// dma_iova_sync(dev, state, offset, size)
    IovaSync {
        offset: u64,
        size: u64,
    },
    /// dma_iova_unlink(dev, state, offset, size, dir, attrs)
    IovaUnlink {
        offset: u64,
        size: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    /// dma_iova_destroy(dev, state, mapped_len, dir, attrs)
    IovaDestroy {
        mapped_len: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    /// dma_iova_free(dev, state)
    IovaFree,
}

impl ApiCall {
    /// The call takes a scatterlist (Backend::call_sg).
    pub fn takes_sg(&self) -> bool {
        matches!(
            self,
            ApiCall::MapSg { .. }
                | ApiCall::MapSgtable { .. }
                | ApiCall::UnmapSg { .. }
                | ApiCall::SyncSgForCpu { .. }
                | ApiCall::SyncSgForDevice { .. }
        )
    }

    /// The call takes a `struct dma_iova_state` (Backend::call_iova).
    pub fn takes_iova_state(&self) -> bool {
        matches!(
            self,
            ApiCall::IovaTryAlloc { .. }
                | ApiCall::IovaLink { .. }
                | ApiCall::IovaSync { .. }
                | ApiCall::IovaUnlink { .. }
                | ApiCall::IovaDestroy { .. }
                | ApiCall::IovaFree
        )
    }
}

/// What a call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiResult {
    /// A dma_addr_t, or the phys_addr_t swiotlb_tbl_map_single() returns.
    Dma(DmaAddr),
    /// An int or bool.
    Int(i64),
    /// A size_t or pfn (unsigned long), printed in hex.
    Hex(u64),
    /// A `struct iova *`: `(pfn_lo, pfn_hi)`, or NULL.
    Iova(Option<(u64, u64)>),
    Void,
    /// The call hit BUG(); the side runs nothing after it.
    Bug,
}

/// One mapper under test.
pub trait Backend {
    fn side(&self) -> Side;
    /// Runs one call against `plat`.
    fn call(&mut self, plat: &mut Platform, call: &ApiCall) -> ApiResult;
    /// Runs one scatterlist call (`call.takes_sg()`) on `sgt`, which it updates as the
    /// kernel's would (sg_dma_address/len, marks, and for dma_map_sgtable `sgt.nents`).
    fn call_sg(&mut self, plat: &mut Platform, call: &ApiCall, sgt: &mut SgTable) -> ApiResult;
    /// Runs one two-step IOVA call (`call.takes_iova_state()`) on `state`.
    fn call_iova(&mut self, plat: &mut Platform, call: &ApiCall, state: &mut DmaIovaState) -> ApiResult;
    /// The swiotlb pool this side booted, if any.
    fn swiotlb_pool(&self) -> Option<PoolInfo>;
    /// Slot `index` of the pool.
    fn swiotlb_slot(&self, index: u64) -> SlotInfo;
    /// Area `area` of the pool.
    fn swiotlb_area(&self, area: u32) -> AreaInfo;
    /// The 128-slot segments ever written, ascending.
    fn swiotlb_touched_segments(&self) -> Vec<u64>;
    /// The nodes of an iova tree (anchor excluded), ascending; None if it does not exist.
    fn iova_nodes(&self, which: IovaTree) -> Option<Vec<(u64, u64)>>;
    /// The pfns a tree's domain holds for reuse: its range caches and (the DMA domain) its
    /// flush queues, in no particular order.
    fn iova_parked(&self, which: IovaTree) -> Option<Vec<u64>>;
}

/// Which iova tree a view reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IovaTree {
    /// The allocator-level domain of iova_init().
    Standalone,
    /// The iommu_dma_cookie's of the device's DMA domain.
    DmaDomain,
}

/// Boots a fresh backend for `side`; boot-time effects (the swiotlb pool memset) go to `plat`.
pub fn boot(side: Side, cfg: &Config, plat: &mut Platform) -> Box<dyn Backend> {
    match side {
        Side::Legacy => Box::new(legacy::LegacyBackend::new(cfg, plat)),
        Side::Phys => Box::new(phys::PhysBackend::new(cfg, plat)),
    }
}
