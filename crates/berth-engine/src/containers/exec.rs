//! `docker exec`: exec instances (kept in memory, as docker does), each run by a
//! `berth-shim exec` child that speaks the attach protocol on a socketpair (output, stdin,
//! resize, exit code; see `berth_shim_proto`).

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Weak};

use serde::{Deserialize, Serialize};

use berth_shim_proto::{frames, ExecArgs, ShimArgs};

use crate::containers::attach::AttachConn;
use crate::error::{io_err, EngineError, Result};
use crate::model::ContainerConfig;
use crate::{names, spec, user, Containers};

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
    /// Attach stdin.
    pub attach_stdin: bool,
    /// Allocate a terminal.
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
    /// A handle on the shim's socket, for resizes.
    control: Option<Arc<UnixStream>>,
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

pub(crate) type ExecTable = HashMap<String, ExecRecord>;

impl Containers {
    /// `POST /containers/{id}/exec`: registers an exec instance; returns its id.
    pub fn exec_create(&self, key: &str, cfg: ExecConfig) -> Result<String> {
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
                control: None,
            },
        );
        Ok(exec_id)
    }

    /// `POST /exec/{id}/start`: runs the exec; the returned connection carries its output,
    /// stdin and exit code.
    pub fn exec_start(self: &Arc<Self>, exec_id: &str) -> Result<AttachConn> {
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
            tty: cfg.tty,
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
        // The exec'd process runs beside PID 1, never under a second init.
        let host = crate::HostConfig { init: None, ..host };
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
        let (ours, theirs) =
            UnixStream::pair().map_err(|e| EngineError::Internal(format!("socketpair: {e}")))?;
        let control = ours
            .try_clone()
            .map_err(|e| EngineError::Internal(format!("dup socket: {e}")))?;
        let args = ExecArgs {
            container: container.clone(),
            runtime_root: self.runtime_root(),
            process: path,
            stdin: cfg.attach_stdin,
        };
        let child = self.spawn_exec_shim(args, theirs)?;
        if let Some(x) = self.lock().execs.get_mut(exec_id) {
            x.running = true;
            x.pid = child.id();
            x.control = Some(Arc::new(control));
        }
        spawn_reaper(Arc::downgrade(self), exec_id, child);
        let weak = Arc::downgrade(self);
        let id = exec_id.to_owned();
        Ok(AttachConn::new(ours, cfg.tty, cfg.attach_stdin)
            .with_exit(move |code| record_exec_exit(&weak, &id, code)))
    }

    /// Runs `berth-shim exec` with `conn` as its fd 0 (the frames' socket).
    fn spawn_exec_shim(&self, args: ExecArgs, conn: UnixStream) -> Result<std::process::Child> {
        Command::new(&self.cfg.shim_binary)
            .args(ShimArgs::Exec(args).to_args())
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(conn)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                EngineError::Start(format!("spawn {}: {e}", self.cfg.shim_binary.display()))
            })
    }

    /// `POST /exec/{id}/resize`: sets the exec's terminal size.
    pub fn exec_resize(&self, exec_id: &str, rows: u16, cols: u16) -> Result<()> {
        let inner = self.lock();
        let x = inner
            .execs
            .get(exec_id)
            .ok_or_else(|| EngineError::NoSuchExec(exec_id.to_owned()))?;
        let Some(c) = x.control.as_ref().filter(|_| x.running) else {
            return Err(EngineError::Conflict(format!(
                "Exec {exec_id} is not running"
            )));
        };
        (&**c)
            .write_all(&frames::resize(rows, cols))
            .map_err(|e| EngineError::Conflict(format!("Exec {exec_id} is not running: {e}")))
    }

    /// The configuration an exec was created with.
    pub fn exec_config(&self, exec_id: &str) -> Result<ExecConfig> {
        self.lock()
            .execs
            .get(exec_id)
            .map(|x| x.config.clone())
            .ok_or_else(|| EngineError::NoSuchExec(exec_id.to_owned()))
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
                "tty": x.config.tty,
                "entrypoint": cmd.first(),
                "arguments": cmd.get(1..).unwrap_or_default(),
                "user": x.config.user,
            }),
            open_stdin: x.config.attach_stdin,
            open_stdout: x.config.attach_stdout,
            open_stderr: x.config.attach_stderr,
        })
    }
}

/// Reaps the exec's shim on a thread; records the exit if its EXIT frame never arrived (the
/// shim was killed).
fn spawn_reaper(engine: Weak<Containers>, exec_id: &str, mut child: std::process::Child) {
    let id = exec_id.to_owned();
    let reaper = std::thread::Builder::new()
        .name("berth-exec".into())
        .spawn(move || {
            let code = child.wait().ok().map_or(255, |st| {
                st.code().unwrap_or_else(|| {
                    128 + std::os::unix::process::ExitStatusExt::signal(&st).unwrap_or(0)
                })
            });
            record_exec_exit(&engine, &id, code);
        });
    if let Err(e) = reaper {
        tracing::warn!("exec {exec_id}: cannot start its reaper: {e}");
    }
}

/// Records an exec's exit (once: the first of the EXIT frame and the reaper wins).
fn record_exec_exit(engine: &Weak<Containers>, exec_id: &str, code: i32) {
    if let Some(e) = engine.upgrade() {
        if let Some(x) = e.lock().execs.get_mut(exec_id) {
            if x.running {
                x.running = false;
                x.exit_code = Some(code);
                x.control = None;
            }
        }
    }
}
