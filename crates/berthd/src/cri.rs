//! The CRI endpoint's settings: on by default at `<exec-root>/cri.sock` (`/run/berth/cri.sock`),
//! moved with `--cri-socket` / `cri-socket`, off with `--no-cri` / `"cri": false`; CNI from
//! `--cni-conf-dir` / `--cni-bin-dir` or their daemon.json keys.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::config::DaemonConfig;

/// Where pod network configs are unless configured.
const CNI_CONF_DIR: &str = "/etc/cni/net.d";

/// The CRI flags, as parsed.
#[derive(clap::Args, Debug, Default)]
pub struct CriFlags {
    /// The CRI (Kubernetes Container Runtime Interface) socket [default: <exec-root>/cri.sock]
    #[arg(long, value_name = "PATH")]
    pub cri_socket: Option<PathBuf>,
    /// Do not serve the CRI.
    #[arg(long, conflicts_with = "cri_socket")]
    pub no_cri: bool,
    /// Pod network configs for the CRI [default: /etc/cni/net.d]
    #[arg(long, value_name = "DIR")]
    pub cni_conf_dir: Option<PathBuf>,
    /// A directory of CNI plugins (repeatable, searched in order)
    /// [default: /opt/cni/bin, then Debian's /usr/lib/cni]
    #[arg(long = "cni-bin-dir", value_name = "DIR")]
    pub cni_bin_dirs: Vec<PathBuf>,
}

/// The CRI settings in effect.
#[derive(Debug, Clone, PartialEq)]
pub struct CriSettings {
    /// The socket.
    pub socket: PathBuf,
    /// The CNI config directory.
    pub cni_conf_dir: PathBuf,
    /// The CNI plugin directories.
    pub cni_bin_dirs: Vec<PathBuf>,
}

/// Flags over daemon.json over defaults; `None`: the CRI is off.
pub fn resolve(
    flags: CriFlags,
    file: &DaemonConfig,
    exec_root: &Path,
) -> Result<Option<CriSettings>> {
    if flags.no_cri || (file.cri == Some(false) && flags.cri_socket.is_none()) {
        return Ok(None);
    }
    let socket = flags
        .cri_socket
        .or_else(|| file.cri_socket.clone().map(PathBuf::from))
        .unwrap_or_else(|| exec_root.join("cri.sock"));
    if socket.as_os_str().is_empty() || !socket.is_absolute() {
        bail!(
            "cri-socket must be an absolute path, got {:?}",
            socket.display().to_string()
        );
    }
    let bin_dirs = match (flags.cni_bin_dirs.is_empty(), &file.cni_bin_dirs) {
        (false, _) => flags.cni_bin_dirs,
        (true, Some(dirs)) => dirs.iter().map(PathBuf::from).collect(),
        (true, None) => berth_cni::PluginRunner::default().plugin_dirs,
    };
    Ok(Some(CriSettings {
        socket,
        cni_conf_dir: flags
            .cni_conf_dir
            .or_else(|| file.cni_conf_dir.clone().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(CNI_CONF_DIR)),
        cni_bin_dirs: bin_dirs,
    }))
}

impl CriSettings {
    /// The server's options; ADD results are kept under the data root.
    pub fn options(&self, data_root: &Path) -> berth_cri::CriOptions {
        berth_cri::CriOptions {
            socket: self.socket.clone(),
            cni: berth_cni::Cni {
                conf_dir: self.cni_conf_dir.clone(),
                runner: berth_cni::PluginRunner {
                    plugin_dirs: self.cni_bin_dirs.clone(),
                    ..berth_cni::PluginRunner::default()
                },
                cache_dir: data_root.join("cni").join("results"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn file(json: &str) -> DaemonConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn default_is_on_beside_the_api_socket() {
        let s = resolve(CriFlags::default(), &file("{}"), Path::new("/run/berth"))
            .unwrap()
            .unwrap();
        assert_eq!(s.socket, Path::new("/run/berth/cri.sock"));
        assert_eq!(s.cni_conf_dir, Path::new("/etc/cni/net.d"));
        assert_eq!(s.cni_bin_dirs[0], Path::new("/opt/cni/bin"));
    }

    #[test]
    fn flags_win_over_the_file_and_either_can_turn_it_off() {
        let f = file(
            r#"{"cri-socket": "/run/k/cri.sock", "cni-conf-dir": "/k/net.d", "cni-bin-dirs": ["/k/bin"]}"#,
        );
        let s = resolve(CriFlags::default(), &f, Path::new("/run/berth"))
            .unwrap()
            .unwrap();
        assert_eq!(s.socket, Path::new("/run/k/cri.sock"));
        assert_eq!(s.cni_conf_dir, Path::new("/k/net.d"));
        assert_eq!(s.cni_bin_dirs, [PathBuf::from("/k/bin")]);
        let flags = CriFlags {
            cri_socket: Some("/x/cri.sock".into()),
            ..CriFlags::default()
        };
        let s = resolve(flags, &f, Path::new("/run/berth"))
            .unwrap()
            .unwrap();
        assert_eq!(s.socket, Path::new("/x/cri.sock"));
        let off = CriFlags {
            no_cri: true,
            ..CriFlags::default()
        };
        assert!(resolve(off, &f, Path::new("/run/berth")).unwrap().is_none());
        assert!(resolve(
            CriFlags::default(),
            &file(r#"{"cri": false}"#),
            Path::new("/r")
        )
        .unwrap()
        .is_none());
        let relative = CriFlags {
            cri_socket: Some("cri.sock".into()),
            ..CriFlags::default()
        };
        assert!(resolve(relative, &f, Path::new("/r")).is_err());
    }
}
