//! Whatever the bytes, sniffing picks a dialect and parsing it never
//! panics: the path a real file takes through ingest.
#![no_main]

use hopline::config::Config;
use hopline::parse::{FileContext, parse_stream, sniff::sniff};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sniffed = sniff(data);
    let ctx = FileContext::for_path("fuzz/payments-api-6c8d7b5f9-q4w8n.log");
    let mut reader = data;
    let _ = parse_stream(sniffed.dialect, &mut reader, 1, &ctx, &Config::default(), &mut |_| {});
});
