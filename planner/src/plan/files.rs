//! Files on a machine: their content and ownership, and the text files
//! archipel writes whole.

use super::{Action, Builder, FileChange, Target};
use crate::observed::{FileFacts, HostFacts};
use crate::ownership::{self, Ownership};

pub(super) fn file_content(file: &FileFacts) -> Option<&str> {
    match file {
        FileFacts::File { content, .. } => content.as_deref(),
        _ => None,
    }
}

/// How a text file archipel writes whole differed from the file's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Drift {
    /// As the file says: no change.
    None,
    /// Not there: created.
    Missing,
    /// Its text is the file's, its owner or mode is not.
    Owner,
    /// Its text differs (its owner may too): what reads it must load it.
    Content,
}

impl Drift {
    pub(super) fn changed(self) -> bool {
        self != Drift::None
    }
}

/// A text file archipel writes whole: created when missing, updated when
/// its content (shown as a diff) or its owner (shown before and after)
/// differs.
pub(super) fn managed_file(
    b: &mut Builder,
    kind: Target,
    facts: &HostFacts,
    path: &str,
    wanted: &str,
    owner: Ownership,
) -> Drift {
    let Some(live @ FileFacts::File { content, .. }) = facts.files.get(path) else {
        b.add(kind, Action::Create, format!("{path} does not exist"))
            .file = Some(FileChange {
            path: path.to_string(),
            before: None,
            after: wanted.to_string(),
        });
        return Drift::Missing;
    };
    let text_differs = content.as_deref() != Some(wanted);
    let owner_differs = !owner.matches(live);
    if !text_differs && !owner_differs {
        return Drift::None;
    }
    let change = b.add(
        kind,
        Action::Update,
        if text_differs {
            format!("{path} differs from the file's")
        } else {
            format!("{path} has the wrong owner or mode")
        },
    );
    if text_differs {
        change.file = Some(FileChange {
            path: path.to_string(),
            before: content.clone(),
            after: wanted.to_string(),
        });
    }
    if owner_differs {
        change.attribute("owner", ownership::shown(live), Some(owner.to_string()));
    }
    if text_differs {
        Drift::Content
    } else {
        Drift::Owner
    }
}

/// A timer archipel installs: enabled and active, or started again. Its
/// file's change (`file_changed`) already starts it.
pub(super) fn timer_started(
    b: &mut Builder,
    kind: Target,
    facts: &HostFacts,
    timer: &str,
    file_changed: bool,
) {
    let running = facts
        .units
        .get(timer)
        .is_some_and(|u| u.installed && u.is_enabled() && u.is_active());
    if !file_changed && !running {
        b.add(
            kind,
            Action::Update,
            format!("{timer} is not enabled and active"),
        );
    }
}
