//! Part 4: the wallet app itself. A wallet is created once through the window; then the app is
//! started again several times and timed from asking for it to the payment QR on screen (read back
//! from a screenshot); after the last start it is left alone for the idle period and the memory of
//! all its processes (the app, its WebKit web and network processes) is read from `/proc`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use inkan_appdriver::{AppUnderTest, Launch, story};

use crate::report::{AppFigures, AppProcess};
use crate::stats::{Samples, count_f64};

/// Where the app comes from and where it shows.
#[derive(Debug, Clone)]
pub struct AppSetup {
    /// The app binary (`inkan-wallet`, release).
    pub app: PathBuf,
    pub tauri_driver: PathBuf,
    /// The X display to open the window on (`cargo xtask bench` starts Xvfb).
    pub display: String,
}

/// Creates a wallet against `server` (with `origin` as the passkey origin), then measures.
pub async fn measure(
    setup: &AppSetup,
    server: &str,
    origin: &str,
    launches: usize,
    idle: Duration,
) -> Result<AppFigures> {
    let home = tempfile::Builder::new().prefix("inkan-bench-app-").tempdir()?;
    let mut launch = Launch::new(setup.app.clone(), setup.tauri_driver.clone(), home.path(), server, origin);
    launch.env.push(("DISPLAY".into(), setup.display.clone()));
    let app = AppUnderTest::launch(&launch).await.context("starting the app")?;
    let created = async {
        app.find("onboarding").await?;
        story::create_wallet(&app, server, origin).await?;
        story::finish_onboarding(&app).await
    }
    .await;
    app.close().await?;
    created.context("creating the wallet in the app")?;

    let mut samples = Samples::default();
    let mut last = None;
    for i in 0..launches.max(1) {
        let started = Instant::now();
        let app = AppUnderTest::launch(&launch).await.context("starting the app again")?;
        let shown = first_qr(&app).await;
        let elapsed = started.elapsed();
        match shown {
            Ok(()) => samples.push(elapsed),
            Err(e) => {
                app.close().await?;
                return Err(e.context(format!("start {}", i + 1)));
            }
        }
        if i + 1 == launches.max(1) {
            last = Some(app);
        } else {
            app.close().await?;
        }
    }
    let app = last.context("no start was measured")?;
    tokio::time::sleep(idle).await;
    let processes = app.driver_pid().map(app_processes).transpose()?.unwrap_or_default();
    app.close().await?;
    ensure!(!processes.is_empty(), "found none of the app's processes under tauri-driver");
    let summary = samples.summary().context("no start was measured")?;
    Ok(AppFigures {
        launches: summary.n,
        launch_to_first_qr_ms: summary.p50_ms,
        launch_to_first_qr_max_ms: summary.max_ms,
        idle_seconds: idle.as_secs(),
        memory_after_idle_mib: processes.iter().map(|p| p.pss_mib).sum(),
        rss_after_idle_mib: processes.iter().map(|p| p.rss_mib).sum(),
        processes,
    })
}

/// Waits for the Pay screen's QR and checks that a screenshot of the window decodes to a code.
async fn first_qr(app: &AppUnderTest) -> Result<()> {
    let deadline = Instant::now() + inkan_appdriver::WAIT;
    app.find("pay-qr").await?;
    loop {
        let png = app.screenshot().await?;
        if inkan_qr::decode_image(&png).map(|codes| codes.len() == 1).unwrap_or(false) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the QR on screen did not decode within {} s", inkan_appdriver::WAIT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The app's processes: everything below WebKitWebDriver (which tauri-driver starts, and which
/// starts the app), with their proportional (PSS) and resident (RSS) memory.
fn app_processes(driver: u32) -> Result<Vec<AppProcess>> {
    let table = process_table()?;
    let mut found = Vec::new();
    let mut parents = vec![driver];
    while let Some(parent) = parents.pop() {
        for (pid, ppid, name) in &table {
            if *ppid == parent {
                parents.push(*pid);
                if name != "WebKitWebDriver"
                    && let Some(process) = memory(*pid, name)
                {
                    found.push(process);
                }
            }
        }
    }
    Ok(found)
}

/// `(pid, parent pid, name)` of every process.
fn process_table() -> Result<Vec<(u32, u32, String)>> {
    let mut table = Vec::new();
    for entry in std::fs::read_dir("/proc").context("reading /proc")?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // `pid (name) state ppid …`: the name may hold spaces and parentheses, so split at the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else { continue };
        let name = head.split_once('(').map(|(_, n)| n.to_owned()).unwrap_or_default();
        let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        table.push((pid, ppid, name));
    }
    Ok(table)
}

fn memory(pid: u32, name: &str) -> Option<AppProcess> {
    let rollup = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("smaps_rollup")).ok()?;
    let field = |key: &str| {
        rollup
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
            .map(|kib| count_f64(kib) / 1024.0)
    };
    Some(AppProcess { name: name.to_owned(), pss_mib: field("Pss:")?, rss_mib: field("Rss:")? })
}
