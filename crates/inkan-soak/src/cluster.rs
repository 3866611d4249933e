//! A private PostgreSQL cluster for the power-cut run: its own data directory, started under the
//! power-cut library, so that a cut can drop every write PostgreSQL did not sync, in every one of
//! its processes.
//!
//! - `initdb` with 1 MB WAL segments (the library copies a file at each of its syncs; 16 MB
//!   segments would be copied at every commit).
//! - Run as the `postgres` user when we are root (PostgreSQL refuses root), in a process group of
//!   its own: a cut is SIGKILL to the whole group, so no backend outlives the postmaster and
//!   writes after the disk was rebuilt.
//! - Planted: `synchronous_commit = off`: a commit is acknowledged before its WAL is flushed (the
//!   WAL writer flushes it within a fraction of a second). Subtler than `fsync = off`, which
//!   loses everything since the last start, and caught at the first cut as well.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A cluster in a directory of its own; started and cut by the soak.
#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    /// The data directory: what the power cut watches.
    pub data: PathBuf,
    /// Where the library keeps what each sync made durable.
    pub shadow: PathBuf,
    socket_dir: PathBuf,
    log: PathBuf,
    port: u16,
    /// Whom PostgreSQL runs as (`None`: as we are).
    owner: Option<(u32, u32)>,
    /// The library's environment and the planted setting.
    preload: PathBuf,
    /// Planted: `synchronous_commit = off`.
    plant: bool,
    running: Mutex<Option<Child>>,
}

/// The database the soak's server uses in the cluster.
const DATABASE: &str = "inkan";

/// Runs `command`, failing with what it printed.
fn run(command: &mut Command, what: &str) -> Result<()> {
    let out = command.output().with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!("{what} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// What `id <args>` prints, as a number.
fn id(args: &[&str]) -> Result<u32> {
    let out = Command::new("id").args(args).output().context("running id")?;
    if !out.status.success() {
        bail!("there is no `postgres` user to run PostgreSQL as (we are root, and PostgreSQL refuses root)");
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb` and `postgres` (Debian keeps them
/// off PATH).
fn server_bin_dir() -> Result<PathBuf> {
    let mut dirs: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL's server programs are not installed (/usr/lib/postgresql: package postgresql)")?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version =
                entry.file_name().to_str()?.split('.').map(str::parse).collect::<Result<Vec<u32>, _>>().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file()).then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, bin)| bin).context("no /usr/lib/postgresql/<version>/bin has initdb and postgres")
}

/// `path` and everything under it given to `owner`.
fn chown_all(path: &Path, owner: Option<(u32, u32)>) -> Result<()> {
    let Some((uid, gid)) = owner else { return Ok(()) };
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).with_context(|| format!("chown {}", path.display()))?;
    if std::fs::symlink_metadata(path)?.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_all(&entry?.path(), Some((uid, gid)))?;
        }
    }
    Ok(())
}

impl Cluster {
    /// Makes a cluster under `dir` (which the `postgres` user must be able to enter), with the
    /// preload library copied in where that user can read it.
    pub fn init(dir: &Path, preload: &Path, plant: bool) -> Result<Cluster> {
        let bin = server_bin_dir()?;
        let root = dir.join("postgres");
        std::fs::create_dir_all(&root)?;
        let owner = if id(&["-u"])? == 0 { Some((id(&["-u", "postgres"])?, id(&["-g", "postgres"])?)) } else { None };
        if owner.is_some() {
            // The owner must be able to pass through `dir` to reach its own directory.
            std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o711))?;
        }
        let library = root.join("libinkan_powercut_preload.so");
        std::fs::copy(preload, &library).with_context(|| format!("copying {}", preload.display()))?;
        let cluster = Cluster {
            bin,
            data: root.join("data"),
            shadow: root.join("durable"),
            socket_dir: root.join("socket"),
            log: root.join("postgres.log"),
            port: crate::server::free_port()?,
            owner,
            preload: library,
            plant,
            running: Mutex::new(None),
        };
        std::fs::create_dir_all(&cluster.socket_dir)?;
        chown_all(&root, owner)?;
        run(
            cluster
                .as_owner(&cluster.bin.join("initdb"))
                .args(["--auth=trust", "--username=postgres", "--encoding=UTF8", "--locale=C", "--wal-segsize=1"])
                .arg("-D")
                .arg(&cluster.data),
            "initdb",
        )?;
        Ok(cluster)
    }

    /// `program`, to be run as the cluster's owner.
    fn as_owner(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        if let Some((uid, gid)) = self.owner {
            // std drops root's supplementary groups when it changes the user.
            command.uid(uid).gid(gid);
        }
        command.current_dir(self.data.parent().unwrap_or(&self.data));
        command
    }

    /// The URL of the soak's database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// Starts PostgreSQL (under the library, unless `plain`) and waits until it takes
    /// connections; the soak's database is made on the first start.
    pub async fn start(&self, plain: bool) -> Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let mut command = self.as_owner(&self.bin.join("postgres"));
        command
            .arg("-D")
            .arg(&self.data)
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.socket_dir)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "shared_buffers=32MB", "-c", "max_connections=60"])
            .args(["-c", "max_wal_size=64MB", "-c", "checkpoint_timeout=30s", "-c", "wal_sync_method=fdatasync"])
            .args(["-c", "log_min_messages=warning"])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if self.plant {
            command.args(["-c", "synchronous_commit=off"]);
        }
        if !plain {
            command
                .env("LD_PRELOAD", &self.preload)
                .env(inkan_powercut::WATCH, &self.data)
                .env(inkan_powercut::SHADOW, &self.shadow);
        }
        let mut child = command.spawn().context("starting postgres")?;
        let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                bail!("postgres exited at start ({status}); its log:\n{}", crate::server::tail(&self.log));
            }
            if let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await {
                let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(DATABASE)
                    .fetch_one(&mut conn)
                    .await?;
                if !exists {
                    sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {DATABASE}").as_str()).await?;
                }
                *self.running.lock().unwrap_or_else(|p| p.into_inner()) = Some(child);
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = kill_group(&mut child);
                bail!("postgres took no connection within 60 s; its log:\n{}", crate::server::tail(&self.log));
            }
            // Polling a process we started for its port to open: there is no clock to pass in.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A clean stop (fast shutdown: everything written and synced), before the disk is recorded.
    pub fn stop(&self) -> Result<()> {
        let Some(mut child) = self.running.lock().unwrap_or_else(|p| p.into_inner()).take() else { return Ok(()) };
        run(Command::new("kill").args(["-INT", &child.id().to_string()]), "kill -INT postgres")?;
        let status = child.wait()?;
        if !status.success() {
            bail!("postgres stopped with {status}; its log:\n{}", crate::server::tail(&self.log));
        }
        Ok(())
    }

    /// The power goes: every process of the cluster killed at once.
    pub fn kill(&self) -> Result<()> {
        match self.running.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(mut child) => kill_group(&mut child),
            None => Ok(()),
        }
    }

    /// After [`inkan_powercut::seed`] or [`inkan_powercut::restore`] (which we run as root): the
    /// data directory and the shadow store given back to the cluster's owner; and the lock file
    /// of the killed postmaster removed, as a reboot would make its process id meaningless (here
    /// the id may belong to a live process, and PostgreSQL would refuse to start).
    pub fn after_restore(&self) -> Result<()> {
        match std::fs::remove_file(self.data.join("postmaster.pid")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        chown_all(&self.data, self.owner)?;
        chown_all(&self.shadow, self.owner)?;
        std::fs::set_permissions(&self.data, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// SIGKILL to `child`'s process group, then waits until no live process of it is left.
fn kill_group(child: &mut Child) -> Result<()> {
    let group = child.id();
    run(Command::new("kill").args(["-KILL", "--", &format!("-{group}")]), "kill -KILL the postgres group")?;
    child.wait()?;
    let since = Instant::now();
    while alive_in_group(group) {
        if since.elapsed() > Duration::from_secs(30) {
            bail!("processes of the postgres group {group} outlived SIGKILL for 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Whether a process of process group `group` is still running (a zombie, which writes nothing
/// and may wait for a parent that never reaps it, does not count).
fn alive_in_group(group: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else { return false };
    entries.filter_map(Result::ok).any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { return false };
        // `pid (comm) state ppid pgrp …`: the command may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else { return false };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        matches!(fields.as_slice(), [state, _ppid, pgrp, ..] if *state != "Z" && pgrp.parse() == Ok(group))
    })
}
