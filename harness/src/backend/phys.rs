//! The physical-address side: the Rust v6.18 mapper in crate::phys.

use super::{ApiCall, ApiResult, Backend, Side};
use crate::oracle::swiotlb::{AreaInfo, PoolInfo, SlotInfo};
use crate::phys::dma_map_ops::dma_kmalloc_needs_bounce;
use crate::phys::{mapping, swiotlb, Device};
use crate::platform::Platform;
use crate::scenario::Config;
use crate::types::DmaAddr;

pub struct PhysBackend {
    dev: Device,
}

impl PhysBackend {
    pub fn new(cfg: &Config, plat: &mut Platform) -> Self {
        PhysBackend { dev: Device::new(cfg, plat) }
    }
}

impl Backend for PhysBackend {
    fn side(&self) -> Side {
        Side::Phys
    }

    fn call(&mut self, plat: &mut Platform, call: &ApiCall) -> ApiResult {
        let d = &mut self.dev;
        let r = match *call {
            ApiCall::MapPhys { phys, size, dir, attrs } => {
                mapping::dma_map_phys(d, plat, phys, size, dir, attrs).map(ApiResult::Dma)
            }
            ApiCall::MapPageAttrs { page, offset, size, dir, attrs } => {
                mapping::dma_map_page_attrs(d, plat, page, offset, size, dir, attrs).map(ApiResult::Dma)
            }
            ApiCall::MapResource { phys, size, dir, attrs } => {
                mapping::dma_map_resource(d, plat, phys, size, dir, attrs).map(ApiResult::Dma)
            }
            ApiCall::UnmapPhys { addr, size, dir, attrs } => {
                mapping::dma_unmap_phys(d, plat, addr, size, dir, attrs).map(|_| ApiResult::Void)
            }
            ApiCall::UnmapPageAttrs { addr, size, dir, attrs } => {
                mapping::dma_unmap_page_attrs(d, plat, addr, size, dir, attrs).map(|_| ApiResult::Void)
            }
            ApiCall::UnmapResource { addr, size, dir, attrs } => {
                mapping::dma_unmap_resource(d, plat, addr, size, dir, attrs).map(|_| ApiResult::Void)
            }
            ApiCall::SyncForCpu { addr, size, dir } => {
                mapping::dma_sync_single_for_cpu(d, plat, addr, size, dir).map(|_| ApiResult::Void)
            }
            ApiCall::SyncForDevice { addr, size, dir } => {
                mapping::dma_sync_single_for_device(d, plat, addr, size, dir).map(|_| ApiResult::Void)
            }
            ApiCall::MappingError { addr } => Ok(ApiResult::Int(mapping::dma_mapping_error(d, addr) as i64)),
            ApiCall::TblMapSingle { orig, size, alloc_align_mask, dir, attrs } => {
                swiotlb::swiotlb_tbl_map_single(d, plat, orig, size, alloc_align_mask, dir, attrs)
                    .map(|p| ApiResult::Dma(DmaAddr(p.0)))
            }
            ApiCall::TblUnmapSingle { tlb_addr, size, dir, attrs } => {
                swiotlb::swiotlb_tbl_unmap_single(d, plat, tlb_addr, size, dir, attrs).map(|_| ApiResult::Void)
            }
            ApiCall::TblSyncForCpu { tlb_addr, size, dir } => {
                swiotlb::swiotlb_sync_single_for_cpu(d, plat, tlb_addr, size, dir).map(|_| ApiResult::Void)
            }
            ApiCall::TblSyncForDevice { tlb_addr, size, dir } => {
                swiotlb::swiotlb_sync_single_for_device(d, plat, tlb_addr, size, dir).map(|_| ApiResult::Void)
            }
            ApiCall::SwiotlbMaxMappingSize => Ok(ApiResult::Int(swiotlb::swiotlb_max_mapping_size(d) as i64)),
            ApiCall::IsSwiotlbActive => Ok(ApiResult::Int(swiotlb::is_swiotlb_active(d) as i64)),
            ApiCall::IsSwiotlbForceBounce => Ok(ApiResult::Int(swiotlb::is_swiotlb_force_bounce(d) as i64)),
            ApiCall::DmaKmallocNeedsBounce { size, dir } => {
                Ok(ApiResult::Int(dma_kmalloc_needs_bounce(d, size, dir) as i64))
            }
            ApiCall::SetMinAlignMask { mask } => {
                swiotlb::dma_set_min_align_mask(d, plat, mask);
                Ok(ApiResult::Void)
            }
            ApiCall::SetSegBoundary { mask } => {
                swiotlb::dma_set_seg_boundary(d, plat, mask);
                Ok(ApiResult::Void)
            }
            ApiCall::RunOnCpu { cpu } => {
                d.cpu = cpu;
                Ok(ApiResult::Void)
            }
        };
        r.unwrap_or(ApiResult::Bug)
    }

    fn swiotlb_pool(&self) -> Option<PoolInfo> {
        self.dev.swiotlb.as_ref().map(|m| PoolInfo {
            start: m.defpool.start,
            end: m.defpool.end,
            nslabs: m.defpool.nslabs,
            nareas: m.defpool.nareas,
            area_nslabs: m.defpool.area_nslabs,
            force_bounce: m.force_bounce,
        })
    }

    fn swiotlb_slot(&self, index: u64) -> SlotInfo {
        let s = self.dev.swiotlb.as_ref().expect("no pool").defpool.slot(index);
        SlotInfo {
            orig_addr: s.orig_addr,
            alloc_size: s.alloc_size,
            list: s.list as u32,
            pad_slots: s.pad_slots as u32,
        }
    }

    fn swiotlb_area(&self, area: u32) -> AreaInfo {
        let a = self.dev.swiotlb.as_ref().expect("no pool").defpool.areas[area as usize];
        AreaInfo { index: a.index as u64, used: a.used }
    }

    fn swiotlb_touched_segments(&self) -> Vec<u64> {
        self.dev.swiotlb.as_ref().map(|m| m.defpool.touched_segments().collect()).unwrap_or_default()
    }
}
