//! What a task can do to itself and its worker: [`spawn`], [`sleep`],
//! [`yield_now`], [`shutdown_requested`].

use std::time::{Duration, Instant};

use super::timer::deadline_after;

use super::join::{self, JoinHandle};
use super::scheduler::{with_scheduler, with_task, DeadlinePassed, ParkRefused, Role, Scheduler};

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
        let value = f();
        drop_task_locals();
        completer.complete(Ok(value))
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

/// Whether the caller runs on a task's own coroutine and that task is
/// marked cancelling: every park it attempts is refused.
pub(crate) fn cancelling() -> bool {
    with_scheduler(|sched| sched.is_some_and(Scheduler::running_task_is_cancelling))
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

/// A [`timeout`] (or [`deadline`]) whose deadline passed before its closure
/// ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed;

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Runs `f` with a deadline `timeout` from now (`Duration::MAX`: none):
/// [`deadline`] with `Instant::now() + timeout`.
///
/// ```
/// use std::time::Duration;
/// use jmpco::rt::{self, Runtime};
///
/// let rt = Runtime::builder().worker_threads(1).build()?;
/// let (quick, slow) = rt.block_on(|| {
///     let quick = rt::timeout(Duration::from_secs(5), || 1 + 1);
///     let slow = rt::timeout(Duration::from_millis(10), || rt::sleep(Duration::from_secs(60)));
///     (quick, slow)
/// });
/// assert_eq!(quick, Ok(2));
/// assert_eq!(slow, Err(rt::Elapsed));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn timeout<T>(timeout: Duration, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    deadline_inner(deadline_after(timeout), f)
}

/// Runs `f`, and if it is still parked when `at` passes, unwinds it from
/// that park point back to here (its destructors run) and returns
/// [`Elapsed`]. Every park in `f` is bounded by `at` (I/O, `sleep`,
/// channels, locks, select, `join`): the park wakes at the deadline, and
/// the unwind starts there. A deadline that does not fire costs a push and
/// a pop here and, in each park, a shorter timer: no system call.
///
/// Deadlines nest: each park is bounded by the earliest deadline it is
/// inside, and only the frame of the deadline that fired returns
/// `Elapsed`; inner frames pass its unwind through. Locks whose guards the
/// unwind drops are not poisoned (it is no panic). Code that runs without
/// parking is not interrupted: the deadline is checked where the task
/// parks.
///
/// Outside a task nothing can be interrupted: `f` runs to its end, and its
/// value is dropped for `Elapsed` if that end came after `at`.
pub fn deadline<T>(at: Instant, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    deadline_inner(Some(at), f)
}

fn deadline_inner<T>(at: Option<Instant>, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    let Some(at) = at else {
        return Ok(f());
    };
    let frame = with_task(|task| task.map(|(sched, key)| (key, sched.push_deadline(key, at))));
    let Some((key, frame)) = frame else {
        let value = f();
        return if Instant::now() > at {
            Err(Elapsed)
        } else {
            Ok(value)
        };
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let caught = matches!(&outcome, Err(p) if p.downcast_ref::<DeadlinePassed>().is_some_and(|d| d.0 == frame));
    with_scheduler(|sched| {
        if let Some(sched) = sched {
            sched.pop_deadline(key, frame, caught);
        }
    });
    match outcome {
        Ok(value) => Ok(value),
        Err(_) if caught => Err(Elapsed),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Whether `payload` is the unwind of a [`timeout`] frame's deadline.
pub(crate) fn is_deadline_unwind(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<DeadlinePassed>()
}

/// The running task's deadline unwind (its `payload`, see
/// [`is_deadline_unwind`]) was caught short of its [`timeout`] frame, by
/// code that cannot let it pass (the C API's exports: C frames lie
/// between). The task no longer counts as unwinding (later panics poison
/// locks again); the frame is still armed, and its deadline has passed, so
/// the task's next park fires it again and the unwind resumes from there.
pub(crate) fn stop_deadline_unwind() {
    with_task(|task| {
        if let Some((sched, key)) = task {
            sched.deadline_unwind_stopped(key);
        }
    });
}

/// Drops the running task's task-local values: its body has returned, and
/// whoever joins it must find them gone.
pub(crate) fn drop_task_locals() {
    with_task(|task| {
        if let Some((sched, key)) = task {
            sched.drop_locals(key);
        }
    });
}

/// Whether the running task unwinds on purpose (it is being cancelled, or
/// a `timeout` fired), not for a panic: locks then do not poison.
pub(crate) fn unwinding_on_purpose() -> bool {
    crate::coroutine::running_is_cancelled()
        || with_task(|task| task.is_some_and(|(sched, key)| sched.deadline_unwinding(key)))
}
