//! `docker update`: docker's merge rule for new limits, then the container's cgroup rewritten
//! live (`/berth/<id>` through the runtime library) and the record saved.

use berth_runtime::oci_spec::runtime::LinuxResources;
use serde_json::Value;

use crate::containers::Containers;
use crate::error::{EngineError, Result};
use crate::model::{Resources, UpdateConfig};
use crate::resources::{bad, oci_resources, validate};

/// Docker's update rule: non-zero fields of `new` replace those of `cur`, with docker's
/// conflict messages.
fn merge(cur: &mut Resources, new: &Resources) -> Result<()> {
    let conflict = |m: &str| {
        Err(EngineError::Conflict(format!(
            "Cannot update container: {m}"
        )))
    };
    if new.nano_cpus > 0 && cur.cpu_period > 0 {
        return conflict(
            "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set",
        );
    }
    if new.nano_cpus > 0 && cur.cpu_quota > 0 {
        return conflict(
            "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set",
        );
    }
    if new.cpu_period > 0 && cur.nano_cpus > 0 {
        return conflict(
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set",
        );
    }
    if new.cpu_quota > 0 && cur.nano_cpus > 0 {
        return conflict(
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set",
        );
    }
    if new.memory != 0
        && new.memory > cur.memory_swap
        && cur.memory_swap > 0
        && new.memory_swap == 0
    {
        return conflict("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
    }
    let pick = |c: &mut i64, n: i64| {
        if n != 0 {
            *c = n;
        }
    };
    pick(&mut cur.cpu_shares, new.cpu_shares);
    pick(&mut cur.nano_cpus, new.nano_cpus);
    pick(&mut cur.cpu_period, new.cpu_period);
    pick(&mut cur.cpu_quota, new.cpu_quota);
    pick(&mut cur.memory, new.memory);
    pick(&mut cur.memory_swap, new.memory_swap);
    pick(&mut cur.memory_reservation, new.memory_reservation);
    if new.blkio_weight != 0 {
        cur.blkio_weight = new.blkio_weight;
    }
    if !new.cpuset_cpus.is_empty() {
        cur.cpuset_cpus.clone_from(&new.cpuset_cpus);
    }
    if !new.cpuset_mems.is_empty() {
        cur.cpuset_mems.clone_from(&new.cpuset_mems);
    }
    if new.pids_limit.is_some() {
        cur.pids_limit = new.pids_limit;
    }
    Ok(())
}

impl Containers {
    /// `docker update`: changes the limits (and restart policy) of a container, live when it
    /// runs. Returns docker's warnings.
    pub fn update(&self, key: &str, upd: UpdateConfig) -> Result<Vec<String>> {
        let (id, warnings) = {
            let mut inner = self.lock();
            let id = Self::find_id(&inner, key)?;
            let rec = inner
                .containers
                .get_mut(&id)
                .ok_or_else(|| EngineError::NoSuchContainer(key.to_owned()))?;
            self.rootless_check_update(&upd.resources)?;
            let mut merged = rec.host_config.resources.clone();
            merge(&mut merged, &upd.resources)?;
            let warnings = validate(&mut merged, true)?;
            let policy = upd.restart_policy.filter(|p| !p.name.is_empty());
            if let Some(p) = &policy {
                p.validate()?;
                if rec.host_config.auto_remove && p.name != "no" {
                    return Err(bad("Restart policy cannot be updated because AutoRemove is enabled for the container"));
                }
            }
            if rec.state.running {
                let res: LinuxResources =
                    serde_json::from_value(Value::Object(oci_resources(&merged, true)?))
                        .map_err(|e| EngineError::Internal(format!("resources: {e}")))?;
                berth_runtime::container::Container::load(&self.runtime_root(), &id)
                    .and_then(|c| c.cgroup())
                    .map_err(|e| {
                        EngineError::Internal(format!("Cannot update container {id}: {e}"))
                    })?
                    .update(&res)
                    .map_err(|e| {
                        EngineError::Internal(format!("Cannot update container {id}: {e}"))
                    })?;
            }
            rec.host_config.resources = merged;
            if let Some(p) = policy {
                rec.host_config.restart_policy = p;
            }
            self.records.save(rec)?;
            if !warnings.is_empty() {
                tracing::info!("update {id}: {warnings:?}");
            }
            (id, warnings)
        };
        self.emit_container(&id, "update", &[]);
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn update_merges_like_docker() {
        let mut cur = Resources {
            memory: 32 << 20,
            memory_swap: 64 << 20,
            ..Default::default()
        };
        let new = Resources {
            memory: 128 << 20,
            ..Default::default()
        };
        assert!(merge(&mut cur.clone(), &new).is_err());
        let new = Resources {
            memory: 48 << 20,
            pids_limit: Some(5),
            ..Default::default()
        };
        merge(&mut cur, &new).unwrap();
        assert_eq!((cur.memory, cur.memory_swap), (48 << 20, 64 << 20));
        assert_eq!(cur.pids_limit, Some(5));
    }
}
