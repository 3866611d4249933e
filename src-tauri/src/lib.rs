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
    let device_name = env("INKAN_DEVICE_NAME").or_else(host_name).unwrap_or_else(|| "This device".to_owned());
    Ok(AppConfig {
        home,
        profile: env("INKAN_PROFILE").unwrap_or_else(|| "app".to_owned()),
        defaults: Defaults { server, origin, device_name },
        passkey: passkey_choice(handle, env("INKAN_PASSKEY").as_deref())?,
    })
}

/// The device's name as the OS knows it (its host name), if it has a telling one.
fn host_name() -> Option<String> {
    let name = gethostname::gethostname().into_string().ok()?;
    let name = name.trim();
    (!name.is_empty() && name != "localhost").then(|| name.to_owned())
}

/// Where the window's size and place are kept between runs: beside the wallet's profile when
/// `INKAN_HOME` gives one (so that two profiles, or a test's, keep their own), else the app's
/// config directory.
#[cfg(desktop)]
fn window_state_file() -> PathBuf {
    const FILE: &str = "window-state.json";
    std::env::var("INKAN_HOME")
        .ok()
        .filter(|dir| !dir.trim().is_empty())
        .map_or_else(|| PathBuf::from(FILE), |dir| PathBuf::from(dir).join(FILE))
}

/// A second launch of the app: the first one's window comes to the front (and the second exits).
#[cfg(desktop)]
fn bring_to_front(handle: &AppHandle) {
    if let Some(window) = handle.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        if let Err(e) = window.set_focus() {
            tracing::warn!(error = %e, "could not bring the window to the front");
        }
    }
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

/// Every app command (`commands.rs`): their names for the capability and the TypeScript client,
/// and the handler that serves them.
macro_rules! commands {
    ($($command:ident),* $(,)?) => {
        /// The commands the webview may call, by name.
        pub const COMMANDS: &[&str] = &[$(stringify!($command)),*];

        fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($command),*]
        }
    };
}
include!("commands.rs");

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let japanese = Arc::new(AtomicBool::new(false));
    let builder = tauri::Builder::default();
    // A desktop app runs once: a second launch brings the first one's window to the front and
    // exits (two would race on the profile and its payment-code counter). Registered first, so
    // that the second instance stops before anything else starts. The window keeps its size and
    // place between runs.
    #[cfg(desktop)]
    let builder =
        builder.plugin(tauri_plugin_single_instance::init(|handle, _args, _cwd| bring_to_front(handle))).plugin(
            tauri_plugin_window_state::Builder::default()
                .with_filename(window_state_file().to_string_lossy())
                .with_state_flags(
                    tauri_plugin_window_state::StateFlags::SIZE
                        | tauri_plugin_window_state::StateFlags::POSITION
                        | tauri_plugin_window_state::StateFlags::MAXIMIZED,
                )
                .build(),
        );
    let builder = builder.plugin(tauri_plugin_notification::init());
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
        .invoke_handler(handler())
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::path::PathBuf;

    use super::COMMANDS;

    fn source(path: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
    }

    /// The webview's capability grants listening to the app's events and each command of
    /// `commands.rs` by name: nothing of Tauri's core or of a plugin besides, and no command twice
    /// or missing.
    #[test]
    fn the_capability_grants_the_commands_and_nothing_else() {
        let text = std::fs::read_to_string(source("capabilities/default.json")).unwrap();
        let capability: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(capability["windows"], serde_json::json!(["main"]));
        let granted: Vec<&str> =
            capability["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
        let mut wanted = vec!["core:event:allow-listen".to_owned(), "core:event:allow-unlisten".to_owned()];
        wanted.extend(COMMANDS.iter().map(|c| format!("allow-{}", c.replace('_', "-"))));
        assert_eq!(granted, wanted);
    }

    fn typescript() -> String {
        let mut out = String::from(
            "// Generated from src-tauri/src/commands.rs by `INKAN_BLESS=1 cargo test -p inkan-wallet commands`.\n\
             // Do not edit by hand.\n\n\
             /** The app's commands: the only ones the webview may call (src-tauri/capabilities/default.json). */\n\
             export const COMMANDS = [\n",
        );
        for command in COMMANDS {
            out.push_str(&format!("  \"{command}\",\n"));
        }
        out.push_str("] as const;\n\nexport type Command = (typeof COMMANDS)[number];\n");
        out
    }

    /// `ui/src/commands.ts`, the command names the TypeScript client may use, is this list.
    #[test]
    fn the_typescript_commands_are_current() {
        let bless = "INKAN_BLESS=1 cargo test -p inkan-wallet commands";
        inkan_testkit::generated_file_is_current(&source("../ui/src/commands.ts"), &typescript(), bless);
    }
}
