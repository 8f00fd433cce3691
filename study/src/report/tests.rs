//! The renderings on a small synthetic study.

use super::*;
use crate::params;
use plotters::style::RGBColor;

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

#[test]
fn every_contestant_has_a_family() {
    let mut names: Vec<&str> = Vec::new();
    let switch = crate::switch::contestants();
    names.extend(switch.iter().map(|c| c.name()));
    let create = crate::create::contestants();
    names.extend(create.iter().map(|c| c.name()));
    names.extend(crate::channel::names());
    names.extend(crate::memory::contestants().iter().map(|c| c.0));
    names.extend(crate::echo::servers().iter().map(|s| s.name()));
    names.extend(crate::http::servers().iter().map(|s| s.name()));
    for name in names {
        assert!(
            family(name).is_some(),
            "{name} is in no family: add it to FAMILIES"
        );
    }
    assert_eq!(family("coro-asm"), Some(Family::Jmpco));
    assert_eq!(family("coro-ucontext"), Some(Family::Notes));
    assert_eq!(family("thread-pool"), Some(Family::Notes));
    assert_eq!(family("tokio-mt"), Some(Family::Peer));
    assert_eq!(family("jmpco-sjlj-mt"), Some(Family::Jmpco));
    assert_eq!(family("std-mpsc"), Some(Family::Notes));
}

/// A study holding only the channel bench's three scenarios.
fn channel_study() -> Study {
    let rec = |bench: &str, who: &str, metric: &str, v: f64| {
        Record::new(
            bench,
            who,
            metric,
            params! {"rounds" => 1000},
            &[v, v * 1.2, v * 0.9],
        )
    };
    let mut s = study();
    s.results = vec![
        rec("channel", "jmpco-sjlj", "round_trip_ns", 560.0),
        rec("channel", "jmpco-asm", "round_trip_ns", 530.0),
        rec("channel", "tokio", "round_trip_ns", 240.0),
        rec("channel", "std-mpsc", "round_trip_ns", 2400.0),
        rec("channel-2w", "jmpco-sjlj-mt", "round_trip_ns", 3000.0),
        rec("channel-2w", "tokio-mt", "round_trip_ns", 270.0),
        rec("mutex", "jmpco-sjlj", "handoff_ns", 300.0),
        rec("mutex", "tokio", "handoff_ns", 200.0),
    ];
    s
}

#[test]
fn channel_tables_have_a_row_per_contestant_and_ratios_to_tokio() {
    let study = channel_study();
    let text = table::render(&study);
    for (bench, title) in [
        ("[channel]", "two tasks on one worker"),
        ("[channel-2w]", "two tasks on two workers"),
        ("[mutex]", "100 tasks on one worker"),
    ] {
        let line = text
            .lines()
            .find(|l| l.ends_with(bench))
            .unwrap_or_else(|| panic!("no {bench} table: {text}"));
        assert!(line.contains(title), "{line}");
    }
    assert!(
        text.contains("vs tokio") && text.contains("vs tokio-mt"),
        "{text}"
    );
    let row = |who: &str, after: &str| {
        let table = &text[text.find(after).expect("the table")..];
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(who))
            .unwrap_or_else(|| panic!("no {who} row under {after}: {text}"))
            .to_string()
    };
    assert!(row("jmpco-sjlj", "[channel]").ends_with("2.33x"), "{text}");
    assert!(row("std-mpsc", "[channel]").ends_with("10.00x"), "{text}");
    assert!(
        row("jmpco-sjlj-mt", "[channel-2w]").ends_with("11.11x"),
        "{text}"
    );
    assert!(row("jmpco-sjlj", "[mutex]").ends_with("1.50x"), "{text}");
    let md = markdown::render(&study, &[]);
    assert!(
        md.contains("[channel-2w]") && md.contains("[mutex]"),
        "{md}"
    );
}

#[test]
fn each_channel_scenario_gets_its_chart() {
    let dir = std::env::temp_dir().join(format!("jmpco-study-channel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let charts = svg::write_all(&channel_study(), &dir).expect("charts");
    let names: Vec<String> = charts
        .iter()
        .map(|p| {
            p.file_name()
                .expect("a file")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["channel.svg", "channel-2w.svg", "mutex.svg"]);
    let text = std::fs::read_to_string(dir.join("channel.svg")).expect("svg");
    assert!(
        text.contains("std-mpsc") && text.contains("ratio to tokio"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn orders_of_magnitude_get_a_log_axis_with_readable_ticks() {
    let s = svg::Scale::for_values(2.9, 6851.7);
    assert!(s.log, "{s:?}");
    let ticks: Vec<String> = s
        .ticks()
        .iter()
        .map(|t| svg::tick_label(Unit::Nanos, *t))
        .collect();
    assert_eq!(ticks, ["1 ns", "10 ns", "100 ns", "1 µs", "10 µs"]);
    let us: Vec<String> = svg::Scale::for_values(1399.8, 568_852.5)
        .ticks()
        .iter()
        .map(|t| svg::tick_label(Unit::Micros, *t))
        .collect();
    assert_eq!(us, ["1 ms", "10 ms", "100 ms", "1 s"]);
}

#[test]
fn small_ratios_get_a_linear_axis_from_zero() {
    let s = svg::Scale::for_values(37_225.0, 112_524.0);
    assert!(!s.log && s.lo == 0.0, "{s:?}");
    let ticks: Vec<String> = s
        .ticks()
        .iter()
        .map(|t| svg::tick_label(Unit::PerSecond, *t))
        .collect();
    assert_eq!(ticks, ["0", "20k", "40k", "60k", "80k", "100k", "120k"]);
    assert!((s.frac(60_000.0) - 0.5).abs() < 1e-9);
    let kib = svg::Scale::for_values(4.05, 25.6);
    assert!(
        !kib.log && kib.hi >= 25.6 && kib.ticks().len() <= 8,
        "{kib:?}"
    );
}

#[test]
fn values_print_with_their_units() {
    assert_eq!(svg::value_label(Unit::Nanos, 4.18), "4.18 ns");
    assert_eq!(svg::value_label(Unit::Nanos, 6402.3), "6.40 µs");
    assert_eq!(svg::value_label(Unit::Micros, 568_852.5), "569 ms");
    assert_eq!(svg::value_label(Unit::PerSecond, 91_190.0), "91.2k req/s");
    assert_eq!(svg::value_label(Unit::Kib, 4.05), "4.05 KiB");
}

#[test]
fn charts_name_units_families_machine_and_date() {
    let study = study();
    let dir = std::env::temp_dir().join(format!("jmpco-study-svg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let echo = VIEWS.iter().find(|v| v.bench == "echo").expect("echo view");
    let path = dir.join("echo.svg");
    assert!(svg::chart(&study, echo, &path).expect("drawn"));
    let text = std::fs::read_to_string(&path).expect("svg");
    assert!(text.contains("100 connections"), "grouped: {text}");
    assert!(
        text.contains("k req/s") && !text.contains("req_per_s"),
        "{text}"
    );
    assert!(text.contains("the notes&apos;") || text.contains("the notes'"));
    assert!(text.contains("peer crates"));
    assert!(text.contains(&study.machine.date[..10]), "dated: {text}");
    assert!(text.contains("1.25x"), "tokio / sync: {text}");
    let fill = |f| {
        let RGBColor(r, g, b) = svg::colour(Some(f));
        format!("#{r:02X}{g:02X}{b:02X}")
    };
    assert!(text.contains(&fill(Family::Notes)) && text.contains(&fill(Family::Peer)));
    let switch = VIEWS
        .iter()
        .find(|v| v.bench == "switch")
        .expect("switch view");
    let path = dir.join("switch.svg");
    assert!(svg::chart(&study, switch, &path).expect("drawn"));
    let text = std::fs::read_to_string(&path).expect("svg");
    assert!(text.contains("log scale") && text.contains("10 ns") && !text.contains("100000.0"));
    std::fs::remove_dir_all(&dir).ok();
}
