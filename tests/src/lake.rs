//! A small, realistic data lake for the demo and the end-to-end tests: workgroups with query
//! history (cheap, expensive, failed, DDL, runaway), Glue tables with partitions, the alert topic
//! with its SQS tap, and a Firehose stream into S3.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::{AlertTap, Emulator};

pub const WORKGROUPS: [&str; 3] = ["etl", "analytics", "adhoc"];
pub const LOG_BUCKET: &str = "lakeops-logs";
pub const LOG_STREAM: &str = "lakeops-logs";

const GIB: u64 = 1 << 30;

/// What was seeded, for printing and asserting.
pub struct SeededLake {
    pub tap: AlertTap,
    pub queries: usize,
}

/// One query for the extension's seeding call.
#[allow(clippy::too_many_arguments)]
pub fn query(
    id: &str,
    workgroup: &str,
    state: &str,
    sql: &str,
    submitted: DateTime<Utc>,
    completed: Option<DateTime<Utc>>,
    scanned_bytes: u64,
    reason: Option<&str>,
) -> Value {
    let mut q = json!({
        "QueryExecutionId": id, "WorkGroup": workgroup, "State": state, "Query": sql,
        "SubmissionDateTime": submitted.timestamp_millis() as f64 / 1000.0,
        "DataScannedInBytes": scanned_bytes, "Database": "sales",
    });
    if let Some(c) = completed {
        q["CompletionDateTime"] = json!(c.timestamp_millis() as f64 / 1000.0);
        q["EngineExecutionTimeInMillis"] = json!((c - submitted).num_milliseconds());
    }
    if let Some(r) = reason {
        q["StateChangeReason"] = json!(r);
    }
    q
}

/// Seeds the demo lake around `now` (for the demo: the end of the current sweep window).
pub async fn seed(
    emu: &Emulator,
    config: &aws_config::SdkConfig,
    now: DateTime<Utc>,
) -> SeededLake {
    let athena = aws_sdk_athena::Client::new(config);
    for wg in WORKGROUPS {
        athena
            .create_work_group()
            .name(wg)
            .send()
            .await
            .expect("create workgroup");
    }
    let m = Duration::minutes;
    let queries = vec![
        // The query of events/athena-query-state-change.json.
        query(
            "5f0a8c1e-7b2d-4e9f-a3c6-1d8e2b4f6a90",
            "analytics",
            "SUCCEEDED",
            "SELECT * FROM sales.orders o, sales.lineitems l WHERE o.id = l.order_id",
            now - m(6),
            Some(now - m(2)),
            4 * (1 << 40),
            None,
        ),
        query(
            "q-etl-daily",
            "etl",
            "SUCCEEDED",
            "INSERT INTO sales.orders_clean SELECT * FROM sales.orders_raw WHERE dt = '2026-11-22'",
            now - m(9),
            Some(now - m(7)),
            40 * GIB,
            None,
        ),
        query(
            "q-analytics-fullscan",
            "analytics",
            "SUCCEEDED",
            "SELECT * FROM sales.orders o JOIN sales.customers c ON o.customer_id = c.id",
            now - m(30),
            Some(now - m(3)),
            3 * (1 << 40),
            None,
        ),
        query(
            "q-analytics-failed",
            "analytics",
            "FAILED",
            "SELECT order_id, total FROM sales.orderz",
            now - m(8),
            Some(now - m(8)),
            0,
            Some("TABLE_NOT_FOUND: line 1:30: Table 'awsdatacatalog.sales.orderz' does not exist"),
        ),
        query(
            "q-etl-repair",
            "etl",
            "SUCCEEDED",
            "MSCK REPAIR TABLE sales.orders_raw",
            now - m(6),
            Some(now - m(4)),
            0,
            None,
        ),
        query(
            "q-adhoc-runaway",
            "adhoc",
            "RUNNING",
            "SELECT customer_id, count(*) FROM sales.clickstream GROUP BY 1",
            now - m(75),
            None,
            900 * GIB,
            None,
        ),
        query(
            "q-adhoc-slow",
            "adhoc",
            "RUNNING",
            "SELECT * FROM sales.orders WHERE note LIKE '%refund%'",
            now - m(50),
            None,
            120 * GIB,
            None,
        ),
        query(
            "q-etl-backfill",
            "etl",
            "RUNNING",
            "-- lakeops:allow-long\nINSERT INTO sales.orders_hist SELECT * FROM sales.orders_raw",
            now - m(95),
            None,
            2048 * GIB,
            None,
        ),
    ];
    let count = queries.len();
    emu.seed_queries(queries);

    let glue = aws_sdk_glue::Client::new(config);
    create_glue_database(&glue, "sales").await;
    // What the demo's expensive queries read: the alerts say why they cost so much.
    create_parquet_table(&glue, "sales", "orders", 24, &["2026-11-21", "2026-11-22"]).await;
    for table in ["orders_raw", "orders_clean"] {
        let input = aws_sdk_glue::types::TableInput::builder()
            .name(table)
            .partition_keys(
                aws_sdk_glue::types::Column::builder()
                    .name("dt")
                    .r#type("string")
                    .build()
                    .expect("col"),
            )
            .build()
            .expect("table");
        glue.create_table()
            .database_name("sales")
            .table_input(input)
            .send()
            .await
            .expect("create table");
    }

    create_log_delivery(config).await;

    let tap = AlertTap::create(config).await;
    crate::create_ledger_table(config).await;
    crate::index::create_index_table(config).await;
    SeededLake {
        tap,
        queries: count,
    }
}

/// The transformer's sink: bucket `lakeops-logs` and Firehose stream `lakeops-logs` delivering to
/// it under `logs/` (moto writes each PutRecordBatch as one object).
pub async fn create_log_delivery(config: &aws_config::SdkConfig) {
    let s3 = aws_sdk_s3::Client::new(config);
    s3.create_bucket()
        .bucket(LOG_BUCKET)
        .send()
        .await
        .expect("create bucket");
    let firehose = aws_sdk_firehose::Client::new(config);
    firehose
        .create_delivery_stream()
        .delivery_stream_name(LOG_STREAM)
        .extended_s3_destination_configuration(
            aws_sdk_firehose::types::ExtendedS3DestinationConfiguration::builder()
                .role_arn("arn:aws:iam::123456789012:role/firehose")
                .bucket_arn(format!("arn:aws:s3:::{LOG_BUCKET}"))
                .prefix("logs/")
                .build()
                .expect("s3 destination"),
        )
        .send()
        .await
        .expect("create delivery stream");
}

/// The reconciliation part of the lake: database `lake` with the tables of five pipelines, their
/// partitions for `yesterday`, the answers their count queries get (each after `delay_seconds`),
/// and the checks file in S3.
pub struct ReconciliationLake {
    pub checks_uri: String,
    pub results_uri: String,
    /// Count queries one run starts, and how long each takes in the emulator.
    pub queries: usize,
    pub delay_seconds: f64,
}

pub const CHECKS_BUCKET: &str = "lakeops-config";
/// Creates a Glue database.
pub async fn create_glue_database(glue: &aws_sdk_glue::Client, name: &str) {
    glue.create_database()
        .database_input(
            aws_sdk_glue::types::DatabaseInput::builder()
                .name(name)
                .build()
                .expect("database input"),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
}

/// A Parquet table as Athena's `CREATE EXTERNAL TABLE … PARTITIONED BY (dt string) STORED AS
/// PARQUET` leaves it in Glue: `columns` columns (`c1`, `c2`, …) and one partition per value of
/// `dt` (the cost hints read format, columns, partition keys and partitions).
pub async fn create_parquet_table(
    glue: &aws_sdk_glue::Client,
    database: &str,
    table: &str,
    columns: usize,
    days: &[&str],
) {
    use aws_sdk_glue::types::{Column, SerDeInfo, StorageDescriptor, TableInput};
    let column = |name: String| {
        Column::builder()
            .name(name)
            .r#type("string")
            .build()
            .expect("col")
    };
    let mut sd = StorageDescriptor::builder()
        .input_format("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat")
        .serde_info(
            SerDeInfo::builder()
                .serialization_library(
                    "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                )
                .build(),
        )
        .location(format!("s3://lake/{table}/"));
    for i in 1..=columns {
        sd = sd.columns(column(format!("c{i}")));
    }
    let input = TableInput::builder()
        .name(table)
        .storage_descriptor(sd.build())
        .partition_keys(column("dt".into()))
        .build()
        .expect("table");
    glue.create_table()
        .database_name(database)
        .table_input(input)
        .send()
        .await
        .expect("create table");
    for day in days {
        let location = format!("s3://lake/{table}/dt={day}/");
        create_partition(glue, database, table, day, &location).await;
    }
}

/// Adds one partition (one key value) to a Glue table.
pub async fn create_partition(
    glue: &aws_sdk_glue::Client,
    database: &str,
    table: &str,
    value: &str,
    location: &str,
) {
    use aws_sdk_glue::types::{PartitionInput, StorageDescriptor};
    glue.create_partition()
        .database_name(database)
        .table_name(table)
        .partition_input(
            PartitionInput::builder()
                .values(value)
                .storage_descriptor(StorageDescriptor::builder().location(location).build())
                .build(),
        )
        .send()
        .await
        .expect("create partition");
}

/// Where the seeded lake's table files (Iceberg metadata) are.
pub const LAKE_BUCKET: &str = "lake-data";
const ORDERS_ICEBERG_METADATA: &str =
    "s3://lake-data/orders_iceberg/metadata/00003-5b1c.metadata.json";

/// Writes an Iceberg table metadata file (format v2, the table spec's shape) at `location`:
/// one partition spec with a field per `(column, column type, transform)` — `day` names the
/// field `<column>_day` as Iceberg does, `identity` keeps the column's name.
pub async fn put_iceberg_metadata(
    s3: &aws_sdk_s3::Client,
    location: &str,
    partitioning: &[(&str, &str, &str)],
) {
    let columns: Vec<serde_json::Value> = partitioning
        .iter()
        .enumerate()
        .map(|(i, (name, t, _))| json!({"id": i + 1, "name": name, "required": false, "type": t}))
        .collect();
    let fields: Vec<serde_json::Value> = partitioning
        .iter()
        .enumerate()
        .map(|(i, (name, _, transform))| {
            let field = if *transform == "identity" {
                name.to_string()
            } else {
                format!("{name}_{transform}")
            };
            json!({"name": field, "transform": transform, "source-id": i + 1, "field-id": 1000 + i})
        })
        .collect();
    let metadata = json!({"format-version": 2, "current-schema-id": 0,
        "schemas": [{"schema-id": 0, "type": "struct", "fields": columns}],
        "default-spec-id": 0, "partition-specs": [{"spec-id": 0, "fields": fields}]});
    let (bucket, key) = location
        .strip_prefix("s3://")
        .and_then(|r| r.split_once('/'))
        .expect("s3://bucket/key");
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(metadata.to_string().into_bytes().into())
        .send()
        .await
        .expect("put Iceberg metadata");
}
pub const RESULTS_BUCKET: &str = "lakeops-results";

/// The five checks: a match (Iceberg target counted from metadata), a difference within
/// tolerance, a mismatch beyond it, a stale target, and a source query that fails.
pub const CHECKS_YAML: &str = r#"checks:
  - name: orders_daily
    owner: sales-data
    tags: {pipeline: orders}
    source: {table: awsdatacatalog.lake.orders_raw, partition: {dt: "{{ yesterday }}"}}
    target: {table: lake.orders_iceberg, partition: {dt: "{{ yesterday }}"}}
  - name: payments_daily
    source: {table: lake.payments_raw, partition: {dt: "{{ yesterday }}"}}
    target: {table: lake.payments_clean, partition: {dt: "{{ yesterday }}"}}
    tolerance: {rows: 5}
  - name: events_daily
    owner: platform
    source: {table: lake.events_raw, partition: {dt: "{{ yesterday }}"}}
    target: {table: lake.events_clean, partition: {dt: "{{ yesterday }}"}}
    tolerance: {percent: 1}
  - name: customers_snapshot
    severity: warning
    source: {table: lake.customers_src}
    target:
      table: lake.customers_dim
      freshness: {max_age_hours: 36, measure: newest_partition_value}
  - name: refunds_daily
    source: {sql: "SELECT count(*) FROM lake.refunds_raw WHERE dt = '{{ yesterday }}'"}
    target: {table: lake.refunds_clean, partition: {dt: "{{ yesterday }}"}}
"#;

pub async fn seed_reconciliation(
    emu: &Emulator,
    config: &aws_config::SdkConfig,
    yesterday: chrono::NaiveDate,
    delay_seconds: f64,
) -> ReconciliationLake {
    use aws_sdk_glue::types::{Column, DatabaseInput, TableInput};
    let d = yesterday.format("%Y-%m-%d").to_string();
    let glue = aws_sdk_glue::Client::new(config);
    glue.create_database()
        .database_input(DatabaseInput::builder().name("lake").build().expect("db"))
        .send()
        .await
        .expect("create database lake");
    let key = |name: &str| {
        Column::builder()
            .name(name)
            .r#type("string")
            .build()
            .expect("col")
    };
    let partitioned = |name: &str, k: &str| {
        TableInput::builder()
            .name(name)
            .partition_keys(key(k))
            .build()
            .expect("table")
    };
    let mut tables = vec![
        partitioned("orders_raw", "dt"),
        TableInput::builder()
            .name("orders_iceberg")
            .parameters("table_type", "ICEBERG")
            .parameters("metadata_location", ORDERS_ICEBERG_METADATA)
            .build()
            .expect("table"),
        TableInput::builder()
            .name("customers_src")
            .build()
            .expect("table"),
        partitioned("customers_dim", "snapshot_dt"),
    ];
    for t in [
        "payments_raw",
        "payments_clean",
        "events_raw",
        "events_clean",
        "refunds_raw",
        "refunds_clean",
    ] {
        tables.push(partitioned(t, "dt"));
    }
    for t in tables {
        glue.create_table()
            .database_name("lake")
            .table_input(t)
            .send()
            .await
            .expect("create table");
    }
    let mut partitions: Vec<(&str, String)> = [
        "orders_raw",
        "payments_raw",
        "payments_clean",
        "events_raw",
        "events_clean",
        "refunds_raw",
        "refunds_clean",
    ]
    .into_iter()
    .map(|t| (t, d.clone()))
    .collect();
    // The dimension's newest snapshot is two days before yesterday: stale.
    for back in [2, 3] {
        partitions.push((
            "customers_dim",
            (yesterday - Duration::days(back))
                .format("%Y-%m-%d")
                .to_string(),
        ));
    }
    for (table, value) in partitions {
        create_partition(&glue, "lake", table, &value, &format!("s3://lake/{table}/")).await;
    }

    let count = |contains: String, n: u64| json!({"SqlContains": contains, "Rows": [[n.to_string()]], "DelaySeconds": delay_seconds, "DataScannedInBytes": 50u64 << 20});
    let partition = |t: &str| format!("\"lake\".\"{t}\" where \"dt\" = '{d}'");
    emu.seed_results(vec![
        count(partition("orders_raw"), 1000),
        json!({"SqlContains": "orders_iceberg$files", "Columns": ["delete_files", "data_rows", "files", "total-delete-files", "total-position-deletes", "total-equality-deletes"],
               "Rows": [["0", "1000", "4", "0", "0", "0"]], "DelaySeconds": delay_seconds, "DataScannedInBytes": 1u64 << 20}),
        count(partition("payments_raw"), 1000),
        count(partition("payments_clean"), 998),
        count(partition("events_raw"), 5000),
        count(partition("events_clean"), 4100),
        count("\"lake\".\"customers_src\"".into(), 250),
        count("\"lake\".\"customers_dim\"".into(), 250),
        json!({"SqlContains": "from lake.refunds_raw", "State": "FAILED", "DelaySeconds": delay_seconds,
               "StateChangeReason": "HIVE_BAD_DATA: Error parsing field value '' for field 3: For input string: \"\""}),
        count(partition("refunds_clean"), 10),
    ]);

    let s3 = aws_sdk_s3::Client::new(config);
    for bucket in [CHECKS_BUCKET, RESULTS_BUCKET, LAKE_BUCKET] {
        s3.create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("create bucket");
    }
    // The Iceberg table's metadata file: partitioned by identity(dt).
    put_iceberg_metadata(
        &s3,
        ORDERS_ICEBERG_METADATA,
        &[("dt", "string", "identity")],
    )
    .await;
    s3.put_object()
        .bucket(CHECKS_BUCKET)
        .key("reconciler/checks.yaml")
        .body(CHECKS_YAML.as_bytes().to_vec().into())
        .send()
        .await
        .expect("put checks file");
    ReconciliationLake {
        checks_uri: format!("s3://{CHECKS_BUCKET}/reconciler/checks.yaml"),
        results_uri: format!("s3://{RESULTS_BUCKET}/reconciler"),
        queries: 10,
        delay_seconds,
    }
}
