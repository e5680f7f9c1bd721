//! Interop: podman drives berth-runtime as its OCI runtime (`--runtime`), as users would.
//! Uses `--network none` so the test touches no host networking. Skipped (with a note) only where
//! podman is not installed; CI installs it.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output};

use common::*;

/// Podman needs rlimits this VM allows (its defaults ask for more than the host's hard limits).
const ULIMITS: [&str; 4] = [
    "--ulimit",
    "nofile=20000:20000",
    "--ulimit",
    "nproc=32768:32768",
];

struct Podman {
    image: String,
    names: Vec<String>,
}

impl Podman {
    fn new() -> Option<Podman> {
        if Command::new("podman").arg("--version").output().is_err() {
            common::skip("podman not installed");
            return None;
        }
        let rootfs = tempfile::tempdir().unwrap();
        build_rootfs(rootfs.path());
        let image = format!("localhost/berth-test-{}", unique_id("img").to_lowercase());
        let tar = Command::new("tar")
            .arg("-C")
            .arg(rootfs.path())
            .args(["-cf", "-", "."])
            .output()
            .unwrap();
        let mut imp = Command::new("podman")
            .args(["import", "-", &image])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::io::Write::write_all(imp.stdin.as_mut().unwrap(), &tar.stdout).unwrap();
        drop(imp.stdin.take());
        assert!(imp.wait().unwrap().success());
        Some(Podman {
            image,
            names: vec![],
        })
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut c = Command::new("podman");
        c.args(["--runtime", BIN]).args(args);
        c.output().unwrap()
    }

    fn name(&mut self) -> String {
        let n = unique_id("pod");
        self.names.push(n.clone());
        n
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = self.run(&["rm", "-f", "-t", "0", n]);
        }
        let _ = Command::new("podman")
            .args(["rmi", "-f", &self.image])
            .output();
    }
}

#[test]
fn podman_runs_containers_through_berth_runtime() {
    let Some(mut p) = Podman::new() else { return };
    let img = p.image.clone();
    let mut args = vec!["run", "--rm", "--network", "none"];
    args.extend(ULIMITS);
    args.extend([img.as_str(), "sh", "-c", "echo ok; exit 4"]);
    let out = p.run(&args);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(4));

    // --memory reaches the cgroup.
    let mut args = vec!["run", "--rm", "--network", "none", "--memory", "64m"];
    args.extend(ULIMITS);
    args.extend([img.as_str(), "sh", "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max"]);
    assert_eq!(ok(&p.run(&args)).trim(), "67108864");

    // -it through a real terminal (script allocates the pty).
    let cmd = format!(
        "podman --runtime {BIN} run --rm -it --network none {} {img} sh -c 'tty; sleep 0.3; exit 5'",
        ULIMITS.join(" ")
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("/dev/pts/0"));
    assert_eq!(out.status.code(), Some(5));

    // exec, pause/unpause, stop.
    let name = p.name();
    let mut args = vec!["run", "-d", "--network", "none", "--name", name.as_str()];
    args.extend(ULIMITS);
    args.extend([img.as_str(), "sleep", "1000"]);
    ok(&p.run(&args));
    assert_eq!(
        ok(&p.run(&["exec", &name, "sh", "-c", "echo exec-ok"])).trim(),
        "exec-ok"
    );
    ok(&p.run(&["pause", &name]));
    assert_eq!(
        ok(&p.run(&["inspect", "-f", "{{.State.Status}}", &name])).trim(),
        "paused"
    );
    ok(&p.run(&["unpause", &name]));
    assert_eq!(
        ok(&p.run(&["inspect", "-f", "{{.State.Status}}", &name])).trim(),
        "running"
    );
    ok(&p.run(&["stop", "-t", "1", &name]));
    assert_eq!(
        ok(&p.run(&["inspect", "-f", "{{.State.Status}}", &name])).trim(),
        "exited"
    );
}
