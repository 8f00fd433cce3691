//! The wait entry each `Sender` and `Receiver` keeps for its waits, and
//! the entry a waiting frame holds ([`Held`]).
//!
//! A wait that finds the channel empty (or full) queues an entry where its
//! counterpart finds it. In a steady exchange (two tasks bouncing messages)
//! every receive waits, so a fresh entry per wait would cost an allocation
//! and a free per message. Instead each handle makes one entry at its
//! first wait and refills it for every later one. Whether it is in use is
//! decided under the channel's lock, which every wait takes anyway, so
//! taking it costs no atomic read-modify-write, and giving it back is one
//! store: a handle used by one task (or thread) at a time never allocates
//! again. A handle shared by waiters that wait at the same time (it is
//! `Sync`) lends its entry to one of them; the others wait with an entry
//! of their own, made for that wait.
//!
//! An entry stays alive while it is queued (`wait.rs`'s contract): a
//! waiter takes it out of the queue under the lock before it gives it
//! back. The one way a wait can end without that is a task that is
//! *abandoned* while it waits (teardown frees a C task's stack without
//! running anything on it): its entry stays queued and lent for good. A
//! frame's own entry is then leaked with the stack's other owners; a
//! handle's kept entry is taken out of the queue by the handle's drop
//! (`forget_abandoned`) before it is freed.

use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::wait::Wait;
use super::OP;
use crate::rt::park::{Caller, EntryParker, Parker};

/// A handle's entry; see the module docs.
pub(super) struct Kept<T> {
    /// Null until the handle's first wait; then the entry, from
    /// `Box::into_raw`, freed by the drop. Read and written only under the
    /// lock of the handle's channel.
    wait: UnsafeCell<*mut Wait<T>>,
    /// Whether a waiter holds the entry ([`Held::Kept`]). Set under the
    /// channel's lock (only there, so a look and a store suffice), cleared
    /// by the holder once its wait is over, without the lock.
    lent: AtomicBool,
}

// SAFETY: the pointer is touched only under the channel's lock or by the
// waiter the entry is lent to (`lent`, set under the lock, cleared with
// release ordering and read with acquire), and the entry is a `Wait<T>`,
// which is `Sync` when `T: Send`; the `Kept` owns it, so it moves with
// the handle between threads when `T: Send`.
unsafe impl<T: Send> Send for Kept<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Kept<T> {}

/// The entry a waiting frame waits with: the handle's, lent, or its own.
/// Dropping it gives the handle's back; the frame takes it out of the
/// channel's queue first, if it is still there.
pub(super) enum Held<'a, T> {
    /// The handle's entry.
    Kept(&'a Kept<T>, NonNull<Wait<T>>),
    /// An entry of this wait's own (the handle's was lent elsewhere). An
    /// `Arc`, not a `Box`, though it has one owner: the queue points into
    /// it meanwhile, and an `Arc` makes only shared references, where
    /// moving a `Box` would claim the entry exclusively.
    Alone(Arc<Wait<T>>),
}

impl<T> Kept<T> {
    pub(super) const fn new() -> Kept<T> {
        Kept {
            wait: UnsafeCell::new(std::ptr::null_mut()),
            lent: AtomicBool::new(false),
        }
    }

    /// An entry for a plain wait of the caller (operation [`OP`], a parker
    /// of its own) holding `held`: the handle's entry refilled if nobody
    /// holds it, else one made for this wait. `Err` with the worker's
    /// identity, and `held` back, where the caller cannot wait
    /// ([`Caller::OnWorker`]).
    ///
    /// # Safety
    /// The caller holds the lock of the channel this handle belongs to.
    #[inline(always)]
    pub(super) unsafe fn for_caller(
        &self,
        held: Option<T>,
    ) -> Result<Held<'_, T>, (usize, Option<T>)> {
        // Acquire: the last holder's uses of the entry happen before ours.
        if self.lent.load(Ordering::Acquire) {
            return alone(held);
        }
        // SAFETY: under the channel's lock (the caller's contract), which
        // every read and write of the pointer happens under.
        let at = unsafe { *self.wait.get() };
        let Some(mut at) = NonNull::new(at) else {
            let at = NonNull::from(Box::leak(Box::new(new_wait(held)?)));
            // SAFETY: as above, under the lock.
            unsafe { *self.wait.get() = at.as_ptr() };
            self.lent.store(true, Ordering::Relaxed);
            return Ok(Held::Kept(self, at));
        };
        // SAFETY: the entry is alive (freed only by the drop) and nobody
        // else reaches it: it is not lent (checked above, under the lock
        // that lending happens under), so it is in no queue (a holder takes
        // it out before giving it back) and no completer holds it (they
        // touch entries only under the lock, and only queued ones).
        let wait = unsafe { at.as_mut() };
        let EntryParker::Own(parker) = &mut wait.parker else {
            unreachable!("jmpco: a handle's entry has a parker of its own");
        };
        if let Err(worker) = parker.rearm() {
            return Err((worker, held));
        }
        wait.refill(OP, held);
        self.lent.store(true, Ordering::Relaxed);
        Ok(Held::Kept(self, at))
    }

    /// The entry, if a waiter that was abandoned still holds it (see the
    /// module docs): the handle's drop takes it out of the queue.
    ///
    /// # Safety
    /// As [`for_caller`](Self::for_caller): under the channel's lock.
    pub(super) unsafe fn abandoned(&self) -> Option<&Wait<T>> {
        if !self.lent.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: under the lock (the caller's contract); the entry lives
        // until the drop, and only shared references are made to a lent one.
        unsafe { (*self.wait.get()).as_ref() }
    }
}

/// A new entry for a wait of the caller's own.
fn alone<'a, T>(held: Option<T>) -> Result<Held<'a, T>, (usize, Option<T>)> {
    new_wait(held).map(|wait| Held::Alone(Arc::new(wait)))
}

/// A new entry for a plain wait of the caller, holding `held`.
fn new_wait<T>(held: Option<T>) -> Result<Wait<T>, (usize, Option<T>)> {
    match Caller::here() {
        Caller::Can(waiter) => Ok(Wait::new(EntryParker::Own(Parker::alone(waiter)), OP, held)),
        Caller::OnWorker(worker) => Err((worker, held)),
    }
}

impl<T> Drop for Kept<T> {
    fn drop(&mut self) {
        let at = *self.wait.get_mut();
        if !at.is_null() {
            // SAFETY: from `Box::into_raw` (`Box::leak`) in `for_caller`,
            // freed only here; the handle is going, so no waiter holds it
            // (one that was abandoned had it taken out of the queue by the
            // handle's drop, before this).
            drop(unsafe { Box::from_raw(at) });
        }
    }
}

impl<T> Held<'_, T> {
    /// The entry.
    #[inline]
    pub(super) fn wait(&self) -> &Wait<T> {
        match self {
            // SAFETY: lent to this holder: alive until the handle's drop,
            // which cannot run while the holder borrows the handle.
            Held::Kept(_, at) => unsafe { at.as_ref() },
            Held::Alone(wait) => wait,
        }
    }
}

impl<T> Drop for Held<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if let Held::Kept(kept, _) = self {
            // Release: our uses of the entry happen before the next
            // holder's (its acquire load in `for_caller`).
            kept.lent.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Held, Kept};

    #[test]
    fn the_kept_entry_is_lent_once_at_a_time_and_refilled_in_place() {
        let kept = Kept::new();
        // SAFETY: the test is the only user of this handle's entry: no
        // channel, so nothing else to exclude.
        let first = unsafe { kept.for_caller(Some(1)) }.expect("a thread can wait");
        assert!(matches!(first, Held::Kept(..)));
        let at: *const _ = first.wait();
        // SAFETY: as above.
        let second = unsafe { kept.for_caller(Some(2)) }.expect("a thread can wait");
        assert!(
            matches!(second, Held::Alone(_)),
            "lent: a second waiter gets its own"
        );
        assert!(first.wait().parker.try_claim(first.wait().op));
        // SAFETY: this thread is the waiter, and the claim just made settled
        // the wait.
        assert_eq!(unsafe { first.wait().take_settled() }, Some(1));
        drop(first);
        drop(second);
        // SAFETY: as above.
        let third = unsafe { kept.for_caller(Some(3)) }.expect("a thread can wait");
        assert!(std::ptr::eq(third.wait(), at), "the same entry, again");
        assert!(!third.wait().parker.is_settled(), "rearmed: it waits again");
        // SAFETY: as above.
        assert!(unsafe { kept.abandoned() }.is_some(), "lent");
        drop(third);
        // SAFETY: as above.
        assert!(unsafe { kept.abandoned() }.is_none(), "given back");
    }
}
