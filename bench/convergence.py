#!/usr/bin/python3
"""Convergence benchmark (issue 3): runs build/bench/convergence_bench on each problem (two at a time), prints one
Markdown table of evaluations and steps to reach each problem's target (median and min-max over the seeds, with the
tuned learning rate), state bytes per parameter, NLopt's derivative-free optimizers beside, and draws PNG convergence
plots (measured objective against evaluations, median over seeds, one panel per problem).

    python3 bench/convergence.py [build_dir=build] [--data ../shared/data/sst2] [--seeds 5] [--jobs 2]

Needs Debian's python3-matplotlib (for the plots; /usr/bin/python3) and a build with -DZEROTH_BUILD_BENCHMARKS=ON and
libnlopt-cxx-dev installed. The JSON lines and the PNG go to <build_dir>/convergence/.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

PROBLEMS = ["quad", "accuracy", "logistic", "quad100", "rosenbrock"]  # longest first: two run at a time
TITLES = {
    "quad": "quadratic, d = 10^4",
    "quad100": "quadratic, d = 100",
    "rosenbrock": "Rosenbrock, d = 10",
    "logistic": "logistic regression, SST-2",
    "accuracy": "1 - accuracy, SST-2",
}
COLUMNS = ["quad", "quad100", "rosenbrock", "logistic", "accuracy"]


def run_all(binary, data, seeds, jobs, out_dir):
    pending = list(PROBLEMS)
    running = {}
    t0 = time.time()
    while pending or running:
        while pending and len(running) < jobs:
            p = pending.pop(0)
            f = open(os.path.join(out_dir, p + ".jsonl"), "w")
            cmd = [binary, "--problem", p, "--data", data, "--seeds", str(seeds)]
            running[p] = (subprocess.Popen(cmd, stdout=f), f, time.time())
        time.sleep(0.2)
        for p, (proc, f, start) in list(running.items()):
            if proc.poll() is not None:
                f.close()
                del running[p]
                if proc.returncode != 0:
                    sys.exit(f"convergence_bench --problem {p} failed ({proc.returncode})")
                print(f"  {p}: {time.time() - start:.0f} s", file=sys.stderr)
    print(f"  all problems: {time.time() - t0:.0f} s wall", file=sys.stderr)


def load(out_dir):
    setups, runs, skipped = {}, {}, {}
    for p in PROBLEMS:
        path = os.path.join(out_dir, p + ".jsonl")
        if not os.path.exists(path):
            continue
        for line in open(path):
            r = json.loads(line)
            if r["kind"] == "setup":
                setups[p] = r
            elif "skipped" in r:
                skipped[(p, r["method"])] = r["skipped"]
            else:
                runs.setdefault((p, r["method"]), []).append(r)
    return setups, runs, skipped


def k(n):
    if n >= 1e6:
        return f"{n / 1e6:.2g}M"
    if n >= 1e4:
        return f"{n / 1e3:.0f}k"
    if n >= 1e3:
        return f"{n / 1e3:.1f}k"
    return f"{n:.0f}"


def median_reached(values):
    """Median with not-reached runs counted as infinitely slow."""
    m = statistics.median(values)
    return m


def cell(rs, with_lr=True):
    vals = [r["evals"] if r["reached"] else math.inf for r in rs]
    steps = [r["steps"] if r["reached"] else math.inf for r in rs]
    n, hit = len(rs), sum(r["reached"] for r in rs)
    if hit == 0:
        div = sum(r["diverged"] for r in rs)
        s = "not reached" + (f" ({div} diverged)" if div else "")
    else:
        med, lo, hi = median_reached(vals), min(vals), max(vals)
        ms = median_reached(steps)
        spread = "" if lo == hi else f" [{k(lo)}–{'n.r.' if hi == math.inf else k(hi)}]"
        s = ("n.r." if med == math.inf else k(med)) + spread
        if ms != math.inf and ms != med:
            s += f", {k(ms)} st"
        if hit < n:
            s += f" ({hit}/{n})"
    if with_lr and rs[0]["lr"] > 0:
        s += f", η {rs[0]['lr']:.2g}"
    return s


def table(setups, runs, skipped, seeds):
    methods = []
    for (p, m) in list(runs) + list(skipped):
        if m not in methods:
            methods.append(m)
    zo = [m for m in methods if not m.startswith("NLopt")]
    nl = [m for m in methods if m.startswith("NLopt")]
    cols = [c for c in COLUMNS if c in setups]
    lines = []
    lines.append(f"| method | state B/param (d = {setups[cols[0]]['d']}) | " + " | ".join(TITLES[c] for c in cols) + " |")
    lines.append("|---|---|" + "---|" * len(cols))
    for m in zo + nl:
        b = ""
        for c in cols:
            rs = runs.get((c, m))
            if rs:
                b = f"{rs[0]['state_bytes_per_param']:.3g}" + (f" ({rs[0]['state_extra']})" if rs[0]["state_extra"] else "")
                break
        if m.startswith("NLopt"):
            b = "–"
        row = [m.replace("NLopt ", "NLopt "), b]
        for c in cols:
            if (c, m) in skipped:
                row.append("n/a (JVP = 0)")
            elif (c, m) in runs:
                rs = runs[(c, m)]
                s = cell(rs, with_lr=not m.startswith("NLopt"))
                if m.startswith("NLopt") and rs[0]["state_extra"] == "deterministic":
                    s += " (det.)"
                row.append(s)
            elif m.startswith("NLopt"):
                row.append(f"— (d = {setups[c]['d']})")
            else:
                row.append("—")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def notes(setups, seeds):
    out = []
    for c in COLUMNS:
        if c not in setups:
            continue
        s = setups[c]
        out.append(
            f"- **{TITLES[c]}**: {s['description']}; budget {k(s['budget'])} evaluations per run; measured every "
            f"{s['check_every']} step(s); eps {s['epsilon']:g}; η grid = centre × {{1/9, 1/3, 1, 3, 9}}, centres "
            f"{s['lr_sgd']:.3g} (SGD-like; block-wise and masked: ÷ the fraction perturbed per step), "
            f"{s['lr_adaptive']:.3g} (sign, Adam), {s['lr_factored']:.3g} (factored), {s['lr_hessian']:.3g} "
            f"(HiZOO, {s['hessian_warmup']}-step warmup); {s['blocks']} store blocks"
            + ("; NLopt beside" if s["nlopt"] else f"; NLopt ruled out at d = {s['d']}")
        )
    return "\n".join(out)


def plot(setups, runs, out_png):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not found (Debian: python3-matplotlib, run with /usr/bin/python3): no plots", file=sys.stderr)
        return
    import numpy as np

    cols = [c for c in COLUMNS if c in setups]
    fig, axes = plt.subplots(2, 3, figsize=(18, 10))
    axes = axes.ravel()
    cmap = plt.get_cmap("tab20")
    methods = []
    for (_, m) in runs:
        if m not in methods:
            methods.append(m)
    colour = {m: cmap(i % 20) for i, m in enumerate(methods)}
    for ax, c in zip(axes, cols):
        s = setups[c]
        grid = np.unique(np.round(np.logspace(0, math.log10(s["budget"]), 200)))
        for m in methods:
            rs = runs.get((c, m))
            if not rs:
                continue
            curves = []
            for r in rs:
                e = np.array([p[0] for p in r["curve"]], dtype=float)
                v = np.array([np.nan if p[1] is None else p[1] for p in r["curve"]], dtype=float)
                y = np.full(grid.shape, s["initial"], dtype=float)
                idx = np.searchsorted(e, grid, side="right") - 1
                y[idx >= 0] = v[idx[idx >= 0]]
                if not r["reached"] and len(e):  # a run that reached the target holds its last value
                    y[grid > e[-1]] = np.nan
                curves.append(y)
            med = np.nanmedian(np.array(curves), axis=0) if len(curves) > 1 else curves[0]
            ls = "--" if m.startswith("NLopt") else "-"
            ax.plot(grid, med, ls, color=colour[m], label=m, linewidth=1.4)
        ax.axhline(s["target"], color="k", linewidth=0.8, linestyle=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{TITLES[c]} (target {s['target']:.3g})")
        ax.set_xlabel("objective evaluations")
        ax.set_ylabel(s["measure"])
    for ax in axes[len(cols):]:
        ax.axis("off")
    handles, labels = [], []
    for ax in axes[: len(cols)]:
        for h, l in zip(*ax.get_legend_handles_labels()):
            if l not in labels:
                handles.append(h)
                labels.append(l)
    axes[-1].legend(handles, labels, loc="center", fontsize=9, ncol=2)
    fig.suptitle("Convergence: median over seeds of the measured objective (runs stop at the target; dashed: NLopt)")
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    print(f"  plot: {out_png}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--data", default=None, help="SST-2 folder (default: ../shared/data/sst2 from the repository)")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-run", action="store_true", help="only re-read the JSON lines, print and plot")
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    data = os.path.abspath(a.data or os.path.join(root, "..", "shared", "data", "sst2"))
    binary = os.path.abspath(os.path.join(a.build, "bench", "convergence_bench"))
    out_dir = os.path.join(os.path.abspath(a.build), "convergence")
    os.makedirs(out_dir, exist_ok=True)
    if not a.no_run:
        if not os.path.exists(binary):
            sys.exit(f"{binary} not found: configure with -DZEROTH_BUILD_BENCHMARKS=ON (needs libnlopt-cxx-dev)")
        run_all(binary, data, a.seeds, a.jobs, out_dir)
    setups, runs, skipped = load(out_dir)
    print(
        f"Evaluations to reach the target: median [min–max] over {a.seeds} seeds (n.r. = not reached within the "
        "budget; k/n = seeds that reached it), median steps where they differ (st), and the learning rate η tuned "
        "on seed 1000 from the grid. NLopt's deterministic algorithms run once (det.).\n"
    )
    print(table(setups, runs, skipped, a.seeds))
    print()
    print(notes(setups, a.seeds))
    plot(setups, runs, os.path.join(out_dir, "convergence.png"))


if __name__ == "__main__":
    main()
