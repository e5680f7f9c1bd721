//! v2 io controller: weights (`io.bfq.weight` when BFQ is there, else `io.weight`),
//! throttling in `io.max`, and per-device stats from `io.stat`.

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use crate::error::Result;
use crate::fs::CgroupDir;
use crate::stats::{BlkioEntry, BlkioStats};

/// Whether the spec sets anything this controller writes.
pub fn wants(b: &LinuxBlockIo) -> bool {
    let some = |v: &Option<Vec<LinuxThrottleDevice>>| v.as_ref().is_some_and(|v| !v.is_empty());
    b.weight().is_some()
        || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
        || some(b.throttle_read_bps_device())
        || some(b.throttle_write_bps_device())
        || some(b.throttle_read_iops_device())
        || some(b.throttle_write_iops_device())
}

/// Map a v1 blkio weight (10..=1000) to a v2 io.weight (1..=10000), as runc does.
pub fn blkio_weight_to_io(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    let w = u64::from(w.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

/// Write weights and throttles (one line per write, each device on its own).
pub fn apply(dir: &CgroupDir, b: &LinuxBlockIo) -> Result<()> {
    // BFQ takes v1-style weights directly; io.weight needs the conversion.
    let bfq = dir.has("io.bfq.weight");
    if let Some(w) = b.weight() {
        if bfq {
            dir.append("io.bfq.weight", w.to_string())?;
        } else {
            dir.append("io.weight", format!("default {}", blkio_weight_to_io(w)))?;
        }
    }
    if b.leaf_weight().is_some() {
        tracing::warn!("blkio leaf weight does not exist in cgroup v2; ignored");
    }
    for wd in b.weight_device().iter().flatten() {
        let Some(w) = wd.weight() else { continue };
        let dev = format!("{}:{}", wd.major(), wd.minor());
        if bfq {
            dir.append("io.bfq.weight", format!("{dev} {w}"))?;
        } else {
            dir.append("io.weight", format!("{dev} {}", blkio_weight_to_io(w)))?;
        }
    }
    let throttles = [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ];
    for (key, list) in throttles {
        for t in list.iter().flatten() {
            let rate = if t.rate() == 0 {
                "max".to_string()
            } else {
                t.rate().to_string()
            };
            dir.append(
                "io.max",
                format!("{}:{} {key}={rate}", t.major(), t.minor()),
            )?;
        }
    }
    Ok(())
}

/// Parse `io.stat` ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6").
pub fn parse_io_stat(text: &str) -> BlkioStats {
    let mut out = BlkioStats::default();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some((major, minor)) = it.next().and_then(|d| {
            let (a, b) = d.split_once(':')?;
            Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?))
        }) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse::<u64>() else {
                continue;
            };
            let (list, op) = match k {
                "rbytes" => (&mut out.service_bytes, "Read"),
                "wbytes" => (&mut out.service_bytes, "Write"),
                "dbytes" => (&mut out.service_bytes, "Discard"),
                "rios" => (&mut out.serviced, "Read"),
                "wios" => (&mut out.serviced, "Write"),
                "dios" => (&mut out.serviced, "Discard"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value,
            });
        }
    }
    out
}

/// Read per-device I/O.
pub fn stats(dir: &CgroupDir) -> Result<BlkioStats> {
    Ok(dir
        .read_opt("io.stat")?
        .map(|t| parse_io_stat(&t))
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_and_stat() {
        assert_eq!(blkio_weight_to_io(10), 1);
        assert_eq!(blkio_weight_to_io(1000), 10_000);
        assert_eq!(blkio_weight_to_io(500), 1 + 490 * 9999 / 990);
        let s = parse_io_stat("8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n");
        assert_eq!(s.service_bytes.len(), 3);
        assert_eq!(s.service_bytes[0].op, "Read");
        assert_eq!(s.service_bytes[0].value, 4096);
        assert_eq!(s.serviced[1].value, 2);
        assert_eq!(s.serviced[1].major, 8);
    }
}
