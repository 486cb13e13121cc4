//! The spend history in CloudWatch: `GetMetricData` over the `QueryCostUSD` metrics the runs
//! that price queries emit.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use chrono::{DateTime, Duration, Utc};
use lakeops::LakeopsError;

use super::{SpendSource, WindowSpend, COST_METRIC};

/// GetMetricData accepts at most 500 queries a call.
const MAX_QUERIES_PER_CALL: usize = 500;

/// Reads the watcher's own spend history back from CloudWatch.
#[derive(Debug, Clone)]
pub struct SpendHistory {
    client: aws_sdk_cloudwatch::Client,
    namespace: String,
}

impl SpendHistory {
    pub fn new(client: aws_sdk_cloudwatch::Client, namespace: impl Into<String>) -> Self {
        Self {
            client,
            namespace: namespace.into(),
        }
    }
}

impl SpendSource for SpendHistory {
    /// One `GetMetricData` call per 500 workgroups (and page), statistic `Sum`.
    async fn windows(
        &self,
        workgroups: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        interval: Duration,
    ) -> Result<BTreeMap<String, Vec<WindowSpend>>, LakeopsError> {
        let mut out: BTreeMap<String, Vec<WindowSpend>> = BTreeMap::new();
        if workgroups.is_empty() || to <= from {
            return Ok(out);
        }
        let period = interval.num_seconds().max(60) as i32;
        for chunk in workgroups.chunks(MAX_QUERIES_PER_CALL) {
            let queries: Vec<MetricDataQuery> = chunk
                .iter()
                .enumerate()
                .map(|(i, wg)| {
                    let metric = Metric::builder()
                        .namespace(&self.namespace)
                        .metric_name(COST_METRIC)
                        .dimensions(Dimension::builder().name("WorkGroup").value(wg).build())
                        .build();
                    MetricDataQuery::builder()
                        .id(format!("w{i}"))
                        .metric_stat(
                            MetricStat::builder()
                                .metric(metric)
                                .period(period)
                                .stat("Sum")
                                .build(),
                        )
                        .return_data(true)
                        .build()
                })
                .collect();
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .client
                    .get_metric_data()
                    .set_metric_data_queries(Some(queries.clone()))
                    .start_time(aws_smithy_types::DateTime::from_secs(from.timestamp()))
                    .end_time(aws_smithy_types::DateTime::from_secs(to.timestamp()))
                    .scan_by(ScanBy::TimestampAscending)
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| LakeopsError::aws("cloudwatch:GetMetricData", e))?;
                for result in page.metric_data_results() {
                    let Some(wg) = result
                        .id()
                        .and_then(|id| id.strip_prefix('w'))
                        .and_then(|i| i.parse::<usize>().ok())
                        .and_then(|i| chunk.get(i))
                    else {
                        continue;
                    };
                    let series = out.entry(wg.clone()).or_default();
                    for (t, v) in result.timestamps().iter().zip(result.values()) {
                        if let Some(at) = DateTime::from_timestamp(t.secs(), 0) {
                            if v.is_finite() {
                                series.push((at, *v));
                            }
                        }
                    }
                }
                token = page.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn history_is_read_page_by_page_and_mapped_back_to_workgroups() {
        use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
        use aws_sdk_cloudwatch::types::MetricDataResult;
        use aws_smithy_mocks::{mock, mock_client, RuleMode};
        let ts = |s: &str| aws_smithy_types::DateTime::from_secs(utc(s).timestamp());
        let get =
            mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_compute_output(move |req| {
                assert_eq!(req.metric_data_queries().len(), 2);
                let stat = req.metric_data_queries()[1].metric_stat().unwrap();
                assert_eq!((stat.stat(), stat.period()), (Some("Sum"), Some(300)));
                match req.next_token() {
                    None => GetMetricDataOutput::builder()
                        .metric_data_results(
                            MetricDataResult::builder()
                                .id("w1")
                                .timestamps(ts("2026-11-23T01:00:00Z"))
                                .values(4.0)
                                .build(),
                        )
                        .next_token("page-2")
                        .build(),
                    Some(_) => GetMetricDataOutput::builder()
                        .metric_data_results(
                            MetricDataResult::builder()
                                .id("w1")
                                .timestamps(ts("2026-11-23T01:05:00Z"))
                                .values(6.0)
                                .build(),
                        )
                        .metric_data_results(MetricDataResult::builder().id("w0").build())
                        .build(),
                }
            });
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[&get]);
        let history = SpendHistory::new(client, "Lakeops");
        let wgs = vec!["etl".to_string(), "adhoc".to_string()];
        let got = history
            .windows(
                &wgs,
                utc("2026-11-22T00:00:00Z"),
                utc("2026-11-23T03:00:00Z"),
                Duration::minutes(5),
            )
            .await
            .unwrap();
        assert_eq!(get.num_calls(), 2);
        assert_eq!(
            got["adhoc"],
            [
                (utc("2026-11-23T01:00:00Z"), 4.0),
                (utc("2026-11-23T01:05:00Z"), 6.0)
            ]
        );
        assert!(got["etl"].is_empty());
    }
}
