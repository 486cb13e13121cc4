//! The Athena queries a run's plan needs: the `max(column)` freshness queries, then each side's
//! count — one grouped query over a check's look-back days where its windows allow.

use crate::checks::Check;
use crate::side::{CountMethod, Side, Sides};

use super::{
    CheckDay, CountQuery, FreshnessLookup, Measurement, Queries, RunPlan, SideAt, SidePlan,
};

/// The plan with its queries: freshness first, then counts.
pub fn queries(selected: &[Check], days: Vec<CheckDay>, sides: Vec<Sides<SidePlan>>) -> RunPlan {
    let mut plan = RunPlan {
        days,
        sides,
        queries: Queries::default(),
    };
    for day in 0..plan.days.len() {
        for side in Side::BOTH {
            let p = plan.sides[day].get(side);
            if let Some(FreshnessLookup::Column { sql, .. }) = &p.freshness {
                let (sql, cap) = (sql.clone(), p.bytes_cap);
                plan.queries
                    .add(Measurement::Freshness(SideAt { day, side }), sql, cap);
            }
        }
    }
    for (ci, c) in selected.iter().enumerate() {
        let days: Vec<usize> = (0..plan.days.len())
            .filter(|&i| plan.days[i].check == ci)
            .collect();
        for side in Side::BOTH {
            plan_counts(&mut plan, c, side, days.clone());
        }
    }
    plan
}

/// One side's counts over a check's days. With look-back days, each `count(*)` side is counted
/// over all its days in one grouped query when every day's window is its partition values and
/// day window only (disjoint days, so each row falls in one); otherwise one query per day.
fn plan_counts(plan: &mut RunPlan, c: &Check, side: Side, days: Vec<usize>) {
    let sides: Vec<&SidePlan> = days.iter().map(|&d| plan.sides[d].get(side)).collect();
    let windows: Option<Vec<&(String, String)>> = sides
        .iter()
        .map(|s| {
            (matches!(s.count, Some(CountQuery::Rows(_)))
                && s.result.method == CountMethod::CountStar)
                .then_some(s.groupable.as_ref())
                .flatten()
        })
        .collect();
    let grouped = windows.filter(|w| {
        w.len() > 1
            && w.iter().all(|(table, _)| *table == w[0].0)
            && w.iter()
                .enumerate()
                .all(|(i, a)| w[..i].iter().all(|b| b.1 != a.1))
    });
    if let Some(windows) = grouped {
        let sql = grouped_count(&windows[0].0, windows.iter().map(|(_, p)| p.as_str()));
        plan.queries
            .add(Measurement::Grouped { side, days }, sql, c.bytes_cap);
        return;
    }
    let counts: Vec<(Measurement, String)> = days
        .iter()
        .zip(&sides)
        .filter_map(|(&day, s)| {
            let at = SideAt { day, side };
            match s.count.as_ref()? {
                CountQuery::Rows(sql) => Some((Measurement::Count(at), sql.clone())),
                CountQuery::IcebergFiles { sql, .. } => {
                    Some((Measurement::IcebergFiles(at), sql.clone()))
                }
            }
        })
        .collect();
    for (measure, sql) in counts {
        plan.queries.add(measure, sql, c.bytes_cap);
    }
}

/// `SELECT CASE WHEN (<day 0>) THEN 0 WHEN (<day 1>) THEN 1 … END, count(*) FROM t WHERE
/// (<day 0>) OR (<day 1>) … GROUP BY 1`: each day's count in one scan (partition pruning keeps
/// the OR of partition equalities).
fn grouped_count<'a>(table: &str, windows: impl Iterator<Item = &'a str> + Clone) -> String {
    let cases: Vec<String> = windows
        .clone()
        .enumerate()
        .map(|(k, p)| format!("WHEN ({p}) THEN {k}"))
        .collect();
    let any: Vec<String> = windows.map(|p| format!("({p})")).collect();
    format!(
        "SELECT CASE {} END AS lookback_day, count(*) FROM {table} WHERE {} GROUP BY 1",
        cases.join(" "),
        any.join(" OR ")
    )
}
