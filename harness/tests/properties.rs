//! Property tests under plain `cargo test` (bolero's random engine, fixed iteration count);
//! `cargo bolero test` runs the same harnesses as longer campaigns.

use dmadiff::fuzzing::check_scenario;
use dmadiff::scenario::{parse_str, Scenario};

/// Random scenarios either agree, or first differ where the allow-list says the kernel does.
#[test]
fn random_scenarios_agree_or_hit_the_allowlist() {
    bolero::check!().with_arbitrary::<Scenario>().with_iterations(3000).for_each(|sc| {
        check_scenario(sc);
    });
}

/// Every generated scenario prints as text that parses back to itself.
#[test]
fn generated_scenarios_round_trip() {
    bolero::check!().with_arbitrary::<Scenario>().with_iterations(3000).for_each(|sc| {
        let text = sc.to_string();
        let back = parse_str(&text, "generated").unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(*sc, back, "{text}");
    });
}
