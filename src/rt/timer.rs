//! The timer heap: deadlines of parked tasks, earliest first.
//!
//! A task that parks with a deadline (`sleep`, a read or write timeout,
//! `wait_fd` with a timeout) *arms* a timer: an entry `(deadline, seq, task)`
//! goes on a binary heap and the task remembers `seq`. Disarming only
//! forgets the `seq` in the task (O(1)); the entry stays on the heap and is
//! recognised as stale when it surfaces, because the task no longer holds
//! that `seq`. So that a busy server whose reads finish well before their
//! timeouts does not grow the heap with stale entries, the heap is rebuilt
//! without them whenever it holds more than twice the live timers (plus a
//! constant): amortised O(1) per timer.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use super::arena::Key;

/// The instant `timeout` from now, or `None` (never) when no `Instant` can
/// represent it: every user-given duration becomes a deadline through
/// here, so a huge one (`Duration::MAX`) means "forever", as it does for
/// `std::thread::sleep`, and no arithmetic on it can overflow.
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Deadlines of parked tasks.
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64, u32, u32)>>,
    next_seq: u64,
    live: usize,
}

impl Timers {
    pub(crate) fn new() -> Self {
        Timers {
            heap: BinaryHeap::new(),
            next_seq: 1,
            live: 0,
        }
    }

    /// Arms a timer for `task` at `deadline`; the task keeps the returned
    /// sequence number (never 0) while the timer is live.
    pub(crate) fn arm(&mut self, deadline: Instant, task: Key) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap
            .push(Reverse((deadline, seq, task.index, task.generation)));
        self.live += 1;
        seq
    }

    /// Records that one armed timer was disarmed or fired.
    pub(crate) fn disarmed(&mut self) {
        self.live -= 1;
    }

    /// The earliest deadline on the heap (possibly a stale one: waking early
    /// costs a loop turn, never correctness).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((d, ..))| *d)
    }

    /// Pops every entry due at `now`, handing each `(task, seq)` to `fire`,
    /// which ignores stale ones.
    pub(crate) fn expire(&mut self, now: Instant, mut fire: impl FnMut(Key, u64)) {
        while let Some(Reverse((deadline, seq, index, generation))) = self.heap.peek().copied() {
            if deadline > now {
                break;
            }
            self.heap.pop();
            fire(Key { index, generation }, seq);
        }
    }

    /// Drops stale entries when they outnumber live ones; `live(task, seq)`
    /// says whether an entry is still armed.
    pub(crate) fn compact(&mut self, live: impl Fn(Key, u64) -> bool) {
        if self.heap.len() <= 2 * self.live + 64 {
            return;
        }
        let entries = std::mem::take(&mut self.heap).into_vec();
        self.heap = entries
            .into_iter()
            .filter(|Reverse((_, seq, index, generation))| {
                live(
                    Key {
                        index: *index,
                        generation: *generation,
                    },
                    *seq,
                )
            })
            .collect();
    }

    /// Entries on the heap, stale ones included.
    #[cfg(test)]
    pub(crate) fn heap_len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expire_fires_in_deadline_order_and_compact_drops_stale_entries() {
        let mut t = Timers::new();
        let now = Instant::now();
        let k = |i| Key {
            index: i,
            generation: 0,
        };
        let s2 = t.arm(now + Duration::from_millis(2), k(2));
        let s1 = t.arm(now + Duration::from_millis(1), k(1));
        t.arm(now + Duration::from_secs(60), k(3));
        let mut fired = Vec::new();
        t.expire(now + Duration::from_millis(5), |key, seq| {
            fired.push((key.index, seq))
        });
        assert_eq!(fired, [(1, s1), (2, s2)]);
        // Many disarmed timers are compacted away.
        for i in 0..1000 {
            t.arm(now, k(10 + i));
            t.disarmed();
        }
        t.compact(|key, _| key.index == 3);
        assert_eq!(t.heap_len(), 1);
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(60)));
    }

    #[test]
    fn huge_timeouts_mean_never_and_small_ones_a_deadline() {
        assert_eq!(deadline_after(Duration::MAX), None);
        assert_eq!(deadline_after(Duration::new(u64::MAX, 0)), None);
        let before = Instant::now();
        let d = deadline_after(Duration::from_millis(5)).expect("a deadline");
        assert!(d >= before + Duration::from_millis(5));
        assert!(deadline_after(Duration::ZERO).is_some_and(|d| d >= before));
    }
}
