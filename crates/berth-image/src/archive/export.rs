//! `export`: a container's merged root as a plain tar stream.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::snapshot::{unmount, SnapshotterKind};
use crate::store::{ImageStore, StoreError};
use crate::tree_tar::{self, Whiteouts};

/// Write the tree under `root` (a mounted container root) as a tar to `w`.
pub fn export_dir(root: &Path, w: impl Write) -> Result<(), StoreError> {
    let mut b = tar::Builder::new(w);
    tree_tar::append_tree(&mut b, root, Whiteouts::Keep)
        .and_then(|()| b.into_inner())
        .and_then(|mut w| w.flush())
        .map_err(|e| StoreError::Archive(format!("exporting {}: {e}", root.display())))
}

struct TempMount<'a>(&'a Path);

impl Drop for TempMount<'_> {
    fn drop(&mut self) {
        let _ = unmount(self.0);
        let _ = fs::remove_dir(self.0);
    }
}

impl ImageStore {
    /// `docker export CONTAINER`: the merged root, mounted privately under `<root>/tmp` for
    /// the duration when the snapshotter is overlay.
    pub fn export_container(&self, container_id: &str, w: impl Write) -> Result<(), StoreError> {
        if container_id.contains('/') || container_id.starts_with('.') {
            return Err(StoreError::NoContainer(container_id.to_owned()));
        }
        let mount = self.container_mount(container_id)?;
        if self.snapshots().kind() == SnapshotterKind::Copy {
            return export_dir(&self.snapshots().upper_dir(container_id)?, w);
        }
        let target = self
            .root()
            .join("tmp")
            .join(format!("export-{container_id}-{}", std::process::id()));
        fs::create_dir_all(&target).map_err(crate::store::io_at(&target))?;
        mount.mount(&target).map_err(crate::store::io_at(&target))?;
        let _guard = TempMount(&target);
        export_dir(&target, w)
    }
}
