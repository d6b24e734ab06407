//! A multiplicative hash for the integer-keyed maps of the platform and the oracles: page,
//! line and byte addresses are trusted inputs, and SipHash dominated a run's profile.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// FxHash-style: rotate, xor, multiply by a large odd constant.
#[derive(Default, Clone, Copy)]
pub struct AddrHasher(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ *b as u64).wrapping_mul(K);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(K);
    }
}

pub type AddrMap<K, V> = HashMap<K, V, BuildHasherDefault<AddrHasher>>;
pub type AddrSet<K> = HashSet<K, BuildHasherDefault<AddrHasher>>;
