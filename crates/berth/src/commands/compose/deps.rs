//! `depends_on` conditions: a service starts once each dependency is started, healthy
//! (`State.Health.Status == "healthy"`, as the Engine API reports a healthcheck) or has
//! exited 0; `up --wait` waits for every container to be running or healthy.

use std::time::Duration;

use berth_compose::model::Condition;
use berth_compose::Loaded;
use serde_json::Value;

use super::project::{self, fail, progress};
use crate::client::{Body, Client};
use crate::Failure;

const POLL: Duration = Duration::from_millis(100);

/// Waits until every dependency of `svc` meets its condition.
pub fn wait_for(c: &Client, l: &Loaded, svc: &str) -> Result<(), Failure> {
    let s = &l.project.services[svc];
    for (dep, d) in &s.depends_on {
        if d.condition == Condition::ServiceStarted || !l.project.services.contains_key(dep) {
            continue;
        }
        let all = project::containers(c, &l.project.name)?;
        for ctr in all.iter().filter(|x| &x.service == dep && !x.oneoff) {
            progress("Container", &ctr.name, "Waiting");
            match d.condition {
                Condition::ServiceHealthy => healthy(c, &ctr.id, &ctr.name)?,
                Condition::ServiceCompletedSuccessfully => completed(c, &ctr.id, dep)?,
                Condition::ServiceStarted => {}
            }
            progress(
                "Container",
                &ctr.name,
                if d.condition == Condition::ServiceHealthy {
                    "Healthy"
                } else {
                    "Exited"
                },
            );
        }
    }
    Ok(())
}

fn inspect(c: &Client, id: &str) -> Result<Value, Failure> {
    Ok(c.json("GET", &format!("/containers/{id}/json"), Body::Empty)?)
}

/// Polls until `State.Health.Status` is "healthy"; "unhealthy", no healthcheck, or an exited
/// container fail as docker compose's do.
fn healthy(c: &Client, id: &str, name: &str) -> Result<(), Failure> {
    loop {
        let v = inspect(c, id)?;
        let health = &v["State"]["Health"]["Status"];
        match health.as_str() {
            Some("healthy") => return Ok(()),
            Some("unhealthy") => {
                return Err(fail(format!(
                    "dependency failed to start: container {name} is unhealthy"
                )))
            }
            Some(_) => {}
            None => {
                return Err(fail(format!(
                    "container {name} has no healthcheck configured"
                )))
            }
        }
        if v["State"]["Status"] == "exited" {
            return Err(fail(format!(
                "dependency failed to start: container {name} exited ({})",
                v["State"]["ExitCode"]
            )));
        }
        std::thread::sleep(POLL);
    }
}

/// Waits for the container's exit; anything but 0 fails.
fn completed(c: &Client, id: &str, service: &str) -> Result<(), Failure> {
    let v: Value = c.json("POST", &format!("/containers/{id}/wait"), Body::Empty)?;
    match v["StatusCode"].as_i64() {
        Some(0) => Ok(()),
        code => Err(fail(format!(
            "service {service:?} didn't complete successfully: exit {}",
            code.unwrap_or(-1)
        ))),
    }
}

/// `up --wait`: every container of the services running (healthy when it has a
/// healthcheck).
pub fn wait_up(c: &Client, l: &Loaded, services: &[String]) -> Result<i32, Failure> {
    let all = project::containers(c, &l.project.name)?;
    for ctr in all
        .iter()
        .filter(|x| services.contains(&x.service) && !x.oneoff)
    {
        loop {
            let v = inspect(c, &ctr.id)?;
            let status = v["State"]["Status"].as_str().unwrap_or_default().to_owned();
            match (status.as_str(), v["State"]["Health"]["Status"].as_str()) {
                ("running", None | Some("healthy")) => break,
                ("running", Some("unhealthy")) => {
                    return Err(fail(format!("container {} is unhealthy", ctr.name)))
                }
                ("exited" | "dead", _) => {
                    return Err(fail(format!(
                        "container {} exited ({})",
                        ctr.name, v["State"]["ExitCode"]
                    )))
                }
                _ => std::thread::sleep(POLL),
            }
        }
        progress("Container", &ctr.name, "Healthy");
    }
    Ok(0)
}
