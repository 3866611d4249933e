//! `cargo xtask soak [--seconds N]`: the server under crashes and hostile input, for a bounded
//! time.
//!
//! 1. Crash durability, on SQLite and then on a fresh PostgreSQL database: `inkan-soak crash`
//!    drives whole charges against the real `inkan-server` binary and kills it with SIGKILL at
//!    random moments (at least 20 times per database), then checks that every charge acknowledged
//!    as succeeded is in the ledger, the ledger sums to zero, no balance is negative, no payment
//!    code paid twice and no idempotency key charged twice.
//!    A top-up worker tops up through the kills, and the audit holds the sandbox provider's
//!    journal against the ledger: every collected top-up credited exactly once.
//!    Wallets are closed through the kills too: every pay-out the provider made is settled once.
//! 2. Power loss, on SQLite and on a private PostgreSQL cluster: the same load, each kill a power
//!    cut that drops every write the database did not sync (`inkan-powercut`, loaded with
//!    `LD_PRELOAD` into the server, or into every PostgreSQL process), the audit after each cut;
//!    then the bug planted (no sync reaches the disk, as `synchronous = OFF`; on PostgreSQL
//!    `synchronous_commit = off`, a commit acknowledged before its WAL is flushed), which the run must catch.
//! 3. schemathesis against the running server's `/openapi.json` (installed with pip into a venv
//!    under `~/.cache/inkan/venv` on first use): no 5xx, no answer that differs from the document.
//! 4. Every cargo-fuzz target.
//!
//! `cargo xtask test` runs a short version ([`short`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, root, run_step};

/// The schemathesis release the checks were written against.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

#[derive(Debug, Clone, Copy)]
struct Budget {
    /// Load time of each crash run (it goes on until `kills` too).
    crash_seconds: u64,
    kills: u32,
    /// Load time of the power-cut run, and its cuts (at least 20).
    power_cut_seconds: u64,
    cuts: u32,
    schemathesis_seconds: u64,
    /// Per fuzz target; `None` leaves fuzzing out (`cargo xtask test` fuzzes on its own).
    fuzz_seconds: Option<u64>,
}

pub fn run(args: &[String]) -> Result<()> {
    let mut seconds: u64 = 240;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => seconds = crate::seconds_arg(it.next())?,
            other => bail!("soak: unknown argument {other:?}"),
        }
    }
    if seconds < 40 {
        bail!("soak: give it at least 40 seconds (--seconds N)");
    }
    // A quarter each: SQLite crashes, PostgreSQL crashes, schemathesis, fuzzing.
    let quarter = seconds / 4;
    let targets = u64::try_from(crate::fuzz::TARGETS.len()).unwrap_or(1).max(1);
    soak(Budget {
        crash_seconds: quarter,
        kills: 20,
        power_cut_seconds: quarter,
        cuts: 40,
        schemathesis_seconds: quarter,
        fuzz_seconds: Some((quarter / targets).max(5)),
    })
}

/// The short run of `cargo xtask test`: a few kills per database and 30 s of schemathesis (the
/// fuzz targets get their smoke run there already).
pub fn short() -> Result<()> {
    soak(Budget {
        crash_seconds: 8,
        kills: 4,
        power_cut_seconds: 10,
        cuts: 20,
        schemathesis_seconds: 30,
        fuzz_seconds: None,
    })
}

fn soak(budget: Budget) -> Result<()> {
    run_step(
        "building inkan-server, inkan-soak and the power-cut library",
        cargo().args(["build", "--quiet", "-p", "inkan-server", "-p", "inkan-soak", "-p", "inkan-powercut-preload"]),
    )?;
    let server = bin("inkan-server");
    let crash = |database: &str| {
        let mut command = Command::new(bin("inkan-soak"));
        command.arg("--server").arg(&server).args(["crash", "--database", database]).args([
            "--seconds",
            &budget.crash_seconds.to_string(),
            "--kills",
            &budget.kills.to_string(),
        ]);
        command
    };
    run_step("crash soak on SQLite (SIGKILL under load)", &mut crash("sqlite"))?;
    let postgres_url = crate::postgres::ensure()?;
    let mut on_postgres = crash("postgres");
    // Passed in the environment, not on the command line that `run_step` echoes: it may carry a
    // password.
    on_postgres.env(crate::postgres::ENV, &postgres_url);
    run_step("crash soak on PostgreSQL (SIGKILL under load, a fresh database)", &mut on_postgres)?;

    power_cuts(&server, &budget)?;
    schemathesis_step(&server, &budget)?;
    if let Some(seconds) = budget.fuzz_seconds {
        crate::fuzz::all(seconds)?;
    }
    println!("\nsoak passed");
    Ok(())
}

/// The power-cut soaks on both databases, and each with its bug planted (which must be caught).
fn power_cuts(server: &Path, budget: &Budget) -> Result<()> {
    let power_cut = |database: &str, seconds: u64, cuts: u32| {
        let mut command = Command::new(bin("inkan-soak"));
        command.arg("--server").arg(server).arg("power-cut").arg("--preload").arg(preload_library()).args([
            "--database",
            database,
            "--seconds",
            &seconds.to_string(),
            "--cuts",
            &cuts.to_string(),
        ]);
        command
    };
    run_step(
        "power-cut soak on SQLite (every unsynced write dropped, audited after each cut)",
        &mut power_cut("sqlite", budget.power_cut_seconds, budget.cuts),
    )?;
    // Two cuts are enough: the first loses everything since the start.
    run_step(
        "power-cut soak on SQLite with the bug planted (no sync reaches the disk): it must be caught",
        power_cut("sqlite", 3, 2).arg("--plant"),
    )?;
    run_step(
        "power-cut soak on a private PostgreSQL cluster (every unsynced write of every process dropped)",
        &mut power_cut("postgres", budget.power_cut_seconds, budget.cuts),
    )?;
    run_step(
        "power-cut soak on PostgreSQL with synchronous_commit = off planted: it must be caught",
        // It loses only what was acknowledged since the WAL writer's last flush: more cuts.
        power_cut("postgres", 4, 4).arg("--plant"),
    )?;
    Ok(())
}

/// Schemathesis against the server's `/openapi.json`, its reports under the target directory.
fn schemathesis_step(server: &Path, budget: &Budget) -> Result<()> {
    let st = schemathesis()?;
    let reports = target_dir().join("soak").join("schemathesis");
    run_step(
        "schemathesis against /openapi.json",
        Command::new(bin("inkan-soak"))
            .arg("--server")
            .arg(server)
            .arg("schemathesis")
            .arg("--st")
            .arg(&st)
            .args(["--seconds", &budget.schemathesis_seconds.to_string()])
            .arg("--report-dir")
            .arg(&reports),
    )?;
    Ok(())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

fn bin(name: &str) -> PathBuf {
    target_dir().join("debug").join(name)
}

/// The `LD_PRELOAD` library of the power-cut tests (`crates/inkan-powercut/preload`).
pub fn preload_library() -> PathBuf {
    target_dir().join("debug").join("libinkan_powercut_preload.so")
}

/// The `st` executable, installed with pip into a venv under the cache directory on first use.
fn schemathesis() -> Result<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from).context("HOME is not set")?;
    let venv = home.join(".cache").join("inkan").join("venv");
    let st = venv.join("bin").join("st");
    let installed = Command::new(&st).arg("--version").output().is_ok_and(|o| {
        o.status.success()
            && String::from_utf8_lossy(&o.stdout).contains(SCHEMATHESIS.trim_start_matches("schemathesis=="))
    });
    if !installed {
        if !venv.join("bin").join("pip").exists() {
            run_step(
                "making a Python venv for schemathesis (first use only)",
                Command::new("python3").arg("-m").arg("venv").arg(&venv),
            )
            .context("schemathesis needs Python 3 with venv (Debian: apt-get install python3-venv)")?;
        }
        run_step(
            "installing schemathesis with pip (first use only)",
            Command::new(venv.join("bin").join("pip")).args(["install", "--quiet", SCHEMATHESIS]),
        )?;
    }
    Ok(st)
}
