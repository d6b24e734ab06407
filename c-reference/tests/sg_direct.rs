//! Pins the legacy (v6.16) scatterlist paths of the C model through dma-direct:
//! __dma_map_sg_attrs / dma_map_sg_attrs / dma_map_sgtable / dma_unmap_sg_attrs /
//! __dma_sync_sg_for_{cpu,device} (kernel/dma/mapping.c) and dma_direct_map_sg /
//! dma_direct_unmap_sg / dma_direct_sync_sg_for_{cpu,device} (kernel/dma/direct.c), with the
//! two v6.16 P2PDMA defects. Every expected value is worked out from the kernel rules, not
//! copied from the model's output; the arithmetic is in the comments.

use dmadiff_cref::{DeviceConfig, LegacyModel, P2pdmaMapType, SgCall, SgEntry, SgResult, SwiotlbConfig, SwiotlbMode};

const BIDIR: u32 = 0;
const TO_DEV: u32 = 1;
const FROM_DEV: u32 = 2;
const DMA_NONE: u32 = 3;
const SKIP_CPU_SYNC: u64 = 1 << 5;
const ERR: u64 = u64::MAX;
const EIO: i64 = 5;
const EREMOTEIO: i64 = 121;
/// SG_DMA_BUS_ADDRESS of include/linux/scatterlist.h
const BUS_ADDRESS: u32 = 1;
/// The swiotlb pool of the bouncing tests: 2 MiB at 2 GiB, one area, 2 KiB slots.
const POOL: u64 = 0x8000_0000;
/// The "drv dev: " prefix dev_printk puts before a message.
const PFX: &str = "nvme 0000:01:00.0: ";

mod common;
use common::Rec;

fn coherent() -> DeviceConfig {
    common::base_device()
}

fn noncoherent() -> DeviceConfig {
    DeviceConfig { dma_coherent: false, ..common::base_device() }
}

fn ent(page: u64, offset: u32, length: u32) -> SgEntry {
    SgEntry { page, offset, length, ..Default::default() }
}

/// Three RAM entries; sg_phys = 0x10000, 0x23200, 0x5080; every length >= 2 * ARCH_DMA_MINALIGN,
/// so the kmalloc bounce heuristic never fires.
fn three() -> Vec<SgEntry> {
    vec![ent(0x10000, 0, 0x1000), ent(0x23000, 0x200, 0x600), ent(0x5000, 0x80, 0x100)]
}

const THREE_PHYS: &str = "phys=[0x10000 0x23200 0x5080]";
const THREE_DMA: &str = "dma=[0x10000+0x1000 0x23200+0x600 0x5080+0x100]";

struct Run {
    model: LegacyModel,
    rec: Rec,
}

impl Run {
    fn new(cfg: DeviceConfig) -> Self {
        Self::with_p2p(cfg, vec![])
    }
    /// A device on a platform with these P2PDMA providers (start, size, type, bus_offset).
    fn with_p2p(cfg: DeviceConfig, p2p: Vec<(u64, u64, P2pdmaMapType, u64)>) -> Self {
        let mut rec = Rec { p2p, ..Default::default() };
        let model = LegacyModel::new(&cfg, &mut rec);
        rec.events.clear();
        Run { model, rec }
    }
    /// Runs one scatterlist call; returns its result and the effects it had.
    fn sg(&mut self, call: SgCall, sgl: &mut [SgEntry]) -> (SgResult, Vec<String>) {
        self.rec.events.clear();
        let r = self.model.call_sg(&mut self.rec, call, sgl);
        (r, std::mem::take(&mut self.rec.events))
    }
}

fn ret(value: i64) -> SgResult {
    SgResult::Returned { value, nents: 0 }
}

fn map_sg(nents: u32, dir: u32) -> SgCall {
    SgCall::MapSg { nents, dir, attrs: 0 }
}

fn unmap_sg(nents: u32, dir: u32) -> SgCall {
    SgCall::UnmapSg { nents, dir, attrs: 0 }
}

fn mapped(e: SgEntry, dma_address: u64, dma_length: u32, dma_flags: u32) -> SgEntry {
    SgEntry { dma_address, dma_length, dma_flags, ..e }
}

// ---- RAM lists ----

#[test]
fn map_three_ram_entries_coherent() {
    let mut r = Run::new(coherent());
    let mut sgl = three();
    let (res, ev) = r.sg(map_sg(3, TO_DEV), &mut sgl);
    // identity phys_to_dma; coherent: no cache maintenance; returns nents (never merges)
    assert_eq!(res, ret(3));
    assert_eq!(ev, [format!("trace dma_map_sg {THREE_PHYS} {THREE_DMA} err=0 dir=1 attrs=0x0")]);
    let e = three();
    assert_eq!(
        sgl,
        [mapped(e[0], 0x10000, 0x1000, 0), mapped(e[1], 0x23200, 0x600, 0), mapped(e[2], 0x5080, 0x100, 0)]
    );
}

#[test]
fn map_three_ram_entries_noncoherent_syncs_each_entry() {
    let mut r = Run::new(noncoherent());
    let mut sgl = three();
    let (res, ev) = r.sg(map_sg(3, BIDIR), &mut sgl);
    assert_eq!(res, ret(3));
    // arch_sync_dma_for_device(phys, length) per entry, in list order, then the trace
    assert_eq!(
        ev,
        [
            "for_device 0x10000 0x1000 0".to_string(),
            "for_device 0x23200 0x600 0".to_string(),
            "for_device 0x5080 0x100 0".to_string(),
            format!("trace dma_map_sg {THREE_PHYS} {THREE_DMA} err=0 dir=0 attrs=0x0"),
        ]
    );
    // SKIP_CPU_SYNC reaches dma_direct_map_page per entry: no arch hook at all
    let mut sgl = three();
    let (res, ev) = r.sg(SgCall::MapSg { nents: 3, dir: BIDIR, attrs: SKIP_CPU_SYNC }, &mut sgl);
    assert_eq!(res, ret(3));
    assert_eq!(ev, [format!("trace dma_map_sg {THREE_PHYS} {THREE_DMA} err=0 dir=0 attrs=0x20")]);
}

#[test]
fn map_through_dma_range_map_and_sync_back_to_phys() {
    // CPU 0x0.. maps to bus 0x4000_0000.., 1 GiB
    let map = vec![dmadiff_cref::BusDmaRegion { cpu_start: 0, dma_start: 0x4000_0000, size: 0x4000_0000 }];
    let mut r = Run::new(DeviceConfig { dma_range_map: map, ..noncoherent() });
    let mut sgl = three();
    let (res, ev) = r.sg(map_sg(3, TO_DEV), &mut sgl);
    assert_eq!(res, ret(3));
    assert_eq!(
        ev,
        [
            "for_device 0x10000 0x1000 1".to_string(),
            "for_device 0x23200 0x600 1".to_string(),
            "for_device 0x5080 0x100 1".to_string(),
            format!(
                "trace dma_map_sg {THREE_PHYS} dma=[0x40010000+0x1000 0x40023200+0x600 0x40005080+0x100] err=0 dir=1 \
                 attrs=0x0"
            ),
        ]
    );
    // the sync translates sg_dma_address back with dma_to_phys()
    let (res, ev) = r.sg(SgCall::SyncSgForDevice { nelems: 3, dir: TO_DEV }, &mut sgl);
    assert_eq!(res, ret(0));
    assert_eq!(
        ev,
        [
            "for_device 0x10000 0x1000 1",
            "for_device 0x23200 0x600 1",
            "for_device 0x5080 0x100 1",
            "trace dma_sync_sg_for_device phys=[] dma=[0x40010000+0x1000 0x40023200+0x600 0x40005080+0x100] err=0 \
             dir=1 attrs=0x0",
        ]
    );
}

#[test]
fn map_sgtable_sets_nents() {
    let mut r = Run::new(coherent());
    let mut sgl = three();
    let (res, ev) = r.sg(SgCall::MapSgtable { orig_nents: 3, nents: 0, dir: FROM_DEV, attrs: 0 }, &mut sgl);
    // dma_map_sgtable returns 0 and stores the count in sgt->nents
    assert_eq!(res, SgResult::Returned { value: 0, nents: 3 });
    assert_eq!(ev, [format!("trace dma_map_sg {THREE_PHYS} {THREE_DMA} err=0 dir=2 attrs=0x0")]);
    // orig_nents 2 of a 3-entry list: only two are mapped, the third keeps its zeroed DMA fields
    let mut r = Run::new(coherent());
    let mut sgl = three();
    let (res, ev) = r.sg(SgCall::MapSgtable { orig_nents: 2, nents: 0, dir: FROM_DEV, attrs: 0 }, &mut sgl);
    assert_eq!(res, SgResult::Returned { value: 0, nents: 2 });
    assert_eq!(
        ev,
        ["trace dma_map_sg phys=[0x10000 0x23200] dma=[0x10000+0x1000 0x23200+0x600] err=0 dir=2 attrs=0x0"]
    );
    assert_eq!(sgl[2], three()[2]);
}

#[test]
fn entry_beyond_the_mask_without_swiotlb_unwinds_the_first() {
    let mut r = Run::new(DeviceConfig { dma_mask: Some(0xffff_ffff), ..noncoherent() });
    let list = vec![ent(0x10000, 0, 0x1000), ent(0x1_0000_0000, 0, 0x1000), ent(0x5000, 0x80, 0x100)];
    let mut sgl = list.clone();
    let (res, ev) = r.sg(SgCall::MapSgtable { orig_nents: 3, nents: 0, dir: TO_DEV, attrs: 0 }, &mut sgl);
    // entry 1: dma_capable fails (end 0x1_0000_0fff > mask), not P2PDMA, no swiotlb: WARN and
    // DMA_MAPPING_ERROR, so ret = -EIO; the unwind unmaps entry 0 with SKIP_CPU_SYNC (no
    // for_cpu hook); -EIO is an accepted errno: no WARN_ON_ONCE and no dma_map_sg_err trace
    assert_eq!(res, SgResult::Returned { value: -EIO, nents: 0 });
    assert_eq!(
        ev,
        [
            "for_device 0x10000 0x1000 1".to_string(),
            "p2p? 0x100000".to_string(),
            format!(
                "DevWarn dma_direct_map_page: {PFX}DMA addr 0x0000000100000000+4096 overflow (mask ffffffff, bus \
                 limit 0)."
            ),
        ]
    );
    // entry 0 stays as mapped, entry 1 holds the error address, entry 2 was never reached
    assert_eq!(sgl, [mapped(list[0], 0x10000, 0x1000, 0), mapped(list[1], ERR, 0, 0), list[2]]);

    // dma_map_sg_attrs turns the -EIO into 0; the dev_WARN_ONCE site has already fired
    let mut sgl = list.clone();
    let (res, ev) = r.sg(map_sg(3, TO_DEV), &mut sgl);
    assert_eq!(res, ret(0));
    assert_eq!(ev, ["for_device 0x10000 0x1000 1", "p2p? 0x100000"]);
}

// ---- swiotlb ----

#[test]
fn force_bounce_each_entry_and_unmap_copies_back() {
    let cfg = DeviceConfig {
        swiotlb: SwiotlbConfig { mode: SwiotlbMode::Force, start: POOL, nslabs: 1024, nareas: 1 },
        ..coherent()
    };
    let mut r = Run::new(cfg);
    r.rec.write(0x10000, b"one");
    r.rec.write(0x23200, b"two");
    r.rec.write(0x5080, b"three");
    let mut sgl = three();
    let (res, ev) = r.sg(map_sg(3, BIDIR), &mut sgl);
    assert_eq!(res, ret(3));
    // slots are 2 KiB and the search starts at the area index: 0x1000 >= PAGE_SIZE takes 2
    // page-aligned slots (0, 1), 0x600 takes slot 2 (+0x1000), 0x100 slot 3 (+0x1800); no
    // min_align_mask, so the in-slot offset is 0; coherent: no for_device
    let ev_want = [
        "p2p? 0x10",
        "trace swiotlb_bounced dev_addr=0x10000 size=0x1000 force=true",
        "memcpy 0x80000000 <- 0x10000 0x1000",
        "p2p? 0x23",
        "trace swiotlb_bounced dev_addr=0x23200 size=0x600 force=true",
        "memcpy 0x80001000 <- 0x23200 0x600",
        "p2p? 0x5",
        "trace swiotlb_bounced dev_addr=0x5080 size=0x100 force=true",
        "memcpy 0x80001800 <- 0x5080 0x100",
        "trace dma_map_sg phys=[0x10000 0x23200 0x5080] dma=[0x80000000+0x1000 0x80001000+0x600 \
         0x80001800+0x100] err=0 dir=0 attrs=0x0",
    ];
    assert_eq!(ev, ev_want);
    assert_eq!(r.rec.read(0x8000_0000, 3), b"one");
    assert_eq!(r.rec.read(0x8000_1000, 3), b"two");
    assert_eq!(r.rec.read(0x8000_1800, 5), b"three");
    // the direct path does not set SG_DMA_SWIOTLB (only dma-iommu does)
    assert!(sgl.iter().all(|e| e.dma_flags == 0), "{sgl:?}");

    // the device writes the slots; unmap traces first, then copies each slot back
    r.rec.write(0x8000_0000, b"ONE");
    r.rec.write(0x8000_1000, b"TWO");
    r.rec.write(0x8000_1800, b"THREE");
    let (res, ev) = r.sg(unmap_sg(3, BIDIR), &mut sgl);
    assert_eq!(res, ret(0));
    assert_eq!(
        ev,
        [
            "trace dma_unmap_sg phys=[0x10000 0x23200 0x5080] dma=[] err=0 dir=0 attrs=0x0",
            "memcpy 0x10000 <- 0x80000000 0x1000",
            "memcpy 0x23200 <- 0x80001000 0x600",
            "memcpy 0x5080 <- 0x80001800 0x100",
        ]
    );
    assert_eq!(r.rec.read(0x10000, 3), b"ONE");
    assert_eq!(r.rec.read(0x23200, 3), b"TWO");
    assert_eq!(r.rec.read(0x5080, 5), b"THREE");
}

// ---- P2PDMA ----

/// A provider BAR at 0x40_0000_0000, 1 MiB, bus address = phys + 0x1_0000_0000.
const BAR: u64 = 0x40_0000_0000;
const BUS_OFF: u64 = 0x1_0000_0000;

/// RAM, a P2PDMA entry (sg_phys = BAR + 0x1010, stale DMA fields) and RAM.
fn p2p_list() -> Vec<SgEntry> {
    vec![
        ent(0x10000, 0, 0x1000),
        SgEntry { dma_address: 0xdead_0000, dma_length: 0x1234, ..ent(BAR + 0x1000, 0x10, 0x800) },
        ent(0x5000, 0x80, 0x100),
    ]
}

#[test]
fn p2p_bus_addr_entry_is_marked_and_keeps_a_stale_dma_len() {
    let mut r = Run::with_p2p(noncoherent(), vec![(BAR, 0x10_0000, P2pdmaMapType::BusAddr, BUS_OFF)]);
    let list = p2p_list();
    let mut sgl = list.clone();
    let (res, ev) = r.sg(map_sg(3, TO_DEV), &mut sgl);
    assert_eq!(res, ret(3));
    // BUS_ADDR: dma_address = 0x40_0000_1010 + 0x1_0000_0000, marked, `continue` before the
    // sg_dma_len assignment (the v6.16 defect fixed by d0d08f4bd7f6): 0x1234 survives; no
    // cache maintenance on it
    assert_eq!(
        ev,
        [
            "for_device 0x10000 0x1000 1",
            "for_device 0x5080 0x100 1",
            "trace dma_map_sg phys=[0x10000 0x4000001010 0x5080] dma=[0x10000+0x1000 0x4100001010+0x1234 \
             0x5080+0x100] err=0 dir=1 attrs=0x0",
        ]
    );
    assert_eq!(
        sgl,
        [
            mapped(list[0], 0x10000, 0x1000, 0),
            mapped(list[1], 0x41_0000_1010, 0x1234, BUS_ADDRESS),
            mapped(list[2], 0x5080, 0x100, 0),
        ]
    );

    // v6.16 does not skip bus-address entries when syncing: dma_to_phys(bus address), sg->length
    let (res, ev) = r.sg(SgCall::SyncSgForDevice { nelems: 3, dir: TO_DEV }, &mut sgl);
    assert_eq!(res, ret(0));
    assert_eq!(
        ev,
        [
            "for_device 0x10000 0x1000 1",
            "for_device 0x4100001010 0x800 1",
            "for_device 0x5080 0x100 1",
            "trace dma_sync_sg_for_device phys=[] dma=[0x10000+0x1000 0x4100001010+0x1234 0x5080+0x100] err=0 \
             dir=1 attrs=0x0",
        ]
    );
}

#[test]
fn unmap_with_a_bus_address_entry_only_unmarks_it() {
    let mut r = Run::with_p2p(noncoherent(), vec![(BAR, 0x10_0000, P2pdmaMapType::BusAddr, BUS_OFF)]);
    let list = p2p_list();
    let mut sgl = list.clone();
    assert_eq!(r.sg(map_sg(3, FROM_DEV), &mut sgl).0, ret(3));
    let (res, ev) = r.sg(unmap_sg(3, FROM_DEV), &mut sgl);
    assert_eq!(res, ret(0));
    // trace first (phys only); entries 0 and 2 go through dma_direct_unmap_page (for_cpu,
    // for_cpu_all, FROM_DEVICE mark_clean); entry 1 is only unmarked, no hook at all
    assert_eq!(
        ev,
        [
            "trace dma_unmap_sg phys=[0x10000 0x4000001010 0x5080] dma=[] err=0 dir=2 attrs=0x0",
            "for_cpu 0x10000 0x1000 2",
            "for_cpu_all",
            "mark_clean 0x10000 0x1000",
            "for_cpu 0x5080 0x100 2",
            "for_cpu_all",
            "mark_clean 0x5080 0x100",
        ]
    );
    // the mark is gone; the bus address and the stale length stay
    assert_eq!(sgl[1], mapped(list[1], 0x41_0000_1010, 0x1234, 0));
}

#[test]
fn p2p_thru_host_bridge_entry_is_never_mapped() {
    let mut r = Run::with_p2p(noncoherent(), vec![(BAR, 0x10_0000, P2pdmaMapType::ThruHostBridge, BUS_OFF)]);
    let list = p2p_list();
    let mut sgl = list.clone();
    let (res, ev) = r.sg(map_sg(3, TO_DEV), &mut sgl);
    // the v6.16 defect (fixed by 560000d619ef): `break` without dma_direct_map_page, so the
    // stale 0xdead_0000 stays, yet sg_dma_len = length is set and the call succeeds
    assert_eq!(res, ret(3));
    assert_eq!(
        ev,
        [
            "for_device 0x10000 0x1000 1",
            "for_device 0x5080 0x100 1",
            "trace dma_map_sg phys=[0x10000 0x4000001010 0x5080] dma=[0x10000+0x1000 0xdead0000+0x800 \
             0x5080+0x100] err=0 dir=1 attrs=0x0",
        ]
    );
    assert_eq!(sgl[1], mapped(list[1], 0xdead_0000, 0x800, 0));
}

#[test]
fn p2p_not_supported_is_eremoteio_and_unwinds() {
    // entry 1 on a BUS_ADDR provider, entry 2 on a NOT_SUPPORTED one (separate pgmaps)
    const BAR2: u64 = 0x50_0000_0000;
    let providers =
        vec![(BAR, 0x10_0000, P2pdmaMapType::BusAddr, BUS_OFF), (BAR2, 0x10_0000, P2pdmaMapType::NotSupported, 0)];
    // entry 2 carries a stale bus-address mark from an earlier use: the unwind covers only the
    // i = 2 entries before the failing one, so the mark survives
    let list = vec![
        ent(0x10000, 0, 0x1000),
        ent(BAR + 0x1000, 0x10, 0x800),
        SgEntry { dma_flags: BUS_ADDRESS, ..ent(BAR2, 0, 0x200) },
    ];

    let mut r = Run::with_p2p(noncoherent(), providers.clone());
    let mut sgl = list.clone();
    let (res, ev) = r.sg(SgCall::MapSgtable { orig_nents: 3, nents: 0, dir: BIDIR, attrs: 0 }, &mut sgl);
    // -EREMOTEIO is an accepted errno: returned as is, no WARN, no trace; the unwind (SKIP_CPU_SYNC)
    // emits nothing for entry 0 and unmarks entry 1
    assert_eq!(res, SgResult::Returned { value: -EREMOTEIO, nents: 0 });
    assert_eq!(ev, ["for_device 0x10000 0x1000 0"]);
    assert_eq!(sgl, [mapped(list[0], 0x10000, 0x1000, 0), mapped(list[1], 0x41_0000_1010, 0, 0), list[2]]);

    let mut sgl = list.clone();
    let (res, ev) = r.sg(map_sg(3, BIDIR), &mut sgl);
    assert_eq!(res, ret(0));
    assert_eq!(ev, ["for_device 0x10000 0x1000 0"]);
}

// ---- sync ----

#[test]
fn sync_sg_for_cpu_noncoherent_per_entry_then_cpu_all_once() {
    let mut r = Run::new(noncoherent());
    let mut sgl = three();
    assert_eq!(r.sg(map_sg(3, FROM_DEV), &mut sgl).0, ret(3));
    let (res, ev) = r.sg(SgCall::SyncSgForCpu { nelems: 3, dir: FROM_DEV }, &mut sgl);
    assert_eq!(res, ret(0));
    assert_eq!(
        ev,
        [
            "for_cpu 0x10000 0x1000 2".to_string(),
            "mark_clean 0x10000 0x1000".to_string(),
            "for_cpu 0x23200 0x600 2".to_string(),
            "mark_clean 0x23200 0x600".to_string(),
            "for_cpu 0x5080 0x100 2".to_string(),
            "mark_clean 0x5080 0x100".to_string(),
            "for_cpu_all".to_string(),
            format!("trace dma_sync_sg_for_cpu phys=[] {THREE_DMA} err=0 dir=2 attrs=0x0"),
        ]
    );
    // the sync length is sg->length, not sg_dma_len (the trace shows sg_dma_len)
    sgl[0].dma_length = 0x40;
    let (_, ev) = r.sg(SgCall::SyncSgForCpu { nelems: 1, dir: TO_DEV }, &mut sgl);
    assert_eq!(
        ev,
        [
            "for_cpu 0x10000 0x1000 1",
            "for_cpu_all",
            "trace dma_sync_sg_for_cpu phys=[] dma=[0x10000+0x40] err=0 dir=1 attrs=0x0"
        ]
    );
}

#[test]
fn sync_sg_on_a_coherent_device_is_skipped_by_the_header_gate() {
    // dma_skip_sync = dev_is_dma_coherent and nothing bounced: the __dma_sync_sg_* never run
    let mut r = Run::new(coherent());
    let mut sgl = three();
    assert_eq!(r.sg(map_sg(3, FROM_DEV), &mut sgl).0, ret(3));
    let (res, ev) = r.sg(SgCall::SyncSgForCpu { nelems: 3, dir: FROM_DEV }, &mut sgl);
    assert_eq!(res, ret(0));
    assert!(ev.is_empty(), "{ev:?}");
}

// ---- chained lists ----

#[test]
fn chained_list_behaves_like_the_flat_one() {
    let flat = three();
    let mut chained = three();
    chained[0].chain_after = true;
    chained[1].chain_after = true;
    let run = |list: &[SgEntry]| {
        let mut r = Run::new(noncoherent());
        let mut sgl = list.to_vec();
        let mut all = vec![];
        for call in [
            map_sg(3, BIDIR),
            SgCall::SyncSgForCpu { nelems: 3, dir: BIDIR },
            SgCall::SyncSgForDevice { nelems: 3, dir: BIDIR },
            unmap_sg(3, BIDIR),
        ] {
            let (res, ev) = r.sg(call, &mut sgl);
            all.push((res, ev));
        }
        (all, sgl)
    };
    let (flat_ev, flat_sgl) = run(&flat);
    let (chained_ev, chained_sgl) = run(&chained);
    // the expected map effects, worked out as in the flat non-coherent test
    assert_eq!(flat_ev[0].0, ret(3));
    assert_eq!(
        chained_ev[0].1,
        [
            "for_device 0x10000 0x1000 0".to_string(),
            "for_device 0x23200 0x600 0".to_string(),
            "for_device 0x5080 0x100 0".to_string(),
            format!("trace dma_map_sg {THREE_PHYS} {THREE_DMA} err=0 dir=0 attrs=0x0"),
        ]
    );
    // sg_next() crosses the links: the unmap reaches the third entry through two links
    assert_eq!(
        chained_ev[3].1,
        [
            format!("trace dma_unmap_sg {THREE_PHYS} dma=[] err=0 dir=0 attrs=0x0"),
            "for_cpu 0x10000 0x1000 0".to_string(),
            "for_cpu_all".to_string(),
            "for_cpu 0x23200 0x600 0".to_string(),
            "for_cpu_all".to_string(),
            "for_cpu 0x5080 0x100 0".to_string(),
            "for_cpu_all".to_string(),
        ]
    );
    assert_eq!(flat_ev, chained_ev);
    let strip = |v: Vec<SgEntry>| v.into_iter().map(|e| SgEntry { chain_after: false, ..e }).collect::<Vec<_>>();
    assert_eq!(strip(flat_sgl), strip(chained_sgl.clone()));
    assert_eq!(chained_sgl[2].dma_address, 0x5080);
}

// ---- front-end checks ----

#[test]
fn invalid_direction_is_bug_on_every_sg_entry_point() {
    let cases = [
        (map_sg(3, DMA_NONE), "__dma_map_sg_attrs"),
        (SgCall::MapSgtable { orig_nents: 3, nents: 0, dir: DMA_NONE, attrs: 0 }, "__dma_map_sg_attrs"),
        (unmap_sg(3, DMA_NONE), "dma_unmap_sg_attrs"),
        (SgCall::SyncSgForCpu { nelems: 3, dir: DMA_NONE }, "__dma_sync_sg_for_cpu"),
        (SgCall::SyncSgForDevice { nelems: 3, dir: DMA_NONE }, "__dma_sync_sg_for_device"),
    ];
    for (call, func) in cases {
        // non-coherent, so the sync header gate lets the call through
        let mut r = Run::new(noncoherent());
        let mut sgl = three();
        let (res, ev) = r.sg(call, &mut sgl);
        assert_eq!(res, SgResult::Bug, "{call:?}");
        assert_eq!(ev, [format!("Bug {func}: !valid_dma_direction(dir)")], "{call:?}");
        assert_eq!(sgl, three(), "{call:?}");
    }
    // BUG_ON(dir) comes before the dma_mask WARN
    let mut r = Run::new(DeviceConfig { dma_mask: None, ..coherent() });
    let (res, ev) = r.sg(map_sg(3, DMA_NONE), &mut three());
    assert_eq!(res, SgResult::Bug);
    assert_eq!(ev, ["Bug __dma_map_sg_attrs: !valid_dma_direction(dir)"]);
}

#[test]
fn null_dma_mask_warns_once_and_returns_zero() {
    let mut r = Run::new(DeviceConfig { dma_mask: None, ..coherent() });
    let mut sgl = three();
    let (res, ev) = r.sg(map_sg(3, TO_DEV), &mut sgl);
    assert_eq!(res, ret(0));
    assert_eq!(ev, ["WarnOn __dma_map_sg_attrs: !dev->dma_mask"]);
    assert_eq!(sgl, three());
    // the 0 is not negative: dma_map_sgtable reports success with sgt->nents = 0, no second WARN
    let (res, ev) = r.sg(SgCall::MapSgtable { orig_nents: 3, nents: 0, dir: TO_DEV, attrs: 0 }, &mut sgl);
    assert_eq!(res, SgResult::Returned { value: 0, nents: 0 });
    assert!(ev.is_empty(), "{ev:?}");
}

#[test]
fn zero_nents_warns_and_traces_the_error() {
    let mut r = Run::new(coherent());
    let mut sgl = three();
    let (res, ev) = r.sg(SgCall::MapSgtable { orig_nents: 0, nents: 0, dir: TO_DEV, attrs: 0 }, &mut sgl);
    // dma_direct_map_sg returns nents = 0: not > 0 and not an accepted errno, so WARN_ON_ONCE,
    // then dma_map_sg_err with the raw 0, and -EIO
    assert_eq!(res, SgResult::Returned { value: -EIO, nents: 0 });
    assert_eq!(
        ev,
        [
            "WarnOn __dma_map_sg_attrs: ents != -EINVAL && ents != -ENOMEM && ents != -EIO && ents != -EREMOTEIO",
            "trace dma_map_sg_err phys=[] dma=[] err=0 dir=1 attrs=0x0",
        ]
    );
    assert_eq!(sgl, three());
    // the WARN is once; the trace is not
    let (res, ev) = r.sg(map_sg(0, TO_DEV), &mut sgl);
    assert_eq!(res, ret(0));
    assert_eq!(ev, ["trace dma_map_sg_err phys=[] dma=[] err=0 dir=1 attrs=0x0"]);
}
