//! tokio: two spawned tasks bounce a message through two
//! `tokio::sync::mpsc::channel(1)` channels, on a `current_thread` runtime
//! (`tokio`) or a multi-thread runtime of two workers (`tokio-mt`, which
//! places the tasks itself). Both runtimes are built with `enable_all`, as
//! `#[tokio::main]` builds them.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use tokio::runtime::Runtime;
use tokio::sync::mpsc::{self, Receiver, Sender};

use super::Exchange;

/// Round trips between two tasks of a tokio runtime.
pub struct PingPong {
    multi_thread: bool,
    /// Built at the first run, kept for the others.
    rt: Option<Runtime>,
}

impl PingPong {
    /// `tokio`: the `current_thread` runtime.
    pub fn current_thread() -> PingPong {
        PingPong {
            multi_thread: false,
            rt: None,
        }
    }

    /// `tokio-mt`: the multi-thread runtime with two workers.
    pub fn multi_thread() -> PingPong {
        PingPong {
            multi_thread: true,
            rt: None,
        }
    }
}

/// A runtime of the flavour asked for (two workers if multi-threaded),
/// every driver enabled.
pub fn runtime(multi_thread: bool) -> std::io::Result<Runtime> {
    if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("channel-tokio")
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
}

impl Exchange for PingPong {
    fn name(&self) -> &'static str {
        if self.multi_thread {
            "tokio-mt"
        } else {
            "tokio"
        }
    }

    fn run(&mut self, rounds: u64) -> Result<Duration> {
        if self.rt.is_none() {
            self.rt = Some(runtime(self.multi_thread)?);
        }
        let rt = self.rt.as_ref().expect("just built");
        let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
        let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
        rt.block_on(async move {
            let echoer = tokio::spawn(async move {
                while let Some(v) = ping_rx.recv().await {
                    if pong_tx.send(v).await.is_err() {
                        return;
                    }
                }
            });
            let pinger = tokio::spawn(async move {
                // One unmeasured round trip: the echoer has started.
                round_trips(&ping_tx, &mut pong_rx, 1).await?;
                let start = Instant::now();
                round_trips(&ping_tx, &mut pong_rx, rounds).await?;
                Ok::<_, String>(start.elapsed())
            });
            let took = pinger
                .await
                .map_err(|e| anyhow!("the pinger task failed: {e}"))?;
            echoer
                .await
                .map_err(|e| anyhow!("the echoer task failed: {e}"))?;
            took.map_err(|e| anyhow!(e))
        })
    }
}

/// `rounds` round trips.
async fn round_trips(tx: &Sender<u64>, rx: &mut Receiver<u64>, rounds: u64) -> Result<(), String> {
    for i in 0..rounds {
        tx.send(i)
            .await
            .map_err(|_| "the echoer hung up".to_string())?;
        match rx.recv().await {
            Some(v) if v == i => {}
            Some(v) => return Err(format!("sent {i}, got {v} back")),
            None => return Err("the echoer hung up".into()),
        }
    }
    Ok(())
}
