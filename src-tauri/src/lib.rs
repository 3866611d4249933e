//! The Inkan wallet app: a thin Tauri 2 shell. Each command deserializes its arguments, calls
//! [`inkan_app::App`] and returns its result or its `{code, message}` error; what happens without
//! being asked reaches the window as the event `inkan://event`. All behaviour lives in `inkan-app`,
//! where it is tested without a window.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use inkan_app::{
    ActivityItem, App, AppConfig, AppError, AppEvent, AppSnapshot, CardInput, CardView, ChargeView, ClosedView,
    Defaults, DeviceView, EnrollInput, Enrolled, EventSink, ExportView, JoinInput, JoinView, LimitsInput, LimitsView,
    PaymentCodeView, ProfileView, RecoveryFreezeInput, TopUpView, WalletView,
};
use tauri::{AppHandle, Emitter, Manager, State};
use tauri_plugin_inkan_passkey::InkanPasskeyExt;
use tauri_plugin_notification::NotificationExt;

/// The event every [`AppEvent`] is sent as.
pub const EVENT: &str = "inkan://event";

type Shared<'a> = State<'a, Arc<App>>;
type Reply<T> = Result<T, AppError>;

/// Sends app events to the window, and a system notification for a charge to confirm when the
/// window is not in front.
struct WindowSink {
    handle: AppHandle,
    japanese: Arc<AtomicBool>,
}

impl EventSink for WindowSink {
    fn emit(&self, event: AppEvent) {
        if let AppEvent::ChargePending { charge } = &event {
            let in_front = self.handle.get_webview_window("main").and_then(|w| w.is_focused().ok()).unwrap_or(false);
            tracing::debug!(charge = %charge.id, in_front, "a charge to confirm");
            if !in_front {
                self.notify(charge);
            }
        }
        if let Err(e) = self.handle.emit(EVENT, &event) {
            tracing::warn!(error = %e, "could not send an event to the window");
        }
    }
}

impl WindowSink {
    fn notify(&self, charge: &ChargeView) {
        let (title, body) = if self.japanese.load(Ordering::Relaxed) {
            (
                "お支払いの確認",
                format!("{}：{}。Inkan で承認または拒否してください。", charge.merchant_name, charge.amount.ja),
            )
        } else {
            (
                "Confirm a payment",
                format!("{} asks for {}. Open Inkan to approve or decline.", charge.merchant_name, charge.amount.en),
            )
        };
        if let Err(e) = self.handle.notification().builder().title(title).body(body).show() {
            tracing::warn!(error = %e, "could not show a system notification");
        }
    }
}

/// Where downloads go on this device (the history export).
fn export_dir(handle: &AppHandle) -> PathBuf {
    let paths = handle.path();
    paths
        .download_dir()
        .or_else(|_| paths.document_dir())
        .or_else(|_| paths.app_data_dir())
        .unwrap_or_else(|_| std::env::temp_dir())
}

fn config(handle: &AppHandle) -> Result<AppConfig, Box<dyn std::error::Error>> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let home = match env("INKAN_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => handle.path().app_config_dir()?,
    };
    let server = env("INKAN_SERVER").unwrap_or_else(|| "http://localhost:8080".to_owned());
    let origin = env("INKAN_ORIGIN").unwrap_or_else(|| server.clone());
    let device_name = env("INKAN_DEVICE_NAME")
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()).filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "This device".to_owned());
    Ok(AppConfig {
        home,
        profile: env("INKAN_PROFILE").unwrap_or_else(|| "app".to_owned()),
        defaults: Defaults { server, origin, device_name },
        passkey: passkey_choice(handle, env("INKAN_PASSKEY").as_deref())?,
    })
}

/// The passkey new wallets on this device use: `platform` (the phone's own: a key in its secure
/// hardware, unlocked by a biometric; the default on a phone), `soft` (the insecure software
/// passkey, for demos; the default on a desktop), or `security-key` (a FIDO2 key over USB, in
/// builds with feature `usb`).
fn passkey_choice(
    handle: &AppHandle,
    name: Option<&str>,
) -> Result<inkan_app::PasskeyChoice, Box<dyn std::error::Error>> {
    use inkan_app::PasskeyChoice as P;
    let default = if cfg!(mobile) { "platform" } else { "soft" };
    match name.unwrap_or(default) {
        "platform" => handle.key_signer().map(P::Platform).ok_or_else(|| {
            "INKAN_PASSKEY=platform: only a phone has a platform passkey here; use `soft` or `security-key`".into()
        }),
        "soft" => Ok(P::InsecureSoftPasskey),
        "security-key" => Ok(P::SecurityKey),
        other => Err(format!("INKAN_PASSKEY={other:?}: use `platform`, `soft` or `security-key`").into()),
    }
}

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let japanese = Arc::new(AtomicBool::new(false));
    let builder = tauri::Builder::default().plugin(tauri_plugin_notification::init());
    // The phone's passkey key; set up before `setup` below asks for it.
    #[cfg(mobile)]
    let builder = builder.plugin(tauri_plugin_inkan_passkey::init());
    let result = builder
        .manage(japanese.clone())
        .setup(move |tauri_app| {
            let handle = tauri_app.handle().clone();
            let sink = Arc::new(WindowSink { handle: handle.clone(), japanese });
            let app = Arc::new(App::new(config(&handle)?, sink));
            tauri_app.manage(app.clone());
            tauri::async_runtime::spawn(async move { app.start().await });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            snapshot,
            reopen,
            enroll,
            join,
            freeze_with_recovery_code,
            status,
            payment_code,
            pending,
            approve,
            decline,
            activity,
            export_history,
            set_limits,
            devices,
            revoke_device,
            waiting_joins,
            approve_join,
            freeze,
            unfreeze,
            unfreeze_with_recovery_code,
            replace_recovery_codes,
            close_wallet,
            cards,
            add_card,
            verify_card,
            top_up,
            sign_out,
            sign_in,
            forget,
            set_locale,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        tracing::error!(error = %e, "the app stopped with an error");
        std::process::exit(1);
    }
}

#[tauri::command(rename_all = "snake_case")]
async fn snapshot(app: Shared<'_>) -> Reply<AppSnapshot> {
    Ok(app.snapshot().await)
}

#[tauri::command(rename_all = "snake_case")]
async fn reopen(app: Shared<'_>) -> Reply<AppSnapshot> {
    Ok(app.reopen().await)
}

#[tauri::command(rename_all = "snake_case")]
async fn enroll(app: Shared<'_>, input: EnrollInput) -> Reply<Enrolled> {
    app.enroll(input).await
}

#[tauri::command(rename_all = "snake_case")]
async fn join(app: Shared<'_>, input: JoinInput) -> Reply<ProfileView> {
    app.join(input).await
}

#[tauri::command(rename_all = "snake_case")]
async fn freeze_with_recovery_code(app: Shared<'_>, input: RecoveryFreezeInput) -> Reply<()> {
    app.freeze_with_recovery_code(input).await
}

#[tauri::command(rename_all = "snake_case")]
async fn status(app: Shared<'_>) -> Reply<WalletView> {
    app.status().await
}

#[tauri::command(rename_all = "snake_case")]
async fn payment_code(app: Shared<'_>) -> Reply<PaymentCodeView> {
    app.payment_code().await
}

#[tauri::command(rename_all = "snake_case")]
async fn pending(app: Shared<'_>) -> Reply<Vec<ChargeView>> {
    app.pending().await
}

#[tauri::command(rename_all = "snake_case")]
async fn approve(app: Shared<'_>, charge_id: String) -> Reply<ChargeView> {
    app.approve(&charge_id).await
}

#[tauri::command(rename_all = "snake_case")]
async fn decline(app: Shared<'_>, charge_id: String, not_me: bool) -> Reply<ChargeView> {
    app.decline(&charge_id, not_me).await
}

#[tauri::command(rename_all = "snake_case")]
async fn activity(app: Shared<'_>) -> Reply<Vec<ActivityItem>> {
    Ok(app.activity())
}

#[tauri::command(rename_all = "snake_case")]
async fn export_history(handle: AppHandle, app: Shared<'_>) -> Reply<ExportView> {
    app.export_history(&export_dir(&handle)).await
}

#[tauri::command(rename_all = "snake_case")]
async fn set_limits(app: Shared<'_>, input: LimitsInput) -> Reply<LimitsView> {
    app.set_limits(input).await
}

#[tauri::command(rename_all = "snake_case")]
async fn devices(app: Shared<'_>) -> Reply<Vec<DeviceView>> {
    app.devices().await
}

#[tauri::command(rename_all = "snake_case")]
async fn revoke_device(app: Shared<'_>, device_id: String) -> Reply<()> {
    app.revoke_device(&device_id).await
}

#[tauri::command(rename_all = "snake_case")]
async fn waiting_joins(app: Shared<'_>) -> Reply<Vec<JoinView>> {
    app.waiting_joins().await
}

#[tauri::command(rename_all = "snake_case")]
async fn approve_join(app: Shared<'_>, join_id: String) -> Reply<JoinView> {
    app.approve_join(&join_id).await
}

#[tauri::command(rename_all = "snake_case")]
async fn freeze(app: Shared<'_>) -> Reply<()> {
    app.freeze().await
}

#[tauri::command(rename_all = "snake_case")]
async fn unfreeze(app: Shared<'_>) -> Reply<()> {
    app.unfreeze().await
}

#[tauri::command(rename_all = "snake_case")]
async fn unfreeze_with_recovery_code(app: Shared<'_>, recovery_code: String) -> Reply<()> {
    app.unfreeze_with_recovery_code(&recovery_code).await
}

#[tauri::command(rename_all = "snake_case")]
async fn replace_recovery_codes(app: Shared<'_>) -> Reply<Vec<String>> {
    app.replace_recovery_codes().await
}

#[tauri::command(rename_all = "snake_case")]
async fn close_wallet(app: Shared<'_>) -> Reply<ClosedView> {
    app.close_wallet().await
}

#[tauri::command(rename_all = "snake_case")]
async fn cards(app: Shared<'_>) -> Reply<Vec<CardView>> {
    app.cards().await
}

#[tauri::command(rename_all = "snake_case")]
async fn add_card(app: Shared<'_>, input: CardInput) -> Reply<CardView> {
    app.add_card(input).await
}

#[tauri::command(rename_all = "snake_case")]
async fn verify_card(app: Shared<'_>, card_id: String, code: String) -> Reply<CardView> {
    app.verify_card(&card_id, &code).await
}

#[tauri::command(rename_all = "snake_case")]
async fn top_up(app: Shared<'_>, card_id: String, amount: i64) -> Reply<TopUpView> {
    app.top_up(&card_id, amount).await
}

#[tauri::command(rename_all = "snake_case")]
async fn sign_out(app: Shared<'_>) -> Reply<()> {
    app.sign_out().await
}

#[tauri::command(rename_all = "snake_case")]
async fn sign_in(app: Shared<'_>) -> Reply<()> {
    app.sign_in().await
}

#[tauri::command(rename_all = "snake_case")]
async fn forget(app: Shared<'_>) -> Reply<()> {
    app.forget().await
}

#[tauri::command(rename_all = "snake_case")]
fn set_locale(japanese: State<'_, Arc<AtomicBool>>, locale: String) -> Reply<()> {
    match locale.as_str() {
        "ja" => japanese.store(true, Ordering::Relaxed),
        "en" => japanese.store(false, Ordering::Relaxed),
        other => return Err(AppError::invalid(format!("unknown language {other:?}: use ja or en"))),
    }
    Ok(())
}
