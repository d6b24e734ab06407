//! The legacy side: the C model behind dmadiff-cref.

use dmadiff_cref::{
    BusDmaRegion, Call, CallResult, DeviceConfig, DmaParms, IommuConfig, IommuDomainType, IovaCall, IovaDomainId,
    IovaState, LegacyModel, SgCall, SgEntry, SgResult, SwiotlbConfig, SwiotlbMode,
};

use super::{ApiCall, ApiResult, Backend, IovaTree, Side};
use crate::oracle::swiotlb::{AreaInfo, PoolInfo, SlotInfo};
use crate::phys::swiotlb::IO_TLB_DEFAULT_NSLABS;
use crate::platform::Platform;
use crate::scatterlist::{DmaIovaState, SgTable};
use crate::scenario::{self, Config};
use crate::types::{DmaAddr, PhysAddr};

pub struct LegacyBackend {
    model: LegacyModel,
}

/// The C model's view of the scenario configuration.
fn device_config(cfg: &Config) -> DeviceConfig {
    let d = &cfg.device;
    let swiotlb = match cfg.swiotlb {
        None => SwiotlbConfig { mode: SwiotlbMode::Off, start: 0, nslabs: 0, nareas: 0 },
        Some(s) => SwiotlbConfig {
            mode: match s.mode {
                scenario::SwiotlbMode::Off => SwiotlbMode::Off,
                scenario::SwiotlbMode::On => SwiotlbMode::On,
                scenario::SwiotlbMode::Force => SwiotlbMode::Force,
                scenario::SwiotlbMode::Restricted => SwiotlbMode::Restricted,
            },
            start: s.start.0,
            // Without swiotlb= the kernel starts from IO_TLB_DEFAULT_SIZE, already aligned.
            nslabs: s.nslabs.unwrap_or(IO_TLB_DEFAULT_NSLABS),
            nareas: s.nareas.unwrap_or(0),
        },
    };
    DeviceConfig {
        name: d.name.clone(),
        driver: d.driver.clone(),
        dma_mask: d.dma_mask,
        bus_dma_limit: d.bus_dma_limit,
        dma_coherent: d.coherent,
        dma_range_map: cfg
            .dma_ranges
            .iter()
            .map(|r| BusDmaRegion { cpu_start: r.cpu_start.0, dma_start: r.dma_start, size: r.size })
            .collect(),
        dma_bounce_unaligned_kmalloc: cfg.arch.dma_bounce_unaligned_kmalloc(),
        arch_dma_minalign: cfg.arch.arch_dma_minalign(),
        dma_api_debug: cfg.dma_api_debug,
        nr_cpus: cfg.nr_cpus,
        dma_parms: d.dma_parms.map(|p| DmaParms {
            min_align_mask: p.min_align_mask as u64,
            seg_boundary_mask: p.seg_boundary_mask,
            max_segment_size: p.max_segment_size,
        }),
        swiotlb,
        is_pci: d.pci,
        untrusted: d.untrusted,
        iommu: match &cfg.iommu {
            None => IommuConfig::default(),
            Some(i) => IommuConfig {
                domain: match i.domain {
                    scenario::IommuDomainType::Identity => IommuDomainType::Identity,
                    scenario::IommuDomainType::Dma => IommuDomainType::Dma,
                    scenario::IommuDomainType::DmaFq => IommuDomainType::DmaFq,
                },
                pgsize_bitmap: i.pgsize_bitmap,
                aperture_start: i.aperture_start,
                aperture_end: i.aperture_end,
                force_aperture: i.force_aperture,
                deferred_flush: i.deferred_flush,
                shadow_on_flush: i.shadow_on_flush,
                forcedac: i.forcedac,
                resv: i.resv.clone(),
                pci_windows: i.pci_windows.clone(),
            },
        },
    }
}

fn domain_id(which: IovaTree) -> IovaDomainId {
    match which {
        IovaTree::Standalone => IovaDomainId::Standalone,
        IovaTree::DmaDomain => IovaDomainId::DmaDomain,
    }
}

impl LegacyBackend {
    pub fn new(cfg: &Config, plat: &mut Platform) -> Self {
        LegacyBackend { model: LegacyModel::new(&device_config(cfg), plat) }
    }
}

impl Backend for LegacyBackend {
    fn side(&self) -> Side {
        Side::Legacy
    }

    fn call(&mut self, plat: &mut Platform, call: &ApiCall) -> ApiResult {
        let c = match *call {
            ApiCall::MapPhys { phys, size, dir, attrs } => {
                Call::MapPhys { phys: phys.0, size, dir: dir.0, attrs: attrs.0 }
            }
            ApiCall::MapPageAttrs { page, offset, size, dir, attrs } => {
                Call::MapPageAttrs { page_phys: page.0, offset, size, dir: dir.0, attrs: attrs.0 }
            }
            ApiCall::MapResource { phys, size, dir, attrs } => {
                Call::MapResource { phys: phys.0, size, dir: dir.0, attrs: attrs.0 }
            }
            ApiCall::MapSingle { ptr, size, dir, attrs } => Call::MapSingle { ptr, size, dir: dir.0, attrs: attrs.0 },
            ApiCall::UnmapPhys { addr, size, dir, attrs } => {
                Call::UnmapPhys { addr: addr.0, size, dir: dir.0, attrs: attrs.0 }
            }
            ApiCall::UnmapPageAttrs { addr, size, dir, attrs } => {
                Call::UnmapPageAttrs { addr: addr.0, size, dir: dir.0, attrs: attrs.0 }
            }
            ApiCall::UnmapResource { addr, size, dir, attrs } => {
                Call::UnmapResource { addr: addr.0, size, dir: dir.0, attrs: attrs.0 }
            }
            ApiCall::SyncForCpu { addr, size, dir } => Call::SyncSingleForCpu { addr: addr.0, size, dir: dir.0 },
            ApiCall::SyncForDevice { addr, size, dir } => Call::SyncSingleForDevice { addr: addr.0, size, dir: dir.0 },
            ApiCall::MappingError { addr } => Call::MappingError { addr: addr.0 },
            ApiCall::TblMapSingle { orig, size, alloc_align_mask, dir, attrs } => Call::SwiotlbTblMapSingle {
                orig: orig.0,
                mapping_size: size,
                alloc_align_mask: alloc_align_mask as u64,
                dir: dir.0,
                attrs: attrs.0,
            },
            ApiCall::TblUnmapSingle { tlb_addr, size, dir, attrs } => {
                Call::SwiotlbTblUnmapSingle { tlb_addr: tlb_addr.0, size, dir: dir.0, attrs: attrs.0 }
            }
            ApiCall::TblSyncForCpu { tlb_addr, size, dir } => {
                Call::SwiotlbSyncSingleForCpu { tlb_addr: tlb_addr.0, size, dir: dir.0 }
            }
            ApiCall::TblSyncForDevice { tlb_addr, size, dir } => {
                Call::SwiotlbSyncSingleForDevice { tlb_addr: tlb_addr.0, size, dir: dir.0 }
            }
            ApiCall::SwiotlbMaxMappingSize => Call::SwiotlbMaxMappingSize,
            ApiCall::IsSwiotlbActive => Call::IsSwiotlbActive,
            ApiCall::IsSwiotlbForceBounce => Call::IsSwiotlbForceBounce,
            ApiCall::DmaKmallocNeedsBounce { size, dir } => Call::DmaKmallocNeedsBounce { size, dir: dir.0 },
            ApiCall::SetMinAlignMask { mask } => Call::SetMinAlignMask { mask: mask as u64 },
            ApiCall::SetSegBoundary { mask } => Call::SetSegBoundary { mask },
            ApiCall::RunOnCpu { cpu } => Call::RunOnCpu { cpu },
            ApiCall::DmaMaxMappingSize => Call::DmaMaxMappingSize,
            ApiCall::DmaOptMappingSize => Call::DmaOptMappingSize,
            ApiCall::IovaInit { granule, start_pfn } => Call::IovaInit { granule, start_pfn },
            ApiCall::AllocIova { size, limit_pfn, size_aligned } => Call::AllocIova { size, limit_pfn, size_aligned },
            ApiCall::AllocIovaFast { size, limit_pfn, flush_rcache } => {
                Call::AllocIovaFast { size, limit_pfn, flush_rcache }
            }
            ApiCall::FreeIova { pfn } => Call::FreeIova { pfn },
            ApiCall::FreeIovaFast { pfn, size } => Call::FreeIovaFast { pfn, size },
            ApiCall::FindIova { pfn } => Call::FindIova { pfn },
            ApiCall::ReserveIova { pfn_lo, pfn_hi } => Call::ReserveIova { pfn_lo, pfn_hi },
            ApiCall::FreeCpuCachedIovas { cpu } => Call::FreeCpuCachedIovas { cpu },
            ApiCall::IovaDepotWork => Call::IovaDepotWork,
            ApiCall::FqFlushTimeout => Call::FqTimeout,
            _ => panic!("{call:?} goes through call_sg or call_iova"),
        };
        match self.model.call(plat, c) {
            CallResult::Bug => ApiResult::Bug,
            CallResult::Iova(node) => ApiResult::Iova(node),
            CallResult::Returned(v) => match call {
                ApiCall::MapPhys { .. }
                | ApiCall::MapPageAttrs { .. }
                | ApiCall::MapResource { .. }
                | ApiCall::MapSingle { .. }
                | ApiCall::TblMapSingle { .. } => ApiResult::Dma(DmaAddr(v)),
                ApiCall::MappingError { .. } => ApiResult::Int(v as i64 as i32 as i64),
                ApiCall::SwiotlbMaxMappingSize
                | ApiCall::IsSwiotlbActive
                | ApiCall::IsSwiotlbForceBounce
                | ApiCall::DmaKmallocNeedsBounce { .. } => ApiResult::Int(v as i64),
                ApiCall::IovaInit { .. } => ApiResult::Int(v as i64 as i32 as i64),
                ApiCall::DmaMaxMappingSize | ApiCall::DmaOptMappingSize | ApiCall::AllocIovaFast { .. } => {
                    ApiResult::Hex(v)
                }
                _ => ApiResult::Void,
            },
        }
    }

    fn call_sg(&mut self, plat: &mut Platform, call: &ApiCall, sgt: &mut SgTable) -> ApiResult {
        let c = match *call {
            ApiCall::MapSg { nents, dir, attrs } => SgCall::MapSg { nents, dir: dir.0, attrs: attrs.0 },
            ApiCall::MapSgtable { dir, attrs } => {
                SgCall::MapSgtable { orig_nents: sgt.orig_nents, nents: sgt.nents, dir: dir.0, attrs: attrs.0 }
            }
            ApiCall::UnmapSg { nents, dir, attrs } => SgCall::UnmapSg { nents, dir: dir.0, attrs: attrs.0 },
            ApiCall::SyncSgForCpu { nelems, dir } => SgCall::SyncSgForCpu { nelems, dir: dir.0 },
            ApiCall::SyncSgForDevice { nelems, dir } => SgCall::SyncSgForDevice { nelems, dir: dir.0 },
            _ => panic!("{call:?} takes no scatterlist"),
        };
        let mut ents: Vec<SgEntry> = sgt
            .sgl
            .iter()
            .map(|s| SgEntry {
                page: s.page.0,
                offset: s.offset,
                length: s.length,
                dma_address: s.dma_address.0,
                dma_length: s.dma_length,
                dma_flags: s.dma_flags,
                chain_after: s.chain_after,
            })
            .collect();
        let r = self.model.call_sg(plat, c, &mut ents);
        for (s, e) in sgt.sgl.iter_mut().zip(&ents) {
            s.page = PhysAddr(e.page);
            s.offset = e.offset;
            s.length = e.length;
            s.dma_address = DmaAddr(e.dma_address);
            s.dma_length = e.dma_length;
            s.dma_flags = e.dma_flags;
        }
        match r {
            SgResult::Bug => ApiResult::Bug,
            SgResult::Returned { value, nents } => {
                if let ApiCall::MapSgtable { .. } = call {
                    sgt.nents = nents;
                }
                match call {
                    ApiCall::MapSg { .. } | ApiCall::MapSgtable { .. } => ApiResult::Int(value),
                    _ => ApiResult::Void,
                }
            }
        }
    }

    fn call_iova(&mut self, plat: &mut Platform, call: &ApiCall, state: &mut DmaIovaState) -> ApiResult {
        let c = match *call {
            ApiCall::IovaTryAlloc { phys, size } => IovaCall::TryAlloc { phys: phys.0, size },
            ApiCall::IovaLink { phys, offset, size, dir, attrs } => {
                IovaCall::Link { phys: phys.0, offset, size, dir: dir.0, attrs: attrs.0 }
            }
            ApiCall::IovaSync { offset, size } => IovaCall::Sync { offset, size },
            ApiCall::IovaUnlink { offset, size, dir, attrs } => {
                IovaCall::Unlink { offset, size, dir: dir.0, attrs: attrs.0 }
            }
            ApiCall::IovaDestroy { mapped_len, dir, attrs } => {
                IovaCall::Destroy { mapped_len, dir: dir.0, attrs: attrs.0 }
            }
            ApiCall::IovaFree => IovaCall::Free,
            _ => panic!("{call:?} takes no dma_iova_state"),
        };
        let mut st = IovaState { addr: state.addr.0, size: state.size };
        let r = self.model.call_iova(plat, c, &mut st);
        state.addr = DmaAddr(st.addr);
        state.size = st.size;
        match (r, call) {
            (None, _) => ApiResult::Bug,
            (Some(v), ApiCall::IovaTryAlloc { .. } | ApiCall::IovaLink { .. } | ApiCall::IovaSync { .. }) => {
                ApiResult::Int(v)
            }
            _ => ApiResult::Void,
        }
    }

    fn swiotlb_pool(&self) -> Option<PoolInfo> {
        self.model.swiotlb_pool()
    }

    fn swiotlb_slot(&self, index: u64) -> SlotInfo {
        self.model.swiotlb_slot(index)
    }

    fn swiotlb_area(&self, area: u32) -> AreaInfo {
        self.model.swiotlb_area(area)
    }

    fn swiotlb_touched_segments(&self) -> Vec<u64> {
        self.model.swiotlb_touched_segments()
    }

    fn iova_nodes(&self, which: IovaTree) -> Option<Vec<(u64, u64)>> {
        self.model.iova_nodes(domain_id(which))
    }

    fn iova_parked(&self, which: IovaTree) -> Option<Vec<u64>> {
        self.model.iova_parked(domain_id(which))
    }
}
