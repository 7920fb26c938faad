#!/usr/bin/env python3
"""Runs bench/sweep_bench and the MeZO peer (../shared/peers/peer_mezo_sweep.py) side by side and prints one table.

    python3 bench/sweeps.py [build_dir=build] [--quick]

Elements/s is parameters swept per second in one sweep. A step is zeroth's 3 fused sweeps against the peer's 4."""
import json, os, re, statistics, subprocess, sys

build = next((a for a in sys.argv[1:] if not a.startswith("--")), "build")
quick = "--quick" in sys.argv
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
peer = os.path.join(root, "..", "shared", "peers", "peer_mezo_sweep.py")
binary = os.path.join(build, "bench", "sweep_bench")
sizes = [1_000_000, 10_000_000] + ([] if quick else [100_000_000])

args = [binary, "--benchmark_format=json", "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"]
if quick:
    args.append("--benchmark_filter=/n:(1000000|10000000)/|Generate")
res = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
ours = {}  # (label, n, threads) -> median items/s
generate = float("nan")  # Gaussian generation alone, one core
for b in res["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    if b["label"] == "generate":
        generate = b["items_per_second"]
        continue
    m = re.search(r"/n:(\d+)/threads:(\d+)", b["name"])
    ours[(b["label"], int(m.group(1)), int(m.group(2)))] = b["items_per_second"]

def run_peer(n, t):
    vals = []
    for _ in range(1 if quick else 3):
        out = subprocess.run(["/usr/bin/python3", peer, str(n), str(t)], check=True, capture_output=True, text=True)
        vals.append(float(re.search(r"elem_per_s=(\S+)", out.stdout).group(1)))
    return statistics.median(vals)

print(f"{'n':>11} {'thr':>3} | {'copy':>9} {'gauss':>9} {'bf16':>9} {'radem':>9} {'peer':>9} | "
      f"{'gauss/peer':>10} {'radem/copy':>10} | {'step/peer-step':>14} {'snapshot step':>13}")
for n in sizes:
    for t in (1, 2):
        g = lambda k: ours.get((k, n, t), float("nan"))
        p = run_peer(n, t)
        peer_step = 4 * n / p                # seconds per peer step (4 sweeps)
        our_step = n / g("step")             # seconds per zeroth step (3 sweeps)
        snap_step = n / g("step-snapshot")
        print(f"{n:>11} {t:>3} | {g('copy'):9.3g} {g('gaussian'):9.3g} {g('gaussian-bf16'):9.3g} "
              f"{g('rademacher'):9.3g} "
              f"{p:9.3g} | {g('gaussian') / p:10.1f} {g('rademacher') / g('copy'):10.2f} | "
              f"{peer_step / our_step:14.1f} {snap_step / our_step:12.2f}x")
print(f"Gaussian generation alone, 1 core, no memory traffic: {generate:.3g} elements/s"
      " (a 1-thread Gaussian sweep cannot exceed it)")
print("elements/s per sweep (medians of 3); bf16 = a Gaussian sweep over bfloat16 parameters (rounded to nearest);\n"
      "step/peer-step = peer's step time / zeroth's step time; snapshot step = time of a bit-exact-rollback step\n"
      "relative to a plain one")
