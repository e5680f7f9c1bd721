//! Running one plugin binary the way the CNI spec prescribes: the command and attachment in
//! `CNI_*` environment variables, the network config on stdin, a result or an error object on
//! stdout.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{io_err, CniError, Result};

/// The CNI verbs a runtime sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Attach the container to the network.
    Add,
    /// Detach it; must succeed when already detached.
    Del,
    /// Verify the attachment is as ADD left it.
    Check,
}

impl Verb {
    /// The `CNI_COMMAND` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Add => "ADD",
            Verb::Del => "DEL",
            Verb::Check => "CHECK",
        }
    }
}

/// Where a plugin's work happens: the container, its network namespace and the interface.
#[derive(Debug, Clone, Default)]
pub struct Attachment {
    /// `CNI_CONTAINERID`: the sandbox id.
    pub container_id: String,
    /// `CNI_NETNS`: the path of the pinned network namespace.
    pub netns: PathBuf,
    /// `CNI_IFNAME`: the interface to create inside it (`eth0`).
    pub ifname: String,
    /// `CNI_ARGS`: `KEY=VALUE` pairs (kubelet's `K8S_POD_NAME`, `K8S_POD_NAMESPACE`, ...).
    pub args: Vec<(String, String)>,
    /// Capability arguments (`portMappings`, ...), passed as `runtimeConfig` to the plugins
    /// that declare the capability.
    pub capability_args: serde_json::Map<String, Value>,
}

/// Where plugins are looked for, and how long one may take.
#[derive(Debug, Clone)]
pub struct PluginRunner {
    /// `CNI_PATH`, searched in order.
    pub plugin_dirs: Vec<PathBuf>,
    /// A plugin still running after this is killed (a hung plugin must not hold a pod
    /// request forever).
    pub timeout: Duration,
}

impl Default for PluginRunner {
    /// Kubernetes' directory first, then Debian's (`containernetworking-plugins` installs to
    /// /usr/lib/cni).
    fn default() -> Self {
        PluginRunner {
            plugin_dirs: vec!["/opt/cni/bin".into(), "/usr/lib/cni".into()],
            timeout: Duration::from_secs(60),
        }
    }
}

impl PluginRunner {
    pub(crate) fn find(&self, plugin: &str) -> Result<PathBuf> {
        self.plugin_dirs
            .iter()
            .map(|d| d.join(plugin))
            .find(|p| p.is_file())
            .ok_or_else(|| CniError::PluginNotFound {
                plugin: plugin.to_owned(),
                path: self.plugin_dirs.clone(),
            })
    }

    fn cni_path(&self) -> String {
        let dirs: Vec<String> = self
            .plugin_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        dirs.join(":")
    }

    /// Runs plugin `plugin` with `verb` and `stdin`; the parsed stdout (ADD's result; DEL and
    /// CHECK print nothing, which is `None`).
    pub fn run(
        &self,
        plugin: &str,
        verb: Verb,
        at: &Attachment,
        stdin: &Value,
    ) -> Result<Option<Value>> {
        let bin = self.find(plugin)?;
        let args: Vec<String> = at.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let input = serde_json::to_vec(stdin).map_err(|source| CniError::Json {
            what: format!("config for plugin {plugin}"),
            source,
        })?;
        let mut child = Command::new(&bin)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("CNI_COMMAND", verb.as_str())
            .env("CNI_CONTAINERID", &at.container_id)
            .env("CNI_NETNS", &at.netns)
            .env("CNI_IFNAME", &at.ifname)
            .env("CNI_ARGS", args.join(";"))
            .env("CNI_PATH", self.cni_path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io_err("run", &bin))?;
        let out = collect(&mut child, &input, self.timeout).map_err(|e| match e {
            Collect::Io(e) => io_err("run", &bin)(e),
            Collect::Timeout => CniError::Timeout {
                plugin: plugin.to_owned(),
                command: verb.as_str(),
                secs: self.timeout.as_secs(),
            },
        })?;
        interpret(plugin, verb, out)
    }
}

enum Collect {
    Io(std::io::Error),
    Timeout,
}

struct Finished {
    success: bool,
    status: String,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Feeds `input`, reads both pipes on their own threads (a plugin blocked on a full pipe would
/// never exit) and waits until `timeout`, killing the plugin past it.
fn collect(
    child: &mut std::process::Child,
    input: &[u8],
    timeout: Duration,
) -> std::result::Result<Finished, Collect> {
    if let Some(mut stdin) = child.stdin.take() {
        // A plugin may exit without reading its config: a broken pipe is its answer, not ours.
        let _ = stdin.write_all(input);
    }
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait().map_err(Collect::Io)? {
            Some(s) => break s,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Collect::Timeout);
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    Ok(Finished {
        success: status.success(),
        status: status.to_string(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// A plugin's answer: its result on success, its CNI error object (`code`, `msg`, `details`)
/// or stderr on failure.
fn interpret(plugin: &str, verb: Verb, out: Finished) -> Result<Option<Value>> {
    let parsed: Option<Value> = serde_json::from_slice(&out.stdout).ok();
    if !out.success {
        let message = match parsed
            .as_ref()
            .and_then(|v| v.get("msg"))
            .and_then(Value::as_str)
        {
            Some(msg) => match parsed
                .as_ref()
                .and_then(|v| v.get("details"))
                .and_then(Value::as_str)
            {
                Some(d) if !d.is_empty() => format!("{msg}: {d}"),
                _ => msg.to_owned(),
            },
            None => format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        };
        return Err(CniError::Plugin {
            plugin: plugin.to_owned(),
            command: verb.as_str(),
            message,
        });
    }
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match parsed {
        Some(v) => Ok(Some(v)),
        None => Err(CniError::Plugin {
            plugin: plugin.to_owned(),
            command: verb.as_str(),
            message: format!(
                "unparsable result: {}",
                String::from_utf8_lossy(&out.stdout).trim()
            ),
        }),
    }
}

/// The interface and addresses a (CNI 0.3.0 and later) result gives the container.
pub fn result_ips(result: &Value) -> Vec<String> {
    result
        .get("ips")
        .and_then(Value::as_array)
        .map(|ips| {
            ips.iter()
                .filter_map(|ip| ip.get("address").and_then(Value::as_str))
                .map(|a| a.split('/').next().unwrap_or(a).to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `path` exists and is an executable file (for status reporting).
pub fn is_plugin(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
