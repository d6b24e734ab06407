//! kernel/dma/direct.{c,h}: the dma-direct back end, v6.18 (e53d29f957b3 "dma-mapping:
//! convert dma_direct_*map_page to be phys_addr_t based").

use super::device::fmt_pad;
use super::dma_direct::{dma_capable, dma_to_phys, phys_to_dma};
use super::dma_map_ops::{dev_is_dma_coherent, dma_kmalloc_needs_bounce};
use super::swiotlb::{self, is_swiotlb_active, is_swiotlb_force_bounce};
use super::{Device, KResult};
use crate::platform::Platform;
use crate::types::{DmaAddr, DmaAttrs, DmaDir, PhysAddr, DMA_MAPPING_ERROR};

/// models dma_direct_sync_single_for_device()
pub fn dma_direct_sync_single_for_device(dev: &mut Device, plat: &mut Platform, addr: DmaAddr, size: u64, dir: DmaDir) {
    let paddr = dma_to_phys(dev, addr);
    swiotlb::swiotlb_sync_single_for_device(dev, plat, paddr, size, dir);
    if !dev_is_dma_coherent(dev) {
        plat.arch_sync_dma_for_device(paddr, size, dir);
    }
}

/// models dma_direct_sync_single_for_cpu()
pub fn dma_direct_sync_single_for_cpu(dev: &mut Device, plat: &mut Platform, addr: DmaAddr, size: u64, dir: DmaDir) {
    let paddr = dma_to_phys(dev, addr);
    if !dev_is_dma_coherent(dev) {
        plat.arch_sync_dma_for_cpu(paddr, size, dir);
        plat.arch_sync_dma_for_cpu_all();
    }
    swiotlb::swiotlb_sync_single_for_cpu(dev, plat, paddr, size, dir);
    if dir == DmaDir::FROM_DEVICE {
        plat.arch_dma_mark_clean(paddr, size);
    }
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
) {
    // Nothing to do for MMIO: uncached and never bounced.
    if attrs.contains(DmaAttrs::MMIO) {
        return;
    }
    let phys = dma_to_phys(dev, addr);
    if !attrs.contains(DmaAttrs::SKIP_CPU_SYNC) {
        dma_direct_sync_single_for_cpu(dev, plat, addr, size, dir);
    }
    swiotlb::swiotlb_tbl_unmap_single(dev, plat, phys, size, dir, attrs | DmaAttrs::SKIP_CPU_SYNC);
}
