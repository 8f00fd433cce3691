//! `jmpco_coro`: what a C caller's `jmpco_coro *` points at, how the
//! running one is found, and the handle that stands for a running spawned
//! coroutine (`jmpco_current` in a `jmpco_spawn` body).
//!
//! ```text
//!   jmpco_coro (heap, one allocation)
//!   +---------------------------+
//!   | state   AtomicU8          |  mirror of the state: set on the owner
//!   |                           |  thread, read on any (as is id)
//!   | id, owner                 |  fixed at creation; owner: the creating
//!   |                           |  thread's ThreadId, never reused
//!   | yielder Option<Yielder>   |  its coroutine's, made with it (None: view)
//!   | co UnsafeCell<Coroutine>  |  &mut only inside the jmpco_resume running it
//!   +---------------------------+
//! ```
//!
//! Which C coroutine runs is the coroutine core's own answer, the one
//! behind [`crate::current`]: the stack the thread runs on names the
//! coroutine, and the coroutine's header carries its handle as a tag, set
//! at creation ([`running`](jmpco_coro::running)). No per-thread record is
//! kept, so nothing has to be linked and unlinked around a resume, and a
//! `longjmp` that skips some cannot leave one stale.
//!
//! The mirror says `JMPCO_EXEC` exactly while a `jmpco_resume` holds the
//! `&mut` to `co`; every other entry point checks it first, which is how a
//! resume of a running coroutine (itself or an ancestor), a reset and a
//! destroy are refused without ever aliasing that borrow.
//!
//! A *task view* is a `jmpco_coro` without a coroutine (`co` is `None`):
//! the handle of a coroutine spawned on the runtime, which the scheduler
//! runs. It lives in the frame of the task's body (`run_as_task`), is
//! `JMPCO_EXEC` for its whole life (so resume, reset and destroy refuse it
//! like any running coroutine, and never reach the missing `co`), and the
//! task finds it through a task-local, the runtime's own way of telling
//! which task runs.

use std::alloc::{self, Layout};
use std::cell::{Cell, UnsafeCell};
use std::ffi::c_void;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use super::types::jmpco_state;
use crate::{Builder, Coroutine, Error, Yielder};

/// The coroutine type behind every handle: `void *` in, out and returned.
pub(crate) type CCoroutine = Coroutine<*mut c_void, *mut c_void, *mut c_void>;
/// Its yielder.
pub(crate) type CYielder = Yielder<*mut c_void, *mut c_void>;

thread_local! {
    /// This thread's [`ThreadId`], or 0 until [`this_thread`] first asks.
    static THIS_THREAD: Cell<u64> = const { Cell::new(0) };
}

/// Where thread identities come from: each thread takes the next value the
/// first time it creates or touches a C coroutine.
static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);

/// A thread's identity for ownership checks: unique over the life of the
/// process, never 0, and never given to another thread, even after this one
/// exits. (An address of a thread-local would not do: glibc hands a new
/// thread the cached stack, and so the TLS block, of an exited one.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ThreadId(u64);

/// An opaque coroutine handle: created by `jmpco_create`, freed by
/// `jmpco_destroy`.
pub struct jmpco_coro {
    state: AtomicU8,
    id: u64,
    /// The creating thread. Once it has exited no thread matches it, so
    /// the coroutine can never be resumed, reset or destroyed again.
    owner: ThreadId,
    /// Its coroutine's yielder, made with the coroutine (`None` for a task
    /// view): what `jmpco_yield` suspends with, once `running` has found
    /// that the thread runs on this coroutine.
    yielder: Option<CYielder>,
    /// `None` for a task view, which is never resumed, reset or destroyed.
    co: Option<UnsafeCell<CCoroutine>>,
}

crate::task_local! {
    /// The view of the running spawned C coroutine; null in other tasks.
    static TASK_VIEW: Cell<*const jmpco_coro> = Cell::new(ptr::null());
}

/// A handle or its stack could not be allocated (`JMPCO_ENOMEM`).
pub(crate) struct NoMemory;

impl jmpco_coro {
    /// Allocates a handle whose coroutine will run `f(arg)`. Both the handle
    /// and the stack are fallible allocations: failure is an error, never an
    /// abort.
    pub(crate) fn create(
        builder: Builder,
        f: unsafe extern "C" fn(*mut c_void) -> *mut c_void,
        arg: *mut c_void,
    ) -> Result<NonNull<jmpco_coro>, NoMemory> {
        let layout = Layout::new::<jmpco_coro>();
        // SAFETY: the layout has a non-zero size.
        let at = unsafe { alloc::alloc(layout) }.cast::<jmpco_coro>();
        let Some(at) = NonNull::new(at) else {
            return Err(NoMemory);
        };
        // Any failure here is the OS refusing memory (mmap, guard pages):
        // sizes that are not stack sizes at all were refused by the caller,
        // and a C body's closure is far smaller than the smallest stack.
        let Ok(co) = builder.build(body(f, arg)) else {
            // SAFETY: allocated just above with this layout, never written.
            unsafe { alloc::dealloc(at.as_ptr().cast(), layout) };
            return Err(NoMemory);
        };
        // SAFETY: used only through `yielder()`, whose contract is the
        // coroutine's: on its own stack, while it runs; the handle, and so
        // the yielder, never outlives the coroutine.
        let yielder = unsafe { co.yielder() };
        // The handle's address, fixed from here on: what `running` answers
        // on this coroutine's stack.
        co.set_tag(at.as_ptr().cast_const().cast());
        let handle = jmpco_coro {
            state: AtomicU8::new(jmpco_state::JMPCO_READY as u8),
            id: co.id().as_u64(),
            owner: this_thread(),
            yielder: Some(yielder),
            co: Some(UnsafeCell::new(co)),
        };
        // SAFETY: `at` is a fresh allocation of the right layout.
        unsafe { at.as_ptr().write(handle) };
        Ok(at)
    }

    /// Runs `body` as the code of the spawned task the caller runs on, with
    /// a task view standing for it (what `running` answers meanwhile, where
    /// no `jmpco_create` coroutine runs nested in it). The view lives in
    /// this frame: it holds no coroutine, so a task abandoned while parked
    /// in `body` leaks nothing of it.
    pub(crate) fn run_as_task<R>(body: impl FnOnce() -> R) -> R {
        let view = jmpco_coro {
            state: AtomicU8::new(jmpco_state::JMPCO_EXEC as u8),
            id: crate::current().map_or(0, |id| id.as_u64()),
            owner: this_thread(),
            yielder: None,
            co: None,
        };
        // Outside a task there is nothing to stand for: `running` then
        // never answers the view.
        let _ = TASK_VIEW.try_with(|v| v.set(&view));
        let returned = body();
        let _ = TASK_VIEW.try_with(|v| v.set(ptr::null()));
        returned
    }

    /// Whether this is a task view (see the module docs).
    pub(crate) fn is_task(&self) -> bool {
        self.co.is_none()
    }

    /// The coroutine of a handle from `create`.
    ///
    /// # Panics
    /// For a task view: every caller has refused `JMPCO_EXEC`, which a
    /// view always is.
    fn coroutine(&self) -> &UnsafeCell<CCoroutine> {
        self.co
            .as_ref()
            .expect("jmpco: a task view is always EXEC, which every caller refuses")
    }

    /// Frees a handle made by [`create`](Self::create); a suspended
    /// coroutine's stack is released without running it.
    ///
    /// # Safety
    /// `this` came from `create`, is not used again, and its state is not
    /// `JMPCO_EXEC`.
    pub(crate) unsafe fn destroy(this: NonNull<jmpco_coro>) {
        // SAFETY: `create` allocated it with the global allocator and the
        // layout of jmpco_coro, which is what Box expects; the caller gives
        // up the pointer.
        let handle = unsafe { Box::from_raw(this.as_ptr()) };
        if let Some(co) = handle.co {
            // SAFETY: a suspended C coroutine's stack holds C frames (nothing
            // to drop) and the Rust frames of `body`, `jmpco_yield` and the
            // entry, none of which owns anything with a destructor across the
            // suspend.
            unsafe { co.into_inner().abandon() };
        }
    }

    pub(crate) fn state(&self) -> jmpco_state {
        jmpco_state::from_u8(self.state.load(Ordering::Relaxed))
    }

    fn set_state(&self, state: jmpco_state) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Whether the calling thread created this coroutine.
    pub(crate) fn on_owner_thread(&self) -> bool {
        self.owner == this_thread()
    }

    /// Runs the coroutine until it yields or returns.
    ///
    /// # Safety
    /// Called on the owner thread, with the state `JMPCO_READY` or
    /// `JMPCO_HOLD` (checked by the caller), so no `&mut` to `co` exists.
    pub(crate) unsafe fn resume(&self, value: *mut c_void) -> Result<*mut c_void, Error> {
        self.set_state(jmpco_state::JMPCO_EXEC);
        // SAFETY: the state was READY or HOLD (the caller's contract), so no
        // other resume borrows `co`; while this borrow lives the mirror says
        // EXEC, which makes every other entry point refuse to touch `co`.
        let co = unsafe { &mut *self.coroutine().get() };
        let result = co.try_resume(value);
        self.set_state(jmpco_state::from_state(co.state()));
        result.map(|r| match r {
            crate::CoroutineResult::Yield(v) | crate::CoroutineResult::Return(v) => v,
        })
    }

    /// Makes a finished coroutine `JMPCO_READY` to run `f(arg)` on its stack.
    ///
    /// # Safety
    /// Called on the owner thread with the state `JMPCO_TERM` or
    /// `JMPCO_EXCEPT` (checked by the caller), so no `&mut` to `co` exists.
    pub(crate) unsafe fn reset(
        &self,
        f: unsafe extern "C" fn(*mut c_void) -> *mut c_void,
        arg: *mut c_void,
    ) -> Result<(), NoMemory> {
        // SAFETY: not running (the caller's contract), so this is the only
        // borrow of `co`.
        let co = unsafe { &mut *self.coroutine().get() };
        co.reset(body(f, arg)).map_err(|_| NoMemory)?;
        self.set_state(jmpco_state::JMPCO_READY);
        Ok(())
    }

    /// The C coroutine the thread is running on, or null: the
    /// `jmpco_create` coroutine whose stack the thread is on (its header's
    /// tag), else the view of the spawned C task if the thread is on that
    /// task's own stack; null too when the thread is on a coroutine of the
    /// Rust API (a task of the Rust API included), even inside a C one.
    ///
    /// A non-null result is alive until the current export returns. A
    /// tagged coroutine's handle owns it, and the thread runs on its stack,
    /// so it is running: its handle is `JMPCO_EXEC`, which `jmpco_destroy`
    /// refuses (a coroutine whose `jmpco_resume` a `longjmp` skipped stays
    /// `JMPCO_EXEC` for good, and is never freed). A view is set only while
    /// the body whose frame holds it runs, and the caller is that body's
    /// code.
    pub(crate) fn running() -> *const jmpco_coro {
        let tagged = crate::coroutine::running_tag().cast::<jmpco_coro>();
        if !tagged.is_null() {
            return tagged;
        }
        TASK_VIEW.try_with(Cell::get).unwrap_or(ptr::null())
    }

    /// Its coroutine's yielder (`None` for a task view).
    ///
    /// # Safety
    /// `self` is what [`running`](Self::running) answered: the coroutine the
    /// thread runs on; the yielder may suspend it only so, while the current
    /// export runs.
    pub(crate) unsafe fn yielder(&self) -> Option<&CYielder> {
        self.yielder.as_ref()
    }
}

/// The Rust body of a C coroutine: calls the C function. Captures only
/// `Copy` values, so abandoning a suspended coroutine leaks nothing.
fn body(
    f: unsafe extern "C" fn(*mut c_void) -> *mut c_void,
    arg: *mut c_void,
) -> impl FnOnce(&CYielder, *mut c_void) -> *mut c_void + 'static {
    move |_, _first_value| {
        // SAFETY: `f` is the caller's jmpco_fn, called with its own argument,
        // as the header documents.
        unsafe { f(arg) }
    }
}

/// The calling thread's [`ThreadId`]: one thread-local read after the first
/// call on a thread, which takes the next value of `NEXT_THREAD`.
#[inline]
fn this_thread() -> ThreadId {
    THIS_THREAD.with(|id| match id.get() {
        0 => {
            // Relaxed: the counter only has to hand out distinct values; no
            // other memory is published through it. At a billion new threads
            // a second it would take over 500 years to wrap.
            let fresh = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
            id.set(fresh);
            ThreadId(fresh)
        }
        known => ThreadId(known),
    })
}
