//! `poisonscan trend`: the main statistics of a history of saved profiles (a nightly scan keeps
//! one a night), each against a reference (the known-good profile, by default the first): rows,
//! duplicate rate and label shares, and per column the null rate, mean, median, distinct count
//! and drift (PSI for numbers, L∞ for categories, as DRF001 and DRF002 measure it).
//!
//! It also runs the sequential test of `scan --history` (DRF005) over the same profiles, with
//! the reference as the anchor and the last profile as tonight, and shows the series of every
//! change it finds creeping, with its CUSUM (the outlier rate's model is fitted on the reference
//! alone, where a scan fits it on the anchor beside tonight's columns).
//!
//! Profiles are read one at a time beside the reference, so memory is two profiles whatever the
//! length of the history.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::detect::drift::{LINF_TIERS, PSI_TIERS, column_drift};
use crate::detect::{ALPHA, NamedValue};
use crate::error::Result;
use crate::profile::{self, Profile};
use crate::report::safe::{markdown, plain};
use crate::report::{round, summarize};

/// The whole-data statistics of one profile.
#[derive(Debug, Clone, Serialize)]
pub struct ProfilePoint {
    pub name: String,
    pub path: String,
    pub rows: u64,
    pub duplicate_rate: f64,
    /// Label → share of the rows.
    pub labels: BTreeMap<String, f64>,
}

/// One column in one profile (`None` in `ColumnTrend::points` when the profile lacks it).
#[derive(Debug, Clone, Serialize)]
pub struct ColumnPoint {
    pub null_rate: f64,
    /// NaN values over rows (apart from nulls).
    pub nan_rate: f64,
    /// ±infinity values over rows.
    pub inf_rate: f64,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub distinct: u64,
    /// Drift against the reference (absent for the reference itself).
    pub drift: Option<NamedValue>,
    pub drift_q: Option<f64>,
    /// Whether the drift would be a finding at low or above with the default thresholds
    /// (q at most 0.01 and PSI at least 0.1, or L∞ at least 0.05).
    pub drifted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnTrend {
    pub name: String,
    pub role: String,
    pub points: Vec<Option<ColumnPoint>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trend {
    /// The profile every other is compared with.
    pub reference: String,
    pub profiles: Vec<ProfilePoint>,
    pub columns: Vec<ColumnTrend>,
    /// What DRF005 finds creeping over the profiles (the reference as the anchor, the last
    /// profile as tonight), as a scan with `--history` reports it: each with its series.
    pub creeping: Vec<crate::detect::Finding>,
}

/// A profile's short name: its file name without the extension (`2026-11-21.psprof` →
/// `2026-11-21`).
fn name_of(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

fn point(p: &Profile, path: &Path) -> ProfilePoint {
    let total: u64 = p.label_counts.values().sum();
    ProfilePoint {
        name: name_of(path),
        path: crate::ingest::display_path(path),
        rows: p.rows,
        duplicate_rate: round(p.duplicates().duplicate_rows as f64 / p.rows.max(1) as f64),
        labels: p
            .label_counts
            .iter()
            .map(|(k, &v)| (k.clone(), round(v as f64 / total.max(1) as f64)))
            .collect(),
    }
}

/// The trend of `paths` (in the order given) against `reference` (default: the first), for
/// `columns` (default: every column of any profile, label and id left out).
pub fn trend(paths: &[PathBuf], reference: Option<&Path>, columns: &[String]) -> Result<Trend> {
    let ref_path = reference.unwrap_or(&paths[0]);
    let base = profile::load(ref_path)?;
    // The anchor's row model and label model, for the series (LBL001's slices and classes,
    // OUT001's outlier model).
    let fit_settings = crate::profile::ProfileSettings {
        seed: base.seed,
        label: base.label.clone(),
        label_type: Some(base.label_type),
        id: base.id.clone(),
        ..Default::default()
    };
    let models = crate::rows::RowModels::fit(
        &fit_settings,
        &|c: &str| matches!(c, "LBL001" | "OUT001"),
        Some(&base),
        &base,
        &crate::recorder::Silent,
    );
    let mut series = models
        .as_ref()
        .map(|m| crate::history::Builder::new(&base, &m.model, m.labels.as_ref()));
    let mut last: Option<Profile> = None;
    let mut profiles = Vec::with_capacity(paths.len());
    let mut by_column: BTreeMap<String, (String, Vec<Option<ColumnPoint>>)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let p = profile::load(path)?;
        profiles.push(point(&p, path));
        let same_as_reference = reference.is_none() && i == 0;
        if let Some(b) = series.as_mut()
            && !same_as_reference
        {
            crate::history::check_night(&p, &base, path)?;
            b.add(name_of(path), &p);
        }
        let drift: BTreeMap<String, (f64, bool, f64)> = column_drift(&p, &base)
            .into_iter()
            .map(|d| (d.column, (d.effect, d.numeric, d.q)))
            .collect();
        for c in summarize(&p).columns {
            if c.role == "label" || c.role == "id" {
                continue;
            }
            if !columns.is_empty() && !columns.contains(&c.name) {
                continue;
            }
            if !by_column.contains_key(&c.name) {
                order.push(c.name.clone());
            }
            let entry = by_column
                .entry(c.name.clone())
                .or_insert_with(|| (c.role.to_string(), Vec::new()));
            entry.0 = c.role.to_string();
            entry.1.resize(i, None);
            let d = (!same_as_reference)
                .then(|| drift.get(&c.name))
                .flatten()
                .copied();
            let rows = p.rows.max(1) as f64;
            entry.1.push(Some(ColumnPoint {
                null_rate: round(c.nulls as f64 / rows),
                nan_rate: round(c.nan as f64 / rows),
                inf_rate: round((c.pos_inf + c.neg_inf) as f64 / rows),
                mean: c.mean,
                median: c.median,
                distinct: c.distinct,
                drift: d.map(|(e, numeric, _)| NamedValue {
                    name: if numeric { "psi" } else { "linf" }.into(),
                    value: round(e),
                }),
                drift_q: d.map(|(_, _, q)| round(q)),
                drifted: d.is_some_and(|(e, numeric, q)| {
                    q <= ALPHA && e >= if numeric { PSI_TIERS.0 } else { LINF_TIERS.0 }
                }),
            }));
        }
        last = Some(p);
    }
    let n = paths.len();
    let columns = order
        .into_iter()
        .filter_map(|name| {
            let (role, mut points) = by_column.remove(&name)?;
            points.resize(n, None);
            Some(ColumnTrend { name, role, points })
        })
        .collect();
    let creeping = match (series, last) {
        (Some(b), Some(tonight)) if b.len() > 1 => {
            let h = b.finish(None);
            let params = crate::detect::CheckParams::default();
            let ctx = crate::detect::Context {
                current: &tonight,
                baseline: Some(&base),
                rows: None,
                slices: None,
                params: &params,
                drift: &[],
                history: Some(&h),
            };
            crate::detect::Detector::detect(&crate::detect::drift::CreepingChange, &ctx)
        }
        _ => Vec::new(),
    };
    Ok(Trend {
        reference: name_of(ref_path),
        profiles,
        columns,
        creeping,
    })
}

fn num(x: Option<f64>) -> String {
    match x {
        None => "–".into(),
        Some(v) if v == v.trunc() && v.abs() < 1e15 => format!("{v:.0}"),
        Some(v) => format!("{}", round(v)),
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// A missing-value rate: `0` for none and `<0.1%` for a few, never a `0.0%` that hides them.
fn missing_pct(x: f64) -> String {
    match x {
        0.0 => "0".into(),
        _ if x < 0.001 => "<0.1%".into(),
        _ => pct(x),
    }
}

fn drift_text(p: &ColumnPoint) -> String {
    match &p.drift {
        None => "–".into(),
        Some(d) => format!(
            "{} {}{}",
            if d.name == "psi" { "PSI" } else { "L∞" },
            // Three significant digits are plenty to read a trend.
            format!("{:.2e}", d.value).parse::<f64>().unwrap_or(d.value),
            if p.drifted { " *" } else { "" }
        ),
    }
}

/// Rows of cells: the whole-data table, then one table per column.
fn tables(t: &Trend) -> Vec<(String, Vec<String>, Vec<Vec<String>>)> {
    let classes: Vec<String> = {
        let mut v: Vec<String> = t
            .profiles
            .iter()
            .flat_map(|p| p.labels.keys().cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let mut head = vec!["profile".to_string(), "rows".into(), "duplicates".into()];
    head.extend(classes.iter().map(|c| format!("label {c}")));
    let rows = t
        .profiles
        .iter()
        .map(|p| {
            let mut r = vec![
                p.name.clone(),
                crate::report::text::thousands(p.rows),
                pct(p.duplicate_rate),
            ];
            r.extend(
                classes
                    .iter()
                    .map(|c| p.labels.get(c).map_or("–".into(), |&s| pct(s))),
            );
            r
        })
        .collect();
    let mut out = vec![("the data".to_string(), head, rows)];
    for c in &t.columns {
        let head = [
            "profile", "nulls", "NaN", "±inf", "mean", "median", "distinct", "drift",
        ]
        .map(String::from)
        .to_vec();
        let rows = t
            .profiles
            .iter()
            .zip(&c.points)
            .map(|(p, pt)| match pt {
                None => vec![
                    p.name.clone(),
                    "(no such column)".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ],
                Some(pt) => vec![
                    p.name.clone(),
                    missing_pct(pt.null_rate),
                    missing_pct(pt.nan_rate),
                    missing_pct(pt.inf_rate),
                    num(pt.mean),
                    num(pt.median),
                    crate::report::text::thousands(pt.distinct),
                    drift_text(pt),
                ],
            })
            .collect();
        out.push((format!("`{}` ({})", c.name, c.role), head, rows));
    }
    out
}

/// The series of a DRF005 finding as rows of cells: profile, value, CUSUM.
fn series_rows(f: &crate::detect::Finding) -> Vec<[String; 3]> {
    f.evidence
        .get("series")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .map(|p| {
                    let text = |k: &str| p.get(k).and_then(|v| v.as_f64());
                    [
                        p.get("profile")
                            .and_then(|v| v.as_str())
                            .unwrap_or("")
                            .to_string(),
                        text("value").map_or("–".into(), |v| format!("{:.2}%", 100.0 * v)),
                        text("cusum").map_or("–".into(), |v| format!("{v:.2}")),
                    ]
                })
                .collect()
        })
        .unwrap_or_default()
}

fn threshold_of(f: &crate::detect::Finding) -> String {
    f.evidence
        .get("threshold")
        .and_then(|v| v.as_f64())
        .map_or("–".into(), |v| format!("{v:.2}"))
}

pub fn write_text(t: &Trend, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "trend of {} profiles against `{}`; * marks drift that is a finding at the default thresholds\n",
        t.profiles.len(),
        plain(&t.reference)
    )?;
    for (title, mut head, mut rows) in tables(t) {
        writeln!(out, "{}", plain(&title.replace('`', "")))?;
        for c in rows.iter_mut().flatten().chain(head.iter_mut()) {
            *c = plain(c).into_owned();
        }
        let widths: Vec<usize> = (0..head.len())
            .map(|j| {
                rows.iter()
                    .map(|r| r[j].chars().count())
                    .chain([head[j].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| -> String {
            cells
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(j, (c, &w))| {
                    let pad = w - c.chars().count();
                    if j == 0 {
                        format!("{c}{}", " ".repeat(pad))
                    } else {
                        format!("{}{c}", " ".repeat(pad))
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        writeln!(out, "  {}", line(&head))?;
        for r in &rows {
            writeln!(out, "  {}", line(r))?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "creeping changes (DRF005: the CUSUM over the profiles, `{}` as the anchor, the last as tonight): {}",
        plain(&t.reference),
        if t.creeping.is_empty() { "none" } else { "" }
    )?;
    for f in &t.creeping {
        writeln!(
            out,
            "  [{}] {} (threshold {})",
            f.severity.name(),
            plain(&f.title),
            threshold_of(f)
        )?;
        let rows = series_rows(f);
        let w = rows.iter().map(|r| r[0].chars().count()).max().unwrap_or(0);
        for r in rows {
            writeln!(
                out,
                "    {:<w$}  {:>8}  CUSUM {:>7}",
                plain(&r[0]),
                r[1],
                r[2]
            )?;
        }
    }
    Ok(())
}

pub fn write_markdown(t: &Trend, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "## poisonscan trend: {} profiles against {}\n\n\\* marks drift that is a finding at the default thresholds.\n",
        t.profiles.len(),
        markdown(&format!("`{}`", t.reference))
    )?;
    for (title, head, rows) in tables(t) {
        writeln!(out, "### {}\n", markdown(&title))?;
        let head: Vec<String> = head.iter().map(|c| markdown(c)).collect();
        writeln!(out, "| {} |", head.join(" | "))?;
        writeln!(out, "|---|{}", "---:|".repeat(head.len().saturating_sub(1)))?;
        for r in rows {
            let cells: Vec<String> = r.iter().map(|c| markdown(c)).collect();
            writeln!(out, "| {} |", cells.join(" | "))?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "### Creeping changes (DRF005)\n\nThe CUSUM over the profiles, {} as the anchor, the last profile as tonight.\n",
        markdown(&format!("`{}`", t.reference))
    )?;
    if t.creeping.is_empty() {
        writeln!(out, "None.")?;
    }
    for f in &t.creeping {
        writeln!(
            out,
            "**{}** {} (CUSUM threshold {})\n\n| profile | value | CUSUM |\n|---|---:|---:|",
            f.severity.name(),
            markdown(&f.title),
            threshold_of(f)
        )?;
        for r in series_rows(f) {
            writeln!(out, "| {} | {} | {} |", markdown(&r[0]), r[1], r[2])?;
        }
        writeln!(out)?;
    }
    Ok(())
}

pub fn to_json(t: &Trend) -> String {
    let mut s = serde_json::to_string_pretty(t).expect("trend serialises");
    s.push('\n');
    s
}
