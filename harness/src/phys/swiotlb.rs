//! kernel/dma/swiotlb.c and the include/linux/swiotlb.h inlines, without
//! CONFIG_SWIOTLB_DYNAMIC. The allocator is the same in v6.16 and v6.18 (swiotlb.md §10);
//! this is the v6.18 side's own copy. Integer widths follow the kernel's (`unsigned int`
//! slot indices and masks, `int` in the release path, `size_t` sizes) because wrap-arounds
//! are part of the behaviour.

use std::collections::BTreeSet;

use super::device::fmt_pad;
use super::dma_direct::{__phys_to_dma, dma_capable, phys_to_dma};
use super::dma_map_ops::dev_is_dma_coherent;
use super::{Device, KResult};
use crate::platform::Platform;
use crate::types::{DmaAddr, DmaAttrs, DmaDir, PhysAddr, DMA_MAPPING_ERROR, PAGE_SIZE};

pub const IO_TLB_SHIFT: u32 = 11;
pub const IO_TLB_SIZE: u64 = 1 << IO_TLB_SHIFT;
pub const IO_TLB_SEGSIZE: u64 = 128;
/// IO_TLB_DEFAULT_SIZE >> IO_TLB_SHIFT: 64 MiB of slots.
pub const IO_TLB_DEFAULT_NSLABS: u64 = (64 << 20) >> IO_TLB_SHIFT;
pub const INVALID_PHYS_ADDR: u64 = u64::MAX;
/// DEFAULT_RATELIMIT_BURST: a ratelimited message prints this often per call site and
/// interval, and no scenario time passes.
pub const RATELIMIT_BURST: u32 = 10;

/// How the kernel booted swiotlb (the scenario's `swiotlb mode=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwiotlbMode {
    /// swiotlb=noforce: nothing allocated.
    Off,
    /// The default pool, bouncing when needed.
    On,
    /// swiotlb=force: the default pool, force_bounce.
    Force,
    /// A restricted-dma-pool for the device: force_bounce, one area, size as given.
    Restricted,
}

/// The boot inputs of the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwiotlbConfig {
    pub mode: SwiotlbMode,
    pub start: PhysAddr,
    /// swiotlb=<nslabs> (None: the default 64 MiB); for a restricted pool, size >> 11.
    pub nslabs: Option<u64>,
    /// swiotlb=,<nareas> (None: from num_possible_cpus()).
    pub nareas: Option<u32>,
}

/// struct io_tlb_slot
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub orig_addr: u64,
    pub alloc_size: u64,
    /// `unsigned short` since v6.9.
    pub list: u16,
    pub pad_slots: u16,
}

/// struct io_tlb_area (without the lock)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Area {
    pub used: u64,
    pub index: u32,
}

/// struct io_tlb_pool, with slots kept per 128-slot segment and materialised on first write,
/// so that a run costs what it touches whatever the pool size.
pub struct Pool {
    pub start: u64,
    pub end: u64,
    pub nslabs: u64,
    pub nareas: u32,
    pub area_nslabs: u64,
    pub areas: Vec<Area>,
    segs: Vec<Option<Box<[Slot; IO_TLB_SEGSIZE as usize]>>>,
    touched: BTreeSet<u64>,
}

/// struct io_tlb_mem (one pool: no CONFIG_SWIOTLB_DYNAMIC)
pub struct IoTlbMem {
    pub defpool: Pool,
    pub nslabs: u64,
    pub force_bounce: bool,
}

/// models io_tlb_offset()
fn io_tlb_offset(val: u64) -> u64 {
    val & (IO_TLB_SEGSIZE - 1)
}

/// models nr_slots()
pub fn nr_slots(val: u64) -> u64 {
    val.div_ceil(IO_TLB_SIZE)
}

/// models slot_addr()
fn slot_addr(start: u64, idx: u64) -> u64 {
    start.wrapping_add(idx << IO_TLB_SHIFT)
}

/// models get_max_slots()
fn get_max_slots(boundary_mask: u64) -> u64 {
    (boundary_mask >> IO_TLB_SHIFT) + 1
}

impl Pool {
    /// The state swiotlb_init_io_tlb_pool() gives slot i.
    fn initial_slot(&self, i: u64) -> Slot {
        let list = (IO_TLB_SEGSIZE - io_tlb_offset(i)).min(self.nslabs.saturating_sub(i));
        Slot { orig_addr: INVALID_PHYS_ADDR, alloc_size: 0, list: list as u16, pad_slots: 0 }
    }

    /// Slot i; slots past nslabs read as allocated (list 0), the out-of-range read of §3.
    pub fn slot(&self, i: u64) -> Slot {
        let seg = i / IO_TLB_SEGSIZE;
        match self.segs.get(seg as usize) {
            Some(Some(s)) => s[io_tlb_offset(i) as usize],
            Some(None) => self.initial_slot(i),
            None => Slot { orig_addr: INVALID_PHYS_ADDR, alloc_size: 0, list: 0, pad_slots: 0 },
        }
    }

    fn slot_mut(&mut self, i: u64) -> &mut Slot {
        let seg = i / IO_TLB_SEGSIZE;
        if self.segs[seg as usize].is_none() {
            let base = seg * IO_TLB_SEGSIZE;
            let init: [Slot; IO_TLB_SEGSIZE as usize] = std::array::from_fn(|k| self.initial_slot(base + k as u64));
            self.segs[seg as usize] = Some(Box::new(init));
            self.touched.insert(seg);
        }
        &mut self.segs[seg as usize].as_mut().expect("materialised")[io_tlb_offset(i) as usize]
    }

    /// Segments ever written, ascending.
    pub fn touched_segments(&self) -> impl Iterator<Item = u64> + '_ {
        self.touched.iter().copied()
    }
}

/// models round_up_default_nslabs()
fn round_up_default_nslabs(default_nslabs: &mut u64, default_nareas: u32) -> bool {
    if default_nareas == 0 {
        return false;
    }
    if *default_nslabs < IO_TLB_SEGSIZE * default_nareas as u64 {
        *default_nslabs = IO_TLB_SEGSIZE * default_nareas as u64;
    } else if default_nslabs.is_power_of_two() {
        return false;
    }
    *default_nslabs = default_nslabs.next_power_of_two();
    true
}

/// models swiotlb_adjust_nareas()
fn swiotlb_adjust_nareas(default_nslabs: &mut u64, default_nareas: &mut u32, nareas: u32) {
    let nareas = if nareas == 0 { 1 } else { nareas.next_power_of_two() };
    *default_nareas = nareas;
    round_up_default_nslabs(default_nslabs, *default_nareas);
}

/// models limit_nareas()
fn limit_nareas(nareas: u32, nslots: u64) -> u32 {
    if nslots < nareas as u64 * IO_TLB_SEGSIZE {
        return (nslots / IO_TLB_SEGSIZE) as u32;
    }
    nareas
}

/// models swiotlb_init_io_tlb_pool(); the memset of the bounce area goes to the platform.
fn swiotlb_init_io_tlb_pool(plat: &mut Platform, start: u64, nslabs: u64, nareas: u32) -> Pool {
    let nsegs = nslabs.div_ceil(IO_TLB_SEGSIZE) as usize;
    plat.boot_memzero(PhysAddr(start), nslabs << IO_TLB_SHIFT);
    Pool {
        start,
        end: start + (nslabs << IO_TLB_SHIFT),
        nslabs,
        nareas,
        area_nslabs: if nareas == 0 { 0 } else { nslabs / nareas as u64 },
        areas: vec![Area::default(); nareas as usize],
        segs: (0..nsegs).map(|_| None).collect(),
        touched: BTreeSet::new(),
    }
}

/// models the boot: setup_io_tlb_npages() for `swiotlb=` then swiotlb_init_remap() for the
/// default pool, or rmem_swiotlb_device_init() for a restricted-dma-pool. Memblock never
/// fails here, and arm64's RAM-sized swiotlb_adjust_size() is not modelled (the scenario
/// gives the size as a boot parameter would).
pub fn swiotlb_init(plat: &mut Platform, cfg: &SwiotlbConfig, nr_cpus: u32) -> Option<IoTlbMem> {
    let (nslabs, nareas, force_bounce) = match cfg.mode {
        SwiotlbMode::Off => return None,
        SwiotlbMode::Restricted => (cfg.nslabs.unwrap_or(IO_TLB_DEFAULT_NSLABS), 1, true),
        SwiotlbMode::On | SwiotlbMode::Force => {
            let mut default_nslabs = IO_TLB_DEFAULT_NSLABS;
            let mut default_nareas = 0u32;
            if let Some(n) = cfg.nslabs {
                // Avoid a tail segment of fewer than IO_TLB_SEGSIZE slots.
                default_nslabs = n.next_multiple_of(IO_TLB_SEGSIZE);
            }
            if let Some(a) = cfg.nareas {
                swiotlb_adjust_nareas(&mut default_nslabs, &mut default_nareas, a);
            }
            if default_nareas == 0 {
                swiotlb_adjust_nareas(&mut default_nslabs, &mut default_nareas, nr_cpus);
            }
            (default_nslabs, limit_nareas(default_nareas, default_nslabs), cfg.mode == SwiotlbMode::Force)
        }
    };
    let pool = swiotlb_init_io_tlb_pool(plat, cfg.start.0, nslabs, nareas);
    Some(IoTlbMem { defpool: pool, nslabs, force_bounce })
}

/// models dma_get_min_align_mask()
pub fn dma_get_min_align_mask(dev: &Device) -> u32 {
    dev.dma_parms.map_or(0, |p| p.min_align_mask)
}

/// models dma_get_seg_boundary()
pub fn dma_get_seg_boundary(dev: &Device) -> u64 {
    match dev.dma_parms {
        Some(p) if p.segment_boundary_mask != 0 => p.segment_boundary_mask,
        _ => u64::MAX,
    }
}

/// models dma_set_min_align_mask()
pub fn dma_set_min_align_mask(dev: &mut Device, plat: &mut Platform, mask: u32) {
    match dev.dma_parms.as_mut() {
        Some(p) => p.min_align_mask = mask,
        None => {
            dev.warn_on_once(plat, "dma-mapping.h:dma_set_min_align_mask", "dma_set_min_align_mask", "!dev->dma_parms");
        }
    }
}

/// models dma_set_seg_boundary()
pub fn dma_set_seg_boundary(dev: &mut Device, plat: &mut Platform, mask: u64) {
    match dev.dma_parms.as_mut() {
        Some(p) => p.segment_boundary_mask = mask,
        None => {
            dev.warn_on_once(plat, "dma-mapping.h:dma_set_seg_boundary", "dma_set_seg_boundary", "!dev->dma_parms");
        }
    }
}

/// models swiotlb_align_offset()
fn swiotlb_align_offset(dev: &Device, align_mask: u32, addr: u64) -> u32 {
    (addr & dma_get_min_align_mask(dev) as u64 & (align_mask as u64 | (IO_TLB_SIZE - 1))) as u32
}

/// models is_swiotlb_active()
pub fn is_swiotlb_active(dev: &Device) -> bool {
    dev.swiotlb.as_ref().is_some_and(|m| m.nslabs != 0)
}

/// models is_swiotlb_force_bounce()
pub fn is_swiotlb_force_bounce(dev: &Device) -> bool {
    dev.swiotlb.as_ref().is_some_and(|m| m.force_bounce)
}

/// models is_swiotlb_allocated(): the default pool exists (a restricted-pool scenario keeps
/// the arm64 default pool allocated as well).
pub fn is_swiotlb_allocated(dev: &Device) -> bool {
    dev.swiotlb.is_some()
}

/// models swiotlb_find_pool() (one pool: the range check of the header inline)
pub fn swiotlb_find_pool(dev: &Device, paddr: PhysAddr) -> bool {
    dev.swiotlb.as_ref().is_some_and(|m| paddr.0 >= m.defpool.start && paddr.0 < m.defpool.end)
}

/// models swiotlb_max_mapping_size()
pub fn swiotlb_max_mapping_size(dev: &Device) -> u64 {
    // The kernel keeps both in an int and rounds with truncating int division.
    let min_align_mask = dma_get_min_align_mask(dev) as i32;
    let min_align = if min_align_mask != 0 {
        min_align_mask.wrapping_add(IO_TLB_SIZE as i32 - 1) / IO_TLB_SIZE as i32 * IO_TLB_SIZE as i32
    } else {
        0
    };
    (IO_TLB_SIZE * IO_TLB_SEGSIZE).wrapping_sub(min_align as i64 as u64)
}

/// models iommu_is_span_boundary()
fn iommu_is_span_boundary(
    dev: &Device,
    plat: &mut Platform,
    index: u32,
    nr: u32,
    shift: u64,
    boundary_size: u64,
) -> KResult<bool> {
    if !boundary_size.is_power_of_two() {
        return Err(dev.bug(plat, "iommu_is_span_boundary", "!is_power_of_2(boundary_size)"));
    }
    let shift = shift.wrapping_add(index as u64) & (boundary_size - 1);
    Ok(shift + nr as u64 > boundary_size)
}

/// models swiotlb_search_pool_area()
fn swiotlb_search_pool_area(
    dev: &mut Device,
    plat: &mut Platform,
    area_index: u32,
    orig_addr: u64,
    alloc_size: u64,
    alloc_align_mask: u32,
) -> KResult<Option<u32>> {
    let boundary_mask = dma_get_seg_boundary(dev);
    let pool_start = dev.swiotlb.as_ref().expect("caller checked the pool").defpool.start;
    let tbl_dma_addr = __phys_to_dma(dev, PhysAddr(pool_start)).0 & boundary_mask;
    let max_slots = get_max_slots(boundary_mask);
    let mut iotlb_align_mask = dma_get_min_align_mask(dev);
    let nslots = nr_slots(alloc_size) as u32;
    let offset = swiotlb_align_offset(dev, 0, orig_addr);
    let mut alloc_align_mask = alloc_align_mask;

    if nslots == 0 {
        return Err(dev.bug(plat, "swiotlb_search_pool_area", "!nslots"));
    }
    let (pool_nareas, area_nslabs) = {
        let p = &dev.swiotlb.as_ref().expect("pool").defpool;
        (p.nareas, p.area_nslabs)
    };
    if area_index >= pool_nareas {
        return Err(dev.bug(plat, "swiotlb_search_pool_area", "area_index >= pool->nareas"));
    }
    // Streaming mappings of a page or more stay page-aligned unless the device asks otherwise.
    if alloc_align_mask == 0 && iotlb_align_mask == 0 && alloc_size >= PAGE_SIZE {
        alloc_align_mask = (PAGE_SIZE - 1) as u32;
    }
    alloc_align_mask |= (IO_TLB_SIZE - 1) as u32;
    iotlb_align_mask &= !alloc_align_mask;
    let stride = get_max_slots(alloc_align_mask.max(iotlb_align_mask) as u64) as u32;

    let area_nslabs32 = area_nslabs as u32;
    let wrap = |index: u32| if index as u64 >= area_nslabs { 0 } else { index };
    let area = dev.swiotlb.as_ref().expect("pool").defpool.areas[area_index as usize];
    if nslots as u64 > area_nslabs.wrapping_sub(area.used) {
        return Ok(None);
    }
    let slot_base = area_index.wrapping_mul(area_nslabs32);
    let mut index = area.index;
    let mut slots_checked: u32 = 0;
    let found = loop {
        if slots_checked as u64 >= area_nslabs {
            return Ok(None);
        }
        let slot_index = slot_base.wrapping_add(index);
        let tlb_addr = slot_addr(tbl_dma_addr, slot_index as u64);
        if tlb_addr & alloc_align_mask as u64 != 0
            || (orig_addr != 0 && (tlb_addr & iotlb_align_mask as u64) != (orig_addr & iotlb_align_mask as u64))
        {
            index = wrap(index.wrapping_add(1));
            slots_checked = slots_checked.wrapping_add(1);
            continue;
        }
        if !iommu_is_span_boundary(dev, plat, slot_index, nslots, nr_slots(tbl_dma_addr), max_slots)? {
            let pool = &dev.swiotlb.as_ref().expect("pool").defpool;
            if pool.slot(slot_index as u64).list as u32 >= nslots {
                break slot_index;
            }
        }
        index = wrap(index.wrapping_add(stride));
        slots_checked = slots_checked.wrapping_add(stride);
    };

    let pool = &mut dev.swiotlb.as_mut().expect("pool").defpool;
    for i in found..found + nslots {
        let s = pool.slot_mut(i as u64);
        s.list = 0;
        s.alloc_size = alloc_size.wrapping_sub(offset as u64 + (((i - found) as u64) << IO_TLB_SHIFT));
    }
    // Give the free slots below the allocation their new distances, within the segment.
    let mut count: u16 = 0;
    let mut i = found.wrapping_sub(1);
    while io_tlb_offset(i as u64) != IO_TLB_SEGSIZE - 1 && pool.slot(i as u64).list != 0 {
        count += 1;
        pool.slot_mut(i as u64).list = count;
        i = i.wrapping_sub(1);
    }
    let area = &mut pool.areas[area_index as usize];
    area.index = wrap(index.wrapping_add(nslots));
    area.used = area.used.wrapping_add(nslots as u64);
    Ok(Some(found))
}

/// models swiotlb_find_slots() (!CONFIG_SWIOTLB_DYNAMIC)
fn swiotlb_find_slots(
    dev: &mut Device,
    plat: &mut Platform,
    orig_addr: u64,
    alloc_size: u64,
    alloc_align_mask: u32,
) -> KResult<Option<u32>> {
    let nareas = dev.swiotlb.as_ref().expect("pool").defpool.nareas;
    let start = dev.cpu & nareas.wrapping_sub(1);
    let mut i = start;
    loop {
        if let Some(index) = swiotlb_search_pool_area(dev, plat, i, orig_addr, alloc_size, alloc_align_mask)? {
            return Ok(Some(index));
        }
        i += 1;
        if i >= nareas {
            i = 0;
        }
        if i == start {
            return Ok(None);
        }
    }
}

/// models mem_used() without CONFIG_DEBUG_FS: the sum of the areas' used counts.
fn mem_used(mem: &IoTlbMem) -> u64 {
    mem.defpool.areas.iter().map(|a| a.used).sum()
}

/// models swiotlb_tbl_map_single()
pub fn swiotlb_tbl_map_single(
    dev: &mut Device,
    plat: &mut Platform,
    orig_addr: PhysAddr,
    mapping_size: u64,
    alloc_align_mask: u32,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<PhysAddr> {
    let _ = dir;
    if !is_swiotlb_active(dev) {
        dev.dev_warn_ratelimited(
            plat,
            "swiotlb.c:swiotlb_tbl_map_single:no_pool",
            "swiotlb_tbl_map_single",
            "Can not allocate SWIOTLB buffer earlier and can't now provide you with the DMA bounce buffer",
        );
        return Ok(PhysAddr(DMA_MAPPING_ERROR.0));
    }
    // CC_ATTR_MEM_ENCRYPT is never set: no "Memory encryption is active" message.
    if alloc_align_mask as u64 > PAGE_SIZE - 1 {
        dev.dev_warn_once(
            plat,
            "swiotlb.c:swiotlb_tbl_map_single:align",
            "swiotlb_tbl_map_single",
            "Alloc alignment may prevent fulfilling requests with max mapping_size",
        );
    }
    let mut offset = swiotlb_align_offset(dev, alloc_align_mask, orig_addr.0);
    // ALIGN() in size_t with an unsigned int alignment that may wrap to 0.
    let align = alloc_align_mask.wrapping_add(1) as u64;
    let size = (mapping_size.wrapping_add(offset as u64)).wrapping_add(align.wrapping_sub(1)) & !align.wrapping_sub(1);
    let Some(index) = swiotlb_find_slots(dev, plat, orig_addr.0, size, alloc_align_mask)? else {
        if !attrs.contains(DmaAttrs::NO_WARN) {
            let mem = dev.swiotlb.as_ref().expect("pool");
            let msg = format!(
                "swiotlb buffer is full (sz: {} bytes), total {} (slots), used {} (slots)",
                size as i64,
                mem.nslabs,
                mem_used(mem)
            );
            dev.dev_warn_ratelimited(plat, "swiotlb.c:swiotlb_tbl_map_single:full", "swiotlb_tbl_map_single", &msg);
        }
        return Ok(PhysAddr(DMA_MAPPING_ERROR.0));
    };
    // models dma_reset_need_sync(): swiotlb buffers always need syncing.
    dev.dma_skip_sync = false;

    let pad_slots = (offset >> IO_TLB_SHIFT) as u16;
    offset &= (IO_TLB_SIZE - 1) as u32;
    let index = index as u64 + pad_slots as u64;
    let pool = &mut dev.swiotlb.as_mut().expect("pool").defpool;
    pool.slot_mut(index).pad_slots = pad_slots;
    let n = (nr_slots(size) as u32).wrapping_sub(pad_slots as u32);
    for i in 0..n as u64 {
        pool.slot_mut(index + i).orig_addr = slot_addr(orig_addr.0, i);
    }
    let tlb_addr = PhysAddr(slot_addr(pool.start, index) + offset as u64);
    // Copy in whatever the direction, so a partial device write cannot expose stale bounce
    // contents (CVE-2022-0854, 901c7280ca0d).
    swiotlb_bounce(dev, plat, tlb_addr, mapping_size, DmaDir::TO_DEVICE);
    Ok(tlb_addr)
}

/// models swiotlb_bounce()
fn swiotlb_bounce(dev: &mut Device, plat: &mut Platform, tlb_addr: PhysAddr, size: u64, dir: DmaDir) {
    let pool = &dev.swiotlb.as_ref().expect("pool").defpool;
    let index = ((tlb_addr.0.wrapping_sub(pool.start)) >> IO_TLB_SHIFT) as i32;
    let slot = pool.slot(index as u32 as u64);
    let (mut orig_addr, mut alloc_size) = (slot.orig_addr, slot.alloc_size);
    if orig_addr == INVALID_PHYS_ADDR {
        return;
    }
    // Negative inside the first `offset` bytes of the second and later slots.
    let tlb_offset =
        ((tlb_addr.0 & (IO_TLB_SIZE - 1)) as u32).wrapping_sub(swiotlb_align_offset(dev, 0, orig_addr)) as i32;
    orig_addr = orig_addr.wrapping_add(tlb_offset as i64 as u64);
    alloc_size = alloc_size.wrapping_sub(tlb_offset as i64 as u64);
    let mut size = size;
    if size > alloc_size {
        let msg = format!("Buffer overflow detected. Allocation size: {alloc_size}. Mapping size: {size}.");
        dev.dev_warn_once(plat, "swiotlb.c:swiotlb_bounce:overflow", "swiotlb_bounce", &msg);
        size = alloc_size;
    }
    // No highmem on the modelled 64-bit platforms: a plain memcpy through the linear map.
    if dir == DmaDir::TO_DEVICE {
        plat.cpu_memcpy(tlb_addr, PhysAddr(orig_addr), size);
    } else {
        plat.cpu_memcpy(PhysAddr(orig_addr), tlb_addr, size);
    }
}

/// models swiotlb_release_slots()
fn swiotlb_release_slots(dev: &mut Device, plat: &mut Platform, tlb_addr: PhysAddr) -> KResult<()> {
    let offset = swiotlb_align_offset(dev, 0, tlb_addr.0);
    let pool = &dev.swiotlb.as_ref().expect("pool").defpool;
    let mut index = ((tlb_addr.0.wrapping_sub(offset as u64).wrapping_sub(pool.start)) >> IO_TLB_SHIFT) as i32;
    index = index.wrapping_sub(pool.slot(index as u32 as u64).pad_slots as i32);
    let nslots = nr_slots(pool.slot(index as u32 as u64).alloc_size.wrapping_add(offset as u64)) as i32;
    let aindex = if pool.area_nslabs == 0 { i32::MAX } else { index / pool.area_nslabs as i32 };
    if aindex as i64 >= pool.nareas as i64 || aindex < 0 {
        return Err(dev.bug(plat, "swiotlb_release_slots", "aindex >= mem->nareas"));
    }
    // A bogus address (misuse) can make the kernel write past the slot array; the model
    // stops there as if it had crashed.
    let nslabs = pool.nslabs as i64;
    if index < 0 || (nslots > 0 && index as i64 + nslots as i64 > nslabs) {
        return Err(dev.bug(
            plat,
            "swiotlb_release_slots",
            "slot index out of range (the kernel would corrupt memory)",
        ));
    }
    let pool = &mut dev.swiotlb.as_mut().expect("pool").defpool;
    // ALIGN(index + 1, IO_TLB_SEGSIZE): the end of index's segment (index >= 0 here).
    let seg_end = ((index as u64 + 1).next_multiple_of(IO_TLB_SEGSIZE)) as i64;
    let mut count: i32 =
        if (index as i64 + nslots as i64) < seg_end { pool.slot((index + nslots) as u64).list as i32 } else { 0 };
    // Return the slots, merging with the free ones after them.
    let mut i = index.wrapping_add(nslots).wrapping_sub(1);
    while i >= index {
        count += 1;
        let s = pool.slot_mut(i as u64);
        s.list = count as u16;
        s.orig_addr = INVALID_PHYS_ADDR;
        s.alloc_size = 0;
        s.pad_slots = 0;
        i -= 1;
    }
    // Merge with the free slots before them, within the segment.
    let mut i = index - 1;
    while io_tlb_offset(i as i64 as u64) != IO_TLB_SEGSIZE - 1 && pool.slot(i as u32 as u64).list != 0 {
        count += 1;
        pool.slot_mut(i as u64).list = count as u16;
        i -= 1;
    }
    let area = &mut pool.areas[aindex as usize];
    area.used = area.used.wrapping_sub(nslots as i64 as u64);
    Ok(())
}

/// models __swiotlb_tbl_unmap_single()
fn __swiotlb_tbl_unmap_single(
    dev: &mut Device,
    plat: &mut Platform,
    tlb_addr: PhysAddr,
    mapping_size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<()> {
    if !attrs.contains(DmaAttrs::SKIP_CPU_SYNC) && (dir == DmaDir::FROM_DEVICE || dir == DmaDir::BIDIRECTIONAL) {
        swiotlb_bounce(dev, plat, tlb_addr, mapping_size, DmaDir::FROM_DEVICE);
    }
    swiotlb_release_slots(dev, plat, tlb_addr)
}

/// models swiotlb_tbl_unmap_single() (header inline: only for pool addresses)
pub fn swiotlb_tbl_unmap_single(
    dev: &mut Device,
    plat: &mut Platform,
    addr: PhysAddr,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<()> {
    if swiotlb_find_pool(dev, addr) {
        __swiotlb_tbl_unmap_single(dev, plat, addr, size, dir, attrs)?;
    }
    Ok(())
}

/// models swiotlb_sync_single_for_device() (header inline) and __swiotlb_sync_single_for_device()
pub fn swiotlb_sync_single_for_device(
    dev: &mut Device,
    plat: &mut Platform,
    addr: PhysAddr,
    size: u64,
    dir: DmaDir,
) -> KResult<()> {
    if !swiotlb_find_pool(dev, addr) {
        return Ok(());
    }
    if dir == DmaDir::TO_DEVICE || dir == DmaDir::BIDIRECTIONAL {
        swiotlb_bounce(dev, plat, addr, size, DmaDir::TO_DEVICE);
    } else if dir != DmaDir::FROM_DEVICE {
        return Err(dev.bug(plat, "__swiotlb_sync_single_for_device", "dir != DMA_FROM_DEVICE"));
    }
    Ok(())
}

/// models swiotlb_sync_single_for_cpu() (header inline) and __swiotlb_sync_single_for_cpu()
pub fn swiotlb_sync_single_for_cpu(
    dev: &mut Device,
    plat: &mut Platform,
    addr: PhysAddr,
    size: u64,
    dir: DmaDir,
) -> KResult<()> {
    if !swiotlb_find_pool(dev, addr) {
        return Ok(());
    }
    if dir == DmaDir::FROM_DEVICE || dir == DmaDir::BIDIRECTIONAL {
        swiotlb_bounce(dev, plat, addr, size, DmaDir::FROM_DEVICE);
    } else if dir != DmaDir::TO_DEVICE {
        return Err(dev.bug(plat, "__swiotlb_sync_single_for_cpu", "dir != DMA_TO_DEVICE"));
    }
    Ok(())
}

/// models swiotlb_map()
pub fn swiotlb_map(
    dev: &mut Device,
    plat: &mut Platform,
    paddr: PhysAddr,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
) -> KResult<DmaAddr> {
    let force = is_swiotlb_force_bounce(dev);
    plat.trace_swiotlb_bounced(phys_to_dma(dev, paddr), size, force);
    let swiotlb_addr = swiotlb_tbl_map_single(dev, plat, paddr, size, 0, dir, attrs)?;
    if swiotlb_addr.0 == DMA_MAPPING_ERROR.0 {
        return Ok(DMA_MAPPING_ERROR);
    }
    // The slot itself must be addressable (phys_to_dma_unencrypted: no encryption here).
    let dma_addr = __phys_to_dma(dev, swiotlb_addr);
    if !dma_capable(dev, dma_addr, size, true) {
        __swiotlb_tbl_unmap_single(dev, plat, swiotlb_addr, size, dir, attrs | DmaAttrs::SKIP_CPU_SYNC)?;
        let msg = format!(
            "swiotlb addr {}+{size} overflow (mask {:x}, bus limit {:x}).",
            fmt_pad(dma_addr.0),
            dev.dma_mask.unwrap_or(0),
            dev.bus_dma_limit
        );
        dev.dev_warn_once(plat, "swiotlb.c:swiotlb_map:overflow", "swiotlb_map", &msg);
        return Ok(DMA_MAPPING_ERROR);
    }
    if !dev_is_dma_coherent(dev) && !attrs.contains(DmaAttrs::SKIP_CPU_SYNC) {
        plat.arch_sync_dma_for_device(swiotlb_addr, size, dir);
    }
    Ok(dma_addr)
}

#[cfg(test)]
mod tests {
    //! The worked examples of swiotlb.md §13 and the fixed behaviours of §12, with the slot
    //! indices and addresses the spec derives from the kernel's rules.

    use super::*;
    use crate::platform::trace::{Event, ReportKind};
    use crate::scenario::{Config, DmaParmsConfig, Region};

    const START: u64 = 0x8000_0000;

    fn boot(nslabs: u64, nareas: u32, min_align: u32, boundary: u64) -> (Device, Platform) {
        let mut c = Config { nr_cpus: 8, ..Default::default() };
        c.ram.push(Region { start: PhysAddr(START), size: 0x400_0000 });
        c.ram.push(Region { start: PhysAddr(0x1000_0000), size: 0x100_0000 });
        c.device.dma_mask = Some(u64::MAX);
        c.device.dma_parms =
            Some(DmaParmsConfig { min_align_mask: min_align, seg_boundary_mask: boundary, max_segment_size: 0 });
        c.swiotlb = Some(SwiotlbConfig {
            mode: SwiotlbMode::On,
            start: PhysAddr(START),
            nslabs: Some(nslabs),
            nareas: Some(nareas),
        });
        let mut p = Platform::new(&c);
        let d = Device::new(&c, &mut p);
        (d, p)
    }

    fn map(d: &mut Device, p: &mut Platform, orig: u64, size: u64, align: u32) -> u64 {
        swiotlb_tbl_map_single(d, p, PhysAddr(orig), size, align, DmaDir::TO_DEVICE, DmaAttrs(0)).unwrap().0
    }

    fn pool(d: &Device) -> &Pool {
        &d.swiotlb.as_ref().unwrap().defpool
    }

    fn lists(d: &Device, n: u64) -> Vec<u16> {
        (0..n).map(|i| pool(d).slot(i).list).collect()
    }

    #[test]
    fn example_a_page_rule_and_rover() {
        let (mut d, mut p) = boot(1024, 1, 0, 0);
        assert_eq!(map(&mut d, &mut p, 0x1000_0000, 0x1000, 0), START);
        assert_eq!(pool(&d).areas[0].index, 2);
        let second = map(&mut d, &mut p, 0x1000_2000, 0x200, 0);
        assert_eq!(second, START + 0x1000);
        assert_eq!(map(&mut d, &mut p, 0x1000_4000, 0x1000, 0), START + 0x2000);
        assert_eq!(pool(&d).areas[0].index, 6);
        assert_eq!(lists(&d, 8), vec![0, 0, 0, 1, 0, 0, 122, 121]);
        swiotlb_tbl_unmap_single(&mut d, &mut p, PhysAddr(second), 0x200, DmaDir::TO_DEVICE, DmaAttrs(0)).unwrap();
        assert_eq!(lists(&d, 4), vec![0, 0, 2, 1]);
        assert_eq!(pool(&d).areas[0].index, 6, "release does not move the rover");
    }

    #[test]
    fn example_b_nvme_min_align() {
        let (mut d, mut p) = boot(1024, 1, 0xfff, 0);
        let tlb = map(&mut d, &mut p, 0x1000_0a00, 0x3000, 0);
        assert_eq!(tlb, START + 0xa00);
        let sizes: Vec<u64> = (1..8).map(|i| pool(&d).slot(i).alloc_size).collect();
        assert_eq!(sizes, vec![0x3000, 0x2800, 0x2000, 0x1800, 0x1000, 0x800, 0]);
        assert_eq!(pool(&d).slot(1).orig_addr, 0x1000_0a00);
        assert_eq!(pool(&d).slot(2).orig_addr, 0x1000_1200);
        // A partial sync at tlb+0x700 (slot 2, low bits 0x100) copies orig 0x1000_1100.
        p.take_events();
        swiotlb_sync_single_for_device(&mut d, &mut p, PhysAddr(tlb + 0x700), 0x10, DmaDir::TO_DEVICE).unwrap();
        assert_eq!(
            p.take_events(),
            vec![Event::Memcpy { dst: PhysAddr(tlb + 0x700), src: PhysAddr(0x1000_1100), size: 0x10 }]
        );
        swiotlb_tbl_unmap_single(&mut d, &mut p, PhysAddr(tlb), 0x3000, DmaDir::TO_DEVICE, DmaAttrs(0)).unwrap();
        assert_eq!(pool(&d).areas[0].used, 0);
        assert_eq!(pool(&d).slot(0).list, 128, "7 slots from index 1 freed and merged back");
    }

    #[test]
    fn example_c_pad_slots() {
        let (mut d, mut p) = boot(1024, 1, 0xfff, 0);
        let tlb = map(&mut d, &mut p, 0x1000_1a00, 0x100, 0xfff);
        assert_eq!(tlb, START + 0xa00);
        let s0 = pool(&d).slot(0);
        let s1 = pool(&d).slot(1);
        assert_eq!((s0.orig_addr, s1.orig_addr, s1.pad_slots), (INVALID_PHYS_ADDR, 0x1000_1a00, 1));
        assert_eq!((s0.alloc_size, s1.alloc_size), (0xe00, 0x600));
        swiotlb_tbl_unmap_single(&mut d, &mut p, PhysAddr(tlb), 0x100, DmaDir::TO_DEVICE, DmaAttrs(0)).unwrap();
        assert_eq!(pool(&d).areas[0].used, 0, "release frees the padding slot too");
    }

    #[test]
    fn example_d_wrapped_alloc_size_and_partial_sync() {
        let (mut d, mut p) = boot(1024, 1, 0xfff, 0);
        let tlb = map(&mut d, &mut p, 0x1000_0780, 0x100, 0);
        assert_eq!(pool(&d).slot(1).alloc_size, 0u64.wrapping_sub(0x700));
        p.take_events();
        let slot1 = tlb - 0x780 + 0x800;
        swiotlb_sync_single_for_cpu(&mut d, &mut p, PhysAddr(slot1), 0x80, DmaDir::FROM_DEVICE).unwrap();
        assert_eq!(
            p.take_events(),
            vec![Event::Memcpy { dst: PhysAddr(0x1000_0800), src: PhysAddr(slot1), size: 0x80 }]
        );
    }

    #[test]
    fn example_e_areas_by_cpu() {
        let (mut d, mut p) = boot(1024, 4, 0, 0);
        let mut got = Vec::new();
        for cpu in [0, 1, 2, 3, 5] {
            d.cpu = cpu;
            got.push(map(&mut d, &mut p, 0x1000_0000, 0x800, 0));
        }
        assert_eq!(got, vec![0x8000_0000, 0x8008_0000, 0x8010_0000, 0x8018_0000, 0x8008_0800]);
    }

    #[test]
    fn example_f_segments() {
        let (mut d, mut p) = boot(1024, 1, 0, 0);
        assert_eq!(map(&mut d, &mut p, 0x1000_0000, 100 * 2048, 0), START);
        assert_eq!(map(&mut d, &mut p, 0x1000_0000, 100 * 2048, 0), START + 128 * 2048);
        assert_eq!(pool(&d).slot(100).list, 28);
        p.take_events();
        let full = map(&mut d, &mut p, 0x1000_0000, 129 * 2048, 0);
        assert_eq!(full, DMA_MAPPING_ERROR.0);
        match p.take_events().as_slice() {
            [Event::Report { kind: ReportKind::DevWarning, text, .. }] => {
                assert_eq!(
                    text,
                    "dmadiff dmadiff0: swiotlb buffer is full (sz: 264192 bytes), total 1024 (slots), used 200 (slots)"
                )
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn example_g_segment_boundary() {
        let (mut d, mut p) = boot(1024, 1, 0, 0xffff);
        assert_eq!(map(&mut d, &mut p, 0x1000_0000, 28 * 2048, 0), START);
        assert_eq!(pool(&d).areas[0].index, 28);
        assert_eq!(map(&mut d, &mut p, 0x1000_0000, 8 * 2048, 0), 0x8001_0000);
    }

    #[test]
    fn example_h_wrap_to_zero_not_modulo() {
        let (mut d, mut p) = boot(1024, 4, 0, 0);
        let a = map(&mut d, &mut p, 0x1000_0000, 128 * 2048, 0);
        let b = map(&mut d, &mut p, 0x1000_0000, 127 * 2048, 0);
        assert_eq!((a, b), (START, START + 128 * 2048));
        assert_eq!(pool(&d).areas[0].index, 255);
        swiotlb_tbl_unmap_single(&mut d, &mut p, PhysAddr(a), 128 * 2048, DmaDir::TO_DEVICE, DmaAttrs(0)).unwrap();
        swiotlb_tbl_unmap_single(&mut d, &mut p, PhysAddr(b), 127 * 2048, DmaDir::TO_DEVICE, DmaAttrs(0)).unwrap();
        assert_eq!(map(&mut d, &mut p, 0x1000_0000, 0x1000, 0), START);
    }

    #[test]
    fn example_j_page_rule_on_and_off() {
        let (mut d, mut p) = boot(1024, 1, 0x3, 0);
        map(&mut d, &mut p, 0x1000_0000, 0x800, 0);
        assert_eq!(map(&mut d, &mut p, 0x4001, 0x1000, 0), 0x8000_0801);
        let (mut d, mut p) = boot(1024, 1, 0, 0);
        map(&mut d, &mut p, 0x1000_0000, 0x800, 0);
        assert_eq!(map(&mut d, &mut p, 0x4001, 0x1000, 0), 0x8000_1000);
    }

    #[test]
    fn fixed_cve_2022_0854_map_copies_whatever_the_direction() {
        let (mut d, mut p) = boot(1024, 1, 0, 0);
        p.take_events();
        let tlb = swiotlb_tbl_map_single(
            &mut d,
            &mut p,
            PhysAddr(0x1000_0000),
            0x80,
            0,
            DmaDir::FROM_DEVICE,
            DmaAttrs::SKIP_CPU_SYNC,
        )
        .unwrap();
        assert_eq!(p.take_events(), vec![Event::Memcpy { dst: tlb, src: PhysAddr(0x1000_0000), size: 0x80 }]);
        swiotlb_sync_single_for_device(&mut d, &mut p, tlb, 0x80, DmaDir::FROM_DEVICE).unwrap();
        assert!(p.take_events().is_empty(), "sync_for_device copies only for TO_DEVICE and BIDIRECTIONAL");
    }

    #[test]
    fn fixed_pad_slots_are_never_bounced() {
        // §12 item 13: a sync that lands in the padding slot finds orig_addr INVALID.
        let (mut d, mut p) = boot(1024, 1, 0xfff, 0);
        let tlb = map(&mut d, &mut p, 0x1000_1a00, 0x100, 0xfff);
        p.take_events();
        swiotlb_sync_single_for_cpu(&mut d, &mut p, PhysAddr(START + 0x100), 0x10, DmaDir::FROM_DEVICE).unwrap();
        assert!(p.take_events().is_empty());
        swiotlb_sync_single_for_cpu(&mut d, &mut p, PhysAddr(tlb), 0x10, DmaDir::FROM_DEVICE).unwrap();
        assert_eq!(p.take_events(), vec![Event::Memcpy { dst: PhysAddr(0x1000_1a00), src: PhysAddr(tlb), size: 0x10 }]);
    }

    #[test]
    fn fixed_min_align_above_alloc_align_checks_every_candidate() {
        // §12 items 9 and 12: min_align 0x3fff with a 4 KiB granule keeps bits 12-13 and uses
        // a stride of 7; the first slot whose bits 12-13 match orig 0x1000_3a00 is slot 6.
        let (mut d, mut p) = boot(1024, 1, 0x3fff, 0);
        assert_eq!(map(&mut d, &mut p, 0x1000_3a00, 0x100, 0xfff), START + 0x3a00);
    }

    #[test]
    fn fixed_bounce_size_is_clamped_with_a_warning() {
        let (mut d, mut p) = boot(1024, 1, 0, 0);
        let tlb = map(&mut d, &mut p, 0x1000_0000, 0x100, 0);
        p.take_events();
        swiotlb_sync_single_for_cpu(&mut d, &mut p, PhysAddr(tlb), 0x200, DmaDir::FROM_DEVICE).unwrap();
        let ev = p.take_events();
        assert!(
            matches!(&ev[0], Event::Report { kind: ReportKind::DevWarn, text, .. } if text.ends_with("Buffer overflow detected. Allocation size: 256. Mapping size: 512."))
        );
        assert_eq!(ev[1], Event::Memcpy { dst: PhysAddr(0x1000_0000), src: PhysAddr(tlb), size: 0x100 });
    }

    #[test]
    fn fixed_full_area_with_min_align_fails_instead_of_spinning() {
        let (mut d, mut p) = boot(128, 1, 0xfff, 0);
        for k in 0..64u64 {
            assert_ne!(map(&mut d, &mut p, 0x1000_0000 + k * 0x1000, 0x800, 0), DMA_MAPPING_ERROR.0);
        }
        // Odd slots are free but keep bit 11 set: a search for bit 11 clear must give up.
        assert_eq!(map(&mut d, &mut p, 0x1004_0000, 0x800, 0), DMA_MAPPING_ERROR.0);
        assert_ne!(map(&mut d, &mut p, 0x1004_0800, 0x800, 0), DMA_MAPPING_ERROR.0);
    }

    #[test]
    fn fixed_list_clamp_for_a_three_slot_pool() {
        let mut c = Config::default();
        c.ram.push(Region { start: PhysAddr(START), size: 0x10_0000 });
        c.swiotlb = Some(SwiotlbConfig {
            mode: SwiotlbMode::Restricted,
            start: PhysAddr(START),
            nslabs: Some(3),
            nareas: None,
        });
        let mut p = Platform::new(&c);
        let mut d = Device::new(&c, &mut p);
        assert_eq!(lists(&d, 3), vec![3, 2, 1]);
        assert!(is_swiotlb_force_bounce(&d));
        assert_eq!(map(&mut d, &mut p, 0x1000, 4 * 2048, 0), DMA_MAPPING_ERROR.0);
    }

    #[test]
    fn fixed_max_mapping_size_takes_min_align_into_account() {
        let (d, _) = boot(1024, 1, 0xfff, 0);
        assert_eq!(swiotlb_max_mapping_size(&d), 252 * 1024);
        let (d, _) = boot(1024, 1, 0, 0);
        assert_eq!(swiotlb_max_mapping_size(&d), 256 * 1024);
    }

    #[test]
    fn fixed_both_masks_and_the_max_mapping_size_under_a_granule() {
        // alloc_align 0xffff with min_align 0xfff, orig ...1a00 (NVMe behind 64K pages).
        let (mut d, mut p) = boot(1024, 1, 0xfff, 0);
        assert_ne!(map(&mut d, &mut p, 0x1000_1a00, 0x100, 0xffff), DMA_MAPPING_ERROR.0);
        for (granule, min_align) in [(0xfffu32, 0xfffu32), (0x3fff, 0xfff), (0xffff, 0x3fff)] {
            let (mut d, mut p) = boot(1024, 1, min_align, 0);
            let max = swiotlb_max_mapping_size(&d);
            assert_ne!(
                map(&mut d, &mut p, 0x1000_0000 + (min_align as u64 & 0xa00), max, granule),
                DMA_MAPPING_ERROR.0
            );
        }
    }

    #[test]
    fn boot_rounding_of_the_default_pool() {
        let mut c = Config { nr_cpus: 3, ..Default::default() };
        c.ram.push(Region { start: PhysAddr(START), size: 0x800_0000 });
        // swiotlb=200 with 3 CPUs: ALIGN(200, 128) = 256 slots, 4 areas, then a power of two.
        c.swiotlb =
            Some(SwiotlbConfig { mode: SwiotlbMode::On, start: PhysAddr(START), nslabs: Some(200), nareas: None });
        let mut p = Platform::new(&c);
        let d = Device::new(&c, &mut p);
        let pl = pool(&d);
        assert_eq!((pl.nslabs, pl.nareas, pl.area_nslabs), (512, 4, 128));
        // swiotlb=384,2: 384 slots round up to 512 with 2 areas.
        c.swiotlb =
            Some(SwiotlbConfig { mode: SwiotlbMode::On, start: PhysAddr(START), nslabs: Some(384), nareas: Some(2) });
        let d = Device::new(&c, &mut p);
        assert_eq!((pool(&d).nslabs, pool(&d).nareas), (512, 2));
    }
}
