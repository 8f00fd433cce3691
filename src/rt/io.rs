//! Waiting for fds: [`Interest`], [`wait_fd`], and the registration that
//! every network type embeds.
//!
//! Inside a task, a call that would block registers its fd with the
//! worker's epoll (once, on the first `EAGAIN`), clears the readiness bit it
//! found stale, and parks the task until the loop sets that bit again (see
//! the scheduler's docs for why no wake-up can be lost). Outside any task
//! (a plain thread, or a coroutine the task created itself) the same call
//! waits with `poll(2)` instead, blocking that thread: the types work
//! everywhere, and only tasks get the cheap wait. The readiness bits are
//! the task's knowledge: outside it every call asks the kernel, and a call
//! made on a worker outside its task (in a coroutine nested in a task) sets
//! the bits again afterwards, since it may have left data or room behind
//! that no new edge will announce.
//!
//! Nothing on these frames owns anything across a park (the scheduler is
//! lent by `with_task`; keys and `Copy` values otherwise), so a C task
//! parked in [`wait_fd`] can be abandoned without a leak.

use std::cell::Cell;
use std::io;
use std::os::fd::RawFd;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use super::arena::Key;
use super::reactor::Interest;
use super::scheduler::{with_scheduler, with_task, Scheduler};
use super::syscall::syscall;
use super::timer::deadline_after;

/// Waits until `fd` is ready for `interest` (either direction, if both),
/// or fails with [`io::ErrorKind::TimedOut`] after `timeout`.
///
/// The semantics are level-triggered: it returns at once if the fd is
/// ready now (data already buffered, say), whatever edges came before.
///
/// Inside a task only the task waits; elsewhere the thread blocks in
/// `poll(2)`. The fd stays owned by the caller; inside a task it is
/// registered for the duration of the call only (shared by the tasks of the
/// worker that wait on it at the same time; the fd of a jmpco socket of
/// this worker waits on that socket's own registration). It must not be
/// closed while a task waits on it: that wait then fails with an error.
pub fn wait_fd(fd: RawFd, interest: Interest, timeout: Option<Duration>) -> io::Result<()> {
    let deadline = timeout.and_then(deadline_after);
    // Level semantics: an fd that is ready now needs no registration.
    if poll_now(fd, interest)? {
        return Ok(());
    }
    with_task(|task| match task {
        Some((sched, task)) => wait_in_task(sched, task, fd, interest, deadline),
        None => poll_fd(fd, interest, deadline),
    })
}

/// [`wait_fd`]'s wait inside the current task `task` of `sched`, for an fd
/// that `poll` just found not ready.
fn wait_in_task(
    sched: &Scheduler,
    task: Key,
    fd: RawFd,
    interest: Interest,
    deadline: Option<Instant>,
) -> io::Result<()> {
    let key = sched.acquire_fd(fd)?;
    // A shared registration may carry a bit set by an edge whose data has
    // been read since; `poll` has just said "not ready", and any edge after
    // it reaches the loop's next `epoll_wait`, which runs only once this
    // task has parked. So clearing the bit loses nothing.
    sched.clear_ready(key, interest);
    // Released on every way out, an unwind from the park included (the
    // task aborted, or its `rt::timeout` deadline passed): the C tier stops
    // those unwinds at its export and the task goes on, and the fd must not
    // stay registered after the call. Caught and resumed here rather than
    // dropped by a guard, so nothing on this frame owns anything across the
    // park (an abandoned C task skips the release with the rest of its
    // stack; its scheduler is being dropped then).
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        sched.wait_ready(key, task, interest, deadline)
    }));
    sched.release_fd(key);
    result.unwrap_or_else(|payload| panic::resume_unwind(payload))
}

/// Whether `fd` is ready for `interest` right now (`poll` with timeout 0).
pub(crate) fn poll_now(fd: RawFd, interest: Interest) -> io::Result<bool> {
    match poll_fd(fd, interest, Some(Instant::now())) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(false),
        Err(e) => Err(e),
    }
}

/// Blocks the thread in `poll(2)` until `fd` is ready or `deadline`.
fn poll_fd(fd: RawFd, interest: Interest, deadline: Option<Instant>) -> io::Result<()> {
    let mut events = 0;
    if interest.is_readable() {
        events |= libc::POLLIN;
    }
    if interest.is_writable() {
        events |= libc::POLLOUT;
    }
    let mut polled = false;
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() && polled {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        polled = true;
        // SAFETY: one live pollfd for the duration of the call.
        match syscall!(poll(&mut pfd, 1, ms)) {
            Ok(0) => continue, // the deadline check above decides
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// An fd's registration with a worker's epoll, made on the first call that
/// would block. Owners must drop it before closing the fd.
#[derive(Debug)]
pub(crate) struct Registration {
    fd: RawFd,
    /// The scheduler it is registered with (by id) and its key there.
    reg: Cell<Option<(u64, Key)>>,
}

impl Registration {
    pub(crate) fn new(fd: RawFd) -> Registration {
        Registration {
            fd,
            reg: Cell::new(None),
        }
    }

    /// Runs the non-blocking `op` until it does not fail with `WouldBlock`,
    /// waiting for `interest` between attempts; after `timeout` (counted
    /// from the first wait) fails with `TimedOut`. `EINTR` retries.
    ///
    /// `drained(&value)` tells from a success that the fd is now drained
    /// for `interest` (a short read or write on a stream socket: the kernel
    /// had no more data, or no more room). Inside a task the readiness bit
    /// is then cleared at once, and the next call waits for a new edge
    /// instead of making a system call only to get `EAGAIN`; any data or
    /// room that comes after the call raises a new edge, so nothing is
    /// missed (mio and tokio rely on the same rule for epoll).
    pub(crate) fn io<T>(
        &self,
        interest: Interest,
        timeout: Option<Duration>,
        op: impl FnMut() -> io::Result<T>,
        drained: impl Fn(&T) -> bool,
    ) -> io::Result<T> {
        with_task(|task| match task {
            Some((sched, task)) => self.io_in_task(sched, task, interest, timeout, op, drained),
            None => self.outside_task(interest, || {
                blocking_io(self.fd, interest, || timeout.and_then(deadline_after), op)
            }),
        })
    }

    fn io_in_task<T>(
        &self,
        sched: &Scheduler,
        task: Key,
        interest: Interest,
        timeout: Option<Duration>,
        mut op: impl FnMut() -> io::Result<T>,
        drained: impl Fn(&T) -> bool,
    ) -> io::Result<T> {
        let mut deadline = None;
        loop {
            if !self.known_unready(sched, interest) {
                match op() {
                    Ok(v) => {
                        if drained(&v) {
                            self.clear(sched, interest);
                        }
                        return Ok(v);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            let deadline = *deadline.get_or_insert_with(|| timeout.and_then(deadline_after));
            let key = self.key(sched)?;
            sched.clear_ready(key, interest);
            sched.wait_ready(key, task, interest, deadline)?;
        }
    }

    /// Runs `op` once (`WouldBlock` without a system call if, inside a
    /// task, the fd is known to be drained); a `WouldBlock`, or a success
    /// `drained` calls final, clears the readiness bit, so a later
    /// [`ready`](Self::ready) waits for a new edge.
    pub(crate) fn try_io<T>(
        &self,
        interest: Interest,
        op: impl FnOnce() -> io::Result<T>,
        drained: impl Fn(&T) -> bool,
    ) -> io::Result<T> {
        with_task(|task| {
            let Some((sched, _)) = task else {
                return self.outside_task(interest, op);
            };
            if self.known_unready(sched, interest) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let result = op();
            let clear = match &result {
                Ok(v) => drained(v),
                Err(e) => e.kind() == io::ErrorKind::WouldBlock,
            };
            if clear {
                self.clear(sched, interest);
            }
            result
        })
    }

    /// Runs `op` for a caller outside the task (see the module docs): if
    /// the fd is registered with this thread's running scheduler, the bits
    /// for `interest` are set afterwards.
    fn outside_task<T>(&self, interest: Interest, op: impl FnOnce() -> T) -> T {
        let result = op();
        with_scheduler(|sched| {
            if let Some(sched) = sched {
                if let Some(key) = self.key_with(sched) {
                    sched.mark_ready(key, interest);
                }
            }
        });
        result
    }

    /// Our key with `sched`, if the fd is registered there.
    fn key_with(&self, sched: &Scheduler) -> Option<Key> {
        match self.reg.get() {
            Some((id, key)) if id == sched.id() => Some(key),
            _ => None,
        }
    }

    /// Registered with `sched` and its bit for `interest` is clear: a call
    /// would get `EAGAIN`.
    fn known_unready(&self, sched: &Scheduler, interest: Interest) -> bool {
        self.key_with(sched)
            .is_some_and(|key| sched.is_ready(key, interest) == Some(false))
    }

    /// Clears the readiness bit for `interest`, if registered with `sched`.
    fn clear(&self, sched: &Scheduler, interest: Interest) {
        if let Some(key) = self.key_with(sched) {
            sched.clear_ready(key, interest);
        }
    }

    /// Waits until the fd may be ready for `interest`: at once if the
    /// readiness bit is set (no `EAGAIN` seen since the last edge), else
    /// until the next edge or `timeout` (`TimedOut`).
    pub(crate) fn ready(&self, interest: Interest, timeout: Option<Duration>) -> io::Result<()> {
        let deadline = timeout.and_then(deadline_after);
        with_task(|task| match task {
            Some((sched, task)) => {
                let key = self.key(sched)?;
                sched.wait_ready(key, task, interest, deadline)
            }
            None => poll_fd(self.fd, interest, deadline),
        })
    }

    /// The key with `sched`, registering now if needed.
    fn key(&self, sched: &Scheduler) -> io::Result<Key> {
        match self.key_with(sched) {
            Some(key) => Ok(key),
            None => {
                let key = sched.register(self.fd)?;
                self.reg.set(Some((sched.id(), key)));
                Ok(key)
            }
        }
    }
}

/// I/O outside a task ([`Registration::io`], the raw fds of `raw_io.rs`):
/// every attempt is a system call, and the thread blocks in `poll(2)`
/// between them, until the deadline `deadline()` gives (asked once, at the
/// first wait; `None`: no limit).
pub(crate) fn blocking_io<T>(
    fd: RawFd,
    interest: Interest,
    deadline: impl FnOnce() -> Option<Instant>,
    mut op: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    let mut deadline = Some(deadline);
    let mut at = None;
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            done => return done,
        }
        if let Some(first) = deadline.take() {
            at = first();
        }
        poll_fd(fd, interest, at)?;
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        with_scheduler(|sched| {
            if let Some(sched) = sched {
                if let Some(key) = self.key_with(sched) {
                    sched.deregister(key);
                }
            }
        });
    }
}
