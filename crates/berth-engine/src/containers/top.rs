//! `docker top`: the container's processes, read from `/proc` for the pids in its cgroup,
//! in `ps -ef`'s columns.

use std::collections::HashMap;

use berth_runtime::container::Container;

use crate::containers::Containers;
use crate::error::{EngineError, Result};

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

/// Docker's rule for `ps_args`: the PID column may not be renamed away (`-o pid=PID` is the
/// only `x=PID…` allowed), or the rows could not be matched to the container's processes.
fn validate_ps_args(args: &[&str]) -> Result<()> {
    for word in args.iter().flat_map(|a| a.split(',')) {
        if let Some((k, v)) = word.split_once('=') {
            if v.starts_with("PID") && k != "pid" {
                return Err(EngineError::InvalidParameter(format!(
                    "specifying \"{k}={v}\" is not allowed"
                )));
            }
        }
    }
    Ok(())
}

/// `ps ARGS` output cut into docker's shape, keeping the rows of `pids`: columns split on
/// whitespace, the last one (the command) taking the rest of the line.
fn parse_ps(out: &str, pids: &[i32]) -> Result<TopResult> {
    let mut lines = out.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let pid_col = titles.iter().position(|t| t == "PID").ok_or_else(|| {
        EngineError::InvalidParameter("Couldn't find PID field in ps output".into())
    })?;
    let mut processes = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(pid) = fields.get(pid_col).and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if !pids.contains(&pid) || fields.len() < titles.len() {
            continue;
        }
        let (head, cmd) = fields.split_at(titles.len() - 1);
        let mut row: Vec<String> = head.iter().map(|f| (*f).to_owned()).collect();
        row.push(cmd.join(" "));
        processes.push(row);
    }
    Ok(TopResult { titles, processes })
}

/// `docker top C ARGS`: the host's `ps` with the user's options (as argv, never a shell), its
/// rows filtered to the container's processes, as dockerd does.
fn top_with_ps(ps_args: &str, pids: &[i32]) -> Result<TopResult> {
    let args: Vec<&str> = ps_args.split_whitespace().collect();
    validate_ps_args(&args)?;
    let out = std::process::Command::new("ps")
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| EngineError::Internal(format!("running ps: {e}")))?;
    if !out.status.success() {
        return Err(EngineError::InvalidParameter(format!(
            "ps: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    parse_ps(&String::from_utf8_lossy(&out.stdout), pids)
}

impl Containers {
    /// `docker top`: the processes of running container `key`; with `ps_args`, as the host's
    /// `ps` shows them with those options.
    pub fn top(&self, key: &str, ps_args: &str) -> Result<TopResult> {
        let id = Self::find_id(&self.lock(), key)?;
        let not_running = || EngineError::Conflict(format!("Container {id} is not running"));
        let c = Container::load(&self.runtime_root(), &id).map_err(|_| not_running())?;
        let pids = c.pids().map_err(|_| not_running())?;
        if !ps_args.trim().is_empty() {
            return top_with_ps(ps_args, &pids);
        }
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
    fn ps_output_is_filtered_to_the_container() {
        let out = "  PID USER     COMMAND\n    1 root     sh -c sleep 1\n   42 root     other\n    7 nobody   top -b\n";
        let t = parse_ps(out, &[1, 7]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.titles, ["PID", "USER", "COMMAND"]);
        assert_eq!(t.processes[0], ["1", "root", "sh -c sleep 1"]);
        assert_eq!(t.processes[1], ["7", "nobody", "top -b"]);
        assert_eq!(t.processes.len(), 2);
        assert!(parse_ps("USER COMMAND\nroot sh\n", &[1]).is_err());
        assert!(validate_ps_args(&["-o", "pid,comm"]).is_ok());
        assert!(validate_ps_args(&["-o", "pid=PID,comm"]).is_ok());
        assert!(validate_ps_args(&["-o", "ppid=PID"]).is_err());
    }

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
