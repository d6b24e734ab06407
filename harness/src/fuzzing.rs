//! What every fuzzing front end runs on one input: cargo-fuzz targets, the bolero property
//! tests and `cargo bolero` all call [`check_scenario`], so the same oracles judge them all.

use crate::report::{self, Verdict};
use crate::scenario::Scenario;

/// Runs `sc` on both sides and panics with a readable reproducer on an unexpected
/// divergence or integrity failure. Returns the verdict otherwise.
pub fn check_scenario(sc: &Scenario) -> Verdict {
    let rep = report::check(sc);
    let v = rep.verdict();
    if v.is_failure() {
        panic!(
            "dmadiff finding: {}\n\n--- reproducer (save as a .scn file) ---\n{}\n--- trace ---\n{}",
            report::verdict_text(sc, &v),
            sc,
            report::render_trace(sc, &rep)
        );
    }
    v
}

/// What a cargo-fuzz target runs on one input of `target` (see [`crate::minimize::import`]):
/// inputs that do not decode, or text seeds a mutation broke, are skipped.
pub fn check_input(target: &str, data: &[u8]) {
    if let Ok(mut sc) = crate::minimize::import(target, data) {
        // A mutated seed need not end where its corpus file did.
        sc.expect = None;
        sc.expect_debug.clear();
        check_scenario(&sc);
    }
}
