//! An island: its pinned Garage, zones enough for its replication factor,
//! quotas within its usable capacity.

use crate::fixture::{codes, diagnostics, line_of, with};
use archipel_planner::diagnostic::Severity;

#[test]
fn the_garage_binary_must_be_pinned() {
    let text = with(
        "    sha256             = \"0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3\"\n",
        "",
    );
    let found = diagnostics(&text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "missing-attribute");
    assert_eq!(
        codes(&with(
            "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3\"",
            "0f9e\""
        )),
        vec!["invalid-sha256"]
    );
}

#[test]
fn zones_must_cover_the_replication_factor() {
    // ouest has 3 zones: RF 3 is legal but leaves no spare zone, RF 4 is not.
    // (At RF 3 ouest holds about 215G: its backup of 200G and that backup's
    // vault would not fit.)
    let three = with("replication_factor = 2", "replication_factor = 3").replacen(
        "quota    = \"200G\"",
        "quota    = \"100G\"",
        1,
    );
    assert_eq!(
        diagnostics(&three),
        vec![(
            "no-spare-zone",
            Severity::Warning,
            line_of(&three, "replication_factor = 3")
        )]
    );
    assert_eq!(
        codes(&with("replication_factor = 2", "replication_factor = 4")),
        vec!["too-few-zones"]
    );
    // Zones are chatons, not nodes: a second node of chaton "a" does not
    // make up for chaton "c" moving to the other island.
    let two_zones = with("replication_factor = 2", "replication_factor = 3")
        .replacen("chaton \"c\" {\n  island  = \"ouest\"", "chaton \"c\" {\n  island  = \"est\"", 1)
        .replacen(
            "  node \"a-1\" {",
            "  node \"a-2\" {\n    ssh      = \"root@a2.example.org\"\n    capacity = \"500G\"\n  }\n  node \"a-1\" {",
            1,
        );
    assert_eq!(codes(&two_zones), vec!["too-few-zones"]);
}

#[test]
fn quotas_must_fit_the_usable_capacity() {
    // est: three zones of 500G, RF 2. 1.5T / 2 = 750G, but Garage's 256
    // partitions fit about 748.5G: 171 partitions of 2.924G per node.
    // A backup's quota counts twice (its vault holds a copy), plus the 10G
    // of a bucket.
    assert_eq!(
        codes(&with("quota    = \"100G\"", "quota    = \"369G\"")),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes(&with("quota    = \"100G\"", "quota    = \"370G\"")),
        vec!["quota-exceeds-capacity"]
    );
    // Uneven zones: each of the three copies needs its own zone, so the
    // smallest zone bounds the island. ouest: a 500G, b 1.5T, c 200GiB, RF 3
    // (with a spare zone less, so no-spare-zone too): about 215G, for a
    // backup and its vault.
    let uneven = with("replication_factor = 2", "replication_factor = 3").replacen(
        "quota    = \"200G\"",
        "quota    = \"110G\"",
        1,
    );
    assert_eq!(
        codes(&uneven),
        vec!["quota-exceeds-capacity", "no-spare-zone"]
    );
    let fits = uneven.replacen("quota    = \"110G\"", "quota    = \"105G\"", 1);
    assert_eq!(codes(&fits), vec!["no-spare-zone"]);
    assert_eq!(
        codes(&with("quota   = \"10G\"", "quota   = \"1T\"")),
        vec!["quota-exceeds-capacity"]
    );
}
