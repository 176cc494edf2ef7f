//! poisonscan audits a tabular training set (Parquet or CSV) before a model is retrained on it:
//! it profiles the data in one parallel, bounded-memory pass, compares it with a trusted baseline,
//! and reports which slices look poisoned, tampered with or drifted.
//!
//! The library is what the binary runs: [`ingest`] reads files into Arrow batches with
//! provenance, [`profile`] builds mergeable profiles, [`detect`] turns profiles into findings,
//! [`report`] writes them, [`gate`] turns them into an exit code.

pub mod error;
pub mod ingest;
pub mod profile;

pub use error::{Error, Result};
pub mod app;
pub mod cli;
pub mod config;
pub mod detect;
pub mod gate;
pub mod report;
pub mod rng;
pub mod rows;
pub mod settings;
pub mod stats;
pub mod trend;
