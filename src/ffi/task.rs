//! Task handles of the C API's runtime tier: `jmpco_spawn_task` hands back
//! a `jmpco_task *`, which `jmpco_join` waits on, `jmpco_cancel` cancels and
//! `jmpco_task_release` frees.
//!
//! A `jmpco_task *` is an `Arc` of the runtime's foreign task
//! (`crate::rt::foreign`), turned into a raw pointer: the task record holds
//! another, so a handle and the task live independently, and the handle
//! owns only the outcome slot. Joining never consumes the handle (every
//! join gets the outcome, like waiting on a Windows thread handle), and
//! release is the one way to free it, joined or not, so no join can find
//! its handle freed by another join. Cancellation is cooperative: the
//! runtime refuses the task's waits, and the C body returns by itself.
//!
//! The doc comments here become the header's documentation (cbindgen copies
//! them), so they are written for C programmers.

use std::ffi::{c_int, c_void};
use std::sync::Arc;

use super::runtime::{spawn_task, CTask, CValue};
use super::types::{
    jmpco_fn, jmpco_options, JMPCO_ECANCELED, JMPCO_EDEADLK, JMPCO_EINVAL, JMPCO_OK,
};
use super::{guard, stop_cancellation};
use crate::rt::foreign::JoinFailed;

/// An opaque handle to a coroutine spawned with `jmpco_spawn_task`: join
/// it (`jmpco_join`), cancel it (`jmpco_cancel`), and release it once
/// (`jmpco_task_release`). It may be used from any thread.
pub struct jmpco_task {
    _opaque: [u8; 0],
}

/// The task behind a handle, or `None` for NULL.
///
/// # Safety
/// `task` is NULL or a handle from `jmpco_spawn_task` not yet released.
unsafe fn task_ref<'a>(task: *const jmpco_task) -> Option<&'a CTask> {
    // SAFETY: a live handle is `Arc::into_raw` of a `CTask` whose count it
    // holds until it is released (the caller's contract).
    unsafe { task.cast::<CTask>().as_ref() }
}

/// `jmpco_spawn_with` that hands back a handle to the new coroutine in
/// `*out`: `jmpco_join` waits for its body's return value, `jmpco_cancel`
/// asks it to stop, and `jmpco_task_release` frees the handle (every handle
/// once, joined or not).
///
/// The coroutine is like any other `jmpco_spawn` one: it runs on the
/// calling thread's scheduler, starting at a later turn of `jmpco_run` (of
/// the running loop, if the caller is a spawned coroutine). A task that is
/// never joined runs to its end all the same; its return value waits in the
/// handle until the handle is released. Releasing the handle first
/// detaches the task: it runs on, and its value is discarded.
///
/// Returns `JMPCO_OK`; `JMPCO_EINVAL` if `out` or `fn` is NULL, or `opts`
/// is invalid (as for `jmpco_spawn_with`); `JMPCO_ENOMEM` if the stack or
/// the thread's scheduler could not be made. On error nothing is spawned
/// and `*out` is unchanged.
///
/// # Safety
/// `out` is NULL or writable; `fn` is NULL or a function callable as a
/// `jmpco_fn` with `arg`; `opts` is NULL or points to a readable
/// `jmpco_options`.
#[no_mangle]
pub unsafe extern "C" fn jmpco_spawn_task(
    out: *mut *mut jmpco_task,
    r#fn: jmpco_fn,
    arg: *mut c_void,
    opts: *const jmpco_options,
) -> c_int {
    guard("jmpco_spawn_task", || {
        if out.is_null() {
            return JMPCO_EINVAL;
        }
        // SAFETY: the caller's contract, passed on.
        match unsafe { spawn_task(r#fn, arg, opts) } {
            Ok(task) => {
                let handle = Arc::into_raw(task).cast::<jmpco_task>().cast_mut();
                // SAFETY: non-null and writable (the caller's contract).
                unsafe { out.write(handle) };
                JMPCO_OK
            }
            Err(code) => code,
        }
    })
}

/// Waits until `task` has ended and stores its body's return value in
/// `*result` (unless `result` is NULL). The handle stays valid: join it
/// again (an ended task's join returns at once, with the same outcome),
/// from as many coroutines and threads at once as you like, and release it
/// once the last join has returned.
///
/// How the caller waits:
/// * a spawned coroutine, of this thread's scheduler or another's, parks:
///   its thread runs its other coroutines meanwhile;
/// * a thread's own stack, on a thread other than the task's, blocks until
///   the task has ended (a task whose thread never runs `jmpco_run` again
///   ends when that thread exits: see below);
/// * a `jmpco_create` coroutine (not spawned) resumed by a spawned
///   coroutine of another thread's scheduler blocks its thread, stalling
///   that scheduler meanwhile.
///
/// A cancelled task that had started ends when its body returns, and its
/// join returns `JMPCO_OK` with what it returned. A task that never runs to
/// its end has no value: cancelled before it started, or freed unfinished
/// because its thread exited without running it to its end (the thread's
/// scheduler is dropped with the thread), or, spawned by C code that a
/// task of jmpco's Rust runtime called, because that runtime shut down
/// first. Such a task's stack is freed as it is, like frames discarded by
/// `longjmp`.
///
/// Returns `JMPCO_OK`; `JMPCO_EINVAL` if `task` is NULL; `JMPCO_ECANCELED`
/// if the task ended without a value, or if the caller is a cancelled
/// task (its waits all fail, this one even when `task` has ended);
/// `JMPCO_EDEADLK`, at once and waiting for nothing, if the wait could
/// never end: `task` is the caller itself, or the caller runs on the
/// task's thread but cannot park there, so the scheduler could never run
/// the task meanwhile: the thread's own stack outside `jmpco_run` (call
/// `jmpco_run` first, or join from a coroutine), or a `jmpco_create`
/// coroutine resumed by one of its spawned coroutines. (A join on the
/// task's thread of a task that has ended returns its outcome.) On error
/// `*result` is unchanged.
///
/// A cycle of joins (task A joins B while B joins A, directly or through
/// other tasks) is not detected: its tasks wait until one of them is
/// cancelled (its join returns `JMPCO_ECANCELED`, and once it returns the
/// others' joins go on), and `jmpco_run` with them.
///
/// # Safety
/// `task` is NULL or a handle from `jmpco_spawn_task` not yet released,
/// and not released while this call runs; `result` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jmpco_join(task: *mut jmpco_task, result: *mut *mut c_void) -> c_int {
    guard("jmpco_join", || {
        // SAFETY: NULL or a live handle (the caller's contract).
        let Some(task) = (unsafe { task_ref(task) }) else {
            return JMPCO_EINVAL;
        };
        stop_cancellation(|| match task.join() {
            Ok(CValue(value)) => {
                if !result.is_null() {
                    // SAFETY: non-null and writable (the caller's contract).
                    unsafe { result.write(value) };
                }
                JMPCO_OK
            }
            Err(JoinFailed::NoValue | JoinFailed::Refused) => JMPCO_ECANCELED,
            Err(JoinFailed::Deadlock) => JMPCO_EDEADLK,
        })
    })
}

/// Asks `task` to stop. Cancellation is cooperative: nothing of the body is
/// run, unwound or freed by it (C frames are never unwound). Once the cancel
/// has reached the task's scheduler:
/// * a task that has not started never runs: its stack is freed, and
///   `jmpco_join` returns `JMPCO_ECANCELED`;
/// * a task parked in a runtime wait (`jmpco_wait_fd`, `jmpco_sleep_ms`,
///   `jmpco_yield`, `jmpco_join`, `jmpco_chan_send`, `jmpco_chan_recv`) is
///   woken, and that wait returns `JMPCO_ECANCELED` (a send or a receive
///   then moves no message; see there for a message handed over in the
///   turn the cancel came);
/// * a running task (it cancelled itself, or a `jmpco_create` coroutine it
///   resumed did) gets `JMPCO_ECANCELED` from its next wait;
///
/// and every later wait of the task returns `JMPCO_ECANCELED` at once, even
/// on an fd that is ready, a zero sleep or a join of an ended task. The
/// body is expected to clean up and return; `jmpco_join` then returns
/// `JMPCO_OK` with what it returned. (A body that never waits again runs to
/// its end unaffected.)
///
/// On the task's own thread (in one of the thread's coroutines, or on its
/// stack outside `jmpco_run`) the cancel reaches the scheduler at once.
/// From another thread it is posted to the scheduler, which reads its mail
/// between turns: the task may run until its next wait first, and one not
/// started yet may start first, to see its first wait fail.
///
/// Cancelling a task that has ended, or that was cancelled already, does
/// nothing. May be called from any thread.
///
/// Returns `JMPCO_OK`; `JMPCO_EINVAL` if `task` is NULL.
///
/// # Safety
/// `task` is NULL or a handle from `jmpco_spawn_task` not yet released,
/// and not released while this call runs.
#[no_mangle]
pub unsafe extern "C" fn jmpco_cancel(task: *mut jmpco_task) -> c_int {
    guard("jmpco_cancel", || {
        // SAFETY: NULL or a live handle (the caller's contract).
        let Some(task) = (unsafe { task_ref(task) }) else {
            return JMPCO_EINVAL;
        };
        task.cancel();
        JMPCO_OK
    })
}

/// Frees the handle `task`: it must not be used again, by any thread (nor
/// while another call on it runs). The task itself is not affected: if it
/// has not ended, it runs on to its end, detached, like a `jmpco_spawn`
/// one, and its return value is discarded.
///
/// Release every handle from `jmpco_spawn_task` exactly once, joined or
/// not. A handle never released is leaked (a small block; the task's stack
/// is freed when it ends all the same, and no fd is kept open). May be
/// called from any thread.
///
/// Returns `JMPCO_OK` (the handle is gone); `JMPCO_EINVAL` if `task` is
/// NULL.
///
/// # Safety
/// `task` is NULL or a handle from `jmpco_spawn_task` not yet released;
/// no other call uses it during or after this one.
#[no_mangle]
pub unsafe extern "C" fn jmpco_task_release(task: *mut jmpco_task) -> c_int {
    guard("jmpco_task_release", || {
        if task.is_null() {
            return JMPCO_EINVAL;
        }
        // SAFETY: `jmpco_spawn_task` made it with `Arc::into_raw` of a
        // `CTask`; the caller gives up its count now.
        drop(unsafe { Arc::from_raw(task.cast_const().cast::<CTask>()) });
        JMPCO_OK
    })
}
