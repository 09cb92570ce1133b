//! Deterministic generator of large synthetic hopline bundles, in the shape
//! `samples/README.md` describes: five service logs (pino, structlog,
//! python-json-logger, zap, logfmt), an idempotency-table dump and Celery task
//! events, plus `.truth.jsonl`, the ground truth a test or a bench checks the
//! tool against. It is not a fuzzer: every line is well formed.
//!
//! ```text
//! cargo run --release --example gen_bundle -- --events N --out DIR [--seed S] [--skew-ms MS] [--jsonl PATH]
//! ```
//!
//! Layout of DIR (instance names are derived from the seed):
//!
//! ```text
//! api-gateway-<hash>-<5>.log         pino
//! payments-api-<hash>-<5>.log        structlog
//! billing-worker-<hash>-<5>.log      python-json-logger
//! ledger-service-<hash>-<5>.log      zap (its clock runs --skew-ms ahead)
//! webhook-dispatcher-<hash>-<5>.log  logfmt
//! db/operation_log.csv               \copy … CSV HEADER, one row per key, final state
//! celery-events.jsonl                Celery task events
//! .truth.jsonl                       one object per event (see `write_event`);
//!                                    hidden, so ingesting DIR does not read it
//! ```
//!
//! With `--jsonl PATH`, every record of the five service logs and of
//! `celery-events.jsonl` (not the CSV rows) is also written, in true time
//! order, to one plain JSON-lines file with uniform fields, for tools that
//! want one format (benches/compare.sh feeds it to lnav and jq):
//!
//! ```text
//! {"ts":"2026-11-20T09:00:01.123Z","service":"payments-api","instance":"payments-api-…",
//!  "level":"info","msg":"payment request received",
//!  "request_id":"req_…","event_id":"evt_…","payload_hash":"sha256:…"}
//! ```
//!
//! `ts` is the time the record shows (UTC, milliseconds; the ledger's is
//! skewed like its log), `level` is `info`, `warning` or `error`, and the ID
//! fields the record carries follow, flat: `request_id`, `event_id`,
//! `idem_key`, `task_id`, `charge_id`, `payload_hash`. Celery events have
//! service `billing-worker`, instance `celery@<pod>` and `msg` their type.
//! The bundle's own files are byte-identical with or without `--jsonl`.
//!
//! Events never overlap in time: each starts 20-1500 ms after the previous
//! one's last record, so every file is in time order by construction and
//! memory stays flat however large N is (only one event is held at a time).
//! Within an event records are at least 2 ms apart, so even the formats with
//! millisecond precision order them unambiguously.
//!
//! IDs are unique by construction (a keyed bijection of a counter), never by
//! luck: at ten million events random 48-bit IDs would collide.
//!
//! Each event is, chosen by the PRNG: duplicate_side_effect (+key_drift),
//! partial_write (+stuck_processing), key_conflict, reconciliation_delta
//! (the ledger writes another amount or currency than the worker and the
//! row), and the benign traps harmless_retry, safe_replay, clean_cancel,
//! refund (a refund logged after the charge, and a webhook with the
//! negative amount) and minor_units (each service spells the amount its own
//! way and says how) — each at `RATE_PER_10K`/10000 (0.5%) — and otherwise
//! a normal payment.
//!
//! From event 3N/5 on (N >= 20), payments-api runs version 2.4.0 instead of
//! 2.3.1 (every line says which): its "payment request received" writes
//! `source` as an object, `retry_budget` as a string and adds
//! `api_version`, a payload_shape_drift the
//! truth puts on that first event. Its `coupon` field comes and goes in both
//! versions, and `priority` on "enqueued task" in some 2.3.1 lines only:
//! optional fields, not drift.
//!
//! std only, on purpose: it compiles alone with `rustc --edition 2024`.

use std::fmt::{self, Write as _};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// `write!` into a `String`, which cannot fail.
macro_rules! put {
    ($dst:expr, $($arg:tt)*) => {{
        let _ = write!($dst, $($arg)*);
    }};
}

const USAGE: &str = "\
usage: gen_bundle --events N --out DIR [--seed S] [--skew-ms MS] [--jsonl PATH]
                  [--worker-setting NAME=VALUE]...

Writes a deterministic synthetic hopline bundle of N payment events to DIR:
five service logs, db/operation_log.csv, celery-events.jsonl and .truth.jsonl.

  --events N      number of business events (required)
  --out DIR       output directory, created if missing (required)
  --seed S        PRNG seed, an unsigned integer (default 1);
                  the same arguments give byte-identical output
  --skew-ms MS    the ledger-service clock runs MS milliseconds ahead
                  (default 0; may be negative)
  --jsonl PATH    also write every service-log and Celery record to PATH as
                  one JSON-lines file with uniform fields (ts, service,
                  instance, level, msg and the record's IDs, flat); keep it
                  outside DIR, or ingesting DIR reads the records twice
  --worker-setting NAME=VALUE
                  set one of the settings billing-worker logs at startup
                  (max_retries=3, soft_time_limit_s=55, prefetch_multiplier=4
                  by default) or add one; its config_hash follows. Changes
                  nothing else: two bundles that differ only here differ
                  only in that line
  -h, --help      print this help
";

/// 2026-11-20T00:00:00Z in microseconds since the Unix epoch.
const BASE_US: i64 = 1_795_132_800_000_000;

/// Each anomaly and each trap happens to this many events in 10 000.
const RATE_PER_10K: u64 = 50;

// Output files, by index.
const GW: usize = 0;
const PA: usize = 1;
const BW: usize = 2;
const LG: usize = 3;
const WH: usize = 4;
const DB: usize = 5;
const CE: usize = 6;

const CSV_HEADER: &str = "idem_key,payload_hash,status,result_json,updated_at";

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let args = match parse_args(&argv) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("gen_bundle: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_bundle: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------- arguments

struct Args {
    events: u64,
    out: PathBuf,
    seed: u64,
    skew_ms: i64,
    jsonl: Option<PathBuf>,
    worker_settings: Vec<(String, String)>,
}

/// `Ok(None)` means help was asked for.
fn parse_args(argv: &[String]) -> Result<Option<Args>, String> {
    let mut events = None;
    let mut out = None;
    let mut seed = 1u64;
    let mut skew_ms = 0i64;
    let mut jsonl = None;
    let mut worker_settings: Vec<(String, String)> = [
        ("max_retries", "3"),
        ("soft_time_limit_s", "55"),
        ("prefetch_multiplier", "4"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut i = 0;
    while i < argv.len() {
        let arg = argv[i].as_str();
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg, None),
        };
        if !matches!(
            name,
            "--events" | "--out" | "--seed" | "--skew-ms" | "--jsonl" | "--worker-setting"
        ) {
            return Err(format!("unknown argument `{arg}`"));
        }
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                argv.get(i)
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value"))?
            }
        };
        match name {
            "--events" => {
                events =
                    Some(value.parse::<u64>().map_err(|_| {
                        format!("--events: `{value}` is not a non-negative integer")
                    })?);
            }
            "--out" => {
                if value.is_empty() {
                    return Err("--out: empty path".to_string());
                }
                out = Some(PathBuf::from(value));
            }
            "--worker-setting" => {
                let (k, v) = value
                    .split_once('=')
                    .filter(|(k, v)| {
                        !k.is_empty()
                            && !v.is_empty()
                            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                            && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
                    })
                    .ok_or_else(|| {
                        format!("--worker-setting: `{value}` is not NAME=VALUE (letters, digits, _ and .)")
                    })?;
                match worker_settings.iter_mut().find(|(name, _)| name == k) {
                    Some(slot) => slot.1 = v.to_string(),
                    None => worker_settings.push((k.to_string(), v.to_string())),
                }
            }
            "--jsonl" => {
                if value.is_empty() {
                    return Err("--jsonl: empty path".to_string());
                }
                jsonl = Some(PathBuf::from(value));
            }
            "--seed" => {
                seed = value
                    .parse::<u64>()
                    .map_err(|_| format!("--seed: `{value}` is not an unsigned integer"))?;
            }
            _ => {
                skew_ms = value
                    .parse::<i64>()
                    .map_err(|_| format!("--skew-ms: `{value}` is not an integer"))?;
                if skew_ms.unsigned_abs() > 86_400_000 {
                    return Err(
                        "--skew-ms: more than a day of skew is not a clock skew".to_string()
                    );
                }
            }
        }
        i += 1;
    }
    let events = events.ok_or("--events N is required")?;
    let out = out.ok_or("--out DIR is required")?;
    Ok(Some(Args {
        events,
        out,
        seed,
        skew_ms,
        jsonl,
        worker_settings,
    }))
}

// ---------------------------------------------------------------- randomness

/// splitmix64: tiny, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..hi` (`hi > lo`).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo)
    }
}

/// A keyed bijection on `bits`-bit integers (`2 <= bits <= 64`): distinct
/// counters give distinct IDs that still look random. Every step is
/// invertible modulo 2^bits: xor with a constant, multiplication by an odd
/// constant, xor with a right shift of itself, addition of a constant.
fn permute(x: u64, bits: u32, key: u64) -> u64 {
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let half = bits / 2;
    let mut x = (x ^ key) & mask;
    for round in 1..=3u32 {
        x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15) & mask;
        x ^= x >> half;
        x = x.wrapping_add(key.rotate_left(17 * round)) & mask;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9) & mask;
        x ^= x >> (half + 1).min(bits - 1);
    }
    x
}

// ---------------------------------------------------------------- IDs

#[derive(Clone, Copy)]
struct Evt(u64);
#[derive(Clone, Copy)]
struct Req(u64);
#[derive(Clone, Copy)]
struct Idem(u64);
#[derive(Clone, Copy)]
struct Hash(u64);
/// UUID v4 text; `hi` (60 bits) is unique, `lo` is random.
#[derive(Clone, Copy)]
struct Task {
    hi: u64,
    lo: u64,
}
/// `ch_` + 10 base-62 characters of a unique 58-bit number (62^10 > 2^58).
#[derive(Clone, Copy)]
struct Charge(u64);

impl fmt::Display for Evt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "evt_{:012x}", self.0)
    }
}

impl fmt::Display for Req {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "req_{:012x}", self.0)
    }
}

impl fmt::Display for Idem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "idem_{:016x}", self.0)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{:016x}", self.0)
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (hi, lo) = (self.hi, self.lo);
        write!(
            f,
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            (hi >> 28) & 0xffff_ffff,
            (hi >> 12) & 0xffff,
            hi & 0xfff,
            8 + ((lo >> 62) & 3),
            (lo >> 50) & 0xfff,
            lo & 0xffff_ffff_ffff
        )
    }
}

impl fmt::Display for Charge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const B62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut digits = [0u8; 10];
        let mut v = self.0;
        for d in digits.iter_mut().rev() {
            *d = B62[(v % 62) as usize];
            v /= 62;
        }
        f.write_str("ch_")?;
        for &d in &digits {
            f.write_char(char::from(d))?;
        }
        Ok(())
    }
}

/// A Kubernetes Deployment pod name: service, ReplicaSet hash, pod suffix,
/// from Kubernetes' own safe alphabet; the suffix always has a digit so that
/// hopline's pod-name rule strips it.
fn pod_name(rng: &mut Rng, service: &str) -> String {
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    const DIGITS: &[u8] = b"2456789";
    let pick = |rng: &mut Rng, set: &[u8]| char::from(set[rng.below(set.len() as u64) as usize]);
    let mut name = String::from(service);
    name.push('-');
    let hash_len = 9 + rng.below(2);
    for _ in 0..hash_len {
        name.push(pick(rng, ALPHA));
    }
    name.push('-');
    let mut suffix: Vec<char> = (0..5).map(|_| pick(rng, ALPHA)).collect();
    if !suffix.iter().any(char::is_ascii_digit) {
        let at = rng.below(5) as usize;
        suffix[at] = pick(rng, DIGITS);
    }
    name.extend(suffix);
    name
}

// ---------------------------------------------------------------- time text

struct Civil {
    y: i64,
    mo: i64,
    d: i64,
    h: i64,
    mi: i64,
    s: i64,
    us: i64,
}

/// UTC calendar fields of a microsecond timestamp (Howard Hinnant's
/// civil_from_days).
fn civil(t: i64) -> Civil {
    let secs = t.div_euclid(1_000_000);
    let us = t.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    Civil {
        y,
        mo,
        d,
        h: sod / 3600,
        mi: sod % 3600 / 60,
        s: sod % 60,
        us,
    }
}

fn put_date_time(s: &mut String, c: &Civil, sep: char) {
    put!(
        s,
        "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
        c.y,
        c.mo,
        c.d,
        c.h,
        c.mi,
        c.s
    );
}

/// `2026-11-20T09:00:01.123456Z` (micros) or `2026-11-20T09:00:01.123Z`.
fn put_rfc3339(s: &mut String, t: i64, micros: bool) {
    let c = civil(t);
    put_date_time(s, &c, 'T');
    if micros {
        put!(s, ".{:06}Z", c.us);
    } else {
        put!(s, ".{:03}Z", c.us / 1000);
    }
}

/// python logging's `asctime`: `2026-11-20 09:00:01,123`.
fn put_asctime(s: &mut String, t: i64) {
    let c = civil(t);
    put_date_time(s, &c, ' ');
    put!(s, ",{:03}", c.us / 1000);
}

/// Postgres timestamptz text in UTC: `2026-11-20 09:00:02.345+00`.
fn put_pg(s: &mut String, t: i64) {
    let c = civil(t);
    put_date_time(s, &c, ' ');
    put_frac_trimmed(s, c.us);
    s.push_str("+00");
}

/// `.345` for 345000 µs, nothing for 0.
fn put_frac_trimmed(s: &mut String, us: i64) {
    if us == 0 {
        return;
    }
    let mut v = us;
    let mut width: usize = 6;
    while v % 10 == 0 {
        v /= 10;
        width -= 1;
    }
    put!(s, ".{v:0width$}");
}

/// Seconds as a decimal: `1795165201.123456` (zap), or trimmed the way
/// Python prints a float (`1795165201.5`, `1.2`) for Celery.
fn put_secs(s: &mut String, t: i64, trimmed: bool) {
    put!(s, "{}", t.div_euclid(1_000_000));
    let us = t.rem_euclid(1_000_000);
    if !trimmed {
        put!(s, ".{us:06}");
    } else if us == 0 {
        s.push_str(".0");
    } else {
        put_frac_trimmed(s, us);
    }
}

// ---------------------------------------------------------------- events

#[derive(Clone, Copy, PartialEq, Eq)]
enum Story {
    Normal,
    DuplicateSideEffect,
    PartialWrite,
    KeyConflict,
    HarmlessRetry,
    SafeReplay,
    CleanCancel,
    ReconciliationDelta,
    Refund,
    MinorUnits,
}

impl Story {
    fn pick(rng: &mut Rng) -> Story {
        match rng.below(10_000) / RATE_PER_10K {
            0 => Story::DuplicateSideEffect,
            1 => Story::PartialWrite,
            2 => Story::KeyConflict,
            3 => Story::HarmlessRetry,
            4 => Story::SafeReplay,
            5 => Story::CleanCancel,
            6 => Story::ReconciliationDelta,
            7 => Story::Refund,
            8 => Story::MinorUnits,
            _ => Story::Normal,
        }
    }

    /// Finding kinds the tool should report for this event.
    fn anomalies(self) -> &'static [&'static str] {
        match self {
            Story::DuplicateSideEffect => &["duplicate_side_effect", "key_drift"],
            Story::PartialWrite => &["partial_write", "stuck_processing"],
            Story::KeyConflict => &["key_conflict"],
            Story::ReconciliationDelta => &["reconciliation_delta"],
            _ => &[],
        }
    }

    /// Benign look-alikes the tool must NOT report.
    fn trap(self) -> Option<&'static str> {
        match self {
            Story::HarmlessRetry => Some("harmless_retry"),
            Story::SafeReplay => Some("safe_replay"),
            Story::CleanCancel => Some("clean_cancel"),
            Story::Refund => Some("refund"),
            Story::MinorUnits => Some("minor_units"),
            _ => None,
        }
    }
}

/// One line of one event, waiting to be written.
struct Rec {
    t: i64,
    file: usize,
    text: String,
    /// For `--jsonl` only (see `Synth::tag`): level, message and
    /// `,"name":"id"` pairs.
    level: &'static str,
    msg: &'static str,
    ids: String,
}

/// The current event's lines, in true time order. Slots are reused from
/// event to event, so nothing grows with N.
#[derive(Default)]
struct Lines {
    recs: Vec<Rec>,
    n: usize,
}

impl Lines {
    fn line(&mut self, t: i64, file: usize) -> &mut String {
        debug_assert!(self.n == 0 || t >= self.recs[self.n - 1].t + 2_000);
        if self.n == self.recs.len() {
            self.recs.push(Rec {
                t,
                file,
                text: String::with_capacity(320),
                level: "",
                msg: "",
                ids: String::new(),
            });
        }
        let rec = &mut self.recs[self.n];
        self.n += 1;
        rec.t = t;
        rec.file = file;
        rec.text.clear();
        rec.level = "";
        rec.msg = "";
        rec.ids.clear();
        &mut rec.text
    }

    fn current(&self) -> &[Rec] {
        &self.recs[..self.n]
    }
}

struct Names {
    gateway: String,
    payments: String,
    worker: String,
    ledger: String,
    webhook: String,
}

/// What one payment request carries through the stack.
#[derive(Clone, Copy)]
struct Pay {
    evt: Evt,
    idem: Idem,
    hash: Hash,
    task: Task,
    amount: u64,
}

enum RowResult {
    Null,
    Charge(Charge, u64),
    /// The charge with its amount under `amount_minor`.
    ChargeMinor(Charge, u64),
    Error(&'static str),
}

/// How a story's services write the charge's amount.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Money {
    /// `amount` in cents everywhere, as most stories do.
    Plain,
    /// The ledger writes another amount (or the same in another currency)
    /// than the worker and the row: a reconciliation delta.
    LedgerDiffers { by: u64, currency: bool },
    /// Each service spells the same amount its own way, and says how: the
    /// worker `amount_cents`, the row `amount_minor`, the ledger a decimal
    /// `amount` with its currency.
    Spelt,
}

struct Synth {
    rng: Rng,
    key_evt: u64,
    key_req: u64,
    key_idem: u64,
    key_hash: u64,
    key_task: u64,
    key_charge: u64,
    next_req: u64,
    next_idem: u64,
    next_hash: u64,
    next_task: u64,
    next_charge: u64,
    names: Names,
    skew_us: i64,
    /// Whether `tag` records anything (`--jsonl`).
    jsonl: bool,
    /// The true time of the record being written, in µs since the epoch.
    t: i64,
    lines: Lines,
    reqs: Vec<Req>,
    idems: Vec<Idem>,
    tasks: Vec<Task>,
    /// From this event on, payments-api runs its next version, whose
    /// "payment request received" has another payload shape.
    drift_at: u64,
    /// The event being generated.
    k: u64,
    money: Money,
}

impl Synth {
    fn new(seed: u64, skew_ms: i64, names: Names, jsonl: bool) -> Synth {
        let mut rng = Rng(seed);
        Synth {
            key_evt: rng.next_u64(),
            key_req: rng.next_u64(),
            key_idem: rng.next_u64(),
            key_hash: rng.next_u64(),
            key_task: rng.next_u64(),
            key_charge: rng.next_u64(),
            rng,
            next_req: 0,
            next_idem: 0,
            next_hash: 0,
            next_task: 0,
            next_charge: 0,
            names,
            skew_us: skew_ms * 1000,
            jsonl,
            t: BASE_US,
            lines: Lines::default(),
            reqs: Vec::new(),
            idems: Vec::new(),
            tasks: Vec::new(),
            drift_at: u64::MAX,
            k: 0,
            money: Money::Plain,
        }
    }

    fn v2(&self) -> bool {
        self.k >= self.drift_at
    }

    /// Labels the line just started for `--jsonl`: its level, message and
    /// the IDs it carries. Touches no randomness, so the bundle is the same
    /// with or without `--jsonl`.
    fn tag(&mut self, level: &'static str, msg: &'static str, ids: &[(&str, &dyn fmt::Display)]) {
        if !self.jsonl {
            return;
        }
        let rec = &mut self.lines.recs[self.lines.n - 1];
        rec.level = level;
        rec.msg = msg;
        for (name, id) in ids {
            put!(rec.ids, ",\"{name}\":\"{id}\"");
        }
    }

    /// Moves the clock forward by `lo_ms..hi_ms` (`lo_ms >= 2`).
    fn adv(&mut self, lo_ms: u64, hi_ms: u64) {
        self.t += self.rng.range(lo_ms * 1000, hi_ms * 1000) as i64;
    }

    fn new_req(&mut self) -> Req {
        let r = Req(permute(self.next_req, 48, self.key_req));
        self.next_req += 1;
        self.reqs.push(r);
        r
    }

    fn new_idem(&mut self) -> Idem {
        let k = Idem(permute(self.next_idem, 64, self.key_idem));
        self.next_idem += 1;
        self.idems.push(k);
        k
    }

    fn new_hash(&mut self) -> Hash {
        let h = Hash(permute(self.next_hash, 64, self.key_hash));
        self.next_hash += 1;
        h
    }

    fn new_task(&mut self) -> Task {
        let t = Task {
            hi: permute(self.next_task, 60, self.key_task),
            lo: self.rng.next_u64(),
        };
        self.next_task += 1;
        self.tasks.push(t);
        t
    }

    fn new_charge(&mut self) -> Charge {
        let c = Charge(permute(self.next_charge, 58, self.key_charge));
        self.next_charge += 1;
        c
    }

    /// Generates event `k` into `self.lines` (and its IDs into
    /// `reqs`/`idems`/`tasks`), starting at the current clock.
    fn event(&mut self, k: u64) -> (Evt, Story) {
        self.lines.n = 0;
        self.reqs.clear();
        self.idems.clear();
        self.tasks.clear();
        let story = Story::pick(&mut self.rng);
        self.k = k;
        let evt = Evt(permute(k, 48, self.key_evt));
        let hash = self.new_hash();
        let amount = self.rng.range(100, 100_000);
        self.money = match story {
            Story::ReconciliationDelta => {
                let currency = self.rng.below(2) == 0;
                Money::LedgerDiffers {
                    by: if currency { 0 } else { self.rng.range(1, 1000) },
                    currency,
                }
            }
            Story::MinorUnits => Money::Spelt,
            _ => Money::Plain,
        };
        match story {
            Story::Normal => {
                self.normal_payment(evt, hash, amount);
            }
            Story::DuplicateSideEffect => self.duplicate(evt, hash, amount),
            Story::PartialWrite => self.partial_write(evt, hash, amount),
            Story::KeyConflict => {
                let p = self.normal_payment(evt, hash, amount);
                self.adv(50, 400);
                let t_req = self.t;
                let req = self.new_req();
                let other = self.new_hash();
                self.front(req, evt, other, 1);
                self.adv(2, 8);
                self.pa_conflict(req, p.idem, other);
                self.adv(2, 10);
                self.gw_completed(req, 422, t_req);
            }
            Story::HarmlessRetry => self.harmless_retry(evt, hash, amount),
            Story::ReconciliationDelta | Story::MinorUnits => {
                self.normal_payment(evt, hash, amount);
            }
            Story::Refund => {
                // Refunded after the fact: the worker says so, and the
                // webhook reports the refund as a negative amount of the
                // same charge. Neither is the charge's amount disagreeing.
                let (p, ch) = self.charged_payment(evt, hash, amount);
                self.adv(100, 400);
                self.bw_refunded(p.task, ch, amount);
                self.adv(5, 60);
                self.webhook_refunded(evt, ch, amount);
            }
            Story::SafeReplay => {
                let p = self.normal_payment(evt, hash, amount);
                self.adv(50, 400);
                let t_req = self.t;
                let req = self.new_req();
                self.front(req, evt, hash, 1);
                self.adv(2, 8);
                self.pa_replay(req, p.idem, hash);
                self.adv(2, 10);
                self.gw_completed(req, 201, t_req);
            }
            Story::CleanCancel => {
                let t_req = self.t;
                let req = self.new_req();
                let p = self.new_pay(evt, hash, amount);
                self.front(req, evt, hash, 1);
                self.reserve(p, false);
                self.adv(20, 300);
                self.celery_revoked(p.task, false);
                self.adv(2, 10);
                self.row(
                    p.idem,
                    p.hash,
                    "failed",
                    RowResult::Error("task revoked before start"),
                );
                self.adv(2, 10);
                self.gw_completed(req, 503, t_req);
            }
        }
        (evt, story)
    }

    fn new_pay(&mut self, evt: Evt, hash: Hash, amount: u64) -> Pay {
        Pay {
            evt,
            idem: self.new_idem(),
            hash,
            task: self.new_task(),
            amount,
        }
    }

    /// Steps 1-13 of the normal flow (samples/README.md), ending with the gateway's 201.
    fn normal_payment(&mut self, evt: Evt, hash: Hash, amount: u64) -> Pay {
        self.charged_payment(evt, hash, amount).0
    }

    /// [`Synth::normal_payment`], with the charge it made.
    fn charged_payment(&mut self, evt: Evt, hash: Hash, amount: u64) -> (Pay, Charge) {
        let t_req = self.t;
        let req = self.new_req();
        let p = self.new_pay(evt, hash, amount);
        self.front(req, evt, hash, 1);
        self.reserve(p, false);
        let ch = self.run_task(p, 700);
        self.adv(2, 10);
        self.gw_completed(req, 201, t_req);
        (p, ch)
    }

    /// The gateway times out while the first task is still charging, and
    /// resends with a new reqId; the key is derived from the request id, so
    /// a second key, task, charge and ledger entry follow.
    fn duplicate(&mut self, evt: Evt, hash: Hash, amount: u64) {
        let t_req1 = self.t;
        let req1 = self.new_req();
        let p1 = self.new_pay(evt, hash, amount);
        self.front(req1, evt, hash, 1);
        self.reserve(p1, false);
        self.adv(2, 40);
        self.celery_started(p1.task);
        let started1 = self.t;
        self.adv(2, 10);
        self.bw_charging(p1.task);

        let deadline = t_req1 + 1_000_000 + self.rng.below(20_000) as i64;
        self.t = (self.t + 2_000).max(deadline);
        self.gw_timeout(req1);
        self.adv(2, 10);
        let t_req2 = self.t;
        let req2 = self.new_req();
        let p2 = self.new_pay(evt, hash, amount);
        self.front(req2, evt, hash, 2);
        self.reserve(p2, false);

        // The slow first charge lands after all.
        self.adv(2, 60);
        let ch1 = self.new_charge();
        self.bw_charged(p1.task, ch1, amount);
        self.finish_task(p1, started1, ch1);

        self.run_task(p2, 500);
        self.adv(2, 10);
        self.gw_completed(req2, 201, t_req2);
    }

    /// Charged, then revoked at the hard time limit before the ledger write
    /// and before completion: the row stays `processing`.
    ///
    /// Kept under the gateway's 1 s timeout, like every story but the
    /// duplicate, so only the duplicate has an "upstream timeout".
    fn partial_write(&mut self, evt: Evt, hash: Hash, amount: u64) {
        let t_req = self.t;
        let req = self.new_req();
        let p = self.new_pay(evt, hash, amount);
        self.front(req, evt, hash, 1);
        self.reserve(p, true);
        self.adv(2, 40);
        self.celery_started(p.task);
        self.adv(2, 10);
        self.bw_charging(p.task);
        self.adv(120, 500);
        let ch = self.new_charge();
        self.bw_charged(p.task, ch, amount);
        self.adv(50, 300);
        self.celery_revoked(p.task, true);
        self.adv(2, 20);
        self.gw_completed(req, 504, t_req);
    }

    /// One connection reset before any charge, one Celery retry, then a
    /// normal single charge under the same task id.
    fn harmless_retry(&mut self, evt: Evt, hash: Hash, amount: u64) {
        let t_req = self.t;
        let req = self.new_req();
        let p = self.new_pay(evt, hash, amount);
        self.front(req, evt, hash, 1);
        self.reserve(p, false);
        self.adv(2, 40);
        self.celery_started(p.task);
        self.adv(2, 10);
        self.bw_charging(p.task);
        self.adv(30, 150);
        self.bw_connection_reset(p.task);
        self.adv(2, 10);
        self.celery_retried(p.task);
        self.adv(50, 200);
        self.celery_received(p.task, evt, 1);
        // A quicker charge keeps the whole request inside the gateway's 1 s
        // timeout: this retry must not look like the double-charge story.
        self.run_task(p, 350);
        self.adv(2, 10);
        self.gw_completed(req, 201, t_req);
    }

    /// Gateway receive and proxy, payments-api receive (steps 1-3), starting
    /// at the current clock.
    fn front(&mut self, req: Req, evt: Evt, hash: Hash, attempt: u32) {
        self.gw_received(req, attempt);
        self.adv(2, 6);
        self.gw_proxying(req);
        self.adv(3, 12);
        self.pa_received(req, evt, hash);
    }

    /// Steps 4-6a: reserve the key, enqueue, task received. A key whose final
    /// state is `processing` gets its row at reservation time.
    fn reserve(&mut self, p: Pay, processing_row: bool) {
        if processing_row {
            self.adv(2, 8);
            self.row(p.idem, p.hash, "processing", RowResult::Null);
            self.adv(2, 6);
        } else {
            self.adv(2, 8);
        }
        self.pa_reserved(p.evt, p.idem, p.hash);
        self.adv(2, 6);
        self.pa_enqueued(p.evt, p.task);
        self.adv(3, 25);
        self.celery_received(p.task, p.evt, 0);
    }

    /// Steps 6b-12 for a task already received; the card network takes
    /// 120..`charge_hi_ms` ms.
    fn run_task(&mut self, p: Pay, charge_hi_ms: u64) -> Charge {
        self.adv(2, 40);
        self.celery_started(p.task);
        let started = self.t;
        self.adv(2, 10);
        self.bw_charging(p.task);
        self.adv(120, charge_hi_ms);
        let ch = self.new_charge();
        self.bw_charged(p.task, ch, p.amount);
        self.finish_task(p, started, ch);
        ch
    }

    /// Steps 9-12: ledger, task succeeded, row completed, key completed,
    /// webhook. The worker calls the ledger synchronously and logs both
    /// ends of the call: the bracket that shows a ledger clock off.
    fn finish_task(&mut self, p: Pay, started: i64, ch: Charge) {
        self.adv(3, 25);
        self.bw_calling_ledger(p.task, p.idem, ch);
        self.adv(3, 10);
        self.ledger_received(p.idem, ch);
        self.adv(3, 15);
        self.ledger_written(p.idem, ch, p.amount);
        self.adv(3, 10);
        self.bw_ledger_recorded(p.task, p.idem, ch);
        self.adv(2, 10);
        let runtime = self.t - started;
        self.celery_succeeded(p.task, runtime, ch);
        self.adv(2, 10);
        let result = if self.money == Money::Spelt {
            RowResult::ChargeMinor(ch, p.amount)
        } else {
            RowResult::Charge(ch, p.amount)
        };
        self.row(p.idem, p.hash, "completed", result);
        self.adv(2, 6);
        self.pa_completed(p.idem);
        self.adv(5, 60);
        self.webhook_delivered(p.evt);
    }

    // -------------------------------------------------- api-gateway (pino)

    fn pino_start(&mut self, level: u8, req: Req) -> &mut String {
        let t = self.t;
        let s = self.lines.line(t, GW);
        let host = &self.names.gateway;
        put!(
            s,
            "{{\"level\":{level},\"time\":{},\"pid\":1,\"hostname\":\"{host}\",\"name\":\"api-gateway\",\"reqId\":\"{req}\"",
            t.div_euclid(1000)
        );
        s
    }

    fn gw_received(&mut self, req: Req, attempt: u32) {
        let s = self.pino_start(30, req);
        s.push_str(",\"method\":\"POST\",\"url\":\"/v1/payments\"");
        if attempt > 1 {
            put!(s, ",\"attempt\":{attempt}");
        }
        s.push_str(",\"msg\":\"POST /v1/payments received\"}");
        self.tag(
            "info",
            "POST /v1/payments received",
            &[("request_id", &req)],
        );
    }

    fn gw_proxying(&mut self, req: Req) {
        let s = self.pino_start(30, req);
        s.push_str(",\"upstream\":\"payments-api\",\"msg\":\"proxying to payments-api\"}");
        self.tag("info", "proxying to payments-api", &[("request_id", &req)]);
    }

    fn gw_timeout(&mut self, req: Req) {
        let s = self.pino_start(40, req);
        s.push_str(",\"attempt\":1,\"msg\":\"upstream timeout, retrying\"}");
        self.tag(
            "warning",
            "upstream timeout, retrying",
            &[("request_id", &req)],
        );
    }

    fn gw_completed(&mut self, req: Req, status: u16, since: i64) {
        let level = match status {
            0..=399 => 30,
            400..=499 => 40,
            _ => 50,
        };
        let elapsed_ms = (self.t - since) / 1000;
        let s = self.pino_start(level, req);
        put!(
            s,
            ",\"statusCode\":{status},\"responseTime\":{elapsed_ms},\"msg\":\"request completed\"}}"
        );
        let level = match level {
            30 => "info",
            40 => "warning",
            _ => "error",
        };
        self.tag(level, "request completed", &[("request_id", &req)]);
    }

    // -------------------------------------------------- payments-api (structlog)

    fn structlog_start(&mut self, level: &str, event: &str) -> &mut String {
        let t = self.t;
        let version = if self.v2() { "2.4.0" } else { "2.3.1" };
        let s = self.lines.line(t, PA);
        put!(s, "{{\"event\":\"{event}\",\"timestamp\":\"");
        put_rfc3339(s, t, true);
        put!(
            s,
            "\",\"level\":\"{level}\",\"logger\":\"payments.api\",\"version\":\"{version}\""
        );
        s
    }

    /// Version 2.4.0 writes `source` as an object, `retry_budget` as a
    /// string and adds `api_version` (a payload shape drift); `coupon`
    /// comes and goes in both versions.
    fn pa_received(&mut self, req: Req, evt: Evt, hash: Hash) {
        let v2 = self.v2();
        let coupon = self.rng.below(10) < 3;
        let s = self.structlog_start("info", "payment request received");
        put!(
            s,
            ",\"request_id\":\"{req}\",\"event_id\":\"{evt}\",\"payload_hash\":\"{hash}\""
        );
        if v2 {
            s.push_str(
                ",\"source\":{\"channel\":\"web\"},\"api_version\":\"2026-11-01\",\"retry_budget\":\"3\"",
            );
        } else {
            s.push_str(",\"source\":\"web\",\"retry_budget\":3");
        }
        if coupon {
            s.push_str(",\"coupon\":\"WINTER26\"");
        }
        s.push('}');
        self.tag(
            "info",
            "payment request received",
            &[
                ("request_id", &req),
                ("event_id", &evt),
                ("payload_hash", &hash),
            ],
        );
    }

    fn pa_reserved(&mut self, evt: Evt, idem: Idem, hash: Hash) {
        let s = self.structlog_start("info", "idempotency key reserved");
        put!(
            s,
            ",\"event_id\":\"{evt}\",\"idempotency_key\":\"{idem}\",\"payload_hash\":\"{hash}\"}}"
        );
        self.tag(
            "info",
            "idempotency key reserved",
            &[
                ("event_id", &evt),
                ("idem_key", &idem),
                ("payload_hash", &hash),
            ],
        );
    }

    /// `priority` is written by some of the old version's records and by
    /// none of the new one's: an optional field, not a removed one.
    fn pa_enqueued(&mut self, evt: Evt, task: Task) {
        let priority = !self.v2() && self.rng.below(5) == 0;
        let s = self.structlog_start("info", "enqueued task billing.charge_invoice");
        put!(s, ",\"event_id\":\"{evt}\",\"task_id\":\"{task}\"");
        if priority {
            s.push_str(",\"priority\":\"high\"");
        }
        s.push('}');
        self.tag(
            "info",
            "enqueued task billing.charge_invoice",
            &[("event_id", &evt), ("task_id", &task)],
        );
    }

    fn pa_completed(&mut self, idem: Idem) {
        let s = self.structlog_start("info", "idempotency key completed");
        put!(s, ",\"idempotency_key\":\"{idem}\"}}");
        self.tag("info", "idempotency key completed", &[("idem_key", &idem)]);
    }

    fn pa_conflict(&mut self, req: Req, idem: Idem, hash: Hash) {
        let s = self.structlog_start("warning", "idempotency key reused with different payload");
        put!(
            s,
            ",\"request_id\":\"{req}\",\"idempotency_key\":\"{idem}\",\"payload_hash\":\"{hash}\",\"status_code\":422}}"
        );
        self.tag(
            "warning",
            "idempotency key reused with different payload",
            &[
                ("request_id", &req),
                ("idem_key", &idem),
                ("payload_hash", &hash),
            ],
        );
    }

    fn pa_replay(&mut self, req: Req, idem: Idem, hash: Hash) {
        let s = self.structlog_start("info", "idempotent replay, returning stored response");
        put!(
            s,
            ",\"request_id\":\"{req}\",\"idempotency_key\":\"{idem}\",\"payload_hash\":\"{hash}\"}}"
        );
        self.tag(
            "info",
            "idempotent replay, returning stored response",
            &[
                ("request_id", &req),
                ("idem_key", &idem),
                ("payload_hash", &hash),
            ],
        );
    }

    // -------------------------------------------------- billing-worker (python-json-logger)

    fn pyjson_start(&mut self, levelname: &str, message: &str) -> &mut String {
        let t = self.t;
        let s = self.lines.line(t, BW);
        s.push_str("{\"asctime\":\"");
        put_asctime(s, t);
        put!(
            s,
            "\",\"levelname\":\"{levelname}\",\"name\":\"billing.worker\",\"message\":\"{message}\""
        );
        s
    }

    fn bw_charging(&mut self, task: Task) {
        let s = self.pyjson_start("INFO", "charging card");
        put!(s, ",\"task_id\":\"{task}\"}}");
        self.tag("info", "charging card", &[("task_id", &task)]);
    }

    fn bw_charged(&mut self, task: Task, ch: Charge, amount: u64) {
        let field = if self.money == Money::Spelt {
            "amount_cents"
        } else {
            "amount"
        };
        let s = self.pyjson_start("INFO", "charge created");
        put!(
            s,
            ",\"task_id\":\"{task}\",\"charge_id\":\"{ch}\",\"{field}\":{amount},\"currency\":\"EUR\"}}"
        );
        self.tag(
            "info",
            "charge created",
            &[("task_id", &task), ("charge_id", &ch)],
        );
    }

    fn bw_refunded(&mut self, task: Task, ch: Charge, amount: u64) {
        let s = self.pyjson_start("INFO", "refund created");
        put!(
            s,
            ",\"task_id\":\"{task}\",\"charge_id\":\"{ch}\",\"amount\":{amount},\"currency\":\"EUR\"}}"
        );
        self.tag(
            "info",
            "refund created",
            &[("task_id", &task), ("charge_id", &ch)],
        );
    }

    fn bw_connection_reset(&mut self, task: Task) {
        let s = self.pyjson_start("ERROR", "card network connection reset");
        put!(
            s,
            ",\"task_id\":\"{task}\",\"exc_type\":\"ConnectionResetError\"}}"
        );
        self.tag(
            "error",
            "card network connection reset",
            &[("task_id", &task)],
        );
    }

    /// The key goes with the call: the ledger write is idempotent by it.
    fn bw_calling_ledger(&mut self, task: Task, idem: Idem, ch: Charge) {
        let s = self.pyjson_start("INFO", "calling ledger-service");
        put!(
            s,
            ",\"task_id\":\"{task}\",\"idempotency_key\":\"{idem}\",\"charge_id\":\"{ch}\"}}"
        );
        self.tag(
            "info",
            "calling ledger-service",
            &[("task_id", &task), ("idem_key", &idem), ("charge_id", &ch)],
        );
    }

    /// The key goes with the call: the ledger write is idempotent by it.
    fn bw_ledger_recorded(&mut self, task: Task, idem: Idem, ch: Charge) {
        let s = self.pyjson_start("INFO", "ledger entry recorded");
        put!(
            s,
            ",\"task_id\":\"{task}\",\"idempotency_key\":\"{idem}\",\"charge_id\":\"{ch}\"}}"
        );
        self.tag(
            "info",
            "ledger entry recorded",
            &[("task_id", &task), ("idem_key", &idem), ("charge_id", &ch)],
        );
    }

    // -------------------------------------------------- ledger-service (zap)

    /// A zap line's start, on the ledger's own (possibly skewed) clock.
    fn zap_start(&mut self) -> &mut String {
        let t = self.t;
        let shown = t + self.skew_us;
        let s = self.lines.line(t, LG);
        s.push_str("{\"level\":\"info\",\"ts\":");
        put_secs(s, shown, false);
        s
    }

    fn ledger_received(&mut self, idem: Idem, ch: Charge) {
        let s = self.zap_start();
        put!(
            s,
            ",\"caller\":\"ledger/http.go:41\",\"msg\":\"POST /v1/entries received\",\"idem_key\":\"{idem}\",\"charge_id\":\"{ch}\"}}"
        );
        self.tag(
            "info",
            "POST /v1/entries received",
            &[("idem_key", &idem), ("charge_id", &ch)],
        );
    }

    fn ledger_written(&mut self, idem: Idem, ch: Charge, amount: u64) {
        let money = self.money;
        let s = self.zap_start();
        put!(
            s,
            ",\"caller\":\"ledger/writer.go:88\",\"msg\":\"ledger entry written\",\"idem_key\":\"{idem}\",\"charge_id\":\"{ch}\","
        );
        match money {
            Money::Plain => put!(s, "\"amount\":{amount}}}"),
            Money::LedgerDiffers { by, currency } => {
                let cur = if currency { "USD" } else { "EUR" };
                put!(s, "\"amount\":{},\"currency\":\"{cur}\"}}", amount + by);
            }
            Money::Spelt => put!(
                s,
                "\"amount\":\"{}.{:02}\",\"currency\":\"EUR\"}}",
                amount / 100,
                amount % 100
            ),
        }
        self.tag(
            "info",
            "ledger entry written",
            &[("idem_key", &idem), ("charge_id", &ch)],
        );
    }

    // -------------------------------------------------- webhook-dispatcher (logfmt)

    fn webhook_delivered(&mut self, evt: Evt) {
        let t = self.t;
        let s = self.lines.line(t, WH);
        s.push_str("time=");
        put_rfc3339(s, t, false);
        put!(
            s,
            " level=info msg=\"webhook delivered\" event_id={evt} endpoint=https://merchant.example/hooks status=200 attempt=1"
        );
        self.tag("info", "webhook delivered", &[("event_id", &evt)]);
    }

    fn webhook_refunded(&mut self, evt: Evt, ch: Charge, amount: u64) {
        let t = self.t;
        let s = self.lines.line(t, WH);
        s.push_str("time=");
        put_rfc3339(s, t, false);
        put!(
            s,
            " level=info msg=\"webhook delivered\" event_id={evt} type=charge.refunded charge_id={ch} amount=-{amount} currency=EUR endpoint=https://merchant.example/hooks status=200 attempt=1"
        );
        self.tag("info", "webhook delivered", &[("event_id", &evt)]);
    }

    // -------------------------------------------------- operation_log.csv

    /// The key's final row. Called at the time of its last update.
    fn row(&mut self, idem: Idem, hash: Hash, status: &str, result: RowResult) {
        let t = self.t;
        let s = self.lines.line(t, DB);
        put!(s, "{idem},{hash},{status},");
        match result {
            RowResult::Null => {}
            // jsonb text: keys by length, then bytes.
            RowResult::Charge(ch, amount) => put!(
                s,
                "\"{{\"\"amount\"\": {amount}, \"\"currency\"\": \"\"EUR\"\", \"\"charge_id\"\": \"\"{ch}\"\"}}\""
            ),
            RowResult::ChargeMinor(ch, amount) => put!(
                s,
                "\"{{\"\"currency\"\": \"\"EUR\"\", \"\"charge_id\"\": \"\"{ch}\"\", \"\"amount_minor\"\": {amount}}}\""
            ),
            RowResult::Error(e) => put!(s, "\"{{\"\"error\"\": \"\"{e}\"\"}}\""),
        }
        s.push(',');
        put_pg(s, t);
    }

    // -------------------------------------------------- celery events

    fn celery_start(&mut self, kind: &str, task: Task) -> &mut String {
        let t = self.t;
        let s = self.lines.line(t, CE);
        let host = &self.names.worker;
        put!(s, "{{\"type\":\"{kind}\",\"uuid\":\"{task}\"");
        if kind == "task-received" {
            s.push_str(",\"name\":\"billing.charge_invoice\"");
        }
        put!(s, ",\"hostname\":\"celery@{host}\",\"timestamp\":");
        put_secs(s, t, true);
        s
    }

    fn celery_received(&mut self, task: Task, evt: Evt, retries: u32) {
        let s = self.celery_start("task-received", task);
        put!(
            s,
            ",\"kwargs\":\"{{'event_id': '{evt}'}}\",\"args\":\"()\",\"retries\":{retries}}}"
        );
        self.tag(
            "info",
            "task-received",
            &[("task_id", &task), ("event_id", &evt)],
        );
    }

    fn celery_started(&mut self, task: Task) {
        let s = self.celery_start("task-started", task);
        s.push('}');
        self.tag("info", "task-started", &[("task_id", &task)]);
    }

    fn celery_succeeded(&mut self, task: Task, runtime_us: i64, ch: Charge) {
        let s = self.celery_start("task-succeeded", task);
        s.push_str(",\"runtime\":");
        put_secs(s, runtime_us, true);
        put!(s, ",\"result\":\"'{ch}'\"}}");
        self.tag(
            "info",
            "task-succeeded",
            &[("task_id", &task), ("charge_id", &ch)],
        );
    }

    fn celery_retried(&mut self, task: Task) {
        let s = self.celery_start("task-retried", task);
        s.push_str(",\"exception\":\"ConnectionResetError('card network connection reset')\"}");
        self.tag("warning", "task-retried", &[("task_id", &task)]);
    }

    fn celery_revoked(&mut self, task: Task, terminated: bool) {
        let s = self.celery_start("task-revoked", task);
        if terminated {
            s.push_str(",\"terminated\":true,\"signum\":15,\"expired\":false}");
        } else {
            s.push_str(",\"terminated\":false,\"signum\":null,\"expired\":false}");
        }
        self.tag("warning", "task-revoked", &[("task_id", &task)]);
    }
}

// ---------------------------------------------------------------- output

/// One output file: where it is in the bundle, and how far it has got.
struct Out {
    rel: String,
    w: BufWriter<File>,
    lines: u64,
    bytes: u64,
}

impl Out {
    fn create(dir: &Path, rel: &str) -> io::Result<Out> {
        let path = dir.join(rel);
        let file = File::create(&path).map_err(|e| with_path(&path, e))?;
        Ok(Out {
            rel: rel.to_string(),
            w: BufWriter::with_capacity(1 << 20, file),
            lines: 0,
            bytes: 0,
        })
    }

    /// A file outside the bundle; `rel` is then the path as given.
    fn create_at(path: &Path) -> io::Result<Out> {
        let file = File::create(path).map_err(|e| with_path(path, e))?;
        Ok(Out {
            rel: path.display().to_string(),
            w: BufWriter::with_capacity(1 << 20, file),
            lines: 0,
            bytes: 0,
        })
    }

    fn write_line(&mut self, text: &str) -> io::Result<()> {
        self.w.write_all(text.as_bytes())?;
        self.w.write_all(b"\n")?;
        self.lines += 1;
        self.bytes += text.len() as u64 + 1;
        Ok(())
    }

    fn finish(&mut self, dir: &Path) -> io::Result<()> {
        self.w
            .flush()
            .map_err(|e| with_path(&dir.join(&self.rel), e))
    }
}

/// The `--jsonl` copy: its file, a line buffer, and `(service, instance)`
/// by output file index.
struct Jsonl {
    out: Out,
    buf: String,
    sources: Vec<(&'static str, String)>,
}

impl Jsonl {
    fn write(&mut self, rec: &Rec, skew_us: i64) -> io::Result<()> {
        debug_assert!(!rec.msg.is_empty(), "untagged line: {}", rec.text);
        let (service, instance) = &self.sources[rec.file];
        let t = if rec.file == LG {
            rec.t + skew_us
        } else {
            rec.t
        };
        let b = &mut self.buf;
        b.clear();
        b.push_str("{\"ts\":\"");
        put_rfc3339(b, t, false);
        put!(
            b,
            "\",\"service\":\"{service}\",\"instance\":\"{instance}\",\"level\":\"{}\",\"msg\":\"{}\"{}}}",
            rec.level,
            rec.msg,
            rec.ids
        );
        self.out.write_line(&self.buf)
    }
}

fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// A leftover file from a run with another seed would be ingested with the
/// bundle and spoil the truth; say so rather than delete anything.
fn warn_about_strangers(dir: &Path, ours: &[String]) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut count = 0usize;
    let mut example = None;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "db" || name == ".truth.jsonl" || ours.contains(&name) {
            continue;
        }
        count += 1;
        example.get_or_insert(name);
    }
    if let Some(example) = example {
        eprintln!(
            "gen_bundle: warning: {} already holds {count} other entr{} (e.g. {example}); they are not part of this bundle's truth",
            dir.display(),
            if count == 1 { "y" } else { "ies" }
        );
    }
}

/// Writes the event's lines to their files and its truth line:
/// `{"event_id", "request_ids", "idem_keys", "task_ids", "anomalies", "trap",
/// "order": [[path, line], ...]}` with `order` in true time order.
fn write_event(
    synth: &Synth,
    evt: Evt,
    story: Story,
    outs: &mut [Out],
    truth: &mut Out,
    buf: &mut String,
    mut jsonl: Option<&mut Jsonl>,
) -> io::Result<()> {
    fn list<T: fmt::Display>(buf: &mut String, items: &[T]) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                buf.push(',');
            }
            put!(buf, "\"{item}\"");
        }
    }
    buf.clear();
    put!(buf, "{{\"event_id\":\"{evt}\",\"request_ids\":[");
    list(buf, &synth.reqs);
    buf.push_str("],\"idem_keys\":[");
    list(buf, &synth.idems);
    buf.push_str("],\"task_ids\":[");
    list(buf, &synth.tasks);
    buf.push_str("],\"anomalies\":[");
    let mut anomalies = story.anomalies().to_vec();
    if synth.k == synth.drift_at {
        anomalies.push("payload_shape_drift");
    }
    list(buf, &anomalies);
    buf.push_str("],\"trap\":");
    match story.trap() {
        Some(trap) => put!(buf, "\"{trap}\""),
        None => buf.push_str("null"),
    }
    buf.push_str(",\"order\":[");
    for (i, rec) in synth.lines.current().iter().enumerate() {
        let out = &mut outs[rec.file];
        out.write_line(&rec.text)?;
        if rec.file != DB
            && let Some(j) = jsonl.as_deref_mut()
        {
            j.write(rec, synth.skew_us)?;
        }
        if i > 0 {
            buf.push(',');
        }
        put!(buf, "[\"{}\",{}]", out.rel, out.lines);
    }
    buf.push_str("]}");
    truth.write_line(buf)
}

/// billing-worker's startup line: its settings and their fingerprint, at
/// the bundle's first instant. No IDs: it belongs to no event.
fn worker_ready(settings: &[(String, String)]) -> String {
    // FNV-1a over `name=value` lines.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in settings {
        for b in format!("{k}={v}\n").bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    let mut s = String::from("{\"asctime\":\"");
    put_asctime(&mut s, BASE_US);
    put!(
        s,
        "\",\"levelname\":\"INFO\",\"name\":\"billing.worker\",\"message\":\"worker ready\",\"config_hash\":\"{:08x}\"",
        hash >> 32
    );
    for (k, v) in settings {
        if v.parse::<f64>().is_ok() {
            put!(s, ",\"{k}\":{v}");
        } else {
            put!(s, ",\"{k}\":\"{v}\"");
        }
    }
    s.push('}');
    s
}

fn run(args: &Args) -> io::Result<()> {
    let clock = Instant::now();
    // Instance names come from their own stream, so they depend on the seed
    // only, not on N.
    let mut name_rng = Rng(args.seed ^ 0x6E61_6D65_735F_7631);
    let names = Names {
        gateway: pod_name(&mut name_rng, "api-gateway"),
        payments: pod_name(&mut name_rng, "payments-api"),
        worker: pod_name(&mut name_rng, "billing-worker"),
        ledger: pod_name(&mut name_rng, "ledger-service"),
        webhook: pod_name(&mut name_rng, "webhook-dispatcher"),
    };
    // Indexed by GW, PA, BW, LG, WH, DB, CE.
    let rels = [
        format!("{}.log", names.gateway),
        format!("{}.log", names.payments),
        format!("{}.log", names.worker),
        format!("{}.log", names.ledger),
        format!("{}.log", names.webhook),
        "db/operation_log.csv".to_string(),
        "celery-events.jsonl".to_string(),
    ];
    let db_dir = args.out.join("db");
    fs::create_dir_all(&db_dir).map_err(|e| with_path(&db_dir, e))?;
    warn_about_strangers(&args.out, &rels);

    let mut outs = rels
        .iter()
        .map(|rel| Out::create(&args.out, rel))
        .collect::<io::Result<Vec<Out>>>()?;
    let mut truth = Out::create(&args.out, ".truth.jsonl")?;
    outs[DB].write_line(CSV_HEADER)?;
    outs[BW].write_line(&worker_ready(&args.worker_settings))?;

    let mut jsonl = match &args.jsonl {
        Some(path) => {
            if path.starts_with(&args.out) {
                eprintln!(
                    "gen_bundle: warning: --jsonl {} is inside --out {}: ingesting the bundle will read every record twice",
                    path.display(),
                    args.out.display()
                );
            }
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent).map_err(|e| with_path(parent, e))?;
            }
            let worker = &names.worker;
            Some(Jsonl {
                out: Out::create_at(path)?,
                buf: String::with_capacity(512),
                sources: vec![
                    ("api-gateway", names.gateway.clone()),
                    ("payments-api", names.payments.clone()),
                    ("billing-worker", worker.clone()),
                    ("ledger-service", names.ledger.clone()),
                    ("webhook-dispatcher", names.webhook.clone()),
                    ("", String::new()),
                    ("billing-worker", format!("celery@{worker}")),
                ],
            })
        }
        None => None,
    };
    let mut synth = Synth::new(args.seed, args.skew_ms, names, jsonl.is_some());
    // Small bundles have too few requests on either side of a deploy to
    // call a shape old or new.
    if args.events >= 20 {
        synth.drift_at = args.events * 3 / 5;
    }
    let mut buf = String::with_capacity(4096);
    let mut records = 0u64;
    for k in 0..args.events {
        // Idle time after the previous event's last record: events never
        // overlap, so every file stays in time order.
        synth.adv(20, 1500);
        let (evt, story) = synth.event(k);
        records += synth.lines.n as u64;
        write_event(
            &synth,
            evt,
            story,
            &mut outs,
            &mut truth,
            &mut buf,
            jsonl.as_mut(),
        )?;
    }
    for out in &mut outs {
        out.finish(&args.out)?;
    }
    truth.finish(&args.out)?;
    if let Some(j) = &mut jsonl {
        j.out
            .w
            .flush()
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", j.out.rel)))?;
    }

    let bytes: u64 = outs.iter().map(|o| o.bytes).sum::<u64>() + truth.bytes;
    eprintln!(
        "gen_bundle: {} events, {records} records, {bytes} bytes, {:.2} s -> {}",
        args.events,
        clock.elapsed().as_secs_f64(),
        args.out.display()
    );
    if let Some(j) = &jsonl {
        eprintln!(
            "gen_bundle: {} JSON lines, {} bytes -> {}",
            j.out.lines, j.out.bytes, j.out.rel
        );
    }
    Ok(())
}
