//! `inkan-soak`: the soak harness that `cargo xtask soak` runs against the real `inkan-server`
//! binary.
//!
//! - `crash`: whole charges under steady load while the server is killed with SIGKILL at random
//!   moments and restarted; then every charge acknowledged as succeeded must be in the ledger as
//!   succeeded, the ledger must sum to zero, no balance may be negative, no payment code may back
//!   two charges and no idempotency key may have charged twice.
//! - `power-cut`: the same load, but each kill is a power cut: every write the database did not
//!   `fsync` is dropped (`inkan-powercut`), and the audit runs after each cut. On SQLite the
//!   server's own writes; on PostgreSQL a private cluster's (`cluster`), killed with the server.
//!   With `--plant` the syncs never reach the disk (SQLite) or commits are acknowledged before their WAL is flushed
//!   (PostgreSQL, `synchronous_commit = off`), and
//!   the run must find the loss.
//! - `schemathesis`: schemathesis against the running server's `/openapi.json`.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a command-line harness reports on the terminal")]

mod cluster;
mod crash;
mod schemathesis;
mod server;
mod shopper;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::server::ServerCommand;

#[derive(Parser)]
#[command(name = "inkan-soak", about = "Crash and hostile-input soak of the real inkan-server binary")]
struct Cli {
    /// The inkan-server binary to run.
    #[arg(long)]
    server: PathBuf,
    #[command(subcommand)]
    command: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Charges under load while the server is killed and restarted; then the ledger is checked.
    Crash {
        #[arg(long, value_enum)]
        database: Database,
        /// PostgreSQL server to make a fresh database on (`--database postgres`).
        #[arg(long, env = "INKAN_TEST_POSTGRES_URL")]
        postgres_admin_url: Option<String>,
        /// How long the load runs.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// At least this many SIGKILLs (the run goes on until there were).
        #[arg(long, default_value_t = 20)]
        kills: u32,
        /// Shoppers paying at once.
        #[arg(long, default_value_t = 4)]
        workers: usize,
    },
    /// Charges, top-ups and pay-outs under load while the power is cut (every unsynced write
    /// dropped) and restored, with the audit after each cut.
    PowerCut {
        #[arg(long, value_enum, default_value = "sqlite")]
        database: Database,
        /// `libinkan_powercut_preload.so`.
        #[arg(long)]
        preload: PathBuf,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// At least this many cuts.
        #[arg(long, default_value_t = 20)]
        cuts: u32,
        #[arg(long, default_value_t = 4)]
        workers: usize,
        /// Plant the bug the run must catch: no sync of SQLite's reaches the disk (as
        /// `synchronous = OFF`), or PostgreSQL runs with `synchronous_commit = off`. The run then succeeds
        /// only if the audit finds acknowledged money lost.
        #[arg(long)]
        plant: bool,
    },
    /// schemathesis against the running server (SQLite).
    Schemathesis {
        /// The `st` executable.
        #[arg(long)]
        st: PathBuf,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Where the JUnit reports go.
        #[arg(long)]
        report_dir: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Database {
    Sqlite,
    Postgres,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let dir = tempfile::tempdir()?;
    let runs = Runs { server: cli.server.clone(), dir: dir.path().to_owned() };
    match &cli.command {
        Mode::Crash { database, postgres_admin_url, seconds, kills, workers } => {
            let plan = crash::Plan {
                duration: Duration::from_secs(*seconds),
                min_kills: *kills,
                workers: *workers,
                power_cut: None,
            };
            match database {
                Database::Sqlite => runs.verdict("SQLite", crash::run(&runs.sqlite()?, &plan).await),
                Database::Postgres => {
                    let Some(admin) = postgres_admin_url else {
                        bail!("--database postgres needs --postgres-admin-url (or INKAN_TEST_POSTGRES_URL)");
                    };
                    let (url, name) = server::create_postgres(admin).await?;
                    let outcome = crash::run(&runs.command(url)?, &plan).await;
                    server::drop_postgres(admin, &name).await?;
                    runs.verdict("PostgreSQL", outcome)
                }
            }
        }
        Mode::PowerCut { database, preload, seconds, cuts, workers, plant } => {
            let plan = crash::Plan {
                duration: Duration::from_secs(*seconds),
                min_kills: *cuts,
                workers: *workers,
                power_cut: None,
            };
            match database {
                Database::Sqlite => runs.power_cut_sqlite(preload, plan, *plant).await,
                Database::Postgres => runs.power_cut_postgres(preload, plan, *plant).await,
            }
        }
        Mode::Schemathesis { st, seconds, report_dir } => {
            let outcome = schemathesis::run(&runs.sqlite()?, st, *seconds, report_dir).await?;
            for (name, passed) in &outcome.runs {
                println!("schemathesis, {name}: {}", if *passed { "passed" } else { "FAILED" });
            }
            if outcome.runs.iter().any(|(_, passed)| !passed) {
                bail!("schemathesis found problems (reports in {})", report_dir.display());
            }
            Ok(())
        }
    }
}

/// What every run of this process shares: the server binary and a scratch directory.
struct Runs {
    server: PathBuf,
    dir: PathBuf,
}

impl Runs {
    /// How to run the server on `database`.
    fn command(&self, database: String) -> Result<ServerCommand> {
        Ok(ServerCommand {
            binary: self.server.clone(),
            database,
            log: self.dir.join("server.log"),
            port: server::free_port()?,
            sandbox_journal: self.dir.join("sandbox-provider.jsonl"),
            // One address makes every wallet and request of the soak: the rate limits, made for
            // people, would refuse most of it; and each wallet pays many times a minute, which
            // the velocity rules would hold for review.
            serve_args: ["--rate-limit-scale", "1000", "--risk-rules", "off"].map(str::to_owned).to_vec(),
            env: Vec::new(),
        })
    }

    fn sqlite(&self) -> Result<ServerCommand> {
        self.command(format!("sqlite://{}", self.dir.join("inkan.db").display()))
    }

    /// The crash run on SQLite with each kill a power cut, the server under the power-cut library.
    async fn power_cut_sqlite(&self, preload: &Path, mut plan: crash::Plan, plant: bool) -> Result<()> {
        let watch = self.dir.join("disk");
        let shadow = self.dir.join("durable");
        std::fs::create_dir_all(&watch)?;
        let mut server = self.command(format!("sqlite://{}", watch.join("inkan.db").display()))?;
        server.env = vec![
            ("LD_PRELOAD".to_owned(), preload.as_os_str().to_owned()),
            (inkan_powercut::WATCH.to_owned(), watch.clone().into_os_string()),
            (inkan_powercut::SHADOW.to_owned(), shadow.clone().into_os_string()),
        ];
        if plant {
            server.env.push((inkan_powercut::DROP_SYNCS.to_owned(), "1".into()));
        }
        plan.power_cut = Some(crash::PowerCut { watch, shadow, postgres: None });
        let outcome = crash::run(&server, &plan).await;
        self.power_cut_verdict("SQLite", "no sync reaches the disk", outcome, plant)
    }

    /// The crash run on a private PostgreSQL cluster under the power-cut library, cut with the
    /// server each time.
    async fn power_cut_postgres(&self, preload: &Path, mut plan: crash::Plan, plant: bool) -> Result<()> {
        let cluster = std::sync::Arc::new(cluster::Cluster::init(&self.dir, preload, plant)?);
        // Made and migrated without the library; the disk is recorded once it is stopped.
        cluster.start(true).await?;
        let server = self.command(cluster.url())?;
        plan.power_cut = Some(crash::PowerCut {
            watch: cluster.data.clone(),
            shadow: cluster.shadow.clone(),
            postgres: Some(cluster),
        });
        let outcome = crash::run(&server, &plan).await;
        self.power_cut_verdict("PostgreSQL", "synchronous_commit = off", outcome, plant)
    }

    /// A power-cut run's verdict; planted, it passes only if acknowledged money was found lost.
    fn power_cut_verdict(
        &self,
        database: &str,
        planted: &str,
        outcome: Result<crash::Outcome>,
        plant: bool,
    ) -> Result<()> {
        if !plant {
            return self.verdict(&format!("{database}, power cuts"), outcome);
        }
        let outcome = self.or_log(outcome)?;
        report(&format!("{database}, power cuts, planted: {planted}"), &outcome);
        if !outcome.violations.iter().any(|v| v.contains("was acknowledged as succeeded but is")) {
            bail!("the planted bug ({planted}) was not caught on {database}: the power cut is no proof");
        }
        println!("the planted bug was caught: {} violation(s), as it must be", outcome.violations.len());
        Ok(())
    }

    /// The run's outcome, or its error with the server's last log lines printed first.
    fn or_log(&self, outcome: Result<crash::Outcome>) -> Result<crash::Outcome> {
        outcome.inspect_err(|_| eprintln!("server log (last lines):\n{}", server::tail(&self.dir.join("server.log"))))
    }

    /// Reports a crash run, and fails it on any violation or when nothing was acknowledged.
    fn verdict(&self, label: &str, outcome: Result<crash::Outcome>) -> Result<()> {
        let outcome = self.or_log(outcome)?;
        report(label, &outcome);
        if !outcome.violations.is_empty() {
            bail!("{} violation(s) on {label}", outcome.violations.len());
        }
        if outcome.acknowledged == 0 {
            bail!("no charge was acknowledged on {label}: the load did not run");
        }
        if outcome.top_ups_acknowledged == 0 {
            bail!("no top-up was acknowledged on {label}: the top-ups did not run");
        }
        if outcome.payouts_acknowledged == 0 {
            bail!("no pay-out was acknowledged on {label}: no wallet was closed");
        }
        Ok(())
    }
}

fn report(label: &str, o: &crash::Outcome) {
    println!("\ncrash soak on {label}:");
    println!("  kills (SIGKILL)           {}", o.kills);
    if o.power_cuts > 0 {
        println!(
            "  of them power cuts        {} (files found again {}, found empty {})",
            o.power_cuts, o.restored.files, o.restored.emptied
        );
    }
    println!("  charges attempted         {}", o.attempted);
    println!("  charges created           {}", o.created);
    println!("  acknowledged as succeeded {}", o.acknowledged);
    println!("  verified in the ledger    {}", o.verified);
    println!("  top-ups sent              {}", o.top_ups);
    println!("  top-ups acknowledged      {}", o.top_ups_acknowledged);
    println!("  top-ups answered pending  {}", o.top_ups_pending_answers);
    println!("  collected, credited once  {}", o.top_ups_collected);
    println!("  wallets closed            {}", o.closes);
    println!("  pay-outs acknowledged     {}", o.payouts_acknowledged);
    println!("  pay-outs answered pending {}", o.payouts_pending_answers);
    println!("  paid out, taken once      {}", o.payouts_made);
    println!("  requests resent           {}", o.retries);
    for (why, n) in &o.refused {
        println!("  refused: {why:<40} {n}");
    }
    println!("  violations                {}", o.violations.len());
    for v in &o.violations {
        println!("    {v}");
    }
}
