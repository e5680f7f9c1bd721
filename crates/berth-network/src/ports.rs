//! Published ports: docker's `PortBindings` turned into requests, host ports chosen (random
//! ones from docker's ephemeral range) and checked free before anything is set up.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};

use serde::{Deserialize, Serialize};

use crate::error::{NetError, Result};

/// Docker's range for random host ports.
pub const EPHEMERAL: std::ops::RangeInclusive<u16> = 32768..=60999;

/// One `-p` as the container asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRequest {
    /// Port inside the container.
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub proto: String,
    /// Host address to publish on (`None`: all).
    pub host_ip: Option<Ipv4Addr>,
    /// Host port (`None` or 0: pick one).
    pub host_port: Option<u16>,
}

/// A published port in effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// Port inside the container.
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub proto: String,
    /// Host address (`0.0.0.0`: all).
    pub host_ip: Ipv4Addr,
    /// Host port.
    pub host_port: u16,
}

/// `80/tcp` → (80, "tcp"); a bare `80` is tcp.
pub fn parse_port_proto(s: &str) -> Result<(u16, String)> {
    let (p, proto) = s.split_once('/').unwrap_or((s, "tcp"));
    let port = p
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| NetError::Invalid(format!("invalid containerPort: {p}")))?;
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp") {
        return Err(NetError::Invalid(format!("invalid proto: {proto}")));
    }
    Ok((port, proto))
}

/// Docker's `HostConfig.PortBindings` (`{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`)
/// plus, with `publish_all`, every exposed port not bound yet (to a random port).
pub fn requests(
    bindings: &BTreeMap<String, Vec<(String, String)>>,
    exposed: &[String],
    publish_all: bool,
) -> Result<Vec<PortRequest>> {
    let mut out = Vec::new();
    for (key, list) in bindings {
        let (container_port, proto) = parse_port_proto(key)?;
        let list: Vec<(String, String)> = if list.is_empty() {
            vec![(String::new(), String::new())]
        } else {
            list.clone()
        };
        for (ip, port) in list {
            let host_ip = match ip.as_str() {
                "" | "0.0.0.0" => None,
                s => Some(
                    s.parse::<Ipv4Addr>()
                        .map_err(|_| NetError::Invalid(format!("invalid host IP address: {s}")))?,
                ),
            };
            let host_port = match port.as_str() {
                "" | "0" => None,
                s => Some(
                    s.parse::<u16>()
                        .map_err(|_| NetError::Invalid(format!("invalid hostPort: {s}")))?,
                ),
            };
            out.push(PortRequest {
                container_port,
                proto: proto.clone(),
                host_ip,
                host_port,
            });
        }
    }
    if publish_all {
        for key in exposed {
            let (container_port, proto) = parse_port_proto(key)?;
            if !out
                .iter()
                .any(|r| r.container_port == container_port && r.proto == proto)
            {
                out.push(PortRequest {
                    container_port,
                    proto,
                    host_ip: None,
                    host_port: None,
                });
            }
        }
    }
    Ok(out)
}

fn conflicts(a: &PortMapping, proto: &str, ip: Ipv4Addr, port: u16) -> bool {
    a.proto == proto
        && a.host_port == port
        && (a.host_ip == ip || a.host_ip.is_unspecified() || ip.is_unspecified())
}

/// Whether the host lets us bind the port (nobody else listens there).
fn bindable(proto: &str, ip: Ipv4Addr, port: u16) -> bool {
    match proto {
        "udp" => UdpSocket::bind((ip, port)).is_ok(),
        _ => TcpListener::bind((ip, port)).is_ok(),
    }
}

/// Chooses host ports for `reqs`, given the mappings already in use by the daemon. A taken
/// port is docker's "port is already allocated" error.
pub fn allocate(reqs: &[PortRequest], in_use: &[PortMapping]) -> Result<Vec<PortMapping>> {
    let mut taken: Vec<PortMapping> = in_use.to_vec();
    let mut out = Vec::new();
    for r in reqs {
        let ip = r.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let port = match r.host_port {
            Some(p) => {
                if taken.iter().any(|m| conflicts(m, &r.proto, ip, p)) || !bindable(&r.proto, ip, p)
                {
                    return Err(NetError::Conflict(format!(
                        "driver failed programming external connectivity: Bind for {ip}:{p} failed: port is already allocated"
                    )));
                }
                p
            }
            None => random_port(&r.proto, ip, &taken)?,
        };
        let m = PortMapping {
            container_port: r.container_port,
            proto: r.proto.clone(),
            host_ip: ip,
            host_port: port,
        };
        taken.push(m.clone());
        out.push(m);
    }
    Ok(out)
}

fn random_port(proto: &str, ip: Ipv4Addr, taken: &[PortMapping]) -> Result<u16> {
    let span = u32::from(EPHEMERAL.end() - EPHEMERAL.start()) + 1;
    let mut seed = [0u8; 4];
    // Any start point will do; a failure to read randomness just starts at the bottom.
    let _ = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut seed));
    let start = u32::from_ne_bytes(seed) % span;
    for i in 0..span {
        let port = EPHEMERAL.start() + ((start + i) % span) as u16;
        if !taken.iter().any(|m| conflicts(m, proto, ip, port)) && bindable(proto, ip, port) {
            return Ok(port);
        }
    }
    Err(NetError::Conflict(
        "no free port in the ephemeral range".into(),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bindings_and_publish_all() {
        let mut b = BTreeMap::new();
        b.insert(
            "80/tcp".to_owned(),
            vec![("127.0.0.1".to_owned(), "18080".to_owned())],
        );
        let r = requests(&b, &["80/tcp".into(), "53/udp".into()], true).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(r[0].host_port, Some(18080));
        assert_eq!(r[1].proto, "udp");
        assert_eq!(r[1].host_port, None);
        assert!(parse_port_proto("80/xyz").is_err());
        assert!(parse_port_proto("0").is_err());
    }

    #[test]
    fn allocation_detects_conflicts() {
        let req = PortRequest {
            container_port: 80,
            proto: "tcp".into(),
            host_ip: None,
            host_port: None,
        };
        let got = allocate(&[req.clone(), req], &[]).unwrap();
        assert_ne!(got[0].host_port, got[1].host_port);
        assert!(EPHEMERAL.contains(&got[0].host_port));
        let fixed = PortRequest {
            container_port: 80,
            proto: "tcp".into(),
            host_ip: Some(Ipv4Addr::LOCALHOST),
            host_port: Some(got[0].host_port),
        };
        let err = allocate(&[fixed], &got).unwrap_err();
        assert!(err.to_string().contains("port is already allocated"));
    }
}
