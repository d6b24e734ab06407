//! The predicates of allowlist.toml's [[divergence]] entries, one function per id.
//!
//! Each predicate sees the scenario, the op where the sides first differ and both sides'
//! records of it, and accepts only the exact shape its kernel citation explains.

use serde::Deserialize;

use super::diff::{normalise, normalised, Norm};
use crate::backend::ApiCall;
use crate::exec::{OpRecord, Outcome, SideRun};
use crate::platform::trace::{Event, ReportKind};
use crate::scenario::{MapKind, Op, Scenario};
use crate::types::{DmaAttrs, DmaDir, IommuProt, KernelVersion, DMA_MAPPING_ERROR};

/// The allow-list file, as shipped.
pub const ALLOWLIST_TOML: &str = include_str!("../../../allowlist.toml");

/// One entry of allowlist.toml.
#[derive(Clone, Debug, Deserialize)]
pub struct Entry {
    pub id: String,
    pub spec: String,
    pub kernel: String,
    pub summary: String,
}

#[derive(Debug, Deserialize)]
pub struct File {
    #[serde(default)]
    pub equivalence: Vec<Entry>,
    #[serde(default)]
    pub divergence: Vec<Entry>,
}

/// Parses the shipped allow-list.
pub fn load() -> File {
    toml::from_str(ALLOWLIST_TOML).expect("allowlist.toml does not parse")
}

/// The entry for `id`.
pub fn entry(id: &str) -> Option<Entry> {
    let f = load();
    f.divergence.into_iter().chain(f.equivalence).find(|e| e.id == id)
}

/// The equivalences diff.rs applies.
pub const EQUIVALENCES: &[&str] = &["tracepoint-rename", "report-function", "dma-debug-phy-type"];

/// A predicate sees the scenario, the op index where the sides first differ, and both runs.
type Pred = fn(&Scenario, usize, &SideRun, &SideRun) -> bool;

/// The divergence predicates, in the order they are tried.
pub const DIVERGENCES: &[(&str, Pred)] = &[
    ("map-page-attrs-mmio", map_page_attrs_mmio),
    ("unmap-page-attrs-mmio", unmap_page_attrs_mmio),
    ("map-resource-overflow-report", map_resource_overflow_report),
    ("map-resource-debug-pfn-valid", map_resource_debug_pfn_valid),
    ("dma-mask-warn-once-site", dma_mask_warn_once_site),
    ("mmio-force-bounce", mmio_force_bounce),
    ("iommu-mmio-no-bounce", iommu_mmio_no_bounce),
    ("dma-debug-page-resource-pairing", dma_debug_page_resource_pairing),
    ("dma-debug-resource-map-hook", dma_debug_resource_map_hook),
    ("dma-debug-sync-ref-type", dma_debug_sync_ref_type),
    ("dma-debug-kmalloc-bounce-overlap", dma_debug_kmalloc_bounce_overlap),
    ("p2p-bus-addr-dma-len", p2p_bus_addr_dma_len),
    ("p2p-thru-host-bridge-mapped", p2p_thru_host_bridge_mapped),
    ("mmio-attr-iommu-prot", mmio_attr_iommu_prot),
    ("mmio-attr-direct-sg", mmio_attr_direct_sg),
];

/// The id of the divergence that explains op `i`'s difference, if any.
pub fn classify(sc: &Scenario, i: usize, l: &SideRun, p: &SideRun) -> Option<&'static str> {
    DIVERGENCES.iter().find(|(_, pred)| pred(sc, i, l, p)).map(|(id, _)| *id)
}

fn silent_error(p: &OpRecord) -> bool {
    p.outcome == Outcome::Dma(DMA_MAPPING_ERROR) && p.events.is_empty()
}

/// dma_map_page_attrs() with bit 10: v6.18 refuses silently.
fn map_page_attrs_mmio(sc: &Scenario, i: usize, _l: &SideRun, p: &SideRun) -> bool {
    let p = &p.records[i];
    matches!(&sc.ops[i], Op::Map { kind: MapKind::PageAttrs | MapKind::Single, attrs, .. } if attrs.contains(DmaAttrs::MMIO))
        && silent_error(p)
}

/// dma_unmap_page_attrs() with bit 10 (given or inherited): v6.18 returns at once.
fn unmap_page_attrs_mmio(_: &Scenario, i: usize, _l: &SideRun, p: &SideRun) -> bool {
    let p = &p.records[i];
    matches!(p.call, Some(ApiCall::UnmapPageAttrs { attrs, .. }) if attrs.contains(DmaAttrs::MMIO))
        && p.outcome == Outcome::Void
        && p.events.is_empty()
}

fn is_overflow(text: &str) -> bool {
    text.contains(": DMA addr ") && text.contains(" overflow (mask ")
}

fn is_mmio_map(call: Option<ApiCall>) -> bool {
    match call {
        Some(ApiCall::MapResource { .. }) => true,
        Some(ApiCall::MapPhys { attrs, .. }) => attrs.contains(DmaAttrs::MMIO),
        _ => false,
    }
}

/// The record's normalised reports and the rest of its events.
fn split(r: &OpRecord, v: KernelVersion) -> (Vec<Norm>, Vec<Norm>) {
    normalised(r, v).into_iter().partition(|n| matches!(n, Norm::Report(..)))
}

/// An overflow refused the same way on both sides but reported differently: v6.16's resource
/// path has dev_err_once + WARN_ON_ONCE(1), v6.18 one dev_WARN_ONCE shared by MMIO and RAM.
fn map_resource_overflow_report(_: &Scenario, i: usize, l: &SideRun, p: &SideRun) -> bool {
    let (lr, pr) = (&l.records[i], &p.records[i]);
    if lr.outcome != Outcome::Dma(DMA_MAPPING_ERROR) || pr.outcome != lr.outcome {
        return false;
    }
    let (lrep, mut lrest) = split(lr, KernelVersion::V6_16);
    let (prep, prest) = split(pr, KernelVersion::V6_18);
    if is_mmio_map(pr.call) {
        // v6.16's debug_dma_map_resource() records the failed map too (and may report its
        // cacheline); v6.18 ignores error results (dma-debug-resource-map-hook).
        lrest.retain(|n| !matches!(n, Norm::Other(Event::DmaDebug { .. })));
    }
    if lrest != prest {
        return false;
    }
    if is_mmio_map(pr.call) {
        let l_ok = lrep.iter().all(|n| match n {
            Norm::Report(ReportKind::DevErr, t) => is_overflow(t),
            Norm::Report(ReportKind::WarnOn, t) => t == "1",
            _ => false,
        });
        let p_ok = prep.iter().all(|n| matches!(n, Norm::Report(ReportKind::DevWarn, t) if is_overflow(t)));
        return l_ok && p_ok;
    }
    // A RAM overflow after an MMIO one: v6.18's shared once-flag already fired.
    let fired_by_mmio = p.records[..i].iter().any(|r| {
        is_mmio_map(r.call)
            && r.events
                .iter()
                .any(|e| matches!(e, Event::Report { kind: ReportKind::DevWarn, text, .. } if is_overflow(text)))
    });
    fired_by_mmio
        && prep.is_empty()
        && matches!(lrep.as_slice(), [Norm::Report(ReportKind::DevWarn, t)] if is_overflow(t))
}

/// WARN_ON_ONCE(!dev->dma_mask): one once-flag per map entry point in v6.16, one in
/// dma_map_phys() for all of them in v6.18, so which call prints it differs.
fn dma_mask_warn_once_site(sc: &Scenario, i: usize, l: &SideRun, p: &SideRun) -> bool {
    let (lr, pr) = (&l.records[i], &p.records[i]);
    if sc.config.device.dma_mask.is_some() || lr.outcome != pr.outcome {
        return false;
    }
    let (lrep, lrest) = split(lr, KernelVersion::V6_16);
    let (prep, prest) = split(pr, KernelVersion::V6_18);
    let only_mask_warns =
        |r: &[Norm]| r.iter().all(|n| matches!(n, Norm::Report(ReportKind::WarnOn, t) if t == "!dev->dma_mask"));
    lrest == prest && lrep != prep && only_mask_warns(&lrep) && only_mask_warns(&prep)
}

/// dma_map_resource() on a CONFIG_DMA_API_DEBUG kernel with a valid pfn: v6.18 refuses.
fn map_resource_debug_pfn_valid(sc: &Scenario, i: usize, _l: &SideRun, p: &SideRun) -> bool {
    let p = &p.records[i];
    let Op::Map { kind: MapKind::Resource, phys, .. } = &sc.ops[i] else { return false };
    if !sc.config.dma_api_debug || p.outcome != Outcome::Dma(DMA_MAPPING_ERROR) {
        return false;
    }
    let plat = crate::platform::Platform::new(&sc.config);
    plat.pfn_valid(phys.pfn())
        && p.events.iter().all(|e| matches!(e, Event::Report { kind: ReportKind::WarnOn, text, .. } if text == "pfn_valid(PHYS_PFN(phys_addr))"))
}

/// Op `i`'s results agree and so do its events once `ignored` ones are left out of both
/// sides: the comparison the dma-debug divergences make beside their own condition.
fn same_apart_from(lr: &OpRecord, pr: &OpRecord, ignored: impl Fn(&Event) -> bool) -> bool {
    let kept =
        |r: &OpRecord, v| -> Vec<Norm> { r.events.iter().filter(|e| !ignored(e)).map(|e| normalise(e, v)).collect() };
    lr.outcome == pr.outcome && kept(lr, KernelVersion::V6_16) == kept(pr, KernelVersion::V6_18)
}

fn is_debug_report(e: &Event) -> bool {
    matches!(e, Event::DmaDebug { .. })
}

fn is_debug_class(e: &Event, c: u8) -> bool {
    matches!(e, Event::DmaDebug { class, .. } if *class == c)
}

/// v6.16's dma-debug reports a page/resource pairing (class 11); v6.18 has only "phy".
fn dma_debug_page_resource_pairing(_: &Scenario, i: usize, l: &SideRun, p: &SideRun) -> bool {
    let (lr, pr) = (&l.records[i], &p.records[i]);
    let pairing = |e: &Event| {
        matches!(e, Event::DmaDebug { class: 11, text }
            if (text.contains("[mapped as single] [unmapped as resource]")
                || text.contains("[mapped as resource] [unmapped as single]")))
    };
    lr.events.iter().any(pairing) && same_apart_from(lr, pr, pairing)
}

/// v6.16's debug_dma_map_resource() has no dma_mapping_error() call (nor its side effect).
fn dma_debug_resource_map_hook(_: &Scenario, i: usize, l: &SideRun, p: &SideRun) -> bool {
    let resource_before = l.records[..i].iter().any(|r| is_mmio_map(r.call) && r.outcome != Outcome::Bug);
    resource_before && same_apart_from(&l.records[i], &p.records[i], is_debug_report)
}

/// v6.18 (03521c892bb8) exempts kmalloc-bouncing configurations from the overlap report.
fn dma_debug_kmalloc_bounce_overlap(sc: &Scenario, i: usize, l: &SideRun, p: &SideRun) -> bool {
    let exempt = sc.config.arch.dma_bounce_unaligned_kmalloc()
        && sc.config.swiotlb.is_some_and(|s| s.mode != crate::scenario::SwiotlbMode::Off);
    let (lr, pr) = (&l.records[i], &p.records[i]);
    let class4 = |r: &OpRecord| r.events.iter().any(|e| is_debug_class(e, 4));
    exempt && class4(lr) && !class4(pr) && same_apart_from(lr, pr, |e| is_debug_class(e, 4))
}

/// v6.18's sync lookups use a "single" reference against "phy" entries: no perfect fit, so
/// with several containing entries the best-fit rule finds none, or another one.
fn dma_debug_sync_ref_type(_: &Scenario, i: usize, l: &SideRun, p: &SideRun) -> bool {
    let (lr, pr) = (&l.records[i], &p.records[i]);
    matches!(pr.call, Some(ApiCall::SyncForCpu { .. } | ApiCall::SyncForDevice { .. }))
        && pr.events.iter().any(is_debug_report)
        && same_apart_from(lr, pr, is_debug_report)
}

/// MMIO through dma-iommu where a bounce would be needed: v6.16 maps, v6.18 refuses.
fn iommu_mmio_no_bounce(sc: &Scenario, i: usize, l: &SideRun, p: &SideRun) -> bool {
    let (lr, pr) = (&l.records[i], &p.records[i]);
    if let Some(ApiCall::IovaLink { phys, size, dir, attrs, .. }) = pr.call {
        // dma_iova_link(): -EPERM instead of a bounce, nothing else.
        return attrs.contains(DmaAttrs::MMIO)
            && may_bounce_unaligned(sc, phys, size, dir)
            && lr.outcome != Outcome::Bug
            && matches!(pr.outcome, Outcome::IovaState { ret: Some(-1), .. })
            && pr.events.is_empty();
    }
    let (phys, size, dir) = match pr.call {
        Some(ApiCall::MapPhys { phys, size, dir, .. } | ApiCall::MapResource { phys, size, dir, .. }) => {
            (phys, size, dir)
        }
        _ => return false,
    };
    l.uses_iommu
        && p.uses_iommu
        && may_bounce_unaligned(sc, phys, size, dir)
        && is_mmio_map(pr.call)
        && lr.outcome != Outcome::Bug
        && pr.outcome == Outcome::Dma(DMA_MAPPING_ERROR)
        && pr.events.iter().all(|e| matches!(e, Event::TraceMap { event, .. } if event == "dma_map_phys"))
}

/// dev_use_swiotlb() can hold (untrusted, or the arm64 kmalloc bounce, which needs a
/// non-coherent device and a direction other than DMA_TO_DEVICE) and iova_unaligned() does.
fn may_bounce_unaligned(sc: &Scenario, phys: crate::types::PhysAddr, size: u64, dir: DmaDir) -> bool {
    let granule = sc.config.iommu.as_ref().map_or(4096, |i| i.granule());
    let d = &sc.config.device;
    let may_bounce = (d.pci && d.untrusted)
        || (sc.config.arch.dma_bounce_unaligned_kmalloc() && !d.coherent && dir != DmaDir::TO_DEVICE);
    may_bounce && (phys.0 | size) & (granule - 1) != 0
}

/// MMIO on a force-bounce device: v6.16 maps it, v6.18 refuses it.
fn mmio_force_bounce(sc: &Scenario, i: usize, l: &SideRun, p: &SideRun) -> bool {
    if l.uses_iommu || p.uses_iommu {
        // dma-iommu never asks is_swiotlb_force_bounce()
        return false;
    }
    let (lr, pr) = (&l.records[i], &p.records[i]);
    let force = sc.config.swiotlb.is_some_and(|s| {
        matches!(s.mode, crate::scenario::SwiotlbMode::Force | crate::scenario::SwiotlbMode::Restricted)
    });
    force
        && is_mmio_map(pr.call)
        && lr.outcome != Outcome::Bug
        && pr.outcome == Outcome::Dma(DMA_MAPPING_ERROR)
        && pr.events.iter().all(|e| match e {
            Event::Report { kind: ReportKind::DevWarn, text, .. } => is_overflow(text),
            Event::TraceMap { event, .. } => event == "dma_map_phys",
            _ => false,
        })
}

/// The P2PDMA route of the first `nents` entries of the table a scatterlist map at op `i`
/// used, as the scenario configured it.
fn sg_routes(sc: &Scenario, i: usize) -> Vec<Option<crate::scenario::P2pdmaMapType>> {
    let Op::MapSg { table, nents, .. } = &sc.ops[i] else { return Vec::new() };
    let mut ents: Vec<crate::types::PhysAddr> = Vec::new();
    for op in &sc.ops[..i] {
        match op {
            Op::SgAllocTable { table: t, nents } if t == table => {
                ents = vec![crate::types::PhysAddr(0); *nents as usize];
            }
            Op::SgSetPage { table: t, index, page, offset, .. } if t == table => {
                ents[*index as usize] = page.wrapping_add(*offset as u64);
            }
            _ => {}
        }
    }
    let n = nents.map_or(ents.len(), |n| n as usize);
    ents.iter()
        .take(n)
        .map(|p| sc.config.p2p.iter().find(|q| p.0.wrapping_sub(q.start.0) < q.size).map(|q| q.route))
        .collect()
}

/// v6.16 leaves sg_dma_len() of a dma-direct bus-address segment unset (d0d08f4bd7f6).
fn p2p_bus_addr_dma_len(sc: &Scenario, i: usize, l: &SideRun, p: &SideRun) -> bool {
    if l.uses_iommu || p.uses_iommu {
        return false;
    }
    let routes = sg_routes(sc, i);
    if !routes.contains(&Some(crate::scenario::P2pdmaMapType::BusAddr)) {
        return false;
    }
    let (Outcome::Sg { ret: lr, nents: ln, ents: le }, Outcome::Sg { ret: pr, nents: pn, ents: pe }) =
        (&l.records[i].outcome, &p.records[i].outcome)
    else {
        return false;
    };
    // The unwind of a failed list unmarks bus entries: judge by the entry's memory.
    let bus = |k: usize| routes.get(k) == Some(&Some(crate::scenario::P2pdmaMapType::BusAddr));
    lr == pr
        && ln == pn
        && le.len() == pe.len()
        && le
            .iter()
            .zip(pe)
            .enumerate()
            .all(|(k, (a, b))| a == b || (bus(k) && a.dma == b.dma && a.flags == b.flags && a.cpu == b.cpu))
        // The tracepoint records the lengths, and dma-debug's sg entries carry them too.
        && same_apart_from_outcome(&l.records[i], &p.records[i], |e| {
            matches!(e, Event::TraceSg { .. } | Event::DmaDebug { .. })
        })
}

/// v6.16 leaves a dma-direct THRU_HOST_BRIDGE segment unmapped (560000d619ef). What the
/// later entries then meet differs too (v6.18 may stop at the mapped segment's error where
/// v6.16 walks on into an entry that BUG()s), so any outcome is accepted.
fn p2p_thru_host_bridge_mapped(sc: &Scenario, i: usize, l: &SideRun, p: &SideRun) -> bool {
    !l.uses_iommu && !p.uses_iommu && sg_routes(sc, i).contains(&Some(crate::scenario::P2pdmaMapType::ThruHostBridge))
}

/// DMA_ATTR_MMIO through dma-iommu's scatterlist and two-step paths: IOMMU_MMIO in v6.18.
fn mmio_attr_iommu_prot(sc: &Scenario, i: usize, l: &SideRun, p: &SideRun) -> bool {
    let (lr, pr) = (&l.records[i], &p.records[i]);
    // dma_unmap_sg with bit 10 reaches iommu_dma_unmap_phys(MMIO) per swiotlb entry in
    // v6.18, which skips iova_to_phys, the CPU sync and swiotlb (v6 06/16).
    if let Some(ApiCall::UnmapSg { attrs, .. }) = pr.call {
        return attrs.contains(DmaAttrs::MMIO) && l.uses_iommu && p.uses_iommu && lr.outcome != Outcome::Bug;
    }
    let mmio = match pr.call {
        Some(ApiCall::MapSg { attrs, .. } | ApiCall::MapSgtable { attrs, .. } | ApiCall::IovaLink { attrs, .. }) => {
            attrs.contains(DmaAttrs::MMIO)
        }
        _ => false,
    };
    if !(mmio && l.uses_iommu && p.uses_iommu) {
        return false;
    }
    // The per-entry swiotlb path of an untrusted (or kmalloc-bouncing) device: v6.16 bounces
    // or fails to, v6.18 refuses MMIO at once, and their unwinds differ from there.
    let d = &sc.config.device;
    let sg_swiotlb = matches!(pr.call, Some(ApiCall::MapSg { .. } | ApiCall::MapSgtable { .. }))
        && ((d.pci && d.untrusted) || (sc.config.arch.dma_bounce_unaligned_kmalloc() && !d.coherent));
    if sg_swiotlb && lr.outcome != Outcome::Bug {
        return true;
    }
    if lr.outcome != pr.outcome {
        return false;
    }
    // The legacy side's cache maintenance goes; map calls compare with the protection bits
    // v6.18 swaps; the sg tracepoints compare as the same event.
    let norm = |r: &OpRecord, legacy: bool| -> Vec<Event> {
        r.events
            .iter()
            .filter(|e| !(legacy && matches!(e, Event::ArchSync { .. })))
            .map(|e| match e {
                Event::IommuMap { iova, phys, size, prot, ret } => Event::IommuMap {
                    iova: *iova,
                    phys: *phys,
                    size: *size,
                    prot: IommuProt((prot.0 & !(IommuProt::CACHE.0 | IommuProt::MMIO.0)) | IommuProt::MMIO.0),
                    ret: *ret,
                },
                other => other.clone(),
            })
            .collect()
    };
    norm(lr, true) == norm(pr, false)
}

/// Results may differ only where the caller already compared them; events apart from
/// `ignored` agree.
fn same_apart_from_outcome(lr: &OpRecord, pr: &OpRecord, ignored: impl Fn(&Event) -> bool) -> bool {
    let kept =
        |r: &OpRecord, v| -> Vec<Norm> { r.events.iter().filter(|e| !ignored(e)).map(|e| normalise(e, v)).collect() };
    kept(lr, KernelVersion::V6_16) == kept(pr, KernelVersion::V6_18)
}

/// DMA_ATTR_MMIO on a dma-direct scatterlist: v6.18 takes the per-segment MMIO path.
fn mmio_attr_direct_sg(sc: &Scenario, i: usize, l: &SideRun, p: &SideRun) -> bool {
    // v6.16 may even BUG here: it bounces a zero-length segment as RAM.
    if l.uses_iommu || p.uses_iommu {
        return false;
    }
    let table = match &sc.ops[i] {
        Op::MapSg { attrs, .. } => return attrs.contains(DmaAttrs::MMIO),
        Op::UnmapSg { attrs: Some(a), .. } => return a.contains(DmaAttrs::MMIO),
        Op::UnmapSg { table, .. } | Op::SyncSg { table, .. } => table,
        _ => return false,
    };
    // What the op inherits: the attributes of the table's last map before it.
    sc.ops[..i].iter().rev().find_map(|o| match o {
        Op::MapSg { table: t, attrs, .. } if t == table => Some(attrs.contains(DmaAttrs::MMIO)),
        _ => None,
    }) == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_predicates_name_the_same_ids() {
        let f = load();
        let mut file_div: Vec<&str> = f.divergence.iter().map(|e| e.id.as_str()).collect();
        let mut code_div: Vec<&str> = DIVERGENCES.iter().map(|(id, _)| *id).collect();
        file_div.sort();
        code_div.sort();
        assert_eq!(file_div, code_div);
        let mut file_eq: Vec<&str> = f.equivalence.iter().map(|e| e.id.as_str()).collect();
        file_eq.sort();
        let mut code_eq = EQUIVALENCES.to_vec();
        code_eq.sort();
        assert_eq!(file_eq, code_eq);
        for e in f.divergence.iter().chain(f.equivalence.iter()) {
            assert!(!e.kernel.trim().is_empty() && !e.spec.trim().is_empty(), "{} lacks a citation", e.id);
        }
    }
}
