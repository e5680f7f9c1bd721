//! `push`: every blob of the image (layers, then config) unless the registry has it —
//! `HEAD` to skip, a cross-repository mount from a repository on the same registry the image
//! came from, else a monolithic upload (`POST` + `PUT ?digest=`) streamed from the content
//! store — then the manifest `PUT` by tag with the exact stored bytes, so an image pulled from
//! elsewhere keeps its manifest digest.

use std::io::{self, Read};

use berth_image::manifest::{self, Descriptor, Manifest, Parsed};
use berth_image::store::ImageRecord;
use berth_image::{Digest, ImageStore, Reference};
use ureq::http::Method;
use ureq::SendBody;

use crate::auth::repository_scope;
use crate::client::{status_error, Client};
use crate::endpoint::{endpoints, Endpoint};
use crate::error::RegistryError;
use crate::progress::{short_id, Progress, Sink, Throttle};

/// What a push did.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The manifest digest the registry now serves the tag with.
    pub digest: Digest,
    /// The manifest's size in bytes.
    pub size: u64,
}

/// Push the local image named `reference` (tag defaults to `latest`) to its registry.
pub fn push(
    client: &Client,
    store: &ImageStore,
    reference: &Reference,
    sink: Sink<'_>,
) -> Result<Pushed, RegistryError> {
    let tag = reference
        .tag()
        .unwrap_or(berth_image::reference::DEFAULT_TAG)
        .to_owned();
    let (rec, bytes, m) = local_manifest(store, reference, &tag)?;
    let ep = endpoints(reference.domain(), client.options())
        .into_iter()
        .rfind(|e| !e.mirror)
        .ok_or_else(|| RegistryError::Protocol("no endpoint".into()))?;
    let repo = reference.path();
    sink(Progress::line(format!(
        "The push refers to repository [{}]",
        reference_name(reference)
    )));
    let sources = mount_sources(&rec, reference);
    // One token for the whole push: this repository, plus pull access to the mount sources.
    let mut scope = repository_scope(repo, true);
    for s in &sources {
        scope.push(' ');
        scope.push_str(&repository_scope(s, false));
    }
    for l in m.layers.iter().rev() {
        sink(Progress::item(short_id(&l.digest), "Preparing"));
    }
    let target = Target {
        client,
        store,
        ep: &ep,
        repo,
        scope: &scope,
        sources: &sources,
        sink,
    };
    for l in m.layers.iter().rev() {
        push_blob(&target, l, true)?;
    }
    push_blob(&target, &m.config, false)?;
    let digest = put_manifest(&target, reference, &tag, &rec, &bytes)?;
    // Remember where the image now lives, as docker's RepoDigests do.
    let repo_digest = reference.with_digest(digest.clone());
    store.create_image(
        &rec.manifest_digest,
        Some(&rec.manifest_media_type),
        &[],
        std::slice::from_ref(&repo_digest),
    )?;
    let size = bytes.len() as u64;
    sink(Progress::line(format!(
        "{tag}: digest: {digest} size: {size}"
    )));
    Ok(Pushed { digest, size })
}

/// The local image `reference:tag`, its stored manifest bytes (pushed exactly as stored, so
/// the digest does not change) and the parsed manifest.
fn local_manifest(
    store: &ImageStore,
    reference: &Reference,
    tag: &str,
) -> Result<(ImageRecord, Vec<u8>, Manifest), RegistryError> {
    let tagged = reference
        .with_tag(tag)
        .map_err(|e| RegistryError::Reference(e.to_string()))?;
    let info = store.resolve(&tagged.to_string()).map_err(|_| {
        RegistryError::Reference(format!(
            "An image does not exist locally with the tag: {}",
            reference_name(reference)
        ))
    })?;
    let rec = info.record;
    let bytes = store.content().read(&rec.manifest_digest)?;
    match manifest::parse(&bytes, Some(&rec.manifest_media_type))
        .map_err(|e| RegistryError::Protocol(e.to_string()))?
    {
        Parsed::Manifest(m) => Ok((rec, bytes, m)),
        Parsed::Index(_) => Err(RegistryError::Protocol(
            "pushing an index is not supported".into(),
        )),
    }
}

/// Other repositories on the same registry the image is known to be in: blobs can be
/// mounted from them instead of uploaded.
fn mount_sources(rec: &ImageRecord, reference: &Reference) -> Vec<String> {
    rec.repo_digests
        .iter()
        .filter_map(|r| Reference::parse(r).ok())
        .filter(|r| r.domain() == reference.domain() && r.path() != reference.path())
        .map(|r| r.path().to_owned())
        .collect()
}

/// `PUT` the manifest by tag and return its digest, refusing a registry that says it stored
/// different bytes than were sent.
fn put_manifest(
    t: &Target<'_>,
    reference: &Reference,
    tag: &str,
    rec: &ImageRecord,
    bytes: &[u8],
) -> Result<Digest, RegistryError> {
    let url = t.ep.url(t.repo, &format!("manifests/{tag}"));
    let resp = t.client.call(
        t.ep,
        Some(t.scope),
        Method::PUT,
        &url,
        &[("Content-Type", rec.manifest_media_type.as_str())],
        || Ok(bytes),
    )?;
    if !resp.status().is_success() {
        return Err(status_error(t.ep, resp, &reference_name(reference)));
    }
    let digest = Digest::sha256_of(bytes);
    if let Some(sent) = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<Digest>().ok())
    {
        if sent != digest {
            return Err(RegistryError::Protocol(format!(
                "registry stored the manifest as {sent}, expected {digest}"
            )));
        }
    }
    Ok(digest)
}

fn reference_name(r: &Reference) -> String {
    if r.domain() == berth_image::reference::DEFAULT_DOMAIN {
        format!("docker.io/{}", r.path())
    } else {
        r.name()
    }
}

/// Where blobs go, shared by every [`push_blob`] of one push.
struct Target<'a> {
    client: &'a Client,
    store: &'a ImageStore,
    ep: &'a Endpoint,
    repo: &'a str,
    scope: &'a str,
    sources: &'a [String],
    sink: Sink<'a>,
}

fn push_blob(t: &Target<'_>, desc: &Descriptor, is_layer: bool) -> Result<(), RegistryError> {
    let (client, store, ep, repo, sources, sink) =
        (t.client, t.store, t.ep, t.repo, t.sources, t.sink);
    let id = short_id(&desc.digest);
    let report = |status: String| {
        if is_layer {
            sink(Progress::item(&id, status));
        }
    };
    let scope = t.scope;
    let head_url = ep.url(repo, &format!("blobs/{}", desc.digest));
    let resp = client.call(ep, Some(scope), Method::HEAD, &head_url, &[], || Ok(()))?;
    match resp.status().as_u16() {
        200 => {
            report("Layer already exists".into());
            return Ok(());
        }
        404 => {}
        _ => return Err(status_error(ep, resp, &desc.digest.to_string())),
    }
    let mut location = None;
    for from in sources {
        let url = format!(
            "{}?mount={}&from={}",
            ep.url(repo, "blobs/uploads/"),
            desc.digest,
            from
        );
        let resp = client.call(ep, Some(scope), Method::POST, &url, &[], || Ok(()))?;
        match resp.status().as_u16() {
            201 => {
                report(format!("Mounted from {from}"));
                return Ok(());
            }
            202 => {
                location = upload_location(ep, &resp);
                break;
            }
            _ => {}
        }
    }
    let location = match location {
        Some(l) => l,
        None => {
            let url = ep.url(repo, "blobs/uploads/");
            let resp = client.call(ep, Some(scope), Method::POST, &url, &[], || Ok(()))?;
            if resp.status().as_u16() != 202 {
                return Err(status_error(ep, resp, &desc.digest.to_string()));
            }
            upload_location(ep, &resp).ok_or_else(|| {
                RegistryError::Protocol("upload started without a Location".into())
            })?
        }
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    let url = format!("{location}{sep}digest={}", desc.digest);
    let file = store.content().open(&desc.digest)?;
    let mut reader = Counting {
        inner: file,
        done: 0,
        total: desc.size,
        throttle: Throttle::new(),
        report: &|done, total| {
            if is_layer {
                sink(Progress::bytes(&id, "Pushing", done, total));
            }
        },
    };
    let len = desc.size.to_string();
    let resp = client.send(
        ep,
        Some(scope),
        Method::PUT,
        &url,
        &[
            ("Content-Type", "application/octet-stream"),
            ("Content-Length", len.as_str()),
        ],
        SendBody::from_reader(&mut reader),
        false,
    )?;
    if resp.status().as_u16() != 201 {
        return Err(status_error(ep, resp, &desc.digest.to_string()));
    }
    report("Pushed".into());
    Ok(())
}

fn upload_location(ep: &Endpoint, resp: &ureq::http::Response<ureq::Body>) -> Option<String> {
    let loc = resp.headers().get("location")?.to_str().ok()?;
    Some(
        if loc.starts_with("http://") || loc.starts_with("https://") {
            loc.to_owned()
        } else {
            format!("{}{loc}", ep.base())
        },
    )
}

/// A blob being uploaded, counted for progress.
struct Counting<'a, R> {
    inner: R,
    done: u64,
    total: u64,
    throttle: Throttle,
    report: &'a (dyn Fn(u64, u64) + Sync),
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if n > 0 && self.throttle.due(self.done, self.total) {
            (self.report)(self.done, self.total);
        }
        Ok(n)
    }
}
