//! What the load generators in `src/bin` share: latency percentiles and milliseconds.
use std::time::Duration;

/// The `p` quantile (0.0–1.0; 1.0 is the maximum) of some latencies, by nearest rank.
pub fn percentile(latencies: &[Duration], p: f64) -> Duration {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
