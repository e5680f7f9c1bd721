//! The `local` driver's rules: volume names, and the `type`/`device`/`o` options that make a
//! volume a mount of some filesystem (`-o type=tmpfs,device=tmpfs,o=size=10m`, or
//! `type=none,o=bind,device=/srv/x`), mounted on `_data` when a container first needs it.

use std::collections::BTreeMap;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};

use crate::error::{EngineError, Result};

/// Checks a volume name as docker's local driver does (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
pub fn validate_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    // The name is a directory of the data root: the filesystem's NAME_MAX is the limit.
    if ok && name.len() > 255 {
        return Err(EngineError::InvalidParameter(format!(
            "create {}...: volume name is too long ({} bytes, at most 255)",
            &name[..16],
            name.len()
        )));
    }
    if ok {
        Ok(())
    } else {
        Err(EngineError::InvalidParameter(format!(
            "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )))
    }
}

/// A volume's mount, from its driver options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalOptions {
    /// Filesystem type (`tmpfs`, `none` for a bind, `ext4`, …).
    pub fstype: String,
    /// What to mount (a device, a host directory for binds, `tmpfs`).
    pub device: String,
    /// Mount flags from `o`.
    pub flags: MsFlags,
    /// The rest of `o`, passed to the filesystem.
    pub data: String,
}

impl LocalOptions {
    /// Parses the options; `None` when there are none (a plain directory volume).
    pub fn parse(opts: &BTreeMap<String, String>) -> Result<Option<LocalOptions>> {
        for k in opts.keys() {
            if !matches!(k.as_str(), "type" | "device" | "o") {
                return Err(EngineError::InvalidParameter(format!(
                    "invalid option key: {k:?}"
                )));
            }
        }
        if opts.is_empty() {
            return Ok(None);
        }
        let fstype = opts
            .get("type")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                EngineError::InvalidParameter("missing required option: \"type\"".into())
            })?
            .clone();
        let device = match opts.get("device").filter(|d| !d.is_empty()) {
            Some(d) => d.clone(),
            None if fstype == "tmpfs" => "tmpfs".into(),
            None => {
                return Err(EngineError::InvalidParameter(
                    "missing required option: \"device\"".into(),
                ))
            }
        };
        let (flags, data) = mount_flags(opts.get("o").map_or("", String::as_str));
        if flags.contains(MsFlags::MS_BIND) && !device.starts_with('/') {
            return Err(EngineError::InvalidParameter(format!(
                "invalid bind device {device:?}: must be an absolute path"
            )));
        }
        Ok(Some(LocalOptions {
            fstype,
            device,
            flags,
            data,
        }))
    }

    /// Mounts it on `target`.
    pub fn mount(&self, target: &Path) -> Result<()> {
        let fail = |e: nix::Error| {
            EngineError::Internal(format!(
                "error while mounting volume '{}': failed to mount local volume: mount {}:{}, flags: {:#x}, data: {}: {e}",
                target.display(),
                self.device,
                target.display(),
                self.flags.bits(),
                self.data
            ))
        };
        let data = (!self.data.is_empty()).then_some(self.data.as_str());
        nix::mount::mount(
            Some(self.device.as_str()),
            target,
            Some(self.fstype.as_str()),
            self.flags,
            data,
        )
        .map_err(fail)?;
        // A bind ignores MS_RDONLY on the first call: remount to apply it.
        if self.flags.contains(MsFlags::MS_BIND) && self.flags.contains(MsFlags::MS_RDONLY) {
            nix::mount::mount(
                None::<&str>,
                target,
                None::<&str>,
                self.flags | MsFlags::MS_REMOUNT,
                None::<&str>,
            )
            .map_err(fail)?;
        }
        Ok(())
    }
}

/// Splits `o=` into mount flags and filesystem data, like mount(8).
fn mount_flags(o: &str) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for opt in o.split(',').filter(|s| !s.is_empty()) {
        let f = match opt {
            "ro" => MsFlags::MS_RDONLY,
            "rw" | "defaults" | "suid" | "dev" | "exec" | "async" | "atime" => MsFlags::empty(),
            "nosuid" => MsFlags::MS_NOSUID,
            "nodev" => MsFlags::MS_NODEV,
            "noexec" => MsFlags::MS_NOEXEC,
            "sync" => MsFlags::MS_SYNCHRONOUS,
            "noatime" => MsFlags::MS_NOATIME,
            "nodiratime" => MsFlags::MS_NODIRATIME,
            "relatime" => MsFlags::MS_RELATIME,
            "strictatime" => MsFlags::MS_STRICTATIME,
            "bind" => MsFlags::MS_BIND,
            "rbind" => MsFlags::MS_BIND | MsFlags::MS_REC,
            other => {
                data.push(other);
                continue;
            }
        };
        flags |= f;
    }
    (flags, data.join(","))
}

/// Unmounts a volume's filesystem (lazily, so a stray user cannot block removal).
pub fn unmount(target: &Path) -> Result<()> {
    match nix::mount::umount2(target, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => Ok(()),
        Err(e) => Err(EngineError::Internal(format!(
            "unmount {}: {e}",
            target.display()
        ))),
    }
}

/// Whether `path` is a mount point (its device differs from its parent's).
pub fn is_mount_point(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(m), Some(parent)) = (std::fs::symlink_metadata(path), path.parent()) else {
        return false;
    };
    std::fs::metadata(parent).is_ok_and(|p| p.dev() != m.dev())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn names() {
        assert!(validate_name("data_1.x-y").is_ok());
        assert!(validate_name("a").is_err());
        assert!(validate_name("_a").is_err());
        assert!(validate_name(&"v".repeat(255)).is_ok());
        let long = validate_name(&"v".repeat(300)).unwrap_err().to_string();
        assert!(long.contains("too long"), "{long}");
        let e = validate_name("rel/path").unwrap_err().to_string();
        assert!(e.contains("includes invalid characters"), "{e}");
    }

    #[test]
    fn options() {
        assert_eq!(LocalOptions::parse(&opts(&[])).unwrap(), None);
        let t = LocalOptions::parse(&opts(&[("type", "tmpfs"), ("o", "size=1m,uid=5,noexec")]))
            .unwrap()
            .unwrap();
        assert_eq!(t.device, "tmpfs");
        assert_eq!(t.flags, MsFlags::MS_NOEXEC);
        assert_eq!(t.data, "size=1m,uid=5");
        let b = LocalOptions::parse(&opts(&[
            ("type", "none"),
            ("o", "bind,ro"),
            ("device", "/srv"),
        ]))
        .unwrap()
        .unwrap();
        assert!(b.flags.contains(MsFlags::MS_BIND | MsFlags::MS_RDONLY));
        assert!(LocalOptions::parse(&opts(&[("foo", "x")])).is_err());
        assert!(LocalOptions::parse(&opts(&[("device", "/x")])).is_err());
        assert!(
            LocalOptions::parse(&opts(&[("type", "none"), ("o", "bind"), ("device", "rel")]))
                .is_err()
        );
        assert!(LocalOptions::parse(&opts(&[("type", "ext4")])).is_err());
    }
}
