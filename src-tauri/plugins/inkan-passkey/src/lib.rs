//! The Inkan app's passkey key on a phone, as a Tauri 2 mobile plugin.
//!
//! The Kotlin side (`android/`) keeps a P-256 key in the Android Keystore (StrongBox when the
//! phone has one) that needs a strong biometric for every use, and opens it for one signature
//! through `BiometricPrompt` with a `CryptoObject`. The Swift side (`ios/`) keeps one in the
//! Secure Enclave behind the access control `[.privateKeyUsage, .biometryCurrentSet]`. Both are
//! invalidated when a fingerprint or face is added. The Rust side is an
//! [`inkan_client::key_signer::KeySigner`] that calls them; `inkan-client`'s `PlatformPasskey`
//! builds the WebAuthn messages on it.
//!
//! **The webview cannot reach the key.** The plugin grants no permissions, so no capability can
//! allow its commands, and its invoke handler refuses every command sent to it before Tauri could
//! forward one to Kotlin or Swift. Only the app's Rust side asks the key to sign.
//!
//! On a desktop the plugin does nothing and [`InkanPasskeyExt::key_signer`] is `None`.

use inkan_client::key_signer::SharedKeySigner;
use tauri::plugin::{Builder, TauriPlugin};
use tauri::{Manager, Runtime};

#[cfg(mobile)]
#[cfg_attr(
    target_os = "ios",
    allow(unsafe_code, reason = "Tauri's ios_plugin_binding! declares the Swift entry point in an extern block")
)]
mod mobile;
mod protocol;

/// The plugin's name, as Tauri knows it.
pub const NAME: &str = "inkan-passkey";

/// This phone's key signer, managed by the plugin on Android and iOS.
#[derive(Debug, Clone)]
struct PhoneKeys(SharedKeySigner);

/// Access to this phone's key signer from the app.
pub trait InkanPasskeyExt<R: Runtime> {
    /// The phone's key signer; `None` on a desktop, or before the plugin is set up.
    fn key_signer(&self) -> Option<SharedKeySigner>;
}

impl<R: Runtime, T: Manager<R>> InkanPasskeyExt<R> for T {
    fn key_signer(&self) -> Option<SharedKeySigner> {
        self.try_state::<PhoneKeys>().map(|keys| keys.0.clone())
    }
}

/// The plugin, to give to `tauri::Builder::plugin`.
pub fn init<R: Runtime>() -> TauriPlugin<R> {
    Builder::new(NAME)
        .invoke_handler(|invoke| {
            invoke.resolver.reject("the passkey key is used only by the app itself, never from the webview");
            true
        })
        .setup(|app, api| {
            #[cfg(mobile)]
            app.manage(PhoneKeys(std::sync::Arc::new(mobile::register(api)?)));
            #[cfg(not(mobile))]
            let _ = (app, api);
            Ok(())
        })
        .build()
}
