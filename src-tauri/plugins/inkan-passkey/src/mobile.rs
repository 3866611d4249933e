//! On a phone: [`KeySigner`] over the Kotlin or Swift plugin. Each call blocks until the native
//! side answers (for `sign`, until the person has answered the biometric prompt), so it must not
//! be made on the main thread; `PlatformPasskey` calls it from a tokio worker, moved off the
//! runtime's async work while it waits.

use inkan_client::key_signer::{KeyAlias, KeySigner, KeySignerError, Prompt, PublicKeySec1};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use tauri::Runtime;
use tauri::plugin::mobile::PluginInvokeError;
use tauri::plugin::{PluginApi, PluginHandle};

use crate::protocol::{self, CreatedKey, KeyRequest, SignRequest, Signed};

/// The Kotlin package of `PasskeyPlugin`.
#[cfg(target_os = "android")]
const ANDROID_PACKAGE: &str = "jp.inkan.passkey";

// The Swift plugin's C entry point (`@_cdecl("init_plugin_inkan_passkey")`). The binding is a
// private `unsafe fn` over an `extern` block, so it lives here, where it is used; `lib.rs` allows
// `unsafe_code` for this module on iOS only.
#[cfg(target_os = "ios")]
tauri::ios_plugin_binding!(init_plugin_inkan_passkey);

/// The phone's key store, through the native plugin.
pub(crate) struct PhoneKeySigner<R: Runtime>(PluginHandle<R>);

impl<R: Runtime> std::fmt::Debug for PhoneKeySigner<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PhoneKeySigner")
    }
}

/// Registers the native plugin (Kotlin class or Swift object) with Tauri.
pub(crate) fn register<R: Runtime, C: DeserializeOwned>(
    api: PluginApi<R, C>,
) -> Result<PhoneKeySigner<R>, PluginInvokeError> {
    #[cfg(target_os = "android")]
    let handle = api.register_android_plugin(ANDROID_PACKAGE, "PasskeyPlugin")?;
    #[cfg(target_os = "ios")]
    let handle = api.register_ios_plugin(init_plugin_inkan_passkey)?;
    Ok(PhoneKeySigner(handle))
}

impl<R: Runtime> PhoneKeySigner<R> {
    fn call<T: DeserializeOwned>(&self, command: &str, payload: impl Serialize) -> Result<T, KeySignerError> {
        self.0.run_mobile_plugin(command, payload).map_err(|e| match e {
            PluginInvokeError::InvokeRejected(rejection) => {
                protocol::rejected(rejection.code.as_deref(), rejection.message.as_deref())
            }
            other => KeySignerError::Platform { detail: other.to_string() },
        })
    }
}

impl<R: Runtime> KeySigner for PhoneKeySigner<R> {
    fn create_key(&self, alias: &KeyAlias) -> Result<PublicKeySec1, KeySignerError> {
        self.call::<CreatedKey>(protocol::CREATE_KEY, KeyRequest::new(alias))?.public_key()
    }

    fn sign(&self, alias: &KeyAlias, message: &[u8], prompt: &Prompt) -> Result<Vec<u8>, KeySignerError> {
        self.call::<Signed>(protocol::SIGN, SignRequest::new(alias, message, prompt))?.signature()
    }

    fn delete_key(&self, alias: &KeyAlias) -> Result<(), KeySignerError> {
        self.call::<IgnoredAny>(protocol::DELETE_KEY, KeyRequest::new(alias)).map(|_| ())
    }

    fn describe(&self) -> &'static str {
        if cfg!(target_os = "ios") {
            "this iPhone's passkey: a key in the Secure Enclave, unlocked by Face ID or Touch ID"
        } else {
            "this phone's passkey: a key in the Android Keystore, unlocked by your fingerprint or face"
        }
    }
}
