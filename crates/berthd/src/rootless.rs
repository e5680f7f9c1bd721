//! Rootless mode: berthd started by an unprivileged user becomes root of its own user
//! namespace (with a private mount namespace), as rootlesskit does for dockerd.
//!
//! Before any thread exists, [`enter`] forks a helper, unshares the user namespace, and the
//! helper (still outside) writes the mapping: uid/gid 0 → the user, plus the user's
//! `/etc/subuid` and `/etc/subgid` ranges through the setuid `newuidmap`/`newgidmap` when
//! both exist; otherwise only the user's own ids (written directly, `setgroups` denied).
//! Then the daemon unshares a mount namespace whose mounts never propagate to the host. Inside,
//! overlay mounts (`userxattr`), containers' namespaces, pivot_root all work; cgroups without
//! delegation, bridges, nftables and ports below 1024 on the host do not (ARCHITECTURE.md).

use std::ffi::CString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Where a rootless daemon keeps its state when no flag or config file says otherwise.
pub struct Defaults {
    /// `$XDG_DATA_HOME/berth` (or `~/.local/share/berth`).
    pub data_root: PathBuf,
    /// `$XDG_RUNTIME_DIR/berth`.
    pub exec_root: PathBuf,
    /// `$XDG_RUNTIME_DIR/berth.sock` (docker's rootless socket sits there too).
    pub socket: PathBuf,
    /// `$XDG_CONFIG_HOME/berth/daemon.json` (or `~/.config/berth/daemon.json`).
    pub config_file: PathBuf,
}

/// Whether berthd runs unprivileged and must enter its own user namespace.
pub fn needed() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() != 0 }
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

fn home() -> Result<PathBuf> {
    env_dir("HOME").context("rootless berthd needs $HOME (or $XDG_DATA_HOME and --data-root)")
}

/// The default paths, from the environment as the user's session sets it (pam_systemd sets
/// `XDG_RUNTIME_DIR`). Without `XDG_RUNTIME_DIR` there is no private per-user tmpfs, and
/// berthd refuses to guess one unless `--exec-root` is given (`exec_root_given`).
pub fn defaults(exec_root_given: bool) -> Result<Defaults> {
    let data_home = match env_dir("XDG_DATA_HOME") {
        Some(d) => d,
        None => home()?.join(".local/share"),
    };
    let config_home = match env_dir("XDG_CONFIG_HOME") {
        Some(d) => d,
        None => home()?.join(".config"),
    };
    let runtime = env_dir("XDG_RUNTIME_DIR");
    let (exec_root, socket) = match runtime {
        Some(r) => (r.join("berth"), r.join("berth.sock")),
        None if exec_root_given => (PathBuf::new(), PathBuf::new()),
        None => bail!(
            "rootless berthd: $XDG_RUNTIME_DIR is not set; log in through a session that sets \
             it, or pass --exec-root DIR (a private directory of yours)"
        ),
    };
    Ok(Defaults {
        data_root: data_home.join("berth"),
        exec_root,
        socket,
        config_file: config_home.join("berth/daemon.json"),
    })
}

/// One subordinate id range of `/etc/subuid` or `/etc/subgid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SubRange {
    start: u32,
    count: u32,
}

/// The first range for the user (by name or by number) in a subid file's text.
fn sub_range(text: &str, name: Option<&str>, id: u32) -> Option<SubRange> {
    text.lines().find_map(|line| {
        let mut f = line.trim().split(':');
        let (who, start, count) = (f.next()?, f.next()?, f.next()?);
        if who != id.to_string() && Some(who) != name {
            return None;
        }
        let r = SubRange {
            start: start.parse().ok()?,
            count: count.parse().ok()?,
        };
        (r.count > 0).then_some(r)
    })
}

fn user_name(uid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _pw = f.next()?;
        (f.next()? == uid.to_string()).then(|| name.to_owned())
    })
}

fn find_tool(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// How the namespace's ids map to the host's.
#[derive(Debug)]
enum Mapping {
    /// `newuidmap`/`newgidmap` with the user's subordinate ranges.
    Sub {
        uid: u32,
        gid: u32,
        subuid: SubRange,
        subgid: SubRange,
        newuidmap: PathBuf,
        newgidmap: PathBuf,
    },
    /// Only the user's own uid and gid.
    Single { uid: u32, gid: u32 },
}

impl Mapping {
    fn detect(uid: u32, gid: u32) -> Mapping {
        let name = user_name(uid);
        let read = |p| std::fs::read_to_string(p).unwrap_or_default();
        let subuid = sub_range(&read("/etc/subuid"), name.as_deref(), uid);
        let subgid = sub_range(&read("/etc/subgid"), name.as_deref(), uid);
        // newuidmap/newgidmap refuse a caller without a passwd entry.
        match (
            subuid.filter(|_| name.is_some()),
            subgid,
            find_tool("newuidmap"),
            find_tool("newgidmap"),
        ) {
            (Some(subuid), Some(subgid), Some(newuidmap), Some(newgidmap)) => Mapping::Sub {
                uid,
                gid,
                subuid,
                subgid,
                newuidmap,
                newgidmap,
            },
            _ => Mapping::Single { uid, gid },
        }
    }

    /// Runs in the helper (outside the namespace): writes `pid`'s maps.
    fn write(&self, pid: i32) -> Result<()> {
        match self {
            Mapping::Sub {
                uid,
                gid,
                subuid,
                subgid,
                newuidmap,
                newgidmap,
            } => {
                for (tool, own, r) in [(newuidmap, uid, subuid), (newgidmap, gid, subgid)] {
                    let st = std::process::Command::new(tool)
                        .args([pid.to_string(), "0".into(), own.to_string(), "1".into()])
                        .args(["1".to_string(), r.start.to_string(), r.count.to_string()])
                        .status()
                        .with_context(|| format!("run {}", tool.display()))?;
                    if !st.success() {
                        bail!("{} {pid} failed: {st}", tool.display());
                    }
                }
            }
            Mapping::Single { uid, gid } => {
                let proc = PathBuf::from(format!("/proc/{pid}"));
                let w = |f: &str, s: String| {
                    std::fs::write(proc.join(f), s).with_context(|| format!("write {f}"))
                };
                w("uid_map", format!("0 {uid} 1\n"))?;
                w("setgroups", "deny".into())?;
                w("gid_map", format!("0 {gid} 1\n"))?;
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        match self {
            Mapping::Sub {
                uid,
                subuid,
                gid,
                subgid,
                ..
            } => format!(
                "new user namespace, uid 0→{uid}, 1-{}→{}+; gid 0→{gid}, 1-{}→{}+",
                subuid.count, subuid.start, subgid.count, subgid.start
            ),
            Mapping::Single { uid, gid } => {
                format!("new user namespace, uid 0→{uid}, gid 0→{gid} only (no /etc/subuid+subgid range)")
            }
        }
    }
}

fn cvt(r: libc::c_int, what: &str) -> Result<()> {
    if r < 0 {
        return Err(std::io::Error::last_os_error()).context(what.to_owned());
    }
    Ok(())
}

/// The user and mount namespaces of a previous rootless daemon on `exec_root`, found through
/// a container it started that still runs: the container's parent is its shim, which lives in
/// the daemon's namespaces. A restarted daemon joins them, so it can exec into, stop and
/// unmount those containers as the first one could.
fn previous_namespaces(exec_root: &Path, uid: u32) -> Option<(std::fs::File, std::fs::File)> {
    let ours = std::fs::read_link("/proc/self/ns/user").ok()?;
    for e in std::fs::read_dir(exec_root.join("runtime")).ok()?.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path().join("state.json")) else {
            continue;
        };
        let Ok(state) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let (Some(pid), Some(started)) = (state["pid"].as_i64(), state["pidStartTime"].as_u64())
        else {
            continue;
        };
        // The recorded init (same start time, not a reused pid) and its parent.
        let Some(shim) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|st| {
                let rest = st.rsplit_once(')')?.1.to_owned();
                let f: Vec<&str> = rest.split_whitespace().collect();
                let start: u64 = f.get(19)?.parse().ok()?;
                (start == started).then(|| f.get(1)?.parse::<i32>().ok())?
            })
        else {
            continue;
        };
        let proc = PathBuf::from(format!("/proc/{shim}"));
        let is_shim = std::fs::read(proc.join("cmdline")).is_ok_and(|c| {
            c.starts_with(b"berth-shim") || c.windows(11).any(|w| w == b"/berth-shim")
        });
        if !is_shim {
            continue;
        }
        let owner = std::fs::read_to_string(proc.join("status"))
            .ok()
            .and_then(|st| {
                let line = st.lines().find(|l| l.starts_with("Uid:"))?.to_owned();
                line.split_whitespace().nth(1)?.parse::<u32>().ok()
            });
        let user_ns = std::fs::read_link(proc.join("ns/user")).ok();
        if owner != Some(uid) || shim <= 1 || user_ns.is_none() || user_ns.as_ref() == Some(&ours) {
            continue;
        }
        if let (Ok(u), Ok(m)) = (
            std::fs::File::open(proc.join("ns/user")),
            std::fs::File::open(proc.join("ns/mnt")),
        ) {
            return Some((u, m));
        }
    }
    None
}

/// Joins a previous daemon's namespaces (see [`previous_namespaces`]).
fn rejoin(user: &std::fs::File, mnt: &std::fs::File) -> Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: valid namespace fds; single-threaded (see `enter`); as the namespace's owner we
    // hold every capability in it, so joining needs no privilege on the host.
    unsafe {
        cvt(
            libc::setns(user.as_raw_fd(), libc::CLONE_NEWUSER),
            "setns(user)",
        )?;
        cvt(
            libc::setns(mnt.as_raw_fd(), libc::CLONE_NEWNS),
            "setns(mount)",
        )?;
        cvt(libc::setresgid(0, 0, 0), "setresgid(0)")?;
        cvt(libc::setresuid(0, 0, 0), "setresuid(0)")?;
    }
    std::env::set_current_dir("/").context("chdir /")?;
    Ok(())
}

/// Enters the user and mount namespaces: a previous daemon's whose containers still run
/// under `exec_root`, else new ones. Must run before any thread is started (unshare of a user
/// namespace needs a single-threaded caller). Returns a line describing the mapping.
pub fn enter(exec_root: &Path) -> Result<String> {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    if let Some((user, mnt)) = previous_namespaces(exec_root, uid) {
        rejoin(&user, &mnt)?;
        let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
        return Ok(format!(
            "joined the previous daemon's user namespace (its containers still run; uid map {})",
            map.split_whitespace().collect::<Vec<_>>().join(" ")
        ));
    }
    // SAFETY: getuid/getgid/getpid have no preconditions.
    let (uid, gid, me) = unsafe { (libc::geteuid(), libc::getegid(), libc::getpid()) };
    let mapping = Mapping::detect(uid, gid);
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    cvt(r, "pipe")?;
    let (rd, wr) = (fds[0], fds[1]);
    // SAFETY: single-threaded here (see above), so the child may run arbitrary code.
    let helper = unsafe { libc::fork() };
    if helper < 0 {
        return Err(std::io::Error::last_os_error()).context("fork");
    }
    if helper == 0 {
        // The helper: wait for the daemon's unshare, write its maps, report by exit code.
        // SAFETY: closing our copy of the write end; reading one byte into a valid buffer.
        let code = unsafe {
            libc::close(wr);
            let mut b = 0u8;
            if libc::read(rd, (&mut b as *mut u8).cast(), 1) == 1 {
                match mapping.write(me) {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("berthd: rootless: mapping ids: {e:#}");
                        1
                    }
                }
            } else {
                1
            }
        };
        // SAFETY: leave without running the parent's atexit handlers or destructors.
        unsafe { libc::_exit(code) };
    }
    // SAFETY: closing our read end; plain syscalls on our own process.
    unsafe { libc::close(rd) };
    // SAFETY: no arguments beyond flags.
    let unshared = cvt(
        unsafe { libc::unshare(libc::CLONE_NEWUSER) },
        "unshare(user)",
    );
    // SAFETY: writing one byte from a valid buffer; the helper treats EOF as failure.
    unsafe {
        if unshared.is_ok() {
            libc::write(wr, b"x".as_ptr().cast(), 1);
        }
        libc::close(wr);
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(helper, &mut status, 0) };
    unshared.context(
        "rootless berthd: cannot create a user namespace (is kernel.unprivileged_userns_clone \
         or user.max_user_namespaces 0?)",
    )?;
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        bail!("rootless berthd: the user namespace's id mapping failed ({mapping:?})");
    }
    // SAFETY: plain syscalls on our own process; the ids are mapped now.
    unsafe {
        cvt(libc::setresgid(0, 0, 0), "setresgid(0)")?;
        cvt(libc::setresuid(0, 0, 0), "setresuid(0)")?;
        cvt(libc::unshare(libc::CLONE_NEWNS), "unshare(mount)")?;
        let root = CString::new("/").context("path")?;
        cvt(
            libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ),
            "make / private",
        )?;
    }
    Ok(mapping.describe())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subid_lines_match_by_name_or_number() {
        let text = "alice:100000:65536\n40001:200000:1000\nbob:300000:0\n";
        assert_eq!(
            sub_range(text, Some("alice"), 1000),
            Some(SubRange {
                start: 100000,
                count: 65536
            })
        );
        assert_eq!(sub_range(text, None, 40001).map(|r| r.start), Some(200000));
        assert_eq!(sub_range(text, Some("bob"), 5), None, "empty range");
        assert_eq!(sub_range(text, Some("carol"), 7), None);
    }
}
