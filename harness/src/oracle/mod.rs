//! The oracles: the differential comparison with its allow-list, and data integrity.

pub mod allowlist;
pub mod cross;
pub mod diff;
pub mod dma_debug;
pub mod integrity;
pub mod iommu;
pub mod sg;
pub mod swiotlb;
