#!/usr/bin/env bash
# The end-to-end benchmark suite, one command:
#
#   bash benches/e2e/run.sh [RECORDS]        (default 2000000, about 3 minutes after the build)
#
# Generates RECORDS synthetic records once, then measures on the same files and
# the same broker, in one run: reading the files and a bare rdkafka consume loop
# (the raw limits), DuckDB at 1 thread (JSON -> Parquet, a 5-minute window),
# Fivefold replay and Fivefold run into a committed lake (validation and scoring
# on), Flink (PyFlink, parallelism 1, a 5-minute window), and Fivefold's
# event-to-queryable latency. Prints one table and writes target/bench/e2e.json.
#
# Needs: the Tansu broker (bash .ci/run installs it), Java 11 or newer (for Flink),
# Python 3 with venv. DuckDB and PyFlink are installed from PyPI into
# $FIVEFOLD_BENCH_VENV (default /var/cache/fivefold/bench-venv) on first use.
# FIVEFOLD_BENCH_PROFILE=dev measures the dev profile (hot crates optimised),
# skipping the release build of DataFusion on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
RECORDS="${1:-2000000}"
PROFILE="${FIVEFOLD_BENCH_PROFILE:-release}"
VENV="${FIVEFOLD_BENCH_VENV:-/var/cache/fivefold/bench-venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/fivefold/target}"
export PATH="/var/cache/fivefold/tools/bin:$PATH"

command -v tansu >/dev/null || {
  echo "tansu not found: run bash .ci/run once, or bash .ci/tansu/install.sh 0.6.0 /var/cache/fivefold/tools" >&2
  exit 1
}
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
if [ -z "$java_major" ] || [ "$java_major" -lt 11 ]; then
  echo "Flink needs Java 11 or newer (found: ${java_major:-none}): apt-get install openjdk-17-jre-headless" >&2
  exit 1
fi
if ! "$VENV/bin/python" -c 'import duckdb, pyflink' 2>/dev/null; then
  echo "installing DuckDB and PyFlink into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q duckdb==1.1.3 apache-flink==2.3.0
fi

echo "building the benchmark driver ($PROFILE profile)"
driver=$(cargo bench -q -p fivefold --bench kafka_e2e --profile "$PROFILE" --no-run \
  --message-format=json | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "kafka_e2e":
        print(m["executable"])')

work=$(mktemp -d)
broker=""
trap '[ -n "$broker" ] && kill "$broker" 2>/dev/null; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work" && exec tansu broker --listener-url "tcp://127.0.0.1:$port" \
  --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://tansu/ >"$work/tansu.log" 2>&1) &
broker=$!
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $PROFILE profile; $RECORDS records"
"$VENV/bin/python" benches/e2e/suite.py "$driver" "$VENV/bin/python" "127.0.0.1:$port" "$work" \
  "$RECORDS" target/bench/e2e.json
