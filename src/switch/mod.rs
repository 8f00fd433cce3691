//! The switch: the backend-agnostic face of the C switch shim, and one
//! module per backend behind it.
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
//! # The modules
//! Each backend is one module implementing the same small set of
//! operations, the [`Switch`] trait of `ops.rs`: its context
//! type, whether it survives CET shadow stacks, and `init`, `resume`,
//! `suspend`, `exit`. [`Contexts`] picks the module by the coroutine's
//! [`Backend`] and computes where its two contexts lie; the modules know
//! nothing of coroutines.
//!
//! * `sjlj.rs`: `_setjmp`/`_longjmp` (`csrc/switch_sjlj.c`).
//! * `ucontext.rs`: `swapcontext` (`csrc/switch_ucontext.c`).
//! * `asm.rs`: the hand-written switch (`csrc/switch_asm.S`), whose resume,
//!   suspend and exit are `asm!` blocks there, inlined into their callers,
//!   and whose init writes a fresh context's frame from Rust.
//! * `cet.rs`: the shadow-stack check that refuses sjlj and asm under CET.
//! * `ops.rs`: the trait and the types it shares with the coroutine layer
//!   ([`Entry`], [`Back`]).
//!
//! A resume returns a [`Back`]: the transfer, and "suspended" where the
//! backend's switch knows it (only asm's does, in a register), else "a
//! suspend or the exit", for the coroutine layer to settle from what the
//! body left in its header. `ops.rs` says why.
//!
//! Sanitizers: with the `asan` feature the shim is compiled with
//! `-DJMPCO_ASAN` and every switch, exit and first entry carries
//! AddressSanitizer's fiber annotations (`csrc/asan_fiber.h` explains them).
//! That is why [`Contexts::init`] hands every backend the stack size: the own
//! context announces `[stack_top - stack_size, stack_top)` as its stack, and
//! the caller context learns its bounds from ASan on the first switch in.
//! On this side only the asm backend changes with the feature: its inline
//! entries, exit and init give way to the annotated C ones (`asm.rs`). Stable Rust
//! itself cannot be built with ASan. Valgrind's stack registration is
//! `stack::valgrind`.

mod asm;
mod cet;
mod ops;
mod sjlj;
mod ucontext;

use std::ffi::c_void;
use std::io;
use std::mem::size_of;

use asm::Asm;
use ops::Switch;
pub(crate) use ops::{Back, Entry};
use sjlj::Sjlj;
use ucontext::Ucontext;

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

    /// Fails if this backend cannot switch stacks in this process: `sjlj`
    /// and `asm` under Intel CET shadow stacks (`cet.rs`).
    pub(crate) fn check_supported(self) -> io::Result<()> {
        let safe = match self {
            Backend::Sjlj => Sjlj::SHADOW_STACK_SAFE,
            Backend::Ucontext => Ucontext::SHADOW_STACK_SAFE,
            Backend::Asm => Asm::SHADOW_STACK_SAFE,
        };
        cet::check(self.name(), safe)
    }

    /// Bytes of one context of this backend.
    const fn context_size(self) -> usize {
        match self {
            Backend::Sjlj => size_of::<<Sjlj as Switch>::Context>(),
            Backend::Ucontext => size_of::<<Ucontext as Switch>::Context>(),
            Backend::Asm => size_of::<<Asm as Switch>::Context>(),
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

// Each backend module asserts its context's size and its alignment,
// JMPCO_CTX_ALIGN; the sizes are multiples of it (the bindgen layout
// asserts), so contexts carved one below the other stay aligned, and so
// does the entry stack top below them.
const _: () = assert!(sys::JMPCO_STACK_ALIGN as usize == 16);

/// A coroutine's pair of contexts, placed on its stack by [`Contexts::carve`].
///
/// Only the address they hang below is stored: the two contexts sit at
/// fixed offsets under `top` (the coroutine's control block), so the switch
/// finds them with an address computation on a pointer it already holds,
/// not with loads. Each switch is a chain of dependent loads (the target's
/// stack pointer, then the registers it saved); loading the context
/// pointers from memory too would put one more load on that chain, both
/// ways, every round trip. Within a backend's branch the offsets are
/// constants (the context size of that backend's module).
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

    /// Where the resumer waits while the coroutine runs: the upper context,
    /// as backend `B`'s, at a constant offset.
    #[inline(always)]
    fn caller<B: Switch>(&self) -> *mut B::Context {
        self.top.wrapping_sub(size_of::<B::Context>()).cast()
    }

    /// Where the coroutine waits while it is suspended: the lower context,
    /// as backend `B`'s, at a constant offset.
    #[inline(always)]
    fn own<B: Switch>(&self) -> *mut B::Context {
        self.top.wrapping_sub(2 * size_of::<B::Context>()).cast()
    }

    /// [`Contexts::caller`] of whichever backend this is, untyped: one
    /// address computation for every backend (a select on it), which the
    /// hot dispatch below casts in each arm.
    #[inline(always)]
    fn any_caller(&self) -> *mut u8 {
        self.top.wrapping_sub(self.backend.context_size())
    }

    /// [`Contexts::own`] of whichever backend this is, untyped, as
    /// [`Contexts::any_caller`]. (Computed apart from it, not from one
    /// shared size: written that way, the compiler stopped making one copy
    /// of a loop of resumes per backend.)
    #[inline(always)]
    fn any_own(&self) -> *mut u8 {
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
        // Context sizes are multiples of JMPCO_CTX_ALIGN (see the asserts
        // above), so both stay aligned.
        let contexts = Contexts::below(backend, top);
        (contexts, top.wrapping_sub(Contexts::footprint(backend)))
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
    #[inline]
    pub(crate) unsafe fn init(
        &self,
        stack_top: *mut u8,
        stack_size: usize,
        entry: Entry,
    ) -> io::Result<()> {
        match self.backend {
            // SAFETY: `own` is the sjlj context `carve` placed below
            // `self.top`, and the caller guarantees `stack_top` is the free,
            // aligned top below both contexts.
            Backend::Sjlj => unsafe {
                Sjlj::init(self.own::<Sjlj>(), stack_top, stack_size, entry)
            },
            // SAFETY: as above, for the ucontext context.
            Backend::Ucontext => unsafe {
                Ucontext::init(self.own::<Ucontext>(), stack_top, stack_size, entry)
            },
            // SAFETY: as above, for the asm context.
            Backend::Asm => unsafe { Asm::init(self.own::<Asm>(), stack_top, stack_size, entry) },
        }
    }

    /// Saves the running context as the caller's and continues the
    /// coroutine. Returns the `transfer` of the switch that comes back, as
    /// a [`Back`] that says "suspended" only where the backend knows it
    /// (asm's inline switch); otherwise the body's side settles it.
    ///
    /// # Safety
    /// The own context must be fresh or suspended (saved by [`Contexts::suspend`]
    /// and not continued since), on this thread.
    #[inline(always)]
    pub(crate) unsafe fn resume(&self, transfer: *mut c_void) -> Back {
        // asm first and on its own: the test falls through into its inline
        // switch, and the offsets are constants. The other backends share
        // one computation of their addresses (`any_caller`, `any_own`), not
        // a constant pair per arm. With a pair per arm, the compiler stopped
        // making one copy of a loop of resumes per backend: it kept all
        // three pairs live across the loop, spilled to the stack, and
        // reloaded around the asm switch what that clobbers (seen in the
        // compiled loop of the study's `switch` bench; together with the
        // jump table `coroutine::header::BodyState` explains, that made the
        // asm round trip 1.23x as long, sjlj 1.07x).
        if self.backend == Backend::Asm {
            // SAFETY: both are asm contexts carved by `carve`; the own one
            // is fresh or suspended (the caller's contract).
            return unsafe { Asm::resume(self.caller::<Asm>(), self.own::<Asm>(), transfer) };
        }
        let (caller, own) = (self.any_caller(), self.any_own());
        match self.backend {
            // SAFETY: `any_caller`/`any_own` placed them by the sjlj context
            // size, so both are sjlj contexts carved by `carve`; the own one
            // is fresh or suspended (the caller's contract).
            Backend::Sjlj => unsafe { Sjlj::resume(caller.cast(), own.cast(), transfer) },
            // SAFETY: as above, for ucontext contexts.
            Backend::Ucontext => unsafe { Ucontext::resume(caller.cast(), own.cast(), transfer) },
            Backend::Asm => unreachable!("asm is taken above"),
        }
    }

    /// Saves the running coroutine in its own context and continues its
    /// caller. Returns the `transfer` of the resume that comes back.
    ///
    /// # Safety
    /// Must run on the coroutine's own stack while it is the running one, so
    /// the caller context holds a live, suspended resumer.
    #[inline]
    pub(crate) unsafe fn suspend(&self, transfer: *mut c_void) -> *mut c_void {
        // Dispatched as in `resume`, for the loops of suspends in bodies.
        if self.backend == Backend::Asm {
            // SAFETY: both are asm contexts carved by `carve`; we run on the
            // coroutine's stack and the caller context holds the resumer,
            // which `resume` saved.
            return unsafe { Asm::suspend(self.own::<Asm>(), self.caller::<Asm>(), transfer) };
        }
        let (caller, own) = (self.any_caller(), self.any_own());
        match self.backend {
            // SAFETY: `any_caller`/`any_own` placed them by the sjlj context
            // size, so both are sjlj contexts carved by `carve`; we run on
            // the coroutine's stack and the caller context holds the resumer.
            Backend::Sjlj => unsafe { Sjlj::suspend(own.cast(), caller.cast(), transfer) },
            // SAFETY: as above, for ucontext contexts.
            Backend::Ucontext => unsafe { Ucontext::suspend(own.cast(), caller.cast(), transfer) },
            Backend::Asm => unreachable!("asm is taken above"),
        }
    }

    /// Continues the caller for good, saving nothing: the last switch of a
    /// finished coroutine.
    ///
    /// # Safety
    /// As for [`Contexts::suspend`], and the own context must never be
    /// continued again (it is not saved).
    ///
    /// Always inline, so that no `call` lies between the first resume's
    /// `call` and asm's exit `ret`: out of line, the `ret` popped the
    /// return stack entry of the call of this function, mispredicted, and
    /// left the resumer's entry stale for its next return. In the study's
    /// `create` bench (its own engine, 3M creations) that made asm-pooled
    /// 47 ns instead of 27 (with about the same instruction count).
    #[inline(always)]
    pub(crate) unsafe fn exit(&self, transfer: *mut c_void) -> ! {
        match self.backend {
            // SAFETY: the caller context holds the suspended resumer.
            Backend::Sjlj => unsafe { Sjlj::exit(self.caller::<Sjlj>(), transfer) },
            // SAFETY: as above.
            Backend::Ucontext => unsafe { Ucontext::exit(self.caller::<Ucontext>(), transfer) },
            // SAFETY: as above.
            Backend::Asm => unsafe { Asm::exit(self.caller::<Asm>(), transfer) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_runs_without_shadow_stacks_so_every_backend_passes() {
        // The CI machine has no user shadow stacks enabled (glibc 2.36 does
        // not turn them on); the check must then accept everything.
        assert!(!cet::enabled());
        for backend in Backend::ALL {
            backend
                .check_supported()
                .expect("allowed without shadow stacks");
        }
    }
}
