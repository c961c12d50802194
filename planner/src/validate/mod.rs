//! The rules that make an archipelago sound, beyond what each block says on
//! its own: names are unique, references resolve, each island can hold the
//! replicas and the quotas asked of it. What jobs on one host must agree
//! on is in `jobs.rs`.

mod jobs;

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::duration::Duration;
use crate::language::{Parsed, ReferenceKind};
use crate::model::{Archipelago, Chaton, Island, IslandParts};
use crate::size::Size;
use crate::source::Span;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// The first item seen under `key`, or `None` when this one is the first
/// (and is remembered): pairwise rules in one pass, linear in the file.
pub(super) fn first_seen<K: Hash + Eq, T: Copy>(
    seen: &mut HashMap<K, T>,
    key: K,
    item: T,
) -> Option<T> {
    match seen.entry(key) {
        std::collections::hash_map::Entry::Occupied(first) => Some(*first.get()),
        std::collections::hash_map::Entry::Vacant(slot) => {
            slot.insert(item);
            None
        }
    }
}

/// Runs every rule and returns what it found. Rules that add up the whole
/// island (zones, capacity) run only when every block decoded cleanly and
/// every reference resolved: on a partial model their verdict would be wrong.
pub fn validate(parsed: &Parsed) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let model = &parsed.archipelago;
    references(parsed, &mut out);
    let references_resolve = out.is_empty();
    duplicates(model, &mut out);
    backups_leave_their_island(model, &mut out);
    removed_jobs_are_gone(model, &mut out);
    nodes_are_distinct_machines(model, &mut out);
    machines_have_distinct_names(model, &mut out);
    rpc_addresses_are_distinct(model, &mut out);
    jobs::jobs_have_distinct_files(model, &mut out);
    jobs::one_restic_per_host(model, &mut out);
    jobs::local_repositories_stand_apart(model, &mut out);
    risky_but_legal(model, &mut out);
    backups_reach_s3_safely(model, &mut out);
    let decoded_cleanly =
        parsed.declared.every_file_parsed && !parsed.diagnostics.iter().any(Diagnostic::is_error);
    if decoded_cleanly && references_resolve {
        let by_island = model.by_island();
        for island in &model.islands {
            zones_cover_replication(island, by_island.of(&island.name), &mut out);
            quotas_fit(island, by_island.of(&island.name), &mut out);
        }
    }
    out
}

/// Reports every name seen twice in the same namespace.
fn report_duplicates<'a>(
    out: &mut Vec<Diagnostic>,
    what: &str,
    items: impl IntoIterator<Item = (String, &'a Span)>,
) {
    let mut seen: BTreeMap<String, &Span> = BTreeMap::new();
    for (name, span) in items {
        match seen.get(&name) {
            Some(first) => out.push(
                Diagnostic::error(
                    "duplicate-name",
                    span.clone(),
                    format!("{what} \"{name}\" is declared twice"),
                )
                .with_label("declared again here")
                .with_related((*first).clone(), "first declared here"),
            ),
            None => {
                seen.insert(name, span);
            }
        }
    }
}

fn duplicates(model: &Archipelago, out: &mut Vec<Diagnostic>) {
    report_duplicates(
        out,
        "island",
        model
            .islands
            .iter()
            .map(|i| (i.name.clone(), &i.origin.block)),
    );

    // A chaton declared twice with different islands is the "member of
    // several islands" mistake: say so, it is the more useful message.
    let mut chatons: BTreeMap<&str, &Chaton> = BTreeMap::new();
    for chaton in &model.chatons {
        match chatons.get(chaton.name.as_str()) {
            Some(first) if first.island != chaton.island => out.push(
                Diagnostic::error(
                    "chaton-in-several-islands",
                    chaton.origin.attribute("island"),
                    format!(
                        "chaton \"{}\" is a member of island \"{}\" and of island \"{}\"",
                        chaton.name, first.island, chaton.island
                    ),
                )
                .with_related(first.origin.attribute("island"), "first membership here")
                .with_help("a chaton belongs to one island: a compromised node exposes its whole island, so spreading a chaton over two islands ties their fates together"),
            ),
            Some(first) => out.push(
                Diagnostic::error("duplicate-name", chaton.origin.block.clone(), format!("chaton \"{}\" is declared twice", chaton.name))
                    .with_label("declared again here")
                    .with_related(first.origin.block.clone(), "first declared here")
                    .with_help("put all of a chaton's nodes and backups in one chaton block"),
            ),
            None => {
                chatons.insert(&chaton.name, chaton);
            }
        }
    }

    // Node names are global: they appear in addresses such as `node.pica-1`.
    report_duplicates(
        out,
        "node",
        model
            .chatons
            .iter()
            .flat_map(|c| &c.nodes)
            .map(|n| (n.name.clone(), &n.origin.block)),
    );
    for chaton in &model.chatons {
        report_duplicates(
            out,
            &format!("backup of chaton \"{}\"", chaton.name),
            chaton
                .backups
                .iter()
                .map(|b| (b.name.clone(), &b.origin.block)),
        );
    }
    // Bucket names are global aliases within their island.
    report_duplicates(
        out,
        "bucket",
        model.buckets.iter().map(|b| {
            (
                format!("{}\" on island \"{}", b.name, b.island),
                &b.origin.block,
            )
        }),
    );
}

fn undefined(
    out: &mut Vec<Diagnostic>,
    kind: &str,
    name: &str,
    span: Span,
    known: &std::collections::BTreeSet<String>,
) {
    let mut diagnostic = Diagnostic::error(
        "undefined-reference",
        span,
        format!("there is no {kind} \"{name}\""),
    );
    diagnostic.help = Some(match did_you_mean(name, known.iter().map(String::as_str)) {
        Some(s) => format!("did you mean \"{s}\"?"),
        None if known.is_empty() => {
            format!("no {kind} is declared; add a `{kind} \"{name}\" {{ … }}` block")
        }
        None => format!(
            "declared {kind}s: {}",
            known
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    });
    out.push(diagnostic);
}

fn references(parsed: &Parsed, out: &mut Vec<Diagnostic>) {
    if !parsed.declared.every_file_parsed {
        // The missing name may well be in the file that did not parse.
        return;
    }
    for reference in &parsed.declared.references {
        let (kind, known) = match reference.kind {
            ReferenceKind::Island => ("island", &parsed.declared.islands),
            ReferenceKind::Chaton => ("chaton", &parsed.declared.chatons),
        };
        if !known.contains(&reference.name) {
            undefined(out, kind, &reference.name, reference.span.clone(), known);
        }
    }
}

fn backups_leave_their_island(model: &Archipelago, out: &mut Vec<Diagnostic>) {
    for chaton in &model.chatons {
        for backup in chaton.backups.iter().filter(|b| b.to == chaton.island) {
            out.push(
                Diagnostic::error(
                    "backup-to-own-island",
                    backup.origin.attribute("to"),
                    format!(
                        "backup \"{}\" of chaton \"{}\" goes to its own island \"{}\"",
                        backup.name, chaton.name, backup.to
                    ),
                )
                .with_related(chaton.origin.attribute("island"), "the chaton is a member here")
                .with_help("an off-site backup goes to an island the chaton does not run: a compromised member must not reach both the data and its backups"),
            );
        }
    }
}

/// A `removed` block names a job the chaton no longer declares.
fn removed_jobs_are_gone(model: &Archipelago, out: &mut Vec<Diagnostic>) {
    for chaton in &model.chatons {
        for removed in &chaton.removed {
            if let Some(backup) = chaton.backups.iter().find(|b| b.name == removed.name) {
                out.push(
                    Diagnostic::error(
                        "removed-still-declared",
                        removed.origin.block.clone(),
                        format!(
                            "backup \"{}\" of chaton \"{}\" is both declared and removed",
                            removed.name, chaton.name
                        ),
                    )
                    .with_related(backup.origin.block.clone(), "declared here")
                    .with_help("keep the `backup` block to run the job, or the `removed` block to take it off its host"),
                );
            }
        }
    }
}

fn nodes_are_distinct_machines(model: &Archipelago, out: &mut Vec<Diagnostic>) {
    let mut seen = HashMap::new();
    for node in model.chatons.iter().flat_map(|c| &c.nodes) {
        if let Some(first) = first_seen(&mut seen, node.ssh.machine_key(), node) {
            out.push(
                Diagnostic::error(
                    "duplicate-ssh-target",
                    node.origin.attribute("ssh"),
                    format!(
                        "nodes \"{}\" and \"{}\" are the same machine ({})",
                        first.name, node.name, node.ssh
                    ),
                )
                .with_related(first.origin.attribute("ssh"), "first used here")
                .with_help(
                    "one Garage node per machine: two roles on one disk would fake a replica",
                ),
            );
        }
    }
}

/// A machine's name is its address in plans and the place its files are
/// kept: two different machines may not share one (a node "node3" and a
/// backup host reached as `root@node3` through another address).
fn machines_have_distinct_names(model: &Archipelago, out: &mut Vec<Diagnostic>) {
    let machines = model.machines();
    let mut seen = HashMap::new();
    for machine in &machines {
        let first = first_seen(&mut seen, machine.name.as_str(), machine);
        // Two nodes of one name are a duplicate-name already.
        if let Some(first) = first.filter(|m| m.node.is_none() || machine.node.is_none()) {
            let span = |m: &crate::model::Machine| machine_span(model, m);
            out.push(
                Diagnostic::error(
                    "duplicate-machine-name",
                    span(machine),
                    format!(
                        "two different machines are both named \"{}\" ({} and {})",
                        machine.name, first.ssh, machine.ssh
                    ),
                )
                .with_related(span(first), "the other one")
                .with_help(
                    "if they are one machine, write its SSH address the same way in both places; if not, name the node differently",
                ),
            );
        }
    }
}

/// Where a machine is written first: its node's `ssh`, or its first
/// backup's (or removed job's) `host`.
fn machine_span(model: &Archipelago, machine: &crate::model::Machine) -> Span {
    for chaton in &model.chatons {
        if let Some(node) = chaton
            .nodes
            .iter()
            .find(|n| Some(&n.name) == machine.node.as_ref())
        {
            return node.origin.attribute("ssh");
        }
    }
    let hosts = model.chatons.iter().flat_map(|c| {
        c.backups
            .iter()
            .map(|b| (&b.host, &b.origin))
            .chain(c.removed.iter().map(|r| (&r.host, &r.origin)))
    });
    for (host, origin) in hosts {
        if host.same_machine(&machine.ssh) {
            return origin.attribute("host");
        }
    }
    Span::default()
}

/// Garage nodes find each other at their RPC address: two nodes at one
/// address (two machines behind one NAT address, told apart only by their
/// SSH port) would each reach the other as itself.
fn rpc_addresses_are_distinct(model: &Archipelago, out: &mut Vec<Diagnostic>) {
    let mut nodes = Vec::new();
    for chaton in &model.chatons {
        let Some(island) = model.island(&chaton.island) else {
            continue;
        };
        for node in &chaton.nodes {
            let address = crate::garage::rpc_public_addr(island, node).to_ascii_lowercase();
            nodes.push((node, address));
        }
    }
    let mut seen = HashMap::new();
    for (node, address) in &nodes {
        let first = first_seen(&mut seen, address.as_str(), *node);
        // One machine twice is a duplicate-ssh-target already.
        if let Some(first) = first.filter(|n| !n.ssh.same_machine(&node.ssh)) {
            let span = node
                .origin
                .attributes
                .get("rpc_public_addr")
                .unwrap_or(&node.origin.attribute("ssh"))
                .clone();
            out.push(
                Diagnostic::error(
                    "duplicate-rpc-address",
                    span,
                    format!(
                        "nodes \"{}\" and \"{}\" have the same RPC address {address}",
                        first.name, node.name
                    ),
                )
                .with_related(first.origin.attribute("ssh"), "the other node")
                .with_help(
                    "behind one address, give each node its own `rpc_public_addr = \"HOST:PORT\"`, with a port forwarded to its RPC port",
                ),
            );
        }
    }
}

/// Backups sent in clear over a public network: legal, and worth a warning
/// on the island's `s3_endpoint` (or its block, when it has none).
fn backups_reach_s3_safely(model: &Archipelago, out: &mut Vec<Diagnostic>) {
    let by_island = model.by_island();
    for island in &model.islands {
        let parts = by_island.of(&island.name);
        if parts.backups.is_empty() {
            continue;
        }
        for risk in crate::endpoints::s3_risks(island, parts) {
            out.push(Diagnostic::warning(
                "cleartext-s3",
                island.origin.attribute("s3_endpoint"),
                risk,
            ));
        }
    }
}

fn zones_cover_replication(island: &Island, parts: &IslandParts, out: &mut Vec<Diagnostic>) {
    let zones: Vec<&str> = parts
        .members
        .iter()
        .filter(|c| !c.nodes.is_empty())
        .map(|c| c.name.as_str())
        .collect();
    let factor = usize::from(island.garage.replication_factor);
    let listed = if zones.is_empty() {
        "none".to_string()
    } else {
        zones.join(", ")
    };
    let span = island.garage.origin.attribute("replication_factor");
    if zones.len() < factor {
        out.push(
            Diagnostic::error(
                "too-few-zones",
                span,
                format!(
                    "island \"{}\" keeps {factor} copies of each object but has {} zone{} (chatons with storage nodes: {listed})",
                    island.name,
                    zones.len(),
                    if zones.len() == 1 { "" } else { "s" },
                ),
            )
            .with_help("Garage puts each copy in a different zone (chaton): add chatons with nodes to this island, or lower replication_factor before the island is first applied"),
        );
    } else if zones.len() == factor && factor > 1 {
        out.push(
            Diagnostic::warning(
                "no-spare-zone",
                span,
                format!(
                    "island \"{}\" has exactly {factor} zones for {factor} copies ({listed}): while one chaton's nodes are down, writes that need every zone wait",
                    island.name
                ),
            )
            .with_help("one more chaton with storage leaves room to lose one"),
        );
    }
}

fn quotas_fit(island: &Island, parts: &IslandParts, out: &mut Vec<Diagnostic>) {
    let capacity = crate::capacity::island_capacity(island, parts);
    if capacity.zones.len() < usize::from(capacity.replication_factor) {
        return; // too-few-zones says why nothing fits
    }
    let quotas = crate::capacity::quotas(parts);
    let total = capacity.promised;
    if total > capacity.usable {
        let zones = capacity
            .zones
            .iter()
            .map(|zone| format!("{} {}", zone.zone, Size(zone.bytes).rounded()))
            .collect::<Vec<_>>()
            .join(", ");
        let mut help = format!(
            "Garage keeps {} copies of each object in {} different zones (zones: {zones}), so the island holds about {}, not its {} of storage divided by {}; quotas: ",
            capacity.replication_factor,
            capacity.zone_redundancy,
            Size(capacity.usable).rounded(),
            Size(capacity.raw).rounded(),
            capacity.replication_factor,
        );
        help.push_str(
            &quotas
                .iter()
                .map(|(what, q)| format!("{what} {}", Size(*q)))
                .collect::<Vec<_>>()
                .join(", "),
        );
        out.push(
            Diagnostic::error(
                "quota-exceeds-capacity",
                island.origin.block.clone(),
                format!(
                    "island \"{}\" promises {} of quotas but can hold about {}",
                    island.name,
                    Size(total),
                    Size(capacity.usable).rounded()
                ),
            )
            .with_help(help),
        );
    }
}

/// Below a week, a compromise noticed on Monday morning may already have
/// reached the vault.
const SHORT_VAULT_GRACE: Duration = Duration::from_seconds(7 * 86_400);

fn vault_settings(chaton: &Chaton, out: &mut Vec<Diagnostic>) {
    let span = || {
        chaton
            .vault
            .origin
            .clone()
            .unwrap_or_else(|| chaton.origin.block.clone())
    };
    if !chaton.vault.enabled && !chaton.backups.is_empty() {
        out.push(
            Diagnostic::warning(
                "no-vault",
                span(),
                format!(
                    "chaton \"{}\" has no vault: whoever takes one of its backup hosts can delete its off-site backups with that host's key",
                    chaton.name
                ),
            )
            .with_help("remove `vault = false` to keep a copy on the destination island that no backup host can delete"),
        );
    } else if chaton.vault.enabled && chaton.vault.keep_deleted < SHORT_VAULT_GRACE {
        out.push(
            Diagnostic::warning(
                "short-vault-grace",
                span(),
                format!(
                    "chaton \"{}\"'s vault keeps deleted objects for {} only: a compromise noticed later than that loses the backups it deleted",
                    chaton.name, chaton.vault.keep_deleted
                ),
            )
            .with_help("keep them at least a week, e.g. `vault { keep_deleted = \"30d\" }`"),
        );
    }
}

fn risky_but_legal(model: &Archipelago, out: &mut Vec<Diagnostic>) {
    for island in &model.islands {
        if island.garage.replication_factor == 1 {
            out.push(
                Diagnostic::warning(
                    "no-redundancy",
                    island.garage.origin.attribute("replication_factor"),
                    format!("island \"{}\" keeps a single copy of each object: losing one disk loses backups", island.name),
                )
                .with_help("replication_factor = 3 is Garage's recommended setting"),
            );
        }
    }
    for chaton in &model.chatons {
        if chaton.escrow.is_none() && !chaton.backups.is_empty() {
            out.push(
                Diagnostic::warning(
                    "no-escrow",
                    chaton.origin.block.clone(),
                    format!(
                        "chaton \"{}\" has no `escrow` recipients: its repository passwords live only on their backup hosts, and losing a host loses its backups",
                        chaton.name
                    ),
                )
                .with_help("add its admins' public keys, e.g. `escrow = [\"age1…\", \"ssh-ed25519 AAAA… admin@example.org\"]`; `escrow = []` opts out on purpose"),
            );
        }
        vault_settings(chaton, out);
        for backup in chaton.backups.iter().filter(|b| b.keep.is_empty()) {
            out.push(
                Diagnostic::warning(
                    "no-retention",
                    backup.origin.block.clone(),
                    format!(
                        "backup \"{}\" of chaton \"{}\" has no `keep` policy: snapshots are never forgotten and the repository grows until it hits its quota",
                        backup.name, chaton.name
                    ),
                )
                .with_help("add e.g. `keep = { daily = 7, weekly = 4, monthly = 6 }`"),
            );
        }
    }
    for bucket in &model.buckets {
        if bucket.quota.is_none() {
            out.push(
                Diagnostic::warning(
                    "no-quota",
                    bucket.origin.block.clone(),
                    format!(
                        "bucket \"{}\" has no quota: it can fill its island",
                        bucket.name
                    ),
                )
                .with_help("add e.g. `quota = \"100G\"`"),
            );
        }
    }
}
