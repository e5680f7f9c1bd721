//! Parsing of fstab-style mount options (`spec.mounts[].options`) into mount(2) arguments.
//!
//! Why a module: the same option list yields three different things — flags for the first
//! mount(2), propagation changes that need their own mount(2) calls afterwards (the kernel
//! ignores them when combined with a new mount), and a data string for the filesystem — and
//! the runtime-spec asks for mount(8)-compatible meaning, which includes flags that *clear*
//! (`rw`, `suid`, `exec`...).

use nix::mount::MsFlags;

use super::RootfsError;

/// `MS_NOSYMFOLLOW` (Linux 5.10) is not in nix.
pub(crate) const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(0x100);

/// The flags an unprivileged (user namespace) bind remount must preserve, because the kernel
/// locks them on mounts inherited from a more privileged namespace.
pub(crate) const LOCKED_FLAGS: MsFlags = MsFlags::MS_RDONLY
    .union(MsFlags::MS_NOSUID)
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

/// The atime-related flags, which the kernel also locks.
pub(crate) const ATIME_FLAGS: MsFlags = MsFlags::MS_NOATIME
    .union(MsFlags::MS_RELATIME)
    .union(MsFlags::MS_STRICTATIME)
    .union(MsFlags::MS_NODIRATIME);

/// The result of parsing one mount's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// Flags to set (includes `MS_BIND`/`MS_REC` for `bind`/`rbind`).
    pub(crate) set: MsFlags,
    /// Flags the user explicitly cleared (`rw`, `suid`, `dev`, `exec`, ...).
    pub(crate) cleared: MsFlags,
    /// Propagation changes, in order, each a separate mount(2) after the mount itself.
    pub(crate) propagation: Vec<MsFlags>,
    /// Everything else, comma-joined, passed to the filesystem as its data string.
    pub(crate) data: Vec<String>,
    /// `MOUNT_ATTR_*` bits to set on the whole mounted tree (`rro`, `rnosuid`, ...).
    pub(crate) rec_set: u64,
    /// `MOUNT_ATTR_*` bits to clear on the whole mounted tree (`rrw`, `rsuid`, ...).
    pub(crate) rec_clear: u64,
}

impl MountOptions {
    /// Whether the options make this a bind mount whatever the `type` says (as runc does).
    pub(crate) fn is_bind(&self) -> bool {
        self.set.contains(MsFlags::MS_BIND)
    }

    /// Whether the mount ends up read-only.
    pub(crate) fn readonly(&self) -> bool {
        self.set.contains(MsFlags::MS_RDONLY)
    }

    /// The data string, `None` when empty.
    pub(crate) fn data_string(&self) -> Option<String> {
        (!self.data.is_empty()).then(|| self.data.join(","))
    }
}

/// What one known option does.
enum Effect {
    Set(MsFlags),
    Clear(MsFlags),
    Propagate(MsFlags),
    Ignore,
}

fn effect(opt: &str) -> Option<Effect> {
    use Effect::{Clear, Ignore, Propagate, Set};
    Some(match opt {
        "defaults" | "remount" => Ignore,
        "iversion" => Set(MsFlags::MS_I_VERSION),
        "noiversion" => Clear(MsFlags::MS_I_VERSION),
        "acl" => Set(MsFlags::MS_POSIXACL),
        "noacl" => Clear(MsFlags::MS_POSIXACL),
        "bind" => Set(MsFlags::MS_BIND),
        "rbind" => Set(MsFlags::MS_BIND | MsFlags::MS_REC),
        "ro" => Set(MsFlags::MS_RDONLY),
        "rw" => Clear(MsFlags::MS_RDONLY),
        "nosuid" => Set(MsFlags::MS_NOSUID),
        "suid" => Clear(MsFlags::MS_NOSUID),
        "nodev" => Set(MsFlags::MS_NODEV),
        "dev" => Clear(MsFlags::MS_NODEV),
        "noexec" => Set(MsFlags::MS_NOEXEC),
        "exec" => Clear(MsFlags::MS_NOEXEC),
        "sync" => Set(MsFlags::MS_SYNCHRONOUS),
        "async" => Clear(MsFlags::MS_SYNCHRONOUS),
        "dirsync" => Set(MsFlags::MS_DIRSYNC),
        "mand" => Set(MsFlags::MS_MANDLOCK),
        "nomand" => Clear(MsFlags::MS_MANDLOCK),
        "noatime" => Set(MsFlags::MS_NOATIME),
        "atime" => Clear(MsFlags::MS_NOATIME),
        "nodiratime" => Set(MsFlags::MS_NODIRATIME),
        "diratime" => Clear(MsFlags::MS_NODIRATIME),
        "relatime" => Set(MsFlags::MS_RELATIME),
        "norelatime" => Clear(MsFlags::MS_RELATIME),
        "strictatime" => Set(MsFlags::MS_STRICTATIME),
        "nostrictatime" => Clear(MsFlags::MS_STRICTATIME),
        "lazytime" => Set(MsFlags::MS_LAZYTIME),
        "nolazytime" => Clear(MsFlags::MS_LAZYTIME),
        "silent" => Set(MsFlags::MS_SILENT),
        "loud" => Clear(MsFlags::MS_SILENT),
        "nosymfollow" => Set(MS_NOSYMFOLLOW),
        "symfollow" => Clear(MS_NOSYMFOLLOW),
        other => Propagate(propagation(other)?),
    })
}

/// The mount(2) flags of a propagation keyword (`private`, `rshared`, ...).
pub(crate) fn propagation(word: &str) -> Option<MsFlags> {
    let rec = MsFlags::MS_REC;
    Some(match word {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | rec,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | rec,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | rec,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | rec,
        _ => return None,
    })
}

/// Parses `linux.rootfsPropagation`. The spec lists `shared`, `slave`, `private` and
/// `unbindable`; the recursive forms are accepted too (runc does), and both mean recursive for
/// `/` since the whole tree inherits from it.
pub(crate) fn rootfs_propagation(value: &str) -> Result<MsFlags, RootfsError> {
    propagation(value)
        .map(|flags| flags | MsFlags::MS_REC)
        .ok_or_else(|| RootfsError::Invalid(format!("rootfs propagation {value:?} is not valid")))
}

/// Parses a mount's options. Id-mapped mounts and runc's `tmpcopyup` are rejected because
/// this runtime does not implement them: silently dropping them would give the container a
/// differently-owned or empty view it was not meant to have.
pub(crate) fn parse(options: &[String]) -> Result<MountOptions, RootfsError> {
    let mut out = MountOptions {
        set: MsFlags::empty(),
        cleared: MsFlags::empty(),
        propagation: Vec::new(),
        data: Vec::new(),
        rec_set: 0,
        rec_clear: 0,
    };
    for opt in options {
        let opt = opt.as_str();
        if matches!(opt, "idmap" | "ridmap") {
            return Err(RootfsError::Invalid(format!(
                "mount option {opt:?} (id-mapped mounts) is not supported"
            )));
        }
        if opt == "tmpcopyup" {
            return Err(RootfsError::Invalid(
                "mount option \"tmpcopyup\" is not supported".into(),
            ));
        }
        if let Some((clear, attr)) = recursive_attr(opt) {
            if clear {
                out.rec_clear |= attr;
                out.rec_set &= !attr;
                if attr & MOUNT_ATTR_ATIME != 0 {
                    // The kernel wants the whole atime field in attr_clr whenever one is touched.
                    out.rec_clear |= MOUNT_ATTR_ATIME;
                }
            } else {
                out.rec_set |= attr;
                out.rec_clear &= !attr;
                if attr & MOUNT_ATTR_ATIME == attr {
                    // The kernel wants the whole atime field cleared when one is set.
                    out.rec_clear |= MOUNT_ATTR_ATIME;
                }
            }
            continue;
        }
        match effect(opt) {
            Some(Effect::Set(flags)) => {
                out.set |= flags;
                out.cleared &= !flags;
            }
            Some(Effect::Clear(flags)) => {
                out.set &= !flags;
                out.cleared |= flags;
            }
            Some(Effect::Propagate(flags)) => out.propagation.push(flags),
            Some(Effect::Ignore) => {}
            None => out.data.push(opt.to_owned()),
        }
    }
    Ok(out)
}

/// `MOUNT_ATTR_*` from <linux/mount.h>.
pub(crate) const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;
/// The atime field (RELATIME is 0 in it).
const MOUNT_ATTR_ATIME: u64 = 0x70;
const MOUNT_ATTR_RELATIME: u64 = 0x0;
const MOUNT_ATTR_NOATIME: u64 = 0x10;
const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// runc's `r`-prefixed recursive attributes, applied with mount_setattr(2) to the whole
/// mounted tree: `(clears, attribute)`. Docker passes `rro` for read-only bind mounts so
/// that submounts of the source are read-only too.
fn recursive_attr(opt: &str) -> Option<(bool, u64)> {
    Some(match opt {
        "rro" => (false, MOUNT_ATTR_RDONLY),
        "rrw" => (true, MOUNT_ATTR_RDONLY),
        "rnosuid" => (false, MOUNT_ATTR_NOSUID),
        "rsuid" => (true, MOUNT_ATTR_NOSUID),
        "rnodev" => (false, MOUNT_ATTR_NODEV),
        "rdev" => (true, MOUNT_ATTR_NODEV),
        "rnoexec" => (false, MOUNT_ATTR_NOEXEC),
        "rexec" => (true, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (false, MOUNT_ATTR_NODIRATIME),
        "rdiratime" => (true, MOUNT_ATTR_NODIRATIME),
        "rrelatime" => (false, MOUNT_ATTR_RELATIME),
        "rnorelatime" => (true, MOUNT_ATTR_RELATIME),
        "rnoatime" => (false, MOUNT_ATTR_NOATIME),
        "ratime" => (true, MOUNT_ATTR_NOATIME),
        "rstrictatime" => (false, MOUNT_ATTR_STRICTATIME),
        "rnostrictatime" => (true, MOUNT_ATTR_STRICTATIME),
        "rnosymfollow" => (false, MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => (true, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn flags_data_and_propagation_are_separated() {
        let o = parse(&opts(&[
            "nosuid",
            "strictatime",
            "mode=755",
            "size=65536k",
            "rprivate",
        ]))
        .expect("parse");
        assert_eq!(o.set, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data_string().as_deref(), Some("mode=755,size=65536k"));
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert!(!o.is_bind());
    }

    #[test]
    fn later_options_override_earlier_ones() {
        let o = parse(&opts(&["ro", "rw"])).expect("parse");
        assert!(!o.readonly());
        assert_eq!(o.cleared, MsFlags::MS_RDONLY);
        let o = parse(&opts(&["rw", "ro"])).expect("parse");
        assert!(o.readonly());
        assert_eq!(o.cleared, MsFlags::empty());
    }

    #[test]
    fn rbind_is_a_recursive_bind() {
        let o = parse(&opts(&["rbind", "ro"])).expect("parse");
        assert!(o.is_bind());
        assert_eq!(
            o.set,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY
        );
        assert_eq!(o.data_string(), None);
    }

    #[test]
    fn idmap_and_tmpcopyup_are_rejected() {
        let err = parse(&opts(&["bind", "idmap"])).expect_err("idmap");
        assert!(err.to_string().contains("id-mapped"), "{err}");
        let err = parse(&opts(&["tmpcopyup"])).expect_err("tmpcopyup");
        assert!(err.to_string().contains("\"tmpcopyup\""), "{err}");
    }

    #[test]
    fn recursive_attributes_become_mount_attr_bits() {
        let o = parse(&opts(&["rbind", "rro", "rnosuid", "rstrictatime"])).expect("parse");
        assert_eq!(o.set, MsFlags::MS_BIND | MsFlags::MS_REC);
        assert_eq!(
            o.rec_set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME
        );
        assert_eq!(o.rec_clear, MOUNT_ATTR_ATIME);
        let o = parse(&opts(&["rro", "rrw", "rnoatime"])).expect("parse");
        assert_eq!(o.rec_set, MOUNT_ATTR_NOATIME);
        assert_eq!(o.rec_clear, MOUNT_ATTR_RDONLY | MOUNT_ATTR_ATIME);
        assert_eq!(o.data_string(), None);
    }

    #[test]
    fn rootfs_propagation_values() {
        assert_eq!(
            rootfs_propagation("slave").expect("slave"),
            MsFlags::MS_SLAVE | MsFlags::MS_REC
        );
        assert_eq!(
            rootfs_propagation("rshared").expect("rshared"),
            MsFlags::MS_SHARED | MsFlags::MS_REC
        );
        let err = rootfs_propagation("sharedd").expect_err("bad");
        assert_eq!(
            err.to_string(),
            "rootfs propagation \"sharedd\" is not valid"
        );
    }
}
