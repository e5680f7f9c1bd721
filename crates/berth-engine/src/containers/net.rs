//! A container's side of networking: its endpoints recorded at create, its namespace and
//! `/etc` files set up right before the shim starts, `network connect`/`disconnect`. The
//! manager and the network objects are the networks service's (`crate::network`).

use std::path::{Path, PathBuf};

use berth_network::{AttachRequest, ContainerNet, DnsConfig, EtcFiles};
use berth_runtime::oci_spec::runtime::Spec;

use super::Containers;
use crate::error::{EngineError, Result};
use crate::model::{ContainerConfig, ContainerRecord, HostConfig, NetworkingConfig};
use crate::network::{edit_spec, first_addresses, net_err, NsMode};

impl Containers {
    /// Opens the network manager and reconciles it with the containers' states (after
    /// `recover`, so running states are true).
    pub(crate) fn open_network(&self) {
        let alive = |id: &str| self.lock().containers.get(id).map(|r| r.state.running);
        self.networks.open_manager(&alive);
    }

    /// Normalises `NetworkMode` and records the container's networks (create time).
    pub(crate) fn net_register(
        &self,
        inner: &crate::Inner,
        rec: &mut ContainerRecord,
        networking: Option<&NetworkingConfig>,
    ) -> Result<()> {
        let host = &mut rec.host_config;
        if host.network_mode.is_empty() || host.network_mode == "default" {
            host.network_mode = self.networks.default_mode().into();
        }
        let mode = host.network_mode.clone();
        let endpoints = networking
            .and_then(|n| n.endpoints_config.clone())
            .unwrap_or_default();
        if let Some(other) = mode.strip_prefix("container:") {
            if other.is_empty() {
                return Err(EngineError::InvalidParameter(
                    "container: needs a container".into(),
                ));
            }
            Self::find_id(inner, other)?;
        }
        if mode == crate::rootless_net::PASTA {
            return self.networks.pasta_register(host);
        }
        if matches!(mode.as_str(), "none" | "host") || mode.starts_with("container:") {
            if mode.starts_with("container:") && !host.net.port_bindings.is_empty() {
                return Err(EngineError::Conflict(
                    "conflicting options: port publishing and the container type network mode"
                        .into(),
                ));
            }
            return Ok(());
        }
        let net = self.networks.net()?;
        let mut requests = Vec::new();
        // Docker's CLI names the default network "default" in EndpointsConfig.
        let primary = endpoints
            .get(&mode)
            .or_else(|| endpoints.get("default"))
            .cloned()
            .unwrap_or_default();
        let mut first = primary.to_request(&mode)?;
        if first.mac.is_none() && !rec.config.net.mac_address.is_empty() {
            first.mac = Some(rec.config.net.mac_address.clone());
        }
        requests.push(first);
        for (name, ep) in &endpoints {
            if name != &mode && name != "default" {
                requests.push(ep.to_request(name)?);
            }
        }
        for r in &requests {
            net.validate(r).map_err(net_err)?;
        }
        let bindings = rec
            .host_config
            .net
            .port_bindings
            .iter()
            .map(|(k, v)| {
                let list = v
                    .iter()
                    .flatten()
                    .map(|b| (b.host_ip.clone(), b.host_port.clone()))
                    .collect();
                (k.clone(), list)
            })
            .collect();
        let exposed: Vec<String> = rec.config.net.exposed_ports.keys().cloned().collect();
        let port_requests = berth_network::ports::requests(
            &bindings,
            &exposed,
            rec.host_config.net.publish_all_ports,
        )
        .map_err(net_err)?;
        net.register(
            &rec.id,
            ContainerNet {
                name: rec.short_name().to_owned(),
                hostname: rec.config.hostname.clone(),
                requests,
                port_requests,
                ..Default::default()
            },
        )
        .map_err(net_err)
    }

    /// Sets up the container's network and points the spec at it: namespace, `/etc` files.
    /// Runs right before the shim; on error nothing network-related is left.
    pub(crate) fn net_apply(
        &self,
        id: &str,
        cfg: &ContainerConfig,
        host: &HostConfig,
        spec: Spec,
    ) -> Result<Spec> {
        let t = std::time::Instant::now();
        let mode = host.network_mode.as_str();
        let files = EtcFiles::in_dir(&self.records.container_dir(id));
        let dns = DnsConfig {
            servers: host.net.dns.clone(),
            search: host.net.dns_search.clone(),
            options: host.net.dns_options.clone(),
            extra_hosts: host.net.extra_hosts.clone(),
            daemon_servers: self.networks.daemon_dns(),
        };
        let (ns, files) = if let Some(other) = mode.strip_prefix("container:") {
            let oid = Self::find_id(&self.lock(), other)?;
            let pid = self
                .lock()
                .containers
                .get(&oid)
                .filter(|r| r.state.running)
                .map(|r| r.state.pid)
                .ok_or_else(|| {
                    EngineError::Conflict(format!(
                        "cannot join network of a non running container: {oid}"
                    ))
                })?;
            let path = self
                .networks
                .manager()
                .and_then(|n| n.container(&oid))
                .and_then(|c| c.netns)
                .unwrap_or_else(|| PathBuf::from(format!("/proc/{pid}/ns/net")));
            (
                NsMode::Join(path),
                EtcFiles::in_dir(&self.records.container_dir(&oid)),
            )
        } else if mode == "host" {
            berth_network::files::write(&files, &cfg.hostname, None, &dns, None, true)
                .map_err(net_err)?;
            (NsMode::Host, files)
        } else if mode == crate::rootless_net::PASTA {
            let path = self.networks.pasta_setup(id, host)?;
            let written =
                berth_network::files::write(&files, &cfg.hostname, None, &dns, None, false);
            if let Err(e) = written {
                self.networks.pasta_teardown(id);
                return Err(net_err(e));
            }
            (NsMode::Join(path), files)
        } else if mode == "none" {
            berth_network::files::write(&files, &cfg.hostname, None, &dns, None, false)
                .map_err(net_err)?;
            (NsMode::Fresh, files)
        } else {
            let net = self.networks.net()?;
            let path = net.setup(id).map_err(net_err)?;
            let (own, embedded) = first_addresses(net, id);
            let written =
                berth_network::files::write(&files, &cfg.hostname, own, &dns, embedded, false);
            if let Err(e) = written {
                net.teardown(id);
                return Err(net_err(e));
            }
            match path {
                Some(p) => (NsMode::Join(p), files),
                None => (NsMode::Fresh, files),
            }
        };
        let r = edit_spec(spec, &ns, &files);
        if r.is_err() {
            self.networks.net_teardown(id);
        }
        tracing::debug!("network of {id} ({mode}) ready in {:?}", t.elapsed());
        r
    }

    /// The three files' host paths for inspect (`ResolvConfPath`, `HostnamePath`, `HostsPath`).
    pub(crate) fn etc_paths(&self, id: &str) -> (String, String, String) {
        let f = EtcFiles::in_dir(&self.records.container_dir(id));
        let s = |p: &Path| {
            if p.exists() {
                p.display().to_string()
            } else {
                String::new()
            }
        };
        (s(&f.resolv_conf), s(&f.hostname), s(&f.hosts))
    }

    /// `POST /networks/{id}/connect`.
    pub fn network_connect(
        &self,
        network: &str,
        container: &str,
        aliases: Vec<String>,
        ipv4: Option<String>,
    ) -> Result<()> {
        let (id, mode) = {
            let inner = self.lock();
            let id = Self::find_id(&inner, container)?;
            let mode = inner
                .containers
                .get(&id)
                .map(|r| r.host_config.network_mode.clone())
                .unwrap_or_default();
            (id, mode)
        };
        if matches!(mode.as_str(), "host" | "none") || mode.starts_with("container:") {
            return Err(EngineError::InvalidParameter(format!(
                "container cannot be disconnected from network \"{mode}\" nor connected to another: its network mode is {mode}"
            )));
        }
        let ipv4 = match ipv4.filter(|s| !s.is_empty()) {
            Some(s) => Some(s.parse().map_err(|_| {
                EngineError::InvalidParameter(format!("invalid IPv4 address: {s}"))
            })?),
            None => None,
        };
        let (net_id, name) = self.networks.network_names(network)?;
        self.networks
            .net()?
            .connect(
                &id,
                AttachRequest {
                    network: network.to_owned(),
                    aliases,
                    ipv4,
                    mac: None,
                },
            )
            .map_err(net_err)?;
        self.networks
            .emit_network(&net_id, "connect", &name, &[("container", &id)]);
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub fn network_disconnect(&self, network: &str, container: &str) -> Result<()> {
        let id = Self::find_id(&self.lock(), container)?;
        let (net_id, name) = self.networks.network_names(network)?;
        self.networks
            .net()?
            .disconnect(&id, network)
            .map_err(net_err)?;
        self.networks
            .emit_network(&net_id, "disconnect", &name, &[("container", &id)]);
        Ok(())
    }
}
