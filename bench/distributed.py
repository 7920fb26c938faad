#!/usr/bin/env python3
"""Distributed ZO on this machine, and a model of scale (issue 13).

  python3 bench/distributed.py BUILD_DIR [--shared ../shared] [--steps-llama 60] [--steps-bert 12] [--repeats 3]

BUILD_DIR is configured with MPI (found by default) and -DZEROTH_BUILD_BENCHMARKS=ON, with zeroth-finetune and
mpi_latency built. Prints one table:
  1. measured: ms/step (median of --repeats runs, with the spread), steps/s and wall time to a target loss for one
     process (1 and 2 OpenMP threads) against 2 ranks of 1 thread (--parallel directions, and --parallel data with
     --batch-invariant, whose 1-process cost is shown too), on stories260K (llama2.c) and all-MiniLM-L6-v2 (BERT),
     ZO-SGD with q = 2 directions, batch 16; bytes rank 0 sends per step (summary.json);
  2. measured: the latency of the all-gather on loopback (mpi_latency, 2 ranks);
  3. on paper: step time and communication share at 8, 64 and 1024 ranks, zeroth's scalars against first-order
     data-parallel's gradient all-reduce, for 15M and 1.3B parameters, from the measured forward time per token and
     the network model printed with it.
The target loss of a backend is the 1-process run's mean training loss over its last 10 steps; a run's time to it is
the first step whose 10-step mean reaches it (the 2-rank runs take the same steps, bit for bit, so only the step
time differs). The machine has 2 cores: 2 ranks of 1 thread use the same cores as 1 process of 2 threads.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile

MPI = ["mpirun", "--oversubscribe", "--allow-run-as-root", "--bind-to", "none"]


def finetune(exe, args, out, ranks=0, threads=1, extra=()):
    cmd = (MPI + ["-np", str(ranks)] if ranks else []) + [exe] + args + list(extra) + ["--out", out, "--overwrite"]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY="PASSIVE")
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)}\nexited {done.returncode}:\n{done.stderr[-2000:]}")
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    with open(os.path.join(out, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    return summary, rows


def smoothed(rows, window=10):
    return [statistics.fmean(r["loss"] for r in rows[max(0, i + 1 - window):i + 1]) for i in range(len(rows))]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("build")
    p.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    p.add_argument("--steps-llama", type=int, default=60)
    p.add_argument("--steps-bert", type=int, default=12)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    exe = os.path.join(a.build, "examples", "zeroth-finetune")
    s = a.shared
    data = ["--train", f"{s}/data/sst2/train.tsv", "--eval", f"{s}/data/sst2/dev.tsv", "--eval-examples", "16",
            "--eval-every", "0", "--batch", "16", "--directions", "2", "--lr", "1e-4", "--k", "64"]
    backends = {
        "llama2.c stories260K": ["--model", f"{s}/models/stories260K/stories260K.bin", "--tokenizer",
                                 f"{s}/models/stories260K/tok512.bin", "--steps", str(a.steps_llama)] + data,
        "BERT all-MiniLM-L6-v2": ["--model", f"{s}/models/all-MiniLM-L6-v2", "--steps", str(a.steps_bert)] + data,
    }
    configs = [  # name, ranks, threads, extra flags
        ("1 process, 1 thread", 0, 1, []),
        ("1 process, 2 threads", 0, 2, []),
        ("2 ranks x 1 thread, --parallel directions", 2, 1, ["--parallel", "directions"]),
        ("1 process, 2 threads, --batch-invariant", 0, 2, ["--batch-invariant"]),
        ("2 ranks x 1 thread, --parallel data --batch-invariant", 2, 1, ["--parallel", "data", "--batch-invariant"]),
    ]
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for bname, bargs in backends.items():
            runs = {}
            for cname, ranks, threads, extra in configs:
                ms, last = [], None
                for r in range(a.repeats):
                    summary, rows = finetune(exe, bargs, os.path.join(work, f"run{r}"), ranks, threads, extra)
                    ms.append(summary["ms_per_step"])
                    last = (summary, rows)
                runs[cname] = {"ms": ms, "summary": last[0], "rows": last[1]}
                print(f"  {bname}: {cname}: {statistics.median(ms):.1f} ms/step ({', '.join(f'{m:.0f}' for m in ms)})",
                      file=sys.stderr)
            target = statistics.fmean(r["loss"] for r in runs["1 process, 1 thread"]["rows"][-10:])
            for run in runs.values():
                sm = smoothed(run["rows"])
                hit = next((i for i, v in enumerate(sm) if i >= 9 and v <= target), None)
                run["steps_to_target"] = None if hit is None else hit + 1
            results[bname] = {"target": target, "runs": runs}
        lat = subprocess.run(MPI + ["-np", "2", os.path.join(a.build, "bench", "mpi_latency")], check=True,
                             capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1")).stdout
        latency = [json.loads(line) for line in lat.splitlines() if line.startswith("{")]

    print("## Measured on this machine (2 cores; ZO-SGD, q = 2, batch 16; median of %d runs, spread in brackets)\n"
          % a.repeats)
    print("| backend | configuration | ms/step | steps/s | vs 1 process, 2 threads | steps to target | "
          "s to target | bytes sent/step (rank 0) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for bname, res in results.items():
        base = statistics.median(res["runs"]["1 process, 2 threads"]["ms"])
        for cname, run in res["runs"].items():
            m = statistics.median(run["ms"])
            spread = f"{min(run['ms']):.0f}-{max(run['ms']):.0f}"
            par = run["summary"].get("parallel", {})
            bytes_ = f"{par['bytes_sent_per_step']:.0f}" if par else "-"
            st = run["steps_to_target"]
            to = f"{st * m / 1000:.1f}" if st else "not reached"
            print(f"| {bname} | {cname} | {m:.1f} ({spread}) | {1000 / m:.1f} | {base / m:.2f}x | "
                  f"{st if st else '-'} | {to} | {bytes_} |")
        print(f"| {bname} | target (10-step mean training loss) | {res['target']:.4f} | | | | | |")
    print("\n## The all-gather on loopback (mpi_latency, 2 ranks, 2000 repetitions)\n")
    print("| doubles per rank | median us | p90 us |")
    print("|---:|---:|---:|")
    for l in latency:
        print(f"| {l['doubles_per_rank']} | {l['median_us']:.1f} | {l['p90_us']:.1f} |")

    # A model of scale. Forward cost per example from the BERT run (1 process, 1 thread): a ZO step evaluates 2q
    # forwards of the batch; FLOPs scale with parameters, so a model of P parameters costs P / 22.7M times more.
    bert = results["BERT all-MiniLM-L6-v2"]["runs"]["1 process, 1 thread"]
    ms_per_forward_example = statistics.median(bert["ms"]) / (2 * 2 * 16)  # sweeps included: an upper bound
    alpha, beta = 5e-6, 12.5e9  # network model: 5 us latency, 100 Gb/s (12.5 GB/s) per link
    print("\n## On paper: weak scaling, 16 examples per rank per step (network: latency 5 us, 12.5 GB/s per link; ring "
          "collectives; compute per rank from the measured BERT forward, %.2f ms per example at 22.7M parameters, "
          "scaled by parameters; first-order: forward + backward = 3 forwards, then an all-reduce of 4 bytes per "
          "parameter)\n" % ms_per_forward_example)
    print("| parameters | ranks | ZO compute ms | ZO comm ms | ZO comm share | FO compute ms | FO comm ms | "
          "FO comm share | FO bytes/step per rank | ZO bytes/step per rank |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for P in (15e6, 1.3e9):
        fwd = ms_per_forward_example * P / 22.7e6 * 16  # ms per rank for its 16 examples
        for R in (8, 64, 1024):
            zo_compute = 4 * fwd  # q = 2 directions, 2 evaluations each
            zo_bytes = 4 * 2 * 16 * 8  # 4 evaluations, 2 doubles per example, 16 examples (data-parallel)
            zo_comm = 4 * (math.ceil(math.log2(R)) * alpha + (R - 1) * 2 * 16 * 8 / beta) * 1e3
            fo_compute = 3 * fwd
            fo_bytes = 2 * (R - 1) / R * 4 * P
            fo_comm = (2 * (R - 1) * alpha + fo_bytes / beta) * 1e3
            print(f"| {P / 1e6:.0f}M | {R} | {zo_compute:.1f} | {zo_comm:.3f} | {zo_comm / (zo_compute + zo_comm):.2%} | "
                  f"{fo_compute:.1f} | {fo_comm:.1f} | {fo_comm / (fo_compute + fo_comm):.1%} | {fo_bytes / 1e6:.0f} MB | "
                  f"{zo_bytes} B |")
    with open("distributed_results.json", "w") as f:
        json.dump({"results": {b: {"target": r["target"], "runs": {c: {"ms": v["ms"], "steps_to_target":
                   v["steps_to_target"], "parallel": v["summary"].get("parallel")} for c, v in r["runs"].items()}}
                   for b, r in results.items()}, "latency": latency}, f, indent=1)


if __name__ == "__main__":
    main()
