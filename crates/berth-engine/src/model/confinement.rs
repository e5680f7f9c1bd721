//! The confinement fields of docker's `HostConfig`; the checks and the spec translation live
//! in `crate::security`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The confinement fields of docker's `HostConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Confinement {
    /// Capabilities to add (`ALL`: every one the host has).
    pub cap_add: Option<Vec<String>>,
    /// Capabilities to drop (`ALL`: start from none).
    pub cap_drop: Option<Vec<String>>,
    /// Every host capability and device, no seccomp, no masked or read-only paths.
    pub privileged: bool,
    /// `seccomp=<profile JSON>|unconfined`, `no-new-privileges[=bool]`, `label=…`,
    /// `apparmor=…`.
    pub security_opt: Option<Vec<String>>,
    /// Mount the root read-only.
    pub readonly_rootfs: bool,
    /// Extra groups (names from the image's /etc/group, or numbers).
    pub group_add: Option<Vec<String>>,
    /// Namespaced kernel parameters.
    pub sysctls: Option<BTreeMap<String, String>>,
}
