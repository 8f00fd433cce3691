//! Foreign tasks: tasks whose bodies the runtime must never unwind (C code
//! spawned through the C API's runtime tier), with an outcome that any
//! task or thread can wait for, and a cooperative cancel.
//!
//! # The model
//! [`spawn`] queues a body on this thread's scheduler (`local.rs`: the one
//! whose loop runs here, else the thread's local one) with
//! [`CancelPolicy::refuse`]. So [`ForeignTask::cancel`] never runs or frees
//! anything on the body's stack: it marks the task cancelling, after which
//! its pending park (woken for it) and every later one are refused, and the
//! body, seeing its waits fail, returns by itself; a task not started yet
//! is dropped unrun. Only teardown (the thread exits with the task
//! unfinished, a runtime shuts down past its deadline) frees the stack of
//! a parked body as it is.
//!
//! The outcome is stored once, by whoever ends the task: the body's value
//! when it returns, or "no value" when the scheduler reports it ended
//! without one (cancelled unstarted, abandoned at teardown), through the
//! task's end hook. [`ForeignTask::join`] waits for it: a task parks (its
//! scheduler runs the others), anything else blocks its thread, except
//! where the wait could never end, which is refused instead. Waiters are
//! recorded under the same lock the outcome is stored under and woken after
//! it is stored, so none is missed (see `park.rs`).
//!
//! # Nothing owned across a park
//! The body reaches its `ForeignTask` through a raw pointer: the task
//! record owns an `Arc` of it (its end hook) until the task has ended
//! (`Scheduler::spawn`), which is after the body's last instruction. A
//! waiting task's frames in [`ForeignTask::join`] hold references, keys
//! and flags across its park; its waiter entry is owned by the slot. So
//! teardown can abandon either without leaking.

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::thread;

use super::arena::Key;
use super::local;
use super::park::Waiter;
use super::remote::Remote;
use super::scheduler::{with_task, CancelPolicy, EndHook, Ended, Scheduler};
use crate::Backend;

/// A foreign task, shared by its body (through the task record) and every
/// handle to it. `Send + Sync` for a `Send` value: handles may be used from
/// any thread.
pub(crate) struct ForeignTask<T> {
    slot: Mutex<Slot<T>>,
    /// Its scheduler's mailbox and its key there; set right after the
    /// spawn, before any handle exists. Weak: a handle kept after the
    /// thread exited does not keep the mailbox's eventfd open (and the
    /// allocation, so the address, stays while the weak count lives).
    home: OnceLock<(Weak<Remote>, Key)>,
}

struct Slot<T> {
    /// `Some` once the task has ended: its body's value, or `None` when it
    /// produced none.
    outcome: Option<Option<T>>,
    /// Who waits in [`ForeignTask::join`]; woken (and dropped) once the
    /// outcome is stored.
    waiters: Vec<Waiter>,
}

/// Why [`ForeignTask::join`] has no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JoinFailed {
    /// The task ended without one: cancelled before it started, or freed
    /// unfinished at teardown.
    NoValue,
    /// The wait could never end: the caller is the task itself, or runs on
    /// the task's own thread where it can neither park nor let the task's
    /// scheduler run (outside its loop, or in a coroutine nested in one of
    /// its tasks).
    Deadlock,
    /// The caller is a task whose parks are refused (being cancelled): it
    /// does not wait, whatever the outcome.
    Refused,
}

/// Queues `body` as a foreign task on this thread's scheduler, with the
/// given stack and switch; it starts on a later loop turn. Fails if the
/// scheduler or the stack cannot be made.
///
/// # Safety
/// As for [`CancelPolicy::refuse`]: at every point where the task can be
/// abandoned (parked, or not started), nothing on its stack, `body`
/// included, owns a value whose destructor must run.
pub(crate) unsafe fn spawn<T, F>(
    stack_size: usize,
    backend: Backend,
    body: F,
) -> io::Result<Arc<ForeignTask<T>>>
where
    T: Copy + Send + 'static,
    F: FnOnce() -> T + 'static,
{
    let task = Arc::new(ForeignTask {
        slot: Mutex::new(Slot {
            outcome: None,
            waiters: Vec::new(),
        }),
        home: OnceLock::new(),
    });
    let shared = Arc::as_ptr(&task);
    let run = move || {
        let value = body();
        // SAFETY: the task record owns an `Arc` of the task (its end hook)
        // until the task has ended, which is after this closure returns.
        unsafe { &*shared }.finish(Some(value));
    };
    let end: Arc<dyn EndHook> = task.clone();
    // SAFETY: the caller's contract covers `body`; `run` adds a raw pointer.
    let policy = unsafe { CancelPolicy::refuse() };
    let (remote, key) = local::spawn_here(stack_size, backend, policy, Some(end), run)?;
    // Fresh: nobody else has the task yet, so this is the only set.
    let _ = task.home.set((Arc::downgrade(&remote), key));
    Ok(task)
}

impl<T: Copy + Send> ForeignTask<T> {
    fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores the outcome (the first one told wins) and wakes the waiters.
    fn finish(&self, outcome: Option<T>) {
        let waiters = {
            let mut slot = self.lock();
            if slot.outcome.is_some() {
                return;
            }
            slot.outcome = Some(outcome);
            std::mem::take(&mut slot.waiters)
        };
        for waiter in waiters {
            waiter.wake();
        }
    }

    /// Whether the task has ended.
    pub(crate) fn is_finished(&self) -> bool {
        self.lock().outcome.is_some()
    }

    /// Cancels the task cooperatively (see the module docs); from any
    /// thread. From another thread than the task's it goes through the
    /// scheduler's mailbox, read between loop turns. Nothing happens to a
    /// task that has ended.
    pub(crate) fn cancel(&self) {
        if self.is_finished() {
            return;
        }
        // Gone: its scheduler has been dropped, and with it the task.
        if let Some((remote, key)) = self.home.get() {
            if let Some(remote) = remote.upgrade() {
                local::abort(&remote, *key);
            }
        }
    }

    /// Waits for the task's end and returns its value. A task parks; a
    /// plain thread (or a coroutine nested in a task of another thread's
    /// scheduler) blocks its thread. See [`JoinFailed`] for the refusals.
    /// Does not take the outcome: every join gets it.
    pub(crate) fn join(&self) -> Result<T, JoinFailed> {
        let as_task = with_task(|task| {
            let (sched, me) = task?;
            Some(self.join_as_task(sched, me))
        });
        match as_task {
            Some(result) => result,
            None => self.join_as_thread(),
        }
    }

    fn join_as_task(&self, sched: &Scheduler, me: Key) -> Result<T, JoinFailed> {
        if sched.is_cancelling(me) {
            return Err(JoinFailed::Refused);
        }
        let itself = self.home.get().is_some_and(|(remote, key)| {
            std::ptr::eq(remote.as_ptr(), Arc::as_ptr(sched.remote())) && *key == me
        });
        if itself {
            return Err(JoinFailed::Deadlock);
        }
        let mut registered = false;
        loop {
            {
                let mut slot = self.lock();
                if let Some(outcome) = slot.outcome {
                    return outcome.ok_or(JoinFailed::NoValue);
                }
                // While we wait only `finish` removes the entry, and it
                // stores the outcome first: after a wake without one, it is
                // still there.
                if !registered {
                    slot.waiters.push(Waiter::Task(sched.remote().clone(), me));
                    registered = true;
                }
            }
            // Giving up (a refused park, or an unwind out of it: an abort,
            // an `rt::timeout` deadline, which the C tier's exports stop so
            // the task goes on) takes the entry back, or every join given
            // up would leave one, and its wake, behind until the task ends.
            // Caught and resumed: the frame owns nothing across the park.
            let parked = panic::catch_unwind(AssertUnwindSafe(|| sched.park(None)));
            if !matches!(parked, Ok(Ok(()))) {
                self.forget_waiter(sched, me);
            }
            match parked {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(JoinFailed::Refused),
                Err(payload) => panic::resume_unwind(payload),
            }
        }
    }

    /// Removes the entry of task `me` of `sched` from the waiters.
    fn forget_waiter(&self, sched: &Scheduler, me: Key) {
        self.lock().waiters.retain(|waiter| {
            !matches!(waiter, Waiter::Task(remote, key)
                if *key == me && Arc::ptr_eq(remote, sched.remote()))
        });
    }

    fn join_as_thread(&self) -> Result<T, JoinFailed> {
        let mut registered = false;
        loop {
            {
                let mut slot = self.lock();
                if let Some(outcome) = slot.outcome {
                    return outcome.ok_or(JoinFailed::NoValue);
                }
                // The task runs only in its scheduler's loop on its own
                // thread, which blocking here would keep from running.
                if self
                    .home
                    .get()
                    .is_some_and(|(remote, _)| local::is_this_threads(remote))
                {
                    return Err(JoinFailed::Deadlock);
                }
                if !registered {
                    slot.waiters.push(Waiter::Thread(thread::current()));
                    registered = true;
                }
            }
            thread::park();
        }
    }
}

/// The scheduler reports an end without a value here (cancelled unstarted,
/// abandoned at teardown; a Rust body's panic too); a body that returns
/// stores its value itself.
impl<T: Copy + Send> EndHook for ForeignTask<T> {
    fn ended(&self, _how: Ended) {
        self.finish(None);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::Duration;

    use super::{spawn, JoinFailed};
    use crate::rt::local::run_here;
    use crate::rt::task::{cancelling, try_sleep, try_yield};
    use crate::stack::DEFAULT_STACK_SIZE;
    use crate::Backend;

    fn on_a_new_thread(test: impl FnOnce() + Send + 'static) {
        std::thread::spawn(test).join().expect("the test thread");
    }

    /// Spawns a foreign task with the defaults.
    fn foreign<T: Copy + Send + 'static>(
        body: impl FnOnce() -> T + 'static,
    ) -> std::sync::Arc<super::ForeignTask<T>> {
        // SAFETY: the tests' bodies hold only `Rc`s of test state across a
        // park, which they are willing to leak at teardown.
        unsafe { spawn(DEFAULT_STACK_SIZE, Backend::default(), body) }.expect("spawn")
    }

    #[test]
    fn join_returns_the_value_to_a_task_and_to_later_joins() {
        on_a_new_thread(|| {
            let child = foreign(|| {
                try_sleep(Duration::from_millis(5))
                    .expect("a task")
                    .expect("parks");
                7
            });
            let c = child.clone();
            let got = Rc::new(Cell::new(None));
            let g = got.clone();
            let parent = foreign(move || {
                g.set(Some(c.join()));
                1
            });
            assert_eq!(child.join(), Err(JoinFailed::Deadlock), "outside the loop");
            run_here().expect("run");
            assert_eq!(got.get(), Some(Ok(7)));
            assert_eq!(child.join(), Ok(7));
            assert_eq!(child.join(), Ok(7), "every join gets it");
            assert_eq!(parent.join(), Ok(1));
        });
    }

    #[test]
    fn cancel_refuses_the_pending_and_every_later_park_and_the_body_returns() {
        on_a_new_thread(|| {
            let seen = Rc::new(Cell::new((false, false, false, false)));
            let s = seen.clone();
            let task = foreign(move || {
                let pending = matches!(try_sleep(Duration::from_secs(30)), Some(Err(_)));
                let later = matches!(try_yield(), Some(Err(_)));
                s.set((pending, later, cancelling(), true));
                5
            });
            let t = task.clone();
            let _canceller = foreign(move || {
                try_yield().expect("a task").expect("yields");
                t.cancel();
                0
            });
            let start = std::time::Instant::now();
            run_here().expect("run");
            assert!(start.elapsed() < Duration::from_secs(10));
            assert_eq!(seen.get(), (true, true, true, true));
            assert_eq!(task.join(), Ok(5), "the body returned its value");
        });
    }

    #[test]
    fn a_join_given_up_by_a_deadline_or_a_cancel_leaves_no_waiter_behind() {
        on_a_new_thread(|| {
            let child = foreign(|| {
                try_sleep(Duration::from_millis(100))
                    .expect("a task")
                    .expect("parks");
                1
            });
            let c = child.clone();
            let timed_out = foreign(move || {
                let mut elapsed = 0;
                for _ in 0..3 {
                    let joined = crate::rt::timeout(Duration::from_millis(1), || c.join());
                    elapsed += usize::from(joined.is_err());
                }
                (elapsed, c.lock().waiters.len())
            });
            let other = foreign(|| {
                try_sleep(Duration::from_millis(100))
                    .expect("a task")
                    .expect("parks");
                2
            });
            let c = other.clone();
            let cancelled = foreign(move || {
                let refused = c.join() == Err(JoinFailed::Refused);
                (usize::from(refused), c.lock().waiters.len())
            });
            let victim = cancelled.clone();
            let _canceller = foreign(move || {
                try_sleep(Duration::from_millis(20))
                    .expect("a task")
                    .expect("parks");
                victim.cancel();
            });
            run_here().expect("run");
            assert_eq!(timed_out.join(), Ok((3, 0)), "deadlines: no waiter left");
            assert_eq!(cancelled.join(), Ok((1, 0)), "cancel: no waiter left");
            assert_eq!(child.join(), Ok(1));
            assert_eq!(other.join(), Ok(2));
        });
    }

    #[test]
    fn cancel_before_the_start_drops_the_body_unrun() {
        on_a_new_thread(|| {
            let ran = Rc::new(Cell::new(false));
            let r = ran.clone();
            let task = foreign(move || r.set(true));
            task.cancel();
            task.cancel();
            run_here().expect("run");
            assert!(!ran.get());
            assert_eq!(task.join(), Err(JoinFailed::NoValue));
        });
    }

    #[test]
    fn a_thread_joins_a_task_of_another_thread_and_teardown_reports_no_value() {
        let (tx, rx) = std::sync::mpsc::channel();
        let runner = std::thread::spawn(move || {
            let done = foreign(|| 3_u32);
            let never = foreign(|| 4_u32);
            tx.send((done.clone(), never.clone())).expect("send");
            // Run only the first: `never` is cancelled before it starts.
            never.cancel();
            run_here().expect("run");
            let unrun = foreign(|| 5_u32);
            tx.send((unrun.clone(), unrun)).expect("send");
            // Exits with `unrun` never run: teardown abandons it.
        });
        let (done, never) = rx.recv().expect("handles");
        assert_eq!(done.join(), Ok(3), "blocks until the other thread ran it");
        assert_eq!(never.join(), Err(JoinFailed::NoValue));
        let (unrun, _) = rx.recv().expect("handles");
        runner.join().expect("the runner");
        assert_eq!(unrun.join(), Err(JoinFailed::NoValue));
        unrun.cancel(); // ended: nothing happens
    }
}
