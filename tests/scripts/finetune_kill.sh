#!/usr/bin/env bash
# kill -9 at any moment loses nothing: a short stories260K run with a checkpoint every 5 steps is killed with SIGKILL
# several times, at different moments, and resumed with --resume each time; the result must equal an uninterrupted
# run's: the same model.bin and checkpoint bytes, metrics.jsonl with every step 1..N exactly once (and the same losses),
# eval.jsonl with every evaluation step exactly once, and no temporary (*.tmp.*, checkpoint.next.bin) left behind.
#   finetune_kill.sh BUILD_DIR SHARED_DIR
set -euo pipefail
exe="$1/examples/zeroth-finetune"
shared="$2"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
steps=600  # about 8 s uninterrupted here, longer than the delays below together: they all land mid-run
args=(--model "$shared/models/stories260K/stories260K.bin" --tokenizer "$shared/models/stories260K/tok512.bin"
      --train "$shared/data/sst2/train.tsv" --eval "$shared/data/sst2/dev.tsv" --k 8 --batch 4 --eval-examples 8
      --steps $steps --eval-every 10 --checkpoint-every 5 --lr 1e-4)
export OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE

"$exe" "${args[@]}" --out "$work/ref" >"$work/ref.log" 2>&1 || { cat "$work/ref.log"; exit 1; }

out="$work/killed"
mid_run=0
start=(--out "$out")
for delay in 0.9 1.6 0.5 2.2 1.2 0.3; do
  "$exe" "${args[@]}" "${start[@]}" >>"$work/killed.log" 2>&1 &
  pid=$!
  sleep "$delay"
  if kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || true
    if [ ! -e "$out/summary.json" ]; then mid_run=$((mid_run + 1)); fi
    echo "killed after ${delay} s (checkpoint at step $(grep -o '"step": *[0-9]*' "$out/checkpoint.json" 2>/dev/null |
      grep -o '[0-9]*$' || echo none))"
  else
    wait "$pid" || { echo "FAIL: the run exited with an error before it was killed"; cat "$work/killed.log"; exit 1; }
  fi
  # The first run may be killed before it wrote run.json: then there is no run yet to resume.
  if [ -e "$out/run.json" ]; then start=(--out "$out" --resume); else start=(--out "$out" --overwrite); fi
done
"$exe" "${args[@]}" "${start[@]}" >>"$work/killed.log" 2>&1 || { echo "FAIL: the last resume"; cat "$work/killed.log"; exit 1; }
[ "$mid_run" -ge 3 ] || { echo "FAIL: only $mid_run kills landed mid-run (the machine is too fast for the delays)"; exit 1; }

fail=0
for f in model.bin checkpoint.bin; do
  cmp -s "$work/ref/$f" "$out/$f" || { echo "FAIL: $f differs from the uninterrupted run's"; fail=1; }
done
steps_of() { grep -o '"step":[0-9]*' "$1" | cut -d: -f2 | tr '\n' ' '; }
want_metrics=$(seq -s ' ' 1 $steps)' '
[ "$(steps_of "$out/metrics.jsonl")" = "$want_metrics" ] ||
  { echo "FAIL: metrics.jsonl steps are: $(steps_of "$out/metrics.jsonl")"; fail=1; }
[ "$(steps_of "$work/ref/metrics.jsonl")" = "$want_metrics" ] || { echo "FAIL: the reference's metrics steps"; fail=1; }
losses() { grep -o '"loss":[^,]*,"lr":[^,]*,"eps":[^,]*,"g":\[[^]]*\]' "$1"; }
[ "$(losses "$out/metrics.jsonl")" = "$(losses "$work/ref/metrics.jsonl")" ] ||
  { echo "FAIL: metrics.jsonl losses or g differ from the uninterrupted run's"; fail=1; }
want_eval=$(seq -s ' ' 0 10 $steps)' '
[ "$(steps_of "$out/eval.jsonl")" = "$want_eval" ] || { echo "FAIL: eval.jsonl steps are: $(steps_of "$out/eval.jsonl")"; fail=1; }
cmp -s "$work/ref/eval.jsonl" "$out/eval.jsonl" || { echo "FAIL: eval.jsonl differs from the uninterrupted run's"; fail=1; }
left=$(find "$out" -name '*.tmp.*' -o -name 'checkpoint.next.bin')
[ -z "$left" ] || { echo "FAIL: left behind: $left"; fail=1; }
if [ "$fail" != 0 ]; then tail -30 "$work/killed.log"; exit 1; fi
echo "$mid_run kills mid-run, then resumed: the same bytes and logs as the uninterrupted run"
