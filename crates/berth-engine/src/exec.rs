//! `docker exec`: exec instances (kept in memory, as docker does), each run by a
//! `berth-shim exec` child whose stdout/stderr pipes are streamed to the client.

use std::collections::HashMap;
use std::io::Read;
use std::os::fd::AsFd;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::{Arc, Weak};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde::{Deserialize, Serialize};

use crate::error::{io_err, EngineError, Result};
use crate::logs::{LogEntry, LogStream};
use crate::record::ContainerConfig;
use crate::{names, spec, user, Engine};

/// The body of `POST /containers/{id}/exec`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    /// The command.
    pub cmd: Option<Vec<String>>,
    /// Extra `KEY=VALUE` environment.
    pub env: Option<Vec<String>>,
    /// User (default: the container's).
    pub user: Option<String>,
    /// Working directory (default: the container's).
    pub working_dir: Option<String>,
    /// Stream stdout.
    pub attach_stdout: bool,
    /// Stream stderr.
    pub attach_stderr: bool,
    /// Stdin (not supported yet).
    pub attach_stdin: bool,
    /// Terminal (not supported yet).
    pub tty: bool,
}

/// One exec instance.
#[derive(Debug, Clone)]
pub(crate) struct ExecRecord {
    container: String,
    config: ExecConfig,
    started: bool,
    running: bool,
    pid: u32,
    exit_code: Option<i32>,
}

/// `GET /exec/{id}/json`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecInspect {
    /// Exec id.
    #[serde(rename = "ID")]
    pub id: String,
    /// Whether it runs now.
    pub running: bool,
    /// Exit code once it ended.
    pub exit_code: Option<i32>,
    /// The container.
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    /// Pid of its monitor while running.
    pub pid: u32,
    /// Docker's `ProcessConfig`.
    pub process_config: serde_json::Value,
    /// Whether stdin is open.
    pub open_stdin: bool,
    /// Whether stdout is streamed.
    pub open_stdout: bool,
    /// Whether stderr is streamed.
    pub open_stderr: bool,
}

/// The running exec's output, entry by entry; ends (and records the exit code) when the
/// process has exited and its pipes are drained.
pub struct ExecOutput {
    child: Child,
    pipes: [Option<Box<dyn ReadFd>>; 2],
    /// Which streams the client attached; the others are read and dropped (closing them
    /// would hand the process SIGPIPE).
    emit: [bool; 2],
    engine: Weak<Engine>,
    exec_id: String,
    done: bool,
}

/// A readable pipe we can poll.
trait ReadFd: Read + AsFd + Send {}
impl ReadFd for ChildStdout {}
impl ReadFd for ChildStderr {}

impl Iterator for ExecOutput {
    type Item = LogEntry;

    fn next(&mut self) -> Option<LogEntry> {
        let mut buf = vec![0u8; 32 * 1024];
        while !self.done {
            let open: Vec<usize> = (0..2).filter(|i| self.pipes[*i].is_some()).collect();
            if open.is_empty() {
                self.finish();
                return None;
            }
            let ready: Vec<bool> = {
                let mut fds: Vec<PollFd> = open
                    .iter()
                    .filter_map(|i| self.pipes[*i].as_ref())
                    .map(|p| PollFd::new(p.as_fd(), PollFlags::POLLIN))
                    .collect();
                if poll(&mut fds, PollTimeout::NONE).is_err() {
                    continue;
                }
                fds.iter()
                    .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                    .collect()
            };
            for (k, i) in open.iter().enumerate() {
                if !ready[k] {
                    continue;
                }
                let Some(p) = self.pipes[*i].as_mut() else {
                    continue;
                };
                match p.read(&mut buf) {
                    Ok(0) | Err(_) => self.pipes[*i] = None,
                    Ok(_) if !self.emit[*i] => {}
                    Ok(n) => {
                        return Some(LogEntry {
                            stream: if *i == 0 {
                                LogStream::Stdout
                            } else {
                                LogStream::Stderr
                            },
                            time: String::new(),
                            data: buf[..n].to_vec(),
                        })
                    }
                }
            }
        }
        None
    }
}

impl ExecOutput {
    fn finish(&mut self) {
        self.done = true;
        let code = match self.child.wait() {
            Ok(st) => st.code().unwrap_or_else(|| {
                128 + std::os::unix::process::ExitStatusExt::signal(&st).unwrap_or(0)
            }),
            Err(_) => 255,
        };
        if let Some(engine) = self.engine.upgrade() {
            if let Some(x) = engine.lock().execs.get_mut(&self.exec_id) {
                x.running = false;
                x.exit_code = Some(code);
            }
        }
    }
}

impl Drop for ExecOutput {
    fn drop(&mut self) {
        if !self.done {
            // The client went away: the process keeps running; reap its monitor in the
            // background so the exit code is still recorded.
            let mut child = std::mem::replace(&mut self.child, dummy_child());
            let engine = self.engine.clone();
            let id = self.exec_id.clone();
            let _ = std::thread::Builder::new().spawn(move || {
                let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(255);
                if let Some(e) = engine.upgrade() {
                    if let Some(x) = e.lock().execs.get_mut(&id) {
                        x.running = false;
                        x.exit_code = Some(code);
                    }
                }
            });
        }
    }
}

/// A finished stand-in child (for moving the real one out of a value being dropped).
fn dummy_child() -> Child {
    // `true` exits at once; if even that cannot run, a second wait just errors.
    Command::new("true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|_| std::process::exit(255))
}

pub(crate) type ExecTable = HashMap<String, ExecRecord>;

impl Engine {
    /// `POST /containers/{id}/exec`: registers an exec instance; returns its id.
    pub fn exec_create(&self, key: &str, cfg: ExecConfig) -> Result<String> {
        if cfg.tty || cfg.attach_stdin {
            return Err(EngineError::InvalidParameter(
                "interactive exec (Tty/stdin) is not supported yet".into(),
            ));
        }
        if cfg.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            return Err(EngineError::InvalidParameter(
                "No exec command specified".into(),
            ));
        }
        let mut inner = self.lock();
        let id = Self::find_id(&inner, key)?;
        if !inner.containers.get(&id).is_some_and(|r| r.state.running) {
            return Err(EngineError::Conflict(format!(
                "Container {id} is not running"
            )));
        }
        let exec_id = names::new_id()?;
        inner.execs.insert(
            exec_id.clone(),
            ExecRecord {
                container: id,
                config: cfg,
                started: false,
                running: false,
                pid: 0,
                exit_code: None,
            },
        );
        Ok(exec_id)
    }

    /// `POST /exec/{id}/start`: runs the exec; its output streams from the returned iterator.
    pub fn exec_start(self: &Arc<Self>, exec_id: &str) -> Result<ExecOutput> {
        let (container, cfg, ccfg, host) = {
            let mut inner = self.lock();
            let x = inner
                .execs
                .get_mut(exec_id)
                .ok_or_else(|| EngineError::NoSuchExec(exec_id.to_owned()))?;
            if x.started {
                return Err(EngineError::Conflict(format!(
                    "Exec {exec_id} has already been started"
                )));
            }
            x.started = true;
            let (container, cfg) = (x.container.clone(), x.config.clone());
            let rec = inner
                .containers
                .get(&container)
                .filter(|r| r.state.running)
                .ok_or_else(|| {
                    EngineError::Conflict(format!("Container {container} is not running"))
                })?;
            (container, cfg, rec.config.clone(), rec.host_config.clone())
        };
        let mut pc = ContainerConfig {
            entrypoint: None,
            cmd: cfg.cmd.clone(),
            user: cfg
                .user
                .clone()
                .filter(|u| !u.is_empty())
                .unwrap_or(ccfg.user.clone()),
            working_dir: cfg
                .working_dir
                .clone()
                .filter(|w| !w.is_empty())
                .unwrap_or(ccfg.working_dir.clone()),
            ..ccfg
        };
        for e in cfg.env.clone().unwrap_or_default() {
            let key = e.split('=').next().unwrap_or("").to_owned();
            pc.env.retain(|x| x.split('=').next() != Some(key.as_str()));
            pc.env.push(e);
        }
        let rootfs = self.rootfs_dir(&container);
        let who = user::resolve(
            &pc.user,
            &user::read_in_root(&rootfs, "etc/passwd")?,
            &user::read_in_root(&rootfs, "etc/group")?,
        )?;
        let spec = spec::build(&container, &pc, &host, &who, &rootfs)?;
        let process = spec
            .process()
            .as_ref()
            .ok_or_else(|| EngineError::Internal("exec: no process in spec".into()))?;
        let path = self
            .exec_dir(&container)
            .join(format!("exec-{exec_id}.json"));
        let data = serde_json::to_vec(process).map_err(|e| EngineError::Internal(e.to_string()))?;
        std::fs::write(&path, data).map_err(io_err("write", &path))?;
        let mut child = Command::new(&self.cfg.shim_binary)
            .arg("exec")
            .arg(&container)
            .arg(self.runtime_root())
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                EngineError::Start(format!("spawn {}: {e}", self.cfg.shim_binary.display()))
            })?;
        if let Some(x) = self.lock().execs.get_mut(exec_id) {
            x.running = true;
            x.pid = child.id();
        }
        let out: Option<Box<dyn ReadFd>> = child.stdout.take().map(|p| Box::new(p) as _);
        let err: Option<Box<dyn ReadFd>> = child.stderr.take().map(|p| Box::new(p) as _);
        Ok(ExecOutput {
            child,
            pipes: [out, err],
            // Neither flag set (older clients): both streams.
            emit: [
                cfg.attach_stdout || !cfg.attach_stderr,
                cfg.attach_stderr || !cfg.attach_stdout,
            ],
            engine: Arc::downgrade(self),
            exec_id: exec_id.to_owned(),
            done: false,
        })
    }

    /// `GET /exec/{id}/json`.
    pub fn exec_inspect(&self, exec_id: &str) -> Result<ExecInspect> {
        let inner = self.lock();
        let x = inner
            .execs
            .get(exec_id)
            .ok_or_else(|| EngineError::NoSuchExec(exec_id.to_owned()))?;
        let cmd = x.config.cmd.clone().unwrap_or_default();
        Ok(ExecInspect {
            id: exec_id.to_owned(),
            running: x.running,
            exit_code: x.exit_code,
            container_id: x.container.clone(),
            pid: x.pid,
            process_config: serde_json::json!({
                "tty": false,
                "entrypoint": cmd.first(),
                "arguments": cmd.get(1..).unwrap_or_default(),
                "user": x.config.user,
            }),
            open_stdin: false,
            open_stdout: x.config.attach_stdout,
            open_stderr: x.config.attach_stderr,
        })
    }
}
