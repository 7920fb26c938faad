#!/usr/bin/env python3
"""Held-out accuracy of fine-tuning stories260K with zeroth-finetune: zero-shot vs each method, per task, k and seed.
Prints one table (median and spread over seeds) and writes PNG plots of loss and accuracy against steps.

    python3 bench/accuracy.py [build_dir=build] [--tasks sst2,rte,cb,boolq,copa]
                              [--methods zosgd,hizoo,adam,lora,prefix] [--k 16,512] [--seeds 0,1,2] [--steps 1000]
                              [--eval-every 250] [--out bench-accuracy]

Methods: full-parameter ZO-SGD (MeZO), HiZOO and ZO-Adam; lora and prefix are ZO-SGD on LoRA adapters (rank 8 on
wq, wv) or on an 8-token prefix, base weights frozen. The evaluation budget of a run is steps x evaluations/step
(2 for RGE methods, 3 for HiZOO) forward passes on batches of 16 examples; held-out: the task's dev/val file (first
300 examples) or, for BoolQ and COPA which ship only 32 labelled FewGLUE examples, a third of them. k is per class
and only where the training file has enough examples (CB's 250, and FewGLUE's 32, allow k = 16 only). Methods take
their learning rates and epsilons from LR below: for zosgd and lora from earlier SST-2 runs, for hizoo, adam
and prefix the best of a few rates on SST-2, k = 512, seed 0 (the held-out set doubles as the tuning set there)."""
import json, os, statistics, subprocess, sys

def opt(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default

build = next((a for a in sys.argv[1:2] if not a.startswith("--")), "build")
tasks = opt("--tasks", "sst2,rte,cb,boolq,copa").split(",")
methods = opt("--methods", "zosgd,hizoo,adam,lora,prefix").split(",")
ks = [int(k) for k in opt("--k", "16,512").split(",")]
seeds = [int(s) for s in opt("--seeds", "0,1,2").split(",")]
steps, every, out = opt("--steps", "1000"), opt("--eval-every", "250"), opt("--out", "bench-accuracy")
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
exe = os.path.join(build, "examples", "zeroth-finetune")
LR = {"zosgd": ("1e-4", "1e-3"), "sign": ("1e-4", "1e-3"), "momentum": ("1e-5", "1e-3"), "adam": ("3e-5", "1e-3"),
      "factored": ("1e-4", "1e-3"), "hizoo": ("1e-3", "1e-3"), "lora": ("3e-4", "1e-2"), "prefix": ("1e-1", "1e-2")}
EXTRA = {"lora": ["--method", "zosgd", "--lora-rank", "8"], "prefix": ["--method", "zosgd", "--prefix-tokens", "8"]}
KMAX = {"cb": 16, "boolq": 16, "copa": 16}  # the largest k per class the training file allows
os.makedirs(out, exist_ok=True)

rows = {}  # (task, k, method) -> list of (before, after, curve)
for task in tasks:
    for k in ks:
        if k > KMAX.get(task, k):
            continue
        for method in methods:
            for seed in seeds:
                d = os.path.join(out, f"{task}-k{k}-{method}-s{seed}")
                lr, eps = LR[method]
                cmd = [exe, "--task", task, "--k", str(k), "--steps", steps, "--eval-every", every, "--lr", lr,
                       "--eps", eps, "--seed", str(seed), "--out", d] + EXTRA.get(method, ["--method", method])
                r = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
                if r.returncode not in (0, 1):
                    print(f"{task} k={k} {method} seed {seed}: failed: {r.stderr.strip().splitlines()[-1:]}")
                    continue
                evals = [json.loads(l) for l in open(os.path.join(d, "eval.jsonl"))]
                before = next(l for l in r.stdout.splitlines() if l.startswith("before"))
                acc0 = float(before.split("accuracy ")[1].rstrip("%")) / 100
                loss0 = float(before.split("loss ")[1].split()[0])
                acc1 = evals[-1]["eval_accuracy"] if evals else acc0
                evals = [{"step": 0, "eval_loss": loss0, "eval_accuracy": acc0}] + evals
                rows.setdefault((task, k, method), []).append((acc0, acc1, evals))

print(f"{'task':<6} {'k':>4} {'method':<9} | {'zero-shot':>9} {'after (median)':>14} {'min':>6} {'max':>6} | seeds")
for (task, k, method), runs in rows.items():
    after = [a for _, a, _ in runs]
    print(f"{task:<6} {k:>4} {method:<9} | {100 * runs[0][0]:8.1f}% {100 * statistics.median(after):13.1f}% "
          f"{100 * min(after):5.1f}% {100 * max(after):5.1f}% | {len(runs)}")
print(f"budget: {steps} steps per run, 2 forward passes per step (3 for hizoo), batch 16; lr, eps: " +
      ", ".join(f"{m} {LR[m][0]}, {LR[m][1]}" for m in methods))

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    for task in tasks:
        fig, ax = plt.subplots(1, 2, figsize=(10, 4))
        for n, ((t, k, method), runs) in enumerate(rows.items()):
            if t != task:
                continue
            for i, (_, _, evals) in enumerate(runs):  # one colour per method and k, one line per seed
                xs = [e["step"] for e in evals]
                label = f"{method} k={k}" if i == 0 else None
                ax[0].plot(xs, [e["eval_loss"] for e in evals], color=f"C{n}", label=label, alpha=0.7)
                ax[1].plot(xs, [e["eval_accuracy"] for e in evals], color=f"C{n}", label=label, alpha=0.7)
        ax[0].set(title=f"{task}: held-out loss", xlabel="step")
        ax[1].set(title=f"{task}: held-out accuracy", xlabel="step")
        ax[1].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(out, f"{task}.png"), dpi=100)
    print(f"plots: {out}/<task>.png")
except ImportError:
    print("python3-matplotlib is not installed: no plots")
