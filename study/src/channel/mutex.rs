//! The contended mutex: [`MUTEX_TASKS`] tasks on one worker each take the
//! lock, increment the counter it guards, yield with the lock held, and
//! unlock, over and over: jmpco's `rt::sync::Mutex` on a one-worker runtime
//! (`jmpco-sjlj`, `jmpco-asm`) and `tokio::sync::Mutex` on a
//! `current_thread` runtime (`tokio`).
//!
//! The yield with the lock held lets every other task run into the lock and
//! wait, so each acquisition takes the lock over from another task: a
//! hand-off (a wake, a switch, a park). The counter also records who held
//! the lock last, and a run fails unless every acquisition came from
//! another task than the one before. The run's main task holds the lock
//! while the others start and line up behind it; the clock starts when it
//! lets go.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use jmpco::rt::{self, Runtime};
use jmpco::Backend;

use super::{Exchange, MUTEX_TASKS};

/// What the lock guards: the acquisitions, and how many took it over from
/// another task.
#[derive(Debug, Default)]
struct Counter {
    acquisitions: u64,
    handoffs: u64,
    /// The last holder (task index + 1; 0 for the run's main task).
    last: usize,
}

impl Counter {
    /// One acquisition by task `me` (1-based).
    fn take(&mut self, me: usize) {
        self.acquisitions += 1;
        if self.last != me {
            self.handoffs += 1;
            self.last = me;
        }
    }

    /// `Ok` if the run made `total` acquisitions, each a hand-off.
    fn check(&self, total: u64) -> Result<(), String> {
        if self.acquisitions != total {
            return Err(format!("{} acquisitions, not {total}", self.acquisitions));
        }
        if self.handoffs != total {
            return Err(format!(
                "only {} of {total} acquisitions took the lock over from another task",
                self.handoffs
            ));
        }
        Ok(())
    }
}

/// How many of `total` acquisitions task `i` of [`MUTEX_TASKS`] makes.
fn share(total: u64, i: usize) -> u64 {
    let tasks = MUTEX_TASKS as u64;
    total / tasks + u64::from((i as u64) < total % tasks)
}

/// jmpco's mutex on a one-worker runtime on one backend.
pub struct Jmpco {
    backend: Backend,
    /// Built at the first run, kept for the others.
    rt: Option<Runtime>,
}

impl Jmpco {
    /// The engine of `backend`.
    pub fn new(backend: Backend) -> Jmpco {
        Jmpco { backend, rt: None }
    }
}

impl Exchange for Jmpco {
    fn name(&self) -> &'static str {
        match self.backend {
            Backend::Sjlj => "jmpco-sjlj",
            Backend::Ucontext => "jmpco-ucontext",
            Backend::Asm => "jmpco-asm",
        }
    }

    fn run(&mut self, handoffs: u64) -> Result<Duration> {
        if self.rt.is_none() {
            let rt = Runtime::builder()
                .worker_threads(1)
                .backend(self.backend)
                .thread_name("mutex-worker")
                .build()?;
            self.rt = Some(rt);
        }
        let rt = self.rt.as_ref().expect("just built");
        rt.block_on(move || jmpco_handoffs(handoffs))
            .map_err(|e| anyhow!(e))
    }
}

/// The run, in the runtime's first task.
fn jmpco_handoffs(total: u64) -> Result<Duration, String> {
    let lock = Arc::new(rt::sync::Mutex::new(Counter::default()));
    let waiting = Arc::new(AtomicUsize::new(0));
    let held = lock.lock().map_err(|_| "the mutex is poisoned")?;
    let tasks: Vec<_> = (0..MUTEX_TASKS)
        .map(|i| {
            let (lock, waiting) = (lock.clone(), waiting.clone());
            let turns = share(total, i);
            rt::spawn(move || {
                waiting.fetch_add(1, Ordering::Relaxed);
                for _ in 0..turns {
                    let mut counter = lock.lock().expect("the mutex is poisoned");
                    counter.take(i + 1);
                    rt::yield_now();
                    drop(counter);
                }
            })
        })
        .collect();
    // A task counts itself and goes straight into the lock's queue, with no
    // switch between: once all have counted, all wait.
    while waiting.load(Ordering::Relaxed) < MUTEX_TASKS {
        rt::yield_now();
    }
    let start = Instant::now();
    drop(held);
    for task in tasks {
        task.join().map_err(|e| format!("a task failed: {e}"))?;
    }
    let took = start.elapsed();
    let counter = lock.lock().map_err(|_| "the mutex is poisoned")?;
    counter.check(total)?;
    Ok(took)
}

/// `tokio::sync::Mutex` on a `current_thread` runtime.
pub struct Tokio {
    /// Built at the first run, kept for the others.
    rt: Option<tokio::runtime::Runtime>,
}

impl Tokio {
    /// The engine.
    pub fn new() -> Tokio {
        Tokio { rt: None }
    }
}

impl Default for Tokio {
    fn default() -> Tokio {
        Tokio::new()
    }
}

impl Exchange for Tokio {
    fn name(&self) -> &'static str {
        "tokio"
    }

    fn run(&mut self, handoffs: u64) -> Result<Duration> {
        if self.rt.is_none() {
            self.rt = Some(super::tokio::runtime(false)?);
        }
        let rt = self.rt.as_ref().expect("just built");
        rt.block_on(tokio_handoffs(handoffs))
            .map_err(|e| anyhow!(e))
    }
}

/// The run, in the runtime's `block_on` future.
async fn tokio_handoffs(total: u64) -> Result<Duration, String> {
    let lock = Arc::new(tokio::sync::Mutex::new(Counter::default()));
    let waiting = Arc::new(AtomicUsize::new(0));
    let held = lock.lock().await;
    let tasks: Vec<_> = (0..MUTEX_TASKS)
        .map(|i| {
            let (lock, waiting) = (lock.clone(), waiting.clone());
            let turns = share(total, i);
            tokio::spawn(async move {
                waiting.fetch_add(1, Ordering::Relaxed);
                for _ in 0..turns {
                    let mut counter = lock.lock().await;
                    counter.take(i + 1);
                    tokio::task::yield_now().await;
                    drop(counter);
                }
            })
        })
        .collect();
    // As for jmpco: a task counts itself and is queued on the lock in the
    // same poll.
    while waiting.load(Ordering::Relaxed) < MUTEX_TASKS {
        tokio::task::yield_now().await;
    }
    let start = Instant::now();
    drop(held);
    for task in tasks {
        task.await.map_err(|e| format!("a task failed: {e}"))?;
    }
    let took = start.elapsed();
    lock.lock().await.check(total)?;
    Ok(took)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up() {
        for total in [0, 1, 99, 100, 101, 12_345] {
            let sum: u64 = (0..MUTEX_TASKS).map(|i| share(total, i)).sum();
            assert_eq!(sum, total);
        }
    }

    #[test]
    fn a_counter_knows_a_hand_off_from_a_second_turn() {
        let mut c = Counter::default();
        c.take(1);
        c.take(2);
        assert!(c.check(2).is_ok());
        c.take(2);
        assert!(c.check(3).unwrap_err().contains("only 2 of 3"));
    }
}
