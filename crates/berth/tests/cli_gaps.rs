//! Issue 22's smaller items against the docker 28 CLI on the same berthd: API version bounds,
//! docker's reference grammar errors, `run -a`, and exit codes 126/127.
#![allow(clippy::unwrap_used)]

mod common;

use common::{docker_cli, stderr, Daemon};

#[test]
fn api_versions_out_of_range_are_refused_as_dockerd_does() {
    let d = Daemon::start();
    let r = d.raw("GET", "/v1.99/version");
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    assert!(
        r.contains(
            r#"{"message":"client version 1.99 is too new. Maximum supported API version is 1.45"}"#
        ),
        "{r}"
    );
    let r = d.raw("GET", "/v1.12/containers/json");
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    assert!(
        r.contains("client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"),
        "{r}"
    );
    for ok in ["/v1.45/version", "/v1.24/version", "/version"] {
        let r = d.raw("GET", ok);
        assert!(r.starts_with("HTTP/1.1 200"), "{ok}: {r}");
    }
    let Some(docker) = docker_cli() else {
        common::skip("docker CLI not installed");
        return;
    };
    let o = std::process::Command::new(&docker)
        .env("DOCKER_API_VERSION", "1.99")
        .env("DOCKER_CONFIG", d.dir.join("docker-config"))
        .args(["-H", &format!("unix://{}", d.sock.display()), "ps"])
        .output()
        .unwrap();
    assert!(
        stderr(&o)
            .contains("client version 1.99 is too new. Maximum supported API version is 1.45"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_references_fail_with_dockers_words() {
    let Some(docker) = docker_cli() else {
        common::skip("docker CLI not installed");
        return;
    };
    let d = Daemon::start();
    d.import_busybox();
    let long = format!("a/{}", "b".repeat(260));
    for r in [
        "UPPER",
        "localhost:5000/Up",
        "a//b",
        "busybox:Bad@",
        "busybox@sha256:abc",
        "a..b",
        ":tag",
        long.as_str(),
    ] {
        for cmd in [&["pull", r][..], &["create", r][..]] {
            let k = d.docker(&docker, cmd);
            let b = d.berth(cmd);
            let want = stderr(&k)
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("docker: ")
                .trim_end_matches('.')
                .to_owned();
            assert!(!k.status.success() && !b.status.success(), "{cmd:?}");
            assert!(
                want.contains("invalid reference format") || want.contains("repository name"),
                "{cmd:?}: docker said {want:?}"
            );
            assert!(
                stderr(&b).contains(&want),
                "{cmd:?}: docker said {want:?}, berth said {:?}",
                stderr(&b)
            );
            assert_eq!(b.status.code(), k.status.code(), "{cmd:?}");
        }
    }
}

/// (stdout, stderr, exit code) of a command.
fn streams(o: &std::process::Output) -> (String, String, Option<i32>) {
    (common::stdout(o), stderr(o), o.status.code())
}

#[test]
fn run_attach_picks_streams_as_docker_does() {
    let Some(docker) = docker_cli() else {
        common::skip("docker CLI not installed");
        return;
    };
    let d = Daemon::start();
    d.import_busybox();
    let script = "echo out; echo err >&2; exit 3";
    for a in [
        &["-a", "stdout"][..],
        &["-a", "stderr"],
        &["--attach", "STDERR"],
        &["-a", "stdout", "-a", "stderr"],
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(a);
        args.extend(["busybox", "sh", "-c", script]);
        let b = streams(&d.berth(&args));
        let k = streams(&d.docker(&docker, &args));
        assert_eq!(b, k, "{a:?}");
        assert_eq!(b.2, Some(3), "{a:?}");
    }
    let b = d.berth(&["run", "-d", "-a", "stdout", "busybox", "true"]);
    let k = d.docker(&docker, &["run", "-d", "-a", "stdout", "busybox", "true"]);
    assert_eq!(b.status.code(), k.status.code());
    assert!(stderr(&b).contains("conflicting options: cannot specify both --attach and --detach"));
    let b = d.berth(&["run", "-a", "foo", "busybox", "true"]);
    assert_eq!(b.status.code(), Some(125));
    assert!(stderr(&b).contains("valid streams are STDIN, STDOUT and STDERR"));
}

#[test]
fn exit_codes_126_and_127_as_docker() {
    let Some(docker) = docker_cli() else {
        common::skip("docker CLI not installed");
        return;
    };
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    for (cmd, code, msg) in [
        (
            &["run", "--rm", "busybox", "/etc/passwd"][..],
            126,
            "exec: \"/etc/passwd\": permission denied",
        ),
        (
            &["run", "--rm", "busybox", "/etc"],
            126,
            "exec: \"/etc\": is a directory",
        ),
        (
            &["run", "--rm", "busybox", "/nonexist"],
            127,
            "no such file or directory",
        ),
        (
            &["run", "--rm", "busybox", "nonexist"],
            127,
            "executable file not found in $PATH",
        ),
        (
            &["exec", "box", "/etc/passwd"],
            126,
            "exec: \"/etc/passwd\": permission denied",
        ),
        (
            &["exec", "box", "/nonexist"],
            127,
            "no such file or directory",
        ),
    ] {
        let b = d.berth(cmd);
        let k = d.docker(&docker, cmd);
        assert_eq!(b.status.code(), Some(code), "{cmd:?}: {}", stderr(&b));
        assert_eq!(k.status.code(), Some(code), "{cmd:?}: {}", stderr(&k));
        assert!(stderr(&b).contains(msg), "{cmd:?}: {}", stderr(&b));
    }
}

#[test]
fn system_df_reclaims_only_what_is_unused_as_docker() {
    let Some(docker) = docker_cli() else {
        common::skip("docker CLI not installed");
        return;
    };
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&["volume", "create", "used"]);
    d.ok(&["volume", "create", "spare"]);
    d.ok(&[
        "run",
        "--name",
        "stopped",
        "busybox",
        "sh",
        "-c",
        "echo data > /f",
    ]);
    d.ok(&[
        "run", "-d", "--name", "up", "-v", "used:/d", "busybox", "sleep", "1000",
    ]);
    let summary = d.ok(&["system", "df"]);
    // The image is used (by a running and a stopped container): nothing of it is reclaimable;
    // the running container is not, the stopped one's layer is.
    let line = |name: &str| {
        summary
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(line("Images")[1..3], ["1", "1"], "{summary}");
    assert_eq!(line("Images")[4..], ["0B", "(0%)"], "{summary}");
    assert_eq!(line("Containers")[1..3], ["2", "1"], "{summary}");
    assert_eq!(line("Containers")[5], "(100%)", "{summary}");
    assert_eq!(line("Local Volumes")[2..4], ["2", "1"], "{summary}");
    for args in [
        &["system", "df"][..],
        &["system", "df", "-v"],
        &["system", "df", "--format", "{{json .}}"],
        &[
            "system",
            "df",
            "--format",
            "table {{.Type}}\\t{{.Reclaimable}}",
        ],
    ] {
        let mut last = None;
        for _ in 0..3 {
            let b = streams(&d.berth(args));
            let k = streams(&d.docker(&docker, args));
            if b == k {
                last = None;
                break;
            }
            last = Some((b, k));
        }
        assert_eq!(last, None, "{args:?}");
    }
    d.ok(&["rm", "-f", "up", "stopped"]);
    let summary = d.ok(&["system", "df"]);
    assert!(
        summary
            .lines()
            .any(|l| l.starts_with("Images") && l.ends_with("(100%)")),
        "{summary}"
    );
}

#[test]
fn management_commands_version_info_formats_and_completion() {
    let Some(docker) = docker_cli() else {
        common::skip("docker CLI not installed");
        return;
    };
    let d = Daemon::start();
    d.import_busybox();
    // docker's `container` management commands and aliases.
    d.ok(&[
        "container",
        "run",
        "-d",
        "--name",
        "mgmt",
        "busybox",
        "sleep",
        "1000",
    ]);
    for (args, want) in [
        (&["container", "ls", "--format", "{{.Names}}"][..], "mgmt\n"),
        (
            &["container", "list", "-a", "--format", "{{.Names}}"],
            "mgmt\n",
        ),
        (&["container", "ps", "--format", "{{.Names}}"], "mgmt\n"),
        (
            &["container", "inspect", "-f", "{{.Name}}", "mgmt"],
            "/mgmt\n",
        ),
    ] {
        assert_eq!(d.ok(args), want, "{args:?}");
    }
    let top = d.ok(&["container", "top", "mgmt", "-o", "pid,comm"]);
    assert!(
        top.lines().nth(1).is_some_and(|l| l.ends_with("sleep")),
        "{top}"
    );
    d.ok(&["container", "remove", "-f", "mgmt"]);
    assert_eq!(d.ok(&["container", "ls", "-a", "-q"]), "");

    // version and info --format, as the docker CLI renders them.
    for args in [
        &[
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.Os}}/{{.Server.Arch}}",
        ][..],
        &[
            "info",
            "--format",
            "{{.ServerVersion}} {{.Containers}} {{.Driver}} {{json .Plugins.Volume}}",
        ],
        &["info", "-f", "{{.Nope}}"],
    ] {
        assert_eq!(
            streams(&d.berth(args)).0,
            streams(&d.docker(&docker, args)).0,
            "{args:?}"
        );
    }
    let v = d.ok(&[
        "version",
        "-f",
        "{{.Client.Version}} {{.Client.ApiVersion}}",
    ]);
    assert_eq!(v, format!("{} 1.45\n", env!("CARGO_PKG_VERSION")));

    // `build --help` is build's own text.
    let help = d.ok(&["build", "--help"]);
    assert!(
        help.starts_with("Build an image from a Dockerfile"),
        "{help}"
    );

    // Completion scripts that the shells accept, completing berth's commands.
    let script = d.dir.join("berth.bash");
    std::fs::write(&script, d.ok(&["completion", "bash"])).unwrap();
    let o = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && COMP_WORDS=(berth contai); COMP_CWORD=1; _berth berth contai berth; echo \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    assert!(
        common::stdout(&o)
            .split_whitespace()
            .any(|w| w == "container"),
        "{o:?}"
    );
    for shell in ["zsh", "fish"] {
        let s = d.ok(&["completion", shell]);
        assert!(s.contains("berth") && s.contains("container"), "{shell}");
    }
    let o = d.berth(&["completion", "tcsh"]);
    assert_eq!(o.status.code(), Some(125));
}
