//! A generational arena: the scheduler's table of tasks and the reactor's
//! table of registered fds.
//!
//! A [`Key`] names one slot *and* the occupant it was made for: when a slot
//! is freed and reused, its generation changes, so a stale key (a late
//! wake-up, an old timer, an event for a closed fd) finds nothing instead of
//! the new occupant.
//!
//! A stored value never moves: the slots live in chunks of [`CHUNK`], each
//! allocated once, whole, and freed only with the arena, and no method makes
//! a reference to more than the one slot it works on. So a reference to a
//! value, turned into a pointer, stays valid until that value is removed (or
//! the arena dropped), even across inserts and removals of others: the
//! scheduler resumes a task through such a pointer while the task spawns
//! and cancels others (`scheduler.rs`).

use std::marker::PhantomData;
use std::ptr::NonNull;

/// A slot index and the generation of its occupant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl Key {
    /// The key packed in a `u64` (for `epoll_event.u64`).
    pub(crate) fn to_u64(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    /// The inverse of [`to_u64`](Self::to_u64).
    pub(crate) fn from_u64(v: u64) -> Key {
        Key {
            index: v as u32,
            generation: (v >> 32) as u32,
        }
    }
}

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// Slots per chunk.
const CHUNK: usize = 64;

/// Values addressed by [`Key`]; freed slots are reused. Slot `i` is entry
/// `i % CHUNK` of chunk `i / CHUNK`.
pub(crate) struct Arena<T> {
    /// Each a leaked `Box<[Slot<T>]>` of exactly `CHUNK` slots (all made
    /// with the chunk, empty), freed by `Drop` and nowhere else. Reached
    /// through a raw pointer, one slot at a time: a `&mut` to a whole chunk
    /// would claim the slots of values others point at too.
    chunks: Vec<NonNull<Slot<T>>>,
    /// Slots handed out so far (the next fresh index).
    made: u32,
    free: Vec<u32>,
    len: usize,
    /// Owns the values (for drop check, `Send` and `Sync`).
    _owns: PhantomData<Box<[Slot<T>]>>,
}

// SAFETY: the arena owns its chunks and the values in them exclusively (as
// a `Vec<Box<[Slot<T>]>>` would), so it may go to another thread when the
// values may.
unsafe impl<T: Send> Send for Arena<T> {}

// SAFETY: as for `Send`: `&Arena` hands out only `&T`.
unsafe impl<T: Sync> Sync for Arena<T> {}

impl<T> Arena<T> {
    pub(crate) fn new() -> Self {
        Arena {
            chunks: Vec::new(),
            made: 0,
            free: Vec::new(),
            len: 0,
            _owns: PhantomData,
        }
    }

    /// How many values are stored.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Stores the value `make(key)` and returns its key.
    pub(crate) fn insert_with(&mut self, make: impl FnOnce(Key) -> T) -> Key {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = self.made;
                self.made = i.checked_add(1).expect("jmpco: arena full");
                if i as usize % CHUNK == 0 {
                    let chunk: Box<[Slot<T>]> = (0..CHUNK)
                        .map(|_| Slot {
                            generation: 0,
                            value: None,
                        })
                        .collect();
                    self.chunks.push(NonNull::from(Box::leak(chunk)).cast());
                }
                i
            }
        };
        let slot = self.slot_mut(index).expect("a slot just made or freed");
        let key = Key {
            index,
            generation: slot.generation,
        };
        slot.value = Some(make(key));
        self.len += 1;
        key
    }

    /// Slot `index`'s address, if it exists.
    #[inline]
    fn slot_at(&self, index: u32) -> Option<*mut Slot<T>> {
        let i = index as usize;
        let chunk = self.chunks.get(i / CHUNK)?;
        // SAFETY: a chunk holds `CHUNK` slots, so the offset stays inside it.
        Some(unsafe { chunk.as_ptr().add(i % CHUNK) })
    }

    #[inline]
    fn slot(&self, index: u32) -> Option<&Slot<T>> {
        // SAFETY: the slot lies in a live chunk (freed only by `Drop`) and
        // was made with it; `&self` rules out a `&mut` to it meanwhile (only
        // `&mut self` methods make one).
        self.slot_at(index).map(|at| unsafe { &*at })
    }

    #[inline]
    fn slot_mut(&mut self, index: u32) -> Option<&mut Slot<T>> {
        // SAFETY: as in `slot`; `&mut self` makes this the one reference to
        // the slot, and it covers only the slot, not its neighbours.
        self.slot_at(index).map(|at| unsafe { &mut *at })
    }

    #[inline]
    pub(crate) fn get(&self, key: Key) -> Option<&T> {
        let slot = self.slot(key.index)?;
        if slot.generation == key.generation {
            slot.value.as_ref()
        } else {
            None
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        let slot = self.slot_mut(key.index)?;
        if slot.generation == key.generation {
            slot.value.as_mut()
        } else {
            None
        }
    }

    /// Takes the value out; the key (and every copy of it) goes stale.
    pub(crate) fn remove(&mut self, key: Key) -> Option<T> {
        let slot = self.slot_mut(key.index)?;
        if slot.generation != key.generation {
            return None;
        }
        let value = slot.value.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(key.index);
        self.len -= 1;
        Some(value)
    }

    /// The keys of every stored value.
    pub(crate) fn keys(&self) -> Vec<Key> {
        (0..self.made)
            .filter_map(|index| {
                let slot = self.slot(index)?;
                slot.value.as_ref().map(|_| Key {
                    index,
                    generation: slot.generation,
                })
            })
            .collect()
    }
}

impl<T> Drop for Arena<T> {
    fn drop(&mut self) {
        for chunk in self.chunks.drain(..) {
            let slots = std::ptr::slice_from_raw_parts_mut(chunk.as_ptr(), CHUNK);
            // SAFETY: made by `Box::leak` of a `Box<[Slot<T>]>` of `CHUNK`
            // slots in `insert_with`, and freed only here, once (drained).
            drop(unsafe { Box::from_raw(slots) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_keys_find_nothing_after_reuse() {
        let mut arena = Arena::new();
        let a = arena.insert_with(|_| 'a');
        assert_eq!(arena.remove(a), Some('a'));
        let b = arena.insert_with(|_| 'b');
        assert_eq!(a.index, b.index);
        assert_eq!(arena.get(a), None);
        assert_eq!(arena.get(b), Some(&'b'));
        assert_eq!(Key::from_u64(b.to_u64()), b);
        assert_eq!(arena.len(), 1);
    }

    #[test]
    fn a_stored_value_stays_put_while_others_come_and_go() {
        use std::cell::Cell;
        let mut arena = Arena::new();
        let first = arena.insert_with(|_| Cell::new(0usize));
        let at: *const Cell<usize> = arena.get(first).expect("stored");
        let mut keys: Vec<(Key, usize)> = (1..=3 * CHUNK)
            .map(|i| (arena.insert_with(|_| Cell::new(i)), i))
            .collect();
        for (key, i) in keys.drain(..CHUNK) {
            assert_eq!(arena.remove(key).map(Cell::into_inner), Some(i));
        }
        keys.extend((0..2 * CHUNK).map(|i| (arena.insert_with(|_| Cell::new(i)), i)));
        for &(key, i) in &keys {
            arena.get_mut(key).expect("stored").set(i + 1);
        }
        assert_eq!(arena.get(first).map(std::ptr::from_ref), Some(at));
        // SAFETY: `first` is still stored, and nothing borrows the arena.
        unsafe { (*at).set(7) };
        assert_eq!(arena.get(first).map(Cell::get), Some(7));
        for &(key, i) in &keys {
            assert_eq!(arena.get(key).map(Cell::get), Some(i + 1));
        }
        assert_eq!(arena.len(), 1 + keys.len());
        assert_eq!(arena.keys().len(), arena.len());
    }
}
