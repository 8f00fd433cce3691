//! The only file of the study that calls `epoll_*`: a small [`Epoll`] with
//! `add`/`modify`/`delete`/`wait`, a `u64` token riding in each event (as in
//! mio's selector).
//!
//! Contract of the users (the `sync` and `thread-pool` echo servers and the
//! load client): level-triggered unless they pass `EPOLLET`; with `EPOLLET`
//! they drain until `WouldBlock`, since an edge is reported once.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::check;

pub use libc::{EPOLLERR, EPOLLET, EPOLLHUP, EPOLLIN, EPOLLONESHOT, EPOLLOUT, EPOLLRDHUP};

/// An epoll instance; closed on drop. `Sync`: the kernel serialises
/// `epoll_ctl` and `epoll_wait` on one instance, which the thread pool uses
/// (workers re-arm while the dispatcher waits).
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

/// Events filled in by [`Epoll::wait`].
pub struct Events {
    buf: Vec<libc::epoll_event>,
    len: usize,
}

impl Events {
    /// Room for `capacity` events per wait.
    pub fn with_capacity(capacity: usize) -> Events {
        Events {
            buf: vec![libc::epoll_event { events: 0, u64: 0 }; capacity.max(1)],
            len: 0,
        }
    }

    /// The `(token, event bits)` of the last wait.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.buf[..self.len].iter().map(|e| (e.u64, e.events))
    }
}

impl Epoll {
    /// A new epoll instance (close-on-exec).
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointers.
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        Ok(Epoll {
            // SAFETY: `fd` was just returned by the kernel and is owned by no one else.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: libc::c_int, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: events as u32,
            u64: token,
        };
        // SAFETY: `event` is a valid epoll_event for the duration of the call;
        // a bad fd is reported as an error.
        check(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut event) })?;
        Ok(())
    }

    /// Watches `fd` for `events` (`EPOLLIN | EPOLLET`, ...), reporting `token`.
    pub fn add(&self, fd: RawFd, events: libc::c_int, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, token)
    }

    /// Changes what `fd` is watched for; re-arms an `EPOLLONESHOT` fd.
    pub fn modify(&self, fd: RawFd, events: libc::c_int, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, events, token)
    }

    /// Stops watching `fd`.
    pub fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// Waits for events (at most `timeout`, forever if `None`) and returns how
    /// many arrived; an interrupted wait returns 0.
    pub fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
        let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as libc::c_int);
        // SAFETY: the buffer holds `buf.len()` writable epoll_events.
        let rc = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                events.buf.as_mut_ptr(),
                events.buf.len() as libc::c_int,
                ms,
            )
        };
        events.len = match check(rc) {
            Ok(n) => n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        Ok(events.len)
    }
}

/// Blocks until `fd` is writable (or in error): for a worker whose
/// non-blocking write hit a full socket buffer.
pub fn wait_writable(fd: RawFd) -> io::Result<()> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    loop {
        // SAFETY: `pfd` is one valid pollfd for the duration of the call.
        match check(unsafe { libc::poll(&mut pfd, 1, -1) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other.map(drop),
        }
    }
}
