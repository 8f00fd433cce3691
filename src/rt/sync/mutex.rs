//! [`Mutex`]: std's shape and poisoning, on the FIFO permit queue.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LockResult, TryLockError, TryLockResult};

use super::poison::{self, this_worker, Poison};
use super::sem::{Acquired, Sem};
use crate::rt::park::Waiter;

/// A mutual-exclusion lock whose waiters park (tasks) or block (threads),
/// served in arrival order: an unlock hands the lock straight to the
/// oldest waiter, so nobody starves.
///
/// Poisoning follows std: a guard dropped while its holder panics marks
/// the mutex poisoned, and later `lock`s return the guard inside an
/// `Err`. A task *cancelled* while it holds a guard does not poison it: its
/// unwind is the runtime's, not a failure.
///
/// ```
/// use jmpco::rt::sync::Mutex;
///
/// let m = Mutex::new(1);
/// *m.lock().unwrap() += 1;
/// assert_eq!(*m.lock().unwrap(), 2);
/// ```
pub struct Mutex<T: ?Sized> {
    sem: Sem,
    poison: Poison,
    /// The worker whose task holds the lock ([`worker_id`]), 0 if a
    /// thread (or nobody) does: lets a task that cannot park tell whether
    /// blocking its thread would deadlock.
    holder: AtomicUsize,
    data: UnsafeCell<T>,
}

// SAFETY: the data is reached only through a guard, and a guard exists for
// at most one party at a time (one permit); moving the mutex moves `T`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above: shared access hands out `&mut T` to one guard at a
// time, which needs `T: Send` (the holder may be any thread).
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Exclusive access to a [`Mutex`]'s data; dropping it unlocks.
#[must_use = "dropping the guard unlocks at once"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// Whether the thread was already unwinding when it locked (std's
    /// rule: only a panic that starts while the guard is held poisons).
    panicking: bool,
    /// A guard stays on its thread, like std's.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives `&T`, which `T: Sync` allows anywhere.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    /// A mutex holding `value`, unlocked.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            sem: Sem::new(1),
            poison: Poison::new(),
            holder: AtomicUsize::new(0),
            data: UnsafeCell::new(value),
        }
    }

    /// The data.
    ///
    /// # Errors
    /// If poisoned (the value is inside the error).
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poison.get();
        poison::wrap(poisoned, self.data.into_inner())
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, waiting while another holds it: a task parks, a thread
    /// blocks. A task that cannot park (being cancelled, or unwinding a
    /// panic, say in a destructor) blocks its thread instead until the lock
    /// is handed to it.
    ///
    /// # Errors
    /// If poisoned; the guard is inside the error.
    ///
    /// # Panics
    /// If it would wait in a coroutine that a task created, or in a task
    /// that cannot park while the holder is a task of the same worker
    /// (which could never run to unlock it).
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        match self.sem.acquire(1, None, "Mutex::lock") {
            Acquired::Yes => {}
            Acquired::Refused => self.lock_blocking_the_thread(),
            Acquired::TimedOut => unreachable!("jmpco: a lock without deadline timed out"),
        }
        self.guard()
    }

    #[cold]
    fn lock_blocking_the_thread(&self) {
        let here = this_worker();
        if here != 0 && self.holder.load(Ordering::Acquire) == here {
            panic!(
                "jmpco: Mutex::lock in a task that cannot park (it is being cancelled or \
                 unwinding), while a task of the same worker holds the lock: it could never \
                 run to unlock it; use try_lock in destructors"
            );
        }
        let thread = Waiter::Thread(std::thread::current());
        match self.sem.acquire_as(1, None, "Mutex::lock", Some(thread)) {
            Acquired::Yes => {}
            other => unreachable!("jmpco: a thread's lock ended {other:?}"),
        }
    }

    /// Locks if that needs no waiting.
    ///
    /// # Errors
    /// `WouldBlock`, or `Poisoned` with the guard inside.
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        if !self.sem.try_acquire(1) {
            return Err(TryLockError::WouldBlock);
        }
        self.guard().map_err(TryLockError::Poisoned)
    }

    /// Whether a holder panicked.
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Forgets an earlier poisoning.
    pub fn clear_poison(&self) {
        self.poison.clear();
    }

    /// The data, through the exclusive borrow (no locking needed).
    ///
    /// # Errors
    /// If poisoned (the reference is inside the error).
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.poison.get();
        poison::wrap(poisoned, self.data.get_mut())
    }

    /// The guard for the permit just taken.
    fn guard(&self) -> LockResult<MutexGuard<'_, T>> {
        self.holder.store(this_worker(), Ordering::Release);
        let guard = MutexGuard {
            mutex: self,
            panicking: std::thread::panicking(),
            _not_send: PhantomData,
        };
        self.poison.wrap(guard)
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the mutex's only permit, so no other
        // reference to the data exists while it lives.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes this the only use
        // of the guard.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks, for as long as the mutex lives (for
    /// `Condvar`, which unlocks and locks it again).
    pub(crate) fn mutex(this: &Self) -> &'a Mutex<T> {
        this.mutex
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.poison.guard_dropped(self.panicking);
        self.mutex.holder.store(0, Ordering::Release);
        self.mutex.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(TryLockError::Poisoned(e)) => d.field("data", &&*e.into_inner()),
            Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.is_poisoned()).finish()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}
