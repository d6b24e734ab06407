//! Pins the legacy (v6.16) dma-iommu scatterlist path (iommu_dma_map_sg() with its layout pass,
//! iommu_map_sg() run concatenation, __finalise_sg() merging, __invalidate_sg(), the swiotlb
//! path of untrusted devices, iommu_dma_unmap_sg() and sync_sg) and the two-step dma_iova_*
//! API, per spec dma-iommu.md §2.10-§2.12. Expected IOVAs follow iova.c's top-down,
//! size-aligned search below the 32-bit SAC limit (pfn 0xfffff down); the arithmetic is in the
//! comments.

use dmadiff_cref::{
    Call, CallResult, DeviceConfig, DmaParms, IommuDomainType, IovaCall, IovaDomainId, IovaState, LegacyModel,
    P2pdmaMapType, SgCall, SgEntry, SgResult, SwiotlbConfig, SwiotlbMode,
};

mod common;

const BIDIR: u32 = 0;
const TO_DEV: u32 = 1;
const FROM_DEV: u32 = 2;
const SKIP_CPU_SYNC: u64 = 1 << 5;
/// DMA_ATTR_MMIO of v6.18; unused in v6.16.
const BIT10: u64 = 1 << 10;
const ERR: u64 = u64::MAX;
const SG_BUS: u32 = 1 << 0;
const SG_SWIOTLB: u32 = 1 << 1;
const USE_SWIOTLB: u64 = 1 << 63;

const ENOMEM: i64 = -12;
const EIO: i64 = -5;
const EINVAL: i64 = -22;
const EREMOTEIO: i64 = -121;

/// RAM pages the tests map; RAM2 is never physically contiguous with RAM's first pages.
const RAM: u64 = 0x4000_0000;
const RAM2: u64 = 0x4010_0000;
/// The swiotlb pool of the bounce tests.
const POOL: u64 = 0x8000_0000;
/// A P2PDMA provider's BAR and its pgmap's bus offset.
const P2P: u64 = 0x20_0000_0000;
const BUS_OFF: u64 = 0x1000_0000_0000;

use common::Rec as Plat;

use common::{iommu, lazy, strict};

/// The strict device with dma_parms.
fn parms(seg_boundary_mask: u64, max_segment_size: u32, min_align_mask: u64) -> DeviceConfig {
    DeviceConfig { dma_parms: Some(DmaParms { min_align_mask, seg_boundary_mask, max_segment_size }), ..strict() }
}

/// An untrusted (external-facing) PCI device with a default swiotlb pool at POOL.
fn untrusted() -> DeviceConfig {
    DeviceConfig {
        untrusted: true,
        swiotlb: SwiotlbConfig { mode: SwiotlbMode::On, start: POOL, nslabs: 1024, nareas: 1 },
        ..strict()
    }
}

/// One scatterlist entry: sg_set_page(page, len, offset) on a fresh table.
fn ent(phys: u64, length: u32) -> SgEntry {
    SgEntry { page: phys & !0xfff, offset: (phys & 0xfff) as u32, length, ..Default::default() }
}

/// An entry's DMA view: (sg_dma_address, sg_dma_len, dma_flags).
fn dma(e: &SgEntry) -> (u64, u32, u32) {
    (e.dma_address, e.dma_length, e.dma_flags)
}

/// An entry's CPU view: (page, offset, length).
fn cpu(e: &SgEntry) -> (u64, u32, u32) {
    (e.page, e.offset, e.length)
}

struct Run {
    model: LegacyModel,
    plat: Plat,
}

impl Run {
    fn new(c: DeviceConfig) -> Self {
        let mut plat = Plat::default();
        let model = LegacyModel::new(&c, &mut plat);
        plat.events.clear();
        Run { model, plat }
    }
    /// The effects of the last call, the dma tracepoints left out.
    fn take(&mut self) -> Vec<String> {
        std::mem::take(&mut self.plat.events).into_iter().filter(|e| !e.starts_with("trace dma_")).collect()
    }
    fn sg(&mut self, call: SgCall, sgl: &mut [SgEntry]) -> (i64, u32, Vec<String>) {
        self.plat.events.clear();
        match self.model.call_sg(&mut self.plat, call, sgl) {
            SgResult::Returned { value, nents } => (value, nents, self.take()),
            SgResult::Bug => panic!("{call:?}: BUG"),
        }
    }
    /// dma_map_sgtable() on a fresh table (sgt->nents 0 before): (0 or -errno, sgt->nents, effects)
    fn map_sgtable(&mut self, sgl: &mut [SgEntry], dir: u32, attrs: u64) -> (i64, u32, Vec<String>) {
        let n = sgl.len() as u32;
        self.sg(SgCall::MapSgtable { orig_nents: n, nents: 0, dir, attrs }, sgl)
    }
    /// dma_unmap_sg_attrs() with the original nents.
    fn unmap_sg(&mut self, sgl: &mut [SgEntry], dir: u32, attrs: u64) -> Vec<String> {
        let n = sgl.len() as u32;
        self.sg(SgCall::UnmapSg { nents: n, dir, attrs }, sgl).2
    }
    fn iova(&mut self, call: IovaCall, st: &mut IovaState) -> (i64, Vec<String>) {
        self.plat.events.clear();
        let v = self.model.call_iova(&mut self.plat, call, st).unwrap_or_else(|| panic!("{call:?}: BUG"));
        (v, self.take())
    }
    fn try_alloc(&mut self, phys: u64, size: u64) -> IovaState {
        let mut st = IovaState::default();
        assert_eq!(self.iova(IovaCall::TryAlloc { phys, size }, &mut st).0, 1);
        st
    }
    fn call(&mut self, call: Call) -> Vec<String> {
        self.plat.events.clear();
        match self.model.call(&mut self.plat, call) {
            CallResult::Returned(_) => self.take(),
            other => panic!("{call:?}: {other:?}"),
        }
    }
    fn nodes(&self) -> Vec<(u64, u64)> {
        self.model.iova_nodes(IovaDomainId::DmaDomain).unwrap()
    }
    fn parked(&self) -> Vec<u64> {
        let mut v = self.model.iova_parked(IovaDomainId::DmaDomain).unwrap();
        v.sort();
        v
    }
}

fn map(iova: u64, phys: u64, size: u64, prot: i32) -> String {
    format!("map {iova:#x} {phys:#x} {size:#x} prot={prot:#x}")
}

// ---- iommu_dma_map_sg(): the worked examples of §2.11 ----

#[test]
fn worked_example_unaligned_head_is_not_merged() {
    let mut r = Run::new(strict());
    let mut sgl = [ent(RAM + 0x200, 0x600), ent(RAM2, 0x1000)];
    let (v, n, ev) = r.map_sgtable(&mut sgl, BIDIR, 0);
    // aligned lengths 0x1000 + 0x1000: iova_len 2 granules, 2-aligned below pfn 0x100000
    assert_eq!((v, n), (0, 2));
    // one run per physically contiguous stretch, at iova + what was mapped before it
    assert_eq!(ev, [map(0xffff_e000, RAM, 0x1000, 0x7), map(0xffff_f000, RAM2, 0x1000, 0x7)]);
    // the first chunk has a tail hole (0x200 + 0x600 < 0x1000): no merge
    assert_eq!(dma(&sgl[0]), (0xffff_e200, 0x600, 0));
    assert_eq!(dma(&sgl[1]), (0xffff_f000, 0x1000, 0));
    // the CPU view is restored
    assert_eq!(cpu(&sgl[0]), (RAM, 0x200, 0x600));
    assert_eq!(cpu(&sgl[1]), (RAM2, 0, 0x1000));
    assert_eq!(r.nodes(), [(0xffffe, 0xfffff)]);
}

#[test]
fn worked_example_two_full_pages_merge_into_one_segment() {
    let mut r = Run::new(strict());
    let mut sgl = [ent(RAM, 0x1000), ent(RAM2, 0x1000)];
    let (v, n, ev) = r.map_sgtable(&mut sgl, TO_DEV, 0);
    assert_eq!((v, n), (0, 1));
    assert_eq!(ev, [map(0xffff_e000, RAM, 0x1000, 0x5), map(0xffff_f000, RAM2, 0x1000, 0x5)]);
    assert_eq!(dma(&sgl[0]), (0xffff_e000, 0x2000, 0));
    assert_eq!(dma(&sgl[1]), (ERR, 0, 0));
    // dma_map_sg_attrs() returns the same count
    let mut r = Run::new(strict());
    let mut sgl = [ent(RAM, 0x1000), ent(RAM2, 0x1000)];
    let (v, _, _) = r.sg(SgCall::MapSg { nents: 2, dir: TO_DEV, attrs: 0 }, &mut sgl);
    assert_eq!(v, 1);
}

#[test]
fn physically_contiguous_entries_become_one_iommu_map() {
    let mut r = Run::new(strict());
    let mut sgl = [ent(RAM, 0x1000), ent(RAM + 0x1000, 0x1000), ent(RAM + 0x2000, 0x800)];
    let (v, n, ev) = r.map_sgtable(&mut sgl, FROM_DEV, 0);
    // 3 granules, rounded to 4 and 4-aligned: pfn 0xffffc; one run of 0x3000
    assert_eq!((v, n), (0, 1));
    assert_eq!(ev, [map(0xffff_c000, RAM, 0x3000, 0x6)]);
    assert_eq!(dma(&sgl[0]), (0xffff_c000, 0x2800, 0));
    assert_eq!(dma(&sgl[1]), (ERR, 0, 0));
    assert_eq!(dma(&sgl[2]), (ERR, 0, 0));
}

#[test]
fn worked_example_boundary_padding_stretches_the_previous_chunk() {
    let mut r = Run::new(parms(0xffff, 0, 0));
    let mut sgl = [ent(RAM, 0x6000), ent(RAM + 0x10000, 0x6000), ent(RAM2, 0x6000)];
    let (v, n, ev) = r.map_sgtable(&mut sgl, BIDIR, 0);
    // pad before #2 = 0xa000 (not < 0x5fff); before #3 = 0x4000 (< 0x5fff): #2 grows to 0xa000.
    // iova_len 0x16000 = 22 granules -> 32, 32-aligned: pfn 0xfffe0
    assert_eq!((v, n), (0, 2));
    assert_eq!(
        ev,
        [
            map(0xfffe_0000, RAM, 0x6000, 0x7),
            // the stretched chunk maps 0x4000 bytes past its buffer
            map(0xfffe_6000, RAM + 0x10000, 0xa000, 0x7),
            map(0xffff_0000, RAM2, 0x6000, 0x7),
        ]
    );
    assert_eq!(dma(&sgl[0]), (0xfffe_0000, 0xc000, 0));
    assert_eq!(dma(&sgl[1]), (0xffff_0000, 0x6000, 0));
    assert_eq!(dma(&sgl[2]), (ERR, 0, 0));
    assert_eq!(cpu(&sgl[1]), (RAM + 0x10000, 0, 0x6000));
    // the tree node is the rounded allocation
    assert_eq!(r.nodes(), [(0xfffe0, 0xfffff)]);
    // unmap: 0xfffe0000 .. 0xffff6000, the 22 granules asked for (the last chunk is never padded)
    let ev = r.unmap_sg(&mut sgl, BIDIR, 0);
    assert_eq!(ev, ["unmap 0xfffe0000 0x16000", "iotlb_sync 0xfffe0000-0xffff5fff"]);
    assert!(r.plat.table.is_empty());
    assert_eq!(r.parked(), [0xfffe0]);
}

#[test]
fn max_segment_size_limits_a_merge() {
    let mut r = Run::new(parms(0, 0x2000, 0));
    let mut sgl = [ent(RAM, 0x1000), ent(RAM + 0x1000, 0x1000), ent(RAM + 0x2000, 0x1000)];
    let (v, n, ev) = r.map_sgtable(&mut sgl, BIDIR, 0);
    // one run of 3 granules at pfn 0xffffc; the third chunk would make 0x3000 > 0x2000
    assert_eq!((v, n), (0, 2));
    assert_eq!(ev, [map(0xffff_c000, RAM, 0x3000, 0x7)]);
    assert_eq!(dma(&sgl[0]), (0xffff_c000, 0x2000, 0));
    assert_eq!(dma(&sgl[1]), (0xffff_e000, 0x1000, 0));
    assert_eq!(dma(&sgl[2]), (ERR, 0, 0));

    // unmap: start 0xffffc000, end 0xfffff000 -> the 3 granules that were asked for
    let ev = r.unmap_sg(&mut sgl, BIDIR, 0);
    assert_eq!(ev, ["unmap 0xffffc000 0x3000", "iotlb_sync 0xffffc000-0xffffefff"]);
    assert!(r.plat.table.is_empty());
}

#[test]
fn oversized_segment_wraps_max_len_and_still_merges() {
    // quirk: cur_len 0x3000 > max_len 0x2000, so max_len - cur_len wraps and the next merges
    let mut r = Run::new(parms(0, 0x2000, 0));
    let mut sgl = [ent(RAM, 0x3000), ent(RAM + 0x3000, 0x1000)];
    let (v, n, _) = r.map_sgtable(&mut sgl, BIDIR, 0);
    assert_eq!((v, n), (0, 1));
    assert_eq!(dma(&sgl[0]), (0xffff_c000, 0x4000, 0));
}

#[test]
fn unmap_sg_frees_exactly_the_allocated_size() {
    let mut r = Run::new(strict());
    let mut sgl = [ent(RAM + 0x200, 0x600), ent(RAM2, 0x1000)];
    assert_eq!(r.map_sgtable(&mut sgl, BIDIR, 0).0, 0);
    // start 0xffffe200, end 0xfffff000 + 0x1000: 0x1e00 from an offset of 0x200 -> 2 granules
    let ev = r.unmap_sg(&mut sgl, BIDIR, 0);
    assert_eq!(ev, ["unmap 0xffffe000 0x2000", "iotlb_sync 0xffffe000-0xffffffff"]);
    assert!(r.plat.table.is_empty());
    // the order-1 pfn is parked in the rcache; a 1-granule request does not get it...
    assert_eq!(r.parked(), [0xffffe]);
    let mut one = [ent(RAM, 0x1000)];
    r.map_sgtable(&mut one, BIDIR, 0);
    assert_eq!(dma(&one[0]).0, 0xffff_d000);
    // ...a 2-granule one does
    let mut two = [ent(RAM, 0x2000)];
    r.map_sgtable(&mut two, BIDIR, 0);
    assert_eq!(dma(&two[0]).0, 0xffff_e000);
}

#[test]
fn lazy_unmap_sg_goes_through_the_flush_queue() {
    let mut r = Run::new(lazy());
    let mut sgl = [ent(RAM, 0x2000)];
    r.map_sgtable(&mut sgl, BIDIR, 0);
    let ev = r.unmap_sg(&mut sgl, BIDIR, 0);
    assert_eq!(ev, ["unmap 0xffffe000 0x2000"]);
    assert_eq!(r.parked(), [0xffffe]);
    let mut again = [ent(RAM, 0x2000)];
    r.map_sgtable(&mut again, BIDIR, 0);
    assert_eq!(dma(&again[0]).0, 0xffff_c000);
}

// ---- P2PDMA ----

#[test]
fn bus_address_segment_in_the_middle_uses_no_iova_and_gets_the_head_length() {
    let mut r = Run::new(strict());
    r.plat.p2p.push((P2P, 0x10_0000, P2pdmaMapType::BusAddr, BUS_OFF));
    let mut sgl = [ent(RAM + 0x200, 0x600), ent(P2P + 0x100, 0x800), ent(RAM2, 0x1000)];
    let (v, n, ev) = r.map_sgtable(&mut sgl, BIDIR, 0);
    // iova_len 0x2000: the bus segment takes none; two runs, the bus entry breaks the first
    assert_eq!((v, n), (0, 3));
    assert_eq!(ev, [map(0xffff_e000, RAM, 0x1000, 0x7), map(0xffff_f000, RAM2, 0x1000, 0x7)]);
    assert_eq!(dma(&sgl[0]), (0xffff_e200, 0x600, 0));
    // sg_dma_len(s) = sg->length: the head's length, already aligned to 0x1000 (not 0x800)
    assert_eq!(dma(&sgl[1]), (P2P + 0x100 + BUS_OFF, 0x1000, SG_BUS));
    assert_eq!(dma(&sgl[2]), (0xffff_f000, 0x1000, 0));
    assert_eq!(cpu(&sgl[1]), (P2P, 0x100, 0x800));
    assert_eq!(r.nodes(), [(0xffffe, 0xfffff)]);

    // unmap skips (and unmarks) the bus entry: 0xffffe200 .. 0x100000000
    let ev = r.unmap_sg(&mut sgl, BIDIR, 0);
    assert_eq!(ev, ["unmap 0xffffe000 0x2000", "iotlb_sync 0xffffe000-0xffffffff"]);
    assert_eq!(sgl[1].dma_flags, 0);
}

#[test]
fn thru_host_bridge_is_mapped_like_memory() {
    let mut r = Run::new(strict());
    r.plat.p2p.push((P2P, 0x10_0000, P2pdmaMapType::ThruHostBridge, BUS_OFF));
    let mut sgl = [ent(P2P, 0x1000)];
    let (v, n, ev) = r.map_sgtable(&mut sgl, TO_DEV, 0);
    // no IOMMU_MMIO in v6.16: the memory prot, CACHE included
    assert_eq!((v, n), (0, 1));
    assert_eq!(ev, [map(0xffff_f000, P2P, 0x1000, 0x5)]);
    assert_eq!(dma(&sgl[0]), (0xffff_f000, 0x1000, 0));
}

#[test]
fn only_bus_addresses_need_no_iova_at_all() {
    let mut r = Run::new(strict());
    r.plat.p2p.push((P2P, 0x10_0000, P2pdmaMapType::BusAddr, BUS_OFF));
    let mut sgl = [ent(P2P + 0x40, 0x100), ent(P2P + 0x2000, 0x300)];
    let (v, n, ev) = r.map_sgtable(&mut sgl, BIDIR, 0);
    // __finalise_sg(.., 0); both take the head's (unmodified) length 0x100
    assert_eq!((v, n), (0, 2));
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(dma(&sgl[0]), (P2P + 0x40 + BUS_OFF, 0x100, SG_BUS));
    assert_eq!(dma(&sgl[1]), (P2P + 0x2000 + BUS_OFF, 0x100, SG_BUS));
    assert_eq!(r.nodes(), []);
    // nothing to unmap
    let ev = r.unmap_sg(&mut sgl, BIDIR, 0);
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!((sgl[0].dma_flags, sgl[1].dma_flags), (0, 0));
}

#[test]
fn not_supported_p2p_fails_with_eremoteio_and_restores_the_list() {
    let mut r = Run::new(strict());
    r.plat.p2p.push((P2P, 0x10_0000, P2pdmaMapType::NotSupported, 0));
    let mut sgl = [ent(RAM + 0x200, 0x600), ent(P2P, 0x1000), ent(RAM2, 0x1000)];
    let (v, n, ev) = r.map_sgtable(&mut sgl, BIDIR, 0);
    assert_eq!((v, n), (EREMOTEIO, 0));
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(cpu(&sgl[0]), (RAM, 0x200, 0x600));
    assert_eq!(cpu(&sgl[1]), (P2P, 0, 0x1000));
    assert_eq!(cpu(&sgl[2]), (RAM2, 0, 0x1000));
    for e in &sgl {
        assert_eq!(dma(e), (ERR, 0, 0));
    }
    // no IOVA was allocated
    assert_eq!(r.nodes(), []);
    // dma_map_sg_attrs() turns the error into 0
    let mut sgl = [ent(RAM, 0x1000), ent(P2P, 0x1000)];
    assert_eq!(r.sg(SgCall::MapSg { nents: 2, dir: BIDIR, attrs: 0 }, &mut sgl).0, 0);
}

#[test]
fn invalidate_sg_restores_stale_dma_fields_of_unreached_entries() {
    // quirk: a reused table's stale dma_address/dma_len are taken as the stash
    let mut r = Run::new(strict());
    r.plat.p2p.push((P2P, 0x10_0000, P2pdmaMapType::NotSupported, 0));
    let stale = SgEntry { dma_address: 0x40, dma_length: 0x99, ..ent(RAM2, 0x1000) };
    let mut sgl = [ent(RAM, 0x1000), ent(P2P, 0x1000), stale];
    let (v, _, _) = r.map_sgtable(&mut sgl, BIDIR, 0);
    assert_eq!(v, EREMOTEIO);
    assert_eq!(cpu(&sgl[2]), (RAM2, 0x40, 0x99));
    assert_eq!(dma(&sgl[2]), (ERR, 0, 0));
}

// ---- failures ----

#[test]
fn iova_exhaustion_is_enomem_and_restores_offsets_and_lengths() {
    // aperture_end 0x7fff: pfns 1..7; 7 granules round up to 8, which cannot fit
    let mut c = strict();
    c.iommu.aperture_end = 0x7fff;
    let mut r = Run::new(c);
    let mut sgl = [ent(RAM + 0x100, 0x2000), ent(RAM2, 0x4000)];
    let (v, n, ev) = r.map_sgtable(&mut sgl, BIDIR, 0);
    assert_eq!((v, n), (ENOMEM, 0));
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(cpu(&sgl[0]), (RAM, 0x100, 0x2000));
    assert_eq!(cpu(&sgl[1]), (RAM2, 0, 0x4000));
    assert_eq!(dma(&sgl[0]), (ERR, 0, 0));
    assert_eq!(dma(&sgl[1]), (ERR, 0, 0));
    assert_eq!(r.nodes(), []);
}

#[test]
fn iommu_map_failure_is_enomem_and_frees_the_iova_at_once() {
    let mut r = Run::new(strict());
    r.plat.fail_next_map = true;
    let mut sgl = [ent(RAM + 0x10, 0x100), ent(RAM2, 0x1000)];
    let (v, n, ev) = r.map_sgtable(&mut sgl, BIDIR, 0);
    // the first run fails: iommu_unmap(iova, 0) undoes nothing, with an empty-gather sync
    assert_eq!((v, n), (ENOMEM, 0));
    assert_eq!(
        ev,
        [map(0xffff_e000, RAM, 0x1000, 0x7), "unmap 0xffffe000 0x0".into(), "iotlb_sync 0xffffffffffffffff-0x0".into()]
    );
    assert_eq!(cpu(&sgl[0]), (RAM, 0x10, 0x100));
    assert_eq!(dma(&sgl[0]), (ERR, 0, 0));
    // a NULL gather: the IOVA is back in the rcache, not queued
    assert_eq!(r.parked(), [0xffffe]);
    let mut sgl = [ent(RAM, 0x2000)];
    r.map_sgtable(&mut sgl, BIDIR, 0);
    assert_eq!(dma(&sgl[0]).0, 0xffff_e000);
}

#[test]
fn later_run_failure_unmaps_the_earlier_runs_and_is_einval() {
    let mut r = Run::new(strict());
    // a driver bug leaves 0xfffff000 mapped while its IOVA goes back to the rcache
    let mut st = r.try_alloc(0, 0x2000);
    assert_eq!(st.addr, 0xffff_e000);
    assert_eq!(r.iova(IovaCall::Link { phys: RAM2, offset: 0x1000, size: 0x1000, dir: BIDIR, attrs: 0 }, &mut st).0, 0);
    r.iova(IovaCall::Free, &mut st);
    // the list gets the same IOVA; its second run hits the stale mapping (-EEXIST)
    let mut sgl = [ent(RAM, 0x1000), ent(RAM + 0x8000, 0x1000)];
    let (v, _, ev) = r.map_sgtable(&mut sgl, BIDIR, 0);
    assert_eq!(v, EINVAL);
    assert_eq!(
        ev,
        [
            map(0xffff_e000, RAM, 0x1000, 0x7),
            map(0xffff_f000, RAM + 0x8000, 0x1000, 0x7),
            "unmap 0xffffe000 0x1000".into(),
            "iotlb_sync 0xffffe000-0xffffefff".into(),
        ]
    );
    assert_eq!(dma(&sgl[0]), (ERR, 0, 0));
}

#[test]
fn bus_entry_continuing_a_run_leaves_it_unmapped_and_fails_einval() {
    // quirk: the pending run is flushed only when an entry does not continue it; a bus entry
    // whose phys does continue it (here the BAR sits right after the RAM page) never flushes
    let mut r = Run::new(strict());
    r.plat.p2p.push((RAM + 0x1000, 0x1000, P2pdmaMapType::BusAddr, BUS_OFF));
    let mut sgl = [ent(RAM, 0x1000), ent(RAM + 0x1000, 0x1000)];
    let (v, _, ev) = r.map_sgtable(&mut sgl, BIDIR, 0);
    // iommu_map_sg() returns 0 < iova_len: the IOVA is freed and the list invalidated
    assert_eq!(v, EINVAL);
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(sgl[1].dma_flags, 0);
    assert_eq!(r.parked(), [0xfffff]);
}

// ---- the swiotlb path (untrusted devices) ----

#[test]
fn untrusted_list_is_mapped_entry_by_entry_with_the_swiotlb_mark() {
    let mut r = Run::new(untrusted());
    let pattern: Vec<u8> = (0..0x200u32).map(|i| (i * 3 + 1) as u8).collect();
    r.plat.write(RAM2 + 0x100, &pattern);
    let mut sgl = [ent(RAM, 0x1000), ent(RAM + 0x1000, 0x1000), ent(RAM2 + 0x100, 0x200)];
    let (v, n, ev) = r.map_sgtable(&mut sgl, BIDIR, 0);
    // one allocation per entry, nents returned, no merging of the contiguous pages
    assert_eq!((v, n), (0, 3));
    assert_eq!(
        ev,
        [
            map(0xffff_f000, RAM, 0x1000, 0x7),
            map(0xffff_e000, RAM + 0x1000, 0x1000, 0x7),
            "trace swiotlb_bounced dev_addr=0x40100100 size=0x200 force=false".into(),
            "memcpy 0x80000000 <- 0x40100100 0x200".into(),
            "memset 0x80000000 0x0 0x0".into(),
            "memset 0x80000200 0x0 0xe00".into(),
            map(0xffff_d000, POOL, 0x1000, 0x7),
        ]
    );
    assert_eq!(dma(&sgl[0]), (0xffff_f000, 0x1000, SG_SWIOTLB));
    assert_eq!(dma(&sgl[1]), (0xffff_e000, 0x1000, 0));
    assert_eq!(dma(&sgl[2]), (0xffff_d000, 0x200, 0));
    assert_eq!(cpu(&sgl[2]), (RAM2, 0x100, 0x200));

    // sync for the CPU: per entry through sync_single (coherent, but dev_use_swiotlb)
    r.plat.write(POOL, &[0x5a; 0x200]);
    let (_, _, ev) = r.sg(SgCall::SyncSgForCpu { nelems: 3, dir: BIDIR }, &mut sgl);
    assert_eq!(ev, ["memcpy 0x40100100 <- 0x80000000 0x200"]);
    assert_eq!(r.plat.read(RAM2 + 0x100, 0x200), vec![0x5a; 0x200]);

    // unmap: iommu_dma_unmap_page() per entry
    let ev = r.unmap_sg(&mut sgl, BIDIR, 0);
    assert_eq!(
        ev,
        [
            "unmap 0xfffff000 0x1000",
            "iotlb_sync 0xfffff000-0xffffffff",
            "unmap 0xffffe000 0x1000",
            "iotlb_sync 0xffffe000-0xffffefff",
            "unmap 0xffffd000 0x1000",
            "iotlb_sync 0xffffd000-0xffffdfff",
            "memcpy 0x40100100 <- 0x80000000 0x200",
        ]
    );
    assert_eq!(r.model.swiotlb_slot(0).orig_addr, u64::MAX);
}

#[test]
fn untrusted_bounce_failure_unmaps_the_done_entries_and_is_eio() {
    let c = DeviceConfig {
        swiotlb: SwiotlbConfig { mode: SwiotlbMode::Off, start: 0, nslabs: 0, nareas: 0 },
        ..untrusted()
    };
    let mut r = Run::new(c);
    let mut sgl = [ent(RAM, 0x1000), ent(RAM2 + 0x10, 0x100), ent(RAM + 0x4000, 0x1000)];
    let (v, n, ev) = r.map_sgtable(&mut sgl, BIDIR, 0);
    assert_eq!((v, n), (EIO, 0));
    assert_eq!(
        ev,
        [
            map(0xffff_f000, RAM, 0x1000, 0x7),
            "DevWarning iommu_dma_map_swiotlb: nvme 0000:01:00.0: DMA bounce buffers are inactive, unable to map unaligned transaction.".into(),
            "unmap 0xfffff000 0x1000".into(),
            "iotlb_sync 0xfffff000-0xffffffff".into(),
        ]
    );
    // the done entry keeps its DMA fields, the failed one holds the error, the rest is untouched
    assert_eq!(dma(&sgl[0]), (0xffff_f000, 0x1000, SG_SWIOTLB));
    assert_eq!(dma(&sgl[1]), (ERR, 0, 0));
    assert_eq!(dma(&sgl[2]), (0, 0, 0));
}

// ---- sync_sg ----

#[test]
fn non_coherent_map_sync_and_unmap_use_the_original_phys_and_lengths() {
    let mut r = Run::new(DeviceConfig { dma_coherent: false, ..strict() });
    let mut sgl = [ent(RAM + 0x200, 0x600), ent(RAM2, 0x1000)];
    let (v, n, ev) = r.map_sgtable(&mut sgl, TO_DEV, 0);
    // the CPU sync runs before the layout pass; no IOMMU_CACHE
    assert_eq!((v, n), (0, 2));
    assert_eq!(
        ev,
        [
            "for_device 0x40000200 0x600 1".to_string(),
            "for_device 0x40100000 0x1000 1".into(),
            map(0xffff_e000, RAM, 0x1000, 0x1),
            map(0xffff_f000, RAM2, 0x1000, 0x1),
        ]
    );
    let (_, _, ev) = r.sg(SgCall::SyncSgForCpu { nelems: 2, dir: FROM_DEV }, &mut sgl);
    assert_eq!(ev, ["for_cpu 0x40000200 0x600 2", "for_cpu 0x40100000 0x1000 2"]);
    let (_, _, ev) = r.sg(SgCall::SyncSgForDevice { nelems: 2, dir: TO_DEV }, &mut sgl);
    assert_eq!(ev, ["for_device 0x40000200 0x600 1", "for_device 0x40100000 0x1000 1"]);
    // unmap syncs for the CPU first, unless SKIP_CPU_SYNC
    let ev = r.unmap_sg(&mut sgl, TO_DEV, 0);
    assert_eq!(
        ev,
        [
            "for_cpu 0x40000200 0x600 1",
            "for_cpu 0x40100000 0x1000 1",
            "unmap 0xffffe000 0x2000",
            "iotlb_sync 0xffffe000-0xffffffff",
        ]
    );
    // (the freed order-1 pfn sits in the rcache with its node: one granule comes from below it)
    let mut sgl = [ent(RAM, 0x1000)];
    let (_, _, ev) = r.map_sgtable(&mut sgl, TO_DEV, SKIP_CPU_SYNC);
    assert_eq!(ev, [map(0xffff_d000, RAM, 0x1000, 0x1)]);
    let ev = r.unmap_sg(&mut sgl, TO_DEV, SKIP_CPU_SYNC);
    assert_eq!(ev, ["unmap 0xffffd000 0x1000", "iotlb_sync 0xffffd000-0xffffdfff"]);
}

#[test]
fn coherent_sync_sg_does_nothing() {
    let mut r = Run::new(strict());
    let mut sgl = [ent(RAM, 0x1000)];
    r.map_sgtable(&mut sgl, BIDIR, 0);
    let (_, _, ev) = r.sg(SgCall::SyncSgForCpu { nelems: 1, dir: BIDIR }, &mut sgl);
    assert!(ev.is_empty(), "{ev:?}");
    let (_, _, ev) = r.sg(SgCall::SyncSgForDevice { nelems: 1, dir: BIDIR }, &mut sgl);
    assert!(ev.is_empty(), "{ev:?}");
}

#[test]
fn chained_list_is_walked_across_the_link() {
    let mut r = Run::new(strict());
    let mut sgl = [ent(RAM, 0x1000), SgEntry { chain_after: true, ..ent(RAM2, 0x1000) }, ent(RAM + 0x8000, 0x1000)];
    let (v, n, ev) = r.map_sgtable(&mut sgl, BIDIR, 0);
    // 3 granules -> 4, pfn 0xffffc; three runs, one merged output segment
    assert_eq!((v, n), (0, 1));
    assert_eq!(
        ev,
        [
            map(0xffff_c000, RAM, 0x1000, 0x7),
            map(0xffff_d000, RAM2, 0x1000, 0x7),
            map(0xffff_e000, RAM + 0x8000, 0x1000, 0x7)
        ]
    );
    assert_eq!(dma(&sgl[0]), (0xffff_c000, 0x3000, 0));
    assert_eq!(dma(&sgl[2]), (ERR, 0, 0));
}

// ---- the two-step IOVA API ----

#[test]
fn try_alloc_keeps_the_in_granule_offset() {
    let mut r = Run::new(strict());
    let mut st = IovaState { addr: 0x1234, size: 0x5678 };
    let (v, ev) = r.iova(IovaCall::TryAlloc { phys: RAM + 0x234, size: 0x3000 }, &mut st);
    // iova_align(0x3000 + 0x234) = 4 granules, 4-aligned: pfn 0xffffc
    assert_eq!(v, 1);
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(st, IovaState { addr: 0xffff_c234, size: 0x3000 });
    assert_eq!(r.nodes(), [(0xffffc, 0xfffff)]);
}

#[test]
fn try_alloc_refusals() {
    let mut r = Run::new(strict());
    let mut st = IovaState { addr: 1, size: 1 };
    let (v, ev) = r.iova(IovaCall::TryAlloc { phys: 0, size: 0 }, &mut st);
    assert_eq!((v, st), (0, IovaState::default()));
    assert_eq!(ev, ["WarnOn dma_iova_try_alloc: !size"]);
    let (v, ev) = r.iova(IovaCall::TryAlloc { phys: 0, size: USE_SWIOTLB | 0x1000 }, &mut st);
    assert_eq!((v, st), (0, IovaState::default()));
    assert_eq!(ev, ["WarnOn dma_iova_try_alloc: (u64)size & DMA_IOVA_USE_SWIOTLB"]);
    // WARN_ON_ONCE: silent the second time
    let (v, ev) = r.iova(IovaCall::TryAlloc { phys: 0, size: 0 }, &mut st);
    assert_eq!(v, 0);
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(r.nodes(), []);
    // exhaustion: aperture pfns 1..3 cannot hold 4 granules
    let mut c = strict();
    c.iommu.aperture_end = 0x3fff;
    let mut r = Run::new(c);
    let (v, ev) = r.iova(IovaCall::TryAlloc { phys: 0, size: 0x4000 }, &mut st);
    assert_eq!((v, st), (0, IovaState::default()));
    assert!(ev.is_empty(), "{ev:?}");
    // no dma-iommu: false, the state zeroed
    let mut r = Run::new(DeviceConfig { iommu: iommu(IommuDomainType::Identity), ..common::base_device() });
    let mut st = IovaState { addr: 7, size: 7 };
    let (v, ev) = r.iova(IovaCall::TryAlloc { phys: 0, size: 0x1000 }, &mut st);
    assert_eq!((v, st), (0, IovaState::default()));
    assert!(ev.is_empty(), "{ev:?}");
}

#[test]
fn link_sync_unlink_at_offset_zero_unaligned() {
    let mut r = Run::new(strict());
    let mut st = r.try_alloc(RAM + 0x234, 0x3000);
    let link = IovaCall::Link { phys: RAM + 0x234, offset: 0, size: 0x3000, dir: BIDIR, attrs: 0 };
    let (v, ev) = r.iova(link, &mut st);
    // the whole aligned range from the granule start, no IOTLB sync
    assert_eq!(v, 0);
    assert_eq!(ev, [map(0xffff_c000, RAM, 0x4000, 0x7)]);
    // dma_iova_sync(): iommu_sync_map(), a no-op on the mock driver
    let (v, ev) = r.iova(IovaCall::Sync { offset: 0, size: 0x3000 }, &mut st);
    assert_eq!(v, 0);
    assert!(ev.is_empty(), "{ev:?}");
    // unlink: unmap and an immediate IOTLB sync; the IOVA stays allocated
    let (_, ev) = r.iova(IovaCall::Unlink { offset: 0, size: 0x3000, dir: BIDIR, attrs: 0 }, &mut st);
    assert_eq!(ev, ["unmap 0xffffc000 0x4000", "iotlb_sync 0xffffc000-0xffffffff"]);
    assert_eq!(r.nodes(), [(0xffffc, 0xfffff)]);
    assert_eq!(r.parked(), []);
    assert_eq!(st, IovaState { addr: 0xffff_c234, size: 0x3000 });
    // link again in two pieces: offset 0 (unaligned start) and an aligned piece after it
    let first = IovaCall::Link { phys: RAM + 0x234, offset: 0, size: 0xdcc, dir: TO_DEV, attrs: 0 };
    assert_eq!(r.iova(first, &mut st), (0, vec![map(0xffff_c000, RAM, 0x1000, 0x5)]));
    let second = IovaCall::Link { phys: RAM2, offset: 0xdcc, size: 0x2234, dir: TO_DEV, attrs: 0 };
    // state->addr + 0xdcc = 0xffffd000; iova_align(0x2234) = 0x3000
    assert_eq!(r.iova(second, &mut st), (0, vec![map(0xffff_d000, RAM2, 0x3000, 0x5)]));
}

#[test]
fn link_at_an_offset_with_unaligned_phys_warns_once_and_is_eio() {
    let mut r = Run::new(strict());
    let mut st = r.try_alloc(0, 0x4000);
    let link = IovaCall::Link { phys: RAM + 0x10, offset: 0x1000, size: 0x100, dir: BIDIR, attrs: 0 };
    let (v, ev) = r.iova(link, &mut st);
    assert_eq!(v, EIO);
    assert_eq!(ev, ["WarnOn dma_iova_link: iova_start_pad && offset > 0"]);
    let (v, ev) = r.iova(link, &mut st);
    assert_eq!(v, EIO);
    assert!(ev.is_empty(), "{ev:?}");
    assert!(r.plat.table.is_empty());
}

#[test]
fn destroy_on_a_strict_domain_frees_at_once() {
    let mut r = Run::new(strict());
    let mut st = r.try_alloc(RAM + 0x234, 0x3000);
    r.iova(IovaCall::Link { phys: RAM + 0x234, offset: 0, size: 0x3000, dir: BIDIR, attrs: 0 }, &mut st);
    let (_, ev) = r.iova(IovaCall::Destroy { mapped_len: 0x3000, dir: BIDIR, attrs: 0 }, &mut st);
    // iova_align(0x3000 + 0x234) = 4 granules unmapped, synced and freed to the rcache
    assert_eq!(ev, ["unmap 0xffffc000 0x4000", "iotlb_sync 0xffffc000-0xffffffff"]);
    assert_eq!(r.parked(), [0xffffc]);
    assert_eq!(r.try_alloc(0, 0x4000).addr, 0xffff_c000);
}

#[test]
fn destroy_on_a_dma_fq_domain_frees_through_the_flush_queue() {
    let mut r = Run::new(lazy());
    let mut st = r.try_alloc(0, 0x2000);
    assert_eq!(st.addr, 0xffff_e000);
    r.iova(IovaCall::Link { phys: RAM, offset: 0, size: 0x2000, dir: BIDIR, attrs: 0 }, &mut st);
    let (_, ev) = r.iova(IovaCall::Destroy { mapped_len: 0x2000, dir: BIDIR, attrs: 0 }, &mut st);
    // queued: no IOTLB sync now
    assert_eq!(ev, ["unmap 0xffffe000 0x2000"]);
    assert!(r.plat.table.is_empty());
    // still in the queue: the next allocation is fresh
    assert_eq!(r.try_alloc(0, 0x2000).addr, 0xffff_c000);
    let ev = r.call(Call::FqTimeout);
    assert_eq!(ev, ["flush_all"]);
    assert_eq!(r.try_alloc(0, 0x2000).addr, 0xffff_e000);
}

#[test]
fn unlink_on_a_dma_fq_domain_still_syncs_at_once() {
    let mut r = Run::new(lazy());
    let mut st = r.try_alloc(0, 0x1000);
    r.iova(IovaCall::Link { phys: RAM, offset: 0, size: 0x1000, dir: BIDIR, attrs: 0 }, &mut st);
    let (_, ev) = r.iova(IovaCall::Unlink { offset: 0, size: 0x1000, dir: BIDIR, attrs: 0 }, &mut st);
    assert_eq!(ev, ["unmap 0xfffff000 0x1000", "iotlb_sync 0xfffff000-0xffffffff"]);
    assert_eq!(r.parked(), []);
}

#[test]
fn free_and_zero_length_destroy_free_immediately_even_when_lazy() {
    let mut r = Run::new(lazy());
    let mut st = r.try_alloc(RAM + 0x800, 0x1000);
    // iova_align(0x1000 + 0x800) = 2 granules
    assert_eq!(st.addr, 0xffff_e800);
    let (_, ev) = r.iova(IovaCall::Free, &mut st);
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(r.try_alloc(0, 0x2000).addr, 0xffff_e000);
    let mut st = r.try_alloc(0, 0x2000);
    assert_eq!(st.addr, 0xffff_c000);
    let (_, ev) = r.iova(IovaCall::Destroy { mapped_len: 0, dir: BIDIR, attrs: 0 }, &mut st);
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(r.try_alloc(0, 0x2000).addr, 0xffff_c000);
}

#[test]
fn non_coherent_link_syncs_the_whole_granule_and_unlink_walks_for_the_cpu() {
    let mut r = Run::new(DeviceConfig { dma_coherent: false, ..strict() });
    let mut st = r.try_alloc(RAM + 0x234, 0x100);
    assert_eq!(st.addr, 0xffff_f234);
    let (v, ev) = r.iova(IovaCall::Link { phys: RAM + 0x234, offset: 0, size: 0x100, dir: TO_DEV, attrs: 0 }, &mut st);
    assert_eq!(v, 0);
    assert_eq!(ev, ["for_device 0x40000000 0x1000 1".to_string(), map(0xffff_f000, RAM, 0x1000, 0x1)]);
    // the slow walk: iova_to_phys(0xfffff234), min(0x100, 0x1000 - 0x234)
    let (_, ev) = r.iova(IovaCall::Unlink { offset: 0, size: 0x100, dir: TO_DEV, attrs: 0 }, &mut st);
    assert_eq!(ev, ["for_cpu 0x40000234 0x100 1", "unmap 0xfffff000 0x1000", "iotlb_sync 0xfffff000-0xffffffff"]);
    // SKIP_CPU_SYNC: neither sync, and no walk
    let link = IovaCall::Link { phys: RAM + 0x234, offset: 0, size: 0x100, dir: TO_DEV, attrs: SKIP_CPU_SYNC };
    assert_eq!(r.iova(link, &mut st), (0, vec![map(0xffff_f000, RAM, 0x1000, 0x1)]));
    let (_, ev) = r.iova(IovaCall::Unlink { offset: 0, size: 0x100, dir: TO_DEV, attrs: SKIP_CPU_SYNC }, &mut st);
    assert_eq!(ev, ["unmap 0xfffff000 0x1000", "iotlb_sync 0xfffff000-0xffffffff"]);
}

#[test]
fn unlink_of_a_never_linked_range_warns() {
    let mut r = Run::new(DeviceConfig { dma_coherent: false, ..strict() });
    let mut st = r.try_alloc(0, 0x1000);
    let (_, ev) = r.iova(IovaCall::Unlink { offset: 0, size: 0x1000, dir: BIDIR, attrs: 0 }, &mut st);
    // the walk aborts on phys 0, then the unmap comes up short
    assert_eq!(
        ev,
        [
            "WarnOnAlways iommu_dma_iova_unlink_range_slow: !phys",
            "unmap 0xfffff000 0x1000",
            "WarnOnAlways __iommu_dma_iova_unlink: unmapped != size",
            "iotlb_sync 0xffffffffffffffff-0x0",
        ]
    );
}

#[test]
fn bit_10_is_ignored_in_v6_16() {
    // DMA_ATTR_MMIO does not exist yet: coherent devices get IOMMU_CACHE, non-coherent ones a sync
    let mut r = Run::new(strict());
    let mut st = r.try_alloc(0, 0x1000);
    let (v, ev) = r.iova(IovaCall::Link { phys: P2P, offset: 0, size: 0x1000, dir: BIDIR, attrs: BIT10 }, &mut st);
    assert_eq!(v, 0);
    assert_eq!(ev, [map(0xffff_f000, P2P, 0x1000, 0x7)]);
    let mut r = Run::new(DeviceConfig { dma_coherent: false, ..strict() });
    let mut st = r.try_alloc(0, 0x1000);
    let (_, ev) = r.iova(IovaCall::Link { phys: P2P, offset: 0, size: 0x1000, dir: FROM_DEV, attrs: BIT10 }, &mut st);
    assert_eq!(ev, [format!("for_device {P2P:#x} 0x1000 2"), map(0xffff_f000, P2P, 0x1000, 0x2)]);
}

#[test]
fn untrusted_link_bounces_head_and_tail_and_links_the_middle() {
    // min_align_mask 0xfff: the bounce keeps phys's low bits, so the head granule lines up
    let c = DeviceConfig {
        dma_parms: Some(DmaParms { min_align_mask: 0xfff, seg_boundary_mask: 0, max_segment_size: 0 }),
        ..untrusted()
    };
    let mut r = Run::new(c);
    let mut st = r.try_alloc(RAM + 0x800, 0x2000);
    // iova_align(0x2800) = 3 granules -> 4: pfn 0xffffc
    assert_eq!(st.addr, 0xffff_c800);
    let link = IovaCall::Link { phys: RAM + 0x800, offset: 0, size: 0x2000, dir: TO_DEV, attrs: 0 };
    let (v, ev) = r.iova(link, &mut st);
    assert_eq!(v, 0);
    assert_eq!(
        ev,
        [
            // head: 0x800 bytes bounced to the pool with the same low bits, one granule linked
            "trace swiotlb_bounced dev_addr=0x40000800 size=0x800 force=false".to_string(),
            "memcpy 0x80000800 <- 0x40000800 0x800".into(),
            "memset 0x80000000 0x0 0x800".into(),
            "memset 0x80001000 0x0 0x0".into(),
            map(0xffff_c000, POOL, 0x1000, 0x5),
            // middle: linked in place
            map(0xffff_d000, RAM + 0x1000, 0x1000, 0x5),
            // tail: 0x800 bytes bounced, one granule linked
            "trace swiotlb_bounced dev_addr=0x40002000 size=0x800 force=false".into(),
            "memcpy 0x80001000 <- 0x40002000 0x800".into(),
            "memset 0x80001000 0x0 0x0".into(),
            "memset 0x80001800 0x0 0x800".into(),
            map(0xffff_e000, POOL + 0x1000, 0x1000, 0x5),
        ]
    );
    assert_eq!(st, IovaState { addr: 0xffff_c800, size: USE_SWIOTLB | 0x2000 });
    // destroy: the slow walk releases both bounce buffers, then one unmap of 3 granules
    let (_, ev) = r.iova(IovaCall::Destroy { mapped_len: 0x2000, dir: TO_DEV, attrs: 0 }, &mut st);
    assert_eq!(ev, ["unmap 0xffffc000 0x3000", "iotlb_sync 0xffffc000-0xffffefff"]);
    assert_eq!(r.model.swiotlb_slot(0).orig_addr, u64::MAX);
    assert_eq!(r.model.swiotlb_slot(2).orig_addr, u64::MAX);
    assert!(r.plat.table.is_empty());
}

#[test]
fn untrusted_link_of_a_granule_aligned_buffer_is_not_bounced() {
    let mut r = Run::new(untrusted());
    let mut st = r.try_alloc(0, 0x2000);
    let (v, ev) = r.iova(IovaCall::Link { phys: RAM, offset: 0, size: 0x2000, dir: BIDIR, attrs: 0 }, &mut st);
    assert_eq!(v, 0);
    assert_eq!(ev, [map(0xffff_e000, RAM, 0x2000, 0x7)]);
    assert_eq!(st.size, 0x2000);
}

#[test]
fn untrusted_head_bounce_without_min_align_mask_cannot_be_linked() {
    // the bounce slot is granule-aligned, so bounce_phys - 0x800 is not: iommu_map() -EINVAL
    let mut r = Run::new(untrusted());
    let mut st = r.try_alloc(RAM + 0x800, 0x400);
    let (v, ev) = r.iova(IovaCall::Link { phys: RAM + 0x800, offset: 0, size: 0x400, dir: TO_DEV, attrs: 0 }, &mut st);
    assert_eq!(v, EINVAL);
    assert_eq!(
        ev,
        [
            "trace swiotlb_bounced dev_addr=0x40000800 size=0x400 force=false".to_string(),
            "memcpy 0x80000000 <- 0x40000800 0x400".into(),
            "memset 0x80000000 0x0 0x0".into(),
            "memset 0x80000400 0x0 0xc00".into(),
            map(0xffff_f000, POOL - 0x800, 0x1000, 0x5),
        ]
    );
    // the bounce buffer was released and the flag not set
    assert_eq!(r.model.swiotlb_slot(0).orig_addr, u64::MAX);
    assert_eq!(st.size, 0x400);
}

#[test]
fn untrusted_link_failure_unlinks_what_was_mapped() {
    // aligned start, unaligned end: the middle link fails first; dma_iova_unlink(0, 0) undoes nothing
    let mut r = Run::new(untrusted());
    let mut st = r.try_alloc(0, 0x2000);
    r.plat.fail_next_map = true;
    let (v, ev) = r.iova(IovaCall::Link { phys: RAM, offset: 0, size: 0x1800, dir: TO_DEV, attrs: 0 }, &mut st);
    assert_eq!(v, ENOMEM);
    assert_eq!(
        ev,
        [map(0xffff_e000, RAM, 0x1000, 0x5), "unmap 0xffffe000 0x0".into(), "iotlb_sync 0xffffffffffffffff-0x0".into()]
    );
    assert_eq!(st.size, 0x2000);
}
