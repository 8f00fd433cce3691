//! Channels between tasks, workers and threads: [`bounded`], [`unbounded`],
//! and `bounded(0)` as a rendezvous. crossbeam-channel's API and errors.
//!
//! ```
//! use jmpco::rt::{self, channel, Runtime};
//!
//! let rt = Runtime::builder().worker_threads(1).build()?;
//! let total = rt.block_on(|| {
//!     let (tx, rx) = channel::bounded(4);
//!     for i in 0..3 {
//!         let tx = tx.clone();
//!         rt::spawn(move || tx.send(i * 10).unwrap());
//!     }
//!     drop(tx); // the receiver ends once every sender is gone
//!     rx.iter().sum::<i32>()
//! });
//! assert_eq!(total, 30);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # The model
//! A channel is a queue under one lock (a spin lock whose release is a
//! plain store, `lock.rs`), plus the senders and receivers that wait on
//! it, oldest first. A waiting sender holds its value in its
//! entry; a waiting receiver has a slot. Whoever makes progress possible
//! completes the waiter itself, under the lock: a sender that finds a
//! receiver waiting on an empty queue puts the value into its slot; a
//! receiver that takes from a full queue moves the oldest waiting sender's
//! value in, and on a rendezvous channel takes it directly from that
//! sender. Each completion first *claims* the wait, so it happens exactly
//! once even when the waiter's deadline passes, or it is cancelled, at the
//! same moment: nobody retries, and no message is lost or delivered twice.
//! A plain wait's claims, and its waiter giving up, all happen under the
//! channel's lock, so a claim is a look and a store; a select's waits,
//! which span channels, are claimed by compare-and-swap (`wait.rs`). A
//! claim that moves a value into or out of the entry is seen by the waiter
//! only once the value has moved, so the entry needs no lock of its own.
//! Messages come out in the order they went in. The queues point to
//! entries their waiters own; each handle keeps one entry for all its
//! waits (`kept.rs`), so a steady exchange allocates nothing per message,
//! and a hand-off between two tasks of one worker costs one atomic
//! read-modify-write per operation: the lock's.
//!
//! # What parks, what blocks
//! A task parks (its worker runs the others); a hand-off between tasks of
//! one worker makes no system call, and a task of another worker is woken
//! through its mailbox. A plain thread blocks. A coroutine that a task
//! created (code on a worker's thread outside its tasks) cannot wait: an
//! operation that would have to panics instead, since blocking the thread
//! would stall its worker, and deadlock it if the other side runs there.
//!
//! # Cancellation
//! A task cancelled while it waits unwinds out of the operation: a sender
//! takes its value back with it (the message was never sent), a receiver
//! that had already been handed a message puts it back at the head of the
//! queue (or hands it to the next waiting receiver), so it is not lost. A
//! task that cannot park (being cancelled, or unwinding a panic) gets the
//! operation's error at once: `send` gives the value back, `recv` returns
//! [`RecvError`], the `_timeout` forms report a timeout.
//!
//! # Disconnection
//! When every [`Receiver`] is gone, sends fail and give the value back;
//! messages still queued are dropped. When every [`Sender`] is gone, the
//! receivers drain what is queued, then fail.
//!
//! Inside the crate a channel can also be *closed* while both sides still
//! exist (the C API's `jmpco_chan_close`, whose handle is sender and
//! receiver at once): from then on it behaves as if every sender and every
//! receiver were gone, except that what is queued stays for the receivers
//! to drain. Waiting senders and receivers are woken as disconnected.

mod error;

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};

use super::park::{Wake, Woke};
use super::timer::deadline_after;
use kept::Kept;
use lock::{Guard, SpinLock};
use wait::{Entry, Wait};

mod kept;
mod lock;
mod select;
mod wait;

pub use select::{Interrupted, Select};

/// The operation number of a plain channel wait (a wait has one; a
/// [`Select`] numbers its operations).
const OP: usize = 0;

/// A channel that holds at most `cap` messages; `bounded(0)` is a
/// rendezvous: a send waits until a receiver takes its value.
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    make(Some(cap))
}

/// A channel with no limit: a send never waits.
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    make(None)
}

fn make<T>(cap: Option<usize>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan {
        inner: SpinLock::new(Inner {
            queue: VecDeque::new(),
            cap,
            senders: 1,
            receivers: 1,
            closed: false,
            send_waits: VecDeque::new(),
            recv_waits: VecDeque::new(),
            later: Wakes::default(),
        }),
    });
    (
        Sender {
            chan: chan.clone(),
            kept: Kept::new(),
        },
        Receiver {
            chan,
            kept: Kept::new(),
        },
    )
}

struct Chan<T> {
    inner: SpinLock<Inner<T>>,
}

struct Inner<T> {
    queue: VecDeque<T>,
    /// `None`: unbounded.
    cap: Option<usize>,
    senders: usize,
    receivers: usize,
    /// Closed ([`Sender::close`]): counts as every sender and receiver gone,
    /// the queue aside.
    closed: bool,
    /// Waiting senders, oldest first: each holds its value until a
    /// receiver takes it (a claim that leaves it there is a disconnect).
    send_waits: VecDeque<Entry<T>>,
    /// Waiting receivers, oldest first: a sender fills each one's slot (a
    /// claim that leaves it empty is a disconnect).
    recv_waits: VecDeque<Entry<T>>,
    /// Wakes of waiters on other threads, delivered once the lock is
    /// released ([`Locked`]'s drop).
    later: Wakes,
}

impl<T> Chan<T> {
    /// Locks. No code panics while it holds the lock (values are moved
    /// under it, never dropped), so there is no poisoning to report.
    #[inline]
    fn lock(&self) -> Locked<'_, T> {
        Locked {
            guard: ManuallyDrop::new(self.inner.lock()),
        }
    }
}

/// A channel's state, locked. Its drop releases the lock, then delivers
/// the wakes that may make a system call (a task of another worker, a
/// thread), so that no contender spins through them.
struct Locked<'a, T> {
    guard: ManuallyDrop<Guard<'a, Inner<T>>>,
}

impl<T> Deref for Locked<'_, T> {
    type Target = Inner<T>;

    #[inline]
    fn deref(&self) -> &Inner<T> {
        &self.guard
    }
}

impl<T> DerefMut for Locked<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Inner<T> {
        &mut self.guard
    }
}

impl<T> Drop for Locked<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.guard.later.first.is_none() {
            // SAFETY: dropped once, here, and not used after.
            unsafe { ManuallyDrop::drop(&mut self.guard) };
        } else {
            self.release_then_wake();
        }
    }
}

impl<T> Locked<'_, T> {
    /// The drop's path with wakes to deliver.
    #[cold]
    #[inline(never)]
    fn release_then_wake(&mut self) {
        let later = std::mem::take(&mut self.guard.later);
        // SAFETY: called once, by the drop, which uses the guard no more.
        unsafe { ManuallyDrop::drop(&mut self.guard) };
        later.deliver();
    }
}

/// Wakes to deliver once a channel's lock is released: the first without
/// an allocation.
#[derive(Default)]
struct Wakes {
    first: Option<Wake>,
    more: Vec<Wake>,
}

impl Wakes {
    /// Keeps a wake for later, if there is one ([`Wait::complete`] woke a
    /// task of this worker itself).
    #[inline]
    fn add(&mut self, wake: Option<Wake>) {
        let Some(wake) = wake else { return };
        if self.first.is_none() {
            self.first = Some(wake);
        } else {
            self.more.push(wake);
        }
    }

    #[inline]
    fn deliver(self) {
        if let Some(first) = self.first {
            first.wake();
            for wake in self.more {
                wake.wake();
            }
        }
    }
}

impl<T> Inner<T> {
    fn has_room(&self) -> bool {
        self.cap.is_none_or(|cap| self.queue.len() < cap)
    }

    /// Whether no message can come beyond those queued: every sender is
    /// gone, or the channel is closed.
    fn senders_gone(&self) -> bool {
        self.senders == 0 || self.closed
    }

    /// Whether a send must fail: every receiver is gone, or the channel is
    /// closed.
    fn receivers_gone(&self) -> bool {
        self.receivers == 0 || self.closed
    }

    /// Ends every receiver's wait as disconnected: a claim that leaves the
    /// slot empty says so.
    fn disconnect_receivers(&mut self) {
        while let Some(entry) = self.recv_waits.pop_front() {
            if let Some(((), wake)) = entry.complete(|_| ()) {
                self.later.add(wake);
            }
        }
    }

    /// Ends every sender's wait as disconnected: a claim that leaves the
    /// value in place says so (the value stays the sender's).
    fn disconnect_senders(&mut self) {
        while let Some(entry) = self.send_waits.pop_front() {
            if let Some(((), wake)) = entry.complete(|_| ()) {
                self.later.add(wake);
            }
        }
    }

    /// Sends `value` without waiting: to the oldest waiting receiver if the
    /// queue is empty, else into the queue if it has room; gives it back
    /// otherwise.
    #[inline]
    fn offer(&mut self, value: T) -> Result<(), T> {
        let value = if self.queue.is_empty() {
            match self.hand_to_receiver(value) {
                Ok(()) => return Ok(()),
                Err(value) => value,
            }
        } else {
            value
        };
        if self.has_room() {
            self.queue.push_back(value);
            Ok(())
        } else {
            Err(value)
        }
    }

    /// Completes the oldest receiver still waiting with `value`.
    ///
    /// The claim ends after the value is in ([`Wait::complete`]): a waiter
    /// on another thread that looks at its wait meanwhile (it checks
    /// before it parks, and wakes on timers) does not find its slot empty,
    /// which says "disconnected", and lose the value stored after.
    #[inline(always)]
    fn hand_to_receiver(&mut self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        while let Some(entry) = self.recv_waits.pop_front() {
            if let Some(((), wake)) = entry.complete(|slot| *slot = value.take()) {
                self.later.add(wake);
                return Ok(());
            }
        }
        Err(value.expect("jmpco: a value handed to no receiver is still here"))
    }

    /// Receives without waiting: from the queue (then lets the oldest
    /// waiting sender in), or straight from a waiting sender.
    #[inline]
    fn take(&mut self) -> Option<T> {
        if let Some(value) = self.queue.pop_front() {
            while self.has_room() {
                match self.take_from_sender() {
                    Some(next) => self.queue.push_back(next),
                    None => break,
                }
            }
            return Some(value);
        }
        self.take_from_sender()
    }

    /// Completes the oldest sender still waiting, taking its value, with a
    /// claim that ends after it, as in
    /// [`hand_to_receiver`](Self::hand_to_receiver):
    /// a claimed sender that looked before the value was taken would find
    /// it still there, which says "disconnected", and take it back.
    #[inline]
    fn take_from_sender(&mut self) -> Option<T> {
        if self.send_waits.is_empty() {
            return None;
        }
        self.take_from_waiting_sender()
    }

    #[inline(never)]
    fn take_from_waiting_sender(&mut self) -> Option<T> {
        while let Some(entry) = self.send_waits.pop_front() {
            if let Some((value, wake)) = entry.complete(Option::take) {
                self.later.add(wake);
                if value.is_some() {
                    return value;
                }
            }
        }
        None
    }

    /// Puts back a message a cancelled receiver had been handed: it was the
    /// oldest, so it goes first (the queue may hold one more than its
    /// capacity until it is taken).
    fn restore(&mut self, value: T) {
        let value = if self.queue.is_empty() {
            match self.hand_to_receiver(value) {
                Ok(()) => return,
                Err(value) => value,
            }
        } else {
            value
        };
        self.queue.push_front(value);
    }
}

/// The sending side; clone it for more senders. `Send` and `Sync` when the
/// messages are `Send`.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
    /// The entry this handle's waits wait with.
    kept: Kept<T>,
}

/// The receiving side; clone it for more receivers (each message goes to
/// one of them). `Send` and `Sync` when the messages are `Send`.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    /// The entry this handle's waits wait with.
    kept: Kept<T>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the channel is full (on a rendezvous
    /// channel, until a receiver takes it).
    ///
    /// # Errors
    /// Every receiver is gone, or the calling task cannot park: the value
    /// comes back.
    ///
    /// # Panics
    /// If it would have to wait in a coroutine that a task created (see the
    /// module docs).
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.send_until(value, None)
            .map_err(|e| SendError(e.into_inner()))
    }

    /// Sends `value` if that needs no waiting.
    ///
    /// # Errors
    /// The channel is full, or every receiver is gone: the value comes back.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut inner = self.chan.lock();
        if inner.receivers_gone() {
            return Err(TrySendError::Disconnected(value));
        }
        inner.offer(value).map_err(TrySendError::Full)
    }

    /// [`send`](Self::send), giving up after `timeout` (`Duration::MAX`:
    /// never).
    ///
    /// # Errors
    /// As `send`, and `Timeout` when the deadline passes first.
    ///
    /// # Panics
    /// As `send`.
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_until(value, deadline_after(timeout))
    }

    /// [`send`](Self::send), giving up at `deadline`.
    ///
    /// # Errors
    /// As [`send_timeout`](Self::send_timeout).
    ///
    /// # Panics
    /// As `send`.
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.send_until(value, Some(deadline))
    }

    #[inline]
    fn send_until(&self, value: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        self.send_waiting(value, deadline)
            .map_err(|(why, value)| match why {
                Failed::Disconnected => SendTimeoutError::Disconnected(value),
                Failed::Timeout | Failed::Refused => SendTimeoutError::Timeout(value),
                Failed::OnWorker => would_block_outside_a_task("send"),
            })
    }

    /// The send under every waiting form, for the crate's own callers too
    /// (the C API): each way it fails comes apart, with the value.
    #[inline]
    pub(crate) fn send_waiting(
        &self,
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), (Failed, T)> {
        self.send_waiting_noting(value, deadline, &Cell::new(false))
    }

    /// [`send_waiting`](Self::send_waiting) that also sets `sent` when a
    /// receiver took the value from the waiting sender's hand and the wait
    /// then unwound instead of returning (the task was cancelled, or its
    /// `rt::timeout` deadline fired, before it ran again): the value was
    /// sent all the same. For callers that stop those unwinds (the C API).
    #[inline]
    pub(crate) fn send_waiting_noting(
        &self,
        value: T,
        deadline: Option<Instant>,
        sent: &Cell<bool>,
    ) -> Result<(), (Failed, T)> {
        let mut inner = self.chan.lock();
        if inner.receivers_gone() {
            return Err((Failed::Disconnected, value));
        }
        match inner.offer(value) {
            Ok(()) => Ok(()),
            Err(value) => self.send_parking(inner, value, deadline, sent),
        }
    }

    /// The send's wait: the channel (locked as `inner`) is full.
    #[inline(never)]
    fn send_parking(
        &self,
        mut inner: Locked<'_, T>,
        value: T,
        deadline: Option<Instant>,
        sent: &Cell<bool>,
    ) -> Result<(), (Failed, T)> {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err((Failed::Timeout, value));
        }
        // SAFETY: `inner` holds the lock of the channel `self.kept`
        // belongs to.
        let held = match unsafe { self.kept.for_caller(Some(value)) } {
            Ok(held) => held,
            Err((_, value)) => {
                let value = value.expect("jmpco: for_caller gives the value back");
                return Err((Failed::OnWorker, value));
            }
        };
        let wait = held.wait();
        // SAFETY: the entry stays alive and in place until it leaves the
        // queue: unless a completer takes it out, `pending` does (its
        // `settle`, run below or by its drop on unwind) under the lock,
        // before `held`, declared first, is dropped; nothing refills it
        // while it is lent to this wait.
        inner.send_waits.push_back(unsafe { Entry::new(wait) });
        let pending = PendingSend {
            chan: &self.chan,
            wait,
            sent,
        };
        // After `pending` exists: should delivering the wakes this send
        // made on its way panic, the entry is withdrawn all the same.
        drop(inner);
        let woke = wait.parker.sleep(deadline);
        let settled = pending.settle(woke);
        std::mem::forget(pending);
        match settled {
            Settled::Done(()) => Ok(()),
            // SAFETY: this is the entry's waiter, and `settle` settled the
            // wait (claimed, or given up).
            Settled::Disconnected => Err((Failed::Disconnected, unsafe { take_value(wait) })),
            // SAFETY: as above.
            Settled::GaveUp(why) => Err((why, unsafe { take_value(wait) })),
        }
    }

    /// Closes the channel (see the module docs): later sends fail, and so
    /// do receives once the queue is empty; waiting senders (their values
    /// stay theirs) and receivers are woken as disconnected. `false` if it
    /// was closed already.
    pub(crate) fn close(&self) -> bool {
        let mut inner = self.chan.lock();
        if inner.closed {
            return false;
        }
        inner.closed = true;
        inner.disconnect_receivers();
        inner.disconnect_senders();
        true
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.chan.lock().queue.len()
    }

    /// Whether no message is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a send would have to wait now.
    pub fn is_full(&self) -> bool {
        !self.chan.lock().has_room()
    }

    /// The channel's capacity (`None`: unbounded).
    pub fn capacity(&self) -> Option<usize> {
        self.chan.lock().cap
    }
}

/// A settled sender's value, back from its entry.
///
/// # Safety
/// The caller is the entry's waiter, and its wait is settled
/// ([`Wait::take_settled`]).
unsafe fn take_value<T>(wait: &Wait<T>) -> T {
    // SAFETY: the caller's contract is `take_settled`'s.
    unsafe { wait.take_settled() }
        .expect("jmpco: a sender whose wait was not completed holds its value")
}

/// Why [`Sender::send_waiting`] or [`Receiver::recv_waiting`] failed: the
/// public errors' cases, and two they fold into them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failed {
    /// The deadline passed first.
    Timeout,
    /// The other side is gone, or the channel is closed (for a receive:
    /// and the queue is empty).
    Disconnected,
    /// The calling task cannot park: it is being cancelled, or unwinding
    /// (the public forms report a timeout, or `RecvError`).
    Refused,
    /// It would have to wait in a coroutine nested in a task, where nothing
    /// can (the public forms panic).
    OnWorker,
}

/// How a wait that ended ended.
enum Settled<V> {
    /// A counterpart completed it.
    Done(V),
    /// The other side went away.
    Disconnected,
    /// The waiter gave up first: its deadline ([`Failed::Timeout`]), or its
    /// park was refused or it is cancelled ([`Failed::Refused`]).
    GaveUp(Failed),
}

impl Woke {
    /// Why a waiter that woke unclaimed gives up.
    fn gave_up(self) -> Failed {
        match self {
            Woke::Refused => Failed::Refused,
            _ => Failed::Timeout,
        }
    }
}

/// The waiter of `wait`, queued in `chan`'s queue that `queue` picks,
/// gives up: `Ok` if nobody had claimed the wait (its entry is then out of
/// the queue), else the operation that did, whose claim has ended and
/// whose completer took the entry out.
#[inline(never)]
fn give_up<T>(
    chan: &Chan<T>,
    wait: &Wait<T>,
    queue: fn(&mut Inner<T>) -> &mut VecDeque<Entry<T>>,
) -> Result<(), usize> {
    let mut inner = chan.lock();
    let aborted = wait.abort_locked();
    if aborted.is_ok() {
        queue(&mut inner).retain(|e| !e.is(wait));
    }
    aborted
}

/// A sender's wait in progress; dropped only if the sender unwinds out of
/// it (it is cancelled), and then gives up the wait.
struct PendingSend<'a, T> {
    chan: &'a Arc<Chan<T>>,
    wait: &'a Wait<T>,
    /// Set by the drop if a receiver had taken the value.
    sent: &'a Cell<bool>,
}

impl<T> PendingSend<'_, T> {
    #[inline(always)]
    fn settle(&self, woke: Woke) -> Settled<()> {
        let claimed = match woke {
            Woke::Claimed(op) => Err(op),
            Woke::TimedOut | Woke::Refused | Woke::Woken => {
                give_up(self.chan, self.wait, |inner| &mut inner.send_waits)
            }
        };
        match claimed {
            Ok(()) => Settled::GaveUp(woke.gave_up()),
            // SAFETY: the sender is the entry's waiter, and the claim that
            // the sleep or `give_up` reported has ended: the wait is
            // settled.
            Err(_) if unsafe { self.wait.holds_settled() } => Settled::Disconnected,
            Err(_) => Settled::Done(()),
        }
    }
}

impl<T> Drop for PendingSend<'_, T> {
    fn drop(&mut self) {
        // Cancelled while waiting: withdraw. If a receiver took the value
        // first, it was sent. Otherwise it was never sent, and is dropped
        // now (the lock released), not left in the handle's kept entry
        // until its next wait.
        match self.settle(Woke::Refused) {
            Settled::Done(()) => self.sent.set(true),
            // SAFETY: this is the entry's waiter, and `settle` settled the
            // wait (given up, or claimed by a disconnect).
            Settled::Disconnected | Settled::GaveUp(_) => drop(unsafe { self.wait.take_settled() }),
        }
    }
}

impl<T> Receiver<T> {
    /// Receives the next message, waiting while the channel is empty.
    ///
    /// # Errors
    /// The channel is empty and every sender is gone, or the calling task
    /// cannot park.
    ///
    /// # Panics
    /// If it would have to wait in a coroutine that a task created (see the
    /// module docs).
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_until(None).map_err(|_| RecvError)
    }

    /// Receives a message if one is there now.
    ///
    /// # Errors
    /// `Empty`, or `Disconnected` when it is empty and every sender is gone.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut inner = self.chan.lock();
        match inner.take() {
            Some(value) => Ok(value),
            None if inner.senders_gone() => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// [`recv`](Self::recv), giving up after `timeout` (`Duration::MAX`:
    /// never).
    ///
    /// # Errors
    /// As `recv`, and `Timeout` when the deadline passes first.
    ///
    /// # Panics
    /// As `recv`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_until(deadline_after(timeout))
    }

    /// [`recv`](Self::recv), giving up at `deadline`.
    ///
    /// # Errors
    /// As [`recv_timeout`](Self::recv_timeout).
    ///
    /// # Panics
    /// As `recv`.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(Some(deadline))
    }

    #[inline]
    fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        self.recv_waiting(deadline).map_err(|why| match why {
            Failed::Disconnected => RecvTimeoutError::Disconnected,
            Failed::Timeout | Failed::Refused => RecvTimeoutError::Timeout,
            Failed::OnWorker => would_block_outside_a_task("recv"),
        })
    }

    /// The receive under every waiting form, for the crate's own callers
    /// too (the C API): each way it fails comes apart.
    #[inline]
    pub(crate) fn recv_waiting(&self, deadline: Option<Instant>) -> Result<T, Failed> {
        let mut inner = self.chan.lock();
        match inner.take() {
            Some(value) => Ok(value),
            None => self.recv_parking(inner, deadline),
        }
    }

    /// The receive's wait: the channel (locked as `inner`) is empty.
    #[inline(never)]
    fn recv_parking(
        &self,
        mut inner: Locked<'_, T>,
        deadline: Option<Instant>,
    ) -> Result<T, Failed> {
        if inner.senders_gone() {
            return Err(Failed::Disconnected);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Failed::Timeout);
        }
        // SAFETY: `inner` holds the lock of the channel `self.kept`
        // belongs to.
        let held = match unsafe { self.kept.for_caller(None) } {
            Ok(held) => held,
            Err(_) => return Err(Failed::OnWorker),
        };
        let wait = held.wait();
        // SAFETY: as in `Sender::send_waiting_noting`: `pending` (or a
        // completer) takes the entry out of the queue before `held` goes.
        inner.recv_waits.push_back(unsafe { Entry::new(wait) });
        let pending = PendingRecv {
            chan: &self.chan,
            wait,
        };
        // After `pending` exists, as in `send_parking`.
        drop(inner);
        let woke = wait.parker.sleep(deadline);
        let settled = pending.settle(woke);
        std::mem::forget(pending);
        match settled {
            Settled::Done(value) => Ok(value),
            Settled::Disconnected => Err(Failed::Disconnected),
            Settled::GaveUp(why) => Err(why),
        }
    }

    /// Puts back a message this receiver took but will not deliver (the C
    /// API's receive, whose task was cancelled while it waited and was
    /// handed the message anyway): it was the oldest, so it goes first, or
    /// straight to the oldest waiting receiver. Not lost, not duplicated.
    pub(crate) fn give_back(&self, value: T) {
        self.chan.lock().restore(value);
    }

    /// A blocking iterator: [`recv`](Self::recv) until it fails.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over what can be received without waiting.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.chan.lock().queue.len()
    }

    /// Whether no message is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The channel's capacity (`None`: unbounded).
    pub fn capacity(&self) -> Option<usize> {
        self.chan.lock().cap
    }
}

/// A receiver's wait in progress; dropped only if the receiver unwinds out
/// of it (it is cancelled), and then gives up the wait without losing a
/// message it had been handed.
struct PendingRecv<'a, T> {
    chan: &'a Arc<Chan<T>>,
    wait: &'a Wait<T>,
}

impl<T> PendingRecv<'_, T> {
    #[inline(always)]
    fn settle(&self, woke: Woke) -> Settled<T> {
        let claimed = match woke {
            Woke::Claimed(op) => Err(op),
            Woke::TimedOut | Woke::Refused | Woke::Woken => {
                give_up(self.chan, self.wait, |inner| &mut inner.recv_waits)
            }
        };
        match claimed {
            Ok(()) => Settled::GaveUp(woke.gave_up()),
            // SAFETY: the receiver is the entry's waiter, and the claim that
            // the sleep or `give_up` reported has ended: the wait is
            // settled.
            Err(_) => match unsafe { self.wait.take_settled() } {
                Some(value) => Settled::Done(value),
                None => Settled::Disconnected,
            },
        }
    }
}

impl<T> Drop for PendingRecv<'_, T> {
    fn drop(&mut self) {
        if let Settled::Done(value) = self.settle(Woke::Refused) {
            self.chan.lock().restore(value);
        }
    }
}

/// The panic of an operation that would wait outside a task on a worker.
#[cold]
#[inline(never)]
#[track_caller]
fn would_block_outside_a_task(op: &str) -> ! {
    panic!(
        "jmpco: channel {op} would wait in a coroutine nested in a task (outside the task \
         itself): only the task can park, and blocking the worker's thread could deadlock \
         it; wait in the task, or use try_{op}"
    )
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.lock().senders += 1;
        Sender {
            chan: self.chan.clone(),
            kept: Kept::new(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.lock().receivers += 1;
        Receiver {
            chan: self.chan.clone(),
            kept: Kept::new(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut inner = self.chan.lock();
        // SAFETY: `inner` holds the lock of this handle's channel.
        if let Some(wait) = unsafe { self.kept.abandoned() } {
            inner.send_waits.retain(|e| !e.is(wait));
        }
        inner.senders -= 1;
        if inner.senders == 0 {
            inner.disconnect_receivers();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let queued = {
            let mut inner = self.chan.lock();
            // SAFETY: `inner` holds the lock of this handle's channel.
            if let Some(wait) = unsafe { self.kept.abandoned() } {
                inner.recv_waits.retain(|e| !e.is(wait));
            }
            inner.receivers -= 1;
            if inner.receivers > 0 {
                return;
            }
            inner.disconnect_senders();
            std::mem::take(&mut inner.queue)
        };
        // Nobody can receive them any more; dropped outside the lock.
        drop(queued);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

/// [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// [`Receiver::try_iter`].
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// The owning form of [`Receiver::iter`].
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::thread;

    use super::{bounded, Entry, TrySendError, Wait, OP};
    use crate::rt::park::{EntryParker, Parker, Waiter};

    const ROUNDS: u32 = 20_000;

    /// A waiter abandoned while it waits (teardown frees a C task's stack
    /// without running anything on it) never gives its handle's entry
    /// back: the handle's drop takes the entry out of the queue before
    /// freeing it, so no completer reaches freed memory, and a later send
    /// finds nobody waiting.
    #[test]
    fn a_handle_dropped_under_an_abandoned_wait_takes_its_entry_out_of_the_queue() {
        let (tx, rx) = bounded::<u32>(0);
        let other = rx.clone();
        {
            let mut inner = rx.chan.lock();
            // SAFETY: `inner` holds the lock of `rx`'s channel.
            let held = unsafe { rx.kept.for_caller(None) }.expect("a thread can wait");
            // SAFETY: the entry is the handle's, alive until the handle's
            // drop, which takes it out of the queue (what this test checks).
            inner
                .recv_waits
                .push_back(unsafe { Entry::new(held.wait()) });
            // The abandoned frame: its guard never runs.
            std::mem::forget(held);
        }
        drop(rx);
        assert!(
            other.chan.lock().recv_waits.is_empty(),
            "the entry left the queue with its handle"
        );
        assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)), "nobody waits");
    }

    /// Spins until `parker` is claimed (a failure after 30 s, not a hang).
    fn spin_until_claimed(parker: &Parker) {
        let start = std::time::Instant::now();
        while parker.claimed().is_none() {
            assert!(start.elapsed().as_secs() < 30, "never claimed");
            std::hint::spin_loop();
        }
    }

    /// A waiter that sees itself claimed (it looks before it parks, and on
    /// every wake) must find the hand-over complete: a receiver its value
    /// in its slot, a sender its value gone. Each round one thread
    /// registers a wait and spins until it is claimed, then looks at once,
    /// while another completes it. Before the claim and the slot were one
    /// step (a hand-over claim), the look often fell between them: a
    /// receiver found its slot empty ("disconnected", the value then lost)
    /// and a sender its value still there ("disconnected", taken back).
    #[test]
    fn a_waiter_that_sees_its_claim_finds_the_hand_over_complete() {
        let (tx, rx) = bounded::<u32>(0);
        let done = Arc::new(AtomicBool::new(false));
        let giver = {
            let (tx, done) = (tx.clone(), done.clone());
            thread::spawn(move || {
                let mut given = 0;
                while given < ROUNDS && !done.load(Ordering::Relaxed) {
                    if tx.chan.lock().hand_to_receiver(given).is_ok() {
                        given += 1;
                    }
                }
            })
        };
        let mut empty = 0;
        for round in 0..ROUNDS {
            let wait = Arc::new(Wait::new(
                EntryParker::Own(Parker::alone(Waiter::Thread(thread::current()))),
                OP,
                None,
            ));
            // SAFETY: `wait` lives until the end of the round, by which
            // time the giver has taken it out of the queue (it was claimed).
            rx.chan
                .lock()
                .recv_waits
                .push_back(unsafe { Entry::new(&wait) });
            spin_until_claimed(&wait.parker);
            // SAFETY: this thread is the entry's waiter, and it saw the
            // claim (ended: `claimed` reports only those): the wait is
            // settled.
            let got = unsafe { wait.take_settled() };
            match got {
                Some(value) => assert_eq!(value, round),
                None => empty += 1,
            }
        }
        done.store(true, Ordering::Relaxed);
        giver.join().expect("the giver");
        assert_eq!(empty, 0, "claimed receivers found their slot empty");

        let taker = {
            let (rx, done) = (rx.clone(), done.clone());
            done.store(false, Ordering::Relaxed);
            thread::spawn(move || {
                let mut taken = Vec::new();
                while !done.load(Ordering::Relaxed) {
                    if let Some(value) = rx.chan.lock().take_from_sender() {
                        taken.push(value);
                    }
                }
                taken
            })
        };
        let mut still_held = 0;
        for round in 0..ROUNDS {
            let wait = Arc::new(Wait::new(
                EntryParker::Own(Parker::alone(Waiter::Thread(thread::current()))),
                OP,
                Some(round),
            ));
            // SAFETY: as for the receivers above.
            tx.chan
                .lock()
                .send_waits
                .push_back(unsafe { Entry::new(&wait) });
            spin_until_claimed(&wait.parker);
            // SAFETY: as for the receivers above. As the sender would, it
            // takes a value still there back (the taker skips it).
            if unsafe { wait.take_settled() }.is_some() {
                still_held += 1;
            }
        }
        done.store(true, Ordering::Relaxed);
        let taken = taker.join().expect("the taker");
        assert_eq!(
            still_held, 0,
            "claimed senders found their value still there"
        );
        assert!(
            taken.into_iter().eq(0..ROUNDS),
            "every value taken once, in order"
        );
    }
}
