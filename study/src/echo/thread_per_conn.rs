//! `thread-per-conn`: a blocking accept loop that spawns one OS thread per
//! connection (Rust's default thread stack), each reading a whole request
//! and writing it back until the client closes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;

use anyhow::Result;

use crate::server::{Running, ServeConfig, Server, Started, Stats, StopSignal};

/// One thread per connection.
pub struct ThreadPerConn;

impl Server for ThreadPerConn {
    fn name(&self) -> &'static str {
        "thread-per-conn"
    }

    fn start(&self, addr: SocketAddr, config: &ServeConfig) -> Result<Started> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stop = StopSignal::new(&listener)?;
        let size = config.size;
        let signal = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if signal.is_set() {
                    break;
                }
                let Ok(stream) = stream else { continue };
                // A refused spawn (out of threads) drops the connection.
                let _ = std::thread::Builder::new().spawn(move || echo(stream, size));
            }
        });
        Ok(Started {
            addr,
            running: Box::new(Handle { stop, thread }),
        })
    }
}

fn echo(mut stream: TcpStream, size: usize) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; size];
    while stream.read_exact(&mut buf).is_ok() && stream.write_all(&buf).is_ok() {}
}

struct Handle {
    stop: StopSignal,
    thread: JoinHandle<()>,
}

impl Running for Handle {
    /// Connection threads end when their clients close.
    fn stop(self: Box<Self>) -> Stats {
        self.stop.trigger();
        let _ = self.thread.join();
        Stats::new()
    }
}
