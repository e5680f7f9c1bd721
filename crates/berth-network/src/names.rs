//! Checks for every user-given string that reaches the kernel, a sysfs path, the nftables
//! script or a file bind-mounted into a container (`/etc/hosts`, `/etc/resolv.conf`,
//! `/etc/hostname`). They run when a network or container is created, so a bad value is a
//! clear 400 then instead of a netlink error, a broken ruleset or an injected line later.

use std::net::IpAddr;

use crate::error::{NetError, Result};

/// Linux's `IFNAMSIZ` less the terminating NUL.
const IFNAME_MAX: usize = 15;
/// Linux's `HOST_NAME_MAX`: `sethostname` refuses longer names.
const HOSTNAME_MAX: usize = 64;
/// The longest domain name DNS can carry.
const DOMAIN_MAX: usize = 253;

fn invalid(msg: String) -> NetError {
    NetError::Invalid(msg)
}

/// True when `s` has whitespace or a control character: either one would end the current
/// word or line of the resolver and hosts files, so the rest could add entries of its own.
fn breaks_a_line(s: &str) -> bool {
    s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A network interface name: the kernel's rule (`dev_valid_name`: 1–15 bytes, not `.` or
/// `..`, no `/`, `:` or whitespace) narrowed to `[A-Za-z0-9_.-]`, since the name is also a
/// path under /sys/class/net and a quoted string in the nftables script.
pub fn interface(name: &str) -> Result<()> {
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if name.is_empty() || name.len() > IFNAME_MAX || matches!(name, "." | "..") || !chars_ok {
        return Err(invalid(format!(
            "invalid interface name {name:?}: it must be 1 to {IFNAME_MAX} characters of [a-zA-Z0-9_.-] and not \".\" or \"..\""
        )));
    }
    Ok(())
}

/// The bridge a user names for a new network (`com.docker.network.bridge.name`): a valid
/// interface name, not another network's bridge, and not an existing link that is no bridge —
/// the daemon would otherwise put the gateway address on (and later delete) a host interface.
pub fn bridge<'a>(name: &str, in_use: impl IntoIterator<Item = &'a str>) -> Result<()> {
    interface(name)?;
    if in_use.into_iter().any(|b| b == name) {
        return Err(NetError::Conflict(format!(
            "bridge name {name} is already used by another network"
        )));
    }
    let sys = std::path::Path::new("/sys/class/net").join(name);
    if sys.exists() && !sys.join("bridge").exists() {
        return Err(invalid(format!(
            "cannot use {name} as the network's bridge: a network interface of that name exists and is not a bridge"
        )));
    }
    Ok(())
}

/// A network's name. Docker accepts any name that is not blank (spaces included); control
/// characters are refused because names are printed in tables and logs.
pub fn network(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().any(char::is_control) {
        return Err(invalid(format!("invalid network name: {name:?}")));
    }
    Ok(())
}

/// A container's hostname: what `sethostname` takes, without anything that would break the
/// container's /etc/hosts line for it.
pub fn hostname(name: &str) -> Result<()> {
    if name.len() > HOSTNAME_MAX || breaks_a_line(name) {
        return Err(invalid(format!("invalid hostname format: {name}")));
    }
    Ok(())
}

/// One `--add-host NAME:IP` entry.
pub fn extra_host(entry: &str) -> Result<()> {
    let Some((name, ip)) = entry.split_once(':') else {
        return Err(invalid(format!("bad format for add-host: {entry:?}")));
    };
    if name.is_empty() || breaks_a_line(name) {
        return Err(invalid(format!("invalid host name in add-host: {entry:?}")));
    }
    if ip == "host-gateway" {
        return Err(invalid(format!(
            "add-host {entry:?}: the special value host-gateway is not supported yet; give the address"
        )));
    }
    if ip.parse::<IpAddr>().is_err() {
        return Err(invalid(format!("invalid IP address in add-host: {ip:?}")));
    }
    Ok(())
}

/// One `--dns` server: an IP address, as docker's resolver files need.
pub fn dns_server(s: &str) -> Result<()> {
    s.parse::<IpAddr>()
        .map(|_| ())
        .map_err(|_| invalid(format!("{s} is not an ip address")))
}

/// One `--dns-search` domain (`.` clears the search list, as in docker).
pub fn dns_search(s: &str) -> Result<()> {
    let domain = s.strip_suffix('.').unwrap_or(s);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if s == "." || (domain.len() <= DOMAIN_MAX && domain.split('.').all(label_ok)) {
        return Ok(());
    }
    Err(invalid(format!("{s} is not a valid domain")))
}

/// One `--dns-option` (`ndots:2`, `rotate`, …): one word of resolv.conf's `options` line.
pub fn dns_option(s: &str) -> Result<()> {
    if s.is_empty() || breaks_a_line(s) {
        return Err(invalid(format!("invalid DNS option: {s:?}")));
    }
    Ok(())
}

/// Everything of a container's DNS and hosts settings.
pub fn dns_config(
    hostname: &str,
    servers: &[String],
    search: &[String],
    options: &[String],
    extra_hosts: &[String],
) -> Result<()> {
    self::hostname(hostname)?;
    servers.iter().try_for_each(|s| dns_server(s))?;
    search.iter().try_for_each(|s| dns_search(s))?;
    options.iter().try_for_each(|s| dns_option(s))?;
    extra_hosts.iter().try_for_each(|s| extra_host(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_follow_the_kernel_and_stay_out_of_scripts() {
        for ok in ["br0", "berth-test_1.a", "a", "123456789012345"] {
            assert!(interface(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "1234567890123456",
            "a/b",
            "../../etc",
            "br:0",
            "br 0",
            "br\"0",
            "x\"; flush ruleset; \"",
            "br\n0",
            "brü",
        ] {
            assert!(interface(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn network_names_may_have_spaces_but_not_control_characters() {
        assert!(network("my net").is_ok());
        assert!(network("web_default").is_ok());
        for bad in ["", "   ", "a\nb", "a\0b"] {
            assert!(network(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hosts_and_resolver_entries_cannot_add_lines() {
        assert!(hostname("web-1.example").is_ok());
        assert!(hostname("").is_ok());
        assert!(hostname(&"a".repeat(65)).is_err());
        assert!(hostname("a\n1.2.3.4 evil").is_err());
        assert!(extra_host("db:10.0.0.2").is_ok());
        assert!(extra_host("db6:2001:db8::1").is_ok());
        for bad in [
            "gw:host-gateway",
            "db",
            "db:notanip",
            "a b:1.2.3.4",
            "db:1.2.3.4\n5.6.7.8 x",
            ":1.2.3.4",
        ] {
            assert!(extra_host(bad).is_err(), "{bad:?}");
        }
        assert!(dns_server("1.1.1.1").is_ok());
        assert!(dns_server("2001:db8::53").is_ok());
        assert!(dns_server("1.1.1.1\nnameserver 6.6.6.6").is_err());
        assert!(dns_search("example.com").is_ok());
        assert!(dns_search("example.com.").is_ok());
        assert!(dns_search(".").is_ok());
        for bad in ["exa mple.com", "-a.com", "a..b", "a.com\nsearch evil"] {
            assert!(dns_search(bad).is_err(), "{bad:?}");
        }
        assert!(dns_option("ndots:2").is_ok());
        assert!(dns_option("ndots:2\nnameserver 6.6.6.6").is_err());
        assert!(dns_option("").is_err());
    }
}
