//! Engine tests that need no running container: create/list/inspect/remove, names, errors,
//! and reloading records on open. (Running containers are covered end to end in
//! `crates/berth/tests/`.)
#![allow(clippy::unwrap_used)]

use super::*;

fn rootfs_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    b.append_data(&mut h, "etc/", &[][..]).unwrap();
    let data = b"root:x:0:0:root:/root:/bin/sh\n";
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    b.append_data(&mut h, "etc/passwd", &data[..]).unwrap();
    b.into_inner().unwrap()
}

fn engine(dir: &std::path::Path) -> Arc<Engine> {
    let mut cfg = EngineConfig::new(dir.join("data"), dir.join("exec"));
    cfg.shim_binary = "/nonexistent/berth-shim".into();
    Engine::open(cfg).unwrap()
}

fn req(image: &str, cmd: &[&str]) -> CreateRequest {
    CreateRequest {
        config: ContainerConfig {
            image: image.into(),
            cmd: Some(cmd.iter().map(|s| (*s).to_owned()).collect()),
            ..Default::default()
        },
        host_config: None,
        networking_config: None,
    }
}

#[test]
fn create_list_inspect_remove() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let image_id = e
        .images()
        .import(&rootfs_tar()[..], Some("tiny:1"))
        .unwrap();
    assert_eq!(e.images().list()[0].repo_tags, ["tiny:1"]);

    let err = e
        .containers()
        .create(req("nosuch", &["true"]), None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.to_string(), "No such image: nosuch:latest");
    let err = e.containers().create(req("tiny:1", &[]), None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidParameter);
    let err = e
        .containers()
        .create(req("tiny:1", &["true"]), Some("bad name"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidParameter);

    let id = e
        .containers()
        .create(req("tiny:1", &["echo", "hi"]), Some("web"))
        .unwrap();
    let err = e
        .containers()
        .create(req("tiny:1", &["true"]), Some("/web"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.to_string().contains(&id), "{err}");

    assert!(e.containers().list(false).is_empty());
    let all = e.containers().list(true);
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].status.as_str(), all[0].command.as_str()),
        ("Created", "echo hi")
    );
    let i = e.containers().inspect(&id[..8]).unwrap();
    assert_eq!(
        (i.record.name.as_str(), i.record.image.as_str()),
        ("/web", image_id.as_str())
    );
    assert_eq!(i.record.config.hostname, id[..12]);
    assert_eq!(e.containers().inspect("web").unwrap().record.id, id);
    assert_eq!(e.containers().info().stopped, 1);

    // The image is in use; a running-only operation is refused on a created container.
    assert_eq!(
        e.images().remove("tiny:1", false).unwrap_err().kind(),
        ErrorKind::Conflict
    );
    assert_eq!(
        e.containers().kill("web", None).unwrap_err().kind(),
        ErrorKind::Conflict
    );
    assert!(!e.containers().stop("web", Some(0)).unwrap());
    assert_eq!(
        e.containers()
            .wait("web", WaitCondition::NotRunning)
            .unwrap()
            .wait()
            .unwrap()
            .status_code,
        0
    );

    e.containers().remove("web", false).unwrap();
    assert_eq!(
        e.containers().inspect("web").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert!(!dir.path().join("data/containers").join(&id).exists());
    let gone = e.images().remove("tiny:1", false).unwrap();
    assert!(
        gone.contains(&ImageDeleteItem::Untagged("tiny:1".into())),
        "{gone:?}"
    );
}

#[test]
fn records_survive_reopen_and_start_errors_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let e = engine(dir.path());
        e.images().import(&rootfs_tar()[..], Some("tiny")).unwrap();
        let id = e
            .containers()
            .create(req("tiny", &["true"]), Some("keep"))
            .unwrap();
        // No shim binary: start fails, cleanly, with the reason recorded.
        let err = e.containers().start("keep").unwrap_err();
        assert!(
            err.to_string().contains("spawn /nonexistent/berth-shim"),
            "{err}"
        );
        let rec = e.containers().inspect("keep").unwrap().record;
        assert!(!rec.state.running);
        assert!(rec.state.error.contains("berth-shim"));
        id
    };
    // The exit watcher may hold the old engine for a moment after it is dropped.
    let mut cfg = EngineConfig::new(dir.path().join("data"), dir.path().join("exec"));
    cfg.shim_binary = "/nonexistent/berth-shim".into();
    let mut e = Engine::open(cfg.clone());
    for _ in 0..100 {
        if e.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        e = Engine::open(cfg.clone());
    }
    let e = e.unwrap();
    assert_eq!(e.containers().inspect("keep").unwrap().record.id, id);
    e.containers().remove(&id, true).unwrap();
    assert!(e.containers().list(true).is_empty());
}
