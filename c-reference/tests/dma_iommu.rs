//! Pins the legacy (v6.16) dma-iommu model (drivers/iommu/dma-iommu.c over iova.c): the exact
//! IOVAs of spec dma-iommu.md §2.2-§2.10 and §2.13, the flush queue, the swiotlb bounce of
//! untrusted devices, prot bits, and the reports. Every expected address is worked out from
//! the kernel's rules (iova.c's top-down, size-aligned search and its rcache; dma-iommu.c's
//! SAC trick and flush queue); the arithmetic is in the comments.

use dmadiff_cref::{
    BusDmaRegion, Call, CallResult, DeviceConfig, DmaParms, IommuDomainType, IovaDomainId, LegacyModel, PciWindow,
    ResvRegion, ResvType, SwiotlbConfig, SwiotlbMode,
};

mod common;

const BIDIR: u32 = 0;
const TO_DEV: u32 = 1;
const FROM_DEV: u32 = 2;
const SKIP_CPU_SYNC: u64 = 1 << 5;
const PRIVILEGED: u64 = 1 << 9;
const ERR: u64 = u64::MAX;

/// IOMMU prot bits of include/linux/iommu.h.
const READ: i32 = 1;
const WRITE: i32 = 2;
const CACHE: i32 = 4;
const MMIO: i32 = 0x10;
const PRIV: i32 = 0x20;

/// The "drv dev: " prefix dev_printk puts before a message.
const PFX: &str = "nvme 0000:01:00.0: ";
/// A RAM page the tests map.
const RAM: u64 = 0x4000_0000;
/// The swiotlb pool of the bounce tests.
const POOL: u64 = 0x8000_0000;

/// The recording platform, with its mock page table (tests/common).
use common::Rec as Plat;

use common::{iommu, lazy, strict};

/// An untrusted (external-facing) PCI device with a default swiotlb pool at POOL.
fn untrusted() -> DeviceConfig {
    DeviceConfig {
        untrusted: true,
        swiotlb: SwiotlbConfig { mode: SwiotlbMode::On, start: POOL, nslabs: 1024, nareas: 1 },
        ..strict()
    }
}

struct Run {
    model: LegacyModel,
    plat: Plat,
    boot: Vec<String>,
}

impl Run {
    fn new(c: DeviceConfig) -> Self {
        let mut plat = Plat::default();
        let model = LegacyModel::new(&c, &mut plat);
        let boot = std::mem::take(&mut plat.events);
        Run { model, plat, boot }
    }
    /// Runs one call; returns its value and its effects, the dma tracepoints left out.
    fn call(&mut self, call: Call) -> (u64, Vec<String>) {
        self.plat.events.clear();
        let v = match self.model.call(&mut self.plat, call) {
            CallResult::Returned(v) => v,
            other => panic!("{call:?}: {other:?}"),
        };
        let ev = std::mem::take(&mut self.plat.events).into_iter().filter(|e| !e.starts_with("trace dma_")).collect();
        (v, ev)
    }
    fn ret(&mut self, call: Call) -> u64 {
        self.call(call).0
    }
    /// dma_map_page_attrs(page of phys, offset of phys, size, dir, attrs)
    fn map(&mut self, phys: u64, size: u64, dir: u32, attrs: u64) -> (u64, Vec<String>) {
        self.call(Call::MapPageAttrs { page_phys: phys & !0xfff, offset: phys & 0xfff, size, dir, attrs })
    }
    fn map1(&mut self, phys: u64) -> u64 {
        self.map(phys, 0x1000, BIDIR, 0).0
    }
    fn unmap(&mut self, addr: u64, size: u64, dir: u32) -> Vec<String> {
        self.call(Call::UnmapPageAttrs { addr, size, dir, attrs: 0 }).1
    }
    fn nodes(&self) -> Option<Vec<(u64, u64)>> {
        self.model.iova_nodes(IovaDomainId::DmaDomain)
    }
}

fn dev_warning(func: &str, msg: &str) -> String {
    format!("DevWarning {func}: {PFX}{msg}")
}

// ---- set-up ----

#[test]
fn boot_builds_the_domain_without_reports() {
    let r = Run::new(strict());
    assert!(r.boot.is_empty(), "{:?}", r.boot);
    // base_pfn = max(1, 0 >> 12) = 1; nothing reserved, nothing allocated
    assert_eq!(r.nodes(), Some(vec![]));
}

#[test]
fn identity_domain_stays_on_dma_direct() {
    let mut r = Run::new(DeviceConfig { iommu: iommu(IommuDomainType::Identity), ..common::base_device() });
    assert_eq!(r.nodes(), None);
    // dma-direct: the bus address is the physical one, no page table
    let (v, ev) = r.map(RAM + 0x10, 0x100, BIDIR, 0);
    assert_eq!(v, RAM + 0x10);
    assert!(ev.is_empty(), "{ev:?}");
}

#[test]
fn dma_range_outside_the_aperture_keeps_dma_direct() {
    // dma_range_map_min() = 2^48 > aperture_end = 2^48 - 1
    let c = DeviceConfig {
        dma_range_map: vec![BusDmaRegion { cpu_start: 0, dma_start: 1 << 48, size: 1 << 40 }],
        ..strict()
    };
    let mut r = Run::new(c);
    assert_eq!(
        r.boot,
        [
            "DevWarning iommu_dma_init_domain: specified DMA range outside IOMMU capability",
            "DevWarning iommu_setup_dma_ops: Failed to set up IOMMU for device 0000:01:00.0; retaining platform DMA ops",
        ]
    );
    // init failed before init_iova_domain()
    assert_eq!(r.nodes(), None);
    // dma-direct through the range map: 2^48 + phys
    let (v, ev) = r.map(RAM, 0x1000, BIDIR, 0);
    assert_eq!(v, (1 << 48) + RAM);
    assert!(ev.is_empty(), "{ev:?}");
}

#[test]
fn dma_range_overlapping_the_aperture_is_accepted() {
    // [2^47, 2^47 + 2^40) overlaps [0, 2^48): init succeeds and the range does not move the base
    let c = DeviceConfig {
        dma_range_map: vec![BusDmaRegion { cpu_start: 0, dma_start: 1 << 47, size: 1 << 40 }],
        ..strict()
    };
    let mut r = Run::new(c);
    assert!(r.boot.is_empty(), "{:?}", r.boot);
    assert_eq!(r.map1(RAM), 0xffff_f000);
}

// ---- iommu_dma_alloc_iova() ----

#[test]
fn pci_64bit_device_first_map_is_sac() {
    let mut r = Run::new(strict());
    // pci_32bit_workaround: alloc_iova_fast(1, DMA_BIT_MASK(32) >> 12 = 0xfffff): the top pfn
    let (v, ev) = r.map(RAM, 0x1000, BIDIR, 0);
    assert_eq!(v, 0xffff_f000);
    assert_eq!(ev, [format!("map 0xfffff000 {RAM:#x} 0x1000 prot={:#x}", READ | WRITE | CACHE)]);
    // and downward from there
    assert_eq!(r.map1(RAM + 0x1000), 0xffff_e000);
    assert_eq!(r.nodes(), Some(vec![(0xffffe, 0xffffe), (0xfffff, 0xfffff)]));
}

#[test]
fn non_pci_device_allocates_from_the_top_of_mask_and_aperture() {
    // no SAC trick: min(mask, aperture_end) = 2^48 - 1 -> pfn 0xfffffffff
    let mut r = Run::new(DeviceConfig { is_pci: false, ..strict() });
    assert_eq!(r.map1(RAM), 0xffff_ffff_f000);
    // a 40-bit mask below the aperture end: pfn 0xffffffff
    let mut r = Run::new(DeviceConfig { is_pci: false, dma_mask: Some((1 << 40) - 1), ..strict() });
    assert_eq!(r.map1(RAM), 0xff_ffff_f000);
    // min_not_zero(mask, bus_dma_limit): a 36-bit bus limit wins over the 64-bit mask
    let mut r = Run::new(DeviceConfig { is_pci: false, bus_dma_limit: (1 << 36) - 1, ..strict() });
    assert_eq!(r.map1(RAM), 0xf_ffff_f000);
    // without force_aperture the aperture does not clamp: the 64-bit mask gives pfn 2^52 - 1
    let mut c = DeviceConfig { is_pci: false, ..strict() };
    c.iommu.force_aperture = false;
    let mut r = Run::new(c);
    assert_eq!(r.map1(RAM), 0xffff_ffff_ffff_f000);
}

#[test]
fn forcedac_pci_device_starts_at_the_top() {
    let mut c = strict();
    c.iommu.forcedac = true;
    let mut r = Run::new(c);
    let (v, ev) = r.map(RAM, 0x1000, BIDIR, 0);
    assert_eq!(v, 0xffff_ffff_f000);
    assert_eq!(ev.len(), 1, "no notice: {ev:?}");
}

#[test]
fn pci_32bit_exhaustion_switches_to_64bit_for_good() {
    // aperture_start 0xfff80000: base_pfn 0xfff80, so the 32-bit space is 128 pfns.
    // 64-granule maps are order 6: never cached, so a free goes straight back to the tree.
    let mut c = strict();
    c.iommu.aperture_start = 0xfff8_0000;
    let mut r = Run::new(c);
    const SZ: u64 = 64 << 12;
    // (0x100000 - 64) & ~63 = 0xfffc0, then 0xfff80
    assert_eq!(r.map(RAM, SZ, BIDIR, 0).0, 0xfffc_0000);
    assert_eq!(r.map(RAM, SZ, BIDIR, 0).0, 0xfff8_0000);
    // the 32-bit attempt fails: notice with bits_per(2^48 - 1) = 48, then the 48-bit space
    let (v, ev) = r.map(RAM, SZ, BIDIR, 0);
    assert_eq!(v, 0xffff_fffc_0000);
    assert_eq!(
        ev,
        [
            dev_warning("iommu_dma_alloc_iova", "Using 48-bit DMA addresses"),
            format!("map 0xfffffffc0000 {RAM:#x} 0x40000 prot=0x7"),
        ]
    );
    // free 32-bit space again: the device stays on 64-bit addresses, without a new notice
    r.unmap(0xfffc_0000, SZ, BIDIR);
    assert_eq!(r.nodes(), Some(vec![(0xfff80, 0xfffbf), (0xf_ffff_ffc0, 0xf_ffff_ffff)]));
    let (v, ev) = r.map(RAM, SZ, BIDIR, 0);
    assert_eq!(v, 0xffff_fff8_0000);
    assert_eq!(ev, [format!("map 0xfffffff80000 {RAM:#x} 0x40000 prot=0x7")]);
}

#[test]
fn free_32bit_iova_in_the_rcache_is_reused_after_the_switch() {
    // 16 pfns of 32-bit space (base_pfn 0xffff0); single-granule maps are order 0 (cached)
    let mut c = strict();
    c.iommu.aperture_start = 0xffff_0000;
    let mut r = Run::new(c);
    for i in 0..16 {
        assert_eq!(r.map1(RAM), 0xffff_f000 - (i << 12));
    }
    let (v, ev) = r.map(RAM, 0x1000, BIDIR, 0);
    assert_eq!(v, 0xffff_ffff_f000);
    assert_eq!(ev[0], dev_warning("iommu_dma_alloc_iova", "Using 48-bit DMA addresses"));
    // an order-0 free parks pfn 0xffff8 in the rcache; the 64-bit request takes it (pfn <= limit)
    r.unmap(0xffff_8000, 0x1000, BIDIR);
    let (v, ev) = r.map(RAM, 0x1000, BIDIR, 0);
    assert_eq!(v, 0xffff_8000);
    assert_eq!(ev.len(), 1, "{ev:?}");
}

// ---- dma_info_to_prot() and the page/resource maps ----

#[test]
fn prot_bits_follow_dir_coherence_and_privileged() {
    let prot_of = |coherent: bool, dir: u32, attrs: u64| {
        let mut r = Run::new(DeviceConfig { dma_coherent: coherent, ..strict() });
        let (v, ev) = r.map(RAM, 0x1000, dir, attrs | SKIP_CPU_SYNC);
        assert_eq!(v, 0xffff_f000);
        let m = ev.iter().find(|e| e.starts_with("map ")).unwrap().clone();
        i32::from_str_radix(m.rsplit("prot=0x").next().unwrap(), 16).unwrap()
    };
    assert_eq!(prot_of(true, BIDIR, 0), CACHE | READ | WRITE);
    assert_eq!(prot_of(true, TO_DEV, 0), CACHE | READ);
    assert_eq!(prot_of(true, FROM_DEV, 0), CACHE | WRITE);
    assert_eq!(prot_of(false, BIDIR, 0), READ | WRITE);
    assert_eq!(prot_of(false, TO_DEV, 0), READ);
    assert_eq!(prot_of(false, FROM_DEV, PRIVILEGED), PRIV | WRITE);
    assert_eq!(prot_of(true, TO_DEV, PRIVILEGED), CACHE | PRIV | READ);
}

#[test]
fn map_resource_is_mmio_without_cache_or_sync() {
    // coherent device: still no IOMMU_CACHE
    let mut r = Run::new(strict());
    let (v, ev) = r.call(Call::MapResource { phys: 0x10_0000_0800, size: 0x100, dir: BIDIR, attrs: 0 });
    assert_eq!(v, 0xffff_f800);
    assert_eq!(ev, [format!("map 0xfffff000 0x1000000000 0x1000 prot={:#x}", MMIO | READ | WRITE)]);
    // unmap: no iova_to_phys WARN path, strict sync
    let (_, ev) = r.call(Call::UnmapResource { addr: 0xffff_f800, size: 0x100, dir: BIDIR, attrs: 0 });
    assert_eq!(ev, ["unmap 0xfffff000 0x1000", "iotlb_sync 0xfffff000-0xffffffff"]);

    // non-coherent and untrusted: no arch sync, no bounce, PRIV honoured
    let mut r = Run::new(DeviceConfig { dma_coherent: false, ..untrusted() });
    let (v, ev) = r.call(Call::MapResource { phys: 0x10_0000_0010, size: 0x20, dir: FROM_DEV, attrs: PRIVILEGED });
    assert_eq!(v, 0xffff_f010);
    assert_eq!(ev, [format!("map 0xfffff000 0x1000000000 0x1000 prot={:#x}", MMIO | PRIV | WRITE)]);
}

#[test]
fn unaligned_phys_keeps_its_granule_offset() {
    let mut r = Run::new(strict());
    let (v, ev) = r.map(RAM + 0x234, 0x100, BIDIR, 0);
    assert_eq!(v, 0xffff_f234);
    assert_eq!(ev, [format!("map 0xfffff000 {RAM:#x} 0x1000 prot=0x7")]);
    // 0xf00 + 0x200 spans two granules: 2 granules, 2-aligned, below the cached 0xfffff:
    // (0xfffff - 2) & ~1 = 0xffffc
    let (v, ev) = r.map(RAM + 0x1f00, 0x200, BIDIR, 0);
    assert_eq!(v, 0xffff_cf00);
    assert_eq!(ev, [format!("map 0xffffc000 {:#x} 0x2000 prot=0x7", RAM + 0x1000)]);
    // the unmap takes the same offset off and the size up to granules
    let ev = r.unmap(0xffff_cf00, 0x200, BIDIR);
    assert_eq!(ev, ["unmap 0xffffc000 0x2000", "iotlb_sync 0xffffc000-0xffffdfff"]);
}

#[test]
fn non_coherent_map_and_unmap_sync_the_buffer() {
    let mut r = Run::new(DeviceConfig { dma_coherent: false, ..strict() });
    let (v, ev) = r.map(RAM + 0x80, 0x100, TO_DEV, 0);
    assert_eq!(v, 0xffff_f080);
    assert_eq!(
        ev,
        [format!("for_device {:#x} 0x100 1", RAM + 0x80), format!("map 0xfffff000 {RAM:#x} 0x1000 prot=0x1")]
    );
    let ev = r.unmap(0xffff_f080, 0x100, TO_DEV);
    assert_eq!(
        ev,
        [
            format!("for_cpu {:#x} 0x100 1", RAM + 0x80),
            "unmap 0xfffff000 0x1000".into(),
            "iotlb_sync 0xfffff000-0xffffffff".into()
        ]
    );
    // SKIP_CPU_SYNC: no cache maintenance either way
    let (_, ev) = r.map(RAM, 0x1000, BIDIR, SKIP_CPU_SYNC);
    assert_eq!(ev, [format!("map 0xfffff000 {RAM:#x} 0x1000 prot=0x3")]);
}

#[test]
fn sync_single_translates_through_the_page_table() {
    let mut r = Run::new(DeviceConfig { dma_coherent: false, ..strict() });
    let (v, _) = r.map(RAM + 0x80, 0x100, FROM_DEV, 0);
    assert_eq!(v, 0xffff_f080);
    let (_, ev) = r.call(Call::SyncSingleForCpu { addr: 0xffff_f0c0, size: 0x40, dir: FROM_DEV });
    assert_eq!(ev, [format!("for_cpu {:#x} 0x40 2", RAM + 0xc0)]);
    let (_, ev) = r.call(Call::SyncSingleForDevice { addr: 0xffff_f080, size: 0x100, dir: FROM_DEV });
    assert_eq!(ev, [format!("for_device {:#x} 0x100 2", RAM + 0x80)]);

    // coherent and trusted: nothing to do
    let mut r = Run::new(strict());
    let (v, _) = r.map(RAM + 0x80, 0x100, FROM_DEV, 0);
    assert_eq!(v, 0xffff_f080);
    let (_, ev) = r.call(Call::SyncSingleForCpu { addr: v, size: 0x100, dir: FROM_DEV });
    assert!(ev.is_empty(), "{ev:?}");
}

#[test]
fn map_failure_frees_the_iova_at_once() {
    let mut r = Run::new(strict());
    r.plat.fail_next_map = true;
    let (v, ev) = r.map(RAM, 0x1000, BIDIR, 0);
    assert_eq!(v, ERR);
    assert_eq!(ev, [format!("map 0xfffff000 {RAM:#x} 0x1000 prot=0x7")]);
    // iommu_dma_free_iova(.., NULL): straight into the rcache, so the next map reuses it
    assert_eq!(r.map1(RAM), 0xffff_f000);
}

// ---- __iommu_dma_map() / __iommu_dma_unmap() checks ----

#[test]
fn min_align_mask_above_the_granule_fails_with_one_warning() {
    let c = DeviceConfig {
        dma_parms: Some(DmaParms { min_align_mask: 0x1fff, seg_boundary_mask: 0, max_segment_size: 0 }),
        ..strict()
    };
    let mut r = Run::new(c);
    let (v, ev) = r.map(RAM, 0x1000, BIDIR, 0);
    assert_eq!(v, ERR);
    assert_eq!(ev, [format!("DevWarn __iommu_dma_map: {PFX}Unsupported alignment constraint")]);
    // dev_WARN_ONCE: the second failure is silent; nothing was allocated or mapped
    let (v, ev) = r.call(Call::MapResource { phys: 0x10_0000_0000, size: 0x1000, dir: BIDIR, attrs: 0 });
    assert_eq!(v, ERR);
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(r.nodes(), Some(vec![]));
    // min_align_mask == granule - 1 (NVMe) is fine
    r.ret(Call::SetMinAlignMask { mask: 0xfff });
    assert_eq!(r.map1(RAM), 0xffff_f000);
}

#[test]
fn unmap_of_a_never_mapped_iova_warns_every_time_and_unmaps_nothing() {
    let mut r = Run::new(strict());
    let ev = r.unmap(0xffff_f000, 0x1000, BIDIR);
    assert_eq!(ev, ["WarnOnAlways iommu_dma_unmap_page: !phys"]);
    // WARN_ON, not WARN_ON_ONCE
    let ev = r.unmap(0x1234_5000, 0x1000, BIDIR);
    assert_eq!(ev, ["WarnOnAlways iommu_dma_unmap_page: !phys"]);
    // nothing freed into the allocator either
    assert_eq!(r.map1(RAM), 0xffff_f000);
    assert_eq!(r.nodes(), Some(vec![(0xfffff, 0xfffff)]));
}

#[test]
fn short_unmap_warns_and_still_frees() {
    // unmap_resource has no iova_to_phys check: the page table unmaps 0 bytes, WARN_ON fires,
    // and the never-allocated pfn is freed into the rcache anyway
    let mut r = Run::new(strict());
    let (_, ev) = r.call(Call::UnmapResource { addr: 0x1234_5000, size: 0x1000, dir: BIDIR, attrs: 0 });
    assert_eq!(
        ev,
        [
            "unmap 0x12345000 0x1000",
            "WarnOnAlways __iommu_dma_unmap: unmapped != size",
            "iotlb_sync 0xffffffffffffffff-0x0"
        ]
    );
    // free_iova_fast() parked pfn 0x12345 in the order-0 magazine: it comes back first
    assert_eq!(r.map1(RAM), 0x1234_5000);
}

// ---- strict and lazy invalidation ----

#[test]
fn strict_unmap_syncs_and_the_iova_is_reused_at_once() {
    let mut r = Run::new(strict());
    assert_eq!(r.map1(RAM), 0xffff_f000);
    let ev = r.unmap(0xffff_f000, 0x1000, BIDIR);
    assert_eq!(ev, ["unmap 0xfffff000 0x1000", "iotlb_sync 0xfffff000-0xffffffff"]);
    assert_eq!(r.map1(RAM), 0xffff_f000);
    // no flush queue: the timer event does nothing
    let (_, ev) = r.call(Call::FqTimeout);
    assert!(ev.is_empty(), "{ev:?}");
}

#[test]
fn lazy_unmap_defers_reuse_until_the_timer() {
    let mut r = Run::new(lazy());
    assert_eq!(r.map1(RAM), 0xffff_f000);
    let ev = r.unmap(0xffff_f000, 0x1000, BIDIR);
    assert_eq!(ev, ["unmap 0xfffff000 0x1000"]);
    // still queued: the next map gets a fresh IOVA
    assert_eq!(r.map1(RAM), 0xffff_e000);
    // the timer: one flush, then the queue is drained into the rcache
    let (_, ev) = r.call(Call::FqTimeout);
    assert_eq!(ev, ["flush_all"]);
    assert_eq!(r.map1(RAM), 0xffff_f000);
    // the timer is no longer armed
    let (_, ev) = r.call(Call::FqTimeout);
    assert!(ev.is_empty(), "{ev:?}");
}

#[test]
fn lazy_frees_reach_the_rcache_fifo_and_come_back_lifo() {
    let mut r = Run::new(lazy());
    let iovas: Vec<u64> = (0..3).map(|_| r.map1(RAM)).collect();
    assert_eq!(iovas, [0xffff_f000, 0xffff_e000, 0xffff_d000]);
    for &a in &iovas {
        r.unmap(a, 0x1000, BIDIR);
    }
    let (_, ev) = r.call(Call::FqTimeout);
    assert_eq!(ev, ["flush_all"]);
    // freed in queue order f, e, d; the magazine pops the last pushed first
    assert_eq!([r.map1(RAM), r.map1(RAM), r.map1(RAM)], [0xffff_d000, 0xffff_e000, 0xffff_f000]);
}

#[test]
fn lazy_full_queue_flushes_at_the_256th_free() {
    let mut r = Run::new(lazy());
    // p1 = 0xfffff .. p256 = 0xfff00
    let iovas: Vec<u64> = (0..256).map(|_| r.map1(RAM)).collect();
    assert_eq!((iovas[0], iovas[255]), (0xffff_f000, 0xfff0_0000));
    for &a in &iovas[..255] {
        let ev = r.unmap(a, 0x1000, BIDIR);
        assert_eq!(ev.len(), 1, "{ev:?}");
    }
    // 255 entries fill the 256-slot ring: the 256th queue_iova() flushes and drains them all
    let ev = r.unmap(iovas[255], 0x1000, BIDIR);
    assert_eq!(ev, ["unmap 0xfff00000 0x1000", "flush_all"]);
    // p1..p127 filled `loaded`, p128..p254 the swapped-in one, p255 forced the depot push:
    // loaded = [p255], prev = [p1..p127]
    assert_eq!(r.map1(RAM), 0xfff0_1000); // p255
    assert_eq!(r.map1(RAM), 0xfff8_1000); // p127 = 0xfffff - 126
    assert_eq!(r.map1(RAM), 0xfff8_2000); // p126
                                          // p256 (0xfff00) is still queued: the timer drains it (one flush)
    let (_, ev) = r.call(Call::FqTimeout);
    assert_eq!(ev, ["flush_all"]);
}

#[test]
fn shadow_on_flush_uses_one_big_queue() {
    let mut c = lazy();
    c.iommu.shadow_on_flush = true;
    let mut r = Run::new(c);
    let iovas: Vec<u64> = (0..300).map(|_| r.map1(RAM)).collect();
    // 32768 entries: 300 frees never fill it
    for &a in &iovas {
        let ev = r.unmap(a, 0x1000, BIDIR);
        assert_eq!(ev.len(), 1, "{ev:?}");
    }
    assert_eq!(r.map1(RAM), 0xffff_f000 - (300 << 12));
    let (_, ev) = r.call(Call::FqTimeout);
    assert_eq!(ev, ["flush_all"]);
}

#[test]
fn fq_domain_without_deferred_flush_falls_back_to_strict() {
    let mut c = lazy();
    c.iommu.deferred_flush = false;
    let mut r = Run::new(c);
    assert!(r.boot.is_empty(), "{:?}", r.boot);
    assert_eq!(r.map1(RAM), 0xffff_f000);
    let ev = r.unmap(0xffff_f000, 0x1000, BIDIR);
    assert_eq!(ev, ["unmap 0xfffff000 0x1000", "iotlb_sync 0xfffff000-0xffffffff"]);
    assert_eq!(r.map1(RAM), 0xffff_f000);
    let (_, ev) = r.call(Call::FqTimeout);
    assert!(ev.is_empty(), "{ev:?}");
}

#[test]
fn per_cpu_queues_are_drained_cpu_by_cpu_by_the_timer() {
    let mut r = Run::new(DeviceConfig { nr_cpus: 2, ..lazy() });
    assert_eq!(r.map1(RAM), 0xffff_f000);
    assert_eq!(r.map1(RAM), 0xffff_e000);
    // one free queued on each CPU
    r.unmap(0xffff_f000, 0x1000, BIDIR);
    r.ret(Call::RunOnCpu { cpu: 1 });
    r.unmap(0xffff_e000, 0x1000, BIDIR);
    r.ret(Call::RunOnCpu { cpu: 0 });
    let (_, ev) = r.call(Call::FqTimeout);
    assert_eq!(ev, ["flush_all"]);
    // the timer ran on CPU 0: CPU 0's queue (0xfffff) then CPU 1's (0xffffe) went into CPU 0's
    // magazine, which hands back the last one first
    assert_eq!(r.map1(RAM), 0xffff_e000);
    assert_eq!(r.map1(RAM), 0xffff_f000);
}

// ---- reservations ----

#[test]
fn reserved_regions_are_never_handed_out() {
    let mut c = strict();
    c.iommu.resv = vec![
        // x86-style interrupt window, here at the top of the 32-bit space
        ResvRegion { start: 0xfff0_0000, length: 0x10_0000, kind: ResvType::Msi },
        // ARM's software MSI window is not reserved in a DMA domain
        ResvRegion { start: 0xffe0_0000, length: 0x10_0000, kind: ResvType::SwMsi },
        // an RMRR-like direct region, unaligned: pfns 0x1000..0x1001
        ResvRegion { start: 0x100_0800, length: 0x1000, kind: ResvType::Direct },
    ];
    let mut r = Run::new(c);
    assert!(r.boot.is_empty(), "{:?}", r.boot);
    assert_eq!(r.nodes(), Some(vec![(0x1000, 0x1001), (0xfff00, 0xfffff)]));
    // the first IOVA is just below the MSI window, inside the SW_MSI one
    assert_eq!(r.map1(RAM), 0xffef_f000);
    // the window is not mapped in the page table (identity msi pages are only bookkeeping)
    assert_eq!(r.plat.table.len(), 1);
}

#[test]
fn pci_host_bridge_windows_are_reserved_first_for_pci_devices_only() {
    let windows = vec![
        // CPU 0x4_c000_0000..0x4_ffff_ffff at bus 0xc000_0000..0xffff_ffff
        PciWindow { start: 0x4_c000_0000, end: 0x4_ffff_ffff, offset: 0x4_0000_0000 },
    ];
    let mut c = strict();
    c.iommu.pci_windows = windows.clone();
    c.iommu.resv = vec![ResvRegion { start: 0xbfff_f000, length: 0x1000, kind: ResvType::Reserved }];
    let mut r = Run::new(c);
    assert_eq!(r.nodes(), Some(vec![(0xbffff, 0xbffff), (0xc0000, 0xfffff)]));
    assert_eq!(r.map1(RAM), 0xbfff_e000);

    // a platform device has no host bridge
    let mut c = DeviceConfig { is_pci: false, dma_mask: Some(0xffff_ffff), ..strict() };
    c.iommu.pci_windows = windows;
    let mut r = Run::new(c);
    assert_eq!(r.nodes(), Some(vec![]));
    assert_eq!(r.map1(RAM), 0xffff_f000);
}

// ---- the swiotlb bounce (untrusted devices) ----

#[test]
fn untrusted_sub_granule_buffer_is_bounced_with_zeroed_padding() {
    let mut r = Run::new(untrusted());
    let pattern: Vec<u8> = (0..0x200u32).map(|i| (i * 7 + 1) as u8).collect();
    r.plat.write(RAM + 0x100, &pattern);
    // stale bytes in the slot's page beyond the buffer
    r.plat.write(POOL + 0x200, &[0xaa; 0xe00]);
    let (v, ev) = r.map(RAM + 0x100, 0x200, FROM_DEV, 0);
    // alloc_align_mask = iova_mask = 0xfff and min_align_mask 0: the slot is page-aligned,
    // so the IOVA has no offset and covers one granule
    assert_eq!(v, 0xffff_f000);
    assert_eq!(
        ev,
        [
            "trace swiotlb_bounced dev_addr=0x40000100 size=0x200 force=false".to_string(),
            "memcpy 0x80000000 <- 0x40000100 0x200".into(),
            // pre-padding: iova_align_down(0x80000000) = itself, so an empty memset
            "memset 0x80000000 0x0 0x0".into(),
            // post-padding up to the granule
            "memset 0x80000200 0x0 0xe00".into(),
            format!("map 0xfffff000 {POOL:#x} 0x1000 prot=0x6"),
        ]
    );
    assert_eq!(r.plat.read(POOL, 0x200), pattern);
    assert_eq!(r.plat.read(POOL + 0x200, 0xe00), vec![0; 0xe00]);
    assert_eq!(r.model.swiotlb_slot(0).orig_addr, RAM + 0x100);

    // the device writes; unmap copies the bounce buffer back and frees the slots
    r.plat.write(POOL, &[0x5a; 0x200]);
    let ev = r.unmap(0xffff_f000, 0x200, FROM_DEV);
    assert_eq!(
        ev,
        ["unmap 0xfffff000 0x1000", "iotlb_sync 0xfffff000-0xffffffff", "memcpy 0x40000100 <- 0x80000000 0x200"]
    );
    assert_eq!(r.plat.read(RAM + 0x100, 0x200), vec![0x5a; 0x200]);
    assert_eq!(r.model.swiotlb_slot(0).orig_addr, u64::MAX);
}

#[test]
fn bounced_offset_buffer_needs_one_granule_not_two() {
    // §2.7: orig_off 0x800, size 0x1000 -> 2 granules mapped in place, 1 when bounced
    let mut r = Run::new(strict());
    let (v, ev) = r.map(RAM + 0x800, 0x1000, TO_DEV, 0);
    assert_eq!(v, 0xffff_e800);
    assert_eq!(ev, [format!("map 0xffffe000 {RAM:#x} 0x2000 prot=0x5")]);

    let mut r = Run::new(untrusted());
    let (v, ev) = r.map(RAM + 0x800, 0x1000, TO_DEV, 0);
    assert_eq!(v, 0xffff_f000);
    assert_eq!(
        ev,
        [
            "trace swiotlb_bounced dev_addr=0x40000800 size=0x1000 force=false".to_string(),
            "memcpy 0x80000000 <- 0x40000800 0x1000".into(),
            "memset 0x80000000 0x0 0x0".into(),
            "memset 0x80001000 0x0 0x0".into(),
            format!("map 0xfffff000 {POOL:#x} 0x1000 prot=0x5"),
        ]
    );
}

#[test]
fn untrusted_aligned_buffer_is_not_bounced() {
    let mut r = Run::new(untrusted());
    let (v, ev) = r.map(RAM, 0x2000, BIDIR, 0);
    // 2 granules, 2-aligned below 0x100000
    assert_eq!(v, 0xffff_e000);
    assert_eq!(ev, [format!("map 0xffffe000 {RAM:#x} 0x2000 prot=0x7")]);
}

#[test]
fn non_coherent_bounce_syncs_the_bounce_buffer() {
    let mut r = Run::new(DeviceConfig { dma_coherent: false, ..untrusted() });
    let (v, ev) = r.map(RAM + 0x40, 0x80, TO_DEV, 0);
    assert_eq!(v, 0xffff_f000);
    assert_eq!(ev[4], format!("for_device {POOL:#x} 0x80 1"));
    assert_eq!(ev[5], format!("map 0xfffff000 {POOL:#x} 0x1000 prot=0x1"));
    // sync for the device: swiotlb copies orig -> bounce first, then the cache clean
    let (_, ev) = r.call(Call::SyncSingleForDevice { addr: 0xffff_f000, size: 0x80, dir: TO_DEV });
    assert_eq!(ev, [format!("memcpy {POOL:#x} <- 0x40000040 0x80"), format!("for_device {POOL:#x} 0x80 1")]);
}

#[test]
fn untrusted_without_swiotlb_fails_unaligned_maps_warning_once() {
    let c = DeviceConfig {
        swiotlb: SwiotlbConfig { mode: SwiotlbMode::Off, start: 0, nslabs: 0, nareas: 0 },
        ..untrusted()
    };
    let mut r = Run::new(c);
    let msg =
        dev_warning("iommu_dma_map_swiotlb", "DMA bounce buffers are inactive, unable to map unaligned transaction.");
    let (v, ev) = r.map(RAM + 0x10, 0x100, BIDIR, 0);
    assert_eq!(v, ERR);
    assert_eq!(ev, [msg]);
    let (v, ev) = r.map(RAM + 0x10, 0x100, BIDIR, 0);
    assert_eq!(v, ERR);
    assert!(ev.is_empty(), "{ev:?}");
    // aligned buffers still map
    assert_eq!(r.map1(RAM), 0xffff_f000);
}

// ---- reported sizes ----

#[test]
fn reported_mapping_sizes() {
    let mut r = Run::new(strict());
    // iova_rcache_range() = PAGE_SIZE << (IOVA_RANGE_CACHE_MAX_SIZE - 1) = 128 KiB
    assert_eq!(r.ret(Call::DmaOptMappingSize), 0x2_0000);
    assert_eq!(r.ret(Call::DmaMaxMappingSize), u64::MAX);
    // untrusted: swiotlb_max_mapping_size() = 2048 * 128 = 256 KiB
    let parms = DmaParms { min_align_mask: 0, seg_boundary_mask: 0, max_segment_size: 0 };
    let mut r = Run::new(DeviceConfig { dma_parms: Some(parms), ..untrusted() });
    assert_eq!(r.ret(Call::DmaMaxMappingSize), 0x4_0000);
    assert_eq!(r.ret(Call::DmaOptMappingSize), 0x2_0000);
    // with min_align_mask 0xfff: 256 KiB - roundup(0xfff, 2048)
    r.ret(Call::SetMinAlignMask { mask: 0xfff });
    assert_eq!(r.ret(Call::DmaMaxMappingSize), 0x4_0000 - 0x1000);
}
