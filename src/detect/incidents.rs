//! Incidents: the findings one cause explains, grouped under it (the report's `incidents` and
//! each finding's `incident`).
//!
//! A scan that finds a unit change in one file also finds the column drifted, the file drifted
//! and its rows outlying: six findings, one cause. This module measures which findings a cause
//! explains, on the two samples every profile keeps (each row with its source, row, values and
//! weight, and, from the row pass, its outlier and label-issue flags; see `SliceData`).
//!
//! **The rows and the signal of a finding.** A finding names rows: its slice (the predicates
//! evaluated on the sample's values, `__source` on the row's file), or for a per-file finding
//! without a slice (INT001/INT002/INT004, and OUT001/OUT002/LBL002/LBL003 of one file) the rows of its
//! files; any other finding without a slice is about all rows. Its evidence is an *excess* over
//! the baseline, in rows, of one signal on those rows:
//! - membership (INT, SCH002/3/4, TRG002, OUT002, SLC001 by membership): the rows beyond the
//!   share the baseline has of the same slice (OUT002's joint ranks are not in the sample: its
//!   file is judged by its rows);
//! - a column's distribution (SCH005, DRF001/2/4 on the column; DRF003, LBL001, TRG001, SCH006
//!   on the label): rows × the total variation distance between the rows' binned values and the
//!   baseline's (the baseline's same slice when it has at least 30 sample rows, else all of it;
//!   numeric columns in the baseline's deciles plus below/above its range, null and non-finite;
//!   other columns by value, values the baseline never had in one bin);
//! - a row flag (OUT001 and SLC001 by outliers: the outlier flag; LBL002/LBL003 and SLC001 by
//!   label issues or loss: those flags): flagged rows beyond the baseline's overall rate.
//!
//! Duplicate findings (DUP) and schema changes (SCH001) name no rows a sample can locate, and a
//! slice over a column the sample does not hold is not evaluated: such findings are incidents of
//! their own.
//!
//! **The rule.** Finding A explains finding B when
//! 1. A's rows are a part of the data (a slice of at most half the current rows, or whole
//!    files, a unit of provenance however large, that leave some rows out) that overlaps B's
//!    rows;
//! 2. they share a column, or A names no column (a whole-file cause), or B's signal is a row flag
//!    (flags have no column of their own), or they are the same rows (the rows they share hold
//!    90% of each one's: one block of rows out of range on two columns);
//! 3. B's excess with A's rows set aside is at most half of B's excess (measured: B's signal is
//!    recomputed on the current sample without A's rows);
//! 4. when B is a column's distribution and A's slice is on that column, A's rows are new (the
//!    baseline holds under a tenth of the share A's slice has now): setting aside a range of a
//!    column always reshapes it, and only values the baseline never had are a cause.
//!
//! **Shift roots.** A drift of a numeric column over all the data (DRF001/DRF002 without a
//! slice) has no rows to set aside; what it explains is measured by undoing it instead: every
//! current value of the column goes through the map from the current sample's quantiles at
//! 5%, 10%, …, 95% to the baseline's (linear between them, and beyond them linear with the
//! slope from the first to the last: a value far outside the bulk stays far outside), and B's
//! slice, which must be on that column alone, is evaluated again. B is explained when its
//! excess so measured is at most half. A shifted column shows a new maximum, a value spike
//! where the baseline's floor moved to, a range slice grown more common: undoing the shift
//! removes all three, and leaves a block planted beyond the range where it is. Shift
//! roots come last (rank 7), and then absorb any incident whose root and members the shift
//! explains; an incident whose rows explain the drift itself (a block, a file) was offered the
//! drift first and kept it, so a drift is a cause only when no part of the data is.
//!
//! **Roots.** Candidates are taken most specific cause first (provenance; a unit change or a new
//! label class; a trigger rule; new categories, out-of-range values, null rates; drift in one
//! file, a slice's label share, value spikes; slice findings; outlier and label-issue rates; then
//! the rest), then by severity and report order. Each finding not yet in an incident starts one
//! and takes every finding not yet in one that it explains. Incidents are ordered by their
//! first finding in report order and carry the highest severity of their findings. The same
//! inputs give the same incidents: everything here is sequential and reads seeded samples.
//!
//! Without a baseline (nothing to measure an excess against) or a sample, every finding is an
//! incident of its own.

use std::collections::{BTreeMap, BTreeSet};

use crate::profile::Profile;
use crate::profile::{SampleRow, SampleValue};
use crate::report::model::{Explained, Finding, Incident, Predicate, Severity, round};
use crate::slice::SliceData;

/// A finding B is explained when its excess without the root's rows is at most this share of it.
const EXPLAINED_SHARE: f64 = 0.5;
/// A root holds at most this share of the current rows.
const ROOT_MAX_SHARE: f64 = 0.5;
/// The baseline's same slice is the reference of a distribution with this many sample rows.
const SLICE_REFERENCE_MIN: usize = 30;
/// A root's slice on the explained column must be this many times rarer in the baseline.
const NEW_ROWS_RATIO: f64 = 10.0;
/// Two findings name the same rows when their shared rows hold this share of each one's.
const SAME_ROWS: f64 = 0.9;
/// Value bins kept per categorical column (the rest share one).
const VALUE_BINS_MAX: usize = 200;

/// A root, the findings it explains, the rows it set aside, the column whose shift it undid.
type Group = (usize, Vec<Explained>, Option<f64>, Option<String>);

/// Group `findings` (in report order) into incidents and set each finding's `incident`.
pub fn group(
    findings: &mut [Finding],
    current: &Profile,
    baseline: Option<&Profile>,
    slices: Option<&SliceData>,
) -> Vec<Incident> {
    let table = baseline.and_then(|b| Table::new(current, b, slices));
    let located: Vec<Option<Located>> = findings
        .iter()
        .map(|f| table.as_ref().and_then(|t| t.locate(f)))
        .collect();
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by_key(|&i| {
        (
            rank(&findings[i].code),
            std::cmp::Reverse(findings[i].severity),
            i,
        )
    });
    let mut owner: Vec<Option<usize>> = vec![None; findings.len()];
    // (root, explained findings with their excess and excess without the root, rows set aside,
    // column whose shift was undone)
    let mut groups: Vec<Group> = Vec::new();
    let mut cache = BinCache::default();
    for &a in &order {
        if owner[a].is_some() {
            continue;
        }
        let g = groups.len();
        owner[a] = Some(g);
        let mut explained = Vec::new();
        let mut set_aside = None;
        let mut shift_undone = None;
        if let (Some(t), Some(la)) = (table.as_ref(), located[a].as_ref()) {
            let shift = t.shift_column(&findings[a], la);
            if shift.is_some() || t.can_be_root(la) {
                match shift {
                    Some(c) => shift_undone = Some(t.current.columns[c].name.clone()),
                    None => set_aside = Some(t.weight(&la.cur)),
                }
                for b in 0..findings.len() {
                    if owner[b].is_some() {
                        continue;
                    }
                    let Some(lb) = located[b].as_ref() else {
                        continue;
                    };
                    let measured = match shift {
                        Some(c) => t.explains_shift(c, &findings[b], lb, &mut cache),
                        None => t.explains(&findings[a], la, &findings[b], lb, &mut cache),
                    };
                    if let Some((with, without)) = measured {
                        owner[b] = Some(g);
                        explained.push(Explained {
                            finding: b,
                            excess_rows: round(with),
                            excess_rows_without_root: round(without),
                        });
                    }
                }
            }
        }
        groups.push((a, explained, set_aside, shift_undone));
    }
    // A whole-data shift of a column absorbs the incidents about values of that column alone
    // that undoing the shift explains: root and every member (a new maximum, a value spike,
    // a range slice are what a shifted column shows). It is offered them last, so that rows
    // that explain the drift itself (a block, a file) stay causes of their own.
    if let Some(t) = table.as_ref() {
        let mut absorbed = vec![false; groups.len()];
        for g in 0..groups.len() {
            let Some(c) = groups[g].3.as_ref().and_then(|name| t.column(name)) else {
                continue;
            };
            for h in 0..groups.len() {
                if h == g || absorbed[h] || absorbed[g] || groups[h].3.is_some() {
                    continue;
                }
                let members: Vec<usize> = std::iter::once(groups[h].0)
                    .chain(groups[h].1.iter().map(|e| e.finding))
                    .collect();
                let measured: Option<Vec<Explained>> = members
                    .iter()
                    .map(|&b| {
                        let lb = located[b].as_ref()?;
                        let (with, without) = t.explains_shift(c, &findings[b], lb, &mut cache)?;
                        Some(Explained {
                            finding: b,
                            excess_rows: round(with),
                            excess_rows_without_root: round(without),
                        })
                    })
                    .collect();
                if let Some(measured) = measured {
                    absorbed[h] = true;
                    groups[g].1.extend(measured);
                }
            }
        }
        let mut keep = absorbed.iter().map(|a| !a);
        groups.retain(|_| keep.next().unwrap_or(true));
    }
    // Incidents in the order of their first finding.
    let first = |(root, ex, _, _): &Group| ex.iter().map(|e| e.finding).fold(*root, usize::min);
    let mut by_first: Vec<usize> = (0..groups.len()).collect();
    by_first.sort_by_key(|&g| first(&groups[g]));
    let mut incidents = Vec::with_capacity(groups.len());
    for (index, &g) in by_first.iter().enumerate() {
        let (root, mut explained, set_aside, shift_undone) = groups[g].clone();
        explained.sort_by_key(|e| e.finding);
        let members = std::iter::once(root).chain(explained.iter().map(|e| e.finding));
        let mut severity = Severity::Info;
        let mut columns = BTreeSet::new();
        let mut sources = BTreeSet::new();
        for m in members {
            let f = &mut findings[m];
            f.incident = Some(index);
            severity = severity.max(f.severity);
            columns.extend(f.columns.iter().filter(|c| !c.starts_with("__")).cloned());
            sources.extend(f.sources.iter().cloned());
        }
        let r = &findings[root];
        incidents.push(Incident {
            severity,
            root,
            code: r.code.clone(),
            title: r.title.clone(),
            rows: r.rows,
            rows_set_aside: set_aside.map(round),
            shift_undone,
            explains: explained,
            columns: columns.into_iter().collect(),
            sources: sources.into_iter().collect(),
        });
    }
    incidents
}

/// How specific a cause a finding of `code` is (lower first).
fn rank(code: &str) -> u8 {
    match code {
        "INT002" | "INT001" | "INT004" => 0,
        "SCH005" | "SCH006" => 1,
        "TRG001" => 2,
        "SCH003" | "SCH004" | "SCH002" => 3,
        "DRF004" | "DRF005" | "LBL001" | "TRG002" => 4,
        "SLC001" => 5,
        "OUT001" | "OUT002" | "LBL003" | "LBL002" => 6,
        _ => 7,
    }
}

/// What a finding is measured on.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Signal {
    Membership,
    /// A profile column's distribution.
    Column(usize),
    Outlier,
    LabelIssue,
    Loss,
}

impl Signal {
    fn is_flag(self) -> bool {
        matches!(self, Signal::Outlier | Signal::LabelIssue | Signal::Loss)
    }
}

/// A finding's rows in both samples and its signal (`None`: it cannot be measured, only set
/// aside).
struct Located {
    cur: Vec<bool>,
    /// The indices of the current rows in `cur`.
    rows: Vec<usize>,
    base: Vec<bool>,
    /// Whether the rows are all rows (a whole-data finding).
    all: bool,
    /// Profile columns the finding's slice names.
    slice_columns: Vec<usize>,
    /// Whether the rows are whole files (a per-file finding, or a slice on `__source` alone).
    files: bool,
    signal: Option<Signal>,
}

/// Both samples, with the current rows' flags from the row pass.
struct Table<'a> {
    current: &'a Profile,
    cur: Vec<&'a SampleRow>,
    cur_w: Vec<f64>,
    /// The baseline's sample rows, their values in the current profile's column order (null
    /// for a column the baseline lacks).
    base: Vec<SampleRow>,
    base_w: Vec<f64>,
    outlier: Option<Vec<bool>>,
    issue: Option<Vec<Option<bool>>>,
    loss: Option<Vec<Option<bool>>>,
    /// The baseline's weighted rates of the three flags.
    base_rates: [Option<f64>; 3],
    cur_total: f64,
    base_total: f64,
}

impl<'a> Table<'a> {
    fn new(current: &'a Profile, baseline: &'a Profile, s: Option<&SliceData>) -> Option<Self> {
        if current.sample.is_empty() || baseline.sample.is_empty() {
            return None;
        }
        let cur: Vec<&SampleRow> = current.sample.rows().map(|(_, r)| r).collect();
        // Baseline values in the current's column order: the two profiles' columns may differ.
        let at: Vec<Option<usize>> = current
            .columns
            .iter()
            .map(|c| baseline.columns.iter().position(|b| b.name == c.name))
            .collect();
        let base: Vec<SampleRow> = baseline
            .sample
            .rows()
            .map(|(_, r)| SampleRow {
                key: r.key,
                source: r.source,
                row: r.row,
                values: at
                    .iter()
                    .map(|j| {
                        j.and_then(|j| r.values.get(j).cloned())
                            .unwrap_or(SampleValue::Null)
                    })
                    .collect(),
            })
            .collect();
        let (cur_w, base_w) = (current.sample_weights(), baseline.sample_weights());
        // The slice data holds the baseline's sample rows, then the current's, in sample order.
        let s = s.filter(|s| s.len() == base.len() + cur.len());
        let nb = base.len();
        let outlier = s.map(|s| s.outlier[nb..].to_vec());
        let issue = s.map(|s| s.label_issue[nb..].to_vec());
        let loss = s.map(|s| s.loss[nb..].to_vec());
        let rate = |flags: Vec<Option<bool>>| {
            let (mut w, mut hit) = (0.0, 0.0);
            for (f, bw) in flags.iter().zip(&base_w) {
                if let Some(f) = f {
                    w += bw;
                    if *f {
                        hit += bw;
                    }
                }
            }
            (w > 0.0).then(|| hit / w)
        };
        let base_rates = match s {
            Some(s) => [
                rate(s.outlier[..nb].iter().map(|&b| Some(b)).collect()),
                rate(s.label_issue[..nb].to_vec()),
                rate(s.loss[..nb].to_vec()),
            ],
            None => [None; 3],
        };
        let (cur_total, base_total) = (cur_w.iter().sum(), base_w.iter().sum());
        Some(Table {
            current,
            cur,
            cur_w,
            base,
            base_w,
            outlier,
            issue,
            loss,
            base_rates,
            cur_total,
            base_total,
        })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.current.columns.iter().position(|c| c.name == name)
    }

    fn weight(&self, rows: &[bool]) -> f64 {
        rows.iter()
            .zip(&self.cur_w)
            .filter(|(r, _)| **r)
            .map(|(_, w)| w)
            .sum()
    }

    fn base_weight(&self, rows: &[bool]) -> f64 {
        rows.iter()
            .zip(&self.base_w)
            .filter(|(r, _)| **r)
            .map(|(_, w)| w)
            .sum()
    }

    /// The finding's rows and signal, or `None` when its rows cannot be located.
    fn locate(&self, f: &Finding) -> Option<Located> {
        let signal = self.signal(f);
        let (cur, base, all, slice_columns, files) = if !f.slice.is_empty() {
            let preds: Vec<Pred> = f
                .slice
                .iter()
                .map(|p| Pred::compile(p, self))
                .collect::<Option<_>>()?;
            let cur = self
                .cur
                .iter()
                .map(|r| preds.iter().all(|p| p.holds(r, true)));
            let base = self
                .base
                .iter()
                .map(|r| preds.iter().all(|p| p.holds(r, false)));
            let cols: Vec<usize> = preds.iter().filter_map(|p| p.column).collect();
            let files = cols.is_empty();
            (cur.collect(), base.collect(), false, cols, files)
        } else if let Some(files) = self.files_of(f) {
            let cur = self.cur.iter().map(|r| files.contains(&r.source)).collect();
            (cur, vec![false; self.base.len()], false, Vec::new(), true)
        } else if matches!(f.code.get(..3), Some("DUP")) || f.code == "SCH001" {
            return None;
        } else {
            (
                vec![true; self.cur.len()],
                vec![true; self.base.len()],
                true,
                Vec::new(),
                false,
            )
        };
        let rows = (0..cur.len()).filter(|&i| cur[i]).collect();
        Some(Located {
            cur,
            rows,
            base,
            all,
            slice_columns,
            files,
            signal,
        })
    }

    /// The files of a per-file finding without a slice.
    fn files_of(&self, f: &Finding) -> Option<BTreeSet<u32>> {
        let index = |path: &String| {
            self.current
                .manifest
                .iter()
                .position(|m| &m.path == path)
                .map(|i| i as u32)
        };
        match f.code.as_str() {
            "INT001" | "INT002" | "INT004" if !f.sources.is_empty() => {
                f.sources.iter().map(index).collect()
            }
            "OUT001" | "OUT002" | "LBL002" | "LBL003" if f.sources.len() == 1 => {
                // A group of one file: its rows are the file's.
                let s = index(&f.sources[0])?;
                let in_group = f.evidence.get("rows_in_group")?.as_u64()?;
                (in_group == self.current.manifest[s as usize].rows).then(|| BTreeSet::from([s]))
            }
            _ => None,
        }
    }

    fn signal(&self, f: &Finding) -> Option<Signal> {
        let first_column = || f.columns.first().and_then(|c| self.column(c));
        let label = || {
            self.current
                .label
                .as_deref()
                .and_then(|l| self.column(l))
                .map(Signal::Column)
        };
        match f.code.as_str() {
            // OUT002's joint ranks are not in the rows sample: a file that stands out is judged
            // by its rows, as a file is present or not.
            "INT001" | "INT002" | "INT004" | "SCH002" | "SCH003" | "SCH004" | "TRG002"
            | "OUT002" => Some(Signal::Membership),
            "SCH005" | "DRF001" | "DRF002" | "DRF004" => first_column().map(Signal::Column),
            "DRF003" | "LBL001" | "TRG001" | "SCH006" => label(),
            "OUT001" => self.outlier.as_ref().map(|_| Signal::Outlier),
            "LBL002" | "LBL003" => self.issue.as_ref().map(|_| Signal::LabelIssue),
            "SLC001" => match f.evidence.get("signal").and_then(|s| s.as_str()) {
                Some("membership") => Some(Signal::Membership),
                Some("outlier") => self.outlier.as_ref().map(|_| Signal::Outlier),
                Some("label-issue") => self.issue.as_ref().map(|_| Signal::LabelIssue),
                Some("loss") => self.loss.as_ref().map(|_| Signal::Loss),
                _ => None,
            },
            _ => None,
        }
    }

    /// A root is a part of the data: a slice of at most `ROOT_MAX_SHARE` of the rows, or whole
    /// files that leave some rows out (a file is a unit of provenance however large).
    fn can_be_root(&self, a: &Located) -> bool {
        let w = self.weight(&a.cur);
        let some_left = a.rows.len() < self.cur.len();
        !a.all && w > 0.0 && some_left && (a.files || w <= ROOT_MAX_SHARE * self.cur_total)
    }

    /// B's excess with all its rows and with A's set aside, when A explains B.
    fn explains(
        &self,
        fa: &Finding,
        a: &Located,
        fb: &Finding,
        b: &Located,
        cache: &mut BinCache,
    ) -> Option<(f64, f64)> {
        let signal = b.signal?;
        // 1. overlap: the rows of A that are B's
        let shared: Vec<usize> = a.rows.iter().copied().filter(|&i| b.cur[i]).collect();
        if shared.is_empty() {
            return None;
        }
        // 2. a shared column, a whole-file cause, or a row flag
        let named = |f: &Finding| -> BTreeSet<String> {
            f.columns
                .iter()
                .filter(|c| !c.starts_with("__"))
                .cloned()
                .collect()
        };
        let (ca, cb) = (named(fa), named(fb));
        if !(ca.is_empty()
            || signal.is_flag()
            || ca.intersection(&cb).next().is_some()
            || self.same_rows(a, b, &shared))
        {
            return None;
        }
        // 4. a slice of the explained column must be new rows
        if let Signal::Column(c) = signal
            && a.slice_columns.contains(&c)
        {
            let now = self.weight(&a.cur) / self.cur_total;
            let before = self.base_weight(&a.base) / self.base_total;
            if before * NEW_ROWS_RATIO >= now {
                return None;
            }
        }
        // 3. measured: B's sums without the shared rows
        let reference = match signal {
            Signal::Column(c) => self.reference(b, c, cache),
            _ => Vec::new(),
        };
        let all = self.sums(signal, b.rows.iter().copied(), cache);
        let with = self.excess(signal, b, &all, self.cur_total, &reference);
        if with < 1.0 {
            return None;
        }
        let mut rest = all;
        rest.subtract(&self.sums(signal, shared.into_iter(), cache));
        let kept = self.cur_total - self.weight(&a.cur);
        let without = self.excess(signal, b, &rest, kept, &reference);
        (without <= EXPLAINED_SHARE * with).then_some((with, without))
    }

    /// Whether A and B name the same rows: the rows they share hold `SAME_ROWS` of each one's
    /// weight (two views of one block of rows, such as its values out of range on two columns).
    fn same_rows(&self, a: &Located, b: &Located, shared: &[usize]) -> bool {
        let w: f64 = shared.iter().map(|&i| self.cur_w[i]).sum();
        !b.all && w >= SAME_ROWS * self.weight(&a.cur) && w >= SAME_ROWS * self.weight(&b.cur)
    }

    /// The column of a whole-data drift of a numeric column (DRF001/DRF002 without a slice):
    /// a root whose cause is measured by undoing the shift rather than setting rows aside.
    fn shift_column(&self, f: &Finding, a: &Located) -> Option<usize> {
        match (f.code.as_str(), a.signal) {
            ("DRF001" | "DRF002", Some(Signal::Column(c)))
                if a.all && self.current.columns[c].column_type.is_numeric() =>
            {
                Some(c)
            }
            _ => None,
        }
    }

    /// B's excess, and its excess with column `c`'s shift undone, when the shift explains B:
    /// B's slice is on `c` alone, and with every current value of `c` mapped to the baseline's
    /// value at the same quantile, B's rows (its slice evaluated again) carry at most
    /// `EXPLAINED_SHARE` of B's excess.
    fn explains_shift(
        &self,
        c: usize,
        fb: &Finding,
        b: &Located,
        cache: &mut BinCache,
    ) -> Option<(f64, f64)> {
        let signal = b.signal?;
        if fb.slice.is_empty() || b.slice_columns.iter().any(|&s| s != c) {
            return None;
        }
        if b.slice_columns.len() != fb.slice.len() {
            // a `__source` predicate: the slice is not on the column alone
            return None;
        }
        let preds: Vec<Pred> = fb
            .slice
            .iter()
            .map(|p| Pred::compile(p, self))
            .collect::<Option<_>>()?;
        let reference = match signal {
            Signal::Column(s) => self.reference(b, s, cache),
            _ => Vec::new(),
        };
        let all = self.sums(signal, b.rows.iter().copied(), cache);
        let with = self.excess(signal, b, &all, self.cur_total, &reference);
        if with < 1.0 {
            return None;
        }
        let moved = cache.transported(self, c).to_vec();
        let rows: Vec<usize> = (0..self.cur.len())
            .filter(|&i| {
                let v = moved[i].map(SampleValue::Number);
                preds
                    .iter()
                    .all(|p| p.holds_with(self.cur[i], true, v.as_ref()))
            })
            .collect();
        let sums = self.sums(signal, rows.into_iter(), cache);
        let without = self.excess(signal, b, &sums, self.cur_total, &reference);
        (without <= EXPLAINED_SHARE * with).then_some((with, without))
    }

    /// The baseline's binned weights of column `c` that `b`'s rows are compared with: the
    /// baseline's same slice when it has `SLICE_REFERENCE_MIN` sample rows, else all of it.
    fn reference(&self, b: &Located, c: usize, cache: &mut BinCache) -> Vec<f64> {
        let bins = cache.get(self, c);
        let mut reference = vec![0.0; bins.len];
        let slice_rows = b.base.iter().filter(|x| **x).count();
        let use_slice = !b.all && slice_rows >= SLICE_REFERENCE_MIN;
        for (i, bin) in bins.base.iter().enumerate() {
            if !use_slice || b.base[i] {
                reference[*bin as usize] += self.base_w[i];
            }
        }
        reference
    }

    /// A signal's sums over some current rows.
    fn sums(
        &self,
        signal: Signal,
        rows: impl Iterator<Item = usize>,
        cache: &mut BinCache,
    ) -> Sums {
        let mut s = Sums::default();
        let bins = match signal {
            Signal::Column(c) => {
                let b = cache.get(self, c);
                s.hist = vec![0.0; b.len];
                Some(&b.cur)
            }
            _ => None,
        };
        for i in rows {
            let w = self.cur_w[i];
            let flag = match signal {
                Signal::Outlier => self.outlier.as_ref().map(|o| o[i]),
                Signal::LabelIssue => self.issue.as_ref().and_then(|o| o[i]),
                Signal::Loss => self.loss.as_ref().and_then(|o| o[i]),
                Signal::Membership | Signal::Column(_) => Some(false),
            };
            let Some(flag) = flag else { continue };
            s.w += w;
            if flag {
                s.hit += w;
            }
            if let Some(b) = bins {
                s.hist[b[i] as usize] += w;
            }
        }
        s
    }

    /// The excess rows of `signal` on `b`'s rows whose sums are `s`, of current rows weighing
    /// `kept` in all.
    fn excess(&self, signal: Signal, b: &Located, s: &Sums, kept: f64, reference: &[f64]) -> f64 {
        let e = match signal {
            Signal::Membership => {
                let share = self.base_weight(&b.base) / self.base_total;
                s.w - kept * share
            }
            Signal::Outlier => s.hit - self.base_rates[0].unwrap_or(0.0) * s.w,
            Signal::LabelIssue => s.hit - self.base_rates[1].unwrap_or(0.0) * s.w,
            Signal::Loss => s.hit - self.base_rates[2].unwrap_or(0.0) * s.w,
            Signal::Column(_) => {
                let rt: f64 = reference.iter().sum();
                if s.w <= 1e-9 || rt <= 0.0 {
                    0.0
                } else {
                    let tv: f64 = s
                        .hist
                        .iter()
                        .zip(reference)
                        .map(|(n, r)| (n.max(0.0) / s.w - r / rt).abs())
                        .sum::<f64>()
                        / 2.0;
                    s.w * tv
                }
            }
        };
        e.max(0.0)
    }
}

/// Weighted sums of a signal over rows: the rows, the flagged rows, the column's bins.
#[derive(Debug, Default, Clone)]
struct Sums {
    w: f64,
    hit: f64,
    hist: Vec<f64>,
}

impl Sums {
    fn subtract(&mut self, o: &Sums) {
        self.w -= o.w;
        self.hit -= o.hit;
        for (a, b) in self.hist.iter_mut().zip(&o.hist) {
            *a -= b;
        }
    }
}

/// A slice predicate compiled against the profile's columns.
struct Pred<'p> {
    /// Profile column, or `None` for `__source`.
    column: Option<usize>,
    /// The current source `__source` names.
    source: Option<u32>,
    p: &'p Predicate,
}

impl<'p> Pred<'p> {
    fn compile(p: &'p Predicate, t: &Table<'_>) -> Option<Pred<'p>> {
        if p.column == "__source" {
            let path = p.value.as_ref()?.as_str()?;
            let s = t.current.manifest.iter().position(|m| m.path == path)?;
            return Some(Pred {
                column: None,
                source: Some(s as u32),
                p,
            });
        }
        let column = t.column(&p.column)?;
        if !matches!(
            p.op,
            "eq" | "ne" | "in" | "between" | "lt" | "ge" | "is_null"
        ) {
            return None;
        }
        Some(Pred {
            column: Some(column),
            source: None,
            p,
        })
    }

    /// Whether a sample row holds the predicate (`current`: the row is a current row).
    fn holds(&self, r: &SampleRow, current: bool) -> bool {
        self.holds_with(r, current, None)
    }

    /// `holds`, with the predicate's column read as `value` when one is given.
    fn holds_with(&self, r: &SampleRow, current: bool, value: Option<&SampleValue>) -> bool {
        let Some(c) = self.column else {
            return current && Some(r.source) == self.source;
        };
        let v = value.unwrap_or_else(|| value_at(r, c));
        let num = match v {
            SampleValue::Number(x) => Some(*x),
            _ => None,
        };
        let json_num = |j: &Option<serde_json::Value>| j.as_ref().and_then(|j| j.as_f64());
        match self.p.op {
            "is_null" => matches!(v, SampleValue::Null),
            "eq" => self.p.value.as_ref().is_some_and(|j| same(v, j)),
            "ne" => {
                !matches!(v, SampleValue::Null)
                    && self.p.value.as_ref().is_some_and(|j| !same(v, j))
            }
            "in" => self
                .p
                .values
                .as_ref()
                .is_some_and(|vs| vs.iter().any(|j| same(v, j))),
            "lt" => matches!((num, json_num(&self.p.value)), (Some(x), Some(b)) if x < b),
            "ge" => matches!((num, json_num(&self.p.value)), (Some(x), Some(b)) if x >= b),
            "between" => match (num, self.p.low, self.p.high) {
                (Some(x), Some(lo), Some(hi)) => x >= lo && x < hi,
                _ => false,
            },
            _ => false,
        }
    }
}

/// Whether a sample value is the report's JSON value.
fn same(v: &SampleValue, j: &serde_json::Value) -> bool {
    match (v, j) {
        (SampleValue::Number(x), serde_json::Value::Number(n)) => n.as_f64() == Some(*x),
        (SampleValue::Text(s), serde_json::Value::String(t)) => s == t,
        (SampleValue::Bool(b), serde_json::Value::Bool(c)) => b == c,
        _ => false,
    }
}

/// One column's bins in both samples.
struct Bins {
    len: usize,
    cur: Vec<u32>,
    base: Vec<u32>,
}

/// Each column's bins and transported values, computed once.
#[derive(Default)]
struct BinCache {
    bins: BTreeMap<usize, Bins>,
    transported: BTreeMap<usize, Vec<Option<f64>>>,
}

impl BinCache {
    fn get(&mut self, t: &Table<'_>, c: usize) -> &Bins {
        self.bins.entry(c).or_insert_with(|| bins(t, c))
    }

    fn transported(&mut self, t: &Table<'_>, c: usize) -> &[Option<f64>] {
        self.transported.entry(c).or_insert_with(|| transport(t, c))
    }
}

static NULL: SampleValue = SampleValue::Null;

/// A sample row's value of column `c` (null past its values: never out of bounds).
fn value_at(r: &SampleRow, c: usize) -> &SampleValue {
    r.values.get(c).unwrap_or(&NULL)
}

/// The finite values of numeric column `c` with their weights, sorted by value.
fn weighted_sorted<'r>(
    rows: impl Iterator<Item = &'r SampleRow>,
    w: &[f64],
    c: usize,
) -> Vec<(usize, f64, f64)> {
    let mut v: Vec<(usize, f64, f64)> = rows
        .zip(w)
        .enumerate()
        .filter_map(|(i, (r, w))| match *value_at(r, c) {
            SampleValue::Number(x) if x.is_finite() => Some((i, x, *w)),
            _ => None,
        })
        .collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    v
}

/// Each current value of numeric column `c` with its shift undone (`ShiftMap`), `None` for
/// nulls and non-finite values (which stay) or when the samples fit no map.
fn transport(t: &Table<'_>, c: usize) -> Vec<Option<f64>> {
    let cur = weighted_sorted(t.cur.iter().copied(), &t.cur_w, c);
    let base = weighted_sorted(t.base.iter(), &t.base_w, c);
    let mut out = vec![None; t.cur.len()];
    if let Some(map) = ShiftMap::fit(&cur, &base) {
        for (i, x, _) in cur {
            out[i] = Some(map.apply(x));
        }
    }
    out
}

/// Knots of the shift map: the quantiles at 5%, 10%, …, 95%.
const SHIFT_KNOTS: usize = 19;

/// The map that undoes a column's shift: the current sample's quantile at 5%, 10%, …, 95% to
/// the baseline's at the same level, linear between them, and beyond the outer ones linear
/// with the slope from the first knot to the last. A shifted bulk goes back onto the
/// baseline's, while a value far outside the bulk (a planted block) stays far outside: it is
/// not the shift.
#[derive(Debug)]
struct ShiftMap {
    /// (current value, baseline value), current values strictly increasing.
    knots: Vec<(f64, f64)>,
    slope: f64,
}

impl ShiftMap {
    /// The map between two `(row, value, weight)` lists sorted by value, or `None` when the
    /// current values have fewer than two distinct knots.
    fn fit(cur: &[(usize, f64, f64)], base: &[(usize, f64, f64)]) -> Option<ShiftMap> {
        let (cq, bq) = (quantiles(cur)?, quantiles(base)?);
        // Equal current knots (a spike) take the mean of their baseline knots.
        let mut knots: Vec<(f64, f64, f64)> = Vec::new();
        for (c, b) in cq.into_iter().zip(bq) {
            match knots.last_mut() {
                Some((x, sum, n)) if *x == c => {
                    *sum += b;
                    *n += 1.0;
                }
                _ => knots.push((c, b, 1.0)),
            }
        }
        let knots: Vec<(f64, f64)> = knots.into_iter().map(|(c, b, n)| (c, b / n)).collect();
        let (first, last) = (knots.first()?, knots.last()?);
        if knots.len() < 2 {
            return None;
        }
        let slope = (last.1 - first.1) / (last.0 - first.0);
        slope.is_finite().then_some(ShiftMap { knots, slope })
    }

    fn apply(&self, x: f64) -> f64 {
        let k = &self.knots;
        let (first, last) = (k[0], k[k.len() - 1]);
        if x <= first.0 {
            return first.1 + (x - first.0) * self.slope;
        }
        if x >= last.0 {
            return last.1 + (x - last.0) * self.slope;
        }
        let j = k.partition_point(|p| p.0 <= x);
        let (a, b) = (k[j - 1], k[j]);
        a.1 + (x - a.0) / (b.0 - a.0) * (b.1 - a.1)
    }
}

/// The weighted quantiles at the knots' levels of a `(row, value, weight)` list sorted by
/// value: at each level, the first value whose cumulative weight reaches it.
fn quantiles(sorted: &[(usize, f64, f64)]) -> Option<Vec<f64>> {
    let total: f64 = sorted.iter().map(|x| x.2).sum();
    if sorted.is_empty() || total <= 0.0 {
        return None;
    }
    let mut out = Vec::with_capacity(SHIFT_KNOTS);
    let (mut acc, mut j) = (sorted[0].2, 0);
    for k in 1..=SHIFT_KNOTS {
        let level = total * k as f64 / (SHIFT_KNOTS + 1) as f64;
        while j + 1 < sorted.len() && acc < level {
            j += 1;
            acc += sorted[j].2;
        }
        out.push(sorted[j].1);
    }
    Some(out)
}

/// Bins 0 null, 1 non-finite or another type; numeric columns then below the baseline's
/// minimum, its deciles, above its maximum; other columns then one bin a value (the baseline's
/// `VALUE_BINS_MAX` commonest), the baseline's other values, values the baseline never had.
fn bins(t: &Table<'_>, c: usize) -> Bins {
    let numeric = t.current.columns[c].column_type.is_numeric();
    let base_values = t.base.iter().map(|r| value_at(r, c));
    if numeric {
        let mut finite: Vec<(f64, f64)> = base_values
            .zip(&t.base_w)
            .filter_map(|(v, w)| match v {
                SampleValue::Number(x) if x.is_finite() => Some((*x, *w)),
                _ => None,
            })
            .collect();
        finite.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: f64 = finite.iter().map(|(_, w)| w).sum();
        let mut cuts: Vec<f64> = Vec::new();
        let (mut acc, mut next) = (0.0, 1);
        for (x, w) in &finite {
            acc += w;
            while next < 10 && acc >= total * next as f64 / 10.0 {
                if cuts.last() != Some(x) {
                    cuts.push(*x);
                }
                next += 1;
            }
        }
        let (lo, hi) = (
            finite.first().map_or(f64::NAN, |f| f.0),
            finite.last().map_or(f64::NAN, |f| f.0),
        );
        // 0 null, 1 other, 2 below, 3.. deciles (cuts.len() + 1 of them), then above.
        let above = 3 + cuts.len() as u32 + 1;
        let bin = |v: &SampleValue| -> u32 {
            match v {
                SampleValue::Null => 0,
                SampleValue::Number(x) if x.is_finite() => {
                    if lo.is_nan() || *x < lo {
                        2
                    } else if *x > hi {
                        above
                    } else {
                        3 + cuts.partition_point(|c| c < x) as u32
                    }
                }
                _ => 1,
            }
        };
        return Bins {
            len: above as usize + 1,
            cur: t.cur.iter().map(|r| bin(value_at(r, c))).collect(),
            base: t.base.iter().map(|r| bin(value_at(r, c))).collect(),
        };
    }
    let key = |v: &SampleValue| -> Option<String> {
        match v {
            SampleValue::Null => None,
            SampleValue::Text(s) => Some(s.clone()),
            SampleValue::Number(x) => Some(format!("{x}")),
            SampleValue::Bool(b) => Some(b.to_string()),
        }
    };
    let mut weights: BTreeMap<String, f64> = BTreeMap::new();
    for (v, w) in base_values.zip(&t.base_w) {
        if let Some(k) = key(v) {
            *weights.entry(k).or_default() += w;
        }
    }
    let mut common: Vec<(String, f64)> = weights.into_iter().collect();
    common.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let seen: BTreeSet<String> = common.iter().map(|(k, _)| k.clone()).collect();
    common.truncate(VALUE_BINS_MAX);
    let index: BTreeMap<String, u32> = common
        .into_iter()
        .enumerate()
        .map(|(i, (k, _))| (k, 4 + i as u32))
        .collect();
    // 0 null, 1 unused, 2 the baseline's other values, 3 values it never had, 4.. its commonest.
    let bin = |v: &SampleValue| -> u32 {
        match key(v) {
            None => 0,
            Some(k) => match index.get(&k) {
                Some(i) => *i,
                None if seen.contains(&k) => 2,
                None => 3,
            },
        }
    };
    Bins {
        len: 4 + index.len(),
        cur: t.cur.iter().map(|r| bin(value_at(r, c))).collect(),
        base: t.base.iter().map(|r| bin(value_at(r, c))).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(values: &[f64]) -> Vec<(usize, f64, f64)> {
        let mut v: Vec<(usize, f64, f64)> = values
            .iter()
            .enumerate()
            .map(|(i, x)| (i, *x, 1.0))
            .collect();
        v.sort_by(|a, b| a.1.total_cmp(&b.1));
        v
    }

    /// A shifted copy of the baseline maps back onto it, inside the bulk and beyond it.
    #[test]
    fn a_shift_is_undone() {
        let base: Vec<f64> = (0..100).map(f64::from).collect();
        let cur: Vec<f64> = base.iter().map(|x| x + 15.0).rev().collect();
        let map = ShiftMap::fit(&sorted(&cur), &sorted(&base)).unwrap();
        for x in [0.0, 15.0, 50.5, 114.0, 300.0] {
            assert!((map.apply(x) - (x - 15.0)).abs() < 1e-9, "{x}");
        }
        // A rescaling too: ×10 comes back ÷10.
        let cur: Vec<f64> = base.iter().map(|x| x * 10.0).collect();
        let map = ShiftMap::fit(&sorted(&cur), &sorted(&base)).unwrap();
        for x in [0.0, 333.0, 5000.0] {
            assert!((map.apply(x) - x / 10.0).abs() < 1e-9, "{x}");
        }
    }

    /// A block planted far outside the bulk stays far outside: it is not the shift.
    #[test]
    fn a_planted_block_is_not_the_shift() {
        let base: Vec<f64> = (0..1000).map(f64::from).collect();
        let mut cur: Vec<f64> = base.iter().map(|x| x + 1.0).collect();
        cur[..10].iter_mut().for_each(|x| *x = 20_000.0);
        let map = ShiftMap::fit(&sorted(&cur), &sorted(&base)).unwrap();
        assert!(map.apply(20_000.0) > 15_000.0);
        // the bulk: 500 moves by about the shift (its quantiles gave up ten rows to the block)
        assert!((map.apply(500.0) - 499.0).abs() < 15.0);
    }

    /// The knots by hand: 1..=20 with weight 1 has its 5% quantile (cumulative weight 1) at 1
    /// and its 95% (19) at 19; weights count as mass.
    #[test]
    fn knots_are_weighted_quantiles() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        let q = quantiles(&sorted(&v)).unwrap();
        assert_eq!(q, (1..=19).map(f64::from).collect::<Vec<_>>());
        let q = quantiles(&[(0, 1.0, 3.0), (1, 2.0, 1.0)]).unwrap();
        // 75% of the mass is at 1.0: levels up to 0.75 (k ≤ 15) are 1.0, the rest 2.0.
        assert_eq!(q.iter().filter(|x| **x == 1.0).count(), 15);
        assert_eq!(quantiles(&[]), None);
    }

    /// Current values that do not move (one value only) fit no map.
    #[test]
    fn a_constant_column_fits_no_map() {
        let cur = sorted(&[4.0; 50]);
        let base = sorted(&(0..50).map(f64::from).collect::<Vec<_>>());
        assert!(ShiftMap::fit(&cur, &base).is_none());
    }

    /// Sums over some rows subtracted from sums over more rows leave the rest's sums.
    #[test]
    fn sums_subtract_bin_by_bin() {
        let mut all = Sums {
            w: 10.0,
            hit: 4.0,
            hist: vec![6.0, 4.0],
        };
        all.subtract(&Sums {
            w: 3.0,
            hit: 3.0,
            hist: vec![1.0, 2.0],
        });
        assert_eq!((all.w, all.hit, all.hist), (7.0, 1.0, vec![5.0, 2.0]));
    }

    /// Causes before symptoms: provenance, then unit changes, triggers, new values, drift of a
    /// file, slices, row flags, and last the rest (the whole-data drift, duplicates).
    #[test]
    fn roots_are_taken_most_specific_first() {
        let order = [
            "INT002", "SCH005", "TRG001", "SCH003", "DRF004", "SLC001", "OUT001", "DRF001",
        ];
        assert!(
            order.windows(2).all(|w| rank(w[0]) < rank(w[1])),
            "{order:?}"
        );
        assert_eq!(rank("DUP001"), rank("DRF001"));
    }
}
