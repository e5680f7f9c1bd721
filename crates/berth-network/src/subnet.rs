//! IPv4 subnets (`172.17.0.0/16`): parsing, membership, the n-th host, overlap checks, and
//! the choice of a free subnet for a new network.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::NetError;

/// An IPv4 network: base address (host bits zero) and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subnet {
    /// The network address.
    pub addr: Ipv4Addr,
    /// The prefix length, 0..=32.
    pub prefix: u8,
}

impl Subnet {
    /// The subnet of `addr/prefix` (host bits cleared).
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Subnet {
        let mask = Self::mask_of(prefix);
        Subnet {
            addr: Ipv4Addr::from(u32::from(addr) & mask),
            prefix: prefix.min(32),
        }
    }

    fn mask_of(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix.min(32)))
        }
    }

    /// The netmask as a number.
    pub fn mask(&self) -> u32 {
        Self::mask_of(self.prefix)
    }

    /// Whether `ip` lies in this subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr)
    }

    /// Whether the two subnets share any address.
    pub fn overlaps(&self, other: &Subnet) -> bool {
        let p = self.prefix.min(other.prefix);
        Subnet::new(self.addr, p) == Subnet::new(other.addr, p)
    }

    /// How many addresses the subnet spans.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// The address at offset `n` from the base.
    pub fn nth(&self, n: u64) -> Option<Ipv4Addr> {
        (n < self.size()).then(|| Ipv4Addr::from(u32::from(self.addr).wrapping_add(n as u32)))
    }

    /// The broadcast address.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = NetError;
    fn from_str(s: &str) -> Result<Subnet, NetError> {
        let bad = || NetError::Invalid(format!("invalid CIDR address: {s}"));
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().ok().filter(|p| *p <= 32).ok_or_else(bad)?;
        Ok(Subnet::new(addr, prefix))
    }
}

impl Serialize for Subnet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subnet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Subnet, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `a.b.c.d/n` as an address *with* its prefix (the bridge's gateway, `--bip`).
pub fn parse_cidr_host(s: &str) -> Result<(Ipv4Addr, Subnet), NetError> {
    let net: Subnet = s.parse()?;
    let addr: Ipv4Addr = s
        .split_once('/')
        .and_then(|(a, _)| a.parse().ok())
        .ok_or_else(|| NetError::Invalid(format!("invalid CIDR address: {s}")))?;
    Ok((addr, net))
}

/// The IPv4 routes of the host (`/proc/net/route`), as subnets: a new network must not
/// overlap them.
pub fn host_routes() -> Vec<Subnet> {
    let Ok(text) = std::fs::read_to_string("/proc/net/route") else {
        return Vec::new();
    };
    let hex = |s: &str| u32::from_str_radix(s, 16).ok().map(u32::from_be);
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (dest, mask) = (hex(f.get(1)?)?, hex(f.get(7)?)?);
            // The default route covers everything; it does not make a subnet unusable.
            (mask != 0).then(|| Subnet::new(Ipv4Addr::from(dest), mask.count_ones() as u8))
        })
        .collect()
}

/// Docker's pools for new networks: 172.17-31.0.0/16, then 192.168.0-240.0/20. Returns the
/// first that overlaps none of `used`.
pub fn pick_free(used: &[Subnet]) -> Option<Subnet> {
    let candidates = (17..=31u8)
        .map(|b| Subnet::new(Ipv4Addr::new(172, b, 0, 0), 16))
        .chain((0..=15u8).map(|i| Subnet::new(Ipv4Addr::new(192, 168, i * 16, 0), 20)));
    let mut all = candidates;
    all.find(|c| !used.iter().any(|u| u.overlaps(c)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parse_and_contain() {
        let s: Subnet = "172.18.5.9/16".parse().unwrap();
        assert_eq!(s.to_string(), "172.18.0.0/16");
        assert!(s.contains("172.18.255.1".parse().unwrap()));
        assert!(!s.contains("172.19.0.1".parse().unwrap()));
        assert_eq!(s.nth(1), Some("172.18.0.1".parse().unwrap()));
        assert_eq!(s.broadcast(), "172.18.255.255".parse::<Ipv4Addr>().unwrap());
        assert!("10.0.0.0/33".parse::<Subnet>().is_err());
        assert!("nope".parse::<Subnet>().is_err());
        let (gw, net) = parse_cidr_host("10.1.2.1/24").unwrap();
        assert_eq!(gw.to_string(), "10.1.2.1");
        assert_eq!(net.to_string(), "10.1.2.0/24");
    }

    #[test]
    fn overlap_and_pick() {
        let a: Subnet = "172.17.0.0/16".parse().unwrap();
        let b: Subnet = "172.17.3.0/24".parse().unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&"172.18.0.0/16".parse().unwrap()));
        assert_eq!(pick_free(&[a]).unwrap().to_string(), "172.18.0.0/16");
    }
}
