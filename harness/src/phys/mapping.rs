//! kernel/dma/mapping.c and the include/linux/dma-mapping.h inlines, v6.18: dma_map_phys()
//! is the primary entry point and the page and resource calls are wrappers around it
//! (f7326196a781 "dma-mapping: export new dma_*map_phys() interface").
//!
//! get_dma_ops() is always NULL: a device is either dma-direct or, when
//! iommu_setup_dma_ops() gave it a DMA domain, dma-iommu (use_dma_iommu()).

use super::direct::{
    dma_direct_map_phys, dma_direct_sync_single_for_cpu, dma_direct_sync_single_for_device, dma_direct_unmap_phys,
};
use super::dma_iommu::{
    iommu_dma_map_phys, iommu_dma_max_mapping_size, iommu_dma_opt_mapping_size, iommu_dma_sync_single_for_cpu,
    iommu_dma_sync_single_for_device, iommu_dma_unmap_phys,
};
use super::dma_map_ops::dev_is_dma_coherent;
use super::{Device, KResult};
use crate::platform::Platform;
use crate::scatterlist::{Scatterlist, SgTable};
use crate::types::{DmaAddr, DmaAttrs, DmaDir, PhysAddr, DMA_MAPPING_ERROR, PAGE_SIZE};

/// -ENOMEM
pub const ENOMEM: i32 = 12;

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
                | Event::TraceSyncSingle { event, .. } => event,
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

/// models dma_map_sg_attrs()
pub fn dma_map_sg_attrs(
    dev: &mut Device,
    plat: &mut Platform,
    sgl: &mut [Scatterlist],
    nents: u32,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<u32> {
    todo!("sg front end: {:?} {} {} {:?} {}", dev.name, plat.pending_events().len(), sgl.len() as u32 + nents, dir, attrs)
}

/// models dma_map_sgtable()
pub fn dma_map_sgtable(dev: &mut Device, plat: &mut Platform, sgt: &mut SgTable, dir: DmaDir, attrs: DmaAttrs) -> KResult<i32> {
    todo!("sg front end: {:?} {} {} {:?} {}", dev.name, plat.pending_events().len(), sgt.nents, dir, attrs)
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
    todo!("sg front end: {:?} {} {} {:?} {}", dev.name, plat.pending_events().len(), sgl.len() as u32 + nents, dir, attrs)
}

/// models dma_sync_sg_for_cpu()
pub fn dma_sync_sg_for_cpu(dev: &mut Device, plat: &mut Platform, sgl: &mut [Scatterlist], nelems: u32, dir: DmaDir) -> KResult<()> {
    todo!("sg front end: {:?} {} {} {:?}", dev.name, plat.pending_events().len(), sgl.len() as u32 + nelems, dir)
}

/// models dma_sync_sg_for_device()
pub fn dma_sync_sg_for_device(dev: &mut Device, plat: &mut Platform, sgl: &mut [Scatterlist], nelems: u32, dir: DmaDir) -> KResult<()> {
    todo!("sg front end: {:?} {} {} {:?}", dev.name, plat.pending_events().len(), sgl.len() as u32 + nelems, dir)
}
