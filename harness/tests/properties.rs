//! Property tests under plain `cargo test` (bolero's random engine, fixed iteration count);
//! `cargo bolero test` runs the same harnesses as longer campaigns.

use dmadiff::fuzzing::check_scenario;
use dmadiff::scenario::{parse_str, Scenario};

/// Random scenarios either agree, or first differ where the allow-list says the kernel does.
#[test]
fn random_scenarios_agree_or_hit_the_allowlist() {
    bolero::check!().with_arbitrary::<Scenario>().with_iterations(500).for_each(|sc| {
        check_scenario(sc);
    });
}

/// The same property on the iova allocator driven directly (the `iova` fuzz target's input).
#[test]
fn random_iova_allocator_runs_agree() {
    use dmadiff::scenario::generate::{Focused, FOCUS_IOVA};
    bolero::check!().with_arbitrary::<Focused<FOCUS_IOVA>>().with_iterations(500).for_each(|sc| {
        check_scenario(&sc.0);
    });
}

/// The same property behind a DMA domain (the `iommu` fuzz target's input).
#[test]
fn random_dma_iommu_scenarios_agree_or_hit_the_allowlist() {
    use dmadiff::scenario::generate::{Focused, FOCUS_IOMMU};
    bolero::check!().with_arbitrary::<Focused<FOCUS_IOMMU>>().with_iterations(500).for_each(|sc| {
        check_scenario(&sc.0);
    });
}

/// The same property on scatterlists and the two-step IOVA API (the `sg` fuzz target's input).
#[test]
fn random_sg_scenarios_agree_or_hit_the_allowlist() {
    use dmadiff::scenario::generate::{Focused, FOCUS_SG};
    bolero::check!().with_arbitrary::<Focused<FOCUS_SG>>().with_iterations(500).for_each(|sc| {
        check_scenario(&sc.0);
    });
}

/// The same property over a fixed sweep of seeds, so every run checks the same 3000 inputs
/// on top of bolero's fresh ones.
#[test]
fn fixed_seed_sweep_agrees_or_hits_the_allowlist() {
    use arbitrary::{Arbitrary, Unstructured};
    for seed in 0..3000u64 {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let bytes: Vec<u8> = (0..1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        if let Ok(sc) = Scenario::arbitrary(&mut Unstructured::new(&bytes)) {
            check_scenario(&sc);
        }
    }
}

/// Every generated scenario prints as text that parses back to itself.
#[test]
fn generated_scenarios_round_trip() {
    bolero::check!().with_arbitrary::<Scenario>().with_iterations(500).for_each(|sc| {
        let text = sc.to_string();
        let back = parse_str(&text, "generated").unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(*sc, back, "{text}");
    });
}

/// The same for scatterlist and two-step scenarios (table and state names, sg()/iova()
/// addresses, p2p providers).
#[test]
fn generated_sg_scenarios_round_trip() {
    use dmadiff::scenario::generate::{Focused, FOCUS_SG};
    bolero::check!().with_arbitrary::<Focused<FOCUS_SG>>().with_iterations(500).for_each(|sc| {
        let text = sc.0.to_string();
        let back = parse_str(&text, "generated").unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(sc.0, back, "{text}");
    });
}
