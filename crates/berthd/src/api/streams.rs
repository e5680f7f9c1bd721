//! Blocking work on behalf of long-lived streams (events, stats, `logs -f`, attach): streams
//! wait on timers and channels, and whatever file or cgroup reading they need runs here, on
//! at most [`THREADS`] blocking threads at a time. However many streams are open, the rest of
//! the blocking pool stays free for ordinary requests (`ps`, `inspect`, …).

use berth_engine::EngineError;
use tokio::sync::Semaphore;

use super::{blocking, ApiError, ApiResult};

/// Blocking threads that streams may occupy at once.
const THREADS: usize = 4;

static POOL: Semaphore = Semaphore::const_new(THREADS);

/// Runs `f` on a blocking thread once one of the streams' slots is free. `None` if it
/// panicked.
pub async fn run<T, F>(f: F) -> Option<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let _slot = POOL.acquire().await.ok()?;
    tokio::task::spawn_blocking(f).await.ok()
}

/// Like [`blocking`] for the engine call that opens a stream, so a thousand clients opening
/// streams at once queue here instead of growing the blocking pool to its limit.
pub async fn setup<T, F>(f: F) -> ApiResult<T>
where
    F: FnOnce() -> Result<T, EngineError> + Send + 'static,
    T: Send + 'static,
{
    let _slot = POOL
        .acquire()
        .await
        .map_err(|e| ApiError::internal(format!("stream pool: {e}")))?;
    blocking(f).await
}
