//! Channels for C: `jmpco_chan`, a bounded MPMC queue of `void *` over
//! the runtime's channel (`crate::rt::channel`), usable by spawned
//! coroutines of any thread's scheduler, Rust tasks, and plain threads.
//!
//! One `jmpco_chan *` is both ends: it holds a `Sender` and a `Receiver`
//! of one channel, so the channel never disconnects by itself; it ends by
//! `jmpco_chan_close` (`Sender::close`). The handle is an `Arc`: every call
//! holds a counted reference for its whole length, which is how
//! `jmpco_chan_free` knows that a call is still inside (a waiter, or one
//! just woken and on its way out) and refuses instead of freeing memory
//! under it.
//!
//! The doc comments here become the header's documentation (cbindgen copies
//! them), so they are written for C programmers.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::types::{
    JMPCO_EBUSY, JMPCO_ECANCELED, JMPCO_ECLOSED, JMPCO_EINVAL, JMPCO_ENOTCORO, JMPCO_ETIMEDOUT,
    JMPCO_OK,
};
use super::{guard, stop_cancellation, stop_cancellation_or, timeout_from_ms};
use crate::rt::channel::{self, Failed, Receiver, Sender, TryRecvError, TrySendError};
use crate::rt::deadline_after;
use crate::rt::task::cancelling;

/// A message: the program's `void *`, carried as it is.
#[derive(Clone, Copy)]
struct Msg(*mut c_void);

// SAFETY: the library never dereferences, copies through or frees a
// message: it moves the pointer value from one thread to another, which is
// what the program asked for; what it points to is the program's business,
// as for any pointer it hands to another thread.
unsafe impl Send for Msg {}

/// A channel of `void *` messages between coroutines and threads: made by
/// `jmpco_chan_make`, freed by `jmpco_chan_free`. One handle serves every
/// sender and every receiver, on any thread (it is a many-to-many queue:
/// each message goes to exactly one receiver).
///
/// Messages come out in the order they went in; the library never reads,
/// copies or frees what they point to.
///
/// Who waits, and how, when a send finds the channel full or a receive
/// finds it empty:
/// * a coroutine started by `jmpco_spawn` parks: its thread runs its other
///   coroutines meanwhile (a hand-off between coroutines of one thread makes
///   no system call; one on another thread's scheduler is woken through
///   that scheduler's mailbox);
/// * a plain thread (code that does not run inside `jmpco_run`) blocks,
///   and so does a `jmpco_create` coroutine resumed there;
/// * a `jmpco_create` coroutine resumed *inside* a spawned coroutine cannot
///   wait: only the spawned coroutine could park, and blocking the thread
///   would stall its scheduler (for ever, if the other side runs there). A
///   call there that would have to wait returns `JMPCO_ENOTCORO` at once;
///   calls that need no wait (and every call with timeout 0) work there;
/// * a task of the Rust API (C code it called) parks like a spawned
///   coroutine; if it is cancelled meanwhile the call returns
///   `JMPCO_ECANCELED` (see `jmpco_chan_send`).
///
/// A spawned coroutine that is abandoned while it waits on a channel (its
/// stack freed without running it on: what a Rust runtime's worker does at
/// its shutdown to the C coroutines spawned on it from Rust tasks) leaves
/// its wait behind: its reference keeps `jmpco_chan_free` answering
/// `JMPCO_EBUSY` for good (the channel is leaked, and so is the wait's hold
/// on the worker's mailbox, an eventfd), and a message a sender hands to it
/// is lost with it. The channel still works, and closes, for the others.
pub struct jmpco_chan {
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
}

/// Makes a channel that holds up to `capacity` messages, and stores it in
/// `*out`. A capacity of 0 makes a rendezvous channel: a send waits until a
/// receiver takes its message from its hand (and a receive until a sender
/// comes). The buffer grows with what is queued, up to `capacity`; nothing
/// is allocated for it up front, so a huge capacity (`SIZE_MAX`) is a
/// channel whose sends never wait, limited by memory only.
///
/// Returns `JMPCO_OK`; `JMPCO_EINVAL` if `out` is NULL. (The channel is a
/// small block of memory; if even that cannot be allocated the process
/// aborts with a message, as on any small allocation of this library.)
///
/// # Safety
/// `out` is NULL or points to writable storage for a `jmpco_chan *`.
#[no_mangle]
pub unsafe extern "C" fn jmpco_chan_make(capacity: usize, out: *mut *mut jmpco_chan) -> c_int {
    guard("jmpco_chan_make", || {
        let Some(out) = NonNull::new(out) else {
            return JMPCO_EINVAL;
        };
        let (tx, rx) = channel::bounded(capacity);
        let handle = Arc::into_raw(Arc::new(jmpco_chan { tx, rx })).cast_mut();
        // SAFETY: non-null and writable (the caller's contract).
        unsafe { out.as_ptr().write(handle) };
        JMPCO_OK
    })
}

/// Sends `value`: into the buffer if it has room (straight to the oldest
/// waiting receiver if one waits), else waits for room (on a rendezvous
/// channel: for a receiver to take it) for up to `timeout_ms` milliseconds
/// (-1: no limit; 0: do not wait, only try). See `jmpco_chan` for who
/// parks and who blocks.
///
/// Only `JMPCO_OK` sends: after every other outcome the message was not
/// sent, and `value` is still the caller's.
///
/// Returns `JMPCO_OK`; `JMPCO_ETIMEDOUT` if no room came in time (at once,
/// for timeout 0 on a full channel, or a rendezvous channel with no
/// receiver waiting); `JMPCO_ECLOSED` if the channel is closed, or is closed
/// while the call waits; `JMPCO_EINVAL` if `ch` is NULL or `timeout_ms` is
/// below -1; `JMPCO_ENOTCORO` if it would have to wait in a `jmpco_create`
/// coroutine resumed inside a spawned coroutine; `JMPCO_ECANCELED` if the
/// calling task is being cancelled (`jmpco_cancel`, or a Rust task's
/// cancellation), as for `jmpco_wait_fd`: even a send that would not wait,
/// timeout 0 included, then sends nothing. (One exception, since a sent
/// message cannot be taken back: a waiting send whose message a receiver
/// took in the turn the cancel came, before the task ran again, returns
/// `JMPCO_OK`: it was sent. The task's next call fails. The same holds in
/// C code a Rust task called, for its cancellation and for an
/// `rt::timeout` deadline that passed in that turn.)
///
/// # Safety
/// `ch` is NULL or a channel from `jmpco_chan_make` whose
/// `jmpco_chan_free` has not begun.
#[no_mangle]
pub unsafe extern "C" fn jmpco_chan_send(
    ch: *mut jmpco_chan,
    value: *mut c_void,
    timeout_ms: c_int,
) -> c_int {
    guard("jmpco_chan_send", || {
        // SAFETY: the caller's contract, passed on.
        let Some(ch) = (unsafe { enter(ch) }) else {
            return JMPCO_EINVAL;
        };
        let msg = Msg(value);
        let wait = Wait::from_ms(timeout_ms);
        // Even a send that would not wait: a cancelled task's waits all fail.
        if wait.is_some() && cancelling() {
            return JMPCO_ECANCELED;
        }
        match wait {
            None => JMPCO_EINVAL,
            Some(Wait::Try) => match ch.tx.try_send(msg) {
                Ok(()) => JMPCO_OK,
                Err(TrySendError::Full(_)) => JMPCO_ETIMEDOUT,
                Err(TrySendError::Disconnected(_)) => JMPCO_ECLOSED,
            },
            Some(Wait::Until(deadline)) => {
                // A Rust task's wait can unwind (an abort, an `rt::timeout`
                // deadline) after a receiver took the message: then it was
                // sent, and the stopped unwind says so.
                let sent = Cell::new(false);
                let unless_sent = |code| if sent.get() { JMPCO_OK } else { code };
                stop_cancellation_or(
                    || match ch.tx.send_waiting_noting(msg, deadline, &sent) {
                        Ok(()) => JMPCO_OK,
                        Err((why, _)) => failed(why),
                    },
                    || unless_sent(JMPCO_ECANCELED),
                    || unless_sent(JMPCO_ETIMEDOUT),
                )
            }
        }
    })
}

/// Receives the oldest message into `*out`: from the buffer (letting the
/// oldest waiting sender's message in), or from a waiting sender's hand;
/// else waits for one for up to `timeout_ms` milliseconds (-1: no limit;
/// 0: do not wait, only try). See `jmpco_chan` for who parks and who
/// blocks.
///
/// `*out` is written only on `JMPCO_OK`; after every other outcome nothing
/// was taken from the channel.
///
/// Returns `JMPCO_OK`; `JMPCO_ETIMEDOUT` if nothing came in time (at once,
/// for timeout 0 on an empty channel); `JMPCO_ECLOSED` if the channel is
/// closed and empty (a closed channel still hands out what it buffered
/// before it was closed), or is closed while the call waits;
/// `JMPCO_EINVAL` if `ch` or `out` is NULL or `timeout_ms` is below -1;
/// `JMPCO_ENOTCORO` and `JMPCO_ECANCELED` as for `jmpco_chan_send` (a
/// cancelled caller takes nothing; one cancelled while it waits and that
/// had already been handed a message, or is handed one before it runs
/// again, puts it back at the head of the channel, or hands it to the
/// oldest waiting receiver: it is not lost).
///
/// # Safety
/// `ch` as for `jmpco_chan_send`; `out` is NULL or points to writable
/// storage for a `void *`.
#[no_mangle]
pub unsafe extern "C" fn jmpco_chan_recv(
    ch: *mut jmpco_chan,
    out: *mut *mut c_void,
    timeout_ms: c_int,
) -> c_int {
    guard("jmpco_chan_recv", || {
        let Some(out) = NonNull::new(out) else {
            return JMPCO_EINVAL;
        };
        // SAFETY: the caller's contract, passed on.
        let Some(ch) = (unsafe { enter(ch) }) else {
            return JMPCO_EINVAL;
        };
        let wait = Wait::from_ms(timeout_ms);
        // Even a receive that would not wait: a cancelled task's waits all
        // fail, and nothing is taken.
        if wait.is_some() && cancelling() {
            return JMPCO_ECANCELED;
        }
        let received = match wait {
            None => return JMPCO_EINVAL,
            Some(Wait::Try) => ch.rx.try_recv().map_err(|e| match e {
                TryRecvError::Empty => JMPCO_ETIMEDOUT,
                TryRecvError::Disconnected => JMPCO_ECLOSED,
            }),
            Some(Wait::Until(deadline)) => {
                let mut got = None;
                let status = stop_cancellation(|| match ch.rx.recv_waiting(deadline) {
                    // Cancelled while it waited, and handed a message in
                    // the turn the cancel came (before it ran again): the
                    // wait fails like every wait of a cancelled task, and
                    // the message goes back for another receiver.
                    Ok(msg) if cancelling() => {
                        ch.rx.give_back(msg);
                        JMPCO_ECANCELED
                    }
                    Ok(msg) => {
                        got = Some(msg);
                        JMPCO_OK
                    }
                    Err(why) => failed(why),
                });
                got.ok_or(status)
            }
        };
        match received {
            Ok(Msg(value)) => {
                // SAFETY: non-null and writable (the caller's contract).
                unsafe { out.as_ptr().write(value) };
                JMPCO_OK
            }
            Err(status) => status,
        }
    })
}

/// Closes the channel: every later send returns `JMPCO_ECLOSED` (its value
/// stays the sender's), and so does every receive once the messages
/// buffered before the close have been received. Senders and receivers
/// waiting on the channel now return `JMPCO_ECLOSED` (a waiting sender's
/// message was not sent). Any thread or coroutine may close; a channel
/// cannot be reopened.
///
/// Returns `JMPCO_OK`; `JMPCO_ECLOSED` if it was closed already (nothing
/// changes); `JMPCO_EINVAL` if `ch` is NULL.
///
/// # Safety
/// `ch` as for `jmpco_chan_send`.
#[no_mangle]
pub unsafe extern "C" fn jmpco_chan_close(ch: *mut jmpco_chan) -> c_int {
    guard("jmpco_chan_close", || {
        // SAFETY: the caller's contract, passed on.
        let Some(ch) = (unsafe { enter(ch) }) else {
            return JMPCO_EINVAL;
        };
        if ch.tx.close() {
            JMPCO_OK
        } else {
            JMPCO_ECLOSED
        }
    })
}

/// Frees the channel, open or closed. Messages still buffered are
/// discarded (what they point to is not freed: receive them first if they
/// own memory).
///
/// It refuses while any call on the channel is in progress, on any thread:
/// a sender or receiver waiting in it, or one that a close or a counterpart
/// has just woken and that has not returned yet. So the usual end is: close
/// the channel, let every user see `JMPCO_ECLOSED` and stop (join its
/// threads, let its coroutines end), then free. Using the handle after
/// `jmpco_chan_free` returned `JMPCO_OK`, or while it runs, is undefined
/// behaviour, as with `free`.
///
/// Returns `JMPCO_OK`; `JMPCO_EBUSY` (and frees nothing) while a call is in
/// progress; `JMPCO_EINVAL` if `ch` is NULL.
///
/// # Safety
/// `ch` is NULL or a channel from `jmpco_chan_make` not freed yet; no call
/// on it begins once this one has.
#[no_mangle]
pub unsafe extern "C" fn jmpco_chan_free(ch: *mut jmpco_chan) -> c_int {
    guard("jmpco_chan_free", || {
        if ch.is_null() {
            return JMPCO_EINVAL;
        }
        // SAFETY: from `Arc::into_raw` in `jmpco_chan_make`, not freed (the
        // caller's contract): this takes over the handle's own reference.
        let handle = unsafe { Arc::from_raw(ch.cast_const()) };
        if Arc::strong_count(&handle) > 1 {
            // A call holds a reference (see `enter`): give the handle's
            // reference back, unchanged.
            let _ = Arc::into_raw(handle);
            return JMPCO_EBUSY;
        }
        drop(handle);
        JMPCO_OK
    })
}

/// The channel behind `ch`, as a reference counted for the length of the
/// call (so `jmpco_chan_free` refuses until it is dropped); `None` for
/// NULL.
///
/// # Safety
/// `ch` is NULL or a live handle from `jmpco_chan_make`.
unsafe fn enter(ch: *mut jmpco_chan) -> Option<Arc<jmpco_chan>> {
    let ch = NonNull::new(ch)?.as_ptr().cast_const();
    // SAFETY: a live handle came from `Arc::into_raw`, and its own
    // reference is still counted (the caller's contract: not freed), so
    // the count is at least one while it is raised and taken.
    unsafe {
        Arc::increment_strong_count(ch);
        Some(Arc::from_raw(ch))
    }
}

/// How long a call may wait, from its `timeout_ms`.
enum Wait {
    /// 0: not at all.
    Try,
    /// Until the deadline (`None`: no limit).
    Until(Option<Instant>),
}

impl Wait {
    /// `None` for a timeout below -1.
    fn from_ms(timeout_ms: c_int) -> Option<Wait> {
        Some(match timeout_from_ms(timeout_ms)? {
            Some(Duration::ZERO) => Wait::Try,
            timeout => Wait::Until(timeout.and_then(deadline_after)),
        })
    }
}

/// The code of a wait that failed.
fn failed(why: Failed) -> c_int {
    match why {
        Failed::Timeout => JMPCO_ETIMEDOUT,
        Failed::Disconnected => JMPCO_ECLOSED,
        Failed::Refused => JMPCO_ECANCELED,
        Failed::OnWorker => JMPCO_ENOTCORO,
    }
}
