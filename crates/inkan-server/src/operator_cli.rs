//! `inkan-server admin review …` and `admin wind-down`: commands that call a running server's
//! operator API over HTTP, so that shoppers and terminals hear of each decision at once.

use anyhow::{Context, Result, bail};
use inkan_api::ErrorBody;
use inkan_api::admin::{HeldCharges, ReviewDecision, Suspend, WindDown, WindDownBatch, WindDownReport};
use inkan_api::merchant::Charge;
use serde::de::DeserializeOwned;

use crate::{Decision, ReviewCommand, WindDownArgs, read_secret};

#[allow(clippy::print_stdout, reason = "the admin commands print their result for the operator")]
pub async fn review(command: ReviewCommand) -> Result<()> {
    let (key, client) = operator()?;
    let (decision, verb) = match command {
        ReviewCommand::List(api) => {
            let url = api.server.join("v1/admin/reviews")?;
            let held: HeldCharges = answer(client.get(url).bearer_auth(&key).send().await).await?;
            if held.charges.is_empty() {
                println!("no charge is held for review");
            }
            for c in held.charges {
                let rfc3339 = &time::format_description::well_known::Rfc3339;
                let money = inkan_core::Money::new(c.currency.parse().map_err(anyhow::Error::msg)?, c.amount);
                println!(
                    "{}  {money}  {} ({})  {}  wallet {} device {}  made {}  expires {}",
                    c.charge_id,
                    c.merchant_name,
                    c.terminal_country,
                    c.reason,
                    c.account_id,
                    c.device_id,
                    c.created_at.format(rfc3339)?,
                    c.expires_at.format(rfc3339)?
                );
            }
            return Ok(());
        }
        ReviewCommand::Approve(decision) => (decision, "approve"),
        ReviewCommand::Decline(decision) => (decision, "decline"),
    };
    let Decision { charge, reason, api } = decision;
    if charge.is_empty() || charge.len() > 64 || !charge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        bail!("{charge:?} is not a charge id (ch_…)");
    }
    let url = api.server.join(&format!("v1/admin/reviews/{charge}/{verb}"))?;
    let body = ReviewDecision { reason };
    let decided: Charge = answer(client.post(url).bearer_auth(&key).json(&body).send().await).await?;
    println!("{verb}d {}: now {}", decided.id, decided.status);
    Ok(())
}

/// The answer's body, or the server's error in words.
async fn answer<T: DeserializeOwned>(sent: reqwest::Result<reqwest::Response>) -> Result<T> {
    let response = sent.context("could not reach the server's operator API (--server, INKAN_ADMIN_URL)")?;
    let status = response.status();
    if status.is_success() {
        return response.json().await.context("the server's answer did not parse");
    }
    match response.json::<ErrorBody>().await {
        Ok(body) => bail!("the server refused ({status}): {}", body.error),
        Err(_) => bail!("the server answered {status}"),
    }
}

/// The operator key (from `INKAN_OPERATOR_KEY`, or typed at a prompt that does not echo it) and
/// an HTTP client.
fn operator() -> Result<(String, reqwest::Client)> {
    let key = match std::env::var("INKAN_OPERATOR_KEY") {
        Ok(key) if !key.trim().is_empty() => key.trim().to_owned(),
        _ => read_secret("operator key: ")?,
    };
    Ok((key, reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build()?))
}

/// `admin wind-down`: suspends charges, top-ups and enrolment, then closes every wallet in
/// batches (each balance paid back to its card) with a progress bar, and prints a report that
/// sums what was paid back and what is left, checked against the ledger. Run it again to resume.
#[allow(clippy::print_stdout, reason = "the admin commands print their result for the operator")]
pub async fn wind_down(args: WindDownArgs) -> Result<()> {
    let (key, client) = operator()?;
    let server = &args.api.server;
    for service in ["charges", "top_ups", "enrolment"] {
        let url = server.join(&format!("v1/admin/suspensions/{service}"))?;
        let body = Suspend { reason: format!("winding down: {}", args.reason) };
        let _: serde_json::Value = answer(client.put(url).bearer_auth(&key).json(&body).send().await).await?;
    }
    println!("charges, top-ups and enrolment suspended");
    let report_url = server.join("v1/admin/wind-down")?;
    let before: WindDownReport = answer(client.get(report_url.clone()).bearer_auth(&key).send().await).await?;
    let bar = indicatif::ProgressBar::new(before.open_wallets);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} wallets  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (mut paid_out, mut waiting, mut not_closed) = (0i64, 0i64, Vec::new());
    let mut after = None;
    loop {
        let body = WindDown { reason: args.reason.clone(), after: after.clone() };
        let batch: WindDownBatch =
            answer(client.post(report_url.clone()).bearer_auth(&key).json(&body).send().await).await?;
        bar.inc(u64::from(batch.wallets));
        paid_out += batch.paid_out;
        waiting += batch.waiting;
        bar.set_message(format!("¥{paid_out} paid back"));
        not_closed.extend(batch.not_closed);
        match batch.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    bar.finish();
    let after: WindDownReport = answer(client.get(report_url).bearer_auth(&key).send().await).await?;
    println!("this run: ¥{paid_out} paid back to cards, ¥{waiting} on its way");
    for n in &not_closed {
        println!("not closed: {}: {}", n.account_id, n.reason);
    }
    println!(
        "in all: {} wallet(s) still open holding ¥{}; ¥{} paid back; ¥{} on its way",
        after.open_wallets, after.left_in_wallets, after.paid_out, after.waiting
    );
    if after.ledger_wallet_books == after.left_in_wallets {
        println!("the ledger agrees: the wallets' books sum to ¥{}", after.ledger_wallet_books);
    } else {
        bail!(
            "the ledger does not agree: the wallets' books sum to ¥{}, the wallets hold ¥{}",
            after.ledger_wallet_books,
            after.left_in_wallets
        );
    }
    if !not_closed.is_empty() {
        println!("{} wallet(s) could not be closed: run `admin wind-down` again once they can", not_closed.len());
    }
    Ok(())
}
