//! The `archipel` binary as users run it: exit codes, output, files. One
//! module per command or concern.

/// A snapshot under the name and in the place it had when these tests were
/// one file, `cli/tests/snapshots/cli__NAME.snap`, whatever module asserts
/// it.
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("cli__{}", $name), $value);
        })
    };
}

mod fixture;

mod command_line;
mod docs;
mod fmt;
mod plan;
mod validate;
