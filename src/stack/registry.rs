//! Which stack holds an address: a record of every mapping of `[guard|stack]` slots.
//!
//! `jmpco::current()` and the stack-overflow handler both start from an address (the stack
//! pointer, or the address that faulted in a guard) and need the coroutine whose stack holds
//! it. Recording the running coroutine in a thread-local on every resume would answer that
//! too, but it costs the switch a load and two stores each round trip, about a third of an asm
//! round trip. Instead this module records mappings, which change only when a slab is mapped
//! or a fresh stack is made or dropped, and the coroutine is found from the address: its
//! control block sits at a fixed offset below the top of the slot's stack.
//!
//! # The table
//!
//! A fixed array of [`CAPACITY`] entries, each one mapping: `count` slots of `slot_len` bytes
//! from `base`, every slot a guard page followed by its stack (the layout of `slab.rs`; a fresh
//! stack is a mapping of one slot). Writers (mapping a slab, making or dropping a fresh stack)
//! take a lock; readers take none and may run in a signal handler. Each entry carries a
//! sequence number, odd while a writer changes it; a reader that sees it odd, or changed
//! across its reads, skips the entry. That is safe because an entry only changes while nothing
//! runs on its stacks: a mapping being added has no coroutine yet, and a fresh stack is
//! removed as it is dropped.

use std::cell::Cell;
use std::io;
use std::num::NonZeroUsize;
use std::ops::Range;
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::slab;

/// Most mappings recorded at once: Linux's default `vm.max_map_count` (65530) bounds a
/// process's mappings anyway. Slabs grow to 1024 slots, so pooled stacks never come near it;
/// a fresh stack is a mapping of its own. Making a mapping beyond it fails with an error that
/// says so. The table is 2 MiB of zero pages until used.
pub(crate) const CAPACITY: usize = 65536;

/// One mapping of slots; `len == 0` marks a free entry.
struct Entry {
    seq: AtomicUsize,
    base: AtomicUsize,
    len: AtomicUsize,
    slot_len: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)] // the array initialiser, copied per entry
const EMPTY: Entry = Entry {
    seq: AtomicUsize::new(0),
    base: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    slot_len: AtomicUsize::new(0),
};

static TABLE: [Entry; CAPACITY] = [EMPTY; CAPACITY];
/// Entries `[0, USED)` may be in use.
static USED: AtomicUsize = AtomicUsize::new(0);
/// Serialises writers.
static WRITER: Mutex<()> = Mutex::new(());

thread_local! {
    /// The entry this thread's last successful lookup found: the stacks a thread runs on
    /// mostly come from one or two slabs.
    static HINT: Cell<usize> = const { Cell::new(0) };
}

/// A recorded mapping; dropping it does not remove it (see [`remove`]). Holds its table
/// index plus one: never zero, so an `Option<Recorded>` (a `Stack`'s) is one word.
#[derive(Debug)]
pub(crate) struct Recorded(NonZeroUsize);

/// Records `count` slots of `slot_len` bytes from `base`.
///
/// # Errors
/// When [`CAPACITY`] mappings are recorded already.
pub(crate) fn add(base: usize, slot_len: usize, count: usize) -> io::Result<Recorded> {
    let _writer = WRITER.lock().unwrap_or_else(|e| e.into_inner());
    let used = USED.load(Ordering::Relaxed);
    let index = (0..used)
        .find(|&i| TABLE[i].len.load(Ordering::Relaxed) == 0)
        .or((used < CAPACITY).then_some(used))
        .ok_or_else(|| {
            io::Error::other(format!(
                "jmpco tracks at most {CAPACITY} stack mappings, and all are in use"
            ))
        })?;
    let entry = &TABLE[index];
    write(entry, |e| {
        e.base.store(base, Ordering::Relaxed);
        e.slot_len.store(slot_len, Ordering::Relaxed);
        e.len.store(slot_len * count, Ordering::Relaxed);
    });
    if index == used {
        USED.store(used + 1, Ordering::Release);
    }
    Ok(Recorded(NonZeroUsize::MIN.saturating_add(index)))
}

/// Forgets a mapping before it is unmapped.
pub(crate) fn remove(recorded: Recorded) {
    let _writer = WRITER.lock().unwrap_or_else(|e| e.into_inner());
    write(&TABLE[recorded.0.get() - 1], |e| {
        e.len.store(0, Ordering::Relaxed)
    });
}

/// Runs `change` on `entry` with its sequence number odd, so readers skip it meanwhile.
fn write(entry: &Entry, change: impl FnOnce(&Entry)) {
    let seq = entry.seq.load(Ordering::Relaxed);
    entry.seq.store(seq + 1, Ordering::Relaxed);
    fence(Ordering::Release);
    change(entry);
    entry.seq.store(seq + 2, Ordering::Release);
}

/// The slot holding `addr`, guard included: `[guard start, stack top)`. Lock-free and
/// allocation-free: callable from a signal handler.
pub(crate) fn slot_of(addr: usize) -> Option<Range<usize>> {
    let hint = HINT.try_with(Cell::get).unwrap_or(0);
    if let Some(slot) = slot_in(hint, addr) {
        return Some(slot);
    }
    let used = USED.load(Ordering::Acquire);
    let (index, slot) = (0..used).find_map(|i| slot_in(i, addr).map(|s| (i, s)))?;
    let _ = HINT.try_with(|h| h.set(index));
    Some(slot)
}

/// The slot of entry `index` that holds `addr`, if the entry is stable and holds it.
fn slot_in(index: usize, addr: usize) -> Option<Range<usize>> {
    let entry = TABLE.get(index)?;
    let seq = entry.seq.load(Ordering::Acquire);
    let base = entry.base.load(Ordering::Relaxed);
    let len = entry.len.load(Ordering::Relaxed);
    let slot_len = entry.slot_len.load(Ordering::Relaxed);
    fence(Ordering::Acquire);
    let stable = seq % 2 == 0 && entry.seq.load(Ordering::Relaxed) == seq;
    let offset = addr.wrapping_sub(base);
    if !stable || offset >= len {
        return None;
    }
    let start = base + offset / slot_len * slot_len;
    Some(start..start + slot_len)
}

/// The usable stack of the slot holding `addr`, and whether `addr` is in the slot's guard
/// page rather than in the stack.
pub(crate) fn stack_of(addr: usize) -> Option<(Range<usize>, bool)> {
    let slot = slot_of(addr)?;
    let bottom = slot.start + slab::page_size();
    Some((bottom..slot.end, addr < bottom))
}

#[cfg(test)]
mod tests {
    use super::{add, remove, stack_of};
    use crate::stack::slab::page_size;

    #[test]
    fn addresses_map_to_their_slot_until_removed() {
        let page = page_size();
        // Addresses only: the table never touches the memory it records. Below
        // vm.mmap_min_addr (64 KiB), so no real stack of a concurrent test is there.
        let base = page;
        let slot = 4 * page;
        let recorded = add(base, slot, 3).expect("an entry");
        assert_eq!(stack_of(base), Some((base + page..base + slot, true)));
        assert_eq!(
            stack_of(base + slot + 2 * page),
            Some((base + slot + page..base + 2 * slot, false))
        );
        assert_eq!(stack_of(base + 3 * slot), None, "one past the mapping");
        assert_eq!(stack_of(base - 1), None);
        remove(recorded);
        assert_eq!(
            stack_of(base + page),
            None,
            "a removed mapping holds nothing"
        );
    }
}
