//! A candidate slice on the held-out half: its weighted tallies against the baseline (for the
//! re-test), the current sample rows it holds, and what it holds in words and examples.

use std::collections::{BTreeMap, BTreeSet};

use super::data::{Key, SliceData};
use super::search::Candidate;

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
