//! End-to-end registry tests against Debian's `docker-registry` on 127.0.0.1 (started per
//! test with its own storage; htpasswd auth where needed), with skopeo, podman and the docker
//! CLI as peers, and a fault-injecting proxy for dropped, corrupt and dying connections.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "registry/faults.rs"]
mod faults;
#[path = "registry/support.rs"]
mod support;
#[path = "registry/token.rs"]
mod token;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{stderr, stdout, Daemon, BERTH};
use serde_json::Value;
use support::{file_layer, skopeo, Layout, Registry, TempDir};
use token::TokenServer;

/// `berth ARGS…` with its own docker config dir (credentials) and optional stdin bytes.
fn berth(d: &Daemon, cfg: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(BERTH);
    cmd.env("DOCKER_CONFIG", cfg)
        .arg("-H")
        .arg(format!("unix://{}", d.sock.display()))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn ok(d: &Daemon, cfg: &Path, args: &[&str]) -> String {
    let o = berth(d, cfg, args, None);
    assert!(
        o.status.success(),
        "berth {args:?}: {}\n{}\ndaemon log:\n{}",
        stdout(&o),
        stderr(&o),
        d.log()
    );
    stdout(&o)
}

/// Push a busybox image with a `/marker` file (content `marker`) to `reg` as `repo:tag` with
/// skopeo; returns the manifest digest.
fn skopeo_push_busybox(reg: &Registry, work: &Path, repo: &str, tag: &str, marker: &str) -> String {
    let layout = Layout::new(&work.join(format!("oci-{}", repo.replace('/', "-"))));
    let marker_tar = file_layer(work, "marker", marker.as_bytes());
    let m = layout.image(
        &[common::rootfs_tar(), marker_tar],
        host_arch(),
        &["/bin/sh"],
    );
    let digest = m["digest"].as_str().unwrap().to_owned();
    layout.finish(tag, vec![m], false);
    let mut args = vec![
        "copy".to_owned(),
        "-q".into(),
        "--dest-tls-verify=false".into(),
    ];
    args.extend(
        reg.creds()
            .into_iter()
            .map(|c| c.replacen("--creds", "--dest-creds", 1)),
    );
    args.push(format!("oci:{}:{tag}", layout.dir.display()));
    args.push(format!("docker://{}/{repo}:{tag}", reg.host()));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    skopeo(&a);
    digest
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn images_json(d: &Daemon) -> Vec<Value> {
    let raw = d.raw("GET", "/images/json");
    let body = raw.split("\r\n\r\n").nth(1).unwrap_or("[]");
    serde_json::from_str(body.trim()).unwrap_or_default()
}

fn ingest_files(d: &Daemon) -> Vec<PathBuf> {
    fs::read_dir(d.dir.join("data/image/content/ingest"))
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn skopeo_pushes_berth_pulls_runs_and_pins_digests() {
    let work = TempDir::new("pull");
    let reg = Registry::start();
    let digest = skopeo_push_busybox(&reg, &work.0, "test/bb", "v1", "from-skopeo");
    let d = Daemon::start();
    let cfg = work.0.join("cfg");
    let name = format!("{}/test/bb:v1", reg.host());

    let out = ok(&d, &cfg, &["pull", &name]);
    assert!(out.contains("v1: Pulling from test/bb"), "{out}");
    assert!(out.contains("Pull complete"), "{out}");
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {name}")),
        "{out}"
    );
    assert!(out.trim_end().ends_with(&name), "{out}");
    let ran = ok(&d, &cfg, &["run", "--rm", &name, "cat", "/marker"]);
    assert_eq!(ran, "from-skopeo");

    // Again: nothing to download.
    let again = ok(&d, &cfg, &["pull", &name]);
    assert!(again.contains("Already exists"), "{again}");
    assert!(again.contains("Image is up to date"), "{again}");

    // Digest-pinned, quiet: prints just the reference.
    let pinned = format!("{}/test/bb@{digest}", reg.host());
    assert_eq!(ok(&d, &cfg, &["pull", "-q", &pinned]).trim(), pinned);
    let imgs = images_json(&d);
    let digests: Vec<String> = imgs
        .iter()
        .flat_map(|i| i["RepoDigests"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    assert!(digests.contains(&pinned), "{digests:?}");

    // Unknown tag: docker's message, exit 1, nothing new.
    let bad = berth(
        &d,
        &cfg,
        &["pull", &format!("{}/test/bb:nope", reg.host())],
        None,
    );
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("not found"), "{}", stderr(&bad));
    // Unreachable registry.
    let port = support::free_port();
    let down = berth(&d, &cfg, &["pull", &format!("127.0.0.1:{port}/x:1")], None);
    assert_eq!(down.status.code(), Some(1));
    assert!(stderr(&down).contains("unreachable"), "{}", stderr(&down));

    // `run` of a missing image pulls it first, like docker.
    let _second = skopeo_push_busybox(&reg, &work.0, "test/other", "latest", "auto");
    let o = berth(
        &d,
        &cfg,
        &[
            "run",
            "--rm",
            &format!("{}/test/other", reg.host()),
            "cat",
            "/marker",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "auto");
    assert!(
        stderr(&o).contains("Unable to find image"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn login_push_with_htpasswd_then_skopeo_and_podman_pull() {
    let work = TempDir::new("push");
    let reg = Registry::start_with_auth("alice", "s3cret");
    let d = Daemon::start();
    let cfg = work.0.join("cfg");
    let name = format!("{}/team/app:1", reg.host());
    let o = d.berth_with_stdin(&["import", "-", &name], Some(&common::rootfs_tar()));
    assert!(o.status.success(), "{}", stderr(&o));

    // No credentials: refused.
    let o = berth(&d, &cfg, &["push", &name], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).to_lowercase().contains("unauthorized"),
        "{}",
        stderr(&o)
    );
    login_refuses_a_wrong_password_and_stores_the_right_one(&d, &cfg, &reg);

    let out = ok(&d, &cfg, &["push", &name]);
    assert!(
        out.contains(&format!(
            "The push refers to repository [{}/team/app]",
            reg.host()
        )),
        "{out}"
    );
    assert!(out.contains("Pushed"), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("1: digest: sha256:"))
        .expect(&out);
    let pushed = line.split_whitespace().nth(2).unwrap().to_owned();
    // Pushing again: every layer is there already.
    let again = ok(&d, &cfg, &["push", &name]);
    assert!(again.contains("Layer already exists"), "{again}");

    // skopeo sees the same manifest digest.
    let insp = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--creds",
        "alice:s3cret",
        &format!("docker://{name}"),
    ]);
    let v: Value = serde_json::from_slice(&insp.stdout).unwrap();
    assert_eq!(v["Digest"].as_str(), Some(pushed.as_str()));

    podman_pulls(&name);

    // logout forgets the credentials.
    let o = ok(&d, &cfg, &["logout", &reg.host()]);
    assert!(o.contains("Removing login credentials"), "{o}");
    assert!(ok(&d, &cfg, &["logout", &reg.host()]).contains("Not logged in"));
}

fn login_refuses_a_wrong_password_and_stores_the_right_one(d: &Daemon, cfg: &Path, reg: &Registry) {
    // Wrong password: refused, nothing stored.
    let o = berth(
        d,
        cfg,
        &["login", "-u", "alice", "--password-stdin", &reg.host()],
        Some(b"wrong\n"),
    );
    assert_ne!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        !cfg.join("config.json").exists()
            || !fs::read_to_string(cfg.join("config.json"))
                .unwrap()
                .contains(&reg.host())
    );
    // Right password: stored docker-style.
    let o = berth(
        d,
        cfg,
        &["login", "-u", "alice", "--password-stdin", &reg.host()],
        Some(b"s3cret\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("Login Succeeded"));
    let conf: Value = serde_json::from_slice(&fs::read(cfg.join("config.json")).unwrap()).unwrap();
    assert!(conf["auths"][reg.host()]["auth"].is_string(), "{conf}");
}

/// podman pulls what berth pushed (own storage root, vfs: no mounts left behind).
fn podman_pulls(name: &str) {
    let proot = TempDir::new("podman");
    let podman = |args: &[&str]| {
        Command::new("podman")
            .arg("--root")
            .arg(proot.0.join("root"))
            .arg("--runroot")
            .arg(proot.0.join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args)
            .output()
            .unwrap()
    };
    let o = podman(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--creds",
        "alice:s3cret",
        name,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let _ = podman(&["rmi", "-af"]);
}

#[test]
fn pushing_a_pulled_image_mounts_blobs_and_keeps_its_digest() {
    let work = TempDir::new("mount");
    let reg = Registry::start();
    let digest = skopeo_push_busybox(&reg, &work.0, "src/app", "1", "m");
    let d = Daemon::start();
    let cfg = work.0.join("cfg");
    ok(
        &d,
        &cfg,
        &["pull", "-q", &format!("{}/src/app:1", reg.host())],
    );
    let dst = format!("{}/dst/app:2", reg.host());
    ok(
        &d,
        &cfg,
        &["tag", &format!("{}/src/app:1", reg.host()), &dst],
    );
    let out = ok(&d, &cfg, &["push", &dst]);
    assert!(out.contains("Mounted from src/app"), "{out}");
    assert!(out.contains(&format!("2: digest: {digest}")), "{out}");
}

#[test]
fn multi_arch_index_picks_the_host_platform_or_the_asked_one() {
    let work = TempDir::new("multi");
    let reg = Registry::start();
    let layout = Layout::new(&work.0.join("oci"));
    let other = if host_arch() == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let host_m = layout.image(
        &[
            common::rootfs_tar(),
            file_layer(&work.0, "arch", host_arch().as_bytes()),
        ],
        host_arch(),
        &["/bin/sh"],
    );
    let other_m = layout.image(
        &[
            common::rootfs_tar(),
            file_layer(&work.0, "arch", other.as_bytes()),
        ],
        other,
        &["/bin/sh"],
    );
    layout.finish("multi", vec![other_m, host_m], true);
    skopeo(&[
        "copy",
        "-q",
        "--all",
        "--dest-tls-verify=false",
        &format!("oci:{}:multi", layout.dir.display()),
        &format!("docker://{}/arch/img:multi", reg.host()),
    ]);
    let d = Daemon::start();
    let cfg = work.0.join("cfg");
    let name = format!("{}/arch/img:multi", reg.host());
    ok(&d, &cfg, &["pull", &name]);
    assert_eq!(
        ok(&d, &cfg, &["run", "--rm", &name, "cat", "/arch"]),
        host_arch()
    );

    let plat = format!("linux/{other}");
    ok(&d, &cfg, &["pull", "--platform", &plat, &name]);
    let arch = ok(
        &d,
        &cfg,
        &["image", "inspect", "--format", "{{.Architecture}}", &name],
    );
    assert_eq!(arch.trim(), other);
    let o = berth(
        &d,
        &cfg,
        &["pull", "--platform", "linux/s390x", &name],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no matching manifest"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn docker_cli_pulls_through_berthd() {
    let Some(docker) = common::docker_cli() else {
        common::skip("docker CLI not installed");
        return;
    };
    let work = TempDir::new("docker");
    let reg = Registry::start();
    skopeo_push_busybox(&reg, &work.0, "dk/bb", "latest", "docker");
    let d = Daemon::start();
    let name = format!("{}/dk/bb", reg.host());
    let o = d.docker(&docker, &["pull", &name]);
    assert!(o.status.success(), "{}\n{}", stderr(&o), d.log());
    let out = stdout(&o);
    assert!(
        out.contains("Pull complete") && out.contains("Downloaded newer image"),
        "{out}"
    );
    let o = d.docker(&docker, &["pull", &format!("{}/dk/bb:missing", reg.host())]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not found"), "{}", stderr(&o));
    let o = d.docker(&docker, &["run", "--rm", &name, "cat", "/marker"]);
    assert_eq!(stdout(&o), "docker", "{}", stderr(&o));

    // docker push through berthd: the tag gets the same manifest digest (pushed by mount).
    let copy = format!("{}/dk/copy:v2", reg.host());
    let o = d.docker(&docker, &["tag", &name, &copy]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = d.docker(&docker, &["push", &copy]);
    assert!(o.status.success(), "{}\n{}", stderr(&o), d.log());
    assert!(stdout(&o).contains("v2: digest: sha256:"), "{}", stdout(&o));
    let a = skopeo(&["inspect", "--tls-verify=false", &format!("docker://{name}")]);
    let b = skopeo(&["inspect", "--tls-verify=false", &format!("docker://{copy}")]);
    let digest = |o: &Output| serde_json::from_slice::<Value>(&o.stdout).unwrap()["Digest"].clone();
    assert_eq!(digest(&a), digest(&b));
}

#[test]
fn token_auth_login_pull_reuses_per_repository_tokens() {
    let work = TempDir::new("token");
    let tokens = TokenServer::start("alice", "tok3n");
    let reg = Registry::start_with_token(&tokens);
    skopeo_push_busybox(&reg, &work.0, "tok/bb", "1", "via-token");
    let d = Daemon::start();
    let cfg = work.0.join("cfg");
    let name = format!("{}/tok/bb:1", reg.host());

    // Anonymous: the token carries no access, so the registry refuses.
    let o = berth(&d, &cfg, &["pull", &name], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("pull access denied") || stderr(&o).contains("unauthorized"),
        "{}",
        stderr(&o)
    );
    // Wrong password: the token server refuses.
    let o = berth(
        &d,
        &cfg,
        &["login", "-u", "alice", "-p", "nope", &reg.host()],
        None,
    );
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("incorrect username or password"),
        "{}",
        stderr(&o)
    );
    let o = berth(
        &d,
        &cfg,
        &["login", "-u", "alice", "--password-stdin", &reg.host()],
        Some(b"tok3n\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let before = tokens.issued.load(std::sync::atomic::Ordering::SeqCst);
    let out = ok(&d, &cfg, &["pull", &name]);
    assert!(out.contains("Downloaded newer image"), "{out}");
    // One pull: one token for the repository scope, reused for the manifest and every blob.
    let used = tokens.issued.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert_eq!(used, 1, "tokens issued for one pull");
    assert_eq!(
        ok(&d, &cfg, &["run", "--rm", &name, "cat", "/marker"]),
        "via-token"
    );

    // Push to another repository: a pull,push token for it.
    let dst = format!("{}/tok/copy:2", reg.host());
    ok(&d, &cfg, &["tag", &name, &dst]);
    let before = tokens.issued.load(std::sync::atomic::Ordering::SeqCst);
    let out = ok(&d, &cfg, &["push", &dst]);
    assert!(out.contains("Mounted from tok/bb"), "{out}");
    assert!(out.contains("2: digest: sha256:"), "{out}");
    let used = tokens.issued.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert_eq!(
        used, 1,
        "one token (push scope plus the mount source) for the whole push"
    );
}

#[test]
fn search_uses_the_v1_api_of_the_named_registry_with_filters_and_format() {
    let body = serde_json::json!({"num_results": 3, "query": "busy", "results": [
        {"name": "busybox", "description": "Busybox base image.", "star_count": 3500, "is_official": true, "is_automated": false},
        {"name": "someone/busy", "description": "a fork", "star_count": 3, "is_official": false, "is_automated": false},
        {"name": "other/busybox-extra", "description": "more", "star_count": 40, "is_official": false, "is_automated": true},
    ]})
    .to_string();
    let (port, seen) = support::search_server(body);
    let d = Daemon::start();
    let work = TempDir::new("search");
    let cfg = work.0.join("cfg");
    let term = format!("127.0.0.1:{port}/busy");
    let out = ok(&d, &cfg, &["search", "--limit", "5", &term]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("STARS") && lines[0].contains("OFFICIAL"),
        "{out}"
    );
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[1].starts_with("busybox ") && lines[1].contains("3500") && lines[1].contains("[OK]"),
        "{out}"
    );
    let req = seen.lock().unwrap().last().cloned().unwrap();
    assert!(req.starts_with("GET /v1/search?q=busy&n=5 "), "{req}");

    let out = ok(
        &d,
        &cfg,
        &[
            "search",
            "--filter",
            "stars=10",
            "--format",
            "{{.Name}}:{{.StarCount}}",
            &term,
        ],
    );
    assert_eq!(out, "busybox:3500\nother/busybox-extra:40\n");
    let out = ok(
        &d,
        &cfg,
        &[
            "search",
            "-f",
            "is-official=true",
            "--format",
            "{{.Name}}",
            &term,
        ],
    );
    assert_eq!(out, "busybox\n");
    let o = berth(&d, &cfg, &["search", "--limit", "500", &term], None);
    assert_ne!(o.status.code(), Some(0));
}

#[test]
fn docker_hub_names_go_to_the_configured_mirror() {
    let work = TempDir::new("mirror");
    let reg = Registry::start();
    skopeo_push_busybox(&reg, &work.0, "library/busybox", "latest", "mirrored");
    // The daemon's config file (dockerd's daemon.json keys) names the mirror.
    let conf = work.0.join("daemon.json");
    std::fs::write(
        &conf,
        format!(r#"{{"registry-mirrors": ["http://{}"]}}"#, reg.host()),
    )
    .unwrap();
    let d = Daemon::start_with(&["--bridge", "none", "--config-file", conf.to_str().unwrap()]);
    let cfg = work.0.join("cfg");
    let out = ok(&d, &cfg, &["pull", "busybox"]);
    assert!(
        out.contains("latest: Pulling from library/busybox"),
        "{out}"
    );
    assert!(
        out.trim_end().ends_with("docker.io/library/busybox:latest"),
        "{out}"
    );
    assert_eq!(
        ok(&d, &cfg, &["run", "--rm", "busybox", "cat", "/marker"]),
        "mirrored"
    );
}
