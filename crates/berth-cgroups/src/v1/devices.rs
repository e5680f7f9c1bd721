//! v1 devices controller: each rule is one write to `devices.allow` or `devices.deny`, in
//! spec order (the kernel keeps the list; a catch-all rule resets it).

use crate::devices::DeviceRule;
use crate::error::Result;
use crate::fs::CgroupDir;

/// Write the rules.
pub fn apply(dir: &CgroupDir, rules: &[DeviceRule]) -> Result<()> {
    for r in rules {
        let file = if r.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        dir.append(file, r.v1_line())?;
    }
    Ok(())
}
