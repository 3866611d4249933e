//! Work that only computes, such as a signature check, run on tokio's blocking pool: the
//! runtime's workers (one per core) stay free for the requests and feeds that only wait, so a
//! burst of verifications does not hold up a push or an answer that is ready.
//!
//! At most one such piece of work per core runs at once; the others wait their turn without a
//! thread of their own, so a burst does not become a crowd of threads switching on two cores.

use std::sync::LazyLock;

use tokio::sync::Semaphore;

use crate::error::{AppError, Result};

/// One permit per core.
static TURNS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(1, usize::from)));

/// Runs `work` on the blocking pool, when a core's turn is free, and returns its answer.
pub(crate) async fn off_workers<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let _turn = TURNS.acquire().await.map_err(AppError::internal)?;
    tokio::task::spawn_blocking(work).await.map_err(AppError::internal)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_runs_one_per_core_at_a_time_and_answers() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..cores * 4)
            .map(|i| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(off_workers(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i * 2
                }))
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap().unwrap(), i * 2);
        }
        let most = most.load(Ordering::SeqCst);
        assert!((1..=cores).contains(&most), "{most} ran at once on {cores} cores");
    }
}
