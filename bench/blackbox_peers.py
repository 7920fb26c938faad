#!/usr/bin/env python3
"""The black-box peers of bench/convergence_bench.cpp: nevergrad (NGOpt, CMA, DiagonalCMA, OnePlusOne) and pycma at
their defaults, on the same problems, x0, targets and evaluation budgets. Emits the same JSON lines (kind "peer");
bench/convergence.py creates the virtual environment, runs this script with it and merges the lines into its tables.

  python bench/blackbox_peers.py --problem quad|illquad|quad100|rosenbrock|rosen100|rosen100_100k|logistic|accuracy
                                 [--seeds 3] [--data ../shared/data/sst2] [--only NAME]...

The problems are written again here in numpy from their definitions (convergence_bench.cpp): nothing is shared but the
data file. On Rosenbrock d = 10 the peers stop at the target, and run pycma only there and on the 100k-evaluation
extended Rosenbrock: nevergrad spends about 1.5 ms of its own per evaluation (10 min for a 400k budget; NGOpt had
not reached the d = 10 target after 11 min). On the SST-2 problems a peer sees the minibatch objective as
a black box without a notion of batches offers it: a fresh batch of the same size each call (seeded); with
--full-batch it sees the full training set instead (noise-free, 27x the data of one minibatch evaluation; the method
is named "... on the full batch"). The target is checked on the full training set at the best point, outside the
count. A peer's `final` is the best value it evaluated (its recommendation), on the full set for the SST-2 problems."""
import argparse
import json
import math
import re
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


class Quadratic:
    def __init__(self, d, kappa, budget, target_fraction):
        self.h = kappa ** (np.arange(d) / (d - 1))
        self.x0 = np.ones(d)
        self.budget, self.target = budget, target_fraction * 0.5 * self.h.sum()

    def __call__(self, x):
        return 0.5 * float(np.dot(self.h, x * x))


class Rosenbrock:
    def __init__(self, d, extended, budget):
        self.extended, self.budget, self.target = extended, budget, 1e-2
        self.x0 = np.where(np.arange(d) % 2 == 0, -1.2, 1.0) if extended else np.zeros(d)

    def __call__(self, x):
        a, b = (x[0::2], x[1::2]) if self.extended else (x[:-1], x[1:])
        return float(np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2))


class Sst2:
    """Bag of words over the training split: words by first appearance, each count vector scaled by 1/sqrt(#words)."""

    def __init__(self, path):
        ids, flat, starts, scale, labels = {}, [], [], [], []
        with open(path, encoding="utf-8") as f:
            next(f)
            for line in f:
                text, label = line.rstrip("\n").rsplit("\t", 1)
                # ASCII whitespace only, as C++'s operator>> (str.split() would also split at U+00A0 and the like)
                words = [ids.setdefault(w, len(ids)) for w in re.split(r"[ \t\n\v\f\r]+", text) if w]
                starts.append(len(flat))
                flat.extend(words)
                scale.append(1.0 / math.sqrt(len(words)) if words else 0.0)
                labels.append(1.0 if label.strip() == "1" else -1.0)
        self.flat, self.starts = np.array(flat), np.array(starts)
        self.ends = np.append(self.starts[1:], self.flat.size)
        self.scale, self.labels, self.vocab = np.array(scale), np.array(labels), len(ids)
        assert all(np.diff(self.starts) > 0), "an empty sentence would break reduceat"

    def scores(self, x, rows=None):
        if rows is None:
            return np.add.reduceat(x[self.flat], self.starts) * self.scale + x[self.vocab]
        lengths = self.ends[rows] - self.starts[rows]
        at = np.repeat(self.starts[rows] - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        words = self.flat[at + np.arange(lengths.sum())]
        return np.add.reduceat(x[words], np.concatenate(([0], np.cumsum(lengths)[:-1]))) * self.scale[rows] + \
            x[self.vocab]


class Sst2Problem:
    """A linear classifier on the bag of words, x0 = 0, 16k evaluations; `measure` on the rows given (or all)."""

    def __init__(self, data, batch, target, per_example):
        self.data, self.batch, self.target, self.per_example = data, batch, target, per_example
        self.x0, self.budget = np.zeros(data.vocab + 1), 16000

    def measure(self, x, rows=None):
        labels = self.data.labels if rows is None else self.data.labels[rows]
        return float(np.mean(self.per_example(labels, self.data.scores(x, rows))))


def Logistic(data):  # log(1 + exp(-y s)), minibatch 256, target 0.63
    return Sst2Problem(data, 256, 0.63, lambda y, s: np.logaddexp(0.0, -y * s))


def Accuracy(data):  # 1 - accuracy of sign(s), minibatch 512, target 0.32
    return Sst2Problem(data, 512, 0.32, lambda y, s: (s > 0) != (y > 0))


def make(problem, data_dir):
    if problem == "quad":
        return Quadratic(10000, 100.0, 40000, 0.3)
    if problem == "illquad":
        return Quadratic(10000, 1000.0, 40000, 0.1)
    if problem == "quad100":
        return Quadratic(100, 100.0, 20000, 0.01)
    if problem == "rosenbrock":
        p = Rosenbrock(10, False, 400000)
        p.stop_at_target = True  # 400k evaluations at nevergrad's ~1.5 ms of its own per evaluation: 10 min a run
        return p
    if problem in ("rosen100", "rosen100_100k"):
        return Rosenbrock(100, True, 20000 if problem == "rosen100" else 100000)
    data = Sst2(data_dir + "/train.tsv")
    return Logistic(data) if problem == "logistic" else Accuracy(data)


class Reached(Exception):
    pass


class Recorder:
    """Counts evaluations, keeps the best value, the first evaluation that met the target and a thinned curve. On a
    minibatch problem each call sees a fresh batch (or the full set), and the best point's full-set value is the one
    recorded (outside the count, each time the best batch value improves)."""

    def __init__(self, p, seed, full_batch):
        self.p, self.n, self.best, self.reached_at, self.next, self.curve = p, 0, math.inf, None, 1, []
        self.mini = hasattr(p, "measure")
        self.full_batch, self.rng, self.best_batch = full_batch, np.random.RandomState(10**6 + seed), math.inf

    def value(self, x):
        if not self.mini:
            return self.p(x), None
        if self.full_batch:
            v = self.p.measure(x)
            return v, v
        rows = self.rng.choice(self.p.data.labels.size, self.p.batch, replace=False)
        v = self.p.measure(x, rows)
        return v, (self.p.measure(x) if v < self.best_batch else None)

    def __call__(self, x):
        v, full = self.value(np.asarray(x, dtype=float))
        self.n += 1
        if self.mini:
            self.best_batch = min(self.best_batch, v)
            if full is not None:
                self.best = full  # the best point so far (by its batch value), measured on the full set
        else:
            self.best = min(self.best, v)
        first = self.reached_at is None and self.best <= self.p.target
        if first:
            self.reached_at = self.n
        if self.n >= self.next or first or self.n == self.p.budget:
            self.curve.append([self.n, self.best])
            while self.next <= self.n:
                self.next = max(self.next + 1, int(self.next * 1.06))
        if first and getattr(self.p, "stop_at_target", False):
            raise Reached()
        return v


def run_nevergrad(name, p, seed, rec):
    import nevergrad as ng
    param = ng.p.Array(init=p.x0.copy())
    param.random_state = np.random.RandomState(seed)
    opt = ng.optimizers.registry[name](parametrization=param, budget=p.budget, num_workers=1)
    for _ in range(p.budget):
        c = opt.ask()
        opt.tell(c, rec(c.value))
    chosen = type(getattr(opt, "optim", None) or opt).__name__  # what NGOpt picked, where it says
    return chosen


def run_pycma(p, seed, rec):
    import cma
    es = cma.CMAEvolutionStrategy(p.x0.copy(), 1.0, {"seed": seed + 1, "maxfevals": p.budget, "verbose": -9,
                                                     "tolfun": 0, "tolx": 0, "tolfunhist": 0, "tolflatfitness": 10**9,
                                                     "tolstagnation": 10**9})
    while rec.n < p.budget:
        xs = es.ask()
        xs = xs[: p.budget - rec.n]
        fs = [rec(x) for x in xs]
        if len(xs) < es.popsize:
            break
        es.tell(xs, fs)
    return "cma " + cma.__version__


PEERS = ["nevergrad NGOpt", "nevergrad CMA", "nevergrad DiagonalCMA", "nevergrad OnePlusOne", "pycma CMA-ES"]
FULL_COVARIANCE = {"nevergrad CMA", "pycma CMA-ES"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problem", required=True)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--data", default="../shared/data/sst2")
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--full-batch", action="store_true", help="SST-2 problems: the full training set per call")
    a = ap.parse_args()
    p = make(a.problem, a.data)
    d = p.x0.size
    for name in PEERS:
        if a.only and name not in a.only:
            continue
        if a.problem in ("rosenbrock", "rosen100_100k") and name != "pycma CMA-ES":  # the long budgets
            continue
        label = name + (" on the full batch" if a.full_batch and hasattr(p, "measure") else "")
        if name in FULL_COVARIANCE and d > 1000:  # a d x d covariance and its eigendecomposition: 0.16 s/eval at 10^4
            print(json.dumps({"problem": a.problem, "kind": "peer", "method": label,
                              "skipped": f"full covariance at d = {d}: O(d^2) memory, O(d^3) updates"}), flush=True)
            continue
        for seed in range(a.seeds):
            rec = Recorder(p, seed, a.full_batch)
            t0 = time.time()
            try:
                chosen = run_pycma(p, seed, rec) if name.startswith("pycma") else run_nevergrad(name.split()[1], p,
                                                                                                  seed, rec)
            except Reached:
                chosen = "stopped at the target"
            out = {"problem": a.problem, "kind": "peer", "method": label, "seed": seed,
                   "reached": rec.reached_at is not None, "diverged": False,
                   "steps": rec.reached_at or rec.n, "evals": rec.reached_at or rec.n, "final": rec.best,
                   "seconds": round(time.time() - t0, 3), "state_bytes_per_param": 0, "state_extra": chosen,
                   "curve": rec.curve}
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
