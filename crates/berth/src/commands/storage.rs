//! `run`/`create` storage flags: `-v`, `--mount`, `--tmpfs`, `--volumes-from` → docker's
//! `HostConfig.Binds`, `Mounts`, `Tmpfs`, `VolumesFrom` (the CLI parses `--mount`, as docker's
//! does; the daemon checks everything else).

use clap::Args;
use serde_json::{json, Map, Value};

use crate::Failure;

/// Volume and mount flags.
#[derive(Args, Debug, Clone, Default)]
pub struct StorageFlags {
    /// Bind mount a volume (NAME:/path[:ro], /host/path:/path[:ro], or /path).
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Attach a filesystem mount (type=volume|bind|tmpfs,source=,target=,readonly,...).
    #[arg(long = "mount")]
    pub mounts: Vec<String>,
    /// Mount a tmpfs directory (/path[:size=64m,mode=1777,...]).
    #[arg(long = "tmpfs")]
    pub tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s) (CONTAINER[:ro|rw]).
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
}

fn bad(value: &str, why: impl std::fmt::Display) -> Failure {
    Failure::daemon(format!(
        "invalid argument \"{value}\" for \"--mount\" flag: {why}"
    ))
}

fn boolean(raw: &str, key: &str, v: Option<&str>) -> Result<bool, Failure> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(other) => Err(bad(raw, format!("invalid value for {key}: {other}"))),
    }
}

/// Docker's size strings (`64m`, `1g`, `512`) in bytes.
fn size_bytes(s: &str) -> Option<i64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1i64 << 10),
        'm' => (&t[..t.len() - 1], 1 << 20),
        'g' => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: f64 = num.parse().ok()?;
    (n >= 0.0).then_some((n * mult as f64) as i64)
}

/// Parses one `--mount` value into docker's API `Mount`.
pub fn parse_mount(raw: &str) -> Result<Value, Failure> {
    let mut f = MountFields {
        kind: "volume".to_owned(),
        ..MountFields::default()
    };
    for field in raw.split(',').filter(|f| !f.is_empty()) {
        f.field(raw, field)?;
    }
    f.into_mount(raw)
}

/// The fields of one `--mount` value, gathered by option family: each family becomes one
/// object of the API's `Mount`, and is checked against the type only once all are read
/// (`type=` may come last).
#[derive(Default)]
struct MountFields {
    m: Map<String, Value>,
    kind: String,
    bind: Map<String, Value>,
    vol: Map<String, Value>,
    tmpfs: Map<String, Value>,
    labels: Map<String, Value>,
    driver: Map<String, Value>,
    driver_opts: Map<String, Value>,
}

impl MountFields {
    fn field(&mut self, raw: &str, field: &str) -> Result<(), Failure> {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v)),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need = |v: Option<&str>| {
            v.map(str::to_owned).ok_or_else(|| {
                bad(
                    raw,
                    format!("invalid field '{field}' must be a key=value pair"),
                )
            })
        };
        match k.as_str() {
            "type" => self.kind = need(v)?,
            "source" | "src" => {
                self.m.insert("Source".into(), json!(need(v)?));
            }
            "target" | "destination" | "dst" => {
                self.m.insert("Target".into(), json!(need(v)?));
            }
            "readonly" | "ro" => {
                self.m
                    .insert("ReadOnly".into(), json!(boolean(raw, &k, v)?));
            }
            "consistency" => {
                self.m.insert("Consistency".into(), json!(need(v)?));
            }
            "bind-propagation" => {
                self.bind.insert("Propagation".into(), json!(need(v)?));
            }
            "volume-nocopy" => {
                self.vol
                    .insert("NoCopy".into(), json!(boolean(raw, &k, v)?));
            }
            "volume-label" => {
                let s = need(v)?;
                let (lk, lv) = s.split_once('=').unwrap_or((&s, ""));
                self.labels.insert(lk.to_owned(), json!(lv));
            }
            "volume-driver" => {
                self.driver.insert("Name".into(), json!(need(v)?));
            }
            "volume-opt" => {
                let s = need(v)?;
                let (ok, ov) = s
                    .split_once('=')
                    .ok_or_else(|| bad(raw, format!("invalid volume-opt '{s}'")))?;
                self.driver_opts.insert(ok.to_owned(), json!(ov));
            }
            "tmpfs-size" => {
                let s = need(v)?;
                let n =
                    size_bytes(&s).ok_or_else(|| bad(raw, format!("invalid tmpfs-size '{s}'")))?;
                self.tmpfs.insert("SizeBytes".into(), json!(n));
            }
            "tmpfs-mode" => {
                let s = need(v)?;
                let n = u32::from_str_radix(&s, 8)
                    .map_err(|_| bad(raw, format!("invalid tmpfs-mode '{s}'")))?;
                self.tmpfs.insert("Mode".into(), json!(n));
            }
            _ => return Err(bad(raw, format!("unexpected key '{k}' in '{field}'"))),
        }
        Ok(())
    }

    /// The API's `Mount`; options of another type than the mount's are refused, as docker
    /// does.
    fn into_mount(self, raw: &str) -> Result<Value, Failure> {
        let MountFields {
            mut m,
            kind,
            bind,
            mut vol,
            tmpfs,
            labels,
            mut driver,
            driver_opts,
        } = self;
        if !m.contains_key("Target") {
            return Err(bad(raw, "target is required"));
        }
        if !driver_opts.is_empty() {
            driver.insert("Options".into(), Value::Object(driver_opts));
        }
        if !labels.is_empty() {
            vol.insert("Labels".into(), Value::Object(labels));
        }
        if !driver.is_empty() {
            vol.insert("DriverConfig".into(), Value::Object(driver));
        }
        match kind.as_str() {
            "bind" | "volume" | "tmpfs" => {}
            other => return Err(bad(raw, format!("invalid type '{other}'"))),
        }
        for (family, opts, key, of) in [
            ("bind-*", bind, "BindOptions", "bind"),
            ("volume-*", vol, "VolumeOptions", "volume"),
            ("tmpfs-*", tmpfs, "TmpfsOptions", "tmpfs"),
        ] {
            if opts.is_empty() {
                continue;
            }
            if kind != of {
                let msg = format!("cannot mix '{family}' options with type '{kind}'");
                return Err(bad(raw, msg));
            }
            m.insert(key.into(), Value::Object(opts));
        }
        m.insert("Type".into(), json!(kind));
        Ok(Value::Object(m))
    }
}

impl StorageFlags {
    /// The `HostConfig` entries for these flags.
    pub fn host_config(&self) -> Result<Map<String, Value>, Failure> {
        let mut m = Map::new();
        if !self.volumes.is_empty() {
            m.insert("Binds".into(), json!(self.volumes));
        }
        if !self.mounts.is_empty() {
            let mounts = self
                .mounts
                .iter()
                .map(|s| parse_mount(s))
                .collect::<Result<Vec<_>, _>>()?;
            m.insert("Mounts".into(), Value::Array(mounts));
        }
        if !self.tmpfs.is_empty() {
            let mut t = Map::new();
            for s in &self.tmpfs {
                let (path, opts) = s.split_once(':').unwrap_or((s, ""));
                t.insert(path.to_owned(), json!(opts));
            }
            m.insert("Tmpfs".into(), Value::Object(t));
        }
        if !self.volumes_from.is_empty() {
            m.insert("VolumesFrom".into(), json!(self.volumes_from));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn mounts() {
        let v = parse_mount("type=bind,source=/srv,target=/data,readonly").unwrap();
        assert_eq!(
            v,
            json!({"Type": "bind", "Source": "/srv", "Target": "/data", "ReadOnly": true})
        );
        let t = parse_mount("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
        assert_eq!(
            t["TmpfsOptions"],
            json!({"SizeBytes": 64 << 20, "Mode": 0o1770})
        );
        let n = parse_mount("src=v1,target=/v,volume-nocopy").unwrap();
        assert_eq!(n["VolumeOptions"]["NoCopy"], json!(true));
        let e = parse_mount("type=bind,source=/a,target=/b,foo=bar").unwrap_err();
        assert!(e.message.contains("unexpected key 'foo'"), "{}", e.message);
        assert!(parse_mount("type=bind,source=/a").is_err());
        assert!(parse_mount("type=volume,target=/a,tmpfs-size=1m").is_err());
        assert!(parse_mount("type=nfs,target=/a").is_err());
    }
}
