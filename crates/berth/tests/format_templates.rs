//! `--format` is Go's text/template as docker uses it: a table of templates rendered by
//! `berth` and by the docker 28 CLI against the same berthd, on the same objects (inspect of a
//! container, image, network and volume; `ps`, `images`, `network ls`, `volume ls` rows),
//! must print the same thing, fail the same way and exit with the same code.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::{docker_cli, Daemon};

/// Templates for `inspect -f` on a container.
const CONTAINER: &[&str] = &[
    "{{.Name}}",
    "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}}",
    "{{.Config.Labels.nokey}}",
    "{{index .Config.Labels \"nokey\"}}|",
    "{{index .Config.Labels \"com.example.my-key\"}}",
    "{{.Config.Env}}",
    "{{range .Config.Env}}[{{.}}]{{end}}",
    "{{range $i, $e := .Config.Env}}{{$i}}={{$e}};{{end}}",
    "{{range $i, $e := .Config.Env}}{{if eq $i 1}}{{break}}{{end}}{{$e}}{{end}}",
    "{{range $i, $e := .Config.Env}}{{if eq $i 0}}{{continue}}{{end}}{{$e}}{{end}}",
    "{{range .Config.Cmd}}x{{else}}none{{end}} {{range .HostConfig.Dns}}x{{else}}none{{end}}",
    "{{len .Config.Env}} {{len .Name}} {{len .Config.Labels}}",
    "{{index .Config.Env 0}} {{index .Config.Cmd 1}}",
    "{{slice .Name 1}} {{slice .Name 1 3}} {{slice .Config.Env 1}}",
    "{{(index .Mounts 0).Name}} {{(index .Mounts 0).Destination}}",
    "{{with .Config.WorkingDir}}wd={{.}}{{else}}none{{end}}",
    "{{with .Config.Domainname}}d={{.}}{{else}}nodomain{{end}}",
    "{{if eq .State.Status \"exited\"}}down{{else if eq .State.Status \"running\"}}up{{else}}?{{end}}",
    "{{if and .State.Running (not .State.Paused)}}yes{{end}}",
    "{{or .Config.Domainname \"fallback\"}} {{and .State.Running \"second\"}}",
    "{{if ne .State.Pid 0}}pid{{end}} {{if gt .State.Pid 1}}big{{end}}",
    "{{if lt 1 2}}lt{{end}} {{if le 2 2}}le{{end}} {{if ge 3 2}}ge{{end}} {{eq .Name \"/x\" \"/full\"}}",
    "{{printf \"%s-%d\" .Name .State.ExitCode}} {{printf \"%q\" .Name}}",
    "{{printf \"%5d|%-5d|%05d\" 42 42 42}} {{printf \"%x %X %o\" 255 255 8}}",
    "{{printf \"%v %t %.2f\" .Config.Env .State.Running 3.14159}}",
    "{{printf \"%s\" 5}} {{printf \"%d %d\" 1}} {{printf \"%d\" 1 2}}",
    "{{print \"a\" \"b\" 1 2 \"c\"}}",
    "{{println .Name \"x\"}}",
    "{{.Name | printf \"%s!\"}} {{.Name | len}}",
    "{{json .Config.Labels}} {{json .Config.Env}} {{.Config.Labels | json}}",
    "{{join .Config.Env \",\"}} {{split \"a,b,c\" \",\"}} {{index (split \"a:b:c\" \":\") 1}}",
    "{{title \"hello world-wide\"}} {{lower \"ABC\"}} {{upper .State.Status}}",
    "{{pad .State.Status 2 3}}| {{truncate .Name 3}}",
    "{{$n := .Name}}{{$n}} {{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}",
    "{{/* a comment */}}after",
    "x {{- .State.Status -}} y\n {{- /* trimmed comment */ -}} z",
    "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}} {{.HostConfig.NetworkMode}}",
    "{{range .Mounts}}{{.Type}}:{{.Name}}:{{.RW}}{{end}}",
    "{{.Config.Entrypoint}} {{.Config.Volumes}} {{.Config.Labels}}",
    "{{range 3}}{{.}}{{end}}",
    "{{html \"<a&b>\"}} {{js \"it's\"}} {{urlquery \"a b&c\"}}",
    "{{printf \"%v\" .Config.Labels}}",
    // Errors: missing struct fields, unknown functions, bad calls.
    "{{.Nope}}",
    "{{.State.Nope}}",
    "{{nosuch .Name}}",
    "{{.Name.Foo}}",
    "{{index .Config.Env 9}}",
    "{{eq 1 \"a\"}}",
    "{{len 3}}",
    "{{if .Name}}unclosed",
    "{{end}}",
    "{{break}}",
];

/// (command, templates) for list rows and the other inspect kinds.
const OTHERS: &[(&[&str], &[&str])] = &[
    (
        &["ps", "-a"],
        &[
            "{{json .}}",
            "table {{.Names}}\\t{{.Label \"com.example.my-key\"}}\\t{{upper .Image}}",
            "table {{.ID}}\\t{{.Names}}\\t{{.Networks}}\\t{{.Mounts}}\\t{{.Ports}}",
            "{{.Names}} {{.LocalVolumes}} {{.State}} {{.Command}} {{.Labels}}",
            "{{.Names}}{{if .Label \"com.example.my-key\"}} has{{end}}",
            "table {{.Names}}\\t{{.Size}}",
            "{{.Nope}}",
            "{{.Label}}",
            "{{nosuch}}",
        ],
    ),
    (
        &["images"],
        &[
            "{{json .}}",
            "table {{.Repository}}\\t{{.Tag}}\\t{{.Size}}\\t{{.ID}}",
            "{{.Nope}}",
        ],
    ),
    (
        &["network", "ls"],
        &[
            "{{json .}}",
            "table {{.Name}}\\t{{.Labels}}\\t{{.Label \"nl\"}}\\t{{.Driver}}",
            "{{.Nope}}",
        ],
    ),
    (
        &["volume", "ls"],
        &[
            "{{json .}}",
            "table {{.Name}}\\t{{.Labels}}\\t{{.Label \"k\"}}",
            "{{.Nope}}",
        ],
    ),
    (
        &["network", "inspect", "fmt-net"],
        &[
            "{{.Name}} {{.Driver}} {{.Labels}}",
            "{{index .Labels \"nl\"}} {{.Nope}}",
        ],
    ),
    (
        &["volume", "inspect", "fmt-vol"],
        &[
            "{{.Name}} {{.Driver}} {{json .Labels}}",
            "{{.Options}} {{.Nope}}",
        ],
    ),
    (
        &["image", "inspect", "busybox"],
        &[
            "{{.RepoTags}} {{len .RepoTags}}",
            "{{index .RepoTags 0}} {{.Nope}}",
        ],
    ),
];

/// Removes the test's network even when an assertion fails.
struct NetGuard<'a>(&'a Daemon);

impl Drop for NetGuard<'_> {
    fn drop(&mut self) {
        let _ = self.0.berth(&["network", "rm", "fmt-net"]);
    }
}

/// (stdout, stderr without the program's own prefix, exit code).
fn outcome(o: &Output) -> (String, String, Option<i32>) {
    let err = String::from_utf8_lossy(&o.stderr)
        .lines()
        .map(|l| l.strip_prefix("berth: ").unwrap_or(l).to_owned())
        .collect::<Vec<_>>()
        .join("\n");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        err,
        o.status.code(),
    )
}

/// Both CLIs' outcomes of `args`; retried a few times, as rows that tell ages ("Up 2
/// seconds") can cross a second between the two runs.
fn compare(d: &Daemon, docker: &Path, args: &[&str]) -> Option<String> {
    let mut last = String::new();
    for _ in 0..3 {
        let b = outcome(&d.berth(args));
        let k = outcome(&d.docker(docker, args));
        if b == k {
            return None;
        }
        last = format!("berth {args:?}\n  berth:  {b:?}\n  docker: {k:?}");
    }
    Some(last)
}

#[test]
fn format_templates_render_as_docker_renders_them() {
    let Some(docker) = docker_cli() else {
        common::skip("docker CLI not installed");
        return;
    };
    let d = Daemon::start();
    d.import_busybox();
    let _net = NetGuard(&d);
    d.ok(&[
        "volume", "create", "--label", "k=v", "--label", "other=x", "fmt-vol",
    ]);
    d.ok(&["network", "create", "--label", "nl=1", "fmt-net"]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "full",
        "--label",
        "com.example.my-key=val",
        "-e",
        "FOO=bar",
        "-e",
        "EMPTY=",
        "-v",
        "fmt-vol:/data",
        "-w",
        "/tmp",
        "busybox",
        "sleep",
        "1000",
    ]);
    d.ok(&["create", "--name", "idle", "busybox", "true"]);

    let mut failures = Vec::new();
    let mut count = 0;
    for t in CONTAINER {
        count += 1;
        failures.extend(compare(&d, &docker, &["inspect", "-f", t, "full"]));
    }
    for (cmd, templates) in OTHERS {
        for t in *templates {
            count += 1;
            let mut args = cmd.to_vec();
            args.extend(["--format", t]);
            failures.extend(compare(&d, &docker, &args));
        }
    }
    assert!(count >= 40, "only {count} templates");
    assert!(
        failures.is_empty(),
        "{} of {count} templates differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
