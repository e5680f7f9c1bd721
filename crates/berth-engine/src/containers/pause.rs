//! `docker pause`/`unpause`: the container's cgroup freezer (v1 `freezer.state`, v2
//! `cgroup.freeze`) through the runtime library, reflected in `State.Paused`/`Status`.

use berth_runtime::container::Container;

use crate::containers::Containers;
use crate::error::{EngineError, Result};

impl Containers {
    /// Freezes every process of a running container.
    pub fn pause(&self, key: &str) -> Result<()> {
        self.set_paused(key, true)
    }

    /// Thaws a paused container.
    pub fn unpause(&self, key: &str) -> Result<()> {
        self.set_paused(key, false)
    }

    fn set_paused(&self, key: &str, paused: bool) -> Result<()> {
        let id = {
            let mut inner = self.lock();
            let id = Self::find_id(&inner, key)?;
            let rec = inner
                .containers
                .get_mut(&id)
                .ok_or_else(|| EngineError::NoSuchContainer(key.to_owned()))?;
            if !rec.state.running {
                return Err(EngineError::Conflict(format!(
                    "Container {id} is not running"
                )));
            }
            if rec.state.paused == paused {
                return Err(EngineError::Conflict(if paused {
                    format!("Container {id} is already paused")
                } else {
                    format!("Container {id} is not paused")
                }));
            }
            let c = Container::load(&self.runtime_root(), &id).map_err(|e| {
                EngineError::Conflict(format!("Container {id} is not running: {e}"))
            })?;
            let done = if paused { c.pause() } else { c.resume() };
            done.map_err(|e| {
                let verb = if paused { "pause" } else { "unpause" };
                EngineError::Internal(format!("Cannot {verb} container {id}: {e}"))
            })?;
            rec.state.paused = paused;
            rec.state.status = if paused { "paused" } else { "running" }.into();
            self.records.save(rec)?;
            id
        };
        self.emit_container(&id, if paused { "pause" } else { "unpause" }, &[]);
        Ok(())
    }

    /// After a signal to a paused container: thaw it so the signal is delivered (a frozen v1
    /// task cannot even die of SIGKILL), as docker does.
    pub(crate) fn thaw_after_signal(&self, id: &str) {
        let paused = self
            .lock()
            .containers
            .get(id)
            .is_some_and(|r| r.state.paused);
        if paused {
            if let Err(e) = self.unpause(id) {
                tracing::warn!("thawing {id} after a signal: {e}");
            }
        }
    }
}
