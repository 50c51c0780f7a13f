//! Numbers for people: bytes and rates in SI units, as iperf3 prints them.

/// `1.2 MB`, `512 B`.
pub fn bytes(n: u64) -> String {
    scaled(n as f64, "B")
}

/// A rate in bytes per second, shown in bits per second: `19.8 Mbit/s`.
pub fn rate(bytes_per_sec: Option<f64>) -> String {
    match bytes_per_sec {
        Some(r) => scaled(r * 8.0, "bit/s"),
        None => "-".into(),
    }
}

/// `1 subflow`, `2 subflows`.
pub fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn scaled(v: f64, unit: &str) -> String {
    const PREFIXES: [&str; 5] = ["", "k", "M", "G", "T"];
    let mut v = v;
    let mut i = 0;
    while v >= 1000.0 && i < PREFIXES.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0} {unit}")
    } else {
        format!("{v:.1} {}{unit}", PREFIXES[i])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn scales() {
        assert_eq!(super::bytes(512), "512 B");
        assert_eq!(super::bytes(1_234_567), "1.2 MB");
        assert_eq!(super::rate(Some(2_475_000.0)), "19.8 Mbit/s");
        assert_eq!(super::rate(None), "-");
    }
}
