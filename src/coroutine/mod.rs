//! Stackful coroutines: [`Coroutine`], its [`Builder`] and [`Yielder`].
//!
//! A coroutine is a function running on a stack of its own. `resume` moves
//! the thread onto that stack until the body calls [`Yielder::suspend`] or
//! returns; `suspend` moves it back. Nothing is copied or boxed per switch:
//! values cross as pointers into the sender's suspended frame (see
//! `entry.rs` for the protocol), and the control block lives at the top of
//! the coroutine's own stack (`header.rs`).
//!
//! Ownership: the [`Coroutine`] owns its stack. While the coroutine runs,
//! the resumer's frame is suspended and the `Coroutine` is mutably borrowed
//! by `resume`, so neither can go away under it. When a suspended coroutine
//! is dropped its stack is unwound first, so the body's locals are dropped.
//! A stack goes back to the pool only once no frame lives on it: the body
//! never started, or it finished. A body that will not finish when it is
//! cancelled keeps its stack for ever (see [`Coroutine`]'s drop).

mod builder;
mod entry;
mod header;
mod state;
mod yielder;

use std::cell::Cell;
use std::ffi::c_void;
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};

pub use builder::Builder;
use entry::{fatal, Start};
pub(crate) use entry::{is_cancellation, panic_message, running_is_cancelled, Payload};
pub use header::current;
pub(crate) use header::running_tag;
use header::{BodyState, Header};
pub use state::{CoroutineId, CoroutineResult, Error, State};
pub use yielder::Yielder;

use crate::overflow;
use crate::stack::Stack;
use crate::switch::{Back, Backend, Contexts};

/// A stackful coroutine taking `I` on every resume, yielding `Y` and finally
/// returning `R`: the seed notes' `Coroutine` class.
///
/// ```
/// use jmpco::{Coroutine, CoroutineResult};
///
/// // Sums what it is given, yielding the running total.
/// let mut adder: Coroutine<i32, i32, &str> = Coroutine::new(|yielder, mut input| {
///     let mut total = 0;
///     while input != 0 {
///         total += input;
///         input = yielder.suspend(total);
///     }
///     "done"
/// });
/// assert_eq!(adder.resume(1), CoroutineResult::Yield(1));
/// assert_eq!(adder.resume(2), CoroutineResult::Yield(3));
/// assert_eq!(adder.resume(0), CoroutineResult::Return("done"));
/// ```
///
/// # Dropping
/// Dropping a suspended coroutine cancels it: its stack unwinds, so its
/// locals are dropped, and the stack goes back to the pool only once no
/// frame lives on it. The `Drop` implementation below says what each way
/// a body can react does; the crate docs' failure model has the rest.
///
/// # Not `Send`
/// A coroutine stays on the thread that created it. Code on its stack may
/// have computed the address of a thread-local variable before a suspend and
/// use it after (compilers cache `fs`-relative addresses across calls), so
/// resuming it on another thread would silently touch the first thread's
/// data. The type says so:
///
/// ```compile_fail
/// fn must_be_send<T: Send>(_: T) {}
/// let co: jmpco::Coroutine = jmpco::Coroutine::new(|_, ()| ());
/// must_be_send(co);
/// ```
pub struct Coroutine<I = (), Y = (), R = ()> {
    header: NonNull<Header>,
    /// A copy of the header's backend, which never changes: `resume` need
    /// not load it through the header, and in a loop over one coroutine the
    /// compiler tests it once. The contexts are computed from `header` and
    /// this (see [`Coroutine::contexts`]), not stored: then the compiler
    /// sees that one register, the header's address, locates both.
    backend: Backend,
    /// Where the coroutine is in its life, as its owner sees it: the value
    /// [`Coroutine::state`] reports. Only the owner writes it, after a
    /// switch comes back, from what came back (see the transfer protocol in
    /// `entry.rs`); kept here rather than in the header so that a loop of
    /// resumes finds it in a register. The header's side is the private
    /// [`BodyState`], which only says whether and how the body ended.
    state: State,
    /// Dropped (returned to the pool) by `Drop` only when no frame lives on
    /// it; a stack whose body refused to finish is leaked instead, and so
    /// is one whose drop was cut short by a panic the body raised.
    stack: ManuallyDrop<Stack>,
    /// Makes the type neither `Send` nor `Sync`.
    _not_send: PhantomData<NotSend>,
    _types: PhantomData<fn(I) -> (Y, R)>,
}

/// A raw pointer: neither `Send` nor `Sync`.
type NotSend = *mut ();

impl Coroutine {
    /// A builder for the stack size, backend and stack pool; its
    /// [`build`](Builder::build) picks the coroutine's types from the body.
    pub fn builder() -> Builder {
        Builder::new()
    }
}

impl Builder {
    /// Creates the coroutine; `body` starts at the first resume.
    ///
    /// Fails if no stack can be had (out of memory, or out of guard-page
    /// mappings under the mprotect fallback), if the stack is too small for
    /// the closure, or if the backend cannot run here (`sjlj` and `asm` under
    /// Intel CET shadow stacks).
    #[inline]
    pub fn build<I, Y, R, F>(self, body: F) -> Result<Coroutine<I, Y, R>, Error>
    where
        I: 'static,
        Y: 'static,
        R: 'static,
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        thread_ready_for(self.backend)?;
        let stack = if self.pooled {
            Stack::pooled(self.stack_size)?
        } else {
            Stack::fresh(self.stack_size)?
        };
        Coroutine::from_stack(stack, self.backend, body)
    }
}

impl<I: 'static, Y: 'static, R: 'static> Coroutine<I, Y, R> {
    /// A coroutine that will run `body` on a pooled stack of the default
    /// size with the default backend. The body starts at the first
    /// [`resume`](Self::resume), whose input is its second argument.
    ///
    /// # Panics
    /// If no stack can be had (see [`Builder::build`] for the fallible form).
    pub fn new<F>(body: F) -> Self
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        Builder::new()
            .build(body)
            .unwrap_or_else(|e| panic!("jmpco: {e}"))
    }

    #[inline(always)]
    fn from_stack<F>(stack: Stack, backend: Backend, body: F) -> Result<Self, Error>
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        let header = Header::install(&stack, backend, entry::entry::<F, I, Y, R>, body)?;
        Ok(Coroutine {
            header,
            backend,
            state: State::Ready,
            stack: ManuallyDrop::new(stack),
            _not_send: PhantomData,
            _types: PhantomData,
        })
    }

    /// Runs the coroutine until it suspends or returns.
    ///
    /// The first resume starts the body with `input` as its argument; later
    /// ones return `input` from the pending [`Yielder::suspend`]. If the body
    /// panics, the coroutine becomes [`State::Except`] and the panic
    /// continues from here.
    ///
    /// # Panics
    /// If the coroutine has finished ([`State::Term`] or [`State::Except`]),
    /// and with the body's own panic. [`try_resume`](Self::try_resume)
    /// reports the first as an error instead.
    #[inline]
    pub fn resume(&mut self, input: I) -> CoroutineResult<Y, R> {
        self.try_resume(input)
            .unwrap_or_else(|e| panic!("jmpco: {e}"))
    }

    /// Like [`resume`](Self::resume), but a coroutine that cannot be resumed
    /// is an error, and nothing happens.
    #[inline(always)]
    pub fn try_resume(&mut self, input: I) -> Result<CoroutineResult<Y, R>, Error> {
        // The same steps as `switch_for` with `resume_or_panic`'s match,
        // written out here: calling `switch_for` made the compiler lay the
        // resume out differently, and the switch bench's round trip took
        // 1.2x as long with asm, 1.09x with sjlj (`jmpco-study switch`,
        // alternated four times).
        let state = self.state;
        // The coroutine moves the input out with ptr::read; ManuallyDrop
        // keeps it from being dropped here as well.
        let mut input = ManuallyDrop::new(input);
        let outcome = if state == State::Hold {
            // SAFETY: Hold: the own context is suspended, and a suspended
            // coroutine takes its input as a plain I (the transfer protocol).
            unsafe { self.switch_in(ptr::from_mut(&mut input).cast()) }
        } else if state == State::Ready {
            // The body's side says `Unfinished` already (`Header::install`,
            // `prepare`): nothing to store before the first switch.
            let mut start = Start {
                header: self.header,
                input,
            };
            // SAFETY: Ready: the own context is fresh, and the entry takes a
            // Start (the transfer protocol).
            unsafe { self.switch_in(ptr::from_mut(&mut start).cast()) }
        } else {
            drop(ManuallyDrop::into_inner(input));
            return Err(refusal(state));
        };
        match outcome {
            Outcome::Yielded(y) => Ok(CoroutineResult::Yield(y)),
            Outcome::Returned(r) => Ok(CoroutineResult::Return(r)),
            Outcome::Panicked(payload) => panic::resume_unwind(payload),
            Outcome::Cancelled => fatal("a coroutine finished by cancel without being cancelled"),
        }
    }

    /// [`try_resume`](Self::try_resume), with the body's panic handed back
    /// as its payload instead of continuing in the caller: for the runtime,
    /// which reports a task's panic, and would otherwise catch it again.
    #[inline(always)]
    pub(crate) fn resume_or_panic(
        &mut self,
        input: I,
    ) -> Result<Result<CoroutineResult<Y, R>, Payload>, Error> {
        Ok(match self.switch_for(input)? {
            Outcome::Yielded(y) => Ok(CoroutineResult::Yield(y)),
            Outcome::Returned(r) => Ok(CoroutineResult::Return(r)),
            Outcome::Panicked(payload) => Err(payload),
            Outcome::Cancelled => cancelled_unasked(),
        })
    }

    /// The switch of a resume: into a suspended or fresh coroutine, with
    /// `input`; refused (the input dropped) in any other state.
    #[inline(always)]
    fn switch_for(&mut self, input: I) -> Result<Outcome<Y, R>, Error> {
        let state = self.state;
        // The coroutine moves the input out with ptr::read; ManuallyDrop
        // keeps it from being dropped here as well.
        let mut input = ManuallyDrop::new(input);
        if state == State::Hold {
            // SAFETY: Hold: the own context is suspended, and a suspended
            // coroutine takes its input as a plain I (the transfer protocol).
            Ok(unsafe { self.switch_in(ptr::from_mut(&mut input).cast()) })
        } else if state == State::Ready {
            // The body's side says `Unfinished` already (`Header::install`,
            // `prepare`): nothing to store before the first switch.
            let mut start = Start {
                header: self.header,
                input,
            };
            // SAFETY: Ready: the own context is fresh, and the entry takes a
            // Start (the transfer protocol).
            Ok(unsafe { self.switch_in(ptr::from_mut(&mut start).cast()) })
        } else {
            drop(ManuallyDrop::into_inner(input));
            Err(refusal(state))
        }
    }

    /// The notes' Reset: runs `body` next on this coroutine's stack, which
    /// is reused without a system call. Only a finished coroutine
    /// ([`State::Term`] or [`State::Except`]) can be reset; it becomes
    /// [`State::Ready`] and keeps its id.
    pub fn reset<F>(&mut self, body: F) -> Result<(), Error>
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        let state = self.state();
        if !state.is_finished() {
            return Err(Error::NotFinished(state));
        }
        // SAFETY: the header sits at the top of self.stack and the body has
        // finished, so no frame on the stack is alive.
        unsafe { Header::prepare(self.header, &self.stack, entry::entry::<F, I, Y, R>, body)? };
        self.state = State::Ready;
        Ok(())
    }
}

impl<I, Y, R> Coroutine<I, Y, R> {
    /// Where the coroutine is in its life. Never [`State::Exec`] here:
    /// while the coroutine runs, the `resume` that runs it borrows this
    /// handle, so nobody can ask. (The C API, whose handles can be asked
    /// from inside, reports `JMPCO_EXEC` itself.)
    pub fn state(&self) -> State {
        self.state
    }

    /// The coroutine's process-unique id; [`current`] returns it inside.
    pub fn id(&self) -> CoroutineId {
        self.header().id()
    }

    /// The backend it switches with.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Usable bytes of its stack (the control block, the switch contexts and
    /// the unstarted closure take a little of it from the top).
    pub fn stack_size(&self) -> usize {
        self.stack.size()
    }

    /// Lowest usable address of its stack (a guard page lies just below):
    /// lets tests and tools check where a stack came from.
    pub fn stack_bottom(&self) -> *const u8 {
        self.stack.bottom()
    }

    /// A yielder of this coroutine, made by its owner: for crate code that
    /// suspends the coroutine from a free function (the runtime's parks,
    /// the C API's `jmpco_yield`) rather than through the `&Yielder` the
    /// body was given. Stays valid across resumes and [`reset`](Self::reset)
    /// (the header it points at stays where it is) for as long as the
    /// coroutine lives.
    ///
    /// # Safety
    /// The yielder suspends only where the body's own one could: on this
    /// coroutine's stack, while it is the innermost running coroutine (see
    /// [`Yielder`]), and only while the coroutine lives.
    pub(crate) unsafe fn yielder(&self) -> Yielder<I, Y> {
        // SAFETY: `self.header` is this coroutine's live header (installed
        // by `build`); how the yielder is used is the caller's contract.
        unsafe { Yielder::new(self.header) }
    }

    /// The header's two switch contexts.
    #[inline(always)]
    fn contexts(&self) -> Contexts {
        Header::contexts(self.header, self.backend)
    }

    fn header(&self) -> &Header {
        // SAFETY: the header lives at the top of self.stack, which we own.
        unsafe { self.header.as_ref() }
    }

    /// Tags the coroutine for the layer that made it (the C API: its
    /// handle), so that [`running_tag`] answers it while the thread
    /// runs on its stack; kept across `reset`.
    pub(crate) fn set_tag(&self, tag: *const ()) {
        self.header().tag.set(tag);
    }

    /// Switches into the coroutine with `transfer`, decodes what comes
    /// back by the transfer protocol (`entry.rs`) and records the new state.
    ///
    /// # Safety
    /// The state must be `Ready` or `Hold`, and `transfer` what that state
    /// takes: a `Start<I>` for `Ready`; for `Hold`, an `I` or null (unwind).
    #[inline(always)]
    unsafe fn switch_in(&mut self, transfer: *mut c_void) -> Outcome<Y, R> {
        // SAFETY: `self.contexts()` are this coroutine's live contexts; Ready
        // means fresh ones, Hold a suspended own context (the caller's
        // contract); we are on the thread that made them, since Coroutine is
        // not Send.
        let back = unsafe { self.contexts().resume(transfer) };
        // Whether the body suspended, and if not how it ended, which also
        // says what the transfer is: the backend's word where its switch
        // knows (asm's inline suspend, in a register), else the body's own
        // in the header, which is still `Unfinished` exactly when it
        // suspended. Each value is read out exactly once; the sender never
        // drops it.
        let (body_state, back) = match back {
            Back::Suspended(back) => (BodyState::Unfinished, back),
            Back::SuspendedOrExited(back) => (self.header().body_state.get(), back),
        };
        match body_state {
            BodyState::Unfinished => {
                // A suspend of a `Hold` coroutine leaves it `Hold`: no store.
                if self.state != State::Hold {
                    self.state = State::Hold;
                }
                // SAFETY: a suspend's transfer: a Y in a ManuallyDrop slot.
                Outcome::Yielded(unsafe { back.cast::<Y>().read() })
            }
            BodyState::Returned => {
                self.state = State::Term;
                // A null transfer: it ended by being cancelled.
                if back.is_null() {
                    Outcome::Cancelled
                } else {
                    // SAFETY: Returned: an R in a MaybeUninit slot.
                    Outcome::Returned(unsafe { back.cast::<R>().read() })
                }
            }
            BodyState::Panicked => {
                self.state = State::Except;
                // SAFETY: Panicked: a Payload in a MaybeUninit slot.
                Outcome::Panicked(unsafe { back.cast::<Payload>().read() })
            }
        }
    }

    /// Frees the coroutine *without* unwinding it: a suspended (`Hold`)
    /// coroutine's stack goes back to the pool as it is, its frames discarded
    /// the way `longjmp` discards frames, so nothing on them is dropped.
    /// Other states behave as in `Drop` (an unstarted closure is dropped).
    ///
    /// This is the C API's path (`jmpco_destroy`): a body written in C has no
    /// destructors and must not be unwound by Rust, since unwinding through C
    /// frames is undefined behaviour. `Drop` stays the Rust API's path.
    ///
    /// # Safety
    /// If the coroutine is `Hold`, no frame on its stack may own a value whose
    /// destructor must run before the memory is reused (pinned data, a guard
    /// another party waits on): such values are leaked, and their memory is
    /// handed to the next coroutine that takes the stack.
    pub(crate) unsafe fn abandon(mut self) {
        if self.state == State::Hold {
            // Nothing on the stack will run again: as far as `Drop` is
            // concerned the body is over, so it just returns the stack.
            self.state = State::Term;
        }
        drop(self);
    }

    /// Asks a suspended (`Hold`) coroutine, once, to unwind its stack so its
    /// locals are dropped, and returns what came back. Afterwards the state
    /// says whether the body finished (`Term`, `Except`) or suspended again
    /// instead (`Hold`: it caught the unwinding and will not be asked
    /// again).
    fn cancel(&mut self) -> Outcome<Y, R> {
        self.header().cancelling.set(true);
        // SAFETY: the state is Hold (the caller's contract), which takes
        // null as "unwind".
        unsafe { self.switch_in(ptr::null_mut()) }
    }
}

thread_local! {
    /// The backends this thread has created a coroutine with: bit
    /// `1 << backend as u8` set once [`thread_ready_for`] succeeded for it.
    /// A const-initialised `Cell` without a destructor: reading it is one
    /// load off the thread pointer.
    static READY_FOR: Cell<u8> = const { Cell::new(0) };
}

/// Fails unless coroutines of `backend` can run on this thread: the
/// backend survives this process's shadow stacks (`Backend::check_supported`,
/// a process-wide fact) and the thread reports stack overflows
/// (`overflow::install_for_this_thread`, once per thread). Both are
/// settled by the first creation on a thread, so every later one reads
/// one thread-local bit: asking each again cost a create 42 instructions
/// of 352 (the study's `create` bench, asm, pooled, when this was made). A failure sets no
/// bit, so the next creation asks again.
#[inline]
fn thread_ready_for(backend: Backend) -> Result<(), Error> {
    let bit = 1u8 << backend as u8;
    if READY_FOR.with(Cell::get) & bit != 0 {
        return Ok(());
    }
    make_thread_ready_for(backend, bit)
}

#[cold]
fn make_thread_ready_for(backend: Backend, bit: u8) -> Result<(), Error> {
    backend.check_supported()?;
    overflow::install_for_this_thread(header::id_at)?;
    READY_FOR.with(|r| r.set(r.get() | bit));
    Ok(())
}

/// A resume's switch came back from a body that ended by cancellation,
/// which only a drop asks for.
#[cold]
#[inline(never)]
fn cancelled_unasked() -> ! {
    fatal("a coroutine finished by cancel without being cancelled")
}

/// Why a coroutine in `state` (not `Ready` or `Hold`) cannot be resumed.
/// Out of line: keeps the refusal's code off `resume`'s straight path.
#[cold]
fn refusal(state: State) -> Error {
    match state {
        State::Exec => Error::Running,
        finished => Error::Finished(finished),
    }
}

/// What came back from one switch into the coroutine.
enum Outcome<Y, R> {
    Yielded(Y),
    Returned(R),
    Panicked(Payload),
    Cancelled,
}

/// Dropping a coroutine ends it and frees its stack:
///
/// * `Ready` (never started): its closure is dropped, unrun.
/// * `Term`, `Except`: nothing is left to run.
/// * `Hold` (suspended): it is *cancelled*: resumed once so that the pending
///   [`Yielder::suspend`] unwinds the body's stack with a private payload,
///   running every destructor on it; the entry catches the payload, and the
///   coroutine ends `Term`.
///
/// The stack goes back to the pool only if no frame lives on it any more.
/// What the body does with the unwinding decides the rest:
///
/// * It lets the unwinding run (the normal case): nothing more happens.
/// * It catches it and returns: the value is dropped.
/// * It catches it and panics: that panic continues from `drop` (or, if
///   the thread is already unwinding, where a second panic would abort, it
///   is printed to stderr instead).
/// * It catches it and suspends again: it is not asked twice. Its stack
///   is leaked, never reused or unmapped (its frames are alive, and may be
///   borrowed), one line on stderr names the coroutine, and the value it
///   yielded is dropped.
/// * A destructor on its stack panics while it unwinds: that is a panic
///   during unwinding, so Rust aborts the process ("panic in a destructor
///   during cleanup"), as it would without coroutines.
/// * A destructor on its stack tries to suspend while it unwinds: see the
///   panics of [`Yielder::suspend`].
///
/// The same holds for a panic out of a dropped value: the unstarted
/// closure's captures, the value returned or yielded while cancelling. It
/// continues from `drop` once the stack has been dealt with.
impl<I, Y, R> Drop for Coroutine<I, Y, R> {
    /// The common case inline: a finished body left nothing on the stack
    /// or in the header, so its stack just goes back to the pool.
    #[inline]
    fn drop(&mut self) {
        if self.state.is_finished() {
            // SAFETY: the body has finished, so no frame lives on the
            // stack; `self.stack` is not used again.
            unsafe { ManuallyDrop::drop(&mut self.stack) };
        } else {
            self.drop_unfinished();
        }
    }
}

impl<I, Y, R> Coroutine<I, Y, R> {
    /// `Drop` of a coroutine that is `Ready` or `Hold`: see the docs of the
    /// `Drop` implementation.
    #[inline(never)]
    fn drop_unfinished(&mut self) {
        let left = match self.state() {
            State::Ready => {
                let header = self.header();
                match panic::catch_unwind(AssertUnwindSafe(|| header.drop_unstarted_closure())) {
                    Ok(()) => None,
                    Err(payload) => Some(Outcome::Panicked(payload)),
                }
            }
            State::Hold => Some(self.cancel()),
            // `drop` takes these itself; handled alike here all the same.
            State::Term | State::Except => None,
            // The owner never records `Exec` (see `state`).
            State::Exec => fatal("a coroutine's owner recorded it as running"),
        };
        if self.state == State::Hold {
            refused_to_finish(self.id(), self.stack.size());
        } else {
            // SAFETY: the body never started or has finished, so no frame
            // lives on the stack; `self.stack` is not used again.
            unsafe { ManuallyDrop::drop(&mut self.stack) };
        }
        match left {
            None | Some(Outcome::Cancelled) => {}
            Some(Outcome::Yielded(value)) => dispose(self.id(), value),
            Some(Outcome::Returned(value)) => dispose(self.id(), value),
            Some(Outcome::Panicked(payload)) => surface(self.id(), payload),
        }
    }
}

/// A body that caught its cancellation suspended again: its stack stays
/// out of the pool for good.
#[cold]
fn refused_to_finish(id: CoroutineId, stack_size: usize) {
    eprintln!(
        "jmpco: coroutine {id} suspended again instead of unwinding when it was dropped; \
         its {stack_size}-byte stack is leaked (never reused). A body that catches its \
         cancellation must return or let it continue"
    );
}

/// Drops a value the dropped coroutine left behind; a panic of its
/// destructor is [`surface`]d.
fn dispose<T>(id: CoroutineId, value: T) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(value))) {
        surface(id, payload);
    }
}

/// Continues a panic that arose while coroutine `id` was dropped, unless the
/// thread is already unwinding: a second unwind would abort the process, so
/// it is printed instead.
#[cold]
fn surface(id: CoroutineId, payload: Payload) {
    if !std::thread::panicking() {
        panic::resume_unwind(payload);
    }
    eprintln!(
        "jmpco: coroutine {id} panicked while it was dropped during another panic: {}",
        panic_message(payload.as_ref())
    );
}

impl<I, Y, R> fmt::Debug for Coroutine<I, Y, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coroutine")
            .field("id", &self.id())
            .field("state", &self.state())
            .field("backend", &self.backend())
            .field("stack_size", &self.stack_size())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::{Coroutine, State};

    /// Counts drops of its clones.
    struct Canary(Rc<Cell<usize>>);

    impl Drop for Canary {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    #[test]
    fn abandon_of_suspended_coroutine_frees_stack_without_unwinding() {
        let drops = Rc::new(Cell::new(0));
        let canary = Canary(drops.clone());
        let after_suspend = Rc::new(Cell::new(false));
        let flag = after_suspend.clone();
        let mut co: Coroutine<(), (), ()> = Coroutine::new(move |y, ()| {
            let _local = canary;
            y.suspend(());
            flag.set(true);
        });
        co.resume(());
        assert_eq!(co.state(), State::Hold);
        let bottom = co.stack_bottom();
        // SAFETY: the only value on the suspended stack is a Canary, whose
        // leak is what this test checks.
        unsafe { co.abandon() };
        assert_eq!(drops.get(), 0, "abandon must not unwind the body");
        assert!(!after_suspend.get(), "abandon must not run the body");
        // The stack went back to this thread's pool: the next one reuses it.
        let next: Coroutine = Coroutine::new(|_, ()| ());
        assert_eq!(next.stack_bottom(), bottom);
    }

    #[test]
    fn abandon_of_unstarted_coroutine_drops_its_closure() {
        let drops = Rc::new(Cell::new(0));
        let canary = Canary(drops.clone());
        let co: Coroutine = Coroutine::new(move |_, ()| drop(canary));
        // SAFETY: never started, so no frame lives on its stack.
        unsafe { co.abandon() };
        assert_eq!(drops.get(), 1);
    }
}
