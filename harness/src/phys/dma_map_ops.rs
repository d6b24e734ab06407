//! The parts of include/linux/dma-map-ops.h (and the slab sizing under it) that dma-direct
//! consults.

use super::swiotlb::is_swiotlb_allocated;
use super::Device;
use crate::types::{DmaDir, PAGE_SHIFT, PAGE_SIZE};

/// KMALLOC_MAX_CACHE_SIZE under SLUB: 1 << (PAGE_SHIFT + 1).
const KMALLOC_MAX_CACHE_SIZE: u64 = 1 << (PAGE_SHIFT + 1);
/// KMALLOC_MAX_SIZE: 1 << (MAX_PAGE_ORDER + PAGE_SHIFT), MAX_PAGE_ORDER 10.
const KMALLOC_MAX_SIZE: u64 = 1 << (10 + PAGE_SHIFT);

/// models dev_is_dma_coherent()
pub fn dev_is_dma_coherent(dev: &Device) -> bool {
    dev.dma_coherent
}

/// models get_order()
fn get_order(size: u64) -> u32 {
    let pages = (size - 1) >> PAGE_SHIFT;
    64 - pages.leading_zeros()
}

/// models kmalloc_slab(size)->object_size for size <= KMALLOC_MAX_CACHE_SIZE, with
/// KMALLOC_MIN_SIZE 8 so the kmalloc-96 and kmalloc-192 caches exist (mm/slab_common.c
/// size_index[] up to 192 bytes, fls(size - 1) above).
fn kmalloc_cache_size(size: u64) -> u64 {
    match size {
        0..=8 => 8,
        9..=16 => 16,
        17..=32 => 32,
        33..=64 => 64,
        65..=96 => 96,
        97..=128 => 128,
        129..=192 => 192,
        _ => 1 << (64 - (size - 1).leading_zeros()),
    }
}

/// ARCH_KMALLOC_MINALIGN on arm64 (and arch_slab_minalign(): no KASAN/MTE here).
const ARCH_KMALLOC_MINALIGN: u64 = 8;

/// models __kmalloc_minalign(): the kmalloc caches shrink to ARCH_KMALLOC_MINALIGN only when
/// unaligned buffers can be bounced, i.e. swiotlb was allocated.
fn __kmalloc_minalign(dev: &Device) -> u64 {
    let minalign = if dev.dma_bounce_unaligned_kmalloc && is_swiotlb_allocated(dev) {
        ARCH_KMALLOC_MINALIGN
    } else {
        dma_get_cache_alignment(dev)
    };
    minalign.max(ARCH_KMALLOC_MINALIGN)
}

/// models kmalloc_size_roundup(): new_kmalloc_cache() aliases each cache to the one of
/// ALIGN(size, __kmalloc_minalign()), so that is the object size.
pub fn kmalloc_size_roundup(dev: &Device, size: u64) -> u64 {
    if size != 0 && size <= KMALLOC_MAX_CACHE_SIZE {
        return kmalloc_cache_size(size).next_multiple_of(__kmalloc_minalign(dev));
    }
    if size != 0 && size <= KMALLOC_MAX_SIZE {
        return PAGE_SIZE << get_order(size);
    }
    // 0 (ZERO_SIZE_PTR) and sizes kmalloc() refuses come back unchanged.
    size
}

/// models dma_get_cache_alignment(): ARCH_DMA_MINALIGN where the arch defines it.
pub fn dma_get_cache_alignment(dev: &Device) -> u64 {
    dev.arch_dma_minalign
}

/// models dma_kmalloc_safe()
pub fn dma_kmalloc_safe(dev: &Device, dir: DmaDir) -> bool {
    // Without bouncing the kmalloc() caches are already DMA-aligned.
    if !dev.dma_bounce_unaligned_kmalloc {
        return true;
    }
    // Coherent devices and DMA_TO_DEVICE cannot corrupt a neighbour through maintenance.
    dev_is_dma_coherent(dev) || dir == DmaDir::TO_DEVICE
}

/// models dma_kmalloc_size_aligned()
pub fn dma_kmalloc_size_aligned(dev: &Device, size: u64) -> bool {
    if size >= 2 * dev.arch_dma_minalign {
        return true;
    }
    kmalloc_size_roundup(dev, size).is_multiple_of(dma_get_cache_alignment(dev))
}

/// models dma_kmalloc_needs_bounce(): a size heuristic that also fires for non-kmalloc memory.
pub fn dma_kmalloc_needs_bounce(dev: &Device, size: u64, dir: DmaDir) -> bool {
    !dma_kmalloc_safe(dev, dir) && !dma_kmalloc_size_aligned(dev, size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Arch, Config};

    fn arm64(coherent: bool, swiotlb: bool) -> Device {
        let mut c = Config { arch: Arch::Arm64, ..Default::default() };
        c.device.coherent = coherent;
        c.ram.push(crate::scenario::Region { start: crate::types::PhysAddr(0x8000_0000), size: 0x100_0000 });
        if swiotlb {
            c.swiotlb = Some(crate::scenario::SwiotlbConfig {
                mode: crate::scenario::SwiotlbMode::On,
                start: crate::types::PhysAddr(0x8000_0000),
                nslabs: Some(512),
                nareas: Some(1),
            });
        }
        Device::new(&c, &mut crate::platform::Platform::new(&c))
    }

    #[test]
    fn kmalloc_roundup_follows_the_slub_caches() {
        let d = arm64(false, true);
        let cases = [
            (0, 0),
            (1, 8),
            (9, 16),
            (24, 32),
            (65, 96),
            (96, 96),
            (97, 128),
            (129, 192),
            (193, 256),
            (1000, 1024),
            (8192, 8192),
            (8193, 16384),
            (0x40_0000, 0x40_0000),
            (0x40_0001, 0x40_0001),
        ];
        for (size, want) in cases {
            assert_eq!(kmalloc_size_roundup(&d, size), want, "size {size}");
        }
    }

    #[test]
    fn bounce_heuristic_on_arm64() {
        // With swiotlb allocated the caches are 8-aligned: 64 -> kmalloc-64, 96 -> kmalloc-96
        // are not 128-aligned; 128 and 256 are.
        let d = arm64(false, true);
        assert!(dma_kmalloc_needs_bounce(&d, 64, DmaDir::FROM_DEVICE));
        assert!(dma_kmalloc_needs_bounce(&d, 96, DmaDir::BIDIRECTIONAL));
        assert!(dma_kmalloc_needs_bounce(&d, 129, DmaDir::FROM_DEVICE));
        assert!(!dma_kmalloc_needs_bounce(&d, 128, DmaDir::FROM_DEVICE));
        assert!(!dma_kmalloc_needs_bounce(&d, 193, DmaDir::FROM_DEVICE));
        assert!(!dma_kmalloc_needs_bounce(&d, 0, DmaDir::FROM_DEVICE));
        assert!(!dma_kmalloc_needs_bounce(&d, 64, DmaDir::TO_DEVICE));
        assert!(!dma_kmalloc_needs_bounce(&arm64(true, true), 64, DmaDir::FROM_DEVICE));
        // Without swiotlb every kmalloc cache is ARCH_DMA_MINALIGN-aligned: nothing to bounce.
        let none = arm64(false, false);
        assert_eq!(kmalloc_size_roundup(&none, 64), 128);
        assert_eq!(kmalloc_size_roundup(&none, 192), 256);
        assert!(!dma_kmalloc_needs_bounce(&none, 64, DmaDir::FROM_DEVICE));
        let c = Config { arch: Arch::X86_64, ..Default::default() };
        assert!(!dma_kmalloc_needs_bounce(
            &Device::new(&c, &mut crate::platform::Platform::new(&c)),
            64,
            DmaDir::FROM_DEVICE
        ));
    }
}
