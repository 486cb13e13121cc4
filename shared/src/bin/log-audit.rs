//! `make audit`: every Lambda function in the account (and region) of the current AWS
//! credentials whose failures lakeops cannot see in its logs, and why
//! ([`lakeops::log_audit`]). Read-only; settings from the same `LOG_AUDIT_*` variables as the
//! digest's section. Exit status 0 with nothing unseen, 1 when something is, 2 on an error
//! (so it can gate a deploy).

#![warn(clippy::too_many_lines)] // the house limit: no function over 80 lines (clippy.toml)
#![cfg_attr(test, allow(clippy::too_many_lines))]

use lakeops::log_audit::{self, read::AuditReader, AuditSettings};
use lakeops::ConfigReader;

#[tokio::main]
async fn main() {
    let mut r = ConfigReader::from_env();
    let settings = AuditSettings::read(&mut r);
    if let Err(e) = r.finish() {
        eprintln!("{e}");
        std::process::exit(2);
    }
    let sdk = lakeops::aws::sdk_config().await;
    let reader = AuditReader::new(&sdk, settings.calls_per_second);
    match log_audit::audit_account(&reader, &settings).await {
        Ok((lines, findings)) => {
            for line in lines {
                println!("{line}");
            }
            std::process::exit(if findings.is_empty() { 0 } else { 1 });
        }
        Err(e) => {
            eprintln!("log audit failed: {e}");
            std::process::exit(2);
        }
    }
}
