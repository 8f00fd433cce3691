//! A fan-out fetch: ask three backends at once from a scope of tasks, with
//! a deadline around the scope; the backend too slow for it is cancelled
//! mid-read, and the answers that came in time are kept.
//!
//! Run: `cargo run --example fan_out`
//!
//! The backends are loopback servers of this program answering after 10,
//! 50 and 500 ms. The clients borrow a `RefCell` of the caller's (a scope's
//! children may: they run on the caller's worker), and each holds a guard
//! whose destructor tells how its task ended: a cancelled client's guard
//! runs as its stack unwinds from the read it was parked in.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jmpco::rt::{self, Runtime, TcpStream};

/// Says how its client ended: with an answer, or cancelled while waiting.
struct Ending<'a> {
    backend: usize,
    log: &'a RefCell<Vec<String>>,
    answered: bool,
}

impl Drop for Ending<'_> {
    fn drop(&mut self) {
        if !self.answered {
            let line = format!("backend {}: cancelled at the deadline", self.backend);
            self.log.borrow_mut().push(line);
        }
    }
}

fn main() -> io::Result<()> {
    let rt = Runtime::builder().worker_threads(1).build()?;
    let mut backends: Vec<SocketAddr> = Vec::new();
    for delay_ms in [10u64, 50, 500] {
        let addr = rt.serve("127.0.0.1:0".parse().expect("an address"), move |stream| {
            let mut ask = [0u8; 1];
            if (&stream).read_exact(&mut ask).is_ok() {
                rt::sleep(Duration::from_millis(delay_ms));
                let _ = (&stream).write_all(format!("answer after {delay_ms} ms").as_bytes());
            }
        })?;
        backends.push(addr);
    }
    let (lines, outcome, took) = rt.block_on(move || {
        let log = RefCell::new(Vec::new());
        let start = Instant::now();
        let outcome = rt::timeout(Duration::from_millis(200), || {
            rt::scope(|s| {
                for (backend, addr) in backends.iter().enumerate() {
                    let log = &log;
                    s.spawn(move || {
                        let mut ending = Ending {
                            backend,
                            log,
                            answered: false,
                        };
                        let fetch = || -> io::Result<String> {
                            let mut stream =
                                TcpStream::connect_timeout(addr, Some(Duration::from_secs(1)))?;
                            stream.write_all(b"?")?;
                            let mut answer = String::new();
                            stream.read_to_string(&mut answer)?;
                            Ok(answer)
                        };
                        let answer = fetch().unwrap_or_else(|e| format!("error: {e}"));
                        log.borrow_mut()
                            .push(format!("backend {backend}: {answer}"));
                        ending.answered = true;
                    });
                }
            })
        });
        (log.into_inner(), outcome, start.elapsed())
    });
    for line in &lines {
        println!("{line}");
    }
    let answered = lines.iter().filter(|l| l.contains("answer")).count();
    println!(
        "deadline of 200 ms: {outcome:?} after {} ms, {answered} of 3 answers kept",
        took.as_millis() / 10 * 10
    );
    rt.shutdown(Duration::from_secs(1));
    Ok(())
}
