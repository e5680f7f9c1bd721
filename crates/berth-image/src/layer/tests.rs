//! Layer application tests, including one hostile layer per escape technique. Each hostile
//! test keeps a canary directory next to the target and checks it is untouched afterwards.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use super::*;
use crate::digest::Digest;

/// Builds tars byte by byte so names the `tar` crate would refuse to write can be tested.
pub(crate) struct Tb(tar::Builder<Vec<u8>>);

impl Default for Tb {
    fn default() -> Self {
        Tb(tar::Builder::new(Vec::new()))
    }
}

impl Tb {
    fn hdr(name: &[u8], kind: EntryType, size: u64, mode: u32) -> Header {
        let mut h = Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(1_600_000_000);
        h
    }
    fn put(&mut self, mut h: Header, data: &[u8]) -> &mut Self {
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }
    pub(crate) fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.put(
            Self::hdr(
                name.as_bytes(),
                EntryType::Regular,
                data.len() as u64,
                0o644,
            ),
            data,
        )
    }
    pub(crate) fn dir(&mut self, name: &str) -> &mut Self {
        self.put(
            Self::hdr(name.as_bytes(), EntryType::Directory, 0, 0o755),
            b"",
        )
    }
    fn link(&mut self, name: &str, target: &str, kind: EntryType) -> &mut Self {
        let mut h = Self::hdr(name.as_bytes(), kind, 0, 0o777);
        h.as_gnu_mut().unwrap().linkname[..target.len()].copy_from_slice(target.as_bytes());
        self.put(h, b"")
    }
    pub(crate) fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.link(name, target, EntryType::Symlink)
    }
    pub(crate) fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.link(name, target, EntryType::Link)
    }
    fn dev(&mut self, name: &str, kind: EntryType, major: u32, minor: u32) -> &mut Self {
        let mut h = Self::hdr(name.as_bytes(), kind, 0, 0o600);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.put(h, b"")
    }
    pub(crate) fn bytes(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.0, tar::Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

struct Sandbox {
    _tmp: tempfile::TempDir,
    target: PathBuf,
    canary: PathBuf,
}

impl Sandbox {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        let canary = tmp.path().join("canary");
        fs::create_dir(&target).unwrap();
        fs::create_dir(&canary).unwrap();
        fs::write(canary.join("secret"), b"original").unwrap();
        Sandbox {
            _tmp: tmp,
            target,
            canary,
        }
    }
    fn apply(&self, tar: &[u8]) -> Result<Applied, LayerError> {
        apply(tar, None, &self.target, &ApplyOptions::default())
    }
    /// The canary is exactly as created: one file, original content, one link.
    fn assert_canary_untouched(&self) {
        let names: Vec<_> = fs::read_dir(&self.canary)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("secret")]);
        let secret = self.canary.join("secret");
        assert_eq!(fs::read(&secret).unwrap(), b"original");
        assert_eq!(fs::symlink_metadata(&secret).unwrap().nlink(), 1);
        let parent_entries: Vec<_> = fs::read_dir(self.target.parent().unwrap())
            .unwrap()
            .collect();
        assert_eq!(
            parent_entries.len(),
            2,
            "something appeared next to the target"
        );
    }
}

fn abs(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

#[test]
fn unpacks_metadata() {
    let sb = Sandbox::new();
    let mut tb = Tb::default();
    tb.dir("etc/")
        .file("etc/hosts", b"127.0.0.1 localhost\n")
        .symlink("etc/link", "hosts")
        .hardlink("etc/hard", "etc/hosts");
    let mut h = Tb::hdr(b"bin/su", EntryType::Regular, 2, 0o4755);
    h.set_uid(1234);
    h.set_gid(4321);
    tb.dir("bin/").put(h, b"#!");
    tb.0.append_pax_extensions([
        ("SCHILY.xattr.user.note", &b"hi"[..]),
        ("SCHILY.xattr.trusted.overlay.redirect", &b"/x"[..]),
    ])
    .unwrap();
    tb.file("bin/xattr", b"x");
    let mut d = Tb::hdr(b"old/", EntryType::Directory, 0, 0o700);
    d.set_mtime(1_000_000_000);
    tb.put(d, b"").file("old/inner", b"i");
    let bytes = tb.bytes();
    let applied = sb.apply(&bytes).unwrap();
    assert_eq!(applied.diff_id, Digest::sha256_of(&bytes));
    assert_eq!(applied.compression, Compression::None);
    let t = &sb.target;
    assert_eq!(
        fs::read(t.join("etc/hosts")).unwrap(),
        b"127.0.0.1 localhost\n"
    );
    assert_eq!(
        fs::read_link(t.join("etc/link")).unwrap(),
        Path::new("hosts")
    );
    assert_eq!(
        fs::metadata(t.join("etc/hard")).unwrap().ino(),
        fs::metadata(t.join("etc/hosts")).unwrap().ino()
    );
    let su = fs::metadata(t.join("bin/su")).unwrap();
    assert_eq!(su.permissions().mode() & 0o7777, 0o4755, "setuid kept");
    assert_eq!((su.uid(), su.gid()), (1234, 4321));
    assert_eq!(su.mtime(), 1_600_000_000);
    let x = fs::metadata(t.join("bin/xattr")).unwrap();
    assert_eq!(x.len(), 1);
    let fd = fs::File::open(t.join("bin/xattr")).unwrap();
    use std::os::fd::AsFd;
    assert_eq!(
        fsops::get_xattr_fd(fd.as_fd(), "user.note").unwrap(),
        Some(b"hi".to_vec())
    );
    assert_eq!(
        fsops::get_xattr_fd(fd.as_fd(), "trusted.overlay.redirect").unwrap(),
        None,
        "overlay xattrs are dropped"
    );
    let old = fs::metadata(t.join("old")).unwrap();
    assert_eq!(
        old.mtime(),
        1_000_000_000,
        "dir mtime set after its contents"
    );
    assert_eq!(old.permissions().mode() & 0o777, 0o700);
}

#[test]
fn compressed_layers_have_same_diff_id() {
    let mut tb = Tb::default();
    tb.dir("a/").file("a/b", &vec![9u8; 300_000]);
    let plain = tb.bytes();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let zs = zstd::encode_all(&plain[..], 3).unwrap();
    for (data, kind) in [(gz, Compression::Gzip), (zs, Compression::Zstd)] {
        let sb = Sandbox::new();
        let a = sb.apply(&data).unwrap();
        assert_eq!(a.compression, kind);
        assert_eq!(a.diff_id, Digest::sha256_of(&plain));
        assert_eq!(a.tar_size, plain.len() as u64);
        assert_eq!(fs::read(sb.target.join("a/b")).unwrap().len(), 300_000);
    }
}

#[test]
fn overlay_whiteouts() {
    let sb = Sandbox::new();
    let tar = Tb::default()
        .dir("d/")
        .file("d/new", b"n")
        .file("d/.wh..wh..opq", b"")
        .file(".wh.gone", b"")
        .bytes();
    sb.apply(&tar).unwrap();
    let gone = fs::symlink_metadata(sb.target.join("gone")).unwrap();
    assert!(gone.file_type().is_char_device());
    assert_eq!(gone.rdev(), 0);
    let d = fs::File::open(sb.target.join("d")).unwrap();
    use std::os::fd::AsFd;
    assert_eq!(
        fsops::get_xattr_fd(d.as_fd(), OVERLAY_OPAQUE_XATTR).unwrap(),
        Some(b"y".to_vec())
    );
    assert!(!sb.target.join("d/.wh..wh..opq").exists());
    assert!(sb.target.join("d/new").exists());
}

#[test]
fn applied_whiteouts_delete() {
    let sb = Sandbox::new();
    fs::create_dir_all(sb.target.join("d/sub")).unwrap();
    fs::write(sb.target.join("d/old"), b"o").unwrap();
    fs::write(sb.target.join("gone"), b"g").unwrap();
    let tar = Tb::default()
        .dir("d/")
        .file("d/new", b"n")
        .file("d/.wh..wh..opq", b"")
        .file(".wh.gone", b"")
        .bytes();
    let opts = ApplyOptions {
        whiteouts: WhiteoutMode::Apply,
        ..Default::default()
    };
    apply(&tar[..], None, &sb.target, &opts).unwrap();
    assert!(!sb.target.join("gone").exists());
    assert!(!sb.target.join("d/old").exists() && !sb.target.join("d/sub").exists());
    assert!(sb.target.join("d/new").exists());
}

#[test]
fn hostile_dotdot_name_refused() {
    let sb = Sandbox::new();
    for name in ["../canary/evil", "a/../../canary/evil", "/../canary/evil"] {
        let err = sb
            .apply(&Tb::default().file(name, b"pwned").bytes())
            .unwrap_err();
        assert!(matches!(err, LayerError::PathEscape(_)), "{name}: {err}");
    }
    sb.assert_canary_untouched();
}

#[test]
fn hostile_absolute_name_contained() {
    let sb = Sandbox::new();
    let name = format!("{}/evil", abs(&sb.canary));
    sb.apply(&Tb::default().file(&name, b"pwned").bytes())
        .unwrap();
    sb.assert_canary_untouched();
    assert_eq!(
        fs::read(sb.target.join(name.trim_start_matches('/'))).unwrap(),
        b"pwned"
    );
}

#[test]
fn hostile_symlink_then_write_through_it() {
    let sb = Sandbox::new();
    // absolute symlink to the canary, then a file "through" it
    let tar = Tb::default()
        .symlink("link", &abs(&sb.canary))
        .file("link/secret", b"pwned")
        .bytes();
    let _ = sb.apply(&tar);
    sb.assert_canary_untouched();
    // relative symlink climbing out, then a file through it: lands inside the target
    let tar = Tb::default()
        .symlink("up", "../../..")
        .file("up/canary/secret", b"pwned")
        .bytes();
    let _ = sb.apply(&tar);
    sb.assert_canary_untouched();
    assert!(
        !sb.target.join("canary/secret").exists()
            || fs::read(sb.target.join("canary/secret")).unwrap() == b"pwned"
    );
    // the classic: link -> /etc style, write link/passwd
    let tar = Tb::default()
        .symlink("etc", "/etc")
        .file("etc/passwd", b"root::0:0::/:/bin/sh\n")
        .bytes();
    // (in-root resolution makes `etc` point at itself: a loop, so the entry is refused)
    assert!(sb.apply(&tar).is_err());
    assert!(fs::read("/etc/passwd")
        .map(|p| p != b"root::0:0::/:/bin/sh\n")
        .unwrap_or(true));
}

#[test]
fn hostile_file_over_symlink_replaces_link() {
    let sb = Sandbox::new();
    let target = format!("{}/secret", abs(&sb.canary));
    let tar = Tb::default()
        .symlink("s", &target)
        .file("s", b"pwned")
        .bytes();
    sb.apply(&tar).unwrap();
    sb.assert_canary_untouched();
    assert_eq!(fs::read(sb.target.join("s")).unwrap(), b"pwned");
    assert!(fs::symlink_metadata(sb.target.join("s")).unwrap().is_file());
}

#[test]
fn hostile_hardlinks_refused() {
    let sb = Sandbox::new();
    let err = sb
        .apply(&Tb::default().hardlink("h", "../canary/secret").bytes())
        .unwrap_err();
    assert!(matches!(err, LayerError::PathEscape(_)));
    // absolute link target resolves inside the target (and does not exist there)
    assert!(sb
        .apply(
            &Tb::default()
                .hardlink("h", &format!("{}/secret", abs(&sb.canary)))
                .bytes()
        )
        .is_err());
    // through a symlink to the outside
    let tar = Tb::default()
        .symlink("l", &abs(&sb.canary))
        .hardlink("h", "l/secret")
        .bytes();
    assert!(sb.apply(&tar).is_err());
    let tar = Tb::default()
        .symlink("l2", "../canary")
        .hardlink("h2", "l2/secret")
        .bytes();
    assert!(sb.apply(&tar).is_err());
    sb.assert_canary_untouched();
}

#[test]
fn hostile_hardlink_to_escaping_symlink_is_not_followed() {
    let sb = Sandbox::new();
    let target = format!("{}/secret", abs(&sb.canary));
    let tar = Tb::default()
        .symlink("s", &target)
        .hardlink("h", "s")
        .file("h2", b"x")
        .hardlink("h2", "s")
        .bytes();
    sb.apply(&tar).unwrap();
    // h is a hard link to the symlink itself, not to the canary file
    let h = fs::symlink_metadata(sb.target.join("h")).unwrap();
    assert!(h.file_type().is_symlink());
    // and writing through it stays inside
    let _ = sb.apply(&Tb::default().file("h/x", b"pwned").bytes());
    sb.assert_canary_untouched();
}

#[test]
fn hostile_devices_refused_unless_allowed() {
    let sb = Sandbox::new();
    let err = sb
        .apply(&Tb::default().dev("mem", EntryType::Char, 1, 1).bytes())
        .unwrap_err();
    assert!(matches!(err, LayerError::DeviceNotAllowed(_)));
    let err = sb
        .apply(&Tb::default().dev("sda", EntryType::Block, 8, 0).bytes())
        .unwrap_err();
    assert!(matches!(err, LayerError::DeviceNotAllowed(_)));
    assert!(!sb.target.join("mem").exists() && !sb.target.join("sda").exists());
    // the overlay whiteout device and fifos are fine
    sb.apply(
        &Tb::default()
            .dev("wh", EntryType::Char, 0, 0)
            .dev("fifo", EntryType::Fifo, 0, 0)
            .bytes(),
    )
    .unwrap();
    assert!(fs::symlink_metadata(sb.target.join("wh"))
        .unwrap()
        .file_type()
        .is_char_device());
    assert!(fs::symlink_metadata(sb.target.join("fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    let opts = ApplyOptions {
        allow_devices: true,
        ..Default::default()
    };
    apply(
        &Tb::default().dev("null", EntryType::Char, 1, 3).bytes()[..],
        None,
        &sb.target,
        &opts,
    )
    .unwrap();
    assert_eq!(
        fs::symlink_metadata(sb.target.join("null")).unwrap().rdev(),
        libc::makedev(1, 3)
    );
    sb.assert_canary_untouched();
}

#[test]
fn hostile_whiteouts_refused_or_contained() {
    let sb = Sandbox::new();
    assert!(matches!(
        sb.apply(&Tb::default().file(".wh..", b"").bytes()),
        Err(LayerError::BadWhiteout(_))
    ));
    assert!(matches!(
        sb.apply(&Tb::default().file("../canary/.wh.secret", b"").bytes()),
        Err(LayerError::PathEscape(_))
    ));
    // whiteout through a symlink pointing at the canary: resolved inside, canary untouched
    let tar = Tb::default()
        .symlink("l", &abs(&sb.canary))
        .file("l/.wh.secret", b"")
        .bytes();
    let _ = sb.apply(&tar);
    let opts = ApplyOptions {
        whiteouts: WhiteoutMode::Apply,
        ..Default::default()
    };
    let tar = Tb::default()
        .symlink("l3", "../canary")
        .file("l3/.wh.secret", b"")
        .file("l3/.wh..wh..opq", b"")
        .bytes();
    let _ = apply(&tar[..], None, &sb.target, &opts);
    sb.assert_canary_untouched();
}

#[test]
fn early_refusal_does_not_hang_the_decoder_thread() {
    let sb = Sandbox::new();
    let big = vec![0u8; 30 << 20];
    let tar = Tb::default()
        .file("../canary/evil", b"x")
        .file("big", &big)
        .bytes();
    assert!(matches!(sb.apply(&tar), Err(LayerError::PathEscape(_))));
    sb.assert_canary_untouched();
}

#[test]
fn corrupt_compressed_stream_is_an_error() {
    let mut tb = Tb::default();
    let plain = tb.file("a", &vec![1u8; 200_000]).bytes();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let mut gz = gz.finish().unwrap();
    gz.truncate(gz.len() / 2);
    let sb = Sandbox::new();
    assert!(matches!(sb.apply(&gz), Err(LayerError::Read(_))));
    let zs = zstd::encode_all(&plain[..], 3).unwrap();
    assert!(matches!(
        sb.apply(&zs[..zs.len() / 2]),
        Err(LayerError::Read(_))
    ));
}
