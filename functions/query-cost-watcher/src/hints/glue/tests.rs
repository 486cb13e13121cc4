use super::*;
use aws_sdk_glue::operation::get_partitions::GetPartitionsOutput;
use aws_sdk_glue::operation::get_table::{GetTableError, GetTableOutput};
use aws_sdk_glue::types::error::EntityNotFoundException;
use aws_sdk_glue::types::{Column, Partition, SerDeInfo, StorageDescriptor};
use aws_smithy_mocks::{mock, mock_client, RuleMode};

fn column(name: &str) -> Column {
    Column::builder()
        .name(name)
        .r#type("string")
        .build()
        .unwrap()
}

/// A table as Athena's `CREATE EXTERNAL TABLE … STORED AS PARQUET` leaves it in Glue.
fn parquet_table(name: &str, columns: usize, keys: &[&str]) -> Table {
    let mut sd = StorageDescriptor::builder()
        .input_format("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat")
        .serde_info(
            SerDeInfo::builder()
                .serialization_library(
                    "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                )
                .build(),
        );
    for i in 0..columns {
        sd = sd.columns(column(&format!("c{i}")));
    }
    let mut t = Table::builder().name(name).storage_descriptor(sd.build());
    for k in keys {
        t = t.partition_keys(column(k));
    }
    t.build().unwrap()
}

#[tokio::test]
async fn partitions_are_counted_page_by_page_up_to_the_bound_and_answers_are_kept() {
    let get = mock!(aws_sdk_glue::Client::get_table).then_output(|| {
        GetTableOutput::builder()
            .table(parquet_table("clickstream", 30, &["DT"]))
            .build()
    });
    // Every page full and another token: counting stops at the bound.
    let pages = mock!(aws_sdk_glue::Client::get_partitions).then_compute_output(|req| {
        assert_eq!(req.exclude_column_schema(), Some(true));
        assert_eq!(req.max_results(), Some(1000));
        let mut out = GetPartitionsOutput::builder().next_token("more");
        for _ in 0..1000 {
            out = out.partitions(Partition::builder().build());
        }
        out.build()
    });
    let client = mock_client!(aws_sdk_glue, RuleMode::MatchAny, &[&get, &pages]);
    let catalog = GlueCatalog::new(client);
    let facts = catalog
        .table("sales", "clickstream")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(facts.format, StorageFormat::Parquet);
    assert_eq!(
        (facts.columns, facts.partition_keys.clone()),
        (30, vec!["dt".to_string()])
    );
    assert_eq!(
        facts.partitions,
        Some(PartitionCount {
            counted: 10_000,
            more: true
        })
    );
    assert_eq!(pages.num_calls(), MAX_PARTITION_PAGES);
    catalog.table("sales", "clickstream").await.unwrap();
    assert_eq!(get.num_calls(), 1, "kept, not asked again");
}

#[tokio::test]
async fn an_unknown_table_is_none_and_a_failure_is_an_error() {
    let missing = mock!(aws_sdk_glue::Client::get_table)
        .match_requests(|r| r.name() == Some("gone"))
        .then_error(|| {
            GetTableError::EntityNotFoundException(
                EntityNotFoundException::builder()
                    .message("no table")
                    .build(),
            )
        });
    let broken = mock!(aws_sdk_glue::Client::get_table)
        .match_requests(|r| r.name() == Some("broken"))
        .then_error(|| GetTableError::unhandled("internal failure"));
    let client = mock_client!(aws_sdk_glue, RuleMode::MatchAny, &[&missing, &broken]);
    let catalog = GlueCatalog::new(client);
    assert_eq!(catalog.table("sales", "gone").await.unwrap(), None);
    let err = catalog.table("sales", "broken").await.unwrap_err();
    assert!(err.to_string().starts_with("glue:GetTable failed"), "{err}");
}

#[test]
fn formats_are_read_from_what_athena_ddl_and_crawlers_write() {
    let with = |input: &str, serde: &str, params: &[(&str, &str)]| {
        let mut t = Table::builder().name("t").storage_descriptor(
            StorageDescriptor::builder()
                .input_format(input)
                .serde_info(SerDeInfo::builder().serialization_library(serde).build())
                .build(),
        );
        for (k, v) in params {
            t = t.parameters(*k, *v);
        }
        format_of(&t.build().unwrap())
    };
    let text = "org.apache.hadoop.mapred.TextInputFormat";
    assert_eq!(
        with(text, "org.openx.data.jsonserde.JsonSerDe", &[]),
        StorageFormat::Json
    );
    assert_eq!(
        with(
            "com.amazon.emr.cloudtrail.CloudTrailInputFormat",
            "com.amazon.emr.hive.serde.CloudTrailSerde",
            &[]
        ),
        StorageFormat::Json
    );
    assert_eq!(
        with(text, "org.apache.hadoop.hive.serde2.OpenCSVSerde", &[]),
        StorageFormat::Csv
    );
    assert_eq!(
        with(
            text,
            "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            &[("classification", "csv")]
        ),
        StorageFormat::Csv
    );
    assert_eq!(
        with(text, "org.apache.hadoop.hive.serde2.RegexSerDe", &[]),
        StorageFormat::Text
    );
    assert_eq!(
        with(
            "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
            "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
            &[]
        ),
        StorageFormat::Orc
    );
    assert_eq!(
        with("", "", &[("table_type", "ICEBERG")]),
        StorageFormat::Iceberg
    );
    assert_eq!(
        with(
            "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat",
            "org.apache.hadoop.hive.serde2.avro.AvroSerDe",
            &[]
        ),
        StorageFormat::Other
    );
}
