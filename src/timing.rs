//! Process CPU time, for timings that stay meaningful on a shared machine
//! (`caregap model` records it beside wall time; the benches print it).

/// CPU seconds (user + system, every thread) of this process so far, from
/// `/proc/self/stat` (Linux; 0 elsewhere), in clock ticks of 1/100 s.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the parenthesised command name; utime and stime are
    // the 14th and 15th fields of the line.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum::<f64>()
        / 100.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_never_decreases() {
        let a = super::cpu_seconds();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(super::cpu_seconds() >= a);
    }
}
