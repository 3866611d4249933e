//! The real `inkan-server` binary as a child process: its operator commands to make a merchant
//! and terminals, then `serve` on a free loopback port, writing its log to a file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use url::Url;

use crate::ceiling::{RP_ID, RP_ORIGIN};

#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    pub base: Url,
    /// Its metrics listener's `/metrics` (`crate::scrape`).
    pub metrics: Url,
}

fn admin(bin: &Path, database: &str, args: &[&str]) -> Result<String> {
    let output = Command::new(bin)
        .arg("--database")
        .arg(database)
        .arg("admin")
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    if !output.status.success() {
        bail!("inkan-server admin {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8(output.stdout)?)
}

/// A new issuer key file for `serve`, made with `inkan-server admin issuer-key create`.
fn admin_key(bin: &Path, out: &Path) -> Result<()> {
    let output = Command::new(bin)
        .args(["admin", "issuer-key", "create", "--out"])
        .arg(out)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    if !output.status.success() {
        bail!("inkan-server admin issuer-key create failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

/// A merchant with `n` terminals, made with `inkan-server admin`; returns the terminals' keys.
pub fn terminals(bin: &Path, database: &str, n: usize) -> Result<Vec<String>> {
    let merchant = admin(bin, database, &["merchant", "create", "--name", "Bench Mart"])?.trim().to_owned();
    (0..n)
        .map(|i| {
            let out = admin(
                bin,
                database,
                &["terminal", "create", "--merchant", &merchant, "--name", &format!("till {i}"), "--country", "JP"],
            )?;
            out.lines()
                .find_map(|l| l.strip_prefix("key "))
                .map(str::to_owned)
                .context("inkan-server admin terminal create printed no key")
        })
        .collect()
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl ServerProcess {
    /// Starts `bin serve` on `database` and waits until it answers.
    pub async fn start(bin: &Path, database: &str, log: &Path) -> Result<ServerProcess> {
        Self::launch(Command::new(bin), bin, database, log, Duration::from_secs(30)).await
    }

    /// As [`ServerProcess::start`], under `valgrind --tool=callgrind` with instrumentation off
    /// until `callgrind_control -i on`; dumps go to `out` (`crate::callgrind`).
    pub async fn start_under_callgrind(bin: &Path, database: &str, log: &Path, out: &Path) -> Result<ServerProcess> {
        let mut valgrind = Command::new("valgrind");
        valgrind
            .args(["--tool=callgrind", "--instr-atstart=no"])
            .arg(format!("--callgrind-out-file={}", out.display()));
        valgrind.arg(bin);
        // Valgrind runs every thread in turn on one core, many times slower.
        Self::launch(valgrind, bin, database, log, Duration::from_secs(180)).await
    }

    /// `command` (the server binary, or what runs it) with `serve`'s arguments, until it answers
    /// or `patience` has passed.
    async fn launch(
        mut command: Command,
        bin: &Path,
        database: &str,
        log: &Path,
        patience: Duration,
    ) -> Result<ServerProcess> {
        let port = free_port()?;
        let metrics_port = free_port()?;
        let issuer_key = log.with_extension("issuer.pem");
        if !issuer_key.exists() {
            admin_key(bin, &issuer_key)?;
        }
        let log_file = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        let child = command
            .arg("--database")
            .arg(database)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--rp-id", RP_ID, "--rp-origin", RP_ORIGIN])
            // Every wallet of the load comes from this one address: rate limits made for people
            // would refuse most of it.
            .args(["--rate-limit-scale", "1000"])
            // Each wallet of the load pays many times a minute: the velocity rules would hold it.
            .args(["--risk-rules", "off"])
            .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
            .args(["--funding", "sandbox", "--issuer-key"])
            .arg(&issuer_key)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let base = Url::parse(&format!("http://127.0.0.1:{port}"))?;
        let metrics = Url::parse(&format!("http://127.0.0.1:{metrics_port}/metrics"))?;
        let mut server = ServerProcess { child, base, metrics };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!("inkan-server exited at start ({status}); see {}", log.display());
            }
            if let Ok(r) = http.get(server.base.join("/openapi.json")?).send().await
                && r.status().is_success()
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                server.kill();
                bail!("inkan-server did not answer within {} s; see {}", patience.as_secs(), log.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What a load run reads of this server at its window's ends.
    pub fn watched(&self) -> crate::load::Watched {
        crate::load::Watched { pid: self.pid(), metrics: self.metrics.clone() }
    }

    /// SIGKILL: no graceful shutdown, nothing flushed that was not already durable.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Where the server binary is: next to this one (both are built by `cargo build --release`).
pub fn default_binary() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let bin = me.parent()?.join(format!("inkan-server{}", std::env::consts::EXE_SUFFIX));
    bin.exists().then_some(bin)
}
