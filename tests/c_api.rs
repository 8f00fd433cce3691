//! The C API from C: compiles `include/jmpco.h`, the C examples,
//! `tests/c/api_test.c`, `tests/c/escape_test.c`, `tests/c/runtime_test.c`,
//! `tests/c/task_test.c`, `tests/c/chan_test.c` and `tests/c/fdio_test.c`
//! with the system C compiler (`$CC`, default `cc`), links them with both
//! the static and the shared library of this very build, runs them and
//! checks their output.
//!
//! The libraries: when cargo builds the integration tests it compiles the
//! library with every crate type (rlib, staticlib, cdylib) into
//! `target/<profile>/deps/`, next to this test's executable, so the C
//! programs link exactly the code under test. (Only `cargo build` copies them
//! up to `target/<profile>/`; that copy can be stale here.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What Rust's std needs from the system when linked statically (from
/// `cargo rustc --lib --crate-type staticlib -- --print native-static-libs`).
const STATIC_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];
const CFLAGS: &[&str] = &[
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
    "-O1",
    "-g",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>/deps`, where this build's libjmpco.a and .so are.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let dir = exe.parent().expect("the test's directory").to_path_buf();
    for lib in ["libjmpco.a", "libjmpco.so"] {
        assert!(
            dir.join(lib).exists(),
            "{} is missing: cargo should have built the staticlib and cdylib for this test \
             (crate-type in Cargo.toml); try `cargo build` and rerun",
            dir.join(lib).display()
        );
    }
    dir
}

/// Where the C programs are written: `target/<profile>/c-tests/`.
fn out_dir() -> PathBuf {
    let dir = lib_dir()
        .parent()
        .expect("target/<profile>")
        .join("c-tests");
    std::fs::create_dir_all(&dir).expect("create the C output directory");
    dir
}

fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_owned())
}

#[derive(Clone, Copy, Debug)]
enum Link {
    Static,
    Shared,
}

/// Compiles `source` (relative to the crate root) into `name`, linked with
/// the library as `link` says; panics with the compiler's output on failure.
fn build(source: &str, name: &str, link: Link) -> PathBuf {
    let libs = lib_dir();
    let exe = out_dir().join(name);
    let mut cmd = Command::new(cc());
    cmd.args(CFLAGS)
        .arg("-I")
        .arg(root().join("include"))
        .arg("-o")
        .arg(&exe)
        .arg(root().join(source));
    match link {
        Link::Static => {
            cmd.arg(libs.join("libjmpco.a")).args(STATIC_LIBS);
        }
        Link::Shared => {
            cmd.arg("-L")
                .arg(&libs)
                .arg("-l:libjmpco.so")
                // DT_RPATH (not RUNPATH): searched before LD_LIBRARY_PATH,
                // which cargo points at target/<profile>/, where a stale
                // libjmpco.so from an earlier `cargo build` may lie.
                .arg("-Wl,--disable-new-dtags")
                .arg(format!("-Wl,-rpath,{}", libs.display()));
        }
    }
    let output = cmd.output().expect("run the C compiler ($CC or cc)");
    assert!(
        output.status.success(),
        "compiling {source} ({link:?}) failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    exe
}

/// Runs `exe` and returns its output, asserting it exited 0.
fn run(exe: &Path, args: &[&str]) -> String {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(exe)
        .args(args)
        .output()
        .expect("run the C program");
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    assert!(
        status.success(),
        "{} failed ({status}):\n{stdout}\n{}",
        exe.display(),
        String::from_utf8_lossy(&stderr)
    );
    stdout
}

/// Runs the compiler on the header alone, as `lang` with `std`.
fn check_header(compiler: &str, lang: &str, std: &str) {
    let output = Command::new(compiler)
        .args(["-x", lang, std, "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg("-fsyntax-only")
        .arg(root().join("include/jmpco.h"))
        .output()
        .unwrap_or_else(|e| panic!("run {compiler}: {e}"));
    assert!(
        output.status.success(),
        "include/jmpco.h does not compile as {lang} {std}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn header_compiles_cleanly_as_c11_c99_and_cxx() {
    check_header(&cc(), "c", "-std=c11");
    check_header(&cc(), "c", "-std=c99");
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".to_owned());
    // A machine with gcc alone has no C++ front end; `.ci/run` installs g++,
    // so CI always runs the C++ half.
    if Command::new(&cxx).arg("--version").output().is_err() {
        eprintln!("note: no C++ compiler ({cxx}); skipping the C++ checks (.ci/run installs g++)");
        return;
    }
    check_header(&cxx, "c++", "-std=c++17");
    check_header(&cxx, "c++", "-std=c++11");
}

#[test]
fn header_has_guard_extern_c_and_banner() {
    let header = std::fs::read_to_string(root().join("include/jmpco.h")).expect("read header");
    assert!(header.contains("DO NOT EDIT"));
    assert!(header.contains("#ifndef JMPCO_H\n#define JMPCO_H"));
    assert!(header.contains("#ifdef __cplusplus\nextern \"C\" {"));
}

const GENERATOR_OUTPUT: &str = "\
sjlj    : 0 1 1 2 3 5 8 13 21 34, then TERM returning 88
ucontext: 0 1 1 2 3 5 8 13 21 34, then TERM returning 88
";

#[test]
fn generator_example_runs_linked_statically() {
    let exe = build("examples/c/generator.c", "generator", Link::Static);
    assert_eq!(run(&exe, &[]), GENERATOR_OUTPUT);
}

#[test]
fn generator_example_runs_linked_dynamically() {
    let exe = build("examples/c/generator.c", "generator-shared", Link::Shared);
    assert_eq!(run(&exe, &[]), GENERATOR_OUTPUT);
}

/// Builds the counted-checks program `tests/c/<stem>.c` (see
/// `tests/c/counted_checks.h`) linked as `link`, runs it, and checks that
/// its last line is `<stem>: N passed, 0 failed`; its output, for more
/// checks.
fn counted_checks_pass(stem: &str, link: Link) -> String {
    let name = match link {
        Link::Static => stem.to_owned(),
        Link::Shared => format!("{stem}-shared"),
    };
    let exe = build(&format!("tests/c/{stem}.c"), &name, link);
    let stdout = run(&exe, &[]);
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!("{stem}: ")) && last.ends_with(" passed, 0 failed"),
        "{stdout}"
    );
    stdout
}

#[test]
fn api_test_passes_linked_statically() {
    counted_checks_pass("api_test", Link::Static);
}

#[test]
fn api_test_passes_linked_dynamically() {
    counted_checks_pass("api_test", Link::Shared);
}

// `escape_test` runs apart from `api_test`: the coroutines its bodies jump
// out of stay behind, `JMPCO_EXEC` for good, by design.
#[test]
fn a_body_that_longjmps_out_leaves_its_coroutine_ebusy_linked_statically() {
    counted_checks_pass("escape_test", Link::Static);
}

#[test]
fn a_body_that_longjmps_out_leaves_its_coroutine_ebusy_linked_dynamically() {
    counted_checks_pass("escape_test", Link::Shared);
}

#[test]
fn runtime_tier_test_passes_linked_statically() {
    counted_checks_pass("runtime_test", Link::Static);
}

#[test]
fn runtime_tier_test_passes_linked_dynamically() {
    counted_checks_pass("runtime_test", Link::Shared);
}

#[test]
fn task_handles_test_passes_linked_statically() {
    counted_checks_pass("task_test", Link::Static);
}

#[test]
fn task_handles_test_passes_linked_dynamically() {
    counted_checks_pass("task_test", Link::Shared);
}

/// `chan_test` also says that its big exchange ran at full size.
fn check_chan_test(link: Link) {
    let stdout = counted_checks_pass("chan_test", link);
    assert!(
        stdout.contains("chan_test: 10000 coroutines passed 1000000 messages"),
        "the big exchange ran at full size:\n{stdout}"
    );
}

#[test]
fn channel_test_passes_linked_statically() {
    check_chan_test(Link::Static);
}

#[test]
fn channel_test_passes_linked_dynamically() {
    check_chan_test(Link::Shared);
}

#[test]
fn registered_io_test_passes_linked_statically() {
    counted_checks_pass("fdio_test", Link::Static);
}

#[test]
fn registered_io_test_passes_linked_dynamically() {
    counted_checks_pass("fdio_test", Link::Shared);
}

/// The fan-out example's summary: 12 jobs, two of which hang. The numbers
/// come from its accounting (each job counted once as done, abandoned by a
/// cancelled worker, or never started), not from a fixed string it prints.
fn check_fan_out(stdout: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(
        lines[0], "fan_out: 12 jobs, 4 workers, deadline 400 ms: 10 done in time",
        "{stdout}"
    );
    assert_eq!(
        lines[1], "fan_out: cancelled 2 busy workers; abandoned jobs: 2 5",
        "{stdout}"
    );
    let counts: Vec<u32> = lines[2]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|n| !n.is_empty())
        .map(|n| n.parse().expect("a count"))
        .collect();
    assert_eq!(
        counts,
        [12, 10, 2, 0],
        "jobs, done, abandoned, unstarted: {stdout}"
    );
    assert!(lines[2].ends_with(": each counted once"), "{stdout}");
}

#[test]
fn fan_out_example_cancels_its_stragglers_linked_statically() {
    let exe = build("examples/c/fan_out.c", "fan_out", Link::Static);
    check_fan_out(&run(&exe, &[]));
}

#[test]
fn fan_out_example_cancels_its_stragglers_linked_dynamically() {
    let exe = build("examples/c/fan_out.c", "fan_out-shared", Link::Shared);
    check_fan_out(&run(&exe, &[]));
}

#[test]
fn roundtrip_example_measures_both_backends() {
    let exe = build("examples/c/roundtrip.c", "roundtrip", Link::Static);
    let stdout = run(&exe, &["1000"]);
    for backend in ["sjlj", "ucontext"] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(backend))
            .unwrap_or_else(|| panic!("no {backend} line in:\n{stdout}"));
        let ns: f64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no figure in {line:?}"));
        assert!(ns > 0.0, "{line}");
    }
}

#[test]
fn chan_roundtrip_example_measures_both_backends() {
    let exe = build(
        "examples/c/chan_roundtrip.c",
        "chan_roundtrip",
        Link::Static,
    );
    let stdout = run(&exe, &["1000"]);
    for backend in ["asm", "sjlj"] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(backend))
            .unwrap_or_else(|| panic!("no {backend} line in:\n{stdout}"));
        let ns: f64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no figure in {line:?}"));
        assert!(ns > 0.0, "{line}");
    }
}

/// `scripts/install-c.sh` into a scratch prefix, then the generator built the
/// way a C developer would: `cc generator.c $(pkg-config --cflags --libs jmpco)`.
#[test]
fn installed_pkg_config_file_builds_the_generator() {
    if Command::new("pkg-config")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("note: pkg-config is not installed; skipping (.ci/run installs it)");
        return;
    }
    let prefix = out_dir().join("prefix");
    let _ = std::fs::remove_dir_all(&prefix);
    let status = Command::new(root().join("scripts/install-c.sh"))
        .arg(&prefix)
        .arg(lib_dir())
        .status()
        .expect("run scripts/install-c.sh");
    assert!(status.success(), "scripts/install-c.sh failed");
    let pc_path = prefix.join("lib/pkgconfig");
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "jmpco"])
        .env("PKG_CONFIG_PATH", &pc_path)
        .output()
        .expect("run pkg-config");
    assert!(flags.status.success(), "pkg-config does not find jmpco");
    let flags = String::from_utf8(flags.stdout).expect("UTF-8 flags");
    let exe = out_dir().join("generator-pkg-config");
    let output = Command::new(cc())
        .args(CFLAGS)
        .arg("-o")
        .arg(&exe)
        .arg(root().join("examples/c/generator.c"))
        .args(flags.split_whitespace())
        .output()
        .expect("run the C compiler");
    assert!(
        output.status.success(),
        "cc generator.c {flags} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = Command::new(&exe)
        .env("LD_LIBRARY_PATH", prefix.join("lib"))
        .output()
        .expect("run the generator");
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), GENERATOR_OUTPUT);
}

/// A child process killed (and reaped) when dropped: a failing test never
/// leaves a server behind or hangs on it.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Bytes that make a misplaced or repeated chunk visible.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(31).wrapping_add(u32::from(seed)) as u8)
        .collect()
}

/// One client: sends `data` from a writer thread while reading the echo,
/// then half-closes; returns what came back before the server's EOF.
fn echo_round(port: u16, data: Vec<u8>) -> Vec<u8> {
    use std::io::{Read, Write};
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let timeout = Some(std::time::Duration::from_secs(10));
    stream.set_read_timeout(timeout).expect("read timeout");
    stream.set_write_timeout(timeout).expect("write timeout");
    let mut writer = stream.try_clone().expect("clone");
    let sender = std::thread::spawn(move || {
        // Uneven pieces: the server sees reads of every size.
        for piece in data.chunks(7919) {
            writer.write_all(piece).expect("send");
        }
        writer
            .shutdown(std::net::Shutdown::Write)
            .expect("half-close");
    });
    let mut echoed = Vec::new();
    (&stream).read_to_end(&mut echoed).expect("read the echo");
    sender.join().expect("the writer thread");
    echoed
}

/// A client that sends, then resets the connection (SO_LINGER 0) without
/// reading: the server must shrug it off.
fn reset_client(port: u16) {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.write_all(&pattern(200_000, 9)).expect("send");
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a live socket and a live linger struct of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::from_ref(&linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER");
    drop(stream); // RST
}

/// Starts `echo_server 0 --once N`, serves concurrent clients with streams
/// of 0 B to 1 MiB (plus one that resets), checks the echo byte for byte,
/// and expects the server to exit 0 by itself.
fn check_echo_server(exe: &Path) {
    use std::io::BufRead;
    use std::time::{Duration, Instant};
    const SIZES: &[usize] = &[0, 1, 512, 4096, 65_537, 300_000, 1 << 20, 1 << 20];
    let clients = SIZES.len() + 1;
    let mut child = Child(
        Command::new(exe)
            .args(["0", "--once", &clients.to_string()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start echo_server"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = line_tx.send(line);
    });
    let line = line_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("echo_server printed no address within 10 s");
    let port: u16 = line
        .trim()
        .strip_prefix("listening on 127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    assert_ne!(port, 0);

    let handles: Vec<_> = SIZES
        .iter()
        .enumerate()
        .map(|(i, &size)| {
            std::thread::spawn(move || {
                let data = pattern(size, i as u8);
                let echoed = echo_round(port, data.clone());
                assert_eq!(echoed.len(), data.len(), "client {i}: length");
                assert!(echoed == data, "client {i}: the echo differs");
            })
        })
        .collect();
    reset_client(port);
    for h in handles {
        h.join().expect("a client failed");
    }

    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait for echo_server") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "echo_server did not exit after its {clients} clients"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.0.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    assert!(
        status.success(),
        "echo_server exited with {status}:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("served {clients} clients")),
        "{stderr}"
    );
}

#[test]
fn echo_server_example_echoes_concurrent_clients_linked_statically() {
    check_echo_server(&build(
        "examples/c/echo_server.c",
        "echo_server",
        Link::Static,
    ));
}

#[test]
fn echo_server_example_echoes_concurrent_clients_linked_dynamically() {
    check_echo_server(&build(
        "examples/c/echo_server.c",
        "echo_server-shared",
        Link::Shared,
    ));
}
