//! `up`: networks and volumes, then each service in dependency order converged to its
//! replica count (recreating only what changed), then logs (attached) or `--wait`.

use std::collections::BTreeMap;

use berth_compose::engine::{self, ContainerSpec};
use berth_compose::plan::{self, Action, Desired, Existing};
use berth_compose::{labels, Loaded};
use serde_json::Value;

use super::args::UpArgs;
use super::project::{self, fail, progress, Ctr};
use super::{deps, images, logs};
use crate::client::{Body, Client, ClientError};
use crate::commands::enc;
use crate::Failure;

/// `--scale SVC=N` as a map; unknown services are errors.
fn scales(l: &Loaded, list: &[String]) -> Result<BTreeMap<String, u32>, Failure> {
    list.iter()
        .map(|s| {
            let (svc, n) = s
                .split_once('=')
                .ok_or_else(|| fail(format!("invalid scale option {s:?}: expected SERVICE=NUM")))?;
            let n: u32 = n
                .parse()
                .map_err(|_| fail(format!("invalid scale option {s:?}: expected SERVICE=NUM")))?;
            if !l.project.services.contains_key(svc) {
                return Err(fail(format!("no such service: {svc}")));
            }
            Ok((svc.to_owned(), n))
        })
        .collect()
}

pub fn up(c: &Client, l: &Loaded, a: &UpArgs) -> Result<i32, Failure> {
    let scale = scales(l, &a.scale)?;
    let order = project::services_in_order(l, &a.services, !a.no_deps)?;
    images::ensure(c, l, &order, a.build)?;
    ensure_networks(c, l)?;
    ensure_volumes(c, l)?;
    let existing = project::containers(c, &l.project.name)?;
    orphans(c, l, &existing, a.remove_orphans)?;
    for svc in &order {
        if !a.no_start {
            deps::wait_for(c, l, svc)?;
        }
        let replicas = scale
            .get(svc)
            .copied()
            .unwrap_or_else(|| l.project.services[svc].replicas());
        converge(c, l, svc, replicas, a)?;
    }
    if a.wait {
        return deps::wait_up(c, l, &order);
    }
    if a.detach || a.no_start {
        return Ok(0);
    }
    logs::attached(c, l, &order)
}

/// Creates the project's networks that do not exist (external ones must).
pub fn ensure_networks(c: &Client, l: &Loaded) -> Result<(), Failure> {
    let p = &l.project;
    let mut keys: Vec<String> = p.networks.keys().cloned().collect();
    let uses_default = p
        .services
        .values()
        .any(|s| engine::service_networks(s).iter().any(|n| n == "default"));
    if uses_default && !keys.iter().any(|k| k == "default") {
        keys.push("default".into());
    }
    for key in keys {
        let def = p.networks.get(&key).cloned().unwrap_or_default();
        let name = engine::network_name(&p.name, &key, Some(&def));
        match c.request("GET", &format!("/networks/{}", enc(&name)), Body::Empty) {
            Ok(_) => continue,
            Err(ClientError::Api { status: 404, .. }) => {}
            Err(e) => return Err(e.into()),
        }
        if berth_compose::model::is_external(&def.external) {
            return Err(fail(format!(
                "network {name} declared as external, but could not be found"
            )));
        }
        progress("Network", &name, "Creating");
        c.request(
            "POST",
            "/networks/create",
            Body::Json(engine::network_body(&p.name, &key, &def)),
        )?;
        progress("Network", &name, "Created");
    }
    Ok(())
}

/// Creates the project's named volumes that do not exist (external ones must).
pub fn ensure_volumes(c: &Client, l: &Loaded) -> Result<(), Failure> {
    let p = &l.project;
    for (key, def) in &p.volumes {
        let name = engine::volume_name(&p.name, key, Some(def));
        match c.request("GET", &format!("/volumes/{}", enc(&name)), Body::Empty) {
            Ok(_) => continue,
            Err(ClientError::Api { status: 404, .. }) => {}
            Err(e) => return Err(e.into()),
        }
        if berth_compose::model::is_external(&def.external) {
            return Err(fail(format!("external volume {name:?} not found")));
        }
        progress("Volume", &format!("\"{name}\""), "Creating");
        c.request(
            "POST",
            "/volumes/create",
            Body::Json(engine::volume_body(&p.name, key, def)),
        )?;
        progress("Volume", &format!("\"{name}\""), "Created");
    }
    Ok(())
}

/// Containers of services no longer in the file: a warning, or removed with
/// `--remove-orphans`.
fn orphans(c: &Client, l: &Loaded, existing: &[Ctr], remove: bool) -> Result<(), Failure> {
    let orphans: Vec<&Ctr> = existing
        .iter()
        .filter(|x| {
            !x.oneoff
                && !l.project.services.contains_key(&x.service)
                && !l.disabled.contains(&x.service)
        })
        .collect();
    if orphans.is_empty() {
        return Ok(());
    }
    if !remove {
        let names: Vec<&str> = orphans.iter().map(|o| o.name.as_str()).collect();
        eprintln!(
            "WARN[0000] Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            names.join(" ")
        );
        return Ok(());
    }
    for o in orphans {
        remove_container(c, &o.id, &o.name, None, true)?;
    }
    Ok(())
}

/// Stops and removes one container (and its anonymous volumes), with progress lines.
pub fn remove_container(
    c: &Client,
    id: &str,
    name: &str,
    timeout: Option<i64>,
    volumes: bool,
) -> Result<(), Failure> {
    progress("Container", name, "Stopping");
    let t = timeout.map(|t| format!("?t={t}")).unwrap_or_default();
    match c.request("POST", &format!("/containers/{id}/stop{t}"), Body::Empty) {
        Ok(_)
        | Err(ClientError::Api {
            status: 304 | 404, ..
        }) => {}
        Err(e) => return Err(e.into()),
    }
    progress("Container", name, "Stopped");
    progress("Container", name, "Removing");
    let v = if volumes { "&v=1" } else { "" };
    match c.request(
        "DELETE",
        &format!("/containers/{id}?force=1{v}"),
        Body::Empty,
    ) {
        Ok(_) | Err(ClientError::Api { status: 404, .. }) => {}
        Err(e) => return Err(e.into()),
    }
    progress("Container", name, "Removed");
    Ok(())
}

/// The id of the image a service names now, if the daemon has it.
fn image_id(c: &Client, image: &str) -> String {
    c.json::<Value>("GET", &format!("/images/{}/json", enc(image)), Body::Empty)
        .ok()
        .and_then(|v| v["Id"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn converge(c: &Client, l: &Loaded, svc: &str, replicas: u32, a: &UpArgs) -> Result<(), Failure> {
    let s = &l.project.services[svc];
    let all = project::containers(c, &l.project.name)?;
    let mine: Vec<&Ctr> = all
        .iter()
        .filter(|x| x.service == svc && !x.oneoff)
        .collect();
    let existing: Vec<Existing> = mine
        .iter()
        .map(|x| Existing {
            id: x.id.clone(),
            number: x.number,
            hash: x.label(labels::CONFIG_HASH),
            image_id: x.raw["ImageID"].as_str().unwrap_or_default().to_owned(),
            running: x.running(),
        })
        .collect();
    let want = Desired {
        replicas,
        hash: plan::config_hash(s),
        image_id: image_id(c, &engine::image_name(&l.project.name, svc, s)),
        force_recreate: a.force_recreate,
        no_recreate: a.no_recreate,
    };
    let name_of = |id: &str| {
        mine.iter()
            .find(|x| x.id == id)
            .map(|x| x.name.clone())
            .unwrap_or_default()
    };
    for action in plan::converge(&existing, &want) {
        match action {
            Action::Remove { id, .. } => remove_container(c, &id, &name_of(&id), a.timeout, true)?,
            Action::UpToDate { id, .. } => progress("Container", &name_of(&id), "Running"),
            Action::Start { id, .. } if a.no_start => {
                progress("Container", &name_of(&id), "Created")
            }
            Action::Start { id, .. } => start(c, &id, &name_of(&id))?,
            Action::Recreate { id, number } => {
                let name = name_of(&id);
                progress("Container", &name, "Recreate");
                let anon = anonymous_volumes(c, &id);
                remove_kept(c, &id, a.timeout)?;
                let new = create(c, l, svc, number, &anon)?;
                progress("Container", &name, "Recreated");
                if !a.no_start {
                    start(c, &new, &name)?;
                }
            }
            Action::Create { number } => {
                let name = engine::container_name(&l.project.name, svc, s, number);
                progress("Container", &name, "Creating");
                let id = create(c, l, svc, number, &BTreeMap::new())?;
                progress("Container", &name, "Created");
                if !a.no_start {
                    start(c, &id, &name)?;
                }
            }
        }
    }
    Ok(())
}

/// Stops and removes a container whose anonymous volumes the new one takes over.
fn remove_kept(c: &Client, id: &str, timeout: Option<i64>) -> Result<(), Failure> {
    let t = timeout.map(|t| format!("?t={t}")).unwrap_or_default();
    match c.request("POST", &format!("/containers/{id}/stop{t}"), Body::Empty) {
        Ok(_) | Err(ClientError::Api { status: 304, .. }) => {}
        Err(e) => return Err(e.into()),
    }
    c.request("DELETE", &format!("/containers/{id}?force=1"), Body::Empty)?;
    Ok(())
}

/// Destination → volume name of a container's anonymous volumes (kept across recreation,
/// as docker compose keeps them).
fn anonymous_volumes(c: &Client, id: &str) -> BTreeMap<String, String> {
    let Ok(v) = c.json::<Value>("GET", &format!("/containers/{id}/json"), Body::Empty) else {
        return BTreeMap::new();
    };
    v["Mounts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|m| m["Type"] == "volume")
                .filter_map(|m| {
                    Some((
                        m["Destination"].as_str()?.to_owned(),
                        m["Name"].as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn start(c: &Client, id: &str, name: &str) -> Result<(), Failure> {
    progress("Container", name, "Starting");
    match c.request("POST", &format!("/containers/{id}/start"), Body::Empty) {
        Ok(_) | Err(ClientError::Api { status: 304, .. }) => {}
        Err(e) => {
            return Err(fail(format!(
                "Error response from daemon: {}",
                api_message(e)
            )))
        }
    }
    progress("Container", name, "Started");
    Ok(())
}

fn api_message(e: ClientError) -> String {
    match e {
        ClientError::Api { message, .. } => message,
        other => other.to_string(),
    }
}

/// Creates container `number` of `svc`; `anon` gives anonymous volumes to reuse by target.
pub fn create(
    c: &Client,
    l: &Loaded,
    svc: &str,
    number: u32,
    anon: &BTreeMap<String, String>,
) -> Result<String, Failure> {
    let s = &l.project.services[svc];
    let spec = ContainerSpec {
        service: svc,
        number,
        oneoff: false,
        net_container: net_container(c, l, svc)?,
    };
    let mut body = engine::container_body(l, s, &spec).map_err(fail)?;
    if let Some(Value::Array(mounts)) = body["HostConfig"].get_mut("Mounts") {
        for m in mounts.iter_mut() {
            let target = m["Target"].as_str().unwrap_or_default().to_owned();
            if m["Type"] == "volume" && m["Source"] == "" {
                if let Some(name) = anon.get(&target) {
                    m["Source"] = Value::String(name.clone());
                }
            }
        }
    }
    let name = engine::container_name(&l.project.name, svc, s, number);
    let v: Value = c.json(
        "POST",
        &format!("/containers/create?name={}", enc(&name)),
        Body::Json(body),
    )?;
    Ok(v["Id"].as_str().unwrap_or_default().to_owned())
}

/// For `network_mode: service:X`: X's first container.
pub fn net_container(c: &Client, l: &Loaded, svc: &str) -> Result<Option<String>, Failure> {
    let s = &l.project.services[svc];
    let Some(other) = s
        .network_mode
        .as_deref()
        .and_then(|m| m.strip_prefix("service:"))
    else {
        return Ok(None);
    };
    let all = project::containers(c, &l.project.name)?;
    all.iter()
        .find(|x| x.service == other && !x.oneoff)
        .map(|x| Some(x.id.clone()))
        .ok_or_else(|| {
            fail(format!(
                "service {other:?} has no container for network_mode of {svc:?}"
            ))
        })
}
