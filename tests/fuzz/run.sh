#!/usr/bin/env bash
# Runs every fuzz target of BUILD_DIR (configured with -DZEROTH_BUILD_FUZZERS=ON) for RUNS executions, one process at
# a time, starting from its committed corpus (read only: new inputs go to a scratch folder), and prints one row per
# target: executions, seconds, exec/s, coverage (cov:, features ft:), corpus size, crashes. Exits 1 when any target
# found a crash; the crashing inputs are left in OUT_DIR (default: a temporary folder), named <target>-crash-<sha1>.
#   tests/fuzz/run.sh build-fuzz 2000            # the CI smoke run
#   FUZZ_SECONDS=300 tests/fuzz/run.sh build-fuzz 1000000 out/    # the long campaign, at most 300 s a target
# The scratch files the targets write go to $TMPDIR, /dev/shm by default (a disk-backed /tmp halves exec/s).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: $0 BUILD_DIR RUNS [OUT_DIR] [TARGET...]}
runs=${2:?usage: $0 BUILD_DIR RUNS [OUT_DIR] [TARGET...]}
out=${3:-$(mktemp -d)}
shift $(($# < 3 ? $# : 3))
mkdir -p "$out"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for c in "$here"/corpus/*/; do targets+=("$(basename "$c")"); done
fi
export OMP_NUM_THREADS=1
if [ -z "${TMPDIR:-}" ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
limit=()
if [ -n "${FUZZ_SECONDS:-}" ]; then limit=(-max_total_time="$FUZZ_SECONDS"); fi
failed=0
printf '%-20s %10s %8s %8s %6s %7s %6s %s\n' target execs seconds exec/s cov ft corpus crashes
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/fuzz_$t
  [ -x "$bin" ] || { echo "fuzz: no target $bin" >&2; failed=1; continue; }
  rm -rf "$out/$t.new" && mkdir -p "$out/$t.new"
  start=$(date +%s.%N)
  "$bin" -runs="$runs" "${limit[@]}" -seed=1 -print_final_stats=1 -artifact_prefix="$out/$t-" "$out/$t.new" "$here/corpus/$t" \
    >"$out/$t.log" 2>&1
  rc=$?
  seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$t.log")
  last=$(grep -E '^#[0-9]+' "$out/$t.log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=$(find "$out" -maxdepth 1 -name "$t-*" -type f | wc -l)
  printf '%-20s %10s %8.1f %8s %6s %7s %6s %s\n' "$t" "${execs:-?}" "$seconds" "${speed:-?}" "${cov:-?}" "${ft:-?}" \
    "${corp:-?}" "$crashes"
  if [ $rc -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed=1
    echo "fuzz: $t failed (exit $rc); its log is $out/$t.log:" >&2
    grep -E 'ERROR|SUMMARY|error does not name|deadly signal|==[0-9]+==' "$out/$t.log" | head -n 20 >&2
  fi
done
exit $failed
