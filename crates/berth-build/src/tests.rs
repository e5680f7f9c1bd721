//! Builds against an in-memory backend: cache semantics and parallel stages, without root.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use berth_image::config::{ContainerConfig, ImageConfig};
use berth_image::digest::{Algorithm, Digester};
use berth_image::manifest::Descriptor;
use berth_image::Digest;

use crate::backend::{Backend, ImageState, NewLayer, RootView, RunRequest, TarWriter};
use crate::context::{Context, Entry, EntryKind};
use crate::error::BackendError;
use crate::{build, BuildOptions, Cache, Event};

struct EmptyView(tempfile::TempDir);

impl RootView for EmptyView {
    fn path(&self) -> &std::path::Path {
        self.0.path()
    }
}

#[derive(Default)]
struct Mem {
    blobs: Mutex<HashMap<String, Vec<u8>>>,
    runs: Mutex<Vec<String>>,
    /// RUN steps wait here until `rendezvous` of them are running at once.
    waiting: Mutex<usize>,
    cv: Condvar,
    rendezvous: usize,
}

fn sha(b: &[u8]) -> Digest {
    let mut d = Digester::new(Algorithm::Sha256);
    d.update(b);
    d.finish()
}

impl Backend for Mem {
    fn image(
        &self,
        name: &str,
        _: Option<&str>,
        _: bool,
    ) -> Result<(Digest, ImageState), BackendError> {
        if name != "base" {
            return Err(BackendError::NoSuchImage {
                name: name.into(),
                reason: "not in memory".into(),
            });
        }
        let config = ImageConfig {
            config: Some(ContainerConfig::default()),
            ..Default::default()
        };
        Ok((
            sha(b"base"),
            ImageState {
                config,
                layers: Vec::new(),
            },
        ))
    }
    fn platform(&self) -> (String, String) {
        ("amd64".into(), "linux".into())
    }
    fn run(
        &self,
        parent: &ImageState,
        req: &RunRequest,
        out: &mut dyn FnMut(&[u8]),
    ) -> Result<NewLayer, BackendError> {
        self.runs
            .lock()
            .map_err(|_| BackendError::Other("lock".into()))?
            .push(req.args.join(" "));
        if self.rendezvous > 1 {
            let mut n = self
                .waiting
                .lock()
                .map_err(|_| BackendError::Other("lock".into()))?;
            *n += 1;
            self.cv.notify_all();
            let (n, t) = self
                .cv
                .wait_timeout_while(n, Duration::from_secs(5), |n| *n < self.rendezvous)
                .map_err(|_| BackendError::Other("lock".into()))?;
            if t.timed_out() {
                return Err(BackendError::Other(format!(
                    "only {} RUN steps ran at once",
                    *n
                )));
            }
        }
        out(b"ran\n");
        let diff = sha(format!("{:?}{}", parent.layers, req.args.join(" ")).as_bytes());
        Ok(NewLayer {
            descriptor: Descriptor::new("x", diff.clone(), 1),
            diff_id: diff,
        })
    }
    fn write_layer(&self, write: &mut TarWriter<'_>) -> Result<NewLayer, BackendError> {
        let mut v = Vec::new();
        write(&mut v).map_err(|e| BackendError::Other(e.to_string()))?;
        let d = self.put_blob(&v)?;
        Ok(NewLayer {
            descriptor: Descriptor::new("x", d.clone(), v.len() as u64),
            diff_id: d,
        })
    }
    fn view(&self, _: &ImageState) -> Result<Box<dyn RootView + '_>, BackendError> {
        // Layers are not kept in memory: every state looks like an empty filesystem.
        let dir = tempfile::tempdir().map_err(|e| BackendError::Other(e.to_string()))?;
        Ok(Box::new(EmptyView(dir)))
    }
    fn put_blob(&self, data: &[u8]) -> Result<Digest, BackendError> {
        let d = sha(data);
        self.blobs
            .lock()
            .map_err(|_| BackendError::Other("lock".into()))?
            .insert(d.to_string(), data.to_vec());
        Ok(d)
    }
    fn read_blob(&self, d: &Digest) -> Option<Vec<u8>> {
        self.blobs.lock().ok()?.get(&d.to_string()).cloned()
    }
    fn has_blob(&self, d: &Digest) -> bool {
        // RUN layers are not stored in memory: treat every descriptor of kind "x" as present.
        self.blobs
            .lock()
            .is_ok_and(|b| b.contains_key(&d.to_string()))
            || d.to_string().len() == 71
    }
    fn create_image(
        &self,
        config: &Digest,
        _: &[Descriptor],
        _: &[String],
    ) -> Result<String, BackendError> {
        Ok(config.to_string())
    }
}

fn ctx(files: &[(&str, &str)]) -> Context {
    let mut c = Context::default();
    for (p, t) in files {
        c.entries.insert(
            (*p).into(),
            Entry::new(EntryKind::File(t.as_bytes().to_vec().into()), 0o644),
        );
    }
    c
}

fn run_build(b: &Mem, c: &Context, cache: &mut Cache) -> (String, usize) {
    let mut cached = 0;
    let r = build(b, c, &BuildOptions::default(), cache, &mut |e| {
        if matches!(e, Event::UsingCache) {
            cached += 1;
        }
    });
    match r {
        Ok(r) => (r.id, cached),
        Err(e) => panic!("build failed: {e}"),
    }
}

#[test]
fn rebuild_is_cached_and_an_edit_rebuilds_from_its_copy() {
    let b = Mem::default();
    let df = "FROM base\nRUN one\nCOPY a /a\nRUN two\nCOPY b /b\nRUN three\nENV X=1\n";
    let mut cache = Cache::memory();
    let (id1, c1) = run_build(
        &b,
        &ctx(&[("Dockerfile", df), ("a", "A"), ("b", "B")]),
        &mut cache,
    );
    assert_eq!(c1, 0);
    assert_eq!(b.runs.lock().map(|r| r.len()).unwrap_or(0), 3);
    let (id2, c2) = run_build(
        &b,
        &ctx(&[("Dockerfile", df), ("a", "A"), ("b", "B")]),
        &mut cache,
    );
    assert_eq!((id2.as_str(), c2), (id1.as_str(), 6));
    assert_eq!(
        b.runs.lock().map(|r| r.len()).unwrap_or(0),
        3,
        "no RUN on a cached rebuild"
    );
    let (id3, c3) = run_build(
        &b,
        &ctx(&[("Dockerfile", df), ("a", "A"), ("b", "B2")]),
        &mut cache,
    );
    assert_ne!(id3, id1);
    assert_eq!(c3, 3, "RUN one, COPY a, RUN two stay cached");
    assert_eq!(b.runs.lock().map(|r| r.len()).unwrap_or(0), 4);
}

#[test]
fn independent_stages_run_in_parallel() {
    let b = Mem {
        rendezvous: 2,
        ..Default::default()
    };
    let df = "FROM base AS a\nRUN in-a\nFROM base AS b\nRUN in-b\nFROM base\nCOPY --from=a / /\nCOPY --from=b / /\n";
    let c = ctx(&[("Dockerfile", df)]);
    let mut steps = Vec::new();
    let r = build(
        &b,
        &c,
        &BuildOptions::default(),
        &mut Cache::memory(),
        &mut |e| {
            if let Event::Step { n, .. } = e {
                steps.push(n);
            }
        },
    );
    if let Err(e) = r {
        panic!("build failed: {e}");
    }
    assert_eq!(
        steps,
        vec![1, 2, 3, 4, 5, 6, 7],
        "stage a's steps, then b's, in order"
    );
}
