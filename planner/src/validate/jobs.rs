//! What the backup jobs of one host must agree on: their files' names,
//! their restic, and where their local repositories are.

use super::first_seen;
use crate::diagnostic::Diagnostic;
use crate::model::{Archipelago, Backup, Chaton};
use std::collections::{BTreeMap, HashMap};

fn jobs(model: &Archipelago) -> Vec<(&Chaton, &Backup)> {
    model
        .chatons
        .iter()
        .flat_map(|c| c.backups.iter().map(move |b| (c, b)))
        .collect()
}

/// A job's files and units on its host are named `CHATON-JOB`: chaton "a"
/// with job "b-c" and chaton "a-b" with job "c" would share them (one
/// password overwriting the other). Renaming jobs already deployed would
/// need their passwords and escrows carried over, so such pairs are refused.
pub(super) fn jobs_have_distinct_files(model: &Archipelago, out: &mut Vec<Diagnostic>) {
    let jobs = jobs(model);
    let mut seen = HashMap::new();
    for &(chaton, backup) in &jobs {
        let id = crate::backup::job_id(&chaton.name, &backup.name);
        let key = (backup.host.machine_key(), id.clone());
        let clash =
            first_seen(&mut seen, key, (chaton, backup)).filter(|(c, _)| c.name != chaton.name);
        if let Some((first_chaton, first)) = clash {
            out.push(
                Diagnostic::error(
                    "job-name-collision",
                    backup.origin.block.clone(),
                    format!(
                        "backup \"{}\" of chaton \"{}\" and backup \"{}\" of chaton \"{}\" would share their files and units on {} (archipel-*-{id}, {id}.password)",
                        backup.name, chaton.name, first.name, first_chaton.name, backup.host.machine_name()
                    ),
                )
                .with_related(first.origin.block.clone(), "the other job")
                .with_help("rename one of the two jobs"),
            );
        }
    }
}

/// A host has one restic: its backup jobs must agree on where it comes from.
pub(super) fn one_restic_per_host(model: &Archipelago, out: &mut Vec<Diagnostic>) {
    let backups = jobs(model);
    let mut seen = HashMap::new();
    for &(chaton, backup) in &backups {
        let first = first_seen(&mut seen, backup.host.machine_key(), (chaton, backup));
        if let Some((first_chaton, first)) = first.filter(|(_, b)| b.restic != backup.restic) {
            out.push(
                Diagnostic::error(
                    "conflicting-restic",
                    backup.origin.attribute("restic"),
                    format!(
                        "backup \"{}\" of chaton \"{}\" wants another restic than backup \"{}\" of chaton \"{}\" on the same host ({})",
                        backup.name, chaton.name, first.name, first_chaton.name, backup.host
                    ),
                )
                .with_related(first.origin.attribute("restic"), "the other one")
                .with_help("a host has one restic: give its backups the same `restic`"),
            );
        }
    }
}

/// Whether `path` is `base` or under it.
fn within(path: &str, base: &str) -> bool {
    let base = base.trim_end_matches('/');
    path == base || base.is_empty() || path.strip_prefix(base).is_some_and(|r| r.starts_with('/'))
}

/// A job's local repository stands apart on its host: not inside what a
/// job of that host backs up (the repository would back itself up, or
/// another job would carry it to its island), and not another job's.
pub(super) fn local_repositories_stand_apart(model: &Archipelago, out: &mut Vec<Diagnostic>) {
    let jobs = jobs(model);
    let mut by_host: BTreeMap<(String, u16), Vec<(&Chaton, &Backup)>> = BTreeMap::new();
    for &(chaton, backup) in &jobs {
        by_host
            .entry(backup.host.machine_key())
            .or_default()
            .push((chaton, backup));
    }
    for host_jobs in by_host.values() {
        for &(chaton, backup) in host_jobs {
            let Some(local) = &backup.local else {
                continue;
            };
            let span = local.origin.attribute("path");
            for &(other_chaton, other) in host_jobs {
                let same = std::ptr::eq(other, backup);
                if let Some(path) = other.paths.iter().find(|p| within(&local.path, p)) {
                    let whose = if same {
                        "the job's own".to_string()
                    } else {
                        format!(
                            "backup \"{}\" of chaton \"{}\"'s",
                            other.name, other_chaton.name
                        )
                    };
                    out.push(
                        Diagnostic::error(
                            "local-inside-paths",
                            span.clone(),
                            format!(
                                "the local repository {} is inside {whose} path {path}: it would be backed up with it",
                                local.path
                            ),
                        )
                        .with_related(other.origin.attribute("paths"), "the paths")
                        .with_help("keep the local repository outside every path the host backs up, e.g. on its own disk"),
                    );
                }
                let shared = other.local.as_ref().filter(|o| {
                    !same && (within(&o.path, &local.path) || within(&local.path, &o.path))
                });
                if let Some(shared) = shared
                    && (chaton.name.as_str(), backup.name.as_str())
                        < (other_chaton.name.as_str(), other.name.as_str())
                {
                    out.push(
                        Diagnostic::error(
                            "duplicate-local",
                            span.clone(),
                            format!(
                                "backup \"{}\" of chaton \"{}\" keeps its local repository at {}, where backup \"{}\" of chaton \"{}\" keeps its own ({})",
                                backup.name, chaton.name, local.path, other.name, other_chaton.name, shared.path
                            ),
                        )
                        .with_related(shared.origin.attribute("path"), "the other one")
                        .with_help("give each job's local repository its own directory"),
                    );
                }
            }
            keeps_no_more_than_the_island(backup, out);
        }
    }
}

/// `restic copy` sends every snapshot the island's repository lacks: one
/// the island's prune already forgot, because the local repository keeps
/// more of them, would be sent again on every copy.
fn keeps_no_more_than_the_island(backup: &Backup, out: &mut Vec<Diagnostic>) {
    let Some(keep) = backup.local.as_ref().and_then(|l| l.keep.as_ref()) else {
        return;
    };
    let more: Vec<&str> = crate::model::Keep::FIELDS
        .iter()
        .copied()
        .filter(|field| match (keep.get(field), backup.keep.get(field)) {
            (Some(local), Some(island)) => local > island,
            (Some(_), None) => true,
            _ => false,
        })
        .collect();
    if !more.is_empty() {
        let origin = backup.local.as_ref().map(|l| &l.origin);
        out.push(
            Diagnostic::warning(
                "local-keeps-more",
                origin.map_or(backup.origin.block.clone(), |o| o.attribute("keep")),
                format!(
                    "the local repository keeps more snapshots than the island's ({}): each copy would send again those the island's prune forgot",
                    more.join(", ")
                ),
            )
            .with_help("keep at most as many snapshots locally as on the island (the local copy is the recent one)"),
        );
    }
}
