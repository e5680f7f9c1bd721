//! Validation of the spec's rootfs-related parts into a plan, before anything is mounted.
//!
//! Why: a half-built rootfs after an error is harmless (the mount namespace dies with the
//! init), but a clear, early error is what users need — "mount ./data to /data: no such file
//! or directory" rather than a failure after twenty mounts. So everything that can be checked
//! without mounting is checked here.

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use nix::sys::stat::SFlag;
use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType, Mount, Spec};

use super::options::{self, MountOptions};
use super::paths::lexical_clean;
use super::{errno_text, sysctl, RootfsError, RootfsOptions};

/// How one spec mount is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A bind mount of a host path (made absolute against the bundle).
    Bind {
        source: PathBuf,
        source_is_dir: bool,
    },
    /// A fresh procfs.
    Proc,
    /// A fresh sysfs (shows the network devices of the mounter's network namespace). When
    /// the kernel refuses it (EPERM: a user namespace without its own netns that the spec
    /// did not tell us about), `/sys` is bind-mounted instead, see [`sysfs_bind`].
    Sysfs,
    /// `cgroup`: v1 hierarchies under a tmpfs, or cgroup2.
    Cgroup,
    /// Any other filesystem type, passed through with its data.
    Fs { fstype: String },
}

/// One validated spec mount.
#[derive(Debug, Clone)]
pub(crate) struct PlannedMount {
    /// The destination, absolute and lexically clean (symlinks are resolved at mount time).
    pub(crate) dest: PathBuf,
    pub(crate) kind: Kind,
    pub(crate) opts: MountOptions,
    /// The source as written in the spec (or the type), for messages and as mount(2) source.
    pub(crate) source: String,
}

impl PlannedMount {
    /// The error for this mount failing with `reason`.
    pub(crate) fn error(&self, reason: impl std::fmt::Display) -> RootfsError {
        RootfsError::Mount {
            src: self.source.clone(),
            dest: self.dest.clone(),
            reason: reason.to_string(),
        }
    }
}

/// One device node to create in the container's /dev.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Device {
    /// Absolute, lexically clean, under /dev.
    pub(crate) path: PathBuf,
    pub(crate) kind: SFlag,
    pub(crate) major: u64,
    pub(crate) minor: u64,
    /// Permission bits.
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// The devices every container gets (as runc and the runtime-spec's "default devices").
const DEFAULT_DEVICES: [(&str, u64, u64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// Everything [`super::prepare`] will do, validated.
#[derive(Debug)]
pub(crate) struct Plan {
    /// `linux.rootfsPropagation`, if set.
    pub(crate) rootfs_propagation: Option<MsFlags>,
    pub(crate) mounts: Vec<PlannedMount>,
    /// False when the spec bind-mounts something over /dev (then /dev is the user's business).
    pub(crate) setup_dev: bool,
    /// Default devices plus `linux.devices` (which win on the same path), without /dev/ptmx.
    pub(crate) devices: Vec<Device>,
    /// In a new user namespace mknod(2) cannot work: bind-mount host nodes instead.
    pub(crate) use_bind_devices: bool,
    /// `process.terminal`: an empty /dev/console is created for the later bind.
    pub(crate) terminal: bool,
}

impl Plan {
    /// Validates `spec` for the rootfs at `opts.rootfs`.
    pub(crate) fn new(spec: &Spec, opts: &RootfsOptions<'_>) -> Result<Self, RootfsError> {
        if !opts.rootfs.is_absolute() {
            return Err(RootfsError::Invalid(format!(
                "rootfs path {} is not absolute",
                opts.rootfs.display()
            )));
        }
        let linux = spec.linux().as_ref();
        let has_ns = |t: LinuxNamespaceType| {
            linux
                .and_then(|l| l.namespaces().as_ref())
                .is_some_and(|nss| nss.iter().any(|ns| ns.typ() == t))
        };
        let rootfs_propagation = match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
            None | Some("") => None,
            Some(p) => Some(options::rootfs_propagation(p)?),
        };
        let new_netns = has_ns(LinuxNamespaceType::Network);
        let new_userns = has_ns(LinuxNamespaceType::User);
        let mounts = spec
            .mounts()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|m| plan_mount(m, opts.bundle, new_netns, new_userns))
            .collect::<Result<Vec<_>, _>>()?;
        let setup_dev = !mounts
            .iter()
            .any(|m| m.dest == Path::new("/dev") && matches!(m.kind, Kind::Bind { .. }));
        let spec_devices = linux
            .and_then(|l| l.devices().as_deref())
            .unwrap_or_default();
        let mut devices: Vec<Device> = DEFAULT_DEVICES
            .iter()
            .map(|(path, major, minor)| Device {
                path: PathBuf::from(path),
                kind: SFlag::S_IFCHR,
                major: *major,
                minor: *minor,
                mode: 0o666,
                uid: 0,
                gid: 0,
            })
            .collect();
        for d in spec_devices {
            let dev = plan_device(d)?;
            devices.retain(|existing| existing.path != dev.path);
            devices.push(dev);
        }
        devices.retain(|d| d.path != Path::new("/dev/ptmx"));
        if let Some(sysctls) = linux.and_then(|l| l.sysctl().as_ref()) {
            for name in sysctls.keys() {
                sysctl::validate(name, &has_ns)?;
            }
        }
        Ok(Plan {
            rootfs_propagation,
            mounts,
            setup_dev,
            devices,
            use_bind_devices: has_ns(LinuxNamespaceType::User),
            terminal: spec
                .process()
                .as_ref()
                .and_then(|p| p.terminal())
                .unwrap_or(false),
        })
    }
}

fn plan_mount(
    m: &Mount,
    bundle: &Path,
    new_netns: bool,
    new_userns: bool,
) -> Result<PlannedMount, RootfsError> {
    let raw_dest = m.destination();
    let typ = m.typ().as_deref().unwrap_or("");
    let raw_source = m.source().as_ref().map(|s| s.display().to_string());
    let label = raw_source.clone().unwrap_or_else(|| typ.to_owned());
    let fail = |reason: String| RootfsError::Mount {
        src: label.clone(),
        dest: raw_dest.clone(),
        reason,
    };
    if !raw_dest.is_absolute() {
        return Err(fail("destination is not an absolute path".into()));
    }
    let dest = lexical_clean(raw_dest);
    if dest == Path::new("/") {
        return Err(fail(
            "mounting over the root of the container is not supported".into(),
        ));
    }
    if m.uid_mappings().as_ref().is_some_and(|v| !v.is_empty())
        || m.gid_mappings().as_ref().is_some_and(|v| !v.is_empty())
    {
        return Err(fail("id-mapped mounts are not supported".into()));
    }
    let mut opts = options::parse(m.options().as_deref().unwrap_or_default())
        .map_err(|e| fail(e.to_string()))?;
    if typ == "bind" || typ == "rbind" {
        opts.set |= MsFlags::MS_BIND;
        if typ == "rbind" {
            opts.set |= MsFlags::MS_REC;
        }
    }
    let mut source = raw_source.clone().unwrap_or_else(|| typ.to_owned());
    let kind = if opts.is_bind() {
        let (src, source_is_dir) = bind_source(m, &opts, bundle, &fail)?;
        source = src.display().to_string();
        Kind::Bind {
            source: src,
            source_is_dir,
        }
    } else {
        match typ {
            "" => {
                return Err(fail(
                    "mount type is required unless the mount is a bind mount".into(),
                ))
            }
            "proc" => Kind::Proc,
            "sysfs" if new_netns || !new_userns => Kind::Sysfs,
            "sysfs" => {
                // In a user namespace sysfs can only be mounted together with a network
                // namespace owned by it: give the container the host's /sys instead (what
                // `runc spec --rootless` and moby do for this case).
                let (bind, source_text) = sysfs_bind(opts);
                opts = bind;
                source = source_text;
                Kind::Bind {
                    source: PathBuf::from("/sys"),
                    source_is_dir: true,
                }
            }
            // "cgroup2" is passed through: the spec asks for exactly that filesystem.
            "cgroup" => Kind::Cgroup,
            other => Kind::Fs {
                fstype: other.to_owned(),
            },
        }
    };
    Ok(PlannedMount {
        dest,
        kind,
        opts,
        source,
    })
}

/// A bind mount's source, relative paths taken from the bundle, and whether it is a
/// directory (the target is then created as one). A missing source fails here, while
/// planning, before anything is mounted.
fn bind_source(
    m: &Mount,
    opts: &MountOptions,
    bundle: &Path,
    fail: &dyn Fn(String) -> RootfsError,
) -> Result<(PathBuf, bool), RootfsError> {
    let Some(src) = m.source() else {
        return Err(fail("bind mount without a source".into()));
    };
    if !opts.data.is_empty() {
        // The kernel ignores data for bind mounts; say so rather than drop it silently
        // (a typo such as "rprivat" would otherwise go unnoticed).
        tracing::warn!(
            destination = %m.destination().display(),
            options = %opts.data.join(","),
            "ignoring unknown options of a bind mount"
        );
    }
    let src = if src.is_absolute() {
        src.clone()
    } else {
        bundle.join(src)
    };
    let meta = std::fs::metadata(&src).map_err(|e| {
        fail(match e.raw_os_error() {
            Some(code) => errno_text(nix::errno::Errno::from_raw(code)),
            None => e.to_string(),
        })
    })?;
    Ok((src, meta.is_dir()))
}

fn plan_device(d: &oci_spec::runtime::LinuxDevice) -> Result<Device, RootfsError> {
    let raw = d.path();
    let invalid = |why: &str| RootfsError::Invalid(format!("device {}: {why}", raw.display()));
    if !raw.is_absolute() {
        return Err(invalid("path is not absolute"));
    }
    if raw
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(invalid("path must not contain \"..\""));
    }
    let path = lexical_clean(raw);
    if !path.starts_with("/dev") || path == Path::new("/dev") {
        return Err(invalid("path must be inside /dev"));
    }
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => return Err(invalid("type \"a\" is only valid in cgroup rules")),
    };
    let number = |n: i64, what: &str| {
        u64::try_from(n).map_err(|_| invalid(&format!("negative {what} number {n}")))
    };
    Ok(Device {
        path,
        kind,
        major: number(d.major(), "major")?,
        minor: number(d.minor(), "minor")?,
        mode: d.file_mode().map_or(0o666, |m| m & 0o7777),
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

/// The options of a sysfs mount turned into a recursive bind of the host's `/sys`, and the
/// source to name in messages.
pub(crate) fn sysfs_bind(mut opts: MountOptions) -> (MountOptions, String) {
    opts.set |= MsFlags::MS_BIND | MsFlags::MS_REC;
    opts.data.clear();
    (opts, "/sys".into())
}
