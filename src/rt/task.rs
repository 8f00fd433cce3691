//! What a task can do to itself and its worker: [`spawn`], [`sleep`],
//! [`yield_now`], [`shutdown_requested`].

use std::time::{Duration, Instant};

use super::timer::deadline_after;

use super::join::{self, JoinHandle};
use super::scheduler::{current_task, Scheduler};

/// Spawns `f` as a new task on the caller's worker and returns its handle.
/// The closure need not be `Send`: it never leaves this thread. To spawn
/// on any worker from anywhere, use [`Handle::spawn`](super::Handle::spawn).
///
/// # Panics
/// Outside a task (there is no worker to spawn on), or if no stack can be
/// had for the new task.
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let (sched, _) = current_task().expect("jmpco::rt::spawn called outside a runtime task");
    spawn_on(&sched, false, f).unwrap_or_else(|e| panic!("jmpco: cannot spawn a task: {e}"))
}

/// Spawns on `sched` (its own thread).
pub(crate) fn spawn_on<F, T>(
    sched: &std::rc::Rc<Scheduler>,
    service: bool,
    f: F,
) -> std::io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let (handle, completer) = join::channel();
    sched.spawn(service, completer.abort_hook(), move || {
        completer.complete(Ok(f()))
    })?;
    Ok(handle)
}

/// Parks the task for `duration` (at least; the wake-up comes within about
/// a millisecond of the deadline on an idle worker). A duration too large
/// for an `Instant` (`Duration::MAX`) parks forever. Outside a task, sleeps
/// the thread.
pub fn sleep(duration: Duration) {
    let deadline = deadline_after(duration);
    match current_task() {
        Some((sched, _)) => {
            while deadline.is_none_or(|d| Instant::now() < d) {
                if sched.park(deadline).is_err() {
                    return; // cancelled: unwinding must not wait
                }
            }
        }
        None => std::thread::sleep(duration),
    }
}

/// Lets the worker's other ready tasks (and pending I/O) run, then
/// continues. Outside a task, yields the thread.
pub fn yield_now() {
    match current_task() {
        Some((sched, _)) => {
            let _ = sched.yield_now();
        }
        None => std::thread::yield_now(),
    }
}

/// Whether the caller's runtime has begun a graceful shutdown: a
/// connection handler should finish its current request and return.
/// `false` outside a task.
pub fn shutdown_requested() -> bool {
    current_task().is_some_and(|(sched, _)| sched.shutting_down())
}
