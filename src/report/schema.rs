//! The report contract as JSON Schema (draft 2020-12), kept in `schema/` at the root of the
//! repository and compiled into the library, so `poisonscan schema` and other tools read the
//! same text the tests validate every report against.

/// The JSON Schema of the report (`scan --format json`, `report.json`): every field the report
/// writes, with `additionalProperties: false` wherever the fields are fixed, so a field that
/// drifts from the contract fails validation. Printed by `poisonscan schema report`.
pub const REPORT_SCHEMA: &str = include_str!("../../schema/report.schema.json");

/// The JSON Schema of one row of the rows file (`scan --rows-out FILE.parquet`) as a JSON
/// object, each property annotated with its Parquet column's Arrow type and nullability
/// (`x-arrow`). Printed by `poisonscan schema rows`.
pub const ROWS_SCHEMA: &str = include_str!("../../schema/rows.schema.json");
