//! Hostile HTTP: schemathesis generates requests from the server's own `/openapi.json` and checks
//! every answer against it (no 5xx; status codes, content types, headers and bodies as
//! documented).
//!
//! Two runs share the time: one with a terminal's key (the merchant API, plus everything that
//! needs no authentication: accounts, sign-in, device joins, service), one with a wallet's session
//! (the wallet API). Left out of the second: the live feed, a stream that never ends by itself;
//! freezing the wallet and revoking a device, which schemathesis would do to its own wallet (it
//! finds the device id through the document's links) and so end the session or freeze the wallet
//! for every later request. Signing out is in the first run, where a terminal's key can only be
//! refused.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::server::ServerCommand;
use crate::shopper::Shopper;

/// The checks that must pass.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";

#[derive(Debug)]
pub struct Outcome {
    /// (run name, passed)
    pub runs: Vec<(&'static str, bool)>,
}

pub async fn run(server: &ServerCommand, st: &Path, seconds: u64, report_dir: &Path) -> Result<Outcome> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    let terminal_key = server.create_terminal("Schemathesis Store")?;
    let running = server.start(&http).await?;
    let shopper = Shopper::enroll(&http, &running.url, "Schemathesis", 50_000).await?;
    let schema = format!("{}/openapi.json", running.url);
    let each = (seconds / 2).max(5);
    let runs: [(&'static str, String, &[&str]); 2] = [
        ("terminal key and unauthenticated", terminal_key, &["--exclude-tag", "wallet"]),
        (
            "wallet session",
            shopper.token.clone(),
            &[
                "--include-tag",
                "wallet",
                "--exclude-path",
                "/v1/wallet/feed",
                "--exclude-path",
                "/v1/wallet/freeze",
                "--exclude-path",
                "/v1/wallet/devices/{id}/remove",
            ],
        ),
    ];
    // schemathesis keeps a cache in its working directory: keep it with the reports.
    let report_dir = &std::path::absolute(report_dir)?;
    std::fs::create_dir_all(report_dir).with_context(|| format!("creating {}", report_dir.display()))?;
    let mut outcome = Outcome { runs: Vec::new() };
    for (name, token, filter) in runs {
        println!("\n--> schemathesis, {name}, {each} s");
        let status = Command::new(st)
            .arg("run")
            .arg(&schema)
            .args(["--checks", CHECKS])
            .args(["--max-time", &each.to_string()])
            // One worker: with two, hypothesis parses its strategies' lambdas (`ast.parse`) on two
            // threads, and CPython 3.11.7 (this machine's) keeps the AST constructor's recursion
            // depth in interpreter-wide state that can go out of step (gh-106905, seen in threaded
            // programs). Two CI runs died on `POST /v1/wallet/close` with "AST constructor
            // recursion depth mismatch": a crash of the tool, not a finding.
            .args(["--request-timeout", "10", "--workers", "1", "--suppress-health-check", "all"])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(filter)
            .args(["--report", "junit", "--report-dir"])
            .arg(report_dir.join(name.replace(' ', "-")))
            .current_dir(report_dir)
            .status()
            .with_context(|| format!("running {}", st.display()))?;
        outcome.runs.push((name, status.success()));
    }
    running.stop()?;
    Ok(outcome)
}
