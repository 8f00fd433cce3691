//! The lock of a channel's state: a spin lock whose release is a plain
//! store.
//!
//! Every channel operation takes its channel's lock once, so the lock's
//! cost is part of every message. A `std::sync::Mutex` pays two atomic
//! read-modify-writes (the acquiring compare-and-swap, and the releasing
//! swap that looks for sleepers); this lock pays one, the release being a
//! store with release ordering (a plain `mov` on x86-64).
//!
//! Spinning is right here because no holder ever waits while it holds
//! the lock: the critical sections move a value, push or pop a waiter's
//! entry, mark a waiter claimed, never park or block (wakes that need a
//! system call run after the release, see `Locked`'s drop in `mod.rs`).
//! A task that holds it cannot be switched out either: tasks switch only
//! when they park. So a contender waits only for a holder on another
//! thread, for a few hundred instructions, unless that thread was
//! preempted: after a short spin it yields its thread to the scheduler
//! of the OS, so a holder preempted on the same CPU gets to run.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// Spins before the first yield of the thread.
const SPINS: u32 = 64;

/// A value behind a spin lock; see the module docs.
pub(super) struct SpinLock<T> {
    held: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a `Guard`, and at most one
// guard exists at a time (the compare-and-swap of `lock` from false to
// true succeeds for one caller until the guard's drop stores false), so
// sharing the lock hands the value from thread to thread, which `T: Send`
// allows; the acquire and release orderings order each holder's accesses
// after the previous holder's.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: it owns a `T`, nothing tied to a thread.
unsafe impl<T: Send> Send for SpinLock<T> {}

/// The lock held: the value, until dropped.
pub(super) struct Guard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> SpinLock<T> {
    pub(super) const fn new(value: T) -> SpinLock<T> {
        SpinLock {
            held: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the lock, spinning (then yielding the thread) while another
    /// holds it.
    #[inline]
    pub(super) fn lock(&self) -> Guard<'_, T> {
        if self
            .held
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        Guard { lock: self }
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        let mut spins = 0u32;
        loop {
            // Read until it looks free, then try: contenders do not bounce
            // the line between them with failing read-modify-writes.
            while self.held.load(Ordering::Relaxed) {
                if spins < SPINS {
                    spins += 1;
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            if self
                .held
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard exists, so this caller holds the lock (see the
        // `Sync` impl): nobody else reaches the value until it is dropped.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` borrows the guard
        // exclusively.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.held.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;

    use super::SpinLock;

    #[test]
    fn increments_from_several_threads_are_none_lost() {
        const PER_THREAD: u64 = 100_000;
        let lock = Arc::new(SpinLock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                thread::spawn(move || {
                    for _ in 0..PER_THREAD {
                        // A read and a write apart: a lock that let two in
                        // at once would lose increments.
                        let mut n = lock.lock();
                        let seen = *n;
                        std::hint::black_box(&mut *n);
                        *n = seen + 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("a counting thread");
        }
        assert_eq!(*lock.lock(), 4 * PER_THREAD);
    }

    #[test]
    fn a_guard_dropped_by_a_panic_releases_the_lock() {
        let lock = SpinLock::new(1);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _held = lock.lock();
            panic!("while holding it");
        }));
        assert!(caught.is_err());
        assert_eq!(*lock.lock(), 1, "taken again: the unwind released it");
    }
}
