//! What both C-model test files use: the recording platform (every hook call becomes one
//! line of text, and cpu_memcpy copies within a sparse byte memory) and the base device.
#![allow(dead_code)]

use std::collections::HashMap;

use dmadiff_cref::{DeviceConfig, Hooks, IommuConfig, ReportKind, SwiotlbConfig, SwiotlbMode};

/// A coherent NVMe-like device with a 64-bit mask, no dma_range_map, arm64 configuration,
/// no dma_parms, booted with swiotlb=noforce.
pub fn base_device() -> DeviceConfig {
    DeviceConfig {
        name: "0000:01:00.0".to_string(),
        driver: "nvme".to_string(),
        dma_mask: Some(u64::MAX),
        bus_dma_limit: 0,
        dma_coherent: true,
        dma_range_map: vec![],
        dma_bounce_unaligned_kmalloc: true,
        arch_dma_minalign: 128,
        dma_api_debug: false,
        nr_cpus: 1,
        dma_parms: None,
        swiotlb: SwiotlbConfig { mode: SwiotlbMode::Off, start: 0, nslabs: 0, nareas: 0 },
        is_pci: true,
        untrusted: false,
        iommu: IommuConfig::default(),
    }
}

/// Records every platform effect as one line, and keeps a sparse byte memory that
/// cpu_memcpy copies within (unwritten bytes read 0, as after the boot memset).
#[derive(Default)]
pub struct Rec {
    pub events: Vec<String>,
    pub mem: HashMap<u64, u8>,
    pub p2p_pfns: Vec<u64>,
}

impl Rec {
    pub fn write(&mut self, addr: u64, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            self.mem.insert(addr + i as u64, *b);
        }
    }
    pub fn read(&self, addr: u64, len: u64) -> Vec<u8> {
        (0..len).map(|i| *self.mem.get(&(addr + i)).unwrap_or(&0)).collect()
    }
}

impl Hooks for Rec {
    fn arch_sync_dma_for_device(&mut self, paddr: u64, size: u64, dir: u32) {
        self.events.push(format!("for_device {paddr:#x} {size:#x} {dir}"));
    }
    fn arch_sync_dma_for_cpu(&mut self, paddr: u64, size: u64, dir: u32) {
        self.events.push(format!("for_cpu {paddr:#x} {size:#x} {dir}"));
    }
    fn arch_sync_dma_for_cpu_all(&mut self) {
        self.events.push("for_cpu_all".to_string());
    }
    fn arch_dma_mark_clean(&mut self, paddr: u64, size: u64) {
        self.events.push(format!("mark_clean {paddr:#x} {size:#x}"));
    }
    fn pfn_valid(&mut self, pfn: u64) -> bool {
        self.events.push(format!("pfn_valid {pfn:#x}"));
        true
    }
    fn is_pci_p2pdma_page(&mut self, pfn: u64) -> bool {
        self.events.push(format!("p2p? {pfn:#x}"));
        self.p2p_pfns.contains(&pfn)
    }
    fn trace_dma_map(&mut self, event: &str, phys: u64, dma: u64, size: u64, dir: u32, attrs: u64) {
        self.events
            .push(format!("trace {event} phys={phys:#x} dma={dma:#x} size={size:#x} dir={dir} attrs={attrs:#x}"));
    }
    fn trace_dma_unmap(&mut self, event: &str, addr: u64, size: u64, dir: u32, attrs: u64) {
        self.events.push(format!("trace {event} addr={addr:#x} size={size:#x} dir={dir} attrs={attrs:#x}"));
    }
    fn trace_dma_sync_single(&mut self, event: &str, addr: u64, size: u64, dir: u32) {
        self.events.push(format!("trace {event} addr={addr:#x} size={size:#x} dir={dir}"));
    }
    fn report(&mut self, kind: ReportKind, func: &str, text: &str) {
        self.events.push(format!("{kind:?} {func}: {text}"));
    }
    fn cpu_memcpy(&mut self, dst: u64, src: u64, size: u64) {
        self.events.push(format!("memcpy {dst:#x} <- {src:#x} {size:#x}"));
        let bytes = self.read(src, size);
        self.write(dst, &bytes);
    }
    fn cpu_memset(&mut self, dst: u64, value: u8, size: u64) {
        self.events.push(format!("memset {dst:#x} {value:#x} {size:#x}"));
        self.write(dst, &vec![value; size as usize]);
    }
    fn boot_memzero(&mut self, start: u64, size: u64) {
        self.events.push(format!("memzero {start:#x} {size:#x}"));
    }
    fn trace_swiotlb_bounced(&mut self, dev_addr: u64, size: u64, force: bool) {
        self.events.push(format!("trace swiotlb_bounced dev_addr={dev_addr:#x} size={size:#x} force={force}"));
    }
}
