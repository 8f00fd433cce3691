//! A generational arena: the scheduler's table of tasks and the reactor's
//! table of registered fds.
//!
//! A [`Key`] names one slot *and* the occupant it was made for: when a slot
//! is freed and reused, its generation changes, so a stale key (a late
//! wake-up, an old timer, an event for a closed fd) finds nothing instead of
//! the new occupant.
//!
//! A stored value never moves: the slots live in chunks of [`CHUNK`], each
//! allocated once with room for exactly that many and never grown past it,
//! and a chunk is freed only with the arena. So a reference to a value,
//! turned into a pointer, stays valid until that value is removed (or the
//! arena dropped), even across inserts: the scheduler resumes a task
//! through such a pointer while the task spawns others (`scheduler.rs`).

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
    /// Each made with `Vec::with_capacity(CHUNK)` and pushed to only while
    /// shorter than `CHUNK`, so it never reallocates (the guarantee of
    /// `Vec::push` within capacity): a stored value never moves.
    chunks: Vec<Vec<Slot<T>>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Arena<T> {
    pub(crate) fn new() -> Self {
        Arena {
            chunks: Vec::new(),
            free: Vec::new(),
            len: 0,
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
                let full = self.chunks.last().is_none_or(|c| c.len() == CHUNK);
                if full {
                    self.chunks.push(Vec::with_capacity(CHUNK));
                }
                let used = (self.chunks.len() - 1) * CHUNK;
                let chunk = self.chunks.last_mut().expect("a chunk with room");
                let i = u32::try_from(used + chunk.len()).expect("jmpco: arena full");
                chunk.push(Slot {
                    generation: 0,
                    value: None,
                });
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

    #[inline]
    fn slot(&self, index: u32) -> Option<&Slot<T>> {
        let i = index as usize;
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    #[inline]
    fn slot_mut(&mut self, index: u32) -> Option<&mut Slot<T>> {
        let i = index as usize;
        self.chunks.get_mut(i / CHUNK)?.get_mut(i % CHUNK)
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
        self.chunks
            .iter()
            .flatten()
            .enumerate()
            .filter(|(_, s)| s.value.is_some())
            .map(|(i, s)| Key {
                index: i as u32,
                generation: s.generation,
            })
            .collect()
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
        let mut arena = Arena::new();
        let first = arena.insert_with(|_| 0usize);
        let at = arena.get(first).map(std::ptr::from_ref).expect("stored");
        let mut keys: Vec<(Key, usize)> = (1..=3 * CHUNK)
            .map(|i| (arena.insert_with(|_| i), i))
            .collect();
        for (key, i) in keys.drain(..CHUNK) {
            assert_eq!(arena.remove(key), Some(i));
        }
        keys.extend((0..2 * CHUNK).map(|i| (arena.insert_with(|_| i), i)));
        assert_eq!(arena.get(first).map(std::ptr::from_ref), Some(at));
        for &(key, i) in &keys {
            assert_eq!(arena.get(key), Some(&i));
        }
        assert_eq!(arena.len(), 1 + keys.len());
        assert_eq!(arena.keys().len(), arena.len());
    }
}
