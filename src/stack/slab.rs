//! The OS layer for stacks: the only file in the crate that calls `mmap`, `munmap`,
//! `mprotect` and `madvise`.
//!
//! It knows nothing about pools or size classes. It hands out raw address ranges:
//!
//! * [`map`] maps a read-write, `MAP_NORESERVE | MAP_STACK` region (a slab, or a fresh
//!   stack's own mapping); [`map_error`] turns its failure into a message that says why.
//! * [`install_guard`] makes one page inaccessible, by `MADV_GUARD_INSTALL` where the kernel
//!   has it (Linux 6.13+; the mapping stays one VMA) and by `mprotect(PROT_NONE)` otherwise
//!   (which splits the mapping, so it costs up to two entries of `vm.max_map_count`).
//! * [`remove_guard`] makes an `mprotect` guard accessible again, so the kernel merges the
//!   mapping it split (the pool does it for stacks that wait long, see
//!   [`guards_split_mappings`]); [`install_guard`] puts it back.
//! * [`release`] gives a free stack's pages back to the OS (`MADV_DONTNEED`); [`unmap`]
//!   removes a fresh stack's mapping.
//! * [`map_error`] and [`alloc_error`] explain an out-of-memory failure (mapping limit,
//!   strict overcommit).
//!
//! The guard mechanism is chosen once per process, on the first guard installed: the
//! environment variable `JMPCO_GUARD=mprotect` or [`force_mprotect`] selects the fallback,
//! otherwise the first `MADV_GUARD_INSTALL` decides (`EINVAL`: the kernel lacks it, fall back
//! for good). A later `EINVAL` on a kernel that has it (an `mlock`ed mapping, say) falls back
//! for that one guard. A guard is never skipped: if neither mechanism works the caller gets
//! the error and no stack.

use std::io;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// `MADV_GUARD_INSTALL`, Linux 6.13+ (`include/uapi/asm-generic/mman-common.h`: 102, the same
/// on every architecture). It writes guard markers into the page tables of a range: any access
/// faults with `SIGSEGV`, the VMA is not split, and the markers survive `MADV_DONTNEED`.
/// Defined here because the `libc` crate (0.2.191) does not have it yet. Kernels without it
/// answer `EINVAL`.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// The guard mechanism has not been decided yet (no guard installed in this process).
const MODE_UNDECIDED: u8 = 0;
/// Guards are installed with `madvise(MADV_GUARD_INSTALL)`.
const MODE_MADVISE: u8 = 1;
/// Guards are installed with `mprotect(PROT_NONE)`.
const MODE_MPROTECT: u8 = 2;

static GUARD_MODE: AtomicU8 = AtomicU8::new(MODE_UNDECIDED);
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);

#[cfg(test)]
thread_local! {
    /// Stack syscalls made by this thread; lets tests prove the pooled path makes none.
    pub(crate) static SYSCALLS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[inline]
fn count_syscall() {
    #[cfg(test)]
    let _ = SYSCALLS.try_with(|c| c.set(c.get() + 1));
}

/// The system page size (queried once, then cached).
#[inline]
pub(crate) fn page_size() -> usize {
    match PAGE_SIZE.load(Ordering::Relaxed) {
        0 => page_size_slow(),
        p => p,
    }
}

#[cold]
fn page_size_slow() -> usize {
    // SAFETY: sysconf has no preconditions; it only reads a system constant.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let p = if p > 0 { p as usize } else { 4096 };
    PAGE_SIZE.store(p, Ordering::Relaxed);
    p
}

/// Use `mprotect(PROT_NONE)` for every guard installed from now on.
pub(crate) fn force_mprotect() {
    GUARD_MODE.store(MODE_MPROTECT, Ordering::Relaxed);
}

/// The guard mechanism in use, for diagnostics and the study's header.
pub(crate) fn guard_mechanism() -> &'static str {
    match GUARD_MODE.load(Ordering::Relaxed) {
        MODE_MADVISE => "madvise(MADV_GUARD_INSTALL)",
        MODE_MPROTECT => "mprotect(PROT_NONE)",
        _ => "undecided (no guard installed yet)",
    }
}

fn guard_mode() -> u8 {
    let mode = GUARD_MODE.load(Ordering::Relaxed);
    if mode != MODE_UNDECIDED {
        return mode;
    }
    if std::env::var_os("JMPCO_GUARD").is_some_and(|v| v == "mprotect") {
        let _ = GUARD_MODE.compare_exchange(
            MODE_UNDECIDED,
            MODE_MPROTECT,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        return GUARD_MODE.load(Ordering::Relaxed);
    }
    MODE_UNDECIDED
}

/// Maps `len` bytes (at least a page) read-write, private, anonymous,
/// `MAP_NORESERVE | MAP_STACK`. Returns the start address, or the raw OS error (see
/// [`map_error`] for a message).
///
/// It writes a zero to the last byte, faulting in the last page: that gives the mapping its
/// kernel record of anonymous memory (`anon_vma`) before any `mprotect` guard splits it, so
/// every piece shares that record, and the kernel can merge the pieces again when
/// [`remove_guard`] undoes a guard. (Pieces that each got their own record on their first
/// fault stay separate mappings.) The page is the top of the last slot's stack, which its
/// first user touches first anyway.
pub(crate) fn map(len: usize) -> Result<usize, io::Error> {
    count_syscall();
    // SAFETY: an anonymous mapping at an address of the kernel's choosing (no MAP_FIXED)
    // cannot alias or replace any existing memory; the result is checked below.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the last byte of the read-write mapping just made, which nothing else has seen.
    unsafe { p.cast::<u8>().add(len - 1).write_volatile(0) };
    Ok(p as usize)
}

/// Removes the mapping `[addr, addr + len)`.
///
/// # Safety
/// The range must be one this module mapped (with [`map`]), owned by the caller, and nothing
/// may use it afterwards.
pub(crate) unsafe fn unmap(addr: usize, len: usize) {
    count_syscall();
    // SAFETY: the caller owns the whole range and promises no further use of it.
    let r = unsafe { libc::munmap(addr as *mut libc::c_void, len) };
    debug_assert_eq!(
        r,
        0,
        "munmap of a stack failed: {}",
        io::Error::last_os_error()
    );
}

/// Gives the pages of `[addr, addr + len)` back to the OS; the next touch reads zeros.
/// Guard markers are not touched (and `MADV_GUARD_INSTALL` markers survive it anyway).
///
/// # Safety
/// The range must lie in a mapping made by [`map`] and be owned by the caller, whose data
/// there is discarded: no live frame or value may be in it.
pub(crate) unsafe fn release(addr: usize, len: usize) {
    count_syscall();
    // SAFETY: the caller owns the range and holds nothing in it; DONTNEED on private
    // anonymous memory only drops its contents.
    let r = unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    debug_assert_eq!(r, 0, "MADV_DONTNEED failed: {}", io::Error::last_os_error());
}

/// Makes the `len` bytes at `addr` (page aligned, inside a mapping made by [`map`] and
/// owned by the caller) fault on any access. On error nothing changed and the range must not
/// be used as a stack.
pub(crate) fn install_guard(addr: usize, len: usize) -> io::Result<()> {
    let mode = guard_mode();
    if mode != MODE_MPROTECT {
        count_syscall();
        // SAFETY: the range lies in a private anonymous mapping this module made and the
        // caller owns; guard markers only make those pages inaccessible.
        let r = unsafe { libc::madvise(addr as *mut libc::c_void, len, MADV_GUARD_INSTALL) };
        if r == 0 {
            if mode == MODE_UNDECIDED {
                let _ = GUARD_MODE.compare_exchange(
                    MODE_UNDECIDED,
                    MODE_MADVISE,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINVAL) {
            return Err(io::Error::new(
                err.kind(),
                format!("jmpco: cannot install a stack guard page (MADV_GUARD_INSTALL): {err}"),
            ));
        }
        if mode == MODE_UNDECIDED {
            // This kernel predates Linux 6.13: use mprotect for every guard from now on.
            let _ = GUARD_MODE.compare_exchange(
                MODE_UNDECIDED,
                MODE_MPROTECT,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        // Otherwise the kernel has it but refused this range (e.g. an mlock'ed mapping):
        // fall back for this guard only.
    }
    count_syscall();
    // SAFETY: as above; PROT_NONE on pages the caller owns and holds nothing in.
    let r = unsafe { libc::mprotect(addr as *mut libc::c_void, len, libc::PROT_NONE) };
    if r == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ENOMEM) {
        let limit = read_proc_number("/proc/sys/vm/max_map_count");
        let limit_text = limit.map_or_else(|| "?".to_string(), |n| n.to_string());
        let in_use = maps_count().map_or_else(|| "?".to_string(), |n| n.to_string());
        let per_process = limit.map_or_else(|| "?".to_string(), |n| (n / 2).to_string());
        return Err(io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "jmpco: cannot install a stack guard page: the process hit vm.max_map_count \
                 ({limit_text} mappings, {in_use} in use); mprotect(PROT_NONE) guards split \
                 a mapping in two, so this fallback allows about {per_process} guarded stacks \
                 per process. Drop unused coroutines, raise vm.max_map_count (sysctl), or run \
                 on Linux 6.13+ where MADV_GUARD_INSTALL guards need no extra mapping \
                 (mprotect: {err})"
            ),
        ));
    }
    Err(io::Error::new(
        err.kind(),
        format!("jmpco: cannot install a stack guard page (mprotect): {err}"),
    ))
}

/// Whether guards installed from now on are `mprotect(PROT_NONE)` ones, each of which splits
/// its mapping (up to two entries of `vm.max_map_count`). `MADV_GUARD_INSTALL` guards split
/// nothing.
pub(crate) fn guards_split_mappings() -> bool {
    guard_mode() == MODE_MPROTECT
}

/// Undoes an `mprotect(PROT_NONE)` guard: makes the `len` bytes at `addr` read-write again,
/// which lets the kernel merge them with the read-write pages on either side into one mapping
/// (VMA). Best effort: if `mprotect` fails the pages simply stay inaccessible. Guard markers
/// of `MADV_GUARD_INSTALL` are not removed by it (they do not split the mapping anyway).
///
/// # Safety
/// `[addr, addr + len)` must be the guard of a stack slot in a mapping made by [`map`], and the
/// caller must own that slot's stack and run nothing on it until it has installed the guard
/// again with [`install_guard`]: until then an overflow of that stack would not fault.
pub(crate) unsafe fn remove_guard(addr: usize, len: usize) {
    count_syscall();
    // SAFETY: the caller owns the slot, and the range is its guard inside a private anonymous
    // mapping of this module: nothing lives in those pages, and making them read-write only
    // gives up the protection the caller promises not to rely on until it reinstalls it.
    unsafe {
        libc::mprotect(
            addr as *mut libc::c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
        )
    };
}

/// Explains why mapping `len` bytes of stacks failed with `err` (from [`map`]).
pub(crate) fn map_error(len: usize, err: io::Error) -> io::Error {
    let mut msg = format!("jmpco: cannot map {len} bytes for coroutine stacks: {err}");
    if err.raw_os_error() == Some(libc::ENOMEM) {
        let limit = read_proc_number("/proc/sys/vm/max_map_count");
        let in_use = maps_count();
        if read_proc_number("/proc/sys/vm/overcommit_memory") == Some(2) {
            msg.push_str(
                "; vm.overcommit_memory=2 (strict accounting) ignores MAP_NORESERVE, so every \
                 stack byte counts against CommitLimit (see /proc/meminfo): use smaller or \
                 fewer stacks, or raise vm.overcommit_ratio",
            );
        } else if let (Some(limit), Some(in_use)) = (limit, in_use) {
            if in_use as u64 + 16 >= limit {
                msg.push_str(&format!(
                    "; the process hit vm.max_map_count ({limit} mappings, {in_use} in use)"
                ));
            } else {
                msg.push_str("; the process is out of address space or memory");
            }
        }
    }
    io::Error::new(err.kind(), msg)
}

/// The error for memory the pool needs for its own lists (`what`) that the allocator could
/// not provide. At `vm.max_map_count` the allocator cannot map more memory either, so the
/// message says so when the process is there.
pub(crate) fn alloc_error(what: &str) -> io::Error {
    let mut msg = format!("jmpco: cannot allocate {what}: out of memory");
    let limit = read_proc_number("/proc/sys/vm/max_map_count");
    if let (Some(limit), Some(in_use)) = (limit, maps_count()) {
        if in_use as u64 + 16 >= limit {
            msg.push_str(&format!(
                "; the process hit vm.max_map_count ({limit} mappings, {in_use} in use). Drop \
                 unused coroutines or raise vm.max_map_count (sysctl)"
            ));
        }
    }
    io::Error::new(io::ErrorKind::OutOfMemory, msg)
}

fn read_proc_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Lines of `/proc/self/maps`: the number of mappings (VMAs) of this process.
///
/// Streams through a fixed buffer: this runs when the process is out of mappings, where a
/// large allocation (itself an `mmap`) would fail.
pub(crate) fn maps_count() -> Option<usize> {
    use std::io::Read;
    let mut file = std::fs::File::open("/proc/self/maps").ok()?;
    let mut buf = [0u8; 4096];
    let mut lines = 0;
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Some(lines),
            Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}
