//! Secrets (a device's PKCS#8 key, a software passkey's state) kept in the OS keystore and only
//! there: Secret Service on Linux, the Keychain on macOS and iOS, Credential Manager on Windows,
//! the Android Keystore on Android.
//!
//! ```no_run
//! # fn main() -> Result<(), inkan_keystore::KeystoreError> {
//! let keystore = inkan_keystore::Keystore::open("inkan:default")?;
//! keystore.put("device-key", b"\x30\x81\x87")?;
//! let key = keystore.get("device-key")?; // `None` if it was never put
//! keystore.delete("device-key")?;
//! # Ok(())
//! # }
//! ```
//!
//! There is no fallback: when the OS keystore cannot be reached or is locked, every call fails with
//! an error that tells the person what to do. A wallet key written to a file "for now" would stay
//! there.
//!
//! Secrets never print: they go in as `&[u8]`, come out in a buffer that is wiped on drop, and no
//! error carries them (keyring-core's `BadEncoding` and `BadDataFormat` hold the raw bytes, so they
//! are wiped here and never kept as a `source`).

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use keyring_core::api::CredentialStore;
use keyring_core::{Entry, Error as StoreError};
use zeroize::{Zeroize, Zeroizing};

/// Why the OS keystore could not do what was asked. Messages are meant for the person at the
/// screen and say what to do; none contains a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// There is no OS keystore to talk to (on Linux: no session bus, or no Secret Service on it).
    #[error(
        "no OS keystore is reachable ({detail}). On Linux, Inkan keeps its keys in the Secret \
         Service: start a desktop session, or gnome-keyring, and try again. Inkan never falls back \
         to a file"
    )]
    Unavailable {
        /// What the platform said, for the person who debugs it.
        detail: String,
    },
    /// The keystore is there but locked, or it refused access (a dismissed unlock prompt, an
    /// access rule).
    #[error(
        "the OS keystore is locked or refused access to {name:?} ({detail}); unlock your keyring \
         (or allow Inkan when asked) and try again"
    )]
    Locked {
        /// The secret's name.
        name: String,
        /// What the platform said.
        detail: String,
    },
    /// The secret is bigger than this platform's keystore holds (Windows: 2560 bytes).
    #[error("the secret for {name:?} is {len} bytes; this OS keystore holds at most {limit}")]
    TooLarge {
        /// The secret's name.
        name: String,
        /// The secret's length in bytes.
        len: usize,
        /// The platform's limit in bytes.
        limit: u32,
    },
    /// What is stored under this name is not something this keystore can read back.
    #[error(
        "the OS keystore item {name:?} is damaged or was not written by Inkan; delete it and set \
         this up again"
    )]
    Corrupt {
        /// The secret's name.
        name: String,
    },
    /// More than one keystore item answers to this name (written by another program, or by hand).
    #[error(
        "{count} OS keystore items match {name:?} in {service:?}; remove the extra ones with \
         your keyring app"
    )]
    Ambiguous {
        /// The keystore's service.
        service: String,
        /// The secret's name.
        name: String,
        /// How many items match.
        count: usize,
    },
    /// A service or secret name that no keystore accepts (empty, control characters, too long).
    #[error("{what} {value:?} is not a valid keystore name: {reason}")]
    InvalidName {
        /// `"service"` or `"name"`.
        what: &'static str,
        /// The rejected name.
        value: String,
        /// Why.
        reason: String,
    },
    /// Anything else the platform reported.
    #[error("the OS keystore failed to {action} {name:?}: {detail}")]
    Failed {
        /// `"store"`, `"read"` or `"delete"`.
        action: &'static str,
        /// The secret's name.
        name: String,
        /// What the platform said.
        detail: String,
    },
}

/// Secrets under one service name (for example `"inkan:<profile>"`) in the OS keystore.
///
/// Cheap to clone; all clones share one connection to the platform's keystore.
#[derive(Clone)]
pub struct Keystore {
    service: String,
    store: Arc<CredentialStore>,
}

impl fmt::Debug for Keystore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keystore").field("service", &self.service).finish_non_exhaustive()
    }
}

/// Long enough for `inkan:<profile>` and descriptive secret names; short enough for every
/// platform's attribute limits (Windows allows 32767 characters in a target name, Android and
/// Apple more).
const MAX_NAME_LEN: usize = 256;

impl Keystore {
    /// Connects to the OS keystore (once per process; later calls share the connection) and
    /// returns a handle to the secrets under `service`.
    ///
    /// Fails with [`KeystoreError::Unavailable`] when there is no keystore to talk to; a failed
    /// attempt is not remembered, so calling again after starting the keyring works.
    pub fn open(service: &str) -> Result<Keystore, KeystoreError> {
        check_name("service", service)?;
        Ok(Keystore { service: service.to_owned(), store: shared_store()? })
    }

    /// The service name this handle was opened with.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Stores `secret` under `name`, replacing what was there.
    pub fn put(&self, name: &str, secret: &[u8]) -> Result<(), KeystoreError> {
        let entry = self.entry(name)?;
        entry.set_secret(secret).map_err(|e| self.map_error("store", name, Some(secret.len()), e))
    }

    /// The secret stored under `name`, or `None` if there is none.
    pub fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeystoreError> {
        let entry = self.entry(name)?;
        match entry.get_secret() {
            Ok(secret) => Ok(Some(Zeroizing::new(secret))),
            Err(StoreError::NoEntry) => Ok(None),
            Err(e) => Err(self.map_error("read", name, None, e)),
        }
    }

    /// Deletes the secret stored under `name`. Deleting what is not there is not an error, so that
    /// a cleanup that was interrupted can simply run again.
    pub fn delete(&self, name: &str) -> Result<(), KeystoreError> {
        let entry = self.entry(name)?;
        match entry.delete_credential() {
            Ok(()) | Err(StoreError::NoEntry) => Ok(()),
            Err(e) => Err(self.map_error("delete", name, None, e)),
        }
    }

    fn entry(&self, name: &str) -> Result<Entry, KeystoreError> {
        check_name("name", name)?;
        // Built from our own store, not keyring-core's process-wide default: another crate in the
        // process setting a different default (a mock, a file-backed sample store) must not be
        // able to redirect wallet secrets.
        self.store.build(&self.service, name, None).map_err(|e| self.map_error("open", name, None, e))
    }

    /// keyring-core's errors, mapped one by one to what the person should do.
    fn map_error(&self, action: &'static str, name: &str, len: Option<usize>, error: StoreError) -> KeystoreError {
        let name = name.to_owned();
        match error {
            StoreError::NoStorageAccess(e) => KeystoreError::Locked { name, detail: e.to_string() },
            StoreError::NoDefaultStore => KeystoreError::Unavailable { detail: error.to_string() },
            StoreError::TooLong(_, limit) => KeystoreError::TooLarge { name, len: len.unwrap_or(0), limit },
            StoreError::BadEncoding(mut bytes) => {
                bytes.zeroize();
                KeystoreError::Corrupt { name }
            }
            StoreError::BadDataFormat(mut bytes, _) => {
                bytes.zeroize();
                KeystoreError::Corrupt { name }
            }
            StoreError::BadStoreFormat(_) => KeystoreError::Corrupt { name },
            StoreError::Ambiguous(items) => {
                KeystoreError::Ambiguous { service: self.service.clone(), name, count: items.len() }
            }
            StoreError::Invalid(what, reason) => {
                KeystoreError::InvalidName { what: "name", value: name, reason: format!("{what}: {reason}") }
            }
            // `NoEntry` is handled by the callers that expect it; reaching here means a store
            // reported it where it should not (for example on a write).
            StoreError::NoEntry | StoreError::PlatformFailure(_) | StoreError::NotSupportedByStore(_) => {
                KeystoreError::Failed { action, name, detail: describe(&error) }
            }
            // keyring-core's error is non-exhaustive; a variant added later is still a failure.
            _ => KeystoreError::Failed { action, name, detail: describe(&error) },
        }
    }
}

/// The process's one connection to the OS keystore, made on first use.
///
/// Only a success is kept: if the keystore was unreachable, the next `open` tries again.
fn shared_store() -> Result<Arc<CredentialStore>, KeystoreError> {
    static STORE: Mutex<Option<Arc<CredentialStore>>> = Mutex::new(None);
    // The lock is held while connecting so that two threads opening at once make one connection.
    // A panic while connecting leaves the `Option` as it was, so a poisoned lock is still usable.
    let mut slot = STORE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(store) = slot.as_ref() {
        return Ok(Arc::clone(store));
    }
    let store = platform::new_store().map_err(|e| KeystoreError::Unavailable { detail: describe(&e) })?;
    *slot = Some(Arc::clone(&store));
    Ok(store)
}

/// A platform error's message with its causes, which is where the useful part usually is
/// ("Platform failure: D-Bus error" says little; the cause says "No such file or directory").
fn describe(error: &StoreError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn check_name(what: &'static str, value: &str) -> Result<(), KeystoreError> {
    let reason = if value.is_empty() {
        "it is empty"
    } else if value.len() > MAX_NAME_LEN {
        "it is longer than 256 bytes"
    } else if value.chars().any(char::is_control) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(KeystoreError::InvalidName { what, value: value.to_owned(), reason: reason.to_owned() })
}

#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
mod platform {
    //! Secret Service over D-Bus. The store connects when it is made, so a missing bus or a bus
    //! without a Secret Service fails here, in `open`.
    pub fn new_store() -> keyring_core::Result<std::sync::Arc<keyring_core::api::CredentialStore>> {
        Ok(zbus_secret_service_keyring_store::Store::new()?)
    }
}

#[cfg(target_os = "macos")]
mod platform {
    //! The login keychain.
    pub fn new_store() -> keyring_core::Result<std::sync::Arc<keyring_core::api::CredentialStore>> {
        Ok(apple_native_keyring_store::keychain::Store::new()?)
    }
}

#[cfg(target_os = "ios")]
mod platform {
    //! The data-protection keychain, the only one iOS has.
    pub fn new_store() -> keyring_core::Result<std::sync::Arc<keyring_core::api::CredentialStore>> {
        Ok(apple_native_keyring_store::protected::Store::new()?)
    }
}

#[cfg(target_os = "windows")]
mod platform {
    //! Credential Manager.
    pub fn new_store() -> keyring_core::Result<std::sync::Arc<keyring_core::api::CredentialStore>> {
        Ok(windows_native_keyring_store::Store::new()?)
    }
}

#[cfg(target_os = "android")]
mod platform {
    //! SharedPreferences encrypted with a key in the Android Keystore. The app must have handed
    //! its context to `ndk-context` first; without it, making the store fails (`Unavailable`).
    pub fn new_store() -> keyring_core::Result<std::sync::Arc<keyring_core::api::CredentialStore>> {
        Ok(android_native_keyring_store::Store::new()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_before_the_keystore_is_touched() {
        for bad in ["", "a\nb", "tab\there"] {
            assert!(matches!(check_name("name", bad), Err(KeystoreError::InvalidName { .. })), "{bad:?}");
        }
        assert!(check_name("name", &"x".repeat(MAX_NAME_LEN + 1)).is_err());
        assert!(check_name("name", "device-key:0f3a").is_ok());
    }

    #[test]
    fn messages_say_what_to_do() {
        let unavailable = KeystoreError::Unavailable { detail: "no bus".into() }.to_string();
        assert!(unavailable.contains("never falls back to a file"), "{unavailable}");
        let locked = KeystoreError::Locked { name: "k".into(), detail: "locked".into() }.to_string();
        assert!(locked.contains("unlock your keyring"), "{locked}");
    }
}
