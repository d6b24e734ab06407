//! The CPU data cache, as seen by DMA.
//!
//! Write-back, write-allocate, read-allocate, 64-byte lines, no spontaneous evictions: a
//! dirty line reaches memory only when it is cleaned, so a missing clean shows up as stale
//! data at the device, and a missing invalidate as stale data at the CPU. A coherent device
//! snoops the cache; a non-coherent one sees memory only.
//!
//! Maintenance follows arm64 (arch/arm64/mm/cache.S): `dcache_clean_poc` cleans every line
//! from the aligned-down start while below the end, at least one; `dcache_inval_poc`
//! clean-and-invalidates partial lines at either end and invalidates (discards) the rest,
//! likewise at least one.

use crate::fasthash::AddrMap;

use super::memory::Memory;

/// Cache line size (CTR_EL0.DminLine of the modelled CPU).
pub const CACHE_LINE: u64 = 64;

struct Line {
    data: [u8; CACHE_LINE as usize],
    dirty: bool,
}

/// Counts of what a maintenance operation did, for the trace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaintStats {
    pub written_back: u32,
    pub discarded_dirty: u32,
}

#[derive(Default)]
pub struct Cache {
    lines: AddrMap<u64, Line>,
}

fn line_of(p: u64) -> u64 {
    p & !(CACHE_LINE - 1)
}

/// [p, p + len) cut at cache-line boundaries: (start, length) per line.
fn line_chunks(p: u64, len: usize) -> impl Iterator<Item = (u64, usize)> {
    let end = p + len as u64;
    let mut a = p;
    std::iter::from_fn(move || {
        (a < end).then(|| {
            let next = (line_of(a) + CACHE_LINE).min(end);
            let chunk = (a, (next - a) as usize);
            a = next;
            chunk
        })
    })
}

impl Cache {
    fn fill<'a>(lines: &'a mut AddrMap<u64, Line>, mem: &Memory, base: u64) -> &'a mut Line {
        lines.entry(base).or_insert_with(|| {
            let mut data = [0u8; CACHE_LINE as usize];
            mem.read(base, &mut data);
            Line { data, dirty: false }
        })
    }

    /// A CPU load.
    pub fn cpu_read(&mut self, mem: &Memory, p: u64, out: &mut [u8]) {
        for (a, chunk) in line_chunks(p, out.len()) {
            let line = Self::fill(&mut self.lines, mem, line_of(a));
            let o = (a - line_of(a)) as usize;
            let i = (a - p) as usize;
            out[i..i + chunk].copy_from_slice(&line.data[o..o + chunk]);
        }
    }

    /// A CPU store.
    pub fn cpu_write(&mut self, mem: &Memory, p: u64, data: &[u8]) {
        for (a, chunk) in line_chunks(p, data.len()) {
            let line = Self::fill(&mut self.lines, mem, line_of(a));
            let o = (a - line_of(a)) as usize;
            let i = (a - p) as usize;
            line.data[o..o + chunk].copy_from_slice(&data[i..i + chunk]);
            line.dirty = true;
        }
    }

    /// A coherent device load: snoops hit in the cache.
    pub fn snoop_read(&self, mem: &Memory, p: u64, out: &mut [u8]) {
        for (i, b) in out.iter_mut().enumerate() {
            let a = p + i as u64;
            *b = match self.lines.get(&line_of(a)) {
                Some(l) => l.data[(a - line_of(a)) as usize],
                None => mem.read_byte(a),
            };
        }
    }

    /// A coherent device store: memory is written and a cached copy is updated in place.
    pub fn snoop_write(&mut self, mem: &mut Memory, p: u64, data: &[u8]) {
        for (i, b) in data.iter().enumerate() {
            let a = p + i as u64;
            mem.write_byte(a, *b);
            if let Some(l) = self.lines.get_mut(&line_of(a)) {
                l.data[(a - line_of(a)) as usize] = *b;
            }
        }
    }

    fn clean_line(&mut self, mem: &mut Memory, base: u64, st: &mut MaintStats) {
        if let Some(l) = self.lines.get_mut(&base) {
            if l.dirty {
                mem.write(base, &l.data);
                l.dirty = false;
                st.written_back += 1;
            }
        }
    }

    fn inval_line(&mut self, base: u64, st: &mut MaintStats) {
        if let Some(l) = self.lines.remove(&base) {
            if l.dirty {
                st.discarded_dirty += 1;
            }
        }
    }

    /// models dcache_clean_poc(start, end) (dc cvac by line, do-while)
    pub fn dcache_clean_poc(&mut self, mem: &mut Memory, start: u64, end: u64) -> MaintStats {
        let mut st = MaintStats::default();
        let mut x = line_of(start);
        loop {
            self.clean_line(mem, x, &mut st);
            x = x.wrapping_add(CACHE_LINE);
            if x >= end || x == 0 {
                break;
            }
        }
        st
    }

    /// models dcache_inval_poc(start, end) (dc civac on partial ends, dc ivac elsewhere)
    pub fn dcache_inval_poc(&mut self, mem: &mut Memory, start: u64, end: u64) -> MaintStats {
        let mut st = MaintStats::default();
        let mask = CACHE_LINE - 1;
        let end_line = end & !mask;
        if end & mask != 0 {
            self.clean_line(mem, end_line, &mut st);
            self.inval_line(end_line, &mut st);
        }
        let mut x = start & !mask;
        if start & mask != 0 {
            self.clean_line(mem, x, &mut st);
            self.inval_line(x, &mut st);
            x = x.wrapping_add(CACHE_LINE);
            // The address space ends here: the walk stops rather than wrapping to 0.
            if x >= end_line || x == 0 {
                return st;
            }
        }
        loop {
            self.inval_line(x, &mut st);
            x = x.wrapping_add(CACHE_LINE);
            if x >= end_line || x == 0 {
                break;
            }
        }
        st
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Region;
    use crate::types::PhysAddr;

    fn mem() -> Memory {
        Memory::new(&[Region { start: PhysAddr(0x1000), size: 0x1000 }], &[])
    }

    #[test]
    fn dirty_data_reaches_memory_only_when_cleaned() {
        let mut m = mem();
        let mut c = Cache::default();
        c.cpu_write(&m, 0x1010, &[0xaa; 4]);
        assert_ne!(m.read_byte(0x1010), 0xaa);
        let mut b = [0u8; 1];
        c.snoop_read(&m, 0x1010, &mut b);
        assert_eq!(b[0], 0xaa, "a coherent device snoops the dirty line");
        let st = c.dcache_clean_poc(&mut m, 0x1010, 0x1014);
        assert_eq!(st.written_back, 1);
        assert_eq!(m.read_byte(0x1010), 0xaa);
    }

    #[test]
    fn invalidate_discards_whole_lines_and_cleans_partial_ends() {
        let mut m = mem();
        let mut c = Cache::default();
        c.cpu_write(&m, 0x1000, &[1; 0xc0]); // three dirty lines
        let st = c.dcache_inval_poc(&mut m, 0x1020, 0x10a0);
        // line 0x1000 partial (clean+inval), 0x1040 whole (discard), 0x1080 partial (clean+inval)
        assert_eq!(st, MaintStats { written_back: 2, discarded_dirty: 1 });
        assert_eq!(m.read_byte(0x1000), 1);
        assert_ne!(m.read_byte(0x1040), 1);
        assert_eq!(m.read_byte(0x1080), 1);
    }

    #[test]
    fn stale_line_hides_device_write_until_invalidated() {
        let mut m = mem();
        let mut c = Cache::default();
        let mut b = [0u8; 1];
        c.cpu_read(&m, 0x1100, &mut b); // speculative fill
        m.write_byte(0x1100, 0x5a); // non-coherent device write
        c.cpu_read(&m, 0x1100, &mut b);
        assert_ne!(b[0], 0x5a);
        c.dcache_inval_poc(&mut m, 0x1100, 0x1140);
        c.cpu_read(&m, 0x1100, &mut b);
        assert_eq!(b[0], 0x5a);
    }

    #[test]
    fn zero_length_maintenance_still_touches_one_line() {
        let mut m = mem();
        let mut c = Cache::default();
        c.cpu_write(&m, 0x1200, &[7]);
        let st = c.dcache_clean_poc(&mut m, 0x1200, 0x1200);
        assert_eq!(st.written_back, 1);
        c.cpu_write(&m, 0x1200, &[8]);
        let st = c.dcache_inval_poc(&mut m, 0x1200, 0x1200);
        assert_eq!(st.discarded_dirty, 1);
    }

    #[test]
    fn invalidating_the_last_line_of_the_address_space_stops_there() {
        // dma_to_phys() of DMA_MAPPING_ERROR is all ones: an unmap of a failed sg entry
        // invalidates there, and the walk must not wrap round to 0.
        let mut m = mem();
        let mut c = Cache::default();
        c.cpu_write(&m, 0x1000, &[1]);
        let st = c.dcache_inval_poc(&mut m, u64::MAX, u64::MAX);
        assert_eq!((st.written_back, st.discarded_dirty), (0, 0));
        c.cpu_write(&m, 0x1000, &[2]);
        let mut b = [0u8];
        c.cpu_read(&m, 0x1000, &mut b);
        assert_eq!(b[0], 2, "the line at 0x1000 was not touched");
    }
}
