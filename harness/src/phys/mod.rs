//! The physical-address-based streaming DMA mapper, as Linux v6.18 defines it.
//!
//! Modules follow the kernel's files: [`mapping`] is kernel/dma/mapping.c (with the
//! include/linux/dma-mapping.h inlines), [`direct`] is kernel/dma/direct.{c,h},
//! [`dma_direct`] is include/linux/dma-direct.h, [`dma_map_ops`] the parts of
//! include/linux/dma-map-ops.h that dma-direct uses, [`swiotlb`] kernel/dma/swiotlb.c,
//! [`iova`] drivers/iommu/iova.c, [`dma_iommu`] drivers/iommu/dma-iommu.c and [`iommu`]
//! the drivers/iommu/iommu.c entry points over the platform's mock IOMMU; [`p2pdma`] is
//! include/linux/pci-p2pdma.h.

pub mod device;
pub mod direct;
pub mod dma_direct;
pub mod dma_iommu;
pub mod dma_map_ops;
pub mod iommu;
pub mod iova;
pub mod mapping;
pub mod p2pdma;
pub mod swiotlb;

pub use device::{Bug, Device, KResult};
