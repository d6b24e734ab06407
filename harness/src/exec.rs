//! Runs a scenario on one side: boots a fresh platform and backend, resolves each
//! operation's handles against that side's own results, calls the backend or the platform,
//! and records the outcome, the events it caused and the integrity oracle's findings.

use std::collections::HashMap;

use crate::backend::{self, ApiCall, ApiResult, Side};
use crate::oracle::integrity::{Access, Integrity};
use crate::platform::trace::Event;
use crate::platform::Platform;
use crate::scenario::{pattern_byte, DmaRef, MapKind, Op, Scenario, SyncArgs, UnmapKind};
use crate::types::{DmaAddr, DmaAttrs, DmaDir, PhysAddr};

/// A mapping as one side made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub kind: MapKind,
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
}

/// What an operation returned on one side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Dma(DmaAddr),
    Int(i32),
    Void,
    /// Bytes a CPU or device read returned.
    Data(Vec<u8>),
    /// The call hit BUG().
    Bug,
    /// An earlier BUG() killed this side.
    NotRun,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Dma(a) => write!(f, "= {a}"),
            Outcome::Int(0) => write!(f, "= 0"),
            Outcome::Int(v) => write!(f, "= {v} ({})", errno_name(*v)),
            Outcome::Void => Ok(()),
            Outcome::Data(d) => write!(f, "= {}", hexdump(d)),
            Outcome::Bug => f.write_str("= (BUG, this side stops)"),
            Outcome::NotRun => f.write_str("(not run: this side hit BUG earlier)"),
        }
    }
}

fn errno_name(v: i32) -> &'static str {
    match v {
        -12 => "-ENOMEM",
        -5 => "-EIO",
        -22 => "-EINVAL",
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
}

/// A whole run of one side.
#[derive(Debug)]
pub struct SideRun {
    pub side: Side,
    pub records: Vec<OpRecord>,
}

impl SideRun {
    pub fn integrity_failures(&self) -> impl Iterator<Item = (usize, &String)> {
        self.records.iter().enumerate().flat_map(|(i, r)| r.integrity.iter().map(move |m| (i, m)))
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
}

impl<'s> Exec<'s> {
    fn resolve(&self, r: &'s DmaRef) -> (DmaAddr, Option<(&Mapping, u64)>) {
        match r {
            DmaRef::Raw(a) => (DmaAddr(*a), None),
            DmaRef::Handle { name, offset } => {
                let m = &self.maps[name.as_str()];
                (m.dma.add(*offset), Some((m, *offset)))
            }
        }
    }
}

/// Runs `sc` on `side`.
pub fn run_side(sc: &Scenario, side: Side) -> SideRun {
    let mut plat = Platform::new(&sc.config);
    let mut be = backend::boot(side, &sc.config);
    let mut oracle = Integrity::new(&sc.config);
    let mut ex = Exec { maps: HashMap::new() };
    let mut dead = false;
    let mut records = Vec::with_capacity(sc.ops.len());
    for (index, op) in sc.ops.iter().enumerate() {
        if dead {
            records.push(OpRecord { call: None, outcome: Outcome::NotRun, events: Vec::new(), integrity: Vec::new() });
            continue;
        }
        let mut findings = Vec::new();
        let mut made = None;
        let outcome = match op {
            Op::Map { handle, kind, phys, offset, size, dir, attrs } => {
                let call = match kind {
                    MapKind::Phys => ApiCall::MapPhys { phys: *phys, size: *size, dir: *dir, attrs: *attrs },
                    MapKind::PageAttrs => {
                        ApiCall::MapPageAttrs { page: *phys, offset: *offset, size: *size, dir: *dir, attrs: *attrs }
                    }
                    MapKind::Resource => ApiCall::MapResource { phys: *phys, size: *size, dir: *dir, attrs: *attrs },
                };
                let res = be.call(&mut plat, &call);
                made = Some(call);
                let dma = match res {
                    ApiResult::Dma(a) => a,
                    _ => crate::types::DMA_MAPPING_ERROR,
                };
                let m = Mapping {
                    kind: *kind,
                    phys: phys.add(*offset),
                    dma,
                    size: *size,
                    dir: *dir,
                    attrs: *attrs,
                    mapped: matches!(res, ApiResult::Dma(a) if !a.is_error()),
                    live: true,
                };
                findings.extend(oracle.observe(index, Access::Map(&m)));
                ex.maps.insert(handle.as_str(), m);
                api_outcome(res)
            }
            Op::Unmap { kind, args } => {
                let (addr, target) = ex.resolve(&args.addr);
                let size = args.size.or(target.map(|(m, _)| m.size)).unwrap_or(0);
                let dir = args.dir.or(target.map(|(m, _)| m.dir)).unwrap_or(DmaDir::NONE);
                let attrs = args.attrs.or(target.map(|(m, _)| m.attrs)).unwrap_or_default();
                let call = match kind {
                    UnmapKind::Phys => ApiCall::UnmapPhys { addr, size, dir, attrs },
                    UnmapKind::PageAttrs => ApiCall::UnmapPageAttrs { addr, size, dir, attrs },
                    UnmapKind::Resource => ApiCall::UnmapResource { addr, size, dir, attrs },
                };
                let res = be.call(&mut plat, &call);
                made = Some(call);
                findings.extend(oracle.observe(
                    index,
                    Access::Unmap { target, kind: *kind, size, dir, attrs, events: plat.pending_events() },
                ));
                if let DmaRef::Handle { name, .. } = &args.addr {
                    ex.maps.get_mut(name.as_str()).expect("parser checked handle").live = false;
                }
                api_outcome(res)
            }
            Op::SyncForCpu(a) | Op::SyncForDevice(a) => {
                let for_cpu = matches!(op, Op::SyncForCpu(_));
                let SyncArgs { addr, size, dir } = a;
                let (addr, target) = ex.resolve(addr);
                let size = size.or(target.map(|(m, _)| m.size)).unwrap_or(0);
                let dir = dir.or(target.map(|(m, _)| m.dir)).unwrap_or(DmaDir::NONE);
                let call = if for_cpu {
                    ApiCall::SyncForCpu { addr, size, dir }
                } else {
                    ApiCall::SyncForDevice { addr, size, dir }
                };
                let res = be.call(&mut plat, &call);
                made = Some(call);
                findings.extend(
                    oracle.observe(index, Access::Sync { target, for_cpu, size, dir, events: plat.pending_events() }),
                );
                api_outcome(res)
            }
            Op::MappingError(r) => {
                let (addr, _) = ex.resolve(r);
                let call = ApiCall::MappingError { addr };
                made = Some(call);
                api_outcome(be.call(&mut plat, &call))
            }
            Op::CpuWrite { phys, size, seed } => {
                let data = pattern(*seed, (*size).min(MAX_ACCESS));
                plat.cpu_write(*phys, &data);
                findings.extend(oracle.observe(index, Access::CpuWrite { phys: *phys, data: &data }));
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
                findings.extend(oracle.observe(index, Access::DevWrite { target, data: &data, landed }));
                Outcome::Void
            }
            Op::DevRead { addr, size } => {
                let (a, target) = ex.resolve(addr);
                let (data, landed) = plat.dev_read(a, (*size).min(MAX_ACCESS));
                findings.extend(oracle.observe(index, Access::DevRead { target, data: &data, landed }));
                Outcome::Data(data)
            }
        };
        if outcome == Outcome::Bug {
            dead = true;
        }
        records.push(OpRecord { call: made, outcome, events: plat.take_events(), integrity: findings });
    }
    SideRun { side, records }
}

fn api_outcome(r: ApiResult) -> Outcome {
    match r {
        ApiResult::Dma(a) => Outcome::Dma(a),
        ApiResult::Int(v) => Outcome::Int(v),
        ApiResult::Void => Outcome::Void,
        ApiResult::Bug => Outcome::Bug,
    }
}
