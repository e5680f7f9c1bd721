//! One queue of due probes for every container, served by a fixed number of worker threads.
//!
//! dockerd runs a goroutine per container; threads are dearer, so here each container has at
//! most one entry in the queue (its next probe) and a probe's result schedules the next one.
//! A generation per arming makes results and entries of an earlier run (stopped, restarted)
//! harmless: they no longer match.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use crate::containers::Containers;

/// Probes that may run at once. Each blocks a worker for at most its timeout; the others wait
/// in the queue, so a slow probe delays, never multiplies, threads.
const WORKERS: usize = 4;
/// How long an idle worker sleeps before it looks whether the engine is gone.
const IDLE: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Queue {
    /// Due time (and a sequence number for ties) → (container, generation).
    due: BTreeMap<(Instant, u64), (String, u64)>,
    seq: u64,
    /// The current generation of each armed container.
    armed: HashMap<String, u64>,
    next_generation: u64,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The engine's healthcheck scheduler.
#[derive(Default)]
pub(crate) struct Scheduler {
    shared: Arc<Shared>,
    started: OnceLock<()>,
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_all();
    }
}

impl Scheduler {
    /// Arms container `id` (replacing an earlier arming): its first probe is due after
    /// `delay`. Workers start with the first arming.
    pub(crate) fn arm(&self, engine: &Arc<Containers>, id: &str, delay: Duration) {
        self.started
            .get_or_init(|| spawn_workers(&self.shared, engine));
        let mut q = self.shared.lock();
        q.next_generation += 1;
        let generation = q.next_generation;
        q.armed.insert(id.to_owned(), generation);
        push(&mut q, id, generation, delay);
        drop(q);
        self.shared.wake.notify_one();
    }

    /// No more probes for `id` until it is armed again.
    pub(crate) fn disarm(&self, id: &str) {
        self.shared.lock().armed.remove(id);
    }

    /// Whether `generation` is still `id`'s current arming.
    pub(crate) fn is_current(&self, id: &str, generation: u64) -> bool {
        self.shared.lock().armed.get(id) == Some(&generation)
    }

    /// Queues `id`'s next probe after `delay`, if this arming is still current.
    pub(crate) fn reschedule(&self, id: &str, generation: u64, delay: Duration) {
        let mut q = self.shared.lock();
        if q.armed.get(id) != Some(&generation) {
            return;
        }
        push(&mut q, id, generation, delay);
        drop(q);
        self.shared.wake.notify_one();
    }
}

fn push(q: &mut Queue, id: &str, generation: u64, delay: Duration) {
    q.seq += 1;
    let at = Instant::now()
        .checked_add(delay)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 86400));
    let seq = q.seq;
    q.due.insert((at, seq), (id.to_owned(), generation));
}

fn spawn_workers(shared: &Arc<Shared>, engine: &Arc<Containers>) {
    for n in 0..WORKERS {
        let shared = shared.clone();
        let weak = Arc::downgrade(engine);
        let spawned = std::thread::Builder::new()
            .name(format!("berth-health-{n}"))
            .spawn(move || worker(&shared, &weak));
        if let Err(e) = spawned {
            tracing::error!("cannot start a healthcheck worker: {e}");
        }
    }
}

/// Takes the next due probe whose arming is current; `None` once the engine is gone.
fn next_job(shared: &Shared, engine: &Weak<Containers>) -> Option<(String, u64)> {
    let mut q = shared.lock();
    loop {
        if q.closed || engine.strong_count() == 0 {
            return None;
        }
        let now = Instant::now();
        let wait = match q.due.first_key_value() {
            Some((&(at, _), _)) if at <= now => {
                let (_, (id, generation)) = q.due.pop_first()?;
                if q.armed.get(&id) == Some(&generation) {
                    return Some((id, generation));
                }
                continue;
            }
            Some((&(at, _), _)) => (at - now).min(IDLE),
            None => IDLE,
        };
        q = shared
            .wake
            .wait_timeout(q, wait)
            .map(|(g, _)| g)
            .unwrap_or_else(|p| p.into_inner().0);
    }
}

fn worker(shared: &Shared, engine: &Weak<Containers>) {
    while let Some((id, generation)) = next_job(shared, engine) {
        let Some(engine) = engine.upgrade() else {
            return;
        };
        engine.health_probe(&id, generation);
    }
}
