//! Resolving `--user` against the container's own `/etc/passwd` and `/etc/group`, read as data
//! through berth-fs (`RESOLVE_IN_ROOT`) so a symlink in the image cannot point us at host files
//! (and no libc name service runs against a container root, CVE-2019-14271).

use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::error::{EngineError, Result};

/// The ids a container process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups the user is listed in.
    pub additional_gids: Vec<u32>,
    /// The home directory from passwd, for `HOME`.
    pub home: String,
}

/// `/etc/passwd` and `/etc/group` larger than this are refused rather than read into memory.
const DB_LIMIT: u64 = 16 << 20;

/// Reads `rel` (e.g. `etc/passwd`) inside `root`, resolving symlinks as if `root` were `/`
/// (berth-fs). A missing file reads as empty.
pub fn read_in_root(root: &Path, rel: &str) -> Result<String> {
    let internal = |what: &str, e: std::io::Error| EngineError::Internal(format!("{what}: {e}"));
    // The root itself may be reached through a link (`/proc/<pid>/root`): that one is ours.
    let dir = nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| internal(&format!("open rootfs {}", root.display()), e.into()))?;
    let root = berth_fs::Root::from_fd(dir).map_err(|e| internal("open rootfs", e))?;
    let bytes = root
        .read(rel, DB_LIMIT)
        .map_err(|e| internal(&format!("read {rel} in rootfs"), e))?;
    String::from_utf8(bytes.unwrap_or_default())
        .map_err(|e| internal(&format!("read {rel} in rootfs"), std::io::Error::other(e)))
}

/// Resolves docker's `--user` (`name|uid[:group|gid]`, empty = root) with the container's
/// passwd and group files (their contents).
pub fn resolve(user: &str, passwd: &str, group: &str) -> Result<ResolvedUser> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let u = if u.is_empty() { "0" } else { u };
    let entries: Vec<Vec<&str>> = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 7)
        .collect();
    let by_name = entries.iter().find(|f| f[0] == u);
    let numeric = u.parse::<u32>().ok();
    let entry = by_name.or_else(|| {
        numeric.and_then(|n| entries.iter().find(|f| f[2].parse::<u32>().ok() == Some(n)))
    });
    let (uid, mut gid, name, home) = match (entry, numeric) {
        (Some(f), _) if by_name.is_some() || numeric.is_some() => (
            f[2].parse::<u32>().map_err(|_| bad_user(user))?,
            f[3].parse::<u32>().map_err(|_| bad_user(user))?,
            f[0].to_owned(),
            f[5].to_owned(),
        ),
        (None, Some(n)) => (n, 0, String::new(), "/".to_owned()),
        _ => {
            return Err(EngineError::InvalidParameter(format!(
                "unable to find user {u}: no matching entries in passwd file"
            )))
        }
    };
    let groups: Vec<Vec<&str>> = group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 3)
        .collect();
    if let Some(g) = g {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups
                .iter()
                .find(|f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    EngineError::InvalidParameter(format!(
                        "unable to find group {g}: no matching entries in group file"
                    ))
                })?,
        };
    }
    let additional_gids = if name.is_empty() {
        Vec::new()
    } else {
        groups
            .iter()
            .filter(|f| f.get(3).is_some_and(|m| m.split(',').any(|m| m == name)))
            .filter_map(|f| f[2].parse::<u32>().ok())
            .filter(|g| *g != gid)
            .collect()
    };
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home: if home.is_empty() { "/".into() } else { home },
    })
}

fn bad_user(user: &str) -> EngineError {
    EngineError::InvalidParameter(format!("invalid passwd entry for user {user}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n";
    const GROUP: &str = "root:x:0:\nwww:x:33:\nstaff:x:50:www,bob\n";

    #[test]
    fn users() {
        let r = resolve("", PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_str()), (0, 0, "/root"));
        let w = resolve("www", PASSWD, GROUP).unwrap();
        assert_eq!(
            (w.uid, w.gid, w.additional_gids.clone()),
            (33, 33, vec![50])
        );
        let n = resolve("1234:5", PASSWD, GROUP).unwrap();
        assert_eq!((n.uid, n.gid), (1234, 5));
        let g = resolve("33:staff", PASSWD, GROUP).unwrap();
        assert_eq!((g.uid, g.gid), (33, 50));
        assert!(resolve("nobody", PASSWD, GROUP).is_err());
        assert!(resolve("www:nogroup", PASSWD, GROUP).is_err());
    }

    #[test]
    fn symlinks_stay_inside_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("etc/passwd")).unwrap();
        // Resolved inside the root, /etc/hostname does not exist there: empty, not the host's.
        assert_eq!(read_in_root(dir.path(), "etc/passwd").unwrap(), "");
    }
}
