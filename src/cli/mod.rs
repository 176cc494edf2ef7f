//! The command line, as a library function: [`main`] parses the arguments, builds
//! [`Settings`], calls the library, prints, and returns the exit code (0 gate passed, 1 gate
//! failed, 2 the run could not complete). The `poisonscan` binary and the Python package's
//! `poisonscan` command both call it, so they are one command with one set of exit codes.
//!
//! Only with the `cli` feature (clap, the progress bars).

mod args;
mod trust;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use self::args::{Cli, Command, OutputFormat, ScanArgs};
use crate::gate::{Verdict, gate};
use crate::recorder::{Recorder, Timing};
use crate::report::{self, Report};
use crate::{Baseline, Data, Engine, Error, Result, Settings, detect, profile};

/// Run the command line `args` (the first is the program's name) and return its exit code.
/// Usage errors and `--help`/`--version` print as clap prints them (exit codes 2 and 0); it
/// never exits the process itself, so a host process (Python) keeps control.
pub fn main<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    // Under the command line's allocator, a failed allocation is an error (exit code 2), for
    // this run only.
    let _armed = crate::oom::arm();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let code = match run(&cli, &mut out) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    };
    let _ = out.flush();
    code
}

/// Timings on stderr under `POISONSCAN_TIMINGS`, the kNN recall under `POISONSCAN_KNN_RECALL`,
/// and a progress bar per pass when stderr is a terminal.
struct Terminal {
    timings: bool,
    knn_recall: bool,
    quiet: bool,
    bar: std::sync::Mutex<Option<ProgressBar>>,
}

impl Terminal {
    fn new(quiet: bool) -> Terminal {
        Terminal {
            timings: std::env::var_os("POISONSCAN_TIMINGS").is_some(),
            knn_recall: std::env::var_os("POISONSCAN_KNN_RECALL").is_some(),
            quiet: quiet || !std::io::stderr().is_terminal(),
            bar: std::sync::Mutex::new(None),
        }
    }

    fn bar(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        self.bar.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Recorder for Terminal {
    fn timings(&self) -> bool {
        self.timings
    }
    fn timing(&self, t: &Timing) {
        eprintln!("timing: {t}");
    }
    fn start(&self, stage: &str, units: u64) {
        if self.quiet {
            return;
        }
        let bar = ProgressBar::new(units);
        bar.set_style(
            ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} shards, {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(stage.to_string());
        *self.bar() = Some(bar);
    }
    fn advance(&self, _stage: &str) {
        if let Some(b) = self.bar().as_ref() {
            b.inc(1);
        }
    }
    fn finish(&self, _stage: &str) {
        if let Some(b) = self.bar().take() {
            b.finish_and_clear();
        }
    }
    fn diagnostic(&self, name: &str) -> bool {
        name == "knn-recall" && self.knn_recall
    }
    fn note(&self, line: &str) {
        eprintln!("{line}");
    }
}

/// Run a parsed command line. Returns the exit code (0 or 1); errors are exit code 2.
fn run(cli: &Cli, out: &mut dyn Write) -> Result<i32> {
    match &cli.command {
        Command::Scan(args) => scan(args, out),
        Command::Profile(args) => {
            let settings = args.data_args.settings(None)?;
            tell_notes(&settings);
            if args.data_args.show_settings {
                return show_settings(&settings, out);
            }
            let Some(output) = &args.output else {
                return Err(Error::Usage("profile needs -o PROFILE".into()));
            };
            let others = other_inputs(&settings, args.sign_key.as_deref());
            refuse_overwriting(&[output], &[&args.data, &others])?;
            // The key is read before the data: a bad key fails at once.
            let key = trust::load_key(args.sign_key.as_deref())?;
            let term = Terminal::new(args.data_args.quiet);
            let p = Engine::new(&settings)
                .with_recorder(&term)
                .profile(Data::Paths(&args.data))?;
            let signed = trust::save(&p, output, key.as_ref(), &settings)?;
            tell_fetched(args.data_args.quiet);
            if !args.data_args.quiet {
                eprintln!(
                    "profiled {} rows × {} columns from {} files into `{}`{}",
                    p.rows,
                    p.columns.len(),
                    p.manifest.len(),
                    output.display(),
                    signed.map_or(String::new(), |id| format!(", signed with key {id}"))
                );
            }
            Ok(0)
        }
        Command::Merge(args) => {
            args.storage.apply();
            refuse_overwriting(&[&args.output], &[&args.profiles])?;
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
            args.storage.apply();
            use crate::trend;
            let t = trend::trend(&args.profiles, args.reference.as_deref(), &args.columns)?;
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
                args::TrendFormat::Text => trend::write_text(&t, out),
                args::TrendFormat::Markdown => trend::write_markdown(&t, out),
                args::TrendFormat::Json => out.write_all(trend::to_json(&t).as_bytes()),
            };
            stdout_result(written)?;
            Ok(0)
        }
        Command::Show(args) => {
            args.storage.apply();
            trust::show(args, out)
        }
        Command::Verify(args) => {
            args.storage.apply();
            trust::verify(args, out)
        }
        Command::Keygen(args) => trust::keygen(args, out),
        Command::Schema(args) => {
            let text = match args.kind {
                args::SchemaKind::Report => report::REPORT_SCHEMA,
                args::SchemaKind::Rows => report::ROWS_SCHEMA,
            };
            stdout_result(out.write_all(text.as_bytes()))?;
            Ok(0)
        }
        Command::Explain(args) => match detect::find(&args.code, &[]) {
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
                    .map(|d| d.code().to_string())
                    .collect();
                Err(Error::Usage(format!(
                    "unknown check code `{}`\nhint: the codes are {}",
                    args.code,
                    known.join(", ")
                )))
            }
        },
    }
}

fn show_settings(settings: &Settings, out: &mut dyn Write) -> Result<i32> {
    let text = settings.to_toml(&detect::registry());
    stdout_result(out.write_all(text.as_bytes()))?;
    Ok(0)
}

/// What the settings changed from what was asked, on stderr (even with `--quiet`: the run
/// is not the one asked for).
fn tell_notes(settings: &Settings) {
    for n in settings.notes() {
        eprintln!("note: {n}");
    }
}

/// What the run fetched from object storage, if anything (the bytes against the objects'
/// sizes show what column projection saved).
fn tell_fetched(quiet: bool) {
    let (requests, bytes) = crate::ingest::fetched();
    if !quiet && requests > 0 {
        eprintln!(
            "poisonscan: fetched {:.1} MiB in {requests} requests from object storage",
            bytes as f64 / (1u64 << 20) as f64
        );
    }
}

fn scan(args: &ScanArgs, out: &mut dyn Write) -> Result<i32> {
    let settings = args.data_args.settings(Some(args))?;
    tell_notes(&settings);
    if args.data_args.show_settings {
        return show_settings(&settings, out);
    }
    let out_files: Vec<PathBuf> = match &args.out {
        Some(dir) => OUT_FILES.iter().map(|(name, _)| dir.join(name)).collect(),
        None => Vec::new(),
    };
    let outputs: Vec<&Path> = out_files
        .iter()
        .map(PathBuf::as_path)
        .chain(args.rows_out.as_deref())
        .chain(args.attest.as_deref())
        .collect();
    let others = other_inputs(&settings, args.sign_key.as_deref());
    // The accepted nights, oldest first; without --baseline the oldest is the anchor.
    let mut history = crate::history::resolve(&args.history)?;
    let baseline_paths: Vec<PathBuf> = if args.baseline.is_empty() && !history.is_empty() {
        vec![history.remove(0)]
    } else {
        args.baseline.clone()
    };
    refuse_overwriting(&outputs, &[&args.data, &baseline_paths, &history, &others])?;
    // The signing key is read before the data: a bad key fails at once.
    let key = trust::load_key(args.sign_key.as_deref())?;
    let quiet = args.data_args.quiet;
    let term = Terminal::new(quiet);
    let engine = Engine::new(&settings)
        .with_recorder(&term)
        .with_history(&history);
    let baseline = Baseline::from_paths(&baseline_paths)?;
    let report = engine.scan(Data::Paths(&args.data), baseline, args.rows_out.as_deref())?;
    if !quiet {
        for a in report.allowlist.iter().filter(|a| a.status == "expired") {
            eprintln!("poisonscan: {}", crate::gate::expired_message(a));
        }
    }
    let mut files = Vec::with_capacity(OUT_FILES.len() + 1);
    if let Some(dir) = &args.out {
        // A URL's objects need no folder.
        if !crate::storage::is_url(&dir.to_string_lossy()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
        }
        for (path, (_, format)) in out_files.into_iter().zip(OUT_FILES) {
            let mut bytes = Vec::new();
            render(&report, &settings, format, &mut bytes).map_err(|e| Error::write(&path, e))?;
            files.push((path, bytes));
        }
    }
    if let (Some(path), Some(key)) = (&args.attest, &key) {
        files.push((path.clone(), trust::attestation(&report, &settings, key)?));
    }
    // The reports and the attestation: all or none.
    crate::output::write_all(&files)?;
    tell_fetched(quiet);
    stdout_result(render(&report, &settings, args.format, out))?;
    let verdict: Verdict = gate(&report, &settings.policy());
    Ok(verdict.exit_code())
}

fn render(
    report: &Report,
    settings: &Settings,
    format: OutputFormat,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        OutputFormat::Json => w.write_all(report::to_json(report).as_bytes()),
        OutputFormat::Text => report::write_text(report, w),
        OutputFormat::Markdown => report::write_markdown(report, w),
        OutputFormat::Html => report::write_html(report, w),
        OutputFormat::Junit => report::write_junit(
            report,
            &detect::check_names(&detect::registry()),
            settings.disabled_checks(),
            settings.fail_on(),
            w,
        ),
    }
}

/// The files `--out DIR` writes.
const OUT_FILES: [(&str, OutputFormat); 4] = [
    ("report.json", OutputFormat::Json),
    ("report.md", OutputFormat::Markdown),
    ("report.html", OutputFormat::Html),
    ("junit.xml", OutputFormat::Junit),
];

/// The files a run reads besides its data: the config file and the keys.
fn other_inputs(settings: &Settings, sign_key: Option<&Path>) -> Vec<PathBuf> {
    [settings.config_path(), settings.baseline_pubkey(), sign_key]
        .into_iter()
        .flatten()
        .map(Path::to_path_buf)
        .collect()
}

/// Refuse, before anything is read, to write an output over one of the inputs: each input
/// as the files it names (a folder's or a glob's files), or as given when it names none yet
/// (the run then fails on it anyway).
fn refuse_overwriting(outputs: &[&Path], inputs: &[&[PathBuf]]) -> Result<()> {
    let mut files = Vec::new();
    for input in inputs.iter().flat_map(|i| i.iter()) {
        // A URL is compared as written: listing it would need its storage options.
        if crate::storage::is_url(&input.to_string_lossy()) {
            files.push(input.clone());
            continue;
        }
        match crate::ingest::resolve(std::slice::from_ref(input)) {
            Ok(found) => files.extend(found.into_iter().map(|r| r.path)),
            Err(_) => files.push(input.clone()),
        }
    }
    crate::output::check_not_inputs(outputs, &files)?;
    // A data file (a rows file) written inside an input folder would be read as data by the
    // next run on that folder, which then fails on its columns (a URL under an input prefix is
    // refused by `check_not_inputs`). A hidden name (`_rows.parquet`) is never read.
    for out in outputs {
        let text = out.to_string_lossy();
        if crate::storage::is_url(&text) || crate::ingest::format_of(out).is_none() {
            continue;
        }
        let Some(o) = crate::output::resolve_path(out) else {
            continue;
        };
        for dir in inputs.iter().flat_map(|i| i.iter()).filter(|i| i.is_dir()) {
            let Ok(d) = dir.canonicalize() else { continue };
            let Ok(inside) = o.strip_prefix(&d) else {
                continue;
            };
            let hidden = inside
                .components()
                .any(|c| crate::storage::is_hidden(&c.as_os_str().to_string_lossy()));
            if !hidden {
                return Err(Error::Usage(format!(
                    "the output `{}` is a data file inside the input folder `{}`: the next run on that folder would read it as data\nhint: write it elsewhere, or give it a name that starts with `_` or `.`",
                    out.display(),
                    dir.display()
                )));
            }
        }
        let globs = inputs
            .iter()
            .flat_map(|i| i.iter())
            .filter(|i| i.to_string_lossy().contains(['*', '?', '[']));
        for pattern in globs {
            if glob_would_take(pattern, out) {
                return Err(Error::Usage(format!(
                    "the output `{}` is a data file the input pattern `{}` matches: the next run with that pattern would read it as data\nhint: write it elsewhere, or give it a name that starts with `_` or `.`",
                    out.display(),
                    pattern.display()
                )));
            }
        }
    }
    Ok(())
}

/// Whether the local glob `pattern` would list the data file `out` (or a folder holding it)
/// on a later run, as `ingest::resolve` walks it. The pattern's literal folder and the
/// output's folder are compared resolved (links and `..`), the wildcard part is matched
/// against the rest of the output's path with `*` not crossing a `/`, and a hidden name (`_`,
/// `.`) there is skipped, as the walk skips it, unless the pattern has a hidden component of its
/// own. The output exists nowhere yet, so the pattern is matched rather than listed.
fn glob_would_take(pattern: &Path, out: &Path) -> bool {
    use std::path::Component;
    let wild = |c: &Component<'_>| c.as_os_str().to_string_lossy().contains(['*', '?', '[']);
    let components: Vec<Component<'_>> = pattern.components().collect();
    let first = components.iter().position(wild).unwrap_or(components.len());
    let literal: PathBuf = components[..first].iter().collect();
    let rest: PathBuf = components[first..].iter().collect();
    if rest.as_os_str().is_empty() {
        return false;
    }
    let literal = if literal.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        literal
    };
    let absolute = |p: &Path| std::path::absolute(p).ok();
    let (Some(literal), Some(out)) = (
        literal.canonicalize().ok().or_else(|| absolute(&literal)),
        crate::output::resolve_path(out).or_else(|| absolute(out)),
    ) else {
        return false;
    };
    let Ok(below) = out.strip_prefix(&literal) else {
        return false;
    };
    let Ok(compiled) = glob::Pattern::new(&rest.to_string_lossy()) else {
        return false;
    };
    let hidden = |p: &Path| {
        p.components()
            .any(|c| crate::storage::is_hidden(&c.as_os_str().to_string_lossy()))
    };
    if !hidden(&rest) && hidden(below) {
        return false;
    }
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    // The file itself, or a folder above it (a pattern such as `data/*/` names folders, whose
    // files are all read).
    below
        .ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .any(|a| compiled.matches_path_with(a, options))
}

/// A closed stdout (`poisonscan … | head`) is not an error.
fn stdout_result(r: std::io::Result<()>) -> Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::write("<stdout>", e)),
        Ok(()) => Ok(()),
    }
}
