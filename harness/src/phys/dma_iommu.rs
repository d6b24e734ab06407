//! drivers/iommu/dma-iommu.c as v6.18 defines it: the physical-address entry points
//! (`iommu_dma_map_phys()` / `iommu_dma_unmap_phys()`, with DMA_ATTR_MMIO since "iommu/dma:
//! implement DMA_ATTR_MMIO for iommu_dma_(un)map_phys()"), the IOVA cookie with its flush
//! queue, and domain setup. `iommu_dma_map_resource()` is gone in v6.18: dma_map_resource()
//! is dma_map_phys(.., attrs | DMA_ATTR_MMIO) (mapping.rs).
//!
//! Only IOMMU_COOKIE_DMA_IOVA cookies exist here (the MSI cookie belongs to UNMANAGED domains,
//! which the DMA API never sees). The deferred-attach static key (kdump kernels only) is off.
//! Later patches the 6.18.y trees carry (DMA_ATTR_REQUIRE_COHERENT, arch_sync_dma_flush(),
//! "iommupt always supports DMA-FQ") are not part of v6.18 and are not modelled.

use std::collections::VecDeque;

use super::device::Device;
use super::dma_direct::{dma_range_map_max, dma_range_map_min, min_not_zero};
use super::dma_map_ops::{dev_is_dma_coherent, dma_kmalloc_needs_bounce, dma_kmalloc_safe, dma_kmalloc_size_aligned};
use super::iommu::{
    iommu_flush_iotlb_all, iommu_iotlb_sync, iommu_iova_to_phys, iommu_map, iommu_map_nosync, iommu_map_sg,
    iommu_sync_map, iommu_unmap_fast, IotlbGather,
};
use super::iova::{iova_rcache_range, IovaDomain, ReserveResult};
use super::mapping::{dma_get_mask, use_dma_iommu};
use super::p2pdma::{pci_p2pdma_bus_addr_map, pci_p2pdma_state, PciP2pdmaMapState, PciP2pdmaMapType};
use super::swiotlb::{
    dma_get_min_align_mask, dma_get_seg_boundary, is_swiotlb_active, is_swiotlb_force_bounce, swiotlb_max_mapping_size,
    swiotlb_sync_single_for_cpu, swiotlb_sync_single_for_device, swiotlb_tbl_map_single, swiotlb_tbl_unmap_single,
};
use super::KResult;
use crate::platform::trace::ReportKind;
use crate::platform::Platform;
use crate::scatterlist::{DmaIovaState, Scatterlist, DMA_IOVA_USE_SWIOTLB};
use crate::scenario::{IommuConfig, IommuDomainType, PciWindow, ResvRegion, ResvType};
use crate::types::{DmaAddr, DmaAttrs, DmaDir, IommuProt, PhysAddr, DMA_MAPPING_ERROR};

/// IOVA_DEFAULT_FQ_SIZE: entries per per-CPU flush queue.
pub const IOVA_DEFAULT_FQ_SIZE: usize = 256;
/// IOVA_SINGLE_FQ_SIZE: entries of the single queue (shadow_on_flush).
pub const IOVA_SINGLE_FQ_SIZE: usize = 32768;
/// IOVA_DEFAULT_FQ_TIMEOUT, in ms.
pub const IOVA_DEFAULT_FQ_TIMEOUT: u32 = 10;
/// IOVA_SINGLE_FQ_TIMEOUT, in ms.
pub const IOVA_SINGLE_FQ_TIMEOUT: u32 = 1000;

/// DMA_BIT_MASK(32)
const DMA_BIT_MASK_32: u64 = 0xffff_ffff;

/// The domain type (IOMMU_DOMAIN_*), as the IOMMU core and the FQ fallback leave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainType {
    /// IOMMU_DOMAIN_IDENTITY: passthrough, no DMA API ops.
    Identity,
    /// IOMMU_DOMAIN_DMA: strict invalidation.
    Dma,
    /// IOMMU_DOMAIN_DMA_FQ: lazy invalidation through the flush queue.
    DmaFq,
}

/// struct iommu_domain_geometry
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub aperture_start: u64,
    /// Inclusive.
    pub aperture_end: u64,
    pub force_aperture: bool,
}

/// enum iommu_dma_queue_type
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueType {
    /// IOMMU_DMA_OPTS_PER_CPU_QUEUE
    PerCpu,
    /// IOMMU_DMA_OPTS_SINGLE_QUEUE
    Single,
}

/// struct iommu_dma_options
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IommuDmaOptions {
    pub qt: QueueType,
    pub fq_size: usize,
    /// In ms: the deadline mod_timer() sets when a queue first gets an entry.
    pub fq_timeout: u32,
}

/// struct iova_fq_entry (the page-table freelist is not modelled: the mock IOMMU frees no
/// table pages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FqEntry {
    pub iova_pfn: u64,
    pub pages: u64,
    /// fq_flush_start_cnt when the entry was queued.
    pub counter: u64,
}

/// struct iova_fq: a ring of `mod_mask + 1` slots from head to tail. One slot always stays
/// empty, so it is full at `mod_mask` entries; the front of the deque is the head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IovaFq {
    pub entries: VecDeque<FqEntry>,
    pub mod_mask: usize,
}

impl IovaFq {
    /// models iommu_dma_init_one_fq()
    fn new(fq_size: usize) -> Self {
        IovaFq { entries: VecDeque::new(), mod_mask: fq_size - 1 }
    }

    /// models fq_full(): `(tail + 1) & mod_mask == head`
    fn full(&self) -> bool {
        self.entries.len() == self.mod_mask
    }
}

/// struct iommu_dma_cookie (IOMMU_COOKIE_DMA_IOVA). The MSI page list is not modelled: only
/// iommu_dma_sw_msi() reads it, and MSI doorbells are not part of the streaming API.
pub struct IommuDmaCookie {
    pub iovad: IovaDomain,
    /// percpu_fq (one queue per possible CPU) or single_fq (one queue); empty until
    /// iommu_dma_init_fq() succeeded.
    pub fq: Vec<IovaFq>,
    /// Number of TLB flushes that have been started.
    pub fq_flush_start_cnt: u64,
    /// Number of TLB flushes that have been finished.
    pub fq_flush_finish_cnt: u64,
    /// fq_timer_on: the timer is armed (the scenario fires it with fq_timeout()).
    pub fq_timer_on: bool,
    /// cookie->fq_domain != NULL: the flush queue is in use.
    pub fq_domain: bool,
    pub options: IommuDmaOptions,
}

/// struct iommu_domain, as far as dma-iommu reads it.
pub struct IommuDomain {
    pub kind: DomainType,
    pub pgsize_bitmap: u64,
    pub geometry: Geometry,
    /// domain->iova_cookie, once iommu_dma_init_domain() has initialised its iova_domain.
    pub cookie: Option<IommuDmaCookie>,
}

/// struct dev_iommu: the per-device fields dma-iommu reads and writes, plus the boot
/// configuration the domain is set up from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevIommu {
    /// Try 32-bit IOVAs first (the SAC trick); cleared for good once that fails.
    pub pci_32bit_workaround: bool,
    pub shadow_on_flush: bool,
    /// device_iommu_capable(dev, IOMMU_CAP_DEFERRED_FLUSH)
    pub cap_deferred_flush: bool,
    /// iommu_dma_forcedac (iommu.forcedac=; global in the kernel)
    pub forcedac: bool,
    /// iommu_get_resv_regions(dev), in list order.
    pub resv: Vec<ResvRegion>,
    /// The host bridge's IORESOURCE_MEM windows, in list order.
    pub pci_windows: Vec<PciWindow>,
}

// ---- helpers over the device's domain (the kernel's iommu_get_dma_domain(dev)->iova_cookie) ----

fn domain(dev: &Device) -> &IommuDomain {
    dev.iommu_domain.as_ref().expect("use_dma_iommu() implies a DMA domain")
}

fn cookie(dev: &Device) -> &IommuDmaCookie {
    domain(dev).cookie.as_ref().expect("use_dma_iommu() implies an initialised cookie")
}

fn cookie_mut(dev: &mut Device) -> &mut IommuDmaCookie {
    dev.iommu_domain.as_mut().and_then(|d| d.cookie.as_mut()).expect("use_dma_iommu() implies an initialised cookie")
}

fn dev_iommu_mut(dev: &mut Device) -> &mut DevIommu {
    dev.iommu.as_mut().expect("an IOMMU device has dev->iommu")
}

/// models iova_offset() on the device's domain.
fn iova_off(dev: &Device, x: u64) -> u64 {
    cookie(dev).iovad.iova_offset(x)
}

/// models __bits_per() (bits_per() of a non-constant)
fn bits_per(n: u64) -> u32 {
    if n < 2 {
        1
    } else if n.is_power_of_two() {
        n.ilog2() + 1
    } else {
        // order_base_2(n) = ilog2(n - 1) + 1
        (n - 1).ilog2() + 1
    }
}

// ---- flush queue ---------------------------------------------------------------------------

/// Prints the WARN_ON(!iova) of iova_magazine_free_pfns() the last allocator call hit.
pub fn report_iova_warnings(iovad: &mut IovaDomain, plat: &mut Platform) {
    for _ in 0..iovad.take_warnings() {
        plat.report(ReportKind::WarnOnAlways, "iova_magazine_free_pfns", "!iova");
    }
}

/// models fq_ring_free_locked() on queue `q`
fn fq_ring_free(c: &mut IommuDmaCookie, plat: &mut Platform, cpu: u32, q: usize) {
    let counter = c.fq_flush_finish_cnt;
    while let Some(e) = c.fq[q].entries.front().copied() {
        if e.counter >= counter {
            break;
        }
        // iommu_put_pages_list(): no table pages in the mock IOMMU.
        c.iovad.free_iova_fast(cpu, e.iova_pfn, e.pages);
        report_iova_warnings(&mut c.iovad, plat);
        c.fq[q].entries.pop_front();
    }
}

/// models fq_flush_iotlb()
fn fq_flush_iotlb(c: &mut IommuDmaCookie, plat: &mut Platform) {
    c.fq_flush_start_cnt += 1;
    // cookie->fq_domain->ops->flush_iotlb_all()
    iommu_flush_iotlb_all(plat);
    c.fq_flush_finish_cnt += 1;
}

/// models fq_flush_timeout()
fn fq_flush_timeout(dev: &mut Device, plat: &mut Platform) {
    let cpu = dev.cpu;
    let c = cookie_mut(dev);
    c.fq_timer_on = false;
    fq_flush_iotlb(c, plat);
    // The single queue, or every possible CPU's queue in CPU order. The freed pfns go into
    // the rcache of the CPU the timer runs on (the model runs it on the current CPU).
    for q in 0..c.fq.len() {
        fq_ring_free(c, plat, cpu, q);
    }
}

/// models queue_iova()
fn queue_iova(dev: &mut Device, plat: &mut Platform, pfn: u64, pages: u64) {
    let cpu = dev.cpu;
    let c = cookie_mut(dev);
    // raw_cpu_ptr(cookie->percpu_fq), or the single queue
    let q = match c.options.qt {
        QueueType::Single => 0,
        QueueType::PerCpu => cpu as usize,
    };
    // First drop what other CPUs' flushes already covered.
    fq_ring_free(c, plat, cpu, q);
    if c.fq[q].full() {
        fq_flush_iotlb(c, plat);
        fq_ring_free(c, plat, cpu, q);
    }
    let counter = c.fq_flush_start_cnt;
    c.fq[q].entries.push_back(FqEntry { iova_pfn: pfn, pages, counter });
    // mod_timer(jiffies + msecs_to_jiffies(fq_timeout)) only if not already armed: later
    // queueing does not push the deadline back.
    if !c.fq_timer_on {
        c.fq_timer_on = true;
    }
}

/// models iommu_dma_init_fq()
fn iommu_dma_init_fq(c: &mut IommuDmaCookie, nr_cpus: u32) -> Result<(), i32> {
    if c.fq_domain {
        return Ok(());
    }
    c.fq_flush_start_cnt = 0;
    c.fq_flush_finish_cnt = 0;
    // iommu_dma_init_fq_single() / iommu_dma_init_fq_percpu(): allocation never fails here.
    let n = match c.options.qt {
        QueueType::Single => 1,
        QueueType::PerCpu => nr_cpus.max(1) as usize,
    };
    c.fq = (0..n).map(|_| IovaFq::new(c.options.fq_size)).collect();
    c.fq_timer_on = false;
    c.fq_domain = true;
    Ok(())
}

/// models iommu_dma_init_options()
fn iommu_dma_init_options(dev: &Device) -> IommuDmaOptions {
    let shadow = dev.iommu.as_ref().is_some_and(|i| i.shadow_on_flush);
    if shadow {
        IommuDmaOptions { qt: QueueType::Single, fq_size: IOVA_SINGLE_FQ_SIZE, fq_timeout: IOVA_SINGLE_FQ_TIMEOUT }
    } else {
        IommuDmaOptions { qt: QueueType::PerCpu, fq_size: IOVA_DEFAULT_FQ_SIZE, fq_timeout: IOVA_DEFAULT_FQ_TIMEOUT }
    }
}

// ---- domain setup --------------------------------------------------------------------------

/// models reserve_iova()'s caller side: the WARN_ON for nonsensical pfns is reported here.
fn reserve(dev: &mut Device, plat: &mut Platform, lo: u64, hi: u64) {
    if let ReserveResult::WarnNull = cookie_mut(dev).iovad.reserve_iova(lo, hi) {
        dev.warn_on(plat, "reserve_iova", "(pfn_hi | pfn_lo) > (ULLONG_MAX >> iova_shift(iovad))");
    }
}

/// models iova_reserve_pci_windows()
fn iova_reserve_pci_windows(dev: &mut Device, plat: &mut Platform) -> Result<(), i32> {
    let windows = dev.iommu.as_ref().map(|i| i.pci_windows.clone()).unwrap_or_default();
    for w in windows {
        // Every configured window is IORESOURCE_MEM.
        let iovad = &cookie(dev).iovad;
        let lo = iovad.iova_pfn(w.start.wrapping_sub(w.offset));
        let hi = iovad.iova_pfn(w.end.wrapping_sub(w.offset));
        reserve(dev, plat, lo, hi);
    }
    // The host bridge's dma_ranges are not configurable in the scenarios: the list is empty,
    // so no gaps are reserved and -EINVAL ("Failed to reserve IOVA") cannot happen.
    Ok(())
}

/// models iova_reserve_iommu_regions()
fn iova_reserve_iommu_regions(dev: &mut Device, plat: &mut Platform) -> Result<(), i32> {
    if dev.is_pci {
        iova_reserve_pci_windows(dev, plat)?;
    }
    let regions = dev.iommu.as_ref().map(|i| i.resv.clone()).unwrap_or_default();
    for r in regions {
        // We ARE the software that manages these!
        if r.kind == ResvType::SwMsi {
            continue;
        }
        let iovad = &cookie(dev).iovad;
        let lo = iovad.iova_pfn(r.start);
        let hi = iovad.iova_pfn(r.start.wrapping_add(r.length).wrapping_sub(1));
        reserve(dev, plat, lo, hi);
        // IOMMU_RESV_MSI: cookie_init_hw_msi_region() adds identity msi_page entries, which
        // only iommu_dma_sw_msi() reads (not modelled).
    }
    Ok(())
}

/// models iommu_dma_init_domain()
fn iommu_dma_init_domain(dev: &mut Device, plat: &mut Platform) -> Result<(), i32> {
    const EFAULT: i32 = 14;
    let dom = domain(dev);
    let (pgsize_bitmap, geo, kind) = (dom.pgsize_bitmap, dom.geometry, dom.kind);
    // Use the smallest supported page size for IOVA granularity (__ffs; the parser rejects
    // an empty bitmap and granules above PAGE_SIZE, where init_iova_domain() would BUG).
    let order = pgsize_bitmap.trailing_zeros().min(63);
    let mut base_pfn = 1u64;
    // Check the domain allows at least some access to the device.
    if !dev.dma_range_map.is_empty()
        && (dma_range_map_min(dev) > geo.aperture_end || dma_range_map_max(dev) < geo.aperture_start)
    {
        plat.report(ReportKind::DevWarning, "iommu_dma_init_domain", "specified DMA range outside IOMMU capability");
        return Err(-EFAULT);
    }
    base_pfn = base_pfn.max(geo.aperture_start >> order);
    // A domain shared with an earlier device ("Incompatible range for DMA domain") cannot
    // happen: one device per boot, so the iova_domain is always fresh here.
    let mut iovad = IovaDomain::new(1u64 << order, base_pfn);
    iovad.init_rcaches(dev.nr_cpus);
    let options = iommu_dma_init_options(dev);
    let mut c = IommuDmaCookie {
        iovad,
        fq: Vec::new(),
        fq_flush_start_cnt: 0,
        fq_flush_finish_cnt: 0,
        fq_timer_on: false,
        fq_domain: false,
        options,
    };
    // If the FQ fails we can simply fall back to strict mode.
    let cap = dev.iommu.as_ref().is_some_and(|i| i.cap_deferred_flush);
    let mut kind = kind;
    if kind == DomainType::DmaFq && (!cap || iommu_dma_init_fq(&mut c, dev.nr_cpus).is_err()) {
        kind = DomainType::Dma;
    }
    let dom = dev.iommu_domain.as_mut().expect("checked above");
    dom.kind = kind;
    dom.cookie = Some(c);
    iova_reserve_iommu_regions(dev, plat)
}

/// models iommu_is_dma_domain(): __IOMMU_DOMAIN_DMA_API is set.
fn iommu_is_dma_domain(d: &IommuDomain) -> bool {
    matches!(d.kind, DomainType::Dma | DomainType::DmaFq)
}

/// models iommu_setup_dma_ops(), after the IOMMU core attached the default domain
/// (`cfg`) and filled dev->iommu.
pub fn iommu_setup_dma_ops(dev: &mut Device, plat: &mut Platform, cfg: &IommuConfig) {
    dev.iommu = Some(DevIommu {
        pci_32bit_workaround: false,
        shadow_on_flush: cfg.shadow_on_flush,
        cap_deferred_flush: cfg.deferred_flush,
        forcedac: cfg.forcedac,
        resv: cfg.resv.clone(),
        pci_windows: cfg.pci_windows.clone(),
    });
    dev.iommu_domain = Some(IommuDomain {
        kind: match cfg.domain {
            IommuDomainType::Identity => DomainType::Identity,
            IommuDomainType::Dma => DomainType::Dma,
            IommuDomainType::DmaFq => DomainType::DmaFq,
        },
        pgsize_bitmap: cfg.pgsize_bitmap,
        geometry: Geometry {
            aperture_start: cfg.aperture_start,
            aperture_end: cfg.aperture_end,
            force_aperture: cfg.force_aperture,
        },
        cookie: None,
    });
    if dev.is_pci {
        dev_iommu_mut(dev).pci_32bit_workaround = !cfg.forcedac;
    }
    dev.dma_iommu = iommu_is_dma_domain(domain(dev));
    if dev.dma_iommu && iommu_dma_init_domain(dev, plat).is_err() {
        // pr_warn(), not dev_err(): no "driver name:" prefix.
        let text = format!("Failed to set up IOMMU for device {}; retaining platform DMA ops", dev.name);
        plat.report(ReportKind::DevWarning, "iommu_setup_dma_ops", &text);
        dev.dma_iommu = false;
    }
}

// ---- IOVA allocation -----------------------------------------------------------------------

/// models dma_info_to_prot() (v6.18: DMA_ATTR_MMIO starts from IOMMU_MMIO, never IOMMU_CACHE)
pub fn dma_info_to_prot(dir: DmaDir, coherent: bool, attrs: DmaAttrs) -> IommuProt {
    let mut prot = if attrs.contains(DmaAttrs::MMIO) {
        IommuProt::MMIO
    } else if coherent {
        IommuProt::CACHE
    } else {
        IommuProt(0)
    };
    if attrs.contains(DmaAttrs::PRIVILEGED) {
        prot |= IommuProt::PRIV;
    }
    match dir {
        DmaDir::BIDIRECTIONAL => prot | IommuProt::READ | IommuProt::WRITE,
        DmaDir::TO_DEVICE => prot | IommuProt::READ,
        DmaDir::FROM_DEVICE => prot | IommuProt::WRITE,
        _ => IommuProt(0),
    }
}

/// models iommu_dma_alloc_iova(): 0 on failure. `size` is granule-aligned by the callers.
fn iommu_dma_alloc_iova(dev: &mut Device, plat: &mut Platform, size: u64, dma_limit: u64) -> u64 {
    let cpu = dev.cpu;
    let shift = cookie(dev).iovad.iova_shift();
    let iova_len = size >> shift;
    let mut dma_limit = min_not_zero(dma_limit, dev.bus_dma_limit);
    let geo = domain(dev).geometry;
    if geo.force_aperture {
        dma_limit = dma_limit.min(geo.aperture_end);
    }
    // Try all the 32-bit PCI addresses first (the SAC trick), until that fails once.
    let workaround = dev.iommu.as_ref().is_some_and(|i| i.pci_32bit_workaround);
    if dma_limit > DMA_BIT_MASK_32 && workaround {
        let iova = cookie_mut(dev).iovad.alloc_iova_fast(cpu, iova_len, DMA_BIT_MASK_32 >> shift, false);
        report_iova_warnings(&mut cookie_mut(dev).iovad, plat);
        if iova != 0 {
            return iova << shift;
        }
        dev_iommu_mut(dev).pci_32bit_workaround = false;
        let msg = format!("Using {}-bit DMA addresses", bits_per(dma_limit));
        // dev_notice()
        dev.dev_report(plat, ReportKind::DevWarning, "iommu_dma_alloc_iova", &msg);
    }
    let iova = cookie_mut(dev).iovad.alloc_iova_fast(cpu, iova_len, dma_limit >> shift, true);
    report_iova_warnings(&mut cookie_mut(dev).iovad, plat);
    iova << shift
}

/// models iommu_dma_free_iova(); `gather` None is the NULL gather of the error paths.
fn iommu_dma_free_iova(dev: &mut Device, plat: &mut Platform, iova: u64, size: u64, gather: Option<&IotlbGather>) {
    let cpu = dev.cpu;
    let (pfn, pages) = {
        let iovad = &cookie(dev).iovad;
        (iovad.iova_pfn(iova), size >> iovad.iova_shift())
    };
    if gather.is_some_and(|g| g.queued) {
        queue_iova(dev, plat, pfn, pages);
    } else {
        cookie_mut(dev).iovad.free_iova_fast(cpu, pfn, pages);
        report_iova_warnings(&mut cookie_mut(dev).iovad, plat);
    }
}

/// models __iommu_dma_unmap()
fn __iommu_dma_unmap(dev: &mut Device, plat: &mut Platform, dma_addr: DmaAddr, size: u64) {
    let off = iova_off(dev, dma_addr.0);
    let addr = dma_addr.0 - off;
    let size = cookie(dev).iovad.iova_align(size.wrapping_add(off));
    let mut gather = IotlbGather::new();
    gather.queued = cookie(dev).fq_domain;
    let unmapped = iommu_unmap_fast(plat, addr, size, &mut gather);
    if unmapped != size {
        dev.warn_on(plat, "__iommu_dma_unmap", "unmapped != size");
    }
    if !gather.queued {
        iommu_iotlb_sync(plat, &mut gather);
    }
    iommu_dma_free_iova(dev, plat, addr, size, Some(&gather));
}

/// models __iommu_dma_map()
fn __iommu_dma_map(
    dev: &mut Device,
    plat: &mut Platform,
    phys: PhysAddr,
    size: u64,
    prot: IommuProt,
    dma_mask: u64,
) -> DmaAddr {
    // The deferred-attach static key is only enabled in kdump kernels.
    // If anyone ever wants this we'd need support in the IOVA allocator.
    if dma_get_min_align_mask(dev) as u64 > cookie(dev).iovad.iova_mask() {
        dev.dev_warn_once(
            plat,
            "dma-iommu.c:__iommu_dma_map:min_align",
            "__iommu_dma_map",
            "Unsupported alignment constraint",
        );
        return DMA_MAPPING_ERROR;
    }
    let off = iova_off(dev, phys.0);
    let size = cookie(dev).iovad.iova_align(size.wrapping_add(off));
    let iova = iommu_dma_alloc_iova(dev, plat, size, dma_mask);
    if iova == 0 {
        return DMA_MAPPING_ERROR;
    }
    if iommu_map(plat, iova, PhysAddr(phys.0 - off), size, prot) != 0 {
        iommu_dma_free_iova(dev, plat, iova, size, None);
        return DMA_MAPPING_ERROR;
    }
    DmaAddr(iova + off)
}

// ---- swiotlb -------------------------------------------------------------------------------

/// models dev_is_untrusted()
fn dev_is_untrusted(dev: &Device) -> bool {
    dev.is_pci && dev.untrusted
}

/// models dev_use_swiotlb() (CONFIG_SWIOTLB=y on both modelled architectures)
pub fn dev_use_swiotlb(dev: &Device, size: u64, dir: DmaDir) -> bool {
    dev_is_untrusted(dev) || dma_kmalloc_needs_bounce(dev, size, dir)
}

/// models iova_unaligned(): non-zero if the start or the size is not granule-aligned.
fn iova_unaligned(dev: &Device, phys: PhysAddr, size: u64) -> u64 {
    iova_off(dev, phys.0 | size)
}

/// models iommu_dma_map_swiotlb(): the bounce phys, or DMA_MAPPING_ERROR as a phys.
fn iommu_dma_map_swiotlb(
    dev: &mut Device,
    plat: &mut Platform,
    phys: PhysAddr,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<PhysAddr> {
    if !is_swiotlb_active(dev) {
        // dev_warn_once(): a message, no backtrace.
        dev.dev_report_once(
            plat,
            "dma-iommu.c:iommu_dma_map_swiotlb:inactive",
            ReportKind::DevWarning,
            "iommu_dma_map_swiotlb",
            "DMA bounce buffers are inactive, unable to map unaligned transaction.",
        );
        return Ok(PhysAddr(DMA_MAPPING_ERROR.0));
    }
    // trace_swiotlb_bounced(dev, phys, size): the phys goes in as the dev_addr field.
    let force = is_swiotlb_force_bounce(dev);
    plat.trace_swiotlb_bounced(DmaAddr(phys.0), size, force);
    // alloc_align_mask is an unsigned int: iova_mask() truncated.
    let mask = cookie(dev).iovad.iova_mask() as u32;
    let phys = swiotlb_tbl_map_single(dev, plat, phys, size, mask, dir, attrs)?;
    // Untrusted devices must not see leftover kernel data in the padding: zero the pre- and
    // post-padding up to the granule (the bounce buffer proper holds the original's copy).
    if phys.0 != DMA_MAPPING_ERROR.0 && dev_is_untrusted(dev) {
        let iovad = &cookie(dev).iovad;
        let virt = phys.0;
        let pre = iovad.iova_align_down(virt);
        let post = virt + size;
        let post_len = iovad.iova_align(post) - post;
        plat.cpu_memset(PhysAddr(pre), 0, virt - pre);
        plat.cpu_memset(PhysAddr(post), 0, post_len);
    }
    Ok(phys)
}

// ---- the streaming entry points ------------------------------------------------------------

/// models iommu_dma_map_phys()
pub fn iommu_dma_map_phys(
    dev: &mut Device,
    plat: &mut Platform,
    phys: PhysAddr,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<DmaAddr> {
    let coherent = dev_is_dma_coherent(dev);
    let prot = dma_info_to_prot(dir, coherent, attrs);
    let dma_mask = dma_get_mask(dev);
    let mmio = attrs.contains(DmaAttrs::MMIO);
    let mut phys = phys;
    // Both the start and the size granule-aligned: no bounce page needed.
    if dev_use_swiotlb(dev, size, dir) && iova_unaligned(dev, phys, size) != 0 {
        // MMIO cannot be bounced.
        if mmio {
            return Ok(DMA_MAPPING_ERROR);
        }
        phys = iommu_dma_map_swiotlb(dev, plat, phys, size, dir, attrs)?;
        if phys.0 == DMA_MAPPING_ERROR.0 {
            return Ok(DMA_MAPPING_ERROR);
        }
    }
    if !coherent && !attrs.contains(DmaAttrs::SKIP_CPU_SYNC) && !mmio {
        plat.arch_sync_dma_for_device(phys, size, dir);
    }
    let iova = __iommu_dma_map(dev, plat, phys, size, prot, dma_mask);
    if iova == DMA_MAPPING_ERROR && !mmio {
        swiotlb_tbl_unmap_single(dev, plat, phys, size, dir, attrs)?;
    }
    Ok(iova)
}

/// models iommu_dma_unmap_phys()
pub fn iommu_dma_unmap_phys(
    dev: &mut Device,
    plat: &mut Platform,
    dma_handle: DmaAddr,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<()> {
    if attrs.contains(DmaAttrs::MMIO) {
        __iommu_dma_unmap(dev, plat, dma_handle, size);
        return Ok(());
    }
    let phys = iommu_iova_to_phys(plat, dma_handle.0);
    if phys.0 == 0 {
        // The IOVA stays allocated (and mapped, if anything is).
        dev.warn_on(plat, "iommu_dma_unmap_phys", "!phys");
        return Ok(());
    }
    if !attrs.contains(DmaAttrs::SKIP_CPU_SYNC) && !dev_is_dma_coherent(dev) {
        plat.arch_sync_dma_for_cpu(phys, size, dir);
    }
    __iommu_dma_unmap(dev, plat, dma_handle, size);
    swiotlb_tbl_unmap_single(dev, plat, phys, size, dir, attrs)
}

/// models iommu_dma_sync_single_for_cpu()
pub fn iommu_dma_sync_single_for_cpu(
    dev: &mut Device,
    plat: &mut Platform,
    dma_handle: DmaAddr,
    size: u64,
    dir: DmaDir,
) -> KResult<()> {
    let coherent = dev_is_dma_coherent(dev);
    if coherent && !dev_use_swiotlb(dev, size, dir) {
        return Ok(());
    }
    let phys = iommu_iova_to_phys(plat, dma_handle.0);
    if !coherent {
        plat.arch_sync_dma_for_cpu(phys, size, dir);
    }
    swiotlb_sync_single_for_cpu(dev, plat, phys, size, dir)
}

/// models iommu_dma_sync_single_for_device()
pub fn iommu_dma_sync_single_for_device(
    dev: &mut Device,
    plat: &mut Platform,
    dma_handle: DmaAddr,
    size: u64,
    dir: DmaDir,
) -> KResult<()> {
    let coherent = dev_is_dma_coherent(dev);
    if coherent && !dev_use_swiotlb(dev, size, dir) {
        return Ok(());
    }
    let phys = iommu_iova_to_phys(plat, dma_handle.0);
    swiotlb_sync_single_for_device(dev, plat, phys, size, dir)?;
    if !coherent {
        plat.arch_sync_dma_for_device(phys, size, dir);
    }
    Ok(())
}

/// models iommu_dma_opt_mapping_size()
pub fn iommu_dma_opt_mapping_size() -> u64 {
    iova_rcache_range()
}

/// models iommu_dma_max_mapping_size()
pub fn iommu_dma_max_mapping_size(dev: &Device) -> u64 {
    if dev_is_untrusted(dev) {
        return swiotlb_max_mapping_size(dev);
    }
    u64::MAX
}

// ---- the harness's views and time events ---------------------------------------------------

/// The flush-queue timer firing: fq_flush_timeout() if it is armed, else nothing.
pub fn fq_timeout(dev: &mut Device, plat: &mut Platform) {
    let armed =
        dev.dma_iommu && dev.iommu_domain.as_ref().and_then(|d| d.cookie.as_ref()).is_some_and(|c| c.fq_timer_on);
    if armed {
        fq_flush_timeout(dev, plat);
    }
}

/// The IOVA depot work of the DMA domain's allocator (iova_depot_work_func()), if any.
pub fn depot_tick(dev: &mut Device, plat: &mut Platform) {
    if let Some(c) = dev.iommu_domain.as_mut().and_then(|d| d.cookie.as_mut()) {
        c.iovad.depot_work_tick();
        report_iova_warnings(&mut c.iovad, plat);
    }
}

/// The pfns waiting in the flush queues.
pub fn fq_pfns(dev: &Device) -> Vec<u64> {
    dev.iommu_domain
        .as_ref()
        .and_then(|d| d.cookie.as_ref())
        .map(|c| c.fq.iter().flat_map(|q| q.entries.iter().map(|e| e.iova_pfn)).collect())
        .unwrap_or_default()
}

/// The DMA domain's iova_domain, once set up.
pub fn iovad(dev: &Device) -> Option<&IovaDomain> {
    dev.iommu_domain.as_ref().and_then(|d| d.cookie.as_ref()).map(|c| &c.iovad)
}

#[cfg(test)]
mod tests {
    //! Exact IOVAs for a 4K-granule, 48-bit SMMU-like domain (IommuConfig::default()), with
    //! the allocator rules of dma-iommu.md §1 and the dma-iommu paths of §2 and §3.

    use super::*;
    use crate::phys::iova::Iova;
    use crate::phys::mapping;
    use crate::platform::trace::{ArchHook, Event};
    use crate::scenario::{Config, DmaParmsConfig, DmaRange, Region, SwiotlbConfig, SwiotlbMode};

    pub(super) const RAM: u64 = 0x8000_0000;
    pub(super) const MMIO: u64 = 0x4000_0000;
    pub(super) const POOL: u64 = 0x8200_0000;
    pub(super) const RW: IommuProt = IommuProt(IommuProt::READ.0 | IommuProt::WRITE.0);

    fn config(f: impl FnOnce(&mut Config, &mut IommuConfig)) -> Config {
        let mut c = Config::default();
        c.ram.push(Region { start: PhysAddr(RAM), size: 0x400_0000 });
        c.mmio.push(Region { start: PhysAddr(MMIO), size: 0x10_0000 });
        let mut i = IommuConfig::default();
        f(&mut c, &mut i);
        c.iommu = Some(i);
        c
    }

    /// Boots and drops the boot-time events.
    pub(super) fn boot(f: impl FnOnce(&mut Config, &mut IommuConfig)) -> (Device, Platform) {
        let c = config(f);
        let mut p = Platform::new(&c);
        let d = Device::new(&c, &mut p);
        p.take_events();
        (d, p)
    }

    pub(super) fn swiotlb(c: &mut Config) {
        c.swiotlb =
            Some(SwiotlbConfig { mode: SwiotlbMode::On, start: PhysAddr(POOL), nslabs: Some(1024), nareas: Some(1) });
    }

    fn pci64(c: &mut Config) {
        c.device.pci = true;
        c.device.dma_mask = Some(u64::MAX);
    }

    fn map(d: &mut Device, p: &mut Platform, phys: u64, size: u64) -> u64 {
        mapping::dma_map_phys(d, p, PhysAddr(phys), size, DmaDir::BIDIRECTIONAL, DmaAttrs(0)).unwrap().0
    }

    fn unmap(d: &mut Device, p: &mut Platform, addr: u64, size: u64) {
        mapping::dma_unmap_phys(d, p, DmaAddr(addr), size, DmaDir::BIDIRECTIONAL, DmaAttrs(0)).unwrap();
    }

    /// The events minus the dma tracepoints.
    pub(super) fn effects(p: &mut Platform) -> Vec<Event> {
        p.take_events()
            .into_iter()
            .filter(|e| !matches!(e, Event::TraceMap { .. } | Event::TraceUnmap { .. } | Event::TraceSyncSingle { .. }))
            .collect()
    }

    pub(super) fn imap(iova: u64, phys: u64, size: u64, prot: IommuProt) -> Event {
        Event::IommuMap { iova, phys: PhysAddr(phys), size, prot, ret: 0 }
    }

    pub(super) fn report(kind: ReportKind, func: &str, text: &str) -> Event {
        Event::Report { kind, func: func.into(), text: text.into() }
    }

    #[test]
    fn first_map_pci_64bit_takes_the_sac_slot_platform_device_the_top() {
        let (mut d, mut p) = boot(|c, _| pci64(c));
        assert!(d.dma_iommu);
        assert!(d.iommu.as_ref().unwrap().pci_32bit_workaround);
        assert_eq!(map(&mut d, &mut p, RAM, 0x1000), 0xFFFF_F000);
        assert_eq!(effects(&mut p), vec![imap(0xFFFF_F000, RAM, 0x1000, RW | IommuProt::CACHE)]);

        // Not PCI: straight from the top of min(mask, aperture_end).
        let (mut d, mut p) = boot(|c, _| c.device.dma_mask = Some(u64::MAX));
        assert!(!d.iommu.as_ref().unwrap().pci_32bit_workaround);
        assert_eq!(map(&mut d, &mut p, RAM, 0x1000), 0xFFFF_FFFF_F000);
        let (mut d, mut p) = boot(|c, _| c.device.dma_mask = Some((1 << 40) - 1));
        assert_eq!(map(&mut d, &mut p, RAM, 0x1000), 0xFF_FFFF_F000);
        // bus_dma_limit joins through min_not_zero().
        let (mut d, mut p) = boot(|c, _| {
            c.device.dma_mask = Some(u64::MAX);
            c.device.bus_dma_limit = (1 << 36) - 1;
        });
        assert_eq!(map(&mut d, &mut p, RAM, 0x1000), 0xF_FFFF_F000);
        // iommu.forcedac=1: no SAC trick for PCI either.
        let (mut d, mut p) = boot(|c, i| {
            pci64(c);
            i.forcedac = true;
        });
        assert_eq!(map(&mut d, &mut p, RAM, 0x1000), 0xFFFF_FFFF_F000);
    }

    #[test]
    fn sac_exhaustion_switches_to_64_bit_for_good() {
        // 256 granules of 32-bit space (start_pfn 0xFFF00): four 64-page mappings fill it.
        let (mut d, mut p) = boot(|c, i| {
            pci64(c);
            i.aperture_start = 0xFFF0_0000;
        });
        assert_eq!(iovad(&d).unwrap().start_pfn(), 0xFFF00);
        let got: Vec<u64> = (0..4).map(|k| map(&mut d, &mut p, RAM + k * 0x4_0000, 0x4_0000)).collect();
        assert_eq!(got, vec![0xFFFC_0000, 0xFFF8_0000, 0xFFF4_0000, 0xFFF0_0000]);
        p.take_events();
        assert_eq!(map(&mut d, &mut p, RAM + 0x10_0000, 0x4_0000), 0xFFFF_FFFC_0000);
        let ev = effects(&mut p);
        assert_eq!(
            ev[0],
            report(ReportKind::DevWarning, "iommu_dma_alloc_iova", "dmadiff dmadiff0: Using 48-bit DMA addresses")
        );
        assert!(!d.iommu.as_ref().unwrap().pci_32bit_workaround);
        // Freeing 32-bit space (64 pages: straight back to the tree) does not switch back.
        unmap(&mut d, &mut p, 0xFFFC_0000, 0x4_0000);
        assert_eq!(iovad(&d).unwrap().find_iova(0xFFFC0), None);
        p.take_events();
        assert_eq!(map(&mut d, &mut p, RAM, 0x4_0000), 0xFFFF_FFF8_0000);
        assert_eq!(effects(&mut p), vec![imap(0xFFFF_FFF8_0000, RAM, 0x4_0000, RW | IommuProt::CACHE)]);
    }

    #[test]
    fn prot_per_direction_coherence_privilege_and_mmio() {
        let (r, w, c, m, p) = (IommuProt::READ, IommuProt::WRITE, IommuProt::CACHE, IommuProt::MMIO, IommuProt::PRIV);
        let none = DmaAttrs(0);
        assert_eq!(dma_info_to_prot(DmaDir::BIDIRECTIONAL, true, none), c | r | w);
        assert_eq!(dma_info_to_prot(DmaDir::TO_DEVICE, true, none), c | r);
        assert_eq!(dma_info_to_prot(DmaDir::FROM_DEVICE, false, none), w);
        assert_eq!(dma_info_to_prot(DmaDir::TO_DEVICE, false, DmaAttrs::PRIVILEGED), p | r);
        assert_eq!(dma_info_to_prot(DmaDir::BIDIRECTIONAL, true, DmaAttrs::MMIO), m | r | w);
        assert_eq!(dma_info_to_prot(DmaDir::FROM_DEVICE, false, DmaAttrs::MMIO | DmaAttrs::PRIVILEGED), m | p | w);
        // DMA_NONE drops everything, CACHE and PRIV included.
        assert_eq!(dma_info_to_prot(DmaDir::NONE, true, DmaAttrs::PRIVILEGED), IommuProt(0));
    }

    #[test]
    fn mmio_maps_without_cache_and_without_arch_sync() {
        let (mut d, mut p) = boot(|c, _| c.device.coherent = false);
        let dir = DmaDir::BIDIRECTIONAL;
        let a = mapping::dma_map_resource(&mut d, &mut p, PhysAddr(MMIO), 0x1000, dir, DmaAttrs(0)).unwrap();
        assert_eq!(a, DmaAddr(0xFFFF_F000));
        assert_eq!(effects(&mut p), vec![imap(0xFFFF_F000, MMIO, 0x1000, RW | IommuProt::MMIO)]);
        // Unmap goes straight to __iommu_dma_unmap(): no iova_to_phys, no CPU sync.
        mapping::dma_unmap_resource(&mut d, &mut p, a, 0x1000, dir, DmaAttrs(0)).unwrap();
        assert_eq!(
            effects(&mut p),
            vec![
                Event::IommuUnmap { iova: 0xFFFF_F000, size: 0x1000, unmapped: 0x1000 },
                Event::IommuIotlbSync { start: 0xFFFF_F000, end: 0xFFFF_FFFF }
            ]
        );
        // The same device syncs RAM.
        map(&mut d, &mut p, RAM, 0x1000);
        let ev = effects(&mut p);
        assert!(matches!(ev[0], Event::ArchSync { hook: ArchHook::SyncForDevice, phys: PhysAddr(RAM), .. }), "{ev:?}");
        assert_eq!(ev[1], imap(0xFFFF_F000, RAM, 0x1000, RW));
        // A coherent device: IOMMU_MMIO replaces IOMMU_CACHE.
        let (mut d, mut p) = boot(|_, _| {});
        let a = mapping::dma_map_phys(&mut d, &mut p, PhysAddr(MMIO), 0x10, DmaDir::TO_DEVICE, DmaAttrs::MMIO);
        assert_eq!(a, Ok(DmaAddr(0xFFFF_F000)));
        assert_eq!(effects(&mut p), vec![imap(0xFFFF_F000, MMIO, 0x1000, IommuProt::MMIO | IommuProt::READ)]);
    }

    #[test]
    fn mmio_on_an_untrusted_device_fails_where_a_bounce_would_be_needed() {
        let (mut d, mut p) = boot(|c, _| {
            c.device.pci = true;
            c.device.untrusted = true;
            swiotlb(c);
        });
        let dir = DmaDir::TO_DEVICE;
        let a = mapping::dma_map_resource(&mut d, &mut p, PhysAddr(MMIO + 0x10), 0x10, dir, DmaAttrs(0));
        assert_eq!(a, Ok(DMA_MAPPING_ERROR));
        assert!(effects(&mut p).is_empty(), "no bounce, no IOVA, no swiotlb unmap");
        // Granule-aligned MMIO needs no bounce and maps.
        let a = mapping::dma_map_resource(&mut d, &mut p, PhysAddr(MMIO), 0x2000, dir, DmaAttrs(0));
        assert_eq!(a, Ok(DmaAddr(0xFFFF_E000)));
    }

    #[test]
    fn the_granule_offset_stays_in_the_iova() {
        let (mut d, mut p) = boot(|_, _| {});
        assert_eq!(map(&mut d, &mut p, RAM + 0x123, 0x100), 0xFFFF_F123);
        assert_eq!(effects(&mut p), vec![imap(0xFFFF_F000, RAM, 0x1000, RW | IommuProt::CACHE)]);
        // 0x200 bytes across a granule boundary: two granules, aligned to two.
        assert_eq!(map(&mut d, &mut p, RAM + 0x1F00, 0x200), 0xFFFF_CF00);
        assert_eq!(effects(&mut p), vec![imap(0xFFFF_C000, RAM + 0x1000, 0x2000, RW | IommuProt::CACHE)]);
        unmap(&mut d, &mut p, 0xFFFF_CF00, 0x200);
        assert_eq!(
            effects(&mut p),
            vec![
                Event::IommuUnmap { iova: 0xFFFF_C000, size: 0x2000, unmapped: 0x2000 },
                Event::IommuIotlbSync { start: 0xFFFF_C000, end: 0xFFFF_DFFF }
            ]
        );
    }

    #[test]
    fn untrusted_sub_granule_bounce_zeroes_the_padding() {
        let setup = |min_align: u32| {
            boot(move |c, _| {
                c.device.pci = true;
                c.device.untrusted = true;
                c.device.dma_parms = Some(DmaParmsConfig { min_align_mask: min_align, ..Default::default() });
                swiotlb(c);
            })
        };
        let orig = RAM + 0x880;
        for min_align in [0u32, 0xFFF] {
            let (mut d, mut p) = setup(min_align);
            p.cpu_write(PhysAddr(POOL), &[0xAA; 0x2000]);
            p.cpu_write(PhysAddr(orig), &[0x5A; 0x100]);
            p.take_events();
            let a = mapping::dma_map_phys(&mut d, &mut p, PhysAddr(orig), 0x100, DmaDir::FROM_DEVICE, DmaAttrs(0));
            // min_align_mask 0: the bounce slot is granule-aligned; 0xFFF keeps the low bits.
            let (bounce, iova) = if min_align == 0 { (POOL, 0xFFFF_F000) } else { (POOL + 0x880, 0xFFFF_F880) };
            assert_eq!(a, Ok(DmaAddr(iova)));
            let pre = bounce - POOL;
            assert_eq!(
                effects(&mut p),
                vec![
                    Event::TraceSwiotlbBounced {
                        dma_mask: 0xffff_ffff,
                        dev_addr: DmaAddr(orig),
                        size: 0x100,
                        force: false
                    },
                    Event::Memcpy { dst: PhysAddr(bounce), src: PhysAddr(orig), size: 0x100 },
                    Event::Memset { dst: PhysAddr(POOL), value: 0, size: pre },
                    Event::Memset { dst: PhysAddr(bounce + 0x100), value: 0, size: 0x1000 - pre - 0x100 },
                    imap(0xFFFF_F000, POOL, 0x1000, IommuProt::CACHE | IommuProt::WRITE),
                ]
            );
            // Padding zeroed, the buffer proper holds the original's copy.
            assert_eq!(p.cpu_read(PhysAddr(POOL), pre).0, vec![0; pre as usize]);
            assert_eq!(p.cpu_read(PhysAddr(bounce), 0x100).0, vec![0x5A; 0x100]);
            assert_eq!(p.cpu_read(PhysAddr(bounce + 0x100), 0xF00 - pre).0, vec![0; (0xF00 - pre) as usize]);
            assert_eq!(p.cpu_read(PhysAddr(POOL + 0x1000), 0x10).0, vec![0xAA; 0x10], "beyond the granule");
            // Unmap copies back and frees the IOVA at once (strict).
            mapping::dma_unmap_phys(&mut d, &mut p, DmaAddr(iova), 0x100, DmaDir::FROM_DEVICE, DmaAttrs(0)).unwrap();
            let ev = effects(&mut p);
            assert_eq!(ev[0], Event::IommuUnmap { iova: 0xFFFF_F000, size: 0x1000, unmapped: 0x1000 });
            assert_eq!(ev[2], Event::Memcpy { dst: PhysAddr(orig), src: PhysAddr(bounce), size: 0x100 });
        }
        // dma-iommu.md §2.7: orig_off 0x800, size 0x1000 takes one granule when bounced...
        let (mut d, mut p) = setup(0);
        assert_eq!(map(&mut d, &mut p, RAM + 0x800, 0x1000), 0xFFFF_F000);
        assert!(effects(&mut p).contains(&imap(0xFFFF_F000, POOL, 0x1000, RW | IommuProt::CACHE)));
        // ...and two (aligned to two) when not.
        let (mut d, mut p) = boot(|c, _| c.device.pci = true);
        assert_eq!(map(&mut d, &mut p, RAM + 0x800, 0x1000), 0xFFFF_E800);
        assert_eq!(effects(&mut p), vec![imap(0xFFFF_E000, RAM, 0x2000, RW | IommuProt::CACHE)]);
    }

    #[test]
    fn lazy_unmap_reuses_the_iova_only_after_the_timer() {
        let (mut d, mut p) = boot(|c, i| {
            c.nr_cpus = 2;
            i.domain = IommuDomainType::DmaFq;
        });
        let c = domain(&d).cookie.as_ref().unwrap();
        assert_eq!(domain(&d).kind, DomainType::DmaFq);
        assert!(c.fq_domain);
        assert_eq!(c.fq.len(), 2, "one queue per CPU");
        assert_eq!(c.options, IommuDmaOptions { qt: QueueType::PerCpu, fq_size: 256, fq_timeout: 10 });
        fq_timeout(&mut d, &mut p);
        assert!(p.take_events().is_empty(), "the timer is not armed yet");

        assert_eq!(map(&mut d, &mut p, RAM, 0x1000), 0xFFFF_F000);
        p.take_events();
        unmap(&mut d, &mut p, 0xFFFF_F000, 0x1000);
        // Queued: no IOTLB sync at unmap time.
        assert_eq!(effects(&mut p), vec![Event::IommuUnmap { iova: 0xFFFF_F000, size: 0x1000, unmapped: 0x1000 }]);
        let c = cookie(&d);
        assert!(c.fq_timer_on);
        assert_eq!(c.fq[0].entries, VecDeque::from([FqEntry { iova_pfn: 0xFFFFF, pages: 1, counter: 0 }]));
        assert_eq!(map(&mut d, &mut p, RAM, 0x1000), 0xFFFF_E000, "not reused before the flush");
        p.take_events();
        fq_timeout(&mut d, &mut p);
        assert_eq!(p.take_events(), vec![Event::IommuFlushAll]);
        let c = cookie(&d);
        assert!(!c.fq_timer_on);
        assert!(c.fq[0].entries.is_empty());
        assert_eq!((c.fq_flush_start_cnt, c.fq_flush_finish_cnt), (1, 1));
        assert_eq!(map(&mut d, &mut p, RAM, 0x1000), 0xFFFF_F000, "reused through the rcache");
    }

    #[test]
    fn a_full_queue_flushes_at_the_256th_free() {
        let (mut d, mut p) = boot(|_, i| i.domain = IommuDomainType::DmaFq);
        let iovas: Vec<u64> = (0..256).map(|_| map(&mut d, &mut p, RAM, 0x1000)).collect();
        assert_eq!(iovas[255], 0xFFF0_0000);
        p.take_events();
        for (k, &a) in iovas.iter().enumerate() {
            unmap(&mut d, &mut p, a, 0x1000);
            let flushes = effects(&mut p).iter().filter(|e| **e == Event::IommuFlushAll).count();
            assert_eq!(flushes, usize::from(k == 255), "free {k}");
        }
        assert_eq!(cookie(&d).fq[0].entries.len(), 1);
        // The 255 drained frees went to the rcache in FIFO order; it hands them out LIFO:
        // the 255th, then `prev` (the 127th) after the swap.
        assert_eq!(map(&mut d, &mut p, RAM, 0x1000), iovas[254]);
        assert_eq!(map(&mut d, &mut p, RAM, 0x1000), iovas[126]);
    }

    #[test]
    fn fq_falls_back_to_strict_without_deferred_flush() {
        let (mut d, mut p) = boot(|_, i| {
            i.domain = IommuDomainType::DmaFq;
            i.deferred_flush = false;
        });
        assert_eq!(domain(&d).kind, DomainType::Dma);
        assert!(!cookie(&d).fq_domain);
        assert!(cookie(&d).fq.is_empty());
        assert_eq!(map(&mut d, &mut p, RAM, 0x1000), 0xFFFF_F000);
        p.take_events();
        unmap(&mut d, &mut p, 0xFFFF_F000, 0x1000);
        assert_eq!(
            effects(&mut p),
            vec![
                Event::IommuUnmap { iova: 0xFFFF_F000, size: 0x1000, unmapped: 0x1000 },
                Event::IommuIotlbSync { start: 0xFFFF_F000, end: 0xFFFF_FFFF }
            ]
        );
        assert_eq!(map(&mut d, &mut p, RAM, 0x1000), 0xFFFF_F000, "strict: reused at once");
        // shadow_on_flush: one large queue with a long timeout.
        let (d, _) = boot(|_, i| {
            i.domain = IommuDomainType::DmaFq;
            i.shadow_on_flush = true;
        });
        let c = cookie(&d);
        assert_eq!(c.options, IommuDmaOptions { qt: QueueType::Single, fq_size: 32768, fq_timeout: 1000 });
        assert_eq!(c.fq.len(), 1);
        assert_eq!(c.fq[0].mod_mask, 32767);
    }

    #[test]
    fn reserved_regions_and_pci_windows_are_never_handed_out() {
        let resv = vec![
            ResvRegion { start: 0x1000_0000, length: 0x1800, kind: ResvType::Direct },
            ResvRegion { start: 0x0800_0000, length: 0x10_0000, kind: ResvType::SwMsi },
            ResvRegion { start: 0xFEE0_0000, length: 0x10_0000, kind: ResvType::Msi },
        ];
        let r = resv.clone();
        let (mut d, mut p) = boot(move |c, i| {
            c.device.dma_mask = Some(0xFEEF_FFFF);
            i.resv = r;
        });
        let nodes = iovad(&d).unwrap().nodes();
        // SW_MSI is skipped; the rest cover their whole granules.
        assert_eq!(nodes, vec![Iova { pfn_lo: 0x10000, pfn_hi: 0x10001 }, Iova { pfn_lo: 0xFEE00, pfn_hi: 0xFEEFF }]);
        assert_eq!(map(&mut d, &mut p, RAM, 0x1000), 0xFEDF_F000, "just below the MSI window");

        // A PCI device first reserves its host bridge's windows (bus address = start - offset).
        let windows = vec![
            PciWindow { start: 0xC000_0000, end: 0xFEBF_FFFF, offset: 0 },
            PciWindow { start: 0x40_0000_0000, end: 0x40_0FFF_FFFF, offset: 0x3F_F000_0000 },
        ];
        let w = windows.clone();
        let (d, _) = boot(move |c, i| {
            c.device.pci = true;
            i.resv = resv;
            i.pci_windows = w;
        });
        assert_eq!(
            iovad(&d).unwrap().nodes(),
            vec![
                Iova { pfn_lo: 0x10000, pfn_hi: 0x1FFFF },
                Iova { pfn_lo: 0xC0000, pfn_hi: 0xFEBFF },
                Iova { pfn_lo: 0xFEE00, pfn_hi: 0xFEEFF }
            ]
        );
        // A platform device ignores them.
        let (d, _) = boot(move |_, i| i.pci_windows = windows);
        assert!(iovad(&d).unwrap().nodes().is_empty());
    }

    #[test]
    fn dma_range_outside_the_aperture_keeps_the_device_on_dma_direct() {
        let c = config(|c, _| {
            c.device.dma_mask = Some(u64::MAX);
            c.dma_ranges.push(DmaRange { cpu_start: PhysAddr(RAM), dma_start: 1 << 48, size: 0x400_0000 });
        });
        let mut p = Platform::new(&c);
        let mut d = Device::new(&c, &mut p);
        assert_eq!(
            p.take_events(),
            vec![
                report(ReportKind::DevWarning, "iommu_dma_init_domain", "specified DMA range outside IOMMU capability"),
                report(
                    ReportKind::DevWarning,
                    "iommu_setup_dma_ops",
                    "Failed to set up IOMMU for device dmadiff0; retaining platform DMA ops"
                ),
            ]
        );
        assert!(!d.dma_iommu);
        assert!(iovad(&d).is_none());
        // dma-direct translates through the dma_range_map.
        assert_eq!(map(&mut d, &mut p, RAM + 0x1000, 0x100), (1 << 48) + 0x1000);
        // A range overlapping the aperture is fine.
        let c = config(|c, _| c.dma_ranges.push(DmaRange { cpu_start: PhysAddr(RAM), dma_start: 0, size: 0x1000 }));
        let mut p = Platform::new(&c);
        assert!(Device::new(&c, &mut p).dma_iommu);
    }

    #[test]
    fn identity_domain_stays_on_dma_direct() {
        let (mut d, mut p) = boot(|c, i| {
            c.device.pci = true;
            i.domain = IommuDomainType::Identity;
        });
        assert!(!d.dma_iommu);
        assert_eq!(domain(&d).kind, DomainType::Identity);
        assert!(d.iommu.as_ref().unwrap().pci_32bit_workaround, "set for every PCI device");
        assert_eq!(map(&mut d, &mut p, RAM + 0x10, 0x100), RAM + 0x10);
        assert!(effects(&mut p).is_empty());
    }

    #[test]
    fn min_align_mask_above_the_granule_warns_once_and_fails() {
        let (mut d, mut p) = boot(|c, _| {
            c.device.dma_parms = Some(DmaParmsConfig { min_align_mask: 0x1FFF, ..Default::default() });
        });
        assert_eq!(map(&mut d, &mut p, RAM, 0x1000), DMA_MAPPING_ERROR.0);
        assert_eq!(
            effects(&mut p),
            vec![report(ReportKind::DevWarn, "__iommu_dma_map", "dmadiff dmadiff0: Unsupported alignment constraint")]
        );
        assert_eq!(map(&mut d, &mut p, RAM, 0x1000), DMA_MAPPING_ERROR.0);
        assert!(effects(&mut p).is_empty());
    }

    #[test]
    fn unmapping_an_unmapped_iova_warns() {
        let (mut d, mut p) = boot(|_, _| {});
        unmap(&mut d, &mut p, 0x1234_5000, 0x1000);
        assert_eq!(effects(&mut p), vec![report(ReportKind::WarnOnAlways, "iommu_dma_unmap_phys", "!phys")]);
        // MMIO skips the translation and trips the size check instead.
        mapping::dma_unmap_resource(&mut d, &mut p, DmaAddr(0x1234_5000), 0x1000, DmaDir::TO_DEVICE, DmaAttrs(0))
            .unwrap();
        assert_eq!(
            effects(&mut p),
            vec![
                Event::IommuUnmap { iova: 0x1234_5000, size: 0x1000, unmapped: 0 },
                report(ReportKind::WarnOnAlways, "__iommu_dma_unmap", "unmapped != size"),
                Event::IommuIotlbSync { start: u64::MAX, end: 0 },
            ]
        );
    }

    #[test]
    fn syncs_translate_through_the_iommu() {
        let (mut d, mut p) = boot(|c, _| c.device.coherent = false);
        assert!(!d.dma_skip_sync);
        assert_eq!(map(&mut d, &mut p, RAM + 0x40, 0x80), 0xFFFF_F040);
        p.take_events();
        mapping::dma_sync_single_for_cpu(&mut d, &mut p, DmaAddr(0xFFFF_F050), 0x20, DmaDir::FROM_DEVICE).unwrap();
        mapping::dma_sync_single_for_device(&mut d, &mut p, DmaAddr(0xFFFF_F050), 0x20, DmaDir::TO_DEVICE).unwrap();
        let ev: Vec<_> = effects(&mut p)
            .into_iter()
            .map(|e| match e {
                Event::ArchSync { hook, phys, size, .. } => (hook, phys.0, size),
                e => panic!("{e:?}"),
            })
            .collect();
        assert_eq!(ev, vec![(ArchHook::SyncForCpu, RAM + 0x50, 0x20), (ArchHook::SyncForDevice, RAM + 0x50, 0x20)]);
        // A coherent trusted device skips syncs altogether (dma_setup_need_sync()).
        let (mut d, mut p) = boot(|_, _| {});
        assert!(d.dma_skip_sync);
        mapping::dma_sync_single_for_cpu(&mut d, &mut p, DmaAddr(0xFFFF_F000), 0x20, DmaDir::FROM_DEVICE).unwrap();
        assert!(p.take_events().is_empty());
    }

    #[test]
    fn max_and_opt_mapping_sizes() {
        let (d, _) = boot(|_, _| {});
        assert_eq!(mapping::dma_max_mapping_size(&d), u64::MAX);
        assert_eq!(mapping::dma_opt_mapping_size(&d), 0x2_0000);
        let (d, _) = boot(|c, _| {
            c.device.pci = true;
            c.device.untrusted = true;
            swiotlb(c);
        });
        assert_eq!(mapping::dma_max_mapping_size(&d), 0x4_0000);
        assert_eq!(mapping::dma_opt_mapping_size(&d), 0x2_0000);
        let (d, _) = boot(|_, i| i.domain = IommuDomainType::Identity);
        assert_eq!(mapping::dma_opt_mapping_size(&d), u64::MAX);
    }

    #[test]
    fn map_phys_traces_the_iova() {
        let (mut d, mut p) = boot(|_, _| {});
        map(&mut d, &mut p, RAM + 0x10, 0x20);
        let ev = p.take_events();
        assert!(matches!(
            ev.last(),
            Some(Event::TraceMap { event, phys: PhysAddr(0x8000_0010), dma: DmaAddr(0xFFFF_F010), .. })
                if event == "dma_map_phys"
        ));
    }
}

// ---- scatterlists -----------------------------------------------------------------------

/// EIO
const EIO: i32 = 5;
/// EPERM
const EPERM: i32 = 1;
/// EINVAL
const EINVAL: i32 = 22;
/// EREMOTEIO
const EREMOTEIO: i32 = 121;
/// ENOMEM
const ENOMEM: i32 = 12;
/// SZ_64K: dma_get_max_seg_size() without a max_segment_size.
const SZ_64K: u32 = 0x1_0000;

/// models dma_get_max_seg_size()
fn dma_get_max_seg_size(dev: &Device) -> u32 {
    match dev.dma_parms {
        Some(p) if p.max_segment_size != 0 => p.max_segment_size,
        _ => SZ_64K,
    }
}

/// models dev_use_sg_swiotlb() (CONFIG_SWIOTLB=y)
fn dev_use_sg_swiotlb(dev: &Device, sg: &[Scatterlist], nents: usize, dir: DmaDir) -> bool {
    if dev_is_untrusted(dev) {
        return true;
    }
    // kmalloc() buffers unsafe for this device and direction: any badly sized entry bounces.
    if !dma_kmalloc_safe(dev, dir) {
        return sg[..nents].iter().any(|s| !dma_kmalloc_size_aligned(dev, s.length as u64));
    }
    false
}

/// models iommu_dma_sync_sg_for_cpu()
pub fn iommu_dma_sync_sg_for_cpu(
    dev: &mut Device,
    plat: &mut Platform,
    sgl: &mut [Scatterlist],
    nelems: u32,
    dir: DmaDir,
) -> KResult<()> {
    let n = dev.sg_entries(plat, sgl.len(), nelems, "iommu_dma_sync_sg_for_cpu")?;
    if n == 0 {
        return Ok(());
    }
    // The head's SWIOTLB mark: every entry was mapped on its own (iommu_dma_map_sg_swiotlb()).
    if sgl[0].is_swiotlb() {
        for s in sgl[..n].iter() {
            iommu_dma_sync_single_for_cpu(dev, plat, s.dma_address, s.length as u64, dir)?;
        }
    } else if !dev_is_dma_coherent(dev) {
        for s in sgl[..n].iter() {
            plat.arch_sync_dma_for_cpu(s.phys(), s.length as u64, dir);
        }
    }
    Ok(())
}

/// models iommu_dma_sync_sg_for_device()
pub fn iommu_dma_sync_sg_for_device(
    dev: &mut Device,
    plat: &mut Platform,
    sgl: &mut [Scatterlist],
    nelems: u32,
    dir: DmaDir,
) -> KResult<()> {
    let n = dev.sg_entries(plat, sgl.len(), nelems, "iommu_dma_sync_sg_for_device")?;
    if n == 0 {
        return Ok(());
    }
    if sgl[0].is_swiotlb() {
        for s in sgl[..n].iter() {
            iommu_dma_sync_single_for_device(dev, plat, s.dma_address, s.length as u64, dir)?;
        }
    } else if !dev_is_dma_coherent(dev) {
        for s in sgl[..n].iter() {
            plat.arch_sync_dma_for_device(s.phys(), s.length as u64, dir);
        }
    }
    Ok(())
}

/// models __finalise_sg(): the count of DMA segments. Lengths are `unsigned int` and wrap.
fn __finalise_sg(dev: &Device, sg: &mut [Scatterlist], nents: usize, dma_addr: u64) -> i32 {
    let seg_mask = dma_get_seg_boundary(dev);
    let max_len = dma_get_max_seg_size(dev);
    let mut dma_addr = dma_addr;
    let mut cur = 0usize;
    let mut cur_len: u32 = 0;
    let mut count = 0i32;
    for i in 0..nents {
        // The layout pass stashed the granule offset and the original length.
        let s_dma_addr = sg[i].dma_address.0;
        let s_iova_off = s_dma_addr as u32;
        let s_length = sg[i].dma_length;
        let s_iova_len = sg[i].length;
        sg[i].dma_address = DMA_MAPPING_ERROR;
        sg[i].dma_length = 0;
        if sg[i].is_bus_address() {
            if i > 0 {
                cur += 1;
            }
            // The mark moves from the input entry to the output one.
            sg[i].unmark_bus_address();
            sg[cur].dma_address = DmaAddr(s_dma_addr);
            sg[cur].dma_length = s_length;
            sg[cur].mark_bus_address();
            count += 1;
            cur_len = 0;
            continue;
        }
        sg[i].offset = sg[i].offset.wrapping_add(s_iova_off);
        sg[i].length = s_length;
        // Join an open segment from a granule start, off a boundary, within max_len (u32: may wrap).
        if cur_len != 0 && s_iova_off == 0 && (dma_addr & seg_mask) != 0 && max_len.wrapping_sub(cur_len) >= s_length {
            cur_len = cur_len.wrapping_add(s_length);
        } else {
            if i > 0 {
                cur += 1;
            }
            cur_len = s_length;
            count += 1;
            sg[cur].dma_address = DmaAddr(dma_addr.wrapping_add(s_iova_off as u64));
        }
        sg[cur].dma_length = cur_len;
        dma_addr = dma_addr.wrapping_add(s_iova_len as u64);
        // A hole after this chunk (alignment or padding): the next one cannot join it.
        if s_length.wrapping_add(s_iova_off) < s_iova_len {
            cur_len = 0;
        }
    }
    count
}

/// models __invalidate_sg(): undo the layout pass's stash and clear the DMA fields.
fn __invalidate_sg(sg: &mut [Scatterlist], nents: usize) {
    for s in sg[..nents].iter_mut() {
        if s.is_bus_address() {
            s.unmark_bus_address();
        } else {
            // An entry the layout pass never reached "restores" whatever stale address it had.
            if s.dma_address != DMA_MAPPING_ERROR {
                s.offset = s.offset.wrapping_add(s.dma_address.0 as u32);
            }
            if s.dma_length != 0 {
                s.length = s.dma_length;
            }
        }
        s.dma_address = DMA_MAPPING_ERROR;
        s.dma_length = 0;
    }
}

/// models iommu_dma_unmap_sg_swiotlb()
fn iommu_dma_unmap_sg_swiotlb(
    dev: &mut Device,
    plat: &mut Platform,
    sg: &[Scatterlist],
    nents: usize,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<()> {
    for s in sg[..nents].iter() {
        iommu_dma_unmap_phys(dev, plat, s.dma_address, s.dma_length as u64, dir, attrs)?;
    }
    Ok(())
}

/// models iommu_dma_map_sg_swiotlb(): every entry mapped on its own, no merging.
fn iommu_dma_map_sg_swiotlb(
    dev: &mut Device,
    plat: &mut Platform,
    sg: &mut [Scatterlist],
    nents: usize,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<i32> {
    // The mark on the head tells unmap and sync to go entry by entry; a failure leaves it.
    if let Some(head) = sg.first_mut() {
        head.mark_swiotlb();
    }
    for i in 0..nents {
        // v6.18 passes sg_phys(s) ("iommu/dma: rename iommu_dma_*map_page to iommu_dma_*map_phys").
        let addr = iommu_dma_map_phys(dev, plat, sg[i].phys(), sg[i].length as u64, dir, attrs)?;
        sg[i].dma_address = addr;
        if addr == DMA_MAPPING_ERROR {
            iommu_dma_unmap_sg_swiotlb(dev, plat, sg, i, dir, attrs | DmaAttrs::SKIP_CPU_SYNC)?;
            return Ok(-EIO);
        }
        sg[i].dma_length = sg[i].length;
    }
    Ok(nents as i32)
}

/// models iommu_dma_map_sg(): the count of DMA segments, or a negative errno.
pub fn iommu_dma_map_sg(
    dev: &mut Device,
    plat: &mut Platform,
    sgl: &mut [Scatterlist],
    nents: u32,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<i32> {
    let n = dev.sg_entries(plat, sgl.len(), nents, "iommu_dma_map_sg")?;
    // v6.18 MMIO: IOMMU_MMIO ("iommu/dma: implement DMA_ATTR_MMIO for dma_iova_link()"); v6.16: IOMMU_CACHE.
    let prot = dma_info_to_prot(dir, dev_is_dma_coherent(dev), attrs);
    let mask = dma_get_seg_boundary(dev);
    // The deferred-attach static key is only enabled in kdump kernels.
    if dev_use_sg_swiotlb(dev, sgl, n, dir) {
        return iommu_dma_map_sg_swiotlb(dev, plat, sgl, n, dir, attrs);
    }
    // Before the layout pass: the sync sees the caller's offsets and lengths.
    if !attrs.contains(DmaAttrs::SKIP_CPU_SYNC) {
        iommu_dma_sync_sg_for_device(dev, plat, sgl, nents, dir)?;
    }

    // Layout pass: granule-align in place (offset, length stashed in the DMA fields), pad at boundaries.
    let mut iova_len: u64 = 0;
    let mut prev: Option<usize> = None;
    let mut p2pdma_state = PciP2pdmaMapState::default();
    let mut failed: Option<i32> = None;
    for i in 0..n {
        let s_iova_off = iova_off(dev, sgl[i].offset as u64);
        let mut s_length = sgl[i].length as u64;
        let pad_len = mask.wrapping_sub(iova_len).wrapping_add(1) & mask;
        match pci_p2pdma_state(&mut p2pdma_state, plat, sgl[i].page) {
            // Through the host bridge P2PDMA is mapped like memory (and without IOMMU_MMIO).
            PciP2pdmaMapType::None | PciP2pdmaMapType::ThruHostBridge => {}
            PciP2pdmaMapType::BusAddr => {
                sgl[i].dma_address = pci_p2pdma_bus_addr_map(&p2pdma_state, sgl[i].phys());
                // The head's (maybe aligned) length: "PCI/P2PDMA: Refactor the p2pdma mapping helpers", kept in v6.18.
                sgl[i].dma_length = sgl[0].length;
                sgl[i].mark_bus_address();
                continue;
            }
            PciP2pdmaMapType::NotSupported => {
                failed = Some(-EREMOTEIO);
                break;
            }
        }
        sgl[i].dma_address = DmaAddr(s_iova_off);
        sgl[i].dma_length = s_length as u32;
        sgl[i].offset = sgl[i].offset.wrapping_sub(s_iova_off as u32);
        s_length = cookie(dev).iovad.iova_align(s_length + s_iova_off);
        // s->length is an unsigned int: a 4 GiB aligned length truncates to 0 here.
        sgl[i].length = s_length as u32;
        // This entry would cross the next boundary: stretch the previous one up to it.
        if pad_len != 0 && pad_len < s_length.wrapping_sub(1) {
            // A mask that is not 2^n - 1 pads before any entry was laid out: NULL prev.
            let Some(p) = prev else {
                return Err(dev.bug(plat, "iommu_dma_map_sg", "NULL pointer dereference: prev->length"));
            };
            sgl[p].length = sgl[p].length.wrapping_add(pad_len as u32);
            iova_len = iova_len.wrapping_add(pad_len);
        }
        iova_len = iova_len.wrapping_add(s_length);
        prev = Some(i);
    }

    let ret: i64 = match failed {
        Some(e) => e as i64,
        None => {
            // Only bus addresses: nothing to allocate.
            if iova_len == 0 {
                return Ok(__finalise_sg(dev, sgl, n, 0));
            }
            // One allocation for the whole list; its natural alignment makes the layout valid.
            let dma_mask = dma_get_mask(dev);
            let iova = iommu_dma_alloc_iova(dev, plat, iova_len, dma_mask);
            if iova == 0 {
                -ENOMEM as i64
            } else {
                let ret = iommu_map_sg(plat, iova, sgl, nents, prot);
                // "iommu/dma: Fix iova map result check bug" (v5.19): a negative ssize_t fails too.
                if ret >= 0 && (ret as u64) >= iova_len {
                    return Ok(__finalise_sg(dev, sgl, n, iova));
                }
                // A short or failed map frees the IOVA at once (NULL gather).
                iommu_dma_free_iova(dev, plat, iova, iova_len, None);
                ret
            }
        }
    };
    __invalidate_sg(sgl, n);
    if ret != -ENOMEM as i64 && ret != -EREMOTEIO as i64 {
        return Ok(-EINVAL);
    }
    Ok(ret as i32)
}

/// models iommu_dma_unmap_sg()
pub fn iommu_dma_unmap_sg(
    dev: &mut Device,
    plat: &mut Platform,
    sgl: &mut [Scatterlist],
    nents: u32,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<()> {
    let n = dev.sg_entries(plat, sgl.len(), nents, "iommu_dma_unmap_sg")?;
    if n == 0 {
        return Ok(());
    }
    if sgl[0].is_swiotlb() {
        return iommu_dma_unmap_sg_swiotlb(dev, plat, sgl, n, dir, attrs);
    }
    if !attrs.contains(DmaAttrs::SKIP_CPU_SYNC) {
        iommu_dma_sync_sg_for_cpu(dev, plat, sgl, nents, dir)?;
    }
    // One allocation: from the first non-bus segment to the last before a zero length; bus marks drop.
    let mut start = 0u64;
    let mut first = n;
    for (i, s) in sgl[..n].iter_mut().enumerate() {
        if s.is_bus_address() {
            s.unmark_bus_address();
            continue;
        }
        first = i;
        if s.dma_length != 0 {
            start = s.dma_address.0;
        }
        break;
    }
    let mut end = 0u64;
    for s in sgl[first..n].iter_mut() {
        if s.is_bus_address() {
            s.unmark_bus_address();
            continue;
        }
        if s.dma_length == 0 {
            break;
        }
        end = s.dma_address.0.wrapping_add(s.dma_length as u64);
    }
    if end != 0 {
        __iommu_dma_unmap(dev, plat, DmaAddr(start), end.wrapping_sub(start));
    }
    Ok(())
}

// ---- the two-step IOVA API (v6.16, DMA_ATTR_MMIO from v6.18) ------------------------------

/// The oops of dereferencing a missing iova_cookie (no IOMMU, identity domain, failed domain init).
fn iova_cookie_or_oops(dev: &Device, plat: &mut Platform, func: &str) -> KResult<()> {
    if dev.iommu_domain.as_ref().is_some_and(|d| d.cookie.is_some()) {
        Ok(())
    } else {
        Err(dev.bug(plat, func, "NULL pointer dereference: domain->iova_cookie"))
    }
}

/// models dma_iova_try_alloc()
pub fn dma_iova_try_alloc(
    dev: &mut Device,
    plat: &mut Platform,
    state: &mut DmaIovaState,
    phys: PhysAddr,
    size: u64,
) -> KResult<bool> {
    *state = DmaIovaState::default();
    if !use_dma_iommu(dev) {
        return Ok(false);
    }
    let off = iova_off(dev, phys.0);
    // The deferred-attach static key is only enabled in kdump kernels.
    if size == 0 {
        dev.warn_on_once(plat, "dma-iommu.c:dma_iova_try_alloc:size", "dma_iova_try_alloc", "!size");
        return Ok(false);
    }
    // The caller must not set the flag dma-iommu keeps in bit 63 (nor map SIZE_MAX).
    if size & DMA_IOVA_USE_SWIOTLB != 0 {
        dev.warn_on_once(
            plat,
            "dma-iommu.c:dma_iova_try_alloc:swiotlb",
            "dma_iova_try_alloc",
            "(u64)size & DMA_IOVA_USE_SWIOTLB",
        );
        return Ok(false);
    }
    let len = cookie(dev).iovad.iova_align(size.wrapping_add(off));
    let dma_mask = dma_get_mask(dev);
    let addr = iommu_dma_alloc_iova(dev, plat, len, dma_mask);
    if addr == 0 {
        return Ok(false);
    }
    // phys only supplies the offset within the granule.
    state.addr = DmaAddr(addr + off);
    state.size = size;
    Ok(true)
}

/// models dma_iova_free(): the whole allocation, immediately (NULL gather, never the FQ).
pub fn dma_iova_free(dev: &mut Device, plat: &mut Platform, state: &mut DmaIovaState) -> KResult<()> {
    iova_cookie_or_oops(dev, plat, "dma_iova_free")?;
    let pad = iova_off(dev, state.addr.0);
    let size = cookie(dev).iovad.iova_align(state.iova_size().wrapping_add(pad));
    iommu_dma_free_iova(dev, plat, state.addr.0.wrapping_sub(pad), size, None);
    Ok(())
}

/// models __dma_iova_link(): 0 or a negative errno; no IOTLB sync.
fn __dma_iova_link(
    dev: &mut Device,
    plat: &mut Platform,
    addr: u64,
    phys: PhysAddr,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> i32 {
    let coherent = dev_is_dma_coherent(dev);
    let prot = dma_info_to_prot(dir, coherent, attrs);
    // v6.18 skips the CPU sync for MMIO ("iommu/dma: implement DMA_ATTR_MMIO for dma_iova_link()").
    if !coherent && !attrs.contains(DmaAttrs::SKIP_CPU_SYNC) && !attrs.contains(DmaAttrs::MMIO) {
        plat.arch_sync_dma_for_device(phys, size, dir);
    }
    iommu_map_nosync(plat, addr, phys, size, prot)
}

/// models iommu_dma_iova_bounce_and_link(): bounce `bounce_len` bytes and link one granule.
#[allow(clippy::too_many_arguments)]
fn iommu_dma_iova_bounce_and_link(
    dev: &mut Device,
    plat: &mut Platform,
    addr: u64,
    phys: PhysAddr,
    bounce_len: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
    iova_start_pad: u64,
) -> KResult<i32> {
    let bounce_phys = iommu_dma_map_swiotlb(dev, plat, phys, bounce_len, dir, attrs)?;
    if bounce_phys.0 == DMA_MAPPING_ERROR.0 {
        return Ok(-ENOMEM);
    }
    // Pad bytes below the slot: granule-aligned only if min_align_mask kept the low bits, else -EINVAL.
    let len = cookie(dev).iovad.iova_align(bounce_len);
    let error = __dma_iova_link(
        dev,
        plat,
        addr.wrapping_sub(iova_start_pad),
        PhysAddr(bounce_phys.0.wrapping_sub(iova_start_pad)),
        len,
        dir,
        attrs,
    );
    if error != 0 {
        swiotlb_tbl_unmap_single(dev, plat, bounce_phys, bounce_len, dir, attrs)?;
    }
    Ok(error)
}

/// models iommu_dma_iova_link_swiotlb(): bounce the unaligned head and tail, link the middle in place.
#[allow(clippy::too_many_arguments)]
fn iommu_dma_iova_link_swiotlb(
    dev: &mut Device,
    plat: &mut Platform,
    state: &mut DmaIovaState,
    phys: PhysAddr,
    offset: u64,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<i32> {
    let granule = cookie(dev).iovad.granule();
    let iova_start_pad = iova_off(dev, phys.0);
    let iova_end_pad = iova_off(dev, phys.0.wrapping_add(size));
    let addr = state.addr.0.wrapping_add(offset);
    let mut size = size;
    let mut mapped = 0u64;
    if iova_start_pad != 0 {
        let bounce_len = size.min(granule - iova_start_pad);
        let error = iommu_dma_iova_bounce_and_link(dev, plat, addr, phys, bounce_len, dir, attrs, iova_start_pad)?;
        if error != 0 {
            return Ok(error);
        }
        state.size |= DMA_IOVA_USE_SWIOTLB;
        mapped += bounce_len;
        size -= bounce_len;
        if size == 0 {
            return Ok(0);
        }
    }
    // The middle is linked even when empty (a size-0 iommu_map_nosync()).
    size = size.wrapping_sub(iova_end_pad);
    let mut error = __dma_iova_link(dev, plat, addr.wrapping_add(mapped), phys.wrapping_add(mapped), size, dir, attrs);
    if error == 0 {
        mapped = mapped.wrapping_add(size);
        if iova_end_pad != 0 {
            error = iommu_dma_iova_bounce_and_link(
                dev,
                plat,
                addr.wrapping_add(mapped),
                phys.wrapping_add(mapped),
                iova_end_pad,
                dir,
                attrs,
                0,
            )?;
            if error == 0 {
                state.size |= DMA_IOVA_USE_SWIOTLB;
            }
        }
        if error == 0 {
            return Ok(0);
        }
    }
    // The unwind unlinks from offset 0 of the state, whatever offset this link had.
    dma_iova_unlink(dev, plat, state, 0, mapped, dir, attrs)?;
    Ok(error)
}

/// models dma_iova_link(): 0 or a negative errno; the caller syncs with dma_iova_sync().
#[allow(clippy::too_many_arguments)]
pub fn dma_iova_link(
    dev: &mut Device,
    plat: &mut Platform,
    state: &mut DmaIovaState,
    phys: PhysAddr,
    offset: u64,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<i32> {
    iova_cookie_or_oops(dev, plat, "dma_iova_link")?;
    let iova_start_pad = iova_off(dev, phys.0);
    // Only a link at offset 0 may start inside a granule.
    if iova_start_pad != 0 && offset > 0 {
        dev.warn_on_once(plat, "dma-iommu.c:dma_iova_link:pad", "dma_iova_link", "iova_start_pad && offset > 0");
        return Ok(-EIO);
    }
    if dev_use_swiotlb(dev, size, dir) && iova_unaligned(dev, phys, size) != 0 {
        // MMIO cannot be bounced: "iommu/dma: implement DMA_ATTR_MMIO for dma_iova_link()" (v6.18).
        if attrs.contains(DmaAttrs::MMIO) {
            return Ok(-EPERM);
        }
        return iommu_dma_iova_link_swiotlb(dev, plat, state, phys, offset, size, dir, attrs);
    }
    let len = cookie(dev).iovad.iova_align(size.wrapping_add(iova_start_pad));
    let addr = state.addr.0.wrapping_add(offset).wrapping_sub(iova_start_pad);
    Ok(__dma_iova_link(dev, plat, addr, PhysAddr(phys.0.wrapping_sub(iova_start_pad)), len, dir, attrs))
}

/// models dma_iova_sync(): iommu_sync_map() over the granules of the range.
pub fn dma_iova_sync(
    dev: &mut Device,
    plat: &mut Platform,
    state: &mut DmaIovaState,
    offset: u64,
    size: u64,
) -> KResult<i32> {
    iova_cookie_or_oops(dev, plat, "dma_iova_sync")?;
    let addr = state.addr.0.wrapping_add(offset);
    let pad = iova_off(dev, addr);
    let len = cookie(dev).iovad.iova_align(size.wrapping_add(pad));
    Ok(iommu_sync_map(plat, addr - pad, len))
}

/// models iommu_dma_iova_unlink_range_slow(): granule by granule, CPU sync and swiotlb release.
fn iommu_dma_iova_unlink_range_slow(
    dev: &mut Device,
    plat: &mut Platform,
    addr: u64,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<()> {
    let granule = cookie(dev).iovad.granule();
    let mut iova_start_pad = iova_off(dev, addr);
    let end = addr.wrapping_add(size);
    let mut addr = addr;
    // A do-while: even a size-0 unlink translates the first address once.
    loop {
        let phys = iommu_iova_to_phys(plat, addr);
        if phys.0 == 0 {
            // Something very horrible happened: the rest of the walk is abandoned.
            dev.warn_on(plat, "iommu_dma_iova_unlink_range_slow", "!phys");
            return Ok(());
        }
        let len = end.wrapping_sub(addr).min(granule - iova_start_pad);
        // v6.18.0 skips MMIO: 1a96f3a22fd8 "iommu/dma: add missing support for DMA_ATTR_MMIO for dma_iova_unlink()".
        if !dev_is_dma_coherent(dev) && !attrs.contains(DmaAttrs::SKIP_CPU_SYNC) && !attrs.contains(DmaAttrs::MMIO) {
            plat.arch_sync_dma_for_cpu(phys, len, dir);
        }
        swiotlb_tbl_unmap_single(dev, plat, phys, len, dir, attrs)?;
        addr = addr.wrapping_add(len);
        iova_start_pad = 0;
        if addr >= end {
            break;
        }
    }
    Ok(())
}

/// models __iommu_dma_iova_unlink(): synced at once, or queued with the IOVA (destroy, DMA_FQ).
#[allow(clippy::too_many_arguments)]
fn __iommu_dma_iova_unlink(
    dev: &mut Device,
    plat: &mut Platform,
    state: &mut DmaIovaState,
    offset: u64,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
    free_iova: bool,
) -> KResult<()> {
    iova_cookie_or_oops(dev, plat, if free_iova { "dma_iova_destroy" } else { "dma_iova_unlink" })?;
    let addr = state.addr.0.wrapping_add(offset);
    let iova_start_pad = iova_off(dev, addr);
    // MMIO exemption: 1a96f3a22fd8, in torvalds/master 2025-11-28 (dma-mapping-6.18-2025-11-27), before v6.18.
    let cpu_sync =
        !dev_is_dma_coherent(dev) && !attrs.contains(DmaAttrs::SKIP_CPU_SYNC) && !attrs.contains(DmaAttrs::MMIO);
    if state.size & DMA_IOVA_USE_SWIOTLB != 0 || cpu_sync {
        iommu_dma_iova_unlink_range_slow(dev, plat, addr, size, dir, attrs)?;
    }
    let mut gather = IotlbGather::new();
    gather.queued = free_iova && cookie(dev).fq_domain;
    let size = cookie(dev).iovad.iova_align(size.wrapping_add(iova_start_pad));
    let addr = addr - iova_start_pad;
    let unmapped = iommu_unmap_fast(plat, addr, size, &mut gather);
    if unmapped != size {
        dev.warn_on(plat, "__iommu_dma_iova_unlink", "unmapped != size");
    }
    if !gather.queued {
        iommu_iotlb_sync(plat, &mut gather);
    }
    if free_iova {
        iommu_dma_free_iova(dev, plat, addr, size, Some(&gather));
    }
    Ok(())
}

/// models dma_iova_unlink(): the IOVA stays allocated.
pub fn dma_iova_unlink(
    dev: &mut Device,
    plat: &mut Platform,
    state: &mut DmaIovaState,
    offset: u64,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<()> {
    __iommu_dma_iova_unlink(dev, plat, state, offset, size, dir, attrs, false)
}

/// models dma_iova_destroy(): unlink `mapped_len` from offset 0 and free what that covers.
pub fn dma_iova_destroy(
    dev: &mut Device,
    plat: &mut Platform,
    state: &mut DmaIovaState,
    mapped_len: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<()> {
    if mapped_len != 0 {
        __iommu_dma_iova_unlink(dev, plat, state, 0, mapped_len, dir, attrs, true)
    } else {
        // Nothing linked (the first dma_iova_link() failed): just give the space back.
        dma_iova_free(dev, plat, state)
    }
}

#[cfg(test)]
mod sg_tests {
    //! The sg path and the two-step API against dma-iommu.md §2.10-§2.12 (worked examples
    //! included) and the v6.18 MMIO rules of §3, on the 4K-granule domain of `tests`.

    use super::tests::{boot, effects, imap, report, swiotlb, MMIO, POOL, RAM, RW};
    use super::*;
    use crate::phys::iova::Iova;
    use crate::phys::Bug;
    use crate::platform::trace::{ArchHook, Event};
    use crate::scatterlist::is_unused;
    use crate::scenario::{DmaParmsConfig, P2pProvider, P2pdmaMapType};

    const BIDI: DmaDir = DmaDir::BIDIRECTIONAL;
    const NONE: DmaAttrs = DmaAttrs(0);
    const P2P: u64 = 0x6000_0000;
    const CRW: IommuProt = IommuProt(RW.0 | IommuProt::CACHE.0);

    fn sg(phys: u64, offset: u32, length: u32) -> Scatterlist {
        Scatterlist::new(PhysAddr(phys), offset, length)
    }

    /// (dma_address, sg_dma_len, bus mark) of every entry.
    fn dma(l: &[Scatterlist]) -> Vec<(u64, u32, bool)> {
        l.iter().map(|s| (s.dma_address.0, s.dma_length, s.is_bus_address())).collect()
    }

    /// (offset, length) of every entry: what the caller handed in.
    fn cpu(l: &[Scatterlist]) -> Vec<(u32, u32)> {
        l.iter().map(|s| (s.offset, s.length)).collect()
    }

    fn map_sg(d: &mut Device, p: &mut Platform, l: &mut [Scatterlist], attrs: DmaAttrs) -> i32 {
        let n = l.len() as u32;
        iommu_dma_map_sg(d, p, l, n, BIDI, attrs).unwrap()
    }

    fn unmap_sg(d: &mut Device, p: &mut Platform, l: &mut [Scatterlist], attrs: DmaAttrs) {
        let n = l.len() as u32;
        iommu_dma_unmap_sg(d, p, l, n, BIDI, attrs).unwrap()
    }

    fn unmap_ev(iova: u64, size: u64) -> Vec<Event> {
        vec![
            Event::IommuUnmap { iova, size, unmapped: size },
            Event::IommuIotlbSync { start: iova, end: iova + size - 1 },
        ]
    }

    const ERR: u64 = DMA_MAPPING_ERROR.0;

    fn p2p(route: P2pdmaMapType) -> impl FnOnce(&mut crate::scenario::Config, &mut IommuConfig) {
        move |c, _| {
            c.device.pci = true;
            c.p2p.push(P2pProvider { start: PhysAddr(P2P), size: 0x10_0000, bus_start: 0xA000_0000, route });
        }
    }

    #[test]
    fn worked_example_unaligned_head_does_not_merge() {
        let (mut d, mut p) = boot(|_, _| {});
        let mut l = [sg(RAM, 0x200, 0x600), sg(RAM + 0x1000, 0, 0x1000)];
        assert_eq!(map_sg(&mut d, &mut p, &mut l, NONE), 2);
        // iova_len 0x2000: two granules, aligned to two; physically contiguous: one map call.
        assert_eq!(effects(&mut p), vec![imap(0xFFFF_E000, RAM, 0x2000, CRW)]);
        assert_eq!(dma(&l), vec![(0xFFFF_E200, 0x600, false), (0xFFFF_F000, 0x1000, false)]);
        assert_eq!(cpu(&l), vec![(0x200, 0x600), (0, 0x1000)], "the caller's fields come back");
        unmap_sg(&mut d, &mut p, &mut l, NONE);
        assert_eq!(effects(&mut p), unmap_ev(0xFFFF_E000, 0x2000));
    }

    #[test]
    fn worked_example_two_full_pages_merge() {
        let (mut d, mut p) = boot(|_, _| {});
        let mut l = [sg(RAM, 0, 0x1000), sg(RAM + 0x1000, 0, 0x1000)];
        assert_eq!(map_sg(&mut d, &mut p, &mut l, NONE), 1);
        assert_eq!(effects(&mut p), vec![imap(0xFFFF_E000, RAM, 0x2000, CRW)]);
        assert_eq!(dma(&l), vec![(0xFFFF_E000, 0x2000, false), (ERR, 0, false)]);
        assert!(is_unused(&l[1]));
        unmap_sg(&mut d, &mut p, &mut l, NONE);
        assert_eq!(effects(&mut p), unmap_ev(0xFFFF_E000, 0x2000));
    }

    #[test]
    fn worked_example_boundary_padding_and_unmap_frees_the_allocation() {
        let (mut d, mut p) =
            boot(|c, _| c.device.dma_parms = Some(DmaParmsConfig { seg_boundary_mask: 0xFFFF, ..Default::default() }));
        let mut l = [sg(RAM, 0, 0x6000), sg(RAM + 0x10000, 0, 0x6000), sg(RAM + 0x20000, 0, 0x6000)];
        assert_eq!(map_sg(&mut d, &mut p, &mut l, NONE), 2);
        // Segment 2 is padded to 0xA000 so 3 starts on the 64K boundary: iova_len 0x16000,
        // 22 granules allocated as 32 (128K aligned).
        assert_eq!(
            effects(&mut p),
            vec![
                imap(0xFFFE_0000, RAM, 0x6000, CRW),
                imap(0xFFFE_6000, RAM + 0x10000, 0xA000, CRW),
                imap(0xFFFF_0000, RAM + 0x20000, 0x6000, CRW),
            ]
        );
        assert_eq!(dma(&l), vec![(0xFFFE_0000, 0xC000, false), (0xFFFF_0000, 0x6000, false), (ERR, 0, false)]);
        assert_eq!(cpu(&l), vec![(0, 0x6000); 3]);
        assert_eq!(iovad(&d).unwrap().find_iova(0xFFFE0), Some(Iova { pfn_lo: 0xFFFE0, pfn_hi: 0xFFFFF }));
        // start..end covers exactly iova_len: 22 granules go back to the order-5 rcache...
        unmap_sg(&mut d, &mut p, &mut l, NONE);
        assert_eq!(effects(&mut p), unmap_ev(0xFFFE_0000, 0x16000));
        assert_eq!(iovad(&d).unwrap().rcache_loaded(5, 0), &[0xFFFE0]);
        // ...and the same list gets the same IOVA back.
        assert_eq!(map_sg(&mut d, &mut p, &mut l, NONE), 2);
        assert_eq!(l[0].dma_address, DmaAddr(0xFFFE_0000));
    }

    #[test]
    fn max_segment_size_limits_merges_and_an_oversized_entry_wraps_past_it() {
        let parms = |max| {
            move |c: &mut crate::scenario::Config, _: &mut IommuConfig| {
                c.device.dma_parms = Some(DmaParmsConfig { max_segment_size: max, ..Default::default() })
            }
        };
        let (mut d, mut p) = boot(parms(0x1800));
        let mut l = [sg(RAM, 0, 0x1000), sg(RAM + 0x1000, 0, 0x1000)];
        assert_eq!(map_sg(&mut d, &mut p, &mut l, NONE), 2);
        assert_eq!(dma(&l), vec![(0xFFFF_E000, 0x1000, false), (0xFFFF_F000, 0x1000, false)]);
        // max_len - cur_len in unsigned int: 0x1000 - 0x2000 wraps, so the next entry joins.
        let (mut d, mut p) = boot(parms(0x1000));
        let mut l = [sg(RAM, 0, 0x2000), sg(RAM + 0x2000, 0, 0x1000)];
        assert_eq!(map_sg(&mut d, &mut p, &mut l, NONE), 1);
        assert_eq!(dma(&l), vec![(0xFFFF_C000, 0x3000, false), (ERR, 0, false)]);
    }

    #[test]
    fn bus_address_in_the_middle_takes_no_iova_and_gets_the_head_length() {
        let (mut d, mut p) = boot(p2p(P2pdmaMapType::BusAddr));
        let mut l = [sg(RAM, 0x100, 0x200), sg(P2P, 0x10, 0x300), sg(RAM + 0x1000, 0, 0x1000)];
        assert_eq!(map_sg(&mut d, &mut p, &mut l, NONE), 3);
        // The bus entry breaks the physical run even though RAM and RAM + 0x1000 touch.
        assert_eq!(
            effects(&mut p),
            vec![imap(0xFFFF_E000, RAM, 0x1000, CRW), imap(0xFFFF_F000, RAM + 0x1000, 0x1000, CRW)]
        );
        // sg_dma_len of the bus entry is the head's aligned length (0x1000), not 0x300.
        assert_eq!(
            dma(&l),
            vec![(0xFFFF_E100, 0x200, false), (0xA000_0010, 0x1000, true), (0xFFFF_F000, 0x1000, false)]
        );
        assert_eq!(cpu(&l), vec![(0x100, 0x200), (0x10, 0x300), (0, 0x1000)]);
        unmap_sg(&mut d, &mut p, &mut l, NONE);
        assert_eq!(effects(&mut p), unmap_ev(0xFFFF_E000, 0x2000));
        assert!(!l[1].is_bus_address(), "unmap drops the mark");

        // Only bus addresses: no allocation, __finalise_sg() from 0.
        let mut l = [sg(P2P, 0, 0x800), sg(P2P + 0x1000, 0, 0x400)];
        assert_eq!(map_sg(&mut d, &mut p, &mut l, NONE), 2);
        assert!(effects(&mut p).is_empty());
        assert_eq!(dma(&l), vec![(0xA000_0000, 0x800, true), (0xA000_1000, 0x800, true)]);
    }

    #[test]
    fn unsupported_p2p_is_eremoteio_with_the_entries_restored() {
        let (mut d, mut p) = boot(p2p(P2pdmaMapType::NotSupported));
        let mut l = [sg(RAM, 0x80, 0x100), sg(P2P, 0, 0x1000), sg(RAM + 0x2000, 0x40, 0x10)];
        // A re-used table: a stale address on an entry the layout pass never reached.
        l[2].dma_address = DmaAddr(0x5);
        assert_eq!(map_sg(&mut d, &mut p, &mut l, NONE), -EREMOTEIO);
        assert!(effects(&mut p).is_empty());
        assert_eq!(dma(&l), vec![(ERR, 0, false); 3]);
        // __invalidate_sg() adds the stale address to the offset.
        assert_eq!(cpu(&l), vec![(0x80, 0x100), (0, 0x1000), (0x45, 0x10)]);
    }

    #[test]
    fn iova_exhaustion_is_enomem_with_offsets_and_lengths_restored() {
        // 16 granules of IOVA space below 4G.
        let (mut d, mut p) = boot(|_, i| i.aperture_start = 0xFFFF_0000);
        let mut l = [sg(RAM, 0x123, 0x1_F000), sg(RAM + 0x40000, 0x800, 0x100)];
        assert_eq!(map_sg(&mut d, &mut p, &mut l, NONE), -ENOMEM);
        assert!(effects(&mut p).is_empty());
        assert_eq!(cpu(&l), vec![(0x123, 0x1_F000), (0x800, 0x100)]);
        assert_eq!(dma(&l), vec![(ERR, 0, false); 2]);
    }

    #[test]
    fn a_failed_iommu_map_is_einval_and_frees_the_iova_at_once() {
        // The page table ends below the 32-bit IOVAs the allocator hands out.
        let (mut d, mut p) = boot(|_, i| {
            i.force_aperture = false;
            i.aperture_end = 0x7FFF_FFFF;
        });
        let mut l = [sg(RAM, 0, 0x1000), sg(RAM + 0x4000, 0, 0x1000)];
        assert_eq!(map_sg(&mut d, &mut p, &mut l, NONE), -EINVAL);
        assert_eq!(
            effects(&mut p),
            vec![
                Event::IommuMap { iova: 0xFFFF_E000, phys: PhysAddr(RAM), size: 0x1000, prot: CRW, ret: -34 },
                Event::IommuUnmap { iova: 0xFFFF_E000, size: 0, unmapped: 0 },
                Event::IommuIotlbSync { start: u64::MAX, end: 0 },
            ]
        );
        assert_eq!(cpu(&l), vec![(0, 0x1000); 2]);
        assert_eq!(iovad(&d).unwrap().rcache_loaded(1, 0), &[0xFFFFE], "freed at once, not queued");
    }

    #[test]
    fn untrusted_maps_entry_by_entry_with_the_swiotlb_head_mark() {
        let (mut d, mut p) = boot(|c, _| {
            c.device.pci = true;
            c.device.untrusted = true;
            swiotlb(c);
        });
        let mut l = [sg(RAM, 0x80, 0x100), sg(RAM + 0x2000, 0, 0x1000)];
        let n = iommu_dma_map_sg(&mut d, &mut p, &mut l, 2, DmaDir::TO_DEVICE, NONE).unwrap();
        assert_eq!(n, 2);
        assert!(l[0].is_swiotlb() && !l[1].is_swiotlb());
        let rd = IommuProt::CACHE | IommuProt::READ;
        assert_eq!(
            effects(&mut p),
            vec![
                Event::TraceSwiotlbBounced {
                    dma_mask: 0xffff_ffff,
                    dev_addr: DmaAddr(RAM + 0x80),
                    size: 0x100,
                    force: false
                },
                Event::Memcpy { dst: PhysAddr(POOL), src: PhysAddr(RAM + 0x80), size: 0x100 },
                Event::Memset { dst: PhysAddr(POOL), value: 0, size: 0 },
                Event::Memset { dst: PhysAddr(POOL + 0x100), value: 0, size: 0xF00 },
                imap(0xFFFF_F000, POOL, 0x1000, rd),
                // Granule-aligned: not bounced, even for an untrusted device.
                imap(0xFFFF_E000, RAM + 0x2000, 0x1000, rd),
            ]
        );
        assert_eq!(dma(&l), vec![(0xFFFF_F000, 0x100, false), (0xFFFF_E000, 0x1000, false)]);
        assert_eq!(cpu(&l), vec![(0x80, 0x100), (0, 0x1000)], "no layout pass");
        iommu_dma_unmap_sg(&mut d, &mut p, &mut l, 2, DmaDir::TO_DEVICE, NONE).unwrap();
        let ev = effects(&mut p);
        let unmaps: Vec<_> = ev.iter().filter(|e| matches!(e, Event::IommuUnmap { .. })).cloned().collect();
        assert_eq!(
            unmaps,
            vec![
                Event::IommuUnmap { iova: 0xFFFF_F000, size: 0x1000, unmapped: 0x1000 },
                Event::IommuUnmap { iova: 0xFFFF_E000, size: 0x1000, unmapped: 0x1000 },
            ]
        );
        assert_eq!(d.swiotlb.as_ref().unwrap().defpool.areas[0].used, 0, "the bounce slot went back");
    }

    #[test]
    fn sync_sg_of_a_swiotlb_list_goes_entry_by_entry_through_the_bounce() {
        let (mut d, mut p) = boot(|c, _| {
            c.device.pci = true;
            c.device.untrusted = true;
            swiotlb(c);
        });
        let mut l = [sg(RAM, 0x80, 0x100), sg(RAM + 0x2000, 0, 0x1000)];
        assert_eq!(map_sg(&mut d, &mut p, &mut l, NONE), 2);
        p.take_events();
        // sync_single_for_cpu(sg_dma_address, sg->length): only the bounced entry copies back.
        iommu_dma_sync_sg_for_cpu(&mut d, &mut p, &mut l, 2, BIDI).unwrap();
        assert_eq!(
            effects(&mut p),
            vec![Event::Memcpy { dst: PhysAddr(RAM + 0x80), src: PhysAddr(POOL), size: 0x100 }]
        );
        iommu_dma_sync_sg_for_device(&mut d, &mut p, &mut l, 2, BIDI).unwrap();
        assert_eq!(
            effects(&mut p),
            vec![Event::Memcpy { dst: PhysAddr(POOL), src: PhysAddr(RAM + 0x80), size: 0x100 }]
        );
    }

    #[test]
    fn a_failed_swiotlb_entry_unmaps_the_others_and_is_eio() {
        // Untrusted without a pool: the unaligned entry cannot be bounced.
        let (mut d, mut p) = boot(|c, _| {
            c.device.pci = true;
            c.device.untrusted = true;
        });
        let mut l = [sg(RAM + 0x2000, 0, 0x1000), sg(RAM, 0x80, 0x100), sg(RAM + 0x4000, 0, 0x1000)];
        assert_eq!(map_sg(&mut d, &mut p, &mut l, NONE), -EIO);
        assert_eq!(
            effects(&mut p),
            vec![
                imap(0xFFFF_F000, RAM + 0x2000, 0x1000, CRW),
                report(
                    ReportKind::DevWarning,
                    "iommu_dma_map_swiotlb",
                    "dmadiff dmadiff0: DMA bounce buffers are inactive, unable to map unaligned transaction."
                ),
                Event::IommuUnmap { iova: 0xFFFF_F000, size: 0x1000, unmapped: 0x1000 },
                Event::IommuIotlbSync { start: 0xFFFF_F000, end: 0xFFFF_FFFF },
            ]
        );
        assert!(l[0].is_swiotlb(), "the mark stays");
        assert_eq!(dma(&l), vec![(0xFFFF_F000, 0x1000, false), (ERR, 0, false), (0, 0, false)]);
    }

    #[test]
    fn non_coherent_syncs_every_entry_on_the_cpu_side_addresses() {
        let (mut d, mut p) = boot(|c, _| c.device.coherent = false);
        let mut l = [sg(RAM, 0x200, 0x600), sg(RAM + 0x3000, 0, 0x1000)];
        assert_eq!(map_sg(&mut d, &mut p, &mut l, NONE), 2);
        let arch = |p: &mut Platform| -> Vec<(ArchHook, u64, u64)> {
            p.take_events()
                .into_iter()
                .filter_map(|e| match e {
                    Event::ArchSync { hook, phys, size, .. } => Some((hook, phys.0, size)),
                    _ => None,
                })
                .collect()
        };
        // Before the layout pass: the caller's phys and length, not the granules.
        assert_eq!(
            arch(&mut p),
            vec![(ArchHook::SyncForDevice, RAM + 0x200, 0x600), (ArchHook::SyncForDevice, RAM + 0x3000, 0x1000)]
        );
        iommu_dma_sync_sg_for_cpu(&mut d, &mut p, &mut l, 2, BIDI).unwrap();
        assert_eq!(
            arch(&mut p),
            vec![(ArchHook::SyncForCpu, RAM + 0x200, 0x600), (ArchHook::SyncForCpu, RAM + 0x3000, 0x1000)]
        );
        iommu_dma_sync_sg_for_device(&mut d, &mut p, &mut l, 2, BIDI).unwrap();
        assert_eq!(
            arch(&mut p),
            vec![(ArchHook::SyncForDevice, RAM + 0x200, 0x600), (ArchHook::SyncForDevice, RAM + 0x3000, 0x1000)]
        );
        unmap_sg(&mut d, &mut p, &mut l, NONE);
        assert_eq!(
            arch(&mut p),
            vec![(ArchHook::SyncForCpu, RAM + 0x200, 0x600), (ArchHook::SyncForCpu, RAM + 0x3000, 0x1000)]
        );
        // SKIP_CPU_SYNC: none at all.
        assert_eq!(map_sg(&mut d, &mut p, &mut l, DmaAttrs::SKIP_CPU_SYNC), 2);
        assert!(arch(&mut p).is_empty());
        // A coherent device syncs nothing.
        let (mut d, mut p) = boot(|_, _| {});
        iommu_dma_sync_sg_for_device(&mut d, &mut p, &mut l, 2, BIDI).unwrap();
        assert!(p.take_events().is_empty());
    }

    #[test]
    fn mmio_sg_maps_with_iommu_mmio() {
        let (mut d, mut p) = boot(|_, _| {});
        let mut l = [sg(MMIO, 0, 0x1000), sg(MMIO + 0x1000, 0, 0x800)];
        assert_eq!(map_sg(&mut d, &mut p, &mut l, DmaAttrs::MMIO), 1);
        assert_eq!(effects(&mut p), vec![imap(0xFFFF_E000, MMIO, 0x2000, RW | IommuProt::MMIO)]);
        assert_eq!(dma(&l), vec![(0xFFFF_E000, 0x1800, false), (ERR, 0, false)]);
    }

    // ---- the two-step API ----

    fn try_alloc(d: &mut Device, p: &mut Platform, phys: u64, size: u64) -> (bool, DmaIovaState) {
        let mut st = DmaIovaState { addr: DmaAddr(0xdead), size: 7 };
        let ok = dma_iova_try_alloc(d, p, &mut st, PhysAddr(phys), size).unwrap();
        (ok, st)
    }

    #[allow(clippy::too_many_arguments)]
    fn link(
        d: &mut Device,
        p: &mut Platform,
        st: &mut DmaIovaState,
        phys: u64,
        off: u64,
        size: u64,
        dir: DmaDir,
        a: DmaAttrs,
    ) -> i32 {
        dma_iova_link(d, p, st, PhysAddr(phys), off, size, dir, a).unwrap()
    }

    #[test]
    fn try_alloc_takes_the_offset_from_phys_and_refuses_bad_sizes() {
        let (mut d, mut p) = boot(|_, _| {});
        let (ok, st) = try_alloc(&mut d, &mut p, RAM + 0x200, 0x1000);
        assert!(ok);
        // iova_align(0x1200): two granules.
        assert_eq!(st, DmaIovaState { addr: DmaAddr(0xFFFF_E200), size: 0x1000 });
        assert!(st.use_iova());
        assert!(effects(&mut p).is_empty(), "nothing is mapped yet");
        assert_eq!(try_alloc(&mut d, &mut p, RAM, 0), (false, DmaIovaState::default()));
        assert_eq!(try_alloc(&mut d, &mut p, RAM, 0), (false, DmaIovaState::default()));
        assert!(!try_alloc(&mut d, &mut p, RAM, 1 << 63).0);
        assert_eq!(
            effects(&mut p),
            vec![
                Event::Report { kind: ReportKind::WarnOn, func: "dma_iova_try_alloc".into(), text: "!size".into() },
                Event::Report {
                    kind: ReportKind::WarnOn,
                    func: "dma_iova_try_alloc".into(),
                    text: "(u64)size & DMA_IOVA_USE_SWIOTLB".into()
                },
            ]
        );
        // No DMA domain: false and a zeroed state.
        let (mut d, mut p) = boot(|_, i| i.domain = IommuDomainType::Identity);
        assert_eq!(try_alloc(&mut d, &mut p, RAM, 0x1000), (false, DmaIovaState::default()));
        // ...and the other calls oops on the missing cookie.
        let mut st = DmaIovaState::default();
        assert_eq!(dma_iova_free(&mut d, &mut p, &mut st), Err(Bug));
    }

    #[test]
    fn link_sync_unlink_free() {
        let (mut d, mut p) = boot(|_, _| {});
        let (_, mut st) = try_alloc(&mut d, &mut p, RAM + 0x200, 0x1000);
        // Unaligned phys at offset 0: the whole granule range is linked, without an IOTLB sync.
        assert_eq!(link(&mut d, &mut p, &mut st, RAM + 0x200, 0, 0x1000, BIDI, NONE), 0);
        assert_eq!(effects(&mut p), vec![imap(0xFFFF_E000, RAM, 0x2000, CRW)]);
        // Unaligned phys at offset > 0: WARN once, -EIO both times, nothing linked.
        assert_eq!(link(&mut d, &mut p, &mut st, RAM + 0x3010, 0x1000, 0x10, BIDI, NONE), -EIO);
        assert_eq!(link(&mut d, &mut p, &mut st, RAM + 0x3010, 0x1000, 0x10, BIDI, NONE), -EIO);
        assert_eq!(
            effects(&mut p),
            vec![Event::Report {
                kind: ReportKind::WarnOn,
                func: "dma_iova_link".into(),
                text: "iova_start_pad && offset > 0".into()
            }]
        );
        // The mock domain has no iotlb_sync_map: dma_iova_sync() is a successful no-op.
        assert_eq!(dma_iova_sync(&mut d, &mut p, &mut st, 0, 0x1000), Ok(0));
        assert!(effects(&mut p).is_empty());
        // Unlink: unmapped and synced at once; the IOVA stays allocated.
        dma_iova_unlink(&mut d, &mut p, &mut st, 0, 0x1000, BIDI, NONE).unwrap();
        assert_eq!(effects(&mut p), unmap_ev(0xFFFF_E000, 0x2000));
        assert_eq!(iovad(&d).unwrap().find_iova(0xFFFFE), Some(Iova { pfn_lo: 0xFFFFE, pfn_hi: 0xFFFFF }));
        assert!(iovad(&d).unwrap().rcache_loaded(1, 0).is_empty());
        // Free: both granules, immediately, into the order-1 rcache.
        dma_iova_free(&mut d, &mut p, &mut st).unwrap();
        assert!(effects(&mut p).is_empty());
        assert_eq!(iovad(&d).unwrap().rcache_loaded(1, 0), &[0xFFFFE]);
        assert_eq!(try_alloc(&mut d, &mut p, RAM + 0x200, 0x1000).1.addr, DmaAddr(0xFFFF_E200));
    }

    #[test]
    fn destroy_goes_through_the_flush_queue_in_a_dma_fq_domain() {
        let (mut d, mut p) = boot(|_, i| i.domain = IommuDomainType::DmaFq);
        let (_, mut st) = try_alloc(&mut d, &mut p, RAM, 0x2000);
        assert_eq!(st.addr, DmaAddr(0xFFFF_E000));
        assert_eq!(link(&mut d, &mut p, &mut st, RAM, 0, 0x2000, BIDI, NONE), 0);
        p.take_events();
        dma_iova_destroy(&mut d, &mut p, &mut st, 0x2000, BIDI, NONE).unwrap();
        // Queued: no IOTLB sync, the IOVA waits for the flush.
        assert_eq!(effects(&mut p), vec![Event::IommuUnmap { iova: 0xFFFF_E000, size: 0x2000, unmapped: 0x2000 }]);
        assert_eq!(fq_pfns(&d), vec![0xFFFFE]);
        assert_eq!(cookie(&d).fq[0].entries[0].pages, 2);
        assert_eq!(try_alloc(&mut d, &mut p, RAM, 0x2000).1.addr, DmaAddr(0xFFFF_C000));
        fq_timeout(&mut d, &mut p);
        assert_eq!(try_alloc(&mut d, &mut p, RAM, 0x2000).1.addr, DmaAddr(0xFFFF_E000));
        // A plain unlink never queues, even here.
        let (_, mut st) = try_alloc(&mut d, &mut p, RAM, 0x1000);
        link(&mut d, &mut p, &mut st, RAM, 0, 0x1000, BIDI, NONE);
        p.take_events();
        dma_iova_unlink(&mut d, &mut p, &mut st, 0, 0x1000, BIDI, NONE).unwrap();
        assert_eq!(effects(&mut p), unmap_ev(st.addr.0, 0x1000));
        // destroy with mapped_len 0 is dma_iova_free(): immediate, whatever the domain.
        dma_iova_destroy(&mut d, &mut p, &mut st, 0, BIDI, NONE).unwrap();
        assert!(effects(&mut p).is_empty());
        assert_eq!(fq_pfns(&d), Vec::<u64>::new());
    }

    #[test]
    fn non_coherent_link_cleans_the_granules_and_unlink_walks_them() {
        let (mut d, mut p) = boot(|c, _| c.device.coherent = false);
        let (_, mut st) = try_alloc(&mut d, &mut p, RAM + 0x200, 0x1800);
        assert_eq!(link(&mut d, &mut p, &mut st, RAM + 0x200, 0, 0x1800, BIDI, NONE), 0);
        let ev = effects(&mut p);
        assert!(matches!(
            ev[0],
            Event::ArchSync { hook: ArchHook::SyncForDevice, phys: PhysAddr(RAM), size: 0x2000, .. }
        ));
        assert_eq!(ev[1], imap(0xFFFF_E000, RAM, 0x2000, RW));
        dma_iova_unlink(&mut d, &mut p, &mut st, 0, 0x1800, BIDI, NONE).unwrap();
        let ev: Vec<_> = effects(&mut p)
            .into_iter()
            .map(|e| match e {
                Event::ArchSync { hook, phys, size, .. } => format!("{hook:?} {:#x}+{size:#x}", phys.0),
                e => format!("{e:?}"),
            })
            .collect();
        // The first chunk is shortened by the start pad.
        assert_eq!(ev[0], format!("SyncForCpu {:#x}+0xe00", RAM + 0x200));
        assert_eq!(ev[1], format!("SyncForCpu {:#x}+0xa00", RAM + 0x1000));
        assert_eq!(ev.len(), 4);
    }

    #[test]
    fn mmio_links_with_iommu_mmio_and_unlinks_without_cpu_sync() {
        let (mut d, mut p) = boot(|c, _| c.device.coherent = false);
        let (_, mut st) = try_alloc(&mut d, &mut p, MMIO, 0x1000);
        assert_eq!(link(&mut d, &mut p, &mut st, MMIO, 0, 0x1000, BIDI, DmaAttrs::MMIO), 0);
        // No arch_sync_dma_for_device() and no IOMMU_CACHE.
        assert_eq!(effects(&mut p), vec![imap(0xFFFF_F000, MMIO, 0x1000, RW | IommuProt::MMIO)]);
        // v6.18.0 (1a96f3a22fd8): no slow walk, so no translation and no arch_sync_dma_for_cpu().
        dma_iova_unlink(&mut d, &mut p, &mut st, 0, 0x1000, BIDI, DmaAttrs::MMIO).unwrap();
        assert_eq!(effects(&mut p), unmap_ev(0xFFFF_F000, 0x1000));
        // A coherent device: IOMMU_MMIO replaces IOMMU_CACHE.
        let (mut d, mut p) = boot(|_, _| {});
        let (_, mut st) = try_alloc(&mut d, &mut p, MMIO, 0x1000);
        assert_eq!(link(&mut d, &mut p, &mut st, MMIO, 0, 0x1000, DmaDir::TO_DEVICE, DmaAttrs::MMIO), 0);
        assert_eq!(effects(&mut p), vec![imap(0xFFFF_F000, MMIO, 0x1000, IommuProt::READ | IommuProt::MMIO)]);
        // Where a bounce would be needed, MMIO is refused with -EPERM before anything happens.
        let (mut d, mut p) = boot(|c, _| {
            c.device.pci = true;
            c.device.untrusted = true;
            swiotlb(c);
        });
        let (_, mut st) = try_alloc(&mut d, &mut p, MMIO + 0x10, 0x10);
        assert_eq!(link(&mut d, &mut p, &mut st, MMIO + 0x10, 0, 0x10, DmaDir::TO_DEVICE, DmaAttrs::MMIO), -EPERM);
        assert!(effects(&mut p).is_empty());
        // Granule-aligned MMIO needs no bounce and links.
        let (_, mut st) = try_alloc(&mut d, &mut p, MMIO, 0x1000);
        assert_eq!(link(&mut d, &mut p, &mut st, MMIO, 0, 0x1000, DmaDir::TO_DEVICE, DmaAttrs::MMIO), 0);
    }

    fn untrusted(min_align: u32) -> (Device, Platform) {
        boot(move |c, _| {
            c.device.pci = true;
            c.device.untrusted = true;
            c.device.dma_parms = Some(DmaParmsConfig { min_align_mask: min_align, ..Default::default() });
            swiotlb(c);
        })
    }

    #[test]
    fn untrusted_link_bounces_head_and_tail_and_links_the_middle() {
        let (mut d, mut p) = untrusted(0xFFF);
        let (_, mut st) = try_alloc(&mut d, &mut p, RAM + 0x880, 0x2000);
        // iova_align(0x2880): 3 granules, allocated as 4.
        assert_eq!(st.addr, DmaAddr(0xFFFF_C880));
        assert_eq!(link(&mut d, &mut p, &mut st, RAM + 0x880, 0, 0x2000, DmaDir::TO_DEVICE, NONE), 0);
        assert_eq!(st.size, 0x2000 | DMA_IOVA_USE_SWIOTLB);
        assert_eq!(st.iova_size(), 0x2000);
        let rd = IommuProt::CACHE | IommuProt::READ;
        let maps: Vec<_> = effects(&mut p).into_iter().filter(|e| matches!(e, Event::IommuMap { .. })).collect();
        assert_eq!(
            maps,
            vec![
                // Head: 0x780 bytes bounced, min_align_mask kept the 0x880 offset.
                imap(0xFFFF_C000, POOL, 0x1000, rd),
                // Middle: linked in place.
                imap(0xFFFF_D000, RAM + 0x1000, 0x1000, rd),
                // Tail: 0x880 bytes bounced into the next granule of the pool.
                imap(0xFFFF_E000, POOL + 0x1000, 0x1000, rd),
            ]
        );
        let used = |d: &Device| d.swiotlb.as_ref().unwrap().defpool.areas[0].used;
        assert_eq!(used(&d), 4);
        // The swiotlb flag takes the slow walk even on a coherent device: both bounces go back.
        dma_iova_unlink(&mut d, &mut p, &mut st, 0, 0x2000, DmaDir::TO_DEVICE, NONE).unwrap();
        assert_eq!(used(&d), 0);
        let ev = effects(&mut p);
        assert_eq!(ev[ev.len() - 2..].to_vec(), unmap_ev(0xFFFF_C000, 0x3000));
    }

    #[test]
    fn untrusted_head_bounce_without_min_align_cannot_be_linked() {
        // min_align_mask 0: the bounce is granule-aligned, so bounce - pad is not.
        let (mut d, mut p) = untrusted(0);
        let (_, mut st) = try_alloc(&mut d, &mut p, RAM + 0x880, 0x100);
        assert_eq!(st.addr, DmaAddr(0xFFFF_F880));
        assert_eq!(link(&mut d, &mut p, &mut st, RAM + 0x880, 0, 0x100, DmaDir::TO_DEVICE, NONE), -22);
        let ev = effects(&mut p);
        let maps: Vec<_> = ev.iter().filter(|e| matches!(e, Event::IommuMap { .. })).cloned().collect();
        assert_eq!(
            maps,
            vec![Event::IommuMap {
                iova: 0xFFFF_F000,
                phys: PhysAddr(POOL - 0x880),
                size: 0x1000,
                prot: IommuProt::CACHE | IommuProt::READ,
                ret: -22
            }]
        );
        // The bounce slot is released again and the flag never set.
        assert_eq!(d.swiotlb.as_ref().unwrap().defpool.areas[0].used, 0);
        assert_eq!(st.size, 0x100);
    }
}
