//! A waiting sender's or receiver's entry in a channel: a parker, the
//! operation it stands for, and what it holds (a sender's value until a
//! receiver takes it; a receiver's slot, empty until a sender fills it).
//!
//! # Who owns an entry, and who may touch it
//! The channel's queues hold [`Entry`] pointers, not owners: an entry
//! belongs to its waiter (the handle's kept entry, `kept.rs`, or one the
//! waiting frame made), which keeps it alive and in place for as long as
//! it is queued, and takes it out of the queue under the channel's lock
//! before it lets go of it. A completer touches an entry only under that
//! lock, and not after its claim has ended: by then it has taken what it
//! needs to wake the waiter ([`Wake`]), so the waiter may free the entry
//! the moment it sees the claim.
//!
//! What the entry holds has no lock of its own. Who may touch it follows
//! the parker's state (see `park.rs`, "Handing over"): the waiter, until
//! it publishes the entry in a channel's queue; the one completer that
//! claimed the wait, from that claim until it ends ([`Wait::complete`]);
//! the waiter again once the wait is settled, and then for good
//! ([`Wait::take_settled`]). A claim that moves nothing (a disconnect)
//! leaves the contents alone: a sender then finds its value still there,
//! a receiver its slot empty.
//!
//! # Two kinds of parker
//! A plain wait's entry has a parker of its own, and every claim of it
//! and its waiter's abort happen under the channel's lock: a claim is a
//! look and one store ([`Parker::end_claim_locked`]), no
//! read-modify-write. A select's entries share one parker across
//! channels, whose locks do not exclude each other: those are claimed by
//! compare-and-swap, with a hand-over claim that the waiter cannot see
//! until it ends ([`Parker::try_hand_over`]).

use std::cell::UnsafeCell;
use std::ops::Deref;
use std::ptr::NonNull;

use crate::rt::park::{EntryParker, Parker, Wake};

/// One wait on a channel; see the module docs.
pub(super) struct Wait<T> {
    pub(super) parker: EntryParker,
    /// The operation a claim of this entry claims the parker for.
    pub(super) op: usize,
    held: UnsafeCell<Option<T>>,
}

// SAFETY: `held` is touched by one party at a time, each handing it on
// through the parker's atomic state or the channel's lock with release
// and acquire ordering (see the module docs), so sharing a `Wait` between
// threads moves a `T` from one thread to another, which `T: Send` allows;
// the parker is `Sync`.
unsafe impl<T: Send> Sync for Wait<T> {}

impl<T> Wait<T> {
    pub(super) fn new(parker: EntryParker, op: usize, held: Option<T>) -> Wait<T> {
        Wait {
            parker,
            op,
            held: UnsafeCell::new(held),
        }
    }

    /// Refills the entry for its waiter's next wait: what it holds (it holds
    /// nothing now), and a parker waiting again. Only by the entry's owner,
    /// while it is in no queue (`&mut` says nobody else holds a reference).
    #[inline]
    pub(super) fn refill(&mut self, op: usize, held: Option<T>) {
        // Every wait takes out what its entry held before it ends, so
        // nothing is dropped here, under the channel's lock.
        debug_assert!(self.held.get_mut().is_none());
        self.op = op;
        *self.held.get_mut() = held;
    }

    /// Claims the wait and runs `f` on what the entry holds, ending the
    /// claim after it; `None` if someone else (or the waiter's abort) was
    /// first. A waiter that is a task of this worker is woken at once;
    /// any other's wake comes with the result, for the caller to deliver
    /// once it has released the lock. Only under the lock of the channel
    /// whose queue held the entry (the caller has just taken it out).
    #[inline(always)]
    pub(super) fn complete<R>(
        &self,
        f: impl FnOnce(&mut Option<T>) -> R,
    ) -> Option<(R, Option<Wake>)> {
        match &self.parker {
            EntryParker::Own(parker) => {
                if !parker.waits_locked() {
                    return None;
                }
                // SAFETY: the wait is unclaimed and every claim and abort of
                // this parker is made under the lock the caller holds, so
                // until the store below nobody else touches `held`: no other
                // completer (they need the lock), and not the waiter (it
                // touches it before it published the entry, done since the
                // caller found it queued, or once the wait is settled, which
                // it is not until that store).
                let r = f(unsafe { &mut *self.held.get() });
                let wake = parker.wake_here_or_token();
                parker.end_claim_locked(self.op);
                Some((r, wake))
            }
            EntryParker::Shared(parker) => {
                let claim = parker.try_hand_over(self.op)?;
                // SAFETY: from the claim until `claim` is dropped (after `f`),
                // nobody else touches `held`: no other claim can be made (the
                // state is no longer waiting), and the waiter touches it
                // before it published the entry (done: the caller found it
                // published) or once the wait is settled, which it is not
                // until the claim ends (the waiter's checks wait for that).
                let r = f(unsafe { &mut *self.held.get() });
                let wake = parker.wake_here_or_token();
                drop(claim);
                Some((r, wake))
            }
        }
    }

    /// The waiter gives up: `Ok` if nobody had claimed the wait, else the
    /// operation that did (its claim has ended). Only by the waiter, under
    /// the lock of the channel it waits on; it then takes its entry out of
    /// the queue before releasing the lock if it got `Ok`.
    #[inline]
    pub(super) fn abort_locked(&self) -> Result<(), usize> {
        match &self.parker {
            EntryParker::Own(parker) => parker.abort_locked(),
            EntryParker::Shared(parker) => parker.try_abort(),
        }
    }

    /// What the entry holds, taken out, once the wait is settled (claimed
    /// and the claim ended, or given up).
    ///
    /// # Safety
    /// Only the entry's waiter calls it (no two calls on one entry run at
    /// once), and only on a settled wait (checked: a panic otherwise).
    pub(super) unsafe fn take_settled(&self) -> Option<T> {
        assert!(
            self.parker.is_settled(),
            "jmpco: a wait entry's contents read before its wait was settled"
        );
        // SAFETY: the wait is settled (checked just above, with acquire
        // ordering: the claimer's moves happened before), so no claimer
        // touches `held` any more, and the caller is the waiter, the one
        // party left that does (the caller's contract).
        unsafe { (*self.held.get()).take() }
    }

    /// Whether the entry still holds something, once the wait is settled.
    ///
    /// # Safety
    /// As [`take_settled`](Self::take_settled).
    pub(super) unsafe fn holds_settled(&self) -> bool {
        assert!(
            self.parker.is_settled(),
            "jmpco: a wait entry's contents read before its wait was settled"
        );
        // SAFETY: as in `take_settled`.
        unsafe { (*self.held.get()).is_some() }
    }

    /// Whether this entry waits on `parker` (a select's, sending and
    /// receiving on one channel, must not complete itself).
    pub(super) fn waits_on(&self, parker: &Parker) -> bool {
        std::ptr::eq(&*self.parker, parker)
    }
}

/// A channel queue's pointer to a waiter's entry (see the module docs:
/// its waiter owns it and keeps it alive while it is queued).
pub(super) struct Entry<T>(NonNull<Wait<T>>);

// SAFETY: an `Entry` is a shared reference to a `Wait<T>` in all but its
// lifetime (kept by the waiter's contract, see `Entry::new`), and
// `Wait<T>` is `Sync` when `T: Send`.
unsafe impl<T: Send> Send for Entry<T> {}

impl<T> Entry<T> {
    /// A pointer to `wait`, to queue in one channel.
    ///
    /// # Safety
    /// `wait` stays alive and in place, and nobody takes a `&mut` to it,
    /// until the entry has left the queue it is put in: the waiter takes
    /// it out under the channel's lock (if nobody popped it first) before
    /// it drops, moves or refills the entry.
    pub(super) unsafe fn new(wait: &Wait<T>) -> Entry<T> {
        Entry(NonNull::from(wait))
    }

    /// Whether this points to `wait`.
    pub(super) fn is(&self, wait: &Wait<T>) -> bool {
        std::ptr::eq(self.0.as_ptr(), wait)
    }
}

impl<T> Deref for Entry<T> {
    type Target = Wait<T>;

    #[inline]
    fn deref(&self) -> &Wait<T> {
        // SAFETY: while the entry exists it is in a queue (or just taken out
        // of one by the caller, who holds the channel's lock), so the wait
        // is alive and unmoved (`Entry::new`'s contract).
        unsafe { self.0.as_ref() }
    }
}
