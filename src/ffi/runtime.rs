//! The runtime tier of the C API: coroutines scheduled by jmpco's epoll
//! runtime, one scheduler per thread (`crate::rt::local`).
//!
//! The doc comments here become the header's documentation (cbindgen copies
//! them), so they are written for C programmers.

use std::ffi::{c_int, c_uint, c_void};
use std::io;
use std::time::Duration;

use std::sync::Arc;

use super::coro::read_options;
use super::handle::jmpco_coro;
use super::types::{
    jmpco_fn, jmpco_options, JMPCO_EBUSY, JMPCO_ECANCELED, JMPCO_EINVAL, JMPCO_ENOMEM,
    JMPCO_ENOTCORO, JMPCO_ETIMEDOUT, JMPCO_OK,
};
use super::{guard, stop_cancellation, timeout_from_ms};
use crate::rt::foreign::{self, ForeignTask};
use crate::rt::local::{self, RunError};
use crate::rt::task::{cancelling, in_task, try_sleep, try_yield};
use crate::rt::{Interest, ParkRefused};

/// `jmpco_wait_fd` events: wait until the fd has data to read (or EOF, an
/// error, a connection to accept).
pub const JMPCO_READABLE: c_int = 1;
/// `jmpco_wait_fd` events: wait until the fd has room to write (or a
/// non-blocking connect has completed, or an error).
pub const JMPCO_WRITABLE: c_int = 2;

/// Queues a coroutine that will run `fn(arg)` on the calling thread's
/// scheduler, with the default stack (64 KiB) and backend. Same as
/// `jmpco_spawn_with(fn, arg, NULL)`.
///
/// Each thread has its own scheduler, made by its first `jmpco_spawn`; it
/// runs the coroutines spawned on that thread, and only there, during
/// `jmpco_run`. Call it before `jmpco_run` (the coroutine starts when
/// `jmpco_run` runs) or from inside a spawned coroutine (the new one starts
/// on a later turn of the same loop, on the same thread).
///
/// A spawned coroutine is run by the scheduler, not by `jmpco_resume`:
/// `jmpco_current` in it is a handle standing for it (`JMPCO_EXEC`, its own
/// id; see there), and `jmpco_yield` in it lets the thread's other
/// coroutines run, then continues. It blocks with `jmpco_wait_fd` and
/// `jmpco_sleep_ms` (and `jmpco_join`), which let the thread's other
/// coroutines run meanwhile. When `fn` returns, the coroutine ends: its
/// return value is discarded and its stack is freed. `arg` is passed
/// unchanged; its ownership is the program's business. (`jmpco_spawn_task`
/// spawns one whose value can be joined, and which can be cancelled.)
///
/// Returns `JMPCO_OK`; `JMPCO_EINVAL` if `fn` is NULL; `JMPCO_ENOMEM` if
/// the stack, or the thread's scheduler (an epoll fd and an eventfd), could
/// not be made.
///
/// # Safety
/// `fn` is NULL or a function callable as a `jmpco_fn` with `arg`.
#[no_mangle]
pub unsafe extern "C" fn jmpco_spawn(r#fn: jmpco_fn, arg: *mut c_void) -> c_int {
    guard("jmpco_spawn", || {
        // SAFETY: NULL options; `fn` is the caller's (its contract).
        unsafe { spawn(r#fn, arg, std::ptr::null()) }
    })
}

/// `jmpco_spawn` with options: `opts` (NULL for the defaults) sets the
/// coroutine's stack size and backend, as for `jmpco_create`.
///
/// Returns what `jmpco_spawn` returns, and `JMPCO_EINVAL` for options
/// `jmpco_create` would refuse (an unknown backend, a stack size above
/// `SIZE_MAX / 4`).
///
/// # Safety
/// `fn` is NULL or a function callable as a `jmpco_fn` with `arg`; `opts` is
/// NULL or points to a readable `jmpco_options`.
#[no_mangle]
pub unsafe extern "C" fn jmpco_spawn_with(
    r#fn: jmpco_fn,
    arg: *mut c_void,
    opts: *const jmpco_options,
) -> c_int {
    guard("jmpco_spawn_with", || {
        // SAFETY: the caller's contract, passed on.
        unsafe { spawn(r#fn, arg, opts) }
    })
}

/// # Safety
/// As `jmpco_spawn_with`.
unsafe fn spawn(r#fn: jmpco_fn, arg: *mut c_void, opts: *const jmpco_options) -> c_int {
    // SAFETY: the caller's contract, passed on.
    match unsafe { spawn_task(r#fn, arg, opts) } {
        // Detached: the task runs on, and its outcome goes with it.
        Ok(_task) => JMPCO_OK,
        Err(code) => code,
    }
}

/// A C body's return value, as the runtime hands it to whoever joins.
#[derive(Clone, Copy, Debug)]
pub(super) struct CValue(pub(super) *mut c_void);

// SAFETY: the library never dereferences the pointer: it passes it from the
// body that returned it to the threads that join, as the header documents;
// what it points at is the C program's business.
unsafe impl Send for CValue {}

/// A spawned C task, as its handle holds it.
pub(super) type CTask = ForeignTask<CValue>;

/// Spawns `fn(arg)` as a task of this thread's scheduler (see
/// `jmpco_spawn_with`); the task, or the code to return (`JMPCO_EINVAL`,
/// `JMPCO_ENOMEM`).
///
/// # Safety
/// As `jmpco_spawn_with`.
pub(super) unsafe fn spawn_task(
    r#fn: jmpco_fn,
    arg: *mut c_void,
    opts: *const jmpco_options,
) -> Result<Arc<CTask>, c_int> {
    let Some(f) = r#fn else {
        return Err(JMPCO_EINVAL);
    };
    // SAFETY: NULL or readable (the caller's contract).
    let Some(options) = (unsafe { read_options(opts) }) else {
        return Err(JMPCO_EINVAL);
    };
    let body = move || {
        jmpco_coro::run_as_task(|| {
            // SAFETY: `f` is the caller's jmpco_fn, called with its own
            // argument as the header documents.
            CValue(unsafe { f(arg) })
        })
    };
    // SAFETY: a C body cannot be unwound: its cancel is cooperative, and
    // teardown abandons it. Nothing it holds needs dropping at any point
    // where it can be abandoned: unstarted, its closure holds a function
    // pointer and a `void *`; parked, its stack holds C frames (no
    // destructors), `run_as_task`'s frame (a view that owns no coroutine),
    // the frames of this tier's waits (`jmpco_wait_fd`, `jmpco_sleep_ms`,
    // `jmpco_yield`, `jmpco_join`, the registered I/O calls: a guard, codes
    // and `Copy` values) and the runtime's own waits under them, which own
    // nothing across a park (`rt::wait_fd`, `try_sleep`, `try_yield`,
    // `ForeignTask::join`, `rt::raw_io`, whose table is borrowed only
    // between parks), or a channel wait (`chan.rs`), which owns `Arc`s of
    // heap blocks that nothing points back into the stack from: abandoning
    // leaks them.
    unsafe { foreign::spawn(options.stack_size, options.backend, body) }.map_err(|_| JMPCO_ENOMEM)
}

/// Runs the calling thread's scheduler until every coroutine spawned on it
/// has ended, including those spawned meanwhile; returns at once if there
/// are none. While it runs, the thread is the scheduler's: coroutines run
/// one at a time, each until it waits (`jmpco_wait_fd`, `jmpco_sleep_ms`)
/// or returns, and the thread sleeps in `epoll_wait` when none is ready.
/// It may be called again later, for coroutines spawned after it returned.
///
/// Call it on a thread's own stack or inside a `jmpco_create` coroutine,
/// not inside a spawned coroutine: the scheduler is already running there.
///
/// Returns `JMPCO_OK` once no coroutine is left; `JMPCO_EBUSY` if a
/// scheduler is already running on this thread (the caller is a spawned
/// coroutine, or was called by one); `JMPCO_ENOMEM` if the event loop
/// fails (`epoll_wait` errors; not expected).
#[no_mangle]
pub extern "C" fn jmpco_run() -> c_int {
    guard("jmpco_run", || match local::run_here() {
        Ok(()) => JMPCO_OK,
        Err(RunError::Busy) => JMPCO_EBUSY,
        Err(RunError::Io(e)) => {
            eprintln!("jmpco: jmpco_run: the event loop failed: {e}");
            JMPCO_ENOMEM
        }
    })
}

/// Parks the calling spawned coroutine until `fd` is ready for `events`
/// (`JMPCO_READABLE`, `JMPCO_WRITABLE`, or both: either one ends the wait)
/// or `timeout_ms` milliseconds have passed (-1: no timeout; 0: only
/// check). The thread runs the other coroutines meanwhile.
///
/// Level-triggered: it returns at once if the fd is ready now (data already
/// buffered, say), and otherwise waits for the next change. A hang-up or an
/// error on the fd counts as ready: the next read or write reports it. Use
/// it with non-blocking fds: read or write until `EAGAIN`, then wait.
///
/// The fd stays the caller's: it is registered with the thread's epoll only
/// during the call. Several coroutines may wait on one fd at once (a reader
/// and a writer, say). Do not close an fd while a coroutine waits on it.
///
/// Returns `JMPCO_OK` when the fd is ready; `JMPCO_ETIMEDOUT` when the
/// timeout passed first; `JMPCO_EINVAL` if `fd` is negative or not open,
/// `events` is not a non-empty combination of the two flags, `timeout_ms`
/// is below -1, or the fd cannot be waited for (epoll refuses it, or it
/// was closed with `jmpco_close` on this thread during the wait; a
/// `close(2)` meanwhile, or a `jmpco_close` on another thread, is not
/// seen: the wait goes on until its timeout); `JMPCO_ENOTCORO` if the
/// caller is not a coroutine started by `jmpco_spawn` (a thread's own
/// stack, a `jmpco_create` coroutine, even one resumed by a spawned
/// coroutine);
/// `JMPCO_ECANCELED` if the calling task is cancelled (a `jmpco_spawn_task`
/// task given to `jmpco_cancel`, before or during this wait: return from
/// the body; or a task of the Rust API, C code it called, being cancelled:
/// return to it), even when the fd is ready.
#[no_mangle]
pub extern "C" fn jmpco_wait_fd(fd: c_int, events: c_int, timeout_ms: c_int) -> c_int {
    guard("jmpco_wait_fd", || {
        let interest = match events {
            JMPCO_READABLE => Interest::READABLE,
            JMPCO_WRITABLE => Interest::WRITABLE,
            3 => Interest::READABLE | Interest::WRITABLE,
            _ => return JMPCO_EINVAL,
        };
        let Some(timeout) = timeout_from_ms(timeout_ms) else {
            return JMPCO_EINVAL;
        };
        if !fd_is_open(fd) {
            return JMPCO_EINVAL;
        }
        if !in_task() {
            return JMPCO_ENOTCORO;
        }
        // Even an fd that is ready now: a cancelled task's waits all fail.
        if cancelling() {
            return JMPCO_ECANCELED;
        }
        stop_cancellation(|| match crate::rt::wait_fd(fd, interest, timeout) {
            Ok(()) => JMPCO_OK,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => JMPCO_ETIMEDOUT,
            Err(e) if ParkRefused::is(&e) => JMPCO_ECANCELED,
            Err(_) => JMPCO_EINVAL,
        })
    })
}

/// Parks the calling spawned coroutine for at least `ms` milliseconds
/// (0: let the other ready coroutines run first, then continue); the thread
/// runs the other coroutines meanwhile. It wakes within about a millisecond
/// of the deadline on an idle thread, later on a busy one.
///
/// Returns `JMPCO_OK`; `JMPCO_ENOTCORO` if the caller is not a coroutine
/// started by `jmpco_spawn` (as for `jmpco_wait_fd`); `JMPCO_ECANCELED` as
/// for `jmpco_wait_fd`; `JMPCO_ETIMEDOUT` only in C code called by a Rust
/// task whose `rt::timeout` deadline passed (see `JMPCO_ETIMEDOUT`).
#[no_mangle]
pub extern "C" fn jmpco_sleep_ms(ms: c_uint) -> c_int {
    guard("jmpco_sleep_ms", || {
        stop_cancellation(|| {
            let parked = match ms {
                0 => try_yield(),
                ms => try_sleep(Duration::from_millis(ms.into())),
            };
            match parked {
                None => JMPCO_ENOTCORO,
                Some(Ok(())) => JMPCO_OK,
                Some(Err(ParkRefused)) => JMPCO_ECANCELED,
            }
        })
    })
}

/// Whether `fd` names an open file description (`fcntl(F_GETFD)`).
fn fd_is_open(fd: c_int) -> bool {
    // SAFETY: F_GETFD takes no pointer and changes nothing; a bad fd is
    // reported as EBADF.
    fd >= 0 && unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1
}
