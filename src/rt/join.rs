//! [`JoinHandle`]: the result of a spawned task (or of blocking work),
//! waited for from a task or from any thread.
//!
//! The result lives in a mutex shared by the handle and the task's
//! [`Completer`]. A waiter stores *how to wake it* next to the result and
//! then sleeps: a plain thread parks (`std::thread::park`), a task parks its
//! coroutine and is woken through its worker's mailbox (or directly, when
//! the completion happens on its own worker). The waiter checks for the
//! result and stores itself under the same lock the completer takes to
//! store the result, so a completion cannot slip between the check and the
//! sleep: the completer either sees the waiter, or the waiter sees the
//! result.

use std::any::Any;
use std::fmt;
use std::io;
use std::panic;
use std::sync::{Arc, Mutex};

use super::arena::Key;
use super::park::{worker_id, Caller, Waiter};
use super::remote::{Message, Remote};
use super::scheduler::with_scheduler;
use super::scheduler::{EndHook, Ended};

/// Why a task (or a blocking job) produced no value.
///
/// Non-exhaustive: match it with a wildcard arm (or use
/// [`is_panic`](Self::is_panic) and [`Display`](fmt::Display)).
#[non_exhaustive]
pub enum JoinError {
    /// Its body panicked; this is the payload.
    Panicked(Box<dyn Any + Send + 'static>),
    /// It was cancelled (runtime shutdown) or never ran because its worker
    /// was gone.
    Cancelled,
    /// The task or job could not be started: no thread, or no stack, could
    /// be had; the error says why. Its closure was dropped without running.
    NotStarted(io::Error),
}

impl JoinError {
    /// True for [`JoinError::Panicked`].
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked(_))
    }

    /// The panic payload, for `std::panic::resume_unwind`.
    ///
    /// # Panics
    /// If the task did not panic: it was cancelled, or it could not be
    /// started (the message then names the cause).
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self {
            JoinError::Panicked(p) => p,
            JoinError::Cancelled => panic!("jmpco: the task was cancelled, it did not panic"),
            JoinError::NotStarted(e) => {
                panic!("jmpco: the task could not be started ({e}), it did not panic")
            }
        }
    }
}

use crate::coroutine::panic_message;

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(p) => f
                .debug_tuple("Panicked")
                .field(&panic_message(p.as_ref()))
                .finish(),
            JoinError::Cancelled => f.write_str("Cancelled"),
            JoinError::NotStarted(e) => f.debug_tuple("NotStarted").field(e).finish(),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(p) => write!(f, "task panicked: {}", panic_message(p.as_ref())),
            JoinError::Cancelled => f.write_str("task was cancelled"),
            JoinError::NotStarted(e) => write!(f, "task could not be started: {e}"),
        }
    }
}

impl std::error::Error for JoinError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JoinError::NotStarted(e) => Some(e),
            _ => None,
        }
    }
}

struct Slot<T> {
    result: Option<Result<T, JoinError>>,
    waiter: Option<Waiter>,
}

/// The state shared by a [`JoinHandle`] and its [`Completer`].
pub(crate) struct JoinState<T> {
    slot: Mutex<Slot<T>>,
    /// The address of the mailbox of the worker that runs the task, as an
    /// identity (see [`worker_id`]); 0 for work off the workers (the
    /// blocking pool).
    home: usize,
    /// Where the task is, for [`JoinHandle::abort`].
    target: Arc<Mutex<Target>>,
}

/// Where an abort has to go.
enum Target {
    /// Not spawned yet (its spawn message is on its way); `true` once an
    /// abort was asked for, which the spawn then honours.
    Unbound(bool),
    /// A task: its worker's mailbox and its key there.
    Task(Arc<Remote>, Key),
    /// Work that cannot be aborted (the blocking pool's).
    Unabortable,
}

/// Aborts a task; see [`JoinHandle::abort`]. Cloneable, and `Send + Sync`:
/// any task or thread may hold one.
#[derive(Clone)]
pub struct AbortHandle {
    target: Arc<Mutex<Target>>,
}

impl AbortHandle {
    /// Records where the task was spawned, so aborts can reach it; an abort
    /// asked for before that is carried out now.
    pub(crate) fn bind(&self, remote: &Arc<Remote>, key: Key) {
        let aborted = {
            let mut target = self.target.lock().unwrap_or_else(|e| e.into_inner());
            let aborted = matches!(*target, Target::Unbound(true));
            *target = Target::Task(remote.clone(), key);
            aborted
        };
        if aborted {
            abort_task((remote.clone(), key));
        }
    }

    /// See [`JoinHandle::abort`].
    pub fn abort(&self) {
        let task = {
            let mut target = self.target.lock().unwrap_or_else(|e| e.into_inner());
            match &mut *target {
                Target::Unbound(aborted) => {
                    *aborted = true;
                    return;
                }
                Target::Task(remote, key) => (remote.clone(), *key),
                Target::Unabortable => return,
            }
        };
        abort_task(task);
    }
}

/// Aborts the task `key` of the worker whose mailbox is `remote`: directly
/// when called on that worker, else through its mailbox.
fn abort_task((remote, key): (Arc<Remote>, Key)) {
    with_scheduler(|sched| match sched {
        Some(s) if Arc::ptr_eq(s.remote(), &remote) => s.abort(key),
        _ => remote.send(Message::Abort(key)),
    });
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle").finish_non_exhaustive()
    }
}

impl<T> JoinState<T> {
    /// Stores the result (the first one wins) and wakes the waiter.
    pub(crate) fn complete(&self, result: Result<T, JoinError>) {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if slot.result.is_some() {
            return;
        }
        slot.result = Some(result);
        let waiter = slot.waiter.take();
        drop(slot);
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

/// The scheduler reports a panic or a cancel here; a task that returns
/// stores its value itself, through its [`Completer`].
impl<T> EndHook for JoinState<T> {
    fn ended(&self, how: Ended) {
        self.complete(Err(match how {
            Ended::Panicked(payload) => JoinError::Panicked(payload),
            Ended::Cancelled => JoinError::Cancelled,
        }));
    }
}

/// The producing side: completes the handle with a value, or with
/// [`JoinError::Cancelled`] if dropped without one (outside a panic: a
/// panicking task is reported by the scheduler, with its payload).
pub(crate) struct Completer<T> {
    state: Option<Arc<JoinState<T>>>,
}

impl<T: 'static> Completer<T> {
    /// The hook through which the scheduler reports a panic or a cancel.
    pub(crate) fn end_hook(&self) -> Option<Arc<dyn EndHook>> {
        self.state.clone().map(|s| s as Arc<dyn EndHook>)
    }
}

impl<T> Completer<T> {
    /// [`end_hook`](Self::end_hook) for a task whose result borrows for
    /// `'a` (a scoped task).
    pub(crate) fn end_hook_for<'a>(&self) -> Option<Arc<dyn EndHook + 'a>>
    where
        T: 'a,
    {
        self.state.clone().map(|s| s as Arc<dyn EndHook + 'a>)
    }

    pub(crate) fn complete(mut self, result: Result<T, JoinError>) {
        if let Some(state) = self.state.take() {
            state.complete(result);
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            if !std::thread::panicking() {
                state.complete(Err(JoinError::Cancelled));
            }
        }
    }
}

/// A new handle and the completer for it, for work off the workers.
pub(crate) fn channel<T>() -> (JoinHandle<T>, Completer<T>) {
    make(0)
}

/// A new handle and the completer for a task of the worker whose mailbox is
/// `home`.
pub(crate) fn channel_on<T>(home: &Arc<Remote>) -> (JoinHandle<T>, Completer<T>) {
    make(worker_id(home))
}

fn make<T>(home: usize) -> (JoinHandle<T>, Completer<T>) {
    let target = if home == 0 {
        Target::Unabortable
    } else {
        Target::Unbound(false)
    };
    let state = Arc::new(JoinState {
        slot: Mutex::new(Slot {
            result: None,
            waiter: None,
        }),
        home,
        target: Arc::new(Mutex::new(target)),
    });
    (
        JoinHandle {
            state: state.clone(),
        },
        Completer { state: Some(state) },
    )
}

/// Owns the result of a spawned task. Dropping it detaches the task (it
/// keeps running).
pub struct JoinHandle<T> {
    state: Arc<JoinState<T>>,
}

impl<T> JoinHandle<T> {
    /// Aborts the task: it is cancelled at its park point (or at its next
    /// park, if it is running: a task may abort itself), unwinding its
    /// stack so its destructors run and its sockets close; [`join`](Self::join)
    /// then reports [`JoinError::Cancelled`]. Every park is such a point:
    /// I/O, `accept`, `connect`, `sleep`, `wait_fd`, channel operations,
    /// locks, select, `join`, and `unblock` (whose blocking job runs on to
    /// its end on the pool; its result is dropped). Aborting a task that
    /// has ended does nothing, as does aborting blocking work
    /// ([`spawn_blocking`](super::spawn_blocking)'s handle). Works from any
    /// task or thread.
    pub fn abort(&self) {
        self.abort_handle().abort();
    }

    /// A handle that aborts the task from anywhere, without owning its
    /// result.
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            target: self.state.target.clone(),
        }
    }

    /// Waits for the task and returns its value, or why there is none.
    ///
    /// From a task this parks only that task (its worker runs others); from
    /// any other thread it blocks the thread. A task that cannot park (it is
    /// being cancelled, or unwinding a panic) gets `Cancelled` at once
    /// unless the result is already there.
    ///
    /// # Panics
    /// In a coroutine that a task created (or other code on a worker's
    /// thread outside its tasks), if the result is not there yet and the
    /// joined task runs on that same worker: only the thread could wait
    /// there, and the task it waits for would never run. (Joining work of
    /// another worker or of the blocking pool from there blocks the thread,
    /// stalling its worker meanwhile.)
    pub fn join(self) -> Result<T, JoinError> {
        if !self.wait_finished() {
            // Our own task cannot park: stop waiting.
            return Err(JoinError::Cancelled);
        }
        self.take_result()
            .expect("jmpco: a finished task's result is taken once")
    }

    /// Waits until the task has ended, leaving its result in place; `false`
    /// if the caller is a task that cannot park (it stops waiting then).
    /// The same rules as [`join`](Self::join) for where it may wait.
    pub(crate) fn wait_finished(&self) -> bool {
        let waiter = match Caller::here() {
            Caller::Can(waiter) => waiter,
            Caller::OnWorker(worker) => {
                if worker == self.state.home && !self.is_finished() {
                    joined_own_worker_from_outside_a_task();
                }
                Waiter::Thread(std::thread::current())
            }
        };
        loop {
            let mut slot = self.state.slot.lock().unwrap_or_else(|e| e.into_inner());
            if slot.result.is_some() {
                return true;
            }
            slot.waiter = Some(waiter.clone());
            drop(slot);
            if !waiter.sleep(None) {
                return false;
            }
        }
    }

    /// The result, if the task has ended and nobody took it yet.
    pub(crate) fn take_result(&self) -> Option<Result<T, JoinError>> {
        let mut slot = self.state.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.result.take()
    }

    /// Whether the task ended by a panic whose payload is still here.
    pub(crate) fn panicked(&self) -> bool {
        let slot = self.state.slot.lock().unwrap_or_else(|e| e.into_inner());
        matches!(slot.result, Some(Err(JoinError::Panicked(_))))
    }

    /// Like [`join`](Self::join), but a panic in the task continues here,
    /// and a task that was cancelled or could not be started is a panic
    /// (whose message, for one not started, contains the error).
    pub fn join_unwrap(self) -> T {
        match self.join() {
            Ok(v) => v,
            Err(JoinError::Panicked(p)) => panic::resume_unwind(p),
            Err(JoinError::Cancelled) => panic!("jmpco: joined task was cancelled"),
            Err(JoinError::NotStarted(e)) => {
                panic!("jmpco: joined task could not be started: {e}")
            }
        }
    }

    /// Whether the result is there (`join` would not wait).
    pub fn is_finished(&self) -> bool {
        let slot = self.state.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.result.is_some()
    }
}

/// The panic of a `join` that would deadlock its worker.
#[cold]
#[inline(never)]
#[track_caller]
fn joined_own_worker_from_outside_a_task() -> ! {
    panic!(
        "jmpco: JoinHandle::join called in a coroutine nested in a task (outside the task \
         itself) for a task of the same worker: only the task can park, and blocking the \
         worker's thread would deadlock it; join from the task, or poll is_finished()"
    )
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
