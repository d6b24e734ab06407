//! Pins the legacy (v6.16) swiotlb model: the worked examples of spec swiotlb.md §13, one test
//! per observable fixed behaviour of §12, the boot rules, and the swiotlb paths of dma-direct.
//! Every expected slot, address and message is worked out from the kernel rules
//! (kernel/dma/swiotlb.c, include/linux/swiotlb.h, include/linux/dma-mapping.h), not copied
//! from the model's output; the arithmetic is in the comments.

use dmadiff_cref::{
    AreaInfo, Call, CallResult, DeviceConfig, DmaParms, Hooks, LegacyModel, PoolInfo, ReportKind, SlotInfo,
    SwiotlbConfig, SwiotlbMode,
};

const BIDIR: u32 = 0;
const TO_DEV: u32 = 1;
const FROM_DEV: u32 = 2;
const DMA_NONE: u32 = 3;
const SKIP_CPU_SYNC: u64 = 1 << 5;
const NO_WARN: u64 = 1 << 8;
const ERR: u64 = u64::MAX;
const INVALID: u64 = u64::MAX;

/// The pool of the spec's examples: start 0x8000_0000.
const POOL: u64 = 0x8000_0000;
/// The "drv dev: " prefix dev_printk puts before a message.
const PFX: &str = "nvme 0000:01:00.0: ";

mod common;
use common::Rec;

/// A coherent 64-bit device with dma_parms (nothing set) and a swiotlb pool at POOL.
fn cfg(mode: SwiotlbMode, nslabs: u64, nareas: u32) -> DeviceConfig {
    DeviceConfig {
        dma_parms: Some(DmaParms { min_align_mask: 0, seg_boundary_mask: 0, max_segment_size: 0 }),
        swiotlb: SwiotlbConfig { mode, start: POOL, nslabs, nareas },
        ..common::base_device()
    }
}

/// The spec's common set-up: the default pool, 1024 slots, one area.
fn spec() -> DeviceConfig {
    cfg(SwiotlbMode::On, 1024, 1)
}

struct Run {
    model: LegacyModel,
    rec: Rec,
    boot: Vec<String>,
}

impl Run {
    fn new(c: DeviceConfig) -> Self {
        let mut rec = Rec::default();
        let model = LegacyModel::new(&c, &mut rec);
        let boot = std::mem::take(&mut rec.events);
        Run { model, rec, boot }
    }
    /// Runs one call; returns its result and the effects it had.
    fn call(&mut self, call: Call) -> (CallResult, Vec<String>) {
        self.rec.events.clear();
        let r = self.model.call(&mut self.rec, call);
        (r, std::mem::take(&mut self.rec.events))
    }
    fn ret(&mut self, call: Call) -> u64 {
        match self.call(call).0 {
            CallResult::Returned(v) => v,
            CallResult::Bug => panic!("{call:?} hit BUG"),
            CallResult::Iova(_) => unreachable!("{call:?} returns no struct iova"),
        }
    }
    /// swiotlb_tbl_map_single(orig, size, align, TO_DEVICE, 0) -> tlb_addr
    fn map(&mut self, orig: u64, size: u64, align: u64) -> u64 {
        self.ret(tbl_map(orig, size, align))
    }
    fn unmap(&mut self, tlb_addr: u64, size: u64) {
        self.ret(Call::SwiotlbTblUnmapSingle { tlb_addr, size, dir: TO_DEV, attrs: 0 });
    }
    fn min_align(&mut self, mask: u64) {
        self.ret(Call::SetMinAlignMask { mask });
    }
    fn cpu(&mut self, cpu: u32) {
        self.ret(Call::RunOnCpu { cpu });
    }
    fn slot(&self, i: u64) -> SlotInfo {
        self.model.swiotlb_slot(i)
    }
    fn lists(&self, from: u64, n: u64) -> Vec<u32> {
        (from..from + n).map(|i| self.slot(i).list).collect()
    }
    fn area(&self, a: u32) -> AreaInfo {
        self.model.swiotlb_area(a)
    }
}

fn tbl_map(orig: u64, mapping_size: u64, alloc_align_mask: u64) -> Call {
    Call::SwiotlbTblMapSingle { orig, mapping_size, alloc_align_mask, dir: TO_DEV, attrs: 0 }
}

fn map_page(page_phys: u64, offset: u64, size: u64, dir: u32, attrs: u64) -> Call {
    Call::MapPageAttrs { page_phys, offset, size, dir, attrs }
}

fn slot_addr(i: u64) -> u64 {
    POOL + i * 0x800
}

fn full_msg(sz: u64, total: u64, used: u64) -> String {
    format!(
        "DevWarning swiotlb_tbl_map_single: {PFX}swiotlb buffer is full (sz: {sz} bytes), total {total} (slots), used {used} (slots)"
    )
}

// ---- boot ----

#[test]
fn boot_default_pool_nareas_from_cpus() {
    // nareas 0: swiotlb_adjust_nareas(num_possible_cpus() = 6) rounds up to 8;
    // 32768 >= 128 * 8 and a power of two: kept; area_nslabs 4096
    let r = Run::new(DeviceConfig { nr_cpus: 6, ..cfg(SwiotlbMode::On, 32768, 0) });
    assert_eq!(
        r.model.swiotlb_pool(),
        Some(PoolInfo {
            start: POOL,
            end: POOL + (32768 << 11),
            nslabs: 32768,
            nareas: 8,
            area_nslabs: 4096,
            force_bounce: false
        })
    );
    // swiotlb_init_io_tlb_pool() zeroes nslabs << 11 bytes
    assert_eq!(r.boot, ["memzero 0x80000000 0x4000000"]);
    assert!(r.model.swiotlb_touched_segments().is_empty());
    for a in 0..8 {
        assert_eq!(r.area(a), AreaInfo { index: 0, used: 0 });
    }
}

#[test]
fn boot_rounds_nslabs_and_nareas() {
    // swiotlb=1100,3: ALIGN(1100, 128) = 1152; nareas 3 -> 4; 1152 >= 512 but not a power
    // of two: roundup_pow_of_two = 2048; area_nslabs 512
    let r = Run::new(cfg(SwiotlbMode::On, 1100, 3));
    let p = r.model.swiotlb_pool().unwrap();
    assert_eq!((p.nslabs, p.nareas, p.area_nslabs), (2048, 4, 512));
    // swiotlb=256 on 8 CPUs: 256 < 128 * 8, so nslabs = 1024 (and 1024 is kept)
    let r = Run::new(DeviceConfig { nr_cpus: 8, ..cfg(SwiotlbMode::On, 256, 0) });
    let p = r.model.swiotlb_pool().unwrap();
    assert_eq!((p.nslabs, p.nareas, p.area_nslabs), (1024, 8, 128));
    // swiotlb=0: ALIGN gives 0, then 128 * nareas(1)
    let r = Run::new(cfg(SwiotlbMode::On, 0, 0));
    assert_eq!(r.model.swiotlb_pool().unwrap().nslabs, 128);
}

#[test]
fn boot_modes_and_predicates() {
    let mut r = Run::new(spec());
    assert_eq!(r.ret(Call::IsSwiotlbActive), 1);
    assert_eq!(r.ret(Call::IsSwiotlbForceBounce), 0);
    let mut r = Run::new(cfg(SwiotlbMode::Force, 1024, 1));
    assert_eq!(r.ret(Call::IsSwiotlbActive), 1);
    assert_eq!(r.ret(Call::IsSwiotlbForceBounce), 1);
    assert!(r.model.swiotlb_pool().unwrap().force_bounce);
    let mut r = Run::new(cfg(SwiotlbMode::Restricted, 300, 7));
    assert_eq!(r.ret(Call::IsSwiotlbActive), 1);
    assert_eq!(r.ret(Call::IsSwiotlbForceBounce), 1);
    // a restricted-dma-pool: one area, nslabs as given
    let p = r.model.swiotlb_pool().unwrap();
    assert_eq!((p.nslabs, p.nareas, p.area_nslabs, p.end), (300, 1, 300, POOL + 300 * 2048));
    assert_eq!(r.boot, ["memzero 0x80000000 0x96000"]);
    let mut r = Run::new(cfg(SwiotlbMode::Off, 1024, 1));
    assert_eq!(r.ret(Call::IsSwiotlbActive), 0);
    assert_eq!(r.ret(Call::IsSwiotlbForceBounce), 0);
    assert_eq!(r.model.swiotlb_pool(), None);
    assert!(r.boot.is_empty());
}

#[test]
fn off_mode_map_warns_ratelimited_can_not_allocate() {
    let mut r = Run::new(cfg(SwiotlbMode::Off, 1024, 1));
    let msg = format!(
        "DevWarning swiotlb_tbl_map_single: {PFX}Can not allocate SWIOTLB buffer earlier and can't now provide you with the DMA bounce buffer"
    );
    for i in 0..12 {
        let (res, ev) = r.call(tbl_map(0x1000, 0x100, 0));
        assert_eq!(res, CallResult::Returned(ERR));
        // DEFAULT_RATELIMIT_BURST: ten messages, then silence (no time passes)
        if i < 10 {
            assert_eq!(ev, std::slice::from_ref(&msg), "call {i}");
        } else {
            assert!(ev.is_empty(), "call {i}: {ev:?}");
        }
    }
}

#[test]
fn kmalloc_bounce_depends_on_the_default_pool_existing() {
    // non-coherent FROM_DEVICE kmalloc-64: with a default pool the kmalloc caches are
    // 8-aligned (64 -> 64, not 128-aligned): bounce; without one they are 128-aligned
    let nc = |mode| DeviceConfig { dma_coherent: false, ..cfg(mode, 1024, 1) };
    let ask = Call::DmaKmallocNeedsBounce { size: 64, dir: FROM_DEV };
    assert_eq!(Run::new(nc(SwiotlbMode::On)).ret(ask), 1);
    assert_eq!(Run::new(nc(SwiotlbMode::Force)).ret(ask), 1);
    // arm64 allocates the default pool even when the device has a restricted one
    assert_eq!(Run::new(nc(SwiotlbMode::Restricted)).ret(ask), 1);
    assert_eq!(Run::new(nc(SwiotlbMode::Off)).ret(ask), 0);
    // and TO_DEVICE never needs it
    assert_eq!(Run::new(nc(SwiotlbMode::On)).ret(Call::DmaKmallocNeedsBounce { size: 64, dir: TO_DEV }), 0);
}

#[test]
fn large_default_pool_is_sparse() {
    // 64 MiB on 4 CPUs: 4 areas of 8192 slots; one map per CPU touches only its area's first
    // segment (slot a * 8192 is segment a * 64)
    let mut r = Run::new(DeviceConfig { nr_cpus: 4, ..cfg(SwiotlbMode::On, 32768, 0) });
    for cpu in 0..4 {
        r.cpu(cpu);
        assert_eq!(r.map(0x1000_0000, 0x800, 0), slot_addr(cpu as u64 * 8192));
    }
    assert_eq!(r.model.swiotlb_touched_segments(), [0, 64, 128, 192]);
    // an untouched slot reads as booted: min(128 - i % 128, nslabs - i)
    assert_eq!(r.slot(5000), SlotInfo { orig_addr: INVALID, alloc_size: 0, list: 120, pad_slots: 0 });
    assert_eq!(r.slot(32767).list, 1);
    // past the pool: the accessor's out-of-range value
    assert_eq!(r.slot(32768), SlotInfo { orig_addr: INVALID, alloc_size: 0, list: 0, pad_slots: 0 });
}

// ---- dma_parms helpers ----

#[test]
fn max_mapping_size_takes_min_align_into_account() {
    let mut r = Run::new(spec());
    // 128 * 2048 - (min_align ? roundup(min_align, 2048) : 0)
    assert_eq!(r.ret(Call::SwiotlbMaxMappingSize), 0x40000);
    r.min_align(0xfff);
    assert_eq!(r.ret(Call::SwiotlbMaxMappingSize), 0x3f000);
    r.min_align(0x3fff);
    assert_eq!(r.ret(Call::SwiotlbMaxMappingSize), 0x3c000);
    r.min_align(0x7ff);
    assert_eq!(r.ret(Call::SwiotlbMaxMappingSize), 0x3f800);
    // the kernel keeps the mask in an int: 0xffffffff is -1, roundup(-1, 2048) = 0
    r.min_align(0xffff_ffff);
    assert_eq!(r.ret(Call::SwiotlbMaxMappingSize), 0x40000);
    // 0x80000000 is INT_MIN: (INT_MIN + 2047) / 2048 * 2048 = -2147481600, subtracted as size_t
    r.min_align(0x8000_0000);
    assert_eq!(r.ret(Call::SwiotlbMaxMappingSize), 0x40000 + 2_147_481_600);
    // without dma_parms min_align is 0
    let mut r = Run::new(DeviceConfig { dma_parms: None, ..spec() });
    assert_eq!(r.ret(Call::SwiotlbMaxMappingSize), 0x40000);
}

#[test]
fn setters_warn_once_without_dma_parms() {
    let mut r = Run::new(DeviceConfig { dma_parms: None, ..spec() });
    let (_, ev) = r.call(Call::SetMinAlignMask { mask: 0xfff });
    assert_eq!(ev, ["WarnOn dma_set_min_align_mask: !dev->dma_parms"]);
    let (_, ev) = r.call(Call::SetMinAlignMask { mask: 0xfff });
    assert!(ev.is_empty());
    let (_, ev) = r.call(Call::SetSegBoundary { mask: 0xffff });
    assert_eq!(ev, ["WarnOn dma_set_seg_boundary: !dev->dma_parms"]);
    // nothing was set: the page rule still applies to a 4 KiB map (min_align 0)
    r.map(0x1000_0000, 0x800, 0);
    assert_eq!(r.map(0x1000_0A00, 0x1000, 0), slot_addr(2));
}

#[test]
fn dma_parms_from_the_config() {
    // min_align 0xfff from the config behaves like example B
    let c = DeviceConfig {
        dma_parms: Some(DmaParms { min_align_mask: 0xfff, seg_boundary_mask: 0, max_segment_size: 0 }),
        ..spec()
    };
    let mut r = Run::new(c);
    assert_eq!(r.map(0x1000_0A00, 0x3000, 0), 0x8000_0A00);
}

// ---- §13 worked examples ----

#[test]
fn example_a_no_min_align_one_area() {
    let mut r = Run::new(spec());
    // 0x1000: page rule, stride 2; slot 0; area.index 2
    assert_eq!(r.map(0x1000_0000, 0x1000, 0), 0x8000_0000);
    assert_eq!(r.area(0).index, 2);
    // 0x200: one slot at index 2
    assert_eq!(r.map(0x1000_2000, 0x200, 0), 0x8000_1000);
    // 0x1000: slot 3 misaligned, slot 4 taken; area.index 6
    assert_eq!(r.map(0x1000_4000, 0x1000, 0), 0x8000_2000);
    assert_eq!(r.area(0), AreaInfo { index: 6, used: 5 });
    assert_eq!(r.lists(0, 8), [0, 0, 0, 1, 0, 0, 122, 121]);
    // unmapping the second mapping: list[2] = 2, list[3] = 1; area.index stays 6
    r.unmap(0x8000_1000, 0x200);
    assert_eq!(r.lists(0, 8), [0, 0, 2, 1, 0, 0, 122, 121]);
    assert_eq!(r.area(0), AreaInfo { index: 6, used: 4 });
    assert_eq!(r.slot(2), SlotInfo { orig_addr: INVALID, alloc_size: 0, list: 2, pad_slots: 0 });
}

#[test]
fn example_b_nvme_min_align() {
    let mut r = Run::new(spec());
    r.min_align(0xfff);
    // offset 0x200, size 0x3200, 7 slots, I = 0x800, stride 2: slot 0 mismatches, slot 1
    let tlb = r.map(0x1000_0A00, 0x3000, 0);
    assert_eq!(tlb, 0x8000_0A00);
    assert_eq!(tlb & 0xfff, 0xA00);
    let sizes: Vec<u64> = (1..8).map(|i| r.slot(i).alloc_size).collect();
    assert_eq!(sizes, [0x3000, 0x2800, 0x2000, 0x1800, 0x1000, 0x800, 0]);
    let origs: Vec<u64> = (1..8).map(|i| r.slot(i).orig_addr).collect();
    assert_eq!(origs, (0..7).map(|k| 0x1000_0A00 + k * 0x800).collect::<Vec<_>>());
    assert_eq!(r.slot(0), SlotInfo { orig_addr: INVALID, alloc_size: 0, list: 1, pad_slots: 0 });
    assert_eq!(r.area(0), AreaInfo { index: 8, used: 7 });
    // partial sync at tlb + 0x700 (slot 2, low bits 0x100): tlb_offset -0x100, orig 0x1000_1100
    let (_, ev) = r.call(Call::SwiotlbSyncSingleForCpu { tlb_addr: tlb + 0x700, size: 0x80, dir: FROM_DEV });
    assert_eq!(ev, ["memcpy 0x10001100 <- 0x80001100 0x80"]);
    // release from the returned tlb: index 1, 7 slots
    r.unmap(tlb, 0x3000);
    assert_eq!(r.lists(0, 9), (0..9).map(|i| 128 - i).collect::<Vec<_>>());
    assert_eq!(r.area(0), AreaInfo { index: 8, used: 0 });
}

#[test]
fn example_c_alloc_align_pad_slots() {
    let mut r = Run::new(spec());
    r.min_align(0xfff);
    // offset 0xA00; size ALIGN(0xB00, 0x1000) = 0x1000; 2 slots; slot 0; pad_slots 1
    let (res, ev) = r.call(tbl_map(0x1000_1A00, 0x100, 0xfff));
    assert_eq!(res, CallResult::Returned(0x8000_0A00));
    // the copy covers mapping_size from the returned address only
    assert_eq!(ev, ["memcpy 0x80000a00 <- 0x10001a00 0x100"]);
    assert_eq!(r.slot(0), SlotInfo { orig_addr: INVALID, alloc_size: 0xE00, list: 0, pad_slots: 0 });
    assert_eq!(r.slot(1), SlotInfo { orig_addr: 0x1000_1A00, alloc_size: 0x600, list: 0, pad_slots: 1 });
    // release: index 1 - pad 1 = 0, nr_slots(0xE00 + 0x200) = 2
    r.unmap(0x8000_0A00, 0x100);
    assert_eq!(r.lists(0, 3), [128, 127, 126]);
    assert_eq!(r.slot(1), SlotInfo { orig_addr: INVALID, alloc_size: 0, list: 127, pad_slots: 0 });
    assert_eq!(r.area(0), AreaInfo { index: 2, used: 0 });
}

#[test]
fn example_d_wrapped_alloc_size_and_signed_offset() {
    let mut r = Run::new(spec());
    r.min_align(0xfff);
    // offset 0x780, size 0x880, 2 slots
    let tlb = r.map(0x1000_0780, 0x100, 0);
    assert_eq!(tlb, 0x8000_0780);
    assert_eq!(r.slot(0).alloc_size, 0x100);
    // 0x880 - 0x780 - 0x800 wraps
    assert_eq!(r.slot(1).alloc_size, 0u64.wrapping_sub(0x700));
    assert_eq!(r.slot(1).orig_addr, 0x1000_0F80);
    // sync at the start of slot 1 (= tlb + 0x80): tlb_offset = 0 - 0x780, so orig 0x1000_0800,
    // remaining alloc_size 0x80: no WARN for 0x80 bytes
    let (_, ev) = r.call(Call::SwiotlbSyncSingleForCpu { tlb_addr: 0x8000_0800, size: 0x80, dir: FROM_DEV });
    assert_eq!(ev, ["memcpy 0x10000800 <- 0x80000800 0x80"]);
    // the release recovers 2 slots from slot 0's alloc_size
    r.unmap(tlb, 0x100);
    assert_eq!(r.area(0).used, 0);
    assert_eq!(r.lists(0, 2), [128, 127]);
}

#[test]
fn example_e_areas_by_cpu() {
    let mut r = Run::new(cfg(SwiotlbMode::On, 1024, 4));
    assert_eq!(r.model.swiotlb_pool().unwrap().area_nslabs, 256);
    let mut got = vec![];
    for cpu in [0, 1, 2, 3, 5] {
        r.cpu(cpu);
        got.push(r.map(0x1000_0000, 0x800, 0));
    }
    // area base = area * 256 slots = area * 0x80000; cpu 5 & 3 = area 1, its index now 1
    assert_eq!(got, [0x8000_0000, 0x8008_0000, 0x8010_0000, 0x8018_0000, 0x8008_0800]);
    assert_eq!(r.area(1), AreaInfo { index: 2, used: 2 });
}

#[test]
fn areas_are_tried_cyclically_from_the_cpus() {
    // 4 areas of 256: fill area 2 from cpu 2 (slots 512..767); its next map goes to area 3
    let mut r = Run::new(cfg(SwiotlbMode::On, 1024, 4));
    r.cpu(2);
    for k in 0..2 {
        assert_eq!(r.map(0x1000_0000, 0x40000, 0), slot_addr(512 + 128 * k));
    }
    assert_eq!(r.area(2), AreaInfo { index: 0, used: 256 });
    assert_eq!(r.map(0x1000_0000, 0x800, 0), slot_addr(768));
    // fill the rest of area 3 one slot at a time from cpu 3 (769..1023)
    r.cpu(3);
    for s in 769..1024 {
        assert_eq!(r.map(0x1000_0000, 0x800, 0), slot_addr(s));
    }
    assert_eq!(r.area(3).used, 256);
    // area 3 full (early exit): the search wraps from area 3 to area 0
    assert_eq!(r.map(0x1000_0000, 0x800, 0), slot_addr(0));
    // from cpu 2: area 2 and 3 full, then area 0 at its index 1
    r.cpu(2);
    assert_eq!(r.map(0x1000_0000, 0x800, 0), slot_addr(1));
    assert_eq!(r.area(0), AreaInfo { index: 2, used: 2 });
}

#[test]
fn example_f_segment_limit() {
    let mut r = Run::new(spec());
    // 100 slots each (page rule, stride 2): slot 0, then from index 100 (list 28) on to 128
    assert_eq!(r.map(0x1000_0000, 100 * 0x800, 0), slot_addr(0));
    assert_eq!(r.slot(100).list, 28);
    assert_eq!(r.map(0x1000_0000, 100 * 0x800, 0), slot_addr(128));
    assert_eq!(r.area(0), AreaInfo { index: 228, used: 200 });
    // 129 slots never fit in a 128-slot segment
    let (res, ev) = r.call(tbl_map(0x1000_0000, 129 * 0x800, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(ev, [full_msg(129 * 0x800, 1024, 200)]);
    assert_eq!(r.area(0).index, 228);
}

#[test]
fn example_g_segment_boundary() {
    let mut r = Run::new(spec());
    r.ret(Call::SetSegBoundary { mask: 0xffff });
    // max_slots 32; a 28-slot map (slot 0, 0 + 28 <= 32) leaves area.index at 28
    assert_eq!(r.map(0x1000_0000, 28 * 0x800, 0), slot_addr(0));
    assert_eq!(r.area(0).index, 28);
    // 8 slots, stride 2: 28 and 30 cross the 32-slot boundary; 32 is taken
    assert_eq!(r.map(0x1000_0000, 0x4000, 0), 0x8001_0000);
    assert_eq!(r.area(0).index, 40);
    // the boundary is applied to the masked DMA base: slot 28 stays free
    assert_eq!(r.slot(28).list, 4);
}

#[test]
fn example_h_wrap_to_zero_not_modulo() {
    let mut r = Run::new(cfg(SwiotlbMode::On, 1024, 4));
    // area 0 (cpu 0): 128 slots at 0, 127 at 128 -> area.index 255; both freed again
    let a = r.map(0x1000_0000, 0x40000, 0);
    let b = r.map(0x1000_0000, 127 * 0x800, 0);
    assert_eq!((a, b), (slot_addr(0), slot_addr(128)));
    assert_eq!(r.area(0).index, 255);
    r.unmap(a, 0x40000);
    r.unmap(b, 127 * 0x800);
    assert_eq!(r.area(0), AreaInfo { index: 255, used: 0 });
    // 4 KiB: slot 255 is misaligned, +1 wraps to 0 (not to 256 or 255 + 1 - 256 via stride)
    assert_eq!(r.map(0x1000_0000, 0x1000, 0), slot_addr(0));
    assert_eq!(r.area(0).index, 2);
}

#[test]
fn example_j_page_rule_on_and_off() {
    for (mask, want) in [(0x3u64, 0x8000_0801u64), (0, 0x8000_1000)] {
        let mut r = Run::new(spec());
        r.min_align(mask);
        // area.index 1: one slot mapped and released at slot 0
        let t = r.map(0x1000_0000, 0x800, 0);
        r.unmap(t, 0x800);
        assert_eq!(r.area(0), AreaInfo { index: 1, used: 0 });
        // min_align 0x3: offset 1, size 0x1001, no page rule: slot 1, + 1.
        // min_align 0: page rule, slot 1 misaligned, slot 2
        assert_eq!(r.map(0x4001, 0x1000, 0), want, "min_align {mask:#x}");
    }
}

// ---- §12 fixed behaviours ----

#[test]
fn item1_bounce_size_clamped_with_warn_once() {
    let mut r = Run::new(spec());
    r.rec.write(0x1000_0000, &[0xaa; 0x100]);
    let tlb = r.map(0x1000_0000, 0x100, 0);
    r.rec.write(tlb, &[0x55; 0x200]);
    // a sync of 0x200 on a 0x100 mapping copies the 0x100 of the mapping
    let (_, ev) = r.call(Call::SwiotlbSyncSingleForCpu { tlb_addr: tlb, size: 0x200, dir: FROM_DEV });
    assert_eq!(
        ev,
        [
            format!("DevWarn swiotlb_bounce: {PFX}Buffer overflow detected. Allocation size: 256. Mapping size: 512."),
            "memcpy 0x10000000 <- 0x80000000 0x100".to_string(),
        ]
    );
    assert_eq!(r.rec.read(0x1000_0100, 1), [0]);
    assert_eq!(r.rec.read(0x1000_00ff, 1), [0x55]);
    // the unmap copy-back is clamped too, without a second WARN
    let (_, ev) = r.call(Call::SwiotlbTblUnmapSingle { tlb_addr: tlb, size: 0x300, dir: BIDIR, attrs: 0 });
    assert_eq!(ev, ["memcpy 0x10000000 <- 0x80000000 0x100"]);
}

#[test]
fn item3_partial_sync_copies_the_matching_original_bytes() {
    let mut r = Run::new(spec());
    let tlb = r.map(0x1000_0000, 0x3000, 0);
    assert_eq!(tlb, POOL);
    // slot 2 holds orig + 0x1000; tlb + 0x1234 is orig + 0x1234, 0x3000 - 0x1234 remain
    let (_, ev) = r.call(Call::SwiotlbSyncSingleForDevice { tlb_addr: tlb + 0x1234, size: 0x10, dir: TO_DEV });
    assert_eq!(ev, ["memcpy 0x80001234 <- 0x10001234 0x10"]);
    let (_, ev) = r.call(Call::SwiotlbSyncSingleForDevice { tlb_addr: tlb + 0x2ff0, size: 0x10, dir: TO_DEV });
    assert_eq!(ev, ["memcpy 0x80002ff0 <- 0x10002ff0 0x10"]);
}

#[test]
fn item5_map_always_bounces_sync_for_device_from_device_does_not() {
    let mut r = Run::new(spec());
    r.rec.write(0x1000_0000, &[1, 2, 3, 4]);
    // FROM_DEVICE and SKIP_CPU_SYNC: the original still goes into the slot
    let (res, ev) = r.call(Call::SwiotlbTblMapSingle {
        orig: 0x1000_0000,
        mapping_size: 4,
        alloc_align_mask: 0,
        dir: FROM_DEV,
        attrs: SKIP_CPU_SYNC,
    });
    assert_eq!(res, CallResult::Returned(POOL));
    assert_eq!(ev, ["memcpy 0x80000000 <- 0x10000000 0x4"]);
    assert_eq!(r.rec.read(POOL, 4), [1, 2, 3, 4]);
    // sync_for_device: FROM_DEVICE copies nothing; TO_DEVICE and BIDIRECTIONAL copy in
    let sfd = |dir| Call::SwiotlbSyncSingleForDevice { tlb_addr: POOL, size: 4, dir };
    assert_eq!(r.call(sfd(FROM_DEV)).1, Vec::<String>::new());
    assert_eq!(r.call(sfd(TO_DEV)).1, ["memcpy 0x80000000 <- 0x10000000 0x4"]);
    assert_eq!(r.call(sfd(BIDIR)).1, ["memcpy 0x80000000 <- 0x10000000 0x4"]);
    // sync_for_cpu: TO_DEVICE copies nothing; FROM_DEVICE and BIDIRECTIONAL copy out
    let sfc = |dir| Call::SwiotlbSyncSingleForCpu { tlb_addr: POOL, size: 4, dir };
    assert_eq!(r.call(sfc(TO_DEV)).1, Vec::<String>::new());
    assert_eq!(r.call(sfc(FROM_DEV)).1, ["memcpy 0x10000000 <- 0x80000000 0x4"]);
    assert_eq!(r.call(sfc(BIDIR)).1, ["memcpy 0x10000000 <- 0x80000000 0x4"]);
    // unmap: copy-back only for FROM_DEVICE / BIDIRECTIONAL without SKIP_CPU_SYNC
    let (_, ev) = r.call(Call::SwiotlbTblUnmapSingle { tlb_addr: POOL, size: 4, dir: FROM_DEV, attrs: SKIP_CPU_SYNC });
    assert!(ev.is_empty());
    assert_eq!(r.area(0).used, 0);
    let t = r.map(0x1000_0000, 4, 0);
    let (_, ev) = r.call(Call::SwiotlbTblUnmapSingle { tlb_addr: t, size: 4, dir: TO_DEV, attrs: 0 });
    assert!(ev.is_empty());
    let t = r.map(0x1000_0000, 4, 0);
    let (_, ev) = r.call(Call::SwiotlbTblUnmapSingle { tlb_addr: t, size: 4, dir: FROM_DEV, attrs: 0 });
    assert_eq!(ev, [format!("memcpy 0x10000000 <- {t:#x} 0x4")]);
}

#[test]
fn item5_sync_with_invalid_direction_is_bug() {
    let mut r = Run::new(spec());
    r.map(0x1000_0000, 4, 0);
    let (res, ev) = r.call(Call::SwiotlbSyncSingleForDevice { tlb_addr: POOL, size: 4, dir: DMA_NONE });
    assert_eq!(res, CallResult::Bug);
    assert_eq!(ev, ["Bug __swiotlb_sync_single_for_device: dir != DMA_FROM_DEVICE"]);
    let mut r = Run::new(spec());
    r.map(0x1000_0000, 4, 0);
    let (res, ev) = r.call(Call::SwiotlbSyncSingleForCpu { tlb_addr: POOL, size: 4, dir: 7 });
    assert_eq!(res, CallResult::Bug);
    assert_eq!(ev, ["Bug __swiotlb_sync_single_for_cpu: dir != DMA_TO_DEVICE"]);
    // outside the pool the header inlines do nothing, whatever the direction
    let mut r = Run::new(spec());
    assert_eq!(
        r.call(Call::SwiotlbSyncSingleForCpu { tlb_addr: 0x1000, size: 4, dir: 7 }),
        (CallResult::Returned(0), vec![])
    );
}

#[test]
fn item8_search_is_bounded_when_no_slot_matches() {
    let mut r = Run::new(spec());
    r.min_align(0xfff);
    // orig bit 11 clear: only even slots match; 512 one-slot maps take 0, 2, ..., 1022
    for k in 0..512 {
        assert_eq!(r.map(0x1000_0000, 0x100, 0), slot_addr(2 * k));
    }
    assert_eq!(r.area(0), AreaInfo { index: 1023, used: 512 });
    // half the area is free, but no even slot: the scan ends after area_nslabs checks
    let (res, ev) = r.call(tbl_map(0x1000_0000, 0x100, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(ev, [full_msg(0x100, 1024, 512)]);
    // an odd-matching original still finds slot 1023
    assert_eq!(r.map(0x1000_0800, 0x100, 0), slot_addr(1023));
}

#[test]
fn item8_full_area_exits_early() {
    let mut r = Run::new(spec());
    for k in 0..8 {
        assert_eq!(r.map(0x1000_0000, 0x40000, 0), slot_addr(128 * k));
    }
    r.min_align(0xfff);
    let (res, ev) = r.call(tbl_map(0x1000_0A00, 0x100, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    // size printed is the padded one: 0x100 + 0x200
    assert_eq!(ev, [full_msg(0x300, 1024, 1024)]);
}

#[test]
fn item9_item12_alloc_align_and_min_align_combined() {
    let mut r = Run::new(spec());
    r.min_align(0xfff);
    // alloc_align 0xffff + min_align 0xfff, orig ..1A00: A = 0xffff, I = 0, stride 32;
    // offset 0xA00, size ALIGN(0xB00, 0x10000) = 0x10000 (32 slots) at slot 0, pad 1
    let (res, ev) = r.call(tbl_map(0x1000_1A00, 0x100, 0xffff));
    assert_eq!(res, CallResult::Returned(0x8000_0A00));
    assert_eq!(
        ev,
        [
            format!("DevWarn swiotlb_tbl_map_single: {PFX}Alloc alignment may prevent fulfilling requests with max mapping_size"),
            "memcpy 0x80000a00 <- 0x10001a00 0x100".to_string(),
        ]
    );
    assert_eq!(r.area(0), AreaInfo { index: 32, used: 32 });
    assert_eq!(r.slot(1).pad_slots, 1);
    assert_eq!(r.slot(31).orig_addr, 0x1000_1A00 + 30 * 0x800);
    // the WARN is once
    let (_, ev) = r.call(tbl_map(0x1000_1A00, 0x100, 0x1fff));
    assert_eq!(ev.len(), 1, "{ev:?}");
    // release of the first: index 1 - pad 1 = 0, nr_slots(0xFE00 + 0x200) = 32
    r.unmap(0x8000_0A00, 0x100);
    assert_eq!(r.area(0).used, 4);
}

#[test]
fn item9_min_align_above_alloc_align_checks_every_candidate() {
    // min_align 0x3fff, alloc_align 0xfff: A = 0xfff, I = 0x3000, stride 7 (not a power of
    // two); orig 0x1000_3A00 needs t & 0x3000 == 0x3000, i.e. slots 6 mod 8; offset 0xA00
    // gives size ALIGN(0xB00, 0x1000) = 2 slots with one padding slot
    for (pre, found) in [(126u64, 126u64), (127, 134)] {
        let mut r = Run::new(spec());
        r.min_align(0x3fff);
        // a streaming-style pre-map (alloc_align 0, min_align set: no page rule) of `pre` slots
        assert_eq!(r.map(0x1000_0000, pre * 0x800, 0), POOL);
        assert_eq!(r.area(0).index, pre);
        // from 126: slot 126 matches and has list 2; from 127: 127..133 fail the masks one by
        // one, 134 (= 0x43000) matches
        let tlb = r.map(0x1000_3A00, 0x100, 0xfff);
        assert_eq!(tlb, slot_addr(found + 1) + 0x200, "pre {pre}");
        assert_eq!(tlb & 0x3fff, 0x3A00);
        assert_eq!(r.slot(found + 1).pad_slots, 1);
        assert_eq!(r.area(0).index, found + 2);
    }
}

#[test]
fn item10_list_clamped_in_a_three_slot_pool() {
    let mut r = Run::new(cfg(SwiotlbMode::Restricted, 3, 0));
    assert_eq!(r.lists(0, 3), [3, 2, 1]);
    // 4 slots (>= PAGE_SIZE): more than the area has, the early exit
    let (res, ev) = r.call(tbl_map(0x1000_0000, 0x2000, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(ev, [full_msg(0x2000, 3, 0)]);
    // 3 slots fit exactly; the release reads the slot past the array as list 0
    let t = r.map(0x1000_0000, 0x1800, 0);
    assert_eq!(t, POOL);
    assert_eq!(r.lists(0, 3), [0, 0, 0]);
    r.unmap(t, 0x1800);
    assert_eq!(r.lists(0, 3), [3, 2, 1]);
    assert_eq!(r.area(0), AreaInfo { index: 0, used: 0 });
}

#[test]
fn item13_pad_slots_are_never_bounced_and_are_released() {
    let mut r = Run::new(spec());
    r.min_align(0xfff);
    let tlb = r.map(0x1000_1A00, 0x100, 0xfff);
    assert_eq!(tlb, 0x8000_0A00);
    // a sync inside the padding slot (slot 0) finds orig INVALID: nothing happens
    let (_, ev) = r.call(Call::SwiotlbSyncSingleForDevice { tlb_addr: POOL + 0x100, size: 0x10, dir: TO_DEV });
    assert!(ev.is_empty(), "{ev:?}");
    r.unmap(tlb, 0x100);
    assert_eq!(r.area(0).used, 0);
    assert_eq!(r.slot(0).list, 128);
}

#[test]
fn item14_partial_sync_before_the_offset_of_a_later_slot() {
    let mut r = Run::new(spec());
    r.min_align(0xfff);
    r.rec.write(0x1000_0780, &(0..0x100).map(|i| i as u8).collect::<Vec<_>>());
    let tlb = r.map(0x1000_0780, 0x100, 0);
    // the map copied the whole mapping
    assert_eq!(r.rec.read(tlb + 0x80, 2), [0x80, 0x81]);
    // sync of the second slot's first 0x80 bytes copies orig + 0x80, no WARN
    let (_, ev) = r.call(Call::SwiotlbSyncSingleForDevice { tlb_addr: tlb + 0x80, size: 0x80, dir: TO_DEV });
    assert_eq!(ev, ["memcpy 0x80000800 <- 0x10000800 0x80"]);
}

#[test]
fn item16_max_mapping_size_fits_for_every_granule() {
    // (min_align, alloc_align, expected tlb) for orig 0x1000_3A00 at swiotlb_max_mapping_size
    let cases = [
        // offset 0xA00, size ALIGN(0x3f000 + 0xA00, g + 1) = 0x40000, slot 0, pad 1
        (0xfffu64, 0xfffu64, 0x8000_0A00u64),
        (0xfff, 0x3fff, 0x8000_0A00),
        (0xfff, 0xffff, 0x8000_0A00),
        // I = 0x3000, stride 7: 122 slots at slot 6 (the first with bits 0x3000), pad 1
        (0x3fff, 0xfff, 0x8000_3A00),
        // offset 0x3A00: 128 slots at slot 0, pad 7
        (0x3fff, 0x3fff, 0x8000_3A00),
        (0x3fff, 0xffff, 0x8000_3A00),
    ];
    for (m, g, want) in cases {
        let mut r = Run::new(spec());
        r.min_align(m);
        let max = r.ret(Call::SwiotlbMaxMappingSize);
        let got = r.map(0x1000_3A00, max, g);
        assert_eq!(got, want, "min_align {m:#x} granule {g:#x}");
        assert_eq!(got & m, 0x1000_3A00 & m);
    }
}

#[test]
fn zero_size_map_bugs_without_an_offset_and_takes_a_slot_with_one() {
    let mut r = Run::new(spec());
    let (res, ev) = r.call(tbl_map(0x1000_0000, 0, 0));
    assert_eq!(res, CallResult::Bug);
    assert_eq!(ev, ["Bug swiotlb_search_pool_area: !nslots"]);
    let mut r = Run::new(spec());
    r.min_align(0xfff);
    // offset 0x200 makes size 0x200: one slot; the copy is of 0 bytes
    let (res, ev) = r.call(tbl_map(0x1000_0A00, 0, 0));
    assert_eq!(res, CallResult::Returned(0x8000_0A00));
    assert_eq!(ev, ["memcpy 0x80000a00 <- 0x10000a00 0x0"]);
}

#[test]
fn seg_boundary_not_a_power_of_two_minus_one_bugs() {
    let mut r = Run::new(spec());
    // max_slots (0x12345 >> 11) + 1 = 37: iommu_is_span_boundary BUGs on the first candidate
    r.ret(Call::SetSegBoundary { mask: 0x12345 });
    let (res, ev) = r.call(tbl_map(0x1000_0000, 0x100, 0));
    assert_eq!(res, CallResult::Bug);
    assert_eq!(ev, ["Bug iommu_is_span_boundary: !is_power_of_2(boundary_size)"]);
}

#[test]
fn release_of_an_address_below_the_first_slot_bugs() {
    // a pool whose start is not 2 KiB-aligned: with min_align 0x7ff, tlb = start gives
    // index (int)((start - 0x100 - start) >> 11) = -1, so aindex = 0xffffffff / 64 >= 1
    let mut r = Run::new(DeviceConfig {
        swiotlb: SwiotlbConfig { mode: SwiotlbMode::Restricted, start: POOL + 0x100, nslabs: 64, nareas: 0 },
        ..spec()
    });
    r.min_align(0x7ff);
    let (res, ev) = r.call(Call::SwiotlbTblUnmapSingle { tlb_addr: POOL + 0x100, size: 4, dir: TO_DEV, attrs: 0 });
    assert_eq!(res, CallResult::Bug);
    assert_eq!(ev, ["Bug swiotlb_release_slots: aindex >= mem->nareas"]);
}

#[test]
fn release_that_would_write_past_the_pool_stops_the_model() {
    // 2-slot restricted pool, min_align 0x7ff: slot 1 holds a mapping with offset 0x100 and
    // alloc_size 0x700. Released at slot 1 + 0x7ff (not the map-time address), the kernel
    // computes nr_slots(0x700 + 0x7ff) = 2 slots from index 1 and writes slots[2]
    let mut r = Run::new(cfg(SwiotlbMode::Restricted, 2, 0));
    r.min_align(0x7ff);
    assert_eq!(r.map(0x1000_0100, 0x700, 0), POOL + 0x100);
    assert_eq!(r.map(0x1000_0100, 0x700, 0), POOL + 0x900);
    let (res, ev) = r.call(Call::SwiotlbTblUnmapSingle { tlb_addr: POOL + 0xfff, size: 1, dir: TO_DEV, attrs: 0 });
    assert_eq!(res, CallResult::Bug);
    assert_eq!(ev, ["Bug swiotlb_release_slots: slot index out of range (the kernel would corrupt memory)"]);
}

#[test]
fn map_of_2_pow_43_bytes_truncates_nslots() {
    // nr_slots(2^43) = 2^32: the search's unsigned int nslots is 0
    let mut r = Run::new(spec());
    let (res, ev) = r.call(tbl_map(0x1000_0000, 1 << 43, 0));
    assert_eq!(res, CallResult::Bug);
    assert_eq!(ev, ["Bug swiotlb_search_pool_area: !nslots"]);
    // 2^32 + 1 slots: the search finds 1, the orig_addr loop then runs past slots[]
    let mut r = Run::new(spec());
    let (res, ev) = r.call(tbl_map(0x1000_0000, (1 << 43) + 0x800, 0));
    assert_eq!(res, CallResult::Bug);
    assert_eq!(ev, ["Bug swiotlb_tbl_map_single: slot index out of range (the kernel would corrupt memory)"]);
}

// ---- through dma-direct ----

fn noncoherent(mode: SwiotlbMode) -> DeviceConfig {
    DeviceConfig { dma_coherent: false, ..cfg(mode, 1024, 1) }
}

#[test]
fn force_bounce_map_and_unmap_noncoherent() {
    let mut r = Run::new(noncoherent(SwiotlbMode::Force));
    r.rec.write(0x1234_5010, b"hello");
    let (res, ev) = r.call(map_page(0x1234_5000, 0x10, 0x100, BIDIR, 0));
    assert_eq!(res, CallResult::Returned(POOL));
    assert_eq!(
        ev,
        [
            "p2p? 0x12345",
            "trace swiotlb_bounced dev_addr=0x12345010 size=0x100 force=true",
            "memcpy 0x80000000 <- 0x12345010 0x100",
            "for_device 0x80000000 0x100 0",
            "trace dma_map_page phys=0x12345010 dma=0x80000000 size=0x100 dir=0 attrs=0x0",
        ]
    );
    assert_eq!(r.rec.read(POOL, 5), b"hello");
    // the device writes the slot; unmap copies back once, in the sync step, then releases
    r.rec.write(POOL, b"HELLO");
    let (_, ev) = r.call(Call::UnmapPageAttrs { addr: POOL, size: 0x100, dir: BIDIR, attrs: 0 });
    assert_eq!(
        ev,
        [
            "for_cpu 0x80000000 0x100 0",
            "for_cpu_all",
            "memcpy 0x12345010 <- 0x80000000 0x100",
            "trace dma_unmap_page addr=0x80000000 size=0x100 dir=0 attrs=0x0",
        ]
    );
    assert_eq!(r.rec.read(0x1234_5010, 5), b"HELLO");
    assert_eq!(r.area(0).used, 0);
    assert_eq!(r.slot(0).list, 128);
}

#[test]
fn force_bounce_unmap_from_device_and_skip_cpu_sync() {
    let mut r = Run::new(noncoherent(SwiotlbMode::Force));
    let t = r.ret(map_page(0x1234_5000, 0, 0x40, FROM_DEV, 0));
    let (_, ev) = r.call(Call::UnmapPageAttrs { addr: t, size: 0x40, dir: FROM_DEV, attrs: 0 });
    assert_eq!(
        ev,
        [
            "for_cpu 0x80000000 0x40 2",
            "for_cpu_all",
            "memcpy 0x12345000 <- 0x80000000 0x40",
            "mark_clean 0x80000000 0x40",
            "trace dma_unmap_page addr=0x80000000 size=0x40 dir=2 attrs=0x0",
        ]
    );
    // SKIP_CPU_SYNC on both ends: the map still copies in and skips the arch sync; the unmap
    // neither syncs nor copies back, but frees the slot
    let (res, ev) = r.call(map_page(0x1234_5000, 0, 0x40, FROM_DEV, SKIP_CPU_SYNC));
    assert_eq!(res, CallResult::Returned(slot_addr(1)));
    assert_eq!(ev[2], "memcpy 0x80000800 <- 0x12345000 0x40");
    assert!(!ev.iter().any(|e| e.starts_with("for_device")), "{ev:?}");
    let (_, ev) = r.call(Call::UnmapPageAttrs { addr: slot_addr(1), size: 0x40, dir: FROM_DEV, attrs: SKIP_CPU_SYNC });
    assert_eq!(ev, ["trace dma_unmap_page addr=0x80000800 size=0x40 dir=2 attrs=0x20"]);
    assert_eq!(r.area(0).used, 0);
}

#[test]
fn bounce_for_addresses_beyond_the_mask() {
    let mut r = Run::new(DeviceConfig { dma_mask: Some(0xffff_ffff), ..spec() });
    let (res, ev) = r.call(map_page(0x1_0000_0000, 0, 0x1000, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(POOL));
    assert_eq!(
        ev,
        [
            "p2p? 0x100000",
            "trace swiotlb_bounced dev_addr=0x100000000 size=0x1000 force=false",
            "memcpy 0x80000000 <- 0x100000000 0x1000",
            "trace dma_map_page phys=0x100000000 dma=0x80000000 size=0x1000 dir=1 attrs=0x0",
        ]
    );
    // an address the device reaches is not bounced
    let (res, ev) = r.call(map_page(0x1000, 0, 0x1000, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(0x1000));
    assert_eq!(ev, ["trace dma_map_page phys=0x1000 dma=0x1000 size=0x1000 dir=1 attrs=0x0"]);
    // and its unmap does not touch swiotlb
    let (_, ev) = r.call(Call::UnmapPageAttrs { addr: 0x1000, size: 0x1000, dir: FROM_DEV, attrs: 0 });
    assert_eq!(ev, ["mark_clean 0x1000 0x1000", "trace dma_unmap_page addr=0x1000 size=0x1000 dir=2 attrs=0x0"]);
}

#[test]
fn kmalloc_bounce_through_swiotlb() {
    let mut r = Run::new(noncoherent(SwiotlbMode::On));
    let (res, ev) = r.call(map_page(0x1000, 0, 64, FROM_DEV, 0));
    assert_eq!(res, CallResult::Returned(POOL));
    assert_eq!(
        ev,
        [
            "p2p? 0x1",
            "trace swiotlb_bounced dev_addr=0x1000 size=0x40 force=false",
            "memcpy 0x80000000 <- 0x1000 0x40",
            "for_device 0x80000000 0x40 2",
            "trace dma_map_page phys=0x1000 dma=0x80000000 size=0x40 dir=2 attrs=0x0",
        ]
    );
}

#[test]
fn slot_beyond_the_mask_is_released_and_warned_once() {
    // the pool sits above 4 GiB, the device sees 32 bits
    let c = DeviceConfig {
        dma_mask: Some(0xffff_ffff),
        swiotlb: SwiotlbConfig { mode: SwiotlbMode::On, start: 0x1_0000_0000, nslabs: 1024, nareas: 1 },
        ..spec()
    };
    let mut r = Run::new(c);
    let (res, ev) = r.call(map_page(0x2_0000_0000, 0, 0x100, BIDIR, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(
        ev,
        [
            "p2p? 0x200000".to_string(),
            "trace swiotlb_bounced dev_addr=0x200000000 size=0x100 force=false".to_string(),
            "memcpy 0x100000000 <- 0x200000000 0x100".to_string(),
            format!(
                "DevWarn swiotlb_map: {PFX}swiotlb addr 0x0000000100000000+256 overflow (mask ffffffff, bus limit 0)."
            ),
            "trace dma_map_page phys=0x200000000 dma=0xffffffffffffffff size=0x100 dir=0 attrs=0x0".to_string(),
        ]
    );
    // released without a copy-back; the area index is not moved back
    assert_eq!(r.area(0), AreaInfo { index: 1, used: 0 });
    assert_eq!(r.slot(0), SlotInfo { orig_addr: INVALID, alloc_size: 0, list: 128, pad_slots: 0 });
    let (res, ev) = r.call(map_page(0x2_0000_0000, 0, 0x100, BIDIR, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    assert!(!ev.iter().any(|e| e.starts_with("DevWarn")), "{ev:?}");
    assert_eq!(ev[2], "memcpy 0x100000800 <- 0x200000000 0x100");
}

#[test]
fn buffer_full_no_warn_and_ratelimit() {
    let mut r = Run::new(cfg(SwiotlbMode::Force, 128, 1));
    assert_eq!(r.ret(map_page(0x1000_0000, 0, 0x40000, TO_DEV, 0)), POOL);
    let full = full_msg(0x100, 128, 128);
    let (res, ev) = r.call(map_page(0x2000_0000, 0, 0x100, TO_DEV, NO_WARN));
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(
        ev,
        [
            "p2p? 0x20000",
            "trace swiotlb_bounced dev_addr=0x20000000 size=0x100 force=true",
            "trace dma_map_page phys=0x20000000 dma=0xffffffffffffffff size=0x100 dir=1 attrs=0x100",
        ]
    );
    let mut printed = 0;
    for i in 0..15 {
        let (res, ev) = r.call(map_page(0x2000_0000, 0, 0x100, TO_DEV, 0));
        assert_eq!(res, CallResult::Returned(ERR));
        if ev.contains(&full) {
            printed += 1;
        }
        assert_eq!(ev.len(), if i < 10 { 4 } else { 3 }, "{ev:?}");
        // NO_WARN calls in between do not use up the burst
        r.call(map_page(0x2000_0000, 0, 0x100, TO_DEV, NO_WARN));
    }
    assert_eq!(printed, 10);
}

#[test]
fn p2pdma_guards_unchanged() {
    let mut r = Run::new(noncoherent(SwiotlbMode::Force));
    r.rec.p2p_pfns.push(0x12345);
    let (res, ev) = r.call(map_page(0x1234_5000, 0, 0x100, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(
        ev,
        ["p2p? 0x12345", "trace dma_map_page phys=0x12345000 dma=0xffffffffffffffff size=0x100 dir=1 attrs=0x0"]
    );
    let mut r = Run::new(DeviceConfig { dma_mask: Some(0xffff_ffff), ..spec() });
    r.rec.p2p_pfns.push(0x100000);
    let (res, ev) = r.call(map_page(0x1_0000_0000, 0, 0x100, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(ERR));
    assert_eq!(
        ev,
        ["p2p? 0x100000", "trace dma_map_page phys=0x100000000 dma=0xffffffffffffffff size=0x100 dir=1 attrs=0x0"]
    );
    assert!(r.model.swiotlb_touched_segments().is_empty());
}

#[test]
fn first_bounce_reopens_the_sync_gate_of_a_coherent_device() {
    let mut r = Run::new(cfg(SwiotlbMode::Force, 1024, 1));
    // coherent with a mask: dma_skip_sync, so the wrapper skips everything
    let (_, ev) = r.call(Call::SyncSingleForCpu { addr: POOL, size: 0x10, dir: FROM_DEV });
    assert!(ev.is_empty(), "{ev:?}");
    r.ret(map_page(0x1234_5000, 0, 0x10, FROM_DEV, 0));
    // dma_reset_need_sync(): now the sync runs and bounces
    let (_, ev) = r.call(Call::SyncSingleForCpu { addr: POOL, size: 0x10, dir: FROM_DEV });
    assert_eq!(
        ev,
        [
            "memcpy 0x12345000 <- 0x80000000 0x10",
            "mark_clean 0x80000000 0x10",
            "trace dma_sync_single_for_cpu addr=0x80000000 size=0x10 dir=2"
        ]
    );
    let (_, ev) = r.call(Call::SyncSingleForDevice { addr: POOL, size: 0x10, dir: FROM_DEV });
    assert_eq!(ev, ["trace dma_sync_single_for_device addr=0x80000000 size=0x10 dir=2"]);
}

#[test]
fn restricted_pool_with_dma_range_map_uses_the_bus_address() {
    // CPU 0x8000_0000.. is bus 0x1000_0000..: the slot's DMA address is translated, and the
    // boundary test runs on the masked bus base T
    let c = DeviceConfig {
        dma_range_map: vec![dmadiff_cref::BusDmaRegion {
            cpu_start: 0x8000_0000,
            dma_start: 0x1000_0000,
            size: 0x4000_0000,
        }],
        ..cfg(SwiotlbMode::Restricted, 64, 0)
    };
    let mut r = Run::new(c);
    let (res, ev) = r.call(map_page(0x9000_0000, 0, 0x100, TO_DEV, 0));
    assert_eq!(res, CallResult::Returned(0x1000_0000));
    assert_eq!(ev[1], "trace swiotlb_bounced dev_addr=0x20000000 size=0x100 force=true");
    assert_eq!(ev[2], "memcpy 0x80000000 <- 0x90000000 0x100");
    let (_, ev) = r.call(Call::UnmapPageAttrs { addr: 0x1000_0000, size: 0x100, dir: FROM_DEV, attrs: 0 });
    assert_eq!(ev[0], "memcpy 0x90000000 <- 0x80000000 0x100");
    assert_eq!(r.area(0).used, 0);
}

// ---- randomized: the free-list invariant, and robustness against garbage ----

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[(self.next() % v.len() as u64) as usize]
    }
}

/// list[i] counts the free slots from i to the end of its segment or pool, 0 when allocated,
/// and the areas' used counts add up to the allocated slots (spec §3).
fn check_invariant(m: &LegacyModel) {
    let p = m.swiotlb_pool().unwrap();
    let mut allocated = 0;
    for i in (0..p.nslabs).rev() {
        let l = m.swiotlb_slot(i).list as u64;
        let next = if (i + 1) % 128 != 0 && i + 1 < p.nslabs { m.swiotlb_slot(i + 1).list as u64 } else { 0 };
        if l == 0 {
            allocated += 1;
        } else {
            assert_eq!(l, next + 1, "slot {i}");
        }
    }
    let used: u64 = (0..p.nareas).map(|a| m.swiotlb_area(a).used).sum();
    assert_eq!(used, allocated);
}

#[test]
fn random_maps_and_unmaps_keep_the_free_list_invariant() {
    for seed in 1..=12u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut r = Run::new(DeviceConfig { nr_cpus: 4, ..cfg(SwiotlbMode::On, 1024, 0) });
        let min_align = rng.pick(&[0u64, 0x7ff, 0xfff, 0x3fff]);
        r.min_align(min_align);
        if rng.next() & 1 == 0 {
            r.ret(Call::SetSegBoundary { mask: rng.pick(&[0xffffu64, 0x3ffff, 0xfffff]) });
        }
        let mut live: Vec<(u64, u64)> = vec![];
        for _ in 0..400 {
            r.cpu((rng.next() % 4) as u32);
            if live.is_empty() || rng.next() % 3 < 2 {
                let orig = 0x1000_0000 + (rng.next() % 0x10_0000);
                let size = 1 + rng.next() % rng.pick(&[0x100u64, 0x2000, 0x3_0000]);
                let align = rng.pick(&[0u64, 0, 0xfff, 0x3fff, 0xffff]);
                match r.call(tbl_map(orig, size, align)).0 {
                    CallResult::Returned(ERR) => {}
                    CallResult::Returned(t) => {
                        // the min_align bits of the original survive in the bounce address
                        assert_eq!(t & min_align, orig & min_align);
                        live.push((t, size));
                    }
                    CallResult::Bug => panic!("unexpected BUG"),
                    CallResult::Iova(_) => unreachable!("swiotlb_tbl_map_single returns a phys_addr_t"),
                }
            } else {
                let (t, size) = live.swap_remove((rng.next() % live.len() as u64) as usize);
                r.unmap(t, size);
            }
            check_invariant(&r.model);
        }
        for (t, size) in live.drain(..) {
            r.unmap(t, size);
        }
        check_invariant(&r.model);
        assert_eq!(r.lists(0, 1024), (0..1024).map(|i| 128 - (i % 128) as u32).collect::<Vec<_>>());
    }
}

/// Records nothing and copies nothing: garbage sizes reach cpu_memcpy.
struct Null;

impl Hooks for Null {
    fn arch_sync_dma_for_device(&mut self, _: u64, _: u64, _: u32) {}
    fn arch_sync_dma_for_cpu(&mut self, _: u64, _: u64, _: u32) {}
    fn arch_sync_dma_for_cpu_all(&mut self) {}
    fn arch_dma_mark_clean(&mut self, _: u64, _: u64) {}
    fn pfn_valid(&mut self, _: u64) -> bool {
        true
    }
    fn is_pci_p2pdma_page(&mut self, _: u64) -> bool {
        false
    }
    fn trace_dma_map(&mut self, _: &str, _: u64, _: u64, _: u64, _: u32, _: u64) {}
    fn trace_dma_unmap(&mut self, _: &str, _: u64, _: u64, _: u32, _: u64) {}
    fn trace_dma_sync_single(&mut self, _: &str, _: u64, _: u64, _: u32) {}
    fn report(&mut self, _: ReportKind, _: &str, _: &str) {}
    fn cpu_memcpy(&mut self, _: u64, _: u64, _: u64) {}
    fn cpu_memset(&mut self, _: u64, _: u8, _: u64) {}
    fn boot_memzero(&mut self, _: u64, _: u64) {}
    fn trace_swiotlb_bounced(&mut self, _: u64, _: u64, _: bool) {}
}

#[test]
fn garbage_addresses_and_sizes_never_crash_the_model() {
    // releases of addresses the map did not return, sizes up to 2^64: the kernel would
    // corrupt memory; the model must stay defined (run under the sanitize feature too)
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let sizes = [0u64, 1, 0x7ff, 0x800, 0x40000, 0x40001, 1 << 43, (1 << 43) + 0x800, u64::MAX, u64::MAX - 0x7ff];
    let mut null = Null;
    for round in 0..40 {
        let mode = if round % 2 == 0 { SwiotlbMode::On } else { SwiotlbMode::Restricted };
        let nslabs = if mode == SwiotlbMode::On { 256 } else { 1 + rng.next() % 300 };
        let start = POOL + if round % 5 == 0 { 0x100 } else { 0 };
        let c = DeviceConfig { nr_cpus: 2, swiotlb: SwiotlbConfig { mode, start, nslabs, nareas: 0 }, ..spec() };
        let mut m = LegacyModel::new(&c, &mut null);
        let end = m.swiotlb_pool().unwrap().end;
        for _ in 0..300 {
            if m.is_dead() {
                break;
            }
            let in_pool = start + rng.next() % (end - start + 0x1000);
            let size = rng.pick(&sizes).wrapping_add(rng.next() % 3);
            let dir = (rng.next() % 3) as u32;
            let call = match rng.next() % 8 {
                0 | 1 => Call::SwiotlbTblMapSingle {
                    orig: rng.next() % (1 << 40),
                    mapping_size: size,
                    alloc_align_mask: rng.pick(&[0u64, 0xfff, 0xffff, 0xffff_ffff, 0x1234]),
                    dir,
                    attrs: 0,
                },
                2 | 3 => Call::SwiotlbTblUnmapSingle { tlb_addr: in_pool, size, dir, attrs: 0 },
                4 => Call::SwiotlbSyncSingleForCpu { tlb_addr: in_pool, size, dir },
                5 => Call::SwiotlbSyncSingleForDevice { tlb_addr: in_pool, size, dir },
                6 => Call::SetMinAlignMask { mask: rng.pick(&[0u64, 0x7ff, 0xfff, 0x3fff, 0xffff_ffff]) },
                _ => Call::RunOnCpu { cpu: (rng.next() % 4) as u32 },
            };
            m.call(&mut null, call);
        }
    }
}
