//! The sjlj backend (`csrc/switch_sjlj.c`): `_setjmp`/`_longjmp` plus a
//! stack-pointer move on first entry. Saves only the callee-saved
//! registers, never the signal mask.
//!
//! Two C functions switch, one per direction (`jmpco_sjlj_switch` for the
//! resume, `jmpco_sjlj_suspend` for the way back): the same switch, whose
//! returns take separate jumps, which the CPU predicts better when each is
//! used for one direction only (`csrc/switch_sjlj.c` explains it). Both
//! land in the same place whether the coroutine suspended or exited, so a
//! resume cannot tell the two apart ([`Back::SuspendedOrExited`]).

use std::ffi::c_void;
use std::io;
use std::mem::{align_of, size_of};

use super::ops::{Back, Entry, Switch};
use crate::sys;

// The Rust view of the opaque context must match the C macros the backend
// `_Static_assert`s against.
const _: () = {
    assert!(size_of::<sys::jmpco_sjlj_ctx>() == sys::JMPCO_SJLJ_CTX_SIZE as usize);
    assert!(align_of::<sys::jmpco_sjlj_ctx>() == sys::JMPCO_CTX_ALIGN as usize);
};

/// The sjlj backend's switch.
pub(crate) struct Sjlj;

impl Switch for Sjlj {
    type Context = sys::jmpco_sjlj_ctx;

    /// glibc's `_longjmp` can only unwind a shadow stack within one stack;
    /// a jump to another stack faults.
    const SHADOW_STACK_SAFE: bool = false;

    unsafe fn init(
        own: *mut Self::Context,
        stack_top: *mut u8,
        stack_size: usize,
        entry: Entry,
    ) -> io::Result<()> {
        // SAFETY: `own` is a carved, aligned sjlj context and the stack
        // below `stack_top` is free (the caller's contract).
        unsafe { sys::jmpco_sjlj_init(own, stack_top.cast(), stack_size, Some(entry)) };
        Ok(())
    }

    #[inline(always)]
    unsafe fn resume(
        caller: *mut Self::Context,
        own: *mut Self::Context,
        transfer: *mut c_void,
    ) -> Back {
        // SAFETY: both are sjlj contexts carved for this coroutine and `own`
        // may be continued (the caller's contract).
        Back::SuspendedOrExited(unsafe { sys::jmpco_sjlj_switch(caller, own, transfer) })
    }

    #[inline(always)]
    unsafe fn suspend(
        own: *mut Self::Context,
        caller: *mut Self::Context,
        transfer: *mut c_void,
    ) -> *mut c_void {
        // SAFETY: both are sjlj contexts carved for this coroutine, and
        // `caller` holds the suspended resumer (the caller's contract).
        unsafe { sys::jmpco_sjlj_suspend(own, caller, transfer) }
    }

    unsafe fn exit(caller: *mut Self::Context, transfer: *mut c_void) -> ! {
        // SAFETY: `caller` holds the suspended resumer (the caller's
        // contract).
        unsafe { sys::jmpco_sjlj_exit(caller, transfer) }
    }
}
