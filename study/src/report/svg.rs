//! One SVG chart per bench (plotters' SVG backend, used as a canvas): a
//! horizontal bar per contestant at the median of the bench's primary
//! metric, a whisker from the fastest to the slowest run, the value and its
//! ratio to the baseline beside it. Rows are grouped by connection count;
//! each [`Family`] has one colour, named in the legend; the title is the
//! question the chart answers ([`super::Chart`]), the caption names the machine,
//! the date and the command.
//!
//! The axis is linear from zero unless the bars span orders of magnitude
//! (the switch: a 4 ns asm round trip against a 6 µs thread hand-off), and
//! then logarithmic with a tick per decade (`1 ns`, `10 ns`, ... `10 µs`).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::table::format_ratio;
use super::{family, Family, Study, Unit, View, VIEWS};

/// Writes `<dir>/<bench>.svg` for every bench with results; returns the paths.
pub fn write_all(study: &Study, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for view in &VIEWS {
        let path = dir.join(format!("{}.svg", view.bench));
        if chart(study, view, &path)? {
            paths.push(path);
        }
    }
    Ok(paths)
}

/// A colour per family (Okabe–Ito: told apart by colour-blind readers too),
/// and grey for a contestant [`super::FAMILIES`] does not name.
pub fn colour(family: Option<Family>) -> RGBColor {
    match family {
        Some(Family::Jmpco) => RGBColor(0x00, 0x72, 0xB2),
        Some(Family::Notes) => RGBColor(0xE6, 0x9F, 0x00),
        Some(Family::Peer) => RGBColor(0x00, 0x9E, 0x73),
        None => RGBColor(0x99, 0x99, 0x99),
    }
}

/// One bar of a chart.
#[derive(Clone, Debug)]
struct Bar {
    group: Option<u64>,
    contestant: String,
    family: Option<Family>,
    median: f64,
    min: f64,
    max: f64,
    runs: usize,
    /// The ratio to the group's baseline, unless this is the baseline.
    ratio: Option<f64>,
    /// [`super::Chart::stacked`]'s value, drawn after the median.
    stacked: Option<f64>,
    /// [`super::Chart::reference`]'s value, marked on the bar.
    reference: Option<f64>,
}

impl Bar {
    /// Where the bar's drawing ends on the value axis.
    fn end(&self) -> f64 {
        let top = self.median + self.stacked.unwrap_or(0.0);
        top.max(self.max).max(self.reference.unwrap_or(0.0))
    }
}

/// The bars of `view` in `study`: grouped by connection count, and within a
/// group jmpco first, then the notes' designs, then the peers, each in the
/// order they ran.
fn bars(study: &Study, view: &View) -> (Vec<Bar>, Option<String>) {
    let mut baseline = None;
    let mut bars: Vec<Bar> = view
        .rows(study)
        .iter()
        .filter_map(|row| {
            let r = row.primary?;
            let ratio = row.ratio.and_then(|(ratio, base)| {
                baseline.get_or_insert_with(|| base.to_string());
                (base != row.contestant).then_some(ratio)
            });
            let other = |bench: &str, metric: &str| {
                study
                    .results
                    .iter()
                    .find(|o| {
                        o.bench == bench
                            && o.contestant == row.contestant
                            && o.metric == metric
                            && view.group_by.and_then(|k| o.param_u64(k)) == row.group
                    })
                    .map(|o| o.median)
            };
            Some(Bar {
                group: row.group,
                contestant: row.contestant.to_string(),
                family: family(row.contestant),
                median: r.median,
                min: r.min,
                max: r.max,
                runs: r.runs,
                ratio,
                stacked: view
                    .chart
                    .stacked
                    .and_then(|(metric, _)| other(view.bench, metric))
                    .filter(|v| *v > 0.0),
                reference: view
                    .chart
                    .reference
                    .and_then(|(bench, _)| other(bench, view.primary)),
            })
        })
        .filter(|b| b.median.is_finite() && b.median >= 0.0)
        .collect();
    let rank = |f: Option<Family>| f.map_or(Family::ALL.len(), |f| f as usize);
    bars.sort_by_key(|b| (b.group, rank(b.family)));
    (bars, baseline)
}

/// A value axis: linear from zero, or logarithmic over whole decades.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    /// Logarithmic.
    pub log: bool,
    /// The left end (above zero when logarithmic).
    pub lo: f64,
    /// The right end.
    pub hi: f64,
}

impl Scale {
    /// The axis for bars whose smallest value is `min` and largest `max`:
    /// logarithmic when they differ by 50x or more, else linear from zero
    /// with round ticks.
    pub fn for_values(min: f64, max: f64) -> Scale {
        let max = if max > 0.0 { max } else { 1.0 };
        if min > 0.0 && max / min >= 50.0 {
            let lo = 10f64.powf(min.log10().floor());
            let hi = 10f64.powf(max.log10().ceil());
            return Scale {
                log: true,
                lo,
                hi: if hi > lo { hi } else { lo * 10.0 },
            };
        }
        let step = linear_step(max);
        Scale {
            log: false,
            lo: 0.0,
            hi: (max / step).ceil().max(1.0) * step,
        }
    }

    /// Where `v` falls, 0 at the left end and 1 at the right.
    pub fn frac(&self, v: f64) -> f64 {
        let f = if self.log {
            (v.max(self.lo).ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        f.clamp(0.0, 1.0)
    }

    /// The labelled ticks: every decade, or round steps from zero.
    pub fn ticks(&self) -> Vec<f64> {
        let mut ticks = Vec::new();
        if self.log {
            let mut t = self.lo;
            while t <= self.hi * 1.000_001 {
                ticks.push(t);
                t *= 10.0;
            }
        } else {
            let step = linear_step(self.hi);
            let mut i = 0.0;
            while i * step <= self.hi * 1.000_001 {
                ticks.push(i * step);
                i += 1.0;
            }
        }
        ticks
    }

    /// Unlabelled grid lines between the ticks: 2x .. 9x each decade.
    pub fn minor_ticks(&self) -> Vec<f64> {
        if !self.log {
            return Vec::new();
        }
        let mut minor = Vec::new();
        let mut decade = self.lo;
        while decade < self.hi {
            minor.extend((2..10).map(|k| decade * f64::from(k)));
            decade *= 10.0;
        }
        minor
    }
}

/// A round step (1, 2, 2.5 or 5 times a power of ten) giving 4 to 8 ticks
/// up to `max`.
fn linear_step(max: f64) -> f64 {
    let raw = max / 5.0;
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| max / s <= 7.0)
        .unwrap_or(10.0 * p)
}

/// `v` with three significant digits: `4.18`, `43.9`, `720`.
fn significant(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// [`significant`] without trailing zeros: `1`, `2.5`, `10`.
fn trimmed(v: f64) -> String {
    let s = significant(v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A time in nanoseconds with the unit that keeps it short.
fn time(ns: f64, digits: fn(f64) -> String) -> String {
    let (v, unit) = if ns.abs() < 1e3 {
        (ns, "ns")
    } else if ns.abs() < 1e6 {
        (ns / 1e3, "µs")
    } else if ns.abs() < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    format!("{} {unit}", digits(v))
}

/// A bar's value: `4.18 ns`, `6.40 µs`, `91.2k req/s`, `4.05 KiB`.
pub fn value_label(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Nanos => time(v, significant),
        Unit::Micros => time(v * 1e3, significant),
        Unit::PerSecond if v >= 1e3 => format!("{}k req/s", significant(v / 1e3)),
        Unit::PerSecond => format!("{} req/s", significant(v)),
        Unit::Kib => format!("{} KiB", significant(v)),
        Unit::Count if v >= 1e3 => format!("{}k", significant(v / 1e3)),
        Unit::Count => significant(v),
    }
}

/// A tick's label: `1 ns`, `10 µs`, `40k`, `5 KiB`.
pub fn tick_label(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Nanos => time(v, trimmed),
        Unit::Micros => time(v * 1e3, trimmed),
        Unit::PerSecond if v >= 1e3 => format!("{}k", trimmed(v / 1e3)),
        Unit::PerSecond => trimmed(v),
        Unit::Kib => format!("{} KiB", trimmed(v)),
        Unit::Count if v >= 1e3 => format!("{}k", trimmed(v / 1e3)),
        Unit::Count => trimmed(v),
    }
}

/// The axis' unit, named in its description.
fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::Nanos | Unit::Micros | Unit::Count => "",
        Unit::PerSecond => "k req/s",
        Unit::Kib => "KiB",
    }
}

/// The caption: machine, date, preset and command, and how to read a bar.
fn caption(study: &Study, runs: usize) -> [String; 2] {
    let m = &study.machine;
    let cpu = m.cpu.replace("(R)", "").replace("(TM)", "");
    let cpu = cpu.split_whitespace().collect::<Vec<_>>().join(" ");
    let date = m.date.get(..16).unwrap_or(&m.date);
    [
        format!(
            "{cpu}, {} cores, Linux {}; {date} UTC; {} preset, command: {}",
            m.cores, m.kernel, study.preset, study.command
        ),
        format!(
            "Bar: median of {runs} run{}; whisker: fastest to slowest run.",
            if runs == 1 { "" } else { "s" }
        ),
    ]
}

/// An estimate of a text's width in pixels at `size` (plotters' SVG font
/// size, which it divides by 1.24): sans-serif averages ~0.55 em a glyph,
/// bold ~0.65.
fn text_width(text: &str, size: f64, bold: bool) -> i32 {
    let em = if bold { 0.65 } else { 0.55 };
    (text.chars().count() as f64 * size / 1.24 * em).ceil() as i32
}

/// A group's heading: `100 connections`.
fn group_header(group: Option<u64>, key: Option<&str>) -> Option<String> {
    Some(format!("{} {}", group?, key?))
}

const WIDTH: i32 = 940;
const ROW: i32 = 24;
const GROUP_HEADER: i32 = 26;
const TOP: i32 = 88;
const BOTTOM: i32 = 84;
const VALUE_ROOM: i32 = 220;

/// Draws one bench; `false` if it has nothing to draw.
pub fn chart(study: &Study, view: &View, path: &Path) -> Result<bool> {
    let (bars, baseline) = bars(study, view);
    if bars.is_empty() {
        return Ok(false);
    }
    let positive = |v: f64| (v > 0.0).then_some(v);
    let min = bars
        .iter()
        .filter_map(|b| positive(b.median))
        .fold(f64::MAX, f64::min);
    let max = bars.iter().map(Bar::end).fold(0.0, f64::max);
    let scale = Scale::for_values(if min == f64::MAX { 0.0 } else { min }, max);

    let groups: Vec<Option<u64>> = bars.iter().fold(Vec::new(), |mut g, b| {
        if g.last() != Some(&b.group) {
            g.push(b.group);
        }
        g
    });
    let headed = view.group_by.is_some();
    let label_room = bars
        .iter()
        .map(|b| text_width(&b.contestant, 16.0, false) + 24)
        .chain(
            groups
                .iter()
                .filter_map(|g| group_header(*g, view.group_by))
                .map(|h| text_width(&h, 15.0, true) + 24),
        )
        .max()
        .unwrap_or(0)
        .max(110);
    let plot_left = label_room;
    let plot_right = WIDTH - VALUE_ROOM;
    let rows_height = ROW * bars.len() as i32
        + if headed {
            GROUP_HEADER * groups.len() as i32
        } else {
            8
        };
    let height = TOP + rows_height + BOTTOM;
    let plot_bottom = TOP + rows_height;
    let x_of =
        |v: f64| plot_left + ((plot_right - plot_left) as f64 * scale.frac(v)).round() as i32;

    let root = SVGBackend::new(path, (WIDTH as u32, height as u32)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let draw = Drawer { root: &root };

    // Title, the ratio's baseline, the legend.
    draw.text(
        view.chart.question,
        (16, 22),
        20.0,
        &BLACK,
        HPos::Left,
        true,
    )
    .map_err(|e| err(&e))?;
    let ratio_note = match &baseline {
        Some(b) => format!("; beside each: the ratio to {b}"),
        None => String::new(),
    };
    let scale_note = if scale.log { ", log scale" } else { "" };
    draw.text(
        &format!("{}{scale_note}{ratio_note}", view.chart.axis),
        (16, 44),
        15.0,
        &RGBColor(0x44, 0x44, 0x44),
        HPos::Left,
        false,
    )
    .map_err(|e| err(&e))?;
    let mut x = 16;
    for f in Family::ALL
        .iter()
        .map(|f| Some(*f))
        .chain(std::iter::once(None))
    {
        if !bars.iter().any(|b| b.family == f) {
            continue;
        }
        let name = f.map_or("other", Family::label);
        draw.swatch((x, 66), &colour(f)).map_err(|e| err(&e))?;
        draw.text(name, (x + 18, 66), 15.0, &BLACK, HPos::Left, false)
            .map_err(|e| err(&e))?;
        x += 18 + text_width(name, 15.0, false) + 22;
    }
    if let Some((_, what)) = view.chart.stacked {
        if bars.iter().any(|b| b.stacked.is_some()) {
            draw.stacked_swatch((x, 66)).map_err(|e| err(&e))?;
            let name = format!("+ {what}");
            draw.text(&name, (x + 18, 66), 15.0, &BLACK, HPos::Left, false)
                .map_err(|e| err(&e))?;
            x += 18 + text_width(&name, 15.0, false) + 22;
        }
    }
    if let Some((_, what)) = view.chart.reference {
        if bars.iter().any(|b| b.reference.is_some()) {
            draw.diamond((x + 6, 66)).map_err(|e| err(&e))?;
            draw.text(what, (x + 18, 66), 15.0, &BLACK, HPos::Left, false)
                .map_err(|e| err(&e))?;
        }
    }

    // The grid and the axis.
    let grid = RGBColor(0xDD, 0xDD, 0xDD);
    let faint = RGBColor(0xEE, 0xEE, 0xEE);
    for t in scale.minor_ticks() {
        let x = x_of(t);
        draw.line((x, TOP), (x, plot_bottom), &faint, 1)
            .map_err(|e| err(&e))?;
    }
    for t in scale.ticks() {
        let x = x_of(t);
        draw.line((x, TOP), (x, plot_bottom), &grid, 1)
            .map_err(|e| err(&e))?;
        draw.text(
            &tick_label(view.chart.unit, t),
            (x, plot_bottom + 14),
            14.0,
            &BLACK,
            HPos::Center,
            false,
        )
        .map_err(|e| err(&e))?;
    }
    draw.line((plot_left, TOP), (plot_left, plot_bottom), &BLACK, 1)
        .map_err(|e| err(&e))?;
    draw.line(
        (plot_left, plot_bottom),
        (plot_right, plot_bottom),
        &BLACK,
        1,
    )
    .map_err(|e| err(&e))?;
    let unit = [
        unit_name(view.chart.unit),
        scale_note.trim_start_matches(", "),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(", ");
    let axis = if unit.is_empty() {
        view.chart.axis.to_string()
    } else {
        format!("{} ({unit})", view.chart.axis)
    };
    draw.text(
        &axis,
        ((plot_left + plot_right) / 2, plot_bottom + 36),
        15.0,
        &BLACK,
        HPos::Center,
        false,
    )
    .map_err(|e| err(&e))?;

    // The rows.
    let mut y = TOP + if headed { 0 } else { 4 };
    let mut last_group = None;
    for bar in &bars {
        if headed && last_group != Some(bar.group) {
            last_group = Some(bar.group);
            let header = group_header(bar.group, view.group_by).unwrap_or_default();
            if y > TOP {
                draw.line((8, y + 2), (plot_right, y + 2), &grid, 1)
                    .map_err(|e| err(&e))?;
            }
            draw.text(
                &header,
                (12, y + GROUP_HEADER / 2 + 3),
                15.0,
                &BLACK,
                HPos::Left,
                true,
            )
            .map_err(|e| err(&e))?;
            y += GROUP_HEADER;
        }
        let mid = y + ROW / 2;
        let c = colour(bar.family);
        draw.text(
            &bar.contestant,
            (plot_left - 8, mid),
            16.0,
            &BLACK,
            HPos::Right,
            false,
        )
        .map_err(|e| err(&e))?;
        let end = x_of(bar.median);
        draw.rect((plot_left, mid - 8), (end.max(plot_left + 1), mid + 8), &c)
            .map_err(|e| err(&e))?;
        let mut label = value_label(view.chart.unit, bar.median);
        if let Some(extra) = bar.stacked {
            let top = x_of(bar.median + extra);
            draw.rect((end, mid - 8), (top, mid + 8), &c.mix(0.35))
                .map_err(|e| err(&e))?;
            draw.hollow_rect((end, mid - 8), (top, mid + 8), &c)
                .map_err(|e| err(&e))?;
            if let Some((_, what)) = view.chart.stacked {
                label = format!("{label} + {} {what}", value_label(view.chart.unit, extra));
            }
        }
        if bar.max > bar.min {
            let (a, b) = (x_of(bar.min), x_of(bar.max));
            draw.line((a, mid), (b, mid), &BLACK, 1)
                .map_err(|e| err(&e))?;
            draw.line((a, mid - 4), (a, mid + 4), &BLACK, 1)
                .map_err(|e| err(&e))?;
            draw.line((b, mid - 4), (b, mid + 4), &BLACK, 1)
                .map_err(|e| err(&e))?;
        }
        if let Some(r) = bar.reference {
            draw.diamond((x_of(r), mid)).map_err(|e| err(&e))?;
            label = format!("{label} (without: {})", value_label(view.chart.unit, r));
        }
        let after = x_of(bar.end()) + 8;
        draw.text(&label, (after, mid), 15.0, &BLACK, HPos::Left, false)
            .map_err(|e| err(&e))?;
        if let Some(r) = bar.ratio {
            draw.text(
                &format_ratio(r),
                (after + text_width(&label, 15.0, false) + 8, mid),
                15.0,
                &RGBColor(0x66, 0x66, 0x66),
                HPos::Left,
                false,
            )
            .map_err(|e| err(&e))?;
        }
        y += ROW;
    }

    // The caption.
    let runs = bars.iter().map(|b| b.runs).max().unwrap_or(1);
    for (i, line) in caption(study, runs).iter().enumerate() {
        draw.text(
            line,
            (16, height - 28 + 16 * i as i32),
            13.0,
            &RGBColor(0x55, 0x55, 0x55),
            HPos::Left,
            false,
        )
        .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(true)
}

type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// The few shapes the charts are made of, in pixels.
struct Drawer<'a, 'b> {
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
}

impl Drawer<'_, '_> {
    fn text(
        &self,
        text: &str,
        at: (i32, i32),
        size: f64,
        colour: &RGBColor,
        h: HPos,
        bold: bool,
    ) -> DrawResult {
        let font = if bold {
            ("sans-serif", size).into_font().style(FontStyle::Bold)
        } else {
            ("sans-serif", size).into_font()
        };
        let style = TextStyle::from(font)
            .color(colour)
            .pos(Pos::new(h, VPos::Center));
        self.root.draw(&Text::new(text.to_string(), at, style))
    }

    fn line(&self, a: (i32, i32), b: (i32, i32), colour: &RGBColor, width: u32) -> DrawResult {
        self.root
            .draw(&PathElement::new(vec![a, b], colour.stroke_width(width)))
    }

    fn rect<C: Color>(&self, a: (i32, i32), b: (i32, i32), colour: &C) -> DrawResult {
        self.root.draw(&Rectangle::new([a, b], colour.filled()))
    }

    fn hollow_rect(&self, a: (i32, i32), b: (i32, i32), colour: &RGBColor) -> DrawResult {
        self.root
            .draw(&Rectangle::new([a, b], colour.stroke_width(1)))
    }

    fn swatch(&self, at: (i32, i32), colour: &RGBColor) -> DrawResult {
        self.rect((at.0, at.1 - 6), (at.0 + 12, at.1 + 6), colour)
    }

    fn stacked_swatch(&self, at: (i32, i32)) -> DrawResult {
        let c = RGBColor(0x77, 0x77, 0x77);
        self.rect((at.0, at.1 - 6), (at.0 + 12, at.1 + 6), &c.mix(0.35))?;
        self.hollow_rect((at.0, at.1 - 6), (at.0 + 12, at.1 + 6), &c)
    }

    fn diamond(&self, at: (i32, i32)) -> DrawResult {
        let (x, y) = at;
        self.root.draw(&Polygon::new(
            vec![(x, y - 6), (x + 6, y), (x, y + 6), (x - 6, y)],
            BLACK.filled(),
        ))?;
        self.root.draw(&PathElement::new(
            vec![(x, y - 6), (x + 6, y), (x, y + 6), (x - 6, y), (x, y - 6)],
            WHITE.stroke_width(1),
        ))
    }
}
