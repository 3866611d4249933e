//! The report: one struct serialised to `report.json`, and the same figures as a table.
//!
//! Each part is a [`Section`]: measured, or not measured with the reason (so a missing
//! PostgreSQL or app binary shows as such instead of as a zero).

use std::fmt::Write as _;

use serde::Serialize;

use crate::callgrind::Instructions;
use crate::ceiling::Ceiling;
use crate::codes::CodeTimings;
use crate::load::{Durability, LoadResult};
use crate::machine::Machine;
use crate::stats::Latency;

/// Bumped when a field changes meaning.
pub const SCHEMA: u32 = 7;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Section<T> {
    Measured(T),
    NotMeasured { reason: String },
}

impl<T> Section<T> {
    pub fn measured(&self) -> Option<&T> {
        match self {
            Section::Measured(t) => Some(t),
            Section::NotMeasured { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Options {
    pub seconds: u64,
    pub warmup_seconds: u64,
    pub lanes: usize,
    pub quick: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub started_at: String,
    pub machine: Machine,
    pub options: Options,
    pub payment_code: Section<CodeTimings>,
    /// One entry per database backend, in the order run.
    pub charges: Vec<BackendRun>,
    pub app: Section<AppFigures>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackendRun {
    pub backend: String,
    pub result: Section<ChargeRun>,
}

/// One backend: the crypto ceiling measured just before, the idle run (one lane, paced), the
/// load run, the steady run, and the check that every acknowledged charge is durable.
#[derive(Debug, Clone, Serialize)]
pub struct ChargeRun {
    pub ceiling: Ceiling,
    /// `load.charges_per_s / ceiling.charges_per_s`.
    pub ratio: f64,
    /// The highest `ratio` this run's load generator leaves room for, from [`ratio_bound`]:
    /// `None` when the CPU times could not be read.
    pub ratio_bound: Option<f64>,
    /// Server CPU per complete charge in the load run ÷ one bare P-256 verification on one core
    /// (`ceiling.p256_verify_us`), both measured in this run: verify-equivalents, VE (since
    /// schema 5). `None` when the server's CPU time could not be read.
    pub server_cpu_per_charge_ve: Option<f64>,
    pub idle: LoadResult,
    /// Every lane flat out (closed loop): the throughput, and latencies at saturation.
    pub load: LoadResult,
    /// The same lanes on a timetable at a share of `load`'s charges per second (since schema 4).
    pub steady: LoadResult,
    pub durability: Durability,
    /// The server's instructions per charge under callgrind, one lane (since schema 6).
    pub instructions: Section<Instructions>,
    pub server_log: String,
}

/// The wallet app (Tauri, release build) on an X display: see `docs/performance.md`.
#[derive(Debug, Clone, Serialize)]
pub struct AppFigures {
    /// How many starts were timed (after the one that created the wallet).
    pub launches: usize,
    /// Median, from asking tauri-driver for the app to its payment QR on screen (decoded from a
    /// screenshot of the window).
    pub launch_to_first_qr_ms: f64,
    pub launch_to_first_qr_max_ms: f64,
    /// How long the app was left alone before its memory was read.
    pub idle_seconds: u64,
    /// Proportional set size of all the app's processes (shared pages split between them).
    pub memory_after_idle_mib: f64,
    /// Resident set size, summed (counts shared libraries once per process).
    pub rss_after_idle_mib: f64,
    pub processes: Vec<AppProcess>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppProcess {
    pub name: String,
    pub pss_mib: f64,
    pub rss_mib: f64,
}

/// Server CPU per charge in verify-equivalents: `server_ms_per_charge` ÷ one P-256 verification.
pub fn verify_equivalents(server_ms_per_charge: f64, p256_verify_us: f64) -> Option<f64> {
    (p256_verify_us > 0.0).then(|| server_ms_per_charge * 1000.0 / p256_verify_us)
}

/// The highest `charges/s ÷ ceiling` possible on these cores while the load generator shares them:
/// even a server that spent nothing beyond its two verifications (`crypto_ms` per charge, one core)
/// would have to share the cores with the generator's `loadgen_ms` per charge, so
/// `charges/s ≤ cores ÷ (crypto + loadgen)` while `ceiling = cores ÷ crypto`, and the ratio is at
/// most `crypto ÷ (crypto + loadgen)`.
pub fn ratio_bound(crypto_ms: f64, loadgen_ms: f64) -> Option<f64> {
    (crypto_ms > 0.0 && loadgen_ms >= 0.0).then(|| crypto_ms / (crypto_ms + loadgen_ms))
}

fn lat(l: Option<&Latency>) -> String {
    match l {
        Some(l) => format!("{:.1} / {:.1}", l.p50_ms, l.p99_ms),
        None => "-".to_owned(),
    }
}

fn us(l: &Latency) -> String {
    format!("{:.0} µs", l.p50_ms * 1000.0)
}

/// One row of the charge table: its label, and how a run's cell reads.
type Row<'a> = (&'a str, Box<dyn Fn(&ChargeRun) -> String + 'a>);

/// The rows of the charge table, one column per database.
fn charge_rows<'a>() -> Vec<Row<'a>> {
    [throughput_rows(), cost_rows(), server_count_rows(), latency_rows(), outcome_rows()]
        .into_iter()
        .flatten()
        .collect()
}

/// How many charges, against the crypto ceiling.
fn throughput_rows<'a>() -> Vec<Row<'a>> {
    vec![
        ("lanes (terminal + wallet pairs)", Box::new(|r| r.load.lanes.to_string())),
        ("charges completed in window", Box::new(|r| format!("{} in {:.0} s", r.load.completed, r.load.window_s))),
        ("charges/s", Box::new(|r| format!("{:.1}", r.load.charges_per_s))),
        (
            "ceiling: crypto charges/s, all cores",
            Box::new(|r| format!("{:.0} ({} thr)", r.ceiling.charges_per_s, r.ceiling.threads)),
        ),
        (
            "  code verify / webauthn verify, 1 core",
            Box::new(|r| format!("{:.0} / {:.0} µs", r.ceiling.code_verify_us, r.ceiling.webauthn_verify_us)),
        ),
        ("charges/s ÷ ceiling", Box::new(|r| format!("{:.3}", r.ratio))),
        (
            "  at most, beside this load generator",
            Box::new(|r| r.ratio_bound.map_or_else(|| "-".to_owned(), |b| format!("{b:.3}"))),
        ),
    ]
}

/// What a charge costs the server.
fn cost_rows<'a>() -> Vec<Row<'a>> {
    vec![
        (
            "crypto CPU ÷ server CPU, per charge",
            Box::new(|r| match &r.load.cpu {
                Some(c) if c.server_ms_per_charge > 0.0 => format!(
                    "{:.3}",
                    (r.ceiling.code_verify_us + r.ceiling.webauthn_verify_us) / 1000.0 / c.server_ms_per_charge
                ),
                _ => "-".to_owned(),
            }),
        ),
        (
            "server CPU per charge, VE (÷ one P-256 verify)",
            Box::new(|r| r.server_cpu_per_charge_ve.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))),
        ),
        (
            "  one P-256 verify, 1 core; a charge's crypto in VE",
            Box::new(|r| {
                let crypto = r.ceiling.code_verify_us + r.ceiling.webauthn_verify_us;
                let floor = verify_equivalents(crypto / 1000.0, r.ceiling.p256_verify_us);
                format!(
                    "{:.0} µs; {}",
                    r.ceiling.p256_verify_us,
                    floor.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
                )
            }),
        ),
        (
            "server context switches per charge",
            Box::new(|r| match r.load.cpu.as_ref().and_then(|c| c.server_context_switches_per_charge) {
                Some(n) => format!("{n:.1}"),
                None => "-".to_owned(),
            }),
        ),
        (
            "server disk bytes written per charge",
            Box::new(|r| match r.load.cpu.as_ref().and_then(|c| c.server_disk_bytes_per_charge) {
                Some(n) => format!("{n:.0}"),
                None => "-".to_owned(),
            }),
        ),
        (
            "server instructions per charge (callgrind, 1 lane)",
            Box::new(|r| match r.instructions.measured() {
                Some(i) => format!("{:.2} M", i.per_charge / 1e6),
                None => "-".to_owned(),
            }),
        ),
    ]
}

/// What the server counted itself (its metrics, `crate::scrape`), per charge.
fn server_count_rows<'a>() -> Vec<Row<'a>> {
    vec![
        (
            "  SQLite: WAL bytes per charge; transactions per fsync",
            Box::new(|r| {
                let cpu = r.load.cpu.as_ref();
                let figure =
                    |n: Option<f64>, digits: usize| n.map_or_else(|| "-".to_owned(), |n| format!("{n:.digits$}"));
                format!(
                    "{}; {}",
                    figure(cpu.and_then(|c| c.wal_bytes_per_charge), 0),
                    figure(cpu.and_then(|c| c.transactions_per_sync), 1)
                )
            }),
        ),
        (
            "wallet round trips per charge (requests the server counted)",
            Box::new(|r| match r.load.cpu.as_ref().and_then(|c| c.wallet_requests_per_charge) {
                Some(n) => format!("{n:.2}"),
                None => "-".to_owned(),
            }),
        ),
    ]
}

/// The latency of each step, flat out, steady and idle.
fn latency_rows<'a>() -> Vec<Row<'a>> {
    vec![
        ("load, ms p50 / p99: create", Box::new(|r| lat(r.load.steps.create.as_ref()))),
        ("  await the push", Box::new(|r| lat(r.load.steps.await_push.as_ref()))),
        ("  sign assertion (client side)", Box::new(|r| lat(r.load.steps.sign_assertion_client.as_ref()))),
        ("  confirm", Box::new(|r| lat(r.load.steps.confirm.as_ref()))),
        ("  whole flow", Box::new(|r| lat(r.load.steps.total.as_ref()))),
        ("  feed push (send → charge_pending)", Box::new(|r| lat(r.load.steps.feed_push.as_ref()))),
        (
            "steady, charges/s: offered / completed",
            Box::new(|r| format!("{:.0} / {:.0}", r.steady.offered_per_s.unwrap_or(0.0), r.steady.charges_per_s)),
        ),
        ("steady, ms p50 / p99: create", Box::new(|r| lat(r.steady.steps.create.as_ref()))),
        ("  confirm", Box::new(|r| lat(r.steady.steps.confirm.as_ref()))),
        ("  whole flow", Box::new(|r| lat(r.steady.steps.total.as_ref()))),
        ("  feed push (send → charge_pending)", Box::new(|r| lat(r.steady.steps.feed_push.as_ref()))),
        ("idle, ms p50 / p99: create", Box::new(|r| lat(r.idle.steps.create.as_ref()))),
        ("  await the push", Box::new(|r| lat(r.idle.steps.await_push.as_ref()))),
        ("  confirm", Box::new(|r| lat(r.idle.steps.confirm.as_ref()))),
        ("  feed push (send → charge_pending)", Box::new(|r| lat(r.idle.steps.feed_push.as_ref()))),
    ]
}

/// CPU shares, errors and durability.
fn outcome_rows<'a>() -> Vec<Row<'a>> {
    vec![
        (
            "CPU ms per charge: server / load gen",
            Box::new(|r| match &r.load.cpu {
                Some(c) => format!("{:.2} / {:.2}", c.server_ms_per_charge, c.loadgen_ms_per_charge),
                None => "-".to_owned(),
            }),
        ),
        (
            "CPU used in window: server / load gen / there was",
            Box::new(|r| match &r.load.cpu {
                Some(c) => format!("{:.1} / {:.1} / {:.0} s", c.server_cpu_s, c.loadgen_cpu_s, c.available_cpu_s),
                None => "-".to_owned(),
            }),
        ),
        (
            "codes signed inside the run",
            Box::new(|r| {
                format!("{}", r.load.codes_signed_in_run + r.idle.codes_signed_in_run + r.steady.codes_signed_in_run)
            }),
        ),
        (
            "errors (load / steady)",
            Box::new(|r| {
                let n: u64 = r.load.errors.values().sum();
                let m: u64 = r.steady.errors.values().sum();
                format!("{n} / {m}")
            }),
        ),
        (
            "acknowledged → succeeded after kill -9",
            Box::new(|r| format!("{} → {}", r.durability.acknowledged, r.durability.succeeded)),
        ),
        (
            "ledger balanced",
            Box::new(|r| match &r.durability.ledger {
                Some(l) if l.balanced() => "yes".to_owned(),
                Some(_) => "NO".to_owned(),
                None => "-".to_owned(),
            }),
        ),
    ]
}

impl Report {
    /// The figures as a plain-text table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        self.machine_lines(&mut out);
        let _ = writeln!(out);
        self.payment_code_lines(&mut out);
        let _ = writeln!(out);
        self.charge_table(&mut out);
        let _ = writeln!(out);
        self.app_lines(&mut out);
        out
    }

    fn machine_lines(&self, out: &mut String) {
        let m = &self.machine;
        let _ = writeln!(out, "Inkan bench, {} (schema {})", self.started_at, self.schema);
        let _ = writeln!(
            out,
            "machine: {} × {} cores, {:.0} GiB, Linux {}; load {:.1} → {:.1}; fsync 4 KiB p50 {} ms",
            m.cpu_model,
            m.cores,
            m.memory_gib,
            m.kernel,
            m.load_start,
            m.load_end,
            m.fsync.map(|f| format!("{:.2}", f.p50_ms)).unwrap_or_else(|| "?".to_owned())
        );
    }

    fn payment_code_lines(&self, out: &mut String) {
        match &self.payment_code {
            Section::Measured(c) => {
                let _ = writeln!(
                    out,
                    "payment code (p50): make {}, encode {}, render SVG {}, render PNG {}, decode PNG {}; \
                     QR version {} ({} chars, PNG {} px, {} bytes)",
                    us(&c.make),
                    us(&c.encode),
                    us(&c.render_svg),
                    us(&c.render_png),
                    us(&c.decode_png),
                    c.qr_version,
                    c.text_len,
                    c.png_pixels,
                    c.png_bytes
                );
            }
            Section::NotMeasured { reason } => {
                let _ = writeln!(out, "payment code: not measured ({reason})");
            }
        }
    }

    fn charge_table(&self, out: &mut String) {
        let runs: Vec<(&str, Option<&ChargeRun>)> =
            self.charges.iter().map(|b| (b.backend.as_str(), b.result.measured())).collect();
        let rows = charge_rows();
        let label_width = rows.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0);
        let mut columns: Vec<Vec<String>> = Vec::new();
        for (name, run) in &runs {
            let mut column = vec![(*name).to_owned()];
            for (_, cell) in &rows {
                column.push(run.map(cell).unwrap_or_else(|| "-".to_owned()));
            }
            columns.push(column);
        }
        let widths: Vec<usize> =
            columns.iter().map(|c| c.iter().map(|s| s.chars().count()).max().unwrap_or(0) + 2).collect();
        let labels: Vec<&str> = std::iter::once("charges").chain(rows.iter().map(|(l, _)| *l)).collect();
        for (i, label) in labels.iter().enumerate() {
            let _ = write!(out, "{label:<label_width$}");
            for (column, width) in columns.iter().zip(&widths) {
                let cell = column.get(i).map(String::as_str).unwrap_or("");
                let _ = write!(out, "{cell:>width$}");
            }
            let _ = writeln!(out);
        }
        for backend in &self.charges {
            match &backend.result {
                Section::NotMeasured { reason } => {
                    let _ = writeln!(out, "{}: not measured ({reason})", backend.backend);
                }
                Section::Measured(r) => {
                    for (error, n) in r.load.errors.iter().chain(&r.steady.errors) {
                        let _ = writeln!(out, "{}: {n} × {error}", backend.backend);
                    }
                    for (id, status) in r.durability.not_succeeded.iter().take(5) {
                        let _ = writeln!(out, "{}: acknowledged {id} is {status}", backend.backend);
                    }
                }
            }
        }
    }

    fn app_lines(&self, out: &mut String) {
        match &self.app {
            Section::Measured(a) => {
                let _ = writeln!(
                    out,
                    "app: launch to first QR {:.0} ms (median of {}, max {:.0}); memory after {} s idle {:.0} MiB PSS \
                     ({:.0} MiB RSS) in {} processes",
                    a.launch_to_first_qr_ms,
                    a.launches,
                    a.launch_to_first_qr_max_ms,
                    a.idle_seconds,
                    a.memory_after_idle_mib,
                    a.rss_after_idle_mib,
                    a.processes.len()
                );
                for p in &a.processes {
                    let _ = writeln!(out, "  {:<22} {:>6.1} MiB PSS {:>6.1} MiB RSS", p.name, p.pss_mib, p.rss_mib);
                }
            }
            Section::NotMeasured { reason } => {
                let _ = writeln!(out, "app: not measured ({reason})");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ratio_bound, verify_equivalents};

    #[test]
    fn verify_equivalents_divide_the_server_cpu_by_one_verify() {
        // The figure: 3.2 ms of server CPU per charge, a verify of 76 µs.
        let ve = verify_equivalents(3.2, 76.0).unwrap();
        assert!((ve - 42.1).abs() < 0.1, "{ve}");
        assert_eq!(verify_equivalents(3.2, 0.0), None);
    }

    #[test]
    fn the_ratio_bound_leaves_the_generator_its_share() {
        // Session 3's run: 0.225 ms of crypto and 0.38 ms of load generator per charge.
        let bound = ratio_bound(0.225, 0.38).unwrap();
        assert!((bound - 0.372).abs() < 0.001, "{bound}");
        // A generator that cost nothing would leave the whole machine to the server.
        assert_eq!(ratio_bound(0.225, 0.0), Some(1.0));
        assert_eq!(ratio_bound(0.0, 0.38), None);
    }
}
