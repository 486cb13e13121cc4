-- The log-subscription-transformer's records as an Athena table: newline-delimited JSON (gzip)
-- written by Firehose to s3://<LogsBucket>/logs/dt=YYYY-MM-DD/ (stack output LogsLocation).
-- One row per CloudWatch Logs event; `event_id` is CloudWatch's id: use it to drop the repeats a
-- retried delivery can cause (SELECT ... GROUP BY event_id / row_number()).
CREATE EXTERNAL TABLE IF NOT EXISTS lakeops.log_records (
  `timestamp`    string,   -- RFC 3339, from the log event
  event_id       string,
  account        string,
  region         string,
  log_group      string,
  log_stream     string,
  source_type    string,   -- lambda | glue | rds | ecs | apigateway | stepfunctions | codebuild | emr | vpcflow | other
  function_name  string,   -- Lambda log groups
  type           string,   -- log | platform.start | platform.end | platform.report | platform.timeout | runtime.crash | platform.*
  level          string,   -- TRACE DEBUG INFO NOTICE WARN ERROR FATAL CRITICAL, when the line says
  request_id     string,   -- carried forward from START to the request's lines
  message        string,
  fields         string,   -- a JSON message's other fields, as JSON text (json_extract_scalar(fields, '$.x'))
  report         struct<duration_ms: double, billed_duration_ms: double, memory_size_mb: double,
                        max_memory_used_mb: double, init_duration_ms: double>,
  redactions     int,
  truncated      boolean
)
PARTITIONED BY (dt string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION 's3://<LogsBucket>/logs/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2026-01-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://<LogsBucket>/logs/dt=${dt}/'
);

-- Yesterday's Lambda timeouts and crashes by function:
-- SELECT function_name, type, count(*) FROM lakeops.log_records
-- WHERE dt = date_format(current_date - interval '1' day, '%Y-%m-%d')
--   AND type IN ('platform.timeout', 'runtime.crash') GROUP BY 1, 2 ORDER BY 3 DESC;
