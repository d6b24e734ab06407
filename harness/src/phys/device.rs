//! `struct device` as the DMA core sees it, plus the once-flags and BUG() of one boot.

use std::collections::HashSet;

use std::collections::HashMap;

use super::dma_iommu::{iommu_setup_dma_ops, DevIommu, IommuDomain};
use super::swiotlb::{swiotlb_init, IoTlbMem, RATELIMIT_BURST};
use crate::platform::trace::ReportKind;
use crate::platform::Platform;
use crate::scenario::{Config, DmaRange};

/// The call hit BUG(): a real kernel would oops, so nothing runs after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bug;

pub type KResult<T> = Result<T, Bug>;

/// The device and the kernel configuration of one boot.
pub struct Device {
    pub name: String,
    pub driver: String,
    /// `dev->dma_mask`: None is a NULL pointer.
    pub dma_mask: Option<u64>,
    pub bus_dma_limit: u64,
    /// The dma_range_map, in table order (the kernel ends it with a size-0 entry).
    pub dma_range_map: Vec<DmaRange>,
    pub dma_coherent: bool,
    /// dev->dma_skip_sync, set up by dma_setup_need_sync().
    pub dma_skip_sync: bool,
    /// CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC
    pub dma_bounce_unaligned_kmalloc: bool,
    /// ARCH_DMA_MINALIGN
    pub arch_dma_minalign: u64,
    /// CONFIG_DMA_API_DEBUG
    pub dma_api_debug: bool,
    /// dev->dma_parms (struct device_dma_parameters), if the bus provides one.
    pub dma_parms: Option<DmaParms>,
    /// dev->dma_io_tlb_mem, when swiotlb was allocated.
    pub swiotlb: Option<IoTlbMem>,
    /// raw_smp_processor_id() of the calling context.
    pub cpu: u32,
    /// num_possible_cpus() (== num_online_cpus(): no hotplug).
    pub nr_cpus: u32,
    /// dev_is_pci()
    pub is_pci: bool,
    /// to_pci_dev(dev)->untrusted
    pub untrusted: bool,
    /// dev->dma_iommu: use_dma_iommu(), set by iommu_setup_dma_ops().
    pub dma_iommu: bool,
    /// The default domain of the device's group, when an IOMMU sits in front of it.
    pub iommu_domain: Option<IommuDomain>,
    /// dev->iommu
    pub iommu: Option<DevIommu>,
    /// Call sites whose *_ONCE report already fired.
    once: HashSet<&'static str>,
    /// Messages printed per ratelimited call site.
    ratelimit: HashMap<&'static str, u32>,
}

/// struct device_dma_parameters
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaParms {
    /// 0: unset (dma_get_max_seg_size() gives SZ_64K).
    pub max_segment_size: u32,
    pub min_align_mask: u32,
    /// 0: unset (dma_get_seg_boundary() gives ULONG_MAX).
    pub segment_boundary_mask: u64,
}

impl Device {
    /// Boots the device: swiotlb is set up on `plat` as the kernel would at boot.
    pub fn new(cfg: &Config, plat: &mut Platform) -> Self {
        let d = &cfg.device;
        let mut dev = Device {
            name: d.name.clone(),
            driver: d.driver.clone(),
            dma_mask: d.dma_mask,
            bus_dma_limit: d.bus_dma_limit,
            dma_range_map: cfg.dma_ranges.clone(),
            dma_coherent: d.coherent,
            dma_skip_sync: false,
            dma_bounce_unaligned_kmalloc: cfg.arch.dma_bounce_unaligned_kmalloc(),
            arch_dma_minalign: cfg.arch.arch_dma_minalign() as u64,
            dma_api_debug: cfg.dma_api_debug,
            dma_parms: d.dma_parms.map(|p| DmaParms {
                max_segment_size: p.max_segment_size,
                min_align_mask: p.min_align_mask,
                segment_boundary_mask: p.seg_boundary_mask,
            }),
            swiotlb: None,
            cpu: 0,
            nr_cpus: cfg.nr_cpus,
            is_pci: d.pci,
            untrusted: d.untrusted,
            dma_iommu: false,
            iommu_domain: None,
            iommu: None,
            once: HashSet::new(),
            ratelimit: HashMap::new(),
        };
        dev.swiotlb = cfg.swiotlb.and_then(|s| swiotlb_init(plat, &s, cfg.nr_cpus));
        // probe: the IOMMU core attaches the default domain, then the driver sets its mask
        if let Some(iommu) = &cfg.iommu {
            iommu_setup_dma_ops(&mut dev, plat, iommu);
        }
        crate::phys::mapping::dma_setup_need_sync(&mut dev);
        dev
    }

    /// True the first time `site` asks: the *_ONCE macros.
    fn first_time(&mut self, site: &'static str) -> bool {
        self.once.insert(site)
    }

    /// models WARN_ON_ONCE(cond) for a condition known to be true; returns true.
    pub fn warn_on_once(&mut self, plat: &mut Platform, site: &'static str, func: &str, cond: &str) -> bool {
        if self.first_time(site) {
            plat.report(ReportKind::WarnOn, func, cond);
        }
        true
    }

    /// models dev_WARN_ONCE(dev, 1, fmt, ...)
    pub fn dev_warn_once(&mut self, plat: &mut Platform, site: &'static str, func: &str, msg: &str) {
        if self.first_time(site) {
            let text = format!("{} {}: {}", self.driver, self.name, msg);
            plat.report(ReportKind::DevWarn, func, &text);
        }
    }

    /// models dev_warn_ratelimited(): DEFAULT_RATELIMIT_BURST messages per call site, as no
    /// time passes within a scenario.
    pub fn dev_warn_ratelimited(&mut self, plat: &mut Platform, site: &'static str, func: &str, msg: &str) {
        let n = self.ratelimit.entry(site).or_insert(0);
        if *n < RATELIMIT_BURST {
            *n += 1;
            let text = format!("{} {}: {}", self.driver, self.name, msg);
            plat.report(ReportKind::DevWarning, func, &text);
        }
    }

    /// models dev_err()/dev_warn()/dev_notice() (`kind` says which class): "driver name: msg".
    pub fn dev_report(&mut self, plat: &mut Platform, kind: ReportKind, func: &str, msg: &str) {
        let text = format!("{} {}: {}", self.driver, self.name, msg);
        plat.report(kind, func, &text);
    }

    /// models dev_err_once()/dev_warn_once(): dev_report() the first time `site` asks.
    pub fn dev_report_once(
        &mut self,
        plat: &mut Platform,
        site: &'static str,
        kind: ReportKind,
        func: &str,
        msg: &str,
    ) {
        if self.first_time(site) {
            self.dev_report(plat, kind, func, msg);
        }
    }

    /// models WARN_ON(cond) (not once) for a condition known to be true; returns true.
    pub fn warn_on(&mut self, plat: &mut Platform, func: &str, cond: &str) -> bool {
        plat.report(ReportKind::WarnOnAlways, func, cond);
        true
    }

    /// How many entries for_each_sg() over `nents` visits in a list of `len`: past its end
    /// sg_next() is NULL and the kernel oopses (the parser never asks for that).
    pub fn sg_entries(&self, plat: &mut Platform, len: usize, nents: u32, func: &str) -> KResult<usize> {
        let n = nents as usize;
        if n > len {
            return Err(self.bug(plat, func, "sg_next() returned NULL inside for_each_sg()"));
        }
        Ok(n)
    }

    /// models BUG_ON(cond) for a condition known to be true.
    pub fn bug(&self, plat: &mut Platform, func: &str, cond: &str) -> Bug {
        plat.report(ReportKind::Bug, func, cond);
        Bug
    }
}

/// models printk's %pad: "0x" and 16 zero-padded hex digits (sizeof(dma_addr_t) == 8).
pub fn fmt_pad(addr: u64) -> String {
    format!("{addr:#018x}")
}
