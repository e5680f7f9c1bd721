//! The `restarting` state between an exit and a restart policy's start, as dockerd shows it:
//! `State.Status` "restarting", `Restarting` and (in inspect) `Running` true, `ps` "Restarting
//! (N) … ago"; `rm` refuses it without force; `stop`/`kill` cancel the pending restart.
//!
//! Internally `State.Running` keeps meaning "a process runs" (the exit watcher, exec, attach
//! and stats rely on it); `restarting` is the separate flag set by the exit watcher when it
//! schedules a restart and cleared by the start that follows or by a cancel.

use crate::containers::Containers;
use crate::error::{EngineError, Result};
use crate::model::ContainerRecord;

/// The exit watcher decided to restart `rec`. The count goes up now, as dockerd's does, so
/// it is steady for the whole restarting period.
pub(crate) fn mark(rec: &mut ContainerRecord) {
    rec.restart_count += 1;
    rec.state.restarting = true;
    rec.state.status = "restarting".into();
}

/// The restart is over (started, failed to start, or cancelled).
pub(crate) fn clear(rec: &mut ContainerRecord) {
    if std::mem::take(&mut rec.state.restarting) && rec.state.status == "restarting" {
        rec.state.status = "exited".into();
    }
}

/// `rm` without force of a restarting container: docker's refusal.
pub(crate) fn refuse_removal(rec: &ContainerRecord) -> Result<()> {
    if rec.state.restarting {
        return Err(EngineError::Conflict(format!(
            "cannot remove container \"{}\": container is restarting: stop the container before removing or force remove",
            rec.name
        )));
    }
    Ok(())
}

impl Containers {
    /// Whether container `id` waits for a policy restart.
    pub(crate) fn is_restarting(&self, id: &str) -> bool {
        self.lock()
            .containers
            .get(id)
            .is_some_and(|r| r.state.restarting && !r.state.running)
    }

    /// `stop`/`kill`/`rm -f` of a restarting container: the user's stop cancels the restart
    /// (as dockerd's, which only marks it stopped); waiters of "not running" wake.
    pub(crate) fn cancel_restart(&self, id: &str) -> Result<()> {
        let code = {
            let mut inner = self.lock();
            let Some(rec) = inner.containers.get_mut(id) else {
                return Ok(());
            };
            rec.manually_stopped = true;
            clear(rec);
            self.records.save(rec)?;
            rec.state.exit_code
        };
        self.wake_waiters(id, code);
        Ok(())
    }
}

/// How long `stop`/`kill` wait for a policy restart already under way to finish.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(30);

impl Containers {
    /// The restart policy's start: claimed under the same lock that checks the restart is
    /// still wanted, so a `stop` either cancels it before the claim or, after it, finds the
    /// start under way and waits for it ([`Engine::settle_policy_start`]).
    pub(crate) fn start_for_policy(&self, id: &str) -> Result<bool> {
        // The start whose quick exit scheduled us may still be finishing (its exit is noticed
        // inside it): wait for it, or this restart would be dropped as "already starting".
        self.settle_policy_start(id);
        let (cfg, host, rotation) = {
            let mut inner = self.lock();
            let busy = inner.starting.contains(id);
            let Some(rec) = inner.containers.get_mut(id) else {
                return Ok(false);
            };
            if rec.state.running || busy {
                return Ok(false);
            }
            if !rec.state.restarting || rec.manually_stopped {
                clear(rec);
                return Ok(false);
            }
            let rotation = rec.host_config.log_config.rotation()?;
            let claimed = (rec.config.clone(), rec.host_config.clone(), rotation);
            inner.starting.insert(id.to_owned());
            claimed
        };
        let result = self.start_claimed(id, &cfg, &host, rotation);
        self.lock().starting.remove(id);
        result
    }

    /// Waits (bounded) until no start of container `key` is under way, so that `stop` and
    /// `kill` act on a settled state.
    pub(crate) fn settle_policy_start(&self, key: &str) {
        let deadline = std::time::Instant::now() + SETTLE;
        while std::time::Instant::now() < deadline {
            let busy = {
                let inner = self.lock();
                Self::find_id(&inner, key).is_ok_and(|id| inner.starting.contains(&id))
            };
            if !busy {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
