//! v1 freezer: `freezer.state`. Freezing can stall in FREEZING (a task in an uninterruptible
//! sleep); like runc we then thaw and try again a few times before giving up.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::fs::CgroupDir;
use crate::FreezerState;

const FILE: &str = "freezer.state";
const ATTEMPTS: u32 = 10;
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);

/// Freeze or thaw, waiting until the state file reports it done.
pub fn set(dir: &CgroupDir, state: FreezerState) -> Result<()> {
    let want = match state {
        FreezerState::Frozen => "FROZEN",
        FreezerState::Thawed => "THAWED",
    };
    let start = Instant::now();
    let mut last = String::new();
    for _ in 0..ATTEMPTS {
        dir.write(FILE, want)?;
        let attempt = Instant::now();
        let mut delay = Duration::from_micros(200);
        while attempt.elapsed() < ATTEMPT_TIMEOUT {
            last = dir.read(FILE)?.trim().to_string();
            if last == want {
                return Ok(());
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(20));
        }
        if state == FreezerState::Frozen {
            // Stuck in FREEZING: back off, let the straggler run, retry.
            dir.write(FILE, "THAWED")?;
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    if state == FreezerState::Frozen {
        dir.write(FILE, "THAWED")?;
    }
    Err(Error::FreezeTimeout {
        path: dir.file(FILE),
        state: last,
        waited_ms: start.elapsed().as_millis() as u64,
    })
}

/// Read the state; FREEZING counts as thawed (the cgroup is not paused yet).
pub fn state(dir: &CgroupDir) -> Result<FreezerState> {
    Ok(if dir.read(FILE)?.trim() == "FROZEN" {
        FreezerState::Frozen
    } else {
        FreezerState::Thawed
    })
}
