//! Coroutine stacks: memory mapped with a guard page below, pooled so creation is cheap.
//!
//! # The model
//!
//! A coroutine runs on a [`Stack`]: `size()` usable bytes from `bottom()` up to `top()`, and
//! below `bottom()` a guard page that faults on any access. Stacks grow down, so a coroutine
//! that overflows walks into its own guard and dies with `SIGSEGV` instead of silently
//! writing over whatever lies below.
//!
//! Stacks are not mapped one by one. Each size class (usable size in whole pages) carves its
//! stacks in address order from *slabs*: one `mmap` holding many `[guard|stack]` slots.
//!
//! ```text
//!  low addresses                                                        high addresses
//!  +-------+-----------------+-------+-----------------+-----+-------+-----------------+
//!  | guard |  stack 0        | guard |  stack 1        | ... | guard |  stack n-1      |
//!  +-------+-----------------+-------+-----------------+-----+-------+-----------------+
//!  ^       ^                 ^       ^                 ^
//!  slab    bottom()      top()       bottom()      top()
//!          grows down <------|               <---------|    (rsp starts at top())
//!  one mmap: PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE|MAP_STACK
//! ```
//!
//! A slab of a class has 16 slots at first, each next slab twice as many, up to 1024 (and at
//! most 1 GiB unless one slot is bigger), so a program with few coroutines maps little and one
//! with many maps few slabs: 100,000 default stacks live in about a hundred mappings.
//!
//! # Guards and `vm.max_map_count`
//!
//! Linux caps the mappings (VMAs) of a process at `vm.max_map_count`, 65530 by default. The
//! classic guard, `mprotect(PROT_NONE)`, splits a mapping: a slab with n guarded slots is
//! about 2n VMAs, so guarded stacks stop near 32,000 per process. Linux 6.13 added
//! `madvise(MADV_GUARD_INSTALL)`, which marks the guard in the page tables and leaves the
//! mapping whole; we use it when the kernel has it (probed once per process: `EINVAL` means
//! it does not) and fall back to `mprotect` otherwise. Set `JMPCO_GUARD=mprotect` in the
//! environment (read when the first guard is installed), or call the hidden
//! [`force_mprotect_guards`], to force the fallback. When the fallback runs out of mappings,
//! creation returns an [`io::Error`] that says so; a stack is never handed out unguarded.
//!
//! Dropping stacks gives those mappings back. Under the fallback, a free stack that turns
//! *cold* (see below) loses its guard: `mprotect` makes the guard page read-write again and
//! the kernel merges the slot back into its neighbours. Taking a cold stack installs its guard
//! again first; if that fails at the limit, the stack stays free and the caller gets the same
//! error. So after the error, dropping coroutines and creating new ones works, and the
//! process keeps about two mappings per stack in use or kept warm, plus one per slab. (The
//! kernel merges neighbouring pieces of a mapping only if they share its record of anonymous
//! memory, which a piece inherits when it is split off a slab that already has one, so
//! `slab::map` writes one byte of the last page of every new mapping: that slot's stack would
//! touch the page first anyway.)
//!
//! Mappings are `MAP_NORESERVE`: a stack costs memory only for the pages it touches (plus
//! page tables), and `size()` is a limit, not a cost. (Under `vm.overcommit_memory=2` the
//! kernel ignores `MAP_NORESERVE` and the whole mapping counts against `CommitLimit`; the
//! error message says so when that limit is hit.)
//!
//! # Ownership and pooling
//!
//! * Slabs belong to the process and are never unmapped.
//! * A [`Stack`] owns one slot's usable range from [`Stack::pooled`] until it is dropped;
//!   dropping it returns the slot to the calling thread's cache, or to the global free list
//!   if that thread never took a stack of its size. Giving a stack back never allocates, so it
//!   cannot fail even when the process is out of memory or mappings: the room on the lists is
//!   reserved when a slot is carved (carving fails with an error if it cannot be had), and
//!   when a thread first takes a stack of a size.
//! * The guard belongs to the slot: it is installed when the slot is carved, and a slot that
//!   is owned, in a thread's cache, or warm on the global list always has it. Only a cold slot
//!   under the `mprotect` fallback may be without it, until it is taken again.
//! * Free slots wait in a per-thread cache (no lock, no syscall: this is what makes creating
//!   a coroutine cheap), which overflows into a global free list and drains into it when the
//!   thread exits. Free slots on the global list beyond a bound (1024 per size) turn cold:
//!   their pages are given back to the OS (`MADV_DONTNEED`) and, under the `mprotect`
//!   fallback, their guard is removed. See `pool.rs`.
//! * [`Stack::fresh`] is the exception: a mapping of its own, unmapped on drop, never pooled.
//!
//! # Finding a stack from an address
//!
//! Every slab and fresh stack is recorded in a lock-free table (`registry.rs`) when it is
//! mapped (a fresh stack is forgotten before it is unmapped), so any address can be traced to
//! the slot that holds it. `jmpco::current()` traces the stack pointer to the running
//! coroutine, and the overflow handler a faulting address to the guard it hit, without the
//! switch writing a thread-local on every resume.
//!
//! Only this module calls `mmap`, `munmap`, `mprotect` and `madvise` (all in `slab.rs`).

mod pool;
mod registry;
mod slab;
pub(crate) mod valgrind;

pub(crate) use registry::stack_of;

use std::fmt;
use std::io;
use std::ops::Range;

/// Smallest usable stack: one page (the guard page is extra).
pub const MIN_STACK_SIZE: usize = 4096;

/// Default usable size: 64 KiB.
///
/// Enough for std's panic and formatting machinery, which a coroutine body can reach from
/// any `panic!` or `println!` (a few KiB of frames), and for a `std::backtrace::Backtrace`
/// capture (the unwinder and symbolizer use several KiB more), with room left for the body
/// itself. It costs only the pages actually touched, because stacks are mapped with
/// `MAP_NORESERVE` and never pre-faulted: a coroutine that touches 8 KiB pays 8 KiB.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;

/// A coroutine stack: `size()` usable bytes `[bottom(), top())` with a guard region directly
/// below `bottom()` that faults on any access.
///
/// Made by [`Stack::pooled`] (the normal way: no syscall when the thread has a free stack of
/// that size cached) or [`Stack::fresh`] (a mapping of its own). Not `Clone`: the stack owns
/// its memory; dropping it returns that memory to the pool (or unmaps it, for a fresh stack).
/// The memory is not zeroed between owners.
pub struct Stack {
    /// Lowest usable byte.
    bottom: usize,
    /// Usable bytes, whole pages: in bytes, so that `top` and `size` (on every coroutine's
    /// creation) and the pool's class (its key) need no page size.
    size: usize,
    /// A mapping of its own (unmap on drop) rather than a pooled slot, with
    /// its record in the registry.
    fresh: Option<registry::Recorded>,
    /// The range as registered with Valgrind (`valgrind` feature; else empty).
    _valgrind: valgrind::StackRegistration,
}

// SAFETY: a Stack is an owned address range with no thread affinity: the pool it returns to
// on drop is whichever thread drops it (thread cache or global list are both fine), and a
// fresh stack's munmap may run on any thread.
unsafe impl Send for Stack {}

impl Stack {
    /// A stack of at least `size` usable bytes (rounded up to whole pages), with a guard
    /// region of at least one page directly below it. Taken from the calling thread's pool
    /// when one of that size is cached (no syscall), else from the global free list, else
    /// carved from a slab. Dropping it returns it to the pool.
    ///
    /// # Errors
    /// `InvalidInput` if `size` is 0 or too big to round to pages; otherwise the OS error
    /// (with a message naming the limit hit) when no stack can be mapped or guarded (a cold
    /// stack's guard reinstalled, under the `mprotect` fallback), or `OutOfMemory` when the
    /// pool's free list cannot grow to hold one more stack.
    #[inline]
    pub fn pooled(size: usize) -> io::Result<Stack> {
        let size = round_size(size)?;
        let bottom = pool::take(size)?;
        Ok(Stack::owning(bottom, size, None))
    }

    /// A stack in a mapping of its own (mmap + guard), unmapped on drop; never pooled.
    /// (Used to benchmark "fresh" creation.)
    ///
    /// # Errors
    /// As for [`Stack::pooled`].
    pub fn fresh(size: usize) -> io::Result<Stack> {
        let size = round_size(size)?;
        let page = slab::page_size();
        // Cannot overflow: round_size checked that size + page fits in an isize.
        let len = size + page;
        let base = slab::map(len).map_err(|e| slab::map_error(len, e))?;
        let recorded = slab::install_guard(base, page).and_then(|()| registry::add(base, len, 1));
        match recorded {
            Ok(recorded) => Ok(Stack::owning(base + page, size, Some(recorded))),
            Err(e) => {
                // SAFETY: we just mapped [base, base + len) and nothing else has seen it.
                unsafe { slab::unmap(base, len) };
                Err(e)
            }
        }
    }

    #[inline]
    fn owning(bottom: usize, size: usize, fresh: Option<registry::Recorded>) -> Stack {
        Stack {
            bottom,
            size,
            fresh,
            _valgrind: valgrind::StackRegistration::new(bottom, bottom + size),
        }
    }

    /// One past the highest usable byte; page aligned (so 16-byte aligned).
    #[inline]
    pub fn top(&self) -> *mut u8 {
        (self.bottom + self.size()) as *mut u8
    }

    /// Lowest usable byte.
    #[inline]
    pub fn bottom(&self) -> *mut u8 {
        self.bottom as *mut u8
    }

    /// Usable bytes (top - bottom).
    #[inline]
    pub fn size(&self) -> usize {
        self.size
    }

    /// The guard region directly below `bottom()`, as addresses [start, end).
    #[inline]
    pub fn guard(&self) -> Range<usize> {
        self.bottom - slab::page_size()..self.bottom
    }
}

impl Drop for Stack {
    #[inline]
    fn drop(&mut self) {
        if let Some(recorded) = self.fresh.take() {
            registry::remove(recorded);
            let page = slab::page_size();
            // SAFETY: a fresh stack owns its whole mapping [guard start, top), made by
            // `Stack::fresh`; being dropped, nothing runs on it any more.
            unsafe { slab::unmap(self.bottom - page, self.size + page) };
        } else {
            pool::give(self.size, self.bottom);
        }
    }
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("bottom", &self.bottom())
            .field("top", &self.top())
            .field("size", &self.size())
            .field("fresh", &self.fresh.is_some())
            .finish()
    }
}

/// Requests up to this many bytes take [`round_size`]'s fast path: rounded up to a page (at
/// most a few MiB on any platform) and a guard page added, they stay far below `isize::MAX`.
const ROUND_FAST_MAX: usize = isize::MAX as usize / 4;

/// Usable bytes, whole pages, for a request of `size` bytes, or `InvalidInput`. Inline on
/// every pooled creation: one compare for the sizes that cannot overflow, then the rounding.
#[inline]
fn round_size(size: usize) -> io::Result<usize> {
    let page = slab::page_size();
    // `size` in 1..=ROUND_FAST_MAX (0 wraps around to usize::MAX).
    if size.wrapping_sub(1) < ROUND_FAST_MAX {
        // Page sizes are powers of two: a mask instead of a division.
        return Ok((size.max(MIN_STACK_SIZE) + (page - 1)) & !(page - 1));
    }
    round_size_checked(size)
}

/// [`round_size`] for any `size`, every step checked.
#[cold]
fn round_size_checked(size: usize) -> io::Result<usize> {
    if size == 0 {
        return Err(invalid_size(size));
    }
    let page = slab::page_size();
    let Some(rounded) = size.max(MIN_STACK_SIZE).checked_add(page - 1) else {
        return Err(invalid_size(size));
    };
    let rounded = rounded & !(page - 1);
    // The whole slot, guard page included, must fit in an isize (mmap's and pointer
    // arithmetic's limit); then no later `size + page` can overflow.
    match rounded.checked_add(page) {
        Some(slot) if slot <= isize::MAX as usize => Ok(rounded),
        _ => Err(invalid_size(size)),
    }
}

#[cold]
fn invalid_size(size: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("jmpco: invalid stack size {size}: must be at least 1 and fit, rounded up to pages plus a guard page, in an isize"),
    )
}

/// Installs every guard from now on with `mprotect(PROT_NONE)`, as on kernels without
/// `MADV_GUARD_INSTALL` (the same as `JMPCO_GUARD=mprotect`). For tests of the fallback;
/// guards already installed stay as they are.
#[doc(hidden)]
pub fn force_mprotect_guards() {
    slab::force_mprotect();
}

/// The guard mechanism in use: `"madvise(MADV_GUARD_INSTALL)"`, `"mprotect(PROT_NONE)"`,
/// or undecided before the first guard (for diagnostics and benchmark headers).
#[doc(hidden)]
pub fn guard_mechanism() -> &'static str {
    slab::guard_mechanism()
}

/// Helpers shared by the stack tests: child processes, page-state probes, and a count of
/// each thread's heap allocations.
#[cfg(test)]
pub(crate) mod test_util {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;
    use std::process::Command;

    /// The test binary's allocator: `System`, counting each thread's allocations, so a test can
    /// show that a path allocates nothing.
    struct CountingAllocator;

    #[global_allocator]
    static ALLOCATOR: CountingAllocator = CountingAllocator;

    thread_local! {
        static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    }

    fn count_allocation() {
        // A const-initialised Cell has no destructor: this neither allocates nor fails, even
        // while the thread's other locals are being destroyed.
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
    }

    /// Allocations (`alloc`, `alloc_zeroed`, `realloc`) made by the calling thread so far.
    pub(crate) fn allocations() -> u64 {
        ALLOCATIONS.try_with(Cell::get).unwrap_or(0)
    }

    // SAFETY: every method forwards its arguments unchanged to `System`, so it keeps the
    // `GlobalAlloc` contract exactly as `System` does; the count touches no memory it returns.
    unsafe impl GlobalAlloc for CountingAllocator {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            count_allocation();
            // SAFETY: forwarded unchanged; our caller upholds `alloc`'s contract.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            count_allocation();
            // SAFETY: forwarded unchanged; our caller upholds `alloc_zeroed`'s contract.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            count_allocation();
            // SAFETY: forwarded unchanged; `ptr` came from `System` through this allocator.
            unsafe { System.realloc(ptr, layout, new_size) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: forwarded unchanged; `ptr` came from `System` through this allocator.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    /// Whether a one-byte write at `addr` kills a forked child with `SIGSEGV`.
    /// (`false` if the child survives the write or dies some other way.)
    pub(crate) fn write_faults(addr: usize) -> bool {
        // SAFETY: fork duplicates this process; the child below only calls setrlimit,
        // does one volatile write and _exits, all async-signal-safe, so it needs no lock
        // another test thread might have held at the fork.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: in the child: no core file for the expected crash; then write one byte
            // to `addr`, a page of this (copied) address space the test chose to probe, and
            // exit without running any destructor or atexit handler.
            unsafe {
                libc::setrlimit(libc::RLIMIT_CORE, &no_core);
                std::ptr::write_volatile(addr as *mut u8, 0x5a);
                libc::_exit(0);
            }
        }
        let mut status = 0;
        // SAFETY: waits for the child we just forked; `status` is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(r, pid, "waitpid: {}", std::io::Error::last_os_error());
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV
    }

    /// Whether the page at `addr` (page aligned, mapped) is resident in memory.
    pub(crate) fn resident(addr: usize) -> bool {
        let mut vec = [0u8; 1];
        // SAFETY: mincore only reads the page table state of one page and writes one byte
        // into `vec`.
        let r = unsafe { libc::mincore(addr as *mut libc::c_void, 1, vec.as_mut_ptr()) };
        assert_eq!(r, 0, "mincore: {}", std::io::Error::last_os_error());
        vec[0] & 1 == 1
    }

    /// Whether any page of `[addr, addr + len)` is unmapped (`mincore` says `ENOMEM`).
    pub(crate) fn unmapped(addr: usize, len: usize) -> bool {
        let page = super::slab::page_size();
        let mut vec = vec![0u8; len.div_ceil(page)];
        // SAFETY: mincore reads page table state and writes one byte per page into `vec`,
        // which has room for every page of the range.
        let r = unsafe { libc::mincore(addr as *mut libc::c_void, len, vec.as_mut_ptr()) };
        r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOMEM)
    }

    /// The environment variable that marks a re-executed test binary as a child.
    pub(crate) const CHILD_ENV: &str = "JMPCO_STACK_TEST_CHILD";

    /// Whether this process is the child run for `test` (see [`assert_child_ok`]).
    pub(crate) fn is_child(test: &str) -> bool {
        std::env::var(CHILD_ENV).is_ok_and(|v| v == test)
    }

    /// Runs the ignored test `test` (full path, e.g. `stack::tests::x_child`) alone in a new
    /// process of this test binary, so it can change process-wide state (the guard mode, the
    /// mapping count) without disturbing the other tests. Panics with the child's output
    /// unless it succeeded and printed `CHILD OK`; else prints that output.
    pub(crate) fn assert_child_ok(test: &str) {
        let out = Command::new(std::env::current_exe().expect("current_exe"))
            .args([
                test,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, test)
            .output()
            .expect("spawn test child");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && text.contains("CHILD OK"),
            "child failed:\n{text}"
        );
        eprintln!("{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::{allocations, assert_child_ok, is_child, unmapped, write_faults};
    use super::*;

    fn page() -> usize {
        slab::page_size()
    }

    #[test]
    fn zero_size_is_invalid_input() {
        assert_eq!(
            Stack::pooled(0).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            Stack::fresh(0).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn sizes_too_big_to_round_are_invalid_input() {
        for size in [usize::MAX, usize::MAX - page() + 2, isize::MAX as usize] {
            let err = Stack::pooled(size).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "size {size}");
            assert!(err.to_string().contains("jmpco"), "{err}");
            let err = Stack::fresh(size).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "size {size}");
        }
    }

    #[test]
    fn small_sizes_round_up_to_min_stack_size() {
        for size in [1, 100, MIN_STACK_SIZE - 1, MIN_STACK_SIZE] {
            let s = Stack::pooled(size).unwrap();
            assert_eq!(s.size(), MIN_STACK_SIZE.max(page()), "size {size}");
            let f = Stack::fresh(size).unwrap();
            assert_eq!(f.size(), MIN_STACK_SIZE.max(page()), "size {size}");
        }
    }

    #[test]
    fn top_is_page_aligned_and_size_rounded() {
        for size in [
            5000,
            DEFAULT_STACK_SIZE,
            DEFAULT_STACK_SIZE + 1,
            3 * page() + 7,
        ] {
            for s in [Stack::pooled(size).unwrap(), Stack::fresh(size).unwrap()] {
                let expect = size.div_ceil(page()) * page();
                assert_eq!(s.size(), expect, "{s:?}");
                assert_eq!(s.top() as usize % page(), 0, "{s:?}");
                assert_eq!(s.top() as usize % 16, 0, "{s:?}");
                assert_eq!(s.bottom() as usize % page(), 0, "{s:?}");
                assert_eq!(s.top() as usize - s.bottom() as usize, s.size());
            }
        }
    }

    #[test]
    fn guard_is_directly_below_bottom() {
        for s in [Stack::pooled(8192).unwrap(), Stack::fresh(8192).unwrap()] {
            let g = s.guard();
            assert_eq!(g.end, s.bottom() as usize);
            assert!(g.end - g.start >= page());
            assert_eq!(g.start % page(), 0);
        }
    }

    #[test]
    fn whole_usable_range_is_writable() {
        for s in [
            Stack::pooled(3 * 4096).unwrap(),
            Stack::fresh(3 * 4096).unwrap(),
        ] {
            // SAFETY: [bottom, top) is usable memory owned by `s`.
            unsafe { std::ptr::write_bytes(s.bottom(), 0xab, s.size()) };
            // SAFETY: as above; top - 1 is the highest usable byte.
            assert_eq!(unsafe { *s.top().sub(1) }, 0xab);
        }
    }

    #[test]
    fn guard_page_faults() {
        let pooled = Stack::pooled(DEFAULT_STACK_SIZE).unwrap();
        let fresh = Stack::fresh(DEFAULT_STACK_SIZE).unwrap();
        for s in [&pooled, &fresh] {
            // The probe itself must work: the lowest usable byte does not fault...
            assert!(!write_faults(s.bottom() as usize), "{s:?}");
            // ...but the guard's highest and lowest bytes do.
            assert!(write_faults(s.guard().end - 1), "no guard below {s:?}");
            assert!(write_faults(s.guard().start), "no guard below {s:?}");
        }
    }

    #[test]
    fn fresh_stack_is_unmapped_on_drop() {
        let s = Stack::fresh(5 * 4096).unwrap();
        let (start, len) = (s.guard().start, s.top() as usize - s.guard().start);
        assert!(!unmapped(start, len), "fresh stack not mapped: {s:?}");
        drop(s);
        assert!(unmapped(start, len), "fresh stack still mapped after drop");
    }

    #[test]
    fn stack_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Stack>();
    }

    /// Lines of /proc/self/maps, i.e. mappings of this process.
    fn maps() -> usize {
        slab::maps_count().expect("read /proc/self/maps")
    }

    /// Resident pages of this process (`/proc/self/statm`, second field).
    fn resident_pages() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
        statm.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// `vm.max_map_count`, or Linux's default where it cannot be read.
    fn max_map_count() -> usize {
        std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .map_or(65530, |s| s.trim().parse().unwrap())
    }

    /// Takes one-page stacks into `stacks` until taking fails (at most `limit`); the error.
    fn take_until_error(stacks: &mut Vec<Stack>, limit: usize) -> io::Error {
        loop {
            match Stack::pooled(MIN_STACK_SIZE) {
                Ok(s) => stacks.push(s),
                Err(e) => return e,
            }
            assert!(
                stacks.len() <= limit,
                "no error after {} stacks",
                stacks.len()
            );
        }
    }

    #[test]
    fn hundred_thousand_stacks_stay_under_max_map_count() {
        let before = maps();
        let stacks: Vec<Stack> = (0..100_000)
            .map(|i| Stack::pooled(DEFAULT_STACK_SIZE).unwrap_or_else(|e| panic!("stack {i}: {e}")))
            .collect();
        if guard_mechanism() != "madvise(MADV_GUARD_INSTALL)" {
            eprintln!("kernel without MADV_GUARD_INSTALL: 100k guarded stacks are out of reach");
        }
        let after = maps();
        let limit = max_map_count();
        eprintln!(
            "100k stacks: maps {before} -> {after} (limit {limit}), guards: {}",
            guard_mechanism()
        );
        // About a hundred slabs; leave slack for other tests running in parallel.
        assert!(after < before + 1000, "maps {before} -> {after}");
        assert!(after < limit / 10, "maps {after}");
        // Distinct, non-overlapping, each with its guard.
        let mut bottoms: Vec<usize> = stacks.iter().map(|s| s.bottom() as usize).collect();
        bottoms.sort_unstable();
        assert!(bottoms
            .windows(2)
            .all(|w| w[1] - w[0] >= DEFAULT_STACK_SIZE + page()));
        for s in stacks.iter().step_by(20_000) {
            assert!(write_faults(s.guard().start), "{s:?}");
        }
    }

    #[test]
    fn mprotect_fallback_guard_page_faults() {
        assert_child_ok("stack::tests::mprotect_fallback_guard_page_faults_child");
    }

    #[test]
    #[ignore = "runs in a child process started by mprotect_fallback_guard_page_faults"]
    fn mprotect_fallback_guard_page_faults_child() {
        if !is_child("stack::tests::mprotect_fallback_guard_page_faults_child") {
            return;
        }
        force_mprotect_guards();
        let before = maps();
        let stacks: Vec<Stack> = (0..8).map(|_| Stack::pooled(8192).unwrap()).collect();
        let fresh = Stack::fresh(8192).unwrap();
        assert_eq!(guard_mechanism(), "mprotect(PROT_NONE)");
        // The fallback really is mprotect: each guard split the slab (about 2 maps a stack).
        assert!(
            maps() >= before + 2 * stacks.len(),
            "{before} -> {}",
            maps()
        );
        for s in stacks.iter().chain([&fresh]) {
            assert!(!write_faults(s.bottom() as usize), "{s:?}");
            assert!(write_faults(s.guard().start), "no guard below {s:?}");
        }
        println!("CHILD OK");
    }

    #[test]
    fn mprotect_fallback_reports_exhaustion_clearly() {
        assert_child_ok("stack::tests::mprotect_fallback_reports_exhaustion_clearly_child");
    }

    #[test]
    #[ignore = "runs in a child process started by mprotect_fallback_reports_exhaustion_clearly"]
    fn mprotect_fallback_reports_exhaustion_clearly_child() {
        if !is_child("stack::tests::mprotect_fallback_reports_exhaustion_clearly_child") {
            return;
        }
        force_mprotect_guards();
        let limit = max_map_count();
        let mut stacks = Vec::with_capacity(limit);
        let err = take_until_error(&mut stacks, limit);
        let msg = err.to_string();
        println!("after {} stacks: {msg}", stacks.len());
        assert!(msg.contains("vm.max_map_count"), "{msg}");
        assert!(msg.contains(&limit.to_string()), "{msg}");
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
        // It really was the mapping limit, not some early failure.
        assert!(
            stacks.len() > limit / 2 - 1000,
            "only {} stacks",
            stacks.len()
        );
        // Every stack handed out is guarded (spot check the last ones too).
        for s in stacks
            .iter()
            .rev()
            .take(3)
            .chain(stacks.iter().step_by(5000))
        {
            assert!(write_faults(s.guard().start), "unguarded {s:?}");
        }
        // Still no crash, and a freed stack can be taken again.
        assert!(Stack::pooled(MIN_STACK_SIZE).is_err());
        drop(stacks.pop());
        let again = Stack::pooled(MIN_STACK_SIZE).expect("reuse after exhaustion");
        assert!(write_faults(again.guard().start));
        println!("CHILD OK");
    }

    #[test]
    fn mprotect_exhaustion_recovers_after_the_stacks_are_dropped() {
        assert_child_ok(
            "stack::tests::mprotect_exhaustion_recovers_after_the_stacks_are_dropped_child",
        );
    }

    #[test]
    #[ignore = "runs in a child process started by mprotect_exhaustion_recovers_after_the_stacks_are_dropped"]
    fn mprotect_exhaustion_recovers_after_the_stacks_are_dropped_child() {
        if !is_child(
            "stack::tests::mprotect_exhaustion_recovers_after_the_stacks_are_dropped_child",
        ) {
            return;
        }
        force_mprotect_guards();
        let limit = max_map_count();
        let mut stacks = Vec::with_capacity(limit);
        let (maps_before, rss_before) = (maps(), resident_pages());
        let mut taken = Vec::new();
        for round in 0..2 {
            let err = take_until_error(&mut stacks, limit);
            let msg = err.to_string();
            println!("round {round}: {} stacks, then: {msg}", stacks.len());
            assert!(msg.contains("vm.max_map_count"), "{msg}");
            assert!(
                stacks.len() > limit / 2 - 1000,
                "only {} stacks",
                stacks.len()
            );
            for s in stacks
                .iter()
                .rev()
                .take(3)
                .chain(stacks.iter().step_by(4000))
            {
                assert!(write_faults(s.guard().start), "unguarded {s:?}");
            }
            for s in &stacks {
                // SAFETY: top - 1 is the highest usable byte of `s`, which owns it.
                unsafe { s.top().sub(1).write(1) };
            }
            taken.push(stacks.len());
            // As the message advises: drop them all. This is where a list growing by a
            // (failing) allocation used to abort the process.
            let allocs = allocations();
            stacks.clear();
            assert_eq!(allocations(), allocs, "giving the stacks back allocated");
            // Only the free stacks kept warm (the thread's cache and the global list's warm
            // part) keep their guards and their pages: about 2 mappings and 1 page each. Every
            // other guard is gone and its slab merged whole again; each slab is one mapping
            // (about 40 for this many one-page stacks). The rest is slack for the allocator
            // (the free list alone is 256 KiB) and this test's own vector.
            let warm = pool::LOCAL_CAP + pool::GLOBAL_WARM;
            let (maps_after, rss_after) = (maps(), resident_pages());
            println!(
                "round {round} dropped: maps {maps_before} -> {maps_after}, \
                 resident pages {rss_before} -> {rss_after}"
            );
            assert!(
                maps_after <= maps_before + 2 * warm + 200,
                "maps {maps_before} -> {maps_after}"
            );
            let slack = (8 << 20) / page();
            assert!(
                rss_after <= rss_before + warm + slack,
                "resident pages {rss_before} -> {rss_after}"
            );
        }
        // The second round got as many stacks as the first, give or take a mapping or two of
        // the allocator's.
        assert!(taken[1] + 100 >= taken[0], "stacks per round: {taken:?}");
        println!("CHILD OK");
    }

    #[test]
    fn mprotect_exhaustion_of_coroutines_recovers_after_they_are_dropped() {
        assert_child_ok(
            "stack::tests::mprotect_exhaustion_of_coroutines_recovers_after_they_are_dropped_child",
        );
    }

    #[test]
    #[ignore = "runs in a child process started by mprotect_exhaustion_of_coroutines_recovers_after_they_are_dropped"]
    fn mprotect_exhaustion_of_coroutines_recovers_after_they_are_dropped_child() {
        use crate::Coroutine;
        if !is_child(
            "stack::tests::mprotect_exhaustion_of_coroutines_recovers_after_they_are_dropped_child",
        ) {
            return;
        }
        force_mprotect_guards();
        let limit = max_map_count();
        let mut coroutines: Vec<Coroutine<u32, (), u32>> = Vec::with_capacity(limit);
        let maps_before = maps();
        let mut built = Vec::new();
        for round in 0..2 {
            let err = loop {
                match Coroutine::builder().build(|_, n: u32| n + 1) {
                    Ok(co) => coroutines.push(co),
                    Err(e) => break e,
                }
                assert!(
                    coroutines.len() <= limit,
                    "no error after {}",
                    coroutines.len()
                );
            };
            let msg = err.to_string();
            println!(
                "round {round}: {} coroutines, then: {msg}",
                coroutines.len()
            );
            assert!(msg.contains("vm.max_map_count"), "{msg}");
            let last = coroutines.last_mut().expect("some coroutines");
            assert_eq!(last.resume(41).as_return(), Some(42));
            built.push(coroutines.len());
            // As the message advises: drop them all, then create again.
            let allocs = allocations();
            coroutines.clear();
            assert_eq!(allocations(), allocs, "dropping the coroutines allocated");
            // As in mprotect_exhaustion_recovers_after_the_stacks_are_dropped: only the warm
            // free stacks keep their guards.
            let maps_after = maps();
            println!("round {round} dropped: maps {maps_before} -> {maps_after}");
            assert!(
                maps_after <= maps_before + 2 * (pool::LOCAL_CAP + pool::GLOBAL_WARM) + 200,
                "maps {maps_before} -> {maps_after}"
            );
        }
        assert!(
            built[1] + 100 >= built[0],
            "coroutines per round: {built:?}"
        );
        let mut co: Coroutine<u32, (), u32> = Coroutine::builder()
            .build(|_, n: u32| n * 2)
            .expect("a coroutine after the drop");
        assert_eq!(co.resume(21).as_return(), Some(42));
        println!("CHILD OK");
    }
}
