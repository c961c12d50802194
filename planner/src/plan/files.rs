//! Files on a machine: their content and ownership, and the text files
//! archipel writes whole.

use super::{Action, Builder, FileChange, Target};
use crate::observed::{FileFacts, HostFacts};

pub(super) fn file_content(file: &FileFacts) -> Option<&str> {
    match file {
        FileFacts::File { content, .. } => content.as_deref(),
        _ => None,
    }
}

pub(super) fn ownership(file: &FileFacts) -> Option<(&str, &str, &str)> {
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

pub(super) fn show_ownership((owner, group, mode): (&str, &str, &str)) -> String {
    format!("{owner}:{group} {mode}")
}

/// A text file archipel writes whole: created when missing, updated (with
/// a diff) when its content or owner differs. Whether a change was added.
pub(super) fn managed_file(
    b: &mut Builder,
    kind: Target,
    facts: &HostFacts,
    path: &str,
    wanted: &str,
    owner: (&str, &str, &str),
) -> bool {
    let (action, reason, before) = match facts.files.get(path) {
        Some(live @ FileFacts::File { content, .. }) => {
            let text_differs = content.as_deref() != Some(wanted);
            let owner_differs = ownership(live) != Some(owner);
            if !text_differs && !owner_differs {
                return false;
            }
            let reason = if text_differs {
                format!("{path} differs from the file's")
            } else {
                format!("{path} has the wrong owner or mode")
            };
            (Action::Update, reason, content.clone())
        }
        _ => (Action::Create, format!("{path} does not exist"), None),
    };
    let same_text = before.as_deref() == Some(wanted);
    let change = b.add(kind, action, reason);
    if !same_text {
        change.file = Some(FileChange {
            path: path.to_string(),
            before,
            after: wanted.to_string(),
        });
    } else {
        change.attribute("owner", None, Some(show_ownership(owner)));
    }
    true
}
