//! `instructions`: what one request costs a server contestant in
//! user-space instructions, a figure that does not swing with the machine
//! the way req/s does on a shared VM (where the load client often runs out
//! of CPU before the server does).
//!
//! For each contestant and protocol (echo, http) the server runs under
//! `valgrind --tool=callgrind` ([`crate::callgrind`]) twice, in a child
//! process as in the echo and http benches: once serving N requests, once
//! 2N, each request sent alone to an idle server over the same blocking
//! connections ([`client`] says why). The difference of the two totals
//! over N is the cost of a request reaching an idle server; start-up, the
//! accepts and shutdown are in both runs and cancel out (that fixed part is
//! recorded too). Under load a server finds several requests ready per
//! wake-up and spends less on each: the echo and http benches' server CPU
//! µs per request is that figure. The kernel's share of a request (the system
//! calls themselves) is not in the count; the server CPU µs per request of
//! the echo and http benches has it.
//!
//! The bench runs in the full preset and alone (`jmpco-study
//! instructions`), not in the quick one: a pair takes tens of seconds per
//! contestant. Without valgrind it leaves a note and no figures.

pub mod client;

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::callgrind;
use crate::echo::Placement;
use crate::progress::Progress;
use crate::record::Record;
use crate::server::process::ServerProcess;
use crate::server::{ServeConfig, Server};
use crate::{echo, http, params, Selection};
use client::Protocol;

/// The bench's knobs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Pairs of runs (N, 2N) per contestant and protocol.
    pub runs: usize,
    /// N: requests of the shorter run of a pair (the longer one sends 2N).
    pub requests: u64,
    /// Connections the requests are spread over.
    pub connections: usize,
    /// Bytes of an echo request.
    pub size: usize,
    /// Threads of the multi-threaded contestants.
    pub server_threads: usize,
    /// The contestants counted, where a protocol has them.
    pub contestants: Vec<String>,
}

/// The contestants counted unless the command line names others.
pub const CONTESTANTS: [&str; 5] = ["coro-sjlj", "coro-asm", "sync", "thread-pool", "tokio"];

/// A protocol's bench name in the records and its contestant lookup.
struct Proto {
    bench: &'static str,
    name: &'static str,
    server: fn(&str) -> Option<&'static dyn Server>,
}

static PROTOS: [Proto; 2] = [
    Proto {
        bench: "echo-instructions",
        name: "echo",
        server: echo::server,
    },
    Proto {
        bench: "http-instructions",
        name: "http",
        server: http::server,
    },
];

/// The (protocol, contestant) pairs that will be counted.
fn targets<'a>(config: &'a Config, select: &'a Selection) -> Vec<(&'static Proto, &'a str)> {
    PROTOS
        .iter()
        .flat_map(|p| {
            config
                .contestants
                .iter()
                .filter(|c| select.wants(c) && (p.server)(c).is_some())
                .map(move |c| (p, c.as_str()))
        })
        .collect()
}

/// Steps [`run`] will take (for the progress bar).
pub fn steps(config: &Config, select: &Selection) -> u64 {
    targets(config, select).len() as u64
}

/// Counts every selected contestant of [`Config::contestants`] in each
/// protocol that has it; without valgrind, no records and a note. The
/// pairs are interleaved: each round counts every contestant once. A
/// contestant whose runs fail (valgrind cannot run it, the counts are no
/// cost per request) gets a note instead of figures, and the others go on.
pub fn run(
    config: &Config,
    select: &Selection,
    progress: &Progress,
    notes: &mut Vec<String>,
) -> Result<Vec<Record>> {
    if !callgrind::available() {
        notes.push(format!("instructions: skipped, {}", callgrind::MISSING));
        return Ok(Vec::new());
    }
    let place = Placement::detect();
    let targets = targets(config, select);
    let mut per_request: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    let mut fixed: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    let mut failed: Vec<Option<String>> = vec![None; targets.len()];
    for round in 0..config.runs {
        for (i, (proto, name)) in targets.iter().enumerate() {
            if failed[i].is_some() {
                continue;
            }
            if round == 0 {
                progress.step(&format!("{} {name}", proto.bench));
            }
            match pair(proto, name, config, &place.server) {
                Ok(d) => {
                    per_request[i].push(d.per_unit);
                    fixed[i].push(d.fixed);
                }
                Err(e) => failed[i] = Some(format!("{e:#}")),
            }
            if round == 0 {
                progress.done();
            }
        }
    }
    let mut records = Vec::new();
    for (i, (proto, name)) in targets.iter().enumerate() {
        if let Some(why) = &failed[i] {
            notes.push(format!("{}: {name} not counted: {why}", proto.bench));
            continue;
        }
        if per_request[i].is_empty() {
            continue;
        }
        let p = params! {
            "connections" => config.connections,
            "requests" => config.requests,
            "size" => match proto.name { "echo" => config.size, _ => http::RESPONSE.len() },
            "server_threads" => config.server_threads,
            "tool" => "callgrind",
        };
        records.push(Record::new(
            proto.bench,
            name,
            "instructions_per_req",
            p.clone(),
            &per_request[i],
        ));
        let millions: Vec<f64> = fixed[i].iter().map(|f| f / 1e6).collect();
        records.push(Record::new(
            proto.bench,
            name,
            "fixed_minstructions",
            p,
            &millions,
        ));
    }
    Ok(records)
}

/// One pair: the counts of N and 2N requests, differenced.
fn pair(
    proto: &Proto,
    name: &str,
    config: &Config,
    cpus: &[usize],
) -> Result<callgrind::Differenced> {
    let n = config.requests;
    let at_n = count(proto, name, config, cpus, n)?;
    let at_2n = count(proto, name, config, cpus, 2 * n)?;
    callgrind::difference(n, at_n, at_2n)
}

/// The instructions of one server process under callgrind that served
/// `requests` requests.
fn count(proto: &Proto, name: &str, config: &Config, cpus: &[usize], requests: u64) -> Result<u64> {
    let out = out_file(proto.name, name, requests);
    let _ = std::fs::remove_file(&out);
    let serve = ServeConfig {
        size: config.size,
        threads: config.server_threads,
    };
    let prefix = callgrind::prefix(&out);
    let server = ServerProcess::start_under(&prefix, proto.name, name, &serve, cpus)
        .context("starting the server under callgrind")?;
    let protocol = match proto.name {
        "echo" => Protocol::Echo { size: config.size },
        _ => Protocol::Http,
    };
    let conns = client::connect(server.addr(), config.connections)?;
    client::drive(conns, protocol, requests, Some(server.pid()))
        .with_context(|| format!("{requests} requests under callgrind"))?;
    // The connections closed when `drive` returned; the server exits.
    server.stop()?;
    let total = callgrind::read_total(&out);
    if !kept() {
        let _ = std::fs::remove_file(&out);
    }
    total
}

/// The environment variable naming a directory where each run's callgrind
/// output is kept (for `callgrind_annotate`: where a request's instructions
/// go); unset, the outputs go to the temporary directory and are removed.
pub const KEEP_VAR: &str = "JMPCO_STUDY_CALLGRIND_DIR";

/// Where one run's callgrind output goes.
fn out_file(proto: &str, name: &str, requests: u64) -> PathBuf {
    let file = format!(
        "callgrind.{proto}-{name}-{requests}.{}.out",
        std::process::id()
    );
    match std::env::var_os(KEEP_VAR) {
        Some(dir) => PathBuf::from(dir).join(file),
        None => std::env::temp_dir().join(format!("jmpco-study-{file}")),
    }
}

fn kept() -> bool {
    std::env::var_os(KEEP_VAR).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(contestants: &[&str]) -> Config {
        Config {
            runs: 1,
            requests: 10,
            connections: 2,
            size: 64,
            server_threads: 2,
            contestants: contestants.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn each_protocol_counts_the_contestants_it_has() {
        let c = config(&CONTESTANTS);
        let every = Selection::all();
        let all = targets(&c, &every);
        let echo: Vec<&str> = all
            .iter()
            .filter(|(p, _)| p.name == "echo")
            .map(|t| t.1)
            .collect();
        assert_eq!(echo, CONTESTANTS);
        let http: Vec<&str> = all
            .iter()
            .filter(|(p, _)| p.name == "http")
            .map(|t| t.1)
            .collect();
        assert_eq!(http, CONTESTANTS);
        // --contestants narrows the list; a name no protocol has is no step.
        let only = Selection::only(vec!["tokio".into()]);
        assert_eq!(steps(&c, &only), 2);
        assert_eq!(steps(&config(&["no-such-server"]), &Selection::all()), 0);
    }
}
