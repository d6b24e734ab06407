//! The drivers/iommu/iommu.c entry points dma-iommu calls, over the platform's mock IOMMU.

use crate::platform::Platform;
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
