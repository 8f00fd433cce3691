//! [`Select`]: wait for the first of several operations (channel sends
//! and receives, fd readiness, a deadline); exactly one completes.
//!
//! # How exactly one completes
//! One [`Parker`] stands for the whole select, and each operation is
//! registered where its counterpart will find it (a channel's waiter
//! lists, the reactor's waiters of an fd) under its own number. Whoever
//! would complete an operation claims the parker for that number first:
//! a sender handing a value over, a receiver taking one, the select itself
//! when it finds an operation ready, its deadline. The first claim wins;
//! every other party sees the parker taken and leaves that operation's
//! entry alone, so nothing is consumed for an operation that did not win.
//! The winner's work is done under the channel's lock right after its
//! claim (a value moved into the select's slot, or out of its entry), so
//! the select only collects it. If the task is cancelled while it waits,
//! the select withdraws every entry; an operation that won in that instant
//! gives back what it was handed (a received message goes back to the
//! head of its queue), so nothing is lost.

use std::fmt;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Chan, Entry, Receiver, RecvError, SendError, Sender, Wait};
use crate::rt::arena::Key;
use crate::rt::park::{Caller, EntryParker, Parker, Woke, MAX_OP};
use crate::rt::reactor::Interest;
use crate::rt::scheduler::{with_task, Scheduler};
use crate::rt::timer::deadline_after;

/// The claim a select's own deadline makes (its operations are numbered
/// below it).
const DEADLINE: usize = MAX_OP;

/// The select could not wait: the calling task cannot park (it is being
/// cancelled, or unwinding a panic).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("select cannot wait: the task is being cancelled or is unwinding a panic")
    }
}

impl std::error::Error for Interrupted {}

/// Waits for the first of several operations, in a builder: each
/// operation takes a closure that turns its outcome into the select's
/// result `R`.
///
/// ```
/// use std::time::Duration;
/// use jmpco::rt::channel::{self, Select};
///
/// let (tx, rx) = channel::bounded::<u32>(1);
/// let (_tx2, rx2) = channel::bounded::<&str>(1);
/// tx.send(7).unwrap();
/// let got = Select::new()
///     .recv(&rx, |r| format!("number {}", r.unwrap()))
///     .recv(&rx2, |r| format!("word {}", r.unwrap()))
///     .timeout(Duration::from_secs(1), || "nothing".to_string())
///     .wait()
///     .unwrap();
/// assert_eq!(got, "number 7");
/// ```
///
/// Operations that can complete at once are tried in the order they were
/// added; the first one wins. A receive on a channel whose senders are all
/// gone completes (with `Err`), as does a send on one whose receivers are.
/// Fd readiness ([`ready`](Self::ready)) needs a task (a thread's select
/// may hold channel operations and a deadline only). A task parks, a
/// thread blocks; a coroutine that a task created cannot wait (as with
/// the channels' own operations).
pub struct Select<'a, R> {
    ops: Vec<Box<dyn Operation<R> + 'a>>,
    /// When to give up (`None` inside: never), and what to return then.
    deadline: Option<(Option<Instant>, OnDeadline<'a, R>)>,
}

/// What a [`Select`] returns at its deadline.
type OnDeadline<'a, R> = Box<dyn FnOnce() -> R + 'a>;

impl<'a, R> Default for Select<'a, R> {
    fn default() -> Self {
        Select::new()
    }
}

impl<'a, R> Select<'a, R> {
    /// A select with no operations yet.
    pub fn new() -> Self {
        Select {
            ops: Vec::new(),
            deadline: None,
        }
    }

    /// A receive on `rx`; `then` gets what it received (or `Err` if every
    /// sender is gone and nothing is queued).
    pub fn recv<T: 'a>(
        mut self,
        rx: &'a Receiver<T>,
        then: impl FnOnce(Result<T, RecvError>) -> R + 'a,
    ) -> Self {
        self.ops.push(Box::new(RecvOp {
            chan: &rx.chan,
            wait: None,
            then: Some(then),
        }));
        self
    }

    /// A send of `value` on `tx`; `then` gets `Ok` once a receiver has it
    /// (or the queue), or the value back if every receiver is gone. If
    /// another operation wins, the value is dropped unsent.
    pub fn send<T: 'a>(
        mut self,
        tx: &'a Sender<T>,
        value: T,
        then: impl FnOnce(Result<(), SendError<T>>) -> R + 'a,
    ) -> Self {
        self.ops.push(Box::new(SendOp {
            chan: &tx.chan,
            value: Some(value),
            wait: None,
            then: Some(then),
        }));
        self
    }

    /// Readiness of `fd` for `interest` (level-triggered, as
    /// [`wait_fd`](crate::rt::wait_fd)): `then` runs once it is ready; the
    /// select reads or writes nothing. Needs a task.
    pub fn ready(
        mut self,
        fd: &'a impl AsRawFd,
        interest: Interest,
        then: impl FnOnce() -> R + 'a,
    ) -> Self {
        self.ops.push(Box::new(ReadyOp {
            fd: fd.as_raw_fd(),
            interest,
            key: None,
            then: Some(then),
        }));
        self
    }

    /// Gives up at `deadline`: `then` makes the result. (One deadline per
    /// select; a later call replaces it.)
    pub fn deadline(mut self, deadline: Instant, then: impl FnOnce() -> R + 'a) -> Self {
        self.deadline = Some((Some(deadline), Box::new(then)));
        self
    }

    /// Gives up after `timeout` (`Duration::MAX`: never): as
    /// [`deadline`](Self::deadline).
    pub fn timeout(mut self, timeout: Duration, then: impl FnOnce() -> R + 'a) -> Self {
        self.deadline = Some((deadline_after(timeout), Box::new(then)));
        self
    }

    /// Waits until one operation completes (or the deadline passes), and
    /// returns what its closure made.
    ///
    /// # Errors
    /// [`Interrupted`] if it would have to wait in a task that cannot park
    /// (being cancelled, or unwinding a panic).
    ///
    /// # Panics
    /// If it has nothing to wait for (no operation and no deadline), if it
    /// would wait in a coroutine that a task created, or if it holds fd
    /// readiness and runs outside a task.
    pub fn wait(mut self) -> Result<R, Interrupted> {
        assert!(
            !self.ops.is_empty() || self.deadline.is_some(),
            "jmpco: a Select with no operation and no deadline would wait forever"
        );
        // Whatever can complete now, in order: nobody else can claim yet.
        for op in &mut self.ops {
            if let Attempt::Done(r) = op.attempt(None, &mut || true) {
                return Ok(r);
            }
        }
        let deadline = self.deadline.as_ref().and_then(|(d, _)| *d);
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(self.on_deadline());
        }
        let waiter = match Caller::here() {
            Caller::Can(waiter) => waiter,
            Caller::OnWorker(_) => panic!(
                "jmpco: Select::wait would wait in a coroutine nested in a task (outside the \
                 task itself): only the task can park, and blocking the worker's thread could \
                 deadlock it"
            ),
        };
        let parker = Parker::new(waiter);
        with_task(|task| {
            // Checked before anything is registered: an entry left behind
            // could be handed a message nobody would collect.
            assert!(
                task.is_some() || !self.ops.iter().any(|op| op.needs_task()),
                "jmpco: a Select with fd readiness must run in a task"
            );
            self.wait_registered(&parker, task, deadline)
        })
    }

    fn on_deadline(&mut self) -> R {
        let (_, then) = self.deadline.take().expect("a deadline was set");
        then()
    }

    fn wait_registered(
        &mut self,
        parker: &Arc<Parker>,
        task: Option<(&Scheduler, Key)>,
        deadline: Option<Instant>,
    ) -> Result<R, Interrupted> {
        for (index, op) in self.ops.iter_mut().enumerate() {
            op.register(parker, index, task);
        }
        let mut pending = Pending {
            ops: &mut self.ops,
            parker,
            task,
        };
        let outcome = loop {
            if let Some(r) = pending.attempt_all() {
                break Ok(r);
            }
            match parker.wait_once(deadline) {
                Woke::Claimed(index) => break Ok(pending.finish(index)),
                Woke::TimedOut => {
                    if parker.try_claim(DEADLINE) {
                        pending.withdraw(None);
                        break Err(None);
                    }
                }
                Woke::Refused => match parker.try_abort() {
                    Ok(()) => {
                        pending.withdraw(None);
                        break Err(Some(Interrupted));
                    }
                    Err(index) => break Ok(pending.finish(index)),
                },
                Woke::Woken => {}
            }
        };
        std::mem::forget(pending);
        match outcome {
            Ok(r) => Ok(r),
            Err(None) => Ok(self.on_deadline()),
            Err(Some(interrupted)) => Err(interrupted),
        }
    }
}

impl<R> fmt::Debug for Select<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("operations", &self.ops.len())
            .field("deadline", &self.deadline.as_ref().map(|(d, _)| d))
            .finish()
    }
}

/// The registered operations of a select that is waiting; dropped only if
/// the task unwinds out of the wait (it is cancelled), and then withdraws.
struct Pending<'p, 'a, R> {
    ops: &'p mut Vec<Box<dyn Operation<R> + 'a>>,
    parker: &'p Arc<Parker>,
    task: Option<(&'p Scheduler, Key)>,
}

impl<R> Pending<'_, '_, R> {
    /// Tries every operation again, each claiming the parker for itself.
    fn attempt_all(&mut self) -> Option<R> {
        let parker = self.parker;
        for index in 0..self.ops.len() {
            let mut claim = || parker.try_claim(index);
            match self.ops[index].attempt(self.task, &mut claim) {
                Attempt::Done(r) => {
                    // Its own entry too: the select completed it itself,
                    // so no completer took it out of its queue.
                    self.withdraw(None);
                    return Some(r);
                }
                Attempt::Failed => {
                    // The counterpart it counted on gave up in that instant.
                    // While the claim stood, others may have dropped entries
                    // of this select as taken: take the claim back and
                    // register everything afresh.
                    parker.unclaim(index);
                    self.withdraw(None);
                    for (i, op) in self.ops.iter_mut().enumerate() {
                        op.register(parker, i, self.task);
                    }
                    return None;
                }
                Attempt::NotReady => {}
            }
            if let Some(winner) = parker.claimed() {
                return Some(self.finish(winner));
            }
        }
        None
    }

    /// A counterpart claimed operation `index` and did its part.
    fn finish(&mut self, index: usize) -> R {
        self.withdraw(Some(index));
        self.ops[index].finish()
    }

    /// Removes every operation's registration but `taken`'s, which the
    /// counterpart that claimed it took out of its queue (`None`: every
    /// one). Each operation's entries are freed with it, after this: the
    /// queues only point to them.
    fn withdraw(&mut self, taken: Option<usize>) {
        for (index, op) in self.ops.iter_mut().enumerate() {
            if Some(index) != taken {
                op.unregister(self.task);
            }
        }
    }
}

impl<R> Drop for Pending<'_, '_, R> {
    fn drop(&mut self) {
        // Every registration goes, the claimed one's too: the claim may be
        // the select's own (an operation whose closure panicked), whose
        // entry no counterpart took out (for a counterpart's, it is a look
        // that finds nothing).
        let claimed = self.parker.try_abort();
        self.withdraw(None);
        // A claim by an operation (not the deadline's, which numbers none)
        // gives back what it was handed.
        if let Err(index) = claimed {
            if let Some(op) = self.ops.get_mut(index) {
                op.give_back();
            }
        }
    }
}

/// What an [`Operation::attempt`] did.
enum Attempt<R> {
    /// It completed (after its claim): the select's result.
    Done(R),
    /// It cannot complete now; nothing was claimed or consumed.
    NotReady,
    /// It claimed the select but could not complete: the waiter it would
    /// have completed withdrew in the same instant. Nothing was consumed.
    Failed,
}

/// One operation of a select.
trait Operation<R> {
    /// Completes the operation now if it can without waiting, after
    /// `claim` succeeds (it claims the select's parker for it; nothing is
    /// consumed if it fails).
    fn attempt(
        &mut self,
        task: Option<(&Scheduler, Key)>,
        claim: &mut dyn FnMut() -> bool,
    ) -> Attempt<R>;
    /// Registers where a counterpart will find it, as operation `index`.
    fn register(&mut self, parker: &Arc<Parker>, index: usize, task: Option<(&Scheduler, Key)>);
    /// Removes the registration (a no-op if a counterpart removed it).
    fn unregister(&mut self, task: Option<(&Scheduler, Key)>);
    /// A counterpart claimed this operation: collect its outcome.
    fn finish(&mut self) -> R;
    /// Whether it can only wait in a task (fd readiness).
    fn needs_task(&self) -> bool {
        false
    }
    /// Claimed, but the select is being cancelled: give back what the
    /// counterpart handed over.
    fn give_back(&mut self);
}

struct RecvOp<'a, T, F> {
    chan: &'a Arc<Chan<T>>,
    wait: Option<Arc<Wait<T>>>,
    then: Option<F>,
}

/// Whether `waits` holds a waiter that is not part of `mine` (a select
/// may send and receive on one channel).
fn others<T>(waits: &std::collections::VecDeque<Entry<T>>, mine: Option<&Parker>) -> bool {
    waits.iter().any(|w| mine.is_none_or(|p| !w.waits_on(p)))
}

impl<T, R, F: FnOnce(Result<T, RecvError>) -> R> Operation<R> for RecvOp<'_, T, F> {
    fn attempt(
        &mut self,
        _: Option<(&Scheduler, Key)>,
        claim: &mut dyn FnMut() -> bool,
    ) -> Attempt<R> {
        let mut inner = self.chan.lock();
        let mine = self.wait.as_ref().map(|w| &*w.parker);
        let ready =
            !inner.queue.is_empty() || others(&inner.send_waits, mine) || inner.senders_gone();
        if !ready || !claim() {
            return Attempt::NotReady;
        }
        let got = match inner.take() {
            Some(value) => Ok(value),
            None if inner.senders_gone() => Err(RecvError),
            None => return Attempt::Failed,
        };
        drop(inner);
        let then = self.then.take().expect("an operation completes once");
        Attempt::Done(then(got))
    }

    fn register(&mut self, parker: &Arc<Parker>, index: usize, _: Option<(&Scheduler, Key)>) {
        let wait = Arc::new(Wait::new(EntryParker::Shared(parker.clone()), index, None));
        // SAFETY: the entry lives in `self.wait` until the select withdraws
        // (`unregister`, which takes it out under the lock) or a completer
        // takes it out; `self.wait` is replaced only by a new registration,
        // after a withdrawal. A select that is abandoned while it waits
        // leaks it with its stack.
        self.chan
            .lock()
            .recv_waits
            .push_back(unsafe { Entry::new(&wait) });
        self.wait = Some(wait);
    }

    fn unregister(&mut self, _: Option<(&Scheduler, Key)>) {
        if let Some(wait) = &self.wait {
            self.chan.lock().recv_waits.retain(|e| !e.is(wait));
        }
    }

    fn finish(&mut self) -> R {
        // SAFETY: the select is the entry's waiter, and a claim of it has
        // ended (`finish` runs after one was reported): settled.
        let got = self
            .wait
            .as_ref()
            .and_then(|w| unsafe { w.take_settled() })
            .ok_or(RecvError);
        let then = self.then.take().expect("an operation completes once");
        then(got)
    }

    fn give_back(&mut self) {
        // SAFETY: as in `finish`: `give_back` runs after `try_abort`
        // reported this operation's claim.
        if let Some(value) = self.wait.as_ref().and_then(|w| unsafe { w.take_settled() }) {
            self.chan.lock().restore(value);
        }
    }
}

struct SendOp<'a, T, F> {
    chan: &'a Arc<Chan<T>>,
    /// The value until it is registered (then it lives in `wait`).
    value: Option<T>,
    wait: Option<Arc<Wait<T>>>,
    then: Option<F>,
}

impl<T, R, F: FnOnce(Result<(), SendError<T>>) -> R> Operation<R> for SendOp<'_, T, F> {
    fn attempt(
        &mut self,
        _: Option<(&Scheduler, Key)>,
        claim: &mut dyn FnMut() -> bool,
    ) -> Attempt<R> {
        let mut inner = self.chan.lock();
        let mine = self.wait.as_ref().map(|w| &*w.parker);
        let room = inner.receivers_gone()
            || (inner.queue.is_empty() && others(&inner.recv_waits, mine))
            || inner.has_room();
        if !room || !claim() {
            return Attempt::NotReady;
        }
        let value = match self.wait.take() {
            // Registered: take the value back out of our own entry.
            Some(wait) => {
                inner.send_waits.retain(|e| !e.is(&wait));
                // SAFETY: the select is the entry's waiter, and its own
                // claim (`claim()` above, ended at once) settled the wait.
                unsafe { wait.take_settled() }
            }
            None => self.value.take(),
        }
        .expect("a send holds its value until it completes");
        let sent = if inner.receivers_gone() {
            Err(SendError(value))
        } else {
            match inner.offer(value) {
                Ok(()) => Ok(()),
                Err(value) => {
                    self.value = Some(value);
                    return Attempt::Failed;
                }
            }
        };
        drop(inner);
        let then = self.then.take().expect("an operation completes once");
        Attempt::Done(then(sent))
    }

    fn register(&mut self, parker: &Arc<Parker>, index: usize, _: Option<(&Scheduler, Key)>) {
        let wait = Arc::new(Wait::new(
            EntryParker::Shared(parker.clone()),
            index,
            self.value.take(),
        ));
        // SAFETY: as in `RecvOp::register`.
        self.chan
            .lock()
            .send_waits
            .push_back(unsafe { Entry::new(&wait) });
        self.wait = Some(wait);
    }

    fn unregister(&mut self, _: Option<(&Scheduler, Key)>) {
        if let Some(wait) = &self.wait {
            self.chan.lock().send_waits.retain(|e| !e.is(wait));
        }
    }

    fn finish(&mut self) -> R {
        // Claimed: a receiver took the value, or a disconnect left it.
        // SAFETY: as in `RecvOp::finish`.
        let left = self.wait.as_ref().and_then(|w| unsafe { w.take_settled() });
        let then = self.then.take().expect("an operation completes once");
        then(match left {
            Some(value) => Err(SendError(value)),
            None => Ok(()),
        })
    }

    fn give_back(&mut self) {
        // The value was delivered (or left after a disconnect): nothing of
        // the channel's to return.
    }
}

struct ReadyOp<F> {
    fd: RawFd,
    interest: Interest,
    /// The fd's registration with the task's reactor, once registered.
    key: Option<Key>,
    then: Option<F>,
}

impl<R, F: FnOnce() -> R> Operation<R> for ReadyOp<F> {
    fn attempt(
        &mut self,
        task: Option<(&Scheduler, Key)>,
        claim: &mut dyn FnMut() -> bool,
    ) -> Attempt<R> {
        if !crate::rt::io::poll_now(self.fd, self.interest).unwrap_or(true) {
            // Not ready: wait for the next edge (the reactor drops its
            // waiters as it wakes them, so re-arm on every attempt).
            if let (Some((sched, me)), Some(key)) = (task, self.key) {
                sched.stop_waiting(key, me);
                sched.clear_ready(key, self.interest);
                sched.wait_for(key, me, self.interest);
            }
            return Attempt::NotReady;
        }
        if !claim() {
            return Attempt::NotReady;
        }
        let then = self.then.take().expect("an operation completes once");
        Attempt::Done(then())
    }

    fn register(&mut self, _: &Arc<Parker>, _: usize, task: Option<(&Scheduler, Key)>) {
        let Some((sched, _)) = task else {
            unreachable!("jmpco: checked by Select::wait before registering");
        };
        // A registration that cannot be made (say, a closed fd) leaves the
        // operation to `poll`, which reports such an fd as ready.
        self.key = sched.acquire_fd(self.fd).ok();
    }

    fn unregister(&mut self, task: Option<(&Scheduler, Key)>) {
        if let (Some((sched, me)), Some(key)) = (task, self.key.take()) {
            sched.stop_waiting(key, me);
            sched.release_fd(key);
        }
    }

    fn finish(&mut self) -> R {
        unreachable!("jmpco: only the select itself claims fd readiness")
    }

    fn needs_task(&self) -> bool {
        true
    }

    fn give_back(&mut self) {}
}
