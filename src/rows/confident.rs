//! LBL003: label issues by confident learning (Northcutt, Jiang & Chuang, "Confident Learning:
//! Estimating Uncertainty in Dataset Labels", JAIR 2021).
//!
//! - **Model.** Multinomial logistic regression (`linfa-logistic` in f32, L2 with α = 1 on the
//!   summed log loss, as scikit-learn's `C = 1`) on a design built from the shared encoding: every
//!   numeric feature enters as its robust-scaled value (clipped to ±5), and every slice code
//!   seen on at least 5 of the rows a model is fitted on (a category, a baseline-decile bin,
//!   null, below or above the baseline's range) as an indicator. With the decile indicators the
//!   model is an additive step function of each number, which is what a linear model needs on
//!   tabular data. Each fold's model has the design of its own training rows: a category seen
//!   5 times in the whole sample is mostly absent from a fold's 4,000 rows, and the solver
//!   repacks every column on every evaluation (on the 29-column performance set, 1,289 columns
//!   for the whole sample against about 900 a fold: the fit 2.5 → 1.2 s at 1M rows).
//! - **Out of sample.** The model is cross-fitted on the label-stratified sample: 5 folds,
//!   stratified by class (a seeded shuffle within each class); each fold's model is fitted on
//!   at most `MAX_TRAIN` rows of the other folds, from zero (`MAX_ITERATIONS`; a start from
//!   another fold's solution would carry what it learnt from this fold's rows). A sample row
//!   gets the probabilities of the model that did not see its fold; every other row was seen by
//!   none of the five, and gets the average model (the mean of the five models' parameters).
//! - **Per-class thresholds.** `t_j` = the mean out-of-sample probability of class `j` over the
//!   sample rows labelled `j` (the paper's average self-confidence). The sample is a simple
//!   random sample within each class, so the mean is unbiased for the class.
//! - **Issues.** A row labelled `i` is a label issue when the class `j* = argmax { p_j : p_j ≥
//!   t_j }` exists and is not `i`: an off-diagonal entry of the paper's confident joint. Issues
//!   are ranked by self-confidence `p_i` (lowest first).
//!
//! Classes with fewer than `MIN_CLASS_ROWS` sample rows are too rare to learn: their rows get no
//! verdict. Without at least two such classes there is no model.
//!
//! - **Skill.** A model that does not predict the label better than the label's shares cannot
//!   tell which labels are wrong: with labels no feature predicts, about half of each class's
//!   rows fall below its threshold by chance, and the share that does moves with the smallest
//!   difference in how two sides are scored (59% of one class's current rows against 51% of the
//!   baseline's, a high finding on one sample of random labels). The model stands only if its
//!   out-of-fold log loss beats that of the sample's class shares, row by row, by a one-sided
//!   z of at least `MIN_SKILL_Z` (for a numeric target: its squared error against the sample
//!   mean's); otherwise there is no model, and LBL003 says nothing.

use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2};
use rand::seq::SliceRandom;
use rayon::prelude::*;

use super::encode::{Encoder, Kind};
use super::knn::{R_FLAG, residual_score, robust_spread};
use super::shared::{BatchRows, NO_CLASS, SLOTS, nth_row, slot_of};

/// Cross-fitting folds.
pub const FOLDS: usize = 5;
/// Numbers are clipped to this many robust scales.
const CLIP: f64 = 5.0;
/// A slice code becomes an indicator column when this many training rows have it.
const MIN_INDICATOR_ROWS: usize = 5;
/// A class needs this many sample rows to be modelled.
pub const MIN_CLASS_ROWS: usize = 20;
/// The least evidence that the model predicts the label (see the module's "Skill"): the mean
/// per-row gain over the baseline prediction, in standard errors.
pub const MIN_SKILL_Z: f64 = 3.0;

/// A numeric target needs this many sample rows with a value to be modelled.
const MIN_REGRESSION_ROWS: usize = 100;
/// L2 penalty of the ridge regression of a numeric target (on the summed squared loss; the
/// decile indicators of a column and its value are collinear with the intercept without it).
const RIDGE: f64 = 1.0;
/// The ridge regression keeps at most this many indicator columns (the most frequent): its
/// normal equations are solved by a dense Cholesky factor, O(p³).
const MAX_RIDGE_INDICATORS: usize = 400;
/// L2 penalty on the summed log loss.
const ALPHA: f32 = 1.0;
const MAX_ITERATIONS: u64 = 30;
/// Each model is fitted on at most this many rows (a stratified random subset of its folds), in
/// at most `MAX_ITERATIONS`. On Adult with 10% flipped labels, 4,000 rows and 30 iterations flag
/// as well as 10,000 rows and 100 (weighted F1 0.896 against 0.901), at a tenth of the cost:
/// the solver repacks the whole design matrix on every evaluation (reports/labels.md).
pub const MAX_TRAIN: usize = 4_000;
const NO_COLUMN: u32 = u32::MAX;

/// The one-sided z of the mean of per-row gains (loss of the baseline prediction less the
/// model's): mean over its standard error; 0 for fewer than 2 rows or no spread.
fn skill_z(gains: &[f64]) -> f64 {
    let n = gains.len() as f64;
    if gains.len() < 2 {
        return 0.0;
    }
    let mean = gains.iter().sum::<f64>() / n;
    let var = gains.iter().map(|g| (g - mean) * (g - mean)).sum::<f64>() / (n - 1.0);
    if var > 0.0 {
        mean / (var / n).sqrt()
    } else if mean > 0.0 {
        f64::INFINITY
    } else {
        0.0
    }
}

/// Which encoder features enter as numbers, and the design column of each (feature, slot).
#[derive(Debug, Clone)]
struct Design {
    d: usize,
    numeric: Vec<bool>,
    /// `feature × SLOTS + slot` → design column, or `NO_COLUMN`.
    indicator: Vec<u32>,
    width: usize,
}

impl Design {
    fn new(encoder: &Encoder, codes: &[u32], rows: &[usize]) -> Design {
        Design::with_cap(encoder, codes, rows, usize::MAX)
    }

    /// `new`, keeping at most `cap` indicator columns (the most frequent; ties by position).
    fn with_cap(encoder: &Encoder, codes: &[u32], rows: &[usize], cap: usize) -> Design {
        let d = encoder.dim();
        let numeric: Vec<bool> = encoder
            .features
            .iter()
            .map(|f| matches!(f.kind, Kind::Numeric { .. } | Kind::Missing))
            .collect();
        let mut seen = vec![0usize; d * SLOTS];
        for &i in rows {
            for (f, &code) in nth_row(codes, d, i).iter().enumerate() {
                if matches!(encoder.features[f].kind, Kind::Missing) {
                    continue;
                }
                if let Some(k) = slot_of(code) {
                    seen[f * SLOTS + k] += 1;
                }
            }
        }
        let mut eligible: Vec<usize> = (0..seen.len())
            .filter(|&at| seen[at] >= MIN_INDICATOR_ROWS)
            .collect();
        if eligible.len() > cap {
            eligible.sort_by(|&a, &b| seen[b].cmp(&seen[a]).then(a.cmp(&b)));
            eligible.truncate(cap);
        }
        let mut kept = vec![false; seen.len()];
        for at in eligible {
            kept[at] = true;
        }
        let mut width = numeric.iter().filter(|&&b| b).count();
        let indicator = kept
            .iter()
            .map(|&k| {
                if k {
                    width += 1;
                    (width - 1) as u32
                } else {
                    NO_COLUMN
                }
            })
            .collect();
        Design {
            d,
            numeric,
            indicator,
            width,
        }
    }

    /// The design row of an encoded row into `out` (`width` long, zeroed here).
    fn row(&self, x: &[f64], codes: &[u32], out: &mut [f64]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        let numbers = x.iter().zip(&self.numeric).filter(|(_, n)| **n);
        for (o, (v, _)) in out.iter_mut().zip(numbers) {
            *o = v.clamp(-CLIP, CLIP);
        }
        for (f, &code) in codes.iter().enumerate() {
            if let Some(k) = slot_of(code) {
                let c = self.indicator[f * SLOTS + k];
                if c != NO_COLUMN {
                    out[c as usize] = 1.0;
                }
            }
        }
    }
}

/// A fitted multinomial linear model, laid out for scoring encoded rows directly:
/// `logit_c = bias_c + Σ_f x_f · linear[f][c] + Σ_f table[f × SLOTS + slot_f][c]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Linear {
    classes: usize,
    /// The features with a linear weight.
    numeric: Vec<usize>,
    bias: Vec<f64>,
    linear: Vec<f64>,
    table: Vec<f64>,
}

impl Linear {
    fn from_fit(
        design: &Design,
        classes: usize,
        seen: &[usize],
        w: &Array2<f32>,
        b: &Array1<f32>,
    ) -> Linear {
        let d = design.d;
        // Classes the fold never saw get a logit that no probability survives.
        let mut bias = vec![-1e6; classes];
        let mut linear = vec![0.0; d * classes];
        let mut table = vec![0.0; d * SLOTS * classes];
        for (k, &c) in seen.iter().enumerate() {
            bias[c] = b[k] as f64;
            let mut j = 0;
            for f in 0..d {
                if design.numeric[f] {
                    linear[f * classes + c] = w[[j, k]] as f64;
                    j += 1;
                }
            }
            for (at, &col) in design.indicator.iter().enumerate() {
                if col != NO_COLUMN {
                    table[at * classes + c] = w[[col as usize, k]] as f64;
                }
            }
        }
        Linear {
            classes,
            numeric: design
                .numeric
                .iter()
                .enumerate()
                .filter(|(_, n)| **n)
                .map(|(f, _)| f)
                .collect(),
            bias,
            linear,
            table,
        }
    }

    fn mean(models: &[Linear]) -> Linear {
        let n = models.len() as f64;
        let avg = |get: &dyn Fn(&Linear) -> &Vec<f64>| -> Vec<f64> {
            let mut out = vec![0.0; get(&models[0]).len()];
            for m in models {
                for (o, v) in out.iter_mut().zip(get(m)) {
                    *o += v / n;
                }
            }
            out
        };
        Linear {
            classes: models[0].classes,
            numeric: models[0].numeric.clone(),
            bias: avg(&|m| &m.bias),
            linear: avg(&|m| &m.linear),
            table: avg(&|m| &m.table),
        }
    }

    /// The linear predictor of an encoded row for a one-output model (a numeric target).
    pub fn predict(&self, x: &[f64], codes: &[u32]) -> f64 {
        let mut p = [0.0];
        self.logits(x, codes, &mut p);
        p[0]
    }

    /// The linear predictor of each class of an encoded row into `p` (`classes` long).
    fn logits(&self, x: &[f64], codes: &[u32], p: &mut [f64]) {
        let l = self.classes;
        p.copy_from_slice(&self.bias);
        for &f in &self.numeric {
            let xf = x[f].clamp(-CLIP, CLIP);
            for (pc, wc) in p.iter_mut().zip(&self.linear[f * l..(f + 1) * l]) {
                *pc += xf * wc;
            }
        }
        for (f, &code) in codes.iter().enumerate() {
            if let Some(k) = slot_of(code) {
                let at = (f * SLOTS + k) * l;
                for (pc, wc) in p.iter_mut().zip(&self.table[at..at + l]) {
                    *pc += wc;
                }
            }
        }
    }

    /// Class probabilities of an encoded row into `p` (`classes` long).
    pub fn probabilities(&self, x: &[f64], codes: &[u32], p: &mut [f64]) {
        self.logits(x, codes, p);
        let top = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for v in p.iter_mut() {
            *v = (*v - top).exp();
            sum += *v;
        }
        for v in p.iter_mut() {
            *v /= sum;
        }
    }
}

/// The verdict on one row: the out-of-sample probability of its own label and whether it is a
/// label issue.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Verdict {
    pub self_confidence: f64,
    pub issue: bool,
    /// Whether another class is more probable than the row's own (the 0-1 loss).
    pub misclassified: bool,
}

/// Confident learning fitted on one side's sample.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ConfidentModel {
    classes: usize,
    /// Whether each class is modelled (enough sample rows).
    modelled: Vec<bool>,
    folds: Vec<Linear>,
    average: Linear,
    /// Per-class thresholds `t_j` (average self-confidence).
    pub thresholds: Vec<f64>,
    /// The sample rows' folds, by provenance (sorted).
    fold_of: Vec<((u32, u64), u8)>,
    /// Out-of-sample verdicts of the sample rows (`None`: an unmodelled class or no label).
    pub sample_verdicts: Vec<Option<Verdict>>,
    /// For a numeric target: the robust spread (1.4826 × MAD) of the sample's out-of-fold
    /// residuals, the unit residuals are measured in. `None` for classes.
    pub residual_spread: Option<f64>,
}

/// Per-query buffers.
#[derive(Debug, Default)]
pub struct Probs(Vec<f64>);

impl ConfidentModel {
    /// Cross-fit on a sample: its encoding `x` and slice codes (row-major, `encoder.dim()` wide),
    /// classes (`NO_CLASS`: unlabelled) among `classes`, and provenance. `seed` and `key` draw
    /// the folds.
    #[allow(clippy::too_many_arguments)]
    pub fn fit(
        encoder: &Encoder,
        x: &[f64],
        codes: &[u32],
        class: &[u16],
        targets: Option<&[f64]>,
        provenance: &[(u32, u64)],
        classes: usize,
        seed: u64,
        key: u64,
        rec: &dyn crate::recorder::Recorder,
    ) -> Option<ConfidentModel> {
        let d = encoder.dim();
        if d == 0 {
            return None;
        }
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
        for (i, &c) in class.iter().enumerate() {
            // A numeric target's bins stratify the folds; its null rows are not modelled.
            let valued = targets.is_none_or(|t| t[i].is_finite());
            if c != NO_CLASS && valued {
                by_class[c as usize].push(i);
            }
        }
        let modelled: Vec<bool> = match targets {
            Some(_) => by_class.iter().map(|v| !v.is_empty()).collect(),
            None => by_class.iter().map(|v| v.len() >= MIN_CLASS_ROWS).collect(),
        };
        let enough = match targets {
            Some(_) => by_class.iter().map(Vec::len).sum::<usize>() >= MIN_REGRESSION_ROWS,
            None => modelled.iter().filter(|&&m| m).count() >= 2,
        };
        if !enough {
            return None;
        }
        // Stratified folds: a seeded shuffle within each class, dealt round-robin.
        let mut fold = vec![u8::MAX; class.len()];
        for (c, rows) in by_class.iter_mut().enumerate() {
            if !modelled[c] {
                continue;
            }
            rows.shuffle(&mut crate::rng::rng(
                seed,
                "confident-folds",
                key * 1024 + c as u64,
            ));
            for (r, &i) in rows.iter().enumerate() {
                fold[i] = (r % FOLDS) as u8;
            }
        }
        let train = fold.iter().filter(|&&f| f != u8::MAX).count();
        let t = std::time::Instant::now();
        // Each fold's model from zero: a model started from another fold's solution would
        // carry what that one learnt from this fold's rows. Its design is that of the rows it
        // is fitted on: an indicator no training row (or only a few) carries has nothing to
        // learn from, and would only widen the matrix the solver repacks on every evaluation.
        let fitted: Vec<(Linear, usize)> = (0..FOLDS as u8)
            .into_par_iter()
            .map(|k| {
                let rows = subsample(&by_class, &fold, Some(k));
                match targets {
                    // The normal equations are solved densely: their size is bounded.
                    Some(t) => {
                        let design = Design::with_cap(encoder, codes, &rows, MAX_RIDGE_INDICATORS);
                        fit_ridge(&design, x, codes, t, &rows).map(|m| (m, design.width))
                    }
                    None => {
                        let design = Design::new(encoder, codes, &rows);
                        fit_one(&design, x, codes, class, &rows, classes, MAX_ITERATIONS)
                            .map(|m| (m, design.width))
                    }
                }
            })
            .collect::<Option<Vec<_>>>()?;
        crate::recorder::record(
            rec,
            "confident learning fit",
            t.elapsed().as_secs_f64(),
            crate::recorder::Unit::Seconds,
            || {
                let widths: Vec<String> = fitted.iter().map(|(_, w)| w.to_string()).collect();
                Some(format!(
                    "{train} sample rows, {} design columns in the folds",
                    widths.join("/")
                ))
            },
        );
        let folds: Vec<Linear> = fitted.into_iter().map(|(m, _)| m).collect();
        let average = Linear::mean(&folds);
        let mut fold_of: Vec<((u32, u64), u8)> = provenance
            .iter()
            .zip(&fold)
            .filter(|(_, f)| **f != u8::MAX)
            .map(|(&p, &f)| (p, f))
            .collect();
        fold_of.sort_unstable();
        if let Some(t) = targets {
            // Out-of-fold residuals, and their robust spread.
            let residual: Vec<Option<f64>> = (0..class.len())
                .map(|i| {
                    let f = fold[i];
                    (f != u8::MAX).then(|| {
                        t[i] - folds[f as usize].predict(nth_row(x, d, i), nth_row(codes, d, i))
                    })
                })
                .collect();
            // Skill: out-of-fold squared error against the sample mean's.
            let scored: Vec<(f64, f64)> = residual
                .iter()
                .zip(t)
                .filter_map(|(e, &y)| e.map(|e| (y, e)))
                .collect();
            let mean = scored.iter().map(|p| p.0).sum::<f64>() / scored.len().max(1) as f64;
            let gains: Vec<f64> = scored
                .iter()
                .map(|&(y, e)| (y - mean).powi(2) - e * e)
                .collect();
            if skill_z(&gains) < MIN_SKILL_Z {
                return None;
            }
            let mut all: Vec<f64> = residual.iter().flatten().copied().collect();
            let spread = robust_spread(&mut all);
            if !(spread > 0.0 && spread.is_finite()) {
                return None;
            }
            let sample_verdicts = residual
                .iter()
                .map(|e| e.map(|e| residual_verdict(e, spread)))
                .collect();
            return Some(ConfidentModel {
                classes,
                modelled,
                folds,
                average,
                thresholds: Vec::new(),
                fold_of,
                sample_verdicts,
                residual_spread: Some(spread),
            });
        }
        let mut probs = vec![0.0; classes];
        let oos: Vec<Option<Vec<f64>>> = (0..class.len())
            .map(|i| {
                let f = fold[i];
                (f != u8::MAX).then(|| {
                    folds[f as usize].probabilities(
                        nth_row(x, d, i),
                        nth_row(codes, d, i),
                        &mut probs,
                    );
                    probs.clone()
                })
            })
            .collect();
        // Skill: out-of-fold log loss against the sample's class shares (modelled classes).
        let rows_modelled: usize = (0..classes)
            .filter(|&c| modelled[c])
            .map(|c| by_class[c].len())
            .sum();
        let gains: Vec<f64> = (0..classes)
            .filter(|&c| modelled[c])
            .flat_map(|c| {
                let share = by_class[c].len() as f64 / rows_modelled.max(1) as f64;
                let oos = &oos;
                by_class[c].iter().filter_map(move |&i| {
                    oos[i].as_ref().map(|p| p[c].max(1e-12).ln() - share.ln())
                })
            })
            .collect();
        if skill_z(&gains) < MIN_SKILL_Z {
            return None;
        }
        let mut thresholds = vec![f64::INFINITY; classes];
        for (c, rows) in by_class.iter().enumerate() {
            if modelled[c] {
                let sum: f64 = rows
                    .iter()
                    .map(|&i| oos[i].as_ref().map_or(0.0, |p| p[c]))
                    .sum();
                thresholds[c] = sum / rows.len() as f64;
            }
        }
        let sample_verdicts = oos
            .iter()
            .zip(class)
            .map(|(p, &c)| {
                p.as_ref()
                    .map(|p| verdict(&thresholds, &modelled, p, c as usize))
            })
            .collect();
        Some(ConfidentModel {
            classes,
            modelled,
            folds,
            average,
            thresholds,
            fold_of,
            sample_verdicts,
            residual_spread: None,
        })
    }

    /// The model for scoring rows of another dataset than the one it was fitted on: every row by
    /// the mean of the fold models (a provenance there names another file's row, not a sample
    /// row's).
    pub fn for_other_rows(mut self) -> ConfidentModel {
        self.fold_of.clear();
        self.sample_verdicts.clear();
        self
    }

    /// The verdict on one row of another dataset (the mean of the fold models); `None` for an
    /// unlabelled row or an unmodelled class.
    pub fn verdict_one(
        &self,
        x: &[f64],
        codes: &[u32],
        c: u16,
        y: f64,
        probs: &mut Probs,
    ) -> Option<Verdict> {
        if let Some(spread) = self.residual_spread {
            return y
                .is_finite()
                .then(|| residual_verdict(y - self.average.predict(x, codes), spread));
        }
        if c == NO_CLASS || !self.modelled[c as usize] {
            return None;
        }
        probs.0.resize(self.classes, 0.0);
        self.average.probabilities(x, codes, &mut probs.0);
        Some(verdict(
            &self.thresholds,
            &self.modelled,
            &probs.0,
            c as usize,
        ))
    }

    /// The verdicts on every row of a batch, into `out`: `None` for an unlabelled row or an
    /// unmodelled class.
    pub fn verdict_batch(
        &self,
        rows: &BatchRows<'_>,
        probs: &mut Probs,
        out: &mut Vec<Option<Verdict>>,
    ) {
        out.clear();
        probs.0.resize(self.classes, 0.0);
        // The batch's sample rows, walked alongside (rows are consecutive within a source).
        let mut next = self
            .fold_of
            .partition_point(|&(p, _)| p < rows.provenance(0));
        for (i, &c) in rows.class.iter().enumerate() {
            let row = rows.provenance(i);
            while next < self.fold_of.len() && self.fold_of[next].0 < row {
                next += 1;
            }
            let model = match self.fold_of.get(next) {
                Some(&(p, f)) if p == row => &self.folds[f as usize],
                _ => &self.average,
            };
            let (xi, ci) = rows.row(i);
            if let Some(spread) = self.residual_spread {
                let y = rows.target.get(i).copied().unwrap_or(f64::NAN);
                out.push(
                    y.is_finite()
                        .then(|| residual_verdict(y - model.predict(xi, ci), spread)),
                );
                continue;
            }
            if c == NO_CLASS || !self.modelled[c as usize] {
                out.push(None);
                continue;
            }
            model.probabilities(xi, ci, &mut probs.0);
            out.push(Some(verdict(
                &self.thresholds,
                &self.modelled,
                &probs.0,
                c as usize,
            )));
        }
    }
}

/// The confident-joint verdict on probabilities `p` for given label `c`.
fn verdict(thresholds: &[f64], modelled: &[bool], p: &[f64], c: usize) -> Verdict {
    let mut best: Option<usize> = None;
    for j in 0..p.len() {
        if modelled[j] && p[j] >= thresholds[j] && best.is_none_or(|b| p[j] > p[b]) {
            best = Some(j);
        }
    }
    Verdict {
        self_confidence: p[c],
        issue: best.is_some_and(|j| j != c),
        misclassified: p.iter().enumerate().any(|(j, &q)| j != c && q > p[c]),
    }
}

/// The verdict on a numeric target's residual `e` in units of `spread`: an issue at
/// `R_FLAG` spreads (as LBL002's), "misclassified" (the error SliceLine scores) at 2; the
/// self-confidence is `1 − residual_score`, low for a far target as for an unlikely class.
fn residual_verdict(e: f64, spread: f64) -> Verdict {
    let r = e.abs() / spread;
    Verdict {
        self_confidence: 1.0 - residual_score(r),
        issue: r >= R_FLAG,
        misclassified: r >= 2.0,
    }
}

/// Ridge regression of a numeric target on the design (the intercept unpenalised), by the
/// normal equations and a Cholesky factor (nalgebra); `None` if they cannot be solved.
fn fit_ridge(
    design: &Design,
    x: &[f64],
    codes: &[u32],
    target: &[f64],
    rows: &[usize],
) -> Option<Linear> {
    let (d, w) = (design.d, design.width);
    let p = w + 1;
    let mut xtx = nalgebra::DMatrix::<f64>::zeros(p, p);
    let mut xty = nalgebra::DVector::<f64>::zeros(p);
    let mut buf = vec![0.0f64; p];
    let mut nz: Vec<usize> = Vec::with_capacity(p);
    for &i in rows {
        design.row(nth_row(x, d, i), nth_row(codes, d, i), &mut buf[..w]);
        buf[w] = 1.0;
        let y = target[i];
        // A design row is sparse (a few numbers, one indicator per feature): only its non-zero
        // entries are summed (in increasing order, so the upper triangle is filled).
        nz.clear();
        nz.extend((0..p).filter(|&a| buf[a] != 0.0));
        for (k, &a) in nz.iter().enumerate() {
            let va = buf[a];
            xty[a] += va * y;
            for &b in &nz[k..] {
                xtx[(a, b)] += va * buf[b];
            }
        }
    }
    for a in 0..p {
        for b in 0..a {
            xtx[(a, b)] = xtx[(b, a)];
        }
        if a < w {
            xtx[(a, a)] += RIDGE;
        }
    }
    let beta = xtx.cholesky()?.solve(&xty);
    let mut linear = vec![0.0; d];
    let mut table = vec![0.0; d * SLOTS];
    let mut j = 0;
    for (f, l) in linear.iter_mut().enumerate() {
        if design.numeric[f] {
            *l = beta[j];
            j += 1;
        }
    }
    for (at, &col) in design.indicator.iter().enumerate() {
        if col != NO_COLUMN {
            table[at] = beta[col as usize];
        }
    }
    let linear = Linear {
        classes: 1,
        numeric: (0..d).filter(|&f| design.numeric[f]).collect(),
        bias: vec![beta[w]],
        linear,
        table,
    };
    Some(linear)
}

/// Training rows: of each modelled class's rows (in their shuffled order), those outside fold
/// `skip`, the same share of every class, at most `MAX_TRAIN` in all.
fn subsample(by_class: &[Vec<usize>], fold: &[u8], skip: Option<u8>) -> Vec<usize> {
    let eligible = |i: &&usize| fold[**i] != u8::MAX && Some(fold[**i]) != skip;
    let total: usize = by_class
        .iter()
        .map(|v| v.iter().filter(eligible).count())
        .sum();
    let q = (MAX_TRAIN as f64 / total.max(1) as f64).min(1.0);
    let mut rows = Vec::new();
    for v in by_class {
        let m = v.iter().filter(eligible).count();
        let take = (q * m as f64).ceil() as usize;
        rows.extend(v.iter().filter(eligible).take(take));
    }
    rows.sort_unstable();
    rows
}

/// Fit one model on `rows`; `None` when the solver fails (an error of the solver, not of the
/// data: the scan then has no LBL003).
#[allow(clippy::too_many_arguments)]
fn fit_one(
    design: &Design,
    x: &[f64],
    codes: &[u32],
    class: &[u16],
    rows: &[usize],
    classes: usize,
    iterations: u64,
) -> Option<Linear> {
    let d = design.d;
    let mut m = Array2::<f32>::zeros((rows.len(), design.width));
    let mut buf = vec![0.0f64; design.width];
    for (r, &i) in rows.iter().enumerate() {
        design.row(nth_row(x, d, i), nth_row(codes, d, i), &mut buf);
        for (o, v) in m.row_mut(r).iter_mut().zip(&buf) {
            *o = *v as f32;
        }
    }
    let y: Array1<usize> = rows.iter().map(|&i| class[i] as usize).collect();
    let fitted = MultiLogisticRegression::<f32>::default()
        .alpha(ALPHA)
        .max_iterations(iterations)
        .fit(&Dataset::new(m, y))
        .ok()?;
    let seen = fitted.classes().to_vec();
    Some(Linear::from_fit(
        design,
        classes,
        &seen,
        fitted.params(),
        fitted.intercept(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::encode::NULL_CODE;

    /// The fit against scikit-learn 1.9.1: `LogisticRegression(C=1.0, tol=1e-12,
    /// max_iter=100000)` (multinomial, lbfgs) on the same 300 rows, three classes, with 1 row in
    /// 7 given the next class; its probabilities to 1e-3 with the production iteration budget.
    /// `n` rows of two numeric features and no indicator: their codes and design.
    fn two_numbers(n: usize) -> (Vec<u32>, Design) {
        let design = Design {
            d: 2,
            numeric: vec![true, true],
            indicator: vec![NO_COLUMN; 2 * SLOTS],
            width: 2,
        };
        (vec![NULL_CODE; 2 * n], design)
    }

    /// The ridge fit of a numeric target against numpy: the normal equations of scikit-learn's
    /// `Ridge(alpha=1.0)` (the data centred, the intercept unpenalised), solved by
    /// `numpy.linalg.solve` on the same 300 rows: coefficients 1.9925609, −1.00386944,
    /// intercept 2.99941561.
    #[test]
    fn ridge_matches_numpy() {
        let n = 300;
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..n {
            let x1 = ((i * 37) % 101) as f64 / 25.0 - 2.0;
            let x2 = ((i * 59) % 103) as f64 / 25.0 - 2.0;
            x.extend([x1, x2]);
            y.push(3.0 + 2.0 * x1 - x2 + (((i * 13) % 17) as f64 - 8.0) / 10.0);
        }
        let (codes, design) = two_numbers(n);
        let rows: Vec<usize> = (0..n).collect();
        let m = fit_ridge(&design, &x, &codes, &y, &rows).unwrap();
        let want = [1.9925609, -1.00386944, 2.99941561];
        let got = [m.linear[0], m.linear[1], m.bias[0]];
        for (a, b) in got.iter().zip(want) {
            assert!((a - b).abs() < 1e-7, "{got:?} against {want:?}");
        }
        // The prediction is the linear predictor.
        let p = m.predict(&[1.0, -1.0], &[NULL_CODE, NULL_CODE]);
        assert!((p - (want[2] + want[0] - want[1])).abs() < 1e-7);
    }

    /// A residual of 4 spreads is an issue (score 0.9, confidence 0.1); 2 spreads is an
    /// error for SliceLine, not an issue; the spread is 1.4826 × MAD.
    #[test]
    fn residual_verdicts_by_hand() {
        let v = residual_verdict(-8.0, 2.0);
        assert!(v.issue && v.misclassified);
        assert!((v.self_confidence - 0.1).abs() < 1e-12);
        let v = residual_verdict(4.0, 2.0);
        assert!(!v.issue && v.misclassified);
        assert!((v.self_confidence - 10f64.powf(-0.5)).abs() < 1e-12);
        // Median 3, absolute deviations 2, 1, 0, 1, 97: MAD 1.
        let mut e = vec![1.0, 2.0, 3.0, 4.0, 100.0];
        assert!((robust_spread(&mut e) - 1.4826).abs() < 1e-12);
    }

    #[test]
    fn skill_z_is_the_mean_gain_over_its_standard_error() {
        // Gains 1, 2, 3: mean 2, sample sd 1, standard error 1/sqrt(3).
        let z = skill_z(&[1.0, 2.0, 3.0]);
        assert!((z - 2.0 * 3f64.sqrt()).abs() < 1e-12, "{z}");
        // No gain on average: no skill.
        assert_eq!(skill_z(&[1.0, -1.0]), 0.0);
        assert!(skill_z(&[-1.0, -2.0, -3.0]) < 0.0);
        assert_eq!(skill_z(&[0.5]), 0.0);
        assert_eq!(skill_z(&[0.5, 0.5]), f64::INFINITY);
    }

    #[test]
    fn fit_matches_scikit_learn() {
        let n = 300;
        let mut x = Vec::new();
        let mut class = Vec::new();
        for i in 0..n {
            let x1 = ((i * 37) % 101) as f64 / 25.0 - 2.0;
            let x2 = ((i * 59) % 103) as f64 / 25.0 - 2.0;
            x.extend([x1, x2]);
            let c = if x1 > 0.5 {
                0
            } else if x2 > 0.0 {
                1
            } else {
                2
            };
            class.push(if i % 7 == 0 { (c + 1) % 3 } else { c });
        }
        let (codes, design) = two_numbers(n);
        let rows: Vec<usize> = (0..n).collect();
        let m = fit_one(&design, &x, &codes, &class, &rows, 3, MAX_ITERATIONS).unwrap();
        let sklearn: [(usize, [f64; 3]); 5] = [
            (0, [0.018997, 0.048647, 0.932355]),
            (1, [0.259965, 0.597584, 0.142451]),
            (50, [0.191341, 0.696655, 0.112005]),
            (150, [0.742144, 0.255295, 0.002561]),
            (299, [0.511120, 0.198584, 0.290296]),
        ];
        let mut p = [0.0; 3];
        for (i, want) in sklearn {
            m.probabilities(&x[2 * i..2 * i + 2], &codes[2 * i..2 * i + 2], &mut p);
            for (a, b) in p.iter().zip(want) {
                assert!((a - b).abs() < 1e-3, "row {i}: {p:?} against {want:?}");
            }
        }
    }

    #[test]
    fn training_rows_leave_their_fold_out_and_keep_the_class_mix() {
        // 30,000 rows of class 0 and 3,000 of class 1, in folds round-robin within each class.
        let by_class: Vec<Vec<usize>> = vec![(0..30_000).collect(), (30_000..33_000).collect()];
        let mut fold = vec![0u8; 33_000];
        for v in &by_class {
            for (r, &i) in v.iter().enumerate() {
                fold[i] = (r % FOLDS) as u8;
            }
        }
        let rows = subsample(&by_class, &fold, Some(2));
        assert!(rows.iter().all(|&i| fold[i] != 2));
        assert!(rows.windows(2).all(|w| w[0] < w[1]));
        let ones = rows.iter().filter(|&&i| i >= 30_000).count();
        // q = 4,000 / 26,400 of each class's 24,000 and 2,400 eligible rows, rounded up.
        assert_eq!(
            rows.len() - ones,
            (24_000.0 * MAX_TRAIN as f64 / 26_400.0f64).ceil() as usize
        );
        assert_eq!(
            ones,
            (2_400.0 * MAX_TRAIN as f64 / 26_400.0f64).ceil() as usize
        );
        // Small samples are used whole.
        let small: Vec<Vec<usize>> = vec![(0..50).collect(), (50..80).collect()];
        assert_eq!(subsample(&small, &fold[..80], None).len(), 80);
    }

    /// Each fold's model has the design of its own training rows: a decile code on 6 of the
    /// 300 sample rows (an indicator of the whole sample) is a column only of the folds whose
    /// training rows carry it at least 5 times; the others give it no weight at all.
    #[test]
    fn a_fold_keeps_the_indicators_its_training_rows_carry() {
        let n = 300;
        let encoder = Encoder::numeric(2);
        let rare: Vec<usize> = vec![3, 50, 101, 160, 222, 281];
        let (mut x, mut codes, mut class) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let v = ((i * 37) % 101) as f64 / 25.0 - 2.0;
            x.extend([v, -v]);
            codes.extend([if rare.contains(&i) { 7 } else { (i % 5) as u32 }, 0]);
            // The rare code's rows are all class 1: a model that has the column learns it. The
            // others follow `v` (and one in seven goes against it), so the model has skill.
            class.push(u16::from(rare.contains(&i) || ((v > 0.0) != (i % 7 == 0))));
        }
        let provenance: Vec<(u32, u64)> = (0..n as u64).map(|i| (0, i)).collect();
        let m = ConfidentModel::fit(
            &encoder,
            &x,
            &codes,
            &class,
            None,
            &provenance,
            2,
            7,
            1,
            &crate::recorder::Silent,
        )
        .expect("a model");
        let fold_of = |i: usize| {
            let at = m.fold_of.binary_search_by_key(&(0, i as u64), |(p, _)| *p);
            m.fold_of[at.expect("every row has a fold")].1
        };
        // The rare code's weight for class 1 (feature 0, slot 7).
        let at = 7 * 2 + 1;
        let (mut with, mut without) = (0, 0);
        for (k, model) in m.folds.iter().enumerate() {
            let carried = rare.iter().filter(|&&i| fold_of(i) != k as u8).count();
            if carried >= MIN_INDICATOR_ROWS {
                assert!(model.table[at] > 0.0, "fold {k}: {}", model.table[at]);
                with += 1;
            } else {
                assert_eq!(model.table[at], 0.0, "fold {k}");
                without += 1;
            }
        }
        // Six rows in five folds: some fold holds two of them out, and some at most one.
        assert!(
            with > 0 && without > 0,
            "{with} folds with, {without} without"
        );
    }

    #[test]
    fn verdict_is_the_confident_joint_off_diagonal() {
        let modelled = [true, true, true];
        let t = [0.6, 0.5, 0.4];
        // Own class above its threshold and the largest: no issue.
        assert!(!verdict(&t, &modelled, &[0.7, 0.2, 0.1], 0).issue);
        // Another class above its threshold: an issue, self-confidence is p of the given label.
        let v = verdict(&t, &modelled, &[0.1, 0.6, 0.3], 0);
        assert!(v.issue);
        assert_eq!(v.self_confidence, 0.1);
        // No class above its threshold: not counted in the confident joint, no issue.
        assert!(!verdict(&t, &modelled, &[0.35, 0.35, 0.3], 2).issue);
        // Two classes above their thresholds: the larger probability wins.
        assert!(verdict(&t, &modelled, &[0.0, 0.55, 0.45], 2).issue);
        assert!(!verdict(&[0.6, 0.5, 0.1], &modelled, &[0.0, 0.45, 0.55], 2).issue);
        // An unmodelled class is never the confident class.
        assert!(!verdict(&t, &[true, false, true], &[0.1, 0.8, 0.1], 0).issue);
    }
}
