//! One thread's scheduler: tasks, a ready queue, an epoll selector, timers.
//!
//! # The loop
//! The scheduler's loop is the main coroutine: it runs on the thread's
//! own stack and resumes tasks, each a [`Coroutine`] on a pooled
//! stack. One turn:
//!
//! 1. resume ready tasks, oldest first, until none is ready or
//!    `RESUMES_PER_TURN` resumes have been made (tasks made ready meanwhile,
//!    a yielding one too, run in the same turn while the budget lasts);
//! 2. take messages from other threads (spawn, wake, abort, shutdown);
//! 3. if no task is ready, `epoll_wait` until the earliest timer (or
//!    forever), after spinning up to `MAIL_SPIN` (20 µs) for mail if any
//!    came since the loop last slept and the process may run on more than
//!    one CPU: a worker exchanging messages with another then catches the
//!    next one awake, which costs neither side a system call
//!    (`remote.rs`); if tasks are still ready (the turn used
//!    its budget), `epoll_wait` for zero time: tasks that wake each other
//!    (channels, locks) hand off without a system call for up to a turn's
//!    budget, and I/O still gets a look after at most that many resumes;
//!    each event sets the fd's readiness bits and wakes the tasks waiting
//!    on that direction;
//! 4. wake the tasks whose timers are due.
//!
//! # Parking
//! A task blocks by *parking*: it marks itself parked and suspends its
//! coroutine (through the [`Yielder`] it was given, whose address the task
//! record keeps). A *wake* puts a parked task back on the ready queue and
//! is ignored for a task that is not parked. Every waiter therefore
//! re-checks its condition after it wakes, and arms whatever will wake it
//! *before* its last check, with no suspension in between; since only this
//! thread's loop delivers wakes, and the loop does not run while a task
//! runs, nothing can happen between that last check and the suspension
//! but what the parking task does itself: a hand-off (below) runs another
//! task there, and looks afterwards whether that task woke it.
//!
//! # Handing off
//! A task that parks while another is ready runs that task itself, from
//! its park, before it would suspend ([`Scheduler::hand_off`]): a resume
//! nested in the park, where the loop would take a switch from the task
//! and one into the next. When the task it ran parks in turn, the switch
//! goes back into the first one's park; if that task was woken meanwhile
//! (two tasks exchanging messages: each wakes the other, then waits), its
//! park returns at once, and the exchange costs two switches instead of
//! four. Otherwise it suspends to the loop as it would have, and makes its
//! next `HAND_OFF_BACKOFF` parks without trying, since a hand-off that did
//! not get it woken (a queue of waiters, as on a contended lock) costs two
//! switches more. A hand-off is one level deep (the task it runs does not
//! hand off in turn), takes the oldest ready task and counts in the turn's
//! budget of resumes; a woken task that continues from its park runs before
//! tasks queued earlier (as tokio's "LIFO slot" does for the task a waker
//! woke). A scoped task never hands off: its scope must be able to cancel
//! it at once, from whatever task runs, and the task a hand-off runs runs
//! inside the park, which cannot be unwound under it (a cancel of the task
//! that handed over waits for its next park, as for any running task).
//! Only the resume runs on the parking task's stack, and only with
//! `HAND_OFF_STACK_ROOM` of it free: a task that ends, panics or is to be
//! aborted in a hand-off is settled by the loop, on its own stack, before
//! anything else once the task that handed over comes back to it.
//!
//! # Readiness
//! The reactor below (`reactor.rs`) keeps each registered fd's readiness
//! and waiters, and explains why no wake-up is lost between a call's
//! `EAGAIN` and the task's park: the loop is the only code that sets
//! readiness, and it runs only once the task has parked.
//!
//! # Cancellation
//! Cancelling a task drops its coroutine, which unwinds the task's stack so
//! its destructors run (sockets close, handles detach). From then on the
//! task is marked *cancelling*: every attempt to park fails at once with
//! [`ParkRefused`] (I/O returns an error, `sleep` returns), so a destructor
//! that does I/O cannot suspend a dying coroutine, and a task that catches
//! the unwinding runs on without ever parking again until it returns.
//!
//! The same refusal holds while a task unwinds a panic of its own: a
//! suspended unwind would leave the thread's panic count raised, and every
//! other task of the worker would see `std::thread::panicking()` (and, say,
//! poison the mutexes it holds). So a destructor run by a panic that tries
//! to park (a `BufWriter<TcpStream>` flushing) gets an error instead.
//!
//! A *foreign* task (a body written in C, spawned through the C API) is
//! never unwound, since unwinding through C frames is undefined behaviour.
//! Its [`CancelPolicy`] is *refuse*, which is cooperative: an abort only
//! marks it cancelling, so every park it attempts from then on is refused,
//! and a park it is in when the abort comes returns refused once the loop
//! resumes it (a parked task is woken for that); the body sees its waits
//! fail and returns by itself. An abort of one that never started drops it
//! unrun. Teardown (a dropped scheduler, shutdown past its deadline) cannot
//! wait for a body to return: it *abandons* such a task, freeing its stack
//! as it is (`Coroutine::abandon`), like `longjmp` discarding frames.
//!
//! A park returns normally to a task marked cancelling only under *refuse*:
//! an unwound task's park unwinds, an abandoned one never returns.
//!
//! # Who is running
//! [`with_scheduler`] lends the scheduler whose loop runs on this thread,
//! and [`with_task`] the task whose own coroutine is running, if any (not a
//! plain thread, not the loop itself, not a coroutine a task created). Both
//! lend a reference, never an owner, so a frame parked inside them holds
//! nothing that must be dropped: a C task parked there can be abandoned.
//!
//! # Running until idle
//! A runtime's worker runs its loop until shutdown ([`Scheduler::run`]).
//! The C API's per-thread scheduler (`local.rs`) instead runs it on the
//! caller's thread until no task is left ([`Scheduler::run_until_idle`]),
//! and may run it again later for tasks spawned since.

use std::any::Any;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::fmt;
use std::io;
use std::ops::Range;
use std::os::fd::RawFd;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::arena::{Arena, Key};
use super::epoll::Events;
use super::reactor::{Await, Interest, Polled, Reactor};
use super::ready::ReadyQueue;
use super::remote::{Message, Remote};
use super::timer::Timers;
use crate::coroutine::{panic_message, Payload};
use crate::{Backend, Coroutine, CoroutineId, CoroutineResult, State, Yielder};

/// How many task resumes one loop turn makes at most before it looks at
/// its mailbox, timers and I/O again (tokio's scheduler polls I/O after the
/// same number of task polls, for the same reason).
const RESUMES_PER_TURN: u32 = 61;

/// Parks a task makes without trying a hand-off after one that did not get
/// it woken (the task it ran did not wake it: not an exchange between two
/// tasks, where a hand-off saves two switches, but a queue of waiters, as
/// on a contended lock, where it adds two).
const HAND_OFF_BACKOFF: u8 = 64;

/// The stack a parking task must have free below it to run the next task
/// itself ([`Scheduler::hand_off`]): the frames of a resume, with a wide
/// margin for unoptimised builds.
const HAND_OFF_STACK_ROOM: usize = 16 * 1024;

/// How long an idle worker that just heard from another thread spins for
/// its next message before it sleeps in `epoll_wait` (see
/// `Remote::spin_for_mail`): a wake-up of a sleeping thread costs
/// microseconds, tens on a VM.
const MAIL_SPIN: Duration = Duration::from_micros(20);

/// Whether spinning for mail can help: only if a poster can run meanwhile,
/// not in a process confined to one CPU (`taskset -c 0`, a one-CPU
/// container), where it would only delay the poster. Asked once per
/// process (`available_parallelism` may read cgroup files).
fn spinning_helps() -> bool {
    static HELPS: OnceLock<bool> = OnceLock::new();
    *HELPS.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

/// How many events one `epoll_wait` returns at most.
const EVENTS_PER_WAIT: usize = 1024;

/// Stack and switch settings for the tasks of a scheduler.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    pub(crate) stack_size: usize,
    pub(crate) backend: Backend,
}

/// A park was refused: the task is being cancelled, or is unwinding a
/// panic (see the module docs). Carried inside the `io::Error` that I/O
/// returns then, so callers can tell it apart ([`ParkRefused::is`]).
#[derive(Debug)]
pub(crate) struct ParkRefused;

impl ParkRefused {
    /// Whether `e` is a refused park.
    pub(crate) fn is(e: &io::Error) -> bool {
        e.get_ref().is_some_and(|inner| inner.is::<ParkRefused>())
    }
}

impl fmt::Display for ParkRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("jmpco: the task cannot park: it is being cancelled or is unwinding a panic")
    }
}

impl std::error::Error for ParkRefused {}

impl From<ParkRefused> for io::Error {
    fn from(refused: ParkRefused) -> io::Error {
        io::Error::other(refused)
    }
}

struct Task {
    /// The coroutine, resumed in place (through a pointer: `run_task`);
    /// `None` once `cancel_task` took it to drop it. First, so that it is
    /// dropped before the rest of the record. Touched only while `running`
    /// is false: `run_task` holds it mutably borrowed while it runs.
    co: UnsafeCell<Option<Coroutine<(), (), ()>>>,
    /// Its key in the scheduler's arena.
    key: Key,
    /// Its coroutine runs: resumed by the loop, or dropped by `cancel_task`
    /// (its stack unwinds). Such a record is not removed (so it stays where
    /// it is: see `run_task`), and its coroutine is not touched.
    running: Cell<bool>,
    id: CoroutineId,
    /// The coroutine's usable stack, `[bottom, top)`: code runs on the
    /// task's own coroutine exactly while the stack pointer lies in it.
    stack: Range<usize>,
    /// Its coroutine's yielder, made with the coroutine: how a park in
    /// code the body called suspends it. Used only by `suspend_current`,
    /// which runs on this task's own coroutine (`with_task` checks the
    /// stack) while the coroutine lives (it is the record's: both go
    /// together).
    yielder: Yielder<(), ()>,
    parked: Cell<bool>,
    /// Sequence number of the armed timer, 0 if none.
    timer: Cell<u64>,
    cancelling: Cell<bool>,
    /// Aborted while it ran: it is cancelled when it next parks.
    abort_requested: Cell<bool>,
    /// Parks left before it tries a hand-off again
    /// ([`Scheduler::hand_off`]): set when one did not get it woken.
    hand_off_skip: Cell<u8>,
    /// Whether its parks may hand off at all: not a scoped task's, which
    /// its scope must be able to cancel at once from whatever task runs
    /// (one run by its hand-off could not: it runs inside the park).
    hands_off: Cell<bool>,
    /// The deadlines of the `rt::timeout` frames it is inside, innermost
    /// last: (the frame's id, its deadline).
    deadlines: RefCell<Vec<(u64, Instant)>>,
    /// The earliest of `deadlines` (the one that bounds its parks), kept
    /// by `push_deadline` and `pop_deadline`: a park reads it without a
    /// borrow.
    earliest: Cell<Option<(u64, Instant)>>,
    /// Set while a deadline's unwind runs (it is no panic: locks it passes
    /// through are not poisoned), cleared when its frame catches it.
    deadline_unwinding: Cell<bool>,
    /// Its task-local values, by the address of their `TaskLocal` key;
    /// dropped with the task record, after its coroutine (so also when it
    /// is cancelled). Boxed: a value stays put while borrowed, though the
    /// list may grow.
    locals: RefCell<Vec<(usize, Box<dyn Any>)>>,
    role: Role,
    on_cancel: CancelPolicy,
    end: EndNotice,
}

/// A task's end hook, told [`Ended::Cancelled`] if its record is dropped
/// before the scheduler told it anything: a task spawned by a destructor so
/// late in teardown that no round of [`Scheduler::cancel_all`] reached it
/// is dropped unrun with the scheduler, and its joiner hears that too.
struct EndNotice(Option<Arc<dyn EndHook>>);

impl EndNotice {
    /// The hook, to tell how the task ended now, or (a task that returned
    /// its value, which it handed over itself) to drop untold.
    fn take(&mut self) -> Option<Arc<dyn EndHook>> {
        self.0.take()
    }
}

impl Drop for EndNotice {
    fn drop(&mut self) {
        if let Some(end) = self.0.take() {
            end.ended(Ended::Cancelled);
        }
    }
}

/// What a task is to shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Serves others (an accept loop): cancelled as soon as shutdown
    /// begins, so no new work comes in.
    Service,
    /// Does work: gets the grace period, then is cancelled.
    Work,
}

/// What cancelling a task does with its stack.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CancelPolicy(Unwinding);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unwinding {
    Unwind,
    Refuse,
}

impl CancelPolicy {
    /// Dropping the coroutine unwinds its stack from the park point: every
    /// destructor runs (the Rust way, and the default).
    pub(crate) const UNWIND: CancelPolicy = CancelPolicy(Unwinding::Unwind);

    /// For bodies that cannot be unwound, such as C code. Cooperative: an
    /// abort ([`Scheduler::abort`]) runs nothing on the task's stack and
    /// frees nothing; it marks the task cancelling, so its pending park
    /// (woken now) and every later one return [`ParkRefused`], and the body
    /// is expected to return by itself. An abort before the body started
    /// drops it unrun. Teardown (a dropped scheduler, shutdown past its
    /// deadline) cannot wait for that: it *abandons* the task, freeing its
    /// stack as it is, without running anything on it, the way `longjmp`
    /// discards frames (`Coroutine::abandon`).
    ///
    /// # Safety
    /// At every point where the task can be abandoned (parked, or not yet
    /// started) nothing on its stack, the unstarted closure included, owns
    /// a value whose destructor must run before the memory is reused: such
    /// values would be leaked and their memory handed to the next stack
    /// owner.
    pub(crate) const unsafe fn refuse() -> CancelPolicy {
        CancelPolicy(Unwinding::Refuse)
    }
}

impl Task {
    /// Whether its coroutine has not started yet. Only while not `running`.
    fn unstarted(&self) -> bool {
        debug_assert!(!self.running.get());
        // SAFETY: not running, so nothing borrows the coroutine mutably (the
        // field's docs); the reference ends here.
        let co = unsafe { &*self.co.get() };
        co.as_ref().is_some_and(|co| co.state() == State::Ready)
    }
}

/// The earliest of `deadlines`, by deadline.
fn earliest(deadlines: &[(u64, Instant)]) -> Option<(u64, Instant)> {
    deadlines.iter().copied().min_by_key(|&(_, at)| at)
}

/// How a task ended without producing its value, as the scheduler sees it.
/// (A task that returns hands its value over itself.)
pub(crate) enum Ended {
    /// Its body panicked; the payload.
    Panicked(Payload),
    /// It was cancelled, or dropped unstarted.
    Cancelled,
}

/// The unwinding payload of a `timeout` frame's deadline: the frame's id.
pub(crate) struct DeadlinePassed(pub(crate) u64);

/// What resuming a task gave: `None` if it had no coroutine left.
type ResumeOutcome = Option<Result<CoroutineResult<(), ()>, Payload>>;

/// Told how a task ended when it produced no value: its join handle's side.
pub(crate) trait EndHook {
    /// Records why the task produced no value.
    fn ended(&self, how: Ended);
}

/// Counts cancelled tasks for the runtime's shutdown report.
pub(crate) type CancelCount = Arc<AtomicU64>;

/// One thread's scheduler. Only ever used through `&self` (or `Rc`): tasks
/// call into it while the loop is suspended in a resume, so all its state
/// is in cells, and no `RefCell` borrow is held across a resume or suspend.
pub(crate) struct Scheduler {
    id: u64,
    config: Config,
    reactor: Reactor,
    remote: Arc<Remote>,
    tasks: RefCell<Arena<Task>>,
    ready: ReadyQueue,
    timers: RefCell<Timers>,
    /// The record of the task being resumed (or cancelled), or null. Non-null
    /// only while its `running` is set, so the record stays where it is and
    /// is not removed (see `run_task`).
    resuming: Cell<*const Task>,
    /// Resumes since I/O was last polled, hand-offs included: the loop
    /// polls once they reach [`RESUMES_PER_TURN`].
    resumes: Cell<u32>,
    /// Whether a parking task is handing its turn to the next one
    /// ([`Scheduler::hand_off`]): a hand-off is one level deep.
    handing_off: Cell<bool>,
    /// The outcome of a hand-off's resume that was not a plain suspension
    /// (the task ended, panicked, or was asked to abort): left for the
    /// loop, which settles it on its own stack, right after the task that
    /// handed its turn over comes back to it.
    handed_outcome: Cell<Option<(Key, ResumeOutcome)>>,
    /// Set when shutdown begins: the deadline for the remaining tasks
    /// (`Some(None)`: no deadline, they may take forever).
    shutdown: Cell<Option<Option<Instant>>>,
    cancelled: CancelCount,
}

thread_local! {
    /// The scheduler whose loop runs on this thread, or null. Not an owner:
    /// set by `run`/`run_until_idle` (through [`Running`]) for as long as
    /// they are on the thread's stack, borrowing the scheduler.
    static CURRENT: Cell<*const Scheduler> = const { Cell::new(ptr::null()) };
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Runs `f` with the scheduler whose loop runs on this thread, if any.
///
/// `f` may park the calling task, and the reference stays valid through
/// that: a parked task is continued only by this scheduler's loop, which
/// runs inside `run`/`run_until_idle`, so whenever code of `f` runs, the
/// scheduler is borrowed by a frame below it. A task that is never
/// continued (abandoned) never uses the reference again, and a reference
/// owns nothing that would leak.
#[inline]
pub(crate) fn with_scheduler<T>(f: impl FnOnce(Option<&Scheduler>) -> T) -> T {
    let at = CURRENT.with(Cell::get);
    // SAFETY: non-null only while `run`/`run_until_idle` of that scheduler
    // are on this thread's stack (`Running` clears it when they leave, on
    // unwind too), and they borrow the scheduler meanwhile; see above for
    // why that covers all of `f`.
    f(unsafe { at.as_ref() })
}

/// Runs `f` with the running task (its scheduler and key), if the caller
/// runs on a task's own coroutine: not outside every task, and not in a
/// coroutine the task created. See [`with_scheduler`] for the lifetime.
#[inline]
pub(crate) fn with_task<T>(f: impl FnOnce(Option<(&Scheduler, Key)>) -> T) -> T {
    with_scheduler(|sched| f(sched.and_then(|s| s.running_task().map(|k| (s, k)))))
}

/// Makes a scheduler this thread's current one while it lives.
struct Running;

impl Running {
    fn enter(sched: &Scheduler) -> Running {
        CURRENT.with(|c| c.set(sched));
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(ptr::null()));
    }
}

impl Scheduler {
    /// A scheduler for this thread, with `remote` as its mailbox.
    pub(crate) fn new(
        config: Config,
        remote: Arc<Remote>,
        cancelled: CancelCount,
    ) -> io::Result<Rc<Scheduler>> {
        let reactor = Reactor::new(remote.eventfd())?;
        Ok(Rc::new(Scheduler {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            config,
            reactor,
            remote,
            tasks: RefCell::new(Arena::new()),
            ready: ReadyQueue::new(),
            timers: RefCell::new(Timers::new()),
            resuming: Cell::new(ptr::null()),
            resumes: Cell::new(0),
            handing_off: Cell::new(false),
            handed_outcome: Cell::new(None),
            shutdown: Cell::new(None),
            cancelled,
        }))
    }

    /// The task being resumed, if the caller runs on its own coroutine: a
    /// local's address lies in the stack the caller runs on, the task's own
    /// or that of a coroutine it created (which lies elsewhere).
    #[inline]
    fn running_task(&self) -> Option<Key> {
        self.running_record().map(|task| task.key)
    }

    /// The record of the task being resumed, if the caller runs on its own
    /// coroutine (see [`running_task`](Self::running_task)).
    #[inline]
    fn running_record(&self) -> Option<&Task> {
        // SAFETY: a non-null `resuming` is the record of a task whose
        // `running` is set, which is neither removed nor moved (see its
        // docs) until `running` is cleared, after `enter_task` restored
        // what was there before.
        let task = unsafe { self.resuming.get().as_ref()? };
        let marker = 0u8;
        let at = ptr::addr_of!(marker) as usize;
        task.stack.contains(&at).then_some(task)
    }

    /// Marks `task` (null: none) as the one being resumed (or cancelled);
    /// returns what was marked before. `task` is `running` (or null), and
    /// stays so until it is marked no longer.
    fn enter_task(&self, task: *const Task) -> *const Task {
        self.resuming.replace(task)
    }

    /// Whether the caller runs on a task's own coroutine and that task is
    /// being cancelled: [`running_task`](Self::running_task) and
    /// [`is_cancelling`](Self::is_cancelling) in one lookup (the C API asks
    /// it on every call that may wait).
    pub(crate) fn running_task_is_cancelling(&self) -> bool {
        self.running_record()
            .is_some_and(|task| task.cancelling.get())
    }

    /// Identifies the scheduler (registrations remember it).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn remote(&self) -> &Arc<Remote> {
        &self.remote
    }

    /// Whether shutdown has begun.
    pub(crate) fn shutting_down(&self) -> bool {
        self.shutdown.get().is_some()
    }

    // ---- tasks -------------------------------------------------------------

    /// Creates a task running `body` with the scheduler's stack and switch
    /// settings, unwound if cancelled; it starts on a later loop turn. `end`
    /// hears how it ended if it produced no value; the task record holds it
    /// until the task has ended (after its body returned, or after telling
    /// it), so `body` may borrow from it.
    pub(crate) fn spawn<F>(
        &self,
        role: Role,
        end: Option<Arc<dyn EndHook>>,
        body: F,
    ) -> io::Result<Key>
    where
        F: FnOnce() + 'static,
    {
        self.spawn_with(self.config, role, CancelPolicy::UNWIND, end, body)
    }

    /// [`spawn`](Self::spawn) with the task's own stack and switch settings
    /// and cancellation policy.
    pub(crate) fn spawn_with<F>(
        &self,
        config: Config,
        role: Role,
        on_cancel: CancelPolicy,
        end: Option<Arc<dyn EndHook>>,
        body: F,
    ) -> io::Result<Key>
    where
        F: FnOnce() + 'static,
    {
        let co = Coroutine::builder()
            .stack_size(config.stack_size)
            .backend(config.backend)
            .build(move |_: &Yielder<(), ()>, ()| body())
            .map_err(|e| match e {
                crate::Error::Io(e) => e,
                other => io::Error::other(other.to_string()),
            })?;
        let id = co.id();
        let bottom = co.stack_bottom() as usize;
        let stack = bottom..bottom + co.stack_size();
        // SAFETY: kept in the task's record and used as the field's docs
        // say: only by `suspend_current` on this coroutine's own stack, while
        // the coroutine lives.
        let yielder = unsafe { co.yielder() };
        let key = self.tasks.borrow_mut().insert_with(|key| Task {
            co: UnsafeCell::new(Some(co)),
            key,
            running: Cell::new(false),
            id,
            stack,
            yielder,
            parked: Cell::new(false),
            timer: Cell::new(0),
            cancelling: Cell::new(false),
            abort_requested: Cell::new(false),
            hand_off_skip: Cell::new(0),
            hands_off: Cell::new(true),
            deadlines: RefCell::new(Vec::new()),
            earliest: Cell::new(None),
            deadline_unwinding: Cell::new(false),
            locals: RefCell::new(Vec::new()),
            role,
            on_cancel,
            end: EndNotice(end),
        });
        self.ready.push_back(key);
        Ok(key)
    }

    /// Aborts task `key`: cancels it now if it waits (parked, or queued to
    /// run), or when it next parks if it is running (it aborted itself, or
    /// code it called did). Nothing happens to a task that has ended.
    ///
    /// A task whose policy is [`CancelPolicy::refuse`] is only marked
    /// cancelling (its parks are refused from now on) and woken if parked;
    /// one that has not started yet is cancelled now, so it never runs.
    pub(crate) fn abort(&self, key: Key) {
        enum Then {
            Nothing,
            Cancel,
            Wake,
        }
        let then = match self.tasks.borrow().get(key) {
            None => Then::Nothing,
            Some(task) if task.on_cancel.0 == Unwinding::Refuse => {
                task.cancelling.set(true);
                // Not started yet: it never runs.
                if !task.running.get() && task.unstarted() {
                    Then::Cancel
                } else {
                    // Parked: its park returns refused once resumed. Queued
                    // or running: its resume or next park is refused.
                    Then::Wake
                }
            }
            Some(task) if task.running.get() => {
                // Running (or being cancelled already): at its next park.
                task.abort_requested.set(true);
                Then::Nothing
            }
            Some(_) => Then::Cancel,
        };
        match then {
            Then::Nothing => {}
            Then::Cancel => self.cancel_task(key),
            Then::Wake => self.wake(key),
        }
    }

    /// Keeps task `key` from handing off when it parks (see the module
    /// docs, "Handing off"): for a scoped task, which its scope must be
    /// able to cancel at once.
    pub(crate) fn never_hand_off(&self, key: Key) {
        if let Some(task) = self.tasks.borrow().get(key) {
            task.hands_off.set(false);
        }
    }

    /// Whether task `key` is marked cancelling: its parks are refused.
    pub(crate) fn is_cancelling(&self, key: Key) -> bool {
        self.tasks
            .borrow()
            .get(key)
            .is_some_and(|t| t.cancelling.get())
    }

    /// Number of live tasks.
    pub(crate) fn task_count(&self) -> usize {
        self.tasks.borrow().len()
    }

    /// Resumes one task until it parks, yields or ends, then settles what
    /// it (and a hand-off its park made) left to do. Called by the loop.
    fn run_task(&self, key: Key) {
        let Some(task) = self.start_running(key) else {
            return;
        };
        let outcome = self.resume_running(task);
        if self.handed_outcome_left() {
            self.settle_handed_outcome_then(key, outcome);
            return;
        }
        self.settle_resume(key, task, outcome);
    }

    /// Whether a hand-off left an outcome for the loop to settle.
    #[inline(always)]
    fn handed_outcome_left(&self) -> bool {
        // SAFETY: the cell is only ever set and taken by this thread, and no
        // reference into it outlives this look.
        unsafe { (*self.handed_outcome.as_ptr()).is_some() }
    }

    /// Settles the outcome the hand-off of task `key`'s last park left (the
    /// task it ran ended, panicked, or is to be aborted), then `outcome`,
    /// `key`'s own. Each record is looked up afresh: settling one may end
    /// the other (a destructor run by a cancellation aborts it).
    #[cold]
    #[inline(never)]
    fn settle_handed_outcome_then(&self, key: Key, outcome: ResumeOutcome) {
        let record = |key| {
            self.with_record(key, |t| (!t.running.get()).then(|| ptr::from_ref(t)))
                .flatten()
        };
        if let Some((handed, handed_outcome)) = self.handed_outcome.take() {
            if let Some(task) = record(handed) {
                self.settle_resume(handed, task, handed_outcome);
            }
        }
        if let Some(task) = record(key) {
            self.settle_resume(key, task, outcome);
        }
    }

    /// Marks task `key` running, if it is there and not running already
    /// (a queued task is never running: a running one is not queued, and a
    /// hand-off takes the task it runs off the queue); its record.
    #[inline(always)]
    fn start_running(&self, key: Key) -> Option<*const Task> {
        self.with_record(key, |task| {
            let start = !task.running.replace(true);
            start.then(|| ptr::from_ref(task))
        })
        .flatten()
    }

    /// Resumes `task`, marked running by [`start_running`], until it
    /// suspends, ends or panics; clears `running` after, and puts back
    /// what `resuming` was (the loop: none; a hand-off: the task that
    /// handed over).
    ///
    /// [`start_running`]: Self::start_running
    #[inline(always)]
    fn resume_running(&self, task: *const Task) -> ResumeOutcome {
        // SAFETY: the arena never moves a stored value (`arena.rs`), and a
        // record whose `running` is set is not removed (`remove_task` is
        // called on a running task by no one; `cancel_task` defers), so
        // `task` stays valid until `running` is cleared below. Its coroutine
        // is touched only while `running` is false (the field's docs): this
        // is the one reference to it meanwhile, though code the task runs
        // borrows the record.
        let co = unsafe { &mut *(*task).co.get() };
        let outcome = match co {
            Some(co) => {
                let before = self.enter_task(task);
                // A panic of the body comes back as its payload, not as an
                // unwind through this frame (a hand-off runs it on the
                // parking task's stack); a resume refused (none should be:
                // a queued task is suspended or unstarted) is reported as
                // the task's panic.
                let outcome = co
                    .resume_or_panic(())
                    .unwrap_or_else(|refused| Err(Box::new(format!("jmpco: {refused}"))));
                self.enter_task(before);
                Some(outcome)
            }
            None => None,
        };
        // SAFETY: as above: still running, so still in place. The coroutine
        // is no longer borrowed (`co` is not used from here on).
        unsafe { (*task).running.set(false) };
        outcome
    }

    /// What a resume of task `key` (record `task`, no longer running)
    /// leaves to do: an abort asked meanwhile, the end of a finished or
    /// panicked task. Runs on the loop's stack.
    #[inline(always)]
    fn settle_resume(&self, key: Key, task: *const Task, outcome: ResumeOutcome) {
        // SAFETY: `task` is `key`'s record, looked up (or kept from before the
        // resume, while the task ran and so could not be removed) with
        // nothing run since; this function removes it only below, after its
        // last use.
        let task = unsafe { &*task };
        match outcome {
            Some(Ok(CoroutineResult::Yield(()))) if task.abort_requested.get() => {
                self.cancel_task(key);
            }
            None | Some(Ok(CoroutineResult::Yield(()))) => {}
            Some(Ok(CoroutineResult::Return(()))) => {
                // Drops the finished coroutine first, then the record.
                let task = self.remove_task(key);
                // It handed its value over itself: nothing to tell.
                drop(task.and_then(|mut t| t.end.take()));
            }
            Some(Err(payload)) => {
                eprintln!(
                    "jmpco: task {} panicked: {}; it has ended, the others go on",
                    task.id,
                    panic_message(payload.as_ref())
                );
                let task = self.remove_task(key);
                if let Some(end) = task.and_then(|mut t| t.end.take()) {
                    end.ended(Ended::Panicked(payload));
                }
            }
        }
    }

    /// A task `me` that parks runs the next ready task itself, from its
    /// park (see the module docs, "Handing off"): `true` if `me` was woken
    /// meanwhile, so its park returns; `false` if it must suspend to the
    /// loop as usual (nothing was ready, the hand-off did not get it woken,
    /// or it was not tried: a hand-off in progress, the turn's budget
    /// spent, `me` backing off, or less than `HAND_OFF_STACK_ROOM` of its
    /// stack free). An outcome of the resume that needs more than a look
    /// (the task ended, panicked, or is to be aborted) is left to the loop
    /// ([`run_task`](Self::run_task)), and `me` suspends to it.
    #[inline]
    fn hand_off(&self, me: &Task) -> bool {
        if self.handing_off.get() || self.resumes.get() >= RESUMES_PER_TURN {
            return false;
        }
        if !me.hands_off.get() {
            return false;
        }
        let skip = me.hand_off_skip.get();
        if skip > 0 {
            me.hand_off_skip.set(skip - 1);
            return false;
        }
        let marker = 0u8;
        let sp = ptr::addr_of!(marker) as usize;
        if sp.saturating_sub(me.stack.start) < HAND_OFF_STACK_ROOM {
            return false;
        }
        let Some(next) = self.ready.pop_front() else {
            return false;
        };
        self.hand_off_to(me, next)
    }

    /// [`hand_off`](Self::hand_off) to `next`, just taken off the queue.
    #[inline(always)]
    fn hand_off_to(&self, me: &Task, next: Key) -> bool {
        let Some(task) = self.start_running(next) else {
            return false;
        };
        self.resumes.set(self.resumes.get() + 1);
        self.handing_off.set(true);
        let outcome = self.resume_running(task);
        self.handing_off.set(false);
        // SAFETY: `task` is `next`'s record: a record is not removed while
        // its task runs, and nothing has run since `resume_running` marked
        // it no longer running.
        let plain = matches!(outcome, Some(Ok(CoroutineResult::Yield(()))))
            && !unsafe { &*task }.abort_requested.get();
        if !plain {
            self.handed_outcome.set(Some((next, outcome)));
            return false;
        }
        if me.parked.get() {
            me.hand_off_skip.set(HAND_OFF_BACKOFF);
            return false;
        }
        if me.abort_requested.get() || me.cancelling.get() {
            return false;
        }
        // Woken: the wake queued it, most likely last; a key left elsewhere
        // in the queue costs one spurious resume later (its park re-checks).
        self.ready.pop_back_if(me.key);
        true
    }

    /// Runs `f` with task `key`'s record, if there is one: for the hot
    /// paths (a wake, a resume), without a `RefCell` borrow's count. `f`
    /// must only read and set the record's cells: nothing that could
    /// borrow the table of tasks mutably.
    #[inline(always)]
    fn with_record<R>(&self, key: Key, f: impl FnOnce(&Task) -> R) -> Option<R> {
        // SAFETY: the reference lives only as long as this call, in which
        // nothing borrows the table mutably: `f` only touches cells of the
        // record (the contract above; every caller is in this file). A
        // table borrowed mutably now (by a caller up the stack) is reported
        // as `borrow` would, by a panic.
        let tasks = unsafe { self.tasks.try_borrow_unguarded() }
            .expect("jmpco: the scheduler's task table is borrowed mutably");
        tasks.get(key).map(f)
    }

    /// Forgets a task (and its armed timer).
    fn remove_task(&self, key: Key) -> Option<Task> {
        let task = self.tasks.borrow_mut().remove(key)?;
        if task.timer.get() != 0 {
            self.timers.borrow_mut().disarmed();
        }
        Some(task)
    }

    /// Cancels a suspended (or unstarted) task as its [`CancelPolicy`]
    /// says: its stack unwinds, so its destructors run, or (*refuse*: this
    /// is teardown, or an abort of an unstarted task) it is freed as it is.
    /// Its end hook hears [`Ended::Cancelled`].
    ///
    /// A running task (resumed, or being cancelled already) is only marked,
    /// as an abort marks it: it is cancelled once its resume comes back
    /// suspended, and its record stays until then.
    fn cancel_task(&self, key: Key) {
        let (record, co, on_cancel, id) = match self.tasks.borrow().get(key) {
            Some(task) if task.running.get() => {
                task.abort_requested.set(true);
                return;
            }
            Some(task) => {
                task.cancelling.set(true);
                task.running.set(true);
                // SAFETY: not running, so nothing borrows the coroutine (the
                // field's docs).
                let co = unsafe { (*task.co.get()).take() };
                (ptr::from_ref(task), co, task.on_cancel, task.id)
            }
            None => return,
        };
        if on_cancel.0 != Unwinding::Unwind {
            if let Some(co) = co {
                // SAFETY: the task is parked or unstarted (it is not running:
                // the loop holds no resume of it), and its policy was made by
                // `CancelPolicy::refuse`, whose contract is that nothing on
                // its stack then owns a value that must be dropped. This scheduler's own frames on it
                // (the park in `suspend_current`, `with_task`) hold only
                // references and `Copy` values.
                unsafe { co.abandon() };
            }
        } else if let Some(co) = co {
            // Called by the loop, or by a task that aborts another: the
            // task being cancelled is the one resumed while it unwinds.
            let caller = self.enter_task(record);
            let unwound = panic::catch_unwind(AssertUnwindSafe(move || drop(co)));
            self.enter_task(caller);
            // Only a panic raised after the body caught its cancellation gets
            // here (a destructor that panics while the cancellation unwinds
            // aborts the process: a panic during unwinding), or one out of a
            // value the body left behind (see `Coroutine`'s drop).
            if let Err(payload) = unwound {
                eprintln!(
                    "jmpco: task {id} panicked while it was cancelled: {}",
                    panic_message(payload.as_ref())
                );
            }
        }
        // SAFETY: `running` was set above, so the record is still in place
        // (see `run_task`).
        unsafe { (*record).running.set(false) };
        if let Some(mut task) = self.remove_task(key) {
            self.cancelled.fetch_add(1, Ordering::Relaxed);
            // Its task-locals go before anyone hears it ended.
            drop(task.locals.take());
            if let Some(end) = task.end.take() {
                end.ended(Ended::Cancelled);
            }
        }
    }

    /// Cancels every task (a few rounds, in case destructors spawn; a task
    /// spawned after the last is dropped unrun with the scheduler, its end
    /// hook told it was cancelled: see [`EndNotice`]).
    fn cancel_all(&self) {
        for _ in 0..4 {
            let keys = self.tasks.borrow().keys();
            if keys.is_empty() {
                return;
            }
            for key in keys {
                self.cancel_task(key);
            }
        }
    }

    // ---- parking -----------------------------------------------------------

    /// Puts a parked task back on the ready queue; ignored otherwise (see
    /// the module docs: waiters re-check after waking).
    pub(crate) fn wake(&self, key: Key) {
        let woken = self.with_record(key, |task| {
            let parked = task.parked.get();
            task.parked.set(false);
            parked
        });
        if woken == Some(true) {
            self.ready.push_back(key);
        }
    }

    /// Parks the current task until a wake or `deadline`. Must be called
    /// from the task's own coroutine (see [`with_task`]). Fails at once if
    /// the task is being cancelled or is unwinding.
    #[inline]
    pub(crate) fn park(&self, deadline: Option<Instant>) -> Result<(), ParkRefused> {
        self.suspend_current(true, deadline)
    }

    /// Moves the current task to the back of the ready queue and suspends
    /// it: other ready tasks and pending I/O get a turn. Refused like
    /// [`park`](Self::park).
    pub(crate) fn yield_now(&self) -> Result<(), ParkRefused> {
        self.suspend_current(false, None)
    }

    fn suspend_current(&self, park: bool, deadline: Option<Instant>) -> Result<(), ParkRefused> {
        let task = self.resuming.get();
        if task.is_null() {
            return Err(ParkRefused);
        }
        // SAFETY: a non-null `resuming` is the record of the running task
        // (`running` set), which stays in place while its coroutine runs
        // (see `run_task`); the caller runs on that coroutine (its contract:
        // `with_task` checked the stack). After the suspension below the
        // record is still there, at the same place: a record is removed only
        // once its coroutine has ended or been dropped, and a dropped one
        // unwinds from the suspension without coming back here (an
        // abandoned one never continues at all); the loop resumes the task
        // only after marking it running again.
        let task = unsafe { &*task };
        // A `timeout` the task is inside bounds every park in it.
        let frames = task.earliest.get();
        if let Some((frame, at)) = frames {
            if Instant::now() >= at && !std::thread::panicking() {
                fire_deadline(task, frame);
            }
        }
        let deadline = match (deadline, frames) {
            (Some(d), Some((_, at))) => Some(d.min(at)),
            (d, f) => d.or(f.map(|(_, at)| at)),
        };
        // A task's resumer, this loop, never runs while the thread unwinds:
        // a panic here is the task's own (see the module docs).
        if task.cancelling.get() || std::thread::panicking() {
            return Err(ParkRefused);
        }
        let handed = if park {
            if let Some(deadline) = deadline {
                task.timer
                    .set(self.timers.borrow_mut().arm(deadline, task.key));
            }
            task.parked.set(true);
            self.hand_off(task)
        } else {
            self.ready.push_back(task.key);
            false
        };
        if !handed {
            // No RefCell borrow is held across the suspension. The yielder
            // is used as its field's docs say: the caller runs on this
            // task's own coroutine (its contract: `with_task` checked the
            // stack), which lives while its code runs.
            task.yielder.suspend(());
        }
        // Resumed by the loop, or woken while it handed its turn over:
        // disarm a timer that did not fire.
        task.parked.set(false);
        if task.timer.replace(0) != 0 {
            self.timers.borrow_mut().disarmed();
        }
        // Aborted meanwhile: only a *refuse* task comes back here marked
        // cancelling (see the module docs).
        if task.cancelling.get() {
            return Err(ParkRefused);
        }
        // Read again rather than kept across the switch (which costs a
        // spill): only the task itself changes its frames, and it was
        // suspended.
        if let Some((frame, at)) = task.earliest.get() {
            if Instant::now() >= at {
                fire_deadline(task, frame);
            }
        }
        Ok(())
    }

    /// Enters a `timeout` frame of task `key` with `deadline`; its id.
    pub(crate) fn push_deadline(&self, key: Key, deadline: Instant) -> u64 {
        static NEXT_FRAME: AtomicU64 = AtomicU64::new(1);
        let frame = NEXT_FRAME.fetch_add(1, Ordering::Relaxed);
        if let Some(task) = self.tasks.borrow().get(key) {
            let mut deadlines = task.deadlines.borrow_mut();
            deadlines.push((frame, deadline));
            task.earliest.set(earliest(&deadlines));
        }
        frame
    }

    /// Leaves `timeout` frame `frame` of task `key`; `caught` if it caught
    /// its own deadline's unwind (which ends there).
    pub(crate) fn pop_deadline(&self, key: Key, frame: u64, caught: bool) {
        if let Some(task) = self.tasks.borrow().get(key) {
            let mut deadlines = task.deadlines.borrow_mut();
            deadlines.retain(|&(f, _)| f != frame);
            task.earliest.set(earliest(&deadlines));
            if caught {
                task.deadline_unwinding.set(false);
            }
        }
    }

    /// Drops task `key`'s task-local values now (the task is ending: its
    /// body returned, and its result is about to be handed over).
    pub(crate) fn drop_locals(&self, key: Key) {
        let locals = match self.tasks.borrow().get(key) {
            Some(task) => task.locals.take(),
            None => return,
        };
        drop(locals);
    }

    /// The id of task `key` (its coroutine's).
    pub(crate) fn task_id(&self, key: Key) -> Option<CoroutineId> {
        self.tasks.borrow().get(key).map(|t| t.id)
    }

    /// Task `key`'s value for the task-local `id`, made with `init` the
    /// first time; `None` if there is no such task. The pointer stays valid
    /// until the task record is dropped, which happens only after the task's
    /// coroutine has ended (so never while code of the task runs).
    pub(crate) fn task_local(
        &self,
        key: Key,
        id: usize,
        init: &dyn Fn() -> Box<dyn Any>,
    ) -> Option<*const dyn Any> {
        {
            let tasks = self.tasks.borrow();
            let found = tasks
                .get(key)?
                .locals
                .borrow()
                .iter()
                .find(|(k, _)| *k == id)
                .map(|(_, value)| &**value as *const dyn Any);
            if found.is_some() {
                return found;
            }
        }
        // Made with nothing borrowed: `init` may use task-locals, or spawn.
        let value = init();
        let tasks = self.tasks.borrow();
        let mut locals = tasks.get(key)?.locals.borrow_mut();
        locals.push((id, value));
        Some(&*locals.last().expect("just pushed").1 as *const dyn Any)
    }

    /// Task `key`'s deadline unwind was stopped before it reached its
    /// frame (see [`super::task::stop_deadline_unwind`]): it no longer
    /// unwinds, and its frame stays, so its next park fires it again.
    pub(crate) fn deadline_unwind_stopped(&self, key: Key) {
        if let Some(task) = self.tasks.borrow().get(key) {
            task.deadline_unwinding.set(false);
        }
    }

    /// Whether task `key` is unwinding to a `timeout` frame.
    pub(crate) fn deadline_unwinding(&self, key: Key) -> bool {
        self.tasks
            .borrow()
            .get(key)
            .is_some_and(|t| t.deadline_unwinding.get())
    }

    // ---- fds: the reactor's, with this scheduler's wake ---------------------

    /// See [`Reactor::register`].
    pub(crate) fn register(&self, fd: RawFd) -> io::Result<Key> {
        self.reactor.register(fd, |k| self.wake(k))
    }

    /// See [`Reactor::acquire_fd`].
    pub(crate) fn acquire_fd(&self, fd: RawFd) -> io::Result<Key> {
        self.reactor.acquire_fd(fd, |k| self.wake(k))
    }

    /// See [`Reactor::release_fd`].
    pub(crate) fn release_fd(&self, key: Key) {
        self.reactor.release_fd(key, |k| self.wake(k));
    }

    /// See [`Reactor::deregister`].
    pub(crate) fn deregister(&self, key: Key) {
        self.reactor.deregister(key, |k| self.wake(k));
    }

    /// See [`Reactor::mark_ready`].
    pub(crate) fn mark_ready(&self, key: Key, interest: Interest) {
        self.reactor.mark_ready(key, interest, |k| self.wake(k));
    }

    /// See [`Reactor::wait_for`].
    pub(crate) fn wait_for(&self, key: Key, waiter: Key, interest: Interest) -> Await {
        self.reactor.wait_for(key, waiter, interest)
    }

    /// See [`Reactor::stop_waiting`].
    pub(crate) fn stop_waiting(&self, key: Key, waiter: Key) {
        self.reactor.stop_waiting(key, waiter);
    }

    /// See [`Reactor::is_ready`].
    pub(crate) fn is_ready(&self, key: Key, interest: Interest) -> Option<bool> {
        self.reactor.is_ready(key, interest)
    }

    /// See [`Reactor::clear_ready`].
    pub(crate) fn clear_ready(&self, key: Key, interest: Interest) {
        self.reactor.clear_ready(key, interest);
    }

    /// Parks the current task (`task`) until the fd is ready for
    /// `interest` or `deadline` passes (`TimedOut`).
    pub(crate) fn wait_ready(
        &self,
        key: Key,
        task: Key,
        interest: Interest,
        deadline: Option<Instant>,
    ) -> io::Result<()> {
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return match self.reactor.is_ready(key, interest) {
                    Some(true) => Ok(()),
                    Some(false) => Err(io::ErrorKind::TimedOut.into()),
                    None => Err(registration_gone()),
                };
            }
            match self.reactor.wait_for(key, task, interest) {
                Await::Ready => return Ok(()),
                Await::Gone => return Err(registration_gone()),
                Await::Recorded => {}
            }
            // Forgotten on an unwind from the park too (an abort, a
            // deadline): a task whose unwind is stopped above (the C tier's
            // exports) goes on, and a stale entry would wake it later from
            // an unrelated park. Caught and resumed, so the frame owns
            // nothing across the park.
            let parked = panic::catch_unwind(AssertUnwindSafe(|| self.park(deadline)));
            self.reactor.stop_waiting(key, task);
            parked.unwrap_or_else(|payload| panic::resume_unwind(payload))?;
        }
    }

    // ---- the loop ----------------------------------------------------------

    /// Makes this the thread's current scheduler and runs the loop until
    /// shutdown has begun and every task has ended (or been cancelled at the
    /// deadline). Then cancels what is left and closes the mailbox.
    pub(crate) fn run(&self) -> io::Result<()> {
        let running = Running::enter(self);
        let result = self.run_loop(false);
        self.cancel_all();
        drop(self.remote.close());
        drop(running);
        result
    }

    /// Makes this the thread's current scheduler and runs the loop until
    /// every task has ended; returns at once if there are none. The
    /// scheduler stays usable: tasks spawned later run at the next call.
    /// Must not be called while a scheduler loop runs on this thread.
    pub(crate) fn run_until_idle(&self) -> io::Result<()> {
        debug_assert!(with_scheduler(|s| s.is_none()));
        let _running = Running::enter(self);
        self.run_loop(true)
    }

    /// Cancels every task without running it (see [`cancel_task`]): for
    /// a scheduler dropped with tasks that never ran to the end.
    ///
    /// [`cancel_task`]: Self::cancel_task
    pub(crate) fn cancel_remaining(&self) {
        self.cancel_all();
    }

    fn run_loop(&self, until_idle: bool) -> io::Result<()> {
        let mut events = Events::with_capacity(EVENTS_PER_WAIT);
        let mut messages = Vec::new();
        // Whether mail came since the loop last slept.
        let mut heard = false;
        let may_spin = spinning_helps();
        loop {
            // 1. Ready tasks, while the turn's budget lasts.
            while self.resumes.get() < RESUMES_PER_TURN {
                let next = self.ready.pop_front();
                match next {
                    Some(key) => self.run_task(key),
                    None => break,
                }
                self.resumes.set(self.resumes.get() + 1);
            }
            // 2. Messages from other threads.
            self.remote.take(&mut messages);
            if !messages.is_empty() {
                heard = true;
                for message in messages.drain(..) {
                    match message {
                        Message::Spawn(f) => f(),
                        Message::Wake(key) => self.wake(key),
                        Message::Abort(key) => self.abort(key),
                        Message::Shutdown(deadline) => self.begin_shutdown(deadline),
                    }
                }
            }
            if until_idle && self.task_count() == 0 {
                return Ok(());
            }
            if let Some(deadline) = self.shutdown.get() {
                if self.task_count() == 0 {
                    return Ok(());
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    self.cancel_all();
                    return Ok(());
                }
            }
            // 3. Wait for I/O, no longer than the next timer. While tasks
            //    are ready (woken by each other: a channel, a lock), only a
            //    look, once per budget of resumes: an `epoll_wait` of zero
            //    per hand-off between two tasks would cost each a system
            //    call.
            //    An idle worker that heard from another thread since it last
            //    slept first spins briefly for the next message (a
            //    cross-worker exchange): caught awake, it costs no system
            //    call, here or at the poster.
            let idle = self.ready.is_empty();
            let mail = idle && heard && may_spin && self.remote.spin_for_mail(MAIL_SPIN);
            let idle = idle && !mail;
            if idle || self.resumes.get() >= RESUMES_PER_TURN {
                self.resumes.set(0);
                let timeout = if idle {
                    let next = self.timers.borrow().next_deadline();
                    let next = match (next, self.shutdown.get().flatten()) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    next.map(|d| d.saturating_duration_since(Instant::now()))
                } else {
                    Some(Duration::ZERO)
                };
                let sleeps = timeout != Some(Duration::ZERO) && self.remote.going_to_sleep();
                let timeout = if sleeps {
                    timeout
                } else {
                    Some(Duration::ZERO)
                };
                if sleeps {
                    heard = false;
                }
                let waited = self.reactor.wait(&mut events, timeout);
                if sleeps {
                    self.remote.woke();
                }
                waited?;
                for event in events.iter() {
                    match Reactor::classify(event) {
                        Polled::Mailbox => self.remote.clear_eventfd(),
                        Polled::Fd(event) => self.reactor.dispatch(event, |k| self.wake(k)),
                    }
                }
            }
            // 4. Due timers.
            if self.timers.borrow().next_deadline().is_some() {
                self.fire_timers(Instant::now());
            }
        }
    }

    fn fire_timers(&self, now: Instant) {
        let mut due = Vec::new();
        self.timers
            .borrow_mut()
            .expire(now, |key, seq| due.push((key, seq)));
        for (key, seq) in due {
            let fired = match self.tasks.borrow().get(key) {
                Some(task) if task.timer.get() == seq => {
                    task.timer.set(0);
                    true
                }
                _ => false,
            };
            if fired {
                self.timers.borrow_mut().disarmed();
                self.wake(key);
            }
        }
        let tasks = self.tasks.borrow();
        self.timers
            .borrow_mut()
            .compact(|key, seq| tasks.get(key).is_some_and(|t| t.timer.get() == seq));
    }

    /// Stops accepting (cancels service tasks) and sets the deadline.
    fn begin_shutdown(&self, deadline: Option<Instant>) {
        if self.shutdown.get().is_some() {
            return;
        }
        self.shutdown.set(Some(deadline));
        let services: Vec<Key> = {
            let tasks = self.tasks.borrow();
            tasks
                .keys()
                .into_iter()
                .filter(|&k| tasks.get(k).is_some_and(|t| t.role == Role::Service))
                .collect()
        };
        for key in services {
            self.cancel_task(key);
        }
    }
}

/// Unwinds the running task, whose record is `task`, back to `timeout`
/// frame `frame`.
fn fire_deadline(task: &Task, frame: u64) -> ! {
    task.deadline_unwinding.set(true);
    panic::resume_unwind(Box::new(DeadlinePassed(frame)))
}

/// Why a wait on a registration failed: it is gone.
fn registration_gone() -> io::Error {
    io::Error::other(
        "jmpco: the fd's registration is gone: the fd was closed (or deregistered) while a \
         task waited on it",
    )
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::{Rc, Weak};
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::{with_task, CancelCount, Config, EndHook, Ended, Role, Scheduler};
    use crate::rt::remote::Remote;
    use crate::stack::DEFAULT_STACK_SIZE;
    use crate::Backend;

    /// Counts the cancellations it hears.
    struct Heard(AtomicUsize);

    impl EndHook for Heard {
        fn ended(&self, how: Ended) {
            assert!(matches!(how, Ended::Cancelled));
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Spawns, when dropped, a task holding the next link (`depth - 1`),
    /// or at depth 0 a task with `heard` as its end hook.
    struct SpawnOnDrop {
        depth: u32,
        sched: Weak<Scheduler>,
        heard: Arc<Heard>,
    }

    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let Some(sched) = self.sched.upgrade() else {
                return;
            };
            if self.depth == 0 {
                let end: Arc<dyn EndHook> = self.heard.clone();
                sched
                    .spawn(Role::Work, Some(end), || unreachable!("never runs"))
                    .expect("spawn");
            } else {
                let next = SpawnOnDrop {
                    depth: self.depth - 1,
                    sched: self.sched.clone(),
                    heard: self.heard.clone(),
                };
                sched
                    .spawn(Role::Work, None, move || drop(next))
                    .expect("spawn");
            }
        }
    }

    fn scheduler() -> Rc<Scheduler> {
        let config = Config {
            stack_size: DEFAULT_STACK_SIZE,
            backend: Backend::default(),
        };
        let cancelled: CancelCount = Arc::new(AtomicU64::new(0));
        let remote = Arc::new(Remote::new().expect("a mailbox"));
        Scheduler::new(config, remote, cancelled).expect("a scheduler")
    }

    #[test]
    fn a_task_cancelled_while_it_runs_is_cancelled_at_its_next_suspension() {
        let sched = scheduler();
        let heard = Arc::new(Heard(AtomicUsize::new(0)));
        let went_on = Rc::new(Cell::new(false));
        let left = Rc::new(Cell::new(None));
        let end: Arc<dyn EndHook> = heard.clone();
        let (after, count) = (went_on.clone(), left.clone());
        sched
            .spawn(Role::Work, Some(end), move || {
                with_task(|task| {
                    let (sched, key) = task.expect("in a task");
                    sched.cancel_task(key);
                    count.set(Some(sched.task_count()));
                });
                // Not refused (it is not cancelling yet): it suspends, and
                // the loop cancels it there, so this yield never returns.
                let _ = with_task(|task| task.expect("in a task").0.yield_now());
                after.set(true);
            })
            .expect("spawn");
        sched.run_until_idle().expect("the loop");
        assert_eq!(left.get(), Some(1), "its record stays while it runs");
        assert!(!went_on.get(), "unwound from its yield");
        assert_eq!(heard.0.load(Ordering::Relaxed), 1, "told it was cancelled");
        assert_eq!(sched.task_count(), 0);
        assert_eq!(sched.cancelled.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_task_spawned_after_the_last_round_of_teardown_still_hears_it_was_cancelled() {
        let sched = scheduler();
        let heard = Arc::new(Heard(AtomicUsize::new(0)));
        // Each round of `cancel_all` drops one link unrun, whose destructor
        // spawns the next: the fourth round's spawns the hooked task.
        let first = SpawnOnDrop {
            depth: 3,
            sched: Rc::downgrade(&sched),
            heard: heard.clone(),
        };
        sched
            .spawn(Role::Work, None, move || drop(first))
            .expect("spawn");
        sched.cancel_remaining();
        assert_eq!(sched.task_count(), 1, "the hooked task is left");
        assert_eq!(heard.0.load(Ordering::Relaxed), 0);
        drop(sched);
        assert_eq!(
            heard.0.load(Ordering::Relaxed),
            1,
            "dropped with the scheduler, its hook told it was cancelled"
        );
    }
}
