//! `run`/`create` networking flags → docker's `HostConfig` (`NetworkMode`, `PortBindings`,
//! `PublishAllPorts`, `Dns*`, `ExtraHosts`), `Config` (`ExposedPorts`, `MacAddress`) and
//! `NetworkingConfig` (aliases, fixed address), parsed as docker's CLI does.

use clap::Args;
use serde_json::{json, Map, Value};

use crate::Failure;

/// Networking flags.
#[derive(Args, Debug, Clone, Default)]
pub struct NetFlags {
    /// Publish a container's port(s) to the host ([ip:][hostPort:]containerPort[/proto]).
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports.
    #[arg(long = "expose")]
    pub expose: Vec<String>,
    /// Connect a container to a network (bridge, host, none, container:NAME|ID, or a name).
    #[arg(long = "network", visible_alias = "net")]
    pub network: Option<String>,
    /// Add network-scoped alias for the container.
    #[arg(long = "network-alias", visible_alias = "net-alias")]
    pub aliases: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104).
    #[arg(long = "ip")]
    pub ip: Option<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33).
    #[arg(long = "mac-address")]
    pub mac: Option<String>,
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Set custom DNS servers.
    #[arg(long = "dns")]
    pub dns: Vec<String>,
    /// Set custom DNS search domains.
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Set DNS options.
    #[arg(long = "dns-option", visible_alias = "dns-opt")]
    pub dns_option: Vec<String>,
}

fn bad(flag: &str, v: &str, why: &str) -> Failure {
    Failure::daemon(format!(
        "invalid argument \"{v}\" for \"{flag}\" flag: {why}"
    ))
}

/// `[ip:][hostPort:]containerPort[/proto]` → (key `80/tcp`, host ip, host port).
pub fn parse_publish(raw: &str) -> Result<(String, String, String), Failure> {
    let (spec, proto) = match raw.rsplit_once('/') {
        Some((s, p)) => (s, p.to_ascii_lowercase()),
        None => (raw, "tcp".to_owned()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad("--publish", raw, &format!("invalid proto: {proto}")));
    }
    let parts: Vec<&str> = spec.split(':').collect();
    let (ip, host, cport) = match parts.as_slice() {
        [c] => ("", "", *c),
        [h, c] => ("", *h, *c),
        [ip, h, c] => (*ip, *h, *c),
        _ => return Err(bad("--publish", raw, "too many colons")),
    };
    let port_ok = |p: &str| p.parse::<u16>().is_ok_and(|n| n > 0);
    if !port_ok(cport) {
        return Err(bad(
            "--publish",
            raw,
            &format!("invalid containerPort: {cport}"),
        ));
    }
    if !host.is_empty() && !port_ok(host) {
        return Err(bad("--publish", raw, &format!("invalid hostPort: {host}")));
    }
    if !ip.is_empty() && ip.parse::<std::net::Ipv4Addr>().is_err() {
        return Err(bad("--publish", raw, &format!("invalid IP address: {ip}")));
    }
    Ok((format!("{cport}/{proto}"), ip.to_owned(), host.to_owned()))
}

impl NetFlags {
    /// Adds the flags to a create request body.
    pub fn apply(&self, body: &mut Value) -> Result<(), Failure> {
        let mut bindings = Map::new();
        let mut exposed = Map::new();
        for p in &self.publish {
            let (key, ip, port) = parse_publish(p)?;
            exposed.insert(key.clone(), json!({}));
            let e = bindings.entry(key).or_insert_with(|| json!([]));
            if let Some(a) = e.as_array_mut() {
                a.push(json!({"HostIp": ip, "HostPort": port}));
            }
        }
        for e in &self.expose {
            let key = if e.contains('/') {
                e.clone()
            } else {
                format!("{e}/tcp")
            };
            let port = key.split('/').next().unwrap_or("");
            if port.parse::<u16>().is_err() {
                return Err(bad("--expose", e, "invalid port"));
            }
            exposed.insert(key, json!({}));
        }
        for h in &self.add_host {
            if !h.contains(':') {
                return Err(bad(
                    "--add-host",
                    h,
                    "invalid argument format, expected host:ip",
                ));
            }
        }
        let hc = &mut body["HostConfig"];
        if let Some(n) = &self.network {
            hc["NetworkMode"] = json!(n);
        }
        if !bindings.is_empty() {
            hc["PortBindings"] = Value::Object(bindings);
        }
        if self.publish_all {
            hc["PublishAllPorts"] = json!(true);
        }
        for (k, v) in [
            ("Dns", &self.dns),
            ("DnsSearch", &self.dns_search),
            ("DnsOptions", &self.dns_option),
            ("ExtraHosts", &self.add_host),
        ] {
            if !v.is_empty() {
                hc[k] = json!(v);
            }
        }
        if !exposed.is_empty() {
            body["ExposedPorts"] = Value::Object(exposed);
        }
        if let Some(m) = &self.mac {
            body["MacAddress"] = json!(m);
        }
        if !self.aliases.is_empty() || self.ip.is_some() || self.mac.is_some() {
            let net = self.network.clone().unwrap_or_else(|| "bridge".into());
            let mut ep = json!({});
            if !self.aliases.is_empty() {
                ep["Aliases"] = json!(self.aliases);
            }
            if let Some(ip) = &self.ip {
                ep["IPAMConfig"] = json!({"IPv4Address": ip});
            }
            if let Some(m) = &self.mac {
                ep["MacAddress"] = json!(m);
            }
            body["NetworkingConfig"] = json!({"EndpointsConfig": {net: ep}});
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn publish_forms() {
        assert_eq!(
            parse_publish("127.0.0.1:18080:80").unwrap(),
            ("80/tcp".into(), "127.0.0.1".into(), "18080".into())
        );
        assert_eq!(
            parse_publish("8080:53/udp").unwrap(),
            ("53/udp".into(), String::new(), "8080".into())
        );
        assert_eq!(
            parse_publish("80").unwrap(),
            ("80/tcp".into(), String::new(), String::new())
        );
        assert!(parse_publish("a:b:c:d").is_err());
        assert!(parse_publish("x:80").is_err());
    }

    #[test]
    fn body_shapes() {
        let f = NetFlags {
            publish: vec!["127.0.0.1:18080:80".into()],
            network: Some("mynet".into()),
            aliases: vec!["web".into()],
            ..Default::default()
        };
        let mut body = json!({"HostConfig": {}});
        f.apply(&mut body).unwrap();
        assert_eq!(body["HostConfig"]["NetworkMode"], "mynet");
        assert_eq!(
            body["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"],
            "18080"
        );
        assert_eq!(
            body["NetworkingConfig"]["EndpointsConfig"]["mynet"]["Aliases"][0],
            "web"
        );
    }
}
