//! `examples/http_hello` against real HTTP/1.x clients: ApacheBench in
//! keep-alive mode (`ab -k`: HTTP/1.0 with `Connection: Keep-Alive`) and
//! without it (HTTP/1.0, a connection per request), h2load over HTTP/1.1
//! (`h2load --h1`), and raw requests that must be refused with `400`.
//!
//! The server is the example binary itself, started on a free loopback
//! port (127.0.0.1:0; it prints the address it got) and killed when the
//! test ends. The test builds it with `cargo build --example http_hello`,
//! into this test's own target directory and profile: an integration test
//! gets no `CARGO_BIN_EXE_*` for an example, and `cargo test --test
//! http_clients` alone builds no examples. Every client runs under a
//! deadline, so no test hangs.
//!
//! Needs `ab` (Debian: apache2-utils) and `h2load` (nghttp2-client);
//! `.ci/run` installs both. Without them these tests fail, saying so.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Requests each load run makes, and over how many connections.
const REQUESTS: u32 = 2000;
const CONNECTIONS: u32 = 10;

/// The longest a client may run before the test kills it and fails.
const CLIENT_DEADLINE: Duration = Duration::from_secs(60);

/// The example's binary, built once per test process.
fn example_binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        // This test is target/<profile>/deps/http_clients-<hash>; the
        // example goes to target/<profile>/examples/http_hello.
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target/<profile>/deps");
        let target_dir = profile_dir.parent().expect("target/");
        let profile = profile_dir
            .file_name()
            .and_then(|p| p.to_str())
            .expect("a profile directory name");
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args([
                "build",
                "--quiet",
                "--example",
                "http_hello",
                "--manifest-path",
            ])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir);
        match profile {
            "debug" => {}
            "release" => {
                cargo.arg("--release");
            }
            other => {
                cargo.args(["--profile", other]);
            }
        }
        let out = cargo
            .output()
            .expect("run cargo build --example http_hello");
        assert!(
            out.status.success(),
            "cargo build --example http_hello failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let binary = profile_dir.join("examples").join("http_hello");
        assert!(
            binary.exists(),
            "{} is missing after cargo build",
            binary.display()
        );
        binary
    })
}

/// The example server on a free loopback port; killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(example_binary())
            .args(["--addr", "127.0.0.1:0", "--threads", "2"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start http_hello");
        let stdout = child.stdout.take().expect("its stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Keep reading: a closed pipe would fail the server's later
            // prints.
            for _ in lines {}
        });
        let mut server = Server { child, port: 0 };
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Some(Ok(line))) => line,
            other => panic!("http_hello printed no first line within 20 s: {other:?}"),
        };
        // "http_hello on http://127.0.0.1:PORT/: ..."
        server.port = line
            .strip_prefix("http_hello on http://127.0.0.1:")
            .and_then(|rest| rest.split('/').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        stream
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `program` with `args` to its end (killed, failing the test, after
/// [`CLIENT_DEADLINE`]) and returns its stdout and stderr together.
fn run_client(program: &str, package: &str, args: &[&str]) -> String {
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{program}` ({e}): these tests need it \
                 (Debian: apt-get install {package}; .ci/run installs it)"
            )
        });
    let readers = [
        drain(child.stdout.take().expect("stdout")),
        drain(child.stderr.take().expect("stderr")),
    ];
    let deadline = Instant::now() + CLIENT_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the client") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`{program} {}` did not finish in {CLIENT_DEADLINE:?}",
                args.join(" ")
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    let [out, err] = readers.map(|r| r.join().expect("a pipe reader"));
    let text = String::from_utf8_lossy(&out).into_owned() + &String::from_utf8_lossy(&err);
    assert!(
        status.success(),
        "`{program} {}` exited with {status}:\n{text}",
        args.join(" "),
    );
    text
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// The number on ab's line `label: N`, e.g. `Complete requests:      2000`.
fn ab_field(output: &str, label: &str) -> Option<u64> {
    output
        .lines()
        .find_map(|l| l.strip_prefix(label)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// The number before `word` on h2load's line starting with `prefix`, e.g.
/// `succeeded` in `requests: 2000 total, ..., 2000 succeeded, 0 failed`.
fn h2load_field(output: &str, prefix: &str, word: &str) -> u64 {
    let line = output
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in h2load's output:\n{output}"));
    line[prefix.len()..]
        .split(',')
        .find_map(|part| {
            let mut it = part.split_whitespace();
            let n = it.next()?.parse().ok()?;
            (it.next()? == word).then_some(n)
        })
        .unwrap_or_else(|| panic!("no {word:?} count in {line:?}"))
}

/// ab's request counts in `output`: all `n` completed, none failed, all
/// 2xx.
fn assert_ab_all_ok(output: &str, n: u64) {
    assert_eq!(
        ab_field(output, "Complete requests"),
        Some(n),
        "ab:\n{output}"
    );
    assert_eq!(
        ab_field(output, "Failed requests"),
        Some(0),
        "ab:\n{output}"
    );
    // ab prints this line only when some response was not 2xx.
    assert_eq!(ab_field(output, "Non-2xx responses"), None, "ab:\n{output}");
}

#[test]
fn ab_keep_alive_gets_every_response_on_kept_alive_connections() {
    let server = Server::start();
    let (n, c) = (REQUESTS.to_string(), CONNECTIONS.to_string());
    // -s 5: a request that stalls (the response not confirming
    // keep-alive) fails the run after 5 s instead of ab's 30.
    let output = run_client(
        "ab",
        "apache2-utils",
        &["-k", "-s", "5", "-n", &n, "-c", &c, &server.url()],
    );
    assert_ab_all_ok(&output, u64::from(REQUESTS));
    assert_eq!(
        ab_field(&output, "Keep-Alive requests"),
        Some(u64::from(REQUESTS)),
        "ab:\n{output}"
    );
}

/// Plain `ab` sends HTTP/1.0 without keep-alive and reads each response
/// until EOF: a server that kept the connection open would stall every
/// request until `-s 5` fails it.
#[test]
fn ab_without_keep_alive_gets_every_response_and_a_close() {
    let server = Server::start();
    let c = CONNECTIONS.to_string();
    let output = run_client(
        "ab",
        "apache2-utils",
        &["-s", "5", "-n", "500", "-c", &c, &server.url()],
    );
    assert_ab_all_ok(&output, 500);
}

#[test]
fn h2load_http11_gets_every_response_with_2xx() {
    let server = Server::start();
    let (n, c) = (REQUESTS.to_string(), CONNECTIONS.to_string());
    let output = run_client(
        "h2load",
        "nghttp2-client",
        &["--h1", "-N", "5", "-n", &n, "-c", &c, &server.url()],
    );
    let n = u64::from(REQUESTS);
    for (word, expected) in [
        ("total", n),
        ("done", n),
        ("succeeded", n),
        ("failed", 0),
        ("errored", 0),
        ("timeout", 0),
    ] {
        assert_eq!(
            h2load_field(&output, "requests:", word),
            expected,
            "{word}:\n{output}"
        );
    }
    assert_eq!(
        h2load_field(&output, "status codes:", "2xx"),
        n,
        "h2load:\n{output}"
    );
}

/// Sends `request` on a fresh connection and reads until EOF, which must
/// come within the read timeout.
fn exchange(server: &Server, request: &[u8]) -> String {
    let mut stream = server.connect();
    stream.write_all(request).expect("send the request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap_or_else(|e| {
        panic!(
            "no EOF after the response ({e}); read so far: {:?}",
            String::from_utf8_lossy(&response)
        )
    });
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn a_garbage_request_line_gets_400_then_eof() {
    let server = Server::start();
    let response = exchange(&server, b"GARBAGE\r\n\r\n");
    assert!(response.starts_with("HTTP/1.1 400 "), "{response:?}");
    assert!(
        response.contains("\r\nConnection: close\r\n"),
        "{response:?}"
    );
}

#[test]
fn an_oversized_request_head_gets_400_then_eof() {
    let server = Server::start();
    let mut request = b"GET / HTTP/1.1\r\nX-Filler: ".to_vec();
    request.resize(200 * 1024, b'a');
    let response = exchange(&server, &request);
    assert!(response.starts_with("HTTP/1.1 400 "), "{response:?}");
}

#[test]
fn http10_keep_alive_response_says_so_and_the_connection_serves_again() {
    let server = Server::start();
    let mut stream = server.connect();
    let request = b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
    for round in 0..2 {
        stream.write_all(request).expect("send");
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                other => panic!("round {round}: {other:?} after {head:?}"),
            }
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        assert!(head.starts_with("HTTP/1.1 200 "), "{head:?}");
        assert!(
            head.to_ascii_lowercase()
                .contains("\r\nconnection: keep-alive\r\n"),
            "round {round}: {head:?}"
        );
        let mut body = [0u8; 13];
        stream.read_exact(&mut body).expect("the body");
        assert_eq!(&body, b"Hello, World!");
    }
}
