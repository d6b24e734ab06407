//! Pins the legacy (v6.16) model of drivers/iommu/iova.c, driven directly on the
//! allocator-level domain of `Call::IovaInit`. Covered: the worked examples of spec
//! dma-iommu.md §1.4, §2.5 and §4.1; the cached-node rules of §1.5; reserve_iova; and the
//! rcache and depot of §1.7/§1.8. Every expected pfn is worked out from the kernel rules
//! (__alloc_and_insert_iova_range, __cached_rbnode_*_update, the magazine functions), not
//! copied from the model's output. The arithmetic is in the comments.
//!
//! Notation: L = limit_pfn + 1 (exclusive). dma_32bit_pfn = 0x100000 for a 4 KiB granule.
//! A size-aligned request has align_mask = ~0 << fls_long(size - 1).

use dmadiff_cref::{Call, CallResult, IovaDomainId, LegacyModel};

mod common;
use common::Rec;

const G4K: u64 = 4096;
/// The highest 32-bit pfn for a 4 KiB granule (an inclusive limit).
const LIM32: u64 = 0xF_FFFF;
const MB: u64 = 256; // pages of 4 KiB

struct Run {
    model: LegacyModel,
    rec: Rec,
}

impl Run {
    /// A device with `nr_cpus` CPUs and an allocator-level domain (granule, start_pfn).
    fn new(nr_cpus: u32, granule: u64, start_pfn: u64) -> Self {
        let cfg = dmadiff_cref::DeviceConfig { nr_cpus, ..common::base_device() };
        let mut rec = Rec::default();
        let model = LegacyModel::new(&cfg, &mut rec);
        let mut r = Run { model, rec };
        assert_eq!(r.call(Call::IovaInit { granule, start_pfn }), CallResult::Returned(0));
        assert_eq!(r.nodes(), vec![]);
        r
    }
    fn call(&mut self, call: Call) -> CallResult {
        self.rec.events.clear();
        self.model.call(&mut self.rec, call)
    }
    fn node(&mut self, call: Call) -> Option<(u64, u64)> {
        match self.call(call) {
            CallResult::Iova(n) => n,
            r => panic!("{call:?} returned {r:?}"),
        }
    }
    fn val(&mut self, call: Call) -> u64 {
        match self.call(call) {
            CallResult::Returned(v) => v,
            r => panic!("{call:?} returned {r:?}"),
        }
    }
    /// alloc_iova(size, limit_pfn, size_aligned)
    fn alloc(&mut self, size: u64, limit_pfn: u64, size_aligned: bool) -> Option<(u64, u64)> {
        self.node(Call::AllocIova { size, limit_pfn, size_aligned })
    }
    /// alloc_iova_fast(size, limit_pfn, flush_rcache = true)
    fn fast(&mut self, size: u64, limit_pfn: u64) -> u64 {
        self.val(Call::AllocIovaFast { size, limit_pfn, flush_rcache: true })
    }
    fn free(&mut self, pfn: u64) {
        assert_eq!(self.val(Call::FreeIova { pfn }), 0);
    }
    fn free_fast(&mut self, pfn: u64, size: u64) {
        assert_eq!(self.val(Call::FreeIovaFast { pfn, size }), 0);
    }
    fn reserve(&mut self, pfn_lo: u64, pfn_hi: u64) -> Option<(u64, u64)> {
        self.node(Call::ReserveIova { pfn_lo, pfn_hi })
    }
    fn find(&mut self, pfn: u64) -> Option<(u64, u64)> {
        self.node(Call::FindIova { pfn })
    }
    fn cpu(&mut self, cpu: u32) {
        assert_eq!(self.val(Call::RunOnCpu { cpu }), 0);
    }
    fn depot_work(&mut self) {
        assert_eq!(self.val(Call::IovaDepotWork), 0);
    }
    fn nodes(&self) -> Vec<(u64, u64)> {
        self.model.iova_nodes(IovaDomainId::Standalone).expect("the standalone domain exists")
    }
}

/// n single pfns from `top` downwards: (top, top), (top - 1, top - 1), ... in ascending order.
fn singles(top: u64, n: u64) -> Vec<(u64, u64)> {
    (0..n).rev().map(|i| (top - i, top - i)).collect()
}

// ---- §1.4: the top-down next-fit search ----

#[test]
fn spec_1_4_next_fit_leaves_the_alignment_hole() {
    // granule 4096, start_pfn 1, 32-bit limit 0xFFFFF (L = 0x100000 <= dma_32bit_pfn: cached32)
    let mut r = Run::new(1, G4K, 1);
    // from the anchor: high = min(0x100000, ~0) = 0x100000, cand = 0xFFFFF, no predecessor
    assert_eq!(r.alloc(1, LIM32, true), Some((0xF_FFFF, 0xF_FFFF)));
    // mask ~1; from 0xFFFFF: high = 0xFFFFF, cand = (0xFFFFF - 2) & ~1 = 0xFFFFC
    assert_eq!(r.alloc(2, LIM32, true), Some((0xF_FFFC, 0xF_FFFD)));
    // from 0xFFFFC: cand = 0xFFFFB; the hole at 0xFFFFE stays above the cached node
    assert_eq!(r.alloc(1, LIM32, true), Some((0xF_FFFB, 0xF_FFFB)));
    assert_eq!(r.nodes(), vec![(0xF_FFFB, 0xF_FFFB), (0xF_FFFC, 0xF_FFFD), (0xF_FFFF, 0xF_FFFF)]);
    assert!(r.rec.events.is_empty());

    // free 0xFFFC: rule 1 (0xFFFFC >= cached32 0xFFFFB) moves cached32 to its successor
    // 0xFFFFF; the next search starts just above the hole and refills 0xFFFFE (its
    // predecessor is now 0xFFFFB: 0xFFFFE > 0xFFFFB)
    r.free(0xF_FFFC);
    assert_eq!(r.alloc(1, LIM32, true), Some((0xF_FFFE, 0xF_FFFE)));
    assert_eq!(r.alloc(1, LIM32, true), Some((0xF_FFFD, 0xF_FFFD)));
}

#[test]
fn size_aligned_rounds_alignment_up_to_a_power_of_two() {
    let mut r = Run::new(1, G4K, 1);
    // size 3: mask ~0 << fls(2) = ~3; cand = (0x100000 - 3) & ~3 = 0xFFFFC
    assert_eq!(r.alloc(3, LIM32, true), Some((0xF_FFFC, 0xF_FFFE)));
    // size 33: mask ~0 << fls(32) = ~63; from 0xFFFFC: (0xFFFFC - 0x21) & ~0x3F = 0xFFFC0
    assert_eq!(r.alloc(33, LIM32, true), Some((0xF_FFC0, 0xF_FFE0)));
    // unaligned 3 from 0xFFFC0: 0xFFFBD
    assert_eq!(r.alloc(3, LIM32, false), Some((0xF_FFBD, 0xF_FFBF)));
    // size 1: fls(0) = 0, no alignment
    assert_eq!(r.alloc(1, LIM32, true), Some((0xF_FFBC, 0xF_FFBC)));
}

#[test]
fn alloc_iova_fast_rounds_sizes_below_32_only() {
    let mut r = Run::new(1, G4K, 1);
    // 3 -> roundup_pow_of_two = 4 (a 4-page node); mask ~3: 0xFFFFC
    assert_eq!(r.fast(3, LIM32), 0xF_FFFC);
    // 33 is not rounded (33 nodes) but is aligned to 64: (0xFFFFC - 33) & ~63 = 0xFFFC0
    assert_eq!(r.fast(33, LIM32), 0xF_FFC0);
    // §4.1 item 4: 100 is aligned to 128: (0xFFFC0 - 100) & ~127 = 0xFFF5C & ~0x7F = 0xFFF00
    assert_eq!(r.fast(100, LIM32), 0xF_FF00);
    // 17 -> 32, aligned to 32: (0xFFF00 - 32) = 0xFFEE0
    assert_eq!(r.fast(17, LIM32), 0xF_FEE0);
    // 32 stays 32: 0xFFEC0
    assert_eq!(r.fast(32, LIM32), 0xF_FEC0);
    assert_eq!(
        r.nodes(),
        vec![
            (0xF_FEC0, 0xF_FEDF),
            (0xF_FEE0, 0xF_FEFF),
            (0xF_FF00, 0xF_FF63),
            (0xF_FFC0, 0xF_FFE0),
            (0xF_FFFC, 0xF_FFFF),
        ]
    );

    // free_iova_fast with the caller's unrounded size: order_base_2(17) = 5, cached
    r.free_fast(0xF_FEE0, 17);
    assert_eq!(r.nodes().len(), 5, "a cached range stays in the tree");
    // a size-32 request (order 5) gets it back from the rcache
    assert_eq!(r.fast(32, LIM32), 0xF_FEE0);
    // order_base_2(33) = 6: not cacheable, free_iova() takes the node out at once
    r.free_fast(0xF_FFC0, 33);
    assert_eq!(r.find(0xF_FFC0), None);
    // 100 pages: order 7, and the whole node goes whatever pfn inside it is passed
    r.free_fast(0xF_FF42, 100);
    assert_eq!(r.nodes(), vec![(0xF_FEC0, 0xF_FEDF), (0xF_FEE0, 0xF_FEFF), (0xF_FFFC, 0xF_FFFF)]);
}

// ---- §4.1 item 1: the retry pass ----

#[test]
fn spec_4_1_item1_retry_pass_uses_the_space_above_the_cached_node() {
    // 1 GiB, start_pfn 0, limit 0x3FFFF (L = 0x40000 <= dma_32bit_pfn), unaligned alloc_iova
    let mut r = Run::new(1, G4K, 0);
    let lim = 0x3_FFFF;
    // 500 MB = 0x1F400 pages: 0x40000 - 0x1F400 = 0x20C00
    assert_eq!(r.alloc(500 * MB, lim, false), Some((0x2_0C00, 0x3_FFFF)));
    // 12 MB = 0xC00: 0x20C00 - 0xC00 = 0x20000
    assert_eq!(r.alloc(12 * MB, lim, false), Some((0x2_0000, 0x2_0BFF)));
    // 499 MB = 0x1F300: 0x20000 - 0x1F300 = 0xD00
    assert_eq!(r.alloc(499 * MB, lim, false), Some((0xD00, 0x1_FFFF)));
    // free the 12 MB: rule 1 (0x20000 >= cached32 0xD00) moves cached32 to 0x20C00
    r.free(0x2_0000);
    // 13 MB = 0xD00 from 0x20C00: 0x1FF00 collides with [0xD00, 0x1FFFF]; then high =
    // 0xD00, cand = 0: no predecessor, 0 >= start_pfn 0 -> pfn 0, the new cached32
    assert_eq!(r.alloc(13 * MB, lim, false), Some((0, 0xCFF)));
    // 2 MB = 0x200 from [0, 0xCFF]: high = 0 < size -> first pass fails; low == start_pfn
    // and retry_pfn 0xCFF < L: retry over (0xCFF, 0x40000) from the top: 0x3FE00 collides
    // with [0x20C00, 0x3FFFF]; then high = 0x20C00, cand = 0x20A00 > 0x1FFFF -> the top of
    // the 12 MB hole
    assert_eq!(r.alloc(2 * MB, lim, false), Some((0x2_0A00, 0x2_0BFF)));
    assert_eq!(r.nodes(), vec![(0, 0xCFF), (0xD00, 0x1_FFFF), (0x2_0A00, 0x2_0BFF), (0x2_0C00, 0x3_FFFF)]);
}

#[test]
fn spec_4_1_item1_with_start_pfn_1_the_13mb_request_fails() {
    let mut r = Run::new(1, G4K, 1);
    let lim = 0x3_FFFF;
    assert_eq!(r.alloc(500 * MB, lim, false), Some((0x2_0C00, 0x3_FFFF)));
    assert_eq!(r.alloc(12 * MB, lim, false), Some((0x2_0000, 0x2_0BFF)));
    assert_eq!(r.alloc(499 * MB, lim, false), Some((0xD00, 0x1_FFFF)));
    r.free(0x2_0000);
    // first pass ends at cand 0 < low 1; retry (retry_pfn 0x3FFFF < 0x40000) with low =
    // 0x40000: 0x3F300 < low -> fail, max32_alloc_size = 0xD00
    assert_eq!(r.alloc(13 * MB, lim, false), None);
    // 0x200 < max32 0xD00: no fail-fast; from cached32 0x20C00: 0x20A00 > 0x1FFFF, first pass
    assert_eq!(r.alloc(2 * MB, lim, false), Some((0x2_0A00, 0x2_0BFF)));
    // a 0xD00 request now fails fast (size >= max32_alloc_size), although 0x20000..0x209FF
    // is only 0xA00 pages anyway
    assert_eq!(r.alloc(13 * MB, lim, false), None);
}

#[test]
fn spec_4_1_item1_size_aligned_499mb_already_fails() {
    let mut r = Run::new(1, G4K, 0);
    let lim = 0x3_FFFF;
    // 0x1F400: fls(0x1F3FF) = 17, mask ~0x1FFFF: (0x40000 - 0x1F400) & ~0x1FFFF = 0x20000
    assert_eq!(r.alloc(500 * MB, lim, true), Some((0x2_0000, 0x3_F3FF)));
    // 0xC00: mask ~0xFFF: (0x20000 - 0xC00) & ~0xFFF = 0x1F000
    assert_eq!(r.alloc(12 * MB, lim, true), Some((0x1_F000, 0x1_FBFF)));
    // 0x1F300 from 0x1F000: high < size; retry over (0x1FBFF, 0x40000): 0x20000 collides with
    // [0x20000, 0x3F3FF], then cand 0xD00 & ~0x1FFFF = 0 < 0x1FC00: fails
    assert_eq!(r.alloc(499 * MB, lim, true), None);
}

// ---- §4.1 item 2: depot flush on allocation failure ----

#[test]
fn spec_4_1_item2_failure_flushes_cpu_caches_and_the_depot() {
    // the 32-bit space is 0xFFC00..0xFFFFF: 1024 pfns
    let mut r = Run::new(1, G4K, 0xF_FC00);
    for i in 0..1024 {
        assert_eq!(r.fast(1, LIM32), 0xF_FFFF - i);
    }
    // park the lowest 255 pfns, ascending: p1..p127 fill loaded, p128..p254 the swapped-in
    // magazine, p255 pushes that one to the depot (loaded = [p255], prev = p1..p127)
    for p in 0xF_FC00..=0xF_FCFE {
        r.free_fast(p, 1);
    }
    assert_eq!(r.nodes().len(), 1024, "cached pfns stay in the tree");

    // an order-1 request: the rcache has nothing of order 1, the tree is full: without
    // flush_rcache it fails (max32_alloc_size = 2)
    assert_eq!(r.val(Call::AllocIovaFast { size: 2, limit_pfn: LIM32, flush_rcache: false }), 0);
    // with flush_rcache: the retry fails fast (2 >= max32 2), then CPU 0's order-0 loaded
    // [0xFFCFE] and prev [0xFFC00..0xFFC7E], then the depot magazine [0xFFC7F..0xFFCFD]
    // go back to the tree. The first free (0xFFCFE >= cached32 0xFFC00) moves cached32 to
    // 0xFFCFF; the rest are below it. Each 32-bit free resets max32_alloc_size. The retry
    // from 0xFFCFF: (0xFFCFF - 2) & ~1 = 0xFFCFC, with no predecessor left. Without the
    // depot flush it would have had to walk down to 0xFFC7C.
    assert_eq!(r.fast(2, LIM32), 0xF_FCFC);
    let n = r.nodes();
    assert_eq!(n.len(), 1024 - 255 + 1);
    assert_eq!(n[0], (0xF_FCFC, 0xF_FCFD));
    assert_eq!(n[1..], singles(0xF_FFFF, 769)[..]);
    assert!(r.rec.events.is_empty());

    // the caches are empty now: order 0 comes from the tree, from cached32 [0xFFCFC]
    assert_eq!(r.fast(1, LIM32), 0xF_FCFB);
}

#[test]
fn failure_flush_covers_every_cpu_in_order() {
    // 2 CPUs, 4 pfns of 32-bit space
    let mut r = Run::new(2, G4K, 0xF_FFFC);
    for i in 0..4 {
        assert_eq!(r.fast(1, LIM32), 0xF_FFFF - i);
    }
    // CPU 1 caches 0xFFFFE and 0xFFFFD (order 0)
    r.cpu(1);
    r.free_fast(0xF_FFFE, 1);
    r.free_fast(0xF_FFFD, 1);
    // CPU 0: its order-0 caches are empty, the tree is full -> fail, then flush CPU 0 (empty)
    // and CPU 1: free 0xFFFFE (>= cached32 0xFFFFC: cached32 = 0xFFFFF), 0xFFFFD (below
    // cached32: unchanged); retry from 0xFFFFF: 0xFFFFE, predecessor 0xFFFFC
    r.cpu(0);
    assert_eq!(r.fast(1, LIM32), 0xF_FFFE);
    // CPU 1's magazines were emptied, not dropped: a CPU 1 request goes to the tree, from
    // 0xFFFFE: 0xFFFFD (the hole the flush left)
    r.cpu(1);
    assert_eq!(r.fast(1, LIM32), 0xF_FFFD);
    assert_eq!(r.nodes(), singles(0xF_FFFF, 4));
}

// ---- §4.1 item 6: any 32-bit free resets max32_alloc_size ----

#[test]
fn spec_4_1_item6_a_free_below_the_cache_pointer_reopens_the_32bit_space() {
    let mut r = Run::new(1, G4K, 0xF_FF00);
    for i in 0..256 {
        assert_eq!(r.alloc(1, LIM32, true), Some((0xF_FFFF - i, 0xF_FFFF - i)));
    }
    // free 0xFFF80 (>= cached32 0xFFF00): cached32 = 0xFFF81; refill it
    r.free(0xF_FF80);
    assert_eq!(r.alloc(1, LIM32, true), Some((0xF_FF80, 0xF_FF80)));
    // full: the first pass from 0xFFF80 ends at 0xFFEFF < start_pfn, the retry over
    // (0xFFF80, 0x100000) finds nothing: max32_alloc_size = 1
    assert_eq!(r.alloc(1, LIM32, true), None);
    // free a node below the cache pointer (0xFFF10 < 0xFFF80): rule 1 does not fire, rule 2
    // resets max32_alloc_size
    r.free(0xF_FF10);
    // no fail-fast; from 0xFFF80 down to 0xFFF11: cand 0xFFF10 > 0xFFF0F: the freed hole
    assert_eq!(r.alloc(1, LIM32, true), Some((0xF_FF10, 0xF_FF10)));
}

#[test]
fn a_64bit_failure_sets_max32_alloc_size_too() {
    // free 32-bit space 0xFFFFD..0xFFFFF: 3 pfns whose first is not 4-aligned; everything
    // from 4 GiB up to pfn 0xFFFFFFFF is reserved
    let mut r = Run::new(1, G4K, 0xF_FFFD);
    assert_eq!(r.reserve(0x10_0000, 0xFFFF_FFFF), Some((0x10_0000, 0xFFFF_FFFF)));
    // a 64-bit size-aligned request of 3 (L = 2^32 > dma_32bit_pfn: cached_node = anchor):
    // through the reservation to high = 0x100000, cand = 0xFFFFC < start_pfn; no retry
    // (retry_pfn = ~0) -> fails, and stores max32_alloc_size = 3 all the same
    assert_eq!(r.alloc(3, 0xFFFF_FFFF, true), None);
    // so an unaligned 32-bit request of 3, which fits at 0xFFFFD, fails fast
    assert_eq!(r.alloc(3, LIM32, false), None);
    // a smaller one does not: from the anchor, past the reservation, 0xFFFFE
    assert_eq!(r.alloc(2, LIM32, false), Some((0xF_FFFE, 0xF_FFFF)));
    // freeing it (a 32-bit pfn) resets max32 to dma_32bit_pfn
    r.free(0xF_FFFE);
    assert_eq!(r.alloc(3, LIM32, false), Some((0xF_FFFD, 0xF_FFFF)));
}

#[test]
fn the_same_request_without_the_64bit_failure_succeeds() {
    let mut r = Run::new(1, G4K, 0xF_FFFD);
    assert_eq!(r.reserve(0x10_0000, 0xFFFF_FFFF), Some((0x10_0000, 0xFFFF_FFFF)));
    assert_eq!(r.alloc(3, LIM32, false), Some((0xF_FFFD, 0xF_FFFF)));
}

// ---- §4.1 item 8: the retry never goes below start_pfn ----

#[test]
fn spec_4_1_item8_request_larger_than_the_domain_fails() {
    // 10 MiB at start_pfn 0x1F0000 (limit 0x1F09FF: 0xA00 pages, all above 4 GiB)
    let mut r = Run::new(1, G4K, 0x1F_0000);
    let lim = 0x1F_09FF;
    // 0xB00 aligned (mask ~0xFFF): (0x1F0A00 - 0xB00) & ~0xFFF = 0x1EF000 < start_pfn; the
    // cached node is the anchor, retry_pfn = ~0 is not < L: no retry (the pre-v6.2
    // retry_pfn + 1 == 0 would have searched from pfn 0)
    assert_eq!(r.alloc(0xB00, lim, true), None);
    assert_eq!(r.fast(0xB00, lim), 0);
    // unaligned: 0x1EFF00 < start_pfn as well
    assert_eq!(r.alloc(0xB00, lim, false), None);
    assert_eq!(r.nodes(), vec![]);
}

#[test]
fn spec_4_1_item8_top_node_freed_then_oversized_request_fails() {
    let mut r = Run::new(1, G4K, 0x1F_0000);
    let lim = 0x1F_09FF;
    // 0x800 (mask ~0x7FF): 0x1F0200 & ~0x7FF = 0x1F0000; cached_node = it (pfn_hi >= 4 GiB)
    assert_eq!(r.alloc(0x800, lim, true), Some((0x1F_0000, 0x1F_07FF)));
    // 0x100 from it: 0x1EFF00 < start_pfn; retry over (0x1F07FF, 0x1F0A00) from the anchor:
    // 0x1F0900 > 0x1F07FF
    assert_eq!(r.alloc(0x100, lim, true), Some((0x1F_0900, 0x1F_09FF)));
    // free the top-most node: rule 3 puts cached_node back on the anchor
    r.free(0x1F_0900);
    // 0x300 (mask ~0x3FF) > the 0x200 pages left: from the anchor 0x1F0400 collides, then
    // (0x1F0000 - 0x300) & ~0x3FF = 0x1EFC00 < start_pfn; retry_pfn = ~0: no retry
    assert_eq!(r.alloc(0x300, lim, true), None);
    // what does fit still does: 0x200 from the anchor: 0x1F0800
    assert_eq!(r.alloc(0x200, lim, true), Some((0x1F_0800, 0x1F_09FF)));
}

// ---- §1.7 / §4.1 item 9: magazines, spill points, depot ----

#[test]
fn spec_4_1_item9_spill_points_and_depot_trim() {
    let mut r = Run::new(1, G4K, 1);
    // q_i = 0xFFFFF - (i - 1), i = 1..400
    for i in 0..400 {
        assert_eq!(r.fast(1, LIM32), 0xF_FFFF - i);
    }
    let q = |i: u64| 0xF_FFFF - (i - 1);
    let free_range = |r: &mut Run, from: u64, to: u64| {
        for i in from..=to {
            r.free_fast(q(i), 1);
        }
    };
    // frees 1..254: loaded fills at 127, free 128 swaps it into prev, 128..254 fill the
    // other one; no depot push yet, so no depot work is pending
    free_range(&mut r, 1, 254);
    r.depot_work();
    assert_eq!(r.nodes().len(), 400);
    // free 255: both full -> the loaded magazine (q128..q254) goes to the depot, work pending;
    // the work finds depot_size 1, not > num_online_cpus() 1: nothing is trimmed and it
    // does not reschedule
    free_range(&mut r, 255, 255);
    r.depot_work();
    assert_eq!(r.nodes().len(), 400);
    // frees 256..381 fill the new loaded magazine (q255..q381, 127 pfns); free 382 pushes it
    free_range(&mut r, 256, 381);
    r.depot_work();
    assert_eq!(r.nodes().len(), 400, "no push since the last work");
    free_range(&mut r, 382, 382);
    // depot_size 2 > 1: the most recently pushed magazine (q255..q381) goes back to the tree
    r.depot_work();
    let mut want = singles(q(382), 400 - 381); // q382..q400 = 0xFFE70..0xFFE82
    want.extend(singles(q(1), 254)); // q1..q254 = 0xFFF02..0xFFFFF
    assert_eq!(r.nodes(), want);
    assert_eq!((want[18], want[19]), ((0xF_FE82, 0xF_FE82), (0xF_FF02, 0xF_FF02)));
    // it rescheduled itself: depot_size 1 now, so this run trims nothing and stops
    r.depot_work();
    r.depot_work();
    assert_eq!(r.nodes(), want);

    // what is left in the caches, LIFO: loaded [q382], prev q1..q127, depot q128..q254
    assert_eq!(r.fast(1, LIM32), q(382));
    assert_eq!(r.fast(1, LIM32), q(127));
}

#[test]
fn depot_trim_pops_one_magazine_per_tick_down_to_num_online_cpus() {
    let mut r = Run::new(1, G4K, 1);
    for i in 0..520 {
        assert_eq!(r.fast(1, LIM32), 0xF_FFFF - i);
    }
    let q = |i: u64| 0xF_FFFF - (i - 1);
    // 509 frees: pushes at 255 (q128..q254), 382 (q255..q381), 509 (q382..q508)
    for i in 1..=509 {
        r.free_fast(q(i), 1);
    }
    assert_eq!(r.nodes().len(), 520);
    // tick 1: depot 3 > 1: the newest (q382..q508) is freed in index order
    r.depot_work();
    assert_eq!(r.nodes().len(), 520 - 127);
    assert_eq!(r.find(q(382)), None);
    assert_eq!(r.find(q(381)), Some((q(381), q(381))));
    // tick 2: depot 2 > 1: q255..q381
    r.depot_work();
    assert_eq!(r.nodes().len(), 520 - 254);
    assert_eq!(r.find(q(255)), None);
    // tick 3: depot 1: nothing, and no reschedule; tick 4: not pending
    r.depot_work();
    r.depot_work();
    assert_eq!(r.nodes().len(), 520 - 254);
    let mut want = singles(q(509), 520 - 508); // q509..q520
    want.extend(singles(q(1), 254)); // q1..q254
    assert_eq!(r.nodes(), want);
}

#[test]
fn depot_is_kept_up_to_num_online_cpus() {
    // with 2 CPUs, two depot magazines are not trimmed
    let mut r = Run::new(2, G4K, 1);
    for i in 0..400 {
        assert_eq!(r.fast(1, LIM32), 0xF_FFFF - i);
    }
    for i in 0..382 {
        r.free_fast(0xF_FFFF - i, 1);
    }
    r.depot_work();
    assert_eq!(r.nodes().len(), 400);
}

#[test]
fn spec_2_5_fifo_in_lifo_out_order() {
    let mut r = Run::new(1, G4K, 1);
    for i in 0..300 {
        assert_eq!(r.fast(1, LIM32), 0xF_FFFF - i);
    }
    // p1..p255 reach the rcache in FIFO order (as a 255-entry flush-queue drain would)
    let p = |i: u64| 0xF_FFFF - (i - 1);
    for i in 1..=255 {
        r.free_fast(p(i), 1);
    }
    // loaded [p255], prev p1..p127, depot [p128..p254]
    let mut want = vec![p(255)];
    want.extend((1..=127).rev().map(p));
    want.extend((128..=254).rev().map(p));
    let got: Vec<u64> = (0..255).map(|_| r.fast(1, LIM32)).collect();
    assert_eq!(got, want);
    // the caches are dry: the tree, from cached32 = the last tree allocation 0xFFED4
    assert_eq!(r.fast(1, LIM32), 0xF_FED3);
    assert_eq!(r.nodes().len(), 301);
}

#[test]
fn magazine_pop_scans_down_and_swap_removes() {
    let mut r = Run::new(1, G4K, 1);
    for i in 0..4 {
        assert_eq!(r.fast(1, LIM32), 0xF_FFFF - i);
    }
    // loaded = [0xFFFFC, 0xFFFFD, 0xFFFFF, 0xFFFFE]
    for p in [0xF_FFFC, 0xF_FFFD, 0xF_FFFF, 0xF_FFFE] {
        r.free_fast(p, 1);
    }
    // limit 0xFFFFD: pop limit = 0xFFFFE - 1 = 0xFFFFD; from the top 0xFFFFE, 0xFFFFF are
    // too high, 0xFFFFD fits; the last entry (0xFFFFE) moves into its slot:
    // [0xFFFFC, 0xFFFFE, 0xFFFFF]
    assert_eq!(r.fast(1, 0xF_FFFD), 0xF_FFFD);
    assert_eq!(r.fast(1, LIM32), 0xF_FFFF);
    assert_eq!(r.fast(1, LIM32), 0xF_FFFE);
    assert_eq!(r.fast(1, LIM32), 0xF_FFFC);
    // the pop finds nothing under the limit: the tree serves it and the magazine is
    // untouched. Cached: [0xFFFFF]; the tree's cached32 is 0xFFFFC (the last tree node).
    r.free_fast(0xF_FFFF, 1);
    // limit 0xFFFFA: L = 0xFFFFB, from 0xFFFFC: high = 0xFFFFB, cand 0xFFFFA
    assert_eq!(r.fast(1, 0xF_FFFA), 0xF_FFFA);
    assert_eq!(r.fast(1, LIM32), 0xF_FFFF);
}

#[test]
fn a_depot_pop_stays_in_effect_when_the_limit_then_fails() {
    let mut r = Run::new(1, G4K, 1);
    for i in 0..400 {
        assert_eq!(r.fast(1, LIM32), 0xF_FFFF - i);
    }
    let q = |i: u64| 0xF_FFFF - (i - 1);
    // 382 frees: depot [q255..q381 (top), q128..q254], prev q1..q127, loaded [q382]; work
    // pending
    for i in 1..=382 {
        r.free_fast(q(i), 1);
    }
    // drain loaded and prev: q382, then (swap) q127..q1
    assert_eq!(r.fast(1, LIM32), q(382));
    for i in (1..=127).rev() {
        assert_eq!(r.fast(1, LIM32), q(i));
    }
    // loaded and prev are empty: the get frees loaded and pops the depot top (q255..q381 =
    // 0xFFE83..0xFFF01), none of whose pfns is <= 0xFFE00: the tree serves it. The cached32
    // node is 0xFFE70 (the last tree allocation): high = min(0xFFE01, 0xFFE70), cand 0xFFE00
    assert_eq!(r.fast(1, 0xF_FE00), 0xF_FE00);
    // the depot is down to one magazine: the pending work trims nothing
    r.depot_work();
    assert_eq!(r.nodes().len(), 401);
    // and the popped magazine is this CPU's loaded one now
    assert_eq!(r.fast(1, LIM32), q(381));
}

#[test]
fn rcache_is_per_cpu() {
    let mut r = Run::new(2, G4K, 1);
    assert_eq!(r.fast(1, LIM32), 0xF_FFFF);
    // freed on CPU 1: cached there
    r.cpu(1);
    r.free_fast(0xF_FFFF, 1);
    // CPU 0 does not see it: the tree gives 0xFFFFE (0xFFFFF is still a node)
    r.cpu(0);
    assert_eq!(r.fast(1, LIM32), 0xF_FFFE);
    // CPU 1 gets it back
    r.cpu(1);
    assert_eq!(r.fast(1, LIM32), 0xF_FFFF);
    r.free_fast(0xF_FFFF, 1);
    // the CPU-hotplug dead callback of CPU 1 returns it to the tree: 0xFFFFF >= cached32
    // 0xFFFFE, so cached32 moves to its successor, the anchor
    assert_eq!(r.val(Call::FreeCpuCachedIovas { cpu: 1 }), 0);
    assert_eq!(r.nodes(), vec![(0xF_FFFE, 0xF_FFFE)]);
    // CPU 1's magazines are empty: from the anchor, 0xFFFFF > 0xFFFFE
    assert_eq!(r.fast(1, LIM32), 0xF_FFFF);
    // CPU 0's own cache still works
    r.cpu(0);
    r.free_fast(0xF_FFFE, 1);
    assert_eq!(r.fast(1, LIM32), 0xF_FFFE);
}

// ---- find / free ----

#[test]
fn free_iova_removes_the_whole_node_and_ignores_unknown_pfns() {
    let mut r = Run::new(1, G4K, 1);
    assert_eq!(r.alloc(16, LIM32, true), Some((0xF_FFF0, 0xF_FFFF)));
    assert_eq!(r.find(0xF_FFF7), Some((0xF_FFF0, 0xF_FFFF)));
    assert_eq!(r.find(0xF_FFEF), None);
    r.free(0xF_FFEF);
    assert_eq!(r.nodes(), vec![(0xF_FFF0, 0xF_FFFF)]);
    r.free(0xF_FFF7);
    assert_eq!(r.nodes(), vec![]);
    assert!(r.rec.events.is_empty());
}

#[test]
fn freeing_a_cached_pfn_that_is_not_in_the_tree_warns_at_flush() {
    let mut r = Run::new(1, G4K, 1);
    // a pfn that was never allocated goes into the rcache unchecked
    r.free_fast(0x1234, 1);
    // iova_magazine_free_pfns(): WARN_ON(!iova) for it, and carries on
    assert_eq!(r.val(Call::FreeCpuCachedIovas { cpu: 0 }), 0);
    assert_eq!(r.rec.events, vec!["WarnOnAlways iova_magazine_free_pfns: !iova".to_string()]);
}

// ---- reserve_iova ----

#[test]
fn reserve_iova_extends_covers_and_continues_above() {
    let mut r = Run::new(1, G4K, 1);
    assert_eq!(r.reserve(0x100, 0x1FF), Some((0x100, 0x1FF)));
    // fully inside: that node
    assert_eq!(r.reserve(0x180, 0x1C0), Some((0x100, 0x1FF)));
    // overlapping from below: the node's pfn_lo is lowered, the node is returned
    assert_eq!(r.reserve(0x80, 0x17F), Some((0x80, 0x1FF)));
    assert_eq!(r.reserve(0x300, 0x3FF), Some((0x300, 0x3FF)));
    // across both and beyond: [0x80..] lowered to 0x40, lo moves to 0x200; [0x300..]
    // lowered to 0x200, lo moves to 0x400; the anchor does not overlap: insert the rest
    assert_eq!(r.reserve(0x40, 0x4FF), Some((0x400, 0x4FF)));
    assert_eq!(r.nodes(), vec![(0x40, 0x1FF), (0x200, 0x3FF), (0x400, 0x4FF)]);
    // adjacent nodes are not merged: a pfn in each still finds its own
    assert_eq!(r.find(0x200), Some((0x200, 0x3FF)));
    assert!(r.rec.events.is_empty());
}

#[test]
fn reserve_iova_leaves_the_cached_nodes_alone() {
    let mut r = Run::new(1, G4K, 1);
    assert_eq!(r.alloc(1, LIM32, true), Some((0xF_FFFF, 0xF_FFFF)));
    assert_eq!(r.reserve(0xF_FFF0, 0xF_FFFE), Some((0xF_FFF0, 0xF_FFFE)));
    // from cached32 0xFFFFF: 0xFFFFE collides with the reservation, then 0xFFFEF
    assert_eq!(r.alloc(1, LIM32, true), Some((0xF_FFEF, 0xF_FFEF)));
    // reserving over an allocated node extends that node
    assert_eq!(r.reserve(0xF_FFE0, 0xF_FFEF), Some((0xF_FFE0, 0xF_FFEF)));
    // and freeing through any pfn in it frees the extended node
    r.free(0xF_FFE3);
    assert_eq!(r.nodes(), vec![(0xF_FFF0, 0xF_FFFE), (0xF_FFFF, 0xF_FFFF)]);
}

#[test]
fn reserve_iova_warns_on_nonsensical_pfns() {
    let mut r = Run::new(1, G4K, 1);
    // ULLONG_MAX >> 12 = 0xF_FFFF_FFFF_FFFF
    let warn = "WarnOnAlways reserve_iova: (pfn_hi | pfn_lo) > (ULLONG_MAX >> iova_shift(iovad))".to_string();
    assert_eq!(r.reserve(0x10_0000_0000_0000, 0x10_0000_0000_0000), None);
    assert_eq!(r.rec.events, vec![warn.clone()]);
    // WARN_ON, not WARN_ON_ONCE: every time
    assert_eq!(r.reserve(0, u64::MAX), None);
    assert_eq!(r.rec.events, vec![warn]);
    // the largest accepted pfn
    assert_eq!(r.reserve(0, 0xF_FFFF_FFFF_FFFF), Some((0, 0xF_FFFF_FFFF_FFFF)));
    assert!(r.rec.events.is_empty());
    assert_eq!(r.nodes(), vec![(0, 0xF_FFFF_FFFF_FFFF)]);
}

#[test]
fn reserve_iova_of_an_empty_range_at_a_node_start_warns_in_the_insert() {
    let mut r = Run::new(1, G4K, 1);
    assert_eq!(r.reserve(0x100, 0x1FF), Some((0x100, 0x1FF)));
    // [0x100, 0xFF] overlaps nothing (0xFF < 0x100), and its insert meets pfn_lo 0x100:
    // iova_insert_rbtree() WARN_ON(1) and leaves it out of the tree; reserve_iova still
    // returns it
    assert_eq!(r.reserve(0x100, 0xFF), Some((0x100, 0xFF)));
    assert_eq!(r.rec.events, vec!["WarnOnAlways iova_insert_rbtree: 1".to_string()]);
    assert_eq!(r.nodes(), vec![(0x100, 0x1FF)]);
    // an empty range elsewhere is a node of its own, which no pfn finds
    assert_eq!(r.reserve(0x300, 0x2FF), Some((0x300, 0x2FF)));
    assert_eq!(r.nodes(), vec![(0x100, 0x1FF), (0x300, 0x2FF)]);
    assert_eq!(r.find(0x2FF), None);
    assert_eq!(r.find(0x300), None);
}

// ---- init and teardown ----

#[test]
fn init_iova_domain_bugs_on_a_bad_granule() {
    for granule in [0, 3, 8192] {
        let mut rec = Rec::default();
        let mut model = LegacyModel::new(&common::base_device(), &mut rec);
        rec.events.clear();
        assert_eq!(model.call(&mut rec, Call::IovaInit { granule, start_pfn: 1 }), CallResult::Bug);
        assert_eq!(rec.events, vec!["Bug init_iova_domain: (granule > PAGE_SIZE) || !is_power_of_2(granule)"]);
        assert_eq!(model.iova_nodes(IovaDomainId::Standalone), None);
    }
}

#[test]
fn smaller_granule_changes_dma_32bit_pfn() {
    // granule 512: shift 9, dma_32bit_pfn = 1 << 23 = 0x800000
    let mut r = Run::new(1, 512, 1);
    assert_eq!(r.alloc(1, 0x7F_FFFF, true), Some((0x7F_FFFF, 0x7F_FFFF)));
    // ULLONG_MAX >> 9 = 0x7F_FFFF_FFFF_FFFF is accepted, one more bit is not
    assert_eq!(r.reserve(0x7F_FFFF_FFFF_FFFF, 0x7F_FFFF_FFFF_FFFF), Some((0x7F_FFFF_FFFF_FFFF, 0x7F_FFFF_FFFF_FFFF)));
    assert_eq!(r.reserve(0x80_0000_0000_0000, 0x80_0000_0000_0000), None);
}

#[test]
fn reinit_puts_the_old_domain() {
    let mut r = Run::new(1, G4K, 1);
    assert_eq!(r.fast(1, LIM32), 0xF_FFFF);
    r.free_fast(0xF_FFFF, 1);
    assert_eq!(r.call(Call::IovaInit { granule: G4K, start_pfn: 1 }), CallResult::Returned(0));
    assert_eq!(r.nodes(), vec![]);
    // the new domain's caches are empty: a fresh tree allocation
    assert_eq!(r.fast(2, LIM32), 0xF_FFFE);
}

#[test]
fn a_cpu_that_is_not_possible_stops_the_model() {
    let mut r = Run::new(1, G4K, 1);
    assert_eq!(r.fast(1, LIM32), 0xF_FFFF);
    r.cpu(1);
    assert_eq!(r.call(Call::FreeIovaFast { pfn: 0xF_FFFF, size: 1 }), CallResult::Bug);
    assert_eq!(
        r.rec.events,
        vec!["Bug __iova_rcache_insert: per_cpu_ptr() of a CPU that is not possible (cpu >= nr_cpu_ids)"]
    );
}
