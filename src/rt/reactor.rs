//! The reactor: one worker's epoll selector, the fds registered with it,
//! their readiness, and who waits on them.
//!
//! It knows nothing of tasks. A *waiter* is a [`Key`] the caller hands in;
//! whenever a direction a waiter waits for may have turned ready, the
//! reactor hands the key back to the caller's `wake` (the scheduler's,
//! which puts the task on its ready queue). The scheduler above owns one
//! reactor and drives it: `wait` for events, `dispatch` each.
//!
//! # Readiness and the lost-wakeup window
//! Every fd is registered once, edge-triggered, for both directions. An
//! edge is reported once, possibly while no task waits (the reader is busy
//! writing, say). So the reactor records it: each registered fd has a
//! `readable` and a `writable` bit, *set* by events and *cleared* only by
//! the task that saw `EAGAIN`. A task that gets `EAGAIN` clears the bit,
//! then waits only while the bit stays clear. The window between the
//! `EAGAIN` and the suspension is closed twice over: an edge that came
//! before the `EAGAIN` concerns data the failed call already looked for,
//! and one that comes after is queued in the kernel until this thread's
//! next `epoll_wait`, which cannot run before the task has suspended (it is
//! the same thread); the event then finds the task registered as a waiter.
//! Readers and writers of one fd wait on separate bits and separate waiter
//! lists, so neither steals the other's wake-up.
//!
//! A short read or write also clears the bit (the kernel had no more data,
//! or no more room; any that comes later raises a new edge), which saves
//! the system call that would only return `EAGAIN`. That rule fails at EOF:
//! after the peer's FIN, a short read is followed by a read of 0, and no
//! new edge comes. So "closed" (`EPOLLRDHUP`, `EPOLLHUP`, `EPOLLERR`) is
//! kept in separate, sticky bits that nothing clears.
//!
//! # Fds and their numbers
//! The kernel keys an epoll registration by the open file, but reports and
//! deletes it by fd number, and numbers are reused as soon as they are
//! closed. So the reactor records which source owns each number
//! (`owners`). A source whose fd was closed behind its back (a caller's
//! breach) is found out when its number is registered again, and then
//! forgotten without an `epoll_ctl` on the number, which is no longer its
//! own; its waiters wake to find it gone. A stale waiter can never delete
//! another fd's registration.
//!
//! # Borrows
//! Every method borrows the tables only for its own duration, and `wake`
//! never calls back into the reactor (the scheduler's touches tasks and
//! the ready queue), so waiters are woken while the tables are borrowed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::ops::BitOr;
use std::os::fd::RawFd;
use std::time::Duration;

use super::arena::{Arena, Key};
use super::epoll::{Event, Events, Selector, Token};

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

/// The token of the mailbox's eventfd (no arena key packs to this value).
pub(crate) const MAILBOX: Token = Token(u64::MAX);

/// What one event was about.
pub(crate) enum Polled {
    /// The mailbox's eventfd: messages from other threads.
    Mailbox,
    /// A registered fd (or a stale event for one deregistered since).
    Fd(Event),
}

/// A registered fd: readiness bits and who waits for each direction.
struct Source {
    fd: RawFd,
    readable: bool,
    writable: bool,
    /// Sticky: EOF or an error is pending, so reads never block again
    /// (even after a short read has cleared `readable`).
    read_closed: bool,
    /// Sticky: a hang-up or an error; writes never block again.
    write_closed: bool,
    readers: Vec<Key>,
    writers: Vec<Key>,
}

impl Source {
    fn ready(&self, interest: Interest) -> bool {
        (interest.is_readable() && (self.readable || self.read_closed))
            || (interest.is_writable() && (self.writable || self.write_closed))
    }

    /// Sets the bits for `interest` and hands that direction's waiters to
    /// `wake`.
    fn set_ready(&mut self, interest: Interest, wake: &mut impl FnMut(Key)) {
        if interest.is_readable() {
            self.readable = true;
            self.readers.drain(..).for_each(&mut *wake);
        }
        if interest.is_writable() {
            self.writable = true;
            self.writers.drain(..).for_each(&mut *wake);
        }
    }
}

/// A registration in use by waits on a raw fd.
struct FdWait {
    key: Key,
    /// Calls waiting on it now.
    users: usize,
    /// Made by the waits (deregistered by the last), or borrowed from the
    /// socket that holds the fd (a jmpco stream's, left alone).
    own: bool,
}

/// What [`Reactor::wait_for`] found.
pub(crate) enum Await {
    /// The fd is ready (or closed) for the interest: no need to wait.
    Ready,
    /// The waiter is recorded; park it.
    Recorded,
    /// No such registration: the fd was deregistered, or closed behind its
    /// back, while the caller waited.
    Gone,
}

/// One worker's selector and registered fds.
pub(crate) struct Reactor {
    selector: Selector,
    sources: RefCell<Arena<Source>>,
    /// Which source holds the epoll registration of each fd number (see
    /// the module docs).
    owners: RefCell<HashMap<RawFd, Key>>,
    /// The registrations [`wait_fd`](super::wait_fd) (and a select's fd
    /// readiness) wait on, shared by the calls waiting on the same fd at
    /// once.
    fd_waits: RefCell<HashMap<RawFd, FdWait>>,
}

impl Reactor {
    /// A reactor whose selector also watches `mailbox` (an eventfd),
    /// reported as [`Polled::Mailbox`].
    pub(crate) fn new(mailbox: RawFd) -> io::Result<Reactor> {
        let selector = Selector::new()?;
        selector.add(mailbox, MAILBOX)?;
        Ok(Reactor {
            selector,
            sources: RefCell::new(Arena::new()),
            owners: RefCell::new(HashMap::new()),
            fd_waits: RefCell::new(HashMap::new()),
        })
    }

    /// Waits up to `timeout` (`None`: forever) for events into `events`.
    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        self.selector.wait(events, timeout)
    }

    /// Sorts one event from [`wait`](Self::wait).
    pub(crate) fn classify(event: Event) -> Polled {
        if event.token == MAILBOX {
            Polled::Mailbox
        } else {
            Polled::Fd(event)
        }
    }

    /// Records an fd event's readiness and hands the waiters of each
    /// direction it concerns to `wake`.
    pub(crate) fn dispatch(&self, event: Event, mut wake: impl FnMut(Key)) {
        let mut sources = self.sources.borrow_mut();
        let Some(s) = sources.get_mut(Key::from_u64(event.token.0)) else {
            return; // deregistered since: a stale event
        };
        s.read_closed |= event.read_closed;
        s.write_closed |= event.write_closed;
        if event.readable {
            s.set_ready(Interest::READABLE, &mut wake);
        }
        if event.writable {
            s.set_ready(Interest::WRITABLE, &mut wake);
        }
    }

    /// Registers `fd` (both directions, edge-triggered); the key names it
    /// until [`deregister`](Self::deregister). Readiness starts unknown
    /// (clear); the kernel reports the current state as a first event. A
    /// stale source found under the same number is forgotten, its waiters
    /// handed to `wake`.
    pub(crate) fn register(&self, fd: RawFd, wake: impl FnMut(Key)) -> io::Result<Key> {
        let key = self.sources.borrow_mut().insert_with(|_| Source {
            fd,
            readable: false,
            writable: false,
            read_closed: false,
            write_closed: false,
            readers: Vec::new(),
            writers: Vec::new(),
        });
        if let Err(e) = self.selector.add(fd, Token(key.to_u64())) {
            self.sources.borrow_mut().remove(key);
            return Err(e);
        }
        // The kernel took the number, so any source still recorded under it
        // lost its fd to a close: its registration went with the file.
        let stale = self.owners.borrow_mut().insert(fd, key);
        if let Some(stale) = stale {
            self.forget(stale, wake);
        }
        Ok(key)
    }

    /// A registration of `fd` for a [`wait_fd`](super::wait_fd) call:
    /// shared with the calls already waiting on it, made if there are none.
    /// Pair with [`release_fd`](Self::release_fd).
    /// If the fd is registered already (a jmpco socket of this worker holds
    /// it), the waits share that registration and leave it to its owner.
    pub(crate) fn acquire_fd(&self, fd: RawFd, mut wake: impl FnMut(Key)) -> io::Result<Key> {
        let shared = self.fd_waits.borrow().get(&fd).map(|w| w.key);
        if let Some(key) = shared {
            // Still the same file? If the fd was closed (and maybe its number
            // reused) since, the kernel no longer knows the registration.
            if self.selector.modify(fd, Token(key.to_u64())).is_ok() {
                if let Some(w) = self.fd_waits.borrow_mut().get_mut(&fd) {
                    w.users += 1;
                }
                return Ok(key);
            }
            self.fd_waits.borrow_mut().remove(&fd);
            self.forget(key, &mut wake);
        }
        let held = self.owners.borrow().get(&fd).copied();
        if let Some(key) = held {
            if self.selector.modify(fd, Token(key.to_u64())).is_ok() {
                let wait = FdWait {
                    key,
                    users: 1,
                    own: false,
                };
                self.fd_waits.borrow_mut().insert(fd, wait);
                return Ok(key);
            }
            self.forget(key, &mut wake);
        }
        let key = self.register(fd, wake)?;
        let wait = FdWait {
            key,
            users: 1,
            own: true,
        };
        self.fd_waits.borrow_mut().insert(fd, wait);
        Ok(key)
    }

    /// Ends one [`acquire_fd`](Self::acquire_fd) that returned `key`; the
    /// last one deregisters. Nothing happens if the registration has been
    /// forgotten meanwhile (its fd was closed).
    pub(crate) fn release_fd(&self, key: Key, wake: impl FnMut(Key)) {
        let Some(fd) = self.sources.borrow().get(key).map(|s| s.fd) else {
            return;
        };
        let last_own = {
            let mut waits = self.fd_waits.borrow_mut();
            match waits.get_mut(&fd) {
                Some(w) if w.key == key && w.users <= 1 => {
                    let own = w.own;
                    waits.remove(&fd);
                    own
                }
                Some(w) if w.key == key => {
                    w.users -= 1;
                    false
                }
                _ => false,
            }
        };
        if last_own {
            self.deregister(key, wake);
        }
    }

    /// Drops the registration and hands its waiters to `wake` (they find
    /// it gone). The epoll registration is deleted only if the fd number
    /// is still this source's (see the module docs).
    pub(crate) fn deregister(&self, key: Key, wake: impl FnMut(Key)) {
        self.remove_source(key, true, wake);
    }

    /// Forgets a source whose fd was closed behind its back, without an
    /// `epoll_ctl`: the number is no longer its own.
    fn forget(&self, key: Key, wake: impl FnMut(Key)) {
        self.remove_source(key, false, wake);
    }

    /// Removes the source, its fd ownership and any wait that borrowed it,
    /// and hands its waiters to `wake`; deletes its epoll registration if
    /// `delete` and the fd number is still its own.
    fn remove_source(&self, key: Key, delete: bool, wake: impl FnMut(Key)) {
        let Some(source) = self.sources.borrow_mut().remove(key) else {
            return;
        };
        let owned = {
            let mut owners = self.owners.borrow_mut();
            let owned = owners.get(&source.fd) == Some(&key);
            if owned {
                owners.remove(&source.fd);
            }
            owned
        };
        if delete && owned {
            let _ = self.selector.delete(source.fd);
        }
        {
            // Waits that borrowed it find it gone.
            let mut waits = self.fd_waits.borrow_mut();
            if waits.get(&source.fd).is_some_and(|w| w.key == key) {
                waits.remove(&source.fd);
            }
        }
        source
            .readers
            .into_iter()
            .chain(source.writers)
            .for_each(wake);
    }

    /// Code outside the task (a coroutine nested in it) did I/O on the fd
    /// behind the readiness bits' back: set them for `interest`, so the
    /// next call asks the kernel, and hand that direction's waiters to
    /// `wake` to retry (at worst a spurious wake-up).
    pub(crate) fn mark_ready(&self, key: Key, interest: Interest, mut wake: impl FnMut(Key)) {
        if let Some(s) = self.sources.borrow_mut().get_mut(key) {
            s.set_ready(interest, &mut wake);
        }
    }

    /// Whether the readiness bit for `interest` is set (`None`: no such
    /// registration).
    pub(crate) fn is_ready(&self, key: Key, interest: Interest) -> Option<bool> {
        self.sources.borrow().get(key).map(|s| s.ready(interest))
    }

    /// The caller saw `EAGAIN` for `interest`: the bit is stale.
    pub(crate) fn clear_ready(&self, key: Key, interest: Interest) {
        if let Some(s) = self.sources.borrow_mut().get_mut(key) {
            if interest.is_readable() {
                s.readable = false;
            }
            if interest.is_writable() {
                s.writable = false;
            }
        }
    }

    /// Records `waiter` as waiting on registration `key` for `interest`,
    /// unless the fd is ready for it already (or the registration is gone).
    pub(crate) fn wait_for(&self, key: Key, waiter: Key, interest: Interest) -> Await {
        let mut sources = self.sources.borrow_mut();
        let Some(s) = sources.get_mut(key) else {
            return Await::Gone;
        };
        if s.ready(interest) {
            return Await::Ready;
        }
        if interest.is_readable() {
            s.readers.push(waiter);
        }
        if interest.is_writable() {
            s.writers.push(waiter);
        }
        Await::Recorded
    }

    /// Forgets `waiter` on registration `key` (it woke, or gave up).
    pub(crate) fn stop_waiting(&self, key: Key, waiter: Key) {
        if let Some(s) = self.sources.borrow_mut().get_mut(key) {
            s.readers.retain(|&k| k != waiter);
            s.writers.retain(|&k| k != waiter);
        }
    }
}
