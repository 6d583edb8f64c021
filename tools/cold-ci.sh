#!/usr/bin/env bash
# Runs CI as a fresh machine would, on this one: `.ci/run` (CI=true) in a fresh clone of the
# committed HEAD, with a fresh HOME, CARGO_HOME, pip/npm caches, reranker cache and target dirs,
# so every crate, npm package, wheel and tool is downloaded and built again. Only what the machine
# image itself has stays: the system packages (.ci/run installs the missing ones) and rustup's
# toolchain (RUSTUP_HOME and its proxies: cargo, rustc, clippy, rustfmt).
#
#   tools/cold-ci.sh [--dir DIR] [--rev REV]     (defaults: a new folder under /tmp; HEAD)
#
# Run it after any change to build.sh, tools/lib.sh, tools/model.sh, .ci/run, Cargo.toml or the
# tests' setup (docs/testing.md). It prints build.sh test's stage table and the wall time; with
# --dir of an earlier run it runs again in that folder's caches: a warm run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR=""
REV=HEAD
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR="${2:?--dir needs a folder}"; shift 2 ;;
    --rev) REV="${2:?--rev needs a commit}"; shift 2 ;;
    *) echo "cold-ci.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
DIR="${DIR:-$(mktemp -d /tmp/reranker-cold-ci.XXXXXX)}"
mkdir -p "$DIR/home"
DIR="$(cd "$DIR" && pwd)"

# A commit (HEAD by default), cloned afresh (CI clones main: uncommitted changes are not in it).
rm -rf "$DIR/clone"
git clone --quiet --no-local "$ROOT" "$DIR/clone"
git -C "$DIR/clone" checkout --quiet "$(git -C "$ROOT" rev-parse "$REV")"

# rustup's proxies, as the image has them in ~/.cargo/bin, without anything installed there since.
real_cargo_home="${CARGO_HOME:-$HOME/.cargo}"
rustup_home="${RUSTUP_HOME:-$HOME/.rustup}"
mkdir -p "$DIR/rustup-bin"
for f in "$real_cargo_home"/bin/*; do
  cmp -s "$f" "$real_cargo_home/bin/rustup" && ln -sf "$f" "$DIR/rustup-bin/"
done
path="$DIR/home/.cargo/bin:$DIR/rustup-bin"
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ "$d" = "$real_cargo_home/bin" ] || path="$path:$d"
done

echo "==> cold CI in $DIR (HOME=$DIR/home), commit $(git -C "$DIR/clone" rev-parse --short HEAD)" >&2
start=$SECONDS
status=0
(
  cd "$DIR/clone"
  env -u CARGO_TARGET_DIR -u RERANKER_CACHE -u WASM_TARGET_DIR -u WASM_THREADS_TARGET_DIR \
    -u PIP_CACHE_DIR -u npm_config_cache -u XDG_CACHE_HOME \
    RERANKER_CARGO_TIMINGS="${RERANKER_CARGO_TIMINGS:-1}" HOME="$DIR/home" CARGO_HOME="$DIR/home/.cargo" RUSTUP_HOME="$rustup_home" PATH="$path" CI=true \
    bash .ci/run </dev/null
) 2>&1 | tee "$DIR/ci.log" || status=$?
secs=$((SECONDS - start))
printf '==> cold CI: exit %s after %d:%02d (log: %s)\n' "$status" $((secs / 60)) $((secs % 60)) "$DIR/ci.log" >&2
exit "$status"
