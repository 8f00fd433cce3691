//! What every http contestant does with the bytes a connection brings: one
//! parser and one set of answers, shared by the coroutine, tokio, sync and
//! thread-pool hello servers, so that they answer every request alike and
//! differ only in how they wait for bytes.
//!
//! The rules, HTTP/1.x's for a server that answers every request with
//! `Hello, world!`:
//!
//! * A request is `METHOD SP target SP HTTP/1.x`, then `name: value`
//!   header lines, each ended by CRLF, then an empty line. It carries no
//!   body: hello clients send none, and one with a non-zero
//!   `Content-Length` or any `Transfer-Encoding` is refused.
//! * An HTTP/1.1 connection stays open unless the request says
//!   `Connection: close`; an HTTP/1.0 one closes after the response unless
//!   the request says `Connection: keep-alive`, and then the response says
//!   it too. The response to a closing request says `Connection: close`.
//! * TCP is a byte stream, so a read may bring half a request or several
//!   (pipelining): every complete request in the buffer is answered, the
//!   answers go out in one write, and a partial request waits for the next
//!   read.
//! * Anything else (a bad request line, a header line without a colon, a
//!   bare LF, a head that does not fit the [`BUFFER`]) gets [`BAD_REQUEST`]
//!   and the connection closes, after the answers to the requests before
//!   it.
//! * A close does not linger: what the client sent after the closing
//!   request is dropped unanswered, and if some of it is still unread in
//!   the socket the kernel may reset the connection instead of closing it
//!   (the benches' clients never send past a close; the tests read the
//!   answer, then the end of the stream or the reset).
//!
//! A server owns one [`Session`] per connection: it reads into
//! [`Session::spare`], hands the count to [`Session::received`], writes
//! what that returns and closes when it says [`Then::Close`] (the last
//! answer was the final one: `Connection: close`, an HTTP/1.0 request
//! without keep-alive, or a bad request).

pub use crate::server::Then;

/// The answer on a connection that stays open (HTTP/1.1's default): what
/// wrk and the instruction counts' client get.
pub const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";

/// The answer to an HTTP/1.0 request that asked for keep-alive (an
/// HTTP/1.0 client otherwise reads until the server closes).
pub const RESPONSE_KEEP_ALIVE: &[u8] = b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";

/// The answer before the server closes the connection.
pub const RESPONSE_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";

/// The answer to what is not a hello request; the connection then closes.
pub const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// Bytes of a connection's receive buffer: the most a request head (and a
/// partial one behind it) may take.
pub const BUFFER: usize = 4096;

/// One connection's buffers: the bytes read and not yet answered, and the
/// answers of the last read.
#[derive(Debug)]
pub struct Session {
    buf: Vec<u8>,
    filled: usize,
    out: Vec<u8>,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    /// An empty session with a [`BUFFER`]-byte receive buffer.
    pub fn new() -> Session {
        Session {
            buf: vec![0; BUFFER],
            filled: 0,
            out: Vec::new(),
        }
    }

    /// Where the next read goes; never empty while the connection stays
    /// open (a head that fills the buffer is refused).
    pub fn spare(&mut self) -> &mut [u8] {
        &mut self.buf[self.filled..]
    }

    /// Whether no partial request is waiting for more bytes.
    pub fn is_empty(&self) -> bool {
        self.filled == 0
    }

    /// After a read of `n` bytes into [`spare`](Self::spare): answers every
    /// complete request, keeps a partial one, and returns the answers to
    /// write (empty when the read completed none) and what comes next.
    pub fn received(&mut self, n: usize) -> (&[u8], Then) {
        self.filled += n;
        self.out.clear();
        let (used, then) = answer(&self.buf[..self.filled], &mut self.out);
        self.buf.copy_within(used..self.filled, 0);
        self.filled -= used;
        (&self.out, then)
    }
}

/// Appends to `out` the answers to every complete request at the start of
/// `buf`; returns the bytes they took and what comes next. A partial
/// request of [`BUFFER`] bytes or more is refused: it can never complete.
pub fn answer(buf: &[u8], out: &mut Vec<u8>) -> (usize, Then) {
    let mut used = 0;
    loop {
        match parse(&buf[used..]) {
            Parse::Request { len, conn } => {
                out.extend_from_slice(conn.response());
                used += len;
                if conn == Conn::Close {
                    return (used, Then::Close);
                }
            }
            Parse::Partial if buf.len() - used < BUFFER => return (used, Then::Read),
            Parse::Partial | Parse::Bad => {
                out.extend_from_slice(BAD_REQUEST);
                return (buf.len(), Then::Close);
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
    /// answer says so.
    KeepAlive,
    /// Closed after the answer.
    Close,
}

impl Conn {
    fn response(self) -> &'static [u8] {
        match self {
            Conn::Persistent => RESPONSE,
            Conn::KeepAlive => RESPONSE_KEEP_ALIVE,
            Conn::Close => RESPONSE_CLOSE,
        }
    }
}

/// What the start of a buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Parse {
    /// A whole request of `len` bytes.
    Request { len: usize, conn: Conn },
    /// Only the start of one.
    Partial,
    /// Not a hello request.
    Bad,
}

/// The request at the start of `buf`: one pass, a line at a time, each
/// line checked once its CRLF has arrived, so garbage is refused without
/// waiting for a whole head. Written for the instruction counts: a hello
/// request (request line, `Host`) costs a few hundred instructions, most
/// of them finding the line ends eight bytes at a time ([`find_lf`]).
fn parse(buf: &[u8]) -> Parse {
    let mut at = 0;
    let minor = match next_line(buf, &mut at) {
        None => return Parse::Partial,
        Some(line) => match line.and_then(request_line) {
            Some(minor) => minor,
            None => return Parse::Bad,
        },
    };
    let (mut close, mut keep_alive) = (false, false);
    loop {
        let field = match next_line(buf, &mut at) {
            None => return Parse::Partial,
            Some(None) => return Parse::Bad,
            Some(Some([])) => break, // the end of the head
            Some(Some(field)) => field,
        };
        // A token, then the colon: no space before it (which also refuses
        // obsolete folding).
        let colon = field.iter().position(|&b| !is_tchar(b));
        let Some(colon) = colon.filter(|&c| c > 0 && field[c] == b':') else {
            return Parse::Bad;
        };
        let (name, value) = (&field[..colon], &field[colon + 1..]);
        if name.eq_ignore_ascii_case(b"connection") {
            for option in value.split(|&b| b == b',').map(trim) {
                close |= option.eq_ignore_ascii_case(b"close");
                keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if (name.eq_ignore_ascii_case(b"content-length") && trim(value) != b"0")
            || name.eq_ignore_ascii_case(b"transfer-encoding")
        {
            return Parse::Bad; // a body: no hello request
        }
    }
    let conn = match (close, minor, keep_alive) {
        (true, _, _) | (false, 0, false) => Conn::Close,
        (false, 0, true) => Conn::KeepAlive,
        (false, _, _) => Conn::Persistent,
    };
    Parse::Request { len: at, conn }
}

/// The line of `buf` that starts at `at`, without its CRLF, and `at`
/// moved past it: `None` while its LF has not arrived, `Some(None)` for a
/// line ended by a bare LF.
fn next_line<'a>(buf: &'a [u8], at: &mut usize) -> Option<Option<&'a [u8]>> {
    let rest = &buf[*at..];
    let lf = find_lf(rest)?;
    *at += lf + 1;
    Some(rest[..lf].strip_suffix(b"\r"))
}

/// The first LF of `s`, eight bytes at a time: a word XORed with eight LFs
/// has a zero byte where `s` has an LF, and `(w - 0x01..01) & !w &
/// 0x80..80` marks the lowest zero byte of `w` exactly (a borrow can only
/// mark bytes above it).
fn find_lf(s: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const LFS: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let mut words = s.chunks_exact(8);
    for (i, chunk) in words.by_ref().enumerate() {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(chunk);
        let w = u64::from_le_bytes(bytes) ^ LFS;
        let found = w.wrapping_sub(ONES) & !w & HIGHS;
        if found != 0 {
            return Some(8 * i + found.trailing_zeros() as usize / 8);
        }
    }
    let tail = words.remainder();
    let at = s.len() - tail.len();
    tail.iter().position(|&b| b == b'\n').map(|p| at + p)
}

/// `METHOD SP target SP HTTP/1.x` (without its CRLF): the minor version.
fn request_line(line: &[u8]) -> Option<u8> {
    let method = line.iter().position(|&b| !is_tchar(b))?;
    if method == 0 || line[method] != b' ' {
        return None;
    }
    let rest = &line[method + 1..];
    let target = rest.iter().position(|&b| !b.is_ascii_graphic())?;
    if target == 0 || rest[target] != b' ' {
        return None;
    }
    match &rest[target + 1..] {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if minor.is_ascii_digit() => {
            Some(minor - b'0')
        }
        _ => None,
    }
}

/// A `tchar` of RFC 9110's `token` (methods, field names).
fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// [`is_tchar`] as a table: one load per byte.
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

/// `s` without the optional whitespace (spaces, tabs) around it.
fn trim(s: &[u8]) -> &[u8] {
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !ows(b)).map_or(start, |e| e + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

    fn answered(buf: &[u8]) -> (Vec<u8>, usize, Then) {
        let mut out = Vec::new();
        let (used, then) = answer(buf, &mut out);
        (out, used, then)
    }

    #[test]
    fn pipelined_requests_are_answered_together_and_a_partial_one_waits() {
        let buf = [GET, GET, b"GET / HT"].concat();
        let (out, used, then) = answered(&buf);
        assert_eq!(out, [RESPONSE, RESPONSE].concat());
        assert_eq!(&buf[used..], b"GET / HT");
        assert_eq!(then, Then::Read);
        assert_eq!(answered(b""), (Vec::new(), 0, Then::Read));
    }

    #[test]
    fn http11_stays_open_unless_the_request_says_close() {
        let close = b"GET / HTTP/1.1\r\nConnection: keep-alive, Close \r\n\r\n";
        let buf = [close, GET].concat();
        // The requests behind a closing one are not answered.
        assert_eq!(
            answered(&buf),
            (RESPONSE_CLOSE.to_vec(), close.len(), Then::Close)
        );
        let upper = b"GET / HTTP/1.1\r\nCONNECTION:\tclose\r\n\r\n";
        assert_eq!(answered(upper).2, Then::Close);
    }

    #[test]
    fn http10_closes_unless_it_asks_for_keep_alive() {
        let plain = b"GET / HTTP/1.0\r\n\r\n";
        assert_eq!(
            answered(plain),
            (RESPONSE_CLOSE.to_vec(), plain.len(), Then::Close)
        );
        let kept: &[u8] = b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
        let buf = [kept, kept].concat();
        assert_eq!(
            answered(&buf),
            (
                [RESPONSE_KEEP_ALIVE, RESPONSE_KEEP_ALIVE].concat(),
                buf.len(),
                Then::Read
            )
        );
        let both = b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n";
        assert_eq!(answered(both).0, RESPONSE_CLOSE);
    }

    #[test]
    fn what_is_no_hello_request_gets_400_and_a_close() {
        for bad in [
            &b"HELLO\r\n"[..],
            b"GET /\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET  / HTTP/1.1\r\n\r\n",
            b"G(T / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\n\n",
            b"GET / HTTP/1.1\r\nHost a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            b"GET / HTTP/1.1\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            let (out, used, then) = answered(bad);
            assert_eq!(
                (out.as_slice(), used, then),
                (BAD_REQUEST, bad.len(), Then::Close),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        // The requests before the bad one are answered first.
        let buf = [GET, b"nonsense\r\n"].concat();
        assert_eq!(answered(&buf).0, [RESPONSE, BAD_REQUEST].concat());
        // An empty body is no body.
        let empty = b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(answered(empty).0, RESPONSE);
    }

    #[test]
    fn a_head_that_fills_the_buffer_is_refused() {
        let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long.resize(BUFFER - 1, b'a');
        assert_eq!(answered(&long).2, Then::Read, "one byte short still waits");
        long.push(b'a');
        assert_eq!(answered(&long), (BAD_REQUEST.to_vec(), BUFFER, Then::Close));
    }

    #[test]
    fn the_first_lf_is_found_wherever_it_is() {
        for len in 0..40 {
            let none = vec![b'a'; len];
            assert_eq!(find_lf(&none), None, "{len}");
            for at in 0..len {
                let mut s = none.clone();
                s[at] = b'\n';
                // A second LF and bytes just above and below '\n' after it.
                if at + 1 < len {
                    s[at + 1] = b'\n' + 1;
                }
                if len > at + 2 {
                    s[len - 1] = b'\n';
                }
                assert_eq!(find_lf(&s), Some(at), "{len} {at}");
            }
        }
        // Bytes that differ from an LF by one bit, in a whole word and in
        // the tail.
        let near = b"\x0b\x09\x8a\x0e\x02\x1a\x4a\x2a\x0b\x8a\x0a";
        assert_eq!(find_lf(near), Some(10));
        assert_eq!(find_lf(&near[..10]), None);
    }

    #[test]
    fn a_session_keeps_the_partial_request_across_reads() {
        let mut s = Session::new();
        let (head, tail) = GET.split_at(10);
        s.spare()[..head.len()].copy_from_slice(head);
        assert_eq!(s.received(head.len()), (&[][..], Then::Read));
        assert!(!s.is_empty());
        let rest = [tail, GET].concat();
        s.spare()[..rest.len()].copy_from_slice(&rest);
        assert_eq!(
            s.received(rest.len()),
            (&[RESPONSE, RESPONSE].concat()[..], Then::Read)
        );
        assert!(s.is_empty());
        assert_eq!(s.spare().len(), BUFFER);
    }

    #[test]
    fn the_answers_differ_only_in_their_connection_header() {
        let strip = |r: &[u8], header: &str| {
            String::from_utf8_lossy(r)
                .replacen(header, "", 1)
                .into_bytes()
        };
        assert_eq!(
            strip(RESPONSE_KEEP_ALIVE, "Connection: keep-alive\r\n"),
            RESPONSE
        );
        assert_eq!(strip(RESPONSE_CLOSE, "Connection: close\r\n"), RESPONSE);
    }
}
