//! [`Condvar`]: waiting for a condition under a [`Mutex`].

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, LockResult, Mutex as StdMutex, MutexGuard as StdGuard};
use std::time::{Duration, Instant};

use super::mutex::MutexGuard;
use super::sem::would_wait_outside_a_task;
use crate::rt::park::{Caller, Parker, Woke};
use crate::rt::timer::deadline_after;

/// The operation number of a condition wait.
const OP: usize = 0;

/// A condition variable for [`Mutex`](super::Mutex): a task parks in
/// [`wait`](Self::wait), a thread blocks; notifications wake waiters in the
/// order they began to wait. Wake-ups may be spurious, as with std's: wait
/// in a loop on the condition (or use [`wait_while`](Self::wait_while)).
///
/// The waiter registers before it unlocks the mutex, so a notification
/// made under the mutex after the waiter checked its condition always
/// finds it. A waiter that is cancelled, or times out, in the same instant
/// it is notified passes the notification on to the next waiter.
#[derive(Default)]
pub struct Condvar {
    waiters: StdMutex<VecDeque<Arc<Parker>>>,
}

/// Whether a timed wait ended by its timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True if the timeout passed (no notification came).
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A condition variable with no waiters.
    pub const fn new() -> Condvar {
        Condvar {
            waiters: StdMutex::new(VecDeque::new()),
        }
    }

    fn list(&self) -> StdGuard<'_, VecDeque<Arc<Parker>>> {
        // No code panics while holding it.
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Unlocks `guard`'s mutex, waits for a notification, locks again.
    ///
    /// # Errors
    /// If the mutex is poisoned when it is locked again (the guard is
    /// inside the error).
    ///
    /// # Panics
    /// In a coroutine that a task created (see the module docs), and as
    /// [`Mutex::lock`](super::Mutex::lock).
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        self.wait_until(guard, None).map(|(g, _)| g).map_err(|e| {
            let (g, _) = e.into_inner();
            std::sync::PoisonError::new(g)
        })
    }

    /// [`wait`](Self::wait) for at most `timeout` (`Duration::MAX`:
    /// forever).
    ///
    /// # Errors
    /// As `wait`.
    ///
    /// # Panics
    /// As `wait`.
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        self.wait_until(guard, deadline_after(timeout))
    }

    /// Waits while `condition` holds, looping over spurious wake-ups.
    ///
    /// # Errors
    /// As `wait`.
    ///
    /// # Panics
    /// As `wait`.
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> LockResult<MutexGuard<'a, T>> {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    fn wait_until<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let mutex = MutexGuard::mutex(&guard);
        let waiter = match Caller::here() {
            Caller::Can(waiter) => waiter,
            Caller::OnWorker(_) => would_wait_outside_a_task("Condvar::wait"),
        };
        let parker = Parker::new(waiter);
        self.list().push_back(parker.clone());
        drop(guard);
        let pending = Pending {
            cv: self,
            parker: &parker,
        };
        let woke = parker.sleep(deadline);
        let notified = pending.settle(woke);
        std::mem::forget(pending);
        let timed_out = WaitTimeoutResult(!notified && woke == Woke::TimedOut);
        match mutex.lock() {
            Ok(g) => Ok((g, timed_out)),
            Err(e) => Err(std::sync::PoisonError::new((e.into_inner(), timed_out))),
        }
    }

    /// Wakes the oldest waiter, if any.
    pub fn notify_one(&self) {
        let mut list = self.list();
        while let Some(parker) = list.pop_front() {
            if parker.try_claim(OP) {
                parker.unpark();
                return;
            }
        }
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        let waiters = std::mem::take(&mut *self.list());
        for parker in waiters {
            if parker.try_claim(OP) {
                parker.unpark();
            }
        }
    }
}

/// A wait in progress; dropped only if the waiter unwinds out of it (it is
/// cancelled), and then passes on a notification it received.
struct Pending<'a> {
    cv: &'a Condvar,
    parker: &'a Arc<Parker>,
}

impl Pending<'_> {
    /// Whether the wait ended by a notification.
    fn settle(&self, woke: Woke) -> bool {
        if let Woke::Claimed(_) = woke {
            return true;
        }
        if self.parker.try_abort().is_err() {
            return true; // notified in the same instant
        }
        self.cv.list().retain(|p| !Arc::ptr_eq(p, self.parker));
        false
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.settle(Woke::Refused) {
            self.cv.notify_one();
        }
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}
