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
//! * **Coordination.** [`channel`] passes values between tasks, workers and
//!   threads: a task parks, a thread blocks, and a hand-off between tasks
//!   of one worker makes no system call. [`channel::Select`] waits for the
//!   first of several sends, receives, fd readinesses and a deadline;
//!   exactly one completes, and the others consume nothing. Use it to hand work to a pool of
//!   tasks, to fan results in, or (with `bounded(0)`) to meet another task.
//!   A task that is cancelled while it waits on a channel unwinds out of
//!   the wait; a message it was sending was not sent, and one it had been
//!   handed goes back to the head of the queue. [`sync`] has the locks
//!   (`Mutex`, `RwLock`: std's shapes, FIFO hand-off, poisoned by a panic
//!   but not by a cancellation), a `Semaphore` to bound concurrency, a
//!   `Condvar`, a `Barrier` and a `WaitGroup`; all of them park a task and
//!   block a thread.
//! * **Blocking work stalls a worker.** A task that calls something that
//!   really blocks (`std::fs`, `std::thread::sleep`, DNS, a long loop) holds
//!   up every task of its worker. Use [`unblock`] / [`spawn_blocking`] to
//!   run it on the blocking pool while only the calling task waits.
//! * **Shutdown.** [`Runtime::shutdown`] stops the accept loops, lets live
//!   tasks finish within a grace period ([`shutdown_requested`] tells them
//!   to), then cancels the rest: dropping a suspended coroutine unwinds its
//!   stack, so destructors run and sockets close. It is called from
//!   outside the runtime (from one of its own tasks it panics; see
//!   [`Runtime`] for a drop there).
//! * **Cancellation.** A cancelled task unwinds from the point where it is
//!   parked. From then on, and whenever a task unwinds a panic, it cannot
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
//! * `join.rs` ([`JoinHandle`]), `channel/` ([`channel`]), `sync/`
//!   ([`sync`]: locks, semaphore, condvar, barrier, wait group), `task.rs`
//!   ([`spawn`], [`sleep`], [`yield_now`]), `io.rs` ([`wait_fd`] and the
//!   registration every socket embeds), `net/` (the sockets),
//!   `blocking.rs` (the pool);
//! * `runtime.rs` ([`Runtime`]: workers, serving, shutdown), `local.rs` (a
//!   scheduler run on the caller's own thread until its tasks end, which
//!   the C API's runtime tier stands on).
//!
//! Each file imports only files listed before it (or beside it).

mod arena;
mod blocking;
pub mod channel;
mod epoll;
mod io;
mod join;
pub(crate) mod local;
mod net;
mod park;
mod reactor;
mod remote;
mod runtime;
mod scheduler;
pub mod sync;
pub(crate) mod syscall;
pub(crate) mod task;
mod timer;

pub use blocking::{spawn_blocking, unblock, IDLE_TIMEOUT, MAX_THREADS};
pub use io::wait_fd;
pub use join::{JoinError, JoinHandle};
pub use net::{TcpListener, TcpStream, UnixStream};
pub use reactor::Interest;
pub use runtime::{Builder, Handle, Runtime, ShutdownReport};
pub(crate) use scheduler::{CancelPolicy, ParkRefused};
pub use task::{shutdown_requested, sleep, spawn, yield_now};
