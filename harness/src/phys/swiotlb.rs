//! kernel/dma/swiotlb.c. Not modelled yet: no device has an io_tlb_mem, so every
//! predicate is false and the copy helpers only act on pool addresses, of which there are none.

use super::{Device, KResult};
use crate::platform::trace::ReportKind;
use crate::platform::Platform;
use crate::types::{DmaAddr, DmaAttrs, DmaDir, PhysAddr, DMA_MAPPING_ERROR};

/// models is_swiotlb_force_bounce()
pub fn is_swiotlb_force_bounce(_dev: &Device) -> bool {
    false
}

/// models is_swiotlb_active()
pub fn is_swiotlb_active(_dev: &Device) -> bool {
    false
}

/// models is_swiotlb_buffer()
pub fn is_swiotlb_buffer(_dev: &Device, _paddr: PhysAddr) -> bool {
    false
}

/// models swiotlb_map(); unreachable while both predicates above are false, and reported
/// the same way as the C model's stub if that ever changes.
pub fn swiotlb_map(
    _dev: &mut Device,
    plat: &mut Platform,
    _phys: PhysAddr,
    _size: u64,
    _dir: DmaDir,
    _attrs: DmaAttrs,
) -> KResult<DmaAddr> {
    plat.report(ReportKind::DevErr, "swiotlb_map", "swiotlb not configured");
    Ok(DMA_MAPPING_ERROR)
}

/// models swiotlb_tbl_unmap_single(): acts only on pool addresses.
pub fn swiotlb_tbl_unmap_single(
    dev: &mut Device,
    _plat: &mut Platform,
    paddr: PhysAddr,
    _size: u64,
    _dir: DmaDir,
    _attrs: DmaAttrs,
) {
    if is_swiotlb_buffer(dev, paddr) {
        unreachable!("no swiotlb pools are modelled yet");
    }
}

/// models swiotlb_sync_single_for_device(): acts only on pool addresses.
pub fn swiotlb_sync_single_for_device(
    dev: &mut Device,
    _plat: &mut Platform,
    paddr: PhysAddr,
    _size: u64,
    _dir: DmaDir,
) {
    if is_swiotlb_buffer(dev, paddr) {
        unreachable!("no swiotlb pools are modelled yet");
    }
}

/// models swiotlb_sync_single_for_cpu(): acts only on pool addresses.
pub fn swiotlb_sync_single_for_cpu(dev: &mut Device, _plat: &mut Platform, paddr: PhysAddr, _size: u64, _dir: DmaDir) {
    if is_swiotlb_buffer(dev, paddr) {
        unreachable!("no swiotlb pools are modelled yet");
    }
}
