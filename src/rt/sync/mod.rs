//! Task-aware synchronisation: [`Mutex`], [`RwLock`], [`Semaphore`],
//! [`Condvar`], [`Barrier`] and [`WaitGroup`], in std's (and crossbeam's)
//! shapes.
//!
//! # Parking, not blocking
//! A task that must wait parks (its worker runs the others); a plain
//! thread blocks; both can share one lock. Waiters are served in arrival
//! order, by hand-off: an unlock gives the lock straight to the oldest
//! waiter, so nobody starves and nobody wakes to find it taken. All of it
//! stands on one permit queue (`sem.rs`), and each wait on a claim (see
//! the runtime's `park.rs`), so a waiter that times out, or is cancelled,
//! in the same instant it is served hands what it was given to the next
//! waiter: it leaves no ghost behind.
//!
//! A coroutine that a task created (code on a worker's thread outside its
//! tasks) cannot park; an operation that would have to wait there panics
//! rather than block the worker (which could deadlock it).
//!
//! # Cancellation and poisoning
//! A task cancelled while it waits unwinds out of the wait. A task that
//! cannot park (being cancelled, or unwinding a panic, as in a destructor)
//! and must wait for a lock blocks its thread until the lock is handed to
//! it; if the holder is a task of the same worker (which could never run
//! to unlock), `Mutex` and `RwLock` panic instead. Prefer `try_lock` in
//! destructors.
//!
//! As in std, a guard dropped while its holder panics poisons the lock. A
//! guard dropped while its task is *cancelled*, or unwinds to a
//! [`timeout`](crate::rt::timeout) that fired, does not: the unwind is the
//! runtime's, not a failure of the code that held the lock.

mod barrier;
mod condvar;
mod mutex;
mod poison;
mod rwlock;
mod sem;

pub use barrier::{Barrier, BarrierWaitResult, WaitGroup};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use sem::{AcquireError, Semaphore, SemaphorePermit};
