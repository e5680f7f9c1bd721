//! A remote berthd: the API on `tcp://127.0.0.1:PORT` with mutual TLS (berth, the docker CLIs
//! 28 and 20.10, docker-py), refused clients and wrong ports with clear errors on both sides,
//! `-H ssh://` through a throw-away sshd and `berth system dial-stdio`, and contexts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "pty/mod.rs"]
mod pty;
#[path = "remote/setup.rs"]
mod setup;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{stderr, stdout, Daemon};
use pty::OnPty;
use setup::{free_port, run_bounded, Ca, Sshd, TlsDaemon};

fn assert_ok(o: &Output, what: &str, log: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: {}\n{}\ndaemon log:\n{log}",
        o.status,
        stderr(o)
    );
    stdout(o)
}

/// A build context whose image proves the RUN step ran.
fn build_context(dir: &Path) -> String {
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo built > /built\n",
    )
    .unwrap();
    ctx.to_str().unwrap().to_owned()
}

#[test]
fn berth_runs_the_tutorial_over_mutual_tls() {
    let t = TlsDaemon::start();
    t.d.import_busybox();
    assert!(t.ok(&["version"]).contains("API version:      1.45"));
    t.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "busybox",
        "sh",
        "-c",
        "echo started; exec sleep 1000",
    ]);
    assert_eq!(t.ok(&["exec", "web", "echo", "in-exec"]), "in-exec\n");
    // Hijacked exec with stdin over TLS: the half-close reaches cat.
    let o = t.berth_env(&t.certs, &["exec", "-i", "web", "cat"], Some("typed\n"));
    assert_eq!(assert_ok(&o, "exec -i", &t.d.log()), "typed\n");
    let o = t.berth_env(
        &t.certs,
        &["run", "-i", "--rm", "busybox", "cat"],
        Some("piped\n"),
    );
    assert_eq!(assert_ok(&o, "run -i", &t.d.log()), "piped\n");
    common::wait_until("logs", Duration::from_secs(10), || {
        t.ok(&["logs", "web"]) == "started\n"
    });
    // A long stream: logs -f follows until the container ends.
    let script = "for i in 1 2 3; do echo line$i; sleep 0.3; done";
    t.ok(&[
        "run", "-d", "--name", "lines", "busybox", "sh", "-c", script,
    ]);
    assert_eq!(t.ok(&["logs", "-f", "lines"]), "line1\nline2\nline3\n");
    // Attach: the container speaks after we are attached.
    let later = "sleep 2; echo attached-out";
    t.ok(&["run", "-d", "--name", "att", "busybox", "sh", "-c", later]);
    assert_eq!(t.ok(&["attach", "--no-stdin", "att"]), "attached-out\n");
    // cp both ways.
    let local = t.d.dir.join("up.txt");
    std::fs::write(&local, "copied up\n").unwrap();
    t.ok(&["cp", local.to_str().unwrap(), "web:/tmp/up.txt"]);
    assert_eq!(t.ok(&["exec", "web", "cat", "/tmp/up.txt"]), "copied up\n");
    let down = t.d.dir.join("down.txt");
    t.ok(&["cp", "web:/tmp/up.txt", down.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&down).unwrap(), "copied up\n");
    // build: the context goes up the TLS connection.
    t.ok(&["build", "-t", "remote:1", &build_context(&t.d.dir)]);
    assert_eq!(
        t.ok(&["run", "--rm", "remote:1", "cat", "/built"]),
        "built\n"
    );
    let o = t.berth(&["run", "--rm", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}

/// `exec -it` and `run -it` on a terminal, then a detach (ctrl-p ctrl-q), through `cmd`
/// (a CLI already pointed at a remote daemon).
fn terminal_session(cmd: impl Fn() -> Command, container: &str) {
    let mut c = cmd();
    c.args(["exec", "-it", container, "sh"]);
    let mut p = OnPty::spawn(c);
    p.send(b"echo $((6*7))x\n");
    p.expect("42x");
    p.send(b"exit 7\n");
    assert_eq!(p.exit_code(), Some(7), "{}", p.text());
    let mut c = cmd();
    c.args(["run", "-it", "--name", "tty1", "busybox", "sh"]);
    let mut p = OnPty::spawn(c);
    p.send(b"echo in-$((1+1))\n");
    p.expect("in-2");
    // Detach: the CLI closes its side of the connection (TLS: close_notify, then the socket;
    // ssh: the ssh process) and returns; the container keeps running.
    p.send(b"\x10\x11");
    assert_eq!(p.exit_code(), Some(0), "{}", p.text());
    let mut c = cmd();
    c.args(["inspect", "--format", "{{.State.Running}}", "tty1"]);
    let o = run_bounded(c, None);
    assert_eq!(stdout(&o), "true\n", "{}", stderr(&o));
}

#[test]
fn terminals_work_over_tls() {
    let t = TlsDaemon::start();
    t.d.import_busybox();
    t.ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    terminal_session(
        || {
            let mut cmd = Command::new(common::BERTH);
            cmd.env("DOCKER_HOST", t.host())
                .env("DOCKER_TLS_VERIFY", "1")
                .env("DOCKER_CERT_PATH", &t.certs)
                .env("BERTH_CONFIG", t.d.dir.join("cfg"));
            cmd
        },
        "box",
    );
}

/// The docker CLI at `docker` against the TLS daemon, configured by docker's variables.
fn docker_tls(t: &TlsDaemon, docker: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(docker);
    cmd.env("DOCKER_CONFIG", t.d.dir.join("docker-config"))
        .env("DOCKER_HOST", t.host())
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &t.certs)
        .env("DOCKER_BUILDKIT", "0")
        .args(args);
    run_bounded(cmd, stdin)
}

fn docker_tutorial(t: &TlsDaemon, docker: &Path, tag: &str) {
    let log = || t.d.log();
    let run = |args: &[&str], stdin: Option<&str>| {
        let o = docker_tls(t, docker, args, stdin);
        assert_ok(&o, &format!("{} {args:?}", docker.display()), &log())
    };
    let name = format!("dk{tag}");
    run(
        &[
            "run",
            "-d",
            "--name",
            &name,
            "busybox",
            "sh",
            "-c",
            "echo hello; exec sleep 1000",
        ],
        None,
    );
    assert_eq!(run(&["exec", &name, "echo", "x"], None), "x\n");
    assert_eq!(run(&["exec", "-i", &name, "cat"], Some("in\n")), "in\n");
    common::wait_until("docker logs", Duration::from_secs(10), || {
        run(&["logs", &name], None) == "hello\n"
    });
    let local = t.d.dir.join(format!("dk{tag}.txt"));
    std::fs::write(&local, "dk\n").unwrap();
    run(
        &["cp", local.to_str().unwrap(), &format!("{name}:/tmp/f")],
        None,
    );
    assert_eq!(run(&["exec", &name, "cat", "/tmp/f"], None), "dk\n");
    let image = format!("dkbuild:{tag}");
    let ctx = t.d.dir.join(format!("dkctx{tag}"));
    run(&["build", "-q", "-t", &image, &build_context(&ctx)], None);
    assert_eq!(
        run(&["run", "--rm", &image, "cat", "/built"], None),
        "built\n"
    );
    assert_eq!(
        run(&["run", "-i", "--rm", "busybox", "cat"], Some("attached\n")),
        "attached\n"
    );
}

const DOCKER_PY: &str = r#"
import os, io, tarfile, docker
tls = docker.tls.TLSConfig(client_cert=(os.environ["CERTS"] + "/cert.pem", os.environ["CERTS"] + "/key.pem"),
                           ca_cert=os.environ["CERTS"] + "/ca.pem", verify=True)
c = docker.DockerClient(base_url="https://127.0.0.1:" + os.environ["PORT"], tls=tls, version="auto")
ct = c.containers.run("busybox", ["sh", "-c", "echo py-hello; exec sleep 1000"], detach=True, name="py")
r = ct.exec_run(["echo", "py-exec"])
assert r.exit_code == 0 and r.output == b"py-exec\n", r
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as tf:
    data = b"py-cp\n"
    info = tarfile.TarInfo("py.txt"); info.size = len(data); tf.addfile(info, io.BytesIO(data))
assert ct.put_archive("/tmp", buf.getvalue())
assert ct.exec_run(["cat", "/tmp/py.txt"]).output == b"py-cp\n"
import time
for _ in range(100):
    if ct.logs() == b"py-hello\n": break
    time.sleep(0.05)
assert ct.logs() == b"py-hello\n", ct.logs()
img, _ = c.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN echo py-built > /b\n"), tag="pyimg:1")
assert c.containers.run("pyimg:1", ["cat", "/b"], remove=True) == b"py-built\n"
ct.remove(force=True)
print("docker-py ok")
"#;

#[test]
fn docker_clis_and_docker_py_over_mutual_tls() {
    let t = TlsDaemon::start();
    t.d.import_busybox();
    match common::docker_cli().filter(|p| p.starts_with("/usr/local")) {
        Some(docker28) => docker_tutorial(&t, &docker28, "28"),
        None => common::skip("docker 28 CLI not installed"),
    }
    let docker20 = Path::new("/usr/bin/docker");
    match docker20.exists() {
        true => docker_tutorial(&t, docker20, "20"),
        false => common::skip("docker.io's 20.10 CLI not installed"),
    }
    if !common::has_docker_py() {
        common::skip("python3-docker not installed");
        return;
    }
    let mut cmd = Command::new("python3");
    cmd.args(["-c", DOCKER_PY])
        // requests lets these variables override the CA docker-py passes (psf/requests#3829).
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .env("CERTS", &t.certs)
        .env("PORT", t.port.to_string());
    let o = run_bounded(cmd, None);
    assert_eq!(assert_ok(&o, "docker-py", &t.d.log()), "docker-py ok\n");
}

#[test]
fn refused_clients_and_wrong_ports_get_clear_errors_on_both_sides() {
    let t = TlsDaemon::start();
    let refused = |certs: &Path, daemon_says: &str| {
        let o = t.berth_env(certs, &["ps"], None);
        assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("the daemon did not accept this client's certificate"),
            "{}",
            stderr(&o)
        );
        common::wait_until(daemon_says, Duration::from_secs(10), || {
            t.d.log().contains(daemon_says)
        });
    };
    // No client certificate: only the CA in the cert path.
    let bare = t.d.dir.join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::copy(t.certs.join("ca.pem"), bare.join("ca.pem")).unwrap();
    refused(&bare, "peer sent no certificates");
    // A certificate from another CA (trusting the right server CA).
    let other = Ca::new("b").client_dir(&t.d.dir.join("other"), false);
    std::fs::copy(t.certs.join("ca.pem"), other.join("ca.pem")).unwrap();
    refused(&other, "invalid peer certificate: UnknownIssuer");
    // An expired certificate from the right CA.
    let expired = t.ca.client_dir(&t.d.dir.join("expired"), true);
    refused(&expired, "invalid peer certificate: certificate expired");
    // Plain HTTP to the TLS port: dockerd's answer, and a line in the log.
    let mut cmd = Command::new(common::BERTH);
    cmd.args(["-H", &t.host(), "ps"])
        .env("BERTH_CONFIG", t.d.dir.join("cfg"));
    let o = run_bounded(cmd, None);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("Client sent an HTTP request to an HTTPS server"),
        "{}",
        stderr(&o)
    );
    assert!(t.d.log().contains("plain HTTP from 127.0.0.1"));
    // The docker CLI without a certificate is refused as well.
    if let Some(docker) = common::docker_cli() {
        let mut cmd = Command::new(docker);
        cmd.env("DOCKER_CONFIG", t.d.dir.join("docker-config"))
            .env("DOCKER_HOST", t.host())
            .env("DOCKER_TLS_VERIFY", "1")
            .env("DOCKER_CERT_PATH", &bare)
            .arg("ps");
        let o = run_bounded(cmd, None);
        assert!(!o.status.success() && !stderr(&o).is_empty());
    }
    // A client that connects and says nothing holds nobody up.
    let _silent = std::net::TcpStream::connect(("127.0.0.1", t.port)).unwrap();
    t.ok(&["ps"]);
}

#[test]
fn tls_to_a_plain_port_and_plain_tcp_without_consent_are_refused() {
    let port = free_port();
    let host = format!("tcp://127.0.0.1:{port}");
    let d = Daemon::start_with(&["--bridge", "none", "-H", &host, "--tls=false"]);
    assert!(d.log().contains("plain HTTP WITHOUT TLS"), "{}", d.log());
    let certs = Ca::new("c").client_dir(&d.dir.join("certs"), false);
    let mut cmd = Command::new(common::BERTH);
    cmd.args(["--tlsverify", "-H", &host, "ps"])
        .env("DOCKER_CERT_PATH", &certs)
        .env("BERTH_CONFIG", d.dir.join("cfg"));
    let o = run_bounded(cmd, None);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("is the daemon serving plain HTTP?"),
        "{}",
        stderr(&o)
    );
    common::wait_until("daemon log", Duration::from_secs(10), || {
        d.log().contains("a TLS client (127.0.0.1")
    });
    let mut cmd = Command::new(common::BERTH);
    cmd.args(["-H", &host, "ps"])
        .env("BERTH_CONFIG", d.dir.join("cfg"));
    assert_ok(&run_bounded(cmd, None), "plain ps", &d.log());
    // berthd itself: TCP without TLS needs --tls=false, and then only on loopback.
    let berthd = |args: &[&str]| {
        let mut cmd = Command::new(common::bin_dir().join("berthd"));
        cmd.arg("--data-root")
            .arg(d.dir.join("d2"))
            .arg("--exec-root")
            .arg(d.dir.join("e2"))
            .args(["--bridge", "none"])
            .args(args);
        run_bounded(cmd, None)
    };
    let o = berthd(&["-H", &format!("tcp://127.0.0.1:{}", free_port())]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("without TLS"), "{}", stderr(&o));
    let o = berthd(&[
        "-H",
        &format!("tcp://0.0.0.0:{}", free_port()),
        "--tls=false",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("only a loopback address"),
        "{}",
        stderr(&o)
    );
    assert!(
        !d.dir.join("d2").exists(),
        "a refused start must leave nothing behind"
    );
}

#[test]
fn ssh_carries_berth_and_the_docker_cli_through_dial_stdio() {
    let d = Daemon::start();
    d.import_busybox();
    let Some(sshd) = Sshd::start(&d.dir, &d.sock) else {
        common::skip("openssh-server (/usr/sbin/sshd) not installed");
        return;
    };
    let url = sshd.url();
    let log = || format!("{}\nsshd log:\n{}", d.log(), sshd.log());
    let berth = |args: &[&str], stdin: Option<&str>| {
        let mut cmd = Command::new(common::BERTH);
        cmd.env("PATH", sshd.path())
            .env("BERTH_CONFIG", d.dir.join("cfg"))
            .env_remove("BERTH_HOST")
            .args(["-H", &url])
            .args(args);
        assert_ok(&run_bounded(cmd, stdin), &format!("berth {args:?}"), &log())
    };
    assert_eq!(
        berth(&["run", "--rm", "busybox", "echo", "via-ssh"], None),
        "via-ssh\n"
    );
    assert_eq!(
        berth(&["run", "-i", "--rm", "busybox", "cat"], Some("ssh-in\n")),
        "ssh-in\n"
    );
    berth(
        &[
            "run",
            "-d",
            "--name",
            "s1",
            "busybox",
            "sh",
            "-c",
            "echo s1; exec sleep 1000",
        ],
        None,
    );
    assert_eq!(
        berth(&["exec", "s1", "echo", "ssh-exec"], None),
        "ssh-exec\n"
    );
    // The container is the one the local socket sees: same daemon.
    assert!(d.ok(&["ps"]).contains(" s1\n"));
    terminal_session(
        || {
            let mut cmd = Command::new(common::BERTH);
            cmd.env("PATH", sshd.path())
                .env("BERTH_CONFIG", d.dir.join("cfg"))
                .env_remove("BERTH_HOST")
                .args(["-H", &url]);
            cmd
        },
        "s1",
    );
    let Some(docker) = common::docker_cli() else {
        common::skip("docker CLI not installed");
        return;
    };
    // docker runs `docker system dial-stdio` remotely: there `docker` is the berth CLI. Both
    // docker CLIs (28 and Debian's 20.10) when present.
    let docker20 = Path::new("/usr/bin/docker");
    for cli in [
        Some(docker.as_path()),
        Some(docker20).filter(|p| p.exists()),
    ]
    .into_iter()
    .flatten()
    {
        let mut cmd = Command::new(cli);
        cmd.env("PATH", sshd.path())
            .env("DOCKER_CONFIG", d.dir.join("docker-config"))
            .env("DOCKER_HOST", &url)
            .args(["run", "--rm", "busybox", "echo", "docker-via-ssh"]);
        let o = run_bounded(cmd, None);
        let what = format!("{} over ssh", cli.display());
        assert_eq!(assert_ok(&o, &what, &log()), "docker-via-ssh\n");
    }
}

#[test]
fn contexts_store_endpoints_and_switch_between_them() {
    let t = TlsDaemon::start();
    let cfg = t.d.dir.join("ctx-config");
    let berth = |args: &[&str]| {
        let mut cmd = Command::new(common::BERTH);
        cmd.env("BERTH_CONFIG", &cfg)
            .env_remove("BERTH_HOST")
            .args(args);
        run_bounded(cmd, None)
    };
    let ok = |args: &[&str]| assert_ok(&berth(args), &format!("berth {args:?}"), &t.d.log());
    let f = |n: &str| t.certs.join(n).to_str().unwrap().to_owned();
    let spec = format!(
        "host={},ca={},cert={},key={}",
        t.host(),
        f("ca.pem"),
        f("cert.pem"),
        f("key.pem")
    );
    // A missing file: an error, and no half-made context.
    let bad = format!("host={},ca=/nonexistent/ca.pem", t.host());
    let o = berth(&["context", "create", "broken", "--docker", &bad]);
    assert!(!o.status.success() && stderr(&o).contains("/nonexistent/ca.pem"));
    assert!(!ok(&["context", "ls", "-q"]).contains("broken"));
    ok(&[
        "context",
        "create",
        "remote",
        "--description",
        "the TLS one",
        "--docker",
        &spec,
    ]);
    let o = berth(&["context", "create", "remote", "--docker", &spec]);
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    // docker's layout: meta.json under sha256(name), the TLS files beside.
    let id = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"remote"));
    assert!(cfg
        .join("contexts/meta")
        .join(&id)
        .join("meta.json")
        .exists());
    assert!(cfg
        .join("contexts/tls")
        .join(&id)
        .join("docker/key.pem")
        .exists());
    let ls = ok(&["context", "ls"]);
    assert!(ls.contains("default *"), "{ls}");
    assert!(
        ls.lines()
            .any(|l| l.starts_with("remote ") && l.contains("the TLS one")),
        "{ls}"
    );
    let inspect: serde_json::Value =
        serde_json::from_str(&ok(&["context", "inspect", "remote"])).unwrap();
    assert_eq!(inspect[0]["Endpoints"]["docker"]["Host"], t.host());
    ok(&["context", "use", "remote"]);
    assert!(ok(&["context", "ls"]).contains("remote *"));
    // No -H, no BERTH_HOST: the current context's TLS endpoint is the test daemon.
    t.d.import_busybox();
    ok(&["run", "-d", "--name", "viactx", "busybox", "sleep", "1000"]);
    assert!(t.d.ok(&["ps"]).contains(" viactx\n"));
    let o = berth(&["context", "rm", "remote"]);
    assert!(stderr(&o).contains("is in use"), "{}", stderr(&o));
    ok(&["context", "rm", "-f", "remote"]);
    assert_eq!(ok(&["context", "ls", "-q"]), "default\n");
    assert!(!cfg.join("contexts/meta").join(&id).exists());
    assert!(!cfg.join("contexts/tls").join(&id).exists());
}

#[test]
fn the_certificate_script_sets_up_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/tls-certs.sh");
    let o = run_bounded(
        {
            let mut c = Command::new("bash");
            c.arg(script).arg(&certs).args(["localhost", "127.0.0.1"]);
            c
        },
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let port = free_port();
    let host = format!("tcp://127.0.0.1:{port}");
    let f = |n: &str| certs.join(n).to_str().unwrap().to_owned();
    let d = Daemon::start_with(&[
        "--bridge",
        "none",
        "-H",
        &host,
        "--tlsverify",
        "--tlscacert",
        &f("ca.pem"),
        "--tlscert",
        &f("server-cert.pem"),
        "--tlskey",
        &f("server-key.pem"),
    ]);
    // The client's set is ca.pem, cert.pem, key.pem: DOCKER_CERT_PATH as made.
    let mut cmd = Command::new(common::BERTH);
    cmd.env("DOCKER_CERT_PATH", &certs)
        .env("BERTH_CONFIG", d.dir.join("cfg"))
        .args(["--tlsverify", "-H", &host, "version"]);
    let out = assert_ok(&run_bounded(cmd, None), "version", &d.log());
    assert!(out.contains("Server: Berth Engine"), "{out}");
}
