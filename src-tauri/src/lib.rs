//! The Inkan wallet app: a thin Tauri 2 shell. Each command deserializes its arguments, calls
//! [`inkan_app::App`] and returns its result or its `{code, message}` error; what happens without
//! being asked reaches the window as the event `inkan://event`. All behaviour lives in `inkan-app`,
//! where it is tested without a window.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

mod serve;

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
pub(crate) type Reply<T> = Result<T, AppError>;

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
pub(crate) fn export_dir(handle: &AppHandle) -> PathBuf {
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

/// What a command's function in `serve` is given besides the webview's arguments.
pub(crate) struct Context<'a> {
    pub app: &'a App,
    pub handle: &'a AppHandle,
    /// Whether system notifications are in Japanese.
    pub japanese: &'a AtomicBool,
}

/// Every app command (`commands.rs`): their names for the capability and the TypeScript client,
/// the Tauri command of each (its JSON arguments named as the list names them, handed to the
/// function of the same name in `serve`), and the handler that serves them.
macro_rules! commands {
    ($($command:ident ( $($arg:ident : $ty:ty),* ) -> $answer:ty),* $(,)?) => {
        /// The commands the webview may call, by name.
        pub const COMMANDS: &[&str] = &[$(stringify!($command)),*];

        $(
            #[tauri::command(rename_all = "snake_case")]
            async fn $command(
                app: Shared<'_>,
                handle: AppHandle,
                japanese: State<'_, Arc<AtomicBool>>,
                $($arg: $ty),*
            ) -> Reply<$answer> {
                serve::$command(Context { app: &app, handle: &handle, japanese: &japanese }, $($arg),*).await
            }
        )*

        fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($command),*]
        }

        /// Each command's name, its arguments' names and TypeScript types, and its answer's
        /// TypeScript type (for `ui/src/commands.ts`).
        #[cfg(test)]
        fn signatures(cfg: &ts_rs::Config) -> Vec<(&'static str, Vec<(&'static str, String)>, String)> {
            vec![$((
                stringify!($command),
                vec![$((stringify!($arg), <$ty as ts_rs::TS>::name(cfg))),*],
                <$answer as ts_rs::TS>::name(cfg),
            )),*]
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
        // serde_json sends i64 as a JSON number; yen amounts stay far below 2^53 (as `bindings.ts`).
        let cfg = ts_rs::Config::new().with_large_int("number");
        let signatures = super::signatures(&cfg);
        // The types named, imported from `bindings.ts` (generated from the same Rust types).
        let mut named: Vec<&str> = signatures
            .iter()
            .flat_map(|(_, args, answer)| args.iter().map(|(_, ty)| ty.as_str()).chain([answer.as_str()]))
            .flat_map(|ty| ty.split(|c: char| !c.is_ascii_alphanumeric()))
            .filter(|word| word.starts_with(|c: char| c.is_ascii_uppercase()) && *word != "Array")
            .collect();
        named.sort_unstable();
        named.dedup();
        let mut out = format!(
            "// Generated from src-tauri/src/commands.rs by `INKAN_BLESS=1 cargo test -p inkan-wallet commands`.\n\
             // Do not edit by hand.\n\n\
             import type {{ {} }} from \"./bindings\";\n\n\
             /** The app's commands: the only ones the webview may call (src-tauri/capabilities/default.json). */\n\
             export const COMMANDS = [\n",
            named.join(", ")
        );
        for (command, _, _) in &signatures {
            out.push_str(&format!("  \"{command}\",\n"));
        }
        out.push_str("] as const;\n\nexport type Command = (typeof COMMANDS)[number];\n\n");
        out.push_str("/** What each command takes (JSON names, as the Rust arguments) and answers. */\n");
        out.push_str("export interface Commands {\n");
        for (command, args, answer) in &signatures {
            let args: Vec<String> = args.iter().map(|(name, ty)| format!("{name}: {ty}")).collect();
            let args = if args.is_empty() { "null".to_owned() } else { format!("{{ {} }}", args.join("; ")) };
            // `()` arrives as `null`; the client reads it as nothing.
            let answer = if answer == "null" { "void" } else { answer.as_str() };
            out.push_str(&format!("  {command}: {{ args: {args}; answer: {answer} }};\n"));
        }
        out.push_str("}\n");
        out
    }

    /// `ui/src/commands.ts`, the commands the TypeScript client may call and their arguments and
    /// answers, is this list.
    #[test]
    fn the_typescript_commands_are_current() {
        let bless = "INKAN_BLESS=1 cargo test -p inkan-wallet commands";
        inkan_testkit::generated_file_is_current(&source("../ui/src/commands.ts"), &typescript(), bless);
    }
}
