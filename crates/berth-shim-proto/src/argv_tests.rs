use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use super::*;

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

fn start() -> StartArgs {
    StartArgs {
        id: "abc123".into(),
        bundle: "/run/berth/containers/abc123".into(),
        runtime_root: "/run/berth/runtime".into(),
        state_dir: "/run/berth/containers/abc123".into(),
        log_path: "/var/lib/berth/containers/abc123/abc123-json.log".into(),
        rotation: Rotation {
            max_size: 1 << 20,
            max_file: 3,
        },
        stdio: StdioOpts {
            tty: true,
            stdin: true,
            stdin_once: true,
            hold: 2,
        },
    }
}

fn round_trip(a: ShimArgs) {
    let argv = a.to_args();
    let back = ShimArgs::parse(&argv).unwrap();
    assert_eq!(back, a);
    assert_eq!(back.to_args(), argv);
}

#[test]
fn start_round_trips() {
    round_trip(ShimArgs::Start(start()));
    let mut plain = start();
    plain.stdio = StdioOpts::default();
    plain.rotation = Rotation::default();
    round_trip(ShimArgs::Start(plain));
}

#[test]
fn start_wire_format() {
    let argv = ShimArgs::Start(start()).to_args();
    assert_eq!(
        argv[5..],
        os(&["1048576", "3", "tty,stdin,stdin-once,hold=2"])
    );
}

#[test]
fn non_utf8_paths_survive() {
    let mut a = start();
    a.log_path = OsString::from_vec(b"/logs/\xff.log".to_vec()).into();
    round_trip(ShimArgs::Start(a));
}

#[test]
fn start_short_forms() {
    let a = ShimArgs::parse(&os(&["id", "b", "r", "s", "l"])).unwrap();
    let ShimArgs::Start(a) = a else {
        panic!("not a start: {a:?}")
    };
    assert_eq!(
        (a.rotation, a.stdio),
        (Rotation::default(), StdioOpts::default())
    );
    let ShimArgs::Start(a) = ShimArgs::parse(&os(&["id", "b", "r", "s", "l", "9", "2"])).unwrap()
    else {
        panic!("not a start")
    };
    assert_eq!(a.rotation.max_size, 9);
    assert_eq!(a.rotation.max_file, 2);
}

#[test]
fn exec_round_trips() {
    for stdin in [false, true] {
        round_trip(ShimArgs::Exec(ExecArgs {
            container: "abc".into(),
            runtime_root: "/run/berth/runtime".into(),
            process: "/run/berth/containers/abc/exec-1.json".into(),
            stdin,
        }));
    }
    let ShimArgs::Exec(a) = ShimArgs::parse(&os(&["exec", "c", "r", "p"])).unwrap() else {
        panic!("not an exec")
    };
    assert!(!a.stdin);
}

#[test]
fn monitor_round_trips() {
    let a = start();
    round_trip(ShimArgs::Monitor(MonitorArgs {
        id: a.id,
        runtime_root: a.runtime_root,
        state_dir: a.state_dir,
        log_path: a.log_path,
        rotation: a.rotation,
        init: 4242,
        stdio: StdioOpts {
            stdin: false,
            ..a.stdio
        },
        out_fd: Some(5),
        err_fd: None,
        stdin_fd: Some(7),
        listen_fd: 3,
    }));
}

#[test]
fn bad_command_lines() {
    let usage = |v: &[&str]| matches!(ShimArgs::parse(&os(v)), Err(ArgsError::Usage(_)));
    assert!(usage(&[]));
    assert!(usage(&["id", "b", "r", "s"]));
    assert!(usage(&["id", "b", "r", "s", "l", "1"]));
    assert!(usage(&["id", "b", "r", "s", "l", "1", "1", "", "extra"]));
    assert!(usage(&["exec", "c", "r"]));
    assert!(usage(&["monitor", "id"]));
    let bad = |v: &[&str]| matches!(ShimArgs::parse(&os(v)), Err(ArgsError::Bad { .. }));
    assert!(bad(&["id", "b", "r", "s", "l", "big", "1"]));
    assert!(bad(&["id", "b", "r", "s", "l", "1", "1", "tty,color"]));
    assert!(bad(&["id", "b", "r", "s", "l", "1", "1", "hold=-1"]));
    assert!(bad(&["exec", "c", "r", "p", "stdout"]));
    let m = [
        "monitor", "i", "r", "s", "l", "0", "1", "9", "", "-1", "-1", "-1",
    ];
    assert!(bad(&[&m[..], &["-1"]].concat()));
    assert!(bad(&[&m[..], &["-2"]].concat()));
    assert!(ShimArgs::parse(&os(&[&m[..], &["3"]].concat())).is_ok());
}
