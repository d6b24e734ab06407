//! kernel/dma/direct.{c,h}: the dma-direct back end, v6.18 (e53d29f957b3 "dma-mapping:
//! convert dma_direct_*map_page to be phys_addr_t based").

use super::device::fmt_pad;
use super::dma_direct::{dma_capable, dma_to_phys, phys_to_dma};
use super::dma_map_ops::{dev_is_dma_coherent, dma_kmalloc_needs_bounce};
use super::mapping::{EIO, EREMOTEIO};
use super::p2pdma::{pci_p2pdma_bus_addr_map, pci_p2pdma_state, PciP2pdmaMapState, PciP2pdmaMapType};
use super::swiotlb::{self, is_swiotlb_active, is_swiotlb_force_bounce};
use super::{Device, KResult};
use crate::platform::Platform;
use crate::scatterlist::Scatterlist;
use crate::types::{DmaAddr, DmaAttrs, DmaDir, PhysAddr, DMA_MAPPING_ERROR};

/// models dma_direct_sync_single_for_device()
pub fn dma_direct_sync_single_for_device(
    dev: &mut Device,
    plat: &mut Platform,
    addr: DmaAddr,
    size: u64,
    dir: DmaDir,
) -> KResult<()> {
    let paddr = dma_to_phys(dev, addr);
    swiotlb::swiotlb_sync_single_for_device(dev, plat, paddr, size, dir)?;
    if !dev_is_dma_coherent(dev) {
        plat.arch_sync_dma_for_device(paddr, size, dir);
    }
    Ok(())
}

/// models dma_direct_sync_single_for_cpu()
pub fn dma_direct_sync_single_for_cpu(
    dev: &mut Device,
    plat: &mut Platform,
    addr: DmaAddr,
    size: u64,
    dir: DmaDir,
) -> KResult<()> {
    let paddr = dma_to_phys(dev, addr);
    if !dev_is_dma_coherent(dev) {
        plat.arch_sync_dma_for_cpu(paddr, size, dir);
        plat.arch_sync_dma_for_cpu_all();
    }
    swiotlb::swiotlb_sync_single_for_cpu(dev, plat, paddr, size, dir)?;
    if dir == DmaDir::FROM_DEVICE {
        plat.arch_dma_mark_clean(paddr, size);
    }
    Ok(())
}

/// models dma_direct_map_phys() as inlined into dma_map_phys(); `site` names the inlined
/// copy, because each copy has its own dev_WARN_ONCE flag.
pub fn dma_direct_map_phys(
    dev: &mut Device,
    plat: &mut Platform,
    site: &'static str,
    phys: PhysAddr,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<DmaAddr> {
    // v6.18 leaves dma_addr unset on the force-bounce MMIO path and prints it anyway; the
    // model prints DMA_MAPPING_ERROR there (47322c469d4a later made the path silent).
    let mut dma_addr = DMA_MAPPING_ERROR;
    let overflow = 'ok: {
        if is_swiotlb_force_bounce(dev) {
            if attrs.contains(DmaAttrs::MMIO) {
                break 'ok true;
            }
            return swiotlb::swiotlb_map(dev, plat, phys, size, dir, attrs);
        }
        if attrs.contains(DmaAttrs::MMIO) {
            // MMIO is never translated through dma_range_map nor bounced.
            dma_addr = DmaAddr(phys.0);
            if !dma_capable(dev, dma_addr, size, false) {
                break 'ok true;
            }
        } else {
            dma_addr = phys_to_dma(dev, phys);
            if !dma_capable(dev, dma_addr, size, true) || dma_kmalloc_needs_bounce(dev, size, dir) {
                if is_swiotlb_active(dev) {
                    return swiotlb::swiotlb_map(dev, plat, phys, size, dir, attrs);
                }
                break 'ok true;
            }
        }
        false
    };
    if overflow {
        let msg = format!(
            "DMA addr {}+{size} overflow (mask {:x}, bus limit {:x}).",
            fmt_pad(dma_addr.0),
            dev.dma_mask.unwrap_or(0),
            dev.bus_dma_limit
        );
        dev.dev_warn_once(plat, site, "dma_direct_map_phys", &msg);
        return Ok(DMA_MAPPING_ERROR);
    }
    if !dev_is_dma_coherent(dev) && !attrs.contains(DmaAttrs::SKIP_CPU_SYNC) && !attrs.contains(DmaAttrs::MMIO) {
        plat.arch_sync_dma_for_device(phys, size, dir);
    }
    Ok(dma_addr)
}

/// models dma_direct_unmap_phys()
pub fn dma_direct_unmap_phys(
    dev: &mut Device,
    plat: &mut Platform,
    addr: DmaAddr,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<()> {
    // Nothing to do for MMIO: uncached and never bounced.
    if attrs.contains(DmaAttrs::MMIO) {
        return Ok(());
    }
    let phys = dma_to_phys(dev, addr);
    if !attrs.contains(DmaAttrs::SKIP_CPU_SYNC) {
        dma_direct_sync_single_for_cpu(dev, plat, addr, size, dir)?;
    }
    swiotlb::swiotlb_tbl_unmap_single(dev, plat, phys, size, dir, attrs | DmaAttrs::SKIP_CPU_SYNC)
}

// ---- scatterlists (kernel/dma/direct.c) ---------------------------------------------------

/// models dma_direct_sync_sg_for_device()
pub fn dma_direct_sync_sg_for_device(
    dev: &mut Device,
    plat: &mut Platform,
    sgl: &[Scatterlist],
    nents: u32,
    dir: DmaDir,
) -> KResult<()> {
    let n = dev.sg_entries(plat, sgl.len(), nents, "dma_direct_sync_sg_for_device")?;
    for sg in &sgl[..n] {
        // sg->length, not sg_dma_len(): the CPU length of the entry.
        let paddr = dma_to_phys(dev, sg.dma_address);
        swiotlb::swiotlb_sync_single_for_device(dev, plat, paddr, sg.length as u64, dir)?;
        if !dev_is_dma_coherent(dev) {
            plat.arch_sync_dma_for_device(paddr, sg.length as u64, dir);
        }
    }
    Ok(())
}

/// models dma_direct_sync_sg_for_cpu()
pub fn dma_direct_sync_sg_for_cpu(
    dev: &mut Device,
    plat: &mut Platform,
    sgl: &[Scatterlist],
    nents: u32,
    dir: DmaDir,
) -> KResult<()> {
    // Bus-address (P2PDMA) entries are not skipped: dma_to_phys() of a bus address is synced too.
    let n = dev.sg_entries(plat, sgl.len(), nents, "dma_direct_sync_sg_for_cpu")?;
    for sg in &sgl[..n] {
        let paddr = dma_to_phys(dev, sg.dma_address);
        if !dev_is_dma_coherent(dev) {
            plat.arch_sync_dma_for_cpu(paddr, sg.length as u64, dir);
        }
        swiotlb::swiotlb_sync_single_for_cpu(dev, plat, paddr, sg.length as u64, dir)?;
        // As in v6.16 and the v6.18 single variant; 2026 trees dropped it (a no-op here anyway).
        if dir == DmaDir::FROM_DEVICE {
            plat.arch_dma_mark_clean(paddr, sg.length as u64);
        }
    }
    // Once per list, unlike the single variant's once per call.
    if !dev_is_dma_coherent(dev) {
        plat.arch_sync_dma_for_cpu_all();
    }
    Ok(())
}

/// models dma_direct_unmap_sg()
pub fn dma_direct_unmap_sg(
    dev: &mut Device,
    plat: &mut Platform,
    sgl: &mut [Scatterlist],
    nents: u32,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<()> {
    let n = dev.sg_entries(plat, sgl.len(), nents, "dma_direct_unmap_sg")?;
    for sg in &mut sgl[..n] {
        // A bus address was never mapped: only the mark goes.
        if sg.is_bus_address() {
            sg.unmark_bus_address();
        } else {
            dma_direct_unmap_phys(dev, plat, sg.dma_address, sg.dma_length as u64, dir, attrs)?;
        }
    }
    Ok(())
}

/// models dma_direct_map_sg(): nents, or -EIO / -EREMOTEIO after unmapping the entries
/// before the failing one. Never merges entries.
pub fn dma_direct_map_sg(
    dev: &mut Device,
    plat: &mut Platform,
    sgl: &mut [Scatterlist],
    nents: u32,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<i32> {
    let mut p2pdma_state = PciP2pdmaMapState::default();
    let n = dev.sg_entries(plat, sgl.len(), nents, "dma_direct_map_sg")?;
    let mut failed = None;
    for (i, sg) in sgl.iter_mut().enumerate().take(n) {
        match pci_p2pdma_state(&mut p2pdma_state, plat, sg.page) {
            // 560000d619ef "dma-mapping: direct: fix missing mapping for THRU_HOST_BRIDGE segments": falls through to NONE, attrs unchanged.
            PciP2pdmaMapType::ThruHostBridge | PciP2pdmaMapType::None => {
                // attrs pass through as given, so a caller's DMA_ATTR_MMIO reaches every segment.
                sg.dma_address = dma_direct_map_phys(
                    dev,
                    plat,
                    "direct.h:dma_direct_map_phys@dma_direct_map_sg",
                    sg.phys(),
                    sg.length as u64,
                    dir,
                    attrs,
                )?;
                if sg.dma_address == DMA_MAPPING_ERROR {
                    failed = Some((i, -EIO));
                    break;
                }
            }
            PciP2pdmaMapType::BusAddr => {
                sg.dma_address = pci_p2pdma_bus_addr_map(&p2pdma_state, sg.phys());
                // d0d08f4bd7f6 "dma-direct: Fix missing sg_dma_len assignment in P2PDMA bus mappings"
                sg.dma_length = sg.length;
                sg.mark_bus_address();
                continue;
            }
            PciP2pdmaMapType::NotSupported => {
                failed = Some((i, -EREMOTEIO));
                break;
            }
        }
        sg.dma_length = sg.length;
    }
    if let Some((i, ret)) = failed {
        // The device never saw the first i entries: no CPU sync on the way back.
        dma_direct_unmap_sg(dev, plat, sgl, i as u32, dir, attrs | DmaAttrs::SKIP_CPU_SYNC)?;
        return Ok(ret);
    }
    Ok(nents as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::trace::{ArchHook, CacheOp, Event, ReportKind};
    use crate::scenario::{Config, DmaRange, Region};
    use crate::types::DMA_MAPPING_ERROR;

    fn setup(coherent: bool, ranges: &[DmaRange]) -> (Device, Platform) {
        let mut c = Config::default();
        c.device.coherent = coherent;
        c.ram.push(Region { start: PhysAddr(0x8000_0000), size: 0x10_0000 });
        c.ram.push(Region { start: PhysAddr(0x1_0000_0000), size: 0x10_0000 });
        c.mmio.push(Region { start: PhysAddr(0x4000_0000), size: 0x1000 });
        c.dma_ranges = ranges.to_vec();
        let mut p = Platform::new(&c);
        (Device::new(&c, &mut p), p)
    }

    const SITE: &str = "test";

    fn arch_syncs(p: &mut Platform) -> Vec<(ArchHook, u64, u64, CacheOp)> {
        p.take_events()
            .into_iter()
            .filter_map(|e| match e {
                Event::ArchSync { hook, phys, size, op, .. } => Some((hook, phys.0, size, op)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn map_cleans_only_when_non_coherent_and_not_skipped_or_mmio() {
        let (mut d, mut p) = setup(false, &[]);
        let a = dma_direct_map_phys(&mut d, &mut p, SITE, PhysAddr(0x8000_1000), 0x100, DmaDir::TO_DEVICE, DmaAttrs(0));
        assert_eq!(a, Ok(DmaAddr(0x8000_1000)));
        assert_eq!(arch_syncs(&mut p), vec![(ArchHook::SyncForDevice, 0x8000_1000, 0x100, CacheOp::Clean)]);
        let skip = DmaAttrs::SKIP_CPU_SYNC;
        dma_direct_map_phys(&mut d, &mut p, SITE, PhysAddr(0x8000_1000), 0x100, DmaDir::TO_DEVICE, skip).unwrap();
        dma_direct_map_phys(&mut d, &mut p, SITE, PhysAddr(0x4000_0000), 0x100, DmaDir::TO_DEVICE, DmaAttrs::MMIO)
            .unwrap();
        assert!(p.take_events().is_empty());
        let (mut d, mut p) = setup(true, &[]);
        dma_direct_map_phys(&mut d, &mut p, SITE, PhysAddr(0x8000_1000), 0x100, DmaDir::FROM_DEVICE, DmaAttrs(0))
            .unwrap();
        assert!(p.take_events().is_empty());
    }

    #[test]
    fn mmio_is_not_translated_but_ram_is() {
        let r = DmaRange { cpu_start: PhysAddr(0x8000_0000), dma_start: 0x1000_0000, size: 0x10_0000 };
        let (mut d, mut p) = setup(true, &[r]);
        let ram =
            dma_direct_map_phys(&mut d, &mut p, SITE, PhysAddr(0x8000_2000), 0x10, DmaDir::TO_DEVICE, DmaAttrs(0));
        assert_eq!(ram, Ok(DmaAddr(0x1000_2000)));
        let mmio =
            dma_direct_map_phys(&mut d, &mut p, SITE, PhysAddr(0x4000_0000), 0x10, DmaDir::TO_DEVICE, DmaAttrs::MMIO);
        assert_eq!(mmio, Ok(DmaAddr(0x4000_0000)));
    }

    #[test]
    fn overflow_warns_once_with_the_kernel_text() {
        let (mut d, mut p) = setup(true, &[]);
        let a =
            dma_direct_map_phys(&mut d, &mut p, SITE, PhysAddr(0x1_0000_0000), 0x1000, DmaDir::TO_DEVICE, DmaAttrs(0));
        assert_eq!(a, Ok(DMA_MAPPING_ERROR));
        let ev = p.take_events();
        assert_eq!(
            ev,
            vec![Event::Report {
                kind: ReportKind::DevWarn,
                func: "dma_direct_map_phys".into(),
                text: "dmadiff dmadiff0: DMA addr 0x0000000100000000+4096 overflow (mask ffffffff, bus limit 0)."
                    .into(),
            }]
        );
        // The same site does not print twice; MMIO overflows share it.
        dma_direct_map_phys(&mut d, &mut p, SITE, PhysAddr(0x1_0000_0000), 1, DmaDir::TO_DEVICE, DmaAttrs::MMIO)
            .unwrap();
        assert!(p.take_events().is_empty());
    }

    #[test]
    fn kmalloc_heuristic_bounces_only_when_swiotlb_exists() {
        // No swiotlb: the kmalloc caches stay ARCH_DMA_MINALIGN-aligned, nothing to bounce.
        let (mut d, mut p) = setup(false, &[]);
        let a = dma_direct_map_phys(&mut d, &mut p, SITE, PhysAddr(0x8000_0040), 64, DmaDir::FROM_DEVICE, DmaAttrs(0));
        assert_eq!(a, Ok(DmaAddr(0x8000_0040)));
        // With a pool, a 64-byte FROM_DEVICE buffer of a non-coherent device is bounced.
        let mut c = Config::default();
        c.device.coherent = false;
        c.ram.push(Region { start: PhysAddr(0x8000_0000), size: 0x10_0000 });
        c.ram.push(Region { start: PhysAddr(0x9000_0000), size: 0x10_0000 });
        c.swiotlb = Some(crate::scenario::SwiotlbConfig {
            mode: crate::scenario::SwiotlbMode::On,
            start: PhysAddr(0x9000_0000),
            nslabs: Some(128),
            nareas: Some(1),
        });
        let mut p = Platform::new(&c);
        let mut d = Device::new(&c, &mut p);
        p.take_events();
        let a = dma_direct_map_phys(&mut d, &mut p, SITE, PhysAddr(0x8000_0040), 64, DmaDir::FROM_DEVICE, DmaAttrs(0));
        assert_eq!(a, Ok(DmaAddr(0x9000_0000)));
        let ev = p.take_events();
        assert!(matches!(ev[0], Event::TraceSwiotlbBounced { size: 64, force: false, .. }), "{ev:?}");
        assert_eq!(ev[1], Event::Memcpy { dst: PhysAddr(0x9000_0000), src: PhysAddr(0x8000_0040), size: 64 });
        assert!(matches!(ev[2], Event::ArchSync { hook: ArchHook::SyncForDevice, phys: PhysAddr(0x9000_0000), .. }));
        assert!(!d.dma_skip_sync);
        let a = dma_direct_map_phys(&mut d, &mut p, SITE, PhysAddr(0x8000_0080), 128, DmaDir::FROM_DEVICE, DmaAttrs(0));
        assert_eq!(a, Ok(DmaAddr(0x8000_0080)));
    }

    #[test]
    fn unmap_invalidates_by_direction_and_skips_mmio() {
        let (mut d, mut p) = setup(false, &[]);
        dma_direct_unmap_phys(&mut d, &mut p, DmaAddr(0x8000_1000), 0x80, DmaDir::FROM_DEVICE, DmaAttrs(0)).unwrap();
        assert_eq!(arch_syncs(&mut p), vec![(ArchHook::SyncForCpu, 0x8000_1000, 0x80, CacheOp::Inval)]);
        dma_direct_unmap_phys(&mut d, &mut p, DmaAddr(0x8000_1000), 0x80, DmaDir::TO_DEVICE, DmaAttrs(0)).unwrap();
        assert_eq!(arch_syncs(&mut p), vec![(ArchHook::SyncForCpu, 0x8000_1000, 0x80, CacheOp::None)]);
        dma_direct_unmap_phys(&mut d, &mut p, DmaAddr(0x8000_1000), 0x80, DmaDir::FROM_DEVICE, DmaAttrs::MMIO).unwrap();
        dma_direct_unmap_phys(&mut d, &mut p, DmaAddr(0x8000_1000), 0x80, DmaDir::FROM_DEVICE, DmaAttrs::SKIP_CPU_SYNC)
            .unwrap();
        assert!(p.take_events().is_empty());
    }

    #[test]
    fn partial_syncs_act_on_dma_to_phys_of_the_address_and_the_given_size() {
        let r = DmaRange { cpu_start: PhysAddr(0x8000_0000), dma_start: 0x0, size: 0x10_0000 };
        let (mut d, mut p) = setup(false, &[r]);
        dma_direct_sync_single_for_cpu(&mut d, &mut p, DmaAddr(0x1040), 0x20, DmaDir::BIDIRECTIONAL).unwrap();
        dma_direct_sync_single_for_device(&mut d, &mut p, DmaAddr(0x1071), 0x3, DmaDir::BIDIRECTIONAL).unwrap();
        assert_eq!(
            arch_syncs(&mut p),
            vec![
                (ArchHook::SyncForCpu, 0x8000_1040, 0x20, CacheOp::Inval),
                (ArchHook::SyncForDevice, 0x8000_1071, 0x3, CacheOp::Clean)
            ]
        );
    }

    fn p2p_setup(coherent: bool, f: impl FnOnce(&mut Config)) -> (Device, Platform) {
        use crate::scenario::{P2pProvider, P2pdmaMapType};
        let mut c = Config::default();
        c.device.coherent = coherent;
        c.ram.push(Region { start: PhysAddr(0x8000_0000), size: 0x10_0000 });
        c.mmio.push(Region { start: PhysAddr(0x4000_0000), size: 0x1000 });
        let size = 0x10_0000;
        let route = P2pdmaMapType::BusAddr;
        c.p2p.push(P2pProvider { start: PhysAddr(0x6000_0000), size, bus_start: 0xa000_0000, route });
        let route = P2pdmaMapType::ThruHostBridge;
        c.p2p.push(P2pProvider { start: PhysAddr(0x6100_0000), size, bus_start: 0xb100_0000, route });
        f(&mut c);
        let mut p = Platform::new(&c);
        let d = Device::new(&c, &mut p);
        p.take_events();
        (d, p)
    }

    fn sg(page: u64, offset: u32, length: u32) -> Scatterlist {
        Scatterlist::new(PhysAddr(page), offset, length)
    }

    #[test]
    fn map_sg_reclassifies_when_the_provider_changes() {
        let (mut d, mut p) = p2p_setup(true, |_| {});
        let mut sgl =
            [sg(0x6000_1000, 0, 0x100), sg(0x6100_2000, 8, 0x100), sg(0x6000_3000, 0, 0x40), sg(0x8000_0000, 0, 0x40)];
        assert_eq!(dma_direct_map_sg(&mut d, &mut p, &mut sgl, 4, DmaDir::TO_DEVICE, DmaAttrs(0)), Ok(4));
        let got: Vec<_> = sgl.iter().map(|s| (s.dma_address, s.dma_length, s.is_bus_address())).collect();
        assert_eq!(
            got,
            vec![
                (DmaAddr(0xa000_1000), 0x100, true),
                (DmaAddr(0x6100_2008), 0x100, false),
                (DmaAddr(0xa000_3000), 0x40, true),
                (DmaAddr(0x8000_0000), 0x40, false)
            ]
        );
        assert!(p.take_events().is_empty(), "coherent: no cache maintenance, and the back end traces nothing");
        dma_direct_unmap_sg(&mut d, &mut p, &mut sgl, 4, DmaDir::TO_DEVICE, DmaAttrs(0)).unwrap();
        assert!(sgl.iter().all(|s| !s.is_bus_address()));
    }

    #[test]
    fn map_sg_mmio_on_a_force_bounce_device_fails_the_first_segment() {
        let (mut d, mut p) = p2p_setup(true, |c| {
            c.ram.push(Region { start: PhysAddr(0x9000_0000), size: 0x10_0000 });
            c.swiotlb = Some(crate::scenario::SwiotlbConfig {
                mode: crate::scenario::SwiotlbMode::Force,
                start: PhysAddr(0x9000_0000),
                nslabs: Some(128),
                nareas: Some(1),
            });
        });
        let mut sgl = [sg(0x4000_0000, 0, 0x100), sg(0x4000_0100, 0, 0x100)];
        let r = dma_direct_map_sg(&mut d, &mut p, &mut sgl, 2, DmaDir::TO_DEVICE, DmaAttrs::MMIO);
        assert_eq!(r, Ok(-EIO));
        assert_eq!(
            p.take_events(),
            vec![Event::Report {
                kind: ReportKind::DevWarn,
                func: "dma_direct_map_phys".into(),
                text: "dmadiff dmadiff0: DMA addr 0xffffffffffffffff+256 overflow (mask ffffffff, bus limit 0).".into(),
            }],
            "no bounce for MMIO, and nothing to unwind"
        );
        assert_eq!(sgl[0].dma_address, DMA_MAPPING_ERROR);
        assert_eq!(sgl[1].dma_address, DmaAddr(0));
    }

    #[test]
    fn sync_sg_for_cpu_invalidates_per_entry_with_the_cpu_length() {
        let (mut d, mut p) = setup(false, &[]);
        let mut e = sg(0x8000_1000, 0, 0x100);
        e.dma_address = DmaAddr(0x8000_1000);
        e.dma_length = 0x20;
        let sgl = [e, Scatterlist { dma_address: DmaAddr(0x8000_4000), dma_length: 0x80, ..sg(0x8000_4000, 0, 0x80) }];
        dma_direct_sync_sg_for_cpu(&mut d, &mut p, &sgl, 2, DmaDir::BIDIRECTIONAL).unwrap();
        assert_eq!(
            arch_syncs(&mut p),
            vec![
                (ArchHook::SyncForCpu, 0x8000_1000, 0x100, CacheOp::Inval),
                (ArchHook::SyncForCpu, 0x8000_4000, 0x80, CacheOp::Inval)
            ]
        );
        dma_direct_sync_sg_for_device(&mut d, &mut p, &sgl, 1, DmaDir::TO_DEVICE).unwrap();
        assert_eq!(arch_syncs(&mut p), vec![(ArchHook::SyncForDevice, 0x8000_1000, 0x100, CacheOp::Clean)]);
    }
}
