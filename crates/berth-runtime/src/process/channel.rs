//! The sync channel between the runtime and the process it forks into the container.
//!
//! Why binary: this sits on the container-start hot path; one tag byte and a payload per
//! SEQPACKET record costs nothing to encode, and records keep message boundaries without framing.
//! File descriptors (the pty master) travel as SCM_RIGHTS with the message.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::cmsg_space;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

/// Largest message: error strings and the state JSON are far below this.
const MAX_MSG: usize = 64 * 1024;

/// One message on the sync channel.
#[derive(Debug, PartialEq, Eq)]
pub enum Msg {
    /// Parent → child: uid/gid maps written and cgroup joined; go on.
    Go,
    /// Child → parent: namespaces and mounts ready; run `prestart`/`createRuntime` hooks.
    RunCreateHooks,
    /// Parent → child: hooks done; payload is the state JSON for the container's own hooks.
    HooksDone(Vec<u8>),
    /// Child → parent: the host pid of the container's init (when an intermediate forked it).
    InitPid(i32),
    /// Child → parent: here is the pty master (sent with an fd).
    PtyMaster,
    /// Child → parent: set up, parked until `start`.
    Ready,
    /// Child → parent: setup failed; the message says why.
    Error(String),
    /// Child → parent: the seccomp user-notification listener (sent with an fd), for the
    /// runtime to hand to the agent at `listenerPath` (a host path the init cannot reach).
    SeccompListener,
}

impl Msg {
    fn encode(&self) -> Vec<u8> {
        let (tag, body): (u8, &[u8]) = match self {
            Msg::Go => (1, &[]),
            Msg::RunCreateHooks => (2, &[]),
            Msg::HooksDone(b) => (3, b),
            Msg::InitPid(_) => (4, &[]),
            Msg::PtyMaster => (5, &[]),
            Msg::Ready => (6, &[]),
            Msg::Error(s) => (7, s.as_bytes()),
            Msg::SeccompListener => (8, &[]),
        };
        let mut out = Vec::with_capacity(1 + body.len() + 4);
        out.push(tag);
        if let Msg::InitPid(p) = self {
            out.extend_from_slice(&p.to_le_bytes());
        }
        out.extend_from_slice(&body[..body.len().min(MAX_MSG - 1)]);
        out
    }

    fn decode(buf: &[u8]) -> Option<Msg> {
        let (&tag, body) = buf.split_first()?;
        Some(match tag {
            1 => Msg::Go,
            2 => Msg::RunCreateHooks,
            3 => Msg::HooksDone(body.to_vec()),
            4 => Msg::InitPid(i32::from_le_bytes(body.get(..4)?.try_into().ok()?)),
            5 => Msg::PtyMaster,
            6 => Msg::Ready,
            7 => Msg::Error(String::from_utf8_lossy(body).into_owned()),
            8 => Msg::SeccompListener,
            _ => return None,
        })
    }
}

/// Why the channel failed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("sync socket: {0}")]
    Sys(#[from] nix::Error),
    #[error("sync socket closed by peer")]
    Closed,
    #[error("sync socket: malformed message")]
    Malformed,
}

/// One end of the sync channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// Creates both ends: `(parent, child)`. Both are close-on-exec, so neither leaks into the container.
pub fn pair() -> Result<(Channel, Channel), ChannelError> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    /// Sends a message, with an optional fd attached.
    pub fn send(&self, msg: &Msg, fd: Option<RawFd>) -> Result<(), ChannelError> {
        let data = msg.encode();
        let iov = [IoSlice::new(&data)];
        let fds;
        let cmsgs: &[ControlMessage<'_>] = match fd {
            Some(f) => {
                fds = [f];
                &[ControlMessage::ScmRights(&fds)]
            }
            None => &[],
        };
        sendmsg::<()>(self.fd.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None)?;
        Ok(())
    }

    /// Receives one message and any fd sent with it.
    pub fn recv(&self) -> Result<(Msg, Option<OwnedFd>), ChannelError> {
        let mut buf = vec![0u8; MAX_MSG];
        let mut cmsg = cmsg_space!([RawFd; 1]);
        let (len, fd) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = loop {
                match recvmsg::<()>(
                    self.fd.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::MSG_CMSG_CLOEXEC,
                ) {
                    Err(nix::Error::EINTR) => continue,
                    r => break r?,
                }
            };
            let mut fd = None;
            for c in msg.cmsgs()? {
                if let ControlMessageOwned::ScmRights(fds) = c {
                    for raw in fds {
                        // SAFETY: the kernel just installed this descriptor for us; we own it.
                        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                        fd.get_or_insert(owned);
                    }
                }
            }
            (msg.bytes, fd)
        };
        if len == 0 {
            return Err(ChannelError::Closed);
        }
        let msg = Msg::decode(&buf[..len]).ok_or(ChannelError::Malformed)?;
        Ok((msg, fd))
    }

    /// The raw descriptor (to exclude it when closing fds, or to poll it).
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_with_fds() {
        let (a, b) = pair().unwrap();
        for m in [
            Msg::Go,
            Msg::RunCreateHooks,
            Msg::HooksDone(b"{\"id\":1}".to_vec()),
            Msg::InitPid(4242),
            Msg::Ready,
            Msg::Error("boom".into()),
        ] {
            a.send(&m, None).unwrap();
            let (got, fd) = b.recv().unwrap();
            assert_eq!(got, m);
            assert!(fd.is_none());
        }
        let f = std::fs::File::open("/dev/null").unwrap();
        a.send(&Msg::PtyMaster, Some(f.as_raw_fd())).unwrap();
        let (got, fd) = b.recv().unwrap();
        assert_eq!(got, Msg::PtyMaster);
        assert!(fd.is_some());
        drop(a);
        assert!(matches!(b.recv(), Err(ChannelError::Closed)));
    }
}
