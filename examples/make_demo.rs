//! Writes the demo data under `datasets/demo/`: a trusted baseline and a current training set
//! with documented, injected problems (see `datasets/README.md`). Deterministic: the same
//! binary writes the same bytes.
//!
//! Run: `cargo run --release --example make_demo -- datasets/demo`

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const PART_ROWS: usize = 20_000;
const REGIONS: &[&str] = &["north", "south", "east", "west", "central"];
const EMPLOYMENT: &[&str] = &[
    "salaried",
    "self-employed",
    "unemployed",
    "retired",
    "student",
];
const CHANNELS: &[&str] = &["web", "branch", "phone", "partner"];
const PROMOS: &[&str] = &["SPRING", "LOYAL10", "WELCOME", "FRIEND"];

#[derive(Clone)]
struct Row {
    customer_id: String,
    age: i64,
    income: f64,
    credit_score: i64,
    debt_ratio: f64,
    num_accounts: i64,
    region: String,
    employment: Option<String>,
    channel: String,
    promo_code: Option<String>,
    label: i64,
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str], weights: &[f64]) -> &'a str {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random_range(0.0..total);
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return items[i];
        }
        x -= w;
    }
    items[items.len() - 1]
}

/// One clean row: the label follows a logistic model of the features.
fn row(rng: &mut ChaCha8Rng, id: usize, debt_shift: f64) -> Row {
    let age = (38.0 + 12.0 * normal(rng)).clamp(18.0, 90.0).round() as i64;
    let income = (10.6 + 0.45 * normal(rng)).exp().round();
    let credit_score = (680.0 + 60.0 * normal(rng)).clamp(300.0, 850.0).round() as i64;
    let debt_ratio = ((0.35 + 0.15 * normal(rng)).clamp(0.0, 1.5) + debt_shift).max(0.0);
    let num_accounts = ((3.0 + 2.0 * normal(rng)).round() as i64).clamp(0, 20);
    let region = pick(rng, REGIONS, &[0.25, 0.2, 0.2, 0.2, 0.15]).to_string();
    let employment = pick(rng, EMPLOYMENT, &[0.6, 0.15, 0.07, 0.1, 0.08]).to_string();
    let channel = pick(rng, CHANNELS, &[0.5, 0.2, 0.15, 0.15]).to_string();
    let promo_code =
        (rng.random::<f64>() < 0.3).then(|| pick(rng, PROMOS, &[1.0, 1.0, 1.0, 1.0]).to_string());
    let emp_effect = match employment.as_str() {
        "salaried" => 0.6,
        "retired" => 0.3,
        "self-employed" => 0.2,
        "student" => -0.4,
        _ => -1.2,
    };
    let z = -0.5 + 0.012 * (credit_score - 680) as f64 - 4.0 * (debt_ratio - 0.35)
        + 0.8 * (income.ln() - 10.6)
        + emp_effect;
    let p = 1.0 / (1.0 + (-z).exp());
    let label = i64::from(rng.random::<f64>() < p);
    Row {
        customer_id: format!("C{id:07}"),
        age,
        income,
        credit_score,
        debt_ratio: (debt_ratio * 1e4).round() / 1e4,
        num_accounts,
        region,
        employment: Some(employment),
        channel,
        promo_code,
        label,
    }
}

fn write(path: &Path, rows: &[Row]) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Utf8, false),
        Field::new("age", DataType::Int64, false),
        Field::new("income", DataType::Float64, false),
        Field::new("credit_score", DataType::Int64, false),
        Field::new("debt_ratio", DataType::Float64, false),
        Field::new("num_accounts", DataType::Int64, false),
        Field::new("region", DataType::Utf8, false),
        Field::new("employment", DataType::Utf8, true),
        Field::new("channel", DataType::Utf8, false),
        Field::new("promo_code", DataType::Utf8, true),
        Field::new("label", DataType::Int64, false),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.customer_id.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.age))),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.income),
        )),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.credit_score),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.debt_ratio),
        )),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.num_accounts),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.region.as_str()),
        )),
        Arc::new(StringArray::from(
            rows.iter()
                .map(|r| r.employment.as_deref())
                .collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.channel.as_str()),
        )),
        Arc::new(StringArray::from(
            rows.iter()
                .map(|r| r.promo_code.as_deref())
                .collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.label))),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols).expect("valid batch");
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(9).expect("level")))
        .set_max_row_group_row_count(Some(10_000))
        .set_created_by("poisonscan make_demo".into())
        .build();
    let file = File::create(path).expect("create part file");
    let mut w = ArrowWriter::try_new(file, schema, Some(props)).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "datasets/demo".into());
    let out = Path::new(&out);
    let (base_dir, cur_dir) = (out.join("baseline"), out.join("current"));
    std::fs::create_dir_all(&base_dir).expect("mkdir baseline");
    std::fs::create_dir_all(&cur_dir).expect("mkdir current");
    let mut rng = ChaCha8Rng::seed_from_u64(20261121);
    let mut id = 0;
    let mut part = |rng: &mut ChaCha8Rng, shift: f64| -> Vec<Row> {
        (0..PART_ROWS)
            .map(|_| {
                id += 1;
                row(rng, id, shift)
            })
            .collect()
    };

    // Baseline: three clean parts.
    for i in 0..3 {
        let rows = part(&mut rng, 0.0);
        write(&base_dir.join(format!("part-{i}.parquet")), &rows);
    }

    // Current. `debt_ratio` drifts up by 0.15 in every part (a drifted column).
    // part-0: new channel category `crypto-app` (3%), income reported in thousands (unit change).
    let mut p0 = part(&mut rng, 0.15);
    for r in p0.iter_mut() {
        if rng.random::<f64>() < 0.03 {
            r.channel = "crypto-app".into();
        }
        r.income = (r.income / 1000.0 * 100.0).round() / 100.0;
    }
    write(&cur_dir.join("part-0.parquet"), &p0);

    // part-1: targeted label flipping (region = south and employment = self-employed: 1 -> 0)
    // and a null-rate jump in `employment` (12% of the other rows).
    let mut p1 = part(&mut rng, 0.15);
    for r in p1.iter_mut() {
        if r.region == "south" && r.employment.as_deref() == Some("self-employed") {
            r.label = 0;
        } else if rng.random::<f64>() < 0.12 {
            r.employment = None;
        }
    }
    write(&cur_dir.join("part-1.parquet"), &p1);

    // part-2: a backdoor trigger (promo_code = `ZX-99`, never seen in the baseline, on 300 rows,
    // all labelled 1), an outlier block (200 rows with 60–90 accounts and 20× income), and
    // 1,500 exact duplicates of part-0 rows appended (up-weighting).
    let mut p2 = part(&mut rng, 0.15);
    for r in p2.iter_mut().take(300) {
        r.promo_code = Some("ZX-99".into());
        r.label = 1;
    }
    for r in p2.iter_mut().skip(300).take(200) {
        r.num_accounts = rng.random_range(60..=90);
        r.income *= 20.0;
    }
    p2.extend(p0.iter().step_by(4).take(1_500).cloned());
    write(&cur_dir.join("part-2.parquet"), &p2);

    // part-3: a replayed partition, byte for byte the baseline's part-1.
    std::fs::copy(
        base_dir.join("part-1.parquet"),
        cur_dir.join("part-3.parquet"),
    )
    .expect("copy replay");
    eprintln!("wrote {} and {}", base_dir.display(), cur_dir.display());
}
