//! Unpacking a layer while it is still arriving (registry pulls).
//!
//! Two differences from [`Snapshotter::unpack_layer`]: with the overlay snapshotter the parent
//! layer need not be unpacked yet (each overlay layer is its own directory, the parent is only
//! recorded), so several layers of one image can stream in at once; and the caller gets the
//! blob reader back after the tar is consumed to verify it (e.g. commit the compressed blob
//! with its digest) before the snapshot is recorded — a failed check discards the directory,
//! so a corrupt or truncated download never becomes a layer.

use std::io::Read;

use super::{io_at, SnapshotError, SnapshotRecord, Snapshotter, SnapshotterKind};
use crate::config::now_rfc3339;
use crate::digest::Digest;
use crate::layer::{self, ApplyOptions, WhiteoutMode};

impl Snapshotter {
    /// Unpack `blob` as snapshot `chain_id` (on top of `parent`), check the tar against
    /// `diff_id`, then call `verify` with the reader (drain and check it there); only if that
    /// succeeds is the snapshot recorded. Returns false (reading nothing) if the layer exists.
    /// The copy snapshotter needs `parent` unpacked first; overlay does not.
    pub fn unpack_layer_verified<R, E>(
        &self,
        parent: Option<&Digest>,
        chain_id: &Digest,
        diff_id: &Digest,
        mut blob: R,
        media_type: Option<&str>,
        verify: impl FnOnce(R) -> Result<(), E>,
    ) -> Result<bool, E>
    where
        R: Read + Send,
        E: From<SnapshotError>,
    {
        if self.has_layer(chain_id) {
            return Ok(false);
        }
        let parent_dir = match (self.kind, parent) {
            (SnapshotterKind::Copy, Some(p)) => Some(
                self.layer_dir(p)
                    .ok_or_else(|| SnapshotError::NotFound(p.to_string()))?,
            ),
            _ => None,
        };
        let (id, link) = self.allocate()?;
        let fsdir = self.dir(id).join("fs");
        let unpacked = (|| {
            let whiteouts = match self.kind {
                SnapshotterKind::Overlay => WhiteoutMode::Overlay,
                SnapshotterKind::Copy => {
                    if let Some(p) = &parent_dir {
                        super::copy_tree(p, &fsdir).map_err(io_at(&fsdir))?;
                    }
                    WhiteoutMode::Apply
                }
            };
            let opts = ApplyOptions {
                whiteouts,
                ..ApplyOptions::default()
            };
            let applied = layer::apply(&mut blob, media_type, &fsdir, &opts)?;
            if &applied.diff_id != diff_id {
                return Err(SnapshotError::DiffIdMismatch {
                    expected: diff_id.clone(),
                    actual: applied.diff_id,
                });
            }
            Ok(())
        })();
        let checked = match unpacked {
            Ok(()) => verify(blob),
            Err(e) => Err(E::from(e)),
        };
        if let Err(e) = checked {
            self.discard(id, &link);
            return Err(e);
        }
        let rec = SnapshotRecord {
            id,
            parent: parent.cloned(),
            link: link.clone(),
            size: super::dir_size(&fsdir),
            created: now_rfc3339(),
        };
        let mut doc = self.lock();
        if doc.layers.contains_key(chain_id) {
            drop(doc);
            self.discard(id, &link); // another pull unpacked it meanwhile
            return Ok(false);
        }
        doc.layers.insert(chain_id.clone(), rec);
        if let Err(e) = self.save(&doc) {
            doc.layers.remove(chain_id);
            drop(doc);
            self.discard(id, &link);
            return Err(e.into());
        }
        self.done(id);
        Ok(true)
    }
}
