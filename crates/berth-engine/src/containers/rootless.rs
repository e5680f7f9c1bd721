//! A container's side of a rootless daemon: the spec adjusted to what an unprivileged
//! user namespace allows, limits refused without cgroup delegation.

use berth_runtime::oci_spec::runtime::Spec;

use super::Containers;
use crate::error::{EngineError, Result};
use crate::rootless::{cgroups_writable, proc_stats, rootless_apply_value};

impl Containers {
    /// A rootless container's counters when it has no cgroup (see [`proc_stats`]); `None`
    /// when the cgroup is the source (rootful, or a writable cgroup).
    pub(crate) fn rootless_stats(&self, id: &str) -> Option<berth_cgroups::Stats> {
        if !self.cfg.rootless || cgroups_writable() {
            return None;
        }
        let pids = berth_runtime::container::Container::load(&self.runtime_root(), id)
            .and_then(|c| c.pids())
            .unwrap_or_default();
        Some(proc_stats(&pids))
    }

    /// `update` of limits on a rootless daemon without a delegated cgroup: refused clearly
    /// (a restart-policy-only update passes).
    pub(crate) fn rootless_check_update(&self, r: &crate::model::Resources) -> Result<()> {
        if !self.cfg.rootless || cgroups_writable() {
            return Ok(());
        }
        if crate::resources::oci_resources(r, false)?.is_empty() {
            return Ok(());
        }
        Err(EngineError::InvalidParameter(
            "rootless berthd cannot update resource limits: this host gives the user no \
             delegated cgroup"
                .into(),
        ))
    }

    /// The rootless spec edits (see the module doc); a rootful daemon's spec passes through.
    pub(crate) fn rootless_apply(&self, spec: Spec) -> Result<Spec> {
        if !self.cfg.rootless {
            return Ok(spec);
        }
        let bad = |e: serde_json::Error| EngineError::Internal(format!("container spec: {e}"));
        let mut v = serde_json::to_value(spec).map_err(bad)?;
        rootless_apply_value(self.cfg.rootless, &mut v)?;
        serde_json::from_value(v).map_err(bad)
    }
}
