//! The binary end to end on tiny inputs: errors exit with code 2 and say
//! why; a tiny run of every bench writes a JSON holding every contestant,
//! a chart per bench and the report.

use std::path::PathBuf;
use std::process::{Command, Output};

use jmpco_study::report::json;
use jmpco_study::{channel, create, echo, http, memory, switch};

fn study(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jmpco-study"))
        .args(args)
        .output()
        .expect("the study binary runs")
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
        "switch", "create", "channel", "memory", "echo", "http", "all", "--full", "--json",
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
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    }
    for s in echo::servers() {
        for metric in [
            "req_per_s",
            "p50_us",
            "p99_us",
            "p999_us",
            "rss_kib_per_conn",
        ] {
            assert!(has("echo", s.name(), metric), "echo {} {metric}", s.name());
        }
    }
    for who in ["sync", "coro-sjlj", "tokio", "thread-pool"] {
        assert!(has("echo-slow", who, "p99_us"), "echo-slow {who}");
    }
    if http::wrk_available() {
        for s in http::servers() {
            assert!(has("http", s.name(), "req_per_s"), "http {}", s.name());
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
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

fn study_render(json: &std::path::Path, out: &std::path::Path) -> Output {
    let (json, out) = (json.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    study(&["render", json, "--out", out])
}
