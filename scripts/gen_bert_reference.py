#!/usr/bin/env python3
"""Reference outputs of a BERT encoder for zeroth's forward test (tests/backends/test_bert.cpp).

Reads a Hugging Face model folder (config.json, model.safetensors, tokenizer.json), tokenizes a few real sentences
and sentence pairs with the PyPI `tokenizers` package, runs an independent float64 PyTorch forward (written here from
the BERT paper's equations and config.json; it shares no code with the peer scripts) and writes, per input: the token
ids and token types, the mean-pooled and CLS embeddings, and the last layer's hidden state of the last token. The
test feeds the same ids to zeroth's encoder and compares.

  python3 -m venv --system-site-packages /tmp/ref && /tmp/ref/bin/pip install tokenizers   # Debian's python3-torch
  /tmp/ref/bin/python scripts/gen_bert_reference.py ../shared/models/all-MiniLM-L6-v2 tests/fixtures/bert/minilm_reference.json
"""
import json, math, struct, sys

import numpy as np
import torch
from tokenizers import Tokenizer

INPUTS = [  # (text, pair text or None); SST-2 dev sentences, an RTE pair, a long text and oddities
    ("it 's a charming and often affecting journey . ", None),
    ("unflinchingly bleak and desperate ", None),
    ("It was great.", None),
    ("Café naïve résumé — the ÜBER-long, well-known \"quote\" (1999)!", None),
    ("Dana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer at age 44, according to the "
     "Christopher Reeve Foundation.", "Christopher Reeve had an accident."),
    (" ".join(["the film drags on and on , never quite finding its rhythm or its heart"] * 12), None),
]


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] != "F32":
            continue
        b, e = t["data_offsets"]
        out[name.removeprefix("bert.")] = torch.from_numpy(
            np.frombuffer(data[b:e], dtype="<f4").reshape(t["shape"]).astype(np.float64))
    return out


def encoder(w, cfg, ids, types):
    H, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    d = H // heads
    eps = cfg["layer_norm_eps"]
    T = len(ids)
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (H,), w[p + ".weight"], w[p + ".bias"], eps)
    lin = lambda x, p: x @ w[p + ".weight"].T + w[p + ".bias"]
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:T]
         + w["embeddings.token_type_embeddings.weight"][types])
    x = ln(x, "embeddings.LayerNorm")
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        q, k, v = (lin(x, p + "attention.self." + n).reshape(T, heads, d).transpose(0, 1)
                   for n in ("query", "key", "value"))
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d), dim=-1) @ v
        x = ln(x + lin(a.transpose(0, 1).reshape(T, H), p + "attention.output.dense"), p + "attention.output.LayerNorm")
        h = lin(x, p + "intermediate.dense")
        h = 0.5 * h * (1 + torch.erf(h / math.sqrt(2)))  # GELU, erf form
        x = ln(x + lin(h, p + "output.dense"), p + "output.LayerNorm")
    return x


def main():
    folder, out = sys.argv[1], sys.argv[2]
    cfg = json.load(open(folder + "/config.json"))
    w = read_safetensors(folder + "/model.safetensors")
    tok = Tokenizer.from_file(folder + "/tokenizer.json")
    tok.no_padding()
    tok.no_truncation()
    cases = []
    for text, pair in INPUTS:
        enc = tok.encode(text, pair) if pair else tok.encode(text)
        ids, types = enc.ids[:128], enc.type_ids[:128]  # zeroth's default max_length, [SEP] kept last
        if len(enc.ids) > 128:
            ids[-1] = enc.ids[-1]
        with torch.no_grad():
            h = encoder(w, cfg, torch.tensor(ids), torch.tensor(types))
        cases.append({"text": text, "pair": pair, "ids": ids, "token_types": types,
                      "mean": h.mean(0).tolist(), "cls": h[0].tolist(), "last": h[-1].tolist()})
    json.dump({"model": folder.rstrip("/").split("/")[-1], "dtype": "float64 forward of the float32 weights",
               "cases": cases}, open(out, "w"), separators=(",", ":"))
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main()
