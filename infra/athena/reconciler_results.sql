-- The row-count-reconciler's results as an Athena table: one JSON line per check and date, written
-- to s3://<ReconcilerBucket>/results/run_date=YYYY-MM-DD/<event id>.json (RESULTS_S3_URI).
-- Replace <ReconcilerBucket> with the bucket from the stack (output ReconcilerChecksLocation).
-- Partition projection: no MSCK REPAIR / crawler needed as days are added.
CREATE EXTERNAL TABLE IF NOT EXISTS lakeops.reconciler_results (
  `check`        string,
  lookback_day   int,
  status         string,     -- ok | stale | mismatch | missing_partition | unfinished | error
  problems       array<string>,
  severity       string,
  owner          string,
  tags           map<string,string>,
  comparison     struct<diff: bigint, diff_pct: double, within: boolean>,
  tolerance      struct<`rows`: bigint, percent: double, direction: string>,
  source         struct<counted: string, `window`: string, method: string, `rows`: bigint,
                        query_ids: array<string>, scanned_bytes: bigint, partition_present: boolean,
                        fresh_as_of: string, age_seconds: bigint, max_age_hours: double,
                        error: string, unfinished: boolean>,
  target         struct<counted: string, `window`: string, method: string, `rows`: bigint,
                        query_ids: array<string>, scanned_bytes: bigint, partition_present: boolean,
                        fresh_as_of: string, age_seconds: bigint, max_age_hours: double,
                        error: string, unfinished: boolean>
)
PARTITIONED BY (run_date string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION 's3://<ReconcilerBucket>/results/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.run_date.type' = 'date',
  'projection.run_date.format' = 'yyyy-MM-dd',
  'projection.run_date.range' = '2026-01-01,NOW',
  'projection.run_date.interval' = '1',
  'projection.run_date.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://<ReconcilerBucket>/results/run_date=${run_date}'
);

-- The data consistency history, e.g. every failure of the last 30 days:
-- SELECT run_date, "check", status, source."rows", target."rows", comparison.diff_pct
-- FROM lakeops.reconciler_results
-- WHERE run_date >= date_format(current_date - interval '30' day, '%Y-%m-%d') AND status <> 'ok'
-- ORDER BY run_date DESC;
