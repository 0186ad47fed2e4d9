"""The end-to-end benchmark suite: Fivefold beside its raw limits, DuckDB and Flink.

Run through `bash benches/e2e/run.sh [RECORDS]`, which prepares the tools and
calls this with the paths it found. Generates the data once, then measures in
one run, on the same files and the same broker:

- raw limits: reading the JSON lines from disk; a bare rdkafka consume loop;
- DuckDB at 1 thread: JSON lines -> Parquet for every file, and a 5-minute
  window aggregation over the monitoring readings;
- Fivefold replay (files -> committed lake, validation and scoring on) and
  Fivefold run (broker -> committed lake, the same);
- Flink (PyFlink, local mini-cluster, parallelism 1): parse, 5-minute tumbling
  window per enterprise with count and sum, CSV files;
- event-to-queryable latency of Fivefold run at a steady produce rate.

Prints one table and writes it as JSON to target/bench/e2e.json. CPU seconds
are user + system time of the whole process tree (the JVM included);
peak RSS is the largest sum of resident memory over the tree.
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Alternating rounds of the bare loop and the run, and of replay and DuckDB's
# conversion (the median of each counts).
ROUNDS = max(1, int(os.environ.get("FIVEFOLD_BENCH_ROUNDS", "3")))


def tree(root: int) -> list[int]:
    """The pid and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def sample(pid: int) -> tuple[float, int] | None:
    """(CPU seconds, RSS bytes) of one process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks, int(fields[21]) * os.sysconf("SC_PAGE_SIZE")


def measure(cmd: list[str], env: dict | None = None, cwd: str | None = None) -> dict:
    """Runs `cmd`, sampling its process tree every 50 ms; returns its stdout,
    wall seconds, CPU seconds and peak RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    out = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=env, cwd=cwd)
    cpu: dict[int, float] = {}
    peak = 0
    while proc.poll() is None:
        rss = 0
        for pid in tree(proc.pid):
            s = sample(pid)
            if s:
                cpu[pid] = s[0]
                rss += s[1]
        peak = max(peak, rss)
        time.sleep(0.05)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    waited = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        sys.exit(f"{Path(cmd[0]).name} {cmd[1] if len(cmd) > 1 else ''} failed ({proc.returncode}):\n{err[-3000:]}")
    out.seek(0)
    return {
        "stdout": out.read().decode(errors="replace"),
        "seconds": wall,
        "cpu_seconds": max(waited, sum(cpu.values())),
        "peak_rss_mib": peak / 2**20,
    }


def driver_json(result: dict) -> dict:
    lines = [l for l in result["stdout"].splitlines() if l.startswith("{")]
    return json.loads(lines[-1])


def row(name: str, records: int, nbytes: int, seconds: float, cpu: float, rss: float, note: str = "") -> dict:
    return {
        "stage": name,
        "records": records,
        "bytes": nbytes,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "records_per_second": records / max(seconds, 1e-6),
        "records_per_cpu_second": records / max(cpu, 1e-6),
        "mb_per_second": nbytes / max(seconds, 1e-6) / 1e6,
        "peak_rss_mib": round(rss, 1),
        "note": note,
    }


DUCKDB = """
import duckdb, sys
con = duckdb.connect()
con.execute("SET threads = 1")
mode, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "convert":
    con.execute(f"COPY (SELECT * FROM read_json('{path}', format = 'newline_delimited')) TO '{out}' (FORMAT parquet)")
else:
    con.execute(f'''COPY (
        SELECT uscc, time_bucket(INTERVAL '5 minutes',
                 CASE WHEN event_time LIKE '%T%' THEN CAST(event_time AS TIMESTAMPTZ)
                      ELSE to_timestamp(CAST(event_time AS BIGINT) / 1000) END) AS w,
               count(*) AS n, sum("value") AS total
        FROM read_json('{path}', format = 'newline_delimited',
                       columns = {{'event_time': 'VARCHAR', 'uscc': 'VARCHAR',
                                   'record_type': 'VARCHAR', 'value': 'DOUBLE'}})
        WHERE record_type = 'reading' GROUP BY ALL) TO '{out}' (FORMAT parquet)''')
"""


def main() -> None:
    driver, python, brokers, work, records, out_json = sys.argv[1:7]
    work = Path(work)
    records = int(records)
    rows: list[dict] = []
    extra: dict = {}

    def drive(*args: str) -> dict:
        # The driver reports its own CPU time and peak RSS: no sampling here.
        r = subprocess.run([driver, *args], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"kafka_e2e {args[0]} failed ({r.returncode}):\n{r.stderr[-3000:]}")
        return driver_json({"stdout": r.stdout})

    drive("files", "--out", str(work / "input"), "--records", str(records))
    inputs = sorted((work / "input").glob("*.jsonl"))
    lines = {p.name: sum(1 for _ in p.open("rb")) for p in inputs}
    total_bytes = sum(p.stat().st_size for p in inputs)
    n = sum(lines.values())
    print(f"data: {n} records, {total_bytes / 1e6:.0f} MB in {len(inputs)} files", flush=True)

    t0, c0 = time.monotonic(), time.process_time()
    for p in inputs:
        with p.open("rb") as f:
            while f.read(1 << 20):
                pass
    rows.append(row("raw: read JSON lines", n, total_bytes, time.monotonic() - t0, time.process_time() - c0, 0, "page cache"))

    produced = drive("produce", "--brokers", brokers, "--records", str(records))
    rows.append(row("raw: produce to broker", produced["records"], produced["bytes"], produced["seconds"], produced["cpu_seconds"], produced["peak_rss_mib"], "not compared"))

    # Each pair compared below runs in alternating rounds, and the round with
    # the median CPU time stands for each: a few CPU-seconds each, which a
    # shared machine can stretch by 15 % either way (the bare loop and the
    # run, drained from one broker, by up to 25 %).
    def median(runs: list[dict]) -> dict:
        return sorted(runs, key=lambda r: r["cpu_seconds"])[len(runs) // 2]

    print(f"bare consume and fivefold run, {ROUNDS} alternating rounds ...", flush=True)
    bares, runs = [], []
    for i in range(ROUNDS):
        # A new consumer group each round: each drains the topics from the start.
        bares.append(drive("bare", "--brokers", brokers, "--group", f"bench-bare-{i}", "--records", str(produced["records"])))
        lake = work / f"run-lake-{i}"
        runs.append(drive("pipeline", "--brokers", brokers, "--group", f"bench-run-{i}", "--lake", str(lake), "--bytes", str(produced["bytes"])))
        shutil.rmtree(lake, ignore_errors=True)
    bare, run = median(bares), median(runs)
    rows.append(row("raw: bare rdkafka consume", bare["records"], bare["bytes"], bare["seconds"], bare["cpu_seconds"], bare["peak_rss_mib"], f"median of {ROUNDS}"))

    def duck_convert(tag: str) -> dict:
        conv = {"seconds": 0.0, "cpu_seconds": 0.0, "peak_rss_mib": 0.0}
        for p in inputs:
            if lines[p.name] == 0:
                continue
            r = measure([python, "-c", DUCKDB, "convert", str(p), str(work / f"duck-{tag}-{p.stem}.parquet")])
            for k in ("seconds", "cpu_seconds"):
                conv[k] += r[k]
            conv["peak_rss_mib"] = max(conv["peak_rss_mib"], r["peak_rss_mib"])
        return conv

    print(f"fivefold replay and duckdb conversion, {ROUNDS} alternating rounds ...", flush=True)
    reps, convs = [], []
    for i in range(ROUNDS):
        lake = work / f"replay-lake-{i}"
        reps.append(drive("replay", "--input", str(work / "input"), "--lake", str(lake)))
        shutil.rmtree(lake, ignore_errors=True)
        convs.append(duck_convert(str(i)))
    rep, conv = median(reps), median(convs)
    extra["rounds"] = {
        "bare_cpu_seconds": [r["cpu_seconds"] for r in bares],
        "run_cpu_seconds": [r["cpu_seconds"] for r in runs],
        "replay_cpu_seconds": [r["cpu_seconds"] for r in reps],
        "duckdb_convert_cpu_seconds": [r["cpu_seconds"] for r in convs],
    }
    rows.append(row("fivefold replay", rep["records"], rep["bytes"], rep["seconds"], rep["cpu_seconds"], rep["peak_rss_mib"], f"validate + score + commit; median of {ROUNDS}"))
    rows.append(row("fivefold run", run["records"], produced["bytes"], run["seconds"], run["cpu_seconds"], run["peak_rss_mib"], f"validate + score + commit; median of {ROUNDS}"))

    print("duckdb window ...", flush=True)
    rows.append(row("duckdb: JSON -> Parquet", n, total_bytes, conv["seconds"], conv["cpu_seconds"], conv["peak_rss_mib"], f"1 thread, no validation; median of {ROUNDS}"))
    mon = work / "input" / "monitoring.jsonl"
    mon_n, mon_bytes = lines.get("monitoring.jsonl", 0), mon.stat().st_size
    r = measure([python, "-c", DUCKDB, "window", str(mon), str(work / "duck-window.parquet")])
    rows.append(row("duckdb: 5-min window", mon_n, mon_bytes, r["seconds"], r["cpu_seconds"], r["peak_rss_mib"], "1 thread, monitoring only"))

    print("flink ...", flush=True)
    job = Path(__file__).with_name("flink_job.py")
    r = measure([python, str(job), str(mon), str(work / "flink-out")])
    rows.append(row("flink: 5-min window", mon_n, mon_bytes, r["seconds"], r["cpu_seconds"], r["peak_rss_mib"], "parallelism 1, monitoring only, JVM start included"))

    print("latency ...", flush=True)
    lat = drive("latency", "--brokers", brokers, "--lake", str(work / "latency-lake"), "--rate", "5000", "--seconds", "20")
    extra["latency"] = lat

    def by(name: str) -> dict:
        return next(r for r in rows if r["stage"] == name)

    ratios = {
        "run / bare consume (records/s)": by("fivefold run")["records_per_second"] / by("raw: bare rdkafka consume")["records_per_second"],
        "run / bare consume (records/CPU-s)": by("fivefold run")["records_per_cpu_second"] / by("raw: bare rdkafka consume")["records_per_cpu_second"],
        "replay / duckdb JSON->Parquet (records/CPU-s)": by("fivefold replay")["records_per_cpu_second"] / by("duckdb: JSON -> Parquet")["records_per_cpu_second"],
        "replay / read JSON lines (records/s)": by("fivefold replay")["records_per_second"] / by("raw: read JSON lines")["records_per_second"],
        "replay / flink window (records/CPU-s)": by("fivefold replay")["records_per_cpu_second"] / by("flink: 5-min window")["records_per_cpu_second"],
        "replay / flink window (records/s)": by("fivefold replay")["records_per_second"] / by("flink: 5-min window")["records_per_second"],
    }

    head = f"{'stage':<28}{'records':>10}{'wall s':>9}{'CPU s':>8}{'rec/s':>11}{'rec/CPU-s':>11}{'MB/s':>8}{'RSS MiB':>9}"
    print()
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['stage']:<28}{r['records']:>10}{r['seconds']:>9.2f}{r['cpu_seconds']:>8.2f}{r['records_per_second']:>11.0f}{r['records_per_cpu_second']:>11.0f}{r['mb_per_second']:>8.1f}{r['peak_rss_mib']:>9.1f}  {r['note']}")
    print()
    for k, v in ratios.items():
        print(f"{k:<48}{v:>7.2f}")
    print(f"{'event-to-queryable latency at 5000 rec/s':<48}p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms (1 s windows, 1 s commits)")
    Path(out_json).parent.mkdir(parents=True, exist_ok=True)
    Path(out_json).write_text(json.dumps({"records": n, "rows": rows, "ratios": ratios, **extra}, indent=2))
    print(f"\nwrote {out_json}")


if __name__ == "__main__":
    main()
