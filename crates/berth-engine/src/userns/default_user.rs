//! `--userns-remap=default`: as dockerd does for `dockremap`, the `berthremap` user and a free
//! 65536-id subordinate range are created when missing, with shadow-utils' `useradd` and
//! `usermod` (which lock the files against other writers).

use std::process::Command;

use super::subid::{lookup, ranges, read, HostIdFiles, Principal, DEFAULT_USER};

/// How many ids a created range holds, and where the search for a free one starts (dockerd's).
const RANGE: u32 = 65536;
const FIRST: u32 = 100_000;

/// The first `RANGE`-sized gap at or above `FIRST` among every range of the subid files'
/// texts, whoever owns them.
pub fn free_start(texts: &[&str]) -> Option<u32> {
    let mut taken: Vec<(u64, u64)> = texts
        .iter()
        .flat_map(|t| t.lines())
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let (_, s, c) = (f.next()?, f.next()?, f.next()?);
            let (s, c) = (s.parse::<u64>().ok()?, c.parse::<u64>().ok()?);
            Some((s, s + c))
        })
        .collect();
    taken.sort_unstable();
    let mut at = u64::from(FIRST);
    for (s, e) in taken {
        if at + u64::from(RANGE) <= s {
            break;
        }
        at = at.max(e);
    }
    u32::try_from(at + u64::from(RANGE)).ok().map(|_| at as u32)
}

fn run(tool: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(tool)
        .args(args)
        .output()
        .map_err(|e| format!("userns-remap=default: run {tool}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "userns-remap=default: {tool} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

/// Creates `berthremap` (a system user with its group, no home, no login) and gives it a free
/// subordinate uid and gid range where it has none. Only for the host's real files.
pub fn ensure() -> Result<(), String> {
    let files = HostIdFiles::default();
    if lookup(&read(&files.passwd)?, DEFAULT_USER).is_none() {
        run(
            "useradd",
            &[
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                DEFAULT_USER,
            ],
        )?;
        tracing::info!("userns-remap=default: created the user {DEFAULT_USER}");
    }
    let Some((_, uid)) = lookup(&read(&files.passwd)?, DEFAULT_USER) else {
        return Err(format!(
            "userns-remap=default: no user {DEFAULT_USER} after useradd"
        ));
    };
    let gid = lookup(&read(&files.group)?, DEFAULT_USER).map_or(uid, |(_, g)| g);
    let who = |id| Principal {
        name: Some(DEFAULT_USER.to_owned()),
        id,
    };
    let (subuid, subgid) = (read(&files.subuid)?, read(&files.subgid)?);
    let need_uids = ranges(&subuid, &who(uid)).is_empty();
    let need_gids = ranges(&subgid, &who(gid)).is_empty();
    if !need_uids && !need_gids {
        return Ok(());
    }
    let start = free_start(&[&subuid, &subgid])
        .ok_or("userns-remap=default: no free subordinate id range left")?;
    let span = format!("{start}-{}", start + (RANGE - 1));
    let mut args = Vec::new();
    if need_uids {
        args.extend(["--add-subuids", span.as_str()]);
    }
    if need_gids {
        args.extend(["--add-subgids", span.as_str()]);
    }
    args.push(DEFAULT_USER);
    run("usermod", &args)?;
    tracing::info!("userns-remap=default: gave {DEFAULT_USER} the subordinate ids {span}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ranges_are_found_between_and_after_taken_ones() {
        assert_eq!(free_start(&[""]), Some(100_000));
        assert_eq!(free_start(&["a:100000:65536\n"]), Some(165_536));
        // A gap big enough between two ranges is used; one too small is skipped.
        assert_eq!(
            free_start(&["a:100000:65536\nb:300000:65536\n", "c:165536:1000\n"]),
            Some(166_536)
        );
        assert_eq!(free_start(&["a:100000:10\nb:100005:10\n"]), Some(100_015));
        assert_eq!(free_start(&["a:0:4294967295\n"]), None);
    }
}
