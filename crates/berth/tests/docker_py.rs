//! docker-py (Debian's python3-docker) against berthd: `containers.run` in the foreground
//! (output, ContainerError with the exit code) and detached, `logs`, `exec_run` (exit code,
//! demux, tty), `attach_socket`, `list`, `stop`, `wait`, `remove`.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{stderr, stdout, Daemon};

const SCRIPT: &str = r#"import os, sys, time
import docker

c = docker.DockerClient(base_url="unix://" + os.environ["SOCK"], version="auto")
assert c.ping()
out = c.containers.run("busybox", ["sh", "-c", "echo hello; echo err >&2"], remove=True)
assert out == b"hello\n", out
try:
    c.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"], remove=True)
    raise SystemExit("expected a ContainerError")
except docker.errors.ContainerError as e:
    assert e.exit_status == 3, e.exit_status
ct = c.containers.run("busybox", ["sh", "-c", "echo started; exec sleep 100"], detach=True, name="pyweb")
for _ in range(100):
    if ct.logs():
        break
    time.sleep(0.02)
assert ct.logs() == b"started\n", ct.logs()
ct.reload()
assert ct.status == "running", ct.status
r = ct.exec_run(["sh", "-c", "echo ex; exit 3"])
assert (r.exit_code, r.output) == (3, b"ex\n"), r
r = ct.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
assert r.output == (b"out\n", b"err\n"), r
r = ct.exec_run("tty", tty=True)
assert r.exit_code == 0 and r.output.startswith(b"/dev/pts/"), r
sock = ct.attach_socket(params={"stdin": 1, "stream": 1, "stdout": 1})
sock.close()
assert [x.name for x in c.containers.list()] == ["pyweb"]
ct.stop(timeout=1)
ct.reload()
assert ct.status == "exited", ct.status
assert ct.wait()["StatusCode"] == 143 or ct.wait()["StatusCode"] == 137, ct.wait()
ct.remove()
assert c.containers.list(all=True) == []
print("docker-py ok")
"#;

#[test]
fn docker_py_drives_containers() {
    if !common::has_docker_py() {
        common::skip("docker-py (python3-docker) not installed");
        return;
    }
    let d = Daemon::start();
    d.import_busybox();
    let script = d.dir.join("drive.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let o = Command::new("python3")
        .arg(&script)
        .env("SOCK", &d.sock)
        .output()
        .unwrap();
    assert!(
        o.status.success() && stdout(&o) == "docker-py ok\n",
        "{}\n{}\ndaemon log:\n{}",
        stdout(&o),
        stderr(&o),
        d.log()
    );
}
