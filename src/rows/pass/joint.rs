//! OUT002's row model: how far a row lies from the reference sample's *joint* distribution,
//! whatever its single values.
//!
//! Rows whose every value is plausible but whose combination is not (fabricated rows, values
//! copied from different records, a generator that samples columns independently) are no
//! outliers to a per-column view, and little more to the Isolation Forest and ECOD (row AUROC
//! 0.6-0.7 on the detection bench's fabricated rows). What they break is the correlation
//! between columns, which a Mahalanobis distance measures directly.
//!
//! - **Space.** The shared encoding made distance-friendly, as the kNN's (`rows::knn`):
//!   numbers robust-scaled and clipped to ±`CLIP` (an extreme value is OUT001's and SCH004's
//!   business; here it must not drown the combination), categorical features of at most
//!   `MAX_ONE_HOT` categories one-hot, wider ones by their frequency. No missing indicators:
//!   a null is SCH002's to report (a column without nulls in the baseline would make every
//!   null in a file an infinitely unlikely row); here it sits where the encoder puts it, at
//!   the median.
//! - **Distance.** The weighted mean and covariance of the reference sample (each row weighted
//!   back to its label's share), its eigendecomposition (nalgebra's `SymmetricEigen`), and
//!   `D² = Σ_k (v_k·e)² / λ_k` over the leading `MAX_DIMS` directions plus the rest of `‖e‖²`
//!   over the mean of the eigenvalues left out: exactly the Mahalanobis distance when the space
//!   has at most `MAX_DIMS` dimensions, else Hotelling's T² plus the scaled squared prediction
//!   error of process monitoring. Eigenvalues are floored at `FLOOR` of their mean, so a
//!   constant or collinear direction is a strong constraint but not an infinite one. The small
//!   directions are the point: on Adult, one-hot relationship and sex nearly determine each
//!   other, and a row that breaks that is far in one of them (keeping 32 directions of 66
//!   instead of all of them drops the bench's fabricated rows' AUROC from 0.9 to 0.7).
//! - **Rank.** A row's `joint rank` is the weighted share of reference rows whose D² is at
//!   most its own: uniform on the reference by construction, comparable across data sets.
//!   The pass counts it per file (`GroupCount::joint`), and, for rows above `TERM_RANK`, each
//!   feature's share of D² (`e_j · (Σ⁻¹e)_j`, summed over the feature's dimensions), which
//!   says which columns no longer agree with the others.

use nalgebra::DMatrix;

use super::model::WeightedCdf;
use crate::rows::encode::{Encoder, Kind};
use crate::rows::shared::nth_row;

/// Encoded numbers are clipped to ±CLIP.
const CLIP: f64 = 5.0;
/// Categorical features up to this many categories are one-hot encoded.
const MAX_ONE_HOT: usize = 16;
/// At most this many principal directions are kept apart; the others share one term.
const MAX_DIMS: usize = 64;
/// Eigenvalues below this share of their mean are raised to it.
const FLOOR: f64 = 1e-3;
/// Bins of a group's histogram of joint ranks.
pub const JOINT_BINS: usize = 200;
/// Rows above this joint rank add their features' shares of D² to their group's sums.
pub const TERM_RANK: f64 = 0.95;

/// One dimension of the space.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
enum Dim {
    /// Encoder feature `f`'s value, clipped.
    Value(usize),
    /// 1/√2 when encoder feature `f`'s slice code is `code`, one of its `known` categories
    /// (the reference's); the reference's mean when the row's code is none of them.
    OneHot(usize, u32, u32),
}

impl Dim {
    fn feature(&self) -> usize {
        match *self {
            Dim::Value(f) | Dim::OneHot(f, ..) => f,
        }
    }
}

/// The space and its distance.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Space {
    spec: Vec<Dim>,
    mean: Vec<f64>,
    /// The kept directions, `spec.len()` values each, one after the other.
    basis: Vec<f64>,
    inv_lambda: Vec<f64>,
    /// 1 / the mean eigenvalue left out (0 when every direction is kept).
    inv_rest: f64,
}

/// The fitted joint model.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct JointModel {
    /// Encoder features it was fitted on (checked against the encoder when models are read).
    pub(crate) features: usize,
    space: Space,
    rank: WeightedCdf,
    /// Reference rows the sample stands for, and sample rows used.
    pub reference_rows: f64,
    pub sample_rows: usize,
    /// Per encoder feature, the reference rows' weighted mean share of D² among rows above
    /// `TERM_RANK`: what a group's shares are compared with.
    pub reference_terms: Vec<f64>,
}

/// Buffers of one scoring thread.
#[derive(Default)]
pub(crate) struct JointScratch {
    e: Vec<f64>,
    p: Vec<f64>,
    w: Vec<f64>,
}

impl JointModel {
    /// Fit on the reference sample: its encoding `x` and slice codes (row-major,
    /// `encoder.dim()` wide) and each row's weight. `None` with fewer than two rows or nothing
    /// to encode.
    pub fn fit(encoder: &Encoder, x: &[f64], codes: &[u32], weights: &[f64]) -> Option<Self> {
        let d = encoder.dim();
        let n = weights.len();
        if d == 0 || n < 2 || x.len() != n * d || codes.len() != n * d {
            return None;
        }
        let mut spec = Vec::new();
        for (f, feat) in encoder.features.iter().enumerate() {
            match &feat.kind {
                // The reference's own categories only: a category only the current data has, a
                // null or an unseen one is SCH003's and SCH002's to report; here it is the
                // block's mean (`embed`), as a missing number is the median.
                Kind::Frequency { known, .. } if (*known as usize) <= MAX_ONE_HOT => {
                    spec.extend((0..*known).map(|c| Dim::OneHot(f, c, *known)));
                }
                Kind::Missing => {}
                _ => spec.push(Dim::Value(f)),
            }
        }
        let big = spec.len();
        if big == 0 {
            return None;
        }
        let total: f64 = weights.iter().sum();
        if total.is_nan() || total <= 0.0 {
            return None;
        }
        let mut model = Space {
            spec,
            mean: vec![0.0; big],
            basis: Vec::new(),
            inv_lambda: Vec::new(),
            inv_rest: 0.0,
        };
        // Sample row i's encoding and slice codes.
        let row = |i: usize| (nth_row(x, d, i), nth_row(codes, d, i));
        let mut e = Vec::with_capacity(big);
        for (i, w) in weights.iter().enumerate() {
            let (xr, cr) = row(i);
            model.embed(xr, cr, &mut e);
            for (m, v) in model.mean.iter_mut().zip(&e) {
                *m += w / total * v;
            }
        }
        let mut cov = vec![0.0; big * big];
        for (i, w) in weights.iter().enumerate() {
            let (xr, cr) = row(i);
            model.embed(xr, cr, &mut e);
            for (v, m) in e.iter_mut().zip(&model.mean) {
                *v -= m;
            }
            let w = w / total;
            for a in 0..big {
                let wa = w * e[a];
                if wa == 0.0 {
                    continue;
                }
                for b in a..big {
                    cov[a * big + b] += wa * e[b];
                }
            }
        }
        for a in 0..big {
            for b in 0..a {
                cov[a * big + b] = cov[b * big + a];
            }
        }
        let eig = DMatrix::from_row_slice(big, big, &cov).symmetric_eigen();
        let mut order: Vec<usize> = (0..big).collect();
        // Largest first; ties by index, so the order is the same on every machine.
        order.sort_by(|&a, &b| {
            eig.eigenvalues[b]
                .total_cmp(&eig.eigenvalues[a])
                .then(a.cmp(&b))
        });
        let values: Vec<f64> = order.iter().map(|&k| eig.eigenvalues[k].max(0.0)).collect();
        let mean_value = values.iter().sum::<f64>() / big as f64;
        if mean_value.is_nan() || mean_value <= 0.0 {
            return None;
        }
        let floor = FLOOR * mean_value;
        let kept = big.min(MAX_DIMS);
        for &k in &order[..kept] {
            model.basis.extend(eig.eigenvectors.column(k).iter());
        }
        model.inv_lambda = values[..kept].iter().map(|v| 1.0 / v.max(floor)).collect();
        if kept < big {
            let rest = values[kept..].iter().sum::<f64>() / (big - kept) as f64;
            model.inv_rest = 1.0 / rest.max(floor);
        }
        // The reference rows' distances, their ranks, and the features' shares above
        // TERM_RANK.
        let mut scratch = JointScratch::default();
        let mut terms = vec![0.0; d];
        let d2: Vec<f64> = (0..n)
            .map(|i| {
                let (xr, cr) = row(i);
                model.distance(xr, cr, &mut scratch, None)
            })
            .collect();
        let rank = WeightedCdf::new(&d2, weights);
        let mut reference_terms = vec![0.0; d];
        let mut above = 0.0;
        for i in 0..n {
            if rank.at(d2[i]) > TERM_RANK {
                let (xr, cr) = row(i);
                terms.iter_mut().for_each(|t| *t = 0.0);
                model.distance(xr, cr, &mut scratch, Some(&mut terms));
                for (s, t) in reference_terms.iter_mut().zip(&terms) {
                    *s += weights[i] * t;
                }
                above += weights[i];
            }
        }
        if above > 0.0 {
            reference_terms.iter_mut().for_each(|s| *s /= above);
        }
        Some(JointModel {
            features: d,
            space: model,
            rank,
            reference_rows: total,
            sample_rows: n,
            reference_terms,
        })
    }

    /// Fit on a profile's sample (each row weighted back to its label's share).
    pub fn fit_reference(encoder: &Encoder, reference: &crate::profile::Profile) -> Option<Self> {
        if encoder.dim() == 0 || reference.sample.is_empty() {
            return None;
        }
        let weights = reference.sample_weights();
        let values = reference.sample.rows().map(|(_, r)| &r.values[..]);
        let (mut x, mut codes) = (Vec::new(), Vec::new());
        encoder.encode_sample(values, &mut x, &mut codes);
        JointModel::fit(encoder, &x, &codes, &weights)
    }

    /// The model's shapes agree with themselves and with an encoder of `d` features (models
    /// read from bytes are checked before scoring indexes with them).
    pub(crate) fn check(&self, d: usize) -> Result<(), String> {
        let s = &self.space;
        let big = s.spec.len();
        let ok = self.features == d
            && s.spec.iter().all(|dim| dim.feature() < d)
            && s.mean.len() == big
            && big > 0
            && s.basis.len() == s.inv_lambda.len() * big
            && s.inv_lambda.len() <= big
            && self.reference_terms.len() == d;
        if ok {
            Ok(())
        } else {
            Err(format!(
                "the encoder has {d} features; the joint model does not fit it"
            ))
        }
    }

    /// A row's D² (its encoding and slice codes, `features` wide each); with `terms`, each
    /// feature's share of it is added there.
    pub(crate) fn distance(
        &self,
        x: &[f64],
        codes: &[u32],
        s: &mut JointScratch,
        terms: Option<&mut [f64]>,
    ) -> f64 {
        self.space.distance(x, codes, s, terms)
    }

    /// The weighted share of reference rows whose D² is at most `d2`.
    pub(crate) fn rank(&self, d2: f64) -> f64 {
        self.rank.at(d2)
    }

    /// The bin of a joint rank in a group's histogram.
    pub fn bin(rank: f64) -> usize {
        ((rank * JOINT_BINS as f64) as usize).min(JOINT_BINS - 1)
    }
}

impl Space {
    fn embed(&self, x: &[f64], codes: &[u32], out: &mut Vec<f64>) {
        out.clear();
        out.extend(self.spec.iter().enumerate().map(|(k, s)| match *s {
            Dim::Value(f) => x[f].clamp(-CLIP, CLIP),
            Dim::OneHot(f, c, _) if codes[f] == c => std::f64::consts::FRAC_1_SQRT_2,
            // Before the mean is known (while it is summed) this is 0: the reference's codes
            // are always among its categories, except its nulls, which then count as none.
            Dim::OneHot(f, _, known) if codes[f] >= known => {
                self.mean.get(k).copied().unwrap_or(0.0)
            }
            Dim::OneHot(..) => 0.0,
        }));
    }

    fn distance(
        &self,
        x: &[f64],
        codes: &[u32],
        s: &mut JointScratch,
        terms: Option<&mut [f64]>,
    ) -> f64 {
        self.embed(x, codes, &mut s.e);
        let big = self.spec.len();
        for (v, m) in s.e.iter_mut().zip(&self.mean) {
            *v -= m;
        }
        s.p.clear();
        s.p.extend(
            self.basis
                .chunks_exact(big)
                .map(|v| v.iter().zip(&s.e).map(|(a, b)| a * b).sum::<f64>()),
        );
        let mut t2 = 0.0;
        let mut kept_energy = 0.0;
        for (p, il) in s.p.iter().zip(&self.inv_lambda) {
            t2 += p * p * il;
            kept_energy += p * p;
        }
        let energy: f64 = s.e.iter().map(|v| v * v).sum();
        let q = (energy - kept_energy).max(0.0) * self.inv_rest;
        let Some(terms) = terms else {
            return t2 + q;
        };
        // Σ⁻¹e = Σ_k v_k p_k/λ_k + (e − Σ_k v_k p_k)/λ_rest; a dimension's share is e_j times
        // its entry, and the shares add up to D².
        s.w.clear();
        s.w.extend(s.e.iter().map(|v| v * self.inv_rest));
        for (v, (p, il)) in self
            .basis
            .chunks_exact(big)
            .zip(s.p.iter().zip(&self.inv_lambda))
        {
            let (a, b) = (p * il, p * self.inv_rest);
            for (w, vj) in s.w.iter_mut().zip(v) {
                *w += vj * (a - b);
            }
        }
        for ((dim, e), w) in self.spec.iter().zip(&s.e).zip(&s.w) {
            terms[dim.feature()] += e * w;
        }
        t2 + q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The distance is the Mahalanobis distance: on two numeric features (no one-hot), with
    /// every direction kept, it matches `eᵀ Σ⁻¹ e` computed by hand from the 2×2 covariance,
    /// and the features' shares add up to it.
    #[test]
    fn distance_is_mahalanobis_and_shares_add_up() {
        let spec = vec![Dim::Value(0), Dim::Value(1)];
        // Σ = [[2, 1], [1, 1]]: eigenvalues (3 ± √5)/2.
        let (l1, l2) = ((3.0 + 5f64.sqrt()) / 2.0, (3.0 - 5f64.sqrt()) / 2.0);
        let eig = DMatrix::<f64>::from_row_slice(2, 2, &[2.0, 1.0, 1.0, 1.0]).symmetric_eigen();
        let mut order = [0usize, 1];
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        assert!((eig.eigenvalues[order[0]] - l1).abs() < 1e-12);
        assert!((eig.eigenvalues[order[1]] - l2).abs() < 1e-12);
        let mut basis = Vec::new();
        for &k in &order {
            basis.extend(eig.eigenvectors.column(k).iter());
        }
        let model = Space {
            spec,
            mean: vec![1.0, -1.0],
            basis,
            inv_lambda: vec![1.0 / l1, 1.0 / l2],
            inv_rest: 0.0,
        };
        // e = (3, 0) − (1, −1) = (2, 1); Σ⁻¹ = [[1, −1], [−1, 2]]; eᵀΣ⁻¹e = 4 − 4 + 2 = 2.
        let mut terms = vec![0.0; 2];
        let d2 = model.distance(
            &[3.0, 0.0],
            &[0, 0],
            &mut JointScratch::default(),
            Some(&mut terms),
        );
        assert!((d2 - 2.0).abs() < 1e-12, "{d2}");
        // Shares: e ∘ Σ⁻¹e = (2, 1) ∘ (1, 0) = (2, 0).
        assert!(
            (terms[0] - 2.0).abs() < 1e-12 && terms[1].abs() < 1e-12,
            "{terms:?}"
        );
    }
}
