//! `jmpco-study`: the command line of the comparative study. Parses the
//! flags (clap: a bad flag or subcommand exits with code 2 and a message),
//! builds a [`Plan`] from the quick or full preset and the overrides, runs
//! it, and writes the table (stdout), `results.json`, one SVG per bench
//! and `report.md` to the output directory (and `--json FILE` if asked).
//!
//! Run: `cargo run --release` at the repository root (the quick preset),
//! `cargo run --release -- --full`, `cargo run --release -- echo --help`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use clap::{Args, Parser, Subcommand};

use jmpco_study::echo::Slow;
use jmpco_study::memory::park;
use jmpco_study::plan::{self, Bench, Plan};
use jmpco_study::progress::Progress;
use jmpco_study::report::{json, markdown, svg, table, Study};
use jmpco_study::server::{process, ServeConfig};
use jmpco_study::{echo, http, Selection};

/// The comparative study of jmpco: each claim of the seed notes measured on
/// this machine, against ucontext, OS threads, corosensei and tokio.
///
/// With no subcommand, runs the quick preset of every bench but
/// `instructions`.
#[derive(Parser, Debug)]
#[command(name = "jmpco-study", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    options: Options,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Resume+suspend round trip: sjlj, ucontext, asm, thread, corosensei, raw C.
    Switch,
    /// Create + first resume + finish: pooled and fresh stacks, threads, corosensei.
    Create,
    /// Channel round trips between two tasks (one worker, two) and a contended mutex: jmpco, tokio, std.
    Channel,
    /// Parked coroutines against parked threads: RSS, VSZ, kernel stack per unit.
    Memory,
    /// Echo servers under one load client, and the slow-client stall.
    Echo,
    /// HTTP hello servers under wrk (skipped if wrk is not installed).
    Http,
    /// Server instructions per request (echo, http) under callgrind, N and 2N
    /// requests differenced (skipped if valgrind is not installed; in --full).
    Instructions,
    /// Every bench of the preset (what no subcommand does; --full adds instructions).
    All,
    /// Re-render the table, charts and report.md from a results JSON.
    Render {
        /// A results.json (or --json FILE) of an earlier run.
        file: PathBuf,
    },
    /// (internal) Serve one contestant in this process for the parent study.
    #[command(hide = true)]
    Serve(ServeArgs),
    /// (internal) Park units in this process and print what they cost.
    #[command(hide = true)]
    Park(ParkArgs),
}

#[derive(Args, Debug)]
struct Options {
    /// The long version: more runs, longer windows, 10/100/1000 connections.
    #[arg(long, global = true)]
    full: bool,
    /// Also write the results as JSON to FILE.
    #[arg(long, global = true, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Output directory [default: target/jmpco-study].
    #[arg(long, global = true, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Runs per contestant (overrides the preset).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    runs: Option<u64>,
    /// Only these contestants (comma-separated names, any bench).
    #[arg(long, global = true, value_delimiter = ',', value_name = "NAMES")]
    contestants: Vec<String>,
    /// No progress bar.
    #[arg(long, global = true)]
    quiet: bool,
    /// switch/create/channel: target length of one run, ms.
    #[arg(long, global = true, value_name = "MS")]
    sample_ms: Option<u64>,
    /// memory: parked coroutines [default: 100000].
    #[arg(long, global = true, value_name = "N")]
    count: Option<usize>,
    /// memory: parked threads [default: 10000].
    #[arg(long, global = true, value_name = "M")]
    threads: Option<usize>,
    /// memory: stack bytes of each parked coroutine [default: jmpco's].
    #[arg(long, global = true, value_name = "BYTES")]
    stack_size: Option<usize>,
    /// echo/http: connection counts (comma-separated); instructions: the first one.
    #[arg(long, global = true, value_delimiter = ',', value_name = "N,..")]
    connections: Vec<usize>,
    /// echo: request bytes [default: 512].
    #[arg(long, global = true, value_name = "BYTES")]
    size: Option<usize>,
    /// echo/http: measured part of each window, ms.
    #[arg(long, global = true, value_name = "MS")]
    duration_ms: Option<u64>,
    /// echo: unmeasured warm-up of each window, ms.
    #[arg(long, global = true, value_name = "MS")]
    warmup_ms: Option<u64>,
    /// echo/http: threads of the multi-threaded servers.
    #[arg(long, global = true, value_name = "N")]
    server_threads: Option<usize>,
    /// echo/http: load client (or wrk) threads [default: 1].
    #[arg(long, global = true, value_name = "N")]
    client_threads: Option<usize>,
    /// echo: skip the slow-client scenario.
    #[arg(long, global = true)]
    no_slow: bool,
    /// echo: the slow client's gap between two bytes, µs [default: 1000].
    #[arg(long, global = true, value_name = "US")]
    slow_gap_us: Option<u64>,
    /// http: requests wrk writes at once per connection (pipelining) [default: 1].
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pipeline: Option<u64>,
    /// instructions: requests of the shorter callgrind run (the other sends twice as many) [default: 2000; --full 5000].
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    requests: Option<u64>,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// `echo` or `http`.
    #[arg(long)]
    proto: String,
    /// The contestant.
    #[arg(long)]
    name: String,
    /// Request bytes (echo).
    #[arg(long, default_value_t = 512)]
    request_size: usize,
    /// Threads of multi-threaded contestants.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// CPUs to pin to.
    #[arg(long, value_delimiter = ',')]
    cpus: Vec<usize>,
}

#[derive(Args, Debug)]
struct ParkArgs {
    /// sjlj, ucontext, asm, corosensei or thread.
    #[arg(long)]
    kind: String,
    /// How many to park.
    #[arg(long)]
    units: usize,
    /// Coroutine stack bytes.
    #[arg(long)]
    stack_bytes: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jmpco-study: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let benches = match &cli.command {
        None | Some(Command::All) => None,
        Some(Command::Switch) => Some(vec![Bench::Switch]),
        Some(Command::Create) => Some(vec![Bench::Create]),
        Some(Command::Channel) => Some(vec![Bench::Channel]),
        Some(Command::Memory) => Some(vec![Bench::Memory]),
        Some(Command::Echo) => Some(vec![Bench::Echo]),
        Some(Command::Http) => Some(vec![Bench::Http]),
        Some(Command::Instructions) => Some(vec![Bench::Instructions]),
        Some(Command::Serve(args)) => return serve(args),
        Some(Command::Park(args)) => return park_units(args),
        Some(Command::Render { file }) => {
            let study = json::read(file)?;
            let out = cli.options.out.clone().unwrap_or_else(default_out);
            return write_outputs(&study, &out, cli.options.json.as_deref());
        }
    };
    let options = &cli.options;
    let mut plan = Plan::preset(options.full);
    if let Some(benches) = benches {
        plan.benches = benches;
    }
    apply(&mut plan, options);
    let select = if options.contestants.is_empty() {
        Selection::all()
    } else {
        Selection::only(options.contestants.clone())
    };
    let out = options.out.clone().unwrap_or_else(default_out);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let progress = Progress::new(plan.steps(&select), options.quiet);
    let command = std::iter::once("jmpco-study".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let study = plan::run(&plan, &select, &progress, command);
    progress.finish();
    write_outputs(&study?, &out, options.json.as_deref())
}

/// Prints the table and writes results.json, table.txt, the charts and
/// report.md to `out` (and the JSON to `json` too, if given).
fn write_outputs(study: &Study, out: &Path, json_file: Option<&Path>) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(table::render(study).as_bytes());
    json::write(study, &out.join("results.json"))?;
    if let Some(path) = json_file {
        json::write(study, path)?;
    }
    std::fs::write(out.join("table.txt"), table::render(study))?;
    let charts = svg::write_all(study, out)?;
    let names: Vec<String> = charts
        .iter()
        .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
        .collect();
    std::fs::write(out.join("report.md"), markdown::render(study, &names))?;
    let _ = writeln!(
        std::io::stdout(),
        "\nwrote {}/{{results.json, table.txt, report.md, {}}}",
        out.display(),
        names.join(", ")
    );
    Ok(())
}

/// Applies the command line's overrides to the preset.
fn apply(plan: &mut Plan, o: &Options) {
    let ms = Duration::from_millis;
    if let Some(runs) = o.runs {
        let runs = runs as usize;
        plan.switch.runs = runs;
        plan.create.runs = runs;
        plan.channel.runs = runs;
        plan.memory.runs = runs;
        plan.echo.runs = runs;
        plan.http.runs = runs;
        plan.instructions.runs = runs;
    }
    if let Some(s) = o.sample_ms {
        plan.switch.sample_time = ms(s);
        plan.create.sample_time = ms(s);
        plan.channel.sample_time = ms(s);
    }
    if let Some(n) = o.count {
        plan.memory.coroutines = n;
    }
    if let Some(n) = o.threads {
        plan.memory.threads = n;
    }
    plan.memory.stack_size = o.stack_size.or(plan.memory.stack_size);
    if !o.connections.is_empty() {
        plan.echo.connections = o.connections.clone();
        plan.http.connections = o.connections.clone();
        if let Some(slow) = &mut plan.echo.slow {
            slow.connections = o.connections[0];
        }
        plan.instructions.connections = o.connections[0];
    }
    if let Some(n) = o.size {
        plan.echo.size = n;
        plan.instructions.size = n;
    }
    if let Some(n) = o.pipeline {
        plan.http.pipeline = n as usize;
    }
    if let Some(n) = o.requests {
        plan.instructions.requests = n;
    }
    if let Some(d) = o.duration_ms {
        plan.echo.duration = ms(d);
        plan.http.duration = ms(d);
    }
    if let Some(w) = o.warmup_ms {
        plan.echo.warmup = ms(w);
    }
    if let Some(n) = o.server_threads {
        plan.echo.server_threads = n;
        plan.http.server_threads = n;
        plan.instructions.server_threads = n;
    }
    if let Some(n) = o.client_threads {
        plan.echo.client_threads = n;
        plan.http.client_threads = n;
    }
    if o.no_slow {
        plan.echo.slow = None;
    }
    if let (Some(slow), Some(us)) = (&mut plan.echo.slow, o.slow_gap_us) {
        slow.gap = Duration::from_micros(us);
    }
    if let Some(Slow { contestants, .. }) = &mut plan.echo.slow {
        contestants.retain(|c| echo::server(c).is_some());
    }
}

/// `target/jmpco-study` beside the binary's `target/<profile>/`, else in
/// the current directory.
fn default_out() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let target = exe.parent()?.parent()?;
            (target.file_name()? == "target").then(|| target.join("jmpco-study"))
        })
        .unwrap_or_else(|| PathBuf::from("target/jmpco-study"))
}

fn serve(args: &ServeArgs) -> Result<()> {
    let server = match args.proto.as_str() {
        "echo" => echo::server(&args.name),
        "http" => http::server(&args.name),
        other => return Err(anyhow!("unknown protocol {other:?}")),
    }
    .ok_or_else(|| anyhow!("no {} contestant called {:?}", args.proto, args.name))?;
    let config = ServeConfig {
        size: args.request_size,
        threads: args.workers,
    };
    process::serve_child(server, &config, &args.cpus)
}

fn park_units(args: &ParkArgs) -> Result<()> {
    let kind: park::Kind = args.kind.parse()?;
    let measured = park::park(kind, args.units, args.stack_bytes)?;
    println!("{}", serde_json::to_string(&measured)?);
    Ok(())
}
