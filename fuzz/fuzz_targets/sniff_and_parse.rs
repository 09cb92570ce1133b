//! Whatever the bytes, sniffing picks a dialect and parsing it never
//! panics: the path a real file takes through ingest.
#![no_main]

use hopline::config::Config;
use hopline::parse::{FileContext, parse_stream, sniff::sniff};
use libfuzzer_sys::fuzz_target;

/// Built once: compiling the default patterns per input would make the
/// fuzzer measure regex compilation instead of the parsers.
fn config() -> &'static Config {
    static C: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    C.get_or_init(Config::default)
}

fuzz_target!(|data: &[u8]| {
    let sniffed = sniff(data);
    let ctx = FileContext::for_path("fuzz/payments-api-6c8d7b5f9-q4w8n.log");
    let mut reader = data;
    let _ = parse_stream(sniffed.dialect, &mut reader, 1, &ctx, config(), &mut |_| {});
});
