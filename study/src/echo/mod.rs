//! `echo`: the notes' server designs serving the same load client —
//! `size`-byte ping-pong on loopback — with throughput, latency
//! percentiles, server RSS per connection and both sides' CPU; and the
//! slow-client scenario (`echo-slow`): one client dribbling its request a
//! byte at a time beside the others, the notes' stall of a synchronous loop.
//!
//! Each contestant runs in a child process pinned to the server CPUs
//! ([`crate::server::process`]); the client runs in this process pinned to
//! the client CPUs. A contestant is one file with one [`Server`] impl,
//! listed in [`servers`].

pub mod client;
pub mod coro;
pub mod sync;
pub mod thread_per_conn;
pub mod thread_pool;
pub mod tokio;

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::progress::Progress;
use crate::record::Record;
use crate::server::process::ServerProcess;
use crate::server::{ServeConfig, Server};
use crate::sys::affinity;
use crate::{params, Selection};

/// Every echo contestant; the baseline (`coro-sjlj`) first.
pub fn servers() -> Vec<&'static dyn Server> {
    vec![
        &coro::Coro::SJLJ,
        &coro::Coro::UCONTEXT,
        &coro::Coro::ASM,
        &coro::Coro::SJLJ_MT,
        &sync::Sync,
        &thread_per_conn::ThreadPerConn,
        &thread_pool::ThreadPool,
        &tokio::Tokio::CURRENT_THREAD,
        &tokio::Tokio::MULTI_THREAD,
    ]
}

/// The echo contestant called `name`.
pub fn server(name: &str) -> Option<&'static dyn Server> {
    servers().into_iter().find(|s| s.name() == name)
}

/// The bench's knobs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Measured windows per contestant and connection count.
    pub runs: usize,
    /// Connection counts to run.
    pub connections: Vec<usize>,
    /// Bytes per request.
    pub size: usize,
    /// Unmeasured lead-in of each window.
    pub warmup: Duration,
    /// Measured part of each window.
    pub duration: Duration,
    /// Threads of the multi-threaded contestants.
    pub server_threads: usize,
    /// Threads of the load client.
    pub client_threads: usize,
    /// The slow-client scenario, if it runs.
    pub slow: Option<Slow>,
}

/// The slow-client scenario.
#[derive(Clone, Debug)]
pub struct Slow {
    /// Normal connections beside the slow one.
    pub connections: usize,
    /// Time between two bytes of the slow client's request.
    pub gap: Duration,
    /// Contestants to run it on.
    pub contestants: Vec<String>,
}

/// CPU placement of one echo or http run.
#[derive(Clone, Debug)]
pub struct Placement {
    /// The server's CPUs.
    pub server: Vec<usize>,
    /// The client's CPUs.
    pub client: Vec<usize>,
}

impl Placement {
    /// Server on every CPU but the last, client on the last (when ≥ 2).
    pub fn detect() -> Placement {
        let (server, client) = affinity::split_server_client();
        Placement { server, client }
    }
}

/// Runs the selected contestants at every connection count, then the
/// slow-client scenario.
pub fn run(config: &Config, select: &Selection, progress: &Progress) -> Result<Vec<Record>> {
    let place = Placement::detect();
    let mut records = Vec::new();
    for server in servers() {
        if !select.wants(server.name()) {
            continue;
        }
        for &connections in &config.connections {
            progress.step(&format!("echo {} x{connections}", server.name()));
            records.extend(
                measure(server.name(), connections, config, &place, None).with_context(|| {
                    format!("echo {} at {connections} connections", server.name())
                })?,
            );
            progress.done();
        }
    }
    if let Some(slow) = &config.slow {
        for server in servers() {
            let name = server.name();
            if !select.wants(name) || !slow.contestants.iter().any(|c| c == name) {
                continue;
            }
            progress.step(&format!("echo-slow {name}"));
            records.extend(
                measure(name, slow.connections, config, &place, Some(slow.gap))
                    .with_context(|| format!("echo-slow {name}"))?,
            );
            progress.done();
        }
    }
    Ok(records)
}

/// Steps [`run`] will take (for the progress bar).
pub fn steps(config: &Config, select: &Selection) -> u64 {
    let names: Vec<_> = servers()
        .iter()
        .map(|s| s.name())
        .filter(|n| select.wants(n))
        .collect();
    let slow = config.slow.as_ref().map_or(0, |s| {
        names
            .iter()
            .filter(|n| s.contestants.iter().any(|c| c == *n))
            .count()
    });
    (names.len() * config.connections.len() + slow) as u64
}

/// One contestant at one connection count: a server process, `runs`
/// windows of the load client (with a slow client beside it if `slow_gap`).
fn measure(
    name: &str,
    connections: usize,
    config: &Config,
    place: &Placement,
    slow_gap: Option<Duration>,
) -> Result<Vec<Record>> {
    let serve = ServeConfig {
        size: config.size,
        threads: config.server_threads,
    };
    let server = ServerProcess::start("echo", name, &serve, &place.server)?;
    let idle = server.memory()?;
    let mut conns = client::connect(server.addr(), connections)?;
    let load = client::Load {
        size: config.size,
        warmup: config.warmup,
        duration: config.duration,
        threads: config.client_threads,
        cpus: place.client.clone(),
    };
    let mut m = Samples::default();
    let mut rss_per_conn = Vec::new();
    let mut slow_done = 0;
    for _ in 0..config.runs {
        let (cpu0, wall0) = (server.cpu()?, Instant::now());
        let slow = slow_gap.map(|gap| {
            let (addr, size) = (server.addr(), config.size);
            let until = Instant::now() + config.warmup + config.duration;
            std::thread::spawn(move || client::dribble(addr, size, gap, until))
        });
        let (back, report) = client::run(conns, &load)?;
        conns = back;
        if rss_per_conn.is_empty() {
            // Every connection has carried traffic: its buffers exist.
            let loaded = server.memory()?;
            rss_per_conn.push((loaded.rss_kib as f64 - idle.rss_kib as f64) / connections as f64);
        }
        let mut answered = report.answered;
        if let Some(slow) = slow {
            let done = slow
                .join()
                .map_err(|_| anyhow::anyhow!("the slow client panicked"))??;
            slow_done += done;
            answered += done;
        }
        let cpu = (server.cpu()? - cpu0).as_secs_f64();
        let server_cpu = cpu / wall0.elapsed().as_secs_f64();
        m.req_per_s.push(report.req_per_s());
        m.p50.push(report.latency_us(0.50));
        m.p99.push(report.latency_us(0.99));
        m.p999.push(report.latency_us(0.999));
        m.server_cpu.push(100.0 * server_cpu);
        m.cpu_us_per_req.push(cpu_us_per_request(cpu, answered)?);
        m.client_cpu.push(report.cpu_pct());
    }
    drop(conns);
    let stats = server.stop()?;
    let bench = if slow_gap.is_some() {
        "echo-slow"
    } else {
        "echo"
    };
    let mut p = params! {
        "connections" => connections,
        "size" => config.size,
        "server_cpus" => affinity::describe(&place.server),
        "client_cpus" => affinity::describe(&place.client),
        "server_threads" => config.server_threads,
        "client_threads" => config.client_threads,
        "duration_ms" => config.duration.as_millis() as u64,
    };
    if let Some(gap) = slow_gap {
        p.insert("slow_gap_us".into(), (gap.as_micros() as u64).into());
        p.insert("slow_requests".into(), slow_done.into());
    }
    for (key, value) in &stats {
        p.insert(key.clone(), (*value).into());
    }
    let rec = |metric: &str, samples: &[f64]| Record::new(bench, name, metric, p.clone(), samples);
    let mut out = vec![
        rec("req_per_s", &m.req_per_s),
        rec("p50_us", &m.p50),
        rec("p99_us", &m.p99),
        rec("p999_us", &m.p999),
        rec("rss_kib_per_conn", &rss_per_conn),
        rec("server_cpu_pct", &m.server_cpu),
        rec("server_cpu_us_per_req", &m.cpu_us_per_req),
        rec("client_cpu_pct", &m.client_cpu),
    ];
    if let (Some(&reready), Some(&dispatches)) = (stats.get("reready"), stats.get("dispatches")) {
        out.push(rec("reready", &[reready as f64]));
        out.push(rec(
            "reready_pct",
            &[100.0 * reready as f64 / dispatches.max(1) as f64],
        ));
    }
    Ok(out)
}

#[derive(Default)]
struct Samples {
    req_per_s: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    p999: Vec<f64>,
    server_cpu: Vec<f64>,
    cpu_us_per_req: Vec<f64>,
    client_cpu: Vec<f64>,
}

/// Server CPU µs per request: `cpu_s` seconds of the server's CPU (user +
/// system, every thread) over the `answered` requests it served meanwhile.
/// No request answered is an error, not an infinite cost.
pub fn cpu_us_per_request(cpu_s: f64, answered: u64) -> Result<f64> {
    if answered == 0 {
        anyhow::bail!("the server answered no request: no CPU per request");
    }
    Ok(cpu_s * 1e6 / answered as f64)
}
