//! The keystore against the real Secret Service (gnome-keyring): round trips of binary secrets, and
//! what a person sees when the keystore is missing or locked.
//!
//! The happy-path tests need a session bus with an unlocked keyring; `cargo xtask test` provides
//! one, and `cargo xtask with-keyring -- cargo test -p inkan-keystore` runs just these. Without it
//! they fail with the keystore's own error, which says so.
//!
//! The failure modes each need a different environment, and the keystore connection is made once
//! per process, so each runs in a child: this same test binary, started again with
//! [`CHILD_CASE`] set so that only [`child_probe`] does anything, in an environment made for it
//! (no bus; a bus without a Secret Service; a gnome-keyring whose keyring is locked).

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "test helpers: a failure here is a test failure, and the child reports on stdout"
)]

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use inkan_keystore::{Keystore, KeystoreError};

/// Tells the child which probe it is; unset in a normal run, where [`child_probe`] does nothing.
const CHILD_CASE: &str = "INKAN_KEYSTORE_TEST_CHILD";

/// What the child prints before its outcome, so the parent can find it in libtest's output (which
/// puts `test child_probe ... ` in front of it on the same line).
const OUTCOME: &str = "keystore-probe-outcome: ";

/// A child that has not answered by then is stuck (for example on an unlock prompt no one can see),
/// which is itself a failure.
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

/// A service name of its own for each test and run, so tests running in parallel (and runs that
/// were interrupted before cleaning up) never see each other's items.
fn keystore(test: &str) -> Keystore {
    let service = format!("inkan-test:{test}:{}", std::process::id());
    match Keystore::open(&service) {
        Ok(keystore) => keystore,
        Err(e) => panic!("{e}\n(run these tests with `cargo xtask with-keyring -- cargo test -p inkan-keystore`)"),
    }
}

#[test]
fn binary_secrets_round_trip() {
    let keystore = keystore("round-trip");
    // Not UTF-8 (0xff, 0xc0 0x80, a lone continuation byte) and with NULs: a PKCS#8 key is DER.
    let secret: &[u8] = b"\x30\x81\x87\x02\x01\x00\xff\xfe\x00\xc0\x80\x80\x00";
    keystore.put("device-key", secret).unwrap();
    assert_eq!(keystore.get("device-key").unwrap().as_deref().map(Vec::as_slice), Some(secret));
    keystore.delete("device-key").unwrap();
    assert!(keystore.get("device-key").unwrap().is_none());
}

#[test]
fn put_replaces_what_was_there() {
    let keystore = keystore("overwrite");
    keystore.put("passkey", b"first").unwrap();
    keystore.put("passkey", b"second, longer than the first").unwrap();
    assert_eq!(keystore.get("passkey").unwrap().unwrap().as_slice(), b"second, longer than the first");
    keystore.delete("passkey").unwrap();
}

#[test]
fn absent_is_none_and_deleting_it_is_fine() {
    let keystore = keystore("absent");
    assert!(keystore.get("never-put").unwrap().is_none());
    keystore.delete("never-put").unwrap();
    keystore.put("once", b"x").unwrap();
    keystore.delete("once").unwrap();
    keystore.delete("once").unwrap();
}

#[test]
fn services_do_not_see_each_other() {
    let alice = keystore("isolation-alice");
    let bob = keystore("isolation-bob");
    alice.put("device-key", b"alice's").unwrap();
    assert!(bob.get("device-key").unwrap().is_none());
    bob.put("device-key", b"bob's").unwrap();
    assert_eq!(alice.get("device-key").unwrap().unwrap().as_slice(), b"alice's");
    bob.delete("device-key").unwrap();
    assert_eq!(alice.get("device-key").unwrap().unwrap().as_slice(), b"alice's", "bob's delete touched alice");
    alice.delete("device-key").unwrap();
}

#[test]
fn a_four_kib_secret_with_every_byte_value() {
    let keystore = keystore("large");
    let secret: Vec<u8> = (0..=u8::MAX).cycle().take(4096).collect();
    keystore.put("passkey-state", &secret).unwrap();
    assert_eq!(keystore.get("passkey-state").unwrap().unwrap().as_slice(), secret.as_slice());
    keystore.delete("passkey-state").unwrap();
}

#[test]
fn secrets_do_not_print() {
    let keystore = keystore("debug");
    keystore.put("device-key", b"hunter2-secret").unwrap();
    let secret = keystore.get("device-key").unwrap().unwrap();
    assert!(!format!("{keystore:?}").contains("hunter2"));
    // Zeroizing's Debug would print the bytes; what matters is that the keystore's own types and
    // errors do not, and that the buffer is the wiping kind.
    let _: &zeroize::Zeroizing<Vec<u8>> = &secret;
    keystore.delete("device-key").unwrap();
}

#[test]
fn bad_names_are_refused() {
    let keystore = keystore("names");
    assert!(matches!(keystore.put("", b"x"), Err(KeystoreError::InvalidName { .. })));
    assert!(matches!(keystore.get("a\nb"), Err(KeystoreError::InvalidName { .. })));
    assert!(matches!(Keystore::open(""), Err(KeystoreError::InvalidName { .. })));
}

#[test]
fn no_session_bus_is_unavailable() {
    let outcome = run_child("open-and-put", |child| {
        child.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/inkan-test/bus");
    });
    assert_unavailable(&outcome);
}

#[test]
fn a_bus_without_secret_service_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    // A session bus that can start nothing: no service directories, so D-Bus activation cannot
    // bring up gnome-keyring behind the test's back.
    let config = dir.path().join("bus.conf");
    std::fs::write(
        &config,
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
    )
    .unwrap();
    let outcome = run_child_under(
        "open-and-put",
        |child| {
            isolate(child, dir.path());
        },
        &["dbus-run-session".as_ref(), "--config-file".as_ref(), config.as_os_str(), "--".as_ref()],
    );
    assert_unavailable(&outcome);
}

#[test]
fn a_locked_keyring_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    // First session: gnome-keyring makes the login keyring, protected by this password. `--start`
    // puts the daemon on the bus, so that it ends with the session instead of outliving it.
    let made = Command::new("dbus-run-session")
        .args([
            "--",
            "sh",
            "-c",
            "printf %s inkan-test-password | gnome-keyring-daemon --unlock --components=secrets \
             && gnome-keyring-daemon --start --components=secrets",
        ])
        .env_clear()
        .envs(base_env())
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_RUNTIME_DIR", runtime_dir(dir.path(), "run-1"))
        .output()
        .unwrap();
    assert!(made.status.success(), "making the keyring failed: {made:?}");
    assert!(dir.path().join("data/keyrings/login.keyring").exists(), "no login keyring was made");
    // Second session: the daemon starts without the password, so the keyring stays locked, and
    // there is no display for an unlock prompt.
    let outcome = run_child_under(
        "open-and-put",
        |child| {
            isolate(child, dir.path());
            child.env("XDG_RUNTIME_DIR", runtime_dir(dir.path(), "run-2"));
        },
        &[
            "dbus-run-session".as_ref(),
            "--".as_ref(),
            "sh".as_ref(),
            "-c".as_ref(),
            "gnome-keyring-daemon --start --components=secrets >/dev/null && exec \"$@\"".as_ref(),
            "sh".as_ref(),
        ],
    );
    assert!(outcome.starts_with("Locked:"), "expected Locked, got {outcome}");
    assert!(outcome.contains("unlock your keyring"), "{outcome}");
}

/// Runs in the children; does nothing in a normal run.
#[test]
fn child_probe() {
    let Ok(case) = std::env::var(CHILD_CASE) else { return };
    let result = match case.as_str() {
        "open-and-put" => Keystore::open("inkan-test:probe").and_then(|k| k.put("probe", b"secret-probe-bytes")),
        other => panic!("unknown case {other:?}"),
    };
    let outcome = match &result {
        Ok(()) => "Ok".to_owned(),
        Err(e @ KeystoreError::Unavailable { .. }) => format!("Unavailable: {e}"),
        Err(e @ KeystoreError::Locked { .. }) => format!("Locked: {e}"),
        Err(e) => format!("Other: {e:?}"),
    };
    println!("{OUTCOME}{}", outcome.replace('\n', " "));
}

fn assert_unavailable(outcome: &str) {
    assert!(outcome.starts_with("Unavailable:"), "expected Unavailable, got {outcome}");
    assert!(outcome.contains("never falls back to a file"), "{outcome}");
    assert!(!outcome.contains("secret-probe-bytes"), "the secret leaked into the error: {outcome}");
}

fn run_child(case: &str, configure: impl FnOnce(&mut Command)) -> String {
    run_child_under(case, configure, &[])
}

/// Runs [`child_probe`] in a child (wrapped in `wrapper`, if any) and returns its outcome line.
fn run_child_under(case: &str, configure: impl FnOnce(&mut Command), wrapper: &[&std::ffi::OsStr]) -> String {
    let me = std::env::current_exe().unwrap();
    let probe_args = ["child_probe", "--exact", "--nocapture", "--test-threads=1"];
    let mut command = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(&me).args(probe_args);
            c
        }
        None => {
            let mut c = Command::new(&me);
            c.args(probe_args);
            c
        }
    };
    // After `configure`, which may clear the environment.
    configure(&mut command);
    command.env(CHILD_CASE, case).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = command.spawn().unwrap_or_else(|e| panic!("could not start {command:?}: {e}"));
    let (stdout, stderr) = wait_with_timeout(child);
    match stdout.lines().find_map(|line| line.split_once(OUTCOME).map(|(_, outcome)| outcome)) {
        Some(outcome) => {
            // Shown with `--nocapture`: the exact message a person would see.
            println!("{case}: {outcome}");
            outcome.to_owned()
        }
        None => panic!("the child printed no outcome\n--- stdout\n{stdout}\n--- stderr\n{stderr}"),
    }
}

fn wait_with_timeout(mut child: Child) -> (String, String) {
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > CHILD_TIMEOUT {
            child.kill().unwrap();
            child.wait().unwrap();
            let (stdout, stderr) = read_output(&mut child);
            panic!("the child hung for {CHILD_TIMEOUT:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    read_output(&mut child)
}

fn read_output(child: &mut Child) -> (String, String) {
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout).unwrap();
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut stderr).unwrap();
    }
    (stdout, stderr)
}

/// Only what a child needs to run (and find `dbus-run-session`), so that the outer session's bus
/// and keyring variables cannot leak into it.
fn base_env() -> Vec<(String, String)> {
    std::env::vars().filter(|(k, _)| matches!(k.as_str(), "PATH" | "HOME" | "LANG" | "RUST_BACKTRACE")).collect()
}

/// A child environment with its own keyring data and runtime directories under `dir`.
fn isolate(child: &mut Command, dir: &Path) {
    child
        .env_clear()
        .envs(base_env())
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_RUNTIME_DIR", runtime_dir(dir, "run"));
}

/// A fresh runtime directory, private as gnome-keyring requires.
fn runtime_dir(dir: &Path, name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::DirBuilderExt;
    let path = dir.join(name);
    std::fs::DirBuilder::new().mode(0o700).recursive(true).create(&path).unwrap();
    path
}
