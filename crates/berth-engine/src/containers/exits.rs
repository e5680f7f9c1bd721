//! Learning that containers exited: an inotify watch on each running container's exec dir (the
//! shim renames `exit.json` into it) plus a periodic sweep; turning the file into the `exited`
//! state; waking waiters; auto-removal; and reconciliation when the engine opens.

use std::os::fd::AsFd;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::sync::Notify;

use crate::containers::Containers;
use crate::error::{EngineError, Result};
use crate::shim::{self, ExitRecord};
use crate::time::now_rfc3339;

/// How often running containers are checked even without an inotify event.
const SWEEP: Duration = Duration::from_millis(500);

/// Docker's `condition` of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    /// Return at once if the container is not running, else at its exit (the default).
    NotRunning,
    /// Wait for the next exit, even if not running now.
    NextExit,
    /// Wait until the container is removed.
    Removed,
}

impl WaitCondition {
    /// Parses docker's names (`not-running`, `next-exit`, `removed`; empty = default).
    pub fn parse(s: &str) -> Result<WaitCondition> {
        match s {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(EngineError::InvalidParameter(format!(
                "invalid condition: \"{other}\""
            ))),
        }
    }
}

/// The outcome of a wait: docker's `{"StatusCode": N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitResult {
    /// The container's exit code.
    pub status_code: i32,
}

/// A registered wait; [`Waiter::wait`] blocks until the condition is met,
/// [`Waiter::wait_async`] awaits it without holding a thread.
pub struct Waiter {
    rx: mpsc::Receiver<WaitResult>,
    wake: Arc<Notify>,
}

impl Waiter {
    /// Blocks until the condition holds. `None` if the engine went away.
    pub fn wait(self) -> Option<WaitResult> {
        self.rx.recv().ok()
    }

    /// Blocks at most `d`.
    pub fn wait_timeout(&self, d: Duration) -> Option<WaitResult> {
        self.rx.recv_timeout(d).ok()
    }

    /// The result if the condition already holds; `Err(())` if it never will (the engine
    /// dropped the registration).
    pub(crate) fn try_result(&self) -> std::result::Result<Option<WaitResult>, ()> {
        match self.rx.try_recv() {
            Ok(r) => Ok(Some(r)),
            Err(mpsc::TryRecvError::Empty) => Ok(None),
            Err(mpsc::TryRecvError::Disconnected) => Err(()),
        }
    }

    /// Resolves when the registration was answered or dropped (then [`Waiter::try_result`]
    /// tells which); may also resolve early, so callers look again.
    /// (A future of its own, not borrowing the waiter, whose receiver is not `Sync`.)
    pub fn changed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let wake = self.wake.clone();
        async move { wake.notified().await }
    }

    /// Awaits the condition. `None` if the engine went away.
    pub async fn wait_async(self) -> Option<WaitResult> {
        loop {
            match self.try_result() {
                Ok(Some(r)) => return Some(r),
                Ok(None) => self.changed().await,
                Err(()) => return None,
            }
        }
    }
}

/// A wait in the engine's table. The `Notify` wakes an async waiter both when the result is
/// sent and when the registration is dropped unanswered (its `Drop`), so none sleeps forever.
pub(crate) struct Registered {
    condition: WaitCondition,
    tx: mpsc::Sender<WaitResult>,
    wake: Arc<Notify>,
}

impl Registered {
    fn send(&self, r: WaitResult) {
        let _ = self.tx.send(r);
        self.wake.notify_one();
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

/// The inotify instance watching exec dirs.
pub(crate) struct Watcher {
    inotify: Arc<Inotify>,
}

impl Watcher {
    pub(crate) fn new() -> Result<Watcher> {
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .map_err(|e| EngineError::Internal(format!("inotify: {e}")))?;
        Ok(Watcher {
            inotify: Arc::new(inotify),
        })
    }

    /// Watches `dir` for the shim's exit file (the watch goes away with the directory).
    pub(crate) fn watch(&self, dir: &Path) {
        if let Err(e) = self.inotify.add_watch(
            dir,
            AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_CLOSE_WRITE,
        ) {
            tracing::warn!("inotify watch {}: {e}", dir.display());
        }
    }
}

/// Starts the thread that notices exits; it ends when the engine is dropped.
pub(crate) fn spawn_watcher(engine: &Arc<Containers>) {
    let weak: Weak<Containers> = Arc::downgrade(engine);
    let spawned = std::thread::Builder::new()
        .name("berth-exits".into())
        .spawn(move || loop {
            let Some(engine) = weak.upgrade() else { return };
            {
                let mut fds = [PollFd::new(
                    engine.watcher.inotify.as_fd(),
                    PollFlags::POLLIN,
                )];
                let _ = poll(&mut fds, PollTimeout::from(SWEEP.as_millis() as u16));
            }
            while let Ok(ev) = engine.watcher.inotify.read_events() {
                if ev.is_empty() {
                    break;
                }
            }
            engine.sweep();
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the exit watcher: {e}");
    }
}

impl Containers {
    /// Checks every running container for an exit file (or a vanished shim).
    pub(crate) fn sweep(&self) {
        let running = self.running_ids();
        for id in running {
            self.check_exit(&id);
        }
    }

    /// If container `id` has exited, records it. Returns whether it had.
    pub(crate) fn check_exit(&self, id: &str) -> bool {
        let dir = self.exec_dir(id);
        let status = match shim::read_exit(&dir) {
            Some(s) => s,
            None if !shim::shim_alive(&dir) && !dir.join(shim::EXIT_FILE).exists() => {
                // The shim is gone without a word (killed, or the host rebooted): the exit
                // status is lost, as docker reports it.
                tracing::warn!("container {id}: monitor gone, exit status unknown");
                let _ = berth_runtime::container::Container::load(&self.runtime_root(), id)
                    .and_then(|c| c.delete(true));
                ExitRecord {
                    exit_code: 255,
                    finished_at: now_rfc3339(),
                    oom_killed: false,
                }
            }
            None => return false,
        };
        self.record_exit(id, &status);
        true
    }

    fn record_exit(&self, id: &str, status: &ExitRecord) {
        let auto_remove;
        let waiters;
        let restart;
        {
            let mut inner = self.lock();
            let Some(rec) = inner.containers.get_mut(id) else {
                return;
            };
            if !rec.state.running {
                return;
            }
            rec.state.running = false;
            rec.state.paused = false;
            self.health_stopped(id);
            rec.state.status = "exited".into();
            rec.state.pid = 0;
            rec.state.exit_code = status.exit_code;
            rec.state.oom_killed = status.oom_killed;
            rec.state.finished_at = status.finished_at.clone();
            // Announced before the lock is released: a `wait` that now sees the container
            // exited may lead to its removal at once, and `die` must come before `destroy`
            // and still carry the container's name.
            let (image, name) = (rec.config.image.clone(), rec.short_name().to_owned());
            let attrs = [("image", image.as_str()), ("name", name.as_str())];
            if status.oom_killed {
                self.events.emit("container", "oom", id, &attrs);
            }
            let code = status.exit_code.to_string();
            self.events.emit(
                "container",
                "die",
                id,
                &[attrs[0], attrs[1], ("exitCode", &code)],
            );
            auto_remove = rec.host_config.auto_remove;
            restart = !auto_remove
                && rec.host_config.restart_policy.should_restart(
                    status.exit_code,
                    rec.restart_count,
                    rec.manually_stopped,
                );
            // Docker's back-off resets once a run lasted 10 seconds.
            let ran = crate::time::parse_rfc3339(&status.finished_at)
                .zip(crate::time::parse_rfc3339(&rec.state.started_at))
                .map_or(0, |(end, start)| end - start);
            let attempt = if ran >= 10 { 0 } else { rec.restart_count };
            if restart {
                // Shown before the waiters wake: a `wait` then `rm` meets "restarting".
                crate::containers::restarting::mark(rec);
            }
            if let Err(e) = self.records.save_state(rec) {
                tracing::error!("saving container {id}: {e}");
            }
            self.networks.net_teardown(id);
            waiters = inner.waiters.remove(id).unwrap_or_default();
            if restart {
                self.schedule_restart(id, attempt);
            }
        }
        let _ = std::fs::remove_file(self.exec_dir(id).join(shim::EXIT_FILE));
        self.unmount_rootfs(id);
        self.volumes_stopped(id);
        let result = WaitResult {
            status_code: status.exit_code,
        };
        let mut keep = Vec::new();
        for w in waiters {
            if w.condition == WaitCondition::Removed && auto_remove {
                keep.push(w);
            } else if w.condition != WaitCondition::Removed {
                w.send(result);
            } else {
                keep.push(w);
            }
        }
        if !keep.is_empty() {
            self.lock()
                .waiters
                .entry(id.to_owned())
                .or_default()
                .extend(keep);
        }
        if auto_remove {
            if let Err(e) = self.remove_inner(id, true) {
                tracing::warn!("auto-removing {id}: {e}");
            }
        }
    }

    /// Starts container `id` again after a back-off (100 ms doubling per restart, at most
    /// a minute), unless the user stopped or removed it meanwhile.
    pub(crate) fn schedule_restart(&self, id: &str, attempt: i64) {
        let Some(weak) = self.me.get().cloned() else {
            return;
        };
        let delay = Duration::from_millis(100 << attempt.clamp(0, 9)).min(Duration::from_secs(60));
        let owned = id.to_owned();
        let spawned = std::thread::Builder::new()
            .name("berth-restart".into())
            .spawn(move || {
                std::thread::sleep(delay);
                let id = owned;
                let Some(engine) = weak.upgrade() else { return };
                {
                    let mut inner = engine.lock();
                    let Some(rec) = inner.containers.get_mut(&id) else {
                        return;
                    };
                    if rec.state.running || rec.manually_stopped {
                        crate::containers::restarting::clear(rec);
                        return;
                    }
                }
                if let Err(e) = engine.start_for_policy(&id) {
                    tracing::warn!("restarting container {id}: {e}");
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot schedule a restart of {id}: {e}");
        }
    }

    /// Registers a wait on container `key` under `condition`.
    pub fn wait(&self, key: &str, condition: WaitCondition) -> Result<Waiter> {
        let (tx, rx) = mpsc::channel();
        let wake = Arc::new(Notify::new());
        let reg = Registered {
            condition,
            tx,
            wake: wake.clone(),
        };
        let mut inner = self.lock();
        let id = Self::find_id(&inner, key)?;
        let rec = inner
            .containers
            .get(&id)
            .ok_or_else(|| EngineError::NoSuchContainer(key.to_owned()))?;
        // A restarting container counts as running, as in docker: the wait ends at its next
        // exit (or when its restart is cancelled).
        if condition == WaitCondition::NotRunning && !rec.state.running && !rec.state.restarting {
            reg.send(WaitResult {
                status_code: rec.state.exit_code,
            });
        } else {
            inner.waiters.entry(id).or_default().push(reg);
        }
        Ok(Waiter { rx, wake })
    }

    /// Wakes the exit waiters (not `Removed` ones) of container `id` with `exit_code`.
    pub(crate) fn wake_waiters(&self, id: &str, exit_code: i32) {
        let mut inner = self.lock();
        let Some(list) = inner.waiters.remove(id) else {
            return;
        };
        let (removed, woken): (Vec<_>, Vec<_>) = list
            .into_iter()
            .partition(|w| w.condition == WaitCondition::Removed);
        if !removed.is_empty() {
            inner.waiters.insert(id.to_owned(), removed);
        }
        drop(inner);
        for w in woken {
            w.send(WaitResult {
                status_code: exit_code,
            });
        }
    }

    /// Wakes `Removed` waiters (and any other left) of a container that is gone.
    pub(crate) fn notify_removed(&self, id: &str, exit_code: i32) {
        let waiters = self.lock().waiters.remove(id).unwrap_or_default();
        for w in waiters {
            w.send(WaitResult {
                status_code: exit_code,
            });
        }
    }

    /// At open: containers recorded as running are checked against their shim's files, and
    /// watched again if they still run.
    pub(crate) fn recover(&self) {
        let (running, pending): (Vec<_>, Vec<_>) = {
            let inner = self.lock();
            let running: Vec<String> = inner
                .containers
                .values()
                .filter(|r| r.state.running)
                .map(|r| r.id.clone())
                .collect();
            // Down, but their policy wants them up (a restart was pending when the previous
            // daemon stopped).
            let pending: Vec<(String, i64)> = inner
                .containers
                .values()
                .filter(|r| {
                    !r.state.running
                        && (r.state.restarting
                            || (r.state.status == "exited"
                                && matches!(
                                    r.host_config.restart_policy.name.as_str(),
                                    "always" | "unless-stopped"
                                )))
                        && !r.manually_stopped
                })
                .map(|r| (r.id.clone(), r.restart_count))
                .collect();
            (running, pending)
        };
        for id in running {
            self.watcher.watch(&self.exec_dir(&id));
            if !self.check_exit(&id) {
                tracing::info!("container {id} is still running");
            }
        }
        for (id, attempt) in pending {
            // Records of an older daemon say "exited": the restart is pending all the same.
            if let Some(rec) = self.lock().containers.get_mut(&id) {
                rec.state.restarting = true;
                rec.state.status = "restarting".into();
            }
            self.schedule_restart(&id, attempt.min(1));
        }
    }
}
