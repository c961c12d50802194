//! Who owns a file or directory archipel writes, and its mode: one value
//! the plan judges a machine's file by and apply writes it with.

use crate::observed::FileFacts;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ownership {
    pub user: &'static str,
    pub group: &'static str,
    /// As `chmod` takes it: 0o640.
    pub mode: u32,
}

impl Ownership {
    pub const fn new(user: &'static str, group: &'static str, mode: u32) -> Ownership {
        Ownership { user, group, mode }
    }

    /// Root's alone: passwords, keys, credentials.
    pub const ROOT_PRIVATE: Ownership = Ownership::new("root", "root", 0o600);
    /// Root's, readable by everyone: systemd units.
    pub const ROOT_READABLE: Ownership = Ownership::new("root", "root", 0o644);
    /// Root's, runnable by everyone: binaries and scripts.
    pub const ROOT_EXECUTABLE: Ownership = Ownership::new("root", "root", 0o755);

    /// Whether a machine's file or directory is owned so.
    pub fn matches(&self, file: &FileFacts) -> bool {
        live(file).is_some_and(|(user, group, mode)| {
            user == self.user && group == self.group && mode == format!("{:o}", self.mode)
        })
    }
}

/// As a plan shows it: `root:garage 640`.
impl fmt::Display for Ownership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} {:o}", self.user, self.group, self.mode)
    }
}

/// How a machine's file or directory is owned, as a plan shows it (the
/// mode as `stat` prints it); `None` when there is none.
pub fn shown(file: &FileFacts) -> Option<String> {
    live(file).map(|(user, group, mode)| format!("{user}:{group} {mode}"))
}

fn live(file: &FileFacts) -> Option<(&str, &str, &str)> {
    match file {
        FileFacts::File {
            owner, group, mode, ..
        }
        | FileFacts::Directory { owner, group, mode } => {
            Some((owner.as_str(), group.as_str(), mode.as_str()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_matches_its_ownership_with_the_mode_as_stat_prints_it() {
        let file = |owner: &str, mode: &str| FileFacts::Directory {
            owner: owner.into(),
            group: "garage".into(),
            mode: mode.into(),
        };
        let wanted = Ownership::new("garage", "garage", 0o700);
        assert!(wanted.matches(&file("garage", "700")));
        assert!(!wanted.matches(&file("garage", "755")));
        assert!(!wanted.matches(&file("root", "700")));
        assert!(!wanted.matches(&FileFacts::Missing));
        assert_eq!(wanted.to_string(), "garage:garage 700");
        assert_eq!(
            shown(&file("root", "755")).as_deref(),
            Some("root:garage 755")
        );
    }
}
