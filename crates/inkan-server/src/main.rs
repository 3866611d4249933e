//! `inkan-server`: serve the API, or run an operator command against the database.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

mod operator_cli;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use inkan_core::region::{Country, IpNet, UnknownCountry};
use inkan_server::clock::{Clock, SystemClock};
use inkan_server::db::Db;
use inkan_server::issuer::Issuer;
use inkan_server::provider::FundingProvider;
use inkan_server::sandbox::SandboxProvider;
use inkan_server::settings::LoadLimits;
use inkan_server::{AppState, Settings};
use serde::Deserialize;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "inkan-server", version, about = "Inkan issuer server")]
struct Cli {
    /// Database URL: sqlite://FILE (default: sqlite://inkan.db) or postgres://…
    #[arg(long, env = "INKAN_DATABASE_URL", global = true)]
    database: Option<String>,
    /// TOML file with any of: listen, admin_listen, metrics_listen, database, rp_id, rp_origin, issuer_key, funding, charge_ttl_seconds,
    /// session_max_hours, max_requests_in_flight, max_open_streams, db_acquire_timeout_ms, max_feeds_per_account,
    /// request_timeout_ms, body_timeout_ms, allowed_countries (a list), unknown_country, trusted_proxies (a list),
    /// country_header, rate_limit_scale, max_accounts_per_card, payment_code_v1_until, and a [risk] table
    /// (README "Velocity holds").
    #[arg(long, env = "INKAN_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve(Box<ServeArgs>),
    /// Operator commands.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, env = "INKAN_LISTEN")]
    listen: Option<SocketAddr>,
    /// Serve the operator API (`/v1/admin/...`: the kill switches and holds) on this address
    /// only, e.g. 127.0.0.1:8081, and not on --listen. Use it wherever --listen is reachable from
    /// the internet, and keep this address on a private network. Without it, the operator API
    /// shares --listen.
    #[arg(long, env = "INKAN_ADMIN_LISTEN")]
    admin_listen: Option<SocketAddr>,
    /// Serve Prometheus metrics (`GET /metrics`) on this address, e.g. 127.0.0.1:9464; off
    /// without it. Keep it on a private network: it tells load and kill-switch state.
    #[arg(long, env = "INKAN_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// WebAuthn relying-party id, the domain passkeys belong to. Required.
    #[arg(long, env = "INKAN_RP_ID")]
    rp_id: Option<String>,
    /// Web origin of WebAuthn requests, e.g. https://inkan.example. Required.
    #[arg(long, env = "INKAN_RP_ORIGIN")]
    rp_origin: Option<url::Url>,
    /// The issuer key that signs every history head: an Ed25519 private key in PKCS#8 PEM, readable
    /// by its owner only (make one with `inkan-server admin issuer-key create`). Required. Keep it
    /// out of the database's backups: whoever holds both can rewrite histories undetected.
    #[arg(long, env = "INKAN_ISSUER_KEY")]
    issuer_key: Option<PathBuf>,
    /// Where top-ups take money from. Required, with no default: `sandbox` is the only provider
    /// built, and it is a TEST provider that credits wallets from the documented test cards
    /// (4242 4242 4242 4242) without moving any money. Never run it where real people pay.
    #[arg(long, env = "INKAN_FUNDING", value_enum)]
    funding: Option<Funding>,
    /// Where the sandbox provider keeps the collections it took (JSON lines, fsynced), so that
    /// after a crash the reconciler finds what it took. Default: beside a SQLite database file
    /// (`<database>.sandbox-provider.jsonl`); with PostgreSQL, in memory unless given.
    #[arg(long, env = "INKAN_SANDBOX_JOURNAL")]
    sandbox_journal: Option<PathBuf>,
    /// Seconds an unconfirmed charge waits before it expires (default 120).
    #[arg(long, env = "INKAN_CHARGE_TTL_SECONDS")]
    charge_ttl_seconds: Option<u32>,
    /// Hours a wallet session lasts at most, however much it is used (default 12).
    #[arg(long, env = "INKAN_SESSION_MAX_HOURS", value_parser = clap::value_parser!(u32).range(1..=720))]
    session_max_hours: Option<u32>,
    /// Short requests handled at once; past it, `503 overloaded` (default 256).
    #[arg(long, env = "INKAN_MAX_REQUESTS_IN_FLIGHT", value_parser = clap::value_parser!(u32).range(1..))]
    max_requests_in_flight: Option<u32>,
    /// Live feeds and long-polls open at once; past it, `503 overloaded` (default 512).
    #[arg(long, env = "INKAN_MAX_OPEN_STREAMS", value_parser = clap::value_parser!(u32).range(1..))]
    max_open_streams: Option<u32>,
    /// Milliseconds a request may wait for a database connection before `503 overloaded`
    /// (default 2000).
    #[arg(long, env = "INKAN_DB_ACQUIRE_TIMEOUT_MS", value_parser = clap::value_parser!(u32).range(1..))]
    db_acquire_timeout_ms: Option<u32>,
    /// The end of the payment code migration window, RFC 3339 (e.g. 2027-06-30T15:00:00Z): from
    /// then on, codes of version 1 are refused. Default: codes of both versions are taken.
    #[arg(long, env = "INKAN_PAYMENT_CODE_V1_UNTIL", value_parser = rfc3339)]
    payment_code_v1_until: Option<time::OffsetDateTime>,
    /// Countries served, comma-separated ISO 3166-1 alpha-2 codes (default JP). Enrolment,
    /// sign-in, device joins, cards, top-ups and payments from elsewhere get `403 region_blocked`.
    #[arg(long, env = "INKAN_ALLOWED_COUNTRIES", value_delimiter = ',')]
    allowed_countries: Option<Vec<Country>>,
    /// What a request gets when no trusted proxy named its country: deny (production, behind an
    /// edge that names every client's country), allow-loopback (the default: only requests from
    /// this machine, for development), or allow (no region policy at all).
    #[arg(long, env = "INKAN_UNKNOWN_COUNTRY", value_enum)]
    unknown_country: Option<UnknownCountryArg>,
    /// Networks of the proxies in front of the server (comma-separated CIDRs, e.g. 10.0.0.0/8).
    /// Only their X-Forwarded-For and country header are believed; from anyone else, the peer is
    /// the client and its country is unknown. Default: none.
    #[arg(long, env = "INKAN_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Option<Vec<IpNet>>,
    /// The header in which a trusted proxy names the client's country (e.g. CF-IPCountry).
    #[arg(long, env = "INKAN_COUNTRY_HEADER")]
    country_header: Option<String>,
    /// Multiplies every rate limit (the README's table) by N, both its burst and its rate: for load
    /// tests and benchmarks, where one address makes thousands of wallets. Default 1. Never raise it
    /// where real people are served: the limits are what slows card and account guessing.
    #[arg(long, env = "INKAN_RATE_LIMIT_SCALE", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    rate_limit_scale: Option<u32>,
    /// How many wallets one card may be verified in (default 1): a card verified in that many
    /// others is declined in a new one, and listed by `admin flags`.
    #[arg(long, env = "INKAN_MAX_ACCOUNTS_PER_CARD", value_parser = clap::value_parser!(u32).range(1..=1000))]
    max_accounts_per_card: Option<u32>,
    /// Live feeds one wallet may have open at once; past it, `429 too_many_requests` (default 8).
    #[arg(long, env = "INKAN_MAX_FEEDS_PER_ACCOUNT", value_parser = clap::value_parser!(u32).range(1..))]
    max_feeds_per_account: Option<u32>,
    /// Milliseconds a request may take, its body included, before `408 request_timeout`
    /// (default 15000). Live feeds and long-polls are not short requests.
    #[arg(long, env = "INKAN_REQUEST_TIMEOUT_MS", value_parser = clap::value_parser!(u32).range(1..))]
    request_timeout_ms: Option<u32>,
    /// Milliseconds a client may take to send a request body before `408 request_timeout`
    /// (default 10000).
    #[arg(long, env = "INKAN_BODY_TIMEOUT_MS", value_parser = clap::value_parser!(u32).range(1..))]
    body_timeout_ms: Option<u32>,
    /// `off` turns every velocity rule off (no charge is held for review), whatever the config
    /// file's [risk] table says: for load tests, where one wallet pays many times a minute. Never
    /// where real people are served. Default: `on`, the rules of the [risk] table.
    #[arg(long, env = "INKAN_RISK_RULES", value_enum)]
    risk_rules: Option<RiskRulesArg>,
}

/// `--risk-rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RiskRulesArg {
    On,
    Off,
}

/// `--unknown-country`, as [`UnknownCountry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum UnknownCountryArg {
    Deny,
    AllowLoopback,
    Allow,
}

impl From<UnknownCountryArg> for UnknownCountry {
    fn from(arg: UnknownCountryArg) -> UnknownCountry {
        match arg {
            UnknownCountryArg::Deny => UnknownCountry::Deny,
            UnknownCountryArg::AllowLoopback => UnknownCountry::AllowLoopback,
            UnknownCountryArg::Allow => UnknownCountry::Allow,
        }
    }
}

/// The funding providers `serve` can run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Funding {
    /// TEST ONLY: the sandbox's test cards, no money moves.
    Sandbox,
}

#[derive(Subcommand)]
enum Admin {
    #[command(subcommand)]
    Merchant(MerchantCommand),
    #[command(subcommand)]
    Terminal(TerminalCommand),
    /// The keys of the operator API (`/v1/admin/...`: suspend charges, top-ups or enrolment, hold
    /// an account).
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// The issuer key that signs history heads (`serve --issuer-key`).
    #[command(subcommand)]
    IssuerKey(IssuerKeyCommand),
    /// Lift a lock of failed tries (card details, passkeys, recovery codes): a wallet's, a
    /// device's, a client address's or a card number's. Five failures lock each; a card's lock
    /// holds until lifted, the others also end by themselves (README "Security").
    Unlock(UnlockArgs),
    /// The cards declined because they are verified in other wallets (`--max-accounts-per-card`),
    /// newest first, with every wallet each is in.
    Flags,
    /// Every operator action (who, when, what, on what, why), newest first.
    Audit,
    /// Charges a velocity rule held for review: list them, approve one (the shopper may then
    /// confirm it) or decline it for good. Talks to the running server's operator API, so the
    /// shopper and the waiting terminal hear of a decision at once, with an operator key of the
    /// `review` scope from INKAN_OPERATOR_KEY (or typed at a prompt that does not echo it).
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Wind the service down: suspend charges, top-ups and enrolment, then close every wallet,
    /// each balance paid back to its card, with a progress bar and a final report checked against
    /// the ledger. Resumable: run it again. Talks to the running server's operator API with a key
    /// of the `switches` scope, as `review` does.
    WindDown(WindDownArgs),
}

#[derive(clap::Args)]
struct WindDownArgs {
    /// Why (kept in the audit trail).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    api: OperatorApi,
}

#[derive(Subcommand)]
enum ReviewCommand {
    /// The charges waiting for a decision, oldest first.
    List(OperatorApi),
    /// Let the shopper confirm a held charge.
    Approve(Decision),
    /// Decline a held charge for good.
    Decline(Decision),
}

#[derive(clap::Args)]
struct Decision {
    /// The charge id (`ch_…`).
    charge: String,
    /// Why (kept in the audit trail; never shown to the shopper).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    api: OperatorApi,
}

#[derive(clap::Args)]
struct OperatorApi {
    /// The server's operator API: its --admin-listen address, or --listen without one.
    #[arg(long, env = "INKAN_ADMIN_URL", default_value = "http://127.0.0.1:8080")]
    server: url::Url,
}

#[derive(clap::Args)]
struct UnlockArgs {
    /// An account id: the wallet's locks of passkey, recovery-code and card tries.
    #[arg(long)]
    account: Option<String>,
    /// A device id (`dev_…`).
    #[arg(long)]
    device: Option<String>,
    /// A client address, as the server saw it (an IPv6 address stands for its /64).
    #[arg(long)]
    address: Option<std::net::IpAddr>,
    /// A card number, read from a prompt that does not echo it (or from standard input when that
    /// is not a terminal): never an argument. Needs --issuer-key, which keys card numbers.
    #[arg(long, requires = "issuer_key")]
    card_number: bool,
    /// The server's issuer key file (with --card-number).
    #[arg(long, env = "INKAN_ISSUER_KEY")]
    issuer_key: Option<PathBuf>,
    /// Why, for the audit trail (at most 200 characters).
    #[arg(long)]
    reason: Option<String>,
}

#[derive(Subcommand)]
enum IssuerKeyCommand {
    /// Create a new issuer key in a new file (mode 600; an existing file is never overwritten);
    /// prints its id and public key.
    Create {
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Create an operator key; prints its id and the key (shown once).
    Create {
        /// Who holds the key (a person or a team), for the record.
        #[arg(long)]
        name: String,
        /// What the key may do, comma-separated: `switches` (suspend, resume, hold, release,
        /// unlock), `review` and `read` (suspensions, flags, the audit trail). Default: all three.
        #[arg(long, default_value = "switches,review,read")]
        scopes: String,
    },
    /// Revoke an operator key: it stops working at once.
    Revoke {
        #[arg(long)]
        operator: String,
    },
}

#[derive(Subcommand)]
enum MerchantCommand {
    /// Create a merchant; prints its id.
    Create {
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum TerminalCommand {
    /// Create a terminal for a merchant; prints its id and its key (shown once).
    Create {
        #[arg(long)]
        merchant: String,
        #[arg(long, default_value = "till")]
        name: String,
        /// The country the terminal stands in (ISO 3166-1 alpha-2, e.g. JP). Required: a terminal
        /// in a country that is not served (`--allowed-countries`) cannot take payments.
        #[arg(long)]
        country: Country,
    },
    /// Revoke a terminal: its key stops working at once.
    Revoke {
        #[arg(long)]
        terminal: String,
    },
}

/// The optional TOML file. Flags and environment win over it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
    metrics_listen: Option<SocketAddr>,
    database: Option<String>,
    rp_id: Option<String>,
    rp_origin: Option<url::Url>,
    issuer_key: Option<PathBuf>,
    funding: Option<Funding>,
    sandbox_journal: Option<PathBuf>,
    charge_ttl_seconds: Option<u32>,
    session_max_hours: Option<u32>,
    max_requests_in_flight: Option<u32>,
    max_open_streams: Option<u32>,
    db_acquire_timeout_ms: Option<u32>,
    max_feeds_per_account: Option<u32>,
    request_timeout_ms: Option<u32>,
    body_timeout_ms: Option<u32>,
    allowed_countries: Option<Vec<Country>>,
    unknown_country: Option<UnknownCountryArg>,
    trusted_proxies: Option<Vec<String>>,
    country_header: Option<String>,
    rate_limit_scale: Option<u32>,
    max_accounts_per_card: Option<u32>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    payment_code_v1_until: Option<time::OffsetDateTime>,
    #[serde(default)]
    risk: inkan_server::settings::RiskFile,
}

#[allow(clippy::print_stdout, reason = "the admin commands print their result for the operator")]
#[tokio::main]
async fn main() -> Result<()> {
    // The log goes to standard error: standard output is the admin commands' answer (a key, an
    // id), which scripts read.
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let cli = match cli.command {
        // No database: the server's operator API.
        Command::Admin(Admin::Review(command)) => return operator_cli::review(command).await,
        Command::Admin(Admin::WindDown(args)) => return operator_cli::wind_down(args).await,
        command => Cli { command, ..cli },
    };
    if let Command::Admin(Admin::IssuerKey(IssuerKeyCommand::Create { out })) = &cli.command {
        // No database: the key lives apart from it.
        let issuer = Issuer::create_file(out, &ring::rand::SystemRandom::new())?;
        let public = inkan_api::Base64Url(issuer.key().as_bytes().to_vec()).encode();
        println!("issuer key {}\npublic key {public}\nwritten to {}", issuer.key_id(), out.display());
        return Ok(());
    }
    let file = match &cli.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            toml::from_str::<FileConfig>(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => FileConfig::default(),
    };
    let database = cli.database.clone().or(file.database.clone()).unwrap_or_else(|| "sqlite://inkan.db".to_owned());
    let acquire_timeout = match &cli.command {
        Command::Serve(args) => args.db_acquire_timeout_ms.or(file.db_acquire_timeout_ms),
        Command::Admin(_) => None,
    }
    .map_or(LoadLimits::DEFAULT.db_acquire_timeout, |ms| Duration::from_millis(u64::from(ms)));
    let db = Db::connect(&database, acquire_timeout)
        .await
        .with_context(|| format!("opening the database {}", redact(&database)))?;
    let clock = SystemClock;
    match cli.command {
        Command::Serve(args) => serve(*args, file, (db, &database), acquire_timeout).await,
        Command::Admin(command) => admin(command, &db, &clock).await,
    }
}

/// `inkan-server admin ...` on the database (but `issuer-key create`, which needs none).
#[allow(clippy::print_stdout, reason = "the admin commands print their result for the operator")]
async fn admin(command: Admin, db: &Db, clock: &SystemClock) -> Result<()> {
    match command {
        Admin::Merchant(MerchantCommand::Create { name }) => {
            let id = inkan_server::admin::create_merchant(db, clock, &name).await?;
            println!("{id}");
            Ok(())
        }
        Admin::Terminal(TerminalCommand::Create { merchant, name, country }) => {
            let (id, key) = inkan_server::admin::create_terminal(db, clock, &merchant, &name, country).await?;
            println!("terminal {id}\nkey {key}\n(the key is shown only now; store it in the terminal)");
            Ok(())
        }
        Admin::Terminal(TerminalCommand::Revoke { terminal }) => {
            inkan_server::admin::revoke_terminal(db, &terminal).await?;
            println!("revoked {terminal}");
            Ok(())
        }
        Admin::Operator(OperatorCommand::Create { name, scopes }) => {
            let scopes = inkan_core::operator::parse_scopes(&scopes).map_err(|e| anyhow::anyhow!("--scopes: {e}"))?;
            let (id, key) = inkan_server::admin::create_operator(db, clock, &name, &scopes).await?;
            println!(
                "operator {id} ({})\nkey {key}\n(the key is shown only now; keep it where the operator's tools read it)",
                inkan_core::operator::scopes_text(&scopes)
            );
            Ok(())
        }
        Admin::Operator(OperatorCommand::Revoke { operator }) => {
            inkan_server::admin::revoke_operator(db, &operator).await?;
            println!("revoked {operator}");
            Ok(())
        }
        Admin::IssuerKey(_) | Admin::Review(_) | Admin::WindDown(_) => Ok(()),
        Admin::Audit => print_audit(db).await,
        Admin::Flags => print_flags(db).await,
        Admin::Unlock(args) => unlock(args, db, clock).await,
    }
}

/// `admin audit`: every operator action, newest first.
#[allow(clippy::print_stdout, reason = "the admin commands print their result for the operator")]
async fn print_audit(db: &Db) -> Result<()> {
    let entries = inkan_server::audit::list(db).await.map_err(|e| anyhow::anyhow!(e.message))?;
    if entries.is_empty() {
        println!("no operator action on record");
    }
    for entry in entries {
        let at = entry.at.format(&time::format_description::well_known::Rfc3339)?;
        let why = if entry.reason.is_empty() { String::new() } else { format!(" — {}", entry.reason) };
        println!("{at}  {:<14}  {:<12}  {}{why}", entry.operator_id, entry.action, entry.subject);
    }
    Ok(())
}

/// `admin flags`: the cards declined for being verified in other wallets.
#[allow(clippy::print_stdout, reason = "the admin commands print their result for the operator")]
async fn print_flags(db: &Db) -> Result<()> {
    let flags = inkan_server::operator::card_flags(db).await.map_err(|e| anyhow::anyhow!(e.message))?;
    if flags.is_empty() {
        println!("no card is flagged");
    }
    for flag in flags {
        println!("{} …{} (fingerprint {})", flag.brand, flag.last4, flag.fingerprint);
        for account in flag.accounts {
            let at = account.added_at.format(&time::format_description::well_known::Rfc3339)?;
            println!("  {}  {:<18}  {at}", account.account_id, account.status);
        }
    }
    Ok(())
}

/// `admin unlock`: lifts one lock of failed tries, with an audit entry by the command line.
#[allow(clippy::print_stdout, reason = "the admin commands print their result for the operator")]
async fn unlock(args: UnlockArgs, db: &Db, clock: &SystemClock) -> Result<()> {
    use inkan_core::attempts::Against;
    let chosen = [args.account.is_some(), args.device.is_some(), args.address.is_some(), args.card_number];
    anyhow::ensure!(
        chosen.iter().filter(|c| **c).count() == 1,
        "say what to unlock: one of --account, --device, --address or --card-number"
    );
    let (against, subject, what) = match (args.account, args.device, args.address, args.issuer_key) {
        (Some(account), ..) => (Against::Account, account.clone(), format!("account {account}")),
        (None, Some(device), ..) => (Against::Device, device.clone(), format!("device {device}")),
        (None, None, Some(address), _) => {
            (Against::Address, inkan_server::tries::address_subject(address), format!("address {address}"))
        }
        (None, None, None, Some(key)) if args.card_number => {
            let issuer = Issuer::load(&key)?;
            let number = read_secret("card number: ")?;
            let key = inkan_server::tries::card_number_key(&issuer, &number);
            (Against::CardNumber, key, "that card number".to_owned())
        }
        _ => anyhow::bail!("say what to unlock: --account, --device, --address or --card-number"),
    };
    let reason =
        inkan_server::operator::optional_reason(args.reason.as_deref()).map_err(|e| anyhow::anyhow!(e.message))?;
    let by = inkan_server::attempts::Unlocker { operator_id: inkan_server::audit::COMMAND_LINE, reason: &reason };
    let lifted = inkan_server::attempts::unlock(db, against, &subject, by, clock.now())
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    println!("{}", if lifted { format!("unlocked {what}") } else { format!("no failures on record for {what}") });
    Ok(())
}

async fn serve(
    args: ServeArgs,
    file: FileConfig,
    (db, database): (Db, &str),
    db_acquire_timeout: Duration,
) -> Result<()> {
    let rp_id =
        args.rp_id.clone().or_else(|| file.rp_id.clone()).context(
            "missing the WebAuthn relying-party id: pass --rp-id (or INKAN_RP_ID, or rp_id in the config file)",
        )?;
    let rp_origin = args.rp_origin.clone().or_else(|| file.rp_origin.clone()).context(
        "missing the WebAuthn origin: pass --rp-origin (or INKAN_RP_ORIGIN, or rp_origin in the config file)",
    )?;
    let issuer_key = args.issuer_key.clone().or_else(|| file.issuer_key.clone()).context(
        "missing the issuer key that signs histories: pass --issuer-key FILE (or INKAN_ISSUER_KEY, or issuer_key in \
         the config file); create one with `inkan-server admin issuer-key create --out FILE`",
    )?;
    let issuer = Issuer::load(&issuer_key)?;
    let funding = args.funding.or(file.funding).context(
        "choose where top-ups take money from: --funding sandbox (or INKAN_FUNDING, or funding in the config file). \
         `sandbox` is the only provider built and is for tests and demos: it takes test cards and moves no money",
    )?;
    let provider: Arc<dyn FundingProvider> = match funding {
        Funding::Sandbox => {
            tracing::warn!("funding: SANDBOX (test cards, no real money): never for real shoppers");
            match args.sandbox_journal.clone().or(file.sandbox_journal.clone()).or_else(|| beside_sqlite(database)) {
                Some(path) => Arc::new(
                    SandboxProvider::with_journal(&path)
                        .with_context(|| format!("opening the sandbox provider's journal {}", path.display()))?,
                ),
                None => {
                    tracing::warn!("the sandbox provider keeps its collections in memory (no --sandbox-journal)");
                    Arc::new(SandboxProvider::in_memory())
                }
            }
        }
    };
    let mut settings = Settings::for_relying_party(rp_id, rp_origin)?;
    if let Some(ttl) = args.charge_ttl_seconds.or(file.charge_ttl_seconds) {
        settings.charge_ttl = time::Duration::seconds(i64::from(ttl));
    }
    if let Some(hours) = args.session_max_hours.or(file.session_max_hours) {
        anyhow::ensure!((1..=720).contains(&hours), "session_max_hours must be between 1 and 720, not {hours}");
        settings.session_max = time::Duration::hours(i64::from(hours));
    }
    settings.load = load_limits(&args, &file, db_acquire_timeout)?;
    settings.payment_code_v1_until = args.payment_code_v1_until.or(file.payment_code_v1_until);
    abuse_defences(&mut settings, &args, &file)?;
    let listen = args.listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let key_id = issuer.key_id().to_owned();
    let state = AppState::new(db, Arc::new(SystemClock), settings, provider, issuer)?;
    let signed = inkan_server::feed::sign_unsigned_heads(&state).await.map_err(|e| anyhow::anyhow!(e.message))?;
    if signed > 0 {
        tracing::info!(signed, "signed the heads of histories written before heads were signed");
    }
    let listeners = listeners(&args, &file, listen).await?;
    tracing::info!(
        address = %listeners.public.local_addr()?,
        issuer_key = %key_id,
        funding = ?funding,
        countries = ?state.settings.region.allowed.iter().map(ToString::to_string).collect::<Vec<_>>(),
        unknown_country = ?state.settings.region.unknown,
        trusted_proxies = state.settings.edge.trusted_proxies.len(),
        "inkan-server listening"
    );
    inkan_server::run_split(listeners, state.clone(), shutdown_signal()).await?;
    state.db.close().await;
    tracing::info!("inkan-server stopped");
    Ok(())
}

/// The load limits from flags, environment and the file, checked.
fn load_limits(args: &ServeArgs, file: &FileConfig, db_acquire_timeout: Duration) -> Result<LoadLimits> {
    let count = |n: Option<u32>, default: usize| match n {
        Some(n) => usize::try_from(n).context("a load limit does not fit this machine's word size"),
        None => Ok(default),
    };
    let millis = |ms: Option<u32>, default: Duration| ms.map_or(default, |ms| Duration::from_millis(u64::from(ms)));
    let d = LoadLimits::DEFAULT;
    let load = LoadLimits {
        max_requests_in_flight: count(
            args.max_requests_in_flight.or(file.max_requests_in_flight),
            d.max_requests_in_flight,
        )?,
        max_open_streams: count(args.max_open_streams.or(file.max_open_streams), d.max_open_streams)?,
        db_acquire_timeout,
        max_feeds_per_account: count(
            args.max_feeds_per_account.or(file.max_feeds_per_account),
            d.max_feeds_per_account,
        )?,
        request_timeout: millis(args.request_timeout_ms.or(file.request_timeout_ms), d.request_timeout),
        body_timeout: millis(args.body_timeout_ms.or(file.body_timeout_ms), d.body_timeout),
    };
    if load.max_requests_in_flight == 0
        || load.max_open_streams == 0
        || load.max_feeds_per_account == 0
        || load.request_timeout.is_zero()
        || load.body_timeout.is_zero()
    {
        anyhow::bail!(
            "max_requests_in_flight, max_open_streams, max_feeds_per_account, request_timeout_ms and \
             body_timeout_ms must be at least 1"
        );
    }
    Ok(load)
}

/// The region policy, the trusted edge, the rate limits and the velocity rules from flags,
/// environment and the file.
fn abuse_defences(settings: &mut Settings, args: &ServeArgs, file: &FileConfig) -> Result<()> {
    if let Some(scale) = args.rate_limit_scale.or(file.rate_limit_scale) {
        anyhow::ensure!((1..=100_000).contains(&scale), "rate_limit_scale must be between 1 and 100000, not {scale}");
        if scale > 1 {
            tracing::warn!(scale, "rate limits scaled up: for load tests only, never where real people are served");
        }
        settings.rate_limits = settings.rate_limits.scaled(scale);
    }
    let (rules, window) = file.risk.apply(settings.review_window)?;
    settings.review_window = window;
    settings.risk = match args.risk_rules {
        Some(RiskRulesArg::Off) => {
            tracing::warn!("velocity rules off: no charge is held for review; for load tests only");
            inkan_core::risk::RiskRules::OFF
        }
        Some(RiskRulesArg::On) | None => rules,
    };
    if let Some(max) = args.max_accounts_per_card.or(file.max_accounts_per_card) {
        anyhow::ensure!((1..=1000).contains(&max), "max_accounts_per_card must be between 1 and 1000, not {max}");
        settings.card_sharing.max_accounts_per_card = max;
    }
    if let Some(countries) = args.allowed_countries.clone().or_else(|| file.allowed_countries.clone()) {
        anyhow::ensure!(!countries.is_empty(), "allowed_countries must name at least one country");
        settings.region.allowed = countries;
    }
    if let Some(unknown) = args.unknown_country.or(file.unknown_country) {
        settings.region.unknown = unknown.into();
    }
    settings.edge.trusted_proxies = match (&args.trusted_proxies, &file.trusted_proxies) {
        (Some(nets), _) => nets.clone(),
        (None, Some(nets)) => nets
            .iter()
            .map(|n| n.parse::<IpNet>().with_context(|| format!("trusted_proxies: {n:?} is not a network (CIDR)")))
            .collect::<Result<_>>()?,
        (None, None) => Vec::new(),
    };
    if let Some(header) = args.country_header.as_ref().or(file.country_header.as_ref()) {
        let header = header.trim().to_ascii_lowercase();
        axum::http::HeaderName::from_bytes(header.as_bytes())
            .with_context(|| format!("country_header: {header:?} is not a header name"))?;
        settings.edge.country_header = Some(header);
    }
    if settings.edge.country_header.is_some() && settings.edge.trusted_proxies.is_empty() {
        anyhow::bail!("country_header is read only from trusted proxies: give --trusted-proxies too");
    }
    Ok(())
}

/// The public listener on `listen`, and the operator's and the metrics' if they are asked for.
async fn listeners(args: &ServeArgs, file: &FileConfig, listen: SocketAddr) -> Result<inkan_server::Listeners> {
    let public = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    let operator = operator_listener(args.admin_listen.or(file.admin_listen), listen).await?;
    let metrics = metrics_listener(args.metrics_listen.or(file.metrics_listen), listen).await?;
    Ok(inkan_server::Listeners { public, operator, metrics })
}

/// The metrics listener (`--metrics-listen`), with the Prometheus recorder installed; `None`
/// (and nothing recorded) without one.
async fn metrics_listener(
    address: Option<SocketAddr>,
    listen: SocketAddr,
) -> Result<Option<(tokio::net::TcpListener, inkan_server::telemetry::Handle)>> {
    let Some(address) = address else { return Ok(None) };
    anyhow::ensure!(address != listen, "--metrics-listen must differ from --listen ({listen})");
    let handle = inkan_server::telemetry::install()?;
    let listener =
        tokio::net::TcpListener::bind(address).await.with_context(|| format!("listening for metrics on {address}"))?;
    tracing::info!(address = %listener.local_addr()?, "metrics at /metrics (Prometheus)");
    Ok(Some((listener, handle)))
}

/// The operator API's own listener (`--admin-listen`), or `None` when it shares `listen`.
async fn operator_listener(address: Option<SocketAddr>, listen: SocketAddr) -> Result<Option<tokio::net::TcpListener>> {
    Ok(match address {
        Some(address) => {
            anyhow::ensure!(address != listen, "--admin-listen must differ from --listen ({listen})");
            let operator = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("listening for the operator API on {address}"))?;
            tracing::info!(address = %operator.local_addr()?, "operator API listening (not on the public address)");
            Some(operator)
        }
        None => {
            tracing::warn!(
                "the operator API shares the public address: pass --admin-listen to keep it off the internet"
            );
            None
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// A secret typed at a prompt that does not echo it, or read from standard input when that is
/// not a terminal.
fn read_secret(prompt: &str) -> Result<String> {
    use std::io::IsTerminal;
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt)?
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line
    };
    Ok(text.trim().to_owned())
}

/// `<file>.sandbox-provider.jsonl` beside a SQLite database file; `None` for PostgreSQL or an
/// in-memory database.
/// A command-line instant, RFC 3339.
fn rfc3339(text: &str) -> std::result::Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("expected an RFC 3339 instant such as 2027-06-30T15:00:00Z ({e})"))
}

fn beside_sqlite(database: &str) -> Option<PathBuf> {
    let path = database.strip_prefix("sqlite://").or_else(|| database.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(format!("{path}.sandbox-provider.jsonl")))
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
