//! drivers/iommu/iova.c: the IOVA allocator (identical in v6.16 and v6.18), spec dma-iommu.md §1.
//!
//! The rb-tree is modelled as a slab of nodes plus an ordered map from `pfn_lo` to node id. Results
//! depend only on the tree's contents (iova_find_limit() is semantically neutral, spec §1.4/§1.9), and
//! `cached_node` / `cached32_node` are node identities (slab ids), as the kernel's `struct rb_node *`
//! are: they can point at reserved nodes or at the anchor, and reserve_iova() may lower the `pfn_lo`
//! of the node they point at. All pfn arithmetic is `unsigned long` (wrapping) as in the kernel.
//!
//! The per-CPU range caches take the CPU from the caller (raw_smp_processor_id()); the depot trim
//! work runs only when [`IovaDomain::depot_work_tick`] fires: no time passes otherwise.
//! GFP_ATOMIC failures of `struct iova` and magazine allocations are not modelled.

use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Unbounded};

use crate::types::PAGE_SIZE;

/// log2 of the largest cached IOVA range size, in granules: orders 0..5 are cached.
pub const IOVA_RANGE_CACHE_MAX_SIZE: u32 = 6;
/// pfns per magazine (v6.7+: a 1024-byte `struct iova_magazine`).
pub const IOVA_MAG_SIZE: usize = 127;
/// IOVA_ANCHOR: the anchor node sits above the top of the usable address space.
pub const IOVA_ANCHOR: u64 = !0;
/// IOVA_DEPOT_DELAY, in milliseconds: the period of one [`IovaDomain::depot_work_tick`].
pub const IOVA_DEPOT_DELAY_MS: u64 = 100;

/// Slab id of the anchor node.
const ANCHOR_ID: usize = 0;

/// A node of the tree (struct iova), inclusive pfns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Iova {
    pub pfn_lo: u64,
    pub pfn_hi: u64,
}

impl Iova {
    /// models iova_size(): pfn_hi - pfn_lo + 1
    pub fn size(&self) -> u64 {
        self.pfn_hi.wrapping_sub(self.pfn_lo).wrapping_add(1)
    }
}

/// What reserve_iova() returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReserveResult {
    /// The node now covering the end of the request (an existing, possibly extended one, or a new one).
    Node(Iova),
    /// NULL without a WARN (a failed `struct iova` allocation; never produced by this model).
    Null,
    /// The WARN_ON fired and NULL returned.
    WarnNull,
}

/// struct iova_magazine: `pfns.len()` is `size`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Magazine {
    pfns: Vec<u64>,
}

impl Magazine {
    /// models iova_magazine_alloc(): an empty magazine.
    fn alloc() -> Self {
        Magazine { pfns: Vec::with_capacity(IOVA_MAG_SIZE) }
    }

    /// models iova_magazine_full()
    fn full(&self) -> bool {
        self.pfns.len() == IOVA_MAG_SIZE
    }

    /// models iova_magazine_empty()
    fn empty(&self) -> bool {
        self.pfns.is_empty()
    }

    /// models iova_magazine_pop(): the topmost pfn <= limit_pfn, swap-removed; 0 if none fits.
    fn pop(&mut self, limit_pfn: u64) -> u64 {
        // Only called on a non-empty magazine (as in the kernel).
        let mut i = self.pfns.len() - 1;
        while self.pfns[i] > limit_pfn {
            if i == 0 {
                return 0;
            }
            i -= 1;
        }
        // pfns[i] = pfns[--size]
        self.pfns.swap_remove(i)
    }

    /// models iova_magazine_push()
    fn push(&mut self, pfn: u64) {
        debug_assert!(!self.full());
        self.pfns.push(pfn);
    }
}

/// struct iova_cpu_rcache
#[derive(Clone, Debug)]
struct CpuRcache {
    loaded: Magazine,
    prev: Magazine,
}

/// struct iova_rcache, plus the state of its delayed work.
#[derive(Clone, Debug)]
struct Rcache {
    /// The depot list of full magazines; the last element is the list head (most recently pushed).
    depot: Vec<Magazine>,
    /// `rcache->work` is pending (scheduled and not yet run).
    work_pending: bool,
    cpu_rcaches: Vec<CpuRcache>,
}

impl Rcache {
    /// models iova_depot_pop(): the most recently pushed magazine (full).
    fn depot_pop(&mut self) -> Magazine {
        let mag = self.depot.pop().expect("iova_depot_pop() on an empty depot");
        debug_assert!(mag.full());
        mag
    }

    /// models iova_depot_push()
    fn depot_push(&mut self, mag: Magazine) {
        self.depot.push(mag);
    }

    /// models schedule_delayed_work(&rcache->work, IOVA_DEPOT_DELAY): an already pending work is not re-armed.
    fn schedule_work(&mut self) {
        self.work_pending = true;
    }
}

/// struct iova_domain together with its rcaches.
#[derive(Clone, Debug)]
pub struct IovaDomain {
    /// Node storage; `None` is a freed slot. Slot [`ANCHOR_ID`] is the anchor.
    slab: Vec<Option<Iova>>,
    free_slots: Vec<usize>,
    /// The rb-tree's order: pfn_lo -> slab id.
    tree: BTreeMap<u64, usize>,
    /// Save last alloced node (slab id).
    cached_node: usize,
    /// Save last 32-bit alloced node (slab id).
    cached32_node: usize,
    granule: u64,
    start_pfn: u64,
    dma_32bit_pfn: u64,
    /// Size of last failed allocation.
    max32_alloc_size: u64,
    /// NULL (empty) until iova_domain_init_rcaches(); IOVA_RANGE_CACHE_MAX_SIZE entries after.
    rcaches: Vec<Rcache>,
    /// num_possible_cpus() == num_online_cpus().
    nr_cpus: u32,
    /// WARN_ON(!iova) hits in iova_magazine_free_pfns().
    magazine_free_warns: u64,
    /// The WARN_ON(!iova) hits not yet reported (see take_warnings()).
    pending_warns: u64,
}

/// models fls_long(): 1-based index of the most significant set bit, 0 for 0.
pub fn fls_long(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// models __roundup_pow_of_two(): `1UL << fls_long(n - 1)`. For n == 0 the shift count is 64, which C
/// leaves undefined; x86-64 and arm64 shifts use the count mod 64, giving 1, and so does this.
pub fn roundup_pow_of_two(n: u64) -> u64 {
    1u64.wrapping_shl(fls_long(n.wrapping_sub(1)))
}

/// models order_base_2(): `n > 1 ? ilog2(n - 1) + 1 : 0`.
pub fn order_base_2(n: u64) -> u32 {
    if n > 1 {
        (n - 1).ilog2() + 1
    } else {
        0
    }
}

/// models iova_rcache_range(): PAGE_SIZE << (IOVA_RANGE_CACHE_MAX_SIZE - 1)
pub fn iova_rcache_range() -> u64 {
    PAGE_SIZE << (IOVA_RANGE_CACHE_MAX_SIZE - 1)
}

impl IovaDomain {
    /// models init_iova_domain(). granule must be a power of two <= PAGE_SIZE (BUG_ON otherwise: panics).
    pub fn new(granule: u64, start_pfn: u64) -> Self {
        assert!(granule <= PAGE_SIZE && granule.is_power_of_two(), "init_iova_domain: BUG_ON(granule {granule:#x})");
        let shift = granule.trailing_zeros();
        let dma_32bit_pfn = 1u64 << (32 - shift);
        let mut tree = BTreeMap::new();
        tree.insert(IOVA_ANCHOR, ANCHOR_ID);
        IovaDomain {
            slab: vec![Some(Iova { pfn_lo: IOVA_ANCHOR, pfn_hi: IOVA_ANCHOR })],
            free_slots: Vec::new(),
            tree,
            cached_node: ANCHOR_ID,
            cached32_node: ANCHOR_ID,
            granule,
            start_pfn,
            dma_32bit_pfn,
            max32_alloc_size: dma_32bit_pfn,
            rcaches: Vec::new(),
            nr_cpus: 0,
            magazine_free_warns: 0,
            pending_warns: 0,
        }
    }

    /// models iova_domain_init_rcaches(): nr_cpus per-CPU {loaded, prev} empty magazines per order.
    pub fn init_rcaches(&mut self, nr_cpus: u32) {
        assert!(nr_cpus >= 1, "iova_domain_init_rcaches: at least one CPU");
        self.nr_cpus = nr_cpus;
        self.rcaches = (0..IOVA_RANGE_CACHE_MAX_SIZE)
            .map(|_| Rcache {
                depot: Vec::new(),
                work_pending: false,
                cpu_rcaches: (0..nr_cpus)
                    .map(|_| CpuRcache { loaded: Magazine::alloc(), prev: Magazine::alloc() })
                    .collect(),
            })
            .collect();
    }

    pub fn granule(&self) -> u64 {
        self.granule
    }

    pub fn start_pfn(&self) -> u64 {
        self.start_pfn
    }

    /// models iova_shift(): __ffs(granule)
    pub fn iova_shift(&self) -> u32 {
        self.granule.trailing_zeros()
    }

    /// models iova_mask(): granule - 1
    pub fn iova_mask(&self) -> u64 {
        self.granule - 1
    }

    /// models iova_offset()
    pub fn iova_offset(&self, iova: u64) -> u64 {
        iova & self.iova_mask()
    }

    /// models iova_align(): ALIGN(size, granule), wrapping like the kernel's size_t arithmetic.
    pub fn iova_align(&self, size: u64) -> u64 {
        size.wrapping_add(self.iova_mask()) & !self.iova_mask()
    }

    /// models iova_align_down(): ALIGN_DOWN(size, granule)
    pub fn iova_align_down(&self, size: u64) -> u64 {
        size & !self.iova_mask()
    }

    /// models iova_pfn()
    pub fn iova_pfn(&self, iova: u64) -> u64 {
        iova >> self.iova_shift()
    }

    /// `iovad->dma_32bit_pfn`: 1 << (32 - iova_shift), an exclusive pfn limit.
    pub fn dma_32bit_pfn(&self) -> u64 {
        self.dma_32bit_pfn
    }

    /// `iovad->max32_alloc_size`: the size of the last failed allocation (dma_32bit_pfn when reset).
    pub fn max32_alloc_size(&self) -> u64 {
        self.max32_alloc_size
    }

    /// The node `iovad->cached_node` points at (the anchor included).
    pub fn cached_node(&self) -> Iova {
        self.node(self.cached_node)
    }

    /// The node `iovad->cached32_node` points at (the anchor included).
    pub fn cached32_node(&self) -> Iova {
        self.node(self.cached32_node)
    }

    /// num_possible_cpus() given to init_rcaches(); 0 before it.
    pub fn nr_cpus(&self) -> u32 {
        self.nr_cpus
    }

    /// How often iova_magazine_free_pfns() hit its WARN_ON(!iova) (a cached pfn no longer in the tree).
    pub fn magazine_free_warns(&self) -> u64 {
        self.magazine_free_warns
    }

    /// The WARN_ON(!iova) hits of iova_magazine_free_pfns() since the last call: the caller
    /// prints them (the allocator has no device), right after the call that hit them.
    pub fn take_warnings(&mut self) -> u64 {
        std::mem::take(&mut self.pending_warns)
    }

    /// Every pfn the range caches hold (each CPU's loaded and prev, then the depot, per
    /// order): what the invariant checks read.
    pub fn cached_pfns(&self) -> Vec<u64> {
        let mut out = Vec::new();
        for r in &self.rcaches {
            for c in &r.cpu_rcaches {
                out.extend_from_slice(&c.loaded.pfns);
                out.extend_from_slice(&c.prev.pfns);
            }
            for m in &r.depot {
                out.extend_from_slice(&m.pfns);
            }
        }
        out
    }

    /// The pfns of `cpu`'s `loaded` magazine of `order`, in index order.
    pub fn rcache_loaded(&self, order: u32, cpu: u32) -> &[u64] {
        &self.rcaches[order as usize].cpu_rcaches[cpu as usize].loaded.pfns
    }

    /// The pfns of `cpu`'s `prev` magazine of `order`, in index order.
    pub fn rcache_prev(&self, order: u32, cpu: u32) -> &[u64] {
        &self.rcaches[order as usize].cpu_rcaches[cpu as usize].prev.pfns
    }

    /// The depot of `order`: list head (most recently pushed) first, each magazine in index order.
    pub fn depot(&self, order: u32) -> Vec<&[u64]> {
        self.rcaches[order as usize].depot.iter().rev().map(|m| m.pfns.as_slice()).collect()
    }

    /// Whether the depot work of `order` is pending.
    pub fn depot_work_pending(&self, order: u32) -> bool {
        self.rcaches[order as usize].work_pending
    }

    // ---- the tree ----

    fn node(&self, id: usize) -> Iova {
        self.slab[id].expect("a live iova node")
    }

    /// models rb_prev(): the in-order predecessor.
    fn rb_prev(&self, id: usize) -> Option<usize> {
        let lo = self.node(id).pfn_lo;
        self.tree.range(..lo).next_back().map(|(_, &id)| id)
    }

    /// models rb_next(): the in-order successor.
    fn rb_next(&self, id: usize) -> Option<usize> {
        let lo = self.node(id).pfn_lo;
        self.tree.range((Excluded(lo), Unbounded)).next().map(|(_, &id)| id)
    }

    /// models iova_insert_rbtree() (the start hint only speeds up the descent, so it is not modelled).
    fn insert_rbtree(&mut self, iova: Iova) -> usize {
        // The kernel WARNs and does not link a node with a duplicate pfn_lo; neither caller can produce one.
        assert!(!self.tree.contains_key(&iova.pfn_lo), "iova_insert_rbtree: duplicate pfn_lo {:#x}", iova.pfn_lo);
        let id = match self.free_slots.pop() {
            Some(id) => {
                self.slab[id] = Some(iova);
                id
            }
            None => {
                self.slab.push(Some(iova));
                self.slab.len() - 1
            }
        };
        self.tree.insert(iova.pfn_lo, id);
        id
    }

    /// models private_find_iova(): the node with pfn_lo <= pfn <= pfn_hi.
    fn private_find_iova(&self, pfn: u64) -> Option<usize> {
        let (_, &id) = self.tree.range(..=pfn).next_back()?;
        (self.node(id).pfn_hi >= pfn).then_some(id)
    }

    /// models __get_cached_rbnode()
    fn get_cached_rbnode(&self, limit_pfn: u64) -> usize {
        if limit_pfn <= self.dma_32bit_pfn {
            self.cached32_node
        } else {
            self.cached_node
        }
    }

    /// models __cached_rbnode_insert_update()
    fn cached_rbnode_insert_update(&mut self, new: usize) {
        if self.node(new).pfn_hi < self.dma_32bit_pfn {
            self.cached32_node = new;
        } else {
            self.cached_node = new;
        }
    }

    /// models __cached_rbnode_delete_update(): runs before the node is erased.
    fn cached_rbnode_delete_update(&mut self, free_id: usize) {
        let free = self.node(free_id);
        // Only the anchor has no successor, and removing it is refused in remove_iova().
        let next = self.rb_next(free_id).expect("a non-anchor node has a successor");

        let cached_iova = self.node(self.cached32_node);
        if free_id == self.cached32_node || (free.pfn_hi < self.dma_32bit_pfn && free.pfn_lo >= cached_iova.pfn_lo) {
            self.cached32_node = next;
        }

        if free.pfn_lo < self.dma_32bit_pfn {
            self.max32_alloc_size = self.dma_32bit_pfn;
        }

        let cached_iova = self.node(self.cached_node);
        if free.pfn_lo >= cached_iova.pfn_lo {
            self.cached_node = next;
        }
    }

    /// models iova_find_limit(): a node to restart the walk from for the exclusive limit `limit_pfn`.
    ///
    /// The kernel returns the anchor above 32 bits and otherwise a node at or above `limit_pfn` found
    /// by an rb-tree-shape-dependent descent; every such start gives the same walk result (spec §1.4),
    /// so this returns the lowest node whose pfn_hi >= limit_pfn (the anchor above 32 bits).
    fn iova_find_limit(&self, limit_pfn: u64) -> usize {
        if limit_pfn > self.dma_32bit_pfn {
            return ANCHOR_ID;
        }
        if let Some((_, &id)) = self.tree.range(..limit_pfn).next_back() {
            if self.node(id).pfn_hi >= limit_pfn {
                return id;
            }
        }
        // The anchor (pfn_hi == ~0) is always at or after this point.
        *self.tree.range(limit_pfn..).next().expect("the anchor").1
    }

    /// models __alloc_and_insert_iova_range(): `limit_pfn` is exclusive. Returns the new node's id.
    fn alloc_and_insert_iova_range(&mut self, size: u64, limit_pfn: u64, size_aligned: bool) -> Option<usize> {
        let mut align_mask = !0u64;
        let mut high_pfn = limit_pfn;
        let mut low_pfn = self.start_pfn;

        if size_aligned {
            align_mask = align_mask.wrapping_shl(fls_long(size.wrapping_sub(1)));
        }

        // Fail fast: nothing changes.
        if limit_pfn <= self.dma_32bit_pfn && size >= self.max32_alloc_size {
            return None;
        }

        let mut curr = Some(self.get_cached_rbnode(limit_pfn));
        let retry_pfn = self.node(curr.unwrap()).pfn_hi;
        let mut retried = false;

        loop {
            // The walk: `curr` is always a node when a pass starts. The kernel also keeps the last
            // visited node (`prev`) as the insertion hint, which does not change the tree.
            let mut new_pfn;
            loop {
                let c = curr.expect("a pass starts at a node");
                high_pfn = high_pfn.min(self.node(c).pfn_lo);
                new_pfn = high_pfn.wrapping_sub(size) & align_mask;
                curr = self.rb_prev(c);
                match curr {
                    Some(p) if new_pfn <= self.node(p).pfn_hi && new_pfn >= low_pfn => {}
                    _ => break,
                }
            }

            if high_pfn < size || new_pfn < low_pfn {
                if low_pfn == self.start_pfn && retry_pfn < limit_pfn {
                    // A second retry repeats the same pass forever: only when the cached node ends
                    // at start_pfn - 1 (a node below start_pfn, never produced by alloc_iova()).
                    assert!(!retried, "__alloc_and_insert_iova_range: the kernel retries forever (livelock)");
                    retried = true;
                    high_pfn = limit_pfn;
                    low_pfn = retry_pfn + 1;
                    curr = Some(self.iova_find_limit(limit_pfn));
                    continue;
                }
                self.max32_alloc_size = size;
                return None;
            }

            let id = self.insert_rbtree(Iova { pfn_lo: new_pfn, pfn_hi: new_pfn.wrapping_add(size).wrapping_sub(1) });
            self.cached_rbnode_insert_update(id);
            return Some(id);
        }
    }

    /// models alloc_iova(): limit_pfn inclusive; None is the kernel's NULL.
    ///
    /// Panics for size 0: the kernel would compute a shift by 64 and link an empty node (or WARN on a
    /// duplicate pfn_lo and leave a dangling cached node); alloc_iova_fast() never passes 0.
    pub fn alloc_iova(&mut self, size: u64, limit_pfn: u64, size_aligned: bool) -> Option<Iova> {
        assert!(size != 0, "alloc_iova(size 0) is undefined in the kernel");
        let id = self.alloc_and_insert_iova_range(size, limit_pfn.wrapping_add(1), size_aligned)?;
        Some(self.node(id))
    }

    /// models remove_iova(): the delete update, then rb_erase(); frees the slot (free_iova_mem()).
    fn remove_iova(&mut self, id: usize) {
        // free_iova_mem() skips the anchor, but erasing it leaves NULL cached nodes that the next
        // allocation dereferences.
        assert!(id != ANCHOR_ID, "remove_iova(IOVA_ANCHOR): the kernel would oops on the next allocation");
        self.cached_rbnode_delete_update(id);
        let iova = self.slab[id].take().expect("a live iova node");
        self.tree.remove(&iova.pfn_lo);
        self.free_slots.push(id);
    }

    /// models free_iova(): removes the whole node containing pfn; missing pfn is ignored.
    pub fn free_iova(&mut self, pfn: u64) {
        if let Some(id) = self.private_find_iova(pfn) {
            self.remove_iova(id);
        }
    }

    /// models find_iova()
    pub fn find_iova(&self, pfn: u64) -> Option<Iova> {
        self.private_find_iova(pfn).map(|id| self.node(id))
    }

    /// models reserve_iova(); WarnNull when (pfn_hi | pfn_lo) > (u64::MAX >> iova_shift).
    pub fn reserve_iova(&mut self, pfn_lo: u64, pfn_hi: u64) -> ReserveResult {
        if (pfn_hi | pfn_lo) > (u64::MAX >> self.iova_shift()) {
            return ReserveResult::WarnNull;
        }
        let (mut pfn_lo, pfn_hi) = (pfn_lo, pfn_hi);
        let mut overlap = false;

        let mut node = self.tree.values().next().copied();
        while let Some(id) = node {
            let iova = self.node(id);
            // __is_range_overlap()
            if pfn_lo <= iova.pfn_hi && pfn_hi >= iova.pfn_lo {
                // __adjust_overlap_range(): may lower the node's pfn_lo (its tree position is unchanged,
                // as the request lies above every earlier node).
                let mut adjusted = iova;
                if pfn_lo < adjusted.pfn_lo {
                    adjusted.pfn_lo = pfn_lo;
                    self.tree.remove(&iova.pfn_lo);
                    self.tree.insert(adjusted.pfn_lo, id);
                    self.slab[id] = Some(adjusted);
                }
                if pfn_hi > adjusted.pfn_hi {
                    pfn_lo = adjusted.pfn_hi.wrapping_add(1);
                }
                if pfn_lo >= adjusted.pfn_lo && pfn_hi <= adjusted.pfn_hi {
                    return ReserveResult::Node(adjusted);
                }
                overlap = true;
            } else if overlap {
                break;
            }
            node = self.rb_next(id);
        }

        // __insert_new_range(): the first reserved node or the non-overlapping remainder.
        let id = self.insert_rbtree(Iova { pfn_lo, pfn_hi });
        ReserveResult::Node(self.node(id))
    }

    // ---- the range caches ----

    fn rcache_mut(&mut self, order: u32) -> &mut Rcache {
        assert!(!self.rcaches.is_empty(), "iova rcaches used before iova_domain_init_rcaches() (NULL rcaches)");
        &mut self.rcaches[order as usize]
    }

    fn cpu_index(&self, cpu: u32) -> usize {
        assert!(cpu < self.nr_cpus, "cpu {cpu} is not a possible CPU (nr_cpus {})", self.nr_cpus);
        cpu as usize
    }

    /// models iova_magazine_free_pfns(): frees the pfns to the tree in index order and empties it.
    fn magazine_free_pfns(&mut self, mag: &mut Magazine) {
        for &pfn in &mag.pfns {
            match self.private_find_iova(pfn) {
                Some(id) => self.remove_iova(id),
                None => {
                    self.magazine_free_warns += 1;
                    self.pending_warns += 1;
                }
            }
        }
        mag.pfns.clear();
    }

    /// models __iova_rcache_insert()
    fn iova_rcache_insert_order(&mut self, order: u32, cpu: u32, iova_pfn: u64) -> bool {
        let cpu = self.cpu_index(cpu);
        let rcache = self.rcache_mut(order);
        let cpu_rcache = &mut rcache.cpu_rcaches[cpu];
        if cpu_rcache.loaded.full() {
            if !cpu_rcache.prev.full() {
                std::mem::swap(&mut cpu_rcache.prev, &mut cpu_rcache.loaded);
            } else {
                let full = std::mem::replace(&mut cpu_rcache.loaded, Magazine::alloc());
                rcache.depot_push(full);
                rcache.schedule_work();
            }
        }
        rcache.cpu_rcaches[cpu].loaded.push(iova_pfn);
        true
    }

    /// models iova_rcache_insert()
    fn iova_rcache_insert(&mut self, cpu: u32, pfn: u64, size: u64) -> bool {
        let log_size = order_base_2(size);
        if log_size >= IOVA_RANGE_CACHE_MAX_SIZE {
            return false;
        }
        self.iova_rcache_insert_order(log_size, cpu, pfn)
    }

    /// models __iova_rcache_get(): `limit_pfn` is the largest acceptable start pfn; 0 is a miss.
    fn iova_rcache_get_order(&mut self, order: u32, cpu: u32, limit_pfn: u64) -> u64 {
        let cpu = self.cpu_index(cpu);
        let rcache = self.rcache_mut(order);
        let has_pfn;
        if !rcache.cpu_rcaches[cpu].loaded.empty() {
            has_pfn = true;
        } else if !rcache.cpu_rcaches[cpu].prev.empty() {
            let cpu_rcache = &mut rcache.cpu_rcaches[cpu];
            std::mem::swap(&mut cpu_rcache.prev, &mut cpu_rcache.loaded);
            has_pfn = true;
        } else if !rcache.depot.is_empty() {
            // The empty loaded magazine is freed and replaced by the depot head, even if the pop fails.
            let mag = rcache.depot_pop();
            rcache.cpu_rcaches[cpu].loaded = mag;
            has_pfn = true;
        } else {
            has_pfn = false;
        }
        if has_pfn {
            rcache.cpu_rcaches[cpu].loaded.pop(limit_pfn)
        } else {
            0
        }
    }

    /// models iova_rcache_get(): `limit_pfn` is exclusive.
    fn iova_rcache_get(&mut self, cpu: u32, size: u64, limit_pfn: u64) -> u64 {
        let log_size = order_base_2(size);
        if log_size >= IOVA_RANGE_CACHE_MAX_SIZE {
            return 0;
        }
        self.iova_rcache_get_order(log_size, cpu, limit_pfn.wrapping_sub(size))
    }

    /// models alloc_iova_fast(); 0 on failure. `cpu` is raw_smp_processor_id().
    pub fn alloc_iova_fast(&mut self, cpu: u32, size: u64, limit_pfn: u64, flush_rcache: bool) -> u64 {
        let mut size = size;
        let mut flush_rcache = flush_rcache;
        // Round anything cacheable up to a power of two (the order of the unrounded size still matches
        // when freeing).
        if size < (1 << (IOVA_RANGE_CACHE_MAX_SIZE - 1)) {
            size = roundup_pow_of_two(size);
        }

        let iova_pfn = self.iova_rcache_get(cpu, size, limit_pfn.wrapping_add(1));
        if iova_pfn != 0 {
            return iova_pfn;
        }

        loop {
            if let Some(new_iova) = self.alloc_iova(size, limit_pfn, true) {
                return new_iova.pfn_lo;
            }
            if !flush_rcache {
                return 0;
            }
            // Try replenishing IOVAs by flushing rcache.
            flush_rcache = false;
            for c in 0..self.nr_cpus {
                self.free_cpu_cached_iovas(c);
            }
            self.free_global_cached_iovas();
        }
    }

    /// models free_iova_fast()
    pub fn free_iova_fast(&mut self, cpu: u32, pfn: u64, size: u64) {
        if self.iova_rcache_insert(cpu, pfn, size) {
            return;
        }
        self.free_iova(pfn);
    }

    /// models free_cpu_cached_iovas(): for every order, `loaded` then `prev`; the magazines stay, emptied.
    pub fn free_cpu_cached_iovas(&mut self, cpu: u32) {
        let cpu = self.cpu_index(cpu);
        for order in 0..IOVA_RANGE_CACHE_MAX_SIZE {
            let rcache = self.rcache_mut(order);
            let mut loaded = std::mem::take(&mut rcache.cpu_rcaches[cpu].loaded);
            let mut prev = std::mem::take(&mut rcache.cpu_rcaches[cpu].prev);
            self.magazine_free_pfns(&mut loaded);
            self.magazine_free_pfns(&mut prev);
            let cpu_rcache = &mut self.rcaches[order as usize].cpu_rcaches[cpu];
            cpu_rcache.loaded = loaded;
            cpu_rcache.prev = prev;
        }
    }

    /// models free_global_cached_iovas(): for every order, pop the depot (LIFO) until empty.
    pub fn free_global_cached_iovas(&mut self) {
        for order in 0..IOVA_RANGE_CACHE_MAX_SIZE {
            while !self.rcache_mut(order).depot.is_empty() {
                let mut mag = self.rcache_mut(order).depot_pop();
                self.magazine_free_pfns(&mut mag);
                // iova_magazine_free()
            }
        }
    }

    /// models iova_depot_work_func() of the rcache of `order`.
    fn iova_depot_work_func(&mut self, order: u32) {
        let nr_cpus = self.nr_cpus as usize;
        let rcache = self.rcache_mut(order);
        if rcache.depot.len() > nr_cpus {
            let mut mag = rcache.depot_pop();
            self.magazine_free_pfns(&mut mag);
            self.rcache_mut(order).schedule_work();
        }
    }

    /// One IOVA_DEPOT_DELAY tick: runs iova_depot_work_func() of every rcache (order 0..5) whose delayed
    /// work is pending. The depot push in the insert path sets pending (schedule_delayed_work() does not
    /// re-arm an already pending work); the work re-schedules itself for the next tick when it trimmed.
    /// num_online_cpus() == nr_cpus. Nothing happens before init_rcaches().
    pub fn depot_work_tick(&mut self) {
        for order in 0..self.rcaches.len() as u32 {
            if self.rcaches[order as usize].work_pending {
                self.rcaches[order as usize].work_pending = false;
                self.iova_depot_work_func(order);
            }
        }
    }

    /// The tree's nodes in ascending order, anchor excluded.
    pub fn nodes(&self) -> Vec<Iova> {
        self.tree.values().filter(|&&id| id != ANCHOR_ID).map(|&id| self.node(id)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D32_LIMIT: u64 = 0xFFFFF;

    fn iova(pfn_lo: u64, pfn_hi: u64) -> Iova {
        Iova { pfn_lo, pfn_hi }
    }

    fn domain(start_pfn: u64, nr_cpus: u32) -> IovaDomain {
        let mut d = IovaDomain::new(4096, start_pfn);
        d.init_rcaches(nr_cpus);
        d
    }

    /// Everything a failed fast path must leave alone.
    fn tree_state(d: &IovaDomain) -> (Vec<Iova>, Iova, Iova, u64) {
        (d.nodes(), d.cached_node(), d.cached32_node(), d.max32_alloc_size())
    }

    #[test]
    fn helpers_and_init() {
        let d = domain(1, 1);
        assert_eq!(d.granule(), 4096);
        assert_eq!(d.start_pfn(), 1);
        assert_eq!(d.iova_shift(), 12);
        assert_eq!(d.iova_mask(), 0xFFF);
        assert_eq!(d.iova_offset(0x1234_5678), 0x678);
        assert_eq!(d.iova_align(0x1001), 0x2000);
        assert_eq!(d.iova_align(0x2000), 0x2000);
        assert_eq!(d.iova_align(u64::MAX), 0);
        assert_eq!(d.iova_align_down(0x1FFF), 0x1000);
        assert_eq!(d.iova_pfn(0x1234_5678), 0x12345);
        assert_eq!(d.dma_32bit_pfn(), 0x10_0000);
        assert_eq!(d.max32_alloc_size(), 0x10_0000);
        assert_eq!(d.cached_node(), iova(IOVA_ANCHOR, IOVA_ANCHOR));
        assert_eq!(d.cached32_node(), iova(IOVA_ANCHOR, IOVA_ANCHOR));
        assert_eq!(d.nodes(), vec![]);
        assert_eq!(d.find_iova(u64::MAX), Some(iova(IOVA_ANCHOR, IOVA_ANCHOR)));
        assert_eq!(iova_rcache_range(), 0x20000);

        let small = IovaDomain::new(512, 0);
        assert_eq!(small.iova_shift(), 9);
        assert_eq!(small.dma_32bit_pfn(), 0x80_0000);
        assert_eq!(small.iova_align(0x201), 0x400);

        assert_eq!([0, 1, 2, 3, 4, 5, 17, 32, 33].map(order_base_2), [0, 0, 1, 2, 2, 3, 5, 5, 6]);
        assert_eq!([0, 1, 3, 5, 17, 31].map(roundup_pow_of_two), [1, 1, 4, 8, 32, 32]);
        assert_eq!([0, 1, 2, 3, 32, 33].map(fls_long), [0, 1, 2, 2, 6, 6]);
    }

    #[test]
    #[should_panic]
    fn granule_above_page_size_is_bug() {
        IovaDomain::new(8192, 0);
    }

    /// §1.4: next-fit downward; the 1-page hole at 0xFFFFE is skipped.
    #[test]
    fn spec_1_4_example() {
        let mut d = domain(1, 1);
        assert_eq!(d.alloc_iova(1, D32_LIMIT, true), Some(iova(0xFFFFF, 0xFFFFF)));
        assert_eq!(d.alloc_iova(2, D32_LIMIT, true), Some(iova(0xFFFFC, 0xFFFFD)));
        assert_eq!(d.alloc_iova(1, D32_LIMIT, true), Some(iova(0xFFFFB, 0xFFFFB)));
        assert_eq!(d.cached32_node(), iova(0xFFFFB, 0xFFFFB));
        assert_eq!(d.cached_node(), iova(IOVA_ANCHOR, IOVA_ANCHOR));
        assert_eq!(d.find_iova(0xFFFFE), None);
        assert_eq!(d.find_iova(0xFFFFD), Some(iova(0xFFFFC, 0xFFFFD)));

        // The same through the fast path (empty rcaches).
        let mut f = domain(1, 1);
        assert_eq!(f.alloc_iova_fast(0, 1, D32_LIMIT, true), 0xFFFFF);
        assert_eq!(f.alloc_iova_fast(0, 2, D32_LIMIT, true), 0xFFFFC);
        assert_eq!(f.alloc_iova_fast(0, 1, D32_LIMIT, true), 0xFFFFB);
        assert_eq!(f.nodes(), d.nodes());
    }

    #[test]
    fn alignment() {
        let cases = [
            // (size, aligned, expected node)
            (3, true, iova(0xFFFFC, 0xFFFFE)),
            (3, false, iova(0xFFFFD, 0xFFFFF)),
            (33, true, iova(0xFFFC0, 0xFFFE0)),
            (48, true, iova(0xFFFC0, 0xFFFEF)),
            (64, true, iova(0xFFFC0, 0xFFFFF)),
            (100, true, iova(0xFFF80, 0xFFFE3)),
        ];
        for (size, aligned, want) in cases {
            let mut d = domain(1, 1);
            assert_eq!(d.alloc_iova(size, D32_LIMIT, aligned), Some(want), "size {size}");
        }
        // A 1 GiB request is 1 GiB-aligned.
        let mut d = domain(1, 1);
        assert_eq!(d.alloc_iova(0x40000, 0xFFFF_FFFF, true), Some(iova(0xFFFC_0000, 0xFFFF_FFFF)));
        assert_eq!(d.alloc_iova(0x40000, 0xFFFF_FFFF, true), Some(iova(0xFFF8_0000, 0xFFFB_FFFF)));
        assert_eq!(d.cached_node(), iova(0xFFF8_0000, 0xFFFB_FFFF));

        // alloc_iova_fast(): 1..31 rounded to a power of two, 32 kept, 33+ not rounded but aligned.
        let mut d = domain(1, 1);
        assert_eq!(d.alloc_iova_fast(0, 3, D32_LIMIT, false), 0xFFFFC);
        assert_eq!(d.find_iova(0xFFFFC), Some(iova(0xFFFFC, 0xFFFFF)));
        assert_eq!(d.alloc_iova_fast(0, 17, D32_LIMIT, false), 0xFFFC0);
        assert_eq!(d.find_iova(0xFFFC0), Some(iova(0xFFFC0, 0xFFFDF)));
        assert_eq!(d.alloc_iova_fast(0, 33, D32_LIMIT, false), 0xFFF80);
        assert_eq!(d.find_iova(0xFFF80), Some(iova(0xFFF80, 0xFFFA0)));
        // free_iova_fast() with the unrounded sizes: orders 2 and 5 are cached, order 6 goes to the tree.
        d.free_iova_fast(0, 0xFFFFC, 3);
        d.free_iova_fast(0, 0xFFFC0, 17);
        d.free_iova_fast(0, 0xFFF80, 33);
        assert_eq!(d.rcache_loaded(2, 0), &[0xFFFFC]);
        assert_eq!(d.rcache_loaded(5, 0), &[0xFFFC0]);
        assert_eq!(d.nodes(), vec![iova(0xFFFC0, 0xFFFDF), iova(0xFFFFC, 0xFFFFF)]);
        assert_eq!(d.alloc_iova_fast(0, 4, D32_LIMIT, false), 0xFFFFC);
        assert_eq!(d.alloc_iova_fast(0, 32, D32_LIMIT, false), 0xFFFC0);
    }

    const MIB: u64 = 256; // pages of 4 KiB

    /// §4.1 item 1: the retry pass, on a 1 GiB space with unaligned alloc_iova() from start_pfn 0.
    #[test]
    fn spec_4_1_item_1_retry() {
        let mut d = domain(0, 1);
        let lim = 0x3FFFF;
        assert_eq!(d.alloc_iova(500 * MIB, lim, false), Some(iova(0x20C00, 0x3FFFF)));
        assert_eq!(d.alloc_iova(12 * MIB, lim, false), Some(iova(0x20000, 0x20BFF)));
        assert_eq!(d.alloc_iova(499 * MIB, lim, false), Some(iova(0xD00, 0x1FFFF)));
        d.free_iova(0x20000);
        assert_eq!(d.cached32_node(), iova(0x20C00, 0x3FFFF));
        assert_eq!(d.alloc_iova(13 * MIB, lim, false), Some(iova(0x0, 0xCFF)));
        assert_eq!(d.cached32_node(), iova(0x0, 0xCFF));
        // The first pass finds nothing below pfn 0; the retry searches (0xCFF, 0x40000) from the top.
        assert_eq!(d.alloc_iova(2 * MIB, lim, false), Some(iova(0x20A00, 0x20BFF)));
        assert_eq!(d.max32_alloc_size(), 0x10_0000);
        assert_eq!(
            d.nodes(),
            vec![iova(0, 0xCFF), iova(0xD00, 0x1FFFF), iova(0x20A00, 0x20BFF), iova(0x20C00, 0x3FFFF)]
        );

        // With start_pfn 1 the 13 MiB request fails (after the retry), and 2 MiB fits in the first pass.
        let mut d = domain(1, 1);
        d.alloc_iova(500 * MIB, lim, false).unwrap();
        d.alloc_iova(12 * MIB, lim, false).unwrap();
        d.alloc_iova(499 * MIB, lim, false).unwrap();
        d.free_iova(0x20000);
        assert_eq!(d.alloc_iova(13 * MIB, lim, false), None);
        assert_eq!(d.max32_alloc_size(), 13 * MIB);
        assert_eq!(d.cached32_node(), iova(0x20C00, 0x3FFFF));
        assert_eq!(d.alloc_iova(2 * MIB, lim, false), Some(iova(0x20A00, 0x20BFF)));

        // Size-aligned (the dma-iommu path): the 499 MiB request already fails.
        let mut d = domain(0, 1);
        assert_eq!(d.alloc_iova(500 * MIB, lim, true), Some(iova(0x20000, 0x3F3FF)));
        assert_eq!(d.alloc_iova(12 * MIB, lim, true), Some(iova(0x1F000, 0x1FBFF)));
        assert_eq!(d.alloc_iova(499 * MIB, lim, true), None);
        assert_eq!(d.max32_alloc_size(), 499 * MIB);
    }

    /// §4.1 item 2: on failure with flush_rcache the depot is flushed too, then one retry.
    #[test]
    fn spec_4_1_item_2_depot_flush_on_failure() {
        let mut d = domain(1, 1);
        let lim = 381; // pfns 1..=381: three magazines' worth
        for i in 0..381 {
            assert_eq!(d.alloc_iova_fast(0, 1, lim, false), 381 - i);
        }
        assert_eq!(d.alloc_iova_fast(0, 1, lim, true), 0);
        assert_eq!(d.max32_alloc_size(), 1);
        for pfn in 1..=381 {
            d.free_iova_fast(0, pfn, 1);
        }
        assert_eq!(d.rcache_prev(0, 0), (1..=127).collect::<Vec<_>>());
        assert_eq!(d.depot(0), vec![(128..=254).collect::<Vec<_>>()]);
        assert_eq!(d.rcache_loaded(0, 0), (255..=381).collect::<Vec<_>>());
        // Empty loaded and prev again: only the depot holds cached pfns.
        for pfn in (255..=381).rev().chain((1..=127).rev()) {
            assert_eq!(d.alloc_iova_fast(0, 1, lim, false), pfn);
        }
        assert_eq!(d.nodes().len(), 381);
        assert_eq!(d.cached32_node(), iova(1, 1));

        // Order 1 has no cache; the tree is full (fail-fast); without flush nothing changes.
        let before = tree_state(&d);
        assert_eq!(d.alloc_iova_fast(0, 2, lim, false), 0);
        assert_eq!(tree_state(&d), before);
        assert_eq!(d.depot(0).len(), 1);

        // With flush: the depot magazine goes back to the tree in index order (128, 129, ... 254),
        // moving cached32_node up to 255, and the retry takes the highest 2-aligned pair below it.
        assert_eq!(d.alloc_iova_fast(0, 2, lim, true), 252);
        assert_eq!(d.find_iova(253), Some(iova(252, 253)));
        assert_eq!(d.depot(0).len(), 0);
        assert_eq!(d.nodes().len(), 381 - 127 + 1);
        assert_eq!(d.find_iova(254), None);
        assert_eq!(d.find_iova(128), None);
        assert_eq!(d.cached32_node(), iova(252, 253));
        assert_eq!(d.max32_alloc_size(), 0x10_0000);
        assert_eq!(d.magazine_free_warns(), 0);
    }

    /// §4.1 item 6: any 32-bit free resets max32_alloc_size, even below the cache pointer.
    #[test]
    fn spec_4_1_item_6_free_resets_max32() {
        let mut d = domain(0xFFFF0, 1);
        for i in 0..16 {
            assert_eq!(d.alloc_iova(1, D32_LIMIT, true), Some(iova(0xFFFFF - i, 0xFFFFF - i)));
        }
        assert_eq!(d.alloc_iova(1, D32_LIMIT, true), None);
        assert_eq!(d.max32_alloc_size(), 1);
        // Free above the cache pointer: rule 1 moves cached32 to the successor.
        d.free_iova(0xFFFFC);
        assert_eq!(d.max32_alloc_size(), 0x10_0000);
        assert_eq!(d.cached32_node(), iova(0xFFFFD, 0xFFFFD));
        assert_eq!(d.alloc_iova(1, D32_LIMIT, true), Some(iova(0xFFFFC, 0xFFFFC)));
        assert_eq!(d.alloc_iova(1, D32_LIMIT, true), None);
        assert_eq!(d.max32_alloc_size(), 1);
        assert_eq!(d.cached32_node(), iova(0xFFFFC, 0xFFFFC));
        // Free below the cache pointer: rule 1 does not fire, rule 2 still resets max32_alloc_size.
        d.free_iova(0xFFFF3);
        assert_eq!(d.cached32_node(), iova(0xFFFFC, 0xFFFFC));
        assert_eq!(d.max32_alloc_size(), 0x10_0000);
        assert_eq!(d.alloc_iova(1, D32_LIMIT, true), Some(iova(0xFFFF3, 0xFFFF3)));
    }

    /// §4.1 item 8: the retry never goes below start_pfn or above the domain.
    #[test]
    fn spec_4_1_item_8_no_overflow() {
        let (start, lim) = (0x1F_0000, 0x1F_09FF);
        let mut d = domain(start, 1);
        assert_eq!(d.alloc_iova_fast(0, 0xB00, lim, true), 0);
        assert_eq!(d.alloc_iova(0xB00, lim, false), None);
        assert_eq!(d.nodes(), vec![]);
        // The failure store is unconditional, even for a limit above 32 bits.
        assert_eq!(d.max32_alloc_size(), 0xB00);
        assert_eq!(d.cached_node(), iova(IOVA_ANCHOR, IOVA_ANCHOR));

        assert_eq!(d.alloc_iova(0x400, lim, true), Some(iova(0x1F_0400, 0x1F_07FF)));
        d.free_iova(0x1F_0400);
        assert_eq!(d.alloc_iova(0x400, lim, false), Some(iova(0x1F_0600, 0x1F_09FF)));
        assert_eq!(d.alloc_iova(0x400, lim, false), Some(iova(0x1F_0200, 0x1F_05FF)));
        assert_eq!(d.cached_node(), iova(0x1F_0200, 0x1F_05FF));
        // Freeing the top-most node returns the cache pointer to the anchor.
        d.free_iova(0x1F_0700);
        assert_eq!(d.cached_node(), iova(IOVA_ANCHOR, IOVA_ANCHOR));
        assert_eq!(d.max32_alloc_size(), 0xB00);
        // 0x600 pages remain (0x200 + 0x400): 0x500 fails (retry_pfn is ~0, so no retry).
        assert_eq!(d.alloc_iova(0x500, lim, false), None);
        assert_eq!(d.max32_alloc_size(), 0x500);
        assert_eq!(d.nodes(), vec![iova(0x1F_0200, 0x1F_05FF)]);
        assert_eq!(d.alloc_iova(0x400, lim, false), Some(iova(0x1F_0600, 0x1F_09FF)));
        assert_eq!(d.alloc_iova(0x200, lim, false), Some(iova(0x1F_0000, 0x1F_01FF)));
        assert_eq!(d.alloc_iova(1, lim, false), None);
    }

    fn p(i: u64) -> u64 {
        0x10_0000 - i
    }

    /// §4.1 item 9: `loaded` is swapped into `prev` at free 128, then a depot push every 127 frees.
    #[test]
    fn spec_4_1_item_9_spill_points() {
        let mut d = domain(1, 1);
        for i in 1..=509 {
            assert_eq!(d.alloc_iova_fast(0, 1, D32_LIMIT, false), p(i));
        }
        for k in 1..=509u64 {
            d.free_iova_fast(0, p(k), 1);
            let loaded = if k <= 127 { k } else { (k - 128) % 127 + 1 };
            let prev = if k < 128 { 0 } else { 127 };
            let depot = if k < 255 { 0 } else { (k - 128) / 127 };
            assert_eq!(d.rcache_loaded(0, 0).len() as u64, loaded, "free {k}");
            assert_eq!(d.rcache_prev(0, 0).len() as u64, prev, "free {k}");
            assert_eq!(d.depot(0).len() as u64, depot, "free {k}");
            assert_eq!(d.depot_work_pending(0), k >= 255, "free {k}");
        }
        assert_eq!(d.rcache_prev(0, 0), (1..=127).map(p).collect::<Vec<_>>());
        assert_eq!(d.rcache_loaded(0, 0), &[p(509)]);
        let depot: Vec<Vec<u64>> = [382, 255, 128].iter().map(|&s| (s..s + 127).map(p).collect()).collect();
        assert_eq!(d.depot(0), depot);
        // Cached pfns stay in the tree.
        assert_eq!(d.nodes().len(), 509);
        assert_eq!(d.cached32_node(), iova(p(509), p(509)));

        // Depot trimming with one CPU: one magazine (the head) per tick while depot_size > 1.
        d.depot_work_tick();
        assert_eq!(d.depot(0).len(), 2);
        assert!(d.depot_work_pending(0));
        assert_eq!(d.nodes().len(), 509 - 127);
        assert_eq!(d.find_iova(p(382)), None);
        // Freeing p382 first moved cached32 to its successor p381; the lower pfns did not move it.
        assert_eq!(d.cached32_node(), iova(p(381), p(381)));
        d.depot_work_tick();
        assert_eq!(d.depot(0), vec![(128..255).map(p).collect::<Vec<_>>()]);
        assert_eq!(d.nodes().len(), 509 - 254);
        assert_eq!(d.cached32_node(), iova(p(254), p(254)));
        assert!(d.depot_work_pending(0));
        d.depot_work_tick();
        assert_eq!(d.depot(0).len(), 1);
        assert!(!d.depot_work_pending(0));
        d.depot_work_tick();
        assert_eq!(d.depot(0).len(), 1);
        // The tree refills the hole just below the cache pointer.
        assert_eq!(d.alloc_iova(1, D32_LIMIT, true), Some(iova(p(255), p(255))));
        assert_eq!(d.magazine_free_warns(), 0);
    }

    /// Depot trimming compares with num_online_cpus().
    #[test]
    fn depot_trim_keeps_nr_cpus_magazines() {
        let mut d = domain(1, 2);
        for i in 1..=509 {
            assert_eq!(d.alloc_iova_fast(1, 1, D32_LIMIT, false), p(i));
        }
        for k in 1..=509 {
            d.free_iova_fast(1, p(k), 1);
        }
        assert_eq!(d.depot(0).len(), 3);
        d.depot_work_tick();
        assert_eq!(d.depot(0).len(), 2);
        assert!(d.depot_work_pending(0));
        d.depot_work_tick();
        assert_eq!(d.depot(0).len(), 2);
        assert!(!d.depot_work_pending(0));
        assert_eq!(d.nodes().len(), 509 - 127);
        // The trimmed magazine was the head, p382..p508.
        assert_eq!(d.find_iova(p(382)), None);
        assert_eq!(d.find_iova(p(508)), None);
        assert_eq!(d.find_iova(p(381)), Some(iova(p(381), p(381))));
    }

    /// §2.5: a 255-entry FIFO drain into the rcache comes back p255, p127 .. p1, p254 .. p128.
    #[test]
    fn spec_2_5_fifo_drain_lifo_return() {
        let mut d = domain(1, 1);
        for i in 1..=255 {
            assert_eq!(d.alloc_iova_fast(0, 1, D32_LIMIT, true), p(i));
        }
        for i in 1..=255 {
            d.free_iova_fast(0, p(i), 1);
        }
        assert_eq!(d.rcache_loaded(0, 0), &[p(255)]);
        assert_eq!(d.rcache_prev(0, 0), (1..=127).map(p).collect::<Vec<_>>());
        assert_eq!(d.depot(0), vec![(128..=254).map(p).collect::<Vec<_>>()]);
        let want: Vec<u64> = [255].into_iter().chain((1..=127).rev()).chain((128..=254).rev()).map(p).collect();
        let got: Vec<u64> = (0..255).map(|_| d.alloc_iova_fast(0, 1, D32_LIMIT, true)).collect();
        assert_eq!(got, want);
        assert_eq!(d.depot(0).len(), 0);
        assert_eq!(d.nodes().len(), 255);
        // Now the rcache is empty and the next pfn comes from the tree.
        assert_eq!(d.alloc_iova_fast(0, 1, D32_LIMIT, true), p(256));
    }

    /// The magazine pop scans down from the top for a pfn <= L - size and swap-removes it.
    #[test]
    fn rcache_pop_swap_remove_with_limit() {
        let mut d = domain(1, 1);
        let (a, b) = (d.alloc_iova_fast(0, 1, D32_LIMIT, true), d.alloc_iova_fast(0, 1, D32_LIMIT, true));
        let (c, e) = (d.alloc_iova_fast(0, 1, 0x1F_FFFF, true), d.alloc_iova_fast(0, 1, 0x1F_FFFF, true));
        assert_eq!([a, b, c, e], [0xFFFFF, 0xFFFFE, 0x1F_FFFF, 0x1F_FFFE]);
        for pfn in [a, c, b, e] {
            d.free_iova_fast(0, pfn, 1);
        }
        assert_eq!(d.rcache_loaded(0, 0), &[a, c, b, e]);
        assert_eq!(d.alloc_iova_fast(0, 1, D32_LIMIT, true), b);
        assert_eq!(d.rcache_loaded(0, 0), &[a, c, e]);
        assert_eq!(d.alloc_iova_fast(0, 1, D32_LIMIT, true), a);
        assert_eq!(d.rcache_loaded(0, 0), &[e, c]);
        // Nothing fits: the magazine stays as it is and the tree allocates below cached32 (b).
        assert_eq!(d.alloc_iova_fast(0, 1, D32_LIMIT, true), 0xFFFFD);
        assert_eq!(d.rcache_loaded(0, 0), &[e, c]);
        assert_eq!(d.alloc_iova_fast(0, 1, u64::MAX >> 12, true), c);
        assert_eq!(d.rcache_loaded(0, 0), &[e]);

        // The limit is L - size: a 2-page entry at 0xFFFFE fits a limit of 0xFFFFF, not 0xFFFFE.
        let mut d = domain(1, 1);
        assert_eq!(d.alloc_iova_fast(0, 2, D32_LIMIT, true), 0xFFFFE);
        d.free_iova_fast(0, 0xFFFFE, 2);
        assert_eq!(d.alloc_iova_fast(0, 2, 0xFFFFE, true), 0xFFFFC);
        assert_eq!(d.rcache_loaded(1, 0), &[0xFFFFE]);
        assert_eq!(d.alloc_iova_fast(0, 2, D32_LIMIT, true), 0xFFFFE);
    }

    /// The prev/loaded swap and the depot pop stay in effect when the pop then fails the limit.
    #[test]
    fn rcache_get_state_changes_survive_a_miss() {
        let mut d = domain(1, 1);
        let hi = d.alloc_iova_fast(0, 1, 0x1F_FFFF, true);
        assert_eq!(hi, 0x1F_FFFF);
        for i in 1..=127 {
            assert_eq!(d.alloc_iova_fast(0, 1, 0x1F_FFFF, true), 0x1F_FFFF - i);
        }
        // Free 128 pfns: the first 127 end in prev, the last one in loaded.
        for i in 0..=127 {
            d.free_iova_fast(0, 0x1F_FFFF - i, 1);
        }
        assert_eq!(d.rcache_loaded(0, 0), &[0x1F_FF80]);
        assert_eq!(d.alloc_iova_fast(0, 1, 0x1F_FFFF, true), 0x1F_FF80);
        assert_eq!(d.rcache_loaded(0, 0), &[] as &[u64]);
        assert_eq!(d.rcache_prev(0, 0).len(), 127);
        // A 32-bit request: swap, the pop fails, the tree allocates; the swap stays.
        assert_eq!(d.alloc_iova_fast(0, 1, D32_LIMIT, true), 0xFFFFF);
        assert_eq!(d.rcache_loaded(0, 0).len(), 127);
        assert_eq!(d.rcache_prev(0, 0), &[] as &[u64]);

        // The depot pop: loaded and prev empty, a depot magazine none of whose pfns fit.
        let mut d = domain(1, 1);
        for i in 1..=255 {
            assert_eq!(d.alloc_iova_fast(0, 1, D32_LIMIT, true), p(i));
        }
        for i in 1..=255 {
            d.free_iova_fast(0, p(i), 1);
        }
        for _ in 0..128 {
            d.alloc_iova_fast(0, 1, D32_LIMIT, true);
        }
        assert_eq!(d.depot(0).len(), 1);
        // p128..p254 are 0xFFF80..0xFFF02: a limit of 0xFFF00 takes none of them.
        assert_eq!(d.alloc_iova_fast(0, 1, 0xFFF00, true), 0xFFF00);
        assert_eq!(d.depot(0).len(), 0);
        assert_eq!(d.rcache_loaded(0, 0), (128..=254).map(p).collect::<Vec<_>>());
        assert_eq!(d.alloc_iova_fast(0, 1, D32_LIMIT, true), p(254));
    }

    /// The rcache is consulted before the fail-fast test; a failed fast path changes nothing.
    #[test]
    fn fail_fast_after_rcache_and_no_state_change() {
        let mut d = domain(0xFFFF0, 1);
        for i in 0..16 {
            assert_eq!(d.alloc_iova_fast(0, 1, D32_LIMIT, true), 0xFFFFF - i);
        }
        assert_eq!(d.alloc_iova_fast(0, 1, D32_LIMIT, false), 0);
        assert_eq!(d.max32_alloc_size(), 1);
        d.free_iova_fast(0, 0xFFFF5, 1);
        // Into the rcache, not the tree: max32_alloc_size stays 1.
        assert_eq!(d.max32_alloc_size(), 1);
        assert_eq!(d.alloc_iova_fast(0, 1, D32_LIMIT, false), 0xFFFF5);
        let before = tree_state(&d);
        assert_eq!(d.alloc_iova_fast(0, 1, D32_LIMIT, true), 0);
        assert_eq!(d.alloc_iova(8, D32_LIMIT, true), None);
        assert_eq!(tree_state(&d), before);
        // The fail-fast test applies only when the exclusive limit is <= dma_32bit_pfn.
        assert_eq!(d.alloc_iova(1, 0x10_0000, true), Some(iova(0x10_0000, 0x10_0000)));
        assert_eq!(d.cached_node(), iova(0x10_0000, 0x10_0000));
        assert_eq!(d.max32_alloc_size(), 1);
    }

    /// __cached_rbnode_delete_update(): the successor may be a reserved node or the anchor.
    #[test]
    fn cached_node_delete_rules() {
        let mut d = domain(1, 1);
        assert_eq!(d.reserve_iova(0xFFF00, 0xFFFFF), ReserveResult::Node(iova(0xFFF00, 0xFFFFF)));
        assert_eq!(d.cached32_node(), iova(IOVA_ANCHOR, IOVA_ANCHOR));
        assert_eq!(d.alloc_iova(1, D32_LIMIT, true), Some(iova(0xFFEFF, 0xFFEFF)));
        // Rule 1 (free == cached32): the successor is the reserved node.
        d.free_iova(0xFFEFF);
        assert_eq!(d.cached32_node(), iova(0xFFF00, 0xFFFFF));
        assert_eq!(d.alloc_iova(1, D32_LIMIT, true), Some(iova(0xFFEFF, 0xFFEFF)));
        // Freeing the reserved node: rule 1 (above cached32) moves cached32 to the anchor.
        d.free_iova(0xFFF80);
        assert_eq!(d.cached32_node(), iova(IOVA_ANCHOR, IOVA_ANCHOR));
        assert_eq!(d.alloc_iova(1, D32_LIMIT, true), Some(iova(0xFFFFF, 0xFFFFF)));
        assert_eq!(d.nodes(), vec![iova(0xFFEFF, 0xFFEFF), iova(0xFFFFF, 0xFFFFF)]);

        // Rule 3 on 64-bit nodes: n1 > n2 > n3 > n4 = cached_node.
        let mut d = domain(1, 1);
        let lim = 0x1F_FFFF;
        let n: Vec<u64> = (0..4).map(|_| d.alloc_iova(1, lim, true).unwrap().pfn_lo).collect();
        assert_eq!(n, [0x1F_FFFF, 0x1F_FFFE, 0x1F_FFFD, 0x1F_FFFC]);
        assert_eq!(d.cached_node(), iova(0x1F_FFFC, 0x1F_FFFC));
        assert_eq!(d.cached32_node(), iova(IOVA_ANCHOR, IOVA_ANCHOR));
        d.free_iova(n[2]);
        assert_eq!(d.cached_node(), iova(n[1], n[1]));
        // Below cached_node: no move; 64-bit frees never touch cached32 or max32_alloc_size.
        d.free_iova(n[3]);
        assert_eq!(d.cached_node(), iova(n[1], n[1]));
        assert_eq!(d.cached32_node(), iova(IOVA_ANCHOR, IOVA_ANCHOR));
        assert_eq!(d.alloc_iova(1, lim, true), Some(iova(n[2], n[2])));
        assert_eq!(d.alloc_iova(1, lim, true), Some(iova(n[3], n[3])));
        // Freeing the top node when cached_node is below it: the anchor becomes the cache.
        d.free_iova(n[0]);
        assert_eq!(d.cached_node(), iova(IOVA_ANCHOR, IOVA_ANCHOR));
        // With cached_node at the anchor, rule 3 never fires.
        d.free_iova(n[3]);
        assert_eq!(d.cached_node(), iova(IOVA_ANCHOR, IOVA_ANCHOR));
        assert_eq!(d.alloc_iova(1, lim, true), Some(iova(n[0], n[0])));

        // Freeing the highest 32-bit node can leave cached32 on a 64-bit node.
        let mut d = domain(1, 1);
        d.alloc_iova(1, lim, true).unwrap();
        let low = d.alloc_iova(1, D32_LIMIT, true).unwrap();
        assert_eq!(low, iova(0xFFFFF, 0xFFFFF));
        d.free_iova(0xFFFFF);
        assert_eq!(d.cached32_node(), iova(0x1F_FFFF, 0x1F_FFFF));
        assert_eq!(d.alloc_iova(1, D32_LIMIT, true), Some(iova(0xFFFFF, 0xFFFFF)));

        // A missing pfn is ignored.
        let before = tree_state(&d);
        d.free_iova(0x1234);
        assert_eq!(tree_state(&d), before);
    }

    #[test]
    fn reserve_iova_merging_and_extension() {
        let mut d = domain(1, 1);
        assert_eq!(d.reserve_iova(10, 20), ReserveResult::Node(iova(10, 20)));
        assert_eq!(d.reserve_iova(15, 18), ReserveResult::Node(iova(10, 20)));
        assert_eq!(d.reserve_iova(5, 12), ReserveResult::Node(iova(5, 20)));
        assert_eq!(d.nodes(), vec![iova(5, 20)]);
        assert_eq!(d.reserve_iova(25, 30), ReserveResult::Node(iova(25, 30)));
        assert_eq!(d.reserve_iova(3, 40), ReserveResult::Node(iova(31, 40)));
        assert_eq!(d.nodes(), vec![iova(3, 20), iova(21, 30), iova(31, 40)]);
        // Extending upward only: the remainder becomes a new node.
        assert_eq!(d.reserve_iova(35, 45), ReserveResult::Node(iova(41, 45)));
        assert_eq!(d.reserve_iova(50, 50), ReserveResult::Node(iova(50, 50)));
        assert_eq!(d.nodes(), vec![iova(3, 20), iova(21, 30), iova(31, 40), iova(41, 45), iova(50, 50)]);
        assert_eq!(d.cached32_node(), iova(IOVA_ANCHOR, IOVA_ANCHOR));

        // The pfn check: ULLONG_MAX >> iova_shift.
        assert_eq!(d.reserve_iova(0, 0x10_0000_0000_0000), ReserveResult::WarnNull);
        assert_eq!(d.reserve_iova(0x10_0000_0000_0000, 0), ReserveResult::WarnNull);
        assert_eq!(
            d.reserve_iova(0xF_FFFF_FFFF_FFFF, 0xF_FFFF_FFFF_FFFF),
            ReserveResult::Node(iova(!0 >> 12, !0 >> 12))
        );

        // An allocated node (here the cached32 node) has its pfn_lo lowered and keeps its identity.
        let mut d = domain(1, 1);
        assert_eq!(d.alloc_iova(1, D32_LIMIT, true), Some(iova(0xFFFFF, 0xFFFFF)));
        assert_eq!(d.reserve_iova(0xFFFF0, 0xFFFFF), ReserveResult::Node(iova(0xFFFF0, 0xFFFFF)));
        assert_eq!(d.nodes(), vec![iova(0xFFFF0, 0xFFFFF)]);
        assert_eq!(d.cached32_node(), iova(0xFFFF0, 0xFFFFF));
        assert_eq!(d.alloc_iova(1, D32_LIMIT, true), Some(iova(0xFFFEF, 0xFFFEF)));
        // Freeing any pfn of it removes the whole node; it lies above cached32, so cached32 -> anchor.
        d.free_iova(0xFFFF5);
        assert_eq!(d.nodes(), vec![iova(0xFFFEF, 0xFFFEF)]);
        assert_eq!(d.cached32_node(), iova(IOVA_ANCHOR, IOVA_ANCHOR));
        assert_eq!(d.alloc_iova(1, D32_LIMIT, true), Some(iova(0xFFFFF, 0xFFFFF)));

        // Reservations below start_pfn and allocation around them.
        let mut d = domain(1, 1);
        assert_eq!(d.reserve_iova(0x8_0000, 0xF_FFFF), ReserveResult::Node(iova(0x8_0000, 0xF_FFFF)));
        assert_eq!(d.alloc_iova(4, D32_LIMIT, true), Some(iova(0x7_FFFC, 0x7_FFFF)));
    }

    /// Per-CPU caches: a pfn freed on CPU 1 is invisible to CPU 0 until a failure flush, which frees
    /// every CPU's loaded and prev (CPU order) and then the depot.
    #[test]
    fn per_cpu_rcaches_and_flush() {
        let mut d = domain(0xFFFFE, 2);
        assert_eq!(d.alloc_iova_fast(0, 1, D32_LIMIT, true), 0xFFFFF);
        assert_eq!(d.alloc_iova_fast(0, 1, D32_LIMIT, true), 0xFFFFE);
        d.free_iova_fast(1, 0xFFFFF, 1);
        assert_eq!(d.rcache_loaded(0, 1), &[0xFFFFF]);
        // CPU 0 misses; the tree is full; the flush returns 0xFFFFF to the tree and the retry takes it.
        assert_eq!(d.alloc_iova_fast(0, 1, D32_LIMIT, false), 0);
        assert_eq!(d.alloc_iova_fast(0, 1, D32_LIMIT, true), 0xFFFFF);
        assert_eq!(d.rcache_loaded(0, 1), &[] as &[u64]);

        // free_cpu_cached_iovas() (the hotplug path) only empties that CPU's magazines.
        d.free_iova_fast(0, 0xFFFFF, 1);
        d.free_iova_fast(1, 0xFFFFE, 1);
        d.free_cpu_cached_iovas(1);
        assert_eq!(d.rcache_loaded(0, 0), &[0xFFFFF]);
        assert_eq!(d.nodes(), vec![iova(0xFFFFF, 0xFFFFF)]);
        assert_eq!(d.cached32_node(), iova(0xFFFFF, 0xFFFFF));
        d.free_global_cached_iovas();
        assert_eq!(d.nodes(), vec![iova(0xFFFFF, 0xFFFFF)]);
        d.free_cpu_cached_iovas(0);
        assert_eq!(d.nodes(), vec![]);
        assert_eq!(d.cached32_node(), iova(IOVA_ANCHOR, IOVA_ANCHOR));

        // A cached pfn freed again meanwhile: the flush WARNs and skips it.
        d.alloc_iova_fast(0, 1, D32_LIMIT, true);
        d.free_iova_fast(0, 0xFFFFF, 1);
        d.free_iova(0xFFFFF);
        d.free_cpu_cached_iovas(0);
        assert_eq!(d.magazine_free_warns(), 1);
    }
    /// A tiny xorshift generator: the randomized cross-check is deterministic.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// The allocation result per spec §1.4's semantic summary, computed over a plain sorted vector:
    /// the highest aligned fit below the cached node, else (first pass only, cached.pfn_hi < L) the
    /// highest aligned fit in (cached.pfn_hi, L) from the top. Returns (pfn, new max32_alloc_size).
    fn reference_alloc(d: &IovaDomain, size: u64, limit_pfn: u64, aligned: bool) -> (Option<u64>, u64) {
        let d32 = d.dma_32bit_pfn();
        if limit_pfn <= d32 && size >= d.max32_alloc_size() {
            return (None, d.max32_alloc_size());
        }
        let mask = if aligned { !0u64 << fls_long(size - 1) } else { !0 };
        let mut all = d.nodes();
        all.push(d.find_iova(IOVA_ANCHOR).unwrap());
        let pass = |ceiling: u64, low: u64| -> Option<u64> {
            let mut high = limit_pfn.min(ceiling);
            for n in all.iter().rev().filter(|n| n.pfn_lo < ceiling) {
                let cand = high.wrapping_sub(size) & mask;
                if high < size || cand < low {
                    return None;
                }
                if cand > n.pfn_hi {
                    return Some(cand);
                }
                high = high.min(n.pfn_lo);
            }
            let cand = high.wrapping_sub(size) & mask;
            (high >= size && cand >= low).then_some(cand)
        };
        let c = if limit_pfn <= d32 { d.cached32_node() } else { d.cached_node() };
        if let Some(pfn) = pass(c.pfn_lo, d.start_pfn()) {
            return (Some(pfn), d.max32_alloc_size());
        }
        if c.pfn_hi < limit_pfn {
            if let Some(pfn) = pass(IOVA_ANCHOR, c.pfn_hi + 1) {
                return (Some(pfn), d.max32_alloc_size());
            }
        }
        (None, size)
    }

    fn check_invariants(d: &IovaDomain) {
        let nodes = d.nodes();
        for w in nodes.windows(2) {
            assert!(w[0].pfn_hi < w[1].pfn_lo, "overlap {w:?}");
        }
        for n in &nodes {
            assert!(n.pfn_lo <= n.pfn_hi);
            assert_eq!(d.find_iova(n.pfn_lo), Some(*n));
            assert_eq!(d.find_iova(n.pfn_hi), Some(*n));
        }
        for c in [d.cached_node(), d.cached32_node()] {
            assert_eq!(d.find_iova(c.pfn_lo), Some(c), "cached node not in the tree");
        }
    }

    #[test]
    fn randomized_cross_check() {
        let limits = [0xFFEFF, D32_LIMIT, 0x10_01FF];
        for seed in 1..=12u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let mut d = domain(0xFFC00 + rng.below(0x100), 2);
            // (pfn, size, from alloc_iova_fast()): direct alloc_iova() results go back through free_iova() only.
            let mut live: Vec<(u64, u64, bool)> = Vec::new();
            for _ in 0..2000 {
                let limit = limits[rng.below(3) as usize];
                match rng.below(100) {
                    0..=39 => {
                        let cpu = rng.below(2) as u32;
                        let span = if rng.below(4) == 0 { 80 } else { 8 };
                        let size = 1 + rng.below(span);
                        let pfn = d.alloc_iova_fast(cpu, size, limit, rng.below(2) == 0);
                        if pfn != 0 {
                            // A reservation may have lowered the pfn_lo of a cached node: pfn_lo <= pfn.
                            let n = d.find_iova(pfn).expect("allocated pfn is a node");
                            let rounded = if size < 32 { roundup_pow_of_two(size) } else { size };
                            assert!(n.pfn_lo <= pfn && n.pfn_hi == pfn + rounded - 1);
                            assert!(n.pfn_hi <= limit && pfn >= d.start_pfn());
                            assert_eq!(pfn % roundup_pow_of_two(rounded), 0);
                            live.push((pfn, size, true));
                        }
                    }
                    40..=54 => {
                        let size = 1 + rng.below(40);
                        let aligned = rng.below(2) == 0;
                        let (want, max32) = reference_alloc(&d, size, limit + 1, aligned);
                        let got = d.alloc_iova(size, limit, aligned);
                        assert_eq!(got.map(|n| n.pfn_lo), want, "seed {seed}");
                        assert_eq!(d.max32_alloc_size(), max32);
                        if let Some(n) = got {
                            assert_eq!(n.size(), size);
                            live.push((n.pfn_lo, size, false));
                        }
                    }
                    55..=84 if !live.is_empty() => {
                        let (pfn, size, fast) = live.swap_remove(rng.below(live.len() as u64) as usize);
                        if fast {
                            d.free_iova_fast(rng.below(2) as u32, pfn, size);
                        } else {
                            d.free_iova(pfn);
                        }
                    }
                    85..=89 if !live.is_empty() => {
                        let (pfn, _, _) = live.swap_remove(rng.below(live.len() as u64) as usize);
                        d.free_iova(pfn);
                    }
                    90..=91 => {
                        let lo = 0xFFB00 + rng.below(0x800);
                        let _ = d.reserve_iova(lo, lo + rng.below(4));
                    }
                    92..=96 => d.depot_work_tick(),
                    97 => d.free_cpu_cached_iovas(rng.below(2) as u32),
                    98 => d.free_global_cached_iovas(),
                    _ => {}
                }
                check_invariants(&d);
            }
        }
    }
}
