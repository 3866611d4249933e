//! Crash durability: whole charges under steady load while the server is killed with SIGKILL at
//! random moments and restarted, then the promises of the brief checked against the database.
//!
//! Each worker is one shopper paying at one till: a fresh payment code, `POST /v1/charges` with a
//! new `Idempotency-Key`, the passkey assertion for that charge, `POST …/confirm`. When a request
//! dies with the server it is sent again, unchanged (same key, same code, same assertion), until
//! the restarted server answers. What the workers saw is then held against the ledger.
//!
//! Beside them, one shopper tops up again and again from two cards: one the sandbox provider
//! answers at once, and one whose first answer it loses (the top-up is charged, the server hears
//! nothing: `202 pending`). Each top-up is sent under one `Idempotency-Key` until it is answered
//! for good. The audit then holds the provider's journal of what it collected against the
//! ledger: every collected top-up credited exactly once, nothing credited that was not collected.
//!
//! And wallets are closed through the kills, one after another (`POST /v1/wallet/close` with a
//! passkey step-up, sent again until answered; a step-up a killed request used up is asked for
//! again): every pay-out the provider's journal says it made is a succeeded pay-out taken from the
//! wallet's book once, and none succeeded that the provider did not pay.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use inkan_api::merchant::{Charge, CreateCharge};
use inkan_api::wallet::{
    AssertionChallenge, BeginStepUp, CloseWallet, ClosedWallet, PayoutStatus, PendingCharge, StepUpAction, TopUp,
    TopUpResult, TopUpStatus, WalletCharge,
};
use inkan_api::{ErrorBody, ErrorCode};
use inkan_core::{ChargeStatus, Currency, Money};
use ring::rand::SecureRandom;
use sqlx::Row;
use tokio::sync::Mutex;

use inkan_server::sandbox::SandboxProvider;

use crate::cluster::Cluster;
use crate::server::{Running, ServerCommand};
use crate::shopper::Shopper;

#[derive(Debug, Clone)]
pub struct Plan {
    /// How long the load runs (the kills go on until `min_kills` too).
    pub duration: Duration,
    /// At least this many SIGKILLs.
    pub min_kills: u32,
    pub workers: usize,
    /// Each kill is a power cut: every write the server did not sync is dropped.
    pub power_cut: Option<PowerCut>,
}

/// Where the server's disk is, and the record of what its syncs made durable.
#[derive(Debug, Clone)]
pub struct PowerCut {
    pub watch: std::path::PathBuf,
    pub shadow: std::path::PathBuf,
    /// The disk is this PostgreSQL cluster's, cut with the server (none: the server's SQLite
    /// file).
    pub postgres: Option<Arc<Cluster>>,
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
    /// Top-ups sent (each under its own key, however many tries).
    pub top_ups: u64,
    /// Top-ups a client saw succeed.
    pub top_ups_acknowledged: u64,
    /// `202 pending` answers (the provider's answer lost, or the server killed while settling).
    pub top_ups_pending_answers: u64,
    /// Top-ups the provider's journal says it collected, each found credited once.
    pub top_ups_collected: u64,
    /// Wallets closed with a balance to pay back, those a client saw paid, `202 pending` answers,
    /// and the pay-outs the provider's journal says it made, each found taken once.
    pub closes: u64,
    pub payouts_acknowledged: u64,
    pub payouts_pending_answers: u64,
    pub payouts_made: u64,
    /// Kills that were power cuts, and what they left.
    pub power_cuts: u32,
    pub restored: inkan_powercut::Restored,
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
    top_ups: AtomicU64,
    top_ups_pending: AtomicU64,
    /// Top-ups whose success a client saw (`201 succeeded`).
    acknowledged_top_ups: Mutex<Vec<String>>,
    closes: AtomicU64,
    payouts_pending: AtomicU64,
    /// Pay-outs whose success a client saw (`200`, `succeeded`).
    acknowledged_payouts: Mutex<Vec<String>>,
    power_cuts: Mutex<(u32, inkan_powercut::Restored)>,
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
    /// `202 Accepted` where `201 Created` was hoped for: taken, not yet done.
    Pending(T),
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
        if status == reqwest::StatusCode::ACCEPTED && ok != reqwest::StatusCode::ACCEPTED {
            return Ok(Some(Answer::Pending(serde_json::from_str(&text).with_context(|| format!("decoding {text}"))?)));
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
            Some(Answer::Pending(charge)) => {
                tally.violation(format!("charge {} answered 202: a charge is made or refused", charge.id)).await;
                continue;
            }
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
        let confirm = || {
            http.post(format!("{base}/v1/wallet/charges/{}/confirm", charge.id))
                .bearer_auth(&shopper.token)
                .json(&confirmation)
        };
        match until_answered::<WalletCharge>(&tally, give_up, confirm, reqwest::StatusCode::OK).await? {
            Some(Answer::Ok(paid)) if paid.status == ChargeStatus::Succeeded => {
                tally.acknowledged.lock().await.push(charge.id.clone());
            }
            Some(Answer::Ok(other) | Answer::Pending(other)) => {
                tally.violation(format!("confirm of {} answered with status {}", charge.id, other.status)).await;
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

/// Tops up from `cards` in turn until `stop`, each top-up under one key, sent again until it is
/// answered for good (`201 succeeded` or a refusal): a `202 pending` is asked again.
async fn top_up_worker(
    token: String,
    cards: Vec<String>,
    base: String,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    give_up: Instant,
) -> Result<()> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    let mut turn = 0usize;
    while !stop.load(Ordering::Relaxed) {
        tally.top_ups.fetch_add(1, Ordering::Relaxed);
        let key = uuid::Uuid::new_v4().to_string();
        let card_id = cards[turn % cards.len()].clone();
        turn += 1;
        let body = TopUp { card_id, amount: Money::yen(i64::try_from(random_u64() % 5)? + 1) };
        let send = || {
            http.post(format!("{base}/v1/wallet/topups"))
                .bearer_auth(&token)
                .header(inkan_api::IDEMPOTENCY_KEY, &key)
                .json(&body)
        };
        loop {
            match until_answered::<TopUpResult>(&tally, give_up, send, reqwest::StatusCode::CREATED).await? {
                None => return Ok(()),
                Some(Answer::Ok(done)) if done.status == TopUpStatus::Succeeded => {
                    tally.acknowledged_top_ups.lock().await.push(done.id);
                    break;
                }
                Some(Answer::Ok(other)) => {
                    tally.violation(format!("top-up {} answered 201 with status {:?}", other.id, other.status)).await;
                    break;
                }
                Some(Answer::Pending(_)) => {
                    tally.top_ups_pending.fetch_add(1, Ordering::Relaxed);
                    if stop.load(Ordering::Relaxed) {
                        // Left pending: the reconciler of the last start settles it.
                        break;
                    }
                }
                Some(Answer::Refused(status, code)) => {
                    tally.refused(format!("top-up: {status} {}", code.as_str())).await;
                    if code == ErrorCode::IdempotencyConflict {
                        tally.violation(format!("top-up key {key}: the same body was refused as a conflict")).await;
                    }
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Closes each of `wallets` in turn, spread over `duration`: each close under a fresh passkey
/// step-up, sent again while the server is away; a `202 pending` or a step-up that a killed request
/// used up is asked again with a new step-up, until the pay-out is answered for good.
async fn close_worker(
    wallets: Vec<Shopper>,
    base: String,
    duration: Duration,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    give_up: Instant,
) -> Result<()> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    let spacing = duration / u32::try_from(wallets.len() + 1)?;
    for mut wallet in wallets {
        tokio::time::sleep(spacing).await;
        if stop.load(Ordering::Relaxed) {
            break;
        }
        tally.closes.fetch_add(1, Ordering::Relaxed);
        loop {
            let begin = BeginStepUp { action: StepUpAction::CloseWallet };
            let step_up = || http.post(format!("{base}/v1/wallet/step-up")).bearer_auth(&wallet.token).json(&begin);
            let challenge = match until_answered::<AssertionChallenge>(&tally, give_up, step_up, OK).await? {
                None => return Ok(()),
                Some(Answer::Ok(challenge)) => challenge,
                Some(Answer::Pending(_) | Answer::Refused(..)) => {
                    tally.refused("close: the step-up was refused".to_owned()).await;
                    break;
                }
            };
            let body = CloseWallet { step_up: wallet.assert(challenge)? };
            let close = || http.post(format!("{base}/v1/wallet/close")).bearer_auth(&wallet.token).json(&body);
            match until_answered::<ClosedWallet>(&tally, give_up, close, OK).await? {
                None => return Ok(()),
                Some(Answer::Ok(ClosedWallet { payout: Some(payout) })) if payout.status == PayoutStatus::Succeeded => {
                    tally.acknowledged_payouts.lock().await.push(payout.id);
                    break;
                }
                Some(Answer::Ok(other)) => {
                    tally.violation(format!("closing {} answered 200 with {other:?}", wallet.account_id)).await;
                    break;
                }
                Some(Answer::Pending(_)) => {
                    tally.payouts_pending.fetch_add(1, Ordering::Relaxed);
                    if stop.load(Ordering::Relaxed) {
                        // Left pending: the reconciler of the last start settles it.
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                // The step-up was used by a request that died with the server: a new one.
                Some(Answer::Refused(_, ErrorCode::CeremonyExpired)) => {}
                Some(Answer::Refused(status, code)) => {
                    tally.refused(format!("close: {status} {}", code.as_str())).await;
                    break;
                }
            }
        }
    }
    Ok(())
}

const OK: reqwest::StatusCode = reqwest::StatusCode::OK;

/// The files of `from` (one level) copied into a fresh `to`.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}

/// After a kill: with a power cut, the disk is rebuilt from what was synced, and the audit checks
/// at once, on a copy, that everything acknowledged so far is still there.
async fn after_kill(server: &ServerCommand, plan: &Plan, tally: &Tally) -> Result<()> {
    let Some(cut) = &plan.power_cut else { return Ok(()) };
    if let Some(cluster) = &cut.postgres {
        cluster.kill()?;
    }
    let restored = inkan_powercut::restore(&cut.watch, &cut.shadow).context("restoring the disk after a power cut")?;
    let n = {
        let mut cuts = tally.power_cuts.lock().await;
        cuts.0 += 1;
        cuts.1.files += restored.files;
        cuts.1.emptied += restored.emptied;
        cuts.0
    };
    let seen = tally.acknowledged().await;
    let provided = Provided::read(&server.sandbox_journal)?;
    // SQLite: the audit reads a copy, as opening the database recovers and checkpoints it, and
    // the server must find the disk exactly as the cut left it. PostgreSQL: the cluster comes
    // back as after a reboot, recovering from its own log, and the audit reads what it serves.
    let (database, copy) = match &cut.postgres {
        None => {
            let copy = cut.watch.with_extension("audited");
            copy_dir(&cut.watch, &copy).context("copying the disk for the audit")?;
            (format!("sqlite://{}", copy.join("inkan.db").display()), Some(copy))
        }
        Some(cluster) => {
            cluster.after_restore()?;
            cluster.start(false).await.with_context(|| format!("PostgreSQL after power cut {n}"))?;
            (cluster.url(), None)
        }
    };
    // Top-ups collected but not yet credited, and pay-outs made but not yet settled, are the
    // reconciler's to settle at the next start.
    let found = audit(&database, &seen, &provided, false).await;
    let found = match found {
        Ok(found) => found,
        Err(e) if cut.postgres.is_some() => return Err(e.context(format!("auditing after power cut {n}"))),
        Err(e) => {
            let keep = std::env::temp_dir().join(format!("powercut-failure-{}", std::process::id()));
            let _ = copy_dir(&cut.watch, &keep);
            return Err(e.context(format!(
                "auditing after power cut {n} (the disk as restored is kept in {})",
                keep.display()
            )));
        }
    };
    if let Some(copy) = copy {
        std::fs::remove_dir_all(&copy)?;
    }
    let many = found.violations.len();
    for (i, violation) in found.violations.into_iter().enumerate() {
        let violation = format!("after power cut {n}: {violation}");
        if i < 10 {
            tally.violation(violation).await;
        } else {
            tally.violations.lock().await.push(violation);
        }
    }
    if many > 10 {
        eprintln!("VIOLATION: … and {} more after power cut {n}", many - 10);
    }
    Ok(())
}

/// Runs the load and the kills, then checks the database.
pub async fn run(server: &ServerCommand, plan: &Plan) -> Result<Outcome> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    let terminal_key = server.create_terminal("Soak Mart")?;
    if let Some(cut) = &plan.power_cut {
        // The database as the operator command left it is on disk before the first start.
        if let Some(cluster) = &cut.postgres {
            cluster.stop()?;
        }
        inkan_powercut::seed(&cut.watch, &cut.shadow).context("recording the disk before the first start")?;
        if let Some(cluster) = &cut.postgres {
            cluster.after_restore()?;
            cluster.start(false).await?;
        }
    }
    let mut running = server.start(&http).await?;
    let base = running.url.clone();
    let mut shoppers = Vec::new();
    for n in 0..plan.workers {
        shoppers.push(Shopper::enroll(&http, &base, &format!("Soak shopper {n}"), 25_000).await?);
    }
    let topper = Shopper::enroll(&http, &base, "Soak top-ups", 1_000).await?;
    let mut closing = Vec::new();
    for n in 0..closed_wallets(plan.duration) {
        closing.push(Shopper::enroll(&http, &base, &format!("Soak closing {n}"), 3_000).await?);
    }
    // Its own card, and the sandbox's card whose first answer is lost.
    let cards =
        vec![topper.add_card(&http, &base, None).await?, topper.add_card(&http, &base, Some(LOSES_ANSWERS)).await?];
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    // A hard bound whatever happens: the run ends, with what it has, by then.
    let give_up = started + plan.duration * 3 + Duration::from_secs(60);
    let mut workers: Vec<_> = shoppers
        .into_iter()
        .map(|shopper| {
            tokio::spawn(worker(shopper, base.clone(), terminal_key.clone(), tally.clone(), stop.clone(), give_up))
        })
        .collect();
    workers.push(tokio::spawn(top_up_worker(
        topper.token.clone(),
        cards,
        base.clone(),
        tally.clone(),
        stop.clone(),
        give_up,
    )));
    workers.push(tokio::spawn(close_worker(
        closing,
        base.clone(),
        plan.duration,
        tally.clone(),
        stop.clone(),
        give_up,
    )));

    // Kill at random moments: on average two per (duration / min_kills), so that the plan's kills
    // fit in its time with room for restarts.
    let spacing_ms = u64::try_from((plan.duration / plan.min_kills.max(1)).as_millis()).unwrap_or(1000).max(100);
    let mut kills = 0u32;
    while (started.elapsed() < plan.duration || kills < plan.min_kills) && Instant::now() < give_up {
        let wait = Duration::from_millis(50 + random_u64() % spacing_ms);
        tokio::time::sleep(wait).await;
        running.kill()?;
        kills += 1;
        after_kill(server, plan, &tally).await?;
        running = server.start(&http).await?;
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.context("a load worker panicked")??;
    }
    // One last crash with nothing in flight, then the checks read the database directly.
    running.kill()?;
    kills += 1;
    after_kill(server, plan, &tally).await?;
    check(server, plan, tally, kills, &http).await
}

async fn check(
    server: &ServerCommand,
    plan: &Plan,
    tally: Arc<Tally>,
    kills: u32,
    http: &reqwest::Client,
) -> Result<Outcome> {
    // The server must come back after the last kill, too; it settles what the kills left pending
    // before it answers its first request (its health check). The harness never opens the
    // database while the server runs: its reads would bypass the power-cut library.
    let running: Running = server.start(http).await?;
    let provided = Provided::read(&server.sandbox_journal)?;
    running.kill()?;
    after_kill(server, plan, &tally).await?;

    let acknowledged = tally.acknowledged().await;
    let audit = audit(&server.database, &acknowledged, &provided, true).await?;
    let (power_cuts, restored) = *tally.power_cuts.lock().await;
    let mut violations = std::mem::take(&mut *tally.violations.lock().await);
    violations.extend(audit.violations);
    Ok(Outcome {
        kills,
        attempted: tally.attempted.load(Ordering::Relaxed),
        created: tally.created.load(Ordering::Relaxed),
        acknowledged: u64::try_from(acknowledged.charges.len())?,
        verified: audit.verified,
        retries: tally.retries.load(Ordering::Relaxed),
        refused: std::mem::take(&mut *tally.refused.lock().await),
        top_ups: tally.top_ups.load(Ordering::Relaxed),
        top_ups_acknowledged: u64::try_from(acknowledged.top_ups.len())?,
        top_ups_pending_answers: tally.top_ups_pending.load(Ordering::Relaxed),
        top_ups_collected: u64::try_from(provided.collected.len())?,
        closes: tally.closes.load(Ordering::Relaxed),
        payouts_acknowledged: u64::try_from(acknowledged.payouts.len())?,
        payouts_pending_answers: tally.payouts_pending.load(Ordering::Relaxed),
        payouts_made: u64::try_from(provided.paid_out.len())?,
        power_cuts,
        restored,
        violations,
    })
}

/// The sandbox's test card that takes a top-up but loses its first answer.
const LOSES_ANSWERS: &str = "4000000000000119";

/// Wallets closed through the kills, each with a balance to pay back: one per two seconds of
/// load, 4 to 30.
fn closed_wallets(duration: Duration) -> u64 {
    (duration.as_secs() / 2).clamp(4, 30)
}

/// What clients saw succeed.
#[derive(Debug, Default)]
pub struct Acknowledged {
    pub charges: Vec<String>,
    pub top_ups: Vec<String>,
    pub payouts: Vec<String>,
}

impl Tally {
    async fn acknowledged(&self) -> Acknowledged {
        Acknowledged {
            charges: self.acknowledged.lock().await.clone(),
            top_ups: self.acknowledged_top_ups.lock().await.clone(),
            payouts: self.acknowledged_payouts.lock().await.clone(),
        }
    }
}

/// What the card provider's record says it did, as (our reference, amount).
#[derive(Debug, Default)]
pub struct Provided {
    /// Taken from cards: top-ups.
    pub collected: Vec<(String, Money)>,
    /// Paid to cards: pay-outs.
    pub paid_out: Vec<(String, Money)>,
}

impl Provided {
    /// Read from the sandbox provider's journal, with the server stopped.
    fn read(journal: &std::path::Path) -> Result<Provided> {
        let provider = SandboxProvider::with_journal(journal).context("reading the provider's journal")?;
        Ok(Provided { collected: provider.collected(), paid_out: provider.paid_out() })
    }
}

/// What the provider `made` (its record: our id, amount) that `table` does not have as
/// `succeeded` with that amount.
async fn unsettled(pool: &sqlx::AnyPool, table: &str, made: &[(String, Money)]) -> Result<Vec<String>> {
    let mut missing = Vec::new();
    for (id, amount) in made {
        let row: Option<(String, i64)> = sqlx::query_as(&format!("SELECT status, amount FROM {table} WHERE id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?;
        if row != Some(("succeeded".to_owned(), amount.minor())) {
            missing.push(format!("{id} ({amount}): {row:?}"));
        }
    }
    Ok(missing)
}

/// Each promise as a query that must find nothing: what a row it finds breaks, and the query
/// (its first column names the row).
const MUST_FIND_NOTHING: &[(&str, &str)] = &[
    (
        "unbalanced ledger transaction",
        "SELECT transaction_id FROM ledger_entries GROUP BY transaction_id HAVING SUM(amount) <> 0",
    ),
    ("negative balance", "SELECT id FROM accounts WHERE balance < 0"),
    (
        "balance differs from its ledger book",
        "SELECT a.id FROM accounts a WHERE a.balance <> COALESCE((SELECT CAST(SUM(e.amount) AS BIGINT) \
         FROM ledger_entries e WHERE e.book = 'wallet:' || a.id), 0)",
    ),
    (
        "payment code behind more than one charge",
        "SELECT device_id || '#' || CAST(code_counter AS TEXT) FROM charges GROUP BY device_id, code_counter \
         HAVING COUNT(*) > 1",
    ),
    (
        "charge without its idempotency record",
        "SELECT c.id FROM charges c LEFT JOIN idempotency_keys k ON k.charge_id = c.id WHERE k.charge_id IS NULL",
    ),
    (
        "charge paid more than once in the ledger",
        "SELECT reference FROM ledger_transactions WHERE kind = 'charge' GROUP BY reference HAVING COUNT(*) > 1",
    ),
    (
        "top-up credited more than once in the ledger",
        "SELECT reference FROM ledger_transactions WHERE kind = 'top_up' GROUP BY reference HAVING COUNT(*) > 1",
    ),
    (
        "succeeded top-up with no ledger transaction",
        "SELECT u.id FROM topups u WHERE u.status = 'succeeded' AND NOT EXISTS \
         (SELECT 1 FROM ledger_transactions t WHERE t.kind = 'top_up' AND t.reference = u.id)",
    ),
    (
        "ledger transaction for a top-up that did not succeed",
        "SELECT t.reference FROM ledger_transactions t JOIN topups u ON u.id = t.reference \
         WHERE t.kind = 'top_up' AND u.status <> 'succeeded'",
    ),
    (
        "pay-out taken from the wallet more than once",
        "SELECT reference FROM ledger_transactions WHERE kind IN ('payout', 'payout_returned') \
         GROUP BY reference, kind HAVING COUNT(*) > 1",
    ),
    (
        "pay-out with no ledger transaction",
        "SELECT p.id FROM payouts p WHERE NOT EXISTS \
         (SELECT 1 FROM ledger_transactions t WHERE t.kind = 'payout' AND t.reference = p.id)",
    ),
    (
        "pay-out returned to the wallet that did not fail",
        "SELECT t.reference FROM ledger_transactions t JOIN payouts p ON p.id = t.reference \
         WHERE t.kind = 'payout_returned' AND p.status <> 'failed'",
    ),
    (
        "failed pay-out whose money was not returned",
        "SELECT p.id FROM payouts p WHERE p.status = 'failed' AND NOT EXISTS \
         (SELECT 1 FROM ledger_transactions t WHERE t.kind = 'payout_returned' AND t.reference = p.id)",
    ),
    (
        "succeeded charge with no ledger transaction",
        "SELECT c.id FROM charges c WHERE c.status = 'succeeded' AND NOT EXISTS \
         (SELECT 1 FROM ledger_transactions t WHERE t.kind = 'charge' AND t.reference = c.id)",
    ),
    (
        "ledger transaction for a charge that did not succeed",
        "SELECT t.reference FROM ledger_transactions t JOIN charges c ON c.id = t.reference \
         WHERE t.kind = 'charge' AND c.status <> 'succeeded'",
    ),
];

/// What the database says about the brief's promises.
#[derive(Debug, Default)]
pub struct Audit {
    /// Acknowledged charges found as `succeeded`.
    pub verified: u64,
    /// Each broken promise, one line each, naming what broke it.
    pub violations: Vec<String>,
}

/// Reads the database (SQLite or PostgreSQL, with the server stopped or idle) and checks every
/// promise: each charge and top-up in `acknowledged` (a client saw it succeed) is `succeeded`;
/// every ledger transaction and the whole ledger sum to zero; no balance is negative or differs
/// from its ledger book; no payment code backs two charges; every charge has its idempotency
/// record; no charge or top-up is in the ledger twice, and the ledger holds exactly the succeeded
/// ones; every top-up the provider `collected` is credited with its amount, and no top-up is
/// credited that the provider did not collect; every pay-out the provider made is a succeeded
/// pay-out, taken from the wallet once (a `payout` movement, never returned), none succeeded that
/// it did not make, and a returned pay-out is a failed one, returned once. Before the server has
/// had its chance to reconcile (`after_reconciling` false), a collected top-up or a pay-out made
/// may still be pending.
pub async fn audit(
    database: &str,
    acknowledged: &Acknowledged,
    provided: &Provided,
    after_reconciling: bool,
) -> Result<Audit> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(database).await?;
    let mut violations: Vec<String> = Vec::new();
    if after_reconciling {
        for c in unsettled(&pool, "topups", &provided.collected).await? {
            violations.push(format!("top-up collected from the card but not credited: {c}"));
        }
        for p in unsettled(&pool, "payouts", &provided.paid_out).await? {
            violations.push(format!("pay-out made to the card but not settled as paid: {p}"));
        }
    }
    let mut verified = 0u64;
    for (table, ids) in
        [("charges", &acknowledged.charges), ("topups", &acknowledged.top_ups), ("payouts", &acknowledged.payouts)]
    {
        for id in ids {
            let status: Option<String> = sqlx::query_scalar(&format!("SELECT status FROM {table} WHERE id = $1"))
                .bind(id)
                .fetch_optional(&pool)
                .await?;
            match status.as_deref() {
                Some("succeeded") if table == "charges" => verified += 1,
                Some("succeeded") => {}
                other => violations.push(format!("{table} {id} was acknowledged as succeeded but is {other:?}")),
            }
        }
    }
    for (table, made, what) in [
        ("topups", &provided.collected, "top-up credited but never collected"),
        ("payouts", &provided.paid_out, "pay-out settled as paid but never made"),
    ] {
        let succeeded: Vec<String> =
            sqlx::query_scalar(&format!("SELECT id FROM {table} WHERE status = 'succeeded'")).fetch_all(&pool).await?;
        for id in succeeded {
            if !made.iter().any(|(reference, _)| *reference == id) {
                violations.push(format!("{what}: {id}"));
            }
        }
    }
    for (what, sql) in MUST_FIND_NOTHING {
        let rows = sqlx::query(sql).fetch_all(&pool).await.with_context(|| format!("checking {what}"))?;
        for row in rows {
            let first: String = row.try_get(0)?;
            violations.push(format!("{what}: {first}"));
        }
    }
    let total: Option<i64> =
        sqlx::query_scalar("SELECT CAST(SUM(amount) AS BIGINT) FROM ledger_entries").fetch_one(&pool).await?;
    if total.unwrap_or(0) != 0 {
        violations.push(format!("the ledger sums to {total:?}, not zero"));
    }
    pool.close().await;
    Ok(Audit { verified, violations })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test: a step that fails panics with its error")]

    use inkan_api::wallet::{AssertionChallenge, BeginStepUp, CloseWallet, ClosedWallet, StepUpAction};
    use inkan_testkit::{Backend, Shopper, TestServer, json};
    use reqwest::StatusCode;

    use super::{Acknowledged, Provided, audit};

    /// The audit is what makes the soak worth running: a checker that finds nothing wrong in a
    /// healthy ledger must also find each broken promise when one is planted. Real charges on a
    /// real server, then the database broken one way at a time, the audit run after each.
    async fn finds_every_planted_violation(backend: Backend) {
        let server = TestServer::start(backend).await;
        let till = server.merchant("Audit Mart").await;
        let mut shopper = Shopper::enroll(&server, "Audited").await;
        shopper.top_up(&server, 5_000).await;
        let mut paid = Vec::new();
        for amount in [1_280, 700] {
            let code = shopper.code(&server);
            let charge = till.charge_ok(&code, amount).await;
            let pending = shopper.pending(&server).await;
            let pending = pending.iter().find(|p| p.charge.id == charge.id).unwrap();
            assert_eq!(shopper.confirm(&server, pending).await.status(), StatusCode::OK);
            paid.push(charge.id);
        }
        let db = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(server.db_url()).await.unwrap();
        let exec = async |sql: String| {
            let done = sqlx::query(&sql).execute(&db).await.unwrap();
            assert!(done.rows_affected() >= 1, "planting changed nothing: {sql}");
        };

        // A second wallet closed: its balance paid back to its card.
        let mut leaving = Shopper::enroll(&server, "Leaving").await;
        leaving.top_up(&server, 2_000).await;
        let begin = BeginStepUp { action: StepUpAction::CloseWallet };
        let challenge: AssertionChallenge =
            json(server.post("/v1/wallet/step-up", Some(&leaving.token), &begin).await, StatusCode::OK).await;
        let body = CloseWallet { step_up: leaving.assert(challenge) };
        let closed: ClosedWallet =
            json(server.post("/v1/wallet/close", Some(&leaving.token), &body).await, StatusCode::OK).await;
        let payout = closed.payout.unwrap().id;

        let top_up: String = sqlx::query_scalar("SELECT id FROM topups WHERE account_id = $1")
            .bind(shopper.account_id())
            .fetch_one(&db)
            .await
            .unwrap();
        let provided = Provided { collected: server.funding.collected(), paid_out: server.funding.paid_out() };
        assert_eq!((provided.collected.len(), provided.paid_out.len()), (2, 1));
        let seen = Acknowledged { charges: paid.clone(), top_ups: vec![top_up.clone()], payouts: vec![payout.clone()] };
        let healthy = audit(server.db_url(), &seen, &provided, true).await.unwrap();
        assert!(healthy.violations.is_empty(), "{:?}", healthy.violations);
        assert_eq!(healthy.verified, 2);

        // 1. A charge a till saw succeed that the database does not have.
        let never = Acknowledged {
            charges: vec!["ch_never_written".to_owned()],
            top_ups: vec!["top_never".to_owned()],
            payouts: vec!["pay_never".to_owned()],
        };
        let lost = audit(server.db_url(), &never, &provided, true).await.unwrap();
        assert_eq!(lost.verified, 0);
        assert_eq!(
            lost.violations,
            [
                "charges ch_never_written was acknowledged as succeeded but is None",
                "topups top_never was acknowledged as succeeded but is None",
                "payouts pay_never was acknowledged as succeeded but is None"
            ]
        );
        // A top-up credited that the provider never collected (money from nowhere), a pay-out
        // settled as paid that the provider never made.
        let nothing = Provided::default();
        let from_nowhere = audit(server.db_url(), &seen, &nothing, true).await.unwrap();
        assert!(from_nowhere.violations.contains(&format!("top-up credited but never collected: {top_up}")));
        assert!(from_nowhere.violations.contains(&format!("pay-out settled as paid but never made: {payout}")));
        assert_eq!(from_nowhere.violations.len(), 3, "{:?}", from_nowhere.violations);

        let expect = async |planted: &str, wanted: &str| {
            let found = audit(server.db_url(), &seen, &provided, true).await.unwrap();
            assert!(
                found.violations.iter().any(|v| v.starts_with(wanted)),
                "planted {planted}, but the audit said {:?}",
                found.violations
            );
        };
        let (first, second) = (&paid[0], &paid[1]);

        // 2. One payment code behind two charges (a copy of the first charge, its code reused),
        //    which also has no idempotency record.
        exec(format!(
            "INSERT INTO charges (id, merchant_id, terminal_id, account_id, device_id, amount, currency, status, \
             code_counter, created_at, expires_at) SELECT 'ch_twice', merchant_id, terminal_id, account_id, \
             device_id, amount, currency, 'declined', code_counter, created_at, expires_at FROM charges \
             WHERE id = '{first}'"
        ))
        .await;
        expect("a code paid twice", "payment code behind more than one charge").await;
        expect("a charge with no idempotency record", "charge without its idempotency record: ch_twice").await;

        // 3. The first charge in the ledger a second time (a retry charged twice), balanced.
        exec(format!(
            "INSERT INTO ledger_transactions (id, kind, reference, created_at) \
             SELECT 'tx_twice', kind, reference, created_at FROM ledger_transactions WHERE reference = '{first}'"
        ))
        .await;
        exec(format!(
            "INSERT INTO ledger_entries (transaction_id, book, amount, currency) SELECT 'tx_twice', e.book, \
             e.amount, e.currency FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id \
             WHERE t.reference = '{first}' AND t.id <> 'tx_twice'"
        ))
        .await;
        expect("a charge paid twice", &format!("charge paid more than once in the ledger: {first}")).await;

        // 4. A charge acknowledged, then found declined (its money still moved).
        exec(format!("UPDATE charges SET status = 'declined' WHERE id = '{second}'")).await;
        expect("an acknowledged charge lost", &format!("charges {second} was acknowledged as succeeded")).await;
        expect("money moved for a declined charge", "ledger transaction for a charge that did not succeed").await;

        // 5. A ledger entry changed: its transaction and the whole ledger no longer sum to zero.
        exec("UPDATE ledger_entries SET amount = amount + 1 WHERE id = (SELECT MIN(id) FROM ledger_entries)".into())
            .await;
        expect("an unbalanced transaction", "unbalanced ledger transaction").await;
        expect("a ledger that does not sum to zero", "the ledger sums to Some(1)").await;

        // 6. A balance that is not its ledger book. Below zero the database itself refuses it
        //    (`CHECK (balance >= 0)`), so the audit's own check is the second line.
        let account = shopper.account_id();
        let negative = format!("UPDATE accounts SET balance = -1 WHERE id = '{account}'");
        assert!(sqlx::query(&negative).execute(&db).await.is_err(), "the database accepted a negative balance");
        exec(format!("UPDATE accounts SET balance = balance + 1 WHERE id = '{account}'")).await;
        expect("a balance off its book", &format!("balance differs from its ledger book: {account}")).await;

        // 7. The top-up credited a second time (a retry credited twice), balanced.
        exec(format!(
            "INSERT INTO ledger_transactions (id, kind, reference, created_at) \
             SELECT 'tx_top_twice', kind, reference, created_at FROM ledger_transactions WHERE reference = '{top_up}'"
        ))
        .await;
        expect("a top-up credited twice", &format!("top-up credited more than once in the ledger: {top_up}")).await;

        // 8. The card charged, the top-up left uncredited (pending) while its money moved.
        exec(format!("UPDATE topups SET status = 'pending' WHERE id = '{top_up}'")).await;
        expect(
            "a collected top-up not credited",
            &format!("top-up collected from the card but not credited: {top_up}"),
        )
        .await;
        expect("an acknowledged top-up lost", &format!("topups {top_up} was acknowledged as succeeded")).await;
        expect("money moved for a top-up that did not succeed", "ledger transaction for a top-up that did not succeed")
            .await;

        // 9. The pay-out made to the card, recorded as failed with its money never returned.
        exec(format!("UPDATE payouts SET status = 'failed' WHERE id = '{payout}'")).await;
        expect("a pay-out made but failed", &format!("pay-out made to the card but not settled as paid: {payout}"))
            .await;
        expect("an acknowledged pay-out lost", &format!("payouts {payout} was acknowledged as succeeded")).await;
        expect("a failed pay-out's money kept", &format!("failed pay-out whose money was not returned: {payout}"))
            .await;

        // 10. The pay-out taken from the wallet a second time.
        exec(format!(
            "INSERT INTO ledger_transactions (id, kind, reference, created_at) \
             SELECT 'tx_out_twice', kind, reference, created_at FROM ledger_transactions WHERE reference = '{payout}'"
        ))
        .await;
        expect("a pay-out taken twice", &format!("pay-out taken from the wallet more than once: {payout}")).await;

        db.close().await;
        server.stop().await;
    }

    #[tokio::test]
    async fn the_audit_finds_every_planted_violation_on_sqlite() {
        finds_every_planted_violation(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn the_audit_finds_every_planted_violation_on_postgres() {
        finds_every_planted_violation(Backend::Postgres).await;
    }
}
