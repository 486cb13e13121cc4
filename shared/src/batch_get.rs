//! Reading many items of one table by key: `BatchGetItem` takes at most 100 keys a call, and the
//! keys DynamoDB leaves unprocessed (throttling, the 16 MB answer limit) are asked again after a
//! jittered backoff — an error if some are still unprocessed after [`UNPROCESSED_ROUNDS`].

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use crate::error::LakeopsError;

/// `BatchGetItem` takes at most 100 keys.
pub const BATCH_GET_ITEM_MAX: usize = 100;
/// Calls made for the keys of one chunk before the rest are given up as an error.
pub const UNPROCESSED_ROUNDS: u32 = 6;

/// One item key: attribute name → value.
pub type Key = HashMap<String, AttributeValue>;

/// The items of `keys` that exist (in no particular order), and the calls it took.
/// `projection`: the attributes to read (all when `None`); `consistent`: strongly consistent.
pub async fn batch_get_items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: Vec<Key>,
    projection: Option<&str>,
    consistent: bool,
) -> Result<(Vec<Key>, u32), LakeopsError> {
    let (mut found, mut calls) = (Vec::new(), 0);
    for chunk in keys.chunks(BATCH_GET_ITEM_MAX) {
        let mut pending: Vec<Key> = chunk.to_vec();
        for round in 0..UNPROCESSED_ROUNDS {
            if pending.is_empty() {
                break;
            }
            if round > 0 {
                tokio::time::sleep(crate::backoff::full_jitter(
                    round,
                    std::time::Duration::from_millis(50),
                    std::time::Duration::from_secs(2),
                ))
                .await;
            }
            calls += 1;
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .set_projection_expression(projection.map(str::to_string))
                .consistent_read(consistent)
                .build()
                .map_err(|e| LakeopsError::aws("dynamodb:BatchGetItem", e))?;
            let out = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| LakeopsError::aws("dynamodb:BatchGetItem", e))?;
            found.extend(
                out.responses()
                    .and_then(|r| r.get(table))
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
            pending = out
                .unprocessed_keys()
                .and_then(|u| u.get(table))
                .map(|k| k.keys().to_vec())
                .unwrap_or_default();
        }
        if !pending.is_empty() {
            return Err(LakeopsError::aws(
                "dynamodb:BatchGetItem",
                std::io::Error::other(format!("{} keys unprocessed after retries", pending.len())),
            ));
        }
    }
    Ok((found, calls))
}
