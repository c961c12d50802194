//! The archipelago every plan test starts from, the small builders of
//! observed facts, and a plan's reviewable text form.

use archipel_planner::address::Address;
use archipel_planner::desired::{Desired, desired};
use archipel_planner::observed::*;
use archipel_planner::plan::{Action, Plan};
use archipel_planner::source::Sources;
use std::collections::BTreeMap;

pub const BASE: &str = r#"
island "ouest" {
  garage {
    version            = "2.5.0"
    binary             = "/opt/garage"
    sha256             = "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"
    replication_factor = 2
  }
}

island "est" {
  garage {
    version            = "2.5.0"
    binary             = "/opt/garage"
    sha256             = "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"
    replication_factor = 2
  }
}

chaton "a" {
  island  = "ouest"
  contact = "a@example.org"
  escrow  = ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]
  node "a-1" {
    ssh      = "root@a1"
    capacity = "10G"
  }
  backup "files" {
    host     = "root@files.a"
    to       = "est"
    paths    = ["/srv"]
    schedule = "daily"
    keep     = { daily = 7 }
    quota    = "1G"
  }
}

chaton "b" {
  island  = "ouest"
  contact = "b@example.org"
  node "b-1" {
    ssh      = "root@b1"
    capacity = "10G"
  }
}

chaton "c" {
  island  = "ouest"
  contact = "c@example.org"
  node "c-1" {
    ssh      = "root@c1"
    capacity = "10G"
  }
}

chaton "d" {
  island  = "est"
  contact = "d@example.org"
  node "d-1" {
    ssh      = "root@d1"
    capacity = "10G"
  }
  backup "mail" {
    host     = "root@d1"
    to       = "ouest"
    paths    = ["/var/vmail"]
    schedule = "daily"
    keep     = { daily = 7 }
    quota    = "2G"
  }
}

chaton "e" {
  island  = "est"
  contact = "e@example.org"
  node "e-1" {
    ssh      = "root@e1"
    capacity = "10G"
  }
}

chaton "f" {
  island  = "est"
  contact = "f@example.org"
  node "f-1" {
    ssh      = "root@f1"
    capacity = "10G"
  }
}

bucket "shared" {
  island  = "est"
  quota   = "1G"
  readers = ["d"]
  writers = ["e"]
}
"#;

pub fn desired_from(text: &str) -> Desired {
    let mut sources = Sources::new();
    sources.add("test.hcl", text);
    let checked = archipel_planner::check(&sources);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    desired(&checked.archipelago)
}

/// BASE with the block that opens with `opening` (up to its closing
/// `  }`) replaced by `with`.
pub fn replace_block(opening: &str, with: &str) -> String {
    let start = BASE.find(opening).expect("the block");
    let end = start + BASE[start..].find("  }\n").expect("its end") + 4;
    format!("{}{with}{}", &BASE[..start], &BASE[end..])
}

/// BASE with a second node, b-2, for chaton b.
pub fn with_node_b2() -> String {
    BASE.replacen(
        "  node \"b-1\" {",
        "  node \"b-2\" {\n    ssh      = \"root@b2\"\n    capacity = \"5G\"\n  }\n  node \"b-1\" {",
        1,
    )
}

pub fn file(
    owner: &str,
    group: &str,
    mode: &str,
    sha256: Option<&str>,
    content: Option<&str>,
) -> FileFacts {
    FileFacts::File {
        sha256: sha256.map(str::to_string),
        owner: owner.into(),
        group: group.into(),
        mode: mode.into(),
        size: content.map_or(0, |c| c.len() as u64),
        content: content.map(str::to_string),
        modified: Some(1_700_000_000),
    }
}

pub fn active() -> UnitFacts {
    UnitFacts {
        installed: true,
        enabled: "enabled".into(),
        active: "active".into(),
        active_since: Some(1_700_000_100),
    }
}

pub fn ok(output: &str) -> ProbeOutput {
    ProbeOutput {
        status: 0,
        output: output.into(),
    }
}

pub fn bare() -> HostFacts {
    HostFacts {
        os_id: "debian".into(),
        os_version: "12".into(),
        architecture: "x86_64".into(),
        systemd: true,
        files: BTreeMap::new(),
        units: BTreeMap::new(),
        probes: BTreeMap::new(),
        lands_at: None,
    }
}

/// A compact, reviewable text form of a plan.
pub fn outline(plan: &Plan) -> String {
    let mut out = String::new();
    for change in &plan.changes {
        let symbol = match change.action {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        };
        out.push_str(&format!(
            "{symbol} {}  ({})\n",
            change.address, change.reason
        ));
        for attribute in &change.attributes {
            out.push_str(&format!(
                "    {}: {} -> {}\n",
                attribute.name,
                attribute.before.as_deref().unwrap_or("-"),
                attribute.after.as_deref().unwrap_or("-")
            ));
        }
        if !change.depends_on.is_empty() {
            out.push_str(&format!(
                "    after: {}\n",
                texts(&change.depends_on).join(", ")
            ));
        }
    }
    for unmanaged in &plan.unmanaged {
        out.push_str(&format!(
            "? {}  ({})\n",
            unmanaged.address, unmanaged.description
        ));
    }
    for incomplete in &plan.incomplete {
        out.push_str(&format!(
            "! incomplete: {} ({:?}: {}) leaves out {}\n",
            incomplete.target,
            incomplete.problem.kind,
            incomplete.problem.message,
            texts(&incomplete.not_planned).join(", ")
        ));
    }
    for error in &plan.errors {
        out.push_str(&format!("ERROR {}: {}\n", error.address, error.message));
    }
    for warning in &plan.warnings {
        out.push_str(&format!("warning: {warning}\n"));
    }
    let summary = plan.summary();
    out.push_str(&format!(
        "Plan: {} to add, {} to change, {} to destroy.\n",
        summary.add, summary.change, summary.destroy
    ));
    out
}

pub fn reached<'o>(observed: &'o mut Observed, island: &str) -> &'o mut Cluster {
    match observed.islands.get_mut(island) {
        Some(IslandObservation::Reached { cluster, .. }) => cluster,
        _ => panic!("island {island} is not reached"),
    }
}

pub fn facts<'o>(observed: &'o mut Observed, machine: &str) -> &'o mut HostFacts {
    match observed.machines.get_mut(machine) {
        Some(MachineObservation::Reached { facts }) => facts,
        _ => panic!("machine {machine} is not reached"),
    }
}

/// What `machine` answered to `probe`.
pub fn answer(observed: &mut Observed, machine: &str, probe: Probe, status: i32, output: &str) {
    facts(observed, machine).probes.insert(
        probe.to_string(),
        ProbeOutput {
            status,
            output: output.into(),
        },
    );
}

/// Addresses as their text, for messages and comparisons.
pub fn texts(addresses: &[Address]) -> Vec<String> {
    addresses.iter().map(ToString::to_string).collect()
}
