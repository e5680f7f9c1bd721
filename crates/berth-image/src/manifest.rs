//! OCI image manifests/indexes and Docker schema 2 manifests/manifest lists.
//!
//! One set of structs reads both families (they share the JSON shape). Parsed values are for
//! reading only: the raw bytes are what gets stored and served, since the digest of those bytes
//! is the manifest's identity. Unknown fields are kept (`extra`) for the manifests Berth creates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::platform::Platform;

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config media type.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI uncompressed layer.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI gzip layer.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI zstd layer.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// Docker schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker gzip layer.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker uncompressed layer (used by `docker save`).
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Docker foreign (non-distributable) gzip layer.
pub const DOCKER_LAYER_FOREIGN: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// Errors from parsing manifests.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The JSON does not match the expected shape.
    #[error("invalid manifest json: {0}")]
    Json(#[from] serde_json::Error),
    /// The document is neither a manifest nor an index.
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
    /// Schema version other than 2.
    #[error("unsupported manifest schema version {0}")]
    SchemaVersion(u32),
    /// No entry of an index matches the wanted platform.
    #[error("no manifest for platform {0} in index")]
    NoMatchingPlatform(String),
}

/// A content descriptor: what a manifest or index points at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the target.
    pub media_type: String,
    /// Digest of the target's bytes.
    pub digest: Digest,
    /// Size of the target in bytes.
    pub size: u64,
    /// Alternate download locations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Free-form annotations (e.g. `org.opencontainers.image.ref.name`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Platform of the target (index entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Artifact type (OCI 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// A plain descriptor.
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Self {
        Descriptor {
            media_type: media_type.to_owned(),
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            platform: None,
            artifact_type: None,
        }
    }
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// Media type (mandatory for Docker, optional for OCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The image config.
    pub config: Descriptor,
    /// Layers, base first.
    pub layers: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Fields this struct does not model (artifactType, subject, ...).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// An image index or Docker manifest list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// Media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// One entry per platform-specific manifest (or nested index).
    pub manifests: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Fields this struct does not model.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A parsed manifest-like document.
// Short-lived parse results; boxing would only add noise at every match site.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A single-platform image manifest.
    Manifest(Manifest),
    /// A multi-platform index / manifest list.
    Index(Index),
}

/// Whether a media type names an index or manifest list.
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}

/// Whether a media type names a single image manifest.
pub fn is_manifest(media_type: &str) -> bool {
    media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST
}

/// Work out a document's media type: its `mediaType` field, else the transport's hint
/// (e.g. the HTTP Content-Type), else its shape (`manifests` → index, `config` → manifest).
pub fn detect_media_type(bytes: &[u8], hint: Option<&str>) -> Result<String, ManifestError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        config: Option<serde_json::Value>,
    }
    let p: Probe = serde_json::from_slice(bytes)?;
    if let Some(mt) = p.media_type.filter(|m| !m.is_empty()) {
        return Ok(mt);
    }
    if let Some(h) = hint.filter(|h| is_index(h) || is_manifest(h)) {
        return Ok(h.to_owned());
    }
    match (p.manifests.is_some(), p.config.is_some()) {
        (true, false) => Ok(OCI_INDEX.to_owned()),
        (false, true) => Ok(OCI_MANIFEST.to_owned()),
        _ => Err(ManifestError::UnsupportedMediaType("unknown".to_owned())),
    }
}

/// Parse a manifest or index from its raw bytes.
pub fn parse(bytes: &[u8], hint: Option<&str>) -> Result<Parsed, ManifestError> {
    let mt = detect_media_type(bytes, hint)?;
    if is_index(&mt) {
        let idx: Index = serde_json::from_slice(bytes)?;
        if idx.schema_version != 2 {
            return Err(ManifestError::SchemaVersion(idx.schema_version));
        }
        Ok(Parsed::Index(idx))
    } else if is_manifest(&mt) {
        let m: Manifest = serde_json::from_slice(bytes)?;
        if m.schema_version != 2 {
            return Err(ManifestError::SchemaVersion(m.schema_version));
        }
        Ok(Parsed::Manifest(m))
    } else {
        Err(ManifestError::UnsupportedMediaType(mt))
    }
}

impl Index {
    /// Pick the best manifest for `want` (see [`Platform::match_rank`]); entries without a
    /// platform are skipped, attestation manifests (`unknown/unknown`) never match.
    pub fn select(&self, want: &Platform) -> Result<&Descriptor, ManifestError> {
        self.manifests
            .iter()
            .filter_map(|d| {
                d.platform
                    .as_ref()
                    .and_then(|p| want.match_rank(p))
                    .map(|r| (r, d))
            })
            .min_by_key(|(r, _)| *r)
            .map(|(_, d)| d)
            .ok_or_else(|| ManifestError::NoMatchingPlatform(want.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> String {
        format!("sha256:{}", hex::encode([n; 32]))
    }

    fn docker_list() -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_LIST}","manifests":[
            {{"mediaType":"{DOCKER_MANIFEST}","digest":"{}","size":1,"platform":{{"architecture":"arm","os":"linux","variant":"v6"}}}},
            {{"mediaType":"{DOCKER_MANIFEST}","digest":"{}","size":1,"platform":{{"architecture":"arm","os":"linux","variant":"v7"}}}},
            {{"mediaType":"{DOCKER_MANIFEST}","digest":"{}","size":1,"platform":{{"architecture":"amd64","os":"linux"}}}},
            {{"mediaType":"{DOCKER_MANIFEST}","digest":"{}","size":1,"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}},
            {{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":1,"platform":{{"architecture":"unknown","os":"unknown"}}}}
            ]}}"#,
            d(1),
            d(2),
            d(3),
            d(4),
            d(5)
        )
    }

    #[test]
    fn parses_docker_manifest_and_keeps_unknown_fields() {
        let raw = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"{DOCKER_CONFIG}","digest":"{}","size":7}},
            "layers":[{{"mediaType":"{DOCKER_LAYER_GZIP}","digest":"{}","size":9}}],"subject":{{"x":1}}}}"#,
            d(1),
            d(2)
        );
        let Parsed::Manifest(m) = parse(raw.as_bytes(), None).unwrap() else {
            panic!("not a manifest")
        };
        assert_eq!(m.config.size, 7);
        assert_eq!(m.layers[0].media_type, DOCKER_LAYER_GZIP);
        assert!(m.extra.contains_key("subject"));
    }

    #[test]
    fn detects_by_shape_and_hint() {
        let raw = r#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(detect_media_type(raw.as_bytes(), None).unwrap(), OCI_INDEX);
        assert_eq!(
            detect_media_type(raw.as_bytes(), Some(DOCKER_MANIFEST_LIST)).unwrap(),
            DOCKER_MANIFEST_LIST
        );
        let raw = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"x","digest":"{}","size":1}},"layers":[]}}"#,
            d(1)
        );
        assert!(matches!(
            parse(raw.as_bytes(), None).unwrap(),
            Parsed::Manifest(_)
        ));
        assert!(matches!(
            parse(br#"{"schemaVersion":1,"manifests":[]}"#, None),
            Err(ManifestError::SchemaVersion(1))
        ));
        assert!(matches!(
            parse(br#"{"mediaType":"text/plain"}"#, None),
            Err(ManifestError::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn selects_platforms() {
        let Parsed::Index(idx) = parse(docker_list().as_bytes(), None).unwrap() else {
            panic!("not an index")
        };
        let pick = |s: &str| {
            idx.select(&s.parse().unwrap())
                .map(|d| d.digest.to_string())
        };
        assert_eq!(pick("linux/amd64").unwrap(), d(3));
        assert_eq!(pick("linux/arm64").unwrap(), d(4));
        assert_eq!(pick("linux/arm64/v8").unwrap(), d(4));
        assert_eq!(pick("linux/arm/v7").unwrap(), d(2));
        assert_eq!(pick("linux/arm").unwrap(), d(2), "arm defaults to v7");
        assert_eq!(pick("linux/arm/v6").unwrap(), d(1));
        assert!(pick("linux/arm/v5").is_err());
        assert!(pick("linux/s390x").is_err());
        assert!(pick("windows/amd64").is_err());
    }
}
