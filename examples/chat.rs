//! A chat room: every client is a task, and what one types, the others see.
//!
//! Run: `cargo run --example chat -- --port 7001`, then in two or more
//! terminals `nc 127.0.0.1 7001` and type lines. Each client is told its
//! name (`user7`); its lines reach the others as `user7: ...`, and joins,
//! leaves and drops show as `* ...` notices.
//!
//! Flags: `--port N` (default 7001; 0 picks a free port), `--workers N`
//! (default: the core count). It listens on 127.0.0.1 only.
//!
//! # How it works
//! * The runtime's accept loop spawns a task per connection: it reads the
//!   client's lines and sends them to the room. It spawns a second task on
//!   its own worker, the writer, which writes the client's outgoing queue
//!   to the socket, so reading and writing go on at the same time. The two
//!   share the stream through an `Rc` (`TcpStream` is not `Send`, and
//!   `&TcpStream` is `Read` and `Write`).
//! * One room task owns the member list. Readers send it events over a
//!   bounded channel (a client typing faster than the room can take lines
//!   waits, and TCP slows it down); the room puts each line, shared as an
//!   `Arc<[u8]>`, into every other member's queue with `try_send`, so it
//!   never waits for a client. After each event it yields, so the writers
//!   on its worker drain their queues before the next line comes.
//!
//! # A full queue drops the client
//! Each client has an outgoing queue of [`QUEUE_LINES`] lines, behind a
//! [`SEND_BUFFER`]-byte socket send buffer (set, so the kernel does not
//! hold megabytes for a client that has stopped reading). When a line
//! finds a member's queue full, the room drops that member: it shuts the
//! connection down, through a duplicate of its fd that the room holds
//! (so it can never reach a reused fd number), which ends the member's
//! blocked write and its read; and it tells the others
//! `* user7 was dropped: too slow`.
//!
//! Why not keep it and drop only lines, counting them? Its view of the
//! room would have holes it could never fill, and a client that never
//! reads again would hold its two tasks, its queue and its buffers for
//! good while the room kept working for it. Dropping frees all that at
//! once, and anyone still in the room has seen every line, in order; the
//! dropped client can reconnect. Either way the room never waits on a
//! member: one stalled reader cannot stall the others.
//!
//! Also: a line longer than [`MAX_LINE`] bytes drops its sender (memory
//! per client stays bounded); a last line without its newline, before EOF,
//! is not sent.

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use jmpco::rt::channel::{self, Receiver, Sender, TrySendError};
use jmpco::rt::{self, Runtime, TcpStream};

/// Lines a client's outgoing queue holds; one more and it is dropped.
pub const QUEUE_LINES: usize = 64;

/// The socket send buffer each client gets (`SO_SNDBUF`).
pub const SEND_BUFFER: usize = 64 * 1024;

/// The longest line a client may send, newline included.
pub const MAX_LINE: usize = 4096;

/// Events the room's inbox holds before readers wait.
const ROOM_INBOX: usize = 1024;

/// The most bytes a writer gathers from its queue into one write.
const WRITE_BATCH: usize = 16 * 1024;

/// A line as sent to members: shared, not copied per member.
type Line = Arc<[u8]>;

/// What the connection tasks tell the room.
enum Event {
    /// A new client: its outgoing queue, and a duplicate of its socket
    /// for the room to shut down if it has to drop the client.
    Join {
        id: u64,
        queue: Sender<Line>,
        conn: std::net::TcpStream,
    },
    /// A complete line (newline included) the client typed.
    Said { id: u64, text: Vec<u8> },
    /// The client's connection has ended.
    Left { id: u64 },
}

fn main() -> io::Result<()> {
    let (port, workers) = parse();
    let rt = Runtime::builder().worker_threads(workers).build()?;
    let addr = serve(&rt, SocketAddr::from(([127, 0, 0, 1], port)))?;
    println!(
        "chat on {addr}: {} worker(s); try `nc {} {}` in two terminals",
        rt.handle().worker_threads(),
        addr.ip(),
        addr.port()
    );
    loop {
        std::thread::park();
    }
}

/// Starts the room on `rt` and serves chat clients on `addr`; returns the
/// bound address (useful with port 0).
pub fn serve(rt: &Runtime, addr: SocketAddr) -> io::Result<SocketAddr> {
    let (events, inbox) = channel::bounded(ROOM_INBOX);
    // Detached: the room runs until the runtime shuts down.
    drop(rt.spawn(move || room(&inbox)));
    let next_id = AtomicU64::new(1);
    rt.serve(addr, move |stream| {
        client(stream, next_id.fetch_add(1, Ordering::Relaxed), &events)
    })
}

/// One client's connection task: joins the room, starts its writer, reads
/// lines until the client goes (or is dropped), then leaves.
fn client(stream: TcpStream, id: u64, room: &Sender<Event>) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_send_buffer_size(SEND_BUFFER);
    let Ok(conn) = stream.as_fd().try_clone_to_owned() else {
        return;
    };
    let (queue, outgoing) = channel::bounded(QUEUE_LINES);
    let joined = Event::Join {
        id,
        queue,
        conn: conn.into(),
    };
    if room.send(joined).is_err() {
        return;
    }
    let stream = Rc::new(stream);
    let writer = rt::spawn({
        let stream = stream.clone();
        move || write_lines(&stream, &outgoing)
    });
    read_lines(&stream, id, room);
    // Reading has ended (EOF, an error, a line too long, or the room
    // dropped us): end the writer's wait on the socket too, and leave,
    // which closes our queue and so ends its wait there.
    let _ = stream.shutdown(Shutdown::Both);
    let _ = room.send(Event::Left { id });
    let _ = writer.join();
}

/// Sends each complete line the client types to the room.
fn read_lines(stream: &TcpStream, id: u64, room: &Sender<Event>) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut text = Vec::new();
        match (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut text)
        {
            Ok(0) | Err(_) => return,
            // EOF in the middle of a line, or a line too long.
            Ok(_) if text.last() != Some(&b'\n') => return,
            Ok(_) => {
                if room.send(Event::Said { id, text }).is_err() {
                    return;
                }
            }
        }
    }
}

/// Writes the client's queue to its socket, gathering what is queued into
/// one write; ends when the room closes the queue or a write fails.
fn write_lines(mut stream: &TcpStream, outgoing: &Receiver<Line>) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    while let Ok(line) = outgoing.recv() {
        batch.clear();
        batch.extend_from_slice(&line);
        while batch.len() < WRITE_BATCH {
            match outgoing.try_recv() {
                Ok(line) => batch.extend_from_slice(&line),
                Err(_) => break,
            }
        }
        if stream.write_all(&batch).is_err() {
            break;
        }
    }
    // Wake the reader if it still waits (the write failed).
    let _ = stream.shutdown(Shutdown::Both);
}

/// A member of the room, as the room task knows it.
struct Member {
    name: String,
    queue: Sender<Line>,
    /// A duplicate of the client's socket, to shut it down.
    conn: std::net::TcpStream,
}

/// The room: owns the members and fans every line out.
fn room(inbox: &Receiver<Event>) {
    let mut members: HashMap<u64, Member> = HashMap::new();
    for event in inbox.iter() {
        match event {
            Event::Join { id, queue, conn } => {
                let name = format!("user{id}");
                let others = members.len();
                let welcome = format!("* welcome, you are {name}; {others} other(s) here\n");
                // A new queue has room.
                let _ = queue.try_send(text(welcome));
                broadcast(&mut members, None, text(format!("* {name} joined\n")));
                members.insert(id, Member { name, queue, conn });
            }
            Event::Said { id, text } => {
                // A dropped member's last lines are not sent.
                if let Some(m) = members.get(&id) {
                    let mut line = Vec::with_capacity(m.name.len() + 2 + text.len());
                    line.extend_from_slice(m.name.as_bytes());
                    line.extend_from_slice(b": ");
                    line.extend_from_slice(&text);
                    broadcast(&mut members, Some(id), line.into());
                }
            }
            Event::Left { id } => {
                if let Some(m) = members.remove(&id) {
                    broadcast(&mut members, None, text(format!("* {} left\n", m.name)));
                }
            }
        }
        // Let the writers of this worker take what was just queued.
        rt::yield_now();
    }
}

fn text(s: String) -> Line {
    s.into_bytes().into()
}

/// Queues `line` for every member but `from`; drops each member whose
/// queue is full, and tells the others.
fn broadcast(members: &mut HashMap<u64, Member>, from: Option<u64>, line: Line) {
    let mut pending = VecDeque::from([(from, line)]);
    while let Some((from, line)) = pending.pop_front() {
        let mut slow = Vec::new();
        for (&id, m) in members.iter() {
            if Some(id) == from {
                continue;
            }
            // Disconnected: its writer has ended, and `Left` is on its way.
            if let Err(TrySendError::Full(_)) = m.queue.try_send(line.clone()) {
                slow.push(id);
            }
        }
        for id in slow {
            if let Some(m) = members.remove(&id) {
                let _ = m.conn.shutdown(Shutdown::Both);
                let notice = format!("* {} was dropped: too slow\n", m.name);
                pending.push_back((None, text(notice)));
            }
        }
    }
}

/// `--port N --workers N`.
fn parse() -> (u16, usize) {
    let mut port = 7001;
    let mut workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--port" => port = value().parse().unwrap_or_else(|_| usage("--port N")),
            "--workers" => workers = value().parse().unwrap_or_else(|_| usage("--workers N")),
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    (port, workers)
}

fn usage(msg: &str) -> ! {
    eprintln!("{msg}\nusage: chat [--port N] [--workers N]");
    std::process::exit(2)
}
