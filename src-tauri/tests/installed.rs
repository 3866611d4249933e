//! The app as a shopper installs it: the binary that the Debian package put on a fresh Debian 12,
//! not the one cargo built for the tests. `cargo xtask test` builds the package with the Tauri
//! CLI, installs it with apt into a fresh Debian 12 root (which must bring every dependency it
//! declares), and runs this test with `--ignored`, `INKAN_INSTALLED_APP` naming the installed
//! binary and `INKAN_TAURI_DRIVER` a tauri-driver that starts the root's WebKitWebDriver, which
//! starts the app in the root; then it purges the package there. Against a real server, with the
//! real OS keystore: the first screen, a payment code read off the window, money added and a
//! payment approved with the passkey.

#![allow(clippy::unwrap_used, reason = "a test: a step that fails panics with its error")]

use std::path::PathBuf;

use inkan_appdriver::story::{self, Outcome, Setting};
use inkan_appdriver::{AppUnderTest, Launch};
use inkan_pos::{TerminalClient, TerminalKey};
use inkan_testkit::{Backend, ORIGIN, TestServer};

fn required_env(name: &str) -> PathBuf {
    std::env::var_os(name)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{name} is not set: run this test through `cargo xtask test`"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "drives the installed package's app: needs it installed, tauri-driver and a display (run by `cargo xtask test`)"]
async fn the_installed_app_opens_shows_a_readable_code_and_pays() {
    let installed = required_env("INKAN_INSTALLED_APP");
    // The package's own binary: had it not been installed, this would not be a test of it.
    assert!(
        installed.is_absolute() && !installed.starts_with(env!("CARGO_MANIFEST_DIR")),
        "{} is not an installed program",
        installed.display()
    );
    let server = TestServer::start(Backend::Sqlite).await;
    let merchant = "FamilyMart Ebisu";
    let till = server.merchant(merchant).await;
    let terminal =
        TerminalClient::new(server.url.parse().unwrap(), TerminalKey::new(&till.key, "test").unwrap()).unwrap();
    let home = tempfile::tempdir().unwrap();
    let launch = Launch::new(installed, required_env("INKAN_TAURI_DRIVER"), home.path(), &server.url, ORIGIN);
    let app = AppUnderTest::launch(&launch).await.unwrap();
    let setting = Setting {
        terminal: &terminal,
        merchant,
        server: &server.url,
        origin: ORIGIN,
        screenshots: None,
        desktop: None,
        axe: None,
        second_device_home: None,
    };
    let mut outcome = Outcome::default();
    let paid = story::first_payment(&app, &setting, &mut outcome).await;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let paid =
        app.finish(paid, dir, "installed").await.unwrap_or_else(|e| panic!("the installed app did not pay: {e:#}"));
    assert!(paid.recovery_codes.len() >= 5, "{paid:?}");
    assert_eq!(outcome.charges, vec![(1_280, "succeeded".to_owned())]);
    assert_eq!(outcome.balances.last().map(|b| b.contains("8,720")), Some(true), "{:?}", outcome.balances);
    server.assert_ledger_balanced().await;
    server.stop().await;
}
