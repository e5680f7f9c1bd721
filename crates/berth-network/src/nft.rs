//! The daemon's nftables table: masquerade out of each bridge, isolation and `--internal`,
//! DNAT of published ports (also for the host's own connections, 127.0.0.1 included). The
//! whole table is rendered from the state and swapped in one `nft -f -` transaction, so the
//! kernel holds exactly the rules of the live endpoints; with none left the table is gone.
//! Only this table is touched: docker's, firewalld's and the host's rules stay as they are.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use crate::error::{NetError, Result};
use crate::ports::PortMapping;
use crate::subnet::Subnet;

/// A bridge with live endpoints.
#[derive(Debug, Clone)]
pub struct ActiveNet {
    /// The bridge device.
    pub bridge: String,
    /// Its subnet.
    pub subnet: Subnet,
    /// No way out.
    pub internal: bool,
}

/// A published port and where it goes.
#[derive(Debug, Clone)]
pub struct Dnat {
    /// The host side.
    pub mapping: PortMapping,
    /// The container's address on its first network.
    pub target: Ipv4Addr,
}

/// The table's text (without the replace prologue); `None` when nothing is active.
pub fn render(nets: &[ActiveNet], dnats: &[Dnat], table: &str) -> Option<String> {
    if nets.is_empty() {
        return None;
    }
    let mut s = String::new();
    let _ = writeln!(s, "table ip {table} {{");
    s.push_str("  chain publish {\n");
    for d in dnats {
        let m = &d.mapping;
        let daddr = if m.host_ip.is_unspecified() {
            String::new()
        } else {
            format!("ip daddr {} ", m.host_ip)
        };
        let _ = writeln!(
            s,
            "    {daddr}{p} dport {} dnat to {}:{}",
            m.host_port,
            d.target,
            m.container_port,
            p = m.proto
        );
    }
    s.push_str("  }\n");
    s.push_str(
        "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n    fib daddr type local jump publish\n  }\n",
    );
    s.push_str(
        "  chain output {\n    type nat hook output priority -100; policy accept;\n    fib daddr type local jump publish\n  }\n",
    );
    s.push_str(
        "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n",
    );
    for n in nets {
        let (b, sub) = (&n.bridge, n.subnet);
        // Host connections to 127.0.0.1:PORT leave through the bridge: give them an address
        // the container can answer.
        let _ = writeln!(s, "    oifname \"{b}\" ip saddr 127.0.0.0/8 masquerade");
        // Hairpin: a container reaching a published port of a peer on the same bridge.
        let _ = writeln!(
            s,
            "    oifname \"{b}\" ip saddr {sub} ct status dnat masquerade"
        );
        if !n.internal {
            let _ = writeln!(s, "    ip saddr {sub} oifname != \"{b}\" masquerade");
        }
    }
    s.push_str("  }\n");
    s.push_str("  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
    for n in nets {
        let b = &n.bridge;
        let _ = writeln!(s, "    iifname \"{b}\" oifname \"{b}\" accept");
        if n.internal {
            let _ = writeln!(s, "    iifname \"{b}\" drop");
            let _ = writeln!(s, "    oifname \"{b}\" drop");
        }
    }
    // Networks are isolated from each other, as in docker.
    for a in nets {
        for b in nets {
            if a.bridge != b.bridge {
                let _ = writeln!(
                    s,
                    "    iifname \"{}\" oifname \"{}\" drop",
                    a.bridge, b.bridge
                );
            }
        }
    }
    for n in nets.iter().filter(|n| !n.internal) {
        let b = &n.bridge;
        let _ = writeln!(s, "    iifname \"{b}\" accept");
        let _ = writeln!(s, "    oifname \"{b}\" ct state established,related accept");
        let _ = writeln!(s, "    oifname \"{b}\" ct status dnat accept");
    }
    s.push_str("  }\n}\n");
    Some(s)
}

/// Replaces the table atomically with `body` (or removes it when `None`).
pub fn apply(table: &str, body: Option<&str>) -> Result<()> {
    // `add` then `delete` makes the delete safe when the table does not exist yet.
    let mut script = format!("add table ip {table}\ndelete table ip {table}\n");
    if let Some(b) = body {
        script.push_str(b);
    }
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| NetError::Nft(format!("run nft: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| NetError::Nft(format!("write to nft: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| NetError::Nft(format!("run nft: {e}")))?;
    if !out.status.success() {
        return Err(NetError::Nft(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn renders_nat_and_ports() {
        assert!(render(&[], &[], "t").is_none());
        let nets = [ActiveNet {
            bridge: "br0".into(),
            subnet: "10.9.0.0/24".parse().unwrap(),
            internal: false,
        }];
        let d = Dnat {
            mapping: PortMapping {
                container_port: 80,
                proto: "tcp".into(),
                host_ip: Ipv4Addr::LOCALHOST,
                host_port: 18080,
            },
            target: "10.9.0.2".parse().unwrap(),
        };
        let s = render(&nets, &[d], "berth").unwrap();
        assert!(s.contains("ip daddr 127.0.0.1 tcp dport 18080 dnat to 10.9.0.2:80"));
        assert!(s.contains("ip saddr 10.9.0.0/24 oifname != \"br0\" masquerade"));
        assert!(s.starts_with("table ip berth {"));
    }
}
