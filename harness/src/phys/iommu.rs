//! The drivers/iommu/iommu.c entry points dma-iommu calls, over the platform's mock IOMMU.

use crate::platform::Platform;
use crate::scatterlist::Scatterlist;
use crate::types::{IommuProt, PhysAddr};

/// struct iommu_iotlb_gather, as far as dma-iommu reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IotlbGather {
    pub start: u64,
    pub end: u64,
    /// The IOVA is freed through the flush queue: no sync at unmap time.
    pub queued: bool,
}

impl IotlbGather {
    /// models iommu_iotlb_gather_init()
    pub fn new() -> Self {
        IotlbGather { start: u64::MAX, end: 0, queued: false }
    }
}

impl Default for IotlbGather {
    fn default() -> Self {
        Self::new()
    }
}

/// models iommu_map(): 0 or a negative errno.
pub fn iommu_map(plat: &mut Platform, iova: u64, paddr: PhysAddr, size: u64, prot: IommuProt) -> i32 {
    plat.iommu_map(iova, paddr, size, prot)
}

/// models iommu_map_nosync(): the table update without ops->iotlb_sync_map().
pub fn iommu_map_nosync(plat: &mut Platform, iova: u64, paddr: PhysAddr, size: u64, prot: IommuProt) -> i32 {
    plat.iommu_map(iova, paddr, size, prot)
}

/// models iommu_sync_map(): 0, as the mock domain has no ops->iotlb_sync_map (like SMMUv3).
pub fn iommu_sync_map(_plat: &mut Platform, _iova: u64, _size: u64) -> i32 {
    0
}

/// models iommu_unmap(): a private gather, synced at once.
pub fn iommu_unmap(plat: &mut Platform, iova: u64, size: u64) -> u64 {
    let mut gather = IotlbGather::new();
    let unmapped = iommu_unmap_fast(plat, iova, size, &mut gather);
    iommu_iotlb_sync(plat, &mut gather);
    unmapped
}

/// models iommu_map_sg(): one iommu_map_nosync() per physically contiguous run; bytes or -errno.
pub fn iommu_map_sg(plat: &mut Platform, iova: u64, sg: &[Scatterlist], nents: u32, prot: IommuProt) -> i64 {
    let mut len: u64 = 0;
    let mut mapped: u64 = 0;
    let mut start = PhysAddr(0);
    // `sg` stops at the last entry, so the extra i == nents pass re-reads it to flush the last run.
    let mut k = 0usize;
    let mut i: u32 = 0;
    while i <= nents {
        let s = &sg[k];
        let s_phys = s.phys();
        if len != 0 && s_phys.0 != start.0.wrapping_add(len) {
            let ret = iommu_map_nosync(plat, iova.wrapping_add(mapped), start, len, prot);
            if ret != 0 {
                iommu_unmap(plat, iova, mapped);
                return ret as i64;
            }
            mapped = mapped.wrapping_add(len);
            len = 0;
        }
        // A bus address takes no IOVA: it neither joins nor starts a run.
        if !s.is_bus_address() {
            if len != 0 {
                len = len.wrapping_add(s.length as u64);
            } else {
                len = s.length as u64;
                start = s_phys;
            }
        }
        i += 1;
        if i < nents {
            k += 1;
        }
    }
    let ret = iommu_sync_map(plat, iova, mapped);
    if ret != 0 {
        iommu_unmap(plat, iova, mapped);
        return ret as i64;
    }
    mapped as i64
}

/// models iommu_unmap_fast(): the unmapped range joins the gather (iommu_iotlb_gather_add_range()).
pub fn iommu_unmap_fast(plat: &mut Platform, iova: u64, size: u64, gather: &mut IotlbGather) -> u64 {
    let unmapped = plat.iommu_unmap(iova, size);
    if unmapped != 0 {
        gather.start = gather.start.min(iova);
        gather.end = gather.end.max(iova.wrapping_add(unmapped - 1));
    }
    unmapped
}

/// models iommu_iotlb_sync(): the driver's iotlb_sync over the gather, then a fresh gather.
pub fn iommu_iotlb_sync(plat: &mut Platform, gather: &mut IotlbGather) {
    plat.iommu_iotlb_sync(gather.start, gather.end);
    *gather = IotlbGather::new();
}

/// models iommu_flush_iotlb_all()
pub fn iommu_flush_iotlb_all(plat: &mut Platform) {
    plat.iommu_flush_iotlb_all();
}

/// models iommu_iova_to_phys()
pub fn iommu_iova_to_phys(plat: &Platform, iova: u64) -> PhysAddr {
    plat.iommu_iova_to_phys(iova)
}
