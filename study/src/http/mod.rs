//! `http`: a hello-world HTTP/1.1 server per contestant driven by `wrk`
//! (keep-alive, `connections` connections, pinned to the client CPUs), when
//! `wrk` is installed; skipped with a note otherwise. jmpco's runtime
//! (`coro-sjlj`, the baseline) serves beside the notes' two designs (`sync`,
//! the synchronous epoll loop, and `thread-pool`, epoll and a pool of
//! workers, the echo bench's engines) and tokio. Every contestant answers
//! with the same [`request::Session`]: one parser, one set of answers, so
//! they differ only in how they wait for bytes. Besides wrk's req/s and
//! latencies, the server's CPU time over each wrk run, per request wrk
//! completed.

pub mod jmpco;
pub mod request;
pub mod sync;
pub mod thread_pool;
pub mod tokio;

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::echo::Placement;
use crate::progress::Progress;
use crate::record::Record;
use crate::server::process::ServerProcess;
use crate::server::{ServeConfig, Server};
use crate::sys::affinity;
use crate::{params, Selection};

pub use request::RESPONSE;

/// Every http contestant; the baseline (`coro-sjlj`) first.
pub fn servers() -> Vec<&'static dyn Server> {
    vec![
        &jmpco::Coro::SJLJ,
        &jmpco::Coro::ASM,
        &jmpco::Coro::SJLJ_MT,
        &sync::Sync,
        &thread_pool::ThreadPool,
        &tokio::Tokio::CURRENT_THREAD,
        &tokio::Tokio::MULTI_THREAD,
    ]
}

/// The http contestant called `name`.
pub fn server(name: &str) -> Option<&'static dyn Server> {
    servers().into_iter().find(|s| s.name() == name)
}

/// The bench's knobs.
#[derive(Clone, Debug)]
pub struct Config {
    /// wrk runs per contestant and connection count.
    pub runs: usize,
    /// Connection counts.
    pub connections: Vec<usize>,
    /// Length of one wrk run.
    pub duration: Duration,
    /// Threads of the multi-threaded contestants.
    pub server_threads: usize,
    /// wrk threads.
    pub client_threads: usize,
    /// Requests wrk writes at once on a connection (HTTP pipelining,
    /// through a Lua script); 1: one at a time, wrk's default.
    pub pipeline: usize,
}

/// The wrk script that sends `depth` requests in each write: wrk then
/// counts every response as a request.
pub fn pipeline_script(depth: usize) -> String {
    format!(
        "-- {depth} keep-alive GETs per write (written by jmpco-study)\n\
         init = function(args)\n  local r = {{}}\n  for i = 1, {depth} do\n    \
         r[i] = wrk.format(nil, \"/\")\n  end\n  req = table.concat(r)\nend\n\
         request = function()\n  return req\nend\n"
    )
}

/// Whether `wrk` can be run.
pub fn wrk_available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Runs the selected contestants under wrk; without wrk, returns no
/// records and a note.
pub fn run(
    config: &Config,
    select: &Selection,
    progress: &Progress,
    notes: &mut Vec<String>,
) -> Result<Vec<Record>> {
    if !wrk_available() {
        notes.push("http: skipped, `wrk` is not installed (apt-get install wrk)".into());
        return Ok(Vec::new());
    }
    if config.pipeline > 1 {
        notes.push(format!(
            "http: wrk pipelined {} requests per write (a Lua script); req/s counts responses; \
             no latencies (wrk times only a write's first response)",
            config.pipeline
        ));
    }
    let place = Placement::detect();
    let mut records = Vec::new();
    for server in servers() {
        let name = server.name();
        if !select.wants(name) {
            continue;
        }
        for &connections in &config.connections {
            progress.step(&format!("http {name} x{connections}"));
            records.extend(
                measure(name, connections, config, &place)
                    .with_context(|| format!("http {name} at {connections} connections"))?,
            );
            progress.done();
        }
    }
    Ok(records)
}

fn measure(
    name: &str,
    connections: usize,
    config: &Config,
    place: &Placement,
) -> Result<Vec<Record>> {
    let serve = ServeConfig {
        size: 0,
        threads: config.server_threads,
    };
    let server = ServerProcess::start("http", name, &serve, &place.server)?;
    let idle = server.memory()?;
    let (mut rps, mut p50, mut p99, mut rss) = (vec![], vec![], vec![], vec![]);
    let (mut cpu_pct, mut cpu_per_req) = (vec![], vec![]);
    for _ in 0..config.runs {
        let (cpu0, wall0) = (server.cpu()?, std::time::Instant::now());
        let wrk = spawn_wrk(server.addr(), connections, config, &place.client)?;
        std::thread::sleep(config.duration / 2);
        let loaded = server.memory()?;
        rss.push((loaded.rss_kib as f64 - idle.rss_kib as f64) / connections as f64);
        let out = wrk.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "wrk failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let cpu = (server.cpu()? - cpu0).as_secs_f64();
        let parsed = parse_wrk(&String::from_utf8_lossy(&out.stdout))?;
        cpu_pct.push(100.0 * cpu / wall0.elapsed().as_secs_f64());
        cpu_per_req.push(crate::echo::cpu_us_per_request(cpu, parsed.requests)?);
        rps.push(parsed.req_per_s);
        p50.push(parsed.p50_us);
        p99.push(parsed.p99_us);
    }
    server.stop()?;
    let p = params! {
        "connections" => connections,
        "size" => RESPONSE.len(),
        "client" => "wrk",
        "server_cpus" => affinity::describe(&place.server),
        "client_cpus" => affinity::describe(&place.client),
        "duration_ms" => config.duration.as_millis() as u64,
        "pipeline" => config.pipeline,
    };
    let rec = |metric: &str, s: &[f64]| Record::new("http", name, metric, p.clone(), s);
    let mut out = vec![
        rec("req_per_s", &rps),
        rec("rss_kib_per_conn", &rss),
        rec("server_cpu_pct", &cpu_pct),
        rec("server_cpu_us_per_req", &cpu_per_req),
    ];
    // wrk times only the first response of each pipelined write: its
    // percentiles are then no latency (its 90% and 99% lines read 0).
    if config.pipeline == 1 {
        out.extend([rec("p50_us", &p50), rec("p99_us", &p99)]);
    }
    Ok(out)
}

fn spawn_wrk(
    addr: std::net::SocketAddr,
    connections: usize,
    config: &Config,
    cpus: &[usize],
) -> Result<std::process::Child> {
    let threads = config.client_threads.clamp(1, connections);
    let mut cmd = Command::new("wrk");
    cmd.args([
        format!("-t{threads}"),
        format!("-c{connections}"),
        format!("-d{}s", config.duration.as_secs().max(1)),
        "--latency".into(),
    ]);
    if config.pipeline > 1 {
        let script = std::env::temp_dir().join(format!(
            "jmpco-study-pipeline-{}-{}.lua",
            std::process::id(),
            config.pipeline
        ));
        std::fs::write(&script, pipeline_script(config.pipeline))
            .with_context(|| format!("writing {}", script.display()))?;
        cmd.arg("-s").arg(script);
    }
    cmd.arg(format!("http://{addr}/"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !cpus.is_empty() {
        // wrk's threads inherit the affinity of its main thread.
        let cpus = cpus.to_vec();
        // SAFETY: the closure runs in the forked child before exec and only
        // calls sched_setaffinity (async-signal-safe, through a stack-only
        // cpu_set_t); it allocates nothing.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                for &cpu in &cpus {
                    libc::CPU_SET(cpu, &mut set);
                }
                libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set);
                Ok(())
            });
        }
    }
    cmd.spawn().context("starting wrk")
}

/// What wrk reported.
#[derive(Debug, PartialEq)]
pub struct WrkOutput {
    /// `Requests/sec`.
    pub req_per_s: f64,
    /// The 50% line of `--latency`, µs.
    pub p50_us: f64,
    /// The 99% line of `--latency`, µs.
    pub p99_us: f64,
    /// Requests completed: the `N requests in` line.
    pub requests: u64,
}

/// Parses wrk's `--latency` output.
pub fn parse_wrk(out: &str) -> Result<WrkOutput> {
    let field = |prefix: &str| -> Option<&str> {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .map(str::trim)
    };
    let rps = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .context("no Requests/sec in wrk's output")?;
    let lat = |p: &str| field(p).and_then(parse_duration_us);
    let requests = out
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .context("no `N requests in` line in wrk's output")?;
    Ok(WrkOutput {
        requests,
        req_per_s: rps,
        p50_us: lat("50%").context("no 50% latency in wrk's output")?,
        p99_us: lat("99%").context("no 99% latency in wrk's output")?,
    })
}

/// `"1.23ms"` → 1230.0 (µs); wrk prints us, ms, s, m.
fn parse_duration_us(v: &str) -> Option<f64> {
    let split = v.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = v.split_at(split);
    let num: f64 = num.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 6e7,
        _ => return None,
    };
    Some(num * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_parsed() {
        let out = "Running 2s test @ http://127.0.0.1:1/\n  1 threads and 10 connections\n  \
                   Latency Distribution\n     50%   93.00us\n     75%  110.00us\n     90%  \
                   130.00us\n     99%    1.20ms\n  40000 requests in 2.00s, 3.0MB read\n\
                   Requests/sec:  20000.50\nTransfer/sec:      1.50MB\n";
        let parsed = parse_wrk(out).expect("parsed");
        assert_eq!(
            parsed,
            WrkOutput {
                req_per_s: 20000.5,
                p50_us: 93.0,
                p99_us: 1200.0,
                requests: 40000,
            }
        );
        assert!(parse_wrk("garbage").is_err());
        let no_count = out.replace("40000 requests in 2.00s", "lots of requests");
        assert!(parse_wrk(&no_count).is_err());
    }

    #[test]
    fn the_pipeline_script_writes_depth_requests_at_once() {
        let script = pipeline_script(16);
        assert!(script.contains("for i = 1, 16 do"), "{script}");
        assert!(script.contains("wrk.format(nil, \"/\")"), "{script}");
        assert!(script.contains("request = function()"), "{script}");
    }
}
