//! `inkan-bench`: one run, every figure, a table on stdout and `report.json`.

#![allow(clippy::print_stdout, reason = "the bench reports to the person at the terminal")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use inkan_bench::load::{self, Pace, Terminal};
use inkan_bench::machine::{self, Machine};
use inkan_bench::report::{BackendRun, ChargeRun, Options, Report, SCHEMA, Section};
use inkan_bench::server::{self, ServerProcess};
use inkan_bench::stats::count_f64;
use inkan_bench::{callgrind, ceiling};
use url::Url;

#[derive(Parser, Debug)]
#[command(name = "inkan-bench", about = "Inkan benchmark: charges, crypto ceiling, feed, payment codes")]
struct Cli {
    /// The inkan-server binary (default: the one next to this binary; build it with --release).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Where the JSON report goes (server logs go next to it).
    #[arg(long, default_value = "target/bench/report.json")]
    out: PathBuf,
    /// Measured seconds of each load run.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Seconds of each load run before measuring starts.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Concurrent lanes (one terminal and one wallet each).
    #[arg(long, default_value_t = 32)]
    lanes: usize,
    /// A short run (5 s windows, 16 lanes) to check that everything works.
    #[arg(long)]
    quick: bool,
    /// A PostgreSQL admin URL allowed to CREATE DATABASE (`cargo xtask pg-url` prints one).
    #[arg(long, env = "INKAN_TEST_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// Skip PostgreSQL even when a URL is known.
    #[arg(long)]
    sqlite_only: bool,
    /// The app binary (release `inkan-wallet`) for part 4; with `--tauri-driver` and a `DISPLAY`.
    #[arg(long)]
    app_bin: Option<PathBuf>,
    /// The tauri-driver binary that starts the app for part 4.
    #[arg(long)]
    tauri_driver: Option<PathBuf>,
    /// Another inkan-server binary (e.g. built from an older commit) to run on SQLite too, in the
    /// same run, for a before/after comparison side by side. May be given more than once.
    #[arg(long)]
    compare_server_bin: Vec<PathBuf>,
    /// How the report names each other binary's column, in the same order.
    #[arg(long)]
    compare_label: Vec<String>,
    /// Charges counted under callgrind per column (one lane, after the load runs); 0 skips it.
    /// `--quick` counts at most 50.
    #[arg(long, default_value_t = 500)]
    callgrind_charges: usize,
}

/// The steady run offers this share of the charges per second the load run reached.
const STEADY_SHARE: f64 = 0.7;

/// The idle run's one lane has a charge due this often (charges/s). A lane does one charge at a
/// time, so this must stay far below what one lane can do (a whole charge takes 10–20 ms here):
/// at 50/s a lane on PostgreSQL was nearly saturated, and one stall of the database left every
/// later charge late for seconds, which is not "idle".
const IDLE_RATE: f64 = 10.0;

struct Plan {
    seconds: u64,
    warmup: u64,
    lanes: usize,
    ceiling: Duration,
    idle: Duration,
    codes_budget: Duration,
    callgrind_charges: usize,
}

impl Plan {
    fn of(cli: &Cli) -> Plan {
        if cli.quick {
            Plan {
                seconds: cli.seconds.min(5),
                warmup: 1,
                lanes: cli.lanes.min(16),
                ceiling: Duration::from_secs(2),
                idle: Duration::from_secs(3),
                codes_budget: Duration::from_millis(200),
                callgrind_charges: cli.callgrind_charges.min(50),
            }
        } else {
            Plan {
                seconds: cli.seconds,
                warmup: cli.warmup,
                lanes: cli.lanes,
                ceiling: Duration::from_secs(5),
                idle: Duration::from_secs(6),
                codes_budget: Duration::from_millis(700),
                callgrind_charges: cli.callgrind_charges,
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let plan = Plan::of(&cli);
    let bin = match cli.server_bin.clone() {
        Some(bin) => bin,
        None => server::default_binary()
            .context("no inkan-server next to inkan-bench: build it (cargo build --release -p inkan-server) or pass --server-bin")?,
    };
    let out_dir = cli.out.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let data = tempfile::Builder::new().prefix("data-").tempdir_in(&out_dir)?;
    let columns = Columns { bin: &bin, data: data.path(), out_dir: &out_dir, plan: &plan };

    let started_at = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
    println!("inkan-bench: {} s windows, {} lanes; server {}", plan.seconds, plan.lanes, bin.display());
    let mut machine = Machine::describe(data.path());

    println!("payment codes…");
    let payment_code = match inkan_bench::codes::measure(plan.codes_budget) {
        Ok(c) => Section::Measured(c),
        Err(e) => Section::NotMeasured { reason: format!("{e:#}") },
    };
    let mut charges = columns.sqlite(&cli).await;
    charges.push(BackendRun { backend: "postgres".to_owned(), result: columns.postgres(&cli).await });
    let app = columns.app(&cli).await;

    machine.load_end = machine::load_average();
    let report = Report {
        schema: SCHEMA,
        started_at,
        machine,
        options: Options { seconds: plan.seconds, warmup_seconds: plan.warmup, lanes: plan.lanes, quick: cli.quick },
        payment_code,
        charges,
        app,
    };
    println!("\n{}", report.table());
    std::fs::write(&cli.out, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", cli.out.display()))?;
    println!("report: {}", cli.out.display());
    Ok(())
}

/// Where the runs of one bench put their databases and logs, and how long they are.
struct Columns<'a> {
    bin: &'a Path,
    data: &'a Path,
    out_dir: &'a Path,
    plan: &'a Plan,
}

impl Columns<'_> {
    /// The SQLite columns: every `--compare-server-bin`, then this server.
    async fn sqlite(&self, cli: &Cli) -> Vec<BackendRun> {
        let mut columns = Vec::new();
        for (i, other) in cli.compare_server_bin.iter().enumerate() {
            let label = cli.compare_label.get(i).cloned().unwrap_or_else(|| format!("compare {}", i + 1));
            println!("SQLite, {label} ({})…", other.display());
            let url = format!("sqlite://{}", self.data.join(format!("inkan-bench-compare-{i}.db")).display());
            let log = self.out_dir.join(format!("server-sqlite-compare-{i}.log"));
            let result = section(backend(other, &url, &log, self.plan).await);
            columns.push(BackendRun { backend: format!("sqlite {label}"), result });
        }
        let url = format!("sqlite://{}", self.data.join("inkan-bench.db").display());
        println!("SQLite…");
        let result = section(backend(self.bin, &url, &self.out_dir.join("server-sqlite.log"), self.plan).await);
        columns.push(BackendRun { backend: "sqlite".to_owned(), result });
        columns
    }

    async fn postgres(&self, cli: &Cli) -> Section<ChargeRun> {
        match (&cli.postgres_url, cli.sqlite_only) {
            (_, true) => Section::NotMeasured { reason: "--sqlite-only".to_owned() },
            (None, false) => Section::NotMeasured {
                reason: "no PostgreSQL URL: run `cargo xtask bench` (which finds or starts one) or pass --postgres-url"
                    .to_owned(),
            },
            (Some(admin), false) => {
                println!("PostgreSQL…");
                section(postgres(self.bin, admin, &self.out_dir.join("server-postgres.log"), self.plan).await)
            }
        }
    }

    /// Part 4, when the app and a display are there.
    async fn app(&self, cli: &Cli) -> Section<inkan_bench::report::AppFigures> {
        match (&cli.app_bin, &cli.tauri_driver, std::env::var("DISPLAY")) {
            (Some(app), Some(driver), Ok(display)) => {
                println!("the app…");
                let setup = inkan_bench::app::AppSetup { app: app.clone(), tauri_driver: driver.clone(), display };
                let (launches, idle) =
                    if cli.quick { (3, Duration::from_secs(5)) } else { (5, Duration::from_secs(60)) };
                let url = format!("sqlite://{}", self.data.join("inkan-bench-app.db").display());
                let log = self.out_dir.join("server-app.log");
                section(app_figures(self.bin, &url, &log, &setup, launches, idle).await)
            }
            _ => Section::NotMeasured {
                reason: "needs --app-bin, --tauri-driver and a DISPLAY (`cargo xtask bench` provides them)".to_owned(),
            },
        }
    }
}

/// Part 4, against its own server on SQLite.
async fn app_figures(
    bin: &Path,
    url: &str,
    log: &Path,
    setup: &inkan_bench::app::AppSetup,
    launches: usize,
    idle: Duration,
) -> Result<inkan_bench::report::AppFigures> {
    let mut server = ServerProcess::start(bin, url, log).await?;
    let measured = inkan_bench::app::measure(
        setup,
        server.base.as_str().trim_end_matches('/'),
        inkan_bench::ceiling::RP_ORIGIN,
        launches,
        idle,
    )
    .await;
    server.kill();
    measured
}

fn section<T>(result: Result<T>) -> Section<T> {
    match result {
        Ok(t) => Section::Measured(t),
        Err(e) => {
            println!("  failed: {e:#}");
            Section::NotMeasured { reason: format!("failed: {e:#}") }
        }
    }
}

async fn postgres(bin: &Path, admin: &str, log: &Path, plan: &Plan) -> Result<ChargeRun> {
    use sqlx::{Connection, Executor};
    let name = format!("inkan_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin).await.context("connecting to PostgreSQL")?;
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
    let mut url = Url::parse(admin)?;
    url.set_path(&name);
    let result = backend(bin, url.as_str(), log, plan).await;
    conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await?;
    result
}

/// One backend: server up, wallets enrolled, the idle run, the ceiling, the load run, the steady
/// run, then kill -9, start again, and check every acknowledged charge and the ledger; last, the
/// instructions of a few charges under callgrind.
async fn backend(bin: &Path, database: &str, log: &Path, plan: &Plan) -> Result<ChargeRun> {
    let _ = std::fs::remove_file(log);
    let keys = server::terminals(bin, database, plan.lanes)?;
    let mut server = ServerProcess::start(bin, database, log).await?;
    let terminals: Vec<Terminal> =
        keys.iter().map(|k| Terminal::new(server.base.clone(), k.clone())).collect::<Result<_>>()?;
    let timed = timed_runs(&server, &terminals, plan).await?;

    println!("  kill -9, restart, checking every acknowledged charge…");
    server.kill();
    let restarted = ServerProcess::start(bin, database, log).await?;
    let terminals: Vec<Terminal> = terminals.iter().map(|t| t.at(restarted.base.clone())).collect();
    let records: Vec<_> =
        timed.idle.records.iter().chain(&timed.load.records).chain(&timed.steady.records).cloned().collect();
    let mut durability = load::check_acknowledged(&terminals, &records).await?;
    durability.after_kill = true;
    drop(restarted);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(database).await?;
    durability.ledger = Some(inkan_bench::verify::ledger(&pool).await?);
    pool.close().await;

    let instructions = if plan.callgrind_charges == 0 {
        Section::NotMeasured { reason: "--callgrind-charges 0".to_owned() }
    } else {
        println!("  {} charges under callgrind (one lane)…", plan.callgrind_charges);
        let out = log.with_extension("callgrind");
        let key = keys.first().context("no terminal")?;
        section(callgrind::measure(bin, database, log, key, plan.callgrind_charges, &out).await)
    };
    let Timed { idle, ceiling, load, steady } = timed;
    let crypto_ms = (ceiling.code_verify_us + ceiling.webauthn_verify_us) / 1000.0;
    let cpu = load.cpu.as_ref();
    Ok(ChargeRun {
        ratio: load.charges_per_s / ceiling.charges_per_s,
        ratio_bound: cpu.and_then(|c| inkan_bench::report::ratio_bound(crypto_ms, c.loadgen_ms_per_charge)),
        server_cpu_per_charge_ve: cpu
            .and_then(|c| inkan_bench::report::verify_equivalents(c.server_ms_per_charge, ceiling.p256_verify_us)),
        ceiling,
        idle,
        load,
        steady,
        durability,
        instructions,
        server_log: log.display().to_string(),
    })
}

/// The three timed runs of one backend, and the ceiling measured between them.
struct Timed {
    idle: load::LoadResult,
    ceiling: ceiling::Ceiling,
    load: load::LoadResult,
    steady: load::LoadResult,
}

/// The idle run, the ceiling, the load run and the steady run against `server`.
async fn timed_runs(server: &ServerProcess, terminals: &[Terminal], plan: &Plan) -> Result<Timed> {
    println!("  enrolling {} wallets…", plan.lanes + 1);
    let mut wallets = load::enroll(&server.base, plan.lanes + 1).await?;
    let mut idle_wallet = wallets.pop().context("no wallet")?;

    println!("  idle: one lane, a charge due every {:.0} ms…", 1000.0 / IDLE_RATE);
    idle_wallet.presign(100)?;
    let idle_pace = Pace { warmup: Duration::from_secs(1), measure: plan.idle, rate: Some(IDLE_RATE) };
    let first_terminal = terminals.get(..1).context("no terminal")?;
    let (idle, _) =
        load::run(&server.base, vec![idle_wallet], first_terminal, idle_pace, Some(server.watched())).await?;

    println!("  crypto ceiling…");
    let ceiling = tokio::task::spawn_blocking({
        let d = plan.ceiling;
        move || ceiling::measure(d)
    })
    .await??;

    // Enough codes for every lane to run at the ceiling for the whole run: signing stays out of the window.
    let run_s = plan.warmup + plan.seconds;
    let per_wallet = (ceiling.charges_per_s * count_f64(usize::try_from(run_s)?) / count_f64(plan.lanes)).min(4000.0);
    presign(&mut wallets, per_wallet)?;
    println!("  load: {} lanes, {} s + {} s warmup…", plan.lanes, plan.seconds, plan.warmup);
    let pace =
        Pace { warmup: Duration::from_secs(plan.warmup), measure: Duration::from_secs(plan.seconds), rate: None };
    let (load, mut wallets) = load::run(&server.base, wallets, terminals, pace, Some(server.watched())).await?;
    println!("  {:.1} charges/s", load.charges_per_s);

    // The same lanes on a timetable at a share of what the server just did flat out: the
    // latencies of a server that is busy but keeping up.
    let rate = load.charges_per_s * STEADY_SHARE;
    let steady_s = (plan.seconds / 2).max(2);
    println!("  steady: {rate:.0} charges/s offered ({STEADY_SHARE} of that), {steady_s} s + 1 s warmup…");
    presign(&mut wallets, rate * f64::from(u32::try_from(steady_s + 1)?) / count_f64(plan.lanes))?;
    let steady_pace = Pace { warmup: Duration::from_secs(1), measure: Duration::from_secs(steady_s), rate: Some(rate) };
    let (steady, _) = load::run(&server.base, wallets, terminals, steady_pace, Some(server.watched())).await?;
    Ok(Timed { idle, ceiling, load, steady })
}

/// Signs about `per_wallet` codes ahead for every wallet (20 more, for the charges in flight).
fn presign(wallets: &mut [load::Wallet], per_wallet: f64) -> Result<()> {
    let n = format!("{per_wallet:.0}").parse::<usize>().unwrap_or(100) + 20;
    for wallet in wallets {
        wallet.presign(n)?;
    }
    Ok(())
}
