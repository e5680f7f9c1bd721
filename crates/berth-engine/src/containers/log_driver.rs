//! Log drivers beside `json-file`: `none` (dockerd's: the output goes nowhere, `logs` answers
//! that the driver cannot be read).

use std::path::PathBuf;

use crate::containers::Containers;
use crate::error::{EngineError, Result};
use crate::model::HostConfig;

/// The driver that keeps nothing.
pub(crate) const NONE: &str = "none";

/// The log path the shim gets: empty (no log) for `none`.
pub(crate) fn shim_log_path(json_log: PathBuf, host: &HostConfig) -> PathBuf {
    if host.log_config.kind == NONE {
        PathBuf::new()
    } else {
        json_log
    }
}

impl Containers {
    /// dockerd's answer to `logs` of a container whose driver keeps nothing readable.
    pub(crate) fn logs_readable(&self, id: &str) -> Result<()> {
        let none = self
            .lock()
            .containers
            .get(id)
            .is_some_and(|r| r.host_config.log_config.kind == NONE);
        if none {
            return Err(EngineError::NotImplemented(
                "configured logging driver does not support reading".into(),
            ));
        }
        Ok(())
    }
}
