//! Task-local values ([`TaskLocal`], made by [`task_local!`](crate::task_local))
//! and the running task's id ([`task_id`]).
//!
//! Each task has its own value of each task-local, made by the key's
//! initialiser the first time the task uses it and dropped when the task
//! ends (returns, panics or is cancelled), after its stack has unwound.
//! Other tasks of the worker never see it: a thread-local would be shared
//! by every task of the worker.

use std::any::Any;
use std::fmt;

use super::scheduler::with_task;
use crate::CoroutineId;

/// A task's identity, unique in the process (its coroutine's id): for
/// logging which task did what.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(CoroutineId);

impl TaskId {
    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0.as_u64()
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The running task's id; `None` outside a task (a plain thread, or a
/// coroutine a task created).
pub fn task_id() -> Option<TaskId> {
    with_task(|task| task.and_then(|(sched, key)| sched.task_id(key)).map(TaskId))
}

/// A task-local key: declare one with [`task_local!`](crate::task_local).
///
/// ```
/// use std::cell::Cell;
/// use jmpco::rt::{self, Runtime};
///
/// jmpco::task_local! {
///     static REQUESTS: Cell<u32> = Cell::new(0);
/// }
///
/// let rt = Runtime::builder().worker_threads(1).build()?;
/// let counts = rt.block_on(|| {
///     REQUESTS.with(|n| n.set(n.get() + 5));
///     let other = rt::spawn(|| REQUESTS.with(|n| n.get())).join().unwrap();
///     (REQUESTS.with(|n| n.get()), other)
/// });
/// assert_eq!(counts, (5, 0), "each task has its own");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TaskLocal<T: 'static> {
    init: fn() -> T,
}

/// A task-local was used outside a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessError;

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a task-local was used outside a runtime task")
    }
}

impl std::error::Error for AccessError {}

impl<T: 'static> TaskLocal<T> {
    /// A key whose values start as `init()`; use [`task_local!`](crate::task_local).
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> TaskLocal<T> {
        TaskLocal { init }
    }

    /// Runs `f` with the running task's value.
    ///
    /// # Panics
    /// Outside a task (see [`try_with`](Self::try_with)).
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        self.try_with(f).unwrap_or_else(|e| panic!("jmpco: {e}"))
    }

    /// Runs `f` with the running task's value, or fails outside a task.
    ///
    /// # Errors
    /// Outside a task (a plain thread, or a coroutine a task created).
    pub fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, AccessError> {
        // The key's address names it: a static that is not zero-sized (it
        // holds a fn pointer), so no two keys share one.
        let id = self as *const TaskLocal<T> as usize;
        let init = || Box::new((self.init)()) as Box<dyn Any>;
        let value = with_task(|task| {
            let (sched, key) = task?;
            sched.task_local(key, id, &init)
        })
        .ok_or(AccessError)?;
        // SAFETY: `task_local` returns the task's boxed value for this key,
        // made by this key's initialiser (so a `T`); it lives until the task
        // record is dropped, after the task's code has ended, and the caller
        // is that task's code, so it outlives this borrow.
        let value = unsafe { &*value };
        Ok(f(value
            .downcast_ref::<T>()
            .expect("jmpco: a task-local's value has its key's type")))
    }
}

impl<T: 'static> fmt::Debug for TaskLocal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskLocal").finish_non_exhaustive()
    }
}

/// Declares task-local keys: `static NAME: TYPE = INIT;` makes a
/// [`TaskLocal`] whose value in each task starts as `INIT`.
#[macro_export]
macro_rules! task_local {
    ($($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr;)+) => {
        $(
            $(#[$attr])*
            $vis static $name: $crate::rt::TaskLocal<$t> = $crate::rt::TaskLocal::new({
                fn init() -> $t {
                    $init
                }
                init
            });
        )+
    };
}
