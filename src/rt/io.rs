//! Waiting for fds: [`Interest`], [`wait_fd`], and the registration that
//! every network type embeds.
//!
//! Inside a task, a call that would block registers its fd with the
//! worker's epoll (once, on the first `EAGAIN`), clears the readiness bit it
//! found stale, and parks the task until the loop sets that bit again (see
//! the scheduler's docs for why no wake-up can be lost). Outside any task
//! (a plain thread, or a coroutine the task created itself) the same call
//! waits with `poll(2)` instead, blocking that thread: the types work
//! everywhere, and only tasks get the cheap wait.

use std::cell::Cell;
use std::io;
use std::ops::BitOr;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::scheduler::{current_task, Scheduler};
use super::slab::Key;
use super::syscall::syscall;
use super::timer::deadline_after;

/// Which direction of an fd to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interest(u8);

impl Interest {
    /// Data (or EOF, or an error) to read; a connection to accept.
    pub const READABLE: Interest = Interest(1);
    /// Room to write; a connect that completed.
    pub const WRITABLE: Interest = Interest(2);

    /// Whether this includes [`READABLE`](Self::READABLE).
    pub fn is_readable(self) -> bool {
        self.0 & 1 != 0
    }

    /// Whether this includes [`WRITABLE`](Self::WRITABLE).
    pub fn is_writable(self) -> bool {
        self.0 & 2 != 0
    }
}

impl BitOr for Interest {
    type Output = Interest;
    /// Either direction: the wait ends when one of them is ready.
    fn bitor(self, rhs: Interest) -> Interest {
        Interest(self.0 | rhs.0)
    }
}

/// Waits until `fd` is ready for `interest` (either direction, if both),
/// or fails with [`io::ErrorKind::TimedOut`] after `timeout`.
///
/// The semantics are level-triggered: it returns at once if the fd is
/// ready now (data already buffered, say), whatever edges came before.
///
/// Inside a task only the task waits; elsewhere the thread blocks in
/// `poll(2)`. The fd stays owned by the caller; inside a task it is
/// registered for the duration of the call only (shared by the tasks of the
/// worker that wait on it at the same time), so it must not be an fd that a
/// jmpco type of this worker already holds (`EEXIST`), and must not be
/// closed while a task waits on it.
pub fn wait_fd(fd: RawFd, interest: Interest, timeout: Option<Duration>) -> io::Result<()> {
    let deadline = timeout.and_then(deadline_after);
    // Level semantics: an fd that is ready now needs no registration.
    if poll_now(fd, interest)? {
        return Ok(());
    }
    match current_task() {
        Some((sched, task)) => {
            // Hold no `Rc` across the suspension: see `wait_in_task`.
            let sched: *const Scheduler = Rc::as_ptr(&sched);
            // SAFETY: this thread's scheduler, whose loop is running (we
            // are in one of its tasks), and `CURRENT` keeps it alive for as
            // long as the loop runs, which covers this call.
            wait_in_task(unsafe { &*sched }, task, fd, interest, deadline)
        }
        None => poll_fd(fd, interest, deadline),
    }
}

/// [`wait_fd`]'s wait inside the current task `task` of `sched`, for an fd
/// that `poll` just found not ready.
///
/// Nothing on this frame needs dropping across the suspension (a plain
/// reference, keys, `Copy` values), so a C task parked here can be
/// abandoned rather than unwound.
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
    let result = sched.wait_ready(key, task, interest, deadline);
    sched.release_fd(fd);
    result
}

/// Whether `fd` is ready for `interest` right now (`poll` with timeout 0).
fn poll_now(fd: RawFd, interest: Interest) -> io::Result<bool> {
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
    /// had no more data, or no more room). The readiness bit is then cleared
    /// at once, and the next call waits for a new edge instead of making a
    /// system call only to get `EAGAIN`; any data or room that comes after
    /// the call raises a new edge, so nothing is missed (mio and tokio rely
    /// on the same rule for epoll).
    pub(crate) fn io<T>(
        &self,
        interest: Interest,
        timeout: Option<Duration>,
        mut op: impl FnMut() -> io::Result<T>,
        drained: impl Fn(&T) -> bool,
    ) -> io::Result<T> {
        let mut deadline = None;
        loop {
            if !self.known_unready(interest) {
                match op() {
                    Ok(v) => {
                        if drained(&v) {
                            self.clear(interest);
                        }
                        return Ok(v);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            if deadline.is_none() {
                deadline = Some(timeout.and_then(deadline_after));
            }
            self.wait(interest, deadline.flatten())?;
        }
    }

    /// Runs `op` once (`WouldBlock` without a system call if the fd is
    /// known to be drained); a `WouldBlock`, or a success `drained` calls
    /// final, clears the readiness bit, so a later [`ready`](Self::ready)
    /// waits for a new edge.
    pub(crate) fn try_io<T>(
        &self,
        interest: Interest,
        op: impl FnOnce() -> io::Result<T>,
        drained: impl Fn(&T) -> bool,
    ) -> io::Result<T> {
        if self.known_unready(interest) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let result = op();
        let clear = match &result {
            Ok(v) => drained(v),
            Err(e) => e.kind() == io::ErrorKind::WouldBlock,
        };
        if clear {
            self.clear(interest);
        }
        result
    }

    /// The scheduler this fd is registered with, if it is this thread's.
    fn here(&self) -> Option<(Rc<Scheduler>, Key)> {
        let (id, key) = self.reg.get()?;
        let sched = Scheduler::current()?;
        (sched.id() == id).then_some((sched, key))
    }

    /// Registered here and its bit for `interest` is clear: a call would
    /// get `EAGAIN`.
    fn known_unready(&self, interest: Interest) -> bool {
        self.here()
            .is_some_and(|(sched, key)| sched.is_ready(key, interest) == Some(false))
    }

    /// Clears the readiness bit for `interest`, if registered here.
    fn clear(&self, interest: Interest) {
        if let Some((sched, key)) = self.here() {
            sched.clear_ready(key, interest);
        }
    }

    /// Waits until the fd may be ready for `interest`: at once if the
    /// readiness bit is set (no `EAGAIN` seen since the last edge), else
    /// until the next edge or `timeout` (`TimedOut`).
    pub(crate) fn ready(&self, interest: Interest, timeout: Option<Duration>) -> io::Result<()> {
        let deadline = timeout.and_then(deadline_after);
        let Some((sched, task)) = current_task() else {
            return poll_fd(self.fd, interest, deadline);
        };
        let key = self.key(&sched)?;
        sched.wait_ready(key, task, interest, deadline)
    }

    /// The op saw `EAGAIN`: wait until `interest` is ready again.
    fn wait(&self, interest: Interest, deadline: Option<Instant>) -> io::Result<()> {
        let Some((sched, task)) = current_task() else {
            return poll_fd(self.fd, interest, deadline);
        };
        let key = self.key(&sched)?;
        sched.clear_ready(key, interest);
        sched.wait_ready(key, task, interest, deadline)
    }

    /// The key with `sched`, registering now if needed.
    fn key(&self, sched: &Rc<Scheduler>) -> io::Result<Key> {
        match self.reg.get() {
            Some((id, key)) if id == sched.id() => Ok(key),
            _ => {
                let key = sched.register(self.fd)?;
                self.reg.set(Some((sched.id(), key)));
                Ok(key)
            }
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some((id, key)) = self.reg.get() {
            if let Some(sched) = Scheduler::current() {
                if sched.id() == id {
                    sched.deregister(key);
                }
            }
        }
    }
}
