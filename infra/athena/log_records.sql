-- The log-subscription-transformer's records as an Athena table. The stack creates this table
-- itself (infra/template.yaml: LogsDatabase / LogRecordsTable, output LogRecordsTable); this file
-- is for a stream you bring (LogsDeliveryStreamName) or another account.
--
-- Firehose writes s3://<LogsBucket>/logs/source_type=<type>/dt=YYYY-MM-DD/ — Parquet (GZIP pages)
-- converted against this table, or gzip JSON lines with LogRecordLayout=json (then use
-- ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' instead of STORED AS PARQUET).
-- One row per CloudWatch Logs event; `event_id` is CloudWatch's id: use it to drop the repeats a
-- retried delivery can cause (SELECT ... GROUP BY event_id / row_number()).
CREATE EXTERNAL TABLE IF NOT EXISTS lakeops_logs.log_records (
  `timestamp`    string,   -- RFC 3339 with milliseconds, from the log event
  event_id       string,
  account        string,
  region         string,
  log_group      string,
  log_stream     string,
  function_name  string,   -- Lambda log groups
  type           string,   -- log | platform.start | platform.end | platform.report | platform.initStart |
                           -- platform.initReport | platform.extension | platform.* (JSON format) |
                           -- failures: platform.timeout | runtime.crash | function.unhandled
  level          string,   -- TRACE DEBUG INFO NOTICE WARN ERROR CRITICAL FATAL, when the line says
  request_id     string,   -- carried forward from START to the request's lines
  error_type     string,   -- what failed: Runtime.OutOfMemory, ZeroDivisionError, panic, ...
  message        string,
  summary        string,   -- a multi-line event's first line (Python's warning preamble skipped)
  fields         string,   -- a JSON log's other members as JSON text (json_extract_scalar(fields, '$.x'))
  report         struct<duration_ms: double, billed_duration_ms: double, memory_size_mb: double,
                        max_memory_used_mb: double, init_duration_ms: double>,
  redactions     int,
  truncated      boolean
)
PARTITIONED BY (source_type string, dt string)
STORED AS PARQUET
LOCATION 's3://<LogsBucket>/logs/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.source_type.type' = 'enum',
  'projection.source_type.values' = 'lambda,glue,rds,ecs,apigateway,stepfunctions,codebuild,emr,vpcflow,accesslog,waf,cloudtrail,other',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2026-01-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://<LogsBucket>/logs/source_type=${source_type}/dt=${dt}/'
);

-- Yesterday's failed invocations by function and cause (reads two columns of one partition):
-- SELECT function_name, type, error_type, count(*) FROM lakeops_logs.log_records
-- WHERE dt = date_format(current_date - interval '1' day, '%Y-%m-%d') AND source_type = 'lambda'
--   AND type IN ('platform.timeout', 'runtime.crash', 'function.unhandled')
-- GROUP BY 1, 2, 3 ORDER BY 4 DESC;
