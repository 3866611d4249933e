//! The real `inkan-server` binary as a child process: operator commands, start, SIGKILL, restart.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The relying party every soak server runs with; the software passkeys sign for this origin.
pub const RP_ID: &str = "localhost";
pub const ORIGIN: &str = "http://localhost:8080";

/// How to run one server: its binary, database and where its log goes.
#[derive(Debug, Clone)]
pub struct ServerCommand {
    pub binary: PathBuf,
    pub database: String,
    pub log: PathBuf,
    pub port: u16,
    /// Where the sandbox card provider keeps what it collected (it outlives the server's kills,
    /// as a real provider does).
    pub sandbox_journal: PathBuf,
    /// Extra `serve` flags.
    pub serve_args: Vec<String>,
    /// Extra environment of the server process (the power-cut library and what it watches).
    pub env: Vec<(String, std::ffi::OsString)>,
}

/// A server process that is up (answered `/healthz`).
#[derive(Debug)]
pub struct Running {
    child: Child,
    pub url: String,
}

impl ServerCommand {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs `inkan-server admin …` and returns what it printed.
    pub fn admin(&self, args: &[&str]) -> Result<String> {
        let output = Command::new(&self.binary)
            .args(["--database", &self.database, "admin"])
            .args(args)
            .output()
            .with_context(|| format!("running {} admin {args:?}", self.binary.display()))?;
        if !output.status.success() {
            bail!("inkan-server admin {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// A merchant and a terminal; returns the terminal's key.
    pub fn create_terminal(&self, merchant_name: &str) -> Result<String> {
        let merchant = self.admin(&["merchant", "create", "--name", merchant_name])?.trim().to_owned();
        let printed = self.admin(&["terminal", "create", "--merchant", &merchant, "--country", "JP"])?;
        printed
            .lines()
            .find_map(|line| line.strip_prefix("key "))
            .map(|key| key.trim().to_owned())
            .context("`admin terminal create` printed no key")
    }

    /// The issuer key every start of this server signs with, made beside its log the first time.
    fn issuer_key(&self) -> Result<PathBuf> {
        let key = self.log.with_extension("issuer.pem");
        if !key.exists() {
            let out = Command::new(&self.binary)
                .args(["admin", "issuer-key", "create", "--out"])
                .arg(&key)
                .output()
                .with_context(|| format!("running {} admin issuer-key create", self.binary.display()))?;
            if !out.status.success() {
                bail!("inkan-server admin issuer-key create failed: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        Ok(key)
    }

    /// Starts the server and waits until it answers, at most 60 s.
    pub async fn start(&self, http: &reqwest::Client) -> Result<Running> {
        let issuer_key = self.issuer_key()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let mut child = Command::new(&self.binary)
            .args(["--database", &self.database, "serve", "--listen"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["--rp-id", RP_ID, "--rp-origin", ORIGIN, "--funding", "sandbox", "--issuer-key"])
            .arg(&issuer_key)
            .arg("--sandbox-journal")
            .arg(&self.sandbox_journal)
            .args(&self.serve_args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        let url = self.url();
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                bail!("inkan-server exited at start ({status}); its log:\n{}", tail(&self.log));
            }
            if let Ok(response) = http.get(format!("{url}/healthz")).send().await
                && response.status().is_success()
            {
                return Ok(Running { child, url });
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                bail!("inkan-server did not answer within 60 s; its log:\n{}", tail(&self.log));
            }
            // Polling a process we started for its port to open: there is no clock to pass in.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Running {
    /// A server left running by an error on the way out would outlive the soak.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Running {
    /// SIGKILL: no chance to finish anything (std's `Child::kill` sends SIGKILL on Unix).
    pub fn kill(mut self) -> Result<()> {
        self.child.kill().context("sending SIGKILL")?;
        self.child.wait().context("waiting for the killed server")?;
        Ok(())
    }

    /// SIGTERM and a graceful stop.
    pub fn stop(mut self) -> Result<()> {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status()?;
        if !status.success() {
            bail!("could not send SIGTERM to inkan-server");
        }
        let exit = self.child.wait()?;
        if !exit.success() {
            bail!("inkan-server exited with {exit} after SIGTERM");
        }
        Ok(())
    }
}

/// The last lines of a log, for an error message.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A free loopback port (the OS picks one; the server binds it right after).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A fresh PostgreSQL database for one run, dropped by [`drop_postgres`].
pub async fn create_postgres(admin_url: &str) -> Result<(String, String)> {
    use sqlx::Connection;
    let name = format!("inkan_soak_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(admin_url).await.context("connecting to PostgreSQL")?;
    sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str()).await?;
    let mut url = url::Url::parse(admin_url)?;
    url.set_path(&name);
    Ok((url.to_string(), name))
}

pub async fn drop_postgres(admin_url: &str, name: &str) -> Result<()> {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::Executor::execute(&mut admin, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await?;
    Ok(())
}
