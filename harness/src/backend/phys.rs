//! The physical-address side: the Rust v6.18 mapper in crate::phys.

use super::{ApiCall, ApiResult, Backend, IovaTree, Side};
use crate::oracle::swiotlb::{AreaInfo, PoolInfo, SlotInfo};
use crate::phys::dma_map_ops::dma_kmalloc_needs_bounce;
use crate::phys::iova::{IovaDomain, ReserveResult};
use crate::phys::{dma_iommu, mapping, swiotlb, Device};
use crate::platform::Platform;
use crate::scatterlist::{DmaIovaState, SgTable};
use crate::scenario::Config;
use crate::types::DmaAddr;

pub struct PhysBackend {
    dev: Device,
    /// The allocator-level iova domain of iova_init().
    iovad: Option<IovaDomain>,
}

impl PhysBackend {
    pub fn new(cfg: &Config, plat: &mut Platform) -> Self {
        PhysBackend { dev: Device::new(cfg, plat), iovad: None }
    }

    fn iovad(&mut self) -> &mut IovaDomain {
        self.iovad.as_mut().expect("the parser requires iova_init() before the allocator-level calls")
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
            ApiCall::MapSingle { ptr, size, dir, attrs } => {
                mapping::dma_map_single_attrs(d, plat, ptr, size, dir, attrs).map(ApiResult::Dma)
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
            ApiCall::DmaMaxMappingSize => Ok(ApiResult::Hex(mapping::dma_max_mapping_size(d))),
            ApiCall::DmaOptMappingSize => Ok(ApiResult::Hex(mapping::dma_opt_mapping_size(d))),
            ApiCall::IovaInit { granule, start_pfn } => {
                // vduse's pattern: init_iova_domain(), then iova_domain_init_rcaches()
                let mut iovad = IovaDomain::new(granule, start_pfn);
                iovad.init_rcaches(d.nr_cpus);
                self.iovad = Some(iovad);
                Ok(ApiResult::Int(0))
            }
            ApiCall::AllocIova { size, limit_pfn, size_aligned } => {
                let n = self.iovad().alloc_iova(size, limit_pfn, size_aligned);
                Ok(ApiResult::Iova(n.map(|n| (n.pfn_lo, n.pfn_hi))))
            }
            ApiCall::AllocIovaFast { size, limit_pfn, flush_rcache } => {
                let cpu = self.dev.cpu;
                let pfn = self.iovad().alloc_iova_fast(cpu, size, limit_pfn, flush_rcache);
                dma_iommu::report_iova_warnings(self.iovad(), plat);
                Ok(ApiResult::Hex(pfn))
            }
            ApiCall::FreeIova { pfn } => {
                self.iovad().free_iova(pfn);
                Ok(ApiResult::Void)
            }
            ApiCall::FreeIovaFast { pfn, size } => {
                let cpu = self.dev.cpu;
                self.iovad().free_iova_fast(cpu, pfn, size);
                dma_iommu::report_iova_warnings(self.iovad(), plat);
                Ok(ApiResult::Void)
            }
            ApiCall::FindIova { pfn } => Ok(ApiResult::Iova(self.iovad().find_iova(pfn).map(|n| (n.pfn_lo, n.pfn_hi)))),
            ApiCall::ReserveIova { pfn_lo, pfn_hi } => {
                Ok(ApiResult::Iova(match self.iovad().reserve_iova(pfn_lo, pfn_hi) {
                    ReserveResult::Node(n) => Some((n.pfn_lo, n.pfn_hi)),
                    ReserveResult::Null => None,
                    ReserveResult::WarnNull => {
                        self.dev.warn_on(plat, "reserve_iova", "(pfn_hi | pfn_lo) > (ULLONG_MAX >> iova_shift(iovad))");
                        None
                    }
                }))
            }
            ApiCall::FreeCpuCachedIovas { cpu } => {
                self.iovad().free_cpu_cached_iovas(cpu);
                dma_iommu::report_iova_warnings(self.iovad(), plat);
                Ok(ApiResult::Void)
            }
            ApiCall::IovaDepotWork => {
                if let Some(i) = self.iovad.as_mut() {
                    i.depot_work_tick();
                    dma_iommu::report_iova_warnings(i, plat);
                }
                dma_iommu::depot_tick(&mut self.dev, plat);
                Ok(ApiResult::Void)
            }
            ApiCall::FqFlushTimeout => {
                dma_iommu::fq_timeout(&mut self.dev, plat);
                Ok(ApiResult::Void)
            }
            _ => panic!("{call:?} goes through call_sg or call_iova"),
        };
        r.unwrap_or(ApiResult::Bug)
    }

    fn call_sg(&mut self, plat: &mut Platform, call: &ApiCall, sgt: &mut SgTable) -> ApiResult {
        let d = &mut self.dev;
        let r = match *call {
            ApiCall::MapSg { nents, dir, attrs } => {
                mapping::dma_map_sg_attrs(d, plat, &mut sgt.sgl, nents, dir, attrs).map(|n| ApiResult::Int(n as i64))
            }
            ApiCall::MapSgtable { dir, attrs } => {
                mapping::dma_map_sgtable(d, plat, sgt, dir, attrs).map(|e| ApiResult::Int(e as i64))
            }
            ApiCall::UnmapSg { nents, dir, attrs } => {
                mapping::dma_unmap_sg_attrs(d, plat, &mut sgt.sgl, nents, dir, attrs).map(|_| ApiResult::Void)
            }
            ApiCall::SyncSgForCpu { nelems, dir } => {
                mapping::dma_sync_sg_for_cpu(d, plat, &mut sgt.sgl, nelems, dir).map(|_| ApiResult::Void)
            }
            ApiCall::SyncSgForDevice { nelems, dir } => {
                mapping::dma_sync_sg_for_device(d, plat, &mut sgt.sgl, nelems, dir).map(|_| ApiResult::Void)
            }
            _ => panic!("{call:?} takes no scatterlist"),
        };
        r.unwrap_or(ApiResult::Bug)
    }

    fn call_iova(&mut self, plat: &mut Platform, call: &ApiCall, state: &mut DmaIovaState) -> ApiResult {
        let d = &mut self.dev;
        let r = match *call {
            ApiCall::IovaTryAlloc { phys, size } => {
                dma_iommu::dma_iova_try_alloc(d, plat, state, phys, size).map(|ok| ApiResult::Int(ok as i64))
            }
            ApiCall::IovaLink { phys, offset, size, dir, attrs } => {
                dma_iommu::dma_iova_link(d, plat, state, phys, offset, size, dir, attrs)
                    .map(|e| ApiResult::Int(e as i64))
            }
            ApiCall::IovaSync { offset, size } => {
                dma_iommu::dma_iova_sync(d, plat, state, offset, size).map(|e| ApiResult::Int(e as i64))
            }
            ApiCall::IovaUnlink { offset, size, dir, attrs } => {
                dma_iommu::dma_iova_unlink(d, plat, state, offset, size, dir, attrs).map(|_| ApiResult::Void)
            }
            ApiCall::IovaDestroy { mapped_len, dir, attrs } => {
                dma_iommu::dma_iova_destroy(d, plat, state, mapped_len, dir, attrs).map(|_| ApiResult::Void)
            }
            ApiCall::IovaFree => dma_iommu::dma_iova_free(d, plat, state).map(|_| ApiResult::Void),
            _ => panic!("{call:?} takes no dma_iova_state"),
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

    fn iova_nodes(&self, which: IovaTree) -> Option<Vec<(u64, u64)>> {
        let iovad = match which {
            IovaTree::Standalone => self.iovad.as_ref(),
            IovaTree::DmaDomain if self.dev.dma_iommu => dma_iommu::iovad(&self.dev),
            IovaTree::DmaDomain => None,
        };
        iovad.map(|i| i.nodes().into_iter().map(|n| (n.pfn_lo, n.pfn_hi)).collect())
    }

    fn iova_parked(&self, which: IovaTree) -> Option<Vec<u64>> {
        match which {
            IovaTree::Standalone => self.iovad.as_ref().map(|i| i.cached_pfns()),
            IovaTree::DmaDomain if self.dev.dma_iommu => dma_iommu::iovad(&self.dev).map(|i| {
                let mut v = i.cached_pfns();
                v.extend(dma_iommu::fq_pfns(&self.dev));
                v
            }),
            IovaTree::DmaDomain => None,
        }
    }

    fn swiotlb_touched_segments(&self) -> Vec<u64> {
        self.dev.swiotlb.as_ref().map(|m| m.defpool.touched_segments().collect()).unwrap_or_default()
    }
}
