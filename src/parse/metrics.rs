//! Prometheus / OpenMetrics text snapshots (`curl :9100/metrics > x.prom`):
//! one sample per line, `name{label="v",…} value [timestamp_ms]`. Samples
//! are records of kind `metric` for the overview over time; they carry no
//! event IDs, so they never join a footprint. Hand-written rather than a
//! crate: each sample must keep its own `file:line` and be read one line at
//! a time like every other source, which the scrape parsers do not offer.

use crate::config::Config;
use crate::record::{Kind, Level, Micros, Record};

use super::Malformed;
use super::normalize::{Fields, FileContext, into_record};

/// Does this line look like exposition text (a sample or a `# TYPE`)?
pub fn looks_like_metrics(line: &str) -> bool {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("# ") {
        return rest.starts_with("TYPE ") || rest.starts_with("HELP ") || rest == "EOF";
    }
    sample(line).is_ok()
}

/// A line to a record; `None` for comments, `# TYPE`/`# HELP` and `# EOF`.
/// A snapshot without per-sample timestamps is placed at `ctx.fallback_ts`
/// (the file's modification time: when the snapshot was taken).
pub fn parse_line(
    text: &str,
    line: u64,
    ctx: &FileContext,
    config: &Config,
) -> Result<Option<Record>, Malformed> {
    let trimmed = text.trim();
    if trimmed.starts_with('#') {
        return Ok(None);
    }
    let s = sample(trimmed).map_err(Malformed::BadMetric)?;
    let mut attrs: Vec<(String, String)> = Vec::with_capacity(s.labels.len() + 2);
    attrs.push(("metric".into(), s.name.to_string()));
    attrs.push(("value".into(), s.value.to_string()));
    // Labels are kept under a prefix so a `task_id` label never reads as
    // the sample's own field (normalisation gives metrics no IDs anyway).
    for (k, v) in &s.labels {
        attrs.push((format!("label:{k}"), v.clone()));
    }
    let ts = s.ts.or(ctx.fallback_ts);
    let fields = Fields {
        time_key: None,
        ts,
        level: Some(Level::Info),
        message: trimmed.to_string(),
        service: None,
        instance: None,
        attrs,
        attr_types: String::new(),
        bad_time: None,
    };
    into_record(fields, Kind::Metric, text, line, ctx, config).map(Some)
}

struct Sample<'a> {
    name: &'a str,
    labels: Vec<(String, String)>,
    value: f64,
    ts: Option<Micros>,
}

fn sample(line: &str) -> Result<Sample<'_>, String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("no metric name".into());
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let (parsed, after) = label_set(body)?;
        labels = parsed;
        rest = after;
    }
    let mut parts = rest.split_ascii_whitespace();
    let value = parts.next().ok_or("no value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().map_err(|_| format!("bad value {v:?}"))?,
    };
    let bad = |t: &str| format!("bad timestamp {t:?}");
    let ts = match parts.next() {
        None => None,
        // OpenMetrics writes seconds with a fraction, Prometheus integer ms.
        Some(t) if t.contains('.') => {
            let us = t.parse::<f64>().map_err(|_| bad(t))? * 1e6;
            // `as` would saturate a time no clock can hold.
            if !us.is_finite() || us.abs() >= i64::MAX as f64 {
                return Err(bad(t));
            }
            Some(us as Micros)
        }
        Some(t) => Some(
            t.parse::<Micros>()
                .ok()
                .and_then(|ms| ms.checked_mul(1000))
                .ok_or_else(|| bad(t))?,
        ),
    };
    // A sample time is a moment a clock can mean, like any other.
    if let Some(t) = ts
        && !super::time::CLOCK.contains(&t)
    {
        return Err(format!("timestamp out of range ({t} µs)"));
    }
    if parts.next().is_some() {
        return Err("text after the timestamp".into());
    }
    Ok(Sample {
        name,
        labels,
        value,
        ts,
    })
}

type Labels = Vec<(String, String)>;

/// `a="x",b="y\"z"}` → pairs and what follows the `}`.
fn label_set(body: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    let mut rest = body.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let key = rest[..eq].trim();
        if key.is_empty() {
            return Err("empty label name".into());
        }
        let after_eq = rest[eq + 1..].trim_start();
        let quoted = after_eq.strip_prefix('"').ok_or("unquoted label value")?;
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated label value".into()),
                },
                Some((_, c)) => value.push(c),
            }
        };
        labels.push((key.to_string(), value));
        rest = quoted[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<Record>, Malformed> {
        let mut ctx = FileContext::for_path("metrics/worker-1.prom");
        ctx.fallback_ts = Some(1_795_165_200_000_000);
        parse_line(text, 3, &ctx, &Config::default())
    }

    #[test]
    fn samples_with_labels_escapes_and_timestamps() {
        let r = parse(r#"tasks_total{task="billing.charge",state="revoked",note="a \"b\"\nc"} 3 1795165201000"#)
            .unwrap()
            .unwrap();
        assert_eq!(r.kind, Kind::Metric);
        assert_eq!(r.attr("metric"), Some("tasks_total"));
        assert_eq!(r.attr("value"), Some("3"));
        assert_eq!(r.attr("label:state"), Some("revoked"));
        assert_eq!(r.attr("label:note"), Some("a \"b\"\nc"));
        assert_eq!(r.ts, 1_795_165_201_000_000);
        assert!(r.ids.is_empty());
        let plain = parse("process_open_fds 12").unwrap().unwrap();
        assert_eq!(plain.ts, 1_795_165_200_000_000, "snapshot time");
        // A negative or far sample time is no moment: malformed.
        assert!(parse("up 1 -2").is_err());
        assert_eq!(parse("# TYPE tasks_total counter").unwrap(), None);
        assert_eq!(
            parse("x_seconds{le=\"+Inf\"} +Inf 1795165201.5")
                .unwrap()
                .unwrap()
                .ts,
            1_795_165_201_500_000
        );
    }

    #[test]
    fn broken_lines_are_malformed_not_panics() {
        for bad in [
            "{a=\"b\"} 1",
            "m{a=b} 1",
            "m{a=\"b} 1",
            "m x",
            "m 1 2 3",
            "9m 1",
            "m{",
            // Times no clock can hold (found by the every_dialect fuzz target).
            "m 1 -2666666666666666666",
            "m 1 99999999999999999999.5",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(looks_like_metrics("# HELP tasks_total Tasks by state."));
        assert!(looks_like_metrics("up 1"));
        assert!(!looks_like_metrics("level=info msg=hi"));
    }
}
