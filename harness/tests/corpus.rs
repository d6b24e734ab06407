//! The corpus: every scenario parses, round-trips, replays without a finding, and its
//! trace matches its snapshot in snapshots/.

use dmadiff::report::{check, render_trace, verdict_line};
use dmadiff::scenario::{parse_file, parse_str};

#[test]
fn corpus_traces() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::glob!("../../corpus", "**/*.scn", |path| {
            let sc = parse_file(path).unwrap_or_else(|e| panic!("{e}"));
            let again = parse_str(&sc.to_string(), "printed").unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(sc, again, "{} does not round-trip", path.display());
            let rep = check(&sc);
            let v = rep.verdict();
            assert!(!v.is_failure(), "{}", verdict_line(&path.display().to_string(), &sc, &v));
            insta::assert_snapshot!(render_trace(&sc, &rep));
        });
    });
}

#[test]
fn corpus_has_at_least_thirty_direct_scenarios() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/direct");
    let n = std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "scn"))
        .count();
    assert!(n >= 30, "only {n} dma-direct scenarios");
}
