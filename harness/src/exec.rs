//! Runs a scenario on one side: boots a fresh platform and backend, resolves each
//! operation's handles against that side's own results, calls the backend or the platform,
//! and records the outcome, the events it caused and the integrity oracle's findings.

use std::collections::HashMap;

use crate::backend::{self, ApiCall, ApiResult, Side};
use crate::oracle::dma_debug::DmaDebug;
use crate::oracle::integrity::{Access, Integrity};
use crate::oracle::{iommu, sg, swiotlb};
use crate::platform::trace::Event;
use crate::platform::Platform;
use crate::scatterlist::{DmaIovaState, Scatterlist, SgTable};
use crate::scenario::{pattern_byte, DmaRef, MapKind, Op, Query, Scenario, SyncArgs, UnmapKind};
use crate::types::{DmaAddr, DmaAttrs, DmaDir, PhysAddr};

/// A mapping as one side made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub kind: MapKind,
    /// Made by swiotlb_tbl_map_single() directly: `dma` is the tlb_addr, and no device
    /// mapping exists.
    pub allocator_level: bool,
    /// The driver's buffer: page_to_phys(page) + offset, or the phys passed in.
    pub phys: PhysAddr,
    pub dma: DmaAddr,
    pub size: u64,
    pub dir: DmaDir,
    pub attrs: DmaAttrs,
    /// The map call returned an address (not DMA_MAPPING_ERROR, not BUG).
    pub mapped: bool,
    /// Not yet passed to an unmap.
    pub live: bool,
    /// The device's DMA parameters changed while it was live: its unmap and syncs no longer
    /// find the slots it was placed in (misuse, outside the contract).
    pub tainted: bool,
    /// The buffer is not memory at all (no RAM or MMIO there): it has no contents the
    /// contract could speak of.
    pub unbacked: bool,
    /// Where the device sees the buffer (the bounce slot when bounced), as the bus or the
    /// IOMMU translated `dma` right after the map.
    pub target: Option<PhysAddr>,
}

impl Mapping {
    fn made(
        kind: MapKind,
        allocator_level: bool,
        phys: PhysAddr,
        size: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
        res: ApiResult,
    ) -> Self {
        let dma = match res {
            ApiResult::Dma(a) => a,
            _ => crate::types::DMA_MAPPING_ERROR,
        };
        Mapping {
            kind,
            allocator_level,
            phys,
            dma,
            size,
            dir,
            attrs,
            mapped: !dma.is_error(),
            live: true,
            tainted: false,
            unbacked: false,
            target: None,
        }
    }

    /// The DMA API's ownership contract covers this mapping: a streaming mapping of memory the
    /// CPU caches. DMA_ATTR_MMIO and dma_map_resource() promise the memory is never cached, so
    /// no cache maintenance happens for them and nothing is promised about cached RAM behind
    /// them; allocator-level buffers and mappings whose device parameters changed are outside
    /// it too.
    pub fn in_ownership_contract(&self) -> bool {
        !self.allocator_level
            && !self.tainted
            && !self.unbacked
            && self.kind != MapKind::Resource
            && !self.attrs.contains(DmaAttrs::MMIO)
    }

    /// An unmap of `kind` with these resolved arguments is the exact inverse of this map.
    pub fn is_undone_by(&self, kind: UnmapKind, offset: u64, size: u64, dir: DmaDir, attrs: DmaAttrs) -> bool {
        let same_call = match kind {
            UnmapKind::SwiotlbTbl => self.allocator_level,
            UnmapKind::Phys => !self.allocator_level && self.kind == MapKind::Phys,
            UnmapKind::PageAttrs | UnmapKind::Single => {
                !self.allocator_level && matches!(self.kind, MapKind::PageAttrs | MapKind::Single)
            }
            UnmapKind::Resource => !self.allocator_level && self.kind == MapKind::Resource,
        };
        same_call && self.live && offset == 0 && size == self.size && dir == self.dir && attrs == self.attrs
    }
}

/// What an operation returned on one side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Dma(DmaAddr),
    Int(i64),
    Void,
    /// A size_t or pfn, printed in hex.
    Hex(u64),
    /// A `struct iova *`: `(pfn_lo, pfn_hi)`, or NULL.
    Iova(Option<(u64, u64)>),
    /// Bytes a CPU or device read returned.
    Data(Vec<u8>),
    /// The call hit BUG().
    Bug,
    /// An earlier BUG() killed this side.
    NotRun,
    /// A scatterlist map: what it returned (for dma_map_sgtable also sgt->nents) and every
    /// entry of the table as the driver reads it back.
    Sg {
        ret: i64,
        nents: Option<u32>,
        ents: Vec<SgView>,
    },
    /// A two-step IOVA call: what it returned (None: void) and the state after it.
    IovaState {
        ret: Option<i64>,
        addr: DmaAddr,
        size: u64,
    },
    /// The call was not made, for the reason given (a driver guards the two-step calls with
    /// dma_use_iova()).
    NotCalled(&'static str),
}

/// One scatterlist entry after a map: its DMA segment and, when the call changed them, its
/// CPU fields (page, offset, length).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SgView {
    pub dma: DmaAddr,
    pub len: u32,
    pub flags: u32,
    pub cpu: Option<(PhysAddr, u32, u32)>,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Dma(a) => write!(f, "= {a}"),
            Outcome::Int(0) => write!(f, "= 0"),
            Outcome::Int(v) if *v < 0 => write!(f, "= {v} ({})", errno_name(*v)),
            Outcome::Int(v) => write!(f, "= {v}"),
            Outcome::Void => Ok(()),
            Outcome::Hex(v) => write!(f, "= {v:#x}"),
            Outcome::Iova(Some((lo, hi))) => write!(f, "= iova [{lo:#x}-{hi:#x}]"),
            Outcome::Iova(None) => f.write_str("= NULL"),
            Outcome::Data(d) => write!(f, "= {}", hexdump(d)),
            Outcome::Bug => f.write_str("= (BUG, this side stops)"),
            Outcome::NotRun => f.write_str("(not run: this side hit BUG earlier)"),
            Outcome::Sg { ret, nents, ents } => {
                write!(f, "{}", Outcome::Int(*ret))?;
                if let Some(n) = nents {
                    write!(f, ", sgt->nents = {n}")?;
                }
                for (i, e) in ents.iter().enumerate() {
                    write!(f, "\n  sg[{i}] dma_address={} dma_len={:#x}", e.dma, e.len)?;
                    if e.flags & crate::scatterlist::SG_DMA_BUS_ADDRESS != 0 {
                        f.write_str(" (bus address)")?;
                    }
                    if e.flags & crate::scatterlist::SG_DMA_SWIOTLB != 0 {
                        f.write_str(" (swiotlb)")?;
                    }
                    if let Some((page, off, len)) = e.cpu {
                        write!(f, " [CPU entry now page={page} offset={off:#x} length={len:#x}]")?;
                    }
                }
                Ok(())
            }
            Outcome::IovaState { ret, addr, size } => {
                if let Some(r) = ret {
                    write!(f, "{} ", Outcome::Int(*r))?;
                }
                write!(f, "(state addr={addr} size={:#x}", size & !crate::scatterlist::DMA_IOVA_USE_SWIOTLB)?;
                if size & crate::scatterlist::DMA_IOVA_USE_SWIOTLB != 0 {
                    f.write_str(" DMA_IOVA_USE_SWIOTLB")?;
                }
                f.write_str(")")
            }
            Outcome::NotCalled(why) => write!(f, "(not called: {why})"),
        }
    }
}

/// The kernel's name of a negative errno.
pub fn errno_name(v: i64) -> &'static str {
    match v {
        -1 => "-EPERM",
        -5 => "-EIO",
        -12 => "-ENOMEM",
        -14 => "-EFAULT",
        -17 => "-EEXIST",
        -22 => "-EINVAL",
        -34 => "-ERANGE",
        -121 => "-EREMOTEIO",
        -95 => "-EOPNOTSUPP",
        _ => "errno",
    }
}

/// Bytes as a kernel developer reads them: up to 16 in hex, then a length and checksum.
pub fn hexdump(d: &[u8]) -> String {
    let head: Vec<String> = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
    if d.len() <= 16 {
        format!("[{}]", head.join(" "))
    } else {
        let sum = d.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100_0000_01b3));
        format!("[{} ...] ({} bytes, fnv1a {:016x})", head.join(" "), d.len(), sum)
    }
}

/// One operation's record on one side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpRecord {
    /// The DMA API call this op made on this side, with every argument resolved.
    pub call: Option<ApiCall>,
    pub outcome: Outcome,
    pub events: Vec<Event>,
    /// What the integrity oracle found wrong with this op's data.
    pub integrity: Vec<String>,
    /// Allocator invariants this op broke (swiotlb).
    pub invariants: Vec<String>,
}

impl OpRecord {
    fn not_run() -> Self {
        OpRecord {
            call: None,
            outcome: Outcome::NotRun,
            events: Vec::new(),
            integrity: Vec::new(),
            invariants: Vec::new(),
        }
    }
}

/// A whole run of one side.
#[derive(Debug)]
pub struct SideRun {
    pub side: Side,
    /// What booting did to the platform (the swiotlb pool memset, IOMMU set-up reports).
    pub boot_events: Vec<Event>,
    /// The device got dma-iommu ops at boot (behind a DMA domain whose set-up succeeded).
    pub uses_iommu: bool,
    pub records: Vec<OpRecord>,
}

impl SideRun {
    pub fn integrity_failures(&self) -> impl Iterator<Item = (usize, &String)> {
        self.records.iter().enumerate().flat_map(|(i, r)| r.integrity.iter().map(move |m| (i, m)))
    }

    pub fn invariant_failures(&self) -> impl Iterator<Item = (usize, &String)> {
        self.records.iter().enumerate().flat_map(|(i, r)| r.invariants.iter().map(move |m| (i, m)))
    }
}

/// Bytes of the pattern `seed` for `size` bytes.
pub fn pattern(seed: u8, size: u64) -> Vec<u8> {
    (0..size).map(|i| pattern_byte(seed, i)).collect()
}

/// Longest access the executor performs, so a fuzzed size cannot exhaust memory.
pub const MAX_ACCESS: u64 = 1 << 20;

struct Exec<'s> {
    maps: HashMap<&'s str, Mapping>,
    /// alloc_iova / alloc_iova_fast results on this side: the pfn (0 for NULL / failure).
    pfns: HashMap<&'s str, u64>,
    /// Scatterlist tables and how they were mapped on this side.
    tables: HashMap<&'s str, SgObj>,
    /// Two-step IOVA states on this side.
    states: HashMap<&'s str, IovaObj>,
}

/// How a table was last mapped: the nents passed, the direction and attributes, and what
/// the map returned (the count, 0 or a negative errno).
#[derive(Clone, Copy, Debug)]
pub struct SgMapped {
    pub nents: u32,
    pub dir: DmaDir,
    pub attrs: DmaAttrs,
    pub ret: i64,
    /// Mapped through dma_map_sgtable() (which set sgt->nents).
    pub sgtable: bool,
}

/// A scatterlist table on one side.
#[derive(Clone, Debug)]
pub struct SgObj {
    pub sgt: SgTable,
    /// Set by a successful map, cleared by the unmap.
    pub mapped: Option<SgMapped>,
    /// The last map call, whatever it returned: what an unmap or sync leaves out defaults to.
    pub last: Option<SgMapped>,
}

/// A two-step IOVA state on one side: the state and the ranges linked into it.
#[derive(Clone, Debug, Default)]
pub struct IovaObj {
    pub state: DmaIovaState,
    /// (offset, size, phys) of each successful dma_iova_link() not yet unlinked.
    pub links: Vec<(u64, u64, PhysAddr)>,
    /// dma_iova_destroy() or dma_iova_free() ran: the IOVA went back.
    pub freed: bool,
}

/// What a call that takes an sg table or an IOVA state gets beside its arguments.
enum Obj<'x> {
    None,
    Sg(&'x mut SgTable),
    Iova(&'x mut DmaIovaState),
}

/// The CPU buffers of the first `n` entries.
fn cpu_ranges(sgl: &[Scatterlist], n: u32) -> Vec<(PhysAddr, u64)> {
    sgl.iter().take(n as usize).map(|s| (s.phys(), s.length as u64)).collect()
}

/// Every entry after a map, with its CPU fields when the call changed them.
fn sg_views(before: &[Scatterlist], after: &[Scatterlist]) -> Vec<SgView> {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| SgView {
            dma: a.dma_address,
            len: a.dma_length,
            flags: a.dma_flags,
            cpu: (a.page != b.page || a.offset != b.offset || a.length != b.length)
                .then_some((a.page, a.offset, a.length)),
        })
        .collect()
}

/// What dma-debug printed, into the side's trace where the hook runs.
fn push_debug(plat: &mut Platform, reports: Vec<crate::oracle::dma_debug::DebugReport>) {
    for r in reports {
        plat.push(Event::DmaDebug { class: r.class, text: r.text });
    }
}

fn iova_outcome(r: ApiResult, st: &DmaIovaState) -> Outcome {
    match r {
        ApiResult::Int(v) => Outcome::IovaState { ret: Some(v), addr: st.addr, size: st.size },
        ApiResult::Void => Outcome::IovaState { ret: None, addr: st.addr, size: st.size },
        other => api_outcome(other),
    }
}

impl<'s> Exec<'s> {
    fn pfn(&self, r: &DmaRef) -> u64 {
        match r {
            DmaRef::Handle { name, offset } => self.pfns[name.as_str()].wrapping_add(*offset),
            DmaRef::Raw(p) => *p,
            _ => unreachable!("the parser gives pfn operands as numbers or pfn handles"),
        }
    }

    fn resolve(&self, r: &'s DmaRef) -> (DmaAddr, Option<(&Mapping, u64)>) {
        match r {
            DmaRef::Raw(a) => (DmaAddr(*a), None),
            DmaRef::Sg { table, index, offset } => {
                (self.tables[table.as_str()].sgt.sgl[*index as usize].dma_address.wrapping_add(*offset), None)
            }
            DmaRef::Iova { state, offset } => (self.states[state.as_str()].state.addr.wrapping_add(*offset), None),
            DmaRef::Handle { name, offset } => {
                let m = &self.maps[name.as_str()];
                (m.dma.wrapping_add(*offset), Some((m, *offset)))
            }
        }
    }
}

/// Where run time goes, per thread: nanoseconds inside each side's backend calls (the model
/// and the platform effects it causes), for `dmadiff bench`.
pub mod profile {
    use std::cell::Cell;

    thread_local! {
        static NANOS: Cell<[u64; 2]> = const { Cell::new([0, 0]) };
    }

    /// Adds `ns` to side `i` (0: legacy, 1: phys).
    pub fn add(i: usize, ns: u64) {
        NANOS.with(|c| {
            let mut v = c.get();
            v[i] += ns;
            c.set(v);
        });
    }

    /// The totals so far, and resets them.
    pub fn take() -> [u64; 2] {
        NANOS.with(|c| c.replace([0, 0]))
    }
}

/// Runs `sc` on `side`.
pub fn run_side(sc: &Scenario, side: Side) -> SideRun {
    let mut plat = Platform::new(&sc.config);
    let mut be = backend::boot(side, &sc.config, &mut plat);
    let boot_events = plat.take_events();
    let pool = be.swiotlb_pool();
    let mut oracle = Integrity::new(plat.zeroed(), pool.map(|p| (p.start, p.end)));
    let mut ex = Exec { maps: HashMap::new(), pfns: HashMap::new(), tables: HashMap::new(), states: HashMap::new() };
    let mut debug = match sc.config.dma_debug_entries {
        Some(n) => DmaDebug::with_entries(&sc.config, side.version(), n),
        None => DmaDebug::new(&sc.config, side.version()),
    };
    let iommu_dev = iommu::IommuView::new(&sc.config).with_pool(pool.map(|p| (p.start, p.end)));
    let uses_iommu = be.iova_nodes(backend::IovaTree::DmaDomain).is_some();
    // What boot reserved (windows, resv regions): never freed, never reused.
    let boot_nodes = be.iova_nodes(backend::IovaTree::DmaDomain).unwrap_or_default();
    let mut dead = false;
    // Unmaps so far were all exact inverses of their maps (the no-leak invariant needs it).
    let mut clean_unmaps = true;
    let mut min_align = sc.config.device.dma_parms.map_or(0, |p| p.min_align_mask);
    // dma_get_seg_boundary() and dma_get_max_seg_size(): 0 in dma_parms means unset.
    let mut seg_boundary = sc.config.device.dma_parms.map_or(0, |p| p.seg_boundary_mask);
    let max_seg = match sc.config.device.dma_parms.map_or(0, |p| p.max_segment_size) {
        0 => 0x10000,
        m => m,
    };
    let mut records = Vec::with_capacity(sc.ops.len());
    for (index, op) in sc.ops.iter().enumerate() {
        if dead {
            records.push(OpRecord::not_run());
            continue;
        }
        let mut findings = Vec::new();
        let mut invariants = Vec::new();
        let mut made = None;
        let mut got = None;
        let mut call_with = |be: &mut Box<dyn backend::Backend>, plat: &mut Platform, c: ApiCall, obj: Obj<'_>| {
            made = Some(c);
            push_debug(plat, debug.before(&c));
            let t = std::time::Instant::now();
            let r = match obj {
                Obj::None => be.call(plat, &c),
                Obj::Sg(sgt) => be.call_sg(plat, &c, sgt),
                Obj::Iova(st) => be.call_iova(plat, &c, st),
            };
            profile::add(side as usize, t.elapsed().as_nanos() as u64);
            got = Some(r);
            r
        };
        let mut call =
            |be: &mut Box<dyn backend::Backend>, plat: &mut Platform, c: ApiCall| call_with(be, plat, c, Obj::None);
        let outcome = match op {
            Op::Map { handle, kind, phys, offset, size, dir, attrs } => {
                let c = match kind {
                    MapKind::Phys => ApiCall::MapPhys { phys: *phys, size: *size, dir: *dir, attrs: *attrs },
                    MapKind::PageAttrs => {
                        ApiCall::MapPageAttrs { page: *phys, offset: *offset, size: *size, dir: *dir, attrs: *attrs }
                    }
                    MapKind::Resource => ApiCall::MapResource { phys: *phys, size: *size, dir: *dir, attrs: *attrs },
                    MapKind::Single => ApiCall::MapSingle { ptr: phys.0, size: *size, dir: *dir, attrs: *attrs },
                };
                let res = call(&mut be, &mut plat, c);
                let mut m = Mapping::made(*kind, false, phys.wrapping_add(*offset), *size, *dir, *attrs, res);
                m.unbacked = !plat.is_backed(m.phys, m.size);
                if m.mapped {
                    // Where the device will go: a bounce slot when the bus lands in the pool.
                    m.target = plat.device_target(m.dma, m.size);
                    if let Some(target) = m.target {
                        invariants.extend(swiotlb::check_bounced(&*be, m.phys.0, target.0, m.dma.0, m.size, min_align));
                    }
                }
                findings.extend(oracle.observe(index, Access::Map(&m)));
                ex.maps.insert(handle.as_str(), m);
                api_outcome(res)
            }
            Op::TblMap { handle, orig, size, alloc_align_mask, dir, attrs } => {
                let c = ApiCall::TblMapSingle {
                    orig: *orig,
                    size: *size,
                    alloc_align_mask: *alloc_align_mask,
                    dir: *dir,
                    attrs: *attrs,
                };
                let res = call(&mut be, &mut plat, c);
                let m = Mapping::made(MapKind::Phys, true, *orig, *size, *dir, *attrs, res);
                if m.mapped {
                    // The bus address of the slot, as phys_to_dma_unencrypted() gives it.
                    let dma = sc
                        .config
                        .dma_ranges
                        .iter()
                        .find(|r| m.dma.0 >= r.cpu_start.0 && m.dma.0 - r.cpu_start.0 < r.size)
                        .map_or(m.dma.0, |r| r.dma_start + (m.dma.0 - r.cpu_start.0));
                    invariants.extend(swiotlb::check_bounced(&*be, orig.0, m.dma.0, dma, *size, min_align));
                }
                ex.maps.insert(handle.as_str(), m);
                api_outcome(res)
            }
            Op::Unmap { kind, args } => {
                let (addr, target) = ex.resolve(&args.addr);
                let size = args.size.or(target.map(|(m, _)| m.size)).unwrap_or(0);
                let dir = args.dir.or(target.map(|(m, _)| m.dir)).unwrap_or(DmaDir::NONE);
                let attrs = args.attrs.or(target.map(|(m, _)| m.attrs)).unwrap_or_default();
                clean_unmaps &= target.is_some_and(|(m, off)| m.is_undone_by(*kind, off, size, dir, attrs));
                let c = match kind {
                    UnmapKind::Phys => ApiCall::UnmapPhys { addr, size, dir, attrs },
                    UnmapKind::PageAttrs | UnmapKind::Single => ApiCall::UnmapPageAttrs { addr, size, dir, attrs },
                    UnmapKind::Resource => ApiCall::UnmapResource { addr, size, dir, attrs },
                    UnmapKind::SwiotlbTbl => ApiCall::TblUnmapSingle { tlb_addr: PhysAddr(addr.0), size, dir, attrs },
                };
                let res = call(&mut be, &mut plat, c);
                findings.extend(oracle.observe(
                    index,
                    Access::Unmap { target, kind: *kind, size, dir, attrs, events: plat.pending_events() },
                ));
                if let DmaRef::Handle { name, .. } = &args.addr {
                    ex.maps.get_mut(name.as_str()).expect("parser checked handle").live = false;
                }
                api_outcome(res)
            }
            Op::SyncForCpu(a) | Op::SyncForDevice(a) | Op::TblSyncForCpu(a) | Op::TblSyncForDevice(a) => {
                let for_cpu = matches!(op, Op::SyncForCpu(_) | Op::TblSyncForCpu(_));
                let SyncArgs { addr, size, dir } = a;
                let (addr, target) = ex.resolve(addr);
                let size = size.or(target.map(|(m, _)| m.size)).unwrap_or(0);
                let dir = dir.or(target.map(|(m, _)| m.dir)).unwrap_or(DmaDir::NONE);
                let tlb_addr = PhysAddr(addr.0);
                let c = match op {
                    Op::SyncForCpu(_) => ApiCall::SyncForCpu { addr, size, dir },
                    Op::SyncForDevice(_) => ApiCall::SyncForDevice { addr, size, dir },
                    Op::TblSyncForCpu(_) => ApiCall::TblSyncForCpu { tlb_addr, size, dir },
                    _ => ApiCall::TblSyncForDevice { tlb_addr, size, dir },
                };
                let res = call(&mut be, &mut plat, c);
                findings.extend(
                    oracle.observe(index, Access::Sync { target, for_cpu, size, dir, events: plat.pending_events() }),
                );
                api_outcome(res)
            }
            Op::MappingError(r) => {
                let (addr, _) = ex.resolve(r);
                api_outcome(call(&mut be, &mut plat, ApiCall::MappingError { addr }))
            }
            Op::SetMinAlignMask(mask) => {
                if sc.config.device.dma_parms.is_some() {
                    min_align = *mask;
                }
                // Live bounce buffers were placed for the old mask; their release now misreads
                // their slots, as the kernel's would.
                clean_unmaps &= ex.maps.values().all(|m| !m.mapped || !m.live);
                ex.maps.values_mut().filter(|m| m.live).for_each(|m| m.tainted = true);
                api_outcome(call(&mut be, &mut plat, ApiCall::SetMinAlignMask { mask: *mask }))
            }
            Op::SetSegBoundary(mask) => {
                if sc.config.device.dma_parms.is_some() {
                    seg_boundary = *mask;
                }
                api_outcome(call(&mut be, &mut plat, ApiCall::SetSegBoundary { mask: *mask }))
            }
            Op::RunOnCpu(cpu) => api_outcome(call(&mut be, &mut plat, ApiCall::RunOnCpu { cpu: *cpu })),
            Op::IovaInit { granule, start_pfn } => {
                api_outcome(call(&mut be, &mut plat, ApiCall::IovaInit { granule: *granule, start_pfn: *start_pfn }))
            }
            Op::AllocIova { handle, size, limit_pfn, size_aligned } => {
                let c = ApiCall::AllocIova { size: *size, limit_pfn: *limit_pfn, size_aligned: *size_aligned };
                let res = call(&mut be, &mut plat, c);
                ex.pfns.insert(handle.as_str(), if let ApiResult::Iova(Some((lo, _))) = res { lo } else { 0 });
                api_outcome(res)
            }
            Op::AllocIovaFast { handle, size, limit_pfn, flush_rcache } => {
                let c = ApiCall::AllocIovaFast { size: *size, limit_pfn: *limit_pfn, flush_rcache: *flush_rcache };
                let res = call(&mut be, &mut plat, c);
                ex.pfns.insert(handle.as_str(), if let ApiResult::Hex(p) = res { p } else { 0 });
                api_outcome(res)
            }
            Op::FreeIova(r) => api_outcome(call(&mut be, &mut plat, ApiCall::FreeIova { pfn: ex.pfn(r) })),
            Op::FindIova(r) => api_outcome(call(&mut be, &mut plat, ApiCall::FindIova { pfn: ex.pfn(r) })),
            Op::FreeIovaFast { pfn, size } => {
                api_outcome(call(&mut be, &mut plat, ApiCall::FreeIovaFast { pfn: ex.pfn(pfn), size: *size }))
            }
            Op::ReserveIova { pfn_lo, pfn_hi } => {
                api_outcome(call(&mut be, &mut plat, ApiCall::ReserveIova { pfn_lo: *pfn_lo, pfn_hi: *pfn_hi }))
            }
            Op::FreeCpuCachedIovas(cpu) => {
                api_outcome(call(&mut be, &mut plat, ApiCall::FreeCpuCachedIovas { cpu: *cpu }))
            }
            Op::IovaDepotWork => api_outcome(call(&mut be, &mut plat, ApiCall::IovaDepotWork)),
            Op::DeviceReleaseDriver => {
                push_debug(&mut plat, debug.driver_unbound());
                Outcome::Void
            }
            Op::FqFlushTimeout => api_outcome(call(&mut be, &mut plat, ApiCall::FqFlushTimeout)),
            Op::Query(q) => {
                let c = match *q {
                    Query::DmaMaxMappingSize => ApiCall::DmaMaxMappingSize,
                    Query::DmaOptMappingSize => ApiCall::DmaOptMappingSize,
                    Query::SwiotlbMaxMappingSize => ApiCall::SwiotlbMaxMappingSize,
                    Query::IsSwiotlbActive => ApiCall::IsSwiotlbActive,
                    Query::IsSwiotlbForceBounce => ApiCall::IsSwiotlbForceBounce,
                    Query::DmaKmallocNeedsBounce { size, dir } => ApiCall::DmaKmallocNeedsBounce { size, dir },
                };
                api_outcome(call(&mut be, &mut plat, c))
            }
            Op::SgAllocTable { table, nents } => {
                ex.tables.insert(table.as_str(), SgObj { sgt: SgTable::alloc(*nents), mapped: None, last: None });
                Outcome::Void
            }
            Op::SgSetPage { table, index, page, len, offset } => {
                let e = &mut ex.tables.get_mut(table.as_str()).expect("parser checked table").sgt.sgl[*index as usize];
                e.page = *page;
                e.offset = *offset;
                e.length = *len;
                Outcome::Void
            }
            Op::SgChain { table, index } => {
                ex.tables.get_mut(table.as_str()).expect("parser checked table").sgt.sgl[*index as usize].chain_after =
                    true;
                Outcome::Void
            }
            Op::MapSg { table, nents, dir, attrs } => {
                let obj = ex.tables.get_mut(table.as_str()).expect("parser checked table");
                let before = obj.sgt.sgl.clone();
                let used = nents.unwrap_or(obj.sgt.orig_nents);
                let c = match nents {
                    Some(n) => ApiCall::MapSg { nents: *n, dir: *dir, attrs: *attrs },
                    None => ApiCall::MapSgtable { dir: *dir, attrs: *attrs },
                };
                // Mapping a list twice without an unmap is misuse: its first IOVA or slots leak.
                // So is a zero-length entry (an unfilled table): dma-iommu cannot unmap what it
                // mapped at phys 0 with size 0, and its layout pass wraps (see oracle/sg.rs).
                clean_unmaps &= obj.mapped.is_none() && before.iter().take(used as usize).all(|e| e.length > 0);
                let res = call_with(&mut be, &mut plat, c, Obj::Sg(&mut obj.sgt));
                let mapped = match (res, nents) {
                    (ApiResult::Int(v), Some(_)) => v.max(0) as u32,
                    (ApiResult::Int(0), None) => obj.sgt.nents,
                    _ => 0,
                };
                push_debug(&mut plat, debug.observe_sg(&c, &res, &obj.sgt.sgl, mapped));
                let ranges = cpu_ranges(&before, used);
                findings
                    .extend(oracle.observe(index, Access::Opaque { ranges: &ranges, events: plat.pending_events() }));
                match res {
                    ApiResult::Int(v) => {
                        let count = match nents {
                            Some(_) => v,
                            None if v == 0 => obj.sgt.nents as i64,
                            None => v,
                        };
                        let m =
                            SgMapped { nents: used, dir: *dir, attrs: *attrs, ret: count, sgtable: nents.is_none() };
                        obj.last = Some(m);
                        if count > 0 {
                            obj.mapped = Some(m);
                            let lim = sg::SgLimits {
                                pool: pool.map(|p| (p.start, p.end)),
                                max_seg,
                                boundary: if seg_boundary == 0 { u64::MAX } else { seg_boundary },
                            };
                            invariants.extend(sg::check_mapped(&plat, &lim, &before, &obj.sgt.sgl, used, count as u32));
                        }
                        Outcome::Sg {
                            ret: v,
                            nents: nents.is_none().then_some(obj.sgt.nents),
                            ents: sg_views(&before, &obj.sgt.sgl),
                        }
                    }
                    other => api_outcome(other),
                }
            }
            Op::UnmapSg { table, sgtable, nents, dir, attrs } => {
                let obj = ex.tables.get_mut(table.as_str()).expect("parser checked table");
                let last = obj.last;
                let n = if *sgtable {
                    obj.sgt.orig_nents
                } else {
                    nents.or(last.map(|m| m.nents)).unwrap_or(obj.sgt.orig_nents)
                };
                let dir = dir.or(last.map(|m| m.dir)).unwrap_or(DmaDir::BIDIRECTIONAL);
                let attrs = attrs.or(last.map(|m| m.attrs)).unwrap_or_default();
                clean_unmaps &= obj.mapped.is_some_and(|m| m.nents == n && m.dir == dir && m.attrs == attrs);
                let c = ApiCall::UnmapSg { nents: n, dir, attrs };
                let res = call_with(&mut be, &mut plat, c, Obj::Sg(&mut obj.sgt));
                push_debug(&mut plat, debug.observe_sg(&c, &res, &obj.sgt.sgl, 0));
                let ranges = cpu_ranges(&obj.sgt.sgl, n);
                findings
                    .extend(oracle.observe(index, Access::Opaque { ranges: &ranges, events: plat.pending_events() }));
                obj.mapped = None;
                api_outcome(res)
            }
            Op::SyncSg { table, for_cpu, nelems, dir } => {
                let obj = ex.tables.get_mut(table.as_str()).expect("parser checked table");
                let last = obj.last;
                let n = nelems.or(last.map(|m| m.nents)).unwrap_or(obj.sgt.orig_nents);
                let dir = dir.or(last.map(|m| m.dir)).unwrap_or(DmaDir::BIDIRECTIONAL);
                let c = if *for_cpu {
                    ApiCall::SyncSgForCpu { nelems: n, dir }
                } else {
                    ApiCall::SyncSgForDevice { nelems: n, dir }
                };
                let res = call_with(&mut be, &mut plat, c, Obj::Sg(&mut obj.sgt));
                push_debug(&mut plat, debug.observe_sg(&c, &res, &obj.sgt.sgl, 0));
                let ranges = cpu_ranges(&obj.sgt.sgl, n);
                findings
                    .extend(oracle.observe(index, Access::Opaque { ranges: &ranges, events: plat.pending_events() }));
                api_outcome(res)
            }
            Op::IovaTryAlloc { state, phys, size } => {
                let obj = ex.states.entry(state.as_str()).or_default();
                let res = call_with(
                    &mut be,
                    &mut plat,
                    ApiCall::IovaTryAlloc { phys: *phys, size: *size },
                    Obj::Iova(&mut obj.state),
                );
                iova_outcome(res, &obj.state)
            }
            Op::IovaLink { state, phys, offset, size, dir, attrs } => {
                let obj = ex.states.get_mut(state.as_str()).expect("parser checked state");
                if !obj.state.use_iova() {
                    Outcome::NotCalled("dma_use_iova() is false")
                } else {
                    clean_unmaps &= !obj.freed;
                    let c = ApiCall::IovaLink { phys: *phys, offset: *offset, size: *size, dir: *dir, attrs: *attrs };
                    let res = call_with(&mut be, &mut plat, c, Obj::Iova(&mut obj.state));
                    if res == ApiResult::Int(0) {
                        obj.links.push((*offset, *size, *phys));
                    }
                    findings.extend(
                        oracle.observe(
                            index,
                            Access::Opaque { ranges: &[(*phys, *size)], events: plat.pending_events() },
                        ),
                    );
                    iova_outcome(res, &obj.state)
                }
            }
            Op::IovaSync { state, offset, size } => {
                let obj = ex.states.get_mut(state.as_str()).expect("parser checked state");
                if !obj.state.use_iova() {
                    Outcome::NotCalled("dma_use_iova() is false")
                } else {
                    let res = call_with(
                        &mut be,
                        &mut plat,
                        ApiCall::IovaSync { offset: *offset, size: *size },
                        Obj::Iova(&mut obj.state),
                    );
                    iova_outcome(res, &obj.state)
                }
            }
            Op::IovaUnlink { state, offset, size, dir, attrs } => {
                let obj = ex.states.get_mut(state.as_str()).expect("parser checked state");
                if !obj.state.use_iova() {
                    Outcome::NotCalled("dma_use_iova() is false")
                } else {
                    let at = obj.links.iter().position(|&(o, n, _)| o == *offset && n == *size);
                    clean_unmaps &= at.is_some() && !obj.freed;
                    let ranges: Vec<(PhysAddr, u64)> =
                        at.map(|i| obj.links.remove(i)).map(|(_, n, p)| (p, n)).into_iter().collect();
                    let c = ApiCall::IovaUnlink { offset: *offset, size: *size, dir: *dir, attrs: *attrs };
                    let res = call_with(&mut be, &mut plat, c, Obj::Iova(&mut obj.state));
                    findings.extend(
                        oracle.observe(index, Access::Opaque { ranges: &ranges, events: plat.pending_events() }),
                    );
                    iova_outcome(res, &obj.state)
                }
            }
            Op::IovaDestroy { state, mapped_len, dir, attrs } => {
                let obj = ex.states.get_mut(state.as_str()).expect("parser checked state");
                if !obj.state.use_iova() {
                    Outcome::NotCalled("dma_use_iova() is false")
                } else {
                    // A partial mapped_len frees into a smaller range cache (spec dma-iommu.md §2.12).
                    // The unlink walks the page table to its first hole: the links must cover
                    // [0, mapped_len) without one.
                    let mut spans: Vec<(u64, u64)> =
                        obj.links.iter().map(|&(o, n, _)| (o, o.saturating_add(n))).collect();
                    spans.sort_unstable();
                    let covered = spans.iter().try_fold(0u64, |at, &(lo, hi)| (lo <= at).then_some(at.max(hi)));
                    clean_unmaps &= !obj.freed && *mapped_len == obj.state.iova_size() && covered == Some(*mapped_len);
                    let ranges: Vec<(PhysAddr, u64)> = obj.links.drain(..).map(|(_, n, p)| (p, n)).collect();
                    let c = ApiCall::IovaDestroy { mapped_len: *mapped_len, dir: *dir, attrs: *attrs };
                    let res = call_with(&mut be, &mut plat, c, Obj::Iova(&mut obj.state));
                    findings.extend(
                        oracle.observe(index, Access::Opaque { ranges: &ranges, events: plat.pending_events() }),
                    );
                    obj.freed = true;
                    iova_outcome(res, &obj.state)
                }
            }
            Op::IovaFree { state } => {
                let obj = ex.states.get_mut(state.as_str()).expect("parser checked state");
                if !obj.state.use_iova() {
                    Outcome::NotCalled("dma_use_iova() is false")
                } else {
                    clean_unmaps &= !obj.freed && obj.links.is_empty();
                    let res = call_with(&mut be, &mut plat, ApiCall::IovaFree, Obj::Iova(&mut obj.state));
                    obj.freed = true;
                    iova_outcome(res, &obj.state)
                }
            }
            Op::CpuWrite { phys, size, seed } => {
                let data = pattern(*seed, (*size).min(MAX_ACCESS));
                // A store that faulted changed nothing.
                if plat.cpu_write(*phys, &data) {
                    findings.extend(oracle.observe(index, Access::CpuWrite { phys: *phys, data: &data }));
                }
                Outcome::Void
            }
            Op::CpuRead { phys, size } => {
                let (data, reached) = plat.cpu_read(*phys, (*size).min(MAX_ACCESS));
                if reached {
                    findings.extend(oracle.observe(index, Access::CpuRead { phys: *phys, data: &data }));
                }
                Outcome::Data(data)
            }
            Op::DevWrite { addr, size, seed } => {
                let (a, target) = ex.resolve(addr);
                let data = pattern(*seed, (*size).min(MAX_ACCESS));
                let landed = plat.dev_write(a, &data);
                findings.extend(oracle.observe(index, Access::DevWrite { target, data: &data, landed: &landed }));
                Outcome::Void
            }
            Op::DevRead { addr, size } => {
                let (a, target) = ex.resolve(addr);
                let (data, landed) = plat.dev_read(a, (*size).min(MAX_ACCESS));
                findings.extend(oracle.observe(index, Access::DevRead { target, data: &data, landed: &landed }));
                Outcome::Data(data)
            }
        };
        // The dma-debug hooks of the call, as a CONFIG_DMA_API_DEBUG kernel would run them.
        if let (Some(c), Some(r)) = (made, got) {
            push_debug(&mut plat, debug.observe(&c, &r));
        }
        if outcome == Outcome::Bug {
            dead = true;
        }
        // Misuse (double or partial unmaps) corrupts the kernel's own lists: judge them only
        // while every unmap so far was the exact inverse of its map.
        if made.is_some() && !dead {
            // Overlapping live IOVA ranges are wrong whatever the driver did.
            invariants.extend(iommu::check_iova_trees(&*be));
        }
        // Live lists and linked ranges hold page-table entries the single-mapping view does
        // not know: the sg oracle checks those; the table is judged whole when they are gone.
        let sg_live = ex.tables.values().any(|t| t.mapped.is_some()) || ex.states.values().any(|s| !s.links.is_empty());
        if made.is_some() && !dead && clean_unmaps {
            invariants.extend(swiotlb::check_free_lists(&*be));
            if !sg_live {
                invariants.extend(iommu_dev.check_page_table(side, &plat, uses_iommu, ex.maps.values()));
            }
        }
        let last = index + 1 == sc.ops.len();
        let all_gone = ex.maps.values().all(|m| !m.mapped || !m.live)
            && !sg_live
            && ex.states.values().all(|s| s.freed || !s.state.use_iova());
        if last && !dead && clean_unmaps && all_gone {
            invariants.extend(swiotlb::check_no_leak(&*be));
            invariants.extend(iommu::check_iova_reusable(&*be, &boot_nodes));
        }
        records.push(OpRecord { call: made, outcome, events: plat.take_events(), integrity: findings, invariants });
    }
    SideRun { side, boot_events, uses_iommu, records }
}

fn api_outcome(r: ApiResult) -> Outcome {
    match r {
        ApiResult::Dma(a) => Outcome::Dma(a),
        ApiResult::Int(v) => Outcome::Int(v),
        ApiResult::Void => Outcome::Void,
        ApiResult::Hex(v) => Outcome::Hex(v),
        ApiResult::Iova(n) => Outcome::Iova(n),
        ApiResult::Bug => Outcome::Bug,
    }
}
