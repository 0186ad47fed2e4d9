#!/usr/bin/env bash
# Builds the fuzz targets and runs each for a bounded time, starting from the
# seed corpus that seed.sh generates from schemas/ and config/. Prints one
# summary line per target and exits non-zero if any target crashed (a panic,
# a timeout, or more memory than its limit).
#
# Usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  default 20; TARGET default: validate config rules
#
# Environment:
#   CARGO_TARGET_DIR  where the fuzz build goes (CI: /var/cache/fivefold/fuzz-target;
#                     default fuzz/target)
#   FUZZ_TOOLCHAIN    nightly | bootstrap (stable with RUSTC_BOOTSTRAP=1); default:
#                     nightly when rustup has it, else bootstrap
#   FUZZ_SANITIZER    none (default) | address: cargo-fuzz's --sanitizer
#   FUZZ_CORPUS_DIR   keep the inputs libFuzzer finds here (<dir>/<target>/) and
#                     start from them next time; default: a scratch dir, removed
#
# The repository is never written to, except fuzz/artifacts/<target>/ (ignored
# by git) where libFuzzer leaves the input of a crash. Reproduce one with
#   cargo +nightly fuzz run --sanitizer none <target> fuzz/artifacts/<target>/<file>
set -euo pipefail
fuzz_dir="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$fuzz_dir")"
cd "$root"

secs="${1:-20}"
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(validate config rules)
case "$secs" in '' | *[!0-9]*)
  echo "run.sh: SECONDS_PER_TARGET must be a whole number, got '$secs'" >&2
  exit 2
  ;;
esac

# libFuzzer bounds per target: the longest input, and the memory (RSS, MB) past
# which a run counts as a crash. Seeds are at most a few KB (risk-model.toml is
# the largest). Peak RSS seen in 120-600 s runs: validate 84 MB, config 250 MB
# (one 518 MB peak in 600 s), rules 245 MB.
limits() {
  case "$1" in
    validate) echo "-max_len=16384 -rss_limit_mb=512" ;;
    config) echo "-max_len=16384 -rss_limit_mb=1024" ;;
    rules) echo "-max_len=4096 -rss_limit_mb=1024" ;;
    *)
      echo "run.sh: unknown target '$1'" >&2
      return 1
      ;;
  esac
}
for t in "${targets[@]}"; do limits "$t" >/dev/null; done

toolchain="${FUZZ_TOOLCHAIN:-}"
if [ -z "$toolchain" ]; then
  if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=nightly
  else
    toolchain=bootstrap
  fi
fi
case "$toolchain" in
  nightly) cargo_fuzz=(cargo +nightly fuzz) ;;
  bootstrap)
    # cargo-fuzz passes nightly-only flags (-Z...); stable accepts them with this.
    export RUSTC_BOOTSTRAP=1
    cargo_fuzz=(cargo fuzz)
    ;;
  *)
    echo "run.sh: FUZZ_TOOLCHAIN must be nightly or bootstrap, got '$toolchain'" >&2
    exit 2
    ;;
esac
if ! "${cargo_fuzz[@]}" --version >/dev/null 2>&1; then
  echo "run.sh: cargo-fuzz is not installed (cargo install cargo-fuzz --locked)" >&2
  exit 1
fi

# No sanitizer by default: the crates forbid unsafe code, so ASan would mostly
# watch dependencies, and it makes the (cold) build and every execution slower.
# 16 codegen units: cargo-fuzz's default of 1 makes a cold build of DataFusion
# far slower, for little speed in the fuzz loop.
build_flags=(--sanitizer "${FUZZ_SANITIZER:-none}" --codegen-units 16 --fuzz-dir "$fuzz_dir")

work="$(mktemp -d "${TMPDIR:-/tmp}/fivefold-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
corpus_root="${FUZZ_CORPUS_DIR:-$work/corpus}"

echo "fuzz: $toolchain toolchain, sanitizer ${FUZZ_SANITIZER:-none}, ${secs}s per target"
"$fuzz_dir/seed.sh" "$work/seeds"
start=$(date +%s)
"${cargo_fuzz[@]}" build "${build_flags[@]}"
echo "fuzz: built in $(($(date +%s) - start))s"

summary=()
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$corpus_root/$t" "$fuzz_dir/artifacts/$t"
  log="$work/$t.log"
  echo "fuzz: running $t for ${secs}s"
  t0=$(date +%s)
  stamp="$work/$t.start"
  touch "$stamp"
  # shellcheck disable=SC2046 # the limits are separate words
  if timeout --kill-after=30 $((secs * 3 + 120)) \
    "${cargo_fuzz[@]}" run "${build_flags[@]}" "$t" "$corpus_root/$t" "$work/seeds/$t" -- \
    -max_total_time="$secs" -timeout=10 -print_final_stats=1 -dict="$work/seeds/$t.dict" \
    $(limits "$t") \
    >"$log" 2>&1; then
    status=ok
  else
    status="CRASH (exit $?)"
    failed=1
  fi
  wall=$(($(date +%s) - t0))
  # libFuzzer ends a bounded run with "Done N runs in T second(s)"; after a
  # crash there is no such line, but the final stats still count the runs.
  runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  took=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$log" | tail -1)
  if [ -z "$runs" ]; then
    runs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log" | tail -1)
    took=$wall
  fi
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
  rss=$(sed -n 's/^stat::peak_rss_mb:[[:space:]]*//p' "$log" | tail -1)
  rate='?'
  [[ "${runs:-}" =~ ^[0-9]+$ && "${took:-}" =~ ^[0-9]+$ && "$took" -gt 0 ]] && rate=$((runs / took))
  line=$(printf 'fuzz %-8s %10s runs in %4ss (%s/s), cov %s, peak RSS %s MB: %s' \
    "$t" "${runs:-?}" "${took:-?}" "$rate" "${cov:-?}" "${rss:-?}" "$status")
  summary+=("$line")
  if [ "$status" != ok ]; then
    # The scratch dir goes away: keep the log beside the crash input.
    cp "$log" "$fuzz_dir/artifacts/$t/last-run.log"
    echo "---- $t: what libFuzzer reported (whole log: fuzz/artifacts/$t/last-run.log)" >&2
    grep -E -A2 'panicked at|==ERROR|SUMMARY|out-of-memory|Timeout|deadly signal' "$log" |
      cut -c1-300 | head -30 >&2 || true
    find "$fuzz_dir/artifacts/$t" -type f ! -name '*.log' -newer "$stamp" |
      sed "s|^$root/|  input: |" >&2
  fi
done

echo
printf '%s\n' "${summary[@]}"
exit "$failed"
