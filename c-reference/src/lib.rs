//! Safe wrapper around the legacy (v6.16, page-based) C model of the streaming DMA API.
//!
//! The C code reaches the outside world only through [`Hooks`]; the harness implements it
//! on its mock platform, so the C model and the Rust physical-address mapper produce their
//! platform effects through the same code.

#![allow(non_camel_case_types, non_upper_case_globals, non_snake_case, dead_code)]

mod ffi {
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

use std::ffi::{c_char, c_void, CStr, CString};

/// How a printk-class report was raised (mirrors `enum dmadiff_report_kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReportKind {
    /// `WARN_ON_ONCE(cond)`: the text is the condition.
    WarnOn,
    /// `dev_WARN_ONCE(dev, 1, fmt, ...)`.
    DevWarn,
    /// `dev_err()` / `dev_err_once()`.
    DevErr,
    /// `BUG_ON(cond)`: the call never returns.
    Bug,
    /// `dev_warn()` / `dev_warn_ratelimited()`: a message, no backtrace.
    DevWarning,
    /// `WARN_ON(cond)`, reported every time: the text is the condition.
    WarnOnAlways,
}

impl ReportKind {
    fn from_raw(kind: i32) -> Self {
        match kind as u32 {
            ffi::DMADIFF_REPORT_WARN_ON => ReportKind::WarnOn,
            ffi::DMADIFF_REPORT_DEV_WARN => ReportKind::DevWarn,
            ffi::DMADIFF_REPORT_DEV_ERR => ReportKind::DevErr,
            ffi::DMADIFF_REPORT_DEV_WARNING => ReportKind::DevWarning,
            ffi::DMADIFF_REPORT_WARN_ON_ALWAYS => ReportKind::WarnOnAlways,
            _ => ReportKind::Bug,
        }
    }
}

/// The platform services the C model calls out to. Raw integers: this is the FFI boundary.
pub trait Hooks {
    /// models arch_sync_dma_for_device()
    fn arch_sync_dma_for_device(&mut self, paddr: u64, size: u64, dir: u32);
    /// models arch_sync_dma_for_cpu()
    fn arch_sync_dma_for_cpu(&mut self, paddr: u64, size: u64, dir: u32);
    /// models arch_sync_dma_for_cpu_all()
    fn arch_sync_dma_for_cpu_all(&mut self);
    /// models arch_dma_mark_clean()
    fn arch_dma_mark_clean(&mut self, paddr: u64, size: u64);
    /// models pfn_valid()
    fn pfn_valid(&mut self, pfn: u64) -> bool;
    /// models is_pci_p2pdma_page() on pfn_to_page(pfn)
    fn is_pci_p2pdma_page(&mut self, pfn: u64) -> bool;
    /// models is_vmalloc_addr(); the default is a kernel without vmalloc ranges in play.
    fn is_vmalloc_addr(&mut self, _addr: u64) -> bool {
        false
    }
    /// A `dma_map` class tracepoint (dma_map_page, dma_map_resource).
    fn trace_dma_map(&mut self, event: &str, phys: u64, dma: u64, size: u64, dir: u32, attrs: u64);
    /// A `dma_unmap` class tracepoint (dma_unmap_page, dma_unmap_resource).
    fn trace_dma_unmap(&mut self, event: &str, addr: u64, size: u64, dir: u32, attrs: u64);
    /// A `dma_sync_single` class tracepoint.
    fn trace_dma_sync_single(&mut self, event: &str, addr: u64, size: u64, dir: u32);
    /// A scatterlist tracepoint (dma_map_sg, dma_map_sg_err, dma_unmap_sg, dma_sync_sg_*):
    /// the sg_phys() it records, the (sg_dma_address, sg_dma_len) pairs, the error.
    fn trace_dma_sg(&mut self, _event: &str, _phys: &[u64], _dma: &[(u64, u32)], _err: i64, _dir: u32, _attrs: u64) {}
    /// A WARN, dev_err, dev_warn or BUG report.
    fn report(&mut self, kind: ReportKind, func: &str, text: &str);
    /// memcpy() by the CPU between two linear-map addresses (swiotlb_bounce); called for
    /// every bounce, size 0 included.
    fn cpu_memcpy(&mut self, dst: u64, src: u64, size: u64);
    /// memset() by the CPU of a linear-map range (dma-iommu's bounce padding).
    fn cpu_memset(&mut self, dst: u64, value: u8, size: u64);
    /// memset(0) of the swiotlb pool when it is initialised at boot (inside `LegacyModel::new`).
    fn boot_memzero(&mut self, start: u64, size: u64);
    /// Tracepoint swiotlb_bounced: dev_addr is phys_to_dma() of the original, force is
    /// is_swiotlb_force_bounce(dev).
    fn trace_swiotlb_bounced(&mut self, dev_addr: u64, size: u64, force: bool);
    /// models iommu_map() on the device's domain: 0 or a negative errno. The default is a
    /// platform without an IOMMU page table.
    fn iommu_map(&mut self, _iova: u64, _paddr: u64, _size: u64, _prot: i32) -> i32 {
        -22
    }
    /// models the page-table walk of iommu_unmap_fast(): bytes unmapped.
    fn iommu_unmap(&mut self, _iova: u64, _size: u64) -> u64 {
        0
    }
    /// models iommu_iova_to_phys(): 0 when nothing is mapped there.
    fn iommu_iova_to_phys(&mut self, _iova: u64) -> u64 {
        0
    }
    /// models ops->iotlb_sync() over a gather's `[start, end]`.
    fn iommu_iotlb_sync(&mut self, _start: u64, _end: u64) {}
    /// models ops->flush_iotlb_all()
    fn iommu_flush_iotlb_all(&mut self) {}
    /// models the P2PDMA classification of the page at `pfn` for the device
    /// (is_pci_p2pdma_page() and calc_map_type_and_dist()): None for a page that is not
    /// P2PDMA memory, else the map type, its pgmap's bus_offset and a non-zero token naming
    /// the pgmap. The default is a platform without P2PDMA providers.
    fn pci_p2pdma_map_type(&mut self, _pfn: u64) -> Option<(P2pdmaMapType, u64, u64)> {
        None
    }
}

/// `enum pci_p2pdma_map_type` of a P2PDMA page (v6.16), `PCI_P2PDMA_MAP_NONE` aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum P2pdmaMapType {
    /// PCI_P2PDMA_MAP_NOT_SUPPORTED
    NotSupported,
    /// PCI_P2PDMA_MAP_BUS_ADDR: behind a common switch; the device uses the bus address.
    BusAddr,
    /// PCI_P2PDMA_MAP_THRU_HOST_BRIDGE: through the host bridge; mapped like memory.
    ThruHostBridge,
}

/// One `struct scatterlist` entry at the FFI boundary, the list flattened in `sg_next()`
/// order; `chain_after` marks an `sg_chain()` link after the entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SgEntry {
    /// page_to_phys(sg_page(sg))
    pub page: u64,
    pub offset: u32,
    pub length: u32,
    pub dma_address: u64,
    pub dma_length: u32,
    pub dma_flags: u32,
    pub chain_after: bool,
}

/// A scatterlist call; the list goes beside it (`LegacyModel::call_sg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SgCall {
    /// dma_map_sg_attrs(sgl, nents, dir, attrs) -> the count (0 on failure)
    MapSg { nents: u32, dir: u32, attrs: u64 },
    /// dma_map_sgtable(sgt, dir, attrs) with sgt->orig_nents and the sgt->nents it held ->
    /// 0 or -errno, and sgt->nents after
    MapSgtable { orig_nents: u32, nents: u32, dir: u32, attrs: u64 },
    /// dma_unmap_sg_attrs(sgl, nents, dir, attrs)
    UnmapSg { nents: u32, dir: u32, attrs: u64 },
    /// dma_sync_sg_for_cpu(sgl, nelems, dir)
    SyncSgForCpu { nelems: u32, dir: u32 },
    /// dma_sync_sg_for_device(sgl, nelems, dir)
    SyncSgForDevice { nelems: u32, dir: u32 },
}

/// What a scatterlist call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SgResult {
    /// The int it returned (0 for void calls) and, for dma_map_sgtable, sgt->nents.
    Returned { value: i64, nents: u32 },
    /// The call hit BUG(); the context is dead.
    Bug,
}

/// `struct dma_iova_state`: `size` is `__size`, DMA_IOVA_USE_SWIOTLB in bit 63.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct IovaState {
    pub addr: u64,
    pub size: u64,
}

/// A two-step IOVA call; the state goes beside it (`LegacyModel::call_iova`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IovaCall {
    /// dma_iova_try_alloc(dev, state, phys, size) -> 0 or 1
    TryAlloc { phys: u64, size: u64 },
    /// dma_iova_link(dev, state, phys, offset, size, dir, attrs) -> 0 or -errno
    Link { phys: u64, offset: u64, size: u64, dir: u32, attrs: u64 },
    /// dma_iova_sync(dev, state, offset, size) -> 0 or -errno
    Sync { offset: u64, size: u64 },
    /// dma_iova_unlink(dev, state, offset, size, dir, attrs)
    Unlink { offset: u64, size: u64, dir: u32, attrs: u64 },
    /// dma_iova_destroy(dev, state, mapped_len, dir, attrs)
    Destroy { mapped_len: u64, dir: u32, attrs: u64 },
    /// dma_iova_free(dev, state)
    Free,
}

/// The device's default IOMMU domain type (`enum dmadiff_iommu_domain_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IommuDomainType {
    /// No IOMMU: dma-direct.
    None,
    Identity,
    Dma,
    DmaFq,
}

/// `enum iommu_resv_type`, in the kernel's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResvType {
    Direct,
    DirectRelaxable,
    Reserved,
    Msi,
    SwMsi,
}

/// One `struct iommu_resv_region`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResvRegion {
    pub start: u64,
    pub length: u64,
    pub kind: ResvType,
}

/// One IORESOURCE_MEM window of the PCI host bridge (inclusive end, bus offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciWindow {
    pub start: u64,
    pub end: u64,
    pub offset: u64,
}

/// The IOMMU in front of the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IommuConfig {
    pub domain: IommuDomainType,
    pub pgsize_bitmap: u64,
    pub aperture_start: u64,
    /// Inclusive.
    pub aperture_end: u64,
    pub force_aperture: bool,
    /// IOMMU_CAP_DEFERRED_FLUSH
    pub deferred_flush: bool,
    pub shadow_on_flush: bool,
    /// iommu.forcedac=1
    pub forcedac: bool,
    pub resv: Vec<ResvRegion>,
    pub pci_windows: Vec<PciWindow>,
}

impl Default for IommuConfig {
    /// No IOMMU.
    fn default() -> Self {
        IommuConfig {
            domain: IommuDomainType::None,
            pgsize_bitmap: 0x1000,
            aperture_start: 0,
            aperture_end: u64::MAX,
            force_aperture: true,
            deferred_flush: true,
            shadow_on_flush: false,
            forcedac: false,
            resv: Vec::new(),
            pci_windows: Vec::new(),
        }
    }
}

/// Which allocator a view of the iova tree reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IovaDomainId {
    /// The one `Call::IovaInit` made.
    Standalone,
    /// The iommu_dma_cookie's of the device's DMA domain.
    DmaDomain,
}

/// How the kernel booted swiotlb for the device (`enum dmadiff_swiotlb_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SwiotlbMode {
    /// `swiotlb=noforce`: no pool at all; the kmalloc caches stay ARCH_DMA_MINALIGN-aligned.
    Off,
    /// The default pool, bouncing only when needed.
    On,
    /// `swiotlb=force`: the default pool, force_bounce.
    Force,
    /// A restricted-dma-pool of the device (force_bounce, one area, nslabs unrounded).
    Restricted,
}

/// The swiotlb boot parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwiotlbConfig {
    pub mode: SwiotlbMode,
    /// Physical base of the pool.
    pub start: u64,
    /// `swiotlb=<nslabs>` as given (rounded by the kernel rules for the default pool);
    /// the restricted pool's size >> 11, used as is. At most 2^28.
    pub nslabs: u64,
    /// `swiotlb=,<nareas>` as given; 0: from `nr_cpus` (num_possible_cpus()).
    pub nareas: u32,
}

/// `dev->dma_parms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaParms {
    /// Truncated to 32 bits (the kernel field is unsigned int).
    pub min_align_mask: u64,
    /// 0 = unset (dma_get_seg_boundary gives ULONG_MAX).
    pub seg_boundary_mask: u64,
    /// 0 = unset (dma_get_max_seg_size gives 64 KiB).
    pub max_segment_size: u32,
}

/// The device's pool as swiotlb sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolInfo {
    pub start: u64,
    pub end: u64,
    pub nslabs: u64,
    pub nareas: u32,
    pub area_nslabs: u64,
    pub force_bounce: bool,
}

/// One `struct io_tlb_slot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotInfo {
    pub orig_addr: u64,
    pub alloc_size: u64,
    pub list: u32,
    pub pad_slots: u32,
}

/// One `struct io_tlb_area`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AreaInfo {
    pub index: u64,
    pub used: u64,
}

/// One entry of a device's dma_range_map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusDmaRegion {
    pub cpu_start: u64,
    pub dma_start: u64,
    pub size: u64,
}

/// The device and kernel configuration the C model runs under.
#[derive(Clone, Debug)]
pub struct DeviceConfig {
    pub name: String,
    pub driver: String,
    pub dma_mask: Option<u64>,
    pub bus_dma_limit: u64,
    pub dma_coherent: bool,
    pub dma_range_map: Vec<BusDmaRegion>,
    pub dma_bounce_unaligned_kmalloc: bool,
    pub arch_dma_minalign: u32,
    pub dma_api_debug: bool,
    /// num_possible_cpus()
    pub nr_cpus: u32,
    /// None: the device has no dma_parms (min_align 0, boundary ULONG_MAX, 64 KiB segments).
    pub dma_parms: Option<DmaParms>,
    pub swiotlb: SwiotlbConfig,
    /// dev_is_pci()
    pub is_pci: bool,
    /// pci_dev->untrusted
    pub untrusted: bool,
    pub iommu: IommuConfig,
}

/// A call into the legacy model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// dma_map_page_attrs(page_to_phys(page), offset, size, dir, attrs)
    MapPageAttrs { page_phys: u64, offset: u64, size: u64, dir: u32, attrs: u64 },
    /// dma_unmap_page_attrs(addr, size, dir, attrs)
    UnmapPageAttrs { addr: u64, size: u64, dir: u32, attrs: u64 },
    /// dma_map_resource(phys, size, dir, attrs)
    MapResource { phys: u64, size: u64, dir: u32, attrs: u64 },
    /// dma_map_single_attrs(ptr, size, dir, attrs): ptr a linear-map (or vmalloc) address
    MapSingle { ptr: u64, size: u64, dir: u32, attrs: u64 },
    /// dma_unmap_resource(addr, size, dir, attrs)
    UnmapResource { addr: u64, size: u64, dir: u32, attrs: u64 },
    /// A dma_map_phys() request as a v6.16 driver had to express it.
    MapPhys { phys: u64, size: u64, dir: u32, attrs: u64 },
    /// A dma_unmap_phys() request as a v6.16 driver had to express it.
    UnmapPhys { addr: u64, size: u64, dir: u32, attrs: u64 },
    /// dma_sync_single_for_cpu(addr, size, dir)
    SyncSingleForCpu { addr: u64, size: u64, dir: u32 },
    /// dma_sync_single_for_device(addr, size, dir)
    SyncSingleForDevice { addr: u64, size: u64, dir: u32 },
    /// dma_mapping_error(addr)
    MappingError { addr: u64 },
    /// swiotlb_tbl_map_single(orig, mapping_size, alloc_align_mask, dir, attrs) -> tlb_addr;
    /// alloc_align_mask is truncated to 32 bits like the kernel parameter.
    SwiotlbTblMapSingle { orig: u64, mapping_size: u64, alloc_align_mask: u64, dir: u32, attrs: u64 },
    /// swiotlb_tbl_unmap_single(tlb_addr, size, dir, attrs)
    SwiotlbTblUnmapSingle { tlb_addr: u64, size: u64, dir: u32, attrs: u64 },
    /// swiotlb_sync_single_for_cpu(tlb_addr, size, dir)
    SwiotlbSyncSingleForCpu { tlb_addr: u64, size: u64, dir: u32 },
    /// swiotlb_sync_single_for_device(tlb_addr, size, dir)
    SwiotlbSyncSingleForDevice { tlb_addr: u64, size: u64, dir: u32 },
    /// swiotlb_max_mapping_size(dev)
    SwiotlbMaxMappingSize,
    /// is_swiotlb_active(dev): 0 or 1
    IsSwiotlbActive,
    /// is_swiotlb_force_bounce(dev): 0 or 1
    IsSwiotlbForceBounce,
    /// dma_kmalloc_needs_bounce(dev, size, dir): 0 or 1
    DmaKmallocNeedsBounce { size: u64, dir: u32 },
    /// dma_set_min_align_mask(dev, mask); the parameter is unsigned int
    SetMinAlignMask { mask: u64 },
    /// dma_set_seg_boundary(dev, mask)
    SetSegBoundary { mask: u64 },
    /// Later calls run on this CPU (raw_smp_processor_id()); 0 at boot.
    RunOnCpu { cpu: u32 },
    /// init_iova_domain(granule, start_pfn) + iova_domain_init_rcaches() on the allocator-level
    /// domain (replacing any earlier one); returns the rcache init's int.
    IovaInit { granule: u64, start_pfn: u64 },
    /// alloc_iova(size, limit_pfn, size_aligned) -> [`CallResult::Iova`]
    AllocIova { size: u64, limit_pfn: u64, size_aligned: bool },
    /// free_iova(pfn)
    FreeIova { pfn: u64 },
    /// find_iova(pfn) -> [`CallResult::Iova`]
    FindIova { pfn: u64 },
    /// reserve_iova(pfn_lo, pfn_hi) -> [`CallResult::Iova`]
    ReserveIova { pfn_lo: u64, pfn_hi: u64 },
    /// alloc_iova_fast(size, limit_pfn, flush_rcache) -> pfn (0: failure)
    AllocIovaFast { size: u64, limit_pfn: u64, flush_rcache: bool },
    /// free_iova_fast(pfn, size)
    FreeIovaFast { pfn: u64, size: u64 },
    /// free_cpu_cached_iovas(cpu): the CPU-hotplug dead callback
    FreeCpuCachedIovas { cpu: u32 },
    /// iova_depot_work_func() of every rcache whose work is pending, on every domain
    IovaDepotWork,
    /// fq_flush_timeout() if the DMA domain's flush-queue timer is armed
    FqTimeout,
    /// dma_opt_mapping_size(dev)
    DmaOptMappingSize,
    /// dma_max_mapping_size(dev)
    DmaMaxMappingSize,
}

impl Call {
    fn to_raw(self) -> ffi::dmadiff_call {
        let z = ffi::dmadiff_call { kind: 0, dir: 0, addr: 0, offset: 0, size: 0, attrs: 0 };
        let (kind, c) = match self {
            Call::MapPageAttrs { page_phys, offset, size, dir, attrs } => (
                ffi::DMADIFF_CALL_MAP_PAGE_ATTRS,
                ffi::dmadiff_call { addr: page_phys, offset, size, dir: dir as i32, attrs, ..z },
            ),
            Call::UnmapPageAttrs { addr, size, dir, attrs } => {
                (ffi::DMADIFF_CALL_UNMAP_PAGE_ATTRS, ffi::dmadiff_call { addr, size, dir: dir as i32, attrs, ..z })
            }
            Call::MapResource { phys, size, dir, attrs } => {
                (ffi::DMADIFF_CALL_MAP_RESOURCE, ffi::dmadiff_call { addr: phys, size, dir: dir as i32, attrs, ..z })
            }
            Call::MapSingle { ptr, size, dir, attrs } => {
                (ffi::DMADIFF_CALL_MAP_SINGLE, ffi::dmadiff_call { addr: ptr, size, dir: dir as i32, attrs, ..z })
            }
            Call::UnmapResource { addr, size, dir, attrs } => {
                (ffi::DMADIFF_CALL_UNMAP_RESOURCE, ffi::dmadiff_call { addr, size, dir: dir as i32, attrs, ..z })
            }
            Call::MapPhys { phys, size, dir, attrs } => {
                (ffi::DMADIFF_CALL_MAP_PHYS, ffi::dmadiff_call { addr: phys, size, dir: dir as i32, attrs, ..z })
            }
            Call::UnmapPhys { addr, size, dir, attrs } => {
                (ffi::DMADIFF_CALL_UNMAP_PHYS, ffi::dmadiff_call { addr, size, dir: dir as i32, attrs, ..z })
            }
            Call::SyncSingleForCpu { addr, size, dir } => {
                (ffi::DMADIFF_CALL_SYNC_SINGLE_FOR_CPU, ffi::dmadiff_call { addr, size, dir: dir as i32, ..z })
            }
            Call::SyncSingleForDevice { addr, size, dir } => {
                (ffi::DMADIFF_CALL_SYNC_SINGLE_FOR_DEVICE, ffi::dmadiff_call { addr, size, dir: dir as i32, ..z })
            }
            Call::MappingError { addr } => (ffi::DMADIFF_CALL_MAPPING_ERROR, ffi::dmadiff_call { addr, ..z }),
            Call::SwiotlbTblMapSingle { orig, mapping_size, alloc_align_mask, dir, attrs } => (
                ffi::DMADIFF_CALL_SWIOTLB_TBL_MAP_SINGLE,
                ffi::dmadiff_call {
                    addr: orig,
                    size: mapping_size,
                    offset: alloc_align_mask,
                    dir: dir as i32,
                    attrs,
                    ..z
                },
            ),
            Call::SwiotlbTblUnmapSingle { tlb_addr, size, dir, attrs } => (
                ffi::DMADIFF_CALL_SWIOTLB_TBL_UNMAP_SINGLE,
                ffi::dmadiff_call { addr: tlb_addr, size, dir: dir as i32, attrs, ..z },
            ),
            Call::SwiotlbSyncSingleForCpu { tlb_addr, size, dir } => (
                ffi::DMADIFF_CALL_SWIOTLB_SYNC_SINGLE_FOR_CPU,
                ffi::dmadiff_call { addr: tlb_addr, size, dir: dir as i32, ..z },
            ),
            Call::SwiotlbSyncSingleForDevice { tlb_addr, size, dir } => (
                ffi::DMADIFF_CALL_SWIOTLB_SYNC_SINGLE_FOR_DEVICE,
                ffi::dmadiff_call { addr: tlb_addr, size, dir: dir as i32, ..z },
            ),
            Call::SwiotlbMaxMappingSize => (ffi::DMADIFF_CALL_SWIOTLB_MAX_MAPPING_SIZE, z),
            Call::IsSwiotlbActive => (ffi::DMADIFF_CALL_IS_SWIOTLB_ACTIVE, z),
            Call::IsSwiotlbForceBounce => (ffi::DMADIFF_CALL_IS_SWIOTLB_FORCE_BOUNCE, z),
            Call::DmaKmallocNeedsBounce { size, dir } => {
                (ffi::DMADIFF_CALL_DMA_KMALLOC_NEEDS_BOUNCE, ffi::dmadiff_call { size, dir: dir as i32, ..z })
            }
            Call::SetMinAlignMask { mask } => {
                (ffi::DMADIFF_CALL_SET_MIN_ALIGN_MASK, ffi::dmadiff_call { addr: mask, ..z })
            }
            Call::SetSegBoundary { mask } => {
                (ffi::DMADIFF_CALL_SET_SEG_BOUNDARY, ffi::dmadiff_call { addr: mask, ..z })
            }
            Call::RunOnCpu { cpu } => (ffi::DMADIFF_CALL_RUN_ON_CPU, ffi::dmadiff_call { addr: cpu as u64, ..z }),
            Call::IovaInit { granule, start_pfn } => {
                (ffi::DMADIFF_CALL_IOVA_INIT, ffi::dmadiff_call { addr: granule, offset: start_pfn, ..z })
            }
            Call::AllocIova { size, limit_pfn, size_aligned } => (
                ffi::DMADIFF_CALL_ALLOC_IOVA,
                ffi::dmadiff_call { size, addr: limit_pfn, attrs: size_aligned as u64, ..z },
            ),
            Call::FreeIova { pfn } => (ffi::DMADIFF_CALL_FREE_IOVA, ffi::dmadiff_call { addr: pfn, ..z }),
            Call::FindIova { pfn } => (ffi::DMADIFF_CALL_FIND_IOVA, ffi::dmadiff_call { addr: pfn, ..z }),
            Call::ReserveIova { pfn_lo, pfn_hi } => {
                (ffi::DMADIFF_CALL_RESERVE_IOVA, ffi::dmadiff_call { addr: pfn_lo, offset: pfn_hi, ..z })
            }
            Call::AllocIovaFast { size, limit_pfn, flush_rcache } => (
                ffi::DMADIFF_CALL_ALLOC_IOVA_FAST,
                ffi::dmadiff_call { size, addr: limit_pfn, attrs: flush_rcache as u64, ..z },
            ),
            Call::FreeIovaFast { pfn, size } => {
                (ffi::DMADIFF_CALL_FREE_IOVA_FAST, ffi::dmadiff_call { addr: pfn, size, ..z })
            }
            Call::FreeCpuCachedIovas { cpu } => {
                (ffi::DMADIFF_CALL_FREE_CPU_CACHED_IOVAS, ffi::dmadiff_call { addr: cpu as u64, ..z })
            }
            Call::IovaDepotWork => (ffi::DMADIFF_CALL_IOVA_DEPOT_WORK, z),
            Call::FqTimeout => (ffi::DMADIFF_CALL_FQ_TIMEOUT, z),
            Call::DmaOptMappingSize => (ffi::DMADIFF_CALL_DMA_OPT_MAPPING_SIZE, z),
            Call::DmaMaxMappingSize => (ffi::DMADIFF_CALL_DMA_MAX_MAPPING_SIZE, z),
        };
        ffi::dmadiff_call { kind: kind as i32, ..c }
    }
}

/// What a call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallResult {
    /// The call returned this value (dma_addr_t, or an int widened to 64 bits; 0 for void).
    Returned(u64),
    /// A `struct iova *` call returned this node (`pfn_lo`, `pfn_hi`), or NULL.
    Iova(Option<(u64, u64)>),
    /// The call hit BUG(); the context is dead.
    Bug,
}

/// A live instance of the legacy model: one device, one boot.
pub struct LegacyModel {
    ctx: *mut ffi::dmadiff_ctx,
    dead: bool,
}

// SAFETY: the context is owned exclusively and holds no thread-affine state.
unsafe impl Send for LegacyModel {}

/// The ops table whose `priv` is `hooks_ref`; valid while `hooks_ref` is.
fn ops_for(hooks_ref: &mut &mut dyn Hooks) -> ffi::dmadiff_platform_ops {
    ffi::dmadiff_platform_ops {
        priv_: hooks_ref as *mut &mut dyn Hooks as *mut c_void,
        arch_sync_dma_for_device: Some(tr_arch_sync_dma_for_device),
        arch_sync_dma_for_cpu: Some(tr_arch_sync_dma_for_cpu),
        arch_sync_dma_for_cpu_all: Some(tr_arch_sync_dma_for_cpu_all),
        arch_dma_mark_clean: Some(tr_arch_dma_mark_clean),
        pfn_valid: Some(tr_pfn_valid),
        is_pci_p2pdma_page: Some(tr_is_pci_p2pdma_page),
        is_vmalloc_addr: Some(tr_is_vmalloc_addr),
        trace_dma_map: Some(tr_trace_dma_map),
        trace_dma_unmap: Some(tr_trace_dma_unmap),
        trace_dma_sync_single: Some(tr_trace_dma_sync_single),
        trace_dma_sg: Some(tr_trace_dma_sg),
        report: Some(tr_report),
        cpu_memcpy: Some(tr_cpu_memcpy),
        cpu_memset: Some(tr_cpu_memset),
        boot_memzero: Some(tr_boot_memzero),
        trace_swiotlb_bounced: Some(tr_trace_swiotlb_bounced),
        iommu_map: Some(tr_iommu_map),
        iommu_unmap: Some(tr_iommu_unmap),
        iommu_iova_to_phys: Some(tr_iommu_iova_to_phys),
        iommu_iotlb_sync: Some(tr_iommu_iotlb_sync),
        iommu_flush_iotlb_all: Some(tr_iommu_flush_iotlb_all),
        pci_p2pdma_map_type: Some(tr_pci_p2pdma_map_type),
    }
}

impl LegacyModel {
    /// Boots a fresh model for `cfg`; the boot-time pool memset goes to `hooks`.
    ///
    /// Panics on a configuration no kernel boots (a pool over 2^28 slots, one whose end
    /// wraps past 2^64, more areas than slots).
    pub fn new(cfg: &DeviceConfig, hooks: &mut dyn Hooks) -> Self {
        let name = CString::new(cfg.name.as_str()).expect("device name has a NUL");
        let driver = CString::new(cfg.driver.as_str()).expect("driver name has a NUL");
        let ranges: Vec<ffi::dmadiff_bus_dma_region> = cfg
            .dma_range_map
            .iter()
            .map(|r| ffi::dmadiff_bus_dma_region { cpu_start: r.cpu_start, dma_start: r.dma_start, size: r.size })
            .collect();
        let resv: Vec<ffi::dmadiff_iommu_resv_region> = cfg
            .iommu
            .resv
            .iter()
            .map(|r| ffi::dmadiff_iommu_resv_region {
                start: r.start,
                length: r.length,
                type_: match r.kind {
                    ResvType::Direct => ffi::DMADIFF_IOMMU_RESV_DIRECT,
                    ResvType::DirectRelaxable => ffi::DMADIFF_IOMMU_RESV_DIRECT_RELAXABLE,
                    ResvType::Reserved => ffi::DMADIFF_IOMMU_RESV_RESERVED,
                    ResvType::Msi => ffi::DMADIFF_IOMMU_RESV_MSI,
                    ResvType::SwMsi => ffi::DMADIFF_IOMMU_RESV_SW_MSI,
                } as i32,
            })
            .collect();
        let windows: Vec<ffi::dmadiff_pci_window> = cfg
            .iommu
            .pci_windows
            .iter()
            .map(|w| ffi::dmadiff_pci_window { start: w.start, end: w.end, offset: w.offset })
            .collect();
        let raw = ffi::dmadiff_device_config {
            name: name.as_ptr(),
            driver: driver.as_ptr(),
            has_dma_mask: cfg.dma_mask.is_some(),
            dma_mask: cfg.dma_mask.unwrap_or(0),
            bus_dma_limit: cfg.bus_dma_limit,
            dma_coherent: cfg.dma_coherent,
            dma_range_map: if ranges.is_empty() { std::ptr::null() } else { ranges.as_ptr() },
            nr_dma_ranges: ranges.len() as u64,
            dma_bounce_unaligned_kmalloc: cfg.dma_bounce_unaligned_kmalloc,
            arch_dma_minalign: cfg.arch_dma_minalign,
            dma_api_debug: cfg.dma_api_debug,
            nr_cpus: cfg.nr_cpus,
            has_dma_parms: cfg.dma_parms.is_some(),
            min_align_mask: cfg.dma_parms.map_or(0, |p| p.min_align_mask),
            seg_boundary_mask: cfg.dma_parms.map_or(0, |p| p.seg_boundary_mask),
            max_segment_size: cfg.dma_parms.map_or(0, |p| p.max_segment_size),
            swiotlb: ffi::dmadiff_swiotlb_config {
                mode: match cfg.swiotlb.mode {
                    SwiotlbMode::Off => ffi::DMADIFF_SWIOTLB_OFF,
                    SwiotlbMode::On => ffi::DMADIFF_SWIOTLB_ON,
                    SwiotlbMode::Force => ffi::DMADIFF_SWIOTLB_FORCE,
                    SwiotlbMode::Restricted => ffi::DMADIFF_SWIOTLB_RESTRICTED,
                } as i32,
                start: cfg.swiotlb.start,
                nslabs: cfg.swiotlb.nslabs,
                nareas: cfg.swiotlb.nareas,
            },
            is_pci: cfg.is_pci,
            untrusted: cfg.untrusted,
            iommu: ffi::dmadiff_iommu_config {
                domain_type: match cfg.iommu.domain {
                    IommuDomainType::None => ffi::DMADIFF_IOMMU_NONE,
                    IommuDomainType::Identity => ffi::DMADIFF_IOMMU_IDENTITY,
                    IommuDomainType::Dma => ffi::DMADIFF_IOMMU_DMA,
                    IommuDomainType::DmaFq => ffi::DMADIFF_IOMMU_DMA_FQ,
                } as i32,
                pgsize_bitmap: cfg.iommu.pgsize_bitmap,
                aperture_start: cfg.iommu.aperture_start,
                aperture_end: cfg.iommu.aperture_end,
                force_aperture: cfg.iommu.force_aperture,
                deferred_flush: cfg.iommu.deferred_flush,
                shadow_on_flush: cfg.iommu.shadow_on_flush,
                forcedac: cfg.iommu.forcedac,
                resv: if resv.is_empty() { std::ptr::null() } else { resv.as_ptr() },
                nr_resv: resv.len() as u64,
                pci_windows: if windows.is_empty() { std::ptr::null() } else { windows.as_ptr() },
                nr_pci_windows: windows.len() as u64,
            },
        };
        let mut hooks_ref: &mut dyn Hooks = hooks;
        let ops = ops_for(&mut hooks_ref);
        // SAFETY: raw and everything it points to outlive the call; the C side copies them.
        // ops.priv_ points at hooks_ref, which outlives the call.
        let ctx = unsafe { ffi::dmadiff_ctx_new(&raw, &ops) };
        assert!(!ctx.is_null(), "dmadiff_ctx_new failed");
        LegacyModel { ctx, dead: false }
    }

    /// True once a call hit BUG(): a real kernel would not run anything after it.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// Runs one call with `hooks` as the platform.
    pub fn call(&mut self, hooks: &mut dyn Hooks, call: Call) -> CallResult {
        assert!(!self.dead, "call into a legacy model that already hit BUG()");
        let mut hooks_ref: &mut dyn Hooks = hooks;
        let ops = ops_for(&mut hooks_ref);
        let raw = call.to_raw();
        let mut res = ffi::dmadiff_result { value: 0, value2: 0, is_null: false };
        // SAFETY: ctx is live; ops.priv_ points at hooks_ref, which outlives the call.
        let bugged = unsafe { ffi::dmadiff_call(self.ctx, &ops, &raw, &mut res) };
        if bugged != 0 {
            self.dead = true;
            return CallResult::Bug;
        }
        match call {
            Call::AllocIova { .. } | Call::FindIova { .. } | Call::ReserveIova { .. } => {
                CallResult::Iova((!res.is_null).then_some((res.value, res.value2)))
            }
            _ => CallResult::Returned(res.value),
        }
    }

    /// Runs one scatterlist call on `sgl` (the list in `sg_next()` order), which it updates
    /// as the kernel does.
    pub fn call_sg(&mut self, hooks: &mut dyn Hooks, call: SgCall, sgl: &mut [SgEntry]) -> SgResult {
        assert!(!self.dead, "call into a legacy model that already hit BUG()");
        assert!(!sgl.is_empty(), "a scatterlist has at least one entry");
        let z = ffi::dmadiff_call { kind: 0, dir: 0, addr: 0, offset: 0, size: 0, attrs: 0 };
        let (kind, raw) = match call {
            SgCall::MapSg { nents, dir, attrs } => {
                (ffi::DMADIFF_CALL_MAP_SG, ffi::dmadiff_call { size: nents as u64, dir: dir as i32, attrs, ..z })
            }
            SgCall::MapSgtable { orig_nents, nents, dir, attrs } => (
                ffi::DMADIFF_CALL_MAP_SGTABLE,
                ffi::dmadiff_call { size: orig_nents as u64, offset: nents as u64, dir: dir as i32, attrs, ..z },
            ),
            SgCall::UnmapSg { nents, dir, attrs } => {
                (ffi::DMADIFF_CALL_UNMAP_SG, ffi::dmadiff_call { size: nents as u64, dir: dir as i32, attrs, ..z })
            }
            SgCall::SyncSgForCpu { nelems, dir } => {
                (ffi::DMADIFF_CALL_SYNC_SG_FOR_CPU, ffi::dmadiff_call { size: nelems as u64, dir: dir as i32, ..z })
            }
            SgCall::SyncSgForDevice { nelems, dir } => {
                (ffi::DMADIFF_CALL_SYNC_SG_FOR_DEVICE, ffi::dmadiff_call { size: nelems as u64, dir: dir as i32, ..z })
            }
        };
        let raw = ffi::dmadiff_call { kind: kind as i32, ..raw };
        let mut ents: Vec<ffi::dmadiff_sg_entry> = sgl
            .iter()
            .map(|e| ffi::dmadiff_sg_entry {
                page: e.page,
                offset: e.offset,
                length: e.length,
                dma_address: e.dma_address,
                dma_length: e.dma_length,
                dma_flags: e.dma_flags,
                chain_after: e.chain_after,
            })
            .collect();
        let mut hooks_ref: &mut dyn Hooks = hooks;
        let ops = ops_for(&mut hooks_ref);
        let mut res = ffi::dmadiff_result { value: 0, value2: 0, is_null: false };
        // SAFETY: ctx is live; ents has ents.len() entries; ops.priv_ outlives the call.
        let bugged =
            unsafe { ffi::dmadiff_call_sg(self.ctx, &ops, &raw, ents.as_mut_ptr(), ents.len() as u32, &mut res) };
        for (e, r) in sgl.iter_mut().zip(&ents) {
            e.page = r.page;
            e.offset = r.offset;
            e.length = r.length;
            e.dma_address = r.dma_address;
            e.dma_length = r.dma_length;
            e.dma_flags = r.dma_flags;
        }
        if bugged != 0 {
            self.dead = true;
            return SgResult::Bug;
        }
        let value = match call {
            // dma_map_sg_attrs() returns unsigned int
            SgCall::MapSg { .. } => res.value as u32 as i64,
            _ => res.value as i64,
        };
        SgResult::Returned { value, nents: res.value2 as u32 }
    }

    /// Runs one two-step IOVA call on `state`. None: the call hit BUG().
    pub fn call_iova(&mut self, hooks: &mut dyn Hooks, call: IovaCall, state: &mut IovaState) -> Option<i64> {
        assert!(!self.dead, "call into a legacy model that already hit BUG()");
        let z = ffi::dmadiff_call { kind: 0, dir: 0, addr: 0, offset: 0, size: 0, attrs: 0 };
        let (kind, raw) = match call {
            IovaCall::TryAlloc { phys, size } => {
                (ffi::DMADIFF_CALL_IOVA_TRY_ALLOC, ffi::dmadiff_call { addr: phys, size, ..z })
            }
            IovaCall::Link { phys, offset, size, dir, attrs } => (
                ffi::DMADIFF_CALL_IOVA_LINK,
                ffi::dmadiff_call { addr: phys, offset, size, dir: dir as i32, attrs, ..z },
            ),
            IovaCall::Sync { offset, size } => (ffi::DMADIFF_CALL_IOVA_SYNC, ffi::dmadiff_call { offset, size, ..z }),
            IovaCall::Unlink { offset, size, dir, attrs } => {
                (ffi::DMADIFF_CALL_IOVA_UNLINK, ffi::dmadiff_call { offset, size, dir: dir as i32, attrs, ..z })
            }
            IovaCall::Destroy { mapped_len, dir, attrs } => {
                (ffi::DMADIFF_CALL_IOVA_DESTROY, ffi::dmadiff_call { size: mapped_len, dir: dir as i32, attrs, ..z })
            }
            IovaCall::Free => (ffi::DMADIFF_CALL_IOVA_FREE, z),
        };
        let raw = ffi::dmadiff_call { kind: kind as i32, ..raw };
        let mut st = ffi::dmadiff_iova_state { addr: state.addr, size: state.size };
        let mut hooks_ref: &mut dyn Hooks = hooks;
        let ops = ops_for(&mut hooks_ref);
        let mut res = ffi::dmadiff_result { value: 0, value2: 0, is_null: false };
        // SAFETY: ctx is live; st and res are valid; ops.priv_ outlives the call.
        let bugged = unsafe { ffi::dmadiff_call_iova(self.ctx, &ops, &raw, &mut st, &mut res) };
        if bugged != 0 {
            self.dead = true;
            return None;
        }
        state.addr = st.addr;
        state.size = st.size;
        Some(match call {
            // dma_iova_try_alloc() returns bool, the others int
            IovaCall::TryAlloc { .. } => (res.value & 1) as i64,
            _ => res.value as i32 as i64,
        })
    }

    /// The device's swiotlb pool (the restricted one if it has one); None with swiotlb off.
    pub fn swiotlb_pool(&self) -> Option<PoolInfo> {
        let mut p = ffi::dmadiff_swiotlb_pool_info {
            start: 0,
            end: 0,
            nslabs: 0,
            nareas: 0,
            area_nslabs: 0,
            force_bounce: false,
        };
        // SAFETY: ctx is live; p is a valid out-pointer.
        let have = unsafe { ffi::dmadiff_swiotlb_pool(self.ctx, &mut p) };
        have.then_some(PoolInfo {
            start: p.start,
            end: p.end,
            nslabs: p.nslabs,
            nareas: p.nareas,
            area_nslabs: p.area_nslabs,
            force_bounce: p.force_bounce,
        })
    }

    /// Slot `index` of the pool; outside the pool (or without one) a free-looking slot with
    /// list 0 and orig_addr all-ones.
    pub fn swiotlb_slot(&self, index: u64) -> SlotInfo {
        let mut s = ffi::dmadiff_swiotlb_slot_info { orig_addr: 0, alloc_size: 0, list: 0, pad_slots: 0 };
        // SAFETY: ctx is live; s is a valid out-pointer.
        unsafe { ffi::dmadiff_swiotlb_slot(self.ctx, index, &mut s) };
        SlotInfo { orig_addr: s.orig_addr, alloc_size: s.alloc_size, list: s.list, pad_slots: s.pad_slots }
    }

    /// Area `area` of the pool; zeros past the last area (or without a pool).
    pub fn swiotlb_area(&self, area: u32) -> AreaInfo {
        let mut a = ffi::dmadiff_swiotlb_area_info { index: 0, used: 0 };
        // SAFETY: ctx is live; a is a valid out-pointer.
        unsafe { ffi::dmadiff_swiotlb_area(self.ctx, area, &mut a) };
        AreaInfo { index: a.index, used: a.used }
    }

    /// The 128-slot segments ever written (slot index / 128), ascending; the others are still
    /// in their boot state.
    pub fn swiotlb_touched_segments(&self) -> Vec<u64> {
        // SAFETY: ctx is live; a zero-length query writes nothing.
        let n = unsafe { ffi::dmadiff_swiotlb_touched_segments(self.ctx, std::ptr::null_mut(), 0) };
        let mut v = vec![0u64; n as usize];
        // SAFETY: v has room for n entries.
        let m = unsafe { ffi::dmadiff_swiotlb_touched_segments(self.ctx, v.as_mut_ptr(), n) };
        debug_assert_eq!(m, n);
        v
    }
}

impl LegacyModel {
    /// The nodes of an iova tree (anchor excluded), ascending; None when that domain does
    /// not exist.
    pub fn iova_nodes(&self, which: IovaDomainId) -> Option<Vec<(u64, u64)>> {
        let w = match which {
            IovaDomainId::Standalone => ffi::DMADIFF_IOVA_STANDALONE,
            IovaDomainId::DmaDomain => ffi::DMADIFF_IOVA_DMA_DOMAIN,
        } as i32;
        // SAFETY: ctx is live; a zero-length query writes nothing.
        let n = unsafe { ffi::dmadiff_iova_nodes(self.ctx, w, std::ptr::null_mut(), 0) };
        if n < 0 {
            return None;
        }
        let mut v = vec![ffi::dmadiff_iova_range { pfn_lo: 0, pfn_hi: 0 }; n as usize];
        // SAFETY: v has room for n entries.
        unsafe { ffi::dmadiff_iova_nodes(self.ctx, w, v.as_mut_ptr(), n as u64) };
        Some(v.into_iter().map(|r| (r.pfn_lo, r.pfn_hi)).collect())
    }

    /// The pfns a domain holds for reuse (range caches, and the DMA domain's flush queues),
    /// in no particular order; None when that domain does not exist.
    pub fn iova_parked(&self, which: IovaDomainId) -> Option<Vec<u64>> {
        let w = match which {
            IovaDomainId::Standalone => ffi::DMADIFF_IOVA_STANDALONE,
            IovaDomainId::DmaDomain => ffi::DMADIFF_IOVA_DMA_DOMAIN,
        } as i32;
        // SAFETY: ctx is live; a zero-length query writes nothing.
        let n = unsafe { ffi::dmadiff_iova_parked(self.ctx, w, std::ptr::null_mut(), 0) };
        if n < 0 {
            return None;
        }
        let mut v = vec![0u64; n as usize];
        // SAFETY: v has room for n entries.
        unsafe { ffi::dmadiff_iova_parked(self.ctx, w, v.as_mut_ptr(), n as u64) };
        Some(v)
    }
}

impl Drop for LegacyModel {
    fn drop(&mut self) {
        // SAFETY: ctx came from dmadiff_ctx_new and is freed once.
        unsafe { ffi::dmadiff_ctx_free(self.ctx) }
    }
}

/// Recovers the hooks from the `priv` pointer the C side hands back.
///
/// # Safety
/// `p` must be the `priv_` of the ops table built in [`LegacyModel::call`].
unsafe fn hooks<'a>(p: *mut c_void) -> &'a mut dyn Hooks {
    &mut **(p as *mut &mut dyn Hooks)
}

/// # Safety
/// `s` must be NULL or a NUL-terminated string.
unsafe fn text<'a>(s: *const c_char) -> &'a str {
    if s.is_null() {
        ""
    } else {
        CStr::from_ptr(s).to_str().unwrap_or("<invalid utf-8>")
    }
}

unsafe extern "C" fn tr_arch_sync_dma_for_device(p: *mut c_void, paddr: u64, size: u64, dir: i32) {
    hooks(p).arch_sync_dma_for_device(paddr, size, dir as u32)
}
unsafe extern "C" fn tr_arch_sync_dma_for_cpu(p: *mut c_void, paddr: u64, size: u64, dir: i32) {
    hooks(p).arch_sync_dma_for_cpu(paddr, size, dir as u32)
}
unsafe extern "C" fn tr_arch_sync_dma_for_cpu_all(p: *mut c_void) {
    hooks(p).arch_sync_dma_for_cpu_all()
}
unsafe extern "C" fn tr_arch_dma_mark_clean(p: *mut c_void, paddr: u64, size: u64) {
    hooks(p).arch_dma_mark_clean(paddr, size)
}
unsafe extern "C" fn tr_pfn_valid(p: *mut c_void, pfn: u64) -> bool {
    hooks(p).pfn_valid(pfn)
}
unsafe extern "C" fn tr_is_pci_p2pdma_page(p: *mut c_void, pfn: u64) -> bool {
    hooks(p).is_pci_p2pdma_page(pfn)
}
unsafe extern "C" fn tr_is_vmalloc_addr(p: *mut c_void, addr: u64) -> bool {
    hooks(p).is_vmalloc_addr(addr)
}
unsafe extern "C" fn tr_trace_dma_map(
    p: *mut c_void,
    event: *const c_char,
    phys: u64,
    dma: u64,
    size: u64,
    dir: i32,
    attrs: u64,
) {
    hooks(p).trace_dma_map(text(event), phys, dma, size, dir as u32, attrs)
}
unsafe extern "C" fn tr_trace_dma_unmap(
    p: *mut c_void,
    event: *const c_char,
    addr: u64,
    size: u64,
    dir: i32,
    attrs: u64,
) {
    hooks(p).trace_dma_unmap(text(event), addr, size, dir as u32, attrs)
}
unsafe extern "C" fn tr_trace_dma_sync_single(p: *mut c_void, event: *const c_char, addr: u64, size: u64, dir: i32) {
    hooks(p).trace_dma_sync_single(text(event), addr, size, dir as u32)
}
unsafe extern "C" fn tr_report(p: *mut c_void, kind: i32, func: *const c_char, msg: *const c_char) {
    hooks(p).report(ReportKind::from_raw(kind), text(func), text(msg))
}
unsafe extern "C" fn tr_cpu_memcpy(p: *mut c_void, dst: u64, src: u64, size: u64) {
    hooks(p).cpu_memcpy(dst, src, size)
}
unsafe extern "C" fn tr_cpu_memset(p: *mut c_void, dst: u64, value: u8, size: u64) {
    hooks(p).cpu_memset(dst, value, size)
}
unsafe extern "C" fn tr_boot_memzero(p: *mut c_void, start: u64, size: u64) {
    hooks(p).boot_memzero(start, size)
}
unsafe extern "C" fn tr_trace_swiotlb_bounced(p: *mut c_void, dev_addr: u64, size: u64, force: bool) {
    hooks(p).trace_swiotlb_bounced(dev_addr, size, force)
}
unsafe extern "C" fn tr_iommu_map(p: *mut c_void, iova: u64, paddr: u64, size: u64, prot: i32) -> i32 {
    hooks(p).iommu_map(iova, paddr, size, prot)
}
unsafe extern "C" fn tr_iommu_unmap(p: *mut c_void, iova: u64, size: u64) -> u64 {
    hooks(p).iommu_unmap(iova, size)
}
unsafe extern "C" fn tr_iommu_iova_to_phys(p: *mut c_void, iova: u64) -> u64 {
    hooks(p).iommu_iova_to_phys(iova)
}
unsafe extern "C" fn tr_iommu_iotlb_sync(p: *mut c_void, start: u64, end: u64) {
    hooks(p).iommu_iotlb_sync(start, end)
}
unsafe extern "C" fn tr_iommu_flush_iotlb_all(p: *mut c_void) {
    hooks(p).iommu_flush_iotlb_all()
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn tr_trace_dma_sg(
    p: *mut c_void,
    event: *const c_char,
    phys: *const u64,
    nr_phys: u32,
    dma: *const u64,
    len: *const u32,
    nr_dma: u32,
    err: i64,
    dir: i32,
    attrs: u64,
) {
    // SAFETY: the C side passes arrays of the lengths it names (never NULL).
    let (phys, dma, len) = unsafe {
        (
            std::slice::from_raw_parts(phys, nr_phys as usize),
            std::slice::from_raw_parts(dma, nr_dma as usize),
            std::slice::from_raw_parts(len, nr_dma as usize),
        )
    };
    let segs: Vec<(u64, u32)> = dma.iter().copied().zip(len.iter().copied()).collect();
    // SAFETY: event is a NUL-terminated string literal of the C model.
    let event = unsafe { CStr::from_ptr(event) }.to_str().unwrap_or("?");
    hooks(p).trace_dma_sg(event, phys, &segs, err, dir as u32, attrs)
}

unsafe extern "C" fn tr_pci_p2pdma_map_type(p: *mut c_void, pfn: u64, bus_offset: *mut u64, pgmap: *mut u64) -> i32 {
    let t = match hooks(p).pci_p2pdma_map_type(pfn) {
        None => return ffi::DMADIFF_P2PDMA_MAP_NONE as i32,
        Some((t, off, token)) => {
            // SAFETY: the C caller passes two valid out-pointers.
            unsafe {
                *bus_offset = off;
                *pgmap = token;
            }
            t
        }
    };
    (match t {
        P2pdmaMapType::NotSupported => ffi::DMADIFF_P2PDMA_MAP_NOT_SUPPORTED,
        P2pdmaMapType::BusAddr => ffi::DMADIFF_P2PDMA_MAP_BUS_ADDR,
        P2pdmaMapType::ThruHostBridge => ffi::DMADIFF_P2PDMA_MAP_THRU_HOST_BRIDGE,
    }) as i32
}
