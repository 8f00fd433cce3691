//! [`Yielder`]: the body's handle for suspending its own coroutine.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic;
use std::ptr::{self, NonNull};

use super::header::{self, Header};
use super::state::CoroutineId;
use crate::switch::Backend;

/// The unwinding payload that cancels a suspended coroutine, raised by
/// [`Yielder::suspend`] when the owner resumes it with null (the entry
/// tells it from a panic: `entry.rs`). Private, so no body can fake or name
/// it; a body that catches every panic sees it as an opaque payload and
/// should let it continue (`resume_unwind`).
pub(crate) struct Cancel;

/// Given to a coroutine's body; [`suspend`](Yielder::suspend) hands a value
/// to the resumer and waits for the next input.
///
/// # Only inside its own coroutine
/// A `suspend` must run on its coroutine's stack, while that coroutine is the
/// innermost running one: anywhere else it would save the wrong stack as the
/// coroutine. Safe code cannot call it anywhere else, so `suspend` does not
/// pay for a check (debug builds still make one):
/// - the body gets `&Yielder` for the body's own run only, and everything a
///   coroutine can carry out of it or into another coroutine is `'static`
///   (bodies, inputs, yields, results, panic payloads), so a nested
///   coroutine's body cannot hold its parent's yielder;
/// - a `Yielder` is neither `Send` nor `Sync`, so no other thread can use
///   it either.
///
/// ```compile_fail
/// use jmpco::{Coroutine, Yielder};
/// // A nested coroutine cannot capture its parent's yielder...
/// let _outer: Coroutine = Coroutine::new(|y: &Yielder<(), ()>, ()| {
///     let mut inner: Coroutine = Coroutine::new(move |_, ()| y.suspend(()));
///     inner.resume(());
/// });
/// ```
///
/// ```compile_fail
/// use jmpco::{Coroutine, Yielder};
/// // ...and another thread cannot use it.
/// let _co: Coroutine = Coroutine::new(|y: &Yielder<(), ()>, ()| {
///     std::thread::scope(|s| {
///         s.spawn(|| y.suspend(()));
///     });
/// });
/// ```
pub struct Yielder<I, Y> {
    pub(crate) header: NonNull<Header>,
    /// The header's backend (see `Coroutine`'s field): a body that suspends
    /// in a loop tests it once, and finds both contexts from the header's
    /// address.
    pub(crate) backend: Backend,
    pub(crate) _types: PhantomData<fn(Y) -> I>,
}

impl<I, Y> Yielder<I, Y> {
    /// The yielder of the coroutine whose header is `header`.
    ///
    /// # Safety
    /// `header` is a live header installed by `Header::install`.
    pub(crate) unsafe fn new(header: NonNull<Header>) -> Self {
        Yielder {
            header,
            // SAFETY: the caller guarantees a live header.
            backend: unsafe { header.as_ref() }.backend,
            _types: PhantomData,
        }
    }

    /// Suspends the coroutine (state `Hold`), making the pending `resume`
    /// return `CoroutineResult::Yield(value)`; returns the input of the next
    /// `resume`.
    ///
    /// If the coroutine is dropped while suspended here, this does not
    /// return: it unwinds the body's stack so its destructors run. A body
    /// that catches that unwinding should let it continue; one that
    /// suspends again instead is never resumed, and its stack is leaked
    /// (see `Coroutine`'s drop).
    ///
    /// # Panics
    /// If the thread is unwinding a panic (`std::thread::panicking()`): a
    /// destructor run by the body's own panic or by its cancellation called
    /// this, or the coroutine was resumed from a destructor during a panic.
    /// A suspended unwind would leave the thread's panic state to whatever
    /// runs next, so the resumer and every other coroutine would see a
    /// panic that is not theirs; and std keeps one panic count per thread,
    /// so an unwind that is the body's cannot be told from the resumer's
    /// without a cost on every switch. In a destructor run by the body's
    /// own unwinding this panic aborts the process, as any panic raised
    /// while unwinding does, unless the destructor catches it; in a
    /// coroutine resumed during a panic it ends the body (`Except`) and
    /// continues in the resumer. A coroutine resumed while the thread
    /// unwinds may still run to its end, or be dropped (its cancellation
    /// still unwinds it).
    ///
    /// Only ever runs inside this yielder's own coroutine (see the type's
    /// docs for why safe code cannot do otherwise); debug builds check it.
    #[inline]
    pub fn suspend(&self, value: Y) -> I {
        // One relaxed load of std's global panic count on the fast path.
        if std::thread::panicking() {
            suspended_while_unwinding(self.id());
        }
        // The resumer moves the value out with ptr::read; ManuallyDrop keeps
        // it from being dropped here as well.
        let mut slot = ManuallyDrop::new(value);
        // Debug builds only: the check costs an asm round trip a tenth of its
        // time, and the type system already rules the misuse out (the type's
        // docs).
        if cfg!(debug_assertions) && header::running() != Some(self.header) {
            outside_its_coroutine();
        }
        let contexts = Header::contexts(self.header, self.backend);
        // SAFETY: the header is live (the yielder's coroutine runs); we are on
        // its stack and it is the running one (the type's docs), so its
        // caller context holds the resumer. The resumer records `Hold` once
        // we are back on its side (the transfer protocol).
        let back = unsafe { contexts.suspend(ptr::from_mut(&mut slot).cast()) };
        if back.is_null() {
            panic::resume_unwind(Box::new(Cancel));
        }
        // SAFETY: a non-null transfer into a suspended coroutine points at
        // the resumer's input, an I it never drops (the transfer protocol).
        unsafe { back.cast::<I>().read() }
    }

    /// The id of the coroutine this yielder suspends.
    pub fn id(&self) -> CoroutineId {
        // SAFETY: a Yielder only exists while its coroutine's stack is alive.
        unsafe { self.header.as_ref() }.id()
    }
}

/// The panic of a `suspend` while its coroutine unwinds.
#[cold]
#[inline(never)]
#[track_caller]
fn suspended_while_unwinding(id: CoroutineId) -> ! {
    panic!(
        "jmpco: coroutine {id} cannot suspend while the thread unwinds a panic (a destructor \
         run by its panic or cancellation, or a resume from a destructor, tried to): the \
         unwind must finish first"
    )
}

/// The panic of a `suspend` outside its coroutine (debug builds).
#[cold]
#[inline(never)]
#[track_caller]
fn outside_its_coroutine() -> ! {
    panic!("jmpco: Yielder::suspend called outside its own coroutine")
}

impl<I, Y> std::fmt::Debug for Yielder<I, Y> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Yielder").field("id", &self.id()).finish()
    }
}
