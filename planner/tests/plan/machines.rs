//! One machine under two names: refused.

use crate::converged::converged;
use crate::fixture::{BASE, desired_from, facts};
use archipel_planner::observed::*;
use archipel_planner::plan::plan;

/// Two machines of the file with one SSH host key are one machine under
/// two names, or clones: refused, naming both.
#[test]
fn two_machines_with_one_host_key_are_refused() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let key = |comment: &str| FileFacts::File {
        sha256: None,
        owner: "root".into(),
        group: "root".into(),
        mode: "644".into(),
        size: 100,
        content: Some(format!(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl {comment}\n"
        )),
        modified: None,
    };
    let path = archipel_planner::desired::HOST_KEY.to_string();
    facts(&mut observed, "a-1")
        .files
        .insert(path.clone(), key("root@a1"));
    assert!(plan(&desired, &observed).errors.is_empty());
    facts(&mut observed, "b-1")
        .files
        .insert(path, key("root@cloned"));
    let errors = plan(&desired, &observed).errors;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].address, "machine.b-1");
    assert!(
        errors[0]
            .message
            .contains("machines a-1 and b-1 present the same SSH host key")
    );
}

/// Two names in the file that SSH resolves to one address (an alias of the
/// SSH config and the address itself) are one machine: refused.
#[test]
fn two_machines_ssh_lands_on_as_one_are_refused() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    facts(&mut observed, "a-1").lands_at = Some("203.0.113.5:2201".into());
    facts(&mut observed, "b-1").lands_at = Some("203.0.113.5:2202".into());
    assert!(plan(&desired, &observed).errors.is_empty());
    facts(&mut observed, "b-1").lands_at = Some("203.0.113.5:2201".into());
    let errors = plan(&desired, &observed).errors;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].address, "machine.b-1");
    assert!(
        errors[0]
            .message
            .contains("machines a-1 and b-1 are one machine: SSH reaches both at 203.0.113.5:2201"),
        "{}",
        errors[0].message
    );
}
