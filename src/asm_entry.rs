//! The Rust side of the asm backend's switch: the resume and suspend
//! fragments of `csrc/` (`switch_asm_resume.inc`, `switch_asm_suspend.inc`,
//! each followed by `switch_asm_land.inc`) assembled inline, so that a
//! round trip costs one `call` and one `ret` and nothing else that jumps
//! (the essay in `csrc/switch_asm.S` explains the protocol and why).
//!
//! - [`resume`] pushes rbp and rbx, records in the caller context where
//!   its `call` will push the resume address, and `call`s the coroutine's
//!   saved pc: a landing that pops the coroutine's rbx and rbp.
//! - [`suspend`] pushes rbp, rbx and its landing's address, saves its stack
//!   pointer in the own context and `ret`s into the resumer: the return the
//!   CPU predicted when the resumer called.
//!
//! Invariants the blocks rely on, all stated to the compiler:
//! - Registers: the fragments preserve only rbx, rbp and rsp. Every scratch
//!   register (`clobber_abi("C")`, which includes the vector, x87 and flag
//!   state) and r12-r15 (`out(..) _`) are clobbered, so the compiler saves
//!   whatever it has live in them. rdx carries the transfer both ways.
//! - Stack: no `nostack`, so rsp is call-aligned at the block and nothing of
//!   the function lives in the red zone below it; both blocks push. Each
//!   block ends with rsp where it began: its landing pops the saved frame.
//! - Memory: no `nomem`/`readonly`: the other side reads and writes
//!   anything while this one is suspended.
//! - Direction flag clear and MXCSR/x87 control words untouched (thread
//!   state, see the essay).
//! - No CFI inside the blocks: at their boundaries the function's own CFI
//!   holds; a debugger stopped on one of their instructions may show a
//!   wrong caller.
//!
//! Not used with the `asan` feature: ASan needs its fiber annotations around
//! every switch, which only the C-ABI `jmpco_asm_switch` wrapper makes.

use std::arch::asm;
use std::ffi::c_void;

use crate::sys::jmpco_asm_ctx;

/// One `asm!` block of `$fragment` and the landing, with the operands and
/// clobbers both entries share (see the module docs): the contexts in
/// `$from_reg` and `$to_reg`, the transfer in rdx both ways, r12-r15 and
/// every scratch register clobbered. Evaluates to the transfer that came
/// back and rax, which a suspend leaves 0.
macro_rules! enter_switch {
    ($fragment:literal; $from_reg:tt = $from:expr, $to_reg:tt = $to:expr, $transfer:expr) => {{
        let back: *mut c_void;
        let rax: usize;
        asm!(
            include_str!(concat!("../csrc/", $fragment)),
            include_str!("../csrc/switch_asm_land.inc"),
            in($from_reg) $from,
            in($to_reg) $to,
            inout("rdx") $transfer => back,
            lateout("rax") rax,
            out("r12") _,
            out("r13") _,
            out("r14") _,
            out("r15") _,
            clobber_abi("C"),
            options(att_syntax),
        );
        (back, rax)
    }};
}

/// Saves the running context in `from` and continues `to`, handing it
/// `transfer`. Returns the `transfer` of the [`suspend`] (or exit) that
/// comes back, and whether it was a [`suspend`] (else the C-ABI switch,
/// as the exit uses).
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
) -> (*mut c_void, bool) {
    // SAFETY: the protocol in the module docs and csrc/switch_asm.S: the
    // block ends once another switch continues `from`, with every register
    // it does not list as clobbered restored (rbx, rbp, rsp). The caller
    // guarantees the contexts are valid.
    let (back, rax) =
        unsafe { enter_switch!("switch_asm_resume.inc"; "rdi" = from, "rsi" = to, transfer) };
    (back, rax == 0)
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
    // SAFETY: as for `resume`: the block saves rbp, rbx and its landing's
    // address on this stack and stores rsp in `from`; continuing `from`
    // lands after them and pops them, so the block ends with rsp as it
    // began.
    unsafe { enter_switch!("switch_asm_suspend.inc"; "rsi" = from, "rdi" = to, transfer).0 }
}
