//! Running a scenario on both sides and saying what happened: verdicts, traces, JSON.

use std::fmt::Write as _;

use serde::Serialize;

use crate::backend::Side;
use crate::exec::{run_side, OpRecord, SideRun};
use crate::oracle::diff::{judge, DiffVerdict};
use crate::scenario::Scenario;

/// Both sides' runs of one scenario and the oracles' judgement.
pub struct Report {
    pub legacy: SideRun,
    pub phys: SideRun,
    pub diff: DiffVerdict,
    /// The scenario's `expect divergence=` line.
    pub expect: Option<String>,
    /// The scenario's `expect dma_debug=` classes, enforced for files (see check_file()).
    pub expect_debug: Option<Vec<String>>,
}

/// The overall verdict, worst first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The sides differ where the allow-list does not explain it.
    Divergence {
        op: usize,
        detail: String,
    },
    /// A side returned data a correct kernel could not have.
    IntegrityFailure {
        side: Side,
        op: usize,
        detail: String,
    },
    /// A side's allocator state broke an invariant (swiotlb free lists, leaks, alignment).
    InvariantFailure {
        side: Side,
        op: usize,
        detail: String,
    },
    /// The scenario says `expect divergence=ID` and ended otherwise.
    UnmetExpectation {
        expected: String,
        got: String,
    },
    /// A scenario file's dma-debug reports are not the classes its `expect dma_debug=` lines
    /// name (none for correct use).
    UnexpectedDebugReports {
        expected: Vec<String>,
        got: Vec<String>,
    },
    /// The first difference is a documented kernel change.
    ExpectedDivergence {
        id: String,
        op: usize,
    },
    Agree,
}

impl Verdict {
    /// Counts against the exit status.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Verdict::Divergence { .. }
                | Verdict::IntegrityFailure { .. }
                | Verdict::InvariantFailure { .. }
                | Verdict::UnmetExpectation { .. }
                | Verdict::UnexpectedDebugReports { .. }
        )
    }
    pub fn tag(&self) -> &'static str {
        match self {
            Verdict::Divergence { .. } => "FAIL",
            Verdict::IntegrityFailure { .. } => "FAIL",
            Verdict::InvariantFailure { .. } => "FAIL",
            Verdict::UnmetExpectation { .. } => "FAIL",
            Verdict::UnexpectedDebugReports { .. } => "FAIL",
            Verdict::ExpectedDivergence { .. } => "expected",
            Verdict::Agree => "ok",
        }
    }
}

/// Runs `sc` on both sides and judges it.
pub fn check(sc: &Scenario) -> Report {
    let legacy = run_side(sc, Side::Legacy);
    let phys = run_side(sc, Side::Phys);
    let diff = judge(sc, &legacy, &phys);
    Report { legacy, phys, diff, expect: sc.expect.clone(), expect_debug: None }
}

/// Like [`check`], for a scenario file: its dma-debug reports must be exactly the classes its
/// `expect dma_debug=` lines name, so a correct-use file reports nothing. (Generated scenarios
/// misuse the API on purpose; the fuzzers do not hold them to this.)
pub fn check_file(sc: &Scenario) -> Report {
    let mut r = check(sc);
    r.expect_debug = Some(sc.expect_debug.clone());
    r
}

impl Report {
    pub fn side(&self, s: Side) -> &SideRun {
        match s {
            Side::Legacy => &self.legacy,
            Side::Phys => &self.phys,
        }
    }

    /// The first integrity failure of either side, earliest op first.
    pub fn first_integrity_failure(&self) -> Option<(Side, usize, &String)> {
        Side::BOTH
            .iter()
            .filter_map(|&s| {
                self.side(s).integrity_failures().find(|&(op, _)| self.judged(op)).map(|(op, m)| (s, op, m))
            })
            .min_by_key(|(_, op, _)| *op)
    }

    /// Whether findings at `op` count: from an allow-listed divergence on, the sides are
    /// known to differ for a documented kernel reason (a fixed defect breaks data on the
    /// older side), so what follows is not judged.
    fn judged(&self, op: usize) -> bool {
        match self.diff {
            DiffVerdict::Expected { op: at, .. } => op < at,
            _ => true,
        }
    }

    pub fn verdict(&self) -> Verdict {
        if let DiffVerdict::Unexpected(d) = &self.diff {
            return Verdict::Divergence { op: d.op, detail: d.what.clone() };
        }
        if let Some((side, op, m)) = self.first_integrity_failure() {
            return Verdict::IntegrityFailure { side, op, detail: m.clone() };
        }
        let invariant = Side::BOTH
            .iter()
            .filter_map(|&s| {
                self.side(s).invariant_failures().find(|&(op, _)| self.judged(op)).map(|(op, m)| (s, op, m))
            })
            .min_by_key(|(_, op, _)| *op);
        if let Some((side, op, m)) = invariant {
            return Verdict::InvariantFailure { side, op, detail: m.clone() };
        }
        let v = match &self.diff {
            DiffVerdict::Expected { id, op } => Verdict::ExpectedDivergence { id: id.to_string(), op: *op },
            _ => Verdict::Agree,
        };
        if let Some(want) = &self.expect_debug {
            let got = self.debug_classes();
            let mut want = want.clone();
            want.sort_by_key(|n| crate::oracle::dma_debug::class_by_name(n));
            if got != want {
                return Verdict::UnexpectedDebugReports { expected: want, got };
            }
        }
        match (&self.expect, &v) {
            (Some(want), Verdict::ExpectedDivergence { id, .. }) if want == id => v,
            (Some(want), _) => Verdict::UnmetExpectation {
                expected: want.clone(),
                got: match &v {
                    Verdict::ExpectedDivergence { id, op } => format!("expected divergence {id} at op {op}"),
                    _ => "agreement".into(),
                },
            },
            (None, _) => v,
        }
    }

    /// The dma-debug classes either side reported, by name, in class order.
    pub fn debug_classes(&self) -> Vec<String> {
        let mut classes: Vec<u8> = Side::BOTH
            .iter()
            .flat_map(|&s| {
                let run = self.side(s);
                run.boot_events.iter().chain(run.records.iter().flat_map(|r| r.events.iter()))
            })
            .filter_map(|e| match e {
                crate::platform::trace::Event::DmaDebug { class, .. } => Some(*class),
                _ => None,
            })
            .collect();
        classes.sort_unstable();
        classes.dedup();
        classes.into_iter().map(|c| crate::oracle::dma_debug::class_name(c).to_string()).collect()
    }

    /// The op where comparison stopped, if it did.
    pub fn first_difference(&self) -> Option<usize> {
        match &self.diff {
            DiffVerdict::Agree => None,
            DiffVerdict::Expected { op, .. } => Some(*op),
            DiffVerdict::Unexpected(d) => Some(d.op),
        }
    }
}

/// The verdict in words, naming the op it concerns.
pub fn verdict_text(sc: &Scenario, v: &Verdict) -> String {
    match v {
        Verdict::Agree => format!("agree ({} ops)", sc.ops.len()),
        Verdict::ExpectedDivergence { id, op } => format!("expected divergence: {id} at op {op} ({})", sc.ops[*op]),
        Verdict::Divergence { op, detail } => format!("unexpected divergence at op {op} ({}): {detail}", sc.ops[*op]),
        Verdict::IntegrityFailure { side, op, detail } => {
            format!("integrity failure on {} at op {op} ({}): {detail}", side.label(), sc.ops[*op])
        }
        Verdict::InvariantFailure { side, op, detail } => {
            format!("invariant broken on {} at op {op} ({}): {detail}", side.label(), sc.ops[*op])
        }
        Verdict::UnmetExpectation { expected, got } => {
            format!("the scenario expects divergence {expected}, but the run ended in {got}")
        }
        Verdict::UnexpectedDebugReports { expected, got } => format!(
            "the scenario expects dma-debug reports [{}], but the run reported [{}]",
            expected.join(", "),
            got.join(", ")
        ),
    }
}

/// One line: tag, name, verdict.
pub fn verdict_line(name: &str, sc: &Scenario, v: &Verdict) -> String {
    format!("{:<8} {name}: {}", v.tag(), verdict_text(sc, v))
}

fn record_lines(sc: &Scenario, side: Side, r: &OpRecord) -> Vec<String> {
    let dev = &sc.config.device.name;
    let mut out = Vec::new();
    let res = r.outcome.to_string();
    if res.is_empty() {
        out.push("(returns)".to_string());
    }
    // a scatterlist result lists its entries on lines of their own
    out.extend(res.lines().map(str::to_string));
    for e in &r.events {
        out.push(format!("  {}", e.render(dev, side.version())));
    }
    for m in &r.integrity {
        out.push(format!("  !! integrity: {m}"));
    }
    for m in &r.invariants {
        out.push(format!("  !! invariant: {m}"));
    }
    out
}

/// The full trace of both sides, one after the other per op: the snapshot format.
pub fn render_trace(sc: &Scenario, rep: &Report) -> String {
    let mut s = String::new();
    let v = rep.verdict();
    let _ = writeln!(s, "verdict: {}", verdict_text(sc, &v));
    if let Verdict::ExpectedDivergence { id, .. } = &v {
        if let Some(e) = crate::oracle::allowlist::entry(id) {
            let _ = writeln!(s, "because: {}", e.kernel);
        }
    }
    for side in Side::BOTH {
        for e in &rep.side(side).boot_events {
            let _ = writeln!(s, "  boot  {} {}", side.short(), e.render(&sc.config.device.name, side.version()));
        }
    }
    let mark = rep.first_difference();
    for (i, op) in sc.ops.iter().enumerate() {
        let m = if Some(i) == mark { ">>" } else { "  " };
        let _ = writeln!(s, "{m}[{i}] {op}");
        for side in Side::BOTH {
            for line in record_lines(sc, side, &rep.side(side).records[i]) {
                let _ = writeln!(s, "      {} {line}", side.short());
            }
        }
    }
    s
}

/// Both traces in two columns, the first divergence marked: `dmadiff explain`.
pub fn render_side_by_side(sc: &Scenario, rep: &Report) -> String {
    let mut s = String::new();
    let _ = write!(s, "{}", sc.config);
    let v = rep.verdict();
    let _ = writeln!(s, "verdict: {}", verdict_text(sc, &v));
    let cols: Vec<(Vec<String>, Vec<String>)> = (0..sc.ops.len())
        .map(|i| {
            (record_lines(sc, Side::Legacy, &rep.legacy.records[i]), record_lines(sc, Side::Phys, &rep.phys.records[i]))
        })
        .collect();
    let width =
        cols.iter().flat_map(|(l, _)| l.iter().map(|x| x.len())).max().unwrap_or(0).max(Side::Legacy.label().len());
    let _ = writeln!(s, "\n     {:<width$} | {}", Side::Legacy.label(), Side::Phys.label());
    let _ = writeln!(s, "     {:-<width$}-+-{:-<w2$}", "", "", w2 = Side::Phys.label().len().max(20));
    let mark = rep.first_difference();
    for (i, op) in sc.ops.iter().enumerate() {
        let m = if Some(i) == mark { ">>" } else { "  " };
        let _ = writeln!(s, "{m}[{i}] {op}");
        let (l, p) = &cols[i];
        for k in 0..l.len().max(p.len()) {
            let a = l.get(k).map(String::as_str).unwrap_or("");
            let b = p.get(k).map(String::as_str).unwrap_or("");
            let _ = writeln!(s, "     {a:<width$} | {b}");
        }
        if Some(i) == mark {
            match &rep.diff {
                DiffVerdict::Unexpected(d) => {
                    let _ = writeln!(s, "  ^^ first divergence: {}", d.what);
                }
                DiffVerdict::Expected { id, .. } => {
                    let _ = writeln!(s, "  ^^ expected divergence {id}; comparison stops here");
                }
                DiffVerdict::Agree => {}
            }
        }
    }
    s
}

/// Machine-readable summary of one scenario.
pub fn to_json(name: &str, sc: &Scenario, rep: &Report) -> serde_json::Value {
    let ops = |side: Side| -> Vec<serde_json::Value> {
        rep.side(side)
            .records
            .iter()
            .map(|r| {
                serde_json::json!({
                    "result": r.outcome.to_string().trim_start_matches("= "),
                    "events": r.events.iter().map(|e| e.render(&sc.config.device.name, side.version())).collect::<Vec<_>>(),
                    "integrity": r.integrity,
                })
            })
            .collect()
    };
    serde_json::json!({
        "scenario": name,
        "ops": sc.ops.len(),
        "verdict": rep.verdict(),
        "legacy": ops(Side::Legacy),
        "phys": ops(Side::Phys),
    })
}
