//! The control block at the top of every coroutine stack, and the thread's
//! pointer to the running one.
//!
//! The [`Header`] is written into the highest bytes of the coroutine's own
//! stack, so a coroutine costs no heap allocation: the `Coroutine` handle is
//! a pointer to it plus the [`Stack`] that owns the memory. Right below the
//! header lie the two switch contexts, at fixed offsets from it, and below
//! them the not-yet-started body's closure (see `switch.rs` for the picture).
//!
//! `CURRENT` points at the header of the innermost running coroutine of this
//! thread (null on the thread's own stack). `resume` sets it before
//! switching in and restores the previous value after switching back, so it
//! always names the coroutine whose stack the CPU is on. It answers
//! [`current`](crate::current) and tells the stack-overflow handler whose
//! guard page was hit.

use std::cell::Cell;
use std::io;
use std::mem::{align_of, size_of};
use std::num::NonZeroU64;
use std::ops::Range;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU64, Ordering};

use super::state::{CoroutineId, State};
use crate::stack::Stack;
use crate::switch::{Backend, Contexts, Entry};

/// Frames a body needs at the least after the control block, its closure and
/// the contexts are carved from the stack.
const MIN_FRAME_SPACE: usize = 1024;

thread_local! {
    /// The innermost running coroutine of this thread, or null.
    static CURRENT: Cell<*const Header> = const { Cell::new(ptr::null()) };
}

/// A coroutine's control block; lives at the top of its stack.
pub(crate) struct Header {
    pub(crate) id: CoroutineId,
    pub(crate) state: Cell<State>,
    /// The backend whose two contexts sit just below this header (see
    /// [`Header::contexts`]); fixed for the coroutine's life.
    pub(crate) backend: Backend,
    /// Where the closure of a `Ready` coroutine lies, and how to drop it
    /// unstarted; `None` once the entry has taken it.
    pub(crate) closure: Cell<Option<PlacedClosure>>,
    /// The guard region below the stack, for the overflow handler.
    guard: Range<usize>,
    /// Usable bytes of the whole stack, for the overflow message.
    stack_size: usize,
}

impl Header {
    /// Writes a fresh `Ready` header at the top of `stack`, prepared to run
    /// `f` through `entry`.
    pub(crate) fn install<F>(
        stack: &Stack,
        backend: Backend,
        entry: Entry,
        f: F,
    ) -> io::Result<NonNull<Header>> {
        // 16-byte aligned: the contexts are carved right below it.
        let at = align_down(
            stack.top() as usize - size_of::<Header>(),
            align_of::<Header>().max(16),
        );
        // SAFETY: `at` is below the top of a stack this coroutine owns, and
        // nothing runs on the stack yet.
        let closure = unsafe { place(at, stack, backend, entry, f)? };
        let header = Header {
            id: next_id(),
            state: Cell::new(State::Ready),
            backend,
            closure: Cell::new(Some(closure)),
            guard: stack.guard(),
            stack_size: stack.size(),
        };
        let at = at as *mut Header;
        // SAFETY: `at` is aligned for Header, the bytes up to the stack top
        // are writable and `place` used only memory below `at`.
        unsafe { at.write(header) };
        // SAFETY: `at` was derived from a non-null stack top.
        Ok(unsafe { NonNull::new_unchecked(at) })
    }

    /// Lays `f` and fresh contexts below the header again (the notes'
    /// Reset) and makes the coroutine `Ready` to start `entry`.
    ///
    /// # Safety
    /// `header` was installed at the top of `stack`, and the coroutine is not
    /// suspended in that stack (its frames are dead: `Term` or `Except`).
    pub(crate) unsafe fn prepare<F>(
        header: NonNull<Header>,
        stack: &Stack,
        entry: Entry,
        f: F,
    ) -> io::Result<()> {
        // SAFETY: the header is initialised and only this thread touches it.
        let h = unsafe { header.as_ref() };
        // SAFETY: forwarded from the caller: everything below the header is
        // free.
        let closure = unsafe { place(header.as_ptr() as usize, stack, h.backend, entry, f)? };
        h.closure.set(Some(closure));
        h.state.set(State::Ready);
        Ok(())
    }

    /// The two switch contexts of the coroutine whose header is `header`,
    /// carved just below it by `place`. Takes the raw pointer, not `&self`:
    /// the switch writes the contexts, memory outside the header, so the
    /// address must carry the stack's provenance, not a reference's.
    ///
    /// # Safety
    /// `header` points at a live header installed by [`Header::install`].
    #[inline(always)]
    pub(crate) unsafe fn contexts(header: NonNull<Header>) -> Contexts {
        // SAFETY: the caller guarantees a live, initialised header.
        let backend = unsafe { header.as_ref() }.backend;
        Contexts::below(backend, header.as_ptr().cast())
    }

    /// Drops the closure of a coroutine that never started, if it has one.
    pub(crate) fn drop_unstarted_closure(&self) {
        if let Some((at, drop_fn)) = self.closure.take() {
            // SAFETY: `closure` is only `Some` while the closure written by
            // `prepare` is still in place and unread; taking it makes this
            // the only drop.
            unsafe { drop_fn(at) };
        }
    }
}

/// A closure laid on a stack: where it lies and how to drop it unstarted.
type PlacedClosure = (*mut u8, unsafe fn(*mut u8));

/// Carves the contexts just below `header_at`, writes `f` below them and
/// makes the own context fresh, ready to start `entry` on the rest of the
/// stack.
///
/// # Safety
/// `header_at` lies inside `stack`, is 16-byte aligned, and the stack below
/// it is unused.
unsafe fn place<F>(
    header_at: usize,
    stack: &Stack,
    backend: Backend,
    entry: Entry,
    f: F,
) -> io::Result<PlacedClosure> {
    let contexts_bottom = header_at.checked_sub(Contexts::footprint(backend));
    // Keep the entry's stack top 16-byte aligned even below a tiny closure.
    let align = align_of::<F>().max(16);
    let closure_at = contexts_bottom
        .and_then(|b| b.checked_sub(size_of::<F>()))
        .map(|c| align_down(c, align));
    let lowest = closure_at.and_then(|c| c.checked_sub(MIN_FRAME_SPACE));
    let (Some(closure_at), Some(lowest)) = (closure_at, lowest) else {
        return Err(too_small(stack.size()));
    };
    if lowest < stack.bottom() as usize {
        return Err(too_small(stack.size()));
    }
    // Under Valgrind (`valgrind` feature), what a previous body left below
    // `header_at` is fresh, undefined stack again.
    crate::stack::valgrind::make_undefined(stack.bottom() as usize, header_at);
    // SAFETY: `header_at` is 16-byte aligned and the footprint below it lies
    // inside the stack (closure_at is below it, checked above), unused.
    let (contexts, _) = unsafe { Contexts::carve(backend, header_at as *mut u8) };
    let closure_at = closure_at as *mut u8;
    let frame_space = closure_at as usize - stack.bottom() as usize;
    // SAFETY: the contexts were just carved from this stack; the stack below
    // `closure_at` (16-byte aligned) is free and becomes the body's.
    unsafe { contexts.init(closure_at, frame_space, entry)? };
    // SAFETY: `closure_at` is aligned for F and its size_of::<F>() bytes lie
    // between the body's stack and the contexts, unused.
    unsafe { closure_at.cast::<F>().write(f) };
    Ok((closure_at, drop_in_place::<F>))
}

/// The id of the running coroutine: the seed notes' `GetThis`. `None` on a
/// thread's own stack, outside every coroutine.
///
/// ```
/// use jmpco::Coroutine;
///
/// assert_eq!(jmpco::current(), None);
/// let mut co: Coroutine<(), (), _> = Coroutine::new(|_, ()| jmpco::current());
/// let inside = co.resume(()).as_return().unwrap();
/// assert_eq!(inside, Some(co.id()));
/// ```
pub fn current() -> Option<CoroutineId> {
    let header = CURRENT.with(Cell::get);
    // SAFETY: a non-null CURRENT points at the header of a running coroutine,
    // whose stack is alive until it stops running.
    unsafe { header.as_ref() }.map(|h| h.id)
}

/// Makes `header` the running coroutine and returns the one it replaces.
#[inline]
pub(crate) fn enter(header: *const Header) -> *const Header {
    CURRENT.with(|c| c.replace(header))
}

/// Restores the running coroutine `enter` replaced.
#[inline]
pub(crate) fn leave(previous: *const Header) {
    CURRENT.with(|c| c.set(previous));
}

/// Whether `header` is this thread's running coroutine.
#[inline]
pub(crate) fn is_running(header: *const Header) -> bool {
    CURRENT.with(Cell::get) == header
}

/// If `addr` lies in the guard region of this thread's running coroutine,
/// its id and stack size. Called from the SIGSEGV handler: it only reads a
/// const-initialised thread local and the header, which is async-signal-safe.
pub(crate) fn guard_hit(addr: usize) -> Option<(u64, usize)> {
    let header = CURRENT.try_with(Cell::get).ok()?;
    // SAFETY: as in `current`.
    let h = unsafe { header.as_ref() }?;
    h.guard
        .contains(&addr)
        .then(|| (h.id.as_u64(), h.stack_size))
}

fn next_id() -> CoroutineId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    CoroutineId(NonZeroU64::new(id).expect("coroutine ids ran out"))
}

fn too_small(size: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "a {size}-byte stack leaves too little room for the body's closure, \
             the switch contexts and at least {MIN_FRAME_SPACE} bytes of frames"
        ),
    )
}

/// # Safety
/// `at` must point at a valid, initialised `T` that is never used again.
unsafe fn drop_in_place<T>(at: *mut u8) {
    // SAFETY: forwarded from the caller.
    unsafe { ptr::drop_in_place(at.cast::<T>()) }
}

fn align_down(addr: usize, align: usize) -> usize {
    addr & !(align - 1)
}
