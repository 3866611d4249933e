//! `cargo xtask fuzz`: runs the cargo-fuzz targets for a bounded time.
//!
//! libFuzzer needs a nightly compiler. We use the `nightly` toolchain when rustup has one, and
//! otherwise let the stable compiler accept nightly flags with `RUSTC_BOOTSTRAP=1` (the same
//! compiler, with its unstable options unlocked; fine for a fuzzing build, never for a release).
//! cargo-fuzz itself is installed on first use.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{root, run_step};

/// Every fuzz target: (fuzz directory relative to the root, target name).
pub const TARGETS: &[(&str, &str)] =
    &[("crates/inkan-core/fuzz", "payment_code"), ("crates/inkan-api/fuzz", "request_bodies")];

/// How long `cargo xtask test` fuzzes each target: long enough to catch a shallow panic, short
/// enough for CI.
const SMOKE_SECONDS: u64 = 15;

pub fn run(args: &[String]) -> Result<()> {
    let mut seconds = 60;
    let mut only: Option<String> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => seconds = crate::seconds_arg(it.next())?,
            "--target" => only = Some(it.next().context("--target needs a name")?.clone()),
            other => bail!("fuzz: unknown argument {other:?}"),
        }
    }
    let targets: Vec<_> = TARGETS.iter().filter(|(_, name)| only.as_deref().is_none_or(|o| o == *name)).collect();
    if targets.is_empty() {
        bail!("no fuzz target named {:?}; there are: {:?}", only, TARGETS.iter().map(|t| t.1).collect::<Vec<_>>());
    }
    for (dir, name) in targets {
        fuzz(dir, name, seconds)?;
    }
    Ok(())
}

/// The short run that `cargo xtask test` does.
pub fn smoke() -> Result<()> {
    all(SMOKE_SECONDS)
}

/// Every target for `seconds` each.
pub fn all(seconds: u64) -> Result<()> {
    TARGETS.iter().try_for_each(|(dir, name)| fuzz(dir, name, seconds))
}

fn has_nightly() -> bool {
    Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.starts_with("nightly")))
        .unwrap_or(false)
}

fn ensure_cargo_fuzz() -> Result<()> {
    let present = Command::new("cargo").args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if !present {
        run_step(
            "installing cargo-fuzz (first use only)",
            Command::new("cargo").args(["install", "cargo-fuzz", "--locked", "--version", "0.13.2"]),
        )?;
    }
    Ok(())
}

fn fuzz(dir: &str, name: &str, seconds: u64) -> Result<()> {
    ensure_cargo_fuzz()?;
    let fuzz_dir = root().join(dir);
    let corpus = fuzz_dir.join("corpus").join(name);
    let seeds = fuzz_dir.join("seeds").join(name);
    std::fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| PathBuf::from(d).join("fuzz"))
        .unwrap_or_else(|| fuzz_dir.join("target"));

    // Through rustup's `cargo` proxy, not $CARGO, so that `+nightly` can pick the toolchain.
    let mut command = Command::new("cargo");
    if has_nightly() {
        command.arg("+nightly");
    } else {
        command.env("RUSTC_BOOTSTRAP", "1");
    }
    command
        .args(["fuzz", "run", name, "--fuzz-dir"])
        .arg(&fuzz_dir)
        .arg("--target-dir")
        .arg(&target_dir)
        .arg(&corpus)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-max_len=4096");
    run_step(&format!("fuzzing {name} for {seconds} s"), &mut command)
}
