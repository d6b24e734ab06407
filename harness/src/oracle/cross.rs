//! The cross-check between the two ways a driver maps a list behind a DMA domain: one
//! dma_map_sg_attrs() on one side, dma_iova_try_alloc() plus a dma_iova_link() per entry on
//! the other. Where the kernel says they meet (a coherent, trusted device; the first entry
//! may start inside a granule, every later one starts on a granule and every one but the
//! last ends on one; one DMA segment), both give the same IOVA, the same IOMMU translation
//! with the same protection, and the same device-visible bytes.

use std::collections::BTreeMap;

use crate::backend::Side;
use crate::exec::{run_side, Outcome, SideRun};
use crate::platform::trace::Event;
use crate::scenario::{Config, DmaRef, Op, Scenario};
use crate::types::{DmaAddr, DmaAttrs, DmaDir, IommuProt, PhysAddr, PAGE_SIZE};

/// One entry of the list: where it starts and how long it is.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub phys: PhysAddr,
    pub len: u32,
}

/// Why a list or configuration is outside what the cross-check compares.
pub fn unsupported(cfg: &Config, ents: &[Entry]) -> Option<&'static str> {
    let Some(i) = cfg.iommu.as_ref() else { return Some("no IOMMU") };
    if i.domain == crate::scenario::IommuDomainType::Identity {
        return Some("an identity domain");
    }
    if !cfg.device.coherent || cfg.device.untrusted {
        return Some("swiotlb paths differ by design (dev_use_sg_swiotlb against per-link bounces)");
    }
    let g = i.granule();
    if ents.is_empty() || ents.iter().any(|e| e.len == 0) {
        return Some("an empty entry");
    }
    let total: u64 = ents.iter().map(|e| e.len as u64).sum::<u64>() + (ents[0].phys.0 & (g - 1));
    let max_seg =
        cfg.device.dma_parms.map_or(0x10000, |p| if p.max_segment_size == 0 { 0x10000 } else { p.max_segment_size });
    if total > max_seg as u64 || cfg.device.dma_parms.is_some_and(|p| p.seg_boundary_mask != 0) {
        return Some("more than one DMA segment");
    }
    for (k, e) in ents.iter().enumerate() {
        let end = e.phys.0 + e.len as u64;
        if (k > 0 && e.phys.0 & (g - 1) != 0) || (k + 1 < ents.len() && end & (g - 1) != 0) {
            return Some("an inner entry boundary inside a granule");
        }
    }
    None
}

/// The byte pattern seed of entry `k`.
fn seed(k: usize) -> u8 {
    0x31u8.wrapping_add(k as u8 * 16)
}

/// The scatterlist way: map, read each entry through its place in the one DMA segment, unmap.
fn sg_scenario(cfg: &Config, ents: &[Entry], dir: DmaDir) -> Scenario {
    let t = "t".to_string();
    let mut ops = vec![Op::SgAllocTable { table: t.clone(), nents: ents.len() as u32 }];
    for (k, e) in ents.iter().enumerate() {
        let page = PhysAddr(e.phys.0 & !(PAGE_SIZE - 1));
        ops.push(Op::SgSetPage {
            table: t.clone(),
            index: k as u32,
            page,
            len: e.len,
            offset: (e.phys.0 - page.0) as u32,
        });
        ops.push(Op::CpuWrite { phys: e.phys, size: e.len as u64, seed: seed(k) });
    }
    ops.push(Op::MapSg { table: t.clone(), nents: Some(ents.len() as u32), dir, attrs: DmaAttrs(0) });
    let mut at = 0u64;
    for e in ents {
        ops.push(Op::DevRead { addr: DmaRef::Sg { table: t.clone(), index: 0, offset: at }, size: e.len as u64 });
        at += e.len as u64;
    }
    ops.push(Op::UnmapSg { table: t, sgtable: false, nents: None, dir: None, attrs: None });
    Scenario { config: cfg.clone(), ops, expect: None, expect_debug: Vec::new() }
}

/// The two-step way: allocate for the whole list, link each entry at its offset, sync,
/// read each entry, destroy.
fn link_scenario(cfg: &Config, ents: &[Entry], dir: DmaDir) -> Scenario {
    let st = "st".to_string();
    let total: u64 = ents.iter().map(|e| e.len as u64).sum();
    let mut ops = Vec::new();
    for (k, e) in ents.iter().enumerate() {
        ops.push(Op::CpuWrite { phys: e.phys, size: e.len as u64, seed: seed(k) });
    }
    ops.push(Op::IovaTryAlloc { state: st.clone(), phys: ents[0].phys, size: total });
    let mut at = 0u64;
    for e in ents {
        ops.push(Op::IovaLink {
            state: st.clone(),
            phys: e.phys,
            offset: at,
            size: e.len as u64,
            dir,
            attrs: DmaAttrs(0),
        });
        at += e.len as u64;
    }
    ops.push(Op::IovaSync { state: st.clone(), offset: 0, size: total });
    at = 0;
    for e in ents {
        ops.push(Op::DevRead { addr: DmaRef::Iova { state: st.clone(), offset: at }, size: e.len as u64 });
        at += e.len as u64;
    }
    ops.push(Op::IovaDestroy { state: st, mapped_len: total, dir, attrs: DmaAttrs(0) });
    Scenario { config: cfg.clone(), ops, expect: None, expect_debug: Vec::new() }
}

/// Granule page -> (phys page, prot) of every successful IOMMU map a run made.
fn translation(run: &SideRun, granule: u64) -> BTreeMap<u64, (u64, IommuProt)> {
    let mut t = BTreeMap::new();
    for e in run.records.iter().flat_map(|r| &r.events) {
        if let Event::IommuMap { iova, phys, size, prot, ret: 0 } = e {
            for off in (0..*size).step_by(granule as usize) {
                t.insert(iova + off, (phys.0 + off, *prot));
            }
        }
    }
    t
}

/// The data each device read returned, in order.
fn reads(run: &SideRun) -> Vec<&Vec<u8>> {
    run.records
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Data(d) => Some(d),
            _ => None,
        })
        .collect()
}

/// Maps `ents` with dma_map_sg_attrs() on `sg_side` and with the two-step API on
/// `link_side`, and says how the two differ where they should not.
pub fn sg_against_two_step(
    cfg: &Config,
    ents: &[Entry],
    dir: DmaDir,
    sg_side: Side,
    link_side: Side,
) -> Result<(), String> {
    if let Some(why) = unsupported(cfg, ents) {
        return Err(format!("not comparable: {why}"));
    }
    let granule = cfg.iommu.as_ref().map_or(PAGE_SIZE, |i| i.granule());
    let a = run_side(&sg_scenario(cfg, ents, dir), sg_side);
    let b = run_side(&link_scenario(cfg, ents, dir), link_side);
    let map_at = 1 + 2 * ents.len();
    let dma_a = match &a.records[map_at].outcome {
        Outcome::Sg { ret: 1, ents: e, .. } => e[0].dma,
        o => return Err(format!("dma_map_sg_attrs() on {} returned {o}, not one segment", sg_side.label())),
    };
    let try_at = ents.len();
    let dma_b = match &b.records[try_at].outcome {
        Outcome::IovaState { ret: Some(1), addr, .. } => *addr,
        o => return Err(format!("dma_iova_try_alloc() on {} returned {o}", link_side.label())),
    };
    for (k, r) in b.records[try_at + 1..=try_at + ents.len()].iter().enumerate() {
        if !matches!(r.outcome, Outcome::IovaState { ret: Some(0), .. }) {
            return Err(format!("dma_iova_link() of entry {k} on {} returned {}", link_side.label(), r.outcome));
        }
    }
    if dma_a != dma_b {
        return Err(format!(
            "the list starts at {dma_a} through dma_map_sg ({}) but at {dma_b} through dma_iova_link ({})",
            sg_side.label(),
            link_side.label()
        ));
    }
    let (ta, tb) = (translation(&a, granule), translation(&b, granule));
    if ta != tb {
        let k = ta.iter().zip(tb.iter()).find(|(x, y)| x != y).map(|(x, _)| *x.0).unwrap_or(DmaAddr(0).0);
        return Err(format!(
            "the IOMMU translations differ (first at iova {k:#x}): {} granule(s) mapped by dma_map_sg, {} by dma_iova_link",
            ta.len(),
            tb.len()
        ));
    }
    let (ra, rb) = (reads(&a), reads(&b));
    for (k, (x, y)) in ra.iter().zip(&rb).enumerate() {
        if x != y {
            return Err(format!("the device reads entry {k} differently through the two mappings"));
        }
    }
    for run in [&a, &b] {
        if let Some((op, m)) = run.integrity_failures().next().or_else(|| run.invariant_failures().next()) {
            return Err(format!("{}: op {op}: {m}", run.side.label()));
        }
    }
    Ok(())
}
