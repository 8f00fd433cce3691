//! The terminal report: a header naming the machine, the build and the date,
//! then one fixed-width table per bench with ratios against its baseline,
//! then the notes.

use std::fmt::Write;

use super::{Study, View, VIEWS};

/// The header: preset, date, machine, build, method.
pub fn header(study: &Study) -> String {
    let m = &study.machine;
    let b = &study.build;
    let rustflags = if b.rustflags.is_empty() {
        "none"
    } else {
        &b.rustflags
    };
    format!(
        "jmpco-study, {} preset, {}\n\
         machine: {}, {} cores, Linux {}, glibc {}, {} MiB, load average {} at start\n\
         build:   {} (opt-level {}), {}, target {}, RUSTFLAGS {}\n\
         C shim:  {}; {}\n\
         method:  each figure is the median of its runs [min..max in the JSON]; \
         ratios are against the baseline named, from this one run\n",
        study.preset,
        m.date,
        m.cpu,
        m.cores,
        m.kernel,
        m.glibc,
        m.memory_mib,
        m.load_avg,
        b.profile,
        b.opt_level,
        b.rustc,
        b.target,
        rustflags,
        b.cc,
        b.c_flags,
    )
}

/// The whole report: header, a table per bench that has results, notes.
pub fn render(study: &Study) -> String {
    let mut out = header(study);
    for view in &VIEWS {
        if let Some(table) = bench_table(study, view) {
            out.push('\n');
            out.push_str(&table);
        }
    }
    if !study.notes.is_empty() {
        out.push_str("\nnotes:\n");
        for note in &study.notes {
            let _ = writeln!(out, "  - {note}");
        }
    }
    let _ = writeln!(out, "\nmeasured in {:.0} s", study.wall_s);
    out
}

/// A ratio with two significant digits or more: `136x`, `1.55x`, `0.0017x`.
pub fn format_ratio(r: f64) -> String {
    if !r.is_finite() || r <= 0.0 {
        return format!("{r}x");
    }
    let decimals = (1.0 - r.log10().floor()).clamp(0.0, 6.0) as usize;
    format!("{r:.*}x", decimals.max(if r < 100.0 { 2 } else { 0 }))
}

/// One bench's table, or `None` if it has no results.
pub fn bench_table(study: &Study, view: &View) -> Option<String> {
    let rows = view.rows(study);
    if rows.is_empty() {
        return None;
    }
    let mut header: Vec<String> = Vec::new();
    if let Some(group) = view.group_by {
        header.push(group.into());
    }
    header.push("contestant".into());
    header.extend(view.columns.iter().map(|c| c.header.to_string()));
    let ratio_header = match rows.iter().find_map(|r| r.ratio.map(|(_, b)| b)) {
        Some(base) => format!("vs {base}"),
        None => "ratio".into(),
    };
    header.push(ratio_header);
    let mut cells: Vec<Vec<String>> = vec![header];
    for row in &rows {
        let mut line = Vec::new();
        if view.group_by.is_some() {
            line.push(row.group.map_or("-".into(), |g| g.to_string()));
        }
        line.push(row.contestant.to_string());
        for c in view.columns {
            line.push(match view.value(study, row, c) {
                Some(v) => format!("{v:.*}", c.decimals),
                None => "-".into(),
            });
        }
        line.push(row.ratio.map_or("-".into(), |(r, _)| format_ratio(r)));
        cells.push(line);
    }
    let labels = 1 + usize::from(view.group_by.is_some());
    let widths: Vec<usize> = (0..cells[0].len())
        .map(|i| cells.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = format!("{} [{}]\n", view.title, view.bench);
    for line in &cells {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            if i < labels {
                let _ = write!(text, "{cell:<w$}", w = widths[i]);
            } else {
                let _ = write!(text, "{cell:>w$}", w = widths[i]);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_keep_two_significant_digits() {
        assert_eq!(format_ratio(136.2), "136x");
        assert_eq!(format_ratio(1.554), "1.55x");
        assert_eq!(format_ratio(0.00166), "0.0017x");
        assert_eq!(format_ratio(0.5), "0.50x");
    }
}
