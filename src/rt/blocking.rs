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

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::join::{self, JoinError, JoinHandle};

/// The most threads the pool runs at once.
pub const MAX_THREADS: usize = 64;

/// How long an idle pool thread waits for work before it exits.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    state: Mutex<State>,
    work: Condvar,
}

struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

static POOL: Pool = Pool {
    state: Mutex::new(State {
        jobs: VecDeque::new(),
        threads: 0,
        idle: 0,
    }),
    work: Condvar::new(),
};

/// Runs `f` on the blocking pool and returns its handle; joining it from a
/// task parks only that task.
pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (handle, completer) = join::channel();
    let job: Job = Box::new(move || {
        let result = panic::catch_unwind(AssertUnwindSafe(f)).map_err(JoinError::Panicked);
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
        if spawned.is_err() {
            POOL.state.lock().unwrap_or_else(|e| e.into_inner()).threads -= 1;
        }
    } else {
        drop(state);
        POOL.work.notify_one();
    }
    handle
}

/// Runs `f` on the blocking pool and waits for its value (parking only the
/// task, inside one). A panic in `f` continues here.
pub fn unblock<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_blocking(f).join_unwrap()
}

fn worker() {
    let mut state = POOL.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(job) = state.jobs.pop_front() {
            drop(state);
            job();
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
