//! The payment-code counter survives a power cut (issue 16). `ProfileStore::save` runs in a child
//! process under the power-cut library (`inkan-powercut`), which is killed once the save has
//! returned; the disk is then rebuilt from what was synced, as after a power cut. A counter that
//! went back would let a code be shown twice with one counter: the second would be refused, or,
//! worse, an old code would become usable again.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "a test; its child tells the parent on stdout"
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use inkan_client::profile::{Profile, ProfileStore};

/// Set in the child: the counters to save, one after the other.
const CHILD: &str = "INKAN_TEST_POWERCUT_SAVES";

const PROFILE: &str = r#"{
    "server": "http://localhost:8080/",
    "origin": "http://localhost:8080/",
    "account_id": "acc_1",
    "device_id": "dev_1",
    "key_id": "000102030405060708090a0b0c0d0e0f",
    "display_name": "Jiro",
    "counter": 7,
    "passkey": "insecure_soft_passkey"
}"#;

fn store(home: &Path) -> ProfileStore {
    ProfileStore::new(home, "phone").unwrap()
}

/// Saves, then tells the parent and waits to be killed.
fn child(home: &Path, saves: &str) {
    let store = store(home);
    let mut profile: Profile = serde_json::from_str(PROFILE).unwrap();
    for counter in saves.split(',') {
        profile.counter = counter.parse().unwrap();
        store.save(&profile).unwrap();
    }
    println!("saved");
    loop {
        std::thread::park();
    }
}

/// The counter found after a power cut that came once a child had saved 8, 9 and 10 over a
/// durable 7, with the syncs dropped (the planted bug) or not.
fn counter_after_a_power_cut(drop_syncs: bool) -> Option<u32> {
    let root = tempfile::tempdir().unwrap();
    let (home, shadow) = (root.path().join("home"), root.path().join("durable"));
    let mut first: Profile = serde_json::from_str(PROFILE).unwrap();
    first.counter = 7;
    store(&home).save(&first).unwrap();
    inkan_powercut::seed(&home, &shadow).unwrap();

    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "the_counter_saved_before_a_code_is_shown_survives_a_power_cut", "--nocapture"])
        .env(CHILD, "8,9,10")
        .env("INKAN_TEST_POWERCUT_HOME", &home)
        .env("LD_PRELOAD", inkan_powercut::preload_library().unwrap())
        .env(inkan_powercut::WATCH, &home)
        .env(inkan_powercut::SHADOW, &shadow)
        .stdout(Stdio::piped());
    if drop_syncs {
        command.env(inkan_powercut::DROP_SYNCS, "1");
    }
    let mut running = command.spawn().unwrap();
    let mut lines = BufReader::new(running.stdout.take().unwrap()).lines();
    assert!(lines.any(|line| line.unwrap().trim() == "saved"), "the child never saved");
    running.kill().unwrap();
    running.wait().unwrap();
    inkan_powercut::restore(&home, &shadow).unwrap();
    store(&home).load().ok().map(|p| p.counter)
}

#[test]
fn the_counter_saved_before_a_code_is_shown_survives_a_power_cut() {
    if let Ok(saves) = std::env::var(CHILD) {
        child(Path::new(&std::env::var_os("INKAN_TEST_POWERCUT_HOME").unwrap()), &saves);
    }
    assert_eq!(counter_after_a_power_cut(false), Some(10));
    // The harness sees what a save without a sync would lose: the planted bug is caught.
    assert_eq!(counter_after_a_power_cut(true), Some(7), "a save that never synced survived the cut");
}
