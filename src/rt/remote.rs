//! A worker's mailbox for other threads: the only way into a scheduler from
//! outside its own thread.
//!
//! A coroutine never leaves its thread, so another thread cannot touch a
//! worker's tasks; it posts a [`Message`] instead (spawn this, wake that
//! task, shut down). Posting pushes onto a mutex-guarded vector and sets
//! `notified`, which the worker reads every loop turn; if the worker was
//! not already notified and is asleep in `epoll_wait`, the poster also
//! writes its `eventfd`, which that epoll watches, so the worker wakes and
//! drains the mailbox. A worker that is awake (running tasks, or spinning
//! briefly for mail before it sleeps) costs its posters no system call:
//!
//! * poster: push under the lock;
//!   `if !notified.swap(true) && sleeping { write(eventfd) }`
//! * worker, every loop turn: `if notified.swap(false) { drain under the lock }`
//! * worker, before a blocking `epoll_wait`: `sleeping = true`, then
//!   `if notified { don't block }`; after it: `sleeping = false`.
//!
//! A message pushed before the worker's drain is drained by it; one pushed
//! after finds `notified == false`. Then either the worker, about to
//! sleep, sees `notified` and does not block, or the poster sees
//! `sleeping` and writes the eventfd, so the `epoll_wait` returns at once:
//! the two flags are stored, then the other one loaded, all sequentially
//! consistent, so at least one side sees the other's store. No message
//! waits for an unrelated event.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    /// The worker is in (or about to enter) a blocking `epoll_wait`.
    sleeping: AtomicBool,
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
            sleeping: AtomicBool::new(false),
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
        if !self.notified.swap(true, Ordering::SeqCst) && self.sleeping.load(Ordering::SeqCst) {
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
        if self.has_mail() && self.notified.swap(false, Ordering::AcqRel) {
            let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
            into.append(&mut inbox.messages);
        }
    }

    /// Whether mail is waiting (the worker's side): one plain load.
    #[inline]
    pub(crate) fn has_mail(&self) -> bool {
        self.notified.load(Ordering::Relaxed)
    }

    /// Spins until mail arrives or `budget` has passed (the worker's side,
    /// idle, having heard from another thread just now: the next message
    /// is likely close, and catching it awake spares the poster its
    /// eventfd write and this worker its sleep and wake-up). Whether mail
    /// came.
    pub(crate) fn spin_for_mail(&self, budget: Duration) -> bool {
        let start = Instant::now();
        loop {
            for _ in 0..64 {
                if self.has_mail() {
                    return true;
                }
                std::hint::spin_loop();
            }
            if start.elapsed() >= budget {
                return self.has_mail();
            }
        }
    }

    /// The worker is about to block in `epoll_wait`: `false` if mail came
    /// meanwhile, and it must not block (see the module docs). Every `true`
    /// is followed by [`woke`](Self::woke) once the wait returns.
    pub(crate) fn going_to_sleep(&self) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        if self.notified.load(Ordering::SeqCst) {
            self.sleeping.store(false, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// The worker's blocking `epoll_wait` returned. (A poster that still
    /// reads `sleeping` writes the eventfd needlessly: a spurious wake.)
    pub(crate) fn woke(&self) {
        self.sleeping.store(false, Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::thread;

    use super::{Message, Remote};

    /// Each post comes right after the worker drained the last one, as it
    /// heads for its sleep: either it sees the post and does not block, or
    /// the poster sees it asleep and writes the eventfd. A wait on the
    /// eventfd that times out with a post pending is a lost wake-up.
    #[test]
    fn a_post_racing_the_workers_sleep_always_wakes_it() {
        const POSTS: usize = 50_000;
        let remote = Arc::new(Remote::new().expect("a mailbox"));
        let drained = Arc::new(AtomicUsize::new(0));
        let worker = {
            let (remote, drained) = (remote.clone(), drained.clone());
            thread::spawn(move || {
                let (mut got, mut messages, mut stalls) = (0, Vec::new(), 0);
                while got < POSTS {
                    remote.take(&mut messages);
                    got += messages.drain(..).count();
                    drained.store(got, Ordering::Release);
                    // The rest of a loop turn, of varying length: the next
                    // post lands before, during and after the handshake.
                    for _ in 0..(got % 16) * 32 {
                        std::hint::spin_loop();
                    }
                    if got < POSTS && remote.going_to_sleep() {
                        let mut fd = libc::pollfd {
                            fd: remote.eventfd(),
                            events: libc::POLLIN,
                            revents: 0,
                        };
                        // SAFETY: one live pollfd, for the call's duration.
                        let ready = unsafe { libc::poll(&mut fd, 1, 200) };
                        remote.woke();
                        if ready == 0 {
                            stalls += 1;
                        } else {
                            remote.clear_eventfd();
                        }
                    }
                }
                stalls
            })
        };
        for posted in 1..=POSTS {
            remote.send(Message::Shutdown(None));
            while drained.load(Ordering::Acquire) < posted {
                std::hint::spin_loop();
            }
        }
        assert_eq!(worker.join().expect("the worker"), 0, "lost wake-ups");
    }
}
