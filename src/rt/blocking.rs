//! Blocking work off the scheduler: [`spawn_blocking`] and [`unblock`].
//!
//! A task that makes a blocking call (a file read, `getaddrinfo`, a long
//! computation, `std::thread::sleep`) stalls its whole worker: no other
//! task of that worker runs until the call returns. Hand such work to this
//! pool instead: it runs on a plain thread, and the task parks until the
//! result is there (the pool wakes it through its worker's mailbox).
//!
//! The pool is global and grows on demand up to [`MAX_THREADS`]; a thread
//! with no work for [`IDLE_TIMEOUT`] exits.
//!
//! A job is queued before its thread is started. If that start fails (out
//! of memory or address space for the thread's stack, or out of threads),
//! the job stays queued when another pool thread exists, which takes it
//! when it is done with its own work; when none does, nothing ever would,
//! so the job is taken back off the queue and its handle completes with
//! [`JoinError::NotStarted`].

use std::collections::VecDeque;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::join::{self, JoinError, JoinHandle};

/// The most threads the pool runs at once.
pub const MAX_THREADS: usize = 64;

/// How long an idle pool thread waits for work before it exits.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// A queued job: called with `Ok(())` on a pool thread to run, or with the
/// error that kept every pool thread from starting, to refuse (its handle
/// then completes with [`JoinError::NotStarted`], and the closure is dropped
/// unrun).
type Job = Box<dyn FnOnce(io::Result<()>) + Send>;

struct Pool {
    state: Mutex<PoolState>,
    work: Condvar,
}

struct PoolState {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

static POOL: Pool = Pool {
    state: Mutex::new(PoolState {
        jobs: VecDeque::new(),
        threads: 0,
        idle: 0,
    }),
    work: Condvar::new(),
};

/// Runs `f` on the blocking pool and returns its handle; joining it from a
/// task parks only that task.
///
/// If no pool thread can be started for it (out of memory or address space
/// for the thread's stack, or out of threads) and no pool thread exists to
/// take it later, `f` is dropped unrun and the handle completes with
/// [`JoinError::NotStarted`], carrying the thread's start error. If other
/// pool threads exist, `f` stays queued and one of them runs it once it is
/// done with the jobs before it.
pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (handle, completer) = join::channel();
    let job: Job = Box::new(move |go| {
        let result = match go {
            Ok(()) => panic::catch_unwind(AssertUnwindSafe(f)).map_err(JoinError::Panicked),
            Err(e) => Err(JoinError::NotStarted(e)),
        };
        completer.complete(result);
    });
    let mut state = POOL.state.lock().unwrap_or_else(|e| e.into_inner());
    state.jobs.push_back(job);
    if state.idle == 0 && state.threads < MAX_THREADS {
        state.threads += 1;
        drop(state);
        let spawned = std::thread::Builder::new()
            .name("jmpco-blocking".into())
            .spawn(worker);
        if let Err(e) = spawned {
            let mut state = POOL.state.lock().unwrap_or_else(|e| e.into_inner());
            state.threads -= 1;
            // A pool thread exits only with the queue empty, under this
            // lock, and a start in progress is counted: with none counted,
            // no thread will ever take the queued jobs (this one, and any
            // whose start failed like this one's). Refuse them all.
            let stranded: Vec<Job> = if state.threads == 0 {
                state.jobs.drain(..).collect()
            } else {
                Vec::new()
            };
            drop(state);
            for job in stranded {
                job(Err(copy_error(&e)));
            }
        }
    } else {
        drop(state);
        POOL.work.notify_one();
    }
    handle
}

/// Runs `f` on the blocking pool and waits for its value (parking only the
/// task, inside one). A panic in `f` continues here.
///
/// # Panics
/// If `f` panics; or if `f` could not be started (see [`spawn_blocking`]),
/// with a message that contains the thread's start error.
pub fn unblock<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_blocking(f).join_unwrap()
}

/// The same error again, for one refused job (`io::Error` is not `Clone`,
/// and one failed start may strand several jobs).
fn copy_error(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

fn worker() {
    let mut state = POOL.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(job) = state.jobs.pop_front() {
            drop(state);
            job(Ok(()));
            state = POOL.state.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        state.idle += 1;
        let (next, timeout) = POOL
            .work
            .wait_timeout(state, IDLE_TIMEOUT)
            .unwrap_or_else(|e| e.into_inner());
        state = next;
        state.idle -= 1;
        if timeout.timed_out() && state.jobs.is_empty() {
            state.threads -= 1;
            return;
        }
    }
}
