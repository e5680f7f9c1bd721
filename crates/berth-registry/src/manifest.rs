//! Fetching manifests (negotiated by `Accept`: OCI index and manifest, Docker list and
//! schema 2) and small blobs (configs), each checked against its digest.

use berth_image::manifest::{self, Descriptor, Parsed};
use berth_image::platform::Platform;
use berth_image::Digest;
use ureq::http::Method;

use crate::client::{status_error, Client, MAX_DOCUMENT};
use crate::endpoint::Endpoint;
use crate::error::RegistryError;

/// The manifest types we accept, most capable first.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// A manifest or index exactly as the registry sent it (the bytes are what the digest covers).
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The raw document.
    pub bytes: Vec<u8>,
    /// Its media type (from `Content-Type`, else detected).
    pub media_type: String,
    /// sha256 of `bytes`.
    pub digest: Digest,
}

impl FetchedManifest {
    /// Parse it.
    pub fn parse(&self) -> Result<Parsed, RegistryError> {
        manifest::parse(&self.bytes, Some(&self.media_type))
            .map_err(|e| RegistryError::Protocol(format!("manifest {}: {e}", self.digest)))
    }
}

/// The repository scope string for pull-only access.
fn pull_scope(repo: &str) -> String {
    crate::auth::repository_scope(repo, false)
}

impl Client {
    /// `GET /v2/<repo>/manifests/<tag|digest>`. `what` is the name shown in errors.
    pub fn fetch_manifest(
        &self,
        ep: &Endpoint,
        repo: &str,
        tag_or_digest: &str,
        what: &str,
    ) -> Result<FetchedManifest, RegistryError> {
        let url = ep.url(repo, &format!("manifests/{tag_or_digest}"));
        let scope = pull_scope(repo);
        let mut resp = self.call(
            ep,
            Some(&scope),
            Method::GET,
            &url,
            &[("Accept", ACCEPT)],
            || Ok(()),
        )?;
        if !resp.status().is_success() {
            return Err(match status_error(ep, resp, what) {
                RegistryError::Unauthorized(_) if self.is_anonymous() => {
                    RegistryError::AccessDenied(repo_familiar(repo))
                }
                e => e,
            });
        }
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_owned());
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_DOCUMENT)
            .read_to_vec()
            .map_err(|e| crate::client::net_error(&ep.host, e))?;
        let digest = Digest::sha256_of(&bytes);
        if let Ok(want) = tag_or_digest.parse::<Digest>() {
            if want != digest {
                return Err(RegistryError::Protocol(format!(
                    "manifest digest mismatch: asked for {want}, got {digest}"
                )));
            }
        }
        let media_type = manifest::detect_media_type(&bytes, content_type.as_deref())
            .map_err(|e| RegistryError::Protocol(format!("manifest for {what}: {e}")))?;
        Ok(FetchedManifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// Fetch a small blob (an image config) into memory and check its digest.
    pub fn fetch_small_blob(
        &self,
        ep: &Endpoint,
        repo: &str,
        desc: &Descriptor,
    ) -> Result<Vec<u8>, RegistryError> {
        let url = ep.url(repo, &format!("blobs/{}", desc.digest));
        let scope = pull_scope(repo);
        let mut resp = self.call(ep, Some(&scope), Method::GET, &url, &[], || Ok(()))?;
        if !resp.status().is_success() {
            return Err(status_error(ep, resp, &desc.digest.to_string()));
        }
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_DOCUMENT)
            .read_to_vec()
            .map_err(|e| crate::client::net_error(&ep.host, e))?;
        let got = Digest::sha256_of(&bytes);
        if got != desc.digest {
            return Err(RegistryError::Content(
                berth_image::content::ContentError::DigestMismatch {
                    expected: desc.digest.clone(),
                    actual: got,
                },
            ));
        }
        Ok(bytes)
    }

    /// `GET /v2/<repo>/tags/list` (for `pull --all-tags`).
    pub fn list_tags(&self, ep: &Endpoint, repo: &str) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let url = ep.url(repo, "tags/list");
        let scope = pull_scope(repo);
        let mut resp = self.call(ep, Some(&scope), Method::GET, &url, &[], || Ok(()))?;
        if !resp.status().is_success() {
            return Err(status_error(ep, resp, repo));
        }
        let raw = resp
            .body_mut()
            .with_config()
            .limit(MAX_DOCUMENT)
            .read_to_vec()
            .map_err(|e| crate::client::net_error(&ep.host, e))?;
        let t: Tags = serde_json::from_slice(&raw)
            .map_err(|e| RegistryError::Protocol(format!("tag list of {repo}: {e}")))?;
        Ok(t.tags.unwrap_or_default())
    }

    fn is_anonymous(&self) -> bool {
        self.auth_config().is_anonymous()
    }
}

/// `library/busybox` → `busybox` for docker's messages.
fn repo_familiar(repo: &str) -> String {
    repo.strip_prefix("library/").unwrap_or(repo).to_owned()
}

/// Pick the manifest for `platform` from an index, or say which platform was missing.
pub fn select_platform<'a>(
    index: &'a manifest::Index,
    platform: &Platform,
) -> Result<&'a Descriptor, RegistryError> {
    index
        .select(platform)
        .map_err(|_| RegistryError::NoPlatform(platform.to_string()))
}
