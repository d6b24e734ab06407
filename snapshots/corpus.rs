//! The corpus: every scenario parses, round-trips, replays without a finding, and its
//! trace matches its snapshot beside this file. (The test lives in snapshots/ so that
//! cargo-insta, which looks for snapshots under each target's folder, finds them.)

use dmadiff::report::{check_file, render_trace, verdict_line};
use dmadiff::scenario::{parse_file, parse_str};

#[test]
fn corpus_traces() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(".");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::glob!("../corpus", "**/*.scn", |path| {
            let sc = parse_file(path).unwrap_or_else(|e| panic!("{e}"));
            let again = parse_str(&sc.to_string(), "printed").unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(sc, again, "{} does not round-trip", path.display());
            let rep = check_file(&sc);
            let v = rep.verdict();
            assert!(!v.is_failure(), "{}", verdict_line(&path.display().to_string(), &sc, &v));
            // A corpus file that ends in a documented kernel change says which, so losing
            // that behaviour fails `dmadiff run` too, not only the snapshot.
            if let dmadiff::report::Verdict::ExpectedDivergence { id, .. } = &v {
                assert!(
                    sc.expect.is_some(),
                    "{} ends in {id} but has no `expect divergence={id}` line",
                    path.display()
                );
            }
            // Name snapshots by the path below corpus/, so adding a folder renames nothing.
            let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus").canonicalize().unwrap();
            let rel = path.strip_prefix(&corpus).unwrap_or(path);
            let mut named = insta::Settings::clone_current();
            named.set_snapshot_suffix(rel.display().to_string().replace('/', "__"));
            named.bind(|| insta::assert_snapshot!(render_trace(&sc, &rep)));
        });
    });
}

fn scenarios_in(folder: &str) -> usize {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus").join(folder);
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "scn"))
        .count()
}

#[test]
fn corpus_has_the_scenarios_the_issues_ask_for() {
    assert!(scenarios_in("direct") >= 30, "only {} dma-direct scenarios", scenarios_in("direct"));
    assert!(scenarios_in("swiotlb") >= 40, "only {} swiotlb scenarios", scenarios_in("swiotlb"));
    let iommu = scenarios_in("iova") + scenarios_in("iommu");
    assert!(iommu >= 40, "only {iommu} iova allocator and dma-iommu scenarios");
    assert!(scenarios_in("dma-debug") >= 25, "only {} dma-debug scenarios", scenarios_in("dma-debug"));
}
