#!/usr/bin/python3
"""First-order against zeroth-order on the encoder task (issue 14): zeroth-finetune --backend torch with LOMO,
AdaLomo, hybrid ZO/FO (two splits), FO-SGD, FO-AdamW, ZO-SGD and ZO-Adam on all-MiniLM-L6-v2 and SST-2, and ZO-SGD on
the Eigen backend beside LibTorch's, at each batch size and seed, one process per run (so that the peak RSS is the
method's own). Prints one Markdown table: peak RSS, ms/step (median over seeds, training only: the held-out
evaluations are excluded), held-out accuracy after the same number of steps, and after the same training time (the
last evaluation within the shortest run's training time), with min-max over the seeds. Also prints LibTorch's GEMM
GFLOP/s at the same thread count.

    python3 bench/torch_methods.py [build_dir=build] [--steps 200] [--eval-every 50] [--batches 16,64] [--seeds 3]
                                   [--threads 2] [--k 64] [--eval-examples 512] [--methods lomo,fo-adamw,...]

Needs a build with LibTorch (Debian libtorch-dev; CMake finds it) and python3-torch for the GEMM figure. Runs go to
<build_dir>/torch_methods/; every run is written with OMP_WAIT_POLICY=PASSIVE (LibTorch's and the sweeps' OpenMP
threads would otherwise spin against OpenBLAS's on a small machine).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# name -> (backend, method, learning rate, extra flags)
METHODS = {
    "ZO-SGD (Eigen)": ("eigen", "zosgd", 3e-5, []),
    "ZO-SGD": ("torch", "zosgd", 3e-5, []),
    "ZO-Adam": ("torch", "adam", 1e-5, []),
    "LOMO": ("torch", "lomo", 1e-3, []),
    "AdaLomo": ("torch", "adalomo", 1e-3, []),
    "hybrid (ZO layers 0-2)": ("torch", "hybrid", 1e-3, ["--lr-zo", "3e-5",
                                                        "--hybrid-zo", "^embeddings\\.|^encoder\\.layer\\.[0-2]\\."]),
    "hybrid (ZO layers 0-4)": ("torch", "hybrid", 1e-3, ["--lr-zo", "3e-5",
                                                        "--hybrid-zo", "^embeddings\\.|^encoder\\.layer\\.[0-4]\\."]),
    "FO-SGD": ("torch", "fo-sgd", 1e-3, []),
    "FO-AdamW": ("torch", "fo-adamw", 2e-5, []),
}


def gemm_gflops(threads):
    code = ("import torch,time\ntorch.set_num_threads(%d)\na=torch.randn(512,384);b=torch.randn(384,1536)\n"
            "[a@b for _ in range(5)]\nt=time.perf_counter()\n[a@b for _ in range(50)]\n"
            "print(2*512*384*1536*50/(time.perf_counter()-t)/1e9)" % threads)
    try:
        return float(subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True,
                                    check=True).stdout)
    except Exception as e:  # noqa: BLE001
        print("GEMM measurement failed:", e, file=sys.stderr)
        return float("nan")


def run(exe, out, name, batch, seed, a):
    backend, method, lr, extra = METHODS[name]
    cmd = [exe, "--backend", backend, "--method", method, "--lr", str(lr), "--batch", str(batch), "--seed", str(seed),
           "--steps", str(a.steps), "--eval-every", str(a.eval_every), "--k", str(a.k), "--eval-examples",
           str(a.eval_examples), "--threads", str(a.threads), "--collapse-steps", "0", "--out", out, "--overwrite"] + extra
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS=str(a.threads))
    t = time.time()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stdout[-2000:], p.stderr[-2000:], file=sys.stderr)
        raise SystemExit("failed: " + " ".join(cmd))
    summary = json.load(open(os.path.join(out, "summary.json")))
    evals = [json.loads(line) for line in open(os.path.join(out, "eval.jsonl"))]
    for e in evals:  # the training time before each evaluation (the evaluations left out)
        e.setdefault("train_seconds", e["step"] * summary.get("train_ms_per_step", 0) / 1000)
    print("  %-24s batch %3d seed %d: %.0f s, acc %.3f" % (name, batch, seed, time.time() - t,
                                                        summary["after"]["accuracy"]), flush=True)
    return {"name": name, "batch": batch, "seed": seed, "rss": summary["peak_rss_mib"], "evals": evals,
            "train_ms": summary.get("train_ms_per_step"),
            "train_seconds": evals[-1]["train_seconds"], "after": summary["after"]["accuracy"],
            "before": summary["before"]["accuracy"]}


def spread(values, fmt):
    m = statistics.median(values)
    if len(values) == 1:
        return fmt % m
    return (fmt + " (" + fmt + "-" + fmt + ")") % (m, min(values), max(values))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build", nargs="?", default="build")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--batches", default="16,64")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--k", type=int, default=64)
    p.add_argument("--eval-examples", type=int, default=512)
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--no-run", action="store_true", help="print the table of <build_dir>/torch_methods/runs.json "
                   "(the runs of every invocation so far: a run replaces the one of the same method, batch and seed)")
    a = p.parse_args()
    exe = os.path.join(a.build, "examples", "zeroth-finetune")
    root = os.path.join(a.build, "torch_methods")
    os.makedirs(root, exist_ok=True)
    names = [m for m in a.methods.split(",") if m]
    for m in names:
        if m not in METHODS:
            raise SystemExit("unknown method %r (one of: %s)" % (m, ", ".join(METHODS)))
    batches = [int(b) for b in a.batches.split(",")]
    if a.no_run:  # every batch size the runs have
        batches = sorted({r["batch"] for r in json.load(open(os.path.join(root, "runs.json")))})
    gflops = gemm_gflops(a.threads)
    runs = []
    if a.no_run:
        runs = json.load(open(os.path.join(root, "runs.json")))
    else:
        for batch in batches:
            for seed in range(a.first_seed, a.first_seed + a.seeds):
                for name in names:
                    out = os.path.join(root, "%s_b%d_s%d" % ("".join(c if c.isalnum() else "_" for c in name), batch,
                                                             seed))
                    runs.append(run(exe, out, name, batch, seed, a))
        path = os.path.join(root, "runs.json")
        keep = []
        if os.path.exists(path):  # earlier invocations' runs (other seeds or batches)
            done = {(r["name"], r["batch"], r["seed"]) for r in runs}
            keep = [r for r in json.load(open(path)) if (r["name"], r["batch"], r["seed"]) not in done]
        runs = keep + runs
        json.dump(runs, open(path, "w"), indent=1)
    print("\nall-MiniLM-L6-v2 on SST-2 (k = %d per class, %d held-out examples), %d steps, %d thread(s); LibTorch GEMM "
          "(512x384 by 384x1536) %.0f GFLOP/s; median (min-max) over the seeds\n" % (a.k, a.eval_examples, a.steps,
                                                                                    a.threads, gflops))
    for batch in batches:
        group = [r for r in runs if r["batch"] == batch]
        budget = min(r["train_seconds"] for r in group)
        if batch == batches[0]:
            print("| method | batch | seeds | peak RSS (MiB) | ms/step | accuracy before | after %d steps | after "
                  "equal training time |" % a.steps)
            print("|---|---|---|---|---|---|---|---|")
        for name in names:
            rs = [r for r in group if r["name"] == name]
            ms = [r.get("train_ms") or 1000 * r["train_seconds"] / r["evals"][-1]["step"] for r in rs]
            timed = []
            for r in rs:
                within = [e for e in r["evals"] if e["train_seconds"] <= budget + 1e-9]
                timed.append(within[-1]["eval_accuracy"])
            print("| %s | %d | %d | %s | %s | %s | %s | %s (%.0f s) |" % (
                name, batch, len(rs), spread([r["rss"] for r in rs], "%.0f"), spread(ms, "%.0f"),
                spread([r["before"] for r in rs], "%.3f"), spread([r["after"] for r in rs], "%.3f"),
                spread(timed, "%.3f"), budget))


if __name__ == "__main__":
    main()
