//! CloudWatch Embedded Metric Format: metrics as JSON log lines, no PutMetricData calls.
//!
//! A function records values into [`Metrics`] during an invocation and calls [`Metrics::flush`]
//! once at the end; each distinct dimension set becomes one EMF line on stdout, which Lambda
//! ships to CloudWatch Logs and CloudWatch turns into metrics.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{json, Map, Value};

/// EMF units used by lakeops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Bytes,
    Seconds,
    Milliseconds,
    Megabytes,
    Percent,
    /// Dollars have no CloudWatch unit.
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Bytes => "Bytes",
            Unit::Seconds => "Seconds",
            Unit::Milliseconds => "Milliseconds",
            Unit::Megabytes => "Megabytes",
            Unit::Percent => "Percent",
            Unit::None => "None",
        }
    }
}

/// CloudWatch accepts at most 100 metrics per EMF directive.
const MAX_METRICS_PER_LINE: usize = 100;
/// ... and at most 100 values in one metric's value array.
const MAX_VALUES_PER_METRIC: usize = 100;

type Dimensions = Vec<(String, String)>;

/// Metric values collected during one invocation, grouped by dimension set.
#[derive(Debug)]
pub struct Metrics {
    namespace: String,
    groups: BTreeMap<Dimensions, BTreeMap<String, (Unit, Vec<f64>)>>,
}

impl Metrics {
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            groups: BTreeMap::new(),
        }
    }

    /// Records one value. Several values of one metric in one dimension set are kept as an EMF
    /// value array (CloudWatch aggregates them: Sum, Average, percentiles all work).
    pub fn record(&mut self, dimensions: &[(&str, &str)], name: &str, value: f64, unit: Unit) {
        if !value.is_finite() {
            tracing::warn!(metric = name, "non-finite metric value skipped");
            return;
        }
        let dims: Dimensions = dimensions
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.groups
            .entry(dims)
            .or_default()
            .entry(name.to_string())
            .or_insert_with(|| (unit, Vec::new()))
            .1
            .push(value);
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The sum of the values of `name` recorded in each dimension set (what CloudWatch's `Sum`
    /// will show once flushed), keyed by the dimensions' values in order.
    pub fn sums(&self, name: &str) -> BTreeMap<Vec<String>, f64> {
        self.groups
            .iter()
            .filter_map(|(dims, metrics)| {
                let (_, values) = metrics.get(name)?;
                let key = dims.iter().map(|(_, v)| v.clone()).collect();
                Some((key, values.iter().sum()))
            })
            .collect()
    }

    /// Renders the EMF lines (one per dimension set, at most 100 metrics and 100 values per
    /// metric each — more values go on further lines), leaving the collection empty.
    pub fn take_lines(&mut self, timestamp_ms: i64) -> Vec<String> {
        let mut lines = Vec::new();
        for (dims, metrics) in std::mem::take(&mut self.groups) {
            let metrics: Vec<_> = metrics.into_iter().collect();
            let rounds = metrics
                .iter()
                .map(|(_, (_, v))| v.len().div_ceil(MAX_VALUES_PER_METRIC))
                .max()
                .unwrap_or(0);
            for round in 0..rounds {
                let from = round * MAX_VALUES_PER_METRIC;
                // The metrics that still have values in this round, each with its slice.
                let this_round: Vec<(&String, Unit, &[f64])> = metrics
                    .iter()
                    .filter(|(_, (_, v))| v.len() > from)
                    .map(|(name, (unit, v))| {
                        (
                            name,
                            *unit,
                            &v[from..v.len().min(from + MAX_VALUES_PER_METRIC)],
                        )
                    })
                    .collect();
                for chunk in this_round.chunks(MAX_METRICS_PER_LINE) {
                    lines.push(self.line(&dims, chunk, timestamp_ms));
                }
            }
        }
        lines
    }

    fn line(
        &self,
        dims: &Dimensions,
        chunk: &[(&String, Unit, &[f64])],
        timestamp_ms: i64,
    ) -> String {
        let mut root = Map::new();
        let definitions: Vec<Value> = chunk
            .iter()
            .map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        let dim_names: Vec<&str> = dims.iter().map(|(k, _)| k.as_str()).collect();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [dim_names],
                    "Metrics": definitions,
                }]
            }),
        );
        for (k, v) in dims {
            root.insert(k.clone(), Value::String(v.clone()));
        }
        for (name, _, values) in chunk {
            let v = if values.len() == 1 {
                json!(values[0])
            } else {
                json!(values)
            };
            root.insert((*name).clone(), v);
        }
        Value::Object(root).to_string()
    }

    /// Writes the collected metrics to stdout as EMF lines, stamped now.
    pub fn flush(&mut self) {
        self.flush_at(chrono::Utc::now());
    }

    /// Writes the collected metrics stamped with `at` (CloudWatch accepts up to two weeks back):
    /// a sweep stamps its window's start, so every window's values land in their own period.
    pub fn flush_at(&mut self, at: chrono::DateTime<chrono::Utc>) {
        let lines = self.take_lines(at.timestamp_millis());
        let mut out = std::io::stdout().lock();
        for line in lines {
            // A closed stdout must not fail the invocation; metrics are best effort.
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_dimension_set_with_value_arrays() {
        let mut m = Metrics::new("Lakeops");
        m.record(&[("WorkGroup", "etl")], "QueryCostUSD", 1.5, Unit::None);
        m.record(&[("WorkGroup", "etl")], "QueryCostUSD", 2.0, Unit::None);
        m.record(&[("WorkGroup", "etl")], "QueryCount", 2.0, Unit::Count);
        m.record(&[("WorkGroup", "adhoc")], "QueryCount", 1.0, Unit::Count);
        m.record(&[], "Nan", f64::NAN, Unit::Count);
        let lines = m.take_lines(1_700_000_000_000);
        assert_eq!(lines.len(), 2);
        let etl: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(etl["WorkGroup"], "etl");
        assert_eq!(etl["QueryCostUSD"], json!([1.5, 2.0]));
        assert_eq!(etl["QueryCount"], json!(2.0));
        let cw = &etl["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "Lakeops");
        assert_eq!(cw["Dimensions"], json!([["WorkGroup"]]));
        assert_eq!(
            cw["Metrics"][1],
            json!({"Name": "QueryCount", "Unit": "Count"})
        );
        assert!(m.is_empty());
    }

    #[test]
    fn more_than_100_metrics_split_into_several_lines() {
        let mut m = Metrics::new("N");
        for i in 0..150 {
            m.record(
                &[("Check", "c")],
                &format!("M{i:03}"),
                i as f64,
                Unit::Count,
            );
        }
        let lines = m.take_lines(0);
        assert_eq!(lines.len(), 2);
        let second: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(
            second["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            50
        );
    }

    #[test]
    fn more_than_100_values_of_one_metric_split_into_several_lines() {
        let mut m = Metrics::new("N");
        for i in 0..250 {
            m.record(
                &[("FunctionName", "f")],
                "Duration",
                i as f64,
                Unit::Milliseconds,
            );
        }
        m.record(
            &[("FunctionName", "f")],
            "InitDuration",
            9.0,
            Unit::Milliseconds,
        );
        let lines: Vec<Value> = m
            .take_lines(0)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        let counts: Vec<usize> = lines
            .iter()
            .map(|l| l["Duration"].as_array().map_or(1, Vec::len))
            .collect();
        assert_eq!(
            counts,
            [100, 100, 50],
            "every value kept, at most 100 a line"
        );
        assert_eq!(lines[0]["InitDuration"], 9.0);
        assert!(lines[1].get("InitDuration").is_none());
    }
}
