//! Latency samples and their percentiles (nearest-rank, so every reported figure is a latency
//! that was actually observed).

use std::time::Duration;

use serde::Serialize;

/// Durations observed for one step.
#[derive(Debug, Clone, Default)]
pub struct Samples(Vec<Duration>);

/// What the report shows of a step's samples, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    pub n: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn total(&self) -> Duration {
        self.0.iter().sum()
    }

    /// The nearest-rank percentile `per_mille`/1000 (500 = median, 990 = p99): the smallest sample
    /// with at least that share of samples at or below it. `None` without samples.
    pub fn percentile(&self, per_mille: u32) -> Option<Duration> {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        nearest_rank(&sorted, per_mille)
    }

    pub fn summary(&self) -> Option<Latency> {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let max = *sorted.last()?;
        let mean = self.total().as_secs_f64() / count_f64(sorted.len());
        Some(Latency {
            n: sorted.len(),
            p50_ms: ms(nearest_rank(&sorted, 500)?),
            p99_ms: ms(nearest_rank(&sorted, 990)?),
            max_ms: ms(max),
            mean_ms: mean * 1000.0,
        })
    }
}

fn nearest_rank(sorted: &[Duration], per_mille: u32) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let n = u64::try_from(sorted.len()).ok()?;
    // rank = ceil(p × n), at least 1.
    let rank = (u64::from(per_mille.min(1000)) * n).div_ceil(1000).max(1);
    sorted.get(usize::try_from(rank - 1).ok()?).copied()
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A count as a float, for rates (exact up to 2^32, far beyond any count here).
pub fn count_f64(n: usize) -> f64 {
    u32::try_from(n).map(f64::from).unwrap_or(f64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(ms: &[u64]) -> Samples {
        let mut s = Samples::default();
        for &m in ms {
            s.push(Duration::from_millis(m));
        }
        s
    }

    #[test]
    fn nearest_rank_percentiles() {
        // 1..=100 ms, shuffled: p50 is the 50th smallest, p99 the 99th.
        let values: Vec<u64> = (1..=100).map(|i| (i * 37) % 100 + 1).collect();
        let s = samples(&values);
        assert_eq!(s.percentile(500), Some(Duration::from_millis(50)));
        assert_eq!(s.percentile(990), Some(Duration::from_millis(99)));
        assert_eq!(s.percentile(1000), Some(Duration::from_millis(100)));
        assert_eq!(s.percentile(0), Some(Duration::from_millis(1)));
    }

    #[test]
    fn small_sets_report_observed_values() {
        let s = samples(&[30, 10, 20]);
        assert_eq!(s.percentile(500), Some(Duration::from_millis(20)));
        // With 3 samples p99 is the largest: no interpolation past what was seen.
        assert_eq!(s.percentile(990), Some(Duration::from_millis(30)));
        let summary = s.summary().unwrap();
        assert_eq!(summary.n, 3);
        assert!((summary.mean_ms - 20.0).abs() < 1e-9);
        assert!((summary.max_ms - 30.0).abs() < 1e-9);
    }

    #[test]
    fn no_samples_no_figures() {
        assert_eq!(Samples::default().percentile(500), None);
        assert_eq!(Samples::default().summary(), None);
    }
}
