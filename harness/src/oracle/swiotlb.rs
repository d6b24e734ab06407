//! swiotlb invariants, checked on each side on its own through a read-only view of its
//! allocator state (swiotlb.md §3 and the swiotlb issue's list):
//! - the free-list counters are what a recount from the allocated slots gives, and each
//!   area's `used` is its number of allocated slots;
//! - a bounced mapping keeps the min_align_mask bits of its original address and lies inside
//!   the pool and inside one 128-slot segment;
//! - once every mapping is unmapped, no slot is left allocated.

use crate::backend::Backend;
use crate::phys::swiotlb::{IO_TLB_SEGSIZE, IO_TLB_SHIFT};

/// The read-only views of one side's allocator: the FFI wrapper defines them, and the Rust
/// mapper fills the same structs, so the checks below read both sides alike.
pub use dmadiff_cref::{AreaInfo, PoolInfo, SlotInfo};

/// Bytes in one 128-slot segment.
const SEGMENT_BYTES: u64 = IO_TLB_SEGSIZE << IO_TLB_SHIFT;

/// The list counters and `used` counts agree with the allocated slots (list == 0). Only
/// touched segments are walked: untouched ones are in their initial, consistent state.
pub fn check_free_lists(be: &dyn Backend) -> Vec<String> {
    let Some(pool) = be.swiotlb_pool() else { return Vec::new() };
    let mut out = Vec::new();
    let mut used_by_area = vec![0u64; pool.nareas as usize];
    for seg in be.swiotlb_touched_segments() {
        let base = seg * IO_TLB_SEGSIZE;
        let end = (base + IO_TLB_SEGSIZE).min(pool.nslabs);
        let mut next = 0u32;
        for i in (base..end).rev() {
            let list = be.swiotlb_slot(i).list;
            let want = if list == 0 { 0 } else { next + 1 };
            if list != want && out.len() < 4 {
                out.push(format!(
                    "swiotlb slot {i}: list is {list}, a recount of the free slots after it gives {want}"
                ));
            }
            next = list;
            if list == 0 && pool.area_nslabs != 0 && i / pool.area_nslabs < pool.nareas as u64 {
                used_by_area[(i / pool.area_nslabs) as usize] += 1;
            }
        }
    }
    for (a, counted) in used_by_area.iter().enumerate() {
        let used = be.swiotlb_area(a as u32).used;
        if used != *counted {
            out.push(format!("swiotlb area {a}: used is {used}, but {counted} slot(s) of it are allocated"));
        }
    }
    out
}

/// A mapping that landed in the pool keeps the min_align bits (on the bus address, as the
/// search matches them; none to keep for orig_addr 0, §4) and stays in one segment.
pub fn check_bounced(be: &dyn Backend, orig: u64, tlb: u64, dma: u64, size: u64, min_align_mask: u32) -> Vec<String> {
    let Some(pool) = be.swiotlb_pool() else { return Vec::new() };
    if tlb < pool.start || tlb >= pool.end {
        return Vec::new();
    }
    let mut out = Vec::new();
    let m = min_align_mask as u64;
    if orig != 0 && dma & m != orig & m {
        out.push(format!(
            "bounce buffer {tlb:#x} (bus {dma:#x}) does not keep the min_align_mask {m:#x} bits of {orig:#x}"
        ));
    }
    let last = tlb + size.max(1) - 1;
    if last >= pool.end {
        out.push(format!("bounce buffer {tlb:#x}+{size:#x} runs past the pool end {:#x}", pool.end));
    } else if (tlb - pool.start) / SEGMENT_BYTES != (last - pool.start) / SEGMENT_BYTES {
        out.push(format!("bounce buffer {tlb:#x}+{size:#x} crosses a 128-slot segment"));
    }
    out
}

/// Nothing may stay allocated once every mapping was unmapped.
pub fn check_no_leak(be: &dyn Backend) -> Vec<String> {
    let Some(pool) = be.swiotlb_pool() else { return Vec::new() };
    let used: u64 = (0..pool.nareas).map(|a| be.swiotlb_area(a).used).sum();
    if used == 0 {
        Vec::new()
    } else {
        vec![format!("every mapping was unmapped, but {used} swiotlb slot(s) are still allocated")]
    }
}
