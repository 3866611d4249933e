//! `inkan`, the headless wallet: every wallet operation from the command line, for power users,
//! scripts and tests. Thin: it parses, calls `inkan_client::Wallet`, and prints.

#![allow(clippy::print_stdout, reason = "a command-line program talks on stdout")]

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::builder::NonEmptyStringValueParser;
use clap::{Args, Parser, Subcommand};
use inkan_api::wallet::{AddCard, PayoutStatus, PendingCharge, TopUpStatus};
use inkan_client::feed::{Cursor, FeedItem, describe};
use inkan_client::profile::{ProfileStore, home};
use inkan_client::wallet::{PasskeyChoice, Server};
use inkan_client::{ClientError, Wallet};
use inkan_core::{LimitPolicy, Money};
use url::Url;

#[derive(Parser)]
#[command(name = "inkan", version, about = "Inkan headless wallet")]
struct Cli {
    /// Which wallet on this machine (several can live side by side).
    #[arg(long, env = "INKAN_PROFILE", default_value = "default", global = true)]
    profile: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Connect {
    /// The Inkan server, e.g. http://localhost:8080.
    #[arg(long, env = "INKAN_SERVER")]
    server: Url,
    /// The WebAuthn origin of the server's relying party (default: the server URL).
    #[arg(long)]
    origin: Option<Url>,
    /// Use a software passkey kept in the OS keystore. INSECURE: it approves without asking
    /// anyone. For demos and tests only. Without it, a FIDO2 security key over USB is used
    /// (builds with the `usb` feature).
    #[arg(long)]
    insecure_soft_passkey: bool,
    /// This device's name, as the wallet's other devices will see it.
    #[arg(long, default_value = "inkan cli")]
    device_name: String,
}

/// A recovery code, for `join`, `freeze` and `unfreeze`: never an argument, unless loudly.
#[derive(Args)]
struct RecoveryCode {
    /// Use a recovery code of the wallet: it is asked for without echo, or read as one line from
    /// standard input when that is not a terminal.
    #[arg(long)]
    recovery_code: bool,
    /// Use this recovery code. INSECURE: visible in `ps` and shell history. For tests and scripts
    /// that accept the risk; prefer `--recovery-code` and standard input.
    #[arg(long, value_name = "CODE", conflicts_with = "recovery_code", value_parser = NonEmptyStringValueParser::new())]
    insecure_recovery_code: Option<String>,
}

impl RecoveryCode {
    /// The code to use, if any: given insecurely, or read now.
    fn read(self) -> Result<Option<String>> {
        match self.insecure_recovery_code {
            Some(code) => Ok(Some(code)),
            None if self.recovery_code => secret("recovery code").map(Some),
            None => Ok(None),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create a wallet: a passkey, this device's key, and recovery codes (shown once).
    Enroll {
        #[command(flatten)]
        connect: Connect,
        /// Your name, as shown in the wallet.
        #[arg(long)]
        name: String,
    },
    /// Add this device to an existing wallet (approved by another device, or a recovery code,
    /// which approves at once and is used up).
    Join {
        #[command(flatten)]
        connect: Connect,
        /// The wallet's account id (shown by `inkan status` on an enrolled device).
        #[arg(long)]
        account: String,
        #[command(flatten)]
        recovery_code: RecoveryCode,
    },
    /// Balance, limits and freeze state.
    Status,
    /// The wallet's devices; approve or revoke.
    Devices {
        #[command(subcommand)]
        action: Option<DevicesAction>,
    },
    /// Cards to top up from.
    Card {
        #[command(subcommand)]
        action: CardAction,
    },
    /// Close the wallet for good: its balance is paid back to the first card that topped it up,
    /// and no payment can be made from it again.
    Close {
        /// Do not ask before closing.
        #[arg(long)]
        yes: bool,
    },
    /// Add money from a verified card.
    Topup {
        #[arg(long)]
        card: String,
        /// Yen.
        #[arg(long)]
        amount: i64,
    },
    /// Show a payment code (works offline), as text and optionally as a QR image.
    Code {
        /// Also write the QR code to this PNG file.
        #[arg(long)]
        png: Option<PathBuf>,
        /// Keep showing a fresh code every 30 s.
        #[arg(long)]
        watch: bool,
        /// With --watch: stop after this many codes.
        #[arg(long)]
        count: Option<u32>,
        /// With --watch: seconds between codes (30; shorter only for tests).
        #[arg(long, hide = true, default_value_t = 30)]
        every: u64,
    },
    /// Charges waiting for your confirmation.
    Pending,
    /// Pay a waiting charge with your passkey (shows amount and merchant first).
    Approve {
        charge: String,
        /// Do not ask before paying.
        #[arg(long)]
        yes: bool,
    },
    /// Refuse a waiting charge.
    Decline {
        charge: String,
        /// "This wasn't me": also freezes the wallet.
        #[arg(long)]
        not_me: bool,
    },
    /// The live feed of notices.
    Feed {
        /// Only notices after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Keep waiting for new notices.
        #[arg(long)]
        follow: bool,
        /// With --follow: stop after this many notices.
        #[arg(long)]
        count: Option<usize>,
        /// With --follow: as each charge arrives, ask to pay it with your passkey (from the
        /// push itself, with no further request).
        #[arg(long, requires = "follow")]
        approve: bool,
    },
    /// Show limits, or set them (lowering applies at once; raising needs the passkey and 24 h).
    Limits {
        #[command(subcommand)]
        action: Option<LimitsAction>,
    },
    /// Stop all payments now (no passkey needed; with a recovery code, which is not used up,
    /// instead of this device's session: a lost phone).
    Freeze {
        #[command(flatten)]
        recovery_code: RecoveryCode,
    },
    /// Allow payments again: with the passkey of a device that has been in the wallet for 72 hours
    /// (and since before its latest join), or with a recovery code (used up).
    Unfreeze {
        #[command(flatten)]
        recovery_code: RecoveryCode,
    },
    /// Replace every recovery code with ten new ones (needs the passkey; shown once).
    RecoveryCodes,
    /// The verifiable history of every notice: checked link by link and against the issuer's
    /// signatures, then exported; or an export checked offline.
    History {
        /// Write it to this file, one notice per line (it is verified first).
        #[arg(long, conflicts_with = "verify")]
        export: Option<PathBuf>,
        /// Check an export file offline, without the server: every line's link and the issuer's
        /// signature. A changed, removed or moved notice names its line.
        #[arg(long)]
        verify: Option<PathBuf>,
        /// With --verify: the issuer's public key (base64url, as `GET /v1/issuer-keys` and
        /// `inkan-server admin issuer-key create` show it). Default: the key this profile pinned.
        /// A key may begin with `-` (base64url): it is taken as the value, not as a flag.
        #[arg(long, requires = "verify", allow_hyphen_values = true)]
        issuer_key: Option<String>,
    },
    /// End this device's session.
    SignOut,
    /// Remove this profile and its secrets from this machine (the wallet stays on the server).
    Forget,
}

#[derive(Subcommand)]
enum DevicesAction {
    /// List devices.
    List,
    /// Devices asking to join.
    Waiting,
    /// Let a waiting device in (needs the passkey).
    Approve { join: String },
    /// Remove a device: its codes stop working at once.
    Revoke { device: String },
}

#[derive(Subcommand)]
enum CardAction {
    /// Register a card with the funding provider (the number is never stored by Inkan). The card
    /// number, then its security code, are asked for without echo, or read from standard input
    /// when that is not a terminal, one line each.
    Add {
        /// MM/YYYY
        #[arg(long)]
        expiry: String,
        /// The card number. INSECURE: visible in `ps` and shell history. For tests and scripts that
        /// accept the risk.
        #[arg(long, value_name = "NUMBER", value_parser = NonEmptyStringValueParser::new())]
        insecure_number: Option<String>,
        /// The card's security code. INSECURE: visible in `ps` and shell history. For tests and
        /// scripts that accept the risk.
        #[arg(long, value_name = "CVC", value_parser = NonEmptyStringValueParser::new())]
        insecure_cvc: Option<String>,
    },
    /// Answer the card issuer's verification challenge. The code is asked for without echo, or
    /// read as one line from standard input when that is not a terminal.
    Verify {
        card: String,
        /// The verification code. INSECURE: visible in `ps` and shell history. For tests and
        /// scripts that accept the risk.
        #[arg(long, value_name = "CODE", value_parser = NonEmptyStringValueParser::new())]
        insecure_code: Option<String>,
    },
}

#[derive(Subcommand)]
enum LimitsAction {
    Set {
        #[arg(long)]
        per_charge: i64,
        #[arg(long)]
        daily: i64,
        #[arg(long)]
        monthly: i64,
    },
}

fn passkey(connect: &Connect) -> Result<PasskeyChoice> {
    if connect.insecure_soft_passkey {
        eprintln!("warning: using an INSECURE software passkey (approves without asking anyone): demos and tests only");
        Ok(PasskeyChoice::InsecureSoftPasskey)
    } else if cfg!(feature = "usb") {
        eprintln!("Using the FIDO2 security key plugged in over USB: enter its PIN and touch it when asked.");
        Ok(PasskeyChoice::SecurityKey)
    } else {
        bail!(
            "no passkey authenticator is available in this build: it has no USB support for security keys \
             (build inkan with `--features usb`).\n\
             For a demo or a test, pass --insecure-soft-passkey (never for real money)."
        )
    }
}

fn server(connect: &Connect) -> Server {
    Server { url: connect.server.clone(), origin: connect.origin.clone().unwrap_or_else(|| connect.server.clone()) }
}

fn store(cli: &Cli) -> Result<ProfileStore> {
    Ok(ProfileStore::new(&home()?, &cli.profile)?)
}

fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("{question}\nrefusing to pay without asking: run in a terminal, or pass --yes");
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// A secret the person gives, never an argument: asked for without echo when standard input is a
/// terminal, else read as one line of it (so scripts can pipe it). `what` names it in the prompt and
/// in the error when it is missing.
fn secret(what: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return secret_line(&mut stdin.lock(), what);
    }
    // On the terminal itself, not on stdout: the prompt must not end up in a pipe.
    let typed = rpassword::prompt_password(format!("Enter the {what}: "))
        .with_context(|| format!("reading the {what} from the terminal"))?;
    match typed.trim() {
        "" => bail!("no {what} was typed"),
        typed => Ok(typed.to_owned()),
    }
}

/// The next line of `input`, trimmed: a secret piped in. An empty line or the end of the input is
/// an error naming what was expected.
fn secret_line(input: &mut impl BufRead, what: &str) -> Result<String> {
    let mut line = String::new();
    input.read_line(&mut line).with_context(|| format!("reading the {what} from standard input"))?;
    match line.trim() {
        "" => bail!("no {what} on standard input"),
        line => Ok(line.to_owned()),
    }
}

fn jst(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(inkan_core::tokyo::JST);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} JST",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `inkan history --verify FILE`: offline, against the given issuer key or the one this profile
/// pinned.
fn verify_export(store: &ProfileStore, file: &std::path::Path, issuer_key: Option<String>) -> Result<()> {
    let key = match issuer_key {
        Some(text) => inkan_api::Base64Url::decode(text.trim())
            .and_then(|b| inkan_core::history::IssuerKey::from_bytes(&b.0))
            .context("--issuer-key is not an Ed25519 public key in base64url (43 characters)")?,
        None => store
            .load()
            .ok()
            .and_then(|p| p.issuer_key)
            .and_then(|k| k.key())
            .context("this profile has no pinned issuer key: pass --issuer-key")?,
    };
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let verified = inkan_client::history::verify_export(&text, &key)
        .map_err(|e| anyhow::anyhow!("{} does not verify: {e}", file.display()))?;
    // On a device of that wallet: the file must also extend what this device verified.
    match Wallet::open(store.clone()) {
        Ok(wallet) if wallet.profile().account_id == verified.header.account_id => {
            verified.extends(wallet.known_head()?).map_err(|e| {
                anyhow::anyhow!(
                    "{} does not hold the history this device verified: {e} (or it was exported before then)",
                    file.display()
                )
            })?;
        }
        Ok(_) => {}
        Err(e) => eprintln!("(not compared with this device's verified history: {e})"),
    }
    println!(
        "{}: {} notices of wallet {}, exported {}; every link and every signature of issuer key {} verifies.",
        file.display(),
        verified.head.seq,
        verified.header.account_id,
        jst(verified.header.exported_at),
        key.id()
    );
    Ok(())
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("error: {e:#}");
        let code = match e.downcast_ref::<ClientError>() {
            Some(ClientError::Unreachable { .. }) => 3,
            Some(ClientError::Api { .. }) => 4,
            Some(ClientError::Keystore(_)) => 5,
            _ => 1,
        };
        std::process::exit(code);
    }
}

async fn run(cli: Cli) -> Result<()> {
    let store = store(&cli)?;
    match cli.command {
        Command::Enroll { connect, name } => enroll(store, connect, name).await,
        Command::Join { connect, account, recovery_code } => join(store, connect, account, recovery_code).await,
        Command::Status => status(store).await,
        Command::Devices { action } => devices(store, action).await,
        Command::Card { action } => card(store, action).await,
        Command::Topup { card, amount } => top_up(store, card, amount).await,
        Command::Close { yes } => close(store, yes).await,
        Command::Code { png, watch, count, every } => code(store, png, watch, count, every).await,
        Command::Pending => pending(store).await,
        Command::Approve { charge, yes } => approve(store, charge, yes).await,
        Command::Decline { charge, not_me } => decline(store, charge, not_me).await,
        Command::Feed { after, follow, count, approve } => feed(store, after, follow, count, approve).await,
        Command::Limits { action } => limits(store, action).await,
        Command::Freeze { recovery_code } => freeze(store, recovery_code).await,
        Command::Unfreeze { recovery_code } => unfreeze(store, recovery_code).await,
        Command::RecoveryCodes => recovery_codes(store).await,
        Command::History { export, verify: None, issuer_key: _ } => export_history(store, export).await,
        Command::History { export: _, verify: Some(file), issuer_key } => verify_export(&store, &file, issuer_key),
        Command::SignOut => {
            Wallet::open(store)?.sign_out().await?;
            println!("Signed out.");
            Ok(())
        }
        Command::Forget => {
            Wallet::open(store)?.forget()?;
            println!("This profile and its keys are removed from this machine.");
            Ok(())
        }
    }
}

/// `inkan enroll`: a new wallet, with its recovery codes shown once.
async fn enroll(store: ProfileStore, connect: Connect, name: String) -> Result<()> {
    let choice = passkey(&connect)?;
    let enrollment = Wallet::enroll(store, server(&connect), &name, &connect.device_name, choice).await?;
    let profile = enrollment.wallet.profile();
    println!("Wallet created for {name}.");
    println!("account:  {}", profile.account_id);
    println!("device:   {}", profile.device_id);
    println!("\nRecovery codes: write them down now, they are shown only this once.");
    println!("Each one adds a device or freezes the wallet if you lose this one.");
    for code in &enrollment.recovery_codes {
        println!("  {code}");
    }
    Ok(())
}

/// `inkan join`: this device joins a wallet, approved by one of its devices or a recovery code.
async fn join(store: ProfileStore, connect: Connect, account: String, recovery_code: RecoveryCode) -> Result<()> {
    let choice = passkey(&connect)?;
    let recovery_code = recovery_code.read()?;
    let mut told = false;
    let wallet = Wallet::join(store, server(&connect), &account, &connect.device_name, recovery_code, choice, |join| {
        if !told {
            eprintln!(
                "Waiting for approval: on a device of this wallet run `inkan devices waiting`, check that \
                     it shows this device's key {}, then `inkan devices approve {}`. If it is not listed there, \
                     check the account id: Inkan does not say whether an id is a wallet's, and a request for a \
                     wrong one expires after 10 minutes",
                join.device_fingerprint.as_deref().unwrap_or("(unknown)"),
                join.join_id
            );
            told = true;
        }
    })
    .await?;
    println!(
        "This device joined the wallet of {} (device {}).",
        wallet.profile().display_name,
        wallet.profile().device_id
    );
    Ok(())
}

/// `inkan status`: balance, freeze, hold, limits and what can be paid now.
async fn status(store: ProfileStore) -> Result<()> {
    let mut wallet = Wallet::open(store)?;
    let state = wallet.status().await?;
    let limits = &state.limits;
    println!("{} ({})", state.display_name, state.account_id);
    println!("balance:   {}", state.balance);
    println!("frozen:    {}", if state.frozen { "YES: no payment can be made" } else { "no" });
    if let Some(reason) = &state.held {
        println!("on hold:   YES, by Inkan ({reason}): no payment, top-up or new device");
    }
    println!(
        "limits:    {} per charge, {} a day ({} spent), {} a month ({} spent)",
        limits.current.get(inkan_core::LimitKind::PerCharge),
        limits.current.get(inkan_core::LimitKind::Daily),
        limits.spending.today,
        limits.current.get(inkan_core::LimitKind::Monthly),
        limits.spending.this_month
    );
    let can_pay = limits.remaining.checked_min(state.balance).unwrap_or(limits.remaining);
    println!("can pay:   up to {can_pay} now with this device");
    if let Some(raise) = &limits.pending {
        println!("raising:   from {}", jst(raise.effective_at));
    }
    println!("passkey:   {}", wallet.authenticator_description());
    Ok(())
}

/// `inkan devices`: the wallet's devices, waiting joins, approving one, removing one.
async fn devices(store: ProfileStore, action: Option<DevicesAction>) -> Result<()> {
    let mut wallet = Wallet::open(store)?;
    match action.unwrap_or(DevicesAction::List) {
        DevicesAction::List => {
            let me = wallet.profile().device_id.clone();
            for d in wallet.devices().await? {
                let state = if d.active { "" } else { " (revoked)" };
                let this = if d.id == me { " ← this device" } else { "" };
                let passkey = match d.passkey_added_at {
                    Some(at) => format!("passkey since {}", jst(at)),
                    None => "no passkey".to_owned(),
                };
                println!("{}  {}  since {}, {passkey}{state}{this}", d.id, d.name, jst(d.enrolled_at));
            }
        }
        DevicesAction::Waiting => {
            for j in wallet.waiting_joins().await? {
                println!(
                    "{}  {}  key {}  until {}",
                    j.join_id,
                    j.device_name.unwrap_or_default(),
                    j.device_fingerprint.unwrap_or_default(),
                    jst(j.expires_at)
                );
            }
        }
        DevicesAction::Approve { join } => {
            let join = wallet.approve_join(&join).await?;
            println!(
                "Approved: {} (key {}) may now join this wallet.",
                join.device_name.unwrap_or_default(),
                join.device_fingerprint.unwrap_or_default()
            );
        }
        DevicesAction::Revoke { device } => {
            wallet.revoke_device(&device).await?;
            println!("Removed {device}: its payment codes no longer work.");
        }
    }
    Ok(())
}

/// `inkan card add|verify`: the card's details and codes come from a prompt that does not echo them.
async fn card(store: ProfileStore, action: CardAction) -> Result<()> {
    let mut wallet = Wallet::open(store)?;
    let card = match action {
        CardAction::Add { expiry, insecure_number, insecure_cvc } => {
            let (month, year) = expiry.split_once('/').context("--expiry is MM/YYYY")?;
            let card = AddCard {
                exp_month: month.trim().parse().context("--expiry month")?,
                exp_year: year.trim().parse().context("--expiry year")?,
                number: insecure_number.map_or_else(|| secret("card number"), Ok)?,
                cvc: insecure_cvc.map_or_else(|| secret("card security code"), Ok)?,
            };
            wallet.add_card(card).await?
        }
        CardAction::Verify { card, insecure_code } => {
            let code = insecure_code.map_or_else(|| secret("card verification code"), Ok)?;
            wallet.verify_card(&card, &code).await?
        }
    };
    println!("card {}: {} ending {} ({:?})", card.id, card.brand, card.last4, card.status);
    Ok(())
}

/// `inkan topup`
async fn top_up(store: ProfileStore, card: String, amount: i64) -> Result<()> {
    let mut wallet = Wallet::open(store)?;
    let result = wallet.top_up(&card, Money::yen(amount)).await?;
    match result.status {
        TopUpStatus::Succeeded => println!("Topped up {}. Balance: {}", result.amount, result.balance),
        TopUpStatus::Pending => println!(
            "Top-up {} of {} is waiting for the card provider's answer: it is added when the provider confirms \
             (`inkan feed` says when), and the card is charged once. Balance now: {}",
            result.id, result.amount, result.balance
        ),
    }
    Ok(())
}

/// `inkan code`: a payment code (and its QR as a PNG), once or every `every` seconds.
async fn code(store: ProfileStore, png: Option<PathBuf>, watch: bool, count: Option<u32>, every: u64) -> Result<()> {
    let mut wallet = Wallet::open(store)?;
    if let Err(e) = wallet.sync_clock().await {
        eprintln!("offline ({e}): the code uses this device's clock");
    }
    let mut shown = 0u32;
    loop {
        let code = wallet.payment_code()?.text();
        println!("{code}");
        if let Some(path) = &png {
            std::fs::write(path, inkan_qr::render_png(&code, 8)?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        shown += 1;
        if !watch || count.is_some_and(|c| shown >= c) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(every)).await;
    }
    Ok(())
}

/// `inkan pending`: the charges waiting for this wallet's confirmation.
async fn pending(store: ProfileStore) -> Result<()> {
    let mut wallet = Wallet::open(store)?;
    let pending = wallet.pending().await?;
    if pending.is_empty() {
        println!("No charge is waiting.");
    }
    for p in pending {
        let c = &p.charge;
        println!(
            "{}  {}  {}  {}  expires {}",
            c.id,
            c.amount,
            c.merchant_name,
            c.description.clone().unwrap_or_default(),
            jst(c.expires_at)
        );
    }
    Ok(())
}

/// `inkan approve`: pays a pending charge with the passkey, after asking.
async fn approve(store: ProfileStore, charge: String, yes: bool) -> Result<()> {
    let mut wallet = Wallet::open(store)?;
    let pending = wallet.pending_charge(&charge).await?;
    pay(&mut wallet, &pending, yes).await
}

/// Shows a waiting charge, asks (unless `yes`) and pays it with the passkey.
async fn pay(wallet: &mut Wallet, pending: &PendingCharge, yes: bool) -> Result<()> {
    let c = &pending.charge;
    let question = format!("Pay {} ({}) to {}?", c.amount, c.amount.format_ja(), c.merchant_name);
    println!("{question}");
    if !yes && !confirm("Confirm with your passkey?")? {
        println!("Not paid.");
        return Ok(());
    }
    let done = wallet.approve(pending).await?;
    println!("Paid {} to {}: {}", done.amount, done.merchant_name, done.status);
    Ok(())
}

/// `inkan close`: the wallet closed for good, its balance paid back to a card.
async fn close(store: ProfileStore, yes: bool) -> Result<()> {
    let mut wallet = Wallet::open(store)?;
    println!("Closing the wallet is for good: no payment can be made from it again.");
    if !yes && !confirm("Close it, and pay its balance back to your card? Confirm with your passkey")? {
        println!("Not closed.");
        return Ok(());
    }
    let closed = wallet.close().await?;
    match closed.payout {
        None => println!("Wallet closed. It was empty: nothing to pay back."),
        Some(p) if p.status == PayoutStatus::Succeeded => {
            println!("Wallet closed. {} paid back to the card ending {}.", p.amount, p.card_last4)
        }
        Some(p) => println!(
            "Wallet closed. {} is on its way back to the card ending {}: the card provider has not confirmed yet \
             (`inkan feed` says when).",
            p.amount, p.card_last4
        ),
    }
    Ok(())
}

/// `inkan decline`: refuses a pending charge (`--not-me` also freezes the wallet).
async fn decline(store: ProfileStore, charge: String, not_me: bool) -> Result<()> {
    let mut wallet = Wallet::open(store)?;
    let done = wallet.decline(&charge, not_me).await?;
    println!("Declined {} to {}.", done.amount, done.merchant_name);
    if not_me {
        println!("The wallet is frozen. Check your devices, then `inkan unfreeze`.");
    }
    Ok(())
}

/// One notice of the history or the live feed, as a line.
fn print_event(event: &inkan_api::feed::FeedEvent) {
    let text = event.notice().map(|n| describe(&n)).unwrap_or_else(|_| event.payload.clone());
    println!("#{:<4} {}  {text}", event.seq, jst(event.at));
}

/// `inkan feed`: the verified history, then (`--follow`) the live feed, continuing its hash chain.
async fn feed(store: ProfileStore, after: u64, follow: bool, count: Option<usize>, approve: bool) -> Result<()> {
    let mut wallet = Wallet::open(store)?;
    if !follow {
        for event in wallet.history().await?.events.into_iter().filter(|e| e.seq > after) {
            print_event(&event);
        }
        return Ok(());
    }
    // Start from the verified history so the live chain continues from a checked hash.
    let history = wallet.history().await?;
    let mut cursor = Cursor::START;
    for event in &history.events {
        cursor = inkan_client::feed::follow(cursor, event)?;
        if event.seq > after {
            print_event(event);
        }
    }
    let mut feed = wallet.subscribe(cursor).await?;
    let mut seen = 0usize;
    while count.is_none_or(|c| seen < c) {
        match feed.next().await {
            Some(FeedItem::Event { event, waiting }) => {
                print_event(&event);
                seen += 1;
                if let Some(pending) = waiting.filter(|_| approve) {
                    // A charge paid elsewhere meanwhile, or expired, is refused by the server.
                    if let Err(e) = pay(&mut wallet, &pending, false).await {
                        eprintln!("not paid: {e}");
                    }
                }
            }
            Some(FeedItem::Reconnecting { delay, reason, .. }) => {
                eprintln!("feed interrupted ({reason}); reconnecting in {} ms", delay.as_millis());
            }
            Some(FeedItem::Ended(e)) => return Err(e.into()),
            Some(FeedItem::Connected) => {}
            None => break,
        }
    }
    Ok(())
}

/// `inkan limits [set]`: the spending limits, and a pending raise.
async fn limits(store: ProfileStore, action: Option<LimitsAction>) -> Result<()> {
    let mut wallet = Wallet::open(store)?;
    let limits = match action {
        None => wallet.status().await?.limits,
        Some(LimitsAction::Set { per_charge, daily, monthly }) => {
            let policy = LimitPolicy::new(Money::yen(per_charge), Money::yen(daily), Money::yen(monthly))?;
            wallet.set_limits(policy).await?
        }
    };
    let k = |kind| limits.current.get(kind);
    use inkan_core::LimitKind::{Daily, Monthly, PerCharge};
    println!("per charge {}  daily {}  monthly {}", k(PerCharge), k(Daily), k(Monthly));
    if let Some(raise) = limits.pending {
        let p = raise.policy;
        println!(
            "raise to per charge {}  daily {}  monthly {}  from {}",
            p.get(PerCharge),
            p.get(Daily),
            p.get(Monthly),
            jst(raise.effective_at)
        );
    }
    Ok(())
}

/// `inkan freeze`: by this device's session, or (`--recovery-code`) from anywhere.
async fn freeze(store: ProfileStore, recovery_code: RecoveryCode) -> Result<()> {
    let profile = store.load()?;
    match recovery_code.read()? {
        Some(code) => {
            let api = inkan_client::api::Api::new(profile.server)?;
            api.freeze_with_recovery_code(&profile.account_id, &code).await?;
        }
        None => Wallet::open(store)?.freeze().await?,
    }
    println!("The wallet is frozen: no payment can be made until `inkan unfreeze`.");
    Ok(())
}

/// `inkan unfreeze`: with a passkey step-up, or a recovery code.
async fn unfreeze(store: ProfileStore, recovery_code: RecoveryCode) -> Result<()> {
    let mut wallet = Wallet::open(store)?;
    match recovery_code.read()? {
        Some(code) => wallet.unfreeze_with_recovery_code(&code).await?,
        None => wallet.unfreeze().await?,
    }
    println!("The wallet is unfrozen.");
    Ok(())
}

/// `inkan recovery-codes`: ten new codes, shown once; the old ones stop working.
async fn recovery_codes(store: ProfileStore) -> Result<()> {
    let codes = Wallet::open(store)?.replace_recovery_codes().await?;
    println!("New recovery codes: write them down now, they are shown only this once.");
    println!("Every older code no longer works.");
    for code in &codes {
        println!("  {code}");
    }
    Ok(())
}

/// `inkan history [--export FILE]`: the history, verified, and written out as JSONL.
async fn export_history(store: ProfileStore, export: Option<PathBuf>) -> Result<()> {
    let mut wallet = Wallet::open(store)?;
    let (count, text) = wallet.export_history().await?;
    println!("{count} notices; the hash chain and the issuer's signatures verify.");
    if let Some(path) = export {
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("written to {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

    use super::*;

    #[test]
    fn an_issuer_key_may_begin_with_a_hyphen() {
        let cli =
            Cli::try_parse_from(["inkan", "history", "--verify", "export.jsonl", "--issuer-key", "-Kq9x"]).unwrap();
        let Command::History { issuer_key, .. } = cli.command else { panic!("not history") };
        assert_eq!(issuer_key.as_deref(), Some("-Kq9x"));
    }

    #[test]
    fn a_piped_secret_is_one_line_trimmed() {
        let mut input = "  AAAA-BBBB-CCCC-DDDD \r\n123\n".as_bytes();
        assert_eq!(secret_line(&mut input, "recovery code").unwrap(), "AAAA-BBBB-CCCC-DDDD");
        assert_eq!(secret_line(&mut input, "card security code").unwrap(), "123");
    }

    #[test]
    fn an_empty_line_or_the_end_of_input_names_the_missing_secret() {
        let empty = secret_line(&mut " \n".as_bytes(), "recovery code").unwrap_err();
        assert_eq!(empty.to_string(), "no recovery code on standard input");
        let ended = secret_line(&mut "".as_bytes(), "card security code").unwrap_err();
        assert_eq!(ended.to_string(), "no card security code on standard input");
        // The second of two secrets missing: the first was read, the second is named.
        let mut input = "4242424242424242\n".as_bytes();
        secret_line(&mut input, "card number").unwrap();
        let second = secret_line(&mut input, "card security code").unwrap_err();
        assert_eq!(second.to_string(), "no card security code on standard input");
    }

    #[test]
    fn a_secret_is_never_a_plain_argument() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["inkan"], args].concat());
        assert!(parse(&["unfreeze", "--recovery-code"]).is_ok());
        assert!(parse(&["unfreeze", "--recovery-code", "AAAA-BBBB-CCCC-DDDD"]).is_err());
        assert!(parse(&["unfreeze", "--insecure-recovery-code", "AAAA-BBBB-CCCC-DDDD"]).is_ok());
        assert!(parse(&["unfreeze", "--insecure-recovery-code", ""]).is_err());
        assert!(parse(&["freeze", "--recovery-code", "--insecure-recovery-code", "A"]).is_err());
        assert!(parse(&["card", "add", "--expiry", "12/2030", "--number", "4242424242424242"]).is_err());
        assert!(parse(&["card", "add", "--expiry", "12/2030", "--cvc", "123"]).is_err());
        assert!(parse(&["card", "verify", "card_1", "--code", "123456"]).is_err());
        assert!(parse(&["card", "verify", "card_1", "--insecure-code", "123456"]).is_ok());
    }
}
