//! Every echo contestant, started in this process, serves a short run of
//! the shared load client correctly; the client rejects a wrong echo.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use jmpco_study::echo::{self, client};
use jmpco_study::plan::Plan;
use jmpco_study::server::{Running, ServeConfig, Server, Started};

const SIZE: usize = 64;

fn start(server: &dyn Server) -> (std::net::SocketAddr, Box<dyn Running>) {
    let config = ServeConfig {
        size: SIZE,
        threads: 2,
    };
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let started = server.start(loopback, &config).expect("started");
    (started.addr, started.running)
}

fn short_load() -> client::Load {
    client::Load {
        size: SIZE,
        warmup: Duration::from_millis(20),
        duration: Duration::from_millis(300),
        threads: 2,
        cpus: Vec::new(),
    }
}

#[test]
fn every_echo_contestant_echoes_correctly_to_the_load_client() {
    for server in echo::servers() {
        let (addr, running) = start(server);
        let conns = client::connect(addr, 5).expect("connected");
        let (conns, report) = client::run(conns, &short_load())
            .unwrap_or_else(|e| panic!("{}: {e:#}", server.name()));
        assert!(report.requests > 0, "{} answered nothing", server.name());
        assert_eq!(report.latency_ns.len(), report.requests);
        // The connections come back idle and serve a second window.
        let (conns, again) = client::run(conns, &short_load()).expect("second window");
        assert!(again.requests > 0, "{}", server.name());
        drop(conns);
        running.stop();
    }
}

#[test]
fn thread_pool_reports_its_hand_offs() {
    let (addr, running) = start(&echo::thread_pool::ThreadPool);
    let conns = client::connect(addr, 3).expect("connected");
    let (conns, report) = client::run(conns, &short_load()).expect("run");
    drop(conns);
    let stats = running.stop();
    // Each answer came from a hand-off, or from a re-ready fd served in
    // the same hold.
    assert!(
        stats["dispatches"] + stats["reready"] >= report.requests,
        "{stats:?} for {} answers",
        report.requests
    );
}

#[test]
fn coro_sjlj_is_the_echo_baseline_and_every_backend_serves() {
    let names: Vec<_> = echo::servers().iter().map(|s| s.name()).collect();
    assert_eq!(names[0], "coro-sjlj", "{names:?}");
    for coro in ["coro-ucontext", "coro-asm", "coro-sjlj-mt"] {
        assert!(names.contains(&coro), "{coro} missing from {names:?}");
    }
}

#[test]
fn every_slow_scenario_contestant_serves_the_slow_client_beside_the_load() {
    let slow = Plan::preset(false)
        .echo
        .slow
        .expect("the quick preset runs echo-slow");
    assert!(slow.contestants.iter().any(|c| c == "coro-sjlj"));
    for name in &slow.contestants {
        if name == "sync" {
            continue; // stalls by design: the scenario measures that
        }
        let server = echo::server(name).unwrap_or_else(|| panic!("no echo contestant {name}"));
        let (addr, running) = start(server);
        let until = Instant::now() + Duration::from_millis(300);
        let slow = std::thread::spawn(move || {
            client::dribble(addr, SIZE, Duration::from_micros(100), until)
        });
        let conns = client::connect(addr, 4).expect("connected");
        let (conns, report) = client::run(conns, &short_load()).expect("load beside the slow one");
        let done = slow.join().expect("no panic").expect("dribbled");
        assert!(done >= 1, "{name}: no slow request completed");
        assert!(report.requests > 0, "{name}: the others were not served");
        drop(conns);
        running.stop();
    }
}

#[test]
fn a_coro_server_stops_promptly_with_a_client_still_connected() {
    for server in [&echo::coro::Coro::SJLJ, &echo::coro::Coro::SJLJ_MT] {
        let (addr, running) = start(server);
        let mut idle = TcpStream::connect(addr).expect("connected");
        idle.write_all(&[7; SIZE]).expect("sent");
        let mut back = [0; SIZE];
        idle.read_exact(&mut back).expect("echoed");
        let begun = Instant::now();
        running.stop();
        assert!(
            begun.elapsed() < Duration::from_secs(2),
            "{}",
            server.name()
        );
        // Cancelling the connection's coroutine closed its socket.
        idle.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        assert_eq!(idle.read(&mut back).ok(), Some(0), "{}", server.name());
    }
}

/// An "echo" server that flips the last byte of every request.
struct Corrupting;

impl Server for Corrupting {
    fn name(&self) -> &'static str {
        "corrupting"
    }

    fn start(&self, addr: SocketAddr, config: &ServeConfig) -> anyhow::Result<Started> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let size = config.size;
        std::thread::spawn(move || {
            for mut s in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut buf = vec![0; size];
                    while s.read_exact(&mut buf).is_ok() {
                        buf[size - 1] ^= 1;
                        if s.write_all(&buf).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Ok(Started {
            addr,
            running: Box::new(Never),
        })
    }
}

struct Never;

impl Running for Never {
    fn stop(self: Box<Self>) -> jmpco_study::server::Stats {
        Default::default()
    }
}

#[test]
fn the_load_client_rejects_a_wrong_echo() {
    let (addr, _running) = start(&Corrupting);
    let conns = client::connect(addr, 2).expect("connected");
    let err = client::run(conns, &short_load()).expect_err("a wrong echo must fail the run");
    assert!(err.to_string().contains("was not echoed back"), "{err}");
}
