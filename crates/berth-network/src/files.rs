//! The per-container `/etc/resolv.conf`, `/etc/hosts` and `/etc/hostname`, written on the host
//! and bind-mounted into the container (docker's layout and defaults).

use std::net::Ipv4Addr;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{io_err, Result};

/// Docker's fallback when the host only has loopback resolvers.
const FALLBACK_DNS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// User choices (`--dns`, `--dns-search`, `--dns-option`, `--add-host`).
#[derive(Debug, Clone, Default)]
pub struct DnsConfig {
    /// Name servers.
    pub servers: Vec<String>,
    /// Search domains.
    pub search: Vec<String>,
    /// Resolver options.
    pub options: Vec<String>,
    /// `host:ip` entries for /etc/hosts.
    pub extra_hosts: Vec<String>,
    /// The daemon's `--dns` servers: in place of the host's resolvers for a container that names
    /// none itself and has no embedded DNS server (dockerd's `--dns`).
    pub daemon_servers: Vec<String>,
}

/// The three files of one container.
#[derive(Debug, Clone)]
pub struct EtcFiles {
    /// resolv.conf on the host.
    pub resolv_conf: PathBuf,
    /// hosts on the host.
    pub hosts: PathBuf,
    /// hostname on the host.
    pub hostname: PathBuf,
}

impl EtcFiles {
    /// The files' places in `dir`.
    pub fn in_dir(dir: &Path) -> EtcFiles {
        EtcFiles {
            resolv_conf: dir.join("resolv.conf"),
            hosts: dir.join("hosts"),
            hostname: dir.join("hostname"),
        }
    }
}

/// Parsed host resolv.conf: (nameservers, search, options).
fn host_resolv() -> (Vec<String>, Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let (mut ns, mut search, mut opts) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            Some("nameserver") => ns.extend(f.next().map(str::to_owned)),
            Some("search") | Some("domain") => search = f.map(str::to_owned).collect(),
            Some("options") => opts.extend(f.map(str::to_owned)),
            _ => {}
        }
    }
    (ns, search, opts)
}

/// The host's usable upstream resolvers (for the embedded DNS server's forwarding).
pub fn host_nameservers() -> Vec<Ipv4Addr> {
    host_resolv()
        .0
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// The container's resolv.conf. `embedded`: the network's own DNS server address (user
/// networks); otherwise the daemon's `--dns` servers, else the host's resolvers without
/// loopback ones.
pub fn resolv_conf(dns: &DnsConfig, embedded: Option<Ipv4Addr>) -> String {
    let (host_ns, host_search, host_opts) = host_resolv();
    let servers: Vec<String> = if !dns.servers.is_empty() {
        dns.servers.clone()
    } else if let Some(ip) = embedded {
        vec![ip.to_string()]
    } else if !dns.daemon_servers.is_empty() {
        dns.daemon_servers.clone()
    } else {
        let usable: Vec<String> = host_ns
            .into_iter()
            .filter(|s| !s.starts_with("127.") && s != "::1")
            .collect();
        if usable.is_empty() {
            FALLBACK_DNS.iter().map(|s| (*s).to_owned()).collect()
        } else {
            usable
        }
    };
    let search = if dns.search.is_empty() {
        host_search
    } else {
        dns.search.clone()
    };
    let opts = if dns.options.is_empty() {
        host_opts
    } else {
        dns.options.clone()
    };
    let mut out = String::new();
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !opts.is_empty() {
        out.push_str(&format!("options {}\n", opts.join(" ")));
    }
    out
}

/// The container's /etc/hosts: loopback, the extra hosts, then its own address and name.
pub fn hosts(hostname: &str, own: Option<Ipv4Addr>, extra: &[String]) -> String {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for e in extra {
        if let Some((name, ip)) = e.split_once(':') {
            out.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    if let Some(ip) = own {
        out.push_str(&format!("{ip}\t{hostname}\n"));
    }
    out
}

/// Writes the three files (`host_mode`: copies of the host's own files).
pub fn write(
    files: &EtcFiles,
    hostname: &str,
    own: Option<Ipv4Addr>,
    dns: &DnsConfig,
    embedded: Option<Ipv4Addr>,
    host_mode: bool,
) -> Result<()> {
    if let Some(dir) = files.hosts.parent() {
        // The container's directory also holds its record: root only.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err("create", dir))?;
    }
    let (resolv, hosts_text, name) = if host_mode {
        let mut h = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        for e in &dns.extra_hosts {
            if let Some((n, ip)) = e.split_once(':') {
                h.push_str(&format!("{ip}\t{n}\n"));
            }
        }
        let name = nix::unistd::gethostname()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|_| hostname.to_owned());
        (resolv_conf(dns, None), h, name)
    } else {
        (
            resolv_conf(dns, embedded),
            hosts(hostname, own, &dns.extra_hosts),
            hostname.to_owned(),
        )
    };
    for (p, text) in [
        (&files.resolv_conf, resolv),
        (&files.hosts, hosts_text),
        (&files.hostname, format!("{name}\n")),
    ] {
        std::fs::write(p, text).map_err(io_err("write", p))?;
        // Bind-mounted into the container, where any user reads them; the daemon's umask
        // would leave them root's only.
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644))
            .map_err(io_err("chmod", p))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_resolv() {
        let h = hosts(
            "abc",
            Some(Ipv4Addr::new(10, 0, 0, 2)),
            &["db:10.0.0.9".into()],
        );
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.contains("10.0.0.9\tdb\n"));
        assert!(h.ends_with("10.0.0.2\tabc\n"));
        let dns = DnsConfig {
            servers: vec!["1.1.1.1".into()],
            search: vec!["example.org".into()],
            options: vec!["ndots:2".into()],
            extra_hosts: vec![],
            daemon_servers: vec!["9.9.9.9".into()],
        };
        let r = resolv_conf(&dns, None);
        assert_eq!(
            r,
            "nameserver 1.1.1.1\nsearch example.org\noptions ndots:2\n"
        );
        let daemon = DnsConfig {
            daemon_servers: vec!["9.9.9.9".into()],
            ..DnsConfig::default()
        };
        let r = resolv_conf(&daemon, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert!(r.starts_with("nameserver 10.0.0.1\n"), "{r}");
        let r = resolv_conf(&daemon, None);
        assert!(r.starts_with("nameserver 9.9.9.9\n"), "{r}");
    }
}
