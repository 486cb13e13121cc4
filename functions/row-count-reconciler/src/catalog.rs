//! What the Glue Data Catalog knows about a table: its update time, whether it is Iceberg, its
//! partitions. Glue's crawler `recordCount` parameter is an estimate and is never read here.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use lakeops::calendar::LocalDay;
use lakeops::LakeopsError;

use crate::sqlsafe::{literal, TableName};

/// Why what Glue says about a table cannot be used for a side: a projected partition with no
/// location, or a partition value that is not of its column's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("storage.location.template {template:?} needs a value for every key it names")]
    TemplateNeedsEveryKey { template: String },
    #[error("a projected table with neither storage.location.template nor a location")]
    ProjectionWithoutLocation,
    /// `expected` reads as the type: `a date (YYYY-MM-DD)`, `an integer` …
    #[error("{value:?} is not {expected}")]
    NotOfType {
        value: String,
        expected: &'static str,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableInfo {
    pub updated_at: Option<DateTime<Utc>>,
    pub iceberg: bool,
    /// The partition keys with their Glue types (`string`, `date`, `int`, …), in order.
    pub partition_keys: Vec<(String, String)>,
    /// The other columns with their types (an Iceberg table's identity partitions are columns).
    pub columns: Vec<(String, String)>,
    /// Partition projection (`projection.enabled=true`): Athena works the partitions out from
    /// the table's properties and Glue lists none.
    pub projection: Option<Projection>,
    /// An Iceberg table's current metadata file (`metadata_location`), where its partition
    /// specs are.
    pub metadata_location: Option<String>,
}

/// Where a partition-projected table keeps a partition's files.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// `storage.location.template` (`s3://bucket/logs/${dt}/`), if the table sets one.
    pub location_template: Option<String>,
    /// The table's own location: partitions under it Hive-style (`dt=2026-11-22/`) otherwise.
    pub table_location: Option<String>,
}

impl Projection {
    /// The S3 prefix of one partition: the template with each `${key}` filled in, or the table
    /// location with `key=value/` per partition key in order (as far as values are given).
    pub fn partition_location(
        &self,
        keys: &[(String, String)],
        values: &[(String, String)],
    ) -> Result<String, CatalogError> {
        let value = |key: &str| {
            values
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
        };
        if let Some(template) = &self.location_template {
            let mut location = template.clone();
            for (key, _) in keys {
                if let Some(v) = value(key) {
                    location = location.replace(&format!("${{{key}}}"), v);
                }
            }
            if location.contains("${") {
                return Err(CatalogError::TemplateNeedsEveryKey {
                    template: template.clone(),
                });
            }
            return Ok(location);
        }
        let mut location = self
            .table_location
            .clone()
            .ok_or(CatalogError::ProjectionWithoutLocation)?;
        if !location.ends_with('/') {
            location.push('/');
        }
        for (key, _) in keys {
            let Some(v) = value(key) else { break };
            location.push_str(&format!("{key}={v}/"));
        }
        Ok(location)
    }
}

impl TableInfo {
    /// The Glue type of a partition key or column (names compare without case, as Athena's do).
    pub fn column_type(&self, name: &str) -> Option<&str> {
        self.partition_keys
            .iter()
            .chain(&self.columns)
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, t)| t.as_str())
    }
}

fn typed_columns(columns: &[aws_sdk_glue::types::Column]) -> Vec<(String, String)> {
    columns
        .iter()
        .map(|c| {
            (
                c.name().to_string(),
                c.r#type().unwrap_or("string").to_ascii_lowercase(),
            )
        })
        .collect()
}

/// The newest partition of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct NewestPartition {
    pub values: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
}

pub struct Catalog {
    pub client: aws_sdk_glue::Client,
}

fn to_utc(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

impl Catalog {
    pub async fn table(&self, t: &TableName) -> Result<TableInfo, LakeopsError> {
        let out = self
            .client
            .get_table()
            .database_name(&t.database)
            .name(&t.table)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("glue:GetTable", e))?;
        let table = out
            .table()
            .ok_or_else(|| LakeopsError::InvalidInput(format!("Glue has no table {t}")))?;
        let parameter = |name: &str| table.parameters().and_then(|p| p.get(name));
        let iceberg = parameter("table_type").is_some_and(|v| v.eq_ignore_ascii_case("iceberg"));
        let projection = parameter("projection.enabled")
            .filter(|v| v.eq_ignore_ascii_case("true"))
            .map(|_| Projection {
                location_template: parameter("storage.location.template").cloned(),
                table_location: table
                    .storage_descriptor()
                    .and_then(|d| d.location())
                    .map(str::to_string),
            });
        Ok(TableInfo {
            updated_at: table.update_time().and_then(to_utc),
            iceberg,
            partition_keys: typed_columns(table.partition_keys()),
            columns: table
                .storage_descriptor()
                .map(|d| typed_columns(d.columns()))
                .unwrap_or_default(),
            projection,
            metadata_location: parameter("metadata_location").cloned(),
        })
    }

    /// Whether a partition with exactly these key values exists (`GetPartitions` with an
    /// expression, so it works whatever the key order). Glue's expressions take integer keys'
    /// values bare and every other type's (`date`, `timestamp`, strings) quoted.
    pub async fn partition_exists(
        &self,
        t: &TableName,
        info: &TableInfo,
        values: &[(String, String)],
    ) -> Result<bool, LakeopsError> {
        let expression = values
            .iter()
            .map(
                |(k, v)| match info.column_type(k).map(TypedLiteral::of_type) {
                    Some(TypedLiteral::Integer) if v.parse::<i64>().is_ok() => format!("{k} = {v}"),
                    _ => format!("{k} = {}", literal(v)),
                },
            )
            .collect::<Vec<_>>()
            .join(" AND ");
        let out = self
            .client
            .get_partitions()
            .database_name(&t.database)
            .table_name(&t.table)
            .expression(expression)
            .max_results(1)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("glue:GetPartitions", e))?;
        Ok(!out.partitions().is_empty())
    }

    /// The newest partition by the first key's value (`by_value`) or by creation time: pages
    /// of 1,000 without column schemas, stopped at `deadline` (an error naming how far it got:
    /// a table with that many partitions wants `column:<name>` freshness instead).
    pub async fn newest_partition(
        &self,
        t: &TableName,
        by_value: bool,
        deadline: tokio::time::Instant,
    ) -> Result<Option<NewestPartition>, LakeopsError> {
        let mut best: Option<NewestPartition> = None;
        let mut token: Option<String> = None;
        let mut seen = 0usize;
        loop {
            if tokio::time::Instant::now() >= deadline {
                return Err(LakeopsError::InvalidInput(format!(
                    "{t}: {seen} partitions paged and more left at the deadline; use column:<name> freshness for a table this large"
                )));
            }
            let out = self
                .client
                .get_partitions()
                .database_name(&t.database)
                .table_name(&t.table)
                .max_results(1000)
                .exclude_column_schema(true)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| LakeopsError::aws("glue:GetPartitions", e))?;
            seen += out.partitions().len();
            for p in out.partitions() {
                let candidate = NewestPartition {
                    values: p.values().to_vec(),
                    created_at: p.creation_time().and_then(to_utc),
                };
                let newer = match &best {
                    None => true,
                    Some(b) if by_value => candidate.values.first() > b.values.first(),
                    Some(b) => candidate.created_at > b.created_at,
                };
                if newer {
                    best = Some(candidate);
                }
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(best);
            }
        }
    }
}

/// How a partition value is written in SQL, from its column's Glue type: Athena (Trino) will
/// not compare a DATE, TIMESTAMP or integer column with a string literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypedLiteral {
    Date,
    Timestamp,
    Integer,
    Decimal,
    Boolean,
    /// `string`, `varchar(n)`, `char(n)` and anything else: a quoted string.
    Text,
}

impl TypedLiteral {
    pub fn of_type(glue_type: &str) -> Self {
        let t = glue_type.trim().to_ascii_lowercase();
        let base = t.split('(').next().unwrap_or_default();
        match base {
            "date" => Self::Date,
            "timestamp" => Self::Timestamp,
            "tinyint" | "smallint" | "int" | "integer" | "bigint" => Self::Integer,
            "decimal" | "double" | "float" | "real" => Self::Decimal,
            "boolean" => Self::Boolean,
            _ => Self::Text,
        }
    }

    /// The value as a literal of this type (`DATE '2026-11-22'`, `TIMESTAMP '2026-11-22
    /// 13:00:00'`, `42`, `true`, `'eu-west-1'`), or why it is not one.
    pub fn write(self, value: &str) -> Result<String, CatalogError> {
        let v = value.trim();
        let bad = |expected: &'static str| CatalogError::NotOfType {
            value: value.to_string(),
            expected,
        };
        match self {
            Self::Date => NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(|d| format!("DATE '{}'", d.format("%Y-%m-%d")))
                .map_err(|_| bad("a date (YYYY-MM-DD)")),
            Self::Timestamp => parse_timestamp(v)
                .map(|t| format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.f")))
                .ok_or_else(|| bad("a timestamp (YYYY-MM-DD HH:MM:SS)")),
            Self::Integer => v
                .parse::<i64>()
                .map(|n| n.to_string())
                .map_err(|_| bad("an integer")),
            Self::Decimal => v
                .parse::<f64>()
                .ok()
                .filter(|f| {
                    f.is_finite()
                        && v.bytes()
                            .all(|c| c.is_ascii_digit() || b"+-.eE".contains(&c))
                })
                .map(|_| v.to_string())
                .ok_or_else(|| bad("a number")),
            Self::Boolean => match v.to_ascii_lowercase().as_str() {
                "true" | "false" => Ok(v.to_ascii_lowercase()),
                _ => Err(bad("true or false")),
            },
            Self::Text => Ok(literal(value)),
        }
    }
}

/// When data in a partition named by a date value is complete: the end of that day (local) or
/// hour. Understands `2026-11-22`, `20261122`, `2026-11-22-13`, `2026-11-22 13`, `2026112213`.
pub fn partition_value_end(value: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let v = value.trim();
    for fmt in ["%Y-%m-%d", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(v, fmt) {
            return Some(LocalDay::new(d, tz).end());
        }
    }
    for fmt in ["%Y-%m-%d-%H", "%Y-%m-%d %H", "%Y%m%d%H"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&format!("{v}:00"), &format!("{fmt}:%M")) {
            let start = t.and_local_timezone(tz).earliest()?.with_timezone(&Utc);
            return Some(start + Duration::hours(1));
        }
    }
    None
}

/// A `max(timestamp column)` answer as an instant; values without a zone are read as UTC.
pub fn parse_timestamp(value: &str) -> Option<DateTime<Utc>> {
    let v = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    let v = v.trim_end_matches(" UTC");
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, fmt) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Seoul;

    #[tokio::test]
    async fn paging_partitions_stops_at_the_deadline() {
        let config = aws_sdk_glue::Config::builder()
            .behavior_version(aws_sdk_glue::config::BehaviorVersion::latest())
            .region(aws_sdk_glue::config::Region::new("us-east-1"))
            .build();
        let catalog = Catalog {
            client: aws_sdk_glue::Client::from_conf(config),
        };
        let t = TableName::parse("lake.events").unwrap();
        let err = catalog
            .newest_partition(&t, true, tokio::time::Instant::now())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("0 partitions paged and more left at the deadline"),
            "{err}"
        );
    }

    #[test]
    fn projected_partitions_are_found_where_the_table_keeps_them() {
        let keys = vec![
            ("dt".to_string(), "string".to_string()),
            ("region".to_string(), "string".to_string()),
        ];
        let values = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let hive = Projection {
            location_template: None,
            table_location: Some("s3://lake/logs".into()),
        };
        assert_eq!(
            hive.partition_location(&keys, &values(&[("region", "eu"), ("dt", "2026-11-22")])),
            Ok("s3://lake/logs/dt=2026-11-22/region=eu/".into())
        );
        assert_eq!(
            hive.partition_location(&keys, &values(&[("dt", "2026-11-22")])),
            Ok("s3://lake/logs/dt=2026-11-22/".into()),
            "a prefix as far as values are given"
        );
        let templated = Projection {
            location_template: Some("s3://lake/raw/${region}/${dt}/".into()),
            table_location: Some("s3://elsewhere/".into()),
        };
        assert_eq!(
            templated.partition_location(&keys, &values(&[("dt", "2026-11-22"), ("region", "eu")])),
            Ok("s3://lake/raw/eu/2026-11-22/".into())
        );
        assert!(templated
            .partition_location(&keys, &values(&[("dt", "2026-11-22")]))
            .unwrap_err()
            .to_string()
            .contains("needs a value for every key"));
        let nowhere = Projection {
            location_template: None,
            table_location: None,
        };
        assert!(nowhere.partition_location(&keys, &[]).is_err());
    }

    #[test]
    fn partition_literals_follow_the_column_type() {
        let lit = |t: &str, v: &str| TypedLiteral::of_type(t).write(v);
        assert_eq!(lit("date", "2026-11-22").unwrap(), "DATE '2026-11-22'");
        assert_eq!(
            lit("timestamp", "2026-11-22 13:00:00").unwrap(),
            "TIMESTAMP '2026-11-22 13:00:00'"
        );
        for t in ["int", "bigint", "smallint", "tinyint", "INT"] {
            assert_eq!(lit(t, "20261122").unwrap(), "20261122", "{t}");
        }
        assert_eq!(lit("decimal(10,2)", "12.50").unwrap(), "12.50");
        assert_eq!(lit("boolean", "TRUE").unwrap(), "true");
        assert_eq!(lit("string", "eu-west-1").unwrap(), "'eu-west-1'");
        assert_eq!(lit("varchar(10)", "it's").unwrap(), "'it''s'");
        assert_eq!(lit("char(2)", "kr").unwrap(), "'kr'");
        // A value that is not of the column's type is an error, not a wrong literal.
        assert_eq!(
            lit("date", "20261122").unwrap_err().to_string(),
            "\"20261122\" is not a date (YYYY-MM-DD)"
        );
        assert_eq!(
            lit("int", "2026-11-22").unwrap_err(),
            CatalogError::NotOfType {
                value: "2026-11-22".into(),
                expected: "an integer"
            }
        );
        assert!(lit("int", "1 OR 1=1").is_err());
        assert!(lit("decimal(10,2)", "1e3); DROP").is_err());
        assert!(lit("timestamp", "yesterday").is_err());
        assert!(lit("boolean", "yes").is_err());
    }

    #[test]
    fn partition_values_and_timestamps() {
        let end = partition_value_end("2026-11-22", Seoul).unwrap();
        assert_eq!(end.to_rfc3339(), "2026-11-22T15:00:00+00:00");
        assert_eq!(partition_value_end("20261122", Seoul), Some(end));
        assert_eq!(
            partition_value_end("2026-11-22-13", Seoul)
                .unwrap()
                .to_rfc3339(),
            "2026-11-22T05:00:00+00:00"
        );
        assert_eq!(partition_value_end("eu-west-1", Seoul), None);
        for v in [
            "2026-11-22 13:04:05.123",
            "2026-11-22 13:04:05.123 UTC",
            "2026-11-22T13:04:05Z",
        ] {
            assert_eq!(
                parse_timestamp(v)
                    .map(|t| t.format("%H:%M:%S").to_string())
                    .as_deref(),
                Some("13:04:05"),
                "{v}"
            );
        }
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
