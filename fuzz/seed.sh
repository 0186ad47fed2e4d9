#!/usr/bin/env bash
# Builds the seed corpus of the fuzz targets from the repository's own inputs,
# so the seeds follow schemas/ and config/ as they change:
#
#   validate  one file per line of schemas/examples/<topic>.{valid,invalid}.jsonl
#             (and one per whole file), prefixed with the topic byte
#   config    config/*.toml as they are, plus one file with environment overrides
#   rules     the `when`/`points` pairs of every [[rules]] entry in config/*.toml,
#             prefixed with the table byte
#
# and adds the checked-in regression inputs of fuzz/regressions/<target>/. It also
# writes a libFuzzer dictionary per target, OUT_DIR/<target>.dict: the field names
# and enum values of schemas/*.schema.json, the keys of config/*.toml, SQL words,
# and values at the edges of their types (huge durations, 1e308, lone surrogates).
#
# Usage: fuzz/seed.sh [OUT_DIR]   (default fuzz/corpus; writes OUT_DIR/<target>/
# and OUT_DIR/<target>.dict)
# The output directory is emptied first, so running it again gives the same files.
set -euo pipefail
fuzz_dir="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$fuzz_dir")"
out="${1:-$fuzz_dir/corpus}"

# The topic byte: the position in fivefold_model::Topic::ALL, read from spec.rs.
mapfile -t topics < <(
  sed -n '/pub const ALL: \[Topic; 5\]/,/;/p' "$root/crates/fivefold-model/src/spec.rs" |
    grep -o 'Topic::[A-Za-z]*' | sed 's/Topic:://' | tr '[:upper:]' '[:lower:]'
)
if [ "${#topics[@]}" -ne 5 ]; then
  echo "seed.sh: cannot read Topic::ALL from crates/fivefold-model/src/spec.rs" >&2
  exit 1
fi
# The table byte of the rules target: the source tables (those with a field
# list) in Table::ALL order, as fuzz_targets/rules.rs numbers them.
source_tables=(enterprise hazard enforcement monitoring_point monitoring_reading rescue)

# Writes stdin to a file, with the byte $2 (0-255) in front when given.
put() {
  local file=$1
  if [ $# -gt 1 ]; then
    # shellcheck disable=SC2059 # the format is the octal escape of the byte
    printf "\\$(printf '%03o' "$2")" >"$file"
    cat >>"$file"
  else
    cat >"$file"
  fi
}

for target in validate config rules; do
  rm -rf "${out:?}/$target"
  mkdir -p "$out/$target"
done

# validate
for i in "${!topics[@]}"; do
  topic=${topics[$i]}
  for kind in valid invalid; do
    file="$root/schemas/examples/$topic.$kind.jsonl"
    [ -f "$file" ] || continue
    n=0
    while IFS= read -r line || [ -n "$line" ]; do
      n=$((n + 1))
      printf '%s' "$line" | put "$out/validate/$topic-$kind-$n" "$i"
    done <"$file"
    put "$out/validate/$topic-$kind-all" "$i" <"$file"
  done
done

# config
# Each file whole, without comments, and each of its sections alone (small
# inputs focus the mutations; the defaults fill in the rest).
for file in "$root"/config/*.toml; do
  name=$(basename "$file" .toml)
  cp "$file" "$out/config/$name.toml"
  awk -v dir="$out/config" -v name="$name" '
    /^[ \t]*(#|$)/ { next }
    { print > (dir "/" name "-compact") }
    /^\[/ { n++; f = sprintf("%s/%s-section-%02d", dir, name, n) }
    f != "" { print > f }
  ' "$file"
done
printf '[lake]\nzstd_level = 5\n# env\nFIVEFOLD_REPLAY__BATCH_ROWS=100\nFIVEFOLD_RUN__COMMIT_INTERVAL="2s"\n' |
  put "$out/config/env-overrides"

# rules: single-line basic ("...") or literal ('...') strings of each [[rules]] entry.
n=0
for file in "$root"/config/*.toml; do
  while IFS=$'\t' read -r table when points; do
    byte=-1
    for j in "${!source_tables[@]}"; do
      [ "${source_tables[$j]}" = "$table" ] && byte=$j
    done
    [ "$byte" -ge 0 ] || continue
    n=$((n + 1))
    printf '%s\n%s' "$when" "$points" | put "$out/rules/rule-$n" "$byte"
    printf '%s' "$when" | put "$out/rules/rule-$n-when" "$byte"
  done < <(awk '
    function value(line) {
      sub(/^[^=]*=[ \t]*/, "", line)
      if (line ~ /^"/) {
        sub(/^"/, "", line); sub(/"[ \t]*(#.*)?$/, "", line)
        gsub(/\\"/, "\"", line); gsub(/\\\\/, "\\", line)
      } else {
        sub(/^'\''/, "", line); sub(/'\''[ \t]*(#.*)?$/, "", line)
      }
      return line
    }
    function flush() {
      if (inrule && table != "" && when != "" && points != "") print table "\t" when "\t" points
      table = when = points = ""
    }
    /^\[\[rules\]\]/ { flush(); inrule = 1; next }
    /^\[/ { flush(); inrule = 0; next }
    inrule && /^table[ \t]*=/ { table = value($0) }
    inrule && /^when[ \t]*=/ { when = value($0) }
    inrule && /^points[ \t]*=/ { points = value($0) }
    END { flush() }
  ' "$file")
done

# Dictionaries: one token per line, quoted, with \ and " escaped.
dict() {
  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$/"/' | sort -u
}
schema_words() {
  grep -ho '"[a-z][a-z_0-9]*"' "$root"/schemas/*.schema.json | tr -d '"' | sort -u
}
{
  schema_words | sed 's/.*/"&"/'
  schema_words
  printf '%s\n' '": ' '{"' '"}' ', "' null true false '[]' '{}' 1e308 -1e308 -0 0.5 \
    9223372036854775807 9223372036854775808 -9223372036854775809 '\u0000' '\ud800' '\"' \
    '2026-03-01T08:00:00+08:00' '2026-03-01T08:00:00Z' '+08:00' 1772323200000 \
    91320505MA1MXK7D50 320505001000
} | dict >"$out/validate.dict"
{
  grep -ho '^\[*[a-z_.]*\]*' "$root"/config/*.toml | grep '^\[' | sort -u
  grep -ho '^[a-z_0-9]* *=' "$root"/config/*.toml | sed 's/ *=$//' | sort -u
  printf '%s\n' ' = ' '"' "'" '"""' "'''" '[[rules]]' '# env' FIVEFOLD_ __ true false inf nan \
    -inf 1e308 9223372036854775807 -1 0 '"0s"' '"500ms"' '"10m"' '"24h"' '"90d"' \
    '"99999999999999999999s"' '"1e300s"' 99999999999999999999 1e300 '"18446744073709551616s"' '"1.5h"' '"."' \
    '"127.0.0.1:8080"' '"[::1]:0"' '"security.protocol"'
} | dict >"$out/config.dict"
{
  schema_words
  printf '%s\n' AND OR NOT IN IS NULL LIKE BETWEEN CASE WHEN THEN ELSE END CAST AS \
    INTERVAL TRUE FALSE DISTINCT FROM "'" "''" '(' ')' ', ' ' = ' ' <> ' ' >= ' ' / ' ' % ' \
    ' || ' '::' greatest least log10 ln power sqrt abs coalesce nullif round floor \
    date_trunc date_part extract to_timestamp now make_array array_length substr \
    regexp_like length lower upper concat "'1 hour'" 9223372036854775807 1e308 0.0 -0 \
    BIGINT DOUBLE VARCHAR TIMESTAMP DECIMAL '(38, 10)'
} | dict >"$out/rules.dict"

# Regression inputs (crashes found before; see fuzz/README.md).
for target in validate config rules; do
  if [ -d "$fuzz_dir/regressions/$target" ]; then
    find "$fuzz_dir/regressions/$target" -maxdepth 1 -type f ! -name '*.md' \
      -exec cp {} "$out/$target/" \;
  fi
done

for target in validate config rules; do
  printf '%s: %s seeds\n' "$target" "$(find "$out/$target" -type f | wc -l)"
done
