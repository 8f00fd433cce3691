//! Where free stacks wait: a per-thread cache in front of a global free list, in front of the
//! slabs.
//!
//! A stack is named by its `bottom` address and its size class (whole usable pages). Every
//! free stack sits in exactly one of:
//!
//! 1. the calling thread's cache, [`LOCAL`]: per class a `Vec` used as a LIFO (the most
//!    recently freed stack is the warmest), at most [`LOCAL_CAP`] long. Taking from and giving
//!    back to it is a `RefCell` borrow and a `Vec` push/pop: no lock, no syscall.
//! 2. the global free list, [`GLOBAL`] (one `Mutex`): per class a `warm` list of at most about
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
/// Free stacks per class the global list keeps resident; beyond it (a soft bound: concurrent
/// givers may overshoot by a batch) their pages go back to the OS.
pub(crate) const GLOBAL_WARM: usize = 1024;
/// Slots in a class's first slab; each further slab doubles, up to [`MAX_SLAB_SLOTS`].
const FIRST_SLAB_SLOTS: usize = 16;
/// Most slots in one slab (100,000 default stacks need about a hundred slabs).
const MAX_SLAB_SLOTS: usize = 1024;
/// Most bytes in one slab (so huge stacks get small slabs), unless one slot is bigger.
const MAX_SLAB_BYTES: usize = 1 << 30;

struct LocalClass {
    pages: usize,
    free: Vec<usize>,
}

struct LocalPool {
    classes: Vec<LocalClass>,
}

impl LocalPool {
    #[inline]
    fn pop(&mut self, pages: usize) -> Option<usize> {
        self.classes
            .iter_mut()
            .find(|c| c.pages == pages)?
            .free
            .pop()
    }

    /// Caches `bottom`; if the class is full, returns its oldest stacks for the global list.
    #[inline]
    fn push(&mut self, pages: usize, bottom: usize) -> Option<Vec<usize>> {
        let class = match self.classes.iter().position(|c| c.pages == pages) {
            Some(i) => &mut self.classes[i],
            None => {
                self.classes.push(LocalClass {
                    pages,
                    free: Vec::new(),
                });
                self.classes.last_mut().expect("just pushed")
            }
        };
        let spill = if class.free.len() >= LOCAL_CAP {
            Some(class.free.drain(..LOCAL_FLUSH).collect())
        } else {
            None
        };
        class.free.push(bottom);
        spill
    }
}

impl Drop for LocalPool {
    fn drop(&mut self) {
        for class in self.classes.drain(..) {
            give_global(class.pages, &class.free);
        }
    }
}

thread_local! {
    static LOCAL: RefCell<LocalPool> = const { RefCell::new(LocalPool { classes: Vec::new() }) };
}

struct GlobalClass {
    pages: usize,
    warm: Vec<usize>,
    cold: Vec<usize>,
    /// Start of the next uncarved slot (its guard page) in the current slab.
    cursor: usize,
    /// Uncarved slots left in the current slab.
    left: usize,
    /// Slots in the next slab this class maps.
    next_slots: usize,
}

impl GlobalClass {
    fn pop(&mut self) -> Option<usize> {
        self.warm.pop().or_else(|| self.cold.pop())
    }

    /// Carves the next `[guard|stack]` slot, mapping a new slab when the current one is used
    /// up. Returns the stack's bottom. On error the slot stays uncarved.
    fn carve(&mut self) -> io::Result<usize> {
        let page = slab::page_size();
        // Cannot overflow: `round_pages` checked that (pages + 1) * page fits in an isize.
        let slot = (self.pages + 1) * page;
        if self.left == 0 {
            self.map_slab(slot)?;
        }
        let guard = self.cursor;
        slab::install_guard(guard, page)?;
        self.cursor += slot;
        self.left -= 1;
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

struct Global {
    classes: Vec<GlobalClass>,
}

impl Global {
    fn class(&mut self, pages: usize) -> &mut GlobalClass {
        match self.classes.iter().position(|c| c.pages == pages) {
            Some(i) => &mut self.classes[i],
            None => {
                self.classes.push(GlobalClass {
                    pages,
                    warm: Vec::new(),
                    cold: Vec::new(),
                    cursor: 0,
                    left: 0,
                    next_slots: FIRST_SLAB_SLOTS,
                });
                self.classes.last_mut().expect("just pushed")
            }
        }
    }
}

static GLOBAL: Mutex<Global> = Mutex::new(Global {
    classes: Vec::new(),
});

fn global() -> MutexGuard<'static, Global> {
    // Nothing panics while holding the lock except allocation failure; the lists stay
    // consistent either way, so a poisoned lock is still usable.
    GLOBAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A free stack of `pages` usable pages with its guard installed: its bottom address.
/// The caller owns it until it hands it back with [`give`].
#[inline]
pub(crate) fn take(pages: usize) -> io::Result<usize> {
    match LOCAL.try_with(|l| l.borrow_mut().pop(pages)) {
        Ok(Some(bottom)) => Ok(bottom),
        Ok(None) => take_slow(pages, true),
        // This thread's cache is gone (we are inside a TLS destructor).
        Err(_) => take_slow(pages, false),
    }
}

#[cold]
fn take_slow(pages: usize, refill: bool) -> io::Result<usize> {
    let mut batch = Vec::new();
    let bottom = {
        let mut g = global();
        let class = g.class(pages);
        match class.pop() {
            Some(bottom) => {
                if refill {
                    while batch.len() < REFILL - 1 {
                        match class.pop() {
                            Some(b) => batch.push(b),
                            None => break,
                        }
                    }
                }
                bottom
            }
            None => class.carve()?,
        }
    };
    if !batch.is_empty() {
        // Reverse so the warm stacks (popped first) end on top of the LIFO cache.
        batch.reverse();
        let leftover = LOCAL.try_with(|l| {
            let mut l = l.borrow_mut();
            for &b in &batch {
                if let Some(spill) = l.push(pages, b) {
                    // Cannot happen: we only refill an empty cache, with fewer than LOCAL_CAP.
                    give_global(pages, &spill);
                }
            }
        });
        if leftover.is_err() {
            give_global(pages, &batch);
        }
    }
    Ok(bottom)
}

/// Hands a stack obtained from [`take`] back to the pool.
///
/// The caller gives up the stack: nothing may live on it any more.
#[inline]
pub(crate) fn give(pages: usize, bottom: usize) {
    match LOCAL.try_with(|l| l.borrow_mut().push(pages, bottom)) {
        Ok(None) => {}
        Ok(Some(spill)) => give_global(pages, &spill),
        // This thread's cache is gone (we are inside a TLS destructor).
        Err(_) => give_global(pages, &[bottom]),
    }
}

/// Lists free stacks on the global list: warm while there is room, cold (pages released to
/// the OS first, outside the lock) beyond [`GLOBAL_WARM`].
#[cold]
fn give_global(pages: usize, stacks: &[usize]) {
    if stacks.is_empty() {
        return;
    }
    let cold = {
        let mut g = global();
        let class = g.class(pages);
        let room = GLOBAL_WARM
            .saturating_sub(class.warm.len())
            .min(stacks.len());
        class.warm.extend_from_slice(&stacks[..room]);
        &stacks[room..]
    };
    if cold.is_empty() {
        return;
    }
    let len = pages * slab::page_size();
    for &bottom in cold {
        // SAFETY: these stacks are free: their previous owner gave them up and they are in
        // no list yet, so nobody else can reach them; the range is their usable pages only.
        unsafe { slab::release(bottom, len) };
    }
    global().class(pages).cold.extend_from_slice(cold);
}

/// Free stacks of class `pages` on the global list: (warm, cold).
#[cfg(test)]
pub(crate) fn global_counts(pages: usize) -> (usize, usize) {
    let mut g = global();
    let c = g.class(pages);
    (c.warm.len(), c.cold.len())
}

/// Whether `bottom` is on the global list (warm or cold) for class `pages`.
#[cfg(test)]
pub(crate) fn global_contains(pages: usize, bottom: usize) -> bool {
    let mut g = global();
    let c = g.class(pages);
    c.warm.contains(&bottom) || c.cold.contains(&bottom)
}

/// Whether `bottom` is on the cold part of the global list for class `pages`.
#[cfg(test)]
pub(crate) fn global_cold_contains(pages: usize, bottom: usize) -> bool {
    global().class(pages).cold.contains(&bottom)
}

/// Free stacks of class `pages` in the calling thread's cache.
#[cfg(test)]
pub(crate) fn local_count(pages: usize) -> usize {
    LOCAL
        .try_with(|l| {
            let l = l.borrow();
            l.classes
                .iter()
                .find(|c| c.pages == pages)
                .map_or(0, |c| c.free.len())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{resident, write_faults};
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
            if global_cold_contains(PAGES, a) {
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
            .filter(|&a| global_cold_contains(PAGES, a))
            .collect();
        assert!(!cold.is_empty());
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
}
