#!/usr/bin/env bash
# Regenerates the seed corpus of tests/fuzz: the files zeroth's own writers make (zeroth_fuzz_corpus, built by
# -DZEROTH_BUILD_FUZZERS=ON) and small slices of the real files in ../shared. Crash regressions (crash-*) are kept.
#   scripts/gen_fuzz_corpus.sh build-fuzz [../shared]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: $0 BUILD_DIR [SHARED_DIR]}
shared=${2:-../shared}
corpus=tests/fuzz/corpus
find "$corpus" -type f ! -name 'crash-*' -delete 2>/dev/null || true
"$build/tests/fuzz/zeroth_fuzz_corpus" "$corpus"

models=$shared/models data=$shared/data
mkdir -p "$corpus"/{llama2c_checkpoint,llama2c_tokenizer,bert_config,wordpiece,data,task_data}
# llama2.c: the real tokenizer; the real checkpoints' headers (1 MB each whole, so only their first bytes: a truncation)
cp "$models/stories260K/tok512.bin" "$corpus/llama2c_tokenizer/tok512.bin"
head -c 64 "$models/stories260K/stories260K.bin" >"$corpus/llama2c_checkpoint/stories260K_head.bin"
head -c 320 "$models/stories260K/stories260K_v1.bin" >"$corpus/llama2c_checkpoint/stories260K_v1_head.bin"
# BERT folder: its JSON files as they are.
minilm=$models/all-MiniLM-L6-v2
cp "$minilm/config.json" "$corpus/bert_config/config.json"
cp "$minilm/1_Pooling/config.json" "$corpus/bert_config/pooling.json"
cp "$minilm/modules.json" "$corpus/bert_config/modules.json"
# vocab.txt (a 'V' then the first and some later lines) and texts for the real tokenizer.
{ printf V; head -n 1200 "$minilm/vocab.txt"; } >"$corpus/wordpiece/vocab_head.txt"
{ printf V; sed -n '1,5p;2000,2100p;29600,29700p' "$minilm/vocab.txt"; } >"$corpus/wordpiece/vocab_slice.txt"
head -c 2000 tests/fixtures/wordpiece/edge_cases.jsonl >"$corpus/wordpiece/edge_cases.txt"
head -n 3 "$data/sst2/dev.tsv" | tail -n 2 | cut -f1 >"$corpus/wordpiece/sst2.txt"
# Data rows: SST-2 in both layouts, and a few records of each SuperGLUE/FewGLUE task.
head -n 12 "$data/sst2/train.tsv" >"$corpus/data/sst2_train.tsv"
head -n 8 "$data/sst2/test.tsv" >"$corpus/data/sst2_test.tsv"
head -n 6 "$data/sst2-full/dev.tsv" >"$corpus/data/sst2_full_dev.tsv"
for task in RTE CB; do head -n 3 "$data/superglue/$task/val.jsonl" >"$corpus/data/${task,,}_val.jsonl"; done
head -n 3 "$data/superglue/CB/test.jsonl" >"$corpus/data/cb_test.jsonl"
for task in BoolQ COPA; do head -n 3 "$data/fewglue/$task/train.jsonl" >"$corpus/data/${task,,}_train.jsonl"; done
# Data read through task specs (tsv, label_text and jsonl files).
cp "$corpus"/data/{sst2_train.tsv,sst2_test.tsv,rte_val.jsonl,cb_val.jsonl} "$corpus/task_data/"
printf 'premise\thypothesis\tlabel\nA man sleeps.\tA man is awake.\t0\nIt rains.\tThe ground is wet.\t1\n' \
  >"$corpus/task_data/pairs.tsv"
printf 'premise,hypothesis,label\n"A man, asleep.",A man is awake.,0\n"It ""rains"".",The ground is wet.,1\n' \
  >"$corpus/task_data/pairs.csv"
du -sh "$corpus"
