#!/usr/bin/env bash
# The working tree's headers take the same steps, bit for bit, as those of COMMIT (default HEAD): builds
# bits_fingerprint.cpp against both and diffs the fingerprints.
#   tests/scripts/bits_vs_commit.sh [COMMIT]
set -euo pipefail
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
commit=${1:-HEAD}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$root" archive "$commit" include | tar -x -C "$work"
flags=(-isystem /usr/include/eigen3 -O2 -fopenmp -march=native -std=gnu++20)
c++ -I"$work/include" "${flags[@]}" "$root/tests/scripts/bits_fingerprint.cpp" -o "$work/old"
c++ -I"$root/include" "${flags[@]}" "$root/tests/scripts/bits_fingerprint.cpp" -o "$work/new"
"$work/old" >"$work/old.txt"
"$work/new" >"$work/new.txt"
if diff "$work/old.txt" "$work/new.txt"; then
  echo "identical to $commit: $(wc -l <"$work/new.txt") runs"
else
  exit 1
fi
