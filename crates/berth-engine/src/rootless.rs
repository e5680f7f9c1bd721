//! Rootless daemon (`EngineConfig::rootless`): berthd is root only of its own user namespace.
//!
//! Containers share that namespace (no second one is needed), so the spec is adjusted the way
//! `runc spec --rootless` and podman adjust theirs:
//! - `devpts` loses `gid=5` when gid 5 is not mapped (single-id mapping), else the mount fails;
//! - without a network namespace of its own (`--network host`) a container cannot mount
//!   `sysfs` (the host's network namespace is not owned by our user namespace): `/sys` is a
//!   read-only recursive bind instead;
//! - resource limits need a writable (delegated) cgroup, which an unprivileged user does not
//!   have on a cgroup v1 host: asking for one is a clear error rather than silently ignored.
//!   Without limits the runtime runs the container without a cgroup (as runc does).

use serde_json::{json, Value};

use crate::error::EngineError;
use crate::Result;

/// Whether `id` falls in a `/proc/self/{uid,gid}_map` text's ranges (inside ids).
fn mapped(map: &str, id: u32) -> bool {
    map.lines().any(|l| {
        let f: Vec<u64> = l
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        f.len() == 3 && f[0] <= u64::from(id) && u64::from(id) < f[0] + f[2]
    })
}

/// Whether a cgroup the daemon may create children in exists: the v1 memory hierarchy or the
/// v2 root must be writable (neither is for an unprivileged user without delegation).
pub(crate) fn cgroups_writable() -> bool {
    let dirs = ["/sys/fs/cgroup/memory/berth", "/sys/fs/cgroup/memory"];
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.subtree_control").exists();
    let candidates: &[&str] = if v2 { &["/sys/fs/cgroup"] } else { &dirs };
    candidates.iter().any(|d| {
        std::ffi::CString::new(*d)
            // SAFETY: valid NUL-terminated path.
            .map(|c| unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0)
            .unwrap_or(false)
    })
}

/// The rootless edits on a spec value (see the module doc).
pub(crate) fn adjust(v: &mut Value, maps: (&str, &str), limits_possible: bool) -> Result<()> {
    let (uid_map, gid_map) = maps;
    let user = &v["process"]["user"];
    for (id, map, what) in [
        (&user["uid"], uid_map, "uid"),
        (&user["gid"], gid_map, "gid"),
    ] {
        if let Some(id) = id.as_u64().and_then(|i| u32::try_from(i).ok()) {
            if !mapped(map, id) {
                return Err(EngineError::InvalidParameter(format!(
                    "rootless berthd cannot run a container as {what} {id}: only the user's own \
                     id is mapped (give the user ranges in /etc/subuid and /etc/subgid)"
                )));
            }
        }
    }
    let wants = serde_json::from_value(v["linux"]["resources"].clone())
        .ok()
        .is_some_and(|r| berth_runtime::cgroup::wants_limits(Some(&r)));
    if wants && !limits_possible {
        return Err(EngineError::InvalidParameter(
            "rootless berthd cannot apply resource limits (memory, cpus, pids, blkio): this \
             host gives the user no delegated cgroup (needs cgroup v2 with delegation)"
                .into(),
        ));
    }
    let own_netns = v["linux"]["namespaces"]
        .as_array()
        .is_some_and(|ns| ns.iter().any(|n| n["type"] == "network"));
    if let Some(mounts) = v["mounts"].as_array_mut() {
        for m in mounts.iter_mut() {
            if m["type"] == "devpts" && !mapped(gid_map, 5) {
                if let Some(opts) = m["options"].as_array_mut() {
                    opts.retain(|o| o != "gid=5");
                }
            }
            if m["type"] == "sysfs" && !own_netns {
                *m = json!({
                    "destination": m["destination"].clone(),
                    "type": "bind",
                    "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"],
                });
            }
        }
    }
    Ok(())
}

/// Counters of a container without a cgroup, summed over its processes from `/proc`: CPU
/// time (own and reaped children's), resident memory, threads. `berth stats` then shows real
/// CPU %, memory and PIDS for rootless containers (no limits, no block I/O).
pub(crate) fn proc_stats(pids: &[i32]) -> berth_cgroups::Stats {
    // SAFETY: sysconf with a valid name has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let tick_ns = 1_000_000_000 / hz;
    let mut s = berth_cgroups::Stats::default();
    for pid in pids {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            let f: Vec<u64> = stat
                .rsplit_once(')')
                .map(|(_, rest)| {
                    rest.split_whitespace()
                        .map(|x| x.parse().unwrap_or(0))
                        .collect()
                })
                .unwrap_or_default();
            // After the command: utime, stime, cutime, cstime are fields 11-14.
            if f.len() > 14 {
                s.cpu.usage_user_ns += (f[11] + f[13]) * tick_ns;
                s.cpu.usage_system_ns += (f[12] + f[14]) * tick_ns;
            }
        }
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let field = |name: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                    .unwrap_or(0)
            };
            s.memory.usage += field("VmRSS:") * 1024;
            s.memory.rss += field("RssAnon:") * 1024;
            s.pids.current += field("Threads:");
        }
    }
    s.cpu.usage_total_ns = s.cpu.usage_user_ns + s.cpu.usage_system_ns;
    s
}

/// `Containers::rootless_apply` on a spec already in JSON form (also build RUN steps):
/// nothing unless the daemon is rootless.
pub(crate) fn rootless_apply_value(rootless: bool, v: &mut Value) -> Result<()> {
    if !rootless {
        return Ok(());
    }
    let read = |f| std::fs::read_to_string(f).unwrap_or_default();
    let (uid_map, gid_map) = (read("/proc/self/uid_map"), read("/proc/self/gid_map"));
    adjust(v, (&uid_map, &gid_map), cgroups_writable())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn spec() -> Value {
        json!({
            "mounts": [
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                 "options": ["nosuid", "newinstance", "gid=5", "mode=0620"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]},
            ],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]},
            "process": {"user": {"uid": 0, "gid": 0}},
        })
    }

    #[test]
    fn proc_stats_count_this_process() {
        let s = proc_stats(&[std::process::id() as i32]);
        assert!(s.memory.usage > 0);
        assert!(s.pids.current >= 1);
        assert_eq!(
            s.cpu.usage_total_ns,
            s.cpu.usage_user_ns + s.cpu.usage_system_ns
        );
    }

    #[test]
    fn unmapped_user_is_refused() {
        let mut v = spec();
        v["process"]["user"]["uid"] = json!(1000);
        let m = "0 40000 1\n";
        let e = adjust(&mut v, (m, m), false).unwrap_err().to_string();
        assert!(e.contains("as uid 1000"), "{e}");
        let m = "0 40000 1\n1 100000 65536\n";
        assert!(adjust(&mut v, (m, m), false).is_ok());
    }

    #[test]
    fn single_mapping_drops_gid5_and_host_network_binds_sys() {
        let mut v = spec();
        let m = "         0      40000          1\n";
        adjust(&mut v, (m, m), false).unwrap();
        assert_eq!(v["mounts"][0]["options"].as_array().unwrap().len(), 3);
        assert_eq!(v["mounts"][1]["type"], "bind");
        assert_eq!(v["mounts"][1]["source"], "/sys");
    }

    #[test]
    fn subordinate_ranges_keep_gid5_and_own_netns_keeps_sysfs() {
        let mut v = spec();
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "network"}));
        let m = "0 40000 1\n1 100000 65536\n";
        adjust(&mut v, (m, m), false).unwrap();
        assert!(v["mounts"][0]["options"]
            .as_array()
            .unwrap()
            .contains(&json!("gid=5")));
        assert_eq!(v["mounts"][1]["type"], "sysfs");
    }

    #[test]
    fn limits_without_a_cgroup_are_refused() {
        let mut v = spec();
        v["linux"]["resources"] = json!({"memory": {"limit": 1 << 26}});
        let e = adjust(&mut v, ("0 1 1\n", "0 1 1\n"), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("resource limits"), "{e}");
        assert!(adjust(&mut v, ("0 1 1\n", "0 1 1\n"), true).is_ok());
        v["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
        assert!(adjust(&mut v, ("0 1 1\n", "0 1 1\n"), false).is_ok());
    }
}
