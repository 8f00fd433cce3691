//! One SVG chart per bench (plotters, SVG backend only): a horizontal bar
//! per contestant (and connection count) at its median of the bench's
//! primary metric, a whisker from the fastest to the slowest run, and the
//! value printed beside it. The axis is logarithmic: the contestants differ
//! by orders of magnitude (a 20 ns switch against a 5 µs hand-off).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use super::{Study, View, VIEWS};

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

/// Draws one bench; `false` if it has nothing to draw.
pub fn chart(study: &Study, view: &View, path: &Path) -> Result<bool> {
    let bars: Vec<(String, f64, f64, f64)> = view
        .rows(study)
        .iter()
        .filter_map(|row| {
            let r = row.primary?;
            let label = match row.group {
                Some(g) => format!("{} ({g})", row.contestant),
                None => row.contestant.to_string(),
            };
            Some((label, r.median, r.min, r.max))
        })
        .filter(|b| b.1 > 0.0)
        .collect();
    if bars.is_empty() {
        return Ok(false);
    }
    let lo = bars
        .iter()
        .map(|b| b.2.max(b.1 / 10.0))
        .fold(f64::MAX, f64::min)
        / 2.0;
    let hi = bars.iter().map(|b| b.3.max(b.1)).fold(0.0, f64::max) * 3.0;
    let height = 90 + 30 * bars.len() as u32;
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let group = view.group_by.map_or(String::new(), |g| format!(", by {g}"));
    let caption = format!("{} — {}{group}", view.title, view.primary);
    let n = bars.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(200)
        .build_cartesian_2d((lo.max(1e-3)..hi).log_scale(), (0..n).into_segmented())
        .map_err(|e| err(&e))?;
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .x_desc(view.primary)
        .draw()
        .map_err(|e| err(&e))?;
    let base = lo.max(1e-3);
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            let mut bar = Rectangle::new(
                [
                    (base, SegmentValue::Exact(i)),
                    (b.1, SegmentValue::Exact(i + 1)),
                ],
                BLUE.mix(0.5).filled(),
            );
            bar.set_margin(5, 5, 0, 0);
            bar
        }))
        .map_err(|e| err(&e))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            PathElement::new(
                vec![
                    (b.2, SegmentValue::CenterOf(i)),
                    (b.3, SegmentValue::CenterOf(i)),
                ],
                BLACK.stroke_width(2),
            )
        }))
        .map_err(|e| err(&e))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            Text::new(
                format!(" {}", pretty(b.1)),
                (b.3.max(b.1), SegmentValue::CenterOf(i)),
                ("sans-serif", 13),
            )
        }))
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(true)
}

/// A value with about three significant digits.
fn pretty(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
