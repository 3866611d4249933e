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
#[serde(deny_unknown_fields)]
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
    /// Whether this profile's passkey is the insecure software one.
    pub insecure_soft_passkey: bool,
    /// Whether this profile's passkey is on a FIDO2 security key over USB. Absent from profiles
    /// written before security keys (and left out when false, so those builds still read ours).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub security_key: bool,
    /// Whether this profile's passkey is the phone's own (a key in its secure hardware, unlocked
    /// by a biometric). Left out when false, like `security_key`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub platform_passkey: bool,
    /// The issuer key every history of this wallet must be signed with, pinned when this device
    /// enrolled or joined. Absent from profiles written before histories were signed: pinned at
    /// their next history load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_key: Option<IssuerKeyInfo>,
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

    /// Saves atomically (write a temporary file, then rename), so a crash never leaves half a file
    /// and the counter never goes back.
    pub fn save(&self, profile: &Profile) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let path = self.file();
        let tmp = self.dir.join("profile.json.tmp");
        let text = serde_json::to_string_pretty(profile).map_err(|e| ClientError::Invalid(e.to_string()))?;
        std::fs::write(&tmp, text).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
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

    #[test]
    fn profiles_from_before_security_keys_still_load_and_are_written_as_before() {
        let profile: Profile = serde_json::from_str(OLD_PROFILE).unwrap();
        assert!(profile.insecure_soft_passkey);
        assert!(!profile.security_key);
        // Unchanged on disk, so a build from before security keys still reads it.
        let written = serde_json::to_value(&profile).unwrap();
        assert_eq!(written, serde_json::from_str::<serde_json::Value>(OLD_PROFILE).unwrap());

        let key = Profile { insecure_soft_passkey: false, security_key: true, ..profile.clone() };
        let written = serde_json::to_string(&key).unwrap();
        assert!(written.contains(r#""security_key":true"#), "{written}");
        assert!(!written.contains("platform_passkey"), "{written}");
        assert_eq!(serde_json::from_str::<Profile>(&written).unwrap(), key);

        let phone = Profile { insecure_soft_passkey: false, platform_passkey: true, ..profile };
        let written = serde_json::to_string(&phone).unwrap();
        assert!(written.contains(r#""platform_passkey":true"#), "{written}");
        assert_eq!(serde_json::from_str::<Profile>(&written).unwrap(), phone);
    }
}
