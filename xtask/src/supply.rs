//! The supply chain, checked: `cargo deny check` (licences, duplicate crates, sources and
//! advisories, as `deny.toml` says) against the RustSec advisory database.
//!
//! These machines cannot reach the advisory feeds, so the database is the snapshot kept beside
//! the repository (`../shared/supply-chain/rustsec-advisory-db.bundle`), cloned where `deny.toml`'s
//! `db-path` points, and cargo-deny runs `--offline`. What it says is "no known advisory as of the
//! snapshot's date", and the date is printed with the result.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, root, run_step};

/// The cargo-deny release the check runs with: the advisory database's directory name below is
/// its, and a new release may change both that and what it reports.
const CARGO_DENY: &str = "0.20.2";

/// Where cargo-deny 0.20 looks for the database of `https://github.com/rustsec/advisory-db`
/// under `db-path` (`deny.toml`).
const DB_DIR: &str = "advisory-db-3157b0e258782691";

/// `cargo deny check` against the snapshot, after `cargo fetch` (so that `--offline` finds every
/// crate of every platform the lock file names).
pub fn check() -> Result<()> {
    cargo_deny()?;
    let snapshot = advisory_snapshot()?;
    run_step("fetching every crate the lock file names (for the offline check)", cargo().args(["fetch", "--locked"]))?;
    run_step(
        "cargo deny check (licences, bans, sources, advisories)",
        cargo().args(["deny", "--frozen", "check", "--hide-inclusion-graph"]),
    )?;
    println!("advisories: none known as of {snapshot} (the offline RustSec snapshot; newer ones are not checked)");
    Ok(())
}

/// `cargo-deny` at [`CARGO_DENY`], installed with cargo (a few minutes, first run only) if it is
/// missing or another release.
fn cargo_deny() -> Result<()> {
    let installed = crate::app::cargo_bin("cargo-deny")?;
    let version = Command::new(&installed).arg("--version").output().ok().filter(|o| o.status.success());
    let current = version.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if current.as_deref() != Some(format!("cargo-deny {CARGO_DENY}").as_str()) {
        run_step(
            &format!("installing cargo-deny {CARGO_DENY} (first run only; a few minutes)"),
            cargo().args(["install", "cargo-deny", "--locked", "--version", &format!("={CARGO_DENY}")]),
        )?;
    }
    Ok(())
}

/// The advisory database where `deny.toml` points, at the snapshot's commit (cloned again when the
/// snapshot changes); returns the snapshot's date and commit, to print.
fn advisory_snapshot() -> Result<String> {
    let bundle = root().join("../shared/supply-chain/rustsec-advisory-db.bundle");
    if !bundle.is_file() {
        bail!(
            "no RustSec snapshot at {}: the supply-chain check needs the advisory database \
             (on a machine that reaches GitHub, `cargo deny fetch` then `cargo deny check` does the same)",
            bundle.display()
        );
    }
    let home = std::env::var_os("HOME").context("no HOME for the advisory database (deny.toml's db-path)")?;
    let db = Path::new(&home).join(".cache/inkan/advisory-dbs").join(DB_DIR);
    let heads = git(None, &["bundle", "list-heads", bundle.to_str().context("the bundle's path is not UTF-8")?])?;
    let wanted = heads.split_whitespace().next().context("the advisory bundle names no commit")?.to_owned();
    let have = git(Some(&db), &["rev-parse", "HEAD"]).ok();
    if have.as_deref().map(str::trim) != Some(wanted.as_str()) {
        if db.exists() {
            std::fs::remove_dir_all(&db).with_context(|| format!("removing the old snapshot {}", db.display()))?;
        }
        std::fs::create_dir_all(db.parent().unwrap_or(&db))?;
        run_step(
            "unpacking the RustSec advisory snapshot",
            Command::new("git").args(["clone", "--quiet"]).arg(&bundle).arg(&db),
        )?;
    }
    let date = git(Some(&db), &["show", "-s", "--format=%cs", "HEAD"])?;
    Ok(format!("{} (RustSec advisory-db {})", date.trim(), &wanted[..wanted.len().min(9)]))
}

fn git(dir: Option<&Path>, args: &[&str]) -> Result<String> {
    let mut command = Command::new("git");
    if let Some(dir) = dir {
        command.arg("-C").arg(dir);
    }
    let output = command.args(args).output().context("could not run git")?;
    if !output.status.success() {
        bail!("git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
