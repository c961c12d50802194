//! Plans from observed-state fixtures: a simulated world built from a
//! desired state ("converged"), then changed the way the real one drifts.
//! One module per kind of thing a plan is about, as in `planner/src/plan/`.

/// A snapshot under the name and in the place it had when these tests were
/// one file, `planner/tests/snapshots/plan__NAME.snap`, whatever module
/// asserts it.
macro_rules! snapshot {
    ($name:literal, $value:expr) => {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(concat!("plan__", $name), $value);
        })
    };
    (debug $name:literal, $value:expr) => {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_debug_snapshot!(concat!("plan__", $name), $value);
        })
    };
}

mod converged;
mod fixture;

mod backup;
mod guard;
mod island;
mod keys_and_buckets;
mod machines;
mod node;
mod notify;
mod removals;
mod saved;
mod scope;
mod status;
mod upgrade;
mod vault;
mod world;
