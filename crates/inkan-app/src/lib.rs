//! The wallet app without its window. Each screen's question is one method of [`App`]; what
//! happens without being asked (a charge to confirm, a notice, the connection dropping) arrives as
//! an [`AppEvent`] through the [`EventSink`] the shell gives. The Tauri shell (`src-tauri`) only
//! deserializes, calls these and forwards events, so everything here is tested without a window.
//!
//! State lives here, in Rust: the open wallet, the live feed subscription and the activity it has
//! delivered. The UI holds nothing it cannot fetch again.

mod error;
mod live;
pub mod view;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex as SyncMutex, PoisonError};

use inkan_api::wallet::AddCard;
use inkan_client::profile::ProfileStore;
use inkan_client::wallet::Server;
use inkan_client::{Wallet, device};
use inkan_core::{LimitPolicy, Money};
use tokio::sync::Mutex;
use url::Url;

pub use inkan_client::wallet::PasskeyChoice;
pub use view::*;

/// Where the app sends what happens.
pub trait EventSink: Send + Sync + 'static {
    fn emit(&self, event: AppEvent);
}

/// Where the wallet is kept, and what to prefill.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The directory of wallet profiles (`inkan_client::profile::home()` in the app).
    pub home: PathBuf,
    /// The profile the app uses (the CLI's profiles are separate unless named the same).
    pub profile: String,
    pub defaults: Defaults,
    /// The passkey new wallets on this device use.
    pub passkey: PasskeyChoice,
}

/// The app's state: the wallet on this device, once opened, and its live feed.
pub struct App {
    config: AppConfig,
    wallet: Arc<Mutex<Option<Wallet>>>,
    sink: Arc<dyn EventSink>,
    shared: Arc<live::Shared>,
    feed: SyncMutex<Option<tokio::task::JoinHandle<()>>>,
    problem: SyncMutex<Option<AppError>>,
    started: tokio::sync::OnceCell<()>,
}

/// The live feed stops with the app: it holds the wallet and its session, and would otherwise
/// follow the feed (and sign in again) for an app that no longer exists.
impl Drop for App {
    fn drop(&mut self) {
        self.stop_live();
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("config", &self.config).finish_non_exhaustive()
    }
}

type Result<T, E = AppError> = std::result::Result<T, E>;

/// A server address or passkey origin as a person types it: `https://`, or `http://` only to this
/// computer (`localhost`, `127.0.0.0/8`, `::1`), where nothing crosses a network in the clear.
fn parse_url(text: &str, what: &str) -> Result<Url> {
    let url = Url::parse(text.trim())
        .map_err(|e| AppError::invalid(format!("the {what} {text:?} is not an address: {e}")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(AppError::invalid(format!("the {what} must start with https:// (or http:// on this computer)"))),
    }
}

fn server(server: &str, origin: &str) -> Result<Server> {
    let url = parse_url(server, "server address")?;
    let origin = if origin.trim().is_empty() { url.clone() } else { parse_url(origin, "passkey origin")? };
    Ok(Server { url, origin })
}

fn required<'a>(value: &'a str, what: &str, max: usize) -> Result<&'a str> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::invalid(format!("enter {what}")));
    }
    if value.chars().count() > max {
        return Err(AppError::invalid(format!("{what} is too long (at most {max} characters)")));
    }
    Ok(value)
}

fn lock<T>(m: &SyncMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl App {
    pub fn new(config: AppConfig, sink: Arc<dyn EventSink>) -> App {
        App {
            config,
            wallet: Arc::new(Mutex::new(None)),
            sink,
            shared: Arc::new(live::Shared::default()),
            feed: SyncMutex::new(None),
            problem: SyncMutex::new(None),
            started: tokio::sync::OnceCell::new(),
        }
    }

    fn store(&self) -> Result<ProfileStore> {
        Ok(ProfileStore::new(&self.config.home, &self.config.profile)?)
    }

    /// Opens the wallet kept on this device, if any, and starts its live feed, once; later calls
    /// (and [`App::snapshot`], which waits for it) return at once. A wallet that cannot be opened
    /// (a locked keystore) is reported in [`App::snapshot`]'s `problem`; [`App::reopen`] tries again.
    pub async fn start(&self) {
        self.started.get_or_init(|| self.open()).await;
    }

    /// Tries again to open the wallet on this device (after the keystore was unlocked, say).
    pub async fn reopen(&self) -> AppSnapshot {
        self.start().await;
        if self.wallet.lock().await.is_none() {
            self.open().await;
        }
        self.snapshot().await
    }

    async fn open(&self) {
        let outcome = async {
            let store = self.store()?;
            if !store.exists() {
                return Ok(None);
            }
            Ok::<_, AppError>(Some(Wallet::open_with(store, self.config.passkey.platform_signer())?))
        }
        .await;
        match outcome {
            Ok(Some(wallet)) => {
                *self.wallet.lock().await = Some(wallet);
                *lock(&self.problem) = None;
                self.start_live();
            }
            Ok(None) => *lock(&self.problem) = None,
            Err(e) => {
                tracing::warn!(error = %e, "the wallet on this device could not be opened");
                *lock(&self.problem) = Some(e);
            }
        }
    }

    fn start_live(&self) {
        self.shared.reset();
        let task = tokio::spawn(live::run(self.wallet.clone(), self.sink.clone(), self.shared.clone()));
        if let Some(old) = lock(&self.feed).replace(task) {
            old.abort();
        }
    }

    fn stop_live(&self) {
        if let Some(task) = lock(&self.feed).take() {
            task.abort();
        }
        self.shared.reset();
    }

    pub async fn snapshot(&self) -> AppSnapshot {
        self.start().await;
        let guard = self.wallet.lock().await;
        AppSnapshot {
            profile: guard.as_ref().map(profile_view),
            online: self.shared.online.load(Ordering::SeqCst),
            problem: lock(&self.problem).clone(),
            defaults: self.config.defaults.clone(),
        }
    }

    /// Runs `op` on the open wallet.
    async fn with_wallet<T>(&self, op: impl AsyncFnOnce(&mut Wallet) -> Result<T>) -> Result<T> {
        let mut guard = self.wallet.lock().await;
        let wallet = guard.as_mut().ok_or_else(AppError::no_wallet)?;
        op(wallet).await
    }

    /// Creates a wallet: a new account, this device's key and passkey. The recovery codes are
    /// returned once and not kept.
    pub async fn enroll(&self, input: EnrollInput) -> Result<Enrolled> {
        let server = server(&input.server, &input.origin)?;
        let display_name = required(&input.display_name, "your name", 64)?;
        let device_name = required(&input.device_name, "a name for this device", 64)?;
        let mut guard = self.wallet.lock().await;
        if guard.is_some() {
            return Err(AppError::invalid("this device already holds a wallet"));
        }
        let enrollment =
            Wallet::enroll(self.store()?, server, display_name, device_name, self.config.passkey.clone()).await?;
        let profile = profile_view(&enrollment.wallet);
        *guard = Some(enrollment.wallet);
        drop(guard);
        *lock(&self.problem) = None;
        self.start_live();
        self.sink.emit(AppEvent::ProfileChanged);
        Ok(Enrolled { profile, recovery_codes: enrollment.recovery_codes })
    }

    /// This device joins an existing wallet: at once with a recovery code, or once another device
    /// approves (progress arrives as [`AppEvent::JoinProgress`]).
    pub async fn join(&self, input: JoinInput) -> Result<ProfileView> {
        let server = server(&input.server, &input.origin)?;
        let account_id = required(&input.account_id, "the wallet's account ID", 128)?;
        let device_name = required(&input.device_name, "a name for this device", 64)?;
        let recovery_code = Some(input.recovery_code.trim().to_owned()).filter(|c| !c.is_empty());
        if self.wallet.lock().await.is_some() {
            return Err(AppError::invalid("this device already holds a wallet"));
        }
        let sink = self.sink.clone();
        let wallet = Wallet::join(
            self.store()?,
            server,
            account_id,
            device_name,
            recovery_code,
            self.config.passkey.clone(),
            move |join| sink.emit(AppEvent::JoinProgress { join: JoinView::from(join.clone()) }),
        )
        .await?;
        let profile = profile_view(&wallet);
        *self.wallet.lock().await = Some(wallet);
        *lock(&self.problem) = None;
        self.start_live();
        self.sink.emit(AppEvent::ProfileChanged);
        Ok(profile)
    }

    /// Freezes a wallet from a device that is not part of it (a lost phone), with a recovery code.
    pub async fn freeze_with_recovery_code(&self, input: RecoveryFreezeInput) -> Result<()> {
        let url = parse_url(&input.server, "server address")?;
        let account_id = required(&input.account_id, "the wallet's account ID", 128)?;
        let code = required(&input.recovery_code, "a recovery code", 64)?;
        let api = inkan_client::api::Api::new(url)?;
        Ok(api.freeze_with_recovery_code(account_id, code).await?)
    }

    pub async fn status(&self) -> Result<WalletView> {
        self.with_wallet(async |w| {
            let state = w.status().await?;
            let now = w.api().server_now();
            Ok(WalletView {
                display_name: state.display_name,
                balance: state.balance.into(),
                frozen: state.frozen,
                held: state.held,
                limits: LimitsView::new(state.limits, now),
            })
        })
        .await
    }

    /// A new payment code. Works offline: it is signed here, on the server's clock last seen.
    pub async fn payment_code(&self) -> Result<PaymentCodeView> {
        self.with_wallet(async |w| {
            let code = w.payment_code()?.text();
            let svg = inkan_qr::render_svg(&code).map_err(|e| AppError::new(DeviceErrorCode::Qr, e.to_string()))?;
            let qr_version = inkan_qr::version(&code).map_err(|e| AppError::new(DeviceErrorCode::Qr, e.to_string()))?;
            let millis = |d: time::Duration| u32::try_from(d.whole_milliseconds()).unwrap_or(u32::MAX);
            Ok(PaymentCodeView {
                text: code,
                svg,
                qr_version,
                refresh_in_ms: millis(device::REFRESH),
                expires_in_ms: millis(device::LIFETIME),
            })
        })
        .await
    }

    /// Charges waiting for this wallet's answer.
    pub async fn pending(&self) -> Result<Vec<ChargeView>> {
        self.with_wallet(async |w| Ok(w.pending().await?.into_iter().map(|p| ChargeView::from(p.charge)).collect()))
            .await
    }

    /// Pays a waiting charge with the passkey (the assertion is bound to exactly this charge).
    pub async fn approve(&self, charge_id: &str) -> Result<ChargeView> {
        // As the feed pushed it, with its passkey request: no request before the passkey's. A
        // charge the feed did not bring (it was offline) is fetched.
        let pushed = self.shared.waiting(charge_id);
        let paid = self
            .with_wallet(async |w| {
                let pending = match pushed {
                    Some(pending) => pending,
                    None => w.pending_charge(charge_id).await?,
                };
                Ok(w.approve(&pending).await?.into())
            })
            .await?;
        self.shared.forget_waiting(charge_id);
        Ok(paid)
    }

    /// Declines a waiting charge; `not_me` also freezes the wallet, in the same step.
    pub async fn decline(&self, charge_id: &str, not_me: bool) -> Result<ChargeView> {
        self.with_wallet(async |w| Ok(w.decline(charge_id, not_me).await?.into())).await
    }

    /// The activity the live feed has delivered, newest first.
    pub fn activity(&self) -> Vec<ActivityItem> {
        self.shared.activity()
    }

    /// Writes the whole history, checked link by link and against the issuer's signatures, to a
    /// file in `dir` (one notice per line: `inkan history --verify` checks it offline).
    pub async fn export_history(&self, dir: &Path) -> Result<ExportView> {
        let (events, text) = self.with_wallet(async |w| Ok(w.export_history().await?)).await?;
        let stamp = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!("[year][month][day]-[hour][minute][second]"))
            .map_err(|e| AppError::new(DeviceErrorCode::Export, e.to_string()))?;
        std::fs::create_dir_all(dir)
            .map_err(|e| AppError::new(DeviceErrorCode::Export, format!("could not make {}: {e}", dir.display())))?;
        let path = dir.join(format!("inkan-history-{stamp}.jsonl"));
        std::fs::write(&path, text)
            .map_err(|e| AppError::new(DeviceErrorCode::Export, format!("could not write {}: {e}", path.display())))?;
        Ok(ExportView { path: path.display().to_string(), events })
    }

    /// Lowers at once; a raise asks for the passkey and applies after the cooling-off.
    pub async fn set_limits(&self, input: LimitsInput) -> Result<LimitsView> {
        let policy = LimitPolicy::new(Money::yen(input.per_charge), Money::yen(input.daily), Money::yen(input.monthly))
            .map_err(|e| AppError::invalid(e.to_string()))?;
        self.with_wallet(async |w| {
            let limits = w.set_limits(policy).await?;
            Ok(LimitsView::new(limits, w.api().server_now()))
        })
        .await
    }

    pub async fn devices(&self) -> Result<Vec<DeviceView>> {
        self.with_wallet(async |w| {
            let mine = w.profile().device_id.clone();
            Ok(w.devices()
                .await?
                .into_iter()
                .map(|d| DeviceView {
                    this_device: d.id == mine,
                    id: d.id,
                    name: d.name,
                    active: d.active,
                    enrolled_at: timestamp(d.enrolled_at),
                    passkey_added_at: d.passkey_added_at.map(timestamp),
                })
                .collect())
        })
        .await
    }

    pub async fn revoke_device(&self, device_id: &str) -> Result<()> {
        self.with_wallet(async |w| {
            if w.profile().device_id == device_id {
                return Err(AppError::invalid(
                    "this is the device you are using: revoke it from another device, or remove the wallet from this one",
                ));
            }
            Ok(w.revoke_device(device_id).await?)
        })
        .await
    }

    pub async fn waiting_joins(&self) -> Result<Vec<JoinView>> {
        self.with_wallet(async |w| Ok(w.waiting_joins().await?.into_iter().map(JoinView::from).collect())).await
    }

    /// Lets a waiting device in, confirmed with the passkey.
    pub async fn approve_join(&self, join_id: &str) -> Result<JoinView> {
        self.with_wallet(async |w| Ok(w.approve_join(join_id).await?.into())).await
    }

    pub async fn freeze(&self) -> Result<()> {
        self.with_wallet(async |w| Ok(w.freeze().await?)).await
    }

    /// Unfreezes, confirmed with the passkey (only a device in the wallet for 72 hours, and since
    /// before its latest join, may: `unfreeze_not_allowed` otherwise).
    pub async fn unfreeze(&self) -> Result<()> {
        self.with_wallet(async |w| Ok(w.unfreeze().await?)).await
    }

    /// Unfreezes with a recovery code (used up).
    pub async fn unfreeze_with_recovery_code(&self, recovery_code: &str) -> Result<()> {
        let code = required(recovery_code, "a recovery code", 64)?.to_owned();
        self.with_wallet(async |w| Ok(w.unfreeze_with_recovery_code(&code).await?)).await
    }

    /// Ten new recovery codes, confirmed with the passkey; the old ones stop working. The app shows
    /// them once and keeps none.
    pub async fn replace_recovery_codes(&self) -> Result<Vec<String>> {
        self.with_wallet(async |w| Ok(w.replace_recovery_codes().await?)).await
    }

    /// Closes the wallet for good, confirmed with the passkey: its balance is paid back to the
    /// first card that topped the wallet up, and no payment can be made from it again.
    pub async fn close_wallet(&self) -> Result<ClosedView> {
        self.with_wallet(async |w| Ok(w.close().await?.into())).await
    }

    pub async fn cards(&self) -> Result<Vec<CardView>> {
        self.with_wallet(async |w| Ok(w.cards().await?.into_iter().map(CardView::from).collect())).await
    }

    pub async fn add_card(&self, input: CardInput) -> Result<CardView> {
        let card =
            AddCard { number: input.number, exp_month: input.exp_month, exp_year: input.exp_year, cvc: input.cvc };
        self.with_wallet(async |w| Ok(w.add_card(card).await?.into())).await
    }

    pub async fn verify_card(&self, card_id: &str, code: &str) -> Result<CardView> {
        self.with_wallet(async |w| Ok(w.verify_card(card_id, code.trim()).await?.into())).await
    }

    pub async fn top_up(&self, card_id: &str, amount: i64) -> Result<TopUpView> {
        if amount <= 0 {
            return Err(AppError::invalid("enter an amount of at least ¥1"));
        }
        self.with_wallet(async |w| {
            let done = w.top_up(card_id, Money::yen(amount)).await?;
            let pending = done.status == inkan_api::wallet::TopUpStatus::Pending;
            Ok(TopUpView { amount: done.amount.into(), balance: done.balance.into(), pending })
        })
        .await
    }

    /// Ends this device's session (the wallet stays; the passkey signs in again when needed).
    pub async fn sign_out(&self) -> Result<()> {
        self.stop_live();
        let outcome = self.with_wallet(async |w| Ok(w.sign_out().await?)).await;
        self.sink.emit(AppEvent::Connection { online: false, detail: Some("signed out".into()) });
        outcome
    }

    /// Signs in again after [`App::sign_out`] and restarts the live feed.
    pub async fn sign_in(&self) -> Result<()> {
        self.with_wallet(async |w| Ok(w.sign_in().await?)).await?;
        self.start_live();
        Ok(())
    }

    /// Removes the wallet from this device: its profile and every key in the keystore. The wallet
    /// itself lives on (other devices, recovery codes).
    pub async fn forget(&self) -> Result<()> {
        self.stop_live();
        let mut guard = self.wallet.lock().await;
        let wallet = guard.take().ok_or_else(AppError::no_wallet)?;
        let mut wallet = wallet;
        let _ = wallet.sign_out().await;
        wallet.forget()?;
        drop(guard);
        self.sink.emit(AppEvent::ProfileChanged);
        Ok(())
    }
}

fn profile_view(wallet: &Wallet) -> ProfileView {
    let p = wallet.profile();
    ProfileView {
        account_id: p.account_id.clone(),
        device_id: p.device_id.clone(),
        display_name: p.display_name.clone(),
        server: p.server.to_string(),
        passkey: wallet.authenticator_description().to_owned(),
        insecure_passkey: p.passkey == inkan_client::profile::PasskeyKind::InsecureSoftPasskey,
    }
}

#[cfg(test)]
mod bindings;

#[cfg(test)]
mod tests {
    use super::{DeviceErrorCode, parse_url};

    #[test]
    fn plain_http_is_only_for_this_computer() {
        for good in [
            "https://inkan.example",
            "https://192.0.2.10:8443/",
            "http://localhost:8080",
            "http://LOCALHOST:8080",
            "  http://127.0.0.1:8080  ",
            "http://127.8.9.10",
            "http://[::1]:8080",
        ] {
            assert!(parse_url(good, "server address").is_ok(), "{good} was refused");
        }
        for bad in [
            "http://inkan.example",
            "http://192.168.1.20:8080",
            "http://10.0.0.1",
            "http://localhost.evil.example",
            "http://[2001:db8::1]",
            "ftp://localhost",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "inkan.example",
            "",
        ] {
            let error = parse_url(bad, "server address").expect_err(bad);
            assert_eq!(error.code, DeviceErrorCode::InvalidInput, "{bad}");
            assert!(
                error.message.contains("https://") || error.message.contains("not an address"),
                "{bad}: {}",
                error.message
            );
        }
    }
}
