//! `--json FILE`: the [`Study`] as JSON — `machine`, `build`, `results`
//! (bench, contestant, metric, params, median, min, max, runs) and extras.

use std::path::Path;

use anyhow::{Context, Result};

use super::Study;

/// Writes `study` to `path`, pretty-printed.
pub fn write(study: &Study, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(study)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Reads a study written by [`write()`].
pub fn read(path: &Path) -> Result<Study> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}
