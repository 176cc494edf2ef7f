//! What each command does, as library calls: profile the inputs (or load a profile), run the
//! detectors, build the report, write it, and decide the exit code.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{Cli, Command, OutputFormat, ScanArgs};
use crate::config::{Config, Date};
use crate::detect::{self, Context, Detector};
use crate::error::{Error, Result};
use crate::gate;
use crate::gate::FailOn;
use crate::ingest::Dataset;
use crate::profile::{self, Profile};
use crate::report::{self, Report};
use crate::settings::{self, BaselineSource, DataSettings};

/// Read and profile `inputs` on a pool of `settings.threads` threads.
pub fn profile_inputs(inputs: &[PathBuf], settings: &DataSettings, what: &str) -> Result<Profile> {
    let pool = thread_pool(settings.threads)?;
    pool.install(|| {
        let ds = Dataset::open(inputs, &settings.ingest)?;
        let bar = progress_bar(&ds, settings.quiet, what);
        let on_shard = |_rows: u64| bar.inc(1);
        let p = profile::profile_dataset(&ds, &settings.profile, &on_shard);
        bar.finish_and_clear();
        p
    })
}

fn progress_bar(ds: &Dataset, quiet: bool, what: &str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(ds.shards.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} shards, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// Profile (or load) the baseline with the current side's settings.
fn baseline_profile(source: &BaselineSource, settings: &DataSettings) -> Result<Option<Profile>> {
    match source {
        BaselineSource::None => Ok(None),
        BaselineSource::Profile(p) => {
            let b = profile::load(p)?;
            if b.label != settings.profile.label {
                let name = |l: &Option<String>| match l {
                    Some(l) => format!("--label {l}"),
                    None => "no --label".to_string(),
                };
                return Err(Error::Usage(format!(
                    "the baseline profile `{}` was made with {}, this scan uses {}\nhint: re-create the profile with the same --label",
                    p.display(),
                    name(&b.label),
                    name(&settings.profile.label)
                )));
            }
            Ok(Some(b))
        }
        BaselineSource::Data(paths) => Ok(Some(profile_inputs(paths, settings, "baseline")?)),
    }
}

/// Every check: the registry's, then `extra` (tests use it).
fn all_checks(extra: &[&'static dyn Detector]) -> Vec<&'static dyn Detector> {
    detect::registry()
        .into_iter()
        .chain(extra.iter().copied())
        .collect()
}

/// Check the config file's column roles against the data and give them to a profile.
fn set_roles(p: &mut Profile, config: &Config, what: &str) -> Result<()> {
    use crate::ingest::ColumnType;
    use crate::profile::Role;
    for (name, role) in &config.roles {
        let path = config.path.clone().unwrap_or_default();
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
        if p.role(c) == Role::Label || p.role(c) == Role::Id || p.role(c) == Role::Partition {
            return Err(bad(format!(
                "[roles] {name}: `{name}` is the {} column; its role is not set in [roles]",
                p.role(c).name()
            )));
        }
    }
    p.role_overrides = config.roles.clone();
    Ok(())
}

/// The gate's level: the flag, else the config file's, else high.
fn fail_on(args: &ScanArgs, config: &Config) -> FailOn {
    args.fail_on.or(config.fail_on).unwrap_or(FailOn::High)
}

/// Run a scan and build its report. `extra` detectors run after the registry's (tests use it).
pub fn scan(args: &ScanArgs, extra: &[&'static dyn Detector]) -> Result<Report> {
    let checks = all_checks(extra);
    let config = settings::load_config(&args.data_args, &checks)?;
    scan_with(args, &config, &checks)
}

fn scan_with(args: &ScanArgs, config: &Config, checks: &[&'static dyn Detector]) -> Result<Report> {
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let clock = Instant::now();
    let settings = DataSettings::resolve(&args.data_args, config)?;
    let fail_on = fail_on(args, config);
    let baseline_source = BaselineSource::resolve(&args.baseline)?;
    let timings = std::env::var_os("POISONSCAN_TIMINGS").is_some();
    let phase = |name: &str, t: Instant| {
        if timings {
            eprintln!("timing: {name} {:.3} s", t.elapsed().as_secs_f64());
        }
    };
    let t = Instant::now();
    let mut baseline = baseline_profile(&baseline_source, &settings)?;
    if let Some(b) = baseline.as_mut() {
        set_roles(b, config, "baseline")?;
    }
    phase("baseline", t);
    // The current side counts, exactly, the values outside the baseline's range.
    let mut current_settings = settings.clone();
    if let Some(b) = &baseline {
        current_settings.profile.reference_ranges = reference_ranges(b);
    }
    let t = Instant::now();
    let mut current = profile_inputs(&args.data, &current_settings, "scan")?;
    set_roles(&mut current, config, "current")?;
    phase("profile", t);
    let t = Instant::now();
    let row_pass = row_pass(args, &settings, &current, baseline.as_ref())?;
    phase("row pass", t);
    let detectors: Vec<&dyn Detector> = checks
        .iter()
        .copied()
        .filter(|d| !config.disabled.contains(d.code()))
        .collect();
    let ctx = Context {
        current: &current,
        baseline: baseline.as_ref(),
        rows: row_pass.as_ref(),
        params: &config.params,
    };
    // Checks that scan the fingerprints use the pool too, with `--threads` workers.
    let pool = thread_pool(settings.threads)?;
    let report = pool.install(|| {
        let t = Instant::now();
        if timings {
            for d in &detectors {
                let t = Instant::now();
                std::hint::black_box(d.detect(&ctx));
                phase(d.code(), t);
            }
        }
        let findings = detect::run(&detectors, &ctx);
        phase("checks", t);
        let t = Instant::now();
        let r = report::build(report::ReportInput {
            current: &current,
            baseline: baseline.as_ref(),
            findings,
            fail_on,
            allow: &config.allow,
            today: Date::today(),
            histograms: row_pass.as_ref().map(|p| &p.histograms),
            run: report::Run {
                started_at: report::rfc3339(started),
                duration_ms: 0,
                threads: settings.threads,
                seed: settings.profile.seed,
            },
        });
        phase("report", t);
        r
    });
    let mut report = report;
    report.run.duration_ms = clock.elapsed().as_millis() as u64;
    if !settings.quiet {
        for a in report.allowlist.iter().filter(|a| a.status == "expired") {
            eprintln!("poisonscan: {}", gate::expired_message(a));
        }
    }
    Ok(report)
}

/// The second pass over the current rows (outlier scores, per-group counts, the rows file),
/// with a model fitted on the baseline's sample, or on the current sample without a baseline.
/// `None` when no column can be encoded or the reference has no sample.
fn row_pass(
    args: &ScanArgs,
    settings: &DataSettings,
    current: &Profile,
    baseline: Option<&Profile>,
) -> Result<Option<crate::rows::pass::RowPass>> {
    let pool = thread_pool(settings.threads)?;
    pool.install(|| {
        let reference = baseline.unwrap_or(current);
        let t = Instant::now();
        let model = crate::rows::pass::RowModel::fit(reference, current, settings.profile.seed);
        if std::env::var_os("POISONSCAN_TIMINGS").is_some() {
            eprintln!("timing: row model fit {:.3} s", t.elapsed().as_secs_f64());
        }
        let Some(model) = model else {
            if let Some(path) = &args.rows_out {
                return Err(Error::Usage(format!(
                    "cannot write the rows file `{}`: no column can be scored (every column is the label, the id, a partition, constant or identifier-like) or the reference has no sample",
                    path.display()
                )));
            }
            return Ok(None);
        };
        let t = Instant::now();
        let labels = crate::rows::labels::LabelModel::fit(
            baseline,
            current,
            &model.encoder,
            settings.profile.seed,
        );
        if std::env::var_os("POISONSCAN_TIMINGS").is_some() {
            eprintln!(
                "timing: label model fit {:.3} s ({} candidate rules)",
                t.elapsed().as_secs_f64(),
                labels.as_ref().map_or(0, |l| l.rules.len())
            );
        }
        let t = Instant::now();
        let slices = baseline.and_then(|b| {
            crate::rows::slices::SliceData::build(
                b,
                current,
                &model,
                labels.as_ref(),
                settings.profile.seed,
            )
        });
        if std::env::var_os("POISONSCAN_TIMINGS").is_some() {
            eprintln!(
                "timing: slice data {:.3} s ({} sample rows)",
                t.elapsed().as_secs_f64(),
                slices.as_ref().map_or(0, |s| s.len()),
            );
        }
        let ds = Dataset::open(&args.data, &settings.ingest)?;
        let bar = progress_bar(&ds, settings.quiet, "rows");
        let pass = crate::rows::pass::run(
            &ds,
            current,
            model,
            labels,
            &crate::rows::pass::PassSettings {
                profile: &settings.profile,
                rows_out: args.rows_out.as_deref(),
                on_shard: &|| bar.inc(1),
            },
        );
        bar.finish_and_clear();
        let mut pass = pass?;
        pass.slices = slices;
        if std::env::var_os("POISONSCAN_TIMINGS").is_some() {
            eprintln!(
                "timing: label checks in the row pass {:.3} core-s",
                pass.label_seconds
            );
            let p = pass.part_seconds;
            let parts = [("encoding", p.encode), ("forest", p.forest), ("ECOD", p.ecod)];
            for (part, seconds) in parts {
                eprintln!("timing: {part} in the row pass {seconds:.3} core-s");
            }
        }
        if pass.rows != current.rows {
            return Err(Error::Usage(format!(
                "the input changed while it was scanned: the second pass read {} rows, the first {}\nhint: scan a snapshot of data that is not being written",
                pass.rows, current.rows
            )));
        }
        Ok(Some(pass))
    })
}

fn thread_pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Internal(format!("cannot start threads: {e}")))
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

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::write(path, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::write(path, e))
}

/// Run a parsed command line. Returns the exit code (0 or 1); errors are exit code 2.
pub fn run(cli: &Cli, extra: &[&'static dyn Detector], out: &mut dyn Write) -> Result<i32> {
    match &cli.command {
        Command::Scan(args) => {
            let checks = all_checks(extra);
            let config = settings::load_config(&args.data_args, &checks)?;
            if args.data_args.show_settings {
                let data = DataSettings::resolve(&args.data_args, &config)?;
                let fail_on = fail_on(args, &config);
                stdout_result(
                    out.write_all(crate::config::show(&config, &data, fail_on, &checks).as_bytes()),
                )?;
                return Ok(0);
            }
            let report = scan_with(args, &config, &checks)?;
            let fail_on = fail_on(args, &config);
            let render = |format: OutputFormat, w: &mut dyn Write| match format {
                OutputFormat::Json => w.write_all(report::to_json(&report).as_bytes()),
                OutputFormat::Text => report::write_text(&report, w),
                OutputFormat::Markdown => report::write_markdown(&report, w),
                OutputFormat::Html => report::write_html(&report, w),
                OutputFormat::Junit => {
                    report::write_junit(&report, &checks, &config.disabled, fail_on, w)
                }
            };
            if let Some(dir) = &args.out {
                std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
                for (name, format) in [
                    ("report.json", OutputFormat::Json),
                    ("report.md", OutputFormat::Markdown),
                    ("report.html", OutputFormat::Html),
                    ("junit.xml", OutputFormat::Junit),
                ] {
                    let mut bytes = Vec::new();
                    render(format, &mut bytes).map_err(|e| Error::write(dir.join(name), e))?;
                    write_atomic(&dir.join(name), &bytes)?;
                }
            }
            let written = render(args.format, out);
            stdout_result(written)?;
            Ok(if report.verdict == "fail" { 1 } else { 0 })
        }
        Command::Profile(args) => {
            let checks = all_checks(extra);
            let config = settings::load_config(&args.data_args, &checks)?;
            let settings = DataSettings::resolve(&args.data_args, &config)?;
            if args.data_args.show_settings {
                let fail_on = config.fail_on.unwrap_or(FailOn::High);
                stdout_result(out.write_all(
                    crate::config::show(&config, &settings, fail_on, &checks).as_bytes(),
                ))?;
                return Ok(0);
            }
            let Some(output) = &args.output else {
                return Err(Error::Usage("profile needs -o PROFILE".into()));
            };
            let mut p = profile_inputs(&args.data, &settings, "profile")?;
            // Roles are checked here so that a profile is never made with a config that fails.
            set_roles(&mut p, &config, "profiled")?;
            profile::save(&p, output)?;
            if !settings.quiet {
                eprintln!(
                    "profiled {} rows × {} columns from {} files into `{}`",
                    p.rows,
                    p.columns.len(),
                    p.manifest.len(),
                    output.display()
                );
            }
            Ok(0)
        }
        Command::Merge(args) => {
            let mut merged = profile::load(&args.profiles[0])?;
            for path in &args.profiles[1..] {
                let next = profile::load(path)?;
                merged.merge(&next).map_err(|e| match e {
                    Error::ProfileMismatch { reason } => Error::ProfileMismatch {
                        reason: format!("`{}`: {reason}", path.display()),
                    },
                    other => other,
                })?;
            }
            profile::save(&merged, &args.output)?;
            if !args.quiet {
                eprintln!(
                    "merged {} profiles ({} rows) into `{}`",
                    args.profiles.len(),
                    merged.rows,
                    args.output.display()
                );
            }
            Ok(0)
        }
        Command::Trend(args) => {
            let t = crate::trend::trend(&args.profiles, args.reference.as_deref(), &args.columns)?;
            if let Some(missing) = args
                .columns
                .iter()
                .find(|c| !t.columns.iter().any(|x| &x.name == *c))
            {
                return Err(Error::Usage(format!(
                    "--columns: no profile has a column `{missing}` (label and id columns are not trended)"
                )));
            }
            let written = match args.format {
                crate::cli::TrendFormat::Text => crate::trend::write_text(&t, out),
                crate::cli::TrendFormat::Markdown => crate::trend::write_markdown(&t, out),
                crate::cli::TrendFormat::Json => {
                    out.write_all(crate::trend::to_json(&t).as_bytes())
                }
            };
            stdout_result(written)?;
            Ok(0)
        }
        Command::Schema(args) => {
            let text = match args.kind {
                crate::cli::SchemaKind::Report => crate::report::REPORT_SCHEMA,
                crate::cli::SchemaKind::Rows => crate::report::ROWS_SCHEMA,
            };
            stdout_result(out.write_all(text.as_bytes()))?;
            Ok(0)
        }
        Command::Explain(args) => match detect::find(&args.code, extra) {
            Some(d) => {
                stdout_result(writeln!(
                    out,
                    "{} ({})\n\n{}",
                    d.code(),
                    d.check(),
                    d.doc().trim()
                ))?;
                Ok(0)
            }
            None => {
                let known: Vec<String> = detect::registry()
                    .iter()
                    .chain(extra.iter())
                    .map(|d| d.code().to_string())
                    .collect();
                Err(Error::Usage(format!(
                    "unknown check code `{}`{}",
                    args.code,
                    if known.is_empty() {
                        String::new()
                    } else {
                        format!("\nhint: the codes are {}", known.join(", "))
                    }
                )))
            }
        },
    }
}

/// A closed stdout (`poisonscan … | head`) is not an error.
fn stdout_result(r: std::io::Result<()>) -> Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::write("<stdout>", e)),
        Ok(()) => Ok(()),
    }
}
