//! Waiting for something another task or thread does, and waking the
//! waiter from anywhere: the primitive under join handles and channels.
//!
//! A [`Waiter`] is how to wake someone: a task (through its worker's
//! mailbox, or directly when the waker runs on the same worker: no system
//! call) or a plain thread (`unpark`). A [`Parker`] is one wait of one
//! waiter: whoever ends the wait *claims* it first with a compare-and-swap,
//! so of all the parties that may end one wait (a sender, a receiver, a
//! disconnect, the waiter's own timeout or cancellation), exactly one does,
//! and the loser knows it lost. Only then does the winner wake the waiter.
//!
//! # No lost wake-up
//! A waiter records its parker where wakers will find it (under the lock
//! of the thing it waits for, after checking that thing under the same
//! lock), releases the lock, then sleeps until its parker is claimed. A
//! claim that comes before the sleep is seen by the sleep's first check;
//! a thread's `unpark` before its `park` is kept by std; and a task's wake
//! through its mailbox is read by its worker's loop, which runs only once
//! the task has parked. Wakes are hints: every sleeper re-checks its
//! parker, so a spurious one costs a loop turn.
//!
//! # Handing over
//! A claimer that moves a value into the waiter's entry (a sender filling
//! a receiver's slot) or out of it (a receiver taking a waiting sender's
//! value) claims with [`Parker::try_hand_over`]: the claim is invisible to
//! the waiter until the claimer has moved the value and ended it, so the
//! entry's contents need no lock: the claimer owns them from its claim to
//! its end, the waiter before it published the entry and once the wait is
//! settled.
//!
//! A parker all of whose claimers, and its waiter when it gives up, hold
//! one lock while they do it (a channel entry's own parker, under its
//! channel's lock) needs no compare-and-swap: a claim is a look
//! ([`Parker::waits_locked`]) and, once the value has moved, one store
//! that claims and ends the claim at once ([`Parker::end_claim_locked`]).
//!
//! A claimer that ends a wait wakes the waiter, or takes what it needs to
//! wake it later, first ([`Parker::wake_here_or_token`]): once the claim
//! has ended, the waiter may free the parker.
//!
//! # Giving up
//! A waiter that stops waiting without being claimed (its deadline passed,
//! its park was refused, or it is cancelled and unwinds from the sleep)
//! claims its own parker as aborted. If that fails, a waker claimed it
//! first and did its part (handed it a value, took its value): the waiter
//! must then act as woken, or pass on what it was handed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::Thread;
use std::time::Instant;

use super::arena::Key;
use super::remote::{Message, Remote};
use super::scheduler::{with_scheduler, with_task};

/// Who waits, and how to wake them.
pub(crate) enum Waiter {
    /// A plain thread.
    Thread(Thread),
    /// A task of the worker whose mailbox is the `Remote`.
    Task(Arc<Remote>, Key),
}

/// Where a would-be waiter runs.
pub(crate) enum Caller {
    /// On a task or a plain thread: it can wait as this waiter.
    Can(Waiter),
    /// On a worker's thread outside its tasks (in a coroutine a task
    /// created, say): no task to park, and blocking the thread stalls the
    /// worker, deadlocking it if what it waits for runs there. The value is
    /// the worker's identity ([`Waiter::worker_id`]).
    OnWorker(usize),
}

impl Caller {
    /// The caller, as a waiter if it can be one.
    pub(crate) fn here() -> Caller {
        with_task(|task| match task {
            Some((sched, key)) => Caller::Can(Waiter::Task(sched.remote().clone(), key)),
            None => with_scheduler(|sched| match sched {
                Some(s) => Caller::OnWorker(worker_id(s.remote())),
                None => Caller::Can(Waiter::Thread(std::thread::current())),
            }),
        })
    }
}

/// A worker's identity: its mailbox's address (never dereferenced).
pub(crate) fn worker_id(remote: &Arc<Remote>) -> usize {
    Arc::as_ptr(remote) as usize
}

impl Waiter {
    /// Wakes the waiter: a task of this thread's worker directly, a task of
    /// another worker by message, a thread by `unpark`.
    #[inline]
    pub(crate) fn wake(&self) {
        if let Some(later) = self.wake_here_or_token() {
            later.wake();
        }
    }

    /// Makes this the caller's waiter, as [`Caller::here`] would, keeping
    /// it when it is the caller already (a handle's kept entry, waited on
    /// again by the same task): no reference count changes then. `Err`
    /// with the worker's identity where the caller cannot wait
    /// ([`Caller::OnWorker`]); the waiter is left as it was.
    #[inline(always)]
    pub(crate) fn become_caller(&mut self) -> Result<(), usize> {
        let already = with_task(|task| {
            matches!((task, &*self), (Some((sched, key)), Waiter::Task(remote, k))
                if *k == key && Arc::ptr_eq(remote, sched.remote()))
        });
        if already {
            return Ok(());
        }
        self.become_another_caller()
    }

    /// [`become_caller`](Self::become_caller) where the waiter changes.
    #[inline(never)]
    fn become_another_caller(&mut self) -> Result<(), usize> {
        match Caller::here() {
            Caller::Can(waiter) => {
                *self = waiter;
                Ok(())
            }
            Caller::OnWorker(worker) => Err(worker),
        }
    }

    /// Sleeps until woken (or spuriously) or `deadline`; `false` if the
    /// waiter is a task that cannot park (being cancelled, or unwinding).
    #[inline]
    pub(crate) fn sleep(&self, deadline: Option<Instant>) -> bool {
        match self {
            Waiter::Thread(_) => {
                match deadline {
                    None => std::thread::park(),
                    Some(d) => {
                        std::thread::park_timeout(d.saturating_duration_since(Instant::now()))
                    }
                }
                true
            }
            Waiter::Task(..) => {
                with_task(|task| task.is_some_and(|(sched, _)| sched.park(deadline).is_ok()))
            }
        }
    }

    /// Wakes the waiter now if it is a task of this thread's worker (that
    /// only puts it on the ready queue: it cannot run before the caller
    /// parks or yields), else returns a
    /// token to deliver later.
    #[inline]
    pub(crate) fn wake_here_or_token(&self) -> Option<Wake> {
        match self {
            Waiter::Thread(t) => Some(Wake::Thread(t.clone())),
            Waiter::Task(remote, key) => with_scheduler(|sched| match sched {
                Some(s) if Arc::ptr_eq(s.remote(), remote) => {
                    s.wake(*key);
                    None
                }
                _ => Some(Wake::Remote(remote.clone(), *key)),
            }),
        }
    }

    fn clone_ref(&self) -> Waiter {
        match self {
            Waiter::Thread(t) => Waiter::Thread(t.clone()),
            Waiter::Task(r, k) => Waiter::Task(r.clone(), *k),
        }
    }
}

impl Clone for Waiter {
    fn clone(&self) -> Waiter {
        self.clone_ref()
    }
}

/// A wake to deliver later, detached from the wait it ends
/// ([`Waiter::wake_here_or_token`]): it holds its own reference to the
/// mailbox or thread, so it may be delivered after the waiter has freed
/// what it waited with.
pub(crate) enum Wake {
    /// A task of another worker, through its mailbox.
    Remote(Arc<Remote>, Key),
    /// A plain thread.
    Thread(Thread),
}

impl Wake {
    /// Delivers it.
    pub(crate) fn wake(self) {
        match self {
            Wake::Remote(remote, key) => remote.send(Message::Wake(key)),
            Wake::Thread(t) => t.unpark(),
        }
    }
}

/// `Parker::state` while nobody has claimed the wait.
const WAITING: usize = 0;
/// `Parker::state` once the waiter gave up.
const ABORTED: usize = usize::MAX;
/// `Parker::state`'s flag on a claim that has ended: without it, a
/// hand-over is in progress ([`Parker::try_hand_over`]).
const DONE: usize = 1 << (usize::BITS - 1);
/// Operations are numbered up to this (the state keeps `op + 1` beside
/// the [`DONE`] flag, and [`ABORTED`] is no claim).
pub(crate) const MAX_OP: usize = DONE - 3;

/// Whether `state` is a hand-over claim that has not ended yet.
#[inline]
fn handing_over(state: usize) -> bool {
    state != WAITING && state & DONE == 0
}

/// One wait of one waiter; see the module docs.
pub(crate) struct Parker {
    /// [`WAITING`], [`ABORTED`], or 1 + the operation that claimed it,
    /// with [`DONE`] set once that claim has ended.
    state: AtomicUsize,
    waiter: Waiter,
}

/// A hand-over claim in progress ([`Parker::try_hand_over`]): ends, marking
/// the claim done, when dropped.
pub(crate) struct HandOver<'a> {
    parker: &'a Parker,
    op: usize,
}

impl Drop for HandOver<'_> {
    #[inline]
    fn drop(&mut self) {
        self.parker
            .state
            .store((self.op + 1) | DONE, Ordering::Release);
    }
}

/// How a [`Parker::sleep`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Woke {
    /// Claimed for operation `op`.
    Claimed(usize),
    /// The deadline passed unclaimed.
    TimedOut,
    /// The task cannot park (being cancelled, or unwinding a panic).
    Refused,
    /// Woken unclaimed ([`Parker::wait_once`] only): by something the
    /// waiter watches itself, or spuriously.
    Woken,
}

/// A wait entry's parker: its own (one allocation less on the common
/// single wait) or shared by several entries (a select registers one per
/// operation, all ending one wait).
pub(crate) enum EntryParker {
    /// The entry's alone.
    Own(Parker),
    /// Shared with the other entries of one select.
    Shared(Arc<Parker>),
}

impl std::ops::Deref for EntryParker {
    type Target = Parker;

    fn deref(&self) -> &Parker {
        match self {
            EntryParker::Own(p) => p,
            EntryParker::Shared(p) => p,
        }
    }
}

impl Parker {
    /// A parker to share (`Arc`): see [`Parker::alone`] for one entry's own.
    pub(crate) fn new(waiter: Waiter) -> Arc<Parker> {
        Arc::new(Parker::alone(waiter))
    }

    /// A parker held by value, by the one entry that waits on it.
    pub(crate) fn alone(waiter: Waiter) -> Parker {
        Parker {
            state: AtomicUsize::new(WAITING),
            waiter,
        }
    }

    /// Claims the wait for operation `op` (at most [`MAX_OP`]); `false` if
    /// someone else (or the waiter's abort) was first. For claims that hand
    /// nothing over (a disconnect, a permit, a deadline); a claimer that
    /// moves a value in or out of the waiter's entry uses
    /// [`try_hand_over`](Self::try_hand_over).
    #[inline]
    pub(crate) fn try_claim(&self, op: usize) -> bool {
        debug_assert!(op <= MAX_OP);
        self.state
            .compare_exchange(
                WAITING,
                (op + 1) | DONE,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Whether nobody has claimed the wait or given it up, for a parker
    /// all of whose claims and its waiter's abort are made under one lock
    /// that the caller holds (a channel entry's own parker; see
    /// [`end_claim_locked`](Self::end_claim_locked)).
    #[inline]
    pub(crate) fn waits_locked(&self) -> bool {
        // Relaxed: every write to the state came from a holder of the lock
        // (or from the waiter before it published the parker under it).
        self.state.load(Ordering::Relaxed) == WAITING
    }

    /// Claims a wait that [`waits_locked`](Self::waits_locked) found
    /// waiting, for operation `op`, and ends the claim in the same store:
    /// the caller has already done its part (moved the value). Only under
    /// the lock all of the parker's claims are made under, so no other
    /// claim and no abort can come between the check and this store; the
    /// release ordering makes the caller's moves visible to a waiter that
    /// sees the claim. For such a parker there is no hand-over in
    /// progress to see, ever.
    #[inline]
    pub(crate) fn end_claim_locked(&self, op: usize) {
        debug_assert!(op <= MAX_OP);
        debug_assert!(self.waits_locked());
        self.state.store((op + 1) | DONE, Ordering::Release);
    }

    /// The waiter gives up, under the lock its parker's claims are made
    /// under ([`end_claim_locked`](Self::end_claim_locked)): as
    /// [`try_abort`](Self::try_abort), without a read-modify-write.
    #[inline]
    pub(crate) fn abort_locked(&self) -> Result<(), usize> {
        match self.state.load(Ordering::Acquire) {
            WAITING => {
                self.state.store(ABORTED, Ordering::Relaxed);
                Ok(())
            }
            ABORTED => Ok(()),
            n => Err((n & !DONE) - 1),
        }
    }

    /// Wakes a waiter of this worker now, or returns how to wake it later
    /// ([`Waiter::wake_here_or_token`]); only once the wait is claimed.
    #[inline]
    pub(crate) fn wake_here_or_token(&self) -> Option<Wake> {
        self.waiter.wake_here_or_token()
    }

    /// Claims the wait for operation `op` (at most [`MAX_OP`]) to hand
    /// something over through the waiter's entry, as [`try_claim`] does; the
    /// claim ends when the returned guard is dropped. Until then nobody
    /// sees it: the waiter's checks ([`claimed`](Self::claimed),
    /// [`try_abort`](Self::try_abort), a sleep's) wait for its end, so a
    /// waiter never finds its entry half handed over, and the claimer owns
    /// the entry's contents meanwhile without a lock of their own.
    ///
    /// [`try_claim`]: Self::try_claim
    #[inline]
    pub(crate) fn try_hand_over(&self, op: usize) -> Option<HandOver<'_>> {
        debug_assert!(op <= MAX_OP);
        self.state
            .compare_exchange(WAITING, op + 1, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| HandOver { parker: self, op })
    }

    /// The state, once no hand-over is in progress. A claimer ends its
    /// hand-over within a few instructions and never parks meanwhile (it
    /// moves one value under its channel's lock), so this spins, yielding
    /// the thread in case the claimer's was preempted.
    #[inline]
    fn settled_state(&self) -> usize {
        let state = self.state.load(Ordering::Acquire);
        if !handing_over(state) {
            return state;
        }
        self.wait_for_hand_over()
    }

    #[cold]
    #[inline(never)]
    fn wait_for_hand_over(&self) -> usize {
        let mut spins = 0u32;
        loop {
            let state = self.state.load(Ordering::Acquire);
            if !handing_over(state) {
                return state;
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Whether the wait is over for good: claimed (and the claim ended), or
    /// given up. Nobody but the waiter touches what its entry holds then.
    #[inline]
    pub(crate) fn is_settled(&self) -> bool {
        let state = self.state.load(Ordering::Acquire);
        state != WAITING && !handing_over(state)
    }

    /// Takes back a claim the waiter made itself for `op` and could not
    /// honour (see `Select`); only the waiter may, and only right after.
    pub(crate) fn unclaim(&self, op: usize) {
        let undone = self.state.compare_exchange(
            (op + 1) | DONE,
            WAITING,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        debug_assert!(undone.is_ok(), "jmpco: unclaim of a claim not the waiter's");
    }

    /// The operation that claimed the wait, if one did (once its claim has
    /// ended).
    #[inline]
    pub(crate) fn claimed(&self) -> Option<usize> {
        match self.settled_state() {
            WAITING | ABORTED => None,
            n => Some((n & !DONE) - 1),
        }
    }

    /// The waiter gives up: `Ok` if nobody had claimed the wait, else the
    /// operation that did (which the waiter must then honour; its claim has
    /// ended).
    pub(crate) fn try_abort(&self) -> Result<(), usize> {
        match self
            .state
            .compare_exchange(WAITING, ABORTED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Ok(()),
            Err(_) => match self.settled_state() {
                ABORTED => Ok(()),
                n => Err((n & !DONE) - 1),
            },
        }
    }

    /// Makes a parker whose wait is settled ready for the next wait of its
    /// caller ([`Waiter::become_caller`]); `Err` as that says.
    #[inline]
    pub(crate) fn rearm(&mut self) -> Result<(), usize> {
        self.waiter.become_caller()?;
        *self.state.get_mut() = WAITING;
        Ok(())
    }

    /// Wakes the waiter (after a successful claim).
    #[inline]
    pub(crate) fn unpark(&self) {
        self.waiter.wake();
    }

    /// Sleeps until the wait is claimed, `deadline` passes, or the task
    /// cannot park. Does not abort: the caller decides with
    /// [`try_abort`](Self::try_abort).
    #[inline]
    pub(crate) fn sleep(&self, deadline: Option<Instant>) -> Woke {
        loop {
            match self.wait_once(deadline) {
                Woke::Woken => continue,
                woke => return woke,
            }
        }
    }

    /// Sleeps once: returns when woken, claimed or not ([`Woke::Woken`] for
    /// a wake that is not a claim), or as [`sleep`](Self::sleep) does.
    #[inline]
    pub(crate) fn wait_once(&self, deadline: Option<Instant>) -> Woke {
        if let Some(op) = self.claimed() {
            return Woke::Claimed(op);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Woke::TimedOut;
        }
        if !self.waiter.sleep(deadline) {
            return Woke::Refused;
        }
        match self.claimed() {
            Some(op) => Woke::Claimed(op),
            None => Woke::Woken,
        }
    }
}
