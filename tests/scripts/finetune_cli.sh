#!/usr/bin/env bash
# zeroth-finetune keeps the README's promises about what it tells a user: errors that name the option, file or
# field and what is wrong; nothing accepted silently; a collapsed run (too large a learning rate) ends with its own
# status, exit 3 and a warning in the log and in summary.json, for both backends.
#   finetune_cli.sh BUILD_DIR SHARED_DIR
set -uo pipefail
exe=$(cd "$1/examples" && pwd)/zeroth-finetune
shared=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE
fails=0
m260="$shared/models/stories260K/stories260K.bin"
tok="$shared/models/stories260K/tok512.bin"
llama=(--model "$m260" --tokenizer "$tok")
data=(--train "$shared/data/sst2/train.tsv" --eval "$shared/data/sst2/dev.tsv")
small=(--k 8 --batch 4 --eval-examples 8 --eval-every 0)
n=0
prefix=()  # a command to run zeroth-finetune under

# expect STATUS TEXT ARGS...: the run exits with STATUS and its output holds TEXT (a fixed string).
expect() {
  local status=$1 text=$2
  shift 2
  n=$((n + 1))
  local log="$work/run$n.log"
  (cd "$work" && "${prefix[@]}" "$exe" "$@" >"$log" 2>&1)
  local got=$?
  if [ "$got" != "$status" ] || ! grep -qF -- "$text" "$log"; then
    echo "FAIL: zeroth-finetune $* exited $got (want $status), output lacks: $text"
    tail -5 "$log"
    fails=$((fails + 1))
  else
    echo "ok: $text"
  fi
  last_log=$log
}

# Option values: readable bounds (CLI11 printed a 309-digit one), no negative number read as 2^64 - 1.
expect 105 "--lr: must be a finite number > 0 (got '-1')" "${llama[@]}" --lr -1 --out o
if grep -q '[0-9]\{40\}' "$last_log"; then echo "FAIL: a 40-digit number in: $(cat "$last_log")"; fails=$((fails + 1)); fi
expect 105 "--eps: must be a finite number > 0 (got '0')" "${llama[@]}" --eps 0 --out o
expect 105 "--k: must be a whole number >= 0 (got '-1')" "${llama[@]}" --k -1 --out o
expect 105 "--seed: must be a whole number >= 0 (got '-1')" "${llama[@]}" --seed -1 --out o
expect 105 "--eval-every: must be a whole number >= 0 (got '-5')" "${llama[@]}" --eval-every -5 --out o
expect 105 "--directions: Value 4294967297 not in range 1 to 1024" "${llama[@]}" --directions 4294967297 --out o

# Folders where files belong; files that are not what they claim.
mkdir -p "$work/adir"
expect 2 "'$work/adir' is a folder, not a file" --model "$m260" --tokenizer "$work/adir" "${data[@]}" "${small[@]}" --out o
expect 2 "$work/adir: is a folder, not a file" "${llama[@]}" --train "$work/adir" "${small[@]}" --out o
head -c 4 "$tok" >"$work/tok_few.bin"
python3 - "$tok" "$work/tok_few.bin" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read(); pos = 4; out = bytearray(data[:4])
for i in range(300):
    n = struct.unpack('<i', data[pos + 4:pos + 8])[0]; out += data[pos:pos + 8 + n]; pos += 8 + n
open(sys.argv[2], 'wb').write(out)
PY
expect 2 "holds 300 tokens, but the model's vocab_size is 512" --model "$m260" --tokenizer "$work/tok_few.bin" "${data[@]}" "${small[@]}" --out o
python3 - "$m260" "$work/nan.bin" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read()); b[28 + 4 * 5:28 + 4 * 6] = struct.pack('<f', float('nan'))
open(sys.argv[2], 'wb').write(b)
PY
expect 2 "tensor 'tok_embeddings' holds NaN at element 5" --model "$work/nan.bin" --tokenizer "$tok" "${data[@]}" "${small[@]}" --out o

{ printf 'sentence\tlabel\n'; for i in $(seq 12); do printf 'good %d\t1\n' "$i"; done; } >"$work/one.tsv"
expect 2 "--train '$work/one.tsv': every training example is of class '1'" "${llama[@]}" --train "$work/one.tsv" \
  --eval "$shared/data/sst2/dev.tsv" "${small[@]}" --out o

# --resume where there is no run: says so, creates nothing.
expect 2 "'$work/none' holds no run (no run.json)" "${llama[@]}" "${data[@]}" "${small[@]}" --resume --out "$work/none"
if [ -e "$work/none" ]; then echo "FAIL: --resume created $work/none"; fails=$((fails + 1)); fi

# The ../shared defaults, run from another folder: a hint that they are relative to the current one.
expect 2 "--model '../shared/models/all-MiniLM-L6-v2' does not exist (the default paths are relative to the current folder" --steps 1 --out o
expect 2 "--tokenizer '../shared/models/stories260K/tok512.bin' does not exist (the default paths are relative" --model "$m260" "${data[@]}" "${small[@]}" --out o
expect 2 "--train '../shared/data/sst2/train.tsv' does not exist (the default paths are relative" "${llama[@]}" "${small[@]}" --out o

# A write that fails after training started (a file-size limit standing in for a full disk): the error names the file
# and errno, on a line of its own (not after the progress bar).
prefix=(bash -c 'trap "" XFSZ; ulimit -f 500; exec "$0" "$@"')
expect 2 "failed: File too large" "${llama[@]}" "${data[@]}" "${small[@]}" --steps 40 --checkpoint-every 5 --out "$work/full"
prefix=()
if ! grep -q "^zeroth-finetune: zeroth: writing '$work/full/checkpoint.next.bin' failed: File too large" "$last_log"; then
  echo "FAIL: the write error is not on a line of its own, naming the file: $(grep -a 'too large' "$last_log")"
  fails=$((fails + 1))
fi

# --k beyond what the data holds: said, with the counts.
{ printf 'sentence\tlabel\n'; for i in $(seq 10); do printf 'good %d\t1\n' "$i"; done; printf 'bad 1\t0\nbad 2\t0\n'; } >"$work/few.tsv"
expect 0 "warning: --k 8 is more than the training data has of some classes: training on 10 examples (0: 2, 1: 8)" \
  "${llama[@]}" --train "$work/few.tsv" --eval "$shared/data/sst2/dev.tsv" --k 8 --batch 4 --eval-examples 4 --steps 2 \
  --eval-every 0 --out "$work/few"

# Collapse: at lr 1 both models fall to equal scores within a few steps. Before: "done (reached max_steps)", exit 0.
collapsed() {  # name, then options
  local name=$1
  shift
  expect 3 "warning: collapsed: the loss stayed within 0.002 of chance (0.693147" "$@" "${data[@]}" --k 8 --batch 4 --eval-examples 8 --eval-every 0 --lr 1 --steps 300 \
    --collapse-steps 10 --out "$work/$name"
  if ! python3 - "$work/$name/summary.json" <<'PY'; then
import json, sys
s = json.load(open(sys.argv[1]))
assert s["status"] == "collapsed", s["status"]
assert s["steps"] < 300, s["steps"]
assert any(w.startswith("collapsed: ") for w in s["warnings"]), s["warnings"]
assert "no longer responds to its parameters" in s["message"], s["message"]
PY
    echo "FAIL: $name: summary.json does not report the collapse"
    fails=$((fails + 1))
  fi
  grep -F "warning: collapsed:" "$last_log" | head -1
}
collapsed llama2c "${llama[@]}"
collapsed bert --model "$shared/models/all-MiniLM-L6-v2"
# ... and a healthy run is not flagged.
expect 0 'done (reached max_steps = 30)' "${llama[@]}" "${data[@]}" "${small[@]}" --steps 30 --collapse-steps 10 --out "$work/healthy"
if ! grep -q '"status": "ok"' "$work/healthy/summary.json" || ! grep -q '"warnings": \[\]' "$work/healthy/summary.json"; then
  echo "FAIL: a healthy run's summary.json"; fails=$((fails + 1))
fi

# --lr-scheduler linear --warmup-steps 2 over 6 steps: metrics.jsonl's lr ramps up to --lr (1/3, 2/3 of it), then
# decays to 0 at the last step; an unknown scheduler is refused naming the choices.
expect 0 "done (reached max_steps = 6)" "${llama[@]}" "${data[@]}" "${small[@]}" --steps 6 --lr 3e-4 \
  --lr-scheduler linear --warmup-steps 2 --out "$work/sched"
lrs=$(grep -o '"lr":[^,]*' "$work/sched/metrics.jsonl" | cut -d: -f2 | tr '\n' ' ')
if [ "$lrs" != "0.0001 0.0002 0.0003 0.0002 0.0001 0 " ]; then
  echo "FAIL: --lr-scheduler linear --warmup-steps 2: metrics.jsonl's lr per step is '$lrs'"; fails=$((fails + 1))
fi
expect 105 "--lr-scheduler: step not in {constant,linear,cosine}" "${llama[@]}" --lr-scheduler step --out o

# --backend torch and the first-order methods: told where they do not apply; a short LOMO run writes its files.
bert=(--model "$shared/models/all-MiniLM-L6-v2")
expect 2 "runs BERT model folders" "${llama[@]}" --method lomo "${small[@]}" --out o
if ! grep -q '^ZEROTH_WITH_TORCH:BOOL=ON' "$1/CMakeCache.txt"; then
  expect 2 "this zeroth-finetune was built without LibTorch" "${bert[@]}" --method lomo "${small[@]}" --out o
else
  expect 2 "--method lomo back-propagates: add --backend torch" "${bert[@]}" --method lomo "${small[@]}" --out o
  expect 2 "--objective accuracy has no gradient" "${bert[@]}" "${data[@]}" --backend torch --method adalomo --objective accuracy "${small[@]}" --out "$work/acc"
  expect 2 "--lr-scheduler / --warmup-steps apply to the ZO methods, not --method lomo" "${bert[@]}" "${data[@]}" \
    --backend torch --method lomo --lr-scheduler cosine "${small[@]}" --out "$work/fosched"
  # --resume continues a first-order run bit for bit: killed with SIGKILL once it holds a checkpoint, then resumed,
  # it ends with the uninterrupted run's model, evaluations and losses (each method's state in the checkpoint).
  fo_resume() {
    local method=$1 log="$work/$1-kill.log"
    shift
    local args=("${bert[@]}" "${data[@]}" --backend torch --method "$method" --k 8 --batch 4 --eval-examples 8
                --steps 8 --eval-every 2 --checkpoint-every 2 "$@")
    n=$((n + 1))
    if ! "$exe" "${args[@]}" --out "$work/$method-ref" >"$work/$method-ref.log" 2>&1; then
      echo "FAIL: $method: the uninterrupted run"; tail -5 "$work/$method-ref.log"; fails=$((fails + 1)); return
    fi
    "$exe" "${args[@]}" --out "$work/$method-kill" >"$log" 2>&1 &
    local pid=$!
    while kill -0 "$pid" 2>/dev/null && [ ! -e "$work/$method-kill/checkpoint.json" ]; do sleep 0.02; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if [ -e "$work/$method-kill/summary.json" ]; then
      echo "FAIL: $method: the run ended before it was killed"; fails=$((fails + 1)); return
    fi
    if ! "$exe" "${args[@]}" --out "$work/$method-kill" --resume >>"$log" 2>&1 || ! grep -q "resuming at step" "$log"; then
      echo "FAIL: $method: the resumed run"; tail -5 "$log"; fails=$((fails + 1)); return
    fi
    local bad=""
    cmp -s "$work/$method-ref/model/model.safetensors" "$work/$method-kill/model/model.safetensors" || bad="$bad model"
    cmp -s "$work/$method-ref/eval.jsonl" "$work/$method-kill/eval.jsonl" || bad="$bad eval.jsonl"
    losses() { grep -o '"step":[0-9]*,"loss":[^,]*' "$1" | tr '\n' ' '; }
    [ "$(losses "$work/$method-ref/metrics.jsonl")" = "$(losses "$work/$method-kill/metrics.jsonl")" ] || bad="$bad losses"
    [ "$(grep -c '"step"' "$work/$method-kill/metrics.jsonl")" = 8 ] || bad="$bad metrics.jsonl-steps"
    if [ -n "$bad" ]; then
      echo "FAIL: $method killed at $(grep -o 'resuming at step [0-9]*' "$log") differs from the uninterrupted run:$bad"
      fails=$((fails + 1))
    else
      echo "ok: $method killed, $(grep -o 'resuming at step [0-9]*' "$log"): the uninterrupted run's model and logs"
    fi
  }
  fo_resume fo-adamw --lr 1e-4
  fo_resume adalomo --lr 1e-3
  fo_resume hybrid --lr 1e-3 --lr-zo 1e-5
  expect 0 'done (reached max_steps = 2)' "${bert[@]}" "${data[@]}" --backend torch --method lomo --lr 1e-5 "${small[@]}" --steps 2 --out "$work/lomo"
  if ! grep -q '"status": "ok"' "$work/lomo/summary.json" || [ ! -f "$work/lomo/model/model.safetensors" ]; then
    echo "FAIL: a LOMO run's summary.json or model folder"; fails=$((fails + 1))
  fi
fi

echo "$((n - fails)) passed, $fails failed"
[ "$fails" = 0 ]
