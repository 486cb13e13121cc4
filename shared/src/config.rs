//! Typed configuration from environment variables, with every problem reported at once.
//!
//! A function builds its config with a [`ConfigReader`]: each accessor records a problem instead
//! of failing, so start-up fails with one message that lists every missing or invalid variable
//! (not just the first one), and the operator fixes them in one deploy.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

/// One bad variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub variable: String,
    pub problem: String,
}

/// Every bad variable found while reading a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid configuration ({} problem{}):",
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  - {}: {}", p.variable, p.problem)?;
        }
        Ok(())
    }
}

/// Reads variables from the process environment (or a map, in tests) and collects problems.
pub struct ConfigReader {
    vars: HashMap<String, String>,
    problems: Vec<ConfigProblem>,
}

impl ConfigReader {
    /// Reads the process environment. Empty values count as unset (SAM passes `""` for
    /// optional parameters left blank).
    pub fn from_env() -> Self {
        Self::from_map(std::env::vars())
    }

    pub fn from_map<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let vars = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(_, v)| !v.trim().is_empty())
            .collect();
        Self {
            vars,
            problems: Vec::new(),
        }
    }

    fn raw(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|v| v.trim())
    }

    /// Records a problem found by the caller's own validation (e.g. two settings that conflict).
    pub fn problem(&mut self, variable: &str, problem: impl Into<String>) {
        self.problems.push(ConfigProblem {
            variable: variable.to_string(),
            problem: problem.into(),
        });
    }

    /// A required string. Returns an empty string (and records a problem) when unset.
    pub fn required(&mut self, name: &str) -> String {
        match self.raw(name) {
            Some(v) => v.to_string(),
            None => {
                self.problem(name, "required but not set");
                String::new()
            }
        }
    }

    pub fn optional(&mut self, name: &str) -> Option<String> {
        self.raw(name).map(str::to_string)
    }

    pub fn string_or(&mut self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or(default).to_string()
    }

    /// A value parsed with `FromStr`; the default when unset, and a problem when unparsable.
    pub fn parse_or<T: FromStr>(&mut self, name: &str, default: T) -> T
    where
        T::Err: fmt::Display,
    {
        match self.optional_parsed(name) {
            Some(v) => v,
            None => default,
        }
    }

    pub fn optional_parsed<T: FromStr>(&mut self, name: &str) -> Option<T>
    where
        T::Err: fmt::Display,
    {
        let raw = self.raw(name)?.to_string();
        match raw.parse::<T>() {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(name, format!("{raw:?} is not valid: {e}"));
                None
            }
        }
    }

    /// A boolean: `true/false`, `1/0`, `yes/no`, `on/off` (any case).
    pub fn bool_or(&mut self, name: &str, default: bool) -> bool {
        let Some(raw) = self.raw(name).map(str::to_ascii_lowercase) else {
            return default;
        };
        match raw.as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => {
                self.problem(
                    name,
                    format!("{raw:?} is not a boolean (use true or false)"),
                );
                default
            }
        }
    }

    /// An IANA timezone name (`Asia/Seoul`, `UTC`, `America/New_York`).
    pub fn timezone(&mut self, name: &str, default: chrono_tz::Tz) -> chrono_tz::Tz {
        let Some(raw) = self.raw(name).map(str::to_string) else {
            return default;
        };
        match raw.parse::<chrono_tz::Tz>() {
            Ok(tz) => tz,
            Err(_) => {
                self.problem(
                    name,
                    format!("{raw:?} is not an IANA timezone name such as Asia/Seoul or UTC"),
                );
                default
            }
        }
    }

    /// A comma-separated list; empty items are ignored.
    pub fn list(&mut self, name: &str) -> Vec<String> {
        self.raw(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A comma-separated `key=value` map, e.g. `etl=20,adhoc=5`, each value parsed with `FromStr`.
    pub fn map<T: FromStr>(&mut self, name: &str) -> BTreeMap<String, T>
    where
        T::Err: fmt::Display,
    {
        let mut out = BTreeMap::new();
        let Some(raw) = self.raw(name).map(str::to_string) else {
            return out;
        };
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => match v.trim().parse::<T>() {
                    Ok(parsed) => {
                        out.insert(k.trim().to_string(), parsed);
                    }
                    Err(e) => self.problem(
                        name,
                        format!("value of {:?} ({:?}) is not valid: {e}", k.trim(), v.trim()),
                    ),
                },
                _ => self.problem(name, format!("{item:?} is not a key=value pair")),
            }
        }
        out
    }

    /// Ends reading: `Ok` when every variable was good, else one error listing every problem.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                problems: self.problems,
            })
        }
    }
}

/// A number that must be finite and not negative (money, thresholds).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct NonNegative(pub f64);

impl FromStr for NonNegative {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v: f64 = s.trim().parse().map_err(|_| "not a number".to_string())?;
        if v.is_finite() && v >= 0.0 {
            Ok(NonNegative(v))
        } else {
            Err("must be a finite number >= 0".to_string())
        }
    }
}

/// Settings every lakeops function shares.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    /// `ALERT_TOPIC_ARN`: the SNS topic every alert goes to.
    pub alert_topic_arn: String,
    /// `METRICS_NAMESPACE` (default `Lakeops`): CloudWatch namespace of the EMF metrics.
    pub metrics_namespace: String,
    /// `DRY_RUN` (default false): log alerts (and, for the killer, stops) instead of acting.
    pub dry_run: bool,
    /// `AWS_REGION` (default `us-east-1`): set by Lambda; used for console links.
    pub region: String,
}

impl CommonConfig {
    pub fn read(r: &mut ConfigReader) -> Self {
        let alert_topic_arn = r.required("ALERT_TOPIC_ARN");
        if !alert_topic_arn.is_empty() && !alert_topic_arn.starts_with("arn:") {
            r.problem(
                "ALERT_TOPIC_ARN",
                format!("{alert_topic_arn:?} is not an SNS topic ARN"),
            );
        }
        let metrics_namespace = r.string_or("METRICS_NAMESPACE", "Lakeops");
        if metrics_namespace.len() > 255 {
            r.problem(
                "METRICS_NAMESPACE",
                "longer than CloudWatch's 255 characters",
            );
        }
        Self {
            alert_topic_arn,
            metrics_namespace,
            dry_run: r.bool_or("DRY_RUN", false),
            region: r.string_or("AWS_REGION", "us-east-1"),
        }
    }
}

/// Settings of the functions that watch Athena's query history (cost watcher, killer).
#[derive(Debug, Clone)]
pub struct AthenaWatchSettings {
    /// `ATHENA_HISTORY_CALLS_PER_SECOND` (default 2): the suite's one budget for
    /// `ListQueryExecutions` and `BatchGetQueryExecution`, shared by every function and instance
    /// ([`crate::api_budget`]); AWS allows 5 List calls/s per account, shared with everything else.
    /// Above 0, at most 100.
    pub history_calls_per_second: f64,
    /// `USD_PER_TB` (default 5.00): Athena's price per TB (2^40 bytes) scanned: what queries
    /// cost, a stopped query's cost so far, what the reconciler's own queries cost.
    /// `USD_PER_DPU_HOUR` (default 0.30): a capacity reservation's price per DPU-hour; a query
    /// in a workgroup assigned to one costs its DPU count × engine time × this.
    pub price: crate::pricing::PriceList,
    /// `LEDGER_TABLE`: DynamoDB table of the alert ledger (the template creates it).
    pub ledger_table: String,
    /// `QUERY_INDEX_TABLE`: DynamoDB table of the query index ([`crate::query_index`]); it also
    /// holds the shared Athena call budget, the reconciler's only use of it.
    pub index_table: String,
}

impl AthenaWatchSettings {
    pub fn read(r: &mut ConfigReader) -> Self {
        let history_calls_per_second: f64 = r.parse_or("ATHENA_HISTORY_CALLS_PER_SECOND", 2.0);
        if !(history_calls_per_second > 0.0 && history_calls_per_second <= 100.0) {
            r.problem(
                "ATHENA_HISTORY_CALLS_PER_SECOND",
                "must be above 0 and at most 100",
            );
        }
        let usd_per_tb: NonNegative = r.parse_or(
            "USD_PER_TB",
            NonNegative(crate::pricing::DEFAULT_USD_PER_TB),
        );
        let usd_per_dpu_hour: NonNegative = r.parse_or(
            "USD_PER_DPU_HOUR",
            NonNegative(crate::pricing::DEFAULT_USD_PER_DPU_HOUR),
        );
        Self {
            history_calls_per_second,
            price: crate::pricing::PriceList {
                usd_per_tb: usd_per_tb.0,
                usd_per_dpu_hour: usd_per_dpu_hour.0,
            },
            ledger_table: r.required("LEDGER_TABLE"),
            index_table: r.required("QUERY_INDEX_TABLE"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_variable_is_listed_at_once() {
        let mut r = ConfigReader::from_map([
            ("METRICS_NAMESPACE", "X"),
            ("DRY_RUN", "maybe"),
            ("THRESHOLD", "-3"),
            ("PER_WG", "etl=5,adhoc"),
        ]);
        let common = CommonConfig::read(&mut r);
        let _t: NonNegative = r.parse_or("THRESHOLD", NonNegative(5.0));
        let _m: BTreeMap<String, NonNegative> = r.map("PER_WG");
        assert_eq!(common.metrics_namespace, "X");
        let err = r.finish().unwrap_err();
        let vars: Vec<_> = err.problems.iter().map(|p| p.variable.as_str()).collect();
        assert_eq!(vars, ["ALERT_TOPIC_ARN", "DRY_RUN", "THRESHOLD", "PER_WG"]);
        let msg = err.to_string();
        assert!(
            msg.starts_with("invalid configuration (4 problems):"),
            "{msg}"
        );
        assert!(
            msg.contains("ALERT_TOPIC_ARN: required but not set"),
            "{msg}"
        );
    }

    #[test]
    fn defaults_apply_and_blank_counts_as_unset() {
        let mut r = ConfigReader::from_map([
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:1:t"),
            ("DRY_RUN", " "),
        ]);
        let c = CommonConfig::read(&mut r);
        assert!(!c.dry_run);
        assert_eq!(c.metrics_namespace, "Lakeops");
        let m: BTreeMap<String, NonNegative> = r.map("NOT_SET");
        assert!(m.is_empty());
        r.finish().unwrap();
    }

    #[test]
    fn map_and_list_parse() {
        let mut r = ConfigReader::from_map([("M", "etl = 20, adhoc=5.5"), ("L", "a, ,b")]);
        let m: BTreeMap<String, NonNegative> = r.map("M");
        assert_eq!(m["etl"], NonNegative(20.0));
        assert_eq!(m["adhoc"], NonNegative(5.5));
        assert_eq!(r.list("L"), ["a", "b"]);
        r.finish().unwrap();
    }
}
