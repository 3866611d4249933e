//! The `inkan` binary against a real server and the real OS keystore (run inside
//! `cargo xtask test`, or `cargo xtask with-keyring -- cargo test -p inkan-cli`).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::path::Path;
use std::process::{Output, Stdio};

use inkan_testkit::{Backend, ORIGIN, TestServer};
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;

/// `inkan` with nothing on standard input (not a terminal: it never asks).
async fn inkan(home: &Path, profile: &str, args: &[&str]) -> Output {
    inkan_fed(home, profile, args, "").await
}

/// `inkan` with `input` piped to its standard input, as a script gives it secrets.
async fn inkan_fed(home: &Path, profile: &str, args: &[&str], input: &str) -> Output {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_inkan"))
        .args(args)
        .env("INKAN_HOME", home)
        .env("INKAN_PROFILE", profile)
        .stdin(if input.is_empty() { Stdio::null() } else { Stdio::piped() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(mut stdin) = child.stdin.take() {
        // Ignored: it may have exited without reading (the test then checks why). Dropping
        // `stdin` ends the input.
        stdin.write_all(input.as_bytes()).await.ok();
    }
    child.wait_with_output().await.unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_on_the_command_line() {
    let server = TestServer::start(Backend::Sqlite).await;
    let till = server.merchant("Lawson Ebisu").await;
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let profile = format!("cli-{}", std::process::id());

    // Without the loud switch there is no passkey to use, and nothing is created.
    let refused =
        inkan(home, &profile, &["enroll", "--server", &server.url, "--origin", ORIGIN, "--name", "Jiro"]).await;
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("--insecure-soft-passkey"), "{}", stderr(&refused));
    let none = inkan(home, &profile, &["status"]).await;
    assert_eq!(none.status.code(), Some(1));
    assert!(stderr(&none).contains("inkan enroll"), "{}", stderr(&none));

    let enrolled = inkan(
        home,
        &profile,
        &["enroll", "--server", &server.url, "--origin", ORIGIN, "--name", "Jiro", "--insecure-soft-passkey"],
    )
    .await;
    assert!(enrolled.status.success(), "{}", stderr(&enrolled));
    assert!(stderr(&enrolled).contains("INSECURE"));
    assert_eq!(
        stdout(&enrolled).lines().filter(|l| l.trim().len() == 19 && l.trim().matches('-').count() == 3).count(),
        10
    );

    // Card secrets come on standard input, one a line, never as arguments; a missing one is named.
    let add = ["card", "add", "--expiry", "12/2030"];
    let no_cvc = inkan_fed(home, &profile, &add, "4000000000003220\n").await;
    assert_eq!(no_cvc.status.code(), Some(1), "{}", stderr(&no_cvc));
    assert!(stderr(&no_cvc).contains("no card security code on standard input"), "{}", stderr(&no_cvc));
    let card = inkan_fed(home, &profile, &add, "4000000000003220\n123\n").await;
    assert!(stdout(&card).contains("ChallengeRequired"), "{}", stderr(&card));
    let card_id = stdout(&card).split_whitespace().nth(1).unwrap().trim_end_matches(':').to_owned();
    let unverified = inkan(home, &profile, &["card", "verify", &card_id]).await;
    assert!(stderr(&unverified).contains("no card verification code on standard input"), "{}", stderr(&unverified));
    let verified = inkan_fed(home, &profile, &["card", "verify", &card_id], "123456\n").await;
    assert!(stdout(&verified).contains("Verified"), "{}", stderr(&verified));
    let topped = inkan(home, &profile, &["topup", "--card", &card_id, "--amount", "10000"]).await;
    assert!(stdout(&topped).contains("Balance: ¥10,000"), "{}", stderr(&topped));

    // The code as a PNG decodes to the code printed, and the till can charge it.
    let png = home.join("code.png");
    let code = inkan(home, &profile, &["code", "--png", png.to_str().unwrap()]).await;
    assert!(code.status.success(), "inkan code failed ({}): {}", code.status, stderr(&code));
    let text = stdout(&code).trim().to_owned();
    let image =
        std::fs::read(&png).unwrap_or_else(|e| panic!("no {}: {e}; inkan said {}", png.display(), stderr(&code)));
    assert_eq!(inkan_qr::decode_image(&image).unwrap(), vec![text.clone()]);
    let charge = till.charge_ok(&text, 1_280).await;

    let pending = inkan(home, &profile, &["pending"]).await;
    assert!(stdout(&pending).contains(&charge.id) && stdout(&pending).contains("¥1,280"), "{}", stdout(&pending));
    // Not a terminal and no --yes: it shows the charge and refuses to pay without asking.
    let unasked = inkan(home, &profile, &["approve", &charge.id]).await;
    assert!(!unasked.status.success());
    assert!(stdout(&unasked).contains("Pay ¥1,280 (1,280円) to Lawson Ebisu?"), "{}", stdout(&unasked));
    let paid = inkan(home, &profile, &["approve", &charge.id, "--yes"]).await;
    assert!(stdout(&paid).contains("succeeded"), "{}", stderr(&paid));
    let status = inkan(home, &profile, &["status"]).await;
    assert!(stdout(&status).contains("balance:   ¥8,720"), "{}", stdout(&status));

    // Limits: lowering at once; raising with the passkey, pending for 24 h.
    let lower =
        inkan(home, &profile, &["limits", "set", "--per-charge", "1000", "--daily", "2000", "--monthly", "3000"]).await;
    assert!(stdout(&lower).contains("per charge ¥1,000"), "{}", stderr(&lower));
    let raise =
        inkan(home, &profile, &["limits", "set", "--per-charge", "5000", "--daily", "9000", "--monthly", "9000"]).await;
    assert!(stdout(&raise).contains("raise to per charge ¥5,000"), "{}{}", stdout(&raise), stderr(&raise));

    // Freeze needs nothing. Unfreezing needs the passkey of a device in the wallet for 72 hours (this
    // one is minutes old: refused, saying so), or a recovery code.
    assert!(inkan(home, &profile, &["freeze"]).await.status.success());
    let code = inkan(home, &profile, &["code"]).await;
    let response = till.charge(stdout(&code).trim(), 100).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let refused = inkan(home, &profile, &["unfreeze"]).await;
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("72 hours"), "{}", stderr(&refused));
    let codes = recovery_codes_in(&stdout(&enrolled));
    // The code is not an argument: given one, parsing refuses before anything is sent.
    let in_args = inkan(home, &profile, &["unfreeze", "--recovery-code", &codes[9]]).await;
    assert_eq!(in_args.status.code(), Some(2), "{}", stderr(&in_args));
    assert!(stderr(&in_args).contains("unexpected argument"), "{}", stderr(&in_args));
    let missing = inkan(home, &profile, &["unfreeze", "--recovery-code"]).await;
    assert_eq!(missing.status.code(), Some(1), "{}", stderr(&missing));
    assert!(stderr(&missing).contains("no recovery code on standard input"), "{}", stderr(&missing));
    let wrong_codes =
        async || stdout(&inkan(home, &profile, &["feed"]).await).matches("A wrong recovery code was given").count();
    assert_eq!(wrong_codes().await, 0, "a missing recovery code reached the server");
    // A wrong one on standard input reaches the server, which refuses it and tells every device.
    let wrong = inkan_fed(home, &profile, &["unfreeze", "--recovery-code"], "AAAA-BBBB-CCCC-DDDD\n").await;
    assert_eq!(wrong.status.code(), Some(4), "{}", stderr(&wrong));
    assert!(stderr(&wrong).contains("not valid"), "{}", stderr(&wrong));
    // Once: the refusal is not taken for an ended session and sent again after a sign-in.
    assert_eq!(wrong_codes().await, 1, "one wrong recovery code was tried more than once");
    let unfrozen = inkan_fed(home, &profile, &["unfreeze", "--recovery-code"], &format!("{}\n", codes[9])).await;
    assert!(unfrozen.status.success(), "{}", stderr(&unfrozen));
    // New recovery codes, with the passkey: the old ones stop working.
    let replaced = inkan(home, &profile, &["recovery-codes"]).await;
    assert!(stdout(&replaced).contains("shown only this once"), "{}", stderr(&replaced));
    let new_codes = recovery_codes_in(&stdout(&replaced));
    assert_eq!(new_codes.len(), 10);
    assert!(inkan(home, &profile, &["freeze"]).await.status.success());
    let old = inkan(home, &profile, &["unfreeze", "--insecure-recovery-code", &codes[8]]).await;
    assert!(!old.status.success(), "an old recovery code still works");
    let unfrozen = inkan(home, &profile, &["unfreeze", "--insecure-recovery-code", &new_codes[0]]).await;
    assert!(unfrozen.status.success(), "{}", stderr(&unfrozen));

    // The history verifies and exports; the export verifies offline; the feed lists the notices.
    let export = home.join("history.jsonl");
    let history = inkan(home, &profile, &["history", "--export", export.to_str().unwrap()]).await;
    assert!(stdout(&history).contains("the hash chain and the issuer's signatures verify"), "{}", stderr(&history));
    verify_an_export_offline(home, &profile, &export, &server).await;
    let feed = inkan(home, &profile, &["feed"]).await;
    assert!(stdout(&feed).contains("Paid ¥1,280 to Lawson Ebisu"), "{}", stdout(&feed));
    assert!(stdout(&feed).contains("Wallet frozen"));

    // The session idles out on the server: the CLI signs in again with the passkey by itself.
    server.advance(time::Duration::minutes(10));
    let again = inkan(home, &profile, &["status"]).await;
    assert!(again.status.success(), "{}", stderr(&again));

    // --watch shows a fresh code each time, every one of them good at the till, in order.
    let watched = inkan(home, &profile, &["code", "--watch", "--count", "3", "--every", "0"]).await;
    let codes: Vec<String> = stdout(&watched).lines().map(str::to_owned).collect();
    assert_eq!(codes.len(), 3, "{}", stderr(&watched));
    assert!(codes[0] != codes[1] && codes[1] != codes[2]);
    till.charge_ok(&codes[2], 10).await;
    assert_eq!(
        till.charge(&codes[1], 10).await.status(),
        StatusCode::CONFLICT,
        "an older code dies when a newer one pays"
    );

    // Nothing the wallet printed, in any command above, holds its device key.
    let profile_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join(&profile).join("profile.json")).unwrap()).unwrap();
    let key_id = profile_json["key_id"].as_str().unwrap().to_owned();
    let keystore = inkan_keystore::Keystore::open(
        &inkan_client::profile::ProfileStore::new(home, &profile).unwrap().keystore_service(),
    )
    .unwrap();
    let pkcs8 = keystore.get(&format!("device-key/{key_id}")).unwrap().expect("the device key is in the OS keystore");
    let marker = [0x02, 0x01, 0x01, 0x04, 0x20];
    let at = pkcs8.windows(5).position(|w| w == marker).unwrap() + 5;
    let hex: String = pkcs8[at..at + 32].iter().map(|b| format!("{b:02x}")).collect();
    let printed = [
        &enrolled, &card, &verified, &topped, &code, &pending, &unasked, &paid, &status, &lower, &raise, &history,
        &feed, &again, &watched,
    ]
    .iter()
    .map(|o| format!("{}{}", stdout(o), stderr(o)))
    .collect::<String>();
    assert!(!printed.contains(&hex) && !printed.contains(&hex.to_uppercase()));
    for file in std::fs::read_dir(home.join(&profile)).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(!bytes.windows(32).any(|w| w == &pkcs8[at..at + 32]));
    }

    // A second device joins with a recovery code; a third waits until the first approves it.
    let account = stdout(&enrolled).lines().find_map(|l| l.strip_prefix("account:")).unwrap().trim().to_owned();
    // (The codes shown at enrolment were replaced above.)
    let recovery = new_codes[1].clone();
    // A wrong recovery code: refused with the server's code, and no profile is left behind. (The
    // device key it made is removed too, but its random id leaves nothing to look up here.)
    let failed = format!("{profile}-failed");
    let wrong = [
        "join",
        "--server",
        &server.url,
        "--origin",
        ORIGIN,
        "--account",
        &account,
        "--insecure-soft-passkey",
        "--insecure-recovery-code",
        "AAAA-BBBB-CCCC-DDDD",
    ];
    let refused_join = inkan(home, &failed, &wrong).await;
    assert_eq!(refused_join.status.code(), Some(4), "{}", stderr(&refused_join));
    assert!(!home.join(&failed).exists());
    let second = format!("{profile}-second");
    let join = ["join", "--server", &server.url, "--origin", ORIGIN, "--account", &account, "--insecure-soft-passkey"];
    let joined = inkan_fed(
        home,
        &second,
        &[&join[..], &["--device-name", "tablet", "--recovery-code"]].concat(),
        &format!("{recovery}\n"),
    )
    .await;
    assert!(joined.status.success(), "{}", stderr(&joined));
    let third = format!("{profile}-third");
    let waiting = {
        let (home, third) = (home.to_owned(), third.clone());
        let args: Vec<String> =
            join.iter().map(|a| a.to_string()).chain(["--device-name".into(), "laptop".into()]).collect();
        tokio::spawn(async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            inkan(&home, &third, &args).await
        })
    };
    let mut join_id = None;
    for _ in 0..100 {
        let listed = inkan(home, &profile, &["devices", "waiting"]).await;
        if let Some(id) = stdout(&listed).split_whitespace().next() {
            join_id = Some(id.to_owned());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let approved = inkan(home, &profile, &["devices", "approve", &join_id.expect("the join request is listed")]).await;
    assert!(stdout(&approved).contains("laptop"), "{}", stderr(&approved));
    let third_joined = tokio::time::timeout(std::time::Duration::from_secs(30), waiting).await.unwrap().unwrap();
    assert!(third_joined.status.success(), "{}", stderr(&third_joined));
    assert!(stderr(&third_joined).contains("Waiting for approval"));
    let devices = inkan(home, &profile, &["devices"]).await;
    assert_eq!(stdout(&devices).lines().count(), 3, "{}", stdout(&devices));
    // The tablet is revoked from the first device: its codes stop working at once.
    let tablet_code = inkan(home, &second, &["code"]).await;
    let tablet =
        stdout(&devices).lines().find(|l| l.contains("tablet")).unwrap().split_whitespace().next().unwrap().to_owned();
    assert!(inkan(home, &profile, &["devices", "revoke", &tablet]).await.status.success());
    assert_eq!(till.charge(stdout(&tablet_code).trim(), 10).await.status(), StatusCode::BAD_REQUEST);
    let laptop_code = inkan(home, &third, &["code"]).await;
    till.charge_ok(stdout(&laptop_code).trim(), 10).await;

    // The wallet's history rewritten in the server's database: every device refuses it, the one
    // that never loaded it before (the laptop) too, by the issuer's signature.
    let mallory = |seq: u64, p: &str| if seq == 1 { p.replace("Jiro", "Mallory") } else { p.to_owned() };
    server.rewrite_history(&account, false, mallory).await;
    for who in [&profile, &third] {
        let refused = inkan(home, who, &["history"]).await;
        assert!(!refused.status.success(), "{who} took a rewritten history");
        assert!(stderr(&refused).contains("history changed on the server"), "{}", stderr(&refused));
    }

    // A server that is not there: a clear error, its own exit code, and no secret left behind.
    let other = format!("{profile}-offline");
    let offline =
        inkan(home, &other, &["enroll", "--server", "http://127.0.0.1:9", "--name", "X", "--insecure-soft-passkey"])
            .await;
    assert_eq!(offline.status.code(), Some(3), "{}", stderr(&offline));
    assert!(stderr(&offline).contains("cannot reach the Inkan server"), "{}", stderr(&offline));
    assert!(!home.join(&other).exists());
    let forgotten = inkan(home, &profile, &["forget"]).await;
    assert!(forgotten.status.success());
    assert!(!inkan(home, &profile, &["status"]).await.status.success());
    server.stop().await;
}

/// `inkan history --verify`: the export passes with the pinned key and with the server's key
/// given; a changed, removed or moved notice, or another issuer's key, fails naming the line.
async fn verify_an_export_offline(home: &Path, profile: &str, export: &Path, server: &TestServer) {
    let text = std::fs::read_to_string(export).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 11, "a header and at least 10 notices: {text}");
    let path = export.to_str().unwrap();
    let pinned = inkan(home, profile, &["history", "--verify", path]).await;
    assert!(stdout(&pinned).contains("every link and every signature"), "{}", stderr(&pinned));
    let key = inkan_api::Base64Url(server.issuer_key().as_bytes().to_vec()).encode();
    let given = inkan(home, profile, &["history", "--verify", path, "--issuer-key", &key]).await;
    assert!(given.status.success(), "{}", stderr(&given));

    let paid = lines.iter().position(|l| l.contains("charge_succeeded")).unwrap();
    let tampered = home.join("tampered.jsonl");
    let check = async |lines: Vec<String>, key: Option<&str>, wanted: &str| {
        std::fs::write(&tampered, lines.join("\n") + "\n").unwrap();
        let mut args = vec!["history", "--verify", tampered.to_str().unwrap()];
        if let Some(key) = key {
            args.extend(["--issuer-key", key]);
        }
        let out = inkan(home, profile, &args).await;
        assert!(!out.status.success(), "{wanted}: a bad export verified");
        assert!(stderr(&out).contains(wanted), "wanted {wanted:?}: {}", stderr(&out));
    };
    let owned = || lines.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();
    // An amount changed.
    let mut changed = owned();
    changed[paid] = changed[paid].replace(r#"\"amount\":1280"#, r#"\"amount\":128"#);
    assert_ne!(changed[paid], lines[paid]);
    check(changed, None, format!("line {}: notice", paid + 1).as_str()).await;
    // A notice removed, and two swapped.
    let mut removed = owned();
    removed.remove(3);
    check(removed, None, "line 4: notice").await;
    let mut swapped = owned();
    swapped.swap(5, 6);
    check(swapped, None, "line 6: notice").await;
    // The end cut off: the header still says how many there were.
    let mut cut = owned();
    cut.pop();
    check(cut, None, "notices were removed from its end").await;
    // Another issuer's key, and a key that is not one.
    let other = inkan_api::Base64Url(vec![3; 32]).encode();
    check(owned(), Some(&other), "line 2: notice 1 is not signed with the issuer's key").await;
    check(owned(), Some("not-a-key"), "--issuer-key is not an Ed25519 public key").await;
    check(vec!["{}".to_owned()], None, "line 1: not the header").await;
    // Cut short, with the header's count made to match: consistent and signed, but it does not
    // hold what this device verified.
    let mut header: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    header["notices"] = serde_json::json!(lines.len() - 3);
    let mut cut = owned();
    cut.truncate(lines.len() - 2);
    cut[0] = header.to_string();
    check(cut, None, "does not hold the history this device verified").await;
    // Rewritten as whoever can write the database would: notice 1 changed and every hash after it
    // computed again. The issuer's signature on notice 1 no longer matches.
    let mut previous = inkan_core::history::GENESIS;
    let rewritten: Vec<String> = std::iter::once(lines[0].to_owned())
        .chain(lines[1..].iter().map(|line| {
            let mut event: inkan_api::feed::FeedEvent = serde_json::from_str(line).unwrap();
            if event.seq == 1 {
                event.payload = event.payload.replace("Jiro", "Mallory");
            }
            let at = i64::try_from(event.at.unix_timestamp_nanos() / 1_000_000).unwrap();
            previous = inkan_core::history::link(&previous, event.seq, at, &event.payload);
            event.hash = previous.iter().map(|b| format!("{b:02x}")).collect();
            serde_json::to_string(&event).unwrap()
        }))
        .collect();
    assert!(rewritten[1].contains("Mallory"), "{}", rewritten[1]);
    check(rewritten, None, "line 2: notice 1 is not signed with the issuer's key").await;
}

/// The recovery codes a command printed (`XXXX-XXXX-XXXX-XXXX`, one a line).
fn recovery_codes_in(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| l.len() == 19 && l.matches('-').count() == 3).map(str::to_owned).collect()
}
