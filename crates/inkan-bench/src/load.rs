//! The load driver: wallets and terminals on loopback doing the whole charge flow against a
//! running server, over HTTP only.
//!
//! A *lane* is one terminal and one wallet taking turns: the terminal creates a charge with the
//! wallet's payment code (`POST /v1/charges`), the wallet takes the waiting charge, with its
//! passkey request, from the `charge_pending` push on its live feed (kept open, as the app does),
//! signs the WebAuthn assertion with its software passkey and confirms (`POST
//! /v1/wallet/charges/{id}/confirm`). The time from the terminal sending the charge to the push
//! arriving is recorded.
//!
//! Client-side work is kept out of the server's figures: payment codes are signed before the
//! timed window (a code is valid for 60 s; any signed inside the window are counted and timed),
//! and the assertion signing is timed on its own and reported apart.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use inkan_api::feed::{LiveEvent, Notice};
use inkan_api::merchant::{Charge, CreateCharge};
use inkan_api::wallet::{AddCard, ConfirmCharge, FinishRegistration, NewDevice, PendingCharge, TopUp};
use inkan_api::{Base64Url, ErrorBody, IDEMPOTENCY_KEY};
use inkan_client::api::Api;
use inkan_client::feed::SseParser;
use inkan_core::payment_code::{DeviceKeyId, DeviceSigningKey, PaymentCode};
use inkan_core::{ChargeStatus, Currency, Money};
use ring::rand::SystemRandom;
use serde::Serialize;
use time::OffsetDateTime;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::ceiling::RP_ORIGIN;
use crate::scrape::{ServerCounts, WAL_FRAME_BYTES};
use crate::stats::{Latency, Samples};

/// Every charge is ¥1: the bench never runs into a limit (a new device may spend ¥30,000 a day).
pub const AMOUNT: i64 = 1;
/// Each wallet's top-up: 30,000 charges' worth, more than any lane completes in a run.
pub const TOP_UP: i64 = 30_000;
/// A presigned code is used only while it has this much of its 60 s left.
const CODE_MARGIN: time::Duration = time::Duration::seconds(15);
const CODE_LIFETIME: time::Duration = time::Duration::seconds(60);

/// A merchant terminal: its key and an HTTP client of its own.
#[derive(Debug, Clone)]
pub struct Terminal {
    http: reqwest::Client,
    base: Url,
    key: String,
}

/// Why one step failed: the server's stable error code, or what went wrong on the way.
fn step_error(what: &str, status: reqwest::StatusCode, body: &[u8]) -> anyhow::Error {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => anyhow!("{what}: {}", b.error.code.as_str()),
        Err(_) => anyhow!("{what}: HTTP {status}"),
    }
}

impl Terminal {
    pub fn new(base: Url, key: String) -> Result<Terminal> {
        Ok(Terminal { http: reqwest::Client::builder().build()?, base, key })
    }

    /// The same terminal talking to a server at another address (after a restart).
    pub fn at(&self, base: Url) -> Terminal {
        Terminal { http: self.http.clone(), base, key: self.key.clone() }
    }

    pub async fn create_charge(&self, code: &str, amount: i64) -> Result<Charge> {
        let body = CreateCharge {
            payment_code: code.to_owned(),
            amount,
            currency: Currency::Jpy,
            description: Some("bench".to_owned()),
        };
        let response = self
            .http
            .post(self.base.join("/v1/charges")?)
            .bearer_auth(&self.key)
            .header(IDEMPOTENCY_KEY, uuid::Uuid::new_v4().to_string())
            .json(&body)
            .send()
            .await
            .context("create: transport")?;
        let status = response.status();
        let bytes = response.bytes().await.context("create: transport")?;
        if status != reqwest::StatusCode::CREATED {
            return Err(step_error("create", status, &bytes));
        }
        Ok(serde_json::from_slice(&bytes)?)
    }

    pub async fn charge(&self, id: &str) -> Result<Charge> {
        let response =
            self.http.get(self.base.join(&format!("/v1/charges/{id}"))?).bearer_auth(&self.key).send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            return Err(step_error("status", status, &bytes));
        }
        Ok(serde_json::from_slice(&bytes)?)
    }
}

/// A shopper's device: software passkey, P-256 device key, signed-in session.
pub struct Wallet {
    pub api: Api,
    pub account_id: String,
    token: String,
    key: DeviceSigningKey,
    key_id: DeviceKeyId,
    counter: u32,
    passkey: SoftPasskey,
    /// Codes signed ahead, with when they were issued (server time), oldest counter first.
    codes: VecDeque<(PaymentCode, OffsetDateTime)>,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet").field("account_id", &self.account_id).finish_non_exhaustive()
    }
}

impl Wallet {
    /// A new account with this device and passkey, a verified card and a top-up, over HTTP.
    pub async fn enroll(base: &Url, name: &str) -> Result<Wallet> {
        let rng = SystemRandom::new();
        let origin = Url::parse(RP_ORIGIN)?;
        let api = Api::new(base.clone())?;
        let (key, _) = DeviceSigningKey::generate(&rng).map_err(|e| anyhow!("device key: {e}"))?;
        let key_id = DeviceKeyId::generate(&rng).map_err(|e| anyhow!("key id: {e}"))?;
        let mut passkey = SoftPasskey::new(true);
        let challenge = api.begin_registration(name).await?;
        let credential =
            passkey.do_registration(origin, challenge.public_key).map_err(|e| anyhow!("soft passkey: {e:?}"))?;
        let proof = key.prove(challenge.ceremony_id.as_bytes(), &rng).map_err(|e| anyhow!("device proof: {e}"))?;
        let device = NewDevice {
            key_id,
            public_key: Base64Url(key.public_key().as_sec1().to_vec()),
            name: format!("{name} phone"),
            proof: Base64Url(proof),
        };
        let enrolled = api
            .finish_registration(&FinishRegistration { ceremony_id: challenge.ceremony_id, credential, device })
            .await?;
        let token = enrolled.session.token.clone();
        api.set_token(Some(token.clone()));
        let card =
            api.add_card(&AddCard { number: own_card(), exp_month: 12, exp_year: 2030, cvc: "123".into() }).await?;
        api.top_up(&uuid::Uuid::new_v4().to_string(), &TopUp { card_id: card.id, amount: Money::yen(TOP_UP) }).await?;
        Ok(Wallet {
            api,
            account_id: enrolled.account_id,
            token,
            key,
            key_id,
            counter: 0,
            passkey,
            codes: VecDeque::new(),
        })
    }

    fn sign_code(&mut self, now: OffsetDateTime) -> Result<PaymentCode> {
        self.counter += 1;
        PaymentCode::issue(&self.key, self.key_id, self.counter, now, CODE_LIFETIME, &SystemRandom::new())
            .map_err(|e| anyhow!("payment code: {e}"))
    }

    /// Signs `n` codes ahead (on the server's clock), replacing any left over.
    pub fn presign(&mut self, n: usize) -> Result<()> {
        self.codes.clear();
        let now = self.api.server_now();
        for _ in 0..n {
            let code = self.sign_code(now)?;
            self.codes.push_back((code, now));
        }
        Ok(())
    }

    /// The next code to show, and the time spent signing it if none signed ahead was left.
    fn next_code(&mut self) -> Result<(PaymentCode, Option<Duration>)> {
        let now = self.api.server_now();
        while let Some((code, issued)) = self.codes.pop_front() {
            if issued + CODE_LIFETIME - CODE_MARGIN > now {
                return Ok((code, None));
            }
        }
        let t = Instant::now();
        let code = self.sign_code(now)?;
        Ok((code, Some(t.elapsed())))
    }
}

/// One charge the load generator saw succeed, with when each step ended.
#[derive(Debug, Clone)]
pub struct ChargeRecord {
    pub id: String,
    /// Index of the terminal that made it (to ask the server about it later).
    pub terminal: usize,
    pub sent: Instant,
    pub created: Instant,
    /// When the `charge_pending` push with the passkey request reached the lane.
    pub pushed: Instant,
    pub sign: Duration,
    pub confirmed: Instant,
}

/// How the lanes are paced.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Not counted: lets connections, caches and the database settle.
    pub warmup: Duration,
    pub measure: Duration,
    /// Charges per second offered by all lanes together, each lane on a fixed timetable (an open
    /// loop: a charge's times count from when it was *due*, so a lane that falls behind shows as
    /// latency instead of slowing the offered load). `None`: every lane flat out, a new charge as
    /// soon as the last one is confirmed (a closed loop, which saturates the server).
    pub rate: Option<f64>,
}

impl Pace {
    /// When lane `lane` of `lanes` is due to send its `k`-th charge, if the pace has a timetable:
    /// the lanes take turns, evenly spread.
    fn due(&self, start: Instant, lane: usize, lanes: usize, k: u32) -> Option<Instant> {
        let rate = self.rate.filter(|r| *r > 0.0)?;
        let lanes_f = crate::stats::count_f64(lanes.max(1));
        let slot = crate::stats::count_f64(lane) / lanes_f + f64::from(k);
        Some(start + Duration::from_secs_f64(slot * lanes_f / rate))
    }
}

#[derive(Debug, Default)]
struct LaneOutcome {
    records: Vec<ChargeRecord>,
    errors: BTreeMap<String, u64>,
    codes_signed_in_run: Samples,
}

/// What one load run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadResult {
    pub lanes: usize,
    /// Charges per second offered on a timetable (`None`: the lanes ran flat out).
    pub offered_per_s: Option<f64>,
    pub warmup_s: f64,
    pub window_s: f64,
    /// Charges completed (confirmed) inside the window.
    pub completed: usize,
    pub charges_per_s: f64,
    /// Every charge acknowledged in the whole run, warmup included (all are verified after).
    pub acknowledged: usize,
    pub errors: BTreeMap<String, u64>,
    pub steps: Steps,
    /// Payment codes that had to be signed during the run (none if enough were signed ahead).
    pub codes_signed_in_run: usize,
    pub code_sign_in_run: Option<Latency>,
    pub cpu: Option<Cpu>,
    #[serde(skip)]
    pub records: Vec<ChargeRecord>,
}

/// Latency of each step of the charges completed in the window.
#[derive(Debug, Clone, Serialize)]
pub struct Steps {
    /// Terminal: `POST /v1/charges` until its 201.
    pub create: Option<Latency>,
    /// Wallet: from the terminal's `201` until the `charge_pending` push, which carries the
    /// passkey request, reaches the wallet (no request of its own: `GET …/pending` is not asked).
    pub await_push: Option<Latency>,
    /// Wallet, client side only: the software passkey signing the assertion.
    pub sign_assertion_client: Option<Latency>,
    /// Wallet: `POST …/confirm` until its 200.
    pub confirm: Option<Latency>,
    /// Whole flow, terminal send to confirmation (client signing included).
    pub total: Option<Latency>,
    /// Whole flow minus the client's signing: what the shopper waits on the server and network.
    pub total_without_client_signing: Option<Latency>,
    /// From the terminal sending the charge to `charge_pending` arriving on the wallet's feed.
    pub feed_push: Option<Latency>,
    /// Feed notices that never arrived, of charges completed in the window.
    pub feed_missing: usize,
}

/// CPU time of each process during the window.
#[derive(Debug, Clone, Serialize)]
pub struct Cpu {
    pub server_cpu_s: f64,
    pub loadgen_cpu_s: f64,
    /// Cores × window: the CPU time there was.
    pub available_cpu_s: f64,
    pub server_ms_per_charge: f64,
    pub loadgen_ms_per_charge: f64,
    /// The server's context switches per charge (since schema 5; see [`Counters`]).
    pub server_context_switches_per_charge: Option<f64>,
    /// Bytes the server process wrote to storage per charge: on SQLite its WAL, checkpoints into
    /// the database file and its log; on PostgreSQL only its log (since schema 5).
    pub server_disk_bytes_per_charge: Option<f64>,
    /// Requests the wallets made per charge, as the server counted them (`/v1/wallet/…` routes):
    /// the wallet's round trips (since schema 7).
    pub wallet_requests_per_charge: Option<f64>,
    /// SQLite: bytes of WAL the server wrote per charge (its pages at each checkpoint, in
    /// [`crate::scrape::WAL_FRAME_BYTES`] frames); `None` on PostgreSQL (since schema 7).
    pub wal_bytes_per_charge: Option<f64>,
    /// SQLite: write transactions made durable by one fsync of the WAL (since schema 7).
    pub transactions_per_sync: Option<f64>,
}

/// The server process a load run watches: its `/proc` counters, and its metrics listener's
/// `/metrics` for what only it counts (`crate::scrape`).
#[derive(Debug, Clone)]
pub struct Watched {
    pub pid: u32,
    pub metrics: Url,
}

/// How long a lane waits for the push of a charge it made.
const PUSH_WAIT: Duration = Duration::from_secs(10);

/// Feed arrivals of one wallet: charge id → when its `charge_pending` notice arrived, and the
/// waiting charge it carried until the lane takes it to confirm.
#[derive(Debug, Default)]
struct Arrivals {
    pushed: Mutex<HashMap<String, (Instant, Option<PendingCharge>)>>,
    arrived: tokio::sync::Notify,
}

impl Arrivals {
    /// The waiting charge `id` as pushed, and when it arrived, waiting for it up to [`PUSH_WAIT`].
    async fn take(&self, id: &str) -> Result<(Instant, PendingCharge)> {
        let deadline = tokio::time::Instant::now() + PUSH_WAIT;
        loop {
            // Registered before the look, so a push in between is not missed.
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let found = {
                let mut pushed = self.pushed.lock().unwrap_or_else(|p| p.into_inner());
                pushed.get_mut(id).map(|(at, pending)| (*at, pending.take()))
            };
            if let Some((at, pending)) = found {
                return Ok((at, pending.ok_or_else(|| anyhow!("push: without the waiting charge"))?));
            }
            tokio::time::timeout_at(deadline, arrived).await.map_err(|_| anyhow!("push: not in time"))?;
        }
    }
}

/// A wallet's live feed, kept open by a task that notes when each `charge_pending` arrives, with
/// the waiting charge it carries. The task ends when the feed is dropped.
#[derive(Debug)]
struct Feed {
    arrivals: Arc<Arrivals>,
    task: tokio::task::JoinHandle<()>,
}

impl Feed {
    /// Returns once the server has answered the subscription (so the feed is live before the
    /// first charge).
    async fn open(base: &Url, token: &str) -> Result<Feed> {
        let mut response = reqwest::Client::new().get(base.join("/v1/wallet/feed")?).bearer_auth(token).send().await?;
        if !response.status().is_success() {
            return Err(anyhow!("feed: HTTP {}", response.status()));
        }
        let arrivals = Arc::new(Arrivals::default());
        let noted = arrivals.clone();
        let task = tokio::spawn(async move {
            let mut parser = SseParser::default();
            while let Ok(Some(chunk)) = response.chunk().await {
                let at = Instant::now();
                parser.push(&chunk);
                while let Some(message) = parser.next_message() {
                    if message.event.as_deref() != Some("charge_pending") {
                        continue;
                    }
                    let Ok(live) = serde_json::from_str::<LiveEvent>(&message.data) else { continue };
                    if let Ok(Notice::ChargePending { charge_id, .. }) = live.event.notice() {
                        noted.pushed.lock().unwrap_or_else(|p| p.into_inner()).insert(charge_id, (at, live.pending));
                        noted.arrived.notify_waiters();
                    }
                }
            }
        });
        Ok(Feed { arrivals, task })
    }

    /// Closes the feed; returns when each charge's `charge_pending` arrived.
    fn close(self) -> Vec<(String, Instant)> {
        self.task.abort();
        let mut pushed = self.arrivals.pushed.lock().unwrap_or_else(|p| p.into_inner());
        pushed.drain().map(|(id, (at, _))| (id, at)).collect()
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One charge through the whole flow. `due`: when it should have been sent (on a timetable);
/// its times count from then if that is earlier than now.
async fn one_charge(
    wallet: &mut Wallet,
    arrivals: &Arrivals,
    terminal: &Terminal,
    terminal_index: usize,
    codes_signed: &mut Samples,
    due: Option<Instant>,
) -> Result<ChargeRecord> {
    let origin = Url::parse(RP_ORIGIN)?;
    let (code, signed_now) = wallet.next_code()?;
    if let Some(took) = signed_now {
        codes_signed.push(took);
    }
    let code = code.text();
    let now = Instant::now();
    let sent = due.map_or(now, |due| due.min(now));
    let charge = terminal.create_charge(&code, AMOUNT).await?;
    let created = Instant::now();
    let (pushed, pending) = arrivals.take(&charge.id).await?;
    let t = Instant::now();
    let credential =
        wallet.passkey.do_authentication(origin, pending.public_key).map_err(|e| anyhow!("sign: {e:?}"))?;
    let sign = t.elapsed();
    let confirmed = wallet
        .api
        .confirm(&charge.id, &ConfirmCharge { credential })
        .await
        .map_err(|e| anyhow!("confirm: {}", short(&e)))?;
    if confirmed.status != ChargeStatus::Succeeded {
        return Err(anyhow!("confirm: answered {}", confirmed.status));
    }
    Ok(ChargeRecord { id: charge.id, terminal: terminal_index, sent, created, pushed, sign, confirmed: Instant::now() })
}

fn short(e: &inkan_client::ClientError) -> String {
    match e.code() {
        Some(code) => code.as_str().to_owned(),
        None => match e {
            inkan_client::ClientError::Unreachable { .. } => "transport".to_owned(),
            other => other.to_string(),
        },
    }
}

/// Reads the CPU time (user + system) a process has used, from `/proc`.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 1000 / clock_ticks()))
}

/// What a process has done so far, as `/proc` counts it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    pub cpu: Duration,
    /// Voluntary + involuntary context switches, summed over the threads alive when read (a
    /// thread that ended takes its count with it, so a difference can only undercount).
    pub context_switches: Option<u64>,
    /// Bytes the process caused to be written to storage (`write_bytes` of `/proc/<pid>/io`).
    pub disk_write_bytes: Option<u64>,
}

impl Counters {
    pub fn read(pid: u32) -> Option<Counters> {
        Some(Counters {
            cpu: cpu_time(pid)?,
            context_switches: context_switches(pid),
            disk_write_bytes: proc_field(&format!("/proc/{pid}/io"), "write_bytes:"),
        })
    }
}

/// The first number after `key` in a `/proc` file of `key value` lines.
fn proc_field(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.trim().parse().ok())
}

fn context_switches(pid: u32) -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let status = task.path().join("status");
        let status = status.to_str()?;
        // A thread may end between listing and reading: it counts as nothing.
        total += proc_field(status, "voluntary_ctxt_switches:").unwrap_or(0);
        total += proc_field(status, "nonvoluntary_ctxt_switches:").unwrap_or(0);
    }
    Some(total)
}

/// `USER_HZ` (`getconf CLK_TCK`), 100 on every Linux of the last decades.
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

/// The measured window of a run.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

/// What the lanes of a run did, all together.
#[derive(Debug, Default)]
struct Outcome {
    records: Vec<ChargeRecord>,
    errors: BTreeMap<String, u64>,
    codes_signed: Samples,
}

/// Runs one lane per (wallet, terminal) pair for `pace`, with every wallet's feed open.
/// `server` (when the server is a child process) adds CPU figures and the server's own counts.
pub async fn run(
    base: &Url,
    wallets: Vec<Wallet>,
    terminals: &[Terminal],
    pace: Pace,
    server: Option<Watched>,
) -> Result<(LoadResult, Vec<Wallet>)> {
    let lanes = wallets.len();
    let mut feeds = Vec::new();
    for wallet in &wallets {
        feeds.push(Feed::open(base, &wallet.token).await?);
    }
    let start = Instant::now();
    let window = Window { start: start + pace.warmup, end: start + pace.warmup + pace.measure };
    let cpu_probe = tokio::spawn(probe(window, server));
    let (wallets, outcome) = drive(wallets, terminals, &feeds, pace, start, window.end).await?;
    let (before, after) = cpu_probe.await?;
    // Give the last notices a moment to arrive before the feeds close.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let arrivals: HashMap<String, Instant> = feeds.into_iter().flat_map(Feed::close).collect();
    let window_s = pace.measure.as_secs_f64();
    let (steps, completed) = steps_in(&outcome.records, &arrivals, window);
    let result = LoadResult {
        lanes,
        offered_per_s: pace.rate,
        warmup_s: pace.warmup.as_secs_f64(),
        window_s,
        completed,
        charges_per_s: crate::stats::count_f64(completed) / window_s,
        acknowledged: outcome.records.len(),
        errors: outcome.errors,
        steps,
        codes_signed_in_run: outcome.codes_signed.len(),
        code_sign_in_run: outcome.codes_signed.summary(),
        cpu: cpu_figures(before, after, window_s, completed),
        records: outcome.records,
    };
    Ok((result, wallets))
}

/// This process's CPU time, the server's counters and its own counts at the window's start and
/// end.
type Probe = (Option<Duration>, Option<Counters>, Option<ServerCounts>);

async fn probe(window: Window, server: Option<Watched>) -> (Probe, Probe) {
    let http = reqwest::Client::new();
    let read = async |server: &Option<Watched>| -> Probe {
        let counts = match server {
            Some(server) => ServerCounts::read(&http, &server.metrics).await,
            None => None,
        };
        let counters = server.as_ref().and_then(|s| Counters::read(s.pid));
        (cpu_time(std::process::id()), counters, counts)
    };
    tokio::time::sleep_until(window.start.into()).await;
    let before = read(&server).await;
    tokio::time::sleep_until(window.end.into()).await;
    let after = read(&server).await;
    (before, after)
}

/// Every lane on its own task until `end`; the wallets come back in their order.
async fn drive(
    wallets: Vec<Wallet>,
    terminals: &[Terminal],
    feeds: &[Feed],
    pace: Pace,
    start: Instant,
    end: Instant,
) -> Result<(Vec<Wallet>, Outcome)> {
    let lanes = wallets.len();
    let mut tasks = tokio::task::JoinSet::new();
    for (index, mut wallet) in wallets.into_iter().enumerate() {
        let terminal_index = index % terminals.len();
        let terminal = terminals.get(terminal_index).context("no terminal")?.clone();
        let arrivals = feeds.get(index).context("no feed")?.arrivals.clone();
        tasks.spawn(async move {
            let mut outcome = LaneOutcome::default();
            for k in 0_u32.. {
                let due = pace.due(start, index, lanes, k);
                if due.unwrap_or_else(Instant::now) >= end {
                    break;
                }
                if let Some(due) = due {
                    tokio::time::sleep_until(due.into()).await;
                }
                let codes = &mut outcome.codes_signed_in_run;
                match one_charge(&mut wallet, &arrivals, &terminal, terminal_index, codes, due).await {
                    Ok(record) => outcome.records.push(record),
                    Err(e) => *outcome.errors.entry(e.to_string()).or_default() += 1,
                }
            }
            (index, wallet, outcome)
        });
    }
    let mut wallets: Vec<Option<Wallet>> = (0..lanes).map(|_| None).collect();
    let mut all = Outcome::default();
    while let Some(joined) = tasks.join_next().await {
        let (index, wallet, outcome) = joined?;
        if let Some(slot) = wallets.get_mut(index) {
            *slot = Some(wallet);
        }
        all.records.extend(outcome.records);
        for (e, n) in outcome.errors {
            *all.errors.entry(e).or_default() += n;
        }
        all.codes_signed.extend(outcome.codes_signed_in_run);
    }
    Ok((wallets.into_iter().flatten().collect(), all))
}

/// The latency of each step of the charges confirmed inside `window`, and how many they are.
fn steps_in(records: &[ChargeRecord], arrivals: &HashMap<String, Instant>, window: Window) -> (Steps, usize) {
    let in_window: Vec<&ChargeRecord> =
        records.iter().filter(|r| r.confirmed >= window.start && r.confirmed <= window.end).collect();
    let mut s = StepSamples::default();
    let mut feed_missing = 0;
    for r in &in_window {
        s.create.push(r.created - r.sent);
        s.push.push(r.pushed.saturating_duration_since(r.created));
        s.sign.push(r.sign);
        let total = r.confirmed - r.sent;
        s.confirm.push(total.saturating_sub(r.pushed.saturating_duration_since(r.sent)).saturating_sub(r.sign));
        s.total.push(total);
        s.total_server.push(total.saturating_sub(r.sign));
        match arrivals.get(&r.id) {
            Some(at) => s.feed.push(at.saturating_duration_since(r.sent)),
            None => feed_missing += 1,
        }
    }
    let steps = Steps {
        create: s.create.summary(),
        await_push: s.push.summary(),
        sign_assertion_client: s.sign.summary(),
        confirm: s.confirm.summary(),
        total: s.total.summary(),
        total_without_client_signing: s.total_server.summary(),
        feed_push: s.feed.summary(),
        feed_missing,
    };
    (steps, in_window.len())
}

/// The CPU figures of a window from what [`probe`] read at its ends, for `completed` charges.
fn cpu_figures(before: Probe, after: Probe, window_s: f64, completed: usize) -> Option<Cpu> {
    let (Some(a), Some(c), counted_before) = before else { return None };
    let (Some(b), Some(d), counted_after) = after else { return None };
    let charges = crate::stats::count_f64(completed.max(1));
    // What the server counted in the window, for each figure `count` takes from its counts.
    let moved = |count: fn(&ServerCounts) -> f64| Some(count(&counted_after?) - count(&counted_before?));
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let per_charge = |d: Duration| d.as_secs_f64() * 1000.0 / crate::stats::count_f64(completed.max(1));
    let count_per_charge = |before: Option<u64>, after: Option<u64>| {
        let n = after?.checked_sub(before?)?;
        let n = crate::stats::count_f64(usize::try_from(n).unwrap_or(usize::MAX));
        Some(n / crate::stats::count_f64(completed.max(1)))
    };
    Some(Cpu {
        server_cpu_s: (d.cpu - c.cpu).as_secs_f64(),
        loadgen_cpu_s: (b - a).as_secs_f64(),
        available_cpu_s: window_s * crate::stats::count_f64(cores),
        server_ms_per_charge: per_charge(d.cpu - c.cpu),
        loadgen_ms_per_charge: per_charge(b - a),
        server_context_switches_per_charge: count_per_charge(c.context_switches, d.context_switches),
        server_disk_bytes_per_charge: count_per_charge(c.disk_write_bytes, d.disk_write_bytes),
        wallet_requests_per_charge: moved(|s| s.wallet_requests).map(|n| n / charges),
        // A server that never checkpointed (PostgreSQL) has no WAL of its own to count.
        wal_bytes_per_charge: moved(|s| s.wal_pages)
            .filter(|_| counted_after.is_some_and(|s| s.wal_pages > 0.0))
            .map(|pages| pages * WAL_FRAME_BYTES / charges),
        transactions_per_sync: moved(|s| s.synced_transactions)
            .zip(moved(|s| s.syncs))
            .and_then(|(transactions, syncs)| (syncs > 0.0).then(|| transactions / syncs)),
    })
}

/// One lane on its own: a wallet and a terminal taking turns, one charge after another, with the
/// wallet's feed open (as in [`run`]), for a count of charges instead of a window. The callgrind
/// run (`crate::callgrind`) counts the server's instructions over such charges.
#[derive(Debug)]
pub struct Lane<'a> {
    wallet: &'a mut Wallet,
    terminal: &'a Terminal,
    /// The terminal's index among the run's, which each [`ChargeRecord`] names.
    terminal_index: usize,
    feed: Feed,
    codes_signed: Samples,
}

impl<'a> Lane<'a> {
    /// Opens the wallet's feed for charges made by `terminals[terminal_index]`; returns once the
    /// server has answered the feed.
    pub async fn open(
        base: &Url,
        wallet: &'a mut Wallet,
        terminals: &'a [Terminal],
        terminal_index: usize,
    ) -> Result<Lane<'a>> {
        let terminal = terminals.get(terminal_index).context("no such terminal")?;
        let feed = Feed::open(base, &wallet.token).await?;
        Ok(Lane { wallet, terminal, terminal_index, feed, codes_signed: Samples::default() })
    }

    /// `n` charges through the whole flow, one after another; the first that fails ends it.
    pub async fn charges(&mut self, n: usize) -> Result<Vec<ChargeRecord>> {
        let mut records = Vec::with_capacity(n);
        for i in 1..=n {
            let arrivals = &self.feed.arrivals;
            let codes = &mut self.codes_signed;
            let record = one_charge(self.wallet, arrivals, self.terminal, self.terminal_index, codes, None)
                .await
                .with_context(|| format!("charge {i} of {n}"))?;
            records.push(record);
        }
        Ok(records)
    }
}

#[derive(Debug, Default)]
struct StepSamples {
    create: Samples,
    push: Samples,
    sign: Samples,
    confirm: Samples,
    total: Samples,
    total_server: Samples,
    feed: Samples,
}

/// How many wallets enrol at once. Each adds a card, and a card try counts against the client's
/// address until the provider has answered (`inkan_core::attempts`): more than the address's five
/// tries in flight at once from one address is what card testing looks like, and is locked.
const ENROLLING_AT_ONCE: usize = 4;

/// Enrolls `n` wallets, [`ENROLLING_AT_ONCE`] at a time (each with a card and a top-up).
pub async fn enroll(base: &Url, n: usize) -> Result<Vec<Wallet>> {
    let turns = Arc::new(tokio::sync::Semaphore::new(ENROLLING_AT_ONCE));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (base, turns) = (base.clone(), turns.clone());
        tasks.spawn(async move {
            let _turn = turns.acquire().await;
            (i, Wallet::enroll(&base, &format!("shopper {i}")).await)
        });
    }
    let mut wallets: Vec<Option<Wallet>> = (0..n).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (i, wallet) = joined?;
        if let Some(slot) = wallets.get_mut(i) {
            *slot = Some(wallet.with_context(|| format!("enrolling wallet {i}"))?);
        }
    }
    Ok(wallets.into_iter().flatten().collect())
}

/// What the server says about every acknowledged charge: all must be `succeeded`.
#[derive(Debug, Clone, Serialize)]
pub struct Durability {
    pub acknowledged: usize,
    pub succeeded: usize,
    /// Acknowledged charges the server reports otherwise (or cannot find), with the status.
    pub not_succeeded: Vec<(String, String)>,
    pub ledger: Option<crate::verify::LedgerCheck>,
    /// Whether the server was killed (SIGKILL) right after the run and started again before the check.
    pub after_kill: bool,
}

/// Asks the server, as the terminal that made each charge, for the status of every acknowledged one.
pub async fn check_acknowledged(terminals: &[Terminal], records: &[ChargeRecord]) -> Result<Durability> {
    let mut not_succeeded = Vec::new();
    let mut succeeded = 0;
    for chunk in records.chunks(32) {
        let mut tasks = tokio::task::JoinSet::new();
        for record in chunk {
            let terminal = terminals.get(record.terminal).context("no terminal")?.clone();
            let id = record.id.clone();
            tasks.spawn(async move {
                let status = terminal.charge(&id).await.map(|c| c.status.as_str().to_owned());
                (id, status)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined? {
                (_, Ok(status)) if status == ChargeStatus::Succeeded.as_str() => succeeded += 1,
                (id, Ok(status)) => not_succeeded.push((id, status)),
                (id, Err(e)) => not_succeeded.push((id, e.to_string())),
            }
        }
    }
    Ok(Durability { acknowledged: records.len(), succeeded, not_succeeded, ledger: None, after_kill: false })
}

/// A sandbox test card of this process's own (`4242421…`: the server's sandbox verifies every
/// `424242…` number at once): each benchmark wallet pays with its own, as a card verified in one
/// wallet is declined in others.
fn own_card() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 100_000_000;
    inkan_core::cards::with_check_digit(&format!("4242421{n:08}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{Counters, Pace, proc_field};

    /// Equal to the microsecond (the timetable is computed in floating point).
    fn ms(d: Duration) -> f64 {
        (d.as_secs_f64() * 1e6).round() / 1e3
    }

    #[test]
    fn a_timetable_spreads_the_lanes_evenly_at_the_offered_rate() {
        let pace = Pace { warmup: Duration::ZERO, measure: Duration::from_secs(1), rate: Some(100.0) };
        let start = Instant::now();
        let at = |lane, k| ms(pace.due(start, lane, 4, k).unwrap() - start);
        // 100 charges/s from 4 lanes: each lane every 40 ms, the lanes 10 ms apart.
        assert_eq!(at(0, 0), 0.0);
        assert_eq!(at(1, 0), 10.0);
        assert_eq!(at(3, 0), 30.0);
        assert_eq!(at(0, 1), 40.0);
        assert_eq!(at(2, 5), 220.0);
        // All lanes together: 100 charges in the first second, one every 10 ms.
        let mut all: Vec<f64> = (0..4).flat_map(|lane| (0..25).map(move |k| at(lane, k))).collect();
        all.sort_by(f64::total_cmp);
        let expected: Vec<f64> = (0..100).map(|i| f64::from(i) * 10.0).collect();
        assert_eq!(all, expected);
        // Flat out, or a rate that is no rate: no timetable.
        assert_eq!(Pace { rate: None, ..pace }.due(start, 0, 4, 0), None);
        assert_eq!(Pace { rate: Some(0.0), ..pace }.due(start, 0, 4, 0), None);
    }

    #[test]
    fn a_process_counters_move_with_its_work() {
        let before = Counters::read(std::process::id()).unwrap();
        // Work a thread that switches out (it sleeps) and writes a file through to the disk.
        let file = tempfile::NamedTempFile::new().unwrap();
        std::thread::spawn(move || {
            for _ in 0..20 {
                std::thread::sleep(Duration::from_millis(1));
            }
        })
        .join()
        .unwrap();
        std::fs::write(file.path(), vec![1_u8; 1 << 20]).unwrap();
        file.as_file().sync_all().unwrap();
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(30) {}
        let after = Counters::read(std::process::id()).unwrap();
        assert!(after.cpu > before.cpu, "{before:?} → {after:?}");
        // Threads that ended (the sleeper, other tests) took their switches with them, so compare
        // this thread's own count, which the process's sum must include.
        let own = || {
            proc_field("/proc/thread-self/status", "voluntary_ctxt_switches:").unwrap()
                + proc_field("/proc/thread-self/status", "nonvoluntary_ctxt_switches:").unwrap()
        };
        let own_before = own();
        std::thread::sleep(Duration::from_millis(2));
        let own_after = own();
        assert!(own_after > own_before, "a sleep is a switch: {own_before} → {own_after}");
        assert!(Counters::read(std::process::id()).unwrap().context_switches.unwrap() >= own_after);
        let written = after.disk_write_bytes.unwrap() - before.disk_write_bytes.unwrap();
        assert!(written >= 1 << 20, "1 MiB written and synced, {written} bytes counted");
    }
}
