//! The physical-address side: the Rust v6.18 mapper in crate::phys.

use super::{ApiCall, ApiResult, Backend, Side};
use crate::phys::{mapping, Device};
use crate::platform::Platform;
use crate::scenario::Config;

pub struct PhysBackend {
    dev: Device,
}

impl PhysBackend {
    pub fn new(cfg: &Config) -> Self {
        PhysBackend { dev: Device::new(cfg) }
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
            ApiCall::MappingError { addr } => Ok(ApiResult::Int(mapping::dma_mapping_error(d, addr))),
        };
        r.unwrap_or(ApiResult::Bug)
    }
}
