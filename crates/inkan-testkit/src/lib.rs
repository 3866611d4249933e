//! Test harness (for tests only): a real `inkan-server` on a loopback port with a fresh database (a SQLite file or
//! a new PostgreSQL database), a clock the test moves by hand, and shoppers that hold a real
//! software passkey and a real P-256 device key and talk to the server only over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test harness: a failure here is a test failure")]
#![allow(missing_debug_implementations, reason = "test harness types hold clients and tasks")]

use std::sync::Arc;

use inkan_api::ErrorBody;
use inkan_api::merchant::{Charge, CreateCharge};
use inkan_api::wallet::{
    Assertion, AssertionChallenge, BeginRegistration, BeginSignIn, Enrolled, FinishRegistration, NewDevice,
    PaymentCodeKeys, PendingCharge, RegistrationChallenge, Session, SignIn,
};
use inkan_api::{Base64Url, ErrorCode};
use inkan_core::payment_code::v2::{
    CodeIssuer, PreApproval, SealPublicKey, SealedCode, Secret32, SignedPreApproval, system_rng,
};
use inkan_core::payment_code::{DeviceKeyId, DeviceSigningKey, JoinStep, PaymentCode};
use inkan_core::{Currency, Money};
use inkan_server::clock::ManualClock;
use inkan_server::db::Db;
use inkan_server::issuer::Issuer;
use inkan_server::sandbox::SandboxProvider;
use inkan_server::{AppState, Settings};
use reqwest::StatusCode;
use ring::rand::SystemRandom;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

pub const ORIGIN: &str = "http://localhost:8080";
/// A Wednesday at noon in Tokyo: far from any day or month boundary unless a test moves there.
pub const START: OffsetDateTime = datetime!(2026-06-10 12:00:00 +9);

/// Runs each named test body (`async fn name(backend: Backend)`) once per database backend, as
/// the tests `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Backend::Sqlite).await }) *
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Backend::Postgres).await }) *
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    pub url: String,
    /// Where its Prometheus metrics are scraped (`GET {metrics_url}/metrics`), as with
    /// `serve --metrics-listen`. The recorder is the process's: counters of servers run side by
    /// side in one test binary add up, so a test compares before and after, never exact values.
    pub metrics_url: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    /// The sandbox card provider, shared by every instance of one database as a real one is.
    pub funding: Arc<SandboxProvider>,
    db_url: String,
    settings: Settings,
    /// The issuer key's PKCS#8 document, so a second instance signs with the same key.
    issuer_pkcs8: Arc<Vec<u8>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    cleanup: Cleanup,
}

enum Cleanup {
    /// The directory of the SQLite file, removed when dropped.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    /// Another instance's database: that instance removes it.
    Shared,
    Postgres {
        admin_url: String,
        name: String,
    },
}

/// The PostgreSQL server the tests use. `cargo xtask test` provides one; a missing server is a
/// failure, never a skip.
pub fn postgres_admin_url() -> String {
    std::env::var("INKAN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl Cleanup {
    async fn run(&self) {
        if let Cleanup::Postgres { admin_url, name } = self {
            use sqlx::Connection;
            let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
            sqlx::Executor::execute(&mut admin, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await
                .unwrap();
        }
    }
}

/// A new, empty database of `backend` (no schema), for tests of the migrations themselves.
pub struct EmptyDatabase {
    pub url: String,
    cleanup: Cleanup,
}

impl EmptyDatabase {
    pub async fn new(backend: Backend) -> EmptyDatabase {
        let (url, cleanup) = fresh_database(backend).await;
        EmptyDatabase { url, cleanup }
    }

    /// Removes the database (a SQLite file goes with its directory when this is dropped).
    pub async fn remove(self) {
        self.cleanup.run().await;
    }
}

async fn fresh_database(backend: Backend) -> (String, Cleanup) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("inkan.db").display());
            (url, Cleanup::Sqlite { _dir: dir })
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let admin_url = postgres_admin_url();
            let name = format!("inkan_test_{}", uuid::Uuid::new_v4().simple());
            let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
                panic!("PostgreSQL is required for these tests ({e}); run `cargo xtask test`, which starts one, or set INKAN_TEST_POSTGRES_URL")
            });
            sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str()).await.unwrap();
            let mut url = Url::parse(&admin_url).unwrap();
            url.set_path(&name);
            (url.to_string(), Cleanup::Postgres { admin_url, name })
        }
    }
}

/// A sandbox test card no other call in this process gives (`SandboxProvider::test_card`): each
/// test wallet pays with a card of its own, as a card verified in one wallet is declined in others.
pub fn own_test_card() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    SandboxProvider::test_card(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

pub fn settings() -> Settings {
    Settings::for_relying_party("localhost".to_owned(), Url::parse(ORIGIN).unwrap()).unwrap()
}

/// [`settings`] with every rate limit 1000 times as wide: for tests of another limit (attempts
/// counted per card, say) that the rate limits of one address would otherwise meet first.
pub fn unthrottled() -> Settings {
    let mut settings = settings();
    settings.rate_limits = settings.rate_limits.scaled(1000);
    settings
}

/// The settings the bench and the soak run the server with (`--rate-limit-scale 1000
/// --risk-rules off`): each of their wallets pays many times a minute from one address, which the
/// rate limits and the velocity rules, made for people, would refuse or hold.
pub fn for_load() -> Settings {
    let mut settings = unthrottled();
    settings.risk = inkan_core::risk::RiskRules::OFF;
    settings
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        TestServer::start_with(backend, settings()).await
    }

    pub async fn start_with(backend: Backend, settings: Settings) -> TestServer {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
            .with_test_writer()
            .try_init();
        let (url, cleanup) = fresh_database(backend).await;
        let clock = Arc::new(ManualClock::new(START));
        let (_, issuer_pkcs8) = Issuer::generate(&SystemRandom::new()).unwrap();
        let funding = Arc::new(SandboxProvider::in_memory());
        TestServer::launch(url, cleanup, clock, settings, (Arc::new(issuer_pkcs8), funding)).await
    }

    /// Another server instance on the same database and clock (PostgreSQL: the scale-out setup).
    pub async fn second_instance(&self) -> TestServer {
        TestServer::launch(
            self.db_url.clone(),
            Cleanup::Shared,
            self.clock.clone(),
            self.settings.clone(),
            (self.issuer_pkcs8.clone(), self.funding.clone()),
        )
        .await
    }

    async fn launch(
        db_url: String,
        cleanup: Cleanup,
        clock: Arc<ManualClock>,
        settings: Settings,
        (issuer_pkcs8, funding): (Arc<Vec<u8>>, Arc<SandboxProvider>),
    ) -> TestServer {
        let db = Db::connect(&db_url, settings.load.db_acquire_timeout).await.unwrap();
        let issuer = Issuer::from_pkcs8(&issuer_pkcs8).unwrap();
        let state = AppState::new(db, clock.clone(), settings.clone(), funding.clone(), issuer).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics_url = format!("http://{}", metrics.local_addr().unwrap());
        let handle = inkan_server::telemetry::install().unwrap();
        let listeners = inkan_server::Listeners { public: listener, operator: None, metrics: Some((metrics, handle)) };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(inkan_server::run_split(listeners, state.clone(), async {
            let _ = rx.await;
        }));
        TestServer {
            url,
            metrics_url,
            state,
            clock,
            // No idle connections kept: a test that sends a body over the limit gets its `413`
            // before the server has read it, and the server then closes that connection; a pooled
            // client could hand it to the next request before seeing the close (a broken pipe
            // that fails a test at random). Each request on its own connection cannot.
            http: reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap(),
            funding,
            db_url,
            settings,
            issuer_pkcs8,
            shutdown: Some(tx),
            task: Some(task),
            cleanup,
        }
    }

    /// How many charges the database holds (to check that a refused request made none).
    pub async fn charge_count(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM charges").fetch_one(self.state.db.pool()).await.unwrap()
    }

    /// How many rows a table holds (`table` is a name from the schema, never input).
    pub async fn rows(&self, table: &str) -> i64 {
        assert!(table.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "a table name: {table}");
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(self.state.db.pool()).await.unwrap()
    }

    /// Takes `amount` out of a wallet's balance behind the API's back, as money leaving it some
    /// other way would (a card's chargeback, say: no API moves money out of a wallet yet). The
    /// ledger no longer balances afterwards.
    pub async fn take_from_balance(&self, account_id: &str, amount: i64) {
        let taken = sqlx::query("UPDATE accounts SET balance = balance - $1 WHERE id = $2")
            .bind(amount)
            .bind(account_id)
            .execute(self.state.db.pool())
            .await
            .unwrap();
        assert_eq!(taken.rows_affected(), 1, "no account {account_id}");
    }

    /// The public key this server signs history heads with.
    pub fn issuer_key(&self) -> inkan_core::history::IssuerKey {
        *self.state.issuer.key()
    }

    /// The settings this server runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The database's URL (`sqlite://…` or `postgres://…`), for tests that read it from outside.
    pub fn db_url(&self) -> &str {
        &self.db_url
    }

    /// Stops the server and removes its database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        self.state.db.close().await;
        self.cleanup.run().await;
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// A merchant with one terminal in Japan.
    pub async fn merchant(&self, name: &str) -> Terminal {
        self.merchant_in(name, "JP").await
    }

    /// A merchant with one terminal in `country`.
    pub async fn merchant_in(&self, name: &str, country: &str) -> Terminal {
        let merchant_id = inkan_server::admin::create_merchant(&self.state.db, &*self.clock, name).await.unwrap();
        let country = country.parse().unwrap();
        let (terminal_id, key) =
            inkan_server::admin::create_terminal(&self.state.db, &*self.clock, &merchant_id, "till 1", country)
                .await
                .unwrap();
        Terminal { url: self.url.clone(), http: self.http.clone(), merchant_id, terminal_id, key }
    }

    pub async fn post<B: Serialize>(&self, path: &str, token: Option<&str>, body: &B) -> reqwest::Response {
        let mut request = self.http.post(format!("{}{path}", self.url)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// `POST /v1/wallet/topups` with `idempotency_key`.
    pub async fn top_up(&self, token: &str, idempotency_key: &str, body: &impl Serialize) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/wallet/topups", self.url))
            .bearer_auth(token)
            .header(inkan_api::IDEMPOTENCY_KEY, idempotency_key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put<B: Serialize>(&self, path: &str, token: Option<&str>, body: &B) -> reqwest::Response {
        let mut request = self.http.put(format!("{}{path}", self.url)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.delete(format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// A new operator key (for `/v1/admin/...`), as `inkan-server admin operator create` makes one.
    pub async fn operator_key(&self) -> String {
        self.operator_key_with(&inkan_core::operator::Scope::ALL).await
    }

    /// An operator key that may do only what `scopes` allow.
    pub async fn operator_key_with(&self, scopes: &[inkan_core::operator::Scope]) -> String {
        inkan_server::admin::create_operator(&self.state.db, &*self.clock, "on call", scopes).await.unwrap().1
    }

    /// A request with a joining device's signature (`inkan-device-signature`), as the later steps
    /// of a device join need; `body: None` is a GET.
    pub async fn signed<B: Serialize>(&self, path: &str, signature: &str, body: Option<&B>) -> reqwest::Response {
        let url = format!("{}{path}", self.url);
        let request = match body {
            Some(body) => self.http.post(url).json(body),
            None => self.http.get(url),
        };
        request.header(inkan_api::DEVICE_SIGNATURE_HEADER, signature).send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// The server's metrics, scraped as Prometheus would (`GET /metrics` on its metrics listener).
    pub async fn scrape(&self) -> Scrape {
        let response = self.http.get(format!("{}/metrics", self.metrics_url)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
        Scrape::parse(&response.text().await.unwrap())
    }

    /// Every ledger transaction sums to zero, and each wallet's entries equal its balance.
    /// Rewrites an account's whole history in the database, as an attacker with write access
    /// would: `change` gives each notice's new payload, and every hash is computed again from
    /// genesis, so the new history is consistent in itself. The issuer's signatures stay as they
    /// were (the attacker has no key), unless `sign_again`: then it is the issuer itself that
    /// rewrites (a server that holds the key), and every head is signed anew.
    pub async fn rewrite_history(&self, account_id: &str, sign_again: bool, change: impl Fn(u64, &str) -> String) {
        let mut tx = self.state.db.begin().await.unwrap();
        let rows: Vec<(i64, i64, String)> =
            sqlx::query_as("SELECT seq, at, payload FROM events WHERE account_id = $1 ORDER BY seq")
                .bind(account_id)
                .fetch_all(tx.conn())
                .await
                .unwrap();
        let mut previous = inkan_core::history::GENESIS;
        for (seq, at, payload) in rows {
            let seq_u = u64::try_from(seq).unwrap();
            let payload = change(seq_u, &payload);
            previous = inkan_core::history::link(&previous, seq_u, at, &payload);
            sqlx::query("UPDATE events SET payload = $1, hash = $2 WHERE account_id = $3 AND seq = $4")
                .bind(&payload)
                .bind(hex::encode(previous))
                .bind(account_id)
                .bind(seq)
                .execute(tx.conn())
                .await
                .unwrap();
            if sign_again {
                let signature = self.state.issuer.sign_head(account_id, seq_u, &previous);
                sqlx::query("UPDATE events SET signed_by = $1, signature = $2 WHERE account_id = $3 AND seq = $4")
                    .bind(&signature.key_id)
                    .bind(signature.signature.encode())
                    .bind(account_id)
                    .bind(seq)
                    .execute(tx.conn())
                    .await
                    .unwrap();
            }
        }
        sqlx::query("UPDATE accounts SET last_hash = $1 WHERE id = $2")
            .bind(hex::encode(previous))
            .bind(account_id)
            .execute(tx.conn())
            .await
            .unwrap();
        tx.commit(&self.state.hub).await.unwrap();
    }

    /// Appends a notice to an account's history in the database, as an attacker with write
    /// access would: its hash links to the head, but nobody who holds the issuer key signed it.
    /// Announced as a real notice is, so open feeds send it at once.
    pub async fn forge_notice(&self, account_id: &str, payload: &str) {
        use inkan_server::clock::Clock as _;
        use sqlx::Row;
        let mut tx = self.state.db.begin().await.unwrap();
        let row = sqlx::query("SELECT event_seq, last_hash FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_one(tx.conn())
            .await
            .unwrap();
        let seq: i64 = row.try_get("event_seq").unwrap();
        let last: String = row.try_get("last_hash").unwrap();
        let mut previous = [0u8; 32];
        hex::decode_to_slice(&last, &mut previous).unwrap();
        let at = inkan_server::clock::to_ms(self.clock.now());
        let hash = inkan_core::history::link(&previous, u64::try_from(seq + 1).unwrap(), at, payload);
        sqlx::query("INSERT INTO events (account_id, seq, at, payload, hash) VALUES ($1, $2, $3, $4, $5)")
            .bind(account_id)
            .bind(seq + 1)
            .bind(at)
            .bind(payload)
            .bind(hex::encode(hash))
            .execute(tx.conn())
            .await
            .unwrap();
        sqlx::query("UPDATE accounts SET event_seq = $1, last_hash = $2 WHERE id = $3")
            .bind(seq + 1)
            .bind(hex::encode(hash))
            .bind(account_id)
            .execute(tx.conn())
            .await
            .unwrap();
        tx.announce(inkan_server::hub::Change::Account(account_id.to_owned()));
        tx.commit(&self.state.hub).await.unwrap();
    }

    /// Cuts an account's history down to its first `keep` notices in the database.
    pub async fn truncate_history(&self, account_id: &str, keep: u64) {
        let keep = i64::try_from(keep).unwrap();
        let mut tx = self.state.db.begin().await.unwrap();
        sqlx::query("DELETE FROM events WHERE account_id = $1 AND seq > $2")
            .bind(account_id)
            .bind(keep)
            .execute(tx.conn())
            .await
            .unwrap();
        let last: String = sqlx::query_scalar("SELECT hash FROM events WHERE account_id = $1 AND seq = $2")
            .bind(account_id)
            .bind(keep)
            .fetch_one(tx.conn())
            .await
            .unwrap();
        sqlx::query("UPDATE accounts SET event_seq = $1, last_hash = $2 WHERE id = $3")
            .bind(keep)
            .bind(last)
            .bind(account_id)
            .execute(tx.conn())
            .await
            .unwrap();
        tx.commit(&self.state.hub).await.unwrap();
    }

    pub async fn assert_ledger_balanced(&self) {
        use sqlx::Row;
        let pool = self.state.db.pool();
        let unbalanced: Vec<String> = sqlx::query_scalar(
            "SELECT transaction_id FROM ledger_entries GROUP BY transaction_id HAVING SUM(amount) <> 0",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        assert!(unbalanced.is_empty(), "unbalanced ledger transactions: {unbalanced:?}");
        let total: Option<i64> =
            sqlx::query_scalar("SELECT CAST(SUM(amount) AS BIGINT) FROM ledger_entries").fetch_one(pool).await.unwrap();
        assert_eq!(total.unwrap_or(0), 0);
        for row in sqlx::query("SELECT id, balance FROM accounts").fetch_all(pool).await.unwrap() {
            let id: String = row.try_get("id").unwrap();
            let balance: i64 = row.try_get("balance").unwrap();
            assert!(balance >= 0, "negative balance on {id}");
            let book: Option<i64> =
                sqlx::query_scalar("SELECT CAST(SUM(amount) AS BIGINT) FROM ledger_entries WHERE book = $1")
                    .bind(format!("wallet:{id}"))
                    .fetch_one(pool)
                    .await
                    .unwrap();
            assert_eq!(book.unwrap_or(0), balance, "ledger and balance disagree for {id}");
        }
        self.assert_totals_agree().await;
    }

    /// Every wallet's running totals (`inkan_core::tally`, on its account row) are what summing
    /// its charges gives: spent in the Tokyo day and month they count, and not decided yet.
    pub async fn assert_totals_agree(&self) {
        use inkan_core::ChargeStatus;
        use inkan_server::clock::{from_ms, to_ms};
        use sqlx::Row;
        let pool = self.state.db.pool();
        let statuses = |rule: fn(ChargeStatus) -> bool| {
            let chosen = ChargeStatus::ALL.into_iter().filter(|&s| rule(s));
            chosen.map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ")
        };
        let (spent, open) = (statuses(ChargeStatus::counts_as_spent), statuses(ChargeStatus::is_open));
        let sum = async |sql: String, account: &str, from: i64, to: i64| -> i64 {
            let total: Option<i64> =
                sqlx::query_scalar(&sql).bind(account).bind(from).bind(to).fetch_one(pool).await.unwrap();
            total.unwrap_or(0)
        };
        let rows = sqlx::query(
            "SELECT id, tally_day, tally_month, spent_today, spent_this_month, open_amount FROM accounts \
             WHERE tally_day IS NOT NULL",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        for row in rows {
            let id: String = row.try_get("id").unwrap();
            let (day, month): (i64, i64) = (row.try_get("tally_day").unwrap(), row.try_get("tally_month").unwrap());
            let month_end = to_ms(inkan_core::tokyo::month(from_ms(month)).end);
            let spent_in = format!(
                "SELECT CAST(SUM(amount) AS BIGINT) FROM charges WHERE account_id = $1 AND status IN ({spent}) \
                 AND created_at >= $2 AND created_at < $3"
            );
            let today = sum(spent_in.clone(), &id, day, day + 86_400_000).await;
            let this_month = sum(spent_in, &id, month, month_end).await;
            let open_sql = format!(
                "SELECT CAST(SUM(amount) AS BIGINT) FROM charges WHERE account_id = $1 AND status IN ({open}) \
                 AND created_at >= $2 AND created_at < $3"
            );
            let open = sum(open_sql, &id, i64::MIN, i64::MAX).await;
            let kept: (i64, i64, i64) = (
                row.try_get("spent_today").unwrap(),
                row.try_get("spent_this_month").unwrap(),
                row.try_get("open_amount").unwrap(),
            );
            assert_eq!(kept, (today, this_month, open), "the running totals of {id} disagree with its charges");
        }
    }
}

pub async fn json<T: DeserializeOwned>(response: reqwest::Response, expected: StatusCode) -> T {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, expected, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Asserts an API error with this status and code.
pub async fn error(response: reqwest::Response, status: StatusCode, code: ErrorCode) -> String {
    let got = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    let body: ErrorBody = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(body.error.code, code, "message: {}", body.error.message);
    body.error.message
}

pub struct Terminal {
    pub url: String,
    pub http: reqwest::Client,
    pub merchant_id: String,
    pub terminal_id: String,
    pub key: String,
}

impl Terminal {
    pub async fn charge_raw(&self, idempotency_key: &str, body: &impl Serialize) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/charges", self.url))
            .bearer_auth(&self.key)
            .header("Idempotency-Key", idempotency_key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn charge(&self, code: &str, amount: i64) -> reqwest::Response {
        let body = CreateCharge {
            payment_code: code.to_owned(),
            amount,
            currency: Currency::Jpy,
            description: Some("coffee".to_owned()),
        };
        self.charge_raw(&uuid::Uuid::new_v4().to_string(), &body).await
    }

    pub async fn charge_ok(&self, code: &str, amount: i64) -> Charge {
        json(self.charge(code, amount).await, StatusCode::CREATED).await
    }

    pub async fn get(&self, id: &str, wait: Option<u64>) -> Charge {
        let query = wait.map(|w| format!("?wait={w}")).unwrap_or_default();
        let response =
            self.http.get(format!("{}/v1/charges/{id}{query}", self.url)).bearer_auth(&self.key).send().await.unwrap();
        json(response, StatusCode::OK).await
    }

    /// A long-poll of the charge `id` with the query `wait` (e.g. `wait=60`), on its own connection
    /// and task: the charge as the poll returns it.
    pub fn long_poll(&self, id: &str, wait: &str) -> tokio::task::JoinHandle<Charge> {
        let url = format!("{}/v1/charges/{id}?{wait}", self.url);
        let key = self.key.clone();
        tokio::spawn(async move {
            let response = reqwest::Client::new().get(url).bearer_auth(key).send().await.unwrap();
            json::<Charge>(response, StatusCode::OK).await
        })
    }
}

/// Payment code v2 keys of a device the server never enrolled: a random index and random keys,
/// with the server's real seal key (from `real`, the keys of an enrolled device).
pub fn stranger_code_keys(real: &PaymentCodeKeys) -> PaymentCodeKeys {
    let rng = SystemRandom::new();
    PaymentCodeKeys {
        index: inkan_core::payment_code::v2::DeviceIndex::generate(&rng).unwrap(),
        code_key: Base64Url(Secret32::generate(&rng).unwrap().as_bytes().to_vec()),
        approval_key: Base64Url(Secret32::generate(&rng).unwrap().as_bytes().to_vec()),
        ..real.clone()
    }
}

/// A shopper's device: a software passkey (user verification set) and a P-256 device key.
pub struct Shopper {
    pub passkey: SoftPasskey,
    pub device_key: DeviceSigningKey,
    pub key_id: DeviceKeyId,
    pub counter: u32,
    pub enrolled: Option<Enrolled>,
    pub token: String,
    /// The wallet this device belongs to, once enrolled or joined.
    pub account: String,
    /// This device's id in the wallet, once enrolled or joined.
    pub device_id: String,
    /// The raw id of this device's passkey, once registered.
    pub credential_id: Vec<u8>,
    /// The payment code v2 keys the last session brought.
    pub code_keys: Option<PaymentCodeKeys>,
}

impl Default for Shopper {
    fn default() -> Self {
        Shopper::new()
    }
}

impl Shopper {
    pub fn new() -> Shopper {
        let rng = SystemRandom::new();
        let (device_key, _) = DeviceSigningKey::generate(&rng).unwrap();
        Shopper {
            passkey: SoftPasskey::new(true),
            device_key,
            key_id: DeviceKeyId::generate(&rng).unwrap(),
            counter: 0,
            enrolled: None,
            token: String::new(),
            account: String::new(),
            device_id: String::new(),
            credential_id: Vec::new(),
            code_keys: None,
        }
    }

    /// A new session of this device: its token used from now on, its payment code keys kept.
    pub fn adopt(&mut self, session: &Session) {
        self.token = session.token.clone();
        self.code_keys = Some(session.payment_code.clone());
    }

    pub fn account_id(&self) -> &str {
        assert!(!self.account.is_empty(), "this device has not joined a wallet");
        &self.account
    }

    /// This device has joined a wallet: its session, account and device id.
    pub fn joined(&mut self, joined: &inkan_api::devices::Joined) {
        self.adopt(&joined.session);
        self.account = joined.account_id.clone();
        self.device_id = joined.device_id.clone();
    }

    pub fn new_device(&self, ceremony_id: &str) -> NewDevice {
        NewDevice {
            key_id: self.key_id,
            public_key: Base64Url(self.device_key.public_key().as_sec1().to_vec()),
            name: "test phone".to_owned(),
            proof: Base64Url(self.device_key.prove(ceremony_id.as_bytes(), &SystemRandom::new()).unwrap()),
        }
    }

    /// Creates an account with this device and passkey, over HTTP.
    pub async fn enroll(server: &TestServer, name: &str) -> Shopper {
        let mut shopper = Shopper::new();
        let begin = BeginRegistration { display_name: name.to_owned() };
        let challenge: RegistrationChallenge =
            json(server.post("/v1/accounts/registration", None, &begin).await, StatusCode::OK).await;
        let credential = shopper.register_passkey(challenge.public_key);
        let finish = FinishRegistration {
            ceremony_id: challenge.ceremony_id.clone(),
            credential,
            device: shopper.new_device(&challenge.ceremony_id),
        };
        let enrolled: Enrolled = json(server.post("/v1/accounts", None, &finish).await, StatusCode::CREATED).await;
        shopper.adopt(&enrolled.session);
        shopper.account = enrolled.account_id.clone();
        shopper.device_id = enrolled.device_id.clone();
        shopper.enrolled = Some(enrolled);
        shopper
    }

    /// Makes this device's passkey for a registration (enrolment or a join).
    pub fn register_passkey(
        &mut self,
        options: webauthn_rs_proto::CreationChallengeResponse,
    ) -> webauthn_rs_proto::RegisterPublicKeyCredential {
        let credential = self.passkey.do_registration(Url::parse(ORIGIN).unwrap(), options).unwrap();
        self.credential_id = credential.raw_id.clone();
        credential
    }

    /// Answers a passkey request with this device's passkey even though the request does not ask
    /// for it: what a thief's modified app would do with a passkey of another device.
    pub fn assert_anyway(&mut self, challenge: AssertionChallenge) -> Assertion {
        let credential = self.credential_anyway(challenge.public_key);
        Assertion { ceremony_id: challenge.ceremony_id, credential }
    }

    /// As [`Shopper::assert_anyway`], for the options of a charge.
    pub fn credential_anyway(
        &mut self,
        mut options: webauthn_rs_proto::RequestChallengeResponse,
    ) -> webauthn_rs_proto::PublicKeyCredential {
        options.public_key.allow_credentials = vec![webauthn_rs_proto::AllowCredentials {
            type_: "public-key".to_owned(),
            id: self.credential_id.clone(),
            transports: None,
        }];
        self.passkey.do_authentication(Url::parse(ORIGIN).unwrap(), options).unwrap()
    }

    /// This device's signature of one step of its join, for the `inkan-device-signature` header.
    pub fn join_signature(&self, join_id: &str, step: JoinStep<'_>) -> String {
        Base64Url(self.device_key.sign_join_step(join_id, step, &SystemRandom::new()).unwrap()).encode()
    }

    /// Answers a passkey request with this shopper's passkey.
    pub fn assert(&mut self, challenge: AssertionChallenge) -> Assertion {
        let credential = self.passkey.do_authentication(Url::parse(ORIGIN).unwrap(), challenge.public_key).unwrap();
        Assertion { ceremony_id: challenge.ceremony_id, credential }
    }

    /// A sign-in request for `device_id` of this shopper's wallet.
    pub async fn sign_in_challenge(&self, server: &TestServer, device_id: &str) -> reqwest::Response {
        let begin = BeginSignIn { account_id: self.account_id().to_owned(), device_id: device_id.to_owned() };
        server.post("/v1/sessions/challenge", None, &begin).await
    }

    /// Answers a sign-in challenge with this device's passkey and this device's key.
    pub fn sign_in_answer(&mut self, challenge: AssertionChallenge) -> SignIn {
        let device_signature =
            Base64Url(self.device_key.sign_in(challenge.ceremony_id.as_bytes(), &SystemRandom::new()).unwrap());
        let Assertion { ceremony_id, credential } = self.assert(challenge);
        SignIn { ceremony_id, credential, device_signature }
    }

    /// Signs this device in, with its passkey and its device key.
    pub async fn sign_in(&mut self, server: &TestServer) -> Session {
        let device_id = self.device_id.clone();
        let challenge: AssertionChallenge =
            json(self.sign_in_challenge(server, &device_id).await, StatusCode::OK).await;
        let answer = self.sign_in_answer(challenge);
        let session: Session = json(server.post("/v1/sessions", None, &answer).await, StatusCode::CREATED).await;
        self.adopt(&session);
        session
    }

    /// A fresh payment code, as the app would show it now (on the server's clock): version 2,
    /// with the keys the device's last session brought.
    pub fn payment_code(&mut self, server: &TestServer) -> SealedCode {
        self.code_with(server, None)
    }

    /// A fresh version 2 payment code carrying `approval` (tagged here with the approval key).
    pub fn pre_approved_code(&mut self, server: &TestServer, approval: PreApproval) -> SealedCode {
        let keys = self.code_keys.as_ref().expect("this device has no payment code keys: enrol, join or sign in first");
        let approval_key = Secret32::from_bytes(keys.approval_key.0.as_slice().try_into().unwrap());
        let signed = approval.sign(keys.index, &approval_key).unwrap();
        self.code_with(server, Some(&signed))
    }

    fn code_with(&mut self, server: &TestServer, approval: Option<&SignedPreApproval>) -> SealedCode {
        let keys = self.code_keys.as_ref().expect("this device has no payment code keys: enrol, join or sign in first");
        let issuer = CodeIssuer {
            index: keys.index,
            code_key: Secret32::from_bytes(keys.code_key.0.as_slice().try_into().unwrap()),
            seal: SealPublicKey::new(keys.seal_key_id, keys.seal_key.0.as_slice().try_into().unwrap()).unwrap(),
        };
        self.counter += 1;
        let now = inkan_server::clock::Clock::now(&*server.clock);
        issuer.issue(self.counter, now, Duration::seconds(60), approval, &mut system_rng()).unwrap()
    }

    /// A fresh payment code of version 1, signed by the device key, as an app from before
    /// version 2 shows it.
    pub fn payment_code_v1(&mut self, server: &TestServer) -> PaymentCode {
        self.counter += 1;
        let now = inkan_server::clock::Clock::now(&*server.clock);
        PaymentCode::issue(
            &self.device_key,
            self.key_id,
            self.counter,
            now,
            Duration::seconds(60),
            &SystemRandom::new(),
        )
        .unwrap()
    }

    /// The text of a fresh payment code (version 2).
    pub fn code(&mut self, server: &TestServer) -> String {
        self.payment_code(server).text()
    }

    pub async fn top_up(&self, server: &TestServer, amount: i64) {
        use inkan_api::wallet::{AddCard, Card, TopUp, TopUpResult};
        let card = AddCard { number: own_test_card(), exp_month: 12, exp_year: 2030, cvc: "123".into() };
        let card: Card =
            json(server.post("/v1/wallet/cards", Some(&self.token), &card).await, StatusCode::CREATED).await;
        let top_up = TopUp { card_id: card.id, amount: Money::yen(amount) };
        let key = uuid::Uuid::new_v4().to_string();
        let _: TopUpResult = json(server.top_up(&self.token, &key, &top_up).await, StatusCode::CREATED).await;
    }

    pub async fn pending(&self, server: &TestServer) -> Vec<PendingCharge> {
        json(server.get("/v1/wallet/charges/pending", Some(&self.token)).await, StatusCode::OK).await
    }

    /// The assertion that would confirm `pending`.
    pub fn sign_charge(&mut self, pending: &PendingCharge) -> inkan_api::wallet::ConfirmCharge {
        let credential =
            self.passkey.do_authentication(Url::parse(ORIGIN).unwrap(), pending.public_key.clone()).unwrap();
        inkan_api::wallet::ConfirmCharge { credential }
    }

    pub async fn confirm(&mut self, server: &TestServer, pending: &PendingCharge) -> reqwest::Response {
        let body = self.sign_charge(pending);
        server.post(&format!("/v1/wallet/charges/{}/confirm", pending.charge.id), Some(&self.token), &body).await
    }

    /// Every notice of this device's wallet, oldest first.
    pub async fn notices(&self, server: &TestServer) -> Vec<inkan_api::feed::Notice> {
        let history: inkan_api::feed::History =
            json(server.get("/v1/wallet/history", Some(&self.token)).await, StatusCode::OK).await;
        history.events.iter().map(|e| e.notice().unwrap()).collect()
    }

    pub async fn balance(&self, server: &TestServer) -> i64 {
        let wallet: inkan_api::wallet::Wallet =
            json(server.get("/v1/wallet", Some(&self.token)).await, StatusCode::OK).await;
        wallet.balance.minor()
    }
}

/// A live feed connection, read as Server-Sent Events.
pub struct FeedReader {
    response: reqwest::Response,
    buffer: String,
    text: inkan_api::feed::Utf8Chunks,
}

/// One SSE event: its id (the notice sequence number), its kind and its data.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: u64,
    pub kind: String,
    pub data: inkan_api::feed::FeedEvent,
    /// The waiting charge a `charge_pending` push carries.
    pub pending: Option<inkan_api::wallet::PendingCharge>,
}

impl FeedReader {
    pub async fn open(server: &TestServer, token: &str, last_event_id: Option<u64>) -> FeedReader {
        let mut request = server.http.get(format!("{}/v1/wallet/feed", server.url)).bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        FeedReader { response, buffer: String::new(), text: Default::default() }
    }

    /// Whether the server ends the stream within `within` (reading and dropping what comes first).
    pub async fn ends_within(&mut self, within: std::time::Duration) -> bool {
        tokio::time::timeout(within, async { while self.next().await.is_some() {} }).await.is_ok()
    }

    /// The next event, waiting at most `within` (a test of "pushed within a second" uses 1 s).
    pub async fn next_within(&mut self, within: std::time::Duration) -> Option<SseEvent> {
        tokio::time::timeout(within, self.next()).await.ok().flatten()
    }

    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut kind, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        kind = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                match id {
                    Some(id) => {
                        let live: inkan_api::feed::LiveEvent = serde_json::from_str(&data).unwrap();
                        return Some(SseEvent { id, kind, data: live.event, pending: live.pending });
                    }
                    None => continue, // heartbeat comment
                }
            }
            let chunk = self.response.chunk().await.ok()??;
            let text = self.text.decode(&chunk);
            self.buffer.push_str(&text);
        }
    }
}

/// A TCP proxy on loopback in front of the server: it records every byte both ways (to check
/// that no secret crosses the wire) and can cut every open connection (to test resumption).
pub struct Proxy {
    pub url: String,
    recorded: Arc<std::sync::Mutex<Vec<u8>>>,
    cut: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let recorded = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (cut, cuts) = tokio::sync::watch::channel(0u64);
        let task = {
            let recorded = recorded.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else { continue };
                    let (recorded, mut cuts) = (recorded.clone(), cuts.clone());
                    cuts.borrow_and_update();
                    tokio::spawn(async move {
                        let (mut client_read, mut client_write) = client.into_split();
                        let (mut server_read, mut server_write) = server.into_split();
                        let up = pump(&mut client_read, &mut server_write, recorded.clone());
                        let down = pump(&mut server_read, &mut client_write, recorded);
                        tokio::select! {
                            _ = async { tokio::join!(up, down) } => {}
                            _ = cuts.changed() => {}
                        }
                    });
                }
            })
        };
        Proxy { url, recorded, cut, task }
    }

    /// Drops every connection open now; new ones are accepted as before.
    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    /// Everything that crossed the proxy so far.
    pub fn recorded(&self) -> Vec<u8> {
        self.recorded.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pump(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    recorded: Arc<std::sync::Mutex<Vec<u8>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        recorded.lock().unwrap().extend_from_slice(&buffer[..n]);
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

/// A child process killed (and reaped) when dropped: a test that fails half-way leaves no server
/// of its own running.
#[derive(Debug)]
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A generated file kept in the repository (`path`) holds `wanted`, or the test fails saying how
/// to bring it up to date (`bless`, the command that rewrites it: the same test run with
/// `INKAN_BLESS=1`, which writes `wanted` instead of comparing).
pub fn generated_file_is_current(path: &std::path::Path, wanted: &str, bless: &str) {
    if std::env::var_os("INKAN_BLESS").is_some() {
        std::fs::write(path, wanted).unwrap();
        return;
    }
    let found = std::fs::read_to_string(path).unwrap_or_default();
    assert!(found == wanted, "{} is out of date: run `{bless}` and commit it", path.display());
}

/// One scrape of Prometheus' text format: each sample's name, labels and value.
#[derive(Debug)]
pub struct Scrape {
    pub samples: Vec<Sample>,
}

/// A sample of a scrape: its metric's name, its labels (name and value) and its value.
pub type Sample = (String, Vec<(String, String)>, f64);

impl Scrape {
    /// Parses the text format (comments skipped); panics on a line it cannot read, so that a
    /// malformed exposition fails the test that scraped it.
    pub fn parse(text: &str) -> Scrape {
        let samples = text
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line:?}"));
                let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line:?}"));
                let (name, labels) = match series.split_once('{') {
                    None => (series, Vec::new()),
                    Some((name, rest)) => {
                        let rest = rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels: {line:?}"));
                        let labels = rest
                            .split("\",")
                            .filter(|pair| !pair.is_empty())
                            .map(|pair| {
                                let (key, value) = pair.split_once("=\"").unwrap_or_else(|| panic!("label: {line:?}"));
                                (key.to_owned(), value.trim_end_matches('"').to_owned())
                            })
                            .collect();
                        (name, labels)
                    }
                };
                (name.to_owned(), labels, value)
            })
            .collect();
        Scrape { samples }
    }

    /// The sum of the samples named `name` that carry every label of `labels` (0 if none do).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v)))
            .map(|(_, _, value)| value)
            .sum()
    }
}
