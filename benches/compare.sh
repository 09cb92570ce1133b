#!/usr/bin/env bash
# hopline side by side with lnav, ripgrep and jq on this machine, in one run;
# writes BENCHMARKS.md at the repo root.
#
# Usage: benches/compare.sh [RECORDS...]      (default: 1000000 10000000)
#
# For each size, a generated bundle (examples/gen_bundle.rs, ~18 records per
# event) and its uniform JSON-lines copy (--jsonl) are measured with
# /usr/bin/time (seconds, peak RSS) and, for anything under
# $HOPLINE_BENCH_REPEAT_UNDER seconds (default 3), hyperfine --warmup 1
# --runs 10 (median). hopline's cold `timeline` always goes through hyperfine.
#
#   load      hopline ingest into a fresh index   vs  lnav loading the JSON lines
#   one ID    hopline timeline EVT (cold process) vs  rg -F over the bundle and
#             over the JSON lines, jq select(), an lnav SQL query — each asked
#             for the event id in event_id/request_id/idem_key/task_id
#   footprint the same peers handed every ID of the event from .truth.jsonl
#             (what hopline's timeline finds by itself from the one ID)
#   whole     hopline findings over the index; examples/bench_query (warm
#             timeline percentiles, TUI first frame and key latency)
#
# Environment:
#   HOPLINE_BENCH_DIR          cache of bundles, indexes and lnav's private
#                              config (default ~/.cache/hopline-bench); a bundle
#                              is reused while the generator's source is unchanged
#   HOPLINE_BENCH_SKIP_BUILD=1 do not run cargo (use what is already built)
#   HOPLINE_BENCH_GEN=PATH     a gen_bundle binary to use instead of the built one
#   HOPLINE_BENCH_OUT=FILE     where to write the report (default BENCHMARKS.md)
#   HOPLINE_BENCH_REPEAT_UNDER=S   repeat with hyperfine below S seconds (default 3,
#                              never below 0.1: /usr/bin/time counts in 10 ms)
#   HOPLINE_BENCH_KEEP_INDEX=1 keep each size's index after the run
#   CARGO_TARGET_DIR           default ~/.cache/hopline-ci
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

sizes=()
for arg in "$@"; do
    case $arg in
    -h | --help)
        usage
        exit 0
        ;;
    *[!0-9]* | '' | 0)
        echo "compare.sh: RECORDS must be positive integers, got '$arg'" >&2
        exit 2
        ;;
    *) sizes+=("$arg") ;;
    esac
done
((${#sizes[@]})) || sizes=(1000000 10000000)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hopline-ci}"
bin="$CARGO_TARGET_DIR/release"
bench_dir="${HOPLINE_BENCH_DIR:-$HOME/.cache/hopline-bench}"
out_md="${HOPLINE_BENCH_OUT:-$root/BENCHMARKS.md}"
repeat_under="${HOPLINE_BENCH_REPEAT_UNDER:-3}"
seed=1
say() { printf '\033[1mcompare:\033[0m %s\n' "$*" >&2; }

# ------------------------------------------------------------------ tools
need=()
command -v lnav >/dev/null || need+=(lnav)
command -v rg >/dev/null || need+=(ripgrep)
command -v jq >/dev/null || need+=(jq)
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v python3 >/dev/null || need+=(python3)
[[ -x /usr/bin/time ]] || need+=(time)
if ((${#need[@]})); then
    say "installing ${need[*]}"
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    if ! "${sudo[@]}" apt-get install -y -q "${need[@]}" >/dev/null; then
        "${sudo[@]}" apt-get update -q >/dev/null
        "${sudo[@]}" apt-get install -y -q "${need[@]}" >/dev/null
    fi
fi
unset RIPGREP_CONFIG_PATH JQ_COLORS

# ------------------------------------------------------------------ build
if [[ -n ${HOPLINE_BENCH_SKIP_BUILD:-} ]]; then
    say "HOPLINE_BENCH_SKIP_BUILD set: not building, using $bin"
else
    say "cargo build --release (hopline, gen_bundle, bench_query)"
    cargo build --release -q --bin hopline --example gen_bundle --example bench_query
fi
gen="${HOPLINE_BENCH_GEN:-$bin/examples/gen_bundle}"
hopline="$bin/hopline"
bench_query="$bin/examples/bench_query"
if [[ ! -x $gen ]]; then
    echo "compare.sh: no generator at $gen (build it, or set HOPLINE_BENCH_GEN)" >&2
    exit 1
fi
have_hopline=1
if [[ ! -x $hopline ]]; then
    have_hopline=0
    say "WARNING: no hopline binary at $hopline: hopline figures are skipped, peers only"
fi

mkdir -p "$bench_dir"
run_dir=$(mktemp -d "$bench_dir/run.XXXXXX")
trap 'rm -rf "$run_dir"' EXIT
results="$run_dir/results.jsonl"
: >"$results"

# lnav gets a private HOME so the format is installed there, not in the user's config.
lnav_home="$bench_dir/lnav-home"
rm -rf "$lnav_home"
mkdir -p "$lnav_home/.config"
lnav_env=(env HOME="$lnav_home" XDG_CONFIG_HOME="$lnav_home/.config")
"${lnav_env[@]}" lnav -i benches/lnav/hopline_gen.json >/dev/null 2>&1 </dev/null ||
    { echo "compare.sh: lnav -i benches/lnav/hopline_gen.json failed" >&2; exit 1; }
echo '{"ts":"2026-11-20T00:00:01.330Z","service":"payments-api","instance":"p","level":"info","msg":"probe","event_id":"evt_probe"}' >"$run_dir/probe.jsonl"
probe=$("${lnav_env[@]}" lnav -n -c ";SELECT count(*) AS n FROM hopline_gen_log WHERE event_id = 'evt_probe'" "$run_dir/probe.jsonl" 2>&1 </dev/null | tail -1 | tr -d ' ')
if [[ $probe != 1 ]]; then
    echo "compare.sh: lnav does not read the JSON-lines copy with benches/lnav/hopline_gen.json (got: $probe)" >&2
    exit 1
fi

# ------------------------------------------------------------------ environment
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
hopline_version="not run"
[[ $have_hopline == 0 ]] || hopline_version=$("$hopline" --version 2>/dev/null | head -1 || echo '?')
dirty=""
git diff --quiet HEAD -- src Cargo.toml Cargo.lock examples 2>/dev/null || dirty=" (uncommitted changes)"
python3 - "$run_dir/env.json" \
    command="benches/compare.sh ${sizes[*]}" \
    date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    nproc="$(nproc)" \
    cpu="$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)" \
    ram="$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)" \
    kernel="$(uname -sr)" \
    load="$load_at_start" \
    commit="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$dirty" \
    hopline="$hopline_version" \
    lnav="$("${lnav_env[@]}" lnav -V 2>/dev/null | head -1)" \
    rg="$(rg --version 2>/dev/null | head -1)" \
    jq="$(jq --version)" \
    hyperfine="$(hyperfine --version)" \
    rustc="$(rustc --version 2>/dev/null || echo '?')" \
    skip_build="${HOPLINE_BENCH_SKIP_BUILD:-}" \
    repeat_under="$repeat_under" <<'PY'
import json, sys
json.dump(dict(a.split("=", 1) for a in sys.argv[2:]), open(sys.argv[1], "w"))
PY

# ------------------------------------------------------------------ measuring
# measure ONCE|REPEAT|HYPERFINE -- CMD...: sets m_secs (median when repeated),
# m_rss (KiB, from the /usr/bin/time run), m_runs, m_mean, m_sd, m_ok;
# CMD's stdout is left in $run_dir/out.
measure() {
    local mode=$1
    shift 2
    m_ok=1 m_runs=1 m_mean="" m_sd=""
    if ! /usr/bin/time -f "%e %M" -o "$run_dir/time" "$@" >"$run_dir/out" 2>"$run_dir/err" </dev/null; then
        m_ok=0
        say "FAILED: $* ($(tail -c 300 "$run_dir/err" | tr '\n' ' '))"
    fi
    read -r m_secs m_rss < <(tail -1 "$run_dir/time") || true
    # lnav exits 0 even when a -c command fails; it says so on stderr.
    if [[ $m_ok == 1 ]] && grep -q '✘ error' "$run_dir/err"; then
        m_ok=0
        say "FAILED: $* ($(head -c 300 "$run_dir/err" | tr '\n' ' '))"
    fi
    [[ $m_ok == 1 ]] || return 0
    if [[ $mode == HYPERFINE ]] ||
        { [[ $mode == REPEAT ]] && python3 -c "import sys; sys.exit(not float('$m_secs') < max(float('$repeat_under'), 0.1))"; }; then
        local cmd
        cmd=$(printf '%q ' "$@")
        if hyperfine -N --warmup 1 --runs 10 --style none --export-json "$run_dir/hf.json" -- "$cmd" \
            >/dev/null 2>"$run_dir/hf.err"; then
            read -r m_secs m_mean m_sd m_runs < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(r["median"], r["mean"], r["stddev"] or 0, len(r["times"]))' "$run_dir/hf.json")
        else
            say "hyperfine failed, keeping the single run: $(tail -c 300 "$run_dir/hf.err" | tr '\n' ' ')"
        fi
    fi
}

# record SIZE GROUP TOOL RETURNED [key=value...]: one result line.
record() {
    python3 - "$results" "$@" m_secs="$m_secs" m_rss="$m_rss" m_runs="$m_runs" \
        m_mean="$m_mean" m_sd="$m_sd" m_ok="$m_ok" <<'PY'
import json, sys
path, size, group, tool, returned, *kv = sys.argv[1:]
row = {"size": int(size), "group": group, "tool": tool}
row["returned"] = int(returned) if returned.lstrip("-").isdigit() else None
for item in kv:
    k, _, v = item.partition("=")
    k = k.removeprefix("m_")
    try:
        row[k] = int(v) if v.lstrip("-").isdigit() else float(v)
    except ValueError:
        row[k] = v if v != "" else None
row["ok"] = row.get("ok") == 1
with open(path, "a") as f:
    f.write(json.dumps(row) + "\n")
PY
}

lines_of() { wc -l <"$run_dir/out" | tr -d ' '; }

id_fields="event_id request_id idem_key task_id"

# ------------------------------------------------------------------ per size
for records in "${sizes[@]}"; do
    events=$(((records * 10 + 90) / 181)) # ~18.1 records per event
    ((events > 0)) || events=1
    dir="$bench_dir/$records"
    bundle="$dir/bundle"
    jsonl="$dir/bundle.jsonl"
    stamp="gen_bundle $(sha256sum examples/gen_bundle.rs | cut -c1-16) events=$events seed=$seed"
    mkdir -p "$dir"
    if [[ -f $dir/stamp && $(cat "$dir/stamp") == "$stamp" && -f $jsonl && -f $bundle/.truth.jsonl ]]; then
        say "$records: reusing $bundle ($stamp)"
    else
        say "$records: generating $events events into $bundle"
        rm -rf "$bundle" "$jsonl" "$dir/stamp"
        "$gen" --events "$events" --seed "$seed" --out "$bundle" --jsonl "$jsonl" 2>"$dir/gen.log"
        echo "$stamp" >"$dir/stamp"
    fi
    gen_records=$(sed -n 's/.* events, \([0-9]*\) records.*/\1/p' "$dir/gen.log")
    jsonl_lines=$(sed -n 's/.*: \([0-9]*\) JSON lines.*/\1/p' "$dir/gen.log")
    bundle_bytes=$(du -sb --exclude=.truth.jsonl "$bundle" | cut -f1)
    jsonl_bytes=$(stat -c %s "$jsonl")

    # The event in the middle of the run, and every ID it carried.
    sed -n "$((events / 2 + 1))p" "$bundle/.truth.jsonl" >"$run_dir/event.json"
    read -r evt footprint_n < <(python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))
print(e["event_id"], len(e["order"]))' "$run_dir/event.json")
    mapfile -t all_ids < <(python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))
for i in [e["event_id"], *e["request_ids"], *e["idem_keys"], *e["task_ids"]]: print(i)' "$run_dir/event.json")
    sql_list=$(printf "'%s'," "${all_ids[@]}")
    sql_list=${sql_list%,}
    ids_obj=$(printf '"%s":true,' "${all_ids[@]}")
    ids_obj="{${ids_obj%,}}"
    python3 - "$results" <<PY
import json
with open("$results", "a") as f:
    f.write(json.dumps({"size": $records, "group": "input", "events": $events,
        "records": int("${gen_records:-0}" or 0), "jsonl_lines": int("${jsonl_lines:-0}" or 0),
        "bundle_bytes": $bundle_bytes, "jsonl_bytes": $jsonl_bytes, "event_id": "$evt",
        "event_ids": ${#all_ids[@]}, "event_records": $footprint_n}) + "\n")
PY
    say "$records: $gen_records records, $((bundle_bytes / 1000000)) MB bundle, $((jsonl_bytes / 1000000)) MB JSON lines; event $evt (${#all_ids[@]} IDs, $footprint_n records)"

    # -------------------------------------------------- load
    ix="$dir/ix"
    if [[ $have_hopline == 1 ]]; then
        rm -rf "$ix"
        say "$records: hopline ingest"
        measure ONCE -- "$hopline" --index "$ix" ingest --json "$bundle"
        n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records_total"])' "$run_dir/out" 2>/dev/null || echo "")
        record "$records" load "hopline ingest" "$n" index_bytes="$(du -sb "$ix" 2>/dev/null | cut -f1)" input_bytes="$bundle_bytes"
    fi
    say "$records: lnav load"
    measure REPEAT -- "${lnav_env[@]}" lnav -n -q "$jsonl"
    record "$records" load "lnav load" "" input_bytes="$jsonl_bytes" records="$jsonl_lines"
    lnav_load_secs=$m_secs

    # -------------------------------------------------- one ID
    if [[ $have_hopline == 1 ]]; then
        say "$records: hopline timeline $evt (cold process)"
        measure HYPERFINE -- "$hopline" --index "$ix" timeline "$evt"
        # Untimed: only its entries are counted.
        "$hopline" --index "$ix" timeline --json "$evt" >"$run_dir/tl.json" </dev/null || true
        n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["entries"]))' "$run_dir/tl.json" 2>/dev/null || echo "")
        record "$records" one "hopline timeline (cold)" "$n"
        record "$records" footprint "hopline timeline (cold)" "$n" note="the run above: one ID in, whole footprint out"
    fi
    say "$records: rg, jq, lnav for $evt"
    measure REPEAT -- rg -F "$evt" "$bundle"
    record "$records" one "rg -F (bundle dir)" "$(lines_of)"
    measure REPEAT -- rg -F "$evt" "$jsonl"
    record "$records" one "rg -F (JSON lines)" "$(lines_of)"
    measure REPEAT -- jq -c --arg id "$evt" \
        'select(.event_id == $id or .request_id == $id or .idem_key == $id or .task_id == $id)' "$jsonl"
    record "$records" one "jq select" "$(lines_of)"
    # 'X' IN (cols): SQLite checks each row once; four ORed equalities make it scan several times.
    measure REPEAT -- "${lnav_env[@]}" lnav -n -c ";SELECT log_time, service, log_level, event_id, request_id, idem_key, task_id FROM hopline_gen_log WHERE '$evt' IN (event_id, request_id, idem_key, task_id)" "$jsonl"
    record "$records" one "lnav SQL (load + query)" "$(($(lines_of) > 0 ? $(lines_of) - 1 : 0))" load_secs="$lnav_load_secs"

    # -------------------------------------------------- footprint, every ID handed over
    say "$records: rg, jq, lnav for all ${#all_ids[@]} IDs of $evt"
    rg_args=()
    for id in "${all_ids[@]}"; do rg_args+=(-e "$id"); done
    measure REPEAT -- rg -F "${rg_args[@]}" "$bundle"
    record "$records" footprint "rg -F (bundle dir)" "$(lines_of)"
    measure REPEAT -- rg -F "${rg_args[@]}" "$jsonl"
    record "$records" footprint "rg -F (JSON lines)" "$(lines_of)"
    measure REPEAT -- jq -c --argjson ids "$ids_obj" \
        'select([.event_id, .request_id, .idem_key, .task_id] | any(. != null and $ids[.] == true))' "$jsonl"
    record "$records" footprint "jq select" "$(lines_of)"
    where=""
    for f in $id_fields; do where+="${where:+ + }(ifnull($f, '') IN ($sql_list))"; done
    measure REPEAT -- "${lnav_env[@]}" lnav -n -c ";SELECT log_time, service, log_level, event_id, request_id, idem_key, task_id FROM hopline_gen_log WHERE $where > 0" "$jsonl"
    record "$records" footprint "lnav SQL (load + query)" "$(($(lines_of) > 0 ? $(lines_of) - 1 : 0))" load_secs="$lnav_load_secs"

    # -------------------------------------------------- whole index
    if [[ $have_hopline == 1 ]]; then
        say "$records: hopline findings"
        measure REPEAT -- "$hopline" --index "$ix" findings --json
        # `findings --json` is JSON lines: one finding per line.
        n=$(grep -c . "$run_dir/out" || true)
        record "$records" whole "hopline findings" "$n"

        if [[ -x $bench_query ]]; then
            say "$records: bench_query"
            if "$bench_query" --index "$ix" --ids-from "$bundle/.truth.jsonl" --samples 100 \
                >"$run_dir/bq.out" 2>"$run_dir/bq.err" </dev/null; then
                python3 - "$results" "$records" "$run_dir/bq.out" <<'PY'
import json, sys
path, size, out = sys.argv[1:]
with open(path, "a") as f:
    for line in open(out):
        try:
            v = json.loads(line)
        except ValueError:
            continue
        if isinstance(v, dict) and "bench" in v:
            nums = {k: x for k, x in v.items() if k != "bench" and isinstance(x, (int, float))}
            f.write(json.dumps({"size": int(size), "group": "bench_query", "tool": str(v["bench"]), "fields": nums}) + "\n")
PY
            else
                say "bench_query failed (non-fatal): $(tail -c 300 "$run_dir/bq.err" | tr '\n' ' ')"
                echo "{\"size\": $records, \"group\": \"note\", \"text\": \"examples/bench_query failed; its figures are missing\"}" >>"$results"
            fi
        else
            say "no $bench_query: warm timeline and TUI latency figures are skipped (non-fatal)"
            echo "{\"size\": $records, \"group\": \"note\", \"text\": \"examples/bench_query was not built; warm timeline and TUI figures are missing\"}" >>"$results"
        fi
        [[ -n ${HOPLINE_BENCH_KEEP_INDEX:-} ]] || rm -rf "$ix"
    fi
done

# ------------------------------------------------------------------ report
python3 - "$run_dir/env.json" "$results" "$out_md" <<'PY'
import json, sys

env = json.load(open(sys.argv[1]))
rows = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
out_path = sys.argv[3]
sizes = sorted({r["size"] for r in rows})


def mib(kb):
    return f"{kb / 1024:,.0f}" if isinstance(kb, (int, float)) else "—"


def secs(s):
    if not isinstance(s, (int, float)):
        return "—"
    return f"{s * 1000:,.1f} ms" if s < 1 else f"{s:,.2f} s"


def human_records(n):
    return f"{n / 1e6:g}M" if n >= 1e6 else f"{n / 1e3:g}k" if n >= 1e3 else str(n)


md = []
md.append("# Benchmarks: hopline beside lnav, ripgrep and jq\n")
md.append("Written by `benches/compare.sh`; run it again to refresh. All figures are from one run on one machine.\n")
md.append("| | |\n|---|---|")
for k, label in [("command", "command"), ("date", "date (UTC)"), ("commit", "commit"),
                 ("nproc", "nproc"), ("cpu", "CPU"), ("ram", "RAM"), ("kernel", "kernel"),
                 ("load", "load average at start"), ("hopline", "hopline"), ("lnav", "lnav"),
                 ("rg", "ripgrep"), ("jq", "jq"), ("hyperfine", "hyperfine"), ("rustc", "rustc")]:
    v = env.get(k, "") or "?"
    md.append(f"| {label} | {'`' + v + '`' if k == 'command' else v} |")
md.append("")
if env.get("skip_build"):
    md.append("> HOPLINE_BENCH_SKIP_BUILD was set: binaries were not rebuilt for this run.\n")
try:
    if float(env["load"].split()[0]) > 0.5:
        md.append(f"> The machine was not idle at the start (load average {env['load']}): figures may be noisy.\n")
except (ValueError, KeyError, IndexError):
    pass
md.append(f"""How to read it: times under {env['repeat_under']} s are the median of 10 runs
(hyperfine, one warm-up; `runs` says so), longer ones a single run; files are in the
page cache (they were just generated). Peak RSS comes from `/usr/bin/time -f %M`.
hopline reads the bundle as it is (five log formats, the CSV dump, Celery events);
lnav and jq read the uniform JSON-lines copy written by `gen_bundle --jsonl`
(lnav through `benches/lnav/hopline_gen.json`), which has the records of the five
logs and the Celery events but not the CSV rows. "one ID" asks every tool for the
event id in the fields event_id, request_id, idem_key and task_id; hopline's
`timeline` answers with the event's whole footprint (every record reachable
through the IDs it carried), so "footprint" gives the peers every ID of the event
from `.truth.jsonl` at once — an on-call engineer would have to discover those
IDs first, query by query. `lnav SQL` includes lnav loading the file: it has no
persistent index, every invocation re-reads the file.
""")

summary = []
for size in sizes:
    inp = next((r for r in rows if r["size"] == size and r["group"] == "input"), {})
    got = {(r["group"], r["tool"]): r for r in rows if r["size"] == size and "tool" in r and r["group"] != "bench_query"}
    n = inp.get("records") or size
    md.append(f"## {human_records(size)} records\n")
    md.append(f"Input: {inp.get('events', '?'):,} events, {n:,} records, bundle {inp.get('bundle_bytes', 0) / 1e6:,.1f} MB; "
              f"JSON-lines copy {inp.get('jsonl_lines', 0):,} lines, {inp.get('jsonl_bytes', 0) / 1e6:,.1f} MB. "
              f"Event asked for: `{inp.get('event_id', '?')}` ({inp.get('event_ids', '?')} IDs, {inp.get('event_records', '?')} records "
              f"including its CSV row).\n")
    md.append("| task | tool | time | runs | peak RSS (MiB) | throughput | records returned | note |")
    md.append("|---|---|---:|---:|---:|---:|---:|---|")
    for group, gname in [("load", "load"), ("one", "one ID"), ("footprint", "footprint"), ("whole", "whole index")]:
        for (g, tool), r in got.items():
            if g != group:
                continue
            thr, note = "", ""
            s = r.get("secs")
            if not r.get("ok"):
                note = "FAILED"
            elif group == "load" and isinstance(s, (int, float)) and s > 0:
                b = r.get("input_bytes") or 0
                recs = (r.get("returned") if tool.startswith("hopline") else r.get("records")) or 0
                thr = f"{b / 1e6 / s:,.1f} MB/s, {recs / s / 1e3:,.0f}k rec/s"
                if r.get("index_bytes"):
                    note = f"index {r['index_bytes'] / 1e6:,.1f} MB ({r['index_bytes'] / max(b, 1):.2f}× input)"
                if tool.startswith("hopline"):
                    note += ("; " if note else "") + "records_total"
                else:
                    note = "in memory, redone on every start"
            elif tool.startswith("lnav SQL") and isinstance(r.get("load_secs"), (int, float)) and isinstance(s, (int, float)):
                note = f"query alone ≈ {secs(max(s - r['load_secs'], 0))}"
            if r.get("runs", 1) and r.get("runs", 1) > 1 and isinstance(r.get("sd"), (int, float)):
                note += ("; " if note else "") + f"± {secs(r['sd'])}"
            if r.get("note"):
                note = r["note"] + ("; " + note if note else "")
            ret = r.get("returned")
            md.append(f"| {gname} | {tool} | {secs(s)} | {r.get('runs', 1)} | {mib(r.get('rss'))} | {thr} | "
                      f"{'' if ret is None else f'{ret:,}'} | {note} |")
    md.append("")
    bq = [r for r in rows if r["size"] == size and r["group"] == "bench_query"]
    if bq:
        md.append("hopline in-process (`examples/bench_query --samples 100`):\n")
        md.append("| bench | figures |\n|---|---|")
        for r in bq:
            figs = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in r["fields"].items())
            md.append(f"| {r['tool']} | {figs} |")
        md.append("")
    for r in rows:
        if r["size"] == size and r["group"] == "note":
            md.append(f"> {r['text']}\n")

    # ratios
    ratios = []
    tl = got.get(("one", "hopline timeline (cold)"))
    for group, label in [("one", "one ID"), ("footprint", "footprint")]:
        for (g, tool), r in got.items():
            if g == group and not tool.startswith("hopline"):
                ratios.append((label, "hopline timeline (cold)", tl, tool, r))
    ing = got.get(("load", "hopline ingest"))
    if ("load", "lnav load") in got:
        ratios.append(("load", "hopline ingest", ing, "lnav load", got[("load", "lnav load")]))
    md.append("Ratios, hopline ÷ peer (below 1: hopline takes less time / memory):\n")
    md.append("| task | hopline | peer | time ratio | RSS ratio | verdict |")
    md.append("|---|---|---|---:|---:|---|")
    for label, hname, h, pname, p in ratios:
        if not h or not h.get("ok") or not p.get("ok"):
            md.append(f"| {label} | {hname} | {pname} | — | — | not measured |")
            continue
        if not h["secs"] or not p["secs"] or not h.get("rss") or not p.get("rss"):
            md.append(f"| {label} | {hname} | {pname} | — | — | below the timer's resolution |")
            continue
        tr = h["secs"] / p["secs"]
        rr = h["rss"] / p["rss"]
        if tr < 1:
            verdict = f"hopline ahead ({1 / tr:,.1f}× faster)" if tr > 0 else "hopline ahead"
        else:
            verdict = f"**hopline not ahead: {tr:,.1f}× slower**"
            summary.append(f"{human_records(size)}, {label}: {hname} is {tr:,.1f}× slower than {pname} "
                           f"({secs(h['secs'])} vs {secs(p['secs'])})")
        if rr > 1.5:
            verdict += f"; uses {rr:,.1f}× the memory"
            summary.append(f"{human_records(size)}, {label}: {hname} uses {rr:,.1f}× the peak memory of {pname} "
                           f"({mib(h['rss'])} vs {mib(p['rss'])} MiB)")
        md.append(f"| {label} | {hname} | {pname} | {tr:,.3f} | {rr:,.2f} | {verdict} |")
    md.append("")

md.append("## Memory as the input grows\n")
if len(sizes) >= 2:
    lo, hi = sizes[0], sizes[-1]
    lines = []
    for group, tool in [("load", "hopline ingest"), ("whole", "hopline findings"),
                        ("one", "hopline timeline (cold)"), ("load", "lnav load")]:
        a = next((r for r in rows if r["size"] == lo and r.get("group") == group and r.get("tool") == tool and r.get("ok")), None)
        b = next((r for r in rows if r["size"] == hi and r.get("group") == group and r.get("tool") == tool and r.get("ok")), None)
        if a and b and a.get("rss"):
            k = b["rss"] / a["rss"]
            flat = "flat" if k < 1.5 else "NOT flat"
            lines.append(f"- {tool}: {mib(a['rss'])} MiB at {human_records(lo)} → {mib(b['rss'])} MiB at "
                         f"{human_records(hi)} records ({k:.2f}×, input {hi / lo:g}×): {flat}")
    md.extend(lines or ["- hopline figures missing: nothing to compare."])
else:
    md.append("- one size only: run with two sizes (the default 1000000 10000000) to see this.")
md.append("")
md.append("## Where hopline is not ahead\n")
measured = any(r.get("tool", "").startswith("hopline") and r.get("ok") for r in rows)
if summary:
    md.extend(f"- {s}" for s in summary)
elif measured:
    md.append("- nowhere in this run: every ratio above is below 1 and no peak RSS above 1.5× a peer's.")
else:
    md.append("- unknown: hopline itself was not measured in this run.")
md.append("")
text = "\n".join(md)
open(out_path, "w").write(text)
print(text)
PY
say "wrote $out_md"
