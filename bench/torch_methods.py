#!/usr/bin/python3
"""First-order against zeroth-order on the encoder task (issue 14): zeroth-finetune --backend torch with LOMO,
AdaLomo, hybrid ZO/FO (two splits), FO-SGD, FO-AdamW, ZO-SGD and ZO-Adam on all-MiniLM-L6-v2 and SST-2, and ZO-SGD on
the Eigen backend beside LibTorch's, at each batch size and seed, one process per run (so that the peak RSS is the
method's own). Prints one Markdown table: peak RSS, ms/step (median over seeds, training only: the held-out
evaluations are excluded), held-out accuracy after the same number of steps N, and after the same training time:
the time the budget method (--budget-method, FO-AdamW: MeZO's fine-tuning baseline) takes for N steps. A method
faster than that runs on past N steps until its training time reaches the budget (its ms/step estimated from its
run at the previous seed, or from an earlier invocation's runs.json; without one it runs N steps first and, where
that falls short of the budget, again for longer: the same seed retraces the same steps, as the learning rate is
constant); a slower one is read at its last evaluation within the budget. Min-max over the seeds in brackets. Also
prints LibTorch's GEMM GFLOP/s at the same thread count.

    python3 bench/torch_methods.py [build_dir=build] [--steps 200[,N64]] [--eval-every 50] [--batches 16,64]
                                   [--seeds 3] [--threads 2] [--k 64] [--eval-examples 512] [--methods lomo,...]

--steps takes one N, or one per batch size. Needs a build with LibTorch (Debian libtorch-dev; CMake finds it) and
python3-torch for the GEMM figure. Runs go to <build_dir>/torch_methods/; every run is written with
OMP_WAIT_POLICY=PASSIVE (LibTorch's and the sweeps' OpenMP threads would otherwise spin against OpenBLAS's on a
small machine).
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


def run(exe, out, name, batch, seed, steps, a):
    backend, method, lr, extra = METHODS[name]
    cmd = [exe, "--backend", backend, "--method", method, "--lr", str(lr), "--batch", str(batch), "--seed", str(seed),
           "--steps", str(steps), "--eval-every", str(a.eval_every), "--k", str(a.k), "--eval-examples",
           str(a.eval_examples), "--threads", str(a.threads), "--collapse-steps", "0", "--checkpoint-every", "1000000", "--out", out,
           "--overwrite"] + extra
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
    print("  %-24s batch %3d seed %d: %4d steps, %.0f s, acc %.3f" % (name, batch, seed, steps, time.time() - t,
                                                                   summary["after"]["accuracy"]), flush=True)
    return {"name": name, "batch": batch, "seed": seed, "steps": steps, "rss": summary["peak_rss_mib"], "evals": evals,
            "train_ms": summary.get("train_ms_per_step"),
            "train_seconds": evals[-1]["train_seconds"], "after": summary["after"]["accuracy"],
            "before": summary["before"]["accuracy"]}


def spread(values, fmt):
    m = statistics.median(values)
    if len(values) == 1:
        return fmt % m
    return (fmt + " (" + fmt + "-" + fmt + ")") % (m, min(values), max(values))


def accuracy_at(r, step):
    """The held-out accuracy of run r at `step` (an evaluation there must exist)."""
    for e in r["evals"]:
        if e["step"] == step:
            return e["eval_accuracy"]
    raise SystemExit("%s batch %d seed %d has no evaluation at step %d (--eval-every must divide --steps)" % (
        r["name"], r["batch"], r["seed"], step))


def within(r, budget):
    """The last evaluation of run r within `budget` seconds of training (1% slack for the timing's noise)."""
    return [e for e in r["evals"] if e["train_seconds"] <= budget * 1.01][-1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build", nargs="?", default="build")
    p.add_argument("--steps", default="200", help="N, or one N per batch size (comma-separated)")
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--batches", default="16,64")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--k", type=int, default=64)
    p.add_argument("--eval-examples", type=int, default=512)
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--budget-method", default="FO-AdamW")
    p.add_argument("--no-run", action="store_true", help="print the table of <build_dir>/torch_methods/runs.json "
                   "(the runs of every invocation so far: a run replaces the one of the same method, batch and seed)")
    a = p.parse_args()
    exe = os.path.join(a.build, "examples", "zeroth-finetune")
    root = os.path.join(a.build, "torch_methods")
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, "runs.json")
    names = [m for m in a.methods.split(",") if m]
    for m in names + [a.budget_method]:
        if m not in METHODS:
            raise SystemExit("unknown method %r (one of: %s)" % (m, ", ".join(METHODS)))
    names = [a.budget_method] + [m for m in names if m != a.budget_method]  # the budget first
    earlier = json.load(open(path)) if os.path.exists(path) else []
    if a.no_run:  # every batch size the runs have, each with its N
        batches = sorted({r["batch"] for r in earlier})
        steps_of = {b: min(r["n"] for r in earlier if r["batch"] == b) for b in batches}
    else:
        batches = [int(b) for b in a.batches.split(",")]
        ns = [int(n) for n in a.steps.split(",")]
        if len(ns) not in (1, len(batches)):
            raise SystemExit("--steps: one N, or one per batch size (%d)" % len(batches))
        steps_of = {b: ns[0] if len(ns) == 1 else ns[i] for i, b in enumerate(batches)}
        for b, n in steps_of.items():
            if n % a.eval_every:
                raise SystemExit("--eval-every %d must divide --steps %d" % (a.eval_every, n))
    gflops = gemm_gflops(a.threads)
    runs = earlier if a.no_run else []
    if not a.no_run:
        def ms_estimate(name, batch):
            mine = [r for r in runs if r["name"] == name and r["batch"] == batch]
            old = [r for r in earlier if r["name"] == name and r["batch"] == batch and r.get("train_ms")]
            pick = mine[-1:] or old[-1:]
            return pick[0]["train_ms"] if pick else None

        for batch in batches:
            n = steps_of[batch]
            for seed in range(a.first_seed, a.first_seed + a.seeds):
                budget = None
                for name in names:
                    out = os.path.join(root, "%s_b%d_s%d" % ("".join(c if c.isalnum() else "_" for c in name), batch,
                                                             seed))
                    steps = n
                    if budget is not None and ms_estimate(name, batch):
                        steps = max(n, int(budget * 1000 / ms_estimate(name, batch)))
                    r = run(exe, out, name, batch, seed, steps, a)
                    if budget is None:
                        budget = r["train_seconds"] * n / r["steps"]
                    elif r["train_seconds"] < budget * 0.95:  # fell short of the budget: again, long enough
                        r = run(exe, out, name, batch, seed, max(n, int(budget * 1000 / r["train_ms"])), a)
                    r["n"], r["budget"] = n, budget
                    runs.append(r)
        done = {(r["name"], r["batch"], r["seed"]) for r in runs}
        runs = [r for r in earlier if (r["name"], r["batch"], r["seed"]) not in done and "n" in r] + runs
        json.dump(runs, open(path, "w"), indent=1)
    print("\nall-MiniLM-L6-v2 on SST-2 (k = %d per class, %d held-out examples), %d thread(s); LibTorch GEMM "
          "(512x384 by 384x1536) %.0f GFLOP/s; the training-time budget: %s's time for N steps; median (min-max) over "
          "the seeds\n" % (a.k, a.eval_examples, a.threads, gflops, a.budget_method))
    print("| method | batch | seeds | peak RSS (MiB) | ms/step | accuracy before | after N steps | after equal training "
          "time | steps in that time |")
    print("|---|---|---|---|---|---|---|---|---|")
    for batch in batches:
        group = [r for r in runs if r["batch"] == batch]
        n = steps_of[batch]
        budgets = [r["budget"] for r in group if r["name"] == a.budget_method]
        for name in names:
            rs = [r for r in group if r["name"] == name]
            if not rs:
                continue
            ms = [r["train_ms"] for r in rs]
            timed = [within(r, r["budget"]) for r in rs]
            print("| %s | %d | %d | %s | %s | %s | %s (N = %d) | %s (%.0f s) | %s |" % (
                name, batch, len(rs), spread([r["rss"] for r in rs], "%.0f"), spread(ms, "%.0f"),
                spread([r["before"] for r in rs], "%.3f"), spread([accuracy_at(r, n) for r in rs], "%.3f"), n,
                spread([e["eval_accuracy"] for e in timed], "%.3f"), statistics.median(budgets),
                spread([e["step"] for e in timed], "%.0f")))


if __name__ == "__main__":
    main()
