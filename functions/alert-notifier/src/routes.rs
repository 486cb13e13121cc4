//! Which channels an alert goes to: rules on kind, severity, source function, workgroup, owner
//! and any alert attribute, in a small YAML (or JSON) document.
//!
//! ```yaml
//! routes:
//!   - name: critical to on-call
//!     when: { min_severity: critical }
//!     to: [oncall]
//!   - name: data quality
//!     when: { source: [row-count-reconciler] }
//!     to: [data-quality]
//!   - name: money
//!     when: { kind: [BudgetExceeded, BudgetWarning, SpendSpike, DailyDigest] }
//!     to: [finance]
//! default: [alerts]
//! ```
//!
//! Every route whose `when` matches adds its channels (an alert can go to several). Within a
//! `when`, all conditions must hold; a condition lists the values it accepts, and a value ending
//! in `*` matches by prefix (`Row*`). An alert no route matches goes to `default`. `default` must
//! be written out — `default: []` included — so that dropping unrouted alerts is a choice someone
//! made, not a typo. The document is checked whole at start-up, every problem listed.

use std::collections::{BTreeMap, BTreeSet};

use lakeops::alert::{Alert, Severity};
use serde_json::Value;

use crate::channels::Channels;
use crate::mentions::People;

/// The document's keys.
const TOP_KEYS: [&str; 4] = ["routes", "default", "people", "quiet_workgroups"];

/// The conditions a `when` may hold.
const CONDITIONS: [&str; 7] = [
    "kind",
    "severity",
    "min_severity",
    "source",
    "workgroup",
    "owner",
    "attributes",
];

/// One accepted value: exact, or a prefix when written with a trailing `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern(String);

impl Pattern {
    fn matches(&self, value: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => value.starts_with(prefix),
            None => self.0 == value,
        }
    }
}

fn any(patterns: &[Pattern], value: Option<&str>) -> bool {
    value.is_some_and(|v| patterns.iter().any(|p| p.matches(v)))
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct When {
    kind: Option<Vec<Pattern>>,
    severity: Option<Vec<Severity>>,
    min_severity: Option<Severity>,
    source: Option<Vec<Pattern>>,
    /// Attribute name → accepted values (`workgroup` and `owner` are attributes too).
    attributes: BTreeMap<String, Vec<Pattern>>,
}

impl When {
    fn matches(&self, alert: &Alert) -> bool {
        self.kind.as_ref().is_none_or(|p| any(p, Some(&alert.kind)))
            && self
                .severity
                .as_ref()
                .is_none_or(|s| s.contains(&alert.severity))
            && self.min_severity.is_none_or(|m| alert.severity >= m)
            && self
                .source
                .as_ref()
                .is_none_or(|p| any(p, Some(&alert.source)))
            && self
                .attributes
                .iter()
                .all(|(name, p)| any(p, alert.attributes.get(name).map(String::as_str)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    name: String,
    when: When,
    to: Vec<String>,
}

/// The routing document, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routes {
    routes: Vec<Route>,
    default: Vec<String>,
    /// Who to mention on alerts about their queries ([`crate::mentions`]).
    pub people: People,
}

impl Routes {
    /// Reads and checks a document; `channels` are the names the secret defines. Every problem
    /// is listed, each with the route it is in.
    pub fn parse(text: &str, channels: &Channels) -> Result<Routes, Vec<String>> {
        let doc: Value = serde_norway::from_str(text)
            .map_err(|e| vec![format!("not a YAML/JSON document: {e}")])?;
        let mut p = Problems::default();
        let Some(top) = doc.as_object() else {
            return Err(vec![
                "the document must be a map with `routes` and `default`".into(),
            ]);
        };
        for key in top.keys().filter(|k| !TOP_KEYS.contains(&k.as_str())) {
            p.add(
                "",
                format!("unknown key `{key}` (allowed: {})", TOP_KEYS.join(", ")),
            );
        }
        let people = People::read(top.get("people"), top.get("quiet_workgroups")).unwrap_or_else(
            |problems| {
                for problem in problems {
                    p.add("", problem);
                }
                People::default()
            },
        );
        let default = match top.get("default") {
            None => {
                p.add(
                    "",
                    "no `default`: name the channels for alerts no route matches (write `default: []` to drop them)",
                );
                Vec::new()
            }
            Some(v) => channel_list(v, "default", channels, &mut p, true),
        };
        let mut routes = Vec::new();
        match top.get("routes") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(route) = read_route(i, item, channels, &mut p) {
                        routes.push(route);
                    }
                }
            }
            Some(_) => p.add("", "`routes` must be a list"),
        }
        if p.0.is_empty() {
            Ok(Routes {
                routes,
                default,
                people,
            })
        } else {
            Err(p.0)
        }
    }

    /// The channels `alert` goes to, each once, in the order the document first names them;
    /// `default` when no route matches.
    pub fn channels_for(&self, alert: &Alert) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let mut matched = false;
        for r in self.routes.iter().filter(|r| r.when.matches(alert)) {
            matched = true;
            tracing::debug!(route = %r.name, alert_id = %alert.id, "route matched");
            for c in &r.to {
                if seen.insert(c.as_str()) {
                    out.push(c.clone());
                }
            }
        }
        if !matched {
            out = self.default.clone();
        }
        out
    }

    /// Every channel the document names.
    pub fn channel_names(&self) -> BTreeSet<&str> {
        self.routes
            .iter()
            .flat_map(|r| r.to.iter())
            .chain(&self.default)
            .map(String::as_str)
            .collect()
    }
}

#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, place: &str, problem: impl Into<String>) {
        let problem = problem.into();
        self.0.push(if place.is_empty() {
            problem
        } else {
            format!("{place}: {problem}")
        });
    }
}

fn read_route(i: usize, item: &Value, channels: &Channels, p: &mut Problems) -> Option<Route> {
    let Some(o) = item.as_object() else {
        p.add(
            &format!("route {}", i + 1),
            "must be a map with `when` and `to`",
        );
        return None;
    };
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("route {}", i + 1));
    let place = if o.contains_key("name") {
        format!("route {} ({name})", i + 1)
    } else {
        name.clone()
    };
    for key in o
        .keys()
        .filter(|k| !["name", "when", "to"].contains(&k.as_str()))
    {
        p.add(
            &place,
            format!("unknown key `{key}` (allowed: name, when, to)"),
        );
    }
    let when = match o.get("when") {
        None => {
            p.add(&place, "no `when` (write `when: {}` to match every alert)");
            When::default()
        }
        Some(v) => read_when(v, &place, p),
    };
    let to = match o.get("to") {
        None => {
            p.add(&place, "no `to`: name the channels");
            Vec::new()
        }
        Some(v) => channel_list(v, &place, channels, p, false),
    };
    Some(Route { name, when, to })
}

fn read_when(v: &Value, place: &str, p: &mut Problems) -> When {
    let mut when = When::default();
    let Some(o) = v.as_object() else {
        p.add(place, "`when` must be a map of conditions");
        return when;
    };
    for (key, value) in o {
        match key.as_str() {
            "kind" => when.kind = patterns(value, place, key, p),
            "source" => when.source = patterns(value, place, key, p),
            "workgroup" | "owner" => {
                if let Some(v) = patterns(value, place, key, p) {
                    when.attributes.insert(key.clone(), v);
                }
            }
            "severity" => {
                when.severity = strings(value, place, key, p).map(|list| {
                    list.iter()
                        .filter_map(|s| severity(s, place, key, p))
                        .collect()
                })
            }
            "min_severity" => match value.as_str() {
                Some(s) => when.min_severity = severity(s, place, key, p),
                None => p.add(
                    place,
                    "`min_severity` must be one of info, warning, critical",
                ),
            },
            "attributes" => match value.as_object() {
                Some(attrs) => {
                    for (name, v) in attrs {
                        if let Some(v) = patterns(v, place, &format!("attributes.{name}"), p) {
                            when.attributes.insert(name.clone(), v);
                        }
                    }
                }
                None => p.add(place, "`attributes` must map attribute names to values"),
            },
            other => p.add(
                place,
                format!(
                    "unknown condition `{other}` (allowed: {})",
                    CONDITIONS.join(", ")
                ),
            ),
        }
    }
    when
}

fn severity(s: &str, place: &str, key: &str, p: &mut Problems) -> Option<Severity> {
    match serde_json::from_value(Value::String(s.to_string())) {
        Ok(sev) => Some(sev),
        Err(_) => {
            p.add(
                place,
                format!("`{key}`: {s:?} is not one of info, warning, critical"),
            );
            None
        }
    }
}

/// A string or a list of strings (numbers and booleans read as their text: a workgroup named
/// `2024` is still a name).
fn strings(v: &Value, place: &str, key: &str, p: &mut Problems) -> Option<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let list: Option<Vec<String>> = match v {
        Value::Array(items) => items.iter().map(one).collect(),
        other => one(other).map(|s| vec![s]),
    };
    match list {
        Some(l) if !l.is_empty() => Some(l),
        Some(_) => {
            p.add(
                place,
                format!("`{key}` lists no value (it would match nothing)"),
            );
            None
        }
        None => {
            p.add(
                place,
                format!("`{key}` must be a value or a list of values"),
            );
            None
        }
    }
}

fn patterns(v: &Value, place: &str, key: &str, p: &mut Problems) -> Option<Vec<Pattern>> {
    strings(v, place, key, p).map(|l| l.into_iter().map(Pattern).collect())
}

fn channel_list(
    v: &Value,
    place: &str,
    channels: &Channels,
    p: &mut Problems,
    empty_ok: bool,
) -> Vec<String> {
    let names: Vec<String> = match v {
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => {
            p.add(place, "channels must be a name or a list of names");
            return Vec::new();
        }
    };
    if names.is_empty() && !empty_ok {
        p.add(place, "`to` names no channel");
    }
    for n in &names {
        if channels.get(n).is_none() {
            let known: Vec<&str> = channels.names().collect();
            p.add(
                place,
                format!(
                    "channel `{n}` is not in the channels secret (it has: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            );
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn channels() -> Channels {
        Channels::parse(
            r#"{"oncall": "https://hooks.slack.com/services/a",
                "dq": "https://chat.googleapis.com/v1/spaces/A/messages",
                "finance": "https://hooks.slack.com/services/f",
                "alerts": "https://hooks.slack.com/services/x"}"#,
        )
        .unwrap()
    }

    fn alert(kind: &str, severity: Severity, source: &str) -> Alert {
        Alert::new(kind, severity, source, "id", Utc::now(), "t", "s")
    }

    const DOC: &str = r#"
routes:
  - name: critical to on-call
    when: { min_severity: critical }
    to: [oncall]
  - name: data quality
    when: { source: row-count-reconciler }
    to: [dq, oncall]
  - name: money
    when: { kind: [Budget*, SpendSpike, DailyDigest] }
    to: finance
  - name: etl team
    when: { workgroup: [etl], severity: [warning, critical] }
    to: [dq]
default: [alerts]
"#;

    #[test]
    fn each_alert_goes_to_exactly_the_channels_its_rules_name() {
        let r = Routes::parse(DOC, &channels()).unwrap();
        let q = "query-cost-watcher";
        assert_eq!(
            r.channels_for(&alert("ExpensiveQuery", Severity::Critical, q)),
            ["oncall"]
        );
        assert_eq!(
            r.channels_for(&alert(
                "RowCountMismatch",
                Severity::Critical,
                "row-count-reconciler"
            )),
            ["oncall", "dq"]
        );
        assert_eq!(
            r.channels_for(&alert("BudgetWarning", Severity::Warning, q)),
            ["finance"]
        );
        assert_eq!(
            r.channels_for(&alert("LogErrors", Severity::Warning, "x")),
            ["alerts"]
        );
        let etl = alert("LongQueryWarning", Severity::Warning, "long-query-killer")
            .attribute("workgroup", "etl");
        assert_eq!(r.channels_for(&etl), ["dq"]);
        let adhoc = alert("LongQueryWarning", Severity::Warning, "long-query-killer")
            .attribute("workgroup", "adhoc");
        assert_eq!(r.channels_for(&adhoc), ["alerts"]);
        let etl_info = alert("LongQueryWarning", Severity::Info, "k").attribute("workgroup", "etl");
        assert_eq!(r.channels_for(&etl_info), ["alerts"]);
    }

    #[test]
    fn every_problem_in_the_document_is_listed() {
        let doc = r#"
routes:
  - name: typo
    when: { sevrity: critical }
    to: [oncall]
  - when: { min_severity: urgent, kind: [] }
    to: [pager]
  - name: no target
    when: {}
    extra: 1
  - 7
default_channels: [alerts]
"#;
        let problems = Routes::parse(doc, &channels()).unwrap_err();
        let all = problems.join("\n");
        for expected in [
            "route 1 (typo): unknown condition `sevrity`",
            "route 2: `min_severity`: \"urgent\" is not one of info, warning, critical",
            "route 2: `kind` lists no value",
            "route 2: channel `pager` is not in the channels secret (it has: alerts, dq, finance, oncall)",
            "route 3 (no target): unknown key `extra`",
            "route 3 (no target): no `to`",
            "route 4: must be a map",
            "unknown key `default_channels`",
            "no `default`",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
        }
        assert_eq!(problems.len(), 9, "{all}");
    }

    #[test]
    fn an_empty_default_is_a_choice_and_json_works_too() {
        let r = Routes::parse(r#"{"routes": [], "default": []}"#, &channels()).unwrap();
        assert!(r
            .channels_for(&alert("X", Severity::Critical, "s"))
            .is_empty());
        assert!(r.channel_names().is_empty());
    }

    #[test]
    fn the_shipped_documents_are_valid() {
        let c = Channels::parse(
            r#"{"alerts": "https://hooks.slack.com/services/x",
                "oncall": "https://prod-1.westeurope.logic.azure.com/workflows/w",
                "data-quality": "https://chat.googleapis.com/v1/spaces/A/messages",
                "finance": "https://hooks.slack.com/services/f"}"#,
        )
        .unwrap();
        Routes::parse(crate::BUNDLED_ROUTES, &c).unwrap();
        let example = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("routes.example.yaml"),
        )
        .unwrap();
        let r = Routes::parse(&example, &c).unwrap();
        // every captured kind goes somewhere under the example routes
        for (kind, body) in crate::corpus::alerts() {
            let a = Alert::from_json_body(&body).unwrap();
            assert!(!r.channels_for(&a).is_empty(), "{kind}");
        }
    }
}
