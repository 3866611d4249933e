//! Project automation, run as `cargo xtask <command>` (see the alias in `.cargo/config.toml`).
//!
//! - `demo`: the product story, as far as it is built, with readable output.
//! - `bundle [--install]`: the app's packages (.deb, .rpm) with the Tauri CLI, checked; `--install`
//!   also installs the .deb into a fresh Debian 12 root, uses the app installed there and purges it
//!   (`xtask/src/bundle.rs`, `xtask/src/debian_root.rs`).
//! - `deny`: the supply-chain check alone (`cargo deny check`, offline, against the RustSec snapshot).
//! - `bench [--seconds N] [--quick] [--lanes N] [--sqlite-only]`: the benchmark (`docs/performance.md`).
//! - `test`: everything CI checks: formatting, the supply chain (`cargo deny`), the UI's lint and
//!   tests, clippy with `-D warnings`, every test, a short fuzz.
//! - `fuzz [--seconds N] [--target NAME]`: run the cargo-fuzz targets for a bounded time.
//! - `soak [--seconds N]`: the real server killed with SIGKILL under load (SQLite and PostgreSQL),
//!   then the ledger checked; schemathesis against `/openapi.json`; every fuzz target.
//! - `pg-url [--throwaway]`: find, start or make the PostgreSQL the tests use, and print its URL.
//! - `with-keyring -- <command>`: run a command with a throwaway, unlocked gnome-keyring on a private
//!   session bus, as the tests get it (for the OS keystore).

#![allow(clippy::print_stdout, reason = "xtask talks to the person at the terminal")]

mod app;
mod apt;
mod bench;
mod bundle;
mod debian_root;
mod demo;
mod fuzz;
mod keyring;
mod postgres;
mod soak;
mod supply;
mod test;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: cargo xtask <demo [--no-app] | test | app-e2e | bundle [--install] | android-check | deny | bench [--seconds N] [--quick] [--lanes N] [--sqlite-only] \
                     | fuzz [--seconds N] [--target NAME] | soak [--seconds N] | pg-url [--throwaway] \
                     | with-keyring -- <command> [args...]>";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        bail!("{USAGE}");
    };
    match command.as_str() {
        "demo" => demo::run(rest),
        "test" => test::run(),
        "android-check" => app::android_check(),
        "deny" => supply::check(),
        "bundle" => bundle::run(rest),
        "app-e2e" => test::app_e2e(),
        "bench" => bench::run(rest),
        "fuzz" => fuzz::run(rest),
        "soak" => soak::run(rest),
        "pg-url" => postgres::print_url(rest),
        "with-keyring" => keyring::run(rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command {other:?}\n{USAGE}"),
    }
}

/// The repository root (the parent of this crate's directory).
/// The repository root: from the `CARGO_MANIFEST_DIR` that `cargo run` sets for this run, not the
/// one compiled in. Clones that share one target directory (CI's `~/.cache/inkan/target`) share
/// one xtask binary, which would otherwise work in whichever clone built it first, or in one that
/// has since been deleted.
pub fn root() -> PathBuf {
    let manifest =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a command from the repository root, echoing it, and fails if it fails.
pub fn run_step(title: &str, command: &mut Command) -> Result<()> {
    println!("\n==> {title}");
    let shown = format!("{command:?}");
    let status = command.current_dir(root()).status().with_context(|| format!("could not start {shown}"))?;
    if !status.success() {
        bail!("{title} failed ({status}): {shown}");
    }
    Ok(())
}

/// The value of a `--seconds` argument.
pub fn seconds_arg(value: Option<&String>) -> Result<u64> {
    let value = value.context("--seconds needs a number")?;
    value.parse().with_context(|| format!("--seconds: {value:?} is not a whole number"))
}

/// `cargo`, as the one that started us (so the same toolchain is used throughout).
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// What `command` printed, or an error with what it said.
pub fn output(command: &mut Command) -> Result<String> {
    let shown = format!("{command:?}");
    let out = command.stdin(Stdio::null()).output().with_context(|| format!("could not start {shown}"))?;
    if !out.status.success() {
        bail!("{shown} failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
}
