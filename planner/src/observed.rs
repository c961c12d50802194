//! What archipel saw on the machines: plain data filled by the providers,
//! serialisable so a plan can be reproduced offline from a saved copy.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Facts about one host, gathered in a single SSH round trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFacts {
    /// `ID` from /etc/os-release (`debian`).
    pub os_id: String,
    /// `VERSION_ID` from /etc/os-release (`12`).
    pub os_version: String,
    /// `uname -m` (`x86_64`, `aarch64`).
    pub architecture: String,
    /// Whether systemd is the running init (`/run/systemd/system` exists).
    pub systemd: bool,
    pub files: BTreeMap<String, FileFacts>,
    pub units: BTreeMap<String, UnitFacts>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FileFacts {
    Missing,
    File {
        /// Absent for files whose content archipel must not read (secrets).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
        owner: String,
        group: String,
        /// Permission bits, as `stat -c %a` prints them (`640`).
        mode: String,
        size: u64,
    },
    Directory {
        owner: String,
        group: String,
        mode: String,
    },
    /// A symbolic link, socket or device: archipel does not manage those.
    Other {
        description: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitFacts {
    /// systemd knows the unit (`LoadState=loaded`).
    pub installed: bool,
    /// `UnitFileState`: `enabled`, `disabled`, `static`…
    pub enabled: String,
    /// `ActiveState`: `active`, `inactive`, `failed`…
    pub active: String,
}

impl UnitFacts {
    pub fn is_enabled(&self) -> bool {
        self.enabled == "enabled"
    }

    pub fn is_active(&self) -> bool {
        self.active == "active"
    }
}
