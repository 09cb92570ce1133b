//! Whatever the bytes, sniffing picks a dialect and parsing it never
//! panics: the path a real file takes through ingest. The first line also
//! serves as the file's name, which must come out of the sanitiser with no
//! control, bidi or zero-width character left, and as the path the file's
//! service is taken from.
#![no_main]

use hopline::config::Config;
use hopline::parse::{FileContext, parse_stream, sniff::sniff};
use hopline::present::sanitize::for_terminal;
use libfuzzer_sys::fuzz_target;

/// Built once: compiling the default patterns per input would make the
/// fuzzer measure regex compilation instead of the parsers.
fn config() -> &'static Config {
    static C: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    C.get_or_init(Config::default)
}

fuzz_target!(|data: &[u8]| {
    let name = String::from_utf8_lossy(data.split(|b| *b == b'\n').next().unwrap_or(&[]));
    let shown = for_terminal(&name);
    assert!(
        !shown.chars().any(|c| c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')),
        "{shown:?}"
    );
    let _ = FileContext::for_path(&format!("fuzz/{name}.log"));
    let sniffed = sniff(data);
    let ctx = FileContext::for_path("fuzz/payments-api-6c8d7b5f9-q4w8n.log");
    let mut reader = data;
    let _ = parse_stream(sniffed.dialect, &mut reader, 1, &ctx, config(), &mut |_| {});
});
