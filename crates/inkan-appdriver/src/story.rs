//! The shopper's story, played on the real app window. Every step waits for what a person would
//! see, and fails with what the app showed instead.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use fantoccini::key::Key;
use inkan_pos::{ChargeRequest, CodeSource, Feedback, TerminalClient};

use crate::AppUnderTest;
use crate::desktop::{self, Elsewhere, Notifications};

/// Where the story plays.
#[derive(Debug)]
pub struct Setting<'a> {
    /// The terminal of the shop, signed in with its key.
    pub terminal: &'a TerminalClient,
    /// The shop's name as the server knows it (the Confirm sheet must show it).
    pub merchant: &'a str,
    pub server: &'a str,
    pub origin: &'a str,
    /// Where to keep a screenshot of every screen; `None` keeps none.
    pub screenshots: Option<&'a Path>,
    /// The desktop's notification service, when the story owns the display and the session bus
    /// (the end-to-end test): then one charge arrives while the shopper is in another window, the
    /// desktop must show its notification, and the shopper comes back and answers it with the
    /// keyboard alone. `None` (the demo, the bench) answers every charge in front, with clicks.
    pub desktop: Option<&'a Notifications>,
    /// axe-core's source (`ui/node_modules/axe-core/axe.min.js`): when given, every screen the
    /// story stops at is checked against WCAG 2.1 A and AA, and what is found is kept in
    /// [`Outcome::accessibility`].
    pub axe: Option<&'a str>,
    /// Where a second device of the wallet (the headless `inkan-client`, with an insecure software
    /// passkey) keeps its profile: when given, it joins with a recovery code, and the story removes
    /// it from the app's Security screen and checks it is locked out. `None` skips that part.
    pub second_device_home: Option<&'a Path>,
}

/// What happened, for the test to check and the demo to print.
#[derive(Debug, Default)]
pub struct Outcome {
    pub recovery_codes: usize,
    /// The payment codes read back from screenshots of the window and charged, in order.
    pub codes: Vec<String>,
    /// `(amount, status)` of each charge the terminal made.
    pub charges: Vec<(i64, String)>,
    pub balances: Vec<String>,
    pub screenshots: Vec<PathBuf>,
    pub export: String,
    /// What the app said when the wallet was closed.
    pub closed: String,
    /// `(screen, problem)` for every accessibility problem axe-core found.
    pub accessibility: Vec<(String, String)>,
}

impl Setting<'_> {
    /// A screen the story stops at: its screenshot, and its accessibility check.
    async fn shot(&self, app: &AppUnderTest, name: &str, outcome: &mut Outcome) -> Result<()> {
        if let Some(dir) = self.screenshots {
            outcome.screenshots.push(app.save_screenshot(dir, name).await?);
        }
        if let Some(axe) = self.axe {
            for problem in app.accessibility_problems(axe).await? {
                outcome.accessibility.push((name.to_owned(), problem));
            }
        }
        Ok(())
    }
}

/// Reads the payment code off the window: a screenshot, decoded with rqrr, as a till's camera would.
/// Waits for a code different from `previous` (each payment uses one code up). A screenshot taken
/// while the screen changes (a sheet closing, the language switching) may hold no readable code:
/// like a till's camera, it looks again.
async fn code_on_screen(app: &AppUnderTest, previous: Option<&str>) -> Result<(String, Vec<u8>)> {
    let deadline = tokio::time::Instant::now() + crate::WAIT;
    loop {
        app.find("pay-qr").await?;
        let png = app.screenshot().await?;
        let seen = match inkan_qr::decode_image(&png) {
            Ok(codes) => match codes.as_slice() {
                [code] if Some(code.as_str()) != previous => return Ok((code.clone(), png)),
                [_] => "only the code already used".to_owned(),
                _ => format!("{} codes", codes.len()),
            },
            Err(e) => format!("no code ({e})"),
        };
        if tokio::time::Instant::now() > deadline {
            bail!(
                "the window showed no new payment code within {} s (the last screenshot: {seen})",
                crate::WAIT.as_secs()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// How the shopper answers the Confirm sheet.
#[derive(Debug, Clone, Copy)]
enum Answer<'a> {
    /// In front of the app: a click on this button.
    Click(&'a str),
    /// In another window when the charge arrives: the desktop shows a notification naming the
    /// shop and the amount; the shopper comes back to the app and presses this button with the
    /// keyboard alone (Tab, Enter).
    FromElsewhere(&'a str, &'a Notifications),
}

/// The terminal charges `amount` to the code in `png` (as `inkan-pos charge --image` does) and
/// waits for the shopper's answer, while `answer` plays the shopper on the window.
async fn sale(
    setting: &Setting<'_>,
    app: &AppUnderTest,
    png: Vec<u8>,
    amount: i64,
    answer: Answer<'_>,
    outcome: &mut Outcome,
    shot: Option<&str>,
) -> Result<String> {
    let mut elsewhere = match answer {
        Answer::FromElsewhere(..) => Some(Elsewhere::open(app).await?),
        Answer::Click(_) => None,
    };
    let request = ChargeRequest { amount, description: Some("E2E".into()), code: CodeSource::ImageBytes(png) };
    let till = inkan_pos::charge(setting.terminal, &request, Feedback::Silent);
    let shopper = async {
        if let (Answer::FromElsewhere(_, notifications), Some(away)) = (answer, elsewhere.take()) {
            let shown = notifications
                .wait_for("of this charge", |n| {
                    n.body.contains(setting.merchant) && digits(&n.body).contains(&amount.to_string())
                })
                .await?;
            ensure!(!shown.summary.trim().is_empty(), "the notification has no title: {shown:?}");
            away.come_back(app).await?;
        }
        app.find("confirm-sheet").await?;
        let merchant = app.text("confirm-merchant").await?;
        ensure!(
            merchant.contains(setting.merchant),
            "the Confirm sheet names {merchant:?}, not {:?}",
            setting.merchant
        );
        let shown = app.text("confirm-amount").await?;
        ensure!(digits(&shown) == amount.to_string(), "the Confirm sheet shows {shown:?} for a charge of ¥{amount}");
        if let Some(name) = shot {
            setting.shot(app, name, outcome).await?;
        }
        match answer {
            Answer::Click(button) => app.click(button).await?,
            Answer::FromElsewhere(button, _) => answer_with_keyboard(app, button).await?,
        }
        app.wait_gone("confirm-sheet").await
    };
    let (charge, shown) = tokio::join!(till, shopper);
    shown?;
    let charge = charge.context("the terminal's charge")?;
    let status = serde_json::to_value(charge.status)?.as_str().unwrap_or_default().to_owned();
    outcome.charges.push((amount, status.clone()));
    Ok(status)
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// Answers the Confirm sheet with the keyboard alone: the sheet has the focus when it opens (no
/// button is pre-selected), Tab moves through its buttons without leaving it, Enter presses.
async fn answer_with_keyboard(app: &AppUnderTest, button: &str) -> Result<()> {
    let focused = app.focused().await?;
    ensure!(
        focused.as_deref() == Some("confirm-sheet"),
        "the Confirm sheet opened without the focus (it is on {focused:?})"
    );
    let inside = "return document.querySelector('[data-testid=\"confirm-sheet\"]').contains(document.activeElement);";
    for _ in 0..8 {
        app.press(&[Key::Tab]).await?;
        let focused = app.focused().await?;
        ensure!(
            app.client().execute(inside, Vec::new()).await?.as_bool() == Some(true),
            "Tab left the Confirm sheet (the focus is on {focused:?})"
        );
        if focused.as_deref() == Some(button) {
            return app.press(&[Key::Enter]).await;
        }
    }
    bail!("Tab never reached {button:?} on the Confirm sheet")
}

/// Creates a wallet on the onboarding screen (server, passkey origin, names) and stops at the
/// recovery codes, which must all be there with Continue still disabled; returns them.
pub async fn create_wallet(app: &AppUnderTest, server: &str, origin: &str) -> Result<Vec<String>> {
    app.fill("server", server).await?;
    app.click("advanced").await?;
    app.fill("origin", origin).await?;
    app.fill("display-name", "Hanako Yamada").await?;
    app.fill("device-name", "Hanako's laptop").await?;
    app.click("create-wallet").await?;
    app.find("recovery-codes").await?;
    let mut shown = Vec::new();
    for item in app.all("[data-testid=\"recovery-codes\"] li").await? {
        shown.push(item.text().await?);
    }
    let codes: Vec<String> = shown.iter().map(|code| code.trim().to_owned()).filter(|code| code.len() >= 8).collect();
    ensure!(codes.len() == shown.len() && !shown.is_empty(), "the recovery codes shown: {shown:?}");
    ensure!(!app.find("continue").await?.is_enabled().await?, "Continue is enabled before the codes are saved");
    Ok(codes)
}

/// Says the recovery codes are saved and goes on to the Pay screen.
pub async fn finish_onboarding(app: &AppUnderTest) -> Result<()> {
    app.click("saved-codes").await?;
    app.click("continue").await?;
    app.find("pay-qr").await.map(drop)
}

/// Where [`first_payment`] leaves the app: its recovery codes, and the code it paid with.
#[derive(Debug)]
pub struct FirstPayment {
    pub recovery_codes: Vec<String>,
    pub code: String,
}

/// From a fresh app (no wallet on the device yet) to its first payment: a new wallet with the
/// software passkey, the payment code read off the window, ¥10,000 added from a card, and a sale
/// of ¥1,280 approved with the passkey, which leaves ¥8,720. The installed package's test plays
/// this much; [`play`] goes on from here.
pub async fn first_payment(app: &AppUnderTest, setting: &Setting<'_>, outcome: &mut Outcome) -> Result<FirstPayment> {
    // Onboarding: a new wallet with the software passkey.
    app.find("onboarding").await?;
    if setting.desktop.is_some() {
        // A freshly opened app is in front (on Xvfb there is no window manager to do it).
        desktop::bring_app_to_front(app).await?;
    }
    setting.shot(app, "01-onboarding", outcome).await?;
    let recovery_codes = create_wallet(app, setting.server, setting.origin).await?;
    outcome.recovery_codes = recovery_codes.len();
    setting.shot(app, "02-recovery-codes", outcome).await?;
    finish_onboarding(app).await?;

    // Pay: the QR, read back from the window, and the live feed connected (no "offline").
    let (first, _) = code_on_screen(app, None).await?;
    app.wait_gone("offline-badge").await?;
    let text = app.find("code-text").await?.prop("textContent").await?.unwrap_or_default();
    ensure!(text.trim() == first, "the QR on screen and the code's text differ");
    setting.shot(app, "03-pay", outcome).await?;

    add_money(app, setting, outcome).await?;

    // A sale, approved with the passkey.
    let (code, png) = code_on_screen(app, None).await?;
    let status = sale(setting, app, png, 1_280, Answer::Click("approve"), outcome, Some("05-confirm")).await?;
    ensure!(status == "succeeded", "the approved charge ended {status}");
    if let Some(notifications) = setting.desktop {
        let shown = notifications.shown();
        ensure!(shown.is_empty(), "the app was in front, yet the desktop showed notifications: {shown:?}");
    }
    outcome.codes.push(code.clone());
    outcome.balances.push(app.wait_text("balance", "¥8,720", |t| t.contains("8,720")).await?);
    Ok(FirstPayment { recovery_codes, code })
}

/// Plays the whole story from a fresh app (no wallet on the device yet).
pub async fn play(app: &AppUnderTest, setting: &Setting<'_>) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let FirstPayment { recovery_codes, code } = first_payment(app, setting, &mut outcome).await?;
    app.click("nav-activity").await?;
    app.wait_css("[data-testid=\"activity-item\"][data-kind=\"charge_succeeded\"]").await?;
    setting.shot(app, "06-activity", &mut outcome).await?;

    // A sale the shopper declines (from another window, when the story owns the desktop).
    app.click("nav-pay").await?;
    let (code, png) = code_on_screen(app, Some(&code)).await?;
    let answer = match setting.desktop {
        Some(notifications) => Answer::FromElsewhere("decline", notifications),
        None => Answer::Click("decline"),
    };
    let status = sale(setting, app, png, 500, answer, &mut outcome, None).await?;
    ensure!(status == "declined", "the declined charge ended {status}");
    outcome.codes.push(code.clone());

    // A sale the shopper did not make: declined and the wallet frozen in one step.
    let (code, png) = code_on_screen(app, Some(&code)).await?;
    let status = sale(setting, app, png, 300, Answer::Click("not-me"), &mut outcome, None).await?;
    ensure!(status == "declined", "the charge reported as not mine ended {status}");
    outcome.codes.push(code);
    app.find("frozen-banner").await?;
    ensure!(!app.present("pay-qr").await?, "a frozen wallet still shows a payment code");
    setting.shot(app, "07-frozen", &mut outcome).await?;
    outcome.balances.push(app.wait_text("balance", "¥8,720", |t| t.contains("8,720")).await?);

    activity_and_limits(app, setting, &mut outcome).await?;

    security(app, setting, &recovery_codes).await?;
    setting.shot(app, "09-security", &mut outcome).await?;

    language_and_theme(app, setting, &mut outcome).await?;
    close_wallet(app, setting, &mut outcome).await?;
    Ok(outcome)
}

/// Add money from a card: the app's own Mastercard, ¥10,000.
async fn add_money(app: &AppUnderTest, setting: &Setting<'_>, outcome: &mut Outcome) -> Result<()> {
    app.click("add-money").await?;
    // A card of its own (the demo's command-line wallet, on the same server, has the Visa 4242).
    app.fill("card-number", "5555 5555 5555 4444").await?;
    app.fill("card-exp-month", "12").await?;
    app.fill("card-exp-year", "2030").await?;
    app.fill("card-cvc", "123").await?;
    app.click("add-card").await?;
    app.fill("topup-amount", "10000").await?;
    app.click("top-up").await?;
    app.find("topup-done").await?;
    setting.shot(app, "04-add-money", outcome).await?;
    app.click("topup-close").await?;
    app.wait_gone("topup-done").await?;
    app.click("nav-pay").await?;
    outcome.balances.push(app.wait_text("balance", "¥10,000", |t| t.contains("10,000")).await?);
    Ok(())
}

/// Activity filtered to security notices (the freeze is there), the history exported, and the
/// limits lowered (applied at once).
async fn activity_and_limits(app: &AppUnderTest, setting: &Setting<'_>, outcome: &mut Outcome) -> Result<()> {
    // Activity, filtered to security notices: the freeze is there.
    app.click("nav-activity").await?;
    app.click("filter-security").await?;
    app.wait_css("[data-testid=\"activity-item\"][data-kind=\"wallet_frozen\"]").await?;
    ensure!(
        app.all("[data-testid=\"activity-item\"][data-kind=\"charge_succeeded\"]").await?.is_empty(),
        "the security filter still shows payments"
    );
    app.click("filter-all").await?;
    app.click("export-history").await?;
    outcome.export = app.wait_text("export-result", "where the history was saved", |t| t.contains(".jsonl")).await?;

    // Limits: lowering applies at once.
    app.click("nav-limits").await?;
    app.fill("limit-per-charge", "20000").await?;
    app.fill("limit-daily", "30000").await?;
    app.fill("limit-monthly", "100000").await?;
    app.click("save-limits").await?;
    app.wait_text("limits-result", "the new limits", |t| !t.trim().is_empty()).await?;
    setting.shot(app, "08-limits", outcome).await?;
    Ok(())
}

/// Settings: Japanese, then the Pay screen with amounts as 円; the dark theme, where the QR still
/// reads and the screens still meet their contrast.
async fn language_and_theme(app: &AppUnderTest, setting: &Setting<'_>, outcome: &mut Outcome) -> Result<()> {
    // Settings: Japanese, then the Pay screen in Japanese with amounts as 円.
    app.click("nav-settings").await?;
    app.find("language").await?.select_by_value("ja").await?;
    setting.shot(app, "10-settings", outcome).await?;
    app.click("nav-pay").await?;
    outcome.balances.push(app.wait_text("balance", "8,720円", |t| t.contains("8,720円")).await?);
    code_on_screen(app, None).await?;
    setting.shot(app, "11-pay-ja", outcome).await?;

    // The dark theme: the QR still reads, and the screens still meet their contrast.
    app.click("nav-settings").await?;
    app.find("theme").await?.select_by_value("dark").await?;
    app.click("nav-pay").await?;
    code_on_screen(app, None).await?;
    setting.shot(app, "12-pay-dark", outcome).await?;
    app.click("nav-activity").await?;
    app.find("activity-item").await?;
    setting.shot(app, "13-activity-dark", outcome).await?;
    Ok(())
}

/// The shopper leaves: Security → Close wallet, asked twice and confirmed with the passkey; the
/// balance is paid back to the card that topped the wallet up (the Mastercard …4444), and the Pay
/// screen shows no payment code again.
async fn close_wallet(app: &AppUnderTest, setting: &Setting<'_>, outcome: &mut Outcome) -> Result<()> {
    app.click("nav-security").await?;
    app.click("close-wallet").await?;
    app.click("close-confirm").await?;
    let said = app.wait_text("closed", "where the balance went", |t| t.contains("8,720") && t.contains("4444")).await?;
    outcome.closed = said;
    setting.shot(app, "14-closed", outcome).await?;
    app.click("nav-pay").await?;
    app.find("frozen-banner").await?;
    ensure!(!app.present("pay-qr").await?, "a closed wallet still shows a payment code");
    Ok(())
}

/// Security, on a frozen wallet: a second device joins (with a recovery code) and is removed from
/// here with the passkey, locked out at once; then the freeze rule: this device is minutes old, so
/// its passkey cannot lift the freeze (the app says so in its words), and a recovery code can.
async fn security(app: &AppUnderTest, setting: &Setting<'_>, recovery_codes: &[String]) -> Result<()> {
    let tablet = match setting.second_device_home {
        Some(home) => Some(join_second_device(app, setting, home, &recovery_codes[1]).await?),
        None => None,
    };
    app.click("nav-security").await?;
    app.find("device-item").await?;
    if let Some(mut tablet) = tablet {
        remove_second_device(app, &mut tablet).await?;
    }
    app.click("unfreeze").await?;
    app.wait_css("[data-code=\"unfreeze_not_allowed\"]").await?;
    app.find("unfreeze-rule").await?;
    app.fill("unfreeze-code", &recovery_codes[0]).await?;
    app.click("unfreeze-with-code").await?;
    app.find("freeze").await.map(drop)
}

/// A second device joins the app's wallet from a headless `inkan-client` profile under `home`,
/// with a recovery code (the account id is read off the Security screen).
async fn join_second_device(
    app: &AppUnderTest,
    setting: &Setting<'_>,
    home: &Path,
    recovery_code: &str,
) -> Result<inkan_client::Wallet> {
    app.click("nav-security").await?;
    let account_id = app.text("account-id").await?.trim().to_owned();
    let store = inkan_client::profile::ProfileStore::new(home, "story-tablet")?;
    let server = inkan_client::wallet::Server {
        url: url::Url::parse(setting.server)?,
        origin: url::Url::parse(setting.origin)?,
    };
    let choice = inkan_client::wallet::PasskeyChoice::InsecureSoftPasskey;
    let tablet = inkan_client::Wallet::join(
        store,
        server,
        &account_id,
        "Hanako's tablet",
        Some(recovery_code.to_owned()),
        choice,
        |_| {},
    )
    .await
    .context("the second device joining with a recovery code")?;
    Ok(tablet)
}

/// Removes the second device on the Security screen (confirming with the passkey), and checks that
/// it can no longer sign in.
async fn remove_second_device(app: &AppUnderTest, tablet: &mut inkan_client::Wallet) -> Result<()> {
    // The list shows it once the app hears of it (the `device_added` notice) or on a reload.
    let mut tries = 0;
    while app.all("[data-testid=\"revoke-device\"]").await?.is_empty() {
        tries += 1;
        ensure!(tries < 50, "the second device never appeared on the Security screen");
        app.click("nav-pay").await?;
        app.click("nav-security").await?;
    }
    app.click("revoke-device").await?;
    app.click("revoke-confirm").await?;
    app.wait_css("[data-testid=\"device-item\"].is-inactive").await?;
    match tablet.sign_in().await {
        Err(e) if e.code() == Some(inkan_api::ErrorCode::DeviceRevoked) => Ok(()),
        Err(e) => bail!("the removed device's sign-in failed otherwise than as removed: {e}"),
        Ok(()) => bail!("the removed device could still sign in"),
    }
}
