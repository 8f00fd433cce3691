//! The core tier of the C API: create, resume, yield, inspect, reset and
//! destroy coroutines. Each export validates its arguments, then works on
//! the handle (`handle.rs`); all of it runs inside [`guard`].
//!
//! The doc comments here become the header's documentation (cbindgen copies
//! them), so they are written for C programmers.

use std::ffi::{c_char, c_int, c_ulonglong, c_void};
use std::ptr::{self, NonNull};

use super::handle::{jmpco_coro, NoMemory};
use super::types::{
    jmpco_backend, jmpco_fn, jmpco_options, jmpco_state, message, JMPCO_EBUSY, JMPCO_ECANCELED,
    JMPCO_EDONE, JMPCO_EINVAL, JMPCO_ENOMEM, JMPCO_ENOTCORO, JMPCO_MIN_STACK_SIZE, JMPCO_OK,
};
use super::{guard, stop_cancellation};
use crate::rt::task::try_yield;
use crate::rt::ParkRefused;
use crate::stack::DEFAULT_STACK_SIZE;
use crate::{Builder, Error};

/// Larger stack sizes are refused as invalid rather than attempted: half the
/// address space is no stack. (Sizes below it that the OS cannot map are
/// `JMPCO_ENOMEM`.)
const MAX_STACK_SIZE: usize = isize::MAX as usize / 2;

/// A `jmpco_options` read and checked: the stack size rounded up to the
/// floor (0: the default) and the backend.
pub(super) struct Options {
    pub(super) stack_size: usize,
    pub(super) backend: crate::Backend,
}

/// Reads `*opts` (NULL: the defaults); `None` if it is invalid (an unknown
/// backend, or a stack size above `MAX_STACK_SIZE`).
///
/// # Safety
/// `opts` is NULL or points to a readable `jmpco_options`.
pub(super) unsafe fn read_options(opts: *const jmpco_options) -> Option<Options> {
    if opts.is_null() {
        return Some(Options {
            stack_size: DEFAULT_STACK_SIZE,
            backend: crate::Backend::default(),
        });
    }
    // SAFETY: non-null and readable (the caller's contract). The backend is
    // read as the integer C stored, so an out-of-range value is rejected
    // rather than read as an invalid Rust enum.
    let (stack_size, raw_backend) = unsafe {
        (
            ptr::addr_of!((*opts).stack_size).read(),
            ptr::addr_of!((*opts).backend).cast::<u32>().read(),
        )
    };
    let backend = jmpco_backend::from_raw(raw_backend)?;
    if stack_size > MAX_STACK_SIZE {
        return None;
    }
    let stack_size = match stack_size {
        0 => DEFAULT_STACK_SIZE,
        n => n.max(JMPCO_MIN_STACK_SIZE),
    };
    Some(Options {
        stack_size,
        backend,
    })
}

/// Fills `*opts` with the defaults: a 64 KiB stack (`stack_size`) and the
/// `JMPCO_BACKEND_SJLJ` backend.
///
/// Returns `JMPCO_OK`, or `JMPCO_EINVAL` if `opts` is NULL.
///
/// # Safety
/// `opts` is NULL or points to writable memory for a `jmpco_options`.
#[no_mangle]
pub unsafe extern "C" fn jmpco_options_init(opts: *mut jmpco_options) -> c_int {
    guard("jmpco_options_init", || {
        if opts.is_null() {
            return JMPCO_EINVAL;
        }
        // SAFETY: non-null and writable (the caller's contract).
        unsafe { opts.write(jmpco_options::DEFAULT) };
        JMPCO_OK
    })
}

/// Creates a coroutine that will run `fn(arg)` on a stack of its own, and
/// stores its handle in `*out`. The coroutine starts `JMPCO_READY`; the body
/// first runs at the first `jmpco_resume`.
///
/// `opts` may be NULL for the defaults (see `jmpco_options_init`); a
/// `stack_size` of 0 also means the default. `arg` is passed to `fn`
/// unchanged and never touched by the library. `fn` must leave the
/// coroutine only by returning or through `jmpco_yield`: never by
/// `longjmp`, a C++ exception or `pthread_exit` (see `jmpco_fn` for what
/// follows if it does).
///
/// Ownership: the caller owns the new handle and frees it with
/// `jmpco_destroy`, on the thread that created it (a coroutine never
/// moves between threads). Destroy it before that thread exits: a thread's
/// identity is never given to another thread, so once the creator has
/// exited, every call that needs the owner (`jmpco_resume`, `jmpco_reset`,
/// `jmpco_destroy`) returns `JMPCO_EINVAL` from every thread, for good. The
/// coroutine can then never run again, and its handle and stack are leaked
/// (`jmpco_status` and `jmpco_id` still answer).
///
/// Returns `JMPCO_OK`; `JMPCO_EINVAL` if `out` or `fn` is NULL, or `opts`
/// has an unknown backend or a `stack_size` above `SIZE_MAX / 4` (no stack
/// at all); `JMPCO_ENOMEM` if the stack or the handle could not be allocated
/// (including a stack size the system cannot map). On error `*out` is left
/// unchanged.
///
/// # Safety
/// `out` is NULL or writable; `opts` is NULL or points to a readable
/// `jmpco_options`; `fn` is NULL or a function callable as a `jmpco_fn`.
#[no_mangle]
pub unsafe extern "C" fn jmpco_create(
    out: *mut *mut jmpco_coro,
    r#fn: jmpco_fn,
    arg: *mut c_void,
    opts: *const jmpco_options,
) -> c_int {
    guard("jmpco_create", || {
        let Some(f) = r#fn else { return JMPCO_EINVAL };
        if out.is_null() {
            return JMPCO_EINVAL;
        }
        // SAFETY: NULL or readable (the caller's contract).
        let Some(options) = (unsafe { read_options(opts) }) else {
            return JMPCO_EINVAL;
        };
        let builder = Builder::new()
            .backend(options.backend)
            .stack_size(options.stack_size);
        match jmpco_coro::create(builder, f, arg) {
            Ok(handle) => {
                // SAFETY: non-null and writable (the caller's contract).
                unsafe { out.write(handle.as_ptr()) };
                JMPCO_OK
            }
            Err(NoMemory) => JMPCO_ENOMEM,
        }
    })
}

/// Runs `co` until its body calls `jmpco_yield` or returns, and stores what
/// it yielded or returned in `*out` (unless `out` is NULL). Tell the two
/// apart with `jmpco_status`: `JMPCO_HOLD` after a yield, `JMPCO_TERM` after
/// a return.
///
/// The first resume of a `JMPCO_READY` coroutine starts the body with the
/// `arg` given at creation (or reset), and `value` is ignored. Later resumes
/// of a `JMPCO_HOLD` coroutine continue it: its pending `jmpco_yield`
/// returns with `*resumed_with = value`. Values pass through unchanged.
///
/// Coroutines nest: a body may create and resume other coroutines.
///
/// If the body jumps out of the coroutine instead of yielding or returning
/// (`longjmp` or `siglongjmp` to a `jmp_buf` set before this call, which is
/// forbidden: see `jmpco_fn`), this call never returns, and `co` stays
/// `JMPCO_EXEC` for good: every later `jmpco_resume`, `jmpco_reset` and
/// `jmpco_destroy` of it returns `JMPCO_EBUSY`, and its handle and stack are
/// never freed.
///
/// Returns `JMPCO_OK`; `JMPCO_EINVAL` if `co` is NULL or belongs to another
/// thread (to every thread, once the one that created it has exited);
/// `JMPCO_EDONE` if `co` is `JMPCO_TERM` or `JMPCO_EXCEPT`; `JMPCO_EBUSY`
/// if `co` is `JMPCO_EXEC` (the caller itself, a coroutine that resumed the
/// caller, one whose body jumped out of it, or a spawned coroutine's handle
/// from `jmpco_current`). On error nothing runs and `*out` is unchanged.
///
/// # Safety
/// `co` is NULL or a live handle from `jmpco_create` or `jmpco_current`;
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jmpco_resume(
    co: *mut jmpco_coro,
    value: *mut c_void,
    out: *mut *mut c_void,
) -> c_int {
    guard("jmpco_resume", || {
        // SAFETY: NULL or a live handle (the caller's contract).
        let Some(h) = (unsafe { co.as_ref() }) else {
            return JMPCO_EINVAL;
        };
        if !h.on_owner_thread() {
            return JMPCO_EINVAL;
        }
        match h.state() {
            jmpco_state::JMPCO_READY | jmpco_state::JMPCO_HOLD => {}
            jmpco_state::JMPCO_EXEC => return JMPCO_EBUSY,
            jmpco_state::JMPCO_TERM | jmpco_state::JMPCO_EXCEPT => return JMPCO_EDONE,
        }
        // SAFETY: on the owner thread, READY or HOLD (checked just above).
        match unsafe { h.resume(value) } {
            Ok(v) => {
                if !out.is_null() {
                    // SAFETY: non-null and writable (the caller's contract).
                    unsafe { out.write(v) };
                }
                JMPCO_OK
            }
            Err(Error::Running) => JMPCO_EBUSY,
            Err(Error::Finished(_)) => JMPCO_EDONE,
            Err(e) => panic!("try_resume refused a checked coroutine: {e}"),
        }
    })
}

/// Suspends the calling coroutine (it becomes `JMPCO_HOLD`): the
/// `jmpco_resume` that ran it returns with `*out = value`. When it is
/// resumed again, this returns with `*resumed_with` set to that resume's
/// `value` (unless `resumed_with` is NULL).
///
/// If the coroutine is destroyed while suspended here, this never returns
/// and nothing on the coroutine's stack is cleaned up (as with `longjmp`):
/// free what the body owns before yielding, or let the resumer own it.
///
/// In a coroutine started by `jmpco_spawn` (or `jmpco_spawn_task`), on its
/// own stack, it yields to the scheduler instead, like `jmpco_sleep_ms(0)`:
/// the thread's other ready coroutines run, then this returns. No value
/// passes: `value` is ignored and `*resumed_with` is set to NULL (unless
/// `resumed_with` is NULL). It is a runtime wait: in a cancelled task (see
/// `jmpco_cancel`) it returns `JMPCO_ECANCELED`, at once or when the
/// cancel comes while it waits.
///
/// Returns `JMPCO_OK` once resumed; `JMPCO_ECANCELED` as just said;
/// `JMPCO_ETIMEDOUT` in a spawned coroutine only when Rust code it called
/// yields inside `rt::timeout` and that deadline passes (see
/// `JMPCO_ETIMEDOUT`); `JMPCO_ENOTCORO` if the caller runs neither on a
/// coroutine created with `jmpco_create` nor on a spawned one (on a
/// thread's own stack, or inside a coroutine or task of jmpco's Rust API).
///
/// # Safety
/// `resumed_with` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jmpco_yield(value: *mut c_void, resumed_with: *mut *mut c_void) -> c_int {
    guard("jmpco_yield", || {
        // SAFETY: `current` returns null or a handle alive until this export
        // returns, and this coroutine cannot return before we do.
        let Some(h) = (unsafe { jmpco_coro::running().as_ref() }) else {
            return JMPCO_ENOTCORO;
        };
        if h.is_task() {
            if !resumed_with.is_null() {
                // SAFETY: non-null and writable (the caller's contract).
                unsafe { resumed_with.write(ptr::null_mut()) };
            }
            // A view stands for a task spawned through this API, which is
            // never cancelled by unwinding: the yield returns, refused or
            // not. But Rust code the body called may have put it inside an
            // `rt::timeout`, whose deadline unwinds from the park: stopped
            // here as in the other waits (`JMPCO_ETIMEDOUT`).
            return stop_cancellation(|| match try_yield() {
                Some(Ok(())) => JMPCO_OK,
                Some(Err(ParkRefused)) => JMPCO_ECANCELED,
                None => JMPCO_ENOTCORO,
            });
        }
        // SAFETY: `h` is what `running` answered, and the yielder suspends
        // right here, in the export that asked.
        let Some(yielder) = (unsafe { h.yielder() }) else {
            return JMPCO_ENOTCORO;
        };
        let input = yielder.suspend(value);
        if !resumed_with.is_null() {
            // SAFETY: non-null and writable (the caller's contract).
            unsafe { resumed_with.write(input) };
        }
        JMPCO_OK
    })
}

/// The state of `co`: `JMPCO_READY`, `JMPCO_EXEC`, `JMPCO_HOLD`,
/// `JMPCO_TERM` or `JMPCO_EXCEPT`. May be called from any thread.
/// A NULL `co` answers `JMPCO_EXCEPT` (nothing to resume).
///
/// # Safety
/// `co` is NULL or a live handle from `jmpco_create` or `jmpco_current`.
#[no_mangle]
pub unsafe extern "C" fn jmpco_status(co: *const jmpco_coro) -> jmpco_state {
    guard("jmpco_status", || {
        // SAFETY: NULL or a live handle (the caller's contract).
        match unsafe { co.as_ref() } {
            Some(h) => h.state(),
            None => jmpco_state::JMPCO_EXCEPT,
        }
    })
}

/// The coroutine the caller is running on, or NULL on a thread's own stack
/// or inside a coroutine (or task) of jmpco's Rust API. The caller does not
/// own the result: do not destroy it.
///
/// In a coroutine started by `jmpco_spawn` or `jmpco_spawn_task` (on its
/// own stack, not in a `jmpco_create` coroutine it resumed) the result is a
/// handle standing for the spawned coroutine: the same pointer on every
/// call in it, valid until its body returns (do not keep it longer). Its
/// `jmpco_status` is `JMPCO_EXEC` throughout, parked or not (the scheduler
/// runs it); its `jmpco_id` is the coroutine's own, distinct from every
/// other coroutine's. It is not for `jmpco_resume`, `jmpco_reset` or
/// `jmpco_destroy`: being `JMPCO_EXEC`, it is refused by them with
/// `JMPCO_EBUSY` (on another thread, `JMPCO_EINVAL`).
#[no_mangle]
pub extern "C" fn jmpco_current() -> *mut jmpco_coro {
    guard("jmpco_current", || jmpco_coro::running().cast_mut())
}

/// The id of `co`: unique in the process, never 0, kept across
/// `jmpco_reset`. May be called from any thread. A NULL `co` answers 0.
///
/// # Safety
/// `co` is NULL or a live handle from `jmpco_create` or `jmpco_current`.
#[no_mangle]
pub unsafe extern "C" fn jmpco_id(co: *const jmpco_coro) -> c_ulonglong {
    guard("jmpco_id", || {
        // SAFETY: NULL or a live handle (the caller's contract).
        unsafe { co.as_ref() }.map_or(0, |h| h.id())
    })
}

/// Makes a finished coroutine (`JMPCO_TERM` or `JMPCO_EXCEPT`) run `fn(arg)`
/// next, reusing its stack and handle (no allocation): it becomes
/// `JMPCO_READY` and keeps its id.
///
/// Returns `JMPCO_OK`; `JMPCO_EINVAL` if `co` or `fn` is NULL, `co` belongs
/// to another thread (to every thread, once the one that created it has
/// exited), or `co` is `JMPCO_READY` or `JMPCO_HOLD` (not finished);
/// `JMPCO_EBUSY` if `co` is `JMPCO_EXEC` (a spawned coroutine's handle from
/// `jmpco_current` always is). On error nothing changes.
///
/// # Safety
/// `co` is NULL or a live handle from `jmpco_create` or `jmpco_current`;
/// `fn` is NULL or a function callable as a `jmpco_fn`.
#[no_mangle]
pub unsafe extern "C" fn jmpco_reset(
    co: *mut jmpco_coro,
    r#fn: jmpco_fn,
    arg: *mut c_void,
) -> c_int {
    guard("jmpco_reset", || {
        // SAFETY: NULL or a live handle (the caller's contract).
        let Some(h) = (unsafe { co.as_ref() }) else {
            return JMPCO_EINVAL;
        };
        let Some(f) = r#fn else { return JMPCO_EINVAL };
        if !h.on_owner_thread() {
            return JMPCO_EINVAL;
        }
        match h.state() {
            jmpco_state::JMPCO_TERM | jmpco_state::JMPCO_EXCEPT => {}
            jmpco_state::JMPCO_EXEC => return JMPCO_EBUSY,
            jmpco_state::JMPCO_READY | jmpco_state::JMPCO_HOLD => return JMPCO_EINVAL,
        }
        // SAFETY: on the owner thread, TERM or EXCEPT (checked just above).
        match unsafe { h.reset(f, arg) } {
            Ok(()) => JMPCO_OK,
            Err(NoMemory) => JMPCO_ENOMEM,
        }
    })
}

/// Frees `co` and its stack. A `JMPCO_HOLD` coroutine is not run again: its
/// stack is released as it is, like frames discarded by `longjmp`, so
/// whatever its body still owned is not freed. A `JMPCO_READY` one never
/// runs. Values it yielded or returned are the caller's and are untouched.
///
/// Returns `JMPCO_OK` (the handle is gone: do not use it again);
/// `JMPCO_EINVAL` if `co` is NULL or belongs to another thread (to every
/// thread, once the one that created it has exited: such a coroutine can
/// never be freed); `JMPCO_EBUSY` if `co` is `JMPCO_EXEC` (the caller
/// itself, a coroutine that resumed it, a spawned coroutine's handle from
/// `jmpco_current`, or one whose body jumped out of it, which can never be
/// freed either). On error nothing changes.
///
/// # Safety
/// `co` is NULL or a live handle from `jmpco_create` or `jmpco_current`,
/// not used after a successful destroy.
#[no_mangle]
pub unsafe extern "C" fn jmpco_destroy(co: *mut jmpco_coro) -> c_int {
    guard("jmpco_destroy", || {
        let Some(ptr) = NonNull::new(co) else {
            return JMPCO_EINVAL;
        };
        // SAFETY: a live handle (the caller's contract).
        let h = unsafe { ptr.as_ref() };
        if !h.on_owner_thread() {
            return JMPCO_EINVAL;
        }
        if h.state() == jmpco_state::JMPCO_EXEC {
            return JMPCO_EBUSY;
        }
        // SAFETY: live, from create, on the owner thread and not EXEC; the
        // caller gives it up on success.
        unsafe { jmpco_coro::destroy(ptr) };
        JMPCO_OK
    })
}

/// A static, NUL-terminated English message for a `JMPCO_*` code (or
/// "unknown jmpco error code"). Never NULL; the caller must not free it.
#[no_mangle]
pub extern "C" fn jmpco_strerror(code: c_int) -> *const c_char {
    guard("jmpco_strerror", || message(code))
}
