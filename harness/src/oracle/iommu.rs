//! IOMMU invariants, checked on each side on its own (the IOMMU issue's list):
//! - live IOVA ranges never overlap, in the allocator-level tree and in the DMA domain's;
//! - the page table holds exactly the live mappings, each mapped to its buffer (or its
//!   bounce slot) with the protection its direction, coherence and attributes imply; so
//!   nothing stays mapped after a full unmap.
//!
//! The protection rule is restated here from include/linux/iommu.h and dma_info_to_prot()
//! (spec dma-iommu.md §2.3, §3 item 2), not taken from either mapper.

use crate::backend::{Backend, IovaTree, Side};
use crate::exec::Mapping;
use crate::platform::Platform;
use crate::scenario::{Config, IommuDomainType, MapKind};
use crate::types::{DmaAttrs, DmaDir, IommuProt};

/// What the oracle knows of the device's IOMMU from the configuration.
pub struct IommuView {
    /// Behind a paging domain (DMA or DMA_FQ).
    paging: bool,
    coherent: bool,
    granule: u64,
    /// The swiotlb pool's physical range, where bounced mappings land.
    pool: Option<(u64, u64)>,
}

impl IommuView {
    pub fn new(cfg: &Config) -> Self {
        let paging = cfg.iommu.as_ref().is_some_and(|i| i.domain != IommuDomainType::Identity);
        IommuView {
            paging,
            coherent: cfg.device.coherent,
            granule: cfg.iommu.as_ref().map_or(4096, |i| i.granule()),
            pool: None,
        }
    }

    /// Where bounced mappings may land.
    pub fn with_pool(mut self, pool: Option<(u64, u64)>) -> Self {
        self.pool = pool;
        self
    }

    /// The protection a streaming mapping of `m` must have on `side`. v6.16 has no
    /// DMA_ATTR_MMIO: bit 10 on its dma_map_page_attrs() means nothing, while a dma_map_phys()
    /// request with it becomes dma_map_resource() there.
    pub fn expected_prot(&self, side: Side, m: &Mapping) -> IommuProt {
        let mmio_attr = m.attrs.contains(DmaAttrs::MMIO) && (side == Side::Phys || m.kind == MapKind::Phys);
        let mmio = m.kind == MapKind::Resource || mmio_attr;
        let mut p = IommuProt::default();
        if mmio {
            p |= IommuProt::MMIO;
        } else if self.coherent {
            p |= IommuProt::CACHE;
        }
        if m.attrs.contains(DmaAttrs::PRIVILEGED) {
            p |= IommuProt::PRIV;
        }
        match m.dir {
            DmaDir::BIDIRECTIONAL => p | IommuProt::READ | IommuProt::WRITE,
            DmaDir::TO_DEVICE => p | IommuProt::READ,
            DmaDir::FROM_DEVICE => p | IommuProt::WRITE,
            _ => IommuProt::default(),
        }
    }

    /// The page table against the live mappings; `uses_iommu` says whether the device got
    /// dma-iommu ops at all (a failed domain init leaves it on dma-direct).
    pub fn check_page_table<'m>(
        &self,
        side: Side,
        plat: &Platform,
        uses_iommu: bool,
        maps: impl Iterator<Item = &'m Mapping>,
    ) -> Vec<String> {
        let Some(mmu) = plat.iommu() else { return Vec::new() };
        if !self.paging || !uses_iommu {
            return Vec::new();
        }
        let g = self.granule;
        let live: Vec<&Mapping> =
            maps.filter(|m| m.mapped && m.live && !m.allocator_level && !m.tainted && m.size != 0).collect();
        let mut out = Vec::new();
        for m in &live {
            let want = self.expected_prot(side, m);
            let mut at = m.dma.0 as u128;
            let end = m.dma.0 as u128 + m.size as u128;
            let first = mmu.iova_to_phys(m.dma.0);
            let bounced = self.pool.is_some_and(|(a, b)| first.0 >= a && first.0 < b);
            if first.0 != m.phys.0 && !bounced {
                out.push(format!(
                    "iova {} of a live mapping translates to {first}, not to its buffer {} or a bounce slot",
                    m.dma, m.phys
                ));
                continue;
            }
            while at < end {
                let Some(e) = (at <= u64::MAX as u128).then(|| mmu.extent_at(at as u64)).flatten() else {
                    out.push(format!("iova {at:#x} of the live mapping at {} is not in the page table", m.dma));
                    break;
                };
                if e.prot != want {
                    out.push(format!(
                        "iova {at:#x} of the live mapping at {} has prot {}, but dir {}{} implies {want}",
                        m.dma,
                        e.prot,
                        m.dir,
                        if m.attrs.0 != 0 { format!(" attrs {}", m.attrs) } else { String::new() }
                    ));
                    break;
                }
                at = e.iova as u128 + e.size as u128;
            }
        }
        for e in mmu.extents() {
            let owned = live.iter().any(|m| {
                let lo = (m.dma.0 & !(g - 1)) as u128;
                let hi = (m.dma.0 as u128 + m.size as u128 + (g - 1) as u128) & !((g - 1) as u128);
                (e.iova as u128) < hi && lo < e.iova as u128 + e.size as u128
            });
            if !owned && out.len() < 8 {
                out.push(format!(
                    "page table maps iova {:#x}+{:#x} -> {} ({}), which no live mapping owns",
                    e.iova, e.size, e.phys, e.prot
                ));
            }
        }
        out
    }
}

/// Once every mapping is unmapped, each node of the DMA domain's tree that boot did not
/// reserve must be parked for reuse (in a range cache or a flush queue): otherwise its range
/// can never be allocated again.
pub fn check_iova_reusable(be: &dyn Backend, boot_nodes: &[(u64, u64)]) -> Vec<String> {
    let (Some(nodes), Some(parked)) = (be.iova_nodes(IovaTree::DmaDomain), be.iova_parked(IovaTree::DmaDomain)) else {
        return Vec::new();
    };
    let parked: std::collections::HashSet<u64> = parked.into_iter().collect();
    nodes
        .iter()
        .filter(|n| !boot_nodes.contains(n) && !parked.contains(&n.0))
        .take(4)
        .map(|&(lo, hi)| {
            format!(
                "every mapping was unmapped, but iova [{lo:#x}-{hi:#x}] is still allocated and in no range cache or \
                 flush queue: it can never be allocated again"
            )
        })
        .collect()
}

/// Live IOVA ranges never overlap, and each node is a proper range.
pub fn check_iova_trees(be: &dyn Backend) -> Vec<String> {
    let mut out = Vec::new();
    for (which, name) in [(IovaTree::Standalone, "allocator-level"), (IovaTree::DmaDomain, "DMA domain")] {
        let Some(nodes) = be.iova_nodes(which) else { continue };
        for (i, &(lo, hi)) in nodes.iter().enumerate() {
            if lo > hi {
                out.push(format!("{name} iova tree: node [{lo:#x}-{hi:#x}] is empty"));
            }
            if let Some(&(nlo, nhi)) = nodes.get(i + 1) {
                if nlo <= hi {
                    out.push(format!("{name} iova tree: [{lo:#x}-{hi:#x}] overlaps [{nlo:#x}-{nhi:#x}]"));
                }
            }
        }
    }
    out
}
