//! The thresholds checks read: each check declares its `Param`s (name, default, range, doc);
//! a run's `CheckParams` holds the false discovery rate and the values a config file set.

use std::collections::BTreeMap;

/// A threshold a check reads, with its default and the range a config file may set it in.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub default: f64,
    pub min: f64,
    pub max: f64,
    pub doc: &'static str,
}

/// The thresholds of one run: the false discovery rate and every value a config file set.
#[derive(Debug, Clone)]
pub struct CheckParams {
    /// Benjamini–Hochberg level of every statistical finding.
    pub alpha: f64,
    /// Whether a side with no rows, or too few to compare (INT003), is allowed: reported as
    /// info rather than failing the gate.
    pub allow_empty: bool,
    overrides: BTreeMap<(String, &'static str), f64>,
}

impl Default for CheckParams {
    fn default() -> CheckParams {
        CheckParams {
            alpha: super::ALPHA,
            allow_empty: false,
            overrides: BTreeMap::new(),
        }
    }
}

impl CheckParams {
    /// The value of threshold `p` of check `code`: the config file's, or the default.
    pub fn get(&self, code: &str, p: &Param) -> f64 {
        self.overrides
            .get(&(code.to_string(), p.name))
            .copied()
            .unwrap_or(p.default)
    }

    /// Set threshold `p` of check `code` (checked against its range by the caller).
    pub fn set(&mut self, code: &str, p: &Param, value: f64) {
        self.overrides.insert((code.to_string(), p.name), value);
    }
}
