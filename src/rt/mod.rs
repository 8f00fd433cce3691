//! The epoll runtime: one coroutine per client, resumed by a per-thread
//! event loop.
//!
//! Two classic server designs break: a single-threaded epoll loop stalls
//! on one slow client, and an epoll loop feeding a thread pool lets two
//! threads own one fd. The answer built here: every client gets a task (a
//! [`Coroutine`](crate::Coroutine) on a pooled stack) written as plain
//! blocking code, and a scheduler per thread resumes each task when epoll
//! says its socket is ready.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use jmpco::rt::Runtime;
//!
//! let rt = Runtime::builder().worker_threads(1).build()?;
//! let addr = rt.serve("127.0.0.1:0".parse().unwrap(), |mut stream| {
//!     let mut buf = [0u8; 4096];
//!     loop {
//!         match stream.read(&mut buf) {
//!             Ok(0) | Err(_) => return,
//!             Ok(n) => {
//!                 if stream.write_all(&buf[..n]).is_err() {
//!                     return;
//!                 }
//!             }
//!         }
//!     }
//! })?;
//! println!("echo on {addr}");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # The model
//! * **Workers.** A [`Runtime`] has N worker threads (default: one per
//!   core). Each owns a scheduler: a ready queue, one epoll instance, a
//!   timer heap, and its tasks. A coroutine is not `Send`, so a task never
//!   leaves the worker that created it; other threads reach a worker only
//!   through its mailbox (an `eventfd` in its epoll) with [`Handle::spawn`].
//! * **The loop** (the main coroutine, on the thread's own stack) resumes
//!   ready tasks, reads its mailbox, waits in `epoll_wait` (bounded by the
//!   next timer), turns events into wake-ups, and fires due timers.
//! * **Blocking calls park the task, not the thread.** [`TcpStream`] and
//!   friends are non-blocking underneath; a call that gets `EAGAIN`
//!   registers the fd (once, edge-triggered, both directions), clears the
//!   fd's readiness bit for that direction and parks until an event sets it
//!   again. Outside a task the same types block the thread with `poll(2)`.
//! * **Edge-triggered contract.** An event means "something changed",
//!   once; the runtime keeps it as a per-fd, per-direction bit so an edge
//!   that arrives while no task waits is not lost, and a task waits only
//!   after it has drained the fd to `EAGAIN`. Events may be spurious: every
//!   waiter retries its call after waking.
//! * **The lost-wakeup window** between a call's `EAGAIN` and the task's
//!   suspension is closed because the readiness bits are only ever set by
//!   the loop, on the same thread, which cannot run until the task has
//!   suspended; an edge in that window is queued by the kernel and
//!   delivered to the next `epoll_wait`, which finds the task waiting. See
//!   `scheduler.rs` for the argument in full.
//! * **Scopes.** [`scope`] spawns tasks that borrow the caller's locals
//!   (non-`Send` ones too: they run on the caller's worker) and returns
//!   once all have ended; a panic cancels the rest and propagates; a
//!   cancelled or timed-out caller ends its children before its own frames
//!   unwind.
//! * **Deadlines.** [`timeout`] and [`deadline`] bound every park in a
//!   closure: one still parked at the deadline unwinds back to the
//!   `timeout` frame, which returns [`Elapsed`]; they nest.
//! * **Time.** [`sleep`], per-stream read/write timeouts
//!   ([`io::ErrorKind::TimedOut`](std::io::ErrorKind::TimedOut)) and
//!   [`wait_fd`] timeouts use the worker's timer heap; `epoll_wait`'s
//!   millisecond timeout is rounded up, so timers fire late by at most about
//!   a millisecond on an idle worker, never early.
//! * **Faults.** A panic in a task ends that task only: its stack unwinds
//!   (its connection closes), the scheduler prints the message to stderr,
//!   and its [`JoinHandle`] reports [`JoinError::Panicked`]. A task or
//!   blocking job that cannot be started (no stack, no thread to be had) is
//!   not left waiting: its handle reports [`JoinError::NotStarted`], with
//!   the cause.
//! * **Coordination.** Channels, select and locks park a task and block a
//!   thread; see "Coordination" below for which one serves which job.
//! * **Blocking work stalls a worker.** A task that calls something that
//!   really blocks (`std::fs`, `std::thread::sleep`, std's DNS, a long
//!   loop) holds up every task of its worker. Use [`unblock`] /
//!   [`spawn_blocking`] to run it on the blocking pool while only the
//!   calling task waits. The net types' own name lookups ([`lookup_host`],
//!   a connect to `"host:port"`) run there already.
//! * **Shutdown.** [`Runtime::shutdown`] stops the accept loops, lets live
//!   tasks finish within a grace period ([`shutdown_requested`] tells them
//!   to), then cancels the rest: dropping a suspended coroutine unwinds its
//!   stack, so destructors run and sockets close. It is called from
//!   outside the runtime (from one of its own tasks it panics; see
//!   [`Runtime`] for a drop there).
//! * **Cancellation.** A cancelled task (by shutdown, or by
//!   [`JoinHandle::abort`]) unwinds from the point where it is parked (a
//!   running task that is aborted, at its next park). From then on, and whenever a task unwinds a panic, it cannot
//!   park: I/O fails at once with an error, [`sleep`] and [`yield_now`]
//!   return, and [`JoinHandle::join`] reports [`JoinError::Cancelled`]. So a
//!   destructor that does I/O never suspends a dying task, and no other
//!   task of the worker ever runs while one is mid-unwind (std keeps one
//!   panic count per thread: they would all see `std::thread::panicking()`).
//!   A task that catches its cancellation runs on, without parking, until
//!   it returns. A destructor that panics during the unwinding aborts the
//!   process, as a panic during unwinding always does. C code called from
//!   a task and waiting in the C tier gets `JMPCO_ECANCELED` instead of
//!   the unwinding.
//! * **Coroutines inside tasks.** A task may create and resume plain
//!   [`Coroutine`](crate::Coroutine)s (a parser written as a generator, say).
//!   Code on them runs outside the task: I/O there blocks the thread in
//!   `poll(2)` and then completes, [`spawn`] works, and
//!   [`JoinHandle::join`] blocks the thread, or panics when the joined task
//!   runs on the same worker (it would deadlock).
//!
//! # Cancellation model
//! Cancellation is one mechanism: the task's coroutine is dropped while it
//! is parked, so its stack unwinds from the park point, running every
//! destructor, and its [`JoinHandle`] reports [`JoinError::Cancelled`].
//! Shutdown past its grace period, [`JoinHandle::abort`] / [`AbortHandle`],
//! a dropped [`JoinSet`], and a [`scope`] ending its children all use it;
//! a [`timeout`] that fires unwinds the same way, but only back to its own
//! frame, which returns [`Elapsed`]. The one exception is a task whose body
//! is C code spawned through the C API: it is never unwound; its cancel
//! refuses its parks until the body returns by itself (`foreign.rs`), and
//! shutdown past its deadline frees its stack as it is.
//!
//! * **Where.** Only at a park: I/O that would block, `accept`, `connect`,
//!   [`sleep`], [`yield_now`], [`wait_fd`], channel operations, locks,
//!   `Condvar`, `Select`, `join`, [`unblock`]. A task that runs without
//!   parking is not interrupted; an abort of a running task takes effect at
//!   its next park. A task inside `unblock` ends at once, while its job runs
//!   on to its end on the pool and its result is dropped.
//! * **What runs.** Every destructor on the task's stack, innermost first,
//!   then its task-locals; sockets close, guards unlock (without
//!   poisoning), a message or lock it had just been handed goes to the next
//!   waiter. Coroutines the task owns are dropped, so they are cancelled too.
//! * **What a destructor may do.** Anything that does not park: it runs
//!   while the task unwinds, and an unwinding task cannot park (a suspended
//!   unwind would show every other task of the worker
//!   `std::thread::panicking()`). A park there fails at once: I/O returns
//!   an error, `sleep` returns, a channel operation fails, `join` reports
//!   `Cancelled`; only a contended lock blocks the thread until it is handed
//!   over (or panics if its holder is a task of the same worker). A
//!   destructor that panics during the unwinding aborts the process, as in
//!   any Rust unwind.
//! * **Catching it.** A task that catches its cancellation (`catch_unwind`)
//!   runs on, but can never park again: it should return. The C tier's
//!   waits catch it on purpose (they cannot let it cross C frames) and
//!   return `JMPCO_ECANCELED`.
//! * **Deadlines and scopes.** Deadlines nest: every park is bounded by the
//!   earliest one around it, and only that one's frame returns `Elapsed`. A
//!   deadline (or a cancellation) that unwinds through a `scope` first
//!   aborts the scope's children, which have all ended before the unwind
//!   goes on; the scope's borrows never outlive their owner.
//!
//! # Coordination
//! | Job | Use | A task | A thread |
//! |---|---|---|---|
//! | Hand values to another task, worker or thread; fan work out, fan results in | [`channel::bounded`] / [`channel::unbounded`] | parks | blocks |
//! | Meet another party, value in hand | `channel::bounded(0)` | parks | blocks |
//! | Wait for the first of several sends, receives, fd readinesses, a deadline | [`channel::Select`] | parks | blocks (channels and a deadline only) |
//! | Share mutable state | [`sync::Mutex`], [`sync::RwLock`] | parks | blocks |
//! | Bound how many do something at once | [`sync::Semaphore`] | parks | blocks |
//! | Wait for a condition on shared state | [`sync::Condvar`] | parks | blocks |
//! | Wait for `n` parties each round, or for a group to finish | [`sync::Barrier`], [`sync::WaitGroup`] | parks | blocks |
//! | Wait for a task's result | [`JoinHandle::join`] | parks | blocks |
//!
//! All of them serve waiters in arrival order, and every wait is *claimed*
//! by whoever ends it (a sender, an unlock, a timeout, a cancellation), so
//! exactly one party does: nothing is lost, duplicated, or left to a ghost
//! waiter. Between tasks of one worker a hand-off makes no system call; a
//! task of another worker is woken through its mailbox; a thread through
//! `unpark`.
//!
//! Under cancellation: a task cancelled while it waits unwinds out of the
//! wait. A message it was sending was not sent (the value is dropped with
//! the task); one it had been handed goes back to the head of its queue; a
//! lock or permit it had been handed goes to the next waiter; a
//! notification it had been given goes to the next waiter. Its guards
//! unlock as they unwind without poisoning anything. A task that cannot
//! park (being cancelled, or unwinding a panic: in a destructor, say) gets
//! the operation's error at once, except for a contended lock, where it
//! blocks its thread until the lock is handed to it (and panics instead if
//! the holder is a task of its own worker, which could never run).
//!
//! Code on a worker's thread outside its tasks (in a coroutine a task
//! created) cannot park: an operation that would have to wait panics there,
//! naming the nesting; what needs no waiting (`try_` forms, a ready
//! operation) works.
//!
//! # Files, from the bottom up
//! * `syscall.rs` (the `syscall!` macro), `epoll.rs` (the only `epoll_*`
//!   calls: the selector), `arena.rs` (generational keys), `timer.rs` (the
//!   timer heap, and every user duration made a deadline), `remote.rs` (a
//!   worker's mailbox for other threads);
//! * `reactor.rs`: registered fds, their readiness and waiters,
//!   [`Interest`];
//! * `scheduler.rs`: tasks, the ready queue, park and wake, the loop,
//!   cancellation, shutdown; who is running;
//! * `park.rs`: waiting for what another task or thread does, and waking
//!   the waiter from anywhere (a claim decides who ends a wait);
//! * `join.rs` ([`JoinHandle`], [`AbortHandle`]), `join_set.rs`
//!   ([`JoinSet`]), `channel/` ([`channel`]), `sync/`
//!   ([`sync`]: locks, semaphore, condvar, barrier, wait group), `task.rs`
//!   ([`spawn`], [`sleep`], [`yield_now`]), `io.rs` ([`wait_fd`] and the
//!   registration every socket embeds), `blocking.rs` (the pool);
//! * `net/`, the sockets: `socket.rs` (raw set-up std lacks),
//!   `stream_io.rs` (`Read`/`Write` for the streams), `addr.rs`
//!   ([`ToSocketAddrs`], [`lookup_host`]: names resolved on the pool),
//!   `tcp.rs` ([`TcpListener`], [`TcpStream`]), `udp.rs` ([`UdpSocket`]),
//!   `unix.rs` ([`UnixListener`], [`UnixStream`]);
//! * `task_local.rs` ([`TaskLocal`], [`task_id`]), `scope.rs` ([`scope`]);
//! * `runtime.rs` ([`Runtime`]: workers, serving, shutdown), `local.rs` (a
//!   scheduler run on the caller's own thread until its tasks end, which
//!   the C API's runtime tier stands on), `foreign.rs` (tasks whose bodies
//!   are never unwound, C code: their outcome, join and cooperative
//!   cancel), `raw_io.rs` (read, write, accept, connect and close on raw
//!   fds handed over for their life, with one registration each: the C
//!   API's registered I/O).
//!
//! Each file imports only files listed before it (or beside it).

mod arena;
mod blocking;
pub mod channel;
mod epoll;
pub(crate) mod foreign;
mod io;
mod join;
mod join_set;
pub(crate) mod local;
mod net;
mod park;
pub(crate) mod raw_io;
mod reactor;
mod ready;
mod remote;
mod runtime;
mod scheduler;
mod scope;
pub mod sync;
pub(crate) mod syscall;
pub(crate) mod task;
mod task_local;
mod timer;

pub use blocking::{spawn_blocking, unblock, IDLE_TIMEOUT, MAX_THREADS};
pub use io::wait_fd;
pub use join::{AbortHandle, JoinError, JoinHandle};
pub use join_set::JoinSet;
pub use net::{
    lookup_host, TcpListener, TcpStream, ToSocketAddrs, UdpSocket, UnixListener, UnixStream,
};
pub use reactor::Interest;
pub use runtime::{Builder, Handle, Runtime, ShutdownReport};
pub(crate) use scheduler::ParkRefused;
pub use scope::{scope, Scope, ScopedJoinHandle};
pub use task::{deadline, shutdown_requested, sleep, spawn, timeout, yield_now, Elapsed};
pub use task_local::{task_id, AccessError, TaskId, TaskLocal};
pub(crate) use timer::deadline_after;
