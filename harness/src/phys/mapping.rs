//! kernel/dma/mapping.c and the include/linux/dma-mapping.h inlines, v6.18: dma_map_phys()
//! is the primary entry point and the page and resource calls are wrappers around it
//! (f7326196a781 "dma-mapping: export new dma_*map_phys() interface").
//!
//! get_dma_ops() is always NULL: a device is either dma-direct or, when
//! iommu_setup_dma_ops() gave it a DMA domain, dma-iommu (use_dma_iommu()).

use super::direct::{
    dma_direct_map_phys, dma_direct_map_sg, dma_direct_sync_sg_for_cpu, dma_direct_sync_sg_for_device,
    dma_direct_sync_single_for_cpu, dma_direct_sync_single_for_device, dma_direct_unmap_phys, dma_direct_unmap_sg,
};
use super::dma_iommu::{
    iommu_dma_map_phys, iommu_dma_map_sg, iommu_dma_max_mapping_size, iommu_dma_opt_mapping_size,
    iommu_dma_sync_sg_for_cpu, iommu_dma_sync_sg_for_device, iommu_dma_sync_single_for_cpu,
    iommu_dma_sync_single_for_device, iommu_dma_unmap_phys, iommu_dma_unmap_sg,
};
use super::dma_map_ops::dev_is_dma_coherent;
use super::{Device, KResult};
use crate::platform::Platform;
use crate::scatterlist::{Scatterlist, SgTable};
use crate::types::{DmaAddr, DmaAttrs, DmaDir, PhysAddr, DMA_MAPPING_ERROR, PAGE_SIZE};

/// -ENOMEM
pub const ENOMEM: i32 = 12;
/// -EIO
pub const EIO: i32 = 5;
/// -EINVAL
pub const EINVAL: i32 = 22;
/// -EREMOTEIO
pub const EREMOTEIO: i32 = 121;

/// models dma_setup_need_sync(): for dma-direct and dma-iommu devices alike, skip syncs iff
/// coherent (a first swiotlb mapping would clear it again). The kernel runs it only from
/// dma_set_mask(), which fails without dev->dma_mask, so a maskless device keeps
/// dma_skip_sync = false.
pub fn dma_setup_need_sync(dev: &mut Device) {
    if dev.dma_mask.is_none() {
        return;
    }
    // No dma_map_ops, so the ops branches (sync ops present or not) never apply.
    if dma_map_direct(dev) || use_dma_iommu(dev) {
        dev.dma_skip_sync = dev_is_dma_coherent(dev);
    }
}

/// models use_dma_iommu()
pub fn use_dma_iommu(dev: &Device) -> bool {
    dev.dma_iommu
}

/// models dma_go_direct() with get_dma_ops() NULL: direct unless dma-iommu.
fn dma_go_direct(dev: &Device) -> bool {
    if use_dma_iommu(dev) {
        return false;
    }
    // !ops: CONFIG_DMA_OPS_BYPASS never comes into play.
    true
}

/// models dma_map_direct()
fn dma_map_direct(dev: &Device) -> bool {
    dma_go_direct(dev)
}

/// models dma_dev_need_sync()
pub fn dma_dev_need_sync(dev: &Device) -> bool {
    !dev.dma_skip_sync || dev.dma_api_debug
}

fn check_dir(dev: &Device, plat: &mut Platform, func: &str, dir: DmaDir) -> KResult<()> {
    if !dir.is_valid() {
        return Err(dev.bug(plat, func, "!valid_dma_direction(dir)"));
    }
    Ok(())
}

/// models dma_get_mask(): *dev->dma_mask, or DMA_BIT_MASK(32) when unset or zero.
pub fn dma_get_mask(dev: &Device) -> u64 {
    dev.dma_mask.filter(|&m| m != 0).unwrap_or(0xffff_ffff)
}

/// models dma_map_phys()
pub fn dma_map_phys(
    dev: &mut Device,
    plat: &mut Platform,
    phys: PhysAddr,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<DmaAddr> {
    let is_mmio = attrs.contains(DmaAttrs::MMIO);
    check_dir(dev, plat, "dma_map_phys", dir)?;
    if dev.dma_mask.is_none()
        && dev.warn_on_once(plat, "mapping.c:dma_map_phys:dma_mask", "dma_map_phys", "!dev->dma_mask")
    {
        return Ok(DMA_MAPPING_ERROR);
    }
    // arch_dma_map_phys_direct() is powerpc-only; there are no dma_map_ops (->map_phys).
    let addr = if dma_map_direct(dev) {
        dma_direct_map_phys(dev, plat, "direct.h:dma_direct_map_phys@dma_map_phys", phys, size, dir, attrs)?
    } else if use_dma_iommu(dev) {
        iommu_dma_map_phys(dev, plat, phys, size, dir, attrs)?
    } else {
        DMA_MAPPING_ERROR
    };
    // kmsan_handle_dma(phys, size, dir) runs here unless is_mmio; KMSAN is not modelled.
    let _ = is_mmio;
    plat.trace_dma_map("dma_map_phys", phys, addr, size, dir, attrs);
    // debug_dma_map_phys(): dma-debug is not modelled yet.
    Ok(addr)
}

/// models dma_unmap_phys()
pub fn dma_unmap_phys(
    dev: &mut Device,
    plat: &mut Platform,
    addr: DmaAddr,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<()> {
    check_dir(dev, plat, "dma_unmap_phys", dir)?;
    // arch_dma_unmap_phys_direct() is powerpc-only; there are no dma_map_ops.
    if dma_map_direct(dev) {
        dma_direct_unmap_phys(dev, plat, addr, size, dir, attrs)?;
    } else if use_dma_iommu(dev) {
        iommu_dma_unmap_phys(dev, plat, addr, size, dir, attrs)?;
    }
    plat.trace_dma_unmap("dma_unmap_phys", addr, size, dir, attrs);
    // debug_dma_unmap_phys(): dma-debug is not modelled yet.
    Ok(())
}

/// models dma_map_page_attrs(), now a wrapper; `page` is page_to_phys(page).
pub fn dma_map_page_attrs(
    dev: &mut Device,
    plat: &mut Platform,
    page: PhysAddr,
    offset: u64,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<DmaAddr> {
    let phys = page.wrapping_add(offset);
    // MMIO has no struct page: refused silently, before even the direction check.
    if attrs.contains(DmaAttrs::MMIO) {
        return Ok(DMA_MAPPING_ERROR);
    }
    if dev.dma_api_debug
        && plat.is_zone_device_page(page.pfn())
        && dev.warn_on_once(
            plat,
            "mapping.c:dma_map_page_attrs:zone_device",
            "dma_map_page_attrs",
            "is_zone_device_page(page)",
        )
    {
        return Ok(DMA_MAPPING_ERROR);
    }
    dma_map_phys(dev, plat, phys, size, dir, attrs)
}

/// models dma_map_single_attrs() (include/linux/dma-mapping.h, the same in v6.16 and v6.18);
/// the linear map is the identity here, so `ptr` is the buffer's physical address.
pub fn dma_map_single_attrs(
    dev: &mut Device,
    plat: &mut Platform,
    ptr: u64,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<DmaAddr> {
    // DMA must never operate on areas that might be remapped.
    if plat.is_vmalloc_addr(ptr) {
        dev.dev_warn_once(
            plat,
            "dma-mapping.h:dma_map_single_attrs:vmalloc",
            "dma_map_single_attrs",
            "rejecting DMA map of vmalloc memory",
        );
        return Ok(DMA_MAPPING_ERROR);
    }
    // debug_dma_map_single(dev, ptr, size): the dma-debug shadow checker's
    let ptr = PhysAddr(ptr);
    dma_map_page_attrs(dev, plat, PhysAddr(ptr.0 & !(PAGE_SIZE - 1)), ptr.offset_in_page(), size, dir, attrs)
}

/// models dma_unmap_page_attrs(), now a wrapper.
pub fn dma_unmap_page_attrs(
    dev: &mut Device,
    plat: &mut Platform,
    addr: DmaAddr,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<()> {
    if attrs.contains(DmaAttrs::MMIO) {
        return Ok(());
    }
    dma_unmap_phys(dev, plat, addr, size, dir, attrs)
}

/// models dma_map_resource(), now dma_map_phys(..., DMA_ATTR_MMIO).
pub fn dma_map_resource(
    dev: &mut Device,
    plat: &mut Platform,
    phys: PhysAddr,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<DmaAddr> {
    // v6.18 refuses RAM here under CONFIG_DMA_API_DEBUG (moved into dma-debug by af0c3f058662).
    if dev.dma_api_debug
        && plat.pfn_valid(phys.pfn())
        && dev.warn_on_once(
            plat,
            "mapping.c:dma_map_resource:pfn_valid",
            "dma_map_resource",
            "pfn_valid(PHYS_PFN(phys_addr))",
        )
    {
        return Ok(DMA_MAPPING_ERROR);
    }
    dma_map_phys(dev, plat, phys, size, dir, attrs | DmaAttrs::MMIO)
}

/// models dma_unmap_resource(), now dma_unmap_phys(..., DMA_ATTR_MMIO).
pub fn dma_unmap_resource(
    dev: &mut Device,
    plat: &mut Platform,
    addr: DmaAddr,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<()> {
    dma_unmap_phys(dev, plat, addr, size, dir, attrs | DmaAttrs::MMIO)
}

/// models __dma_sync_single_for_cpu()
fn __dma_sync_single_for_cpu(
    dev: &mut Device,
    plat: &mut Platform,
    addr: DmaAddr,
    size: u64,
    dir: DmaDir,
) -> KResult<()> {
    check_dir(dev, plat, "__dma_sync_single_for_cpu", dir)?;
    if dma_map_direct(dev) {
        dma_direct_sync_single_for_cpu(dev, plat, addr, size, dir)?;
    } else if use_dma_iommu(dev) {
        iommu_dma_sync_single_for_cpu(dev, plat, addr, size, dir)?;
    }
    plat.trace_dma_sync_single("dma_sync_single_for_cpu", addr, size, dir);
    Ok(())
}

/// models __dma_sync_single_for_device()
fn __dma_sync_single_for_device(
    dev: &mut Device,
    plat: &mut Platform,
    addr: DmaAddr,
    size: u64,
    dir: DmaDir,
) -> KResult<()> {
    check_dir(dev, plat, "__dma_sync_single_for_device", dir)?;
    if dma_map_direct(dev) {
        dma_direct_sync_single_for_device(dev, plat, addr, size, dir)?;
    } else if use_dma_iommu(dev) {
        iommu_dma_sync_single_for_device(dev, plat, addr, size, dir)?;
    }
    plat.trace_dma_sync_single("dma_sync_single_for_device", addr, size, dir);
    Ok(())
}

/// models dma_sync_single_for_cpu() (header inline, gated by dma_dev_need_sync())
pub fn dma_sync_single_for_cpu(
    dev: &mut Device,
    plat: &mut Platform,
    addr: DmaAddr,
    size: u64,
    dir: DmaDir,
) -> KResult<()> {
    if dma_dev_need_sync(dev) {
        __dma_sync_single_for_cpu(dev, plat, addr, size, dir)?;
    }
    Ok(())
}

/// models dma_sync_single_for_device() (header inline, gated by dma_dev_need_sync())
pub fn dma_sync_single_for_device(
    dev: &mut Device,
    plat: &mut Platform,
    addr: DmaAddr,
    size: u64,
    dir: DmaDir,
) -> KResult<()> {
    if dma_dev_need_sync(dev) {
        __dma_sync_single_for_device(dev, plat, addr, size, dir)?;
    }
    Ok(())
}

/// models dma_max_mapping_size()
pub fn dma_max_mapping_size(dev: &Device) -> u64 {
    if dma_map_direct(dev) {
        // dma_direct_max_mapping_size() is not modelled: the harness only asks dma-iommu
        // devices.
        u64::MAX
    } else if use_dma_iommu(dev) {
        iommu_dma_max_mapping_size(dev)
    } else {
        u64::MAX
    }
}

/// models dma_opt_mapping_size()
pub fn dma_opt_mapping_size(dev: &Device) -> u64 {
    let size = if use_dma_iommu(dev) { iommu_dma_opt_mapping_size() } else { u64::MAX };
    dma_max_mapping_size(dev).min(size)
}

/// models dma_mapping_error()
pub fn dma_mapping_error(_dev: &Device, addr: DmaAddr) -> i32 {
    // debug_dma_mapping_error() records the check; dma-debug is not modelled yet.
    if addr == DMA_MAPPING_ERROR {
        -ENOMEM
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phys::Bug;
    use crate::platform::trace::Event;
    use crate::scenario::{Config, Region};

    fn setup(f: impl FnOnce(&mut Config)) -> (Device, Platform) {
        let mut c = Config::default();
        c.device.coherent = false;
        c.ram.push(Region { start: PhysAddr(0x8000_0000), size: 0x10_0000 });
        c.mmio.push(Region { start: PhysAddr(0x8010_0000), size: 0x1000 });
        f(&mut c);
        let mut p = Platform::new(&c);
        (Device::new(&c, &mut p), p)
    }

    fn names(p: &mut Platform) -> Vec<String> {
        p.take_events()
            .into_iter()
            .map(|e| match e {
                Event::TraceMap { event, .. }
                | Event::TraceUnmap { event, .. }
                | Event::TraceSyncSingle { event, .. }
                | Event::TraceSg { event, .. } => event,
                Event::ArchSync { .. } => "arch_sync".into(),
                Event::Report { kind, text, .. } => format!("{kind:?}:{text}"),
                Event::Fault { .. } => "fault".into(),
                Event::Memcpy { .. } => "memcpy".into(),
                Event::TraceSwiotlbBounced { .. } => "swiotlb_bounced".into(),
                Event::Memset { .. } => "memset".into(),
                Event::IommuMap { iova, prot, ret, .. } => format!("iommu_map:{iova:#x}:{prot}:{ret}"),
                Event::IommuUnmap { iova, size, unmapped } => format!("iommu_unmap:{iova:#x}:{size:#x}:{unmapped:#x}"),
                Event::IommuIotlbSync { .. } => "iotlb_sync".into(),
                Event::IommuFlushAll => "flush_all".into(),
                Event::IommuFault { .. } => "iommu_fault".into(),
                Event::IommuSplit { .. } => "iommu_split".into(),
                Event::DmaDebug { class, .. } => format!("dma_debug:{class}"),
            })
            .collect()
    }

    #[test]
    fn map_page_attrs_refuses_mmio_before_anything_else() {
        let (mut d, mut p) = setup(|_| {});
        let r = dma_map_page_attrs(&mut d, &mut p, PhysAddr(0x8000_0000), 0, 0x100, DmaDir::NONE, DmaAttrs::MMIO);
        assert_eq!(r, Ok(DMA_MAPPING_ERROR));
        assert!(names(&mut p).is_empty());
        assert_eq!(dma_unmap_page_attrs(&mut d, &mut p, DmaAddr(0), 0x100, DmaDir(9), DmaAttrs::MMIO), Ok(()));
        assert!(names(&mut p).is_empty());
    }

    #[test]
    fn invalid_direction_bugs_in_dma_map_phys() {
        let (mut d, mut p) = setup(|_| {});
        let r = dma_map_page_attrs(&mut d, &mut p, PhysAddr(0x8000_0000), 0x10, 0x100, DmaDir(7), DmaAttrs(0));
        assert_eq!(r, Err(Bug));
        assert_eq!(names(&mut p), vec!["Bug:!valid_dma_direction(dir)"]);
    }

    #[test]
    fn missing_dma_mask_warns_once_without_a_tracepoint() {
        let (mut d, mut p) = setup(|c| c.device.dma_mask = None);
        assert_eq!(
            dma_map_phys(&mut d, &mut p, PhysAddr(0x8000_0000), 0x100, DmaDir::TO_DEVICE, DmaAttrs(0)),
            Ok(DMA_MAPPING_ERROR)
        );
        assert_eq!(names(&mut p), vec!["WarnOn:!dev->dma_mask"]);
        assert_eq!(
            dma_map_resource(&mut d, &mut p, PhysAddr(0x8010_0000), 0x100, DmaDir::TO_DEVICE, DmaAttrs(0)),
            Ok(DMA_MAPPING_ERROR)
        );
        assert!(names(&mut p).is_empty(), "one once-flag for every entry point in v6.18");
    }

    #[test]
    fn resource_is_map_phys_with_mmio_and_debug_refuses_valid_pfns() {
        let (mut d, mut p) = setup(|_| {});
        assert_eq!(
            dma_map_resource(&mut d, &mut p, PhysAddr(0x8010_0000), 0x10, DmaDir::TO_DEVICE, DmaAttrs(0)),
            Ok(DmaAddr(0x8010_0000))
        );
        match p.take_events().as_slice() {
            [Event::TraceMap { event, attrs, .. }] => {
                assert_eq!(event, "dma_map_phys");
                assert_eq!(*attrs, DmaAttrs::MMIO);
            }
            e => panic!("{e:?}"),
        }
        let (mut d, mut p) = setup(|c| c.dma_api_debug = true);
        let r = dma_map_resource(&mut d, &mut p, PhysAddr(0x8010_0000), 0x10, DmaDir::NONE, DmaAttrs(0));
        assert_eq!(r, Ok(DMA_MAPPING_ERROR), "the pfn_valid check comes before the direction BUG_ON");
        assert_eq!(names(&mut p), vec!["WarnOn:pfn_valid(PHYS_PFN(phys_addr))"]);
    }

    #[test]
    fn sync_gate_follows_dma_skip_sync() {
        let (mut d, mut p) = setup(|c| c.device.coherent = true);
        assert_eq!(dma_sync_single_for_cpu(&mut d, &mut p, DmaAddr(0x8000_0000), 0x10, DmaDir::NONE), Ok(()));
        assert!(names(&mut p).is_empty(), "a coherent device never reaches __dma_sync_single_for_cpu");
        let (mut d, mut p) = setup(|c| {
            c.device.coherent = true;
            c.device.dma_mask = None;
        });
        assert_eq!(dma_sync_single_for_device(&mut d, &mut p, DmaAddr(0x8000_0000), 0x10, DmaDir::TO_DEVICE), Ok(()));
        assert_eq!(names(&mut p), vec!["dma_sync_single_for_device"], "no dma_set_mask(), no dma_skip_sync");
        let (mut d, mut p) = setup(|_| {});
        assert_eq!(dma_sync_single_for_cpu(&mut d, &mut p, DmaAddr(0x8000_0000), 0x10, DmaDir::FROM_DEVICE), Ok(()));
        assert_eq!(names(&mut p), vec!["arch_sync", "dma_sync_single_for_cpu"]);
    }

    #[test]
    fn mapping_error_values() {
        let (d, _) = setup(|_| {});
        assert_eq!(dma_mapping_error(&d, DMA_MAPPING_ERROR), -ENOMEM);
        assert_eq!(dma_mapping_error(&d, DmaAddr(0)), 0);
    }
}

// ---- scatterlists ----------------------------------------------------------------------

/// The sg tracepoints of include/trace/events/dma.h: sg_phys() of the first `nr_phys`
/// entries and (sg_dma_address, sg_dma_len) of the first `nr_dma`, as each event records them.
#[allow(clippy::too_many_arguments)]
fn trace_dma_sg(
    plat: &mut Platform,
    event: &str,
    sgl: &[Scatterlist],
    nr_phys: i32,
    nr_dma: i32,
    err: i32,
    dir: DmaDir,
    attrs: DmaAttrs,
) {
    let take = |n: i32| sgl.iter().take(n.max(0) as usize);
    let phys: Vec<PhysAddr> = take(nr_phys).map(Scatterlist::phys).collect();
    let segs: Vec<(DmaAddr, u32)> = take(nr_dma).map(|s| (s.dma_address, s.dma_length)).collect();
    plat.trace_dma_sg(event, &phys, &segs, err as i64, dir, attrs);
}

/// models __dma_map_sg_attrs(): the mapped count or a negative errno (0 for a NULL dma_mask).
fn dma_map_sg_attrs_inner(
    dev: &mut Device,
    plat: &mut Platform,
    sgl: &mut [Scatterlist],
    nents: u32,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<i32> {
    check_dir(dev, plat, "__dma_map_sg_attrs", dir)?;
    if dev.dma_mask.is_none()
        && dev.warn_on_once(plat, "mapping.c:__dma_map_sg_attrs:dma_mask", "__dma_map_sg_attrs", "!dev->dma_mask")
    {
        return Ok(0);
    }
    // arch_dma_map_sg_direct() is powerpc-only; no dma_map_ops, so ops->map_sg never runs.
    let ents = if dma_map_direct(dev) {
        dma_direct_map_sg(dev, plat, sgl, nents, dir, attrs)?
    } else {
        iommu_dma_map_sg(dev, plat, sgl, nents, dir, attrs)?
    };
    let nents = nents as i32;
    if ents > 0 {
        // kmsan_handle_dma_sg(sgl, nents, dir) runs here; KMSAN is not modelled.
        trace_dma_sg(plat, "dma_map_sg", sgl, nents, ents, 0, dir, attrs);
        // debug_dma_map_sg(): dma-debug is not modelled yet.
    } else if ents != -EINVAL
        && ents != -ENOMEM
        && ents != -EIO
        && ents != -EREMOTEIO
        && dev.warn_on_once(
            plat,
            "mapping.c:__dma_map_sg_attrs:ents",
            "__dma_map_sg_attrs",
            "ents != -EINVAL && ents != -ENOMEM && ents != -EIO && ents != -EREMOTEIO",
        )
    {
        // Only the unexpected errors are traced, with the value the back end returned.
        trace_dma_sg(plat, "dma_map_sg_err", sgl, nents, 0, ents, dir, attrs);
        return Ok(-EIO);
    }
    Ok(ents)
}

/// models dma_map_sg_attrs()
pub fn dma_map_sg_attrs(
    dev: &mut Device,
    plat: &mut Platform,
    sgl: &mut [Scatterlist],
    nents: u32,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<u32> {
    // Every error, expected or not, reads as "0 entries mapped".
    let ret = dma_map_sg_attrs_inner(dev, plat, sgl, nents, dir, attrs)?;
    Ok(ret.max(0) as u32)
}

/// models dma_map_sgtable(): 0 or the negative errno; maps orig_nents and sets sgt->nents.
pub fn dma_map_sgtable(
    dev: &mut Device,
    plat: &mut Platform,
    sgt: &mut SgTable,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<i32> {
    let nents = dma_map_sg_attrs_inner(dev, plat, &mut sgt.sgl, sgt.orig_nents, dir, attrs)?;
    if nents < 0 {
        return Ok(nents);
    }
    // A NULL dma_mask gives 0 here: "success" with sgt->nents = 0.
    sgt.nents = nents as u32;
    Ok(0)
}

/// models dma_unmap_sg_attrs()
pub fn dma_unmap_sg_attrs(
    dev: &mut Device,
    plat: &mut Platform,
    sgl: &mut [Scatterlist],
    nents: u32,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<()> {
    check_dir(dev, plat, "dma_unmap_sg_attrs", dir)?;
    // The tracepoint (and debug_dma_unmap_sg()) run before the unmap, on the CPU addresses.
    trace_dma_sg(plat, "dma_unmap_sg", sgl, nents as i32, 0, 0, dir, attrs);
    // arch_dma_unmap_sg_direct() is powerpc-only; no dma_map_ops, so ops->unmap_sg never runs.
    if dma_map_direct(dev) {
        dma_direct_unmap_sg(dev, plat, sgl, nents, dir, attrs)
    } else {
        iommu_dma_unmap_sg(dev, plat, sgl, nents, dir, attrs)
    }
}

/// models __dma_sync_sg_for_cpu()
fn __dma_sync_sg_for_cpu(
    dev: &mut Device,
    plat: &mut Platform,
    sgl: &mut [Scatterlist],
    nelems: u32,
    dir: DmaDir,
) -> KResult<()> {
    check_dir(dev, plat, "__dma_sync_sg_for_cpu", dir)?;
    if dma_map_direct(dev) {
        dma_direct_sync_sg_for_cpu(dev, plat, sgl, nelems, dir)?;
    } else if use_dma_iommu(dev) {
        iommu_dma_sync_sg_for_cpu(dev, plat, sgl, nelems, dir)?;
    }
    // The sync tracepoints take no attrs.
    trace_dma_sg(plat, "dma_sync_sg_for_cpu", sgl, 0, nelems as i32, 0, dir, DmaAttrs(0));
    // debug_dma_sync_sg_for_cpu(): dma-debug is not modelled yet.
    Ok(())
}

/// models __dma_sync_sg_for_device()
fn __dma_sync_sg_for_device(
    dev: &mut Device,
    plat: &mut Platform,
    sgl: &mut [Scatterlist],
    nelems: u32,
    dir: DmaDir,
) -> KResult<()> {
    check_dir(dev, plat, "__dma_sync_sg_for_device", dir)?;
    if dma_map_direct(dev) {
        dma_direct_sync_sg_for_device(dev, plat, sgl, nelems, dir)?;
    } else if use_dma_iommu(dev) {
        iommu_dma_sync_sg_for_device(dev, plat, sgl, nelems, dir)?;
    }
    trace_dma_sg(plat, "dma_sync_sg_for_device", sgl, 0, nelems as i32, 0, dir, DmaAttrs(0));
    // debug_dma_sync_sg_for_device(): dma-debug is not modelled yet.
    Ok(())
}

/// models dma_sync_sg_for_cpu() (header inline, gated by dma_dev_need_sync())
pub fn dma_sync_sg_for_cpu(
    dev: &mut Device,
    plat: &mut Platform,
    sgl: &mut [Scatterlist],
    nelems: u32,
    dir: DmaDir,
) -> KResult<()> {
    if dma_dev_need_sync(dev) {
        __dma_sync_sg_for_cpu(dev, plat, sgl, nelems, dir)?;
    }
    Ok(())
}

/// models dma_sync_sg_for_device() (header inline, gated by dma_dev_need_sync())
pub fn dma_sync_sg_for_device(
    dev: &mut Device,
    plat: &mut Platform,
    sgl: &mut [Scatterlist],
    nelems: u32,
    dir: DmaDir,
) -> KResult<()> {
    if dma_dev_need_sync(dev) {
        __dma_sync_sg_for_device(dev, plat, sgl, nelems, dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod sg_tests {
    //! The sg front end over dma-direct, v6.18 with d0d08f4bd7f6 and 560000d619ef: exact
    //! addresses, event order and return values.

    use super::*;
    use crate::phys::Bug;
    use crate::platform::trace::{ArchHook, CacheOp, Event, ReportKind};
    use crate::scatterlist::SG_DMA_BUS_ADDRESS;
    use crate::scenario::{Config, DmaRange, P2pProvider, P2pdmaMapType, Region, SwiotlbConfig, SwiotlbMode};
    use crate::types::DMA_MAPPING_ERROR;

    /// A P2PDMA BAR the device reaches through a switch (bus_offset 0x4000_0000).
    const BUS_BAR: u64 = 0x6000_0000;
    /// A P2PDMA BAR reached through the host bridge.
    const HB_BAR: u64 = 0x6100_0000;
    /// A P2PDMA BAR the device cannot reach.
    const NS_BAR: u64 = 0x6200_0000;
    const MMIO: u64 = 0x4000_0000;

    fn setup(coherent: bool, f: impl FnOnce(&mut Config)) -> (Device, Platform) {
        let mut c = Config::default();
        c.device.coherent = coherent;
        c.ram.push(Region { start: PhysAddr(0x8000_0000), size: 0x10_0000 });
        c.ram.push(Region { start: PhysAddr(0x1_0000_0000), size: 0x10_0000 });
        c.mmio.push(Region { start: PhysAddr(MMIO), size: 0x1000 });
        let bar = |start: u64, bus_start: u64, route| P2pProvider {
            start: PhysAddr(start),
            size: 0x10_0000,
            bus_start,
            route,
        };
        c.p2p.push(bar(BUS_BAR, 0xa000_0000, P2pdmaMapType::BusAddr));
        c.p2p.push(bar(HB_BAR, 0xb100_0000, P2pdmaMapType::ThruHostBridge));
        c.p2p.push(bar(NS_BAR, 0xc200_0000, P2pdmaMapType::NotSupported));
        f(&mut c);
        let mut p = Platform::new(&c);
        let d = Device::new(&c, &mut p);
        p.take_events();
        (d, p)
    }

    /// sg_set_page() entries: (page, offset, length).
    fn list(ents: &[(u64, u32, u32)]) -> Vec<Scatterlist> {
        ents.iter().map(|&(page, off, len)| Scatterlist::new(PhysAddr(page), off, len)).collect()
    }

    fn arch(hook: ArchHook, phys: u64, size: u64, dir: DmaDir, op: CacheOp) -> Event {
        Event::ArchSync { hook, phys: PhysAddr(phys), size, dir, op, written_back: 0, discarded_dirty: 0 }
    }

    fn clean(phys: u64, size: u64, dir: DmaDir) -> Event {
        arch(ArchHook::SyncForDevice, phys, size, dir, CacheOp::Clean)
    }

    fn inval(phys: u64, size: u64, dir: DmaDir) -> Event {
        arch(ArchHook::SyncForCpu, phys, size, dir, CacheOp::Inval)
    }

    fn tsg(event: &str, phys: &[u64], segs: &[(u64, u32)], err: i64, dir: DmaDir, attrs: DmaAttrs) -> Event {
        Event::TraceSg {
            event: event.into(),
            phys: phys.iter().map(|&p| PhysAddr(p)).collect(),
            segs: segs.iter().map(|&(a, l)| (DmaAddr(a), l)).collect(),
            err,
            dir,
            attrs,
        }
    }

    fn report(kind: ReportKind, func: &str, text: &str) -> Event {
        Event::Report { kind, func: func.into(), text: text.into() }
    }

    /// (sg_dma_address, sg_dma_len, flags) of every entry.
    fn dma_side(sgl: &[Scatterlist]) -> Vec<(DmaAddr, u32, u32)> {
        sgl.iter().map(|s| (s.dma_address, s.dma_length, s.dma_flags)).collect()
    }

    const RAM3: [(u64, u32, u32); 3] =
        [(0x8000_1000, 0x10, 0x100), (0x8000_3000, 0, 0x1000), (0x8000_5000, 0x800, 0x200)];
    const RAM3_PHYS: [u64; 3] = [0x8000_1010, 0x8000_3000, 0x8000_5800];
    const RAM3_SEGS: [(u64, u32); 3] = [(0x8000_1010, 0x100), (0x8000_3000, 0x1000), (0x8000_5800, 0x200)];
    const NOATTR: DmaAttrs = DmaAttrs(0);

    #[test]
    fn ram_list_non_coherent_cleans_each_segment_then_traces() {
        let (mut d, mut p) = setup(false, |_| {});
        let mut sgl = list(&RAM3);
        let dir = DmaDir::TO_DEVICE;
        assert_eq!(dma_map_sg_attrs(&mut d, &mut p, &mut sgl, 3, dir, NOATTR), Ok(3));
        assert_eq!(
            p.take_events(),
            vec![
                clean(0x8000_1010, 0x100, dir),
                clean(0x8000_3000, 0x1000, dir),
                clean(0x8000_5800, 0x200, dir),
                tsg("dma_map_sg", &RAM3_PHYS, &RAM3_SEGS, 0, dir, NOATTR),
            ]
        );
        assert_eq!(
            dma_side(&sgl),
            vec![(DmaAddr(0x8000_1010), 0x100, 0), (DmaAddr(0x8000_3000), 0x1000, 0), (DmaAddr(0x8000_5800), 0x200, 0)]
        );
        // The unmap tracepoint fires before the back end touches the cache.
        assert_eq!(dma_unmap_sg_attrs(&mut d, &mut p, &mut sgl, 3, DmaDir::FROM_DEVICE, NOATTR), Ok(()));
        let fd = DmaDir::FROM_DEVICE;
        assert_eq!(
            p.take_events(),
            vec![
                tsg("dma_unmap_sg", &RAM3_PHYS, &[], 0, fd, NOATTR),
                inval(0x8000_1010, 0x100, fd),
                inval(0x8000_3000, 0x1000, fd),
                inval(0x8000_5800, 0x200, fd),
            ]
        );
    }

    #[test]
    fn ram_list_coherent_only_traces_and_translates_through_the_range_map() {
        let r = DmaRange { cpu_start: PhysAddr(0x8000_0000), dma_start: 0x1000_0000, size: 0x10_0000 };
        let (mut d, mut p) = setup(true, |c| c.dma_ranges = vec![r]);
        let mut sgl = list(&RAM3);
        let attrs = DmaAttrs::WEAK_ORDERING;
        assert_eq!(dma_map_sg_attrs(&mut d, &mut p, &mut sgl, 3, DmaDir::BIDIRECTIONAL, attrs), Ok(3));
        let segs = [(0x1000_1010, 0x100), (0x1000_3000, 0x1000), (0x1000_5800, 0x200)];
        assert_eq!(p.take_events(), vec![tsg("dma_map_sg", &RAM3_PHYS, &segs, 0, DmaDir::BIDIRECTIONAL, attrs)]);
        dma_unmap_sg_attrs(&mut d, &mut p, &mut sgl, 3, DmaDir::BIDIRECTIONAL, attrs).unwrap();
        assert_eq!(p.take_events(), vec![tsg("dma_unmap_sg", &RAM3_PHYS, &[], 0, DmaDir::BIDIRECTIONAL, attrs)]);
        // dma_skip_sync is set for a coherent device without swiotlb: the sync calls do nothing.
        dma_sync_sg_for_cpu(&mut d, &mut p, &mut sgl, 3, DmaDir::BIDIRECTIONAL).unwrap();
        dma_sync_sg_for_device(&mut d, &mut p, &mut sgl, 3, DmaDir::BIDIRECTIONAL).unwrap();
        assert!(p.take_events().is_empty());
    }

    #[test]
    fn sgtable_maps_orig_nents_and_sets_nents() {
        let (mut d, mut p) = setup(true, |_| {});
        let mut sgt = SgTable { sgl: list(&RAM3), nents: 0, orig_nents: 2 };
        assert_eq!(dma_map_sgtable(&mut d, &mut p, &mut sgt, DmaDir::TO_DEVICE, NOATTR), Ok(0));
        assert_eq!(sgt.nents, 2);
        assert_eq!(
            p.take_events(),
            vec![tsg("dma_map_sg", &RAM3_PHYS[..2], &RAM3_SEGS[..2], 0, DmaDir::TO_DEVICE, NOATTR)]
        );
        assert_eq!(dma_side(&sgt.sgl[2..]), vec![(DmaAddr(0), 0, 0)], "the third entry is outside orig_nents");
    }

    #[test]
    fn failing_segment_unwinds_the_earlier_ones_without_cpu_sync() {
        let (mut d, mut p) = setup(false, |_| {});
        // The third entry lies above the 32-bit mask and there is no swiotlb.
        let ents = [(0x8000_1000, 0, 0x100), (0x8000_2000, 0, 0x100), (0x1_0000_0000, 0, 0x100), (0x8000_4000, 0, 8)];
        let mut sgl = list(&ents);
        let dir = DmaDir::FROM_DEVICE;
        let mut sgt = SgTable { sgl: sgl.clone(), nents: 7, orig_nents: 4 };
        assert_eq!(dma_map_sg_attrs(&mut d, &mut p, &mut sgl, 4, dir, NOATTR), Ok(0));
        assert_eq!(
            p.take_events(),
            vec![
                clean(0x8000_1000, 0x100, dir),
                clean(0x8000_2000, 0x100, dir),
                report(
                    ReportKind::DevWarn,
                    "dma_direct_map_phys",
                    "dmadiff dmadiff0: DMA addr 0x0000000100000000+256 overflow (mask ffffffff, bus limit 0)."
                ),
            ],
            "the unwind passes SKIP_CPU_SYNC, and -EIO is an expected error: no WARN, no trace"
        );
        assert_eq!(
            dma_side(&sgl),
            vec![
                (DmaAddr(0x8000_1000), 0x100, 0),
                (DmaAddr(0x8000_2000), 0x100, 0),
                (DMA_MAPPING_ERROR, 0, 0),
                (DmaAddr(0), 0, 0)
            ]
        );
        assert_eq!(dma_map_sgtable(&mut d, &mut p, &mut sgt, dir, NOATTR), Ok(-EIO));
        assert_eq!(sgt.nents, 7, "left alone on failure");
        assert_eq!(p.take_events(), vec![clean(0x8000_1000, 0x100, dir), clean(0x8000_2000, 0x100, dir)]);
    }

    #[test]
    fn force_bounce_list_goes_through_swiotlb_slot_by_slot() {
        let (mut d, mut p) = setup(true, |c| {
            c.ram.push(Region { start: PhysAddr(0x9000_0000), size: 0x10_0000 });
            c.swiotlb = Some(SwiotlbConfig {
                mode: SwiotlbMode::Force,
                start: PhysAddr(0x9000_0000),
                nslabs: Some(128),
                nareas: Some(1),
            });
        });
        let mut sgl = list(&[(0x8000_1000, 0, 0x100), (0x8000_2000, 0x40, 0x80)]);
        let dir = DmaDir::BIDIRECTIONAL;
        assert_eq!(dma_map_sg_attrs(&mut d, &mut p, &mut sgl, 2, dir, NOATTR), Ok(2));
        let bounced = |dev_addr: u64, size: u64| Event::TraceSwiotlbBounced {
            dma_mask: 0xffff_ffff,
            dev_addr: DmaAddr(dev_addr),
            size,
            force: true,
        };
        let copy = |dst: u64, src: u64, size: u64| Event::Memcpy { dst: PhysAddr(dst), src: PhysAddr(src), size };
        assert_eq!(
            p.take_events(),
            vec![
                bounced(0x8000_1000, 0x100),
                copy(0x9000_0000, 0x8000_1000, 0x100),
                bounced(0x8000_2040, 0x80),
                copy(0x9000_0800, 0x8000_2040, 0x80),
                tsg(
                    "dma_map_sg",
                    &[0x8000_1000, 0x8000_2040],
                    &[(0x9000_0000, 0x100), (0x9000_0800, 0x80)],
                    0,
                    dir,
                    NOATTR
                ),
            ]
        );
        assert!(!d.dma_skip_sync, "the first bounce clears dma_skip_sync");
        dma_unmap_sg_attrs(&mut d, &mut p, &mut sgl, 2, dir, NOATTR).unwrap();
        assert_eq!(
            p.take_events(),
            vec![
                tsg("dma_unmap_sg", &[0x8000_1000, 0x8000_2040], &[], 0, dir, NOATTR),
                copy(0x8000_1000, 0x9000_0000, 0x100),
                copy(0x8000_2040, 0x9000_0800, 0x80),
            ]
        );
    }

    #[test]
    fn bus_addr_segment_gets_bus_address_mark_and_length() {
        let (mut d, mut p) = setup(false, |_| {});
        let mut sgl = list(&[(0x8000_1000, 0, 0x100), (BUS_BAR + 0x2000, 0x10, 0x200)]);
        let dir = DmaDir::TO_DEVICE;
        assert_eq!(dma_map_sg_attrs(&mut d, &mut p, &mut sgl, 2, dir, NOATTR), Ok(2));
        assert_eq!(
            p.take_events(),
            vec![
                clean(0x8000_1000, 0x100, dir),
                tsg(
                    "dma_map_sg",
                    &[0x8000_1000, 0x6000_2010],
                    &[(0x8000_1000, 0x100), (0xa000_2010, 0x200)],
                    0,
                    dir,
                    NOATTR
                ),
            ],
            "no cache maintenance for the bus address"
        );
        // d0d08f4bd7f6: sg_dma_len is the entry's length, not left at 0.
        assert_eq!(dma_side(&sgl)[1], (DmaAddr(0xa000_2010), 0x200, SG_DMA_BUS_ADDRESS));
        // Unmap: the bus-address entry is only unmarked.
        dma_unmap_sg_attrs(&mut d, &mut p, &mut sgl, 2, dir, NOATTR).unwrap();
        assert_eq!(
            p.take_events(),
            vec![
                tsg("dma_unmap_sg", &[0x8000_1000, 0x6000_2010], &[], 0, dir, NOATTR),
                arch(ArchHook::SyncForCpu, 0x8000_1000, 0x100, dir, CacheOp::None),
            ]
        );
        assert_eq!(dma_side(&sgl)[1], (DmaAddr(0xa000_2010), 0x200, 0));
    }

    #[test]
    fn thru_host_bridge_segment_is_mapped_like_ram_without_mmio() {
        // 560000d619ef: dma_direct_map_phys(phys) with the caller's attrs, so a CPU address.
        let (mut d, mut p) = setup(true, |_| {});
        let mut sgl = list(&[(HB_BAR + 0x3000, 0x20, 0x100), (0x8000_1000, 0, 0x40)]);
        let dir = DmaDir::FROM_DEVICE;
        assert_eq!(dma_map_sg_attrs(&mut d, &mut p, &mut sgl, 2, dir, NOATTR), Ok(2));
        assert_eq!(
            p.take_events(),
            vec![tsg(
                "dma_map_sg",
                &[0x6100_3020, 0x8000_1000],
                &[(0x6100_3020, 0x100), (0x8000_1000, 0x40)],
                0,
                dir,
                NOATTR
            )]
        );
        assert_eq!(dma_side(&sgl), vec![(DmaAddr(0x6100_3020), 0x100, 0), (DmaAddr(0x8000_1000), 0x40, 0)]);
        // Not MMIO: a non-coherent device cleans the BAR range like RAM.
        let (mut d, mut p) = setup(false, |_| {});
        let mut sgl = list(&[(HB_BAR + 0x3000, 0x20, 0x100)]);
        assert_eq!(dma_map_sg_attrs(&mut d, &mut p, &mut sgl, 1, DmaDir::TO_DEVICE, NOATTR), Ok(1));
        let ev = p.take_events();
        assert_eq!(ev[0], clean(0x6100_3020, 0x100, DmaDir::TO_DEVICE), "{ev:?}");
    }

    #[test]
    fn not_supported_p2p_segment_fails_with_eremoteio_after_unwinding() {
        let (mut d, mut p) = setup(false, |_| {});
        let ents = [(0x8000_1000, 0, 0x100), (BUS_BAR, 0, 0x100), (NS_BAR + 0x1000, 0, 0x100)];
        let mut sgt = SgTable { sgl: list(&ents), nents: 3, orig_nents: 3 };
        let dir = DmaDir::TO_DEVICE;
        assert_eq!(dma_map_sgtable(&mut d, &mut p, &mut sgt, dir, NOATTR), Ok(-EREMOTEIO));
        assert_eq!(p.take_events(), vec![clean(0x8000_1000, 0x100, dir)], "no WARN, no trace");
        // The unwind unmarked the bus-address entry; the failing entry was never written.
        assert_eq!(
            dma_side(&sgt.sgl),
            vec![(DmaAddr(0x8000_1000), 0x100, 0), (DmaAddr(0xa000_0000), 0x100, 0), (DmaAddr(0), 0, 0)]
        );
        let mut sgl = list(&ents);
        assert_eq!(dma_map_sg_attrs(&mut d, &mut p, &mut sgl, 3, dir, NOATTR), Ok(0));
    }

    #[test]
    fn mmio_attr_reaches_every_segment() {
        // The range map would move RAM; MMIO is never translated nor cache-maintained.
        let r = DmaRange { cpu_start: PhysAddr(0x8000_0000), dma_start: 0x1000_0000, size: 0x10_0000 };
        let (mut d, mut p) = setup(false, |c| c.dma_ranges = vec![r]);
        let mut sgl = list(&[(MMIO, 0, 0x100), (MMIO, 0x800, 0x80)]);
        let dir = DmaDir::BIDIRECTIONAL;
        let attrs = DmaAttrs::MMIO;
        assert_eq!(dma_map_sg_attrs(&mut d, &mut p, &mut sgl, 2, dir, attrs), Ok(2));
        assert_eq!(
            p.take_events(),
            vec![tsg("dma_map_sg", &[MMIO, MMIO + 0x800], &[(MMIO, 0x100), (MMIO + 0x800, 0x80)], 0, dir, attrs)]
        );
        dma_unmap_sg_attrs(&mut d, &mut p, &mut sgl, 2, dir, attrs).unwrap();
        assert_eq!(p.take_events(), vec![tsg("dma_unmap_sg", &[MMIO, MMIO + 0x800], &[], 0, dir, attrs)]);
    }

    #[test]
    fn sync_sg_non_coherent_uses_dma_to_phys_and_the_cpu_length() {
        let r = DmaRange { cpu_start: PhysAddr(0x8000_0000), dma_start: 0x1000_0000, size: 0x10_0000 };
        let (mut d, mut p) = setup(false, |c| c.dma_ranges = vec![r]);
        let mut sgl = list(&[(0x8000_1000, 0x40, 0x100), (0x8000_2000, 0, 0x80)]);
        let dir = DmaDir::FROM_DEVICE;
        dma_map_sg_attrs(&mut d, &mut p, &mut sgl, 2, dir, DmaAttrs::SKIP_CPU_SYNC).unwrap();
        assert_eq!(p.take_events().len(), 1, "SKIP_CPU_SYNC: only the tracepoint");
        // A driver shrinking sg_dma_len does not change what the sync covers (sg->length).
        sgl[1].dma_length = 0x10;
        dma_sync_sg_for_cpu(&mut d, &mut p, &mut sgl, 2, dir).unwrap();
        let segs = [(0x1000_1040, 0x100), (0x1000_2000, 0x10)];
        assert_eq!(
            p.take_events(),
            vec![
                inval(0x8000_1040, 0x100, dir),
                inval(0x8000_2000, 0x80, dir),
                tsg("dma_sync_sg_for_cpu", &[], &segs, 0, dir, NOATTR),
            ]
        );
        dma_sync_sg_for_device(&mut d, &mut p, &mut sgl, 1, dir).unwrap();
        assert_eq!(
            p.take_events(),
            vec![clean(0x8000_1040, 0x100, dir), tsg("dma_sync_sg_for_device", &[], &segs[..1], 0, dir, NOATTR)]
        );
    }

    #[test]
    fn sync_sg_does_not_skip_bus_address_entries() {
        let (mut d, mut p) = setup(false, |_| {});
        let mut sgl = list(&[(BUS_BAR, 0, 0x100)]);
        dma_map_sg_attrs(&mut d, &mut p, &mut sgl, 1, DmaDir::TO_DEVICE, NOATTR).unwrap();
        p.take_events();
        dma_sync_sg_for_device(&mut d, &mut p, &mut sgl, 1, DmaDir::TO_DEVICE).unwrap();
        let ev = p.take_events();
        assert_eq!(ev[0], clean(0xa000_0000, 0x100, DmaDir::TO_DEVICE), "dma_to_phys() of the bus address: {ev:?}");
        assert_eq!(
            ev.last(),
            Some(&tsg("dma_sync_sg_for_device", &[], &[(0xa000_0000, 0x100)], 0, DmaDir::TO_DEVICE, NOATTR))
        );
    }

    #[test]
    fn invalid_direction_bugs_before_anything_else() {
        let (mut d, mut p) = setup(false, |_| {});
        let mut sgl = list(&RAM3);
        let bug = || vec![report(ReportKind::Bug, "", "!valid_dma_direction(dir)")];
        let strip = |p: &mut Platform| {
            p.take_events()
                .into_iter()
                .map(|e| match e {
                    Event::Report { kind, text, .. } => report(kind, "", &text),
                    e => e,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(dma_map_sg_attrs(&mut d, &mut p, &mut sgl, 3, DmaDir::NONE, NOATTR), Err(Bug));
        assert_eq!(strip(&mut p), bug());
        let mut sgt = SgTable { sgl: list(&RAM3), nents: 3, orig_nents: 3 };
        assert_eq!(dma_map_sgtable(&mut d, &mut p, &mut sgt, DmaDir(9), NOATTR), Err(Bug));
        assert_eq!(strip(&mut p), bug());
        assert_eq!(dma_unmap_sg_attrs(&mut d, &mut p, &mut sgl, 3, DmaDir::NONE, NOATTR), Err(Bug));
        assert_eq!(strip(&mut p), bug());
        assert_eq!(dma_sync_sg_for_cpu(&mut d, &mut p, &mut sgl, 3, DmaDir::NONE), Err(Bug));
        assert_eq!(strip(&mut p), bug());
        assert_eq!(dma_sync_sg_for_device(&mut d, &mut p, &mut sgl, 3, DmaDir::NONE), Err(Bug));
        assert_eq!(strip(&mut p), bug());
    }

    #[test]
    fn null_dma_mask_warns_once_and_returns_zero() {
        let (mut d, mut p) = setup(true, |c| c.device.dma_mask = None);
        let mut sgl = list(&RAM3);
        assert_eq!(dma_map_sg_attrs(&mut d, &mut p, &mut sgl, 3, DmaDir::TO_DEVICE, NOATTR), Ok(0));
        assert_eq!(p.take_events(), vec![report(ReportKind::WarnOn, "__dma_map_sg_attrs", "!dev->dma_mask")]);
        // dma_map_sgtable reads the 0 as success with no entries; the once-flag is spent.
        let mut sgt = SgTable { sgl: list(&RAM3), nents: 3, orig_nents: 3 };
        assert_eq!(dma_map_sgtable(&mut d, &mut p, &mut sgt, DmaDir::TO_DEVICE, NOATTR), Ok(0));
        assert_eq!(sgt.nents, 0);
        assert!(p.take_events().is_empty());
        // dma_map_phys() has its own WARN_ON_ONCE.
        dma_map_phys(&mut d, &mut p, PhysAddr(0x8000_0000), 0x10, DmaDir::TO_DEVICE, NOATTR).unwrap();
        assert_eq!(p.take_events(), vec![report(ReportKind::WarnOn, "dma_map_phys", "!dev->dma_mask")]);
    }

    #[test]
    fn zero_entries_is_an_unexpected_result_warned_traced_and_turned_into_eio() {
        let (mut d, mut p) = setup(true, |_| {});
        let mut sgt = SgTable { sgl: list(&RAM3), nents: 3, orig_nents: 0 };
        assert_eq!(dma_map_sgtable(&mut d, &mut p, &mut sgt, DmaDir::TO_DEVICE, NOATTR), Ok(-EIO));
        assert_eq!(
            p.take_events(),
            vec![
                report(
                    ReportKind::WarnOn,
                    "__dma_map_sg_attrs",
                    "ents != -EINVAL && ents != -ENOMEM && ents != -EIO && ents != -EREMOTEIO"
                ),
                tsg("dma_map_sg_err", &[], &[], 0, DmaDir::TO_DEVICE, NOATTR),
            ]
        );
        // WARN_ON_ONCE: the second time only the tracepoint.
        let mut sgl = list(&RAM3);
        assert_eq!(dma_map_sg_attrs(&mut d, &mut p, &mut sgl, 0, DmaDir::FROM_DEVICE, NOATTR), Ok(0));
        assert_eq!(p.take_events(), vec![tsg("dma_map_sg_err", &[], &[], 0, DmaDir::FROM_DEVICE, NOATTR)]);
    }
}
