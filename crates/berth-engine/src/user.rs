//! Resolving `--user` against the container's own `/etc/passwd` and `/etc/group`, read as data
//! through `openat2(RESOLVE_IN_ROOT)` so a symlink in the image cannot point us at host files
//! (and no libc name service runs against a container root, CVE-2019-14271).

use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

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

/// The kernel's `struct open_how` (libc's is non-exhaustive).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Reads `rel` (e.g. `etc/passwd`) inside `root`, resolving symlinks as if `root` were `/`.
/// A missing file reads as empty.
pub fn read_in_root(root: &Path, rel: &str) -> Result<String> {
    let to_c = |s: &[u8]| CString::new(s).map_err(|_| EngineError::Internal("NUL in path".into()));
    let root_c = to_c(root.as_os_str().as_encoded_bytes())?;
    // SAFETY: open(2) with a valid C string.
    let dfd = unsafe {
        libc::open(
            root_c.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dfd < 0 {
        return Err(EngineError::Internal(format!(
            "open rootfs {}: {}",
            root.display(),
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: fresh descriptor we own.
    let dir = unsafe { OwnedFd::from_raw_fd(dfd) };
    let rel_c = to_c(rel.as_bytes())?;
    let how = OpenHow {
        flags: (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: openat2 with a valid dirfd, C string and a correctly sized open_how.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            std::os::fd::AsRawFd::as_raw_fd(&dir),
            rel_c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::NotFound {
            return Ok(String::new());
        }
        return Err(EngineError::Internal(format!("open {rel} in rootfs: {e}")));
    }
    // SAFETY: fresh descriptor we own.
    let mut f = File::from(unsafe { OwnedFd::from_raw_fd(fd as i32) });
    let mut s = String::new();
    f.read_to_string(&mut s)
        .map_err(|e| EngineError::Internal(format!("read {rel} in rootfs: {e}")))?;
    Ok(s)
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
