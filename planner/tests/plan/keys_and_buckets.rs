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
