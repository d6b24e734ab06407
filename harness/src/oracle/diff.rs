//! The differential oracle: both sides' records, op by op, after the allow-list's
//! equivalences; the first difference is the finding.

use super::allowlist;
use crate::exec::{OpRecord, Outcome, SideRun};
use crate::platform::trace::Event;
use crate::types::{DmaAttrs, KernelVersion};

/// Where and how the two sides first differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    pub op: usize,
    /// What differs, in one line.
    pub what: String,
}

/// An event as compared: equivalences applied, unshown-only fields dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Norm {
    Map(Event),
    Unmap(Event),
    Report(dmadiff_cref::ReportKind, String),
    Other(Event),
}

/// Applies the equivalences of allowlist.toml to one event of `version`.
pub fn normalise(e: &Event, version: KernelVersion) -> Norm {
    let mmio = |attrs: DmaAttrs, event: &str| {
        // tracepoint-rename: a v6.16 resource event carries no MMIO bit but means one.
        if version == KernelVersion::V6_16 && event.ends_with("_resource") {
            attrs | DmaAttrs::MMIO
        } else {
            attrs
        }
    };
    match e {
        Event::TraceMap { event, phys, dma, size, dir, attrs } => Norm::Map(Event::TraceMap {
            event: "dma_map".into(),
            phys: *phys,
            dma: *dma,
            size: *size,
            dir: *dir,
            attrs: mmio(*attrs, event),
        }),
        Event::TraceUnmap { event, addr, size, dir, attrs } => Norm::Unmap(Event::TraceUnmap {
            event: "dma_unmap".into(),
            addr: *addr,
            size: *size,
            dir: *dir,
            attrs: mmio(*attrs, event),
        }),
        // report-function: kind and text only.
        Event::Report { kind, text, .. } => Norm::Report(*kind, text.clone()),
        // dma-debug-phy-type: v6.16's "single" and "resource" entries are v6.18's "phy".
        Event::DmaDebug { class, text } if version == KernelVersion::V6_16 => Norm::Other(Event::DmaDebug {
            class: *class,
            text: text.replace("as single]", "as phy]").replace("as resource]", "as phy]"),
        }),
        other => Norm::Other(other.clone()),
    }
}

pub fn normalised(r: &OpRecord, version: KernelVersion) -> Vec<Norm> {
    r.events.iter().map(|e| normalise(e, version)).collect()
}

/// Compares one op; None when the two records are equivalent.
pub fn compare_op(l: &OpRecord, p: &OpRecord) -> Option<String> {
    if l.outcome != p.outcome {
        // Scatterlist results: name the first entry that differs, on one line.
        if let (Outcome::Sg { ret: a, nents: an, ents: ae }, Outcome::Sg { ret: b, nents: bn, ents: be }) =
            (&l.outcome, &p.outcome)
        {
            if (a, an) == (b, bn) {
                if let Some(k) = ae.iter().zip(be).position(|(x, y)| x != y) {
                    let line = |o: &Outcome| o.to_string().lines().nth(k + 1).unwrap_or("").trim().to_string();
                    return Some(format!(
                        "results differ at entry {k}: legacy {} vs phys {}",
                        line(&l.outcome),
                        line(&p.outcome)
                    ));
                }
            }
        }
        return Some(format!("results differ: legacy {} vs phys {}", show(&l.outcome), show(&p.outcome)));
    }
    let ln = normalised(l, KernelVersion::V6_16);
    let pn = normalised(p, KernelVersion::V6_18);
    if ln != pn {
        let i = ln.iter().zip(pn.iter()).position(|(a, b)| a != b).unwrap_or(ln.len().min(pn.len()));
        return Some(format!(
            "events differ at event {} ({} legacy event(s), {} phys event(s))",
            i + 1,
            ln.len(),
            pn.len()
        ));
    }
    None
}

fn show(o: &crate::exec::Outcome) -> String {
    // the first line: a scatterlist result's entries follow on lines of their own
    let s = o.to_string().lines().next().unwrap_or("").to_string();
    if s.is_empty() {
        "(void)".into()
    } else {
        s.trim_start_matches("= ").to_string()
    }
}

/// The first op where the sides differ (a difference at boot counts as op 0).
pub fn first_divergence(l: &SideRun, p: &SideRun) -> Option<Divergence> {
    let boot = |r: &SideRun, v| r.boot_events.iter().map(|e| normalise(e, v)).collect::<Vec<_>>();
    if boot(l, KernelVersion::V6_16) != boot(p, KernelVersion::V6_18) {
        return Some(Divergence { op: 0, what: "the boots differ (pool set-up events)".into() });
    }
    l.records
        .iter()
        .zip(p.records.iter())
        .enumerate()
        .find_map(|(i, (a, b))| compare_op(a, b).map(|what| Divergence { op: i, what }))
}

/// The verdict of comparing two runs of one scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiffVerdict {
    Agree,
    Expected { id: &'static str, op: usize },
    Unexpected(Divergence),
}

/// Compares two runs of `sc` and classifies the first difference with the allow-list.
pub fn judge(sc: &crate::scenario::Scenario, l: &SideRun, p: &SideRun) -> DiffVerdict {
    match first_divergence(l, p) {
        None => DiffVerdict::Agree,
        Some(d) => match allowlist::classify(sc, d.op, l, p) {
            Some(id) => DiffVerdict::Expected { id, op: d.op },
            None => DiffVerdict::Unexpected(d),
        },
    }
}
