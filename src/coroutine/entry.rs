//! How values cross a switch, and the first Rust frame on every coroutine
//! stack.
//!
//! # The transfer protocol
//! Every switch carries one pointer (`transfer`). It always points at a
//! value on the *sender's* stack, which stays alive because the sender is
//! suspended until the receiver switches back. The receiver moves the value
//! out with `ptr::read` before it can switch again, from a slot the sender
//! will never drop (`ManuallyDrop`/`MaybeUninit`).
//!
//! * Resumer to a fresh coroutine: a [`Start<I>`]: the coroutine's header
//!   (so the entry finds its closure) and the first input.
//! * Resumer to a suspended coroutine: the input `I` itself, or null to ask
//!   it to unwind (used when a `Hold` coroutine is dropped).
//! * Coroutine to resumer: a `Y` when it suspended; when it finished, it
//!   said so first in the header's `body_state`, which also says what the
//!   pointer is: `Term` an `R` (or null when it finished by being
//!   cancelled), `Except` a [`Payload`] (the body's panic).
//!
//! The state [`Coroutine::state`](crate::Coroutine::state) reports is the
//! owner's record, a field of the `Coroutine`, which only the resumer
//! writes, after a switch comes back. The header's `body_state` is the
//! coroutine's side: the first resume sets it to `Exec`, and it stays so
//! until the entry sets `Term` or `Except` before its last switch. So a
//! switch that comes back with `body_state` still `Exec` was a suspend (the
//! asm switch says so in a register, without the load), and a suspend of a
//! `Hold` coroutine writes no state at all: in a loop of resumes the
//! compiler keeps the owner's `Hold` in a register. No thread-local names
//! the running coroutine either (`header.rs` finds it from the stack
//! pointer). So a suspend and a resume exchange nothing through memory but
//! the switch's own frames and the values themselves: no flag written on
//! one stack and read on the other, which a round trip of a few
//! nanoseconds cannot afford.
//!
//! # Unwinding
//! Panics never cross the C frames of a switch: [`entry`] wraps the body in
//! `catch_unwind`, and the frame below it has a zero return address. A
//! cancel is a `resume_unwind` with the private [`Cancel`] payload, raised by
//! `suspend` when the owner resumes it with null. The entry counts a finish
//! by that payload as a cancellation only if the owner did ask (the header's
//! `cancelling`): a body can keep the payload it caught and another
//! coroutine can re-raise it, and there it is an ordinary panic (`Except`).

use std::any::Any;
use std::ffi::c_void;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};

use super::header::Header;
use super::state::State;
use super::yielder::Yielder;

/// A panic's payload, as `catch_unwind` gives it.
pub(crate) type Payload = Box<dyn Any + Send + 'static>;

/// What the first resume hands to the coroutine; lives on the resumer's
/// stack.
pub(crate) struct Start<I> {
    pub(crate) header: NonNull<Header>,
    /// Moved out by the entry; the resumer never drops it.
    pub(crate) input: ManuallyDrop<I>,
}

/// The unwinding payload that cancels a suspended coroutine. Private, so no
/// body can fake or name it; a body that catches every panic sees it as an
/// opaque payload and should let it continue (`resume_unwind`).
pub(crate) struct Cancel;

/// Whether `payload`, caught on the running coroutine's stack, is that
/// coroutine's own cancellation: the private payload, while its owner is
/// cancelling it. For code that must stop an unwinding at a boundary it
/// cannot cross (the C API's waits) and report it there instead.
pub(crate) fn is_cancellation(payload: &Payload) -> bool {
    payload.is::<Cancel>() && running_is_cancelled()
}

/// Whether the running coroutine's owner is cancelling it: an unwind in
/// progress on it then is (or began as) that cancellation, not a panic. For
/// locks, which do not count a cancellation as a poisoning panic.
pub(crate) fn running_is_cancelled() -> bool {
    super::header::running()
        // SAFETY: `running` only returns live headers.
        .is_some_and(|h| unsafe { h.as_ref() }.cancelling.get())
}

/// The first Rust frame on a coroutine stack, for a body of type `F`.
///
/// # Safety
/// Called only by the C shim on a fresh coroutine stack, with `transfer`
/// pointing at a live `Start<I>` whose header holds an unread `F` placed
/// by `Header::install`/`prepare`.
pub(crate) unsafe extern "C" fn entry<F, I, Y, R>(transfer: *mut c_void)
where
    F: FnOnce(&Yielder<I, Y>, I) -> R,
{
    // SAFETY: the resumer passed a live Start<I> (this function's
    // contract); its input is read exactly once, here.
    let (header, input) = unsafe {
        let start = transfer.cast::<Start<I>>();
        ((*start).header, ManuallyDrop::take(&mut (*start).input))
    };
    // SAFETY: the header outlives the coroutine's run: the Coroutine owning
    // the stack is borrowed by the resume that switched here.
    let h = unsafe { header.as_ref() };
    let (closure_at, _) = h
        .closure
        .take()
        .unwrap_or_else(|| fatal("a coroutine started without a closure"));
    // SAFETY: `closure` held the location of an unread F (contract); taking
    // it out of the header makes this the only read.
    let body = unsafe { ptr::read(closure_at.cast::<F>()) };
    // SAFETY: as above: the header is live.
    let yielder = unsafe { Yielder::new(header) };
    let outcome = panic::catch_unwind(AssertUnwindSafe(move || body(&yielder, input)));

    // Everything with a destructor is dropped, or moved into a slot the
    // resumer reads out, before the final switch: this frame is never
    // resumed, so anything else still alive in it would leak.
    let mut returned = MaybeUninit::<R>::uninit();
    let mut panicked = MaybeUninit::<Payload>::uninit();
    let transfer: *mut c_void = match outcome {
        Ok(value) => {
            returned.write(value);
            h.body_state.set(State::Term);
            returned.as_mut_ptr().cast()
        }
        Err(payload) if payload.is::<Cancel>() && h.cancelling.get() => {
            drop(payload);
            h.body_state.set(State::Term);
            ptr::null_mut()
        }
        Err(payload) => {
            panicked.write(payload);
            h.body_state.set(State::Except);
            panicked.as_mut_ptr().cast()
        }
    };
    // SAFETY: `header` is this coroutine's live header, and this runs on its
    // own stack while it is the running coroutine, so its caller context
    // holds the suspended resumer; the own context is never continued again
    // (only reset, which re-inits it).
    unsafe { Header::contexts(header, h.backend).exit(transfer) }
}

/// A panic payload's message, if it is a string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(non-string payload)"
    }
}

/// Reports a broken internal invariant and aborts: unwinding from here would
/// cross the C frames of a switch.
pub(crate) fn fatal(what: &str) -> ! {
    eprintln!("jmpco: internal error: {what}; aborting");
    std::process::abort()
}
