#!/usr/bin/env python3
"""Held-out accuracy of fine-tuning all-MiniLM-L6-v2 with zeroth-finetune, beside the PyTorch peer's first-order
reference (issue 10, deliverable 7c). One table (median, min and max over seeds) and one PNG per task and k.

    python3 bench/bert_accuracy.py [build_dir=build] [--tasks sst2:16,sst2:512,rte:16,cb:16]
        [--methods zosgd,bitfit,adam,hizoo,fzoo,lora,head,peer-fo,peer-probe] [--seeds 0,1,2] [--steps 1000]
        [--eval-every 250] [--eval-examples 0] [--threads 2] [--grid zosgd:1e-5,3e-5,1e-4] [--out bench-bert-accuracy]
        [--no-run]

Rows: zero-shot (the step-0 evaluation of every run: cosine to the label texts, or for pairs the similarity of the
two texts against 0.5); zosgd (MeZO), adam (ZO-Adam), hizoo, fzoo: the full encoder by ZO; bitfit: ZO-SGD on the
biases and LayerNorms alone (30,720 parameters, and for pairs their head; the main job's method); lora: ZO-SGD on rank-8
adapters of query and value; head: ZO-SGD on the linear head alone over frozen embeddings (the probe trained by
ZO; single texts only); peer-fo: the peer's AdamW with back-propagation on the whole encoder (the fine-tuning
reference); peer-probe: the peer's head on frozen embeddings fitted by AdamW for --probe-steps steps (the probe
"fitted to convergence"). The peer reads sentence<TAB>label files only, so its rows exist for SST-2 alone, and it
draws its own k examples per class (same k and seed number, another generator). Held-out sets: SST-2's dev.tsv (872;
--eval-examples N takes the first N) and the FewGLUE/SuperGLUE val files the presets name. k is per class.

LR below holds each method's (learning rate, epsilon): where they come from is said beside them; --grid m:a,b,c runs
method m at those rates on the first task and seed only and prints one line per rate (the held-out set doubles as the
tuning set: say so when quoting). --no-run re-reads the zeroth run folders under --out that finished (summary.json
written) and prints and plots them, running nothing. Needs the peer with OpenBLAS (bench/bert.py's check) for the peer rows.
"""
import json, os, statistics, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert import check_openblas  # noqa: E402  the peer runs only against OpenBLAS


def opt(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
build = next((a for a in sys.argv[1:2] if not a.startswith("--")), "build")
tasks = [(t.split(":")[0], int(t.split(":")[1]) if ":" in t else 16)
         for t in opt("--tasks", "sst2:16,sst2:512,rte:16,cb:16").split(",")]
methods = opt("--methods", "zosgd,bitfit,adam,hizoo,fzoo,lora,head,peer-fo,peer-probe").split(",")
seeds = [int(s) for s in opt("--seeds", "0,1,2").split(",")]
steps, every = int(opt("--steps", "1000")), int(opt("--eval-every", "250"))
eval_examples, threads = int(opt("--eval-examples", "0")), int(opt("--threads", "2"))
probe_steps = int(opt("--probe-steps", "2000"))
out = opt("--out", "bench-bert-accuracy")
exe = os.path.join(build, "examples", "zeroth-finetune")

# (lr, eps). zosgd: the README's full-encoder grid (1e-4 collapses after 250 steps, 3e-5 best at k = 512); bitfit:
# the main job's (1e-3 of 1e-3, 3e-3, 1e-2 at k = 512, seed 0, 400 steps); adam: the best of --grid
# adam:1e-5,3e-5,1e-4,3e-4 and hizoo: of 1e-4,1e-3,1e-2 on SST-2, k = 512, seed 0, 500 steps (the largest tried, both);
# lora: the best of a few rates at k = 512, seed 0, 250 steps; the others are starting points for --grid.
LR = {"zosgd": (3e-5, 1e-3), "bitfit": (1e-3, 1e-3), "adam": (3e-4, 1e-3), "hizoo": (1e-2, 1e-3), "fzoo": (1e-6, 1e-3),
      "lora": (1e-3, 1e-2), "head": (1e-2, 1e-3), "peer-fo": (3e-5, 0), "peer-probe": (1e-3, 0)}
EXTRA = {"zosgd": ["--method", "zosgd"], "bitfit": ["--method", "zosgd", "--train-only", "bias,LayerNorm,pair_head"],
         "adam": ["--method", "adam"], "hizoo": ["--method", "hizoo"],
         "fzoo": ["--method", "fzoo", "--directions", "8", "--direction", "rademacher"],
         "lora": ["--method", "zosgd", "--lora-rank", "8", "--lora-targets", "query,value"],
         "head": ["--method", "zosgd", "--tune", "head"]}


def zeroth_run(task, k, method, seed, lr, eps, tag):
    d = os.path.join(out, f"{task}-k{k}-{method}-{tag}s{seed}")
    cmd = [exe, "--task", task, "--k", str(k), "--steps", str(steps), "--eval-every", str(every), "--lr", str(lr),
           "--eps", str(eps), "--seed", str(seed), "--threads", str(threads), "--eval-examples", str(eval_examples),
           "--checkpoint-every", str(steps), "--out", d, "--overwrite"] + EXTRA[method]
    if "--no-run" in sys.argv:  # re-read the run folders a previous (perhaps interrupted) run left
        f = os.path.join(d, "summary.json")
        if not os.path.exists(f):
            return None
        return [(e["step"], e["eval_loss"], e["eval_accuracy"]) for e in map(json.loads, open(os.path.join(d, "eval.jsonl")))]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                       env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    if r.returncode != 0:
        print(f"{task} k={k} {method} seed {seed}: exit {r.returncode}: {r.stderr.strip().splitlines()[-1:]}")
        return None
    curve = [json.loads(l) for l in open(os.path.join(d, "eval.jsonl"))]
    return [(e["step"], e["eval_loss"], e["eval_accuracy"]) for e in curve]


def peer_run(task, k, method, seed, lr):
    if task != "sst2" or "--no-run" in sys.argv:  # the peer's curves are not kept in folders
        return None
    mode = "fo" if method == "peer-fo" else "probe"
    n = steps if mode == "fo" else probe_steps
    cmd = ["/usr/bin/python3", os.path.join(SHARED, "peers", "peer_bert.py"), "--model-dir",
           os.path.join(SHARED, "models", "all-MiniLM-L6-v2"), "--data", os.path.join(SHARED, "data", "sst2"),
           "--k", str(k), "--steps", str(n), "--lr", str(lr), "--mode", mode, "--threads", str(threads), "--seed",
           str(seed), "--eval-every", str(every if mode == "fo" else n // 4), "--eval", str(eval_examples or 872)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    if r.returncode != 0:
        print(f"peer {mode} k={k} seed {seed}: exit {r.returncode}: {r.stderr.strip().splitlines()[-1:]}")
        return None
    curve = []
    for line in r.stdout.splitlines():  # "zero-shot: held-out loss L accuracy A% ...", "step S: ...", final JSON
        if line.startswith("zero-shot:") or line.startswith("step "):
            s = 0 if line.startswith("zero-shot") else int(line.split()[1].rstrip(":"))
            loss, acc = float(line.split("loss ")[1].split()[0]), float(line.split("accuracy ")[1].split("%")[0])
            curve.append((s, loss, acc / 100))
    final = json.loads(r.stdout.strip().splitlines()[-1])
    curve.append((n, final["loss"], final["acc"]))
    return curve


def run(task, k, method, seed, lr, eps, tag=""):
    if method.startswith("peer-"):
        return peer_run(task, k, method, seed, lr)
    if method == "head" and task != "sst2":
        return None  # pairs have no linear head over one embedding (their affine map trains with the encoder)
    return zeroth_run(task, k, method, seed, lr, eps, tag)


def main():
    os.makedirs(out, exist_ok=True)
    if any(m.startswith("peer-") for m in methods):
        print(f"peer: libblas.so.3 = {check_openblas()}, OPENBLAS_NUM_THREADS=1, torch threads {threads}")
    if "--grid" in sys.argv:
        method, rates = opt("--grid", "").split(":")
        task, k = tasks[0]
        for lr in rates.split(","):
            c = run(task, k, method, seeds[0], float(lr), LR[method][1], tag=f"lr{lr}-")
            if c:
                print(f"grid {task} k={k} {method} lr {lr}: " +
                      " ".join(f"{s}:{100 * a:.1f}%" for s, _, a in c), flush=True)
        return
    rows = {}
    for task, k in tasks:
        for method in methods:
            for seed in seeds:
                c = run(task, k, method, seed, *LR[method])
                if c:
                    rows.setdefault((task, k, method), []).append(c)
                    print(f"{task} k={k} {method} seed {seed}: {100 * c[0][2]:.1f}% -> {100 * c[-1][2]:.1f}%",
                          flush=True)
    print(f"\n{'task':<5} {'k':>4} {'method':<10} | {'zero-shot':>9} {'median':>7} {'min':>6} {'max':>6} | seeds")
    for (task, k, method), runs in rows.items():
        after = [c[-1][2] for c in runs]
        print(f"{task:<5} {k:>4} {method:<10} | {100 * runs[0][0][2]:8.1f}% {100 * statistics.median(after):6.1f}% "
              f"{100 * min(after):5.1f}% {100 * max(after):5.1f}% | {len(runs)}")
    print(f"budget: {steps} steps, batch 16, {threads} threads; held-out: "
          f"{'first ' + str(eval_examples) if eval_examples else 'all'} examples of the dev/val file; (lr, eps): " +
          ", ".join(f"{m} {LR[m]}" for m in methods))
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump([{"task": t, "k": k, "method": m, "curves": r} for (t, k, m), r in rows.items()], f)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("python3-matplotlib is not installed: no plots")
        return
    for task, k in tasks:
        fig, ax = plt.subplots(1, 2, figsize=(10, 4))
        for n, method in enumerate(methods):
            for i, c in enumerate(rows.get((task, k, method), [])):  # one colour per method, one line per seed
                xs = [s for s, _, _ in c]
                ax[0].plot(xs, [l for _, l, _ in c], color=f"C{n}", label=method if i == 0 else None, alpha=0.7)
                ax[1].plot(xs, [a for _, _, a in c], color=f"C{n}", label=method if i == 0 else None, alpha=0.7)
        ax[0].set(title=f"{task} k={k}: held-out loss", xlabel="step")
        ax[1].set(title=f"{task} k={k}: held-out accuracy", xlabel="step")
        ax[1].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(out, f"{task}-k{k}.png"), dpi=100)
    print(f"plots: {out}/<task>-k<k>.png")


if __name__ == "__main__":
    main()
