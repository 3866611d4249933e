//! `cargo xtask test`: the one command CI runs. It grows with the product.

use anyhow::Result;

use crate::{cargo, run_step};

/// The Debian packages that building the `usb` feature needs (udev for the HID devices, libclang
/// for bindgen).
const USB_BUILD_DEPS: [&str; 2] = ["libudev-dev", "libclang-dev"];

pub fn run() -> Result<()> {
    run_step("formatting", cargo().args(["fmt", "--all", "--", "--check"]))?;
    crate::supply::check()?;
    // The app embeds the UI bundle when it compiles, so the UI is tested and built first.
    crate::app::system_packages()?;
    crate::app::ui_lint()?;
    crate::app::ui_test()?;
    crate::app::ui_build()?;
    run_step(
        "clippy (warnings are errors)",
        cargo().args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]),
    )?;
    // Security keys over USB are an optional feature that needs C libraries to build: check that it
    // still compiles, warnings and all. Its tests (`cargo test -p inkan-client --features usb --lib`,
    // which need no key) are not run here: built apart from the workspace's feature set, they
    // rebuild most of the dependency graph, over 5 minutes on a cold 2-core machine.
    let missing: Vec<&str> = USB_BUILD_DEPS.into_iter().filter(|package| !crate::apt::is_installed(package)).collect();
    crate::apt::install("usb", "the `usb` feature (FIDO2 security keys) needs", &missing)?;
    run_step(
        "clippy with the `usb` feature (security keys over USB)",
        cargo()
            .args(["clippy", "-p", "inkan-client", "-p", "inkan-cli", "--features", "usb", "--all-targets", "--locked"])
            .args(["--", "-D", "warnings"]),
    )?;
    // The phone build keeps compiling (no NDK here: a check, not a build).
    crate::app::android_check()?;
    // A real server, so that the tests against PostgreSQL run instead of skipping.
    let postgres_url = crate::postgres::ensure()?;
    let mut tests = cargo();
    tests.args(["test", "--workspace", "--locked"]);
    // Set only when it differs from what the tests would inherit anyway: `run_step` echoes the
    // command with the variables it sets, and a URL someone exported may carry a password.
    if std::env::var(crate::postgres::ENV).ok().as_deref() != Some(postgres_url.as_str()) {
        tests.env(crate::postgres::ENV, &postgres_url);
    }
    // A real OS keystore (Secret Service) for inkan-keystore's tests, on a headless machine too.
    let keyring = crate::keyring::Session::new()?;
    run_step("tests (with a throwaway gnome-keyring)", &mut keyring.wrap(&tests))?;
    // The real app in its window, driven like a person would, against a real server.
    app_end_to_end(&keyring)?;
    // The app as people install it: its packages built and checked, the .deb installed, the
    // installed app used, and the package purged.
    crate::bundle::test(&keyring)?;
    crate::fuzz::smoke()?;
    // The server killed under load, and schemathesis, briefly (`cargo xtask soak` for longer).
    crate::soak::short()?;
    println!("\nall checks passed");
    Ok(())
}

/// `cargo xtask app-e2e`: the real app in its window on a virtual display, driven through
/// tauri-driver against a real server, with a throwaway OS keystore.
pub fn app_e2e() -> Result<()> {
    crate::app::system_packages()?;
    crate::app::ui_build()?;
    let keyring = crate::keyring::Session::new()?;
    app_end_to_end(&keyring)
}

fn app_end_to_end(keyring: &crate::keyring::Session) -> Result<()> {
    let driver = crate::app::tauri_driver()?;
    let display = crate::app::Display::start()?;
    let mut test = cargo();
    // `--workspace`, as above, so cargo reuses what it built there (one feature set, one build).
    test.args(["test", "--workspace", "--locked", "--test", "window", "--", "--ignored"])
        .env("DISPLAY", &display.name)
        .env("INKAN_TAURI_DRIVER", &driver);
    run_step("the app end to end (WebKitGTK on Xvfb, tauri-driver, a real server)", &mut keyring.wrap(&test))
}
