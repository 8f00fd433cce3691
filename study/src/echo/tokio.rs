//! `tokio` (current-thread runtime) and `tokio-mt` (multi-thread runtime,
//! `threads` workers): the async peer. An accept loop spawns one task per
//! connection that reads a whole request and writes it back.

use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::server::{Running, ServeConfig, Server, Started, Stats, StopSignal};

/// The tokio echo server on one runtime flavour.
pub struct Tokio {
    multi_thread: bool,
}

impl Tokio {
    /// `tokio`: the current-thread runtime.
    pub const CURRENT_THREAD: Tokio = Tokio {
        multi_thread: false,
    };
    /// `tokio-mt`: the multi-thread runtime.
    pub const MULTI_THREAD: Tokio = Tokio { multi_thread: true };
}

/// A runtime of the flavour asked for.
pub fn runtime(multi_thread: bool, threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .enable_io()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
    }
}

/// Binds `addr` and runs an accept loop that spawns `serve_conn` per
/// connection, on a runtime in a thread of its own, until stopped.
pub fn spawn_server<F, Fut>(
    multi_thread: bool,
    addr: SocketAddr,
    threads: usize,
    serve_conn: F,
) -> Result<Started>
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let stop = StopSignal::new(&listener)?;
    listener.set_nonblocking(true)?;
    let rt = runtime(multi_thread, threads)?;
    let signal = stop.clone();
    let thread = std::thread::spawn(move || {
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            loop {
                let (stream, _) = listener.accept().await?;
                if signal.is_set() {
                    return Ok(());
                }
                stream.set_nodelay(true)?;
                tokio::spawn(serve_conn(stream));
            }
        })
        // Dropping the runtime here cancels the connection tasks.
    });
    Ok(Started {
        addr,
        running: Box::new(Handle { stop, thread }),
    })
}

impl Server for Tokio {
    fn name(&self) -> &'static str {
        if self.multi_thread {
            "tokio-mt"
        } else {
            "tokio"
        }
    }

    fn start(&self, addr: SocketAddr, config: &ServeConfig) -> Result<Started> {
        let size = config.size;
        spawn_server(
            self.multi_thread,
            addr,
            config.threads,
            move |mut stream| async move {
                let mut buf = vec![0u8; size];
                while stream.read_exact(&mut buf).await.is_ok() {
                    if stream.write_all(&buf).await.is_err() {
                        break;
                    }
                }
            },
        )
    }
}

struct Handle {
    stop: StopSignal,
    thread: JoinHandle<std::io::Result<()>>,
}

impl Running for Handle {
    fn stop(self: Box<Self>) -> Stats {
        self.stop.trigger();
        let _ = self.thread.join();
        Stats::new()
    }
}
