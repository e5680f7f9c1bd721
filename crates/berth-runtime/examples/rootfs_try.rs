//! Manual check of the rootfs phases against the real kernel, without the rest of the runtime.
//!
//! Run it inside fresh namespaces made by `unshare` (never from a test harness), e.g.:
//!
//! ```text
//! unshare -m -n -i -u -p -f --propagation private \
//!     target/debug/examples/rootfs_try BUNDLE [--no-pivot] [--cgroupns] [-- CMD ARGS...]
//! ```
//!
//! It runs `prepare`, `pivot` and `finalize` for `BUNDLE/config.json`, then execs CMD (or the
//! spec's `process.args`) inside the new root.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use berth_runtime::oci_spec::runtime::Spec;
use berth_runtime::rootfs::{finalize, pivot, prepare, RootfsOptions};
use berth_runtime::syscall::LinuxSyscall;

fn main() {
    if let Err(e) = run() {
        eprintln!("rootfs_try: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bundle = std::fs::canonicalize(PathBuf::from(
        args.next()
            .ok_or("usage: rootfs_try BUNDLE [--no-pivot] [--cgroupns] [-- CMD...]")?,
    ))?;
    let mut no_pivot = false;
    let mut cgroupns = false;
    let mut cmd: Vec<String> = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--no-pivot" => no_pivot = true,
            "--cgroupns" => cgroupns = true,
            "--" => cmd.extend(args.by_ref()),
            other => return Err(format!("unexpected argument {other}").into()),
        }
    }
    let spec = Spec::load(bundle.join("config.json"))?;
    let root_path = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .unwrap_or_else(|| "rootfs".into());
    let rootfs = std::fs::canonicalize(bundle.join(root_path))?;
    if cmd.is_empty() {
        cmd = spec
            .process()
            .as_ref()
            .and_then(|p| p.args().clone())
            .unwrap_or_default();
    }
    let sys = LinuxSyscall;
    let opts = RootfsOptions {
        rootfs: &rootfs,
        bundle: &bundle,
        new_cgroup_ns: cgroupns,
    };
    prepare(&sys, &spec, &opts)?;
    pivot(&sys, &rootfs, no_pivot)?;
    finalize(&sys, &spec)?;
    let (prog, rest) = cmd.split_first().ok_or("no command to run")?;
    let err = std::process::Command::new(prog)
        .args(rest)
        .env_clear()
        .env("PATH", "/bin:/sbin:/usr/bin")
        .exec();
    Err(format!("exec {prog}: {err}").into())
}
