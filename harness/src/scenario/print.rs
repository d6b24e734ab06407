//! [`Scenario`] to text, in the canonical form [`super::parse_str`] reads back.

use std::fmt;

use super::*;

impl fmt::Display for DmaRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DmaRef::Handle { name, offset: 0 } => f.write_str(name),
            DmaRef::Handle { name, offset } => write!(f, "{name}+{offset:#x}"),
            DmaRef::Raw(a) => write!(f, "{a:#x}"),
            DmaRef::Sg { table, index, offset: 0 } => write!(f, "sg({table}, {index})"),
            DmaRef::Sg { table, index, offset } => write!(f, "sg({table}, {index})+{offset:#x}"),
            DmaRef::Iova { state, offset: 0 } => write!(f, "iova({state})"),
            DmaRef::Iova { state, offset } => write!(f, "iova({state})+{offset:#x}"),
        }
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "platform arch={} dma_api_debug={} cpus={}",
            self.arch.name(),
            yes_no(self.dma_api_debug),
            self.nr_cpus
        )?;
        if let Some(n) = self.dma_debug_entries {
            write!(f, " dma_debug_entries={n}")?;
        }
        writeln!(f)?;
        let d = &self.device;
        let mask = match d.dma_mask {
            Some(m) => format!("{m:#x}"),
            None => "none".into(),
        };
        write!(
            f,
            "device name={} driver={} dma_mask={mask} bus_dma_limit={:#x} coherent={}",
            d.name,
            d.driver,
            d.bus_dma_limit,
            yes_no(d.coherent)
        )?;
        if d.pci {
            f.write_str(" pci=yes")?;
        }
        if d.untrusted {
            f.write_str(" untrusted=yes")?;
        }
        match d.dma_parms {
            None => writeln!(f, " dma_parms=no")?,
            Some(p) => writeln!(
                f,
                " min_align_mask={:#x} seg_boundary_mask={:#x} max_segment_size={:#x}",
                p.min_align_mask, p.seg_boundary_mask, p.max_segment_size
            )?,
        }
        if let Some(i) = &self.iommu {
            let domain = match i.domain {
                IommuDomainType::Identity => "identity",
                IommuDomainType::Dma => "dma",
                IommuDomainType::DmaFq => "dma-fq",
            };
            write!(
                f,
                "iommu domain={domain} pgsize_bitmap={:#x} aperture_start={:#x} aperture_end={:#x} force_aperture={}",
                i.pgsize_bitmap,
                i.aperture_start,
                i.aperture_end,
                yes_no(i.force_aperture)
            )?;
            writeln!(
                f,
                " deferred_flush={} shadow_on_flush={} forcedac={}",
                yes_no(i.deferred_flush),
                yes_no(i.shadow_on_flush),
                yes_no(i.forcedac)
            )?;
            for r in &i.resv {
                writeln!(f, "iommu_resv start={:#x} length={:#x} type={}", r.start, r.length, resv_type_name(r.kind))?;
            }
            for w in &i.pci_windows {
                writeln!(f, "pci_window start={:#x} end={:#x} offset={:#x}", w.start, w.end, w.offset)?;
            }
        }
        if let Some(sw) = &self.swiotlb {
            let mode = match sw.mode {
                SwiotlbMode::Off => "off",
                SwiotlbMode::On => "on",
                SwiotlbMode::Force => "force",
                SwiotlbMode::Restricted => "restricted",
            };
            write!(f, "swiotlb mode={mode} start={:#x}", sw.start.0)?;
            if let Some(n) = sw.nslabs {
                write!(f, " nslabs={n:#x}")?;
            }
            if let Some(n) = sw.nareas {
                write!(f, " nareas={n}")?;
            }
            writeln!(f)?;
        }
        for r in &self.ram {
            writeln!(f, "ram start={:#x} size={:#x}", r.start.0, r.size)?;
        }
        for r in &self.mmio {
            writeln!(f, "mmio start={:#x} size={:#x}", r.start.0, r.size)?;
        }
        for a in &self.kernel_areas {
            writeln!(f, "{} start={:#x} size={:#x}", a.kind.keyword(), a.start, a.size)?;
        }
        for r in &self.dma_ranges {
            writeln!(f, "dma_range cpu_start={:#x} dma_start={:#x} size={:#x}", r.cpu_start.0, r.dma_start, r.size)?;
        }
        for p in &self.p2p {
            writeln!(
                f,
                "p2p start={:#x} size={:#x} bus_start={:#x} route={}",
                p.start.0,
                p.size,
                p.bus_start,
                p2p_route_name(p.route)
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.func_name();
        match self {
            Op::Map { handle, kind: MapKind::PageAttrs, phys, offset, size, dir, attrs } => {
                write!(f, "{handle} = {name}(page({:#x}), {offset:#x}, {size:#x}, {dir}, {attrs})", phys.0)
            }
            Op::Map { handle, phys, size, dir, attrs, .. } => {
                write!(f, "{handle} = {name}({:#x}, {size:#x}, {dir}, {attrs})", phys.0)
            }
            Op::Unmap { args, .. } => {
                write!(f, "{name}({}", args.addr)?;
                if let Some(s) = args.size {
                    write!(f, ", {s:#x}")?;
                }
                if let Some(d) = args.dir {
                    write!(f, ", {d}")?;
                }
                if let Some(a) = args.attrs {
                    write!(f, ", {a}")?;
                }
                f.write_str(")")
            }
            Op::SyncForCpu(a) | Op::SyncForDevice(a) | Op::TblSyncForCpu(a) | Op::TblSyncForDevice(a) => {
                write!(f, "{name}({}", a.addr)?;
                if let Some(s) = a.size {
                    write!(f, ", {s:#x}")?;
                }
                if let Some(d) = a.dir {
                    write!(f, ", {d}")?;
                }
                f.write_str(")")
            }
            Op::MappingError(a) => write!(f, "{name}({a})"),
            Op::CpuWrite { phys, size, seed } => write!(f, "{name}({:#x}, {size:#x}, {seed:#x})", phys.0),
            Op::CpuRead { phys, size } => write!(f, "{name}({:#x}, {size:#x})", phys.0),
            Op::DevWrite { addr, size, seed } => write!(f, "{name}({addr}, {size:#x}, {seed:#x})"),
            Op::DevRead { addr, size } => write!(f, "{name}({addr}, {size:#x})"),
            Op::TblMap { handle, orig, size, alloc_align_mask, dir, attrs } => {
                write!(f, "{handle} = {name}({:#x}, {size:#x}, {alloc_align_mask:#x}, {dir}, {attrs})", orig.0)
            }
            Op::SetMinAlignMask(m) => write!(f, "{name}({m:#x})"),
            Op::SetSegBoundary(m) => write!(f, "{name}({m:#x})"),
            Op::RunOnCpu(c) => write!(f, "{name}({c})"),
            Op::Query(Query::DmaKmallocNeedsBounce { size, dir }) => write!(f, "{name}({size:#x}, {dir})"),
            Op::Query(_) => write!(f, "{name}()"),
            Op::IovaInit { granule, start_pfn } => write!(f, "{name}({granule:#x}, {start_pfn:#x})"),
            Op::AllocIova { handle, size, limit_pfn, size_aligned: b }
            | Op::AllocIovaFast { handle, size, limit_pfn, flush_rcache: b } => {
                write!(f, "{handle} = {name}({size:#x}, {limit_pfn:#x}, {b})")
            }
            Op::FreeIova(p) | Op::FindIova(p) => write!(f, "{name}({p})"),
            Op::FreeIovaFast { pfn, size } => write!(f, "{name}({pfn}, {size:#x})"),
            Op::ReserveIova { pfn_lo, pfn_hi } => write!(f, "{name}({pfn_lo:#x}, {pfn_hi:#x})"),
            Op::FreeCpuCachedIovas(c) => write!(f, "{name}({c})"),
            Op::IovaDepotWork | Op::FqFlushTimeout | Op::DeviceReleaseDriver => write!(f, "{name}()"),
            Op::SgAllocTable { table, nents } => write!(f, "{table} = {name}({nents})"),
            Op::SgSetPage { table, index, page, len, offset } => {
                write!(f, "{name}({table}, {index}, page({:#x}), {len:#x}, {offset:#x})", page.0)
            }
            Op::SgChain { table, index } => write!(f, "{name}({table}, {index})"),
            Op::MapSg { table, nents: Some(n), dir, attrs } => write!(f, "{name}({table}, {n}, {dir}, {attrs})"),
            Op::MapSg { table, nents: None, dir, attrs } => write!(f, "{name}({table}, {dir}, {attrs})"),
            Op::UnmapSg { table, sgtable, nents, dir, attrs } => {
                write!(f, "{name}({table}")?;
                if let (false, Some(n)) = (sgtable, nents) {
                    write!(f, ", {n}")?;
                }
                if let Some(d) = dir {
                    write!(f, ", {d}")?;
                }
                if let Some(a) = attrs {
                    write!(f, ", {a}")?;
                }
                f.write_str(")")
            }
            Op::SyncSg { table, nelems, dir, .. } => {
                write!(f, "{name}({table}")?;
                if let Some(n) = nelems {
                    write!(f, ", {n}")?;
                }
                if let Some(d) = dir {
                    write!(f, ", {d}")?;
                }
                f.write_str(")")
            }
            Op::IovaTryAlloc { state, phys, size } => write!(f, "{state} = {name}({:#x}, {size:#x})", phys.0),
            Op::IovaLink { state, phys, offset, size, dir, attrs } => {
                write!(f, "{name}({state}, {:#x}, {offset:#x}, {size:#x}, {dir}, {attrs})", phys.0)
            }
            Op::IovaSync { state, offset, size } => write!(f, "{name}({state}, {offset:#x}, {size:#x})"),
            Op::IovaUnlink { state, offset, size, dir, attrs } => {
                write!(f, "{name}({state}, {offset:#x}, {size:#x}, {dir}, {attrs})")
            }
            Op::IovaDestroy { state, mapped_len, dir, attrs } => {
                write!(f, "{name}({state}, {mapped_len:#x}, {dir}, {attrs})")
            }
            Op::IovaFree { state } => write!(f, "{name}({state})"),
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.config)?;
        if let Some(id) = &self.expect {
            writeln!(f, "expect divergence={id}")?;
        }
        for c in &self.expect_debug {
            writeln!(f, "expect dma_debug={c}")?;
        }
        for op in &self.ops {
            writeln!(f, "{op}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_str;

    #[test]
    fn round_trip_of_a_hand_written_file() {
        let text = "\
device dma_mask=none coherent=no
ram start=0x80000000 size=0x10000
h0 = dma_map_page_attrs(page(0x80001000), 0x1010, 0x20, DMA_NONE, DMA_ATTR_MMIO|0x1000)
dma_sync_single_for_device(h0+0x10)
dma_unmap_page_attrs(h0, 0x20)
dev_write(0xdead0000, 0x4, 0xff)
";
        let s = parse_str(text, "t").unwrap();
        let printed = s.to_string();
        let again = parse_str(&printed, "printed").unwrap();
        assert_eq!(s, again);
        assert_eq!(printed, again.to_string());
        assert!(printed.contains("dma_unmap_page_attrs(h0, 0x20)\n"));
    }
}
