//! Files on a machine: their content and ownership, and the text files
//! archipel writes whole.

use super::{Action, Builder, FileChange, Target};
use crate::observed::{FileFacts, HostFacts};
use crate::ownership::Ownership;

pub(super) fn file_content(file: &FileFacts) -> Option<&str> {
    match file {
        FileFacts::File { content, .. } => content.as_deref(),
        _ => None,
    }
}

/// A text file archipel writes whole: created when missing, updated (with
/// a diff) when its content or owner differs. Whether a change was added.
pub(super) fn managed_file(
    b: &mut Builder,
    kind: Target,
    facts: &HostFacts,
    path: &str,
    wanted: &str,
    owner: Ownership,
) -> bool {
    let (action, reason, before) = match facts.files.get(path) {
        Some(live @ FileFacts::File { content, .. }) => {
            let text_differs = content.as_deref() != Some(wanted);
            let owner_differs = !owner.matches(live);
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
        change.attribute("owner", None, Some(owner.to_string()));
    }
    true
}
