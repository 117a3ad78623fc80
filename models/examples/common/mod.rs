//! Helpers shared by the examples.

/// CPU time (user + system) of this process in seconds, from /proc (Linux);
/// robust to other processes competing for the cores.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the ")".
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

/// Command-line argument `i` parsed, or `default` when absent.
pub fn arg<T: std::str::FromStr>(i: usize, default: T) -> Result<T, T::Err> {
    std::env::args().nth(i).map_or(Ok(default), |s| s.parse())
}
