//! What the locks here share: std's poisoning, and who holds a lock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LockResult, PoisonError};

use crate::rt::park::worker_id;
use crate::rt::scheduler::with_scheduler;

/// A lock's poison flag, with std's rules.
pub(super) struct Poison(AtomicBool);

impl Poison {
    pub(super) const fn new() -> Poison {
        Poison(AtomicBool::new(false))
    }

    pub(super) fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub(super) fn clear(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    /// `value` as std hands it out: inside an `Err` if poisoned.
    pub(super) fn wrap<V>(&self, value: V) -> LockResult<V> {
        wrap(self.get(), value)
    }

    /// A guard taken while the thread was `panicking_at_lock` is dropped:
    /// a panic that began while it was held poisons the lock; an unwind on
    /// purpose (a cancellation, a `timeout` that fired) does not.
    pub(super) fn guard_dropped(&self, panicking_at_lock: bool) {
        if !panicking_at_lock
            && std::thread::panicking()
            && !crate::rt::task::unwinding_on_purpose()
        {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// `value` inside an `Err` if `poisoned`.
pub(super) fn wrap<V>(poisoned: bool, value: V) -> LockResult<V> {
    if poisoned {
        Err(PoisonError::new(value))
    } else {
        Ok(value)
    }
}

/// The caller's worker ([`worker_id`]), 0 off the workers: recorded by a
/// holder, so that a task that cannot park can tell whether blocking its
/// thread for the lock would deadlock.
pub(super) fn this_worker() -> usize {
    with_scheduler(|sched| sched.map_or(0, |s| worker_id(s.remote())))
}
