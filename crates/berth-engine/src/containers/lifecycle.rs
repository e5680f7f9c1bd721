//! Running containers: `start` (mount the root, write the spec, run the shim), `stop`, `kill`,
//! `rm`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_runtime::container::Container;
use nix::sys::signal::Signal;

use crate::containers::exits::WaitCondition;
use crate::error::{io_err, EngineError, Result};
use crate::shim::{self, ShimPaths};
use crate::time::now_rfc3339;
use crate::{spec, user, Containers};

/// Docker's default grace period of `stop`.
pub const DEFAULT_STOP_TIMEOUT: i64 = 10;

/// Parses a signal as docker accepts it: `KILL`, `SIGKILL` or `9`.
pub fn parse_signal(s: &str) -> Result<Signal> {
    let bad = || EngineError::InvalidParameter(format!("Invalid signal: {s}"));
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>().map_err(|_| bad())
}

/// Whether `path` is a mount point (its device differs from its parent's).
fn is_mount_point(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(m), Some(parent)) = (std::fs::metadata(path), path.parent()) else {
        return false;
    };
    std::fs::metadata(parent).is_ok_and(|p| p.dev() != m.dev())
}

impl Containers {
    /// Where a running container's root is mounted.
    pub(crate) fn rootfs_dir(&self, id: &str) -> PathBuf {
        self.exec_dir(id).join("rootfs")
    }

    /// Unmounts the container's root if mounted (errors are logged: nothing can act on them).
    pub(crate) fn unmount_rootfs(&self, id: &str) {
        let dir = self.rootfs_dir(id);
        if is_mount_point(&dir) {
            if let Err(e) = berth_image::snapshot::unmount(&dir) {
                tracing::warn!("unmount {}: {e}", dir.display());
            }
        }
    }

    /// `docker start`: runs the container's program. Returns false if it was already running
    /// (docker's 304).
    pub fn start(&self, key: &str) -> Result<bool> {
        let (id, cfg, host, rotation) = {
            let mut inner = self.lock();
            let id = Self::find_id(&inner, key)?;
            let rec = inner
                .containers
                .get(&id)
                .ok_or_else(|| EngineError::NoSuchContainer(key.to_owned()))?;
            if rec.state.running || inner.starting.contains(&id) {
                return Ok(false);
            }
            let rotation = rec.host_config.log_config.rotation()?;
            let cfg = rec.config.clone();
            let host = rec.host_config.clone();
            // Claimed: a concurrent start of the same container now reads as "running".
            inner.starting.insert(id.clone());
            (id, cfg, host, rotation)
        };
        let result = self.start_claimed(&id, &cfg, &host, rotation);
        self.lock().starting.remove(&id);
        result
    }

    pub(crate) fn start_claimed(
        &self,
        id: &str,
        cfg: &crate::ContainerConfig,
        host: &crate::HostConfig,
        rotation: (u64, u32),
    ) -> Result<bool> {
        let id = id.to_owned();
        let exec_dir = self.exec_dir(&id);
        let rootfs = self.rootfs_dir(&id);
        std::fs::create_dir_all(&rootfs).map_err(io_err("create", &rootfs))?;
        let _ = std::fs::remove_file(exec_dir.join(shim::EXIT_FILE));
        if !is_mount_point(&rootfs) {
            let mount = self.images.store.container_mount(&id)?;
            self.mount_rootfs(host, &mount, &rootfs)?;
        }
        let result = self.start_mounted(&id, cfg, host, rotation, &exec_dir, &rootfs);
        match result {
            Ok(pid) => {
                {
                    let mut inner = self.lock();
                    if let Some(rec) = inner.containers.get_mut(&id) {
                        rec.state.status = "running".into();
                        rec.state.running = true;
                        rec.state.restarting = false;
                        rec.state.pid = pid;
                        rec.state.exit_code = 0;
                        rec.state.error = String::new();
                        rec.state.started_at = now_rfc3339();
                        rec.state.finished_at = crate::time::ZERO_TIME.into();
                        // Clearing a stop is the user's intent (restart policies read it after
                        // a reboot): durable; otherwise only run state changed.
                        if std::mem::take(&mut rec.manually_stopped) {
                            self.records.save(rec)?;
                        } else {
                            self.records.save_state(rec)?;
                        }
                    }
                }
                self.emit_container(&id, "start", &[]);
                self.health_started(&id);
                // It may have exited before it was marked running.
                self.check_exit(&id);
                Ok(true)
            }
            Err(e) => {
                self.networks.net_teardown(&id);
                self.unmount_rootfs(&id);
                self.volumes_stopped(&id);
                let auto_remove = {
                    let mut inner = self.lock();
                    match inner.containers.get_mut(&id) {
                        Some(rec) => {
                            rec.state.error = e.to_string();
                            rec.state.exit_code = 128;
                            crate::containers::restarting::clear(rec);
                            let _ = self.records.save(rec);
                            rec.host_config.auto_remove
                        }
                        None => false,
                    }
                };
                // This run is over before it began: end the waits and attaches made for it.
                self.wake_waiters(&id, 128);
                // Like docker: an auto-remove container that cannot start is removed.
                if auto_remove {
                    if let Err(re) = self.remove_inner(&id, true) {
                        tracing::warn!("auto-removing {id}: {re}");
                    }
                }
                Err(e)
            }
        }
    }

    fn start_mounted(
        &self,
        id: &str,
        cfg: &crate::ContainerConfig,
        host: &crate::HostConfig,
        rotation: (u64, u32),
        exec_dir: &Path,
        rootfs: &Path,
    ) -> Result<i32> {
        let passwd = user::read_in_root(rootfs, "etc/passwd")?;
        let group = user::read_in_root(rootfs, "etc/group")?;
        let who = user::resolve(&cfg.user, &passwd, &group)?;
        let mut spec = spec::build(id, cfg, host, &who, rootfs)?;
        self.add_volume_mounts(id, rootfs, &mut spec)?;
        spec = self.net_apply(id, cfg, host, spec)?;
        spec = self.userns_apply(id, host, spec)?;
        spec = self.rootless_apply(spec)?;
        let cfg_path = exec_dir.join("config.json");
        spec.save(&cfg_path)
            .map_err(|e| EngineError::Internal(format!("write {}: {e}", cfg_path.display())))?;
        let runtime_root = self.runtime_root();
        std::fs::create_dir_all(&runtime_root).map_err(io_err("create", &runtime_root))?;
        let log_path = crate::containers::log_driver::shim_log_path(self.log_path(id), host);
        self.watcher.watch(exec_dir);
        shim::spawn(
            id,
            &ShimPaths {
                binary: &self.cfg.shim_binary,
                bundle: exec_dir,
                runtime_root: &runtime_root,
                state_dir: exec_dir,
                log_path: &log_path,
                rotation: berth_shim_proto::Rotation {
                    max_size: rotation.0,
                    max_file: rotation.1,
                },
                stdio: self.shim_stdio_opts(id, cfg),
            },
        )
    }

    fn signal(&self, id: &str, sig: Signal, all: bool) -> Result<()> {
        let c = Container::load(&self.runtime_root(), id)
            .map_err(|e| EngineError::Conflict(format!("Container {id} is not running: {e}")))?;
        self.emit_container(id, "kill", &[("signal", &(sig as i32).to_string())]);
        c.kill(sig, all)
            .map_err(|e| EngineError::Internal(format!("cannot kill container {id}: {e}")))?;
        self.thaw_after_signal(id);
        Ok(())
    }

    fn set_manually_stopped(&self, id: &str) -> Result<()> {
        let mut inner = self.lock();
        if let Some(rec) = inner.containers.get_mut(id) {
            if !rec.manually_stopped {
                rec.manually_stopped = true;
                self.records.save(rec)?;
            }
        }
        Ok(())
    }

    /// `docker restart`: stop (with `timeout`) then start.
    pub fn restart(&self, key: &str, timeout: Option<i64>) -> Result<()> {
        self.stop(key, timeout)?;
        self.start(key).map(drop)
    }

    fn running_id(&self, key: &str) -> Result<(String, bool, Option<String>, Option<i64>)> {
        let inner = self.lock();
        let id = Self::find_id(&inner, key)?;
        let rec = inner
            .containers
            .get(&id)
            .ok_or_else(|| EngineError::NoSuchContainer(key.to_owned()))?;
        Ok((
            id,
            rec.state.running,
            rec.config.stop_signal.clone(),
            rec.config.stop_timeout,
        ))
    }

    /// `docker kill`: sends `signal` (default SIGKILL) to the container's init.
    pub fn kill(&self, key: &str, signal: Option<&str>) -> Result<()> {
        let sig = match signal.filter(|s| !s.is_empty()) {
            Some(s) => parse_signal(s)?,
            None => Signal::SIGKILL,
        };
        self.settle_policy_start(key);
        let (id, running, _, _) = self.running_id(key)?;
        if !running && self.is_restarting(&id) {
            self.emit_container(&id, "kill", &[("signal", &(sig as i32).to_string())]);
            return self.cancel_restart(&id);
        }
        if !running {
            return Err(EngineError::Conflict(format!(
                "Container {id} is not running"
            )));
        }
        if sig != Signal::SIGKILL {
            return self.signal(&id, sig, false);
        }
        // As dockerd: a SIGKILL answers once the container is dead, so an inspect or a remove
        // right after sees it stopped. The wait is registered before the signal so that the
        // exit cannot slip in between.
        let waiter = self.wait(&id, WaitCondition::NotRunning)?;
        self.signal(&id, sig, true)?;
        if waiter.wait_timeout(Duration::from_secs(30)).is_none() {
            return Err(EngineError::Internal(format!(
                "container {id} did not exit after SIGKILL"
            )));
        }
        Ok(())
    }

    /// `docker stop`: the stop signal, then SIGKILL to every process after `timeout` seconds
    /// (default: the container's `StopTimeout`, else 10; negative waits forever). Returns false if it was not running (304).
    pub fn stop(&self, key: &str, timeout: Option<i64>) -> Result<bool> {
        self.settle_policy_start(key);
        let (id, running, stop_signal, stop_timeout) = self.running_id(key)?;
        if !running && self.is_restarting(&id) {
            self.cancel_restart(&id)?;
            self.emit_container(&id, "stop", &[]);
            return Ok(true);
        }
        // Set even when not running: it cancels a pending policy restart.
        self.set_manually_stopped(&id)?;
        if !running {
            return Ok(false);
        }
        let waiter = self.wait(&id, WaitCondition::NotRunning)?;
        let sig = match stop_signal.as_deref() {
            Some(s) if !s.is_empty() => parse_signal(s)?,
            _ => Signal::SIGTERM,
        };
        let _ = self.signal(&id, sig, false);
        let t = timeout.or(stop_timeout).unwrap_or(DEFAULT_STOP_TIMEOUT);
        let exited = if t < 0 {
            waiter.wait_timeout(Duration::MAX).is_some()
        } else {
            waiter.wait_timeout(Duration::from_secs(t as u64)).is_some()
        };
        if !exited {
            let _ = self.signal(&id, Signal::SIGKILL, true);
            if waiter.wait_timeout(Duration::from_secs(30)).is_none() {
                return Err(EngineError::Internal(format!(
                    "container {id} did not exit after SIGKILL"
                )));
            }
        }
        self.emit_container(&id, "stop", &[]);
        Ok(true)
    }

    /// `docker rm`: removes a stopped container (with `force`, kills a running one first),
    /// its writable layer, log and runtime files.
    pub fn remove(&self, key: &str, force: bool) -> Result<()> {
        let id = Self::find_id(&self.lock(), key)?;
        if force {
            // A policy restart under way ends first; then the container is killed.
            self.settle_policy_start(&id);
        }
        if let Some(rec) = self.lock().containers.get(&id) {
            crate::containers::restarting::refuse_removal(rec).or_else(|e| {
                if force {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        }
        if self.lock().starting.contains(&id) {
            return Err(EngineError::Conflict(format!(
                "cannot remove container {id}: it is being started"
            )));
        }
        self.remove_inner(&id, force)
    }

    /// `remove` without the in-progress-start check, for the engine's own auto-removal (which
    /// may run inside that start).
    pub(crate) fn remove_inner(&self, key: &str, force: bool) -> Result<()> {
        let (id, running, _, _) = self.running_id(key)?;
        if !running && self.is_restarting(&id) {
            if !force {
                if let Some(rec) = self.lock().containers.get(&id) {
                    crate::containers::restarting::refuse_removal(rec)?;
                }
            }
            self.cancel_restart(&id)?;
        }
        if running {
            if !force {
                let name = self
                    .lock()
                    .containers
                    .get(&id)
                    .map(|r| r.name.clone())
                    .unwrap_or_default();
                return Err(EngineError::Conflict(format!(
                    "cannot remove container \"{name}\": container is running: stop the container before removing or force remove"
                )));
            }
            let waiter = self.wait(&id, WaitCondition::NotRunning)?;
            let _ = self.signal(&id, Signal::SIGKILL, true);
            if waiter.wait_timeout(Duration::from_secs(30)).is_none() {
                return Err(EngineError::Internal(format!(
                    "container {id} did not exit after SIGKILL"
                )));
            }
        }
        self.emit_container(&id, "destroy", &[]);
        let Some(rec) = self.lock().containers.remove(&id) else {
            // Removed concurrently (e.g. auto-remove): nothing left to do.
            return Ok(());
        };
        self.unmount_rootfs(&id);
        self.release_mounts(&id, rec.host_config.auto_remove);
        match self.images.store.remove_container(&id) {
            Ok(()) | Err(berth_image::StoreError::NoContainer(_)) => {}
            Err(e) => tracing::warn!("removing the layer of {id}: {e}"),
        }
        let exec_dir = self.exec_dir(&id);
        if let Err(e) = std::fs::remove_dir_all(&exec_dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!("remove {}: {e}", exec_dir.display());
            }
        }
        self.networks.net_unregister(&id);
        self.records.remove(&id)?;
        self.notify_removed(&id, rec.state.exit_code);
        Ok(())
    }
}

impl Containers {
    /// `docker rename`.
    pub fn rename(&self, key: &str, new_name: &str) -> Result<()> {
        let new_name = crate::names::validate(new_name)?;
        let mut inner = self.lock();
        let id = Self::find_id(&inner, key)?;
        if let Some(other) = inner
            .containers
            .values()
            .find(|r| r.short_name() == new_name && r.id != id)
        {
            return Err(EngineError::Conflict(format!(
                "Error when allocating new name: Conflict. The container name \"/{new_name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                other.id
            )));
        }
        let rec = inner
            .containers
            .get_mut(&id)
            .ok_or_else(|| EngineError::NoSuchContainer(key.to_owned()))?;
        let old = std::mem::replace(&mut rec.name, format!("/{new_name}"));
        self.records.save(rec)?;
        drop(inner);
        self.networks.net_rename(&id, &new_name);
        self.emit_container(&id, "rename", &[("oldName", &old)]);
        Ok(())
    }

    /// `docker container prune`: removes every container that is not running; returns their
    /// ids and the bytes their writable layers held (docker's `SpaceReclaimed`).
    pub fn prune(&self) -> Result<(Vec<String>, u64)> {
        let stopped: Vec<String> = self
            .lock()
            .containers
            .values()
            .filter(|r| !r.state.running)
            .map(|r| r.id.clone())
            .collect();
        if stopped.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let sizes: std::collections::HashMap<String, u64> = self
            .images
            .store
            .disk_usage()?
            .containers
            .into_iter()
            .collect();
        let mut removed = Vec::new();
        let mut space = 0;
        for id in stopped {
            match self.remove(&id, false) {
                Ok(()) => {
                    space += sizes.get(&id).copied().unwrap_or(0);
                    removed.push(id);
                }
                // Started meanwhile, or removed by someone else: not ours to prune.
                Err(e) => tracing::debug!("prune {id}: {e}"),
            }
        }
        Ok((removed, space))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("KILL").ok(), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("sigterm").ok(), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("15").ok(), Some(Signal::SIGTERM));
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("999").is_err());
    }
}
