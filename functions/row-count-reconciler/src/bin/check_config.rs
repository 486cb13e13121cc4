//! `check-config <checks.yaml>…` (`make check-config FILE=checks.yaml`): validates checks files
//! exactly as the function does before it runs a query, prints the checks or every problem with
//! its line, and exits 1 when any file is invalid (2 when one cannot be read) — for a team's CI.

#![warn(clippy::too_many_lines)] // the house limit: no function over 80 lines (clippy.toml)
#![cfg_attr(test, allow(clippy::too_many_lines))]

use std::process::ExitCode;

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: check-config <checks.yaml>...");
        return ExitCode::from(2);
    }
    let mut code = ExitCode::SUCCESS;
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{file}: cannot read: {e}");
                return ExitCode::from(2);
            }
        };
        match row_count_reconciler::checks::check_config_report(&text, file) {
            Ok(report) => println!("{report}"),
            Err(problems) => {
                eprintln!("{problems}");
                code = ExitCode::FAILURE;
            }
        }
    }
    code
}
