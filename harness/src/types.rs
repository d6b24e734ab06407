//! Address, direction and attribute types with the kernel's names and values.

use std::fmt;

/// PAGE_SHIFT of the modelled kernels (4K pages).
pub const PAGE_SHIFT: u32 = 12;
/// PAGE_SIZE.
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;

/// A CPU physical address (`phys_addr_t`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PhysAddr(pub u64);

/// A device-visible bus address (`dma_addr_t`, 64-bit: CONFIG_ARCH_DMA_ADDR_T_64BIT).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DmaAddr(pub u64);

/// `DMA_MAPPING_ERROR`: the all-ones dma_addr_t.
pub const DMA_MAPPING_ERROR: DmaAddr = DmaAddr(u64::MAX);

impl PhysAddr {
    /// models PHYS_PFN()
    pub fn pfn(self) -> u64 {
        self.0 >> PAGE_SHIFT
    }
    /// models offset_in_page()
    pub fn offset_in_page(self) -> u64 {
        self.0 & (PAGE_SIZE - 1)
    }
    pub fn wrapping_add(self, off: u64) -> PhysAddr {
        PhysAddr(self.0.wrapping_add(off))
    }
}

impl DmaAddr {
    pub fn wrapping_add(self, off: u64) -> DmaAddr {
        DmaAddr(self.0.wrapping_add(off))
    }
    pub fn is_error(self) -> bool {
        self == DMA_MAPPING_ERROR
    }
}

impl fmt::Debug for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}
impl fmt::Display for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}
impl fmt::Debug for DmaAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
impl fmt::Display for DmaAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_error() {
            f.write_str("DMA_MAPPING_ERROR")
        } else {
            write!(f, "{:#x}", self.0)
        }
    }
}

/// `enum dma_data_direction`, carrying out-of-range values unchecked (the API BUGs on them).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DmaDir(pub u32);

impl DmaDir {
    pub const BIDIRECTIONAL: DmaDir = DmaDir(0);
    pub const TO_DEVICE: DmaDir = DmaDir(1);
    pub const FROM_DEVICE: DmaDir = DmaDir(2);
    pub const NONE: DmaDir = DmaDir(3);

    /// models valid_dma_direction()
    pub fn is_valid(self) -> bool {
        self == Self::BIDIRECTIONAL || self == Self::TO_DEVICE || self == Self::FROM_DEVICE
    }
    /// The C enumerator name, or None for an out-of-range value.
    pub fn kernel_name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "DMA_BIDIRECTIONAL",
            1 => "DMA_TO_DEVICE",
            2 => "DMA_FROM_DEVICE",
            3 => "DMA_NONE",
            _ => return None,
        })
    }
    /// The tracepoint decoder's symbol (`__print_symbolic` in include/trace/events/dma.h).
    pub fn trace_name(self) -> String {
        match self.kernel_name() {
            Some(n) => n.trim_start_matches("DMA_").to_string(),
            None => format!("{:#x}", self.0),
        }
    }
    pub fn from_kernel_name(s: &str) -> Option<DmaDir> {
        [Self::BIDIRECTIONAL, Self::TO_DEVICE, Self::FROM_DEVICE, Self::NONE]
            .into_iter()
            .find(|d| d.kernel_name() == Some(s))
    }
    /// The device may read the buffer (TO_DEVICE or BIDIRECTIONAL).
    pub fn device_reads(self) -> bool {
        self == Self::TO_DEVICE || self == Self::BIDIRECTIONAL
    }
    /// The device may write the buffer (FROM_DEVICE or BIDIRECTIONAL).
    pub fn device_writes(self) -> bool {
        self == Self::FROM_DEVICE || self == Self::BIDIRECTIONAL
    }
}

impl fmt::Display for DmaDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kernel_name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}
impl fmt::Debug for DmaDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A kernel release whose attribute decoder and semantics apply.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum KernelVersion {
    /// v6.16, the legacy page-based API (the C model).
    V6_16,
    /// v6.18, the physical-address API (the Rust mapper).
    V6_18,
}

/// `unsigned long attrs`: DMA_ATTR_* bits; unknown bits are carried.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DmaAttrs(pub u64);

/// (bit, name, first release that defines it) — dma-direct.md §1.1. Bits 11 and up moved
/// during 2026 and are not modelled by either release here.
pub const ATTR_TABLE: &[(u32, &str, KernelVersion)] = &[
    (1, "DMA_ATTR_WEAK_ORDERING", KernelVersion::V6_16),
    (2, "DMA_ATTR_WRITE_COMBINE", KernelVersion::V6_16),
    (4, "DMA_ATTR_NO_KERNEL_MAPPING", KernelVersion::V6_16),
    (5, "DMA_ATTR_SKIP_CPU_SYNC", KernelVersion::V6_16),
    (6, "DMA_ATTR_FORCE_CONTIGUOUS", KernelVersion::V6_16),
    (7, "DMA_ATTR_ALLOC_SINGLE_PAGES", KernelVersion::V6_16),
    (8, "DMA_ATTR_NO_WARN", KernelVersion::V6_16),
    (9, "DMA_ATTR_PRIVILEGED", KernelVersion::V6_16),
    // "dma-mapping: introduce new DMA attribute to indicate MMIO memory" (v6 01/16)
    (10, "DMA_ATTR_MMIO", KernelVersion::V6_18),
];

impl DmaAttrs {
    pub const WEAK_ORDERING: DmaAttrs = DmaAttrs(1 << 1);
    pub const WRITE_COMBINE: DmaAttrs = DmaAttrs(1 << 2);
    pub const NO_KERNEL_MAPPING: DmaAttrs = DmaAttrs(1 << 4);
    pub const SKIP_CPU_SYNC: DmaAttrs = DmaAttrs(1 << 5);
    pub const FORCE_CONTIGUOUS: DmaAttrs = DmaAttrs(1 << 6);
    pub const ALLOC_SINGLE_PAGES: DmaAttrs = DmaAttrs(1 << 7);
    pub const NO_WARN: DmaAttrs = DmaAttrs(1 << 8);
    pub const PRIVILEGED: DmaAttrs = DmaAttrs(1 << 9);
    pub const MMIO: DmaAttrs = DmaAttrs(1 << 10);

    pub fn contains(self, other: DmaAttrs) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }
    pub fn without(self, other: DmaAttrs) -> DmaAttrs {
        DmaAttrs(self.0 & !other.0)
    }
    pub fn bit_by_name(name: &str) -> Option<DmaAttrs> {
        ATTR_TABLE.iter().find(|(_, n, _)| *n == name).map(|(b, _, _)| DmaAttrs(1 << b))
    }

    /// The tracepoint decoder of `version` (`__print_flags`, names without DMA_ATTR_;
    /// bits the release does not know are printed as a hex remainder).
    pub fn trace_decode(self, version: KernelVersion) -> String {
        let mut parts = Vec::new();
        let mut rest = self.0;
        for &(bit, name, since) in ATTR_TABLE {
            if since == KernelVersion::V6_18 && version == KernelVersion::V6_16 {
                continue;
            }
            if rest & (1 << bit) != 0 {
                parts.push(name.trim_start_matches("DMA_ATTR_").to_string());
                rest &= !(1 << bit);
            }
        }
        if rest != 0 {
            parts.push(format!("{rest:#x}"));
        }
        parts.join("|")
    }
}

impl std::ops::BitOr for DmaAttrs {
    type Output = DmaAttrs;
    fn bitor(self, rhs: DmaAttrs) -> DmaAttrs {
        DmaAttrs(self.0 | rhs.0)
    }
}

/// Scenario syntax: `0`, or names joined with `|`, unknown bits as hex.
impl fmt::Display for DmaAttrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0");
        }
        let mut parts = Vec::new();
        let mut rest = self.0;
        for &(bit, name, _) in ATTR_TABLE {
            if rest & (1 << bit) != 0 {
                parts.push(name.to_string());
                rest &= !(1 << bit);
            }
        }
        if rest != 0 {
            parts.push(format!("{rest:#x}"));
        }
        f.write_str(&parts.join("|"))
    }
}
impl fmt::Debug for DmaAttrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_bits_match_the_kernel() {
        assert_eq!(DmaAttrs::SKIP_CPU_SYNC.0, 0x20);
        assert_eq!(DmaAttrs::NO_WARN.0, 0x100);
        assert_eq!(DmaAttrs::MMIO.0, 0x400);
        assert_eq!(DmaAttrs::bit_by_name("DMA_ATTR_PRIVILEGED"), Some(DmaAttrs(0x200)));
    }

    #[test]
    fn legacy_decoder_does_not_know_mmio() {
        let a = DmaAttrs::SKIP_CPU_SYNC | DmaAttrs::MMIO | DmaAttrs(1 << 20);
        assert_eq!(a.trace_decode(KernelVersion::V6_18), "SKIP_CPU_SYNC|MMIO|0x100000");
        assert_eq!(a.trace_decode(KernelVersion::V6_16), "SKIP_CPU_SYNC|0x100400");
        assert_eq!(a.to_string(), "DMA_ATTR_SKIP_CPU_SYNC|DMA_ATTR_MMIO|0x100000");
    }

    #[test]
    fn directions() {
        assert!(DmaDir::FROM_DEVICE.is_valid());
        assert!(!DmaDir::NONE.is_valid());
        assert!(!DmaDir(7).is_valid());
        assert_eq!(DmaDir(7).trace_name(), "0x7");
        assert_eq!(DmaDir::from_kernel_name("DMA_TO_DEVICE"), Some(DmaDir::TO_DEVICE));
    }
}

/// IOMMU protection bits of include/linux/iommu.h (`int prot`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct IommuProt(pub u32);

impl IommuProt {
    pub const READ: IommuProt = IommuProt(1 << 0);
    pub const WRITE: IommuProt = IommuProt(1 << 1);
    pub const CACHE: IommuProt = IommuProt(1 << 2);
    pub const NOEXEC: IommuProt = IommuProt(1 << 3);
    pub const MMIO: IommuProt = IommuProt(1 << 4);
    pub const PRIV: IommuProt = IommuProt(1 << 5);

    pub fn contains(self, o: IommuProt) -> bool {
        self.0 & o.0 == o.0
    }
}

impl std::ops::BitOr for IommuProt {
    type Output = IommuProt;
    fn bitor(self, o: IommuProt) -> IommuProt {
        IommuProt(self.0 | o.0)
    }
}

impl std::ops::BitOrAssign for IommuProt {
    fn bitor_assign(&mut self, o: IommuProt) {
        self.0 |= o.0
    }
}

impl fmt::Display for IommuProt {
    /// `IOMMU_READ|IOMMU_WRITE|IOMMU_CACHE`, or `0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 6] = ["READ", "WRITE", "CACHE", "NOEXEC", "MMIO", "PRIV"];
        let mut parts: Vec<String> = NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, n)| format!("IOMMU_{n}"))
            .collect();
        let unknown = self.0 & !0x3f;
        if unknown != 0 {
            parts.push(format!("{unknown:#x}"));
        }
        if parts.is_empty() {
            f.write_str("0")
        } else {
            f.write_str(&parts.join("|"))
        }
    }
}

impl fmt::Debug for IommuProt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
