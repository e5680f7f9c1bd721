//! Terminals: a pty made inside the container, its master handed out over a unix socket.
//!
//! Why inside: the pty must come from the container's own devpts instance so that its
//! `/dev/pts/N` exists there; the master then leaves through SCM_RIGHTS, as runc's
//! `--console-socket` protocol defines.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use nix::fcntl::{open, OFlag};
use nix::pty::{grantpt, ptsname_r, unlockpt, PtyMaster};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::stat::Mode;

/// Why terminal setup failed.
#[derive(Debug, thiserror::Error)]
pub enum TtyError {
    #[error("pty: {0}")]
    Sys(#[from] nix::Error),
}

/// A freshly made pty pair.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    pub slave_path: PathBuf,
}

/// Opens a new pty from `/dev/ptmx` (resolved in the current root).
pub fn open_pty() -> Result<Pty, TtyError> {
    let master_fd = open(
        "/dev/ptmx",
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: `master_fd` was just opened from /dev/ptmx and is owned by us.
    let master = unsafe { PtyMaster::from_owned_fd(master_fd) };
    grantpt(&master)?;
    unlockpt(&master)?;
    let slave_path = PathBuf::from(ptsname_r(&master)?);
    let slave = open(&slave_path, OFlag::O_RDWR | OFlag::O_NOCTTY, Mode::empty())?;
    let master: OwnedFd = master.into();
    Ok(Pty {
        master,
        slave,
        slave_path,
    })
}

/// Makes `slave` the controlling terminal and stdio of the calling process (a new session).
pub fn make_controlling(slave: &OwnedFd) -> Result<(), TtyError> {
    nix::unistd::setsid()?;
    // SAFETY: TIOCSCTTY on a valid tty fd with arg 0 only changes the session's controlling tty.
    let r = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) };
    if r < 0 {
        return Err(TtyError::Sys(nix::Error::last()));
    }
    for target in 0..=2 {
        // SAFETY: dup2 onto the standard descriptors; both fds are valid.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(TtyError::Sys(nix::Error::last()));
        }
    }
    Ok(())
}

/// Sets the window size of a pty.
pub fn set_size(fd: RawFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct we own; errors are ignored (size is cosmetic).
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
}

/// Sends `fd` over a connected unix socket, with runc's payload (the terminal's name).
pub fn send_fd(socket: RawFd, fd: RawFd, name: &str) -> Result<(), TtyError> {
    let iov = [IoSlice::new(name.as_bytes())];
    let fds = [fd];
    sendmsg::<()>(
        socket,
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    Ok(())
}

/// Takes ownership of a raw fd that the caller knows is valid and unowned.
///
/// # Safety
/// `fd` must be open and not owned elsewhere.
pub unsafe fn own(fd: RawFd) -> OwnedFd {
    // SAFETY: guaranteed by the caller.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
