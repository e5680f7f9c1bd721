//! Reading `--userns-remap` values and the host's `/etc/subuid`/`/etc/subgid` ranges, as
//! dockerd does: the remap user's ranges, in file order, become one contiguous id space
//! starting at 0 inside the container.

use std::path::{Path, PathBuf};

use berth_image::snapshot::IdMapping;

/// The user berthd remaps to for `--userns-remap=default` (dockerd's is `dockremap`).
pub const DEFAULT_USER: &str = "berthremap";

/// The host files ids are resolved from (the real `/etc` ones, or a test's).
#[derive(Debug, Clone)]
pub struct HostIdFiles {
    /// `/etc/passwd`.
    pub passwd: PathBuf,
    /// `/etc/group`.
    pub group: PathBuf,
    /// `/etc/subuid`.
    pub subuid: PathBuf,
    /// `/etc/subgid`.
    pub subgid: PathBuf,
}

impl Default for HostIdFiles {
    fn default() -> Self {
        HostIdFiles {
            passwd: "/etc/passwd".into(),
            group: "/etc/group".into(),
            subuid: "/etc/subuid".into(),
            subgid: "/etc/subgid".into(),
        }
    }
}

/// One side (user or group) of a remap setting: a name, an id, or both once resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The name from passwd/group, if there is an entry.
    pub name: Option<String>,
    /// The numeric id.
    pub id: u32,
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "{}", self.id),
        }
    }
}

/// Looks `key` (a name or a number) up in a passwd or group file's text: (name, id).
pub(super) fn lookup(text: &str, key: &str) -> Option<(String, u32)> {
    let entries = text
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 3);
    let mut by_id = None;
    for f in entries {
        let Ok(id) = f[2].parse::<u32>() else {
            continue;
        };
        if f[0] == key {
            return Some((f[0].to_owned(), id));
        }
        if by_id.is_none() && key.parse::<u32>().ok() == Some(id) {
            by_id = Some((f[0].to_owned(), id));
        }
    }
    by_id
}

pub(super) fn read(path: &Path) -> Result<String, String> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(format!("read {}: {e}", path.display())),
    }
}

/// Resolves one side: a number is taken as is (its name looked up for the subid files), a
/// name must exist.
fn principal(text: &str, key: &str, what: &str, file: &Path) -> Result<Principal, String> {
    if let Ok(id) = key.parse::<u32>() {
        return Ok(Principal {
            name: lookup(text, key).map(|(n, _)| n),
            id,
        });
    }
    match lookup(text, key) {
        Some((name, id)) => Ok(Principal {
            name: Some(name),
            id,
        }),
        None if key == DEFAULT_USER => Err(format!(
            "userns-remap=default needs the user {DEFAULT_USER} with subordinate id ranges; \
             create them with: useradd --system --no-create-home --shell /usr/sbin/nologin \
             {DEFAULT_USER} && usermod --add-subuids 100000-165535 --add-subgids \
             100000-165535 {DEFAULT_USER}"
        )),
        None => Err(format!(
            "userns-remap: no {what} named {key:?} in {}",
            file.display()
        )),
    }
}

/// Parses a `--userns-remap` value (`default`, `USER`, `USER:GROUP`, `UID:GID`) into the
/// user and group whose subordinate ranges are used. A user alone brings its primary group
/// when it has a passwd entry, else the group of the same name or number.
pub fn parse_setting(value: &str, files: &HostIdFiles) -> Result<(Principal, Principal), String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("userns-remap: empty value".into());
    }
    let value = if value == "default" {
        DEFAULT_USER
    } else {
        value
    };
    let (u, g) = match value.split_once(':') {
        Some((u, g)) if !u.is_empty() && !g.is_empty() => (u, Some(g)),
        Some(_) => return Err(format!("userns-remap: invalid value {value:?}")),
        None => (value, None),
    };
    let passwd = read(&files.passwd)?;
    let groups = read(&files.group)?;
    let user = principal(&passwd, u, "user", &files.passwd)?;
    let group = match g {
        Some(g) => principal(&groups, g, "group", &files.group)?,
        None => match user.name.as_deref().and_then(|n| lookup(&groups, n)) {
            Some((name, id)) => Principal {
                name: Some(name),
                id,
            },
            None => principal(&groups, &user.id.to_string(), "group", &files.group)?,
        },
    };
    Ok((user, group))
}

/// The ranges of `who` in a subuid/subgid file's text (matched by name or by number), in file
/// order: (first host id, count).
pub fn ranges(text: &str, who: &Principal) -> Vec<(u32, u32)> {
    let id = who.id.to_string();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split(':');
            let (owner, start, count) = (f.next()?, f.next()?, f.next()?);
            let matches = owner == id || who.name.as_deref() == Some(owner);
            let (start, count) = (start.parse::<u32>().ok()?, count.parse::<u32>().ok()?);
            (matches && count > 0).then_some((start, count))
        })
        .collect()
}

/// The ranges as a contiguous map from container id 0 upwards.
pub fn to_map(ranges: &[(u32, u32)]) -> Vec<IdMapping> {
    let mut next = 0u32;
    let mut out = Vec::new();
    for &(host, size) in ranges {
        out.push(IdMapping {
            container: next,
            host,
            size,
        });
        match next.checked_add(size) {
            Some(n) => next = n,
            None => break,
        }
    }
    out
}

/// The uid and gid maps for a remap setting; a user or group with no range is an error that
/// names the file to edit.
pub fn maps_for(
    value: &str,
    files: &HostIdFiles,
) -> Result<(Principal, Principal, Vec<IdMapping>, Vec<IdMapping>), String> {
    let (user, group) = parse_setting(value, files)?;
    let uids = ranges(&read(&files.subuid)?, &user);
    if uids.is_empty() {
        return Err(format!(
            "userns-remap: no subuid ranges found for user {user} in {}",
            files.subuid.display()
        ));
    }
    let gids = ranges(&read(&files.subgid)?, &group);
    if gids.is_empty() {
        return Err(format!(
            "userns-remap: no subgid ranges found for group {group} in {}",
            files.subgid.display()
        ));
    }
    Ok((user, group, to_map(&uids), to_map(&gids)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn files(dir: &Path, subuid: &str, subgid: &str) -> HostIdFiles {
        let f = HostIdFiles {
            passwd: dir.join("passwd"),
            group: dir.join("group"),
            subuid: dir.join("subuid"),
            subgid: dir.join("subgid"),
        };
        std::fs::write(
            &f.passwd,
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1001::/home/alice:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(&f.group, "root:x:0:\nalice:x:1001:\nstaff:x:50:\n").unwrap();
        std::fs::write(&f.subuid, subuid).unwrap();
        std::fs::write(&f.subgid, subgid).unwrap();
        f
    }

    #[test]
    fn ranges_match_by_name_or_number_in_file_order() {
        let alice = Principal {
            name: Some("alice".into()),
            id: 1000,
        };
        let text = "# comment\nbob:1:2\nalice:100000:65536\n1000:300000:10\nbad line\nalice:x:5\nalice:9:0\n";
        assert_eq!(ranges(text, &alice), [(100000, 65536), (300000, 10)]);
        let map = to_map(&ranges(text, &alice));
        assert_eq!(map[1].container, 65536);
        assert_eq!(map[1].host, 300000);
        let anon = Principal { name: None, id: 7 };
        assert!(ranges(text, &anon).is_empty());
    }

    #[test]
    fn settings_resolve_like_dockerd() {
        let dir = tempfile::tempdir().unwrap();
        let f = files(
            dir.path(),
            "alice:100000:65536\n4242:200000:1000\n",
            "alice:100000:65536\nstaff:500000:70000\n4343:200000:1000\n",
        );
        let (u, g, um, gm) = maps_for("alice", &f).unwrap();
        assert_eq!((u.id, g.id), (1000, 1001));
        assert_eq!(um[0].host, 100000);
        assert_eq!(gm[0].size, 65536);
        let (_, g, _, gm) = maps_for("alice:staff", &f).unwrap();
        assert_eq!((g.id, gm[0].host, gm[0].size), (50, 500000, 70000));
        // Numeric ids need no passwd entry.
        let (u, g, um, gm) = maps_for("4242:4343", &f).unwrap();
        assert_eq!(
            (u.id, g.id, um[0].host, gm[0].host),
            (4242, 4343, 200000, 200000)
        );
    }

    #[test]
    fn missing_users_and_ranges_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f = files(dir.path(), "alice:100000:65536\n", "");
        let e = maps_for("alice", &f).unwrap_err();
        assert!(e.contains("no subgid ranges found for group alice"), "{e}");
        let e = maps_for("4242:4242", &f).unwrap_err();
        assert!(e.contains("no subuid ranges found for user 4242"), "{e}");
        let e = maps_for("nobody-here", &f).unwrap_err();
        assert!(e.contains("no user named"), "{e}");
        let e = maps_for("default", &f).unwrap_err();
        assert!(e.contains("useradd"), "{e}");
        assert!(maps_for(":1", &f).is_err());
        assert!(maps_for("", &f).is_err());
    }
}
