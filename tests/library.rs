//! The library API as a front door other than the command line uses it: settings from code,
//! Arrow batches in memory with their provenance, profiles as bytes, merge, the gate, and the
//! checks a config turns off.

mod common;

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use poisonscan::gate::{FailOn, Verdict, gate};
use poisonscan::ingest::MemoryBatches;
use poisonscan::{Baseline, Data, Engine, Profile, Settings};

use common::root;

fn demo(side: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("datasets/demo").join(side))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    files
}

/// The report, checked against the report schema (as every report the tests write is).
fn valid(r: poisonscan::Report) -> poisonscan::Report {
    common::report(r.to_json().as_bytes());
    r
}

fn settings(threads: usize) -> Settings {
    Settings::builder()
        .label("label")
        .id("customer_id")
        .threads(threads)
        .build()
        .unwrap()
}

/// The files read into memory as a caller would hold them: each row group's batches with the
/// file's name, the row group and the index of the batch's first row in the file.
fn in_memory(files: &[PathBuf], batch_rows: usize) -> MemoryBatches {
    let mut data: Option<MemoryBatches> = None;
    for f in files {
        let name = f.to_string_lossy().to_string();
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap()).unwrap();
        let groups: Vec<usize> = (0..builder.metadata().num_row_groups()).collect();
        let mut first = 0u64;
        for g in groups {
            let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
                .unwrap()
                .with_row_groups(vec![g])
                .with_batch_size(batch_rows)
                .build()
                .unwrap();
            for b in reader {
                let b: RecordBatch = b.unwrap();
                let d = data.get_or_insert_with(|| MemoryBatches::new(b.schema()));
                let n = b.num_rows() as u64;
                d.push_at(&name, g as u32, first, b).unwrap();
                first += n;
            }
        }
    }
    data.unwrap()
}

/// Everything of a profile but where its bytes came from (the manifest's hashes and sizes).
fn statistics(p: &Profile) -> (serde_json::Value, &[u128]) {
    let mut v = serde_json::to_value(p).unwrap();
    let m = v.as_object_mut().unwrap();
    m.remove("manifest");
    (v, &p.fingerprints.rows)
}

/// The same rows with the same provenance give the same profile from files and from memory, at
/// any batch size, and when row groups are longer than a shard (3,000 rows: the demo's row
/// groups are then split in several shards, each with its sketches' own seed, in memory as in
/// the file).
#[test]
fn batches_in_memory_profile_like_the_files() {
    let files = demo("current");
    for (shard_rows, batch_rows) in [(0, 65_536), (0, 1_000), (3_000, 4_096), (3_000, 999)] {
        let s = Settings::builder()
            .label("label")
            .id("customer_id")
            .threads(2)
            .shard_rows(shard_rows)
            .build()
            .unwrap();
        let engine = Engine::new(&s);
        let from_files = engine.profile(Data::Paths(&files)).unwrap();
        let data = in_memory(&files, batch_rows);
        let from_memory = engine.profile(Data::Batches(&data)).unwrap();
        assert_eq!(from_memory.rows, 81_500);
        assert_eq!(
            statistics(&from_memory),
            statistics(&from_files),
            "shard rows {shard_rows}, batch size {batch_rows}"
        );
        let m = &from_memory.manifest;
        assert_eq!(m.len(), 4);
        assert!(m.iter().all(|e| e.blake3.is_empty() && e.format == "arrow"));
        assert_eq!(
            m.iter().map(|e| e.rows).collect::<Vec<_>>(),
            from_files
                .manifest
                .iter()
                .map(|e| e.rows)
                .collect::<Vec<_>>()
        );
    }
}

/// A scan of batches in memory finds what the scan of the files finds, but for the byte
/// comparisons that need files (INT001/INT002 by hash), and writes the same rows file.
#[test]
fn a_scan_of_batches_reports_like_a_scan_of_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(2);
    let engine = Engine::new(&s);
    let baseline = engine.profile(Data::Paths(&demo("baseline"))).unwrap();
    let files = demo("current");
    let rows_files = dir.path().join("files.parquet");
    let rows_memory = dir.path().join("memory.parquet");
    let a = engine
        .scan(
            Data::Paths(&files),
            Baseline::Profile(Box::new(baseline.clone())),
            Some(&rows_files),
        )
        .unwrap();
    let a = valid(a);
    let data = in_memory(&files, 4_096);
    let b = engine
        .scan(
            Data::Batches(&data),
            Baseline::Profile(Box::new(baseline)),
            Some(&rows_memory),
        )
        .unwrap();
    let b = valid(b);
    let key = |r: &poisonscan::Report| {
        r.findings
            .iter()
            .filter(|f| !f.code.starts_with("INT"))
            .map(|f| (f.code.clone(), f.title.clone(), f.rows))
            .collect::<Vec<_>>()
    };
    assert!(!key(&a).is_empty());
    assert_eq!(key(&a), key(&b));
    // The files' scan names the replayed partition by its bytes; from memory there are none.
    assert!(a.findings.iter().any(|f| f.code == "INT002"));
    assert_eq!(
        serde_json::to_value(&a.profile).unwrap(),
        serde_json::to_value(&b.profile).unwrap()
    );
    assert_eq!(read_rows(&rows_files), read_rows(&rows_memory));
}

fn read_rows(path: &Path) -> Vec<RecordBatch> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    vec![arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()]
}

/// Bad batches are errors that name the source, never a panic.
#[test]
fn bad_batches_name_their_source() {
    use std::sync::Arc;

    use arrow::array::{Float64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("label", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Float64Array::from(vec![1.0, 2.0])),
            Arc::new(StringArray::from(vec!["a", "b"])),
        ],
    )
    .unwrap();
    let mut data = MemoryBatches::new(schema.clone());
    data.push("p0", batch.clone()).unwrap();
    data.push("p1", batch.clone()).unwrap();
    let e = data.push("p0", batch.clone()).unwrap_err().to_string();
    assert!(
        e.contains("`p0`") && e.contains("must come together"),
        "{e}"
    );
    let other = Arc::new(Schema::new(vec![Field::new("y", DataType::Float64, true)]));
    let odd = RecordBatch::try_new(other, vec![Arc::new(Float64Array::from(vec![1.0]))]).unwrap();
    let e = data.push("p2", odd).unwrap_err().to_string();
    assert!(e.contains("`p2`") && e.contains("columns differ"), "{e}");
    // A label column the batches do not have.
    let s = Settings::builder().label("nope").build().unwrap();
    let e = Engine::new(&s)
        .profile(Data::Batches(&data))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`nope`"), "{e}");
    // An unsupported type.
    let list = Arc::new(Schema::new(vec![Field::new(
        "l",
        DataType::List(Arc::new(Field::new("item", DataType::Int64, true))),
        true,
    )]));
    let data = MemoryBatches::new(list);
    let e = Engine::new(&settings(1))
        .profile(Data::Batches(&data))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`l`"), "{e}");
}

/// Profiles cross the boundary as bytes and merge back into the profile of the whole.
#[test]
fn profiles_as_bytes_merge_into_the_whole() {
    let s = settings(1);
    let engine = Engine::new(&s);
    let files = demo("baseline");
    let whole = engine.profile(Data::Paths(&files)).unwrap();
    let parts: Vec<Profile> = files
        .iter()
        .map(|f| {
            let p = engine
                .profile(Data::Paths(std::slice::from_ref(f)))
                .unwrap();
            Profile::from_bytes(&p.to_bytes().unwrap()).unwrap()
        })
        .collect();
    let merged = poisonscan::merge(parts).unwrap();
    assert_eq!(merged.rows, whole.rows);
    assert_eq!(merged.label_counts, whole.label_counts);
    assert_eq!(merged.fingerprints.rows, whole.fingerprints.rows);
    assert_eq!(merged.manifest, whole.manifest);
    // A profile read from its bytes writes the same bytes (its sketches' images are canonical).
    let bytes = whole.to_bytes().unwrap();
    let again = Profile::from_bytes(&bytes).unwrap();
    assert_eq!(again.to_bytes().unwrap(), bytes);
    assert_eq!(merged.to_bytes().unwrap(), {
        let m = merged.to_bytes().unwrap();
        Profile::from_bytes(&m).unwrap().to_bytes().unwrap()
    });
    // Bytes that are not a profile are an error, not a panic.
    let e = Profile::from_bytes(b"not a profile")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a poisonscan profile"), "{e}");
    assert!(poisonscan::merge(Vec::new()).is_err());
}

/// The gate is a function of the report and the policy.
#[test]
fn the_gate_follows_the_policy() {
    let s = settings(2);
    let engine = Engine::new(&s);
    let r = engine
        .scan(
            Data::Paths(&demo("current")),
            Baseline::Data(Data::Paths(&demo("baseline"))),
            None,
        )
        .unwrap();
    let r = valid(r);
    assert_eq!(r.verdict, Verdict::Fail);
    let at = |fail_on| gate(&r, &poisonscan::Policy { fail_on });
    assert_eq!(at(FailOn::High), Verdict::Fail);
    assert_eq!(at(FailOn::High).exit_code(), 1);
    assert_eq!(at(FailOn::Never), Verdict::Pass);
    assert_eq!(at(FailOn::Never).exit_code(), 0);
}

/// The row models travel as bytes (the same models, the same bytes) and score parts anywhere:
/// the parts' counts merged in plan order are the counts of the whole.
#[test]
fn row_models_as_bytes_score_parts_that_merge_into_the_whole() {
    use poisonscan::rows::{RowCounts, RowModels};
    let s = settings(2);
    let engine = Engine::new(&s);
    let baseline = engine.profile(Data::Paths(&demo("baseline"))).unwrap();
    let files = demo("current");
    let current = engine.profile(Data::Paths(&files)).unwrap();
    let models = engine.fit_row_models(Some(&baseline), &current).unwrap();
    let bytes = models.to_bytes().unwrap();
    let shipped = RowModels::from_bytes(&bytes).unwrap();
    assert_eq!(shipped.to_bytes().unwrap(), bytes);
    let whole_data = in_memory(&files, 8_192);
    let whole = models.score(&whole_data, s.ingest_options()).unwrap();
    assert_eq!(whole.rows, 81_500);
    // One part per file, each scored on its own by the shipped models (which know the
    // current profile's sources, so the parts count under the indices of the whole).
    let mut merged: Option<RowCounts> = None;
    for f in &files {
        let part = in_memory(std::slice::from_ref(f), 65_536);
        let counts = shipped.score(&part, s.ingest_options()).unwrap();
        let counts = RowCounts::from_bytes(&counts.to_bytes().unwrap()).unwrap();
        match merged.as_mut() {
            None => merged = Some(counts),
            Some(m) => m.merge(counts).unwrap(),
        }
    }
    let merged = merged.unwrap();
    assert!(
        merged
            .groups
            .contains_key(&poisonscan::rows::pass::GroupKey::Source(3))
    );
    assert_eq!(merged, whole);
    assert_eq!(merged.models, Some(models.id().unwrap()));
    // An empty accumulator (a fold's zero) is the identity on either side.
    let mut acc = whole.clone();
    acc.merge(RowCounts::default()).unwrap();
    assert_eq!(acc, whole);
    let mut zero = RowCounts::default();
    zero.merge(whole.clone()).unwrap();
    assert_eq!(zero, whole);
    // Counts travel with a checksum, and carry the identity of the models that made them:
    // counts of other models (here fitted with another seed) neither merge nor pass the check.
    let mut altered = whole.to_bytes().unwrap();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    let e = RowCounts::from_bytes(&altered).unwrap_err().to_string();
    assert!(e.contains("checksum"), "{e}");
    let other_settings = Settings::builder()
        .label("label")
        .id("customer_id")
        .seed(7)
        .threads(2)
        .build()
        .unwrap();
    let other = Engine::new(&other_settings)
        .fit_row_models(Some(&baseline), &current)
        .unwrap();
    let theirs = other.score(&whole_data, s.ingest_options()).unwrap();
    let mut ours = whole.clone();
    let e = ours.merge(theirs.clone()).unwrap_err().to_string();
    assert!(e.contains("different row models"), "{e}");
    let e = models
        .check_counts(&theirs, current.manifest.len(), current.rows)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not scored by these row models"), "{e}");
    // Bytes that are not models, or were altered, are errors.
    assert!(RowModels::from_bytes(b"nonsense").is_err());
    let mut altered = bytes.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    let e = RowModels::from_bytes(&altered).unwrap_err().to_string();
    assert!(e.contains("checksum"), "{e}");
}

/// A caller that runs the steps itself (the current profile, models fitted once, parts scored
/// apart and their counts merged) gets the report the scan gives, byte for byte outside `run`.
/// (Profiles of parts merge exactly in their counts but only within the sketches' bounds in
/// their quantiles, so here the current side is profiled whole.)
#[test]
fn the_steps_give_the_report_the_scan_gives() {
    use poisonscan::rows::RowCounts;
    let s = settings(2);
    let engine = Engine::new(&s);
    let baseline = engine.profile(Data::Paths(&demo("baseline"))).unwrap();
    let files = demo("current");
    let scanned = engine
        .scan(
            Data::Paths(&files),
            Baseline::Profile(Box::new(baseline.clone())),
            None,
        )
        .unwrap();
    let scanned = valid(scanned);
    let current = engine
        .profile_against(Data::Paths(&files), &baseline)
        .unwrap();
    let models = engine.fit_row_models(Some(&baseline), &current).unwrap();
    let mut counts: Option<RowCounts> = None;
    for f in &files {
        let part = in_memory(std::slice::from_ref(f), 10_000);
        let c = models.score(&part, s.ingest_options()).unwrap();
        match counts.as_mut() {
            None => counts = Some(c),
            Some(all) => all.merge(c).unwrap(),
        }
    }
    let stepped = engine
        .report(current, Some(baseline), Some((models, counts.unwrap())))
        .unwrap();
    let stepped = valid(stepped);
    let without_run = |r: &poisonscan::Report| {
        let mut v = serde_json::to_value(r).unwrap();
        v.as_object_mut().unwrap().remove("run");
        v
    };
    assert_eq!(without_run(&stepped), without_run(&scanned));
}

/// Records the phases a scan timed.
#[derive(Default)]
struct Phases(std::sync::Mutex<Vec<String>>);

impl poisonscan::recorder::Recorder for Phases {
    fn timings(&self) -> bool {
        true
    }
    fn timing(&self, t: &poisonscan::recorder::Timing) {
        self.0.lock().unwrap().push(t.phase.clone());
    }
}

/// A check turned off costs nothing: its model is not fitted and its phase does not run.
#[test]
fn checks_turned_off_are_not_fitted() {
    let baseline = demo("baseline");
    let current = demo("current");
    let run = |b: poisonscan::SettingsBuilder| {
        let s = b
            .label("label")
            .id("customer_id")
            .threads(2)
            .build()
            .unwrap();
        let phases = Phases::default();
        let r = Engine::new(&s)
            .with_recorder(&phases)
            .scan(
                Data::Paths(&current),
                Baseline::Data(Data::Paths(&baseline)),
                None,
            )
            .unwrap();
        let r = valid(r);
        (r, phases.0.into_inner().unwrap())
    };
    let (all, phases) = run(Settings::builder());
    for p in [
        "confident learning fit",
        "slice data",
        "LBL003",
        "SLC001",
        "OUT001",
    ] {
        assert!(phases.iter().any(|x| x == p), "{p} in {phases:?}");
    }
    assert!(all.findings.iter().any(|f| f.code == "OUT001"));
    let (off, phases) = run(Settings::builder()
        .disable_check("LBL003")
        .disable_check("SLC001")
        .disable_check("OUT001"));
    // The slice data (both samples with their row flags) is built whatever checks are on:
    // incidents are measured on it.
    assert!(phases.iter().any(|x| x == "slice data"), "{phases:?}");
    for p in ["confident learning fit", "LBL003", "SLC001", "OUT001"] {
        assert!(!phases.iter().any(|x| x == p), "{p} in {phases:?}");
    }
    assert!(
        !off.findings
            .iter()
            .any(|f| ["LBL003", "SLC001", "OUT001"].contains(&f.code.as_str()))
    );
    // What the other checks find does not change.
    let others = |r: &poisonscan::Report| {
        r.findings
            .iter()
            .filter(|f| !["LBL003", "SLC001", "OUT001"].contains(&f.code.as_str()))
            .map(|f| {
                // Incidents number the findings that are off too: compare the rest.
                let mut v = serde_json::to_value(f).unwrap();
                v.as_object_mut().unwrap().remove("incident");
                v
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(others(&off), others(&all));
}

/// Parts scored apart return every row's scores as the rows file has them: the parts' rows, in
/// order, are the rows file of the whole scan, column for column.
#[test]
fn parts_return_the_rows_file_of_the_whole() {
    use poisonscan::rows::DuplicateGroups;
    let dir = tempfile::tempdir().unwrap();
    let s = settings(2);
    let engine = Engine::new(&s);
    let baseline = engine.profile(Data::Paths(&demo("baseline"))).unwrap();
    let files = demo("current");
    let file = dir.path().join("rows.parquet");
    valid(
        engine
            .scan(
                Data::Paths(&files),
                Baseline::Profile(Box::new(baseline.clone())),
                Some(&file),
            )
            .unwrap(),
    );
    let current = engine
        .profile_against(Data::Paths(&files), &baseline)
        .unwrap();
    let models = engine.fit_row_models(Some(&baseline), &current).unwrap();
    let duplicates = DuplicateGroups::of(&current);
    let mut rows = Vec::new();
    for f in &files {
        let part = in_memory(std::slice::from_ref(f), 7_000);
        let (counts, part_rows) = models
            .score_with_rows(&part, s.ingest_options(), &duplicates)
            .unwrap();
        assert_eq!(
            counts.rows,
            part_rows.iter().map(|b| b.num_rows() as u64).sum::<u64>()
        );
        rows.extend(part_rows);
    }
    let from_parts = arrow::compute::concat_batches(&rows[0].schema(), &rows).unwrap();
    let written = &read_rows(&file)[0];
    assert_eq!(from_parts.num_rows(), 81_500);
    assert_eq!(from_parts.num_columns(), written.num_columns());
    for (i, field) in written.schema().fields().iter().enumerate() {
        assert_eq!(
            from_parts.column(i).as_ref(),
            written.column(i).as_ref(),
            "column `{}`",
            field.name()
        );
    }
}

/// A batch source that breaks its contract is an error naming the source, never a wrong
/// profile or a panic: a source that comes back after another, two sources of one name, a
/// first row that leaves no room for the rows, row counts that do not fit the models, batches
/// without a column the models read.
#[test]
fn broken_batch_sources_and_counts_are_errors() {
    use std::sync::Arc;

    use arrow::array::Float64Array;
    use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
    use poisonscan::ingest::{Batch, BatchSource};

    struct Raw(SchemaRef, Vec<String>, Vec<Batch>);
    impl BatchSource for Raw {
        fn schema(&self) -> SchemaRef {
            self.0.clone()
        }
        fn sources(&self) -> Vec<String> {
            self.1.clone()
        }
        fn batches(
            &self,
        ) -> poisonscan::Result<Box<dyn Iterator<Item = poisonscan::Result<Batch>> + Send + '_>>
        {
            Ok(Box::new(self.2.iter().cloned().map(Ok)))
        }
    }
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
    let rows = |first: u64, source: usize| Batch {
        batch: RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0]))],
        )
        .unwrap(),
        source,
        row_group: 0,
        first_row: first,
    };
    let engine_settings = settings(1);
    let s = Settings::builder().threads(1).build().unwrap();
    let engine = Engine::new(&s);
    let back = Raw(
        schema.clone(),
        vec!["a".into(), "b".into()],
        vec![rows(0, 0), rows(0, 1), rows(3, 0)],
    );
    let e = engine
        .profile(Data::Batches(&back))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`a`") && e.contains("must come together"), "{e}");
    let twice = Raw(
        schema.clone(),
        vec!["a".into(), "a".into()],
        vec![rows(0, 0)],
    );
    let e = engine
        .profile(Data::Batches(&twice))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`a`") && e.contains("two sources"), "{e}");
    let mut m = MemoryBatches::new(schema.clone());
    let e = m
        .push_at("a", 0, u64::MAX, rows(0, 0).batch)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`a`") && e.contains("no room"), "{e}");

    // Counts that do not fit: from another dataset, or with a column missing.
    let engine = Engine::new(&engine_settings);
    let baseline = engine.profile(Data::Paths(&demo("baseline"))).unwrap();
    let files = demo("current");
    let current = engine
        .profile_against(Data::Paths(&files), &baseline)
        .unwrap();
    let models = engine.fit_row_models(Some(&baseline), &current).unwrap();
    let one = in_memory(&files[..1], 65_536);
    let part = models
        .score(&one, engine_settings.ingest_options())
        .unwrap();
    let e = engine
        .report(
            current.clone(),
            Some(baseline.clone()),
            Some((models.clone(), part)),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("20000 rows") && e.contains("81500"), "{e}");
    let unsigned = poisonscan::rows::RowCounts {
        rows: current.rows,
        ..Default::default()
    };
    let e = engine
        .report(
            current.clone(),
            Some(baseline.clone()),
            Some((models.clone(), unsigned)),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("not scored by these row models"), "{e}");
    let mut forged = poisonscan::rows::RowCounts {
        rows: current.rows,
        models: Some(models.id().unwrap()),
        ..Default::default()
    };
    forged.groups.insert(
        poisonscan::rows::pass::GroupKey::Source(99),
        Default::default(),
    );
    let e = engine
        .report(current, Some(baseline), Some((models.clone(), forged)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("Source(99)"), "{e}");
    let no_income = Settings::builder()
        .label("label")
        .id("customer_id")
        .exclude(vec!["income".into()])
        .threads(1)
        .build()
        .unwrap();
    let e = models
        .score(&one, no_income.ingest_options())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no column `income`"), "{e}");
}

/// Sources in memory whose column types differ within a logical type (Int32 and Int64), or
/// widen (int and float), are unified as files are: the same profile as the same values in one
/// type. Types that cannot be reconciled are an error naming the column and both sources.
#[test]
fn memory_sources_unify_types_as_files_do() {
    use arrow::array::{Float64Array, Int32Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let batch = |t: DataType, values: Vec<i64>| {
        let schema = Arc::new(Schema::new(vec![Field::new("x", t.clone(), false)]));
        let col: arrow::array::ArrayRef = match t {
            DataType::Int32 => Arc::new(Int32Array::from(
                values.iter().map(|&v| v as i32).collect::<Vec<_>>(),
            )),
            DataType::Int64 => Arc::new(Int64Array::from(values)),
            DataType::Float64 => Arc::new(Float64Array::from(
                values.iter().map(|&v| v as f64).collect::<Vec<_>>(),
            )),
            _ => Arc::new(StringArray::from(
                values.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
            )),
        };
        RecordBatch::try_new(schema, vec![col]).unwrap()
    };
    let s = Settings::builder().threads(1).build().unwrap();
    let profile = |parts: Vec<RecordBatch>| {
        let mut data = MemoryBatches::new(parts[0].schema());
        for (i, b) in parts.into_iter().enumerate() {
            data.push(&format!("p{i}"), b)?;
        }
        Engine::new(&s).profile(Data::Batches(&data))
    };
    let (a, b) = (
        (0..100).collect::<Vec<i64>>(),
        (100..250).collect::<Vec<i64>>(),
    );
    let mixed = profile(vec![
        batch(DataType::Int32, a.clone()),
        batch(DataType::Int64, b.clone()),
    ])
    .unwrap();
    let plain = profile(vec![
        batch(DataType::Int64, a.clone()),
        batch(DataType::Int64, b.clone()),
    ])
    .unwrap();
    assert_eq!(mixed.to_bytes().unwrap(), plain.to_bytes().unwrap());
    let widened = profile(vec![
        batch(DataType::Int64, a.clone()),
        batch(DataType::Float64, b.clone()),
    ])
    .unwrap();
    let x = widened.column("x").unwrap();
    assert_eq!(x.column_type, poisonscan::ingest::ColumnType::Float);
    assert_eq!(widened.rows, 250);
    let e = profile(vec![batch(DataType::Int64, a), batch(DataType::Utf8, b)])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("column `x` has type int in `p0` but string in `p1`"),
        "{e}"
    );
}

/// A long row group is split into parts of several batches each (the second part starting
/// mid-batch), an empty row group still counts as a segment, from memory as from the file;
/// rows of a source that go backwards are an error naming the source.
#[test]
fn long_and_empty_row_groups_profile_like_the_file() {
    use arrow::array::{Float64Array, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, false),
        Field::new("label", DataType::Int64, false),
    ]));
    let batch = |from: usize, n: usize| {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Float64Array::from_iter_values(
                    (from..from + n).map(|i| ((i * 7919) % 10_007) as f64),
                )),
                Arc::new(Int64Array::from_iter_values(
                    (from..from + n).map(|i| (i % 3) as i64),
                )),
            ],
        )
        .unwrap()
    };
    // Row group 0: 150,000 rows; row group 1: empty; row group 2: 5 rows.
    let path = dir.path().join("long.parquet");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(1 << 20))
        .build();
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        schema.clone(),
        Some(props),
    )
    .unwrap();
    w.write(&batch(0, 150_000)).unwrap();
    w.flush().unwrap();
    w.flush().unwrap(); // no rows: no row group (the writer skips it)
    w.write(&batch(150_000, 5)).unwrap();
    w.close().unwrap();
    let files = [path.clone()];
    let s = Settings::builder()
        .label("label")
        .threads(2)
        .shard_rows(100_000) // 150,000 rows: two parts of 75,000 rows, two batches each
        .build()
        .unwrap();
    let engine = Engine::new(&s);
    let from_file = engine.profile(Data::Paths(&files)).unwrap();
    for batch_rows in [65_536, 7_000] {
        let data = in_memory(&files, batch_rows);
        let from_memory = engine.profile(Data::Batches(&data)).unwrap();
        assert_eq!(from_memory.rows, 150_005);
        assert_eq!(
            statistics(&from_memory),
            statistics(&from_file),
            "{batch_rows}"
        );
    }
    // An empty source (a 0-row row group) keeps its segment, so later rows point to theirs.
    let name = path.to_string_lossy().to_string();
    let mut with_empty = MemoryBatches::new(schema.clone());
    with_empty.push_at("empty", 0, 0, batch(0, 0)).unwrap();
    with_empty.push_at(&name, 0, 0, batch(0, 150_000)).unwrap();
    with_empty
        .push_at(&name, 1, 150_000, batch(150_000, 5))
        .unwrap();
    let p = engine.profile(Data::Batches(&with_empty)).unwrap();
    assert_eq!(p.segments.len(), 3);
    assert_eq!(p.manifest[0].rows, 0);
    // Rows of one source that go backwards.
    let mut backwards = MemoryBatches::new(schema.clone());
    backwards.push_at("b", 1, 100, batch(0, 10)).unwrap();
    backwards.push_at("b", 0, 0, batch(0, 10)).unwrap();
    let e = engine
        .profile(Data::Batches(&backwards))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`b`") && e.contains("must come in order"), "{e}");
}

/// A Parquet footer that claims more rows than any file holds is an error naming the file, not
/// an aborted process (the claim used to size a reservation and the shard plan).
#[test]
fn a_footer_claiming_too_many_rows_is_an_error() {
    use arrow::array::Float64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use std::sync::Arc;

    // Thrift's compact protocol: an i64 field one id after the previous one is the byte 0x16,
    // then the zigzag varint of the value.
    fn varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
        out
    }
    let rows = 12_345i64;
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Float64Array::from_iter_values(
            (0..rows).map(|i| i as f64),
        ))],
    )
    .unwrap();
    let mut bytes = Vec::new();
    let mut w = ArrowWriter::try_new(&mut bytes, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let footer_len =
        u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
    let footer_start = bytes.len() - 8 - footer_len as usize;
    let footer = bytes[footer_start..bytes.len() - 8].to_vec();
    let zigzag = |v: i64| ((v << 1) ^ (v >> 63)) as u64;
    let mut from = vec![0x16];
    from.extend(varint(zigzag(rows)));
    let mut to = vec![0x16];
    to.extend(varint(zigzag(1 << 50)));
    let mut forged = Vec::new();
    let mut i = 0;
    let mut replaced = 0;
    while i < footer.len() {
        if footer[i..].starts_with(&from) {
            forged.extend(&to);
            i += from.len();
            replaced += 1;
        } else {
            forged.push(footer[i]);
            i += 1;
        }
    }
    assert!(replaced >= 2, "the file's and the row group's row counts");
    let mut file = bytes[..footer_start].to_vec();
    file.extend(&forged);
    file.extend((forged.len() as u32).to_le_bytes());
    file.extend(b"PAR1");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forged.parquet");
    std::fs::write(&path, &file).unwrap();
    let s = Settings::builder().threads(1).build().unwrap();
    let e = Engine::new(&s)
        .profile(Data::Paths(&[path]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("forged.parquet") && e.contains("footer says row group 0 has"),
        "{e}"
    );
}

/// A column of a type poisonscan cannot profile is an error whose hint is `--exclude COL`; the
/// hint works: excluded (or not among `--columns`), the column is never read, and the scan is
/// the scan of the file without it.
#[test]
fn an_unsupported_column_can_be_left_out() {
    use arrow::array::{Float64Array, Int64Array, ListArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use parquet::arrow::ArrowWriter;
    use std::sync::Arc;

    let dir = std::env::temp_dir().join(format!("poisonscan-listcol-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, with_list: bool| {
        let n = 500;
        let mut fields = vec![Field::new("x", DataType::Float64, false)];
        let mut cols: Vec<arrow::array::ArrayRef> = vec![Arc::new(Float64Array::from_iter_values(
            (0..n).map(|i| (i % 37) as f64),
        ))];
        if with_list {
            let list = ListArray::from_iter_primitive::<Int64Type, _, _>(
                (0..n).map(|i| Some(vec![Some(i as i64), None])),
            );
            fields.push(Field::new(
                "tags",
                arrow::array::Array::data_type(&list).clone(),
                true,
            ));
            cols.push(Arc::new(list));
        }
        fields.push(Field::new("label", DataType::Int64, false));
        cols.push(Arc::new(Int64Array::from_iter_values(
            (0..n).map(|i| i as i64 % 2),
        )));
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
        // The same file name: row keys (sketch seeds, the sample) hash it.
        let path = dir.join(name).join("t.parquet");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut w =
            ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        path
    };
    let with = write("with", true);
    let without = write("without", false);
    let build = |exclude: &[&str], columns: &[&str]| {
        let mut b = Settings::builder().label("label").threads(1);
        if !exclude.is_empty() {
            b = b.exclude(exclude.iter().map(|s| s.to_string()).collect());
        }
        if !columns.is_empty() {
            b = b.columns(columns.iter().map(|s| s.to_string()).collect());
        }
        b.build().unwrap()
    };
    let e = Engine::new(&build(&[], &[]))
        .profile(Data::Paths(std::slice::from_ref(&with)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("column `tags` has type List") && e.contains("--exclude tags"),
        "{e}"
    );
    let reference = Engine::new(&build(&[], &[]))
        .profile(Data::Paths(std::slice::from_ref(&without)))
        .unwrap();
    for (s, reason) in [
        (build(&["tags"], &[]), "listed in exclude"),
        (build(&[], &["x"]), "not listed in columns"),
    ] {
        let mut p = Engine::new(&s)
            .profile(Data::Paths(std::slice::from_ref(&with)))
            .unwrap();
        // The column left out is listed, with why; the rest is the profile without it.
        let left_out = std::mem::take(&mut p.left_out);
        assert_eq!(left_out.len(), 1);
        assert_eq!(
            (left_out[0].column.as_str(), left_out[0].reason.as_str()),
            ("tags", reason)
        );
        assert_eq!(statistics(&p), statistics(&reference));
        assert_eq!(p.columns.len(), 2);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Profiles that hold only the duplicated rows' fingerprints (found over both sides together,
/// as `poisonscan.spark` finds them with Spark) give the report every row's give: duplicate
/// rates, conflicts, new groups, and replayed files found by their rows (with the files'
/// hashes removed, INT002 can only match rows). One side's alone is refused.
#[test]
fn fingerprints_kept_apart_give_the_report_every_rows_give() {
    use poisonscan::profile::{FingerprintScope, features};
    use std::collections::HashMap;
    let s = settings(2);
    let engine = Engine::new(&s);
    let baseline = engine.profile(Data::Paths(&demo("baseline"))).unwrap();
    let current = engine
        .profile_against(Data::Paths(&demo("current")), &baseline)
        .unwrap();
    let without_hashes = |p: &Profile| {
        let mut p = p.clone();
        for m in &mut p.manifest {
            m.blake3.clear();
            m.row_groups.clear();
        }
        p
    };
    let mut counts: HashMap<u128, u64> = HashMap::new();
    for p in [&current, &baseline] {
        for &f in &p.fingerprints.rows {
            *counts.entry(features(f)).or_default() += 1;
        }
    }
    let apart = |p: &Profile, joined: bool| {
        let mut q = p.clone();
        q.fingerprint_scope = FingerprintScope::Repeated {
            segment_rows: p.segment_rows(),
            joined: false,
        };
        let rows: Vec<u128> = p
            .fingerprints
            .rows
            .iter()
            .copied()
            .filter(|&f| counts[&features(f)] > 1)
            .collect();
        assert!(rows.len() < p.fingerprints.rows.len());
        q.with_repeated(rows, joined).unwrap()
    };
    let json = |r: poisonscan::Report| {
        let mut v = serde_json::to_value(valid(r)).unwrap();
        v.as_object_mut().unwrap().remove("run");
        v
    };
    for hashed in [true, false] {
        let (cur, base) = if hashed {
            (current.clone(), baseline.clone())
        } else {
            (without_hashes(&current), without_hashes(&baseline))
        };
        let every = json(
            engine
                .report(cur.clone(), Some(base.clone()), None)
                .unwrap(),
        );
        let (cur_apart, base_apart) = (apart(&cur, true), apart(&base, true));
        assert_eq!(cur_apart.duplicates(), cur.duplicates());
        assert_eq!(base_apart.duplicates(), base.duplicates());
        let kept = json(
            engine
                .report(cur_apart.clone(), Some(base_apart), None)
                .unwrap(),
        );
        assert_eq!(kept, every);
        // A baseline with every row's and a current side with the duplicated rows' only.
        let mixed = json(engine.report(cur_apart, Some(base.clone()), None).unwrap());
        assert_eq!(mixed, every);
        let codes: Vec<(String, String)> = every["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "INT002" || f["code"] == "DUP001")
            .map(|f| {
                (
                    f["code"].as_str().unwrap().to_string(),
                    f["evidence"]["match"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let replay = if hashed { "blake3" } else { "row fingerprints" };
        assert!(
            codes.contains(&("INT002".into(), replay.into())),
            "{codes:?}"
        );
        assert!(codes.iter().any(|c| c.0 == "DUP001"), "{codes:?}");
    }
    // One side's duplicated rows alone miss the rows the other side shares: refused.
    let lone = |p: &Profile| {
        let mut q = p.clone();
        q.fingerprint_scope = FingerprintScope::Repeated {
            segment_rows: p.segment_rows(),
            joined: false,
        };
        q.with_repeated(Vec::new(), false).unwrap()
    };
    for (cur, base) in [
        (current.clone(), lone(&baseline)),
        (lone(&current), baseline.clone()),
        (apart(&current, true), lone(&baseline)),
    ] {
        let e = engine
            .report(cur, Some(base), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("duplicated rows' fingerprints"), "{e}");
    }
    let e = engine
        .scan(
            Data::Paths(&demo("current")),
            Baseline::Profile(Box::new(lone(&baseline))),
            None,
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("poisonscan.spark.scan(..., baseline_fingerprints="),
        "{e}"
    );
    let mut merged = lone(&baseline);
    let e = merged.merge(&current).unwrap_err().to_string();
    assert!(e.contains("profile the data together"), "{e}");
}

/// The timings a scan records, as lines.
#[derive(Default)]
struct Timings(std::sync::Mutex<Vec<String>>);

impl poisonscan::recorder::Recorder for Timings {
    fn timings(&self) -> bool {
        true
    }
    fn timing(&self, t: &poisonscan::recorder::Timing) {
        self.0.lock().unwrap().push(t.to_string());
    }
}

/// A CSV scan keeps the profile's decoded blocks for its row pass (`ingest::Spill`): the report
/// and the rows file are those of a scan that parses every block twice, at any thread count,
/// for plain and gzip files alike.
#[test]
fn a_csv_scan_reports_the_same_with_or_without_its_spill() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv_files = Vec::new();
    for (i, f) in demo("current").iter().enumerate() {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let mut bytes = Vec::new();
        {
            let mut w = arrow::csv::Writer::new(&mut bytes);
            for b in reader {
                w.write(&b.unwrap()).unwrap();
            }
        }
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        // One file gzipped: read as one block, kept as one.
        let path = if i == 0 {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&bytes).unwrap();
            let p = dir.path().join(format!("{name}.csv.gz"));
            std::fs::write(&p, gz.finish().unwrap()).unwrap();
            p
        } else {
            let p = dir.path().join(format!("{name}.csv"));
            std::fs::write(&p, bytes).unwrap();
            p
        };
        csv_files.push(path);
    }
    let baseline = Engine::new(&settings(2))
        .profile(Data::Paths(&demo("baseline")))
        .unwrap();
    let small_blocks = poisonscan::ingest::CsvOptions {
        block_bytes: 16 << 10,
        ..Default::default()
    };
    let blocks = poisonscan::ingest::Dataset::open(
        &csv_files,
        &poisonscan::ingest::IngestOptions {
            csv: small_blocks.clone(),
            ..Default::default()
        },
    )
    .unwrap()
    .shards
    .len();
    assert!(blocks > 20, "{blocks} blocks");
    let scan = |threads: usize, spill: bool| {
        let s = Settings::builder()
            .label("label")
            .id("customer_id")
            .threads(threads)
            .csv(small_blocks.clone())
            .spill(spill)
            .build()
            .unwrap();
        let timings = Timings::default();
        let (report, rows) = Engine::new(&s)
            .with_recorder(&timings)
            .scan_with_rows(
                Data::Paths(&csv_files),
                Baseline::Profile(Box::new(baseline.clone())),
            )
            .unwrap();
        let mut json: serde_json::Value = serde_json::from_str(&valid(report).to_json()).unwrap();
        json.as_object_mut().unwrap().remove("run");
        let spilled = timings
            .0
            .into_inner()
            .unwrap()
            .into_iter()
            .find(|l| l.starts_with("spill "));
        (json, rows.unwrap(), spilled)
    };
    let (parsed_twice, rows_twice, none) = scan(2, false);
    assert_eq!(none, None, "no spill asked, none made");
    assert!(
        parsed_twice["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "LBL003"),
        "the demo's planted label flips are found from CSV too"
    );
    for threads in [1, 2, 3] {
        let (kept, rows_kept, spilled) = scan(threads, true);
        let spilled = spilled.expect("a CSV scan records its spill");
        if spilled.contains("held in memory (tmpfs)") {
            // This machine's temporary folder is memory: the blocks were parsed again.
            eprintln!("{spilled}");
            assert_eq!(kept, parsed_twice, "{threads} threads");
            continue;
        }
        assert!(
            spilled.contains(&format!(
                "({blocks} CSV blocks kept decoded and {blocks} read back"
            )),
            "every block kept and read back: {spilled}"
        );
        assert!(!spilled.contains("stopped"), "{spilled}");
        assert_eq!(kept, parsed_twice, "{threads} threads");
        assert_eq!(rows_kept, rows_twice, "{threads} threads");
    }
}

/// Two profiles made elsewhere (a Spark driver's, or both sides saved) are compared only when
/// their label and id are the same columns: a baseline profiled with another id left that
/// column out of every comparison.
#[test]
fn a_report_on_profiles_with_another_id_is_refused() {
    let s = settings(2);
    let engine = Engine::new(&s);
    let baseline = engine.profile(Data::Paths(&demo("baseline"))).unwrap();
    let current = engine
        .profile_against(Data::Paths(&demo("current")), &baseline)
        .unwrap();
    let mut other = baseline.clone();
    other.id = Some("age".to_string());
    let err = engine
        .report(current.clone(), Some(other), None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains(
            "the baseline profile was made with --id age, the current profile with --id customer_id"
        ),
        "{err}"
    );
    let mut unlabelled = baseline.clone();
    unlabelled.label = None;
    let err = engine
        .report(current.clone(), Some(unlabelled), None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("made with no --label"), "{err}");
    assert!(engine.report(current, Some(baseline), None).is_ok());
}
