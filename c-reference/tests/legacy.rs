//! Pins the legacy (v6.16) C model at its edges. Every expected value below is worked out
//! from the kernel rules (kernel/dma/mapping.c, kernel/dma/direct.{c,h},
//! include/linux/dma-direct.h, include/linux/dma-map-ops.h, mm/slab_common.c), not copied
//! from the model's output.

use dmadiff_cref::{BusDmaRegion, Call, CallResult, DeviceConfig, LegacyModel, SwiotlbConfig, SwiotlbMode};

const BIDIR: u32 = 0;
const TO_DEV: u32 = 1;
const FROM_DEV: u32 = 2;
const DMA_NONE: u32 = 3;
const SKIP_CPU_SYNC: u64 = 1 << 5;
const WEAK_ORDERING: u64 = 1 << 1;
const BIT10: u64 = 1 << 10;
const ERR: u64 = u64::MAX;

mod common;
use common::Rec;

/// The swiotlb pool of the tests that bounce: 2 MiB at 2 GiB, one area.
const POOL: u64 = 0x8000_0000;

/// A coherent device with a 64-bit mask, no dma_range_map, arm64 configuration, booted with
/// swiotlb=noforce (no pool, so nothing bounces and the kmalloc caches are 128-aligned).
fn cfg() -> DeviceConfig {
    common::base_device()
}

/// The same device with the default pool at POOL (1024 slots, one area).
fn with_pool(c: DeviceConfig) -> DeviceConfig {
    DeviceConfig { swiotlb: SwiotlbConfig { mode: SwiotlbMode::On, start: POOL, nslabs: 1024, nareas: 1 }, ..c }
}

fn noncoherent() -> DeviceConfig {
    DeviceConfig { dma_coherent: false, ..cfg() }
}

/// One region: CPU 0x8000_0000.. maps to bus 0x1000_0000.., 1 GiB.
fn offset_map() -> Vec<BusDmaRegion> {
    vec![BusDmaRegion { cpu_start: 0x8000_0000, dma_start: 0x1000_0000, size: 0x4000_0000 }]
}

/// The "drv dev: " prefix dev_printk puts before a message.
const PFX: &str = "nvme 0000:01:00.0: ";

struct Run {
    model: LegacyModel,
    rec: Rec,
}

impl Run {
    fn new(cfg: DeviceConfig) -> Self {
        let mut rec = Rec::default();
        let model = LegacyModel::new(&cfg, &mut rec);
        rec.events.clear();
        Run { model, rec }
    }
    /// Runs one call; returns its result and the effects it had.
    fn call(&mut self, call: Call) -> (CallResult, Vec<String>) {
        self.rec.events.clear();
        let r = self.model.call(&mut self.rec, call);
        (r, std::mem::take(&mut self.rec.events))
    }
}

fn map_page(page_phys: u64, offset: u64, size: u64, dir: u32, attrs: u64) -> Call {
    Call::MapPageAttrs { page_phys, offset, size, dir, attrs }
}

fn overflow_warn(addr: u64, size: u64, mask: u64, limit: u64) -> String {
    format!(
        "DevWarn dma_direct_map_page: {PFX}DMA addr {addr:#018x}+{size} overflow (mask {mask:x}, bus limit {limit:x})."
    )
}

// ---- phys_to_dma / dma_to_phys through dma_range_map ----

#[test]
fn range_map_translates_inside_region() {
    let mut r = Run::new(DeviceConfig { dma_range_map: offset_map(), ..cfg() });
    // phys 0x8000_1010 is 0x1010 into the region: dma_start + 0x1010
    let (res, ev) = r.call(map_page(0x8000_1000, 0x10, 0x100, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(0x1000_1010));
    assert_eq!(ev, ["trace dma_map_page phys=0x80001010 dma=0x10001010 size=0x100 dir=1 attrs=0x0"]);
}

#[test]
fn range_map_translates_last_byte_of_region() {
    let mut r = Run::new(DeviceConfig { dma_range_map: offset_map(), ..cfg() });
    // last byte 0xbfff_ffff: offset 0x3fff_ffff < size
    let (res, _) = r.call(map_page(0xbfff_f000, 0xfff, 1, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(0x4fff_ffff));
}

#[test]
fn range_map_outside_all_regions_is_map_error_with_overflow_warn() {
    let mut r = Run::new(DeviceConfig { dma_range_map: offset_map(), ..cfg() });
    // one past the region: translate_phys_to_dma gives DMA_MAPPING_ERROR, dma_capable fails
    let (res, ev) = r.call(map_page(0xc000_0000, 0, 1, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(
        ev,
        [
            "p2p? 0xc0000".to_string(),
            overflow_warn(ERR, 1, u64::MAX, 0),
            "trace dma_map_page phys=0xc0000000 dma=0xffffffffffffffff size=0x1 dir=1 attrs=0x0".to_string(),
        ]
    );
    // below the region: same failure, but the dev_WARN_ONCE site already fired
    let (res, ev) = r.call(map_page(0x7fff_f000, 0xfff, 1, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(
        ev,
        ["p2p? 0x7ffff", "trace dma_map_page phys=0x7fffffff dma=0xffffffffffffffff size=0x1 dir=1 attrs=0x0"]
    );
}

#[test]
fn range_map_dma_to_phys_inside_and_outside() {
    let mut r = Run::new(DeviceConfig { dma_range_map: offset_map(), ..noncoherent() });
    let (_, ev) = r.call(Call::UnmapPageAttrs { addr: 0x1000_1010, size: 0x100, dir: TO_DEV, attrs: 0 });
    assert_eq!(
        ev,
        [
            "for_cpu 0x80001010 0x100 1",
            "for_cpu_all",
            "trace dma_unmap_page addr=0x10001010 size=0x100 dir=1 attrs=0x0"
        ]
    );
    // 0x5000_0000 is one past the bus window: translate_dma_to_phys gives (phys_addr_t)-1
    let (_, ev) = r.call(Call::UnmapPageAttrs { addr: 0x5000_0000, size: 0x100, dir: TO_DEV, attrs: 0 });
    assert_eq!(
        ev,
        [
            "for_cpu 0xffffffffffffffff 0x100 1",
            "for_cpu_all",
            "trace dma_unmap_page addr=0x50000000 size=0x100 dir=1 attrs=0x0"
        ]
    );
}

#[test]
fn range_map_walk_stops_at_first_zero_size_entry() {
    let map = vec![
        BusDmaRegion { cpu_start: 0x8000_0000, dma_start: 0x0, size: 0x1000 },
        BusDmaRegion { cpu_start: 0x1_0000_0000, dma_start: 0x2000, size: 0 },
        BusDmaRegion { cpu_start: 0x9000_0000, dma_start: 0x1_0000, size: 0x1000 },
    ];
    let mut r = Run::new(DeviceConfig { dma_range_map: map, ..noncoherent() });
    let (res, _) = r.call(map_page(0x8000_0000, 0, 0x100, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(0x0));
    // the third entry is behind the terminator
    let (res, _) = r.call(map_page(0x9000_0000, 0, 0x100, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    let (_, ev) = r.call(Call::UnmapPageAttrs { addr: 0x1_0000, size: 0x100, dir: TO_DEV, attrs: 0 });
    assert_eq!(ev[0], "for_cpu 0xffffffffffffffff 0x100 1");
}

#[test]
fn range_map_first_matching_region_wins() {
    let map = vec![
        BusDmaRegion { cpu_start: 0x8000_0000, dma_start: 0x0, size: 0x2000 },
        BusDmaRegion { cpu_start: 0x8000_1000, dma_start: 0x10_0000, size: 0x1000 },
    ];
    let mut r = Run::new(DeviceConfig { dma_range_map: map, ..cfg() });
    let (res, _) = r.call(map_page(0x8000_1000, 0, 0x100, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(0x1000));
}

// ---- dma_capable ----

#[test]
fn dma_capable_end_exactly_at_mask_passes() {
    let mut r = Run::new(DeviceConfig { dma_mask: Some(0xffff_ffff), ..cfg() });
    // end = 0xffff_f000 + 0x1000 - 1 = 0xffff_ffff <= mask
    let (res, ev) = r.call(map_page(0xffff_f000, 0, 0x1000, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(0xffff_f000));
    assert_eq!(ev, ["trace dma_map_page phys=0xfffff000 dma=0xfffff000 size=0x1000 dir=1 attrs=0x0"]);
}

#[test]
fn dma_capable_one_past_mask_fails() {
    let mut r = Run::new(DeviceConfig { dma_mask: Some(0xffff_ffff), ..cfg() });
    let (res, ev) = r.call(map_page(0xffff_f000, 0, 0x1001, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(
        ev,
        [
            "p2p? 0xfffff".to_string(),
            format!("DevWarn dma_direct_map_page: {PFX}DMA addr 0x00000000fffff000+4097 overflow (mask ffffffff, bus limit 0)."),
            "trace dma_map_page phys=0xfffff000 dma=0xffffffffffffffff size=0x1001 dir=1 attrs=0x0".to_string(),
        ]
    );
}

#[test]
fn dma_capable_bus_limit_below_mask_wins() {
    let c = DeviceConfig { bus_dma_limit: 0xff_ffff_ffff, ..cfg() };
    let mut r = Run::new(c.clone());
    let (res, _) = r.call(map_page(0xff_ffff_f000, 0, 0x1000, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(0xff_ffff_f000));
    let (res, ev) = r.call(map_page(0xff_ffff_f000, 0, 0x1001, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(ev[1], overflow_warn(0xff_ffff_f000, 0x1001, u64::MAX, 0xff_ffff_ffff));
}

#[test]
fn dma_capable_mask_below_bus_limit_wins() {
    let mut r = Run::new(DeviceConfig { dma_mask: Some(0xffff_ffff), bus_dma_limit: 0xff_ffff_ffff, ..cfg() });
    let (res, ev) = r.call(map_page(0x1_0000_0000, 0, 1, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(ev[1], overflow_warn(0x1_0000_0000, 1, 0xffff_ffff, 0xff_ffff_ffff));
}

#[test]
fn dma_capable_bus_limit_zero_means_none() {
    let mut r = Run::new(cfg());
    // end = 0xffff_ffff_ffff_ffff <= min_not_zero(~0, 0) = ~0; addr itself is not the error value
    let (res, _) = r.call(map_page(0xffff_ffff_ffff_f000, 0, 0x1000, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(0xffff_ffff_ffff_f000));
}

#[test]
fn dma_capable_size_zero_checks_addr_minus_one() {
    let mut r = Run::new(DeviceConfig { dma_mask: Some(0xffff_ffff), ..cfg() });
    // size 0 above the mask: end = 0x1_0000_0000 - 1 fits, so it maps
    let (res, _) = r.call(map_page(0x1_0000_0000, 0, 0, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(0x1_0000_0000));
    // size 0 at 0: end wraps to ~0 and fails
    let (res, ev) = r.call(map_page(0, 0, 0, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(
        ev,
        [
            "p2p? 0x0".to_string(),
            format!("DevWarn dma_direct_map_page: {PFX}DMA addr 0x0000000000000000+0 overflow (mask ffffffff, bus limit 0)."),
            "trace dma_map_page phys=0x0 dma=0xffffffffffffffff size=0x0 dir=1 attrs=0x0".to_string(),
        ]
    );
}

// ---- cache maintenance on map and unmap ----

#[test]
fn noncoherent_map_syncs_for_device() {
    let mut r = Run::new(noncoherent());
    let (res, ev) = r.call(map_page(0x1000, 0x20, 0x200, BIDIR, 0));
    assert_eq!(res, CallResult::Returned(0x1020));
    assert_eq!(
        ev,
        ["for_device 0x1020 0x200 0", "trace dma_map_page phys=0x1020 dma=0x1020 size=0x200 dir=0 attrs=0x0"]
    );
}

#[test]
fn map_skip_cpu_sync_or_coherent_does_not_sync() {
    let mut r = Run::new(noncoherent());
    let (_, ev) = r.call(map_page(0x1000, 0x20, 0x200, BIDIR, SKIP_CPU_SYNC));
    assert_eq!(ev, ["trace dma_map_page phys=0x1020 dma=0x1020 size=0x200 dir=0 attrs=0x20"]);
    let mut r = Run::new(cfg());
    let (_, ev) = r.call(map_page(0x1000, 0x20, 0x200, BIDIR, 0));
    assert_eq!(ev, ["trace dma_map_page phys=0x1020 dma=0x1020 size=0x200 dir=0 attrs=0x0"]);
}

#[test]
fn unmap_syncs_for_cpu_then_all_then_marks_clean_for_from_device() {
    let mut r = Run::new(noncoherent());
    let (res, ev) = r.call(Call::UnmapPageAttrs { addr: 0x1020, size: 0x200, dir: FROM_DEV, attrs: 0 });
    assert_eq!(res, CallResult::Returned(0));
    assert_eq!(
        ev,
        [
            "for_cpu 0x1020 0x200 2",
            "for_cpu_all",
            "mark_clean 0x1020 0x200",
            "trace dma_unmap_page addr=0x1020 size=0x200 dir=2 attrs=0x0"
        ]
    );
    for dir in [TO_DEV, BIDIR] {
        let (_, ev) = r.call(Call::UnmapPageAttrs { addr: 0x1020, size: 0x200, dir, attrs: 0 });
        assert_eq!(
            ev,
            [
                format!("for_cpu 0x1020 0x200 {dir}"),
                "for_cpu_all".to_string(),
                format!("trace dma_unmap_page addr=0x1020 size=0x200 dir={dir} attrs=0x0")
            ]
        );
    }
    let (_, ev) = r.call(Call::UnmapPageAttrs { addr: 0x1020, size: 0x200, dir: FROM_DEV, attrs: SKIP_CPU_SYNC });
    assert_eq!(ev, ["trace dma_unmap_page addr=0x1020 size=0x200 dir=2 attrs=0x20"]);
}

#[test]
fn coherent_unmap_from_device_still_marks_clean() {
    // dma_direct_sync_single_for_cpu gates only the arch syncs on coherence
    let mut r = Run::new(cfg());
    let (_, ev) = r.call(Call::UnmapPageAttrs { addr: 0x1020, size: 0x200, dir: FROM_DEV, attrs: 0 });
    assert_eq!(ev, ["mark_clean 0x1020 0x200", "trace dma_unmap_page addr=0x1020 size=0x200 dir=2 attrs=0x0"]);
}

#[test]
fn partial_syncs_use_dma_to_phys_of_addr_and_given_size() {
    let mut r = Run::new(DeviceConfig { dma_range_map: offset_map(), ..noncoherent() });
    let (_, ev) = r.call(Call::SyncSingleForCpu { addr: 0x1000_0040, size: 0x10, dir: FROM_DEV });
    assert_eq!(
        ev,
        [
            "for_cpu 0x80000040 0x10 2",
            "for_cpu_all",
            "mark_clean 0x80000040 0x10",
            "trace dma_sync_single_for_cpu addr=0x10000040 size=0x10 dir=2"
        ]
    );
    let (_, ev) = r.call(Call::SyncSingleForDevice { addr: 0x1000_0040, size: 0x10, dir: TO_DEV });
    assert_eq!(
        ev,
        ["for_device 0x80000040 0x10 1", "trace dma_sync_single_for_device addr=0x10000040 size=0x10 dir=1"]
    );
}

// ---- the dma_dev_need_sync() gate ----

#[test]
fn coherent_device_sync_gate_closed() {
    let mut r = Run::new(cfg());
    let (_, ev) = r.call(Call::SyncSingleForCpu { addr: 0x1000, size: 0x10, dir: FROM_DEV });
    assert!(ev.is_empty(), "{ev:?}");
    let (_, ev) = r.call(Call::SyncSingleForDevice { addr: 0x1000, size: 0x10, dir: TO_DEV });
    assert!(ev.is_empty(), "{ev:?}");
    // the BUG_ON lives behind the gate: an invalid direction goes unnoticed
    let (res, ev) = r.call(Call::SyncSingleForCpu { addr: 0x1000, size: 0x10, dir: DMA_NONE });
    assert_eq!(res, CallResult::Returned(0));
    assert!(ev.is_empty(), "{ev:?}");
}

#[test]
fn dma_api_debug_opens_the_sync_gate() {
    let mut r = Run::new(DeviceConfig { dma_api_debug: true, ..cfg() });
    let (_, ev) = r.call(Call::SyncSingleForCpu { addr: 0x1000, size: 0x10, dir: FROM_DEV });
    assert_eq!(ev, ["mark_clean 0x1000 0x10", "trace dma_sync_single_for_cpu addr=0x1000 size=0x10 dir=2"]);
    let (_, ev) = r.call(Call::SyncSingleForDevice { addr: 0x1000, size: 0x10, dir: TO_DEV });
    assert_eq!(ev, ["trace dma_sync_single_for_device addr=0x1000 size=0x10 dir=1"]);
    let (res, ev) = r.call(Call::SyncSingleForCpu { addr: 0x1000, size: 0x10, dir: DMA_NONE });
    assert_eq!(res, CallResult::Bug);
    assert_eq!(ev, ["Bug __dma_sync_single_for_cpu: !valid_dma_direction(dir)"]);
}

#[test]
fn sync_gate_open_on_device_that_never_had_dma_set_mask() {
    // dma_setup_need_sync() only runs from dma_set_mask(), which needs dev->dma_mask
    let mut r = Run::new(DeviceConfig { dma_mask: None, ..cfg() });
    let (_, ev) = r.call(Call::SyncSingleForCpu { addr: 0x1000, size: 0x10, dir: FROM_DEV });
    assert_eq!(ev, ["mark_clean 0x1000 0x10", "trace dma_sync_single_for_cpu addr=0x1000 size=0x10 dir=2"]);
}

// ---- dma_map_resource ----

#[test]
fn map_resource_never_translates_or_syncs() {
    let mut r = Run::new(DeviceConfig { dma_range_map: offset_map(), ..noncoherent() });
    let (res, ev) = r.call(Call::MapResource { phys: 0x8000_0000, size: 0x1000, dir: BIDIR, attrs: 0 });
    assert_eq!(res, CallResult::Returned(0x8000_0000));
    assert_eq!(ev, ["trace dma_map_resource phys=0x80000000 dma=0x80000000 size=0x1000 dir=0 attrs=0x0"]);
    let (res, ev) = r.call(Call::UnmapResource { addr: 0x8000_0000, size: 0x1000, dir: BIDIR, attrs: 0 });
    assert_eq!(res, CallResult::Returned(0));
    assert_eq!(ev, ["trace dma_unmap_resource addr=0x80000000 size=0x1000 dir=0 attrs=0x0"]);
}

#[test]
fn map_resource_overflow_reports_once() {
    let mut r = Run::new(DeviceConfig { dma_mask: Some(0xffff_ffff), ..cfg() });
    let (res, ev) = r.call(Call::MapResource { phys: 0x1_0000_0000, size: 0x100, dir: TO_DEV, attrs: 0 });
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(
        ev,
        [
            format!("DevErr dma_direct_map_resource: {PFX}DMA addr 0x0000000100000000+256 overflow (mask ffffffff, bus limit 0)."),
            "WarnOn dma_direct_map_resource: 1".to_string(),
            "trace dma_map_resource phys=0x100000000 dma=0xffffffffffffffff size=0x100 dir=1 attrs=0x0".to_string(),
        ]
    );
    // second overflow: both once-sites already fired, only the tracepoint remains
    let (res, ev) = r.call(Call::MapResource { phys: 0xffff_ff00, size: 0x101, dir: TO_DEV, attrs: 0 });
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(ev, ["trace dma_map_resource phys=0xffffff00 dma=0xffffffffffffffff size=0x101 dir=1 attrs=0x0"]);
    // the page path has its own once-site
    let (_, ev) = r.call(map_page(0x1_0000_0000, 0, 1, TO_DEV, 0));
    assert_eq!(ev[1], overflow_warn(0x1_0000_0000, 1, 0xffff_ffff, 0));
}

// ---- no dma_mask ----

#[test]
fn no_dma_mask_warns_once_per_entry_point_and_emits_no_tracepoint() {
    let mut r = Run::new(DeviceConfig { dma_mask: None, ..noncoherent() });
    let (res, ev) = r.call(map_page(0x1000, 0, 0x1000, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(ev, ["WarnOn dma_map_page_attrs: !dev->dma_mask"]);
    let (res, ev) = r.call(map_page(0x1000, 0, 0x1000, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    assert!(ev.is_empty(), "{ev:?}");
    let (res, ev) = r.call(Call::MapResource { phys: 0x1000, size: 0x1000, dir: TO_DEV, attrs: 0 });
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(ev, ["WarnOn dma_map_resource: !dev->dma_mask"]);
    // unmap has no mask check and does not read the mask on a direct device
    let (_, ev) = r.call(Call::UnmapPageAttrs { addr: 0x1000, size: 0x1000, dir: TO_DEV, attrs: 0 });
    assert_eq!(
        ev,
        ["for_cpu 0x1000 0x1000 1", "for_cpu_all", "trace dma_unmap_page addr=0x1000 size=0x1000 dir=1 attrs=0x0"]
    );
}

// ---- BUG_ON(!valid_dma_direction(dir)) ----

#[test]
fn bug_on_dma_none_and_dir_7() {
    let mut r = Run::new(cfg());
    let (res, ev) = r.call(map_page(0x1000, 0, 0x100, DMA_NONE, 0));
    assert_eq!(res, CallResult::Bug);
    assert_eq!(ev, ["Bug dma_map_page_attrs: !valid_dma_direction(dir)"]);
    assert!(r.model.is_dead());

    let cases = [
        (Call::UnmapPageAttrs { addr: 0x1000, size: 0x100, dir: 7, attrs: 0 }, "dma_unmap_page_attrs"),
        (Call::MapResource { phys: 0x1000, size: 0x100, dir: 7, attrs: 0 }, "dma_map_resource"),
        (Call::UnmapResource { addr: 0x1000, size: 0x100, dir: DMA_NONE, attrs: 0 }, "dma_unmap_resource"),
        (Call::MapPhys { phys: 0x1000, size: 0x100, dir: 7, attrs: 0 }, "dma_map_page_attrs"),
        (Call::MapPhys { phys: 0x1000, size: 0x100, dir: 7, attrs: BIT10 }, "dma_map_resource"),
    ];
    for (call, func) in cases {
        let mut r = Run::new(cfg());
        let (res, ev) = r.call(call);
        assert_eq!(res, CallResult::Bug, "{call:?}");
        assert_eq!(ev, [format!("Bug {func}: !valid_dma_direction(dir)")], "{call:?}");
    }

    let mut r = Run::new(noncoherent());
    let (res, ev) = r.call(Call::SyncSingleForDevice { addr: 0x1000, size: 0x10, dir: 7 });
    assert_eq!(res, CallResult::Bug);
    assert_eq!(ev, ["Bug __dma_sync_single_for_device: !valid_dma_direction(dir)"]);
}

#[test]
fn bug_comes_before_the_dma_mask_warn() {
    let mut r = Run::new(DeviceConfig { dma_mask: None, ..cfg() });
    let (res, ev) = r.call(map_page(0x1000, 0, 0x100, DMA_NONE, 0));
    assert_eq!(res, CallResult::Bug);
    assert_eq!(ev, ["Bug dma_map_page_attrs: !valid_dma_direction(dir)"]);
}

// ---- dma_kmalloc_needs_bounce ----

/// A fresh non-coherent device with the default pool mapping page 0x1000.
fn kmalloc_case(c: DeviceConfig, size: u64, dir: u32) -> (CallResult, Vec<String>) {
    Run::new(with_pool(c)).call(map_page(0x1000, 0, size, dir, 0))
}

/// What a kmalloc bounce does on a fresh pool: slot 0, copied in at map time, synced there.
fn bounced(size: u64, dir: u32) -> Vec<String> {
    vec![
        "p2p? 0x1".to_string(),
        format!("trace swiotlb_bounced dev_addr=0x1000 size={size:#x} force=false"),
        format!("memcpy {POOL:#x} <- 0x1000 {size:#x}"),
        format!("for_device {POOL:#x} {size:#x} {dir}"),
        format!("trace dma_map_page phys=0x1000 dma={POOL:#x} size={size:#x} dir={dir} attrs=0x0"),
    ]
}

fn mapped(size: u64, dir: u32) -> Vec<String> {
    vec![
        format!("for_device 0x1000 {size:#x} {dir}"),
        format!("trace dma_map_page phys=0x1000 dma=0x1000 size={size:#x} dir={dir} attrs=0x0"),
    ]
}

#[test]
fn kmalloc_bounce_heuristic_small_from_device() {
    // kmalloc-64: 64 is not 128-aligned and 64 < 2 * ARCH_DMA_MINALIGN
    assert_eq!(kmalloc_case(noncoherent(), 64, FROM_DEV), (CallResult::Returned(POOL), bounced(64, FROM_DEV)));
    // kmalloc-128 is 128-aligned
    assert_eq!(kmalloc_case(noncoherent(), 128, FROM_DEV), (CallResult::Returned(0x1000), mapped(128, FROM_DEV)));
    // 256 >= 2 * ARCH_DMA_MINALIGN
    assert_eq!(kmalloc_case(noncoherent(), 256, FROM_DEV), (CallResult::Returned(0x1000), mapped(256, FROM_DEV)));
}

#[test]
fn kmalloc_bounce_heuristic_follows_the_cache_sizes() {
    // 8 -> kmalloc-8, 96 -> kmalloc-96, 192 -> kmalloc-192: none 128-aligned
    for size in [8, 96, 129, 192] {
        assert_eq!(kmalloc_case(noncoherent(), size, FROM_DEV).1, bounced(size, FROM_DEV), "size {size}");
    }
    // 193..255 -> kmalloc-256, and 0 -> kmalloc_size_roundup(0) == 0: aligned
    for size in [0, 200, 255] {
        assert_eq!(kmalloc_case(noncoherent(), size, FROM_DEV).1, mapped(size, FROM_DEV), "size {size}");
    }
    // BIDIRECTIONAL is as destructive as FROM_DEVICE
    assert_eq!(kmalloc_case(noncoherent(), 64, BIDIR).1, bounced(64, BIDIR));
}

#[test]
fn kmalloc_bounce_heuristic_exemptions() {
    // DMA_TO_DEVICE: any size
    for size in [1, 8, 64, 96, 192] {
        assert_eq!(kmalloc_case(noncoherent(), size, TO_DEV).1, mapped(size, TO_DEV), "size {size}");
    }
    // coherent device: no bounce, no sync
    let (res, ev) = kmalloc_case(cfg(), 64, FROM_DEV);
    assert_eq!(res, CallResult::Returned(0x1000));
    assert_eq!(ev, ["trace dma_map_page phys=0x1000 dma=0x1000 size=0x40 dir=2 attrs=0x0"]);
    // without CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC
    let c = DeviceConfig { dma_bounce_unaligned_kmalloc: false, ..noncoherent() };
    assert_eq!(kmalloc_case(c, 64, FROM_DEV).1, mapped(64, FROM_DEV));
}

#[test]
fn kmalloc_without_swiotlb_is_128_aligned_and_never_bounces() {
    // is_swiotlb_allocated() false: __kmalloc_minalign() keeps ARCH_DMA_MINALIGN, so every
    // kmalloc_size_roundup() of a small size is a multiple of 128
    for size in [1, 8, 64, 96, 129, 192] {
        let (res, ev) = Run::new(noncoherent()).call(map_page(0x1000, 0, size, FROM_DEV, 0));
        assert_eq!(res, CallResult::Returned(0x1000), "size {size}");
        assert_eq!(ev, mapped(size, FROM_DEV), "size {size}");
    }
}

#[test]
fn kmalloc_bounce_of_p2p_page_is_silent() {
    let mut r = Run::new(with_pool(noncoherent()));
    r.rec.p2p_pfns.push(0x1);
    let (res, ev) = r.call(map_page(0x1000, 0, 64, FROM_DEV, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(ev, ["p2p? 0x1", "trace dma_map_page phys=0x1000 dma=0xffffffffffffffff size=0x40 dir=2 attrs=0x0"]);
}

// ---- bit 10 and the MAP_PHYS translation ----

#[test]
fn bit10_is_ignored_by_dma_map_page_attrs() {
    let mut r = Run::new(DeviceConfig { dma_range_map: offset_map(), ..noncoherent() });
    let (res, ev) = r.call(map_page(0x8000_1000, 0, 0x1000, TO_DEV, BIT10));
    assert_eq!(res, CallResult::Returned(0x1000_1000));
    assert_eq!(
        ev,
        [
            "for_device 0x80001000 0x1000 1",
            "trace dma_map_page phys=0x80001000 dma=0x10001000 size=0x1000 dir=1 attrs=0x400"
        ]
    );
    let (_, ev) = r.call(Call::UnmapPageAttrs { addr: 0x1000_1000, size: 0x1000, dir: TO_DEV, attrs: BIT10 });
    assert_eq!(
        ev,
        [
            "for_cpu 0x80001000 0x1000 1",
            "for_cpu_all",
            "trace dma_unmap_page addr=0x10001000 size=0x1000 dir=1 attrs=0x400"
        ]
    );
}

#[test]
fn map_phys_with_bit10_goes_to_dma_map_resource() {
    let mut r = Run::new(DeviceConfig { dma_range_map: offset_map(), ..noncoherent() });
    let attrs = BIT10 | WEAK_ORDERING;
    let (res, ev) = r.call(Call::MapPhys { phys: 0x8000_0000, size: 0x1000, dir: BIDIR, attrs });
    assert_eq!(res, CallResult::Returned(0x8000_0000));
    assert_eq!(ev, ["trace dma_map_resource phys=0x80000000 dma=0x80000000 size=0x1000 dir=0 attrs=0x2"]);
    let (res, ev) = r.call(Call::UnmapPhys { addr: 0x8000_0000, size: 0x1000, dir: BIDIR, attrs });
    assert_eq!(res, CallResult::Returned(0));
    assert_eq!(ev, ["trace dma_unmap_resource addr=0x80000000 size=0x1000 dir=0 attrs=0x2"]);
}

#[test]
fn map_phys_without_bit10_goes_to_dma_map_page_attrs() {
    let mut r = Run::new(DeviceConfig { dma_range_map: offset_map(), ..noncoherent() });
    // page 0x8000_1000, offset_in_page 0x234
    let (res, ev) = r.call(Call::MapPhys { phys: 0x8000_1234, size: 0x100, dir: TO_DEV, attrs: 0 });
    assert_eq!(res, CallResult::Returned(0x1000_1234));
    assert_eq!(
        ev,
        [
            "for_device 0x80001234 0x100 1",
            "trace dma_map_page phys=0x80001234 dma=0x10001234 size=0x100 dir=1 attrs=0x0"
        ]
    );
    let (_, ev) = r.call(Call::UnmapPhys { addr: 0x1000_1234, size: 0x100, dir: TO_DEV, attrs: 0 });
    assert_eq!(
        ev,
        [
            "for_cpu 0x80001234 0x100 1",
            "for_cpu_all",
            "trace dma_unmap_page addr=0x10001234 size=0x100 dir=1 attrs=0x0"
        ]
    );
}

#[test]
fn map_phys_mmio_overflow_uses_the_resource_reports() {
    let mut r = Run::new(DeviceConfig { dma_mask: Some(0xffff_ffff), ..cfg() });
    let (res, ev) = r.call(Call::MapPhys { phys: 0x1_0000_0000, size: 0x10, dir: TO_DEV, attrs: BIT10 });
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(
        ev,
        [
            format!("DevErr dma_direct_map_resource: {PFX}DMA addr 0x0000000100000000+16 overflow (mask ffffffff, bus limit 0)."),
            "WarnOn dma_direct_map_resource: 1".to_string(),
            "trace dma_map_resource phys=0x100000000 dma=0xffffffffffffffff size=0x10 dir=1 attrs=0x0".to_string(),
        ]
    );
}

#[test]
fn map_page_attrs_takes_page_aligned_page_phys() {
    // the call carries page_to_phys(page): bits below PAGE_SHIFT are not part of a page
    let mut r = Run::new(cfg());
    let (res, _) = r.call(map_page(0x1234, 0x10, 0x10, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(0x1010));
}

// ---- dma_mapping_error ----

#[test]
fn dma_mapping_error_values() {
    let mut r = Run::new(cfg());
    assert_eq!(r.call(Call::MappingError { addr: ERR }), (CallResult::Returned(-12i64 as u64), vec![]));
    assert_eq!(r.call(Call::MappingError { addr: 0 }), (CallResult::Returned(0), vec![]));
    assert_eq!(r.call(Call::MappingError { addr: ERR - 1 }), (CallResult::Returned(0), vec![]));
}
