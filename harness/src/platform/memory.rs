//! Sparse, byte-accurate physical memory: RAM and MMIO (BAR) regions.
//!
//! Pages are materialised on first write; an untouched byte reads as [`initial_byte`], a
//! pattern of its address, so stale or misdirected data never looks like the right data.

use crate::fasthash::AddrMap;

use crate::scenario::Region;
use crate::types::{PhysAddr, PAGE_SHIFT, PAGE_SIZE};

/// What lives at a physical address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    Ram,
    Mmio,
    None,
}

/// The content of a byte nobody has written.
pub fn initial_byte(p: u64) -> u8 {
    (p as u8) ^ ((p >> 8) as u8).rotate_left(3) ^ ((p >> 16) as u8) ^ 0xa5
}

/// The content of a byte nobody has written since boot, given the ranges zeroed at boot.
pub fn fresh_byte(zeroed: &[(u64, u64)], p: u64) -> u8 {
    if zeroed.iter().any(|&(a, b)| p >= a && p < b) {
        0
    } else {
        initial_byte(p)
    }
}

#[derive(Default)]
pub struct Memory {
    ram: Vec<Region>,
    mmio: Vec<Region>,
    /// Ranges zeroed at boot (the swiotlb pool), read as 0 until written.
    zeroed: Vec<(u64, u64)>,
    pages: AddrMap<u64, Box<[u8; PAGE_SIZE as usize]>>,
}

impl Memory {
    pub fn new(ram: &[Region], mmio: &[Region]) -> Self {
        Memory { ram: ram.to_vec(), mmio: mmio.to_vec(), zeroed: Vec::new(), pages: AddrMap::default() }
    }

    /// A boot-time memset(0) of [start, start + size), recorded lazily: no page is touched.
    pub fn boot_memzero(&mut self, start: u64, size: u64) {
        debug_assert!(self
            .pages
            .keys()
            .all(|&pfn| (pfn << PAGE_SHIFT) + PAGE_SIZE <= start || pfn << PAGE_SHIFT >= start + size));
        self.zeroed.push((start, start.saturating_add(size)));
    }

    /// The ranges zeroed at boot.
    pub fn zeroed(&self) -> &[(u64, u64)] {
        &self.zeroed
    }

    /// What a byte nobody has written since boot holds.
    fn fresh_byte(&self, p: u64) -> u8 {
        fresh_byte(&self.zeroed, p)
    }

    /// What backs the whole range [p, p + len), or None if it is mixed or unbacked.
    pub fn backing(&self, p: PhysAddr, len: u64) -> Backing {
        let len = len.max(1);
        if self.ram.iter().any(|r| r.contains(p, len)) {
            Backing::Ram
        } else if self.mmio.iter().any(|r| r.contains(p, len)) {
            Backing::Mmio
        } else {
            Backing::None
        }
    }

    /// True when any RAM region overlaps [p, p + len).
    pub fn overlaps_ram(&self, p: u64, len: u64) -> bool {
        self.ram.iter().any(|r| p < r.end() && r.start.0 < p.saturating_add(len))
    }

    pub fn read_byte(&self, p: u64) -> u8 {
        match self.pages.get(&(p >> PAGE_SHIFT)) {
            Some(page) => page[(p & (PAGE_SIZE - 1)) as usize],
            None => self.fresh_byte(p),
        }
    }

    pub fn write_byte(&mut self, p: u64, v: u8) {
        let zeroed = &self.zeroed;
        let page = self.pages.entry(p >> PAGE_SHIFT).or_insert_with(|| {
            let base = p & !(PAGE_SIZE - 1);
            let mut b = Box::new([0u8; PAGE_SIZE as usize]);
            for (i, x) in b.iter_mut().enumerate() {
                *x = fresh_byte(zeroed, base + i as u64);
            }
            b
        });
        page[(p & (PAGE_SIZE - 1)) as usize] = v;
    }

    pub fn read(&self, p: u64, out: &mut [u8]) {
        let mut i = 0;
        while i < out.len() {
            let a = p + i as u64;
            let off = (a & (PAGE_SIZE - 1)) as usize;
            let n = (PAGE_SIZE as usize - off).min(out.len() - i);
            match self.pages.get(&(a >> PAGE_SHIFT)) {
                Some(page) => out[i..i + n].copy_from_slice(&page[off..off + n]),
                None => {
                    for (k, b) in out[i..i + n].iter_mut().enumerate() {
                        *b = self.fresh_byte(a + k as u64);
                    }
                }
            }
            i += n;
        }
    }

    pub fn write(&mut self, p: u64, data: &[u8]) {
        let mut i = 0;
        while i < data.len() {
            let a = p + i as u64;
            let off = (a & (PAGE_SIZE - 1)) as usize;
            let n = (PAGE_SIZE as usize - off).min(data.len() - i);
            // Materialise the page once, then copy the whole run into it.
            self.write_byte(a, data[i]);
            let page = self.pages.get_mut(&(a >> PAGE_SHIFT)).expect("materialised by write_byte");
            page[off..off + n].copy_from_slice(&data[i..i + n]);
            i += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_and_byte_accurate() {
        let ram = [Region { start: PhysAddr(0x8000_0000), size: 0x10_0000 }];
        let mmio = [Region { start: PhysAddr(0x4000_0000), size: 0x1000 }];
        let mut m = Memory::new(&ram, &mmio);
        assert_eq!(m.backing(PhysAddr(0x8000_0000), 0x10_0000), Backing::Ram);
        assert_eq!(m.backing(PhysAddr(0x800f_ffff), 2), Backing::None);
        assert_eq!(m.backing(PhysAddr(0x4000_0fff), 1), Backing::Mmio);
        assert_eq!(m.read_byte(0x8000_0123), initial_byte(0x8000_0123));
        m.write(0x8000_0ffe, &[1, 2, 3, 4]);
        let mut out = [0u8; 6];
        m.read(0x8000_0ffd, &mut out);
        assert_eq!(out, [initial_byte(0x8000_0ffd), 1, 2, 3, 4, initial_byte(0x8000_1002)]);
        assert_eq!(m.pages.len(), 2);
    }
}
