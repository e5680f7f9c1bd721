//! The build driver: parse, plan, build the needed stages wave by wave (the stages of a wave
//! do not depend on each other and run on their own threads; the first streams its progress
//! live, the others' progress is replayed in stage order when they finish, so the output reads
//! like a sequential build), then register the target stage's result as the image.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use berth_image::Digest;

use crate::backend::{Backend, ImageState};
use crate::builder::{BuildOptions, BuildResult, Builder, Event};
use crate::cache::Cache;
use crate::context::Context;
use crate::error::BuildError;
use crate::parser;
use crate::stages::Plan;

/// An [`Event`] kept for later.
enum Recorded {
    Step(usize, usize, String),
    UsingCache,
    Output(Vec<u8>),
    StepDone(String, Duration),
    Warning(String),
}

impl Recorded {
    fn of(e: Event<'_>) -> Recorded {
        match e {
            Event::Step { n, total, text } => Recorded::Step(n, total, text.to_owned()),
            Event::UsingCache => Recorded::UsingCache,
            Event::Output(b) => Recorded::Output(b.to_vec()),
            Event::StepDone { id, elapsed } => Recorded::StepDone(id.to_owned(), elapsed),
            Event::Warning(w) => Recorded::Warning(w),
        }
    }

    fn replay(self, on: &mut dyn FnMut(Event<'_>)) {
        match self {
            Recorded::Step(n, total, text) => on(Event::Step {
                n,
                total,
                text: &text,
            }),
            Recorded::UsingCache => on(Event::UsingCache),
            Recorded::Output(b) => on(Event::Output(&b)),
            Recorded::StepDone(id, elapsed) => on(Event::StepDone { id: &id, elapsed }),
            Recorded::Warning(w) => on(Event::Warning(w)),
        }
    }
}

type StageResult = Result<((String, ImageState), BTreeSet<String>), BuildError>;

/// What every stage of a build shares.
struct Shared<'a> {
    backend: &'a dyn Backend,
    ctx: &'a Context,
    opts: &'a BuildOptions,
    cache: &'a Mutex<Cache>,
    file: &'a str,
    escape: char,
    plan: &'a Plan,
    offsets: &'a BTreeMap<usize, usize>,
    total: usize,
    target: usize,
}

impl Shared<'_> {
    fn stage(
        &self,
        i: usize,
        done: &BTreeMap<usize, (String, ImageState)>,
        on: &mut dyn FnMut(Event<'_>),
    ) -> StageResult {
        let mut b = Builder {
            backend: self.backend,
            ctx: self.ctx,
            opts: self.opts,
            cache: self.cache,
            on,
            file: self.file.to_owned(),
            escape: self.escape,
            plan: self.plan,
            step: self.offsets.get(&i).copied().unwrap_or(0),
            total: self.total,
            done,
            cur: i,
            used_args: BTreeSet::new(),
        };
        let r = b.build_stage(i == self.target)?;
        Ok((r, b.used_args))
    }

    /// Builds one wave; results in stage order.
    fn wave(
        &self,
        wave: &[usize],
        done: &BTreeMap<usize, (String, ImageState)>,
        on: &mut dyn FnMut(Event<'_>),
    ) -> Vec<(usize, StageResult)> {
        let Some((&first, rest)) = wave.split_first() else {
            return Vec::new();
        };
        std::thread::scope(|s| {
            let handles: Vec<_> = rest
                .iter()
                .map(|&i| {
                    s.spawn(move || {
                        let mut log = Vec::new();
                        let r = self.stage(i, done, &mut |e| log.push(Recorded::of(e)));
                        (r, log)
                    })
                })
                .collect();
            let mut out = vec![(first, self.stage(first, done, on))];
            for (h, &i) in handles.into_iter().zip(rest) {
                let (r, log) = h.join().unwrap_or_else(|_| {
                    let e = BuildError::Context(format!("building stage {i} panicked"));
                    (Err(e), Vec::new())
                });
                for e in log {
                    e.replay(on);
                }
                out.push((i, r));
            }
            out
        })
    }
}

/// Builds the image described by the context's Dockerfile.
pub fn build(
    backend: &dyn Backend,
    ctx: &Context,
    opts: &BuildOptions,
    cache: &mut Cache,
    on: &mut dyn FnMut(Event<'_>),
) -> Result<BuildResult, BuildError> {
    let file = if opts.dockerfile.is_empty() {
        "Dockerfile".to_owned()
    } else {
        opts.dockerfile.clone()
    };
    let text = ctx.read_text(&file)?.ok_or_else(|| {
        BuildError::Context(format!("Cannot locate specified Dockerfile: {file}"))
    })?;
    let df = parser::parse(&String::from_utf8_lossy(&text), &file)?;
    if df.instructions.is_empty() {
        return Err(BuildError::Context(format!(
            "the Dockerfile ({file}) cannot be empty"
        )));
    }
    let plan = Plan::new(&df, &file, &opts.build_args)?;
    let target = plan.target(opts.target.as_deref())?;
    let needed = plan.needed(target);
    let mut offsets = BTreeMap::new();
    let mut total = 0;
    for &i in &needed {
        offsets.insert(i, total);
        total += 1 + plan.stages[i].body.len();
    }
    let shared_cache = Mutex::new(std::mem::take(cache));
    let shared = Shared {
        backend,
        ctx,
        opts,
        cache: &shared_cache,
        file: &file,
        escape: df.escape,
        plan: &plan,
        offsets: &offsets,
        total,
        target,
    };
    let mut done = BTreeMap::new();
    let mut used = BTreeSet::new();
    let mut result = Ok(());
    'waves: for wave in plan.waves(&needed) {
        for (i, r) in shared.wave(&wave, &done, on) {
            match r {
                Ok((built, u)) => {
                    done.insert(i, built);
                    used.extend(u);
                }
                Err(e) => {
                    result = Err(e);
                    break 'waves;
                }
            }
        }
    }
    *cache = shared_cache.into_inner().unwrap_or_else(|p| p.into_inner());
    // Keep what was built even when a step failed: the next attempt starts from there.
    let saved = cache.save();
    result?;
    saved?;
    let unused: Vec<&str> = opts
        .build_args
        .keys()
        .filter(|k| !used.contains(*k) && !plan.global_args.contains_key(*k))
        .map(String::as_str)
        .collect();
    if !unused.is_empty() {
        on(Event::Warning(format!(
            "[Warning] One or more build-args [{}] were not consumed\n",
            unused.join(" ")
        )));
    }
    let (id, state) = done
        .remove(&target)
        .ok_or_else(|| BuildError::Context("the target stage was not built".into()))?;
    let config: Digest = id
        .parse()
        .map_err(|_| BuildError::Context(format!("the target stage has no config ({id})")))?;
    let image = backend.create_image(&config, &state.layers, &opts.tags)?;
    Ok(BuildResult { id: image })
}
