//! End-to-end networking: user networks with DNS, published ports (127.0.0.1 included),
//! `none`/`host` modes, live `connect`, daemon restarts. Every test runs its own daemon with
//! its own bridge, subnet and nftables table, and checks at the end that nothing it made is
//! left on the host (links, namespaces, the table). Traffic goes only to 127.0.0.1 and to the
//! test's containers.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{stderr, stdout, Daemon};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A daemon with a default bridge of its own, plus what the test must find cleaned up.
struct NetDaemon {
    d: Option<Daemon>,
    bridge: String,
    /// 10.A.B.0/24, unique per test process: .0/26 default bridge, .64/26 and .128/26 user
    /// networks.
    prefix: String,
}

fn host(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd).args(args).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn links() -> BTreeSet<String> {
    host("ip", &["-o", "link", "show"])
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_owned())
        .collect()
}

fn nft_tables() -> String {
    host("nft", &["list", "tables"])
}

impl NetDaemon {
    fn start() -> NetDaemon {
        let pid = std::process::id();
        let seq = SEQ.fetch_add(1, Ordering::SeqCst);
        let bridge = format!("bt{:x}{}", pid & 0xfffff, seq);
        // Unique per process; bump the second octet for a second daemon of the same process.
        let prefix = format!(
            "10.{}.{}",
            ((pid >> 8) & 0x7f) + 128 * (seq & 1),
            pid & 0xff
        );
        let bip = format!("{prefix}.1/26");
        let d = Daemon::start_with(&["--bridge", &bridge, "--bip", &bip]);
        d.import_busybox();
        NetDaemon {
            d: Some(d),
            bridge,
            prefix,
        }
    }

    fn d(&self) -> &Daemon {
        self.d.as_ref().unwrap()
    }

    /// The nft table of this daemon (named after its data root).
    fn table(&self) -> String {
        common::nft_table(&self.d().dir.join("data"))
    }

    /// Host-side veths enslaved to `bridge`.
    fn veths_of(&self, bridge: &str) -> Vec<String> {
        host("ip", &["-o", "link", "show", "master", bridge])
            .lines()
            .filter_map(|l| l.split(':').nth(1))
            .map(|n| n.trim().split('@').next().unwrap_or("").to_owned())
            .collect()
    }

    /// Removes everything through the daemon, stops it, and checks the host is clean: no
    /// bridge, veth, table or namespace of ours is left.
    fn finish(mut self, extra_links: &[String]) {
        let table = self.table();
        let exec = self.d().dir.join("exec/netns");
        let mut ours: Vec<String> = extra_links.to_vec();
        ours.push(self.bridge.clone());
        ours.extend(self.veths_of(&self.bridge));
        self.shutdown();
        // The namespaces' veths go with them, asynchronously in the kernel.
        let deadline = Instant::now() + Duration::from_secs(5);
        while ours.iter().any(|l| links().contains(l)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let now = links();
        for l in &ours {
            assert!(!now.contains(l), "link {l} left behind: {now:?}");
        }
        assert!(
            !nft_tables().contains(&table),
            "nft table {table} left behind"
        );
        let left = std::fs::read_dir(&exec).map(|r| r.count()).unwrap_or(0);
        assert_eq!(left, 0, "network namespaces left in {}", exec.display());
        assert!(!host("ip", &["netns", "list"]).contains(&self.bridge));
    }
}

impl NetDaemon {
    /// Removes every container, stops the daemon gracefully (it then removes its unused
    /// bridges and its table), and lets the harness's guard run.
    fn shutdown(&mut self) {
        if let Some(mut d) = self.d.take() {
            let ids = d.berth(&["ps", "-a", "-q", "--no-trunc"]);
            for id in String::from_utf8_lossy(&ids.stdout).lines() {
                let _ = d.berth(&["rm", "-f", id]);
            }
            d.terminate();
            drop(d);
        }
    }
}

impl Drop for NetDaemon {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A loopback port nobody listens on.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// busybox httpd serving "hello-NAME" at /index.html on port 80.
fn httpd_args(name: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "mkdir -p /www && echo hello-{name} > /www/index.html && exec httpd -f -p 80 -h /www"
        ),
    ]
}

fn curl(url: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let o = Command::new("curl")
            .args(["-s", "--max-time", "2", url])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        if o.status.success() || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn run_d(d: &Daemon, args: &[&str], cmd: &[String]) -> String {
    let mut a: Vec<&str> = vec!["run", "-d"];
    a.extend_from_slice(args);
    a.push("busybox");
    a.extend(cmd.iter().map(String::as_str));
    d.ok(&a).trim().to_owned()
}

#[test]
fn user_network_resolves_names_aliases_and_short_ids() {
    let n = NetDaemon::start();
    let d = n.d();
    let subnet = format!("{}.64/26", n.prefix);
    let net_id = d
        .ok(&["network", "create", "--subnet", &subnet, "appnet"])
        .trim()
        .to_owned();
    assert_eq!(net_id.len(), 64);
    let web = run_d(
        d,
        &[
            "--name",
            "web",
            "--network",
            "appnet",
            "--network-alias",
            "www",
        ],
        &httpd_args("web"),
    );
    let insp = d.ok(&[
        "inspect",
        "--format",
        "{{.NetworkSettings.Networks.appnet.IPAddress}}",
        "web",
    ]);
    let web_ip = insp.trim().to_owned();
    assert!(web_ip.starts_with(&n.prefix), "{web_ip}");
    let bridge = format!("br-{}", &net_id[..12]);
    // Lookups go to the network's DNS server; the answer is then used with nc (busybox's own
    // name resolution in nc/wget is unusable in a static build).
    let script = format!(
        "for n in web www {short}; do ip=$(nslookup $n | awk '/^Address/ {{a=$NF}} END {{print a}}'); \
         echo \"$n=$ip\"; printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc $ip 80 | tail -n 1; done",
        short = &web[..12]
    );
    let o = d.berth(&[
        "run",
        "--rm",
        "--network",
        "appnet",
        "busybox",
        "sh",
        "-c",
        &script,
    ]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    for name in ["web", "www", &web[..12]] {
        assert!(out.contains(&format!("{name}={web_ip}\n")), "{name}: {out}");
    }
    assert_eq!(out.matches("hello-web").count(), 3, "{out}");
    // The network's inspect lists the container; a network in use cannot be removed.
    let ni = d.ok(&["network", "inspect", "appnet"]);
    assert!(ni.contains(&web) && ni.contains(&subnet), "{ni}");
    let o = d.berth(&["network", "rm", "appnet"]);
    assert!(!o.status.success() && stderr(&o).contains("active endpoints"));
    let ls = d.ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    assert!(
        ls.contains("appnet bridge") && ls.contains("host host"),
        "{ls}"
    );
    d.ok(&["rm", "-f", "web"]);
    // As in docker, the bridge lives as long as the network.
    assert!(links().contains(&bridge), "{bridge} missing");
    assert_eq!(d.ok(&["network", "rm", "appnet"]).trim(), "appnet");
    assert!(!links().contains(&bridge), "{bridge} left after network rm");
    n.finish(&[bridge]);
}

#[test]
fn published_port_answers_on_loopback_and_container_ip() {
    let n = NetDaemon::start();
    let d = n.d();
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let id = run_d(d, &["--name", "pub", "-p", &publish], &httpd_args("pub"));
    let ip = d
        .ok(&["inspect", "--format", "{{.NetworkSettings.IPAddress}}", &id])
        .trim()
        .to_owned();
    assert!(ip.starts_with(&n.prefix), "{ip}");
    assert_eq!(
        curl(&format!("http://127.0.0.1:{port}/index.html")),
        "hello-pub\n"
    );
    assert_eq!(curl(&format!("http://{ip}/index.html")), "hello-pub\n");
    assert_eq!(
        d.ok(&["port", "pub"]).trim(),
        format!("80/tcp -> 127.0.0.1:{port}")
    );
    let col = d.ok(&["ps", "--format", "{{.Ports}}"]);
    assert_eq!(col.trim(), format!("127.0.0.1:{port}->80/tcp"));
    let ps = d.ok(&[
        "inspect",
        "--format",
        "{{json .NetworkSettings.Ports}}",
        "pub",
    ]);
    assert!(ps.contains(&format!("\"HostPort\":\"{port}\"")), "{ps}");
    // The same host port again: a clear error at start, nothing half set up.
    let veths = n.veths_of(&n.bridge);
    let o = d.berth(&[
        "run", "-d", "--name", "dup", "-p", &publish, "busybox", "sleep", "100",
    ]);
    assert_eq!(o.status.code(), Some(125), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("port is already allocated"),
        "{}",
        stderr(&o)
    );
    assert_eq!(n.veths_of(&n.bridge), veths);
    // Stopping the first frees the port for another container.
    d.ok(&["rm", "-f", "pub"]);
    run_d(
        d,
        &["--name", "again", "-p", &publish],
        &httpd_args("again"),
    );
    assert_eq!(
        curl(&format!("http://127.0.0.1:{port}/index.html")),
        "hello-again\n"
    );
    // -P publishes the exposed ports on random host ports from docker's range.
    d.ok(&[
        "run", "-d", "--name", "all", "--expose", "8080", "-P", "busybox", "sleep", "100",
    ]);
    let p = d.ok(&["port", "all", "8080"]);
    let host_port: u16 = p.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert!(p.starts_with("0.0.0.0:") && host_port >= 32768, "{p}");
    n.finish(&[]);
}

#[test]
fn none_and_host_modes() {
    let n = NetDaemon::start();
    let d = n.d();
    let o = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ip",
        "-o",
        "link",
    ]);
    let names: Vec<&str> = o
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(str::trim)
        .collect();
    assert_eq!(names, ["lo"], "{o}");
    let before = links();
    let o = d.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "ip",
        "-o",
        "link",
    ]);
    let after = links();
    // Interfaces the host had throughout the run (others' tests come and go meanwhile).
    for l in before.intersection(&after) {
        assert!(o.contains(&format!(": {l}")), "{l} missing in {o}");
    }
    // The default network gives eth0 with an address from the bridge's subnet and a default
    // route, and the /etc files.
    let o = d.ok(&[
        "run",
        "--rm",
        "--hostname",
        "box",
        "--add-host",
        "db:10.9.9.9",
        "--dns",
        "10.1.1.1",
        "busybox",
        "sh",
        "-c",
        "ip -o -4 addr show eth0; ip route; cat /etc/hostname /etc/hosts /etc/resolv.conf",
    ]);
    assert!(o.contains(&format!("inet {}.", n.prefix)), "{o}");
    assert!(o.contains(&format!("default via {}.1", n.prefix)), "{o}");
    assert!(o.contains("box\n") && o.contains("10.9.9.9\tdb"), "{o}");
    assert!(o.contains("nameserver 10.1.1.1"), "{o}");
    n.finish(&[]);
}

#[test]
fn connect_and_disconnect_live() {
    let n = NetDaemon::start();
    let d = n.d();
    let subnet = format!("{}.128/26", n.prefix);
    let net_id = d
        .ok(&["network", "create", "--subnet", &subnet, "side"])
        .trim()
        .to_owned();
    d.ok(&["run", "-d", "--name", "c1", "busybox", "sleep", "1000"]);
    let before = d.ok(&["exec", "c1", "ip", "-o", "-4", "addr"]);
    assert!(!before.contains("eth1"), "{before}");
    d.ok(&[
        "network",
        "connect",
        "--ip",
        &format!("{}.140", n.prefix),
        "side",
        "c1",
    ]);
    let after = d.ok(&["exec", "c1", "ip", "-o", "-4", "addr"]);
    assert!(
        after.contains(&format!("eth1    inet {}.140/26", n.prefix))
            || after.contains(&format!("inet {}.140/26", n.prefix)),
        "{after}"
    );
    let ip = d.ok(&[
        "inspect",
        "--format",
        "{{.NetworkSettings.Networks.side.IPAddress}}",
        "c1",
    ]);
    assert_eq!(ip.trim(), format!("{}.140", n.prefix));
    d.ok(&["network", "disconnect", "side", "c1"]);
    let gone = d.ok(&["exec", "c1", "ip", "-o", "-4", "addr"]);
    assert!(!gone.contains("eth1"), "{gone}");
    let bridge = format!("br-{}", &net_id[..12]);
    d.ok(&["rm", "-f", "c1"]);
    let pruned = d.ok(&["network", "prune", "-f"]);
    assert!(pruned.contains("side"), "{pruned}");
    n.finish(&[bridge]);
}

#[test]
fn daemon_restart_keeps_networks_and_addresses() {
    let mut n = NetDaemon::start();
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let subnet = format!("{}.64/26", n.prefix);
    let d = n.d.as_mut().unwrap();
    d.ok(&["network", "create", "--subnet", &subnet, "keep"]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "keeper",
        "-p",
        &publish,
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo kept > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    let ip = d.ok(&[
        "inspect",
        "--format",
        "{{.NetworkSettings.IPAddress}}",
        "keeper",
    ]);
    // A container that is gone when the daemon comes back: its network must be reclaimed.
    d.ok(&["run", "-d", "--name", "gone", "busybox", "sleep", "1000"]);
    let gone_pid = d.ok(&["inspect", "--format", "{{.State.Pid}}", "gone"]);
    let gone_id = d.ok(&["inspect", "--format", "{{.Id}}", "gone"]);
    d.kill9();
    let pid: i32 = gone_pid.trim().parse().unwrap();
    // SAFETY: killing the test's own container process.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    // Gone once its shim reaped it and recorded the exit.
    let exit_file = d
        .dir
        .join("exec/containers")
        .join(gone_id.trim())
        .join("exit.json");
    common::wait_until(
        "the killed container's exit.json",
        Duration::from_secs(10),
        || exit_file.exists(),
    );
    d.start_again();
    let ip2 = d.ok(&[
        "inspect",
        "--format",
        "{{.NetworkSettings.IPAddress}}",
        "keeper",
    ]);
    assert_eq!(ip, ip2);
    assert!(d.ok(&["network", "ls"]).contains("keep"));
    assert_eq!(
        curl(&format!("http://127.0.0.1:{port}/index.html")),
        "kept\n"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while n.veths_of(&n.bridge).len() > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let veths = n.veths_of(&n.bridge);
    assert_eq!(
        veths.len(),
        1,
        "the dead container's veth was not reclaimed: {veths:?}"
    );
    n.finish(&[]);
}

#[test]
fn build_run_steps_use_the_default_bridge_unless_told_otherwise() {
    let n = NetDaemon::start();
    let d = n.d();
    let web = run_d(d, &[], &httpd_args("builder"));
    let ip = d
        .ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", &web])
        .trim()
        .to_owned();
    assert!(ip.starts_with(&n.prefix), "{ip}");
    let ctx = d.dir.join("netctx");
    std::fs::create_dir_all(&ctx).unwrap();
    let fetch = format!(
        "FROM busybox\nRUN for i in 1 2 3 4 5 6 7 8 9 10; do printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {ip} 80 > /got && grep -q hello /got && break; sleep 0.3; done; ip -4 -o addr show eth0 > /addr || echo no-eth0 > /addr\nCMD [\"cat\", \"/got\", \"/addr\"]\n"
    );
    std::fs::write(ctx.join("Dockerfile"), &fetch).unwrap();
    let o = d.berth(&["build", "-t", "fetched", ctx.to_str().unwrap()]);
    assert!(o.status.success(), "{}\n{}", stderr(&o), d.log());
    let out = d.ok(&["run", "--rm", "fetched"]);
    assert!(out.contains("hello-builder"), "{out}");
    assert!(out.contains(&format!("inet {}.", n.prefix)), "{out}");
    // --network none: only loopback, the server cannot be reached.
    let o = d.berth(&[
        "build",
        "--no-cache",
        "--network",
        "none",
        "-t",
        "isolated",
        ctx.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = d.ok(&["run", "--rm", "isolated"]);
    assert!(
        !out.contains("hello-builder") && out.contains("no-eth0"),
        "{out}"
    );
    d.ok(&["rm", "-f", &web]);
    n.finish(&[]);
}
