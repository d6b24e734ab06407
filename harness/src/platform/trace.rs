//! Trace events: the kernel's dma tracepoints, the arch cache hooks, printk reports and
//! platform faults, printed the way a kernel developer reads them.

use serde::Serialize;

use crate::types::{DmaAddr, DmaAttrs, DmaDir, KernelVersion, PhysAddr};

pub use dmadiff_cref::ReportKind;

/// Which arch hook ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ArchHook {
    SyncForDevice,
    SyncForCpu,
}

/// The cache maintenance an arch hook performed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CacheOp {
    /// No maintenance (e.g. arm64 arch_sync_dma_for_cpu with DMA_TO_DEVICE).
    None,
    /// dcache_clean_poc
    Clean,
    /// dcache_inval_poc
    Inval,
}

/// One trace event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `dma_map` tracepoint class: dma_map_page, dma_map_resource (v6.16), dma_map_phys (v6.18).
    TraceMap { event: String, phys: PhysAddr, dma: DmaAddr, size: u64, dir: DmaDir, attrs: DmaAttrs },
    /// `dma_unmap` class: dma_unmap_page, dma_unmap_resource, dma_unmap_phys.
    TraceUnmap { event: String, addr: DmaAddr, size: u64, dir: DmaDir, attrs: DmaAttrs },
    /// `dma_sync_single` class.
    TraceSyncSingle { event: String, addr: DmaAddr, size: u64, dir: DmaDir },
    /// arch_sync_dma_for_device / arch_sync_dma_for_cpu and what they did to the cache.
    ArchSync {
        hook: ArchHook,
        phys: PhysAddr,
        size: u64,
        dir: DmaDir,
        op: CacheOp,
        written_back: u32,
        discarded_dirty: u32,
    },
    /// A WARN, dev_err or BUG. `func` is shown, not compared: the same check lives in
    /// differently named functions across the two releases.
    Report { kind: ReportKind, func: String, text: String },
    /// Something the platform could not do (a device access nothing answers, cache
    /// maintenance on an address with no linear mapping).
    Fault { what: String },
    /// A memcpy() by the CPU (swiotlb_bounce), through its cache.
    Memcpy { dst: PhysAddr, src: PhysAddr, size: u64 },
    /// Tracepoint swiotlb_bounced (include/trace/events/swiotlb.h).
    TraceSwiotlbBounced { dma_mask: u64, dev_addr: DmaAddr, size: u64, force: bool },
}

impl Event {
    /// Kernel-style one-line rendering, decoding attrs with `version`'s decoder.
    pub fn render(&self, device: &str, version: KernelVersion) -> String {
        match self {
            Event::TraceMap { event, phys, dma, size, dir, attrs } => format!(
                "{event}: {device} dir={} dma_addr={:x} size={size} phys_addr={:x} attrs={}",
                dir.trace_name(),
                dma.0,
                phys.0,
                attrs.trace_decode(version)
            ),
            Event::TraceUnmap { event, addr, size, dir, attrs } => format!(
                "{event}: {device} dir={} dma_addr={:x} size={size} attrs={}",
                dir.trace_name(),
                addr.0,
                attrs.trace_decode(version)
            ),
            Event::TraceSyncSingle { event, addr, size, dir } => {
                format!("{event}: {device} dir={} dma_addr={:x} size={size}", dir.trace_name(), addr.0)
            }
            Event::ArchSync { hook, phys, size, dir, op, written_back, discarded_dirty } => {
                let name = match hook {
                    ArchHook::SyncForDevice => "arch_sync_dma_for_device",
                    ArchHook::SyncForCpu => "arch_sync_dma_for_cpu",
                };
                let what = match op {
                    CacheOp::None => "no maintenance".to_string(),
                    CacheOp::Clean => format!("dcache_clean_poc: {written_back} dirty line(s) written back"),
                    CacheOp::Inval => {
                        format!("dcache_inval_poc: {written_back} written back, {discarded_dirty} dirty dropped")
                    }
                };
                format!("{name}({phys}, {size:#x}, {dir}) -> {what}")
            }
            Event::Report { kind, func, text } => match kind {
                ReportKind::WarnOn => format!("WARNING: {func}: WARN_ON_ONCE({text})"),
                ReportKind::DevWarn => format!("WARNING: {func}: {text}"),
                ReportKind::DevErr => text.clone(),
                ReportKind::Bug => format!("kernel BUG in {func}: BUG_ON({text})"),
                ReportKind::DevWarning => text.clone(),
            },
            Event::Fault { what } => format!("FAULT: {what}"),
            Event::Memcpy { dst, src, size } => format!("memcpy({dst} <- {src}, {size:#x})"),
            Event::TraceSwiotlbBounced { dma_mask, dev_addr, size, force } => format!(
                "swiotlb_bounced: dev_name: {device} dma_mask={dma_mask:x} dev_addr={:x} size={size} {}",
                dev_addr.0,
                if *force { "FORCE" } else { "NORMAL" }
            ),
        }
    }

    /// Stable machine-readable form.
    pub fn to_json(&self, device: &str, version: KernelVersion) -> serde_json::Value {
        serde_json::json!({ "text": self.render(device, version) })
    }
}
