//! One wait entry kept by the handle that made it, for its next wait.
//!
//! A wait that finds the channel empty (or full) puts an entry where its
//! counterpart finds it: an `Arc`, because the side that completes the wait
//! may hold it after the waiter has moved on. In a steady exchange (two
//! tasks bouncing messages) every receive waits, so each wait would cost an
//! allocation and a free. Instead each `Sender` and `Receiver` keeps the
//! entry of its last wait once nobody else holds it (the counterpart has
//! dropped its clone), and its next wait refills it in place
//! (`Wait::for_caller`). An entry still held elsewhere (the waker of another thread is just
//! finishing with it) is simply dropped; a handle shared by several tasks
//! keeps at most one entry, and the others allocate as before.

use std::ptr;
use std::sync::atomic::{fence, AtomicPtr, Ordering};
use std::sync::Arc;

/// At most one unshared `Arc<W>`, kept for reuse.
pub(super) struct Spare<W> {
    /// Null, or from `Arc::into_raw` of an `Arc` nobody else holds.
    kept: AtomicPtr<W>,
}

// SAFETY: a `Spare<W>` owns at most one `Arc<W>` and hands it to exactly one
// caller of `take` (the swap), so it is `Send` and `Sync` when `Arc<W>` is.
unsafe impl<W: Send + Sync> Send for Spare<W> {}
// SAFETY: as above.
unsafe impl<W: Send + Sync> Sync for Spare<W> {}

impl<W> Spare<W> {
    pub(super) const fn new() -> Spare<W> {
        Spare {
            kept: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The kept entry, if any, with the only reference to it.
    #[inline]
    pub(super) fn take(&self) -> Option<Kept<W>> {
        let at = self.kept.swap(ptr::null_mut(), Ordering::Acquire);
        // SAFETY: non-null values come from `keep`'s `Arc::into_raw`, and the
        // swap gave this one to this caller alone.
        (!at.is_null()).then(|| Kept(unsafe { Arc::from_raw(at) }))
    }

    /// Keeps `entry` for the next wait if nobody else holds it and no entry
    /// is kept yet; drops it otherwise.
    #[inline]
    pub(super) fn keep(&self, entry: Arc<W>) {
        // No other `Arc` and no `Weak`: then nobody can make a new one (that
        // takes an existing one), so the entry stays this handle's alone.
        if Arc::strong_count(&entry) != 1 || Arc::weak_count(&entry) != 0 {
            return;
        }
        // Pairs with the release of the last other holder's drop (the
        // counts were read relaxed): its uses of the entry happen before
        // anything the next wait writes into it.
        fence(Ordering::Acquire);
        let at = Arc::into_raw(entry).cast_mut();
        if self
            .kept
            .compare_exchange(ptr::null_mut(), at, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            // SAFETY: `at` came from `Arc::into_raw` just above and was not
            // stored: this is its only owner.
            drop(unsafe { Arc::from_raw(at) });
        }
    }
}

/// An entry out of a [`Spare`]: the only reference to it (`keep` stored
/// only entries with no other `Arc` and no `Weak`, and none can be made
/// from nothing), so it can be refilled in place without `Arc::get_mut`'s
/// atomic check.
pub(super) struct Kept<W>(Arc<W>);

impl<W> Kept<W> {
    /// The entry, to refill.
    #[inline]
    pub(super) fn get_mut(&mut self) -> &mut W {
        // SAFETY: `self.0` is the only reference to the entry (see the
        // type's docs), and `&mut self` borrows it exclusively; the pointer
        // is `Arc::as_ptr`'s, valid while `self.0` lives, and the last other
        // holder's uses happened before (`keep`'s fence, then the release
        // and acquire of the spare's pointer).
        unsafe { &mut *Arc::as_ptr(&self.0).cast_mut() }
    }

    /// The entry, to share again.
    #[inline]
    pub(super) fn into_arc(self) -> Arc<W> {
        self.0
    }
}

impl<W> Drop for Spare<W> {
    fn drop(&mut self) {
        drop(self.take());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::Spare;

    /// Counts its drops.
    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn an_unshared_entry_is_kept_once_and_handed_back_once() {
        let spare = Spare::new();
        let entry = Arc::new(7);
        let at = Arc::as_ptr(&entry);
        spare.keep(entry);
        let mut again = spare.take().expect("kept");
        *again.get_mut() += 1;
        let again = again.into_arc();
        assert!(std::ptr::eq(Arc::as_ptr(&again), at), "the same allocation");
        assert_eq!(*again, 8, "refilled in place");
        assert!(spare.take().is_none(), "handed out once");
    }

    #[test]
    fn an_entry_held_elsewhere_is_not_kept() {
        let drops = Arc::new(AtomicUsize::new(0));
        let spare = Spare::new();
        let entry = Arc::new(Counted(drops.clone()));
        let elsewhere = entry.clone();
        spare.keep(entry);
        assert!(spare.take().is_none(), "the other holder may still use it");
        assert_eq!(
            Arc::strong_count(&elsewhere),
            1,
            "the spare's clone was dropped"
        );
        let weak = Arc::downgrade(&elsewhere);
        spare.keep(elsewhere);
        assert!(spare.take().is_none(), "a weak reference shares it too");
        assert!(weak.upgrade().is_none());
        assert_eq!(drops.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_second_entry_is_dropped_and_the_spare_drops_what_it_keeps() {
        let drops = Arc::new(AtomicUsize::new(0));
        let spare = Spare::new();
        spare.keep(Arc::new(Counted(drops.clone())));
        spare.keep(Arc::new(Counted(drops.clone())));
        assert_eq!(drops.load(Ordering::Relaxed), 1, "one kept, one dropped");
        drop(spare);
        assert_eq!(
            drops.load(Ordering::Relaxed),
            2,
            "the kept one goes with it"
        );
    }
}
