//! Registered I/O, the C runtime tier's blocking-style calls on fds the
//! program hands to jmpco: `jmpco_read`, `jmpco_write`, `jmpco_accept`,
//! `jmpco_connect` and `jmpco_close` (the engine is `crate::rt::raw_io`).
//!
//! The doc comments here become the header's documentation (cbindgen copies
//! them), so they are written for C programmers.
//!
//! # Why -1 and `errno`, not `JMPCO_E*` codes
//! These stand in for `read(2)`, `write(2)`, `accept(2)`, `connect(2)` and
//! `close(2)`, and give the results those blocking calls would give: byte
//! counts, 0 at EOF, new fds, and the kernel's own errors (`ECONNRESET`,
//! `EPIPE`, `ECONNREFUSED`, `EMFILE`, ...), which no `JMPCO_E*` code can
//! carry. So they keep the POSIX convention, and code written for blocking
//! sockets changes one call for another. The library's own outcomes are
//! `errno` values too: `EAGAIN` (the timeout passed), `ETIMEDOUT`
//! (`jmpco_connect`'s timeout), `ECANCELED` (the calling task is being
//! cancelled), `EBADF`, `EINVAL`.

use std::ffi::{c_int, c_void};
use std::io;
use std::time::Instant;

use super::{guard, stop_cancellation_or, timeout_from_ms};
use crate::rt::deadline_after;
use crate::rt::raw_io;
use crate::rt::task::cancelling;
use crate::rt::ParkRefused;

/// Reads up to `len` bytes from `fd` into `buf`, as a blocking `read(2)`
/// does: the calling spawned coroutine parks until data (or EOF, or an
/// error) is there, and the thread runs the other coroutines meanwhile.
///
/// **Registered I/O.** `jmpco_read`, `jmpco_write`, `jmpco_accept` and
/// `jmpco_connect` register the fd with the calling thread's scheduler the
/// first time one of them must wait, and keep that one registration until
/// `jmpco_close`: a call that finds data (or room) is one system call, and
/// a call that waits costs no `epoll_ctl`. The rules, for all five:
///
/// * The fd becomes the library's until `jmpco_close`, which alone may
///   close it. The first call on an fd sets `O_NONBLOCK` on it (it stays
///   set); other code may use it meanwhile, non-blocking. Closing it with
///   `close(2)` instead leaves its registration behind, for the next file
///   that gets the number: `jmpco_accept` and `jmpco_connect` detect that
///   and start afresh, and so does a read or write if the old file had
///   reached EOF or an error; otherwise a read or write on the reused
///   number may wait for readiness that is never reported, until its
///   timeout (forever with -1). Do not.
/// * Called outside a spawned coroutine (a thread's own stack, a
///   `jmpco_create` coroutine), the calls block the thread, like the
///   system calls they stand for, waiting in `poll(2)`. In a
///   `jmpco_create` coroutine resumed inside a spawned one that stalls the
///   whole scheduler: waiting there for data one of the thread's other
///   coroutines would send waits for ever (unlike `jmpco_wait_fd` and the
///   channels, which refuse with `JMPCO_ENOTCORO` there); give such a call
///   a timeout, or make it from the spawned coroutine.
/// * Each thread keeps its own registrations: an fd used from two threads
///   is registered with both; `jmpco_close` drops the calling thread's,
///   and the other one's is left stale (as after a `close(2)`): a
///   coroutine of the other thread waiting on the fd is not woken, and
///   waits until its timeout (`EAGAIN`; forever with -1). Use an fd from
///   one thread.
/// * Several coroutines may use one fd at once (a reader and a writer).
///   `jmpco_close` of an fd another coroutine of the same thread waits on
///   wakes that waiter: its call fails with `EBADF`.
/// * `jmpco_wait_fd` works on a registered fd too, sharing the
///   registration; it remains the way to wait on fds jmpco does not own.
/// * An fd that a socket of jmpco's Rust API holds is not the program's to
///   register: the calls share that registration and `jmpco_close` would
///   take it from the socket.
///
/// `timeout_ms`: -1 waits as long as it takes; 0 does not wait (the call
/// is then one non-blocking system call); a positive value bounds the
/// whole call, counted from its start.
///
/// Returns the byte count (at most `len`; `len` 0 returns 0), 0 at EOF, or
/// -1 with `errno` set: `EAGAIN` if the timeout passed with nothing to
/// read (a blocking socket with `SO_RCVTIMEO` says the same; in C code a
/// Rust task called, also when its `rt::timeout` deadline passed, see
/// `JMPCO_ETIMEDOUT`); `ECANCELED`
/// if the calling task is being cancelled (a `jmpco_cancel`ed task: return
/// from its body; a Rust task that called C: return to it), even when data
/// is there: a cancelled task's calls all fail, reading nothing; `EBADF`
/// if `fd` is negative or not open, or another coroutine closed it with
/// `jmpco_close` while this call waited; `EINVAL` if `timeout_ms` is
/// below -1; any error `read(2)` (`recv(2)` on a socket) gives, such as
/// `ECONNRESET`.
///
/// # Safety
/// `buf` is NULL or valid for writes of `len` bytes (NULL with `len` above
/// 0 is `EFAULT`).
#[no_mangle]
pub unsafe extern "C" fn jmpco_read(
    fd: c_int,
    buf: *mut c_void,
    len: usize,
    timeout_ms: c_int,
) -> libc::ssize_t {
    guard("jmpco_read", || {
        registered_call(timeout_ms, libc::EAGAIN, |deadline| {
            // SAFETY: `buf[..len]` is writable or the kernel reports EFAULT
            // (the caller's contract).
            let read = unsafe { raw_io::read(fd, buf.cast(), len, deadline) };
            count_or_errno(read, libc::EAGAIN)
        })
    })
}

/// Writes all `len` bytes of `buf` to `fd`, as a blocking `write(2)` on a
/// socket does: the calling spawned coroutine parks whenever the socket
/// buffer is full, until everything is written. The rules of registered
/// I/O are `jmpco_read`'s.
///
/// Sockets are written with `send(MSG_NOSIGNAL)`: a peer that reset the
/// connection gives `EPIPE`, never `SIGPIPE`. Other fds (pipes) are
/// written with `write(2)`, which raises `SIGPIPE` on a pipe with no
/// reader.
///
/// `timeout_ms`: as for `jmpco_read`.
///
/// Returns `len` once all is written (0 for `len` 0). If the timeout, an
/// error or a cancellation (or, in C code a Rust task called, its
/// `rt::timeout` deadline) ends the call after some bytes were written, it
/// returns their count (a short count, as a blocking write interrupted
/// then does; the next call reports the error). With nothing written, -1
/// and `errno`: `EAGAIN` if the timeout passed (there was no room);
/// `ECANCELED`, `EBADF` and `EINVAL` as for `jmpco_read`; any error
/// `send(2)` or `write(2)` gives, such as `EPIPE` or `ECONNRESET`.
///
/// # Safety
/// `buf` is NULL or valid for reads of `len` bytes (NULL with `len` above 0
/// is `EFAULT`).
#[no_mangle]
pub unsafe extern "C" fn jmpco_write(
    fd: c_int,
    buf: *const c_void,
    len: usize,
    timeout_ms: c_int,
) -> libc::ssize_t {
    guard("jmpco_write", || {
        registered_call(timeout_ms, libc::EAGAIN, |deadline| {
            // SAFETY: `buf[..len]` is readable or the kernel reports EFAULT
            // (the caller's contract).
            let written = unsafe { raw_io::write(fd, buf.cast(), len, deadline) };
            count_or_errno(written, libc::EAGAIN)
        })
    })
}

/// Accepts a connection on the listening socket `fd`, as a blocking
/// `accept(2)` does: the calling spawned coroutine parks until one is
/// pending. The new fd is non-blocking and close-on-exec
/// (`accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)`), and is the library's like
/// `fd` (see `jmpco_read`): use it with the registered calls and close it
/// with `jmpco_close`. `addr` and `addrlen` are `accept(2)`'s: both NULL,
/// or `*addrlen` the size of `addr`, set to the peer address's length.
///
/// `timeout_ms`: as for `jmpco_read`.
///
/// Returns the new fd, or -1 and `errno`: `EAGAIN` if the timeout passed
/// with no connection; `ECANCELED`, `EBADF` and `EINVAL` as for
/// `jmpco_read`; any error `accept4(2)` gives: `EINVAL` (not listening),
/// `ENOTSOCK`, `EMFILE`, `ECONNABORTED`...
///
/// # Safety
/// `addr` and `addrlen` are both NULL, or `addrlen` points to a readable
/// and writable `socklen_t` and `addr` to that many writable bytes.
#[no_mangle]
pub unsafe extern "C" fn jmpco_accept(
    fd: c_int,
    addr: *mut libc::sockaddr,
    addrlen: *mut libc::socklen_t,
    timeout_ms: c_int,
) -> c_int {
    guard("jmpco_accept", || {
        let accepted = registered_call(timeout_ms, libc::EAGAIN, |deadline| {
            // SAFETY: the caller's contract, passed on.
            match unsafe { raw_io::accept(fd, addr, addrlen, deadline) } {
                Ok(new) => new as libc::ssize_t,
                Err(e) => fail(errno_of(&e, libc::EAGAIN)),
            }
        });
        // An fd, or -1.
        accepted as c_int
    })
}

/// Connects the socket `fd` to `addr`, as a blocking `connect(2)` does:
/// the calling spawned coroutine parks until the connection is established
/// or has failed. The socket is the library's from here (see `jmpco_read`);
/// a connection starts its registration afresh.
///
/// `timeout_ms`: as for `jmpco_read`. When it passes, the attempt goes on
/// in the kernel: close the socket (`jmpco_close`) rather than reuse it.
///
/// Returns 0 once connected, or -1 and `errno`: `ETIMEDOUT` if the timeout
/// passed first (or a Rust caller's `rt::timeout` deadline, as for
/// `jmpco_read`'s `EAGAIN`); the connection's own error if it failed
/// (`ECONNREFUSED`, `ENETUNREACH`, a kernel `ETIMEDOUT`...); `ECANCELED`,
/// `EBADF` and `EINVAL` as for `jmpco_read`; any error `connect(2)` gives
/// at once (`EAFNOSUPPORT`, `EISCONN`, `ENOENT` for a Unix socket path;
/// `EAGAIN` for a Unix socket whose listener's backlog is full, where a
/// blocking connect would wait).
///
/// # Safety
/// `addr` points to `addrlen` readable bytes (NULL is `EFAULT`).
#[no_mangle]
pub unsafe extern "C" fn jmpco_connect(
    fd: c_int,
    addr: *const libc::sockaddr,
    addrlen: libc::socklen_t,
    timeout_ms: c_int,
) -> c_int {
    guard("jmpco_connect", || {
        let connected = registered_call(timeout_ms, libc::ETIMEDOUT, |deadline| {
            // SAFETY: the caller's contract, passed on.
            match unsafe { raw_io::connect(fd, addr, addrlen, deadline) } {
                Ok(()) => 0,
                Err(e) => fail(errno_of(&e, libc::ETIMEDOUT)),
            }
        });
        // 0 or -1.
        connected as c_int
    })
}

/// Closes `fd`, as `close(2)` does, after dropping its registration with
/// the calling thread's scheduler: the way to close an fd used with
/// registered I/O (see `jmpco_read`). A coroutine of the calling thread's
/// scheduler waiting on it in a registered call wakes, and its call fails
/// with `EBADF`; one waiting in `jmpco_wait_fd` gets `JMPCO_EINVAL`. (A
/// waiter on another thread's scheduler is not woken: it waits until its
/// timeout, see `jmpco_read`.) Never parks; callable from
/// anywhere, for any fd (one never used with registered I/O is just
/// closed).
///
/// Returns 0, or -1 and `errno`: `EBADF` if `fd` is negative or not open;
/// what `close(2)` reports (`EIO`...; the fd is closed even then).
#[no_mangle]
pub extern "C" fn jmpco_close(fd: c_int) -> c_int {
    guard("jmpco_close", || match raw_io::close(fd) {
        Ok(()) => 0,
        Err(e) => fail(errno_of(&e, libc::EIO)) as c_int,
    })
}

/// What every registered call but `jmpco_close` does around its system
/// call: refuses a `timeout_ms` below -1 (`EINVAL`); fails at once in a
/// cancelled task (`ECANCELED`: a cancelled task's calls all fail, even
/// one that would not wait); runs `call` with the deadline `timeout_ms`
/// gives; and turns the two unwinds a Rust task can start in it into -1
/// with `ECANCELED` (cancelled) or `timed_out` (an `rt::timeout` frame's
/// deadline passed; see `stop_cancellation`).
fn registered_call(
    timeout_ms: c_int,
    timed_out: c_int,
    call: impl FnOnce(Option<Instant>) -> libc::ssize_t,
) -> libc::ssize_t {
    let Some(timeout) = timeout_from_ms(timeout_ms) else {
        return fail(libc::EINVAL);
    };
    if cancelling() {
        return fail(libc::ECANCELED);
    }
    stop_cancellation_or(
        || call(timeout.and_then(deadline_after)),
        || fail(libc::ECANCELED),
        || fail(timed_out),
    )
}

/// A byte count, or -1 with `errno` (`timed_out` for the call's timeout).
fn count_or_errno(result: io::Result<usize>, timed_out: c_int) -> libc::ssize_t {
    match result {
        // A count never exceeds the `len` the caller passed, and a C object
        // (hence `len`) is at most `PTRDIFF_MAX` bytes.
        Ok(n) => n as libc::ssize_t,
        Err(e) => fail(errno_of(&e, timed_out)),
    }
}

/// The `errno` for an error: the kernel's own, or `timed_out` for the
/// call's timeout, `ECANCELED` for a refused park.
fn errno_of(e: &io::Error, timed_out: c_int) -> c_int {
    if let Some(code) = e.raw_os_error() {
        code
    } else if e.kind() == io::ErrorKind::TimedOut {
        timed_out
    } else if ParkRefused::is(e) {
        libc::ECANCELED
    } else {
        libc::EIO
    }
}

/// Sets `errno` and returns -1.
fn fail(code: c_int) -> libc::ssize_t {
    // SAFETY: `__errno_location` returns the calling thread's errno, a live
    // int for as long as the thread runs.
    unsafe { *libc::__errno_location() = code };
    -1
}
