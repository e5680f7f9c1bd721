//! Images: `build`, `pull`, `push`, `images`, and what `up` builds or pulls first.

use berth_compose::engine::image_name;
use berth_compose::{Loaded, Service};
use serde_json::Value;

use super::args::ImagesArgs;
use super::project::{self, fail, progress, Target};
use crate::client::{Body, Client, ClientError};
use crate::commands::{build, enc, registry, run::with_default_tag};
use crate::Failure;

fn exists(c: &Client, image: &str) -> Result<bool, Failure> {
    match c.request("GET", &format!("/images/{}/json", enc(image)), Body::Empty) {
        Ok(_) => Ok(true),
        Err(ClientError::Api { status: 404, .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `up`: builds services with `build` (always with `--build`, else when the image is
/// missing), pulls missing images of the others (`pull_policy` honoured).
pub fn ensure(
    c: &Client,
    l: &Loaded,
    services: &[String],
    force_build: bool,
) -> Result<(), Failure> {
    for name in services {
        let s = &l.project.services[name];
        let image = image_name(&l.project.name, name, s);
        let policy = s.pull_policy.as_deref().unwrap_or("missing");
        if s.build.is_some() && (force_build || policy == "build" || !exists(c, &image)?) {
            build_one(c, l, name, s, false, false)?;
        } else if s.build.is_none() {
            match policy {
                "always" => pull_one(c, name, &image)?,
                "never" if !exists(c, &image)? => {
                    return Err(fail(format!(
                        "image {image} not found and pull_policy is never"
                    )))
                }
                _ if !exists(c, &image)? => pull_one(c, name, &image)?,
                _ => {}
            }
        }
    }
    Ok(())
}

fn pull_one(c: &Client, service: &str, image: &str) -> Result<(), Failure> {
    progress("", service, "Pulling");
    registry::pull_before_run(c, &with_default_tag(image))?;
    progress("", service, "Pulled");
    Ok(())
}

fn build_one(
    c: &Client,
    l: &Loaded,
    name: &str,
    s: &Service,
    no_cache: bool,
    pull: bool,
) -> Result<(), Failure> {
    let Some(b) = &s.build else { return Ok(()) };
    let kv = |m: &std::collections::BTreeMap<String, String>| {
        m.iter().map(|(k, v)| format!("{k}={v}")).collect()
    };
    let args = build::BuildArgs {
        tags: vec![image_name(&l.project.name, name, s)],
        file: b.dockerfile.clone().map(|f| {
            std::path::Path::new(&b.context)
                .join(f)
                .display()
                .to_string()
        }),
        build_args: kv(&b.args),
        target: b.target.clone(),
        no_cache: no_cache || b.no_cache.unwrap_or(false),
        pull: pull || b.pull.unwrap_or(false),
        labels: kv(&b.labels),
        platform: s.platform.clone(),
        quiet: false,
        iidfile: None,
        network: b.network.clone(),
        path: b.context.clone(),
    };
    progress("", name, "Building");
    match build::build(c, &args)? {
        0 => {
            progress("", name, "Built");
            Ok(())
        }
        code => Err(Failure {
            code,
            message: format!("failed to build service {name:?}"),
        }),
    }
}

fn selected<'a>(
    l: &'a Loaded,
    names: &[String],
) -> Result<Vec<(&'a String, &'a Service)>, Failure> {
    for n in names {
        if !l.project.services.contains_key(n) {
            return Err(fail(format!("no such service: {n}")));
        }
    }
    Ok(l.project
        .services
        .iter()
        .filter(|(n, _)| names.is_empty() || names.contains(n))
        .collect())
}

/// `build [--no-cache] [--pull] [SVC...]`.
pub fn build(
    c: &Client,
    l: &Loaded,
    names: &[String],
    no_cache: bool,
    pull: bool,
) -> Result<i32, Failure> {
    for (n, s) in selected(l, names)? {
        build_one(c, l, n, s, no_cache, pull)?;
    }
    Ok(0)
}

/// `pull [SVC...]`: images of services without `build`.
pub fn pull(
    c: &Client,
    l: &Loaded,
    names: &[String],
    ignore_failures: bool,
) -> Result<i32, Failure> {
    for (n, s) in selected(l, names)? {
        let Some(image) = &s.image else { continue };
        if s.build.is_some() && exists(c, image)? {
            continue;
        }
        match pull_one(c, n, image) {
            Err(e) if ignore_failures => eprintln!("WARN[0000] {}", e.message),
            other => other?,
        }
    }
    Ok(0)
}

/// `push [SVC...]`: images of services that have both `build` and `image`.
pub fn push(c: &Client, l: &Loaded, names: &[String]) -> Result<i32, Failure> {
    for (n, s) in selected(l, names)? {
        let (Some(image), Some(_)) = (&s.image, &s.build) else {
            continue;
        };
        progress("", n, "Pushing");
        registry::push(
            c,
            &registry::PushArgs {
                quiet: true,
                name: image.clone(),
            },
        )?;
        progress("", n, "Pushed");
    }
    Ok(0)
}

/// `images [-q] [SVC...]`: one row per container.
pub fn images(c: &Client, t: &Target, a: &ImagesArgs) -> Result<i32, Failure> {
    let ctrs = project::select(t, project::containers(c, &t.name)?, &a.services)?;
    let mut rows = Vec::new();
    for x in &ctrs {
        let id = x.raw["ImageID"].as_str().unwrap_or_default();
        let v: Value = c.json("GET", &format!("/images/{}/json", enc(id)), Body::Empty)?;
        if a.quiet {
            println!("{id}");
            continue;
        }
        let tag = v["RepoTags"][0].as_str().unwrap_or("<none>:<none>");
        let (repo, tag) = tag.rsplit_once(':').unwrap_or((tag, ""));
        rows.push(vec![
            x.name.clone(),
            repo.to_owned(),
            tag.to_owned(),
            crate::commands::images::short_id(id),
            crate::table::human_size(v["Size"].as_u64().unwrap_or(0)),
        ]);
    }
    if !a.quiet {
        print!(
            "{}",
            crate::table::render(
                &["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"],
                &rows
            )
        );
    }
    Ok(0)
}
