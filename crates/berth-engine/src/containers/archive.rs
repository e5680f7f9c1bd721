//! `docker cp`: stat, read and write paths of a container as tar streams
//! (`HEAD`/`GET`/`PUT /containers/{id}/archive`).
//!
//! The root every path is resolved in: for a running container `/proc/<pid>/root`, so its
//! volumes, binds and tmpfs mounts are seen exactly as the container sees them; for a stopped
//! one its root filesystem, mounted for the copy, and its volumes and binds reached through
//! their host directories. All resolution goes through [`fsops`] (`RESOLVE_IN_ROOT`, then
//! fd-relative steps), so nothing the container does can make a copy touch host files.

mod pack;
mod unpack;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use serde::Serialize;

pub use unpack::UnpackOptions;

use crate::containers::Containers;
use crate::error::{EngineError, Result};
use crate::fsops;
use crate::volumes::clean_path;

/// Docker's `X-Docker-Container-Path-Stat` (base64 JSON in that header).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PathStat {
    /// Base name.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Go `os.FileMode` bits (type and permissions).
    pub mode: u32,
    /// RFC 3339 modification time.
    pub mtime: String,
    /// For a symlink: its target resolved inside the container (absolute).
    pub link_target: String,
}

impl PathStat {
    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & (1 << 31) != 0
    }

    /// The header value: base64 of the JSON.
    pub fn header_value(&self) -> String {
        base64(&serde_json::to_vec(self).unwrap_or_default())
    }
}

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Unix seconds as RFC 3339 UTC.
fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
}

/// A container root opened for one copy; unmounts a root it mounted when dropped.
struct Root<'a> {
    engine: &'a Containers,
    id: String,
    fd: OwnedFd,
    /// The path inside `fd` (differs from the asked path when it lies in a volume of a
    /// stopped container).
    path: String,
    /// Whether the mount point it lies in is read-only (stopped containers).
    read_only: bool,
    mounted: bool,
}

impl Drop for Root<'_> {
    fn drop(&mut self) {
        if self.mounted {
            self.engine.release_cp_mount(&self.id);
        }
    }
}

/// Whether `pid` lives in the cgroup of container `id`.
fn pid_in_container(pid: i32, id: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .is_ok_and(|c| c.lines().any(|l| l.contains(id)))
}

/// Roots mounted for copies of stopped containers, with their number of users.
fn cp_mounts() -> &'static std::sync::Mutex<std::collections::HashMap<PathBuf, usize>> {
    static M: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<PathBuf, usize>>> =
        std::sync::OnceLock::new();
    M.get_or_init(Default::default)
}

fn not_found(path: &str, id: &str) -> EngineError {
    EngineError::NotFound(format!("Could not find the file {path} in container {id}"))
}

fn io_to_engine<'a>(path: &'a str, id: &'a str) -> impl Fn(std::io::Error) -> EngineError + 'a {
    move |e| match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => not_found(path, id),
        _ => EngineError::Internal(format!("{path}: {e}")),
    }
}

impl Containers {
    fn open_container_root(&self, key: &str, path: &str) -> Result<Root<'_>> {
        // Relative paths are relative to the root, as in docker.
        let clean = clean_path(path);
        let (id, pid) = {
            let inner = self.lock();
            let id = Self::find_id(&inner, key)?;
            let rec = inner
                .containers
                .get(&id)
                .ok_or_else(|| EngineError::NoSuchContainer(key.to_owned()))?;
            (id, rec.state.running.then_some(rec.state.pid))
        };
        if let Some(pid) = pid.filter(|p| *p > 0) {
            let opened = fsops::open_root(&PathBuf::from(format!("/proc/{pid}/root")));
            // Checked after opening: the root held is that of a process in this container's
            // cgroup, never of a process that reused the pid after the container exited.
            if let Some(fd) = opened.ok().filter(|_| pid_in_container(pid, &id)) {
                return Ok(Root {
                    engine: self,
                    id,
                    fd,
                    path: clean,
                    read_only: false,
                    mounted: false,
                });
            }
        }
        // Stopped: a volume or bind holding the path is reached through its host directory.
        let mps = self.mount_points(&id);
        let best = mps
            .iter()
            .filter(|m| clean == m.destination || clean.starts_with(&format!("{}/", m.destination)))
            .max_by_key(|m| m.destination.len());
        if let Some(mp) = best {
            if let Some(src) = self.mount_source(mp) {
                let fd = fsops::open_root(&src).map_err(io_to_engine(path, &id))?;
                let rest = clean_path(&clean[mp.destination.len()..]);
                return Ok(Root {
                    engine: self,
                    id,
                    fd,
                    path: rest,
                    read_only: !mp.rw,
                    mounted: false,
                });
            }
        }
        let (dir, mounted) = self.acquire_cp_mount(&id)?;
        let root = Root {
            engine: self,
            id: id.clone(),
            fd: fsops::open_root(&dir).map_err(io_to_engine(path, &id))?,
            path: clean,
            read_only: false,
            mounted,
        };
        Ok(root)
    }

    /// Mounts a stopped container's root for a copy (counted: concurrent copies share it);
    /// returns the directory and whether this copy holds a reference.
    fn acquire_cp_mount(&self, id: &str) -> Result<(PathBuf, bool)> {
        let dir = self.rootfs_dir(id);
        let mut held = cp_mounts().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&dir) {
            *n += 1;
            return Ok((dir, true));
        }
        if crate::volumes::is_mount_point(&dir) {
            return Ok((dir, false));
        }
        std::fs::create_dir_all(&dir).map_err(crate::error::io_err("create", &dir))?;
        self.images
            .store
            .container_mount(id)?
            .mount(&dir)
            .map_err(crate::error::io_err("mount rootfs on", &dir))?;
        held.insert(dir.clone(), 1);
        Ok((dir, true))
    }

    /// Drops a copy's reference; the last one unmounts the root unless the container was
    /// started meanwhile.
    fn release_cp_mount(&self, id: &str) {
        let dir = self.rootfs_dir(id);
        let mut held = cp_mounts().lock().unwrap_or_else(|p| p.into_inner());
        let Some(n) = held.get_mut(&dir) else { return };
        *n -= 1;
        if *n > 0 {
            return;
        }
        held.remove(&dir);
        let busy = {
            let inner = self.lock();
            inner.starting.contains(id) || inner.containers.get(id).is_none_or(|r| r.state.running)
        };
        if !busy {
            self.unmount_rootfs(id);
        }
    }

    /// `HEAD /containers/{id}/archive?path=`: what is at `path` (not following a final
    /// symlink).
    pub fn archive_stat(&self, key: &str, path: &str) -> Result<PathStat> {
        let root = self.open_container_root(key, path)?;
        let (parent, name) =
            fsops::resolve_parent(&root.fd, &root.path).map_err(io_to_engine(path, &root.id))?;
        let st = fsops::lstat_at(&parent, name.as_deref()).map_err(io_to_engine(path, &root.id))?;
        let mut link_target = String::new();
        if fsops::kind(&st) == libc::S_IFLNK {
            if let Some(n) = name.as_deref() {
                let t = nix::fcntl::readlinkat(&parent, n)
                    .map_err(|e| io_to_engine(path, &root.id)(fsops::ioe(e)))?;
                let t = t.to_string_lossy();
                let base = Path::new(&clean_path(path))
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "/".into());
                link_target = if t.starts_with('/') {
                    clean_path(&t)
                } else {
                    clean_path(&format!("{base}/{t}"))
                };
            }
        }
        Ok(PathStat {
            name: name.unwrap_or_else(|| "/".into()),
            size: st.st_size,
            mode: fsops::go_mode(&st),
            mtime: rfc3339(st.st_mtime),
            link_target,
        })
    }

    /// `GET /containers/{id}/archive?path=`: writes `path` as a tar stream, entries named from
    /// its base name (`dir/.` writes the directory's content under `.`).
    pub fn archive_get(&self, key: &str, path: &str, out: &mut dyn Write) -> Result<()> {
        let root = self.open_container_root(key, path)?;
        let contents = path.ends_with("/.") || path == ".";
        let (parent, name) =
            fsops::resolve_parent(&root.fd, &root.path).map_err(io_to_engine(path, &root.id))?;
        let rebase = if contents {
            ".".to_owned()
        } else {
            name.clone().unwrap_or_else(|| ".".into())
        };
        // A trailing slash asks for a directory: follow a final symlink to one.
        let (parent, name) = if path.ends_with('/') && name.is_some() {
            let dir = fsops::resolve(&root.fd, &root.path, OFlag::O_PATH | OFlag::O_DIRECTORY)
                .map_err(io_to_engine(path, &root.id))?;
            (dir, None)
        } else {
            (parent, name)
        };
        fsops::lstat_at(&parent, name.as_deref()).map_err(io_to_engine(path, &root.id))?;
        self.with_container_ids(&root.id, out, |out| {
            pack::pack(out, &parent, name.as_deref(), &rebase)
                .map_err(|e| EngineError::Internal(format!("archive {path}: {e}")))
        })
    }

    /// `PUT /containers/{id}/archive?path=`: extracts a tar stream into the directory `path`.
    pub fn archive_put(
        &self,
        key: &str,
        path: &str,
        opts: UnpackOptions,
        input: &mut dyn Read,
    ) -> Result<()> {
        let root = self.open_container_root(key, path)?;
        if root.read_only {
            return Err(EngineError::InvalidParameter(format!(
                "mounted volume is marked read-only: {path}"
            )));
        }
        let opts = self.cp_unpack_options(&root.id, opts)?;
        let dir = fsops::resolve(&root.fd, &root.path, OFlag::O_PATH)
            .map_err(io_to_engine(path, &root.id))?;
        let st = nix::sys::stat::fstat(&dir).map_err(|e| EngineError::Internal(e.to_string()))?;
        if fsops::kind(&st) != libc::S_IFDIR {
            return Err(EngineError::InvalidParameter(
                "extraction point is not a directory".into(),
            ));
        }
        unpack::unpack(input, &root.fd, &root.path, opts).map_err(|e| match e {
            berth_fs::extract::ExtractError::Write { source, .. }
                if source.raw_os_error() == Some(libc::EROFS) =>
            {
                EngineError::InvalidParameter(format!(
                    "Error extracting tar content to {path}: read-only file system"
                ))
            }
            e => EngineError::InvalidParameter(format!(
                "Error extracting tar content to {path}: {e}"
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(base64(b"hello"), "aGVsbG8=");
        assert_eq!(base64(b"hi!"), "aGkh");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
