//! The OCI spec of a container, built in memory from its merged docker config: Docker's
//! defaults for mounts, namespaces, capabilities, seccomp and masked/read-only paths.

use std::path::Path;

use berth_runtime::oci_spec::runtime::{Arch, Spec};
use serde_json::{json, Value};

use crate::error::{EngineError, Result};
use crate::model::{ContainerConfig, HostConfig};
use crate::security::DEFAULT_CAPS;
use crate::user::ResolvedUser;

/// Paths docker hides from containers.
pub const MASKED_PATHS: [&str; 12] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths docker makes read-only.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The default `PATH` docker adds when the image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The program and its arguments: Entrypoint + Cmd.
pub fn process_args(cfg: &ContainerConfig) -> Vec<String> {
    let mut args = cfg.entrypoint.clone().unwrap_or_default();
    args.extend(cfg.cmd.clone().unwrap_or_default());
    args
}

/// The environment: the config's, plus `PATH`, `HOSTNAME` and `HOME` when missing.
pub fn process_env(cfg: &ContainerConfig, hostname: &str, home: &str) -> Vec<String> {
    let mut env = cfg.env.clone();
    let has = |env: &[String], k: &str| env.iter().any(|e| e.split('=').next() == Some(k));
    if !has(&env, "PATH") {
        env.insert(0, format!("PATH={DEFAULT_PATH}"));
    }
    if !has(&env, "HOSTNAME") {
        env.insert(1.min(env.len()), format!("HOSTNAME={hostname}"));
    }
    if !has(&env, "HOME") {
        env.push(format!("HOME={home}"));
    }
    if cfg.tty && !has(&env, "TERM") {
        env.push("TERM=xterm".into());
    }
    env
}

/// Docker's default profile for the default capabilities, resolved once per process (every
/// container gets the same one until `--cap-add`/`--security-opt` exist).
fn default_seccomp(caps: &[String]) -> Result<Value> {
    static PROFILE: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    if let Some(v) = PROFILE.get() {
        return Ok(v.clone());
    }
    let profile = berth_seccomp::docker_default(caps, Arch::ScmpArchNative)
        .map_err(|e| EngineError::Internal(format!("seccomp profile: {e}")))?;
    let v = serde_json::to_value(profile)
        .map_err(|e| EngineError::Internal(format!("seccomp profile: {e}")))?;
    Ok(PROFILE.get_or_init(|| v).clone())
}

fn mount(dest: &str, kind: &str, source: &str, options: &[&str]) -> Value {
    json!({"destination": dest, "type": kind, "source": source, "options": options})
}

/// Builds the spec for container `id` rooted at `rootfs`.
///
/// The base below is docker's default; each feature area (resources, security options,
/// volumes, networking) edits the JSON value in its own module, called from the end of this
/// function, so the areas stay apart.
pub fn build(
    id: &str,
    cfg: &ContainerConfig,
    host: &HostConfig,
    user: &ResolvedUser,
    rootfs: &Path,
) -> Result<Spec> {
    let args = process_args(cfg);
    if args.is_empty() {
        return Err(EngineError::InvalidParameter("no command specified".into()));
    }
    let caps: Vec<String> = DEFAULT_CAPS.iter().map(|c| (*c).to_owned()).collect();
    let seccomp = default_seccomp(&caps)?;
    let cwd = if cfg.working_dir.is_empty() {
        "/"
    } else {
        cfg.working_dir.as_str()
    };
    let mut v = json!({
        "ociVersion": berth_runtime::container::oci_version(),
        "process": {
            "terminal": cfg.tty,
            "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
            "args": args,
            "env": process_env(cfg, &cfg.hostname, &user.home),
            "cwd": cwd,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": false,
        },
        "root": {"path": rootfs, "readonly": false},
        "hostname": cfg.hostname,
        "mounts": [
            mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
            mount("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"]),
            mount("/dev/pts", "devpts", "devpts",
                &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
            mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"]),
            mount("/sys/fs/cgroup", "cgroup", "cgroup", &["ro", "nosuid", "noexec", "nodev"]),
            mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"]),
            mount("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]),
        ],
        "linux": {
            "namespaces": [
                {"type": "mount"}, {"type": "network"}, {"type": "uts"},
                {"type": "pid"}, {"type": "ipc"}, {"type": "cgroup"},
            ],
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS,
            "seccomp": seccomp,
            "cgroupsPath": format!("/berth/{id}"),
        },
        "annotations": {"org.berth.container.id": id},
    });
    apply_host_config(&mut v, host)?;
    serde_json::from_value(v).map_err(|e| EngineError::Internal(format!("container spec: {e}")))
}

/// The feature areas' edits of the spec for a container's `HostConfig` (one call per area).
fn apply_host_config(spec: &mut Value, host: &HostConfig) -> Result<()> {
    crate::resources::apply(spec, &host.resources)?;
    crate::security::apply(spec, &host.confinement)?;
    crate::init::apply(spec, host)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cfg() -> ContainerConfig {
        ContainerConfig {
            hostname: "abc".into(),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
            cmd: Some(vec!["echo hi".into()]),
            env: vec!["A=1".into()],
            working_dir: "/tmp".into(),
            ..Default::default()
        }
    }

    #[test]
    fn spec_has_docker_defaults() {
        let user = ResolvedUser {
            uid: 1,
            gid: 2,
            additional_gids: vec![3],
            home: "/h".into(),
        };
        let s = build(
            "id1",
            &cfg(),
            &HostConfig::default(),
            &user,
            Path::new("/r"),
        )
        .unwrap();
        let p = s.process().as_ref().unwrap();
        assert_eq!(p.args().as_ref().unwrap(), &["/bin/sh", "-c", "echo hi"]);
        assert_eq!(p.cwd().to_str(), Some("/tmp"));
        assert_eq!(p.user().uid(), 1);
        let env = p.env().as_ref().unwrap();
        assert!(env.contains(&format!("PATH={DEFAULT_PATH}")));
        assert!(env.contains(&"HOSTNAME=abc".to_owned()));
        assert!(env.contains(&"HOME=/h".to_owned()));
        let bounding = p
            .capabilities()
            .as_ref()
            .unwrap()
            .bounding()
            .as_ref()
            .unwrap();
        assert_eq!(bounding.len(), 14);
        let linux = s.linux().as_ref().unwrap();
        assert_eq!(linux.namespaces().as_ref().unwrap().len(), 6);
        assert!(linux.seccomp().is_some());
        assert_eq!(
            linux.masked_paths().as_ref().unwrap().len(),
            MASKED_PATHS.len()
        );
        assert_eq!(s.hostname().as_deref(), Some("abc"));
    }

    #[test]
    fn empty_command_is_rejected() {
        let user = ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            home: "/".into(),
        };
        let c = ContainerConfig::default();
        assert!(build("x", &c, &HostConfig::default(), &user, Path::new("/r")).is_err());
    }
}
