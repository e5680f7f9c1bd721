//! One stage's build: its FROM, each step through the cache, and the config-only steps.
//!
//! Every step turns a parent state (id = digest of its config blob, or `scratch`) into a new
//! one. Its cache key is the parent id plus the instruction's expanded arguments, the
//! environment it sees and the content hash of its COPY/ADD sources; a hit reuses the stored
//! config and layers unchanged, so a rebuild with nothing changed yields the same image id.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use berth_image::config::{now_rfc3339, ContainerConfig, History, ImageConfig};

use crate::backend::{Backend, ImageState, NewLayer};
use crate::cache::{self, Cache, CacheRecord};
use crate::context::Context;
use crate::error::BuildError;
use crate::instructions::{self, env_map, Scope};
use crate::parser::{self, Instruction};
use crate::stages::{self, Plan};

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The Dockerfile's path in the context (`Dockerfile` by default).
    pub dockerfile: String,
    /// Names to tag the result with.
    pub tags: Vec<String>,
    /// `--build-arg`s.
    pub build_args: BTreeMap<String, String>,
    /// `--target` stage.
    pub target: Option<String>,
    /// `--no-cache`: run every step.
    pub no_cache: bool,
    /// `--pull`: refresh base images.
    pub pull: bool,
    /// `--label`s added to the image.
    pub labels: BTreeMap<String, String>,
    /// `--platform`.
    pub platform: Option<String>,
    /// `--network` for RUN steps.
    pub network: String,
}

/// Progress, as the API streams it.
#[derive(Debug)]
pub enum Event<'a> {
    /// A step begins: `Step n/total : TEXT`.
    Step {
        /// 1-based step number.
        n: usize,
        /// Steps in the stages being built.
        total: usize,
        /// The instruction as written.
        text: &'a str,
    },
    /// The step's result came from the cache.
    UsingCache,
    /// Output of a RUN step.
    Output(&'a [u8]),
    /// The step finished with this state id and took this long.
    StepDone {
        /// The state's id (config digest).
        id: &'a str,
        /// Time the step took.
        elapsed: Duration,
    },
    /// A warning to show.
    Warning(String),
}

/// The cache, even if a stage thread panicked while holding it.
fn lock(c: &Mutex<Cache>) -> std::sync::MutexGuard<'_, Cache> {
    c.lock().unwrap_or_else(|p| p.into_inner())
}

/// A finished build.
#[derive(Debug, Clone)]
pub struct BuildResult {
    /// The image id (`sha256:...`).
    pub id: String,
}

/// The state of a stage being built.
pub(crate) struct StageRun {
    /// Parent id for the next step's key.
    pub id: String,
    /// Config and layers so far.
    pub state: ImageState,
    /// Build args declared in this stage, with values.
    pub args: BTreeMap<String, String>,
    /// Whether CMD still comes from the base image (ENTRYPOINT then resets it).
    pub cmd_from_base: bool,
}

impl StageRun {
    /// Variables for expansion: build args, overridden by ENV.
    pub fn vars(&self) -> BTreeMap<String, String> {
        let mut v = self.args.clone();
        if let Some(c) = &self.state.config.config {
            v.extend(env_map(c));
        }
        v
    }

    /// The config's container part.
    pub fn cfg(&self) -> ContainerConfig {
        self.state.config.config.clone().unwrap_or_default()
    }
}

/// One stage being built (stages of one wave run in parallel, each with its own `Builder`).
pub(crate) struct Builder<'a> {
    pub backend: &'a dyn Backend,
    pub ctx: &'a Context,
    pub opts: &'a BuildOptions,
    pub cache: &'a Mutex<Cache>,
    pub on: &'a mut dyn FnMut(Event<'_>),
    pub file: String,
    pub escape: char,
    pub plan: &'a Plan,
    /// The last step number used (starts at the stage's offset).
    pub step: usize,
    pub total: usize,
    /// Stages finished in earlier waves: (id, state).
    pub done: &'a BTreeMap<usize, (String, ImageState)>,
    /// The stage being built.
    pub cur: usize,
    /// Build args the stage declared.
    pub used_args: BTreeSet<String>,
}

impl Builder<'_> {
    /// Builds stage `self.cur`; returns its id and state.
    pub(crate) fn build_stage(
        &mut self,
        is_target: bool,
    ) -> Result<(String, ImageState), BuildError> {
        let stage = self.plan.stages[self.cur].clone();
        let mut st = self.from(&stage)?;
        for ins in &stage.body {
            self.step(&mut st, ins)?;
        }
        if is_target && !self.opts.labels.is_empty() {
            self.labels(&mut st)?;
        }
        if st.id == "scratch" {
            // An empty image still needs a config blob for its id.
            self.commit(&mut st, "scratch".into(), None, "FROM scratch".into(), true)?;
        }
        Ok((st.id, st.state))
    }

    fn begin(&mut self, ins: &Instruction) -> Instant {
        self.step += 1;
        let text = format!("{} {}", ins.keyword, ins.text);
        (self.on)(Event::Step {
            n: self.step,
            total: self.total,
            text: text.trim_end(),
        });
        Instant::now()
    }

    fn finish(&mut self, st: &StageRun, t: Instant) {
        (self.on)(Event::StepDone {
            id: &st.id,
            elapsed: t.elapsed(),
        });
    }

    /// A stage's base: scratch, an earlier stage, or an image.
    fn from(&mut self, stage: &stages::Stage) -> Result<StageRun, BuildError> {
        let t = self.begin(&stage.from);
        let (id, state) = if stage.base.eq_ignore_ascii_case("scratch") {
            let (architecture, os) = self.backend.platform();
            let config = ImageConfig {
                architecture,
                os,
                config: Some(ContainerConfig {
                    env: Some(vec![
                        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
                    ]),
                    ..Default::default()
                }),
                ..Default::default()
            };
            (
                "scratch".to_owned(),
                ImageState {
                    config,
                    layers: Vec::new(),
                },
            )
        } else if let Some(i) = self.plan.stage_ref(&stage.base, stage.index) {
            self.done.get(&i).cloned().ok_or_else(|| {
                BuildError::step(
                    stage.from.line,
                    format!("stage {} was not built", stage.base),
                )
            })?
        } else {
            let platform = stage.platform.as_deref().or(self.opts.platform.as_deref());
            let (d, s) = self
                .backend
                .image(&stage.base, platform, self.opts.pull)
                .map_err(|e| BuildError::step(stage.from.line, e.to_string()))?;
            (d.to_string(), s)
        };
        let mut st = StageRun {
            id,
            state,
            args: BTreeMap::new(),
            cmd_from_base: true,
        };
        self.finish(&st, t);
        self.onbuild_triggers(&mut st)?;
        Ok(st)
    }

    /// Runs the base image's ONBUILD triggers, then clears them (as docker does).
    fn onbuild_triggers(&mut self, st: &mut StageRun) -> Result<(), BuildError> {
        let triggers = st
            .state
            .config
            .config
            .as_ref()
            .and_then(|c| c.on_build.clone())
            .unwrap_or_default();
        if triggers.is_empty() {
            return Ok(());
        }
        (self.on)(Event::Warning(format!(
            "# Executing {} build trigger{}\n",
            triggers.len(),
            if triggers.len() == 1 { "" } else { "s" }
        )));
        let mut cfg = st.cfg();
        cfg.on_build = None;
        st.state.config.config = Some(cfg);
        for t in triggers {
            let df = parser::parse(&t, "ONBUILD trigger")?;
            for ins in &df.instructions {
                self.execute(st, ins)?;
            }
        }
        Ok(())
    }

    fn step(&mut self, st: &mut StageRun, ins: &Instruction) -> Result<(), BuildError> {
        let t = self.begin(ins);
        self.execute(st, ins)?;
        self.finish(st, t);
        Ok(())
    }

    fn execute(&mut self, st: &mut StageRun, ins: &Instruction) -> Result<(), BuildError> {
        match ins.keyword.as_str() {
            "ARG" => {
                let vars = st.vars();
                for (k, default) in stages::arg_words(ins, &vars, self.escape, &self.file)? {
                    let v = self
                        .opts
                        .build_args
                        .get(&k)
                        .cloned()
                        .or(default)
                        .or_else(|| self.plan.global_args.get(&k).cloned());
                    self.used_args.insert(k.clone());
                    if let Some(v) = v {
                        st.args.insert(k, v);
                    } else {
                        st.args.remove(&k);
                    }
                }
                Ok(())
            }
            "RUN" => self.run_step(st, ins),
            "COPY" | "ADD" => self.copy_step(st, ins),
            "WORKDIR" => self.workdir(st, ins),
            "FROM" => Err(BuildError::step(ins.line, "FROM is not allowed here")),
            _ => {
                let vars = st.vars();
                let sc = Scope {
                    file: &self.file,
                    escape: self.escape,
                    vars: &vars,
                };
                let mut cfg = st.state.config.clone();
                let created_by = instructions::apply(&mut cfg, ins, &sc, st.cmd_from_base)?;
                if ins.keyword == "CMD" {
                    st.cmd_from_base = false;
                }
                let key = cache::key(&[
                    &st.id,
                    "meta",
                    &serde_json::to_string(&cfg.config).unwrap_or_default(),
                ]);
                if self.try_cache(st, &key)? {
                    return Ok(());
                }
                st.state.config = cfg;
                self.commit(
                    st,
                    key,
                    None,
                    format!("/bin/sh -c #(nop)  {created_by}"),
                    true,
                )
            }
        }
    }

    fn labels(&mut self, st: &mut StageRun) -> Result<(), BuildError> {
        let mut cfg = st.cfg();
        let labels = cfg.labels.get_or_insert_with(BTreeMap::new);
        labels.extend(self.opts.labels.clone());
        let json = serde_json::to_string(&labels).unwrap_or_default();
        let key = cache::key(&[&st.id, "labels", &json]);
        if self.try_cache(st, &key)? {
            return Ok(());
        }
        st.state.config.config = Some(cfg);
        self.commit(
            st,
            key,
            None,
            format!("/bin/sh -c #(nop)  LABEL {json}"),
            true,
        )
    }

    /// On a cache hit, moves `st` to the cached state and says so.
    pub(crate) fn try_cache(&mut self, st: &mut StageRun, key: &str) -> Result<bool, BuildError> {
        if self.opts.no_cache {
            return Ok(false);
        }
        let Some(rec) = lock(self.cache).get(key, self.backend) else {
            return Ok(false);
        };
        let Some(raw) = self.backend.read_blob(&rec.config) else {
            return Ok(false);
        };
        let Ok(config) = ImageConfig::from_slice(&raw) else {
            return Ok(false);
        };
        st.state = ImageState {
            config,
            layers: rec.layers,
        };
        st.id = rec.config.to_string();
        (self.on)(Event::UsingCache);
        Ok(true)
    }

    /// Records a new state: optional layer, a history entry, the config blob, the cache entry.
    pub(crate) fn commit(
        &mut self,
        st: &mut StageRun,
        key: String,
        layer: Option<NewLayer>,
        created_by: String,
        empty_layer: bool,
    ) -> Result<(), BuildError> {
        let now = now_rfc3339();
        let cfg = &mut st.state.config;
        if let Some(l) = layer {
            cfg.rootfs.diff_ids.push(l.diff_id);
            st.state.layers.push(l.descriptor);
        }
        cfg.history.push(History {
            created: Some(now.clone()),
            created_by: Some(created_by),
            empty_layer,
            ..Default::default()
        });
        cfg.created = Some(now);
        let bytes = cfg
            .to_vec()
            .map_err(|e| BuildError::Context(format!("encoding the image config: {e}")))?;
        let digest = self.backend.put_blob(&bytes)?;
        lock(self.cache).put(
            key,
            CacheRecord {
                config: digest.clone(),
                layers: st.state.layers.clone(),
            },
        );
        st.id = digest.to_string();
        Ok(())
    }

    /// `--from=` of COPY: an earlier stage's result or an image.
    pub(crate) fn source_state(
        &mut self,
        from: &str,
        before: usize,
        line: usize,
    ) -> Result<(String, ImageState), BuildError> {
        if let Some(i) = self.plan.stage_ref(from, before) {
            return self
                .done
                .get(&i)
                .cloned()
                .ok_or_else(|| BuildError::step(line, format!("stage {from} was not built")));
        }
        let (d, s) = self
            .backend
            .image(from, self.opts.platform.as_deref(), false)
            .map_err(|e| BuildError::step(line, e.to_string()))?;
        Ok((d.to_string(), s))
    }
}
