#!/usr/bin/env python3
"""Writes tests/fixtures/wordpiece/: Hugging Face tokenizers' ids for every text of ../shared/data, edge cases, and
the per-code-point behaviour of its BERT normalizer and pre-tokenizer, for tests/tokenizers/test_wordpiece.cpp.

    python3 -m venv /tmp/tokvenv && /tmp/tokvenv/bin/pip install tokenizers
    /tmp/tokvenv/bin/python scripts/gen_wordpiece_fixture.py [--shared ../shared] [--out tests/fixtures/wordpiece]

Files written (the texts themselves are not copied: the test reads them again from shared/data):
  manifest.tsv     one line per source: file (under shared/data), kind, texts, tokens, FNV-1a 64 of its texts.
                   Kinds: "tsv" (header naming a "sentence" column, tab-separated), "label_first" (a label, a space,
                   the sentence), "jsonl" (every string of every record, depth first, object keys in sorted order,
                   arrays in order), "pairs:A,B:MAX" (fields A and B of each record as a pair, truncated to MAX
                   tokens "longest_first").
  ids.bin          little-endian uint16, source after source in manifest order: per single text its token count
                   then its ids without [CLS] and [SEP]; per pair its length, the length of the first segment (up to
                   and including its [SEP]), then all its ids.
  edge_cases.jsonl {"text", "ids"} or {"text", "max_length", "ids"} or {"a", "b", "max_length", "ids",
                   "type_ids"}: hand-picked texts, each with HF's ids (specials included); last, {"truncation":
                   [[n1, n2, max_length, kept1, kept2], ...]}: how many tokens of a pair of n1 and n2 tokens HF
                   keeps of each.
  codepoints.txt   for every code point but the surrogates: what HF's BertNormalizer (clean_text, chinese chars,
                   strip_accents, lowercase all on; then lowercase alone; then strip_accents alone) makes of it, and
                   how BertPreTokenizer classes it. Sections start with "# name"; lines are "FIRST LAST KIND [OUT...]"
                   in hex (LAST omitted when it is FIRST) with KIND "-" (removed), "_" (becomes a space), "c" (gets a
                   space on each side), "+ D" (becomes the code point D further on; D may be negative), "> OUT..."
                   (each of FIRST..LAST becomes the OUT code points), or for the pre-tokenizer "w" (whitespace) and
                   "p" (isolated punctuation); code points not listed are left alone.
"""
import argparse
import json
import pathlib
import struct
import sys

from tokenizers import Tokenizer, normalizers, pre_tokenizers

MODEL = "models/all-MiniLM-L6-v2/tokenizer.json"
PAIR_MAX_LENGTH = 128  # what the model's tokenizer.json truncates to


def fnv1a64(texts):
    h = 0xCBF29CE484222325
    for t in texts:
        for b in t.encode("utf-8") + b"\0":
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def json_strings(value, out):
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for k in sorted(value):
            json_strings(value[k], out)
    elif isinstance(value, list):
        for v in value:
            json_strings(v, out)


def read_texts(path, kind):
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if kind == "tsv":
        column = lines[0].split("\t").index("sentence")
        return [line.split("\t")[column] for line in lines[1:]]
    if kind == "label_first":
        return [line.split(" ", 1)[1] for line in lines]
    assert kind == "jsonl"
    texts = []
    for line in lines:
        json_strings(json.loads(line), texts)
    return texts


def read_pairs(path, a, b):
    pairs = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line:
            continue
        record = json.loads(line)
        pairs.append((record[a], record[b]))
    return pairs


def sources(data):
    out = []
    for name in ("sst2/train.tsv", "sst2/dev.tsv"):
        out.append((name, "tsv"))
    out.append(("sst2/test.tsv", "label_first"))
    for p in sorted(data.glob("sst2-full/*.tsv")):
        out.append((p.relative_to(data).as_posix(), "tsv"))
    for p in sorted(data.glob("superglue/*/*.jsonl")) + sorted(data.glob("fewglue/*/*.jsonl")):
        rel = p.relative_to(data).as_posix()
        out.append((rel, "jsonl"))
        if p.parent.name in ("RTE", "CB"):
            out.append((rel, f"pairs:premise,hypothesis:{PAIR_MAX_LENGTH}"))
    return out


EDGE_TEXTS = [
    "", " ", "   \t\n  ", "Hello, world!", "Café naïve résumé", "CAFÉ NAÏVE RÉSUMÉ", "Ångström Øre Łódź",
    "中文分词测试", "日本語のテキスト、カタカナ、がぎぐ", "한국어 텍스트", "混合English和中文", "𠀀𪜀 ＣＪＫ　全角",
    "emoji 😀👍🏽 👨‍👩‍👧 🇩🇪 ❤️", "zero\u200dwidth\u200bjoin\u200c", "soft\u00adhyphen", "bom\ufeffhere",
    "rtl\u200fmark", "ctrl\x00\x01\x07\x1b\x7f\x85chars", "replacement\ufffdchar", "tabs\tand\nnewlines\rhere",
    "multiple     spaces\t\t\ttabs", "nbsp\u00a0here\u2009thin\u3000ideographic", "line\u2028sep\u2029para",
    "x" * 100, "x" * 101, "é" * 100, "é" * 101, "a" + "\u0301" * 150, "中" * 120, "##ab ## #", "[UNK] [CLS] [SEP]",
    "hello [MASK] world[UNK]x [cls] [mask]", "[MASK][MASK]", "[[MASK]]", "ΑΒΓ ΔΕΖ ΟΔΟΣ Σίσυφος", "МОСКВА Ёж",
    "Straße STRASSE ẞ", "İstanbul ıi IŞIK", "Ǆ ǅ ǆ ǈ", "K Ω Å ﬁ ﬀ", "Tiếng Việt có dấu", "हिन्दी भाषा",
    "العربية مُشَكَّل", "עִבְרִית", "ไทย ภาษา", "a\u0316\u0301b\u0301\u0316", "\U0001d165\U0001d16d\U0001d16d\U0001d165",
    "𝐀𝐁𝐂 𝔸𝔹", "ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ", "don't U.S.A. $1,000.50 e-mail C++ @user #tag http://x.org/a?b=c",
    "...!!!???---", "«quotes» “smart” ‘single’ — – … ¿¡", "\u166d \u0890x \u1734 \U00011938 \U000111c9",
    "\ua7cb\ua7dc\U00010d50 \ua7d0", "Ⅻ ⅻ ① ²", "\ue000private\U000f0000use", "\u0340\u0344\u0f73",
    "supercalifragilisticexpialidocious antidisestablishmentarianism", "unaffable unbelievable",
    "The quick brown fox jumps over the lazy dog.",
]

EDGE_PAIRS = [("a b c d", "e f"), ("a", "b c d e f g"), ("a b c", "d e f"), ("", ""), ("a b c d e", ""),
              ("The premise is long, with many many words in it to cut.", "Short hypothesis."),
              ("Café naïve résumé", "中文分词测试"), ("emoji 😀👍🏽 👨‍👩‍👧 🇩🇪 ❤️", "x" * 101),
              ("[MASK] is [SEP] here", "and [CLS] there")]


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=pathlib.Path, default=root.parent / "shared")
    parser.add_argument("--out", type=pathlib.Path, default=root / "tests/fixtures/wordpiece")
    args = parser.parse_args()
    data = args.shared / "data"
    args.out.mkdir(parents=True, exist_ok=True)

    tok = Tokenizer.from_file(str(args.shared / MODEL))
    tok.no_truncation()
    tok.no_padding()

    manifest, blob = [], bytearray()
    total_texts = total_tokens = 0
    for name, kind in sources(data):
        path = data / name
        if kind.startswith("pairs:"):
            fields, max_length = kind.split(":")[1:]
            a, b = fields.split(",")
            pairs = read_pairs(path, a, b)
            tok.enable_truncation(int(max_length), strategy="longest_first")
            encodings = tok.encode_batch(pairs)
            tok.no_truncation()
            tokens = 0
            for e in encodings:
                first = e.type_ids.index(1) if 1 in e.type_ids else len(e.ids)
                assert e.ids[first - 1] == 102 and e.ids[-1] == 102
                blob += struct.pack(f"<{2 + len(e.ids)}H", len(e.ids), first, *e.ids)
                tokens += len(e.ids)
            manifest.append((name, kind, len(pairs), tokens, fnv1a64([t for p in pairs for t in p])))
        else:
            texts = read_texts(path, kind)
            encodings = tok.encode_batch(texts)
            tokens = 0
            for e in encodings:
                assert e.ids[0] == 101 and e.ids[-1] == 102
                ids = e.ids[1:-1]
                blob += struct.pack(f"<{1 + len(ids)}H", len(ids), *ids)
                tokens += len(ids)
            manifest.append((name, kind, len(texts), tokens, fnv1a64(texts)))
        total_texts += manifest[-1][2]
        total_tokens += manifest[-1][3]
    (args.out / "ids.bin").write_bytes(bytes(blob))
    with open(args.out / "manifest.tsv", "w", encoding="utf-8") as f:
        f.write("file\tkind\ttexts\ttokens\tfnv1a64\n")
        for name, kind, n, tokens, h in manifest:
            f.write(f"{name}\t{kind}\t{n}\t{tokens}\t{h:016x}\n")

    with open(args.out / "edge_cases.jsonl", "w", encoding="utf-8") as f:
        for text in EDGE_TEXTS:
            f.write(json.dumps({"text": text, "ids": tok.encode(text).ids}) + "\n")
        for text in ("Hello, world! How are you today?", "x" * 101 + " a b c"):
            for max_length in (2, 3, 5, 8):
                tok.enable_truncation(max_length, strategy="longest_first")
                f.write(json.dumps({"text": text, "max_length": max_length, "ids": tok.encode(text).ids}) + "\n")
                tok.no_truncation()
        for a, b in EDGE_PAIRS:
            for max_length in (3, 4, 5, 6, 7, 9, 12, 512):
                tok.enable_truncation(max_length, strategy="longest_first")
                e = tok.encode(a, b)
                tok.no_truncation()
                f.write(json.dumps({"a": a, "b": b, "max_length": max_length, "ids": e.ids, "type_ids": e.type_ids})
                        + "\n")

        grid = []  # [n1, n2, max_length, kept of the first, kept of the second] for pairs of n1 and n2 tokens
        for n1 in range(10):
            for n2 in range(10):
                for max_length in range(3, 16):
                    tok.enable_truncation(max_length, strategy="longest_first")
                    e = tok.encode(" ".join(["a"] * n1), " ".join(["b"] * n2))
                    tok.no_truncation()
                    grid.append([n1, n2, max_length, e.type_ids.count(0) - 2, e.type_ids.count(1) - 1])
        f.write(json.dumps({"truncation": grid}, separators=(",", ":")) + "\n")

    write_codepoints(args.out / "codepoints.txt")
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"{args.out}: {total_texts} texts, {total_tokens} tokens, {size} bytes")


def run_line(first, last, kind):
    return f"{first:X} {kind}" if first == last else f"{first:X} {last:X} {kind}"


def write_codepoints(path):
    configs = [
        ("normalizer", normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                  lowercase=True)),
        ("lowercase", normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False,
                                                 lowercase=True)),
        ("strip_accents", normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True,
                                                     lowercase=False)),
    ]
    cps = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    lines = []
    for name, normalizer in configs:
        lines.append(f"# {name}")
        outputs = {cp: normalizer.normalize_str(chr(cp)) for cp in cps}
        runs = []
        for cp in cps:
            c, out = chr(cp), outputs[cp]
            if out == c:
                continue
            same = "> " + " ".join(f"{ord(x):X}" for x in out)  # every code point of the run becomes `out`
            shift = None  # every code point of the run moves by the same distance
            if len(out) == 1:
                shift = f"+ {ord(out) - cp:X}" if ord(out) > cp else f"+ -{cp - ord(out):X}"
            if out == "":
                kind = "-"
            elif out == " ":
                kind = "_"
            elif out == f" {c} ":
                kind = "c"
            elif runs and runs[-1][1] == cp - 1 and runs[-1][2] in (same, shift):
                kind = runs[-1][2]
            else:
                kind = same if shift is None or outputs.get(cp + 1) == out else shift
            if runs and runs[-1][2] == kind and runs[-1][1] == cp - 1:
                runs[-1][1] = cp
            else:
                runs.append([cp, cp, kind])
        lines += [run_line(a, b, k) for a, b, k in runs]
    lines.append("# pre_tokenizer")
    pre = pre_tokenizers.BertPreTokenizer()
    runs = []
    for cp in cps:
        words = [w for w, _ in pre.pre_tokenize_str("a" + chr(cp) + "a")]
        if words == ["a" + chr(cp) + "a"]:
            continue
        kind = "w" if words == ["a", "a"] else "p"
        assert kind == "w" or words == ["a", chr(cp), "a"], (hex(cp), words)
        if runs and runs[-1][2] == kind and runs[-1][1] == cp - 1:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp, kind])
    lines += [run_line(a, b, k) for a, b, k in runs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
