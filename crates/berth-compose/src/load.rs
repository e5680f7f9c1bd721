//! Loading a project: finding the files, `.env`, interpolation, `include`, merging several
//! `-f` files, `extends`, profiles, then the strict typed model and validation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::interp::{self, Env};
use crate::model::Project;
use crate::yaml::{self, Lines};
use crate::{extends, merge, normalize, validate};

/// The files looked for when no `-f` is given, in docker compose's order.
pub const DEFAULT_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// What the command line says about the project.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-f` files (empty: `COMPOSE_FILE`, else search the current directory and its parents).
    pub files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--profile` (plus `COMPOSE_PROFILES`).
    pub profiles: Vec<String>,
    /// `--env-file` (default: `.env` in the project directory).
    pub env_files: Vec<PathBuf>,
    /// `--project-directory`.
    pub project_dir: Option<PathBuf>,
    /// The process environment; it wins over `.env`.
    pub environ: Env,
    /// The directory the command runs in.
    pub cwd: PathBuf,
    /// Services named on the command line: enabled whatever their profiles (as docker
    /// compose's `up SVC`/`run SVC`).
    pub named_services: Vec<String>,
}

/// A loaded project and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub project: Project,
    pub working_dir: PathBuf,
    pub config_files: Vec<PathBuf>,
    /// Variables for interpolation and for `environment` entries without a value.
    pub env: Env,
    pub lines: Lines,
    /// Services left out because none of their profiles is active.
    pub disabled: BTreeSet<String>,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

/// The compose files to read.
pub fn find_files(o: &Options) -> Result<Vec<PathBuf>> {
    if !o.files.is_empty() {
        return Ok(o.files.iter().map(|f| o.cwd.join(f)).collect());
    }
    if let Some(list) = o.environ.get("COMPOSE_FILE").filter(|s| !s.is_empty()) {
        let sep = o
            .environ
            .get("COMPOSE_PATH_SEPARATOR")
            .map(String::as_str)
            .unwrap_or(":");
        return Ok(list.split(sep).map(|f| o.cwd.join(f)).collect());
    }
    let mut dir = Some(o.cwd.as_path());
    while let Some(d) = dir {
        if let Some(f) = DEFAULT_FILES
            .iter()
            .map(|f| d.join(f))
            .find(|p| p.is_file())
        {
            let mut files = vec![f.clone()];
            let stem = if f.to_string_lossy().contains("docker-compose") {
                "docker-compose.override"
            } else {
                "compose.override"
            };
            if let Some(o) = ["yaml", "yml"]
                .iter()
                .map(|e| d.join(format!("{stem}.{e}")))
                .find(|p| p.is_file())
            {
                files.push(o);
            }
            return Ok(files);
        }
        dir = d.parent();
    }
    Err(Error::NoFile)
}

/// Docker compose's project name rule: lower case, only `a-z0-9_-`, starting with a letter
/// or digit.
pub fn normalize_name(name: &str) -> String {
    let lower: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    lower
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

fn environment(o: &Options, dir: &Path) -> Result<Env> {
    let files: Vec<PathBuf> = if o.env_files.is_empty() {
        let dflt = dir.join(".env");
        if dflt.is_file() {
            vec![dflt]
        } else {
            vec![]
        }
    } else {
        o.env_files.iter().map(|f| o.cwd.join(f)).collect()
    };
    let mut env = Env::new();
    for f in files {
        let text = read(&f)?;
        let lookup = |k: &str| o.environ.get(k).cloned();
        let parsed = interp::parse_env_file(&text, &lookup)
            .map_err(|e| Error::invalid("", format!("{}: {e}", f.display())))?;
        env.extend(parsed);
    }
    env.extend(o.environ.clone());
    Ok(env)
}

/// Reads one file: parse, interpolate, drop `x-` extensions, normalize paths against `dir`.
pub fn read_file(path: &Path, dir: &Path, env: &Env, lines: &mut Lines) -> Result<Value> {
    let text = read(path)?;
    let (mut doc, l) = yaml::parse(path, &text)?;
    interp::interpolate(&mut doc, env, "").map_err(|e| e.at(&l))?;
    strip_extensions(&mut doc);
    normalize::file(&mut doc, dir).map_err(|e| e.at(&l))?;
    lines.extend(l);
    Ok(doc)
}

fn strip_extensions(doc: &mut Value) {
    if let Value::Object(m) = doc {
        m.retain(|k, _| !k.starts_with("x-"));
        if let Some(Value::Object(services)) = m.get_mut("services") {
            for (_, s) in services.iter_mut() {
                if let Value::Object(s) = s {
                    s.retain(|k, _| !k.starts_with("x-"));
                }
            }
        }
    }
}

/// `include:` entries: each is loaded as a project of its own (its own directory and
/// `.env`), and its services, networks and volumes join this one; a name defined twice is an
/// error.
fn includes(doc: &mut Value, dir: &Path, env: &Env, lines: &mut Lines, depth: usize) -> Result<()> {
    let Some(list) = doc.as_object_mut().and_then(|m| m.remove("include")) else {
        return Ok(());
    };
    if depth > 16 {
        return Err(Error::invalid(
            "include",
            "include nested too deeply (a cycle?)",
        ));
    }
    let Value::Array(items) = list else {
        return Err(Error::invalid("include", "must be a list").at(lines));
    };
    for (i, item) in items.into_iter().enumerate() {
        let path = format!("include[{i}]");
        let files: Vec<String> = match &item {
            Value::String(s) => vec![s.clone()],
            Value::Object(m) => match m.get("path") {
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => return Err(Error::invalid(path, "path is required").at(lines)),
            },
            _ => return Err(Error::invalid(path, "must be a string or a mapping").at(lines)),
        };
        let mut merged = Value::Object(Default::default());
        for f in files {
            let file = Path::new(&normalize::absolute(dir, &f)).to_owned();
            let sub_dir = file.parent().unwrap_or(dir).to_owned();
            let mut sub = read_file(&file, &sub_dir, env, lines)?;
            includes(&mut sub, &sub_dir, env, lines, depth + 1)?;
            merge::file(&mut merged, sub);
        }
        for top in ["services", "networks", "volumes", "secrets", "configs"] {
            let Some(Value::Object(add)) = merged.get(top).cloned() else {
                continue;
            };
            let target = doc.as_object_mut().map(|m| {
                m.entry(top)
                    .or_insert_with(|| Value::Object(Default::default()))
            });
            let Some(Value::Object(target)) = target else {
                continue;
            };
            for (name, v) in add {
                if target.contains_key(&name) {
                    return Err(Error::invalid(
                        format!("{top}.{name}"),
                        format!("imported compose file {path} defines conflicting {top} {name:?}"),
                    )
                    .at(lines));
                }
                target.insert(name, v);
            }
        }
    }
    Ok(())
}

/// Loads the project the options describe.
pub fn load(o: &Options) -> Result<Loaded> {
    let files = find_files(o)?;
    let first = files.first().ok_or(Error::NoFile)?;
    let working_dir = match &o.project_dir {
        Some(d) => o.cwd.join(d),
        None => first
            .parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| o.cwd.clone()),
    };
    let env = environment(o, &working_dir)?;
    let mut lines = Lines::default();
    let mut doc = Value::Object(Default::default());
    for f in &files {
        let mut d = read_file(f, &working_dir, &env, &mut lines)?;
        includes(&mut d, &working_dir, &env, &mut lines, 0)?;
        merge::file(&mut doc, d);
    }
    extends::resolve(&mut doc, &working_dir, &env, &mut lines)?;
    let name = o
        .project_name
        .clone()
        .or_else(|| {
            env.get("COMPOSE_PROJECT_NAME")
                .cloned()
                .filter(|s| !s.is_empty())
        })
        .or_else(|| doc.get("name").and_then(Value::as_str).map(str::to_owned))
        .or_else(|| {
            working_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let name = normalize_name(&name);
    if name.is_empty() {
        return Err(Error::invalid("name", "project name must not be empty"));
    }
    doc["name"] = Value::String(name);
    let disabled = apply_profiles(&mut doc, o, &env);
    let project = typed(doc, &lines)?;
    validate::project(&project, &disabled).map_err(|e| e.at(&lines))?;
    Ok(Loaded {
        project,
        working_dir,
        config_files: files,
        env,
        lines,
        disabled,
    })
}

/// Removes services none of whose profiles is active; returns their names.
fn apply_profiles(doc: &mut Value, o: &Options, env: &Env) -> BTreeSet<String> {
    let mut active: BTreeSet<String> = o.profiles.iter().cloned().collect();
    if let Some(p) = env.get("COMPOSE_PROFILES") {
        active.extend(p.split(',').filter(|s| !s.is_empty()).map(str::to_owned));
    }
    let mut disabled = BTreeSet::new();
    if let Some(Value::Object(services)) = doc.get_mut("services") {
        services.retain(|name, s| {
            let profiles: Vec<&str> = s
                .get("profiles")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let on = profiles.is_empty()
                || o.named_services.contains(name)
                || active.contains("*")
                || profiles.iter().any(|p| active.contains(*p));
            if !on {
                disabled.insert(name.clone());
            }
            on
        });
    }
    disabled
}

/// The strict typed model; unknown keys and wrong types name their line and key path.
fn typed(doc: Value, lines: &Lines) -> Result<Project> {
    serde_path_to_error::deserialize::<_, Project>(doc).map_err(|e| {
        let mut path = e.path().to_string();
        if path == "." {
            path.clear();
        }
        let inner = e.into_inner().to_string();
        // serde's "unknown field `x`, expected one of …" → docker compose's wording.
        let message = match inner
            .strip_prefix("unknown field `")
            .and_then(|r| r.split_once('`'))
        {
            Some((field, _)) => {
                let parent = path
                    .rsplit_once('.')
                    .map(|(p, _)| p.to_owned())
                    .unwrap_or_default();
                let origin = lines.find(&path);
                return Error::Invalid {
                    origin,
                    path: parent,
                    message: format!("additional property {field} is not allowed"),
                };
            }
            None => inner,
        };
        Error::invalid(path, message).at(lines)
    })
}

/// Lists `BTreeMap` keys (for `config --services`/`--volumes`).
pub fn names<V>(m: &BTreeMap<String, V>) -> Vec<String> {
    m.keys().cloned().collect()
}
