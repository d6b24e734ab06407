//! Everything mixed (dma-direct, swiotlb, the IOMMU, the iova allocator): random scenarios on
//! both sides, every oracle; a finding panics with a reproducer scenario.
#![no_main]

use dmadiff::scenario::Scenario;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|sc: Scenario| {
    dmadiff::fuzzing::check_scenario(&sc);
});
