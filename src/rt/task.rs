//! What a task can do to itself and its worker: [`spawn`], [`sleep`],
//! [`yield_now`], [`shutdown_requested`].

use std::time::{Duration, Instant};

use super::timer::deadline_after;

use super::join::{self, JoinHandle};
use super::scheduler::{with_scheduler, with_task, ParkRefused, Role, Scheduler};

/// Spawns `f` as a new task on the caller's worker and returns its handle.
/// The closure need not be `Send`: it never leaves this thread. To spawn
/// on any worker from anywhere, use [`Handle::spawn`](super::Handle::spawn).
/// Works anywhere on a worker's thread: in a task, and in a coroutine that
/// a task created.
///
/// # Panics
/// Off every worker's thread (there is no worker to spawn on), or if no
/// stack can be had for the new task.
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    with_scheduler(|sched| {
        let sched = sched.expect("jmpco::rt::spawn called off the runtime's worker threads");
        spawn_on(sched, Role::Work, f).unwrap_or_else(|e| panic!("jmpco: cannot spawn a task: {e}"))
    })
}

/// Spawns on `sched` (its own thread).
pub(crate) fn spawn_on<F, T>(sched: &Scheduler, role: Role, f: F) -> std::io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let (handle, completer) = join::channel_on(sched.remote());
    let key = sched.spawn(role, completer.end_hook(), move || {
        completer.complete(Ok(f()))
    })?;
    handle.abort_handle().bind(sched.remote(), key);
    Ok(handle)
}

/// Parks the task for `duration` (at least; the wake-up comes within about
/// a millisecond of the deadline on an idle worker). A duration too large
/// for an `Instant` (`Duration::MAX`) parks forever. Outside a task, sleeps
/// the thread.
///
/// A task that is being cancelled, or is unwinding a panic, cannot park:
/// there `sleep` returns at once.
pub fn sleep(duration: Duration) {
    if try_sleep(duration).is_none() {
        std::thread::sleep(duration);
    }
}

/// Lets the worker's other ready tasks (and pending I/O) run, then
/// continues (at once, in a task that cannot park: see [`sleep`]).
/// Outside a task, yields the thread.
pub fn yield_now() {
    if try_yield().is_none() {
        std::thread::yield_now();
    }
}

/// Whether the caller runs on a task's own coroutine.
pub(crate) fn in_task() -> bool {
    with_task(|task| task.is_some())
}

/// [`sleep`] for a task, saying whether it parked: `None` outside a task,
/// `Some(Err)` if the park was refused. Owns nothing across the park.
pub(crate) fn try_sleep(duration: Duration) -> Option<Result<(), ParkRefused>> {
    let deadline = deadline_after(duration);
    with_task(|task| {
        let (sched, _) = task?;
        while deadline.is_none_or(|d| Instant::now() < d) {
            if let Err(refused) = sched.park(deadline) {
                return Some(Err(refused));
            }
        }
        Some(Ok(()))
    })
}

/// [`yield_now`] for a task, saying whether it parked: `None` outside a
/// task, `Some(Err)` if the park was refused. Owns nothing across the park.
pub(crate) fn try_yield() -> Option<Result<(), ParkRefused>> {
    with_task(|task| task.map(|(sched, _)| sched.yield_now()))
}

/// Whether the caller's runtime has begun a graceful shutdown: a
/// connection handler should finish its current request and return.
/// `false` off the runtime's worker threads.
pub fn shutdown_requested() -> bool {
    with_scheduler(|sched| sched.is_some_and(Scheduler::shutting_down))
}
