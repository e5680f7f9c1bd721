//! v1 cpuset controller. A new v1 cpuset cgroup starts with empty `cpuset.cpus` and
//! `cpuset.mems`, and no task can join it until they are filled, so [`init`] copies the
//! parent's values down every level from the hierarchy root to the leaf.

use std::path::Path;

use crate::error::Result;
use crate::fs::CgroupDir;

/// Fill empty `cpuset.cpus`/`cpuset.mems` from the parent, top-down, for every directory
/// between `mount_point` (excluded) and `leaf` (included).
pub fn init(mount_point: &Path, leaf: &Path) -> Result<()> {
    let Ok(rel) = leaf.strip_prefix(mount_point) else {
        return Ok(());
    };
    let mut parent = CgroupDir::new(mount_point);
    for comp in rel.components() {
        let cur = parent.child(&comp.as_os_str().to_string_lossy());
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let mine = cur.read_opt(file)?.unwrap_or_default();
            if mine.trim().is_empty() {
                let theirs = parent.read(file)?;
                let theirs = theirs.trim();
                if !theirs.is_empty() {
                    cur.write(file, theirs)?;
                }
            }
        }
        parent = cur;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_down_when_empty() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        let a = root.join("a");
        let b = a.join("b");
        std::fs::create_dir_all(&b).expect("mkdir");
        std::fs::write(root.join("cpuset.cpus"), "0-3\n").expect("seed");
        std::fs::write(root.join("cpuset.mems"), "0\n").expect("seed");
        for d in [&a, &b] {
            std::fs::write(d.join("cpuset.cpus"), "\n").expect("seed");
            std::fs::write(d.join("cpuset.mems"), "").expect("seed");
        }
        std::fs::write(a.join("cpuset.cpus"), "1\n").expect("seed");
        init(root, &b).expect("init");
        let rd = |p: &Path| std::fs::read_to_string(p).expect("read");
        assert_eq!(rd(&a.join("cpuset.cpus")), "1\n", "non-empty is kept");
        assert_eq!(rd(&b.join("cpuset.cpus")), "1", "copied from the parent");
        assert_eq!(rd(&b.join("cpuset.mems")), "0");
    }
}
