//! Network configuration: the first valid `*.conflist`, `*.conf` or `*.json` of a directory
//! in lexical order, as libcni and every Kubernetes runtime pick it.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{io_err, CniError, Result};

/// A network: its plugins run in order on ADD and CHECK, in reverse on DEL.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfigList {
    /// The CNI spec version the config is written for (passed to every plugin).
    pub cni_version: String,
    /// The network's name (`name` of every plugin's config).
    pub name: String,
    /// The config asks runtimes not to run CHECK.
    pub disable_check: bool,
    /// Each plugin's own config object, as written (it has at least a string `type`).
    pub plugins: Vec<Map<String, Value>>,
    /// The file it came from.
    pub source: PathBuf,
}

const EXTENSIONS: [&str; 3] = ["conflist", "conf", "json"];

/// The first valid network config in `dir` by file name. Invalid files are logged and passed
/// over, as libcni does; none at all (or no directory) is [`CniError::NoConfig`].
pub fn load_first(dir: &Path) -> Result<NetworkConfigList> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| EXTENSIONS.contains(&e))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_err("read directory", dir)(e)),
    };
    files.sort();
    for path in files {
        match load_file(&path) {
            Ok(list) => return Ok(list),
            Err(e) => tracing::warn!("skipping CNI config: {e}"),
        }
    }
    Err(CniError::NoConfig(dir.to_path_buf()))
}

/// One config file: a `.conflist` is a list, anything else a single plugin's config.
pub fn load_file(path: &Path) -> Result<NetworkConfigList> {
    let text = std::fs::read(path).map_err(io_err("read", path))?;
    let invalid = |reason: String| CniError::InvalidConfig {
        path: path.to_path_buf(),
        reason,
    };
    let value: Value = serde_json::from_slice(&text).map_err(|e| invalid(e.to_string()))?;
    let Value::Object(obj) = value else {
        return Err(invalid("not a JSON object".into()));
    };
    let is_list = path.extension().is_some_and(|e| e == "conflist");
    parse(obj, is_list, path.to_path_buf()).map_err(invalid)
}

/// A config list already in memory (one recorded with an ADD result).
pub(crate) fn parse_list(
    obj: Map<String, Value>,
    source: PathBuf,
) -> std::result::Result<NetworkConfigList, String> {
    parse(obj, true, source)
}

fn parse(
    mut obj: Map<String, Value>,
    is_list: bool,
    source: PathBuf,
) -> std::result::Result<NetworkConfigList, String> {
    let string =
        |o: &Map<String, Value>, key: &str| o.get(key).and_then(Value::as_str).map(str::to_owned);
    let name = string(&obj, "name")
        .filter(|n| !n.is_empty())
        .ok_or("missing network name")?;
    let cni_version = string(&obj, "cniVersion").ok_or("missing cniVersion")?;
    let disable_check = obj
        .get("disableCheck")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let plugins = if is_list {
        match obj.remove("plugins") {
            Some(Value::Array(list)) => list
                .into_iter()
                .map(|p| match p {
                    Value::Object(o) => Ok(o),
                    _ => Err("a plugin config is not an object".to_owned()),
                })
                .collect::<std::result::Result<Vec<_>, _>>()?,
            _ => return Err("missing plugins list".into()),
        }
    } else {
        vec![obj]
    };
    if plugins.is_empty() {
        return Err("no plugins in the list".into());
    }
    for p in &plugins {
        let kind = string(p, "type").ok_or("a plugin config has no type")?;
        // The type names a file in the plugin directories: never a path out of them.
        if kind.is_empty() || kind.contains('/') || kind.starts_with('.') {
            return Err(format!("invalid plugin type {kind:?}"));
        }
    }
    Ok(NetworkConfigList {
        cni_version,
        name,
        disable_check,
        plugins,
        source,
    })
}

impl NetworkConfigList {
    /// Whether this config's version has the CHECK command (0.4.0 and later).
    pub fn supports_check(&self) -> bool {
        let mut parts = self
            .cni_version
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        (major, minor) >= (0, 4)
    }

    /// Plugin `i`'s stdin config: its own keys plus the network's name and version, and the
    /// previous plugin's result and the runtime's capability arguments it asked for.
    pub(crate) fn plugin_stdin(
        &self,
        i: usize,
        prev_result: Option<&Value>,
        capability_args: &Map<String, Value>,
    ) -> Option<Value> {
        let mut conf = self.plugins.get(i)?.clone();
        conf.insert("name".into(), Value::String(self.name.clone()));
        conf.insert("cniVersion".into(), Value::String(self.cni_version.clone()));
        if let Some(prev) = prev_result {
            conf.insert("prevResult".into(), prev.clone());
        }
        // Only the capabilities the plugin declares reach it, as `runtimeConfig` (spec §
        // "Deriving runtimeConfig").
        let wanted: Map<String, Value> = conf
            .get("capabilities")
            .and_then(Value::as_object)
            .map(|caps| {
                capability_args
                    .iter()
                    .filter(|(k, _)| caps.get(*k).and_then(Value::as_bool) == Some(true))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if !wanted.is_empty() {
            conf.insert("runtimeConfig".into(), Value::Object(wanted));
        }
        Some(Value::Object(conf))
    }

    /// The plugin type of plugin `i`.
    pub(crate) fn plugin_type(&self, i: usize) -> &str {
        self.plugins
            .get(i)
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}
