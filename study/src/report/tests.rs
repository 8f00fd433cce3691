//! The renderings on a small synthetic study.

use super::*;
use crate::params;

fn study() -> Study {
    let rec = |bench: &str, who: &str, metric: &str, p, v: f64| {
        Record::new(bench, who, metric, p, &[v, v * 1.1])
    };
    let conns = || params! {"connections" => 100, "size" => 512};
    Study {
        machine: Machine::detect(),
        build: Build::current(),
        preset: "quick".into(),
        command: "jmpco-study".into(),
        wall_s: 1.0,
        results: vec![
            rec("switch", "sjlj", "round_trip_ns", params! {}, 20.0),
            rec("switch", "ucontext", "round_trip_ns", params! {}, 500.0),
            rec("switch", "thread", "round_trip_ns", params! {}, 5000.0),
            rec("memory", "sjlj", "rss_kib_per_item", params! {}, 4.5),
            rec("memory", "sjlj", "vsz_kib_per_item", params! {}, 68.0),
            rec("memory", "thread", "rss_kib_per_item", params! {}, 12.0),
            rec("memory", "thread", "vsz_kib_per_item", params! {}, 8200.0),
            rec(
                "memory",
                "thread",
                "kernel_stack_kib_per_item",
                params! {},
                16.0,
            ),
            rec("echo", "sync", "req_per_s", conns(), 40_000.0),
            rec("echo", "tokio", "req_per_s", conns(), 50_000.0),
            rec("echo", "tokio", "p99_us", conns(), 900.0),
            rec("echo-slow", "sync", "p99_us", conns(), 400_000.0),
        ],
        notes: vec!["a note".into()],
    }
}

#[test]
fn table_shows_header_ratios_and_notes() {
    let text = table::render(&study());
    assert!(text.contains("machine: ") && text.contains("build: ") && text.contains("C shim: "));
    assert!(text.contains("vs sjlj"), "{text}");
    assert!(text.contains("250x"), "thread / sjlj: {text}");
    assert!(text.contains("1.25x"), "tokio / sync: {text}");
    assert!(text.contains("a note"));
}

#[test]
fn markdown_restates_every_claim_and_marks_the_unmeasured() {
    let md = markdown::render(&study(), &["switch.svg".into()]);
    assert!(md.contains("about 8 MiB"));
    assert!(md.contains("kernel switch costs 250x"), "{md}");
    assert!(
        md.contains("not measured in this run"),
        "the thread pool did not run: {md}"
    );
    assert!(md.contains("![switch.svg](switch.svg)"));
}

#[test]
fn json_round_trips_with_the_schema_fields() {
    let dir = std::env::temp_dir().join(format!("jmpco-study-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("r.json");
    json::write(&study(), &path).expect("written");
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    for key in ["machine", "build", "results"] {
        assert!(value.get(key).is_some(), "{key}");
    }
    let first = &value["results"][0];
    for key in [
        "bench",
        "contestant",
        "metric",
        "params",
        "median",
        "min",
        "max",
        "runs",
    ] {
        assert!(first.get(key).is_some(), "{key}");
    }
    assert_eq!(
        json::read(&path).expect("parsed").results.len(),
        study().results.len()
    );
    let charts = svg::write_all(&study(), &dir).expect("charts");
    assert_eq!(charts.len(), 4, "switch, memory, echo, echo-slow");
    let svg = std::fs::read_to_string(&charts[0]).expect("svg");
    assert!(svg.starts_with("<svg") && svg.contains("sjlj"));
    std::fs::remove_dir_all(&dir).ok();
}
