//! The row pass as its own step: [`RowModels`] are fitted once from the profiles (the outlier
//! model on the reference sample, the label model on both samples), travel as bytes, and score
//! any stream of batches into [`RowCounts`] that merge exactly in plan order. A Spark driver fits
//! them once and ships them to the executors; one machine does the same with threads.

use std::collections::HashMap;

use super::encode::Encoder;
use super::labels::{LabelModel, LabelParts};
use super::pass::{self, JointModel, PassOutput, RowCounts, RowModel, RowPass, RowsOut};
use crate::error::{Error, Result};
use crate::ingest::{BatchSource, Conformed, Dataset, IngestOptions};
use crate::profile::{Profile, ProfileSettings};
use crate::recorder::Recorder;

const MAGIC: &[u8; 20] = b"POISONSCAN MODELS\n\0\0";
/// The version of the models' bytes; a change of any model's fields bumps it.
pub const MODELS_VERSION: u32 = 3;
const HEADER: usize = 20 + 4 + 32;

/// The fitted row models and the settings they were fitted with.
///
/// ```
/// use poisonscan::rows::RowModels;
/// use poisonscan::{Data, Engine, Settings};
/// use std::path::PathBuf;
///
/// let settings = Settings::builder().label("label").threads(1).build()?;
/// let engine = Engine::new(&settings);
/// let baseline = engine.profile(Data::Paths(&[PathBuf::from("datasets/demo/baseline")]))?;
/// let current = engine.profile(Data::Paths(&[PathBuf::from("datasets/demo/current")]))?;
/// let models = engine.fit_row_models(Some(&baseline), &current).expect("columns to score");
/// // Shipped as bytes (to a Spark executor, say) and read back there:
/// let models = RowModels::from_bytes(&models.to_bytes()?)?;
/// # Ok::<(), poisonscan::Error>(())
/// ```
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RowModels {
    pub(crate) model: RowModel,
    pub(crate) labels: Option<LabelModel>,
    /// The label and id columns and the seed the models were fitted with.
    pub(crate) label: Option<String>,
    pub(crate) id: Option<String>,
    pub(crate) seed: u64,
    /// The current data's sources (its profile's manifest), in order: a scored batch's source
    /// is found here by name, so parts scored apart count under the indices of the whole.
    pub(crate) sources: Vec<String>,
    /// Whether OUT001 is on (it alone reads the per-group outlier counts and marks rows).
    pub(crate) outliers: bool,
    /// OUT002's joint model (when it is on).
    pub(crate) joint: Option<JointModel>,
}

impl RowModels {
    /// Fit on the baseline's sample (the current data's without a baseline), with the profile
    /// settings and the checks that are on (`on(code)`); `None` when no column can be encoded
    /// or the reference has no sample. [`crate::Engine::fit_row_models`] calls it with a run's
    /// settings. Only what an enabled check reads is fitted: the kNN model for LBL002,
    /// confident learning for LBL003, the candidate rules for TRG001/TRG002, the label model at
    /// all for those, LBL001 and SLC001 (whose label-issue signal then uses the flags of the
    /// label checks that are on), and the joint model for OUT002.
    pub fn fit(
        settings: &ProfileSettings,
        on: &dyn Fn(&str) -> bool,
        baseline: Option<&Profile>,
        current: &Profile,
        rec: &dyn Recorder,
    ) -> Option<RowModels> {
        let seed = settings.seed;
        let reference = baseline.unwrap_or(current);
        let encoder = Encoder::new(reference, current);
        let parts = LabelParts {
            knn: on("LBL002"),
            confident: on("LBL003"),
            rules: on("TRG001") || on("TRG002"),
        };
        let joint_on = on("OUT002");
        let wanted = ["LBL001", "LBL002", "LBL003", "TRG001", "TRG002", "SLC001"]
            .iter()
            .any(|c| on(c));
        // The two models are fitted side by side: neither reads the other, and both start from
        // the same encoder.
        let (model, labels) = rayon::join(
            || {
                crate::recorder::timed(rec, "row model fit", || {
                    let joint = if joint_on {
                        JointModel::fit_reference(&encoder, reference)
                    } else {
                        None
                    };
                    RowModel::fit_encoded(encoder.clone(), reference, seed).map(|m| (m, joint))
                })
            },
            || {
                let t = std::time::Instant::now();
                let labels = if wanted && RowModel::can_fit(&encoder, reference) {
                    LabelModel::fit(baseline, current, &encoder, seed, parts, rec)
                } else {
                    None
                };
                let rules = labels.as_ref().map_or(0, |l| l.rules.len());
                crate::recorder::record(
                    rec,
                    "label model fit",
                    t.elapsed().as_secs_f64(),
                    crate::recorder::Unit::Seconds,
                    || Some(format!("{rules} candidate rules")),
                );
                labels
            },
        );
        let (model, joint) = model?;
        Some(RowModels {
            model,
            joint,
            labels,
            label: settings.label.clone(),
            id: settings.id.clone(),
            seed,
            sources: current.manifest.iter().map(|m| m.path.clone()).collect(),
            outliers: on("OUT001"),
        })
    }

    /// The models as bytes: a header (magic, version, BLAKE3 of the body), then the models
    /// (postcard, zstd). The same models give the same bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let raw = postcard::to_stdvec(self)
            .map_err(|e| Error::Internal(format!("encoding the row models: {e}")))?;
        let body = zstd::encode_all(&raw[..], 3)
            .map_err(|e| Error::Internal(format!("compressing the row models: {e}")))?;
        let mut out = Vec::with_capacity(HEADER + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&MODELS_VERSION.to_le_bytes());
        out.extend_from_slice(blake3::hash(&body).as_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Models from [`RowModels::to_bytes`], checked: the header, the version, the hash, and
    /// that the models fit together (the forest's trees are checked node by node, since scoring
    /// walks them without bounds checks).
    pub fn from_bytes(bytes: &[u8]) -> Result<RowModels> {
        let bad = |reason: String| Error::BadModels { reason };
        if bytes.len() < HEADER || &bytes[..20] != MAGIC {
            return Err(bad("they do not start with the row models' header".into()));
        }
        let mut version = [0u8; 4];
        version.copy_from_slice(&bytes[20..24]);
        let version = u32::from_le_bytes(version);
        if version != MODELS_VERSION {
            return Err(bad(format!(
                "they are version {version}; this poisonscan ({}) reads version {MODELS_VERSION}",
                env!("CARGO_PKG_VERSION")
            )));
        }
        let body = &bytes[HEADER..];
        if blake3::hash(body).as_bytes() != &bytes[24..56] {
            return Err(bad(
                "their checksum does not match: they were corrupted or altered".into(),
            ));
        }
        let raw = zstd::decode_all(body).map_err(|e| bad(format!("cannot decompress: {e}")))?;
        let mut m: RowModels =
            postcard::from_bytes(&raw).map_err(|e| bad(format!("cannot decode: {e}")))?;
        m.model.encoder.rebuild_lookups();
        m.check().map_err(bad)?;
        Ok(m)
    }

    /// The models' shapes agree with each other.
    fn check(&self) -> std::result::Result<(), String> {
        let d = self.model.encoder.dim();
        let (forest, ecod) = self.model.dims();
        if forest != d || ecod != d {
            return Err(format!(
                "the encoder has {d} features, the forest {forest} and ECOD {ecod}"
            ));
        }
        if let Some(l) = &self.labels
            && l.dim != d
        {
            return Err(format!(
                "the encoder has {d} features, the label model {}",
                l.dim
            ));
        }
        if let Some(knn) = self.labels.as_ref().and_then(|l| l.knn.as_ref()) {
            knn.check()?;
        }
        if let Some(j) = &self.joint {
            j.check(d)?;
        }
        Ok(())
    }

    /// The settings the pass reads with: these models' label, id and seed.
    fn pass_profile(&self) -> ProfileSettings {
        ProfileSettings {
            seed: self.seed,
            label: self.label.clone(),
            id: self.id.clone(),
            ..ProfileSettings::default()
        }
    }

    /// Score batches a caller holds (one Spark partition, say) into counts that merge with the
    /// counts of the other parts ([`RowCounts::merge`], in plan order). The batches' sources
    /// must be sources of the current profile the models were fitted with; the counts use
    /// that profile's source indices.
    pub fn score(&self, data: &dyn BatchSource, ingest: &IngestOptions) -> Result<RowCounts> {
        let conformed = Conformed::new(data, ingest)?;
        let mut out = self.score_rows(ToScore::Batches(&conformed), None, None, &|| {})?;
        out.counts.models = Some(self.id()?);
        Ok(out.counts)
    }

    /// The models' identity: the BLAKE3 hash of their encoding (what [`RowModels::to_bytes`]
    /// compresses). Counts
    /// scored by [`RowModels::score`] carry it, so that counts of other models are refused when
    /// merged or checked.
    pub fn id(&self) -> Result<[u8; 32]> {
        // The encoding, not the compressed bytes: another zstd may compress differently.
        let raw = postcard::to_stdvec(self)
            .map_err(|e| Error::Internal(format!("encoding the row models: {e}")))?;
        Ok(*blake3::hash(&raw).as_bytes())
    }

    /// As [`RowModels::score`], and every row's scores as the rows file has them (source, row,
    /// id, outlier and label issue scores, duplicate group, codes, label confidence), in the
    /// batches' order: for a caller that keeps them (a Spark job's row scores) instead of a
    /// file. `duplicates` numbers the current data's duplicated rows
    /// ([`DuplicateGroups::of`] the current profile).
    pub fn score_with_rows(
        &self,
        data: &dyn BatchSource,
        ingest: &IngestOptions,
        duplicates: &DuplicateGroups,
    ) -> Result<(RowCounts, Vec<arrow::array::RecordBatch>)> {
        let conformed = Conformed::new(data, ingest)?;
        let mut out = self.score_rows(
            ToScore::Batches(&conformed),
            Some(RowsOut::Memory),
            Some(&duplicates.0),
            &|| {},
        )?;
        out.counts.models = Some(self.id()?);
        Ok((out.counts, out.rows))
    }

    /// Score files (their shards in parallel on the current pool) or batches (in order); with
    /// `rows_out`, each row's scores too (`duplicates`: the current data's duplicate groups).
    pub(crate) fn score_rows(
        &self,
        rows: ToScore<'_>,
        rows_out: Option<RowsOut<'_>>,
        duplicates: Option<&HashMap<u128, u64>>,
        on_shard: &(dyn Fn() + Sync),
    ) -> Result<PassOutput> {
        let profile = self.pass_profile();
        let settings = pass::PassSettings {
            profile: &profile,
            rows_out,
            duplicates,
            on_shard,
        };
        match rows {
            ToScore::Files(ds) => pass::run(ds, self, &settings),
            ToScore::Batches(data) => pass::run_batches(data, self, &settings),
        }
    }

    /// Whether `counts` could have come from these models scoring the current data (its
    /// `sources` and `rows`): every group's features and sources in range, as many rows as
    /// the data has, label counts of the label model's shape. Counts from other models, or
    /// bytes that decode into counts of another shape, are an error, not a wrong report.
    pub fn check_counts(&self, counts: &RowCounts, sources: usize, rows: u64) -> Result<()> {
        use super::pass::GroupKey;
        let bad = |reason: String| Err(Error::BadCounts { reason });
        let d = self.model.encoder.dim();
        if counts.models != Some(self.id()?) {
            return bad(
                "the row counts were not scored by these row models (their identities differ)"
                    .into(),
            );
        }
        if counts.rows != rows {
            return bad(format!(
                "the row counts cover {} rows, the current data has {rows}",
                counts.rows
            ));
        }
        for (key, g) in &counts.groups {
            let in_range = match *key {
                GroupKey::All => true,
                GroupKey::Source(s) => (s as usize) < sources,
                GroupKey::Slice { feature, .. } => (feature as usize) < d,
            };
            if !in_range
                || g.flagged > g.rows
                || g.terms.len() > d
                || g.non_finite.len() > d
                || g.joint_terms.len() > d
                || g.joint.len() > pass::JOINT_BINS
                || g.joint_above > g.joint.iter().fold(0u64, |a, &b| a.saturating_add(b))
                || g.examples.iter().any(|&(s, _)| s as usize >= sources)
            {
                return bad(format!(
                    "the row counts' group {key:?} does not fit these models ({d} features) and data ({sources} sources)"
                ));
            }
        }
        match (&self.labels, &counts.labels) {
            (Some(m), Some(c)) if c.fits(&m.counts(), sources) => Ok(()),
            (None, None) => Ok(()),
            _ => bad("the row counts' label counts do not fit the label model".into()),
        }
    }

    /// The models and the counts of every current row, as the row-level checks read them.
    pub fn into_pass(self, counts: RowCounts) -> RowPass {
        RowPass {
            model: self.model,
            joint: self.joint,
            rows: counts.rows,
            groups: counts.groups,
            duplicate_rows: counts.duplicate_rows,
            labels: self.labels.zip(counts.labels),
            label_seconds: counts.label_seconds,
            part_seconds: counts.part_seconds,
            histograms: counts.histograms,
        }
    }
}

/// The current data's duplicated feature vectors, numbered in fingerprint order: what the rows
/// file's `duplicate_group` reads. Serialisable, to ship beside the models.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DuplicateGroups(
    #[serde(serialize_with = "crate::rows::shared::sorted_map")] pub(crate) HashMap<u128, u64>,
);

impl DuplicateGroups {
    /// The duplicate groups of a profile's rows.
    pub fn of(current: &Profile) -> DuplicateGroups {
        DuplicateGroups(pass::duplicate_groups(current))
    }

    /// The groups as bytes, to ship beside the models: a header (magic, version, BLAKE3 of
    /// the body), then the groups (postcard, sorted).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let body = postcard::to_stdvec(self)
            .map_err(|e| Error::Internal(format!("encoding duplicate groups: {e}")))?;
        let mut out = Vec::with_capacity(HEADER + body.len());
        out.extend_from_slice(DUPLICATES_MAGIC);
        out.extend_from_slice(&MODELS_VERSION.to_le_bytes());
        out.extend_from_slice(blake3::hash(&body).as_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Groups from [`DuplicateGroups::to_bytes`], checked.
    pub fn from_bytes(bytes: &[u8]) -> Result<DuplicateGroups> {
        let bad = |reason: String| Error::BadModels {
            reason: format!("the duplicate groups: {reason}"),
        };
        if bytes.len() < HEADER || &bytes[..20] != DUPLICATES_MAGIC {
            return Err(bad("they do not start with their header".into()));
        }
        let version = u32::from_le_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
        if version != MODELS_VERSION {
            return Err(bad(format!(
                "they are version {version}; this poisonscan reads version {MODELS_VERSION}"
            )));
        }
        let body = &bytes[HEADER..];
        if blake3::hash(body).as_bytes() != &bytes[24..56] {
            return Err(bad("their checksum does not match".into()));
        }
        postcard::from_bytes(body).map_err(|e| bad(format!("cannot decode: {e}")))
    }
}

const DUPLICATES_MAGIC: &[u8; 20] = b"POISONSCAN DUPS\n\0\0\0\0";

/// The rows a pass scores: files, or batches a caller holds.
pub(crate) enum ToScore<'a> {
    Files(&'a Dataset),
    Batches(&'a Conformed<'a>),
}

const COUNTS_MAGIC: &[u8; 20] = b"POISONSCAN COUNTS\n\0\0";
/// The row counts' byte format; bump on any change to [`RowCounts`]' encoding.
pub const COUNTS_VERSION: u32 = 1;

impl RowCounts {
    /// The counts as bytes, to send from a worker to the one that merges: a header (magic,
    /// version, BLAKE3 of the body), then the counts (postcard), the models' identity among
    /// them.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let body = postcard::to_stdvec(self)
            .map_err(|e| Error::Internal(format!("encoding row counts: {e}")))?;
        let mut out = Vec::with_capacity(HEADER + body.len());
        out.extend_from_slice(COUNTS_MAGIC);
        out.extend_from_slice(&COUNTS_VERSION.to_le_bytes());
        out.extend_from_slice(blake3::hash(&body).as_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Counts from [`RowCounts::to_bytes`], checked: the header, the version and the hash.
    /// Whether they fit the models and the data is [`RowModels::check_counts`]'s to say.
    pub fn from_bytes(bytes: &[u8]) -> Result<RowCounts> {
        let bad = |reason: String| Error::BadCounts { reason };
        if bytes.len() < HEADER || &bytes[..20] != COUNTS_MAGIC {
            return Err(bad("they do not start with the row counts' header".into()));
        }
        let version = u32::from_le_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
        if version != COUNTS_VERSION {
            return Err(bad(format!(
                "they are version {version}; this poisonscan ({}) reads version {COUNTS_VERSION}",
                env!("CARGO_PKG_VERSION")
            )));
        }
        let body = &bytes[HEADER..];
        if blake3::hash(body).as_bytes() != &bytes[24..56] {
            return Err(bad(
                "their checksum does not match: they were corrupted or altered".into(),
            ));
        }
        postcard::from_bytes(body).map_err(|e| bad(format!("cannot decode: {e}")))
    }
}
