#!/usr/bin/env bash
# The benchmarks' smoke run: bench/run --smoke must run every benchmark to the end
# and write each one's table, samples and plot, and the summary. Its figures are
# not judged (one round at the smallest sizes, next to other tests' load); the
# real run is bench/run, documented in docs/PERFORMANCE.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d /tmp/amid-bench-smoke-XXXXXX)
trap 'rm -rf "$out"' EXIT
"$root/bench/run" --smoke --out "$out"
fail=0
for n in launch boot capture copy scale terminate server ec2api warm; do
  for f in "$n.md" "$n.tsv" "$n.png"; do
    [ -s "$out/$f" ] || { echo "bench smoke: $n wrote no $f" >&2; fail=1; }
  done
  [ "$(head -c 4 "$out/$n.png" 2>/dev/null | tail -c 3)" = PNG ] || { echo "bench smoke: $n.png is not a PNG" >&2; fail=1; }
  # Every sample is a number of seconds.
  awk -F'\t' -v n="$n" 'NR > 1 && $3 !~ /^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$/ {print "bench smoke: " n ".tsv line " NR ": " $0; bad=1} END {exit bad}' \
    "$out/$n.tsv" >&2 || fail=1
  grep -q "^| $n |" "$out/summary.md" || { echo "bench smoke: summary.md has no figure from $n" >&2; fail=1; }
done
[ -s "$out/ratios.png" ] || { echo "bench smoke: no ratios.png" >&2; fail=1; }
# No figure came out as "nan": each ratio had both its samples.
if grep -n "nan" "$out/ratios.tsv" >&2; then echo "bench smoke: a figure without samples (above)" >&2; fail=1; fi
exit $fail
