//! A generational arena: the scheduler's table of tasks and the reactor's
//! table of registered fds.
//!
//! A [`Key`] names one slot *and* the occupant it was made for: when a slot
//! is freed and reused, its generation changes, so a stale key (a late
//! wake-up, an old timer, an event for a closed fd) finds nothing instead of
//! the new occupant.

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

/// Values addressed by [`Key`]; freed slots are reused.
pub(crate) struct Arena<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Arena<T> {
    pub(crate) fn new() -> Self {
        Arena {
            slots: Vec::new(),
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
                let i = u32::try_from(self.slots.len()).expect("jmpco: arena full");
                self.slots.push(Slot {
                    generation: 0,
                    value: None,
                });
                i
            }
        };
        let slot = &mut self.slots[index as usize];
        let key = Key {
            index,
            generation: slot.generation,
        };
        slot.value = Some(make(key));
        self.len += 1;
        key
    }

    pub(crate) fn get(&self, key: Key) -> Option<&T> {
        let slot = self.slots.get(key.index as usize)?;
        if slot.generation == key.generation {
            slot.value.as_ref()
        } else {
            None
        }
    }

    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation == key.generation {
            slot.value.as_mut()
        } else {
            None
        }
    }

    /// Takes the value out; the key (and every copy of it) goes stale.
    pub(crate) fn remove(&mut self, key: Key) -> Option<T> {
        let slot = self.slots.get_mut(key.index as usize)?;
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
        self.slots
            .iter()
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
}
