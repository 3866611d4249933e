//! Crash durability: whole charges under steady load while the server is killed with SIGKILL at
//! random moments and restarted, then the promises of the brief checked against the database.
//!
//! Each worker is one shopper paying at one till: a fresh payment code, `POST /v1/charges` with a
//! new `Idempotency-Key`, the passkey assertion for that charge, `POST …/confirm`. When a request
//! dies with the server it is sent again, unchanged (same key, same code, same assertion), until
//! the restarted server answers. What the workers saw is then held against the ledger.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use inkan_api::merchant::{Charge, CreateCharge};
use inkan_api::wallet::{PendingCharge, WalletCharge};
use inkan_api::{ErrorBody, ErrorCode};
use inkan_core::{ChargeStatus, Currency};
use ring::rand::SecureRandom;
use sqlx::Row;
use tokio::sync::Mutex;

use crate::server::{Running, ServerCommand};
use crate::shopper::Shopper;

#[derive(Debug, Clone)]
pub struct Plan {
    /// How long the load runs (the kills go on until `min_kills` too).
    pub duration: Duration,
    /// At least this many SIGKILLs.
    pub min_kills: u32,
    pub workers: usize,
}

/// What happened, for the report.
#[derive(Debug, Default)]
pub struct Outcome {
    pub kills: u32,
    pub attempted: u64,
    pub created: u64,
    pub acknowledged: u64,
    pub verified: u64,
    pub retries: u64,
    pub refused: BTreeMap<String, u64>,
    pub violations: Vec<String>,
}

/// Shared between the workers.
#[derive(Default)]
struct Tally {
    attempted: AtomicU64,
    created: AtomicU64,
    retries: AtomicU64,
    /// Charges whose success a client saw in a 2xx answer.
    acknowledged: Mutex<Vec<String>>,
    refused: Mutex<BTreeMap<String, u64>>,
    violations: Mutex<Vec<String>>,
}

impl Tally {
    async fn violation(&self, what: String) {
        eprintln!("VIOLATION: {what}");
        self.violations.lock().await.push(what);
    }

    async fn refused(&self, why: String) {
        *self.refused.lock().await.entry(why).or_default() += 1;
    }
}

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // A failing system RNG only makes the kill moments less random.
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    u64::from_le_bytes(bytes)
}

/// What one request came to, once the server answered it.
enum Answer<T> {
    Ok(T),
    /// An API error: status and code.
    Refused(reqwest::StatusCode, ErrorCode),
}

/// Sends a request again and again while the server is away (connection refused or reset, or
/// `503 overloaded` while it starts), until it answers or `give_up` passes.
async fn until_answered<T: serde::de::DeserializeOwned>(
    tally: &Tally,
    give_up: Instant,
    send: impl Fn() -> reqwest::RequestBuilder,
    ok: reqwest::StatusCode,
) -> Result<Option<Answer<T>>> {
    let mut first = true;
    loop {
        if !first {
            tally.retries.fetch_add(1, Ordering::Relaxed);
            if Instant::now() > give_up {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        first = false;
        let response = match send().send().await {
            Ok(r) => r,
            Err(_) => continue,
        };
        let status = response.status();
        let Ok(text) = response.text().await else { continue };
        if status == ok {
            return Ok(Some(Answer::Ok(serde_json::from_str(&text).with_context(|| format!("decoding {text}"))?)));
        }
        let Ok(body) = serde_json::from_str::<ErrorBody>(&text) else {
            anyhow::bail!("a {status} answer without the API's error body: {text}");
        };
        if body.error.code == ErrorCode::Overloaded {
            continue;
        }
        return Ok(Some(Answer::Refused(status, body.error.code)));
    }
}

/// One worker: charges and confirms until `stop`.
async fn worker(
    mut shopper: Shopper,
    base: String,
    terminal_key: String,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    give_up: Instant,
) -> Result<()> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    while !stop.load(Ordering::Relaxed) {
        tally.attempted.fetch_add(1, Ordering::Relaxed);
        let key = uuid::Uuid::new_v4().to_string();
        let body = CreateCharge {
            payment_code: shopper.code()?,
            amount: i64::try_from(random_u64() % 5)? + 1,
            currency: Currency::Jpy,
            description: Some("soak".to_owned()),
        };
        let create = || {
            http.post(format!("{base}/v1/charges"))
                .bearer_auth(&terminal_key)
                .header(inkan_api::IDEMPOTENCY_KEY, &key)
                .json(&body)
        };
        let charge: Charge = match until_answered(&tally, give_up, create, reqwest::StatusCode::CREATED).await? {
            None => break,
            Some(Answer::Ok(charge)) => charge,
            Some(Answer::Refused(status, code)) => {
                tally.refused(format!("create: {status} {}", code.as_str())).await;
                if code == ErrorCode::IdempotencyConflict {
                    tally.violation(format!("key {key}: the same body was refused as a conflict")).await;
                }
                if code == ErrorCode::PaymentCodeUsed {
                    // Each code is sent under one key only: if it was used, that key's charge
                    // exists and the retry must have been answered with it.
                    tally.violation(format!("key {key}: its own payment code was refused as used")).await;
                }
                continue;
            }
        };
        tally.created.fetch_add(1, Ordering::Relaxed);
        // A retry after a lost answer must name the same charge: ask once more with the same key.
        let again: Option<Answer<Charge>> =
            until_answered(&tally, give_up, create, reqwest::StatusCode::CREATED).await?;
        let mut ids = vec![charge.id.clone()];
        if let Some(Answer::Ok(replayed)) = again {
            ids.push(replayed.id);
        }
        if ids.iter().any(|id| *id != charge.id) {
            tally.violation(format!("key {key} answered with two charges: {ids:?}")).await;
        }

        let pending = || http.get(format!("{base}/v1/wallet/charges/pending")).bearer_auth(&shopper.token);
        let Some(Answer::Ok(waiting)) =
            until_answered::<Vec<PendingCharge>>(&tally, give_up, pending, reqwest::StatusCode::OK).await?
        else {
            tally.refused("pending list unavailable".to_owned()).await;
            continue;
        };
        let Some(this) = waiting.iter().find(|p| p.charge.id == charge.id) else {
            tally.refused("charge no longer pending".to_owned()).await;
            continue;
        };
        let confirmation = shopper.sign(this)?;
        let confirm = || http.post(format!("{base}/v1/wallet/charges/{}/confirm", charge.id)).json(&confirmation);
        match until_answered::<WalletCharge>(&tally, give_up, confirm, reqwest::StatusCode::OK).await? {
            Some(Answer::Ok(paid)) if paid.status == ChargeStatus::Succeeded => {
                tally.acknowledged.lock().await.push(charge.id.clone());
            }
            Some(Answer::Ok(other)) => {
                tally.violation(format!("confirm of {} answered 200 with status {}", charge.id, other.status)).await;
            }
            Some(Answer::Refused(status, code)) => {
                // After a lost answer the retry finds the charge decided: ask the terminal's view.
                tally.refused(format!("confirm: {status} {}", code.as_str())).await;
                let get = || http.get(format!("{base}/v1/charges/{}", charge.id)).bearer_auth(&terminal_key);
                if let Some(Answer::Ok(seen)) =
                    until_answered::<Charge>(&tally, give_up, get, reqwest::StatusCode::OK).await?
                    && seen.status == ChargeStatus::Succeeded
                {
                    tally.acknowledged.lock().await.push(charge.id.clone());
                }
            }
            None => break,
        }
    }
    Ok(())
}

/// Runs the load and the kills, then checks the database.
pub async fn run(server: &ServerCommand, plan: &Plan) -> Result<Outcome> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    let terminal_key = server.create_terminal("Soak Mart")?;
    let mut running = server.start(&http).await?;
    let base = running.url.clone();
    let mut shoppers = Vec::new();
    for n in 0..plan.workers {
        shoppers.push(Shopper::enroll(&http, &base, &format!("Soak shopper {n}"), 25_000).await?);
    }
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    // A hard bound whatever happens: the run ends, with what it has, by then.
    let give_up = started + plan.duration * 3 + Duration::from_secs(60);
    let workers: Vec<_> = shoppers
        .into_iter()
        .map(|shopper| {
            tokio::spawn(worker(shopper, base.clone(), terminal_key.clone(), tally.clone(), stop.clone(), give_up))
        })
        .collect();

    // Kill at random moments: on average two per (duration / min_kills), so that the plan's kills
    // fit in its time with room for restarts.
    let spacing_ms = u64::try_from((plan.duration / plan.min_kills.max(1)).as_millis()).unwrap_or(1000).max(100);
    let mut kills = 0u32;
    while (started.elapsed() < plan.duration || kills < plan.min_kills) && Instant::now() < give_up {
        let wait = Duration::from_millis(50 + random_u64() % spacing_ms);
        tokio::time::sleep(wait).await;
        running.kill()?;
        kills += 1;
        running = server.start(&http).await?;
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.context("a load worker panicked")??;
    }
    // One last crash with nothing in flight, then the checks read the database directly.
    running.kill()?;
    kills += 1;
    check(server, tally, kills, &http).await
}

async fn check(server: &ServerCommand, tally: Arc<Tally>, kills: u32, http: &reqwest::Client) -> Result<Outcome> {
    // The server must come back after the last kill, too.
    let running: Running = server.start(http).await?;
    running.kill()?;

    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&server.database).await?;
    let mut violations = std::mem::take(&mut *tally.violations.lock().await);
    let acknowledged = tally.acknowledged.lock().await.clone();
    let mut verified = 0u64;
    for id in &acknowledged {
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM charges WHERE id = $1").bind(id).fetch_optional(&pool).await?;
        match status.as_deref() {
            Some("succeeded") => verified += 1,
            other => violations.push(format!("charge {id} was acknowledged as succeeded but is {other:?}")),
        }
    }
    let mut expect_none = async |what: &str, sql: &str| -> Result<()> {
        let rows = sqlx::query(sql).fetch_all(&pool).await.with_context(|| format!("checking {what}"))?;
        for row in rows {
            let first: String = row.try_get(0)?;
            violations.push(format!("{what}: {first}"));
        }
        Ok(())
    };
    expect_none(
        "unbalanced ledger transaction",
        "SELECT transaction_id FROM ledger_entries GROUP BY transaction_id HAVING SUM(amount) <> 0",
    )
    .await?;
    expect_none("negative balance", "SELECT id FROM accounts WHERE balance < 0").await?;
    expect_none(
        "balance differs from its ledger book",
        "SELECT a.id FROM accounts a WHERE a.balance <> COALESCE((SELECT CAST(SUM(e.amount) AS BIGINT) \
         FROM ledger_entries e WHERE e.book = 'wallet:' || a.id), 0)",
    )
    .await?;
    expect_none(
        "payment code behind more than one charge",
        "SELECT device_id || '#' || CAST(code_counter AS TEXT) FROM charges GROUP BY device_id, code_counter \
         HAVING COUNT(*) > 1",
    )
    .await?;
    expect_none(
        "charge without its idempotency record",
        "SELECT c.id FROM charges c LEFT JOIN idempotency_keys k ON k.charge_id = c.id WHERE k.charge_id IS NULL",
    )
    .await?;
    expect_none(
        "charge paid more than once in the ledger",
        "SELECT reference FROM ledger_transactions WHERE kind = 'charge' GROUP BY reference HAVING COUNT(*) > 1",
    )
    .await?;
    expect_none(
        "succeeded charge with no ledger transaction",
        "SELECT c.id FROM charges c WHERE c.status = 'succeeded' AND NOT EXISTS \
         (SELECT 1 FROM ledger_transactions t WHERE t.kind = 'charge' AND t.reference = c.id)",
    )
    .await?;
    expect_none(
        "ledger transaction for a charge that did not succeed",
        "SELECT t.reference FROM ledger_transactions t JOIN charges c ON c.id = t.reference \
         WHERE t.kind = 'charge' AND c.status <> 'succeeded'",
    )
    .await?;
    let total: Option<i64> =
        sqlx::query_scalar("SELECT CAST(SUM(amount) AS BIGINT) FROM ledger_entries").fetch_one(&pool).await?;
    if total.unwrap_or(0) != 0 {
        violations.push(format!("the ledger sums to {total:?}, not zero"));
    }
    pool.close().await;
    Ok(Outcome {
        kills,
        attempted: tally.attempted.load(Ordering::Relaxed),
        created: tally.created.load(Ordering::Relaxed),
        acknowledged: u64::try_from(acknowledged.len())?,
        verified,
        retries: tally.retries.load(Ordering::Relaxed),
        refused: std::mem::take(&mut *tally.refused.lock().await),
        violations,
    })
}
