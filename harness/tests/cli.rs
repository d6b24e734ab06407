//! The dmadiff command line: verdict lines, totals, exit codes, JSON, explain.

use std::process::Command;

fn dmadiff(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dmadiff"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("run dmadiff");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn scratch(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("dmadiff-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const AGREEING: &str = "\
device dma_mask=0xffffffff coherent=no
ram start=0x80000000 size=0x100000
cpu_write(0x80001000, 0x100, 0x11)
h0 = dma_map_phys(0x80001000, 0x100, DMA_TO_DEVICE, 0)
dma_mapping_error(h0)
dev_read(h0, 0x100)
dma_unmap_phys(h0)
";

#[test]
fn corpus_replays_clean_with_one_line_per_scenario() {
    let (code, out, _) = dmadiff(&["run", "corpus/direct"]);
    assert_eq!(code, 0, "{out}");
    let n = std::fs::read_dir("../corpus/direct").map(|d| d.count()).unwrap_or(0);
    let lines = out.lines().filter(|l| l.starts_with("ok ") || l.starts_with("expected ")).count();
    assert!(lines >= 30 && (n == 0 || lines == n), "{lines} verdict lines for {n} files");
    assert!(out.lines().last().unwrap().contains(" unexpected divergence(s), 0 integrity failure(s)"), "{out}");
}

#[test]
fn a_file_that_does_not_parse_exits_2_with_its_position() {
    let bad = scratch("bad.scn", "ram start=0x0 size=0x1000\nh0 = dma_map_phys(0x0, 0x10, DMA_UP, 0)\n");
    let (code, _, err) = dmadiff(&["run", &bad]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.scn:2:30: error: expected a direction"), "{err}");
    let (code, _, _) = dmadiff(&["run", "no/such/dir"]);
    assert_eq!(code, 2);
    let (code, _, _) = dmadiff(&["frobnicate"]);
    assert_eq!(code, 2);
}

#[test]
fn an_unmet_expectation_exits_1() {
    let ok = scratch("ok.scn", AGREEING);
    assert_eq!(dmadiff(&["run", &ok]).0, 0);
    let text = format!("expect divergence=map-page-attrs-mmio\n{AGREEING}");
    let wrong = scratch("wrong.scn", &text);
    let (code, out, _) = dmadiff(&["run", &wrong]);
    assert_eq!(code, 1);
    assert!(out.starts_with("FAIL"), "{out}");
    assert!(out.contains("expects divergence map-page-attrs-mmio, but the run ended in agreement"), "{out}");
}

#[test]
fn dma_debug_reports_must_be_the_declared_ones() {
    // Correct use reports nothing; a wrong unmap size is dma-debug class 10.
    let misuse = AGREEING.replace("dma_unmap_phys(h0)", "dma_unmap_phys(h0, 0x80)");
    let undeclared = scratch("undeclared.scn", &misuse);
    let (code, out, _) = dmadiff(&["run", &undeclared]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("expects dma-debug reports [], but the run reported [size-mismatch]"), "{out}");
    let declared = scratch("declared.scn", &format!("expect dma_debug=size-mismatch\n{misuse}"));
    let (code, out, _) = dmadiff(&["run", &declared]);
    assert_eq!(code, 0, "{out}");
    let (_, trace, _) = dmadiff(&["explain", "--stacked", &declared]);
    assert!(
        trace.contains("DMA-API: dmadiff dmadiff0: device driver frees DMA memory with different size [device address=0x0000000080001000] [map size=256 bytes] [unmap size=128 bytes]"),
        "{trace}"
    );
}

#[test]
fn json_has_verdicts_and_totals() {
    let ok = scratch("json.scn", AGREEING);
    let (code, out, _) = dmadiff(&["run", "--json", &ok]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["totals"]["agree"], 1);
    assert_eq!(v["scenarios"][0]["verdict"]["verdict"], "agree");
    assert_eq!(v["scenarios"][0]["phys"][1]["result"], "0x80001000");
}

#[test]
fn explain_marks_the_first_divergence() {
    let f = scratch(
        "explain.scn",
        "ram start=0x80000000 size=0x100000\nh0 = dma_map_page_attrs(page(0x80001000), 0, 0x100, DMA_TO_DEVICE, DMA_ATTR_MMIO)\n",
    );
    let (code, out, _) = dmadiff(&["explain", &f]);
    assert_eq!(code, 0, "an expected divergence is not a failure");
    assert!(out.contains(">>[0] h0 = dma_map_page_attrs"), "{out}");
    assert!(out.contains("expected divergence map-page-attrs-mmio; comparison stops here"), "{out}");
    assert!(out.contains("legacy v6.16 (C)") && out.contains("phys v6.18 (Rust)"), "{out}");
}

#[test]
fn import_prints_a_scenario_that_parses_and_minimize_needs_a_finding() {
    let bytes: Vec<u8> = (0..600u32).map(|i| (i * 131 % 253) as u8).collect();
    let input = std::env::temp_dir().join(format!("dmadiff-cli-{}", std::process::id())).join("crash-input");
    std::fs::create_dir_all(input.parent().unwrap()).unwrap();
    std::fs::write(&input, &bytes).unwrap();
    let (code, out, err) = dmadiff(&["import", "--target", "iommu", input.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("# Imported from ") && out.contains("\niommu domain="), "{out}");
    let imported = scratch("imported.scn", &out);
    let (code, _, _) = dmadiff(&["run", &imported]);
    assert_ne!(code, 2, "an imported scenario parses");
    let (code, _, err) = dmadiff(&["import", "--target", "nope", input.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown fuzz target `nope`"), "{err}");
    let ok = scratch("min-ok.scn", AGREEING);
    let (code, _, err) = dmadiff(&["minimize", &ok]);
    assert_eq!(code, 1);
    assert!(err.contains("shows no finding"), "{err}");
}
