//! A table side's window on one run date, rendered: the predicates of its partition values, its
//! day window and its filter, as literals of each column's type.

use chrono::{Duration, NaiveDate};

use crate::catalog::{TableInfo, TypedLiteral};
use crate::checks;
use crate::sqlsafe::{literal, quote_identifier};
use crate::template::{self, RunDate};

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
) -> Result<RenderedWindow, String> {
    let column_type = |c: &str| info.and_then(|i| i.column_type(c)).map(str::to_string);
    let mut w = RenderedWindow {
        predicates: Vec::new(),
        partition: Vec::new(),
        typed_identity: Vec::new(),
        day: None,
    };
    for (key, value) in partition {
        let v = template::render(value, date)?;
        let lit = match column_type(key) {
            Some(t) => TypedLiteral::of_type(&t)
                .write(&v)
                .map_err(|e| format!("partition {key} ({t}): {e}"))?,
            None => literal(&v),
        };
        w.predicates
            .push(format!("{} = {lit}", quote_identifier(key)));
        w.typed_identity.push((key.clone(), lit));
        w.partition.push((key.clone(), v));
    }
    if let Some(win) = window {
        let text = template::render(&win.day, date)?;
        let day = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map_err(|_| format!("window.day {text:?} is not a date (YYYY-MM-DD)"))?;
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
        w.predicates
            .push(format!("({})", template::render(f, date)?));
    }
    Ok(w)
}
