//! Which server to talk to for a reference: Docker Hub's real endpoint for `docker.io`,
//! mirrors first when configured, and plain HTTP only for loopback and the insecure list.

use std::net::IpAddr;

/// The host serving Docker Hub's registry API.
pub const DOCKER_HUB_REGISTRY: &str = "registry-1.docker.io";
/// The host serving Docker Hub's search API.
pub const DOCKER_HUB_INDEX: &str = "index.docker.io";

/// Daemon-wide registry settings (docker's `insecure-registries` and `registry-mirrors`).
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Registries reached over plain HTTP: `host[:port]` or an IPv4 CIDR (`10.0.0.0/8`).
    pub insecure: Vec<String>,
    /// Mirrors tried before Docker Hub for `docker.io` images: `https://mirror.example` URLs.
    pub mirrors: Vec<String>,
}

/// One base URL to send registry API requests to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https` or `http`.
    pub scheme: &'static str,
    /// host[:port] as it goes into URLs.
    pub host: String,
    /// Whether this is a mirror (failures fall through to the next endpoint).
    pub mirror: bool,
}

impl Endpoint {
    /// `scheme://host`.
    pub fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }

    /// The `/v2/` URL for a repository path below it, e.g. `…/v2/library/busybox/manifests/latest`.
    pub fn url(&self, repo: &str, rest: &str) -> String {
        format!("{}/v2/{repo}/{rest}", self.base())
    }
}

/// The endpoints for a reference domain, in the order to try them.
pub fn endpoints(domain: &str, opts: &RegistryOptions) -> Vec<Endpoint> {
    let mut out = Vec::new();
    if domain == "docker.io" {
        for m in &opts.mirrors {
            let (scheme, host) = match m.split_once("://") {
                Some(("http", h)) => ("http", h),
                Some((_, h)) => ("https", h),
                None => ("https", m.as_str()),
            };
            let host = host.trim_end_matches('/').to_owned();
            if !host.is_empty() {
                out.push(Endpoint {
                    scheme,
                    host,
                    mirror: true,
                });
            }
        }
        out.push(Endpoint {
            scheme: "https",
            host: DOCKER_HUB_REGISTRY.to_owned(),
            mirror: false,
        });
        return out;
    }
    out.push(Endpoint {
        scheme: if is_insecure(domain, opts) {
            "http"
        } else {
            "https"
        },
        host: domain.to_owned(),
        mirror: false,
    });
    out
}

/// Plain HTTP for `localhost`, loopback addresses, and hosts or CIDRs in the insecure list.
pub fn is_insecure(host_port: &str, opts: &RegistryOptions) -> bool {
    let host = split_host(host_port);
    if host == "localhost" {
        return true;
    }
    let ip = host.parse::<IpAddr>().ok();
    if ip.is_some_and(|ip| ip.is_loopback()) {
        return true;
    }
    opts.insecure.iter().any(|entry| {
        let entry = entry.trim();
        if entry.eq_ignore_ascii_case(host_port) || entry.eq_ignore_ascii_case(host) {
            return true;
        }
        match (ip, parse_cidr(entry)) {
            (Some(IpAddr::V4(a)), Some((net, bits))) => {
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                u32::from(a) & mask == net & mask
            }
            _ => false,
        }
    })
}

/// `[::1]:5000` → `::1`, `host:5000` → `host`.
fn split_host(host_port: &str) -> &str {
    if let Some(rest) = host_port.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host_port.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => h,
        _ => host_port,
    }
}

fn parse_cidr(s: &str) -> Option<(u32, u32)> {
    let (net, bits) = s.split_once('/')?;
    let net: std::net::Ipv4Addr = net.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    (bits <= 32).then_some((u32::from(net), bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_maps_to_its_registry_host_after_mirrors() {
        let opts = RegistryOptions {
            mirrors: vec![
                "https://mirror.example/".into(),
                "http://10.1.1.1:5000".into(),
            ],
            ..Default::default()
        };
        let e = endpoints("docker.io", &opts);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].base(), "https://mirror.example");
        assert_eq!(e[1].base(), "http://10.1.1.1:5000");
        assert_eq!(e[2].base(), "https://registry-1.docker.io");
        assert_eq!(
            e[2].url("library/busybox", "manifests/latest"),
            "https://registry-1.docker.io/v2/library/busybox/manifests/latest"
        );
    }

    #[test]
    fn loopback_and_listed_registries_use_http() {
        let opts = RegistryOptions {
            insecure: vec!["reg.lan:5000".into(), "10.0.0.0/8".into()],
            ..Default::default()
        };
        for h in [
            "127.0.0.1:5000",
            "localhost:1",
            "[::1]:5000",
            "reg.lan:5000",
            "10.2.3.4",
        ] {
            assert!(is_insecure(h, &opts), "{h}");
        }
        for h in ["reg.lan:6000", "11.0.0.1:5000", "quay.io"] {
            assert!(!is_insecure(h, &opts), "{h}");
        }
        assert_eq!(endpoints("quay.io", &opts)[0].scheme, "https");
    }
}
