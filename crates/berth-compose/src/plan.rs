//! The plan: start order from `depends_on` (with cycle detection), the config hash that
//! decides recreation, and what `up` does to each service's containers.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::model::{Project, Service};

/// Services a service waits for: `depends_on`, `network_mode: service:X`, and `links`.
pub fn dependencies(s: &Service) -> BTreeSet<String> {
    let mut deps: BTreeSet<String> = s.depends_on.keys().cloned().collect();
    if let Some(other) = s
        .network_mode
        .as_deref()
        .and_then(|m| m.strip_prefix("service:"))
    {
        deps.insert(other.to_owned());
    }
    for l in &s.links {
        deps.insert(l.split(':').next().unwrap_or(l).to_owned());
    }
    deps
}

/// Services in start order: every service after the ones it depends on; ties by name.
/// A cycle is an error naming it.
pub fn order(p: &Project) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut state: BTreeMap<&str, bool> = BTreeMap::new(); // false: visiting, true: done
    for name in p.services.keys() {
        visit(p, name, &mut state, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}

fn visit<'a>(
    p: &'a Project,
    name: &'a str,
    state: &mut BTreeMap<&'a str, bool>,
    stack: &mut Vec<&'a str>,
    out: &mut Vec<String>,
) -> Result<()> {
    match state.get(name) {
        Some(true) => return Ok(()),
        Some(false) => {
            let start = stack.iter().position(|s| *s == name).unwrap_or(0);
            let mut cycle: Vec<&str> = stack[start..].to_vec();
            cycle.push(name);
            return Err(Error::invalid(
                format!("services.{name}.depends_on"),
                format!("dependency cycle detected: {}", cycle.join(" -> ")),
            ));
        }
        None => {}
    }
    let Some((key, svc)) = p.services.get_key_value(name) else {
        return Ok(()); // an optional dependency left out
    };
    state.insert(key, false);
    stack.push(key);
    for dep in dependencies(svc) {
        if let Some((k, _)) = p.services.get_key_value(&dep) {
            visit(p, k, state, stack, out)?;
        }
    }
    stack.pop();
    state.insert(key, true);
    out.push(name.to_owned());
    Ok(())
}

/// The `com.docker.compose.config-hash` label: sha256 of the service's canonical JSON,
/// without what does not change a container (replica count, build, pull policy, profiles).
pub fn config_hash(s: &Service) -> String {
    let mut s = s.clone();
    s.scale = None;
    s.build = None;
    s.pull_policy = None;
    s.profiles.clear();
    if let Some(d) = s.deploy.as_mut() {
        d.replicas = None;
    }
    // serde_json writes struct fields in declaration order and maps sorted, so the text is
    // canonical.
    let text = serde_json::to_string(&s).unwrap_or_default();
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A container of the service as the daemon lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub id: String,
    pub number: u32,
    pub hash: String,
    pub image_id: String,
    pub running: bool,
}

/// What `up` wants for one service.
#[derive(Debug, Clone, Default)]
pub struct Desired {
    pub replicas: u32,
    pub hash: String,
    /// The id of the image the service names now ("" when unknown: not compared).
    pub image_id: String,
    pub force_recreate: bool,
    pub no_recreate: bool,
}

/// One step of `up` for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create { number: u32 },
    Recreate { id: String, number: u32 },
    Start { id: String, number: u32 },
    UpToDate { id: String, number: u32 },
    Remove { id: String, number: u32 },
}

/// Converges one service: keeps the lowest numbers, removes the highest first, recreates
/// kept containers whose hash or image changed, creates the missing numbers.
pub fn converge(existing: &[Existing], want: &Desired) -> Vec<Action> {
    let mut sorted: Vec<&Existing> = existing.iter().collect();
    sorted.sort_by_key(|e| e.number);
    let keep = (want.replicas as usize).min(sorted.len());
    let mut actions: Vec<Action> = sorted[keep..]
        .iter()
        .rev()
        .map(|e| Action::Remove {
            id: e.id.clone(),
            number: e.number,
        })
        .collect();
    let mut used = BTreeSet::new();
    for e in &sorted[..keep] {
        used.insert(e.number);
        let changed =
            e.hash != want.hash || (!want.image_id.is_empty() && e.image_id != want.image_id);
        let (id, number) = (e.id.clone(), e.number);
        actions.push(if want.force_recreate || (changed && !want.no_recreate) {
            Action::Recreate { id, number }
        } else if !e.running {
            Action::Start { id, number }
        } else {
            Action::UpToDate { id, number }
        });
    }
    let mut next = 1;
    for _ in keep..want.replicas as usize {
        while used.contains(&next) {
            next += 1;
        }
        used.insert(next);
        actions.push(Action::Create { number: next });
    }
    actions
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{Condition, Dependency};

    fn svc(deps: &[&str]) -> Service {
        let mut s = Service {
            image: Some("busybox".into()),
            ..Default::default()
        };
        for d in deps {
            s.depends_on.insert(
                (*d).into(),
                Dependency {
                    condition: Condition::ServiceStarted,
                    required: true,
                    restart: false,
                },
            );
        }
        s
    }

    fn project(list: &[(&str, &[&str])]) -> Project {
        let mut p = Project {
            name: "p".into(),
            ..Default::default()
        };
        for (n, d) in list {
            p.services.insert((*n).into(), svc(d));
        }
        p
    }

    #[test]
    fn order_follows_depends_on() {
        let p = project(&[
            ("web", &["api"]),
            ("api", &["db", "cache"]),
            ("db", &[]),
            ("cache", &[]),
        ]);
        assert_eq!(order(&p).unwrap(), ["cache", "db", "api", "web"]);
    }

    #[test]
    fn cycles_are_named() {
        let p = project(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])]);
        let e = order(&p).unwrap_err().to_string();
        assert!(
            e.contains("dependency cycle detected: a -> b -> c -> a"),
            "{e}"
        );
    }

    #[test]
    fn hash_ignores_scale_but_not_config() {
        let a = svc(&[]);
        let mut b = a.clone();
        b.scale = Some(3);
        assert_eq!(config_hash(&a), config_hash(&b));
        b.environment.insert("X".into(), Some("1".into()));
        assert_ne!(config_hash(&a), config_hash(&b));
        assert_eq!(config_hash(&a).len(), 64);
    }

    fn ex(n: u32, hash: &str, running: bool) -> Existing {
        Existing {
            id: format!("c{n}"),
            number: n,
            hash: hash.into(),
            image_id: "i".into(),
            running,
        }
    }

    #[test]
    fn converge_scales_and_recreates() {
        let want = Desired {
            replicas: 1,
            hash: "h".into(),
            image_id: "i".into(),
            ..Default::default()
        };
        let have = [ex(1, "h", true), ex(3, "h", true), ex(2, "h", true)];
        assert_eq!(
            converge(&have, &want),
            [
                Action::Remove {
                    id: "c3".into(),
                    number: 3
                },
                Action::Remove {
                    id: "c2".into(),
                    number: 2
                },
                Action::UpToDate {
                    id: "c1".into(),
                    number: 1
                },
            ]
        );
        let want3 = Desired {
            replicas: 3,
            ..want.clone()
        };
        let have = [ex(1, "old", false)];
        assert_eq!(
            converge(&have, &want3),
            [
                Action::Recreate {
                    id: "c1".into(),
                    number: 1
                },
                Action::Create { number: 2 },
                Action::Create { number: 3 },
            ]
        );
        let keep = Desired {
            no_recreate: true,
            ..want.clone()
        };
        assert_eq!(
            converge(&have, &keep),
            [Action::Start {
                id: "c1".into(),
                number: 1
            }]
        );
        let force = Desired {
            force_recreate: true,
            ..want.clone()
        };
        assert_eq!(
            converge(&[ex(1, "h", true)], &force),
            [Action::Recreate {
                id: "c1".into(),
                number: 1
            }]
        );
        let new_image = Desired {
            image_id: "j".into(),
            ..want
        };
        assert_eq!(
            converge(&[ex(1, "h", true)], &new_image),
            [Action::Recreate {
                id: "c1".into(),
                number: 1
            }]
        );
    }
}
