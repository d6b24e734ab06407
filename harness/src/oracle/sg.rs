//! The scatterlist invariant: after a successful map, the DMA segments, read in order,
//! describe the same bytes as the CPU entries, in order; a peer-to-peer bus segment names
//! its entry's bus address; merged segments respect the device's limits.

use crate::platform::Platform;
use crate::scatterlist::Scatterlist;
use crate::scenario::P2pdmaMapType;
use crate::types::{DmaAddr, PhysAddr, PAGE_SHIFT};

/// What a list was mapped against: the swiotlb pool (landings there are bounce buffers,
/// judged elsewhere) and the device's segment limits at map time.
pub struct SgLimits {
    pub pool: Option<(u64, u64)>,
    /// dma_get_max_seg_size()
    pub max_seg: u32,
    /// dma_get_seg_boundary()
    pub boundary: u64,
}

/// Checks a list `before` (the CPU entries as the driver set them) mapped into `after`
/// (`count` DMA segments from the first `nents` entries).
pub fn check_mapped(
    plat: &Platform,
    lim: &SgLimits,
    before: &[Scatterlist],
    after: &[Scatterlist],
    nents: u32,
    count: u32,
) -> Vec<String> {
    let mut out = Vec::new();
    let ins = &before[..(nents as usize).min(before.len())];
    // A zero-length entry is a driver bug the kernel does not survive: in iommu_dma_map_sg()
    // its `s_length - 1` underflows, the boundary pad wraps iova_len to 0 and the whole list
    // comes back at DMA address 0 unmapped (both versions). Such lists are not judged.
    if ins.iter().any(|s| s.length == 0) {
        return out;
    }
    // P2PDMA pages the device reaches over a switch keep their own bus segment.
    let bus_of = |s: &Scatterlist| {
        plat.pci_p2pdma_map_type(s.page.0 >> PAGE_SHIFT)
            .filter(|&(t, _, _)| t == P2pdmaMapType::BusAddr)
            .map(|(_, off, _)| off)
    };
    let mut bus_in = ins.iter().enumerate().filter_map(|(i, s)| bus_of(s).map(|off| (i, s, off)));
    let normal: Vec<(usize, PhysAddr, u64)> = ins
        .iter()
        .enumerate()
        .filter(|(_, s)| bus_of(s).is_none() && s.length > 0)
        .map(|(i, s)| (i, s.phys(), s.length as u64))
        .collect();
    let within_limits = normal.iter().all(|&(_, _, len)| len <= lim.max_seg as u64);
    let (mut k, mut used) = (0usize, 0u64);
    for (o, seg) in after.iter().take(count as usize).enumerate() {
        if seg.is_bus_address() {
            let Some((i, s, off)) = bus_in.next() else {
                out.push(format!("sg[{o}] is marked as a bus address, but no more entries are P2PDMA bus memory"));
                continue;
            };
            let want = DmaAddr(s.phys().0.wrapping_add(off));
            if seg.dma_address != want {
                out.push(format!(
                    "sg[{o}] bus address {} for entry {i} (phys {}), expected {want} (phys + the provider's bus_offset)",
                    seg.dma_address,
                    s.phys()
                ));
            }
            continue;
        }
        let (mut done, mut parts) = (0u64, 0u32);
        let len = seg.dma_length as u64;
        while done < len {
            let Some(&(i, phys, elen)) = normal.get(k) else {
                out.push(format!(
                    "sg[{o}] dma_address={} dma_len={:#x} runs {:#x} bytes past the last CPU entry",
                    seg.dma_address,
                    seg.dma_length,
                    len - done
                ));
                return out;
            };
            if used == 0 || done == 0 {
                parts += 1;
            }
            let n = (elen - used).min(len - done);
            let dev = seg.dma_address.wrapping_add(done);
            let want = phys.wrapping_add(used);
            match plat.device_pieces(dev, n) {
                None => out.push(format!("sg[{o}]: the device cannot reach {dev}+{n:#x} (entry {i}, phys {want})")),
                Some(pieces) => {
                    let mut at = 0u64;
                    for (p, l) in pieces {
                        let bounced = lim.pool.is_some_and(|(s, e)| p.0 >= s && p.0 < e);
                        if !bounced && p != want.wrapping_add(at) {
                            out.push(format!(
                                "sg[{o}]: device address {} reaches {p}, but entry {i} holds phys {} there",
                                dev.wrapping_add(at),
                                want.wrapping_add(at)
                            ));
                            break;
                        }
                        at += l;
                    }
                }
            }
            done += n;
            used += n;
            if used == elen {
                k += 1;
                used = 0;
            }
        }
        if within_limits && seg.dma_length > lim.max_seg {
            out.push(format!(
                "sg[{o}] dma_len={:#x} exceeds max_segment_size {:#x} although every entry fits",
                seg.dma_length, lim.max_seg
            ));
        }
        let last = seg.dma_address.0.wrapping_add(len.max(1) - 1);
        if parts > 1 && (seg.dma_address.0 ^ last) & !lim.boundary != 0 {
            out.push(format!(
                "sg[{o}] merges {parts} entries across the segment boundary (mask {:#x}): {}..={last:#x}",
                lim.boundary, seg.dma_address
            ));
        }
    }
    if k < normal.len() {
        out.push(format!(
            "entry {} onwards: no DMA segment covers them ({} of {} bytes of entry {} mapped)",
            normal[k].0, used, normal[k].2, normal[k].0
        ));
    }
    out
}
