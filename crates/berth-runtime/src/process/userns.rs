//! Writing a new user namespace's uid/gid maps from the runtime's side.
//!
//! Why the parent writes them: a process cannot map ids into its own new namespace with more than
//! its own id; the runtime, outside, can (as root directly, otherwise through the setuid
//! `newuidmap`/`newgidmap` helpers that check /etc/subuid).

use std::fs;
use std::process::Command;

use nix::unistd::{Pid, Uid};
use oci_spec::runtime::LinuxIdMapping;

/// Why the maps could not be written.
#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    #[error("write {file} for pid {pid}: {source}")]
    Write {
        file: &'static str,
        pid: i32,
        #[source]
        source: std::io::Error,
    },
    #[error("{tool}: {msg}")]
    Helper { tool: &'static str, msg: String },
}

fn render(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Writes uid_map and gid_map of `pid`.
pub fn write_maps(
    pid: Pid,
    uids: &[LinuxIdMapping],
    gids: &[LinuxIdMapping],
) -> Result<(), UsernsError> {
    let privileged = Uid::effective().is_root();
    let p = pid.as_raw();
    if privileged || (uids.len() <= 1 && gids.len() <= 1) {
        if !privileged {
            // An unprivileged writer may map its gid only after denying setgroups.
            let _ = fs::write(format!("/proc/{p}/setgroups"), "deny");
        }
        let write = |file: &'static str, data: String| {
            if data.is_empty() {
                return Ok(());
            }
            fs::write(format!("/proc/{p}/{file}"), data).map_err(|source| UsernsError::Write {
                file,
                pid: p,
                source,
            })
        };
        write("uid_map", render(uids))?;
        return write("gid_map", render(gids));
    }
    helper("newuidmap", p, uids)?;
    helper("newgidmap", p, gids)
}

fn helper(tool: &'static str, pid: i32, maps: &[LinuxIdMapping]) -> Result<(), UsernsError> {
    let mut cmd = Command::new(tool);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.container_id().to_string(),
            m.host_id().to_string(),
            m.size().to_string(),
        ]);
    }
    let out = cmd.output().map_err(|e| UsernsError::Helper {
        tool,
        msg: e.to_string(),
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(UsernsError::Helper {
            tool,
            msg: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxIdMappingBuilder;

    #[test]
    fn maps_render_as_kernel_lines() {
        let m = |c, h, s| {
            LinuxIdMappingBuilder::default()
                .container_id(c)
                .host_id(h)
                .size(s)
                .build()
                .unwrap()
        };
        assert_eq!(
            render(&[m(0u32, 1000u32, 1u32), m(1, 100000, 65536)]),
            "0 1000 1\n1 100000 65536\n"
        );
    }
}
