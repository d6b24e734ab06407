//! `dmadiff bench`: what a run costs, measured (never asserted in tests).
//!
//! The swiotlb figure compares the same scenario on the default 64 MiB pool and on a 1 MiB
//! pool: slot state is materialised per touched 128-slot segment and the pool memory is
//! zeroed lazily, so the two should cost about the same. The IOMMU figure compares the same
//! map-heavy scenario on a 32-bit and a 48-bit DMA domain: the iova tree holds only live
//! nodes and the page table one extent per map, so the two should cost about the same too.

use std::time::{Duration, Instant};

use crate::report;
use crate::scenario::{parse_str, Scenario};

/// A bounce-heavy scenario on a force-bounce, non-coherent device; `{POOL}` is the pool line.
const BOUNCE_SCENARIO: &str = "\
platform arch=arm64 cpus=4
device name=0000:01:00.0 driver=nvme dma_mask=0xffffffffffffffff coherent=no min_align_mask=0xfff
ram start=0x80000000 size=0x1000000
ram start=0xa0000000 size=0x4000000
{POOL}
cpu_write(0x80001a00, 0x3000, 0x11)
h0 = dma_map_phys(0x80001a00, 0x3000, DMA_TO_DEVICE, 0)
dev_read(h0, 0x3000)
h1 = dma_map_phys(0x80010000, 0x1000, DMA_FROM_DEVICE, 0)
dev_write(h1, 0x1000, 0x22)
dma_sync_single_for_cpu(h1)
cpu_read(0x80010000, 0x1000)
run_on_cpu(2)
h2 = dma_map_phys(0x80020100, 0x200, DMA_BIDIRECTIONAL, 0)
dev_write(h2+0x10, 0x40, 0x33)
dma_unmap_phys(h2)
dma_unmap_phys(h1)
dma_unmap_phys(h0)
t0 = swiotlb_tbl_map_single(0x80030a00, 0x800, 0xfff, DMA_TO_DEVICE, 0)
swiotlb_tbl_unmap_single(t0)
";

/// A map-heavy scenario through dma-iommu on a lazy domain; `{APERTURE}` is the aperture end
/// and the device mask.
const IOMMU_SCENARIO: &str = "\
platform arch=arm64 cpus=2
device name=0000:02:00.0 driver=nvme dma_mask={APERTURE} coherent=no pci=yes
ram start=0x80000000 size=0x1000000
iommu domain=dma-fq granule=4K aperture_end={APERTURE}
iommu_resv start=0x8000000 length=0x100000 type=msi
cpu_write(0x80001000, 0x3000, 0x11)
h0 = dma_map_phys(0x80001000, 0x3000, DMA_TO_DEVICE, 0)
dev_read(h0, 0x3000)
h1 = dma_map_phys(0x80010200, 0x1000, DMA_FROM_DEVICE, 0)
dev_write(h1, 0x1000, 0x22)
dma_sync_single_for_cpu(h1)
cpu_read(0x80010200, 0x1000)
h2 = dma_map_phys(0x80100000, 0x21000, DMA_BIDIRECTIONAL, 0)
dev_write(h2+0x1000, 0x40, 0x33)
dma_unmap_phys(h2)
run_on_cpu(1)
h3 = dma_map_phys(0x80200000, 0x2000, DMA_TO_DEVICE, 0)
dma_unmap_phys(h1)
dma_unmap_phys(h0)
fq_flush_timeout()
h4 = dma_map_phys(0x80300000, 0x1000, DMA_TO_DEVICE, 0)
dma_unmap_phys(h4)
dma_unmap_phys(h3)
";

/// One measured configuration.
pub struct Figure {
    pub label: String,
    pub runs: u32,
    pub per_run: Duration,
}

fn scenario(pool_line: &str) -> Scenario {
    parse_str(&BOUNCE_SCENARIO.replace("{POOL}", pool_line), "bench").expect("bench scenario parses")
}

/// Median of `batches` batches of `runs` checks of `sc` (both sides and every oracle).
fn measure(sc: &Scenario, runs: u32, batches: u32) -> Duration {
    let mut per_batch: Vec<Duration> = (0..batches)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..runs {
                let rep = report::check(sc);
                assert!(!rep.verdict().is_failure(), "bench scenario must agree");
            }
            t.elapsed() / runs
        })
        .collect();
    per_batch.sort();
    per_batch[per_batch.len() / 2]
}

/// The swiotlb pool-size figures.
pub fn swiotlb_pool_sizes(runs: u32) -> Vec<Figure> {
    let configs = [
        (
            "swiotlb mode=force start=0xa0000000 (default 64 MiB, 32768 slots)",
            "swiotlb mode=force start=0xa0000000 nareas=4",
        ),
        (
            "swiotlb mode=force start=0xa0000000 nslabs=512 (1 MiB)",
            "swiotlb mode=force start=0xa0000000 nslabs=512 nareas=4",
        ),
    ];
    configs
        .iter()
        .map(|(label, line)| {
            let sc = scenario(line);
            Figure { label: label.to_string(), runs, per_run: measure(&sc, runs, 7) }
        })
        .collect()
}

/// The IOMMU address-space figures: the same scenario on a 32-bit and a 48-bit domain.
pub fn iommu_address_spaces(runs: u32) -> Vec<Figure> {
    [
        ("iommu domain=dma-fq aperture_end=0xffffffff (32-bit)", "0xffffffff"),
        ("iommu domain=dma-fq aperture_end=0xffffffffffff (48-bit)", "0xffffffffffff"),
    ]
    .iter()
    .map(|(label, end)| {
        let sc = parse_str(&IOMMU_SCENARIO.replace("{APERTURE}", end), "bench").expect("bench scenario parses");
        Figure { label: label.to_string(), runs, per_run: measure(&sc, runs, 7) }
    })
    .collect()
}

/// Prints the figures as a kernel developer would paste them; pairs get their ratio.
pub fn print(figures: &[Figure]) {
    for f in figures {
        println!(
            "{:<70} {:>9.1} us/run  (median of 7 batches of {} runs, both sides and all oracles)",
            f.label,
            f.per_run.as_secs_f64() * 1e6,
            f.runs
        );
    }
    if let [a, b] = figures {
        println!("ratio (first / second): {:.2}", a.per_run.as_secs_f64() / b.per_run.as_secs_f64());
    }
}

/// Throughput of one fuzz target's check, as `cargo fuzz` runs it without sanitizers.
pub struct TargetFigure {
    pub target: &'static str,
    pub execs: u64,
    pub per_sec: f64,
    pub mean_ops: f64,
    /// Shares of the time: inside the C model's calls, inside the Rust mapper's calls, and
    /// the rest (both platforms' accesses, the oracles, the comparison, decoding).
    pub c_share: f64,
    pub rust_share: f64,
    pub other_share: f64,
}

/// Runs each fuzz target's check on a fixed stream of generated inputs for `secs` seconds.
pub fn fuzz_targets(secs: f64) -> Vec<TargetFigure> {
    crate::minimize::TARGETS
        .iter()
        .map(|&target| {
            let mut x = 0x9e37_79b9_7f4a_7c15u64;
            let mut bytes = vec![0u8; 1024];
            let (mut execs, mut ops) = (0u64, 0u64);
            crate::exec::profile::take();
            let start = Instant::now();
            while start.elapsed().as_secs_f64() < secs {
                for b in bytes.iter_mut() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    *b = (x >> 24) as u8;
                }
                if let Ok(sc) = crate::minimize::import(target, &bytes) {
                    ops += sc.ops.len() as u64;
                    let _ = std::hint::black_box(report::check(&sc).verdict());
                }
                execs += 1;
            }
            let total = start.elapsed().as_nanos() as f64;
            let [c, r] = crate::exec::profile::take();
            TargetFigure {
                target,
                execs,
                per_sec: execs as f64 / (total / 1e9),
                mean_ops: ops as f64 / execs.max(1) as f64,
                c_share: c as f64 / total,
                rust_share: r as f64 / total,
                other_share: 1.0 - (c + r) as f64 / total,
            }
        })
        .collect()
}

/// Prints the target figures.
pub fn print_targets(figures: &[TargetFigure]) {
    for f in figures {
        println!(
            "{:<8} {:>9.0} exec/s  ({} execs, {:.1} ops/scenario)  C model {:>4.1}%  Rust mapper {:>4.1}%  platform+oracles {:>4.1}%",
            f.target,
            f.per_sec,
            f.execs,
            f.mean_ops,
            100.0 * f.c_share,
            100.0 * f.rust_share,
            100.0 * f.other_share
        );
    }
}
