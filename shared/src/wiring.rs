//! The AWS-backed dependencies of the functions that watch Athena, built once at start-up.

use crate::alert::SnsAlertPublisher;
use crate::api_budget::ApiBudget;
use crate::athena::AthenaHistory;
use crate::config::{AthenaWatchSettings, CommonConfig};
use crate::ledger::DynamoLedger;
use crate::query_index::QueryIndex;

/// Athena history reader, alert publisher, alert ledger and query index, from one SDK config.
pub struct AthenaWatchClients {
    pub history: AthenaHistory,
    pub alerts: SnsAlertPublisher,
    pub ledger: DynamoLedger,
    pub index: QueryIndex,
    /// For the outbox ([`crate::outbox::Outbox`]), in the ledger table.
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl AthenaWatchClients {
    pub async fn connect(common: &CommonConfig, settings: &AthenaWatchSettings) -> Self {
        let sdk = crate::aws::sdk_config().await;
        Self {
            history: AthenaHistory::new(
                aws_sdk_athena::Client::new(&sdk),
                settings.history_calls_per_second,
            )
            .with_budget(ApiBudget::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                &settings.index_table,
                settings.history_calls_per_second,
            )),
            alerts: SnsAlertPublisher::new(
                aws_sdk_sns::Client::new(&sdk),
                &common.alert_topic_arn,
                common.dry_run,
            ),
            ledger: DynamoLedger::new(aws_sdk_dynamodb::Client::new(&sdk), &settings.ledger_table),
            index: QueryIndex::new(aws_sdk_dynamodb::Client::new(&sdk), &settings.index_table),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        }
    }
}
