//! Keys and buckets: permissions drifting, and those no longer needed.

use crate::converged::converged;
use crate::fixture::{BASE, desired_from, outline, reached};
use archipel_planner::observed::*;
use archipel_planner::plan::plan;

#[test]
fn key_permission_drift() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let cluster = reached(&mut observed, "est");
    // Someone made archipel-d owner of its bucket by hand, and gave archipel-a read on "shared".
    for bucket in &mut cluster.buckets {
        for key in &mut bucket.keys {
            if key.name == "archipel-d" && bucket.global_aliases == ["shared"] {
                key.permissions.owner = true;
            }
        }
        if bucket.global_aliases == ["shared"] {
            bucket.keys.push(BucketKey {
                access_key_id: "GKarchipel-a".into(),
                name: "archipel-a".into(),
                permissions: Permissions {
                    read: true,
                    write: false,
                    owner: false,
                },
            });
        }
    }
    snapshot!("key_permission_drift", outline(&plan(&desired, &observed)));
}

#[test]
fn keys_and_empty_backup_buckets_no_longer_needed_are_deleted_full_ones_kept() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let cluster = reached(&mut observed, "ouest");
    let bucket = |alias: &str, objects: u64| BucketInfo {
        id: format!("{alias}-id"),
        global_aliases: vec![alias.into()],
        keys: vec![],
        objects,
        bytes: objects * 1000,
        unfinished_uploads: 0,
        quotas: Quotas::default(),
        lifecycle_rules: vec![],
    };
    // A chaton that used to back up here: its key, an emptied bucket, and
    // a bucket still holding its backups.
    cluster.buckets.push(bucket("backup-gone", 0));
    cluster.buckets.push(bucket("backup-kept", 40));
    cluster.keys.push(KeyInfo {
        access_key_id: "GKgone".into(),
        name: "archipel-gone".into(),
        expired: false,
        buckets: vec![],
    });
    let plan = plan(&desired, &observed);
    snapshot!(
        "keys_and_empty_backup_buckets_no_longer_needed_are_deleted_full_ones_kept",
        outline(&plan)
    );
    assert_eq!(plan.summary().destroy, 2);
    assert!(
        plan.unmanaged
            .iter()
            .any(|u| u.address == "island.ouest.bucket.backup-kept"
                && u.description.contains("40 objects")),
        "{:?}",
        plan.unmanaged
    );
}

#[test]
fn a_lifecycle_rule_on_a_bucket_of_backups_is_removed_and_left_on_others() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let island = desired.islands[0].name.clone();
    let names: Vec<String> = desired.islands[0]
        .buckets
        .iter()
        .map(|b| b.name.clone())
        .collect();
    let cluster = reached(&mut observed, &island);
    for live in &mut cluster.buckets {
        live.lifecycle_rules = vec![serde_json::json!({"id": "x", "enabled": true})];
    }
    let planned = plan(&desired, &observed);
    let text = outline(&planned);
    for name in &names {
        let removed = text.contains(&format!("~ island.{island}.bucket.{name}  (the bucket holds backups and has a lifecycle configuration"));
        let holds_backups = name.starts_with("backup-") || name.starts_with("vault-");
        assert_eq!(removed, holds_backups, "{name}: {text}");
    }
    assert!(names.iter().any(|n| n.starts_with("vault-")), "{names:?}");
    let drift = archipel_planner::drift::drift(&planned);
    assert!(
        drift
            .changed
            .iter()
            .any(|d| d.detail.contains("lifecycle configuration")),
        "{drift:?}"
    );
    // Applied: gone, nothing more to do.
    for live in &mut reached(&mut observed, &island).buckets {
        if live
            .global_aliases
            .iter()
            .any(|a| a.starts_with("backup-") || a.starts_with("vault-"))
        {
            live.lifecycle_rules.clear();
        }
    }
    assert!(!plan(&desired, &observed).has_changes());
}
