//! Counting an Iceberg table from its metadata, and when that count cannot be trusted.
//!
//! One query reads the window's data files from `"t$files"` (rows = the sum of their
//! `record_count`) and, as scalar subqueries, the delete totals of the current snapshot's
//! summary in `"t$snapshots"` (`total-delete-files`, `total-position-deletes`,
//! `total-equality-deletes`). The snapshot summary is the authority on deletes: Athena documents
//! `$files` as listing data files, so its `content` column cannot be relied on to show delete
//! files. The metadata count is used only when the summary states its totals and all are 0 and
//! `$files` shows no delete file either; otherwise the side is counted with `count(*)` and the
//! result says why.
//!
//! Which `$files` partitions hold a window comes from the table's metadata file
//! (`metadata_location`), read from S3 within [`METADATA_FILE_CAP`] and parsed into only the
//! fields used: a table with many snapshots has a metadata file of tens to hundreds of MB, which
//! must not take down a 256 MB function. A larger file is not read; its side is counted with
//! `count(*)`, saying so.

mod metadata_file;

pub use metadata_file::{fetch_layout, read_layout, METADATA_FILE_CAP};

use lakeops::pricing::human_bytes;
use lakeops::LakeopsError;

use crate::sqlsafe::TableName;

/// Why an Iceberg side cannot be counted from its metadata (its metadata file, or how its
/// partitions map onto the window). It becomes the side's `method_reason` and the side is
/// counted with `count(*)` instead: it never fails a run.
#[derive(Debug, thiserror::Error)]
pub enum IcebergError {
    #[error("Glue gives the table no metadata_location")]
    NoMetadataLocation,
    #[error("{uri:?} is not an s3:// URI")]
    NotS3Uri { uri: String },
    #[error("{uri}: {source}")]
    S3Read { uri: String, source: LakeopsError },
    #[error(
        "the metadata file {uri} is {} ({size} bytes), over the {} this function reads into memory",
        human_bytes(*size as u64),
        human_bytes(*cap as u64)
    )]
    TooBig {
        uri: String,
        size: usize,
        cap: usize,
    },
    #[error(
        "the metadata file {uri} sent more than the {} this function reads into memory (S3 stated no size; reading stopped there)",
        human_bytes(*cap as u64)
    )]
    BodyOverCap { uri: String, cap: usize },
    /// serde_json's message (line and column).
    #[error("not Iceberg metadata JSON: {0}")]
    NotMetadataJson(String),
    #[error("the default partition spec is not among the specs")]
    DefaultSpecMissing,
    #[error("a partition field without source-id")]
    FieldWithoutSourceId,
    #[error("partition source column {0} is in no schema")]
    SourceColumnMissing(i64),
    #[error("partition evolution: the table has had {0} partition specs, and files written under an older one would be missed")]
    PartitionEvolution(usize),
    #[error("{key} is not an identity partition of the table")]
    NotIdentityPartition { key: String },
    #[error("{column} is partitioned by {transform}({column}), which does not map to one day")]
    NotOneDay { column: String, transform: String },
    #[error("the table is not partitioned by {column}")]
    NotPartitionedBy { column: String },
}

/// Columns of the metadata query's one row.
const DELETE_FILES_IN_FILES: usize = 0;
pub const DATA_ROWS: usize = 1;
pub const FILES: usize = 2;
const SNAPSHOT_TOTALS: [(usize, &str); 3] = [
    (3, "total-delete-files"),
    (4, "total-position-deletes"),
    (5, "total-equality-deletes"),
];

/// The metadata query for a window given as `"partition"."key" = <literal>` predicates.
pub fn metadata_query(table: &TableName, files_where: &[String]) -> String {
    let snapshots = table.quoted("$snapshots");
    let totals: Vec<String> = SNAPSHOT_TOTALS
        .iter()
        .map(|(_, key)| {
            format!(
                "(SELECT element_at(summary, '{key}') FROM {snapshots} ORDER BY committed_at DESC LIMIT 1) AS \"{key}\""
            )
        })
        .collect();
    format!(
        "SELECT count_if(content <> 0) AS delete_files, coalesce(sum(CASE WHEN content = 0 THEN record_count ELSE 0 END), 0) AS data_rows, count(*) AS files, {} FROM {}{}",
        totals.join(", "),
        table.quoted("$files"),
        if files_where.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", files_where.join(" AND "))
        }
    )
}

/// Why the metadata count of this answer cannot be trusted, or `None` when it can.
pub fn untrusted_because(rows: &[Vec<Option<String>>]) -> Option<String> {
    let cell =
        |col: usize| -> Option<u64> { rows.first()?.get(col)?.as_deref()?.trim().parse().ok() };
    let stated: Vec<(&str, u64)> = SNAPSHOT_TOTALS
        .iter()
        .filter_map(|(col, key)| cell(*col).map(|n| (*key, n)))
        .collect();
    if stated.is_empty() {
        return Some(
            "the current snapshot's summary states no delete totals (or the table has no snapshot)"
                .into(),
        );
    }
    let nonzero: Vec<String> = stated
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(key, n)| format!("{key} {n}"))
        .collect();
    if !nonzero.is_empty() {
        return Some(format!("snapshot summary: {}", nonzero.join(", ")));
    }
    match cell(DELETE_FILES_IN_FILES) {
        Some(0) => None,
        Some(n) => Some(format!("$files lists {n} delete files")),
        None => Some("$files did not say how many delete files it lists".into()),
    }
}

/// A table's partitioning as its Iceberg metadata file (`metadata_location`) states it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// How many partition specs the table has had: more than one means partition evolution.
    pub specs: usize,
    /// The current (default) spec's fields.
    pub fields: Vec<SpecField>,
}

/// One partition field: its name in `$files`' `partition`, its transform, its source column.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecField {
    pub name: String,
    pub transform: String,
    pub source: String,
    /// The source column's Iceberg type (`date`, `timestamp`, `timestamptz`, …).
    pub source_type: String,
}

/// The `$files` predicates that select exactly a window's files: each `partition` key an
/// identity field of the current spec, the day window a `day(column)` field (or an identity
/// field on a DATE column). `Err` says why the metadata cannot count this window (then the side
/// is counted with `count(*)`).
pub fn files_filter(
    layout: &Layout,
    identity: &[(String, String)],
    day: Option<(&str, chrono::NaiveDate)>,
) -> Result<Vec<String>, IcebergError> {
    if layout.specs > 1 {
        return Err(IcebergError::PartitionEvolution(layout.specs));
    }
    let field = |column: &str| {
        layout
            .fields
            .iter()
            .filter(|f| f.source.eq_ignore_ascii_case(column))
            .collect::<Vec<_>>()
    };
    let mut out = Vec::new();
    for (key, literal) in identity {
        let Some(f) = field(key).into_iter().find(|f| f.transform == "identity") else {
            return Err(IcebergError::NotIdentityPartition { key: key.clone() });
        };
        out.push(format!("\"partition\".\"{}\" = {literal}", f.name));
    }
    if let Some((column, d)) = day {
        let fields = field(column);
        let f = fields
            .iter()
            .find(|f| {
                f.transform == "day" || (f.transform == "identity" && f.source_type == "date")
            })
            .ok_or_else(|| match fields.first() {
                Some(f) => IcebergError::NotOneDay {
                    column: column.to_string(),
                    transform: f.transform.clone(),
                },
                None => IcebergError::NotPartitionedBy {
                    column: column.to_string(),
                },
            })?;
        out.push(format!(
            "\"partition\".\"{}\" = DATE '{}'",
            f.name,
            d.format("%Y-%m-%d")
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[Option<&str>]) -> Vec<Vec<Option<String>>> {
        vec![cells.iter().map(|c| c.map(str::to_string)).collect()]
    }

    #[test]
    fn the_snapshot_summary_decides() {
        let zero = Some("0");
        assert_eq!(
            untrusted_because(&row(&[zero, Some("1000"), Some("4"), zero, zero, zero])),
            None
        );
        // $files shows no delete file, but the summary counts them (after a MERGE).
        assert_eq!(
            untrusted_because(&row(&[
                zero,
                Some("1000"),
                Some("4"),
                Some("2"),
                Some("17"),
                zero
            ]))
            .as_deref(),
            Some("snapshot summary: total-delete-files 2, total-position-deletes 17")
        );
        assert!(
            untrusted_because(&row(&[zero, Some("1000"), Some("4"), None, None, None]))
                .unwrap()
                .contains("no delete totals")
        );
        // A summary with only some totals: the stated ones decide.
        assert_eq!(
            untrusted_because(&row(&[zero, Some("9"), Some("1"), zero, None, None])),
            None
        );
        assert!(
            untrusted_because(&row(&[Some("3"), Some("9"), Some("1"), zero, zero, zero]))
                .unwrap()
                .contains("$files lists 3 delete files")
        );
        assert!(untrusted_because(&[]).is_some());
    }

    /// Table metadata in the shape of the Iceberg spec's table metadata (format v2), as written
    /// for a table `PARTITIONED BY (day(ts), region)`, then evolved to `bucket(16, id)`.
    const METADATA: &str = r#"{"format-version": 2, "current-schema-id": 0,
      "schemas": [{"schema-id": 0, "type": "struct", "fields": [
        {"id": 1, "name": "id", "required": true, "type": "long"},
        {"id": 2, "name": "ts", "required": false, "type": "timestamptz"},
        {"id": 3, "name": "region", "required": false, "type": "string"},
        {"id": 4, "name": "sale_date", "required": false, "type": "date"}]}],
      "default-spec-id": 0,
      "partition-specs": [{"spec-id": 0, "fields": [
        {"name": "ts_day", "transform": "day", "source-id": 2, "field-id": 1000},
        {"name": "region", "transform": "identity", "source-id": 3, "field-id": 1001},
        {"name": "sale_date", "transform": "identity", "source-id": 4, "field-id": 1002},
        {"name": "id_bucket", "transform": "bucket[16]", "source-id": 1, "field-id": 1003}]}]}"#;

    #[test]
    fn a_day_window_maps_to_the_day_partition() {
        let layout = read_layout(METADATA).unwrap();
        assert_eq!(layout.specs, 1);
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        assert_eq!(
            files_filter(
                &layout,
                &[("region".into(), "'eu'".into())],
                Some(("ts", day))
            )
            .unwrap(),
            vec![
                "\"partition\".\"region\" = 'eu'".to_string(),
                "\"partition\".\"ts_day\" = DATE '2026-11-22'".to_string()
            ]
        );
        // An identity partition on a DATE column is a day too.
        assert_eq!(
            files_filter(&layout, &[], Some(("sale_date", day))).unwrap(),
            vec!["\"partition\".\"sale_date\" = DATE '2026-11-22'".to_string()]
        );
        // What the metadata cannot count: count(*), saying why.
        assert!(files_filter(&layout, &[], Some(("id", day)))
            .unwrap_err()
            .to_string()
            .contains("partitioned by bucket[16](id)"));
        assert!(files_filter(&layout, &[], Some(("other", day)))
            .unwrap_err()
            .to_string()
            .contains("not partitioned by other"));
        assert!(files_filter(&layout, &[("ts".into(), "'x'".into())], None)
            .unwrap_err()
            .to_string()
            .contains("ts is not an identity partition"));
        // Partition evolution: a second spec.
        let evolved = METADATA.replace(
            r#""partition-specs": [{"spec-id": 0,"#,
            r#""partition-specs": [{"spec-id": 1, "fields": []}, {"spec-id": 0,"#,
        );
        let layout = read_layout(&evolved).unwrap();
        assert_eq!(layout.specs, 2);
        assert!(files_filter(&layout, &[], Some(("ts", day)))
            .unwrap_err()
            .to_string()
            .contains("partition evolution"));
        // Format v1: one `partition-spec`, one `schema`.
        let v1 = r#"{"format-version": 1, "schema": {"type": "struct", "fields": [
            {"id": 1, "name": "dt", "required": false, "type": "string"}]},
            "partition-spec": [{"name": "dt", "transform": "identity", "source-id": 1, "field-id": 1000}]}"#;
        let layout = read_layout(v1).unwrap();
        assert_eq!(
            files_filter(&layout, &[("dt".into(), "'2026-11-22'".into())], None).unwrap(),
            vec!["\"partition\".\"dt\" = '2026-11-22'".to_string()]
        );
        assert!(read_layout("{not json").is_err());
    }

    #[test]
    fn one_query_reads_files_and_the_current_snapshot() {
        let t = TableName::parse("sales.orders").unwrap();
        let sql = metadata_query(&t, &["\"partition\".\"dt\" = DATE '2026-11-22'".into()]);
        assert!(sql.contains("FROM \"awsdatacatalog\".\"sales\".\"orders$files\" WHERE \"partition\".\"dt\" = DATE '2026-11-22'"), "{sql}");
        assert!(sql.contains("(SELECT element_at(summary, 'total-delete-files') FROM \"awsdatacatalog\".\"sales\".\"orders$snapshots\" ORDER BY committed_at DESC LIMIT 1)"), "{sql}");
    }
}
