//! What the remote tests stand on: certificates made at test time (rcgen), a berthd that also
//! listens on a free loopback TCP port, clients pointed at it, and a throw-away sshd.
#![allow(dead_code)]

use std::fs;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};

use crate::common::{self, Daemon};

/// A port nobody listens on right now (bound and released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A CA that signs server and client certificates.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pub pem: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(DnType::CommonName, format!("berth test CA {name}"));
        let pem = p.self_signed(&key).unwrap().pem();
        Ca {
            issuer: Issuer::new(p, key),
            pem,
        }
    }

    /// A leaf certificate and key (PEM); `server`: for localhost/127.0.0.1; `expired`: valid
    /// only in the past.
    pub fn leaf(&self, server: bool, expired: bool) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        p.subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        p.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        if expired {
            let now = time::OffsetDateTime::now_utc();
            p.not_before = now - time::Duration::days(30);
            p.not_after = now - time::Duration::days(1);
        }
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// Writes ca.pem, cert.pem and key.pem (a client's set, docker's names) into `dir`.
    pub fn client_dir(&self, dir: &Path, expired: bool) -> PathBuf {
        fs::create_dir_all(dir).unwrap();
        let (cert, key) = self.leaf(false, expired);
        fs::write(dir.join("ca.pem"), &self.pem).unwrap();
        fs::write(dir.join("cert.pem"), cert).unwrap();
        fs::write(dir.join("key.pem"), key).unwrap();
        dir.to_path_buf()
    }
}

/// A test daemon serving mutual TLS on `tcp://127.0.0.1:port` beside its unix socket.
pub struct TlsDaemon {
    pub d: Daemon,
    pub port: u16,
    pub ca: Ca,
    /// The client's ca.pem, cert.pem, key.pem (for DOCKER_CERT_PATH).
    pub certs: PathBuf,
    /// Holds the certificates; removed with the daemon.
    _tmp: tempfile::TempDir,
}

impl TlsDaemon {
    pub fn start() -> TlsDaemon {
        let ca = Ca::new("a");
        let tmp = tempfile::Builder::new()
            .prefix("berth-remote-certs-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().to_path_buf();
        let server = dir.join("server");
        fs::create_dir_all(&server).unwrap();
        let (cert, key) = ca.leaf(true, false);
        fs::write(server.join("ca.pem"), &ca.pem).unwrap();
        fs::write(server.join("cert.pem"), cert).unwrap();
        fs::write(server.join("key.pem"), key).unwrap();
        let certs = ca.client_dir(&dir.join("client"), false);
        let port = free_port();
        let p = |f: &str| server.join(f).to_str().unwrap().to_owned();
        let host = format!("tcp://127.0.0.1:{port}");
        let d = Daemon::start_with(&[
            "--bridge",
            "none",
            "-H",
            &host,
            "--tlsverify",
            "--tlscacert",
            &p("ca.pem"),
            "--tlscert",
            &p("cert.pem"),
            "--tlskey",
            &p("key.pem"),
        ]);
        TlsDaemon {
            d,
            port,
            ca,
            certs,
            _tmp: tmp,
        }
    }

    pub fn host(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// `berth ARGS` through TCP with TLS, configured as docker users do: DOCKER_HOST,
    /// DOCKER_TLS_VERIFY, DOCKER_CERT_PATH (no -H: the harness' socket is not used).
    pub fn berth_env(&self, certs: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(common::BERTH);
        cmd.env_remove("BERTH_HOST")
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_TLS_VERIFY", "1")
            .env("DOCKER_CERT_PATH", certs)
            .env("BERTH_CONFIG", self.d.dir.join("berth-config"))
            .args(args);
        run_bounded(cmd, stdin)
    }

    pub fn berth(&self, args: &[&str]) -> Output {
        self.berth_env(&self.certs.clone(), args, None)
    }

    /// Like [`TlsDaemon::berth`], asserting success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.berth(args);
        assert!(
            o.status.success(),
            "berth {args:?}: {}\n{}\ndaemon log:\n{}",
            o.status,
            common::stderr(&o),
            self.d.log()
        );
        common::stdout(&o)
    }
}

/// Runs `cmd` with `stdin`, killed after 120 s: a remote command that hangs fails the test
/// instead of holding it.
pub fn run_bounded(mut cmd: Command, stdin: Option<&str>) -> Output {
    use std::io::Write;
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        let mut w = child.stdin.take().unwrap();
        w.write_all(text.as_bytes()).unwrap();
    }
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let guard = std::thread::spawn(move || {
        if rx.recv_timeout(Duration::from_secs(120)).is_err() {
            // SAFETY: signalling the child we spawned (still unreaped: we wait below).
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = tx.send(());
    let _ = guard.join();
    out
}

/// A throw-away sshd on 127.0.0.1 for root with a test key, its own config, host key and
/// port; sessions get a PATH where `berth` and `docker` are the berth CLI under test and
/// BERTH_HOST points at the test daemon. Clients use an `ssh` wrapper (first in PATH) with
/// the test's key and known_hosts. Never touches the host's ssh configuration.
pub struct Sshd {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

const SSHD: &str = "/usr/sbin/sshd";

impl Sshd {
    /// `None` when openssh-server is not installed.
    pub fn start(dir: &Path, daemon_sock: &Path) -> Option<Sshd> {
        if !Path::new(SSHD).exists() {
            return None;
        }
        let dir = dir.join("ssh");
        let (rbin, bin) = (dir.join("remote-bin"), dir.join("bin"));
        fs::create_dir_all(&rbin).unwrap();
        fs::create_dir_all(&bin).unwrap();
        for key in ["host_key", "id"] {
            let st = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.join(key))
                .status()
                .unwrap();
            assert!(st.success());
        }
        fs::copy(dir.join("id.pub"), dir.join("authorized_keys")).unwrap();
        for name in ["berth", "docker"] {
            std::os::unix::fs::symlink(common::BERTH, rbin.join(name)).unwrap();
        }
        let port = free_port();
        let d = dir.display();
        fs::write(
            dir.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                 PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\n\
                 SetEnv PATH={}:/usr/bin:/bin BERTH_HOST=unix://{}\n",
                rbin.display(),
                daemon_sock.display()
            ),
        )
        .unwrap();
        fs::write(
            dir.join("ssh_config"),
            format!(
                "Host *\n  IdentityFile {d}/id\n  IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n  \
                 StrictHostKeyChecking accept-new\n  BatchMode yes\n  LogLevel ERROR\n"
            ),
        )
        .unwrap();
        let wrapper = bin.join("ssh");
        fs::write(
            &wrapper,
            format!("#!/bin/sh\nexec /usr/bin/ssh -F {d}/ssh_config \"$@\"\n"),
        )
        .unwrap();
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
        // sshd's privilege separation directory (what Debian's service creates at start).
        fs::create_dir_all("/run/sshd").unwrap();
        let log = fs::File::create(dir.join("sshd.log")).unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let sshd = Sshd { child, port, dir };
        common::wait_until("sshd listening", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Some(sshd)
    }

    /// PATH with the ssh wrapper first.
    pub fn path(&self) -> String {
        format!(
            "{}:{}",
            self.dir.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    pub fn url(&self) -> String {
        format!("ssh://root@127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }
}

/// Whether a process has `parent` as its parent (sshd's per-connection children).
fn has_children(parent: u32) -> bool {
    let Ok(dir) = fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        let stat = fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid ...: the comm may hold spaces, so split after its ')'.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_owned))
            .is_some_and(|ppid| ppid == parent.to_string())
    })
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Let the last sessions end first: killed under them, their processes would be left
        // to init to reap.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while has_children(self.child.id()) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
