//! Docker's argument rules on the command line: everything after the image (`run`, `create`)
//! or the container (`top`) belongs to the container or to ps, even words that look like our
//! own flags.
#![allow(clippy::unwrap_used)]

mod common;

use common::{stdout, Daemon};

#[test]
fn words_after_the_image_are_the_containers_even_when_they_look_like_flags() {
    let d = Daemon::start();
    d.import_busybox();
    // `-c` is also berth's --cpu-shares: after the image it is sh's.
    let o = d.berth(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        "busybox",
        "-c",
        "echo hi $0",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert_eq!(stdout(&o).trim(), "hi sh");
    let name = format!("args-{}", std::process::id());
    d.ok(&[
        "create",
        "--name",
        &name,
        "--entrypoint",
        "echo",
        "busybox",
        "-e",
        "-t",
        "x",
    ]);
    let args = d.ok(&["inspect", "-f", "{{json .Args}}", &name]);
    assert_eq!(args.trim(), r#"["-e","-t","x"]"#);
    d.ok(&["rm", &name]);
}

#[test]
fn top_passes_ps_options_through() {
    let d = Daemon::start();
    d.import_busybox();
    let name = format!("top-{}", std::process::id());
    d.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "300"]);
    let out = d.ok(&["top", &name, "-o", "pid,comm"]);
    let mut lines = out.lines();
    let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(head, ["PID", "COMMAND"], "{out}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "only the container's process: {out}");
    assert!(rows[0].ends_with("sleep"), "{out}");
    // A ps output without a PID column cannot be matched to the container: docker's error.
    let o = d.berth(&["top", &name, "-o", "comm"]);
    assert!(!o.status.success());
    assert!(
        common::stderr(&o).contains("Couldn't find PID field"),
        "{}",
        common::stderr(&o)
    );
    d.ok(&["rm", "-f", &name]);
}

/// `berth --help` gives every command its own description (a doc comment once slid onto the
/// next variant: `build` read "Show the Berth version information" and `version` nothing).
#[test]
fn help_describes_every_command_with_its_own_line() {
    let o = std::process::Command::new(common::BERTH)
        .arg("--help")
        .output()
        .unwrap();
    let help = stdout(&o);
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert!(commands.len() > 40, "{help}");
    for l in &commands {
        assert!(l.split_whitespace().count() > 1, "no description: {l:?}");
    }
    let about = |cmd: &str| {
        commands
            .iter()
            .find(|l| l.split_whitespace().next() == Some(cmd))
            .map(|l| l.trim_start()[cmd.len()..].trim().to_owned())
    };
    assert_eq!(
        about("build").as_deref(),
        Some("Build an image from a Dockerfile")
    );
    assert_eq!(
        about("version").as_deref(),
        Some("Show the Berth version information")
    );
}
