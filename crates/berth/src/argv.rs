//! Docker's argument rule for commands that run something in a container: every word after
//! the image (`run`, `create`) or the container (`exec`, `top`) belongs to the container, even
//! one that looks like one of our flags (`berth run IMG -c 'x'` passes `-c` to the program,
//! `berth top C -o pid` passes `-o pid` to ps). clap accepts flags anywhere, so before parsing
//! a `--` is put right after that positional; clap's own command model says which flags take a
//! value, so the walk never has a second list of flags to keep in step.

use std::ffi::OsString;

/// Subcommands whose first positional ends the flags.
const STOP_AFTER_FIRST_POSITIONAL: [&str; 4] = ["run", "create", "exec", "top"];

/// Whether `arg` of `cmd` is a flag that takes a value in the next word.
fn long_takes_value(cmd: &clap::Command, name: &str) -> bool {
    cmd.get_arguments()
        .find(|a| {
            a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|al| al.contains(&name))
        })
        .is_some_and(|a| a.get_action().takes_values())
}

/// For a cluster of short flags (`-it`, `-p8080:80`, `-e`): whether the next word is the last
/// flag's value.
fn short_cluster_wants_next(cmd: &clap::Command, cluster: &str) -> bool {
    let chars: Vec<char> = cluster.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let takes = cmd
            .get_arguments()
            .find(|a| a.get_short() == Some(*c))
            .is_some_and(|a| a.get_action().takes_values());
        if takes {
            // The rest of the cluster is the value, or the next word is.
            return i + 1 == chars.len();
        }
    }
    false
}

/// The index of the first positional word in `args[from..]` (flags and their values skipped),
/// or `None` if `--` or the end comes first.
fn first_positional(cmd: &clap::Command, args: &[OsString], from: usize) -> Option<usize> {
    let mut i = from;
    while i < args.len() {
        let Some(a) = args[i].to_str() else {
            return Some(i);
        };
        if a == "--" {
            return None;
        }
        let wants_next = if let Some(long) = a.strip_prefix("--") {
            !long.contains('=') && long_takes_value(cmd, long)
        } else if let Some(cluster) = a.strip_prefix('-').filter(|c| !c.is_empty()) {
            short_cluster_wants_next(cmd, cluster)
        } else {
            return Some(i);
        };
        i += if wants_next { 2 } else { 1 };
    }
    None
}

/// `args` (with the program name first) with a `--` after the image or container of `run`,
/// `create`, `exec` and `top`; other command lines unchanged.
pub fn end_flags_at_command(cli: clap::Command, mut args: Vec<OsString>) -> Vec<OsString> {
    let mut cli = cli;
    cli.build();
    let Some(sub_at) = first_positional(&cli, &args, 1) else {
        return args;
    };
    let Some(sub) = args[sub_at]
        .to_str()
        .and_then(|name| cli.find_subcommand(name))
    else {
        return args;
    };
    if !STOP_AFTER_FIRST_POSITIONAL.contains(&sub.get_name()) {
        return args;
    }
    if let Some(target) = first_positional(sub, &args, sub_at + 1) {
        if target + 1 < args.len() {
            args.insert(target + 1, OsString::from("--"));
        }
    }
    args
}

/// docker's `container` management commands, forwarded to the top-level ones
/// (`container ls` is `ps`; `container prune` stays, as it has its own command).
const CONTAINER_VERBS: &[&str] = &[
    "attach", "commit", "cp", "create", "diff", "exec", "export", "inspect", "kill", "logs", "ls",
    "list", "ps", "pause", "port", "rename", "restart", "rm", "remove", "run", "start", "stats",
    "stop", "top", "unpause", "update", "wait",
];

/// `berth [-H X] container VERB …` → `berth [-H X] VERB …` with docker's aliases, and
/// `system events` → `events`.
pub fn management_aliases(mut args: Vec<OsString>) -> Vec<OsString> {
    let mut i = 1;
    while let Some(a) = args.get(i).and_then(|a| a.to_str()) {
        match a {
            "-H" | "--host" => i += 2,
            _ if a.starts_with("--host=") || (a.starts_with("-H") && a.len() > 2) => i += 1,
            _ => break,
        }
    }
    let word = |k: usize| args.get(k).and_then(|a| a.to_str()).map(str::to_owned);
    match (word(i).as_deref(), word(i + 1).as_deref()) {
        (Some("container"), Some(v)) if CONTAINER_VERBS.contains(&v) => {
            args.remove(i);
            let to = match v {
                "ls" | "list" => Some("ps"),
                "remove" => Some("rm"),
                _ => None,
            };
            if let Some(t) = to {
                args[i] = OsString::from(t);
            }
        }
        (Some("system"), Some("events")) => {
            args.remove(i);
        }
        _ => {}
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction, Command};

    fn cli() -> Command {
        let flag =
            |n: &'static str, s: char| Arg::new(n).long(n).short(s).action(ArgAction::SetTrue);
        let opt = |n: &'static str, s: char| Arg::new(n).long(n).short(s).action(ArgAction::Set);
        let run = Command::new("run")
            .arg(flag("interactive", 'i'))
            .arg(flag("tty", 't'))
            .arg(opt("cpu-shares", 'c'))
            .arg(opt("env", 'e'))
            .arg(Arg::new("image").required(true))
            .arg(
                Arg::new("command")
                    .num_args(0..)
                    .trailing_var_arg(true)
                    .allow_hyphen_values(true),
            );
        Command::new("berth")
            .arg(
                Arg::new("host")
                    .short('H')
                    .long("host")
                    .global(true)
                    .action(ArgAction::Set),
            )
            .subcommand(run)
            .subcommand(Command::new("ps").arg(flag("all", 'a')))
    }

    fn split(line: &str) -> Vec<String> {
        let args: Vec<OsString> = line.split(' ').map(OsString::from).collect();
        end_flags_at_command(cli(), args)
            .into_iter()
            .map(|a| a.into_string().unwrap_or_default())
            .collect()
    }

    #[test]
    fn container_management_commands_forward() {
        let m = |line: &str| {
            let args: Vec<OsString> = line.split(' ').map(OsString::from).collect();
            management_aliases(args)
                .into_iter()
                .map(|a| a.into_string().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(m("berth container ls -a"), "berth ps -a");
        assert_eq!(m("berth -H x container remove c"), "berth -H x rm c");
        assert_eq!(m("berth container run --rm i"), "berth run --rm i");
        assert_eq!(m("berth container prune -f"), "berth container prune -f");
        assert_eq!(m("berth system events"), "berth events");
        assert_eq!(m("berth run container ls"), "berth run container ls");
    }

    #[test]
    fn flags_after_the_image_belong_to_the_command() {
        assert_eq!(
            split("berth run img -c x"),
            ["berth", "run", "img", "--", "-c", "x"]
        );
        assert_eq!(
            split("berth -H unix:///s run -it -e A=1 -c 2 img sh -c x"),
            [
                "berth",
                "-H",
                "unix:///s",
                "run",
                "-it",
                "-e",
                "A=1",
                "-c",
                "2",
                "img",
                "--",
                "sh",
                "-c",
                "x"
            ]
        );
        assert_eq!(
            split("berth run -eA=1 --cpu-shares=2 --env B img ls -l"),
            [
                "berth",
                "run",
                "-eA=1",
                "--cpu-shares=2",
                "--env",
                "B",
                "img",
                "--",
                "ls",
                "-l"
            ]
        );
        assert_eq!(
            split("berth run -H unix:///s img -t"),
            ["berth", "run", "-H", "unix:///s", "img", "--", "-t"]
        );
    }

    #[test]
    fn other_lines_are_left_alone() {
        for line in [
            "berth run img",
            "berth run -- img -c x",
            "berth ps -a",
            "berth run --env",
            "berth",
        ] {
            assert_eq!(split(line), line.split(' ').collect::<Vec<_>>(), "{line}");
        }
    }
}
