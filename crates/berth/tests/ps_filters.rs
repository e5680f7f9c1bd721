//! `ps --filter`: every filter docker has, through `berth` and through the docker 28 CLI
//! against the same berthd (so through the API's `filters` too): the same containers, and the
//! ones each filter should select.
#![allow(clippy::unwrap_used)]

mod common;

use common::{docker_cli, stderr, stdout, Daemon};

fn names(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out.lines().map(str::to_owned).collect();
    v.sort();
    v
}

#[test]
fn ps_filters_select_what_docker_selects() {
    let Some(docker) = docker_cli() else {
        common::skip("docker CLI not installed");
        return;
    };
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&[
        "run",
        "--name",
        "base",
        "busybox",
        "sh",
        "-c",
        "echo x > /marker",
    ]);
    d.ok(&["commit", "base", "child:1"]);
    d.ok(&["rm", "base"]);
    let child_id = d.ok(&["image", "inspect", "-f", "{{.Id}}", "child:1"]);
    d.ok(&["volume", "create", "fv"]);
    d.ok(&[
        "run", "-d", "--name", "xa", "--label", "tier=web", "-v", "fv:/data", "--expose", "8080",
        "busybox", "sleep", "1000",
    ]);
    let o = d.berth(&["run", "--name", "xb", "child:1", "sh", "-c", "exit 3"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    d.ok(&[
        "create", "--name", "xc", "--label", "tier=db", "busybox", "true",
    ]);
    d.ok(&[
        "create", "--name", "xp", "-p", "18080:80", "busybox", "true",
    ]);
    d.ok(&["run", "--name", "xe", "busybox", "true"]);
    d.ok(&[
        "create",
        "--name",
        "xh",
        "--network",
        "host",
        "busybox",
        "true",
    ]);

    let all = ["xa", "xb", "xc", "xe", "xh", "xp"];
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("exited=3".into(), vec!["xb"]),
        ("exited=0".into(), vec!["xe"]),
        ("status=exited".into(), vec!["xb", "xe"]),
        ("ancestor=busybox".into(), all.to_vec()),
        ("ancestor=child:1".into(), vec!["xb"]),
        (format!("ancestor={}", child_id.trim()), vec!["xb"]),
        (format!("ancestor={}", &child_id.trim()[7..19]), vec!["xb"]),
        ("before=xc".into(), vec!["xa", "xb"]),
        ("since=xc".into(), vec!["xe", "xh", "xp"]),
        ("volume=fv".into(), vec!["xa"]),
        ("volume=/data".into(), vec!["xa"]),
        ("network=host".into(), vec!["xh"]),
        ("health=none".into(), all.to_vec()),
        ("publish=80".into(), vec!["xp"]),
        ("publish=18080".into(), vec![]),
        ("expose=8080".into(), vec!["xa"]),
        ("expose=80/tcp".into(), vec!["xp"]),
        ("is-task=false".into(), all.to_vec()),
        ("is-task=true".into(), vec![]),
        ("label=tier=web".into(), vec!["xa"]),
        ("label=tier".into(), vec!["xa", "xc"]),
        ("label!=tier=web".into(), vec!["xb", "xc", "xe", "xh", "xp"]),
        ("label!=tier".into(), vec!["xb", "xe", "xh", "xp"]),
        ("name=xa".into(), vec!["xa"]),
    ];
    let mut failures = Vec::new();
    for (filter, want) in &cases {
        let args = ["ps", "-a", "--filter", filter, "--format", "{{.Names}}"];
        let b = d.berth(&args);
        let k = d.docker(&docker, &args);
        assert!(b.status.success(), "{filter}: {}", stderr(&b));
        assert!(k.status.success(), "{filter}: {}", stderr(&k));
        let (bn, kn) = (names(&stdout(&b)), names(&stdout(&k)));
        if bn != *want || kn != *want {
            failures.push(format!(
                "{filter}: want {want:?}, berth {bn:?}, docker {kn:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Bad filters fail as docker's daemon says.
    for (filter, msg) in [
        ("bogus=1", "invalid filter 'bogus'"),
        ("health=ok", "Unrecognised filter value for health: ok"),
        ("exited=x", "invalid filter 'exited=x'"),
    ] {
        let b = d.berth(&["ps", "--filter", filter]);
        let k = d.docker(&docker, &["ps", "--filter", filter]);
        assert_eq!(b.status.code(), k.status.code(), "{filter}");
        assert!(stderr(&b).contains(msg), "{filter}: {}", stderr(&b));
        assert!(stderr(&k).contains(msg), "{filter}: {}", stderr(&k));
    }
}
