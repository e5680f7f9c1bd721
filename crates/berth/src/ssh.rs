//! `-H ssh://[user@]host[:port]`: each connection is the user's own `ssh` running
//! `berth system dial-stdio` on the remote host (as the docker CLI runs `docker system
//! dial-stdio`), so no port needs opening and ssh's keys, agent and config apply.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};

/// Where to ssh to.
#[derive(Debug, Clone, PartialEq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

/// Parses the part after `ssh://`.
pub fn parse(rest: &str) -> Result<SshTarget, String> {
    let bad = |why: &str| format!("invalid ssh URL ssh://{rest}: {why}");
    let rest = rest.trim_end_matches('/');
    if rest.contains('/') {
        return Err(bad("a path is not supported"));
    }
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) if !u.is_empty() => (Some(u.to_owned()), h),
        Some(_) => return Err(bad("empty user")),
        None => (None, rest),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !hostport.ends_with(']') => {
            (h, Some(p.parse::<u16>().map_err(|_| bad("invalid port"))?))
        }
        _ => (hostport, None),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.starts_with('-') {
        return Err(bad("no host"));
    }
    Ok(SshTarget {
        user,
        host: host.to_owned(),
        port,
    })
}

impl SshTarget {
    /// The ssh command line (docker's: `ssh -o ConnectTimeout=30 -T [-l USER] [-p PORT] --
    /// HOST docker system dial-stdio`).
    fn command(&self) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-o", "ConnectTimeout=30", "-T"]);
        if let Some(u) = &self.user {
            cmd.args(["-l", u]);
        }
        if let Some(p) = self.port {
            cmd.args(["-p", &p.to_string()]);
        }
        cmd.args(["--", &self.host, "berth", "system", "dial-stdio"]);
        cmd
    }

    /// Starts ssh; its stderr stays ours, so the user sees ssh's own complaints (host keys,
    /// refused keys, a missing `berth` on the remote host).
    pub fn connect(&self) -> io::Result<SshStream> {
        let mut child = self
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("running ssh: {e}")))?;
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        Ok(SshStream(Arc::new(Shared {
            child: Mutex::new(child),
            stdin: Mutex::new(stdin),
            stdout: Mutex::new(stdout),
        })))
    }
}

/// The pipes of one ssh process, shareable between a reading and a writing thread.
#[derive(Clone)]
pub struct SshStream(Arc<Shared>);

struct Shared {
    child: Mutex<Child>,
    stdin: Mutex<Option<ChildStdin>>,
    stdout: Mutex<Option<ChildStdout>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SshStream {
    /// `Write`: closes ssh's stdin (the remote end sees EOF); `Both`: also ends ssh, which
    /// wakes a reader.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        lock(&self.0.stdin).take();
        if how != Shutdown::Write {
            let _ = lock(&self.0.child).kill();
        }
        Ok(())
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The exchange is over (the CLI sends `Connection: close`): no ssh is left behind.
        let child = self.child.get_mut().unwrap_or_else(|p| p.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Read for &SshStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match lock(&self.0.stdout).as_mut() {
            Some(out) => out.read(buf),
            None => Ok(0),
        }
    }
}

impl Write for &SshStream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match lock(&self.0.stdin).as_mut() {
            Some(w) => w.write(data),
            None => Err(io::Error::from(io::ErrorKind::BrokenPipe)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match lock(&self.0.stdin).as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ssh_urls_parse_like_dockers() {
        let t = parse("me@example.com:2222").unwrap();
        assert_eq!(t.user.as_deref(), Some("me"));
        assert_eq!((t.host.as_str(), t.port), ("example.com", Some(2222)));
        let t = parse("example.com").unwrap();
        assert_eq!((t.user, t.port), (None, None));
        assert!(parse("me@host:x").is_err());
        assert!(parse("host/path").is_err());
        assert!(parse("-oProxyCommand=x").is_err());
        assert!(parse("").is_err());
    }
}
