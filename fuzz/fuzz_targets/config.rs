//! hopline.toml: any text loads or fails with an error naming its key,
//! never a panic (regexes included).
#![no_main]

use hopline::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Config::from_toml(text, std::path::Path::new("hopline.toml"));
    }
});
