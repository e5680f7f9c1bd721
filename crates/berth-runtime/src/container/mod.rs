//! A container known to the runtime: its record, and the lifecycle operations on it.
//!
//! Each operation lives in its own file (`create.rs`, `ops.rs`, `exec.rs`) as an `impl Container`
//! block or a free function; every one re-derives the status from the kernel first and checks the
//! transition is legal, so two commands racing on one container see the same truth.

mod create;
mod exec;
mod ops;
mod rootless;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde::Serialize;

use crate::cgroup::Cgroup;
use crate::state::{container_dir, State, Status};
use crate::Error;

pub use create::{create, CreateOptions, Created};
pub use exec::{exec, ExecOptions, Spawned};

/// The saved copy of the spec, so later commands do not depend on the bundle staying put.
pub(crate) const SPEC_FILE: &str = "config.json";

/// A container loaded from the runtime's root directory.
pub struct Container {
    pub state: State,
    dir: PathBuf,
}

/// The state document of the runtime spec (`state` command, hooks' stdin), plus runc's extras.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    pub annotations: HashMap<String, String>,
}

impl Container {
    /// Loads container `id` from `root`.
    pub fn load(root: &Path, id: &str) -> Result<Container, Error> {
        let state = State::load(root, id)?;
        Ok(Container {
            dir: container_dir(root, id),
            state,
        })
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// Its cgroup.
    pub fn cgroup(&self) -> Result<Cgroup, Error> {
        Ok(Cgroup::open(&self.state.cgroup_path, &self.state.id)?)
    }

    /// The status, derived from the kernel now.
    pub fn status(&self) -> Status {
        self.state.status(&self.dir, || {
            self.cgroup().map(|c| c.is_frozen()).unwrap_or(false)
        })
    }

    /// The spec saved at create time.
    pub fn spec(&self) -> Result<Spec, Error> {
        Spec::load(self.dir.join(SPEC_FILE)).map_err(|e| Error::Other(e.to_string()))
    }

    /// The state document with the current status.
    pub fn oci_state(&self) -> OciState {
        let status = self.status();
        OciState {
            oci_version: oci_version(),
            id: self.state.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.state.pid
            },
            status,
            bundle: self.state.bundle.clone(),
            rootfs: self.state.rootfs.clone(),
            created: self.state.created.clone(),
            owner: self.state.owner.clone(),
            annotations: self.state.annotations.clone(),
        }
    }
}

/// The runtime spec version this runtime implements.
pub fn oci_version() -> String {
    "1.2.0".to_owned()
}

/// Lists every container under `root`.
pub fn list(root: &Path) -> Result<Vec<Container>, Error> {
    let mut out = Vec::new();
    for id in crate::state::list_ids(root)? {
        // A record being written or removed concurrently is skipped, not an error.
        if let Ok(c) = Container::load(root, &id) {
            out.push(c);
        }
    }
    Ok(out)
}

/// RFC 3339 timestamp of now, in UTC, with all nine digits of nanoseconds (runc's `created`
/// shape).
pub fn now_rfc3339() -> String {
    format!("{:.9}", jiff::Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_time_has_nine_fraction_digits() {
        let now = now_rfc3339();
        assert!(now.ends_with('Z'), "{now}");
        assert_eq!(now.len(), "2024-01-01T00:00:00.000000000Z".len(), "{now}");
    }
}
