//! The cross-check of spec dma-iommu.md §2.11 against §2.12: a list mapped with
//! dma_map_sg_attrs() on one side and linked entry by entry with the two-step API on the
//! other gives the same IOVA, IOMMU translation and device-visible bytes, in every pairing
//! of the two models.

use arbitrary::Unstructured;
use dmadiff::backend::Side;
use dmadiff::oracle::cross::{sg_against_two_step, unsupported, Entry};
use dmadiff::scenario::{Config, IommuConfig, IommuDomainType, Region};
use dmadiff::types::{DmaDir, PhysAddr};

fn cfg(domain: IommuDomainType, pci: bool, mask: u64) -> Config {
    let mut c = Config { arch: dmadiff::scenario::Arch::X86_64, ..Config::default() };
    c.device.pci = pci;
    c.device.dma_mask = Some(mask);
    c.ram.push(Region { start: PhysAddr(0x8000_0000), size: 0x100_0000 });
    c.iommu = Some(IommuConfig { domain, ..IommuConfig::default() });
    c
}

const PAIRS: [(Side, Side); 4] =
    [(Side::Legacy, Side::Phys), (Side::Phys, Side::Legacy), (Side::Legacy, Side::Legacy), (Side::Phys, Side::Phys)];

/// An NVMe-like list: a first entry starting inside its page, whole pages, a short tail.
#[test]
fn nvme_like_list_meets_in_every_pairing() {
    let ents = [
        Entry { phys: PhysAddr(0x8001_0200), len: 0xe00 },
        Entry { phys: PhysAddr(0x8004_0000), len: 0x2000 },
        Entry { phys: PhysAddr(0x8009_0000), len: 0x1000 },
        Entry { phys: PhysAddr(0x800a_0000), len: 0x340 },
    ];
    for (a, b) in PAIRS {
        for domain in [IommuDomainType::Dma, IommuDomainType::DmaFq] {
            sg_against_two_step(&cfg(domain, true, u64::MAX), &ents, DmaDir::BIDIRECTIONAL, a, b)
                .unwrap_or_else(|e| panic!("{a:?} sg against {b:?} links: {e}"));
        }
    }
}

/// The check refuses what the kernel does not promise: an inner entry inside a granule.
#[test]
fn an_inner_entry_inside_a_granule_is_not_compared() {
    let ents = [Entry { phys: PhysAddr(0x8001_0000), len: 0x1000 }, Entry { phys: PhysAddr(0x8002_0100), len: 0x200 }];
    let c = cfg(IommuDomainType::Dma, false, u64::MAX);
    assert_eq!(unsupported(&c, &ents), Some("an inner entry boundary inside a granule"));
    assert!(sg_against_two_step(&c, &ents, DmaDir::TO_DEVICE, Side::Legacy, Side::Phys).is_err());
}

/// Random lists of the promised shape, on random domains, masks and PCI-ness.
#[test]
fn random_lists_meet_in_every_pairing() {
    bolero::check!().with_iterations(300).for_each(|bytes: &[u8]| {
        let mut u = Unstructured::new(bytes);
        let (Ok(fq), Ok(pci), Ok(mask_i), Ok(n), Ok(dir_i)) = (
            u.arbitrary::<bool>(),
            u.arbitrary::<bool>(),
            u.int_in_range(0..=2u8),
            u.int_in_range(1..=6usize),
            u.int_in_range(0..=2u32),
        ) else {
            return;
        };
        let mask = [0xffff_ffffu64, (1 << 40) - 1, u64::MAX][mask_i as usize];
        let mut ents = Vec::new();
        let mut total = 0u64;
        for k in 0..n {
            let page = 0x8000_0000u64 + u.int_in_range(0..=0xfffu64).unwrap_or(0) * 0x1000;
            let off = if k == 0 { u.int_in_range(0..=0xfffu64).unwrap_or(0) & !0x7 } else { 0 };
            let len = if k + 1 == n {
                u.int_in_range(1..=0x1800u64).unwrap_or(1)
            } else {
                0x1000 * u.int_in_range(1..=3u64).unwrap_or(1) - off
            };
            if total + off + len > 0x10000 {
                break;
            }
            total += len;
            ents.push(Entry { phys: PhysAddr(page + off), len: len as u32 });
        }
        // the pages must not overlap one another for the byte check to mean anything
        let mut spans: Vec<(u64, u64)> =
            ents.iter().map(|e| (e.phys.0 & !0xfff, (e.phys.0 + e.len as u64 + 0xfff) & !0xfff)).collect();
        spans.sort_unstable();
        if ents.is_empty() || spans.windows(2).any(|w| w[0].1 > w[1].0) {
            return;
        }
        let domain = if fq { IommuDomainType::DmaFq } else { IommuDomainType::Dma };
        let c = cfg(domain, pci, mask);
        for (a, b) in PAIRS {
            sg_against_two_step(&c, &ents, DmaDir(dir_i), a, b)
                .unwrap_or_else(|e| panic!("{a:?} sg against {b:?} links of {ents:?} on {c:?}: {e}"));
        }
    });
}
