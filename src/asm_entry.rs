//! The Rust side of the asm backend's switch: two `asm!` blocks that enter
//! `csrc/switch_asm.S` the way its essay requires, so that a resume and the
//! suspend that answers it pair up like a call and its return.
//!
//! - [`resume`] `call`s `jmpco_asm_resume`: the `call` pushes the resumer's
//!   resume address (and a return-stack-buffer entry); the assembly saves
//!   rbx, rbp and the stack pointer in `from` and jumps into `to`.
//! - [`suspend`] pushes its own resume address by hand and `jmp`s to
//!   `jmpco_asm_suspend`, which saves the same three words and `ret`s into
//!   the resumer: the return the CPU predicted when the resumer called.
//!
//! Invariants the blocks rely on, all stated to the compiler:
//! - Registers: the assembly preserves only rbx, rbp and rsp. Every scratch
//!   register (`clobber_abi("C")`, which includes the vector, x87 and flag
//!   state) and r12-r15 (`out(..) _`) are clobbered, so the compiler saves
//!   whatever it has live in them. rax returns the other side's transfer.
//! - Stack: no `nostack`, so rsp is call-aligned at the block and nothing of
//!   the function lives in the red zone below it; both blocks push. Each
//!   block ends with rsp where it began: the pushed resume address is popped
//!   when the context is continued.
//! - Memory: no `nomem`/`readonly`: the other side reads and writes
//!   anything while this one is suspended.
//! - Direction flag clear and MXCSR/x87 control words untouched (thread
//!   state, see the essay).
//!
//! Not used with the `asan` feature: ASan needs its fiber annotations around
//! every switch, which only the C-ABI `jmpco_asm_switch` wrapper makes.

use std::arch::asm;
use std::ffi::c_void;

use crate::sys::jmpco_asm_ctx;

extern "C" {
    // Not C-ABI functions: labels in csrc/switch_asm.S with their own entry
    // protocol, named here only as `sym` operands, never called from Rust.
    fn jmpco_asm_resume();
    fn jmpco_asm_suspend();
}

/// One `asm!` block entering the switch at `$entry` by `$template`, with
/// the operands and clobbers both entries share (see the module docs):
/// from, to and transfer in rdi, rsi and rdx; the other side's transfer
/// back in rax; r12-r15 and every scratch register clobbered.
macro_rules! enter_switch {
    ($($template:literal),+; $entry:path; $from:expr, $to:expr, $transfer:expr) => {{
        let back: *mut c_void;
        asm!(
            $($template),+,
            entry = sym $entry,
            in("rdi") $from,
            in("rsi") $to,
            in("rdx") $transfer,
            out("rax") back,
            out("r12") _,
            out("r13") _,
            out("r14") _,
            out("r15") _,
            clobber_abi("C"),
        );
        back
    }};
}

/// Saves the running context in `from` and continues `to`, handing it
/// `transfer`. Returns the `transfer` of the [`suspend`] (or exit) that
/// comes back.
///
/// # Safety
/// `from` and `to` are asm contexts carved for this thread's coroutine;
/// `to` is fresh (`jmpco_asm_init`) or suspended and not continued since.
/// Whoever comes back must do so through `from`.
#[inline(always)]
pub(crate) unsafe fn resume(
    from: *mut jmpco_asm_ctx,
    to: *mut jmpco_asm_ctx,
    transfer: *mut c_void,
) -> *mut c_void {
    // SAFETY: the protocol in the module docs and csrc/switch_asm.S: the
    // call returns once another switch continues `from`, with every
    // register the block does not list as clobbered restored (rbx, rbp,
    // rsp). The caller guarantees the contexts are valid.
    unsafe { enter_switch!("call {entry}"; jmpco_asm_resume; from, to, transfer) }
}

/// Saves the running coroutine in `from` and continues its resumer's
/// context `to`. Returns the `transfer` of the [`resume`] that comes back.
///
/// # Safety
/// Must run on the coroutine's stack while it runs, with `to` holding the
/// resumer that continued it through [`resume`] (so the `ret` into it is
/// the one the CPU expects), and `from` its own asm context.
#[inline(always)]
pub(crate) unsafe fn suspend(
    from: *mut jmpco_asm_ctx,
    to: *mut jmpco_asm_ctx,
    transfer: *mut c_void,
) -> *mut c_void {
    // SAFETY: as for `resume`: the pushed address (label 2) is this
    // context's resume address; the assembly saves rbx and rbp under it
    // and stores rsp in `from`. Continuing `from` pops all three, so the
    // block ends with rsp as it began.
    unsafe {
        enter_switch!(
            "lea rax, [rip + 2f]",
            "push rax",
            "jmp {entry}",
            "2:";
            jmpco_asm_suspend;
            from, to, transfer
        )
    }
}
