//! The two sides behind one interface: the legacy C model and the Rust phys mapper.

pub mod legacy;
pub mod phys;

use crate::platform::Platform;
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
    MapPhys { phys: PhysAddr, size: u64, dir: DmaDir, attrs: DmaAttrs },
    MapPageAttrs { page: PhysAddr, offset: u64, size: u64, dir: DmaDir, attrs: DmaAttrs },
    MapResource { phys: PhysAddr, size: u64, dir: DmaDir, attrs: DmaAttrs },
    UnmapPhys { addr: DmaAddr, size: u64, dir: DmaDir, attrs: DmaAttrs },
    UnmapPageAttrs { addr: DmaAddr, size: u64, dir: DmaDir, attrs: DmaAttrs },
    UnmapResource { addr: DmaAddr, size: u64, dir: DmaDir, attrs: DmaAttrs },
    SyncForCpu { addr: DmaAddr, size: u64, dir: DmaDir },
    SyncForDevice { addr: DmaAddr, size: u64, dir: DmaDir },
    MappingError { addr: DmaAddr },
}

/// What a call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiResult {
    Dma(DmaAddr),
    Int(i32),
    Void,
    /// The call hit BUG(); the side runs nothing after it.
    Bug,
}

/// One mapper under test.
pub trait Backend {
    fn side(&self) -> Side;
    /// Runs one call against `plat`.
    fn call(&mut self, plat: &mut Platform, call: &ApiCall) -> ApiResult;
}

/// Boots a fresh backend for `side`.
pub fn boot(side: Side, cfg: &Config) -> Box<dyn Backend> {
    match side {
        Side::Legacy => Box::new(legacy::LegacyBackend::new(cfg)),
        Side::Phys => Box::new(phys::PhysBackend::new(cfg)),
    }
}
