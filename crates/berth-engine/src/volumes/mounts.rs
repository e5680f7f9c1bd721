//! A container's mounts as the user asks for them (`HostConfig.Binds`, `Mounts`, `Tmpfs`,
//! `VolumesFrom`, the image's and config's `Volumes`), parsed and checked with docker's rules
//! and messages into [`MountPoint`]s, before anything is created.

use std::path::Path;

use crate::error::{EngineError, Result};
use crate::model::{MountPoint, MountSpec};

fn invalid(msg: String) -> EngineError {
    EngineError::InvalidParameter(msg)
}

/// Checks a container path: absolute, not `/`; returns it cleaned.
fn check_target(kind: &str, target: &str) -> Result<String> {
    if !target.starts_with('/') {
        return Err(invalid(format!(
            "invalid mount config for type \"{kind}\": invalid mount path: '{target}' mount path must be absolute"
        )));
    }
    let clean = clean_path(target);
    if clean == "/" {
        return Err(invalid(
            "invalid specification: destination can't be '/'".into(),
        ));
    }
    Ok(clean)
}

/// `/a//b/./c/../d/` → `/a/b/d` (lexical, like Go's `path.Clean`).
pub fn clean_path(p: &str) -> String {
    // berth-fs's cleaner is the one the extractor and the resolver use; a `&str` in gives
    // valid UTF-8 out, so nothing is lost in the conversion.
    berth_fs::clean(p).to_string_lossy().into_owned()
}

const PROPAGATIONS: [&str; 6] = [
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

/// Parses one `-v` value: `NAME:/dst[:mode]`, `/host:/dst[:mode]` or `/dst`.
pub fn parse_bind(raw: &str) -> Result<MountPoint> {
    let spec = || invalid(format!("invalid volume specification: '{raw}'"));
    let parts: Vec<&str> = raw.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [dst] => ("", *dst, ""),
        [src, dst] => {
            if src.is_empty() || valid_mode(dst) {
                return Err(spec());
            }
            (*src, *dst, "")
        }
        [src, dst, mode] => {
            if src.is_empty() {
                return Err(spec());
            }
            if !valid_mode(mode) {
                return Err(invalid(format!("invalid mode: {mode}")));
            }
            (*src, *dst, *mode)
        }
        _ => return Err(spec()),
    };
    let bind = src.starts_with('/');
    let kind = if bind { "bind" } else { "volume" };
    let destination = check_target(kind, dst)
        .map_err(|e| invalid(format!("invalid volume specification: '{raw}': {e}")))?;
    let opts: Vec<&str> = mode.split(',').filter(|m| !m.is_empty()).collect();
    let rw = !opts.contains(&"ro");
    let propagation = opts
        .iter()
        .find(|o| PROPAGATIONS.contains(o))
        .map_or(if bind { "rprivate" } else { "" }, |p| *p);
    if !bind && opts.iter().any(|o| PROPAGATIONS.contains(o)) {
        return Err(invalid(format!(
            "invalid volume specification: '{raw}': propagation is only for bind mounts"
        )));
    }
    let mut mp = MountPoint {
        kind: kind.into(),
        destination,
        mode: mode.into(),
        rw,
        propagation: propagation.into(),
        ..Default::default()
    };
    if bind {
        if opts.contains(&"nocopy") {
            return Err(invalid(format!(
                "invalid volume specification: '{raw}': nocopy is only for volumes"
            )));
        }
        mp.source = clean_path(src);
        mp.create_source = true;
    } else {
        if !src.is_empty() {
            super::local::validate_name(src)?;
        }
        mp.name = src.into();
        mp.anonymous = src.is_empty();
        mp.driver = "local".into();
        mp.copy_data = !opts.contains(&"nocopy");
        if mp.mode.is_empty() {
            mp.mode = "z".into();
        }
    }
    Ok(mp)
}

fn valid_mode(mode: &str) -> bool {
    let mut rwo = 0;
    let mut prop = 0;
    for m in mode.split(',') {
        match m {
            "ro" | "rw" => rwo += 1,
            "z" | "Z" | "nocopy" | "consistent" | "cached" | "delegated" => {}
            p if PROPAGATIONS.contains(&p) => prop += 1,
            _ => return false,
        }
    }
    rwo <= 1 && prop <= 1
}

/// Parses one API `Mount`.
pub fn parse_mount(m: &MountSpec) -> Result<MountPoint> {
    let kind = m.kind.as_str();
    let bad = |msg: &str| invalid(format!("invalid mount config for type \"{kind}\": {msg}"));
    let destination = check_target(kind, &m.target)?;
    let mut mp = MountPoint {
        kind: kind.into(),
        destination,
        rw: !m.read_only,
        mode: if m.read_only {
            "ro".into()
        } else {
            String::new()
        },
        ..Default::default()
    };
    match kind {
        "bind" => {
            if m.volume_options.is_some() || m.tmpfs_options.is_some() {
                return Err(bad("only BindOptions may be given"));
            }
            if m.source.is_empty() {
                return Err(bad("field Source must not be empty"));
            }
            if !m.source.starts_with('/') {
                return Err(bad(&format!(
                    "invalid mount path: '{}' mount path must be absolute",
                    m.source
                )));
            }
            if !Path::new(&m.source).exists() {
                return Err(bad(&format!(
                    "bind source path does not exist: {}",
                    m.source
                )));
            }
            let prop = m
                .bind_options
                .as_ref()
                .map(|b| b.propagation.clone())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "rprivate".into());
            if !PROPAGATIONS.contains(&prop.as_str()) {
                return Err(bad(&format!("invalid propagation mode: {prop}")));
            }
            mp.source = clean_path(&m.source);
            mp.propagation = prop;
        }
        "volume" => {
            if m.bind_options.is_some() || m.tmpfs_options.is_some() {
                return Err(bad("only VolumeOptions may be given"));
            }
            if !m.source.is_empty() {
                super::local::validate_name(&m.source)?;
            }
            let vo = m.volume_options.clone().unwrap_or_default();
            let dc = vo.driver_config.clone().unwrap_or_default();
            if !matches!(dc.name.as_str(), "" | "local") {
                return Err(bad(&format!("unknown volume driver {:?}", dc.name)));
            }
            super::local::LocalOptions::parse(&dc.options)?;
            mp.name = m.source.clone();
            mp.anonymous = m.source.is_empty();
            mp.driver = "local".into();
            mp.copy_data = !vo.no_copy;
            if mp.mode.is_empty() {
                mp.mode = "z".into();
            }
            mp.create = Some((vo.labels, dc.options));
        }
        "tmpfs" => {
            if !m.source.is_empty() {
                return Err(bad("Source must not be specified"));
            }
            if m.bind_options.is_some() || m.volume_options.is_some() {
                return Err(bad("only TmpfsOptions may be given"));
            }
            let t = m.tmpfs_options.clone().unwrap_or_default();
            if t.size_bytes < 0 {
                return Err(bad("tmpfs size must not be negative"));
            }
            if t.size_bytes > 0 {
                mp.tmpfs_options.push(format!("size={}", t.size_bytes));
            }
            if t.mode != 0 {
                mp.tmpfs_options.push(format!("mode={:o}", t.mode & 0o7777));
            }
        }
        "" => {
            return Err(invalid(
                "invalid mount config: mount type must be given".into(),
            ))
        }
        other => {
            return Err(invalid(format!(
                "invalid mount config for type \"{other}\": mount type unknown"
            )))
        }
    }
    Ok(mp)
}

/// Parses one `--tmpfs` entry (`HostConfig.Tmpfs`: path → `size=64m,mode=1777`).
pub fn parse_tmpfs(target: &str, opts: &str) -> Result<MountPoint> {
    let destination = check_target("tmpfs", target)?;
    let mut options = Vec::new();
    let mut rw = true;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        let known = match o.split_once('=') {
            Some((k, v)) => {
                matches!(
                    k,
                    "size" | "mode" | "uid" | "gid" | "nr_inodes" | "nr_blocks" | "mpol"
                ) && !v.is_empty()
            }
            None => matches!(
                o,
                "ro" | "rw"
                    | "exec"
                    | "noexec"
                    | "suid"
                    | "nosuid"
                    | "dev"
                    | "nodev"
                    | "sync"
                    | "async"
                    | "atime"
                    | "noatime"
                    | "relatime"
                    | "strictatime"
                    | "nodiratime"
                    | "diratime"
            ),
        };
        if !known {
            return Err(invalid(format!("invalid tmpfs option {o:?} for {target}")));
        }
        if o == "ro" {
            rw = false;
        }
        options.push(o.to_owned());
    }
    Ok(MountPoint {
        kind: "tmpfs".into(),
        destination,
        rw,
        tmpfs_options: options,
        ..Default::default()
    })
}

/// Parses `CONTAINER[:ro|rw]` of `--volumes-from`.
pub fn parse_volumes_from(raw: &str) -> Result<(&str, Option<bool>)> {
    match raw.split_once(':') {
        None => Ok((raw, None)),
        Some((c, "ro")) => Ok((c, Some(false))),
        Some((c, "rw")) => Ok((c, Some(true))),
        Some((_, m)) => Err(invalid(format!("invalid mode: {m}"))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::TmpfsOptions;

    #[test]
    fn binds() {
        let v = parse_bind("data:/srv/data:ro").unwrap();
        assert_eq!(
            (v.kind.as_str(), v.name.as_str(), v.rw),
            ("volume", "data", false)
        );
        assert!(v.copy_data);
        let b = parse_bind("/host/x/:/x").unwrap();
        assert_eq!(
            (b.kind.as_str(), b.source.as_str(), b.rw),
            ("bind", "/host/x", true)
        );
        assert_eq!(b.propagation, "rprivate");
        let a = parse_bind("/anon").unwrap();
        assert!(a.anonymous && a.name.is_empty());
        assert!(!parse_bind("vv:/x:nocopy").unwrap().copy_data);
        for bad in [
            "a:b:c:d",
            "/x:rw",
            ":/x",
            "v:rel",
            "v:/",
            "v:/x:bogus",
            "rel/p:/x",
        ] {
            assert!(parse_bind(bad).is_err(), "{bad}");
        }
        let e = parse_bind("v:rel").unwrap_err().to_string();
        assert!(e.contains("mount path must be absolute"), "{e}");
    }

    #[test]
    fn mounts() {
        let m = |kind: &str, src: &str, dst: &str| MountSpec {
            kind: kind.into(),
            source: src.into(),
            target: dst.into(),
            ..Default::default()
        };
        assert!(parse_mount(&m("bind", "rel", "/x")).is_err());
        assert!(parse_mount(&m("bind", "/nonexistent-berth-path", "/x")).is_err());
        assert!(parse_mount(&m("bind", "/", "/x")).is_ok());
        assert!(parse_mount(&m("tmpfs", "x", "/x")).is_err());
        assert!(parse_mount(&m("nfs", "", "/x")).is_err());
        let mut t = m("tmpfs", "", "/t");
        t.tmpfs_options = Some(TmpfsOptions {
            size_bytes: 1 << 20,
            mode: 0o1777,
        });
        assert_eq!(
            parse_mount(&t).unwrap().tmpfs_options,
            ["size=1048576", "mode=1777"]
        );
        let v = parse_mount(&m("volume", "", "/v")).unwrap();
        assert!(v.anonymous && v.copy_data);
    }

    #[test]
    fn tmpfs_and_from() {
        let t = parse_tmpfs("/run", "size=64m,noexec").unwrap();
        assert_eq!(t.tmpfs_options, ["size=64m", "noexec"]);
        assert!(parse_tmpfs("/run", "bogus").is_err());
        assert!(parse_tmpfs("run", "").is_err());
        assert_eq!(parse_volumes_from("c1:ro").unwrap(), ("c1", Some(false)));
        assert_eq!(parse_volumes_from("c1").unwrap(), ("c1", None));
        assert!(parse_volumes_from("c1:xx").is_err());
        assert_eq!(clean_path("/a//b/./c/../d/"), "/a/b/d");
    }
}
