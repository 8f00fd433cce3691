//! `thread`: two OS threads pinned to one CPU hand a turn back and forth
//! with `park`/`unpark` (a futex). Each round trip is two kernel context
//! switches: the cost the seed notes set against a user-space switch.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

use super::RoundTrip;
use crate::sys::affinity;

/// The hand-off engine.
pub struct Handoff;

impl RoundTrip for Handoff {
    fn name(&self) -> &'static str {
        "thread"
    }

    fn run(&mut self, rounds: u64) -> Result<Duration> {
        let cpu: Vec<usize> = affinity::allowed_cpus().into_iter().take(1).collect();
        // A fresh measuring thread, so that pinning it leaves the caller alone;
        // the peer it spawns inherits the pinning.
        std::thread::spawn(move || -> Result<Duration> {
            affinity::pin_current_thread(&cpu)?;
            Ok(ping_pong(rounds))
        })
        .join()
        .map_err(|_| anyhow!("the hand-off thread panicked"))?
    }
}

/// `rounds` hand-offs from this thread to a new peer and back.
fn ping_pong(rounds: u64) -> Duration {
    let turn = Arc::new(AtomicBool::new(false)); // false: this thread's turn
    let me = std::thread::current();
    let peer_turn = turn.clone();
    let peer = std::thread::spawn(move || {
        for _ in 0..rounds {
            while !peer_turn.load(Ordering::Acquire) {
                std::thread::park();
            }
            peer_turn.store(false, Ordering::Release);
            me.unpark();
        }
    });
    let start = Instant::now();
    for _ in 0..rounds {
        turn.store(true, Ordering::Release);
        peer.thread().unpark();
        while turn.load(Ordering::Acquire) {
            std::thread::park();
        }
    }
    let took = start.elapsed();
    // The peer has finished its last round once the turn came back.
    let _ = peer.join();
    took
}
