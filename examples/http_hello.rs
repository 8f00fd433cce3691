//! An HTTP/1.1 keep-alive server answering every request with a fixed
//! `200 OK` `Hello, World!` (the TechEmpower "plaintext" shape), one
//! coroutine per connection on the jmpco runtime.
//!
//! Run: `cargo run --release --example http_hello -- --addr 127.0.0.1:8080`
//! then `curl -i http://127.0.0.1:8080/` or
//! `wrk -t1 -c100 -d10s --latency http://127.0.0.1:8080/`.
//!
//! Flags: `--addr HOST:PORT` (default 127.0.0.1:8080), `--threads N`
//! (default: the core count), `--backend sjlj|ucontext|asm` (default sjlj),
//! `--stack-size BYTES` (default 16K; `K`/`M` suffixes work).
//!
//! TCP is a byte stream, so a read may hold half a request or several
//! (pipelining): the handler parses every complete request in its buffer,
//! queues one response per request, writes them in one go, and keeps any
//! partial request for the next read. Request bodies (`Content-Length`)
//! are skipped; `Connection: close` and HTTP/1.0 without keep-alive close
//! the connection after the response.

use std::io::{self, Read, Write};

use jmpco::rt::{Runtime, TcpStream};
use jmpco::Backend;

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: jmpco\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

/// Requests larger than this (head and body) are refused by closing.
const MAX_REQUEST: usize = 64 * 1024;

fn main() -> io::Result<()> {
    let (addr, threads, backend, stack_size) = parse();
    let rt = Runtime::builder()
        .worker_threads(threads)
        .backend(backend)
        .stack_size(stack_size)
        .build()?;
    let addr = rt.serve(addr.parse().expect("--addr HOST:PORT"), |s| {
        let _ = serve(s);
    })?;
    println!(
        "http_hello on http://{addr}/: {} worker(s), backend {}",
        rt.handle().worker_threads(),
        backend.name()
    );
    println!("try: curl -i http://{addr}/   or   wrk -t1 -c100 -d10s --latency http://{addr}/");
    loop {
        std::thread::park();
    }
}

/// One connection: parse, answer, repeat until the peer closes.
fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 8192];
    let mut filled = 0;
    let mut out = Vec::with_capacity(4096);
    loop {
        if filled == buf.len() {
            if buf.len() >= MAX_REQUEST {
                return Ok(());
            }
            buf.resize(buf.len() * 2, 0);
        }
        let n = stream.read(&mut buf[filled..])?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        // Answer every complete request in the buffer.
        let mut start = 0;
        let mut close = false;
        while let Some(req) = parse_request(&buf[start..filled]) {
            out.extend_from_slice(RESPONSE);
            start += req.len;
            if req.close {
                close = true;
                break;
            }
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
        if !out.is_empty() {
            stream.write_all(&out)?;
            out.clear();
        }
        if close {
            return Ok(());
        }
    }
}

struct Request {
    /// Bytes of head and body.
    len: usize,
    /// The client asked to close after this response.
    close: bool,
}

/// A complete request at the start of `buf`, if there is one.
fn parse_request(buf: &[u8]) -> Option<Request> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = &buf[..head_end];
    let mut lines = head.split(|&b| b == b'\n');
    let request_line = lines.next()?;
    let http10 = request_line.ends_with(b"HTTP/1.0\r");
    let mut close = http10;
    let mut body = 0usize;
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = &line[..colon];
        let value = trim(&line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            body = std::str::from_utf8(value).ok()?.parse().ok()?;
        } else if name.eq_ignore_ascii_case(b"connection") {
            if value.eq_ignore_ascii_case(b"close") {
                close = true;
            } else if value.eq_ignore_ascii_case(b"keep-alive") {
                close = false;
            }
        }
    }
    let len = head_end.checked_add(body)?;
    (buf.len() >= len).then_some(Request { len, close })
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

fn parse() -> (String, usize, Backend, usize) {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut backend = Backend::Sjlj;
    let mut stack = 16 * 1024;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            usage("");
        }
        let v = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--addr" => addr = v,
            "--threads" => threads = v.parse().unwrap_or_else(|_| usage("--threads N")),
            "--backend" => backend = v.parse().unwrap_or_else(|e: String| usage(&e)),
            "--stack-size" => {
                let (num, mul) = match v.as_bytes().last() {
                    Some(b'K' | b'k') => (&v[..v.len() - 1], 1024),
                    Some(b'M' | b'm') => (&v[..v.len() - 1], 1024 * 1024),
                    _ => (&v[..], 1),
                };
                stack = num
                    .parse::<usize>()
                    .unwrap_or_else(|_| usage("--stack-size BYTES"))
                    * mul;
            }
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    (addr, threads, backend, stack)
}

/// Prints the usage (after `msg`, if any) and exits: 0 for `--help`, 2
/// for a bad command line.
fn usage(msg: &str) -> ! {
    let backends = Backend::ALL.map(Backend::name).join("|");
    let text = format!(
        "usage: http_hello [--addr HOST:PORT] [--threads N] [--backend {backends}] [--stack-size BYTES]"
    );
    if msg.is_empty() {
        println!("{text}");
        std::process::exit(0)
    }
    eprintln!("{msg}\n{text}");
    std::process::exit(2)
}

#[cfg(test)]
mod tests {
    use super::parse_request;

    #[test]
    fn pipelined_and_split_requests_parse() {
        let two = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n";
        let first = parse_request(two).unwrap();
        assert!(!first.close);
        let second = parse_request(&two[first.len..]).unwrap();
        assert!(second.close);
        assert_eq!(first.len + second.len, two.len());
        assert!(parse_request(&two[..10]).is_none());
        let body = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nab";
        assert!(parse_request(body).is_none());
    }
}
