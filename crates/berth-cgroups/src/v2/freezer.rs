//! v2 freezer: `cgroup.freeze`, with completion read from `cgroup.events`.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::fs::CgroupDir;
use crate::FreezerState;

/// How long to wait for the kernel to report the cgroup frozen.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

/// Freeze or thaw, waiting until `cgroup.events` reports it done.
pub fn set(dir: &CgroupDir, state: FreezerState) -> Result<()> {
    let want = match state {
        FreezerState::Frozen => 1,
        FreezerState::Thawed => 0,
    };
    dir.write("cgroup.freeze", want.to_string())?;
    let start = Instant::now();
    let mut delay = Duration::from_micros(200);
    loop {
        let events = dir.read_keyed("cgroup.events")?;
        let frozen = events.get("frozen").copied();
        if frozen == Some(want) || (frozen.is_none() && want == 0) {
            return Ok(());
        }
        if start.elapsed() > FREEZE_TIMEOUT {
            return Err(Error::FreezeTimeout {
                path: dir.file("cgroup.events"),
                state: format!("frozen {}", frozen.unwrap_or(0)),
                waited_ms: start.elapsed().as_millis() as u64,
            });
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(20));
    }
}

/// Read the state from `cgroup.events`.
pub fn state(dir: &CgroupDir) -> Result<FreezerState> {
    let events = dir.read_keyed("cgroup.events")?;
    Ok(if events.get("frozen") == Some(&1) {
        FreezerState::Frozen
    } else {
        FreezerState::Thawed
    })
}
