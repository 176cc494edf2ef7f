//! The label model: classes, the baseline sample's per-class counts of slices and rules, the
//! candidate rules and their baseline analogues, and the kNN and confident-learning models,
//! fitted once before the pass.

use rayon::prelude::*;

use super::analogue::{Analogue, AnalogueItem, analogue, baseline_tails};
use super::counts::RefFlags;
use super::items::{
    Classes, Item, RowCodes, Rule, TARGET_QUANTILES, ValueFeature, build_matcher, for_each_match,
    is_item,
};
use super::mine::{
    Mined, class_grown_values, encode_sample, mine_rules, partner_values, spike_candidates,
};
use crate::profile::{LabelType, MAX_CLASSES, NULL_LABEL, NUMERIC_LABEL, Profile, SampleValue};
use crate::rows::confident::{ConfidentModel, Verdict};
use crate::rows::encode::Encoder;
use crate::rows::knn::{FLAG, KnnModel, Query};
use crate::rows::shared::{NO_CLASS, SLOTS, nth_row, slot_of};

/// Which parts of the label model the enabled checks need: the kNN model (LBL002), the
/// confident-learning model (LBL003), the candidate trigger rules (TRG001, TRG002). A part no
/// enabled check reads is not fitted, and marks no row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelParts {
    pub knn: bool,
    pub confident: bool,
    pub rules: bool,
}

impl LabelParts {
    pub const ALL: LabelParts = LabelParts {
        knn: true,
        confident: true,
        rules: true,
    };
}

/// What the label checks know before the pass: classes, the baseline sample's counts, the value
/// features and the candidate rules, the kNN model.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LabelModel {
    /// kNN label disagreement (LBL002), when there are enough labelled reference rows.
    pub knn: Option<KnnModel>,
    /// The reference sample's rows and kNN-flagged rows per slice and overall.
    pub reference_knn: RefFlags,
    /// Confident learning (LBL003), cross-fitted on the baseline's sample (the current data's
    /// without a baseline), when it has two classes with enough rows.
    pub confident: Option<ConfidentModel>,
    /// The reference sample's rows and label issues by confident learning (out of fold), per
    /// slice and overall.
    pub reference_confident: RefFlags,
    /// Per reference sample row (in `Sample::rows` order): its out-of-fold confident-learning
    /// verdict and whether kNN flags it (for slice finding).
    pub reference_verdicts: Vec<Option<Verdict>>,
    pub reference_knn_flags: Vec<bool>,
    pub label: String,
    pub classes: Classes,
    /// Encoder features (`d`).
    pub dim: usize,
    /// The baseline rows a baseline sample row of each class stands for (N_h / n_h).
    pub class_weights: Vec<f64>,
    /// Baseline rows per class (N_h) and baseline sample rows per class (n_h).
    pub reference_rows: Vec<f64>,
    pub reference_sample: Vec<u64>,
    /// Baseline sample rows per class of each slice: `(feature × SLOTS + slot) × classes +
    /// class` (see `reference_slice`).
    pub(super) reference_slices: Vec<u64>,
    pub values: Vec<ValueFeature>,
    pub rules: Vec<Rule>,
    /// Itemsets with no value past the baseline's range that the miner counted on at least 5
    /// current sample rows, whatever their labels (`mine_rules`): the family a rule's purity
    /// test is corrected for when it is judged on its purity in range (TRG001).
    #[serde(default)]
    pub itemsets_searched: u64,
    /// Per rule of 2 or 3 items on few enough sample rows, its distinct current sample rows and
    /// its current sample rows (`mine::distinct_rows`); `None` where not counted.
    #[serde(default)]
    pub rule_distinct: Vec<Option<(u64, u64)>>,
    /// Baseline sample rows per class matching each rule.
    pub reference_rules: Vec<Vec<u64>>,
    /// Each rule's baseline analogue (see `analogue`) and its baseline sample rows per class.
    pub analogues: Vec<Analogue>,
    pub reference_analogues: Vec<Vec<u64>>,
    /// Per first-item feature: slot → rules starting there.
    pub(super) matcher: Vec<(u32, Vec<Vec<u32>>)>,
    /// Per encoder feature, its column's index in the reference profile.
    pub(super) columns: Vec<usize>,
}

/// The rows of each class of a profile (the baseline's N_h), given its sample rows' classes. A
/// numeric target's sample is one stratum (the rows with a value) and null: a bin's rows are
/// estimated from its share of the stratum's sample.
pub(super) fn class_rows(baseline: &Profile, classes: &Classes, sample_class: &[u16]) -> Vec<f64> {
    let rows = |key: &str| baseline.label_counts.get(key).copied().unwrap_or(0) as f64;
    if !classes.is_numeric() {
        return classes.names.iter().map(|c| rows(c)).collect();
    }
    let null = classes.id(NULL_LABEL);
    let mut in_sample = vec![0u64; classes.len()];
    for &c in sample_class {
        if let Some(k) = in_sample.get_mut(c as usize) {
            *k += 1;
        }
    }
    let valued: u64 = (0..classes.len())
        .filter(|&h| h as u16 != null)
        .map(|h| in_sample[h])
        .sum();
    (0..classes.len())
        .map(|h| {
            if h as u16 == null {
                rows(NULL_LABEL)
            } else {
                rows(NUMERIC_LABEL) * in_sample[h] as f64 / valued.max(1) as f64
            }
        })
        .collect()
}

impl LabelModel {
    /// The model for `current` against `baseline` (both labelled with the same column), or
    /// against the current data itself without a baseline (then only the kNN label scores:
    /// no rules, no value spikes); `None` without a label on either side or with more classes
    /// than poisonscan checks.
    pub fn fit(
        baseline: Option<&Profile>,
        current: &Profile,
        encoder: &Encoder,
        seed: u64,
        parts: LabelParts,
        rec: &dyn crate::recorder::Recorder,
    ) -> Option<LabelModel> {
        let label = current.label.clone()?;
        let self_reference = baseline.is_none();
        let baseline = baseline.unwrap_or(current);
        if baseline.label.as_deref() != Some(label.as_str()) {
            return None;
        }
        let numeric = baseline.label_type == LabelType::Numeric;
        if numeric != (current.label_type == LabelType::Numeric) {
            return None;
        }
        let classes = if numeric {
            // Bins between the baseline's quantiles of the target.
            let q = baseline.column(&label)?.numeric.as_ref()?;
            let values = q.quantiles.quantiles(&TARGET_QUANTILES);
            let quantiles: Vec<(f64, f64)> = TARGET_QUANTILES.iter().copied().zip(values).collect();
            let null = [baseline, current]
                .iter()
                .any(|p| p.label_counts.get(NULL_LABEL).is_some_and(|&n| n > 0));
            Classes::numeric(&quantiles, null)
        } else {
            let mut names: Vec<String> = baseline
                .label_counts
                .keys()
                .chain(current.label_counts.keys())
                .cloned()
                .collect();
            names.sort_unstable();
            names.dedup();
            if names.is_empty() || names.len() > MAX_CLASSES {
                return None;
            }
            Classes::new(names)
        };
        let l = classes.len();
        let d = encoder.dim();
        let values = if self_reference {
            Vec::new()
        } else {
            let mut values = spike_candidates(baseline, current, encoder);
            class_grown_values(baseline, current, encoder, &mut values, &classes);
            partner_values(current, encoder, &mut values, &classes);
            values
        };

        // The baseline sample, encoded, with per-row classes.
        let mut reference_sample = vec![0u64; l];
        let (sample, current_sample) = rayon::join(
            || encode_sample(baseline, encoder, &values, &classes),
            || (!self_reference).then(|| encode_sample(current, encoder, &values, &classes)),
        );
        let reference_rows = class_rows(baseline, &classes, &sample.class);
        let ref_class = &sample.class;
        let ref_rows = RowCodes {
            codes: &sample.codes,
            d,
            values: &sample.values,
            v: values.len(),
        };
        let mut reference_slices = vec![0u64; d * SLOTS * l];
        for (i, &c) in ref_class.iter().enumerate() {
            if c == NO_CLASS {
                continue;
            }
            reference_sample[c as usize] += 1;
            for f in 0..d {
                let code = ref_rows.get(i, f);
                if is_item(encoder, f, code)
                    && let Some(k) = slot_of(code)
                {
                    reference_slices[(f * SLOTS + k) * l + c as usize] += 1;
                }
            }
        }

        let class_weights: Vec<f64> = (0..l)
            .map(|h| reference_rows[h] / reference_sample[h].max(1) as f64)
            .collect();
        // The candidate rules and their baseline counts, beside the two models (none reads
        // another).
        let rules_part = || {
            let Mined {
                rules,
                itemsets_searched,
                distinct: rule_distinct,
            } = match &current_sample {
                Some(cs) if parts.rules => mine_rules(current, cs, encoder, &values, &classes),
                _ => Mined::default(),
            };
            let tails = baseline_tails(baseline, encoder);
            let analogues: Vec<Analogue> = rules
                .iter()
                .map(|r| analogue(encoder, &values, &tails, r))
                .collect();
            let mut reference_rules = vec![vec![0u64; l]; rules.len()];
            let matcher = build_matcher(&rules);
            for (i, &c) in ref_class.iter().enumerate() {
                if c != NO_CLASS {
                    for_each_match(&matcher, &rules, &ref_rows, i, |r| {
                        reference_rules[r][c as usize] += 1
                    });
                }
            }
            // Analogues with a tail item are counted on the sample's raw values (few rules).
            let mut reference_analogues = reference_rules.clone();
            let raw: Vec<&[SampleValue]> =
                baseline.sample.rows().map(|(_, r)| &r.values[..]).collect();
            for (r, a) in analogues.iter().enumerate() {
                if !a.is_substituted() {
                    continue;
                }
                let counts = &mut reference_analogues[r];
                counts.iter_mut().for_each(|k| *k = 0);
                for (i, &c) in ref_class.iter().enumerate() {
                    if c == NO_CLASS {
                        continue;
                    }
                    let hit = a.items.iter().all(|it| match *it {
                        AnalogueItem::Same(it) => ref_rows.get(i, it.feature as usize) == it.code,
                        AnalogueItem::Tail {
                            column,
                            above,
                            threshold,
                        } => match raw[i].get(column) {
                            Some(SampleValue::Number(x)) => {
                                if above {
                                    *x >= threshold
                                } else {
                                    *x <= threshold
                                }
                            }
                            _ => false,
                        },
                    });
                    if hit {
                        counts[c as usize] += 1;
                    }
                }
            }
            (
                (rules, itemsets_searched, rule_distinct),
                analogues,
                reference_rules,
                matcher,
                reference_analogues,
            )
        };
        // Two models, fitted side by side on the trusted side's sample (the kNN scores of its
        // rows are collected in row order, so nothing depends on the threads).
        //
        // kNN label disagreement: the reference sample's own flagged rows, each row left out of
        // its own neighbours.
        //
        // Confident learning: one model, cross-fitted on the trusted side's sample. With a
        // baseline, the baseline's model scores both sides: its sample rows out of fold (the
        // baseline rate), every current row with the mean of its fold models, under the same
        // per-class thresholds. Two models fitted on each side's own sample would differ where
        // the sample is thin (a category seen on a few training rows learnt on one side and not
        // the other), and that difference, not the data, would move a slice's rate. A model
        // fitted on the current data would also learn a poisoned pattern as normal. Without a
        // baseline, the current data's own model (the rows file's verdicts, no rate to compare).
        let models_part = || {
            rayon::join(
                || {
                    let knn = if parts.knn {
                        KnnModel::fit(
                            encoder,
                            &sample.x,
                            &sample.codes,
                            &sample.class,
                            classes.is_numeric().then_some(&sample.targets[..]),
                            &sample.provenance,
                            class_weights.clone(),
                            self_reference,
                        )
                    } else {
                        None
                    };
                    // Diagnostic: the search's recall against the exact kNN in the projected
                    // space, on 2,000 reference rows (reports/labels.md).
                    if let Some(knn) = &knn
                        && rec.diagnostic("knn-recall")
                    {
                        let n = sample.class.len();
                        let rows: Vec<usize> = (0..n).step_by((n / 2000).max(1)).collect();
                        rec.note(&format!(
                            "knn recall@{}: {:.4} on {} rows",
                            crate::rows::knn::K,
                            knn.recall_at_k(&sample.x, &sample.codes, d, &rows),
                            rows.len()
                        ));
                    }
                    let scores: Vec<Option<f64>> = match &knn {
                        Some(knn) => (0..ref_class.len())
                            .into_par_iter()
                            .with_min_len(2048)
                            .map_init(Query::default, |q, i| {
                                let (xi, ci) =
                                    (nth_row(&sample.x, d, i), nth_row(&sample.codes, d, i));
                                let skip = Some(sample.provenance[i]);
                                if knn.is_numeric() {
                                    knn.score_numeric(xi, ci, sample.targets[i], skip, q)
                                } else {
                                    knn.score(xi, ci, ref_class[i], skip, q)
                                }
                            })
                            .collect(),
                        None => Vec::new(),
                    };
                    (knn, scores)
                },
                || {
                    if !parts.confident {
                        return None;
                    }
                    ConfidentModel::fit(
                        encoder,
                        &sample.x,
                        &sample.codes,
                        &sample.class,
                        classes.is_numeric().then_some(&sample.targets[..]),
                        &sample.provenance,
                        l,
                        seed,
                        u64::from(!self_reference),
                        rec,
                    )
                },
            )
        };
        let (
            (
                (rules, itemsets_searched, rule_distinct),
                analogues,
                reference_rules,
                matcher,
                reference_analogues,
            ),
            ((knn, knn_scores), fitted),
        ) = rayon::join(rules_part, models_part);
        let mut reference_knn = RefFlags::new(d, 0);
        let mut reference_knn_flags = vec![false; ref_class.len()];
        for (i, score) in knn_scores.iter().enumerate() {
            let Some(score) = *score else { continue };
            let ci = nth_row(&sample.codes, d, i);
            let c = ref_class[i] as usize;
            reference_knn.add(class_weights[c], score >= FLAG, ci, c);
            reference_knn_flags[i] = score >= FLAG;
        }
        let (confident, reference_model) = if self_reference {
            (fitted, None)
        } else {
            (fitted.clone().map(ConfidentModel::for_other_rows), fitted)
        };
        // (Without a baseline there is no rate to compare: only the rows file's verdicts.)
        let mut reference_confident = RefFlags::new(d, classes.issue_groups());
        if let Some(m) = &reference_model {
            for (i, v) in m.sample_verdicts.iter().enumerate() {
                if let Some(v) = v {
                    let c = ref_class[i] as usize;
                    reference_confident.add(
                        class_weights[c],
                        v.issue,
                        nth_row(&sample.codes, d, i),
                        c,
                    );
                }
            }
        }
        let reference_verdicts = reference_model
            .as_ref()
            .or(confident.as_ref())
            .map(|m| m.sample_verdicts.clone())
            .unwrap_or_default();
        Some(LabelModel {
            class_weights,
            knn,
            reference_knn,
            confident,
            reference_confident,
            reference_verdicts,
            reference_knn_flags,
            label,
            classes,
            dim: d,
            reference_rows,
            reference_sample,
            reference_slices,
            values,
            rules,
            itemsets_searched,
            rule_distinct,
            reference_rules,
            analogues,
            reference_analogues,
            matcher,
            columns: encoder.features.iter().map(|f| f.reference_index).collect(),
        })
    }

    /// The item's feature name and predicate text parts: (column, value text) for value items.
    pub fn value_of(&self, item: Item) -> Option<(&str, f64)> {
        let v = (item.feature as usize).checked_sub(self.dim)?;
        let vf = self.values.get(v)?;
        Some((&vf.column, *vf.values.get(item.code as usize)?))
    }

    /// Baseline sample rows per class of slice (feature, slot).
    pub fn reference_slice(&self, feature: usize, slot: usize) -> &[u64] {
        let l = self.classes.len();
        let at = (feature * SLOTS + slot) * l;
        &self.reference_slices[at..at + l]
    }

    /// The column (its index in the reference profile) an item feature reads.
    pub fn column_index(&self, feature: u32) -> usize {
        let f = feature as usize;
        if f < self.dim {
            self.columns[f]
        } else {
            self.columns[self.values[f - self.dim].feature]
        }
    }
}
