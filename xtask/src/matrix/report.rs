//! What `cargo xtask matrix` prints of its rows: times as its tables show them, and with
//! `--repeat`, each row's passes, median and range.

use super::{Row, RowResult};

/// A time in milliseconds as the tables show it.
pub(super) fn shown(ms: Option<f64>) -> String {
    ms.map_or("-".into(), |ms| format!("{ms:.1} ms"))
}

/// Each row's passes, and the median and range of its connect and block times over the runs
/// that passed.
pub(super) fn summarize(rows: &[Row], results: &[RowResult]) {
    println!();
    println!(
        "{:<22} {:<22} {:<13} {:>6} {:>26} {:>26}",
        "dialer", "listener", "transport", "passed", "connect: median (range)", "blocks"
    );
    for &(dialer, listener, transport) in rows {
        let runs: Vec<&RowResult> = results
            .iter()
            .filter(|r| {
                (r.dialer, r.listener, r.transport)
                    == (dialer.name(), listener.name(), transport.name())
            })
            .collect();
        let passed: Vec<&&RowResult> = runs.iter().filter(|r| r.ok).collect();
        let spread = |ms: Vec<f64>| match Spread::of(ms) {
            Some(s) => format!("{:.1} ({:.1}-{:.1}) ms", s.median, s.min, s.max),
            None => "-".into(),
        };
        println!(
            "{:<22} {:<22} {:<13} {:>6} {:>26} {:>26}",
            dialer.name(),
            listener.name(),
            transport.name(),
            format!("{}/{}", passed.len(), runs.len()),
            spread(passed.iter().filter_map(|r| r.connect_ms).collect()),
            spread(passed.iter().filter_map(|r| r.blocks_ms).collect()),
        );
    }
}

/// The median and range of some figures.
#[derive(Debug, PartialEq)]
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

impl Spread {
    /// `None` without figures; the median of an even count is the lower middle one (a figure
    /// that was measured, not an average of two).
    fn of(mut figures: Vec<f64>) -> Option<Spread> {
        figures.sort_by(f64::total_cmp);
        Some(Spread {
            median: *figures.get((figures.len().checked_sub(1)?) / 2)?,
            min: *figures.first()?,
            max: *figures.last()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Spread;

    #[test]
    fn spreads() {
        assert_eq!(Spread::of(vec![]), None);
        let spread =
            |figures: &[f64]| Spread::of(figures.to_vec()).map(|s| (s.median, s.min, s.max));
        assert_eq!(spread(&[3.0]), Some((3.0, 3.0, 3.0)));
        assert_eq!(spread(&[5.0, 1.0, 3.0]), Some((3.0, 1.0, 5.0)));
        assert_eq!(spread(&[4.0, 1.0, 3.0, 2.0]), Some((2.0, 1.0, 4.0)));
    }
}
