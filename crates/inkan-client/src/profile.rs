//! The non-secret state of a wallet on this device: which server, which account, which device,
//! and the payment-code counter. Kept as JSON in the profile's directory; the secrets (device key,
//! software passkey, session) are in the OS keystore under the profile's namespace.

use std::path::{Path, PathBuf};

use inkan_api::feed::IssuerKeyInfo;
use inkan_core::payment_code::DeviceKeyId;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{ClientError, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ProfileFile")]
pub struct Profile {
    pub server: Url,
    /// The WebAuthn origin the server's relying party expects.
    pub origin: Url,
    pub account_id: String,
    pub device_id: String,
    pub key_id: DeviceKeyId,
    pub display_name: String,
    /// The last payment-code counter used; the next code uses one more.
    pub counter: u32,
    /// Which passkey this profile confirms with.
    pub passkey: PasskeyKind,
    /// The issuer key every history of this wallet must be signed with, pinned when this device
    /// enrolled or joined. Absent from profiles written before histories were signed: pinned at
    /// their next history load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_key: Option<IssuerKeyInfo>,
}

/// Which passkey a profile uses (what [`crate::wallet::PasskeyChoice`] was when it was made).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasskeyKind {
    /// The software passkey: demos and tests only.
    InsecureSoftPasskey,
    /// A FIDO2 security key over USB.
    SecurityKey,
    /// The phone's own key, in its secure hardware, unlocked by a biometric.
    Platform,
}

/// A profile file as it may be on disk: today's `passkey`, or the three booleans that profiles
/// written before it carry (`insecure_soft_passkey`, and `security_key`, `platform_passkey` when
/// true). Read either; [`Profile`] is always written with `passkey`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    server: Url,
    origin: Url,
    account_id: String,
    device_id: String,
    key_id: DeviceKeyId,
    display_name: String,
    counter: u32,
    #[serde(default)]
    passkey: Option<PasskeyKind>,
    #[serde(default)]
    insecure_soft_passkey: Option<bool>,
    #[serde(default)]
    security_key: bool,
    #[serde(default)]
    platform_passkey: bool,
    #[serde(default)]
    issuer_key: Option<IssuerKeyInfo>,
}

impl TryFrom<ProfileFile> for Profile {
    type Error = String;

    fn try_from(f: ProfileFile) -> std::result::Result<Profile, String> {
        let legacy = [
            (f.insecure_soft_passkey == Some(true), PasskeyKind::InsecureSoftPasskey),
            (f.security_key, PasskeyKind::SecurityKey),
            (f.platform_passkey, PasskeyKind::Platform),
        ];
        let mut named = legacy.iter().filter(|(on, _)| *on).map(|(_, kind)| *kind);
        let passkey = match (f.passkey, named.next(), named.next()) {
            (Some(kind), None, _) if f.insecure_soft_passkey.is_none() => kind,
            (None, Some(kind), None) => kind,
            _ => return Err("the profile does not say which one passkey it uses".to_owned()),
        };
        Ok(Profile {
            server: f.server,
            origin: f.origin,
            account_id: f.account_id,
            device_id: f.device_id,
            key_id: f.key_id,
            display_name: f.display_name,
            counter: f.counter,
            passkey,
            issuer_key: f.issuer_key,
        })
    }
}

/// Where profiles live: `$INKAN_HOME`, else the platform's config directory + `inkan`.
pub fn home() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("INKAN_HOME") {
        return Ok(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .or_else(|| std::env::var_os("APPDATA").map(PathBuf::from))
        .ok_or_else(|| ClientError::NoProfile("no home directory: set INKAN_HOME".into()))?;
    Ok(base.join("inkan"))
}

/// A profile's directory and file.
#[derive(Debug, Clone)]
pub struct ProfileStore {
    dir: PathBuf,
    name: String,
}

fn io(path: &Path, source: std::io::Error) -> ClientError {
    ClientError::Profile { path: path.display().to_string(), source }
}

impl ProfileStore {
    /// Profile names are what a person types: letters, digits, `-` and `_`.
    pub fn new(home: &Path, name: &str) -> Result<ProfileStore> {
        if name.is_empty()
            || name.len() > 64
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ClientError::Invalid(format!("profile name {name:?}: use letters, digits, - and _")));
        }
        Ok(ProfileStore { dir: home.join(name), name: name.to_owned() })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn file(&self) -> PathBuf {
        self.dir.join("profile.json")
    }

    /// The keystore service of this profile: its secrets never mix with another profile's, nor with
    /// those of a profile of the same name kept in another home directory (the OS keystore is one
    /// per user, shared by every home: without the directory's tag, a second wallet would overwrite
    /// the first one's device key).
    pub fn keystore_service(&self) -> String {
        let dir = std::path::absolute(&self.dir).unwrap_or_else(|_| self.dir.clone());
        let digest = ring::digest::digest(&ring::digest::SHA256, dir.as_os_str().as_encoded_bytes());
        let tag = hex::encode(digest.as_ref().get(..6).unwrap_or_default());
        format!("inkan/{}/{tag}", self.name)
    }

    pub fn exists(&self) -> bool {
        self.file().exists()
    }

    pub fn load(&self) -> Result<Profile> {
        let path = self.file();
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ClientError::NoProfile(format!("no wallet in profile {:?}: run `inkan enroll` first", self.name))
            } else {
                io(&path, e)
            }
        })?;
        serde_json::from_str(&text).map_err(|e| ClientError::NoProfile(format!("{} is damaged: {e}", path.display())))
    }

    /// Saves atomically and durably: the profile goes to a temporary file of its own (two
    /// processes saving at once never share one), is `fsync`ed, renamed over the old one, and the
    /// directory is `fsync`ed, so neither a crash nor a power cut leaves half a file or takes the
    /// payment-code counter back once this returns.
    pub fn save(&self, profile: &Profile) -> Result<()> {
        use std::io::Write;
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let path = self.file();
        let text = serde_json::to_string_pretty(profile).map_err(|e| ClientError::Invalid(e.to_string()))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".profile.json.")
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .map_err(|e| io(&self.dir, e))?;
        tmp.write_all(text.as_bytes()).and_then(|()| tmp.as_file().sync_all()).map_err(|e| io(tmp.path(), e))?;
        tmp.persist(&path).map_err(|e| io(&path, e.error))?;
        #[cfg(unix)]
        std::fs::File::open(&self.dir).and_then(|dir| dir.sync_all()).map_err(|e| io(&self.dir, e))?;
        Ok(())
    }

    pub fn remove(&self) -> Result<()> {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&self.dir, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A profile written before security keys existed.
    const OLD_PROFILE: &str = r#"{
        "server": "http://localhost:8080/",
        "origin": "http://localhost:8080/",
        "account_id": "acc_1",
        "device_id": "dev_1",
        "key_id": "000102030405060708090a0b0c0d0e0f",
        "display_name": "Jiro",
        "counter": 7,
        "insecure_soft_passkey": true
    }"#;

    fn with(extra: &str) -> String {
        OLD_PROFILE.replace(r#""insecure_soft_passkey": true"#, extra)
    }

    #[test]
    fn two_processes_saving_at_once_never_clash_and_leave_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProfileStore { dir: dir.path().join("p"), name: "p".to_owned() };
        let profile: Profile = serde_json::from_str(OLD_PROFILE).unwrap();
        std::thread::scope(|scope| {
            for writer in 0..2u32 {
                let (store, profile) = (&store, profile.clone());
                scope.spawn(move || {
                    for n in 0..50 {
                        let saved = Profile { counter: writer * 1_000 + n, ..profile.clone() };
                        store.save(&saved).unwrap();
                        store.load().unwrap();
                    }
                });
            }
        });
        let last = store.load().unwrap().counter;
        assert!([49, 1_049].contains(&last), "{last}");
        let left: Vec<_> = std::fs::read_dir(&store.dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("profile.json")]);
    }

    #[test]
    fn profiles_with_the_old_passkey_booleans_still_load_and_are_written_with_one_kind() {
        let profile: Profile = serde_json::from_str(OLD_PROFILE).unwrap();
        assert_eq!(profile.passkey, PasskeyKind::InsecureSoftPasskey);
        assert_eq!(profile.counter, 7);
        let written = serde_json::to_string(&profile).unwrap();
        assert!(written.contains(r#""passkey":"insecure_soft_passkey""#), "{written}");
        assert!(!written.contains("security_key") && !written.contains("insecure_soft_passkey\":"), "{written}");
        assert_eq!(serde_json::from_str::<Profile>(&written).unwrap(), profile);

        for (old, kind) in [
            (r#""insecure_soft_passkey": false, "security_key": true"#, PasskeyKind::SecurityKey),
            (r#""insecure_soft_passkey": false, "platform_passkey": true"#, PasskeyKind::Platform),
            (r#""passkey": "platform""#, PasskeyKind::Platform),
            (r#""passkey": "security_key""#, PasskeyKind::SecurityKey),
        ] {
            let profile: Profile = serde_json::from_str(&with(old)).unwrap();
            assert_eq!(profile.passkey, kind, "{old}");
            assert_eq!(serde_json::from_str::<Profile>(&serde_json::to_string(&profile).unwrap()).unwrap(), profile);
        }
        // None, two at once, or both forms: refused, not guessed.
        for bad in [
            r#""insecure_soft_passkey": false"#,
            r#""insecure_soft_passkey": true, "security_key": true"#,
            r#""passkey": "platform", "insecure_soft_passkey": true"#,
            r#""passkey": "fingerprint""#,
            r#""passkey": "platform", "surprise": 1"#,
        ] {
            assert!(serde_json::from_str::<Profile>(&with(bad)).is_err(), "{bad} was accepted");
        }
    }
}
