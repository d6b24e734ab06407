//! dmadiff: differential fuzzing and conformance for Linux's streaming DMA mapping API.
//!
//! A [`scenario::Scenario`] runs on the legacy C model ([`backend::legacy`], v6.16) and on
//! the Rust physical-address mapper ([`phys`], v6.18), each over its own instance of the one
//! mock [`platform`]. [`exec`] records what each side did; [`oracle`] compares the records
//! and checks the data; [`report`] says what a kernel developer needs to know.

pub mod backend;
pub mod bench;
pub mod exec;
pub mod fasthash;
pub mod fuzzing;
pub mod minimize;
pub mod oracle;
pub mod phys;
pub mod platform;
pub mod report;
pub mod scatterlist;
pub mod scenario;
pub mod types;
