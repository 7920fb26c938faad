#!/usr/bin/env python3
"""BERT encoder costs side by side with the PyTorch peer, one table (issue 10, deliverable 7 (a) and (b)):
  (a) ZO-SGD ms/step against the peer's MeZO (../shared/peers/peer_bert.py --mode zo; target: >= 2.5x faster), and
      the encoder's forward throughput in tokens/s against PyTorch's (target: not slower), with each side's GEMM
      GFLOP/s on the encoder's typical product [128 x 384] x [384 x 1536];
  (b) ZO-SGD step overhead over its two forward passes (target <= 5%), peak RSS of ZO-SGD over plain inference at
      the same batch (target <= 1.05x), beside the peer's ZO and FO (AdamW with back-propagation) peak RSS.
Same model (../shared/models/all-MiniLM-L6-v2), data (SST-2 train, k = 512 per class for steps), batch 16, max length
128 and threads (1 and 2). The peer runs under /usr/bin/python3 (Debian's python3-torch) with OpenBLAS, which this
script checks first (torch on the reference BLAS is ~10x slower and every ratio against it void), and
OPENBLAS_NUM_THREADS=1 with --threads equal to zeroth's. The peer's forward is timed by importing peer_bert.py as a
module and calling Bert.embed on the same sentences, batches and token ids (checked by their token count).

    python3 bench/bert.py [build_dir=build] [--threads 1,2] [--repeats 3] [--steps 20] [--peer-steps 20]
                          [--batches 8] [--rss-steps 3]

Builds nothing: build bert_bench first (cmake -DZEROTH_BUILD_BENCHMARKS=ON, target bert_bench). Each timing runs
--repeats times, interleaved with the peer's so that both see the same machine; a cell is the median over the
repeats and [min-max] their spread. Ratios are the medians of the per-repeat ratios (zeroth / peer for throughput,
peer / zeroth for time and memory)."""
import argparse, json, os, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
PEERS = os.path.join(SHARED, "peers")
MODEL = os.path.join(SHARED, "models", "all-MiniLM-L6-v2")
DATA = os.path.join(SHARED, "data", "sst2")
PEER_PY = "/usr/bin/python3"
BATCH, MAX_LEN, K, LR, EPS = 16, 128, 512, 1e-5, 1e-3


def peer_forward(threads, batches, repeats):
    """Run in a child process under /usr/bin/python3 with OPENBLAS_NUM_THREADS=1: the peer's Bert.embed tokens/s on
    the first `batches` x 16 SST-2 train sentences and torch's GEMM GFLOP/s; prints one JSON line."""
    sys.path.insert(0, PEERS)
    import torch
    import peer_bert  # the peer itself, as a module: its encoder, tokenizer, padding and tsv reader

    torch.set_num_threads(threads)
    model = peer_bert.Bert(MODEL)
    tok = peer_bert.WordPiece(os.path.join(MODEL, "vocab.txt"))
    sentences = peer_bert.read_tsv(os.path.join(DATA, "train.tsv"))[0][: batches * BATCH]
    seqs = [tok.encode(s, MAX_LEN) for s in sentences]
    padded = [peer_bert.pad(seqs[i : i + BATCH]) for i in range(0, len(seqs), BATCH)]
    tokens = sum(len(s) for s in seqs)

    def run_pass():
        for ids, mask in padded:
            model.embed(ids, mask)

    def gemm(a, w, reps):
        for _ in range(reps):
            a @ w.T

    with torch.no_grad():
        run_pass()  # warm-up
        tok_s = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            run_pass()
            tok_s.append(tokens / (time.perf_counter() - t0))
        a, w, reps = torch.randn(128, 384), torch.randn(1536, 384), 50
        gemm(a, w, reps)
        gflops = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            gemm(a, w, reps)
            gflops.append(2 * 128 * 384 * 1536 * reps / (time.perf_counter() - t0) / 1e9)
    blas = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.lower() and "/" in l})
    print(json.dumps({"tokens": tokens, "tok_s": statistics.median(tok_s), "gemm_gflops": statistics.median(gflops),
                      "blas": blas, "torch": torch.__version__}))


def check_openblas():
    q = subprocess.run(["update-alternatives", "--query", "libblas.so.3-x86_64-linux-gnu"], capture_output=True,
                       text=True).stdout
    value = next((l.split(":", 1)[1].strip() for l in q.splitlines() if l.startswith("Value:")), "")
    if "openblas" not in value:
        sys.exit(f"bert.py: libblas.so.3 is '{value or 'not set'}', not OpenBLAS: the peer would run the reference "
                 "BLAS and every ratio against it is void. Install libopenblas0-pthread (it switches the "
                 "libblas.so.3-x86_64-linux-gnu alternative) and rerun.")
    return value


def kv(line):
    return dict(x.split("=", 1) for x in line.split() if "=" in x)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build", nargs="?", default="build", help="build folder holding bench/bert_bench")
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    ap.add_argument("--repeats", type=int, default=3, help="runs of every timing (at least 3)")
    ap.add_argument("--steps", type=int, default=20, help="zeroth's ZO-SGD steps per run (each with two forwards)")
    ap.add_argument("--peer-steps", type=int, default=20, help="the peer's steps per run, --mode zo and fo")
    ap.add_argument("--batches", type=int, default=8, help="forward throughput over this many batches of 16")
    ap.add_argument("--rss-steps", type=int, default=3, help="steps of the peak-RSS processes")
    ap.add_argument("--peer-forward", nargs=3, type=int, metavar=("THREADS", "BATCHES", "REPEATS"),
                    help=argparse.SUPPRESS)  # internal: the child process that times the peer's forward
    a = ap.parse_args()
    if a.peer_forward:
        return peer_forward(*a.peer_forward)
    build, thread_counts = a.build, [int(t) for t in a.threads.split(",")]
    repeats, steps, peer_steps, batches, rss_steps = a.repeats, a.steps, a.peer_steps, a.batches, a.rss_steps
    if repeats < 3:
        sys.exit("bert.py: --repeats must be at least 3 (medians and spreads of fewer say little)")
    exe = os.path.join(build, "bench", "bert_bench")
    if not os.access(exe, os.X_OK):
        sys.exit(f"bert.py: {exe} not found; build it first (cmake -DZEROTH_BUILD_BENCHMARKS=ON, target bert_bench)")
    blas = check_openblas()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")

    def ours(mode, threads, *extra):
        out = subprocess.run([exe, MODEL, DATA, mode, str(threads), *map(str, extra)], check=True,
                             capture_output=True, text=True).stdout
        return kv(out.strip().splitlines()[-1])

    def peer(mode, threads):
        out = subprocess.run([PEER_PY, os.path.join(PEERS, "peer_bert.py"), "--model-dir", MODEL, "--data", DATA,
                              "--mode", mode, "--k", str(K), "--batch", str(BATCH), "--steps", str(peer_steps),
                              "--lr", str(LR), "--eps", str(EPS), "--max-len", str(MAX_LEN), "--eval", "16",
                              "--threads", str(threads)], check=True, capture_output=True, text=True, env=env).stdout
        return json.loads(out.strip().splitlines()[-1])

    def peer_fwd(threads):
        out = subprocess.run([PEER_PY, os.path.abspath(__file__), "--peer-forward", str(threads), str(batches),
                              str(repeats)], check=True, capture_output=True, text=True, env=env).stdout
        return json.loads(out.strip().splitlines()[-1])

    load0 = os.getloadavg()
    print(f"libblas.so.3: {blas}; OPENBLAS_NUM_THREADS=1; load average at start {load0[0]:.2f} {load0[1]:.2f} "
          f"{load0[2]:.2f} on {os.cpu_count()} CPUs", flush=True)
    rows = []
    for t in thread_counts:
        m = {k: [] for k in ("zf", "pf", "fr", "zg", "pg", "zs", "ps", "sp", "ov", "ri", "rz", "rr", "pzr", "pfr",
                             "pfs", "ob")}
        for r in range(repeats):  # interleaved, so that both sides see the same machine
            print(f"  {t} thread(s), repeat {r + 1}/{repeats}", file=sys.stderr, flush=True)
            zf, pf = ours("forward", t, batches, repeats), peer_fwd(t)
            if int(zf["tokens"]) != pf["tokens"]:
                sys.exit(f"bert.py: zeroth tokenized {zf['tokens']} tokens, the peer {pf['tokens']}: not the same "
                         "batches")
            if not any("openblas" in p for p in pf["blas"]):
                sys.exit(f"bert.py: the peer's torch did not load OpenBLAS (BLAS libraries mapped: {pf['blas']})")
            zs, zb = ours("step", t, steps), ours("step", t, steps, 1, "bias", "LayerNorm")
            pz, pfo = peer("zo", t), peer("fo", t)
            ri, rz = ours("rss-infer", t, rss_steps), ours("rss-zo", t, rss_steps)
            m["zf"].append(float(zf["tok_s"]))
            m["pf"].append(pf["tok_s"])
            m["fr"].append(float(zf["tok_s"]) / pf["tok_s"])
            m["zg"].append(float(zf["gemm_gflops"]))
            m["pg"].append(pf["gemm_gflops"])
            m["zs"].append(float(zs["step_ms"]))
            m["ps"].append(pz["ms_per_step"])
            m["sp"].append(pz["ms_per_step"] / float(zs["step_ms"]))
            m["ov"].append(100 * (float(zs["ratio"]) - 1))
            m["ob"].append(100 * (float(zb["ratio"]) - 1))
            m["ri"].append(float(ri["peak_rss_mib"]))
            m["rz"].append(float(rz["peak_rss_mib"]))
            m["rr"].append(float(rz["peak_rss_mib"]) / float(ri["peak_rss_mib"]))
            m["pzr"].append(pz["peak_rss_mib"])
            m["pfr"].append(pfo["peak_rss_mib"])
            m["pfs"].append(pfo["ms_per_step"])
        rows.append((t, m))
    load1 = os.getloadavg()

    def cell(v, f):
        return f"{statistics.median(v):{f}} [{min(v):{f}}-{max(v):{f}}]"

    cols = [("thr", None, None), ("zeroth fwd tok/s", "zf", ".0f"), ("peer fwd tok/s", "pf", ".0f"),
            ("ratio", "fr", ".2f"), ("zeroth GEMM GF/s", "zg", ".1f"), ("torch GEMM GF/s", "pg", ".1f"),
            ("zeroth ZO ms/step", "zs", ".0f"), ("peer ZO ms/step", "ps", ".0f"), ("speed-up", "sp", ".2f"),
            ("overhead %", "ov", ".1f"), ("BitFit overhead %", "ob", ".1f"), ("zeroth RSS infer MiB", "ri", ".0f"), ("zeroth RSS ZO MiB", "rz", ".0f"),
            ("ZO/infer", "rr", ".3f"), ("peer ZO RSS MiB", "pzr", ".0f"), ("peer FO RSS MiB", "pfr", ".0f"),
            ("peer FO ms/step", "pfs", ".0f")]
    table = [[str(t)] + [cell(m[key], f) for _, key, f in cols[1:]] for t, m in rows]
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, (h, _, _) in enumerate(cols)]
    line = lambda cells: " | ".join(c.rjust(w) for c, w in zip(cells, widths))
    print(line([h for h, _, _ in cols]))
    print("-+-".join("-" * w for w in widths))
    for r in table:
        print(line(r))
    print(f"\nall-MiniLM-L6-v2 (22.6M parameters), SST-2 train, batch {BATCH}, max length {MAX_LEN}; cells: median "
          f"over {repeats} repeats [min-max]. Forward: {batches} batches of {BATCH} sentences (real tokens counted; "
          f"zeroth packs ragged batches, the peer pads). GEMM: [128 x 384] x [384 x 1536]. Steps: zeroth {steps} "
          f"ZO-SGD steps per repeat (median), each alternated with two plain forward losses on its batch "
          f"(overhead: median of step / two forwards - 1; BitFit: the same with only the biases and LayerNorms trained, "
          f"30,720 parameters, the main job's setting); the peer {peer_steps} steps, k = {K}, lr {LR}, eps {EPS}, "
          f"--eval 16. RSS: peak of separate processes, {rss_steps} steps each. Load average at start "
          f"{load0[0]:.2f}, at end {load1[0]:.2f} ({load1[1]:.2f} over 5 min) on {os.cpu_count()} CPUs.")
    targets = [("ZO step >= 2.5x faster than the peer", "sp", lambda x: x >= 2.5),
               ("forward not slower than PyTorch", "fr", lambda x: x >= 1.0),
               ("overhead <= 5%", "ov", lambda x: x <= 5.0), ("RSS ZO/infer <= 1.05", "rr", lambda x: x <= 1.05)]
    fmt = {key: f for _, key, f in cols[1:]}
    for name, key, ok in targets:
        print(f"target: {name}: " + ", ".join(
            f"{t} thr {statistics.median(m[key]):{fmt[key]}} {'met' if ok(statistics.median(m[key])) else 'NOT met'}"
            for t, m in rows))


if __name__ == "__main__":
    main()
