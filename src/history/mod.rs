//! History: tonight's data against the saved profiles of the nights accepted before it, to catch
//! the slow attack that stays below every threshold from one night to the next.
//!
//! A series is one statistic measured the same way on the anchored trusted profile (the scan's
//! baseline), on each accepted night's profile (oldest first) and on tonight's data. The
//! statistics are those poisoning moves:
//! - the share of a label within each slice that LBL001 tests (the same slices: categories,
//!   the anchor's decile bins, values past its range, nulls), net of the label's typical move
//!   that night (the weighted median over all the slices of their odds ratio against the
//!   anchor, which one flipped slice barely moves), so that a label shift everywhere is the
//!   label's own series, not every slice's;
//! - the share of the label over the whole data;
//! - the share of the rows in each of those slices (a column's distribution, slice by slice);
//! - the duplicate rate beyond what the night's size explains, and the outlier rate (the share
//!   of rows OUT001's model, fitted on the anchor, flags).
//!
//! Natural duplicates grow with a set's size (more rows, more chance collisions on coarse
//! features), so the duplicate series is the excess of a night's rate (exact, from its row
//! fingerprints) over the rate a random subset of the anchor of the night's size has: a group
//! of `g` identical anchor rows kept with probability `f = n / N` each leaves
//! `E[max(K − 1, 0)] = g·f − 1 + (1 − f)^g` repeats (K binomial). A night larger than the
//! anchor has no such subset and no point in that series.
//!
//! Every profile is read through its label-stratified sample (a class's rows over its sample
//! rows weigh each sample row), so a night of any size is measured alike; the variance of each
//! statistic is that of a ratio estimated from a stratified sample (linearised, with the finite
//! population correction: 0 when the sample holds every row) plus the night's own binomial
//! variation (the night is one draw of the process the anchor describes). The CUSUM over each
//! series (`cusum`) is what DRF005 reports.
//!
//! Profiles are read one at a time: memory is the anchor, tonight, one night and the series.

pub mod cusum;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::profile::{self, NULL_LABEL, Profile, SampleValue};
use crate::rows::encode::{Kind, NULL_CODE};
use crate::rows::labels::{Classes, LabelModel, NO_CLASS, SLICE_CODES, code_of_slot, slot_of};
use crate::rows::pass::{RowModel, SliceDesc};

pub use cusum::Obs;

/// Sample rows of a slice (of a known class) below which a night's share is not taken.
pub const MIN_SLICE_SAMPLE: u64 = 30;

/// What a series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// The share of class `class` over the whole data.
    Label {
        class: u16,
    },
    /// The share of class `class` within a slice, net of the whole data's label move.
    SliceLabel {
        feature: u32,
        slot: u16,
        class: u16,
    },
    /// The share of the rows in a slice.
    SliceRows {
        feature: u32,
        slot: u16,
    },
    Duplicates,
    Outliers,
}

impl Key {
    /// The statistic's name in reports.
    pub fn statistic(&self) -> &'static str {
        match self {
            Key::Label { .. } => "label_share",
            Key::SliceLabel { .. } => "label_share_in_slice",
            Key::SliceRows { .. } => "row_share_in_slice",
            Key::Duplicates => "duplicate_rate",
            Key::Outliers => "outlier_rate",
        }
    }
}

/// One night's value of a series: a share, its variance, and the rows it is a share of.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub value: f64,
    pub var: f64,
    pub rows: f64,
}

/// The series of a scan with a history.
#[derive(Debug, Clone)]
pub struct History {
    /// The profiles' names, the anchor first, tonight (`tonight`) last.
    pub names: Vec<String>,
    /// Per series, one point a profile (`None`: not measured that night).
    pub series: BTreeMap<Key, Vec<Option<Point>>>,
    /// The label's classes as the scan's label model has them (empty without a label).
    pub classes: Vec<String>,
    /// The slices the series are measured on, as the anchor's encoder describes them.
    pub slices: BTreeMap<(u32, u16), SliceDesc>,
    /// The last accepted night's profile (roles set by the caller), for the night-over-night
    /// comparison.
    pub last: Option<(String, Profile)>,
}

/// The name tonight goes by in the series.
pub const TONIGHT: &str = "tonight";

/// A profile's short name: its file name without the extension.
pub fn name_of(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// The profiles a `--history` argument names, in order: a folder's `*.psprof` files by name
/// (dated names sort by date), a file as given. A folder without any is an error, as is a
/// profile named twice.
pub fn resolve(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = Vec::new();
    for a in args {
        if a.is_dir() {
            let rd = std::fs::read_dir(a).map_err(|e| Error::io(a, e))?;
            let mut files: Vec<PathBuf> = Vec::new();
            for e in rd {
                let p = e.map_err(|e| Error::io(a, e))?.path();
                if p.is_file() && p.extension().is_some_and(|x| x == "psprof") {
                    files.push(p);
                }
            }
            if files.is_empty() {
                return Err(Error::Usage(format!(
                    "--history `{}`: the folder holds no saved profile (*.psprof)",
                    a.display()
                )));
            }
            files.sort();
            out.extend(files);
        } else {
            out.push(a.clone());
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for p in &out {
        if !seen.insert(p.clone()) {
            return Err(Error::Usage(format!(
                "--history names `{}` twice: each accepted night is one point of the series",
                p.display()
            )));
        }
    }
    Ok(out)
}

/// What every profile is measured with: the anchor's slices (the scan's encoder), its classes
/// and their tested subset, and the outlier model.
struct Frame<'a> {
    model: &'a RowModel,
    classes: Option<&'a Classes>,
    /// The classes whose share is a series: with two, the anchor's rarer; else every class.
    tested: Vec<u16>,
    /// Per feature, the slots that are slices (as LBL001 tests them).
    slots: Vec<Vec<u16>>,
    /// The anchor's whole-data share of each tested class (the label move is against it).
    anchor_share: BTreeMap<u16, f64>,
    /// The anchor's share of each tested class in each slice (raw: the move is against it).
    anchor_slice_share: BTreeMap<(u32, u16, u16), f64>,
    /// The anchor's rows and its groups of identical rows by size.
    anchor_rows: u64,
    anchor_groups: BTreeMap<u64, u64>,
}

impl<'a> Frame<'a> {
    fn new(model: &'a RowModel, labels: Option<&'a LabelModel>) -> Frame<'a> {
        let classes = labels.map(|l| &l.classes);
        let tested: Vec<u16> = match labels {
            None => Vec::new(),
            Some(l) if l.classes.len() == 2 => {
                vec![u16::from(l.reference_rows[1] <= l.reference_rows[0])]
            }
            Some(l) => (0..l.classes.len() as u16).collect(),
        };
        let slots = model
            .encoder
            .features
            .iter()
            .map(|f| match &f.kind {
                Kind::Missing => Vec::new(),
                Kind::Numeric { edges, .. } => (0..=edges.len())
                    .map(|b| b as u32)
                    .chain([
                        NULL_CODE,
                        crate::rows::encode::BELOW_CODE,
                        crate::rows::encode::ABOVE_CODE,
                    ])
                    .filter_map(slot_of)
                    .map(|s| s as u16)
                    .collect(),
                Kind::Frequency { known, .. } => (0..(*known).min(SLICE_CODES as u32))
                    .chain([NULL_CODE])
                    .filter_map(slot_of)
                    .map(|s| s as u16)
                    .collect(),
            })
            .collect();
        Frame {
            model,
            classes,
            tested,
            slots,
            anchor_share: BTreeMap::new(),
            anchor_slice_share: BTreeMap::new(),
            anchor_rows: 0,
            anchor_groups: BTreeMap::new(),
        }
    }
}

/// A ratio `Σ w·y / Σ w·x` over a stratified sample, by stratum: `a` rows with x = y = 1, `b`
/// with x = 1, y = 0, out of `n` sample rows standing for `w` rows each.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    a: u64,
    b: u64,
}

/// The ratio, its variance (linearised, with the finite population correction, plus the
/// binomial variation of the rows it is a share of) and those rows. `None` without rows.
fn ratio(cells: &[(Cell, f64, u64)]) -> Option<Point> {
    let (mut y, mut x) = (0.0, 0.0);
    for &(c, w, _) in cells {
        y += w * c.a as f64;
        x += w * (c.a + c.b) as f64;
    }
    if x <= 0.0 {
        return None;
    }
    let r = y / x;
    let mut var = 0.0;
    for &(c, w, n) in cells {
        if n < 2 {
            continue;
        }
        let (a, b, nf) = (c.a as f64, c.b as f64, n as f64);
        // u = (y − R·x) / X per row: (1 − R)/X for a, −R/X for b, 0 for the rest.
        let su = (a * (1.0 - r) - b * r) / x;
        let su2 = (a * (1.0 - r).powi(2) + b * r * r) / (x * x);
        let s2 = ((su2 - su * su / nf) / (nf - 1.0)).max(0.0);
        let fpc = (1.0 - 1.0 / w.max(1.0)).max(0.0);
        var += w * w * nf * s2 * fpc;
    }
    // The night's own variation, with half a row of smoothing so a share of 0 has some.
    let p = ((y + 0.5) / (x + 1.0)).clamp(0.0, 1.0);
    var += p * (1.0 - p) / x;
    Some(Point {
        value: r,
        var,
        rows: x,
    })
}

/// The odds of a share (kept off 0 and 1).
fn odds(s: f64) -> f64 {
    let s = s.clamp(1e-6, 1.0 - 1e-6);
    s / (1.0 - s)
}

/// Remove an odds ratio `r` from a share: the share whose odds are `odds(p) / r`, and the
/// derivative of that map (to carry the variance).
fn net_of(p: f64, r: f64) -> (f64, f64) {
    let d = p + (1.0 - p) * r;
    (p / d, r / (d * d))
}

/// One profile's points.
fn measure(p: &Profile, frame: &Frame<'_>) -> BTreeMap<Key, Point> {
    let encoder = &frame.model.encoder;
    let columns: Vec<Option<usize>> = encoder
        .features
        .iter()
        .map(|f| p.columns.iter().position(|c| c.name == f.column))
        .collect();
    let rows: Vec<(&str, &[SampleValue])> =
        p.sample.rows().map(|(l, r)| (l, &r.values[..])).collect();
    let mut x = Vec::new();
    let mut codes = Vec::new();
    encoder.encode_sample_columns(rows.iter().map(|r| r.1), &columns, &mut x, &mut codes);
    let d = encoder.dim();
    // Strata: the sample's own (its label keys), each sample row standing for the key's rows
    // over its sample rows.
    let mut strata: BTreeMap<&str, usize> = BTreeMap::new();
    for (l, _) in &rows {
        let n = strata.len();
        strata.entry(l).or_insert(n);
    }
    let mut n_h = vec![0u64; strata.len()];
    let stratum: Vec<usize> = rows.iter().map(|(l, _)| strata[l]).collect();
    for &h in &stratum {
        n_h[h] += 1;
    }
    let w_h: Vec<f64> = strata
        .iter()
        .map(|(l, &h)| {
            let total = if p.label.is_some() {
                p.label_counts.get(*l).copied().unwrap_or(0)
            } else {
                p.rows
            };
            total as f64 / n_h[h].max(1) as f64
        })
        .collect();
    let class: Vec<u16> = match frame.classes {
        Some(c) => c.of_sample(p),
        None => vec![NO_CLASS; rows.len()],
    };
    let l = frame.classes.map_or(0, Classes::len);
    let flags = if d > 0 && !rows.is_empty() {
        frame.model.flags(&x)
    } else {
        Vec::new()
    };
    let hs = strata.len();
    // Per (feature, slot): per stratum, rows; per stratum and class (+1: no class), rows.
    let mut slice_rows: BTreeMap<(u32, u16), Vec<u64>> = BTreeMap::new();
    let mut slice_class: BTreeMap<(u32, u16), Vec<u64>> = BTreeMap::new();
    let mut all_class = vec![0u64; hs * (l + 1)];
    let mut flagged = vec![0u64; hs];
    for i in 0..rows.len() {
        let h = stratum[i];
        let c = if class[i] == NO_CLASS {
            l
        } else {
            class[i] as usize
        };
        all_class[h * (l + 1) + c] += 1;
        if flags.get(i).copied().unwrap_or(false) {
            flagged[h] += 1;
        }
        for (f, slots) in frame.slots.iter().enumerate() {
            if columns[f].is_none() || slots.is_empty() {
                continue;
            }
            let Some(k) = slot_of(codes[i * d + f]) else {
                continue;
            };
            let key = (f as u32, k as u16);
            if !slots.contains(&(k as u16)) {
                continue;
            }
            slice_rows.entry(key).or_insert_with(|| vec![0; hs])[h] += 1;
            if l > 0 {
                slice_class
                    .entry(key)
                    .or_insert_with(|| vec![0; hs * (l + 1)])[h * (l + 1) + c] += 1;
            }
        }
    }
    let mut out = BTreeMap::new();
    let share_of = |counts: &[u64], c: usize| -> Option<Point> {
        let cells: Vec<(Cell, f64, u64)> = (0..hs)
            .map(|h| {
                let row = &counts[h * (l + 1)..(h + 1) * (l + 1)];
                let a = row[c];
                let b: u64 = row[..l].iter().sum::<u64>() - a;
                (Cell { a, b }, w_h[h], n_h[h])
            })
            .collect();
        ratio(&cells)
    };
    let of_all = |counts: &[u64]| -> Option<Point> {
        let cells: Vec<(Cell, f64, u64)> = (0..hs)
            .map(|h| {
                (
                    Cell {
                        a: counts[h],
                        b: n_h[h] - counts[h],
                    },
                    w_h[h],
                    n_h[h],
                )
            })
            .collect();
        ratio(&cells)
    };
    // The whole data's label shares and their move against the anchor (an odds ratio).
    let mut moved: BTreeMap<u16, f64> = BTreeMap::new();
    for &c in &frame.tested {
        if let Some(pt) = share_of(&all_class, c as usize) {
            out.insert(Key::Label { class: c }, pt);
            let r = frame
                .anchor_share
                .get(&c)
                .map_or(1.0, |&a| odds(pt.value) / odds(a));
            moved.insert(c, r);
        }
    }
    // Slices present in this profile: every slot of a column it has (a slot without rows has
    // a share of 0). Label shares are kept raw until the column's typical move is known.
    let mut raw: Vec<((u32, u16, u16), Point)> = Vec::new();
    for (f, slots) in frame.slots.iter().enumerate() {
        if columns[f].is_none() {
            continue;
        }
        for &k in slots {
            let key = (f as u32, k);
            let counts = slice_rows.get(&key).cloned().unwrap_or_else(|| vec![0; hs]);
            if let Some(pt) = of_all(&counts) {
                out.insert(
                    Key::SliceRows {
                        feature: key.0,
                        slot: k,
                    },
                    pt,
                );
            }
            let Some(cc) = slice_class.get(&key) else {
                continue;
            };
            let known: u64 = (0..hs)
                .map(|h| cc[h * (l + 1)..h * (l + 1) + l].iter().sum::<u64>())
                .sum();
            if known < MIN_SLICE_SAMPLE {
                continue;
            }
            for &c in &frame.tested {
                if let Some(pt) = share_of(cc, c as usize) {
                    raw.push(((f as u32, k, c), pt));
                }
            }
        }
    }
    // Each slice's share net of the label's typical move that night: the weighted median (by
    // rows) over every slice of every column of their log odds ratio against the anchor. A
    // flipped slice barely moves it (its rows are a small part of most other slices), and over
    // hundreds of slices it is far less noisy than one column's median (LBL001's, which tests
    // one scan, not a series whose every night's noise adds up); the whole data's with fewer
    // than 3 slices.
    let mut typical: BTreeMap<u16, Vec<(f64, f64)>> = BTreeMap::new();
    for &((f, k, c), pt) in &raw {
        if let Some(&a) = frame.anchor_slice_share.get(&(f, k, c)) {
            typical
                .entry(c)
                .or_default()
                .push(((odds(pt.value) / odds(a)).ln(), pt.rows));
        }
    }
    let typical: BTreeMap<u16, f64> = typical
        .into_iter()
        .filter(|(_, v)| v.len() >= 3)
        .map(|(c, mut v)| (c, crate::stats::weighted_median(&mut v).exp()))
        .collect();
    for ((f, k, c), pt) in raw {
        let r = typical
            .get(&c)
            .or_else(|| moved.get(&c))
            .copied()
            .unwrap_or(1.0);
        let (value, slope) = net_of(pt.value, r);
        out.insert(
            Key::SliceLabel {
                feature: f,
                slot: k,
                class: c,
            },
            Point {
                value,
                var: pt.var * slope * slope,
                rows: pt.rows,
            },
        );
    }
    if p.rows > 0
        && p.rows <= frame.anchor_rows
        && let Some(expected) = expected_duplicates(&frame.anchor_groups, frame.anchor_rows, p.rows)
    {
        let n = p.rows as f64;
        let dup = p.duplicates().duplicate_rows as f64 / n;
        let s = (dup * n + 0.5) / (n + 1.0);
        out.insert(
            Key::Duplicates,
            Point {
                value: dup - expected,
                var: s * (1.0 - s) / n,
                rows: n,
            },
        );
    }
    if !flags.is_empty()
        && let Some(pt) = of_all(&flagged)
    {
        out.insert(Key::Outliers, pt);
    }
    out
}

/// The duplicate rate (repeats over rows) a random subset of `n` of the anchor's `rows` rows
/// has, in expectation, given the anchor's groups of identical rows by size.
fn expected_duplicates(groups: &BTreeMap<u64, u64>, rows: u64, n: u64) -> Option<f64> {
    if rows == 0 || n == 0 || n > rows {
        return None;
    }
    let f = n as f64 / rows as f64;
    let repeats: f64 = groups
        .iter()
        .map(|(&g, &count)| count as f64 * (g as f64 * f - 1.0 + (1.0 - f).powf(g as f64)))
        .sum();
    Some(repeats / n as f64)
}

/// Check that a saved night can be compared with the scan: the same label column and type.
pub fn check_night(p: &Profile, anchor: &Profile, path: &Path) -> Result<()> {
    if p.label != anchor.label || p.label_type != anchor.label_type {
        let label = |q: &Profile| {
            q.label.as_ref().map_or("no label".to_string(), |l| {
                format!("label `{l}` ({})", q.label_type.name())
            })
        };
        return Err(Error::Usage(format!(
            "--history `{}`: the profile has {}, the baseline {}: a history is of one kind of data\nhint: profile every night with the same --label and --label-type",
            path.display(),
            label(p),
            label(anchor)
        )));
    }
    Ok(())
}

/// Series under construction: the anchor first, then one profile at a time.
pub struct Builder<'a> {
    frame: Frame<'a>,
    names: Vec<String>,
    nights: Vec<BTreeMap<Key, Point>>,
    slices: BTreeMap<(u32, u16), SliceDesc>,
    classes: Vec<String>,
}

impl<'a> Builder<'a> {
    /// Series measured with a row model and label model fitted on `anchor` (the scan's, or
    /// `poisonscan trend`'s, fitted on the anchor alone), whose first point is the anchor's.
    pub fn new(
        anchor: &Profile,
        model: &'a RowModel,
        labels: Option<&'a LabelModel>,
    ) -> Builder<'a> {
        let mut frame = Frame::new(model, labels);
        frame.anchor_rows = anchor.rows;
        frame.anchor_groups = anchor.fingerprints.group_sizes();
        let first = measure(anchor, &frame);
        frame.anchor_share = first
            .iter()
            .filter_map(|(k, p)| match k {
                Key::Label { class } => Some((*class, p.value)),
                _ => None,
            })
            .collect();
        // Against no anchor yet, every move is 1: the anchor's slice shares are raw.
        frame.anchor_slice_share = first
            .iter()
            .filter_map(|(k, p)| match *k {
                Key::SliceLabel {
                    feature,
                    slot,
                    class,
                } => Some(((feature, slot, class), p.value)),
                _ => None,
            })
            .collect();
        let mut slices = BTreeMap::new();
        for (f, slots) in frame.slots.iter().enumerate() {
            for &k in slots {
                if let Some(d) = model.slice_of(f as u32, code_of_slot(k as usize)) {
                    slices.insert((f as u32, k), d);
                }
            }
        }
        Builder {
            frame,
            names: vec!["anchor".to_string()],
            nights: vec![first],
            slices,
            classes: labels.map_or_else(Vec::new, |l| l.classes.names.clone()),
        }
    }

    /// Profiles measured so far, the anchor's included.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Measure one more profile (it must have the anchor's label: see [`check_night`]).
    pub fn add(&mut self, name: String, p: &Profile) {
        self.nights.push(measure(p, &self.frame));
        self.names.push(name);
    }

    pub fn finish(self, last: Option<(String, Profile)>) -> History {
        let mut series: BTreeMap<Key, Vec<Option<Point>>> = BTreeMap::new();
        let n = self.nights.len();
        for (t, night) in self.nights.into_iter().enumerate() {
            for (k, p) in night {
                series.entry(k).or_insert_with(|| vec![None; n])[t] = Some(p);
            }
        }
        // The outlier model is fitted on the anchor's own sample: its rate there is in-sample,
        // so the outlier series starts at the first night.
        if let Some(s) = series.get_mut(&Key::Outliers) {
            s[0] = None;
        }
        History {
            names: self.names,
            series,
            classes: self.classes,
            slices: self.slices,
            last,
        }
    }
}

/// The series of the anchor (the scan's baseline), each accepted night of `paths` (oldest
/// first) and tonight (`current`), measured with the scan's row model and label model.
pub fn build(
    paths: &[PathBuf],
    anchor: &Profile,
    current: &Profile,
    model: &RowModel,
    labels: Option<&LabelModel>,
) -> Result<History> {
    let mut b = Builder::new(anchor, model, labels);
    let mut last = None;
    for (i, path) in paths.iter().enumerate() {
        let p = profile::load(path)?;
        check_night(&p, anchor, path)?;
        b.add(name_of(path), &p);
        if i + 1 == paths.len() {
            last = Some((name_of(path), p));
        }
    }
    b.add(TONIGHT.to_string(), current);
    Ok(b.finish(last))
}

/// The class name of a series' class id.
pub fn class_name(h: &History, class: u16) -> &str {
    h.classes
        .get(class as usize)
        .map_or(NULL_LABEL, String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By hand: one stratum holding every row (weight 1): the variance is the night's own,
    /// p(1 − p)/n with half a row of smoothing; a stratum sampled 1 in 10 adds the sample's.
    #[test]
    fn a_ratio_and_its_variance_by_hand() {
        let p = ratio(&[(Cell { a: 30, b: 70 }, 1.0, 100)]).unwrap();
        assert!((p.value - 0.3).abs() < 1e-12);
        let s = 30.5 / 101.0;
        assert!((p.var - s * (1.0 - s) / 100.0).abs() < 1e-12);
        assert_eq!(p.rows, 100.0);
        // 100 sample rows standing for 1,000: the same share, and the sampling variance of a
        // proportion from a simple random sample, N²·(1 − f)·s²/n / N² = (1 − f)·s²/n.
        let q = ratio(&[(Cell { a: 30, b: 70 }, 10.0, 100)]).unwrap();
        assert!((q.value - 0.3).abs() < 1e-12);
        let s2 = 0.3 * 0.7 * 100.0 / 99.0;
        let sampling = 0.9 * s2 / 100.0;
        let own = (300.5 / 1001.0) * (1.0 - 300.5 / 1001.0) / 1000.0;
        assert!((q.var - sampling - own).abs() < 1e-12, "{}", q.var);
    }

    /// By hand: anchor of 10 rows, one group of 4 identical rows (3 repeats, rate 0.3). All of
    /// it: 0.3. Half of it (f = ½): 4·½ − 1 + ½⁴ = 1.0625 repeats over 5 rows. Larger than the
    /// anchor: no expectation.
    #[test]
    fn expected_duplicates_of_a_subset_by_hand() {
        let groups = BTreeMap::from([(4, 1)]);
        assert!((expected_duplicates(&groups, 10, 10).unwrap() - 0.3).abs() < 1e-12);
        assert!((expected_duplicates(&groups, 10, 5).unwrap() - 1.0625 / 5.0).abs() < 1e-12);
        assert_eq!(expected_duplicates(&groups, 10, 11), None);
    }

    /// Taking the whole data's odds move out: a slice at 50% when the label's odds doubled
    /// everywhere was at 1/3 before.
    #[test]
    fn net_of_an_odds_move() {
        let (p, slope) = net_of(0.5, 2.0);
        assert!((p - 1.0 / 3.0).abs() < 1e-12);
        // d/dp of p / (p + 2(1 − p)) at 0.5: 2 / 1.5² = 0.888…
        assert!((slope - 2.0 / 2.25).abs() < 1e-12);
        assert_eq!(net_of(0.3, 1.0), (0.3, 1.0));
    }
}
