//! An Iceberg table's metadata file: read from S3 within a cap, parsed into only what the
//! metadata count uses (the schemas' columns and the partition specs).

use std::collections::BTreeMap;

use lakeops::LakeopsError;
use serde::de::IgnoredAny;
use serde::Deserialize;

use super::{IcebergError, Layout, SpecField};

/// The most of a metadata file the reconciler reads (bytes). The function has 256 MB
/// (`MemorySize` in infra/template.yaml) and reads one metadata file at a time (sides are planned
/// one after the other). A file whose size S3 states is read into one buffer of that size and
/// parsed in place; without a stated size the buffer grows and a reallocation can briefly hold
/// two copies, so 32 MiB costs at most 64 MiB, leaving the rest to the runtime, the SDK clients
/// and the run's answers. 32 MiB of metadata is tens of thousands of snapshots: such a table
/// gets the `count(*)` its metadata would otherwise have saved.
pub const METADATA_FILE_CAP: usize = 32 * 1024 * 1024;

/// The parts of an Iceberg table metadata file (format v1 or v2) that [`read_layout`] uses.
/// Everything else (`snapshots`, `metadata-log`, `refs`, `properties`, …) is skipped by the
/// parser without being kept, which is what bounds memory to the file's bytes.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct MetadataFile {
    schemas: Option<Vec<Schema>>,
    /// Format v1's one schema, for files without `schemas`.
    schema: Option<Schema>,
    partition_specs: Option<Vec<PartitionSpec>>,
    default_spec_id: Option<i64>,
    /// Format v1's one spec's fields, for files without `partition-specs`.
    partition_spec: Option<Vec<PartitionField>>,
}

#[derive(Deserialize)]
struct Schema {
    fields: Option<Vec<Column>>,
}

/// A top-level column; one without an id or a name cannot be a partition source, and is left out.
#[derive(Deserialize)]
struct Column {
    id: Option<i64>,
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<ColumnType>,
}

/// A column's type: a primitive's name (`date`, `timestamptz`, …), or a nested type (an object:
/// struct, list, map), reported as `struct` since no day or identity field maps onto one.
#[derive(Deserialize)]
#[serde(untagged)]
enum ColumnType {
    Primitive(String),
    Nested(IgnoredAny),
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct PartitionSpec {
    spec_id: Option<i64>,
    fields: Option<Vec<PartitionField>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct PartitionField {
    name: Option<String>,
    transform: Option<String>,
    source_id: Option<i64>,
}

/// Reads the partition specs out of an Iceberg table metadata file (format v1 or v2).
pub fn read_layout(metadata: impl AsRef<[u8]>) -> Result<Layout, IcebergError> {
    let file: MetadataFile = serde_json::from_slice(metadata.as_ref())
        .map_err(|e| IcebergError::NotMetadataJson(e.to_string()))?;
    // Every schema's top-level columns by field id (a spec may name a column of an older schema).
    let columns: BTreeMap<i64, (String, String)> = file
        .schemas
        .or_else(|| file.schema.map(|s| vec![s]))
        .into_iter()
        .flatten()
        .flat_map(|schema| schema.fields.unwrap_or_default())
        .filter_map(|c| {
            let kind = match c.kind {
                Some(ColumnType::Primitive(t)) => t,
                _ => "struct".to_string(),
            };
            Some((c.id?, (c.name?, kind)))
        })
        .collect();
    let (specs, fields) = match file.partition_specs {
        Some(specs) => {
            let default = file.default_spec_id.unwrap_or(0);
            let count = specs.len();
            let current = specs
                .into_iter()
                .find(|s| s.spec_id == Some(default))
                .ok_or(IcebergError::DefaultSpecMissing)?;
            (count, current.fields.unwrap_or_default())
        }
        // Format v1 without `partition-specs`: one spec.
        None => (1, file.partition_spec.unwrap_or_default()),
    };
    let fields = fields
        .into_iter()
        .map(|f| {
            let source_id = f.source_id.ok_or(IcebergError::FieldWithoutSourceId)?;
            let (source, source_type) = columns
                .get(&source_id)
                .cloned()
                .ok_or(IcebergError::SourceColumnMissing(source_id))?;
            Ok(SpecField {
                name: f.name.unwrap_or_default(),
                transform: f.transform.unwrap_or_default(),
                source,
                source_type,
            })
        })
        .collect::<Result<Vec<_>, IcebergError>>()?;
    Ok(Layout { specs, fields })
}

/// The layout stated by the metadata file at `uri` (`s3://bucket/key`), read within
/// [`METADATA_FILE_CAP`]. `Err` says why the metadata cannot count the side (then `count(*)`).
pub async fn fetch_layout(s3: &aws_sdk_s3::Client, uri: &str) -> Result<Layout, IcebergError> {
    read_layout(fetch_metadata_file(s3, uri, METADATA_FILE_CAP).await?)
}

/// A metadata file's bytes, or why they were not read: refused on the GetObject answer's
/// `ContentLength` before any of the body is read (no HeadObject, so no second call and no
/// other permission), and again while reading, should S3 state no length.
async fn fetch_metadata_file(
    s3: &aws_sdk_s3::Client,
    uri: &str,
    cap: usize,
) -> Result<Vec<u8>, IcebergError> {
    let (bucket, key) = crate::parse_s3_uri(uri).ok_or_else(|| IcebergError::NotS3Uri {
        uri: uri.to_string(),
    })?;
    let mut out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| s3_failure(uri, e))?;
    // A negative length is no statement of size: the body's reading still bounds it.
    let stated = out.content_length().and_then(|n| usize::try_from(n).ok());
    // Returning early drops the body unread: the connection is closed, not drained.
    let mut body = MetadataBody::new(stated, cap).map_err(|too_big| too_big.of_file(uri))?;
    while let Some(chunk) = out.body.try_next().await.map_err(|e| s3_failure(uri, e))? {
        body.push(&chunk).map_err(|too_big| too_big.of_file(uri))?;
    }
    Ok(body.bytes)
}

/// An S3 read error as a side's reason, naming the file.
fn s3_failure<E: std::error::Error>(uri: &str, e: E) -> IcebergError {
    IcebergError::S3Read {
        uri: uri.to_string(),
        source: LakeopsError::aws("s3:GetObject", e),
    }
}

/// A metadata file larger than the reconciler reads: its size as S3 stated it, or `None` when
/// the body ran past the cap (S3 stated no size).
#[derive(Debug, PartialEq)]
struct TooBig {
    size: Option<usize>,
    cap: usize,
}

impl TooBig {
    /// The side's `method_reason`: which file, how big, and the cap.
    fn of_file(&self, uri: &str) -> IcebergError {
        let (uri, cap) = (uri.to_string(), self.cap);
        match self.size {
            Some(size) => IcebergError::TooBig { uri, size, cap },
            None => IcebergError::BodyOverCap { uri, cap },
        }
    }
}

/// A metadata file's body as it arrives, in one buffer that never grows past the cap.
struct MetadataBody {
    bytes: Vec<u8>,
    cap: usize,
}

impl MetadataBody {
    /// Refuses a stated size over the cap; reserves a stated size once, so the file is held in
    /// one allocation with no copy.
    fn new(stated: Option<usize>, cap: usize) -> Result<Self, TooBig> {
        match stated {
            Some(n) if n > cap => Err(TooBig { size: Some(n), cap }),
            n => Ok(Self {
                bytes: Vec::with_capacity(n.unwrap_or(0)),
                cap,
            }),
        }
    }

    fn push(&mut self, chunk: &[u8]) -> Result<(), TooBig> {
        let needed = self.bytes.len() + chunk.len();
        if needed > self.cap {
            return Err(TooBig {
                size: None,
                cap: self.cap,
            });
        }
        if needed > self.bytes.capacity() {
            // Doubling, as `Vec` would, but never reserving past the cap.
            let target = needed.max(2 * self.bytes.capacity()).min(self.cap);
            self.bytes.reserve_exact(target - self.bytes.len());
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::get_object::GetObjectOutput;
    use aws_sdk_s3::primitives::ByteStream;
    use aws_smithy_mocks::{mock, MockResponseInterceptor, Rule};

    const URI: &str = "s3://lake-data/orders/metadata/00042-9f1c.metadata.json";

    /// Format v2 metadata for a table `PARTITIONED BY (day(ts))`.
    const METADATA: &str = r#"{"format-version": 2, "schemas": [{"schema-id": 0, "type": "struct",
      "fields": [{"id": 1, "name": "ts", "required": false, "type": "timestamptz"}]}],
      "default-spec-id": 0, "partition-specs": [{"spec-id": 0, "fields": [
        {"name": "ts_day", "transform": "day", "source-id": 1, "field-id": 1000}]}]}"#;

    fn day_layout() -> Layout {
        Layout {
            specs: 1,
            fields: vec![SpecField {
                name: "ts_day".into(),
                transform: "day".into(),
                source: "ts".into(),
                source_type: "timestamptz".into(),
            }],
        }
    }

    /// A GetObject answer stating `length` (or nothing) and sending `body`.
    fn get_object(length: Option<i64>, body: Vec<u8>) -> Rule {
        mock!(aws_sdk_s3::Client::get_object)
            .match_requests(|r| {
                r.bucket() == Some("lake-data")
                    && r.key() == Some("orders/metadata/00042-9f1c.metadata.json")
            })
            .then_output(move || {
                GetObjectOutput::builder()
                    .set_content_length(length)
                    .body(ByteStream::from(body.clone()))
                    .build()
            })
    }

    /// `mock_client!` needs aws-sdk-s3's `test-util` feature, which the workspace does not build
    /// (one feature set for every command): the same client, put together by hand.
    fn s3_answering(rule: &Rule) -> aws_sdk_s3::Client {
        use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("AKID", "secret", None, None, "test"))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(MockResponseInterceptor::new().with_rule(rule))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    #[tokio::test]
    async fn a_metadata_file_within_the_cap_gives_its_layout() {
        let rule = get_object(Some(METADATA.len() as i64), METADATA.into());
        assert_eq!(
            fetch_layout(&s3_answering(&rule), URI).await.unwrap(),
            day_layout()
        );
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_metadata_file_stated_over_the_cap_is_not_read() {
        // The body is good metadata: only the stated size can have refused it.
        let rule = get_object(Some(200 << 20), METADATA.into());
        assert_eq!(
            fetch_layout(&s3_answering(&rule), URI)
                .await
                .unwrap_err()
                .to_string(),
            format!(
                "the metadata file {URI} is 200.00 MiB (209715200 bytes), over the 32.00 MiB this function reads into memory"
            )
        );
        // One GetObject: the size came from its answer, not from a HeadObject.
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_body_without_a_stated_size_is_read_only_up_to_the_cap() {
        // Good metadata padded past the cap with whitespace (still valid JSON).
        let mut body = METADATA.as_bytes().to_vec();
        body.resize(METADATA_FILE_CAP + 1, b' ');
        let rule = get_object(None, body);
        assert_eq!(
            fetch_layout(&s3_answering(&rule), URI)
                .await
                .unwrap_err()
                .to_string(),
            format!(
                "the metadata file {URI} sent more than the 32.00 MiB this function reads into memory (S3 stated no size; reading stopped there)"
            )
        );
        // Without a stated size but within the cap: read.
        let rule = get_object(None, METADATA.into());
        assert_eq!(
            fetch_layout(&s3_answering(&rule), URI).await.unwrap(),
            day_layout()
        );
    }

    #[test]
    fn the_body_is_refused_at_the_chunk_that_crosses_the_cap() {
        assert_eq!(
            MetadataBody::new(Some(11), 10).err(),
            Some(TooBig {
                size: Some(11),
                cap: 10
            })
        );
        assert_eq!(
            MetadataBody::new(Some(10), 10).unwrap().bytes.capacity(),
            10
        );
        let mut body = MetadataBody::new(None, 10).unwrap();
        assert_eq!(body.push(b"{\"a\""), Ok(()));
        assert_eq!(body.push(b": 12"), Ok(()));
        assert_eq!(body.push(b"3}"), Ok(()));
        assert_eq!(
            body.push(b" "),
            Err(TooBig {
                size: None,
                cap: 10
            })
        );
        assert_eq!(body.bytes, b"{\"a\": 123}");
        // Growth never reserves past the cap.
        assert!(body.bytes.capacity() <= 10);
    }

    #[test]
    fn the_parse_keeps_only_the_fields_used() {
        // What a long-lived table's metadata is mostly made of, and fields this code has never
        // heard of: all skipped.
        let snapshots: Vec<String> = (0..5_000)
            .map(|i| {
                format!(
                    r#"{{"snapshot-id": {i}, "timestamp-ms": {i}, "manifest-list": "s3://lake-data/orders/metadata/snap-{i}.avro",
                    "summary": {{"operation": "append", "total-delete-files": "0", "total-position-deletes": "0"}}, "schema-id": 0}}"#
                )
            })
            .collect();
        let log: Vec<String> = (0..5_000)
            .map(|i| format!(r#"{{"timestamp-ms": {i}, "metadata-file": "s3://lake-data/orders/metadata/{i:05}.metadata.json"}}"#))
            .collect();
        let metadata = format!(
            r#"{{"format-version": 2, "table-uuid": "9c12d441-03fe-4693-9a96-a0705ddf69c1", "future-field": {{"x": [1, 2]}},
            "schemas": [{{"schema-id": 0, "type": "struct", "identifier-field-ids": [], "fields": [
              {{"id": 1, "name": "ts", "required": false, "type": "timestamptz", "doc": "event time", "initial-default": null}},
              {{"id": 2, "name": "tags", "required": false, "type": {{"type": "list", "element-id": 3, "element": "string", "element-required": false}}}}]}}],
            "default-spec-id": 0, "partition-specs": [{{"spec-id": 0, "fields": [
              {{"name": "ts_day", "transform": "day", "source-id": 1, "field-id": 1000}}]}}],
            "properties": {{"write.format.default": "parquet"}}, "current-snapshot-id": 4999,
            "refs": {{"main": {{"snapshot-id": 4999, "type": "branch"}}}},
            "snapshots": [{}], "snapshot-log": [], "metadata-log": [{}], "statistics": []}}"#,
            snapshots.join(", "),
            log.join(", ")
        );
        assert_eq!(read_layout(&metadata).unwrap(), day_layout());
        // A nested column is reported as `struct`, as before the typed parse.
        let columns = metadata.replace(r#""source-id": 1,"#, r#""source-id": 2,"#);
        let layout = read_layout(columns).unwrap();
        assert_eq!(layout.fields[0].source, "tags");
        assert_eq!(layout.fields[0].source_type, "struct");
    }
}
