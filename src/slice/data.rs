//! The slice data: both samples (the baseline's and the current data's), encoded, each row
//! weighted by the rows it stands for, with its label, provenance, half (search or held out)
//! and the four signals' errors.

use rayon::prelude::*;

use crate::profile::{Profile, mix};
use crate::rows::confident::Probs;
use crate::rows::knn::{FLAG, Query};
use crate::rows::labels::LabelModel;
use crate::rows::pass::RowModel;
use crate::rows::shared::{NO_CLASS, SLOTS, code_of_slot, nth_row, slot_of};

/// The signals, in the order findings prefer them when two find the same slice.
pub const SIGNALS: [&str; 4] = ["membership", "loss", "label-issue", "outlier"];

/// An attribute value a slice can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// Encoder feature and code (a category, a baseline decile bin, null, past the range).
    Feature(u32, u32),
    Label(u16),
    Source(u32),
}

/// Both samples, encoded, with per-row signals.
#[derive(Debug, Clone)]
pub struct SliceData {
    pub d: usize,
    pub codes: Vec<u32>,
    pub class: Vec<u16>,
    pub current: Vec<bool>,
    pub weight: Vec<f64>,
    pub source: Vec<u32>,
    pub row: Vec<u64>,
    /// In the search half (else held out).
    pub search: Vec<bool>,
    /// Per signal (`SIGNALS` order after membership): loss, label issue, outlier.
    pub loss: Vec<Option<bool>>,
    pub label_issue: Vec<Option<bool>>,
    pub outlier: Vec<bool>,
    /// Rows each side stands for.
    pub current_rows: f64,
    pub baseline_rows: f64,
}

/// A row's loss and label-issue signals (`None`: no verdict).
type LabelSignals = (Option<bool>, Option<bool>);

/// One side's sample rows, encoded and scored: slice codes (row-major), classes, (source, row,
/// key), and (label signals, outlier) of each row.
struct SideRows {
    codes: Vec<u32>,
    class: Vec<u16>,
    keys: Vec<(u32, u64, u64)>,
    signals: Vec<(LabelSignals, bool)>,
}

/// Sample row `i`'s loss and label-issue signals. A baseline row has the verdicts the label
/// model's fit gave it (out of fold, its kNN neighbours without itself); a current row is judged
/// by the baseline's models: confident learning's verdict, and the kNN flag added to its issue.
#[allow(clippy::too_many_arguments)]
fn label_signals(
    labels: Option<&LabelModel>,
    current: bool,
    i: usize,
    (xi, ci): (&[f64], &[u32]),
    class: u16,
    y: f64,
    probs: &mut Probs,
    q: &mut Query,
) -> LabelSignals {
    let Some(l) = labels else {
        return (None, None);
    };
    if !current {
        let v = l.reference_verdicts.get(i).copied().flatten();
        let knn = l.reference_knn_flags.get(i).copied().unwrap_or(false);
        return (v.map(|v| v.misclassified), v.map(|v| v.issue || knn));
    }
    let v = l
        .confident
        .as_ref()
        .and_then(|m| m.verdict_one(xi, ci, class, y, probs));
    let knn = l
        .knn
        .as_ref()
        .and_then(|k| {
            if k.is_numeric() {
                k.score_numeric(xi, ci, y, None, q)
            } else {
                k.score(xi, ci, class, None, q)
            }
        })
        .is_some_and(|s| s >= FLAG);
    (v.map(|v| v.misclassified), v.map(|v| v.issue || knn))
}

impl SliceData {
    /// The two samples and their signals; `None` without a baseline or without a sample.
    pub fn build(
        baseline: &Profile,
        current: &Profile,
        model: &RowModel,
        labels: Option<&LabelModel>,
        seed: u64,
    ) -> Option<SliceData> {
        let encoder = &model.encoder;
        let d = encoder.dim();
        if d == 0 || baseline.sample.is_empty() || current.sample.is_empty() {
            return None;
        }
        let mut data = SliceData {
            d,
            codes: Vec::new(),
            class: Vec::new(),
            current: Vec::new(),
            weight: Vec::new(),
            source: Vec::new(),
            row: Vec::new(),
            search: Vec::new(),
            loss: Vec::new(),
            label_issue: Vec::new(),
            outlier: Vec::new(),
            current_rows: current.rows as f64,
            baseline_rows: baseline.rows as f64,
        };
        // Each side's rows are encoded and scored apart, the rows in parallel chunks collected
        // in order: every row's signals are its own, so nothing depends on the threads.
        let side_rows = |side: bool, p: &Profile| -> SideRows {
            let columns: Vec<Option<usize>> = encoder
                .features
                .iter()
                .map(|f| p.columns.iter().position(|c| c.name == f.column))
                .collect();
            let rows: Vec<_> = p.sample.rows().collect();
            let mut x = Vec::new();
            let mut codes = Vec::new();
            encoder.encode_sample_columns(
                rows.iter().map(|(_, r)| &r.values[..]),
                &columns,
                &mut x,
                &mut codes,
            );
            let classes = labels.map(|l| l.classes.of_sample(p));
            let targets = labels.map(|l| l.classes.sample_targets(p));
            let class_of = |i: usize| classes.as_ref().map_or(NO_CLASS, |c| c[i]);
            let n = rows.len();
            let (flags, signals): (Vec<bool>, Vec<LabelSignals>) = rayon::join(
                || model.flags(&x),
                || {
                    (0..n)
                        .into_par_iter()
                        .with_min_len(1024)
                        .map_init(
                            || (Probs::default(), Query::default()),
                            |(probs, q), i| {
                                let y = targets
                                    .as_ref()
                                    .and_then(|t| t.get(i).copied())
                                    .unwrap_or(f64::NAN);
                                let row = (nth_row(&x, d, i), nth_row(&codes, d, i));
                                label_signals(labels, side, i, row, class_of(i), y, probs, q)
                            },
                        )
                        .collect::<Vec<_>>()
                },
            );
            let signals: Vec<_> = signals.into_iter().zip(flags).collect();
            SideRows {
                codes,
                class: (0..n).map(class_of).collect(),
                keys: rows.iter().map(|(_, r)| (r.source, r.row, r.key)).collect(),
                signals,
            }
        };
        let (b, c) = rayon::join(|| side_rows(false, baseline), || side_rows(true, current));
        for (side, rows, p) in [(false, b, baseline), (true, c, current)] {
            data.codes.extend_from_slice(&rows.codes);
            data.class.extend_from_slice(&rows.class);
            for (&(source, row, key), &((loss, issue), outlier)) in
                rows.keys.iter().zip(&rows.signals)
            {
                data.current.push(side);
                data.source.push(source);
                data.row.push(row);
                data.search
                    .push(mix(mix(key, seed ^ 0x5_1ce5), u64::from(side)) & 1 == 0);
                data.loss.push(loss);
                data.label_issue.push(issue);
                data.outlier.push(outlier);
            }
            data.weight.extend(p.sample_weights());
        }
        Some(data)
    }

    pub fn len(&self) -> usize {
        self.class.len()
    }

    pub fn is_empty(&self) -> bool {
        self.class.is_empty()
    }

    /// Per feature and counter slot (`slot_of`), whether the code is a predicate a finding
    /// can state (`RowModel::slice_of`): computed once, not per row.
    pub(super) fn describable(&self, model: &RowModel) -> Vec<Vec<bool>> {
        (0..self.d)
            .map(|f| {
                (0..SLOTS)
                    .map(|k| model.slice_of(f as u32, code_of_slot(k)).is_some())
                    .collect()
            })
            .collect()
    }

    /// The keys row `i` holds: its describable feature items, its label, its source (current
    /// rows only).
    pub(super) fn keys(&self, i: usize, describable: &[Vec<bool>], out: &mut Vec<Key>) {
        out.clear();
        for (f, ok) in describable.iter().enumerate() {
            let code = self.codes[i * self.d + f];
            if slot_of(code).is_some_and(|k| ok[k]) {
                out.push(Key::Feature(f as u32, code));
            }
        }
        if self.class[i] != NO_CLASS {
            out.push(Key::Label(self.class[i]));
        }
        if self.current[i] {
            out.push(Key::Source(self.source[i]));
        }
    }

    /// The error of row `i` under `signal` (`None`: the row does not take part).
    pub(super) fn error(&self, signal: &str, i: usize) -> Option<f64> {
        let b = |x: bool| if x { 1.0 } else { 0.0 };
        match signal {
            "membership" => Some(b(self.current[i])),
            "loss" => self.loss[i].map(b),
            "label-issue" => self.label_issue[i].map(b),
            _ => Some(b(self.outlier[i])),
        }
    }

    /// Whether row `i` holds every key of `slice`.
    pub(super) fn holds(&self, i: usize, slice: &[Key]) -> bool {
        slice.iter().all(|k| match *k {
            Key::Feature(f, code) => self.codes[i * self.d + f as usize] == code,
            Key::Label(c) => self.class[i] == c,
            Key::Source(s) => self.current[i] && self.source[i] == s,
        })
    }
}
