//! `cargo xtask bench [--seconds N] [--quick] [--lanes N] [--sqlite-only]`: builds `inkan-server` and
//! `inkan-bench` with `--release`, finds or starts PostgreSQL (as the tests do), and runs the
//! benchmark once. The table goes to the terminal; the report to `<target dir>/bench/report.json`
//! (`CARGO_TARGET_DIR`, or `target/` in the repository), next to the servers' logs. What each
//! figure means: `docs/performance.md`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use crate::{cargo, root, run_step};

/// Where cargo puts its output, as `cargo` itself decides it here.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

pub fn run(args: &[String]) -> Result<()> {
    // Part 4 measures the app: its system packages and UI bundle first, since it embeds the UI.
    let app_ready = crate::app::system_packages().and_then(|()| crate::app::ui_build());
    let mut build = cargo();
    build.args(["build", "--release", "--locked", "-p", "inkan-server", "-p", "inkan-bench"]);
    if app_ready.is_ok() {
        build.args(["-p", "inkan-wallet"]);
    }
    run_step("building inkan-server, inkan-bench and the app (release)", &mut build)?;
    let target = target_dir();
    let mut bench = Command::new(target.join("release").join("inkan-bench"));
    bench.arg("--server-bin").arg(target.join("release").join("inkan-server"));
    // The app on a virtual display, with tauri-driver and a throwaway keystore; without them the
    // report says why part 4 was not measured.
    let display = match app_ready.and_then(|()| crate::app::tauri_driver()) {
        Ok(driver) => match crate::app::Display::start() {
            Ok(display) => {
                bench.arg("--app-bin").arg(target.join("release").join("inkan-wallet"));
                bench.arg("--tauri-driver").arg(driver).env("DISPLAY", &display.name);
                Some(display)
            }
            Err(e) => {
                println!("\nno virtual display for the app ({e:#}); the report will say the app was not measured");
                None
            }
        },
        Err(e) => {
            println!("\nthe app cannot be built or driven here ({e:#}); the report will say it was not measured");
            None
        }
    };
    if !args.iter().any(|a| a == "--out" || a.starts_with("--out=")) {
        bench.arg("--out").arg(target.join("bench").join("report.json"));
    }
    bench.args(args);
    if !args.iter().any(|a| a == "--sqlite-only") {
        match crate::postgres::ensure() {
            // Set only when it differs from what the bench would inherit anyway: `run_step` echoes
            // the variables it sets, and a URL someone exported may carry a password.
            Ok(url) if std::env::var(crate::postgres::ENV).ok().as_deref() != Some(url.as_str()) => {
                bench.env(crate::postgres::ENV, url);
            }
            Ok(_) => {}
            Err(e) => {
                println!("\nno PostgreSQL for the bench ({e:#}); the report will say PostgreSQL was not measured");
                bench.env_remove(crate::postgres::ENV);
            }
        }
    }
    let keyring = crate::keyring::Session::new()?;
    let ran = run_step("benchmark", &mut keyring.wrap(&bench));
    drop(display);
    ran
}
