//! The data-integrity oracle: for correctly used sequences, the reader sees the writer's
//! bytes. It runs on each side on its own, judging the bytes that side's platform returned.
//!
//! It follows the DMA API's ownership contract, not the platform: a byte is checked at a CPU
//! read only when the contract guarantees the CPU sees its last writer (never handed to a
//! writing device, or handed back by an unmap or sync_for_cpu with a direction the device
//! writes), and at a device read only when it was handed to the device with a direction the
//! device reads. Misuse (CPU stores into a device-owned cache line, device stores outside a
//! live mapping, syncs with the wrong direction) makes the bytes it touches unverifiable
//! until a writer that owns them stores again.

use crate::fasthash::{AddrMap, AddrSet};

use crate::exec::Mapping;
use crate::platform::cache::CACHE_LINE;
use crate::platform::memory::fresh_byte;
use crate::platform::trace::{CacheOp, Event};
use crate::scenario::UnmapKind;
use crate::types::{DmaAttrs, DmaDir, PhysAddr};

/// What the oracle is told about each operation.
pub enum Access<'a> {
    Map(&'a Mapping),
    /// `events` are what the call did to the platform: its cache invalidations matter when
    /// the call is outside the contract.
    Unmap {
        target: Option<(&'a Mapping, u64)>,
        kind: UnmapKind,
        size: u64,
        dir: DmaDir,
        attrs: DmaAttrs,
        events: &'a [Event],
    },
    Sync {
        target: Option<(&'a Mapping, u64)>,
        for_cpu: bool,
        size: u64,
        dir: DmaDir,
        events: &'a [Event],
    },
    CpuWrite {
        phys: PhysAddr,
        data: &'a [u8],
    },
    CpuRead {
        phys: PhysAddr,
        data: &'a [u8],
    },
    /// `landed` is where the platform put the bytes (physical pieces in order; empty: nothing
    /// answered), for stores outside the contract.
    DevWrite {
        target: Option<(&'a Mapping, u64)>,
        data: &'a [u8],
        landed: &'a [(PhysAddr, u64)],
    },
    /// `landed` is where the platform read from (empty: nothing answered).
    DevRead {
        target: Option<(&'a Mapping, u64)>,
        data: &'a [u8],
        landed: &'a [(PhysAddr, u64)],
    },
    /// A call the oracle does not follow byte by byte (scatterlists, the two-step API): the
    /// CPU buffers it names and whatever its events touched are not judged until written
    /// again.
    Opaque {
        ranges: &'a [(PhysAddr, u64)],
        events: &'a [Event],
    },
}

#[derive(Clone, Copy)]
struct Byte {
    value: u8,
    /// Who stored `value`: the op number, or None for the initial content.
    writer: Option<(bool, u32)>,
    /// No conflicting store since the last owned store.
    defined: bool,
    cpu_ok: bool,
    dev_ok: bool,
    dev_may_write: bool,
    /// Handed to the device without the map-time clean (DMA_ATTR_SKIP_CPU_SYNC) and not
    /// synced for the device since: a bounce copy may still sit in dirty cache lines that a
    /// later invalidate drops or writes back over the device's data.
    needs_clean: bool,
}

/// Ranges longer than this are not tracked byte by byte: they become unverifiable.
const MAX_TRACKED: u64 = 4 << 20;

pub struct Integrity {
    bytes: AddrMap<u64, Byte>,
    /// Memory zeroed at boot (what untouched bytes there hold).
    zeroed: Vec<(u64, u64)>,
    /// The swiotlb pool: device accesses that land in it went through a bounce buffer.
    bounce_pool: Option<(u64, u64)>,
    /// Bounced mappings the device was handed: (slot start, length, original buffer). A
    /// stray device store into a slot reaches its original at the next copy-back.
    bounced: Vec<(u64, u64, u64)>,
    /// Ranges a giant or wrapping operation touched; nothing in them is judged again.
    unverifiable: Vec<(u64, u64)>,
    /// Cache lines the CPU may hold dirty (stored to since the last clean or invalidate).
    dirty: AddrSet<u64>,
}

fn lines(p: u64, len: u64) -> impl Iterator<Item = u64> {
    let first = p & !(CACHE_LINE - 1);
    let last = p.saturating_add(len.max(1) - 1) & !(CACHE_LINE - 1);
    (first..=last).step_by(CACHE_LINE as usize)
}

/// The device access reached the buffer the mapping names, directly or through its bounce
/// buffer: it did not fault and was not routed elsewhere (an untranslated MMIO-style address
/// behind dma-ranges).
fn reached(m: &Mapping, off: u64, landed: &[(PhysAddr, u64)], pool: Option<(u64, u64)>) -> bool {
    match landed {
        // Through an IOMMU a mapping is contiguous in both spaces: one piece.
        [(p, _)] => p.0 == m.phys.0.wrapping_add(off) || pool.is_some_and(|(a, b)| p.0 >= a && p.0 < b),
        _ => false,
    }
}

/// The mapping and range an access covers, if the contract allows it.
fn in_contract(target: Option<(&Mapping, u64)>, len: u64) -> Option<(&Mapping, u64)> {
    let (m, off) = target?;
    (m.in_ownership_contract() && m.mapped && m.live && len <= m.size && off <= m.size - len).then_some((m, off))
}

impl Integrity {
    /// An oracle for a side whose boot zeroed `zeroed` and set up `bounce_pool`.
    pub fn new(zeroed: &[(u64, u64)], bounce_pool: Option<(u64, u64)>) -> Self {
        Integrity {
            bytes: AddrMap::default(),
            zeroed: zeroed.to_vec(),
            bounce_pool,
            bounced: Vec::new(),
            unverifiable: Vec::new(),
            dirty: AddrSet::default(),
        }
    }

    fn byte(&mut self, p: u64) -> &mut Byte {
        let value = fresh_byte(&self.zeroed, p);
        self.bytes.entry(p).or_insert(Byte {
            value,
            writer: None,
            defined: true,
            cpu_ok: true,
            dev_ok: false,
            dev_may_write: false,
            needs_clean: false,
        })
    }

    /// [p, p + len) if it can be tracked byte by byte; otherwise it is marked unverifiable.
    fn tracked(&mut self, p: u64, len: u64) -> Option<std::ops::Range<u64>> {
        match p.checked_add(len) {
            Some(end) if len <= MAX_TRACKED => Some(p..end),
            end => {
                self.unverifiable.push((p, end.unwrap_or(u64::MAX)));
                None
            }
        }
    }

    fn line_dirty(&self, p: u64) -> bool {
        self.dirty.contains(&(p & !(CACHE_LINE - 1)))
    }

    /// The buffer goes to the device (map, sync_for_device); `clean` when caches are cleaned.
    fn hand_to_device(&mut self, p: u64, len: u64, dir: DmaDir, clean: bool) {
        let Some(range) = self.tracked(p, len) else { return };
        if clean {
            for l in lines(p, len) {
                self.dirty.remove(&l);
            }
        }
        for a in range {
            let dirty = self.line_dirty(a);
            let b = self.byte(a);
            // Without the map-time clean (DMA_ATTR_SKIP_CPU_SYNC) nothing is promised until a
            // sync_for_device: a bounce copy, for one, may still sit in dirty cache lines.
            // Device stores the CPU never took back: a bounce buffer is refilled from the
            // CPU's stale copy, a direct mapping keeps them. Either may be what the device sees.
            if dir.device_reads() && matches!(b.writer, Some((true, _))) && !b.cpu_ok {
                b.defined = false;
            }
            b.dev_ok = clean && dir.device_reads() && b.defined && !dirty;
            b.dev_may_write = dir.device_writes();
            b.needs_clean = !clean;
            if dir.device_writes() {
                b.cpu_ok = false;
            }
        }
    }

    /// The buffer comes back to the CPU (unmap, sync_for_cpu).
    fn hand_to_cpu(&mut self, p: u64, len: u64, dir: DmaDir) {
        let Some(range) = self.tracked(p, len) else { return };
        for a in range {
            let dirty = self.line_dirty(a);
            let b = self.byte(a);
            if dir.device_writes() {
                // A copy back from a bounce buffer that was never cleaned brings garbage, and
                // the invalidate drops or half-writes-back dirty CPU lines: either way the
                // bytes hold no one writer's value any more.
                // CPU stores the device was never handed are overwritten by the copy back
                // from a bounce buffer.
                let cpu_only = matches!(b.writer, Some((false, _))) && !b.dev_may_write;
                if b.needs_clean || dirty || cpu_only {
                    b.defined = false;
                }
                b.cpu_ok = b.defined;
            }
            b.dev_ok = false;
            b.dev_may_write = false;
            b.needs_clean = false;
        }
        if dir.device_writes() {
            for l in lines(p, len) {
                self.dirty.remove(&l);
            }
        }
    }

    fn undefine(&mut self, p: u64, len: u64) {
        let Some(range) = self.tracked(p, len) else { return };
        for a in range {
            let b = self.byte(a);
            b.defined = false;
            b.cpu_ok = false;
            b.dev_ok = false;
        }
    }

    /// A call outside the contract invalidated caches or bounced data: what was there may be
    /// gone or overwritten.
    fn undefine_effects(&mut self, events: &[Event]) {
        for e in events {
            match e {
                Event::ArchSync { op: CacheOp::Inval, phys, size, .. } => {
                    let first = phys.0 & !(CACHE_LINE - 1);
                    let len = (phys.0 - first).saturating_add((*size).max(1)).saturating_add(CACHE_LINE - 1)
                        & !(CACHE_LINE - 1);
                    self.undefine(first, len);
                }
                Event::Memcpy { dst, size, .. } => self.undefine(dst.0, *size),
                _ => {}
            }
        }
    }

    fn check(&mut self, who: &str, base: u64, data: &[u8], cpu: bool) -> Vec<String> {
        let mut bad = Vec::new();
        for (i, got) in data.iter().enumerate() {
            let p = base.wrapping_add(i as u64);
            if self.unverifiable.iter().any(|&(a, b)| p >= a && p < b) {
                continue;
            }
            let Some(b) = self.bytes.get(&p).copied() else {
                // Untouched: the initial content, which the CPU always sees.
                let want = fresh_byte(&self.zeroed, p);
                if cpu && *got != want {
                    bad.push((i, want, *got, None));
                }
                continue;
            };
            let ok = b.defined && if cpu { b.cpu_ok } else { b.dev_ok };
            if ok && *got != b.value {
                bad.push((i, b.value, *got, b.writer));
            }
        }
        let Some(&(i, want, got, writer)) = bad.first() else { return Vec::new() };
        let from = match writer {
            None => "the initial memory content".to_string(),
            Some((true, op)) => format!("written by the device at op {op}"),
            Some((false, op)) => format!("written by the CPU at op {op}"),
        };
        vec![format!(
            "{who} at {:#x}: {} of {} byte(s) wrong; first at +{i:#x}: expected {want:#04x} ({from}), got {got:#04x}",
            base,
            bad.len(),
            data.len()
        )]
    }

    /// Feeds operation number `op`; returns the integrity failures it reveals.
    pub fn observe(&mut self, op: usize, a: Access<'_>) -> Vec<String> {
        let op = op as u32;
        match a {
            Access::Map(m) => {
                if m.mapped && m.in_ownership_contract() {
                    self.hand_to_device(m.phys.0, m.size, m.dir, !m.attrs.contains(DmaAttrs::SKIP_CPU_SYNC));
                }
                if let Some(t) = m.target.filter(|t| self.bounce_pool.is_some_and(|(a, b)| t.0 >= a && t.0 < b)) {
                    self.bounced.push((t.0, m.size, m.phys.0));
                }
                Vec::new()
            }
            Access::Unmap { target, kind, size, dir, attrs, events } => {
                let mut transferred = false;
                // Allocator-level buffers have no ownership contract: only their effects count.
                if let Some((m, off)) = target.filter(|(m, _)| m.mapped && m.live && m.in_ownership_contract()) {
                    let matching = m.is_undone_by(kind, off, size, dir, attrs);
                    if matching {
                        // Its slot is released: later stores there reach no original.
                        self.bounced.retain(|&(_, len, orig)| (orig, len) != (m.phys.0, m.size));
                    }
                    if matching && !attrs.contains(DmaAttrs::SKIP_CPU_SYNC) {
                        self.hand_to_cpu(m.phys.0, m.size, dir);
                        transferred = true;
                    } else {
                        // The device lost the buffer, but nothing made its stores visible.
                        self.hand_to_cpu(m.phys.0, m.size, DmaDir::TO_DEVICE);
                    }
                }
                if !transferred {
                    self.undefine_effects(events);
                    // Misuse on a mapping (wrong direction, size or call) may have moved its
                    // bounce copies either way: none of its bytes can be vouched for.
                    if let Some((m, _)) = target.filter(|(m, _)| m.mapped && !m.allocator_level) {
                        self.undefine(m.phys.0, m.size);
                    }
                }
                Vec::new()
            }
            Access::Sync { target, for_cpu, size, dir, events } => {
                let mut transferred = false;
                if let Some((m, off)) = in_contract(target, size) {
                    if dir == m.dir || m.dir == DmaDir::BIDIRECTIONAL && dir.is_valid() {
                        let p = m.phys.0.wrapping_add(off);
                        if for_cpu {
                            self.hand_to_cpu(p, size, dir)
                        } else {
                            // Handing part of a buffer back to a device that still owns its
                            // own stores: the clean of a stale bounce line can overwrite them
                            // anywhere in the buffer, not only in the synced range.
                            if let Some(range) = self.tracked(m.phys.0, m.size) {
                                for a in range {
                                    if let Some(b) = self.bytes.get_mut(&a) {
                                        if matches!(b.writer, Some((true, _))) && !b.cpu_ok {
                                            b.defined = false;
                                        }
                                    }
                                }
                            }
                            // sync_for_device(DMA_FROM_DEVICE) copies nothing into a bounce
                            // buffer: CPU stores since the last copy are lost at the copy back.
                            if dir == DmaDir::FROM_DEVICE {
                                if let Some(range) = self.tracked(p, size) {
                                    for a in range {
                                        if let Some(b) = self.bytes.get_mut(&a) {
                                            if matches!(b.writer, Some((false, _))) && !b.dev_may_write {
                                                b.defined = false;
                                            }
                                        }
                                    }
                                }
                            }
                            self.hand_to_device(p, size, dir, true)
                        }
                        transferred = true;
                    }
                }
                if !transferred {
                    self.undefine_effects(events);
                    // Misuse on a mapping (wrong direction, size or call) may have moved its
                    // bounce copies either way: none of its bytes can be vouched for.
                    if let Some((m, _)) = target.filter(|(m, _)| m.mapped && !m.allocator_level) {
                        self.undefine(m.phys.0, m.size);
                    }
                }
                Vec::new()
            }
            Access::Opaque { ranges, events } => {
                for &(p, n) in ranges {
                    self.undefine(p.0, n);
                }
                self.undefine_effects(events);
                Vec::new()
            }
            Access::CpuWrite { phys, data } => {
                let len = data.len() as u64;
                if self.tracked(phys.0, len).is_none() {
                    return Vec::new();
                }
                for l in lines(phys.0, len) {
                    // A dirty line may later be written back over device data next to it.
                    for a in l..l + CACHE_LINE {
                        if self.bytes.get(&a).is_some_and(|b| b.dev_may_write) {
                            self.undefine(a, 1);
                        }
                    }
                    self.dirty.insert(l);
                }
                for (i, v) in data.iter().enumerate() {
                    let b = self.byte(phys.0.wrapping_add(i as u64));
                    b.value = *v;
                    b.writer = Some((false, op));
                    b.defined = !b.dev_may_write;
                    b.cpu_ok = b.defined;
                    b.dev_ok = false;
                }
                Vec::new()
            }
            Access::CpuRead { phys, data } => self.check("cpu_read", phys.0, data, true),
            Access::DevWrite { target, data, landed } => {
                let len = data.len() as u64;
                // A store that faulted or was routed elsewhere changed nothing in the buffer.
                match in_contract(target, len).filter(|&(m, off)| reached(m, off, landed, self.bounce_pool)) {
                    Some((m, off)) => {
                        for (i, v) in data.iter().enumerate() {
                            let a = m.phys.0.wrapping_add(off + i as u64);
                            // A dirty CPU line over the byte is written back over it later.
                            let dirty = self.line_dirty(a);
                            let b = self.byte(a);
                            b.value = *v;
                            b.writer = Some((true, op));
                            b.defined = b.dev_may_write && !dirty && !b.needs_clean;
                            b.cpu_ok = false;
                            b.dev_ok = b.defined;
                        }
                    }
                    None => {
                        for &(p, n) in landed {
                            self.undefine(p.0, n);
                            // Through a stale or foreign address into a live bounce slot: the
                            // copy-back carries the store to that slot's original buffer.
                            let hit: Vec<(u64, u64)> = self
                                .bounced
                                .iter()
                                .filter_map(|&(slot, len, orig)| {
                                    let lo = p.0.max(slot);
                                    let hi = p.0.saturating_add(n).min(slot.saturating_add(len));
                                    (lo < hi).then(|| (orig.wrapping_add(lo - slot), hi - lo))
                                })
                                .collect();
                            for (a, l) in hit {
                                self.undefine(a, l);
                            }
                        }
                    }
                }
                Vec::new()
            }
            Access::DevRead { target, data, landed } => {
                match in_contract(target, data.len() as u64)
                    .filter(|&(m, off)| reached(m, off, landed, self.bounce_pool))
                {
                    Some((m, off)) => self.check("dev_read", m.phys.0.wrapping_add(off), data, false),
                    None => Vec::new(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::MapKind;
    use crate::types::DmaAddr;

    fn map(phys: u64, size: u64, dir: DmaDir, attrs: DmaAttrs) -> Mapping {
        Mapping {
            kind: MapKind::Phys,
            allocator_level: false,
            phys: PhysAddr(phys),
            dma: DmaAddr(phys),
            size,
            dir,
            attrs,
            mapped: true,
            live: true,
            tainted: false,
            unbacked: false,
            target: Some(PhysAddr(phys)),
        }
    }

    fn unmap<'a>(m: &'a Mapping) -> Access<'a> {
        Access::Unmap {
            target: Some((m, 0)),
            kind: UnmapKind::Phys,
            size: m.size,
            dir: m.dir,
            attrs: m.attrs,
            events: &[],
        }
    }

    #[test]
    fn device_must_see_cpu_data_handed_over_to_device() {
        let mut o = Integrity::new(&[], None);
        o.observe(0, Access::CpuWrite { phys: PhysAddr(0x1000), data: &[7; 64] });
        let m = map(0x1000, 64, DmaDir::TO_DEVICE, DmaAttrs(0));
        o.observe(1, Access::Map(&m));
        assert!(o
            .observe(2, Access::DevRead { target: Some((&m, 0)), data: &[7; 64], landed: &[(PhysAddr(0x1000), 64)] })
            .is_empty());
        let stale =
            o.observe(3, Access::DevRead { target: Some((&m, 8)), data: &[9; 8], landed: &[(PhysAddr(0x1008), 8)] });
        assert_eq!(stale.len(), 1);
        assert!(stale[0].contains("expected 0x07 (written by the CPU at op 0), got 0x09"), "{}", stale[0]);
    }

    #[test]
    fn cpu_must_see_device_data_after_unmap_but_not_before() {
        let mut o = Integrity::new(&[], None);
        let m = map(0x2000, 128, DmaDir::FROM_DEVICE, DmaAttrs(0));
        o.observe(0, Access::Map(&m));
        o.observe(
            1,
            Access::DevWrite { target: Some((&m, 0)), data: &[0x5a; 128], landed: &[(PhysAddr(0x2000), 128)] },
        );
        assert!(
            o.observe(2, Access::CpuRead { phys: PhysAddr(0x2000), data: &[0; 128] }).is_empty(),
            "still device-owned"
        );
        o.observe(3, unmap(&m));
        assert!(o.observe(4, Access::CpuRead { phys: PhysAddr(0x2000), data: &[0x5a; 128] }).is_empty());
        assert_eq!(o.observe(5, Access::CpuRead { phys: PhysAddr(0x2040), data: &[1; 4] }).len(), 1);
    }

    #[test]
    fn skip_cpu_sync_without_a_sync_guarantees_nothing() {
        let mut o = Integrity::new(&[], None);
        o.observe(0, Access::CpuWrite { phys: PhysAddr(0x3000), data: &[3; 64] });
        let m = map(0x3000, 64, DmaDir::TO_DEVICE, DmaAttrs::SKIP_CPU_SYNC);
        o.observe(1, Access::Map(&m));
        assert!(o
            .observe(2, Access::DevRead { target: Some((&m, 0)), data: &[0; 64], landed: &[(PhysAddr(0x3000), 64)] })
            .is_empty());
        o.observe(
            3,
            Access::Sync { target: Some((&m, 0)), for_cpu: false, size: 64, dir: DmaDir::TO_DEVICE, events: &[] },
        );
        assert_eq!(
            o.observe(4, Access::DevRead { target: Some((&m, 0)), data: &[0; 64], landed: &[(PhysAddr(0x3000), 64)] })
                .len(),
            1
        );
    }

    #[test]
    fn cpu_store_into_a_shared_cache_line_makes_device_data_unverifiable() {
        let mut o = Integrity::new(&[], None);
        let m = map(0x4000, 32, DmaDir::FROM_DEVICE, DmaAttrs(0));
        o.observe(0, Access::Map(&m));
        o.observe(1, Access::DevWrite { target: Some((&m, 0)), data: &[0xaa; 32], landed: &[(PhysAddr(0x4000), 32)] });
        o.observe(2, Access::CpuWrite { phys: PhysAddr(0x4020), data: &[1; 4] });
        o.observe(3, unmap(&m));
        assert!(o.observe(4, Access::CpuRead { phys: PhysAddr(0x4000), data: &[0; 32] }).is_empty());
    }

    #[test]
    fn invalidation_outside_the_contract_makes_cpu_data_unverifiable() {
        let mut o = Integrity::new(&[], None);
        o.observe(0, Access::CpuWrite { phys: PhysAddr(0x5000), data: &[4; 64] });
        let inval = [Event::ArchSync {
            hook: crate::platform::trace::ArchHook::SyncForCpu,
            phys: PhysAddr(0x5000),
            size: 64,
            dir: DmaDir::FROM_DEVICE,
            op: CacheOp::Inval,
            written_back: 0,
            discarded_dirty: 1,
        }];
        o.observe(
            1,
            Access::Unmap {
                target: None,
                kind: UnmapKind::Phys,
                size: 64,
                dir: DmaDir::FROM_DEVICE,
                attrs: DmaAttrs(0),
                events: &inval,
            },
        );
        assert!(o.observe(2, Access::CpuRead { phys: PhysAddr(0x5000), data: &[0; 64] }).is_empty());
    }
}
