//! The dma-debug shadow checker: what kernel/dma/debug.c (CONFIG_DMA_API_DEBUG) prints for one
//! side's stream of streaming DMA API calls, versioned for v6.16 (L) and v6.18 (P).
//!
//! Specification: /work/shared/spec/dma-debug.md (§1 entry model, §2 error classes, §3
//! reporting, §4 L vs P). The class numbers below are that document's §2 numbers.
//!
//! Reporting: every error is returned, as with debugfs `dma-api/all_errors=1`; the kernel's
//! default (`num_errors=1`) prints only the first one and only counts the rest. The "Mapped at:"
//! stack dump that follows an err_printk is left out.
//!
//! The checker runs on every scenario, also those without CONFIG_DMA_API_DEBUG: it models the
//! kernel as if the debug option were on. In particular a sync is checked whenever the side made
//! the call, because with CONFIG_DMA_API_DEBUG `dma_dev_need_sync()` is always true and the header
//! wrappers never skip `__dma_sync_single_*` (and with it the hook).
//!
//! Settled from kernel/dma/debug.c (a v6.17-rc tree for L; the v6 phys series for P):
//! - debug_dma_map_resource() has no dma_mapping_error() test: L records a failed resource map
//!   at DMA_MAPPING_ERROR; debug_dma_map_page()/debug_dma_map_phys() skip error results.
//! - dma_mapping_error() calls debug_dma_mapping_error(), also inside debug_dma_map_page(),
//!   debug_dma_map_phys() and check_unmap(): each marks the first unchecked entry at that address.
//! - debug_dma_sync_single_for_{cpu,device}() keep `dma_debug_single` refs in v6.18, so a sync
//!   never perfectly fits a phy entry (best fit then needs a single candidate per bucket).
//! - check_unmap() prints the unmap's size in class 15; check_sync() prints the sync address and
//!   the entry's size in 18-20, the entry's address in 17.
//! - dma_debug_device_change() runs after dev->driver is cleared: the prefix names the bus.
//! - add_dma_entry(): class 4 unless SKIP_CPU_SYNC (and, P, 03521c892bb8's
//!   `IS_ENABLED(CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC) && is_swiotlb_active(dev)`).
//!
//! Not modelled (no trigger in the model yet), though every class has its name and log text:
//! - 1, 2, 3 (stack, kernel text/rodata, invalid or vmalloc linear address): the mock platform
//!   has no kernel stack, image or linear map for a mapping to come from;
//! - 6, 13, 21 (sg segment limits and entry counts) and 12 (coherent free with another CPU
//!   address): the model has no dma_map_sg or dma_alloc_coherent;
//! - 7 ("dma_map_resource called for RAM address", af0c3f058662, 2026): later than both
//!   modelled releases (v6.18 instead fails such a map in mapping.c, before any hook).

use std::collections::{BTreeMap, HashMap};

use crate::backend::{ApiCall, ApiResult};
use crate::scatterlist::Scatterlist;
use crate::scenario::{Arch, Config, KernelAreaKind, SwiotlbMode};
use crate::types::{DmaAddr, DmaAttrs, DmaDir, KernelVersion, PAGE_SHIFT, PAGE_SIZE};

/// One err_printk (or the WARN/pr_info of classes 5 and 23): `class` is the spec's §2 number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebugReport {
    pub class: u8,
    /// The line as dmesg shows it: "DMA-API: <driver> <device>: <message>" for an err_printk,
    /// "DMA-API: <message>" for classes 5 and 23; no trailing newline. Class 22's message has
    /// an embedded newline (the kernel prints it as two lines).
    pub text: String,
}

/// HASH_SIZE: buckets of the entry hash.
const HASH_SIZE: u64 = 16384;
/// HASH_FN_SHIFT
const HASH_FN_SHIFT: u32 = 13;
/// HASH_FN_MASK
const HASH_FN_MASK: u64 = HASH_SIZE - 1;
/// PREALLOC_DMA_DEBUG_ENTRIES: the default of `dma_debug_entries=`.
pub const PREALLOC_DMA_DEBUG_ENTRIES: u32 = 1 << 16;
/// sizeof(struct dma_debug_entry): 112 bytes of fields (68 without CONFIG_STACKTRACE) rounded up
/// by ____cacheline_aligned_in_smp to 64-byte lines (L1_CACHE_BYTES on arm64 and x86_64). The
/// per-entry attrs field only came in 2026, so L and P agree.
const DMA_DEBUG_ENTRY_SIZE: u64 = 128;
/// DMA_DEBUG_DYNAMIC_ENTRIES: one page worth of entries (32).
const DMA_DEBUG_DYNAMIC_ENTRIES: u32 = (PAGE_SIZE / DMA_DEBUG_ENTRY_SIZE) as u32;
/// RADIX_TREE_MAX_TAGS (= XA_MAX_MARKS)
const RADIX_TREE_MAX_TAGS: u32 = 3;
/// ACTIVE_CACHELINE_MAX_OVERLAP
const ACTIVE_CACHELINE_MAX_OVERLAP: i32 = (1 << RADIX_TREE_MAX_TAGS) - 1;

/// The stable scenario-file names of classes 1..=23, in class order.
const CLASS_NAMES: [&str; 23] = [
    "map-from-stack",
    "map-from-kernel-text",
    "map-single-invalid-area",
    "overlapping-cacheline",
    "cacheline-overlap-overflow",
    "sg-segment-limits",
    "mmio-on-ram",
    "free-invalid-address",
    "free-never-mapped",
    "size-mismatch",
    "wrong-function",
    "free-different-cpu-address",
    "sg-count-mismatch",
    "direction-mismatch",
    "missing-mapping-error-check",
    "sync-never-mapped",
    "sync-outside-range",
    "sync-direction-mismatch",
    "sync-read-only-for-cpu",
    "sync-write-only-to-device",
    "sync-sg-count-mismatch",
    "pending-at-unbind",
    "pool-grown",
];

/// The stable name of a class for scenario files; "unknown" outside 1..=23.
pub fn class_name(class: u8) -> &'static str {
    match class {
        1..=23 => CLASS_NAMES[class as usize - 1],
        _ => "unknown",
    }
}

/// The class a scenario-file name stands for.
pub fn class_by_name(name: &str) -> Option<u8> {
    CLASS_NAMES.iter().position(|n| *n == name).map(|i| i as u8 + 1)
}

/// The kernel's message format(s) of a class, printf conversions kept, without the
/// "DMA-API: <driver> <device>: " prefix and the trailing newline. Classes 1, 3 and 6 have
/// two messages. Empty outside 1..=23.
pub fn class_formats(class: u8) -> &'static [&'static str] {
    match class {
        1 => &[
            "device driver maps memory from stack [addr=%p]",
            "device driver maps memory from stack [probable addr=%p]",
        ],
        2 => &["device driver maps memory from kernel text or rodata [addr=%p] [len=%lu]"],
        3 => &[
            "device driver maps memory from invalid area [addr=%p] [len=%lu]",
            "device driver maps memory from vmalloc area [addr=%p] [len=%lu]",
        ],
        4 => &["cacheline tracking EEXIST, overlapping mappings aren't supported"],
        5 => &["exceeded %d overlapping mappings of cacheline %pa"],
        6 => &[
            "mapping sg segment longer than device claims to support [len=%u] [max=%u]",
            "mapping sg segment across boundary [start=0x%016llx] [end=0x%016llx] [boundary=0x%016llx]",
        ],
        7 => &["dma_map_resource called for RAM address %pa"],
        8 => &["device driver tries to free an invalid DMA memory address"],
        9 => &["device driver tries to free DMA memory it has not allocated [device address=0x%016llx] [size=%llu bytes]"],
        10 => &["device driver frees DMA memory with different size [device address=0x%016llx] [map size=%llu bytes] [unmap size=%llu bytes]"],
        11 => &["device driver frees DMA memory with wrong function [device address=0x%016llx] [size=%llu bytes] [mapped as %s] [unmapped as %s]"],
        // "0x%pa": %pa prints its own 0x, so the kernel shows "0x0x..." (debug.c since v6.13).
        12 => &["device driver frees DMA memory with different CPU address [device address=0x%016llx] [size=%llu bytes] [cpu alloc address=0x%pa] [cpu free address=0x%pa]"],
        13 => &["device driver frees DMA sg list with different entry count [map count=%d] [unmap count=%d]"],
        14 => &["device driver frees DMA memory with different direction [device address=0x%016llx] [size=%llu bytes] [mapped with %s] [unmapped with %s]"],
        // No space before the first bracket, and no newline at all, in the kernel's string.
        15 => &["device driver failed to check map error[device address=0x%016llx] [size=%llu bytes] [mapped as %s]"],
        16 => &["device driver tries to sync DMA memory it has not allocated [device address=0x%016llx] [size=%llu bytes]"],
        17 => &["device driver syncs DMA memory outside allocated range [device address=0x%016llx] [allocation size=%llu bytes] [sync offset+size=%llu]"],
        18 => &["device driver syncs DMA memory with different direction [device address=0x%016llx] [size=%llu bytes] [mapped with %s] [synced with %s]"],
        19 => &["device driver syncs device read-only DMA memory for cpu [device address=0x%016llx] [size=%llu bytes] [mapped with %s] [synced with %s]"],
        20 => &["device driver syncs device write-only DMA memory to device [device address=0x%016llx] [size=%llu bytes] [mapped with %s] [synced with %s]"],
        21 => &["device driver syncs DMA sg list with different entry count [map count=%d] [sync count=%d]"],
        22 => &["device driver has pending DMA allocations while released from device [count=%d]\nOne of leaked entries details: [device address=0x%016llx] [size=%llu bytes] [mapped with %s] [mapped as %s]"],
        23 => &["dma_debug_entry pool grown to %u (%u00%%)"],
        _ => &[],
    }
}

/// `0x%016llx`
fn hex16(v: u64) -> String {
    format!("0x{v:016x}")
}

/// `%pa` of a 64-bit phys_addr_t: "0x" and 16 zero-padded hex digits.
fn pa(v: u64) -> String {
    format!("0x{v:016x}")
}

/// The entry types of kernel/dma/debug.c (`dma_debug_single` ...); v6.18 adds `dma_debug_phy`
/// and drops `dma_debug_resource`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryType {
    Single,
    /// dma_map_sg
    Sg,
    /// dma_alloc_coherent (not modelled)
    Coherent,
    /// v6.16 only
    Resource,
    /// v6.18 only
    Phy,
}

impl EntryType {
    /// type2name[]. The sg name is "scatter-gather" in the v6.17-rc tree read for L; older
    /// trees had "scather-gather" and when it changed is uncertain.
    pub fn name(self) -> &'static str {
        match self {
            EntryType::Single => "single",
            EntryType::Sg => "scatter-gather",
            EntryType::Coherent => "coherent",
            EntryType::Resource => "resource",
            EntryType::Phy => "phy",
        }
    }
}

/// enum map_err_types
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MapErr {
    /// sg and coherent entries, and lookup references.
    NotApplicable,
    NotChecked,
    Checked,
}

/// dir2name[]; the hooks only see valid directions (the front end BUGs on others).
fn dir2name(dir: DmaDir) -> &'static str {
    dir.kernel_name().unwrap_or("DMA_NONE")
}

/// struct dma_debug_entry, also used as the lookup reference (as the kernel does). Only one
/// device exists, so `dev` is implied.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    dev_addr: u64,
    size: u64,
    ty: EntryType,
    dir: DmaDir,
    /// The nents a scatterlist map or its lookup reference was given (0 for the others).
    sg_call_ents: i32,
    /// How many DMA segments the scatterlist map produced (sg entries only).
    sg_mapped_ents: i32,
    paddr: u64,
    map_err: MapErr,
}

impl Entry {
    fn reference(ty: EntryType, dev_addr: DmaAddr, size: u64, dir: DmaDir) -> Entry {
        Entry {
            dev_addr: dev_addr.0,
            size,
            ty,
            dir,
            sg_call_ents: 0,
            sg_mapped_ents: 0,
            paddr: 0,
            map_err: MapErr::NotApplicable,
        }
    }

    /// The entry a single-mapping hook records: its dma_mapping_error() is not checked yet.
    fn mapped(ty: EntryType, dev_addr: DmaAddr, size: u64, dir: DmaDir, paddr: u64) -> Entry {
        Entry { paddr, map_err: MapErr::NotChecked, ..Entry::reference(ty, dev_addr, size, dir) }
    }
}

/// models hash_fn()
fn hash_fn(dev_addr: u64) -> u16 {
    ((dev_addr >> HASH_FN_SHIFT) & HASH_FN_MASK) as u16
}

/// models exact_match()
fn exact_match(r: &Entry, e: &Entry) -> bool {
    r.dev_addr == e.dev_addr
}

/// models containing_match(); the end addresses wrap as the kernel's u64 sums do.
fn containing_match(r: &Entry, e: &Entry) -> bool {
    e.dev_addr <= r.dev_addr && e.dev_addr.wrapping_add(e.size) >= r.dev_addr.wrapping_add(r.size)
}

/// models __hash_bucket_find(): the first perfect fit (size, type, direction and sg_call_ents
/// all equal), else the single candidate, else (several candidates, none perfect) nothing.
fn hash_bucket_find(list: &[Entry], r: &Entry, is_match: fn(&Entry, &Entry) -> bool) -> Option<usize> {
    let mut found = 0;
    let mut best = None;
    let mut last_lvl = -1;
    for (i, e) in list.iter().enumerate() {
        if !is_match(r, e) {
            continue;
        }
        found += 1;
        let lvl = (e.size == r.size) as i32
            + (e.ty == r.ty) as i32
            + (e.dir == r.dir) as i32
            + (e.sg_call_ents == r.sg_call_ents) as i32;
        if lvl == 4 {
            return Some(i);
        }
        if lvl > last_lvl {
            last_lvl = lvl;
            best = Some(i);
        }
    }
    if found == 1 {
        best
    } else {
        None
    }
}

/// The dma-debug state of one side (one boot of one kernel).
pub struct DmaDebug {
    version: KernelVersion,
    driver: String,
    /// dev_bus_name(): what dev_driver_string() falls back to once the driver is gone.
    bus: &'static str,
    dev_name: String,
    /// dev->driver is set (cleared before BUS_NOTIFY_UNBOUND_DRIVER is sent).
    bound: bool,
    /// `dev->dma_mask` is set; without it the map front ends return before the hook.
    has_dma_mask: bool,
    /// L1_CACHE_SHIFT
    l1_cache_shift: u32,
    /// P only: IS_ENABLED(CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC) && is_swiotlb_active(dev).
    kmalloc_bounce_exempt: bool,
    /// dma_entry_hash[]: the non-empty buckets, each list in insertion order.
    buckets: BTreeMap<u16, Vec<Entry>>,
    live: usize,
    /// dma_active_cacheline: cacheline number to its overlap count (the radix tree's tag bits).
    cachelines: HashMap<u64, i32>,
    /// The WARN_ONCE of active_cacheline_inc_overlap() fired.
    overlap_warned: bool,
    /// nr_prealloc_entries
    nr_prealloc: u32,
    nr_total: u32,
    num_free: u32,
    /// global_disable (only `dma_debug_entries=0` sets it here).
    disabled: bool,
    error_count: u32,
    /// The kernel's memory layout as the scenario gives it: the task stack, the kernel image,
    /// vmalloc space, and RAM (the linear map, for virt_addr_valid()).
    layout: Config,
}

/// L1_CACHE_SHIFT of the arch: 6 on arm64 and on x86_64 (CONFIG_X86_L1_CACHE_SHIFT=6).
fn l1_cache_shift(arch: Arch) -> u32 {
    match arch {
        Arch::Arm64 | Arch::X86_64 => 6,
    }
}

impl DmaDebug {
    /// A checker for one side of `cfg`, with the default pool of 65536 entries.
    pub fn new(cfg: &Config, version: KernelVersion) -> Self {
        Self::with_entries(cfg, version, PREALLOC_DMA_DEBUG_ENTRIES)
    }

    /// A checker booted with `dma_debug_entries=n`.
    pub fn with_entries(cfg: &Config, version: KernelVersion, n: u32) -> Self {
        let swiotlb_active = cfg.swiotlb.is_some_and(|s| s.mode != SwiotlbMode::Off);
        let mut d = DmaDebug {
            version,
            driver: cfg.device.driver.clone(),
            bus: if cfg.device.pci { "pci" } else { "platform" },
            dev_name: cfg.device.name.clone(),
            bound: true,
            has_dma_mask: cfg.device.dma_mask.is_some(),
            l1_cache_shift: l1_cache_shift(cfg.arch),
            // 03521c892bb8 is in the v6.18 cycle, not in v6.16.0.
            kmalloc_bounce_exempt: version == KernelVersion::V6_18
                && cfg.arch.dma_bounce_unaligned_kmalloc()
                && swiotlb_active,
            buckets: BTreeMap::new(),
            live: 0,
            cachelines: HashMap::new(),
            overlap_warned: false,
            nr_prealloc: n,
            nr_total: 0,
            num_free: 0,
            disabled: false,
            error_count: 0,
            layout: Config { ram: cfg.ram.clone(), kernel_areas: cfg.kernel_areas.clone(), ..Config::default() },
        };
        d.dma_debug_init();
        d
    }

    /// models dma_debug_init(): DIV_ROUND_UP(n, 32) pages of entries; none at all disables it.
    fn dma_debug_init(&mut self) {
        let pages = self.nr_prealloc.div_ceil(DMA_DEBUG_DYNAMIC_ENTRIES);
        for _ in 0..pages {
            self.dma_debug_create_entries();
        }
        // "debugging out of memory error - disabled" (at boot, not a report of this checker)
        if self.num_free == 0 {
            self.disabled = true;
        }
    }

    /// models dma_debug_create_entries(); the page allocation never fails here.
    fn dma_debug_create_entries(&mut self) {
        self.num_free += DMA_DEBUG_DYNAMIC_ENTRIES;
        self.nr_total += DMA_DEBUG_DYNAMIC_ENTRIES;
    }

    /// The debug hooks a call runs before it reaches the mapper: debug_dma_map_single() of
    /// dma_map_single_attrs() (after its vmalloc rejection).
    pub fn before(&mut self, call: &ApiCall) -> Vec<DebugReport> {
        let mut out = Vec::new();
        if let ApiCall::MapSingle { ptr, size, .. } = *call {
            if !self.disabled && !self.layout.area_overlaps(KernelAreaKind::Vmalloc, ptr, 1) {
                self.debug_dma_map_single(ptr, size, &mut out);
            }
        }
        out
    }

    /// The debug hooks of a scatterlist call, given the list as the call left it and, for a
    /// map, the DMA segments it made (`mapped`; the hook runs only for a positive count). The
    /// same in v6.16 and v6.18. CONFIG_DMA_API_DEBUG_SG (class 6) is off.
    pub fn observe_sg(
        &mut self,
        call: &ApiCall,
        result: &ApiResult,
        sgl: &[Scatterlist],
        mapped: u32,
    ) -> Vec<DebugReport> {
        let mut out = Vec::new();
        if *result == ApiResult::Bug || self.disabled {
            return out;
        }
        match *call {
            ApiCall::MapSg { nents, dir, .. } if mapped > 0 => {
                self.debug_dma_map_sg(sgl, nents, mapped, dir, call, &mut out)
            }
            ApiCall::MapSgtable { dir, .. } if mapped > 0 => {
                let nents = sgl.len() as u32;
                self.debug_dma_map_sg(sgl, nents, mapped, dir, call, &mut out)
            }
            ApiCall::UnmapSg { nents, dir, .. } => self.debug_dma_sg_walk(sgl, nents, dir, None, &mut out),
            ApiCall::SyncSgForCpu { nelems, dir } => self.debug_dma_sg_walk(sgl, nelems, dir, Some(true), &mut out),
            ApiCall::SyncSgForDevice { nelems, dir } => self.debug_dma_sg_walk(sgl, nelems, dir, Some(false), &mut out),
            _ => {}
        }
        out
    }

    /// models debug_dma_map_sg(): the stack and kernel-image checks on every input entry, then
    /// one sg entry per DMA segment, pairing the i-th element's phys with its DMA fields.
    fn debug_dma_map_sg(
        &mut self,
        sgl: &[Scatterlist],
        nents: u32,
        mapped: u32,
        dir: DmaDir,
        call: &ApiCall,
        out: &mut Vec<DebugReport>,
    ) {
        let attrs = match *call {
            ApiCall::MapSg { attrs, .. } | ApiCall::MapSgtable { attrs, .. } => attrs,
            _ => DmaAttrs(0),
        };
        for s in sgl.iter().take(nents as usize) {
            self.check_for_stack(s.phys().0, out);
            // !PageHighMem(sg_page(s)): no highmem on 64-bit.
            self.check_for_illegal_area(s.phys().0, s.length as u64, out);
        }
        for s in sgl.iter().take(mapped as usize) {
            if !self.dma_entry_alloc(out) {
                return;
            }
            let entry = Entry {
                paddr: s.phys().0,
                sg_call_ents: nents as i32,
                sg_mapped_ents: mapped as i32,
                ..Entry::reference(EntryType::Sg, s.dma_address, s.dma_length as u64, dir)
            };
            self.add_dma_entry(entry, attrs, out);
        }
    }

    /// models debug_dma_unmap_sg() (`sync` None) and debug_dma_sync_sg_for_cpu/device(): a
    /// reference per element, up to the mapped count the first element's entry recorded
    /// (get_nr_mapped_entries()).
    fn debug_dma_sg_walk(
        &mut self,
        sgl: &[Scatterlist],
        nelems: u32,
        dir: DmaDir,
        sync: Option<bool>,
        out: &mut Vec<DebugReport>,
    ) {
        if sync.is_some() && !dir.is_valid() {
            return;
        }
        let mut mapped_ents = 0;
        for (i, s) in sgl.iter().take(nelems as usize).enumerate() {
            let r = Entry {
                paddr: s.phys().0,
                sg_call_ents: nelems as i32,
                ..Entry::reference(EntryType::Sg, s.dma_address, s.dma_length as u64, dir)
            };
            if i == 0 {
                mapped_ents = self.bucket_find_exact(&r).map_or(0, |(b, k)| self.buckets[&b][k].sg_mapped_ents);
            }
            if i as i32 >= mapped_ents {
                break;
            }
            match sync {
                None => self.check_unmap(&r, out),
                Some(to_cpu) => self.check_sync(&r, to_cpu, out),
            }
        }
    }

    /// The debug hooks of one DMA API call the side made, given what it returned. Returns the
    /// reports, in the order the kernel prints them.
    pub fn observe(&mut self, call: &ApiCall, result: &ApiResult) -> Vec<DebugReport> {
        let mut out = Vec::new();
        // A BUG stops the call before any hook.
        if *result == ApiResult::Bug || self.disabled {
            return out;
        }
        let legacy = self.version == KernelVersion::V6_16;
        match *call {
            ApiCall::MapPhys { phys, size, dir, attrs } => {
                if !legacy {
                    self.map_front_end(EntryType::Phy, phys.0, size, dir, attrs, result, &mut out);
                } else if attrs.contains(DmaAttrs::MMIO) {
                    // dmadiff_compat_map_phys(): a v6.16 driver maps MMIO with dma_map_resource()
                    self.map_front_end(
                        EntryType::Resource,
                        phys.0,
                        size,
                        dir,
                        attrs.without(DmaAttrs::MMIO),
                        result,
                        &mut out,
                    );
                } else {
                    self.map_front_end(EntryType::Single, phys.0, size, dir, attrs, result, &mut out);
                }
            }
            ApiCall::MapPageAttrs { page, offset, size, dir, attrs } => {
                let phys = page.0.wrapping_add(offset);
                if legacy {
                    self.map_front_end(EntryType::Single, phys, size, dir, attrs, result, &mut out);
                } else if !attrs.contains(DmaAttrs::MMIO) {
                    // v6.18 dma_map_page_attrs() refuses MMIO before anything else, silently.
                    self.map_front_end(EntryType::Phy, phys, size, dir, attrs, result, &mut out);
                }
            }
            ApiCall::MapSingle { ptr, size, dir, attrs } => {
                // dma_map_single_attrs(): the vmalloc rejection returns before any hook;
                // debug_dma_map_single() ran before the map (see before()).
                if self.layout.area_overlaps(KernelAreaKind::Vmalloc, ptr, 1) {
                    return out;
                }
                if legacy {
                    self.map_front_end(EntryType::Single, ptr, size, dir, attrs, result, &mut out);
                } else if !attrs.contains(DmaAttrs::MMIO) {
                    self.map_front_end(EntryType::Phy, ptr, size, dir, attrs, result, &mut out);
                }
            }
            ApiCall::MapResource { phys, size, dir, attrs } => {
                if legacy {
                    self.map_front_end(EntryType::Resource, phys.0, size, dir, attrs, result, &mut out);
                } else {
                    // v6.18's CONFIG_DMA_API_DEBUG pfn_valid() refusal returns an error before
                    // dma_map_phys(); error results are never recorded in P, so it needs no case.
                    self.map_front_end(EntryType::Phy, phys.0, size, dir, attrs | DmaAttrs::MMIO, result, &mut out);
                }
            }
            ApiCall::UnmapPhys { addr, size, dir, attrs } => {
                let ty = match (legacy, attrs.contains(DmaAttrs::MMIO)) {
                    (false, _) => EntryType::Phy,
                    (true, true) => EntryType::Resource,
                    (true, false) => EntryType::Single,
                };
                self.dma_unmap(ty, addr, size, dir, &mut out);
            }
            ApiCall::UnmapPageAttrs { addr, size, dir, attrs } => {
                if legacy {
                    self.dma_unmap(EntryType::Single, addr, size, dir, &mut out);
                } else if !attrs.contains(DmaAttrs::MMIO) {
                    // v6.18 dma_unmap_page_attrs() returns at once on MMIO.
                    self.dma_unmap(EntryType::Phy, addr, size, dir, &mut out);
                }
            }
            ApiCall::UnmapResource { addr, size, dir, .. } => {
                let ty = if legacy { EntryType::Resource } else { EntryType::Phy };
                self.dma_unmap(ty, addr, size, dir, &mut out);
            }
            ApiCall::SyncForCpu { addr, size, dir } => self.dma_sync_single(true, addr, size, dir, &mut out),
            ApiCall::SyncForDevice { addr, size, dir } => self.dma_sync_single(false, addr, size, dir, &mut out),
            ApiCall::MappingError { addr } => self.debug_dma_mapping_error(addr.0),
            // swiotlb_tbl_*, queries and the iova allocator have no dma-debug hooks.
            _ => {}
        }
        out
    }

    /// BUS_NOTIFY_UNBOUND_DRIVER: dma_debug_device_change() (class 22).
    pub fn driver_unbound(&mut self) -> Vec<DebugReport> {
        let mut out = Vec::new();
        // __device_release_driver() clears dev->driver before the notifier runs, so the
        // report (and any later one) names the bus: "DMA-API: pci 0000:08:00.0: ...".
        self.bound = false;
        self.dma_debug_device_change(&mut out);
        out
    }

    /// Live entries (for tests and the corpus).
    pub fn live_entries(&self) -> usize {
        self.live
    }

    /// The live entries as (type name, dev_addr, size, dir), in the hash's order (the order
    /// of debugfs `dma-api/dump`).
    pub fn live_entry_list(&self) -> Vec<(&'static str, DmaAddr, u64, DmaDir)> {
        self.buckets.values().flatten().map(|e| (e.ty.name(), DmaAddr(e.dev_addr), e.size, e.dir)).collect()
    }

    /// debugfs `dma-api/error_count`: err_printk calls so far (classes 5 and 23 not included).
    pub fn error_count(&self) -> u32 {
        self.error_count
    }

    /// debugfs `dma-api/nr_total_entries`
    pub fn nr_total_entries(&self) -> u32 {
        self.nr_total
    }

    // ---- reporting -------------------------------------------------------------------------

    /// models err_printk() with all_errors=1 and no driver filter.
    fn err_printk(&mut self, class: u8, msg: String, out: &mut Vec<DebugReport>) {
        self.error_count += 1;
        // dev_driver_string(): the driver's name while bound, else the bus name.
        let drv = if self.bound { self.driver.as_str() } else { self.bus };
        out.push(DebugReport { class, text: format!("DMA-API: {drv} {}: {msg}", self.dev_name) });
    }

    // ---- the map-time checks on what is mapped ------------------------------------------------
    //
    // The kernel prints these addresses with %p (hashed); the model prints the linear-map
    // address itself, which is the physical address here.

    /// models check_for_stack() for a direct-mapped stack (CONFIG_VMAP_STACK=n): only the
    /// start of the buffer is tested (object_is_on_stack()).
    fn check_for_stack(&mut self, addr: u64, out: &mut Vec<DebugReport>) {
        if self.layout.area_overlaps(KernelAreaKind::Stack, addr, 1) {
            self.err_printk(1, format!("device driver maps memory from stack [addr={addr:#018x}]"), out);
        }
    }

    /// models check_for_illegal_area(): the range meets _stext.._etext or the rodata section.
    fn check_for_illegal_area(&mut self, addr: u64, len: u64, out: &mut Vec<DebugReport>) {
        if self.layout.area_overlaps(KernelAreaKind::Text, addr, len)
            || self.layout.area_overlaps(KernelAreaKind::Rodata, addr, len)
        {
            self.err_printk(
                2,
                format!("device driver maps memory from kernel text or rodata [addr={addr:#018x}] [len={len}]"),
                out,
            );
        }
    }

    /// models debug_dma_map_single(): a pointer outside the linear map, or in vmalloc space
    /// (which dma_map_single_attrs() rejects before calling this, so that text never shows).
    fn debug_dma_map_single(&mut self, addr: u64, len: u64, out: &mut Vec<DebugReport>) {
        // virt_addr_valid(): a linear-map address with memory behind it (RAM).
        let valid = self.layout.ram.iter().any(|r| addr >= r.start.0 && addr - r.start.0 < r.size);
        if !valid {
            self.err_printk(
                3,
                format!("device driver maps memory from invalid area [addr={addr:#018x}] [len={len}]"),
                out,
            );
        }
        if self.layout.area_overlaps(KernelAreaKind::Vmalloc, addr, 1) {
            self.err_printk(
                3,
                format!("device driver maps memory from vmalloc area [addr={addr:#018x}] [len={len}]"),
                out,
            );
        }
    }

    // ---- the front ends, up to their debug hook ---------------------------------------------

    /// models the map front ends up to their debug hook: v6.16 dma_map_page_attrs() (hook
    /// debug_dma_map_page(), `ty` Single) and dma_map_resource() (debug_dma_map_resource(),
    /// Resource), v6.18 dma_map_phys() (debug_dma_map_phys(), Phy). The direction BUG_ON and
    /// the WARN_ON_ONCE(!dev->dma_mask) return before the hook.
    #[allow(clippy::too_many_arguments)]
    fn map_front_end(
        &mut self,
        ty: EntryType,
        phys: u64,
        size: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
        result: &ApiResult,
        out: &mut Vec<DebugReport>,
    ) {
        if !dir.is_valid() || !self.has_dma_mask {
            return;
        }
        if let ApiResult::Dma(addr) = *result {
            match ty {
                EntryType::Resource => self.debug_dma_map_resource(phys, size, dir, addr, attrs, out),
                EntryType::Phy => self.debug_dma_map_phys(phys, size, dir, addr, attrs, out),
                EntryType::Single => self.debug_dma_map_page(phys, size, dir, addr, attrs, out),
                EntryType::Sg | EntryType::Coherent => unreachable!("no single-mapping front end records {ty:?}"),
            }
        }
    }

    /// The unmap front ends (dma_unmap_page_attrs/dma_unmap_resource, v6.18 dma_unmap_phys):
    /// BUG_ON on the direction, then debug_dma_unmap_{page,resource,phys}() of type `ty`.
    fn dma_unmap(&mut self, ty: EntryType, addr: DmaAddr, size: u64, dir: DmaDir, out: &mut Vec<DebugReport>) {
        if dir.is_valid() {
            self.check_unmap(&Entry::reference(ty, addr, size, dir), out);
        }
    }

    /// The sync front ends (__dma_sync_single_for_{cpu,device}): BUG_ON on the direction, then
    /// the hook. As with CONFIG_DMA_API_DEBUG, the header wrapper always calls in.
    fn dma_sync_single(&mut self, to_cpu: bool, addr: DmaAddr, size: u64, dir: DmaDir, out: &mut Vec<DebugReport>) {
        if !dir.is_valid() {
            return;
        }
        if to_cpu {
            self.debug_dma_sync_single_for_cpu(addr, size, dir, out);
        } else {
            self.debug_dma_sync_single_for_device(addr, size, dir, out);
        }
    }

    // ---- the hooks --------------------------------------------------------------------------

    /// models debug_dma_map_page() (v6.16): error results are ignored; type single.
    fn debug_dma_map_page(
        &mut self,
        phys: u64,
        size: u64,
        dir: DmaDir,
        addr: DmaAddr,
        attrs: DmaAttrs,
        out: &mut Vec<DebugReport>,
    ) {
        if self.dma_mapping_error(addr) {
            return;
        }
        if !self.dma_entry_alloc(out) {
            return;
        }
        let entry = Entry::mapped(EntryType::Single, addr, size, dir, phys);
        self.check_for_stack(phys, out);
        // !PageHighMem(page): no highmem on 64-bit.
        self.check_for_illegal_area(phys, size, out);
        self.add_dma_entry(entry, attrs, out);
    }

    /// models debug_dma_map_resource() (v6.16): it has no dma_mapping_error() test, so a
    /// failed map is recorded as a resource entry at DMA_MAPPING_ERROR.
    fn debug_dma_map_resource(
        &mut self,
        phys: u64,
        size: u64,
        dir: DmaDir,
        addr: DmaAddr,
        attrs: DmaAttrs,
        out: &mut Vec<DebugReport>,
    ) {
        if !self.dma_entry_alloc(out) {
            return;
        }
        let entry = Entry::mapped(EntryType::Resource, addr, size, dir, phys);
        self.add_dma_entry(entry, attrs, out);
    }

    /// models debug_dma_map_phys() (v6.18): error results are ignored; type phy for RAM and MMIO.
    fn debug_dma_map_phys(
        &mut self,
        phys: u64,
        size: u64,
        dir: DmaDir,
        addr: DmaAddr,
        attrs: DmaAttrs,
        out: &mut Vec<DebugReport>,
    ) {
        if self.dma_mapping_error(addr) {
            return;
        }
        if !self.dma_entry_alloc(out) {
            return;
        }
        let entry = Entry::mapped(EntryType::Phy, addr, size, dir, phys);
        // Non-MMIO maps run check_for_stack() and, unless PhysHighMem(), check_for_illegal_area();
        // the 2026 class 7 RAM check is not in v6.18.
        if !attrs.contains(DmaAttrs::MMIO) {
            self.check_for_stack(phys, out);
            self.check_for_illegal_area(phys, size, out);
        }
        self.add_dma_entry(entry, attrs, out);
    }

    /// models dma_mapping_error() (include/linux/dma-mapping.h): it calls
    /// debug_dma_mapping_error() first, also from inside debug.c.
    fn dma_mapping_error(&mut self, addr: DmaAddr) -> bool {
        self.debug_dma_mapping_error(addr.0);
        addr.is_error()
    }

    /// models debug_dma_mapping_error(): the first exact-match entry still "not checked"
    /// becomes "checked".
    fn debug_dma_mapping_error(&mut self, dev_addr: u64) {
        if self.disabled {
            return;
        }
        let r = Entry::reference(EntryType::Single, DmaAddr(dev_addr), 0, DmaDir::BIDIRECTIONAL);
        if let Some(list) = self.buckets.get_mut(&hash_fn(dev_addr)) {
            if let Some(e) = list.iter_mut().find(|e| exact_match(&r, e) && e.map_err == MapErr::NotChecked) {
                e.map_err = MapErr::Checked;
            }
        }
    }

    /// models debug_dma_sync_single_for_cpu(); the reference keeps type single in v6.18 too
    /// (the v6 series' 03/16 and 11/16 leave the sync hooks alone), so a phy entry is never a
    /// perfect fit for a sync.
    fn debug_dma_sync_single_for_cpu(&mut self, addr: DmaAddr, size: u64, dir: DmaDir, out: &mut Vec<DebugReport>) {
        self.check_sync(&Entry::reference(EntryType::Single, addr, size, dir), true, out);
    }

    /// models debug_dma_sync_single_for_device()
    fn debug_dma_sync_single_for_device(&mut self, addr: DmaAddr, size: u64, dir: DmaDir, out: &mut Vec<DebugReport>) {
        self.check_sync(&Entry::reference(EntryType::Single, addr, size, dir), false, out);
    }

    // ---- the hash -------------------------------------------------------------------------

    /// models bucket_find_exact()
    fn bucket_find_exact(&self, r: &Entry) -> Option<(u16, usize)> {
        let b = hash_fn(r.dev_addr);
        let list = self.buckets.get(&b)?;
        hash_bucket_find(list, r, exact_match).map(|i| (b, i))
    }

    /// The non-empty buckets bucket_find_contain() visits, in its order. Step i < limit visits
    /// bucket (hash_fn(addr) - i) mod HASH_SIZE, limit = min(HASH_SIZE, (addr >> 13) + 1). A
    /// limit below HASH_SIZE means addr >> 13 < 16383, so the walk is hash_fn(addr) down to 0;
    /// otherwise it is one full turn, wrapping from 0 to 16383.
    fn contain_walk(&self, addr: u64) -> impl Iterator<Item = (&u16, &Vec<Entry>)> {
        let start = hash_fn(addr);
        let limit = HASH_SIZE.min((addr >> HASH_FN_SHIFT) + 1);
        let wrap = if limit == HASH_SIZE { usize::MAX } else { 0 };
        let below = self.buckets.range(..=start).rev();
        let above = self.buckets.range(start + 1..).rev().take(wrap);
        below.chain(above)
    }

    /// models bucket_find_contain(): the best-fit rule per bucket, walking backwards.
    fn bucket_find_contain(&self, r: &Entry) -> Option<(u16, usize)> {
        self.contain_walk(r.dev_addr).find_map(|(b, list)| hash_bucket_find(list, r, containing_match).map(|i| (*b, i)))
    }

    /// models hash_bucket_add(): list_add_tail()
    fn hash_bucket_add(&mut self, entry: Entry) {
        self.buckets.entry(hash_fn(entry.dev_addr)).or_default().push(entry);
        self.live += 1;
    }

    /// models hash_bucket_del()
    fn hash_bucket_del(&mut self, b: u16, i: usize) -> Entry {
        let list = self.buckets.get_mut(&b).expect("bucket of a found entry");
        let e = list.remove(i);
        if list.is_empty() {
            self.buckets.remove(&b);
        }
        self.live -= 1;
        e
    }

    // ---- active cacheline tracking ---------------------------------------------------------

    /// models to_cacheline_number()
    fn to_cacheline_number(&self, e: &Entry) -> u64 {
        let per_page_shift = PAGE_SHIFT - self.l1_cache_shift;
        ((e.paddr >> PAGE_SHIFT) << per_page_shift) + ((e.paddr & (PAGE_SIZE - 1)) >> self.l1_cache_shift)
    }

    /// models active_cacheline_read_overlap() (0 for a cacheline not in the tree)
    fn active_cacheline_read_overlap(&self, cln: u64) -> i32 {
        self.cachelines.get(&cln).copied().unwrap_or(0)
    }

    /// models active_cacheline_set_overlap(): out-of-range counts are returned, not stored.
    fn active_cacheline_set_overlap(&mut self, cln: u64, overlap: i32) -> i32 {
        if !(0..=ACTIVE_CACHELINE_MAX_OVERLAP).contains(&overlap) {
            return overlap;
        }
        if let Some(c) = self.cachelines.get_mut(&cln) {
            *c = overlap;
        }
        overlap
    }

    /// models active_cacheline_inc_overlap(): class 5 is a WARN_ONCE, once per boot.
    fn active_cacheline_inc_overlap(&mut self, cln: u64, out: &mut Vec<DebugReport>) {
        let overlap = self.active_cacheline_read_overlap(cln) + 1;
        let overlap = self.active_cacheline_set_overlap(cln, overlap);
        if overlap > ACTIVE_CACHELINE_MAX_OVERLAP && !self.overlap_warned {
            self.overlap_warned = true;
            out.push(DebugReport {
                class: 5,
                text: format!(
                    "DMA-API: exceeded {ACTIVE_CACHELINE_MAX_OVERLAP} overlapping mappings of cacheline {}",
                    pa(cln)
                ),
            });
        }
    }

    /// models active_cacheline_dec_overlap()
    fn active_cacheline_dec_overlap(&mut self, cln: u64) -> i32 {
        let overlap = self.active_cacheline_read_overlap(cln) - 1;
        self.active_cacheline_set_overlap(cln, overlap)
    }

    /// models active_cacheline_insert(): TO_DEVICE entries are never inserted; returns whether
    /// the cacheline was already there (-EEXIST). -ENOMEM cannot happen here.
    fn active_cacheline_insert(&mut self, e: &Entry, out: &mut Vec<DebugReport>) -> bool {
        if e.dir == DmaDir::TO_DEVICE {
            return false;
        }
        let cln = self.to_cacheline_number(e);
        if let std::collections::hash_map::Entry::Vacant(v) = self.cachelines.entry(cln) {
            v.insert(0);
            return false;
        }
        self.active_cacheline_inc_overlap(cln, out);
        true
    }

    /// models active_cacheline_remove(): the cacheline goes when the count drops below zero.
    fn active_cacheline_remove(&mut self, e: &Entry) {
        if e.dir == DmaDir::TO_DEVICE {
            return;
        }
        let cln = self.to_cacheline_number(e);
        if self.active_cacheline_dec_overlap(cln) < 0 {
            self.cachelines.remove(&cln);
        }
    }

    /// models add_dma_entry()
    fn add_dma_entry(&mut self, entry: Entry, attrs: DmaAttrs, out: &mut Vec<DebugReport>) {
        self.hash_bucket_add(entry.clone());
        let eexist = self.active_cacheline_insert(&entry, out);
        // 03521c892bb8 (P only): no report with DMA_BOUNCE_UNALIGNED_KMALLOC and an active swiotlb.
        if eexist && !attrs.contains(DmaAttrs::SKIP_CPU_SYNC) && !self.kmalloc_bounce_exempt {
            self.err_printk(4, class_formats(4)[0].to_string(), out);
        }
    }

    // ---- the entry pool --------------------------------------------------------------------

    /// models dma_entry_alloc(): grows the pool by a page when it is empty (class 23 when the
    /// total ticks over a multiple of the initial pool). Growth never fails here.
    fn dma_entry_alloc(&mut self, out: &mut Vec<DebugReport>) -> bool {
        let mut check_leak = None;
        if self.num_free == 0 {
            self.dma_debug_create_entries();
            check_leak = Some(self.nr_total);
        }
        self.num_free -= 1;
        if let Some(nr) = check_leak {
            self.dma_entry_alloc_check_leak(nr, out);
        }
        true
    }

    /// models __dma_entry_alloc_check_leak()
    fn dma_entry_alloc_check_leak(&mut self, nr_entries: u32, out: &mut Vec<DebugReport>) {
        if nr_entries % self.nr_prealloc < DMA_DEBUG_DYNAMIC_ENTRIES {
            out.push(DebugReport {
                class: 23,
                text: format!(
                    "DMA-API: dma_debug_entry pool grown to {nr_entries} ({}00%)",
                    nr_entries / self.nr_prealloc
                ),
            });
        }
    }

    /// models dma_entry_free()
    fn dma_entry_free(&mut self, e: &Entry) {
        self.active_cacheline_remove(e);
        self.num_free += 1;
    }

    // ---- the checks ------------------------------------------------------------------------

    /// models check_unmap(): 8 or 9 when nothing is found; else 10, 11 (12), (13), 14, 15 in
    /// this order, then the entry goes.
    fn check_unmap(&mut self, r: &Entry, out: &mut Vec<DebugReport>) {
        let Some((b, i)) = self.bucket_find_exact(r) else {
            // dma_mapping_error() runs debug_dma_mapping_error() on the address as a side effect.
            if self.dma_mapping_error(DmaAddr(r.dev_addr)) {
                self.err_printk(8, class_formats(8)[0].to_string(), out);
            } else {
                let msg = format!(
                    "device driver tries to free DMA memory it has not allocated [device address={}] [size={} bytes]",
                    hex16(r.dev_addr),
                    r.size
                );
                self.err_printk(9, msg, out);
            }
            return;
        };
        let e = self.buckets[&b][i].clone();
        if r.size != e.size {
            let msg = format!(
                "device driver frees DMA memory with different size [device address={}] [map size={} bytes] [unmap size={} bytes]",
                hex16(r.dev_addr),
                e.size,
                r.size
            );
            self.err_printk(10, msg, out);
        }
        if r.ty != e.ty {
            let msg = format!(
                "device driver frees DMA memory with wrong function [device address={}] [size={} bytes] [mapped as {}] [unmapped as {}]",
                hex16(r.dev_addr),
                r.size,
                e.ty.name(),
                r.ty.name()
            );
            self.err_printk(11, msg, out);
        }
        // Class 12 needs a coherent entry (not modelled).
        if r.sg_call_ents != 0 && r.ty == EntryType::Sg && r.sg_call_ents != e.sg_call_ents {
            let msg = format!(
                "device driver frees DMA sg list with different entry count [map count={}] [unmap count={}]",
                e.sg_call_ents, r.sg_call_ents
            );
            self.err_printk(13, msg, out);
        }
        if r.dir != e.dir {
            let msg = format!(
                "device driver frees DMA memory with different direction [device address={}] [size={} bytes] [mapped with {}] [unmapped with {}]",
                hex16(r.dev_addr),
                r.size,
                dir2name(e.dir),
                dir2name(r.dir)
            );
            self.err_printk(14, msg, out);
        }
        if e.map_err == MapErr::NotChecked {
            // The kernel prints the unmap's size here, not the map's.
            let msg = format!(
                "device driver failed to check map error[device address={}] [size={} bytes] [mapped as {}]",
                hex16(r.dev_addr),
                r.size,
                e.ty.name()
            );
            self.err_printk(15, msg, out);
        }
        let e = self.hash_bucket_del(b, i);
        self.dma_entry_free(&e);
    }

    /// models check_sync(): 16 when no entry contains the range; else 17, then (unless the
    /// mapping is BIDIRECTIONAL) 18, 19, 20. 17 needs a sync range whose end wraps past 2^64.
    fn check_sync(&mut self, r: &Entry, to_cpu: bool, out: &mut Vec<DebugReport>) {
        let Some((b, i)) = self.bucket_find_contain(r) else {
            let msg = format!(
                "device driver tries to sync DMA memory it has not allocated [device address={}] [size={} bytes]",
                hex16(r.dev_addr),
                r.size
            );
            self.err_printk(16, msg, out);
            return;
        };
        let e = self.buckets[&b][i].clone();
        if r.size > e.size {
            let msg = format!(
                "device driver syncs DMA memory outside allocated range [device address={}] [allocation size={} bytes] [sync offset+size={}]",
                hex16(e.dev_addr),
                e.size,
                r.size
            );
            self.err_printk(17, msg, out);
        }
        if e.dir == DmaDir::BIDIRECTIONAL {
            return;
        }
        let detail = format!(
            "[device address={}] [size={} bytes] [mapped with {}] [synced with {}]",
            hex16(r.dev_addr),
            e.size,
            dir2name(e.dir),
            dir2name(r.dir)
        );
        if r.dir != e.dir {
            self.err_printk(18, format!("device driver syncs DMA memory with different direction {detail}"), out);
        }
        if to_cpu && e.dir != DmaDir::FROM_DEVICE && r.dir != DmaDir::TO_DEVICE {
            self.err_printk(19, format!("device driver syncs device read-only DMA memory for cpu {detail}"), out);
        }
        if !to_cpu && e.dir != DmaDir::TO_DEVICE && r.dir != DmaDir::FROM_DEVICE {
            self.err_printk(20, format!("device driver syncs device write-only DMA memory to device {detail}"), out);
        }
        if r.sg_call_ents != 0 && r.ty == EntryType::Sg && r.sg_call_ents != e.sg_call_ents {
            let msg = format!(
                "device driver syncs DMA sg list with different entry count [map count={}] [sync count={}]",
                e.sg_call_ents, r.sg_call_ents
            );
            self.err_printk(21, msg, out);
        }
    }

    /// models device_dma_allocations(): the count and the last entry in hash order.
    fn device_dma_allocations(&self) -> (usize, Option<&Entry>) {
        (self.live, self.buckets.values().flatten().last())
    }

    /// models dma_debug_device_change() for BUS_NOTIFY_UNBOUND_DRIVER
    fn dma_debug_device_change(&mut self, out: &mut Vec<DebugReport>) {
        if self.disabled {
            return;
        }
        let (count, Some(e)) = self.device_dma_allocations() else {
            return;
        };
        let msg = format!(
            "device driver has pending DMA allocations while released from device [count={count}]\nOne of leaked entries details: [device address={}] [size={} bytes] [mapped with {}] [mapped as {}]",
            hex16(e.dev_addr),
            e.size,
            dir2name(e.dir),
            e.ty.name()
        );
        self.err_printk(22, msg, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::SwiotlbConfig;
    use crate::types::{PhysAddr, DMA_MAPPING_ERROR};

    const L: KernelVersion = KernelVersion::V6_16;
    const P: KernelVersion = KernelVersion::V6_18;
    const BOTH: [KernelVersion; 2] = [L, P];
    const PFX: &str = "DMA-API: dmadiff dmadiff0: ";
    const FROM: DmaDir = DmaDir::FROM_DEVICE;
    const TO: DmaDir = DmaDir::TO_DEVICE;
    const BIDI: DmaDir = DmaDir::BIDIRECTIONAL;
    const NOATTR: DmaAttrs = DmaAttrs(0);

    fn checker(v: KernelVersion) -> DmaDebug {
        DmaDebug::new(&Config::default(), v)
    }

    fn map(phys: u64, size: u64, dir: DmaDir, attrs: DmaAttrs) -> ApiCall {
        ApiCall::MapPhys { phys: PhysAddr(phys), size, dir, attrs }
    }
    fn unmap(addr: u64, size: u64, dir: DmaDir) -> ApiCall {
        ApiCall::UnmapPhys { addr: DmaAddr(addr), size, dir, attrs: NOATTR }
    }
    fn cpu(addr: u64, size: u64, dir: DmaDir) -> ApiCall {
        ApiCall::SyncForCpu { addr: DmaAddr(addr), size, dir }
    }
    fn dev(addr: u64, size: u64, dir: DmaDir) -> ApiCall {
        ApiCall::SyncForDevice { addr: DmaAddr(addr), size, dir }
    }
    fn check(addr: u64) -> ApiCall {
        ApiCall::MappingError { addr: DmaAddr(addr) }
    }
    fn ok(addr: u64) -> ApiResult {
        ApiResult::Dma(DmaAddr(addr))
    }
    const ERR: ApiResult = ApiResult::Dma(DMA_MAPPING_ERROR);

    /// A successful 1:1 map of `phys` (no IOMMU), checked with dma_mapping_error().
    fn map_checked(d: &mut DmaDebug, phys: u64, size: u64, dir: DmaDir) {
        assert_eq!(d.observe(&map(phys, size, dir, NOATTR), &ok(phys)), vec![]);
        assert_eq!(d.observe(&check(phys), &ApiResult::Int(0)), vec![]);
    }

    fn classes(r: &[DebugReport]) -> Vec<u8> {
        r.iter().map(|r| r.class).collect()
    }

    fn one(r: Vec<DebugReport>, class: u8, text: &str) {
        assert_eq!(r, vec![DebugReport { class, text: text.to_string() }]);
    }

    /// A list of three 4 KiB pages mapped 1:1 (dma-direct), as the map left it.
    fn sg_list() -> Vec<Scatterlist> {
        (0..3u64)
            .map(|k| {
                let mut s = Scatterlist::new(PhysAddr(0x8001_0000 + k * 0x1_0000), 0, 0x1000);
                s.dma_address = DmaAddr(s.phys().0);
                s.dma_length = 0x1000;
                s
            })
            .collect()
    }

    #[test]
    fn sg_unmap_and_sync_counts_are_checked_per_element_up_to_the_mapped_count() {
        for v in BOTH {
            let mut d = checker(v);
            let sgl = sg_list();
            let mapped = ApiCall::MapSg { nents: 3, dir: FROM, attrs: NOATTR };
            assert_eq!(d.observe_sg(&mapped, &ApiResult::Int(3), &sgl, 3), vec![]);
            // nelems 2 against the map's 3: one class-21 report per element walked
            let sync = d.observe_sg(&ApiCall::SyncSgForCpu { nelems: 2, dir: FROM }, &ApiResult::Void, &sgl, 0);
            let text21 =
                format!("{PFX}device driver syncs DMA sg list with different entry count [map count=3] [sync count=2]");
            assert_eq!(sync, vec![DebugReport { class: 21, text: text21.clone() }; 2]);
            // the right count is silent; a BIDIRECTIONAL list would skip 21 altogether
            assert_eq!(
                d.observe_sg(&ApiCall::SyncSgForCpu { nelems: 3, dir: FROM }, &ApiResult::Void, &sgl, 0),
                vec![]
            );
            let unmap =
                d.observe_sg(&ApiCall::UnmapSg { nents: 2, dir: FROM, attrs: NOATTR }, &ApiResult::Void, &sgl, 0);
            let text13 = format!(
                "{PFX}device driver frees DMA sg list with different entry count [map count=3] [unmap count=2]"
            );
            assert_eq!(unmap, vec![DebugReport { class: 13, text: text13 }; 2]);
            // the third entry is still live: an unmap of a never-mapped list finds no count
            assert_eq!(
                d.observe_sg(&ApiCall::UnmapSg { nents: 1, dir: FROM, attrs: NOATTR }, &ApiResult::Void, &sgl[1..], 0),
                vec![]
            );
            let pending = d.driver_unbound();
            assert_eq!(classes(&pending), vec![22], "{pending:?}");
        }
    }

    #[test]
    fn class_names_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for c in 1..=23u8 {
            let n = class_name(c);
            assert!(n.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-'), "{n}");
            assert!(seen.insert(n), "duplicate {n}");
            assert_eq!(class_by_name(n), Some(c));
            assert!(!class_formats(c).is_empty());
        }
        assert_eq!(class_name(9), "free-never-mapped");
        assert_eq!(class_name(10), "size-mismatch");
        assert_eq!(class_by_name("nonsense"), None);
        assert_eq!(class_name(0), "unknown");
        assert_eq!(DMA_DEBUG_DYNAMIC_ENTRIES, 32);
    }

    #[test]
    fn correct_use_reports_nothing() {
        for v in BOTH {
            let mut d = checker(v);
            map_checked(&mut d, 0x8000_0000, 4096, FROM);
            map_checked(&mut d, 0x8000_2000, 512, TO);
            map_checked(&mut d, 0x8000_4000, 8192, BIDI);
            assert_eq!(d.live_entries(), 3);
            assert_eq!(d.observe(&cpu(0x8000_0000, 4096, FROM), &ApiResult::Void), vec![]);
            assert_eq!(d.observe(&dev(0x8000_0000, 4096, FROM), &ApiResult::Void), vec![]);
            assert_eq!(d.observe(&cpu(0x8000_0100, 64, FROM), &ApiResult::Void), vec![], "a sub-range");
            assert_eq!(d.observe(&dev(0x8000_2000, 512, TO), &ApiResult::Void), vec![]);
            assert_eq!(d.observe(&cpu(0x8000_5000, 4096, BIDI), &ApiResult::Void), vec![]);
            assert_eq!(d.observe(&unmap(0x8000_0000, 4096, FROM), &ApiResult::Void), vec![]);
            assert_eq!(d.observe(&unmap(0x8000_2000, 512, TO), &ApiResult::Void), vec![]);
            assert_eq!(d.observe(&unmap(0x8000_4000, 8192, BIDI), &ApiResult::Void), vec![]);
            assert_eq!(d.live_entries(), 0);
            assert!(d.cachelines.is_empty());
            assert_eq!(d.driver_unbound(), vec![]);
            assert_eq!(d.error_count(), 0);
        }
    }

    #[test]
    fn live_entry_list_names_the_types() {
        let mut d = checker(L);
        d.observe(&map(0x8000_0000, 64, FROM, NOATTR), &ok(0x8000_0000));
        d.observe(&map(0xf000_0000, 4, TO, DmaAttrs::MMIO), &ok(0xf000_0000));
        assert_eq!(
            d.live_entry_list(),
            vec![("single", DmaAddr(0x8000_0000), 64, FROM), ("resource", DmaAddr(0xf000_0000), 4, TO)]
        );
        let mut d = checker(P);
        d.observe(
            &ApiCall::MapResource { phys: PhysAddr(0xf000_0000), size: 4, dir: TO, attrs: NOATTR },
            &ok(0xf000_0000),
        );
        assert_eq!(d.live_entry_list(), vec![("phy", DmaAddr(0xf000_0000), 4, TO)]);
    }

    #[test]
    fn class_8_free_invalid_address() {
        for v in BOTH {
            let mut d = checker(v);
            one(
                d.observe(&unmap(u64::MAX, 4096, FROM), &ApiResult::Void),
                8,
                &format!("{PFX}device driver tries to free an invalid DMA memory address"),
            );
        }
    }

    #[test]
    fn class_9_free_never_mapped() {
        for v in BOTH {
            let mut d = checker(v);
            one(
                d.observe(&unmap(0x8000_0000, 4096, FROM), &ApiResult::Void),
                9,
                &format!("{PFX}device driver tries to free DMA memory it has not allocated [device address=0x0000000080000000] [size=4096 bytes]"),
            );
        }
    }

    #[test]
    fn class_10_size_mismatch() {
        let mut cfg = Config::default();
        cfg.device.name = "0000:01:00.0".into();
        cfg.device.driver = "nvme".into();
        for v in BOTH {
            let mut d = DmaDebug::new(&cfg, v);
            d.observe(&map(0xfffff000, 4096, FROM, NOATTR), &ok(0xfffff000));
            d.observe(&check(0xfffff000), &ApiResult::Int(0));
            one(
                d.observe(&unmap(0xfffff000, 512, FROM), &ApiResult::Void),
                10,
                "DMA-API: nvme 0000:01:00.0: device driver frees DMA memory with different size [device address=0x00000000fffff000] [map size=4096 bytes] [unmap size=512 bytes]",
            );
            assert_eq!(d.live_entries(), 0, "the entry goes anyway");
        }
    }

    #[test]
    fn class_11_only_in_legacy_for_page_and_resource() {
        // Mapped as resource (v6.16's dma_map_resource for MMIO), unmapped as a page.
        let mut d = checker(L);
        d.observe(&map(0xf000_0000, 256, TO, DmaAttrs::MMIO), &ok(0xf000_0000));
        d.observe(&check(0xf000_0000), &ApiResult::Int(0));
        one(
            d.observe(&unmap(0xf000_0000, 256, TO), &ApiResult::Void),
            11,
            &format!("{PFX}device driver frees DMA memory with wrong function [device address=0x00000000f0000000] [size=256 bytes] [mapped as resource] [unmapped as single]"),
        );
        // And the other way round, through the explicit entry points.
        let mut d = checker(L);
        d.observe(
            &ApiCall::MapPageAttrs { page: PhysAddr(0x8000_0000), offset: 0x10, size: 64, dir: FROM, attrs: NOATTR },
            &ok(0x8000_0010),
        );
        d.observe(&check(0x8000_0010), &ApiResult::Int(0));
        let r = d.observe(
            &ApiCall::UnmapResource { addr: DmaAddr(0x8000_0010), size: 64, dir: FROM, attrs: NOATTR },
            &ApiResult::Void,
        );
        one(r, 11, &format!("{PFX}device driver frees DMA memory with wrong function [device address=0x0000000080000010] [size=64 bytes] [mapped as single] [unmapped as resource]"));

        // P: both are "phy".
        let mut d = checker(P);
        d.observe(
            &ApiCall::MapResource { phys: PhysAddr(0xf000_0000), size: 256, dir: TO, attrs: NOATTR },
            &ok(0xf000_0000),
        );
        d.observe(&check(0xf000_0000), &ApiResult::Int(0));
        assert_eq!(d.observe(&unmap(0xf000_0000, 256, TO), &ApiResult::Void), vec![]);
        assert_eq!(d.live_entries(), 0);
    }

    #[test]
    fn class_14_direction_mismatch() {
        for v in BOTH {
            let mut d = checker(v);
            map_checked(&mut d, 0x8000_0000, 4096, FROM);
            one(
                d.observe(&unmap(0x8000_0000, 4096, TO), &ApiResult::Void),
                14,
                &format!("{PFX}device driver frees DMA memory with different direction [device address=0x0000000080000000] [size=4096 bytes] [mapped with DMA_FROM_DEVICE] [unmapped with DMA_TO_DEVICE]"),
            );
        }
    }

    #[test]
    fn class_15_missing_mapping_error_check() {
        for (v, ty) in [(L, "single"), (P, "phy")] {
            let mut d = checker(v);
            d.observe(&map(0x8000_0000, 4096, FROM, NOATTR), &ok(0x8000_0000));
            // The kernel prints the unmap's size.
            one(
                d.observe(&unmap(0x8000_0000, 4096, FROM), &ApiResult::Void),
                15,
                &format!("{PFX}device driver failed to check map error[device address=0x0000000080000000] [size=4096 bytes] [mapped as {ty}]"),
            );
        }
    }

    #[test]
    fn check_unmap_order() {
        let mut d = checker(L);
        d.observe(&map(0xf000_0000, 4096, FROM, DmaAttrs::MMIO), &ok(0xf000_0000));
        let r = d.observe(&unmap(0xf000_0000, 512, TO), &ApiResult::Void);
        assert_eq!(classes(&r), vec![10, 11, 14, 15]);
        assert_eq!(r[3].text, format!("{PFX}device driver failed to check map error[device address=0x00000000f0000000] [size=512 bytes] [mapped as resource]"));
        let mut d = checker(P);
        d.observe(&map(0xf000_0000, 4096, FROM, DmaAttrs::MMIO), &ok(0xf000_0000));
        assert_eq!(classes(&d.observe(&unmap(0xf000_0000, 512, TO), &ApiResult::Void)), vec![10, 14, 15]);
    }

    #[test]
    fn class_16_sync_never_mapped() {
        for v in BOTH {
            let mut d = checker(v);
            one(
                d.observe(&cpu(0x8000_0000, 64, FROM), &ApiResult::Void),
                16,
                &format!("{PFX}device driver tries to sync DMA memory it has not allocated [device address=0x0000000080000000] [size=64 bytes]"),
            );
            // A range running past the end of a mapping is not contained: class 16, not 17.
            map_checked(&mut d, 0x8000_0000, 4096, FROM);
            assert_eq!(classes(&d.observe(&dev(0x8000_0800, 4096, FROM), &ApiResult::Void)), vec![16]);
        }
    }

    #[test]
    fn class_17_needs_a_wrapping_sync_range() {
        for v in BOTH {
            let mut d = checker(v);
            let a = 0xffff_ffff_ffff_e000;
            map_checked(&mut d, a, 0x800, BIDI);
            // a + 0x3000 wraps to 0x1000, which the mapping's end (a + 0x800) "contains".
            one(
                d.observe(&cpu(a, 0x3000, BIDI), &ApiResult::Void),
                17,
                &format!("{PFX}device driver syncs DMA memory outside allocated range [device address=0xffffffffffffe000] [allocation size=2048 bytes] [sync offset+size=12288]"),
            );
        }
    }

    #[test]
    fn classes_18_19_20() {
        for v in BOTH {
            let mut d = checker(v);
            map_checked(&mut d, 0x8000_0000, 4096, TO);
            map_checked(&mut d, 0x9000_0000, 4096, FROM);
            let r = d.observe(&cpu(0x8000_0000, 4096, FROM), &ApiResult::Void);
            assert_eq!(
                r,
                vec![
                    DebugReport { class: 18, text: format!("{PFX}device driver syncs DMA memory with different direction [device address=0x0000000080000000] [size=4096 bytes] [mapped with DMA_TO_DEVICE] [synced with DMA_FROM_DEVICE]") },
                    DebugReport { class: 19, text: format!("{PFX}device driver syncs device read-only DMA memory for cpu [device address=0x0000000080000000] [size=4096 bytes] [mapped with DMA_TO_DEVICE] [synced with DMA_FROM_DEVICE]") },
                ]
            );
            // The address printed is the sync's, the size the mapping's.
            let r = d.observe(&dev(0x9000_0100, 16, TO), &ApiResult::Void);
            assert_eq!(
                r,
                vec![
                    DebugReport { class: 18, text: format!("{PFX}device driver syncs DMA memory with different direction [device address=0x0000000090000100] [size=4096 bytes] [mapped with DMA_FROM_DEVICE] [synced with DMA_TO_DEVICE]") },
                    DebugReport { class: 20, text: format!("{PFX}device driver syncs device write-only DMA memory to device [device address=0x0000000090000100] [size=4096 bytes] [mapped with DMA_FROM_DEVICE] [synced with DMA_TO_DEVICE]") },
                ]
            );
            // 18 alone: a FROM_DEVICE mapping synced for the CPU as BIDIRECTIONAL.
            assert_eq!(classes(&d.observe(&cpu(0x9000_0000, 4096, BIDI), &ApiResult::Void)), vec![18]);
            // A TO_DEVICE mapping synced for the CPU as TO_DEVICE is fine.
            assert_eq!(d.observe(&cpu(0x8000_0000, 4096, TO), &ApiResult::Void), vec![]);
        }
    }

    #[test]
    fn bidirectional_mappings_skip_18_to_20() {
        for v in BOTH {
            let mut d = checker(v);
            map_checked(&mut d, 0x8000_0000, 4096, BIDI);
            for dir in [TO, FROM, BIDI] {
                assert_eq!(d.observe(&cpu(0x8000_0000, 4096, dir), &ApiResult::Void), vec![]);
                assert_eq!(d.observe(&dev(0x8000_0000, 4096, dir), &ApiResult::Void), vec![]);
            }
        }
    }

    #[test]
    fn class_4_overlapping_cacheline_and_suppressions() {
        let msg = format!("{PFX}cacheline tracking EEXIST, overlapping mappings aren't supported");
        for v in BOTH {
            // Same 64-byte line, different offsets.
            let mut d = checker(v);
            map_checked(&mut d, 0x8000_0000, 32, FROM);
            one(d.observe(&map(0x8000_0020, 32, BIDI, NOATTR), &ok(0x8000_0020)), 4, &msg);
            // SKIP_CPU_SYNC on the new mapping suppresses it.
            assert_eq!(d.observe(&map(0x8000_0030, 8, FROM, DmaAttrs::SKIP_CPU_SYNC), &ok(0x8000_0030)), vec![]);
            // TO_DEVICE is never tracked, either way round.
            assert_eq!(d.observe(&map(0x8000_0000, 16, TO, NOATTR), &ok(0x8000_0000)), vec![]);
            let mut d = checker(v);
            d.observe(&map(0x9000_0000, 64, TO, NOATTR), &ok(0x9000_0000));
            assert_eq!(d.observe(&map(0x9000_0000, 64, FROM, NOATTR), &ok(0x9000_0000)), vec![]);
            // The next line is a different cacheline.
            assert_eq!(d.observe(&map(0x9000_0040, 64, FROM, NOATTR), &ok(0x9000_0040)), vec![]);
            // After an unmap the line is free again.
            let mut d = checker(v);
            map_checked(&mut d, 0xa000_0000, 64, FROM);
            d.observe(&unmap(0xa000_0000, 64, FROM), &ApiResult::Void);
            assert_eq!(d.observe(&map(0xa000_0000, 64, FROM, NOATTR), &ok(0xa000_0000)), vec![]);
        }
    }

    #[test]
    fn class_4_kmalloc_bounce_exemption_is_p_only() {
        let swiotlb = |mode| SwiotlbConfig { mode, start: PhysAddr(0x4000_0000), nslabs: None, nareas: None };
        let run = |cfg: &Config, v| {
            let mut d = DmaDebug::new(cfg, v);
            d.observe(&map(0x8000_0000, 8, FROM, NOATTR), &ok(0x8000_0000));
            classes(&d.observe(&map(0x8000_0008, 8, FROM, NOATTR), &ok(0x8000_0008)))
        };
        let mut cfg = Config { swiotlb: Some(swiotlb(SwiotlbMode::On)), ..Config::default() };
        assert_eq!(run(&cfg, L), vec![4], "03521c892bb8 is not in v6.16");
        assert!(run(&cfg, P).is_empty());
        cfg.swiotlb = Some(swiotlb(SwiotlbMode::Force));
        assert!(run(&cfg, P).is_empty());
        cfg.swiotlb = Some(swiotlb(SwiotlbMode::Off));
        assert_eq!(run(&cfg, P), vec![4], "swiotlb not active");
        cfg.swiotlb = None;
        assert_eq!(run(&cfg, P), vec![4]);
        cfg.swiotlb = Some(swiotlb(SwiotlbMode::On));
        cfg.arch = Arch::X86_64;
        assert_eq!(run(&cfg, P), vec![4], "no CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC on x86");
        assert_eq!(run(&cfg, L), vec![4]);
    }

    #[test]
    fn class_5_overlap_count_saturates_at_7() {
        for v in BOTH {
            let mut d = checker(v);
            let skip = DmaAttrs::SKIP_CPU_SYNC;
            // 1 insertion + 7 overlaps fill the counter.
            for i in 0..8u64 {
                assert_eq!(d.observe(&map(0x1000, 64, FROM, skip), &ok(0x10_0000 + i * 0x1000)), vec![]);
            }
            assert_eq!(d.cachelines[&0x40], 7);
            one(
                d.observe(&map(0x1000, 64, FROM, skip), &ok(0x10_8000)),
                5,
                "DMA-API: exceeded 7 overlapping mappings of cacheline 0x0000000000000040",
            );
            assert_eq!(d.cachelines[&0x40], 7, "not stored past the maximum");
            // WARN_ONCE; class 4 still follows when not suppressed.
            assert_eq!(classes(&d.observe(&map(0x1000, 64, FROM, NOATTR), &ok(0x10_9000))), vec![4]);
            assert_eq!(d.live_entries(), 10);
            // Eight removals take the line out of the tree though two mappings are still live,
            // so a new overlapping mapping is not reported.
            for i in 0..8u64 {
                assert_eq!(classes(&d.observe(&unmap(0x10_0000 + i * 0x1000, 64, FROM), &ApiResult::Void)), vec![15]);
            }
            assert!(d.cachelines.is_empty());
            assert_eq!(d.observe(&map(0x1000, 64, FROM, NOATTR), &ok(0x10_a000)), vec![]);
        }
    }

    #[test]
    fn best_fit_with_two_candidates_at_one_address() {
        for v in BOTH {
            // The same buffer mapped twice without an IOMMU: one dma address, two entries.
            let mut d = checker(v);
            d.observe(&map(0x8000_0000, 4096, FROM, NOATTR), &ok(0x8000_0000));
            d.observe(&map(0x8000_0000, 2048, TO, NOATTR), &ok(0x8000_0000));
            // A perfect fit is taken at once: the TO_DEVICE entry, never checked.
            assert_eq!(classes(&d.observe(&unmap(0x8000_0000, 2048, TO), &ApiResult::Void)), vec![15]);
            assert_eq!(d.live_entry_list()[0].2, 4096);

            let mut d = checker(v);
            map_checked(&mut d, 0x8000_0000, 4096, FROM);
            d.observe(&map(0x8000_0000, 2048, TO, NOATTR), &ok(0x8000_0000));
            d.observe(&check(0x8000_0000), &ApiResult::Int(0));
            // No perfect fit and two candidates: nothing found (class 9), nothing removed.
            one(
                d.observe(&unmap(0x8000_0000, 1024, BIDI), &ApiResult::Void),
                9,
                &format!("{PFX}device driver tries to free DMA memory it has not allocated [device address=0x0000000080000000] [size=1024 bytes]"),
            );
            assert_eq!(d.live_entries(), 2);
            // With a single candidate the best (if imperfect) one is taken.
            d.observe(&unmap(0x8000_0000, 2048, TO), &ApiResult::Void);
            assert_eq!(classes(&d.observe(&unmap(0x8000_0000, 1024, BIDI), &ApiResult::Void)), vec![10, 14]);
            assert_eq!(d.live_entries(), 0);
        }
    }

    #[test]
    fn dma_mapping_error_marks_the_first_unchecked_entry() {
        for v in BOTH {
            let mut d = checker(v);
            d.observe(&map(0x8000_0000, 64, TO, NOATTR), &ok(0x8000_0000));
            d.observe(&map(0x9000_0000, 64, TO, NOATTR), &ok(0x9000_0000));
            d.observe(&check(0x9000_0000), &ApiResult::Int(0));
            d.observe(&check(0x9000_0000), &ApiResult::Int(0));
            assert_eq!(d.observe(&unmap(0x9000_0000, 64, TO), &ApiResult::Void), vec![]);
            assert_eq!(classes(&d.observe(&unmap(0x8000_0000, 64, TO), &ApiResult::Void)), vec![15]);

            // debug_dma_map_page()/debug_dma_map_phys() test the new address with
            // dma_mapping_error(), whose debug_dma_mapping_error() marks the first unchecked
            // entry already at that address: mapping one address twice "checks" the first map.
            let mut d = checker(v);
            d.observe(&map(0x8000_0000, 64, TO, NOATTR), &ok(0x8000_0000));
            d.observe(&map(0x8000_0000, 128, TO, NOATTR), &ok(0x8000_0000));
            assert_eq!(d.observe(&unmap(0x8000_0000, 64, TO), &ApiResult::Void), vec![]);
            assert_eq!(classes(&d.observe(&unmap(0x8000_0000, 128, TO), &ApiResult::Void)), vec![15]);
        }
    }

    #[test]
    fn failed_unmap_lookup_still_marks_an_entry_checked() {
        // check_unmap()'s dma_mapping_error() call runs debug_dma_mapping_error() too.
        for v in BOTH {
            let mut d = checker(v);
            d.observe(&map(0x8000_0000, 64, TO, NOATTR), &ok(0x8000_0000));
            // This map's own dma_mapping_error() marks the 64-byte entry.
            d.observe(&map(0x8000_0000, 128, TO, NOATTR), &ok(0x8000_0000));
            assert_eq!(classes(&d.observe(&unmap(0x8000_0000, 256, TO), &ApiResult::Void)), vec![9]);
            // The failed lookup marked the 128-byte one: neither unmap reports class 15.
            assert_eq!(d.observe(&unmap(0x8000_0000, 128, TO), &ApiResult::Void), vec![]);
            assert_eq!(d.observe(&unmap(0x8000_0000, 64, TO), &ApiResult::Void), vec![]);
        }
    }

    #[test]
    fn p_syncs_never_fit_perfectly() {
        // Sync references are type single in both releases; in P the entries are phy, so two
        // identical mappings at one address leave the bucket without a pick.
        for (v, want) in [(L, vec![]), (P, vec![16])] {
            let mut d = checker(v);
            map_checked(&mut d, 0x8000_0000, 4096, FROM);
            d.observe(&map(0x8000_0000, 4096, FROM, DmaAttrs::SKIP_CPU_SYNC), &ok(0x8000_0000));
            assert_eq!(classes(&d.observe(&cpu(0x8000_0000, 4096, FROM), &ApiResult::Void)), want, "{v:?}");
        }
    }

    #[test]
    fn contain_walk_follows_the_kernel_loop() {
        let mut d = checker(L);
        for b in [0u64, 1, 3, 5, 16383] {
            d.hash_bucket_add(Entry::reference(EntryType::Single, DmaAddr(b << 13), 1, FROM));
        }
        let naive = |d: &DmaDebug, addr: u64| -> Vec<u16> {
            let limit = HASH_SIZE.min((addr >> HASH_FN_SHIFT) + 1);
            let mut index = addr;
            let mut v = Vec::new();
            for _ in 0..limit {
                let b = hash_fn(index);
                if d.buckets.contains_key(&b) {
                    v.push(b);
                }
                index = index.wrapping_sub(1 << HASH_FN_SHIFT);
            }
            v
        };
        let walk = |d: &DmaDebug, addr: u64| d.contain_walk(addr).map(|(b, _)| *b).collect::<Vec<u16>>();
        // Below 128 MiB the walk stops at bucket 0 (limit = (addr >> 13) + 1).
        assert_eq!(walk(&d, 0x6000), vec![3, 1, 0]);
        assert_eq!(walk(&d, 0x7ffc000), vec![5, 3, 1, 0], "bucket 16382: 16383 is not visited");
        // From bucket 16383 on it is one full turn.
        assert_eq!(walk(&d, 0x7ffe000), vec![16383, 5, 3, 1, 0]);
        assert_eq!(walk(&d, 0x800_8000), vec![3, 1, 0, 16383, 5]);
        for addr in [0, 0x1fff, 0x6000, 0x7ffc000, 0x7ffe000, 0x800_0000, 0x800_8000, u64::MAX, 0x1234_5678_9abc] {
            assert_eq!(walk(&d, addr), naive(&d, addr), "{addr:#x}");
        }
    }

    #[test]
    fn sync_walk_wraps_and_uses_best_fit_per_bucket() {
        for v in BOTH {
            // A mapping starting in bucket 16383 found from bucket 1 after wrapping past 0.
            let mut d = checker(v);
            map_checked(&mut d, 0x7ffe000, 0x1000_0000, FROM);
            assert_eq!(d.observe(&cpu(0x800_2000, 64, FROM), &ApiResult::Void), vec![]);
            // Two containing entries in the first bucket and no perfect fit: that bucket gives
            // nothing and the walk goes on to the earlier, larger mapping (which reports 18).
            let mut d = checker(v);
            map_checked(&mut d, 0x8000_0000, 0x10000, TO);
            map_checked(&mut d, 0x8000_4000, 0x100, FROM);
            d.observe(&map(0x9000_0000, 0x200, FROM, NOATTR), &ok(0x8000_4000));
            d.observe(&check(0x8000_4000), &ApiResult::Int(0));
            let r = d.observe(&cpu(0x8000_4000, 0x10, FROM), &ApiResult::Void);
            assert_eq!(classes(&r), vec![18, 19]);
            assert!(r[0].text.contains("[size=65536 bytes] [mapped with DMA_TO_DEVICE]"), "{}", r[0].text);
        }
    }

    #[test]
    fn class_23_pool_growth() {
        for v in BOTH {
            let mut d = DmaDebug::with_entries(&Config::default(), v, 32);
            assert_eq!(d.nr_total_entries(), 32);
            for i in 0..32u64 {
                assert_eq!(d.observe(&map(i << 12, 64, TO, NOATTR), &ok(i << 12)), vec![]);
            }
            one(
                d.observe(&map(0x40_0000, 64, TO, NOATTR), &ok(0x40_0000)),
                23,
                "DMA-API: dma_debug_entry pool grown to 64 (200%)",
            );
            assert_eq!(d.nr_total_entries(), 64);
            // Every page of growth is a multiple of a 32-entry pool: 96 is 300%.
            for i in 0..31u64 {
                d.observe(&map(0x50_0000 + (i << 12), 64, TO, NOATTR), &ok(0x50_0000 + (i << 12)));
            }
            one(
                d.observe(&map(0x60_0000, 64, TO, NOATTR), &ok(0x60_0000)),
                23,
                "DMA-API: dma_debug_entry pool grown to 96 (300%)",
            );
            assert_eq!(d.nr_total_entries(), 96);

            // With 64 preallocated: growth to 96 is silent (96 % 64 = 32), to 128 prints 200%.
            let mut d = DmaDebug::with_entries(&Config::default(), v, 64);
            let mut grown = Vec::new();
            for i in 0..128u64 {
                for r in d.observe(&map(i << 12, 64, TO, NOATTR), &ok(i << 12)) {
                    grown.push((i, r.text));
                }
            }
            assert_eq!(grown, vec![(96, "DMA-API: dma_debug_entry pool grown to 128 (200%)".to_string())]);
            // Freed entries are reused before the pool grows again.
            d.observe(&unmap(0, 64, TO), &ApiResult::Void);
            assert_eq!(d.observe(&map(0, 64, TO, NOATTR), &ok(0)), vec![]);
            assert_eq!(d.nr_total_entries(), 128);
        }
        // The default pool, and the 32-entry page of growth.
        let d = checker(P);
        assert_eq!(d.nr_total_entries(), 65536);
        // dma_debug_entries=0: the checker is disabled at boot.
        let mut d = DmaDebug::with_entries(&Config::default(), L, 0);
        assert_eq!(d.observe(&unmap(0x1000, 64, TO), &ApiResult::Void), vec![]);
    }

    #[test]
    fn class_23_and_4_order() {
        // The pool grows in dma_entry_alloc(), before add_dma_entry() reports the overlap.
        let mut d = DmaDebug::with_entries(&Config::default(), L, 1);
        assert_eq!(d.nr_total_entries(), 32);
        for i in 0..32u64 {
            assert_eq!(d.observe(&map(i << 12, 64, FROM, NOATTR), &ok(i << 12)), vec![]);
        }
        let r = d.observe(&map(0x1000, 64, FROM, NOATTR), &ok(0x40_0000));
        assert_eq!(classes(&r), vec![23, 4]);
        assert_eq!(r[0].text, "DMA-API: dma_debug_entry pool grown to 64 (6400%)");
    }

    #[test]
    fn class_22_pending_at_unbind() {
        let mut cfg = Config::default();
        cfg.device.pci = true;
        cfg.device.name = "0000:08:00.0".into();
        cfg.device.driver = "mlx5_core".into();
        for (v, ty) in [(L, "single"), (P, "phy")] {
            let mut d = DmaDebug::new(&cfg, v);
            d.observe(&map(0x8000_0000, 64, TO, NOATTR), &ok(0x1_0ffd_7028));
            d.observe(&map(0x8000_2000, 1534, TO, NOATTR), &ok(0x1_0ffd_6000));
            d.observe(&map(0x8000_4000, 128, FROM, NOATTR), &ok(0x1000));
            // The leaked entry shown is the last one in hash order: the highest bucket (0x3feb,
            // holding both 0x10ffd7028 and 0x10ffd6000), the tail of its list.
            one(
                d.driver_unbound(),
                22,
                &format!("DMA-API: pci 0000:08:00.0: device driver has pending DMA allocations while released from device [count=3]\nOne of leaked entries details: [device address=0x000000010ffd6000] [size=1534 bytes] [mapped with DMA_TO_DEVICE] [mapped as {ty}]"),
            );
            // Reports after the unbind name the bus too.
            let r = d.observe(&unmap(0x5000, 64, TO), &ApiResult::Void);
            assert!(r[0].text.starts_with("DMA-API: pci 0000:08:00.0: device driver tries to free"));
        }
        let mut d = checker(L);
        d.observe(&map(0x8000_0000, 64, TO, NOATTR), &ok(0x8000_0000));
        assert!(d.driver_unbound()[0].text.starts_with("DMA-API: platform dmadiff0: "));
    }

    #[test]
    fn legacy_records_failed_resource_maps() {
        // debug_dma_map_resource() has no dma_mapping_error() test (v6.16).
        let mut d = checker(L);
        assert_eq!(d.observe(&map(0xf000_0000, 4, FROM, DmaAttrs::MMIO), &ERR), vec![]);
        assert_eq!(d.live_entry_list(), vec![("resource", DMA_MAPPING_ERROR, 4, FROM)]);
        // Found at the all-ones address: not class 8, but the unchecked error.
        let r = d.observe(
            &ApiCall::UnmapResource { addr: DMA_MAPPING_ERROR, size: 4, dir: FROM, attrs: NOATTR },
            &ApiResult::Void,
        );
        assert_eq!(classes(&r), vec![15]);
        // A failed page map's dma_mapping_error() marks such an entry checked.
        d.observe(&ApiCall::MapResource { phys: PhysAddr(0xf000_0000), size: 4, dir: FROM, attrs: NOATTR }, &ERR);
        assert_eq!(d.observe(&map(0x8000_0000, 64, FROM, NOATTR), &ERR), vec![]);
        assert_eq!(d.live_entries(), 1);
        assert_eq!(classes(&d.observe(&unmap(u64::MAX, 4, FROM), &ApiResult::Void)), vec![11]);

        // P never records an error result.
        let mut d = checker(P);
        d.observe(&ApiCall::MapResource { phys: PhysAddr(0xf000_0000), size: 4, dir: FROM, attrs: NOATTR }, &ERR);
        d.observe(&map(0x8000_0000, 64, FROM, NOATTR), &ERR);
        assert_eq!(d.live_entries(), 0);
        assert_eq!(classes(&d.observe(&unmap(u64::MAX, 4, FROM), &ApiResult::Void)), vec![8]);

        // No dma_mask: dma_map_resource() returns before the hook.
        let mut cfg = Config::default();
        cfg.device.dma_mask = None;
        let mut d = DmaDebug::new(&cfg, L);
        d.observe(&map(0xf000_0000, 4, FROM, DmaAttrs::MMIO), &ERR);
        assert_eq!(d.live_entries(), 0);
    }

    #[test]
    fn calls_that_never_reach_a_hook() {
        for v in BOTH {
            let mut d = checker(v);
            // BUG_ON(!valid_dma_direction(dir)).
            assert_eq!(d.observe(&unmap(0x1000, 64, DmaDir::NONE), &ApiResult::Bug), vec![]);
            assert_eq!(d.observe(&map(0x1000, 64, DmaDir(7), NOATTR), &ApiResult::Bug), vec![]);
            // A sync the non-debug wrapper skipped with a bad direction: the debug kernel BUGs.
            assert_eq!(d.observe(&cpu(0x1000, 64, DmaDir::NONE), &ApiResult::Void), vec![]);
            // Allocator-level calls have no hooks.
            let tbl = ApiCall::TblUnmapSingle { tlb_addr: PhysAddr(0x1000), size: 64, dir: FROM, attrs: NOATTR };
            assert_eq!(d.observe(&tbl, &ApiResult::Void), vec![]);
        }
        // v6.18's page wrappers refuse MMIO before anything; v6.16 does not know the bit.
        let page_map = ApiCall::MapPageAttrs {
            page: PhysAddr(0x8000_0000),
            offset: 0,
            size: 64,
            dir: FROM,
            attrs: DmaAttrs::MMIO,
        };
        let page_unmap =
            ApiCall::UnmapPageAttrs { addr: DmaAddr(0x8000_0000), size: 64, dir: FROM, attrs: DmaAttrs::MMIO };
        let mut d = checker(P);
        assert_eq!(d.observe(&page_map, &ERR), vec![]);
        assert_eq!(d.observe(&page_unmap, &ApiResult::Void), vec![]);
        let mut d = checker(L);
        d.observe(&page_map, &ok(0x8000_0000));
        assert_eq!(d.live_entry_list(), vec![("single", DmaAddr(0x8000_0000), 64, FROM)]);
        assert_eq!(classes(&d.observe(&page_unmap, &ApiResult::Void)), vec![15]);
        // No dma_mask: dma_map_phys() returns before the hook (and the error is not recorded anyway).
        let mut cfg = Config::default();
        cfg.device.dma_mask = None;
        let mut d = DmaDebug::new(&cfg, P);
        d.observe(&map(0x8000_0000, 64, FROM, NOATTR), &ERR);
        assert_eq!(d.live_entries(), 0);
    }

    #[test]
    fn page_offset_beyond_a_page_is_one_phys() {
        // dma_map_page_attrs(page, offset >= PAGE_SIZE): the cacheline is (page + offset) >> 6.
        for v in BOTH {
            let mut d = checker(v);
            let m = |off| ApiCall::MapPageAttrs {
                page: PhysAddr(0x8000_0000),
                offset: off,
                size: 64,
                dir: FROM,
                attrs: NOATTR,
            };
            d.observe(&m(0x1040), &ok(0x8000_1040));
            assert_eq!(classes(&d.observe(&map(0x8000_1040, 64, FROM, NOATTR), &ok(0x9000_0000))), vec![4]);
            assert!(d.cachelines.contains_key(&(0x8000_1040 >> 6)));
        }
    }
}
