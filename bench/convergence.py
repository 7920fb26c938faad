#!/usr/bin/python3
"""Convergence benchmark (issues 3 and 12): runs build/bench/convergence_bench on each problem and, with --peers,
bench/blackbox_peers.py (nevergrad NGOpt, CMA, DiagonalCMA, OnePlusOne and pycma at their defaults, in a virtual
environment this script creates) on the same problems, two jobs at a time. Prints two Markdown tables: evaluations to
reach each problem's target (median and min-max over the seeds, with the tuned learning rate), and the objective at
equal evaluation budgets (median and min-max of the value at the budget); the untuned defaults of zeroth::minimize in
both; and draws PNG convergence plots (measured objective against evaluations, median over seeds, one panel per
problem).

    python3 bench/convergence.py [build_dir=build] [--data ../shared/data/sst2] [--seeds 3] [--jobs 2] [--peers]
                                 [--problems quad,rosen100,...] [--no-run]

Needs Debian's python3-matplotlib (for the plots; /usr/bin/python3), python3-venv and network access to PyPI for
--peers, and a build with -DZEROTH_BUILD_BENCHMARKS=ON and libnlopt-cxx-dev installed. The JSON lines and the PNG go
to <build_dir>/convergence/.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

PROBLEMS = ["quad", "illquad", "accuracy", "logistic", "rosen100_100k", "rosenbrock", "rosen100", "quad100"]  # longest first
TITLES = {
    "quad": "quadratic, d = 10^4",
    "illquad": "ill-conditioned quadratic, d = 10^4",
    "quad100": "quadratic, d = 100",
    "rosenbrock": "Rosenbrock, d = 10",
    "rosen100": "ext. Rosenbrock, d = 100, 20k",
    "rosen100_100k": "ext. Rosenbrock, d = 100, 100k",
    "logistic": "logistic regression, SST-2",
    "accuracy": "1 - accuracy, SST-2",
}
COLUMNS = ["quad", "illquad", "quad100", "rosenbrock", "rosen100", "rosen100_100k", "logistic", "accuracy"]
PEER_PACKAGES = ["nevergrad==1.0.12", "cma==4.5.0"]
DEFAULT = "zeroth::minimize (defaults)"


def peer_python(build):
    """The virtual environment of the peers: created once under the build folder."""
    venv = os.path.join(build, "peer-venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        print(f"  creating {venv} ({', '.join(PEER_PACKAGES)})", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([py, "-m", "pip", "install", "--quiet"] + PEER_PACKAGES, check=True)
    return py


def run_all(jobs_list, jobs):
    """jobs_list: (name, command, output path)."""
    pending = list(jobs_list)
    running = {}
    t0 = time.time()
    while pending or running:
        while pending and len(running) < jobs:
            name, cmd, path = pending.pop(0)
            f = open(path, "w")
            running[name] = (subprocess.Popen(cmd, stdout=f), f, time.time())
        time.sleep(0.2)
        for name, (proc, f, start) in list(running.items()):
            if proc.poll() is not None:
                f.close()
                del running[name]
                if proc.returncode != 0:
                    sys.exit(f"{name} failed ({proc.returncode})")
                print(f"  {name}: {time.time() - start:.0f} s", file=sys.stderr)
    print(f"  all jobs: {time.time() - t0:.0f} s wall", file=sys.stderr)


def load(out_dir):
    setups, runs, skipped = {}, {}, {}
    for p in PROBLEMS:
        for path in [os.path.join(out_dir, p + suffix) for suffix in (".jsonl", ".eps.jsonl", ".peers.jsonl", ".full.peers.jsonl")]:
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


def g(v):
    """A measured value, 3 significant digits."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "inf"
    return f"{v:.3g}"


def cell(rs, with_lr=True):
    vals = [r["evals"] if r["reached"] else math.inf for r in rs]
    steps = [r["steps"] if r["reached"] else math.inf for r in rs]
    n, hit = len(rs), sum(r["reached"] for r in rs)
    if hit == 0:
        div = sum(r["diverged"] for r in rs)
        s = "not reached" + (f" ({div} diverged)" if div else "")
    else:
        med, lo, hi = statistics.median(vals), min(vals), max(vals)  # not reached: infinitely slow
        ms = statistics.median(steps)
        spread = "" if lo == hi else f" [{k(lo)}–{'n.r.' if hi == math.inf else k(hi)}]"
        s = ("n.r." if med == math.inf else k(med)) + spread
        if ms != math.inf and ms != med:
            s += f", {k(ms)} st"
        if hit < n:
            s += f" ({hit}/{n})"
    if with_lr and rs[0]["lr"] > 0:
        s += f", η {rs[0]['lr']:.2g}"
    return s


def final(rs):
    """Median of the value at the budget (a diverged run counts as infinite)."""
    return statistics.median([math.inf if r["diverged"] or r["final"] is None else r["final"] for r in rs])


def final_cell(rs):
    vals = [math.inf if r["diverged"] or r["final"] is None else r["final"] for r in rs]
    lo, hi = min(vals), max(vals)
    return g(statistics.median(vals)) + ("" if lo == hi else f" [{g(lo)}–{g(hi)}]")


def kind(runs, m):
    for (_, mm), rs in runs.items():
        if mm == m:
            return rs[0]["kind"]
    return "peer"


def ordered_methods(runs, skipped):
    methods = []
    for (_, m) in list(runs) + list(skipped):
        if m not in methods:
            methods.append(m)
    order = {"default": 0, "zo": 1, "nlopt": 2, "peer": 3}
    return sorted(methods, key=lambda m: order.get(kind(runs, m), 3))


def missing(setups, c, m, runs):
    kd = kind(runs, m)
    if kd == "nlopt":
        return f"— (d = {setups[c]['d']})"
    return "—"


def table(setups, runs, skipped, value):
    cols = [c for c in COLUMNS if c in setups]
    lines = []
    head = "| method |" + ("" if value else " state B/param (d = 10^4) |")
    lines.append(head + " " + " | ".join(TITLES[c] for c in cols) + " |")
    lines.append("|---|" + ("" if value else "---|") + "---|" * len(cols))
    for m in ordered_methods(runs, skipped):
        kd = kind(runs, m)
        row = [f"**{m}**" if kd == "default" else m]
        if not value:
            b = "–"
            if kd == "zo":
                for c in cols:
                    rs = runs.get((c, m))
                    if rs:
                        b = f"{rs[0]['state_bytes_per_param']:.3g}" + (
                            f" ({rs[0]['state_extra']})" if rs[0]["state_extra"] else "")
                        break
            elif kd == "default":
                b = "0 (+8 best point)"
            row.append(b)
        for c in cols:
            if (c, m) in skipped:
                why = skipped[(c, m)]
                row.append("n/a (JVP = 0)" if "JVP" in why else f"— ({why.split(':')[0]})")
            elif (c, m) in runs:
                rs = runs[(c, m)]
                if value:
                    row.append(final_cell(rs))
                else:
                    s = cell(rs, with_lr=kd == "zo")
                    if kd == "nlopt" and rs[0]["state_extra"] == "deterministic":
                        s += " (det.)"
                    row.append(s)
            else:
                row.append(missing(setups, c, m, runs))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def goals(setups, runs):
    """Issue 12's goal: the untuned defaults match every peer's defaults at d >= 1000 and come within 2x of CMA-ES
    at d = 100, in the value at equal budgets; and within 2x of the tuned rows in evaluations to the target."""
    out = []
    for c in COLUMNS:
        if c not in setups or (c, DEFAULT) not in runs:
            continue
        d = setups[c]["d"]
        mine = final(runs[(c, DEFAULT)])
        peers = {m: final(rs) for (cc, m), rs in runs.items() if cc == c and rs[0]["kind"] == "peer"}
        if not peers:
            continue
        if d >= 1000:
            worse = [m for m, v in peers.items() if v < mine]
            out.append(f"- {TITLES[c]} (d = {d}): defaults {g(mine)}; peers " +
                       ", ".join(f"{m.replace('nevergrad ', 'ng ')} {g(v)}" for m, v in peers.items()) +
                       (": at least as low as every peer" if not worse else f": **behind {', '.join(worse)}**"))
        else:
            cma = {m: v for m, v in peers.items() if "CMA" in m and "Diagonal" not in m}
            stopped = [m for m in cma if any(r["state_extra"] == "stopped at the target" for r in runs[(c, m)])]
            if stopped:  # the peers stopped at the target: compare evaluations to it
                theirs = min(statistics.median([r["evals"] if r["reached"] else math.inf for r in runs[(c, m)]])
                             for m in stopped)
                ours = statistics.median([r["evals"] if r["reached"] else math.inf for r in runs[(c, DEFAULT)]])
                out.append(f"- {TITLES[c]} (d = {d}): CMA-ES stops at the target after {k(theirs)} evaluations "
                           f"(median), the defaults reach it after {'n.r.' if ours == math.inf else k(ours)}"
                           + (f" ({ours / theirs:.2g}x)" if ours < math.inf else ""))
            elif cma:
                best = min(cma.values())
                ratio = mine / best if best > 0 else math.inf
                out.append(f"- {TITLES[c]} (d = {d}): defaults {g(mine)}, CMA-ES {g(best)} (the better of "
                           f"{', '.join(cma)}): {ratio:.2g}x" + (" (within 2x)" if ratio <= 2 else " (**not within 2x**)"))
        tuned = [statistics.median([r["evals"] if r["reached"] else math.inf for r in rs])
                 for (cc, m), rs in runs.items() if cc == c and rs[0]["kind"] == "zo"]
        best_tuned = min(tuned) if tuned else math.inf
        dflt = statistics.median([r["evals"] if r["reached"] else math.inf for r in runs[(c, DEFAULT)]])
        if best_tuned < math.inf:
            out.append(f"  evaluations to the target: defaults {'n.r.' if dflt == math.inf else k(dflt)}, best tuned "
                       f"zeroth row {k(best_tuned)}" + (f" ({dflt / best_tuned:.2g}x)" if dflt < math.inf else ""))
    return "\n".join(out)


def notes(setups):
    out = []
    for c in COLUMNS:
        if c not in setups:
            continue
        s = setups[c]
        out.append(
            f"- **{TITLES[c]}**: {s['description']}; budget {k(s['budget'])} evaluations per run; measured every "
            f"{s['check_every']} step(s); eps {s['epsilon']:g}; η grid = centre × {{1/9, 1/3, 1, 3, 9}}, centres "
            f"{s['lr_sgd']:.3g} (SGD-like; block-wise and masked: ÷ the fraction perturbed per step), "
            f"{s['lr_adaptive']:.3g} (sign, Adam), {s['lr_factored']:.3g} (factored, eps2 {s['factored_eps2']:g}), "
            f"{s['lr_hessian']:.3g} (HiZOO, no warmup), 1e-4 (FZOO); {s['blocks']} store blocks"
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
    fig, axes = plt.subplots(3, 3, figsize=(19, 15))
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
                if len(e):
                    y[grid > e[-1]] = np.nan if not r["reached"] or r["kind"] != "peer" else y[grid > e[-1]]
                curves.append(y)
            med = np.nanmedian(np.array(curves), axis=0) if len(curves) > 1 else curves[0]
            kd = rs[0]["kind"]
            ls = {"nlopt": "--", "peer": ":", "default": "-"}.get(kd, "-")
            ax.plot(grid, med, ls, color="k" if kd == "default" else colour[m], label=m,
                    linewidth=2.4 if kd == "default" else 1.3)
        ax.axhline(s["target"], color="grey", linewidth=0.8, linestyle=":")
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
    axes[-1].legend(handles, labels, loc="center", fontsize=8, ncol=2)
    fig.suptitle("Convergence: median over seeds of the measured objective (black: zeroth::minimize defaults; "
                 "dashed: NLopt; dotted: nevergrad / pycma)")
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    print(f"  plot: {out_png}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--data", default=None, help="SST-2 folder (default: ../shared/data/sst2 from the repository)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--peers", action="store_true", help="also run nevergrad and pycma (a venv from PyPI)")
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--no-run", action="store_true", help="only re-read the JSON lines, print and plot")
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    data = os.path.abspath(a.data or os.path.join(root, "..", "shared", "data", "sst2"))
    build = os.path.abspath(a.build)
    binary = os.path.join(build, "bench", "convergence_bench")
    out_dir = os.path.join(build, "convergence")
    os.makedirs(out_dir, exist_ok=True)
    problems = [p for p in PROBLEMS if p in a.problems.split(",")]
    if not a.no_run:
        if not os.path.exists(binary):
            sys.exit(f"{binary} not found: configure with -DZEROTH_BUILD_BENCHMARKS=ON (needs libnlopt-cxx-dev)")
        jobs = [(f"convergence_bench --problem {p}", [binary, "--problem", p, "--data", data, "--seeds", str(a.seeds)],
                 os.path.join(out_dir, p + ".jsonl")) for p in problems]
        # The defaults on the piecewise-constant problem with the epsilon it needs, set by hand (lr scaled with it).
        jobs += [("convergence_bench --problem accuracy, eps 0.5", [binary, "--problem", "accuracy", "--data", data,
                  "--seeds", str(a.seeds), "--only", "default", "--no-zo", "--minimize-eps", "0.5", "--minimize-lr",
                  "0.05"], os.path.join(out_dir, "accuracy.eps.jsonl"))] if "accuracy" in problems else []
        if a.peers:
            py = peer_python(build)
            script = os.path.join(root, "bench", "blackbox_peers.py")
            jobs += [(f"blackbox_peers.py --problem {p}", [py, script, "--problem", p, "--data", data, "--seeds",
                                                           str(a.seeds)], os.path.join(out_dir, p + ".peers.jsonl"))
                     for p in problems]
            # The SST-2 problems again with the full training set per call, for NGOpt (the reference of nevergrad).
            jobs += [(f"blackbox_peers.py --problem {p} --full-batch",
                      [py, script, "--problem", p, "--data", data, "--seeds", str(a.seeds), "--full-batch", "--only",
                       "nevergrad NGOpt"], os.path.join(out_dir, p + ".full.peers.jsonl"))
                     for p in problems if p in ("logistic", "accuracy")]
        run_all(jobs, a.jobs)
    setups, runs, skipped = load(out_dir)
    print(
        f"Evaluations to reach the target: median [min–max] over {a.seeds} seeds (n.r. = not reached within the "
        "budget; k/n = seeds that reached it), median steps where they differ (st), and the learning rate η tuned "
        "on seed 1000 from the grid. NLopt's deterministic algorithms run once (det.).\n"
    )
    print(table(setups, runs, skipped, value=False))
    print()
    print(f"The measured objective at equal evaluation budgets: median [min–max] over {a.seeds} seeds of the value "
          "at the budget (zeroth: the iterate; NLopt and the peers: the best point they evaluated; inf: diverged).\n")
    print(table(setups, runs, skipped, value=True))
    print()
    print(goals(setups, runs))
    print()
    print(notes(setups))
    plot(setups, runs, os.path.join(out_dir, "convergence.png"))


if __name__ == "__main__":
    main()
