//! `berth build`: packs the context directory (honouring `.dockerignore`) into a tar, sends it
//! to `POST /build` and prints the JSON stream: each step, whether it was cached, its output
//! and its time.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_ignore::{clean, IgnoreRules};
use clap::Args;
use serde_json::Value;

use super::enc;
use crate::client::{Body, Client};
use crate::Failure;

/// `berth build` flags (docker's).
#[derive(Args, Debug, Clone)]
pub struct BuildArgs {
    /// Name and optionally a tag (name:tag); repeatable.
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: PATH/Dockerfile; `-` reads it from stdin).
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// Set build-time variables (KEY=VALUE, or KEY to take it from this environment).
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Set the target build stage to build.
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use cache when building the image.
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image.
    #[arg(long)]
    pub pull: bool,
    /// Set metadata for an image (KEY=VALUE).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Set platform if server is multi-platform capable.
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress the build output and print image ID on success.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Write the image ID to the file.
    #[arg(long)]
    pub iidfile: Option<String>,
    /// Set the networking mode for the RUN instructions during build.
    #[arg(long)]
    pub network: Option<String>,
    /// The context: a directory, or `-` for a tar (or a Dockerfile) on stdin.
    pub path: String,
}

fn fail(msg: impl std::fmt::Display) -> Failure {
    Failure {
        code: 1,
        message: msg.to_string(),
    }
}

/// Appends `dir` (relative `rel`) to the tar, skipping what `.dockerignore` excludes.
fn add_tree(
    tar: &mut tar::Builder<Vec<u8>>,
    root: &Path,
    rel: &str,
    rules: &IgnoreRules,
    keep: &[&str],
) -> std::io::Result<()> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut entries: Vec<_> = std::fs::read_dir(&dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let meta = e.path().symlink_metadata()?;
        let kept = keep.contains(&path.as_str());
        if meta.is_dir() && rules.skip_dir(&path) {
            continue;
        }
        let excluded = !kept && rules.excluded(&path);
        let mut h = tar::Header::new_gnu();
        h.set_mode(meta.permissions().mode() & 0o7777);
        h.set_mtime(meta.mtime().max(0) as u64);
        h.set_uid(0);
        h.set_gid(0);
        if meta.is_dir() {
            if !excluded {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                tar.append_data(&mut h, format!("{path}/"), std::io::empty())?;
            }
            add_tree(tar, root, &path, rules, keep)?;
        } else if excluded {
            continue;
        } else if meta.file_type().is_symlink() {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            tar.append_link(&mut h, &path, std::fs::read_link(e.path())?)?;
        } else if meta.is_file() {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(meta.len());
            tar.append_data(&mut h, &path, std::fs::File::open(e.path())?)?;
        }
    }
    Ok(())
}

/// The context tar and the Dockerfile's name in it.
fn pack(a: &BuildArgs) -> Result<(Vec<u8>, String), Failure> {
    let root = PathBuf::from(&a.path);
    if !root.is_dir() {
        return Err(fail(format!(
            "unable to prepare context: path {:?} not found",
            a.path
        )));
    }
    let mut dockerfile = "Dockerfile".to_owned();
    let mut extra: Option<(String, Vec<u8>)> = None;
    match a.file.as_deref() {
        None => {}
        Some("-") => {
            let mut text = Vec::new();
            std::io::stdin().read_to_end(&mut text)?;
            dockerfile = ".dockerfile.stdin".into();
            extra = Some((dockerfile.clone(), text));
        }
        Some(f) => {
            let p = std::fs::canonicalize(f)
                .map_err(|e| fail(format!("unable to prepare context: {f}: {e}")))?;
            let croot = std::fs::canonicalize(&root)?;
            match p.strip_prefix(&croot) {
                Ok(rel) => dockerfile = clean(&rel.to_string_lossy()),
                Err(_) => {
                    dockerfile = ".dockerfile.external".into();
                    extra = Some((dockerfile.clone(), std::fs::read(&p)?));
                }
            }
        }
    }
    let rules = match std::fs::read_to_string(root.join(".dockerignore")) {
        Ok(t) => IgnoreRules::parse(&t),
        Err(_) => IgnoreRules::default(),
    };
    let mut tar = tar::Builder::new(Vec::new());
    add_tree(
        &mut tar,
        &root,
        "",
        &rules,
        &[dockerfile.as_str(), ".dockerignore"],
    )?;
    if let Some((name, data)) = extra {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o600);
        h.set_size(data.len() as u64);
        tar.append_data(&mut h, name, &data[..])?;
    }
    Ok((tar.into_inner()?, dockerfile))
}

fn kv_json(items: &[String], from_env: bool) -> Value {
    let mut m = serde_json::Map::new();
    for i in items {
        match i.split_once('=') {
            Some((k, v)) => {
                m.insert(k.to_owned(), Value::String(v.to_owned()));
            }
            None if from_env => {
                if let Ok(v) = std::env::var(i) {
                    m.insert(i.clone(), Value::String(v));
                }
            }
            None => {
                m.insert(i.clone(), Value::String(String::new()));
            }
        }
    }
    Value::Object(m)
}

/// `berth build`.
pub fn build(c: &Client, a: &BuildArgs) -> Result<i32, Failure> {
    if let Some(f) = &a.iidfile {
        let _ = std::fs::remove_file(f);
    }
    if a.path.contains("://") || a.path.starts_with("git@") {
        return Err(fail(
            "remote build contexts (URLs) are not supported: clone it and build the directory",
        ));
    }
    let (body, dockerfile) = if a.path == "-" {
        let mut data = Vec::new();
        std::io::stdin().read_to_end(&mut data)?;
        (data, a.file.clone().unwrap_or_else(|| "Dockerfile".into()))
    } else {
        pack(a)?
    };
    let mut q = format!("dockerfile={}", enc(&dockerfile));
    for t in &a.tags {
        q.push_str(&format!("&t={}", enc(t)));
    }
    if !a.build_args.is_empty() {
        q.push_str(&format!(
            "&buildargs={}",
            enc(&kv_json(&a.build_args, true).to_string())
        ));
    }
    if !a.labels.is_empty() {
        q.push_str(&format!(
            "&labels={}",
            enc(&kv_json(&a.labels, false).to_string())
        ));
    }
    for (k, v) in [
        ("target", &a.target),
        ("platform", &a.platform),
        ("networkmode", &a.network),
    ] {
        if let Some(v) = v {
            q.push_str(&format!("&{k}={}", enc(v)));
        }
    }
    for (k, on) in [("nocache", a.no_cache), ("pull", a.pull), ("q", a.quiet)] {
        if on {
            q.push_str(&format!("&{k}=1"));
        }
    }
    let mut reader = &body[..];
    let resp = c.request("POST", &format!("/build?{q}"), Body::Stream(&mut reader))?;
    let mut out = std::io::stdout().lock();
    let mut id = None;
    for line in BufReader::new(resp).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let Some(msg) = v["error"].as_str() {
            out.flush()?;
            return Err(fail(msg));
        }
        if let Some(s) = v["stream"].as_str() {
            out.write_all(s.as_bytes())?;
            out.flush()?;
        }
        if let Some(i) = v["aux"]["ID"].as_str() {
            id = Some(i.to_owned());
        }
    }
    let Some(id) = id else {
        return Err(fail("the build ended without an image ID"));
    };
    if let Some(f) = &a.iidfile {
        std::fs::write(f, &id).map_err(|e| fail(format!("writing {f}: {e}")))?;
    }
    Ok(0)
}

/// `berth builder …`.
#[derive(clap::Subcommand, Debug)]
pub enum BuilderCommand {
    /// Remove build cache.
    Prune {
        /// Remove all build cache (the cache is never in use between builds, so the same).
        #[arg(short = 'a', long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
    },
}

/// `berth builder prune [-a] [-f]`: `POST /build/prune`, printed as docker does.
pub fn builder(c: &Client, cmd: BuilderCommand) -> Result<i32, Failure> {
    let BuilderCommand::Prune { all, force } = cmd;
    let warning = if all {
        "WARNING! This will remove all build cache."
    } else {
        "WARNING! This will remove all dangling build cache."
    };
    if !force && !super::images::confirm(warning)? {
        return Ok(0);
    }
    let q = if all { "?all=1" } else { "" };
    let v: Value = c
        .json("POST", &format!("/build/prune{q}"), Body::Empty)
        .map_err(fail)?;
    let deleted = v["CachesDeleted"].as_array().cloned().unwrap_or_default();
    if !deleted.is_empty() {
        println!("Deleted build cache objects:");
        for id in deleted.iter().filter_map(Value::as_str) {
            println!("{id}");
        }
        println!();
    }
    let space = v["SpaceReclaimed"].as_u64().unwrap_or(0);
    println!("Total reclaimed space: {}", crate::table::human_size(space));
    Ok(0)
}
