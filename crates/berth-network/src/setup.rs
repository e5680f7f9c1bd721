//! Per-container work: `setup` before the container starts (namespace, one veth per network,
//! ports, rules), `teardown` when it stops, and live `connect`/`disconnect`. Each step that
//! fails undoes what it did, so nothing stays half set up.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::error::{NetError, Result};
use crate::manager::{random_id, Networks};
use crate::store::{AttachRequest, Endpoint, NetworkRecord, State};
use crate::{link, ports};

/// docker's MAC scheme: 02:42 and the IPv4 address.
fn mac_for(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

/// The lowest free address of the network (or the requested one, if free).
fn allocate_ip(st: &State, n: &NetworkRecord, want: Option<Ipv4Addr>) -> Result<Ipv4Addr> {
    let used = st.used_ips(&n.id);
    if let Some(ip) = want {
        if !n.subnet.contains(ip)
            || ip == n.gateway
            || ip == n.subnet.addr
            || ip == n.subnet.broadcast()
        {
            return Err(NetError::Invalid(format!(
                "invalid address {ip} for network {}",
                n.name
            )));
        }
        if used.contains(&ip) {
            return Err(NetError::Conflict(format!("Address already in use: {ip}")));
        }
        return Ok(ip);
    }
    let range = n.ip_range.unwrap_or(n.subnet);
    (0..range.size())
        .filter_map(|i| range.nth(i))
        .find(|ip| {
            *ip != n.gateway
                && *ip != n.subnet.addr
                && *ip != n.subnet.broadcast()
                && !used.contains(ip)
        })
        .ok_or_else(|| {
            NetError::Conflict(format!("no available IPv4 addresses on network {}", n.name))
        })
}

impl Networks {
    fn netns_path(&self, id: &str) -> PathBuf {
        self.cfg.netns_dir.join(id)
    }

    /// Makes the endpoint of `req` in state (address, names) without kernel work.
    fn plan_endpoint(
        st: &State,
        req: &AttachRequest,
        ifname: String,
    ) -> Result<(NetworkRecord, Endpoint)> {
        let n = st.find(&req.network)?.clone();
        let ip = allocate_ip(st, &n, req.ipv4)?;
        let id = random_id();
        let mac = match &req.mac {
            Some(m) => {
                link::parse_mac(m)?;
                m.clone()
            }
            None => mac_for(ip),
        };
        let ep = Endpoint {
            host_veth: format!("veth{}", &id[..7]),
            id,
            network_id: n.id.clone(),
            ip,
            mac,
            ifname,
        };
        Ok((n, ep))
    }

    /// Sets up the network of container `id` (registered before) and returns its namespace,
    /// or `None` when it has no network to join (`--network none`: the runtime's own empty
    /// namespace will do). On error nothing is left behind.
    pub fn setup(&self, id: &str) -> Result<Option<PathBuf>> {
        let mut st = self.lock();
        let Some(c) = st.containers.get(id).cloned() else {
            return Ok(None);
        };
        if c.requests.is_empty() {
            return Ok(None);
        }
        if c.netns.is_some() {
            // Left from a run that ended without teardown.
            if let Some(c) = st.containers.get_mut(id) {
                self.release_kernel(c);
            }
        }
        // Plan everything first: addresses and ports are checked before any kernel object.
        let mut planned = Vec::new();
        for (i, r) in c.requests.iter().enumerate() {
            let (n, ep) = Self::plan_endpoint(&st, r, format!("eth{i}"))?;
            if planned
                .iter()
                .any(|(p, _): &(NetworkRecord, Endpoint)| p.id == n.id)
            {
                continue;
            }
            // Reserve the address for the next plans.
            if let Some(cc) = st.containers.get_mut(id) {
                cc.endpoints.insert(n.id.clone(), ep.clone());
            }
            planned.push((n, ep));
        }
        let in_use: Vec<ports::PortMapping> = st
            .containers
            .iter()
            .filter(|(cid, _)| cid.as_str() != id)
            .flat_map(|(_, c)| c.ports.clone())
            .collect();
        let mapped = match ports::allocate(&c.port_requests, &in_use) {
            Ok(m) => m,
            Err(e) => {
                if let Some(cc) = st.containers.get_mut(id) {
                    cc.endpoints.clear();
                }
                return Err(e);
            }
        };
        let ns = self.netns_path(id);
        if let Some(cc) = st.containers.get_mut(id) {
            cc.ports = mapped;
            cc.netns = Some(ns.clone());
        }
        // Persisted before the kernel work: after a crash the reconciliation finds it all.
        let result = self
            .save_live(&st)
            .and_then(|()| self.build(&st, &ns, &planned));
        if let Err(e) = result {
            if let Some(cc) = st.containers.get_mut(id) {
                self.release_kernel(cc);
            }
            let _ = self.save_live(&st);
            let _ = self.sync_kernel(&st, false);
            return Err(e);
        }
        Ok(Some(ns))
    }

    fn build(
        &self,
        st: &State,
        ns: &std::path::Path,
        planned: &[(NetworkRecord, Endpoint)],
    ) -> Result<()> {
        let t = std::time::Instant::now();
        self.kernel.netns_create(ns)?;
        let t_ns = t.elapsed();
        // Bridges and rules first (sync_kernel sees the planned endpoints), then the veths.
        self.sync_kernel(st, false)?;
        let t_sync = t.elapsed();
        for (i, (n, ep)) in planned.iter().enumerate() {
            let bridge = self.kernel.link_index(&n.bridge)?;
            self.kernel.veth_add(
                ns,
                &link::VethSpec {
                    host: &ep.host_veth,
                    bridge,
                    ifname: &ep.ifname,
                    mac: &ep.mac,
                    ip: ep.ip,
                    prefix: n.subnet.prefix,
                    gateway: (i == 0 && !n.internal).then_some(n.gateway),
                },
            )?;
        }
        tracing::debug!(
            "network namespace {:?}, bridges/rules {:?}, veths {:?}",
            t_ns,
            t_sync - t_ns,
            t.elapsed() - t_sync
        );
        Ok(())
    }

    /// Tears down the network of a container that stopped: veths, namespace, ports, rules;
    /// its addresses go back to the pool.
    pub fn teardown(&self, id: &str) {
        let mut st = self.lock();
        let Some(c) = st.containers.get_mut(id) else {
            return;
        };
        if c.netns.is_none() && c.endpoints.is_empty() {
            return;
        }
        self.release_kernel(c);
        if let Err(e) = self
            .save_live(&st)
            .and_then(|()| self.sync_kernel(&st, false))
        {
            tracing::warn!("network teardown of {id}: {e}");
        }
    }

    /// `docker network connect`: adds the network to the container; if it runs, its new
    /// interface appears at once.
    pub fn connect(&self, id: &str, mut req: AttachRequest) -> Result<()> {
        let mut st = self.lock();
        let n = st.find(&req.network)?.clone();
        req.network = n.name.clone();
        let Some(c) = st.containers.get(id).cloned() else {
            return Err(NetError::Invalid(format!(
                "container {id} has no network configuration"
            )));
        };
        if c.requests.iter().any(|r| r.network == n.name) {
            return Err(NetError::Conflict(format!(
                "endpoint with name {} already exists in network {}",
                c.name, n.name
            )));
        }
        if n.default && !req.aliases.is_empty() {
            return Err(NetError::Invalid(
                "network-scoped alias is supported only for containers in user defined networks"
                    .into(),
            ));
        }
        let Some(ns) = c.netns.clone() else {
            // Not running: it joins at its next start.
            if let Some(cc) = st.containers.get_mut(id) {
                cc.requests.push(req);
            }
            return self.save(&st);
        };
        let used: Vec<&str> = c.endpoints.values().map(|e| e.ifname.as_str()).collect();
        let ifname = (0..)
            .map(|i| format!("eth{i}"))
            .find(|n| !used.contains(&n.as_str()))
            .unwrap_or_else(|| "eth9".into());
        let (n, ep) = Self::plan_endpoint(&st, &req, ifname)?;
        if let Some(cc) = st.containers.get_mut(id) {
            cc.requests.push(req);
            cc.endpoints.insert(n.id.clone(), ep.clone());
        }
        let res = self
            .save(&st)
            .and_then(|()| self.sync_kernel(&st, false))
            .and_then(|()| {
                let bridge = self.kernel.link_index(&n.bridge)?;
                self.kernel.veth_add(
                    &ns,
                    &link::VethSpec {
                        host: &ep.host_veth,
                        bridge,
                        ifname: &ep.ifname,
                        mac: &ep.mac,
                        ip: ep.ip,
                        prefix: n.subnet.prefix,
                        gateway: None,
                    },
                )
            });
        if let Err(e) = res {
            if let Some(cc) = st.containers.get_mut(id) {
                cc.requests.retain(|r| r.network != n.name);
                cc.endpoints.remove(&n.id);
            }
            let _ = self.save_live(&st);
            let _ = self.sync_kernel(&st, false);
            return Err(e);
        }
        Ok(())
    }

    /// `docker network disconnect`: removes the network from the container (and its
    /// interface, if it runs).
    pub fn disconnect(&self, id: &str, network: &str) -> Result<()> {
        let mut st = self.lock();
        let n = st.find(network)?.clone();
        let Some(c) = st.containers.get_mut(id) else {
            return Err(NetError::Invalid(format!(
                "container {id} is not connected to network {}",
                n.name
            )));
        };
        if !c.requests.iter().any(|r| r.network == n.name) {
            return Err(NetError::Invalid(format!(
                "container {id} is not connected to network {}",
                n.name
            )));
        }
        c.requests.retain(|r| r.network != n.name);
        if let (Some(ep), Some(ns)) = (c.endpoints.remove(&n.id), c.netns.clone()) {
            if let Err(e) = self.kernel.link_delete_in(&ns, &ep.ifname) {
                tracing::warn!("removing {} of {id}: {e}", ep.ifname);
                let _ = self.kernel.link_delete(&ep.host_veth);
            }
        }
        self.save(&st)?;
        self.sync_kernel(&st, false)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::ContainerNet;

    fn net(subnet: &str, range: Option<&str>) -> NetworkRecord {
        let s: crate::Subnet = subnet.parse().unwrap();
        NetworkRecord {
            id: "n1".into(),
            name: "n".into(),
            driver: "bridge".into(),
            bridge: "br-x".into(),
            subnet: s,
            gateway: s.nth(1).unwrap(),
            ip_range: range.map(|r| r.parse().unwrap()),
            internal: false,
            labels: Default::default(),
            options: Default::default(),
            created: String::new(),
            default: false,
        }
    }

    fn with_ip(st: &mut State, id: &str, ip: &str) {
        let mut c = ContainerNet::default();
        c.endpoints.insert(
            "n1".into(),
            Endpoint {
                id: id.into(),
                network_id: "n1".into(),
                ip: ip.parse().unwrap(),
                mac: String::new(),
                ifname: "eth0".into(),
                host_veth: String::new(),
            },
        );
        st.containers.insert(id.into(), c);
    }

    #[test]
    fn ipam_skips_gateway_and_used_addresses() {
        let n = net("10.5.0.0/29", None);
        let mut st = State::default();
        st.networks.insert("n1".into(), n.clone());
        assert_eq!(allocate_ip(&st, &n, None).unwrap().to_string(), "10.5.0.2");
        with_ip(&mut st, "a", "10.5.0.2");
        with_ip(&mut st, "b", "10.5.0.3");
        assert_eq!(allocate_ip(&st, &n, None).unwrap().to_string(), "10.5.0.4");
        // Fixed addresses: free, taken, outside, gateway.
        assert!(allocate_ip(&st, &n, Some("10.5.0.6".parse().unwrap())).is_ok());
        let taken = allocate_ip(&st, &n, Some("10.5.0.3".parse().unwrap())).unwrap_err();
        assert!(taken.to_string().contains("already in use"));
        assert!(allocate_ip(&st, &n, Some("10.6.0.3".parse().unwrap())).is_err());
        assert!(allocate_ip(&st, &n, Some("10.5.0.1".parse().unwrap())).is_err());
        for (i, ip) in ["10.5.0.4", "10.5.0.5", "10.5.0.6"].iter().enumerate() {
            with_ip(&mut st, &format!("c{i}"), ip);
        }
        // .7 is the broadcast address: the /29 is full.
        assert!(allocate_ip(&st, &n, None).is_err());
    }

    #[test]
    fn ipam_honours_ip_range_and_mac_scheme() {
        let n = net("10.7.0.0/24", Some("10.7.0.128/25"));
        let st = State::default();
        assert_eq!(
            allocate_ip(&st, &n, None).unwrap().to_string(),
            "10.7.0.128"
        );
        assert_eq!(mac_for("172.17.0.2".parse().unwrap()), "02:42:ac:11:00:02");
    }
}
