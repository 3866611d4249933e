//! The wallet app's build and its headless display: what `cargo xtask test` and `cargo xtask demo`
//! need before the app can be built (system libraries, the UI bundle) and driven (tauri-driver,
//! WebKitWebDriver, Xvfb).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{apt, cargo, root, run_step};

/// Debian packages for building a Tauri 2 app on Linux (WebKitGTK 4.1) and driving it headless.
/// `fonts-noto-cjk` so that Japanese renders (a minimal machine has no CJK font at all).
/// `xdotool` and `x11-utils` (`xmessage`) move the keyboard focus to another window and back, for
/// the end-to-end test's charge that arrives while the shopper is elsewhere. `zbar-tools`
/// (`zbarimg`): an independent scanner that must read every payment code `inkan-qr` draws.
const PACKAGES: [&str; 14] = [
    "libwebkit2gtk-4.1-dev",
    "libgtk-3-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libxdo-dev",
    "libssl-dev",
    "pkg-config",
    "xvfb",
    "xauth",
    "webkit2gtk-driver",
    "fonts-noto-cjk",
    "xdotool",
    "x11-utils",
    "zbar-tools",
];

/// Installs the system packages the app needs to build and run headless.
pub fn system_packages() -> Result<()> {
    let missing: Vec<&str> = PACKAGES.into_iter().filter(|p| !apt::is_installed(p)).collect();
    apt::install("app", "the wallet app (Tauri 2 on WebKitGTK) and its headless tests need", &missing)
}

fn ui_dir() -> PathBuf {
    root().join("ui")
}

fn npm() -> Result<Command> {
    let npm = apt::on_path("npm").context(
        "the wallet app's UI needs Node.js 20 (or newer) and npm: install them (e.g. `apt-get install nodejs npm`) and run this again",
    )?;
    let mut command = Command::new(npm);
    // `--prefix`, not a working directory: `run_step` runs everything from the repository root.
    command.arg("--prefix").arg(ui_dir());
    Ok(command)
}

/// `npm ci` when `node_modules` is missing or older than the lock file: exactly the locked packages.
pub fn ui_install() -> Result<()> {
    let modules = ui_dir().join("node_modules").join(".package-lock.json");
    let lock = ui_dir().join("package-lock.json");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let fresh = matches!((modified(&modules), modified(&lock)), (Some(installed), Some(locked)) if installed >= locked);
    if fresh {
        return Ok(());
    }
    run_step(
        "installing the UI's npm packages (npm ci, from package-lock.json)",
        npm()?.args(["ci", "--no-audit", "--no-fund"]),
    )
}

/// The UI bundle in `ui/dist`, which the app embeds when it is compiled.
pub fn ui_build() -> Result<()> {
    ui_install()?;
    run_step("building the UI (tsc + vite → ui/dist)", npm()?.args(["run", "build"]))
}

/// The UI's unit tests (vitest, against the mock backend).
pub fn ui_test() -> Result<()> {
    ui_install()?;
    run_step("UI unit tests (vitest, mock backend)", npm()?.args(["test"]))
}

/// The UI's lint (ESLint with typescript-eslint and the hooks rules; `ui/eslint.config.js`), with
/// no warning allowed.
pub fn ui_lint() -> Result<()> {
    ui_install()?;
    run_step("UI lint (ESLint, no warnings)", npm()?.args(["run", "lint"]))
}

/// `tauri-driver`, installed with cargo (about 30 s) when it is not on `PATH`.
pub fn tauri_driver() -> Result<PathBuf> {
    if let Some(found) = apt::on_path("tauri-driver") {
        return Ok(found);
    }
    let installed = cargo_bin("tauri-driver")?;
    if installed.is_file() {
        return Ok(installed);
    }
    run_step(
        "installing tauri-driver (WebDriver for Tauri apps; first run only)",
        cargo().args(["install", "tauri-driver", "--locked", "--version", "^2"]),
    )?;
    Ok(installed)
}

/// Where `cargo install` puts the program `name` (`$CARGO_HOME/bin`, by default `~/.cargo/bin`).
pub fn cargo_bin(name: &str) -> Result<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .with_context(|| format!("no CARGO_HOME or HOME to install {name} into"))?;
    Ok(home.join("bin").join(name))
}

/// A virtual X display for the app's window, stopped on drop.
#[derive(Debug)]
pub struct Display {
    pub name: String,
    xvfb: Child,
}

impl Display {
    /// Starts Xvfb on the first free display number from :90.
    pub fn start() -> Result<Display> {
        let xvfb = apt::on_path("Xvfb").context("no Xvfb: install the `xvfb` package")?;
        for number in 90..120 {
            if Path::new(&format!("/tmp/.X11-unix/X{number}")).exists()
                || Path::new(&format!("/tmp/.X{number}-lock")).exists()
            {
                continue;
            }
            let name = format!(":{number}");
            let mut child = Command::new(&xvfb)
                .args([name.as_str(), "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting Xvfb")?;
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if Path::new(&format!("/tmp/.X11-unix/X{number}")).exists() {
                    return Ok(Display { name, xvfb: child });
                }
                if child.try_wait()?.is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        bail!("could not start Xvfb on any display from :90 to :119")
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}

/// The Android target the phone build compiles for (64-bit ARM: every phone Android 15 runs on).
const ANDROID_TARGET: &str = "aarch64-linux-android";

/// `cargo check` of the app for Android, so that the phone build keeps compiling on a machine with
/// no Android NDK. The only C in the app's tree is `ring`'s, which its build script compiles even
/// for a check: Debian's clang compiles it for the target, freestanding, with ring's own switch for
/// building without libc headers (`RING_CORE_NOSTDLIBINC`, which it uses for wasm). That proves the Rust compiles, not that the app links or runs: linking needs the NDK
/// (see the README's mobile section).
pub fn android_check() -> Result<()> {
    let missing: Vec<&str> = ["clang", "llvm"].into_iter().filter(|p| !apt::is_installed(p)).collect();
    apt::install("android", "checking the app for Android (ring's C code, with no NDK) needs", &missing)?;
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running rustup: the Android check needs rustup to add the target")?;
    if !String::from_utf8_lossy(&installed.stdout).lines().any(|t| t.trim() == ANDROID_TARGET) {
        run_step(
            "adding the Rust standard library for Android (rustup, first run only)",
            Command::new("rustup").args(["target", "add", ANDROID_TARGET]),
        )?;
    }
    // cc-rs reads these for the target (the NDK would name `aarch64-linux-android21-clang`).
    let cflags = "--target=aarch64-linux-android24 -ffreestanding -DRING_CORE_NOSTDLIBINC=1";
    run_step(
        "checking the app for Android (cargo check --target aarch64-linux-android)",
        cargo()
            .args(["check", "--locked", "--target", ANDROID_TARGET, "-p", "inkan-wallet"])
            .env("CC_aarch64_linux_android", "clang")
            .env("AR_aarch64_linux_android", "llvm-ar")
            .env("CFLAGS_aarch64_linux_android", cflags),
    )
}
