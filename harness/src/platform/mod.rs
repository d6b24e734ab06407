//! The mock platform both mappers run on: physical memory, the CPU cache, the bus between
//! device and memory, and the trace. One instance per side per run; the C model reaches it
//! through [`dmadiff_cref::Hooks`], the Rust mapper through the same methods directly.

pub mod cache;
pub mod iommu;
pub mod memory;
pub mod trace;

use cache::{Cache, MaintStats};
use memory::{Backing, Memory};
use trace::{ArchHook, CacheOp, Event, ReportKind};

use crate::scenario::{Arch, Config, DmaRange, IommuDomainType, P2pProvider, P2pdmaMapType};
use crate::types::{DmaAddr, DmaAttrs, DmaDir, IommuProt, PhysAddr, PAGE_SHIFT};
use iommu::{Iommu, MapError};

/// arm64 and x86_64 SECTION_SIZE_BITS with 4K pages: pfn_valid() is true for a whole
/// 128 MiB sparsemem section once any RAM lies in it (early sections have a full memmap).
pub const SECTION_SIZE_BITS: u32 = 27;

pub struct Platform {
    arch: Arch,
    coherent: bool,
    /// *dev->dma_mask, or 0 for a NULL pointer (what swiotlb_bounced records).
    dma_mask: u64,
    dma_ranges: Vec<DmaRange>,
    device_limit: u64,
    mem: Memory,
    cache: Cache,
    /// The page table of the device's paging domain; None: no IOMMU or an identity domain.
    iommu: Option<Iommu>,
    /// vmalloc ranges (virtual addresses outside the linear map).
    vmalloc: Vec<(u64, u64)>,
    /// P2PDMA providers: ZONE_DEVICE BARs, in configuration order.
    p2p: Vec<P2pProvider>,
    events: Vec<Event>,
}

/// Where a device access went: the physical pieces, in order (empty: nothing answered).
pub type Landing = Vec<(PhysAddr, u64)>;

impl Platform {
    pub fn new(cfg: &Config) -> Self {
        let d = &cfg.device;
        let mask = d.dma_mask.unwrap_or(u64::MAX);
        let device_limit = if d.bus_dma_limit != 0 { mask.min(d.bus_dma_limit) } else { mask };
        Platform {
            arch: cfg.arch,
            coherent: d.coherent,
            dma_mask: d.dma_mask.unwrap_or(0),
            dma_ranges: cfg.dma_ranges.clone(),
            device_limit,
            // A provider's BAR is MMIO to the CPU: mapped uncached, never in the linear map.
            mem: Memory::new(
                &cfg.ram,
                &cfg.mmio
                    .iter()
                    .copied()
                    .chain(cfg.p2p.iter().map(|p| crate::scenario::Region { start: p.start, size: p.size }))
                    .collect::<Vec<_>>(),
            ),
            cache: Cache::default(),
            iommu: cfg.iommu.as_ref().filter(|i| i.domain != IommuDomainType::Identity).map(|i| {
                // The io-pgtable's input size is the aperture whether or not the domain forces
                // it on dma-iommu: maps above it fail with -ERANGE (arm_lpae_map_pages()).
                Iommu::new(i.granule(), i.aperture_end)
            }),
            vmalloc: cfg
                .kernel_areas
                .iter()
                .filter(|a| a.kind == crate::scenario::KernelAreaKind::Vmalloc)
                .map(|a| (a.start, a.size))
                .collect(),
            p2p: cfg.p2p.clone(),
            events: Vec::new(),
        }
    }

    /// models is_vmalloc_addr(): inside one of the scenario's vmalloc ranges.
    pub fn is_vmalloc_addr(&self, addr: u64) -> bool {
        self.vmalloc.iter().any(|&(s, n)| addr >= s && addr - s < n)
    }

    /// The mock IOMMU's page table, if the device sits behind a paging domain.
    pub fn iommu(&self) -> Option<&Iommu> {
        self.iommu.as_ref()
    }

    /// Takes the events recorded since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The events recorded since the last take.
    pub fn pending_events(&self) -> &[Event] {
        &self.events
    }

    pub fn push(&mut self, e: Event) {
        self.events.push(e);
    }

    // ---- arch hooks -------------------------------------------------------------------

    fn arch_sync(&mut self, hook: ArchHook, phys: PhysAddr, size: u64, dir: DmaDir) {
        let end = phys.0.wrapping_add(size);
        let (op, st) = match (self.arch, hook) {
            // x86 selects no ARCH_HAS_SYNC_DMA_*: the hooks are empty.
            (Arch::X86_64, _) => (CacheOp::None, MaintStats::default()),
            // arch/arm64/mm/dma-mapping.c: clean to PoC whatever the direction.
            (Arch::Arm64, ArchHook::SyncForDevice) => {
                (CacheOp::Clean, self.cache.dcache_clean_poc(&mut self.mem, phys.0, end))
            }
            // arch/arm64/mm/dma-mapping.c: nothing for DMA_TO_DEVICE, else invalidate.
            (Arch::Arm64, ArchHook::SyncForCpu) if dir == DmaDir::TO_DEVICE => (CacheOp::None, MaintStats::default()),
            (Arch::Arm64, ArchHook::SyncForCpu) => {
                (CacheOp::Inval, self.cache.dcache_inval_poc(&mut self.mem, phys.0, end))
            }
        };
        self.events.push(Event::ArchSync {
            hook,
            phys,
            size,
            dir,
            op,
            written_back: st.written_back,
            discarded_dirty: st.discarded_dirty,
        });
        if op != CacheOp::None && self.mem.backing(phys, size) != Backing::Ram {
            self.events.push(Event::Fault {
                what: format!("cache maintenance on {phys}+{size:#x}, which is not RAM: phys_to_virt() has no linear mapping there"),
            });
        }
    }

    /// models arch_sync_dma_for_device() (arm64 policy; see ARCHITECTURE.md)
    pub fn arch_sync_dma_for_device(&mut self, phys: PhysAddr, size: u64, dir: DmaDir) {
        self.arch_sync(ArchHook::SyncForDevice, phys, size, dir)
    }

    /// models arch_sync_dma_for_cpu() (arm64 policy; see ARCHITECTURE.md)
    pub fn arch_sync_dma_for_cpu(&mut self, phys: PhysAddr, size: u64, dir: DmaDir) {
        self.arch_sync(ArchHook::SyncForCpu, phys, size, dir)
    }

    /// models arch_sync_dma_for_cpu_all(): only MIPS implements it, so it does nothing here.
    pub fn arch_sync_dma_for_cpu_all(&mut self) {}

    /// models arch_dma_mark_clean(): no architecture selects ARCH_HAS_DMA_MARK_CLEAN since
    /// the ia64 removal (v6.7), so it does nothing here.
    pub fn arch_dma_mark_clean(&mut self, _phys: PhysAddr, _size: u64) {}

    /// models pfn_valid() under SPARSEMEM: section granular (see SECTION_SIZE_BITS); the
    /// memmap memremap_pages() creates for a P2PDMA BAR makes its pfns valid too.
    pub fn pfn_valid(&self, pfn: u64) -> bool {
        if self.p2p_provider(pfn).is_some() {
            return true;
        }
        let sec_shift = SECTION_SIZE_BITS - PAGE_SHIFT;
        let sec = pfn >> sec_shift;
        let start = (sec << sec_shift) << PAGE_SHIFT;
        self.mem.overlaps_ram(start, 1 << SECTION_SIZE_BITS)
    }

    /// The P2PDMA provider whose BAR holds `pfn`, with its index.
    fn p2p_provider(&self, pfn: u64) -> Option<(usize, &P2pProvider)> {
        let phys = pfn << PAGE_SHIFT;
        self.p2p.iter().enumerate().find(|(_, p)| phys >= p.start.0 && phys - p.start.0 < p.size)
    }

    /// models is_zone_device_page(): the P2PDMA providers' pages are the only ZONE_DEVICE
    /// memory of the platform.
    pub fn is_zone_device_page(&self, pfn: u64) -> bool {
        self.p2p_provider(pfn).is_some()
    }

    /// models is_pci_p2pdma_page()
    pub fn is_pci_p2pdma_page(&self, pfn: u64) -> bool {
        self.p2p_provider(pfn).is_some()
    }

    /// models pci_p2pdma_state()'s classification of a P2PDMA page for the device:
    /// the map type calc_map_type_and_dist() gives its provider, the pgmap's bus_offset, and
    /// a non-zero token naming the pgmap. None: not P2PDMA memory (PCI_P2PDMA_MAP_NONE).
    pub fn pci_p2pdma_map_type(&self, pfn: u64) -> Option<(P2pdmaMapType, u64, u64)> {
        self.p2p_provider(pfn).map(|(i, p)| (p.route, p.bus_offset(), i as u64 + 1))
    }

    /// A peer-to-peer bus address: a provider the device reaches through a common switch
    /// routes it before it ever reaches the host bridge or the IOMMU.
    fn p2p_bus_target(&self, addr: DmaAddr, len: u64) -> Option<PhysAddr> {
        self.p2p
            .iter()
            .filter(|p| p.route == P2pdmaMapType::BusAddr)
            .find(|p| addr.0.wrapping_sub(p.bus_start) < p.size && len <= p.size - addr.0.wrapping_sub(p.bus_start))
            .map(|p| p.start.wrapping_add(addr.0.wrapping_sub(p.bus_start)))
    }

    // ---- tracepoints and printk ---------------------------------------------------------

    pub fn trace_dma_map(
        &mut self,
        event: &str,
        phys: PhysAddr,
        dma: DmaAddr,
        size: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
    ) {
        self.events.push(Event::TraceMap { event: event.into(), phys, dma, size, dir, attrs });
    }

    pub fn trace_dma_unmap(&mut self, event: &str, addr: DmaAddr, size: u64, dir: DmaDir, attrs: DmaAttrs) {
        self.events.push(Event::TraceUnmap { event: event.into(), addr, size, dir, attrs });
    }

    pub fn trace_dma_sync_single(&mut self, event: &str, addr: DmaAddr, size: u64, dir: DmaDir) {
        self.events.push(Event::TraceSyncSingle { event: event.into(), addr, size, dir });
    }

    /// A scatterlist tracepoint: see [`Event::TraceSg`].
    pub fn trace_dma_sg(
        &mut self,
        event: &str,
        phys: &[PhysAddr],
        segs: &[(DmaAddr, u32)],
        err: i64,
        dir: DmaDir,
        attrs: DmaAttrs,
    ) {
        self.events.push(Event::TraceSg {
            event: event.to_string(),
            phys: phys.to_vec(),
            segs: segs.to_vec(),
            err,
            dir,
            attrs,
        });
    }

    pub fn report(&mut self, kind: ReportKind, func: &str, text: &str) {
        self.events.push(Event::Report { kind, func: func.into(), text: text.into() });
    }

    pub fn trace_swiotlb_bounced(&mut self, dev_addr: DmaAddr, size: u64, force: bool) {
        self.events.push(Event::TraceSwiotlbBounced { dma_mask: self.dma_mask, dev_addr, size, force });
    }

    // ---- the mock IOMMU (drivers/iommu/iommu.c entry points) -------------------------------

    /// models iommu_map() on the device's domain: 0 or a negative errno.
    pub fn iommu_map(&mut self, iova: u64, paddr: PhysAddr, size: u64, prot: IommuProt) -> i32 {
        let Some(mmu) = self.iommu.as_mut() else {
            // __IOMMU_DOMAIN_PAGING is not set: iommu_map_nosync() refuses.
            self.events.push(Event::IommuMap { iova, phys: paddr, size, prot, ret: -iommu::EINVAL });
            return -iommu::EINVAL;
        };
        let ret = match mmu.map(iova, paddr, size, prot) {
            Ok(()) => 0,
            Err(MapError::Unaligned(text)) => {
                self.events.push(Event::Report { kind: ReportKind::DevErr, func: "iommu_map_nosync".into(), text });
                -iommu::EINVAL
            }
            Err(MapError::Range) => -iommu::ERANGE,
            Err(MapError::Exists) => -iommu::EEXIST,
        };
        self.events.push(Event::IommuMap { iova, phys: paddr, size, prot, ret });
        ret
    }

    /// models iommu_unmap_fast()'s page-table walk (__iommu_unmap()): the bytes unmapped.
    pub fn iommu_unmap(&mut self, iova: u64, size: u64) -> u64 {
        let Some(mmu) = self.iommu.as_mut() else { return 0 };
        let min = mmu.granule();
        let u = mmu.unmap(iova, size);
        if u.unaligned {
            self.events.push(Event::Report {
                kind: ReportKind::DevErr,
                func: "__iommu_unmap".into(),
                text: format!("unaligned: iova {iova:#x} size {size:#x} min_pagesz {min:#x}"),
            });
            return 0;
        }
        if u.split {
            self.events.push(Event::IommuSplit { iova, size });
        }
        self.events.push(Event::IommuUnmap { iova, size, unmapped: u.bytes });
        u.bytes
    }

    /// models iommu_iova_to_phys(): 0 when nothing is mapped there.
    pub fn iommu_iova_to_phys(&self, iova: u64) -> PhysAddr {
        self.iommu.as_ref().map_or(PhysAddr(0), |m| m.iova_to_phys(iova))
    }

    /// models ops->iotlb_sync() over a gather's `[start, end]`.
    pub fn iommu_iotlb_sync(&mut self, start: u64, end: u64) {
        self.events.push(Event::IommuIotlbSync { start, end });
    }

    /// models ops->flush_iotlb_all()
    pub fn iommu_flush_iotlb_all(&mut self) {
        self.events.push(Event::IommuFlushAll);
    }

    // ---- kernel memory operations ---------------------------------------------------------

    /// A memcpy() by the CPU between linear-map addresses: loads and stores through the cache.
    pub fn cpu_memcpy(&mut self, dst: PhysAddr, src: PhysAddr, size: u64) {
        self.events.push(Event::Memcpy { dst, src, size });
        let size = size.min(crate::exec::MAX_ACCESS);
        let (data, ok) = self.cpu_read(src, size);
        if ok {
            self.cpu_write(dst, &data);
        }
    }

    /// A memset() by the CPU of a linear-map range, through its cache.
    pub fn cpu_memset(&mut self, dst: PhysAddr, value: u8, size: u64) {
        self.events.push(Event::Memset { dst, value, size });
        let size = size.min(crate::exec::MAX_ACCESS);
        self.cpu_write(dst, &vec![value; size as usize]);
    }

    /// A memset(0) at boot, before any cache line exists: the swiotlb pool.
    pub fn boot_memzero(&mut self, start: PhysAddr, size: u64) {
        if self.mem.backing(start, size) != Backing::Ram {
            self.events.push(Event::Fault { what: format!("boot memset of {start}+{size:#x}: not all RAM") });
        }
        self.mem.boot_memzero(start.0, size);
    }

    /// The ranges zeroed at boot.
    pub fn zeroed(&self) -> &[(u64, u64)] {
        self.mem.zeroed()
    }

    // ---- CPU and device accesses --------------------------------------------------------

    /// A CPU store: cached for RAM, uncached for MMIO.
    /// A CPU store; returns false when nothing was there to store to (a fault).
    pub fn cpu_write(&mut self, phys: PhysAddr, data: &[u8]) -> bool {
        match self.mem.backing(phys, data.len() as u64) {
            Backing::Ram => self.cache.cpu_write(&self.mem, phys.0, data),
            Backing::Mmio => self.mem.write(phys.0, data),
            Backing::None => {
                self.events.push(Event::Fault {
                    what: format!("CPU store to {phys}+{:#x}: no RAM or MMIO there", data.len()),
                });
                return false;
            }
        }
        true
    }

    /// `[phys, phys + len)` is RAM or MMIO: memory a buffer can live in.
    pub fn is_backed(&self, phys: PhysAddr, len: u64) -> bool {
        self.mem.backing(phys, len.max(1)) != Backing::None
    }

    /// A CPU load; an unbacked address reads as all ones, faults and returns false.
    pub fn cpu_read(&mut self, phys: PhysAddr, len: u64) -> (Vec<u8>, bool) {
        let mut out = vec![0xff; len as usize];
        match self.mem.backing(phys, len) {
            Backing::Ram => self.cache.cpu_read(&self.mem, phys.0, &mut out),
            Backing::Mmio => self.mem.read(phys.0, &mut out),
            Backing::None => {
                self.events.push(Event::Fault { what: format!("CPU load from {phys}+{len:#x}: no RAM or MMIO there") });
                return (out, false);
            }
        }
        (out, true)
    }

    /// The interconnect: which physical range a device access to [addr, addr + len) hits,
    /// through the dma-ranges the device's dma_range_map was built from.
    pub fn bus_to_phys(&self, addr: DmaAddr, len: u64) -> Result<PhysAddr, String> {
        let last = addr.0.checked_add(len.max(1) - 1).ok_or_else(|| format!("bus address {addr}+{len:#x} wraps"))?;
        if last > self.device_limit {
            return Err(format!(
                "bus address {addr}+{len:#x} is beyond what the device can drive (limit {:#x})",
                self.device_limit
            ));
        }
        if self.dma_ranges.is_empty() {
            return Ok(PhysAddr(addr.0));
        }
        for r in &self.dma_ranges {
            if addr.0 >= r.dma_start && last - r.dma_start < r.size && addr.0 - r.dma_start < r.size {
                return Ok(PhysAddr(r.cpu_start.0 + (addr.0 - r.dma_start)));
            }
        }
        Err(format!("bus address {addr}+{len:#x} is not inside one dma-range of the interconnect"))
    }

    /// Where a device access of `[addr, addr + len)` goes: through the IOMMU's page table
    /// when the device sits behind a paging domain, else through the dma-ranges. The device
    /// can only drive addresses within its DMA mask and bus limit either way.
    fn dev_route(&mut self, addr: DmaAddr, len: u64, write: bool) -> Landing {
        let what = if write { "store" } else { "load" };
        if let Some(p) = self.p2p_bus_target(addr, len) {
            return vec![(p, len)];
        }
        let pieces = match &self.iommu {
            Some(mmu) => {
                let last = addr.0.checked_add(len.max(1) - 1);
                if last.is_none_or(|l| l > self.device_limit) {
                    self.events.push(Event::Fault {
                        what: format!(
                            "device {what}: iova {addr}+{len:#x} is beyond what the device can drive (limit {:#x})",
                            self.device_limit
                        ),
                    });
                    return Vec::new();
                }
                match mmu.translate(addr.0, len, write) {
                    Ok(p) => p,
                    Err(f) => {
                        self.events.push(Event::IommuFault { what: f.0 });
                        return Vec::new();
                    }
                }
            }
            None => match self.bus_to_phys(addr, len) {
                Ok(p) => vec![(p, len)],
                Err(why) => {
                    self.events.push(Event::Fault { what: format!("device {what}: {why}") });
                    return Vec::new();
                }
            },
        };
        for &(phys, n) in &pieces {
            if self.mem.backing(phys, n) == Backing::None {
                let dir = if write { "to" } else { "from" };
                self.events.push(Event::Fault {
                    what: format!("device {what} {dir} {addr}+{len:#x}: no RAM or MMIO at {phys}"),
                });
                return Vec::new();
            }
        }
        pieces
    }

    /// Where a device access to `addr` would land first (no events): through the IOMMU's
    /// page table or the dma-ranges.
    pub fn device_target(&self, addr: DmaAddr, len: u64) -> Option<PhysAddr> {
        if let Some(p) = self.p2p_bus_target(addr, len) {
            return Some(p);
        }
        match &self.iommu {
            Some(mmu) => mmu.translate(addr.0, len, false).ok().and_then(|p| p.first().map(|&(a, _)| a)),
            None => self.bus_to_phys(addr, len).ok(),
        }
    }

    /// Where a device access to `[addr, addr + len)` would land, piece by piece, without
    /// touching anything or recording events; None when it would fault.
    pub fn device_pieces(&self, addr: DmaAddr, len: u64) -> Option<Landing> {
        if let Some(p) = self.p2p_bus_target(addr, len) {
            return Some(vec![(p, len)]);
        }
        match &self.iommu {
            Some(mmu) => {
                let last = addr.0.checked_add(len.max(1) - 1)?;
                if last > self.device_limit {
                    return None;
                }
                mmu.resolve(addr.0, len).ok()
            }
            None => self.bus_to_phys(addr, len).ok().map(|p| vec![(p, len)]),
        }
    }

    /// A device store; returns the physical pieces it landed on (empty: nothing answered).
    pub fn dev_write(&mut self, addr: DmaAddr, data: &[u8]) -> Landing {
        let pieces = self.dev_route(addr, data.len() as u64, true);
        let mut at = 0usize;
        for &(phys, n) in &pieces {
            let chunk = &data[at..at + n as usize];
            at += n as usize;
            match self.mem.backing(phys, n) {
                Backing::Ram if self.coherent => self.cache.snoop_write(&mut self.mem, phys.0, chunk),
                _ => self.mem.write(phys.0, chunk),
            }
        }
        pieces
    }

    /// A device load and where it reached; a failed one reads as all ones.
    pub fn dev_read(&mut self, addr: DmaAddr, len: u64) -> (Vec<u8>, Landing) {
        let mut out = vec![0xff; len as usize];
        let pieces = self.dev_route(addr, len, false);
        let mut at = 0usize;
        for &(phys, n) in &pieces {
            let chunk = &mut out[at..at + n as usize];
            at += n as usize;
            match self.mem.backing(phys, n) {
                Backing::Ram if self.coherent => self.cache.snoop_read(&self.mem, phys.0, chunk),
                _ => self.mem.read(phys.0, chunk),
            }
        }
        (out, pieces)
    }
}

/// The C model's view of the platform: raw integers in, the same methods underneath.
impl dmadiff_cref::Hooks for Platform {
    fn arch_sync_dma_for_device(&mut self, paddr: u64, size: u64, dir: u32) {
        Platform::arch_sync_dma_for_device(self, PhysAddr(paddr), size, DmaDir(dir))
    }
    fn arch_sync_dma_for_cpu(&mut self, paddr: u64, size: u64, dir: u32) {
        Platform::arch_sync_dma_for_cpu(self, PhysAddr(paddr), size, DmaDir(dir))
    }
    fn arch_sync_dma_for_cpu_all(&mut self) {
        Platform::arch_sync_dma_for_cpu_all(self)
    }
    fn arch_dma_mark_clean(&mut self, paddr: u64, size: u64) {
        Platform::arch_dma_mark_clean(self, PhysAddr(paddr), size)
    }
    fn pfn_valid(&mut self, pfn: u64) -> bool {
        Platform::pfn_valid(self, pfn)
    }
    fn is_pci_p2pdma_page(&mut self, pfn: u64) -> bool {
        Platform::is_pci_p2pdma_page(self, pfn)
    }
    fn trace_dma_sg(&mut self, event: &str, phys: &[u64], dma: &[(u64, u32)], err: i64, dir: u32, attrs: u64) {
        let phys: Vec<PhysAddr> = phys.iter().map(|&p| PhysAddr(p)).collect();
        let segs: Vec<(DmaAddr, u32)> = dma.iter().map(|&(a, l)| (DmaAddr(a), l)).collect();
        Platform::trace_dma_sg(self, event, &phys, &segs, err, DmaDir(dir), DmaAttrs(attrs))
    }
    fn pci_p2pdma_map_type(&mut self, pfn: u64) -> Option<(P2pdmaMapType, u64, u64)> {
        Platform::pci_p2pdma_map_type(self, pfn)
    }
    fn is_vmalloc_addr(&mut self, addr: u64) -> bool {
        Platform::is_vmalloc_addr(self, addr)
    }
    fn trace_dma_map(&mut self, event: &str, phys: u64, dma: u64, size: u64, dir: u32, attrs: u64) {
        Platform::trace_dma_map(self, event, PhysAddr(phys), DmaAddr(dma), size, DmaDir(dir), DmaAttrs(attrs))
    }
    fn trace_dma_unmap(&mut self, event: &str, addr: u64, size: u64, dir: u32, attrs: u64) {
        Platform::trace_dma_unmap(self, event, DmaAddr(addr), size, DmaDir(dir), DmaAttrs(attrs))
    }
    fn trace_dma_sync_single(&mut self, event: &str, addr: u64, size: u64, dir: u32) {
        Platform::trace_dma_sync_single(self, event, DmaAddr(addr), size, DmaDir(dir))
    }
    fn report(&mut self, kind: ReportKind, func: &str, text: &str) {
        Platform::report(self, kind, func, text)
    }
    fn cpu_memcpy(&mut self, dst: u64, src: u64, size: u64) {
        Platform::cpu_memcpy(self, PhysAddr(dst), PhysAddr(src), size)
    }
    fn cpu_memset(&mut self, dst: u64, value: u8, size: u64) {
        Platform::cpu_memset(self, PhysAddr(dst), value, size)
    }
    fn boot_memzero(&mut self, start: u64, size: u64) {
        Platform::boot_memzero(self, PhysAddr(start), size)
    }
    fn iommu_map(&mut self, iova: u64, paddr: u64, size: u64, prot: i32) -> i32 {
        Platform::iommu_map(self, iova, PhysAddr(paddr), size, IommuProt(prot as u32))
    }
    fn iommu_unmap(&mut self, iova: u64, size: u64) -> u64 {
        Platform::iommu_unmap(self, iova, size)
    }
    fn iommu_iova_to_phys(&mut self, iova: u64) -> u64 {
        Platform::iommu_iova_to_phys(self, iova).0
    }
    fn iommu_iotlb_sync(&mut self, start: u64, end: u64) {
        Platform::iommu_iotlb_sync(self, start, end)
    }
    fn iommu_flush_iotlb_all(&mut self) {
        Platform::iommu_flush_iotlb_all(self)
    }
    fn trace_swiotlb_bounced(&mut self, dev_addr: u64, size: u64, force: bool) {
        Platform::trace_swiotlb_bounced(self, DmaAddr(dev_addr), size, force)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Region;

    fn cfg() -> Config {
        let mut c = Config::default();
        c.ram.push(Region { start: PhysAddr(0x8000_0000), size: 0x10_0000 });
        c.mmio.push(Region { start: PhysAddr(0x8800_0000), size: 0x1000 });
        c.mmio.push(Region { start: PhysAddr(0x4000_0000), size: 0x1000 });
        c.device.coherent = false;
        c.device.dma_mask = Some(u64::MAX);
        c
    }

    #[test]
    fn pfn_valid_is_section_granular() {
        let mut c = cfg();
        c.mmio.push(Region { start: PhysAddr(0x8010_0000), size: 0x1000 });
        let p = Platform::new(&c);
        assert!(p.pfn_valid(0x8000_0000 >> 12));
        // MMIO in the same 128 MiB section as RAM has a memmap (the arm64 false positive
        // behind af0c3f058662); MMIO in a section without RAM has none.
        assert!(p.pfn_valid(0x8010_0000 >> 12));
        assert!(!p.pfn_valid(0x8800_0000 >> 12));
        assert!(!p.pfn_valid(0x4000_0000 >> 12));
    }

    #[test]
    fn dma_ranges_route_device_accesses() {
        let mut c = cfg();
        c.dma_ranges.push(DmaRange { cpu_start: PhysAddr(0x8000_0000), dma_start: 0x1000_0000, size: 0x10_0000 });
        let mut p = Platform::new(&c);
        assert_eq!(p.bus_to_phys(DmaAddr(0x1000_0010), 0x10), Ok(PhysAddr(0x8000_0010)));
        assert!(p.bus_to_phys(DmaAddr(0x100f_fff0), 0x20).is_err());
        assert!(p.dev_write(DmaAddr(0x8000_0000), &[1]).is_empty());
        assert!(matches!(p.take_events().as_slice(), [Event::Fault { .. }]));
    }

    #[test]
    fn non_coherent_device_misses_uncleaned_cpu_writes() {
        let mut p = Platform::new(&cfg());
        p.cpu_write(PhysAddr(0x8000_0000), &[0x11; 8]);
        assert_ne!(p.dev_read(DmaAddr(0x8000_0000), 8).0, vec![0x11; 8]);
        p.arch_sync_dma_for_device(PhysAddr(0x8000_0000), 8, DmaDir::TO_DEVICE);
        assert_eq!(p.dev_read(DmaAddr(0x8000_0000), 8), (vec![0x11; 8], vec![(PhysAddr(0x8000_0000), 8)]));
    }
}
