//! Scenario text to [`Scenario`]: pest for the syntax, typed checks with spans for the rest.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use pest::error::{Error as PestError, ErrorVariant};
use pest::iterators::Pair;
use pest::{Parser, Span};
use pest_derive::Parser;

use super::*;

#[derive(Parser)]
#[grammar = "scenario/scenario.pest"]
struct ScenarioParser;

/// A scenario that does not parse: file, line, column and what was expected.
#[derive(Debug, Clone)]
pub struct ParseError {
    pub path: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
    rendered: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: error: {}\n{}", self.path, self.line, self.col, self.message, self.rendered)
    }
}

impl std::error::Error for ParseError {}

impl ParseError {
    fn from_pest(e: PestError<Rule>, path: &str) -> Self {
        let (line, col) = match e.line_col {
            pest::error::LineColLocation::Pos(p) => p,
            pest::error::LineColLocation::Span(p, _) => p,
        };
        let message = match &e.variant {
            ErrorVariant::CustomError { message } => message.clone(),
            ErrorVariant::ParsingError { positives, .. } => {
                let names: Vec<String> = positives.iter().map(|r| rule_name(*r).to_string()).collect();
                format!("expected {}", names.join(" or "))
            }
        };
        let e = e.renamed_rules(|r| rule_name(*r).to_string()).with_path(path);
        ParseError { path: path.to_string(), line, col, message, rendered: e.to_string() }
    }
}

fn rule_name(r: Rule) -> &'static str {
    match r {
        Rule::config_kw => {
            "a configuration keyword (platform, device, ram, mmio, dma_range, swiotlb, iommu, iommu_resv, pci_window, \
             stack, kernel_text, kernel_rodata, vmalloc, p2p, expect)"
        }
        Rule::setting => "key=value",
        Rule::key => "a key",
        Rule::value => "a value",
        Rule::op | Rule::func => "a DMA API call such as dma_map_phys(...)",
        Rule::args | Rule::arg | Rule::flags | Rule::sum => "an argument",
        Rule::number => "a number",
        Rule::symbol => "a kernel name such as DMA_TO_DEVICE",
        Rule::handle => "a mapping handle",
        Rule::page => "page(<phys>)",
        Rule::EOI => "end of file",
        Rule::file => "a statement",
        _ => "a statement",
    }
}

type Res<T> = Result<T, PestError<Rule>>;

fn err<T>(span: Span<'_>, message: impl Into<String>) -> Res<T> {
    Err(PestError::new_from_span(ErrorVariant::CustomError { message: message.into() }, span))
}

/// Parses scenario text; `path` only labels errors.
pub fn parse_str(text: &str, path: &str) -> Result<Scenario, ParseError> {
    let mut pairs = ScenarioParser::parse(Rule::file, text).map_err(|e| ParseError::from_pest(e, path))?;
    let file = pairs.next().expect("file rule");
    build(file).map_err(|e| ParseError::from_pest(e, path))
}

/// Reads and parses a scenario file.
pub fn parse_file(path: &Path) -> Result<Scenario, ParseError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ParseError {
        path: shown.clone(),
        line: 0,
        col: 0,
        message: format!("cannot read: {e}"),
        rendered: String::new(),
    })?;
    parse_str(&text, &shown)
}

struct Builder<'a> {
    config: Config,
    expect: Option<String>,
    expect_debug: Vec<String>,
    seen: HashMap<&'static str, Span<'a>>,
    handles: HashMap<String, Span<'a>>,
    /// Handles naming pfns (alloc_iova, alloc_iova_fast), not DMA mappings.
    pfn_handles: std::collections::HashSet<String>,
    /// An iova_init() came before: the allocator-level domain exists.
    iova_domain: bool,
    /// Scatterlist tables (sg_alloc_table), with their entry counts.
    sg_tables: HashMap<String, u32>,
    /// Two-step IOVA states (dma_iova_try_alloc).
    iova_states: std::collections::HashSet<String>,
    ops: Vec<Op>,
}

fn build(file: Pair<'_, Rule>) -> Res<Scenario> {
    let mut b = Builder {
        config: Config::default(),
        expect: None,
        expect_debug: Vec::new(),
        seen: HashMap::new(),
        handles: HashMap::new(),
        pfn_handles: Default::default(),
        iova_domain: false,
        sg_tables: HashMap::new(),
        iova_states: Default::default(),
        ops: Vec::new(),
    };
    let mut device_span = None;
    for stmt in file.into_inner() {
        match stmt.as_rule() {
            Rule::config => {
                let span = stmt.as_span();
                let kw = b.config_stmt(stmt)?;
                if kw == "device" {
                    device_span = Some(span);
                }
            }
            Rule::op => b.op_stmt(stmt)?,
            Rule::EOI => {}
            r => unreachable!("unexpected rule {r:?}"),
        }
    }
    if b.config.arch == Arch::X86_64 && !b.config.device.coherent {
        return err(
            device_span.expect("coherent=no needs a device line"),
            "x86_64 devices are always DMA-coherent: coherent=no needs platform arch=arm64",
        );
    }
    let mut expect_debug = b.expect_debug;
    expect_debug.sort_by_key(|n| crate::oracle::dma_debug::class_by_name(n));
    Ok(Scenario { config: b.config, ops: b.ops, expect: b.expect, expect_debug })
}

/// A decimal or 0x-prefixed number (a `number` token or a config `value`).
fn parse_u64(p: &Pair<'_, Rule>) -> Res<u64> {
    let s = p.as_str();
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse::<u64>(),
    };
    v.or_else(|_| err(p.as_span(), "expected a number (decimal or 0x-prefixed hex) that fits in 64 bits"))
}

fn value_bool(v: &Pair<'_, Rule>) -> Res<bool> {
    match v.as_str() {
        "yes" | "true" | "1" => Ok(true),
        "no" | "false" | "0" => Ok(false),
        _ => err(v.as_span(), "expected yes or no"),
    }
}

impl<'a> Builder<'a> {
    fn config_stmt(&mut self, stmt: Pair<'a, Rule>) -> Res<&'static str> {
        let span = stmt.as_span();
        let mut inner = stmt.into_inner();
        let kw_pair = inner.next().unwrap();
        let kw: &'static str = match kw_pair.as_str() {
            "platform" => "platform",
            "device" => "device",
            "ram" => "ram",
            "mmio" => "mmio",
            "expect" => "expect",
            "swiotlb" => "swiotlb",
            "iommu" => "iommu",
            "iommu_resv" => "iommu_resv",
            "pci_window" => "pci_window",
            "stack" => "stack",
            "kernel_text" => "kernel_text",
            "kernel_rodata" => "kernel_rodata",
            "vmalloc" => "vmalloc",
            "p2p" => "p2p",
            _ => "dma_range",
        };
        let mut settings: Vec<(Pair<'a, Rule>, Pair<'a, Rule>)> = Vec::new();
        for s in inner {
            let mut kv = s.into_inner();
            let k = kv.next().unwrap();
            let v = kv.next().unwrap();
            if settings.iter().any(|(k2, _)| k2.as_str() == k.as_str()) {
                return err(k.as_span(), format!("`{}` is set twice on this line", k.as_str()));
            }
            settings.push((k, v));
        }
        let allowed: &[&str] = match kw {
            "platform" => &["arch", "dma_api_debug", "cpus", "dma_debug_entries"],
            "device" => &[
                "name",
                "driver",
                "dma_mask",
                "bus_dma_limit",
                "coherent",
                "dma_parms",
                "min_align_mask",
                "seg_boundary_mask",
                "max_segment_size",
                "pci",
                "untrusted",
            ],
            "swiotlb" => &["mode", "start", "nslabs", "nareas"],
            "iommu" => &[
                "domain",
                "granule",
                "pgsize_bitmap",
                "aperture_start",
                "aperture_end",
                "force_aperture",
                "deferred_flush",
                "shadow_on_flush",
                "forcedac",
            ],
            "iommu_resv" => &["start", "length", "type"],
            "pci_window" => &["start", "end", "offset"],
            "p2p" => &["start", "size", "bus_start", "route"],
            "ram" | "mmio" | "stack" | "kernel_text" | "kernel_rodata" | "vmalloc" => &["start", "size"],
            "expect" => &["divergence", "dma_debug"],
            _ => &["cpu_start", "dma_start", "size"],
        };
        for (k, _) in &settings {
            if !allowed.contains(&k.as_str()) {
                return err(
                    k.as_span(),
                    format!("unknown key `{}` for `{kw}`; expected one of: {}", k.as_str(), allowed.join(", ")),
                );
            }
        }
        let get = |name: &str| settings.iter().find(|(k, _)| k.as_str() == name).map(|(_, v)| v.clone());
        let need = |name: &str| -> Res<Pair<'a, Rule>> {
            match get(name) {
                Some(v) => Ok(v),
                None => err(span, format!("`{kw}` needs {name}=")),
            }
        };
        if matches!(kw, "iommu_resv" | "pci_window") && self.config.iommu.is_none() {
            return err(span, format!("`{kw}` describes the IOMMU: it needs an `iommu` line before it"));
        }
        if matches!(kw, "platform" | "device" | "swiotlb" | "iommu") && self.seen.insert(kw, span).is_some() {
            return err(span, format!("a second `{kw}` line; a scenario has one"));
        }
        match kw {
            "platform" => {
                if let Some(v) = get("arch") {
                    self.config.arch = match v.as_str() {
                        "arm64" => Arch::Arm64,
                        "x86_64" => Arch::X86_64,
                        _ => return err(v.as_span(), "expected arm64 or x86_64"),
                    };
                }
                if let Some(v) = get("dma_api_debug") {
                    self.config.dma_api_debug = value_bool(&v)?;
                }
                if let Some(v) = get("dma_debug_entries") {
                    self.config.dma_debug_entries = match u32::try_from(parse_u64(&v)?) {
                        Ok(n) if n >= 1 => Some(n),
                        _ => {
                            return err(
                                v.as_span(),
                                "expected an entry count from 1 to 2^32 - 1 (0 turns dma-debug off)",
                            )
                        }
                    };
                }
                if let Some(v) = get("cpus") {
                    self.config.nr_cpus = match u32::try_from(parse_u64(&v)?) {
                        Ok(n) if n >= 1 => n,
                        _ => return err(v.as_span(), "expected a CPU count from 1 to 2^32 - 1"),
                    };
                }
            }
            "device" => {
                let d = &mut self.config.device;
                if let Some(v) = get("name") {
                    d.name = v.as_str().to_string();
                }
                if let Some(v) = get("driver") {
                    d.driver = v.as_str().to_string();
                }
                if let Some(v) = get("dma_mask") {
                    d.dma_mask = if v.as_str() == "none" { None } else { Some(parse_u64(&v)?) };
                }
                if let Some(v) = get("bus_dma_limit") {
                    d.bus_dma_limit = parse_u64(&v)?;
                }
                if let Some(v) = get("coherent") {
                    d.coherent = value_bool(&v)?;
                }
                if let Some(v) = get("pci") {
                    d.pci = value_bool(&v)?;
                }
                if let Some(v) = get("untrusted") {
                    d.untrusted = value_bool(&v)?;
                    if d.untrusted && !d.pci {
                        return err(v.as_span(), "untrusted= is a property of PCI devices: it needs pci=yes first");
                    }
                }
                if let Some(v) = get("dma_parms") {
                    if !value_bool(&v)? {
                        d.dma_parms = None;
                    }
                }
                for key in ["min_align_mask", "seg_boundary_mask", "max_segment_size"] {
                    let Some(v) = get(key) else { continue };
                    let Some(p) = d.dma_parms.as_mut() else {
                        return err(
                            v.as_span(),
                            format!("{key}= lives in dev->dma_parms, and this device has dma_parms=no"),
                        );
                    };
                    let n = parse_u64(&v)?;
                    let narrow = || -> Res<u32> {
                        u32::try_from(n).or_else(|_| {
                            err(v.as_span(), format!("{key} is an unsigned int in struct device_dma_parameters"))
                        })
                    };
                    match key {
                        "min_align_mask" => p.min_align_mask = narrow()?,
                        "max_segment_size" => p.max_segment_size = narrow()?,
                        _ => p.seg_boundary_mask = n,
                    }
                }
            }
            "swiotlb" => {
                let mode_v = need("mode")?;
                let mode = match mode_v.as_str() {
                    "off" => SwiotlbMode::Off,
                    "on" => SwiotlbMode::On,
                    "force" => SwiotlbMode::Force,
                    "restricted" => SwiotlbMode::Restricted,
                    _ => return err(mode_v.as_span(), "expected a swiotlb mode: off, on, force or restricted"),
                };
                if mode == SwiotlbMode::Off {
                    if let Some((k, _)) = settings.iter().find(|(k, _)| k.as_str() != "mode") {
                        return err(k.as_span(), "swiotlb mode=off allocates no pool and takes no other key");
                    }
                    self.config.swiotlb = None;
                } else {
                    let start_v = need("start")?;
                    let start = parse_u64(&start_v)?;
                    if start % crate::types::PAGE_SIZE != 0 {
                        return err(start_v.as_span(), "expected a page-aligned pool start (memblock allocates pages)");
                    }
                    let nslabs = match get("nslabs") {
                        Some(v) => match parse_u64(&v)? {
                            0 => return err(v.as_span(), "expected a non-zero number of 2 KiB slots"),
                            n if n > 1 << 24 => return err(v.as_span(), "expected at most 2^24 slots (32 GiB)"),
                            n => Some(n),
                        },
                        None if mode == SwiotlbMode::Restricted => {
                            return err(span, "a restricted-dma-pool needs nslabs= (its size >> IO_TLB_SHIFT)")
                        }
                        None => None,
                    };
                    let nareas = match get("nareas") {
                        Some(v) if mode == SwiotlbMode::Restricted => {
                            return err(v.as_span(), "a restricted-dma-pool always has one area")
                        }
                        Some(v) => match u32::try_from(parse_u64(&v)?) {
                            Ok(n) if (1..=1 << 16).contains(&n) => Some(n),
                            _ => return err(v.as_span(), "expected an area count from 1 to 65536"),
                        },
                        None => None,
                    };
                    self.config.swiotlb = Some(SwiotlbConfig { mode, start: PhysAddr(start), nslabs, nareas });
                }
            }
            "iommu" => {
                let mut i = IommuConfig::default();
                let dv = need("domain")?;
                i.domain = match dv.as_str() {
                    "identity" => IommuDomainType::Identity,
                    "dma" => IommuDomainType::Dma,
                    "dma-fq" => IommuDomainType::DmaFq,
                    _ => return err(dv.as_span(), "expected an IOMMU domain type: identity, dma or dma-fq"),
                };
                match (get("granule"), get("pgsize_bitmap")) {
                    (Some(g), Some(_)) => {
                        return err(g.as_span(), "give granule= or pgsize_bitmap=, not both");
                    }
                    (Some(g), None) => match g.as_str() {
                        "4K" | "0x1000" | "4096" => {}
                        "16K" | "64K" => {
                            // init_iova_domain() BUG_ONs on a granule above PAGE_SIZE, and the
                            // modelled kernels have 4K pages.
                            return err(g.as_span(), "a 16K or 64K IOMMU granule needs a 16K or 64K PAGE_SIZE kernel; the model has 4K pages");
                        }
                        _ => return err(g.as_span(), "expected an IOMMU granule: 4K"),
                    },
                    (None, Some(b)) => {
                        let n = parse_u64(&b)?;
                        if n == 0 {
                            return err(b.as_span(), "expected a non-zero page-size bitmap");
                        }
                        if n.trailing_zeros() > crate::types::PAGE_SHIFT {
                            return err(
                                b.as_span(),
                                "init_iova_domain() BUG_ONs on a smallest IOMMU page above PAGE_SIZE (4K)",
                            );
                        }
                        i.pgsize_bitmap = n;
                    }
                    (None, None) => {}
                }
                if let Some(v) = get("aperture_start") {
                    i.aperture_start = parse_u64(&v)?;
                }
                if let Some(v) = get("aperture_end") {
                    i.aperture_end = parse_u64(&v)?;
                }
                if i.aperture_end <= i.aperture_start {
                    return err(span, "the aperture needs aperture_start < aperture_end (inclusive end)");
                }
                for (key, field) in [
                    ("force_aperture", &mut i.force_aperture),
                    ("deferred_flush", &mut i.deferred_flush),
                    ("shadow_on_flush", &mut i.shadow_on_flush),
                    ("forcedac", &mut i.forcedac),
                ] {
                    if let Some(v) = get(key) {
                        *field = value_bool(&v)?;
                    }
                }
                self.config.iommu = Some(i);
            }
            "iommu_resv" => {
                let start = parse_u64(&need("start")?)?;
                let len_v = need("length")?;
                let length = parse_u64(&len_v)?;
                if length == 0 || start.checked_add(length - 1).is_none() {
                    return err(len_v.as_span(), "a reserved region needs a non-zero length that does not wrap");
                }
                let tv = need("type")?;
                let kind = match tv.as_str() {
                    "direct" => ResvType::Direct,
                    "direct-relaxable" => ResvType::DirectRelaxable,
                    "reserved" => ResvType::Reserved,
                    "msi" => ResvType::Msi,
                    "sw-msi" => ResvType::SwMsi,
                    _ => {
                        return err(
                            tv.as_span(),
                            "expected a region type: direct, direct-relaxable, reserved, msi, sw-msi",
                        )
                    }
                };
                self.config.iommu.as_mut().expect("checked above").resv.push(ResvRegion { start, length, kind });
            }
            "pci_window" => {
                let start = parse_u64(&need("start")?)?;
                let end_v = need("end")?;
                let end = parse_u64(&end_v)?;
                let offset = get("offset").map(|v| parse_u64(&v)).transpose()?.unwrap_or(0);
                if end < start || start < offset {
                    return err(end_v.as_span(), "a window needs offset <= start <= end (end is inclusive)");
                }
                self.config.iommu.as_mut().expect("checked above").pci_windows.push(PciWindow { start, end, offset });
            }
            "expect" if get("dma_debug").is_some() => {
                let v = get("dma_debug").expect("checked");
                if let Some((k, _)) = settings.iter().find(|(k, _)| k.as_str() != "dma_debug") {
                    return err(k.as_span(), "give divergence= and dma_debug= on separate expect lines");
                }
                if crate::oracle::dma_debug::class_by_name(v.as_str()).is_none() {
                    let names: Vec<&str> = (1..=23).map(crate::oracle::dma_debug::class_name).collect();
                    return err(v.as_span(), format!("unknown dma-debug class; expected one of: {}", names.join(", ")));
                }
                if self.expect_debug.iter().any(|c| c == v.as_str()) {
                    return err(v.as_span(), "this dma-debug class is already expected");
                }
                self.expect_debug.push(v.as_str().to_string());
            }
            "expect" => {
                if self.seen.insert("expect", span).is_some() {
                    return err(span, "a second `expect divergence=` line; a scenario ends in one divergence at most");
                }
                let v = need("divergence")?;
                let ids: Vec<&str> = crate::oracle::allowlist::DIVERGENCES.iter().map(|(id, _)| *id).collect();
                if !ids.contains(&v.as_str()) {
                    return err(
                        v.as_span(),
                        format!("unknown allow-list divergence; expected one of: {}", ids.join(", ")),
                    );
                }
                self.expect = Some(v.as_str().to_string());
            }
            "p2p" => {
                let start = parse_u64(&need("start")?)?;
                let size_v = need("size")?;
                let size = parse_u64(&size_v)?;
                if size == 0
                    || start.checked_add(size - 1).is_none()
                    || (start | size) & (crate::types::PAGE_SIZE - 1) != 0
                {
                    return err(
                        size_v.as_span(),
                        "a P2PDMA BAR is whole pages: page-aligned start, non-zero page-multiple size, no wrap",
                    );
                }
                let overlaps = |r: &Region| {
                    (start as u128) < r.end() as u128 && (r.start.0 as u128) < start as u128 + size as u128
                };
                if self.config.ram.iter().chain(&self.config.mmio).any(overlaps)
                    || self.config.p2p.iter().any(|p| overlaps(&Region { start: p.start, size: p.size }))
                {
                    return err(span, "a P2PDMA BAR must not overlap a ram, mmio or other p2p region");
                }
                let bus_start = get("bus_start").map(|v| parse_u64(&v)).transpose()?.unwrap_or(start);
                let route_v = need("route")?;
                let route = match route_v.as_str() {
                    "switch" => P2pdmaMapType::BusAddr,
                    "host-bridge" => P2pdmaMapType::ThruHostBridge,
                    "none" => P2pdmaMapType::NotSupported,
                    _ => {
                        return err(
                            route_v.as_span(),
                            "expected switch (PCI_P2PDMA_MAP_BUS_ADDR), host-bridge (PCI_P2PDMA_MAP_THRU_HOST_BRIDGE) or none (PCI_P2PDMA_MAP_NOT_SUPPORTED)",
                        )
                    }
                };
                self.config.p2p.push(P2pProvider { start: PhysAddr(start), size, bus_start, route });
            }
            "stack" | "kernel_text" | "kernel_rodata" | "vmalloc" => {
                let start = parse_u64(&need("start")?)?;
                let size_v = need("size")?;
                let size = parse_u64(&size_v)?;
                if size == 0 || start.checked_add(size - 1).is_none() {
                    return err(size_v.as_span(), "an area needs a non-zero size that does not wrap");
                }
                let kind = match kw {
                    "stack" => KernelAreaKind::Stack,
                    "kernel_text" => KernelAreaKind::Text,
                    "kernel_rodata" => KernelAreaKind::Rodata,
                    _ => KernelAreaKind::Vmalloc,
                };
                let in_ram = self.config.ram.iter().any(|r| r.contains(PhysAddr(start), size));
                if kind == KernelAreaKind::Vmalloc
                    && self.config.ram.iter().chain(&self.config.mmio).any(|r| {
                        (start as u128) < r.end() as u128 && (r.start.0 as u128) < start as u128 + size as u128
                    })
                {
                    return err(
                        span,
                        "a vmalloc range is virtual: it must not overlap a ram or mmio region (the linear map)",
                    );
                }
                if kind != KernelAreaKind::Vmalloc && !in_ram {
                    return err(
                        span,
                        format!("`{kw}` lies in the linear map: it needs a `ram` line that holds it first"),
                    );
                }
                self.config.kernel_areas.push(KernelArea { kind, start, size });
            }
            "ram" | "mmio" => {
                let start = parse_u64(&need("start")?)?;
                let size_v = need("size")?;
                let size = parse_u64(&size_v)?;
                if size == 0 || start.checked_add(size).is_none() {
                    return err(size_v.as_span(), "a region needs a non-zero size that does not wrap");
                }
                let r = Region { start: PhysAddr(start), size };
                let clash = self
                    .config
                    .ram
                    .iter()
                    .chain(self.config.mmio.iter())
                    .find(|o| r.start.0 < o.end() && o.start.0 < r.end());
                if let Some(o) = clash {
                    return err(span, format!("region overlaps the region at {:#x} size {:#x}", o.start.0, o.size));
                }
                if kw == "ram" {
                    self.config.ram.push(r)
                } else {
                    self.config.mmio.push(r)
                }
            }
            _ => {
                let cpu = parse_u64(&need("cpu_start")?)?;
                let dma = parse_u64(&need("dma_start")?)?;
                let size_v = need("size")?;
                let size = parse_u64(&size_v)?;
                if size == 0 {
                    return err(size_v.as_span(), "a dma_range needs a non-zero size (size 0 ends the kernel's table)");
                }
                self.config.dma_ranges.push(DmaRange { cpu_start: PhysAddr(cpu), dma_start: dma, size });
            }
        }
        Ok(kw)
    }

    fn op_stmt(&mut self, stmt: Pair<'a, Rule>) -> Res<()> {
        let span = stmt.as_span();
        let mut handle = None;
        let mut func = None;
        let mut args: Vec<Pair<'a, Rule>> = Vec::new();
        for p in stmt.into_inner() {
            match p.as_rule() {
                Rule::handle => handle = Some(p),
                Rule::func => func = Some(p),
                Rule::args => args = p.into_inner().collect(),
                _ => unreachable!(),
            }
        }
        let func = func.unwrap();
        let name = func.as_str();
        let is_map = matches!(
            name,
            "dma_map_phys"
                | "dma_map_page_attrs"
                | "dma_map_single_attrs"
                | "dma_map_resource"
                | "swiotlb_tbl_map_single"
                | "alloc_iova"
                | "alloc_iova_fast"
                | "sg_alloc_table"
                | "dma_iova_try_alloc"
        );
        let iova_op = matches!(
            name,
            "alloc_iova" | "alloc_iova_fast" | "free_iova" | "free_iova_fast" | "find_iova" | "reserve_iova"
        );
        if iova_op && !self.iova_domain {
            return err(
                span,
                format!("{name}() drives the allocator-level iova domain: call iova_init(granule, start_pfn) first"),
            );
        }
        let needs_iommu = matches!(name, "dma_max_mapping_size" | "dma_opt_mapping_size" | "fq_flush_timeout");
        if needs_iommu && self.config.iommu.as_ref().is_none_or(|i| i.domain == IommuDomainType::Identity) {
            return err(
                span,
                format!(
                    "{name}() is modelled for devices behind an IOMMU DMA domain: add `iommu domain=dma` (or dma-fq)"
                ),
            );
        }
        match (&handle, is_map) {
            (None, true) => return err(span, format!("{name}() needs a handle: `h0 = {name}(...)`")),
            (Some(h), false) => {
                return err(h.as_span(), format!("{name}() returns no mapping; drop `{} =`", h.as_str()))
            }
            _ => {}
        }
        let arity = |min: usize, max: usize, sig: &str| -> Res<()> {
            if args.len() < min || args.len() > max {
                err(span, format!("{name}() takes {sig}"))
            } else {
                Ok(())
            }
        };
        let op = match name {
            "dma_map_phys" | "dma_map_resource" | "dma_map_single_attrs" => {
                arity(4, 4, "(phys, size, dir, attrs)")?;
                let kind = match name {
                    "dma_map_phys" => MapKind::Phys,
                    "dma_map_single_attrs" => MapKind::Single,
                    _ => MapKind::Resource,
                };
                Op::Map {
                    handle: String::new(),
                    kind,
                    phys: PhysAddr(self.num(&args[0], "a physical address")?),
                    offset: 0,
                    size: self.num(&args[1], "a size")?,
                    dir: self.dir(&args[2])?,
                    attrs: self.attrs(&args[3])?,
                }
            }
            "dma_map_page_attrs" => {
                arity(5, 5, "(page(phys), offset, size, dir, attrs)")?;
                let page = self.page(&args[0])?;
                Op::Map {
                    handle: String::new(),
                    kind: MapKind::PageAttrs,
                    phys: page,
                    offset: self.num(&args[1], "an offset")?,
                    size: self.num(&args[2], "a size")?,
                    dir: self.dir(&args[3])?,
                    attrs: self.attrs(&args[4])?,
                }
            }
            "swiotlb_tbl_map_single" => {
                arity(5, 5, "(orig_addr, mapping_size, alloc_align_mask, dir, attrs)")?;
                let mask = self.num(&args[2], "an alloc_align_mask")?;
                let Ok(alloc_align_mask) = u32::try_from(mask) else {
                    return err(args[2].as_span(), "alloc_align_mask is an unsigned int");
                };
                Op::TblMap {
                    handle: String::new(),
                    orig: PhysAddr(self.num(&args[0], "a physical address")?),
                    size: self.num(&args[1], "a size")?,
                    alloc_align_mask,
                    dir: self.dir(&args[3])?,
                    attrs: self.attrs(&args[4])?,
                }
            }
            "dma_unmap_phys"
            | "dma_unmap_page_attrs"
            | "dma_unmap_single_attrs"
            | "dma_unmap_resource"
            | "swiotlb_tbl_unmap_single" => {
                arity(1, 4, "(addr[, size[, dir[, attrs]]])")?;
                let kind = match name {
                    "dma_unmap_phys" => UnmapKind::Phys,
                    "dma_unmap_page_attrs" => UnmapKind::PageAttrs,
                    "dma_unmap_single_attrs" => UnmapKind::Single,
                    "swiotlb_tbl_unmap_single" => UnmapKind::SwiotlbTbl,
                    _ => UnmapKind::Resource,
                };
                let addr = self.dma_ref(&args[0])?;
                if matches!(addr, DmaRef::Raw(_)) && args.len() < 4 {
                    return err(span, "an unmap of a raw address needs size, dir and attrs");
                }
                Op::Unmap {
                    kind,
                    args: UnmapArgs {
                        addr,
                        size: args.get(1).map(|a| self.num(a, "a size")).transpose()?,
                        dir: args.get(2).map(|a| self.dir(a)).transpose()?,
                        attrs: args.get(3).map(|a| self.attrs(a)).transpose()?,
                    },
                }
            }
            "dma_set_min_align_mask" => {
                arity(1, 1, "(min_align_mask)")?;
                match u32::try_from(self.num(&args[0], "a mask")?) {
                    Ok(m) => Op::SetMinAlignMask(m),
                    Err(_) => return err(args[0].as_span(), "min_align_mask is an unsigned int"),
                }
            }
            "dma_set_seg_boundary" => {
                arity(1, 1, "(mask)")?;
                Op::SetSegBoundary(self.num(&args[0], "a mask")?)
            }
            "run_on_cpu" => {
                arity(1, 1, "(cpu)")?;
                let cpu = self.num(&args[0], "a CPU number")?;
                match u32::try_from(cpu) {
                    Ok(c) if c < self.config.nr_cpus => Op::RunOnCpu(c),
                    _ => {
                        return err(
                            args[0].as_span(),
                            format!("expected a CPU below platform cpus={}", self.config.nr_cpus),
                        )
                    }
                }
            }
            "swiotlb_max_mapping_size" | "is_swiotlb_active" | "is_swiotlb_force_bounce" => {
                arity(0, 0, "no arguments")?;
                Op::Query(match name {
                    "swiotlb_max_mapping_size" => Query::SwiotlbMaxMappingSize,
                    "is_swiotlb_active" => Query::IsSwiotlbActive,
                    _ => Query::IsSwiotlbForceBounce,
                })
            }
            "dma_kmalloc_needs_bounce" => {
                arity(2, 2, "(size, dir)")?;
                Op::Query(Query::DmaKmallocNeedsBounce {
                    size: self.num(&args[0], "a size")?,
                    dir: self.dir(&args[1])?,
                })
            }
            "dma_sync_single_for_cpu"
            | "dma_sync_single_for_device"
            | "swiotlb_sync_single_for_cpu"
            | "swiotlb_sync_single_for_device" => {
                arity(1, 3, "(addr[, size[, dir]])")?;
                let addr = self.dma_ref(&args[0])?;
                if matches!(addr, DmaRef::Raw(_)) && args.len() < 3 {
                    return err(span, "a sync of a raw address needs size and dir");
                }
                let a = SyncArgs {
                    addr,
                    size: args.get(1).map(|a| self.num(a, "a size")).transpose()?,
                    dir: args.get(2).map(|a| self.dir(a)).transpose()?,
                };
                match (name.starts_with("swiotlb"), name.ends_with("cpu")) {
                    (false, true) => Op::SyncForCpu(a),
                    (false, false) => Op::SyncForDevice(a),
                    (true, true) => Op::TblSyncForCpu(a),
                    (true, false) => Op::TblSyncForDevice(a),
                }
            }
            "dma_mapping_error" => {
                arity(1, 1, "(addr)")?;
                Op::MappingError(self.dma_ref(&args[0])?)
            }
            "dma_max_mapping_size" | "dma_opt_mapping_size" => {
                arity(0, 0, "no arguments")?;
                Op::Query(if name == "dma_max_mapping_size" {
                    Query::DmaMaxMappingSize
                } else {
                    Query::DmaOptMappingSize
                })
            }
            "iova_init" => {
                arity(2, 2, "(granule, start_pfn)")?;
                let granule = self.num(&args[0], "a granule")?;
                if !granule.is_power_of_two() || granule > crate::types::PAGE_SIZE {
                    return err(
                        args[0].as_span(),
                        "init_iova_domain() BUG_ONs unless the granule is a power of two no larger than PAGE_SIZE (4K)",
                    );
                }
                self.iova_domain = true;
                Op::IovaInit { granule, start_pfn: self.num(&args[1], "a start pfn")? }
            }
            "alloc_iova" | "alloc_iova_fast" => {
                arity(3, 3, "(size, limit_pfn, true|false)")?;
                let size = self.num(&args[0], "a size in granules")?;
                let limit_pfn = self.num(&args[1], "an inclusive limit pfn")?;
                let flag = self.boolean(&args[2])?;
                if size == 0 && name == "alloc_iova" {
                    return err(args[0].as_span(), "alloc_iova() of size 0 inserts an empty node: its place depends on the rb-tree's shape (not modelled)");
                }
                if name == "alloc_iova" {
                    Op::AllocIova { handle: String::new(), size, limit_pfn, size_aligned: flag }
                } else {
                    Op::AllocIovaFast { handle: String::new(), size, limit_pfn, flush_rcache: flag }
                }
            }
            "free_iova" | "find_iova" => {
                arity(1, 1, "(pfn)")?;
                let pfn = self.pfn_ref(&args[0])?;
                if pfn == DmaRef::Raw(u64::MAX) && name == "free_iova" {
                    return err(
                        args[0].as_span(),
                        "free_iova(~0UL) frees the tree's anchor: the kernel oopses on the next allocation",
                    );
                }
                if name == "free_iova" {
                    Op::FreeIova(pfn)
                } else {
                    Op::FindIova(pfn)
                }
            }
            "free_iova_fast" => {
                arity(2, 2, "(pfn, size)")?;
                Op::FreeIovaFast { pfn: self.pfn_ref(&args[0])?, size: self.num(&args[1], "a size in granules")? }
            }
            "reserve_iova" => {
                arity(2, 2, "(pfn_lo, pfn_hi)")?;
                let (pfn_lo, pfn_hi) = (self.num(&args[0], "a pfn")?, self.num(&args[1], "a pfn")?);
                if pfn_hi < pfn_lo {
                    return err(
                        args[1].as_span(),
                        "pfn_hi below pfn_lo: where such a node sits depends on the rb-tree's shape (not modelled)",
                    );
                }
                Op::ReserveIova { pfn_lo, pfn_hi }
            }
            "free_cpu_cached_iovas" => {
                arity(1, 1, "(cpu)")?;
                let cpu = self.num(&args[0], "a CPU number")?;
                match u32::try_from(cpu) {
                    Ok(c) if c < self.config.nr_cpus => Op::FreeCpuCachedIovas(c),
                    _ => {
                        return err(
                            args[0].as_span(),
                            format!("expected a CPU below platform cpus={}", self.config.nr_cpus),
                        )
                    }
                }
            }
            "device_release_driver" => {
                arity(0, 0, "no arguments")?;
                Op::DeviceReleaseDriver
            }
            "iova_depot_work" | "fq_flush_timeout" => {
                arity(0, 0, "no arguments")?;
                if name == "iova_depot_work" {
                    Op::IovaDepotWork
                } else {
                    Op::FqFlushTimeout
                }
            }
            "cpu_write" => {
                arity(3, 3, "(phys, size, seed)")?;
                Op::CpuWrite {
                    phys: PhysAddr(self.num(&args[0], "a physical address")?),
                    size: self.num(&args[1], "a size")?,
                    seed: self.seed(&args[2])?,
                }
            }
            "cpu_read" => {
                arity(2, 2, "(phys, size)")?;
                Op::CpuRead {
                    phys: PhysAddr(self.num(&args[0], "a physical address")?),
                    size: self.num(&args[1], "a size")?,
                }
            }
            "dev_write" => {
                arity(3, 3, "(addr, size, seed)")?;
                Op::DevWrite {
                    addr: self.dma_ref(&args[0])?,
                    size: self.num(&args[1], "a size")?,
                    seed: self.seed(&args[2])?,
                }
            }
            "dev_read" => {
                arity(2, 2, "(addr, size)")?;
                Op::DevRead { addr: self.dma_ref(&args[0])?, size: self.num(&args[1], "a size")? }
            }
            "sg_alloc_table" => {
                arity(1, 1, "(nents)")?;
                let n = self.num(&args[0], "an entry count")?;
                if n == 0 || n > MAX_SG_ENTRIES {
                    return err(args[0].as_span(), format!("expected from 1 to {MAX_SG_ENTRIES} entries"));
                }
                Op::SgAllocTable { table: String::new(), nents: n as u32 }
            }
            "sg_set_page" => {
                arity(5, 5, "(table, index, page(phys), len, offset)")?;
                let (table, n) = self.sg_table(&args[0])?;
                let index = self.sg_index(&args[1], n)?;
                let page = self.page(&args[2])?;
                let len = self.u32_arg(&args[3], "a length (unsigned int)")?;
                let offset = self.u32_arg(&args[4], "an offset (unsigned int)")?;
                Op::SgSetPage { table, index, page, len, offset }
            }
            "sg_chain" => {
                arity(2, 2, "(table, index): the entries after index live in a chained array")?;
                let (table, n) = self.sg_table(&args[0])?;
                let index = self.sg_index(&args[1], n)?;
                if index + 1 >= n {
                    return err(args[1].as_span(), "a chain link needs entries after it: expected an index below the last");
                }
                Op::SgChain { table, index }
            }
            "dma_map_sg_attrs" => {
                arity(4, 4, "(table, nents, dir, attrs)")?;
                let (table, n) = self.sg_table(&args[0])?;
                let nents = self.sg_count(&args[1], n)?;
                Op::MapSg { table, nents: Some(nents), dir: self.dir(&args[2])?, attrs: self.attrs(&args[3])? }
            }
            "dma_map_sgtable" => {
                arity(3, 3, "(table, dir, attrs)")?;
                let (table, _) = self.sg_table(&args[0])?;
                Op::MapSg { table, nents: None, dir: self.dir(&args[1])?, attrs: self.attrs(&args[2])? }
            }
            "dma_unmap_sg_attrs" => {
                arity(1, 4, "(table[, nents[, dir[, attrs]]])")?;
                let (table, n) = self.sg_table(&args[0])?;
                Op::UnmapSg {
                    table,
                    sgtable: false,
                    nents: args.get(1).map(|a| self.sg_count(a, n)).transpose()?,
                    dir: args.get(2).map(|a| self.dir(a)).transpose()?,
                    attrs: args.get(3).map(|a| self.attrs(a)).transpose()?,
                }
            }
            "dma_unmap_sgtable" => {
                arity(1, 3, "(table[, dir[, attrs]])")?;
                let (table, _) = self.sg_table(&args[0])?;
                Op::UnmapSg {
                    table,
                    sgtable: true,
                    nents: None,
                    dir: args.get(1).map(|a| self.dir(a)).transpose()?,
                    attrs: args.get(2).map(|a| self.attrs(a)).transpose()?,
                }
            }
            "dma_sync_sg_for_cpu" | "dma_sync_sg_for_device" => {
                arity(1, 3, "(table[, nelems[, dir]])")?;
                let (table, n) = self.sg_table(&args[0])?;
                Op::SyncSg {
                    table,
                    for_cpu: name.ends_with("cpu"),
                    nelems: args.get(1).map(|a| self.sg_count(a, n)).transpose()?,
                    dir: args.get(2).map(|a| self.dir(a)).transpose()?,
                }
            }
            "dma_iova_try_alloc" => {
                arity(2, 2, "(phys, size)")?;
                Op::IovaTryAlloc {
                    state: String::new(),
                    phys: PhysAddr(self.num(&args[0], "a physical address")?),
                    size: self.num(&args[1], "a size")?,
                }
            }
            "dma_iova_link" => {
                arity(6, 6, "(state, phys, offset, size, dir, attrs)")?;
                Op::IovaLink {
                    state: self.iova_state(&args[0])?,
                    phys: PhysAddr(self.num(&args[1], "a physical address")?),
                    offset: self.num(&args[2], "an offset into the IOVA range")?,
                    size: self.num(&args[3], "a size")?,
                    dir: self.dir(&args[4])?,
                    attrs: self.attrs(&args[5])?,
                }
            }
            "dma_iova_sync" => {
                arity(3, 3, "(state, offset, size)")?;
                Op::IovaSync {
                    state: self.iova_state(&args[0])?,
                    offset: self.num(&args[1], "an offset")?,
                    size: self.num(&args[2], "a size")?,
                }
            }
            "dma_iova_unlink" => {
                arity(5, 5, "(state, offset, size, dir, attrs)")?;
                Op::IovaUnlink {
                    state: self.iova_state(&args[0])?,
                    offset: self.num(&args[1], "an offset")?,
                    size: self.num(&args[2], "a size")?,
                    dir: self.dir(&args[3])?,
                    attrs: self.attrs(&args[4])?,
                }
            }
            "dma_iova_destroy" => {
                arity(4, 4, "(state, mapped_len, dir, attrs)")?;
                Op::IovaDestroy {
                    state: self.iova_state(&args[0])?,
                    mapped_len: self.num(&args[1], "a mapped length")?,
                    dir: self.dir(&args[2])?,
                    attrs: self.attrs(&args[3])?,
                }
            }
            "dma_iova_free" => {
                arity(1, 1, "(state)")?;
                Op::IovaFree { state: self.iova_state(&args[0])? }
            }
            _ => return err(
                func.as_span(),
                "unknown call; expected one of dma_map_phys, dma_map_page_attrs, dma_map_single_attrs, \
                     dma_map_resource, dma_unmap_phys, dma_unmap_page_attrs, dma_unmap_single_attrs, dma_unmap_resource, dma_sync_single_for_cpu, dma_sync_single_for_device, \
                     dma_mapping_error, cpu_write, cpu_read, dev_write, dev_read, swiotlb_tbl_map_single, \
                     swiotlb_tbl_unmap_single, swiotlb_sync_single_for_cpu, swiotlb_sync_single_for_device, \
                     dma_set_min_align_mask, dma_set_seg_boundary, run_on_cpu, swiotlb_max_mapping_size, \
                     is_swiotlb_active, is_swiotlb_force_bounce, dma_kmalloc_needs_bounce, dma_max_mapping_size, \
                     dma_opt_mapping_size, iova_init, alloc_iova, alloc_iova_fast, free_iova, free_iova_fast, \
                     find_iova, reserve_iova, free_cpu_cached_iovas, iova_depot_work, fq_flush_timeout, \
                     device_release_driver, sg_alloc_table, sg_set_page, sg_chain, dma_map_sg_attrs, \
                     dma_map_sgtable, dma_unmap_sg_attrs, dma_unmap_sgtable, dma_sync_sg_for_cpu, \
                     dma_sync_sg_for_device, dma_iova_try_alloc, dma_iova_link, dma_iova_sync, dma_iova_unlink, \
                     dma_iova_destroy, dma_iova_free",
            ),
        };
        let op = match (op, handle) {
            (
                op @ (Op::Map { .. }
                | Op::TblMap { .. }
                | Op::AllocIova { .. }
                | Op::AllocIovaFast { .. }
                | Op::SgAllocTable { .. }
                | Op::IovaTryAlloc { .. }),
                Some(h),
            ) => {
                if let Some(prev) = self.handles.get(h.as_str()) {
                    let (l, _) = prev.start_pos().line_col();
                    return err(h.as_span(), format!("handle `{}` is already defined on line {l}", h.as_str()));
                }
                self.handles.insert(h.as_str().to_string(), h.as_span());
                let handle = h.as_str().to_string();
                match op {
                    Op::Map { kind, phys, offset, size, dir, attrs, .. } => {
                        Op::Map { handle, kind, phys, offset, size, dir, attrs }
                    }
                    Op::TblMap { orig, size, alloc_align_mask, dir, attrs, .. } => {
                        Op::TblMap { handle, orig, size, alloc_align_mask, dir, attrs }
                    }
                    Op::AllocIova { size, limit_pfn, size_aligned, .. } => {
                        self.pfn_handles.insert(handle.clone());
                        Op::AllocIova { handle, size, limit_pfn, size_aligned }
                    }
                    Op::AllocIovaFast { size, limit_pfn, flush_rcache, .. } => {
                        self.pfn_handles.insert(handle.clone());
                        Op::AllocIovaFast { handle, size, limit_pfn, flush_rcache }
                    }
                    Op::SgAllocTable { nents, .. } => {
                        self.sg_tables.insert(handle.clone(), nents);
                        Op::SgAllocTable { table: handle, nents }
                    }
                    Op::IovaTryAlloc { phys, size, .. } => {
                        self.iova_states.insert(handle.clone());
                        Op::IovaTryAlloc { state: handle, phys, size }
                    }
                    _ => unreachable!("matched above"),
                }
            }
            (op, _) => op,
        };
        self.ops.push(op);
        Ok(())
    }

    /// The atoms of an argument, if it is a single `+` chain (no `|`).
    fn sum_atoms(arg: &Pair<'a, Rule>) -> Option<Vec<Pair<'a, Rule>>> {
        let inner = arg.clone().into_inner().next()?;
        if inner.as_rule() != Rule::flags {
            return None;
        }
        let mut sums = inner.into_inner();
        let sum = sums.next()?;
        if sums.next().is_some() {
            return None;
        }
        Some(sum.into_inner().collect())
    }

    fn num(&self, arg: &Pair<'a, Rule>, what: &str) -> Res<u64> {
        match Self::sum_atoms(arg).as_deref() {
            Some([n]) if n.as_rule() == Rule::number => parse_u64(n),
            _ => err(arg.as_span(), format!("expected {what} (a number)")),
        }
    }

    fn seed(&self, arg: &Pair<'a, Rule>) -> Res<u8> {
        let v = self.num(arg, "a pattern seed")?;
        u8::try_from(v).or_else(|_| err(arg.as_span(), "expected a pattern seed from 0 to 0xff"))
    }

    fn page(&self, arg: &Pair<'a, Rule>) -> Res<PhysAddr> {
        let inner = arg.clone().into_inner().next().unwrap();
        if inner.as_rule() != Rule::page {
            return err(arg.as_span(), "expected page(<page-aligned phys>)");
        }
        let n = inner.into_inner().next().unwrap();
        let v = parse_u64(&n)?;
        if v & (crate::types::PAGE_SIZE - 1) != 0 {
            return err(n.as_span(), "expected a page-aligned physical address (page_to_phys of a struct page)");
        }
        Ok(PhysAddr(v))
    }

    fn dir(&self, arg: &Pair<'a, Rule>) -> Res<DmaDir> {
        const WHAT: &str =
            "expected a direction: DMA_BIDIRECTIONAL, DMA_TO_DEVICE, DMA_FROM_DEVICE, DMA_NONE or a number";
        match Self::sum_atoms(arg).as_deref() {
            Some([s]) if s.as_rule() == Rule::symbol => match DmaDir::from_kernel_name(s.as_str()) {
                Some(d) => Ok(d),
                None => err(s.as_span(), WHAT),
            },
            Some([n]) if n.as_rule() == Rule::number => match u32::try_from(parse_u64(n)?) {
                Ok(v) => Ok(DmaDir(v)),
                Err(_) => err(n.as_span(), "a direction fits in 32 bits"),
            },
            _ => err(arg.as_span(), WHAT),
        }
    }

    fn attrs(&self, arg: &Pair<'a, Rule>) -> Res<DmaAttrs> {
        const WHAT: &str = "expected attributes: 0, or DMA_ATTR_* names and numbers joined with |";
        let inner = arg.clone().into_inner().next().unwrap();
        if inner.as_rule() != Rule::flags {
            return err(arg.as_span(), WHAT);
        }
        let mut v = 0u64;
        for sum in inner.into_inner() {
            let atoms: Vec<_> = sum.clone().into_inner().collect();
            match atoms.as_slice() {
                [s] if s.as_rule() == Rule::symbol => match DmaAttrs::bit_by_name(s.as_str()) {
                    Some(b) => v |= b.0,
                    None => return err(s.as_span(), format!("unknown attribute `{}`; {WHAT}", s.as_str())),
                },
                [n] if n.as_rule() == Rule::number => v |= parse_u64(n)?,
                _ => return err(sum.as_span(), WHAT),
            }
        }
        Ok(DmaAttrs(v))
    }

    fn dma_ref(&self, arg: &Pair<'a, Rule>) -> Res<DmaRef> {
        const WHAT: &str =
            "expected a DMA address: a handle, handle+offset, sg(table, index)+offset, iova(state)+offset or a number";
        let inner = arg.clone().into_inner().next().unwrap();
        match inner.as_rule() {
            Rule::sgref => {
                let mut it = inner.into_inner();
                let t = it.next().unwrap();
                let Some(&n) = self.sg_tables.get(t.as_str()) else {
                    return err(
                        t.as_span(),
                        format!(
                            "unknown scatterlist table `{}`; `{} = sg_alloc_table(n)` first",
                            t.as_str(),
                            t.as_str()
                        ),
                    );
                };
                let i = it.next().unwrap();
                let index = parse_u64(&i)?;
                if index >= n as u64 {
                    return err(i.as_span(), format!("expected an entry index below {n}"));
                }
                let offset = it.next().map(|o| parse_u64(&o)).transpose()?.unwrap_or(0);
                return Ok(DmaRef::Sg { table: t.as_str().to_string(), index: index as u32, offset });
            }
            Rule::iovaref => {
                let mut it = inner.into_inner();
                let h = it.next().unwrap();
                if !self.iova_states.contains(h.as_str()) {
                    return err(
                        h.as_span(),
                        format!(
                            "unknown IOVA state `{}`; `{} = dma_iova_try_alloc(...)` first",
                            h.as_str(),
                            h.as_str()
                        ),
                    );
                }
                let offset = it.next().map(|o| parse_u64(&o)).transpose()?.unwrap_or(0);
                return Ok(DmaRef::Iova { state: h.as_str().to_string(), offset });
            }
            _ => {}
        }
        match Self::sum_atoms(arg).as_deref() {
            Some([n]) if n.as_rule() == Rule::number => Ok(DmaRef::Raw(parse_u64(n)?)),
            Some([h, rest @ ..]) if h.as_rule() == Rule::handle && rest.len() <= 1 => {
                if !self.handles.contains_key(h.as_str()) {
                    return err(
                        h.as_span(),
                        format!("unknown handle `{}`; map it first (`{} = dma_map_phys(...)`)", h.as_str(), h.as_str()),
                    );
                }
                if self.pfn_handles.contains(h.as_str()) {
                    return err(
                        h.as_span(),
                        format!("`{}` names a pfn from the iova allocator, not a DMA address", h.as_str()),
                    );
                }
                let offset = match rest {
                    [n] if n.as_rule() == Rule::number => parse_u64(n)?,
                    [x] => return err(x.as_span(), "expected an offset (a number)"),
                    _ => 0,
                };
                Ok(DmaRef::Handle { name: h.as_str().to_string(), offset })
            }
            _ => err(arg.as_span(), WHAT),
        }
    }
}

/// Entries a scenario's scatterlist may hold (sg_alloc_table() chains beyond 128).
pub const MAX_SG_ENTRIES: u64 = 1024;

impl<'a> Builder<'a> {
    /// A scatterlist table operand: its name and entry count.
    fn sg_table(&self, arg: &Pair<'a, Rule>) -> Res<(String, u32)> {
        match Self::sum_atoms(arg).as_deref() {
            Some([h]) if h.as_rule() == Rule::handle => match self.sg_tables.get(h.as_str()) {
                Some(&n) => Ok((h.as_str().to_string(), n)),
                None => err(
                    h.as_span(),
                    format!("unknown scatterlist table `{}`; `{} = sg_alloc_table(n)` first", h.as_str(), h.as_str()),
                ),
            },
            _ => err(arg.as_span(), "expected a scatterlist table (a name from sg_alloc_table)"),
        }
    }

    /// An entry index of a table of `n` entries.
    fn sg_index(&self, arg: &Pair<'a, Rule>, n: u32) -> Res<u32> {
        let i = self.num(arg, "an entry index")?;
        if i >= n as u64 {
            return err(arg.as_span(), format!("expected an entry index below {n}"));
        }
        Ok(i as u32)
    }

    /// An entry count for a table of `n` entries: for_each_sg() past the last entry follows
    /// a NULL sg_next() in the kernel.
    fn sg_count(&self, arg: &Pair<'a, Rule>, n: u32) -> Res<u32> {
        let c = self.num(arg, "an entry count")?;
        if c > n as u64 {
            return err(
                arg.as_span(),
                format!("expected at most {n} entries: the table has {n} (the kernel would walk off its end)"),
            );
        }
        Ok(c as u32)
    }

    fn u32_arg(&self, arg: &Pair<'a, Rule>, what: &str) -> Res<u32> {
        let v = self.num(arg, what)?;
        u32::try_from(v).or_else(|_| err(arg.as_span(), format!("expected {what}: it fits in 32 bits")))
    }

    /// A two-step IOVA state operand.
    fn iova_state(&self, arg: &Pair<'a, Rule>) -> Res<String> {
        match Self::sum_atoms(arg).as_deref() {
            Some([h]) if h.as_rule() == Rule::handle && self.iova_states.contains(h.as_str()) => {
                Ok(h.as_str().to_string())
            }
            Some([h]) if h.as_rule() == Rule::handle => err(
                h.as_span(),
                format!("unknown IOVA state `{}`; `{} = dma_iova_try_alloc(phys, size)` first", h.as_str(), h.as_str()),
            ),
            _ => err(arg.as_span(), "expected an IOVA state (a name from dma_iova_try_alloc)"),
        }
    }

    /// A pfn operand: an alloc_iova handle (its pfn_lo), handle+offset, or a number.
    fn pfn_ref(&self, arg: &Pair<'a, Rule>) -> Res<DmaRef> {
        match Self::sum_atoms(arg).as_deref() {
            Some([n]) if n.as_rule() == Rule::number => Ok(DmaRef::Raw(parse_u64(n)?)),
            Some([h, rest @ ..]) if h.as_rule() == Rule::handle && rest.len() <= 1 => {
                if !self.pfn_handles.contains(h.as_str()) {
                    return err(
                        h.as_span(),
                        format!(
                            "unknown pfn handle `{}`; allocate it first (`{} = alloc_iova(...)`)",
                            h.as_str(),
                            h.as_str()
                        ),
                    );
                }
                let offset = match rest {
                    [n] if n.as_rule() == Rule::number => parse_u64(n)?,
                    [x] => return err(x.as_span(), "expected an offset (a number)"),
                    _ => 0,
                };
                Ok(DmaRef::Handle { name: h.as_str().to_string(), offset })
            }
            _ => err(arg.as_span(), "expected a pfn: an alloc_iova handle, handle+offset, or a number"),
        }
    }

    /// `true` or `false` (C's bool arguments).
    fn boolean(&self, arg: &Pair<'a, Rule>) -> Res<bool> {
        match Self::sum_atoms(arg).as_deref() {
            Some([h]) if h.as_str() == "true" => Ok(true),
            Some([h]) if h.as_str() == "false" => Ok(false),
            _ => err(arg.as_span(), "expected true or false"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "\
# comment line
platform arch=arm64 dma_api_debug=no
device name=0000:01:00.0 driver=nvme dma_mask=0xffffffff bus_dma_limit=0 coherent=no
ram start=0x80000000 size=0x100000
mmio start=0x40000000 size=0x10000
dma_range cpu_start=0x80000000 dma_start=0x0 size=0x100000
h0 = dma_map_phys(0x80001000, 0x100, DMA_TO_DEVICE, DMA_ATTR_SKIP_CPU_SYNC|DMA_ATTR_NO_WARN)  # trailing
h1 = dma_map_page_attrs(page(0x80002000), 0x10, 0x40, DMA_FROM_DEVICE, 0)
dma_sync_single_for_cpu(h1+0x8, 0x8, DMA_FROM_DEVICE)
dma_unmap_phys(h0)
dma_unmap_resource(0x40000000, 0x10, 7, 0x800)
cpu_write(0x80001000, 0x10, 0xaa)
dev_read(h1, 0x40)
";

    #[test]
    fn parses_every_form() {
        let s = parse_str(OK, "t.scn").unwrap();
        assert!(!s.config.device.coherent);
        assert_eq!(s.config.device.name, "0000:01:00.0");
        assert_eq!(s.config.dma_ranges.len(), 1);
        assert_eq!(s.ops.len(), 7);
        match &s.ops[0] {
            Op::Map { handle, attrs, .. } => {
                assert_eq!(handle, "h0");
                assert_eq!(*attrs, DmaAttrs::SKIP_CPU_SYNC | DmaAttrs::NO_WARN);
            }
            o => panic!("{o:?}"),
        }
        match &s.ops[4] {
            Op::Unmap { args, .. } => {
                assert_eq!(args.dir, Some(DmaDir(7)));
                assert_eq!(args.attrs, Some(DmaAttrs(0x800)));
            }
            o => panic!("{o:?}"),
        }
    }

    fn error_of(text: &str) -> ParseError {
        parse_str(text, "bad.scn").unwrap_err()
    }

    #[test]
    fn errors_name_file_line_column_and_expectation() {
        let e = error_of("ram start=0x0 size=0x1000\nh0 = dma_map_phys(0x0, 0x10, DMA_SIDEWAYS, 0)\n");
        assert_eq!((e.line, e.col), (2, 30));
        assert!(e.message.starts_with("expected a direction"), "{}", e.message);
        assert!(e.to_string().starts_with("bad.scn:2:30: error:"), "{e}");

        let e = error_of("ram start=0x0 size=0x1000\ndma_unmap_phys(h9)\n");
        assert_eq!((e.line, e.col), (2, 16));
        assert!(e.message.contains("unknown handle `h9`"));

        let e = error_of("device dma_mask=0xffffffff colour=blue\n");
        assert_eq!((e.line, e.col), (1, 28));
        assert!(e.message.contains("unknown key `colour`"));

        let e = error_of("h0 = dma_map_phys(0x0, 0x10 DMA_TO_DEVICE, 0)\n");
        assert_eq!(e.line, 1);
        assert!(e.message.starts_with("expected"), "{}", e.message);

        let e = error_of("h0 = dma_map_page_attrs(page(0x80000010), 0, 0x10, DMA_TO_DEVICE, 0)\n");
        assert!(e.message.contains("page-aligned"));

        let e = error_of("platform arch=x86_64\ndevice coherent=no\n");
        assert_eq!(e.line, 2);

        let e = error_of("ram start=0x0 size=0x1000\nram start=0x800 size=0x1000\n");
        assert!(e.message.contains("overlaps"));

        let e = error_of(
            "h0 = dma_map_phys(0x0, 0x10, DMA_TO_DEVICE, 0)\nh0 = dma_map_phys(0x0, 0x10, DMA_TO_DEVICE, 0)\n",
        );
        assert!(e.message.contains("already defined on line 1"));

        let e = error_of("dma_unmap_phys(0x1000)\n");
        assert!(e.message.contains("raw address needs size, dir and attrs"));
    }
}
