//! The exported C API: `include/jmpco.h` is generated from this module by
//! cbindgen (`scripts/regen-header.sh`; the `c_header` test fails when the
//! committed header drifts). The doc comments of the exports are the
//! contract C programmers read.
//!
//! # The model
//! A C caller gets the same coroutines as a Rust caller, with `void *` for
//! every value: a `jmpco_coro *` owns a
//! [`Coroutine<*mut c_void, *mut c_void, *mut c_void>`](crate::Coroutine)
//! whose body calls the C `jmpco_fn`. Values cross unchanged and are never
//! dereferenced, freed or copied by the library: their ownership is the C
//! program's business.
//!
//! * **Handles** (`handle.rs`): a `jmpco_coro` is a heap block holding, apart
//!   from the `Coroutine`, what must stay readable while the coroutine runs:
//!   a mirror of its state, its id, the owning thread and the coroutine's
//!   `Yielder` (made with it). The `Coroutine` sits in an `UnsafeCell` that is borrowed
//!   mutably only by the `jmpco_resume` running it; every other call reads
//!   the mirror first and refuses (`JMPCO_EBUSY`) while the state is
//!   `JMPCO_EXEC`, so no second `&mut` can ever be made.
//! * **Which coroutine `jmpco_yield` suspends**: the C coroutine whose
//!   stack the thread runs on, the coroutine core's own answer (the one
//!   behind [`crate::current`]): its header carries its handle as a tag;
//!   otherwise (no coroutine, or a coroutine of the Rust API) the answer is
//!   `JMPCO_ENOTCORO`.
//! * **Destroy never runs the body**: `jmpco_destroy` of a suspended
//!   coroutine frees its stack as it is, like `longjmp` discarding frames
//!   (`Coroutine::abandon`): C frames cannot be unwound by Rust.
//! * **Threads**: a coroutine belongs to the thread that created it; every
//!   call that touches it from another thread returns `JMPCO_EINVAL`
//!   (`jmpco_status` and `jmpco_id` may be called from anywhere). A thread
//!   is known by a number it takes from a process-wide counter on its first
//!   call, never reused: not by the address of a thread-local, which glibc
//!   gives to the next thread that gets the exited one's cached stack. So
//!   once the creating thread has exited no thread owns the coroutine:
//!   every call that needs the owner returns `JMPCO_EINVAL`, it can never be
//!   resumed or destroyed, and its handle and stack are leaked.
//! * **A body leaves only by returning or `jmpco_yield`**: a `longjmp` out of
//!   the coroutine is forbidden (a C++ exception or `pthread_exit` even more
//!   so: they unwind Rust frames that do not allow it), and the library does
//!   not repair what a jump leaves. The `jmpco_resume` calls it skips never
//!   reset the mirror, so those coroutines stay `JMPCO_EXEC`:
//!   every later resume, reset and destroy is `JMPCO_EBUSY`, and their
//!   handles and stacks leak. Nothing else is left behind: which coroutine
//!   runs is read from the stack the thread is on, so on the thread's own
//!   stack `jmpco_current` is null, and in the body of an outer coroutine
//!   the jump landed in it names that coroutine, which can yield, be
//!   resumed and return as ever.
//! * **The runtime tier** (`runtime.rs`): `jmpco_spawn` queues a C body as
//!   a task of the calling thread's scheduler (`crate::rt::local`: the
//!   runtime's scheduler, run on the caller's thread by `jmpco_run` until
//!   no task is left); `jmpco_wait_fd` and `jmpco_sleep_ms` park the task.
//!   These tasks are *foreign*: the scheduler never unwinds them, it frees
//!   their stacks as they are if it must drop them (`Coroutine::abandon`).
//!   In one, `jmpco_current` answers a handle standing for the task (see
//!   `handle.rs`) and `jmpco_yield` yields to the scheduler.
//! * **Task handles** (`task.rs`): `jmpco_spawn_task` hands back a
//!   `jmpco_task` to join (`jmpco_join`: a coroutine parks, a thread
//!   blocks) and cancel (`jmpco_cancel`: cooperative, the task's waits
//!   fail with `JMPCO_ECANCELED` and its body returns by itself).
//! * **Channels** (`chan.rs`): a `jmpco_chan` is one handle on both ends of
//!   a `rt::channel` of `void *`, shared by every sender and receiver on
//!   any thread; spawned coroutines and Rust tasks park in it, plain
//!   threads block.
//! * **Registered I/O** (`fdio.rs`): `jmpco_read`, `jmpco_write`,
//!   `jmpco_accept`, `jmpco_connect` and `jmpco_close` on fds the program
//!   hands over, each keeping one registration for the fd's life
//!   (`crate::rt::raw_io`); POSIX returns with `errno`, since they stand
//!   for the system calls of those names.
//!
//! # Panic policy
//! No panic crosses into C. Every export runs its whole body through
//! `guard`, which catches any unwinding; since every refusal is an error
//! code, a panic here is a bug in this library, so `guard` prints which
//! export failed and why, and aborts the process. (One wrapper macro would
//! say the same, but cbindgen reads the source without expanding macros,
//! and the exports would vanish from the header; the unit test
//! `every_export_runs_its_body_through_guard` checks each export instead.)
//! The waits of the runtime tier add one thing under `guard`: a Rust task
//! cancelled while C code it called waits there has its unwinding stopped
//! at the export, which returns `JMPCO_ECANCELED` (`stop_cancellation`,
//! here beside `guard`).
//!
//! # Where this module stands
//! It is the C programs' API; Rust code uses the Rust API. It is public so
//! that Rust code linking C libraries built against the header can call
//! the same functions (and so that its docs are one click away from the
//! Rust types they wrap); nothing in it is needed from Rust.

mod chan;
mod coro;
mod fdio;
mod handle;
mod runtime;
mod task;
mod types;

use std::any::Any;
use std::ffi::c_int;
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use crate::coroutine::panic_message;
use crate::rt::task::{is_deadline_unwind, stop_deadline_unwind};

pub use chan::{
    jmpco_chan, jmpco_chan_close, jmpco_chan_free, jmpco_chan_make, jmpco_chan_recv,
    jmpco_chan_send,
};
pub use coro::{
    jmpco_create, jmpco_current, jmpco_destroy, jmpco_id, jmpco_options_init, jmpco_reset,
    jmpco_resume, jmpco_status, jmpco_strerror, jmpco_yield,
};
pub use fdio::{jmpco_accept, jmpco_close, jmpco_connect, jmpco_read, jmpco_write};
pub use handle::jmpco_coro;
pub use runtime::{
    jmpco_run, jmpco_sleep_ms, jmpco_spawn, jmpco_spawn_with, jmpco_wait_fd, JMPCO_READABLE,
    JMPCO_WRITABLE,
};
pub use task::{jmpco_cancel, jmpco_join, jmpco_spawn_task, jmpco_task, jmpco_task_release};
pub use types::{
    jmpco_backend, jmpco_fn, jmpco_options, jmpco_state, JMPCO_EBUSY, JMPCO_ECANCELED,
    JMPCO_ECLOSED, JMPCO_EDEADLK, JMPCO_EDONE, JMPCO_EINVAL, JMPCO_ENOMEM, JMPCO_ENOTCORO,
    JMPCO_ETIMEDOUT, JMPCO_MIN_STACK_SIZE, JMPCO_OK,
};

/// The timeout a runtime wait's `timeout_ms` stands for, the C tier's one
/// convention: -1 none (`Some(None)`), 0 and up that many milliseconds;
/// `None` for a value below -1, which the exports refuse (`JMPCO_EINVAL`,
/// or `EINVAL`).
pub(crate) fn timeout_from_ms(timeout_ms: c_int) -> Option<Option<Duration>> {
    match timeout_ms {
        -1 => Some(None),
        ms if ms >= 0 => Some(Some(Duration::from_millis(ms.unsigned_abs().into()))),
        _ => None,
    }
}

/// Runs an export's body; a panic out of it aborts the process with a
/// message naming the export instead of unwinding into C.
#[inline(always)]
pub(crate) fn guard<T>(export: &str, body: impl FnOnce() -> T) -> T {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => abort_after_panic(export, payload.as_ref()),
    }
}

#[cold]
#[inline(never)]
fn abort_after_panic(export: &str, payload: &(dyn Any + Send)) -> ! {
    eprintln!(
        "jmpco: internal error: {export} panicked ({}); aborting instead of unwinding into C",
        panic_message(payload)
    );
    std::process::abort()
}

/// Runs a wait that parks the calling task, stopping the two unwinds a
/// task of the Rust API can start at its park points, which cannot cross
/// the C frames between this export and the Rust code that called into C:
///
/// * a cancellation (the task is aborted, or its runtime shuts down): the
///   wait returns `JMPCO_ECANCELED`. The task stays marked as cancelled:
///   its later waits are refused too, so the C code returns to its Rust
///   caller, which ends the task;
/// * an `rt::timeout` / `rt::deadline` frame's deadline: the wait returns
///   `JMPCO_ETIMEDOUT` (it was bounded by the frame's deadline, and that
///   passed). The frame stays armed: the task's next park, in C or in
///   Rust, fires it again, so once the C code has returned to Rust the
///   unwind resumes and the frame returns `Elapsed`.
///
/// (C bodies spawned with `jmpco_spawn` are never unwound: their cancel
/// refuses their waits, see `jmpco_cancel`.) Any other panic goes on to
/// `guard`.
pub(crate) fn stop_cancellation(wait: impl FnOnce() -> c_int) -> c_int {
    stop_cancellation_or(wait, || JMPCO_ECANCELED, || JMPCO_ETIMEDOUT)
}

/// [`stop_cancellation`] for a wait whose results for the two stopped
/// unwinds are `cancelled()` and `timed_out()` (the registered I/O calls
/// return -1 with `errno` set to `ECANCELED`, or to their timeout's).
pub(crate) fn stop_cancellation_or<T>(
    wait: impl FnOnce() -> T,
    cancelled: impl FnOnce() -> T,
    timed_out: impl FnOnce() -> T,
) -> T {
    match panic::catch_unwind(AssertUnwindSafe(wait)) {
        Ok(status) => status,
        Err(payload) if crate::coroutine::is_cancellation(&payload) => cancelled(),
        Err(payload) if is_deadline_unwind(payload.as_ref()) => {
            stop_deadline_unwind();
            timed_out()
        }
        Err(payload) => panic::resume_unwind(payload),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

    use super::{guard, panic_message};

    const CHILD: &str = "JMPCO_FFI_GUARD_CHILD";

    #[test]
    fn panic_in_an_export_aborts_with_a_message_instead_of_unwinding() {
        if std::env::var_os(CHILD).is_some() {
            guard("jmpco_example", || panic!("boom"));
            unreachable!("guard returned after a panic");
        }
        let exe = std::env::current_exe().expect("the test binary");
        let output = Command::new(exe)
            .args([
                "ffi::tests::panic_in_an_export_aborts_with_a_message_instead_of_unwinding",
                "--exact",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .output()
            .expect("run the child");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.signal(), Some(libc::SIGABRT), "{stderr}");
        assert!(
            stderr.contains("jmpco: internal error: jmpco_example panicked (boom)"),
            "{stderr}"
        );
    }

    /// Each `#[no_mangle]` function of this module's files, and the first
    /// line of its body, which must be `guard("<its name>", ...`.
    #[test]
    fn every_export_runs_its_body_through_guard() {
        let files = [
            ("chan.rs", include_str!("chan.rs")),
            ("coro.rs", include_str!("coro.rs")),
            ("runtime.rs", include_str!("runtime.rs")),
            ("task.rs", include_str!("task.rs")),
            ("fdio.rs", include_str!("fdio.rs")),
            ("handle.rs", include_str!("handle.rs")),
            ("types.rs", include_str!("types.rs")),
            ("mod.rs", include_str!("mod.rs")),
        ];
        let mut exports = 0;
        for (file, text) in files {
            let mut rest = text;
            while let Some(at) = rest.find("#[no_mangle]\n") {
                rest = &rest[at + "#[no_mangle]\n".len()..];
                let sig_end = rest.find(") -> ").expect("an export returns a value");
                let name_at = rest.find("fn ").expect("an export is a fn") + 3;
                let name = &rest[name_at..rest[name_at..].find('(').unwrap() + name_at];
                assert!(name_at < sig_end, "{file}: odd export signature");
                let body = &rest[rest.find("{\n").expect("a body") + 2..];
                let first = body.lines().next().unwrap_or("").trim();
                assert!(
                    first.starts_with(&format!("guard(\"{name}\", ")),
                    "{file}: export {name} does not start with guard(\"{name}\", ..): {first}"
                );
                exports += 1;
            }
        }
        assert!(exports >= 15, "found only {exports} exports");
    }

    #[test]
    fn guard_passes_the_value_through() {
        assert_eq!(guard("test", || 7), 7);
    }

    #[test]
    fn panic_messages_are_read_from_str_and_string_payloads() {
        let from_str = std::panic::catch_unwind(|| panic!("plain")).unwrap_err();
        let from_string = std::panic::catch_unwind(|| panic!("{}", 42)).unwrap_err();
        let other = std::panic::catch_unwind(|| std::panic::panic_any(3_u8)).unwrap_err();
        assert_eq!(panic_message(from_str.as_ref()), "plain");
        assert_eq!(panic_message(from_string.as_ref()), "42");
        assert_eq!(panic_message(other.as_ref()), "(non-string payload)");
    }
}
