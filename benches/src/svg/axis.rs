//! The axes of a chart: how values map to positions (log10, or percentiles on a tail
//! axis), the range and ticks resolved from the data, and tick labels.

/// How an axis maps values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// log10; values must be positive.
    Log,
    /// Percentiles p (0 <= p < 100) at -log10(1 - p/100): p50, p90, p99, p99.9 evenly
    /// spaced from p90 on, so that the tail gets the room.
    Tail,
}

impl Scale {
    /// The position of `v` along the axis, before scaling to pixels; `None` where the
    /// scale has no place for it (log of zero, p100).
    pub fn apply(self, v: f64) -> Option<f64> {
        let t = match self {
            Scale::Log if v > 0.0 => v.log10(),
            Scale::Tail if (0.0..100.0).contains(&v) => -(1.0 - v / 100.0).log10(),
            _ => return None,
        };
        t.is_finite().then_some(t)
    }
}

/// How tick labels are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Microseconds: `20 µs`, `1.5 ms`, `2 s`.
    Micros,
    /// A rate: `900`, `20k`, `1.5M`.
    Rate,
    /// A plain number.
    Count,
    /// A percentile: `p99.9`.
    Percentile,
}

/// Up to three significant digits, without trailing zeros.
fn short(v: f64) -> String {
    let digits = if v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    let text = format!("{v:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

impl Unit {
    /// The label of a tick at `v`.
    pub fn label(self, v: f64) -> String {
        match self {
            Unit::Micros if v >= 1e6 => format!("{} s", short(v / 1e6)),
            Unit::Micros if v >= 1e3 => format!("{} ms", short(v / 1e3)),
            Unit::Micros => format!("{} µs", short(v)),
            Unit::Rate if v >= 1e6 => format!("{}M", short(v / 1e6)),
            Unit::Rate if v >= 1e3 => format!("{}k", short(v / 1e3)),
            Unit::Rate | Unit::Count => short(v),
            Unit::Percentile => format!("p{}", short(v)),
        }
    }
}

/// One axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Its label.
    pub label: String,
    /// How it maps values.
    pub scale: Scale,
    /// How its ticks are labelled.
    pub unit: Unit,
    /// Its range; `None`: from the data, widened to round values.
    pub range: Option<(f64, f64)>,
    /// Its labelled ticks; `None`: chosen from the scale and range.
    pub ticks: Option<Vec<f64>>,
}

/// An axis resolved against the data: its range, labelled ticks and unlabelled grid lines.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    /// The range, in values.
    pub lo: f64,
    /// The range, in values.
    pub hi: f64,
    /// Labelled ticks, within the range.
    pub ticks: Vec<f64>,
    /// Minor grid lines (log axes: 2..9 times each power of ten), within the range.
    pub minor: Vec<f64>,
}

/// The factor by which a log axis extends past its data before snapping to 1-2-5 values.
const LOG_PAD: f64 = 1.15;

/// The 1-2-5 value at or below `v` (> 0), and the one at or above it.
fn snap125(v: f64) -> (f64, f64) {
    let decade = 10f64.powf(v.log10().floor());
    let steps = [1.0, 2.0, 5.0, 10.0];
    let down = steps
        .iter()
        .rev()
        .map(|s| s * decade)
        .find(|&s| s <= v * (1.0 + 1e-9));
    let up = steps
        .iter()
        .map(|s| s * decade)
        .find(|&s| s >= v * (1.0 - 1e-9));
    (down.unwrap_or(decade), up.unwrap_or(10.0 * decade))
}

impl Axis {
    /// Resolves the range and ticks for `values` (those the scale cannot place are left
    /// out; with none left, a default range).
    pub fn resolve(&self, values: &[f64]) -> Resolved {
        let placed: Vec<f64> = values
            .iter()
            .copied()
            .filter(|&v| self.scale.apply(v).is_some())
            .collect();
        let lo = placed.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = placed.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = match (self.range, self.scale) {
            (Some(range), _) => range,
            (None, _) if placed.is_empty() => match self.scale {
                Scale::Log => (1.0, 10.0),
                Scale::Tail => (50.0, 99.9),
            },
            (None, Scale::Log) => {
                // A little room around the data, so that no line runs along an edge,
                // then out to 1-2-5 values.
                let (lo, hi) = if lo == hi {
                    (lo / 2.0, hi * 2.0)
                } else {
                    (lo / LOG_PAD, hi * LOG_PAD)
                };
                (snap125(lo).0, snap125(hi).1)
            }
            (None, Scale::Tail) => (lo, hi),
        };
        let eps = (hi - lo).abs() * 1e-9;
        let inside = |v: &f64| *v >= lo - eps && *v <= hi + eps;
        let mut minor = Vec::new();
        let ticks = match (&self.ticks, self.scale) {
            (Some(ticks), _) => ticks.clone(),
            (None, Scale::Tail) => vec![50.0, 90.0, 99.0, 99.9, 99.99, 99.999],
            (None, Scale::Log) => {
                let (d0, d1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
                let mut ticks = Vec::new();
                for d in d0..=d1 {
                    let decade = 10f64.powi(d);
                    for m in 1..=9 {
                        let v = decade * f64::from(m);
                        if m == 1 || (d1 - d0 <= 2 && (m == 2 || m == 5)) {
                            ticks.push(v);
                        } else {
                            minor.push(v);
                        }
                    }
                }
                ticks
            }
        };
        minor.retain(inside);
        Resolved {
            lo,
            hi,
            ticks: ticks.into_iter().filter(inside).collect(),
            minor,
        }
    }
}

/// Maps values of one axis to pixels between `from` and `to`.
pub struct Map {
    scale: Scale,
    t0: f64,
    t1: f64,
    from: f64,
    to: f64,
}

impl Map {
    pub fn new(scale: Scale, r: &Resolved, from: f64, to: f64) -> Map {
        let t0 = scale.apply(r.lo).unwrap_or(0.0);
        let mut t1 = scale.apply(r.hi).unwrap_or(1.0);
        if (t1 - t0).abs() < 1e-12 {
            t1 = t0 + 1.0;
        }
        Map {
            scale,
            t0,
            t1,
            from,
            to,
        }
    }

    /// The pixel of `v`, if the scale places it within the range.
    pub fn px(&self, v: f64) -> Option<f64> {
        let f = (self.scale.apply(v)? - self.t0) / (self.t1 - self.t0);
        (-1e-9..=1.0 + 1e-9)
            .contains(&f)
            .then(|| self.from + f.clamp(0.0, 1.0) * (self.to - self.from))
    }
}
