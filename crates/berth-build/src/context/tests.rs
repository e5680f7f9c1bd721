#![allow(clippy::unwrap_used)]

use std::io::Write;

use super::*;

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, p, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn spool_dir_count(root: &Path) -> usize {
    std::fs::read_dir(root).map_or(0, |d| d.count())
}

#[test]
fn reads_tar_and_applies_dockerignore() {
    let t = tar_of(&[
        ("Dockerfile", b"FROM scratch\n"),
        (".dockerignore", b"*.log\nDockerfile\n"),
        ("./src/a.txt", b"a"),
        ("x.log", b"log"),
    ]);
    let ctx = Context::from_tar(&t[..], "Dockerfile").unwrap();
    // An excluded Dockerfile is read by the builder but not seen by COPY (docker's rule);
    // the same with the default name (no `dockerfile` given).
    assert!(ctx.file("Dockerfile").is_none());
    assert_eq!(
        ctx.read_text("Dockerfile").unwrap(),
        Some(b"FROM scratch\n".to_vec())
    );
    let by_default = Context::from_tar(&t[..], "").unwrap();
    assert!(by_default.read_text("Dockerfile").unwrap().is_some());
    assert!(ctx.file(".dockerignore").is_some());
    assert!(ctx.file("x.log").is_none());
    assert_eq!(ctx.read_text("src/a.txt").unwrap(), Some(b"a".to_vec()));
    assert!(ctx.is_dir("src"));
    let under: Vec<&str> = ctx.under("src").map(|(p, _)| p).collect();
    assert_eq!(under, vec!["a.txt"]);
}

#[test]
fn spooled_files_live_on_disk_until_the_context_is_dropped() {
    let root = tempfile::tempdir().unwrap();
    let big = vec![7u8; 300_000];
    let t = gzip(&tar_of(&[("Dockerfile", b"FROM scratch\n"), ("big", &big)]));
    let ctx = Context::spool(&t[..], root.path(), "Dockerfile", &ContextLimits::default()).unwrap();
    match ctx.file("big") {
        Some(FileData::Spooled { path, size }) => {
            assert_eq!(*size, 300_000);
            assert_eq!(std::fs::read(path).unwrap(), big);
        }
        other => panic!("not spooled: {other:?}"),
    }
    let e = ctx.entries.get("big").unwrap();
    assert_eq!(e.hash().unwrap().len(), 64);
    assert_eq!(spool_dir_count(root.path()), 1);
    drop(ctx);
    assert_eq!(spool_dir_count(root.path()), 0);
}

#[test]
fn size_and_entry_caps_are_errors_and_leave_nothing() {
    let root = tempfile::tempdir().unwrap();
    let t = gzip(&tar_of(&[
        ("Dockerfile", b"FROM scratch\n"),
        ("big", &[0u8; 100_000]),
    ]));
    let small = ContextLimits {
        max_bytes: 50_000,
        max_entries: 10,
    };
    let e = Context::spool(&t[..], root.path(), "Dockerfile", &small).unwrap_err();
    assert!(matches!(e, BuildError::TooLarge(_)), "{e}");
    // Declared sizes fit, the decompressed stream (headers, padding) does not.
    let tight = ContextLimits {
        max_bytes: 100_013 + 100,
        max_entries: 10,
    };
    let e = Context::spool(&t[..], root.path(), "Dockerfile", &tight).unwrap_err();
    assert!(matches!(e, BuildError::TooLarge(_)), "{e}");
    let few = ContextLimits {
        max_bytes: 1 << 20,
        max_entries: 1,
    };
    let e = Context::spool(&t[..], root.path(), "Dockerfile", &few).unwrap_err();
    assert!(matches!(e, BuildError::TooLarge(_)), "{e}");
    assert_eq!(spool_dir_count(root.path()), 0);
    // At the cap exactly is fine.
    let exact = ContextLimits {
        max_bytes: tar_of(&[("Dockerfile", b"FROM scratch\n"), ("big", &[0u8; 100_000])]).len()
            as u64,
        max_entries: 2,
    };
    assert!(Context::spool(&t[..], root.path(), "Dockerfile", &exact).is_ok());
}

#[test]
fn long_names_are_capped_and_pax_paths_honoured() {
    let mut b = tar::Builder::new(Vec::new());
    let long = format!("{}/f", "d".repeat(200));
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    b.append_data(&mut h, &long, &b"x"[..]).unwrap();
    let t = b.into_inner().unwrap();
    let ctx = Context::from_tar(&t[..], "Dockerfile").unwrap();
    assert!(ctx.file(&long).is_some(), "{:?}", ctx.entries.keys());

    let mut b = tar::Builder::new(Vec::new());
    let huge = "x".repeat(5000);
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    b.append_data(&mut h, &huge, &b"x"[..]).unwrap();
    let t = b.into_inner().unwrap();
    assert!(Context::from_tar(&t[..], "Dockerfile").is_err());
}

#[test]
fn truncated_cli_stream_and_bare_dockerfile() {
    let root = tempfile::tempdir().unwrap();
    let mut t = tar_of(&[("Dockerfile", b"FROM scratch\n"), ("a", b"abc")]);
    // As the docker CLI sends `-f` from outside the context: no padding, no end blocks.
    t.truncate(512 * 3 + 3);
    let ctx = Context::spool(&t[..], root.path(), "Dockerfile", &ContextLimits::default()).unwrap();
    assert_eq!(ctx.read_text("a").unwrap(), Some(b"abc".to_vec()));
    let df = b"FROM scratch\nCOPY a /\n";
    let ctx = Context::spool(&df[..], root.path(), "x", &ContextLimits::default()).unwrap();
    assert_eq!(ctx.read_text("Dockerfile").unwrap(), Some(df.to_vec()));
}
