//! The steps of a run as library calls, in the order of the data flow: profile the inputs (or
//! take a saved profile), fit the row models and score every current row, run the detectors,
//! build the report. No flags, no terminal, no environment: [`Settings`] in, values out; what the
//! caller wants to see of the work goes through its [`Recorder`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use arrow::array::RecordBatch;

use crate::config::Date;
use crate::detect::{self, Context, Detector};
use crate::error::{Error, Result};
use crate::ingest::{BatchSource, Conformed, Dataset, Spill};
use crate::profile::plan::TaskPlan;
use crate::profile::{self, FingerprintScope, LabelType, Profile, ProfileSettings, Role};
use crate::recorder::{Recorder, Silent, Unit, record, timed};
use crate::report::{self, Report};
use crate::rows::RowModels;
use crate::rows::models::ToScore;
use crate::rows::pass::{RowPass, RowsOut};
use crate::settings::{BaselineSource, Settings};
use crate::slice::SliceData;

/// The row pass's counts, the slice data SLC001 searches, and the rows kept in memory.
type RowPassOut = (RowPass, Option<SliceData>, Option<Vec<RecordBatch>>);

/// Data to read: files, folders and globs, or Arrow batches the caller holds.
#[derive(Clone, Copy)]
pub enum Data<'a> {
    Paths(&'a [PathBuf]),
    /// Batches with their provenance (read once per pass: twice in a scan).
    Batches(&'a dyn BatchSource),
}

impl std::fmt::Debug for Data<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Data::Paths(p) => f.debug_tuple("Paths").field(p).finish(),
            Data::Batches(b) => f.debug_tuple("Batches").field(&b.sources()).finish(),
        }
    }
}

/// The trusted side of a scan.
#[derive(Debug)]
pub enum Baseline<'a> {
    /// No baseline: only the checks that need none run.
    None,
    /// A saved profile (see [`profile::load`] and [`Profile::from_bytes`]).
    Profile(Box<Profile>),
    /// Data, profiled with the scan's settings.
    Data(Data<'a>),
}

impl<'a> Baseline<'a> {
    /// Paths as the command line takes them: one saved profile, data files, or none.
    pub fn from_paths(paths: &'a [PathBuf]) -> Result<Baseline<'a>> {
        Ok(match BaselineSource::resolve(paths)? {
            BaselineSource::None => Baseline::None,
            BaselineSource::Profile(p) => Baseline::Profile(Box::new(profile::load(&p)?)),
            BaselineSource::Data(_) => Baseline::Data(Data::Paths(paths)),
        })
    }
}

/// One run's settings, recorder and checks.
///
/// ```
/// use poisonscan::{Baseline, Data, Engine, Settings};
/// use std::path::PathBuf;
///
/// let settings = Settings::builder().label("label").threads(1).build()?;
/// let current = [PathBuf::from("datasets/demo/current/part-0.parquet")];
/// let baseline = [PathBuf::from("datasets/demo/baseline/part-0.parquet")];
/// let report = Engine::new(&settings).scan(
///     Data::Paths(&current),
///     Baseline::Data(Data::Paths(&baseline)),
///     None,
/// )?;
/// assert_eq!(report.dataset.rows, 20_000);
/// assert!(report.findings.iter().any(|f| f.code == "SCH005")); // the demo's unit change
/// # Ok::<(), poisonscan::Error>(())
/// ```
pub struct Engine<'a> {
    settings: &'a Settings,
    recorder: &'a dyn Recorder,
    checks: Vec<&'static dyn Detector>,
    /// The accepted nights' saved profiles, oldest first (`scan --history`).
    history: &'a [PathBuf],
}

impl<'a> Engine<'a> {
    /// The registry's checks, recording nothing.
    pub fn new(settings: &'a Settings) -> Engine<'a> {
        // Outputs to URLs (and a baseline profile named by one) use the inputs' options.
        crate::storage::set_default_options(&settings.ingest.storage);
        Engine {
            settings,
            recorder: &Silent,
            checks: detect::registry(),
            history: &[],
        }
    }

    /// Report timings and progress to `recorder`.
    pub fn with_recorder(mut self, recorder: &'a dyn Recorder) -> Engine<'a> {
        self.recorder = recorder;
        self
    }

    /// Scan with a history: `profiles` are the saved profiles of the nights accepted before
    /// this one, oldest first (see [`crate::history::resolve`]); the baseline is the anchored
    /// trusted profile. The scan then also compares the current data with the last of them
    /// (the night-over-night checks: replays, schema, whole-column and label drift) and runs the
    /// sequential test of DRF005 over the series of all of them.
    pub fn with_history(mut self, profiles: &'a [PathBuf]) -> Engine<'a> {
        self.history = profiles;
        self
    }

    /// Run `extra` checks after the registry's (a check of one's own, or a test's).
    pub fn with_checks(mut self, extra: &[&'static dyn Detector]) -> Engine<'a> {
        self.checks.extend(extra.iter().copied());
        self
    }

    pub fn settings(&self) -> &Settings {
        self.settings
    }

    /// Every check this engine runs when it is enabled.
    pub fn checks(&self) -> &[&'static dyn Detector] {
        &self.checks
    }

    fn pool(&self) -> Result<rayon::ThreadPool> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(self.settings.threads)
            .build()
            .map_err(|e| Error::Internal(format!("cannot start threads: {e}")))
    }

    /// Profile data with these settings; the config's column roles are checked against it.
    pub fn profile(&self, data: Data<'_>) -> Result<Profile> {
        let mut p = self.profile_with(data, &self.settings.profile, "profile", None)?;
        set_roles(&mut p, self.settings, "profiled")?;
        Ok(p)
    }

    /// Fit the row models on the baseline's sample (the current data's without a baseline),
    /// for the checks these settings turn on (see [`RowModels::fit`]); `None` when no column
    /// can be encoded or the reference has no sample.
    pub fn fit_row_models(
        &self,
        baseline: Option<&Profile>,
        current: &Profile,
    ) -> Option<RowModels> {
        match self.pool() {
            Ok(pool) => pool.install(|| self.fit_models_here(baseline, current)),
            // Without a pool of its own, on the caller's threads (the result is the same).
            Err(_) => self.fit_models_here(baseline, current),
        }
    }

    /// `fit_row_models` on the current thread pool.
    fn fit_models_here(&self, baseline: Option<&Profile>, current: &Profile) -> Option<RowModels> {
        let on = |code: &str| self.settings.check_enabled(code);
        RowModels::fit(
            &self.settings.profile,
            &on,
            baseline,
            current,
            self.recorder,
        )
    }

    /// Profile the current side of a scan against `baseline`: as [`Engine::profile`], and the
    /// values outside the baseline's range of each numeric column are counted exactly (SCH004
    /// and the trigger checks read them). What [`Engine::report`] expects as the current profile.
    pub fn profile_against(&self, data: Data<'_>, baseline: &Profile) -> Result<Profile> {
        let settings = self.against(baseline);
        let mut p = self.profile_with(data, &settings, "profile", None)?;
        set_roles(&mut p, self.settings, "current")?;
        Ok(p)
    }

    /// The profile settings of the current side against `baseline`: its ranges (the values
    /// outside them are counted) and its label type.
    fn against(&self, baseline: &Profile) -> ProfileSettings {
        let mut s = self
            .settings
            .with_reference_ranges(reference_ranges(baseline));
        if baseline.label.is_some() {
            s.label_type = Some(baseline.label_type);
        }
        s
    }

    /// Profile `data`; with the label type left to auto, a numeric label with more values than
    /// classes may have is profiled again as a numeric target.
    fn profile_with(
        &self,
        data: Data<'_>,
        settings: &ProfileSettings,
        stage: &str,
        spill: Option<&Arc<Spill>>,
    ) -> Result<Profile> {
        match self.profile_once(data, settings, stage, spill) {
            Err(Error::TooManyClasses { numeric: true, .. }) if settings.label_type.is_none() => {
                let numeric = ProfileSettings {
                    label_type: Some(LabelType::Numeric),
                    ..settings.clone()
                };
                self.profile_once(data, &numeric, stage, spill)
            }
            other => other,
        }
    }

    fn profile_once(
        &self,
        data: Data<'_>,
        settings: &ProfileSettings,
        stage: &str,
        spill: Option<&Arc<Spill>>,
    ) -> Result<Profile> {
        let paths = match data {
            Data::Paths(paths) => paths,
            Data::Batches(b) => {
                return Conformed::new(b, &self.settings.ingest)
                    .and_then(|c| profile::profile_batches(&c, settings))
                    .map_err(|e| name_the_side(e, stage, data));
            }
        };
        let pool = self.pool()?;
        pool.install(|| {
            let mut ds = Dataset::open(paths, &self.settings.ingest)?;
            if let Some(spill) = spill {
                ds = ds.with_spill(spill);
            }
            self.recorder.start(stage, ds.shards.len() as u64);
            let on_shard = |_rows: u64| self.recorder.advance(stage);
            let p = profile::profile_dataset(&ds, settings, &on_shard);
            self.recorder.finish(stage);
            p
        })
        .map_err(|e| name_the_side(e, stage, data))
    }

    /// The profile settings of a scan's current side: against `baseline` (checked against the
    /// scan's label), the values outside its ranges are counted.
    fn current_settings(&self, baseline: Option<&Profile>) -> Result<ProfileSettings> {
        match baseline {
            Some(b) => {
                self.check_baseline(b)?;
                Ok(self.against(b))
            }
            None => Ok(self.settings.profile.clone()),
        }
    }

    /// The plan of a scan of Parquet files run as tasks elsewhere (a Spark job's): the
    /// shards, segments and sources `scan` uses on the same files (see
    /// [`crate::profile::plan`]); the current side of a scan against `baseline`, or a profile
    /// without one. `available`: the columns the tasks will have (a projection of the files);
    /// the others are left out as `--exclude` would.
    pub fn plan_files(
        &self,
        paths: &[PathBuf],
        baseline: Option<&Profile>,
        available: Option<&[String]>,
    ) -> Result<TaskPlan> {
        let profile = self.current_settings(baseline)?;
        let mut ingest = self.settings.ingest.clone();
        let mut ds = loop {
            match Dataset::open(paths, &ingest) {
                // A column of a type poisonscan cannot read that the projection dropped.
                Err(Error::UnsupportedType { column, .. })
                    if available.is_some_and(|a| !a.contains(&column))
                        && !ingest.unavailable.contains(&column) =>
                {
                    ingest.unavailable.push(column);
                }
                other => break other?,
            }
        };
        if let Some(have) = available {
            // Columns the projection dropped are not in the data as read, whatever their
            // type (one `--skip-unsupported` would reject included).
            let rejected = ds
                .left_out
                .iter()
                .filter(|l| l.status == crate::ingest::LeftOutStatus::Rejected)
                .map(|l| l.column.clone());
            let missing: Vec<String> = ds
                .schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .chain(rejected)
                .filter(|n| !have.contains(n) && !ds.partition_columns.contains(n))
                .collect();
            if !missing.is_empty() {
                ingest.unavailable.extend(missing);
                ds = Dataset::open(paths, &ingest)?;
            }
        }
        TaskPlan::files(&ds, &profile, ingest.shard_rows)
    }

    /// The plan of data that is not a file scan, one source per Spark partition
    /// ([`TaskPlan::partitions`]), for data of `schema`.
    pub fn plan_partitions(
        &self,
        partitions: usize,
        schema: &arrow::datatypes::Schema,
        baseline: Option<&Profile>,
    ) -> Result<TaskPlan> {
        let profile = self.current_settings(baseline)?;
        TaskPlan::partitions(partitions, schema, &profile, &self.settings.ingest)
    }

    /// A saved baseline profile must have been made with the scan's label.
    pub fn check_baseline(&self, b: &Profile) -> Result<()> {
        self.check_signature(b)?;
        same_label_and_id(
            b,
            (&self.settings.profile.label, &self.settings.profile.id),
            "this scan uses",
            "re-create the profile with",
        )?;
        if let (Some(label), Some(t)) = (&b.label, self.settings.profile.label_type)
            && t != b.label_type
        {
            return Err(Error::Usage(format!(
                "the baseline profile checks the label `{label}` as {}, this scan asks for {} (--label-type)\nhint: re-create the profile with --label-type {}, or scan with --label-type {}",
                b.label_type.name(),
                t.name(),
                t.name(),
                b.label_type.name()
            )));
        }
        Ok(())
    }

    /// With a trusted key set ([`Settings::baseline_pubkey`]), the baseline profile must carry a
    /// signature by that key (a profile's own signature is verified when it is read).
    fn check_signature(&self, b: &Profile) -> Result<()> {
        let Some(path) = self.settings.baseline_pubkey() else {
            return Ok(());
        };
        let trusted = crate::keys::PublicKey::load(path)?;
        let untrusted = |reason: String, hint: &str| Error::UntrustedBaseline {
            reason: format!(
                "{reason}; the trusted key is `{}` (id {})\nhint: {hint}",
                path.display(),
                trusted.id()
            ),
        };
        match &b.signature {
            None => Err(untrusted(
                "the baseline profile is not signed".into(),
                "sign it where it is made: `poisonscan profile DATA -o PROFILE --sign-key KEY`",
            )),
            Some(s) if !s.by(&trusted) => Err(untrusted(
                format!(
                    "the baseline profile is signed by key {}, not by the trusted key",
                    s.key_id
                ),
                "a profile signed by another key is not a trusted baseline: check where it came from",
            )),
            Some(_) => Ok(()),
        }
    }

    /// Give profiles made elsewhere (read from bytes, folded from a Spark job's parts) the
    /// settings' column roles, as a scan gives its own before it fits the row models.
    pub fn prepare(&self, current: &mut Profile, baseline: Option<&mut Profile>) -> Result<()> {
        set_roles(current, self.settings, "current")?;
        if let Some(b) = baseline {
            set_roles(b, self.settings, "baseline")?;
        }
        Ok(())
    }

    /// The baseline's profile, checked against the scan's label.
    fn baseline(&self, baseline: Baseline<'_>) -> Result<Option<Profile>> {
        let mut b = match baseline {
            Baseline::None if self.settings.baseline_pubkey().is_some() => {
                return Err(no_trusted_baseline());
            }
            Baseline::None => return Ok(None),
            Baseline::Profile(b) => {
                self.check_baseline(&b)?;
                check_scopes(None, Some(&b))?;
                *b
            }
            Baseline::Data(_) if self.settings.baseline_pubkey().is_some() => {
                return Err(Error::UntrustedBaseline {
                    reason: "a baseline given as data cannot carry a signature, and a trusted key is set (--baseline-pubkey)\nhint: give the baseline as a profile signed with that key".into(),
                });
            }
            Baseline::Data(d) => self.profile_with(d, &self.settings.profile, "baseline", None)?,
        };
        set_roles(&mut b, self.settings, "baseline")?;
        Ok(Some(b))
    }

    /// Scan `current` against `baseline`: profile, row pass, checks, report. With `rows_out`
    /// the rows file is written there (complete, or not at all).
    pub fn scan(
        &self,
        current: Data<'_>,
        baseline: Baseline<'_>,
        rows_out: Option<&Path>,
    ) -> Result<Report> {
        let to = rows_out.map(RowsOut::File);
        Ok(self.scan_to(current, baseline, to)?.0)
    }

    /// [`Engine::scan`], keeping every current row's scores as the rows file has them, as Arrow
    /// batches in plan order (the rows file's schema, `poisonscan schema rows`). `None` when no
    /// row was scored: no column can be scored, or the reference has no sample.
    pub fn scan_with_rows(
        &self,
        current: Data<'_>,
        baseline: Baseline<'_>,
    ) -> Result<(Report, Option<Vec<RecordBatch>>)> {
        self.scan_to(current, baseline, Some(RowsOut::Memory))
    }

    fn scan_to(
        &self,
        current: Data<'_>,
        baseline: Baseline<'_>,
        rows_out: Option<RowsOut<'_>>,
    ) -> Result<(Report, Option<Vec<RecordBatch>>)> {
        let started = unix_now();
        let clock = Instant::now();
        let rec = self.recorder;
        let settings = self.settings;
        let baseline_data = match &baseline {
            Baseline::Data(d) => Some(*d),
            _ => None,
        };
        let mut baseline = timed(rec, "baseline", || self.baseline(baseline))?;
        // CSV blocks are parsed once: the profile keeps their batches for the row pass.
        let spill =
            (!settings.ingest.no_spill && matches!(current, Data::Paths(_))).then(Spill::new);
        let spill = spill.as_ref();
        // The current side counts, exactly, the values outside the baseline's range, and
        // takes its label type.
        let profile_current = |b: &Option<Profile>| {
            let current_settings = match b {
                Some(b) => self.against(b),
                None => settings.profile.clone(),
            };
            timed(rec, "profile", || -> Result<Profile> {
                let mut p = self.profile_with(current, &current_settings, "scan", spill)?;
                set_roles(&mut p, settings, "current")?;
                Ok(p)
            })
        };
        let current_profile = match (profile_current(&baseline), baseline_data) {
            // Auto took the baseline's label as classes (it has at most 64 values) and the
            // current data has more: both sides are checked as a numeric target.
            (Err(Error::TooManyClasses { numeric: true, .. }), Some(d))
                if settings.profile.label_type.is_none() =>
            {
                let numeric = ProfileSettings {
                    label_type: Some(LabelType::Numeric),
                    ..settings.profile.clone()
                };
                baseline = timed(rec, "baseline", || -> Result<Option<Profile>> {
                    let mut b = self.profile_with(d, &numeric, "baseline", None)?;
                    set_roles(&mut b, settings, "baseline")?;
                    Ok(Some(b))
                })?;
                profile_current(&baseline)?
            }
            (other, _) => other?,
        };
        if let Some(s) = spill {
            s.stop_recording();
        }
        let row_pass = timed(rec, "row pass", || {
            self.row_pass(
                current,
                &current_profile,
                baseline.as_ref(),
                rows_out,
                spill,
            )
        })?;
        if let Some(s) = spill.filter(|s| s.used()) {
            record(rec, "spill", s.core_seconds(), Unit::CoreSeconds, || {
                Some(s.summary())
            });
        }
        let (row_pass, rows) = match row_pass {
            Some((pass, slices, rows)) => (Some((pass, slices)), rows),
            None => (None, None),
        };
        let history = self.history_of(
            &current_profile,
            baseline.as_ref(),
            row_pass.as_ref().map(|(p, _)| p),
        )?;
        let report = self.detect(
            &current_profile,
            baseline.as_ref(),
            row_pass.as_ref().map(|(p, _)| p),
            row_pass.as_ref().and_then(|(_, s)| s.as_ref()),
            history.as_ref(),
            (started, clock),
        )?;
        Ok((report, rows))
    }

    /// The checks and the report on profiles and row counts made elsewhere: a Spark driver
    /// that merged its tasks' partial profiles (the current side made with
    /// [`Engine::profile_against`] the baseline) and row counts (scored by the models
    /// [`RowModels::fit`] on the same profiles), or a caller that scored parts itself. The same
    /// inputs give the report [`Engine::scan`] gives, apart from `run`.
    pub fn report(
        &self,
        mut current: Profile,
        mut baseline: Option<Profile>,
        rows: Option<(RowModels, crate::rows::RowCounts)>,
    ) -> Result<Report> {
        let clock = Instant::now();
        let started = unix_now();
        // The profiles are taken, not borrowed: a copy would double the row fingerprints, the
        // one part of a profile that grows with the rows. Profiles read from bytes have no
        // roles yet (they are a scan setting, not saved).
        set_roles(&mut current, self.settings, "current")?;
        if baseline.is_none() && self.settings.baseline_pubkey().is_some() {
            return Err(no_trusted_baseline());
        }
        if let Some(b) = baseline.as_mut() {
            // A baseline profiled from data elsewhere carries no signature: refused when a
            // trusted key is set, as a baseline given as data is.
            self.check_signature(b)?;
            // Both made elsewhere: their label and id must be the same columns.
            same_label_and_id(
                b,
                (&current.label, &current.id),
                "the current profile with",
                "profile both sides with",
            )?;
            set_roles(b, self.settings, "baseline")?;
        }
        check_scopes(Some(&current), baseline.as_ref())?;
        if let Some((models, counts)) = &rows {
            models.check_counts(counts, current.manifest.len(), current.rows)?;
        }
        let pool = self.pool()?;
        let row_pass = rows.map(|(models, counts)| {
            // Both samples with their flags: SLC001 searches them, incidents are measured on
            // them (scored in parallel, with the scan's threads).
            let slices = baseline.as_ref().and_then(|b| {
                pool.install(|| {
                    SliceData::build(
                        b,
                        &current,
                        &models.model,
                        models.labels.as_ref(),
                        self.settings.profile.seed,
                    )
                })
            });
            (models.into_pass(counts), slices)
        });
        let history = self.history_of(
            &current,
            baseline.as_ref(),
            row_pass.as_ref().map(|(p, _)| p),
        )?;
        self.detect(
            &current,
            baseline.as_ref(),
            row_pass.as_ref().map(|(p, _)| p),
            row_pass.as_ref().and_then(|(_, s)| s.as_ref()),
            history.as_ref(),
            (started, clock),
        )
    }

    /// The history's series, when the scan has one: the anchor is the baseline, and the
    /// anchor's slices, classes and outlier model (the row pass's) measure every night.
    fn history_of(
        &self,
        current: &Profile,
        baseline: Option<&Profile>,
        row_pass: Option<&RowPass>,
    ) -> Result<Option<crate::history::History>> {
        if self.history.is_empty() {
            return Ok(None);
        }
        let Some(anchor) = baseline else {
            return Err(Error::Usage(
                "a history needs the anchored trusted profile as the baseline (--baseline, or the first profile of --history)".into(),
            ));
        };
        let Some(pass) = row_pass else {
            return Err(Error::Usage(
                "a history is measured on the baseline's slices and row model, and this scan has none: no column can be scored (every column is the label, the id, a partition, constant or identifier-like) or the baseline has no sample".into(),
            ));
        };
        let mut h = timed(self.recorder, "history", || {
            crate::history::build(
                self.history,
                anchor,
                current,
                &pass.model,
                pass.labels.as_ref().map(|(l, _)| l),
            )
        })?;
        if let Some((_, last)) = h.last.as_mut() {
            set_roles(last, self.settings, "last accepted")?;
            check_scopes(Some(current), Some(last))?;
        }
        Ok(Some(h))
    }

    /// Run the enabled checks and build the report.
    fn detect(
        &self,
        current_profile: &Profile,
        baseline: Option<&Profile>,
        row_pass: Option<&RowPass>,
        slices: Option<&SliceData>,
        history: Option<&crate::history::History>,
        (started, clock): (u64, Instant),
    ) -> Result<Report> {
        let (rec, settings) = (self.recorder, self.settings);
        let detectors: Vec<&dyn Detector> = self
            .checks
            .iter()
            .copied()
            .filter(|d| settings.check_enabled(d.code()))
            .collect();
        let drift = baseline
            .map(|b| crate::detect::drift::column_drift(current_profile, b))
            .unwrap_or_default();
        let ctx = Context {
            current: current_profile,
            baseline,
            rows: row_pass,
            slices,
            params: &settings.params,
            drift: &drift,
            history,
        };
        // Checks that scan the fingerprints use the pool too, with `threads` workers.
        let mut report = self.pool()?.install(|| {
            let findings = timed(rec, "checks", || {
                if rec.timings() {
                    for d in &detectors {
                        timed(rec, d.code(), || std::hint::black_box(d.detect(&ctx)));
                    }
                }
                let mut findings = detect::run(&detectors, &ctx);
                if let Some((name, last)) = history.and_then(|h| h.last.as_ref()) {
                    findings = night_over_night(findings, &detectors, &ctx, name, last);
                }
                findings
            });
            timed(rec, "report", || {
                let mut findings: Vec<_> =
                    findings.into_iter().map(report::round_finding).collect();
                let allowlist =
                    crate::gate::apply_allowlist(&mut findings, &settings.allow, Date::today());
                let verdict = crate::gate::verdict(&findings, settings.fail_on, &allowlist);
                let incidents = timed(rec, "incidents", || {
                    detect::incidents::group(&mut findings, current_profile, baseline, slices)
                });
                report::build(report::ReportInput {
                    current: current_profile,
                    baseline,
                    findings,
                    incidents,
                    fail_on: settings.fail_on,
                    allowlist,
                    verdict,
                    histograms: row_pass.map(|p| &p.histograms),
                    drift: drift.iter().map(|d| d.row()).collect(),
                    run: report::Run {
                        started_at: report::rfc3339(started),
                        duration_ms: 0,
                        threads: settings.threads,
                        seed: settings.profile.seed,
                    },
                })
            })
        });
        report.run.duration_ms = clock.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// The second pass over the current rows (outlier scores, per-group counts, the rows file),
    /// with a model fitted on the baseline's sample, or on the current sample without a
    /// baseline, and the slice data SLC001 searches (with a baseline, when SLC001 is on). `None`
    /// when no column can be encoded or the reference has no sample.
    fn row_pass(
        &self,
        data: Data<'_>,
        current: &Profile,
        baseline: Option<&Profile>,
        rows_out: Option<RowsOut<'_>>,
        spill: Option<&Arc<Spill>>,
    ) -> Result<Option<RowPassOut>> {
        let rec = self.recorder;
        let seed = self.settings.profile.seed;
        self.pool()?.install(|| {
            let fits = Instant::now();
            let models = self.fit_models_here(baseline, current);
            let Some(models) = models else {
                if let Some(RowsOut::File(path)) = rows_out {
                    return Err(Error::Usage(format!(
                        "cannot write the rows file `{}`: no column can be scored (every column is the label, the id, a partition, constant or identifier-like) or the reference has no sample",
                        path.display()
                    )));
                }
                return Ok(None);
            };
            let t = Instant::now();
            let slices = baseline.and_then(|b| {
                SliceData::build(
                    b,
                    current,
                    &models.model,
                    models.labels.as_ref(),
                    seed,
                )
            });
            if let Some(s) = &slices {
                let seconds = t.elapsed().as_secs_f64();
                record(rec, "slice data", seconds, Unit::Seconds, || {
                    Some(format!("{} sample rows", s.len()))
                });
            }
            // What a scan pays before its row pass whatever the rows (issue 24's fixed cost).
            record(
                rec,
                "fits",
                fits.elapsed().as_secs_f64(),
                Unit::Seconds,
                || Some("row models and slice data".into()),
            );
            let duplicates = rows_out.map(|_| crate::rows::pass::duplicate_groups(current));
            let on_shard = || rec.advance("rows");
            let dups = duplicates.as_ref();
            let counts = match data {
                Data::Paths(paths) => {
                    let mut ds = Dataset::open(paths, &self.settings.ingest)?;
                    if let Some(spill) = spill {
                        ds = ds.with_spill(spill);
                    }
                    rec.start("rows", ds.shards.len() as u64);
                    models.score_rows(ToScore::Files(&ds), rows_out, dups, &on_shard)
                }
                Data::Batches(b) => {
                    rec.start("rows", 1);
                    let conformed = Conformed::new(b, &self.settings.ingest)?;
                    models.score_rows(ToScore::Batches(&conformed), rows_out, dups, &on_shard)
                }
            };
            rec.finish("rows");
            let out = counts?;
            let rows = matches!(rows_out, Some(RowsOut::Memory)).then_some(out.rows);
            let pass = models.into_pass(out.counts);
            let p = pass.part_seconds;
            for (part, seconds) in [
                ("label checks", pass.label_seconds),
                ("encoding", p.encode),
                ("forest", p.forest),
                ("ECOD", p.ecod),
            ] {
                let phase = format!("{part} in the row pass");
                record(rec, &phase, seconds, Unit::CoreSeconds, || None);
            }
            if pass.rows != current.rows {
                return Err(Error::Usage(format!(
                    "the input changed while it was scanned: the second pass read {} rows, the first {}\nhint: scan a snapshot of data that is not being written",
                    pass.rows, current.rows
                )));
            }
            Ok(Some((pass, slices, rows)))
        })
    }
}

/// The checks that compare tonight with the last accepted night as well as with the baseline:
/// replayed rows, schema and unit changes, whole-column and label drift, drift in one file. Not
/// the checks whose evidence is a value or class absent from the other side (a small night lacks
/// rare ones), nor those that need the baseline's row model, nor the duplicate rate (chance
/// duplicates on coarse features vary more from one small night to the next than a binomial
/// test allows; DRF005's duplicate series compares each night with the anchor at its size).
pub const NIGHT_OVER_NIGHT: [&str; 8] = [
    "INT002", "SCH001", "SCH002", "SCH005", "DRF001", "DRF002", "DRF003", "DRF004",
];

/// `findings` (against the baseline) and the night-over-night checks' findings against the
/// last accepted night that the baseline's do not already give (same code, columns, slice and
/// sources), marked with the night's name, in the order `detect::run` gives.
fn night_over_night(
    mut findings: Vec<crate::detect::Finding>,
    detectors: &[&dyn Detector],
    ctx: &Context<'_>,
    name: &str,
    last: &Profile,
) -> Vec<crate::detect::Finding> {
    let checks: Vec<&dyn Detector> = detectors
        .iter()
        .copied()
        .filter(|d| NIGHT_OVER_NIGHT.contains(&d.code()))
        .collect();
    let drift = crate::detect::drift::column_drift(ctx.current, last);
    let night = Context {
        current: ctx.current,
        baseline: Some(last),
        rows: None,
        slices: None,
        params: ctx.params,
        drift: &drift,
        history: None,
    };
    for mut f in detect::run(&checks, &night) {
        let same = |g: &crate::detect::Finding| {
            g.code == f.code
                && g.columns == f.columns
                && g.slice == f.slice
                && g.sources == f.sources
        };
        if findings.iter().any(same) {
            continue;
        }
        f.title = format!("{} (against the last accepted night, {name})", f.title);
        f.against = Some(name.to_string());
        findings.push(f);
    }
    detect::order(&mut findings);
    findings
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Merge profiles of disjoint parts of one dataset, in the order given, into the profile of the
/// whole (`profile(A ∪ B) == merge(profile(A), profile(B))`; see the README for what is exact).
pub fn merge(profiles: impl IntoIterator<Item = Profile>) -> Result<Profile> {
    let mut it = profiles.into_iter();
    let Some(mut merged) = it.next() else {
        return Err(Error::Usage("merge needs at least one profile".into()));
    };
    for (i, next) in it.enumerate() {
        merged.merge(&next).map_err(|e| match e {
            Error::ProfileMismatch { reason } => Error::ProfileMismatch {
                reason: format!("profile {} of the list: {reason}", i + 2),
            },
            other => other,
        })?;
    }
    Ok(merged)
}

/// The baseline profile's label and id must be the current side's (`ours`): they are not
/// features, so a column that is one of them on one side only would be left out of every
/// comparison, silently. `said` introduces the current side's setting, `fix` the hint.
fn same_label_and_id(
    b: &Profile,
    ours: (&Option<String>, &Option<String>),
    said: &str,
    fix: &str,
) -> Result<()> {
    for (flag, theirs, ours) in [("--label", &b.label, ours.0), ("--id", &b.id, ours.1)] {
        if theirs != ours {
            return Err(Error::Usage(format!(
                "the baseline profile was made with {}, {said} {}\nhint: {fix} the same {flag}",
                crate::profile::flag_value(flag, theirs),
                crate::profile::flag_value(flag, ours)
            )));
        }
    }
    Ok(())
}

/// A column named on the command line that one side of a scan lacks: the error says which side
/// and which inputs (the two sides of a scan are often different folders, or a folder and a
/// saved profile).
fn name_the_side(e: Error, stage: &str, data: Data<'_>) -> Error {
    match e {
        Error::UnknownColumn {
            flag,
            column,
            within,
            available,
        } if within.is_empty() => {
            let side = if stage == "baseline" {
                "the baseline"
            } else {
                "the data"
            };
            let inputs = match data {
                Data::Paths(paths) => {
                    let mut shown: Vec<String> = paths
                        .iter()
                        .take(3)
                        .map(|p| format!("`{}`", p.display()))
                        .collect();
                    if paths.len() > 3 {
                        shown.push(format!("{} more", paths.len() - 3));
                    }
                    shown.join(", ")
                }
                Data::Batches(_) => "batches given in memory".to_string(),
            };
            Error::UnknownColumn {
                flag,
                column,
                within: format!(" in {side} ({inputs})"),
                available,
            }
        }
        e => e,
    }
}

/// Check the settings' column roles against the data and give them to a profile.
fn set_roles(p: &mut Profile, settings: &Settings, what: &str) -> Result<()> {
    use crate::ingest::ColumnType;
    for (name, role) in &settings.roles {
        let path = settings.config_path.clone().unwrap_or_default();
        let bad = |reason: String| Error::BadConfig {
            path: path.clone(),
            reason,
        };
        let Some(c) = p.column(name) else {
            return Err(bad(format!(
                "[roles] {name}: the {what} data has no column `{name}` (or it was left out by columns/exclude)"
            )));
        };
        let ok = match role {
            Role::Numeric => matches!(
                c.column_type,
                ColumnType::Int | ColumnType::Float | ColumnType::Timestamp
            ),
            Role::Categorical => matches!(
                c.column_type,
                ColumnType::Int | ColumnType::String | ColumnType::Bool
            ),
            _ => true,
        };
        if !ok {
            return Err(bad(format!(
                "[roles] {name} = \"{}\": `{name}` holds {} values, which cannot be {}",
                role.name(),
                c.column_type.name(),
                role.name()
            )));
        }
        if matches!(p.role(c), Role::Label | Role::Id | Role::Partition) {
            return Err(bad(format!(
                "[roles] {name}: `{name}` is the {} column; its role is not set in [roles]",
                p.role(c).name()
            )));
        }
    }
    p.role_overrides = settings.roles.clone();
    Ok(())
}

/// The `[min, max]` of the finite values of each numeric column of a profile.
pub fn reference_ranges(p: &Profile) -> std::collections::BTreeMap<String, (f64, f64)> {
    p.columns
        .iter()
        .filter_map(|c| {
            let n = c.numeric.as_ref()?;
            Some((c.name.clone(), (n.min?, n.max?)))
        })
        .collect()
}

/// A trusted key is set and no baseline given: the scan would compare nothing with a trusted
/// baseline, and pass.
fn no_trusted_baseline() -> Error {
    Error::UntrustedBaseline {
        reason: "a trusted key is set (--baseline-pubkey) but no baseline was given: nothing would be compared with a trusted baseline\nhint: give --baseline PROFILE, signed with that key".into(),
    }
}

/// Profiles whose fingerprints were kept apart ([`FingerprintScope::Repeated`]) give the
/// duplicate and replay checks the answer every row's fingerprints give only when both sides'
/// were found together (`joined`): a scan against such a baseline must group its fingerprints
/// with the current side's, which `poisonscan.spark.scan` does given the baseline's
/// fingerprints. `current: None` checks a baseline before the current side is profiled.
fn check_scopes(current: Option<&Profile>, baseline: Option<&Profile>) -> Result<()> {
    let joined = |p: &Profile| match p.fingerprint_scope {
        FingerprintScope::All => None,
        FingerprintScope::Repeated { joined, .. } => Some(joined),
    };
    let Some(b) = baseline else {
        return Ok(());
    };
    let apart = "holds only its duplicated rows' fingerprints (it was made by poisonscan.spark with fingerprints=\"spark\"), and rows of the current data that repeat a row of it would be missed";
    match (current.map(joined), joined(b)) {
        (None, Some(_)) | (_, Some(false)) => Err(Error::Usage(format!(
            "the baseline profile {apart}\nhint: scan against it with poisonscan.spark.scan(..., baseline_fingerprints=WHERE_THEY_WERE_WRITTEN), or profile the baseline with fingerprints=\"driver\""
        ))),
        (Some(Some(false)), _) | (Some(None), Some(true)) => Err(Error::Usage(format!(
            "the current profile's and the baseline's fingerprints were not found together: one {apart}"
        ))),
        _ => Ok(()),
    }
}
