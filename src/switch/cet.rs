//! Intel CET user shadow stacks, and why two backends refuse to run under
//! them.
//!
//! With a shadow stack enabled, every `call` also pushes its return address
//! on a second, hardware-protected stack, and every `ret` checks the two
//! agree. A coroutine switch changes stacks behind the hardware's back: the
//! asm backend's `ret` into another stack's frame, and glibc's `_longjmp`
//! between stacks (it can only unwind the shadow stack *within* one stack),
//! both fault with a control-protection error (`SIGSEGV`, `SEGV_CPERR`).
//! Supporting that needs a shadow stack per coroutine and `rstorssp`/
//! `saveprevssp` in the switch; jmpco does not do that yet.
//!
//! So before a coroutine is created, [`check`] asks the kernel once
//! (`arch_prctl(ARCH_SHSTK_STATUS)`, Linux 6.6+) whether this thread runs
//! with a shadow stack, and refuses a backend whose switch does not
//! survive one (each backend module says, as `Switch::SHADOW_STACK_SAFE`:
//! `sjlj` and `asm` do not) with a clear error if it does. `ucontext`
//! stays available: glibc gives each `makecontext` context its own shadow
//! stack when shadow stacks are on. On kernels without the call (`EINVAL`)
//! shadow stacks cannot be enabled, and everything is allowed.
//!
//! A leaf: it knows backends only by the name and the flag it is given.

use std::io;
use std::sync::OnceLock;

/// `arch_prctl` code that reads the enabled shadow-stack features.
const ARCH_SHSTK_STATUS: libc::c_int = 0x5005;
/// The feature bit of the shadow stack itself.
const ARCH_SHSTK_SHSTK: u64 = 1 << 0;

/// Fails if the backend called `backend`, which survives shadow stacks
/// exactly when `shadow_stack_safe`, cannot switch stacks in this process
/// because a shadow stack is enabled.
pub(super) fn check(backend: &str, shadow_stack_safe: bool) -> io::Result<()> {
    if shadow_stack_safe || !enabled() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "the {backend} backend cannot run with Intel CET shadow stacks enabled \
             (its switch would fault with a control-protection error); \
             use Backend::Ucontext, or run without user shadow stacks"
        ),
    ))
}

/// Whether the calling thread runs with a shadow stack; asked once per
/// process (threads inherit the setting from the thread that made them).
pub(super) fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        let mut features: u64 = 0;
        // SAFETY: ARCH_SHSTK_STATUS writes one u64 to the address given,
        // which points at `features`; on kernels without it the call fails
        // with EINVAL and writes nothing.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_arch_prctl,
                ARCH_SHSTK_STATUS,
                &mut features as *mut u64,
            )
        };
        rc == 0 && features & ARCH_SHSTK_SHSTK != 0
    })
}
