//! Turning a coroutine stack overflow into a clear message.
//!
//! Every coroutine stack has a guard region below it (see `stack/`). A body
//! that overflows its stack touches the guard and the kernel raises SIGSEGV
//! (or SIGBUS). By then the stack pointer is inside the guard, so the
//! handler can only run on an alternate signal stack: each thread that
//! creates a coroutine gets one (`sigaltstack`) unless it already has one
//! (Rust's std gives its threads one).
//!
//! The handler is installed once per process and remembers the handler it
//! replaced. On a fault it asks whether the address lies in the guard of
//! the thread's running coroutine: the stack registry (`stack/`) says
//! which stack, if any, holds the address and the stack pointer, and the
//! coroutine layer, which owns the control block at each stack's top, says
//! whose stack it is through the [`OwnerOf`] function it hands to
//! [`install_for_this_thread`]. (Handed in, not imported: this module sits
//! below `coroutine/`, which calls it.) If so it writes
//! `jmpco: coroutine <id> overflowed its <N>-byte stack` to stderr and
//! aborts (SIGABRT); otherwise it passes the fault on to the previous
//! handler, or to the default action, unchanged. Only async-signal-safe
//! work happens inside: a thread-local read, arithmetic, `write(2)`,
//! `abort(3)`.
//!
//! Limits: a single frame larger than the guard could jump over it. Rust
//! code probes every page of large frames, so that needs C or assembly
//! with huge frames.

use std::cell::{Cell, RefCell};
use std::ffi::{c_int, c_void};
use std::fmt::Write as _;
use std::io;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::OnceLock;

use crate::stack::{stack_of, Stack};

/// Bytes of the alternate signal stack jmpco gives a thread without one.
const ALT_STACK_SIZE: usize = 64 * 1024;

/// The signals a stack overflow can raise.
const SIGNALS: [c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// The handlers ours replaced, per entry of `SIGNALS`; set once, before our
/// handler can run.
static PREVIOUS: [OnceLock<libc::sigaction>; 2] = [OnceLock::new(), OnceLock::new()];

/// Names the coroutine on a stack: the id of the coroutine whose stack
/// ends at `stack_top`, if one was ever installed there. Called from the
/// signal handler, so it must be async-signal-safe (no lock, no
/// allocation).
///
/// # Safety
/// `stack_top` is the top of a mapped jmpco stack (one the stack registry
/// holds).
pub(crate) type OwnerOf = unsafe fn(stack_top: usize) -> Option<u64>;

/// The [`OwnerOf`] of the first [`install_for_this_thread`]; set once,
/// before our handler can run.
static OWNER_OF: OnceLock<OwnerOf> = OnceLock::new();

thread_local! {
    /// Set once this thread has an alternate stack and the process handler.
    static READY: Cell<bool> = const { Cell::new(false) };
    /// The alternate signal stack jmpco made for this thread, if it had none.
    static ALT_STACK: RefCell<Option<AltStack>> = const { RefCell::new(None) };
}

/// Makes sure a stack overflow on this thread is reported: installs the
/// process-wide handler (once) and this thread's alternate signal stack.
/// `owner_of` names the coroutine whose guard was hit; the process keeps
/// the first one given. Cheap after the first call on a thread.
pub(crate) fn install_for_this_thread(owner_of: OwnerOf) -> io::Result<()> {
    if READY.with(Cell::get) {
        return Ok(());
    }
    install_handlers(owner_of)?;
    ensure_alt_stack()?;
    READY.with(|r| r.set(true));
    Ok(())
}

fn install_handlers(owner_of: OwnerOf) -> io::Result<()> {
    static INSTALLED: OnceLock<Result<(), i32>> = OnceLock::new();
    let result = INSTALLED.get_or_init(|| {
        // Before our handler can run, as PREVIOUS below.
        let _ = OWNER_OF.set(owner_of);
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: sigaction is plain data; all-zero is a valid value
            // that we then fill in.
            let mut action: libc::sigaction = unsafe { MaybeUninit::zeroed().assume_init() };
            action.sa_sigaction = handle_fault as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            // SAFETY: sa_mask is a valid sigset_t to initialise.
            unsafe { libc::sigemptyset(&mut action.sa_mask) };
            let mut old = MaybeUninit::<libc::sigaction>::zeroed();
            // Record what we replace before our handler can run: set the
            // previous handler's slot from a query first.
            // SAFETY: a null `act` only queries; `old` is writable.
            if unsafe { libc::sigaction(sig, ptr::null(), old.as_mut_ptr()) } != 0 {
                return Err(errno());
            }
            // SAFETY: sigaction succeeded, so `old` is initialised.
            let _ = PREVIOUS[i].set(unsafe { old.assume_init() });
            // SAFETY: `action` is fully initialised and handle_fault has the
            // SA_SIGINFO signature.
            if unsafe { libc::sigaction(sig, &action, ptr::null_mut()) } != 0 {
                return Err(errno());
            }
        }
        Ok(())
    });
    (*result).map_err(io::Error::from_raw_os_error)
}

fn ensure_alt_stack() -> io::Result<()> {
    let mut current = MaybeUninit::<libc::stack_t>::zeroed();
    // SAFETY: a null new stack only queries; `current` is writable.
    if unsafe { libc::sigaltstack(ptr::null(), current.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sigaltstack succeeded, so `current` is initialised.
    let current = unsafe { current.assume_init() };
    if current.ss_flags & libc::SS_DISABLE == 0 {
        return Ok(()); // the thread has one (std's, or the application's)
    }
    // SAFETY: getauxval has no preconditions.
    let min = unsafe { libc::getauxval(libc::AT_MINSIGSTKSZ) } as usize;
    let stack = Stack::fresh(ALT_STACK_SIZE.max(4 * min))?;
    let new = libc::stack_t {
        ss_sp: stack.bottom().cast(),
        ss_flags: 0,
        ss_size: stack.size(),
    };
    // SAFETY: `new` describes writable memory that lives in ALT_STACK until
    // AltStack::drop disables it again.
    if unsafe { libc::sigaltstack(&new, ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    ALT_STACK.with(|slot| *slot.borrow_mut() = Some(AltStack { _memory: stack }));
    Ok(())
}

/// An alternate signal stack jmpco installed; disabled before it is freed.
struct AltStack {
    /// Kept alive (and mapped) until `drop` has disabled it.
    _memory: Stack,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let disable = libc::stack_t {
            ss_sp: ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: disabling the thread's alternate stack is always allowed
        // while not running on it (we are in a TLS destructor, not a handler).
        unsafe { libc::sigaltstack(&disable, ptr::null_mut()) };
    }
}

/// The SIGSEGV/SIGBUS handler. Runs on the alternate signal stack.
extern "C" fn handle_fault(sig: c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    // SAFETY: and a valid ucontext_t for SA_SIGINFO handlers: the interrupted
    // thread's registers.
    let sp =
        unsafe { (*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs[libc::REG_RSP as usize] }
            as usize;
    if let Some((id, size)) = guard_hit(addr, sp) {
        report_overflow(id, size);
        // SAFETY: abort is async-signal-safe.
        unsafe { libc::abort() };
    }
    pass_on(sig, info, context);
}

/// If a fault at `addr`, taken with the stack pointer at `sp`, is a stack
/// overflow: `addr` lies in the guard page of the jmpco stack `sp` is on
/// (or has run into). Then the id and usable size of the coroutine on that
/// stack. The registry lookup and the [`OwnerOf`] call are lock- and
/// allocation-free.
fn guard_hit(addr: usize, sp: usize) -> Option<(u64, usize)> {
    let (stack, in_guard) = stack_of(addr)?;
    let (sp_stack, _) = stack_of(sp)?;
    if !in_guard || sp_stack != stack {
        return None;
    }
    let owner_of = OWNER_OF.get()?;
    // SAFETY: the registry holds only mapped stacks, and the code that
    // overflowed into this guard runs on the stack above it.
    let id = unsafe { owner_of(stack.end) }?;
    Some((id, stack.end - stack.start))
}

/// Writes the overflow message with no allocation or lock.
fn report_overflow(id: u64, size: usize) {
    let mut message = FixedBuf::<96>::new();
    let _ = writeln!(
        message,
        "jmpco: coroutine {id} overflowed its {size}-byte stack"
    );
    let bytes = message.as_bytes();
    // SAFETY: writing a valid buffer to fd 2 is async-signal-safe.
    unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len()) };
}

/// Hands a fault that is not ours to the handler we replaced, or restores
/// the default action so the faulting instruction, re-run, kills the process
/// as it would have without jmpco.
fn pass_on(sig: c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    let previous = SIGNALS
        .iter()
        .position(|&s| s == sig)
        .and_then(|i| PREVIOUS[i].get());
    match previous {
        Some(prev) if prev.sa_sigaction != libc::SIG_DFL && prev.sa_sigaction != libc::SIG_IGN => {
            if prev.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was installed with SA_SIGINFO,
                // so it has this signature.
                let handler: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) =
                    unsafe { std::mem::transmute(prev.sa_sigaction) };
                handler(sig, info, context);
            } else {
                // SAFETY: without SA_SIGINFO a handler takes only the signal.
                let handler: extern "C" fn(c_int) =
                    unsafe { std::mem::transmute(prev.sa_sigaction) };
                handler(sig);
            }
        }
        _ => {
            // SAFETY: a zeroed sigaction is SIG_DFL with no flags.
            let mut default: libc::sigaction = unsafe { MaybeUninit::zeroed().assume_init() };
            default.sa_sigaction = libc::SIG_DFL;
            // SAFETY: restoring the default action is async-signal-safe.
            unsafe { libc::sigaction(sig, &default, ptr::null_mut()) };
        }
    }
}

fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

/// A `fmt::Write` into a fixed array: formatting without allocating.
struct FixedBuf<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> FixedBuf<N> {
    fn new() -> Self {
        FixedBuf {
            bytes: [0; N],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl<const N: usize> std::fmt::Write for FixedBuf<N> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len.checked_add(s.len()).filter(|&e| e <= N);
        let end = end.ok_or(std::fmt::Error)?;
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
