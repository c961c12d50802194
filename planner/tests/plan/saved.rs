//! A saved plan (`-out`) and when it goes stale.

use crate::converged::{bare_world, converged};
use crate::fixture::{BASE, facts, reached};
use archipel_planner::desired::desired;
use archipel_planner::plan::plan;
use archipel_planner::source::Sources;

#[test]
fn a_saved_plan_goes_stale_with_what_it_depends_on_only() {
    use archipel_planner::saved::SavedPlan;
    let model = |text: &str| {
        let mut sources = Sources::new();
        sources.add("test.hcl", text);
        archipel_planner::check(&sources).archipelago
    };
    let base = model(BASE);
    let desired = desired(&base);
    let observed = bare_world(&desired);
    let made = plan(&desired, &observed);
    let saved = SavedPlan::new(&made, &base, &observed, "test");
    let text = serde_json::to_string(&saved).expect("serializes");
    let read: SavedPlan = serde_json::from_str(&text).expect("reads back");
    assert!(read.staleness(&base, &observed).is_empty());
    let back = read.clone().into_plan();
    assert_eq!(back, made, "targets and all");

    // What moves on its own does not count.
    let mut busy = converged(&desired);
    reached(&mut busy, "ouest").buckets[0].objects = 3;
    let mut quiet = busy.clone();
    let cluster = reached(&mut busy, "ouest");
    cluster.buckets[0].objects += 12;
    cluster.buckets[0].bytes += 1 << 20;
    cluster.status.nodes[0].is_up = false;
    let job = &desired.backups[0];
    let service = &job.units[0].service_name;
    facts(&mut busy, &job.machine)
        .units
        .get_mut(service)
        .expect("the backup service")
        .active = "activating".into();
    let converged_plan = plan(&desired, &quiet);
    let saved = SavedPlan::new(&converged_plan, &base, &quiet, "test");
    assert_eq!(saved.staleness(&base, &busy), Vec::<String>::new());

    // A layout version, a timer, the file: stale, and it says what.
    reached(&mut quiet, "est").layout.version += 1;
    facts(&mut quiet, &job.machine)
        .units
        .get_mut(&job.units[0].timer_name)
        .expect("the timer")
        .enabled = "disabled".into();
    let edited = model(&BASE.replacen("capacity = \"10G\"", "capacity = \"11G\"", 1));
    assert_eq!(
        saved.staleness(&edited, &quiet),
        vec![
            "the archipelago file changed since".to_string(),
            "island.est changed since".to_string(),
            format!("machine.{} changed since", job.machine),
        ]
    );
}
