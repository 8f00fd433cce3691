//! Where free stacks wait: a per-thread cache in front of a global free list, in front of the
//! slabs.
//!
//! A stack is named by its `bottom` address and its size class: its usable bytes, whole
//! pages (the key is the byte count, which a `Stack` holds, not the page count: the hot paths
//! then need no page size). Every free stack sits in exactly one of:
//!
//! 1. the calling thread's cache, [`LOCAL`]: per class a `Vec` used as a LIFO (the most
//!    recently freed stack is the warmest), at most [`LOCAL_CAP`] long. Taking from and giving
//!    back to it is a `RefCell` borrow and a `Vec` push/pop: no lock, no syscall.
//! 2. the global free list, [`GLOBAL`] (one `Mutex`): per class a `warm` list of at most
//!    [`GLOBAL_WARM`] stacks whose pages stay resident, and a `cold` list of stacks whose pages
//!    were given back with `MADV_DONTNEED` before they were listed. Warm stacks go out first.
//! 3. not yet carved: the untouched tail of the class's current slab.
//!
//! Traffic between the levels is batched: a cache that reaches [`LOCAL_CAP`] moves its oldest
//! [`LOCAL_FLUSH`] stacks to the global list; an empty cache takes up to [`REFILL`] at once. A
//! thread's cache drains to the global list when the thread exits (its TLS destructor); a
//! stack dropped after that destructor ran (from another TLS destructor) goes straight to the
//! global list. Slabs are never unmapped: a stack's address range belongs to the pool for the
//! life of the process.
//!
//! # Giving a stack back never allocates
//!
//! Stacks are given back from `Drop`, possibly when the process is out of memory or at
//! `vm.max_map_count` (where the allocator cannot map more memory either), and a failed
//! allocation there would abort the process. So the room is reserved, fallibly, when a stack
//! comes into existence:
//!
//! * Carving a slot first makes sure the class's global lists can hold every slot carved so
//!   far: `warm` up to [`GLOBAL_WARM`], `cold` all of them (8 bytes a stack). If that memory
//!   cannot be had, carving fails with an error and no stack is handed out.
//! * The first time a thread takes a stack of a class, its cache gets room for [`LOCAL_CAP`]
//!   stacks. If that memory cannot be had, or the thread never took a stack of the class (a
//!   [`Stack`](super::Stack) sent from another thread), its stacks of that class go straight to
//!   the global list.
//! * A full cache moves its oldest stacks to the global list straight from its own `Vec`, and
//!   a refill arrives in a fixed array.
//!
//! # Cold stacks lose their `mprotect` guards
//!
//! Under the `mprotect(PROT_NONE)` guard fallback every guard splits its slab, about two
//! mappings a stack, which is what runs a process into `vm.max_map_count`. So when a stack
//! turns cold its guard is removed too (`slab::remove_guard`: the page becomes read-write and
//! the kernel merges the slab's mappings back), and its entry on the cold list carries the
//! [`UNGUARDED`] tag. Taking a tagged stack installs its guard again first, under the lock; if
//! that fails (at the mapping limit), the stack stays listed and the caller gets the error. A
//! stack in a thread's cache, on a warm list, or handed out always has its guard.
//! `MADV_GUARD_INSTALL` guards split nothing and stay in place on cold stacks.

use std::cell::RefCell;
use std::io;
use std::sync::{Mutex, MutexGuard};

use super::{registry, slab};

/// Most free stacks of one class a thread keeps for itself.
pub(crate) const LOCAL_CAP: usize = 256;
/// How many stacks a full thread cache moves to the global list at once.
pub(crate) const LOCAL_FLUSH: usize = LOCAL_CAP / 2;
/// How many stacks an empty thread cache takes from the global list at once.
pub(crate) const REFILL: usize = 32;
/// Most free stacks per class the global list keeps resident (warm); beyond it their pages go
/// back to the OS. (With concurrent takers a stack may go cold while the warm list has room.)
pub(crate) const GLOBAL_WARM: usize = 1024;
/// Slots in a class's first slab; each further slab doubles, up to [`MAX_SLAB_SLOTS`].
const FIRST_SLAB_SLOTS: usize = 16;
/// Most slots in one slab (100,000 default stacks need about a hundred slabs).
const MAX_SLAB_SLOTS: usize = 1024;
/// Most bytes in one slab (so huge stacks get small slabs), unless one slot is bigger.
const MAX_SLAB_BYTES: usize = 1 << 30;
/// Tag bit of a cold-list entry (a page-aligned bottom, so bit 0 is free) whose guard was
/// removed when the stack turned cold (or the removal tried: `slab::remove_guard` is best
/// effort). The guard must be installed again before the stack goes out; installing it over
/// a guard still in place is harmless.
const UNGUARDED: usize = 1;

struct LocalClass {
    size: usize,
    /// Has room for [`LOCAL_CAP`] stacks from its creation: pushing never reallocates.
    free: Vec<usize>,
}

struct LocalPool {
    classes: Vec<LocalClass>,
}

impl LocalPool {
    #[inline]
    fn class(&mut self, size: usize) -> Option<&mut LocalClass> {
        self.classes.iter_mut().find(|c| c.size == size)
    }

    #[inline]
    fn pop(&mut self, size: usize) -> Option<usize> {
        self.class(size)?.free.pop()
    }

    /// The cache of class `size`, made with room for [`LOCAL_CAP`] stacks if this thread has
    /// none yet; `None` if that memory cannot be had.
    fn class_or_new(&mut self, size: usize) -> Option<&mut LocalClass> {
        if let Some(i) = self.classes.iter().position(|c| c.size == size) {
            return Some(&mut self.classes[i]);
        }
        let mut free = Vec::new();
        free.try_reserve_exact(LOCAL_CAP).ok()?;
        self.classes.try_reserve(1).ok()?;
        self.classes.push(LocalClass { size, free });
        self.classes.last_mut()
    }
}

impl Drop for LocalPool {
    fn drop(&mut self) {
        for class in self.classes.drain(..) {
            give_global(class.size, &class.free);
        }
    }
}

thread_local! {
    static LOCAL: RefCell<LocalPool> = const { RefCell::new(LocalPool { classes: Vec::new() }) };
}

struct GlobalClass {
    size: usize,
    /// Free stacks with resident pages, at most [`GLOBAL_WARM`]. Has room for
    /// `min(carved, GLOBAL_WARM)`.
    warm: Vec<usize>,
    /// Free stacks whose pages were released: bottoms, tagged [`UNGUARDED`] where the guard
    /// was removed. Has room for `carved`.
    cold: Vec<usize>,
    /// Slots carved so far: no list of the class ever holds more stacks.
    carved: usize,
    /// Start of the next uncarved slot (its guard page) in the current slab.
    cursor: usize,
    /// Uncarved slots left in the current slab.
    left: usize,
    /// Slots in the next slab this class maps.
    next_slots: usize,
}

impl GlobalClass {
    /// Takes a free stack off the lists, warm ones first: its bottom, with its guard. A cold
    /// stack whose guard was removed gets it back first; if that fails, the stack stays listed
    /// and the error is returned.
    fn take(&mut self) -> io::Result<Option<usize>> {
        if let Some(bottom) = self.warm.pop() {
            return Ok(Some(bottom));
        }
        let Some(&entry) = self.cold.last() else {
            return Ok(None);
        };
        let bottom = entry & !UNGUARDED;
        if entry & UNGUARDED != 0 {
            let page = slab::page_size();
            slab::install_guard(bottom - page, page)?;
        }
        self.cold.pop();
        Ok(Some(bottom))
    }

    /// Carves the next `[guard|stack]` slot, mapping a new slab when the current one is used
    /// up. Returns the stack's bottom. On error the slot stays uncarved.
    fn carve(&mut self) -> io::Result<usize> {
        let page = slab::page_size();
        // Cannot overflow: `round_size` checked that size + page fits in an isize.
        let slot = self.size + page;
        // Room on the lists for every stack carved, this one included: giving a stack back
        // never allocates.
        let carved = self.carved + 1;
        reserve(&mut self.warm, carved.min(GLOBAL_WARM))?;
        reserve(&mut self.cold, carved)?;
        if self.left == 0 {
            self.map_slab(slot)?;
        }
        let guard = self.cursor;
        slab::install_guard(guard, page)?;
        self.cursor += slot;
        self.left -= 1;
        self.carved = carved;
        Ok(guard + page)
    }

    fn map_slab(&mut self, slot: usize) -> io::Result<()> {
        let mut slots = self.next_slots.min((MAX_SLAB_BYTES / slot).max(1));
        loop {
            // Cannot overflow: slots * slot <= max(MAX_SLAB_BYTES, slot).
            let len = slots * slot;
            match slab::map(len) {
                Ok(addr) => {
                    if let Err(e) = registry::add(addr, slot, slots) {
                        // SAFETY: just mapped, and nothing else has seen it.
                        unsafe { slab::unmap(addr, len) };
                        return Err(e);
                    }
                    self.cursor = addr;
                    self.left = slots;
                    self.next_slots = (self.next_slots * 2).min(MAX_SLAB_SLOTS);
                    return Ok(());
                }
                // Near a commit or address-space limit a smaller slab may still fit.
                Err(e) if slots > 1 && e.raw_os_error() == Some(libc::ENOMEM) => slots /= 2,
                Err(e) => return Err(slab::map_error(len, e)),
            }
        }
    }
}

/// Makes room in `list` for `total` entries in all.
fn reserve(list: &mut Vec<usize>, total: usize) -> io::Result<()> {
    list.try_reserve(total.saturating_sub(list.len()))
        .map_err(|_| slab::alloc_error("room on the free list of coroutine stacks"))
}

struct Global {
    classes: Vec<GlobalClass>,
}

impl Global {
    fn find(&mut self, size: usize) -> Option<&mut GlobalClass> {
        self.classes.iter_mut().find(|c| c.size == size)
    }

    /// The class of `size`, made on its first use.
    fn class(&mut self, size: usize) -> io::Result<&mut GlobalClass> {
        if let Some(i) = self.classes.iter().position(|c| c.size == size) {
            return Ok(&mut self.classes[i]);
        }
        self.classes
            .try_reserve(1)
            .map_err(|_| slab::alloc_error("a stack size class"))?;
        self.classes.push(GlobalClass {
            size,
            warm: Vec::new(),
            cold: Vec::new(),
            carved: 0,
            cursor: 0,
            left: 0,
            next_slots: FIRST_SLAB_SLOTS,
        });
        Ok(self.classes.last_mut().expect("just pushed"))
    }

    /// The class of a stack being given back; carving the stack made it.
    fn of_given(&mut self, size: usize) -> &mut GlobalClass {
        self.find(size)
            .expect("a stack given back was carved, which made its class")
    }
}

static GLOBAL: Mutex<Global> = Mutex::new(Global {
    classes: Vec::new(),
});

fn global() -> MutexGuard<'static, Global> {
    // Nothing panics while holding the lock (the lists grow only by `try_reserve`); should
    // something, the lists stay consistent, so a poisoned lock is still usable.
    GLOBAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A free stack of `size` usable bytes (whole pages) with its guard installed: its bottom
/// address.
/// The caller owns it until it hands it back with [`give`].
#[inline]
pub(crate) fn take(size: usize) -> io::Result<usize> {
    match LOCAL.try_with(|l| l.borrow_mut().pop(size)) {
        Ok(Some(bottom)) => Ok(bottom),
        // The cache is empty or missing, or gone (we are inside a TLS destructor).
        _ => take_slow(size),
    }
}

#[cold]
fn take_slow(size: usize) -> io::Result<usize> {
    // The first take of a class on this thread makes its cache. Without one (no memory for
    // it, or the thread's cache is gone) there is nowhere to keep a batch.
    let cache = LOCAL
        .try_with(|l| l.borrow_mut().class_or_new(size).is_some())
        .unwrap_or(false);
    let mut batch = [0; REFILL - 1];
    let mut n = 0;
    let bottom = {
        let mut g = global();
        let class = g.class(size)?;
        match class.take()? {
            Some(bottom) => {
                while cache && n < batch.len() {
                    match class.take() {
                        Ok(Some(b)) => {
                            batch[n] = b;
                            n += 1;
                        }
                        // None left, or a cold one whose guard cannot be installed: it stays.
                        Ok(None) | Err(_) => break,
                    }
                }
                bottom
            }
            None => class.carve()?,
        }
    };
    let batch = &mut batch[..n];
    if !batch.is_empty() {
        // Reverse so the warm stacks (taken first) end on top of the LIFO cache.
        batch.reverse();
        let cached = LOCAL.try_with(|l| match l.borrow_mut().class(size) {
            // The cache was empty (that is why we are here) and the batch is smaller.
            Some(c) if c.free.len() + batch.len() <= LOCAL_CAP => {
                c.free.extend_from_slice(batch);
                true
            }
            _ => false,
        });
        if !cached.unwrap_or(false) {
            give_global(size, batch);
        }
    }
    Ok(bottom)
}

/// Hands a stack obtained from [`take`] back to the pool. Never allocates.
///
/// The caller gives up the stack: nothing may live on it any more.
#[inline]
pub(crate) fn give(size: usize, bottom: usize) {
    let cached = LOCAL.try_with(|l| {
        let mut l = l.borrow_mut();
        let Some(class) = l.class(size) else {
            return false;
        };
        if class.free.len() >= LOCAL_CAP {
            // Full: the oldest stacks move to the global list, straight from the cache.
            give_global(size, &class.free[..LOCAL_FLUSH]);
            class.free.drain(..LOCAL_FLUSH);
        }
        // Always true (the cache has room for LOCAL_CAP from its creation, and holds fewer
        // now); tested, it lets the compiler drop `push`'s growth path.
        if class.free.len() < class.free.capacity() {
            class.free.push(bottom);
            return true;
        }
        debug_assert!(false, "a thread's stack cache lost its reserved room");
        false
    });
    if !cached.unwrap_or(false) {
        // This thread has no cache for the class, or its cache is gone (we are inside a TLS
        // destructor).
        give_global(size, &[bottom]);
    }
}

/// Lists free stacks on the global list: warm while there is room, cold beyond
/// [`GLOBAL_WARM`] (pages released to the OS first, and under `mprotect` guards the guard
/// removed, outside the lock). Never allocates: carving reserved the room.
#[cold]
fn give_global(size: usize, stacks: &[usize]) {
    if stacks.is_empty() {
        return;
    }
    let cold = {
        let mut g = global();
        let class = g.of_given(size);
        let room = GLOBAL_WARM
            .saturating_sub(class.warm.len())
            .min(stacks.len());
        debug_assert!(class.warm.capacity() - class.warm.len() >= room);
        class.warm.extend_from_slice(&stacks[..room]);
        &stacks[room..]
    };
    if cold.is_empty() {
        return;
    }
    let page = slab::page_size();
    let unguard = slab::guards_split_mappings();
    for &bottom in cold {
        // SAFETY: these stacks are free: their previous owner gave them up and they are in
        // no list yet, so nobody else can reach them; the range is their usable pages only.
        unsafe { slab::release(bottom, size) };
        if unguard {
            // SAFETY: [bottom - page, bottom) is the guard of this free stack's slot (see
            // `carve`); the stack is listed tagged UNGUARDED below, and `GlobalClass::take`
            // installs the guard again before the stack goes out.
            unsafe { slab::remove_guard(bottom - page, page) };
        }
    }
    let tag = if unguard { UNGUARDED } else { 0 };
    let mut g = global();
    let class = g.of_given(size);
    debug_assert!(class.cold.capacity() - class.cold.len() >= cold.len());
    for &bottom in cold {
        class.cold.push(bottom | tag);
    }
}

/// Free stacks of the class of `pages` usable pages on the global list: (warm, cold).
#[cfg(test)]
pub(crate) fn global_counts(pages: usize) -> (usize, usize) {
    global()
        .find(pages * slab::page_size())
        .map_or((0, 0), |c| (c.warm.len(), c.cold.len()))
}

/// Whether `bottom` is on the global list (warm or cold) for class `pages`.
#[cfg(test)]
pub(crate) fn global_contains(pages: usize, bottom: usize) -> bool {
    global().find(pages * slab::page_size()).is_some_and(|c| {
        c.warm.contains(&bottom) || c.cold.iter().any(|&e| e & !UNGUARDED == bottom)
    })
}

/// Whether `bottom` is on the cold part of the global list for class `pages`, and if so
/// whether its guard was removed: `Some(unguarded)`.
#[cfg(test)]
pub(crate) fn global_cold(pages: usize, bottom: usize) -> Option<bool> {
    let mut g = global();
    let entry = g
        .find(pages * slab::page_size())?
        .cold
        .iter()
        .find(|&&e| e & !UNGUARDED == bottom)?;
    Some(entry & UNGUARDED != 0)
}

/// Free stacks of class `pages` in the calling thread's cache.
#[cfg(test)]
pub(crate) fn local_count(pages: usize) -> usize {
    LOCAL
        .try_with(|l| {
            l.borrow_mut()
                .class(pages * slab::page_size())
                .map_or(0, |c| c.free.len())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{allocations, assert_child_ok, is_child, resident, write_faults};
    use super::super::{slab, Stack};
    use super::*;
    use std::collections::HashSet;

    // Each test uses a size class (in pages) of its own, so tests running in parallel never
    // see each other's stacks on the global list.

    fn bytes(pages: usize) -> usize {
        pages * slab::page_size()
    }

    fn syscalls() -> u64 {
        slab::SYSCALLS.with(|c| c.get())
    }

    #[test]
    fn pooled_stack_is_reused_without_new_mapping() {
        const PAGES: usize = 7;
        let first = Stack::pooled(bytes(PAGES)).unwrap();
        let addr = first.bottom();
        drop(first);
        let before = syscalls();
        for _ in 0..1000 {
            let again = Stack::pooled(bytes(PAGES)).unwrap();
            assert_eq!(again.bottom(), addr, "not the cached stack");
        }
        assert_eq!(syscalls(), before, "the cached path made syscalls");
    }

    #[test]
    fn first_stacks_of_a_class_share_one_slab() {
        const PAGES: usize = 9;
        let before = syscalls();
        let stacks: Vec<Stack> = (0..FIRST_SLAB_SLOTS)
            .map(|_| Stack::pooled(bytes(PAGES)).unwrap())
            .collect();
        // One mmap for the slab, then one guard syscall per carved slot.
        assert_eq!(syscalls() - before, 1 + FIRST_SLAB_SLOTS as u64);
        let slot = bytes(PAGES + 1);
        for w in stacks.windows(2) {
            assert_eq!(w[1].bottom() as usize - w[0].bottom() as usize, slot);
        }
    }

    #[test]
    fn local_cache_overflow_spills_to_the_global_list() {
        const PAGES: usize = 11;
        let stacks: Vec<Stack> = (0..LOCAL_CAP + 10)
            .map(|_| Stack::pooled(bytes(PAGES)).unwrap())
            .collect();
        assert_eq!(global_counts(PAGES), (0, 0));
        drop(stacks);
        assert_eq!(local_count(PAGES), LOCAL_CAP + 10 - LOCAL_FLUSH);
        assert_eq!(global_counts(PAGES), (LOCAL_FLUSH, 0));
        // Empty the cache, then one more: it refills from the global list in one batch.
        let taken: Vec<Stack> = (0..LOCAL_CAP + 10 - LOCAL_FLUSH + 1)
            .map(|_| Stack::pooled(bytes(PAGES)).unwrap())
            .collect();
        assert_eq!(global_counts(PAGES), (LOCAL_FLUSH - REFILL, 0));
        assert_eq!(local_count(PAGES), REFILL - 1);
        let distinct: HashSet<usize> = taken.iter().map(|s| s.bottom() as usize).collect();
        assert_eq!(distinct.len(), taken.len(), "a stack was handed out twice");
    }

    #[test]
    fn stacks_from_another_thread_return_to_the_global_list() {
        const PAGES: usize = 13;
        const N: usize = 40;
        let made: Vec<usize> = std::thread::spawn(|| {
            let stacks: Vec<Stack> = (0..N)
                .map(|_| Stack::pooled(bytes(PAGES)).unwrap())
                .collect();
            let addrs = stacks.iter().map(|s| s.bottom() as usize).collect();
            drop(stacks);
            assert_eq!(local_count(PAGES), N);
            addrs
            // Thread exit: its cache drains to the global list.
        })
        .join()
        .unwrap();
        assert_eq!(global_counts(PAGES), (N, 0));
        for &a in &made {
            assert!(global_contains(PAGES, a));
        }
        // This thread's next stacks of the class come from that list, not from a new slot.
        let s = Stack::pooled(bytes(PAGES)).unwrap();
        assert!(made.contains(&(s.bottom() as usize)));
        assert_eq!(local_count(PAGES), REFILL - 1);
        // A stack sent to another thread returns to the pool of the thread that drops it.
        let sent = Stack::pooled(bytes(PAGES)).unwrap();
        let addr = sent.bottom() as usize;
        std::thread::spawn(move || drop(sent)).join().unwrap();
        assert!(global_contains(PAGES, addr));
    }

    #[test]
    fn stack_dropped_during_thread_teardown_goes_to_the_global_list() {
        const PAGES: usize = 15;
        thread_local! {
            static HELD: RefCell<Option<Stack>> = const { RefCell::new(None) };
        }
        let addr = std::thread::spawn(|| {
            // Register HELD's destructor before the pool's, so (destructors running in
            // reverse order on Linux) the pool is usually gone when HELD drops its stack:
            // `give` must then go straight to the global list. Either order must end there.
            HELD.with(|_| {});
            let s = Stack::pooled(bytes(PAGES)).unwrap();
            let addr = s.bottom() as usize;
            HELD.with(|h| *h.borrow_mut() = Some(s));
            addr
        })
        .join()
        .unwrap();
        assert!(global_contains(PAGES, addr), "stack lost at thread exit");
        assert_eq!(global_counts(PAGES), (1, 0));
    }

    #[test]
    fn global_overflow_is_returned_to_the_os() {
        const PAGES: usize = 2;
        const EXTRA: usize = 50;
        let addrs = std::thread::spawn(|| {
            let stacks: Vec<Stack> = (0..GLOBAL_WARM + LOCAL_CAP + EXTRA)
                .map(|_| Stack::pooled(bytes(PAGES)).unwrap())
                .collect();
            for s in &stacks {
                // SAFETY: the usable range belongs to `s`; touch every page.
                unsafe { std::ptr::write_bytes(s.bottom(), 1, s.size()) };
                assert!(resident(s.bottom() as usize));
            }
            stacks
                .iter()
                .map(|s| s.bottom() as usize)
                .collect::<Vec<_>>()
            // Thread exit: the stacks spill and drain to the global list.
        })
        .join()
        .unwrap();
        let (warm, cold) = global_counts(PAGES);
        assert_eq!(warm + cold, addrs.len());
        assert!(warm <= GLOBAL_WARM && cold > 0, "warm {warm} cold {cold}");
        let (mut n_cold, mut n_warm) = (0, 0);
        for &a in &addrs {
            let pages_resident = (0..PAGES).filter(|&p| resident(a + bytes(p))).count();
            if global_cold(PAGES, a).is_some() {
                assert_eq!(pages_resident, 0, "cold stack {a:#x} kept its pages");
                n_cold += 1;
            } else {
                assert_eq!(pages_resident, PAGES, "warm stack {a:#x} lost its pages");
                n_warm += 1;
            }
        }
        assert_eq!((n_warm, n_cold), (warm, cold));
        // Warm stacks go out first.
        let s = Stack::pooled(bytes(PAGES)).unwrap();
        assert!(resident(s.bottom() as usize));
    }

    #[test]
    fn guard_survives_madv_dontneed() {
        const PAGES: usize = 17;
        // Fill the warm part of the global list so the next stacks given back turn cold.
        let addrs: Vec<usize> = std::thread::spawn(|| {
            let stacks: Vec<Stack> = (0..GLOBAL_WARM + LOCAL_FLUSH)
                .map(|_| Stack::pooled(bytes(PAGES)).unwrap())
                .collect();
            stacks.iter().map(|s| s.bottom() as usize).collect()
        })
        .join()
        .unwrap();
        let cold: Vec<usize> = addrs
            .into_iter()
            .filter(|&a| global_cold(PAGES, a).is_some())
            .collect();
        assert!(!cold.is_empty());
        if slab::guards_split_mappings() {
            // A kernel without MADV_GUARD_INSTALL: cold stacks give their mprotect guards up
            // instead (see cold_stacks_lose_their_mprotect_guards_until_taken_again).
            assert!(cold.iter().all(|&a| global_cold(PAGES, a) == Some(true)));
            return;
        }
        let page = slab::page_size();
        for &a in cold.iter().take(3) {
            // DONTNEED over the guard itself too: markers must survive it.
            // SAFETY: the stack is free on the global list and this test's class is used by
            // no other test; its contents are garbage anyway.
            unsafe { slab::release(a - page, page) };
            assert!(write_faults(a - page), "guard at {:#x} gone", a - page);
            assert!(!write_faults(a), "bottom of {a:#x} faults");
        }
    }

    #[test]
    fn giving_stacks_back_never_allocates() {
        const PAGES: usize = 19;
        let sent = std::thread::spawn(|| {
            let mut stacks: Vec<Stack> = (0..GLOBAL_WARM + 2 * LOCAL_CAP)
                .map(|_| Stack::pooled(bytes(PAGES)).unwrap())
                .collect();
            let sent = stacks.pop().unwrap();
            let before = allocations();
            // Into the thread's cache, spilled from it to the global list, warm and then cold.
            stacks.clear();
            assert_eq!(allocations(), before, "giving back allocated");
            let (warm, cold) = global_counts(PAGES);
            assert!(warm == GLOBAL_WARM && cold > 0, "warm {warm} cold {cold}");
            sent
        })
        .join()
        .unwrap();
        // A thread with no cache for the class gives to the global list, allocating nothing.
        std::thread::spawn(move || {
            let before = allocations();
            drop(sent);
            assert_eq!(allocations(), before, "giving back allocated");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn cold_stacks_lose_their_mprotect_guards_until_taken_again() {
        assert_child_ok(
            "stack::pool::tests::cold_stacks_lose_their_mprotect_guards_until_taken_again_child",
        );
    }

    #[test]
    #[ignore = "runs in a child process started by cold_stacks_lose_their_mprotect_guards_until_taken_again"]
    fn cold_stacks_lose_their_mprotect_guards_until_taken_again_child() {
        if !is_child(
            "stack::pool::tests::cold_stacks_lose_their_mprotect_guards_until_taken_again_child",
        ) {
            return;
        }
        const PAGES: usize = 3;
        const COLD: usize = 100;
        let maps = || slab::maps_count().expect("read /proc/self/maps");
        slab::force_mprotect();
        let page = slab::page_size();
        // Taken and dropped on another thread, whose exit drains its cache: all of them reach
        // the global list, GLOBAL_WARM warm and COLD cold.
        let (addrs, held) = std::thread::spawn(move || {
            let stacks: Vec<Stack> = (0..GLOBAL_WARM + COLD)
                .map(|_| Stack::pooled(bytes(PAGES)).unwrap())
                .collect();
            let addrs: Vec<usize> = stacks.iter().map(|s| s.bottom() as usize).collect();
            (addrs, maps())
        })
        .join()
        .unwrap();
        assert_eq!(global_counts(PAGES), (GLOBAL_WARM, COLD));
        let cold: HashSet<usize> = addrs
            .iter()
            .copied()
            .filter(|&a| global_cold(PAGES, a).is_some())
            .collect();
        assert_eq!(cold.len(), COLD);
        for &a in &cold {
            assert_eq!(global_cold(PAGES, a), Some(true), "{a:#x} not tagged");
            assert!(!write_faults(a - page), "cold stack {a:#x} kept its guard");
        }
        // Each removed guard let the kernel merge 3 mappings into one (the thread's own stack
        // is unmapped too, which only helps).
        let freed = maps();
        println!("maps: {held} with every guard, {freed} with {COLD} cold stacks unguarded");
        assert!(freed + 2 * COLD <= held + 8, "maps {held} -> {freed}");
        // Taken again, every stack is guarded: the cold ones got their guards back.
        let stacks: Vec<Stack> = (0..GLOBAL_WARM + COLD)
            .map(|_| Stack::pooled(bytes(PAGES)).unwrap())
            .collect();
        assert_eq!(global_counts(PAGES), (0, 0));
        let mut checked = 0;
        for s in stacks
            .iter()
            .filter(|s| cold.contains(&(s.bottom() as usize)))
        {
            assert!(write_faults(s.guard().start), "{s:?} handed out unguarded");
            assert!(!write_faults(s.bottom() as usize), "{s:?}");
            checked += 1;
        }
        assert_eq!(checked, COLD);
        println!("CHILD OK");
    }
}
