//! The legacy side: the C model behind dmadiff-cref.

use dmadiff_cref::{BusDmaRegion, Call, CallResult, DeviceConfig, LegacyModel};

use super::{ApiCall, ApiResult, Backend, Side};
use crate::platform::Platform;
use crate::scenario::Config;
use crate::types::DmaAddr;

pub struct LegacyBackend {
    model: LegacyModel,
}

impl LegacyBackend {
    pub fn new(cfg: &Config) -> Self {
        let d = &cfg.device;
        let dc = DeviceConfig {
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
        };
        LegacyBackend { model: LegacyModel::new(&dc) }
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
        };
        match self.model.call(plat, c) {
            CallResult::Bug => ApiResult::Bug,
            CallResult::Returned(v) => match call {
                ApiCall::MapPhys { .. } | ApiCall::MapPageAttrs { .. } | ApiCall::MapResource { .. } => {
                    ApiResult::Dma(DmaAddr(v))
                }
                ApiCall::MappingError { .. } => ApiResult::Int(v as i64 as i32),
                _ => ApiResult::Void,
            },
        }
    }
}
