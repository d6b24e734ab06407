//! The mock IOMMU: one paging domain's page table, shared by both sides.
//!
//! Entries are kept as extents (one per successful `iommu_map()`), so a table over a 48-bit
//! aperture costs what one over 32 bits costs. The checks follow drivers/iommu/iommu.c
//! (`iommu_map_nosync()`, `__iommu_unmap()`) and an io-pgtable with granule-sized leaves;
//! like the iommufd selftest's mock domain, an unmap must not split an earlier map.

use std::collections::BTreeMap;

use crate::types::{IommuProt, PhysAddr};

/// EINVAL, ERANGE and EEXIST as the page-table code returns them.
pub const EINVAL: i32 = 22;
pub const ERANGE: i32 = 34;
pub const EEXIST: i32 = 17;

/// One successful map: `[iova, iova + size)` to `[phys, phys + size)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    pub iova: u64,
    pub phys: PhysAddr,
    pub size: u64,
    pub prot: IommuProt,
}

impl Extent {
    /// One past the last IOVA, in 128 bits: an extent may end at 2^64.
    fn end(&self) -> u128 {
        self.iova as u128 + self.size as u128
    }
}

/// Why an `iommu_map()` failed before touching the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapError {
    /// iova, paddr or size not granule-aligned: the pr_err text.
    Unaligned(String),
    /// Beyond the input address size of the page table.
    Range,
    /// Some granule is already mapped.
    Exists,
}

/// The result of an unmap: what went and whether it split a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unmapped {
    pub bytes: u64,
    /// The range started or ended inside an earlier map (exact-cover violation).
    pub split: bool,
    /// `__iommu_unmap()` refused it: iova or size not granule-aligned.
    pub unaligned: bool,
}

/// A device access the IOMMU refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IommuFault(pub String);

#[derive(Clone, Debug)]
pub struct Iommu {
    granule: u64,
    /// Highest IOVA the table can hold (the aperture end).
    last_iova: u64,
    /// Extents by start IOVA; they never overlap.
    table: BTreeMap<u64, Extent>,
}

impl Iommu {
    pub fn new(granule: u64, last_iova: u64) -> Self {
        Iommu { granule, last_iova, table: BTreeMap::new() }
    }

    pub fn granule(&self) -> u64 {
        self.granule
    }

    /// The extent holding `iova`, if any.
    fn lookup(&self, iova: u64) -> Option<&Extent> {
        self.table.range(..=iova).next_back().map(|(_, e)| e).filter(|e| (iova as u128) < e.end())
    }

    /// models iommu_map_nosync() on the page table: all or nothing.
    pub fn map(&mut self, iova: u64, paddr: PhysAddr, size: u64, prot: IommuProt) -> Result<(), MapError> {
        let min = self.granule;
        if (iova | paddr.0 | size) & (min - 1) != 0 {
            return Err(MapError::Unaligned(format!(
                "unaligned: iova {iova:#x} pa {:#018x} size {size:#x} min_pagesz {min:#x}",
                paddr.0
            )));
        }
        if size == 0 {
            return Ok(());
        }
        let last = iova.checked_add(size - 1).ok_or(MapError::Range)?;
        if last > self.last_iova {
            return Err(MapError::Range);
        }
        // Any extent starting below `last + 1` and ending above `iova` overlaps.
        if self.table.range(..=last).next_back().is_some_and(|(_, e)| e.end() > iova as u128) {
            return Err(MapError::Exists);
        }
        self.table.insert(iova, Extent { iova, phys: paddr, size, prot });
        Ok(())
    }

    /// models __iommu_unmap(): granule by granule from `iova` until the first hole.
    pub fn unmap(&mut self, iova: u64, size: u64) -> Unmapped {
        let min = self.granule;
        if (iova | size) & (min - 1) != 0 {
            return Unmapped { bytes: 0, split: false, unaligned: true };
        }
        let end = iova as u128 + size as u128;
        let mut cur = iova as u128;
        let mut split = false;
        while cur < end && cur <= u64::MAX as u128 {
            let Some(e) = self.lookup(cur as u64).copied() else { break };
            self.table.remove(&e.iova);
            if (e.iova as u128) < cur {
                split = true;
                self.table.insert(e.iova, Extent { size: (cur - e.iova as u128) as u64, ..e });
            }
            if e.end() > end {
                split = true;
                let off = (end - e.iova as u128) as u64;
                let at = end as u64;
                self.table.insert(
                    at,
                    Extent { iova: at, phys: e.phys.wrapping_add(off), size: (e.end() - end) as u64, prot: e.prot },
                );
            }
            cur = e.end().min(end);
        }
        Unmapped { bytes: (cur - iova as u128) as u64, split, unaligned: false }
    }

    /// models iommu_iova_to_phys(): 0 when nothing is mapped there.
    pub fn iova_to_phys(&self, iova: u64) -> PhysAddr {
        self.lookup(iova).map_or(PhysAddr(0), |e| e.phys.wrapping_add(iova - e.iova))
    }

    /// A device access of `[iova, iova + len)`: the physical pieces it reaches, in order,
    /// or the fault the IOMMU raises (before any byte moves).
    pub fn translate(&self, iova: u64, len: u64, write: bool) -> Result<Vec<(PhysAddr, u64)>, IommuFault> {
        let need = if write { IommuProt::WRITE } else { IommuProt::READ };
        self.walk(iova, len, Some(need))
    }

    /// Where `[iova, iova + len)` points, whatever the protection (the oracles' view).
    pub fn resolve(&self, iova: u64, len: u64) -> Result<Vec<(PhysAddr, u64)>, IommuFault> {
        self.walk(iova, len, None)
    }

    fn walk(&self, iova: u64, len: u64, need: Option<IommuProt>) -> Result<Vec<(PhysAddr, u64)>, IommuFault> {
        let what = if need == Some(IommuProt::WRITE) { "write" } else { "read" };
        let end = iova as u128 + len as u128;
        let mut pieces: Vec<(PhysAddr, u64)> = Vec::new();
        let mut cur = iova as u128;
        while cur < end {
            if cur > u64::MAX as u128 {
                return Err(IommuFault(format!("{what} at iova {iova:#x}+{len:#x} wraps past 2^64")));
            }
            let Some(e) = self.lookup(cur as u64) else {
                return Err(IommuFault(format!("unhandled context fault: {what} at iova {cur:#x}: not mapped")));
            };
            if need.is_some_and(|need| !e.prot.contains(need)) {
                return Err(IommuFault(format!(
                    "unhandled context fault: {what} at iova {cur:#x}: permission fault (prot {})",
                    e.prot
                )));
            }
            let n = (e.end().min(end) - cur) as u64;
            let p = e.phys.wrapping_add((cur - e.iova as u128) as u64);
            match pieces.last_mut() {
                Some((q, l)) if q.0.wrapping_add(*l) == p.0 => *l += n,
                _ => pieces.push((p, n)),
            }
            cur += n as u128;
        }
        Ok(pieces)
    }

    /// The extent holding `iova`, if any.
    pub fn extent_at(&self, iova: u64) -> Option<&Extent> {
        self.lookup(iova)
    }

    /// The live entries in IOVA order.
    pub fn extents(&self) -> impl Iterator<Item = &Extent> {
        self.table.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_checks_alignment_range_and_overlap() {
        let mut m = Iommu::new(0x1000, (1 << 32) - 1);
        let rw = IommuProt::READ | IommuProt::WRITE;
        assert!(matches!(m.map(0x1800, PhysAddr(0x8000_0000), 0x1000, rw), Err(MapError::Unaligned(_))));
        assert_eq!(m.map(0xffff_f000, PhysAddr(0x8000_0000), 0x2000, rw), Err(MapError::Range));
        assert_eq!(m.map(0x2000, PhysAddr(0x8000_0000), 0x2000, rw), Ok(()));
        assert_eq!(m.map(0x3000, PhysAddr(0x9000_0000), 0x1000, rw), Err(MapError::Exists));
        assert_eq!(m.map(0x1000, PhysAddr(0x9000_0000), 0x2000, rw), Err(MapError::Exists));
        assert_eq!(m.map(0x4000, PhysAddr(0x9000_0000), 0x1000, IommuProt::READ), Ok(()));
        assert_eq!(m.iova_to_phys(0x3abc), PhysAddr(0x8000_1abc));
        assert_eq!(m.iova_to_phys(0x5000), PhysAddr(0));
    }

    #[test]
    fn unmap_stops_at_holes_and_flags_splits() {
        let mut m = Iommu::new(0x1000, u64::MAX);
        let rw = IommuProt::READ | IommuProt::WRITE;
        m.map(0x10000, PhysAddr(0x8000_0000), 0x4000, rw).unwrap();
        m.map(0x14000, PhysAddr(0x9000_0000), 0x1000, rw).unwrap();
        // Two whole maps in one call is an exact cover.
        assert_eq!(m.unmap(0x10000, 0x5000), Unmapped { bytes: 0x5000, split: false, unaligned: false });
        m.map(0x10000, PhysAddr(0x8000_0000), 0x4000, rw).unwrap();
        assert_eq!(m.unmap(0x11000, 0x1000), Unmapped { bytes: 0x1000, split: true, unaligned: false });
        assert_eq!(m.iova_to_phys(0x12000), PhysAddr(0x8000_2000));
        assert_eq!(m.unmap(0x11000, 0x1000).bytes, 0);
        assert!(m.unmap(0x10800, 0x1000).unaligned);
    }

    #[test]
    fn translation_merges_contiguous_pieces_and_checks_prot() {
        let mut m = Iommu::new(0x1000, u64::MAX);
        m.map(0x1000, PhysAddr(0x8000_0000), 0x1000, IommuProt::READ | IommuProt::WRITE).unwrap();
        m.map(0x2000, PhysAddr(0x8000_1000), 0x1000, IommuProt::READ).unwrap();
        m.map(0x3000, PhysAddr(0x7000_0000), 0x1000, IommuProt::READ).unwrap();
        assert_eq!(
            m.translate(0x1800, 0x2000, false),
            Ok(vec![(PhysAddr(0x8000_0800), 0x1800), (PhysAddr(0x7000_0000), 0x800)])
        );
        assert!(m.translate(0x1800, 0x1000, true).is_err());
        assert!(m.translate(0x3800, 0x1000, false).is_err());
    }
}
