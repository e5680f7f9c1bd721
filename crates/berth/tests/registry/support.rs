//! Test fixtures for registry tests: Debian's `docker-registry` on a free loopback port with
//! its own config and storage (optionally htpasswd auth), OCI layouts built from tar files
//! (for `skopeo copy`), and a fault-injecting TCP proxy (throttle, drop, corrupt, die).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::token::{TokenServer, ISSUER, SERVICE};

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A unique temp dir removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "berth-reg-{tag}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A free port on 127.0.0.1 (bound and released; std sets SO_REUSEADDR).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `docker-registry serve` on 127.0.0.1:PORT; killed on drop.
pub struct Registry {
    pub dir: TempDir,
    pub port: u16,
    pub auth: Option<(String, String)>,
    /// `auth:` section for token auth (realm, service, issuer, cert bundle).
    token: Option<String>,
    child: Option<Child>,
}

impl Registry {
    /// Without auth.
    pub fn start() -> Registry {
        Self::start_with(None)
    }

    /// With htpasswd auth for `user`/`pass`.
    pub fn start_with_auth(user: &str, pass: &str) -> Registry {
        Self::start_with(Some((user.to_owned(), pass.to_owned())))
    }

    /// With token auth from `server` (credentials checked there).
    pub fn start_with_token(server: &TokenServer) -> Registry {
        let section = format!(
            "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            server.port,
            server.cert.display()
        );
        Self::start_full(
            Some((server.user.clone(), server.pass.clone())),
            Some(section),
        )
    }

    fn start_with(auth: Option<(String, String)>) -> Registry {
        Self::start_full(auth, None)
    }

    fn start_full(auth: Option<(String, String)>, token: Option<String>) -> Registry {
        let dir = TempDir::new("registry");
        let mut r = Registry {
            port: free_port(),
            dir,
            auth,
            token,
            child: None,
        };
        r.write_config();
        r.spawn();
        r
    }

    fn write_config(&self) {
        let d = &self.dir.0;
        let mut auth = self.token.clone().unwrap_or_default();
        if let (Some((u, p)), None) = (&self.auth, &self.token) {
            let o = Command::new("htpasswd")
                .args(["-Bbn", u, p])
                .output()
                .expect("htpasswd (apache2-utils) must be installed");
            assert!(o.status.success());
            fs::write(d.join("htpasswd"), &o.stdout).unwrap();
            auth = format!(
                "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                d.join("htpasswd").display()
            );
        }
        let cfg = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n{auth}http:\n  addr: 127.0.0.1:{}\n",
            d.join("storage").display(),
            self.port
        );
        fs::write(d.join("config.yml"), cfg).unwrap();
    }

    fn spawn(&mut self) {
        let log = fs::File::create(self.dir.0.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(self.dir.0.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry must be installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "registry did not come up: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.0.join("registry.log")).unwrap_or_default()
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kill the registry process (storage stays).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start it again on the same port and storage.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// skopeo's credentials flag for this registry, if it has auth.
    pub fn creds(&self) -> Vec<String> {
        match &self.auth {
            Some((u, p)) => vec!["--creds".into(), format!("{u}:{p}")],
            None => vec![],
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

fn sha256_file(p: &Path) -> String {
    let o = Command::new("sha256sum").arg(p).output().unwrap();
    let s = String::from_utf8(o.stdout).unwrap();
    s.split_whitespace().next().unwrap().to_owned()
}

/// Writes content-addressed blobs into an OCI layout directory.
pub struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    pub fn new(dir: &Path) -> Layout {
        fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout {
            dir: dir.to_owned(),
        }
    }

    /// Store bytes; returns (digest, size).
    pub fn put(&self, data: &[u8]) -> (String, u64) {
        let tmp = self.dir.join("tmp-blob");
        fs::write(&tmp, data).unwrap();
        self.put_file(&tmp)
    }

    /// Move a file in as a blob; returns (digest, size).
    pub fn put_file(&self, f: &Path) -> (String, u64) {
        let hex = sha256_file(f);
        let size = fs::metadata(f).unwrap().len();
        fs::rename(f, self.dir.join("blobs/sha256").join(&hex)).unwrap();
        (format!("sha256:{hex}"), size)
    }

    /// Add an image from uncompressed layer tars (gzipped here); returns the manifest
    /// descriptor (with `platform`).
    pub fn image(&self, layers: &[PathBuf], arch: &str, cmd: &[&str]) -> Value {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        for (i, l) in layers.iter().enumerate() {
            diff_ids.push(format!("sha256:{}", sha256_file(l)));
            let gz = self.dir.join(format!("layer-{i}.tar.gz"));
            let o = Command::new("gzip")
                .args(["-n", "-1", "-c"])
                .arg(l)
                .output()
                .unwrap();
            assert!(o.status.success());
            fs::write(&gz, &o.stdout).unwrap();
            let (d, s) = self.put_file(&gz);
            descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s}));
        }
        let config = json!({
            "architecture": arch, "os": "linux",
            "config": {"Cmd": cmd, "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": layers.iter().map(|_| json!({"created_by": "test"})).collect::<Vec<_>>(),
        });
        let (cd, cs) = self.put(config.to_string().as_bytes());
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
            "layers": descs,
        });
        let (md, ms) = self.put(manifest.to_string().as_bytes());
        json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
               "platform": {"architecture": arch, "os": "linux"}})
    }

    /// Write `index.json` naming `manifests` by `tag`; with `nested`, the tag points at an
    /// image index holding them (a multi-arch image).
    pub fn finish(&self, tag: &str, manifests: Vec<Value>, nested: bool) {
        let ann = json!({"org.opencontainers.image.ref.name": tag});
        let top = if nested {
            let idx = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
            let (d, s) = self.put(idx.to_string().as_bytes());
            vec![
                json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": d, "size": s, "annotations": ann}),
            ]
        } else {
            manifests
                .into_iter()
                .map(|mut m| {
                    m["annotations"] = ann.clone();
                    m
                })
                .collect()
        };
        let index = json!({"schemaVersion": 2, "manifests": top});
        fs::write(self.dir.join("index.json"), index.to_string()).unwrap();
    }
}

/// A tar with one file `name` holding `data`, made with the system tar.
pub fn file_layer(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let root = dir.join(format!("src-{}", SEQ.fetch_add(1, Ordering::SeqCst)));
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join(name), data).unwrap();
    let tar = dir.join(format!("{name}.tar"));
    let st = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .args(["-cf"])
        .arg(&tar)
        .arg(name)
        .status()
        .unwrap();
    assert!(st.success());
    fs::remove_dir_all(&root).unwrap();
    tar
}

/// `size` pseudo-random (incompressible) bytes.
pub fn random_bytes(size: usize) -> Vec<u8> {
    let mut f = fs::File::open("/dev/urandom").unwrap();
    let mut v = vec![0u8; size];
    f.read_exact(&mut v).unwrap();
    v
}

/// Run skopeo, asserting success.
pub fn skopeo(args: &[&str]) -> Output {
    let o = Command::new("skopeo")
        .args(args)
        .output()
        .expect("skopeo must be installed");
    assert!(
        o.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// What a [`Proxy`] does to the traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Pass everything.
    None,
    /// After this many response bytes in total, close every connection once (then pass).
    DropOnceAfter(u64),
    /// After this many response bytes, flip one byte (then pass).
    CorruptAfter(u64),
    /// After this many response bytes, close everything and stop accepting (a dead registry).
    DieAfter(u64),
}

/// A TCP proxy on its own port in front of `target`, applying a [`Fault`]; bytes/s limited
/// by `rate` (0 = unlimited) so a pull can be caught mid-way.
pub struct Proxy {
    pub port: u16,
    stop: Arc<AtomicBool>,
    pub tripped: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(port: u16, target: u16, fault: Fault, rate: u64) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let tripped = Arc::new(AtomicBool::new(false));
        let total = Arc::new(AtomicU64::new(0));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::new(Mutex::new(Vec::new()));
        let (s2, t2) = (stop.clone(), tripped.clone());
        std::thread::spawn(move || {
            while !s2.load(Ordering::SeqCst) {
                let (client, _) = match listener.accept() {
                    Ok(c) => c,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                };
                client.set_nonblocking(false).unwrap();
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                conns.lock().unwrap().push(client.try_clone().unwrap());
                conns.lock().unwrap().push(upstream.try_clone().unwrap());
                // client → upstream: plain copy.
                let (mut c_r, mut u_w) =
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_r, &mut u_w);
                    let _ = u_w.shutdown(Shutdown::Write);
                });
                // upstream → client: counted, faulted.
                let (mut u_r, mut c_w) = (upstream, client);
                let (total, conns, stop, tripped) =
                    (total.clone(), conns.clone(), s2.clone(), t2.clone());
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = match u_r.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let before = total.fetch_add(n as u64, Ordering::SeqCst);
                        let after = before + n as u64;
                        match fault {
                            Fault::CorruptAfter(k)
                                if before <= k
                                    && k < after
                                    && !tripped.swap(true, Ordering::SeqCst) =>
                            {
                                let i = (k - before) as usize;
                                buf[i] ^= 0xff;
                            }
                            Fault::DropOnceAfter(k) | Fault::DieAfter(k)
                                if after > k && !tripped.swap(true, Ordering::SeqCst) =>
                            {
                                if matches!(fault, Fault::DieAfter(_)) {
                                    stop.store(true, Ordering::SeqCst);
                                }
                                for c in conns.lock().unwrap().drain(..) {
                                    let _ = c.shutdown(Shutdown::Both);
                                }
                                break;
                            }
                            _ => {}
                        }
                        if c_w.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        if rate > 0 {
                            std::thread::sleep(Duration::from_secs_f64(n as f64 / rate as f64));
                        }
                    }
                    let _ = c_w.shutdown(Shutdown::Write);
                });
            }
        });
        Proxy {
            port,
            stop,
            tripped,
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A fake v1 search API on a free port: answers every request with `body`, and records the
/// request lines it saw.
pub fn search_server(body: String) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = vec![0u8; 8192];
            let n = conn.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            seen2
                .lock()
                .unwrap()
                .push(req.lines().next().unwrap_or("").to_owned());
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, seen)
}
