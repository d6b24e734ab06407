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
use super::dma_map_ops::{dev_is_dma_coherent, dma_kmalloc_needs_bounce};
use super::iommu::{
    iommu_flush_iotlb_all, iommu_iotlb_sync, iommu_iova_to_phys, iommu_map, iommu_unmap_fast, IotlbGather,
};
use super::iova::{iova_rcache_range, IovaDomain, ReserveResult};
use super::mapping::dma_get_mask;
use super::swiotlb::{
    dma_get_min_align_mask, is_swiotlb_active, is_swiotlb_force_bounce, swiotlb_max_mapping_size,
    swiotlb_sync_single_for_cpu, swiotlb_sync_single_for_device, swiotlb_tbl_map_single, swiotlb_tbl_unmap_single,
};
use super::KResult;
use crate::platform::trace::ReportKind;
use crate::platform::Platform;
use crate::scatterlist::{DmaIovaState, Scatterlist};
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

// Scatterlists (iommu_dma_{map,unmap,sync}_sg) and the dma_iova_* two-step API go here: a later issue.

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

    const RAM: u64 = 0x8000_0000;
    const MMIO: u64 = 0x4000_0000;
    const POOL: u64 = 0x8200_0000;
    const RW: IommuProt = IommuProt(IommuProt::READ.0 | IommuProt::WRITE.0);

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
    fn boot(f: impl FnOnce(&mut Config, &mut IommuConfig)) -> (Device, Platform) {
        let c = config(f);
        let mut p = Platform::new(&c);
        let d = Device::new(&c, &mut p);
        p.take_events();
        (d, p)
    }

    fn swiotlb(c: &mut Config) {
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
    fn effects(p: &mut Platform) -> Vec<Event> {
        p.take_events()
            .into_iter()
            .filter(|e| !matches!(e, Event::TraceMap { .. } | Event::TraceUnmap { .. } | Event::TraceSyncSingle { .. }))
            .collect()
    }

    fn imap(iova: u64, phys: u64, size: u64, prot: IommuProt) -> Event {
        Event::IommuMap { iova, phys: PhysAddr(phys), size, prot, ret: 0 }
    }

    fn report(kind: ReportKind, func: &str, text: &str) -> Event {
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

/// models iommu_dma_map_sg(): the count of DMA segments, or a negative errno.
pub fn iommu_dma_map_sg(
    dev: &mut Device,
    plat: &mut Platform,
    sgl: &mut [Scatterlist],
    nents: u32,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<i32> {
    todo!("iommu sg: {:?} {} {} {} {dir:?} {attrs}", dev.name, plat.pending_events().len(), sgl.len(), nents)
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
    todo!("iommu sg: {:?} {} {} {} {dir:?} {attrs}", dev.name, plat.pending_events().len(), sgl.len(), nents)
}

/// models iommu_dma_sync_sg_for_cpu()
pub fn iommu_dma_sync_sg_for_cpu(dev: &mut Device, plat: &mut Platform, sgl: &mut [Scatterlist], nelems: u32, dir: DmaDir) -> KResult<()> {
    todo!("iommu sg: {:?} {} {} {} {dir:?}", dev.name, plat.pending_events().len(), sgl.len(), nelems)
}

/// models iommu_dma_sync_sg_for_device()
pub fn iommu_dma_sync_sg_for_device(dev: &mut Device, plat: &mut Platform, sgl: &mut [Scatterlist], nelems: u32, dir: DmaDir) -> KResult<()> {
    todo!("iommu sg: {:?} {} {} {} {dir:?}", dev.name, plat.pending_events().len(), sgl.len(), nelems)
}

// ---- the two-step IOVA API (v6.16, DMA_ATTR_MMIO from v6.18) ------------------------------

/// models dma_iova_try_alloc()
pub fn dma_iova_try_alloc(dev: &mut Device, plat: &mut Platform, state: &mut DmaIovaState, phys: PhysAddr, size: u64) -> KResult<bool> {
    todo!("two-step API: {:?} {} {:?} {phys} {size}", dev.name, plat.pending_events().len(), state)
}

/// models dma_iova_link()
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
    todo!("two-step API: {:?} {} {:?} {phys} {offset} {size} {dir:?} {attrs}", dev.name, plat.pending_events().len(), state)
}

/// models dma_iova_sync()
pub fn dma_iova_sync(dev: &mut Device, plat: &mut Platform, state: &mut DmaIovaState, offset: u64, size: u64) -> KResult<i32> {
    todo!("two-step API: {:?} {} {:?} {offset} {size}", dev.name, plat.pending_events().len(), state)
}

/// models dma_iova_unlink()
pub fn dma_iova_unlink(
    dev: &mut Device,
    plat: &mut Platform,
    state: &mut DmaIovaState,
    offset: u64,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<()> {
    todo!("two-step API: {:?} {} {:?} {offset} {size} {dir:?} {attrs}", dev.name, plat.pending_events().len(), state)
}

/// models dma_iova_destroy()
pub fn dma_iova_destroy(
    dev: &mut Device,
    plat: &mut Platform,
    state: &mut DmaIovaState,
    mapped_len: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<()> {
    todo!("two-step API: {:?} {} {:?} {mapped_len} {dir:?} {attrs}", dev.name, plat.pending_events().len(), state)
}

/// models dma_iova_free()
pub fn dma_iova_free(dev: &mut Device, plat: &mut Platform, state: &mut DmaIovaState) -> KResult<()> {
    todo!("two-step API: {:?} {} {:?}", dev.name, plat.pending_events().len(), state)
}
