//! The server's instructions per charge, counted by `valgrind --tool=callgrind`: a count that does
//! not move with what else the machine is doing, so it can judge a change too small for the
//! noisy CPU-time figures.
//!
//! The server runs under callgrind with instrumentation off (`--instr-atstart=no`) on the
//! database the load runs left behind; one new wallet enrols, instrumentation is switched on
//! (`callgrind_control -i on`), a few charges warm the server's paths, the counters are zeroed
//! (`-z`), and after `charges` charges on one lane (one terminal and one wallet taking turns, the
//! wallet's feed open, as in the load run) they are dumped (`-d`) and read back. Every thread of
//! the server counts; nothing of the load generator does. The dump stays next to the report, for
//! `callgrind_annotate`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::load::{Lane, Terminal, Wallet};
use crate::server::ServerProcess;

/// Charges run after instrumentation is on and before the count starts.
const WARMUP_CHARGES: usize = 20;

/// What one callgrind run counted.
#[derive(Debug, Clone, Serialize)]
pub struct Instructions {
    /// Charges in the count (one lane, one after another).
    pub charges: usize,
    /// Instructions the server executed over them, all threads.
    pub instructions: u64,
    pub per_charge: f64,
    /// The callgrind dump of the counted charges (`callgrind_annotate <file>` shows where).
    pub dump: String,
}

/// Whether valgrind can be run here; the reason it cannot, otherwise.
pub fn available() -> Result<()> {
    let ok =
        |program: &str, arg: &str| Command::new(program).arg(arg).output().map(|o| o.status.success()).unwrap_or(false);
    if !ok("valgrind", "--version") {
        bail!("valgrind is not installed (Debian: apt-get install valgrind)");
    }
    if !ok("callgrind_control", "-h") {
        bail!("callgrind_control is not installed (it comes with valgrind)");
    }
    Ok(())
}

/// Counts the instructions of `charges` charges of `bin` serving `database` (which already has
/// the merchant of `terminal`), its output appended to `log`; the dump goes to `out`.
pub async fn measure(
    bin: &Path,
    database: &str,
    log: &Path,
    terminal_key: &str,
    charges: usize,
    out: &Path,
) -> Result<Instructions> {
    available()?;
    remove_dumps(out)?;
    let server = ServerProcess::start_under_callgrind(bin, database, log, out).await?;
    let terminals = [Terminal::new(server.base.clone(), terminal_key.to_owned())?];
    let mut wallet = Wallet::enroll(&server.base, "callgrind shopper").await.context("enrolling under callgrind")?;
    let mut lane = Lane::open(&server.base, &mut wallet, &terminals, 0).await?;
    control(server.pid(), &["-i", "on"])?;
    lane.charges(WARMUP_CHARGES).await.context("warming up under callgrind")?;
    control(server.pid(), &["-z"])?;
    lane.charges(charges).await.context("counting under callgrind")?;
    control(server.pid(), &["-d"])?;
    drop(lane);
    drop(server);
    let dump = last_dump(out)?;
    let text = std::fs::read_to_string(&dump).with_context(|| format!("reading {}", dump.display()))?;
    let instructions = total(&text).with_context(|| format!("no totals in {}", dump.display()))?;
    Ok(Instructions {
        charges,
        instructions,
        per_charge: crate::stats::count_f64(usize::try_from(instructions).unwrap_or(usize::MAX))
            / crate::stats::count_f64(charges.max(1)),
        dump: dump.display().to_string(),
    })
}

/// `callgrind_control <args> <pid>`.
fn control(pid: u32, args: &[&str]) -> Result<()> {
    let output = Command::new("callgrind_control")
        .args(args)
        .arg(pid.to_string())
        .output()
        .context("running callgrind_control")?;
    if !output.status.success() {
        bail!(
            "callgrind_control {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// The dumps of an earlier run with the same name (`out`, `out.1`, …): gone, so that the one read
/// back is this run's.
fn remove_dumps(out: &Path) -> Result<()> {
    for dump in dumps(out)? {
        std::fs::remove_file(&dump).with_context(|| format!("removing {}", dump.display()))?;
    }
    let _ = std::fs::remove_file(out);
    Ok(())
}

/// The numbered dumps of `out` (`callgrind_control -d` writes `out.1`, `out.2`, …), in order.
fn dumps(out: &Path) -> Result<Vec<PathBuf>> {
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = out.file_name().and_then(|n| n.to_str()).context("a dump name that is not UTF-8")?;
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let file = entry.file_name();
        let number = file.to_str().and_then(|f| f.strip_prefix(name)?.strip_prefix('.')?.parse().ok());
        if let Some(number) = number {
            found.push((number, entry.path()));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, path)| path).collect())
}

fn last_dump(out: &Path) -> Result<PathBuf> {
    dumps(out)?.pop().with_context(|| format!("callgrind wrote no dump next to {}", out.display()))
}

/// The event total of a callgrind dump: its `totals:` line, or its `summary:` line (older
/// versions write only that); with one event (`Ir`, the default), the instructions.
pub fn total(dump: &str) -> Option<u64> {
    let line = |key: &str| dump.lines().find_map(|l| l.strip_prefix(key)).map(str::trim);
    let first = |value: &str| value.split_whitespace().next()?.parse().ok();
    line("totals:").and_then(first).or_else(|| line("summary:").and_then(first))
}

#[cfg(test)]
mod tests {
    use super::{dumps, total};

    #[test]
    fn a_dump_s_total_is_its_instruction_count() {
        let dump = "# callgrind format\nversion: 1\ncreator: callgrind-3.19.0\npid: 8482\ncmd: perl\n\
                    part: 1\n\npositions: line\nevents: Ir\nsummary: 88058172\n\nfn=(1) main\n16 3\n\
                    totals: 88058172\n";
        assert_eq!(total(dump), Some(88_058_172));
        assert_eq!(total("events: Ir\nsummary: 12 7\n"), Some(12));
        assert_eq!(total("events: Ir\n"), None);
        assert_eq!(total("totals: many\n"), None);
    }

    #[test]
    fn dumps_are_found_by_number_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("server.callgrind");
        for name in ["server.callgrind", "server.callgrind.2", "server.callgrind.10", "server.callgrind.x", "other.1"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let found = dumps(&out).unwrap();
        let names: Vec<_> = found.iter().map(|p| p.file_name().unwrap().to_str().unwrap().to_owned()).collect();
        assert_eq!(names, ["server.callgrind.2", "server.callgrind.10"]);
    }
}
