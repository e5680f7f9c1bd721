//! Rootless networking: `--network pasta` (the rootless default when `pasta` is installed).
//!
//! A rootless daemon cannot make bridges, veths to the host or nftables rules. Instead each
//! container gets a network namespace of its own (pinned at `<exec-root>/netns/<id>` before
//! the container starts, as bridge mode does) and a `pasta` process (Debian's `passt`) that
//! gives it a tap interface with the host's addresses and routes, carries its traffic through
//! ordinary sockets of the user, and forwards published ports (`-p [IP:]HOST:CONTAINER[/udp]`
//! → pasta's `-t`/`-u`). Removing the pinned namespace at stop makes pasta exit; its pid file
//! is a second way to end it. Ports below `net.ipv4.ip_unprivileged_port_start` cannot be
//! published (the user may not bind them), and a host port must be given.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::error::EngineError;
use crate::model::ContainerRecord;
use crate::model::PortBinding;
use crate::{HostConfig, Networks, Result};

/// The network mode name (podman's).
pub(crate) const PASTA: &str = "pasta";

/// The pasta binary: `BERTH_PASTA`, else the first of the usual places.
fn pasta_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BERTH_PASTA") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/pasta", "/usr/local/bin/pasta", "/bin/pasta"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn unprivileged_port_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024)
}

type Bindings = std::collections::BTreeMap<String, Option<Vec<PortBinding>>>;

/// pasta's `-t` and `-u` specs for docker's port bindings (`80/tcp` → `[IP/]HOST:80`).
pub(crate) fn port_specs(bindings: &Bindings, min_port: u16) -> Result<(Vec<String>, Vec<String>)> {
    let bad = |m: String| EngineError::InvalidParameter(m);
    let (mut tcp, mut udp) = (Vec::new(), Vec::new());
    for (key, list) in bindings {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let cport: u16 = port
            .parse()
            .map_err(|_| bad(format!("invalid container port {key:?}")))?;
        for b in list.iter().flatten() {
            if b.host_port.is_empty() {
                return Err(bad(format!(
                    "rootless (pasta) networking needs an explicit host port for {key}"
                )));
            }
            let hport: u16 = b
                .host_port
                .parse()
                .map_err(|_| bad(format!("invalid host port {:?}", b.host_port)))?;
            if hport < min_port {
                return Err(bad(format!(
                    "rootless berthd cannot publish port {hport}: ports below {min_port} need \
                     privileges (net.ipv4.ip_unprivileged_port_start)"
                )));
            }
            let addr = match b.host_ip.as_str() {
                "" | "0.0.0.0" | "::" => String::new(),
                ip => {
                    ip.parse::<std::net::IpAddr>()
                        .map_err(|_| bad(format!("invalid host address {ip:?}")))?;
                    format!("{ip}/")
                }
            };
            let spec = format!("{addr}{hport}:{cport}");
            match proto {
                "tcp" => tcp.push(spec),
                "udp" => udp.push(spec),
                p => return Err(bad(format!("rootless networking cannot publish {p} ports"))),
            }
        }
    }
    Ok((tcp, udp))
}

impl Networks {
    /// The mode a rootless container gets when it names none.
    pub(crate) fn rootless_default_mode(&self) -> &'static str {
        if pasta_binary().is_some() {
            PASTA
        } else {
            "none"
        }
    }

    /// Create-time checks of `--network pasta`: nothing is made yet.
    pub(crate) fn pasta_register(&self, host: &HostConfig) -> Result<()> {
        if !self.cfg.rootless {
            return Err(EngineError::InvalidParameter(
                "network mode pasta is only available to a rootless berthd".into(),
            ));
        }
        if pasta_binary().is_none() {
            return Err(EngineError::InvalidParameter(
                "network mode pasta needs the pasta binary (Debian package passt)".into(),
            ));
        }
        if host.net.publish_all_ports {
            return Err(EngineError::InvalidParameter(
                "rootless (pasta) networking cannot publish to random ports (-P): use -p HOST:PORT"
                    .into(),
            ));
        }
        port_specs(&host.net.port_bindings, unprivileged_port_start()).map(drop)
    }

    fn pasta_paths(&self, id: &str) -> (PathBuf, PathBuf) {
        let dir = self.cfg.exec_root.join("netns");
        (dir.join(id), dir.join(format!("{id}.pasta.pid")))
    }

    /// Pins a fresh network namespace for `id` and starts pasta on it; returns its path.
    pub(crate) fn pasta_setup(&self, id: &str, host: &HostConfig) -> Result<PathBuf> {
        let (tcp, udp) = port_specs(&host.net.port_bindings, unprivileged_port_start())?;
        let bin = pasta_binary().ok_or_else(|| {
            EngineError::InvalidParameter("pasta is not installed (package passt)".into())
        })?;
        let (ns, pidfile) = self.pasta_paths(id);
        self.pasta_teardown(id);
        berth_network::netns::create(&ns)
            .map_err(|e| EngineError::Internal(format!("network namespace: {e}")))?;
        let list = |v: Vec<String>| {
            if v.is_empty() {
                "none".into()
            } else {
                v.join(",")
            }
        };
        let out = Command::new(&bin)
            .arg("--config-net")
            .arg("--netns")
            .arg(&ns)
            .arg("-P")
            .arg(&pidfile)
            .args([
                "-t",
                &list(tcp),
                "-u",
                &list(udp),
                "-T",
                "none",
                "-U",
                "none",
                "-q",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output();
        let failed = match out {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(format!(
                "{}: {}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = failed {
            self.pasta_teardown(id);
            return Err(EngineError::Internal(format!(
                "pasta networking for {id}: {why}"
            )));
        }
        Ok(ns)
    }

    /// Removes the pinned namespace (pasta then exits) and ends pasta by its pid file.
    pub(crate) fn pasta_teardown(&self, id: &str) {
        let (ns, pidfile) = self.pasta_paths(id);
        if ns.exists() {
            berth_network::netns::remove(&ns);
        }
        stop_pasta(&pidfile);
    }
}

/// The published ports of a running pasta container: (proto, container port, host ip, host
/// port), as docker's inspect and `ps` show them.
fn published(rec: &ContainerRecord) -> Vec<(String, u16, String, String)> {
    if rec.host_config.network_mode != PASTA || !rec.state.running {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (key, list) in &rec.host_config.net.port_bindings {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Ok(cport) = port.parse::<u16>() else {
            continue;
        };
        for b in list.iter().flatten() {
            let ip = if b.host_ip.is_empty() {
                "0.0.0.0".to_owned()
            } else {
                b.host_ip.clone()
            };
            out.push((proto.to_owned(), cport, ip, b.host_port.clone()));
        }
    }
    out
}

impl Networks {
    /// inspect's `NetworkSettings` of a rootless container: its pasta network and ports.
    pub(crate) fn pasta_settings(&self, rec: &ContainerRecord) -> Value {
        let mut ports = serde_json::Map::new();
        for k in rec.config.net.exposed_ports.keys() {
            ports.insert(k.clone(), Value::Null);
        }
        for (proto, cport, ip, hport) in published(rec) {
            let entry = ports
                .entry(format!("{cport}/{proto}"))
                .or_insert_with(|| json!([]));
            if !entry.is_array() {
                *entry = json!([]);
            }
            if let Some(list) = entry.as_array_mut() {
                list.push(json!({"HostIp": ip, "HostPort": hport}));
            }
        }
        let networks = if rec.host_config.network_mode == PASTA {
            json!({ PASTA: {"NetworkID": PASTA, "IPAddress": "", "Gateway": ""} })
        } else {
            json!({})
        };
        json!({"Networks": networks, "Ports": ports})
    }

    /// `ps`'s `Ports` of a rootless container.
    pub(crate) fn pasta_summary_ports(&self, rec: &ContainerRecord) -> Vec<Value> {
        published(rec)
            .into_iter()
            .filter_map(|(proto, cport, ip, hport)| {
                let public: u16 = hport.parse().ok()?;
                Some(json!({"IP": ip, "PrivatePort": cport, "PublicPort": public, "Type": proto}))
            })
            .collect()
    }
}

fn stop_pasta(pidfile: &Path) {
    let Ok(text) = std::fs::read_to_string(pidfile) else {
        return;
    };
    let _ = std::fs::remove_file(pidfile);
    let Ok(pid) = text.trim().parse::<i32>() else {
        return;
    };
    // Only if it still is pasta (`pasta`, or `passt.avx2` as Debian runs it): the pid may have been
    // reused after it exited by itself.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if pid > 1 && (comm.starts_with("pasta") || comm.starts_with("passt")) {
        // SAFETY: signalling a pasta process this daemon started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn b(ip: &str, port: &str) -> PortBinding {
        PortBinding {
            host_ip: ip.into(),
            host_port: port.into(),
        }
    }

    #[test]
    fn docker_bindings_become_pasta_forwards() {
        let mut m = Bindings::new();
        m.insert(
            "80/tcp".into(),
            Some(vec![b("127.0.0.1", "8080"), b("", "8081")]),
        );
        m.insert("53/udp".into(), Some(vec![b("0.0.0.0", "5353")]));
        let (t, u) = port_specs(&m, 1024).unwrap();
        assert_eq!(t, ["127.0.0.1/8080:80", "8081:80"]);
        assert_eq!(u, ["5353:53"]);
    }

    #[test]
    fn privileged_random_and_bad_ports_are_refused() {
        let mut m = Bindings::new();
        m.insert("80/tcp".into(), Some(vec![b("", "80")]));
        let e = port_specs(&m, 1024).unwrap_err().to_string();
        assert!(e.contains("below 1024"), "{e}");
        m.insert("80/tcp".into(), Some(vec![b("", "")]));
        assert!(port_specs(&m, 1024).is_err());
        m.insert("80/tcp".into(), Some(vec![b("nonsense", "8080")]));
        assert!(port_specs(&m, 1024).is_err());
        m.insert("80/sctp".into(), Some(vec![b("", "8080")]));
        m.remove("80/tcp");
        assert!(port_specs(&m, 1024).is_err());
    }
}
