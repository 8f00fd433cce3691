//! [`scope`]: tasks that may borrow the caller's locals, as
//! `std::thread::scope` lets threads do.
//!
//! # Why borrowing is sound here
//! A child's closure may borrow anything that outlives the call to
//! [`scope`] (`'env`), non-`Send` values included: children run as tasks
//! of the caller's own worker, and tasks never migrate, so they never leave
//! the caller's thread. What makes the borrows last long enough is that
//! `scope` does not return, and does not let an unwind leave its frame,
//! until every child has ended:
//!
//! * when the body returns, it joins every child not joined already;
//! * when the body unwinds (it panicked, its task is being cancelled, or a
//!   `timeout` around it fired), or the task is cancelled while `scope`
//!   waits, every child still alive is aborted right there. A child is never
//!   running then (its worker runs the caller), so the abort cancels it at
//!   once: its stack unwinds inside the abort and it has ended when the
//!   abort returns. Then the unwind goes on.
//! * If a child could not be ended that way (it is itself in the middle of
//!   being cancelled, further down this very stack: a child's destructor
//!   aborted its parent), the borrows would outlive their owner: the process
//!   aborts with a message instead.
//!
//! The scheduler's records of a child (its closure, its end hook) hold the
//! borrows only until the child ends, which is before `scope` returns;
//! that is why the closure's lifetime may be erased to hand it to the
//! scheduler.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;

use super::channel::{self, Receiver, Sender};
use super::join::{self, JoinError, JoinHandle};
use super::scheduler::{with_task, EndHook, Role};
use crate::coroutine::Payload;

/// Runs `f` with a [`Scope`] in which it can spawn tasks that borrow from
/// the caller; returns once every such task has ended. If the body, or a
/// child that nobody joined, panics, the other children are cancelled, all
/// are awaited, and the first panic continues from here.
///
/// ```
/// use std::cell::{Cell, RefCell};
/// use jmpco::rt::{self, Runtime};
///
/// let rt = Runtime::builder().worker_threads(1).build()?;
/// let log = rt.block_on(|| {
///     let log = RefCell::new(Vec::new()); // not Send, borrowed below
///     rt::scope(|s| {
///         for i in 0..3 {
///             let log = &log;
///             s.spawn(move || log.borrow_mut().push(i));
///         }
///     });
///     log.into_inner()
/// });
/// assert_eq!(log, [0, 1, 2]);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Panics
/// Outside a task (there is no worker to run the children on), and with
/// the first panic of the body or of a child nobody joined.
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    assert!(
        with_task(|task| task.is_some()),
        "jmpco: rt::scope called outside a runtime task"
    );
    let (ended_tx, ended_rx) = channel::unbounded();
    let scope = Scope {
        children: RefCell::new(Vec::new()),
        ended_tx,
        ended_rx,
        _scope: PhantomData,
        _env: PhantomData,
    };
    let body = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    let waited = match &body {
        Ok(_) => panic::catch_unwind(AssertUnwindSafe(|| scope.join_all())),
        Err(_) => Ok(None),
    };
    // From here on, nothing may leave this frame before every child ended.
    scope.end_all();
    match (body, waited) {
        (Err(payload), _) | (Ok(_), Err(payload)) => panic::resume_unwind(payload),
        (Ok(_), Ok(Some(child_panic))) => panic::resume_unwind(child_panic),
        (Ok(value), Ok(None)) => value,
    }
}

/// The set of children of one [`scope`] call.
pub struct Scope<'scope, 'env: 'scope> {
    /// Every child, joined or not. Their `'scope` is erased (see `spawn`):
    /// a field bound by `'scope` would keep the scope borrowed until its
    /// own drop.
    children: RefCell<Vec<Rc<dyn Child>>>,
    /// Each child sends its index here when its body is done (returned,
    /// unwound or dropped unstarted): the scope waits for whichever ends.
    ended_tx: Sender<usize>,
    ended_rx: Receiver<usize>,
    /// Invariant in `'scope` and `'env`, as `std::thread::Scope` is.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

/// A child task of a [`scope`], joinable before the scope ends.
pub struct ScopedJoinHandle<'scope, T> {
    child: Rc<Shared<T>>,
    _scope: PhantomData<&'scope ()>,
}

/// A child, as its handle and the scope both see it.
struct Shared<T> {
    handle: JoinHandle<T>,
    /// Joined through its [`ScopedJoinHandle`]: its panic, if any, is the
    /// joiner's, not the scope's.
    joined: Cell<bool>,
    /// Seen to have ended (its result may have been taken since).
    done: Cell<bool>,
}

impl<T> Shared<T> {
    fn finished(&self) -> bool {
        if self.handle.is_finished() {
            self.done.set(true);
        }
        self.done.get()
    }
}

/// What the scope needs of each child, whatever its result type. Nothing
/// here takes the child's handle away: whatever else happens, the scope
/// can still abort it.
trait Child {
    /// Waits until it has ended (`false`: the caller cannot park); its
    /// panic, if it panicked and nobody joined it.
    fn wait(&self) -> (bool, Option<Payload>);
    /// Aborts it if it has not ended; whether it has ended afterwards.
    fn end(&self) -> bool;
    /// Whether it has ended.
    fn ended(&self) -> bool;
}

/// Sends its child's index when the child's body is done, however it ends.
struct Ended {
    index: usize,
    tx: Sender<usize>,
}

impl Drop for Ended {
    fn drop(&mut self) {
        // Unbounded: never parks, so this works while unwinding too.
        let _ = self.tx.try_send(self.index);
    }
}

impl<T> Child for Shared<T> {
    fn wait(&self) -> (bool, Option<Payload>) {
        if !self.finished() && !self.handle.wait_finished() {
            return (false, None);
        }
        self.done.set(true);
        if self.joined.get() || !self.handle.panicked() {
            return (true, None);
        }
        match self.handle.take_result() {
            Some(Err(JoinError::Panicked(payload))) => (true, Some(payload)),
            _ => (true, None),
        }
    }

    fn end(&self) -> bool {
        if !self.finished() {
            self.handle.abort();
        }
        self.finished()
    }

    fn ended(&self) -> bool {
        self.finished()
    }
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Spawns `f` as a task on the caller's worker; it may borrow anything
    /// that outlives the [`scope`] call.
    ///
    /// # Panics
    /// If no stack can be had for the task.
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + 'scope,
        T: 'scope,
    {
        let handle = with_task(|task| {
            let (sched, _) = task.expect("jmpco: Scope::spawn outside its scope's task");
            let (handle, completer) = join::channel_on(sched.remote());
            let end: Arc<dyn EndHook + 'scope> = completer
                .end_hook_for()
                .expect("a fresh completer holds its state");
            let ended = Ended {
                index: self.children.borrow().len(),
                tx: self.ended_tx.clone(),
            };
            let body: Box<dyn FnOnce() + 'scope> = Box::new(move || {
                let _ended = ended;
                let value = f();
                super::task::drop_task_locals();
                completer.complete(Ok(value));
            });
            // SAFETY: lifetime erasure only, of two values the scheduler
            // keeps no longer than the child task lives: the closure (run or
            // dropped by then) and the end hook (dropped with the task's
            // record). `scope` does not return, nor let an unwind pass its
            // frame, before every child has ended (the module docs), so
            // nothing these borrow is gone while the scheduler holds them.
            let (body, end) = unsafe {
                (
                    std::mem::transmute::<Box<dyn FnOnce() + 'scope>, Box<dyn FnOnce() + 'static>>(
                        body,
                    ),
                    std::mem::transmute::<Arc<dyn EndHook + 'scope>, Arc<dyn EndHook + 'static>>(
                        end,
                    ),
                )
            };
            let key = sched
                .spawn(Role::Work, Some(end), body)
                .unwrap_or_else(|e| panic!("jmpco: cannot spawn a scoped task: {e}"));
            // Ended at once by `end_all` from any task: see `never_hand_off`.
            sched.never_hand_off(key);
            handle.abort_handle().bind(sched.remote(), key);
            handle
        });
        let child = Rc::new(Shared {
            handle,
            joined: Cell::new(false),
            done: Cell::new(false),
        });
        let entry: Rc<dyn Child + 'scope> = child.clone();
        // SAFETY: lifetime erasure only. The list lives in this `Scope`,
        // which `scope` owns and drops before it returns, after every child
        // has ended; what an entry borrows (the child's result) outlives the
        // `scope` call, and a clone taken from the list lives only inside
        // `join_all` / `end_all`.
        let entry = unsafe { std::mem::transmute::<Rc<dyn Child + 'scope>, Rc<dyn Child>>(entry) };
        self.children.borrow_mut().push(entry);
        ScopedJoinHandle {
            child,
            _scope: PhantomData,
        }
    }

    /// Waits for every child, in the order they end; on the first panic of
    /// one nobody joined, aborts the others. That first panic, if any.
    fn join_all(&self) -> Option<Payload> {
        let mut first = None;
        loop {
            // Children may spawn children into this scope meanwhile.
            let all: Vec<_> = self.children.borrow().clone();
            if all.iter().all(|child| child.ended()) {
                break;
            }
            let Ok(index) = self.ended_rx.recv() else {
                break; // the caller cannot park: `end_all` ends the rest
            };
            let Some(child) = self.children.borrow().get(index).cloned() else {
                continue;
            };
            let (ended, panic) = child.wait();
            if !ended {
                break;
            }
            if let Some(payload) = panic {
                if first.is_none() {
                    first = Some(payload);
                    let all: Vec<_> = self.children.borrow().clone();
                    for other in all {
                        other.end();
                    }
                }
            }
        }
        first
    }

    /// Ends every child still alive, at once (see the module docs).
    fn end_all(&self) {
        let mut at = 0;
        loop {
            let Some(child) = self.children.borrow().get(at).cloned() else {
                break;
            };
            if !child.end() {
                eprintln!(
                    "jmpco: a scoped task could not be ended before its scope's frame went \
                     away (it is being cancelled further down the stack), and it borrows from \
                     that frame; aborting"
                );
                std::process::abort();
            }
            at += 1;
        }
    }
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the child and returns its value, or why there is none (a
    /// panic joined here is not the scope's any more).
    pub fn join(self) -> Result<T, JoinError> {
        self.child.joined.set(true);
        if !self.child.finished() && !self.child.handle.wait_finished() {
            return Err(JoinError::Cancelled);
        }
        self.child.done.set(true);
        self.child
            .handle
            .take_result()
            .unwrap_or(Err(JoinError::Cancelled))
    }

    /// Whether the child has ended.
    pub fn is_finished(&self) -> bool {
        self.child.finished()
    }

    /// Aborts the child (see [`JoinHandle::abort`]).
    pub fn abort(&self) {
        self.child.handle.abort();
    }
}

impl std::fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("children", &self.children.borrow().len())
            .finish()
    }
}

impl<T> std::fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
