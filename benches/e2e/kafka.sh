#!/usr/bin/env bash
# End-to-end Kafka benchmark: the Fivefold pipeline beside a bare rdkafka
# consume loop, on the same data, from the same broker, in one run.
#
#   bash benches/e2e/kafka.sh [RECORDS]        (default 1000000)
#
# Needs the Tansu broker (bash .ci/run installs it into /var/cache/fivefold/tools).
# Prints a table and writes target/bench/kafka_e2e.json. Absolute figures hold
# only for the machine that made them; compare the ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
RECORDS="${1:-1000000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/fivefold/target}"
export PATH="/var/cache/fivefold/tools/bin:$PATH"
command -v tansu >/dev/null || { echo "tansu not found: run bash .ci/run once, or cargo install tansu --locked --features dynostore,libsql" >&2; exit 1; }

out=target/bench; mkdir -p "$out"; work=$(mktemp -d); trap 'kill $broker 2>/dev/null; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work" && exec tansu broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://tansu/ >"$work/tansu.log" 2>&1) &
broker=$!
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

# FIVEFOLD_BENCH_PROFILE=dev skips the long release build of DataFusion: the dev
# profile compiles the hot crates (ours, arrow, parquet, serde_json, zstd) optimised.
PROFILE="${FIVEFOLD_BENCH_PROFILE:-release}"
cargo bench -q -p fivefold-pipeline --bench kafka_e2e --profile "$PROFILE" --no-run 2>/dev/null
drive() { cargo bench -q -p fivefold-pipeline --bench kafka_e2e --profile "$PROFILE" -- "$@" 2>/dev/null | grep '^{'; }
produced=$(drive produce --brokers "127.0.0.1:$port" --records "$RECORDS")
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
bytes=$(field "$produced" bytes)
count=$(field "$produced" records)
bare=$(drive bare --brokers "127.0.0.1:$port" --group "bare-$$" --records "$count")
pipe=$(drive pipeline --brokers "127.0.0.1:$port" --group "pipe-$$" --lake "$work/lake" --bytes "$bytes")
drive files --out "$work/input" --records "$RECORDS" >/dev/null
t0=$(date +%s.%N); cat "$work"/input/*.jsonl >/dev/null; t1=$(date +%s.%N)
read_files=$(python3 -c "print($t1 - $t0)")
replay=$(drive replay --input "$work/input" --lake "$work/replay-lake")

python3 - "$produced" "$bare" "$pipe" "$replay" "$out/kafka_e2e.json" "$read_files" <<'PY'
import json, sys
rows = [json.loads(a) for a in sys.argv[1:5]]
bare, pipe, replay = rows[1], rows[2], rows[3]
wall = float(sys.argv[6])
rows.append({"mode": "cat files", "records": replay["records"], "bytes": replay["bytes"], "seconds": wall,
             "cpu_seconds": wall, "records_per_second": replay["records"] / max(wall, 1e-3),
             "records_per_cpu_second": replay["records"] / max(wall, 1e-3),
             "mb_per_second": replay["bytes"] / max(wall, 1e-3) / 1e6, "peak_rss_mib": 0.0})
print(f"{'mode':<10}{'records':>10}{'rec/s':>12}{'rec/cpu-s':>12}{'MB/s':>8}{'peak RSS MiB':>14}")
for r in rows:
    print(f"{r['mode']:<10}{r['records']:>10}{r['records_per_second']:>12.0f}{r['records_per_cpu_second']:>12.0f}{r['mb_per_second']:>8.1f}{r['peak_rss_mib']:>14.1f}")
ratio = pipe['records_per_second'] / bare['records_per_second']
print(f"pipeline / bare consume: {ratio:.2f} (records/s); replay / cat of the same files: {replay['records_per_second'] / rows[4]['records_per_second']:.3f}")
json.dump({"rows": rows, "pipeline_over_bare": ratio}, open(sys.argv[5], "w"), indent=2)
PY
