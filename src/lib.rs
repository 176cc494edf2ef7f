//! poisonscan audits a tabular training set (Parquet or CSV, or Arrow batches in memory) before a
//! model is retrained on it: it profiles the data in one parallel, bounded-memory pass, compares
//! it with a trusted baseline, and reports which slices look poisoned, tampered with or drifted.
//!
//! The data flow, module by module: [`ingest`] reads files into Arrow batches with provenance,
//! [`profile`] builds mergeable profiles, [`rows`] fits the row models and scores every row,
//! [`detect`] turns profiles and row counts into findings, [`slice`](mod@slice) finds the slices that best
//! explain what changed (for SLC001, a detector), [`report`] holds the report model and its
//! writers, [`gate`] turns a report into a verdict and an exit code. [`Engine`] runs the
//! steps with [`Settings`], the only input besides the data; the command line, the Python package
//! and Spark tasks are callers of this API.
//!
//! ```
//! use poisonscan::{Baseline, Data, Engine, Settings};
//! use poisonscan::gate::{FailOn, gate};
//! use std::path::PathBuf;
//!
//! let settings = Settings::builder()
//!     .label("label")
//!     .id("customer_id")
//!     .fail_on(FailOn::High)
//!     .build()?;
//! let engine = Engine::new(&settings);
//! // The trusted side once, as a profile (saved with `profile::save`, or as bytes).
//! let trusted = engine.profile(Data::Paths(&[PathBuf::from("datasets/demo/baseline")]))?;
//! let report = engine.scan(
//!     Data::Paths(&[PathBuf::from("datasets/demo/current")]),
//!     Baseline::Profile(Box::new(trusted)),
//!     None,
//! )?;
//! let verdict = gate(&report, &settings.policy());
//! assert_eq!(verdict.exit_code(), 1); // the demo has high-severity findings
//! let markdown = report.to_markdown();
//! assert!(markdown.starts_with("## poisonscan: ❌ **gate failed**"));
//! # Ok::<(), poisonscan::Error>(())
//! ```

pub mod attest;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
pub mod detect;
pub mod engine;
pub mod error;
pub mod gate;
pub mod history;
pub mod ingest;
pub mod keys;
pub mod oom;
pub mod output;
pub mod profile;
pub mod recorder;
pub mod report;
pub mod rng;
pub mod rows;
pub mod settings;
pub mod slice;
pub mod stats;
pub mod storage;
pub mod trend;

pub use engine::{Baseline, Data, Engine, merge};
pub use error::{Error, Result};
pub use gate::{FailOn, Policy, Verdict};
pub use profile::Profile;
pub use report::Report;
pub use settings::{Settings, SettingsBuilder};
