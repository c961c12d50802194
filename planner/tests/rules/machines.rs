//! Machines: one node per machine, a machine its host and port, host keys.

use crate::fixture::{codes, with};
use archipel_planner::source::Sources;

#[test]
fn one_node_per_machine() {
    assert_eq!(
        codes(&with("root@e1.example.org", "root@D1.example.org:22")),
        vec!["duplicate-ssh-target"]
    );
    // Two machines behind one NAT address, told apart by their SSH port:
    // distinct machines, but Garage would reach both at one RPC address.
    assert_eq!(
        codes(&with("root@e1.example.org", "root@d1.example.org:2200")),
        vec!["duplicate-rpc-address"]
    );
    assert_eq!(
        codes(&with(
            "ssh      = \"root@e1.example.org\"",
            "ssh      = \"root@d1.example.org:2200\"\n    rpc_public_addr = \"d1.example.org:3902\""
        )),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes(&with("root@e1.example.org", "root@")),
        vec!["invalid-ssh-target"]
    );
}

#[test]
fn a_machine_is_its_host_and_port() {
    // Two backup hosts behind one NAT address: two machines, two names.
    let text = with("root@files.a.example.org", "root@203.0.113.5:2201").replacen(
        "root@mail.d.example.org",
        "backup@203.0.113.5:2202",
        1,
    );
    let mut sources = Sources::new();
    sources.add("test.hcl", &text);
    let checked = archipel_planner::check(&sources);
    assert_eq!(checked.diagnostics.len(), 0, "{:?}", checked.diagnostics);
    let names: Vec<String> = checked
        .archipelago
        .machines()
        .into_iter()
        .filter(|m| m.node.is_none())
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["203.0.113.5:2201", "203.0.113.5:2202"]);
    // The user is not part of the machine: root@ and backup@ one host are
    // one machine, with both jobs.
    let text = with("root@files.a.example.org", "backup@mail.d.example.org");
    let mut sources = Sources::new();
    sources.add("test.hcl", &text);
    let checked = archipel_planner::check(&sources);
    let hosts: Vec<_> = checked
        .archipelago
        .machines()
        .into_iter()
        .filter(|m| m.node.is_none())
        .collect();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].backups, ["a/files", "d/mail"]);
    // A backup host that is named like a node but is another machine.
    assert_eq!(
        codes(&with("root@files.a.example.org", "root@e-1")),
        vec!["duplicate-machine-name"]
    );
}

#[test]
fn host_keys_are_checked() {
    assert_eq!(
        codes(&with("ssh-ed25519 AAAAC3Nza", "ssh-dss AAAAC3Nza")),
        vec!["invalid-host-key"]
    );
    assert_eq!(
        codes(&with("ssh-ed25519 AAAAC3Nza", "ssh-ed25519 !!!!C3Nza")),
        vec!["invalid-host-key"]
    );
}
