//! The lab itself: three Debian nodes that answer over SSH, know each other, have
//! their own identities, and can be stopped, started, cut off and restored.

use std::collections::HashSet;
use std::thread::sleep;
use std::time::{Duration, Instant};

use archipel_tests::{Failed, Lab, run_lab_tests};

fn main() {
    run_lab_tests(
        3,
        &[
            ("every_node_answers_with_its_own_name", own_names),
            ("nodes_reach_each_other_by_name", reach_each_other),
            ("nodes_have_distinct_identities", distinct_identities),
            ("stopped_node_is_down_and_starts_again", stop_and_start),
            ("cut_node_is_unreachable_until_restored", cut_and_restore),
            ("ops_has_passwordless_sudo", ops_sudo),
            ("nosudo_is_refused_sudo_without_hanging", nosudo_refused),
        ],
    )
}

fn own_names(lab: &Lab) -> Result<(), Failed> {
    for node in lab.nodes() {
        let name = lab.ssh_ok(&node.name, "hostname")?;
        if name.trim() != node.name {
            return Err(format!("{} says its name is {name:?}", node.name).into());
        }
        // The address in ssh_config works as well as the name.
        let by_addr = lab.ssh_ok(&node.address.to_string(), "hostname")?;
        if by_addr.trim() != node.name {
            return Err(format!("{} answers as {by_addr:?}", node.address).into());
        }
    }
    Ok(())
}

fn reach_each_other(lab: &Lab) -> Result<(), Failed> {
    for from in lab.nodes() {
        for to in lab.nodes().iter().filter(|n| n.name != from.name) {
            let hosts = lab.ssh_ok(&from.name, &format!("getent hosts {}", to.name))?;
            if hosts.split_whitespace().next() != Some(&to.address.to_string()) {
                return Err(format!("{} resolves {} to {hosts:?}", from.name, to.name).into());
            }
            lab.ssh_ok(
                &from.name,
                &format!("timeout 5 bash -c '</dev/tcp/{}/22'", to.name),
            )?;
        }
    }
    Ok(())
}

fn distinct_identities(lab: &Lab) -> Result<(), Failed> {
    let mut keys = HashSet::new();
    let mut ids = HashSet::new();
    for node in lab.nodes() {
        let key = lab.ssh_ok(&node.name, "cat /etc/ssh/ssh_host_ed25519_key.pub")?;
        let id = lab.ssh_ok(&node.name, "cat /etc/machine-id")?;
        if id.trim().len() != 32 {
            return Err(format!("{} has machine-id {id:?}", node.name).into());
        }
        let key = key.split_whitespace().nth(1).unwrap_or_default().to_owned();
        if !keys.insert(key) || !ids.insert(id) {
            return Err(format!("{} shares its host key or machine-id", node.name).into());
        }
    }
    Ok(())
}

fn stop_and_start(lab: &Lab) -> Result<(), Failed> {
    lab.stop("node2")?;
    let t = Instant::now();
    let out = lab.ssh("node2", "true");
    if out.status.success() {
        return Err("node2 still answers after stop".into());
    }
    if t.elapsed() > Duration::from_secs(10) {
        return Err(format!("ssh to the stopped node2 took {:?} to fail", t.elapsed()).into());
    }
    lab.ssh_ok("node1", "true")?;
    lab.ssh_ok("node3", "true")?;
    lab.start_node("node2")?;
    let name = lab.ssh_ok("node2", "hostname")?;
    if name.trim() != "node2" {
        return Err(format!("node2 came back as {name:?}").into());
    }
    Ok(())
}

fn cut_and_restore(lab: &Lab) -> Result<(), Failed> {
    lab.cut("node3")?;
    let t = Instant::now();
    if lab.ssh("node3", "true").status.success() {
        lab.restore("node3")?;
        return Err("node3 still answers after cut".into());
    }
    let failed_after = t.elapsed();
    let from_node1 = lab.ssh("node1", "timeout 5 bash -c '</dev/tcp/node3/22'");
    lab.restore("node3")?;
    if failed_after > Duration::from_secs(10) {
        return Err(format!("ssh to the cut node3 took {failed_after:?} to fail").into());
    }
    if from_node1.status.success() {
        return Err("node1 still reaches node3 after cut".into());
    }
    // Neighbour entries may need a moment to recover after the link comes back.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match lab.ssh_ok("node3", "hostname") {
            Ok(name) if name.trim() == "node3" => return Ok(()),
            Ok(name) => return Err(format!("node3 answers as {name:?}").into()),
            Err(e) if Instant::now() > deadline => {
                return Err(format!("node3 unreachable after restore: {e}").into());
            }
            Err(_) => sleep(Duration::from_millis(300)),
        }
    }
}

fn ops_sudo(lab: &Lab) -> Result<(), Failed> {
    let out = lab.ssh_as("ops", "node1", "id -un && sudo -n id -un");
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.split_whitespace().collect::<Vec<_>>() != ["ops", "root"] {
        return Err(format!(
            "ops cannot sudo ({}): {text:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

fn nosudo_refused(lab: &Lab) -> Result<(), Failed> {
    let t = Instant::now();
    // `timeout` tells a refusal (1) from a hang (124).
    let out = lab.ssh_as("nosudo", "node1", "id -un; timeout 10 sudo -n true");
    let code = out.status.code();
    if String::from_utf8_lossy(&out.stdout).trim() != "nosudo" {
        return Err(format!("could not log in as nosudo: {out:?}").into());
    }
    if code != Some(1) || t.elapsed() > Duration::from_secs(10) {
        return Err(format!(
            "sudo as nosudo: exit {code:?} after {:?}: {}",
            t.elapsed(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}
