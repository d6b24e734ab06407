//! Safe wrapper around the legacy (v6.16, page-based) C model of the streaming DMA API.
//!
//! The C code reaches the outside world only through [`Hooks`]; the harness implements it
//! on its mock platform, so the C model and the Rust physical-address mapper produce their
//! platform effects through the same code.

#![allow(non_camel_case_types, non_upper_case_globals, non_snake_case, dead_code)]

mod ffi {
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

use std::ffi::{c_char, c_void, CStr, CString};

/// How a printk-class report was raised (mirrors `enum dmadiff_report_kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReportKind {
    /// `WARN_ON_ONCE(cond)`: the text is the condition.
    WarnOn,
    /// `dev_WARN_ONCE(dev, 1, fmt, ...)`.
    DevWarn,
    /// `dev_err()` / `dev_err_once()`.
    DevErr,
    /// `BUG_ON(cond)`: the call never returns.
    Bug,
}

impl ReportKind {
    fn from_raw(kind: i32) -> Self {
        match kind as u32 {
            ffi::DMADIFF_REPORT_WARN_ON => ReportKind::WarnOn,
            ffi::DMADIFF_REPORT_DEV_WARN => ReportKind::DevWarn,
            ffi::DMADIFF_REPORT_DEV_ERR => ReportKind::DevErr,
            _ => ReportKind::Bug,
        }
    }
}

/// The platform services the C model calls out to. Raw integers: this is the FFI boundary.
pub trait Hooks {
    /// models arch_sync_dma_for_device()
    fn arch_sync_dma_for_device(&mut self, paddr: u64, size: u64, dir: u32);
    /// models arch_sync_dma_for_cpu()
    fn arch_sync_dma_for_cpu(&mut self, paddr: u64, size: u64, dir: u32);
    /// models arch_sync_dma_for_cpu_all()
    fn arch_sync_dma_for_cpu_all(&mut self);
    /// models arch_dma_mark_clean()
    fn arch_dma_mark_clean(&mut self, paddr: u64, size: u64);
    /// models pfn_valid()
    fn pfn_valid(&mut self, pfn: u64) -> bool;
    /// models is_pci_p2pdma_page() on pfn_to_page(pfn)
    fn is_pci_p2pdma_page(&mut self, pfn: u64) -> bool;
    /// A `dma_map` class tracepoint (dma_map_page, dma_map_resource).
    fn trace_dma_map(&mut self, event: &str, phys: u64, dma: u64, size: u64, dir: u32, attrs: u64);
    /// A `dma_unmap` class tracepoint (dma_unmap_page, dma_unmap_resource).
    fn trace_dma_unmap(&mut self, event: &str, addr: u64, size: u64, dir: u32, attrs: u64);
    /// A `dma_sync_single` class tracepoint.
    fn trace_dma_sync_single(&mut self, event: &str, addr: u64, size: u64, dir: u32);
    /// A WARN, dev_err or BUG report.
    fn report(&mut self, kind: ReportKind, func: &str, text: &str);
}

/// One entry of a device's dma_range_map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusDmaRegion {
    pub cpu_start: u64,
    pub dma_start: u64,
    pub size: u64,
}

/// The device and kernel configuration the C model runs under.
#[derive(Clone, Debug)]
pub struct DeviceConfig {
    pub name: String,
    pub driver: String,
    pub dma_mask: Option<u64>,
    pub bus_dma_limit: u64,
    pub dma_coherent: bool,
    pub dma_range_map: Vec<BusDmaRegion>,
    pub dma_bounce_unaligned_kmalloc: bool,
    pub arch_dma_minalign: u32,
    pub dma_api_debug: bool,
}

/// A call into the legacy model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// dma_map_page_attrs(page_to_phys(page), offset, size, dir, attrs)
    MapPageAttrs { page_phys: u64, offset: u64, size: u64, dir: u32, attrs: u64 },
    /// dma_unmap_page_attrs(addr, size, dir, attrs)
    UnmapPageAttrs { addr: u64, size: u64, dir: u32, attrs: u64 },
    /// dma_map_resource(phys, size, dir, attrs)
    MapResource { phys: u64, size: u64, dir: u32, attrs: u64 },
    /// dma_unmap_resource(addr, size, dir, attrs)
    UnmapResource { addr: u64, size: u64, dir: u32, attrs: u64 },
    /// A dma_map_phys() request as a v6.16 driver had to express it.
    MapPhys { phys: u64, size: u64, dir: u32, attrs: u64 },
    /// A dma_unmap_phys() request as a v6.16 driver had to express it.
    UnmapPhys { addr: u64, size: u64, dir: u32, attrs: u64 },
    /// dma_sync_single_for_cpu(addr, size, dir)
    SyncSingleForCpu { addr: u64, size: u64, dir: u32 },
    /// dma_sync_single_for_device(addr, size, dir)
    SyncSingleForDevice { addr: u64, size: u64, dir: u32 },
    /// dma_mapping_error(addr)
    MappingError { addr: u64 },
}

impl Call {
    fn to_raw(self) -> ffi::dmadiff_call {
        let z = ffi::dmadiff_call { kind: 0, dir: 0, addr: 0, offset: 0, size: 0, attrs: 0 };
        let (kind, c) = match self {
            Call::MapPageAttrs { page_phys, offset, size, dir, attrs } => (
                ffi::DMADIFF_CALL_MAP_PAGE_ATTRS,
                ffi::dmadiff_call { addr: page_phys, offset, size, dir: dir as i32, attrs, ..z },
            ),
            Call::UnmapPageAttrs { addr, size, dir, attrs } => {
                (ffi::DMADIFF_CALL_UNMAP_PAGE_ATTRS, ffi::dmadiff_call { addr, size, dir: dir as i32, attrs, ..z })
            }
            Call::MapResource { phys, size, dir, attrs } => {
                (ffi::DMADIFF_CALL_MAP_RESOURCE, ffi::dmadiff_call { addr: phys, size, dir: dir as i32, attrs, ..z })
            }
            Call::UnmapResource { addr, size, dir, attrs } => {
                (ffi::DMADIFF_CALL_UNMAP_RESOURCE, ffi::dmadiff_call { addr, size, dir: dir as i32, attrs, ..z })
            }
            Call::MapPhys { phys, size, dir, attrs } => {
                (ffi::DMADIFF_CALL_MAP_PHYS, ffi::dmadiff_call { addr: phys, size, dir: dir as i32, attrs, ..z })
            }
            Call::UnmapPhys { addr, size, dir, attrs } => {
                (ffi::DMADIFF_CALL_UNMAP_PHYS, ffi::dmadiff_call { addr, size, dir: dir as i32, attrs, ..z })
            }
            Call::SyncSingleForCpu { addr, size, dir } => {
                (ffi::DMADIFF_CALL_SYNC_SINGLE_FOR_CPU, ffi::dmadiff_call { addr, size, dir: dir as i32, ..z })
            }
            Call::SyncSingleForDevice { addr, size, dir } => {
                (ffi::DMADIFF_CALL_SYNC_SINGLE_FOR_DEVICE, ffi::dmadiff_call { addr, size, dir: dir as i32, ..z })
            }
            Call::MappingError { addr } => (ffi::DMADIFF_CALL_MAPPING_ERROR, ffi::dmadiff_call { addr, ..z }),
        };
        ffi::dmadiff_call { kind: kind as i32, ..c }
    }
}

/// What a call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallResult {
    /// The call returned this value (dma_addr_t, or an int widened to 64 bits; 0 for void).
    Returned(u64),
    /// The call hit BUG(); the context is dead.
    Bug,
}

/// A live instance of the legacy model: one device, one boot.
pub struct LegacyModel {
    ctx: *mut ffi::dmadiff_ctx,
    dead: bool,
}

// SAFETY: the context is owned exclusively and holds no thread-affine state.
unsafe impl Send for LegacyModel {}

impl LegacyModel {
    /// Boots a fresh model for `cfg`.
    pub fn new(cfg: &DeviceConfig) -> Self {
        let name = CString::new(cfg.name.as_str()).expect("device name has a NUL");
        let driver = CString::new(cfg.driver.as_str()).expect("driver name has a NUL");
        let ranges: Vec<ffi::dmadiff_bus_dma_region> = cfg
            .dma_range_map
            .iter()
            .map(|r| ffi::dmadiff_bus_dma_region { cpu_start: r.cpu_start, dma_start: r.dma_start, size: r.size })
            .collect();
        let raw = ffi::dmadiff_device_config {
            name: name.as_ptr(),
            driver: driver.as_ptr(),
            has_dma_mask: cfg.dma_mask.is_some(),
            dma_mask: cfg.dma_mask.unwrap_or(0),
            bus_dma_limit: cfg.bus_dma_limit,
            dma_coherent: cfg.dma_coherent,
            dma_range_map: if ranges.is_empty() { std::ptr::null() } else { ranges.as_ptr() },
            nr_dma_ranges: ranges.len() as u64,
            dma_bounce_unaligned_kmalloc: cfg.dma_bounce_unaligned_kmalloc,
            arch_dma_minalign: cfg.arch_dma_minalign,
            dma_api_debug: cfg.dma_api_debug,
        };
        // SAFETY: raw and everything it points to outlive the call; the C side copies them.
        let ctx = unsafe { ffi::dmadiff_ctx_new(&raw) };
        assert!(!ctx.is_null(), "dmadiff_ctx_new failed");
        LegacyModel { ctx, dead: false }
    }

    /// True once a call hit BUG(): a real kernel would not run anything after it.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// Runs one call with `hooks` as the platform.
    pub fn call(&mut self, hooks: &mut dyn Hooks, call: Call) -> CallResult {
        assert!(!self.dead, "call into a legacy model that already hit BUG()");
        let mut hooks_ref: &mut dyn Hooks = hooks;
        let ops = ffi::dmadiff_platform_ops {
            priv_: (&mut hooks_ref) as *mut &mut dyn Hooks as *mut c_void,
            arch_sync_dma_for_device: Some(tr_arch_sync_dma_for_device),
            arch_sync_dma_for_cpu: Some(tr_arch_sync_dma_for_cpu),
            arch_sync_dma_for_cpu_all: Some(tr_arch_sync_dma_for_cpu_all),
            arch_dma_mark_clean: Some(tr_arch_dma_mark_clean),
            pfn_valid: Some(tr_pfn_valid),
            is_pci_p2pdma_page: Some(tr_is_pci_p2pdma_page),
            trace_dma_map: Some(tr_trace_dma_map),
            trace_dma_unmap: Some(tr_trace_dma_unmap),
            trace_dma_sync_single: Some(tr_trace_dma_sync_single),
            report: Some(tr_report),
        };
        let raw = call.to_raw();
        let mut ret = 0u64;
        // SAFETY: ctx is live; ops.priv_ points at hooks_ref, which outlives the call.
        let bugged = unsafe { ffi::dmadiff_call(self.ctx, &ops, &raw, &mut ret) };
        if bugged != 0 {
            self.dead = true;
            CallResult::Bug
        } else {
            CallResult::Returned(ret)
        }
    }
}

impl Drop for LegacyModel {
    fn drop(&mut self) {
        // SAFETY: ctx came from dmadiff_ctx_new and is freed once.
        unsafe { ffi::dmadiff_ctx_free(self.ctx) }
    }
}

/// Recovers the hooks from the `priv` pointer the C side hands back.
///
/// # Safety
/// `p` must be the `priv_` of the ops table built in [`LegacyModel::call`].
unsafe fn hooks<'a>(p: *mut c_void) -> &'a mut dyn Hooks {
    &mut **(p as *mut &mut dyn Hooks)
}

/// # Safety
/// `s` must be NULL or a NUL-terminated string.
unsafe fn text<'a>(s: *const c_char) -> &'a str {
    if s.is_null() {
        ""
    } else {
        CStr::from_ptr(s).to_str().unwrap_or("<invalid utf-8>")
    }
}

unsafe extern "C" fn tr_arch_sync_dma_for_device(p: *mut c_void, paddr: u64, size: u64, dir: i32) {
    hooks(p).arch_sync_dma_for_device(paddr, size, dir as u32)
}
unsafe extern "C" fn tr_arch_sync_dma_for_cpu(p: *mut c_void, paddr: u64, size: u64, dir: i32) {
    hooks(p).arch_sync_dma_for_cpu(paddr, size, dir as u32)
}
unsafe extern "C" fn tr_arch_sync_dma_for_cpu_all(p: *mut c_void) {
    hooks(p).arch_sync_dma_for_cpu_all()
}
unsafe extern "C" fn tr_arch_dma_mark_clean(p: *mut c_void, paddr: u64, size: u64) {
    hooks(p).arch_dma_mark_clean(paddr, size)
}
unsafe extern "C" fn tr_pfn_valid(p: *mut c_void, pfn: u64) -> bool {
    hooks(p).pfn_valid(pfn)
}
unsafe extern "C" fn tr_is_pci_p2pdma_page(p: *mut c_void, pfn: u64) -> bool {
    hooks(p).is_pci_p2pdma_page(pfn)
}
unsafe extern "C" fn tr_trace_dma_map(
    p: *mut c_void,
    event: *const c_char,
    phys: u64,
    dma: u64,
    size: u64,
    dir: i32,
    attrs: u64,
) {
    hooks(p).trace_dma_map(text(event), phys, dma, size, dir as u32, attrs)
}
unsafe extern "C" fn tr_trace_dma_unmap(
    p: *mut c_void,
    event: *const c_char,
    addr: u64,
    size: u64,
    dir: i32,
    attrs: u64,
) {
    hooks(p).trace_dma_unmap(text(event), addr, size, dir as u32, attrs)
}
unsafe extern "C" fn tr_trace_dma_sync_single(p: *mut c_void, event: *const c_char, addr: u64, size: u64, dir: i32) {
    hooks(p).trace_dma_sync_single(text(event), addr, size, dir as u32)
}
unsafe extern "C" fn tr_report(p: *mut c_void, kind: i32, func: *const c_char, msg: *const c_char) {
    hooks(p).report(ReportKind::from_raw(kind), text(func), text(msg))
}
