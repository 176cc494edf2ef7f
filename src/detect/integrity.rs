//! INT — integrity and provenance: files changed since the baseline was profiled, and content
//! the baseline already holds (a replayed or stale partition).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Context, Detector, Finding, Param, Predicate, Severity, evidence, pct};
use crate::profile::{Profile, UNKNOWN_SEGMENT, row_key, segment_of};

/// A file whose rows are at least this share already in the baseline is replayed content.
pub const REPLAY_SHARE: f64 = 0.9;
/// … and at least this much above the baseline's own duplicate rate (what fresh rows of a
/// dataset with many natural duplicates would show).
pub const REPLAY_MARGIN: f64 = 0.5;
/// Files or row groups with fewer rows are judged by their fingerprints only when an exact test
/// says so many of their rows could not be baseline rows by chance.
pub const REPLAY_MIN_ROWS: u64 = 20;
/// The exact test's bar for a file or row group under `min-rows`: the chance that fresh rows
/// match the baseline that often, over all files and row groups judged (Bonferroni).
pub const REPLAY_SMALL_P: f64 = 1e-4;
const REPLAY_PARAMS: [Param; 3] = [
    Param {
        name: "share",
        default: REPLAY_SHARE,
        min: 0.0,
        max: 1.0,
        doc: "share of a file's or row group's rows already in the baseline that makes it a replay",
    },
    Param {
        name: "min-rows",
        default: REPLAY_MIN_ROWS as f64,
        min: 1.0,
        max: 1e12,
        doc: "smallest file or row group judged by its share alone",
    },
    Param {
        name: "small-p",
        default: REPLAY_SMALL_P,
        min: 0.0,
        max: 1.0,
        doc: "exact-test bar (over all files and row groups) for one under min-rows",
    },
];

pub struct Tampered;

impl Detector for Tampered {
    fn code(&self) -> &'static str {
        "INT001"
    }
    fn check(&self) -> &'static str {
        "file-changed-since-baseline"
    }
    fn doc(&self) -> &'static str {
        "What it finds: a file listed in the baseline's manifest is present again at the same path \
with different content (its BLAKE3 hash differs), so it was modified after the baseline was \
validated.

Why it matters: data that was reviewed and trusted has been rewritten in place: by a broken \
job, or by someone who wants the change to pass as the old file. The finding lists which row \
groups changed (by the xxh3-128 hash of each row group's bytes, which only localises the change: \
the verdict rests on the file's BLAKE3) and the row counts before and after.

Example: `data/part-3.parquet` was 20,000 rows with hash 3f2a… in the baseline; now it has \
20,150 rows and hash 91c0…: high.

Defaults: always high. It needs a baseline (a dataset or a saved profile) whose manifest has the \
same paths, or the same files at another location: a local copy and its object in storage \
(`data/train/part-0.parquet` and `s3://lake/data/train/part-0.parquet`) pair when the shorter \
path, of two parts or more, ends the longer and no other file fits; two local folders never \
pair by name. An object read without some of its columns (`columns`, `exclude`) has no content \
hash and is not compared."
    }
    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(base) = ctx.baseline else {
            return Vec::new();
        };
        let pairs = same_files(&base.manifest, &ctx.current.manifest);
        let mut out = Vec::new();
        for (b, m) in pairs {
            // Batches held in memory and objects read without some of their columns have no
            // content hash: nothing to compare. (Not their ETags: a multipart upload's depends
            // on its part size, and some stores change it on a metadata update.)
            if b.blake3 == m.blake3 || b.blake3.is_empty() || m.blake3.is_empty() {
                continue;
            }
            let changed: Vec<u32> = m
                .row_groups
                .iter()
                .filter(|g| {
                    b.row_groups
                        .get(g.index as usize)
                        .is_none_or(|bg| bg.xxh3 != g.xxh3)
                })
                .map(|g| g.index)
                .collect();
            let mut f = Finding::new(
                self.code(),
                self.check(),
                Severity::High,
                1.0,
                format!(
                    "`{}` changed since the baseline was profiled ({} rows then, {} now)",
                    m.path,
                    crate::report::thousands(b.rows),
                    crate::report::thousands(m.rows)
                ),
            );
            f.slice = vec![Predicate::eq("__source", m.path.clone())];
            f.sources = vec![m.path.clone()];
            f.rows = m.rows;
            f.baseline_rows = Some(b.rows);
            let mut ev = vec![
                ("baseline_blake3", json!(b.blake3)),
                ("current_blake3", json!(m.blake3)),
                ("baseline_bytes", json!(b.bytes)),
                ("current_bytes", json!(m.bytes)),
                ("changed_row_groups", json!(changed)),
            ];
            if b.path != m.path {
                ev.push(("baseline_path", json!(b.path)));
            }
            f.evidence = evidence(ev);
            out.push(f);
        }
        out
    }
}

/// The baseline's and the current manifest's entries that are the same file: at the same
/// path; or, across locations (a local copy and an object in storage, or two stores), at the
/// same place below their roots: the shorter of their paths (an object's key without its
/// bucket), of two parts or more, ends the longer, and no other entry of either side fits.
/// Two local folders never pair by name: last week's `part-0.parquet` is not this week's.
fn same_files<'a>(
    base: &'a [crate::profile::ManifestEntry],
    cur: &'a [crate::profile::ManifestEntry],
) -> Vec<(
    &'a crate::profile::ManifestEntry,
    &'a crate::profile::ManifestEntry,
)> {
    let by_path: BTreeMap<&str, _> = base.iter().map(|m| (m.path.as_str(), m)).collect();
    let cur_paths: std::collections::BTreeSet<&str> = cur.iter().map(|m| m.path.as_str()).collect();
    // (the store's root, or "" on disk; the path's parts below it)
    let place = |p: &'a str| -> (&'a str, Vec<&'a str>) {
        let (root, rest) = if crate::storage::is_url(p) {
            let after = p.find("://").map_or(0, |i| i + 3);
            let end = p[after..].find('/').map_or(p.len(), |i| after + i);
            (&p[..end], &p[end..])
        } else {
            ("", p)
        };
        let parts = rest
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        (root, parts)
    };
    let fits = |a: &'a str, b: &'a str| -> bool {
        let ((ra, pa), (rb, pb)) = (place(a), place(b));
        if ra == rb {
            return false;
        }
        let (short, long) = if pa.len() <= pb.len() {
            (pa, pb)
        } else {
            (pb, pa)
        };
        short.len() >= 2 && long.ends_with(&short)
    };
    let mut out = Vec::new();
    for m in cur {
        if let Some(b) = by_path.get(m.path.as_str()) {
            out.push((*b, m));
            continue;
        }
        let found: Vec<_> = base
            .iter()
            .filter(|b| !cur_paths.contains(b.path.as_str()) && fits(&b.path, &m.path))
            .collect();
        if let [b] = found[..]
            && cur
                .iter()
                .filter(|c| !by_path.contains_key(c.path.as_str()) && fits(&b.path, &c.path))
                .count()
                == 1
        {
            out.push((b, m));
        }
    }
    out
}

pub struct Replayed;

/// Rows per segment of the current profile, and how many of them (features and label) the
/// baseline holds: one merge of the two sorted fingerprint columns. (Profiles whose
/// fingerprints were kept apart hold every row the other side shares, and count the rest.)
fn overlap_by_segment(cur: &Profile, base: &Profile) -> Vec<(u64, u64)> {
    use rayon::prelude::*;
    let segments = cur.segments.len();
    let rows = &cur.fingerprints.rows;
    let b = &base.fingerprints.rows;
    let pieces = (rayon::current_num_threads() * 4).max(1);
    let bounds: Vec<(usize, usize)> = (0..pieces)
        .map(|i| (rows.len() * i / pieces, rows.len() * (i + 1) / pieces))
        .collect();
    bounds
        .par_iter()
        .map(|&(lo, hi)| {
            let mut out = vec![(0u64, 0u64); segments];
            let Some(&first) = rows.get(lo) else {
                return out;
            };
            let mut j = b.partition_point(|&x| row_key(x) < row_key(first));
            for &f in &rows[lo..hi] {
                let k = row_key(f);
                while j < b.len() && row_key(b[j]) < k {
                    j += 1;
                }
                let seg = segment_of(f);
                if seg == UNKNOWN_SEGMENT || seg as usize >= segments {
                    continue;
                }
                if j < b.len() && row_key(b[j]) == k {
                    out[seg as usize].1 += 1;
                }
            }
            out
        })
        .reduce(
            || vec![(0u64, 0u64); segments],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    x.1 += y.1;
                }
                a
            },
        )
        .into_iter()
        .zip(cur.segment_rows())
        .map(|((_, seen), rows)| (rows, seen))
        .collect()
}

impl Detector for Replayed {
    fn code(&self) -> &'static str {
        "INT002"
    }
    fn check(&self) -> &'static str {
        "replayed-content"
    }
    fn doc(&self) -> &'static str {
        "What it finds: current content the baseline already holds: a file or Parquet row group \
whose content hash equals one in the baseline's manifest (a file's BLAKE3, `match: \"blake3\"`, or \
a Parquet row group's xxh3-128 of its bytes, `match: \"xxh3-128\"`), or a file or row group at \
least 90% of whose rows (features and label, by row fingerprint, `match: \"row fingerprints\"`) are \
rows of the baseline.

Why it matters: a replayed or stale partition (yesterday's data delivered again, a backfill \
that re-sends old rows) silently up-weights old examples and hides that the new data is missing. \
Replay is also a way to push a model back towards a state an attacker prefers.

Example: `current/part-3.parquet` is byte for byte `baseline/part-1.parquet`: high. A file of \
which 97% of the rows are baseline rows: high.

Defaults: identical bytes under another path, or ≥ 90% of rows already in the baseline, are \
high. An unchanged file at the same path (a cumulative layout re-scanning old files) is medium: \
scan only the new increment to avoid it. The row share must also exceed the baseline's own \
duplicate rate by 50 points, so data with many natural repeats (few, coarse columns) is not \
flagged. A file or row group under 20 rows is judged by an exact test as well: fresh rows match \
the baseline at the rate the rest of the current data does (add-one smoothed), or at the \
baseline's own duplicate rate if that is larger, and the count of its rows in the baseline must \
be that unlikely (one-sided binomial) at P ≤ 10⁻⁴ over all files and row groups judged \
(Bonferroni): three replayed rows of data whose fresh rows match 0.1% of the time are flagged, \
one row never is."
    }
    fn params(&self) -> &'static [Param] {
        &REPLAY_PARAMS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(base) = ctx.baseline else {
            return Vec::new();
        };
        let cur = ctx.current;
        let mut out = Vec::new();
        let by_hash: BTreeMap<&str, &str> = base
            .manifest
            .iter()
            .filter(|m| !m.blake3.is_empty())
            .map(|m| (m.blake3.as_str(), m.path.as_str()))
            .collect();
        let group_hash: BTreeMap<&str, (&str, u32)> = base
            .manifest
            .iter()
            .flat_map(|m| {
                m.row_groups
                    .iter()
                    .map(move |g| (g.xxh3.as_str(), (m.path.as_str(), g.index)))
            })
            .collect();
        let overlap = overlap_by_segment(cur, base);
        let natural = base.duplicates().duplicate_rows as f64 / base.rows.max(1) as f64;
        let share = ctx.param(self.code(), &REPLAY_PARAMS[0]);
        let min_rows = ctx.param(self.code(), &REPLAY_PARAMS[1]);
        let small_p = ctx.param(self.code(), &REPLAY_PARAMS[2]);
        let (all_rows, all_seen) = overlap
            .iter()
            .fold((0u64, 0u64), |(t, s), &(rt, rs)| (t + rt, s + rs));
        let units = (cur.manifest.len()
            + cur
                .manifest
                .iter()
                .map(|m| m.row_groups.len())
                .sum::<usize>())
        .max(1) as f64;
        // Replayed by share (and, under `min-rows`, by the exact test); the test's p-value when
        // it was needed.
        let replayed = |seen: u64, total: u64| -> Option<Option<f64>> {
            let s = seen as f64 / total.max(1) as f64;
            if total == 0 || s < share || s - natural < REPLAY_MARGIN {
                return None;
            }
            if total as f64 >= min_rows {
                return Some(None);
            }
            let p = small_replay_p(seen, total, all_seen - seen, all_rows - total, natural);
            (p * units <= small_p).then_some(Some(p))
        };
        // Segments by source, in one pass (a scan per file would be files × segments).
        let mut by_source: Vec<Vec<usize>> = vec![Vec::new(); cur.manifest.len()];
        for (i, seg) in cur.segments.iter().enumerate() {
            if let Some(v) = by_source.get_mut(seg.source as usize) {
                v.push(i);
            }
        }
        for (si, m) in cur.manifest.iter().enumerate() {
            let segs = &by_source[si];
            let (total, seen) = segs
                .iter()
                .fold((0, 0), |(t, s), &i| (t + overlap[i].0, s + overlap[i].1));
            let mut ev = vec![
                ("rows_in_baseline", json!(seen)),
                (
                    "share_in_baseline",
                    super::json_num(seen as f64 / total.max(1) as f64),
                ),
            ];
            // Whole file, by bytes.
            if let Some(bpath) = by_hash.get(m.blake3.as_str()) {
                let same_path = *bpath == m.path;
                let title = if same_path {
                    format!(
                        "`{}` is unchanged since the baseline: its rows are counted again",
                        m.path
                    )
                } else {
                    format!(
                        "`{}` is byte for byte the baseline's `{}` (a replayed file)",
                        m.path, bpath
                    )
                };
                ev.push(("baseline_source", json!(bpath)));
                ev.push(("match", json!("blake3")));
                out.push(self.finding(
                    if same_path {
                        Severity::Medium
                    } else {
                        Severity::High
                    },
                    title,
                    vec![Predicate::eq("__source", m.path.clone())],
                    m,
                    m.rows,
                    ev,
                ));
                continue;
            }
            // Whole file, by rows.
            if let Some(p) = replayed(seen, total) {
                if let Some(p) = p {
                    ev.push(("p_value", super::json_num(p)));
                }
                out.push(self.finding(
                    Severity::High,
                    format!(
                        "{} of the rows of `{}` are already in the baseline (replayed content)",
                        pct(seen as f64 / total as f64),
                        m.path
                    ),
                    vec![Predicate::eq("__source", m.path.clone())],
                    m,
                    total,
                    {
                        ev.push(("match", json!("row fingerprints")));
                        ev
                    },
                ));
                continue;
            }
            // Row groups, by bytes or rows.
            for g in &m.row_groups {
                let seg = segs
                    .iter()
                    .copied()
                    .find(|&i| cur.segments[i].row_group == Some(g.index));
                let (gt, gs) = seg.map(|i| overlap[i]).unwrap_or((0, 0));
                let slice = vec![
                    Predicate::eq("__source", m.path.clone()),
                    Predicate::eq("__row_group", g.index),
                ];
                let mut gev: Vec<(&str, Value)> = vec![
                    ("rows_in_baseline", json!(gs)),
                    (
                        "share_in_baseline",
                        super::json_num(gs as f64 / gt.max(1) as f64),
                    ),
                ];
                if let Some((bpath, bidx)) = group_hash.get(g.xxh3.as_str()) {
                    gev.push(("baseline_source", json!(bpath)));
                    gev.push(("baseline_row_group", json!(bidx)));
                    gev.push(("match", json!("xxh3-128")));
                    out.push(self.finding(
                        Severity::High,
                        format!(
                            "row group {} of `{}` is byte for byte row group {} of the baseline's `{}`",
                            g.index, m.path, bidx, bpath
                        ),
                        slice,
                        m,
                        g.rows,
                        gev,
                    ));
                } else if let Some(p) = replayed(gs, gt) {
                    gev.push(("match", json!("row fingerprints")));
                    if let Some(p) = p {
                        gev.push(("p_value", super::json_num(p)));
                    }
                    out.push(self.finding(
                        Severity::High,
                        format!(
                            "{} of the rows of row group {} of `{}` are already in the baseline",
                            pct(gs as f64 / gt as f64),
                            g.index,
                            m.path
                        ),
                        slice,
                        m,
                        gt,
                        gev,
                    ));
                }
            }
        }
        out
    }
}

/// The one-sided binomial p-value of `seen` of a small file's `total` rows being baseline rows
/// when fresh rows match the baseline as often as the rest of the current data's do
/// (`rest_seen` of `rest_rows`, add-one smoothed), or as the baseline repeats itself
/// (`natural`), whichever is more.
fn small_replay_p(seen: u64, total: u64, rest_seen: u64, rest_rows: u64, natural: f64) -> f64 {
    let fresh = (rest_seen as f64 + 1.0) / (rest_rows as f64 + 2.0);
    crate::stats::binom_sf_ge(seen, total, fresh.max(natural))
}

impl Replayed {
    fn finding(
        &self,
        severity: Severity,
        title: String,
        slice: Vec<Predicate>,
        m: &crate::profile::ManifestEntry,
        rows: u64,
        ev: Vec<(&str, Value)>,
    ) -> Finding {
        let mut f = Finding::new(self.code(), self.check(), severity, 1.0, title);
        f.slice = slice;
        f.sources = vec![m.path.clone()];
        f.rows = rows;
        f.effect = ev
            .iter()
            .find(|(k, _)| *k == "share_in_baseline")
            .and_then(|(_, v)| v.as_f64())
            .map(|v| super::NamedValue {
                name: "share_in_baseline".into(),
                value: v,
            });
        f.evidence = evidence(ev);
        f
    }
}
