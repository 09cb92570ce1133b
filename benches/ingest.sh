#!/usr/bin/env bash
# Ingest, timeline and findings figures on a generated bundle (release build).
# Usage: benches/ingest.sh [EVENTS]   (default 100000 events ≈ 1.5M records, 370 MB)
# Prints MB/s, records/s, peak RSS, index size, cold timeline and findings time.
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-100000}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hopline-ci}"
cargo build --release -q --bin hopline --example gen_bundle
bin="$CARGO_TARGET_DIR/release"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin/examples/gen_bundle" --events "$events" --out "$work/bundle" 2>/dev/null
bytes=$(du -sb --exclude=.truth.jsonl "$work/bundle" | cut -f1)
# Ingest alone, then the first findings (which analyse and keep the
# result), a cold timeline (on the clock that analysis kept), then findings
# again (read from what was kept); then, on a fresh
# index, ingest as users run it: ending with the analysis kept.
/usr/bin/time -f "%e %M" -o "$work/t" "$bin/hopline" --index "$work/ix" ingest --no-analysis --json "$work/bundle" > "$work/out"
read -r secs rss_kb < "$work/t"
records=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records_total"])' "$work/out")
index_bytes=$(du -sb "$work/ix" | cut -f1)
/usr/bin/time -f "%e %M" -o "$work/f" "$bin/hopline" --index "$work/ix" findings > /dev/null
read -r fsecs frss < "$work/f"
id=$(grep -o '"evt_[0-9a-f]*"' -m1 "$work/bundle/.truth.jsonl" | tr -d '"')
/usr/bin/time -f "%e" -o "$work/tl" "$bin/hopline" --index "$work/ix" timeline "$id" > /dev/null
/usr/bin/time -f "%e %M" -o "$work/k" "$bin/hopline" --index "$work/ix" findings > /dev/null
read -r ksecs krss < "$work/k"
rm -rf "$work/ix"
/usr/bin/time -f "%e %M" -o "$work/a" "$bin/hopline" --index "$work/ix" ingest "$work/bundle" > /dev/null
read -r asecs arss < "$work/a"
python3 - "$bytes" "$records" "$secs" "$rss_kb" "$index_bytes" "$(cat "$work/tl")" "$fsecs" "$frss" "$ksecs" "$krss" "$asecs" "$arss" <<'PY'
import sys
b, n, s, rss, ix, tl, fs, frss, ks, krss, a, arss = sys.argv[1:]
b, n, s, rss, ix, tl = int(b), int(n), float(s), int(rss), int(ix), float(tl)
fs, frss, ks, krss, a, arss = float(fs), int(frss), float(ks), int(krss), float(a), int(arss)
print(f"input              {b/1e6:10.1f} MB, {n} records")
print(f"ingest alone       {s:10.2f} s   {b/1e6/s:6.1f} MB/s   {n/s/1e3:6.1f}k records/s   peak RSS {rss/1024:.0f} MiB   (--no-analysis)")
print(f"index size         {ix/1e6:10.1f} MB ({ix/b:.2f}x input)")
print(f"timeline (cold)    {tl*1000:10.0f} ms")
print(f"findings, first    {fs:10.2f} s   peak RSS {frss/1024:.0f} MiB   (analyses and keeps)")
print(f"findings, kept     {ks:10.2f} s   peak RSS {krss/1024:.0f} MiB")
print(f"ingest + analysis  {a:10.2f} s   peak RSS {arss/1024:.0f} MiB   ({a/s:.2f}x ingest alone; findings then read what was kept)")
PY
