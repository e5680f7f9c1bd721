//! ADD, DEL and CHECK of one attachment over a whole network config list, with the ADD
//! result recorded per sandbox so DEL and CHECK get it as `prevResult` (and DEL still works
//! after the config directory changed).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::{load_first, NetworkConfigList};
use crate::error::{io_err, CniError, Result};
use crate::exec::{Attachment, PluginRunner, Verb};

/// A CNI client for one config directory.
#[derive(Debug, Clone)]
pub struct Cni {
    /// Where the network configs are (`/etc/cni/net.d`).
    pub conf_dir: PathBuf,
    /// How plugins are found and run.
    pub runner: PluginRunner,
    /// Where ADD results are recorded, one file per attachment.
    pub cache_dir: PathBuf,
}

/// What is recorded for an attachment: enough to undo it without today's config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cached {
    /// The network's name.
    pub network: String,
    /// The config list ADD ran (cniVersion, name, disableCheck, plugins).
    pub config: Value,
    /// The sandbox id.
    pub container_id: String,
    /// The interface name.
    pub ifname: String,
    /// The netns path ADD was given.
    pub netns: PathBuf,
    /// The `CNI_ARGS` pairs.
    pub args: Vec<(String, String)>,
    /// The capability arguments.
    pub capability_args: Map<String, Value>,
    /// The last plugin's result.
    pub result: Value,
}

impl Cached {
    /// The container addresses of the result.
    pub fn ips(&self) -> Vec<String> {
        crate::exec::result_ips(&self.result)
    }
}

fn list_json(list: &NetworkConfigList) -> Value {
    serde_json::json!({
        "cniVersion": list.cni_version,
        "name": list.name,
        "disableCheck": list.disable_check,
        "plugins": list.plugins,
    })
}

fn list_from_cache(c: &Cached) -> Option<NetworkConfigList> {
    let obj = c.config.as_object()?.clone();
    crate::config::parse_list(obj, PathBuf::from("(cached)")).ok()
}

impl Cni {
    /// The network config in effect (the first valid file of the config directory).
    pub fn config(&self) -> Result<NetworkConfigList> {
        load_first(&self.conf_dir)
    }

    /// Whether pods can be networked: a config exists and all its plugins are installed.
    pub fn ready(&self) -> Result<NetworkConfigList> {
        let list = self.config()?;
        for i in 0..list.plugins.len() {
            self.runner.find(list.plugin_type(i))?;
        }
        Ok(list)
    }

    fn cache_path(&self, network: &str, at: &Attachment) -> Result<PathBuf> {
        let safe = |s: &str| !s.is_empty() && !s.contains('/') && !s.starts_with('.');
        if !safe(&at.container_id) || !safe(&at.ifname) || !safe(network) {
            return Err(CniError::InvalidConfig {
                path: self.cache_dir.clone(),
                reason: format!(
                    "container id {:?}, interface {:?} or network {network:?} is not a file name",
                    at.container_id, at.ifname
                ),
            });
        }
        Ok(self
            .cache_dir
            .join(format!("{network}-{}-{}", at.container_id, at.ifname)))
    }

    /// ADD: runs the plugins in order, each given the previous one's result, and records the
    /// last result. A plugin failing undoes the others (DEL over the whole list), so a failed
    /// ADD leaves nothing behind.
    pub fn add(&self, at: &Attachment) -> Result<Cached> {
        let list = self.config()?;
        let path = self.cache_path(&list.name, at)?;
        let mut prev: Option<Value> = None;
        for i in 0..list.plugins.len() {
            match self.step(&list, i, Verb::Add, at, prev.as_ref()) {
                Ok(out) => prev = out.or(prev),
                Err(e) => {
                    if let Err(undo) = self.run_del(&list, at, prev.as_ref()) {
                        tracing::warn!("undoing a failed CNI ADD: {undo}");
                    }
                    return Err(e);
                }
            }
        }
        let cached = Cached {
            network: list.name.clone(),
            config: list_json(&list),
            container_id: at.container_id.clone(),
            ifname: at.ifname.clone(),
            netns: at.netns.clone(),
            args: at.args.clone(),
            capability_args: at.capability_args.clone(),
            result: prev.unwrap_or(Value::Null),
        };
        write_atomic(&path, &cached)?;
        Ok(cached)
    }

    /// DEL: undoes an attachment with the config and result ADD recorded (or, without a
    /// record, with the current config), then forgets the record. Succeeds when there is
    /// nothing left to undo.
    pub fn del(&self, at: &Attachment) -> Result<()> {
        let cached = self.find_cached(&at.container_id, &at.ifname)?;
        let (list, prev, path) = match &cached {
            Some((c, path)) => match list_from_cache(c) {
                Some(l) => (l, Some(c.result.clone()), Some(path.clone())),
                None => (self.config()?, None, Some(path.clone())),
            },
            None => (self.config()?, None, None),
        };
        self.run_del(&list, at, prev.as_ref())?;
        if let Some(path) = path {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_err("remove", &path)(e))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// CHECK: asks every plugin whether the attachment is still as ADD left it.
    pub fn check(&self, at: &Attachment) -> Result<()> {
        let (cached, _) = self
            .find_cached(&at.container_id, &at.ifname)?
            .ok_or_else(|| CniError::NoCachedResult(at.container_id.clone()))?;
        let list = list_from_cache(&cached)
            .ok_or_else(|| CniError::NoCachedResult(at.container_id.clone()))?;
        if !list.supports_check() {
            return Err(CniError::CheckUnsupported(list.cni_version));
        }
        if list.disable_check {
            return Ok(());
        }
        for i in 0..list.plugins.len() {
            self.step(&list, i, Verb::Check, at, Some(&cached.result))?;
        }
        Ok(())
    }

    /// The record of an attachment, if ADD made one.
    pub fn cached(&self, container_id: &str, ifname: &str) -> Result<Option<Cached>> {
        Ok(self.find_cached(container_id, ifname)?.map(|(c, _)| c))
    }

    fn find_cached(&self, container_id: &str, ifname: &str) -> Result<Option<(Cached, PathBuf)>> {
        let suffix = format!("-{container_id}-{ifname}");
        let entries = match std::fs::read_dir(&self.cache_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read directory", &self.cache_dir)(e)),
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(&suffix) {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(io_err("read", &path))?;
            let c: Cached = serde_json::from_slice(&bytes).map_err(|source| CniError::Json {
                what: path.display().to_string(),
                source,
            })?;
            if c.container_id == container_id && c.ifname == ifname {
                return Ok(Some((c, path)));
            }
        }
        Ok(None)
    }

    fn run_del(
        &self,
        list: &NetworkConfigList,
        at: &Attachment,
        prev: Option<&Value>,
    ) -> Result<()> {
        // Every plugin gets its chance to release what it holds; the first error is reported.
        let mut first_err = None;
        for i in (0..list.plugins.len()).rev() {
            if let Err(e) = self.step(list, i, Verb::Del, at, prev) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn step(
        &self,
        list: &NetworkConfigList,
        i: usize,
        verb: Verb,
        at: &Attachment,
        prev: Option<&Value>,
    ) -> Result<Option<Value>> {
        let stdin = list
            .plugin_stdin(i, prev, &at.capability_args)
            .unwrap_or(Value::Null);
        self.runner.run(list.plugin_type(i), verb, at, &stdin)
    }
}

fn write_atomic(path: &Path, cached: &Cached) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    let bytes = serde_json::to_vec_pretty(cached).map_err(|source| CniError::Json {
        what: path.display().to_string(),
        source,
    })?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io_err("write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err("rename", &tmp))
}
