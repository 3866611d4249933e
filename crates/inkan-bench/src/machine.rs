//! The machine a run was measured on: CPU, cores, memory, kernel, load, and how long a durable
//! write takes on the disk the databases live on (SQLite commits wait for it).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::stats::{Latency, Samples};

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    /// 1-minute load average at the start and the end of the run (other work on a shared machine).
    pub load_start: f64,
    pub load_end: f64,
    /// One 4 KiB write + `fdatasync` in the directory of the SQLite file.
    pub fsync: Option<Latency>,
}

fn first_line_with(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_once(':')).map(|(_, v)| v.trim().to_owned())
}

pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// Times `n` durable 4 KiB writes in `dir`.
pub fn fsync_probe(dir: &Path, n: u32) -> Option<Latency> {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path).ok()?;
    let block = [0x5au8; 4096];
    let mut samples = Samples::default();
    for _ in 0..n {
        let t = Instant::now();
        file.write_all(&block).ok()?;
        file.sync_data().ok()?;
        samples.push(t.elapsed());
    }
    let _ = std::fs::remove_file(&path);
    samples.summary()
}

impl Machine {
    pub fn describe(data_dir: &Path) -> Machine {
        let kib: f64 = first_line_with("/proc/meminfo", "MemTotal")
            .and_then(|v| v.trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(f64::NAN);
        Machine {
            cpu_model: first_line_with("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".to_owned()),
            cores: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            memory_gib: kib / 1024.0 / 1024.0,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned(),
            load_start: load_average(),
            load_end: f64::NAN,
            fsync: fsync_probe(data_dir, 200),
        }
    }
}
