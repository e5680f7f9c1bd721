//! The rdma controller's `rdma.max` ("mlx4_0 hca_handle=2 hca_object=2000"). The format is
//! the same on v1, whose manager uses this module too.

use std::collections::HashMap;

use oci_spec::runtime::LinuxRdma;

use crate::error::{Error, Result};
use crate::fs::CgroupDir;

/// The `rdma.max` line for one device, `None` when it sets nothing.
pub fn line(device: &str, r: &LinuxRdma) -> Option<String> {
    let mut s = device.to_string();
    if let Some(h) = r.hca_handles() {
        s.push_str(&format!(" hca_handle={h}"));
    }
    if let Some(o) = r.hca_objects() {
        s.push_str(&format!(" hca_object={o}"));
    }
    (s.len() > device.len()).then_some(s)
}

/// Write one line per device.
pub fn apply(dir: &CgroupDir, rdma: &HashMap<String, LinuxRdma>) -> Result<()> {
    for (dev, r) in rdma {
        if dev.is_empty() || dev.contains(char::is_whitespace) {
            return Err(Error::InvalidResources(format!("rdma device {dev:?}")));
        }
        if let Some(l) = line(dev, r) {
            dir.append("rdma.max", l)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdma_line() {
        let r: LinuxRdma =
            serde_json::from_str(r#"{"hcaHandles":3,"hcaObjects":10000}"#).expect("json");
        assert_eq!(
            line("mlx5_1", &r).as_deref(),
            Some("mlx5_1 hca_handle=3 hca_object=10000")
        );
        assert_eq!(line("x", &LinuxRdma::default()), None);
    }
}
