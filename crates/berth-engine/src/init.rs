//! `--init` (`HostConfig.Init`), done as dockerd does it: the host's static `docker-init`
//! (tini) is bind-mounted read-only at `/sbin/docker-init` and runs as the container's PID 1
//! with the program as its child, so signals reach the program (a PID 1 without handlers
//! ignores SIGTERM) and orphaned zombies are reaped.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::error::{EngineError, Result};
use crate::HostConfig;

/// Where the init appears in the container (docker's path).
pub const INIT_PATH: &str = "/sbin/docker-init";

/// The init on the host: `BERTH_INIT` if set, else `docker-init` or `tini-static` from `PATH`
/// (statically linked, so it runs in any root).
pub fn find_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BERTH_INIT") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    ["docker-init", "tini-static"].into_iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// With `Init`, mounts the init and puts it in front of the process's arguments.
pub(crate) fn apply(spec: &mut Value, host: &HostConfig) -> Result<()> {
    if host.init != Some(true) {
        return Ok(());
    }
    let bin = find_binary().ok_or_else(|| {
        EngineError::InvalidParameter(
            "--init: no init binary on the host (docker-init or tini-static; install tini, or set BERTH_INIT)"
                .into(),
        )
    })?;
    let mount = json!({
        "destination": INIT_PATH,
        "type": "bind",
        "source": bin,
        "options": ["rbind", "ro", "nosuid", "nodev"],
    });
    match spec["mounts"].as_array_mut() {
        Some(m) => m.push(mount),
        None => spec["mounts"] = json!([mount]),
    }
    let args = spec["process"]["args"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut with_init = vec![json!(INIT_PATH), json!("--")];
    with_init.extend(args);
    spec["process"]["args"] = Value::Array(with_init);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn init_wraps_the_program() {
        std::env::set_var("BERTH_INIT", "/usr/bin/tini-static");
        let mut spec = json!({"process": {"args": ["sleep", "1"]}, "mounts": []});
        apply(&mut spec, &HostConfig::default()).unwrap();
        assert_eq!(spec["process"]["args"], json!(["sleep", "1"]));
        let host = HostConfig {
            init: Some(true),
            ..Default::default()
        };
        apply(&mut spec, &host).unwrap();
        assert_eq!(
            spec["process"]["args"],
            json!(["/sbin/docker-init", "--", "sleep", "1"])
        );
        assert_eq!(spec["mounts"][0]["source"], "/usr/bin/tini-static");
    }
}
