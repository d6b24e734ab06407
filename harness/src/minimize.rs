//! From a fuzzer's finding to a corpus file: decode a crash input into a readable scenario
//! ([`import`]) and shrink a failing scenario while the same finding still reproduces
//! ([`minimize`]).

use arbitrary::{Arbitrary, Unstructured};

use crate::report::{self, Verdict};
use crate::scenario::generate::{Focused, FOCUS_IOMMU, FOCUS_IOVA, FOCUS_SG};
use crate::scenario::{parse_str, Op, Scenario};

/// The fuzz targets, by the names `fuzz/fuzz_targets/` gives them.
pub const TARGETS: &[&str] = &["direct", "iova", "iommu", "sg"];

/// The prefix of a fuzz input that holds scenario text instead of generator bytes: how the
/// corpus seeds the fuzzers (`dmadiff seeds`).
pub const TEXT_INPUT: &[u8] = b"#dmadiff-scenario\n";

/// Decodes a fuzz input of `target` into the scenario the target ran: scenario text after
/// [`TEXT_INPUT`], else bytes for the target's generator.
pub fn import(target: &str, bytes: &[u8]) -> Result<Scenario, String> {
    if !TARGETS.contains(&target) {
        return Err(format!("unknown fuzz target `{target}`; expected one of: {}", TARGETS.join(", ")));
    }
    if let Some(text) = bytes.strip_prefix(TEXT_INPUT) {
        let text = std::str::from_utf8(text).map_err(|e| format!("a text input that is not UTF-8: {e}"))?;
        return parse_str(text, "fuzz input").map_err(|e| e.to_string());
    }
    let mut u = Unstructured::new(bytes);
    let sc = match target {
        "direct" => Scenario::arbitrary(&mut u),
        "iova" => Focused::<FOCUS_IOVA>::arbitrary(&mut u).map(|f| f.0),
        "iommu" => Focused::<FOCUS_IOMMU>::arbitrary(&mut u).map(|f| f.0),
        "sg" => Focused::<FOCUS_SG>::arbitrary(&mut u).map(|f| f.0),
        _ => return Err(format!("unknown fuzz target `{target}`; expected one of: {}", TARGETS.join(", "))),
    };
    sc.map_err(|e| format!("the input does not decode into a scenario for `{target}`: {e}"))
}

/// Whether a corpus scenario seeds `target`: every one seeds `direct` (the mixed target),
/// allocator-level iova scenarios seed `iova`, scenarios behind a DMA domain seed `iommu`,
/// scenarios with a scatterlist or a two-step IOVA state seed `sg`.
pub fn seeds_target(sc: &Scenario, target: &str) -> bool {
    match target {
        "iova" => sc.ops.iter().any(|o| matches!(o, Op::IovaInit { .. })),
        "iommu" => sc.config.iommu.as_ref().is_some_and(|i| i.domain != crate::scenario::IommuDomainType::Identity),
        "sg" => sc.ops.iter().any(|o| matches!(o, Op::SgAllocTable { .. } | Op::IovaTryAlloc { .. })),
        _ => true,
    }
}

/// The fuzz input that seeds a target with `sc`.
pub fn seed_input(sc: &Scenario) -> Vec<u8> {
    let mut v = TEXT_INPUT.to_vec();
    v.extend_from_slice(sc.to_string().as_bytes());
    v
}

/// What kind of finding a verdict is, for "the same finding still reproduces": the verdict
/// variant, the side it is on, and the op's function.
fn signature(sc: &Scenario, v: &Verdict) -> Option<String> {
    let func = |op: usize| sc.ops.get(op).map_or("?", |o| o.func_name());
    match v {
        Verdict::Divergence { op, detail } => {
            let what = detail.split(':').next().unwrap_or("");
            Some(format!("divergence {} {what}", func(*op)))
        }
        Verdict::IntegrityFailure { side, op, .. } => Some(format!("integrity {side:?} {}", func(*op))),
        Verdict::InvariantFailure { side, op, .. } => Some(format!("invariant {side:?} {}", func(*op))),
        _ => None,
    }
}

/// The finding of `sc`, if it has one (an unexpected divergence, integrity or invariant failure).
pub fn finding(sc: &Scenario) -> Option<String> {
    signature(sc, &report::check(sc).verdict())
}

/// Shrinks `sc` while its finding reproduces: drops operations (whole chunks, then one by
/// one), then configuration the finding does not need (MMIO regions, dma-ranges, kernel
/// areas, the IOMMU's reserved regions and windows, swiotlb, the IOMMU itself, RAM regions).
/// Returns the smaller scenario, or an error when `sc` has no finding to keep.
pub fn minimize(sc: &Scenario) -> Result<Scenario, String> {
    let want = finding(sc).ok_or("the scenario shows no finding (it agrees or ends in an expected divergence)")?;
    let mut start = sc.clone();
    // The ops after the failing one never matter.
    if let Some(op) = first_failing_op(&start) {
        start.ops.truncate(op + 1);
    }
    let start = if finding(&start).as_deref() == Some(want.as_str()) { start } else { sc.clone() };
    Ok(shrink(&start, |c| finding(c).as_deref() == Some(want.as_str())))
}

/// The shrinking itself, for any property `keep` the scenario has: a candidate is kept when
/// it still parses back (no dangling handles) and still has the property.
pub fn shrink(sc: &Scenario, keep: impl Fn(&Scenario) -> bool) -> Scenario {
    let ok = |cand: &Scenario| parse_str(&cand.to_string(), "candidate").is_ok_and(|again| keep(&again));
    let mut best = sc.clone();
    // ddmin-style: chunks of decreasing size, then single ops, until nothing more goes.
    let mut chunk = (best.ops.len() / 2).max(1);
    loop {
        let mut removed = false;
        let mut i = 0;
        while i < best.ops.len() {
            let mut cand = best.clone();
            let end = (i + chunk).min(cand.ops.len());
            cand.ops.drain(i..end);
            if !cand.ops.is_empty() && ok(&cand) {
                best = cand;
                removed = true;
            } else {
                i += chunk;
            }
        }
        if chunk == 1 && !removed {
            break;
        }
        chunk = (chunk / 2).max(1);
    }
    let simplifications: [fn(&mut Scenario) -> bool; 7] = [
        |s| !std::mem::take(&mut s.config.mmio).is_empty(),
        |s| !std::mem::take(&mut s.config.dma_ranges).is_empty(),
        |s| !std::mem::take(&mut s.config.kernel_areas).is_empty(),
        |s| s.config.iommu.as_mut().is_some_and(|i| !std::mem::take(&mut i.resv).is_empty()),
        |s| s.config.iommu.as_mut().is_some_and(|i| !std::mem::take(&mut i.pci_windows).is_empty()),
        |s| s.config.swiotlb.take().is_some(),
        |s| s.config.iommu.take().is_some(),
    ];
    for simplify in simplifications {
        let mut cand = best.clone();
        if simplify(&mut cand) && ok(&cand) {
            best = cand;
        }
    }
    let mut r = 0;
    while r < best.config.ram.len() {
        let mut cand = best.clone();
        cand.config.ram.remove(r);
        if ok(&cand) {
            best = cand;
        } else {
            r += 1;
        }
    }
    best
}

/// The op where the finding shows.
fn first_failing_op(sc: &Scenario) -> Option<usize> {
    match report::check(sc).verdict() {
        Verdict::Divergence { op, .. }
        | Verdict::IntegrityFailure { op, .. }
        | Verdict::InvariantFailure { op, .. } => Some(op),
        _ => None,
    }
}

/// The header a minimized scenario gets: what it reproduces, ready for corpus/.
pub fn header(sc: &Scenario, source: &str) -> String {
    let v = report::check(sc).verdict();
    let ops = sc.ops.iter().filter(|o| !matches!(o, Op::RunOnCpu(_))).count();
    format!(
        "# Minimized from {source} ({ops} operations): {}\n# Say here what the kernel does and why; then `cargo insta test --review` for its snapshot.\n",
        // a verdict may carry a scatterlist's entries on lines of their own
        report::verdict_text(sc, &v).replace('\n', "\n#")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finding the oracles report on any build: a device store under a dirty CPU line the
    /// scenario itself provokes would be legal; an out-of-contract read is not a finding.
    /// So the tests use the generator's own input bytes and check the mechanics instead.
    #[test]
    fn import_decodes_the_targets_inputs_and_refuses_unknown_targets() {
        let bytes: Vec<u8> = (0..512u32).map(|i| (i * 37 % 251) as u8).collect();
        for t in TARGETS {
            let sc = import(t, &bytes).unwrap();
            // The printed scenario parses back to itself: ready for corpus/.
            assert_eq!(parse_str(&sc.to_string(), "imported").unwrap(), sc);
        }
        let iova = import("iova", &bytes).unwrap();
        assert!(matches!(iova.ops.first(), Some(Op::IovaInit { .. })));
        assert!(import("scatterlist", &bytes).unwrap_err().contains("unknown fuzz target"));
    }

    #[test]
    fn corpus_seeds_are_text_inputs_that_import_back() {
        let sc = parse_str(
            "expect dma_debug=size-mismatch\nram start=0x80000000 size=0x10000\niova_init(0x1000, 1)\nn = alloc_iova(1, 0xfffff, true)\n",
            "seed",
        )
        .unwrap();
        let seed = seed_input(&sc);
        assert!(seed.starts_with(TEXT_INPUT));
        assert_eq!(import("iova", &seed).unwrap(), sc);
        assert!(seeds_target(&sc, "iova") && seeds_target(&sc, "direct") && !seeds_target(&sc, "iommu"));
        // A mutation that breaks the text is not a scenario.
        let mut broken = seed.clone();
        broken.extend_from_slice(b"dma_map_phys(\n");
        assert!(import("iova", &broken).is_err());
    }

    #[test]
    fn shrink_keeps_only_what_the_property_needs() {
        let sc = parse_str(
            "platform cpus=2
device dma_mask=0xffffffff coherent=no
ram start=0x80000000 size=0x100000
ram start=0x90000000 size=0x100000
mmio start=0x40000000 size=0x1000
swiotlb mode=on start=0x90000000 nslabs=0x80
h0 = dma_map_phys(0x80001000, 0x100, DMA_TO_DEVICE, 0)
dma_mapping_error(h0)
h1 = dma_map_phys(0x80002000, 0x100, DMA_FROM_DEVICE, 0)
cpu_write(0x80003000, 0x10, 0x1)
run_on_cpu(1)
dma_unmap_phys(h1, 0x7)
dma_unmap_phys(h0)
",
            "t",
        )
        .unwrap();
        // The property: some unmap of h1 with size 7 (a stand-in for a finding).
        let keep = |s: &Scenario| s.ops.iter().any(|o| matches!(o, Op::Unmap { args, .. } if args.size == Some(7)));
        let small = shrink(&sc, keep);
        let text = small.to_string();
        // The map h1 must stay (its handle), everything else goes, config included.
        assert_eq!(small.ops.len(), 2, "{text}");
        assert!(text.contains("h1 = dma_map_phys(0x80002000") && text.contains("dma_unmap_phys(h1, 0x7)"), "{text}");
        assert!(small.config.swiotlb.is_none() && small.config.mmio.is_empty(), "{text}");
        assert_eq!(small.config.ram.len(), 0, "{text}");
    }

    #[test]
    fn minimize_refuses_a_scenario_without_a_finding() {
        let sc = parse_str(
            "ram start=0x80000000 size=0x10000\nh0 = dma_map_phys(0x80001000, 0x10, DMA_TO_DEVICE, 0)\n",
            "t",
        )
        .unwrap();
        assert!(minimize(&sc).is_err());
    }
}
