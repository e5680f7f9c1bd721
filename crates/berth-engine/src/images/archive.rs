//! `save` and `load`: image archives in and out of the store.

use std::io::{Read, Write};

use berth_image::StoreError;

use super::{familiar, not_found};
use crate::error::{EngineError, Result};
use crate::Images;

/// A load failure caused by the archive's content (bad format, digest mismatch, hostile
/// layer) is the caller's fault (400); only local I/O trouble is ours (500).
fn load_error(e: StoreError) -> EngineError {
    match e {
        StoreError::Io { .. } => e.into(),
        e => EngineError::InvalidParameter(format!("invalid archive: {e}")),
    }
}

impl Images {
    /// Check that every name resolves before a save starts streaming (so a typo is a 404,
    /// not a truncated archive).
    pub fn check(&self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Err(EngineError::InvalidParameter(
                "no image names given".to_owned(),
            ));
        }
        for n in names {
            self.store.resolve(n).map_err(not_found(n))?;
        }
        Ok(())
    }

    /// `docker save NAME...`: one tar that is both a docker-save archive and an OCI layout.
    pub fn save(&self, names: &[String], w: impl Write) -> Result<()> {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        self.store.save(&refs, w).map_err(|e| match e {
            StoreError::NotFound(n) => EngineError::NoSuchImage(n),
            e => e.into(),
        })?;
        for n in names {
            self.events.emit("image", "save", n, &[("name", n)]);
        }
        Ok(())
    }

    /// `docker load`: every image of a docker-save or OCI archive. Returns docker's lines:
    /// `Loaded image: NAME` per tag, `Loaded image ID: ID` for untagged images.
    pub fn load(&self, r: impl Read) -> Result<Vec<String>> {
        let loaded = self.store.load(r).map_err(load_error)?;
        let mut lines = Vec::new();
        for l in loaded {
            let id = l.image.record.id.to_string();
            if l.image.repo_tags.is_empty() {
                lines.push(format!("Loaded image ID: {id}"));
            }
            for t in &l.image.repo_tags {
                lines.push(format!("Loaded image: {}", familiar(t)));
            }
            self.events.emit("image", "load", &id, &[]);
        }
        Ok(lines)
    }
}
