//! `pull`: manifest (platform picked from an index), config, then every missing layer as one
//! streaming pass — download → sha256 of the blob + copy into the content store → decompress
//! → diff id → untar into the layer's snapshot — with a bounded number of layers in flight.
//! A layer becomes visible only after both its blob digest and its diff id check out, and
//! the image is recorded only after every layer did, so a failed pull leaves no partial image.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use berth_image::config::ImageConfig;
use berth_image::content::ContentWriter;
use berth_image::manifest::{Descriptor, Manifest, Parsed};
use berth_image::platform::Platform;
use berth_image::snapshot::{chain_ids, SnapshotterKind};
use berth_image::{Digest, ImageStore, Reference};

use crate::blob::{BlobStream, FailureSlot};
use crate::client::Client;
use crate::endpoint::{endpoints, Endpoint};
use crate::error::RegistryError;
use crate::manifest::{select_platform, FetchedManifest};
use crate::progress::{short_id, Progress, Sink, Throttle};

/// Knobs for [`pull`].
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The platform to pick from an index (default: the store's, i.e. the host's).
    pub platform: Option<Platform>,
    /// Layers downloaded at once (docker's `max-concurrent-downloads`, default 3).
    pub concurrency: usize,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: None,
            concurrency: 3,
        }
    }
}

/// What a pull produced.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The image id (config digest).
    pub id: Digest,
    /// The digest the reference resolved to (an index's, when the tag names one).
    pub digest: Digest,
    /// Whether the local tag now points at something it did not before.
    pub newer: bool,
}

/// One layer still to fetch.
struct Job<'a> {
    index: usize,
    desc: &'a Descriptor,
    diff_id: &'a Digest,
    chain_id: &'a Digest,
    parent: Option<&'a Digest>,
}

/// Pull `reference` into `store`, reporting progress to `sink`.
pub fn pull(
    client: &Client,
    store: &ImageStore,
    reference: &Reference,
    opts: &PullOptions,
    sink: Sink<'_>,
) -> Result<Pulled, RegistryError> {
    // Layers unpacked before the image is recorded belong to no image yet: gc must wait.
    let _hold = store.hold_gc();
    let repo = reference.path();
    let wanted = match (reference.digest(), reference.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_owned(),
        (None, None) => berth_image::reference::DEFAULT_TAG.to_owned(),
    };
    let what = reference.familiar();
    let (ep, top) = resolve(client, reference.domain(), repo, &wanted, &what)?;
    sink(Progress::item(
        reference.tag().unwrap_or(&wanted),
        format!("Pulling from {}", familiar_repo(reference)),
    ));
    let platform = opts
        .platform
        .clone()
        .unwrap_or_else(|| store.platform().clone());
    let (manifest_doc, manifest) = platform_manifest(client, &ep, repo, &top, &platform, &what)?;
    let config = fetch_config(client, store, &ep, repo, &manifest)?;
    let diff_ids = &config.rootfs.diff_ids;
    let chain = chain_ids(diff_ids);
    let jobs = layer_jobs(store, &manifest, diff_ids, &chain, sink);
    let concurrency = match store.snapshots().kind() {
        SnapshotterKind::Copy => 1, // each copy snapshot starts from its parent's tree
        SnapshotterKind::Overlay => opts.concurrency.max(1),
    };
    for j in jobs.iter().skip(concurrency) {
        sink(Progress::item(short_id(&j.desc.digest), "Waiting"));
    }
    run_jobs(client, store, &ep, repo, &jobs, concurrency, sink)?;
    store.content().put(&manifest_doc.bytes)?;
    record_image(store, reference, &wanted, top, &platform, sink)
}

/// The image manifest for `platform`: `top` itself, or the entry an index picks for it.
fn platform_manifest(
    client: &Client,
    ep: &Endpoint,
    repo: &str,
    top: &FetchedManifest,
    platform: &Platform,
    what: &str,
) -> Result<(FetchedManifest, Manifest), RegistryError> {
    let idx = match top.parse()? {
        Parsed::Manifest(m) => return Ok((top.clone(), m)),
        Parsed::Index(idx) => idx,
    };
    let d = select_platform(&idx, platform)?;
    let doc = client.fetch_manifest(ep, repo, &d.digest.to_string(), what)?;
    match doc.parse()? {
        Parsed::Manifest(m) => Ok((doc, m)),
        Parsed::Index(_) => Err(RegistryError::Protocol(format!(
            "index {} points at another index",
            top.digest
        ))),
    }
}

/// The image config (fetched unless the content store has it), checked to list one diff id
/// per manifest layer: the chain ids that name the snapshots are computed from them.
fn fetch_config(
    client: &Client,
    store: &ImageStore,
    ep: &Endpoint,
    repo: &str,
    manifest: &Manifest,
) -> Result<ImageConfig, RegistryError> {
    let content = store.content();
    if !content.exists(&manifest.config.digest) {
        let bytes = client.fetch_small_blob(ep, repo, &manifest.config)?;
        content.put(&bytes)?;
    }
    let config = ImageConfig::from_slice(&content.read(&manifest.config.digest)?)
        .map_err(|e| RegistryError::Protocol(format!("image config: {e}")))?;
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(RegistryError::Protocol(format!(
            "manifest has {} layers but the config lists {} diff ids",
            manifest.layers.len(),
            diff_ids.len()
        )));
    }
    Ok(config)
}

/// The layers whose snapshot is missing, in order; the others are reported as present.
fn layer_jobs<'a>(
    store: &ImageStore,
    manifest: &'a Manifest,
    diff_ids: &'a [Digest],
    chain: &'a [Digest],
    sink: Sink<'_>,
) -> Vec<Job<'a>> {
    let mut jobs = Vec::new();
    for (i, desc) in manifest.layers.iter().enumerate() {
        let id = short_id(&desc.digest);
        if store.snapshots().has_layer(&chain[i]) {
            sink(Progress::item(id, "Already exists"));
            continue;
        }
        sink(Progress::item(id, "Pulling fs layer"));
        jobs.push(Job {
            index: i,
            desc,
            diff_id: &diff_ids[i],
            chain_id: &chain[i],
            parent: i.checked_sub(1).map(|p| &chain[p]),
        });
    }
    jobs
}

/// Records the pulled image under its tag (none for a pull by digest) and repo digest, and
/// reports docker's closing lines: whether the tag moved.
fn record_image(
    store: &ImageStore,
    reference: &Reference,
    wanted: &str,
    top: FetchedManifest,
    platform: &Platform,
    sink: Sink<'_>,
) -> Result<Pulled, RegistryError> {
    let what = reference.familiar();
    store.content().put(&top.bytes)?;
    let tags: Vec<Reference> = match reference.digest() {
        Some(_) => Vec::new(),
        None => vec![reference
            .with_tag(wanted)
            .map_err(|e| RegistryError::Reference(e.to_string()))?],
    };
    let before = tags
        .first()
        .and_then(|t| store.resolve(&t.to_string()).ok())
        .map(|i| i.record.id);
    let repo_digest = reference.with_digest(top.digest.clone());
    let info = store.create_image_for(
        &top.digest,
        Some(&top.media_type),
        &tags,
        std::slice::from_ref(&repo_digest),
        platform,
    )?;
    sink(Progress::line(format!("Digest: {}", top.digest)));
    let newer = before.as_ref() != Some(&info.record.id);
    sink(Progress::line(if newer {
        format!("Status: Downloaded newer image for {what}")
    } else {
        format!("Status: Image is up to date for {what}")
    }));
    Ok(Pulled {
        id: info.record.id,
        digest: top.digest,
        newer,
    })
}

/// Fetch the top manifest, trying mirrors first for Docker Hub.
fn resolve(
    client: &Client,
    domain: &str,
    repo: &str,
    wanted: &str,
    what: &str,
) -> Result<(Endpoint, FetchedManifest), RegistryError> {
    let mut last = None;
    for ep in endpoints(domain, client.options()) {
        match client.fetch_manifest(&ep, repo, wanted, what) {
            Ok(m) => return Ok((ep, m)),
            Err(e) if ep.mirror => {
                tracing::info!(mirror = %ep.host, error = %e, "mirror failed, trying the next endpoint");
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| RegistryError::Protocol(format!("no endpoint for {domain}"))))
}

/// What docker shows in "Pulling from …": the repository path, without the registry.
fn familiar_repo(r: &Reference) -> String {
    r.path().to_owned()
}

/// Run the layer jobs on `concurrency` threads; the first failure cancels the rest.
fn run_jobs(
    client: &Client,
    store: &ImageStore,
    ep: &Endpoint,
    repo: &str,
    jobs: &[Job<'_>],
    concurrency: usize,
    sink: Sink<'_>,
) -> Result<(), RegistryError> {
    let next = AtomicUsize::new(0);
    let cancel = AtomicBool::new(false);
    let first_error: Mutex<Option<(usize, RegistryError)>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..concurrency.min(jobs.len()) {
            s.spawn(|| loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                let Some(job) = jobs.get(n) else { break };
                if cancel.load(Ordering::SeqCst) {
                    break;
                }
                if let Err(e) = pull_layer(client, store, ep, repo, job, &cancel, sink) {
                    cancel.store(true, Ordering::SeqCst);
                    let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
                    // Keep the root cause, not a "cancelled" from a sibling.
                    let replace = match &*slot {
                        None => true,
                        Some((_, RegistryError::Cancelled)) => true,
                        Some(_) => false,
                    };
                    if replace {
                        *slot = Some((job.index, e));
                    }
                    break;
                }
            });
        }
    });
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// The blob as it streams past: copied into the content store's ingest file (which hashes it)
/// and counted for progress.
struct Tee<'s, R> {
    inner: R,
    writer: ContentWriter,
    done: u64,
    total: u64,
    id: String,
    throttle: Throttle,
    sink: Sink<'s>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.writer.write_all(&buf[..n])?;
        // Every 8 MiB, let the kernel start writing the blob out (commit's fsync then waits
        // only for the tail).
        if (self.done + n as u64) >> 23 != self.done >> 23 {
            self.writer.start_writeback();
        }
        self.done += n as u64;
        if n > 0 && self.throttle.due(self.done, self.total) {
            (self.sink)(Progress::bytes(
                &self.id,
                "Downloading",
                self.done,
                self.total,
            ));
        }
        Ok(n)
    }
}

fn pull_layer(
    client: &Client,
    store: &ImageStore,
    ep: &Endpoint,
    repo: &str,
    job: &Job<'_>,
    cancel: &AtomicBool,
    sink: Sink<'_>,
) -> Result<(), RegistryError> {
    let id = short_id(&job.desc.digest);
    let content = store.content();
    let snaps = store.snapshots();
    let media_type = Some(job.desc.media_type.as_str());
    if content.exists(&job.desc.digest) {
        // The blob is here already (an earlier pull or load): unpack it locally.
        sink(Progress::item(&id, "Extracting"));
        let f = content.open(&job.desc.digest)?;
        snaps.unpack_layer_verified(
            job.parent,
            job.chain_id,
            job.diff_id,
            f,
            media_type,
            |_| Ok::<(), RegistryError>(()),
        )?;
        sink(Progress::item(&id, "Pull complete"));
        return Ok(());
    }
    let failure: FailureSlot = Arc::new(Mutex::new(None));
    let stream = BlobStream::new(
        client,
        ep,
        repo,
        &job.desc.digest,
        job.desc.size,
        cancel,
        failure.clone(),
    );
    let writer = content.writer(Some(job.desc.digest.clone()), Some(job.desc.size))?;
    let tee = Tee {
        inner: stream,
        writer,
        done: 0,
        total: job.desc.size,
        id: id.clone(),
        throttle: Throttle::new(),
        sink,
    };
    let result = snaps.unpack_layer_verified(
        job.parent,
        job.chain_id,
        job.diff_id,
        tee,
        media_type,
        |mut tee| {
            // Read what the decoder left (gzip trailer, padding) so the digest covers it.
            io::copy(&mut tee, &mut io::sink())?;
            sink(Progress::item(&id, "Verifying Checksum"));
            tee.writer.commit()?;
            sink(Progress::item(&id, "Download complete"));
            Ok::<(), RegistryError>(())
        },
    );
    match result {
        Ok(_) => {
            sink(Progress::item(&id, "Pull complete"));
            Ok(())
        }
        Err(e) => Err(failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or(e)),
    }
}
