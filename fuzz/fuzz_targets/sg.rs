//! Scatterlists (dma-direct with P2PDMA, dma-iommu's layout and merge) and the two-step IOVA
//! API: random scenarios on both sides, every oracle; a finding panics with a reproducer
//! scenario. Inputs are generator bytes, or scenario text behind `#dmadiff-scenario` (the
//! corpus seeds `dmadiff seeds` writes).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dmadiff::fuzzing::check_input("sg", data);
});
