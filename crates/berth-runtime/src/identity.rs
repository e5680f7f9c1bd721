//! The process's identity and limits: uid/gids, supplementary groups, umask, rlimits, oom score.

use std::fs;

use nix::sys::stat::{umask, Mode};
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType, User};

/// Why identity setup failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("setrlimit {0}: {1}")]
    Rlimit(String, nix::Error),
    #[error("setgroups: {0}")]
    Groups(nix::Error),
    #[error("setgid {0}: {1}")]
    Gid(u32, nix::Error),
    #[error("setuid {0}: {1}")]
    Uid(u32, nix::Error),
    #[error("write oom_score_adj {0}: {1}")]
    Oom(i32, std::io::Error),
    #[error("prctl: {0}")]
    Prctl(nix::Error),
}

fn resource(t: PosixRlimitType) -> i32 {
    (match t {
        PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
    }) as i32
}

/// Applies the spec's rlimits (before the uid changes: raising hard limits needs privilege).
pub fn set_rlimits(limits: &[PosixRlimit]) -> Result<(), IdentityError> {
    for l in limits {
        let rl = libc::rlimit {
            rlim_cur: l.soft(),
            rlim_max: l.hard(),
        };
        // SAFETY: setrlimit reads the struct we pass; the resource id comes from the fixed table.
        let r = unsafe { libc::setrlimit(resource(l.typ()) as _, &rl) };
        if r != 0 {
            return Err(IdentityError::Rlimit(
                format!("{:?}", l.typ()),
                nix::Error::last(),
            ));
        }
    }
    Ok(())
}

/// Writes the oom score adjustment of the calling process.
pub fn set_oom_score_adj(v: i32) -> Result<(), IdentityError> {
    fs::write("/proc/self/oom_score_adj", v.to_string()).map_err(|e| IdentityError::Oom(v, e))
}

/// Whether setgroups(2) is allowed (a user namespace whose creator wrote "deny" forbids it).
fn setgroups_allowed() -> bool {
    fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true)
}

/// The container process's umask when the spec sets none (runc's).
pub const DEFAULT_UMASK: libc::mode_t = 0o022;

/// Switches to the spec's user: supplementary groups, gid, uid (keeping capabilities across the uid
/// change so that the capability sets can be applied afterwards), then the umask.
pub fn set_user(u: &User) -> Result<(), IdentityError> {
    if setgroups_allowed() {
        let gids: Vec<Gid> = u
            .additional_gids()
            .iter()
            .flatten()
            .map(|g| Gid::from_raw(*g))
            .collect();
        setgroups(&gids).map_err(IdentityError::Groups)?;
    }
    let gid = Gid::from_raw(u.gid());
    setresgid(gid, gid, gid).map_err(|e| IdentityError::Gid(u.gid(), e))?;
    nix::sys::prctl::set_keepcaps(true).map_err(IdentityError::Prctl)?;
    let uid = Uid::from_raw(u.uid());
    setresuid(uid, uid, uid).map_err(|e| IdentityError::Uid(u.uid(), e))?;
    nix::sys::prctl::set_keepcaps(false).map_err(IdentityError::Prctl)?;
    // runc's default when the spec gives none: not whatever umask the caller runs under.
    let mask = u.umask().map_or(DEFAULT_UMASK, |m| m as libc::mode_t);
    umask(Mode::from_bits_truncate(mask));
    Ok(())
}
