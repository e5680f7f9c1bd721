//! Docker's JSON shapes: a network (`GET /networks/{id}`) and a container's
//! `NetworkSettings` (`GET /containers/{id}/json`).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::store::{ContainerNet, NetworkRecord};
use crate::Networks;

impl Networks {
    /// A network as docker's API shows it, with its live containers.
    pub fn inspect(&self, n: &NetworkRecord) -> Value {
        let mut containers = Map::new();
        for (id, c) in self.containers() {
            if let Some(ep) = c.endpoints.get(&n.id) {
                containers.insert(
                    id,
                    json!({
                        "Name": c.name,
                        "EndpointID": ep.id,
                        "MacAddress": ep.mac,
                        "IPv4Address": format!("{}/{}", ep.ip, n.subnet.prefix),
                        "IPv6Address": "",
                    }),
                );
            }
        }
        let mut ipam = json!({"Subnet": n.subnet.to_string(), "Gateway": n.gateway.to_string()});
        if let Some(r) = n.ip_range {
            ipam["IPRange"] = json!(r.to_string());
        }
        json!({
            "Name": n.name,
            "Id": n.id,
            "Created": n.created,
            "Scope": "local",
            "Driver": n.driver,
            "EnableIPv4": true,
            "EnableIPv6": false,
            // dockerd shows `null` for IPAM options never set (docker-py compares with None).
            "IPAM": {"Driver": "default", "Options": null, "Config": [ipam]},
            "Internal": n.internal,
            "Attachable": false,
            "Ingress": false,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": false,
            "Containers": containers,
            "Options": n.options,
            "Labels": n.labels,
        })
    }

    /// A container's `NetworkSettings`. `exposed`: the image's and `--expose` ports (shown
    /// unpublished as `null`); `mode`: its `NetworkMode`.
    pub fn settings(&self, id: &str, exposed: &[String], mode: &str) -> Value {
        let c = self.container(id).unwrap_or_default();
        let mut ports: BTreeMap<String, Value> = BTreeMap::new();
        if c.netns.is_some() {
            for e in exposed {
                ports.insert(e.clone(), Value::Null);
            }
            for m in &c.ports {
                let key = format!("{}/{}", m.container_port, m.proto);
                let entry = ports.entry(key).or_insert_with(|| json!([]));
                if !entry.is_array() {
                    *entry = json!([]);
                }
                if let Some(a) = entry.as_array_mut() {
                    a.push(json!({"HostIp": m.host_ip.to_string(), "HostPort": m.host_port.to_string()}));
                }
            }
        }
        let mut networks = Map::new();
        let mut legacy = json!({"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": ""});
        let short = id.get(..12).unwrap_or(id);
        for r in &c.requests {
            let Ok(n) = self.get(&r.network) else {
                continue;
            };
            let ep = c.endpoints.get(&n.id);
            let mut dns_names: Vec<String> = Vec::new();
            if !n.default {
                dns_names.push(c.name.clone());
                dns_names.extend(r.aliases.iter().cloned());
                dns_names.push(short.to_owned());
            }
            let v = json!({
                "IPAMConfig": r.ipv4.map(|ip| json!({"IPv4Address": ip.to_string()})),
                "Links": null,
                "Aliases": if r.aliases.is_empty() { Value::Null } else { json!(r.aliases) },
                "MacAddress": ep.map(|e| e.mac.clone()).unwrap_or_default(),
                "DriverOpts": null,
                "NetworkID": n.id,
                "EndpointID": ep.map(|e| e.id.clone()).unwrap_or_default(),
                "Gateway": if ep.is_some() { n.gateway.to_string() } else { String::new() },
                "IPAddress": ep.map(|e| e.ip.to_string()).unwrap_or_default(),
                "IPPrefixLen": if ep.is_some() { n.subnet.prefix } else { 0 },
                "IPv6Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "DNSNames": if dns_names.is_empty() { Value::Null } else { json!(dns_names) },
            });
            // Docker fills the top-level fields from the default bridge network only.
            if n.default {
                for k in [
                    "EndpointID",
                    "Gateway",
                    "IPAddress",
                    "IPPrefixLen",
                    "MacAddress",
                ] {
                    legacy[k] = v[k].clone();
                }
            }
            networks.insert(n.name.clone(), v);
        }
        if mode == "host" || mode == "none" {
            networks.insert(
                mode.to_owned(),
                json!({"IPAMConfig": null, "Links": null, "Aliases": null, "MacAddress": "",
                       "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
                       "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
                       "GlobalIPv6PrefixLen": 0, "DriverOpts": null, "DNSNames": null}),
            );
        }
        json!({
            "Bridge": "",
            "SandboxID": if c.netns.is_some() { id } else { "" },
            "SandboxKey": c.netns.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            "HairpinMode": false,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "Ports": ports,
            "SecondaryIPAddresses": null,
            "SecondaryIPv6Addresses": null,
            "EndpointID": legacy["EndpointID"],
            "Gateway": legacy["Gateway"],
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "IPAddress": legacy["IPAddress"],
            "IPPrefixLen": legacy["IPPrefixLen"],
            "IPv6Gateway": "",
            "MacAddress": legacy["MacAddress"],
            "Networks": networks,
        })
    }

    /// `docker ps`'s `Ports` entries of a container.
    pub fn summary_ports(&self, id: &str) -> Vec<Value> {
        self.container(id)
            .map(|c: ContainerNet| {
                c.ports
                    .iter()
                    .map(|m| json!({"IP": m.host_ip.to_string(), "PrivatePort": m.container_port, "PublicPort": m.host_port, "Type": m.proto}))
                    .collect()
            })
            .unwrap_or_default()
    }
}
