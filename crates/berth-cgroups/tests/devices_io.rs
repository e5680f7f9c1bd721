//! Real-kernel tests of device rules (v1's devices controller, v2's eBPF program) and block
//! I/O throttling and statistics; see `kernel.rs` for how these tests run and clean up.

use std::path::Path;
use std::time::Duration;

use berth_cgroups::{devices, devices_ebpf, Layout};

mod common;

use common::{
    dir_for, finish, gated, is_root, read, release, res, unique, CleanDir, Guard, RemoveFile,
};

/// Devices are enforced, through v1's devices controller or v2's eBPF program.
#[test]
fn device_rules_are_enforced() {
    if !is_root() {
        return;
    }
    let (m, mut g) = Guard::fresh();
    let rules = r#"{"devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "r"}]}"#;
    m.apply(&res(rules)).expect("apply devices");
    // Applying again replaces (v2: one program stays attached).
    m.apply(&res(rules)).expect("apply devices again");
    if let Some(u) = m.unified_path() {
        assert_eq!(devices_ebpf::attached_count(&u).expect("query"), 1);
    }
    let mut child = gated(
        "echo x > /dev/null && echo null-ok; \
         head -c 1 /dev/zero > /dev/null && echo zero-ok; \
         head -c 1 /dev/urandom > /dev/null && echo urandom-read-ok; \
         echo x > /dev/urandom && echo urandom-write-ok; true",
    );
    m.add_task(child.id() as i32).expect("add_task");
    release(&mut child);
    let (out, err) = finish(&mut child, Duration::from_secs(10));
    g.children.push(child);
    assert!(out.contains("null-ok"), "out {out:?} err {err:?}");
    assert!(out.contains("urandom-read-ok"), "out {out:?} err {err:?}");
    assert!(
        !out.contains("zero-ok"),
        "/dev/zero must be denied: {out:?}"
    );
    assert!(
        !out.contains("urandom-write-ok"),
        "write must be denied: {out:?}"
    );
    assert!(err.contains("not permitted"), "{err:?}");
}

/// The eBPF device program on any cgroup2 mount (hybrid hosts included), loaded and
/// attached directly.
#[test]
fn ebpf_program_loads_and_filters_on_cgroup2() {
    if !is_root() {
        return;
    }
    let Some(u) = Layout::detect().expect("detect").unified else {
        eprintln!("skipped: no cgroup2 mount");
        return;
    };
    let dir = u.mount_point.join(unique());
    std::fs::create_dir(&dir).expect("mkdir");
    let cleanup = CleanDir(dir.clone());
    let list: Vec<oci_spec::runtime::LinuxDeviceCgroup> = serde_json::from_str(
        r#"[{"allow": true, "access": "rwm"},
            {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "r"}]"#,
    )
    .expect("json");
    let rules = devices::from_oci(&list).expect("rules");
    devices_ebpf::attach(&dir, &rules).expect("attach");
    devices_ebpf::attach(&dir, &rules).expect("replace");
    assert_eq!(devices_ebpf::attached_count(&dir).expect("query"), 1);
    let mut child = gated(
        "head -c 1 /dev/zero > /dev/null && echo zero-ok; echo x > /dev/zero && echo zero-w-ok; true",
    );
    std::fs::write(dir.join("cgroup.procs"), child.id().to_string()).expect("join");
    release(&mut child);
    let (out, _err) = finish(&mut child, Duration::from_secs(10));
    assert!(
        !out.contains("zero-ok"),
        "read of /dev/zero denied: {out:?}"
    );
    assert!(
        out.contains("zero-w-ok"),
        "write of /dev/zero allowed: {out:?}"
    );
    drop(cleanup);
}

/// A block device of this machine ("name", "major:minor"), preferring real disks.
fn block_device() -> Option<(String, String)> {
    let mut devs: Vec<(String, String)> = std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let dev = std::fs::read_to_string(e.path().join("dev")).ok()?;
            Some((name, dev.trim().to_string()))
        })
        .collect();
    devs.sort_by_key(|(n, _)| {
        (
            n.starts_with("loop") || n.starts_with("zram") || n.starts_with("ram"),
            n.clone(),
        )
    });
    devs.into_iter().next()
}

#[test]
fn block_io_throttle_and_stats() {
    if !is_root() {
        return;
    }
    let Some((name, dev)) = block_device() else {
        eprintln!("skipped: no block device");
        return;
    };
    let (major, minor) = dev.split_once(':').expect("major:minor");
    let (m, mut g) = Guard::fresh();
    m.apply(&res(&format!(
        r#"{{"blockIO": {{
            "throttleReadBpsDevice": [{{"major": {major}, "minor": {minor}, "rate": 104857600}}],
            "throttleWriteIOPSDevice": [{{"major": {major}, "minor": {minor}, "rate": 1000}}]}}}}"#
    )))
    .expect("apply");
    if let Some(u) = m.unified_path() {
        let line = read(&u.join("io.max"));
        assert!(
            line.contains(&format!(
                "{dev} rbps=104857600 wbps=max riops=max wiops=1000"
            )),
            "{line:?}"
        );
    } else {
        let d = dir_for(&m, "blkio");
        assert_eq!(
            read(&d.join("blkio.throttle.read_bps_device")),
            format!("{dev} 104857600")
        );
        assert_eq!(
            read(&d.join("blkio.throttle.write_iops_device")),
            format!("{dev} 1000")
        );
    }
    // Direct reads show up in the stats (direct I/O skips the page cache): of the device
    // itself when we may open it, else of a file on a block-device filesystem.
    let size: u64 = std::fs::read_to_string(format!("/sys/block/{name}/size"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let raw = Path::new("/dev").join(&name);
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.io", unique()));
    let _rm = RemoveFile(file.clone());
    let source = if size >= 2048 && std::fs::File::open(&raw).is_ok() {
        raw
    } else {
        std::fs::write(&file, vec![7u8; 1 << 20]).expect("write test file");
        let st_dev = std::fs::metadata(&file)
            .map(|m| std::os::unix::fs::MetadataExt::dev(&m))
            .expect("stat");
        let (fmaj, fmin) = (libc::major(st_dev), libc::minor(st_dev));
        if !Path::new(&format!("/sys/dev/block/{fmaj}:{fmin}")).exists() {
            eprintln!("note: no readable block device; I/O stats not exercised");
            return;
        }
        file.clone()
    };
    let mut child = gated(&format!(
        "dd if={} of=/dev/null bs=65536 count=16 iflag=direct 2>/dev/null",
        source.display()
    ));
    m.add_task(child.id() as i32).expect("add_task");
    release(&mut child);
    finish(&mut child, Duration::from_secs(30));
    g.children.push(child);
    let st = m.stats().expect("stats");
    let read_bytes: u64 = st
        .blkio
        .service_bytes
        .iter()
        .filter(|e| e.op == "Read")
        .map(|e| e.value)
        .sum();
    assert!(
        read_bytes >= 1 << 20,
        "read bytes {read_bytes}: {:?}",
        st.blkio
    );
    assert!(st
        .blkio
        .serviced
        .iter()
        .any(|e| e.op == "Read" && e.value > 0));
}
