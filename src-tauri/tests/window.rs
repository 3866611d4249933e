//! The real app, end to end: the `inkan-wallet` binary in its window (WebKitGTK under Xvfb),
//! driven through tauri-driver and WebDriver, against a real inkan-server, with the real OS
//! keystore. The till is `inkan-pos`, reading the payment code off a screenshot of the window.
//!
//! Needs `tauri-driver`, `WebKitWebDriver`, a display and a keystore session: `cargo xtask test`
//! provides them all and runs this with `--ignored`. The app is this package's binary, built by
//! cargo for this test with the rest of the workspace.

#![allow(clippy::unwrap_used, reason = "a test: a step that fails panics with its error")]

use std::path::PathBuf;

use inkan_appdriver::desktop::{Notifications, Placement};
use inkan_appdriver::story::{self, Setting};
use inkan_appdriver::{AppUnderTest, Launch};
use inkan_pos::{TerminalClient, TerminalKey};
use inkan_testkit::{Backend, ORIGIN, TestServer};

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run this test through `cargo xtask test`"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "drives the real app window: needs the app binary, tauri-driver and a display (run by `cargo xtask test`)"]
async fn a_shopper_uses_the_app_from_onboarding_to_a_frozen_wallet() {
    let server = TestServer::start(Backend::Sqlite).await;
    let merchant = "Lawson Shinjuku";
    let till = server.merchant(merchant).await;
    let terminal =
        TerminalClient::new(server.url.parse().unwrap(), TerminalKey::new(&till.key, "test").unwrap()).unwrap();
    let home = tempfile::tempdir().unwrap();
    let app = PathBuf::from(env!("CARGO_BIN_EXE_inkan-wallet"));
    let driver = PathBuf::from(required_env("INKAN_TAURI_DRIVER"));
    let launch = Launch::new(app, driver, home.path(), &server.url, ORIGIN);
    // axe-core, from the UI's npm packages (`cargo xtask test` installs them).
    let axe_js = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/node_modules/axe-core/axe.min.js");
    let axe = std::fs::read_to_string(axe_js)
        .unwrap_or_else(|e| panic!("{axe_js}: {e}; install the UI's packages (`npm ci --prefix ui`)"));
    // The desktop's notification service, on the test's own session bus, before the app starts.
    let notifications = Notifications::start().await.unwrap();
    let app = AppUnderTest::launch(&launch).await.unwrap();
    // Opened again from the desktop, the app does not start twice: the window already open comes
    // to the front.
    inkan_appdriver::desktop::launch_again(&app, &launch).await.unwrap();
    // The page may call the app's own commands, and nothing else of Tauri's or of a plugin's:
    // a script injected into it could not close the window, show a notification or emit events.
    assert_eq!(app.invoke_from_page("snapshot").await.unwrap(), None);
    for command in
        ["plugin:notification|notify", "plugin:window|close", "plugin:app|version", "plugin:event|emit", "no_such"]
    {
        let refused = app.invoke_from_page(command).await.unwrap();
        assert!(
            refused.as_deref().is_some_and(|e| e.contains("not allowed") || e.contains("not found")),
            "{command}: {refused:?}"
        );
    }
    // Moved, resized, closed with its close button and opened again, the window comes back where
    // and as large as the shopper left it (the story goes on in it).
    let wanted = Placement { x: 501, y: 17, width: 472, height: 744 };
    let app = inkan_appdriver::desktop::reopened_where_left(app, &launch, wanted).await.unwrap();
    // The second device of the wallet keeps its profile apart from the app's.
    let second_device = tempfile::tempdir().unwrap();
    let setting = Setting {
        terminal: &terminal,
        merchant,
        server: &server.url,
        origin: ORIGIN,
        screenshots: None,
        desktop: Some(&notifications),
        axe: Some(&axe),
        second_device_home: Some(second_device.path()),
    };
    let played = story::play(&app, &setting).await;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    // The error's chain, without its backtrace: CI shows the end of the output, and a backtrace
    // there would push the reason off it.
    let outcome = app.finish(played, dir, "window").await.unwrap_or_else(|e| panic!("the story stopped: {e:#}"));

    assert!(outcome.recovery_codes >= 5, "{outcome:?}");
    // Every screen meets WCAG 2.1 A and AA as axe-core sees it in the real rendering.
    assert!(
        outcome.accessibility.is_empty(),
        "accessibility problems:\n{}",
        outcome.accessibility.iter().map(|(screen, p)| format!("{screen}: {p}")).collect::<Vec<_>>().join("\n")
    );
    // One system notification: the charge that came while the shopper was in another window;
    // none for the two that came while the app was in front.
    let shown = notifications.shown();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0].summary, "Confirm a payment");
    assert!(shown[0].body.contains(merchant) && shown[0].body.contains("¥500"), "{shown:?}");
    assert_eq!(
        outcome.charges,
        vec![(1_280, "succeeded".to_owned()), (500, "declined".to_owned()), (300, "declined".to_owned())]
    );
    // Every code read off the screen was a new one.
    let mut codes = outcome.codes.clone();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), outcome.codes.len(), "a payment code was shown twice");
    // The exported file verifies offline against the issuer's key, and holds the whole story.
    let exported = outcome.export.split_whitespace().find(|w| w.ends_with(".jsonl")).expect("export path");
    let text = std::fs::read_to_string(exported).expect("the exported file");
    let verified = inkan_client::history::verify_export(&text, &server.issuer_key()).expect("the export verifies");
    let events: Vec<inkan_api::feed::FeedEvent> =
        text.lines().skip(1).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(verified.head.seq, events.last().unwrap().seq);
    let kinds: Vec<String> = events.iter().map(|e| e.notice().unwrap()).map(|n| kind(&n)).collect();
    for wanted in ["account_created", "top_up_succeeded", "charge_succeeded", "charge_declined", "wallet_frozen"] {
        assert!(kinds.iter().any(|k| k == wanted), "{wanted} missing from the export: {kinds:?}");
    }
    // The wallet closed at the end: its balance paid back once, to the card that topped it up.
    assert!(outcome.closed.contains("4444"), "{}", outcome.closed);
    let paid_out: Vec<i64> = server.funding.paid_out().iter().map(|(_, amount)| amount.minor()).collect();
    assert_eq!(paid_out, [8_720]);
    server.assert_ledger_balanced().await;
    // Nothing secret was written to the app's directory: the keys are in the keystore.
    for entry in walk(home.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("PRIVATE KEY") && !text.contains("\"token\""), "{} holds a secret", entry.display());
    }
    server.stop().await;
}

fn kind(notice: &inkan_api::feed::Notice) -> String {
    serde_json::to_value(notice).unwrap()["kind"].as_str().unwrap().to_owned()
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}
