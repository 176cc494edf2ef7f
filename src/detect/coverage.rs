//! INT003 and INT004 — whether anything was compared at all: a side with no rows, or too few
//! for any check to mean something, and a baseline that holds the data under test. Both exist so
//! that "no findings" never stands for "nothing was compared".

use std::collections::BTreeSet;

use serde_json::json;

use super::{Context, Detector, Finding, Param, Severity, evidence, pct};
use crate::profile::Profile;

/// The fewest rows a side needs: the label checks' smallest judged slice, below which no
/// statistical check here can reach its false discovery rate on a real effect.
pub const MIN_SIDE_ROWS: u64 = 30;
const SIDE_PARAMS: [Param; 1] = [Param {
    name: "min-rows",
    default: MIN_SIDE_ROWS as f64,
    min: 1.0,
    max: 1e12,
    doc: "fewest rows the current data and the baseline each need to be compared",
}];

/// A share of the current rows held byte for byte by the baseline at or above this is high.
pub const SELF_SHARE: f64 = 0.5;
const SELF_PARAMS: [Param; 1] = [Param {
    name: "share",
    default: SELF_SHARE,
    min: 0.0,
    max: 1.0,
    doc: "share of the current rows in files or row groups the baseline holds byte for byte that makes the finding high (any share is medium)",
}];

pub struct TooFewRows;

impl Detector for TooFewRows {
    fn code(&self) -> &'static str {
        "INT003"
    }
    fn check(&self) -> &'static str {
        "too-few-rows-to-compare"
    }
    fn doc(&self) -> &'static str {
        "What it finds: the current data, or the baseline, has no rows, or fewer than the checks \
need to mean anything (30 by default, the label checks' smallest slice).

Why it matters: every other check compares rows. With none, or a handful, they find nothing, \
and \"no findings\" would read as \"the data is clean\" when nothing was compared: an upstream \
job that wrote empty partitions, a filter that matched nothing, a baseline path that points at \
the wrong folder.

Example: `scan new/ --baseline trusted.psprof` where `new/` holds only empty files: high, \
\"the current data has no rows: nothing was compared\".

Defaults: high, so it fails the gate at the default `--fail-on high`. `--allow-empty` (or \
`allow_empty = true` in `poisonscan.toml`) keeps the finding in the report as info, for a \
pipeline where an empty increment is expected."
    }
    fn params(&self) -> &'static [Param] {
        &SIDE_PARAMS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let min = ctx.param(self.code(), &SIDE_PARAMS[0]).ceil() as u64;
        let severity = if ctx.params.allow_empty {
            Severity::Info
        } else {
            Severity::High
        };
        let sides = std::iter::once(("current data", "current", ctx.current))
            .chain(ctx.baseline.map(|b| ("baseline", "baseline", b)));
        sides
            .filter(|(_, _, p)| p.rows < min)
            .map(|(name, side, p)| {
                let title = if p.rows == 0 {
                    format!("the {name} has no rows: nothing was compared")
                } else {
                    format!(
                        "the {name} has only {} row{}: too few to compare ({} needed)",
                        p.rows,
                        if p.rows == 1 { "" } else { "s" },
                        crate::report::thousands(min)
                    )
                };
                let mut f = Finding::new(self.code(), self.check(), severity, 1.0, title);
                if side == "current" {
                    f.rows = p.rows;
                    f.sources = sources(p);
                } else {
                    f.baseline_rows = Some(p.rows);
                }
                f.evidence = evidence(vec![
                    ("side", json!(side)),
                    ("rows", json!(p.rows)),
                    ("files", json!(p.manifest.len())),
                    ("min_rows", json!(min)),
                    ("allowed", json!(ctx.params.allow_empty)),
                ]);
                f
            })
            .collect()
    }
}

/// A profile's source paths, in manifest order (at most 20, as evidence lists are kept short).
fn sources(p: &Profile) -> Vec<String> {
    p.manifest.iter().take(20).map(|m| m.path.clone()).collect()
}

pub struct BaselineHoldsCurrent;

impl Detector for BaselineHoldsCurrent {
    fn code(&self) -> &'static str {
        "INT004"
    }
    fn check(&self) -> &'static str {
        "baseline-holds-current-data"
    }
    fn doc(&self) -> &'static str {
        "What it finds: the baseline was built, at least in part, from the data under test: \
current files whose BLAKE3 content hash, or Parquet row groups whose xxh3-128 hash of their \
bytes, is one of the baseline's manifest, wherever they sit. The finding gives the share of the current rows they hold.

Why it matters: a gate compared against itself proves nothing. If the trusted profile was made \
from the data it now judges (a pipeline that profiles the new partition and then scans it \
against that profile, or a baseline folder that also holds the new files), every drift, label \
and trigger check compares rows with themselves and passes, whatever the rows hold; if only \
part of it was, every effect in the new data is diluted by the rows compared with themselves.

Example: `scan data/ --baseline data/`: high, \"the baseline holds 100% of the current rows \
byte for byte (3 of 3 files)\".

Defaults: high when at least half of the current rows sit in files or row groups the baseline \
holds byte for byte, else medium. INT002 names each such file or row group; this finding states \
what it means for the comparison as a whole. Batches held in memory have no content hash and \
are not judged."
    }
    fn params(&self) -> &'static [Param] {
        &SELF_PARAMS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(base) = ctx.baseline else {
            return Vec::new();
        };
        let cur = ctx.current;
        let files: BTreeSet<&str> = base
            .manifest
            .iter()
            .filter(|m| !m.blake3.is_empty())
            .map(|m| m.blake3.as_str())
            .collect();
        let groups: BTreeSet<&str> = base
            .manifest
            .iter()
            .flat_map(|m| m.row_groups.iter().map(|g| g.xxh3.as_str()))
            .filter(|h| !h.is_empty())
            .collect();
        let (mut rows, mut whole, mut partly, mut held) = (0u64, 0usize, 0usize, Vec::new());
        // Files without rows hold nothing to compare (identical empty parts are common).
        for m in cur
            .manifest
            .iter()
            .filter(|m| !m.blake3.is_empty() && m.rows > 0)
        {
            let r = if files.contains(m.blake3.as_str()) {
                whole += 1;
                m.rows
            } else {
                let r: u64 = m
                    .row_groups
                    .iter()
                    .filter(|g| groups.contains(g.xxh3.as_str()))
                    .map(|g| g.rows)
                    .sum();
                if r == 0 {
                    continue;
                }
                partly += 1;
                r
            };
            rows += r;
            held.push(m.path.clone());
        }
        if held.is_empty() {
            return Vec::new();
        }
        let share = rows as f64 / cur.rows.max(1) as f64;
        let severity = if share >= ctx.param(self.code(), &SELF_PARAMS[0]) {
            Severity::High
        } else {
            Severity::Medium
        };
        let files_text = match partly {
            0 => format!("{whole} of {} files", cur.manifest.len()),
            _ => format!(
                "{whole} whole and {partly} in part, of {} files",
                cur.manifest.len()
            ),
        };
        let mut f = Finding::new(
            self.code(),
            self.check(),
            severity,
            crate::report::round(share.clamp(0.0, 1.0)),
            format!(
                "the baseline holds {} of the current rows byte for byte ({files_text}): they are compared with themselves",
                pct(share)
            ),
        );
        f.rows = rows;
        f.baseline_rows = Some(base.rows);
        f.effect = Some(super::NamedValue {
            name: "share_of_current_rows".into(),
            value: crate::report::round(share),
        });
        f.evidence = evidence(vec![
            ("rows_held", json!(rows)),
            ("current_rows", json!(cur.rows)),
            ("files_held_whole", json!(whole)),
            ("files_held_in_part", json!(partly)),
            ("current_files", json!(cur.manifest.len())),
        ]);
        held.truncate(20);
        f.sources = held;
        vec![f]
    }
}
