//! The backend-agnostic face of the C switch shim.
//!
//! A coroutine owns two *contexts* (see `csrc/jmpco_switch.h`): its own,
//! where it waits while suspended, and its caller's, where whoever resumed it
//! waits while it runs. [`Contexts`] carves both from the top of the
//! coroutine's stack, so creating a coroutine allocates nothing else:
//!
//! ```text
//!   stack top (page aligned)
//!   +------------------------+
//!   | control block (Rust)   |  coroutine::Header
//!   +------------------------+  <- Contexts::top (16-byte aligned)
//!   | caller context         |  saved by resume's switch, continued by suspend
//!   +------------------------+
//!   | own context            |  saved by suspend's switch, continued by resume
//!   +------------------------+
//!   | the body's closure     |  until the body starts and moves it out
//!   +------------------------+  <- entry stack top (16-byte aligned)
//!   | the body's frames      |
//!   |          ...           |  grows down
//!   +------------------------+  <- bottom
//!   | guard page(s)          |  PROT_NONE / MADV_GUARD_INSTALL
//!   +------------------------+
//! ```
//!
//! Both contexts are always saved and continued by the coroutine's own
//! backend. Which backend a coroutine uses is fixed when it is created.
//!
//! Sanitizers: with the `asan` feature the shim is compiled with
//! `-DJMPCO_ASAN` and every switch, exit and first entry carries
//! AddressSanitizer's fiber annotations (`csrc/asan_fiber.h` explains them).
//! That is why [`Contexts::init`] hands every backend the stack size: the own
//! context announces `[stack_top - stack_size, stack_top)` as its stack, and
//! the caller context learns its bounds from ASan on the first switch in.
//! Nothing on this side changes with the feature; stable Rust itself cannot
//! be built with ASan. Valgrind's stack registration is `stack::valgrind`.

use std::ffi::c_void;
use std::io;
use std::mem::{align_of, size_of};

#[cfg(not(feature = "asan"))]
use crate::asm_entry;
use crate::sys;

/// How a coroutine switches stacks. Chosen per coroutine at creation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Backend {
    /// `_setjmp`/`_longjmp` plus a stack-pointer move on first entry: saves
    /// only the callee-saved registers, never the signal mask. The default.
    #[default]
    Sjlj,
    /// `getcontext`/`makecontext`/`swapcontext`, as in the seed notes: also
    /// saves the signal mask, one `rt_sigprocmask` system call per switch.
    /// Kept as the baseline the study compares against.
    Ucontext,
    /// The notes' third way: a hand-written x86-64 switch
    /// (`csrc/switch_asm.S`) that saves rbx, rbp and the resume address on
    /// the running stack and swaps stack pointers; the Rust side enters it
    /// from inline asm that declares the other callee-saved registers
    /// clobbered, and pairs each resume and suspend like a call and its
    /// return so the CPU predicts both. No branch, no library call;
    /// debuggers unwind through it by its CFI. Like [`Backend::Sjlj`], it
    /// leaves MXCSR and the x87 control word to the thread.
    Asm,
}

impl Backend {
    /// Every backend, in the order the benchmarks report them.
    pub const ALL: [Backend; 3] = [Backend::Sjlj, Backend::Ucontext, Backend::Asm];

    /// The backend's short name, as the CLI tools spell it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sjlj => "sjlj",
            Backend::Ucontext => "ucontext",
            Backend::Asm => "asm",
        }
    }

    /// Runs `rounds` resume+suspend round trips of this backend's switch in
    /// the raw C loop of `csrc/bench_loop.c` (no Rust in the loop), on a
    /// coroutine it leaves suspended in `stack`. The benchmarks' baseline for
    /// the cost of the Rust layer.
    #[doc(hidden)]
    pub fn raw_c_round_trips(self, stack: &mut crate::stack::Stack, rounds: u64) -> io::Result<()> {
        let top = stack.top().cast();
        let size = stack.size();
        // SAFETY: `&mut Stack` means no coroutine lives on it; the C loop
        // only uses memory below `top`, and leaves a suspended coroutine
        // there that owns nothing and is never continued.
        let rc = unsafe {
            match self {
                Backend::Sjlj => sys::jmpco_bench_sjlj_round_trips(top, size, rounds),
                Backend::Ucontext => sys::jmpco_bench_ucontext_round_trips(top, size, rounds),
                Backend::Asm => sys::jmpco_bench_asm_round_trips(top, size, rounds),
            }
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "the raw C {self} loop could not set up its context"
            )))
        }
    }

    /// Bytes of one context of this backend.
    const fn context_size(self) -> usize {
        match self {
            Backend::Sjlj => size_of::<sys::jmpco_sjlj_ctx>(),
            Backend::Ucontext => size_of::<sys::jmpco_ucontext_ctx>(),
            Backend::Asm => size_of::<sys::jmpco_asm_ctx>(),
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| format!("unknown backend {s:?}: expected sjlj, ucontext or asm"))
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

// The Rust view of the opaque context storage must match the C macros the
// backends `_Static_assert` against.
const _: () = {
    assert!(size_of::<sys::jmpco_sjlj_ctx>() == sys::JMPCO_SJLJ_CTX_SIZE as usize);
    assert!(size_of::<sys::jmpco_ucontext_ctx>() == sys::JMPCO_UCONTEXT_CTX_SIZE as usize);
    assert!(align_of::<sys::jmpco_sjlj_ctx>() == sys::JMPCO_CTX_ALIGN as usize);
    assert!(align_of::<sys::jmpco_ucontext_ctx>() == sys::JMPCO_CTX_ALIGN as usize);
    assert!(size_of::<sys::jmpco_asm_ctx>() == sys::JMPCO_ASM_CTX_SIZE as usize);
    assert!(align_of::<sys::jmpco_asm_ctx>() == sys::JMPCO_CTX_ALIGN as usize);
    assert!(sys::JMPCO_STACK_ALIGN as usize == 16);
};

/// The function a fresh context starts in; see [`sys::jmpco_entry_fn`].
pub(crate) type Entry = unsafe extern "C" fn(transfer: *mut c_void);

/// A coroutine's pair of contexts, placed on its stack by [`Contexts::carve`].
///
/// Only the address they hang below is stored: the two contexts sit at
/// fixed offsets under `top` (the coroutine's control block), so the switch
/// finds them with an address computation on a pointer it already holds,
/// not with loads. Each switch is a chain of dependent loads (the target's
/// stack pointer, then the registers it saved); loading the context
/// pointers from memory too would put one more load on that chain, both
/// ways, every round trip.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Contexts {
    backend: Backend,
    /// The 16-byte aligned address the two contexts are carved below.
    top: *mut u8,
}

impl Contexts {
    /// The contexts of `backend` carved just below `top` by an earlier
    /// [`Contexts::carve`].
    #[inline(always)]
    pub(crate) fn below(backend: Backend, top: *mut u8) -> Contexts {
        Contexts { backend, top }
    }

    /// Where the resumer waits while the coroutine runs: the upper context.
    #[inline(always)]
    fn caller(&self) -> *mut u8 {
        self.top.wrapping_sub(self.backend.context_size())
    }

    /// Where the coroutine waits while it is suspended: the lower context.
    #[inline(always)]
    fn own(&self) -> *mut u8 {
        self.top.wrapping_sub(2 * self.backend.context_size())
    }

    /// Carves both contexts from the memory just below `top` and returns them
    /// with the new, 16-byte aligned top for the coroutine's frames.
    ///
    /// # Safety
    /// `top` must be 16-byte aligned, and the `2 * context_size` bytes below it
    /// must be writable memory that outlives every use of the returned value.
    pub(crate) unsafe fn carve(backend: Backend, top: *mut u8) -> (Contexts, *mut u8) {
        debug_assert_eq!(top as usize % sys::JMPCO_CTX_ALIGN as usize, 0);
        // Context sizes are multiples of JMPCO_CTX_ALIGN (checked above through
        // the bindgen layout asserts), so both stay aligned.
        let contexts = Contexts::below(backend, top);
        (contexts, contexts.own())
    }

    /// Bytes [`Contexts::carve`] takes from the top of the stack.
    pub(crate) const fn footprint(backend: Backend) -> usize {
        2 * backend.context_size()
    }

    /// Makes the own context fresh: the next [`Contexts::resume`] calls
    /// `entry(transfer)` on the stack `[stack_top - stack_size, stack_top)`.
    ///
    /// # Safety
    /// The contexts must come from [`Contexts::carve`]; `stack_top` must be the
    /// top it returned, and the stack below it must be unused by anything else
    /// (the coroutine is not suspended in it). `entry` must never return.
    pub(crate) unsafe fn init(
        &self,
        stack_top: *mut u8,
        stack_size: usize,
        entry: Entry,
    ) -> io::Result<()> {
        match self.backend {
            Backend::Sjlj => {
                // SAFETY: `own` is a carved, aligned sjlj context; the caller
                // guarantees the stack below `stack_top` is free.
                unsafe {
                    sys::jmpco_sjlj_init(
                        self.own().cast(),
                        stack_top.cast(),
                        stack_size,
                        Some(entry),
                    )
                };
                Ok(())
            }
            Backend::Ucontext => {
                // SAFETY: as above, for a ucontext context.
                let rc = unsafe {
                    sys::jmpco_ucontext_init(
                        self.own().cast(),
                        stack_top.cast(),
                        stack_size,
                        Some(entry),
                    )
                };
                if rc == 0 {
                    Ok(())
                } else {
                    Err(io::Error::last_os_error())
                }
            }
            Backend::Asm => {
                // SAFETY: `own` is a carved, aligned asm context; init writes
                // its start frame just below `stack_top`, which is free.
                unsafe {
                    sys::jmpco_asm_init(
                        self.own().cast(),
                        stack_top.cast(),
                        stack_size,
                        Some(entry),
                    )
                };
                Ok(())
            }
        }
    }

    /// Saves the running context as the caller's and continues the
    /// coroutine. Returns the `transfer` of the switch that comes back, and
    /// `true` if that switch was certainly a suspend (`false`: ask the
    /// state; only the asm backend can tell).
    ///
    /// # Safety
    /// The own context must be fresh or suspended (saved by [`Contexts::suspend`]
    /// and not continued since), on this thread.
    #[inline]
    pub(crate) unsafe fn resume(&self, transfer: *mut c_void) -> (*mut c_void, bool) {
        // asm first and on its own: the test falls through into its inline
        // switch, and the offsets are constants.
        #[cfg(not(feature = "asan"))]
        if self.backend == Backend::Asm {
            let asm = Contexts::below(Backend::Asm, self.top);
            // SAFETY: both are asm contexts carved by `carve`; the own one
            // is fresh or suspended (the caller's contract).
            return unsafe { asm_entry::resume(asm.caller().cast(), asm.own().cast(), transfer) };
        }
        // SAFETY: forwarded from the caller's contract.
        (
            unsafe { self.switch(self.caller(), self.own(), transfer) },
            false,
        )
    }

    /// Saves the running coroutine in its own context and continues its
    /// caller. Returns the `transfer` of the resume that comes back.
    ///
    /// # Safety
    /// Must run on the coroutine's own stack while it is the running one, so
    /// the caller context holds a live, suspended resumer.
    #[inline]
    pub(crate) unsafe fn suspend(&self, transfer: *mut c_void) -> *mut c_void {
        #[cfg(not(feature = "asan"))]
        if self.backend == Backend::Asm {
            let asm = Contexts::below(Backend::Asm, self.top);
            // SAFETY: both are asm contexts carved by `carve`; we run on the
            // coroutine's stack and the caller context holds the resumer,
            // which `resume` saved.
            return unsafe { asm_entry::suspend(asm.own().cast(), asm.caller().cast(), transfer) };
        }
        if self.backend == Backend::Sjlj {
            // SAFETY: as for `switch`: both are sjlj contexts carved by
            // `carve`, and the caller context is suspended.
            return unsafe {
                sys::jmpco_sjlj_suspend(self.own().cast(), self.caller().cast(), transfer)
            };
        }
        // SAFETY: forwarded from the caller's contract.
        unsafe { self.switch(self.own(), self.caller(), transfer) }
    }

    /// Continues the caller for good, saving nothing: the last switch of a
    /// finished coroutine.
    ///
    /// # Safety
    /// As for [`Contexts::suspend`], and the own context must never be
    /// continued again (it is not saved).
    pub(crate) unsafe fn exit(&self, transfer: *mut c_void) -> ! {
        match self.backend {
            // SAFETY: the caller context holds the suspended resumer.
            Backend::Sjlj => unsafe { sys::jmpco_sjlj_exit(self.caller().cast(), transfer) },
            // SAFETY: as above.
            Backend::Ucontext => unsafe {
                sys::jmpco_ucontext_exit(self.caller().cast(), transfer)
            },
            // SAFETY: as above.
            Backend::Asm => unsafe { sys::jmpco_asm_exit(self.caller().cast(), transfer) },
        }
    }

    /// The backend's C-ABI switch, for the directions that have no entry
    /// of their own: sjlj's resume, ucontext both ways, asm under `asan`.
    ///
    /// # Safety
    /// `to` must be fresh or suspended; `from` and `to` are contexts of
    /// `self.backend` carved by [`Contexts::carve`].
    #[inline(always)]
    unsafe fn switch(&self, from: *mut u8, to: *mut u8, transfer: *mut c_void) -> *mut c_void {
        match self.backend {
            // SAFETY: the caller guarantees both are valid contexts of this
            // backend and that `to` may be continued.
            Backend::Sjlj => unsafe { sys::jmpco_sjlj_switch(from.cast(), to.cast(), transfer) },
            // SAFETY: as above.
            Backend::Ucontext => unsafe {
                sys::jmpco_ucontext_switch(from.cast(), to.cast(), transfer)
            },
            // SAFETY: as above.
            Backend::Asm => unsafe { sys::jmpco_asm_switch(from.cast(), to.cast(), transfer) },
        }
    }
}
