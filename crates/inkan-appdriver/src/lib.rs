//! Drives the real wallet app: the `inkan-wallet` binary in its own window (WebKitGTK), launched
//! by `tauri-driver` and steered over WebDriver with `fantoccini`, exactly as a person would use
//! it — through the elements they see, found by their `data-testid`.
//!
//! [`story::play`] is the shopper's story (onboard, add money, pay, decline, "this wasn't me",
//! limits, security, settings, and at the end closing the wallet). The end-to-end test runs it against an in-process server and
//! checks every outcome; `cargo xtask demo` runs it against the real server binary and keeps a
//! screenshot of every screen.

pub mod desktop;
pub mod story;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use tokio::process::{Child, Command};

/// How long an element may take to appear (a passkey ceremony and a server round trip included).
pub const WAIT: Duration = Duration::from_secs(20);

/// What the app is launched with.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The app binary, built with the `tauri/custom-protocol` feature (so it loads its own UI).
    pub app: PathBuf,
    /// `tauri-driver` (installed by `cargo xtask test`).
    pub tauri_driver: PathBuf,
    /// Environment for the app: `INKAN_HOME`, `INKAN_SERVER`, `INKAN_ORIGIN`, `DISPLAY`, …
    pub env: Vec<(String, String)>,
}

impl Launch {
    /// The app at `app`, with its wallet profile in `home` (a fresh directory), talking to
    /// `server`, whose passkeys are for `origin`.
    pub fn new(app: PathBuf, tauri_driver: PathBuf, home: &Path, server: &str, origin: &str) -> Launch {
        let env = [
            ("INKAN_HOME", home.display().to_string()),
            ("INKAN_SERVER", server.to_owned()),
            ("INKAN_ORIGIN", origin.to_owned()),
            ("INKAN_DEVICE_NAME", "Hanako's laptop".to_owned()),
        ];
        Launch { app, tauri_driver, env: env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect() }
    }
}

/// The app, running in its window, and the WebDriver session that steers it.
#[derive(Debug)]
pub struct AppUnderTest {
    client: Client,
    driver: Child,
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn by_id(testid: &str) -> String {
    format!("[data-testid=\"{testid}\"]")
}

impl AppUnderTest {
    /// Starts `tauri-driver`, which starts the app; returns once the window is up.
    pub async fn launch(launch: &Launch) -> Result<AppUnderTest> {
        if !launch.app.is_file() {
            bail!("no app binary at {}: build it with `cargo xtask test` (or `cargo xtask app`)", launch.app.display());
        }
        let port = free_port()?;
        let native_port = free_port()?;
        let mut command = Command::new(&launch.tauri_driver);
        command
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut driver = command.spawn().with_context(|| {
            format!(
                "could not start {}: install it with `cargo install tauri-driver --locked`",
                launch.tauri_driver.display()
            )
        })?;
        // Wait (bounded) for both to listen: tauri-driver binds its port at once, but forwards the
        // session request to WebKitWebDriver, which starts beside it and listens a moment later. A
        // request that arrives in between fails with an empty error.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        for listening in [port, native_port] {
            while tokio::net::TcpStream::connect(("127.0.0.1", listening)).await.is_err() {
                if let Some(status) = driver.try_wait()? {
                    bail!("tauri-driver exited at once ({status}): is WebKitWebDriver (webkit2gtk-driver) installed?");
                }
                if tokio::time::Instant::now() > deadline {
                    bail!(
                        "tauri-driver (or the WebKitWebDriver it starts) did not listen on port {listening} within 15 s"
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": launch.app.canonicalize()?.display().to_string() }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .context(
                "could not open a WebDriver session with the app (is WebKitWebDriver installed, and a display set?)",
            )?;
        Ok(AppUnderTest { client, driver })
    }

    /// tauri-driver's process id: WebKitWebDriver runs below it, and the app below that.
    pub fn driver_pid(&self) -> Option<u32> {
        self.driver.id()
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The element with `data-testid`, once it is there.
    pub async fn find(&self, testid: &str) -> Result<Element> {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(&by_id(testid)))
            .await
            .with_context(|| format!("no element {testid:?} appeared within {} s", WAIT.as_secs()))
    }

    /// Every element matching a CSS selector, now (possibly none).
    pub async fn all(&self, css: &str) -> Result<Vec<Element>> {
        Ok(self.client.find_all(Locator::Css(css)).await?)
    }

    /// Whether an element with `data-testid` is there now.
    pub async fn present(&self, testid: &str) -> Result<bool> {
        Ok(!self.all(&by_id(testid)).await?.is_empty())
    }

    pub async fn click(&self, testid: &str) -> Result<()> {
        let element = self.find(testid).await?;
        // As a person would, scroll it to the middle of the screen first: at the very bottom, the
        // fixed navigation bar would lie over it (WebDriver scrolls it just into view).
        self.client
            .execute(
                "arguments[0].scrollIntoView({ block: 'center', inline: 'nearest', behavior: 'instant' });",
                vec![serde_json::to_value(&element)?],
            )
            .await
            .with_context(|| format!("could not scroll to {testid:?}"))?;
        // And once the screen stands still: a click in the middle of a screen's entrance lands
        // where the element was a moment ago (seen once in CI: "close-wallet" clicked, nothing).
        self.settled().await?;
        // WebKitWebDriver often sends an error with an empty message: its kind says what it was
        // (not interactable, click intercepted, stale element).
        element.click().await.map_err(|e| anyhow::anyhow!("could not click {testid:?}: {e:?}"))
    }

    /// Replaces the text of an input.
    pub async fn fill(&self, testid: &str, text: &str) -> Result<()> {
        let input = self.find(testid).await?;
        input.clear().await.with_context(|| format!("could not clear {testid:?}"))?;
        input.send_keys(text).await.with_context(|| format!("could not type into {testid:?}"))
    }

    /// The text of `testid` as a person sees it, read once the screen has settled (see
    /// [`AppUnderTest::settled`]).
    pub async fn text(&self, testid: &str) -> Result<String> {
        let element = self.find(testid).await?;
        self.settled().await?;
        Ok(element.text().await?)
    }

    /// Waits (bounded) until the screen's finite animations have ended, such as a sheet rising.
    /// What WebDriver reads of an element in the middle of one is not what a person sees: at the
    /// start of the sheet's fade-in its visible text is empty, and its colours are too faint.
    pub async fn settled(&self) -> Result<()> {
        let script = r#"
            const [ms, done] = arguments;
            const settling = document
                .getAnimations()
                .filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
                .map((a) => a.finished.catch(() => null));
            const late = new Promise((resolve) => setTimeout(() => resolve(false), ms));
            Promise.race([Promise.all(settling).then(() => true), late]).then(done);
        "#;
        let ms = u64::try_from(WAIT.as_millis()).unwrap_or(u64::MAX);
        let ended = self.client.execute_async(script, vec![serde_json::json!(ms)]).await?;
        if ended.as_bool() != Some(true) {
            bail!("the screen's animations did not end within {} s", WAIT.as_secs());
        }
        Ok(())
    }

    /// Waits (bounded) until `check` holds for the text of `testid`; returns that text.
    pub async fn wait_text(&self, testid: &str, what: &str, check: impl Fn(&str) -> bool) -> Result<String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let text = match self.all(&by_id(testid)).await?.first() {
                Some(e) => e.text().await.unwrap_or_default(),
                None => String::new(),
            };
            if check(&text) {
                return Ok(text);
            }
            if tokio::time::Instant::now() > deadline {
                let error = self.visible_error().await;
                bail!("{testid:?} never showed {what} within {} s (it shows {text:?}){error}", WAIT.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits (bounded) until an element matching `css` is there.
    pub async fn wait_css(&self, css: &str) -> Result<Element> {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("nothing matched {css:?} within {} s", WAIT.as_secs()))
    }

    /// Waits (bounded) until no element with `testid` is there.
    pub async fn wait_gone(&self, testid: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.present(testid).await? {
            if tokio::time::Instant::now() > deadline {
                bail!("{testid:?} was still there after {} s{}", WAIT.as_secs(), self.visible_error().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// The error the app shows, if any, for a failure message.
    async fn visible_error(&self) -> String {
        let mut shown = Vec::new();
        if let Ok(errors) = self.all(&by_id("error")).await {
            for e in errors {
                if let Ok(t) = e.text().await {
                    shown.push(t);
                }
            }
        }
        if shown.is_empty() { String::new() } else { format!("; the app shows the error {shown:?}") }
    }

    /// Whether the app's page has the keyboard focus (`document.hasFocus()`): its window is the
    /// one in front.
    pub async fn has_focus(&self) -> Result<bool> {
        let answer = self.client.execute("return document.hasFocus();", Vec::new()).await?;
        answer.as_bool().with_context(|| format!("document.hasFocus() answered {answer}"))
    }

    /// Presses keys, one after the other, on whatever has the focus (WebDriver actions, as a
    /// keyboard would: no element is targeted).
    pub async fn press(&self, keys: &[fantoccini::key::Key]) -> Result<()> {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let mut actions = KeyActions::new("keyboard".to_owned());
        for key in keys {
            let value = char::from(*key);
            actions = actions.then(KeyAction::Down { value }).then(KeyAction::Up { value });
        }
        self.client.perform_actions(actions).await.map_err(|e| anyhow::anyhow!("could not press {keys:?}: {e:?}"))
    }

    /// The `data-testid` of the element that has the focus, if it has one.
    pub async fn focused(&self) -> Result<Option<String>> {
        Ok(self.client.active_element().await?.attr("data-testid").await?)
    }

    /// What axe-core (`axe`: the source of `axe.min.js`) finds against WCAG 2.1 A and AA on the
    /// screen once its finite animations have ended, in the real WebKit rendering (colour contrast
    /// included): one line per rule broken, with its impact and the elements that break it. Empty
    /// when nothing is found.
    pub async fn accessibility_problems(&self, axe: &str) -> Result<Vec<String>> {
        let loaded = self.client.execute("return typeof window.axe;", Vec::new()).await?;
        if loaded.as_str() != Some("object") {
            self.client.execute(&format!("{axe}\n;return typeof window.axe;"), Vec::new()).await?;
        }
        // Checked once the screen has settled: a sheet still rising (its opacity going from 0 to 1)
        // would fail colour contrast for what is only a moment of its animation.
        self.settled().await?;
        let script = r#"
            const done = arguments[arguments.length - 1];
            window.axe
                .run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
                .then((r) => done({
                    passed: r.passes.length,
                    violations: r.violations.map((v) =>
                        `${v.impact}: ${v.id} (${v.help}) at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
                }))
                .catch((e) => done({ passed: 0, violations: [`axe could not run: ${e}`] }));
        "#;
        #[derive(serde::Deserialize)]
        struct Found {
            passed: usize,
            violations: Vec<String>,
        }
        let found: Found =
            serde_json::from_value(self.client.execute_async(script, Vec::new()).await?).context("axe's answer")?;
        // A screen on which no rule applied was not checked at all.
        if found.passed == 0 && found.violations.is_empty() {
            bail!("axe checked nothing on this screen");
        }
        Ok(found.violations)
    }

    /// A PNG of the window's content.
    pub async fn screenshot(&self) -> Result<Vec<u8>> {
        Ok(self.client.screenshot().await?)
    }

    /// Saves a screenshot as `dir/name.png`.
    pub async fn save_screenshot(&self, dir: &Path, name: &str) -> Result<PathBuf> {
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.screenshot().await?)
            .with_context(|| format!("could not write {}", path.display()))?;
        Ok(path)
    }

    /// Calls `command` through Tauri's IPC from inside the page, as the page's own script (or a
    /// script injected into it) could: `None` if it ran, else what it was refused with.
    pub async fn invoke_from_page(&self, command: &str) -> Result<Option<String>> {
        let script = "const [command, done] = arguments;\n\
                      window.__TAURI_INTERNALS__.invoke(command, {}).then(() => done(null), (e) => done(String(e)));";
        let answer = self.client.execute_async(script, vec![serde_json::json!(command)]).await?;
        Ok(answer.as_str().map(str::to_owned))
    }

    /// Ends the session (tauri-driver closes the app) and stops the driver.
    pub async fn close(self) -> Result<()> {
        let closed = self.client.clone().close().await;
        self.stop().await;
        closed.context("closing the WebDriver session")
    }

    /// Stops the drivers after the app has ended by itself (its window closed): there is no
    /// session left to end.
    pub async fn stop(mut self) {
        self.stop_driver();
        if tokio::time::timeout(Duration::from_secs(5), self.driver.wait()).await.is_err() {
            let _ = self.driver.kill().await;
        }
    }

    /// Ends a test's use of the app with what it found: on failure, a screenshot of the window
    /// as `dir/{name}-failure.png` (its path printed); then the app closed. The test's own error
    /// comes before the closing's.
    pub async fn finish<T>(self, result: Result<T>, dir: &Path, name: &str) -> Result<T> {
        if result.is_err()
            && let Ok(path) = self.save_screenshot(dir, &format!("{name}-failure")).await
        {
            eprintln!("the window when it failed: {}", path.display());
        }
        let closed = self.close().await;
        let found = result?;
        closed?;
        Ok(found)
    }

    /// Asks tauri-driver to stop: on SIGTERM it stops WebKitWebDriver too, which a SIGKILL would
    /// leave running (holding the output pipes of whoever started the driver).
    fn stop_driver(&self) {
        let pid = self.driver.id().and_then(|id| i32::try_from(id).ok()).and_then(rustix::process::Pid::from_raw);
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
    }
}

impl Drop for AppUnderTest {
    fn drop(&mut self) {
        // A story that failed half-way still stops the drivers (`kill_on_drop` follows with SIGKILL).
        self.stop_driver();
    }
}
