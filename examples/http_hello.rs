//! An HTTP/1.x server answering every request with a fixed `200 OK`
//! `Hello, World!` (the TechEmpower "plaintext" shape), one coroutine per
//! connection on the jmpco runtime.
//!
//! Run: `cargo run --release --example http_hello -- --addr 127.0.0.1:8080`
//! then `curl -i http://127.0.0.1:8080/`,
//! `wrk -t1 -c100 -d10s --latency http://127.0.0.1:8080/`,
//! `ab -k -n 100000 -c 100 http://127.0.0.1:8080/` or
//! `h2load --h1 -n 100000 -c 100 http://127.0.0.1:8080/`.
//!
//! Flags: `--addr HOST:PORT` (default 127.0.0.1:8080; port 0 picks a free
//! one, and the first line printed names it), `--threads N` (default: the
//! core count), `--backend sjlj|ucontext|asm` (default sjlj),
//! `--stack-size BYTES` (default 16K; `K`/`M` suffixes work).
//!
//! Connections follow HTTP/1.x: an HTTP/1.1 connection stays open unless
//! the request says `Connection: close`; an HTTP/1.0 one is closed after
//! the response unless the request says `Connection: keep-alive`, and then
//! the response says it too (ApacheBench's `ab -k` waits for that). A
//! request that is not `METHOD SP target SP HTTP/1.x` with `name: value`
//! header lines, or whose head does not fit the 64 KiB buffer, gets `400
//! Bad Request` and a close; one whose body does not fit gets `413`, one
//! with a `Transfer-Encoding` (which this server does not decode) `501`.
//! `HEAD` gets the headers without the body.
//!
//! TCP is a byte stream, so a read may hold half a request or several
//! (pipelining): the handler answers every complete request in its buffer
//! with one write, and keeps any partial request for the next read.
//! Request bodies (`Content-Length`) are skipped. The fast path allocates
//! nothing per request and makes one `read` and one `write` per batch.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use jmpco::rt::{Runtime, TcpStream};
use jmpco::Backend;

/// The answer on a connection that stays open (HTTP/1.1's default).
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nServer: jmpco\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
/// The answer to an HTTP/1.0 request that asked for keep-alive.
const OK_KEEP_ALIVE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: jmpco\r\nConnection: keep-alive\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
/// The answer before the server closes the connection.
const OK_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: jmpco\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
/// The body every `200 OK` ends with (left out for `HEAD`).
const BODY: &[u8] = b"Hello, World!";

const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nServer: jmpco\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
const TOO_LARGE: &[u8] =
    b"HTTP/1.1 413 Content Too Large\r\nServer: jmpco\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
const NOT_IMPLEMENTED: &[u8] =
    b"HTTP/1.1 501 Not Implemented\r\nServer: jmpco\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// The most a request (head and body) may take in the buffer.
const MAX_REQUEST: usize = 64 * 1024;

/// After an error response, how long what the client still sends is read
/// and dropped before closing (see [`linger_close`])...
const LINGER: Duration = Duration::from_secs(1);
/// ...and how much of it at most.
const LINGER_BYTES: usize = 256 * 1024;

fn main() -> io::Result<()> {
    let (addr, threads, backend, stack_size) = parse();
    let rt = Runtime::builder()
        .worker_threads(threads)
        .backend(backend)
        .stack_size(stack_size)
        .build()?;
    let addr = rt.serve(addr, |s| {
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

/// One connection: read, answer every complete request, repeat until the
/// peer closes or a response closes the connection.
fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 8192];
    let mut filled = 0;
    let mut out = Vec::with_capacity(4096);
    loop {
        if filled == buf.len() {
            // Never past MAX_REQUEST: `parse_request` rejects a partial
            // request that fills it.
            buf.resize((buf.len() * 2).min(MAX_REQUEST), 0);
        }
        let n = stream.read(&mut buf[filled..])?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let (used, then) = answer(&buf[..filled], &mut out);
        buf.copy_within(used..filled, 0);
        filled -= used;
        if !out.is_empty() {
            stream.write_all(&out)?;
            out.clear();
        }
        match then {
            Then::Read => {}
            Then::Close => return Ok(()),
            Then::Reject => return linger_close(&mut stream, &mut buf),
        }
    }
}

/// What a connection does once a batch is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Then {
    /// Read more requests.
    Read,
    /// Close: the last response was the final one.
    Close,
    /// Close after an error response, which the client may not expect
    /// while it is still sending.
    Reject,
}

/// Appends to `out` the responses to every complete request at the start
/// of `buf`; returns how many bytes they took and what comes next.
fn answer(buf: &[u8], out: &mut Vec<u8>) -> (usize, Then) {
    let mut start = 0;
    loop {
        match parse_request(&buf[start..]) {
            Parse::Request { len, conn, head } => {
                let response = conn.response();
                out.extend_from_slice(if head {
                    &response[..response.len() - BODY.len()]
                } else {
                    response
                });
                start += len;
                if conn == Conn::Close {
                    return (start, Then::Close);
                }
            }
            Parse::Partial => return (start, Then::Read),
            Parse::Reject(response) => {
                out.extend_from_slice(response);
                return (start, Then::Reject);
            }
        }
    }
}

/// What becomes of the connection after a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Conn {
    /// HTTP/1.1's default: it stays open.
    Persistent,
    /// An HTTP/1.0 request asked for keep-alive: it stays open, and the
    /// response says so (an HTTP/1.0 client otherwise reads until EOF).
    KeepAlive,
    /// Closed after the response.
    Close,
}

impl Conn {
    fn response(self) -> &'static [u8] {
        match self {
            Conn::Persistent => OK,
            Conn::KeepAlive => OK_KEEP_ALIVE,
            Conn::Close => OK_CLOSE,
        }
    }
}

/// What the start of a buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Parse {
    /// A whole request of `len` bytes (head and body); `head` if its
    /// method is `HEAD`.
    Request { len: usize, conn: Conn, head: bool },
    /// Only the start of one: read more.
    Partial,
    /// Not a request this server takes: answer with this, then close.
    Reject(&'static [u8]),
}

/// The request at the start of `buf`.
///
/// One pass over the head, a line at a time: each line is checked once it
/// is complete, so a client that sent garbage hears so without sending a
/// whole head, and the empty line that ends the head ends the pass.
fn parse_request(buf: &[u8]) -> Parse {
    let mut lines = Lines { buf, at: 0 };
    let (method, minor) = match lines.next_line() {
        Line::Partial => return partial(buf),
        Line::Bad => return Parse::Reject(BAD_REQUEST),
        Line::Complete(line) => match request_line(line) {
            Some(request) => request,
            None => return Parse::Reject(BAD_REQUEST),
        },
    };
    let mut body = None;
    let mut close = false;
    let mut keep_alive = false;
    loop {
        let field = match lines.next_line() {
            Line::Partial => return partial(buf),
            Line::Bad => return Parse::Reject(BAD_REQUEST),
            Line::Complete([]) => break, // the end of the head
            Line::Complete(field) => field,
        };
        let Some(colon) = field.iter().position(|&b| b == b':') else {
            return Parse::Reject(BAD_REQUEST);
        };
        let (name, value) = (&field[..colon], &field[colon + 1..]);
        // No space before the colon (RFC 9112 section 5.1), which also
        // refuses obsolete line folding; no control bytes in the value.
        if name.is_empty()
            || !name.iter().all(|&b| is_tchar(b))
            || value.iter().fold(false, |bad, &b| {
                bad | (b != b'\t' && (b < 0x20 || b == 0x7f))
            })
        {
            return Parse::Reject(BAD_REQUEST);
        }
        let value = trim(value);
        if name.eq_ignore_ascii_case(b"content-length") {
            // Repeats must agree, or the body's end is ambiguous.
            match (digits(value), body) {
                (Some(n), None) => body = Some(n),
                (Some(n), Some(m)) if n == m => {}
                _ => return Parse::Reject(BAD_REQUEST),
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for option in value.split(|&b| b == b',').map(trim) {
                close |= option.eq_ignore_ascii_case(b"close");
                keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Parse::Reject(NOT_IMPLEMENTED);
        }
    }
    let head_end = lines.at;
    let len = head_end + body.unwrap_or(0);
    if len > MAX_REQUEST {
        return Parse::Reject(TOO_LARGE);
    }
    if buf.len() < len {
        return Parse::Partial;
    }
    let conn = match (close, minor, keep_alive) {
        (true, _, _) | (false, 0, false) => Conn::Close,
        (false, 0, true) => Conn::KeepAlive,
        (false, _, _) => Conn::Persistent,
    };
    Parse::Request {
        len,
        conn,
        head: method == b"HEAD",
    }
}

/// The lines of a request head, in order.
struct Lines<'a> {
    buf: &'a [u8],
    /// Where the next line starts.
    at: usize,
}

/// One line of a head.
enum Line<'a> {
    /// A line without its CRLF.
    Complete(&'a [u8]),
    /// The buffer ends before the line does.
    Partial,
    /// A line ended by a bare LF.
    Bad,
}

impl<'a> Lines<'a> {
    fn next_line(&mut self) -> Line<'a> {
        let rest = &self.buf[self.at..];
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            return Line::Partial;
        };
        self.at += lf + 1;
        match rest[..lf].strip_suffix(b"\r") {
            Some(line) => Line::Complete(line),
            None => Line::Bad,
        }
    }
}

/// An incomplete head: wait for more unless it already fills the buffer.
fn partial(buf: &[u8]) -> Parse {
    if buf.len() >= MAX_REQUEST {
        Parse::Reject(BAD_REQUEST)
    } else {
        Parse::Partial
    }
}

/// `METHOD SP request-target SP HTTP/1.x` (without its CRLF): the method
/// and the minor version `x`.
fn request_line(line: &[u8]) -> Option<(&[u8], u8)> {
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if method.is_empty()
        || !method.iter().all(|&b| is_tchar(b))
        || target.is_empty()
        || !target.iter().all(u8::is_ascii_graphic)
    {
        return None;
    }
    match version {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if minor.is_ascii_digit() => {
            Some((method, minor - b'0'))
        }
        _ => None,
    }
}

/// A `tchar` of RFC 9110's `token` (methods, field names).
fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// [`is_tchar`] as a table: one load per byte of every field name.
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(c, b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'^'..=b'`' | b'|' | b'~');
        b += 1;
    }
    table
};

/// A decimal `Content-Length`; `None` if it is not one or overflows.
fn digits(s: &[u8]) -> Option<usize> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0usize, |n, &b| {
        b.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(usize::from(b - b'0')))
            .flatten()
    })
}

/// `s` without the optional whitespace (spaces, tabs) around it.
fn trim(s: &[u8]) -> &[u8] {
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !ows(b)).map_or(start, |e| e + 1);
    &s[start..end]
}

/// Closes after an error response without resetting the connection: a
/// close with unread bytes in the socket sends RST, which can discard the
/// response before the client reads it. So: send FIN, then read and drop
/// what still comes (bounded by [`LINGER`] and [`LINGER_BYTES`]) until
/// the client closes too.
fn linger_close(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<()> {
    stream.shutdown(Shutdown::Write)?;
    let deadline = Instant::now() + LINGER;
    let mut drained = 0;
    while drained < LINGER_BYTES {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        stream.set_read_timeout(Some(left));
        match stream.read(buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    Ok(())
}

fn parse() -> (std::net::SocketAddr, usize, Backend, usize) {
    let mut addr = "127.0.0.1:8080".parse().expect("the default address");
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
            "--addr" => addr = v.parse().unwrap_or_else(|_| usage("--addr HOST:PORT")),
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
    use super::*;

    /// The one request at the start of `buf`, which must be complete.
    fn request(buf: &[u8]) -> (usize, Conn, bool) {
        match parse_request(buf) {
            Parse::Request { len, conn, head } => (len, conn, head),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    fn conn(buf: &[u8]) -> Conn {
        let (len, conn, _) = request(buf);
        assert_eq!(len, buf.len());
        conn
    }

    #[test]
    fn http11_stays_open_unless_the_request_says_close() {
        assert_eq!(conn(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), Conn::Persistent);
        assert_eq!(conn(b"GET / HTTP/1.1\r\n\r\n"), Conn::Persistent);
        assert_eq!(
            conn(b"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"),
            Conn::Persistent
        );
        assert_eq!(
            conn(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"),
            Conn::Close
        );
        assert_eq!(
            conn(b"GET / HTTP/1.1\r\nconnection:CLOSE\r\n\r\n"),
            Conn::Close
        );
        assert_eq!(
            conn(b"GET / HTTP/1.1\r\nCONNECTION: \t TE , close \r\n\r\n"),
            Conn::Close
        );
        let mut out = Vec::new();
        let req = b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
        assert_eq!(answer(req, &mut out), (req.len(), Then::Close));
        assert_eq!(out, OK_CLOSE);
    }

    #[test]
    fn http10_is_closed_after_the_response_unless_it_asks_for_keep_alive() {
        assert_eq!(conn(b"GET / HTTP/1.0\r\n\r\n"), Conn::Close);
        assert_eq!(conn(b"GET / HTTP/1.0\r\nHost: a\r\n\r\n"), Conn::Close);
        assert_eq!(
            conn(b"GET / HTTP/1.0\r\nConnection: close\r\n\r\n"),
            Conn::Close
        );
        let mut out = Vec::new();
        let first = b"GET / HTTP/1.0\r\nUser-Agent: x\r\n\r\n";
        let req = [&first[..], b"GET / HTTP/1.0\r\n\r\n"].concat();
        // Nothing after the closing request is answered.
        assert_eq!(answer(&req, &mut out), (first.len(), Then::Close));
        assert_eq!(out, OK_CLOSE);
    }

    #[test]
    fn http10_keep_alive_stays_open_and_the_response_confirms_it() {
        // ApacheBench's `ab -k` request, verbatim.
        let ab = b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: 127.0.0.1:8080\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n";
        assert_eq!(conn(ab), Conn::KeepAlive);
        assert_eq!(
            conn(b"GET / HTTP/1.0\r\nconnection:   keep-alive  \r\n\r\n"),
            Conn::KeepAlive
        );
        assert_eq!(
            conn(b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"),
            Conn::Close
        );
        let mut out = Vec::new();
        let two = [&ab[..], &ab[..]].concat();
        assert_eq!(answer(&two, &mut out), (two.len(), Then::Read));
        assert_eq!(out, [OK_KEEP_ALIVE, OK_KEEP_ALIVE].concat());
        let text = String::from_utf8_lossy(OK_KEEP_ALIVE);
        assert!(text.contains("\r\nConnection: keep-alive\r\n"), "{text}");
    }

    #[test]
    fn a_malformed_request_line_gets_400_and_a_close() {
        for line in [
            &b"GARBAGE\r\n\r\n"[..],
            b"GARBAGE\r\n",
            b"\r\n\r\n",
            b"GET /\r\n\r\n",
            b"GET / HTTP/1.1 extra\r\n\r\n",
            b"GET  / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET / HTTP/1.x\r\n\r\n",
            b"GET / http/1.1\r\n\r\n",
            b"G(T / HTTP/1.1\r\n\r\n",
            b"GET /\x01 HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\n\n",
        ] {
            assert_eq!(
                parse_request(line),
                Parse::Reject(BAD_REQUEST),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        // Earlier requests in the batch are still answered, in order.
        let mut out = Vec::new();
        let batch = b"GET / HTTP/1.1\r\n\r\nGARBAGE\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(answer(batch, &mut out), (18, Then::Reject));
        assert_eq!(out, [OK, BAD_REQUEST].concat());
        assert!(BAD_REQUEST.starts_with(b"HTTP/1.1 400 "));
    }

    #[test]
    fn unparsable_headers_get_400() {
        for head in [
            &b"GET / HTTP/1.1\r\nHost a\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            b"GET / HTTP/1.1\r\n: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        ] {
            assert_eq!(
                parse_request(head),
                Parse::Reject(BAD_REQUEST),
                "{:?}",
                String::from_utf8_lossy(head)
            );
        }
        let te = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(parse_request(te), Parse::Reject(NOT_IMPLEMENTED));
    }

    #[test]
    fn a_head_or_body_over_the_buffer_is_refused() {
        let mut head = b"GET / HTTP/1.1\r\nX: ".to_vec();
        head.resize(MAX_REQUEST - 1, b'a');
        assert_eq!(parse_request(&head), Parse::Partial);
        head.push(b'a');
        assert_eq!(parse_request(&head), Parse::Reject(BAD_REQUEST));
        let big = format!("POST / HTTP/1.1\r\nContent-Length: {MAX_REQUEST}\r\n\r\n");
        assert_eq!(parse_request(big.as_bytes()), Parse::Reject(TOO_LARGE));
    }

    #[test]
    fn pipelined_requests_are_answered_in_one_batch() {
        let two = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n";
        let (first, c, _) = request(two);
        assert_eq!(c, Conn::Persistent);
        assert_eq!(conn(&two[first..]), Conn::Close);
        let mut out = Vec::new();
        assert_eq!(answer(two, &mut out), (two.len(), Then::Close));
        assert_eq!(out, [OK, OK_CLOSE].concat());

        // A body is skipped, and the next request follows it.
        let post = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\nGET";
        out.clear();
        assert_eq!(answer(post, &mut out), (post.len() - 3, Then::Read));
        assert_eq!(out, [OK, OK].concat());
    }

    #[test]
    fn a_request_split_across_reads_waits_for_its_end() {
        let req = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
        for cut in 0..req.len() {
            assert_eq!(
                parse_request(&req[..cut]),
                Parse::Partial,
                "{:?}",
                String::from_utf8_lossy(&req[..cut])
            );
            let mut out = Vec::new();
            assert_eq!(answer(&req[..cut], &mut out), (0, Then::Read));
            assert!(out.is_empty());
        }
        assert_eq!(conn(req), Conn::Persistent);
    }

    #[test]
    fn the_tchar_table_holds_exactly_rfc9110s_token_characters() {
        for b in 0..=255u8 {
            let tchar = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_tchar(b), tchar, "byte {b:#04x}");
        }
    }

    #[test]
    fn head_gets_the_headers_without_the_body() {
        let (_, _, head) = request(b"HEAD / HTTP/1.1\r\n\r\n");
        assert!(head);
        let mut out = Vec::new();
        let req = b"HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(answer(req, &mut out), (req.len(), Then::Read));
        assert_eq!(out, [&OK[..OK.len() - BODY.len()], OK].concat());
        assert!(OK.ends_with(b"\r\n\r\nHello, World!"));
    }
}
