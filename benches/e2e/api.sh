#!/usr/bin/env bash
# Load benchmark of the HTTP API (not a test): wrk against the risk list and
# one SQL aggregate, with 10,000 enterprises in the lake.
#
#   bash benches/e2e/api.sh [ENTERPRISES] [SECONDS]     (defaults 10000, 10)
#
# Needs wrk (apt-get install wrk). Prints requests/s and latency percentiles and
# writes target/bench/api.json. Absolute figures hold only for this machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
ENTERPRISES="${1:-10000}"; SECONDS_="${2:-10}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/fivefold/target}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
PROFILE="${FIVEFOLD_BENCH_PROFILE:-release}"
cargo build -q -p fivefold --profile "$PROFILE"
dir=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
bin="$CARGO_TARGET_DIR/$dir/fivefold"
work=$(mktemp -d); trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
"$bin" generate --enterprises "$ENTERPRISES" --hours 1 --seed 5 --out "$work/in" >/dev/null
"$bin" replay --input "$work/in" --lake "$work/lake" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --lake "$work/lake" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
server=$!
for _ in $(seq 200); do curl -sf "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
total=$(curl -s "127.0.0.1:$port/api/v1/risk/enterprises?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
cat > "$work/sql.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"sql": "SELECT color, count(*) AS n, avg(risk_points) AS mean FROM risk_latest GROUP BY color"}'
LUA
list=$(wrk -t2 -c32 -d"${SECONDS_}s" --latency "http://127.0.0.1:$port/api/v1/risk/enterprises?limit=50")
sql=$(wrk -t2 -c8 -d"${SECONDS_}s" --latency -s "$work/sql.lua" "http://127.0.0.1:$port/api/v1/sql")
python3 - "$total" "$list" "$sql" target/bench/api.json <<'PY'
import json, re, sys, os
def parse(text):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", text)
        v, u = float(m.group(1)), m.group(2)
        return v / 1000 if u == "us" else v * 1000 if u == "s" else v
    return {"requests_per_second": rps, "p50_ms": pct(50), "p99_ms": pct(99)}
rows = {"enterprises_in_lake": int(sys.argv[1]), "list_limit_50": parse(sys.argv[2]), "sql_aggregate": parse(sys.argv[3])}
os.makedirs(os.path.dirname(sys.argv[4]), exist_ok=True)
json.dump(rows, open(sys.argv[4], "w"), indent=2)
print(f"enterprises in the lake: {rows['enterprises_in_lake']}")
for k in ("list_limit_50", "sql_aggregate"):
    r = rows[k]
    print(f"{k:<16} {r['requests_per_second']:>10.0f} req/s   p50 {r['p50_ms']:.2f} ms   p99 {r['p99_ms']:.2f} ms")
PY
