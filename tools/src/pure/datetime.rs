//! `datetime-handler`: now, parse, format, add, diff and convert between time zones, on
//! chrono and chrono-tz (IANA names such as `Europe/Paris`, or fixed offsets such as
//! `+05:30`). Not cacheable: `now` reads the clock.

use super::{opt_str, req_str, spec};
use chrono::format::StrftimeItems;
use chrono::offset::LocalResult;
use chrono::{
    DateTime, Datelike, FixedOffset, Months, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;
use llmspell_core::tools::{Tool, ToolContext, ToolError, ToolOutput, ToolResult, ToolSpec};
use serde_json::{json, Value};
use std::fmt::Write as _;

const OPERATIONS: [&str; 6] = ["now", "parse", "format", "add", "diff", "convert_timezone"];
const UNITS: [&str; 7] = [
    "seconds", "minutes", "hours", "days", "weeks", "months", "years",
];

/// Date and time arithmetic, parsing, formatting and time-zone conversion.
pub struct DatetimeHandler {
    spec: ToolSpec,
}

impl DatetimeHandler {
    /// The tool.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "operation": {"type": "string", "enum": OPERATIONS},
                "input": {"type": "string", "description": "A date-time: RFC 3339, RFC 2822, \
                    `YYYY-MM-DD[ HH:MM[:SS]]`, or Unix seconds"},
                "input_format": {"type": "string",
                    "description": "strftime format to parse `input` with, e.g. %d/%m/%Y %H:%M"},
                "format": {"type": "string",
                    "description": "strftime format for the output, e.g. %Y-%m-%d %H:%M"},
                "timezone": {"type": "string", "description": "IANA name (Europe/Paris), UTC, \
                    or an offset (+05:30): the zone of the output, and of inputs without one"},
                "amount": {"type": "integer", "description": "For add: how many units (may be negative)"},
                "unit": {"type": "string", "enum": UNITS, "default": "days"},
                "start": {"type": "string", "description": "For diff: the earlier date-time"},
                "end": {"type": "string", "description": "For diff: the later date-time"}
            },
            "required": ["operation"],
            "additionalProperties": false
        });
        DatetimeHandler {
            spec: spec(
                "datetime-handler",
                "time",
                "Gets the current time, parses, formats and converts dates between time zones, \
                 adds durations and measures the time between two dates.",
                parameters,
                false,
            ),
        }
    }
}

impl Default for DatetimeHandler {
    fn default() -> Self {
        Self::new()
    }
}

/// A time zone: an IANA zone or a fixed offset.
#[derive(Clone, Copy)]
enum Zone {
    Named(Tz),
    Fixed(FixedOffset),
}

impl Zone {
    fn parse(name: &str) -> Result<Zone, ToolError> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("utc") || name == "Z" {
            return Ok(Zone::Fixed(utc_offset()));
        }
        if let Ok(tz) = name.parse::<Tz>() {
            return Ok(Zone::Named(tz));
        }
        if name.starts_with(['+', '-']) {
            // Reuse chrono's offset parser on a dummy date-time with this offset.
            let probe = format!("2000-01-01T00:00:00{name}");
            if let Ok(dt) = DateTime::parse_from_str(&probe, "%Y-%m-%dT%H:%M:%S%z") {
                return Ok(Zone::Fixed(*dt.offset()));
            }
        }
        Err(ToolError::invalid(format!(
            "parameter `timezone`: `{name}` is not an IANA zone (such as Europe/Paris), UTC, \
             or an offset (such as +05:30)"
        )))
    }

    /// `dt` seen in this zone.
    fn convert(self, dt: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
        match self {
            Zone::Named(tz) => dt.with_timezone(&tz).fixed_offset(),
            Zone::Fixed(offset) => dt.with_timezone(&offset),
        }
    }

    /// A wall-clock time in this zone.
    fn localize(self, naive: NaiveDateTime) -> Result<DateTime<FixedOffset>, ToolError> {
        let local = match self {
            Zone::Named(tz) => tz.from_local_datetime(&naive).map(|dt| dt.fixed_offset()),
            Zone::Fixed(offset) => offset.from_local_datetime(&naive),
        };
        match local {
            LocalResult::Single(dt) => Ok(dt),
            // A wall-clock time that happens twice (clocks go back): take the first.
            LocalResult::Ambiguous(first, _) => Ok(first),
            LocalResult::None => Err(ToolError::invalid(format!(
                "{naive} does not exist in that time zone (clocks skip it)"
            ))),
        }
    }
}

/// The zero offset.
fn utc_offset() -> FixedOffset {
    Utc.fix()
}

/// Parses a date-time, reading one without an offset in `zone`.
fn parse_datetime(
    input: &str,
    input_format: Option<&str>,
    zone: Zone,
    param: &str,
) -> Result<DateTime<FixedOffset>, ToolError> {
    let input = input.trim();
    if let Some(format) = input_format {
        if let Ok(dt) = DateTime::parse_from_str(input, format) {
            return Ok(dt);
        }
        if let Ok(naive) = NaiveDateTime::parse_from_str(input, format) {
            return zone.localize(naive);
        }
        return match NaiveDate::parse_from_str(input, format) {
            Ok(date) => zone.localize(date.and_time(chrono::NaiveTime::MIN)),
            Err(err) => Err(ToolError::invalid(format!(
                "parameter `{param}`: `{input}` does not match format `{format}`: {err}"
            ))),
        };
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(input) {
        return Ok(dt);
    }
    if let Ok(dt) = DateTime::parse_from_rfc2822(input) {
        return Ok(dt);
    }
    let numeric = input.bytes().any(|b| b.is_ascii_digit())
        && input
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
    if let Some(secs) = numeric.then(|| input.parse::<f64>().ok()).flatten() {
        let whole = secs.floor();
        let nanos = ((secs - whole) * 1e9).round() as u32;
        if let Some(dt) = DateTime::from_timestamp(whole as i64, nanos.min(999_999_999)) {
            return Ok(zone.convert(dt.fixed_offset()));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f %z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(input, format) {
            return Ok(dt);
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(input, format) {
            return zone.localize(naive);
        }
    }
    for format in ["%Y-%m-%d", "%Y/%m/%d"] {
        if let Ok(date) = NaiveDate::parse_from_str(input, format) {
            return zone.localize(date.and_time(chrono::NaiveTime::MIN));
        }
    }
    Err(ToolError::invalid(format!(
        "parameter `{param}`: cannot read `{input}` as a date-time (try RFC 3339, such as \
         2024-03-01T12:00:00Z, or give `input_format`)"
    )))
}

/// `dt` written with a strftime `format`, which is checked first.
fn format_with(dt: &DateTime<FixedOffset>, format: &str) -> Result<String, ToolError> {
    let items = StrftimeItems::new(format).parse().map_err(|err| {
        ToolError::invalid(format!("parameter `format`: `{format}` is invalid: {err}"))
    })?;
    let mut out = String::new();
    write!(out, "{}", dt.format_with_items(items.iter()))
        .map_err(|_| ToolError::failed(format!("cannot write this date with `{format}`")))?;
    Ok(out)
}

/// The output for one date-time: text in `format` or RFC 3339, data with its parts.
fn describe(dt: DateTime<FixedOffset>, params: &Value, extra: Value) -> ToolResult {
    let iso = dt.to_rfc3339();
    let text = match opt_str(params, "format")? {
        Some(format) => format_with(&dt, format)?,
        None => iso.clone(),
    };
    let mut data = json!({
        "iso": iso,
        "formatted": text,
        "unix": dt.timestamp(),
        "unix_ms": dt.timestamp_millis(),
        "offset": dt.offset().to_string(),
        "year": dt.year(),
        "month": dt.month(),
        "day": dt.day(),
        "hour": dt.hour(),
        "minute": dt.minute(),
        "second": dt.second(),
        "weekday": dt.weekday().to_string(),
        "day_of_year": dt.ordinal(),
        "iso_week": dt.iso_week().week(),
    });
    if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    Ok(ToolOutput { text, data })
}

impl Tool for DatetimeHandler {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, _ctx: &ToolContext<'_>) -> ToolResult {
        let operation = req_str(params, "operation")?;
        let zone_param = opt_str(params, "timezone")?;
        let zone = zone_param.map(Zone::parse).transpose()?;
        let read_zone = zone.unwrap_or(Zone::Fixed(utc_offset()));
        let input_format = opt_str(params, "input_format")?;
        let read = |name: &str| -> Result<DateTime<FixedOffset>, ToolError> {
            let text = req_str(params, name)?;
            parse_datetime(text, input_format, read_zone, name)
        };
        let output_zone = |dt: DateTime<FixedOffset>| zone.map_or(dt, |z| z.convert(dt));
        match operation {
            "now" => describe(
                read_zone.convert(Utc::now().fixed_offset()),
                params,
                json!({}),
            ),
            "parse" | "format" => describe(output_zone(read("input")?), params, json!({})),
            "convert_timezone" => {
                let zone = zone.ok_or_else(|| {
                    ToolError::invalid("convert_timezone needs parameter `timezone`")
                })?;
                let dt = zone.convert(read("input")?);
                describe(dt, params, json!({"timezone": zone_param}))
            }
            "add" => {
                let amount = params
                    .get("amount")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| ToolError::invalid("add needs an integer `amount`"))?;
                let unit = super::opt_choice(params, "unit", &UNITS, "days")?;
                let result = add(read("input")?, amount, unit)?;
                describe(
                    output_zone(result),
                    params,
                    json!({"amount": amount, "unit": unit}),
                )
            }
            "diff" => diff(read("start")?, read("end")?),
            other => Err(ToolError::invalid(format!(
                "parameter `operation` is `{other}`; expected one of: {}",
                OPERATIONS.join(", ")
            ))),
        }
    }
}

/// `dt` plus `amount` `unit`s; months and years keep the day where it exists, else the
/// month's last day.
fn add(
    dt: DateTime<FixedOffset>,
    amount: i64,
    unit: &str,
) -> Result<DateTime<FixedOffset>, ToolError> {
    let out_of_range = || {
        ToolError::failed(format!(
            "adding {amount} {unit} leaves the supported date range"
        ))
    };
    let months = match unit {
        "months" => Some(amount),
        "years" => Some(amount.checked_mul(12).ok_or_else(out_of_range)?),
        _ => None,
    };
    if let Some(months) = months {
        let n = Months::new(u32::try_from(months.unsigned_abs()).map_err(|_| out_of_range())?);
        let result = if months >= 0 {
            dt.checked_add_months(n)
        } else {
            dt.checked_sub_months(n)
        };
        return result.ok_or_else(out_of_range);
    }
    let delta = match unit {
        "seconds" => TimeDelta::try_seconds(amount),
        "minutes" => TimeDelta::try_minutes(amount),
        "hours" => TimeDelta::try_hours(amount),
        "weeks" => TimeDelta::try_weeks(amount),
        _ => TimeDelta::try_days(amount),
    };
    delta
        .and_then(|delta| dt.checked_add_signed(delta))
        .ok_or_else(out_of_range)
}

/// The time from `start` to `end`.
fn diff(start: DateTime<FixedOffset>, end: DateTime<FixedOffset>) -> ToolResult {
    let delta = end.signed_duration_since(start);
    let seconds = delta.num_seconds();
    let mut parts = Vec::new();
    let mut rest = seconds.unsigned_abs();
    for (name, size) in [
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
        ("second", 1),
    ] {
        let n = rest / size;
        rest %= size;
        if n > 0 {
            parts.push(format!("{n} {name}{}", if n == 1 { "" } else { "s" }));
        }
    }
    let mut text = if parts.is_empty() {
        "0 seconds".to_string()
    } else {
        parts.join(" ")
    };
    if seconds < 0 {
        text.insert(0, '-');
    }
    let millis = delta.num_milliseconds();
    Ok(ToolOutput {
        data: json!({
            "start": start.to_rfc3339(),
            "end": end.to_rfc3339(),
            "seconds": seconds,
            "milliseconds": millis,
            "minutes": millis as f64 / 60_000.0,
            "hours": millis as f64 / 3_600_000.0,
            "days": millis as f64 / 86_400_000.0,
            "human": text,
        }),
        text,
    })
}
