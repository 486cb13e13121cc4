//! A table side's window on one run date, rendered: the predicates of its partition values, its
//! day window and its filter, as literals of each column's type.

use chrono::{Duration, NaiveDate};

use crate::catalog::{TableInfo, TypedLiteral};
use crate::checks;
use crate::sqlsafe::{literal, quote_identifier};
use crate::template::{self, RunDate};

use super::PlanError;

/// A table side's window on one run date, and what the metadata count needs of it.
pub struct RenderedWindow {
    pub predicates: Vec<String>,
    /// `partition` keys with their rendered values (for Glue and S3 lookups).
    pub partition: Vec<(String, String)>,
    /// `partition` keys with their values as typed literals (for `$files`).
    pub typed_identity: Vec<(String, String)>,
    /// The day window's column and day.
    pub day: Option<(String, NaiveDate)>,
}

/// Renders a side's `partition`, `window` and `filter` for a run date. Each partition value is a
/// literal of its column's type (a DATE column is compared with `DATE '…'`; a table outside Glue
/// has no types to read: strings); the day window is a range over the column (or one DATE value).
pub fn render(
    partition: &[(String, String)],
    window: Option<&checks::Window>,
    filter: &Option<String>,
    date: &RunDate,
    info: Option<&TableInfo>,
) -> Result<RenderedWindow, PlanError> {
    let column_type = |c: &str| info.and_then(|i| i.column_type(c)).map(str::to_string);
    let mut w = RenderedWindow {
        predicates: Vec::new(),
        partition: Vec::new(),
        typed_identity: Vec::new(),
        day: None,
    };
    for (key, value) in partition {
        let v = template::render(value, date)
            .map_err(PlanError::template(format!("partition.{key}")))?;
        let lit =
            match column_type(key) {
                Some(t) => TypedLiteral::of_type(&t).write(&v).map_err(|source| {
                    PlanError::PartitionValue {
                        key: key.clone(),
                        column_type: t.clone(),
                        source,
                    }
                })?,
                None => literal(&v),
            };
        w.predicates
            .push(format!("{} = {lit}", quote_identifier(key)));
        w.typed_identity.push((key.clone(), lit));
        w.partition.push((key.clone(), v));
    }
    if let Some(win) = window {
        let text = template::render(&win.day, date).map_err(PlanError::template("window.day"))?;
        let day = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map_err(|_| PlanError::WindowDay { text: text.clone() })?;
        let col = quote_identifier(&win.column);
        w.predicates
            .push(match column_type(&win.column).as_deref() {
                Some("date") => format!("{col} = DATE '{}'", day.format("%Y-%m-%d")),
                _ => format!(
                    "{col} >= TIMESTAMP '{} 00:00:00' AND {col} < TIMESTAMP '{} 00:00:00'",
                    day.format("%Y-%m-%d"),
                    (day + Duration::days(1)).format("%Y-%m-%d")
                ),
            });
        w.day = Some((win.column.clone(), day));
    }
    if let Some(f) = filter {
        let f = template::render(f, date).map_err(PlanError::template("filter"))?;
        w.predicates.push(format!("({f})"));
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunDate {
        RunDate::at("2026-11-23T10:00:00Z".parse().unwrap(), chrono_tz::UTC)
    }

    fn date_partitioned() -> TableInfo {
        TableInfo {
            updated_at: None,
            iceberg: false,
            partition_keys: vec![("dt".into(), "date".into())],
            columns: Vec::new(),
            projection: None,
            metadata_location: None,
        }
    }

    #[test]
    fn a_window_that_does_not_render_names_its_field() {
        let partition = vec![("dt".to_string(), "{{ today_compact }}".to_string())];
        let err = render(&partition, None, &None, &run(), Some(&date_partitioned()))
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "partition dt (date): \"20261123\" is not a date (YYYY-MM-DD)"
        );
        let filter = Some("dt = '{{ tomorrow }}'".to_string());
        let err = render(&[], None, &filter, &run(), None).err().unwrap();
        assert!(
            err.to_string()
                .starts_with("filter: unknown template variable \"tomorrow\""),
            "{err}"
        );
        let window = checks::Window {
            column: "ts".into(),
            day: "{{ today_compact }}".into(),
        };
        let err = render(&[], Some(&window), &None, &run(), None)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "window.day \"20261123\" is not a date (YYYY-MM-DD)"
        );
    }
}
