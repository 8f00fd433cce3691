//! The binary end to end on tiny inputs: errors exit with code 2 and say
//! why; a tiny run of every bench writes a JSON holding every contestant,
//! a chart per bench and the report.

use std::path::PathBuf;
use std::process::{Command, Output};

use jmpco_study::report::json;
use jmpco_study::{callgrind, channel, create, echo, http, instructions, memory, switch};

fn study(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jmpco-study"))
        .args(args)
        .output()
        .expect("the study binary runs")
}

/// The run's standard output, once it is known to have succeeded (a
/// failure shows both of its outputs).
fn succeeded(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn an_unknown_subcommand_exits_2_with_a_message() {
    let out = study(&["benchmark-everything"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unrecognized subcommand") && err.contains("benchmark-everything"),
        "{err}"
    );
}

#[test]
fn a_bad_flag_or_value_exits_2_with_a_message() {
    for args in [
        &["--no-such-flag"][..],
        &["switch", "--runs", "0"],
        &["memory", "--count", "many"],
    ] {
        let out = study(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("error:"),
            "{args:?}"
        );
    }
}

#[test]
fn help_lists_every_subcommand_but_not_the_internal_ones() {
    let out = study(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for sub in [
        "switch",
        "create",
        "channel",
        "memory",
        "echo",
        "http",
        "instructions",
        "all",
        "--full",
        "--json",
        "--requests",
    ] {
        assert!(help.contains(sub), "{sub} missing from --help");
    }
    let listed = |sub: &str| help.lines().any(|l| l.trim_start().starts_with(sub));
    assert!(!listed("serve ") && !listed("park "), "{help}");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jmpco-study-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn a_tiny_run_of_every_bench_writes_json_holding_every_contestant() {
    let dir = temp_dir("all");
    let json_path = dir.join("study.json");
    let out = study(&[
        "all",
        "--quiet",
        "--runs",
        "1",
        "--sample-ms",
        "2",
        "--count",
        "200",
        "--threads",
        "20",
        "--connections",
        "4",
        "--duration-ms",
        "150",
        "--warmup-ms",
        "30",
        "--slow-gap-us",
        "200",
        "--out",
        dir.to_str().expect("utf-8 path"),
        "--json",
        json_path.to_str().expect("utf-8 path"),
    ]);
    let stdout = succeeded(&out);
    assert!(
        stdout.contains("machine: ") && stdout.contains("vs sjlj"),
        "{stdout}"
    );
    let study = json::read(&json_path).expect("the JSON parses");
    let has = |bench: &str, who: &str, metric: &str| {
        study
            .results
            .iter()
            .any(|r| r.bench == bench && r.contestant == who && r.metric == metric)
    };
    for c in switch::contestants() {
        assert!(
            has("switch", c.name(), "round_trip_ns"),
            "switch {}",
            c.name()
        );
    }
    for c in create::contestants() {
        assert!(has("create", c.name(), "create_ns"), "create {}", c.name());
    }
    for (bench, engines) in channel::scenarios() {
        for c in engines {
            let name = c.name();
            assert!(has(bench.name, name, bench.metric), "{} {name}", bench.name);
        }
    }
    for (name, _) in memory::contestants() {
        assert!(has("memory", name, "rss_kib_per_item"), "memory {name}");
        assert!(has("memory", name, "vsz_kib_per_item"), "memory {name}");
        assert!(has("memory", name, "pte_kib_per_item"), "memory {name}");
    }
    for s in echo::servers() {
        for metric in [
            "req_per_s",
            "p50_us",
            "p99_us",
            "p999_us",
            "rss_kib_per_conn",
            "server_cpu_us_per_req",
        ] {
            assert!(has("echo", s.name(), metric), "echo {} {metric}", s.name());
        }
    }
    // Every request costs the server some CPU.
    for r in study
        .results
        .iter()
        .filter(|r| r.metric == "server_cpu_us_per_req")
    {
        assert!(r.median >= 0.0 && r.median.is_finite(), "{r:?}");
    }
    assert!(stdout.contains("server CPU us/req") && stdout.contains("page tables KiB"));
    // The quick preset leaves the callgrind counts to `instructions`.
    assert!(!study
        .results
        .iter()
        .any(|r| r.bench.ends_with("-instructions")));
    for who in ["sync", "coro-sjlj", "tokio", "thread-pool"] {
        assert!(has("echo-slow", who, "p99_us"), "echo-slow {who}");
    }
    if http::wrk_available() {
        for s in http::servers() {
            assert!(has("http", s.name(), "req_per_s"), "http {}", s.name());
            assert!(
                has("http", s.name(), "server_cpu_us_per_req"),
                "http {}",
                s.name()
            );
        }
    } else {
        assert!(study.notes.iter().any(|n| n.contains("wrk")));
    }
    for file in [
        "results.json",
        "report.md",
        "table.txt",
        "switch.svg",
        "create.svg",
        "channel.svg",
        "channel-2w.svg",
        "mutex.svg",
        "memory.svg",
        "echo.svg",
    ] {
        assert!(dir.join(file).exists(), "{file} not written");
    }
    // The same outputs come back from the JSON alone.
    let again = dir.join("again");
    let out = study_render(&json_path, &again);
    succeeded(&out);
    assert!(again.join("report.md").exists() && again.join("echo.svg").exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn channel_runs_only_the_contestants_named_and_writes_its_json() {
    let dir = temp_dir("channel");
    let json_path = dir.join("channel.json");
    let out = study(&[
        "channel",
        "--quiet",
        "--runs",
        "2",
        "--sample-ms",
        "2",
        "--contestants",
        "jmpco-sjlj,tokio-mt",
        "--out",
        dir.to_str().expect("utf-8 path"),
        "--json",
        json_path.to_str().expect("utf-8 path"),
    ]);
    let stdout = succeeded(&out);
    assert!(
        stdout.contains("machine: ") && stdout.contains("build: "),
        "{stdout}"
    );
    assert!(
        stdout.contains("[channel]")
            && stdout.contains("[channel-2w]")
            && stdout.contains("[mutex]"),
        "{stdout}"
    );
    let study = json::read(&json_path).expect("the JSON parses");
    let mut ran: Vec<(&str, &str)> = study
        .results
        .iter()
        .map(|r| (r.bench.as_str(), r.contestant.as_str()))
        .collect();
    ran.sort();
    // `jmpco-sjlj` is a contestant of every one-worker scenario, `tokio-mt`
    // of the two-worker one; nothing else ran, no other bench either.
    let mut expected: Vec<(&str, &str)> = channel::scenarios()
        .iter()
        .flat_map(|(bench, engines)| {
            engines
                .iter()
                .map(|e| e.name())
                .filter(|n| ["jmpco-sjlj", "tokio-mt"].contains(n))
                .map(|n| (bench.name, n))
                .collect::<Vec<_>>()
        })
        .collect();
    expected.sort();
    assert_eq!(ran, expected);
    assert!(ran.contains(&("channel", "jmpco-sjlj")));
    assert!(ran.contains(&("channel-2w", "tokio-mt")));
    assert!(ran.contains(&("mutex", "jmpco-sjlj")));
    for r in &study.results {
        assert_eq!(r.runs, 2, "{r:?}");
        assert!(
            r.median > 0.0 && r.min <= r.median && r.median <= r.max,
            "{r:?}"
        );
        let count = if r.bench == "mutex" {
            "handoffs"
        } else {
            "rounds"
        };
        assert!(r.param_u64(count).is_some(), "{r:?}");
    }
    assert!(
        study.notes.iter().any(|n| n.contains("tokio-mt")),
        "{:?}",
        study.notes
    );
    for chart in ["channel.svg", "channel-2w.svg", "mutex.svg"] {
        assert!(dir.join(chart).exists(), "{chart}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn instructions_count_each_protocols_contestants_into_the_json() {
    if !callgrind::available() {
        eprintln!("skipped: valgrind is not installed");
        return;
    }
    let dir = temp_dir("instructions");
    let json_path = dir.join("instructions.json");
    let out = study(&[
        "instructions",
        "--quiet",
        "--runs",
        "1",
        "--requests",
        "40",
        "--contestants",
        "coro-sjlj,sync",
        "--out",
        dir.to_str().expect("utf-8 path"),
        "--json",
        json_path.to_str().expect("utf-8 path"),
    ]);
    let stdout = succeeded(&out);
    assert!(
        stdout.contains("[echo-instructions]") && stdout.contains("instr/req"),
        "{stdout}"
    );
    let study = json::read(&json_path).expect("the JSON parses");
    assert!(study.notes.is_empty(), "{:?}", study.notes);
    let mut ran: Vec<(&str, &str, &str)> = study
        .results
        .iter()
        .map(|r| (r.bench.as_str(), r.contestant.as_str(), r.metric.as_str()))
        .collect();
    ran.sort();
    // Both serve both protocols: each is counted in each.
    assert_eq!(
        ran,
        [
            ("echo-instructions", "coro-sjlj", "fixed_minstructions"),
            ("echo-instructions", "coro-sjlj", "instructions_per_req"),
            ("echo-instructions", "sync", "fixed_minstructions"),
            ("echo-instructions", "sync", "instructions_per_req"),
            ("http-instructions", "coro-sjlj", "fixed_minstructions"),
            ("http-instructions", "coro-sjlj", "instructions_per_req"),
            ("http-instructions", "sync", "fixed_minstructions"),
            ("http-instructions", "sync", "instructions_per_req"),
        ]
    );
    for r in &study.results {
        assert_eq!(r.param_u64("requests"), Some(40), "{r:?}");
        assert_eq!(
            r.params.get("tool").and_then(|t| t.as_str()),
            Some("callgrind")
        );
        // A request is more than a hundred instructions and far fewer than
        // a million; start-up is at least a hundred thousand.
        if r.metric == "instructions_per_req" {
            assert!(r.median > 100.0 && r.median < 1e6, "{r:?}");
        } else {
            assert!(r.median > 0.1, "{r:?}");
        }
    }
    assert!(dir.join("echo-instructions.svg").exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_pipelined_http_run_records_throughput_and_cpu_but_no_latency() {
    if !http::wrk_available() {
        eprintln!("skipped: wrk is not installed");
        return;
    }
    let dir = temp_dir("pipeline");
    let json_path = dir.join("pipeline.json");
    let out = study(&[
        "http",
        "--quiet",
        "--runs",
        "1",
        "--duration-ms",
        "1000",
        "--connections",
        "4",
        "--pipeline",
        "4",
        "--contestants",
        "coro-sjlj",
        "--out",
        dir.to_str().expect("utf-8 path"),
        "--json",
        json_path.to_str().expect("utf-8 path"),
    ]);
    succeeded(&out);
    let study = json::read(&json_path).expect("the JSON parses");
    let metrics: Vec<&str> = study.results.iter().map(|r| r.metric.as_str()).collect();
    for m in ["req_per_s", "server_cpu_pct", "server_cpu_us_per_req"] {
        assert!(metrics.contains(&m), "{m}: {metrics:?}");
    }
    assert!(!metrics.contains(&"p99_us"), "{metrics:?}");
    assert!(study
        .results
        .iter()
        .all(|r| r.param_u64("pipeline") == Some(4)));
    assert!(study.notes.iter().any(|n| n.contains("pipelined 4")));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn without_valgrind_the_instruction_counts_are_a_note_not_a_failure() {
    let dir = temp_dir("no-valgrind");
    let json_path = dir.join("none.json");
    // An empty PATH: no valgrind (the study re-runs itself by its own path).
    let out = Command::new(env!("CARGO_BIN_EXE_jmpco-study"))
        .args([
            "instructions",
            "--quiet",
            "--out",
            dir.to_str().expect("utf-8 path"),
            "--json",
            json_path.to_str().expect("utf-8 path"),
        ])
        .env("PATH", &dir)
        .output()
        .expect("the study binary runs");
    let stdout = succeeded(&out);
    let note = "instructions: skipped, `valgrind` is not installed";
    assert!(stdout.contains(note), "{stdout}");
    let study = json::read(&json_path).expect("the JSON parses");
    assert!(study.results.is_empty(), "{:?}", study.results);
    assert!(
        study.notes.iter().any(|n| n.contains(note)),
        "{:?}",
        study.notes
    );
    assert_eq!(instructions::CONTESTANTS.len(), 5);
    std::fs::remove_dir_all(&dir).ok();
}

fn study_render(json: &std::path::Path, out: &std::path::Path) -> Output {
    let (json, out) = (json.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    study(&["render", json, "--out", out])
}
