//! Modes of what the daemon keeps on disk (dockerd's layout; issue 14, CVE-2021-41091).
//!
//! Records hold the containers' environment (secrets given with `-e`), logs their output, and
//! the image store and the mounted root filesystems hold setuid binaries: no local user but
//! root may read the first two or reach the last. The data root and exec root are 0710, what
//! lies in them 0700 (`volumes/` 0701, so a remapped root can pass through to a volume's
//! `_data`), records 0600 and logs 0640. berthd runs under umask 077, so what it writes is
//! private unless given a mode here: the files a container reads through a bind mount
//! (`/etc/hosts`, `resolv.conf`, `hostname`), volume and bind-source directories and the roots
//! of snapshots, which a container's non-root user must be able to use.
//!
//! [`secure_layout`] also brings a data root laid out by an older berthd (0755 directories,
//! 0644 records and logs) to these modes when the daemon starts.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{io_err, Result};

/// The data root and exec root: root may enter, others not (group root may pass through, as
/// with dockerd's 0710, e.g. to reach a socket kept in the exec root).
pub const ROOT_DIR: u32 = 0o710;
/// Directories below the roots.
pub const PRIVATE_DIR: u32 = 0o700;
/// `<data-root>/volumes`: passable, not listable.
pub const VOLUMES_DIR: u32 = 0o701;
/// Records and state documents.
pub const RECORD: u32 = 0o600;
/// json-file logs.
pub const LOG: u32 = 0o640;
/// Files bind-mounted into containers (`/etc/hosts`, …) and directories containers use.
pub const SHARED: u32 = 0o755;
/// Files bind-mounted into containers read by any of its users.
pub const SHARED_FILE: u32 = 0o644;

/// The directories the engine keeps in the data root and in the exec root, made up front so
/// their modes never depend on the umask of whoever created them.
const DATA_DIRS: [&str; 5] = ["containers", "image", "volumes", "network", "build"];
const EXEC_DIRS: [&str; 4] = ["containers", "runtime", "netns", "build"];

/// The files of a container's directory that are bind-mounted into it.
const ETC_FILES: [&str; 3] = ["hosts", "hostname", "resolv.conf"];

/// The umask berthd runs under: nothing it creates is readable by others unless given a mode.
pub const DAEMON_UMASK: u32 = 0o077;

/// Sets the process umask to [`DAEMON_UMASK`] (call first thing in the daemon).
pub fn set_daemon_umask() {
    // SAFETY: umask(2) only changes the process's file-creation mask; it cannot fail.
    unsafe { libc::umask(DAEMON_UMASK as libc::mode_t) };
}

/// chmod `path` to `mode` (the umask does not apply).
pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err("chmod", path))
}

/// `mkdir -p` where every directory made gets exactly `mode` (the umask does not apply);
/// directories that exist keep theirs.
pub(crate) fn create_dir_all(path: &Path, mode: u32) -> Result<()> {
    let mut missing: Vec<&Path> = Vec::new();
    let mut p = path;
    while fs::symlink_metadata(p).is_err() {
        missing.push(p);
        match p.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => p = parent,
            _ => break,
        }
    }
    for dir in missing.into_iter().rev() {
        match fs::DirBuilder::new().mode(mode).create(dir) {
            Ok(()) => set_mode(dir, mode)?,
            // Made meanwhile by someone else: theirs to set.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err("create", dir)(e)),
        }
    }
    Ok(())
}

/// Creates the data root and exec root and gives them and what is in them dockerd's modes.
pub fn secure_layout(data_root: &Path, exec_root: &Path) -> Result<()> {
    for root in [data_root, exec_root] {
        create_dir_all(root, ROOT_DIR)?;
        set_mode(root, ROOT_DIR)?;
        let made = if root == data_root {
            &DATA_DIRS[..]
        } else {
            &EXEC_DIRS[..]
        };
        for d in made {
            create_dir_all(&root.join(d), PRIVATE_DIR)?;
        }
        for (path, is_dir) in entries(root)? {
            let name = path.file_name().unwrap_or_default();
            match (is_dir, root == data_root && name == "volumes") {
                (true, true) => set_mode(&path, VOLUMES_DIR)?,
                (true, false) => set_mode(&path, PRIVATE_DIR)?,
                (false, _) => {}
            }
        }
    }
    fix_containers(&data_root.join("containers"))?;
    fix_documents(&data_root.join("image"))?;
    fix_documents(&data_root.join("network"))?;
    fix_documents(&data_root.join("build"))?;
    fix_snapshots(&data_root.join("image"))
}

/// The entries of `dir` as (path, is a real directory); none when it does not exist.
fn entries(dir: &Path) -> Result<Vec<(PathBuf, bool)>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("read", dir)(e)),
    };
    Ok(rd
        .flatten()
        .map(|e| (e.path(), e.file_type().is_ok_and(|t| t.is_dir())))
        .collect())
}

/// Whether `path` is a regular file (not a link, socket or fifo).
fn is_file(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

/// `containers/<id>/`: 0700; records 0600, logs 0640, the `/etc` files containers read 0644.
fn fix_containers(dir: &Path) -> Result<()> {
    for (cdir, is_dir) in entries(dir)? {
        if !is_dir {
            continue;
        }
        set_mode(&cdir, PRIVATE_DIR)?;
        for (file, _) in entries(&cdir)? {
            if !is_file(&file) {
                continue;
            }
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            let mode = if ETC_FILES.contains(&name.as_ref()) {
                SHARED_FILE
            } else if name.contains("-json.log") {
                LOG
            } else {
                RECORD
            };
            set_mode(&file, mode)?;
        }
    }
    Ok(())
}

/// The regular files directly in `dir` (the store's JSON documents): 0600.
fn fix_documents(dir: &Path) -> Result<()> {
    for (file, _) in entries(dir)? {
        if is_file(&file) {
            set_mode(&file, RECORD)?;
        }
    }
    Ok(())
}

/// Each snapshot's directory (`image/<snapshotter>/snapshots/<n>`): 0700, so an unpacked
/// layer's setuid binaries cannot be reached even where a directory above were opened.
fn fix_snapshots(image: &Path) -> Result<()> {
    for kind in ["overlay", "copy"] {
        for (snap, is_dir) in entries(&image.join(kind).join("snapshots"))? {
            if is_dir {
                set_mode(&snap, PRIVATE_DIR)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn create_dir_all_sets_the_mode_of_what_it_makes_only() {
        let tmp = tempfile::tempdir().unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o750)).unwrap();
        let deep = tmp.path().join("a/b/c");
        create_dir_all(&deep, 0o755).unwrap();
        for d in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&tmp.path().join(d)), 0o755, "{d}");
        }
        assert_eq!(
            mode(tmp.path()),
            0o750,
            "an existing directory keeps its mode"
        );
        create_dir_all(&deep, 0o700).unwrap();
        assert_eq!(mode(&deep), 0o755);
    }

    #[test]
    fn an_old_layout_is_made_private() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let exec = tmp.path().join("exec");
        let c = data.join("containers/abc");
        let snap = data.join("image/overlay/snapshots/7/fs");
        for d in [
            &c,
            &snap,
            &data.join("volumes/v/_data"),
            &exec.join("containers"),
        ] {
            fs::create_dir_all(d).unwrap();
        }
        for f in ["config.v2.json", "abc-json.log", "abc-json.log.1", "hosts"] {
            fs::write(c.join(f), "x").unwrap();
        }
        fs::write(data.join("image/images.json"), "{}").unwrap();
        let everything = |p: &Path| fs::set_permissions(p, fs::Permissions::from_mode(0o755));
        for p in [&data, &exec, &c.join("config.v2.json"), &c.join("hosts")] {
            everything(p).unwrap();
        }
        fs::set_permissions(c.join("abc-json.log"), fs::Permissions::from_mode(0o644)).unwrap();
        secure_layout(&data, &exec).unwrap();
        let want = [
            (data.clone(), 0o710),
            (exec.clone(), 0o710),
            (exec.join("containers"), 0o700),
            (data.join("containers"), 0o700),
            (data.join("image"), 0o700),
            (data.join("volumes"), 0o701),
            (c.clone(), 0o700),
            (c.join("config.v2.json"), 0o600),
            (c.join("abc-json.log"), 0o640),
            (c.join("abc-json.log.1"), 0o640),
            (c.join("hosts"), 0o644),
            (data.join("image/images.json"), 0o600),
            (data.join("image/overlay/snapshots/7"), 0o700),
        ];
        for (p, m) in want {
            assert_eq!(mode(&p), m, "{}", p.display());
        }
        assert_eq!(mode(&snap), 0o755, "a layer's root keeps its mode");
    }
}
