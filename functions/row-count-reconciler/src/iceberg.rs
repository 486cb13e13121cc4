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

use crate::sqlsafe::TableName;

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

    #[test]
    fn one_query_reads_files_and_the_current_snapshot() {
        let t = TableName::parse("sales.orders").unwrap();
        let sql = metadata_query(&t, &["\"partition\".\"dt\" = DATE '2026-11-22'".into()]);
        assert!(sql.contains("FROM \"awsdatacatalog\".\"sales\".\"orders$files\" WHERE \"partition\".\"dt\" = DATE '2026-11-22'"), "{sql}");
        assert!(sql.contains("(SELECT element_at(summary, 'total-delete-files') FROM \"awsdatacatalog\".\"sales\".\"orders$snapshots\" ORDER BY committed_at DESC LIMIT 1)"), "{sql}");
    }
}
