//! A container's side of `--userns-remap`: which remap applies, the idmapped root mount,
//! the spec's user namespace, the ids `commit` and `cp` translate through.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;

use berth_image::snapshot::Mount;
use serde_json::Value;

use super::Containers;
use crate::error::{EngineError, Result};
use crate::model::HostConfig;
use crate::userns::{allow_ping, apply, mount_rootfs, tar_ids, Remap};

impl Containers {
    /// The daemon's remap for this container, if it is remapped.
    pub(crate) fn remap_for(&self, host: &HostConfig) -> Option<&Remap> {
        Remap::for_container(self.cfg.userns_remap.as_deref(), host)
    }

    /// Mounts the container's root: idmapped when remapped, plainly otherwise.
    pub(crate) fn mount_rootfs(
        &self,
        host: &HostConfig,
        mount: &Mount,
        target: &Path,
    ) -> Result<()> {
        match self.remap_for(host) {
            Some(r) => mount_rootfs(r, mount, target),
            None => mount
                .mount(target)
                .map_err(crate::error::io_err("mount rootfs on", target)),
        }
    }

    /// `cp` into a remapped container: the owner docker gives extracted files (its root, or
    /// with `-a` the archive's ids) is a container id, written as the host id it maps to.
    pub(crate) fn cp_unpack_options(
        &self,
        id: &str,
        mut opts: crate::containers::archive::UnpackOptions,
    ) -> Result<crate::containers::archive::UnpackOptions> {
        let host = self
            .lock()
            .containers
            .get(id)
            .map(|r| r.host_config.clone());
        let Some(remap) = host.as_ref().and_then(|h| self.remap_for(h)) else {
            return Ok(opts);
        };
        let Some((uid, gid)) = opts.chown else {
            return Err(EngineError::InvalidParameter(
                "copyUIDGID (cp -a) into a user-namespace-remapped container is not supported"
                    .into(),
            ));
        };
        let unmapped = || {
            EngineError::InvalidParameter(format!(
                "owner {uid}:{gid} is not mapped in the container"
            ))
        };
        opts.chown = Some((
            Remap::to_host(&remap.uid_map, uid).ok_or_else(unmapped)?,
            Remap::to_host(&remap.gid_map, gid).ok_or_else(unmapped)?,
        ));
        Ok(opts)
    }

    /// Runs `f` on `w`, or for a remapped container on `w` behind a writer that turns the tar
    /// stream's host ids into the container's (`export`, `cp` out).
    pub(crate) fn with_container_ids<T>(
        &self,
        id: &str,
        w: &mut dyn std::io::Write,
        f: impl FnOnce(&mut dyn std::io::Write) -> Result<T>,
    ) -> Result<T> {
        let host = self
            .lock()
            .containers
            .get(id)
            .map(|r| r.host_config.clone());
        match host.as_ref().and_then(|h| self.remap_for(h)) {
            Some(r) => f(&mut tar_ids::ToContainerIds::new(w, &r.uid_map, &r.gid_map)),
            None => f(w),
        }
    }

    /// What `commit` reads a remapped container's writable layer through (see
    /// `CommitOptions::idmap`); `None` for others.
    pub(crate) fn commit_idmap(&self, host: &HostConfig) -> Result<Option<Arc<OwnedFd>>> {
        self.remap_for(host).map(Remap::inverse_userns).transpose()
    }

    /// The spec edits of a remapped container (see [`apply`]); others pass through.
    pub(crate) fn userns_apply(
        &self,
        id: &str,
        host: &HostConfig,
        spec: berth_runtime::oci_spec::runtime::Spec,
    ) -> Result<berth_runtime::oci_spec::runtime::Spec> {
        let Some(remap) = self.remap_for(host) else {
            return Ok(spec);
        };
        let bad = |e: serde_json::Error| EngineError::Internal(format!("container spec: {e}"));
        let mut v = serde_json::to_value(spec).map_err(bad)?;
        let (data, exec) = (&self.cfg.data_root, &self.cfg.exec_root);
        apply(
            remap,
            &mut v,
            &self.records.container_dir(id),
            &data.join("volumes"),
            &[data.as_path(), exec.as_path()],
        )?;
        let joined_netns = v
            .pointer("/linux/namespaces")
            .and_then(Value::as_array)
            .and_then(|l| l.iter().find(|n| n["type"] == "network"))
            .and_then(|n| n["path"].as_str());
        if let Some(p) = joined_netns {
            allow_ping(Path::new(p))?;
        }
        serde_json::from_value(v).map_err(bad)
    }
}
