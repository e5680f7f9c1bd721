//! `start`, `kill`, `delete`, `pause`, `resume`, `ps` on an existing container.

use std::fs;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::fcntl::{open, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::unistd::Pid;

use super::Container;
use crate::state::{Status, EXEC_FIFO};
use crate::{hooks, Error};

impl Container {
    /// Releases the init parked on the exec FIFO: it runs the user's program next.
    pub fn start(&self) -> Result<(), Error> {
        match self.status() {
            Status::Created => {}
            Status::Stopped => {
                return Err(Error::Other(
                    "cannot start a container that has stopped".into(),
                ))
            }
            Status::Running | Status::Paused => {
                return Err(Error::Other(
                    "cannot start an already running container".into(),
                ))
            }
            Status::Creating => {
                return Err(Error::Other("container is still being created".into()))
            }
        }
        let fifo = self.dir.join(EXEC_FIFO);
        let fd = open(
            &fifo,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::Other(format!("open exec fifo: {e}")))?;
        // Wait for the init's byte; stop waiting if it dies meanwhile.
        let mut buf = [0u8; 1];
        loop {
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(20u16));
            match nix::unistd::read(&fd, &mut buf) {
                Ok(1) => break,
                Ok(_) | Err(nix::Error::EAGAIN) | Err(nix::Error::EINTR) => {
                    if !self.state.init_alive() {
                        return Err(Error::Other(
                            "cannot start a container that has stopped".into(),
                        ));
                    }
                }
                Err(e) => return Err(Error::Other(format!("read exec fifo: {e}"))),
            }
        }
        let _ = fs::remove_file(&fifo);
        // The init holds its end until exec (or death): EOF means the program is running.
        loop {
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(20u16));
            match nix::unistd::read(&fd, &mut buf) {
                Ok(0) => break,
                Ok(_) | Err(nix::Error::EAGAIN) | Err(nix::Error::EINTR) => {
                    if !self.state.init_alive() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        if let Ok(spec) = self.spec() {
            // The state as of the start, even if a quick program has already exited.
            let mut state = self.oci_state();
            state.pid = self.state.pid;
            state.status = Status::Running;
            let st = serde_json::to_vec(&state).unwrap_or_default();
            for e in hooks::run_all_best_effort(
                spec.hooks().as_ref().and_then(|h| h.poststart().as_ref()),
                &st,
                hooks::Namespace::Runtime,
            ) {
                tracing::warn!("poststart hook: {e}");
            }
        }
        Ok(())
    }

    /// Sends `sig` to the init, or with `all` to every process in the container's cgroup.
    pub fn kill(&self, sig: Signal, all: bool) -> Result<(), Error> {
        if self.status() == Status::Stopped && !all {
            return Err(Error::Other("container not running".into()));
        }
        if !all {
            return self
                .state
                .signal_init(sig)
                .map_err(|e| Error::Other(format!("kill: {e}")));
        }
        let cg = self.cgroup()?;
        // A frozen process only acts on a signal once thawed.
        let frozen = cg.is_frozen();
        for pid in self.procs()? {
            let _ = kill(Pid::from_raw(pid), sig);
        }
        if frozen && sig == Signal::SIGKILL {
            cg.set_frozen(false)?;
        }
        Ok(())
    }

    /// Removes the container: it must be stopped (or created), unless `force` kills it first.
    pub fn delete(self, force: bool) -> Result<(), Error> {
        match self.status() {
            Status::Stopped => {}
            Status::Created => self.kill_everything()?,
            s if force => {
                let _ = s;
                self.kill_everything()?
            }
            s => {
                return Err(Error::Other(format!(
                    "cannot delete container {} that is not stopped: {s}",
                    self.state.id
                )))
            }
        }
        let spec = self.spec().ok();
        let st = serde_json::to_vec(&self.oci_state()).unwrap_or_default();
        self.cgroup()?.destroy()?;
        fs::remove_dir_all(&self.dir).map_err(|e| Error::Io {
            op: "remove",
            path: self.dir.clone(),
            source: e,
        })?;
        if let Some(spec) = spec {
            for e in hooks::run_all_best_effort(
                spec.hooks().as_ref().and_then(|h| h.poststop().as_ref()),
                &st,
                hooks::Namespace::Runtime,
            ) {
                tracing::warn!("poststop hook: {e}");
            }
        }
        Ok(())
    }

    /// SIGKILLs every process of the container and waits (briefly) until they are gone.
    fn kill_everything(&self) -> Result<(), Error> {
        let cg = self.cgroup()?;
        let before = self.procs().unwrap_or_default();
        // Whether the cgroup holds the init (a rootless container without delegation has none).
        let init_in_cgroup = before.contains(&self.state.pid);
        if self.state.init_alive() {
            let _ = kill(Pid::from_raw(self.state.pid), Signal::SIGKILL);
        }
        for pid in before {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if cg.is_frozen() {
            cg.set_frozen(false)?;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            // Zombies are dead: whoever inherited them reaps them in its own time. An init that
            // left its cgroup is inside exit (it may wait there until such zombies are reaped).
            let pids = cg.pids().unwrap_or_default();
            let live = pids
                .iter()
                .any(|p| crate::state::proc_stat(*p).is_some_and(|(st, _)| st != 'Z' && st != 'X'));
            let init_exiting = init_in_cgroup && !pids.contains(&self.state.pid);
            if !live && (!self.state.init_alive() || init_exiting) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let left: Vec<String> = cg
            .pids()
            .unwrap_or_default()
            .into_iter()
            .map(|p| format!("{p}:{}", crate::state::proc_stat(p).map_or('?', |(s, _)| s)))
            .collect();
        Err(Error::Other(format!(
            "processes did not exit after SIGKILL (init alive: {}, left: {})",
            self.state.init_alive(),
            left.join(" ")
        )))
    }

    /// Freezes every process of the container.
    pub fn pause(&self) -> Result<(), Error> {
        match self.status() {
            Status::Running | Status::Created if self.cgroupless() => {
                Err(self.needs_cgroup("pause"))
            }
            Status::Running | Status::Created => Ok(self.cgroup()?.set_frozen(true)?),
            Status::Paused => Err(Error::Other("container already paused".into())),
            _ => Err(Error::Other("container not running".into())),
        }
    }

    /// Thaws a paused container.
    pub fn resume(&self) -> Result<(), Error> {
        match self.status() {
            Status::Paused => Ok(self.cgroup()?.set_frozen(false)?),
            _ => Err(Error::Other("container not paused".into())),
        }
    }

    /// Host pids of every process in the container.
    pub fn pids(&self) -> Result<Vec<i32>, Error> {
        if self.status() == Status::Stopped {
            return Err(Error::Other("container not running".into()));
        }
        self.procs()
    }
}
