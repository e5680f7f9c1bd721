//! `down`: the project's containers (dependents first), then its networks, and with `-v`
//! its volumes, with `--rmi` its images. Everything is found by the project label, so only
//! what compose created goes.

use berth_compose::labels;
use serde_json::{json, Value};

use super::args::DownArgs;
use super::project::{self, progress, Ctr, Target};
use super::up::remove_container;
use crate::client::{Body, Client, ClientError};
use crate::commands::enc;
use crate::Failure;

/// Containers grouped for stopping: a service's dependents go in an earlier group than it
/// (groups by dependency depth, deepest first); one group stops in parallel, as docker
/// compose stops independent services at once.
fn stop_groups(t: &Target, ctrs: Vec<Ctr>) -> Vec<Vec<Ctr>> {
    let depth = |svc: &str| -> usize {
        let Some(l) = &t.loaded else { return 0 };
        let mut d = 0;
        let mut level: Vec<String> = vec![svc.to_owned()];
        // Bounded by the number of services: validation rejected cycles.
        for _ in 0..l.project.services.len() {
            let next: Vec<String> = level
                .iter()
                .filter_map(|s| l.project.services.get(s))
                .flat_map(berth_compose::plan::dependencies)
                .collect();
            if next.is_empty() {
                break;
            }
            d += 1;
            level = next;
        }
        d
    };
    let mut groups: std::collections::BTreeMap<std::cmp::Reverse<usize>, Vec<Ctr>> =
        Default::default();
    for c in ctrs {
        groups
            .entry(std::cmp::Reverse(depth(&c.service)))
            .or_default()
            .push(c);
    }
    groups.into_values().collect()
}

fn labelled(c: &Client, kind: &str, project: &str) -> Result<Vec<Value>, Failure> {
    let filters = json!({"label": [format!("{}={project}", labels::PROJECT)]});
    let path = format!("/{kind}?filters={}", enc(&filters.to_string()));
    let v: Value = c.json("GET", &path, Body::Empty)?;
    // `GET /volumes` wraps its list; `GET /networks` does not.
    Ok(match v {
        Value::Array(a) => a,
        other => other["Volumes"].as_array().cloned().unwrap_or_default(),
    })
}

pub fn down(c: &Client, t: &Target, a: &DownArgs) -> Result<i32, Failure> {
    let all = project::containers(c, &t.name)?;
    let known = |x: &Ctr| match &t.loaded {
        Some(l) => {
            x.oneoff
                || l.project.services.contains_key(&x.service)
                || l.disabled.contains(&x.service)
        }
        None => true,
    };
    let (mine, orphans): (Vec<Ctr>, Vec<Ctr>) = all.into_iter().partition(known);
    let mut images: Vec<(String, bool)> = Vec::new();
    for group in stop_groups(t, mine) {
        for x in &group {
            let image = x.raw["Image"].as_str().unwrap_or_default().to_owned();
            // Without the file, an image compose named itself is `<project>-<service>`.
            let local = image == format!("{}-{}", t.name, x.service);
            images.push((image, local));
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = group
                .iter()
                .map(|x| s.spawn(move || remove_container(c, &x.id, &x.name, a.timeout, a.volumes)))
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join()
                    .map_err(|_| project::fail("stopping a container failed"))?
            })
        })?;
    }
    if a.remove_orphans {
        for x in orphans {
            remove_container(c, &x.id, &x.name, a.timeout, a.volumes)?;
        }
    } else if !orphans.is_empty() {
        let names: Vec<&str> = orphans.iter().map(|o| o.name.as_str()).collect();
        eprintln!("WARN[0000] Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.", names.join(" "));
    }
    for n in labelled(c, "networks", &t.name)? {
        let name = n["Name"].as_str().unwrap_or_default();
        progress("Network", name, "Removing");
        remove(c, &format!("/networks/{}", enc(name)))?;
        progress("Network", name, "Removed");
    }
    if a.volumes {
        for v in labelled(c, "volumes", &t.name)? {
            let name = v["Name"].as_str().unwrap_or_default();
            remove(c, &format!("/volumes/{}", enc(name)))?;
            progress("Volume", name, "Removed");
        }
    }
    if let Some(mode) = &a.rmi {
        rmi(c, t, mode, images)?;
    }
    Ok(0)
}

/// A DELETE where "already gone" is fine.
fn remove(c: &Client, path: &str) -> Result<(), Failure> {
    match c.request("DELETE", path, Body::Empty) {
        Ok(_) | Err(ClientError::Api { status: 404, .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `--rmi all`: every service's image; `local`: only images compose named itself (built,
/// no `image:` key).
fn rmi(
    c: &Client,
    t: &Target,
    mode: &str,
    from_containers: Vec<(String, bool)>,
) -> Result<(), Failure> {
    let mut names: Vec<String> = match &t.loaded {
        Some(l) => l
            .project
            .services
            .iter()
            .filter(|(_, s)| mode == "all" || s.image.is_none())
            .map(|(n, s)| berth_compose::engine::image_name(&l.project.name, n, s))
            .collect(),
        None => from_containers
            .into_iter()
            .filter(|(_, local)| mode == "all" || *local)
            .map(|(i, _)| i)
            .collect(),
    };
    names.sort();
    names.dedup();
    for n in names {
        match c.request("DELETE", &format!("/images/{}", enc(&n)), Body::Empty) {
            Ok(_) => progress("Image", &n, "Removed"),
            Err(ClientError::Api { status: 404, .. }) => {}
            Err(ClientError::Api {
                status: 409,
                message,
            }) => eprintln!("WARN[0000] {message}"),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
