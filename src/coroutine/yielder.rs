//! [`Yielder`]: the body's handle for suspending its own coroutine.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic;
use std::ptr::{self, NonNull};

use super::entry::{Cancel, Incoming};
use super::header::{self, Header};
use super::state::{CoroutineId, State};

/// Given to a coroutine's body; [`suspend`](Yielder::suspend) hands a value
/// to the resumer and waits for the next input.
///
/// Neither `Send` nor `Sync`, and only valid inside its own coroutine:
/// calling `suspend` from anywhere else (a nested coroutine the body made,
/// say) panics.
pub struct Yielder<I, Y> {
    pub(crate) header: NonNull<Header>,
    pub(crate) _types: PhantomData<fn(Y) -> I>,
}

impl<I, Y> Yielder<I, Y> {
    /// Suspends the coroutine (state `Hold`), making the pending `resume`
    /// return `CoroutineResult::Yield(value)`; returns the input of the next
    /// `resume`.
    ///
    /// If the coroutine is dropped while suspended here, this does not
    /// return: it unwinds the body's stack so its destructors run. A body
    /// that catches that unwinding should let it continue.
    ///
    /// # Panics
    /// If called outside this yielder's own coroutine.
    #[inline]
    pub fn suspend(&self, value: Y) -> I {
        let header = self.header.as_ptr().cast_const();
        assert!(
            header::is_running(header),
            "jmpco: Yielder::suspend called outside its own coroutine"
        );
        // SAFETY: this coroutine is running, so its header (at the top of its
        // live stack) is valid.
        let h = unsafe { self.header.as_ref() };
        // The resumer moves the value out with ptr::read; ManuallyDrop keeps
        // it from being dropped here as well.
        let mut slot = ManuallyDrop::new(value);
        h.state.set(State::Hold);
        // SAFETY: the header is live (the yielder's coroutine runs); we are on
        // its stack and it is the running one (asserted above), so its caller
        // context holds the resumer.
        let back =
            unsafe { Header::contexts(self.header).suspend(ptr::from_mut(&mut slot).cast()) };
        // SAFETY: whoever resumed us passed a live Incoming<I> of this
        // coroutine's input type (the transfer protocol).
        let incoming = unsafe { &mut *back.cast::<Incoming<I>>() };
        match incoming.input.take() {
            Some(input) => input,
            None => panic::resume_unwind(Box::new(Cancel)),
        }
    }

    /// The id of the coroutine this yielder suspends.
    pub fn id(&self) -> CoroutineId {
        // SAFETY: a Yielder only exists while its coroutine's stack is alive.
        unsafe { self.header.as_ref() }.id
    }
}

impl<I, Y> std::fmt::Debug for Yielder<I, Y> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Yielder").field("id", &self.id()).finish()
    }
}
