//! Faults during a pull: a corrupted byte, a dropped connection (resumed with Range), and a
//! registry that dies mid-layer (clean failure, then a retry that succeeds).

use std::path::Path;

use crate::common::{self, stdout, Daemon};
use crate::support::{
    self, file_layer, random_bytes, skopeo, Fault, Layout, Proxy, Registry, TempDir,
};
use crate::{berth, host_arch, images_json, ingest_files, ok};

/// A 24 MB incompressible layer behind the proxy, throttled so faults land mid-layer.
fn big_image(work: &Path, reg: &Registry) -> String {
    let layout = Layout::new(&work.join("oci-big"));
    let big = file_layer(work, "big.bin", &random_bytes(24 << 20));
    let m = layout.image(&[common::rootfs_tar(), big], host_arch(), &["/bin/sh"]);
    layout.finish("big", vec![m], false);
    skopeo(&[
        "copy",
        "-q",
        "--dest-tls-verify=false",
        &format!("oci:{}:big", layout.dir.display()),
        &format!("docker://{}/big/img:1", reg.host()),
    ]);
    "big/img:1".to_owned()
}

#[test]
fn dropped_connection_resumes_with_range_and_corruption_fails_cleanly() {
    let work = TempDir::new("faults");
    let reg = Registry::start();
    let repo = big_image(&work.0, &reg);
    let d = Daemon::start();
    let cfg = work.0.join("cfg");

    // Corrupt one byte 10 MB in: the pull fails and leaves nothing.
    let p = Proxy::start(
        support::free_port(),
        reg.port,
        Fault::CorruptAfter(10 << 20),
        0,
    );
    let o = berth(
        &d,
        &cfg,
        &["pull", &format!("127.0.0.1:{}/{repo}", p.port)],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(images_json(&d).is_empty());
    assert!(ingest_files(&d).is_empty(), "{:?}", ingest_files(&d));
    drop(p);

    // The connection drops 10 MB in: resumed with a Range request, pull succeeds.
    let p = Proxy::start(
        support::free_port(),
        reg.port,
        Fault::DropOnceAfter(10 << 20),
        0,
    );
    let name = format!("127.0.0.1:{}/{repo}", p.port);
    let out = ok(&d, &cfg, &["pull", &name]);
    assert!(p.tripped.load(std::sync::atomic::Ordering::SeqCst));
    assert!(out.contains("Downloaded newer image"), "{out}");
    let size = ok(&d, &cfg, &["run", "--rm", &name, "wc", "-c", "/big.bin"]);
    assert!(size.trim().starts_with(&(24 << 20).to_string()), "{size}");
}

#[test]
fn registry_killed_mid_pull_fails_cleanly_and_a_retry_succeeds() {
    let work = TempDir::new("kill");
    let mut reg = Registry::start();
    let repo = big_image(&work.0, &reg);
    let d = Daemon::start();
    let cfg = work.0.join("cfg");
    let port = support::free_port();
    {
        let p = Proxy::start(port, reg.port, Fault::DieAfter(8 << 20), 32 << 20);
        let o = berth(
            &d,
            &cfg,
            &["pull", &format!("127.0.0.1:{port}/{repo}")],
            None,
        );
        assert!(p.tripped.load(std::sync::atomic::Ordering::SeqCst));
        reg.kill();
        assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
        assert!(images_json(&d).is_empty());
        assert!(ingest_files(&d).is_empty(), "{:?}", ingest_files(&d));
    }
    reg.restart();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let _p = Proxy::start(port, reg.port, Fault::None, 0);
    let out = ok(&d, &cfg, &["pull", &format!("127.0.0.1:{port}/{repo}")]);
    assert!(out.contains("Downloaded newer image"), "{out}");
    assert_eq!(images_json(&d).len(), 1);
}
