//! A worker's mailbox for other threads: the only way into a scheduler from
//! outside its own thread.
//!
//! A coroutine never leaves its thread, so another thread cannot touch a
//! worker's tasks; it posts a [`Message`] instead (spawn this, wake that
//! task, shut down). Posting pushes onto a mutex-guarded vector and, if the
//! worker was not already notified, writes its `eventfd`, which the
//! worker's epoll watches: a sleeping `epoll_wait` returns and the worker
//! drains the mailbox. The `notified` flag keeps that to one `write` per
//! batch:
//!
//! * poster: push under the lock; `if !notified.swap(true) { write(eventfd) }`
//! * worker, every loop turn: `if notified.swap(false) { drain under the lock }`
//!
//! A message pushed before the worker's swap is drained by it; one pushed
//! after finds `notified == false` and writes the eventfd, so the worker's
//! next `epoll_wait` returns at once. No message waits for an unrelated
//! event.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::arena::Key;
use super::syscall::syscall;

/// What another thread can ask of a worker.
pub(crate) enum Message {
    /// Run this on the worker's thread (outside any task): it spawns a task.
    Spawn(Box<dyn FnOnce() + Send>),
    /// Wake this task if it is parked.
    Wake(Key),
    /// Abort this task (see `Scheduler::abort`).
    Abort(Key),
    /// Stop accepting; cancel what is left at the deadline (`None`: wait
    /// for every task to end by itself).
    Shutdown(Option<Instant>),
}

/// A worker's mailbox and the eventfd that wakes it.
pub(crate) struct Remote {
    inbox: Mutex<Inbox>,
    notified: AtomicBool,
    eventfd: OwnedFd,
}

struct Inbox {
    messages: Vec<Message>,
    closed: bool,
}

impl Remote {
    pub(crate) fn new() -> io::Result<Remote> {
        // SAFETY: eventfd takes an initial count and flags.
        let fd = syscall!(eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC))?;
        Ok(Remote {
            inbox: Mutex::new(Inbox {
                messages: Vec::new(),
                closed: false,
            }),
            notified: AtomicBool::new(false),
            // SAFETY: eventfd just returned this fd and nothing else owns it.
            eventfd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// The fd the worker registers in its epoll.
    pub(crate) fn eventfd(&self) -> i32 {
        self.eventfd.as_raw_fd()
    }

    /// Posts `message`; dropped at once if the worker has exited (a dropped
    /// spawn reports its task as cancelled to its join handle).
    pub(crate) fn send(&self, message: Message) {
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        if inbox.closed {
            drop(inbox);
            drop(message);
            return;
        }
        inbox.messages.push(message);
        drop(inbox);
        if !self.notified.swap(true, Ordering::AcqRel) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our eventfd. It can
            // only fail with EAGAIN at a count near u64::MAX, when the worker
            // is being woken anyway.
            let _ = syscall!(write(
                self.eventfd.as_raw_fd(),
                std::ptr::from_ref(&one).cast(),
                8
            ));
        }
    }

    /// The worker's side: the messages posted since the last call, if any.
    /// Asked once per loop turn, so the common answer, none, costs one
    /// plain load: a flag set just after it is seen on the next turn (and
    /// its eventfd write wakes an idle loop).
    #[inline]
    pub(crate) fn take(&self, into: &mut Vec<Message>) {
        if self.notified.load(Ordering::Relaxed) && self.notified.swap(false, Ordering::AcqRel) {
            let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
            into.append(&mut inbox.messages);
        }
    }

    /// Resets the eventfd's counter after its event (the worker's side).
    pub(crate) fn clear_eventfd(&self) {
        let mut count: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64; EAGAIN (already zero) is fine.
        let _ = syscall!(read(
            self.eventfd.as_raw_fd(),
            std::ptr::from_mut(&mut count).cast(),
            8
        ));
    }

    /// The worker is gone: later messages are dropped, and so are pending
    /// ones (returned so they are dropped outside the lock).
    pub(crate) fn close(&self) -> Vec<Message> {
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        inbox.closed = true;
        std::mem::take(&mut inbox.messages)
    }
}
