//! Links over rtnetlink: the bridge with its gateway address, one veth pair per endpoint
//! (created with its container end already inside the container's namespace), and the
//! container side's address, routes and `lo`.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkMessage};
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};

use crate::error::{io_err, NetError, Result};

const ENODEV: i32 = libc::ENODEV;
const EEXIST: i32 = libc::EEXIST;

/// Runs `f` with a fresh rtnetlink connection in the calling thread's network namespace.
fn with_handle<T, F, Fut>(op: &str, f: F) -> Result<T>
where
    F: FnOnce(Handle) -> Fut,
    Fut: Future<Output = std::result::Result<T, rtnetlink::Error>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| nl(op, e.to_string()))?;
    rt.block_on(async {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(|e| nl(op, e.to_string()))?;
        let task = tokio::spawn(conn);
        let out = f(handle).await.map_err(|e| nl(op, e.to_string()));
        task.abort();
        out
    })
}

fn nl(op: &str, msg: String) -> NetError {
    NetError::Netlink {
        op: op.to_owned(),
        msg,
    }
}

fn errno(e: &rtnetlink::Error) -> i32 {
    match e {
        rtnetlink::Error::NetlinkError(m) => -m.raw_code(),
        _ => 0,
    }
}

async fn index_of(h: &Handle, name: &str) -> std::result::Result<Option<u32>, rtnetlink::Error> {
    match h.link().get().match_name(name).execute().try_next().await {
        Ok(Some(m)) => Ok(Some(m.header.index)),
        Ok(None) => Ok(None),
        Err(e) if errno(&e) == ENODEV => Ok(None),
        Err(e) => Err(e),
    }
}

/// Makes sure the bridge `name` exists, is up and carries `gateway/prefix`; returns its index.
pub fn ensure_bridge(name: &str, gateway: Ipv4Addr, prefix: u8) -> Result<u32> {
    let idx = with_handle(&format!("create bridge {name}"), |h| async move {
        let idx = match index_of(&h, name).await? {
            Some(i) => i,
            None => {
                match h
                    .link()
                    .add(LinkBridge::new(name).up().build())
                    .execute()
                    .await
                {
                    Err(e) if errno(&e) != EEXIST => return Err(e),
                    _ => {}
                }
                index_of(&h, name).await?.unwrap_or(0)
            }
        };
        match h
            .address()
            .add(idx, IpAddr::V4(gateway), prefix)
            .execute()
            .await
        {
            Err(e) if errno(&e) != EEXIST => return Err(e),
            _ => {}
        }
        h.link()
            .set(LinkUnspec::new_with_index(idx).up().build())
            .execute()
            .await?;
        Ok(idx)
    })?;
    // 127.0.0.1 published ports are DNATed to the bridge: the kernel must route loopback
    // sources there (docker sets the same on its bridge).
    let p = format!("/proc/sys/net/ipv4/conf/{name}/route_localnet");
    std::fs::write(&p, "1").map_err(io_err("write", Path::new(&p)))?;
    Ok(idx)
}

/// Whether a link of that name exists in the caller's namespace.
pub fn exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// The index of an existing link (from sysfs: no netlink round trip).
pub fn index(name: &str) -> Result<u32> {
    let p = Path::new("/sys/class/net").join(name).join("ifindex");
    std::fs::read_to_string(&p)
        .map_err(io_err("read", &p))?
        .trim()
        .parse()
        .map_err(|_| nl("read ifindex", format!("bad index for {name}")))
}

/// Deletes a link by name; a missing link is fine.
pub fn delete(name: &str) -> Result<()> {
    with_handle(&format!("delete {name}"), |h| async move {
        if let Some(idx) = index_of(&h, name).await? {
            match h.link().del(idx).execute().await {
                Err(e) if errno(&e) != ENODEV => return Err(e),
                _ => {}
            }
        }
        Ok(())
    })
}

/// Every link of the current namespace: (name, index, controller index or 0).
pub fn list() -> Result<Vec<(String, u32, u32)>> {
    with_handle("list links", |h| async move {
        let msgs: Vec<LinkMessage> = h.link().get().execute().try_collect().await?;
        Ok(msgs
            .into_iter()
            .map(|m| {
                let mut name = String::new();
                let mut master = 0;
                for a in &m.attributes {
                    match a {
                        LinkAttribute::IfName(n) => name = n.clone(),
                        LinkAttribute::Controller(c) => master = *c,
                        _ => {}
                    }
                }
                (name, m.header.index, master)
            })
            .collect())
    })
}

/// `aa:bb:…` → bytes.
pub fn parse_mac(s: &str) -> Result<Vec<u8>> {
    let bytes: Vec<u8> = s
        .split(':')
        .map(|b| u8::from_str_radix(b, 16))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| NetError::Invalid(format!("invalid MAC address: {s}")))?;
    if bytes.len() != 6 {
        return Err(NetError::Invalid(format!("invalid MAC address: {s}")));
    }
    Ok(bytes)
}

/// What one endpoint looks like on both sides.
pub struct VethSpec<'a> {
    /// Host-side name, enslaved to the bridge.
    pub host: &'a str,
    /// The bridge's index.
    pub bridge: u32,
    /// Name inside the container.
    pub ifname: &'a str,
    /// Container-side MAC.
    pub mac: &'a str,
    /// Container address and prefix.
    pub ip: Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
    /// Default route through this gateway (the first network only).
    pub gateway: Option<Ipv4Addr>,
}

/// Creates the veth pair with its container end inside the namespace at `netns`, then
/// configures that end (address, up, default route) and `lo` from inside.
pub fn add_veth(netns: &Path, v: &VethSpec<'_>) -> Result<()> {
    let ns = std::fs::File::open(netns).map_err(io_err("open", netns))?;
    let mac = parse_mac(v.mac)?;
    let peer = LinkMessageBuilder::<LinkUnspec>::new()
        .name(v.ifname.to_owned())
        .address(mac)
        .setns_by_fd(ns.as_raw_fd())
        .build();
    let msg = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
        .name(v.host.to_owned())
        .controller(v.bridge)
        .up()
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
        .build();
    with_handle(&format!("create veth {}", v.host), |h| async move {
        h.link().add(msg).execute().await
    })?;
    let (ifname, ip, prefix, gw) = (v.ifname.to_owned(), v.ip, v.prefix, v.gateway);
    let inside = crate::netns::run_in(netns, move || {
        with_handle("configure the container interface", |h| async move {
            if let Some(lo) = index_of(&h, "lo").await? {
                h.link()
                    .set(LinkUnspec::new_with_index(lo).up().build())
                    .execute()
                    .await?;
            }
            let idx = index_of(&h, &ifname).await?.unwrap_or(0);
            h.address()
                .add(idx, IpAddr::V4(ip), prefix)
                .execute()
                .await?;
            h.link()
                .set(LinkUnspec::new_with_index(idx).up().build())
                .execute()
                .await?;
            if let Some(gw) = gw {
                let route = RouteMessageBuilder::<Ipv4Addr>::new()
                    .gateway(gw)
                    .output_interface(idx)
                    .build();
                h.route().add(route).execute().await?;
            }
            Ok(())
        })
    });
    if inside.is_err() {
        let _ = delete(v.host);
    }
    inside
}

/// Brings `lo` up inside the namespace at `netns` (containers with no network but loopback).
pub fn loopback_up(netns: &Path) -> Result<()> {
    crate::netns::run_in(netns, || {
        with_handle("bring lo up", |h| async move {
            if let Some(lo) = index_of(&h, "lo").await? {
                h.link()
                    .set(LinkUnspec::new_with_index(lo).up().build())
                    .execute()
                    .await?;
            }
            Ok(())
        })
    })
}

/// Deletes interface `ifname` inside the namespace at `netns` (its host peer goes with it).
pub fn delete_in(netns: &Path, ifname: &str) -> Result<()> {
    let ifname = ifname.to_owned();
    crate::netns::run_in(netns, move || delete(&ifname))
}
