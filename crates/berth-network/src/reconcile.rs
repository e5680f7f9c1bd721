//! Keeping the kernel in line with the state: the reconciliation at daemon start (after a
//! crash the kernel may hold objects the state does not know, and the state endpoints whose
//! containers are gone) and the sync after every change (bridges, DNS servers, the nftables
//! table). All kernel work goes through [`KernelOps`].

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::dns::{DnsServer, NameTable};
use crate::error::Result;
use crate::manager::Networks;
use crate::nft::{self, ActiveNet, Dnat};
use crate::store::{ContainerNet, State};

impl Networks {
    pub(crate) fn reconcile(&self, alive: &dyn Fn(&str) -> Option<bool>) -> Result<()> {
        let mut st = self.lock();
        st.containers.retain(|id, _| alive(id).is_some());
        let dead: Vec<String> = st
            .containers
            .iter()
            .filter(|(id, c)| {
                alive(id) != Some(true) && (c.netns.is_some() || !c.endpoints.is_empty())
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &dead {
            if let Some(c) = st.containers.get_mut(id) {
                self.release_kernel(c);
            }
        }
        // Namespaces nobody owns any more.
        let owned: Vec<PathBuf> = st
            .containers
            .values()
            .filter_map(|c| c.netns.clone())
            .collect();
        for (_, path) in self.kernel.netns_list(&self.cfg.netns_dir) {
            if !owned.contains(&path) {
                self.kernel.netns_remove(&path);
            }
        }
        self.save(&st)?;
        // Our bridges: stray veths on them go; empty ones go.
        let links = self.kernel.links().unwrap_or_default();
        let live_veths: Vec<String> = st
            .containers
            .values()
            .flat_map(|c| c.endpoints.values().map(|e| e.host_veth.clone()))
            .collect();
        for n in st.networks.values() {
            let Some(bridge) = links.iter().find(|l| l.name == n.bridge) else {
                continue;
            };
            for l in &links {
                if l.controller == bridge.index && !live_veths.contains(&l.name) {
                    let _ = self.kernel.link_delete(&l.name);
                }
            }
        }
        self.sync_kernel(&st, true)
    }

    /// Brings bridges, DNS servers and the nftables table in line with `st`. Bridges are
    /// made when a network gets its first endpoint and, as in docker, stay while the network
    /// exists; `prune` also removes the ones no endpoint uses (daemon start and shutdown).
    pub(crate) fn sync_kernel(&self, st: &State, prune: bool) -> Result<()> {
        let mut active = Vec::new();
        let mut dnats = Vec::new();
        let mut servers = self.dns.lock().unwrap_or_else(|p| p.into_inner());
        for n in st.networks.values() {
            let members = st.members(&n.id).count();
            let exists = self.kernel.link_exists(&n.bridge);
            if members == 0 && (prune || !exists) {
                servers.remove(&n.id);
                if exists {
                    self.kernel.link_delete(&n.bridge)?;
                }
                continue;
            }
            if !exists {
                self.kernel
                    .bridge_ensure(&n.bridge, n.gateway, n.subnet.prefix)?;
            }
            active.push(ActiveNet {
                bridge: n.bridge.clone(),
                subnet: n.subnet,
                internal: n.internal,
            });
            if !n.default {
                let table = names_of(st, &n.id);
                match servers.get(&n.id) {
                    Some(s) => {
                        if let Ok(mut t) = s.names.write() {
                            *t = table;
                        }
                    }
                    None => {
                        let names: NameTable = std::sync::Arc::new(std::sync::RwLock::new(table));
                        let up = match self.cfg.dns_upstream.is_empty() {
                            true => crate::files::host_nameservers(),
                            false => self.cfg.dns_upstream.clone(),
                        };
                        match DnsServer::start(n.gateway, names, up) {
                            Ok(s) => {
                                servers.insert(n.id.clone(), s);
                            }
                            Err(e) => tracing::warn!("DNS server on {}:53: {e}", n.gateway),
                        }
                    }
                }
            }
        }
        for c in st.containers.values() {
            let Some(first) = c.requests.first() else {
                continue;
            };
            let Some(ep) = st
                .find(&first.network)
                .ok()
                .and_then(|n| c.endpoints.get(&n.id))
            else {
                continue;
            };
            for m in &c.ports {
                dnats.push(Dnat {
                    mapping: m.clone(),
                    target: ep.ip,
                });
            }
        }
        if !active.iter().all(|n| n.internal) {
            self.kernel.enable_forwarding();
        }
        let body = nft::render(&active, &dnats, &self.cfg.table);
        let mut applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        if applied.as_ref() != Some(&body) {
            self.kernel.nft_apply(&self.cfg.table, body.as_deref())?;
            *applied = Some(body);
        }
        Ok(())
    }

    /// Removes a container's kernel objects (its namespace) and clears its live fields.
    /// The veths go with the namespace: the kernel deletes both ends when it frees it.
    pub(crate) fn release_kernel(&self, c: &mut ContainerNet) {
        if let Some(ns) = &c.netns {
            self.kernel.netns_remove(ns);
        }
        c.endpoints.clear();
        c.ports.clear();
        c.netns = None;
    }
}

/// Names for the DNS server of one network.
fn names_of(st: &State, net_id: &str) -> HashMap<String, Vec<Ipv4Addr>> {
    let mut t: HashMap<String, Vec<Ipv4Addr>> = HashMap::new();
    let net_name = st
        .networks
        .get(net_id)
        .map(|n| n.name.clone())
        .unwrap_or_default();
    for (id, c) in st.members(net_id) {
        let Some(ep) = c.endpoints.get(net_id) else {
            continue;
        };
        let aliases = c
            .requests
            .iter()
            .filter(|r| r.network == net_name || r.network == net_id)
            .flat_map(|r| r.aliases.clone());
        let short = id.get(..12).unwrap_or(id).to_owned();
        for name in [c.name.clone(), short].into_iter().chain(aliases) {
            if !name.is_empty() {
                t.entry(name.to_ascii_lowercase()).or_default().push(ep.ip);
            }
        }
    }
    t
}
