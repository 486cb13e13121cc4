//! What the harness takes from infra/template.yaml.
//!
//! Resources (tables, queues, topic): made from `pub const`s whose doc comment names the
//! template value they mirror; `scripts/check_harness.py` (in `make lint`) compares each with
//! the template and fails on a difference, or on a queue, mapping, table or index the harness
//! does not mirror. Function limits (`MemorySize`, `Timeout`): read from the template when the
//! functions start, by the same script (`--limits`), so they can never be stale.

use std::collections::HashMap;
use std::sync::OnceLock;

/// A DynamoDB table as the template makes it.
#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    pub name: &'static str,
    /// `PAY_PER_REQUEST` or `PROVISIONED`.
    pub billing_mode: &'static str,
    /// (attribute, `S` / `N` / `B`).
    pub attributes: &'static [(&'static str, &'static str)],
    /// (attribute, `HASH` / `RANGE`), in order.
    pub key_schema: &'static [(&'static str, &'static str)],
    pub global_secondary_indexes: &'static [GsiSpec],
}

/// A global secondary index of a [`TableSpec`].
#[derive(Debug, Clone, Copy)]
pub struct GsiSpec {
    pub name: &'static str,
    pub key_schema: &'static [(&'static str, &'static str)],
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection: &'static str,
    /// With `INCLUDE`: the attributes besides the keys the index holds.
    pub non_key_attributes: &'static [&'static str],
}

/// Creates the table of `spec` (pay per request: no throughput is given).
pub async fn create_table(config: &aws_config::SdkConfig, spec: &TableSpec) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    let keys = |schema: &[(&str, &str)]| -> Vec<KeySchemaElement> {
        schema
            .iter()
            .map(|(name, kind)| {
                KeySchemaElement::builder()
                    .attribute_name(*name)
                    .key_type(KeyType::from(*kind))
                    .build()
                    .expect("key")
            })
            .collect()
    };
    let attributes = spec
        .attributes
        .iter()
        .map(|(name, kind)| {
            AttributeDefinition::builder()
                .attribute_name(*name)
                .attribute_type(ScalarAttributeType::from(*kind))
                .build()
                .expect("attribute")
        })
        .collect();
    let indexes: Vec<GlobalSecondaryIndex> = spec
        .global_secondary_indexes
        .iter()
        .map(|gsi| {
            let mut projection =
                Projection::builder().projection_type(ProjectionType::from(gsi.projection));
            for a in gsi.non_key_attributes {
                projection = projection.non_key_attributes(*a);
            }
            GlobalSecondaryIndex::builder()
                .index_name(gsi.name)
                .set_key_schema(Some(keys(gsi.key_schema)))
                .projection(projection.build())
                .build()
                .expect("index")
        })
        .collect();
    aws_sdk_dynamodb::Client::new(config)
        .create_table()
        .table_name(spec.name)
        .billing_mode(BillingMode::from(spec.billing_mode))
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(keys(spec.key_schema)))
        .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {}: {e}", spec.name));
}

/// A function's `MemorySize` and `Timeout` in the template.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct FunctionLimits {
    /// The template resource (`QueryCostWatcherFunction`).
    pub resource: String,
    pub memory_mb: u64,
    pub timeout_seconds: u64,
}

/// Each function's limits, by binary name, read from infra/template.yaml once per process
/// (`scripts/check_harness.py --limits`: cfn-lint's reader of the template, Globals and the
/// `Functions` mapping resolved).
pub fn function_limits() -> &'static HashMap<String, FunctionLimits> {
    static LIMITS: OnceLock<HashMap<String, FunctionLimits>> = OnceLock::new();
    LIMITS.get_or_init(|| {
        let script = crate::repo_root().join("scripts/check_harness.py");
        let out = std::process::Command::new(crate::venv_bin("python"))
            .arg(&script)
            .arg("--limits")
            .current_dir(crate::repo_root())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "run {} (python in .venv: `make setup`): {e}",
                    script.display()
                )
            });
        assert!(
            out.status.success(),
            "{} --limits failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{} --limits answered no limits ({e}): {}",
                script.display(),
                String::from_utf8_lossy(&out.stdout)
            )
        })
    })
}
