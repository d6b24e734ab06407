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
    /// `expect dma_debug=CLASS` lines: the dma-debug classes a run of this file reports (on
    /// either side); a corpus file reports exactly these, so correct use reports nothing.
    pub expect_debug: Vec<String>,
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
    /// The `dma_debug_entries=` boot parameter (None: the default 65536).
    pub dma_debug_entries: Option<u32>,
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
    /// The IOMMU in front of the device; None: no IOMMU (dma-direct).
    pub iommu: Option<IommuConfig>,
    /// Kernel areas dma-debug knows: the current task's stack and the kernel image (inside
    /// RAM, linear-mapped), and vmalloc space (virtual addresses outside the linear map).
    pub kernel_areas: Vec<KernelArea>,
    /// PCI P2PDMA providers: BARs of peer devices published as ZONE_DEVICE pages.
    pub p2p: Vec<P2pProvider>,
}

/// How the device reaches a P2PDMA provider: the `enum pci_p2pdma_map_type` that
/// calc_map_type_and_dist() (drivers/pci/p2pdma.c) derives from the PCI topology.
pub use dmadiff_cref::P2pdmaMapType;

/// The scenario-language name of a P2PDMA route.
pub fn p2p_route_name(t: P2pdmaMapType) -> &'static str {
    match t {
        P2pdmaMapType::BusAddr => "switch",
        P2pdmaMapType::ThruHostBridge => "host-bridge",
        P2pdmaMapType::NotSupported => "none",
    }
}

/// One PCI P2PDMA provider (pci_p2pdma_add_resource()): a BAR whose pages are ZONE_DEVICE
/// memory with a `struct pci_p2pdma_pagemap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct P2pProvider {
    /// The BAR's CPU physical address range.
    pub start: PhysAddr,
    pub size: u64,
    /// pci_bus_address() of the BAR: p2p_pgmap->bus_offset is bus_start - start.
    pub bus_start: u64,
    /// How the device under test reaches it.
    pub route: P2pdmaMapType,
}

impl P2pProvider {
    /// p2p_pgmap->bus_offset
    pub fn bus_offset(&self) -> u64 {
        self.bus_start.wrapping_sub(self.start.0)
    }
}

/// Which kernel area a `stack`, `kernel_text`, `kernel_rodata` or `vmalloc` line names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelAreaKind {
    /// The current task's stack, direct-mapped (CONFIG_VMAP_STACK=n).
    Stack,
    /// _stext.._etext
    Text,
    /// __start_rodata..__end_rodata
    Rodata,
    /// A vmalloc range: virtual addresses dma_map_single() must not be given.
    Vmalloc,
}

impl KernelAreaKind {
    /// The configuration keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            KernelAreaKind::Stack => "stack",
            KernelAreaKind::Text => "kernel_text",
            KernelAreaKind::Rodata => "kernel_rodata",
            KernelAreaKind::Vmalloc => "vmalloc",
        }
    }
}

/// One kernel area: an address range (physical, which is also the linear-map address in
/// this model, except for vmalloc ranges, which are virtual).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelArea {
    pub kind: KernelAreaKind,
    pub start: u64,
    pub size: u64,
}

impl Config {
    /// Whether `[addr, addr + len)` meets a kernel area of `kind`.
    pub fn area_overlaps(&self, kind: KernelAreaKind, addr: u64, len: u64) -> bool {
        self.kernel_areas.iter().any(|a| {
            a.kind == kind
                && (addr as u128) < a.start as u128 + a.size as u128
                && (a.start as u128) < addr as u128 + len.max(1) as u128
        })
    }
}

/// The device's default IOMMU domain type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IommuDomainType {
    /// IOMMU_DOMAIN_IDENTITY: passthrough, the device stays on dma-direct.
    Identity,
    /// IOMMU_DOMAIN_DMA: strict invalidation on every unmap.
    Dma,
    /// IOMMU_DOMAIN_DMA_FQ: lazy invalidation through the flush queue.
    DmaFq,
}

/// The reserved regions and host-bridge windows are the boot configuration the C model takes
/// as is: one definition of each, in the FFI wrapper.
pub use dmadiff_cref::{PciWindow, ResvRegion, ResvType};

/// The scenario-language name of an `iommu_resv type=`.
pub fn resv_type_name(t: ResvType) -> &'static str {
    match t {
        ResvType::Direct => "direct",
        ResvType::DirectRelaxable => "direct-relaxable",
        ResvType::Reserved => "reserved",
        ResvType::Msi => "msi",
        ResvType::SwMsi => "sw-msi",
    }
}

/// The IOMMU and its default domain for the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IommuConfig {
    pub domain: IommuDomainType,
    /// domain->pgsize_bitmap; the granule is its lowest set bit.
    pub pgsize_bitmap: u64,
    pub aperture_start: u64,
    /// Inclusive.
    pub aperture_end: u64,
    pub force_aperture: bool,
    /// IOMMU_CAP_DEFERRED_FLUSH: without it a DMA_FQ domain falls back to strict.
    pub deferred_flush: bool,
    /// dev->iommu->shadow_on_flush: one 32768-entry queue with a 1000 ms timeout.
    pub shadow_on_flush: bool,
    /// iommu.forcedac=1
    pub forcedac: bool,
    pub resv: Vec<ResvRegion>,
    pub pci_windows: Vec<PciWindow>,
}

impl IommuConfig {
    /// The granule: the smallest page size the domain supports.
    pub fn granule(&self) -> u64 {
        1u64 << self.pgsize_bitmap.trailing_zeros().min(63)
    }
}

impl Default for IommuConfig {
    /// An SMMUv3-like strict DMA domain: 4K granule, 48-bit aperture.
    fn default() -> Self {
        IommuConfig {
            domain: IommuDomainType::Dma,
            pgsize_bitmap: 0x4000_1000 | 0x20_0000,
            aperture_start: 0,
            aperture_end: (1 << 48) - 1,
            force_aperture: true,
            deferred_flush: true,
            shadow_on_flush: false,
            forcedac: false,
            resv: Vec::new(),
            pci_windows: Vec::new(),
        }
    }
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
    /// dev_is_pci()
    pub pci: bool,
    /// pci_dev->untrusted: behind an external-facing port (only meaningful with `pci`).
    pub untrusted: bool,
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
            dma_debug_entries: None,
            device: DeviceConfig {
                name: "dmadiff0".into(),
                driver: "dmadiff".into(),
                dma_mask: Some(0xffff_ffff),
                bus_dma_limit: 0,
                coherent: true,
                dma_parms: Some(DmaParmsConfig::default()),
                pci: false,
                untrusted: false,
            },
            dma_ranges: Vec::new(),
            ram: Vec::new(),
            mmio: Vec::new(),
            nr_cpus: 1,
            swiotlb: None,
            iommu: None,
            kernel_areas: Vec::new(),
            p2p: Vec::new(),
        }
    }
}

/// A DMA address operand: a live mapping's address plus an offset, or a raw bus address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DmaRef {
    Handle {
        name: String,
        offset: u64,
    },
    Raw(u64),
    /// `sg(t, i)+offset`: sg_dma_address() of entry `i` of scatterlist table `t`.
    Sg {
        table: String,
        index: u32,
        offset: u64,
    },
    /// `iova(st)+offset`: state->addr of a two-step IOVA state.
    Iova {
        state: String,
        offset: u64,
    },
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
    /// dma_unmap_single_attrs(): dma_unmap_page_attrs() underneath.
    Single,
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
    /// dma_map_single_attrs(ptr, ...): a linear-map address (the phys in this model).
    Single,
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
    /// init_iova_domain(granule, start_pfn) + iova_domain_init_rcaches() of the allocator-level
    /// domain the iova ops below drive.
    IovaInit {
        granule: u64,
        start_pfn: u64,
    },
    /// `name = alloc_iova(size, limit_pfn, size_aligned)`: the handle names the node's pfn_lo.
    AllocIova {
        handle: String,
        size: u64,
        limit_pfn: u64,
        size_aligned: bool,
    },
    /// `name = alloc_iova_fast(size, limit_pfn, flush_rcache)`: the handle names the pfn.
    AllocIovaFast {
        handle: String,
        size: u64,
        limit_pfn: u64,
        flush_rcache: bool,
    },
    /// free_iova(pfn)
    FreeIova(DmaRef),
    /// free_iova_fast(pfn, size)
    FreeIovaFast {
        pfn: DmaRef,
        size: u64,
    },
    /// find_iova(pfn)
    FindIova(DmaRef),
    /// reserve_iova(pfn_lo, pfn_hi)
    ReserveIova {
        pfn_lo: u64,
        pfn_hi: u64,
    },
    /// free_cpu_cached_iovas(cpu): what the CPU-hotplug dead callback does
    FreeCpuCachedIovas(u32),
    /// IOVA_DEPOT_DELAY passes: every pending iova_depot_work_func() runs, on every domain.
    IovaDepotWork,
    /// The flush-queue timer fires: fq_flush_timeout() of the DMA domain, if armed.
    FqFlushTimeout,
    /// The driver unbinds (BUS_NOTIFY_UNBOUND_DRIVER): dma-debug checks for live mappings.
    DeviceReleaseDriver,
    /// `t = sg_alloc_table(n)`: a table of `n` zeroed entries (nents = orig_nents = n).
    SgAllocTable {
        table: String,
        nents: u32,
    },
    /// sg_set_page(&t->sgl[index], page, len, offset)
    SgSetPage {
        table: String,
        index: u32,
        page: PhysAddr,
        len: u32,
        offset: u32,
    },
    /// sg_chain(): the entries after `index` live in another array, reached through a
    /// chain link (as sg_alloc_table() builds lists longer than one page of entries).
    SgChain {
        table: String,
        index: u32,
    },
    /// dma_map_sg_attrs(t->sgl, nents, dir, attrs), or (nents None) dma_map_sgtable(t, ...).
    MapSg {
        table: String,
        nents: Option<u32>,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    /// dma_unmap_sg_attrs(t->sgl, nents, dir, attrs), or (`sgtable`) dma_unmap_sgtable(t,
    /// dir, attrs); None: as the table was mapped.
    UnmapSg {
        table: String,
        sgtable: bool,
        nents: Option<u32>,
        dir: Option<DmaDir>,
        attrs: Option<DmaAttrs>,
    },
    /// dma_sync_sg_for_cpu/device(t->sgl, nelems, dir); None: as the table was mapped.
    SyncSg {
        table: String,
        for_cpu: bool,
        nelems: Option<u32>,
        dir: Option<DmaDir>,
    },
    /// `st = dma_iova_try_alloc(phys, size)`: the handle names the struct dma_iova_state.
    IovaTryAlloc {
        state: String,
        phys: PhysAddr,
        size: u64,
    },
    /// dma_iova_link(st, phys, offset, size, dir, attrs)
    IovaLink {
        state: String,
        phys: PhysAddr,
        offset: u64,
        size: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    /// dma_iova_sync(st, offset, size)
    IovaSync {
        state: String,
        offset: u64,
        size: u64,
    },
    /// dma_iova_unlink(st, offset, size, dir, attrs)
    IovaUnlink {
        state: String,
        offset: u64,
        size: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    /// dma_iova_destroy(st, mapped_len, dir, attrs)
    IovaDestroy {
        state: String,
        mapped_len: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
    },
    /// dma_iova_free(st)
    IovaFree {
        state: String,
    },
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
    /// dma_max_mapping_size(dev) (IOMMU devices)
    DmaMaxMappingSize,
    /// dma_opt_mapping_size(dev) (IOMMU devices)
    DmaOptMappingSize,
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
            Op::Map { kind: MapKind::Single, .. } => "dma_map_single_attrs",
            Op::Unmap { kind: UnmapKind::Single, .. } => "dma_unmap_single_attrs",
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
            Op::Query(Query::DmaMaxMappingSize) => "dma_max_mapping_size",
            Op::Query(Query::DmaOptMappingSize) => "dma_opt_mapping_size",
            Op::IovaInit { .. } => "iova_init",
            Op::AllocIova { .. } => "alloc_iova",
            Op::AllocIovaFast { .. } => "alloc_iova_fast",
            Op::FreeIova(_) => "free_iova",
            Op::FreeIovaFast { .. } => "free_iova_fast",
            Op::FindIova(_) => "find_iova",
            Op::ReserveIova { .. } => "reserve_iova",
            Op::FreeCpuCachedIovas(_) => "free_cpu_cached_iovas",
            Op::IovaDepotWork => "iova_depot_work",
            Op::FqFlushTimeout => "fq_flush_timeout",
            Op::DeviceReleaseDriver => "device_release_driver",
            Op::SgAllocTable { .. } => "sg_alloc_table",
            Op::SgSetPage { .. } => "sg_set_page",
            Op::SgChain { .. } => "sg_chain",
            Op::MapSg { nents: Some(_), .. } => "dma_map_sg_attrs",
            Op::MapSg { nents: None, .. } => "dma_map_sgtable",
            Op::UnmapSg { sgtable: false, .. } => "dma_unmap_sg_attrs",
            Op::UnmapSg { sgtable: true, .. } => "dma_unmap_sgtable",
            Op::SyncSg { for_cpu: true, .. } => "dma_sync_sg_for_cpu",
            Op::SyncSg { for_cpu: false, .. } => "dma_sync_sg_for_device",
            Op::IovaTryAlloc { .. } => "dma_iova_try_alloc",
            Op::IovaLink { .. } => "dma_iova_link",
            Op::IovaSync { .. } => "dma_iova_sync",
            Op::IovaUnlink { .. } => "dma_iova_unlink",
            Op::IovaDestroy { .. } => "dma_iova_destroy",
            Op::IovaFree { .. } => "dma_iova_free",
        }
    }
}
