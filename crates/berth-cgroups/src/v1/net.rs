//! v1 net_cls and net_prio controllers: the class id for traffic control and per-interface
//! priorities. They have no v2 counterpart.

use oci_spec::runtime::LinuxNetwork;

use crate::error::{Error, Result};
use crate::fs::CgroupDir;

/// Write `net_cls.classid` (when the net_cls directory is given).
pub fn apply_cls(dir: &CgroupDir, n: &LinuxNetwork) -> Result<()> {
    if let Some(id) = n.class_id() {
        dir.write("net_cls.classid", id.to_string())?;
    }
    Ok(())
}

/// Write one `net_prio.ifpriomap` line per interface.
pub fn apply_prio(dir: &CgroupDir, n: &LinuxNetwork) -> Result<()> {
    for p in n.priorities().iter().flatten() {
        if p.name().is_empty() || p.name().contains(char::is_whitespace) {
            return Err(Error::InvalidResources(format!(
                "network interface name {:?}",
                p.name()
            )));
        }
        dir.append(
            "net_prio.ifpriomap",
            format!("{} {}", p.name(), p.priority()),
        )?;
    }
    Ok(())
}
