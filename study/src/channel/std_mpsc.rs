//! `std-mpsc`: two OS threads pinned to one CPU bounce a message through two
//! `std::sync::mpsc::sync_channel(1)` channels: the thread design's round
//! trip, with the one CPU a worker of the task contestants has. Each
//! hand-off blocks one thread in the kernel (a futex) and wakes the other.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

use super::Exchange;
use crate::sys::affinity;

/// The thread pair.
pub struct PingPong;

impl Exchange for PingPong {
    fn name(&self) -> &'static str {
        "std-mpsc"
    }

    fn run(&mut self, rounds: u64) -> Result<Duration> {
        let cpu: Vec<usize> = affinity::allowed_cpus().into_iter().take(1).collect();
        // A fresh pinger thread, so that pinning it leaves the caller alone;
        // the echoer it spawns inherits the pinning.
        std::thread::spawn(move || -> Result<Duration> {
            affinity::pin_current_thread(&cpu)?;
            ping_pong(rounds)
        })
        .join()
        .map_err(|_| anyhow!("the pinger thread panicked"))?
    }
}

fn ping_pong(rounds: u64) -> Result<Duration> {
    let (ping_tx, ping_rx) = sync_channel::<u64>(1);
    let (pong_tx, pong_rx) = sync_channel::<u64>(1);
    let echoer = std::thread::spawn(move || {
        for v in ping_rx.iter() {
            if pong_tx.send(v).is_err() {
                return;
            }
        }
    });
    // One unmeasured round trip: the echoer has started.
    round_trips(&ping_tx, &pong_rx, 1)?;
    let start = Instant::now();
    round_trips(&ping_tx, &pong_rx, rounds)?;
    let took = start.elapsed();
    drop(ping_tx);
    echoer
        .join()
        .map_err(|_| anyhow!("the echoer thread panicked"))?;
    Ok(took)
}

fn round_trips(tx: &SyncSender<u64>, rx: &Receiver<u64>, rounds: u64) -> Result<()> {
    for i in 0..rounds {
        tx.send(i).map_err(|_| anyhow!("the echoer hung up"))?;
        let v = rx.recv().map_err(|_| anyhow!("the echoer hung up"))?;
        anyhow::ensure!(v == i, "sent {i}, got {v} back");
    }
    Ok(())
}
