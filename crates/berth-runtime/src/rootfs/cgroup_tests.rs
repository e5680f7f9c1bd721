//! Tests of the cgroup mount planning and mount sequences.

use super::*;

const HYBRID_MOUNTINFO: &str = "\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
32 31 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
33 31 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
36 31 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpu,cpuacct
37 31 0:32 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,memory
40 30 0:40 /foo /mnt/with\\040space rw - ext4 /dev/sda1 rw
";

const PROC_CGROUP: &str = "\
12:memory:/berth/c1
4:cpu,cpuacct:/berth/c1
1:name=systemd:/system.slice/berth.service
0::/system.slice/berth.service
";

#[test]
fn mountinfo_fields_and_escapes() {
    let m = parse_mountinfo(HYBRID_MOUNTINFO);
    assert_eq!(m.len(), 7);
    assert_eq!(m[3].fstype, "cgroup");
    assert_eq!(m[3].super_options, vec!["rw", "xattr", "name=systemd"]);
    assert_eq!(m[6].mount_point, PathBuf::from("/mnt/with space"));
    assert_eq!(m[6].root, "/foo");
}

#[test]
fn hybrid_host_is_not_unified() {
    assert!(!is_unified(&parse_mountinfo(HYBRID_MOUNTINFO)));
    let unified = "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";
    assert!(is_unified(&parse_mountinfo(unified)));
}

#[test]
fn v1_hierarchies_use_our_own_cgroup() {
    let h = v1_hierarchies(
        &parse_mountinfo(HYBRID_MOUNTINFO),
        &parse_proc_cgroup(PROC_CGROUP),
    );
    assert_eq!(
        h,
        vec![
            V1Hierarchy {
                name: "systemd".into(),
                source: "/sys/fs/cgroup/systemd/system.slice/berth.service".into(),
                controllers: "name=systemd".into(),
            },
            V1Hierarchy {
                name: "cpu,cpuacct".into(),
                source: "/sys/fs/cgroup/cpu,cpuacct/berth/c1".into(),
                controllers: "cpu,cpuacct".into(),
            },
            V1Hierarchy {
                name: "memory".into(),
                source: "/sys/fs/cgroup/memory/berth/c1".into(),
                controllers: "memory".into(),
            },
        ]
    );
}

#[test]
fn v1_hierarchy_root_is_stripped_from_our_path() {
    let mi = "36 31 0:31 /berth /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
    let h = v1_hierarchies(
        &parse_mountinfo(mi),
        &parse_proc_cgroup("3:memory:/berth/c1\n"),
    );
    assert_eq!(h[0].source, PathBuf::from("/sys/fs/cgroup/memory/c1"));
}

mod sequences {
    use super::*;
    use crate::rootfs::mounts::Ctx;
    use crate::rootfs::options;
    use crate::rootfs::paths::RootDir;
    use crate::rootfs::plan::Kind;
    use crate::rootfs::testutil::{flags_only, mnt, Bundle};
    use crate::syscall::recording::{Call, RecordingSyscall};

    const SPEC_FLAGS: MsFlags = MsFlags::MS_NOSUID
        .union(MsFlags::MS_NOEXEC)
        .union(MsFlags::MS_NODEV)
        .union(MsFlags::MS_RELATIME)
        .union(MsFlags::MS_RDONLY);

    fn cgroup_mount() -> PlannedMount {
        let opts: Vec<String> = ["nosuid", "noexec", "nodev", "relatime", "ro"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        PlannedMount {
            dest: "/sys/fs/cgroup".into(),
            kind: Kind::Cgroup,
            opts: options::parse(&opts).expect("options"),
            source: "cgroup".into(),
        }
    }

    fn run(
        b: &Bundle,
        sys: &RecordingSyscall,
        cgroupns: bool,
        mountinfo: &str,
    ) -> Result<(), RootfsError> {
        let root = RootDir::open(&b.rootfs).expect("root");
        let ctx = Ctx {
            sys,
            root: &root,
            new_cgroup_ns: cgroupns,
        };
        let cgroups = parse_proc_cgroup(PROC_CGROUP);
        mount_with(&ctx, &cgroup_mount(), &parse_mountinfo(mountinfo), &cgroups)
    }

    #[test]
    fn v1_binds_our_cgroups_under_a_read_only_tmpfs() {
        let b = Bundle::new();
        let sys = RecordingSyscall::default();
        run(&b, &sys, false, HYBRID_MOUNTINFO).expect("mount");
        let dir = |n: &str| b.in_root(&format!("sys/fs/cgroup/{n}"));
        let remount = MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
        let rbind = MsFlags::MS_BIND | MsFlags::MS_REC;
        let bind = |src: &str, n: &str| mnt(Some(src), dir(n), None, rbind, None);
        assert_eq!(
            *sys.calls.borrow(),
            vec![
                mnt(
                    Some("tmpfs"),
                    b.in_root("sys/fs/cgroup"),
                    Some("tmpfs"),
                    DEFAULT_FLAGS,
                    Some("mode=755")
                ),
                bind(
                    "/sys/fs/cgroup/systemd/system.slice/berth.service",
                    "systemd"
                ),
                flags_only(dir("systemd"), remount | SPEC_FLAGS),
                bind("/sys/fs/cgroup/cpu,cpuacct/berth/c1", "cpu,cpuacct"),
                flags_only(dir("cpu,cpuacct"), remount | SPEC_FLAGS),
                bind("/sys/fs/cgroup/memory/berth/c1", "memory"),
                flags_only(dir("memory"), remount | SPEC_FLAGS),
                Call::Symlink("cpu,cpuacct".into(), dir("cpu")),
                Call::Symlink("cpu,cpuacct".into(), dir("cpuacct")),
                flags_only(
                    b.in_root("sys/fs/cgroup"),
                    remount | DEFAULT_FLAGS | MsFlags::MS_RDONLY
                ),
            ]
        );
    }

    #[test]
    fn v1_with_cgroup_namespace_mounts_each_hierarchy() {
        let b = Bundle::new();
        let sys = RecordingSyscall::default();
        run(&b, &sys, true, HYBRID_MOUNTINFO).expect("mount");
        let dir = |n: &str| b.in_root(&format!("sys/fs/cgroup/{n}"));
        let f = DEFAULT_FLAGS | MsFlags::MS_RDONLY;
        assert_eq!(
            sys.mounts()[1..4],
            [
                mnt(
                    Some("systemd"),
                    dir("systemd"),
                    Some("cgroup"),
                    f,
                    Some("name=systemd")
                ),
                mnt(
                    Some("cgroup"),
                    dir("cpu,cpuacct"),
                    Some("cgroup"),
                    f,
                    Some("cpu,cpuacct")
                ),
                mnt(
                    Some("cgroup"),
                    dir("memory"),
                    Some("cgroup"),
                    f,
                    Some("memory")
                ),
            ]
        );
    }

    const UNIFIED: &str = "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";

    #[test]
    fn v2_mounts_cgroup2() {
        let b = Bundle::new();
        let sys = RecordingSyscall::default();
        run(&b, &sys, true, UNIFIED).expect("mount");
        assert_eq!(
            *sys.calls.borrow(),
            vec![mnt(
                Some("cgroup"),
                b.in_root("sys/fs/cgroup"),
                Some("cgroup2"),
                SPEC_FLAGS,
                None
            )]
        );
    }

    #[test]
    fn v2_falls_back_to_binding_our_own_cgroup_when_refused() {
        let b = Bundle::new();
        let sys = RecordingSyscall::default();
        sys.fail_when(
            |c| matches!(c, Call::Mount { fstype: Some(t), .. } if t == "cgroup2"),
            Errno::EPERM,
        );
        run(&b, &sys, true, UNIFIED).expect("mount");
        let dst = b.in_root("sys/fs/cgroup");
        assert_eq!(
            sys.mounts()[1..],
            [
                mnt(
                    Some("/sys/fs/cgroup/system.slice/berth.service"),
                    &dst,
                    None,
                    MsFlags::MS_BIND,
                    None
                ),
                flags_only(&dst, MsFlags::MS_BIND | MsFlags::MS_REMOUNT | SPEC_FLAGS),
            ]
        );
        // Without a cgroup namespace, the whole hierarchy.
        let sys = RecordingSyscall::default();
        sys.fail_when(
            |c| matches!(c, Call::Mount { fstype: Some(t), .. } if t == "cgroup2"),
            Errno::EBUSY,
        );
        run(&b, &sys, false, UNIFIED).expect("mount");
        assert_eq!(
            sys.mounts()[1],
            mnt(Some("/sys/fs/cgroup"), &dst, None, MsFlags::MS_BIND, None)
        );
    }
}
