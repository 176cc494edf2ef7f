//! Slice finding (SLC001): which conjunction of up to three predicates best explains what
//! changed. Runs on the two samples (the baseline's and the current data's, each row weighted
//! by the rows it stands for), split at random in a search half and a held-out half.
//!
//! Four error vectors carry the poisoning signal:
//! - `membership`: 1 for a current row, 0 for a baseline row, over both samples, with the label
//!   as an attribute: a slice over-represented in the current data (injected or drifted rows),
//!   or a label over-represented within a slice (flipped labels, triggers);
//! - `loss`: the 0-1 loss of the baseline's model (LBL003's logistic regression, cross-fitted on
//!   the baseline) on the current rows;
//! - `outlier`: the row is past OUT001's outlier threshold;
//! - `label-issue`: LBL002 (kNN) or LBL003 (confident learning) flags the row.
//!
//! SliceLine runs on the search half for each, once broad (α = 0.5) and once for small
//! concentrated slices (α = 0.99). Every slice found is then re-tested on the held-out half
//! against the baseline (a one-sided z-test on weighted shares with Kish's effective sample
//! size), Benjamini–Hochberg across all slices tested; the detector reports only survivors.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::confident::Probs;
use super::knn::{FLAG, Query};
use super::labels::{LabelModel, NO_CLASS, SLOTS, code_of_slot, slot_of};
use super::pass::RowModel;
use super::sliceline::{self, Item};
use crate::profile::{Profile, mix};

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
        let mut probs = Probs::default();
        let mut q = Query::default();
        for (side, p) in [(false, baseline), (true, current)] {
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
            let flags = model.flags(&x);
            for (i, (label, r)) in rows.iter().enumerate() {
                let class = labels.map_or(NO_CLASS, |l| l.classes.id(label));
                let (xi, ci) = (&x[i * d..(i + 1) * d], &codes[i * d..(i + 1) * d]);
                let (loss, issue) = match labels {
                    None => (None, None),
                    Some(l) if !side => {
                        let v = l.reference_verdicts.get(i).copied().flatten();
                        let knn = l.reference_knn_flags.get(i).copied().unwrap_or(false);
                        (v.map(|v| v.misclassified), v.map(|v| v.issue || knn))
                    }
                    Some(l) => {
                        let v = l
                            .confident
                            .as_ref()
                            .and_then(|m| m.verdict_one(xi, ci, class, &mut probs));
                        let knn = l
                            .knn
                            .as_ref()
                            .and_then(|k| k.score(xi, ci, class, None, &mut q))
                            .is_some_and(|s| s >= FLAG);
                        (v.map(|v| v.misclassified), v.map(|v| v.issue || knn))
                    }
                };
                data.codes.extend_from_slice(ci);
                data.class.push(class);
                data.current.push(side);
                data.source.push(r.source);
                data.row.push(r.row);
                data.search
                    .push(mix(mix(r.key, seed ^ 0x5_1ce5), u64::from(side)) & 1 == 0);
                data.loss.push(loss);
                data.label_issue.push(issue);
                data.outlier.push(flags[i]);
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
    fn describable(&self, model: &RowModel) -> Vec<Vec<bool>> {
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
    fn keys(&self, i: usize, describable: &[Vec<bool>], out: &mut Vec<Key>) {
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
    fn error(&self, signal: &str, i: usize) -> Option<f64> {
        let b = |x: bool| if x { 1.0 } else { 0.0 };
        match signal {
            "membership" => Some(b(self.current[i])),
            "loss" => self.loss[i].map(b),
            "label-issue" => self.label_issue[i].map(b),
            _ => Some(b(self.outlier[i])),
        }
    }

    /// Whether row `i` holds every key of `slice`.
    fn holds(&self, i: usize, slice: &[Key]) -> bool {
        slice.iter().all(|k| match *k {
            Key::Feature(f, code) => self.codes[i * self.d + f as usize] == code,
            Key::Label(c) => self.class[i] == c,
            Key::Source(s) => self.current[i] && self.source[i] == s,
        })
    }
}

/// Search settings (SLC001's thresholds).
#[derive(Debug, Clone, Copy)]
pub struct SearchSettings {
    pub alphas: [f64; 2],
    /// Membership's passes (its mean error is about 1/2, not a small rate).
    pub membership_alphas: [f64; 2],
    pub k: usize,
    pub max_level: usize,
    pub min_rows: u64,
    /// Rounds of each pass (sequential covering).
    pub rounds: usize,
    /// Search rows per side, and candidates evaluated per level (by upper bound).
    pub max_rows: usize,
    pub max_candidates: usize,
}

/// A slice some signal's search found.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub signal: &'static str,
    pub keys: Vec<Key>,
    /// The SliceLine passes (α) that found it and its best score.
    pub alphas: Vec<f64>,
    pub score: f64,
}

/// Weighted tallies of a set of rows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    pub rows: u64,
    pub weight: f64,
    pub weight_sq: f64,
    pub error: f64,
}

impl Tally {
    fn add(&mut self, w: f64, e: f64) {
        self.rows += 1;
        self.weight += w;
        self.weight_sq += w * w;
        self.error += w * e;
    }

    /// The weighted error rate.
    pub fn rate(&self) -> f64 {
        if self.weight > 0.0 {
            self.error / self.weight
        } else {
            0.0
        }
    }

    /// Kish's effective sample size.
    pub fn effective(&self) -> f64 {
        if self.weight_sq > 0.0 {
            self.weight * self.weight / self.weight_sq
        } else {
            0.0
        }
    }
}

/// The SliceLine searches of every signal on the search half: the distinct slices found, in a
/// deterministic order.
pub fn search(data: &SliceData, model: &RowModel, s: &SearchSettings) -> Vec<Candidate> {
    let mut found: BTreeMap<(usize, Vec<Key>), Candidate> = BTreeMap::new();
    let mut keys = Vec::new();
    let describable = data.describable(model);
    for (si, &signal) in SIGNALS.iter().enumerate() {
        // The rows taking part: the search half; both sides for membership, else current rows.
        let mut rows: Vec<usize> = (0..data.len())
            .filter(|&i| {
                data.search[i]
                    && (signal == "membership" || data.current[i])
                    && data.error(signal, i).is_some()
            })
            .collect();
        // At most `max_rows` rows of each side, a seeded subset (the held-out test uses the
        // whole other half): enough to find a slice of 0.1% of the rows, and the cost of the
        // search does not grow with the sample.
        for side in [false, true] {
            let mine: Vec<usize> = rows
                .iter()
                .copied()
                .filter(|&i| data.current[i] == side)
                .collect();
            if mine.len() > s.max_rows {
                let mut keyed: Vec<(u64, usize)> = mine
                    .iter()
                    .map(|&i| {
                        let k = mix(mix(u64::from(data.source[i]), data.row[i]), u64::from(side));
                        (k, i)
                    })
                    .collect();
                keyed.sort_unstable();
                let drop: std::collections::HashSet<usize> =
                    keyed[s.max_rows..].iter().map(|&(_, i)| i).collect();
                rows.retain(|i| !drop.contains(i));
            }
        }
        if rows.is_empty() {
            continue;
        }
        let mut index: HashMap<Key, usize> = HashMap::new();
        let mut names: Vec<Key> = Vec::new();
        let mut items: Vec<Item> = Vec::new();
        for (r, &i) in rows.iter().enumerate() {
            data.keys(i, &describable, &mut keys);
            for &k in &keys {
                // Membership cannot use the source: every file is on one side.
                if signal == "membership" && matches!(k, Key::Source(_)) {
                    continue;
                }
                let j = *index.entry(k).or_insert_with(|| {
                    names.push(k);
                    let attribute = match k {
                        Key::Feature(f, _) => f,
                        Key::Label(_) => data.d as u32,
                        Key::Source(_) => data.d as u32 + 1,
                    };
                    items.push(Item::new(attribute, rows.len()));
                    items.len() - 1
                });
                items[j].set(r);
            }
        }
        // Item order must not depend on the rows' order of first appearance.
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by_key(|&j| names[j]);
        let items: Vec<Item> = order.iter().map(|&j| items[j].clone()).collect();
        let names: Vec<Key> = order.iter().map(|&j| names[j]).collect();
        let weight: Vec<f64> = rows.iter().map(|&i| data.weight[i]).collect();
        let mut error: Vec<f64> = rows
            .iter()
            .map(|&i| data.error(signal, i).unwrap_or(0.0))
            .collect();
        let alphas = if signal == "membership" {
            s.membership_alphas
        } else {
            s.alphas
        };
        for &alpha in &alphas {
            // Sequential covering: after each round the best slice's rows lose their error, so
            // one strong cause (and its refinements) cannot fill every round's top K.
            let saved = error.clone();
            for _ in 0..s.rounds {
                let top = sliceline::top_k(
                    &items,
                    &weight,
                    &error,
                    &sliceline::Settings {
                        alpha,
                        k: s.k,
                        max_level: s.max_level,
                        min_support: s.min_rows,
                        max_candidates: s.max_candidates,
                    },
                );
                let Some(best) = top.top.first().cloned() else {
                    break;
                };
                for sl in top.top {
                    let mut ks: Vec<Key> = sl.items.iter().map(|&j| names[j as usize]).collect();
                    ks.sort();
                    // A label alone or a source alone is the label drift's or the file checks'.
                    if ks.iter().all(|k| !matches!(k, Key::Feature(..))) {
                        continue;
                    }
                    let c = found.entry((si, ks.clone())).or_insert_with(|| Candidate {
                        signal,
                        keys: ks,
                        alphas: Vec::new(),
                        score: f64::NEG_INFINITY,
                    });
                    if !c.alphas.contains(&alpha) {
                        c.alphas.push(alpha);
                    }
                    c.score = c.score.max(sl.score);
                }
                for (r, e) in error.iter_mut().enumerate() {
                    if best
                        .items
                        .iter()
                        .all(|&j| items[j as usize].rows[r / 64] >> (r % 64) & 1 == 1)
                    {
                        *e = 0.0;
                    }
                }
            }
            error = saved;
        }
    }
    found.into_values().collect()
}

/// The keys of a slice that are not of one kind.
fn keys_but(keys: &[Key], drop: impl Fn(&Key) -> bool) -> Vec<Key> {
    keys.iter().copied().filter(|k| !drop(k)).collect()
}

/// Held-out tallies of a candidate: (current rows in the slice, baseline rows in the slice,
/// all held-out current rows, all held-out baseline rows). For membership the error is the
/// row's label being the slice's label (when it has one); for the other signals the signal's
/// error, with baseline rows from both halves (the search saw none of them).
pub fn retest_tallies(data: &SliceData, c: &Candidate) -> [Tally; 4] {
    let mut t = [Tally::default(); 4];
    let label = c.keys.iter().find_map(|k| match k {
        Key::Label(l) => Some(*l),
        _ => None,
    });
    let features = keys_but(&c.keys, |k| matches!(k, Key::Label(_)));
    let without_source = keys_but(&c.keys, |k| matches!(k, Key::Source(_)));
    for i in 0..data.len() {
        let held_out = !data.search[i];
        let e = if c.signal == "membership" {
            match label {
                Some(l) => (data.class[i] == l) as u8 as f64,
                None => 0.0,
            }
        } else {
            match data.error(c.signal, i) {
                Some(e) => e,
                None => continue,
            }
        };
        let side = data.current[i];
        if side && !held_out {
            continue;
        }
        if c.signal == "membership" && !side && !held_out {
            continue;
        }
        let w = data.weight[i];
        let slot = usize::from(!side);
        t[slot + 2].add(w, e);
        // Membership with a label: within the feature part (the label share is the test).
        // Baseline rows are matched without the source (a current file is not theirs).
        let inside = if c.signal == "membership" && label.is_some() {
            data.holds(i, &features)
        } else if side {
            data.holds(i, &c.keys)
        } else {
            data.holds(i, &without_source)
        };
        if inside {
            t[slot].add(w, e);
        }
    }
    t
}

/// Rows of the current sample (both halves) in a slice: (estimated current rows, examples by
/// provenance, rows per source), and the estimated baseline rows and per-class weights on both
/// sides within the slice's feature part.
pub struct Described {
    pub current_rows: f64,
    pub baseline_rows: f64,
    pub examples: Vec<(u32, u64)>,
    pub sources: BTreeMap<u32, u64>,
    pub current_classes: BTreeMap<u16, f64>,
    pub baseline_classes: BTreeMap<u16, f64>,
}

/// The current sample rows (both halves) a slice holds.
pub fn current_rows_of(data: &SliceData, keys: &[Key]) -> Vec<u32> {
    (0..data.len())
        .filter(|&i| data.current[i] && data.holds(i, keys))
        .map(|i| i as u32)
        .collect()
}

pub fn describe(data: &SliceData, c: &Candidate) -> Described {
    let features = keys_but(&c.keys, |k| matches!(k, Key::Label(_)));
    let mut out = Described {
        current_rows: 0.0,
        baseline_rows: 0.0,
        examples: Vec::new(),
        sources: BTreeMap::new(),
        current_classes: BTreeMap::new(),
        baseline_classes: BTreeMap::new(),
    };
    let without_source = keys_but(&c.keys, |k| matches!(k, Key::Source(_)));
    let mut examples: BTreeSet<(u32, u64)> = BTreeSet::new();
    let mut others: BTreeSet<(u32, u64)> = BTreeSet::new();
    let plain = keys_but(&features, |k| matches!(k, Key::Source(_)));
    for i in 0..data.len() {
        if data.holds(i, if data.current[i] { &features } else { &plain }) {
            let classes = if data.current[i] {
                &mut out.current_classes
            } else {
                &mut out.baseline_classes
            };
            *classes.entry(data.class[i]).or_default() += data.weight[i];
        }
        let keys = if data.current[i] {
            &c.keys
        } else {
            &without_source
        };
        if !data.holds(i, keys) {
            continue;
        }
        if data.current[i] {
            out.current_rows += data.weight[i];
            *out.sources.entry(data.source[i]).or_default() += 1;
            // Examples: rows the signal flags; for a label over-represented in a slice, rows
            // the baseline's model would label otherwise (the likely flipped ones), else any.
            let has_label = c.keys.iter().any(|k| matches!(k, Key::Label(_)));
            let flagged = match c.signal {
                "membership" if has_label => data.loss[i] == Some(true),
                "membership" => true,
                signal => data.error(signal, i) == Some(1.0),
            };
            if flagged {
                examples.insert((data.source[i], data.row[i]));
            } else {
                others.insert((data.source[i], data.row[i]));
            }
        } else {
            out.baseline_rows += data.weight[i];
        }
    }
    out.examples = examples.into_iter().chain(others).take(5).collect();
    out
}
