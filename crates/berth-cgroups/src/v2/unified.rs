//! The spec's `unified` map: raw v2 interface file names and values, written last so they can
//! override anything computed from the structured fields.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::fs::CgroupDir;

/// Check a key names an interface file in this directory, nothing else.
pub fn check_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && !key.contains('/')
        && key != "."
        && key != ".."
        && key.contains('.')
        && !key.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidResources(format!(
            "unified key {key:?} is not a cgroup interface file name"
        )))
    }
}

/// Write every key (sorted, so the order is reproducible).
pub fn apply(dir: &CgroupDir, unified: &HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<&String> = unified.keys().collect();
    keys.sort();
    for k in keys {
        check_key(k)?;
        if !dir.has(k) {
            let controller = k.split('.').next().unwrap_or(k);
            return Err(Error::InvalidResources(format!(
                "unified key {k:?}: no such file in {} (is the {controller} controller enabled?)",
                dir.path().display()
            )));
        }
        dir.write(k, &unified[k])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(check_key("memory.high").is_ok());
        assert!(check_key("../memory.high").is_err());
        assert!(check_key("tasks").is_err());
        assert!(check_key("").is_err());
    }
}
