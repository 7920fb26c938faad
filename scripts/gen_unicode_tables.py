#!/usr/bin/env python3
"""Writes include/zeroth/tokenizers/detail/unicode_tables.hpp: the Unicode data that BERT's normalizer and
pre-tokenizer need, from Python's unicodedata, as sorted packed arrays that the C++ side binary-searches.

    python3 scripts/gen_unicode_tables.py [--out include/zeroth/tokenizers/detail/unicode_tables.hpp]

Hugging Face `tokenizers` does not use one Unicode version throughout, and neither does Python, so the tables are
Python's data with the corrections listed below (each checked, code point by code point, against tokenizers 0.23.3 by
tests/fixtures/wordpiece/codepoints.txt, which scripts/gen_wordpiece_fixture.py writes):
  * General_Category (for is_other / is_mark_nonspacing / is_punctuation) comes in tokenizers from the
    `unicode_categories` crate, whose tables are Unicode 8.0: characters assigned later are none of those, and a few
    were categorised differently then (UNICODE_8_CORRECTIONS).
  * Lowercase is Rust's char::to_lowercase, which follows a newer Unicode than Python 3.11 (14.0): the case pairs
    added since (RUST_LOWERCASE_ADDITIONS).
  * Canonical decompositions come from the `unicode-normalization-alignments` crate, older than Unicode 13.0: it does
    not decompose U+11938 (NFD_NOT_DECOMPOSED). Its combining classes are taken to be Python's (they differ only
    for characters assigned after that crate's Unicode version).
  * White_Space (Rust's char::is_whitespace) is a short, stable list, written out below.
"""
import argparse
import pathlib
import sys
import textwrap
import unicodedata

MAX_CP = 0x110000

# Flags of the class table.
OTHER = 1  # General_Category Cc, Cf or Co (the crate's is_other; Cn is not included there, and Cs cannot occur)
MN = 2  # General_Category Mn
PUNCT = 4  # General_Category P* or ASCII punctuation (BertPreTokenizer's is_bert_punc)
WHITESPACE = 8  # White_Space (Rust char::is_whitespace)

# Rust's char::is_whitespace: the White_Space property of PropList.txt (unchanged since Unicode 6.3).
WHITE_SPACE = [(0x09, 0x0D), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A),
               (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000)]

# Where Unicode 8.0 (the unicode_categories crate) and Python's Unicode differ for the three categories used:
# (flag, ranges Python has but 8.0 has not, ranges 8.0 has but Python has not).
UNICODE_8_CORRECTIONS = [
    (OTHER, "890-891 8E2 110CD 13430-13438", ""),
    (MN, "7FD 898-89F 8CA-8E1 9FE AFA-AFF B55 C04 C3C D00 D3B-D3C D81 EBA 180F 1885-1886 1ABF-1ACE 1DF6-1DFB A82C "
         "A8C5 A8FF A9BD 10D24-10D27 10EAB-10EAC 10F46-10F50 10F82-10F85 11070 11073-11074 110C2 111C9 111CF 1123E "
         "1133B 11438-1143F 11442-11444 11446 1145E 1182F-11837 11839-1183A 1193B-1193C 1193E 11943 119D4-119D7 "
         "119DA-119DB 119E0 11A01-11A0A 11A33-11A38 11A3B-11A3E 11A47 11A51-11A56 11A59-11A5B 11A8A-11A96 "
         "11A98-11A99 11C30-11C36 11C38-11C3D 11C3F 11C92-11CA7 11CAA-11CB0 11CB2-11CB3 11CB5-11CB6 11D31-11D36 "
         "11D3A 11D3C-11D3D 11D3F-11D45 11D47 11D90-11D91 11D95 11D97 11EF3-11EF4 16F4F 16FE4 1CF00-1CF2D "
         "1CF30-1CF46 1E000-1E006 1E008-1E018 1E01B-1E021 1E023-1E024 1E026-1E02A 1E130-1E136 1E2AE 1E2EC-1E2EF "
         "1E944-1E94A",
     "1734"),  # U+1734 HANUNOO SIGN PAMUDPOD: Mn until Unicode 14.0 made it Mc
    (PUNCT, "61D 9FD A76 C77 C84 1B7D-1B7E 2E43-2E4F 2E52-2E5D 10EAD 10F55-10F59 10F86-10F89 1144B-1144F "
            "1145A-1145B 1145D 11660-1166C 116B9 1183B 11944-11946 119E2 11A3F-11A46 11A9A-11A9C 11A9E-11AA2 "
            "11C41-11C45 11C70-11C71 11EF7-11EF8 11FFF 12FF1-12FF2 16E97-16E9A 16FE2 1E95E-1E95F",
     "166D 111C9"),  # U+166D was Po until 12.0 (now So); U+111C9 was Po until 11.0 (now Mn)
]

# Lowercase pairs added to Unicode after Python's 14.0 that Rust's char::to_lowercase in tokenizers 0.23.3 applies:
# (first, last, offset).
RUST_LOWERCASE_ADDITIONS = [(0x1C89, 0x1C89, 1), (0xA7CB, 0xA7CB, 0x0264 - 0xA7CB), (0xA7CC, 0xA7CC, 1),
                            (0xA7CE, 0xA7CE, 1), (0xA7D2, 0xA7D2, 1), (0xA7D4, 0xA7D4, 1), (0xA7DA, 0xA7DA, 1),
                            (0xA7DC, 0xA7DC, 0x019B - 0xA7DC), (0x10D50, 0x10D65, 0x20), (0x16EA0, 0x16EB8, 0x1B)]

NFD_NOT_DECOMPOSED = {0x11938}  # DIVES AKURU VOWEL SIGN O (Unicode 13.0)

# BertNormalizer's is_chinese_char: the CJK Unified Ideographs blocks it lists (in code, not from Unicode data).
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3


def parse_ranges(text):
    out = set()
    for item in text.split():
        first, _, last = item.partition("-")
        out.update(range(int(first, 16), int(last or first, 16) + 1))
    return out


def code_points():
    return (cp for cp in range(MAX_CP) if not 0xD800 <= cp <= 0xDFFF)


def class_flags():
    flags = [0] * MAX_CP
    for cp in code_points():
        c = chr(cp)
        cat = unicodedata.category(c)
        f = 0
        if cat in ("Cc", "Cf", "Co"):
            f |= OTHER
        if cat == "Mn":
            f |= MN
        if cat[0] == "P":
            f |= PUNCT
        flags[cp] = f
    for first, last in WHITE_SPACE:
        for cp in range(first, last + 1):
            flags[cp] |= WHITESPACE
    for cp in range(0x21, 0x7F):  # char::is_ascii_punctuation
        if not chr(cp).isalnum():
            flags[cp] |= PUNCT
    for flag, python_only, unicode8_only in UNICODE_8_CORRECTIONS:
        for cp in parse_ranges(python_only):
            assert flags[cp] & flag, hex(cp)
            flags[cp] &= ~flag
        for cp in parse_ranges(unicode8_only):
            assert not flags[cp] & flag, hex(cp)
            flags[cp] |= flag
    return flags


def runs(values, skip=0):
    """(first, last, value) for each maximal run of equal values other than `skip`."""
    out = []
    for cp, v in enumerate(values):
        if v == skip:
            continue
        if out and out[-1][1] == cp - 1 and out[-1][2] == v:
            out[-1][1] = cp
        else:
            out.append([cp, cp, v])
    return out


def lowercase_map():
    lower, multi = {}, {}
    for cp in code_points():
        low = chr(cp).lower()  # one character alone: no final-sigma context, as Rust's char::to_lowercase
        if low == chr(cp):
            continue
        if len(low) == 1:
            lower[cp] = ord(low)
        else:
            multi[cp] = [ord(x) for x in low]
    for first, last, offset in RUST_LOWERCASE_ADDITIONS:
        for cp in range(first, last + 1):
            assert unicodedata.category(chr(cp)) == "Cn" and cp not in lower, hex(cp)
            lower[cp] = cp + offset
    return lower, multi


def lowercase_runs(lower):
    """Non-overlapping (first, last, stride, offset) runs covering exactly the keys of `lower`."""
    out = []
    for cp in sorted(lower):
        offset = lower[cp] - cp
        if out:
            first, last, stride, off = out[-1]
            if off == offset and ((stride in (0, 1) and cp == last + 1) or (stride in (0, 2) and cp == last + 2)):
                out[-1] = [first, cp, cp - last, off]
                continue
        out.append([cp, cp, 0, offset])
    return [(f, l, s or 1, o) for f, l, s, o in out]


def decompositions():
    out = {}
    for cp in code_points():
        if HANGUL_FIRST <= cp <= HANGUL_LAST or cp in NFD_NOT_DECOMPOSED:
            continue
        d = unicodedata.decomposition(chr(cp))
        if not d or d.startswith("<"):
            continue
        parts = [int(x, 16) for x in d.split()]
        assert 1 <= len(parts) <= 2, hex(cp)
        out[cp] = parts
    return out


def check_decompositions(decomp):
    """The runtime's recursive expansion of the one-level table equals Python's NFD for every character."""

    def expand(cp):
        if HANGUL_FIRST <= cp <= HANGUL_LAST:
            return [ord(x) for x in unicodedata.normalize("NFD", chr(cp))]
        if cp not in decomp:
            return [cp]
        return [x for part in decomp[cp] for x in expand(part)]

    for cp in code_points():
        if cp in NFD_NOT_DECOMPOSED:
            continue
        assert [ord(x) for x in unicodedata.normalize("NFD", chr(cp))] == expand(cp), hex(cp)


def pack(a, b, c):
    assert 0 <= a < 1 << 21 and 0 <= b < 1 << 21 and 0 <= c < 1 << 22
    return a | b << 21 | c << 42


def signed21(x):
    assert -(1 << 20) <= x < 1 << 20
    return x & ((1 << 21) - 1)


def emit_array(lines, name, ctype, values, per_line, comment):
    lines.extend(textwrap.wrap(comment, 117, initial_indent="// ", subsequent_indent="// "))
    lines.append(f"inline constexpr {ctype} {name}[] = {{")
    for i in range(0, len(values), per_line):
        lines.append("    " + " ".join(f"0x{v:X}," for v in values[i:i + per_line]))
    lines.append("};")
    lines.append("")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = pathlib.Path(__file__).resolve().parent.parent
    parser.add_argument("--out", type=pathlib.Path,
                        default=root / "include/zeroth/tokenizers/detail/unicode_tables.hpp")
    args = parser.parse_args()
    if unicodedata.unidata_version != "14.0.0":  # the correction lists are relative to it
        sys.exit(f"needs Python 3.11's Unicode 14.0.0, not {unicodedata.unidata_version}: the corrections below are "
                 "relative to it (scripts/gen_wordpiece_fixture.py checks every code point against tokenizers)")

    flags = class_flags()
    class_runs = runs(flags)
    ccc_runs = runs([unicodedata.combining(chr(cp)) if not 0xD800 <= cp <= 0xDFFF else 0 for cp in range(MAX_CP)])
    lower, multi = lowercase_map()
    lower_runs = lowercase_runs(lower)
    decomp = decompositions()
    check_decompositions(decomp)
    assert list(multi) == [0x130], multi  # U+0130 -> i + U+0307, the only multi-character lowercase

    ver = unicodedata.unidata_version
    py = ".".join(map(str, sys.version_info[:3]))
    header = (f"Generated by scripts/gen_unicode_tables.py from Python {py}'s unicodedata (Unicode {ver}); do not "
              "edit. Corrected to what Hugging Face tokenizers 0.23.3 does where its Rust crates follow another "
              "Unicode version: General_Category as Unicode 8.0 (the unicode_categories crate: is_other, "
              "is_mark_nonspacing, is_punctuation), lowercase as Rust's char::to_lowercase (pairs added after "
              "Unicode 14.0 included), no canonical decomposition for U+11938 (the unicode-normalization-alignments "
              "crate predates Unicode 13.0); the script lists each correction. Combining classes are Python's: they "
              "may differ from that crate's only for characters assigned after its Unicode version.")
    lines = ["#pragma once"] + textwrap.wrap(header, 117, initial_indent="// ", subsequent_indent="// ") + [
        "#include <cstdint>",
        "",
        "namespace zeroth::tokenizers::detail::unicode_tables {",
        "",
        f"inline constexpr unsigned other = {OTHER};             ///< General_Category Cc, Cf or Co",
        f"inline constexpr unsigned mark_nonspacing = {MN};   ///< General_Category Mn",
        f"inline constexpr unsigned punctuation = {PUNCT};       ///< General_Category P*, or ASCII punctuation",
        f"inline constexpr unsigned whitespace = {WHITESPACE};        ///< White_Space",
        "",
    ]
    emit_array(lines, "ascii_classes", "std::uint8_t", flags[:128], 16, "The class flags of U+0000..U+007F.")
    emit_array(lines, "classes", "std::uint64_t", [pack(f, l, v) for f, l, v in class_runs], 5,
               "Runs of code points with equal nonzero class flags: first | last << 21 | flags << 42, sorted.")
    emit_array(lines, "combining_classes", "std::uint64_t", [pack(f, l, v) for f, l, v in ccc_runs], 5,
               "Runs with equal nonzero Canonical_Combining_Class: first | last << 21 | class << 42, sorted.")
    decomp_packed = [cp | d[0] << 21 | (d[1] if len(d) > 1 else 0) << 42 for cp, d in sorted(decomp.items())]
    emit_array(lines, "decompositions", "std::uint64_t", decomp_packed, 5,
               "One level of canonical decomposition (Hangul syllables excluded): cp | first << 21 | second << 42 "
               "(second 0 when the mapping is one code point), sorted; expand recursively.")
    lower_packed = []
    for f, l, s, o in lower_runs:
        assert s in (1, 2)
        lower_packed.append(f | l << 21 | (s - 1) << 42 | signed21(o) << 43)
    emit_array(lines, "lowercase", "std::uint64_t", lower_packed, 5,
               "Simple lowercase runs: first | last << 21 | (stride - 1) << 42 | offset << 43 (21-bit two's "
               "complement); with stride 2 only first, first + 2, ... map. U+0130 (to U+0069 U+0307) is handled in "
               "code.")
    lines.append("}  // namespace zeroth::tokenizers::detail::unicode_tables")
    args.out.write_text("\n".join(lines) + "\n")
    print(f"{args.out}: {len(class_runs)} class runs, {len(ccc_runs)} combining-class runs, {len(decomp)} "
          f"decompositions, {len(lower_runs)} lowercase runs ({len(lower)} mappings)")


if __name__ == "__main__":
    main()
