//! A waiting sender's or receiver's entry in a channel: a parker, the
//! operation it stands for, and what it holds (a sender's value until a
//! receiver takes it; a receiver's slot, empty until a sender fills it).
//!
//! What it holds has no lock of its own. Who may touch it follows the
//! parker's state (see `park.rs`, "Handing over"): the waiter, until it
//! publishes the entry in a channel's queue; the one claimer that won the
//! wait with [`Parker::try_hand_over`], from that claim until it ends
//! ([`Wait::hand_over`]); the waiter again once the wait is settled, and
//! then for good ([`Wait::take_settled`]). A claim that moves nothing (a
//! disconnect) leaves the contents alone: a sender then finds its value
//! still there, a receiver its slot empty.
//!
//! [`Parker::try_hand_over`]: crate::rt::park::Parker::try_hand_over

use std::cell::UnsafeCell;
use std::sync::Arc;

use super::spare::Spare;
use super::OP;
use crate::rt::park::{Caller, EntryParker, Parker};

/// One wait on a channel; see the module docs.
pub(super) struct Wait<T> {
    pub(super) parker: EntryParker,
    /// The operation a claim of this entry claims the parker for.
    pub(super) op: usize,
    held: UnsafeCell<Option<T>>,
}

// SAFETY: `held` is touched by one party at a time, each handing it on
// through the parker's atomic state with release and acquire ordering (see
// the module docs), so sharing a `Wait` between threads moves a `T` from
// one thread to another, which `T: Send` allows; the parker is `Sync`.
unsafe impl<T: Send> Sync for Wait<T> {}

impl<T> Wait<T> {
    pub(super) fn new(parker: EntryParker, op: usize, held: Option<T>) -> Wait<T> {
        Wait {
            parker,
            op,
            held: UnsafeCell::new(held),
        }
    }

    /// An entry for a plain wait of the caller (operation [`OP`], a parker
    /// of its own) holding `held`: `spare`'s kept entry rearmed if it has
    /// one nobody else holds, else a new one. `Err` with the worker's
    /// identity, and `held` back, where the caller cannot wait
    /// ([`Caller::OnWorker`]).
    #[inline]
    pub(super) fn for_caller(
        spare: &Spare<Wait<T>>,
        held: Option<T>,
    ) -> Result<Arc<Wait<T>>, (usize, Option<T>)> {
        if let Some(mut kept) = spare.take() {
            let wait = kept.get_mut();
            if let EntryParker::Own(parker) = &mut wait.parker {
                if let Err(worker) = parker.rearm() {
                    spare.keep(kept.into_arc());
                    return Err((worker, held));
                }
                wait.op = OP;
                *wait.held.get_mut() = held;
                return Ok(kept.into_arc());
            }
        }
        match Caller::here() {
            Caller::Can(waiter) => Ok(Arc::new(Wait::new(
                EntryParker::Own(Parker::alone(waiter)),
                OP,
                held,
            ))),
            Caller::OnWorker(worker) => Err((worker, held)),
        }
    }

    /// Claims the wait ([`Parker::try_hand_over`]) and runs `f` on what the
    /// entry holds, ending the claim after it; `None` if someone else (or
    /// the waiter's abort) was first. The caller then wakes the waiter.
    #[inline]
    pub(super) fn hand_over<R>(&self, f: impl FnOnce(&mut Option<T>) -> R) -> Option<R> {
        let claim = self.parker.try_hand_over(self.op)?;
        // SAFETY: from the claim until `claim` is dropped (after `f`),
        // nobody else touches `held`: no other claim can be made (the state
        // is no longer waiting), and the waiter touches it before it
        // published the entry (done: the claimer found it published) or once
        // the wait is settled, which it is not until the claim ends (the
        // waiter's checks wait for that).
        let r = f(unsafe { &mut *self.held.get() });
        drop(claim);
        Some(r)
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
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::Wait;
    use crate::rt::channel::spare::Spare;

    #[test]
    fn a_kept_entry_is_refilled_in_place_and_waits_again() {
        let spare = Spare::new();
        let first = Wait::for_caller(&spare, Some(1)).expect("a thread can wait");
        let at = Arc::as_ptr(&first);
        assert!(!first.parker.is_settled(), "a new entry waits");
        assert!(first.parker.try_claim(first.op));
        // SAFETY: this thread is the waiter, and the claim just made (no
        // hand-over: ended at once) settled the wait.
        assert_eq!(unsafe { first.take_settled() }, Some(1));
        spare.keep(first);
        let second = Wait::for_caller(&spare, Some(2)).expect("a thread can wait");
        assert!(
            std::ptr::eq(Arc::as_ptr(&second), at),
            "the same allocation"
        );
        assert!(!second.parker.is_settled(), "rearmed: it waits again");
        let handed = second.hand_over(Option::take).expect("the claim is free");
        assert_eq!(handed, Some(2), "it holds the new value");
        assert_eq!(second.parker.claimed(), Some(second.op));
        assert!(second.hand_over(Option::take).is_none(), "claimed once");
        let shared = second.clone();
        spare.keep(second);
        let third = Wait::for_caller(&spare, None).expect("a thread can wait");
        assert!(
            !std::ptr::eq(Arc::as_ptr(&third), at),
            "an entry held elsewhere was not kept: a new one"
        );
        drop(shared);
    }

    #[test]
    #[should_panic(expected = "before its wait was settled")]
    fn contents_of_a_wait_not_settled_are_not_handed_out() {
        let spare = Spare::new();
        let wait = Wait::for_caller(&spare, Some(1)).expect("a thread can wait");
        // SAFETY: this thread is the waiter; the wait is not settled, which
        // the call checks (the panic this test expects).
        let _ = unsafe { wait.take_settled() };
    }
}
