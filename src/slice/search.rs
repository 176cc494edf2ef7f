//! The search: SliceLine on the search half for each signal, once broad and once for small
//! concentrated slices, a few rounds each (sequential covering); the distinct slices found.

use std::collections::{BTreeMap, HashMap};

use super::data::{Key, SIGNALS, SliceData};
use super::sliceline::{self, Item};
use crate::profile::mix;
use crate::rows::pass::RowModel;

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
