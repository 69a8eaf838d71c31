//! Line charts as SVG, written by hand: axes with ticks and grid lines (log10, or
//! percentiles on a tail axis), a title, axis labels, one polyline per series (markers
//! where points are few) and a legend. No plotting crate: the output is plain text that
//! any browser or docs page shows.

use std::fmt::Write;

mod axis;

use axis::Map;
pub use axis::{Axis, Scale, Unit};

/// Canvas size.
pub const WIDTH: f64 = 760.0;
/// Canvas size.
pub const HEIGHT: f64 = 460.0;
/// The plot area: left, top, right, bottom edges. The legend sits right of it.
pub const AREA: (f64, f64, f64, f64) = (80.0, 50.0, 560.0, 400.0);

/// Line colours, in order; after them, the colours repeat dashed.
const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// Series with at most this many points get a marker at each.
const MARKERS_UP_TO: usize = 12;

/// One line.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Its legend entry.
    pub name: String,
    /// Its points (x, y), in order along x.
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed (e.g. the floor).
    pub dashed: bool,
}

/// A line chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// Its title.
    pub title: String,
    /// A line under the title (settings, machine); may be empty.
    pub subtitle: String,
    /// The horizontal axis.
    pub x: Axis,
    /// The vertical axis.
    pub y: Axis,
    /// The lines.
    pub series: Vec<Series>,
}

/// Escapes text for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

impl Chart {
    /// The chart as a standalone SVG document.
    pub fn render(&self) -> String {
        let (left, top, right, bottom) = AREA;
        let xs: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .collect();
        let ys: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .collect();
        let (rx, ry) = (self.x.resolve(&xs), self.y.resolve(&ys));
        let (mx, my) = (
            Map::new(self.x.scale, &rx, left, right),
            Map::new(self.y.scale, &ry, bottom, top),
        );
        let mut o = String::new();
        // Writing to a String cannot fail, here and below.
        let _ = writeln!(
            o,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(
            o,
            r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
        );
        let _ = writeln!(
            o,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
            WIDTH / 2.0,
            escape(&self.title)
        );
        if !self.subtitle.is_empty() {
            let _ = writeln!(
                o,
                r##"<text x="{}" y="39" text-anchor="middle" font-size="11" fill="#555">{}</text>"##,
                WIDTH / 2.0,
                escape(&self.subtitle)
            );
        }
        // Grid lines and ticks: minor lines faint, labelled ones darker.
        for (v, labelled) in rx
            .minor
            .iter()
            .map(|v| (v, false))
            .chain(rx.ticks.iter().map(|v| (v, true)))
        {
            let Some(x) = mx.px(*v) else { continue };
            let stroke = if labelled { "#ccc" } else { "#eee" };
            let _ = writeln!(
                o,
                r#"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="{stroke}"/>"#
            );
            if labelled {
                let _ = writeln!(
                    o,
                    r#"<text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
                    bottom + 16.0,
                    escape(&self.x.unit.label(*v))
                );
            }
        }
        for (v, labelled) in ry
            .minor
            .iter()
            .map(|v| (v, false))
            .chain(ry.ticks.iter().map(|v| (v, true)))
        {
            let Some(y) = my.px(*v) else { continue };
            let stroke = if labelled { "#ccc" } else { "#eee" };
            let _ = writeln!(
                o,
                r#"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="{stroke}"/>"#
            );
            if labelled {
                let _ = writeln!(
                    o,
                    r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                    left - 6.0,
                    y + 4.0,
                    escape(&self.y.unit.label(*v))
                );
            }
        }
        let _ = writeln!(
            o,
            r#"<rect x="{left}" y="{top}" width="{}" height="{}" fill="none" stroke="black"/>"#,
            right - left,
            bottom - top
        );
        let _ = writeln!(
            o,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            (left + right) / 2.0,
            bottom + 36.0,
            escape(&self.x.label)
        );
        let _ = writeln!(
            o,
            r#"<text x="20" y="{0}" text-anchor="middle" transform="rotate(-90 20 {0})">{1}</text>"#,
            (top + bottom) / 2.0,
            escape(&self.y.label)
        );
        let mut drawn = 0;
        for (i, s) in self.series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let dash = if s.dashed || i >= PALETTE.len() {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            };
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter_map(|&(x, y)| Some((mx.px(x)?, my.px(y)?)))
                .collect();
            drawn += pts.len();
            let list: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            if pts.len() > 1 {
                let _ = writeln!(
                    o,
                    r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
                    list.join(" ")
                );
            }
            if pts.len() <= MARKERS_UP_TO {
                for (x, y) in &pts {
                    let _ = writeln!(
                        o,
                        r#"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{color}"/>"#
                    );
                }
            }
            let ly = top + 8.0 + 18.0 * i as f64;
            let lx = right + 14.0;
            let _ = writeln!(
                o,
                r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="2"{dash}/>"#,
                lx + 24.0
            );
            let _ = writeln!(
                o,
                r#"<text x="{}" y="{}" font-size="11">{}</text>"#,
                lx + 30.0,
                ly + 4.0,
                escape(&s.name)
            );
        }
        if drawn == 0 {
            let _ = writeln!(
                o,
                r##"<text x="{}" y="{}" text-anchor="middle" fill="#888">no data</text>"##,
                (left + right) / 2.0,
                (top + bottom) / 2.0
            );
        }
        o.push_str("</svg>\n");
        o
    }
}

#[cfg(test)]
pub(crate) mod tests;
