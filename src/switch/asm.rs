//! The asm backend: a hand-written x86-64 switch (`csrc/switch_asm.S`,
//! `csrc/switch_asm_init.c`) that saves rbx, rbp and the resume address on
//! the running stack and swaps stack pointers. Its resume and suspend are
//! the fragments of `csrc/` (`switch_asm_resume.inc`,
//! `switch_asm_suspend.inc`, each followed by `switch_asm_land.inc`)
//! assembled inline, here, so that a round trip costs one `call` and one
//! `ret` and nothing else that jumps (the essay in `csrc/switch_asm.S`
//! explains the protocol and why); the C-ABI `jmpco_asm_switch` serves the
//! exit and the `asan` feature.
//!
//! - The resume pushes rbp and rbx, records in the caller context where
//!   its `call` will push the resume address, and `call`s the coroutine's
//!   saved pc: a landing that pops the coroutine's rbx and rbp.
//! - The suspend pushes rbp, rbx and its landing's address, saves its stack
//!   pointer in the own context and `ret`s into the resumer: the return the
//!   CPU predicted when the resumer called. It also clears eax, which the
//!   resumer's landing keeps: the one backend whose resume knows, from a
//!   register, that the coroutine suspended ([`Back::Suspended`]); every
//!   other way back leaves rax non-zero.
//! - The exit saves nothing: it moves onto the resumer's saved frame, sets
//!   eax to 1 and `ret`s into it like a suspend, so the resumer's `call`
//!   of the first resume is answered by the exit's `ret` (the CPU predicts
//!   it). It was the C-ABI `jmpco_asm_exit`: a call into C, a save of every
//!   callee-saved register into a thread-local scratch context and a
//!   `call` into the resumer's landing, whose unmatched return stack entry
//!   cost the next returns their prediction. Inline, a create, first
//!   resume, finish and drop (the study's `create` bench) took 352
//!   instructions instead of 375 when it was made so. The prediction
//!   holds only if no `call` lies between the entry and the exit block,
//!   which is why `Contexts::exit` is always inlined into the entry.
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
//! - The exit block is `noreturn`: the compiler assumes nothing after it,
//!   so it needs no clobbers; it reads only the caller context and rdx.
//! - No CFI inside the blocks: at their boundaries the function's own CFI
//!   holds; a debugger stopped on one of their instructions may show a
//!   wrong caller.
//!
//! The inline blocks are not used with the `asan` feature: ASan needs its fiber annotations around
//! every switch, which only the C-ABI `jmpco_asm_switch` wrapper makes, so
//! there both directions go through it and a resume cannot tell a suspend
//! from the exit ([`Back::SuspendedOrExited`]).

#[cfg(not(feature = "asan"))]
use std::arch::asm;
use std::ffi::c_void;
use std::io;
use std::mem::{align_of, size_of};
#[cfg(not(feature = "asan"))]
use std::ptr;

use super::ops::{Back, Entry, Switch};
use crate::sys;

// The Rust view of the opaque context must match the C macro the backend
// `_Static_assert`s against.
const _: () = {
    assert!(size_of::<sys::jmpco_asm_ctx>() == sys::JMPCO_ASM_CTX_SIZE as usize);
    assert!(align_of::<sys::jmpco_asm_ctx>() == sys::JMPCO_CTX_ALIGN as usize);
};

/// One `asm!` block of `$fragment` and the landing, with the operands and
/// clobbers both entries share (see the module docs): the contexts in
/// `$from_reg` and `$to_reg`, the transfer in rdx both ways, r12-r15 and
/// every scratch register clobbered. Evaluates to the transfer that came
/// back and rax, which a suspend leaves 0.
#[cfg(not(feature = "asan"))]
macro_rules! enter_switch {
    ($fragment:literal; $from_reg:tt = $from:expr, $to_reg:tt = $to:expr, $transfer:expr) => {{
        let back: *mut c_void;
        let rax: usize;
        asm!(
            include_str!(concat!("../../csrc/", $fragment)),
            include_str!("../../csrc/switch_asm_land.inc"),
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

/// A fresh context's frame, lowest address first: pc, rbx, rbp and the zero
/// return address `entry` sees (`struct asm_fresh_frame` of
/// `csrc/switch_asm_init.c`, which asserts these offsets against
/// `csrc/switch_asm_layout.h`).
#[cfg(not(feature = "asan"))]
type FreshFrame = [usize; 4];

/// `JMPCO_ASM_FRESH_SIZE`: the bytes of [`FreshFrame`].
#[cfg(not(feature = "asan"))]
const FRESH_FRAME_SIZE: usize = size_of::<FreshFrame>();

#[cfg(not(feature = "asan"))]
extern "C" {
    /// The start stub's landing (`csrc/switch_asm.S`): a code address that
    /// is only ever planted as a fresh context's pc, never called.
    static jmpco_asm_start_land: u8;
}

/// The address of the start stub's landing.
#[cfg(not(feature = "asan"))]
#[inline(always)]
fn start_land() -> usize {
    // Only the address is taken: the byte there (code) is never read.
    ptr::addr_of!(jmpco_asm_start_land) as usize
}

/// The asm backend's switch.
pub(crate) struct Asm;

impl Switch for Asm {
    type Context = sys::jmpco_asm_ctx;

    /// A suspend's `ret` returns across stacks, which a shadow stack
    /// rejects (see the essay in `csrc/switch_asm.S`).
    const SHADOW_STACK_SAFE: bool = false;

    /// The inline init: writes the fresh frame `jmpco_asm_init` writes
    /// (its picture in `csrc/switch_asm.S`) from here, so that creating a
    /// coroutine makes no call into C for it: four words below
    /// `stack_top` (the start stub's landing as the pc, `entry` as rbx, a
    /// zero rbp and a zero return address for `entry`) and the context's
    /// saved sp pointing at them. The test
    /// `inline_init_writes_what_jmpco_asm_init_writes` holds the two to the
    /// same bytes.
    #[cfg(not(feature = "asan"))]
    #[inline(always)]
    unsafe fn init(
        own: *mut Self::Context,
        stack_top: *mut u8,
        _stack_size: usize,
        entry: Entry,
    ) -> io::Result<()> {
        let frame = stack_top
            .wrapping_sub(FRESH_FRAME_SIZE)
            .cast::<FreshFrame>();
        let fresh: FreshFrame = [start_land(), entry as usize, 0, 0];
        // SAFETY: `stack_top` is 16-byte aligned and the stack below it is
        // free (the caller's contract), so the 32 bytes of the frame are
        // writable and aligned for words; `own` is a carved, aligned asm
        // context, whose saved sp is its first word (JMPCO_ASM_CTX_SP = 0).
        unsafe {
            frame.write(fresh);
            own.cast::<*mut FreshFrame>().write(frame);
        }
        Ok(())
    }

    /// The `asan` feature's init: the C one, which also records the
    /// stack's bounds for the fiber annotations and plants the annotated
    /// start.
    #[cfg(feature = "asan")]
    unsafe fn init(
        own: *mut Self::Context,
        stack_top: *mut u8,
        stack_size: usize,
        entry: Entry,
    ) -> io::Result<()> {
        // SAFETY: `own` is a carved, aligned asm context; init writes its
        // start frame just below `stack_top`, which is free (the caller's
        // contract).
        unsafe { sys::jmpco_asm_init(own, stack_top.cast(), stack_size, Some(entry)) };
        Ok(())
    }

    /// The inline resume: saves the running context in `caller` and
    /// continues `own`. Says [`Back::Suspended`] when the suspend's cleared
    /// rax came back; whoever comes back must do so through `caller`.
    #[cfg(not(feature = "asan"))]
    #[inline(always)]
    unsafe fn resume(
        caller: *mut Self::Context,
        own: *mut Self::Context,
        transfer: *mut c_void,
    ) -> Back {
        // SAFETY: the protocol in the module docs and csrc/switch_asm.S: the
        // block ends once another switch continues `caller`, with every
        // register it does not list as clobbered restored (rbx, rbp, rsp).
        // The caller guarantees both are this coroutine's asm contexts and
        // that `own` is fresh (`jmpco_asm_init`) or suspended.
        let (back, rax) = unsafe {
            enter_switch!("switch_asm_resume.inc"; "rdi" = caller, "rsi" = own, transfer)
        };
        if rax == 0 {
            Back::Suspended(back)
        } else {
            Back::SuspendedOrExited(back)
        }
    }

    /// The `asan` feature's resume: the annotated C-ABI switch, which
    /// cannot tell a suspend from the exit.
    #[cfg(feature = "asan")]
    unsafe fn resume(
        caller: *mut Self::Context,
        own: *mut Self::Context,
        transfer: *mut c_void,
    ) -> Back {
        // SAFETY: both are asm contexts carved for this coroutine and `own`
        // may be continued (the caller's contract).
        Back::SuspendedOrExited(unsafe { sys::jmpco_asm_switch(caller, own, transfer) })
    }

    /// The inline suspend: saves the running coroutine in `own` and
    /// `ret`s into the resumer that `caller` holds, the return the CPU
    /// predicted at that resume's `call`.
    #[cfg(not(feature = "asan"))]
    #[inline(always)]
    unsafe fn suspend(
        own: *mut Self::Context,
        caller: *mut Self::Context,
        transfer: *mut c_void,
    ) -> *mut c_void {
        // SAFETY: as for `resume`: the block saves rbp, rbx and its landing's
        // address on this stack and stores rsp in `own`; continuing `own`
        // lands after them and pops them, so the block ends with rsp as it
        // began. We run on the coroutine's stack and `caller` holds the
        // resumer that continued it through the inline resume (the caller's
        // contract), so the `ret` into it is the one the CPU expects.
        unsafe { enter_switch!("switch_asm_suspend.inc"; "rsi" = own, "rdi" = caller, transfer).0 }
    }

    /// The `asan` feature's suspend: the annotated C-ABI switch.
    #[cfg(feature = "asan")]
    unsafe fn suspend(
        own: *mut Self::Context,
        caller: *mut Self::Context,
        transfer: *mut c_void,
    ) -> *mut c_void {
        // SAFETY: both are asm contexts carved for this coroutine, and
        // `caller` holds the suspended resumer (the caller's contract).
        unsafe { sys::jmpco_asm_switch(own, caller, transfer) }
    }

    /// The inline exit: `ret`s into the resumer that `caller` holds, with
    /// eax = 1 so its landing knows this was no suspend.
    #[cfg(not(feature = "asan"))]
    #[inline(always)]
    unsafe fn exit(caller: *mut Self::Context, transfer: *mut c_void) -> ! {
        // SAFETY: `caller` holds the resumer, saved by the inline resume
        // (or the C-ABI switch) with its pc on top of its saved frame (the
        // caller's contract); the block moves rsp there and `ret`s to that
        // pc, the landing, which restores the resumer's rbx, rbp and rsp.
        // Nothing of this side is used again.
        unsafe {
            asm!(
                include_str!("../../csrc/switch_asm_exit.inc"),
                in("rdi") caller,
                in("rdx") transfer,
                options(noreturn, att_syntax),
            )
        }
    }

    /// The `asan` feature's exit: the C one, which announces to ASan that
    /// this stack is left for good.
    #[cfg(feature = "asan")]
    unsafe fn exit(caller: *mut Self::Context, transfer: *mut c_void) -> ! {
        // SAFETY: `caller` holds the suspended resumer (the caller's
        // contract).
        unsafe { sys::jmpco_asm_exit(caller, transfer) }
    }
}

#[cfg(all(test, not(feature = "asan")))]
mod tests {
    use super::*;

    /// A context and a stack to init it on.
    #[repr(C, align(16))]
    struct Pair {
        ctx: sys::jmpco_asm_ctx,
        stack: [usize; 8],
    }

    unsafe extern "C" fn never_run(_: *mut c_void) {
        unreachable!("no context in this test is ever continued")
    }

    /// Where the context's saved sp points, from its stack top, and the
    /// four words there.
    fn fresh_of(pair: &Pair) -> (usize, [usize; 4]) {
        let top = pair.stack.as_ptr_range().end as usize;
        // SAFETY: the saved sp is the context's first word (JMPCO_ASM_CTX_SP
        // = 0), written by the init under test.
        let sp = unsafe { ptr::addr_of!(pair.ctx).cast::<usize>().read() };
        assert!(
            sp >= pair.stack.as_ptr() as usize && sp + 32 <= top,
            "sp {sp:#x}"
        );
        // SAFETY: checked just above: the four words lie inside `stack`.
        let words = unsafe { (sp as *const [usize; 4]).read() };
        (top - sp, words)
    }

    #[test]
    fn inline_init_writes_what_jmpco_asm_init_writes() {
        let mut c = Pair {
            ctx: sys::jmpco_asm_ctx { opaque: [0; 32] },
            stack: [usize::MAX; 8],
        };
        let mut rust = Pair {
            ctx: sys::jmpco_asm_ctx { opaque: [0; 32] },
            stack: [usize::MAX; 8],
        };
        let c_top = c.stack.as_mut_ptr_range().end.cast::<u8>();
        let rust_top = rust.stack.as_mut_ptr_range().end.cast::<u8>();
        // SAFETY: each context is aligned and its stack top 16-byte
        // aligned (the struct's alignment, and 64 bytes of stack above a
        // 32-byte context), with room for the frame; neither context is
        // ever continued.
        unsafe {
            sys::jmpco_asm_init(&mut c.ctx, c_top.cast(), 64, Some(never_run));
            Asm::init(&mut rust.ctx, rust_top, 64, never_run).unwrap();
        }
        let (c_depth, c_frame) = fresh_of(&c);
        let (rust_depth, rust_frame) = fresh_of(&rust);
        assert_eq!(rust_depth, FRESH_FRAME_SIZE);
        assert_eq!((rust_depth, rust_frame), (c_depth, c_frame));
        assert_eq!(rust_frame[1], never_run as Entry as usize, "rbx = entry");
        // Nothing else of either stack was written.
        assert_eq!(c.stack[..4], rust.stack[..4]);
        assert!(rust.stack[..4].iter().all(|&w| w == usize::MAX));
    }
}
