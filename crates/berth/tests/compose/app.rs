//! The compose tests' project: a directory with the three-service app, its own daemon and
//! subnet, and a guard that takes everything down even when a test fails.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::common::{stderr, stdout, Daemon};

static SEQ: AtomicU32 = AtomicU32::new(0);

pub fn host(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd).args(args).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn links() -> BTreeSet<String> {
    host("ip", &["-o", "link", "show"])
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_owned())
        .collect()
}

/// A loopback port nobody listens on.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A project directory, its daemon and a subnet of its own.
pub struct App {
    d: Option<Daemon>,
    pub dir: tempfile::TempDir,
    pub name: String,
    pub subnet: String,
    pub port: u16,
}

const KV: &str = "#!/bin/sh\nread cmd key value\ncase \"$cmd\" in\n  SET) echo \"$value\" > \"/data/$key\"; echo OK ;;\n  GET) cat \"/data/$key\" 2>/dev/null || echo MISSING ;;\nesac\n";
const CGI: &str =
    "#!/bin/sh\necho 'Content-Type: text/plain'\necho ''\necho 'GET greeting' | nc kv 7000\n";

impl App {
    pub fn new(tag: &str) -> App {
        let pid = std::process::id();
        let seq = SEQ.fetch_add(1, Ordering::SeqCst);
        // 10.A.B.C/26, unique per test process and test (as tests/network.rs picks its own).
        let subnet = format!(
            "10.{}.{}.{}/26",
            ((pid >> 8) & 0x7f) + 128 * (seq & 1),
            pid & 0xff,
            64 * ((seq >> 1) % 4)
        );
        let d = Daemon::start();
        d.import_busybox();
        let dir = tempfile::tempdir().unwrap();
        let app = App {
            d: Some(d),
            dir,
            name: format!("c{tag}{pid:x}{seq}"),
            subnet,
            port: free_port(),
        };
        for (f, text) in [("kv.sh", KV), ("cgi-bin/value", CGI)] {
            let p = app.dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
            Command::new("chmod").arg("755").arg(&p).status().unwrap();
        }
        app.write("compose.yaml", &app.three_services("worker-v1"));
        app
    }

    pub fn d(&self) -> &Daemon {
        self.d.as_ref().unwrap()
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }

    /// The issue's application; `tag` goes into the worker's environment (a change there
    /// must recreate the worker only).
    pub fn three_services(&self, tag: &str) -> String {
        format!(
            r#"services:
  kv:
    image: busybox
    command: ["nc", "-ll", "-p", "7000", "-e", "/kv.sh"]
    volumes:
      - data:/data
      - ./kv.sh:/kv.sh:ro
  seed:
    image: busybox
    command: ["sh", "-c", "echo 'SET seeded yes' | nc kv 7000 | grep -q OK"]
    depends_on: [kv]
  worker:
    image: busybox
    command: ["sh", "-c", "while true; do echo \"SET greeting hello-from-$$(hostname)\" | nc kv 7000 >/dev/null; sleep 0.5; done"]
    environment:
      TAG: {tag}
    depends_on:
      kv:
        condition: service_started
      seed:
        condition: service_completed_successfully
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    ports:
      - "127.0.0.1:{port}:80"
    volumes:
      - ./cgi-bin:/www/cgi-bin:ro
    depends_on: [kv]
volumes:
  data:
networks:
  default:
    ipam:
      config:
        - subnet: {subnet}
"#,
            port = self.port,
            subnet = self.subnet
        )
    }

    pub fn compose(&self, args: &[&str]) -> Output {
        let mut a = vec!["compose", "-p", &self.name, "-f"];
        let file = self.dir.path().join("compose.yaml");
        let file = file.to_str().unwrap();
        a.push(file);
        a.extend_from_slice(args);
        self.d().berth(&a)
    }

    pub fn ok(&self, args: &[&str]) -> (String, String) {
        let o = self.compose(args);
        assert!(
            o.status.success(),
            "compose {args:?}: {}\n{}\n{}",
            stdout(&o),
            stderr(&o),
            self.d().log()
        );
        (stdout(&o), stderr(&o))
    }

    /// `name -> id` of the project's containers.
    pub fn ids(&self) -> Vec<(String, String)> {
        let out = self.d().ok(&[
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.name),
            "--format",
            "{{.Names}} {{.ID}}",
        ]);
        let mut v: Vec<(String, String)> = out
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect();
        v.sort();
        v
    }

    pub fn curl(&self, path: &str) -> String {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let o = Command::new("curl")
            .args(["-s", "--max-time", "3", &url])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    }

    pub fn network_bridge(&self) -> String {
        let id = self.d().ok(&[
            "network",
            "inspect",
            "--format",
            "{{.Id}}",
            &format!("{}_default", self.name),
        ]);
        format!("br-{}", &id.trim()[..12])
    }
}

impl Drop for App {
    /// Even on failure: down -v through the daemon, a graceful stop (it removes its bridges
    /// and table), then the harness's guard.
    fn drop(&mut self) {
        if let Some(mut d) = self.d.take() {
            let f = self.dir.path().join("compose.yaml");
            let _ = d.berth(&[
                "compose",
                "-p",
                &self.name,
                "-f",
                f.to_str().unwrap(),
                "down",
                "-v",
                "--remove-orphans",
                "-t",
                "1",
            ]);
            let nets = stdout(&d.berth(&["network", "ls", "-q", "--no-trunc"]));
            for n in nets.lines() {
                let _ = d.berth(&["network", "rm", n]);
                let _ = Command::new("ip")
                    .args(["link", "del", &format!("br-{}", &n[..12.min(n.len())])])
                    .stderr(std::process::Stdio::null())
                    .status();
            }
            d.terminate();
        }
    }
}

pub fn mounts_under(dir: &Path) -> usize {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let d = dir.display().to_string();
    text.lines().filter(|l| l.contains(&d)).count()
}
