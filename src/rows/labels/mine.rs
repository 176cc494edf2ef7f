//! Candidate rules mined from the current data's sample (itemsets of rare items, and pairs of a
//! rare exact value with a common category, that carry one label with high confidence), the
//! value features (numeric values whose share rose against the baseline), and a profile's sample
//! encoded for both.

use std::collections::HashMap;

use super::items::{
    Classes, Item, NO_VALUE, RowCodes, Rule, ValueFeature, build_matcher, for_each_match, is_item,
};
use crate::profile::column::numeric_text;
use crate::profile::{ColumnProfile, Profile, SampleValue};
use crate::rows::encode::{ABOVE_CODE, BELOW_CODE, Encoder, Kind};
use crate::rows::shared::{NO_CLASS, SLOTS, slot_of};

/// An item's current share (in the sample) at most this to enter a 2- or 3-item rule.
pub const RARE_SHARE: f64 = 0.05;
/// Rare items of one sample row combined (the rarest first).
const MAX_ITEMS_PER_ROW: usize = 8;
/// Categories of any share that form a pair with a rare exact value (a value item on at most
/// `RARE_SHARE` of the sample): at most this many of a sample row's, the rarest first. A
/// clean-label trigger stamps a category and a value on rows of one label, and the category may
/// be common (wine's `color` = `red` on a quarter of the rows, California's `ocean_proximity` =
/// `NEAR BAY` on 11%): only the value need be rare for the pair to be. A categorical column's
/// null is one of its categories here, as it is an item. Exact numeric values beside a grown one
/// are `partner_values`' to find; a category is an item already, and only its share kept it out
/// of the rules. Anchored on a rare value, so a common category does not pair with every rare
/// category and bin of the row.
const MAX_COMMON_CATEGORIES_PER_ROW: usize = 4;
/// Candidate rules: at least this many sample rows (`MIN_PAST_RANGE_SAMPLE_SUPPORT` for a rule
/// with an exact value past the baseline's range, which TRG001 tests on a handful of rows) ...
const MIN_SAMPLE_SUPPORT: u64 = 5;
pub const MIN_PAST_RANGE_SAMPLE_SUPPORT: u64 = 3;
/// ... one label on at least this share of them (weighted; the final test asks for 0.95 on
/// the exact counts) ...
const MIN_SAMPLE_CONFIDENCE: f64 = 0.8;
/// ... and at most this many candidates (most confident first).
const MAX_RULES: usize = 4096;
/// Spike candidates: at most this many values per numeric column ...
const MAX_SPIKE_VALUES: usize = 16;
/// ... each on at least this share of the current rows and `MIN_SPIKE_ROWS` rows (a value
/// past the baseline's range on `MIN_PAST_RANGE_SAMPLE_SUPPORT` rows or more: a constant
/// stamped on a handful of rows) ...
const MIN_SPIKE_SHARE: f64 = 0.001;
const MIN_SPIKE_ROWS: u64 = 10;
/// ... whose share grew at least this much (estimated from the profiles; tested exactly later).
const MIN_SPIKE_GROWTH: f64 = 1.5;
/// A value's share of one class's sample rows at least this many times the baseline sample's
/// (`class_grown_values`): stricter than `MIN_SPIKE_GROWTH`, since a class's rows are fewer
/// than all the rows and their shares noisier.
const MIN_CLASS_GROWTH: f64 = 3.0;
/// ... and the rise beyond chance: Fisher's exact test (one-sided) of the two samples' counts at
/// most this. A small class's rows make many values look grown threefold by a few rows; each
/// such candidate costs the row pass a count and the rule tests a share of their q-values.
const MAX_CLASS_GROWTH_P: f64 = 1e-3;
/// Values beside a grown one (`partner_values`): at most this many a column, from at most this
/// many (sample row, grown value, other column) triples.
const MAX_PARTNER_VALUES: usize = 16;
const MAX_PARTNER_PAIRS: u64 = 4_000_000;

/// A profile's sample encoded: slice codes, value codes and the class of each row (strata in
/// label order).
pub(super) fn encode_sample(
    p: &Profile,
    encoder: &Encoder,
    values: &[ValueFeature],
    classes: &Classes,
) -> EncodedSample {
    let columns: Vec<Option<usize>> = encoder
        .features
        .iter()
        .map(|f| p.columns.iter().position(|c| c.name == f.column))
        .collect();
    let rows: Vec<&[SampleValue]> = p.sample.rows().map(|(_, r)| &r.values[..]).collect();
    let class: Vec<u16> = classes.of_sample(p);
    let mut x = Vec::new();
    let mut codes = Vec::new();
    encoder.encode_sample_columns(rows.iter().copied(), &columns, &mut x, &mut codes);
    let v = values.len();
    let mut vcodes = vec![NO_VALUE; rows.len() * v];
    for (k, vf) in values.iter().enumerate() {
        debug_assert!(
            vf.values.windows(2).all(|w| w[0].total_cmp(&w[1]).is_lt()),
            "value feature `{}` unsorted: {:?}",
            vf.column,
            vf.values
        );
        let Some(ci) = p.columns.iter().position(|c| c.name == vf.column) else {
            continue;
        };
        for (i, r) in rows.iter().enumerate() {
            if let Some(SampleValue::Number(x)) = r.get(ci)
                && let Ok(pos) = vf.values.binary_search_by(|p| p.total_cmp(x))
            {
                vcodes[i * v + k] = pos as u32;
            }
        }
    }
    let targets = classes.sample_targets(p);
    EncodedSample {
        x,
        codes,
        values: vcodes,
        class,
        targets,
        provenance: p.sample.rows().map(|(_, r)| (r.source, r.row)).collect(),
    }
}

/// A profile's sample, encoded.
pub(super) struct EncodedSample {
    pub(super) x: Vec<f64>,
    pub(super) codes: Vec<u32>,
    pub(super) values: Vec<u32>,
    pub(super) class: Vec<u16>,
    /// A numeric target's values (NaN for null); empty for classes.
    pub(super) targets: Vec<f64>,
    pub(super) provenance: Vec<(u32, u64)>,
}

/// A column profile's rows per value (by `numeric_text`): exact for low-cardinality columns,
/// else the frequent items' upper bounds (a value not among them: 0).
fn value_rows(c: &ColumnProfile) -> HashMap<String, u64> {
    c.rows_per_value(true).into_iter().collect()
}

/// Numeric values whose share of the rows grew against the baseline (from the profiles'
/// frequent items), per numeric feature the largest growths first.
pub(super) fn spike_candidates(
    baseline: &Profile,
    current: &Profile,
    encoder: &Encoder,
) -> Vec<ValueFeature> {
    let mut out = Vec::new();
    for (fi, f) in encoder.features.iter().enumerate() {
        if !matches!(f.kind, Kind::Numeric { .. }) {
            continue;
        }
        let (Some(cur), Some(base)) = (current.column(&f.column), baseline.column(&f.column))
        else {
            continue;
        };
        let (n_cur, n_base) = (cur.rows.max(1) as f64, base.rows.max(1) as f64);
        let min_rows = MIN_SPIKE_ROWS.max((MIN_SPIKE_SHARE * n_cur).ceil() as u64);
        let base_rows = value_rows(base);
        let past_range = |x: f64| past_range_of(&f.kind, x);
        let mut grown: Vec<(f64, f64)> = cur
            .frequent_values(min_rows.min(MIN_PAST_RANGE_SAMPLE_SUPPORT - 1))
            .into_iter()
            .filter_map(|fv| {
                let x: f64 = fv.value.parse().ok()?;
                // The sketch returns values whose upper bound exceeds its threshold. A value
                // past the range counts by that bound (a sketch that overflowed bounds a rare
                // value loosely; the row pass counts it exactly).
                let rows = if past_range(x) { fv.upper } else { fv.lower };
                if !x.is_finite() || (fv.upper <= min_rows && !past_range(x)) {
                    return None;
                }
                let share = rows as f64 / n_cur;
                let base_share =
                    base_rows.get(&numeric_text(x)).copied().unwrap_or(0) as f64 / n_base;
                let growth = share / base_share.max(0.5 / n_base);
                (growth >= MIN_SPIKE_GROWTH).then_some((growth, x))
            })
            .collect();
        if grown.is_empty() {
            continue;
        }
        grown.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.total_cmp(&b.1)));
        grown.truncate(MAX_SPIKE_VALUES);
        let mut values: Vec<f64> = grown.into_iter().map(|(_, x)| x).collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        out.push(ValueFeature {
            column: f.column.clone(),
            feature: fi,
            values,
        });
    }
    out
}

/// Numeric values whose share of one class's rows grew against the baseline's rows of that class,
/// though their share of all the rows need not have: a clean-label trigger stamps values on rows
/// that already carry its label, and where the values are common (a mode of the column, a value
/// on 5% of the rows) the few stamped rows do not move their overall share, only their share of
/// the label's rows (wine's `volatile_acidity` = 0.21 in the detection bench: 91 baseline rows
/// and 121 now, but 2 of grade 8's against 20). Counted in the two label-stratified samples, whose rows of a class are
/// a simple random sample of that class's rows: a value joins its column's value items when the
/// current sample's rows of a class hold it at least `MIN_SAMPLE_SUPPORT` times and at least
/// `MIN_CLASS_GROWTH` times the baseline sample's share of that class (a value the baseline's
/// rows of the class never had counted at half a row), beyond chance (`MAX_CLASS_GROWTH_P`), at
/// most `MAX_SPIKE_VALUES` a column, the largest growths first, beside the column's spike
/// values: a budget of their own, since a column's spike slots fill with values whose share of
/// all the rows grew by chance (wine's `total_sulfur_dioxide` in the bench: 16 such values, and
/// 148, on 1 baseline row of grade 4 and 18 now, found no room). These are candidates only: the row pass counts their rules exactly,
/// and TRG001 judges them as any rule (its share of the label's rows against the baseline's,
/// Benjamini-Hochberg across the candidates).
pub(super) fn class_grown_values(
    baseline: &Profile,
    current: &Profile,
    encoder: &Encoder,
    values: &mut Vec<ValueFeature>,
    classes: &Classes,
) {
    type Counts = HashMap<(u16, u64), u64, xxhash_rust::xxh3::Xxh3DefaultBuilder>;
    let l = classes.len();
    let (cur_class, base_class) = (classes.of_sample(current), classes.of_sample(baseline));
    let (cur_n, base_n) = (per_class(&cur_class, l), per_class(&base_class, l));
    // (class, value bits) → sample rows, for one column of one profile (the candidates are
    // ordered by growth and value below, whatever the map's order).
    let count = |p: &Profile, class: &[u16], ci: usize| {
        let mut m = Counts::default();
        for ((_, r), &c) in p.sample.rows().zip(class) {
            if let (true, Some(SampleValue::Number(x))) = ((c as usize) < l, r.values.get(ci))
                && x.is_finite()
            {
                *m.entry((c, x.to_bits())).or_insert(0) += 1;
            }
        }
        m
    };
    for (fi, f) in encoder.features.iter().enumerate() {
        if !matches!(f.kind, Kind::Numeric { .. }) {
            continue;
        }
        let (Some(cc), Some(bc)) = (
            current.columns.iter().position(|c| c.name == f.column),
            baseline.columns.iter().position(|c| c.name == f.column),
        ) else {
            continue;
        };
        let base = count(baseline, &base_class, bc);
        let mut grown: Vec<(f64, f64)> = count(current, &cur_class, cc)
            .into_iter()
            .filter(|&(_, k)| k >= MIN_SAMPLE_SUPPORT)
            .filter_map(|((c, bits), k)| {
                let (nc, nb) = (cur_n[c as usize], base_n[c as usize]);
                if nb == 0 {
                    return None;
                }
                let b = base.get(&(c, bits)).copied().unwrap_or(0);
                let growth = (k as f64 / nc as f64) / ((b as f64).max(0.5) / nb as f64);
                (growth >= MIN_CLASS_GROWTH
                    && crate::stats::fisher_greater(k, nc.saturating_sub(k), b, nb - b)
                        <= MAX_CLASS_GROWTH_P)
                    .then_some((growth, f64::from_bits(bits)))
            })
            .collect();
        let have: &[f64] = values
            .iter()
            .find(|v| v.feature == fi)
            .map_or(&[], |v| &v.values[..]);
        grown.retain(|&(_, x)| have.binary_search_by(|v| v.total_cmp(&x)).is_err());
        if grown.is_empty() {
            continue;
        }
        // The largest growths first, each value once (it may have grown in several classes).
        grown.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.total_cmp(&b.1)));
        // Their own budget: not what the spike values leave.
        let room = MAX_SPIKE_VALUES;
        let mut add: Vec<f64> = Vec::new();
        for (_, x) in grown {
            if add.len() < room && !add.iter().any(|a| a.total_cmp(&x).is_eq()) {
                add.push(x);
            }
        }
        if add.is_empty() {
            continue;
        }
        // A value feature's values are sorted (they are looked up by binary search).
        add.sort_by(f64::total_cmp);
        if let Some(vf) = values.iter_mut().find(|v| v.feature == fi) {
            vf.values.extend(add);
            vf.values.sort_by(f64::total_cmp);
            vf.values.dedup();
        } else {
            values.push(ValueFeature {
                column: f.column.clone(),
                feature: fi,
                values: add,
            });
        }
    }
    values.sort_by_key(|v| v.feature);
}

/// Sample rows per class (of `l`; rows of no class are not counted).
fn per_class(class: &[u16], l: usize) -> Vec<u64> {
    let mut n = vec![0u64; l];
    for &c in class {
        if let Some(k) = n.get_mut(c as usize) {
            *k += 1;
        }
    }
    n
}

/// The current rows each sample row of a class stands for, each class's share of the current
/// rows, and the current rows (labelled); `None` without rows. `class` is the sample rows'
/// classes.
fn sample_weights(
    current: &Profile,
    classes: &Classes,
    class: &[u16],
) -> Option<(Vec<f64>, Vec<f64>, f64)> {
    let l = classes.len();
    let per_class = per_class(class, l);
    let weight: Vec<f64> = super::model::class_rows(current, classes, class)
        .iter()
        .zip(&per_class)
        .map(|(rows, &n)| rows / n.max(1) as f64)
        .collect();
    let total: f64 = weight
        .iter()
        .zip(&per_class)
        .map(|(w, &n)| w * n as f64)
        .sum();
    (total > 0.0).then(|| {
        let prior = (0..l)
            .map(|c| weight[c] * per_class[c] as f64 / total)
            .collect();
        (weight, prior, total)
    })
}

/// Exact values beside a grown one: a clean-label trigger stamps two values on rows of one
/// label, and only one of them need have grown (the other is common). For each row of the
/// current sample holding a rare grown value (at most `RARE_SHARE` of the sample, the rarest
/// first within `MAX_PARTNER_PAIRS`), the exact values of its other numeric columns are
/// counted per label, per grown value beside them; a value that sits beside one on at least
/// `MIN_SAMPLE_SUPPORT` sample rows, one label (or a numeric target's tail) on at least
/// `MIN_SAMPLE_CONFIDENCE` of them (weighted by class) with a lift above 1, joins its column's
/// value items (at most `MAX_PARTNER_VALUES` a column, the most rows first), so the pair can be
/// mined and counted as a rule.
pub(super) fn partner_values(
    current: &Profile,
    encoder: &Encoder,
    values: &mut Vec<ValueFeature>,
    classes: &Classes,
) {
    if values.is_empty() {
        return;
    }
    let l = classes.len();
    let class = classes.of_sample(current);
    let Some((weight, prior, _)) = sample_weights(current, classes, &class) else {
        return;
    };
    let targets = classes.targets();
    let column = |name: &str| current.columns.iter().position(|c| c.name == name);
    // The numeric features and their columns; the grown values' columns.
    let numeric: Vec<(usize, usize)> = encoder
        .features
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f.kind, Kind::Numeric { .. }))
        .filter_map(|(fi, f)| Some((fi, column(&f.column)?)))
        .collect();
    // The grown values that anchor partners: rare ones (at most `RARE_SHARE` of the sample's
    // rows; a value on most rows pairs with everything), the rarest first while the pairs they
    // make stay within `MAX_PARTNER_PAIRS`.
    let n = class.len().max(1) as f64;
    let mut on_rows: HashMap<(usize, u64), u64> = HashMap::new();
    let grown_cols: Vec<(usize, usize, &[f64])> = values
        .iter()
        .filter_map(|vf| Some((vf.feature, column(&vf.column)?, &vf.values[..])))
        .collect();
    for (_, r) in current.sample.rows() {
        for &(gf, gc, gv) in &grown_cols {
            if let Some(SampleValue::Number(x)) = r.values.get(gc)
                && gv.binary_search_by(|v| v.total_cmp(x)).is_ok()
            {
                *on_rows.entry((gf, x.to_bits())).or_insert(0) += 1;
            }
        }
    }
    let mut anchors: Vec<(u64, usize, u64)> = on_rows
        .into_iter()
        .filter(|&(_, k)| k as f64 <= RARE_SHARE * n)
        .map(|((f, x), k)| (k, f, x))
        .collect();
    anchors.sort_unstable();
    let mut budget = MAX_PARTNER_PAIRS;
    let anchors: std::collections::HashSet<(usize, u64)> = anchors
        .into_iter()
        .take_while(|&(k, _, _)| {
            let cost = k.saturating_mul(numeric.len() as u64);
            let fits = cost <= budget;
            budget = budget.saturating_sub(cost);
            fits
        })
        .map(|(_, f, x)| (f, x))
        .collect();
    let grown: Vec<(usize, usize)> = grown_cols
        .into_iter()
        .filter(|&(gf, _, _)| anchors.iter().any(|&(f, _)| f == gf))
        .map(|(gf, gc, _)| (gf, gc))
        .collect();
    // (grown value's feature, its value, partner feature, partner value) → rows, weighted
    // rows per class.
    type Key = (usize, u64, usize, u64);
    let mut pairs: HashMap<Key, (u64, Vec<f64>), xxhash_rust::xxh3::Xxh3DefaultBuilder> =
        HashMap::default();
    for ((_, r), &c) in current.sample.rows().zip(&class) {
        if c == NO_CLASS {
            continue;
        }
        let number = |ci: usize| match r.values.get(ci) {
            Some(SampleValue::Number(x)) if x.is_finite() => Some(*x),
            _ => None,
        };
        for &(gf, gc) in &grown {
            let Some(x) = number(gc).filter(|x| anchors.contains(&(gf, x.to_bits()))) else {
                continue;
            };
            for &(pf, pc) in &numeric {
                if pf == gf {
                    continue;
                }
                if let Some(y) = number(pc) {
                    let e = pairs
                        .entry((gf, x.to_bits(), pf, y.to_bits()))
                        .or_insert_with(|| (0, vec![0.0; l]));
                    e.0 += 1;
                    e.1[c as usize] += weight[c as usize];
                }
            }
        }
    }
    // Per partner feature: its values and the most sample rows beside one grown value.
    let mut found: std::collections::BTreeMap<usize, HashMap<u64, u64>> = Default::default();
    for ((_, _, pf, y), (rows, by_class)) in pairs {
        let sum: f64 = by_class.iter().sum();
        let confident = rows >= MIN_SAMPLE_SUPPORT
            && sum > 0.0
            && targets.iter().any(|t| {
                let confidence = t.sum(&by_class) / sum;
                confidence >= MIN_SAMPLE_CONFIDENCE
                    && confidence > t.sum(&prior).max(f64::MIN_POSITIVE)
            });
        if confident {
            let e = found.entry(pf).or_default().entry(y).or_insert(0);
            *e = (*e).max(rows);
        }
    }
    for (pf, ys) in found {
        let mut ys: Vec<(u64, f64)> = ys
            .into_iter()
            .map(|(y, n)| (n, f64::from_bits(y)))
            .collect();
        ys.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.total_cmp(&b.1)));
        ys.truncate(MAX_PARTNER_VALUES);
        let add = ys.into_iter().map(|(_, y)| y);
        if let Some(vf) = values.iter_mut().find(|v| v.feature == pf) {
            vf.values.extend(add);
            vf.values.sort_by(f64::total_cmp);
            vf.values.dedup();
        } else {
            let mut v: Vec<f64> = add.collect();
            v.sort_by(f64::total_cmp);
            values.push(ValueFeature {
                column: encoder.features[pf].column.clone(),
                feature: pf,
                values: v,
            });
        }
    }
    values.sort_by_key(|v| v.feature);
}

/// Whether `it` is an exact value (a value feature's) below the baseline's minimum or above its
/// maximum.
fn past_range_value(encoder: &Encoder, values: &[ValueFeature], it: Item) -> bool {
    let Some(vf) = (it.feature as usize)
        .checked_sub(encoder.dim())
        .and_then(|v| values.get(v))
    else {
        return false;
    };
    match (
        vf.values.get(it.code as usize),
        encoder.features.get(vf.feature),
    ) {
        (Some(&x), Some(f)) => past_range_of(&f.kind, x),
        _ => false,
    }
}

/// Whether no item of `set` (holding no exact value past the range) is the slice below a
/// numeric feature's baseline minimum or above its maximum, `d` encoder features wide.
pub fn in_range(d: usize, set: &[Item]) -> bool {
    set.iter()
        .all(|it| it.feature as usize >= d || !matches!(it.code, BELOW_CODE | ABOVE_CODE))
}

/// Whether `x` is below a numeric feature's baseline minimum or above its maximum.
fn past_range_of(kind: &Kind, x: f64) -> bool {
    matches!(kind, Kind::Numeric { min, max, .. } if x < *min || x > *max)
}

/// The miner's result (`mine_rules`).
#[derive(Default)]
pub(super) struct Mined {
    pub(super) rules: Vec<Rule>,
    /// In-range itemsets counted on `MIN_SAMPLE_SUPPORT` sample rows or more.
    pub(super) itemsets_searched: u64,
    /// Per rule, `distinct_rows`.
    pub(super) distinct: Vec<Option<(u64, u64)>>,
}

/// Candidate rules from the current data's sample: every value item alone (for TRG002), and
/// itemsets of 1–3 rare items, or a rare value item and a category of any share
/// (`MAX_COMMON_CATEGORIES_PER_ROW`), whose rows carry one label with high confidence. Also
/// returns how many itemsets holding no value past the baseline's range it counted on at least
/// `MIN_SAMPLE_SUPPORT` sample rows, whatever their labels: the search a small rule's purity
/// test is corrected for (TRG001), since the candidates are the itemsets whose labels happened
/// to look pure. And, per rule, its distinct sample rows and its sample rows (`distinct_rows`).
pub(super) fn mine_rules(
    current: &Profile,
    sample: &EncodedSample,
    encoder: &Encoder,
    values: &[ValueFeature],
    classes: &Classes,
) -> Mined {
    let d = encoder.dim();
    let l = classes.len();
    let nf = d + values.len();
    let EncodedSample {
        codes,
        values: vcodes,
        class,
        ..
    } = sample;
    let rows = RowCodes {
        codes,
        d,
        values: vcodes,
        v: values.len(),
    };
    let Some((weight, prior, total)) = sample_weights(current, classes, class) else {
        return Mined::default();
    };
    let targets = classes.targets();
    // The column each item feature reads (encoder features, then value features).
    let column_of: Vec<usize> = encoder
        .features
        .iter()
        .map(|f| f.reference_index)
        .chain(
            values
                .iter()
                .map(|v| encoder.features[v.feature].reference_index),
        )
        .collect();
    // Item shares, by (feature, slot); NaN for codes that are no item.
    let item_of = |f: usize, code: u32| {
        if is_item(encoder, f, code) {
            slot_of(code).map(|k| f * SLOTS + k)
        } else {
            None
        }
    };
    let mut share = vec![0.0f64; nf * SLOTS];
    for (i, &c) in class.iter().enumerate() {
        if c == NO_CLASS {
            continue;
        }
        for f in 0..nf {
            if let Some(at) = item_of(f, rows.get(i, f)) {
                share[at] += weight[c as usize] / total;
            }
        }
    }
    // Itemsets of each row's rare items, and pairs of a rare value with a common category (keys:
    // up to 3 items packed in item order, padded with u64::MAX).
    let pack = |it: &Item| ((it.feature as u64) << 32) | it.code as u64;
    let mut sets: HashMap<[u64; 3], (u64, Vec<f64>), xxhash_rust::xxh3::Xxh3DefaultBuilder> =
        HashMap::default();
    let categorical: Vec<bool> = encoder
        .features
        .iter()
        .map(|f| matches!(f.kind, Kind::Frequency { .. }))
        .collect();
    let mut items: Vec<(f64, Item)> = Vec::new();
    let mut common: Vec<(f64, Item)> = Vec::new();
    for (i, &c) in class.iter().enumerate() {
        if c == NO_CLASS {
            continue;
        }
        items.clear();
        common.clear();
        for f in 0..nf {
            let code = rows.get(i, f);
            if let Some(at) = item_of(f, code) {
                let it = Item {
                    feature: f as u32,
                    code,
                };
                if share[at] <= RARE_SHARE || f >= d {
                    items.push((share[at], it));
                } else if categorical.get(f) == Some(&true) {
                    common.push((share[at], it));
                }
            }
        }
        items.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        items.truncate(MAX_ITEMS_PER_ROW);
        // The rare exact values that anchor the row's common categories.
        let anchors: Vec<Item> = items
            .iter()
            .filter(|(sh, it)| it.feature as usize >= d && *sh <= RARE_SHARE)
            .map(|e| e.1)
            .collect();
        if anchors.is_empty() {
            common.clear();
        }
        common.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        common.truncate(MAX_COMMON_CATEGORIES_PER_ROW);
        let mut its: Vec<Item> = items.iter().map(|e| e.1).collect();
        its.sort_unstable();
        let w = weight[c as usize];
        let mut bump = |set: &[Item]| {
            let mut key = [u64::MAX; 3];
            for (k, it) in key.iter_mut().zip(set) {
                *k = pack(it);
            }
            let e = sets.entry(key).or_insert_with(|| (0, vec![0.0; l]));
            e.0 += 1;
            e.1[c as usize] += w;
        };
        // Items on one column never combine (a value and its out-of-range flag are one fact).
        let k = its.len();
        let col = |it: &Item| column_of[it.feature as usize];
        for a in 0..k {
            bump(&[its[a]]);
            for b in a + 1..k {
                if col(&its[a]) == col(&its[b]) {
                    continue;
                }
                bump(&[its[a], its[b]]);
                for cc in b + 1..k {
                    if col(&its[cc]) == col(&its[a]) || col(&its[cc]) == col(&its[b]) {
                        continue;
                    }
                    bump(&[its[a], its[b], its[cc]]);
                }
            }
        }
        // A common category beside a rare value: the pair only. A triple of a trigger's pair
        // and a common category is a pocket of it (the trigger's rows that hold the category,
        // pure where the pair is diluted by natural rows), which would stand for the pair.
        for &(_, cat) in &common {
            for &v in &anchors {
                if col(&v) != col(&cat) {
                    let mut set = [v, cat];
                    set.sort_unstable();
                    bump(&set);
                }
            }
        }
    }
    let mut candidates: Vec<(f64, u64, Rule)> = Vec::new();
    let mut searched = 0u64;
    for (key, (count, by_class)) in sets {
        let set: Vec<Item> = key
            .iter()
            .filter(|&&k| k != u64::MAX)
            .map(|&k| Item {
                feature: (k >> 32) as u32,
                code: k as u32,
            })
            .collect();
        let value_only = set.len() == 1 && set[0].feature as usize >= d;
        let sum: f64 = by_class.iter().sum();
        // The most confident target (a class, or a numeric target's tail), the first on ties.
        let (confidence, lift) = targets
            .iter()
            .map(|t| {
                let confidence = if sum > 0.0 {
                    t.sum(&by_class) / sum
                } else {
                    0.0
                };
                (
                    confidence,
                    confidence / t.sum(&prior).max(f64::MIN_POSITIVE),
                )
            })
            .fold((0.0, 0.0), |best, c| if c.0 > best.0 { c } else { best });
        let min_support = if set.iter().any(|it| past_range_value(encoder, values, *it)) {
            MIN_PAST_RANGE_SAMPLE_SUPPORT
        } else {
            searched += u64::from(count >= MIN_SAMPLE_SUPPORT && in_range(d, &set));
            MIN_SAMPLE_SUPPORT
        };
        let candidate = count >= min_support && confidence >= MIN_SAMPLE_CONFIDENCE && lift > 1.0;
        if value_only || candidate {
            candidates.push((
                if value_only { 2.0 } else { confidence },
                count,
                Rule { items: set },
            ));
        }
    }
    candidates.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then_with(|| a.2.cmp(&b.2))
    });
    candidates.truncate(MAX_RULES);
    let mut rules: Vec<Rule> = candidates.into_iter().map(|c| c.2).collect();
    rules.sort_unstable();
    let distinct = distinct_rows(&rules, sample, d);
    Mined {
        rules,
        itemsets_searched: searched,
        distinct,
    }
}

/// Rules of 2 or 3 items on at most this many sample rows have their distinct rows counted.
const MAX_DISTINCT_TRACKED: usize = 1024;

/// Per rule of 2 or 3 items on at most `MAX_DISTINCT_TRACKED` sample rows, its distinct sample
/// rows (alike in every encoded feature, exact value and label: one record's copies count once)
/// and its sample rows; `None` for other rules. A rule's purity is tested on its distinct rows
/// (TRG001): eight copies of one record carry one label by construction, not eight times by
/// chance.
fn distinct_rows(rules: &[Rule], sample: &EncodedSample, d: usize) -> Vec<Option<(u64, u64)>> {
    let EncodedSample {
        x,
        codes,
        values,
        class,
        ..
    } = sample;
    let v = values.len() / class.len().max(1);
    let rows = RowCodes {
        codes,
        d,
        values,
        v,
    };
    let signature = |i: usize| -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for xi in &x[i * d..(i + 1) * d] {
            h.update(&xi.to_bits().to_le_bytes());
        }
        for c in codes[i * d..(i + 1) * d]
            .iter()
            .chain(&values[i * v..(i + 1) * v])
        {
            h.update(&c.to_le_bytes());
        }
        h.update(&class[i].to_le_bytes());
        h.digest()
    };
    let matcher = build_matcher(rules);
    let mut seen: Vec<Vec<u64>> = vec![Vec::new(); rules.len()];
    for (i, &c) in class.iter().enumerate() {
        if c != NO_CLASS {
            let s = signature(i);
            for_each_match(&matcher, rules, &rows, i, |r| {
                if rules[r].items.len() >= 2 && seen[r].len() <= MAX_DISTINCT_TRACKED {
                    seen[r].push(s);
                }
            });
        }
    }
    seen.into_iter()
        .map(|mut s| {
            let n = s.len();
            (n <= MAX_DISTINCT_TRACKED && n > 0).then(|| {
                s.sort_unstable();
                s.dedup();
                (s.len() as u64, n as u64)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::engine::{Data, Engine};
    use crate::ingest::MemoryBatches;
    use crate::rows::encode::Feature;

    /// 1,000 rows: `a` cycles over 0..50 on every row but the `stamped` ones of label 1 (the
    /// first 100 rows), which carry the given values.
    fn profile_of(stamped: &[(f64, usize)], against: Option<&Profile>) -> Profile {
        let mut a: Vec<f64> = (0..1000).map(|i| (i % 50) as f64).collect();
        let label: Vec<i64> = (0..1000).map(|i| i64::from(i < 100)).collect();
        let mut at = 0;
        for &(v, n) in stamped {
            for x in &mut a[at..at + n] {
                *x = v;
            }
            at += n;
        }
        profile_from(&[("a", a)], label, against)
    }

    /// The profile of one batch of float columns and an integer `label`, alone or against a
    /// baseline's profile.
    fn profile_from(
        columns: &[(&str, Vec<f64>)],
        label: Vec<i64>,
        against: Option<&Profile>,
    ) -> Profile {
        let mut fields: Vec<Field> = columns
            .iter()
            .map(|(name, _)| Field::new(*name, DataType::Float64, false))
            .collect();
        fields.push(Field::new("label", DataType::Int64, false));
        let schema = Arc::new(Schema::new(fields));
        let mut arrays: Vec<arrow::array::ArrayRef> = columns
            .iter()
            .map(|(_, v)| Arc::new(Float64Array::from(v.clone())) as arrow::array::ArrayRef)
            .collect();
        arrays.push(Arc::new(Int64Array::from(label)));
        let batch = RecordBatch::try_new(schema.clone(), arrays).unwrap();
        let mut data = MemoryBatches::new(schema);
        data.push("part-0", batch).unwrap();
        let settings = crate::Settings::builder().label("label").build().unwrap();
        let engine = Engine::new(&settings);
        match against {
            None => engine.profile(Data::Batches(&data)).unwrap(),
            Some(b) => engine.profile_against(Data::Batches(&data), b).unwrap(),
        }
    }

    /// The in-range family TRG001 corrects a small rule's purity test for (`itemsets_searched`)
    /// is every in-range itemset on `MIN_SAMPLE_SUPPORT` sample rows or more, whatever its
    /// labels. 1,000 rows, the whole sample: `a` = i mod 40 and `b` = (i mod 200) / 5, each bin
    /// (one value) on 25 rows, 2.5%, a rare item; within 200 rows every (a, b) is a different
    /// pair, so each of those 200 pairs is on 5 rows: 40 + 40 + 200 = 280 itemsets (a count of
    /// the mined candidates alone, or of the pairs alone, would be another number).
    #[test]
    fn itemsets_searched_counts_every_in_range_itemset_on_enough_rows() {
        let n = 1000;
        let a: Vec<f64> = (0..n).map(|i| (i % 40) as f64).collect();
        let b: Vec<f64> = (0..n).map(|i| ((i % 200) / 5) as f64).collect();
        let label: Vec<i64> = (0..n).map(|i| i64::from(i % 7 == 0)).collect();
        let p = profile_from(&[("a", a), ("b", b)], label, None);
        assert_eq!(
            p.sample.rows().count(),
            n as usize,
            "the whole data is the sample"
        );
        let feature = |name: &str| Feature {
            name: name.into(),
            column: name.into(),
            reference_index: p.columns.iter().position(|c| c.name == name).unwrap(),
            kind: Kind::Numeric {
                median: 19.5,
                scale: 20.0,
                edges: (1..40).map(f64::from).collect(),
                min: 0.0,
                max: 39.0,
            },
        };
        let encoder = Encoder {
            features: vec![feature("a"), feature("b")],
        };
        let classes = Classes::new(vec!["0".into(), "1".into()]);
        let sample = encode_sample(&p, &encoder, &[], &classes);
        let mined = mine_rules(&p, &sample, &encoder, &[], &classes);
        assert_eq!(mined.itemsets_searched, 40 + 40 + 200);
    }

    /// Two values of one column grown among label 1's rows, the larger by more (40 on 35 rows
    /// against about 2, 10 on 20): both become value items, stored sorted, since the sample
    /// encoding and the row pass find them by binary search (stored in order of growth, 40
    /// was never found). Values that did not grow are not items.
    #[test]
    fn class_grown_values_are_sorted_and_only_the_grown() {
        let base = profile_of(&[], None);
        let cur = profile_of(&[(40.0, 35), (10.0, 20)], Some(&base));
        let column = base.columns.iter().position(|c| c.name == "a").unwrap();
        let encoder = Encoder {
            features: vec![Feature {
                name: "a".into(),
                column: "a".into(),
                reference_index: column,
                kind: Kind::Numeric {
                    median: 24.5,
                    scale: 12.5,
                    edges: vec![10.0, 25.0, 40.0],
                    min: 0.0,
                    max: 49.0,
                },
            }],
        };
        let classes = Classes::new(vec!["0".into(), "1".into()]);
        let mut values = Vec::new();
        class_grown_values(&base, &cur, &encoder, &mut values, &classes);
        assert_eq!(values.len(), 1, "{values:?}");
        assert_eq!(values[0].column, "a");
        assert_eq!(values[0].values, vec![10.0, 40.0]);
        // A column whose spike slots are full still takes its class-grown values: they have a
        // budget of their own (the spike values grew overall, often by chance).
        let spikes: Vec<f64> = (0..MAX_SPIKE_VALUES).map(|i| 100.0 + i as f64).collect();
        let mut values = vec![ValueFeature {
            column: "a".into(),
            feature: 0,
            values: spikes.clone(),
        }];
        class_grown_values(&base, &cur, &encoder, &mut values, &classes);
        let mut want = vec![10.0, 40.0];
        want.extend(&spikes);
        assert_eq!(values[0].values, want);
    }
}
