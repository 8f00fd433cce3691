//! The scheduler's ready queue: the keys of the tasks to resume, oldest
//! first.
//!
//! A ring of task keys whose length is a power of two, indexed by two
//! counters that only grow (wrapping), so taking from the front and adding
//! to the back are a mask and an add each. It is used through `&self`, like
//! the rest of the scheduler; unlike a `RefCell<VecDeque<Key>>` it pays for
//! no borrow flag, because no method lends out a reference or runs code
//! that could come back into the queue while it holds its own (it only
//! copies `Key`s; the one allocation and the one free are made with
//! nothing borrowed).

use std::cell::UnsafeCell;
use std::mem;

use super::arena::Key;

/// Slots of a new queue.
const FIRST_CAPACITY: usize = 64;

/// Task keys, oldest first.
pub(crate) struct ReadyQueue {
    ring: UnsafeCell<Ring>,
}

struct Ring {
    /// A power of two long, never empty; the entries from `head` (masked)
    /// up to `tail` are queued, the others stale.
    slots: Vec<Key>,
    /// Counts of keys taken and added since the start, wrapping; `tail -
    /// head` keys are queued, at most `slots.len()`.
    head: usize,
    tail: usize,
}

impl Ring {
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Slot `count` (masked): where the `count`th key taken or added lies.
    #[inline(always)]
    fn slot(&mut self, count: usize) -> &mut Key {
        let at = count & self.mask();
        // SAFETY: `slots` is a power of two long and never empty (the
        // field's docs), so `at`, masked by its length less one, is in it.
        unsafe { self.slots.get_unchecked_mut(at) }
    }
}

impl ReadyQueue {
    pub(crate) fn new() -> ReadyQueue {
        let none = Key {
            index: u32::MAX,
            generation: 0,
        };
        ReadyQueue {
            ring: UnsafeCell::new(Ring {
                slots: vec![none; FIRST_CAPACITY],
                head: 0,
                tail: 0,
            }),
        }
    }

    /// Runs `f` on the ring. `f` must not call back into the queue (none of
    /// the closures below calls anything but `Vec` and integer methods that
    /// neither allocate, free nor panic).
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut Ring) -> R) -> R {
        // SAFETY: the queue is not `Sync`, so only this thread reaches it;
        // each `with` ends before the next one starts, since no closure
        // passed here calls anything that could reach the queue (they
        // neither run user code nor allocate); so this is the one reference
        // to the ring while it lives.
        f(unsafe { &mut *self.ring.get() })
    }

    /// Adds `key` at the back.
    #[inline]
    pub(crate) fn push_back(&self, key: Key) {
        let added = self.with(|r| {
            if r.tail.wrapping_sub(r.head) == r.slots.len() {
                return false;
            }
            *r.slot(r.tail) = key;
            r.tail = r.tail.wrapping_add(1);
            true
        });
        if !added {
            self.grow_and_push(key);
        }
    }

    /// [`push_back`](Self::push_back) into a full ring: out of line, so
    /// that the common case saves no registers for the call.
    #[cold]
    #[inline(never)]
    fn grow_and_push(&self, key: Key) {
        self.grow();
        self.push_back(key);
    }

    /// Takes the key at the front.
    #[inline]
    pub(crate) fn pop_front(&self) -> Option<Key> {
        self.with(|r| {
            if r.head == r.tail {
                return None;
            }
            let key = *r.slot(r.head);
            r.head = r.head.wrapping_add(1);
            Some(key)
        })
    }

    /// Takes the key at the back if it is `key`; whether it was.
    #[inline]
    pub(crate) fn pop_back_if(&self, key: Key) -> bool {
        self.with(|r| {
            if r.head == r.tail || *r.slot(r.tail.wrapping_sub(1)) != key {
                return false;
            }
            r.tail = r.tail.wrapping_sub(1);
            true
        })
    }

    /// Whether no key is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.with(|r| r.head == r.tail)
    }

    /// Doubles the ring, keeping the queued keys in order. The new slots
    /// are allocated, and the old ones freed, with the ring not borrowed.
    fn grow(&self) {
        let len = self.with(|r| r.slots.len());
        let mut bigger = Vec::with_capacity(len * 2);
        let old = self.with(|r| {
            bigger.extend((0..len).map(|i| *r.slot(r.head.wrapping_add(i))));
            // Within the capacity reserved above: no allocation.
            bigger.extend_from_within(..);
            r.head = 0;
            r.tail = len;
            mem::replace(&mut r.slots, bigger)
        });
        drop(old);
    }
}

#[cfg(test)]
mod tests {
    use super::{ReadyQueue, FIRST_CAPACITY};
    use crate::rt::arena::Key;

    fn key(i: usize) -> Key {
        Key {
            index: i as u32,
            generation: 7,
        }
    }

    #[test]
    fn keys_come_out_in_the_order_they_went_in_across_growth_and_wrap() {
        let queue = ReadyQueue::new();
        assert!(queue.is_empty());
        assert_eq!(queue.pop_front(), None);
        // Wrap the counters around a few times before growing.
        let mut next_in = 0;
        let mut next_out = 0;
        for _ in 0..3 * FIRST_CAPACITY {
            for _ in 0..5 {
                queue.push_back(key(next_in));
                next_in += 1;
            }
            for _ in 0..5 {
                assert_eq!(queue.pop_front(), Some(key(next_out)));
                next_out += 1;
            }
        }
        // Grow while the queued keys straddle the end of the ring.
        for _ in 0..FIRST_CAPACITY / 2 {
            queue.push_back(key(next_in));
            next_in += 1;
        }
        assert_eq!(queue.pop_front(), Some(key(next_out)));
        next_out += 1;
        for _ in 0..5 * FIRST_CAPACITY {
            queue.push_back(key(next_in));
            next_in += 1;
        }
        while let Some(k) = queue.pop_front() {
            assert_eq!(k, key(next_out));
            next_out += 1;
        }
        assert_eq!(next_out, next_in);
        assert!(queue.is_empty());
    }

    #[test]
    fn pop_back_if_takes_only_a_matching_last_key_even_across_the_wrap() {
        let queue = ReadyQueue::new();
        assert!(!queue.pop_back_if(key(0)), "empty");
        // Move the counters so that the last key sits at the ring's start.
        for i in 0..FIRST_CAPACITY - 1 {
            queue.push_back(key(i));
            assert_eq!(queue.pop_front(), Some(key(i)));
        }
        queue.push_back(key(1));
        queue.push_back(key(2));
        assert!(!queue.pop_back_if(key(1)), "not the last");
        assert!(queue.pop_back_if(key(2)));
        assert!(!queue.pop_back_if(key(2)), "taken once");
        assert_eq!(queue.pop_front(), Some(key(1)), "the rest is left in order");
        assert!(queue.is_empty());
    }
}
