#!/usr/bin/env bash
# The whole fine-tune gives the same bits whatever the thread count: 20 steps of zeroth-finetune (forward passes and
# sweeps) under OMP_NUM_THREADS 1, 2, 3 and 4, and --threads 1 and 2, for the BERT folder and the llama2.c model;
# every run's checkpoint (weights and counters) and metrics must be identical.
#   finetune_threads.sh BUILD_DIR SHARED_DIR
set -euo pipefail
exe="$1/examples/zeroth-finetune"
shared="$2"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
check() {  # name, then the fine-tuner's options
  local name=$1 ref=""
  shift
  for run in "1 0" "2 0" "3 0" "4 0" "2 1" "2 2"; do
    read -r omp threads <<<"$run"
    out="$work/$name-$omp-$threads"
    OMP_NUM_THREADS=$omp OMP_WAIT_POLICY=PASSIVE "$exe" "$@" --threads "$threads" --steps 20 --eval-every 0 \
      --out "$out" >"$out.log" 2>&1 || { cat "$out.log"; exit 1; }
    sum=$(cat "$out/checkpoint.bin" <(grep -o '"loss":[^,]*' "$out/metrics.jsonl") | sha256sum | cut -c1-16)
    echo "$name OMP_NUM_THREADS=$omp --threads $threads: $sum"
    if [ -z "$ref" ]; then ref=$sum; elif [ "$sum" != "$ref" ]; then echo "FAIL: $name differs"; exit 1; fi
  done
}
check bert --model "$shared/models/all-MiniLM-L6-v2" --train "$shared/data/sst2/train.tsv" \
  --eval "$shared/data/sst2/dev.tsv" --k 8 --batch 8 --eval-examples 8 --lr 1e-4
check llama2c --model "$shared/models/stories260K/stories260K.bin" --tokenizer "$shared/models/stories260K/tok512.bin" \
  --train "$shared/data/sst2/train.tsv" --eval "$shared/data/sst2/dev.tsv" --k 64 --batch 16 --eval-examples 16
echo "same bits on every thread count"
