//! The small set of operations every backend module implements
//! ([`Switch`]), and the two types they share with the coroutine layer:
//! the [`Entry`] a fresh context starts in and the [`Back`] a resume gets.
//!
//! A leaf: the backend modules and the facade in `mod.rs` import it, and it
//! imports neither.

use std::ffi::c_void;
use std::io;

/// The function a fresh context starts in; see `sys::jmpco_entry_fn`.
pub(crate) type Entry = unsafe extern "C" fn(transfer: *mut c_void);

/// What a resume gets back: the `transfer` of the switch that continued
/// the resumer, and what the backend knows of which switch that was.
///
/// A coroutine goes back to its resumer in one of two ways: its suspend,
/// or, once its body has ended, its exit. Only the asm backend's switch
/// tells the two apart by itself: its inline suspend clears rax, and every
/// other way into the resumer's landing (its inline exit, which sets eax
/// to 1, and the C-ABI `jmpco_asm_switch`) leaves rax non-zero
/// (`csrc/switch_asm_suspend.inc`, `csrc/switch_asm_exit.inc`). The
/// sjlj and ucontext switches land in the same place either way, and so
/// does asm under the `asan` feature (C-ABI switches only). So a backend
/// says [`Back::Suspended`] only where its switch knows it, and
/// [`Back::SuspendedOrExited`] everywhere else; the coroutine layer then
/// reads the answer the body left in memory before its exit (the header's
/// body state: the transfer protocol in `coroutine/entry.rs`). Both are
/// free where the backend's answer is a constant: after inlining, the
/// match on the variant is folded away.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Back {
    /// Certainly the coroutine's suspend: the transfer is what it yielded.
    /// Never under the `asan` feature, where asm switches through the C
    /// ABI as well.
    #[cfg_attr(feature = "asan", allow(dead_code))]
    Suspended(*mut c_void),
    /// The coroutine's suspend or its exit: the backend cannot tell which.
    SuspendedOrExited(*mut c_void),
}

/// One backend's switch: what each module under `switch/` implements, on
/// the contexts [`Contexts`](super::Contexts) carves from a coroutine's
/// stack. In every operation `own` is the coroutine's own context (where it
/// waits while suspended) and `caller` its resumer's (where the resumer
/// waits while the coroutine runs); both are the backend's
/// [`Context`](Switch::Context), carved by `Contexts::carve`, and are only
/// ever saved and continued by this backend. The contract every backend
/// keeps is the header's, `csrc/jmpco_switch.h`.
pub(crate) trait Switch {
    /// The backend's context: opaque bytes whose size and alignment the C
    /// side fixes (`csrc/jmpco_switch.h`) and the module asserts.
    type Context;

    /// Whether the switch keeps working with Intel CET user shadow stacks
    /// enabled (see `cet.rs`): a backend without it is refused there.
    const SHADOW_STACK_SAFE: bool;

    /// Makes `own` fresh: the next [`Switch::resume`] calls
    /// `entry(transfer)` on the stack `[stack_top - stack_size, stack_top)`.
    ///
    /// # Safety
    /// `own` is a carved context of this backend; `stack_top` is 16-byte
    /// aligned and the stack below it is unused by anything else (no
    /// coroutine is suspended in it). `entry` never returns.
    unsafe fn init(
        own: *mut Self::Context,
        stack_top: *mut u8,
        stack_size: usize,
        entry: Entry,
    ) -> io::Result<()>;

    /// Saves the running context in `caller` and continues `own`, handing
    /// it `transfer`. Returns when a suspend or the exit continues
    /// `caller`, with what that switch handed back.
    ///
    /// # Safety
    /// `own` is fresh or suspended (saved by [`Switch::suspend`] and not
    /// continued since), on this thread, and whoever comes back does so
    /// through `caller`.
    unsafe fn resume(
        caller: *mut Self::Context,
        own: *mut Self::Context,
        transfer: *mut c_void,
    ) -> Back;

    /// Saves the running coroutine in `own` and continues its resumer in
    /// `caller`. Returns the `transfer` of the resume that comes back.
    ///
    /// # Safety
    /// Runs on the coroutine's own stack while it is the running one, so
    /// `caller` holds the resumer that continued it through
    /// [`Switch::resume`].
    unsafe fn suspend(
        own: *mut Self::Context,
        caller: *mut Self::Context,
        transfer: *mut c_void,
    ) -> *mut c_void;

    /// Continues the resumer in `caller` for good, saving nothing: the last
    /// switch of a finished coroutine.
    ///
    /// # Safety
    /// As for [`Switch::suspend`], and the coroutine's own context is never
    /// continued again (it is not saved).
    unsafe fn exit(caller: *mut Self::Context, transfer: *mut c_void) -> !;
}
