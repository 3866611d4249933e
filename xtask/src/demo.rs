//! `cargo xtask demo`: the product story, headless, as a newcomer would watch it.
//!
//! A fresh `inkan-server` on a new SQLite file; a merchant and its terminal; a shopper's wallet
//! (`inkan`) enrolled with a software passkey and a device key in the OS keystore (a throwaway
//! gnome-keyring); a ¥10,000 top-up; the payment code written as a PNG; `inkan-pos --scan` charging
//! ¥1,280; the wallet hearing of it on the live feed and approving with its passkey; both sides'
//! results; the notices; and the same code refused a second time. Everything it made is removed
//! at the end, except the QR image in `target/demo/`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{cargo, root, run_step};

/// Set inside the keyring session, where the story itself runs.
const INSIDE: &str = "INKAN_DEMO_INSIDE_KEYRING";

/// Set (to the tauri-driver path) when the demo also plays the app's story (unless `--no-app`).
const WITH_APP: &str = "INKAN_DEMO_APP_DRIVER";
/// The desktop's own session bus, kept for the app the demo opens on a desktop: the demo itself
/// runs on a throwaway bus (its keyring), where no notification service would ever answer.
const DESKTOP_BUS: &str = "INKAN_DEMO_DESKTOP_BUS";

pub fn run(args: &[String]) -> Result<()> {
    if std::env::var_os(INSIDE).is_some() {
        return story();
    }
    let with_app = match args {
        [] => true,
        [flag] if flag == "--no-app" => false,
        _ => bail!("usage: cargo xtask demo [--no-app]"),
    };
    run_step(
        "building inkan-server, inkan and inkan-pos",
        cargo().args(["build", "--quiet", "-p", "inkan-server", "-p", "inkan-cli", "-p", "inkan-pos"]),
    )?;
    let mut inner = Command::new(std::env::current_exe().context("finding the xtask binary")?);
    inner.arg("demo").env(INSIDE, "1").current_dir(root());
    if let Some(bus) = std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
        inner.env(DESKTOP_BUS, bus);
    }
    if with_app {
        crate::app::system_packages()?;
        crate::app::ui_build()?;
        run_step(
            "building the app (inkan-wallet) and its driver",
            cargo().args(["build", "--quiet", "-p", "inkan-wallet", "-p", "inkan-appdriver"]),
        )?;
        inner.env(WITH_APP, crate::app::tauri_driver()?);
    }
    // The wallet keeps its secrets only in an OS keystore: give it a throwaway one.
    let keyring = crate::keyring::Session::new()?;
    let status = keyring.wrap(&inner).status().context("starting the keyring session")?;
    if !status.success() {
        bail!("the demo failed ({status})");
    }
    Ok(())
}

/// Where cargo put the binaries.
fn bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    target.join("debug").join(name)
}

struct Demo {
    dir: tempfile_dir::Dir,
    server_url: String,
    server: Option<Child>,
}

/// A temporary directory removed on drop (std only; xtask keeps its dependencies few).
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> std::io::Result<Dir> {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let path = std::env::temp_dir().join(format!("inkan-demo-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&path)?;
            Ok(Dir(path))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
            let _ = server.wait();
        }
    }
}

fn say(title: &str) {
    println!("\n── {title}");
}

/// The output of a program that succeeded, or an error (its output shown).
fn succeeded(shown: &str, output: Output) -> Result<Output> {
    if !output.status.success() {
        show(&output);
        bail!("{shown} failed ({})", output.status);
    }
    Ok(output)
}

/// A program's output, progress and warnings (stderr) before results (stdout).
fn show(output: &Output) {
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        if !line.starts_with("warning: using an INSECURE") {
            println!("   {line}");
        }
    }
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        println!("   {line}");
    }
}

impl Demo {
    fn wallet(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bin("inkan"));
        command.args(args).env("INKAN_HOME", self.dir.path().join("wallet")).env("INKAN_SERVER", &self.server_url);
        command
    }

    fn run(&self, mut command: Command) -> Result<Output> {
        let shown = format!("{:?}", command.get_program());
        let output = command.output().with_context(|| format!("running {shown}"))?;
        succeeded(&shown, output)
    }

    /// Runs `command` with `input` on its standard input: how a script gives `inkan` its secrets
    /// (never as arguments, which `ps` and shell history show).
    fn run_fed(&self, mut command: Command, input: &str) -> Result<Output> {
        let shown = format!("{:?}", command.get_program());
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running {shown}"))?;
        // Dropped at the end of the statement: the input ends there.
        child.stdin.take().context("its standard input")?.write_all(input.as_bytes())?;
        let output = child.wait_with_output().with_context(|| format!("running {shown}"))?;
        succeeded(&shown, output)
    }

    fn pos(&self, png: &Path) -> Command {
        let mut command = Command::new(bin("inkan-pos"));
        command
            .args(["charge", "--amount", "1280", "--description", "bento and green tea", "--scan"])
            .arg(png)
            .args(["--server", &self.server_url, "--key-file"])
            .arg(self.dir.path().join("terminal.key"));
        command
    }
}

fn story() -> Result<()> {
    let dir = tempfile_dir::Dir::new().context("making a temporary directory")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    // `localhost`, not 127.0.0.1: passkeys need a proper origin.
    let server_url = format!("http://localhost:{port}");
    let database = format!("sqlite://{}", dir.path().join("inkan.db").display());
    let mut demo = Demo { dir, server_url, server: None };
    let out = root().join("target").join("demo");
    std::fs::create_dir_all(&out)?;

    println!("Inkan demo: a shopper pays ¥1,280 at a till, confirmed with a passkey.");
    start_server(&mut demo, &database, port)?;
    set_up_till(&demo, &database)?;
    set_up_wallet(&demo)?;
    let (png, code) = pay_at_the_till(&demo, &out)?;
    refuse_attacks(&demo, &png, &code)?;

    say("12. Hanako's wallet afterwards");
    show(&demo.run(demo.wallet(&["status"]))?);
    show(&demo.run(demo.wallet(&["history"]))?);
    demo.run(demo.wallet(&["forget"]))?;

    if std::env::var_os(WITH_APP).is_some() {
        app_story(&demo, &out)?;
    }
    println!("\nDemo done. The server, its database, the wallet and its keys are removed;");
    println!("the QR image stays at {}.", png.display());
    Ok(())
}

/// Act 1: the issuer server on a fresh SQLite file, with its issuer key.
fn start_server(demo: &mut Demo, database: &str, port: u16) -> Result<()> {
    say("1. The issuer server starts on a fresh SQLite file");
    let log = std::fs::File::create(demo.dir.path().join("server.log"))?;
    // The key that signs every history head: kept apart from the database, readable by its owner.
    let issuer_key = demo.dir.path().join("issuer.pem");
    let mut create_key = Command::new(bin("inkan-server"));
    create_key.args(["admin", "issuer-key", "create", "--out"]).arg(&issuer_key);
    demo.run(create_key)?;
    let server = Command::new(bin("inkan-server"))
        .args(["--database", database, "serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--rp-id", "localhost", "--rp-origin", &demo.server_url, "--funding", "sandbox", "--issuer-key"])
        .arg(&issuer_key)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting inkan-server")?;
    demo.server = Some(server);
    wait_healthy(port)?;
    println!("   listening at {}", demo.server_url);
    Ok(())
}

/// Act 2: the operator adds a merchant and its terminal; the till keeps the terminal's key.
fn set_up_till(demo: &Demo, database: &str) -> Result<()> {
    say("2. The operator adds a merchant and its terminal");
    let admin = |args: &[&str]| {
        let mut c = Command::new(bin("inkan-server"));
        c.args(["--database", database, "admin"]).args(args);
        c
    };
    let merchant = demo.run(admin(&["merchant", "create", "--name", "FamilyMart Shibuya"]))?;
    let merchant_id = String::from_utf8(merchant.stdout)?.trim().to_owned();
    let terminal = demo.run(admin(&["terminal", "create", "--merchant", &merchant_id, "--country", "JP"]))?;
    let printed = String::from_utf8(terminal.stdout)?;
    let key = printed.lines().find_map(|l| l.strip_prefix("key ")).context("no terminal key printed")?;
    write_private(&demo.dir.path().join("terminal.key"), key)?;
    println!("   merchant {merchant_id} (FamilyMart Shibuya), terminal key stored for the till");
    Ok(())
}

/// Acts 3 and 4: Hanako's wallet, a card and ¥10,000 on it.
fn set_up_wallet(demo: &Demo) -> Result<()> {
    say("3. Hanako creates her wallet: a passkey, a device key in the OS keystore, recovery codes");
    let enroll = demo.run(demo.wallet(&[
        "enroll",
        "--name",
        "Hanako",
        "--insecure-soft-passkey",
        "--device-name",
        "Hanako's phone",
    ]))?;
    show(&enroll);

    say("4. She adds a card and tops up ¥10,000");
    // The card number and security code on standard input, one a line (in a terminal, `inkan`
    // asks for them without echo).
    let card = demo.run_fed(demo.wallet(&["card", "add", "--expiry", "12/2030"]), "4242424242424242\n123\n")?;
    show(&card);
    let card_id = String::from_utf8(card.stdout)?
        .split_whitespace()
        .nth(1)
        .map(|s| s.trim_end_matches(':').to_owned())
        .context("no card id")?;
    show(&demo.run(demo.wallet(&["topup", "--card", &card_id, "--amount", "10000"]))?);
    Ok(())
}

/// Acts 5 to 9: the payment, from the live feed to the till's receipt. The QR image and the code.
fn pay_at_the_till(demo: &Demo, out: &Path) -> Result<(PathBuf, String)> {
    say("5. Her phone listens to the live feed");
    let mut feed = demo.wallet(&["feed", "--follow"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let lines = lines_of(feed.stdout.take().context("feed output")?);
    for line in collect_for(&lines, Duration::from_secs(2)) {
        println!("   {line}");
    }

    say("6. At the till she shows her payment code (written as a PNG)");
    let png = out.join("payment-code.png");
    let code = demo.run(demo.wallet(&["code", "--png", png.to_str().context("path")?]))?;
    let code = String::from_utf8(code.stdout)?.trim().to_owned();
    println!("   {code}");
    println!("   QR image: {}", png.display());

    say("7. The cashier scans it and charges ¥1,280");
    let till = demo.pos(&png).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;

    say("8. The charge reaches her phone over the live feed; she approves with her passkey");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .context("no charge reached the wallet")?;
        println!("   feed: {line}");
        if line.contains("asks for") {
            break;
        }
    }
    let pending = demo.run(demo.wallet(&["pending"]))?;
    let charge_id =
        String::from_utf8(pending.stdout)?.split_whitespace().next().map(str::to_owned).context("no pending charge")?;
    show(&demo.run(demo.wallet(&["approve", &charge_id, "--yes"]))?);

    say("9. The till prints its receipt");
    let receipt = till.wait_with_output()?;
    show(&receipt);
    if !receipt.status.success() {
        bail!("the till did not get paid ({})", receipt.status);
    }
    for line in collect_for(&lines, Duration::from_millis(800)) {
        println!("   feed: {line}");
    }
    let _ = feed.kill();
    let _ = feed.wait();
    Ok((png, code))
}

/// Acts 10 and 11: a replayed QR and an altered code are refused.
fn refuse_attacks(demo: &Demo, png: &Path, code: &str) -> Result<()> {
    say("10. Someone replays the same QR code (a screenshot): refused");
    let replay = demo.pos(png).output()?;
    show(&replay);
    if replay.status.success() {
        bail!("the same code paid twice");
    }

    say("11. Someone alters one character of a code: refused");
    let mut tampered: Vec<char> = code.chars().collect();
    if let Some(c) = tampered.get_mut(70) {
        *c = if *c == 'A' { 'B' } else { 'A' };
    }
    let tampered: String = tampered.into_iter().collect();
    let mut forged = Command::new(bin("inkan-pos"));
    forged
        .args(["charge", "--amount", "1280", "--code", &tampered, "--server", &demo.server_url, "--key-file"])
        .arg(demo.dir.path().join("terminal.key"));
    let forged = forged.output()?;
    show(&forged);
    if forged.status.success() {
        bail!("a tampered code paid");
    }
    Ok(())
}

/// The wallet app: on a desktop, opened for the person to use against this server; with no display,
/// played on a virtual one (Xvfb) through its window, with a screenshot of every screen.
fn app_story(demo: &Demo, out: &Path) -> Result<()> {
    let home = demo.dir.path().join("app");
    if std::env::var_os("DISPLAY").is_some() && std::env::var_os("INKAN_DEMO_HEADLESS").is_none() {
        say("13. The wallet app opens on your display, on this server: create a wallet and pay");
        println!(
            "   (a till: `inkan-pos charge --amount 500 --scan <screenshot> --server {} --key-file …`)",
            demo.server_url
        );
        println!("   Close the window to end the demo. INKAN_DEMO_HEADLESS=1 plays it by itself instead.");
        // On the desktop's own bus, the app keeps its keys in the desktop's keystore and shows its
        // notifications the way it would for anyone; they are removed again when it closes.
        let desktop_bus = std::env::var_os(DESKTOP_BUS);
        let on_desktop = |command: &mut Command| {
            command.env("INKAN_HOME", &home).env("INKAN_PROFILE", "app");
            if let Some(bus) = &desktop_bus {
                command.env("DBUS_SESSION_BUS_ADDRESS", bus);
            }
        };
        let mut app = Command::new(bin("inkan-wallet"));
        on_desktop(app.env("INKAN_SERVER", &demo.server_url));
        let status = app.status().context("starting the app")?;
        let mut forget = Command::new(bin("inkan"));
        on_desktop(forget.arg("forget").stdout(Stdio::null()).stderr(Stdio::null()));
        // Nothing to remove if no wallet was made in the window.
        let _ = forget.status();
        if !status.success() {
            bail!("the app ended with {status}");
        }
        return Ok(());
    }
    say("13. The same story in the wallet app, played through its window on a virtual display");
    let display = crate::app::Display::start()?;
    let shots = out.join("app");
    let _ = std::fs::remove_dir_all(&shots);
    let driver = std::env::var(WITH_APP).unwrap_or_else(|_| "tauri-driver".into());
    let mut play = Command::new(bin("inkan-app-story"));
    play.args(["--server", &demo.server_url, "--merchant", "FamilyMart Shibuya", "--tauri-driver", &driver])
        .arg("--terminal-key-file")
        .arg(demo.dir.path().join("terminal.key"))
        .arg("--app")
        .arg(bin("inkan-wallet"))
        .arg("--home")
        .arg(&home)
        .arg("--screenshots")
        .arg(&shots)
        .env("DISPLAY", &display.name);
    show(&demo.run(play)?);
    println!("   every screen: {}", shots.display());
    Ok(())
}

fn wait_healthy(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("inkan-server did not come up on port {port}")
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

fn lines_of(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The lines that arrive within `quiet` of each other.
fn collect_for(lines: &mpsc::Receiver<String>, quiet: Duration) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(line) = lines.recv_timeout(quiet) {
        out.push(line);
    }
    out
}
