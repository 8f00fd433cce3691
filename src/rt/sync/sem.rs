//! The permit queue every lock here stands on, and [`Semaphore`], its
//! public face.
//!
//! A [`Sem`] holds a number of permits and the waiters that want some, in
//! arrival order. Nobody barges: a request is served at once only if no
//! one waits before it. Releasing permits serves the waiters from the
//! front while the front one's request fits, and serving means claiming
//! its [`Parker`] and handing it the permits: the waiter wakes owning them,
//! and never retries. A waiter that gives up (deadline, refused park,
//! cancellation) withdraws; if it was served in the same instant, it hands
//! the permits straight back, so the next waiter is served: no ghost waiter
//! holds permits nobody uses.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::rt::park::{Caller, Parker, Waiter, Woke};
use crate::rt::timer::deadline_after;

/// The operation number of a permit wait (a wait has one).
const OP: usize = 0;

struct State {
    permits: usize,
    waiters: VecDeque<Arc<Wait>>,
}

struct Wait {
    parker: Arc<Parker>,
    want: usize,
}

/// How an [`acquire`](Sem::acquire) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Acquired {
    /// The permits are the caller's.
    Yes,
    /// The deadline passed first.
    TimedOut,
    /// The calling task cannot park (being cancelled, or unwinding).
    Refused,
}

/// Permits and their FIFO queue of waiters.
pub(crate) struct Sem {
    state: Mutex<State>,
}

impl Sem {
    pub(crate) const fn new(permits: usize) -> Sem {
        Sem {
            state: Mutex::new(State {
                permits,
                waiters: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Permits free now.
    pub(crate) fn available(&self) -> usize {
        self.lock().permits
    }

    /// Takes `n` permits if that needs no waiting (and nobody waits).
    pub(crate) fn try_acquire(&self, n: usize) -> bool {
        let mut state = self.lock();
        if state.waiters.is_empty() && state.permits >= n {
            state.permits -= n;
            true
        } else {
            false
        }
    }

    /// Takes `n` permits, waiting (as the caller: its task parks, a thread
    /// blocks) until they are handed over or `deadline`.
    ///
    /// # Panics
    /// If it must wait in a coroutine that a task created (`what` names the
    /// operation in the message).
    pub(crate) fn acquire(&self, n: usize, deadline: Option<Instant>, what: &str) -> Acquired {
        self.acquire_as(n, deadline, what, None)
    }

    /// [`acquire`](Self::acquire) as `waiter` if given (a thread waiter
    /// blocks the thread even in a task).
    pub(crate) fn acquire_as(
        &self,
        n: usize,
        deadline: Option<Instant>,
        what: &str,
        waiter: Option<Waiter>,
    ) -> Acquired {
        let mut state = self.lock();
        if state.waiters.is_empty() && state.permits >= n {
            state.permits -= n;
            return Acquired::Yes;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Acquired::TimedOut;
        }
        let waiter = match waiter {
            Some(waiter) => waiter,
            None => match Caller::here() {
                Caller::Can(waiter) => waiter,
                Caller::OnWorker(_) => {
                    drop(state);
                    would_wait_outside_a_task(what);
                }
            },
        };
        let wait = Arc::new(Wait {
            parker: Parker::new(waiter),
            want: n,
        });
        state.waiters.push_back(wait.clone());
        drop(state);
        let pending = Pending {
            sem: self,
            wait: &wait,
        };
        let woke = wait.parker.sleep(deadline);
        let got = pending.settle(woke);
        std::mem::forget(pending);
        got
    }

    /// Gives `n` permits back and serves the waiters they let in.
    pub(crate) fn release(&self, n: usize) {
        let mut state = self.lock();
        state.permits += n;
        serve(&mut state);
    }
}

/// Serves waiters from the front while the front one's request fits.
fn serve(state: &mut State) {
    while let Some(front) = state.waiters.front() {
        if front.want > state.permits {
            return;
        }
        let wait = state.waiters.pop_front().expect("the front exists");
        if wait.parker.try_claim(OP) {
            state.permits -= wait.want;
            wait.parker.unpark();
        }
    }
}

/// A wait in progress; dropped only if the waiter unwinds out of it (it is
/// cancelled), and then withdraws without keeping permits.
struct Pending<'a> {
    sem: &'a Sem,
    wait: &'a Arc<Wait>,
}

impl Pending<'_> {
    fn settle(&self, woke: Woke) -> Acquired {
        let gave_up = match woke {
            Woke::Claimed(_) => return Acquired::Yes,
            Woke::TimedOut => Acquired::TimedOut,
            Woke::Refused | Woke::Woken => Acquired::Refused,
        };
        if self.wait.parker.try_abort().is_err() {
            return Acquired::Yes; // served in the same instant
        }
        let mut state = self.sem.lock();
        state.waiters.retain(|w| !Arc::ptr_eq(w, self.wait));
        // A large request leaving the front may let smaller ones in.
        serve(&mut state);
        gave_up
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.settle(Woke::Refused) == Acquired::Yes {
            self.sem.release(self.wait.want);
        }
    }
}

/// The panic of a wait outside a task on a worker's thread.
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn would_wait_outside_a_task(what: &str) -> ! {
    panic!(
        "jmpco: {what} would wait in a coroutine nested in a task (outside the task itself): \
         only the task can park, and blocking the worker's thread could deadlock it; wait in \
         the task, or use the try_ form"
    )
}

/// A counting semaphore whose waiters park (tasks) or block (threads), in
/// FIFO order.
///
/// ```
/// use jmpco::rt::sync::Semaphore;
///
/// let pool = Semaphore::new(2);
/// let a = pool.acquire().expect("a permit");
/// let _b = pool.try_acquire().expect("the second");
/// assert!(pool.try_acquire().is_none());
/// drop(a);
/// assert_eq!(pool.available_permits(), 1);
/// ```
pub struct Semaphore {
    sem: Sem,
}

/// A permit of a [`Semaphore`]; dropping it gives it back.
#[must_use = "dropping a permit gives it back at once"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: usize,
}

/// Why [`Semaphore::acquire`] returned no permit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcquireError {
    /// The deadline passed first.
    Timeout,
    /// The calling task cannot park: it is being cancelled, or unwinding a
    /// panic.
    Refused,
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireError::Timeout => f.write_str("timed out waiting for a permit"),
            AcquireError::Refused => f.write_str(
                "cannot wait for a permit: the task is being cancelled or is unwinding a panic",
            ),
        }
    }
}

impl std::error::Error for AcquireError {}

impl Semaphore {
    /// A semaphore with `permits` permits.
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore {
            sem: Sem::new(permits),
        }
    }

    /// Permits free now.
    pub fn available_permits(&self) -> usize {
        self.sem.available()
    }

    /// Adds `n` permits (serving waiters).
    pub fn add_permits(&self, n: usize) {
        self.sem.release(n);
    }

    /// One permit, waiting for it.
    ///
    /// # Errors
    /// `Refused` if the calling task cannot park.
    ///
    /// # Panics
    /// If it would wait in a coroutine that a task created.
    pub fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many(1, None)
    }

    /// One permit, waiting at most `timeout` (`Duration::MAX`: forever).
    ///
    /// # Errors
    /// `Timeout`, or `Refused` if the calling task cannot park.
    ///
    /// # Panics
    /// As [`acquire`](Self::acquire).
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many(1, deadline_after(timeout))
    }

    /// `n` permits at once, waiting until `deadline` (`None`: forever).
    ///
    /// # Errors
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Panics
    /// As [`acquire`](Self::acquire).
    pub fn acquire_many(
        &self,
        n: usize,
        deadline: Option<Instant>,
    ) -> Result<SemaphorePermit<'_>, AcquireError> {
        match self.sem.acquire(n, deadline, "Semaphore::acquire") {
            Acquired::Yes => Ok(SemaphorePermit { sem: self, n }),
            Acquired::TimedOut => Err(AcquireError::Timeout),
            Acquired::Refused => Err(AcquireError::Refused),
        }
    }

    /// One permit if one is free and nobody waits.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.sem
            .try_acquire(1)
            .then(|| SemaphorePermit { sem: self, n: 1 })
    }
}

impl SemaphorePermit<'_> {
    /// Keeps the permits taken for good (they are not given back).
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.sem.release(self.n);
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available_permits", &self.available_permits())
            .finish()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("n", &self.n)
            .finish()
    }
}
