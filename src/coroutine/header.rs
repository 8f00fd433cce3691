//! The control block at the top of every coroutine stack, and the thread's
//! pointer to the running one.
//!
//! The [`Header`] is written into the highest bytes of the coroutine's own
//! stack, so a coroutine costs no heap allocation: the `Coroutine` handle is
//! a pointer to it plus the [`Stack`] that owns the memory. Right below the
//! header lie the two switch contexts, at fixed offsets from it, and below
//! them the not-yet-started body's closure (see `switch/mod.rs` for the
//! picture).
//!
//! The running coroutine is found from the stack pointer, not recorded on
//! every switch: code runs on a coroutine's stack exactly while that
//! coroutine is the innermost running one, so the stack that holds rsp
//! names it, and its header sits at a fixed offset below that stack's top
//! ([`header_at`]). The stack registry (`stack/registry.rs`) says which
//! stack holds an address. That answers [`current`] and
//! tells the stack-overflow handler whose guard page was hit ([`id_at`],
//! which `overflow.rs` is handed); a thread-local written by every resume
//! would cost the switch about a third of its time.
//!
//! The header also holds the body's side of the coroutine's state,
//! [`BodyState`]: private to this layer, and apart from the public
//! [`State`](crate::State) the owner keeps (the transfer protocol in
//! `entry.rs`).

use std::cell::Cell;
use std::io;
use std::mem::{align_of, size_of};
use std::num::NonZeroU64;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU64, Ordering};

use super::state::CoroutineId;
use crate::stack::Stack;
use crate::switch::{Backend, Contexts, Entry};

/// Frames a body needs at the least after the control block, its closure and
/// the contexts are carved from the stack.
const MIN_FRAME_SPACE: usize = 1024;

/// Marks a header written by [`Header::install`], so an address lookup that
/// lands on a stack no coroutine ever used finds no coroutine.
const MAGIC: u64 = u64::from_le_bytes(*b"jmpco\0hd");

/// A coroutine's control block; lives at the top of its stack.
pub(crate) struct Header {
    /// [`MAGIC`], from `install` on.
    magic: u64,
    /// The coroutine's id once someone asked for it ([`Header::id`]); 0
    /// until then. Drawn on first use, not at `install`: a draw is an
    /// atomic read-modify-write on a counter every thread shares (a
    /// `lock xadd`, some twenty cycles, and a cache line that moves
    /// between the threads that create coroutines), and most coroutines
    /// are never asked. Atomic only so that the stack-overflow handler,
    /// which may interrupt a draw on this thread, reads it soundly; only
    /// the coroutine's own thread touches it, with relaxed plain loads and
    /// stores.
    id: AtomicU64,
    /// The body's side of the state, the one thing the coroutine tells its
    /// resumer through memory: [`BodyState::Unfinished`] from `install` (or
    /// `prepare`) on, and how the body ended once it has, set by the entry
    /// just before its last switch. The state `Coroutine::state` reports is
    /// the owner's own record, derived from this after each switch (see
    /// `entry.rs`).
    pub(crate) body_state: Cell<BodyState>,
    /// The backend whose two contexts sit just below this header (see
    /// [`Header::contexts`]); fixed for the coroutine's life.
    pub(crate) backend: Backend,
    /// Where the closure of a `Ready` coroutine lies, and how to drop it
    /// unstarted; `None` once the entry has taken it.
    pub(crate) closure: Cell<Option<PlacedClosure>>,
    /// Set by the owner just before it resumes the coroutine to unwind it
    /// (`Coroutine::cancel`), and never cleared: this run of the body is
    /// being cancelled. The entry counts a finish by the private cancel
    /// payload as a cancellation only then; anywhere else that payload is
    /// an ordinary panic. Read and written only off the switch's fast path.
    pub(crate) cancelling: Cell<bool>,
    /// What the coroutine stands for to the layer that made it, or null:
    /// the C API's handle (`ffi/handle.rs`), so that "which C coroutine
    /// runs" is answered as [`current`] is, from the stack the thread runs
    /// on ([`running_tag`]). Set by the owner, kept across `prepare`.
    pub(crate) tag: Cell<*const ()>,
}

/// The body's side of a coroutine's life: what the coroutine tells its
/// resumer through memory, in its header. Only the entry changes it (and
/// `install`/`prepare` start it over); only the owner reads it, after a
/// switch comes back that the backend could not call a suspend by itself
/// (`switch::Back`). Each value also says what that switch's transfer
/// points at (the transfer protocol in `entry.rs`).
///
/// Not the public [`State`](crate::State): the owner derives that from
/// this, and a body's side has no `Ready` or `Hold` of its own. It needs no
/// store at the first resume and none at a suspend; there is nothing for
/// it to say until the body ends.
///
/// Three values, not four: a body cancelled by its owner ends `Returned`
/// with a null transfer, told from a return by the pointer (never null
/// for an `R`). With a `Cancelled` of its own, the owner's decode became a
/// four-way match, which the compiler built as a jump table (an indirect
/// jump on every sjlj round trip) or, with two arms merged, laid out with
/// one more taken jump on every asm round trip (both seen in the compiled
/// loop of the study's `switch` bench).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyState {
    /// The body has not ended: not started yet, running, or suspended. A
    /// switch back that finds this was a suspend: the transfer is a `Y`.
    Unfinished,
    /// The body returned: the transfer is its `R`. Or it ended by the
    /// cancellation its owner asked for (the private cancel payload while
    /// `cancelling`): the transfer is null.
    Returned,
    /// The body panicked: the transfer is its panic's `Payload`.
    Panicked,
}

impl Header {
    /// Writes a fresh `Ready` header at the top of `stack`, prepared to run
    /// `f` through `entry`.
    #[inline]
    pub(crate) fn install<F>(
        stack: &Stack,
        backend: Backend,
        entry: Entry,
        f: F,
    ) -> io::Result<NonNull<Header>> {
        let at = header_at(stack.top() as usize);
        // SAFETY: `at` is below the top of a stack this coroutine owns, and
        // nothing runs on the stack yet.
        let closure = unsafe { place(at, stack, backend, entry, f)? };
        let header = Header {
            magic: MAGIC,
            id: AtomicU64::new(0),
            body_state: Cell::new(BodyState::Unfinished),
            backend,
            closure: Cell::new(Some(closure)),
            cancelling: Cell::new(false),
            tag: Cell::new(ptr::null()),
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
        h.body_state.set(BodyState::Unfinished);
        h.cancelling.set(false);
        Ok(())
    }

    /// The coroutine's process-unique id, drawn now if nobody asked
    /// before. Lock- and allocation-free, so the SIGSEGV handler may call
    /// it.
    #[inline]
    pub(crate) fn id(&self) -> CoroutineId {
        match NonZeroU64::new(self.id.load(Ordering::Relaxed)) {
            Some(id) => CoroutineId(id),
            None => self.draw_id(),
        }
    }

    #[cold]
    fn draw_id(&self) -> CoroutineId {
        let id = next_id();
        self.id.store(id.as_u64(), Ordering::Relaxed);
        id
    }

    /// The two switch contexts of the coroutine whose header is `header`
    /// and backend `backend`, carved just below the header by `place`. Takes
    /// the raw pointer, not `&self`: the switch writes the contexts, memory
    /// outside the header, so the address must carry the stack's
    /// provenance, not a reference's. Only computes an address; using the
    /// contexts is what needs a live header of that backend.
    #[inline(always)]
    pub(crate) fn contexts(header: NonNull<Header>, backend: Backend) -> Contexts {
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
#[inline]
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
    // SAFETY: `running` only returns live headers.
    running().map(|h| unsafe { h.as_ref() }.id())
}

/// The tag ([`Header::tag`]) of the coroutine the CPU is running on; null
/// outside every coroutine, or on one without a tag.
pub(crate) fn running_tag() -> *const () {
    // SAFETY: `running` only returns live headers.
    running().map_or(ptr::null(), |h| unsafe { h.as_ref() }.tag.get())
}

/// The header of the coroutine the CPU is running on, if any.
pub(crate) fn running() -> Option<NonNull<Header>> {
    let (stack, in_guard) = crate::stack::stack_of(stack_pointer())?;
    if in_guard {
        return None;
    }
    // SAFETY: rsp lies in this stack, so its memory is mapped, and code runs
    // on it: it is the stack of the innermost running coroutine (or of a raw
    // switch test, which `installed` tells apart).
    unsafe { installed(stack.end) }
}

/// The id of the coroutine whose stack ends at `stack_top`, if one was
/// ever installed there: how the stack-overflow handler names the
/// coroutine whose guard page was hit (`Builder::build` hands this
/// function to `overflow.rs`). Lock- and allocation-free, so the SIGSEGV
/// handler may call it.
///
/// # Safety
/// `stack_top` is the top of a mapped jmpco stack (one the stack registry
/// holds).
pub(crate) unsafe fn id_at(stack_top: usize) -> Option<u64> {
    // SAFETY: the stack below `stack_top` is mapped (the caller), and so
    // are the header's bytes at its top.
    let h = unsafe { installed(stack_top) }?;
    // SAFETY: `installed` only returns live headers.
    Some(unsafe { h.as_ref() }.id().as_u64())
}

/// The address of the header of the coroutine whose stack ends at `top`.
/// 16-byte aligned: the contexts are carved right below it.
#[inline(always)]
fn header_at(top: usize) -> usize {
    align_down(top - size_of::<Header>(), align_of::<Header>().max(16))
}

/// The header below `top`, if `install` wrote one there.
///
/// # Safety
/// `[top - size_of::<Header>() - 16, top)` is mapped, readable memory.
unsafe fn installed(top: usize) -> Option<NonNull<Header>> {
    let h = header_at(top) as *mut Header;
    // SAFETY: mapped (the caller); a raw field read, since the bytes need not
    // be a Header: only a matching magic says they are.
    let magic = unsafe { ptr::addr_of!((*h).magic).read_volatile() };
    // `header_at` of a stack top is never null.
    (magic == MAGIC).then(|| NonNull::new(h)).flatten()
}

/// The running code's stack pointer.
#[inline(always)]
fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads rsp into a register; touches no memory, stack or flags.
    unsafe {
        std::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    sp
}

fn next_id() -> CoroutineId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    CoroutineId(NonZeroU64::new(id).expect("coroutine ids ran out"))
}

#[cold]
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

#[inline(always)]
fn align_down(addr: usize, align: usize) -> usize {
    addr & !(align - 1)
}
