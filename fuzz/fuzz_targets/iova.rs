//! The iova allocator driven directly (iova.c on both sides): random
//! scenarios on both sides, every oracle; a finding panics with a reproducer scenario.
#![no_main]

use dmadiff::scenario::generate::{Focused, FOCUS_IOVA};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|sc: Focused<FOCUS_IOVA>| {
    dmadiff::fuzzing::check_scenario(&sc.0);
});
