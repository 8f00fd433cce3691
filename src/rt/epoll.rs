//! The only file that calls `epoll_*`: a small [`Selector`] after mio's.
//!
//! A selector is one epoll instance. Every fd is registered once, for both
//! directions, edge-triggered (`EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET`),
//! with a [`Token`] riding in `epoll_event.u64`. Edge-triggered means the
//! kernel reports a *change* to ready, once: whoever consumes the fd must
//! drain it until `EAGAIN` before waiting again, and must treat an event as
//! a hint (it may be spurious or stale). The scheduler keeps per-fd
//! readiness bits so an edge that arrives while nobody waits is not lost
//! (see `scheduler.rs`).

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use super::syscall::syscall;

/// What a registration or an event is about: an index into the scheduler's
/// table of fds (with a generation), or one of the reserved values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token(pub(crate) u64);

/// One epoll instance, closed on drop.
#[derive(Debug)]
pub(crate) struct Selector {
    ep: RawFd,
}

/// A buffer of events filled by [`Selector::wait`].
pub(crate) struct Events {
    buf: Vec<libc::epoll_event>,
    len: usize,
}

/// Readiness reported for one token.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    pub(crate) token: Token,
    /// Data, EOF, a hang-up or an error: a read will not block.
    pub(crate) readable: bool,
    /// Room, a hang-up or an error: a write will not block.
    pub(crate) writable: bool,
    /// The peer shut its side down (`EPOLLRDHUP`), a hang-up or an error:
    /// final, reads will never block again.
    pub(crate) read_closed: bool,
    /// A hang-up or an error: final, writes will never block again.
    pub(crate) write_closed: bool,
}

impl Events {
    /// Room for `capacity` events per wait.
    pub(crate) fn with_capacity(capacity: usize) -> Events {
        Events {
            buf: vec![libc::epoll_event { events: 0, u64: 0 }; capacity.max(1)],
            len: 0,
        }
    }

    /// The events of the last wait.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        self.buf[..self.len].iter().map(|e| {
            let bits = e.events as libc::c_int;
            let broken = bits & (libc::EPOLLHUP | libc::EPOLLERR) != 0;
            let read_closed = broken || bits & libc::EPOLLRDHUP != 0;
            Event {
                token: Token(e.u64),
                readable: read_closed || bits & (libc::EPOLLIN | libc::EPOLLPRI) != 0,
                writable: broken || bits & libc::EPOLLOUT != 0,
                read_closed,
                write_closed: broken,
            }
        })
    }
}

impl Selector {
    /// A new epoll instance (close-on-exec).
    pub(crate) fn new() -> io::Result<Selector> {
        // SAFETY: epoll_create1 takes only flags.
        let ep = syscall!(epoll_create1(libc::EPOLL_CLOEXEC))?;
        Ok(Selector { ep })
    }

    /// Waits up to `timeout` (`None`: forever) and fills `events`. A timeout
    /// is rounded *up* to whole milliseconds so a timer never fires early.
    /// An interrupted wait (`EINTR`) returns no events.
    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let ms = match timeout {
            None => -1,
            Some(t) => {
                let ms = t.as_nanos().div_ceil(1_000_000);
                ms.min(libc::c_int::MAX as u128) as libc::c_int
            }
        };
        events.len = 0;
        let cap = events.buf.len().min(libc::c_int::MAX as usize) as libc::c_int;
        // SAFETY: the buffer holds `cap` epoll_events and outlives the call.
        match syscall!(epoll_wait(self.ep, events.buf.as_mut_ptr(), cap, ms)) {
            Ok(n) => {
                events.len = n as usize;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Registers `fd` for both directions, edge-triggered.
    pub(crate) fn add(&self, fd: RawFd, token: Token) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_ADD, fd, token)
    }

    /// Re-arms `fd`'s registration with the same interest and `token`
    /// (`ENOENT` if this epoll does not hold the file open at `fd`: it was
    /// closed since, even if the number is in use again). An edge-triggered
    /// re-arm may report the current readiness as a new event.
    pub(crate) fn modify(&self, fd: RawFd, token: Token) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_MOD, fd, token)
    }

    fn control(&self, op: libc::c_int, fd: RawFd, token: Token) -> io::Result<()> {
        let bits = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET;
        let mut event = libc::epoll_event {
            events: bits as u32,
            u64: token.0,
        };
        // SAFETY: `event` is a valid epoll_event for the duration of the call.
        syscall!(epoll_ctl(self.ep, op, fd, &mut event)).map(drop)
    }

    /// Removes `fd`'s registration.
    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: EPOLL_CTL_DEL ignores the event pointer (null is allowed
        // since Linux 2.6.9).
        syscall!(epoll_ctl(
            self.ep,
            libc::EPOLL_CTL_DEL,
            fd,
            std::ptr::null_mut()
        ))
        .map(drop)
    }
}

impl Drop for Selector {
    fn drop(&mut self) {
        // SAFETY: we own `ep` and nothing uses it after this.
        let _ = syscall!(close(self.ep));
    }
}
