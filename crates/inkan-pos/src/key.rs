//! The terminal key: where it comes from (a file only its owner can read, or the environment), and
//! a wrapper that never prints it.

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::Path;

use crate::error::PosError;

/// Environment variable that holds the terminal key when `--key-file` is not given.
pub const KEY_ENV: &str = "INKAN_TERMINAL_KEY";
/// A key file longer than this is not a key file.
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// The bearer secret of one till. `Debug` shows `***`; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct TerminalKey(String);

impl fmt::Debug for TerminalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TerminalKey(***)")
    }
}

impl TerminalKey {
    /// A key from text (surrounding whitespace, such as a file's last newline, is dropped).
    /// `origin` names where it came from, for the error message; the key itself never appears.
    pub fn new(text: &str, origin: &str) -> Result<TerminalKey, PosError> {
        let key = text.trim();
        if key.is_empty() || key.len() > 256 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(PosError::MalformedKey { origin: origin.to_owned() });
        }
        Ok(TerminalKey(key.to_owned()))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

/// The key from `file` when given, else from the value of [`KEY_ENV`].
pub fn load(file: Option<&Path>, env: Option<OsString>) -> Result<TerminalKey, PosError> {
    match (file, env) {
        (Some(path), _) => read_key_file(path),
        (None, Some(value)) => {
            let text = value.into_string().map_err(|_| PosError::MalformedKey { origin: KEY_ENV.to_owned() })?;
            TerminalKey::new(&text, KEY_ENV)
        }
        (None, None) => Err(PosError::NoKey),
    }
}

/// Reads a key file, refusing one that group or others may read or write, as ssh does for a
/// private key: a key that other users can read is a key that other users have.
pub fn read_key_file(path: &Path) -> Result<TerminalKey, PosError> {
    let io = |source| PosError::KeyFile { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    // Permissions of the file we opened, not of whatever the path points to a moment later.
    let metadata = file.metadata().map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(PosError::KeyFileExposed { path: path.to_owned(), mode });
        }
    }
    if metadata.len() > MAX_KEY_FILE_BYTES {
        return Err(PosError::MalformedKey { origin: path.display().to_string() });
    }
    let mut text = String::new();
    file.take(MAX_KEY_FILE_BYTES).read_to_string(&mut text).map_err(io)?;
    TerminalKey::new(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let key = TerminalKey::new("tk_secret\n", "test").unwrap();
        assert_eq!(key.expose(), "tk_secret");
        assert_eq!(format!("{key:?}"), "TerminalKey(***)");
        assert!(matches!(TerminalKey::new(" \n", "test"), Err(PosError::MalformedKey { .. })));
        assert!(matches!(TerminalKey::new("two words", "test"), Err(PosError::MalformedKey { .. })));
    }

    #[test]
    fn environment_is_the_fallback_and_absence_is_an_error() {
        assert!(matches!(load(None, None), Err(PosError::NoKey)));
        let key = load(None, Some("tk_env".into())).unwrap();
        assert_eq!(key.expose(), "tk_env");
    }

    #[cfg(unix)]
    #[test]
    fn key_file_must_be_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("terminal.key");
        std::fs::write(&path, "tk_from_file\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load(Some(&path), Some("tk_env".into())).unwrap_err();
        assert!(matches!(err, PosError::KeyFileExposed { mode: 0o644, .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("chmod 600") && message.contains("644"), "{message}");
        assert!(!message.contains("tk_from_file"));
        assert_eq!(err.exit_code(), crate::exit::KEY);

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        // The file wins over the environment.
        assert_eq!(load(Some(&path), Some("tk_env".into())).unwrap().expose(), "tk_from_file");
        let missing = load(Some(&dir.path().join("nope")), None).unwrap_err();
        assert!(matches!(missing, PosError::KeyFile { .. }));
    }
}
