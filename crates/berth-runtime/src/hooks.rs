//! OCI hooks: external programs run at fixed points of the lifecycle, fed the state on stdin.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

/// Why a hook failed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("hook {path}: {source}")]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("hook {path} exited with {status}: {stderr}")]
    Failed {
        path: PathBuf,
        status: String,
        stderr: String,
    },
    #[error("hook {path} timed out after {secs}s")]
    Timeout { path: PathBuf, secs: i64 },
}

/// Where a hook stage runs: the runtime's namespace or the container's (the spec fixes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace<'a> {
    /// prestart, createRuntime, poststart, poststop: back in the host's mount namespace if the
    /// runtime moved to a private one to protect its binary (see `seal`).
    Runtime,
    /// createContainer, startContainer: wherever the caller (the container's init) is; a hook
    /// without its own `env` gets the container process's (as runc and crun do).
    Container(&'a [String]),
}

/// Runs each hook in order; the first failure stops the sequence (as the spec requires for all
/// stages but poststart/poststop, whose callers log and go on).
pub fn run_all(
    hooks: Option<&Vec<Hook>>,
    state_json: &[u8],
    ns: Namespace,
) -> Result<(), HookError> {
    let (host, inherited): (_, &[String]) = match ns {
        Namespace::Runtime => (crate::seal::host_mount_ns(), &[]),
        Namespace::Container(env) => (None, env),
    };
    for h in hooks.into_iter().flatten() {
        run(h, state_json, host, inherited)?;
    }
    Ok(())
}

/// Runs every hook even when some fail (poststart, poststop: the spec says warn and go on);
/// returns the failures.
pub fn run_all_best_effort(
    hooks: Option<&Vec<Hook>>,
    state_json: &[u8],
    ns: Namespace,
) -> Vec<HookError> {
    let (host, inherited): (_, &[String]) = match ns {
        Namespace::Runtime => (crate::seal::host_mount_ns(), &[]),
        Namespace::Container(env) => (None, env),
    };
    hooks
        .into_iter()
        .flatten()
        .filter_map(|h| run(h, state_json, host, inherited).err())
        .collect()
}

fn run(
    h: &Hook,
    state_json: &[u8],
    host_ns: Option<std::os::fd::RawFd>,
    inherited: &[String],
) -> Result<(), HookError> {
    let path = h.path().clone();
    let spawn_err = |source| HookError::Spawn {
        path: path.clone(),
        source,
    };
    let mut cmd = Command::new(&path);
    if let Some(args) = h.args() {
        if let Some((first, rest)) = args.split_first() {
            std::os::unix::process::CommandExt::arg0(&mut cmd, first);
            cmd.args(rest);
        }
    }
    cmd.env_clear();
    for kv in h.env().as_deref().unwrap_or(inherited) {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    if let Some(fd) = host_ns {
        // SAFETY: the closure runs in the forked child before exec and only calls setns(2).
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                if libc::setns(fd, libc::CLONE_NEWNS) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(spawn_err)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state_json);
    }
    let deadline = h
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| (t, Instant::now() + Duration::from_secs(t as u64)));
    let status = loop {
        if let Some(st) = child.try_wait().map_err(spawn_err)? {
            break st;
        }
        if let Some((secs, at)) = deadline {
            if Instant::now() >= at {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HookError::Timeout { path, secs });
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if status.success() {
        return Ok(());
    }
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    Err(HookError::Failed {
        path,
        status: status.to_string(),
        stderr: stderr.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::HookBuilder;

    #[test]
    fn hook_gets_state_on_stdin_and_failures_report() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let ok = HookBuilder::default()
            .path("/bin/sh")
            .args(vec![
                "sh".into(),
                "-c".into(),
                format!("cat > {}; echo $FOO >> {}", out.display(), out.display()),
            ])
            .env(vec!["FOO=bar".to_string()])
            .build()
            .unwrap();
        run_all(Some(&vec![ok]), b"{\"id\":\"x\"}", Namespace::Runtime).unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"id\":\"x\"}bar\n"
        );
        let bad = HookBuilder::default()
            .path("/bin/sh")
            .args(vec![
                "sh".into(),
                "-c".into(),
                "echo nope >&2; exit 3".into(),
            ])
            .build()
            .unwrap();
        let e = run_all(Some(&vec![bad]), b"{}", Namespace::Runtime)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope") && e.contains('3'), "{e}");
        let slow = HookBuilder::default()
            .path("/bin/sleep")
            .args(vec!["sleep".into(), "5".into()])
            .timeout(1)
            .build()
            .unwrap();
        assert!(matches!(
            run_all(Some(&vec![slow]), b"{}", Namespace::Runtime),
            Err(HookError::Timeout { .. })
        ));
    }
}
