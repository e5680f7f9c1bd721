//! `docker top`: the container's processes, read from `/proc` for the pids in its cgroup,
//! in `ps -ef`'s columns.

use std::collections::HashMap;

use berth_runtime::container::Container;

use crate::error::{EngineError, Result};
use crate::Engine;

/// docker's `{"Titles": [...], "Processes": [[...]]}`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopResult {
    /// Column names (`ps -ef`'s).
    pub titles: Vec<String>,
    /// One row per process.
    pub processes: Vec<Vec<String>>,
}

fn host_users() -> HashMap<u32, String> {
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, (*f.first()?).to_owned()))
        })
        .collect()
}

fn boot_time() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
        .unwrap_or(0)
}

/// One `ps -ef` row for `pid`, or `None` if it is gone.
fn row(pid: i32, users: &HashMap<u32, String>, ticks: u64, btime: u64) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may contain spaces) start after the last ')'.
    let rest: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let ppid = rest.get(1)?.to_string();
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    let start: u64 = rest.get(19)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let uid: u32 = status
        .lines()
        .find_map(|l| {
            l.strip_prefix("Uid:")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmd = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let secs = (utime + stime) / ticks.max(1);
    let started = btime + start / ticks.max(1);
    let stime_col = {
        let day = started % 86_400;
        format!("{:02}:{:02}", day / 3600, day % 3600 / 60)
    };
    Some(vec![
        users.get(&uid).cloned().unwrap_or_else(|| uid.to_string()),
        pid.to_string(),
        ppid,
        "0".into(),
        stime_col,
        "?".into(),
        format!(
            "{:02}:{:02}:{:02}",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        ),
        cmd,
    ])
}

impl Engine {
    /// `docker top`: the processes of running container `key`.
    pub fn top(&self, key: &str) -> Result<TopResult> {
        let id = Self::find_id(&self.lock(), key)?;
        let not_running = || EngineError::Conflict(format!("Container {id} is not running"));
        let c = Container::load(&self.runtime_root(), &id).map_err(|_| not_running())?;
        let pids = c.pids().map_err(|_| not_running())?;
        let users = host_users();
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        let btime = boot_time();
        let mut processes: Vec<Vec<String>> = pids
            .into_iter()
            .filter_map(|p| row(p, &users, ticks, btime))
            .collect();
        processes.sort_by_key(|r| r[1].parse::<i64>().unwrap_or(0));
        Ok(TopResult {
            titles: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
                .map(String::from)
                .to_vec(),
            processes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_row() {
        let users = host_users();
        let r = row(std::process::id() as i32, &users, 100, boot_time());
        let r = r.unwrap_or_default();
        assert_eq!(r.len(), 8);
        assert_eq!(r[1], std::process::id().to_string());
        assert!(!r[7].is_empty());
    }
}
