//! A throwaway, unlocked gnome-keyring on a private session bus, so that tests reach a real OS
//! keystore (Secret Service) on a headless machine: `cargo xtask test` runs its tests inside one,
//! and `cargo xtask with-keyring -- <command>` runs any command inside one.
//!
//! Each run gets a fresh directory under the system temp dir holding the keyring's data
//! (`XDG_DATA_HOME`) and its sockets (`XDG_RUNTIME_DIR`), removed afterwards. `HOME` is left alone,
//! because cargo and rustup find their own homes through it; gnome-keyring needs only the two XDG
//! directories. The bus, and the daemon with it, end when the command does.

use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::apt;

/// Nothing is worth protecting in a keyring that lives for one run; it needs a password only
/// because gnome-keyring makes the login keyring from the one it is unlocked with.
const THROWAWAY_PASSWORD: &str = "inkan-throwaway-keyring";

/// Run by `sh` inside the new session: make and unlock the login keyring, put the daemon on the bus
/// (`--start`; without it the daemon would stay off the bus until something asked for the Secret
/// Service, and would then outlive the session), then become the command. The daemon's chatter is
/// shown only when a step fails.
const SESSION_SCRIPT: &str = r#"
fail() { printf 'keyring: %s failed:\n%s\n' "$1" "$2" >&2; exit 1; }
out=$(printf '%s' "$INKAN_KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets 2>&1) ||
    fail 'gnome-keyring-daemon --unlock' "$out"
out=$(gnome-keyring-daemon --start --components=secrets 2>&1) || fail 'gnome-keyring-daemon --start' "$out"
unset INKAN_KEYRING_PASSWORD out
exec "$@"
"#;

/// The programs we need, and the Debian package each comes from. `dbus` brings `dbus-run-session`
/// (through `dbus-bin` on bookworm). No `libdbus-1-dev`: the keystore talks D-Bus through zbus,
/// which is pure Rust. No `dbus-x11`: that is `dbus-launch`, which we do not use.
const NEEDED: [(&str, &str); 2] = [("dbus-run-session", "dbus"), ("gnome-keyring-daemon", "gnome-keyring")];

/// `cargo xtask with-keyring -- <command> [args…]`: runs the command in a throwaway keyring
/// session, from the current directory, and exits with its status.
pub fn run(args: &[String]) -> Result<()> {
    let command = match args.split_first() {
        Some((dashes, rest)) if dashes == "--" => rest,
        _ => args,
    };
    let Some((program, program_args)) = command.split_first() else {
        bail!("usage: cargo xtask with-keyring -- <command> [args…]");
    };
    let session = Session::new()?;
    let mut inner = Command::new(program);
    inner.args(program_args);
    let mut wrapped = session.wrap(&inner);
    let status = wrapped.status().with_context(|| format!("could not start {wrapped:?}"))?;
    drop(session);
    match status.code() {
        Some(0) => Ok(()),
        // The command's own exit code, so that scripts and CI see what it said.
        Some(code) => std::process::exit(code),
        None => bail!("{program} was ended by a signal ({status})"),
    }
}

/// A fresh keyring directory; commands made by [`Session::wrap`] run in a keyring session on it.
/// The directory is removed on drop.
#[derive(Debug)]
pub struct Session {
    dir: PathBuf,
}

impl Session {
    /// Installs what is missing, then makes the directory.
    pub fn new() -> Result<Session> {
        ensure_installed()?;
        let dir = std::env::temp_dir().join(format!("inkan-keyring-{}", std::process::id()));
        // A directory left by an earlier run whose process id we now have: nothing in it matters.
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("could not remove {}", dir.display()))?;
        }
        let session = Session { dir };
        // gnome-keyring refuses a runtime directory that others can read.
        for sub in ["run", "data"] {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .recursive(true)
                .create(session.dir.join(sub))
                .with_context(|| format!("could not make {}", session.dir.join(sub).display()))?;
        }
        Ok(session)
    }

    /// `inner` (program, arguments, environment, directory), to be run inside
    /// `dbus-run-session` with the keyring unlocked.
    pub fn wrap(&self, inner: &Command) -> Command {
        let mut outer = Command::new("dbus-run-session");
        outer.args(["--", "sh", "-c", SESSION_SCRIPT, "sh"]).arg(inner.get_program()).args(inner.get_args());
        for (key, value) in inner.get_envs() {
            match value {
                Some(value) => outer.env(key, value),
                None => outer.env_remove(key),
            };
        }
        if let Some(dir) = inner.get_current_dir() {
            outer.current_dir(dir);
        }
        outer
            .env("XDG_RUNTIME_DIR", self.dir.join("run"))
            .env("XDG_DATA_HOME", self.dir.join("data"))
            .env("INKAN_KEYRING_PASSWORD", THROWAWAY_PASSWORD)
            // A desktop session's keyring daemon, if we were started from one: gnome-keyring
            // would hand our password to it instead of starting its own.
            .env_remove("GNOME_KEYRING_CONTROL");
        outer
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Best effort: a leftover directory in the temp dir harms nothing, and the next run with
        // the same process id removes it.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Installs `dbus` and `gnome-keyring` with apt-get when their programs are missing (root only),
/// saying what it does.
fn ensure_installed() -> Result<()> {
    let missing: Vec<&str> =
        NEEDED.iter().filter(|(program, _)| apt::on_path(program).is_none()).map(|(_, package)| *package).collect();
    apt::install("keyring", "a session bus with gnome-keyring for the OS keystore tests needs", &missing)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn wrap_keeps_what_the_inner_command_sets() {
        // Never made on disk: `wrap` only builds a command, and dropping removes nothing there.
        let session = Session { dir: PathBuf::from("/nonexistent/inkan-keyring-test") };
        let mut inner = Command::new("cargo");
        inner.args(["test", "--workspace"]).env("INKAN_TEST_POSTGRES_URL", "postgres://x").env_remove("FOO");
        inner.current_dir("/tmp");
        let outer = session.wrap(&inner);

        assert_eq!(outer.get_program(), "dbus-run-session");
        let args: Vec<_> = outer.get_args().collect();
        assert_eq!(args[args.len() - 3..], ["cargo", "test", "--workspace"]);
        let envs: Vec<_> = outer.get_envs().collect();
        assert!(envs.contains(&("INKAN_TEST_POSTGRES_URL".as_ref(), Some("postgres://x".as_ref()))));
        assert!(envs.contains(&("FOO".as_ref(), None)));
        assert!(envs.contains(&("GNOME_KEYRING_CONTROL".as_ref(), None)));
        assert!(!envs.iter().any(|(key, _)| *key == "HOME"), "HOME must stay as cargo and rustup know it");
        assert_eq!(outer.get_current_dir(), Some(Path::new("/tmp")));
    }
}
