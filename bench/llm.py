#!/usr/bin/env python3
"""LLM fine-tuning costs side by side, one table:
  (a) ZO-SGD step time over the time of its two forward passes (target: overhead <= 10%),
  (b) peak RSS of ZO-SGD over plain inference at the same batch (target <= 1.1x),
  (c) zeroth-finetune against the MeZO peer in PyTorch (../shared/peers/peer_llama.py) on the same checkpoint,
      task (SST-2 prompts), k and batch: step time and peak memory ratios (target >= 3x faster).
at stories260K and at a randomly initialised model of stories15M's shape (random weights, labelled "random15M").

    python3 bench/llm.py [build_dir=build] [--threads 2]"""
import os, re, statistics, subprocess, sys

build = next((a for a in sys.argv[1:] if not a.startswith("--") and not a.isdigit()), "build")
threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "2"
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
shared = os.path.join(root, "..", "shared")
m260 = os.path.join(shared, "models", "stories260K", "stories260K.bin")
tok = os.path.join(shared, "models", "stories260K", "tok512.bin")

def kv(line):
    return dict(x.split("=", 1) for x in line.split() if "=" in x)

def bench(model, mode, steps):
    out = subprocess.run([os.path.join(build, "bench", "llm_bench"), model, mode, str(steps), "16", "32", threads],
                         check=True, capture_output=True, text=True).stdout
    return kv(out.strip().splitlines()[-1])

print(f"{'model':<12} {'params':>9} | {'2 fwd ms':>9} {'step ms':>8} {'overhead':>8} | {'inf MiB':>8} "
      f"{'ZO-SGD':>7} {'ratio':>6} {'ZO-Adam':>8} {'ratio':>6} {'HiZOO':>7} {'ratio':>6}")
for name, model, steps in (("stories260K", m260, 30), ("random15M", "random15M", 16)):
    # (a) two forward passes and a step alternated in one process (the machine's speed drifts between processes)
    runs = [bench(model, "overhead", steps) for _ in range(3)]
    med = lambda key: statistics.median(float(r[key]) for r in runs)
    f_ms, z_ms, ratio, params = med("forward_ms"), med("step_ms"), med("ratio"), runs[0]["params"]
    # (b) peak RSS, one process per configuration
    f_rss, z_rss, a_rss, h_rss = (float(bench(model, mode, 3)["peak_rss_mib"])
                                  for mode in ("forward", "zosgd", "adam", "hizoo"))
    print(f"{name:<12} {params:>9} | {f_ms:9.2f} {z_ms:8.2f} {100 * (ratio - 1):7.1f}% | "
          f"{f_rss:8.1f} {z_rss:7.1f} {z_rss / f_rss:6.3f} {a_rss:8.1f} {a_rss / f_rss:6.3f} {h_rss:7.1f} "
          f"{h_rss / f_rss:6.3f}")
print("time: two forward passes and one step alternated in a process, medians over its steps, then the median of 3\n"
      "processes; overhead: the median of step / (2 forward) - 1 over those pairs; memory: peak RSS of the whole "
      "process")

# (c) against the peer on SST-2 prompts, k=16 per class, batch 16, 20 steps, 50 held-out examples.
steps = "20"
blas = subprocess.run(["update-alternatives", "--query", "libblas.so.3-x86_64-linux-gnu"], capture_output=True,
                      text=True).stdout
if "openblas" not in next((l for l in blas.splitlines() if l.startswith("Value:")), ""):
    sys.exit("the peer needs OpenBLAS (apt-get install libopenblas0-pthread): Debian's python3-torch otherwise runs "
             "the reference BLAS, and its ratios are void")
ours = subprocess.run([os.path.join(build, "examples", "zeroth-finetune"), "--model", m260, "--tokenizer", tok,
                       "--overwrite", "--task", "sst2", "--k", "16", "--batch",
                       "16", "--steps", steps, "--eval-every", "0", "--eval-examples", "50", "--threads", threads,
                       "--lr", "1e-4", "--out", os.path.join(build, "bench-llm-run")],
                      check=True, capture_output=True, text=True, cwd=root).stdout
m = re.search(r"([\d.]+) ms/step, peak RSS ([\d.]+) MiB", ours)
o_ms, o_rss = float(m.group(1)), float(m.group(2))
peer = subprocess.run(["/usr/bin/python3", os.path.join(shared, "peers", "peer_llama.py"), m260, tok,
                       os.path.join(shared, "data", "sst2"), "--steps", steps, "--k", "16", "--bs", "16", "--lr", "1e-4",
                       "--threads", threads, "--test", "50"], check=True, capture_output=True, text=True,
                      env=dict(os.environ, OPENBLAS_NUM_THREADS="1")).stdout
m = re.search(r"([\d.]+) ms/step \| peak RSS (\d+) MiB", peer)
p_ms, p_rss = float(m.group(1)), float(m.group(2))
print(f"\nSST-2 prompts, stories260K, k=16, batch 16, {steps} steps, {threads} threads:")
print(f"{'':<10} {'ms/step':>8} {'peak MiB':>9}")
print(f"{'zeroth':<10} {o_ms:8.1f} {o_rss:9.1f}")
print(f"{'peer':<10} {p_ms:8.1f} {p_rss:9.1f}")
print(f"{'ratio':<10} {p_ms / o_ms:7.1f}x {p_rss / o_rss:8.1f}x   (peer / zeroth)")
