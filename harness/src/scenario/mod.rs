//! Scenarios: a platform and device configuration plus an ordered list of operations.
//!
//! The text form (see corpus/README.md) is parsed by [`parse`], printed by the `Display`
//! impls in [`print`], and generated from fuzz bytes by [`generate`].

pub mod generate;
pub mod parse;
pub mod print;

use crate::types::{DmaAttrs, DmaDir, PhysAddr};

pub use crate::phys::swiotlb::{SwiotlbConfig, SwiotlbMode};

pub use parse::{parse_file, parse_str, ParseError};

/// A whole scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    pub config: Config,
    pub ops: Vec<Op>,
    /// `expect divergence=ID`: the allow-list entry this scenario must end in.
    pub expect: Option<String>,
}

/// The CPU architecture whose DMA rules the platform follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// arm64: non-coherent devices possible, CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC=y,
    /// ARCH_DMA_MINALIGN 128, 64-byte cache lines cleaned and invalidated to PoC.
    Arm64,
    /// x86_64: every device is DMA-coherent, no arch cache maintenance.
    X86_64,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::Arm64 => "arm64",
            Arch::X86_64 => "x86_64",
        }
    }
    /// ARCH_DMA_MINALIGN (arch/arm64/include/asm/cache.h: 128; x86 uses L1_CACHE_BYTES 64).
    pub fn arch_dma_minalign(self) -> u32 {
        match self {
            Arch::Arm64 => 128,
            Arch::X86_64 => 64,
        }
    }
    /// CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC (selected by arm64, never on x86).
    pub fn dma_bounce_unaligned_kmalloc(self) -> bool {
        self == Arch::Arm64
    }
}

/// Platform and device configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub arch: Arch,
    /// CONFIG_DMA_API_DEBUG: changes v6.18's dma_map_resource / dma_map_page_attrs wrappers.
    pub dma_api_debug: bool,
    pub device: DeviceConfig,
    /// The device's dma_range_map (struct bus_dma_region list), in table order.
    pub dma_ranges: Vec<DmaRange>,
    pub ram: Vec<Region>,
    /// MMIO regions: device BARs a DMA master can reach peer to peer.
    pub mmio: Vec<Region>,
    /// num_possible_cpus()
    pub nr_cpus: u32,
    /// How swiotlb booted; None is swiotlb=noforce (no pool at all).
    pub swiotlb: Option<SwiotlbConfig>,
}

/// The device under test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceConfig {
    pub name: String,
    pub driver: String,
    /// `*dev->dma_mask`; None models a device whose dma_mask pointer is NULL.
    pub dma_mask: Option<u64>,
    /// dev->bus_dma_limit; 0 means no limit.
    pub bus_dma_limit: u64,
    /// dev_is_dma_coherent()
    pub coherent: bool,
    /// dev->dma_parms; PCI and platform devices have one, so it is on by default.
    pub dma_parms: Option<DmaParmsConfig>,
}

/// struct device_dma_parameters at boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DmaParmsConfig {
    pub min_align_mask: u32,
    /// 0: unset (ULONG_MAX).
    pub seg_boundary_mask: u64,
    /// 0: unset (SZ_64K).
    pub max_segment_size: u32,
}

/// One `struct bus_dma_region`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaRange {
    pub cpu_start: PhysAddr,
    pub dma_start: u64,
    pub size: u64,
}

/// A physical memory region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub start: PhysAddr,
    pub size: u64,
}

impl Region {
    pub fn contains(&self, p: PhysAddr, len: u64) -> bool {
        p.0 >= self.start.0 && len <= self.size && p.0 - self.start.0 <= self.size - len
    }
    pub fn end(&self) -> u64 {
        self.start.0 + self.size
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            arch: Arch::Arm64,
            dma_api_debug: false,
            device: DeviceConfig {
                name: "dmadiff0".into(),
                driver: "dmadiff".into(),
                dma_mask: Some(0xffff_ffff),
                bus_dma_limit: 0,
                coherent: true,
                dma_parms: Some(DmaParmsConfig::default()),
            },
            dma_ranges: Vec::new(),
            ram: Vec::new(),
            mmio: Vec::new(),
            nr_cpus: 1,
            swiotlb: None,
        }
    }
}

/// A DMA address operand: a live mapping's address plus an offset, or a raw bus address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DmaRef {
    Handle { name: String, offset: u64 },
    Raw(u64),
}

/// The trailing arguments of an unmap; None means "as the mapping was made".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnmapArgs {
    pub addr: DmaRef,
    pub size: Option<u64>,
    pub dir: Option<DmaDir>,
    pub attrs: Option<DmaAttrs>,
}

/// The trailing arguments of a sync; None means "the whole mapping, its direction".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncArgs {
    pub addr: DmaRef,
    pub size: Option<u64>,
    pub dir: Option<DmaDir>,
}

/// Which unmap entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnmapKind {
    Phys,
    PageAttrs,
    Resource,
    /// swiotlb_tbl_unmap_single(), the allocator driven directly.
    SwiotlbTbl,
}

/// Which map entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// dma_map_phys(); a v6.16 driver used dma_map_page_attrs or dma_map_resource (MMIO).
    Phys,
    /// dma_map_page_attrs(page, offset, ...)
    PageAttrs,
    /// dma_map_resource()
    Resource,
}

/// One operation of a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `name = dma_map_*(...)`; for PageAttrs, `phys` is page_to_phys(page) and `offset`
    /// the in-page offset argument (which may exceed PAGE_SIZE); otherwise offset is 0.
    Map {
        handle: String,
        kind: MapKind,
        phys: PhysAddr,
        offset: u64,
        size: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    Unmap {
        kind: UnmapKind,
        args: UnmapArgs,
    },
    SyncForCpu(SyncArgs),
    SyncForDevice(SyncArgs),
    MappingError(DmaRef),
    /// The CPU stores `size` bytes of pattern `seed` at `phys` (through its cache).
    CpuWrite {
        phys: PhysAddr,
        size: u64,
        seed: u8,
    },
    /// The CPU loads `size` bytes at `phys` (through its cache).
    CpuRead {
        phys: PhysAddr,
        size: u64,
    },
    /// The device writes `size` bytes of pattern `seed` at a bus address.
    DevWrite {
        addr: DmaRef,
        size: u64,
        seed: u8,
    },
    /// The device reads `size` bytes at a bus address.
    DevRead {
        addr: DmaRef,
        size: u64,
    },
    /// `name = swiotlb_tbl_map_single(orig, mapping_size, alloc_align_mask, dir, attrs)`:
    /// the allocator driven directly; the handle names the returned tlb_addr.
    TblMap {
        handle: String,
        orig: PhysAddr,
        size: u64,
        alloc_align_mask: u32,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    /// swiotlb_sync_single_for_cpu(tlb_addr, size, dir) on the allocator directly.
    TblSyncForCpu(SyncArgs),
    /// swiotlb_sync_single_for_device(tlb_addr, size, dir) on the allocator directly.
    TblSyncForDevice(SyncArgs),
    /// dma_set_min_align_mask(dev, mask)
    SetMinAlignMask(u32),
    /// dma_set_seg_boundary(dev, mask)
    SetSegBoundary(u64),
    /// Later calls run on this CPU (raw_smp_processor_id()).
    RunOnCpu(u32),
    /// A query whose value is printed and compared.
    Query(Query),
}

/// Predicates and limits a driver can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query {
    /// swiotlb_max_mapping_size(dev)
    SwiotlbMaxMappingSize,
    /// is_swiotlb_active(dev)
    IsSwiotlbActive,
    /// is_swiotlb_force_bounce(dev)
    IsSwiotlbForceBounce,
    /// dma_kmalloc_needs_bounce(dev, size, dir)
    DmaKmallocNeedsBounce { size: u64, dir: DmaDir },
}

/// Byte `i` of a pattern with seed `s` (scenario files document this).
pub fn pattern_byte(seed: u8, i: u64) -> u8 {
    seed.wrapping_add(i as u8) ^ ((i >> 8) as u8)
}

impl Op {
    /// The kernel (or harness) function the op calls, as printed.
    pub fn func_name(&self) -> &'static str {
        match self {
            Op::Map { kind: MapKind::Phys, .. } => "dma_map_phys",
            Op::Map { kind: MapKind::PageAttrs, .. } => "dma_map_page_attrs",
            Op::Map { kind: MapKind::Resource, .. } => "dma_map_resource",
            Op::Unmap { kind: UnmapKind::Phys, .. } => "dma_unmap_phys",
            Op::Unmap { kind: UnmapKind::PageAttrs, .. } => "dma_unmap_page_attrs",
            Op::Unmap { kind: UnmapKind::Resource, .. } => "dma_unmap_resource",
            Op::Unmap { kind: UnmapKind::SwiotlbTbl, .. } => "swiotlb_tbl_unmap_single",
            Op::SyncForCpu(_) => "dma_sync_single_for_cpu",
            Op::SyncForDevice(_) => "dma_sync_single_for_device",
            Op::MappingError(_) => "dma_mapping_error",
            Op::CpuWrite { .. } => "cpu_write",
            Op::CpuRead { .. } => "cpu_read",
            Op::DevWrite { .. } => "dev_write",
            Op::DevRead { .. } => "dev_read",
            Op::TblMap { .. } => "swiotlb_tbl_map_single",
            Op::TblSyncForCpu(_) => "swiotlb_sync_single_for_cpu",
            Op::TblSyncForDevice(_) => "swiotlb_sync_single_for_device",
            Op::SetMinAlignMask(_) => "dma_set_min_align_mask",
            Op::SetSegBoundary(_) => "dma_set_seg_boundary",
            Op::RunOnCpu(_) => "run_on_cpu",
            Op::Query(Query::SwiotlbMaxMappingSize) => "swiotlb_max_mapping_size",
            Op::Query(Query::IsSwiotlbActive) => "is_swiotlb_active",
            Op::Query(Query::IsSwiotlbForceBounce) => "is_swiotlb_force_bounce",
            Op::Query(Query::DmaKmallocNeedsBounce { .. }) => "dma_kmalloc_needs_bounce",
        }
    }
}
