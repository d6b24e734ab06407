//! Single mappings through dma-iommu behind a strict or lazy DMA domain: random
//! scenarios on both sides, every oracle; a finding panics with a reproducer scenario.
#![no_main]

use dmadiff::scenario::generate::{Focused, FOCUS_IOMMU};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|sc: Focused<FOCUS_IOMMU>| {
    dmadiff::fuzzing::check_scenario(&sc.0);
});
