//! Every parser on every input, whatever the sniffer would have said: the
//! first byte picks the dialect, so each parser (JSON, logfmt, a
//! `[[formats]]` regex, CSV dumps, Celery and lifecycle events, CRI, OTLP,
//! metrics) gets arbitrary bytes.
#![no_main]

use hopline::config::Config;
use hopline::parse::time::CLOCK;
use hopline::parse::{Dialect, FileContext, Parsed, parse_stream};
use hopline::present::sanitize::for_terminal;
use libfuzzer_sys::fuzz_target;

/// Built once: compiling the default patterns per input would make the
/// fuzzer measure regex compilation instead of the parsers.
fn config() -> &'static Config {
    static C: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    C.get_or_init(|| {
        Config::from_toml(
            "[fields]\ntimezone = '+02:00'\n[[formats]]\nname = 'fuzz'\npattern = '^(?P<time>\\S+ \\S+) (?P<level>\\w+) (?P<msg>.*)$'\n",
            std::path::Path::new("hopline.toml"),
        )
        .expect("the fuzz config is valid")
    })
}

const DIALECTS: &[Dialect] = &[
    Dialect::JsonLog,
    Dialect::Logfmt,
    Dialect::Text,
    Dialect::IdemCsv,
    Dialect::IdemJson,
    Dialect::CeleryEvents,
    Dialect::TaskLifecycle,
    Dialect::TaskCsv,
    Dialect::Metrics,
    Dialect::Cri,
    Dialect::Otlp,
    Dialect::TimedText,
    Dialect::Compose,
    Dialect::ZeekTsv,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let dialect = DIALECTS[pick as usize % DIALECTS.len()];
    let mut ctx = FileContext::for_path("fuzz/worker.log");
    ctx.fallback_ts = Some(1_795_165_200_000_000);
    let mut reader = rest;
    let _ = parse_stream(dialect, &mut reader, 1, &ctx, config(), &mut |p| {
        if let Parsed::Record(r) = p {
            // Every record's time is a moment a clock can mean...
            assert!(CLOCK.contains(&r.ts), "time {} of {:?}", r.ts, r.raw);
            // ...and what a terminal shows of it obeys nothing.
            for text in [&r.message, &r.service, &r.instance] {
                let shown = for_terminal(text);
                assert!(
                    !shown.chars().any(|c| c.is_control()
                        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
                    "{shown:?}"
                );
            }
        }
    });
});
