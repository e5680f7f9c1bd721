//! A blob download as a plain [`Read`]: the body of `GET /v2/<repo>/blobs/<digest>`
//! (redirects to blob storage followed), which on a dropped connection or short body
//! reconnects with `Range: bytes=N-` and carries on where it stopped, so the unpack pipeline
//! reading it never notices. It never yields more than the announced size.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_image::Digest;
use ureq::http::Method;
use ureq::BodyReader;

use crate::client::{status_error, Client};
use crate::endpoint::Endpoint;
use crate::error::RegistryError;

/// How many times one blob download reconnects after losing its connection.
const MAX_RESUMES: u32 = 3;

/// Where a [`BlobStream`] leaves the registry-level reason for an i/o error it returned.
pub(crate) type FailureSlot = Arc<Mutex<Option<RegistryError>>>;

/// A resuming blob download.
pub(crate) struct BlobStream<'a> {
    client: &'a Client,
    ep: &'a Endpoint,
    repo: &'a str,
    digest: &'a Digest,
    size: u64,
    offset: u64,
    resumes: u32,
    reader: Option<BodyReader<'static>>,
    cancel: &'a AtomicBool,
    failure: FailureSlot,
}

impl<'a> BlobStream<'a> {
    pub(crate) fn new(
        client: &'a Client,
        ep: &'a Endpoint,
        repo: &'a str,
        digest: &'a Digest,
        size: u64,
        cancel: &'a AtomicBool,
        failure: FailureSlot,
    ) -> Self {
        BlobStream {
            client,
            ep,
            repo,
            digest,
            size,
            offset: 0,
            resumes: 0,
            reader: None,
            cancel,
            failure,
        }
    }

    fn fail(&self, e: RegistryError) -> io::Error {
        let err = io::Error::other(e.to_string());
        let mut slot = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(e);
        }
        err
    }

    /// Start (or restart at `offset`) the download.
    fn open(&mut self) -> Result<BodyReader<'static>, RegistryError> {
        let url = self.ep.url(self.repo, &format!("blobs/{}", self.digest));
        let scope = crate::auth::repository_scope(self.repo, false);
        let range = format!("bytes={}-", self.offset);
        let headers: Vec<(&str, &str)> = if self.offset > 0 {
            vec![("Range", range.as_str())]
        } else {
            Vec::new()
        };
        let resp =
            self.client.call(
                self.ep,
                Some(&scope),
                Method::GET,
                &url,
                &headers,
                || Ok(()),
            )?;
        let status = resp.status().as_u16();
        if !(status == 200 || status == 206) {
            return Err(status_error(self.ep, resp, &self.digest.to_string()));
        }
        let partial = status == 206;
        let mut reader = resp.into_body().into_with_config().limit(u64::MAX).reader();
        if self.offset > 0 && !partial {
            // The server ignored the Range: skip what we already have.
            io::copy(&mut (&mut reader).take(self.offset), &mut io::sink())?;
        }
        Ok(reader)
    }

    /// Decide whether a broken transfer may be resumed; Ok means "try again".
    fn resume_or_fail(&mut self, why: String) -> io::Result<()> {
        self.reader = None;
        if self.resumes >= MAX_RESUMES {
            return Err(self.fail(RegistryError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "download of {} failed after {} of {} bytes: {why}",
                    self.digest, self.offset, self.size
                ),
            ))));
        }
        self.resumes += 1;
        tracing::debug!(digest = %self.digest, offset = self.offset, %why, "resuming blob download");
        std::thread::sleep(Duration::from_millis(200 * u64::from(self.resumes)));
        Ok(())
    }
}

impl Read for BlobStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(self.fail(RegistryError::Cancelled));
            }
            if self.offset >= self.size || buf.is_empty() {
                return Ok(0);
            }
            let reader = match self.reader.as_mut() {
                Some(r) => r,
                None => match self.open() {
                    Ok(r) => self.reader.insert(r),
                    Err(RegistryError::Unreachable { message, .. }) if self.offset > 0 => {
                        self.resume_or_fail(message)?;
                        continue;
                    }
                    Err(e) => return Err(self.fail(e)),
                },
            };
            let want = buf
                .len()
                .min(usize::try_from(self.size - self.offset).unwrap_or(usize::MAX));
            match reader.read(&mut buf[..want]) {
                Ok(0) => self.resume_or_fail("connection closed early".into())?,
                Ok(n) => {
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.resume_or_fail(e.to_string())?,
            }
        }
    }
}
