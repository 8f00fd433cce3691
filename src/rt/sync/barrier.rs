//! [`Barrier`] and [`WaitGroup`]: waiting for a number of parties.

use std::fmt;
use std::sync::Arc;

use super::condvar::Condvar;
use super::mutex::Mutex;

/// Lets `n` parties wait for each other: the `n`th to arrive releases them
/// all, and the barrier is ready for the next round. Tasks park, threads
/// block.
///
/// A party that is cancelled while it waits leaves the round: it no longer
/// counts as arrived, so the barrier waits for another.
///
/// ```
/// use jmpco::rt::sync::Barrier;
///
/// let barrier = Barrier::new(1);
/// assert!(barrier.wait().is_leader(), "alone, every wait leads");
/// ```
pub struct Barrier {
    parties: usize,
    state: Mutex<Round>,
    arrived: Condvar,
}

struct Round {
    waiting: usize,
    generation: u64,
}

/// What [`Barrier::wait`] says: exactly one party of a round leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// True for the party that completed the round.
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `parties` parties (0 behaves as 1).
    pub const fn new(parties: usize) -> Barrier {
        Barrier {
            parties,
            state: Mutex::new(Round {
                waiting: 0,
                generation: 0,
            }),
            arrived: Condvar::new(),
        }
    }

    /// Waits until the round's last party arrives.
    ///
    /// # Panics
    /// In a coroutine that a task created, if it would wait.
    pub fn wait(&self) -> BarrierWaitResult {
        let mut round = self.state.lock().unwrap_or_else(|e| e.into_inner());
        round.waiting += 1;
        if round.waiting >= self.parties {
            round.waiting = 0;
            round.generation += 1;
            drop(round);
            self.arrived.notify_all();
            return BarrierWaitResult(true);
        }
        let generation = round.generation;
        drop(round);
        // Withdraws this party's arrival if it unwinds (is cancelled) before
        // its round completes.
        struct Leave<'a>(&'a Barrier, u64);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                let mut round = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
                if round.generation == self.1 {
                    round.waiting -= 1;
                }
            }
        }
        let leave = Leave(self, generation);
        let mut round = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while round.generation == generation {
            round = self.arrived.wait(round).unwrap_or_else(|e| e.into_inner());
        }
        drop(round);
        std::mem::forget(leave);
        BarrierWaitResult(false)
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .finish_non_exhaustive()
    }
}

/// Waits for a dynamic set of parties to finish, in crossbeam's shape:
/// each clone is one party, dropping it says "done", and
/// [`wait`](WaitGroup::wait) (which drops the caller's own) returns once
/// every other clone is gone. Tasks park, threads block.
///
/// ```
/// use jmpco::rt::sync::WaitGroup;
///
/// let wg = WaitGroup::new();
/// let worker = wg.clone();
/// std::thread::spawn(move || drop(worker));
/// wg.wait();
/// ```
pub struct WaitGroup {
    inner: Arc<Group>,
}

struct Group {
    parties: Mutex<usize>,
    done: Condvar,
}

impl WaitGroup {
    /// A group of one party: the caller.
    pub fn new() -> WaitGroup {
        WaitGroup {
            inner: Arc::new(Group {
                parties: Mutex::new(1),
                done: Condvar::new(),
            }),
        }
    }

    /// Leaves the group, then waits until every other party has left.
    ///
    /// # Panics
    /// In a coroutine that a task created, if it would wait.
    pub fn wait(self) {
        let inner = self.inner.clone();
        drop(self);
        let parties = inner.parties.lock().unwrap_or_else(|e| e.into_inner());
        drop(
            inner
                .done
                .wait_while(parties, |n| *n > 0)
                .unwrap_or_else(|e| e.into_inner()),
        );
    }
}

impl Default for WaitGroup {
    fn default() -> WaitGroup {
        WaitGroup::new()
    }
}

impl Clone for WaitGroup {
    fn clone(&self) -> WaitGroup {
        *self.inner.parties.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        WaitGroup {
            inner: self.inner.clone(),
        }
    }
}

impl Drop for WaitGroup {
    fn drop(&mut self) {
        let mut parties = self.inner.parties.lock().unwrap_or_else(|e| e.into_inner());
        *parties -= 1;
        if *parties == 0 {
            drop(parties);
            self.inner.done.notify_all();
        }
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup").finish_non_exhaustive()
    }
}
