//! The C API's value types and codes, spelled exactly as `include/jmpco.h`
//! spells them.

use std::ffi::{c_char, c_int, c_void};

use crate::stack::DEFAULT_STACK_SIZE;
use crate::{Backend, State};

/// Success.
pub const JMPCO_OK: c_int = 0;
/// An argument is NULL or invalid (including: a coroutine used on a thread
/// other than the one that created it).
pub const JMPCO_EINVAL: c_int = -1;
/// A stack or handle could not be allocated.
pub const JMPCO_ENOMEM: c_int = -2;
/// The coroutine is `JMPCO_TERM` or `JMPCO_EXCEPT`: its body has ended.
pub const JMPCO_EDONE: c_int = -3;
/// The coroutine is running (`JMPCO_EXEC`): it is the caller itself or one
/// of the coroutines that (transitively) resumed the caller.
pub const JMPCO_EBUSY: c_int = -4;
/// Called outside any coroutine created through this API: for the core
/// tier (`jmpco_yield`) one made by `jmpco_create` or started by
/// `jmpco_spawn`, for the runtime tier (`jmpco_wait_fd`, `jmpco_sleep_ms`)
/// one started by `jmpco_spawn`.
/// A channel call that would have to wait in a `jmpco_create` coroutine
/// resumed inside a spawned one returns it too.
pub const JMPCO_ENOTCORO: c_int = -5;
/// A runtime wait timed out: its own timeout passed, or, in C code called
/// by a task of the Rust API inside `rt::timeout` / `rt::deadline`, that
/// frame's deadline did (any runtime wait then returns it, `jmpco_sleep_ms`
/// and `jmpco_join` included; return to the Rust caller, whose next park
/// ends the frame).
pub const JMPCO_ETIMEDOUT: c_int = -6;
/// A runtime wait was refused because the calling task is ending: it is a
/// `jmpco_spawn_task` task given to `jmpco_cancel` (return from its body),
/// or a task of the Rust API that is being cancelled (or unwinding a
/// panic), and C code it called waited (return to the caller). Every later
/// wait of that task returns it too. From `jmpco_join`, also: the joined
/// task ended without a value (cancelled before it started).
pub const JMPCO_ECANCELED: c_int = -7;
/// The channel is closed (`jmpco_chan_close`): a send's message was not
/// sent; a receive found nothing left to drain.
pub const JMPCO_ECLOSED: c_int = -8;
/// `jmpco_join` refused a wait that could never end: a coroutine joining
/// itself, or a join on the task's own thread where the scheduler cannot
/// run meanwhile (outside `jmpco_run`, or in a `jmpco_create` coroutine
/// resumed by one of its spawned coroutines).
pub const JMPCO_EDEADLK: c_int = -9;

/// The smallest stack `jmpco_create` gives a coroutine: smaller
/// `stack_size` requests are rounded up to it. It leaves room for the
/// library's own frames on the coroutine's stack (the yield path, and the
/// switch contexts at the top) even in a debug build. Only the pages a body
/// touches cost memory, so the floor costs address space, not RAM.
pub const JMPCO_MIN_STACK_SIZE: usize = 16384;

/// A coroutine's body. It receives the `arg` given to `jmpco_create` (or
/// `jmpco_reset`); the pointer it returns ends the coroutine (`JMPCO_TERM`)
/// and is handed to the resumer through `jmpco_resume`'s `out`.
///
/// A body leaves its coroutine only by returning, or for a while by
/// `jmpco_yield`. Any other way out is forbidden: no `longjmp` or
/// `siglongjmp` to a `jmp_buf` set outside the coroutine (before the
/// `jmpco_resume` that runs it, or in the body of a coroutine that resumed
/// it), no C++ exception escaping the body, no `pthread_exit` (or
/// cancellation) of the thread from inside it. A `longjmp` between the
/// body's own frames is fine.
///
/// What follows a jump out of a `jmpco_create` coroutine: the
/// `jmpco_resume` calls it skips never return, and the coroutines they were
/// running (the one that jumped, and any between it and the jump's target)
/// stay `JMPCO_EXEC` for good. Every later `jmpco_resume`, `jmpco_reset` and
/// `jmpco_destroy` of them (on their thread) returns `JMPCO_EBUSY`, so their
/// handles and stacks, and whatever their bodies owned, are never freed; the
/// library's frames the jump skipped are abandoned as they are. The
/// thread goes on working: `jmpco_current` names the coroutine whose stack
/// it runs on, so if the jump lands on the thread's own stack, coroutines
/// created or resumed afterwards run normally, and if it lands in the body
/// of an outer coroutine, that coroutine runs on as itself (`jmpco_current`
/// names it, and it may `jmpco_yield`, be resumed and return).
///
/// A C++ exception or `pthread_exit` out of any body, and a jump out of a
/// `jmpco_spawn` coroutine, are undefined behaviour: the first two unwind
/// through library frames that do not allow it; the last also skips the
/// scheduler that `jmpco_run` is running.
pub type jmpco_fn = Option<unsafe extern "C" fn(arg: *mut c_void) -> *mut c_void>;

/// How a coroutine switches stacks (see the crate's `Backend`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum jmpco_backend {
    /// `_setjmp`/`_longjmp` plus a stack-pointer move: the default, fast.
    JMPCO_BACKEND_SJLJ = 0,
    /// `getcontext`/`makecontext`/`swapcontext`: the baseline, one
    /// `rt_sigprocmask` system call per switch.
    JMPCO_BACKEND_UCONTEXT = 1,
    /// The hand-written x86-64 switch (`csrc/switch_asm.S`): the fastest.
    /// Like sjlj it leaves the MXCSR/x87 control words to the thread: a
    /// body that changes the rounding mode restores it before it yields.
    JMPCO_BACKEND_ASM = 2,
}

impl jmpco_backend {
    /// The backend whose C value is `raw`, if any. Reading `raw` as an
    /// integer first keeps an out-of-range value from C from ever being
    /// materialised as this enum (which would be undefined behaviour).
    pub(crate) fn from_raw(raw: u32) -> Option<Backend> {
        match raw {
            0 => Some(Backend::Sjlj),
            1 => Some(Backend::Ucontext),
            2 => Some(Backend::Asm),
            _ => None,
        }
    }
}

/// Where a coroutine is in its life: one of five states.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum jmpco_state {
    /// Created or reset, not started: `jmpco_resume` starts it.
    JMPCO_READY = 0,
    /// Running: the caller itself, or a coroutine that resumed the caller.
    JMPCO_EXEC = 1,
    /// Suspended in `jmpco_yield`: `jmpco_resume` continues it.
    JMPCO_HOLD = 2,
    /// Its body returned: only `jmpco_reset` can run it again.
    JMPCO_TERM = 3,
    /// Its body failed (never for a body written in C): only `jmpco_reset`
    /// can run it again.
    JMPCO_EXCEPT = 4,
}

impl jmpco_state {
    pub(crate) fn from_state(state: State) -> Self {
        match state {
            State::Ready => jmpco_state::JMPCO_READY,
            State::Exec => jmpco_state::JMPCO_EXEC,
            State::Hold => jmpco_state::JMPCO_HOLD,
            State::Term => jmpco_state::JMPCO_TERM,
            State::Except => jmpco_state::JMPCO_EXCEPT,
        }
    }

    pub(crate) fn from_u8(raw: u8) -> Self {
        match raw {
            0 => jmpco_state::JMPCO_READY,
            1 => jmpco_state::JMPCO_EXEC,
            2 => jmpco_state::JMPCO_HOLD,
            3 => jmpco_state::JMPCO_TERM,
            _ => jmpco_state::JMPCO_EXCEPT,
        }
    }
}

/// Options for `jmpco_create`. Fill with `jmpco_options_init`, then change
/// what you need.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct jmpco_options {
    /// Usable stack bytes, rounded up to whole pages and to at least
    /// `JMPCO_MIN_STACK_SIZE`; a guard page below it faults on overflow (the
    /// process aborts with a message naming the coroutine). 0 means the
    /// default (64 KiB). Only the pages the body touches cost memory.
    pub stack_size: usize,
    /// The switch the coroutine uses; `JMPCO_BACKEND_SJLJ` by default.
    pub backend: jmpco_backend,
}

impl jmpco_options {
    pub(crate) const DEFAULT: jmpco_options = jmpco_options {
        stack_size: DEFAULT_STACK_SIZE,
        backend: jmpco_backend::JMPCO_BACKEND_SJLJ,
    };
}

/// The static message of a `JMPCO_*` code.
pub(crate) fn message(code: c_int) -> *const c_char {
    let text: &'static std::ffi::CStr = match code {
        JMPCO_OK => c"success",
        JMPCO_EINVAL => c"invalid argument (NULL, out of range, or a coroutine of another thread)",
        JMPCO_ENOMEM => c"out of memory: no stack or handle could be allocated",
        JMPCO_EDONE => c"the coroutine has finished (TERM or EXCEPT)",
        JMPCO_EBUSY => c"the coroutine is running (itself or an ancestor of the caller)",
        JMPCO_ENOTCORO => c"called outside a coroutine of the C API (or of the wrong kind)",
        JMPCO_ETIMEDOUT => c"timed out",
        JMPCO_ECANCELED => {
            c"cancelled (the calling task is being cancelled, or the joined one never ran)"
        }
        JMPCO_EDEADLK => {
            c"the wait could never end (a task joining itself, or its scheduler's thread)"
        }
        JMPCO_ECLOSED => c"the channel is closed",
        _ => c"unknown jmpco error code",
    };
    text.as_ptr()
}
