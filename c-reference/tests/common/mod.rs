//! What the C-model test files share: the recording platform (every hook call becomes one
//! line of text, cpu_memcpy copies within a sparse byte memory, and a mock IOMMU page table
//! of one extent per map) and the base device.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};

use dmadiff_cref::{
    DeviceConfig, Hooks, IommuConfig, IommuDomainType, P2pdmaMapType, ReportKind, SwiotlbConfig, SwiotlbMode,
};

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

/// An SMMU-like domain: 4K granule (plus 2M and 1G), 48-bit aperture, force_aperture.
pub fn iommu(domain: IommuDomainType) -> IommuConfig {
    IommuConfig {
        domain,
        pgsize_bitmap: 0x1000 | 0x20_0000 | 0x4000_0000,
        aperture_start: 0,
        aperture_end: (1 << 48) - 1,
        force_aperture: true,
        deferred_flush: true,
        shadow_on_flush: false,
        forcedac: false,
        resv: vec![],
        pci_windows: vec![],
    }
}

/// The base device (coherent 64-bit PCI NVMe) behind a strict DMA domain.
pub fn strict() -> DeviceConfig {
    DeviceConfig { iommu: iommu(IommuDomainType::Dma), ..base_device() }
}

/// The same behind a lazy (flush-queue) domain.
pub fn lazy() -> DeviceConfig {
    DeviceConfig { iommu: iommu(IommuDomainType::DmaFq), ..base_device() }
}

/// Records every platform effect as one line, and keeps a sparse byte memory that
/// cpu_memcpy copies within (unwritten bytes read 0, as after the boot memset).
#[derive(Default)]
pub struct Rec {
    pub events: Vec<String>,
    pub mem: HashMap<u64, u8>,
    pub p2p_pfns: Vec<u64>,
    /// P2PDMA providers: (start, size, map type, bus_offset); their pgmap token is index + 1.
    pub p2p: Vec<(u64, u64, P2pdmaMapType, u64)>,
    /// The IOMMU page table: iova -> (phys, size, prot), one extent per successful map (4K granule).
    pub table: BTreeMap<u64, (u64, u64, i32)>,
    /// The next iommu_map() fails with -ENOMEM.
    pub fail_next_map: bool,
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
    /// The extent holding `iova`: (iova start, phys, size, prot).
    pub fn lookup(&self, iova: u64) -> Option<(u64, u64, u64, i32)> {
        self.table.range(..=iova).next_back().filter(|(s, e)| iova - **s < e.1).map(|(s, e)| (*s, e.0, e.1, e.2))
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
        self.p2p_pfns.contains(&pfn) || self.p2p.iter().any(|&(s, n, _, _)| (pfn << 12).wrapping_sub(s) < n)
    }
    fn pci_p2pdma_map_type(&mut self, pfn: u64) -> Option<(P2pdmaMapType, u64, u64)> {
        let phys = pfn << 12;
        self.p2p
            .iter()
            .enumerate()
            .find(|(_, &(s, n, _, _))| phys.wrapping_sub(s) < n)
            .map(|(i, &(_, _, t, off))| (t, off, i as u64 + 1))
    }
    fn trace_dma_sg(&mut self, event: &str, phys: &[u64], dma: &[(u64, u32)], err: i64, dir: u32, attrs: u64) {
        let phys: Vec<String> = phys.iter().map(|p| format!("{p:#x}")).collect();
        let dma: Vec<String> = dma.iter().map(|(a, l)| format!("{a:#x}+{l:#x}")).collect();
        self.events.push(format!(
            "trace {event} phys=[{}] dma=[{}] err={err} dir={dir} attrs={attrs:#x}",
            phys.join(" "),
            dma.join(" ")
        ));
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
    fn iommu_map(&mut self, iova: u64, paddr: u64, size: u64, prot: i32) -> i32 {
        self.events.push(format!("map {iova:#x} {paddr:#x} {size:#x} prot={prot:#x}"));
        if std::mem::take(&mut self.fail_next_map) {
            return -12;
        }
        if (iova | paddr | size) & 0xfff != 0 {
            return -22;
        }
        if size == 0 {
            return 0;
        }
        // (the top granule of a 64-bit space ends at 2^64: compare offsets, not ends)
        let overlaps =
            self.table.range(..=iova + (size - 1)).next_back().is_some_and(|(s, e)| iova - s < e.1 || *s >= iova);
        if overlaps {
            return -17;
        }
        self.table.insert(iova, (paddr, size, prot));
        0
    }
    fn iommu_unmap(&mut self, iova: u64, size: u64) -> u64 {
        self.events.push(format!("unmap {iova:#x} {size:#x}"));
        let mut done = 0;
        while done < size {
            let Some((_, sz, _)) = self.table.remove(&(iova.wrapping_add(done))) else { break };
            done += sz;
        }
        done
    }
    fn iommu_iova_to_phys(&mut self, iova: u64) -> u64 {
        self.lookup(iova).map_or(0, |(s, phys, _, _)| phys + (iova - s))
    }
    fn iommu_iotlb_sync(&mut self, start: u64, end: u64) {
        self.events.push(format!("iotlb_sync {start:#x}-{end:#x}"));
    }
    fn iommu_flush_iotlb_all(&mut self) {
        self.events.push("flush_all".to_string());
    }
}
