//! include/linux/dma-direct.h: address translation and dma_capable().

use super::Device;
use crate::types::{DmaAddr, PhysAddr, DMA_MAPPING_ERROR};

/// models translate_phys_to_dma(): the first region containing paddr wins.
pub fn translate_phys_to_dma(dev: &Device, paddr: PhysAddr) -> DmaAddr {
    for m in &dev.dma_range_map {
        let off = paddr.0.wrapping_sub(m.cpu_start.0);
        if paddr.0 >= m.cpu_start.0 && off < m.size {
            return DmaAddr(m.dma_start.wrapping_add(off));
        }
    }
    // Outside every region: make the address unmappable so dma_capable() fails.
    DMA_MAPPING_ERROR
}

/// models translate_dma_to_phys(): (phys_addr_t)-1 when no region contains it.
pub fn translate_dma_to_phys(dev: &Device, dma_addr: DmaAddr) -> PhysAddr {
    for m in &dev.dma_range_map {
        let off = dma_addr.0.wrapping_sub(m.dma_start);
        if dma_addr.0 >= m.dma_start && off < m.size {
            return PhysAddr(m.cpu_start.0.wrapping_add(off));
        }
    }
    PhysAddr(u64::MAX)
}

/// models __phys_to_dma() (generic, !CONFIG_ARCH_HAS_PHYS_TO_DMA)
pub fn __phys_to_dma(dev: &Device, paddr: PhysAddr) -> DmaAddr {
    if !dev.dma_range_map.is_empty() {
        return translate_phys_to_dma(dev, paddr);
    }
    DmaAddr(paddr.0)
}

/// models phys_to_dma(): no memory encryption is modelled, so no SME C-bit is added.
pub fn phys_to_dma(dev: &Device, paddr: PhysAddr) -> DmaAddr {
    __phys_to_dma(dev, paddr)
}

/// models dma_to_phys(): no encryption bit to strip, then the reverse range walk.
pub fn dma_to_phys(dev: &Device, dma_addr: DmaAddr) -> PhysAddr {
    if !dev.dma_range_map.is_empty() {
        return translate_dma_to_phys(dev, dma_addr);
    }
    PhysAddr(dma_addr.0)
}

/// models min_not_zero()
pub fn min_not_zero(a: u64, b: u64) -> u64 {
    match (a, b) {
        (0, b) => b,
        (a, 0) => a,
        (a, b) => a.min(b),
    }
}

/// models dma_capable(). dma_addr_t is 64-bit (CONFIG_ARCH_DMA_ADDR_T_64BIT), so the
/// min_low_pfn test for 32-bit dma_addr_t never applies. `end` wraps like the kernel's.
pub fn dma_capable(dev: &Device, addr: DmaAddr, size: u64, _is_ram: bool) -> bool {
    let end = addr.0.wrapping_add(size).wrapping_sub(1);
    if addr == DMA_MAPPING_ERROR {
        return false;
    }
    // Callers reach here only with a non-NULL dma_mask (dma_map_phys WARNs first).
    end <= min_not_zero(dev.dma_mask.unwrap_or(0), dev.bus_dma_limit)
}

/// models dma_range_map_min() over the table up to its size-0 terminator.
pub fn dma_range_map_min(dev: &Device) -> u64 {
    dev.dma_range_map.iter().take_while(|m| m.size != 0).map(|m| m.dma_start).fold(u64::MAX, u64::min)
}

/// models dma_range_map_max() over the table up to its size-0 terminator.
pub fn dma_range_map_max(dev: &Device) -> u64 {
    dev.dma_range_map
        .iter()
        .take_while(|m| m.size != 0)
        .map(|m| m.dma_start.wrapping_add(m.size).wrapping_sub(1))
        .fold(0, u64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Config, DmaRange};

    fn dev(ranges: &[(u64, u64, u64)], mask: u64, limit: u64) -> Device {
        let mut c = Config::default();
        c.device.dma_mask = Some(mask);
        c.device.bus_dma_limit = limit;
        c.dma_ranges = ranges
            .iter()
            .map(|&(cpu, dma, size)| DmaRange { cpu_start: PhysAddr(cpu), dma_start: dma, size })
            .collect();
        Device::new(&c, &mut crate::platform::Platform::new(&c))
    }

    #[test]
    fn range_map_lookups_at_the_edges() {
        let d = dev(&[(0x8000_0000, 0x0, 0x1000_0000), (0x1_0000_0000, 0x1000_0000, 0x1000)], u64::MAX, 0);
        assert_eq!(phys_to_dma(&d, PhysAddr(0x8000_0000)), DmaAddr(0));
        assert_eq!(phys_to_dma(&d, PhysAddr(0x8fff_ffff)), DmaAddr(0x0fff_ffff));
        assert_eq!(phys_to_dma(&d, PhysAddr(0x9000_0000)), DMA_MAPPING_ERROR);
        assert_eq!(phys_to_dma(&d, PhysAddr(0x1_0000_0fff)), DmaAddr(0x1000_0fff));
        assert_eq!(dma_to_phys(&d, DmaAddr(0x1000_0000)), PhysAddr(0x1_0000_0000));
        assert_eq!(dma_to_phys(&d, DmaAddr(0x1000_1000)), PhysAddr(u64::MAX));
        let id = dev(&[], u64::MAX, 0);
        assert_eq!(phys_to_dma(&id, PhysAddr(0x1234)), DmaAddr(0x1234));
    }

    #[test]
    fn first_matching_region_wins() {
        let d = dev(&[(0x8000_0000, 0x100, 0x1000), (0x8000_0000, 0x9000, 0x2000)], u64::MAX, 0);
        assert_eq!(phys_to_dma(&d, PhysAddr(0x8000_0010)), DmaAddr(0x110));
        assert_eq!(phys_to_dma(&d, PhysAddr(0x8000_1010)), DmaAddr(0xa010));
    }

    #[test]
    fn dma_capable_bounds() {
        let d = dev(&[], 0xffff_ffff, 0);
        assert!(dma_capable(&d, DmaAddr(0xffff_f000), 0x1000, true));
        assert!(!dma_capable(&d, DmaAddr(0xffff_f001), 0x1000, true));
        assert!(!dma_capable(&d, DMA_MAPPING_ERROR, 1, true));
        // size 0: end = addr - 1
        assert!(dma_capable(&d, DmaAddr(0x1_0000_0000), 0, true));
        let lim = dev(&[], u64::MAX, 0x3fff_ffff);
        assert!(dma_capable(&lim, DmaAddr(0x3fff_ff00), 0x100, true));
        assert!(!dma_capable(&lim, DmaAddr(0x3fff_ff00), 0x101, true));
        let both = dev(&[], 0xfff_ffff, 0x3fff_ffff);
        assert!(!dma_capable(&both, DmaAddr(0x1000_0000), 1, false));
    }
}
