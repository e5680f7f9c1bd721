//! `berth context create/ls/use/rm/inspect`: named daemon endpoints, stored as the docker CLI
//! stores its contexts, but under Berth's own directory (`$BERTH_CONFIG`, default `~/.berth`):
//! `contexts/meta/<sha256(name)>/meta.json`, the TLS files in
//! `contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem`, the current context as
//! `currentContext` in `config.json`. The same layout means a docker context directory can be
//! copied over as it is; a separate directory means `berth context use` never switches the
//! docker CLI (nor a Docker Desktop context in `~/.docker` the berth CLI).

use std::fs;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::tls::TlsOptions;
use crate::Failure;

/// The name of the implicit context (`-H`, `BERTH_HOST`/`DOCKER_HOST` or the local socket).
pub const DEFAULT: &str = "default";

/// `berth context COMMAND`.
#[derive(Subcommand, Debug, Clone)]
pub enum ContextCommand {
    /// Create a context.
    Create {
        name: String,
        /// Description of the context.
        #[arg(long, default_value = "")]
        description: String,
        /// Set the docker endpoint: host=URL,ca=FILE,cert=FILE,key=FILE,skip-tls-verify=BOOL
        #[arg(long)]
        docker: Option<String>,
    },
    /// List contexts.
    #[command(alias = "list")]
    Ls {
        /// Only show context names.
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// Set the current context.
    Use { name: String },
    /// Remove one or more contexts.
    #[command(alias = "remove")]
    Rm {
        /// Force the removal of a context in use.
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Display detailed information on one or more contexts.
    Inspect {
        #[arg(default_value = "default")]
        names: Vec<String>,
    },
}

/// A stored context's endpoint.
#[derive(Debug, Clone)]
pub struct Context {
    pub name: String,
    pub description: String,
    pub host: String,
    pub skip_tls_verify: bool,
}

/// Berth's client configuration directory: `$BERTH_CONFIG`, else `~/.berth`.
pub fn config_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("BERTH_CONFIG").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".berth")
}

fn id(name: &str) -> String {
    hex::encode(Sha256::digest(name.as_bytes()))
}

fn meta_dir(name: &str) -> PathBuf {
    config_dir().join("contexts/meta").join(id(name))
}

/// Where a context's TLS files are.
pub fn tls_dir(name: &str) -> PathBuf {
    config_dir()
        .join("contexts/tls")
        .join(id(name))
        .join("docker")
}

fn fail(msg: impl std::fmt::Display) -> Failure {
    Failure {
        code: 1,
        message: msg.to_string(),
    }
}

/// Reads a stored context; `None` when there is none of that name.
pub fn load(name: &str) -> Result<Option<Context>, Failure> {
    let path = meta_dir(name).join("meta.json");
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(format!("reading {}: {e}", path.display()))),
    };
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| fail(format!("invalid context {}: {e}", path.display())))?;
    let ep = &v["Endpoints"]["docker"];
    Ok(Some(Context {
        name: v["Name"].as_str().unwrap_or(name).to_owned(),
        description: v["Metadata"]["Description"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        host: ep["Host"].as_str().unwrap_or_default().to_owned(),
        skip_tls_verify: ep["SkipTLSVerify"].as_bool().unwrap_or(false),
    }))
}

impl Context {
    /// The TLS settings its stored files say (`None`: plain).
    pub fn tls(&self) -> Option<TlsOptions> {
        let dir = tls_dir(&self.name);
        let file = |n: &str| Some(dir.join(n)).filter(|p| p.exists());
        let (ca, cert, key) = (file("ca.pem"), file("cert.pem"), file("key.pem"));
        if ca.is_none() && cert.is_none() && !self.skip_tls_verify {
            return None;
        }
        Some(TlsOptions {
            verify: ca.is_some() && !self.skip_tls_verify,
            ca,
            cert,
            key,
        })
    }
}

fn config_file() -> PathBuf {
    config_dir().join("config.json")
}

fn read_config() -> Result<Value, Failure> {
    match fs::read_to_string(config_file()) {
        Ok(t) => serde_json::from_str(&t)
            .map_err(|e| fail(format!("invalid {}: {e}", config_file().display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(json!({})),
        Err(e) => Err(fail(format!("reading {}: {e}", config_file().display()))),
    }
}

/// The context `config.json` makes current (`default` when none).
pub fn current() -> Result<String, Failure> {
    Ok(read_config()?["currentContext"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT)
        .to_owned())
}

fn set_current(name: &str) -> Result<(), Failure> {
    let mut cfg = read_config()?;
    let Some(obj) = cfg.as_object_mut() else {
        return Err(fail(format!(
            "{} is not a JSON object",
            config_file().display()
        )));
    };
    match name {
        DEFAULT => obj.remove("currentContext"),
        n => obj.insert("currentContext".into(), json!(n)),
    };
    write_file(
        &config_file(),
        &serde_json::to_vec_pretty(&cfg).map_err(fail)?,
        0o600,
    )
}

/// Writes atomically (a crash leaves the old file or the new one).
fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), Failure> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e: std::io::Error| fail(format!("writing {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io)?;
    std::io::Write::write_all(&mut f, data).map_err(io)?;
    f.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)
}

fn check_name(name: &str) -> Result<(), Failure> {
    if name == DEFAULT {
        return Err(fail("\"default\" is a reserved context name"));
    }
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() > 1
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c));
    match ok {
        true => Ok(()),
        false => Err(fail(format!(
            "context name {name:?} is invalid, names are validated against regexp \
             \"^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$\""
        ))),
    }
}

/// The `--docker` value: `host=…,ca=…,cert=…,key=…,skip-tls-verify=…`.
struct DockerEndpoint {
    host: String,
    files: Vec<(&'static str, PathBuf)>,
    skip_tls_verify: bool,
}

fn parse_docker(spec: &str) -> Result<DockerEndpoint, Failure> {
    let mut ep = DockerEndpoint {
        host: String::new(),
        files: Vec::new(),
        skip_tls_verify: false,
    };
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = field
            .split_once('=')
            .ok_or_else(|| fail(format!("invalid --docker field {field:?}: KEY=VALUE")))?;
        match k {
            "host" => ep.host = v.to_owned(),
            "ca" => ep.files.push(("ca.pem", PathBuf::from(v))),
            "cert" => ep.files.push(("cert.pem", PathBuf::from(v))),
            "key" => ep.files.push(("key.pem", PathBuf::from(v))),
            "skip-tls-verify" => {
                ep.skip_tls_verify = v
                    .parse()
                    .map_err(|_| fail(format!("invalid skip-tls-verify {v:?}: true or false")))?
            }
            _ => return Err(fail(format!("unrecognized config key: {k}"))),
        }
    }
    if ep.host.is_empty() {
        return Err(fail("--docker needs host=unix://…, tcp://… or ssh://…"));
    }
    crate::endpoint::parse_host(&ep.host, None).map_err(|f| fail(f.message))?;
    Ok(ep)
}

fn create(name: &str, description: &str, docker: Option<&str>) -> Result<i32, Failure> {
    check_name(name)?;
    if load(name)?.is_some() {
        return Err(fail(format!("context {name:?} already exists")));
    }
    let ep = match docker {
        Some(d) => parse_docker(d)?,
        None => DockerEndpoint {
            host: format!("unix://{}", crate::DEFAULT_SOCKET),
            files: Vec::new(),
            skip_tls_verify: false,
        },
    };
    // Read every file before writing anything: a bad path leaves no half-made context.
    let mut files = Vec::new();
    for (dest, src) in &ep.files {
        let data = fs::read(src).map_err(|e| fail(format!("reading {}: {e}", src.display())))?;
        files.push((*dest, data));
    }
    for (dest, data) in &files {
        write_file(&tls_dir(name).join(dest), data, 0o600)?;
    }
    let meta = json!({
        "Name": name,
        "Metadata": {"Description": description},
        "Endpoints": {"docker": {"Host": ep.host, "SkipTLSVerify": ep.skip_tls_verify}},
    });
    let text = serde_json::to_vec(&meta).map_err(fail)?;
    write_file(&meta_dir(name).join("meta.json"), &text, 0o644)?;
    println!("{name}");
    eprintln!("Successfully created context {name:?}");
    Ok(0)
}

fn all() -> Result<Vec<Context>, Failure> {
    let dir = config_dir().join("contexts/meta");
    let mut out = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(fail(format!("reading {}: {e}", dir.display()))),
    };
    for e in entries.flatten() {
        let text = fs::read_to_string(e.path().join("meta.json")).unwrap_or_default();
        if let Some(name) = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["Name"].as_str().map(str::to_owned))
        {
            out.extend(load(&name)?);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn default_context(host: &str) -> Context {
    Context {
        name: DEFAULT.into(),
        description: "Current BERTH_HOST based configuration".into(),
        host: host.into(),
        skip_tls_verify: false,
    }
}

fn ls(quiet: bool, default_host: &str) -> Result<i32, Failure> {
    let cur = current()?;
    let mut list = vec![default_context(default_host)];
    list.extend(all()?);
    if quiet {
        for c in &list {
            println!("{}", c.name);
        }
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let mark = if c.name == cur { " *" } else { "" };
            vec![
                format!("{}{mark}", c.name),
                c.description.clone(),
                c.host.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        crate::table::render(&["NAME", "DESCRIPTION", "DOCKER ENDPOINT"], &rows)
    );
    Ok(0)
}

fn use_context(name: &str) -> Result<i32, Failure> {
    if name != DEFAULT && load(name)?.is_none() {
        return Err(fail(format!("context {name:?} does not exist")));
    }
    set_current(name)?;
    println!("{name}");
    eprintln!("Current context is now {name:?}");
    Ok(0)
}

fn rm(force: bool, names: &[String]) -> Result<i32, Failure> {
    let cur = current()?;
    let mut errors = Vec::new();
    for name in names {
        if name == DEFAULT {
            errors.push("default: context \"default\" cannot be removed".to_owned());
        } else if load(name)?.is_none() {
            errors.push(format!("{name}: context {name:?} does not exist"));
        } else if *name == cur && !force {
            errors.push(format!(
                "{name}: context {name:?} is in use, set -f flag to force remove"
            ));
        } else {
            if *name == cur {
                set_current(DEFAULT)?;
            }
            let _ = fs::remove_dir_all(meta_dir(name));
            let _ = fs::remove_dir_all(config_dir().join("contexts/tls").join(id(name)));
            println!("{name}");
        }
    }
    match errors.is_empty() {
        true => Ok(0),
        false => Err(fail(format!(
            "failed to remove context(s): {}",
            errors.join("; ")
        ))),
    }
}

fn inspect(names: &[String], default_host: &str) -> Result<i32, Failure> {
    let mut out = Vec::new();
    for name in names {
        let c = match name.as_str() {
            DEFAULT => default_context(default_host),
            n => load(n)?.ok_or_else(|| fail(format!("context {n:?} does not exist")))?,
        };
        let tls = tls_dir(&c.name);
        let material: Vec<&str> = ["ca.pem", "cert.pem", "key.pem"]
            .into_iter()
            .filter(|f| tls.join(f).exists())
            .collect();
        out.push(json!({
            "Name": c.name,
            "Metadata": {"Description": c.description},
            "Endpoints": {"docker": {"Host": c.host, "SkipTLSVerify": c.skip_tls_verify}},
            "TLSMaterial": if material.is_empty() { json!({}) } else { json!({"docker": material}) },
            "Storage": {
                "MetadataPath": if c.name == DEFAULT { "<IN MEMORY>".into() } else { meta_dir(&c.name).display().to_string() },
                "TLSPath": if c.name == DEFAULT { "<IN MEMORY>".into() } else { tls.parent().map(|p| p.display().to_string()).unwrap_or_default() },
            },
        }));
    }
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    Ok(0)
}

/// Runs a context command (no daemon involved). `default_host` is what the `default` context
/// points at.
pub fn run(cmd: ContextCommand, default_host: &str) -> Result<i32, Failure> {
    match cmd {
        ContextCommand::Create {
            name,
            description,
            docker,
        } => create(&name, &description, docker.as_deref()),
        ContextCommand::Ls { quiet } => ls(quiet, default_host),
        ContextCommand::Use { name } => use_context(&name),
        ContextCommand::Rm { force, names } => rm(force, &names),
        ContextCommand::Inspect { names } => inspect(&names, default_host),
    }
}
