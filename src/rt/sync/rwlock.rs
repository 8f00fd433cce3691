//! [`RwLock`]: many readers or one writer, on the FIFO permit queue.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

use super::poison::{self, this_worker, Poison};
use super::sem::{Acquired, Sem};
use crate::rt::park::Waiter;

/// The permits a writer takes: all of them. A reader takes one.
const ALL: usize = usize::MAX >> 2;

/// A reader-writer lock whose waiters park (tasks) or block (threads), in
/// arrival order: a waiting writer holds back the readers that come after
/// it, so writers do not starve, and readers that queue together get in
/// together.
///
/// Poisoning follows std: a write guard dropped while its holder panics
/// (not when it is cancelled) poisons the lock.
///
/// ```
/// use jmpco::rt::sync::RwLock;
///
/// let lock = RwLock::new(5);
/// {
///     let a = lock.read().unwrap();
///     let b = lock.read().unwrap();
///     assert_eq!(*a + *b, 10);
///     assert!(lock.try_write().is_err());
/// }
/// *lock.write().unwrap() += 1;
/// assert_eq!(*lock.read().unwrap(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    sem: Sem,
    poison: Poison,
    /// The worker whose task holds the write lock (0: none, or a thread).
    writer: AtomicUsize,
    data: UnsafeCell<T>,
}

// SAFETY: the data is reached only through guards: any number of readers
// (`&T`, so `T: Sync`) or one writer (`&mut T` from any thread, so
// `T: Send`), never both (a writer holds every permit).
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Shared access; dropping it unlocks.
#[must_use = "dropping the guard unlocks at once"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

/// Exclusive access; dropping it unlocks.
#[must_use = "dropping the guard unlocks at once"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    panicking: bool,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T> RwLock<T> {
    /// A lock holding `value`, unlocked.
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            sem: Sem::new(ALL),
            poison: Poison::new(),
            writer: AtomicUsize::new(0),
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

impl<T: ?Sized> RwLock<T> {
    /// Shared access, waiting while a writer holds or waits for the lock.
    /// A task that cannot park blocks its thread instead (see
    /// [`Mutex::lock`](super::Mutex::lock)).
    ///
    /// # Errors
    /// If poisoned; the guard is inside the error.
    ///
    /// # Panics
    /// In a coroutine that a task created if it would wait, or in a task
    /// that cannot park while a task of the same worker holds the write
    /// lock. (A task that cannot park and waits for readers of its own
    /// worker to leave would deadlock: do not take locks in destructors
    /// while other tasks of the worker hold them across parks.)
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        self.take(1, "RwLock::read");
        let guard = RwLockReadGuard {
            lock: self,
            _not_send: PhantomData,
        };
        self.poison.wrap(guard)
    }

    /// Exclusive access, waiting while anyone holds the lock.
    ///
    /// # Errors
    /// If poisoned; the guard is inside the error.
    ///
    /// # Panics
    /// As [`read`](Self::read).
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        self.take(ALL, "RwLock::write");
        self.write_guard()
    }

    fn take(&self, n: usize, what: &str) {
        match self.sem.acquire(n, None, what) {
            Acquired::Yes => {}
            Acquired::Refused => {
                let here = this_worker();
                if here != 0 && self.writer.load(Ordering::Acquire) == here {
                    panic!(
                        "jmpco: {what} in a task that cannot park (it is being cancelled or \
                         unwinding), while a task of the same worker holds the write lock: it \
                         could never run to unlock it; use try_read / try_write in destructors"
                    );
                }
                let thread = Waiter::Thread(std::thread::current());
                match self.sem.acquire_as(n, None, what, Some(thread)) {
                    Acquired::Yes => {}
                    other => unreachable!("jmpco: a thread's lock ended {other:?}"),
                }
            }
            Acquired::TimedOut => unreachable!("jmpco: a lock without deadline timed out"),
        }
    }

    fn write_guard(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        self.writer.store(this_worker(), Ordering::Release);
        let guard = RwLockWriteGuard {
            lock: self,
            panicking: std::thread::panicking(),
            _not_send: PhantomData,
        };
        self.poison.wrap(guard)
    }

    /// Shared access if that needs no waiting.
    ///
    /// # Errors
    /// `WouldBlock`, or `Poisoned` with the guard inside.
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        if !self.sem.try_acquire(1) {
            return Err(TryLockError::WouldBlock);
        }
        let guard = RwLockReadGuard {
            lock: self,
            _not_send: PhantomData,
        };
        if self.is_poisoned() {
            Err(TryLockError::Poisoned(PoisonError::new(guard)))
        } else {
            Ok(guard)
        }
    }

    /// Exclusive access if that needs no waiting.
    ///
    /// # Errors
    /// `WouldBlock`, or `Poisoned` with the guard inside.
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        if !self.sem.try_acquire(ALL) {
            return Err(TryLockError::WouldBlock);
        }
        self.write_guard().map_err(TryLockError::Poisoned)
    }

    /// Whether a writer panicked.
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Forgets an earlier poisoning.
    pub fn clear_poison(&self) {
        self.poison.clear();
    }

    /// The data, through the exclusive borrow.
    ///
    /// # Errors
    /// If poisoned (the reference is inside the error).
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.poison.get();
        poison::wrap(poisoned, self.data.get_mut())
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a reader holds a permit, so no writer (who needs them
        // all) holds the lock: only shared references exist.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the writer holds every permit: no other guard exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes this the only use.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(1);
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.poison.guard_dropped(self.panicking);
        self.lock.writer.store(0, Ordering::Release);
        self.lock.sem.release(ALL);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(guard) => d.field("data", &&*guard),
            Err(TryLockError::Poisoned(e)) => d.field("data", &&*e.into_inner()),
            Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.is_poisoned()).finish()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}
