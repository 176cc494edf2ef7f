//! Where the library says what it is doing, without printing: the caller passes one [`Recorder`]
//! and decides what to show (the command line prints timings under `POISONSCAN_TIMINGS` and
//! progress bars on a terminal; the Python package and Spark tasks show nothing). Detectors never
//! see it; the phases around them do.

/// The unit of a [`Timing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Wall-clock seconds.
    Seconds,
    /// CPU seconds summed over the threads that did the work.
    CoreSeconds,
}

impl Unit {
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Seconds => "s",
            Unit::CoreSeconds => "core-s",
        }
    }
}

/// How long one phase took.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// The phase, e.g. `profile`, `row pass`, `DRF001`.
    pub phase: String,
    pub seconds: f64,
    pub unit: Unit,
    /// What the phase worked on, e.g. `12 candidate rules`.
    pub detail: Option<String>,
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:.3} {}",
            self.phase,
            self.seconds,
            self.unit.symbol()
        )?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

/// Receives timings, progress and optional diagnostics. Every method has a default that does
/// nothing, so a caller implements only what it shows. Called from worker threads.
pub trait Recorder: Sync {
    /// Whether to measure each phase (and each check on its own, which runs the checks twice).
    fn timings(&self) -> bool {
        false
    }
    /// A phase finished (only called when [`Recorder::timings`] is true).
    fn timing(&self, _timing: &Timing) {}
    /// A pass over `units` shards (`stage`: `profile`, `baseline`, `rows`) begins.
    fn start(&self, _stage: &str, _units: u64) {}
    /// One more shard of the stage is done.
    fn advance(&self, _stage: &str) {}
    /// The stage is over.
    fn finish(&self, _stage: &str) {}
    /// Whether to compute the costly diagnostic `name` (e.g. `knn-recall`); off by default.
    fn diagnostic(&self, _name: &str) -> bool {
        false
    }
    /// A diagnostic's result, as one line of text.
    fn note(&self, _line: &str) {}
}

/// A recorder that records nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Recorder for Silent {}

/// Time `f` as phase `phase` when the recorder wants timings.
pub(crate) fn timed<T>(rec: &dyn Recorder, phase: &str, f: impl FnOnce() -> T) -> T {
    let t = std::time::Instant::now();
    let out = f();
    record(rec, phase, t.elapsed().as_secs_f64(), Unit::Seconds, || {
        None
    });
    out
}

/// Tell `rec` that `phase` took `seconds`, with what it worked on (`detail` is only built when
/// the recorder wants timings).
pub(crate) fn record(
    rec: &dyn Recorder,
    phase: &str,
    seconds: f64,
    unit: Unit,
    detail: impl FnOnce() -> Option<String>,
) {
    if rec.timings() {
        rec.timing(&Timing {
            phase: phase.to_string(),
            seconds,
            unit,
            detail: detail(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_read_like_the_command_line_prints_them() {
        let t = Timing {
            phase: "label model fit".into(),
            seconds: 0.12345,
            unit: Unit::Seconds,
            detail: Some("12 candidate rules".into()),
        };
        assert_eq!(
            t.to_string(),
            "label model fit 0.123 s (12 candidate rules)"
        );
        let t = Timing {
            phase: "forest in the row pass".into(),
            seconds: 2.0,
            unit: Unit::CoreSeconds,
            detail: None,
        };
        assert_eq!(t.to_string(), "forest in the row pass 2.000 core-s");
    }
}
