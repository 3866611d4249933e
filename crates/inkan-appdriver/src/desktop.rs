//! The desktop around the app, for the moments a shopper is not looking at it: the desktop's
//! notification service (`org.freedesktop.Notifications` on the session bus), which records every
//! notification the app shows, and another window that takes the keyboard focus away from the
//! app and gives it back (X11, through `xdotool`, with `xmessage` as the other window).
//!
//! The window itself is handled as the shopper handles it: moved, resized and closed with the
//! close button (the `WM_DELETE_WINDOW` message a window manager sends, over X11 with `x11rb`).
//!
//! Both are real: the app shows its notification through `tauri-plugin-notification` (notify-rust,
//! D-Bus), exactly as on a Linux desktop, and the focus moves the way it does when a person clicks
//! another window, so the app decides by itself (`is_focused`) whether it is in front. Use this
//! only on a display and a session bus of your own (Xvfb and `dbus-run-session`, as
//! `cargo xtask test` gives the end-to-end test): on a real desktop the notification service is
//! already there and this refuses to start.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use crate::{AppUnderTest, Launch};

/// How long the desktop may take to move the focus or show a notification.
const WAIT: Duration = Duration::from_secs(10);

/// The app's window, as the window manager (and `xdotool`) knows it: its title.
const APP_TITLE: &str = "^Inkan$";

/// A notification as the desktop received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub app_name: String,
    pub summary: String,
    pub body: String,
}

/// The notification service's D-Bus object: records, and answers as a minimal server would.
struct Service {
    shown: watch::Sender<Vec<Shown>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Service {
    #[allow(clippy::too_many_arguments, reason = "the D-Bus method's signature, fixed by the specification")]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, zbus::OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut id = 0;
        self.shown.send_modify(|all| {
            all.push(Shown { app_name, summary, body });
            id = u32::try_from(all.len()).unwrap_or(u32::MAX);
        });
        id
    }

    fn close_notification(&self, _id: u32) {}

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".to_owned()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        ("inkan-appdriver".to_owned(), "Inkan".to_owned(), env!("CARGO_PKG_VERSION").to_owned(), "1.2".to_owned())
    }
}

/// The desktop's notification service, on this process's session bus, for as long as it lives.
pub struct Notifications {
    shown: watch::Receiver<Vec<Shown>>,
    _bus: zbus::Connection,
}

impl std::fmt::Debug for Notifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifications").field("shown", &*self.shown.borrow()).finish_non_exhaustive()
    }
}

impl Notifications {
    /// Takes the name `org.freedesktop.Notifications` on the session bus
    /// (`DBUS_SESSION_BUS_ADDRESS`); fails if there is no bus or the name is already taken.
    pub async fn start() -> Result<Notifications> {
        let (tx, rx) = watch::channel(Vec::new());
        // The builder keeps any error (no bus, a bad name) for `build`.
        let bus = zbus::connection::Builder::session()
            .name("org.freedesktop.Notifications")
            .serve_at("/org/freedesktop/Notifications", Service { shown: tx })
            .build()
            .await
            .context(
                "could not become the desktop's notification service on the session bus \
                 (DBUS_SESSION_BUS_ADDRESS): is there no bus, or another service already? \
                 (run inside `dbus-run-session`, as `cargo xtask test` does)",
            )?;
        Ok(Notifications { shown: rx, _bus: bus })
    }

    /// Every notification shown so far, oldest first.
    pub fn shown(&self) -> Vec<Shown> {
        self.shown.borrow().clone()
    }

    /// Waits (bounded) for a notification that `wanted` accepts, and returns it.
    pub async fn wait_for(&self, what: &str, wanted: impl Fn(&Shown) -> bool) -> Result<Shown> {
        let mut shown = self.shown.clone();
        let found = tokio::time::timeout(WAIT, async {
            let all = shown.wait_for(|all| all.iter().any(&wanted)).await.ok()?;
            all.iter().find(|n| wanted(n)).cloned()
        })
        .await;
        match found {
            Ok(Some(notification)) => Ok(notification),
            _ => bail!("no notification {what} within {} s; the desktop was shown {:?}", WAIT.as_secs(), self.shown()),
        }
    }
}

async fn xdotool(args: &[&str]) -> Result<String> {
    let run = Command::new("xdotool").args(args).stdin(Stdio::null()).kill_on_drop(true).output();
    let out = tokio::time::timeout(WAIT, run)
        .await
        .with_context(|| format!("`xdotool {}` did not finish within {} s", args.join(" "), WAIT.as_secs()))?
        .context("could not run xdotool: install the `xdotool` package")?;
    if !out.status.success() {
        bail!("`xdotool {}` failed ({}): {}", args.join(" "), out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Waits (bounded) until the app's page says it has the focus, or has lost it.
async fn page_focused(app: &AppUnderTest, wanted: bool) -> Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if app.has_focus().await? == wanted {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            let state = if wanted { "got" } else { "lost" };
            bail!("the app's window never {state} the keyboard focus within {} s", WAIT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Gives the app's window the keyboard focus, as a click on it would, and waits until the app
/// knows it is in front.
pub async fn bring_app_to_front(app: &AppUnderTest) -> Result<()> {
    xdotool(&["search", "--sync", "--onlyvisible", "--name", APP_TITLE, "windowfocus", "--sync"]).await?;
    page_focused(app, true).await
}

/// Another window, in front of the app with the keyboard focus: the shopper is elsewhere.
#[derive(Debug)]
pub struct Elsewhere {
    window: Child,
}

impl Elsewhere {
    /// Opens the other window, gives it the focus, and waits until the app knows it lost it.
    pub async fn open(app: &AppUnderTest) -> Result<Elsewhere> {
        let window = Command::new("xmessage")
            .args(["-name", "inkan-elsewhere", "-title", "Another app", "The shopper is in another app."])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("could not open another window: install the `x11-utils` package (xmessage)")?;
        let elsewhere = Elsewhere { window };
        xdotool(&["search", "--sync", "--onlyvisible", "--classname", "inkan-elsewhere", "windowfocus", "--sync"])
            .await?;
        page_focused(app, false).await?;
        Ok(elsewhere)
    }

    /// The shopper comes back: the other window closes and the app is brought to the front.
    pub async fn come_back(mut self, app: &AppUnderTest) -> Result<()> {
        let _ = self.window.kill().await;
        bring_app_to_front(app).await
    }
}

/// The app launched a second time while it runs behind another window, as a person would open
/// it again from the desktop's menu: the second launch must exit at once (one instance a user),
/// and the first one's window come to the front with the keyboard focus.
pub async fn launch_again(app: &AppUnderTest, launch: &Launch) -> Result<()> {
    let elsewhere = Elsewhere::open(app).await?;
    let second = Command::new(&launch.app)
        .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .status();
    let status = tokio::time::timeout(WAIT, second)
        .await
        .with_context(|| format!("a second launch of the app still ran after {} s: two instances", WAIT.as_secs()))?
        .context("could not launch the app a second time")?;
    ensure!(status.success(), "the second launch of the app exited with {status}");
    page_focused(app, true).await.context("the second launch did not bring the first one's window to the front")?;
    drop(elsewhere);
    Ok(())
}

/// Where a window is on the screen, and how large.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

/// The app's window (the X11 window titled "Inkan").
async fn app_window() -> Result<u32> {
    let found = xdotool(&["search", "--sync", "--onlyvisible", "--name", APP_TITLE]).await?;
    let first = found.lines().next().context("xdotool found no app window")?;
    first.trim().parse().with_context(|| format!("xdotool named the window {first:?}"))
}

/// Where the X server has `window` (on a display with no window manager, as Xvfb is here, the
/// window is a child of the root window, so its geometry is its place on the screen).
fn placement(window: u32) -> Result<Placement> {
    use x11rb::protocol::xproto::ConnectionExt as _;
    let (conn, _) = x11rb::connect(None).context("could not connect to the X display (DISPLAY)")?;
    let geometry = conn.get_geometry(window)?.reply()?;
    Ok(Placement {
        x: geometry.x.into(),
        y: geometry.y.into(),
        width: geometry.width.into(),
        height: geometry.height.into(),
    })
}

/// What the close button does: the window manager asks the window to close itself
/// (`WM_PROTOCOLS` / `WM_DELETE_WINDOW`), and the app decides what closing means.
fn ask_to_close(window: u32) -> Result<()> {
    use x11rb::protocol::xproto::{ClientMessageEvent, ConnectionExt as _, EventMask};
    let (conn, _) = x11rb::connect(None).context("could not connect to the X display (DISPLAY)")?;
    let protocols = conn.intern_atom(false, b"WM_PROTOCOLS")?.reply()?.atom;
    let delete = conn.intern_atom(false, b"WM_DELETE_WINDOW")?.reply()?.atom;
    let message = ClientMessageEvent::new(32, window, protocols, [delete, x11rb::CURRENT_TIME, 0, 0, 0]);
    // Checked: a round trip, so the server has taken the message before this connection closes.
    conn.send_event(false, window, EventMask::NO_EVENT, message)?.check().context("sending WM_DELETE_WINDOW")?;
    Ok(())
}

/// Whether process `pid` has ended: gone, or a zombie that its parent (the WebDriver that started
/// it) has not reaped yet.
fn ended(pid: u32) -> bool {
    process_state(pid).is_none_or(|state| matches!(state, 'Z' | 'X'))
}

/// The state letter of process `pid` (`/proc/<pid>/stat`), if it is there.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state is the first field after the command's name, which is in parentheses.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Waits (bounded) until `done` says yes; `what` names it in the error.
async fn until(what: &str, mut done: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done()? {
        ensure!(tokio::time::Instant::now() < deadline, "{what}: not within {} s", WAIT.as_secs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The shopper moves and resizes the window to `wanted`, closes it with the close button, and
/// opens the app again from the desktop: the window must come back where and as large as they
/// left it. Returns the app opened again.
pub async fn reopened_where_left(app: AppUnderTest, launch: &Launch, wanted: Placement) -> Result<AppUnderTest> {
    let window = app_window().await?;
    let id = window.to_string();
    let pid: u32 = xdotool(&["getwindowpid", &id]).await?.parse().context("the window's process id")?;
    xdotool(&["windowsize", &id, &wanted.width.to_string(), &wanted.height.to_string()]).await?;
    xdotool(&["windowmove", &id, &wanted.x.to_string(), &wanted.y.to_string()]).await?;
    until("the window moved and resized", || Ok(placement(window)? == wanted)).await?;
    ask_to_close(window)?;
    // The app ends when its window closes; only then may it be opened again (a second instance
    // would hand over to the first and exit).
    until("the app ending after its window was closed", || Ok(ended(pid)))
        .await
        .with_context(|| format!("the app's process {pid} is in state {:?}", process_state(pid)))?;
    app.stop().await;
    let app = AppUnderTest::launch(launch).await?;
    let window = app_window().await?;
    let restored = until("the window opening where it was left", || Ok(placement(window)? == wanted)).await;
    if let Err(e) = restored {
        bail!("{e:#}: it opened at {:?}, not {wanted:?}", placement(window)?);
    }
    Ok(app)
}
