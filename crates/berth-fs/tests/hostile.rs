//! Every hostile case, through every resolver: what a malicious root can plant (absolute and
//! `..` symlinks, loops, magic links, dangling links, non-UTF-8 names, renames racing the
//! lookup) must never make a lookup reach outside it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use berth_fs::{Resolver, Root};
use nix::fcntl::OFlag;

/// The resolvers this kernel can run: the walk always, openat2 where it exists.
fn resolvers() -> Vec<Resolver> {
    let mut v = vec![Resolver::Walk];
    if berth_fs::openat2_supported() {
        v.push(Resolver::Openat2);
    }
    v
}

/// A temp dir holding `root/` and, beside it, `outside/` with a marker the root must never
/// reach.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("root/etc")).unwrap();
        fs::write(dir.path().join("root/etc/passwd"), "inside").unwrap();
        fs::create_dir_all(dir.path().join("outside/etc")).unwrap();
        fs::write(dir.path().join("outside/etc/passwd"), "OUTSIDE").unwrap();
        Fixture { dir }
    }
    fn root_path(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    fn outside(&self) -> PathBuf {
        self.dir.path().join("outside")
    }
    fn root(&self, r: Resolver) -> Root {
        Root::open(&self.root_path()).unwrap().with_resolver(r)
    }
    fn link(&self, target: impl AsRef<Path>, at: &str) {
        let p = self.root_path().join(at);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        symlink(target, p).unwrap();
    }
}

fn read_fd(fd: OwnedFd) -> String {
    let mut s = String::new();
    fs::File::from(fd).read_to_string(&mut s).unwrap();
    s
}

fn host_path(fd: &OwnedFd) -> PathBuf {
    fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap()
}

fn errno(e: std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(-1)
}

#[test]
fn absolute_symlinks_resolve_inside_the_root() {
    let f = Fixture::new();
    f.link(f.outside(), "abs");
    f.link("/", "up");
    for r in resolvers() {
        let root = f.root(r);
        // On the host `abs` points at outside/; in the root it names root/<outside path>.
        let e = root
            .open_at("/abs/etc/passwd", OFlag::O_RDONLY, 0)
            .unwrap_err();
        assert_eq!(errno(e), libc::ENOENT, "{r:?}");
        let fd = root
            .open_at("up/up/etc/passwd", OFlag::O_RDONLY, 0)
            .unwrap();
        assert_eq!(read_fd(fd), "inside", "{r:?}");
        let got = root.read("/up/etc/passwd", 100).unwrap();
        assert_eq!(got.as_deref(), Some(&b"inside"[..]), "{r:?}");
    }
    // Creating through it creates inside the root, never in outside/.
    let root = f.root(Resolver::Walk);
    let fd = root.mkdir_all("/abs/new", 0o755).unwrap();
    assert!(host_path(&fd).starts_with(f.root_path()));
    assert!(!f.outside().join("new").exists());
    let res = root.resolve("/abs/etc").unwrap();
    assert_eq!(
        res.path,
        f.outside().join("etc"),
        "the target's text, rooted in the root"
    );
    assert!(res.fd.is_none(), "outside/etc exists only on the host");
    let res = root.resolve("/abs/new").unwrap();
    assert!(host_path(res.fd.as_ref().unwrap()).starts_with(f.root_path()));
}

#[test]
fn dotdot_chains_stop_at_the_root() {
    let f = Fixture::new();
    let depth = "../".repeat(f.root_path().components().count() + 3);
    f.link(&depth, "a/b/up");
    for r in resolvers() {
        let root = f.root(r);
        for p in [
            "/../../../etc/passwd",
            "a/b/up/etc/passwd",
            "a/../../a/b/up/../etc/passwd",
        ] {
            let fd = root.open_at(p, OFlag::O_RDONLY, 0).unwrap();
            assert_eq!(read_fd(fd), "inside", "{r:?} {p}");
        }
        let rel_out = format!("{depth}{}/etc/passwd", f.outside().display());
        let e = root.open_at(&rel_out, OFlag::O_RDONLY, 0).unwrap_err();
        assert_eq!(errno(e), libc::ENOENT, "{r:?}");
    }
    let root = f.root(Resolver::Walk);
    assert_eq!(root.resolve("a/b/up/x").unwrap().path, PathBuf::from("/x"));
    assert_eq!(
        root.resolve("a/b/up/../../etc").unwrap().path,
        PathBuf::from("/etc")
    );
}

#[test]
fn symlink_loops_fail_with_eloop() {
    let f = Fixture::new();
    f.link("/b", "a");
    f.link("a", "b");
    f.link("self", "self");
    for r in resolvers() {
        let root = f.root(r);
        for p in ["/a/x", "/self", "b"] {
            let e = root.open_at(p, OFlag::O_RDONLY, 0).unwrap_err();
            assert_eq!(errno(e), libc::ELOOP, "{r:?} {p}");
        }
    }
    let root = f.root(Resolver::Walk);
    assert_eq!(errno(root.resolve("/a").unwrap_err()), libc::ELOOP);
    assert_eq!(
        errno(root.mkdir_all("/a/x", 0o755).unwrap_err()),
        libc::ELOOP
    );
}

#[test]
fn proc_self_root_does_not_lead_to_the_host() {
    let f = Fixture::new();
    f.link("/proc/self/root", "escape");
    f.link("/proc/self/cwd/..", "escape2");
    for r in resolvers() {
        // Inside the root there is no /proc: nothing to open.
        let root = f.root(r);
        for p in ["escape/etc/passwd", "escape2/etc/passwd"] {
            let e = root.open_at(p, OFlag::O_RDONLY, 0).unwrap_err();
            assert_eq!(errno(e), libc::ENOENT, "{r:?} {p}");
        }
        // A root that has a real procfs: its magic links are refused, not followed.
        let pid = PathBuf::from(format!("/proc/{}", std::process::id()));
        let proc = Root::open(&pid).unwrap().with_resolver(r);
        for p in ["root/etc/hostname", "cwd", "fd/0"] {
            let e = proc.open_at(p, OFlag::O_RDONLY, 0).unwrap_err();
            assert_eq!(errno(e), libc::ELOOP, "{r:?} {p}");
        }
    }
}

#[test]
fn dangling_links_are_created_inside() {
    let f = Fixture::new();
    f.link(f.outside().join("made"), "dir-link");
    // Its target's directory exists in the root (and on the host): created in the root only.
    let host_file = format!("/tmp/berth-fs-test-{}", std::process::id());
    f.link(&host_file, "file-link");
    fs::create_dir_all(f.root_path().join("tmp")).unwrap();
    for r in resolvers() {
        let root = f.root(r);
        let e = root.open_at("dir-link", OFlag::O_RDONLY, 0).unwrap_err();
        assert_eq!(errno(e), libc::ENOENT, "{r:?}");
        assert_eq!(root.read("dir-link", 10).unwrap(), None);
        let fd = root
            .open_at("file-link", OFlag::O_WRONLY | OFlag::O_CREAT, 0o600)
            .unwrap();
        assert!(host_path(&fd).starts_with(f.root_path()), "{r:?}");
        let e = root
            .open_at(
                "file-link",
                OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
                0o600,
            )
            .unwrap_err();
        assert_eq!(errno(e), libc::EEXIST, "{r:?}: O_EXCL never follows");
    }
    let root = f.root(Resolver::Walk);
    let res = root.resolve("dir-link/sub/..").unwrap();
    assert_eq!(res.path, f.outside().join("made"));
    assert!(res.fd.is_none());
    let fd = root.mkdir_all("dir-link/sub", 0o755).unwrap();
    assert_eq!(
        host_path(&fd),
        f.root_path()
            .join(f.outside().strip_prefix("/").unwrap())
            .join("made/sub")
    );
    let fd = root
        .create_file_all("/dev-link/null", 0o755, 0o644)
        .unwrap();
    assert!(host_path(&fd).starts_with(f.root_path()));
    assert!(!f.outside().join("made").exists() && !Path::new(&host_file).exists());
}

#[test]
fn non_utf8_names_round_trip() {
    let f = Fixture::new();
    let dir = OsStr::from_bytes(b"\xff\xfe");
    fs::create_dir(f.root_path().join(dir)).unwrap();
    fs::write(f.root_path().join(dir).join("f"), "bytes").unwrap();
    symlink(dir, f.root_path().join(OsStr::from_bytes(b"l\x80"))).unwrap();
    let via = Path::new(OsStr::from_bytes(b"/l\x80/f"));
    for r in resolvers() {
        let fd = f.root(r).open_at(via, OFlag::O_RDONLY, 0).unwrap();
        assert_eq!(read_fd(fd), "bytes", "{r:?}");
    }
    let res = f.root(Resolver::Walk).resolve(via).unwrap();
    assert_eq!(res.path.as_os_str().as_bytes(), b"/\xff\xfe/f");
}

#[test]
fn final_symlink_and_type_errors() {
    let f = Fixture::new();
    f.link("/etc/passwd", "pw");
    fs::write(f.root_path().join("file"), "x").unwrap();
    for r in resolvers() {
        let root = f.root(r);
        let e = root
            .open_at("pw", OFlag::O_RDONLY | OFlag::O_NOFOLLOW, 0)
            .unwrap_err();
        assert_eq!(errno(e), libc::ELOOP, "{r:?}");
        let fd = root
            .open_at("pw", OFlag::O_PATH | OFlag::O_NOFOLLOW, 0)
            .unwrap();
        assert_eq!(host_path(&fd), f.root_path().join("pw"), "{r:?}");
        let e = root.open_at("file/x", OFlag::O_RDONLY, 0).unwrap_err();
        assert_eq!(errno(e), libc::ENOTDIR, "{r:?}");
        let (dir, name) = root.open_parent("/pw").unwrap();
        assert_eq!((host_path(&dir), name), (f.root_path(), Some("pw".into())));
    }
    let root = f.root(Resolver::Walk);
    assert_eq!(errno(root.read("etc/passwd", 3).unwrap_err()), libc::EFBIG);
    assert_eq!(
        errno(root.mkdir_all("file/x", 0o755).unwrap_err()),
        libc::ENOTDIR
    );
}

#[test]
fn mount_crossings_are_refused_when_asked() {
    // /proc is another filesystem below /: with no_xdev neither resolver enters it.
    for r in resolvers() {
        let root = Root::open(Path::new("/"))
            .unwrap()
            .with_resolver(r)
            .no_xdev();
        let e = root
            .open_at("proc/self/status", OFlag::O_RDONLY, 0)
            .unwrap_err();
        assert_eq!(errno(e), libc::EXDEV, "{r:?}");
    }
}

#[test]
fn a_symlink_swapped_during_resolution_never_escapes() {
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    let f = Fixture::new();
    // `sw` flips between a real directory and a symlink to the host's outside/etc, as fast as
    // the kernel allows, while we resolve sw/passwd.
    fs::create_dir(f.root_path().join("sw")).unwrap();
    fs::write(f.root_path().join("sw/passwd"), "inside").unwrap();
    let up = "../".repeat(f.root_path().components().count() + 3);
    let evil = format!("{up}{}", f.outside().join("etc").display());
    symlink(&evil, f.root_path().join("sw-evil")).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (a, b) = (f.root_path().join("sw"), f.root_path().join("sw-evil"));
    let flipper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                renameat2(AT_FDCWD, &a, AT_FDCWD, &b, RenameFlags::RENAME_EXCHANGE).unwrap();
                n += 1;
            }
            n
        })
    };
    let mut seen = std::collections::BTreeMap::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(1500);
    while std::time::Instant::now() < deadline {
        for r in resolvers() {
            let root = f.root(r);
            let got = match root.read("/sw/passwd", 100) {
                Ok(Some(b)) => String::from_utf8(b).unwrap(),
                Ok(None) => "missing".into(),
                Err(e) => format!("errno {}", errno(e)),
            };
            assert_ne!(got, "OUTSIDE", "{r:?} read the host file");
            *seen.entry(got).or_insert(0u64) += 1;
            let res = root.resolve("/sw/passwd").unwrap();
            if let Some(fd) = res.fd {
                assert!(host_path(&fd).starts_with(f.root_path()), "{r:?}");
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let flips = flipper.join().unwrap();
    assert!(flips > 100, "the swap did not run ({flips} flips)");
    assert!(
        seen.contains_key("inside"),
        "never resolved the real file: {seen:?}"
    );
}
