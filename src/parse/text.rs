//! Text logs in a format hopline.toml defines (`[[formats]]`): a regex whose
//! named groups become the record's fields, read through the same field
//! table as JSON keys (`time`/`ts`, `level`, `msg`/`message`, `service`, ID
//! fields, anything else as an attribute). The first format that matches a
//! line wins; a line none matches is malformed, unless it continues a stack
//! trace (see `for_each_line`).

use crate::config::{Config, TextFormat};
use crate::record::{Kind, Record};

use super::normalize::{FileContext, into_record};
use super::{Malformed, json};

/// The format among `formats` that matches `line`, if any.
pub fn format_of<'a>(formats: &'a [TextFormat], line: &str) -> Option<&'a TextFormat> {
    formats.iter().find(|f| f.regex.is_match(line))
}

pub fn parse_line(
    text: &str,
    line: u64,
    ctx: &FileContext,
    config: &Config,
) -> Result<Record, Malformed> {
    let (format, caps) = config
        .formats
        .iter()
        .find_map(|f| f.regex.captures(text).map(|c| (f, c)))
        .ok_or(Malformed::NoFormat)?;
    let groups = format.regex.capture_names().flatten().filter_map(|name| {
        let m = caps.name(name)?;
        (!m.as_str().is_empty()).then(|| (name.to_string(), m.as_str().to_string()))
    });
    let fields = json::fields_of_strings(groups, &format.fields);
    into_record(fields, Kind::Log, text, line, ctx, config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Level;

    fn config() -> Config {
        Config::from_toml(
            r#"
[fields]
timezone = "+01:00"
[[formats]]
name = "java"
pattern = '^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) +(?P<level>[A-Z]+) +\[(?P<thread>[^\]]*)\] (?P<logger>\S+) - (?P<msg>.*?)(?: request_id=(?P<request_id>\S+))?$'
"#,
            std::path::Path::new("hopline.toml"),
        )
        .unwrap()
    }

    #[test]
    fn named_groups_become_fields_and_naive_times_take_the_zone() {
        let ctx = FileContext::for_path("orders-7d9f8b6c5-x2x9q.log");
        let c = config();
        let r = parse_line(
            "2026-11-20 10:00:01,123 WARN  [http-nio-8080-exec-3] com.shop.Orders - order rejected request_id=req_77",
            9,
            &ctx,
            &c,
        )
        .unwrap();
        assert_eq!(r.ts, 1_795_165_201_123_000);
        assert_eq!(r.level, Level::Warn);
        assert_eq!(r.message, "order rejected");
        assert_eq!(r.service, "orders");
        assert_eq!(r.ids[0].value, "req_77");
        assert_eq!(r.attr("thread"), Some("http-nio-8080-exec-3"));
        assert_eq!(r.source.line, 9);
        assert!(matches!(
            parse_line("not this format", 10, &ctx, &c),
            Err(Malformed::NoFormat)
        ));
    }

    /// design.md's example, with its own time layout and zone.
    #[test]
    fn a_format_carries_its_own_time_format_and_zone() {
        let c = Config::from_toml(
            r#"
[fields]
timezone = "+05:00"
[[formats]]
name = "spring-sleuth"
pattern = '^(?P<ts>\S+ \S+)\s+(?P<level>[A-Z]+) \[(?P<service>[^,\]]+),(?P<trace>[0-9a-f]*),(?P<span>[0-9a-f]*)\] \d+ --- \[[^\]]*\] \S+\s*: (?P<message>.*)$'
time_format = "%Y-%m-%d %H:%M:%S%.3f"
timezone = "UTC"
"#,
            std::path::Path::new("hopline.toml"),
        )
        .unwrap();
        let ctx = FileContext::for_path("app.log");
        let r = parse_line(
            "2026-11-20 09:00:01.123  INFO [orders,4bf92f3577b34da6,00f067aa0ba902b7] 1 --- [main] c.s.Orders : order accepted",
            1,
            &ctx,
            &c,
        )
        .unwrap();
        assert_eq!(r.ts, 1_795_165_201_123_000);
        assert_eq!(r.service, "orders");
        assert_eq!(r.message, "order accepted");
        assert_eq!(r.attr("span"), Some("00f067aa0ba902b7"));
    }
}
