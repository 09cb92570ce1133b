//! Timestamps in every form the common loggers write, to UTC microseconds.
//! Naive times (no zone) are taken as UTC: the loggers that write them
//! (python's `asctime`, Postgres dumps without `+00`) usually run in UTC;
//! `timezone` in hopline.toml (`[fields]` or a `[[formats]]` entry) gives
//! log records another zone, and `time_format` a layout the usual forms miss.

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde_json::Value;

use crate::record::Micros;

/// The times a log record can plausibly carry: 1973-03-03 (where epoch
/// seconds and milliseconds stop overlapping) to 2200-01-01. Anything
/// outside is a counter, a duration or garbage (`"time": 1e22`), not a
/// moment: taking it would put one record decades away from the rest.
pub const PLAUSIBLE: std::ops::Range<Micros> = 100_000_000_000_000..7_258_118_400_000_000;

fn plausible(t: Micros) -> Option<Micros> {
    PLAUSIBLE.contains(&t).then_some(t)
}

/// Epoch numbers come in seconds, milliseconds, microseconds or nanoseconds;
/// the magnitude tells which (any date between 1973 and 2200 is unambiguous).
pub fn from_epoch_f64(n: f64) -> Option<Micros> {
    if !n.is_finite() || n <= 0.0 {
        return None;
    }
    let micros = if n < 1e11 {
        n * 1e6
    } else if n < 1e14 {
        n * 1e3
    } else if n < 1e17 {
        n
    } else {
        n / 1e3
    };
    if micros >= 1e19 {
        return None;
    }
    plausible(micros.round() as Micros)
}

pub fn from_epoch_i64(n: i64) -> Option<Micros> {
    if n <= 0 {
        return None;
    }
    plausible(if n < 100_000_000_000 {
        n.checked_mul(1_000_000)?
    } else if n < 100_000_000_000_000 {
        n * 1_000
    } else if n < 100_000_000_000_000_000 {
        n
    } else {
        n / 1_000
    })
}

/// Log4j2's JSON layout splits an instant in two:
/// `{"epochSecond": 1663977609, "nanoOfSecond": 484000000}`.
pub fn from_seconds_and_nanos(seconds: i64, nanos: i64) -> Option<Micros> {
    if !(0..1_000_000_000).contains(&nanos) {
        return None;
    }
    plausible(seconds.checked_mul(1_000_000)?.checked_add(nanos / 1_000)?)
}

const NAIVE_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S,%3f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y/%m/%d %H:%M:%S%.f",
];

const ZONED_FORMATS: &[&str] = &["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"];

pub fn from_str(s: &str) -> Option<Micros> {
    from_str_in(s, None, None)
}

/// One end of a time window given on the command line (`--since 30m`,
/// `--until 2026-11-20T09:15:00+01:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// This long before the newest record read.
    Back(Micros),
    /// This instant (a time without a zone is UTC).
    At(Micros),
}

impl Bound {
    /// The instant, counting `Back` from `newest`.
    pub fn resolve(self, newest: Micros) -> Micros {
        match self {
            Bound::Back(d) => newest.saturating_sub(d),
            Bound::At(t) => t,
        }
    }
}

/// `--since` and `--until` together: a time window over what a read
/// command shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub since: Option<Bound>,
    pub until: Option<Bound>,
}

impl Window {
    /// The window as `[from, to]`, durations counted back from `newest`;
    /// None when no bound was given.
    pub fn range(&self, newest: Micros) -> Option<(Micros, Micros)> {
        if self.since.is_none() && self.until.is_none() {
            return None;
        }
        Some((
            self.since.map_or(Micros::MIN, |b| b.resolve(newest)),
            self.until.map_or(Micros::MAX, |b| b.resolve(newest)),
        ))
    }
}

/// `30s`, `15m`, `2h`, `1d` (and `500ms`), or a time as logs write it
/// (RFC 3339, `2026-11-20 09:15:00`, with or without a zone; UTC without).
pub fn parse_bound(s: &str) -> Result<Bound, String> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 {
        let unit: Option<Micros> = match &s[digits..] {
            "ms" => Some(1_000),
            "s" => Some(1_000_000),
            "m" => Some(60_000_000),
            "h" => Some(3_600_000_000),
            "d" => Some(86_400_000_000),
            _ => None,
        };
        if let Some(unit) = unit {
            let n: Micros = s[..digits]
                .parse()
                .map_err(|_| format!("{s:?}: too long a duration"))?;
            return n
                .checked_mul(unit)
                .map(Bound::Back)
                .ok_or_else(|| format!("{s:?}: too long a duration"));
        }
    }
    from_str(s).map(Bound::At).ok_or_else(|| {
        format!(
            "{s:?} is neither a duration back from the newest record (30s, 15m, 2h, 1d) nor a time (2026-11-20T09:15:00Z, 2026-11-20 09:15:00+01:00)"
        )
    })
}

/// A `time_format` (chrono strftime), read once when the config loads
/// rather than on every time value.
pub type TimeFormat = Vec<Item<'static>>;

/// None when `format` is not a strftime format chrono reads.
pub fn compile_format(format: &str) -> Option<TimeFormat> {
    StrftimeItems::new(format).parse_to_owned().ok()
}

/// As [`from_str`], trying `format` first, with naive times read in `zone`
/// (None: UTC).
pub fn from_str_in(s: &str, zone: Option<Zone>, format: Option<&[Item]>) -> Option<Micros> {
    written_in(s, zone, format).filter(|t| CLOCK.contains(t))
}

/// What a written date can mean: 1970 to the end of year 9999. A date
/// outside (year 1, year 20000) is no moment a log record has.
pub const CLOCK: std::ops::Range<Micros> = 0..253_402_300_800_000_000;

fn written_in(s: &str, zone: Option<Zone>, format: Option<&[Item]>) -> Option<Micros> {
    let s = s.trim();
    let mut parsed = Parsed::new();
    if let Some(items) = format
        && chrono::format::parse(&mut parsed, s, items.iter()).is_ok()
    {
        // With an offset in the text it is zoned; without, naive.
        if let Ok(t) = parsed.to_datetime() {
            return Some(t.timestamp_micros());
        }
        if let Ok(t) = parsed.to_naive_datetime_with_offset(0) {
            return Some(in_zone(t.and_utc().timestamp_micros(), zone));
        }
    }
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return from_epoch_i64(s.parse().ok()?);
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return from_epoch_f64(s.parse().ok()?);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    for f in ZONED_FORMATS {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.timestamp_micros());
        }
    }
    if let Some(stripped) = s.strip_suffix(" UTC").or_else(|| s.strip_suffix('Z')) {
        return naive(stripped);
    }
    Some(in_zone(naive(s)?, zone))
}

/// The zone naive times are written in: a fixed offset, or an IANA zone
/// whose offset follows daylight saving time (a fixed `+01:00` is an hour
/// wrong for Berlin all summer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Fixed(FixedOffset),
    Named(chrono_tz::Tz),
}

/// A naive time read as UTC, moved to what it meant in `zone`.
fn in_zone(as_utc: Micros, zone: Option<Zone>) -> Micros {
    match zone {
        None => as_utc,
        Some(Zone::Fixed(z)) => as_utc - i64::from(z.local_minus_utc()) * 1_000_000,
        Some(Zone::Named(tz)) => {
            use chrono::{LocalResult, Offset, TimeZone};
            let Some(local) = DateTime::from_timestamp_micros(as_utc).map(|t| t.naive_utc()) else {
                return as_utc;
            };
            match tz.from_local_datetime(&local) {
                LocalResult::Single(t) => t.timestamp_micros(),
                // The hour that repeats when clocks go back: its first pass.
                LocalResult::Ambiguous(first, _) => first.timestamp_micros(),
                // The hour skipped when clocks go forward: nobody's clock
                // showed it, so read it with the offset in force before.
                LocalResult::None => {
                    let before = tz
                        .offset_from_utc_datetime(&(local - chrono::Duration::hours(3)))
                        .fix();
                    as_utc - i64::from(before.local_minus_utc()) * 1_000_000
                }
            }
        }
    }
}

/// `+02:00`, `-0500`, `UTC`, `Z` or an IANA name (`Europe/Berlin`): the
/// zone naive times are written in.
pub fn parse_zone(s: &str) -> Option<Zone> {
    match s.trim() {
        "UTC" | "utc" | "Z" | "z" => FixedOffset::east_opt(0).map(Zone::Fixed),
        other => other
            .parse()
            .ok()
            .map(Zone::Fixed)
            .or_else(|| other.parse().ok().map(Zone::Named)),
    }
}

fn naive(s: &str) -> Option<Micros> {
    for f in NAIVE_FORMATS {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    None
}

/// A time at the head of a text line (within its first 48 bytes, so a
/// prefix such as Redis's `1:M ` or a `[` is allowed), in one of the shapes
/// text loggers write: epoch seconds/ms/µs/ns, ISO 8601 with `T` or a space,
/// or `25 Apr 2024 05:32:35.018`. A time of day without a date is not a
/// moment. Returns the time and the byte range it took.
pub fn leading(text: &str) -> Option<(Micros, std::ops::Range<usize>)> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"(?x)
            (?P<iso>\d{4}-\d{2}-\d{2}[T\ ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|\ ?UTC|[+-]\d{2}(?::?\d{2})?)?)
            | (?P<dmy>\d{1,2}\ [A-Z][a-z]{2}\ \d{4}\ \d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)
            | ^(?P<epoch>\d{10}(?:\.\d{1,9})?|\d{13}|\d{16}|\d{19})\b",
        )
        .expect("leading time pattern compiles")
    });
    let head = &text[..floor_char_boundary(text, 48)];
    let c = re.captures(head)?;
    if let Some(m) = c.name("iso") {
        let t = from_str(&m.as_str().replace(',', "."))?;
        return Some((t, m.range()));
    }
    if let Some(m) = c.name("dmy") {
        let t = NaiveDateTime::parse_from_str(m.as_str(), "%d %b %Y %H:%M:%S%.f").ok()?;
        return Some((plausible(t.and_utc().timestamp_micros())?, m.range()));
    }
    let m = c.name("epoch")?;
    Some((from_str(m.as_str())?, m.range()))
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}

/// A JSON value that holds a time: a number (epoch in any unit) or a string.
pub fn from_json(v: &Value) -> Option<Micros> {
    from_json_in(v, None, None)
}

/// As [`from_json`], strings read as [`from_str_in`] does.
pub fn from_json_in(v: &Value, zone: Option<Zone>, format: Option<&[Item]>) -> Option<Micros> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => from_epoch_i64(i),
            None => from_epoch_f64(n.as_f64()?),
        },
        Value::String(s) => from_str_in(s, zone, format),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Micros = 1_795_165_201_123_000; // 2026-11-20T09:00:01.123Z

    #[test]
    fn epochs_in_every_unit() {
        assert_eq!(from_epoch_i64(1_795_165_201_123), Some(T));
        assert_eq!(from_epoch_f64(1_795_165_201.123), Some(T));
        assert_eq!(from_epoch_i64(1_795_165_201_123_000), Some(T));
        assert_eq!(from_epoch_i64(1_795_165_201_123_000_000), Some(T));
        assert_eq!(from_str("1795165201.123"), Some(T));
        assert_eq!(from_epoch_i64(0), None);
        // Out of any log's range: a counter or garbage, not a moment.
        assert_eq!(from_epoch_f64(1e22), None);
        assert_eq!(from_str_in("0001-01-01T00:00:00Z", None, None), None);
        assert_eq!(from_str_in("1969-12-31T23:59:59Z", None, None), None);
        assert!(from_str_in("9999-12-31T23:59:59Z", None, None).is_some());
        assert_eq!(from_epoch_i64(i64::MAX), None);
        assert_eq!(from_seconds_and_nanos(1_795_165_201, 123_000_000), Some(T));
    }

    #[test]
    fn times_leading_text_lines() {
        fn at(s: &str) -> Option<(Micros, &str)> {
            leading(s).map(|(t, r)| (t, &s[r]))
        }
        assert_eq!(at("1795165201123 Hello"), Some((T, "1795165201123")));
        assert_eq!(at("2026-11-20 09:00:01,123 INFO x").map(|p| p.0), Some(T));
        assert_eq!(
            at("1:M 20 Nov 2026 09:00:01.123 * Ready").map(|p| p.0),
            Some(T)
        );
        assert_eq!(at("[2026-11-20T09:00:01.123Z] boot").map(|p| p.0), Some(T));
        assert_eq!(at(" * Running on http://127.0.0.1:5000"), None);
        assert_eq!(at("12:00:01.123 INFO - no date"), None);
        // A number that is no moment is not a time.
        assert_eq!(at("9999999999 widgets"), None);
    }

    #[test]
    fn text_forms() {
        for s in [
            "2026-11-20T09:00:01.123Z",
            "2026-11-20T10:00:01.123+01:00",
            "2026-11-20 09:00:01,123",
            "2026-11-20 09:00:01.123",
            "2026-11-20 09:00:01.123+00",
            "2026-11-20 04:00:01.123-05",
            "2026-11-20T09:00:01.123",
        ] {
            assert_eq!(from_str(s), Some(T), "{s}");
        }
        assert_eq!(from_str("yesterday"), None);
        assert_eq!(from_str(""), None);
    }

    #[test]
    fn window_bounds_are_durations_back_or_times() {
        assert_eq!(parse_bound("30m"), Ok(Bound::Back(30 * 60_000_000)));
        assert_eq!(parse_bound(" 2h "), Ok(Bound::Back(2 * 3_600_000_000)));
        assert_eq!(parse_bound("500ms"), Ok(Bound::Back(500_000)));
        let at = parse_bound("2026-11-20T09:15:00+01:00").unwrap();
        assert_eq!(at, Bound::At(from_str("2026-11-20T08:15:00Z").unwrap()));
        // No zone: UTC.
        assert_eq!(
            parse_bound("2026-11-20 08:15:00"),
            Ok(Bound::At(from_str("2026-11-20T08:15:00Z").unwrap()))
        );
        assert_eq!(Bound::Back(10).resolve(100), 90);
        for bad in ["30x", "m", "yesterday", "99999999999999999999d", ""] {
            assert!(parse_bound(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn naive_times_in_a_configured_zone() {
        let berlin = parse_zone("+01:00");
        assert_eq!(
            from_str_in("2026-11-20 10:00:01,123", berlin, None),
            Some(T)
        );
        assert_eq!(
            from_str_in("2026-11-20 04:00:01.123", parse_zone("-0500"), None),
            Some(T)
        );
        // A time that says its zone keeps it.
        assert_eq!(
            from_str_in("2026-11-20T09:00:01.123Z", berlin, None),
            Some(T)
        );
        assert_eq!(
            from_str_in("2026-11-20T10:00:01.123+01:00", berlin, None),
            Some(T)
        );
        // A layout of its own, naive or zoned.
        let f = compile_format("%d/%b/%Y:%H:%M:%S%.3f");
        assert_eq!(
            from_str_in("20/Nov/2026:10:00:01.123", berlin, f.as_deref()),
            Some(T)
        );
        let fz = compile_format("%d/%b/%Y:%H:%M:%S%.3f %z");
        assert_eq!(
            from_str_in("20/Nov/2026:09:00:01.123 +0000", berlin, fz.as_deref()),
            Some(T)
        );
        assert_eq!(parse_zone("UTC"), FixedOffset::east_opt(0).map(Zone::Fixed));
        assert_eq!(parse_zone("Mars/Olympus"), None);
    }

    #[test]
    fn an_iana_zone_follows_daylight_saving_time() {
        let berlin = parse_zone("Europe/Berlin");
        assert_eq!(berlin, Some(Zone::Named(chrono_tz::Europe::Berlin)));
        let utc = |s: &str| from_str(s).unwrap();
        let at = |s: &str| from_str_in(s, berlin, None).unwrap();
        // Winter: +01:00; summer: +02:00.
        assert_eq!(
            at("2026-11-20 10:00:01.123"),
            utc("2026-11-20T09:00:01.123Z")
        );
        assert_eq!(
            at("2026-07-20 11:00:01.123"),
            utc("2026-07-20T09:00:01.123Z")
        );
        // 02:30 happens twice on 25 October: the first pass (summer time).
        assert_eq!(at("2026-10-25 02:30:00"), utc("2026-10-25T00:30:00Z"));
        // 02:30 on 29 March never happens: read with the winter offset.
        assert_eq!(at("2026-03-29 02:30:00"), utc("2026-03-29T01:30:00Z"));
    }
}
