//! How much an island can hold, computed the way Garage's layout does.
//!
//! Garage cuts the data into 256 partitions and places `replication_factor`
//! copies of each on distinct nodes, spread over at least `zone_redundancy`
//! zones (by default "maximum": as many zones as copies, when there are that
//! many). It then picks the largest partition size for which such a
//! placement exists within every node's capacity: the island's usable
//! capacity is 256 times that size. With uneven zones this is far less than
//! the raw total divided by the replication factor: three copies over zones
//! of 3.5T, 500G and 8TiB hold about 500G, since every object needs a copy
//! in the small zone.
//!
//! Whether a partition size fits is a max-flow question (Garage's own
//! algorithm builds that graph per partition). Partitions are alike, so the
//! graph folds into one with a closed-form minimum cut, checked below.

use crate::model::{Island, IslandParts};
use serde::{Deserialize, Serialize};

/// Garage's number of partitions (`PARTITION_BITS = 8`).
const PARTITIONS: u64 = 256;

/// An island's storage as Garage will lay it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    pub island: String,
    /// Sum of the nodes' capacities.
    #[serde(rename = "raw_bytes")]
    pub raw: u64,
    /// What the island can store, each object counted once.
    #[serde(rename = "usable_bytes")]
    pub usable: u64,
    /// Zones holding storage, with the sum of their nodes' capacities.
    pub zones: Vec<ZoneStorage>,
    pub replication_factor: u8,
    /// How many distinct zones hold the copies of each object.
    pub zone_redundancy: usize,
    /// The quotas the file promises on the island: its backups' and buckets'.
    #[serde(rename = "promised_bytes")]
    pub promised: u64,
}

/// A zone (a chaton) and the storage its nodes give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneStorage {
    pub zone: String,
    pub bytes: u64,
}

/// Each quota an island promises: `backup CHATON/JOB`, `vault CHATON/JOB`
/// (its copy in the chaton's vault) or `bucket NAME`,
/// with its size. Buckets without a quota promise nothing.
pub fn quotas(parts: &IslandParts) -> Vec<(String, u64)> {
    let backups = parts
        .backups
        .iter()
        .map(|(c, b)| (format!("backup {}/{}", c.name, b.name), b.quota.bytes()));
    // A vault holds a copy of its jobs' repositories: as much again (what
    // waits out its grace period is not counted: prune frees as much).
    let vaults = parts
        .backups
        .iter()
        .filter(|(c, _)| c.vault.enabled)
        .map(|(c, b)| (format!("vault {}/{}", c.name, b.name), b.quota.bytes()));
    let buckets = parts
        .buckets
        .iter()
        .filter_map(|b| Some((format!("bucket {}", b.name), b.quota?.bytes())));
    backups.chain(vaults).chain(buckets).collect()
}

/// The usable capacity of an island of the archipelago, from its parts
/// ([`crate::model::Archipelago::by_island`]).
pub fn island_capacity(island: &Island, parts: &IslandParts) -> Capacity {
    let zones: Vec<(String, Vec<u64>)> = parts
        .members
        .iter()
        .filter(|c| !c.nodes.is_empty())
        .map(|c| {
            let nodes = c.nodes.iter().map(|n| n.capacity.bytes()).collect();
            (c.name.clone(), nodes)
        })
        .collect();
    let replication = usize::from(island.garage.replication_factor);
    // "maximum", Garage's default, which archipel keeps.
    let zone_redundancy = replication.min(zones.len());
    Capacity {
        island: island.name.clone(),
        raw: zones.iter().flat_map(|(_, nodes)| nodes).sum(),
        usable: usable(&zones, replication, zone_redundancy),
        zones: zones
            .iter()
            .map(|(name, nodes)| ZoneStorage {
                zone: name.clone(),
                bytes: nodes.iter().sum(),
            })
            .collect(),
        replication_factor: island.garage.replication_factor,
        zone_redundancy,
        promised: quotas(parts).iter().map(|(_, q)| q).sum(),
    }
}

/// 256 × the largest partition size that fits, or 0 when none does (fewer
/// nodes or zones than the copies need).
fn usable(zones: &[(String, Vec<u64>)], replication: usize, zone_redundancy: usize) -> u64 {
    let largest = zones
        .iter()
        .flat_map(|(_, nodes)| nodes)
        .copied()
        .max()
        .unwrap_or(0);
    if replication == 0 || !fits(zones, replication, zone_redundancy, 1) {
        return 0;
    }
    // Fitting is monotone in the size: the largest fitting one by bisection.
    let (mut low, mut high) = (1u64, largest + 1);
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if fits(zones, replication, zone_redundancy, middle) {
            low = middle;
        } else {
            high = middle;
        }
    }
    low * PARTITIONS
}

/// Whether every partition can have its copies at `partition_size` bytes.
///
/// A node holds at most one copy of a partition, so at most
/// `min(capacity / size, 256)` partitions ("tokens"); a zone's tokens are
/// its nodes'. Per partition, `zone_redundancy` copies go to distinct zones
/// (at most one each) and the other `replication - zone_redundancy` anywhere
/// (at most that many per zone). The folded network's minimum cut is the
/// least of four sums; the placement exists when none is below the copies
/// needed. With `a_z` a zone's tokens, `N` = 256, `R` the replication, `Z`
/// the zone redundancy:
/// - Σ min(a_z, N) ≥ Z·N: enough zones for the copies that must be apart;
/// - Σ min(a_z, (R−Z)·N) ≥ (R−Z)·N;
/// - Σ min(a_z, (R−Z+1)·N) ≥ R·N: no zone takes more than its share.
fn fits(
    zones: &[(String, Vec<u64>)],
    replication: usize,
    zone_redundancy: usize,
    partition_size: u64,
) -> bool {
    let n = PARTITIONS;
    let tokens: Vec<u64> = zones
        .iter()
        .map(|(_, nodes)| {
            nodes
                .iter()
                .map(|capacity| (capacity / partition_size).min(n))
                .sum()
        })
        .collect();
    let (r, z) = (replication as u64, zone_redundancy as u64);
    let cut = |cap: u64| tokens.iter().map(|&a| a.min(cap)).sum::<u64>();
    cut(n) >= z * n && cut((r - z) * n) >= (r - z) * n && cut((r - z + 1) * n) >= r * n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zones(list: &[&[u64]]) -> Vec<(String, Vec<u64>)> {
        list.iter()
            .enumerate()
            .map(|(i, nodes)| (format!("z{i}"), nodes.to_vec()))
            .collect()
    }

    const G: u64 = 1_000_000_000;
    const T: u64 = 1_000 * G;

    #[test]
    fn even_zones_hold_the_total_over_the_copies() {
        let even = zones(&[&[T], &[T], &[T]]);
        let usable = usable(&even, 3, 3);
        // 256 partitions of floor(1T / 1) … within a partition's rounding.
        assert!(usable <= T && usable > T - T / 256, "{usable}");
    }

    #[test]
    fn every_copy_in_its_own_zone_is_bounded_by_the_smallest_zone() {
        // The case that showed the flaw: 3.5T, 500G and 8TiB, three copies.
        let uneven = zones(&[&[3_500 * G], &[500 * G], &[8 << 40]]);
        let usable = usable(&uneven, 3, 3);
        assert!(usable <= 500 * G && usable > 495 * G, "{usable}");
        // An eighth of the old estimate, the sum over the copies (≈ 4.3T).
        assert!(usable < (3_500 * G + 500 * G + (8 << 40)) / 3 / 8);
    }

    #[test]
    fn spare_zones_share_the_copies() {
        // Four zones, three copies: the small one can be skipped, so the
        // three big ones carry it all (3T / 3 copies … bounded by 1T each).
        let four = zones(&[&[T], &[T], &[T], &[100 * G]]);
        let usable = usable(&four, 3, 3);
        assert!(usable > T && usable <= T + 100 * G / 2, "{usable}");
    }

    #[test]
    fn a_zone_of_several_nodes_holds_one_copy_per_node_at_most() {
        // Two copies, one zone of two nodes: zone redundancy 1 lets both
        // copies live in that zone, on its two nodes.
        let one_zone = zones(&[&[T, T]]);
        let usable = usable(&one_zone, 2, 1);
        assert!(usable <= T && usable > T - T / 256, "{usable}");
        // Too few nodes for the copies: nothing fits.
        assert_eq!(usable_of(&[&[T]], 2, 1), 0);
    }

    fn usable_of(list: &[&[u64]], replication: usize, redundancy: usize) -> u64 {
        usable(&zones(list), replication, redundancy)
    }

    #[test]
    fn one_copy_is_the_sum() {
        // Within the rounding of 256 partitions over two nodes.
        let usable = usable_of(&[&[1_000_000], &[2_000_000]], 1, 1);
        assert!((2_985_000..=3_000_000).contains(&usable), "{usable}");
    }
}
