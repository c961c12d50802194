//! The `archipel` binary as the tests run it, and the examples.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

pub fn archipel() -> Command {
    let mut command = Command::cargo_bin("archipel").expect("the archipel binary");
    command.env("NO_COLOR", "1").env_remove("ARCHIPEL_FILE");
    command
}

pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}
