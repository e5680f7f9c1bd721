//! A RUN step as a real container: a fresh writable snapshot on the parent's layers, mounted
//! under `<exec-root>/build/<id>/rootfs`, the OCI spec from [`crate::spec::build`], the shim
//! running it (its json-file log is tailed into the build output), and the writable layer
//! committed as a new layer. A guard removes the container, mount, snapshot and directory
//! whatever happens.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use berth_build::{BackendError, NewLayer, RunMount, RunRequest};
use berth_image::Digest;
use berth_runtime::container::Container;

use super::other;
use crate::model::{ContainerConfig, HostConfig};
use crate::network::StepNet;
use crate::shim::{self, ShimPaths};
use crate::{names, spec, user, Builds};

fn is_mount_point(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(m), Some(parent)) = (std::fs::metadata(path), path.parent()) else {
        return false;
    };
    std::fs::metadata(parent).is_ok_and(|p| p.dev() != m.dev())
}

/// Removes a build container's leftovers: the runtime's container (killed), the rootfs mount,
/// the snapshot and the directory. Errors are logged: nothing else can act on them.
pub(super) fn cleanup(engine: &Builds, id: &str, rootfs: &Path) {
    if let Ok(c) = Container::load(&engine.runtime_root(), id) {
        if let Err(e) = c.delete(true) {
            tracing::warn!("build container {id}: delete: {e}");
        }
    }
    if is_mount_point(rootfs) {
        if let Err(e) = berth_image::snapshot::unmount(rootfs) {
            tracing::warn!("unmount {}: {e}", rootfs.display());
        }
    }
    match engine.images.store.remove_snapshot(id) {
        Ok(()) | Err(berth_image::StoreError::Snapshot(_)) => {}
        Err(e) => tracing::warn!("build container {id}: remove snapshot: {e}"),
    }
    if let Some(dir) = rootfs.parent() {
        if let Err(e) = std::fs::remove_dir_all(dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!("remove {}: {e}", dir.display());
            }
        }
    }
}

struct Guard<'a> {
    engine: &'a Builds,
    id: String,
    rootfs: std::path::PathBuf,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        cleanup(self.engine, &self.id, &self.rootfs);
    }
}

/// Creates `workdir` inside `rootfs` where it leads there: a symlink in the image is followed
/// inside the rootfs (as docker does), never on the host. Mode 0755 whatever the daemon's
/// umask: the step may run as a user.
fn make_workdir(rootfs: &Path, workdir: &str) -> std::io::Result<()> {
    berth_fs::Root::open(rootfs)?
        .mkdir_all(workdir, 0o755)
        .map(drop)
}

/// Sends new complete lines of the json-file log to `output`.
fn tail_log(
    file: &mut Option<std::fs::File>,
    path: &Path,
    pos: &mut u64,
    buf: &mut Vec<u8>,
    output: &mut dyn FnMut(&[u8]),
) {
    if file.is_none() {
        *file = std::fs::File::open(path).ok();
    }
    let Some(f) = file else { return };
    if f.seek(SeekFrom::Start(*pos)).is_err() {
        return;
    }
    let mut chunk = Vec::new();
    if f.read_to_end(&mut chunk).is_err() {
        return;
    }
    *pos += chunk.len() as u64;
    buf.extend_from_slice(&chunk);
    while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = buf.drain(..=nl).collect();
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) {
            if let Some(s) = v.get("log").and_then(|l| l.as_str()) {
                output(s.as_bytes());
            }
        }
    }
}

/// Runs one RUN step on top of snapshot `top`; returns the writable layer as a new layer.
pub(super) fn run_step(
    engine: &Builds,
    top: Option<&Digest>,
    req: &RunRequest,
    output: &mut dyn FnMut(&[u8]),
) -> Result<NewLayer, BackendError> {
    let id = names::new_id().map_err(other)?;
    let dir = engine.build_dir(&id);
    let rootfs = dir.join("rootfs");
    let _guard = Guard {
        engine,
        id: id.clone(),
        rootfs: rootfs.clone(),
    };
    std::fs::create_dir_all(&rootfs).map_err(other)?;
    let mount = engine
        .images
        .store
        .prepare_snapshot(&id, top)
        .map_err(other)?;
    mount.mount(&rootfs).map_err(other)?;
    make_workdir(&rootfs, &req.workdir).map_err(other)?;
    // The step's network lives until the step's container has exited.
    let (mut v, _net) = step_spec(engine, &id, &dir, &rootfs, req)?;
    add_run_mounts(engine, &rootfs, req, &mut v)?;
    let cfg_path = dir.join("config.json");
    std::fs::write(&cfg_path, serde_json::to_vec(&v).map_err(other)?).map_err(other)?;
    let code = run_to_exit(engine, &id, &dir, output)?;
    if code != 0 {
        return Err(BackendError::RunFailed {
            command: req.args.join(" "),
            code,
        });
    }
    // Unmount before reading the upper dir so the diff is complete and stable.
    if is_mount_point(&rootfs) {
        berth_image::snapshot::unmount(&rootfs).map_err(other)?;
    }
    let (descriptor, diff_id) = engine.images.store.container_layer(&id).map_err(other)?;
    Ok(NewLayer {
        descriptor,
        diff_id,
    })
}

/// The step's OCI spec as JSON (user from the stage's own /etc files, the step's network,
/// rootless adjustments), and the guard of its network endpoint.
fn step_spec<'a>(
    engine: &'a Builds,
    id: &str,
    dir: &Path,
    rootfs: &Path,
    req: &RunRequest,
) -> Result<(serde_json::Value, Option<StepNet<'a>>), BackendError> {
    let passwd = user::read_in_root(rootfs, "etc/passwd").map_err(other)?;
    let group = user::read_in_root(rootfs, "etc/group").map_err(other)?;
    let who = user::resolve(&req.user, &passwd, &group).map_err(other)?;
    let cfg = ContainerConfig {
        hostname: id[..12].to_owned(),
        user: req.user.clone(),
        env: req.env.clone(),
        cmd: Some(req.args.clone()),
        working_dir: req.workdir.clone(),
        image: "build".into(),
        ..Default::default()
    };
    let host = HostConfig {
        network_mode: req.network.clone(),
        ..Default::default()
    };
    let spec = spec::build(id, &cfg, &host, &who, rootfs).map_err(other)?;
    let (spec, net) = engine
        .networks
        .net_apply_step(id, &req.network, &cfg.hostname, dir, spec)
        .map_err(other)?;
    let mut v = serde_json::to_value(&spec).map_err(other)?;
    if req.network == "host" {
        if let Some(ns) = v
            .pointer_mut("/linux/namespaces")
            .and_then(|n| n.as_array_mut())
        {
            ns.retain(|n| n.get("type").and_then(|t| t.as_str()) != Some("network"));
        }
    }
    crate::rootless::rootless_apply_value(engine.cfg.rootless, &mut v).map_err(other)?;
    Ok((v, net))
}

/// `RUN --mount=type=cache|tmpfs`: cache mounts are directories under the data root kept
/// between builds, keyed by their id.
fn add_run_mounts(
    engine: &Builds,
    rootfs: &Path,
    req: &RunRequest,
    v: &mut serde_json::Value,
) -> Result<(), BackendError> {
    for m in &req.mounts {
        let (target, mount) = match m {
            RunMount::Cache { id: cache, target } => {
                let src = engine
                    .cfg
                    .data_root
                    .join("build/cache-mounts")
                    .join(berth_build::cache::key(&[cache]));
                // Used by the step's (maybe non-root) user; `build/` above stays root's.
                crate::perms::create_dir_all(&src, crate::perms::SHARED).map_err(other)?;
                let src = src.to_string_lossy().into_owned();
                (
                    target,
                    serde_json::json!({"destination": target, "type": "bind", "source": src, "options": ["rbind", "rw"]}),
                )
            }
            RunMount::Tmpfs { target } => (
                target,
                serde_json::json!({"destination": target, "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}),
            ),
        };
        make_workdir(rootfs, target).map_err(other)?;
        if let Some(list) = v.pointer_mut("/mounts").and_then(|l| l.as_array_mut()) {
            list.push(mount);
        }
    }
    Ok(())
}

/// Runs the step's container through the shim and follows its output until it exits;
/// returns the exit code.
fn run_to_exit(
    engine: &Builds,
    id: &str,
    dir: &Path,
    output: &mut dyn FnMut(&[u8]),
) -> Result<i32, BackendError> {
    let runtime_root = engine.runtime_root();
    std::fs::create_dir_all(&runtime_root).map_err(other)?;
    let log_path = dir.join("output.log");
    shim::spawn(
        id,
        &ShimPaths {
            binary: &engine.cfg.shim_binary,
            bundle: dir,
            runtime_root: &runtime_root,
            state_dir: dir,
            log_path: &log_path,
            rotation: Default::default(),
            stdio: Default::default(),
        },
    )
    .map_err(other)?;
    let (mut file, mut pos, mut buf) = (None, 0u64, Vec::new());
    let mut wait = Duration::from_millis(1);
    let status = loop {
        tail_log(&mut file, &log_path, &mut pos, &mut buf, output);
        if let Some(s) = shim::read_exit(dir) {
            break s;
        }
        if !shim::shim_alive(dir) && shim::read_exit(dir).is_none() {
            std::thread::sleep(Duration::from_millis(20));
            match shim::read_exit(dir) {
                Some(s) => break s,
                None => return Err(other("the build container's monitor died")),
            }
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_millis(20));
    };
    tail_log(&mut file, &log_path, &mut pos, &mut buf, output);
    if !buf.is_empty() {
        output(&buf);
    }
    Ok(status.exit_code)
}
