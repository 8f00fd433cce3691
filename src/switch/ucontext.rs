//! The ucontext backend (`csrc/switch_ucontext.c`):
//! `getcontext`/`makecontext`/`swapcontext`, as in the seed notes. Also
//! saves the signal mask, one `rt_sigprocmask` system call per switch;
//! kept as the baseline the study compares against.
//!
//! One C switch serves both directions, and it lands in the same place
//! whether the coroutine suspended or exited, so a resume cannot tell the
//! two apart ([`Back::SuspendedOrExited`]).

use std::ffi::c_void;
use std::io;
use std::mem::{align_of, size_of};

use super::ops::{Back, Entry, Switch};
use crate::sys;

// The Rust view of the opaque context must match the C macros the backend
// `_Static_assert`s against.
const _: () = {
    assert!(size_of::<sys::jmpco_ucontext_ctx>() == sys::JMPCO_UCONTEXT_CTX_SIZE as usize);
    assert!(align_of::<sys::jmpco_ucontext_ctx>() == sys::JMPCO_CTX_ALIGN as usize);
};

/// The ucontext backend's switch.
pub(crate) struct Ucontext;

impl Switch for Ucontext {
    type Context = sys::jmpco_ucontext_ctx;

    /// glibc gives each `makecontext` context a shadow stack of its own
    /// when shadow stacks are on.
    const SHADOW_STACK_SAFE: bool = true;

    unsafe fn init(
        own: *mut Self::Context,
        stack_top: *mut u8,
        stack_size: usize,
        entry: Entry,
    ) -> io::Result<()> {
        // SAFETY: `own` is a carved, aligned ucontext context and the stack
        // below `stack_top` is free (the caller's contract).
        let rc =
            unsafe { sys::jmpco_ucontext_init(own, stack_top.cast(), stack_size, Some(entry)) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    #[inline(always)]
    unsafe fn resume(
        caller: *mut Self::Context,
        own: *mut Self::Context,
        transfer: *mut c_void,
    ) -> Back {
        // SAFETY: both are ucontext contexts carved for this coroutine and
        // `own` may be continued (the caller's contract).
        Back::SuspendedOrExited(unsafe { sys::jmpco_ucontext_switch(caller, own, transfer) })
    }

    #[inline(always)]
    unsafe fn suspend(
        own: *mut Self::Context,
        caller: *mut Self::Context,
        transfer: *mut c_void,
    ) -> *mut c_void {
        // SAFETY: both are ucontext contexts carved for this coroutine, and
        // `caller` holds the suspended resumer (the caller's contract).
        unsafe { sys::jmpco_ucontext_switch(own, caller, transfer) }
    }

    unsafe fn exit(caller: *mut Self::Context, transfer: *mut c_void) -> ! {
        // SAFETY: `caller` holds the suspended resumer (the caller's
        // contract).
        unsafe { sys::jmpco_ucontext_exit(caller, transfer) }
    }
}
