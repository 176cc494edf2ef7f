//! Per-source summaries: a compact profile of each file, so that drift can be traced to the file
//! or partition it comes from. They cost no extra pass: a file's shards are folded together
//! before the file joins the whole profile, and the summary is read off that partial profile.
//! A summary keeps, per column, the counts, the moments, a 101-point quantile grid (instead of
//! the sketch: a few hundred bytes a column however many files there are) and, for columns with
//! few values, the exact value counts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::column::ColumnProfile;

/// Points of the quantile grid: the 0%, 1%, …, 100% quantiles.
pub const GRID_POINTS: usize = 101;
/// Per-source value counts are kept for columns with at most this many distinct values.
pub const SOURCE_VALUES_MAX: usize = 100;

/// One source file's summary (parallel to the manifest).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SourceSummary {
    pub rows: u64,
    pub label_counts: BTreeMap<String, u64>,
    /// In the profile's column order.
    pub columns: Vec<SourceColumn>,
}

/// One column of one source.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SourceColumn {
    pub nulls: u64,
    /// Finite numeric values.
    pub finite: u64,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    /// The 0%, 1%, …, 100% quantiles of the finite values (empty when there are none), from the
    /// file's quantile sketch (its rank error plus 1% for the grid).
    pub grid: Vec<f64>,
    /// Value → rows, when the column has at most `SOURCE_VALUES_MAX` distinct values here.
    pub values: Option<BTreeMap<String, u64>>,
    /// Values below and above the reference range, when one was given.
    pub below: u64,
    pub above: u64,
}

impl SourceColumn {
    pub fn of(c: &ColumnProfile) -> SourceColumn {
        let (finite, mean, std, grid) = match &c.numeric {
            Some(n) if n.count > 0 => {
                let qs: Vec<f64> = (0..GRID_POINTS)
                    .map(|i| i as f64 / (GRID_POINTS - 1) as f64)
                    .collect();
                (n.count, n.mean(), n.std(), n.quantiles.quantiles(&qs))
            }
            _ => (0, None, None, Vec::new()),
        };
        let values = c
            .value_counts()
            .filter(|m| m.len() <= SOURCE_VALUES_MAX)
            .map(|m| m.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
        let (below, above) = c
            .outside
            .as_ref()
            .map(|o| (o.below.values().sum(), o.above.values().sum()))
            .unwrap_or((0, 0));
        SourceColumn {
            nulls: c.nulls,
            finite,
            mean,
            std,
            grid,
            values,
            below,
            above,
        }
    }

    /// Fraction of the finite values at or below `x`, read off the grid by linear
    /// interpolation between grid points.
    pub fn cdf(&self, x: f64) -> Option<f64> {
        grid_cdf(&self.grid, x)
    }
}

/// The CDF at `x` of a distribution given by its quantile grid (equally spaced ranks from 0 to
/// 1): interpolated between the grid points that bracket `x`; ties take the highest rank.
pub fn grid_cdf(grid: &[f64], x: f64) -> Option<f64> {
    let n = grid.len();
    if n < 2 {
        return None;
    }
    let step = 1.0 / (n - 1) as f64;
    if x < grid[0] {
        return Some(0.0);
    }
    if x >= grid[n - 1] {
        return Some(1.0);
    }
    // Last index with grid[i] <= x.
    let i = grid.partition_point(|&g| g <= x) - 1;
    let (a, b) = (grid[i], grid[i + 1]);
    let frac = if b > a { (x - a) / (b - a) } else { 0.0 };
    Some((i as f64 + frac) * step)
}

impl SourceSummary {
    pub fn of(rows: u64, label_counts: &BTreeMap<String, u64>, columns: &[ColumnProfile]) -> Self {
        SourceSummary {
            rows,
            label_counts: label_counts.clone(),
            columns: columns.iter().map(SourceColumn::of).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_cdf_interpolates() {
        let grid: Vec<f64> = (0..=100).map(|i| i as f64).collect();
        assert_eq!(grid_cdf(&grid, -1.0), Some(0.0));
        assert_eq!(grid_cdf(&grid, 100.0), Some(1.0));
        assert!((grid_cdf(&grid, 25.0).unwrap() - 0.25).abs() < 1e-12);
        assert!((grid_cdf(&grid, 25.5).unwrap() - 0.255).abs() < 1e-12);
        // A point mass: everything at 3 has rank 1 at 3.
        let flat = vec![3.0; 101];
        assert_eq!(grid_cdf(&flat, 2.9), Some(0.0));
        assert_eq!(grid_cdf(&flat, 3.0), Some(1.0));
    }
}
