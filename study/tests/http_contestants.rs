//! Every http contestant, started in this process on loopback, answers
//! alike: a request, a pipelined pair in one write, a request split across
//! reads, HTTP/1.0 with and without keep-alive, `Connection: close`, and a
//! malformed request with 400 and a close; and it goes on serving other
//! connections after closing one. Every read has a time limit, so a server
//! that keeps a connection open it should close fails the test instead of
//! hanging it.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use jmpco_study::http::{self, request};
use jmpco_study::server::{Running, ServeConfig, Server};

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

fn start(server: &dyn Server) -> (SocketAddr, Box<dyn Running>) {
    let config = ServeConfig {
        size: 64,
        threads: 2,
    };
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let started = server.start(loopback, &config).expect("started");
    (started.addr, started.running)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connected");
    s.set_nodelay(true).expect("nodelay");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s
}

/// Reads exactly `expected.len()` bytes and checks them.
fn expect(s: &mut TcpStream, expected: &[u8], who: &str) {
    let mut got = vec![0; expected.len()];
    s.read_exact(&mut got)
        .unwrap_or_else(|e| panic!("{who}: {e} reading {:?}", String::from_utf8_lossy(expected)));
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected),
        "{who}"
    );
}

/// The server closed: the next read finds the end of the stream (a reset
/// counts too), not more bytes and not the time limit.
fn expect_closed(s: &mut TcpStream, who: &str) {
    let mut byte = [0; 1];
    match s.read(&mut byte) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Ok(_) => panic!("{who}: more bytes after the last answer"),
        Err(e) => panic!("{who}: not closed ({e})"),
    }
}

/// Runs `check` against every http contestant, each in a server of its own.
fn each_server(check: impl Fn(SocketAddr, &str)) {
    for server in http::servers() {
        let (addr, running) = start(server);
        check(addr, server.name());
        running.stop();
    }
}

#[test]
fn the_notes_designs_serve_http() {
    let names: Vec<_> = http::servers().iter().map(|s| s.name()).collect();
    assert_eq!(names[0], "coro-sjlj", "{names:?}");
    for name in ["coro-asm", "sync", "thread-pool", "tokio"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
}

#[test]
fn every_http_contestant_answers_keep_alive_requests_one_after_another() {
    each_server(|addr, who| {
        let mut s = connect(addr);
        for _ in 0..3 {
            s.write_all(GET).expect("sent");
            expect(&mut s, http::RESPONSE, who);
        }
    });
}

#[test]
fn every_http_contestant_answers_pipelined_keep_alive_requests() {
    each_server(|addr, who| {
        let mut s = connect(addr);
        s.write_all(&[GET, GET].concat()).expect("sent");
        expect(&mut s, &[http::RESPONSE, http::RESPONSE].concat(), who);
        // The connection stays open for more.
        s.write_all(GET).expect("sent");
        expect(&mut s, http::RESPONSE, who);
    });
}

#[test]
fn every_http_contestant_answers_a_request_split_across_reads() {
    each_server(|addr, who| {
        let mut s = connect(addr);
        let request = [GET, b"GET / HT"].concat();
        let (head, tail) = request.split_at(20);
        s.write_all(head).expect("sent");
        std::thread::sleep(Duration::from_millis(20));
        s.write_all(tail).expect("sent");
        expect(&mut s, http::RESPONSE, who);
        // The second request's start waited for its end.
        s.write_all(b"TP/1.1\r\n\r\n").expect("sent");
        expect(&mut s, http::RESPONSE, who);
    });
}

#[test]
fn every_http_contestant_keeps_http10_open_only_when_asked() {
    each_server(|addr, who| {
        let mut s = connect(addr);
        let kept = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
        for _ in 0..2 {
            s.write_all(kept).expect("sent");
            expect(&mut s, request::RESPONSE_KEEP_ALIVE, who);
        }
        // Plain HTTP/1.0: the answer, then the close.
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").expect("sent");
        expect(&mut s, request::RESPONSE_CLOSE, who);
        expect_closed(&mut s, who);
    });
}

#[test]
fn every_http_contestant_closes_after_connection_close() {
    each_server(|addr, who| {
        let mut s = connect(addr);
        let close = b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
        // The request before it is answered; the one after it is not.
        s.write_all(&[GET, close, GET].concat()).expect("sent");
        expect(
            &mut s,
            &[http::RESPONSE, request::RESPONSE_CLOSE].concat(),
            who,
        );
        expect_closed(&mut s, who);
    });
}

#[test]
fn every_http_contestant_answers_a_malformed_request_with_400_and_a_close() {
    each_server(|addr, who| {
        let mut s = connect(addr);
        s.write_all(b"NOT HTTP AT ALL\r\n\r\n").expect("sent");
        expect(&mut s, request::BAD_REQUEST, who);
        expect_closed(&mut s, who);
        // After a good request on the same write, the good one is answered.
        let mut s = connect(addr);
        s.write_all(&[GET, b"GET / HTTP/1.1\nHost: a\n\n"].concat())
            .expect("sent");
        expect(
            &mut s,
            &[http::RESPONSE, request::BAD_REQUEST].concat(),
            who,
        );
        expect_closed(&mut s, who);
        // A head that never ends within the buffer is refused too.
        let mut s = connect(addr);
        let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long.resize(request::BUFFER, b'a');
        s.write_all(&long).expect("sent");
        expect(&mut s, request::BAD_REQUEST, who);
        expect_closed(&mut s, who);
        // The server goes on serving.
        let mut s = connect(addr);
        s.write_all(GET).expect("sent");
        expect(&mut s, http::RESPONSE, who);
    });
}

#[test]
fn the_http_thread_pool_reports_its_hand_offs() {
    let (addr, running) = start(&http::thread_pool::ThreadPool);
    let mut s = connect(addr);
    for _ in 0..5 {
        s.write_all(GET).expect("sent");
        expect(&mut s, http::RESPONSE, "thread-pool");
    }
    drop(s);
    let stats = running.stop();
    assert!(
        stats["dispatches"] + stats["reready"] >= 5,
        "{stats:?} for 5 answers"
    );
}
