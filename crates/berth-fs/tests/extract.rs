//! The extractor against hostile archives, once per resolver and once per caller's rules
//! (image layers in overlay and in copy form, `docker cp`): whatever an archive plants, nothing
//! outside the destination changes. A canary directory beside the root is checked after each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

use berth_fs::extract::{ExtractError, ExtractOptions, Extractor, Owner, Whiteouts};
use berth_fs::{Resolver, Root};
use tar::{EntryType, Header};

fn resolvers() -> Vec<Resolver> {
    let mut v = vec![Resolver::Walk];
    if berth_fs::openat2_supported() {
        v.push(Resolver::Openat2);
    }
    v
}

/// The rule sets of the callers (berth-image's layer apply, berth-engine's cp).
fn callers() -> Vec<(&'static str, ExtractOptions<'static>)> {
    let layer = ExtractOptions {
        whiteouts: Whiteouts::Overlay,
        owner: Owner::Keep,
        xattrs: true,
        skip_xattr: |n| n.starts_with("trusted.overlay."),
        dest_meta: true,
        ..ExtractOptions::default()
    };
    let copy = ExtractOptions {
        whiteouts: Whiteouts::Apply,
        ..layer
    };
    let cp = ExtractOptions {
        owner: Owner::Keep,
        allow_devices: true,
        ..ExtractOptions::default()
    };
    vec![("layer", layer), ("copy-layer", copy), ("cp", cp)]
}

/// Builds tars header by header, so names the `tar` crate would refuse can be written.
#[derive(Default)]
struct Tb(Vec<(Header, Vec<u8>)>);

impl Tb {
    fn hdr(name: &str, kind: EntryType, size: usize, mode: u32) -> Header {
        let mut h = Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(kind);
        h.set_size(size as u64);
        h.set_mode(mode);
        h.set_mtime(1_600_000_000);
        h
    }
    fn put(mut self, mut h: Header, data: &[u8]) -> Self {
        h.set_cksum();
        self.0.push((h, data.to_vec()));
        self
    }
    fn file(self, name: &str, data: &[u8]) -> Self {
        self.put(Self::hdr(name, EntryType::Regular, data.len(), 0o644), data)
    }
    fn dir(self, name: &str) -> Self {
        self.put(Self::hdr(name, EntryType::Directory, 0, 0o755), b"")
    }
    fn link(self, name: &str, target: &str, kind: EntryType) -> Self {
        let mut h = Self::hdr(name, kind, 0, 0o777);
        h.as_gnu_mut().unwrap().linkname[..target.len()].copy_from_slice(target.as_bytes());
        self.put(h, b"")
    }
    fn symlink(self, name: &str, target: &str) -> Self {
        self.link(name, target, EntryType::Symlink)
    }
    fn hardlink(self, name: &str, target: &str) -> Self {
        self.link(name, target, EntryType::Link)
    }
    fn dev(self, name: &str, kind: EntryType, major: u32, minor: u32) -> Self {
        let mut h = Self::hdr(name, kind, 0, 0o600);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.put(h, b"")
    }
    fn owned(self, name: &str, uid: u64, gid: u64) -> Self {
        let mut h = Self::hdr(name, EntryType::Regular, 1, 0o640);
        h.set_uid(uid);
        h.set_gid(gid);
        self.put(h, b"x")
    }
    fn bytes(self) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (h, d) in self.0 {
            b.append(&h, &d[..]).unwrap();
        }
        b.into_inner().unwrap()
    }
}

/// `root/` (holding `dest/`) and a canary directory beside it.
struct Sandbox {
    tmp: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("root/dest")).unwrap();
        fs::create_dir(tmp.path().join("canary")).unwrap();
        fs::write(tmp.path().join("canary/secret"), b"original").unwrap();
        Sandbox { tmp }
    }
    fn root(&self) -> PathBuf {
        self.tmp.path().join("root")
    }
    fn dest(&self) -> PathBuf {
        self.root().join("dest")
    }
    fn canary(&self) -> String {
        self.tmp.path().join("canary").to_str().unwrap().to_owned()
    }
    fn extract(
        &self,
        r: Resolver,
        opts: ExtractOptions<'_>,
        tar: &[u8],
    ) -> Result<(), ExtractError> {
        let root = Root::open(&self.root()).unwrap().with_resolver(r);
        Extractor::new(root, "/dest", opts).extract(tar).map(drop)
    }
    fn assert_canary_untouched(&self) {
        let names: Vec<_> = fs::read_dir(self.canary()).unwrap().collect();
        assert_eq!(names.len(), 1);
        let secret = self.tmp.path().join("canary/secret");
        assert_eq!(fs::read(&secret).unwrap(), b"original");
        assert_eq!(fs::symlink_metadata(&secret).unwrap().nlink(), 1);
        assert_eq!(fs::read_dir(self.tmp.path()).unwrap().count(), 2);
    }
}

/// Runs `case` on a fresh sandbox for every resolver and caller.
fn each(case: impl Fn(&Sandbox, &dyn Fn(&[u8]) -> Result<(), ExtractError>, &str)) {
    for r in resolvers() {
        for (caller, opts) in callers() {
            let sb = Sandbox::new();
            let run = |tar: &[u8]| sb.extract(r, opts, tar);
            case(&sb, &run, &format!("{r:?}/{caller}"));
            sb.assert_canary_untouched();
        }
    }
}

#[test]
fn dotdot_names_are_refused() {
    each(|_, run, ctx| {
        for name in ["../canary/evil", "a/../../evil", "/../../canary/evil"] {
            let err = run(&Tb::default().file(name, b"pwned").bytes()).unwrap_err();
            assert!(
                matches!(err, ExtractError::Escape(_)),
                "{ctx} {name}: {err}"
            );
        }
    });
}

#[test]
fn absolute_names_land_below_the_destination() {
    each(|sb, run, ctx| {
        let name = format!("{}/evil", sb.canary());
        run(&Tb::default().file(&name, b"in").bytes()).unwrap();
        let inside = sb.dest().join(name.trim_start_matches('/'));
        assert_eq!(fs::read(inside).unwrap(), b"in", "{ctx}");
    });
}

#[test]
fn writes_through_planted_symlinks_stay_inside() {
    each(|sb, run, ctx| {
        let abs = Tb::default()
            .symlink("link", &sb.canary())
            .file("link/secret", b"pwned");
        let _ = run(&abs.bytes());
        let rel = Tb::default()
            .symlink("up", "../../../..")
            .file("up/canary/secret", b"pwned");
        run(&rel.bytes()).unwrap();
        // `up` resolves to the root: the file lands at root/canary/secret.
        let landed = sb.root().join("canary/secret");
        assert_eq!(fs::read(&landed).unwrap(), b"pwned", "{ctx}");
        fs::remove_dir_all(sb.root().join("canary")).unwrap();
    });
}

#[test]
fn a_file_over_a_symlink_replaces_the_link() {
    each(|sb, run, ctx| {
        let target = format!("{}/secret", sb.canary());
        run(&Tb::default()
            .symlink("s", &target)
            .file("s", b"mine")
            .bytes())
        .unwrap();
        let s = sb.dest().join("s");
        assert!(fs::symlink_metadata(&s).unwrap().is_file(), "{ctx}");
        assert_eq!(fs::read(s).unwrap(), b"mine");
    });
}

#[test]
fn hardlinks_never_reach_outside() {
    each(|sb, run, ctx| {
        let err = run(&Tb::default().hardlink("h", "../../canary/secret").bytes()).unwrap_err();
        assert!(matches!(err, ExtractError::Escape(_)), "{ctx}: {err}");
        let abs = format!("{}/secret", sb.canary());
        assert!(
            run(&Tb::default().hardlink("h", &abs).bytes()).is_err(),
            "{ctx}"
        );
        let via_abs = Tb::default()
            .symlink("l", &sb.canary())
            .hardlink("h2", "l/secret");
        assert!(run(&via_abs.bytes()).is_err(), "{ctx}");
        let via_rel = Tb::default()
            .symlink("l2", "../../canary")
            .hardlink("h3", "l2/secret");
        assert!(run(&via_rel.bytes()).is_err(), "{ctx}");
        // A link to a symlink links the symlink itself, not what it names.
        let to_link = Tb::default()
            .symlink("s", &abs)
            .hardlink("h4", "s")
            .file("h5", b"x")
            .hardlink("h5", "s");
        run(&to_link.bytes()).unwrap();
        for h in ["h4", "h5"] {
            let m = fs::symlink_metadata(sb.dest().join(h)).unwrap();
            assert!(m.file_type().is_symlink(), "{ctx} {h}");
        }
        let _ = run(&Tb::default().file("h4/x", b"pwned").bytes());
    });
}

#[test]
fn hardlinks_inside_share_the_inode() {
    each(|sb, run, ctx| {
        run(&Tb::default().file("a", b"1").hardlink("b", "a").bytes()).unwrap();
        let (a, b) = (sb.dest().join("a"), sb.dest().join("b"));
        assert_eq!(
            fs::metadata(a).unwrap().ino(),
            fs::metadata(b).unwrap().ino(),
            "{ctx}"
        );
    });
}

#[test]
fn devices_follow_the_callers_rule() {
    each(|sb, run, ctx| {
        let allowed = ctx.ends_with("/cp");
        let r = run(&Tb::default().dev("null", EntryType::Char, 1, 3).bytes());
        let null = sb.dest().join("null");
        if allowed {
            r.unwrap();
            assert_eq!(
                fs::symlink_metadata(&null).unwrap().rdev(),
                libc::makedev(1, 3)
            );
        } else {
            assert!(matches!(r, Err(ExtractError::Device(_))), "{ctx}: {r:?}");
            assert!(fs::symlink_metadata(&null).is_err(), "{ctx}");
        }
        run(&Tb::default().dev("fifo", EntryType::Fifo, 0, 0).bytes()).unwrap();
        let fifo = fs::symlink_metadata(sb.dest().join("fifo")).unwrap();
        assert!(fifo.file_type().is_fifo(), "{ctx}");
    });
}

#[test]
fn whiteouts_follow_the_callers_rule() {
    each(|sb, run, ctx| {
        run(&Tb::default()
            .file("d/gone", b"1")
            .file("d/kept", b"2")
            .bytes())
        .unwrap();
        let tar = Tb::default().file("d/new", b"3").file("d/.wh.gone", b"");
        run(&tar.bytes()).unwrap();
        let gone = fs::symlink_metadata(sb.dest().join("d/gone"));
        let marker = sb.dest().join("d/.wh.gone").exists();
        match ctx.rsplit('/').next().unwrap() {
            "layer" => assert!(gone.unwrap().file_type().is_char_device() && !marker),
            "copy-layer" => assert!(gone.is_err() && !marker),
            _ => assert!(
                gone.unwrap().is_file() && marker,
                "cp writes whiteouts as files"
            ),
        }
        // Malformed ones and ones through a link to the outside.
        let bad = run(&Tb::default().file(".wh..", b"").bytes());
        if !ctx.ends_with("/cp") {
            assert!(
                matches!(bad, Err(ExtractError::BadWhiteout(_))),
                "{ctx}: {bad:?}"
            );
        }
        let through = Tb::default()
            .symlink("l", "../../canary")
            .file("l/.wh.secret", b"")
            .file("l/.wh..wh..opq", b"");
        let _ = run(&through.bytes());
    });
}

#[test]
fn opaque_directories_keep_only_what_the_archive_wrote() {
    for r in resolvers() {
        let (_, copy) = callers().swap_remove(1);
        let sb = Sandbox::new();
        sb.extract(r, copy, &Tb::default().file("d/old", b"1").bytes())
            .unwrap();
        let tar = Tb::default()
            .file("d/new", b"2")
            .file("d/.wh..wh..opq", b"");
        sb.extract(r, copy, &tar.bytes()).unwrap();
        assert!(!sb.dest().join("d/old").exists(), "{r:?}");
        assert_eq!(fs::read(sb.dest().join("d/new")).unwrap(), b"2");
        sb.assert_canary_untouched();
    }
}

#[test]
fn owners_are_kept_fixed_or_mapped() {
    let map = |u: u32, g: u32| -> std::io::Result<(u32, u32)> {
        if u == 7 {
            return Err(std::io::Error::other("uid 7 is not mapped"));
        }
        Ok((u + 100_000, g + 100_000))
    };
    let cases = [
        (Owner::Keep, (1000, 1001)),
        (Owner::Fixed(5, 6), (5, 6)),
        (Owner::Map(&map), (101_000, 101_001)),
    ];
    for r in resolvers() {
        for (owner, want) in cases {
            let sb = Sandbox::new();
            let opts = ExtractOptions {
                owner,
                ..ExtractOptions::default()
            };
            sb.extract(r, opts, &Tb::default().owned("f", 1000, 1001).bytes())
                .unwrap();
            let m = fs::metadata(sb.dest().join("f")).unwrap();
            assert_eq!((m.uid(), m.gid()), want, "{r:?} {owner:?}");
            assert_eq!(m.mode() & 0o7777, 0o640);
        }
        let sb = Sandbox::new();
        let opts = ExtractOptions {
            owner: Owner::Map(&map),
            ..ExtractOptions::default()
        };
        let err = sb.extract(r, opts, &Tb::default().owned("f", 7, 7).bytes());
        assert!(err.unwrap_err().to_string().contains("not mapped"));
    }
}

#[test]
fn dir_non_dir_swaps_are_refused_when_asked() {
    for r in resolvers() {
        let sb = Sandbox::new();
        let opts = ExtractOptions {
            no_overwrite_dir_non_dir: true,
            ..ExtractOptions::default()
        };
        sb.extract(
            r,
            opts,
            &Tb::default().file("d/x", b"1").file("f", b"1").bytes(),
        )
        .unwrap();
        let e = sb.extract(r, opts, &Tb::default().file("d", b"2").bytes());
        let want = "cannot overwrite directory \"d\" with non-directory";
        assert_eq!(e.unwrap_err().to_string(), want);
        let e = sb.extract(r, opts, &Tb::default().dir("f").bytes());
        let want = "cannot overwrite non-directory \"f\" with directory";
        assert_eq!(e.unwrap_err().to_string(), want);
        // Without the option whatever is in the way goes (dockerd's RemoveAll).
        let opts = ExtractOptions::default();
        sb.extract(r, opts, &Tb::default().file("d", b"2").bytes())
            .unwrap();
        assert_eq!(fs::read(sb.dest().join("d")).unwrap(), b"2");
    }
}

#[test]
fn dest_metadata_only_when_asked() {
    for (dest_meta, want) in [(false, 0o755), (true, 0o700)] {
        let sb = Sandbox::new();
        fs::set_permissions(
            sb.dest(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let opts = ExtractOptions {
            dest_meta,
            ..ExtractOptions::default()
        };
        let mut h = Tb::hdr("./", EntryType::Directory, 0, 0o700);
        h.set_cksum();
        let tar = Tb(vec![(h, Vec::new())]).bytes();
        sb.extract(Resolver::Walk, opts, &tar).unwrap();
        let mode = fs::metadata(sb.dest()).unwrap().mode() & 0o7777;
        assert_eq!(mode, want, "dest_meta {dest_meta}");
    }
}
