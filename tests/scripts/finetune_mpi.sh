#!/usr/bin/env bash
# zeroth-finetune --parallel under mpirun (issue 13), on stories260K (llama2.c) and all-MiniLM-L6-v2 (BERT):
#  1. --parallel directions on 2 and 3 ranks gives one process's checkpoint bytes;
#  2. --parallel data --batch-invariant on 2 and 3 ranks gives one --batch-invariant process's bytes (without
#     --batch-invariant the two differ, and the size of the difference is printed);
#  3. a run on 2 ranks killed after a checkpoint, resumed on 3 ranks and again on 1 process, gives the uninterrupted
#     run's bytes;
#  4. kill -9 of rank 1 mid-run: mpirun ends every rank (no hang), and --resume from what rank 0 wrote gives the
#     uninterrupted run's bytes;
#  5. --parallel without mpirun runs on 1 rank (and says so); mpirun without --parallel is refused.
#   finetune_mpi.sh BUILD_DIR SHARED_DIR
set -euo pipefail
exe="$1/examples/zeroth-finetune"
shared="$2"
work=$(mktemp -d)
trap 'pkill -9 -f "$work" 2>/dev/null || true; rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
mpi=(mpirun --oversubscribe --allow-run-as-root)
llama=(--model "$shared/models/stories260K/stories260K.bin" --tokenizer "$shared/models/stories260K/tok512.bin"
       --train "$shared/data/sst2/train.tsv" --eval "$shared/data/sst2/dev.tsv" --k 32 --batch 12 --eval-examples 8
       --directions 2 --lr 1e-4 --eval-every 10 --checkpoint-every 5)
bert=(--model "$shared/models/all-MiniLM-L6-v2" --train "$shared/data/sst2/train.tsv" --eval "$shared/data/sst2/dev.tsv"
      --k 8 --batch 6 --eval-examples 6 --directions 2 --lr 1e-4 --eval-every 0)
run() {  # name, then launcher and options: runs into $work/name
  local name=$1
  shift
  "$@" --out "$work/$name" >"$work/$name.log" 2>&1 || { echo "FAIL: $name exited $?"; tail -20 "$work/$name.log"; exit 1; }
}
same() {  # a b: identical checkpoints
  cmp -s "$work/$1/checkpoint.bin" "$work/$2/checkpoint.bin" || { echo "FAIL: $1 and $2 differ"; exit 1; }
  echo "  $1 = $2"
}

echo "1. direction-parallel = one process"
run l-one "$exe" "${llama[@]}" --steps 20
run l-dir2 "${mpi[@]}" -np 2 "$exe" "${llama[@]}" --steps 20 --parallel directions
run l-dir3 "${mpi[@]}" -np 3 "$exe" "${llama[@]}" --steps 20 --parallel directions
same l-dir2 l-one && same l-dir3 l-one
run b-one "$exe" "${bert[@]}" --steps 6
run b-dir2 "${mpi[@]}" -np 2 "$exe" "${bert[@]}" --steps 6 --parallel directions
same b-dir2 b-one
grep -q -- "--parallel directions on 2 ranks" "$work/l-dir2.log" || { echo "FAIL: rank count not printed"; exit 1; }
[ "$(grep -c "^after 20 steps:" "$work/l-dir2.log")" = 1 ] || { echo "FAIL: not only rank 0 prints"; exit 1; }

echo "2. data-parallel = one process, with --batch-invariant"
run l-inv "$exe" "${llama[@]}" --steps 20 --batch-invariant
run l-data2 "${mpi[@]}" -np 2 "$exe" "${llama[@]}" --steps 20 --batch-invariant --parallel data
run l-data3 "${mpi[@]}" -np 3 "$exe" "${llama[@]}" --steps 20 --batch-invariant --parallel data
same l-data2 l-inv && same l-data3 l-inv
run b-inv "$exe" "${bert[@]}" --steps 6 --batch-invariant
run b-data2 "${mpi[@]}" -np 2 "$exe" "${bert[@]}" --steps 6 --batch-invariant --parallel data
same b-data2 b-inv
run l-data2-var "${mpi[@]}" -np 2 "$exe" "${llama[@]}" --steps 20 --parallel data
python3 - "$work/l-one/metrics.jsonl" "$work/l-data2-var/metrics.jsonl" <<'EOF'
import json, sys
a, b = ([json.loads(l)["loss"] for l in open(p)] for p in sys.argv[1:])
print("  without --batch-invariant, 2 ranks vs 1 (llama2.c): largest relative difference of the 20 step losses %.2e"
      % max(abs(x - y) / abs(x) for x, y in zip(a, b)))
EOF

echo "3. 2 ranks, killed after a checkpoint, resumed on 3 ranks, then on 1 process"
run l-ref "$exe" "${llama[@]}" --steps 60 --batch-invariant
out="$work/l-moved"
"${mpi[@]}" -np 2 "$exe" "${llama[@]}" --steps 60 --batch-invariant --parallel data --out "$out" >"$work/moved.log" 2>&1 &
pid=$!
for _ in $(seq 600); do grep -qs '"step": *1[05]' "$out/checkpoint.json" && break; sleep 0.05; done
kill -9 "$pid" 2>/dev/null || { echo "FAIL: the 2-rank run ended before it was killed"; exit 1; }
wait "$pid" 2>/dev/null || true
pkill -9 -f "$out" 2>/dev/null || true
step=$(grep -o '"step": *[0-9]*' "$out/checkpoint.json" | grep -o '[0-9]*$')
echo "  killed at checkpoint step $step"
"${mpi[@]}" -np 3 "$exe" "${llama[@]}" --steps 60 --batch-invariant --parallel data --out "$out" --resume \
  >>"$work/moved.log" 2>&1 &
pid=$!
for _ in $(seq 600); do grep -qs '"step": *[345][05]' "$out/checkpoint.json" && break; sleep 0.05; done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pkill -9 -f "$out" 2>/dev/null || true
echo "  then at step $(grep -o '"step": *[0-9]*' "$out/checkpoint.json" | grep -o '[0-9]*$') on 3 ranks"
"$exe" "${llama[@]}" --steps 60 --batch-invariant --out "$out" --resume >>"$work/moved.log" 2>&1 ||
  { echo "FAIL: the resume on 1 process"; tail -20 "$work/moved.log"; exit 1; }
same l-moved l-ref
cmp -s "$work/l-ref/model.bin" "$out/model.bin" || { echo "FAIL: model.bin differs"; exit 1; }

echo "4. kill -9 of rank 1 mid-run"
out="$work/l-rank"
start=$(date +%s)
"${mpi[@]}" -np 2 "$exe" "${llama[@]}" --steps 60 --batch-invariant --parallel data --out "$out" >"$work/rank.log" 2>&1 &
pid=$!
victim=""
for _ in $(seq 600); do
  grep -qs '"step": *10' "$out/checkpoint.json" && for p in $(pgrep -f "$out"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then victim=$p; fi
  done
  [ -n "$victim" ] && break
  sleep 0.05
done
[ -n "$victim" ] || { echo "FAIL: no rank 1 found"; exit 1; }
kill -9 "$victim"
status=0
timeout 60 tail --pid="$pid" -f /dev/null || { echo "FAIL: mpirun still runs 60 s after rank 1 was killed"; exit 1; }
wait "$pid" || status=$?
echo "  mpirun ended with status $status, $(( $(date +%s) - start )) s after the start"
[ "$status" != 0 ] || { echo "FAIL: mpirun reported success"; exit 1; }
grep -q "rank 1 with PID.*exited on signal 9" "$work/rank.log" ||
  { echo "FAIL: mpirun did not name the killed rank"; tail -20 "$work/rank.log"; exit 1; }
echo "  mpirun: $(grep -o "process rank 1 with PID [0-9]* on node [^ ]* exited on signal 9[^.]*" "$work/rank.log" | head -1)"
"$exe" "${llama[@]}" --steps 60 --batch-invariant --out "$out" --resume >>"$work/rank.log" 2>&1 ||
  { echo "FAIL: the resume after the killed rank"; tail -20 "$work/rank.log"; exit 1; }
same l-rank l-ref
left=$(find "$out" -name '*.tmp.*' -o -name 'checkpoint.next.bin')
[ -z "$left" ] || { echo "FAIL: left behind: $left"; exit 1; }

echo "5. --parallel without mpirun runs on 1 rank and says so; mpirun without --parallel is refused"
run l-alone "$exe" "${llama[@]}" --steps 20 --parallel directions
same l-alone l-one
grep -q "on 1 rank (started without mpirun" "$work/l-alone.log" || { echo "FAIL: no note"; exit 1; }
if "${mpi[@]}" -np 2 "$exe" "${llama[@]}" --steps 2 --out "$work/refused" >"$work/refused.log" 2>&1; then
  echo "FAIL: accepted"; exit 1
fi
grep -q "without --parallel data|directions" "$work/refused.log" || { echo "FAIL: no message"; cat "$work/refused.log"; exit 1; }
echo "distributed fine-tunes: the same bits on 1, 2 and 3 ranks; resumed across rank counts; a killed rank ends the run"
