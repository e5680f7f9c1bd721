//! v1 blkio controller: weights (CFQ's `blkio.weight` or BFQ's `blkio.bfq.weight`),
//! throttling, and per-device byte/operation counts.

use oci_spec::runtime::LinuxBlockIo;

use crate::error::{Error, Result};
use crate::fs::CgroupDir;
use crate::stats::{BlkioEntry, BlkioStats};

/// Whether the spec sets anything this controller writes.
pub fn wants(b: &LinuxBlockIo) -> bool {
    crate::v2::io::wants(b) || b.leaf_weight().is_some()
}

/// The weight file this kernel offers: CFQ's, else BFQ's.
fn weight_file(dir: &CgroupDir, cfq: &'static str, bfq: &'static str) -> Result<&'static str> {
    if dir.has(cfq) {
        Ok(cfq)
    } else if dir.has(bfq) {
        Ok(bfq)
    } else {
        Err(Error::Unsupported(format!(
            "{cfq} (no CFQ or BFQ I/O scheduler in {})",
            dir.path().display()
        )))
    }
}

/// Write weights and throttles.
pub fn apply(dir: &CgroupDir, b: &LinuxBlockIo) -> Result<()> {
    if let Some(w) = b.weight() {
        let f = weight_file(dir, "blkio.weight", "blkio.bfq.weight")?;
        dir.write(f, w.to_string())?;
    }
    if let Some(w) = b.leaf_weight() {
        if dir.has("blkio.leaf_weight") {
            dir.write("blkio.leaf_weight", w.to_string())?;
        } else {
            tracing::warn!("blkio leaf weight needs CFQ; ignored");
        }
    }
    for wd in b.weight_device().iter().flatten() {
        let dev = format!("{}:{}", wd.major(), wd.minor());
        if let Some(w) = wd.weight() {
            let f = weight_file(dir, "blkio.weight_device", "blkio.bfq.weight_device")?;
            dir.append(f, format!("{dev} {w}"))?;
        }
        if let Some(w) = wd.leaf_weight() {
            if dir.has("blkio.leaf_weight_device") {
                dir.append("blkio.leaf_weight_device", format!("{dev} {w}"))?;
            } else {
                tracing::warn!("blkio leaf weight needs CFQ; ignored");
            }
        }
    }
    let throttles = [
        (
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device(),
        ),
    ];
    for (file, list) in throttles {
        for t in list.iter().flatten() {
            dir.append(file, format!("{}:{} {}", t.major(), t.minor(), t.rate()))?;
        }
    }
    Ok(())
}

/// Parse a v1 blkio stat file ("8:0 Read 4096" lines; the device-less "Total" line is
/// dropped).
pub fn parse_entries(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (maj, min) = it.next()?.split_once(':')?;
            let op = it.next()?;
            let value = it.next()?.parse().ok()?;
            Some(BlkioEntry {
                major: maj.parse().ok()?,
                minor: min.parse().ok()?,
                op: op.to_string(),
                value,
            })
        })
        .collect()
}

/// Read the first of `names` that exists and has entries.
fn first_entries(dir: &CgroupDir, names: &[&str]) -> Result<Vec<BlkioEntry>> {
    for n in names {
        if let Some(t) = dir.read_opt(n)? {
            let e = parse_entries(&t);
            if !e.is_empty() {
                return Ok(e);
            }
        }
    }
    Ok(Vec::new())
}

/// Read per-device I/O: the throttle layer counts all I/O whatever the scheduler, so prefer
/// it, then the scheduler's own files.
pub fn stats(dir: &CgroupDir) -> Result<BlkioStats> {
    Ok(BlkioStats {
        service_bytes: first_entries(
            dir,
            &[
                "blkio.throttle.io_service_bytes_recursive",
                "blkio.io_service_bytes_recursive",
                "blkio.bfq.io_service_bytes_recursive",
            ],
        )?,
        serviced: first_entries(
            dir,
            &[
                "blkio.throttle.io_serviced_recursive",
                "blkio.io_serviced_recursive",
                "blkio.bfq.io_serviced_recursive",
            ],
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries() {
        let e = parse_entries("8:0 Read 4096\n8:0 Write 0\n8:16 Total 4096\nTotal 8192\n");
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].op, "Read");
        assert_eq!(e[0].value, 4096);
        assert_eq!(e[2].minor, 16);
    }
}
