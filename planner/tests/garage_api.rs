//! The observed-state types read what Garage 2.5.0 really answers (recorded
//! from the lab), and tolerate the field renamed in 2.1.

use archipel_planner::observed::{
    BucketInfo, ClusterHealth, ClusterLayout, ClusterStatus, KeyInfo, LayoutHistory, ListedId,
};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/garage-2.5.0/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

#[test]
fn garage_2_5_answers_deserialize() {
    let status: ClusterStatus = serde_json::from_str(&fixture("GetClusterStatus")).expect("status");
    assert_eq!(status.layout_version, 1);
    assert_eq!(status.nodes.len(), 3);
    assert!(status.nodes.iter().all(|n| n.is_up && n.role.is_some()));

    let health: ClusterHealth = serde_json::from_str(&fixture("GetClusterHealth")).expect("health");
    assert_eq!(
        (health.status.as_str(), health.storage_nodes_up),
        ("healthy", 3)
    );

    let layout: ClusterLayout = serde_json::from_str(&fixture("GetClusterLayout")).expect("layout");
    assert_eq!(layout.version, 1);
    assert_eq!(layout.roles.len(), 3);
    assert!(layout.staged_role_changes.is_empty());
    assert_eq!(layout.roles[0].capacity, Some(10_000_000_000));

    let history: LayoutHistory =
        serde_json::from_str(&fixture("GetClusterLayoutHistory")).expect("history");
    assert!(!history.is_draining());

    let keys: Vec<ListedId> = serde_json::from_str(&fixture("ListKeys")).expect("keys");
    let key: KeyInfo = serde_json::from_str(&fixture("GetKeyInfo")).expect("key");
    assert_eq!(key.access_key_id, keys[0].id);
    assert!(key.buckets[0].permissions.read && key.buckets[0].permissions.write);

    let buckets: Vec<ListedId> = serde_json::from_str(&fixture("ListBuckets")).expect("buckets");
    let bucket: BucketInfo = serde_json::from_str(&fixture("GetBucketInfo")).expect("bucket");
    assert_eq!(bucket.id, buckets[0].id);
    assert_eq!(bucket.global_aliases, vec!["backup-c1"]);
    assert_eq!(bucket.quotas.max_size, Some(1_000_000_000));
}

#[test]
fn garage_2_0_health_field_is_accepted() {
    let health: ClusterHealth = serde_json::from_str(
        r#"{"status":"degraded","knownNodes":3,"connectedNodes":2,"storageNodes":3,"storageNodesOk":2,
            "partitions":256,"partitionsQuorum":256,"partitionsAllOk":0,"someFutureField":true}"#,
    )
    .expect("2.0 health");
    assert_eq!(health.storage_nodes_up, 2);
}
