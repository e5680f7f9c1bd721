//! Confinement options of `HostConfig`: capabilities (`CapAdd`/`CapDrop`, `ALL`),
//! `Privileged`, `SecurityOpt` (seccomp profile or `unconfined`, no-new-privileges),
//! `ReadonlyRootfs`, `GroupAdd` and `Sysctls`, checked with docker's messages and applied to
//! the spec after docker's defaults.
//!
//! Privileged means every capability in the *host's* bounding set (read from
//! `/proc/self/status`), not every capability the kernel knows: on a host whose bounding set
//! lacks one, asking for it would make the container fail to start.

use std::path::Path;

use berth_runtime::oci_spec::runtime::Arch;
use serde_json::{json, Value};

use crate::error::{EngineError, Result};
use crate::model::Confinement;

/// Docker's default capability set (moby `oci/caps/defaults.go`).
pub const DEFAULT_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Capability names by bit number (`linux/capability.h`).
pub const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// IPC-namespaced sysctls docker allows besides `fs.mqueue.*` and `net.*`.
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Device directories and nodes a privileged container does not get from the host (runc's
/// `HostDevices` skips; the standard nodes the runtime creates anyway).
const SKIP_DEV: [&str; 16] = [
    "pts",
    "shm",
    "fd",
    "mqueue",
    ".lxc",
    ".lxd-mounts",
    ".udev",
    "console",
    "ptmx",
    "null",
    "zero",
    "full",
    "random",
    "urandom",
    "tty",
    "core",
];

/// What `SecurityOpt` asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecurityOpts {
    /// `None`: docker's default profile; `Some("unconfined")` or a profile's JSON.
    pub seccomp: Option<String>,
    /// Set `no_new_privs`.
    pub no_new_privileges: bool,
}

fn bad(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidParameter(msg.into())
}

/// Parses `SecurityOpt` entries as docker's daemon does (`=` or the old `:` separator).
pub fn parse_security_opts(opts: &[String]) -> Result<SecurityOpts> {
    let mut out = SecurityOpts::default();
    for opt in opts {
        if opt == "no-new-privileges" {
            out.no_new_privileges = true;
            continue;
        }
        if opt == "disable" {
            continue;
        }
        let kv = opt.split_once('=').or_else(|| opt.split_once(':'));
        let Some((k, v)) = kv else {
            return Err(bad(format!("invalid --security-opt 1: {opt:?}")));
        };
        match k {
            "label" | "apparmor" => {}
            "seccomp" => out.seccomp = Some(v.to_owned()),
            "no-new-privileges" => {
                out.no_new_privileges = match v {
                    "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
                    "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
                    _ => return Err(bad(format!("invalid --security-opt 2: {opt:?}"))),
                }
            }
            _ => return Err(bad(format!("invalid --security-opt 2: {opt:?}"))),
        }
    }
    Ok(out)
}

/// The capabilities in this host's bounding set (`CapBnd` of `/proc/self/status`).
pub fn host_capabilities() -> Vec<String> {
    let mask = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        })
        .unwrap_or(0);
    CAP_NAMES
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1u64 << bit) != 0)
        .map(|(_, n)| (*n).to_owned())
        .collect()
}

/// Upper-cases and `CAP_`-prefixes names, keeping `ALL`; unknown names are an error
/// (`what`: `CapAdd` or `CapDrop`, for docker's message).
pub fn normalize_caps(list: &[String], what: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for c in list {
        let up = c.to_ascii_uppercase();
        if up == "ALL" {
            out.push(up);
            continue;
        }
        let name = if up.starts_with("CAP_") {
            up
        } else {
            format!("CAP_{up}")
        };
        if !CAP_NAMES.contains(&name.as_str()) {
            return Err(bad(format!("invalid {what}: unknown capability: {name:?}")));
        }
        out.push(name);
    }
    Ok(out)
}

/// Docker's `TweakCapabilities` with "all" meaning the host's bounding set.
pub fn effective_caps(c: &Confinement) -> Result<Vec<String>> {
    let all = host_capabilities();
    if c.privileged {
        return Ok(all);
    }
    let add = normalize_caps(c.cap_add.as_deref().unwrap_or(&[]), "CapAdd")?;
    let drop = normalize_caps(c.cap_drop.as_deref().unwrap_or(&[]), "CapDrop")?;
    let has = |l: &[String], x: &str| l.iter().any(|c| c == x);
    let mut caps: Vec<String> = if has(&add, "ALL") {
        all.into_iter().filter(|c| !has(&drop, c)).collect()
    } else if has(&drop, "ALL") {
        add
    } else {
        let mut caps: Vec<String> = DEFAULT_CAPS
            .iter()
            .map(|c| (*c).to_owned())
            .filter(|c| !has(&drop, c))
            .collect();
        caps.extend(add.into_iter().filter(|c| !has(&drop, c)));
        caps
    };
    let mut seen = std::collections::HashSet::new();
    caps.retain(|c| seen.insert(c.clone()));
    Ok(caps)
}

/// Docker's sysctl rule: IPC-namespaced `kernel.*` keys, `fs.mqueue.*` and `net.*`.
pub fn validate_sysctl(key: &str) -> Result<()> {
    if IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.") || key.starts_with("net.") {
        return Ok(());
    }
    Err(bad(format!("sysctl '{key}' is not allowed")))
}

/// Checks the options at create time (capability names, security options, sysctls).
pub fn validate(c: &Confinement) -> Result<()> {
    effective_caps(c)?;
    parse_security_opts(c.security_opt.as_deref().unwrap_or(&[]))?;
    for k in c.sysctls.iter().flat_map(|m| m.keys()) {
        validate_sysctl(k)?;
    }
    for g in c.group_add.iter().flatten() {
        if g.is_empty() {
            return Err(bad("invalid group: empty name"));
        }
    }
    Ok(())
}

fn profile(opts: &SecurityOpts, caps: &[String], privileged: bool) -> Result<Option<Value>> {
    let internal = |e: &dyn std::fmt::Display| EngineError::Internal(format!("seccomp: {e}"));
    let p = match opts.seccomp.as_deref() {
        Some("unconfined") => return Ok(None),
        _ if privileged => return Ok(None),
        Some(json) if !json.is_empty() => {
            berth_seccomp::load_profile(json, caps, Arch::ScmpArchNative).map_err(|e| {
                bad(format!(
                    "Error response from daemon: failed to parse seccomp profile: {e}"
                ))
            })?
        }
        _ => berth_seccomp::docker_default(caps, Arch::ScmpArchNative).map_err(|e| internal(&e))?,
    };
    serde_json::to_value(p).map(Some).map_err(|e| internal(&e))
}

/// Resolves `GroupAdd` entries against the image's `/etc/group`.
fn group_ids(groups: &[String], rootfs: &Path) -> Result<Vec<u32>> {
    let table = crate::user::read_in_root(rootfs, "etc/group").unwrap_or_default();
    let mut out = Vec::new();
    for g in groups {
        if let Ok(n) = g.parse::<u32>() {
            out.push(n);
            continue;
        }
        let gid = table.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3 && f[0] == g).then(|| f[2].parse::<u32>().ok())?
        });
        out.push(gid.ok_or_else(|| {
            bad(format!(
                "Unable to find group {g}: no matching entries in group file"
            ))
        })?);
    }
    Ok(out)
}

/// Every host device node for a privileged container (below `/dev`, minus [`SKIP_DEV`]).
fn host_devices(dir: &Path, out: &mut Vec<Value>) {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if SKIP_DEV.contains(&name.to_string_lossy().as_ref()) {
            continue;
        }
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            host_devices(&e.path(), out);
            continue;
        }
        let kind = if ft.is_char_device() {
            "c"
        } else if ft.is_block_device() {
            "b"
        } else {
            continue;
        };
        let Ok(m) = e.metadata() else { continue };
        out.push(json!({"path": e.path(), "type": kind,
            "major": libc::major(m.rdev()), "minor": libc::minor(m.rdev()),
            "fileMode": m.mode() & 0o7777, "uid": m.uid(), "gid": m.gid()}));
    }
}

/// Edits the spec for `c` (after [`crate::resources::apply`], whose device rules a privileged
/// container replaces with "allow all").
pub fn apply(spec: &mut Value, c: &Confinement) -> Result<()> {
    let caps = effective_caps(c)?;
    let opts = parse_security_opts(c.security_opt.as_deref().unwrap_or(&[]))?;
    let default_caps = caps.len() == DEFAULT_CAPS.len()
        && DEFAULT_CAPS.iter().all(|d| caps.iter().any(|c| c == d));
    if c.privileged || opts.seccomp.is_some() || !default_caps {
        match profile(&opts, &caps, c.privileged)? {
            Some(p) => spec["linux"]["seccomp"] = p,
            None => {
                if let Some(l) = spec["linux"].as_object_mut() {
                    l.remove("seccomp");
                }
            }
        }
    }
    spec["process"]["capabilities"] =
        json!({"bounding": caps, "effective": caps, "permitted": caps});
    if opts.no_new_privileges {
        spec["process"]["noNewPrivileges"] = json!(true);
    }
    if c.readonly_rootfs {
        spec["root"]["readonly"] = json!(true);
    }
    if let Some(groups) = c.group_add.as_deref().filter(|g| !g.is_empty()) {
        let root = spec["root"]["path"].as_str().unwrap_or("/").to_owned();
        let gids = group_ids(groups, Path::new(&root))?;
        if let Some(list) = spec["process"]["user"]["additionalGids"].as_array_mut() {
            for g in gids {
                if !list.iter().any(|x| x == g) {
                    list.push(json!(g));
                }
            }
        } else {
            spec["process"]["user"]["additionalGids"] = json!(gids);
        }
    }
    if let Some(s) = c.sysctls.as_ref().filter(|s| !s.is_empty()) {
        for k in s.keys() {
            validate_sysctl(k)?;
        }
        spec["linux"]["sysctl"] = json!(s);
    }
    if c.privileged {
        spec["linux"]["maskedPaths"] = json!([]);
        spec["linux"]["readonlyPaths"] = json!([]);
        spec["linux"]["resources"]["devices"] = json!([{"allow": true, "access": "rwm"}]);
        let mut devs: Vec<Value> = spec["linux"]["devices"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut host = Vec::new();
        host_devices(Path::new("/dev"), &mut host);
        for d in host {
            if !devs.iter().any(|x| x["path"] == d["path"]) {
                devs.push(d);
            }
        }
        spec["linux"]["devices"] = Value::Array(devs);
        if let Some(mounts) = spec["mounts"].as_array_mut() {
            for m in mounts.iter_mut() {
                if m["destination"] == "/sys" || m["destination"] == "/sys/fs/cgroup" {
                    if let Some(o) = m["options"].as_array_mut() {
                        o.retain(|x| x != "ro");
                        o.push(json!("rw"));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn conf(add: &[&str], drop: &[&str]) -> Confinement {
        let v = |l: &[&str]| Some(l.iter().map(|s| (*s).to_owned()).collect());
        Confinement {
            cap_add: v(add),
            cap_drop: v(drop),
            ..Default::default()
        }
    }

    #[test]
    fn capability_tweaks_follow_docker() {
        assert_eq!(effective_caps(&conf(&[], &[])).unwrap().len(), 14);
        assert!(effective_caps(&conf(&[], &["ALL"])).unwrap().is_empty());
        assert_eq!(
            effective_caps(&conf(&["net_admin"], &["ALL"])).unwrap(),
            vec!["CAP_NET_ADMIN"]
        );
        let c = effective_caps(&conf(&["SYS_ADMIN"], &["chown"])).unwrap();
        assert!(c.contains(&"CAP_SYS_ADMIN".to_owned()) && !c.contains(&"CAP_CHOWN".to_owned()));
        assert_eq!(
            effective_caps(&conf(&["ALL"], &[])).unwrap(),
            host_capabilities()
        );
        assert_eq!(
            effective_caps(&conf(&["CAP_FOO"], &[]))
                .unwrap_err()
                .to_string(),
            "invalid CapAdd: unknown capability: \"CAP_FOO\""
        );
        let bits: u64 = DEFAULT_CAPS
            .iter()
            .map(|c| 1u64 << CAP_NAMES.iter().position(|n| n == c).unwrap())
            .sum();
        assert_eq!(format!("{bits:016x}"), "00000000a80425fb");
    }

    #[test]
    fn security_opts_and_sysctls() {
        let o = |l: &[&str]| {
            parse_security_opts(&l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
        };
        assert!(o(&["no-new-privileges"]).unwrap().no_new_privileges);
        assert!(!o(&["no-new-privileges=false"]).unwrap().no_new_privileges);
        assert_eq!(
            o(&["seccomp=unconfined"]).unwrap().seccomp.as_deref(),
            Some("unconfined")
        );
        assert_eq!(
            o(&["bogus"]).unwrap_err().to_string(),
            "invalid --security-opt 1: \"bogus\""
        );
        assert_eq!(
            o(&["x=y"]).unwrap_err().to_string(),
            "invalid --security-opt 2: \"x=y\""
        );
        assert!(validate_sysctl("net.ipv4.ip_forward").is_ok());
        assert!(validate_sysctl("kernel.shmmax").is_ok());
        assert_eq!(
            validate_sysctl("kernel.hostname").unwrap_err().to_string(),
            "sysctl 'kernel.hostname' is not allowed"
        );
    }

    #[test]
    fn privileged_spec_drops_confinement() {
        let mut spec = json!({"process": {"user": {}}, "root": {"path": "/nonexistent"},
            "linux": {"seccomp": {}, "maskedPaths": ["/proc/kcore"], "resources": {"devices": []}},
            "mounts": [{"destination": "/sys", "options": ["nosuid", "ro"]}]});
        let c = Confinement {
            privileged: true,
            ..Default::default()
        };
        apply(&mut spec, &c).unwrap();
        assert!(spec["linux"].get("seccomp").is_none());
        assert_eq!(spec["linux"]["maskedPaths"], json!([]));
        assert_eq!(spec["mounts"][0]["options"], json!(["nosuid", "rw"]));
        assert_eq!(
            spec["process"]["capabilities"]["bounding"],
            json!(host_capabilities())
        );
    }
}
