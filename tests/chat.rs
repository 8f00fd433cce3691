//! `examples/chat.rs` under load: many clients talking at once, one that
//! never reads, one that resets. The example's file is compiled in here as
//! a module (its `main` unused), so the test runs the real server in
//! process, on a port of its own, and needs no binary path or child
//! process to manage.

#[allow(dead_code)]
#[path = "../examples/chat.rs"]
mod chat;
mod rt_support;

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use jmpco::rt::Runtime;
use rt_support::{linger_zero, watchdog};

/// Clients that talk and read.
const TALKERS: usize = 18;

/// Filler on every chat line, so the slow reader's buffers fill with few
/// lines.
const PAD: usize = 1000;

/// A talker's pause between lines: 18 talkers make 900 lines a second, so
/// a talker's queue (64 lines) lasts 70 ms and its socket buffers (a few
/// hundred KiB) about as long again, should its reader thread or the
/// writer's worker not get a core (this machine may be busy).
const PACE: Duration = Duration::from_millis(20);

/// Every talker sends at least this many lines, and at most the second.
const LINES: (usize, usize) = (50, 2_000);

/// A connected client and its name, as the welcome line gave it.
struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    name: String,
}

fn join(addr: SocketAddr) -> Client {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut welcome = String::new();
    reader.read_line(&mut welcome).expect("the welcome line");
    let name = welcome
        .strip_prefix("* welcome, you are ")
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("not a welcome: {welcome:?}"))
        .to_owned();
    Client {
        stream,
        reader,
        name,
    }
}

/// What one talker's reader saw.
#[derive(Debug, Default)]
struct Seen {
    /// Chat lines per talker index, counted in order.
    lines: HashMap<usize, usize>,
    dropped_notice: bool,
    left_notice: bool,
}

/// Progress a reader reports while it runs.
enum Progress {
    SawDrop,
}

/// Reads until every other talker's `END` has come, and the notices for
/// the slow client (dropped) and the resetting one (left); checks each
/// talker's lines arrive once each, in order, with its name.
fn read_room(
    me: usize,
    mut reader: BufReader<TcpStream>,
    names: &[String],
    slow: &str,
    resetter: &str,
    progress: &mpsc::Sender<Progress>,
) -> Result<Seen, String> {
    let dropped = format!("* {slow} was dropped: too slow\n");
    let left = format!("* {resetter} left\n");
    let mut seen = Seen::default();
    let mut ended = 0;
    let mut line = String::new();
    while ended < TALKERS - 1 || !seen.dropped_notice || !seen.left_notice {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return Err(format!("talker {me}: EOF; saw {seen:?}")),
            Err(e) => return Err(format!("talker {me}: {e}; saw {seen:?}")),
            Ok(_) => {}
        }
        if line.contains("half a line") {
            return Err(format!("talker {me} got a partial line: {line:?}"));
        }
        if let Some(notice) = line.strip_prefix("* ") {
            if line == dropped {
                seen.dropped_notice = true;
                let _ = progress.send(Progress::SawDrop);
            } else if line == left {
                seen.left_notice = true;
            } else if notice.contains("dropped") {
                return Err(format!("talker {me}: someone else was dropped: {line:?}"));
            }
            continue;
        }
        // "userN: c<i> <seq> <pad>" or "userN: c<i> END <count>".
        let (name, body) = line
            .split_once(": ")
            .ok_or_else(|| format!("talker {me}: odd line {line:?}"))?;
        let mut words = body.split_whitespace();
        let from: usize = words
            .next()
            .and_then(|w| w.strip_prefix('c'))
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| format!("talker {me}: odd line {line:?}"))?;
        if from == me || from >= TALKERS || names[from] != name {
            return Err(format!("talker {me}: line from the wrong sender: {line:?}"));
        }
        let count = seen.lines.entry(from).or_insert(0);
        match words.next() {
            Some("END") => {
                let total: usize = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                if total != *count {
                    return Err(format!(
                        "talker {me}: {total} lines from talker {from}, {count} received"
                    ));
                }
                ended += 1;
            }
            Some(seq) if seq == count.to_string() => *count += 1,
            _ => {
                return Err(format!(
                    "talker {me}: expected line {count} of talker {from}: {line:?}"
                ))
            }
        }
    }
    Ok(seen)
}

/// Sends numbered lines, one per [`PACE`], until told to stop (and at
/// least `LINES.0`); then `END` with the count. Returns the count.
fn talk(me: usize, mut stream: TcpStream, stop: &AtomicBool) -> io::Result<usize> {
    let pad = "x".repeat(PAD);
    let mut sent = 0;
    while (sent < LINES.0 || !stop.load(Ordering::Relaxed)) && sent < LINES.1 {
        stream.write_all(format!("c{me} {sent} {pad}\n").as_bytes())?;
        sent += 1;
        thread::sleep(PACE);
    }
    stream.write_all(format!("c{me} END {sent}\n").as_bytes())?;
    Ok(sent)
}

#[test]
fn every_talker_gets_every_line_while_a_slow_reader_is_dropped_and_a_reset_leaves() {
    watchdog(120, "chat_room", || {
        let rt = Runtime::builder()
            .worker_threads(2)
            .build()
            .expect("runtime");
        let addr = chat::serve(&rt, "127.0.0.1:0".parse().unwrap()).expect("serve");

        let talkers: Vec<Client> = (0..TALKERS).map(|_| join(addr)).collect();
        // Reads its welcome, and nothing ever again.
        let slow = join(addr);
        let resetter = join(addr);
        let names: Arc<Vec<String>> = Arc::new(talkers.iter().map(|c| c.name.clone()).collect());
        // Everyone has been welcomed, so everyone is in the room now.

        let stop = Arc::new(AtomicBool::new(false));
        let (progress_tx, progress) = mpsc::channel();
        let mut readers = Vec::new();
        let mut writers = Vec::new();
        for (i, c) in talkers.into_iter().enumerate() {
            let (names, tx) = (names.clone(), progress_tx.clone());
            let (slow_name, reset_name) = (slow.name.clone(), resetter.name.clone());
            readers.push(thread::spawn(move || {
                read_room(i, c.reader, &names, &slow_name, &reset_name, &tx)
            }));
            let stop = stop.clone();
            writers.push(thread::spawn(move || talk(i, c.stream, &stop)));
        }
        drop(progress_tx);

        // Mid-talk: half a line, then a reset.
        thread::sleep(Duration::from_millis(50));
        let Client {
            stream: mut r,
            reader: r_clone,
            ..
        } = resetter;
        r.write_all(b"half a line, never ended").unwrap();
        thread::sleep(Duration::from_millis(20));
        linger_zero(&r);
        // Closing the last fd of the socket sends the reset.
        drop(r_clone);
        drop(r);

        // Talk until every talker has seen the slow client dropped (its
        // buffers and queue full), then stop.
        let t0 = Instant::now();
        let mut saw_drop = 0;
        while saw_drop < TALKERS {
            match progress.recv_timeout(Duration::from_secs(30)) {
                Ok(Progress::SawDrop) => saw_drop += 1,
                Err(_) => break,
            }
        }
        let took = t0.elapsed();
        stop.store(true, Ordering::Relaxed);

        let sent: Vec<usize> = writers
            .into_iter()
            .map(|w| w.join().unwrap().expect("talker writes"))
            .collect();
        let mut failures = Vec::new();
        for (i, r) in readers.into_iter().enumerate() {
            match r.join().unwrap() {
                Ok(seen) => {
                    for (from, &n) in sent.iter().enumerate() {
                        if from != i {
                            assert_eq!(seen.lines.get(&from), Some(&n), "talker {i} from {from}");
                        }
                    }
                }
                Err(e) => failures.push(e),
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        assert_eq!(
            saw_drop, TALKERS,
            "every talker saw the slow client dropped"
        );
        assert!(sent.iter().all(|&n| n < LINES.1), "{sent:?}");
        eprintln!(
            "chat: {} lines per talker, slow client dropped after {took:?}",
            sent.iter().sum::<usize>() / TALKERS
        );

        // The slow client's connection was shut down: what was buffered
        // for it, then EOF.
        let Client { stream: mut s, .. } = slow;
        let mut sink = vec![0u8; 64 * 1024];
        let mut buffered = 0;
        loop {
            match s.read(&mut sink) {
                Ok(0) => break,
                Ok(n) => buffered += n,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("the slow client's connection stayed open: {e}"),
            }
        }
        assert!(buffered > 0);

        let report = rt.shutdown(Duration::from_secs(1));
        eprintln!("chat: {} task(s) cancelled at shutdown", report.cancelled);
    });
}
