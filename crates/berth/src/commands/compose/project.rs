//! Loading the project for a command, listing its containers by label, and docker
//! compose's progress lines.

use std::collections::BTreeMap;

use berth_compose::{labels, Loaded, Options};
use serde_json::{json, Value};

use super::args::{ComposeArgs, ConfigArgs};
use crate::client::{Body, Client};
use crate::commands::enc;
use crate::Failure;

/// A compose failure: docker compose exits 1 and prints the message.
pub fn fail(msg: impl std::fmt::Display) -> Failure {
    Failure {
        code: 1,
        message: msg.to_string(),
    }
}

/// The loader's options from the command line and the process environment.
pub fn options(a: &ComposeArgs) -> Result<Options, Failure> {
    Ok(Options {
        files: a.files.clone(),
        project_name: a.project_name.clone(),
        profiles: a.profiles.clone(),
        env_files: a.env_files.clone(),
        project_dir: a.project_directory.clone(),
        environ: std::env::vars().collect(),
        cwd: std::env::current_dir()?,
        named_services: vec![],
    })
}

pub fn load(o: &Options) -> Result<Loaded, Failure> {
    berth_compose::load(o).map_err(fail)
}

/// The project of a command that also works from labels alone (`down`, `ps`, `logs`, ... with
/// `-p NAME` and no compose file), as docker compose's do.
pub struct Target {
    pub name: String,
    pub loaded: Option<Loaded>,
}

pub fn load_or_name(o: &Options) -> Result<Target, Failure> {
    match berth_compose::load(o) {
        Ok(l) => Ok(Target {
            name: l.project.name.clone(),
            loaded: Some(l),
        }),
        Err(berth_compose::Error::NoFile) if o.project_name.is_some() => Ok(Target {
            name: berth_compose::load::normalize_name(
                o.project_name.as_deref().unwrap_or_default(),
            ),
            loaded: None,
        }),
        Err(e) => Err(fail(e)),
    }
}

impl From<&Loaded> for Target {
    fn from(l: &Loaded) -> Target {
        Target {
            name: l.project.name.clone(),
            loaded: Some(l.clone()),
        }
    }
}

/// `config [--services] [--volumes] [--profiles] [--images] [-q] [--format json]`.
pub fn config(o: &Options, a: &ConfigArgs) -> Result<i32, Failure> {
    let l = load(o)?;
    let p = &l.project;
    if a.quiet {
        return Ok(0);
    }
    let lines: Option<Vec<String>> = if a.services {
        Some(berth_compose::plan::order(p).map_err(fail)?)
    } else if a.volumes {
        Some(p.volumes.keys().cloned().collect())
    } else if a.profiles {
        let mut all: Vec<String> = p
            .services
            .values()
            .flat_map(|s| s.profiles.clone())
            .collect();
        all.sort();
        all.dedup();
        Some(all)
    } else if a.images {
        Some(
            p.services
                .iter()
                .map(|(n, s)| berth_compose::engine::image_name(&p.name, n, s))
                .collect(),
        )
    } else {
        None
    };
    match (lines, a.format.as_str()) {
        (Some(lines), _) => lines.iter().for_each(|l| println!("{l}")),
        (None, "json") => println!("{}", serde_json::to_string_pretty(p).map_err(fail)?),
        (None, "yaml") => print!("{}", berth_compose::render::yaml(p)),
        (None, other) => return Err(fail(format!("unsupported format {other:?}"))),
    }
    Ok(0)
}

/// One container of the project as `GET /containers/json` lists it.
#[derive(Debug, Clone)]
pub struct Ctr {
    pub id: String,
    pub name: String,
    pub service: String,
    pub number: u32,
    pub oneoff: bool,
    pub state: String,
    pub raw: Value,
}

impl Ctr {
    pub fn label(&self, k: &str) -> String {
        self.raw["Labels"][k]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
    pub fn running(&self) -> bool {
        matches!(self.state.as_str(), "running" | "restarting" | "paused")
    }
}

/// The project's containers (all states), by service then number.
pub fn containers(c: &Client, project: &str) -> Result<Vec<Ctr>, Failure> {
    let filters = json!({"label": [format!("{}={project}", labels::PROJECT)]});
    let list: Vec<Value> = c.json(
        "GET",
        &format!(
            "/containers/json?all=1&filters={}",
            enc(&filters.to_string())
        ),
        Body::Empty,
    )?;
    let mut out: Vec<Ctr> = list
        .into_iter()
        .map(|v| {
            let l = |k: &str| v["Labels"][k].as_str().unwrap_or_default().to_owned();
            Ctr {
                id: v["Id"].as_str().unwrap_or_default().to_owned(),
                name: v["Names"][0]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_owned(),
                service: l(labels::SERVICE),
                number: l(labels::NUMBER).parse().unwrap_or(0),
                oneoff: l(labels::ONEOFF) == "True",
                state: v["State"].as_str().unwrap_or_default().to_owned(),
                raw: v,
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.service, a.number, &a.name).cmp(&(&b.service, b.number, &b.name)));
    Ok(out)
}

/// The containers of the named services (all when `services` is empty); unknown service
/// names are an error when the project file is known.
pub fn select(t: &Target, all: Vec<Ctr>, services: &[String]) -> Result<Vec<Ctr>, Failure> {
    if let Some(l) = &t.loaded {
        for s in services {
            if !l.project.services.contains_key(s) {
                return Err(fail(format!("no such service: {s}")));
            }
        }
    }
    Ok(all
        .into_iter()
        .filter(|c| services.is_empty() || services.contains(&c.service))
        .collect())
}

/// Service names in start order (dependencies first), for the named ones or all; with the
/// names' dependencies when `with_deps`.
pub fn services_in_order(
    l: &Loaded,
    names: &[String],
    with_deps: bool,
) -> Result<Vec<String>, Failure> {
    let order = berth_compose::plan::order(&l.project).map_err(fail)?;
    if names.is_empty() {
        return Ok(order);
    }
    for n in names {
        if !l.project.services.contains_key(n) {
            return Err(fail(format!("no such service: {n}")));
        }
    }
    let mut wanted: BTreeMap<String, ()> = names.iter().map(|n| (n.clone(), ())).collect();
    if with_deps {
        let mut stack: Vec<String> = names.to_vec();
        while let Some(n) = stack.pop() {
            if let Some(s) = l.project.services.get(&n) {
                for d in berth_compose::plan::dependencies(s) {
                    if wanted.insert(d.clone(), ()).is_none() {
                        stack.push(d);
                    }
                }
            }
        }
    }
    Ok(order
        .into_iter()
        .filter(|n| wanted.contains_key(n))
        .collect())
}

/// Docker compose's progress line for one object, on stderr.
pub fn progress(kind: &str, name: &str, status: &str) {
    if kind.is_empty() {
        eprintln!(" \u{2714} {name}  {status}");
    } else {
        eprintln!(" \u{2714} {kind} {name}  {status}");
    }
}
