//! Scenarios from fuzz bytes: mostly correct use, with misuse at a controlled rate.
//!
//! Handles name live mappings and buffers fit their regions, so random inputs reach the deep
//! paths; `misuse_percent` of the choices break the API contract on purpose (bad directions,
//! wrong unmap sizes, raw addresses, double unmaps, DMA_ATTR_MMIO on page maps).

use arbitrary::{Arbitrary, Result, Unstructured};

use super::*;
use crate::types::PAGE_SIZE;

/// Which area a generator concentrates on (one fuzz target each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    /// Everything: dma-direct, swiotlb, the IOMMU and the iova allocator, mixed.
    Mixed,
    /// The iova allocator driven directly: nothing but iova calls.
    Iova,
    /// Single mappings through dma-iommu: always a paging IOMMU domain in front.
    Iommu,
    /// Scatterlists and the two-step IOVA API, through dma-direct and dma-iommu.
    Sg,
}

/// Knobs of the generator.
#[derive(Clone, Copy, Debug)]
pub struct GenConfig {
    /// Maximum number of operations.
    pub max_ops: usize,
    /// Percentage of choices that deliberately misuse the API.
    pub misuse_percent: u8,
    pub focus: Focus,
}

impl Default for GenConfig {
    /// 16 operations; the misuse rate is DMADIFF_MISUSE_PERCENT (0 to 100) or 10.
    fn default() -> Self {
        GenConfig { max_ops: 16, misuse_percent: misuse_percent_from_env(), focus: Focus::Mixed }
    }
}

/// The misuse knob of the fuzz targets and property tests: DMADIFF_MISUSE_PERCENT, read once.
fn misuse_percent_from_env() -> u8 {
    static KNOB: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *KNOB.get_or_init(|| match std::env::var("DMADIFF_MISUSE_PERCENT") {
        Ok(v) => v
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= 100)
            .unwrap_or_else(|| panic!("DMADIFF_MISUSE_PERCENT={v}: expected a percentage from 0 to 100")),
        Err(_) => 10,
    })
}

/// A scenario from a focused generator, for fuzz targets and property tests of one area.
#[derive(Clone, Debug)]
pub struct Focused<const F: u8>(pub Scenario);

/// `Focused<FOCUS_IOVA>`: allocator-level iova scenarios.
pub const FOCUS_IOVA: u8 = 1;
/// `Focused<FOCUS_IOMMU>`: dma-iommu scenarios.
pub const FOCUS_IOMMU: u8 = 2;
/// `Focused<FOCUS_SG>`: scatterlist and two-step IOVA scenarios.
pub const FOCUS_SG: u8 = 3;

impl<'a, const F: u8> Arbitrary<'a> for Focused<F> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let focus = match F {
            FOCUS_IOVA => Focus::Iova,
            FOCUS_IOMMU => Focus::Iommu,
            FOCUS_SG => Focus::Sg,
            _ => Focus::Mixed,
        };
        // Allocator behaviour (magazines, the depot, the retry pass) needs longer runs.
        let max_ops = if focus == Focus::Iova { 64 } else { GenConfig::default().max_ops };
        generate(u, &GenConfig { focus, max_ops, ..GenConfig::default() }).map(Focused)
    }

    fn size_hint(depth: usize) -> (usize, Option<usize>) {
        Scenario::size_hint(depth)
    }
}

impl<'a> Arbitrary<'a> for Scenario {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        generate(u, &GenConfig::default())
    }

    /// Byte-driven engines (bolero) size their inputs from this: a configuration takes
    /// about 16 bytes and an operation about 8 to 24.
    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (32, Some(1024))
    }
}

struct Live {
    name: String,
    kind: MapKind,
    /// Made with swiotlb_tbl_map_single().
    tbl: bool,
    phys: PhysAddr,
    size: u64,
    dir: DmaDir,
    attrs: DmaAttrs,
    unmapped: bool,
}

struct Gen<'u, 'a> {
    u: &'u mut Unstructured<'a>,
    misuse: u8,
}

impl Gen<'_, '_> {
    fn misuse(&mut self) -> Result<bool> {
        Ok(self.u.int_in_range(0..=99u8)? < self.misuse)
    }
    fn pct(&mut self, p: u8) -> Result<bool> {
        Ok(self.u.int_in_range(0..=99u8)? < p)
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> Result<T> {
        Ok(*self.u.choose(xs)?)
    }

    fn size(&mut self) -> Result<u64> {
        Ok(match self.u.int_in_range(0..=5u8)? {
            0 => self.pick(&[1, 8, 63, 64, 65, 96, 127, 128, 129, 192, 255, 256])?,
            1 => self.pick(&[0x200, 0x400, 0x800, 0x1000, 0x2000])?,
            2 => self.u.int_in_range(1..=0x100)?,
            3 => self.u.int_in_range(1..=0x2000)?,
            4 => 64 * self.u.int_in_range(1..=32)?,
            _ => self.pick(&[0x1000, 0x3000, 0x10000])?,
        })
    }

    fn dir(&mut self) -> Result<DmaDir> {
        if self.misuse()? {
            return self.pick(&[DmaDir::NONE, DmaDir(7)]);
        }
        self.pick(&[DmaDir::BIDIRECTIONAL, DmaDir::TO_DEVICE, DmaDir::FROM_DEVICE])
    }

    fn attrs(&mut self) -> Result<DmaAttrs> {
        let mut a = DmaAttrs(0);
        if self.pct(30)? {
            a = a | DmaAttrs::SKIP_CPU_SYNC;
        }
        if self.pct(10)? {
            a = a | DmaAttrs::NO_WARN;
        }
        if self.pct(5)? {
            a = a | self.pick(&[
                DmaAttrs::WEAK_ORDERING,
                DmaAttrs::PRIVILEGED,
                DmaAttrs::WRITE_COMBINE,
                DmaAttrs(1 << 20),
            ])?;
        }
        Ok(a)
    }

    /// A buffer of `size` bytes inside `r`, at a random alignment.
    fn place(&mut self, r: &Region, size: u64) -> Result<PhysAddr> {
        let size = size.min(r.size);
        let align = self.pick(&[1u64, 8, 64, 128, 4096])?;
        let slots = (r.size - size) / align;
        let slot = self.u.int_in_range(0..=slots.min(1 << 20))?;
        Ok(PhysAddr(r.start.0 + slot * align))
    }
}

/// Builds one scenario from `u` under `cfg`.
pub fn generate(u: &mut Unstructured<'_>, cfg: &GenConfig) -> Result<Scenario> {
    let mut g = Gen { u, misuse: cfg.misuse_percent };
    let mut c = Config::default();
    if g.pct(15)? {
        c.arch = Arch::X86_64;
    }
    c.dma_api_debug = g.pct(15)?;
    c.device.coherent = c.arch == Arch::X86_64 || g.pct(50)?;
    c.device.dma_mask = if g.pct(2)? {
        None
    } else {
        let bits = g.pick(&[24u32, 30, 32, 32, 36, 40, 48, 64, 64])?;
        Some(if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 })
    };
    c.device.bus_dma_limit =
        if g.pct(75)? { 0 } else { g.pick(&[0xffff_ffffu64, 0x3fff_ffff, 0xf_ffff_ffff, 0x8000_3fff])? };
    c.ram.push(Region { start: PhysAddr(0x8000_0000), size: 0x100_0000 });
    if g.pct(50)? {
        c.ram.push(Region { start: PhysAddr(0x1_0000_0000), size: 0x100_0000 });
    }
    if g.pct(80)? {
        c.mmio.push(Region { start: PhysAddr(0x4000_0000), size: 0x10_0000 });
    }
    if g.pct(20)? {
        c.mmio.push(Region { start: PhysAddr(0x40_0000_0000), size: 0x10_0000 });
    }
    c.nr_cpus = g.pick(&[1u32, 1, 2, 4, 8])?;
    if let Some(p) = c.device.dma_parms.as_mut() {
        if g.pct(35)? {
            p.min_align_mask = g.pick(&[0xfffu32, 0xfff, 0x3fff, 0x7ff, 0x3, 0x1fff])?;
        }
        if g.pct(15)? {
            p.seg_boundary_mask = g.pick(&[0xffffu64, 0xf_ffff, 0xffff_ffff])?;
        }
    }
    if g.pct(60)? {
        // The pool sits in RAM of its own, as memblock would place it.
        let mode = g.pick(&[
            SwiotlbMode::On,
            SwiotlbMode::On,
            SwiotlbMode::On,
            SwiotlbMode::Force,
            SwiotlbMode::Force,
            SwiotlbMode::Restricted,
        ])?;
        let start = g.pick(&[0xa000_0000u64, 0x3000_0000])?;
        c.ram.push(Region { start: PhysAddr(start), size: 0x400_0000 });
        let nslabs = if mode == SwiotlbMode::Restricted || g.pct(85)? {
            Some(g.pick(&[128u64, 256, 384, 512, 1024, 3, 200])?)
        } else {
            None
        };
        let nareas = if mode != SwiotlbMode::Restricted && g.pct(50)? { Some(g.pick(&[1u32, 2, 3, 4])?) } else { None };
        c.swiotlb = Some(SwiotlbConfig { mode, start: PhysAddr(start), nslabs, nareas });
    }
    if g.pct(30)? {
        c.dma_ranges.push(DmaRange { cpu_start: PhysAddr(0x8000_0000), dma_start: 0, size: 0x8000_0000 });
        if g.pct(50)? {
            c.dma_ranges.push(DmaRange {
                cpu_start: PhysAddr(0x1_0000_0000),
                dma_start: 0x8000_0000,
                size: 0x100_0000,
            });
        }
    }

    if g.pct(10)? {
        // The kernel's layout as dma-debug sees it: a direct-mapped stack and the kernel image
        // in the first RAM region, and a vmalloc range outside the linear map.
        let base = c.ram[0].start.0;
        c.kernel_areas.push(KernelArea { kind: KernelAreaKind::Text, start: base, size: 0x1_0000 });
        c.kernel_areas.push(KernelArea { kind: KernelAreaKind::Stack, start: base + 0xf0_0000, size: 0x4000 });
        c.kernel_areas.push(KernelArea {
            kind: KernelAreaKind::Vmalloc,
            start: 0xffff_8000_0000_0000,
            size: 0x1000_0000,
        });
    }
    if cfg.focus == Focus::Iommu || (cfg.focus == Focus::Mixed && g.pct(35)?) {
        let mut i = gen_iommu(&mut g, &mut c)?;
        if cfg.focus == Focus::Iommu && i.domain == IommuDomainType::Identity {
            i.domain = IommuDomainType::DmaFq;
        }
        c.iommu = Some(i);
    }

    let n = g.u.int_in_range(1..=cfg.max_ops.max(1))?;
    let mut live: Vec<Live> = Vec::new();
    let mut ops = Vec::with_capacity(n);
    // One scenario in eight also drives the iova allocator directly.
    let mut iova = if cfg.focus == Focus::Iova || (cfg.focus == Focus::Mixed && g.pct(12)?) {
        let start_pfn = g.pick(&[1u64, 1, 0, 0x100, 0x1f_0000])?;
        let granule = g.pick(&[0x1000u64, 0x1000, 0x200])?;
        ops.push(Op::IovaInit { granule, start_pfn });
        Some(IovaGen { start_pfn, pfns: Vec::new() })
    } else {
        None
    };
    let fq = c.iommu.as_ref().is_some_and(|i| i.domain != IommuDomainType::Identity);
    // Scatterlists and two-step states: always for the sg target, one scenario in five else.
    let mut sg = if cfg.focus == Focus::Sg || (cfg.focus == Focus::Mixed && g.pct(20)?) {
        if g.pct(30)? {
            // A peer BAR in a region of its own, reached one of the three ways.
            let route =
                g.pick(&[P2pdmaMapType::BusAddr, P2pdmaMapType::ThruHostBridge, P2pdmaMapType::NotSupported])?;
            let bus_start = g.pick(&[0x60_0000_0000u64, 0xe000_0000])?;
            c.p2p.push(P2pProvider { start: PhysAddr(0x60_0000_0000), size: 0x10_0000, bus_start, route });
        }
        Some(SgGen { tables: Vec::new(), states: Vec::new(), made: 0 })
    } else {
        None
    };
    for _ in 0..n {
        if g.u.is_empty() {
            break;
        }
        let choice = g.u.int_in_range(0..=99u8)?;
        let op = if let Some(st) = iova.as_mut().filter(|_| choice >= 50 || cfg.focus == Focus::Iova) {
            gen_iova(&mut g, st, c.nr_cpus)?
        } else if let Some(st) = sg.as_mut().filter(|_| choice < 60 || cfg.focus == Focus::Sg) {
            gen_sg(&mut g, &c, st)?
        } else if fq && choice < 4 {
            if g.pct(70)? {
                Op::FqFlushTimeout
            } else {
                Op::IovaDepotWork
            }
        } else if fq && choice < 6 {
            Op::Query(g.pick(&[Query::DmaMaxMappingSize, Query::DmaOptMappingSize])?)
        } else if c.nr_cpus > 1 && choice < 8 {
            Op::RunOnCpu(g.u.int_in_range(0..=c.nr_cpus - 1)?)
        } else if c.swiotlb.is_some() && choice >= 90 {
            gen_swiotlb(&mut g, &c, &mut live)?
        } else if choice < 28 || live.is_empty() {
            gen_map(&mut g, &c, &mut live)?
        } else if choice < 42 {
            gen_unmap(&mut g, &mut live)?
        } else if choice < 58 {
            gen_sync(&mut g, &live)?
        } else if choice < 62 {
            let l = g.u.choose(&live)?;
            Op::MappingError(DmaRef::Handle { name: l.name.clone(), offset: 0 })
        } else if choice < 80 {
            gen_cpu(&mut g, &c, &live)?
        } else {
            gen_dev(&mut g, &live)?
        };
        ops.push(op);
    }
    Ok(Scenario { config: c, ops, expect: None, expect_debug: Vec::new() })
}

/// An IOMMU in front of the device: mostly strict or lazy DMA domains on 4K granules.
fn gen_iommu(g: &mut Gen<'_, '_>, c: &mut Config) -> Result<IommuConfig> {
    let mut i = IommuConfig {
        domain: g.pick(&[
            IommuDomainType::Dma,
            IommuDomainType::Dma,
            IommuDomainType::DmaFq,
            IommuDomainType::Identity,
        ])?,
        ..IommuConfig::default()
    };
    i.aperture_end = g.pick(&[(1u64 << 48) - 1, (1 << 48) - 1, (1 << 39) - 1, 0xffff_ffff, 0x7fff_ffff])?;
    if g.pct(10)? {
        i.aperture_start = g.pick(&[0x1000u64, 0x10_0000, 0x8000_0000])?.min(i.aperture_end / 2);
    }
    i.force_aperture = !g.pct(5)?;
    i.deferred_flush = !g.pct(10)?;
    i.shadow_on_flush = g.pct(5)?;
    c.device.pci = g.pct(70)?;
    c.device.untrusted = c.device.pci && g.pct(25)?;
    i.forcedac = c.device.pci && g.pct(10)?;
    if g.pct(30)? {
        let kind = g.pick(&[ResvType::Msi, ResvType::SwMsi, ResvType::Reserved, ResvType::Direct])?;
        let start = g.pick(&[0xfee0_0000u64, 0x0800_0000, 0xffff_0000])?;
        i.resv.push(ResvRegion { start, length: g.pick(&[0x10_0000u64, 0x1000, 0x1_0000])?, kind });
    }
    if c.device.pci && g.pct(20)? {
        i.pci_windows.push(PciWindow { start: 0xc000_0000, end: 0xfebf_ffff, offset: 0 });
    }
    Ok(i)
}

/// The allocator-level iova generator's state: handles and their sizes.
struct IovaGen {
    start_pfn: u64,
    pfns: Vec<(String, u64, bool)>,
}

fn gen_iova(g: &mut Gen<'_, '_>, st: &mut IovaGen, nr_cpus: u32) -> Result<Op> {
    let size = match g.u.int_in_range(0..=3u8)? {
        0 => g.pick(&[1u64, 2, 3, 4, 5, 8, 16, 17, 31, 32, 33, 48, 64, 100])?,
        1 => g.u.int_in_range(1..=32)?,
        2 => g.u.int_in_range(1..=0x200)?,
        _ => g.pick(&[0xb00u64, 0x1000, 0x10000])?,
    };
    let limit_pfn = match g.u.int_in_range(0..=3u8)? {
        0 => 0xf_ffff,
        1 => (1u64 << 36) - 1,
        2 => st.start_pfn + g.pick(&[0x3fu64, 0x3ff, 0x9ff, 0xffff])?,
        _ => g.pick(&[0xf_ffffu64, 0x3_ffff, 0xf_ffff_ffff])?,
    };
    let choice = g.u.int_in_range(0..=99u8)?;
    Ok(if choice < 35 || st.pfns.is_empty() {
        let handle = format!("i{}", st.pfns.len());
        let fast = g.pct(60)?;
        st.pfns.push((handle.clone(), size, fast));
        if fast {
            Op::AllocIovaFast { handle, size, limit_pfn, flush_rcache: g.pct(70)? }
        } else {
            Op::AllocIova { handle, size, limit_pfn, size_aligned: g.pct(60)? }
        }
    } else if choice < 70 {
        let (h, sz, fast) = g.u.choose(&st.pfns)?.clone();
        let pfn = DmaRef::Handle { name: h, offset: if g.misuse()? { 1 } else { 0 } };
        if fast && !g.misuse()? {
            Op::FreeIovaFast { pfn, size: sz }
        } else {
            Op::FreeIova(pfn)
        }
    } else if choice < 80 {
        let (h, _, _) = g.u.choose(&st.pfns)?.clone();
        Op::FindIova(DmaRef::Handle { name: h, offset: 0 })
    } else if choice < 87 {
        let lo = g.pick(&[0xf_f000u64, 0x8_0000, st.start_pfn, 0xfee00])?;
        Op::ReserveIova { pfn_lo: lo, pfn_hi: lo + g.pick(&[0u64, 1, 0xff, 0xfff])? }
    } else if choice < 92 {
        Op::IovaDepotWork
    } else if choice < 96 {
        Op::FreeCpuCachedIovas(g.u.int_in_range(0..=nr_cpus - 1)?)
    } else if nr_cpus > 1 {
        Op::RunOnCpu(g.u.int_in_range(0..=nr_cpus - 1)?)
    } else {
        Op::IovaDepotWork
    })
}

fn gen_map(g: &mut Gen<'_, '_>, c: &Config, live: &mut Vec<Live>) -> Result<Op> {
    let name = format!("h{}", live.len());
    let size = g.size()?;
    let dir = g.dir()?;
    let mut attrs = g.attrs()?;
    let to_mmio = !c.mmio.is_empty() && g.pct(20)?;
    let (kind, region) = if to_mmio {
        let r = *g.u.choose(&c.mmio)?;
        let kind = if g.pct(50)? {
            attrs = attrs | DmaAttrs::MMIO;
            MapKind::Phys
        } else if g.misuse()? {
            MapKind::PageAttrs
        } else {
            MapKind::Resource
        };
        (kind, r)
    } else {
        let r = *g.u.choose(&buffer_ram(c))?;
        let kind = match g.u.int_in_range(0..=9u8)? {
            0..=2 => MapKind::PageAttrs,
            3 => MapKind::Single,
            _ => MapKind::Phys,
        };
        if g.misuse()? {
            attrs = attrs | DmaAttrs::MMIO;
        }
        (kind, r)
    };
    let mut phys = g.place(&region, size)?;
    // Misuse dma-debug catches: a stack or kernel-image buffer, a vmalloc pointer.
    // (A vmalloc pointer only through dma_map_single_attrs(), which refuses it: the other
    // entry points take physical addresses, and there is no memory there.)
    if g.misuse()? {
        let areas: Vec<KernelArea> = c
            .kernel_areas
            .iter()
            .copied()
            .filter(|a| a.kind != KernelAreaKind::Vmalloc || kind == MapKind::Single)
            .collect();
        if let Ok(a) = g.u.choose(&areas) {
            phys = PhysAddr((a.start + a.size / 2) & !0x3f);
        }
    }
    let (page, offset) = match kind {
        MapKind::PageAttrs => {
            // Drivers sometimes pass an offset beyond the first page (compound pages).
            let extra = if g.pct(10)? { PAGE_SIZE } else { 0 };
            let lo = if region.contains(phys, 1) { region.start.0 } else { phys.0 } & !(PAGE_SIZE - 1);
            let page = PhysAddr((phys.0 & !(PAGE_SIZE - 1)).saturating_sub(extra).max(lo));
            (page, phys.0 - page.0)
        }
        _ => (phys, 0),
    };
    live.push(Live { name: name.clone(), kind, tbl: false, phys, size, dir, attrs, unmapped: false });
    Ok(Op::Map { handle: name, kind, phys: page, offset, size, dir, attrs })
}

/// RAM for driver buffers: everything but the swiotlb pool's own region.
fn buffer_ram(c: &Config) -> Vec<Region> {
    let pool = c.swiotlb.map(|s| s.start);
    c.ram.iter().copied().filter(|r| Some(r.start) != pool).collect()
}

fn unmap_kind_for(kind: MapKind) -> UnmapKind {
    match kind {
        MapKind::Phys => UnmapKind::Phys,
        MapKind::PageAttrs => UnmapKind::PageAttrs,
        MapKind::Single => UnmapKind::Single,
        MapKind::Resource => UnmapKind::Resource,
    }
}

fn gen_unmap(g: &mut Gen<'_, '_>, live: &mut [Live]) -> Result<Op> {
    let misuse = g.misuse()?;
    let candidates: Vec<usize> = (0..live.len()).filter(|&i| misuse || !live[i].unmapped).collect();
    let Some(&i) = g.u.choose(&candidates).ok() else {
        let l = &live[0];
        return Ok(Op::MappingError(DmaRef::Handle { name: l.name.clone(), offset: 0 }));
    };
    let l = &mut live[i];
    l.unmapped = true;
    let mut kind = if l.tbl { UnmapKind::SwiotlbTbl } else { unmap_kind_for(l.kind) };
    // A driver passes MMIO again at unmap time when it mapped with it.
    let mut args =
        UnmapArgs { addr: DmaRef::Handle { name: l.name.clone(), offset: 0 }, size: None, dir: None, attrs: None };
    if l.attrs.contains(DmaAttrs::MMIO) && kind == UnmapKind::Phys {
        args.size = Some(l.size);
        args.dir = Some(l.dir);
        args.attrs = Some(l.attrs);
    }
    if misuse {
        match g.u.int_in_range(0..=3u8)? {
            0 => args.size = Some(l.size.wrapping_add(g.pick(&[1u64, 0x1000])?)),
            1 => {
                // Positional: a direction needs the size before it.
                args.size = Some(l.size);
                args.dir =
                    Some(g.pick(&[DmaDir::BIDIRECTIONAL, DmaDir::TO_DEVICE, DmaDir::FROM_DEVICE, DmaDir::NONE])?);
            }
            2 => {
                args = UnmapArgs {
                    addr: args.addr,
                    size: Some(l.size),
                    dir: Some(l.dir),
                    attrs: Some(l.attrs | DmaAttrs::MMIO),
                };
                kind = g.pick(&[UnmapKind::Phys, UnmapKind::PageAttrs])?;
            }
            _ => kind = g.pick(&[UnmapKind::Phys, UnmapKind::PageAttrs, UnmapKind::Resource])?,
        }
    }
    Ok(Op::Unmap { kind, args })
}

/// Allocator-level calls and the environment they depend on.
fn gen_swiotlb(g: &mut Gen<'_, '_>, c: &Config, live: &mut Vec<Live>) -> Result<Op> {
    Ok(match g.u.int_in_range(0..=9u8)? {
        0..=4 => {
            let name = format!("h{}", live.len());
            let r = c.ram[0];
            let size = g.pick(&[1u64, 0x200, 0x800, 0x1000, 0x3000, 0x10000, 0x3f000, 0x40000])?;
            let orig = g.place(&r, size)?;
            let alloc_align_mask = g.pick(&[0u32, 0, 0x7ff, 0xfff, 0x3fff, 0xffff])?;
            let dir = g.dir()?;
            let attrs = g.attrs()?;
            live.push(Live {
                name: name.clone(),
                kind: MapKind::Phys,
                tbl: true,
                phys: orig,
                size,
                dir,
                attrs,
                unmapped: false,
            });
            Op::TblMap { handle: name, orig, size, alloc_align_mask, dir, attrs }
        }
        5 => Op::RunOnCpu(g.u.int_in_range(0..=c.nr_cpus - 1)?),
        6 => Op::SetMinAlignMask(g.pick(&[0u32, 0xfff, 0x3fff, 0x7ff])?),
        7 => {
            let tbls: Vec<&Live> = live.iter().filter(|l| l.tbl).collect();
            match g.u.choose(&tbls) {
                Ok(l) => {
                    let a =
                        SyncArgs { addr: DmaRef::Handle { name: l.name.clone(), offset: 0 }, size: None, dir: None };
                    if g.pct(50)? {
                        Op::TblSyncForCpu(a)
                    } else {
                        Op::TblSyncForDevice(a)
                    }
                }
                Err(_) => Op::Query(Query::SwiotlbMaxMappingSize),
            }
        }
        8 => Op::Query(g.pick(&[Query::SwiotlbMaxMappingSize, Query::IsSwiotlbActive, Query::IsSwiotlbForceBounce])?),
        _ => Op::Query(Query::DmaKmallocNeedsBounce { size: g.size()?, dir: g.dir()? }),
    })
}

fn gen_sync(g: &mut Gen<'_, '_>, live: &[Live]) -> Result<Op> {
    let l = g.u.choose(live)?;
    let mut a = SyncArgs { addr: DmaRef::Handle { name: l.name.clone(), offset: 0 }, size: None, dir: None };
    if g.pct(40)? && l.size > 1 {
        let off = g.u.int_in_range(0..=l.size - 1)?;
        let len = g.u.int_in_range(1..=l.size - off)?;
        a.addr = DmaRef::Handle { name: l.name.clone(), offset: off };
        a.size = Some(len);
        a.dir = Some(l.dir);
    }
    if g.misuse()? {
        a.size = Some(a.size.unwrap_or(l.size));
        a.dir = Some(g.dir()?);
    }
    Ok(if g.pct(50)? { Op::SyncForCpu(a) } else { Op::SyncForDevice(a) })
}

fn gen_cpu(g: &mut Gen<'_, '_>, c: &Config, live: &[Live]) -> Result<Op> {
    let (phys, size) = if !live.is_empty() && g.pct(85)? {
        let l = g.u.choose(live)?;
        let off = g.u.int_in_range(0..=l.size.saturating_sub(1))?;
        let len = g.u.int_in_range(1..=(l.size - off).max(1))?;
        (l.phys.wrapping_add(off), len)
    } else {
        let r = *g.u.choose(&buffer_ram(c))?;
        let size = g.size()?;
        (g.place(&r, size)?, size.min(r.size))
    };
    Ok(if g.pct(55)? { Op::CpuWrite { phys, size, seed: g.u.arbitrary()? } } else { Op::CpuRead { phys, size } })
}

fn gen_dev(g: &mut Gen<'_, '_>, live: &[Live]) -> Result<Op> {
    let l = g.u.choose(live)?;
    let (off, len) = if g.pct(50)? {
        (0, l.size)
    } else {
        let off = g.u.int_in_range(0..=l.size.saturating_sub(1))?;
        (off, g.u.int_in_range(1..=(l.size - off).max(1))?)
    };
    let addr = if g.misuse()? {
        DmaRef::Raw(g.pick(&[0u64, 0x1000, 0x8000_0000, 0xffff_ffff_0000])?)
    } else {
        DmaRef::Handle { name: l.name.clone(), offset: off }
    };
    Ok(if g.pct(50)? {
        Op::DevWrite { addr, size: len, seed: g.u.arbitrary()? }
    } else {
        Op::DevRead { addr, size: len }
    })
}

/// A generated table: name, entries, and (while mapped) the map's nents and direction.
type GenTable = (String, u32, Option<(Option<u32>, DmaDir)>);
/// A generated two-step state: name, size asked for, linked (offset, size, dir) ranges.
type GenState = (String, u64, Vec<(u64, u64, DmaDir)>);

/// The scatterlist tables and two-step states a generated scenario has made.
struct SgGen {
    tables: Vec<GenTable>,
    states: Vec<GenState>,
    /// States made so far (names are never reused).
    made: u32,
}

/// One scatterlist or two-step operation: mostly correct use (build, map, access, sync,
/// unmap; allocate, link, sync, access, destroy), misuse at the configured rate.
fn gen_sg(g: &mut Gen<'_, '_>, c: &Config, st: &mut SgGen) -> Result<Op> {
    let iommu = c.iommu.as_ref().is_some_and(|i| i.domain != IommuDomainType::Identity);
    let choice = g.u.int_in_range(0..=99u8)?;
    if iommu && choice >= 70 {
        return gen_two_step(g, c, st);
    }
    let unmapped: Vec<usize> = (0..st.tables.len()).filter(|&i| st.tables[i].2.is_none()).collect();
    let mapped: Vec<usize> = (0..st.tables.len()).filter(|&i| st.tables[i].2.is_some()).collect();
    if st.tables.is_empty() || (choice < 15 && st.tables.len() < 3) {
        let name = format!("s{}", st.tables.len());
        let n = g.pick(&[1u32, 2, 2, 3, 4, 5, 8])?;
        st.tables.push((name.clone(), n, None));
        return Ok(Op::SgAllocTable { table: name, nents: n });
    }
    if choice < 40 && (!unmapped.is_empty() || g.misuse()?) {
        // Fill an entry, or map a table whose entries are set.
        let t = if unmapped.is_empty() { g.u.int_in_range(0..=st.tables.len() - 1)? } else { *g.u.choose(&unmapped)? };
        let (name, n, _) = st.tables[t].clone();
        if choice < 28 {
            let index = g.u.int_in_range(0..=n - 1)?;
            let (page, len, offset) = sg_entry(g, c)?;
            return Ok(Op::SgSetPage { table: name, index, page, len, offset });
        }
        if n > 1 && g.pct(10)? {
            return Ok(Op::SgChain { table: name, index: g.u.int_in_range(0..=n - 2)? });
        }
        let dir = g.dir()?;
        let mut attrs = g.attrs()?;
        if g.pct(5)? {
            attrs = attrs | DmaAttrs::MMIO;
        }
        let nents = if g.pct(40)? { None } else { Some(g.u.int_in_range(1..=n)?) };
        st.tables[t].2 = Some((nents, dir));
        return Ok(Op::MapSg { table: name, nents, dir, attrs });
    }
    if mapped.is_empty() {
        let (page, len, offset) = sg_entry(g, c)?;
        let seed = g.u.arbitrary()?;
        return Ok(Op::CpuWrite { phys: page.wrapping_add(offset as u64), size: len as u64, seed });
    }
    let t = *g.u.choose(&mapped)?;
    let (name, n, m) = st.tables[t].clone();
    let (nents, dir) = m.expect("mapped");
    match choice % 6 {
        0 | 1 => {
            let index = g.u.int_in_range(0..=nents.unwrap_or(n).max(1) - 1)?;
            let addr = DmaRef::Sg { table: name, index, offset: g.pick(&[0u64, 0, 0x10, 0x800])? };
            let size = g.pick(&[0x10u64, 0x40, 0x200])?;
            Ok(if g.pct(50)? {
                Op::DevWrite { addr, size, seed: g.u.arbitrary()? }
            } else {
                Op::DevRead { addr, size }
            })
        }
        2 => Ok(Op::SyncSg { table: name, for_cpu: g.pct(50)?, nelems: None, dir: None }),
        _ => {
            st.tables[t].2 = None;
            let sgtable = nents.is_none() && !g.misuse()?;
            // Misuse: unmap with a direction other than the map's.
            let other = if dir == DmaDir::TO_DEVICE { DmaDir::FROM_DEVICE } else { DmaDir::TO_DEVICE };
            let dir = if g.misuse()? { Some(other) } else { None };
            // A direction given needs the nents before it (dma_unmap_sg_attrs(t, nents, dir)).
            let nents = if sgtable || dir.is_none() { None } else { Some(nents.unwrap_or(n)) };
            Ok(Op::UnmapSg { table: name, sgtable, nents, dir, attrs: None })
        }
    }
}

/// An entry for sg_set_page(): mostly RAM, sometimes MMIO or a peer's BAR.
fn sg_entry(g: &mut Gen<'_, '_>, c: &Config) -> Result<(PhysAddr, u32, u32)> {
    let len = g.pick(&[0x1000u32, 0x1000, 0x800, 0x200, 0x5ea, 0x40, 0x2000, 0x6000])?;
    let offset = g.pick(&[0u32, 0, 0, 0x200, 0x800, 0x40])?;
    let region = if !c.p2p.is_empty() && g.pct(20)? {
        Region { start: c.p2p[0].start, size: c.p2p[0].size }
    } else if !c.mmio.is_empty() && g.pct(5)? {
        c.mmio[0]
    } else {
        *g.u.choose(&buffer_ram(c))?
    };
    let span = (len + offset) as u64;
    let pages = (region.size.saturating_sub(span)) / PAGE_SIZE;
    let page = region.start.0 + g.u.int_in_range(0..=pages.min(0x1000))? * PAGE_SIZE;
    Ok((PhysAddr(page), len, offset))
}

/// One two-step IOVA operation.
fn gen_two_step(g: &mut Gen<'_, '_>, c: &Config, st: &mut SgGen) -> Result<Op> {
    if st.states.is_empty() || (g.pct(10)? && st.states.len() < 3) {
        let name = format!("st{}", st.made);
        st.made += 1;
        let size = g.pick(&[0x1000u64, 0x2000, 0x3000, 0x1800, 0x10000])?;
        let phys = PhysAddr(g.pick(&[0u64, 0x200, 0x800, 0xe00])?);
        st.states.push((name.clone(), size, Vec::new()));
        return Ok(Op::IovaTryAlloc { state: name, phys, size });
    }
    let i = g.u.int_in_range(0..=st.states.len() - 1)?;
    let (name, size, links) = st.states[i].clone();
    let choice = g.u.int_in_range(0..=9u8)?;
    if choice < 4 || links.is_empty() {
        // Link the next free granule range (page-aligned after the first, as the API asks).
        let offset = links.iter().map(|l| l.0 + l.1).max().unwrap_or(0);
        let len = (size.saturating_sub(offset)).min(g.pick(&[0x1000u64, 0x2000, 0x800])?);
        if len == 0 {
            return Ok(Op::IovaDestroy { state: name, mapped_len: size, dir: links[0].2, attrs: DmaAttrs(0) });
        }
        let r = *g.u.choose(&buffer_ram(c))?;
        let lo = if offset == 0 && g.pct(30)? { g.pick(&[0x200u64, 0x800, 0xe00])? } else { 0 };
        let phys = PhysAddr(r.start.0 + g.u.int_in_range(0..=0xfffu64)? * PAGE_SIZE + lo);
        let dir = g.dir()?;
        let attrs = if g.pct(5)? { DmaAttrs::MMIO } else { g.attrs()? };
        st.states[i].2.push((offset, len, dir));
        return Ok(Op::IovaLink { state: name, phys, offset, size: len, dir, attrs });
    }
    let (off, len, dir) = *g.u.choose(&links)?;
    Ok(match choice {
        4 => Op::IovaSync { state: name, offset: off, size: len },
        5 | 6 => {
            let addr = DmaRef::Iova { state: name, offset: off + g.pick(&[0u64, 0x10, 0x100])? };
            if g.pct(50)? {
                Op::DevWrite { addr, size: 0x40, seed: g.u.arbitrary()? }
            } else {
                Op::DevRead { addr, size: 0x40 }
            }
        }
        7 => {
            st.states[i].2.retain(|l| l.0 != off);
            Op::IovaUnlink { state: name, offset: off, size: len, dir, attrs: DmaAttrs(0) }
        }
        _ => {
            st.states.remove(i);
            let mapped_len = if g.misuse()? { len } else { size };
            Op::IovaDestroy { state: name, mapped_len, dir, attrs: DmaAttrs(0) }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_scenarios_round_trip_through_text() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        for _ in 0..300 {
            let bytes: Vec<u8> = (0..512)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let s = Scenario::arbitrary(&mut Unstructured::new(&bytes)).unwrap();
            let text = s.to_string();
            let back = parse_str(&text, "generated").unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(s, back, "{text}");
        }
    }
}
