//! The manager against the fake kernel: planning (setup, connect, disconnect, teardown, IPAM
//! across restarts) and crash recovery (`Networks::open`'s reconciliation), without root.
#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

use super::fake::FakeKernel;
use crate::ports::PortRequest;
use crate::store::{AttachRequest, ContainerNet};
use crate::{CreateNetwork, DefaultBridge, NetConfig, Networks};

const TABLE: &str = "berth_unit";

struct Fixture {
    dir: tempfile::TempDir,
    kernel: Arc<FakeKernel>,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
            kernel: Arc::new(FakeKernel::default()),
        }
    }

    fn cfg(&self) -> NetConfig {
        NetConfig {
            state_dir: self.dir.path().join("state"),
            netns_dir: self.dir.path().join("netns"),
            table: TABLE.into(),
            // TEST-NET addresses: the DNS servers' binds fail on any real host, harmlessly.
            default_bridge: Some(DefaultBridge {
                name: "bu0".into(),
                gateway: "192.0.2.1".parse().unwrap(),
                subnet: "192.0.2.0/24".parse().unwrap(),
            }),
            dns_upstream: vec![Ipv4Addr::LOCALHOST],
        }
    }

    /// Opens the manager as a daemon start does; `running` are the containers that run.
    fn open(&self, known: &[&str], running: &[&str]) -> Networks {
        let known: Vec<String> = known.iter().map(|s| s.to_string()).collect();
        let running: Vec<String> = running.iter().map(|s| s.to_string()).collect();
        let alive = move |id: &str| {
            known
                .iter()
                .any(|k| k == id)
                .then(|| running.iter().any(|r| r == id))
        };
        Networks::open_with(self.cfg(), self.kernel.clone(), &alive).unwrap()
    }

    fn ns(&self, id: &str) -> PathBuf {
        self.dir.path().join("netns").join(id)
    }
}

fn user_net(nets: &Networks, name: &str, subnet: &str) -> String {
    let req = CreateNetwork {
        name: name.into(),
        subnet: Some(subnet.into()),
        ..Default::default()
    };
    nets.create(req).unwrap().id
}

fn register(nets: &Networks, id: &str, networks: &[&str], ports: &[u16]) {
    let c = ContainerNet {
        name: format!("c-{id}"),
        requests: networks
            .iter()
            .map(|n| AttachRequest {
                network: (*n).into(),
                ..Default::default()
            })
            .collect(),
        port_requests: ports
            .iter()
            .map(|p| PortRequest {
                container_port: *p,
                proto: "tcp".into(),
                host_ip: Some(Ipv4Addr::LOCALHOST),
                host_port: None,
            })
            .collect(),
        ..Default::default()
    };
    nets.register(id, c).unwrap();
}

fn ips(f: &Fixture, id: &str) -> Vec<(String, String)> {
    let m = f.kernel.model();
    m.ifaces(&f.ns(id))
        .into_values()
        .map(|i| (i.name, i.addr.0.to_string()))
        .collect()
}

#[test]
fn setup_builds_namespace_veths_bridges_and_rules() {
    let f = Fixture::new();
    let nets = f.open(&[], &[]);
    user_net(&nets, "front", "198.51.100.0/24");
    register(&nets, "a", &["bridge", "front"], &[80]);
    assert_eq!(nets.setup("a").unwrap(), Some(f.ns("a")));
    let port = nets.container("a").unwrap().ports[0].host_port;
    let m = f.kernel.model();
    assert!(m.netns.contains(&f.ns("a")));
    let ifaces = m.ifaces(&f.ns("a"));
    let eth0 = &ifaces["eth0"];
    assert_eq!(eth0.addr, ("192.0.2.2".parse().unwrap(), 24));
    assert_eq!(eth0.mac, "02:42:c0:00:02:02");
    // Only the first network gives the default route.
    assert_eq!(eth0.gateway, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(ifaces["eth1"].addr.0.to_string(), "198.51.100.2");
    assert_eq!(ifaces["eth1"].gateway, None);
    assert_eq!(m.slaves("bu0").len(), 1);
    assert!(m.forwarding);
    let table = &m.tables[TABLE];
    assert!(
        table.contains(&format!("dport {port} dnat to 192.0.2.2:80")),
        "{table}"
    );
    assert!(table.contains("ip saddr 198.51.100.0/24"), "{table}");
}

#[test]
fn teardown_releases_kernel_objects_and_addresses() {
    let f = Fixture::new();
    let nets = f.open(&[], &[]);
    register(&nets, "a", &["bridge"], &[80]);
    register(&nets, "b", &["bridge"], &[]);
    nets.setup("a").unwrap();
    nets.setup("b").unwrap();
    assert_eq!(ips(&f, "b"), [("eth0".into(), "192.0.2.3".into())]);
    nets.teardown("a");
    {
        let m = f.kernel.model();
        assert!(!m.netns.contains(&f.ns("a")));
        assert!(m.ifaces(&f.ns("a")).is_empty());
        assert_eq!(m.slaves("bu0").len(), 1, "b's veth stays");
        assert!(
            !m.tables[TABLE].contains("dnat to"),
            "a's port is unpublished"
        );
    }
    let a = nets.container("a").unwrap();
    assert!(a.endpoints.is_empty() && a.ports.is_empty() && a.netns.is_none());
    // Its address went back to the pool: the next start takes the lowest free one again.
    nets.setup("a").unwrap();
    assert_eq!(ips(&f, "a"), [("eth0".into(), "192.0.2.2".into())]);
}

#[test]
fn connect_and_disconnect_a_running_container() {
    let f = Fixture::new();
    let nets = f.open(&[], &[]);
    let back = user_net(&nets, "back", "198.51.100.0/24");
    register(&nets, "a", &["bridge"], &[]);
    nets.setup("a").unwrap();
    nets.connect(
        "a",
        AttachRequest {
            network: "back".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let host_veth = nets.container("a").unwrap().endpoints[&back]
        .host_veth
        .clone();
    assert_eq!(
        ips(&f, "a"),
        [
            ("eth0".into(), "192.0.2.2".into()),
            ("eth1".into(), "198.51.100.2".into())
        ]
    );
    let dup = AttachRequest {
        network: "back".into(),
        ..Default::default()
    };
    assert!(nets
        .connect("a", dup)
        .unwrap_err()
        .to_string()
        .contains("already exists"));
    nets.disconnect("a", "back").unwrap();
    let m = f.kernel.model();
    assert_eq!(m.ifaces(&f.ns("a")).len(), 1);
    assert!(
        !m.links.contains_key(&host_veth),
        "the host end went with its peer"
    );
    assert!(m.log.iter().any(|l| l == "link_delete_in eth1"));
}

#[test]
fn failed_setup_leaves_nothing_behind() {
    let f = Fixture::new();
    let nets = f.open(&[], &[]);
    register(&nets, "a", &["bridge"], &[80]);
    f.kernel.model().fail = Some("veth_add");
    assert!(nets.setup("a").is_err());
    f.kernel.model().fail = None;
    let c = nets.container("a").unwrap();
    assert!(c.endpoints.is_empty() && c.ports.is_empty() && c.netns.is_none());
    let m = f.kernel.model();
    assert!(m.netns.is_empty());
    assert!(m.links.values().all(|l| l.peer.is_none()));
    assert!(!m.tables.get(TABLE).is_some_and(|t| t.contains("dnat to")));
}

#[test]
fn ipam_survives_a_daemon_restart() {
    let f = Fixture::new();
    {
        let nets = f.open(&[], &[]);
        register(&nets, "a", &["bridge"], &[]);
        register(&nets, "b", &["bridge"], &[]);
        nets.setup("a").unwrap();
        nets.setup("b").unwrap();
    }
    // b stopped while the daemon was down; a still runs.
    let nets = f.open(&["a", "b"], &["a"]);
    assert_eq!(ips(&f, "a"), [("eth0".into(), "192.0.2.2".into())]);
    register(&nets, "c", &["bridge"], &[]);
    nets.setup("c").unwrap();
    // a keeps .2; b's .3 was released at the reconciliation and goes to c.
    assert_eq!(ips(&f, "c"), [("eth0".into(), "192.0.2.3".into())]);
    nets.setup("b").unwrap();
    assert_eq!(ips(&f, "b"), [("eth0".into(), "192.0.2.4".into())]);
}

fn stray_setup(f: &Fixture) {
    let nets = f.open(&[], &[]);
    user_net(&nets, "front", "198.51.100.0/24");
    register(&nets, "run", &["bridge"], &[80]);
    register(&nets, "stop", &["front"], &[81]);
    register(&nets, "gone", &["bridge"], &[]);
    for id in ["run", "stop", "gone"] {
        nets.setup(id).unwrap();
    }
}

#[test]
fn reconcile_removes_kernel_objects_without_state() {
    let f = Fixture::new();
    stray_setup(&f);
    let stray_ns = f.ns("0123stray");
    {
        let mut m = f.kernel.model();
        // What a crash between kernel work and the state's save leaves.
        m.netns.insert(stray_ns.clone());
        m.add_link("vethdead", Some("bu0"));
        // Not ours: a link on another bridge is left alone.
        m.add_link("other0", None);
        m.add_link("vethother", Some("other0"));
    }
    let nets = f.open(&["run", "stop"], &["run"]);
    let m = f.kernel.model();
    assert_eq!(m.netns.iter().collect::<Vec<_>>(), [&f.ns("run")]);
    assert!(!m.netns.contains(&stray_ns));
    assert!(!m.links.contains_key("vethdead"));
    assert!(m.links.contains_key("vethother"));
    assert_eq!(m.slaves("bu0").len(), 1, "run's veth stays");
    // No endpoint is left on `front`: its bridge goes at the start (docker makes it again
    // at the next endpoint).
    let front = nets.get("front").unwrap().bridge;
    assert!(!m.links.contains_key(&front));
    drop(m);
    assert!(
        nets.container("gone").is_none(),
        "unknown containers are forgotten"
    );
    let stop = nets.container("stop").unwrap();
    assert!(stop.netns.is_none() && stop.endpoints.is_empty() && stop.ports.is_empty());
    let run = nets.container("run").unwrap();
    assert_eq!(run.netns, Some(f.ns("run")));
    let table = &f.kernel.model().tables[TABLE];
    assert!(table.contains(&format!("dport {} dnat", run.ports[0].host_port)));
    assert!(!table.contains("198.51.100."), "{table}");
}

#[test]
fn reconcile_rebuilds_what_the_state_needs() {
    let f = Fixture::new();
    stray_setup(&f);
    {
        // The bridges and the table are gone (`ip link del`, `nft flush ruleset`, a reboot
        // with a persistent exec root): the running container's state needs them back.
        let mut m = f.kernel.model();
        let bridges: Vec<String> = m
            .links
            .iter()
            .filter(|(_, l)| l.peer.is_none())
            .map(|(n, _)| n.clone())
            .collect();
        for b in bridges {
            m.links.remove(&b);
        }
        m.tables.clear();
        m.log.clear();
    }
    let nets = f.open(&["run", "stop"], &["run"]);
    let m = f.kernel.model();
    let bu0 = &m.links["bu0"];
    assert_eq!(bu0.addr, Some(("192.0.2.1".parse().unwrap(), 24)));
    let port = nets.container("run").unwrap().ports[0].host_port;
    assert!(m.tables[TABLE].contains(&format!("dport {port} dnat to 192.0.2.2:80")));
    assert!(m.log.iter().any(|l| l == "bridge_ensure bu0"));
    // Opening again with nothing changed does no kernel work beyond looking.
    drop(m);
    drop(nets);
    f.kernel.model().log.clear();
    let _nets = f.open(&["run", "stop"], &["run"]);
    let log = f.kernel.model().log.clone();
    let changes: Vec<&String> = log
        .iter()
        .filter(|l| !l.starts_with("netns_list") && !l.starts_with("links"))
        .filter(|l| !l.starts_with("enable_forwarding"))
        .collect();
    // The table is applied once per daemon start (the manager does not know what is there).
    assert_eq!(changes, [&format!("nft_apply {TABLE}")]);
}

#[test]
fn shutdown_leaves_the_host_as_before_when_nothing_runs() {
    let f = Fixture::new();
    let nets = f.open(&[], &[]);
    register(&nets, "a", &["bridge"], &[80]);
    nets.setup("a").unwrap();
    nets.teardown("a");
    assert!(f.kernel.model().links.contains_key("bu0"));
    nets.shutdown();
    let m = f.kernel.model();
    assert!(m.links.is_empty() && m.netns.is_empty() && m.tables.is_empty());
}
