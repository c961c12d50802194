//! How backup hosts reach an island's S3: the addresses their repositories
//! name, and what is risky about them (one address for all, or the
//! internet in clear).

use crate::garage;
use crate::model::{Island, IslandParts, Node};

/// Where backups reach an island's S3: the file's `s3_endpoint` (a load
/// balancer, or a name that resolves to several nodes), or else every
/// member node's S3 port at the address the other nodes use, in file
/// order. The job's repository names the first; its runner moves to the
/// next one that answers when that one does not, so a job survives a node
/// being down.
pub fn s3_endpoints(island: &Island, parts: &IslandParts) -> Vec<String> {
    if let Some(endpoint) = &island.s3_endpoint {
        return vec![endpoint.trim_end_matches('/').to_string()];
    }
    let mut endpoints: Vec<String> = Vec::new();
    for node in parts.members.iter().flat_map(|c| &c.nodes) {
        let endpoint = format!("http://{}:{}", s3_host(island, node), island.garage.s3_port);
        if !endpoints.contains(&endpoint) {
            endpoints.push(endpoint);
        }
    }
    if endpoints.is_empty() {
        endpoints.push(format!("http://localhost:{}", island.garage.s3_port));
    }
    endpoints
}

/// The host part of a node's RPC address, where its S3 port listens too.
fn s3_host(island: &Island, node: &Node) -> String {
    let addr = garage::rpc_public_addr(island, node);
    match addr.rsplit_once(':') {
        Some((host, _)) => host.to_string(),
        None => addr,
    }
}

/// What may be wrong with how backups reach an island's S3, one sentence
/// each: for `validate`'s warnings and the plan's. Backups through one
/// address are lost with it; over the internet in clear, they are readable
/// (encrypted by restic) and their S3 requests alterable in transit.
pub fn s3_risks(island: &Island, parts: &IslandParts) -> Vec<String> {
    let endpoints = s3_endpoints(island, parts);
    let mut risks = Vec::new();
    let clear: Vec<&String> = endpoints
        .iter()
        .filter(|e| e.starts_with("http://") && !is_private_endpoint(e))
        .collect();
    if !clear.is_empty() {
        risks.push(format!(
            "backups to island \"{}\" reach S3 in clear over a public network ({}): restic encrypts the data, but S3 keys' signatures and the traffic are exposed; set `s3_endpoint` to an https:// address (a reverse proxy in front of the nodes)",
            island.name,
            clear.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    risks
}

/// Whether an endpoint's host is on a private network: RFC 1918 and
/// shared (100.64/10) IPv4, loopback, IPv6 unique-local and link-local,
/// and the names reserved for private use.
fn is_private_endpoint(endpoint: &str) -> bool {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return match ip {
            std::net::IpAddr::V4(v4) => {
                v4.is_private()
                    || v4.is_loopback()
                    || v4.is_link_local()
                    || (v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]))
            }
            std::net::IpAddr::V6(v6) => {
                v6.is_loopback()
                    || (v6.segments()[0] & 0xfe00) == 0xfc00
                    || (v6.segments()[0] & 0xffc0) == 0xfe80
            }
        };
    }
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || !host.contains('.')
        || [".lan", ".internal", ".home.arpa", ".local", ".localhost"]
            .iter()
            .any(|suffix| host.ends_with(suffix))
}
