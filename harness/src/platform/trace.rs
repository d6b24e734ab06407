//! Trace events: the kernel's dma tracepoints, the arch cache hooks, printk reports and
//! platform faults, printed the way a kernel developer reads them.

use serde::Serialize;

use crate::types::{DmaAddr, DmaAttrs, DmaDir, IommuProt, KernelVersion, PhysAddr};

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
    /// The scatterlist classes: dma_map_sg (phys, DMA segments, attrs), dma_map_sg_err (phys,
    /// err, attrs), dma_unmap_sg (phys, attrs), dma_sync_sg_for_{cpu,device} (DMA segments).
    TraceSg { event: String, phys: Vec<PhysAddr>, segs: Vec<(DmaAddr, u32)>, err: i64, dir: DmaDir, attrs: DmaAttrs },
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
    /// A memset() by the CPU (dma-iommu zeroing bounce padding), through its cache.
    Memset { dst: PhysAddr, value: u8, size: u64 },
    /// Tracepoint swiotlb_bounced (include/trace/events/swiotlb.h).
    TraceSwiotlbBounced { dma_mask: u64, dev_addr: DmaAddr, size: u64, force: bool },
    /// iommu_map() on the mock IOMMU: tracepoint `map` (include/trace/events/iommu.h) on
    /// success, the errno otherwise.
    IommuMap { iova: u64, phys: PhysAddr, size: u64, prot: IommuProt, ret: i32 },
    /// Tracepoint `unmap` of __iommu_unmap(): what was asked and what went.
    IommuUnmap { iova: u64, size: u64, unmapped: u64 },
    /// ops->iotlb_sync() over a gather (`start > end`: an empty gather).
    IommuIotlbSync { start: u64, end: u64 },
    /// ops->flush_iotlb_all()
    IommuFlushAll,
    /// The device touched an IOVA the page table refuses: an IOMMU fault report.
    IommuFault { what: String },
    /// An unmap that split an earlier map: the mock IOMMU's exact-cover check.
    IommuSplit { iova: u64, size: u64 },
    /// What CONFIG_DMA_API_DEBUG prints (kernel/dma/debug.c), from the shadow checker:
    /// `class` is the error class of spec dma-debug.md §2, `text` the dmesg line.
    DmaDebug { class: u8, text: String },
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
            Event::TraceSg { event, phys, segs, err, dir, attrs } => {
                let list = |v: Vec<String>| format!("{{{}}}", v.join(","));
                let phys = list(phys.iter().map(|p| format!("0x{:x}", p.0)).collect());
                let dmas = list(segs.iter().map(|s| format!("0x{:x}", s.0 .0)).collect());
                let sizes = list(segs.iter().map(|s| format!("{}", s.1)).collect());
                let dir = dir.trace_name();
                let attrs = attrs.trace_decode(version);
                // the TP_printk() formats of include/trace/events/dma.h
                match event.as_str() {
                    "dma_map_sg" => format!(
                        "{event}: {device} dir={dir} dma_addrs={dmas} sizes={sizes} phys_addrs={phys} attrs={attrs}"
                    ),
                    // the kernel prints the physical addresses under the label dma_addrs here
                    "dma_map_sg_err" => {
                        format!("{event}: {device} dir={dir} dma_addrs={phys} err={err} attrs={attrs}")
                    }
                    "dma_unmap_sg" => format!("{event}: {device} dir={dir} phys_addrs={phys} attrs={attrs}"),
                    _ => format!("{event}: {device} dir={dir} dma_addrs={dmas} sizes={sizes}"),
                }
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
                ReportKind::WarnOnAlways => format!("WARNING: {func}: WARN_ON({text})"),
                ReportKind::DevWarn => format!("WARNING: {func}: {text}"),
                ReportKind::DevErr => text.clone(),
                ReportKind::Bug => format!("kernel BUG in {func}: BUG_ON({text})"),
                ReportKind::DevWarning => text.clone(),
            },
            Event::Fault { what } => format!("FAULT: {what}"),
            Event::Memcpy { dst, src, size } => format!("memcpy({dst} <- {src}, {size:#x})"),
            Event::Memset { dst, value, size } => format!("memset({dst}, {value:#x}, {size:#x})"),
            Event::IommuMap { iova, phys, size, prot, ret: 0 } => format!(
                "map: IOMMU: iova={iova:#018x} - {:#018x} paddr={:#018x} size={size} prot={prot}",
                iova.wrapping_add(*size),
                phys.0
            ),
            Event::IommuMap { iova, phys, size, prot, ret } => format!(
                "iommu_map(iova={iova:#x}, paddr={phys}, size={size:#x}, prot={prot}) = {}",
                crate::exec::errno_name(*ret as i64)
            ),
            Event::IommuUnmap { iova, size, unmapped } => format!(
                "unmap: IOMMU: iova={iova:#018x} - {:#018x} size={size} unmapped_size={unmapped}",
                iova.wrapping_add(*size)
            ),
            Event::IommuIotlbSync { start, end } if start > end => "iommu_iotlb_sync: empty gather".to_string(),
            Event::IommuIotlbSync { start, end } => format!("iommu_iotlb_sync: iova={start:#018x} - {end:#018x}"),
            Event::IommuFlushAll => "iommu_flush_iotlb_all".to_string(),
            Event::DmaDebug { text, .. } => text.clone(),
            Event::IommuFault { what } => format!("IOMMU FAULT: {device}: {what}"),
            Event::IommuSplit { iova, size } => {
                format!("MOCK IOMMU: unmap of iova={iova:#x} size={size:#x} splits an earlier map (not an exact cover)")
            }
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
