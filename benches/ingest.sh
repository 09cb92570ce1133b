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
/usr/bin/time -f "%e %M" -o "$work/t" "$bin/hopline" --index "$work/ix" ingest --json "$work/bundle" > "$work/out"
read -r secs rss_kb < "$work/t"
records=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records_total"])' "$work/out")
index_bytes=$(du -sb "$work/ix" | cut -f1)
id=$(grep -o '"evt_[0-9a-f]*"' -m1 "$work/bundle/.truth.jsonl" | tr -d '"')
/usr/bin/time -f "%e" -o "$work/tl" "$bin/hopline" --index "$work/ix" timeline "$id" > /dev/null
/usr/bin/time -f "%e %M" -o "$work/f" "$bin/hopline" --index "$work/ix" findings > /dev/null
read -r fsecs frss < "$work/f"
python3 - "$bytes" "$records" "$secs" "$rss_kb" "$index_bytes" "$(cat "$work/tl")" "$fsecs" "$frss" <<'PY'
import sys
b, n, s, rss, ix, tl, fs, frss = sys.argv[1:]
b, n, s, rss, ix, tl, fs, frss = int(b), int(n), float(s), int(rss), int(ix), float(tl), float(fs), int(frss)
print(f"input            {b/1e6:10.1f} MB, {n} records")
print(f"ingest           {s:10.2f} s   {b/1e6/s:6.1f} MB/s   {n/s/1e3:6.1f}k records/s   peak RSS {rss/1024:.0f} MiB")
print(f"index size       {ix/1e6:10.1f} MB ({ix/b:.2f}x input)")
print(f"timeline (cold)  {tl*1000:10.0f} ms")
print(f"findings         {fs:10.2f} s   peak RSS {frss/1024:.0f} MiB")
PY
