//! The storage part of docker's `HostConfig` (`Binds`, `Mounts`, `Tmpfs`, `VolumesFrom`) and
//! the resolved [`MountPoint`] kept with each container; parsing lives in `crate::volumes`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::nullable;

/// The storage part of docker's `HostConfig` (flattened into it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct StorageConfig {
    /// `-v`: `NAME:/dst[:mode]`, `/host:/dst[:mode]` or `/dst`.
    #[serde(deserialize_with = "nullable")]
    pub binds: Vec<String>,
    /// `--mount`.
    #[serde(deserialize_with = "nullable")]
    pub mounts: Vec<MountSpec>,
    /// `--tmpfs`: container path → options.
    #[serde(deserialize_with = "nullable")]
    pub tmpfs: BTreeMap<String, String>,
    /// `--volumes-from`: `CONTAINER[:ro|rw]`.
    #[serde(deserialize_with = "nullable")]
    pub volumes_from: Vec<String>,
}

/// Docker's API `Mount` (`HostConfig.Mounts[]`, `--mount`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountSpec {
    /// `volume`, `bind` or `tmpfs`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Volume name or host path (empty: anonymous volume / tmpfs).
    pub source: String,
    /// Path in the container.
    pub target: String,
    /// Mount read-only.
    pub read_only: bool,
    /// Bind options (`Propagation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<BindOptions>,
    /// Volume options (`NoCopy`, `Labels`, `DriverConfig`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<VolumeOptions>,
    /// Tmpfs options (`SizeBytes`, `Mode`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
}

/// `Mount.BindOptions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct BindOptions {
    /// `rprivate`, `shared`, …
    pub propagation: String,
}

/// `Mount.VolumeOptions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeOptions {
    /// Do not fill an empty volume from the image.
    pub no_copy: bool,
    /// Labels for a volume created now.
    pub labels: BTreeMap<String, String>,
    /// Driver and options for a volume created now.
    pub driver_config: Option<DriverConfig>,
}

/// `VolumeOptions.DriverConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DriverConfig {
    /// Driver name (`local`).
    pub name: String,
    /// Driver options.
    pub options: BTreeMap<String, String>,
}

/// `Mount.TmpfsOptions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    /// Size limit in bytes (0: the kernel's default, half of RAM).
    pub size_bytes: i64,
    /// Permission bits of the tmpfs root.
    pub mode: u32,
}

/// One resolved mount of a container, persisted with it; [`MountPoint::docker_view`] is the
/// entry of `inspect`'s `Mounts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountPoint {
    /// `volume`, `bind` or `tmpfs`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Volume name (volumes only).
    pub name: String,
    /// Host path: the bind source (volumes: filled in when shown).
    pub source: String,
    /// Path in the container.
    pub destination: String,
    /// Volume driver (volumes only).
    pub driver: String,
    /// The mode string as given (`ro`, `z`, …).
    pub mode: String,
    /// Writable.
    #[serde(rename = "RW")]
    pub rw: bool,
    /// Bind propagation.
    pub propagation: String,
    /// Fill an empty volume from the image on mount.
    pub copy_data: bool,
    /// An anonymous volume (removed by `rm -v` and `--rm`).
    pub anonymous: bool,
    /// tmpfs mount options (`size=…`, `mode=…`, flags).
    pub tmpfs_options: Vec<String>,
    /// Create a missing bind source (`-v`, not `--mount`).
    pub create_source: bool,
    /// For a volume created with this container: its labels and driver options.
    #[serde(skip)]
    pub create: Option<(BTreeMap<String, String>, BTreeMap<String, String>)>,
}

impl MountPoint {
    /// The volume it uses, if any.
    pub fn volume_name(&self) -> Option<&str> {
        (self.kind == "volume" && !self.name.is_empty()).then_some(self.name.as_str())
    }

    /// Docker's shape in `inspect` (`volume_source`: the volume's `_data`).
    pub fn docker_view(&self, volume_source: Option<&Path>) -> Value {
        let source = match volume_source {
            Some(p) => p.display().to_string(),
            None => self.source.clone(),
        };
        let mut v = json!({
            "Type": self.kind, "Source": source, "Destination": self.destination,
            "Mode": self.mode, "RW": self.rw, "Propagation": self.propagation,
        });
        if self.kind == "volume" {
            v["Name"] = json!(self.name);
            v["Driver"] = json!(self.driver);
        }
        v
    }
}
