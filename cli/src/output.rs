//! Printing results: JSON in the chosen style, text tables, human durations.

use std::io::Write;

use crate::cli::OutputFormat;

/// Prints `value` on stdout: one line for `json`, indented for `pretty` (and for `text`,
/// which callers only pass when they have no text form).
pub fn print_json(value: &serde_json::Value, format: OutputFormat) {
    let text = match format {
        OutputFormat::Json => value.to_string(),
        OutputFormat::Pretty | OutputFormat::Text => {
            // A `Value` always serializes: its map keys are strings.
            serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
        }
    };
    let mut out = std::io::stdout().lock();
    // A closed stdout (`| head`) is not worth an error of its own.
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Prints text lines on stdout, ignoring a closed pipe.
pub fn print_text(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}

/// A duration in seconds for humans: `42s`, `3m12s`, `2h05m09s`, `3d04h10m`.
pub fn format_uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    if secs < 60 {
        format!("{s}s")
    } else if secs < 3_600 {
        format!("{m}m{s:02}s")
    } else if secs < 86_400 {
        format!("{h}h{m:02}m{s:02}s")
    } else {
        format!("{d}d{h:02}h{m:02}m")
    }
}

/// Renders rows as left-aligned columns separated by two spaces, with a header row.
/// The last column is not padded, so lines carry no trailing spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let width = widths.get(i).copied().unwrap_or(0);
                let pad = width.saturating_sub(cell.chars().count()) + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_is_human() {
        assert_eq!(format_uptime(0), "0s");
        assert_eq!(format_uptime(59), "59s");
        assert_eq!(format_uptime(60), "1m00s");
        assert_eq!(format_uptime(192), "3m12s");
        assert_eq!(format_uptime(3_599), "59m59s");
        assert_eq!(format_uptime(3_600), "1h00m00s");
        assert_eq!(format_uptime(7_509), "2h05m09s");
        assert_eq!(format_uptime(86_399), "23h59m59s");
        assert_eq!(format_uptime(86_400), "1d00h00m");
        assert_eq!(
            format_uptime(3 * 86_400 + 4 * 3_600 + 10 * 60 + 59),
            "3d04h10m"
        );
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(&["ID", "PID"], &[vec!["abcdef01".into(), "7".into()]]);
        assert_eq!(t, "ID        PID\nabcdef01  7\n");
    }
}
