//! Garage on a node: its binary, user and directories, config, secrets,
//! unit and service.

use super::files::{ownership, show_ownership};
use super::{Action, Builder, FileChange, NodeStep, SENSITIVE, Target};
use crate::desired::{DesiredIsland, DesiredNode};
use crate::garage;
use crate::observed::{FileFacts, HostFacts};

pub(super) fn plan_node(
    island: &DesiredIsland,
    node: &DesiredNode,
    facts: &HostFacts,
    b: &mut Builder,
) {
    let kind = |step| Target::Node {
        island: island.name.clone(),
        node: node.name.clone(),
        step,
    };
    let missing = FileFacts::Missing;
    let file = |path: &str| facts.files.get(path).unwrap_or(&missing);
    let mut restart_for: Vec<&str> = Vec::new();

    // The binary.
    let live_version = facts
        .probes
        .get(garage::VERSION_PROBE.0)
        .filter(|p| p.status == 0)
        .map(|p| p.output.clone());
    match file(garage::BINARY) {
        FileFacts::File { sha256, .. }
            if sha256.as_deref() == Some(island.binary_sha256.as_str()) => {}
        FileFacts::File { sha256, .. } => {
            restart_for.push("binary");
            b.add(
                kind(NodeStep::Binary),
                Action::Update,
                "the installed Garage is not the pinned binary",
            )
            .attribute("version", live_version, Some(island.version.clone()))
            .attribute("sha256", sha256.clone(), Some(island.binary_sha256.clone()));
        }
        _ => {
            b.add(
                kind(NodeStep::Binary),
                Action::Create,
                "Garage is not installed",
            )
            .attribute("version", None, Some(island.version.clone()))
            .attribute("sha256", None, Some(island.binary_sha256.clone()));
        }
    }

    // The garage user and its directories.
    let user_exists = facts
        .probes
        .get(garage::USER_PROBE.0)
        .is_some_and(|p| p.status == 0);
    let mut directories = Vec::new();
    for dir in [&node.meta_dir, &node.data_dir] {
        let live =
            ownership(file(dir)).filter(|_| matches!(file(dir), FileFacts::Directory { .. }));
        if live != Some(garage::DIRECTORY_OWNER) {
            directories.push((dir.clone(), live.map(show_ownership)));
        }
    }
    if !user_exists || !directories.is_empty() {
        let creating = !user_exists;
        let change = b.add(
            kind(NodeStep::Directories),
            if creating {
                Action::Create
            } else {
                Action::Update
            },
            if creating {
                "the garage system user and its directories do not exist"
            } else {
                "Garage's directories are missing or not private to the garage user"
            },
        );
        if !user_exists {
            change.attribute("user", None, Some(garage::USER.into()));
        }
        for (dir, live) in directories {
            change.attribute(&dir, live, Some(show_ownership(garage::DIRECTORY_OWNER)));
        }
    }

    // Text files: config and unit.
    for (path, desired_text, step, why) in [
        (garage::CONFIG, &node.config, NodeStep::Config, "config"),
        (garage::UNIT, &node.unit, NodeStep::Unit, "unit"),
    ] {
        let wanted_owner = if step == NodeStep::Config {
            garage::CONFIG_OWNER
        } else {
            ("root", "root", "644")
        };
        match file(path) {
            FileFacts::File { content, .. } => {
                let live = ownership(file(path));
                let text_differs = content.as_deref() != Some(desired_text.as_str());
                let owner_differs = live != Some(wanted_owner);
                if text_differs || owner_differs {
                    if text_differs {
                        restart_for.push(why);
                    }
                    let change = b.add(
                        kind(step),
                        Action::Update,
                        if text_differs {
                            format!("{path} differs from the file's")
                        } else {
                            format!("{path} has the wrong owner or mode")
                        },
                    );
                    if text_differs {
                        change.file = Some(FileChange {
                            path: path.to_string(),
                            before: content.clone(),
                            after: desired_text.clone(),
                        });
                    }
                    if owner_differs {
                        change.attribute(
                            "owner",
                            live.map(show_ownership),
                            Some(show_ownership(wanted_owner)),
                        );
                    }
                }
            }
            _ => {
                b.add(kind(step), Action::Create, format!("{path} does not exist"))
                    .file = Some(FileChange {
                    path: path.to_string(),
                    before: None,
                    after: desired_text.clone(),
                });
            }
        }
    }

    // Secrets: present, private; never read.
    let mut secret_attributes = Vec::new();
    let mut secrets_missing = false;
    for (path, name) in [
        (garage::RPC_SECRET, "rpc_secret"),
        (garage::ADMIN_TOKEN, "admin_token"),
    ] {
        match file(path) {
            FileFacts::File { .. } => {
                let live = ownership(file(path));
                if live != Some(garage::SECRET_OWNER) {
                    secret_attributes.push((
                        format!("{name} owner"),
                        live.map(show_ownership),
                        Some(show_ownership(garage::SECRET_OWNER)),
                    ));
                }
            }
            _ => {
                secrets_missing = true;
                secret_attributes.push((name.to_string(), None, Some(SENSITIVE.to_string())));
            }
        }
    }
    if !secret_attributes.is_empty() {
        let change = b.add(
            kind(NodeStep::Secrets),
            if secrets_missing { Action::Create } else { Action::Update },
            if secrets_missing {
                "Garage's secrets are not on the node (generated for a new island, copied from the island's nodes otherwise)"
            } else {
                "Garage's secret files must be private to the garage user (Garage refuses to start otherwise)"
            },
        );
        for (name, before, after) in secret_attributes {
            change.attribute(&name, before, after);
        }
    }

    // The service.
    let unit = facts.units.get(garage::SERVICE);
    let running = unit.is_some_and(|u| u.installed && u.is_enabled() && u.is_active());
    // A file changed after Garage started (an apply interrupted between
    // writing it and restarting, or a hand edit since reverted to the
    // file's): the daemon still runs the old one.
    if let Some(since) = unit.and_then(|u| u.active_since) {
        for (path, what) in [
            (garage::BINARY, "binary"),
            (garage::CONFIG, "config"),
            (garage::UNIT, "unit"),
        ] {
            let changed_later =
                matches!(file(path), FileFacts::File { modified: Some(m), .. } if *m > since);
            if changed_later && !restart_for.contains(&what) {
                restart_for.push(what);
            }
        }
    }
    if !running {
        let change = b.add(
            kind(NodeStep::Service),
            Action::Create,
            "garage.service is not enabled and running",
        );
        change.attribute(
            "state",
            unit.filter(|u| u.installed)
                .map(|u| format!("{}, {}", u.enabled, u.active)),
            Some("enabled, active".into()),
        );
    } else if !restart_for.is_empty() {
        b.add(
            kind(NodeStep::Service),
            Action::Update,
            format!(
                "restart to load the new {} (one node of the island at a time)",
                restart_for.join(" and ")
            ),
        );
    }
}
